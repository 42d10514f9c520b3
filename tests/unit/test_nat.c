// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests: the connector's NAT (daemon/netdev/nat.c). Every rewritten
 * packet's checksums are recomputed from scratch here, by the plain RFC 1071
 * sum of tests/unit/ref_csum.h, and compared with what the incremental
 * update left. Every packet is handed over in a heap buffer of exactly its
 * length, so ASan catches a read or write one byte out.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/bytes.h"
#include "netdev/nat.h"
#include "tests/unit/ref_csum.h"

#define CLIENT	"100.64.0.2"
#define FAKE	"100.96.0.7"
#define REAL	"10.10.0.5"
#define ROUTER	"10.10.0.1"

static struct in_addr ip(const char *text)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, text, &a), 1);
	return a;
}

/* ---- the reference: checksums from scratch ---- */

static uint16_t ref_finish(uint32_t sum)
{
	return (uint16_t)~ref_fold(sum);
}

/* Checksum of N bytes at P with the 2-byte field at CSUM_OFF taken as 0. */
static uint16_t ref_csum(const uint8_t *p, size_t n, size_t csum_off, uint32_t start)
{
	uint8_t *copy = malloc(n);
	uint16_t c;

	memcpy(copy, p, n);
	copy[csum_off] = copy[csum_off + 1] = 0;
	c = ref_finish(ref_add(start, copy, n));
	free(copy);
	return c;
}

static uint32_t pseudo(const uint8_t *ipb, uint8_t proto, size_t l4len)
{
	uint8_t ph[12];

	memcpy(ph, ipb + 12, 8);
	ph[8] = 0;
	ph[9] = proto;
	zt_put_be16(ph + 10, (uint16_t)l4len);
	return ref_add(0, ph, sizeof(ph));
}

static size_t ihl(const uint8_t *p)
{
	return (size_t)(p[0] & 15) * 4;
}

/* The IP header checksum is right. */
static void check_ip_csum(const uint8_t *p)
{
	assert_int_equal(zt_get_be16(p + 10), ref_csum(p, ihl(p), 10, 0));
}

/*
 * The L4 checksum of the complete datagram at P (IP header included) is
 * right. UDP_ZERO: the UDP checksum must be 0 (none computed).
 */
static void check_l4_csum(const uint8_t *p, bool udp_zero)
{
	size_t h = ihl(p), l4len = zt_get_be16(p + 2) - h;
	const uint8_t *l4 = p + h;
	uint16_t want;

	switch (p[9]) {
	case IPPROTO_TCP:
		assert_int_equal(zt_get_be16(l4 + 16), ref_csum(l4, l4len, 16, pseudo(p, 6, l4len)));
		break;
	case IPPROTO_UDP:
		if (udp_zero) {
			assert_int_equal(zt_get_be16(l4 + 6), 0);
			break;
		}
		want = ref_csum(l4, l4len, 6, pseudo(p, 17, l4len));
		assert_int_equal(zt_get_be16(l4 + 6), want ? want : 0xffff);
		break;
	case IPPROTO_ICMP:
		assert_int_equal(zt_get_be16(l4 + 2), ref_csum(l4, l4len, 2, 0));
		break;
	default:
		fail_msg("protocol %u", p[9]);
	}
}

/* Give the whole packet correct checksums, from scratch. */
static void fill_csums(uint8_t *p)
{
	size_t h = ihl(p), l4len = zt_get_be16(p + 2) - h;
	uint8_t *l4 = p + h;
	uint16_t c;

	zt_put_be16(p + 10, ref_csum(p, h, 10, 0));
	switch (p[9]) {
	case IPPROTO_TCP:
		zt_put_be16(l4 + 16, ref_csum(l4, l4len, 16, pseudo(p, 6, l4len)));
		break;
	case IPPROTO_UDP:
		c = ref_csum(l4, l4len, 6, pseudo(p, 17, l4len));
		zt_put_be16(l4 + 6, c ? c : 0xffff);
		break;
	case IPPROTO_ICMP:
		zt_put_be16(l4 + 2, ref_csum(l4, l4len, 2, 0));
		break;
	}
}

/* ---- building packets ---- */

/*
 * An IPv4 header of IHL words (options are NOPs, then EOL) in front of the
 * L4 bytes L4, in a fresh heap buffer of exactly the packet's size.
 * Checksums are left to fill_csums().
 */
static uint8_t *build(unsigned int ihl_words, uint8_t proto, const char *src, const char *dst,
		      const uint8_t *l4, size_t l4len, uint16_t frag, size_t *len)
{
	size_t h = ihl_words * 4;
	uint8_t *p = calloc(1, h + l4len);
	struct in_addr s = ip(src), d = ip(dst);

	p[0] = (uint8_t)(0x40 | ihl_words);
	zt_put_be16(p + 2, (uint16_t)(h + l4len));
	zt_put_be16(p + 4, 0x1234);
	zt_put_be16(p + 6, frag);
	p[8] = 64;
	p[9] = proto;
	memcpy(p + 12, &s, 4);
	memcpy(p + 16, &d, 4);
	memset(p + 20, 1, h - 20);
	if (h > 20)
		p[h - 1] = 0;
	memcpy(p + h, l4, l4len);
	*len = h + l4len;
	return p;
}

static size_t tcp_seg(uint8_t *out, uint16_t sport, uint16_t dport, uint8_t flags,
		      const uint8_t *opts, size_t optlen, size_t payload)
{
	size_t h = 20 + optlen;

	assert_true(h % 4 == 0);
	memset(out, 0, h + payload);
	zt_put_be16(out, sport);
	zt_put_be16(out + 2, dport);
	out[4] = 0xde;
	out[7] = 0x01;				/* sequence number */
	out[12] = (uint8_t)((h / 4) << 4);
	out[13] = flags;
	zt_put_be16(out + 14, 64240);
	if (optlen)
		memcpy(out + 20, opts, optlen);
	for (size_t i = 0; i < payload; i++)
		out[h + i] = (uint8_t)(i * 7 + 3);
	return h + payload;
}

static size_t udp_dgram(uint8_t *out, uint16_t sport, uint16_t dport, size_t payload)
{
	memset(out, 0, 8 + payload);
	zt_put_be16(out, sport);
	zt_put_be16(out + 2, dport);
	zt_put_be16(out + 4, (uint16_t)(8 + payload));
	for (size_t i = 0; i < payload; i++)
		out[8 + i] = (uint8_t)(i * 13 + 1);
	return 8 + payload;
}

static size_t icmp_echo(uint8_t *out, uint8_t type, uint16_t id, size_t payload)
{
	memset(out, 0, 8 + payload);
	out[0] = type;
	zt_put_be16(out + 4, id);
	zt_put_be16(out + 6, 1);
	for (size_t i = 0; i < payload; i++)
		out[8 + i] = (uint8_t)i;
	return 8 + payload;
}

static bool addr_is(const uint8_t *p, const char *text)
{
	struct in_addr a = ip(text);

	return !memcmp(p, &a, 4);
}

/* ---- TCP, UDP, ICMP echo ---- */

static void test_tcp_syn_with_ip_options(void **state)
{
	static const uint8_t opts[] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0,
					1, 3, 3, 7 };
	uint8_t seg[128];
	size_t l4len = tcp_seg(seg, 43210, 80, ZT_TCP_SYN, opts, sizeof(opts), 0), len;
	uint8_t *p = build(6, IPPROTO_TCP, CLIENT, FAKE, seg, l4len, 0x4000, &len);
	struct zt_pkt_info pi;

	(void)state;
	fill_csums(p);
	assert_int_equal(zt_nat_rewrite_dst(p, len, ip(REAL)), 0);
	assert_true(addr_is(p + 16, REAL));
	assert_true(addr_is(p + 12, CLIENT));
	check_ip_csum(p);
	check_l4_csum(p, false);

	assert_int_equal(zt_pkt_parse(p, len, &pi), 0);
	assert_int_equal(pi.t.proto, IPPROTO_TCP);
	assert_true(pi.has_l4);
	assert_false(pi.fragment);
	assert_int_equal(pi.t.sport, 43210);
	assert_int_equal(pi.t.dport, 80);
	assert_int_equal(pi.tcp_flags, ZT_TCP_SYN);
	assert_int_equal(pi.ip_len, len);
	assert_int_equal(pi.l4_off, 24);
	assert_false(pi.icmp_error);

	/* And back: the reply's source. */
	assert_int_equal(zt_nat_rewrite_src(p, len, ip(FAKE)), 0);
	assert_true(addr_is(p + 12, FAKE));
	check_ip_csum(p);
	check_l4_csum(p, false);
	free(p);
}

static void test_udp_both_ways_odd_payload(void **state)
{
	uint8_t dg[256];
	size_t len;
	uint8_t *p = build(5, IPPROTO_UDP, CLIENT, FAKE, dg, udp_dgram(dg, 5353, 53, 37), 0,
			   &len);
	struct zt_pkt_info pi;

	(void)state;
	fill_csums(p);
	assert_int_equal(zt_nat_rewrite_dst(p, len, ip(REAL)), 0);
	check_ip_csum(p);
	check_l4_csum(p, false);
	assert_int_equal(zt_nat_rewrite_src(p, len, ip("192.168.77.1")), 0);
	check_ip_csum(p);
	check_l4_csum(p, false);
	assert_int_equal(zt_pkt_parse(p, len, &pi), 0);
	assert_int_equal(pi.t.proto, IPPROTO_UDP);
	assert_int_equal(pi.t.sport, 5353);
	assert_int_equal(pi.t.dport, 53);
	assert_true(pi.t.src.s_addr == ip("192.168.77.1").s_addr);
	assert_true(pi.t.dst.s_addr == ip(REAL).s_addr);
	free(p);
}

static void test_udp_zero_checksum_stays_zero(void **state)
{
	uint8_t dg[64];
	size_t len;
	uint8_t *p = build(5, IPPROTO_UDP, CLIENT, FAKE, dg, udp_dgram(dg, 1000, 2000, 10), 0,
			   &len);

	(void)state;
	fill_csums(p);
	zt_put_be16(p + 20 + 6, 0);		/* the sender computed none */
	assert_int_equal(zt_nat_rewrite_dst(p, len, ip(REAL)), 0);
	check_ip_csum(p);
	check_l4_csum(p, true);
	assert_int_equal(zt_nat_rewrite_src(p, len, ip(FAKE)), 0);
	check_l4_csum(p, true);
	free(p);
}

/* A rewrite whose UDP checksum computes to 0 must send 0xffff (RFC 768). */
static void test_udp_computed_zero_is_all_ones(void **state)
{
	uint8_t dg[64];
	size_t dlen = udp_dgram(dg, 1000, 2000, 12), len;
	uint8_t *p = build(5, IPPROTO_UDP, CLIENT, REAL, dg, dlen, 0, &len);
	uint8_t *l4 = p + 20;
	struct in_addr fake;
	uint32_t sum;

	(void)state;
	/* Choose the last payload word so that, addressed to REAL, the sum is all ones. */
	zt_put_be16(l4 + dlen - 2, 0);
	sum = ref_add(pseudo(p, 17, dlen), l4, dlen);
	while (sum > 0xffff)
		sum = (sum & 0xffff) + (sum >> 16);
	zt_put_be16(l4 + dlen - 2, (uint16_t)~sum);
	assert_int_equal(ref_csum(l4, dlen, 6, pseudo(p, 17, dlen)), 0);

	/* Sent to FAKE it has an ordinary checksum; the rewrite to REAL makes it 0. */
	fake = ip(FAKE);
	memcpy(p + 16, &fake, 4);
	fill_csums(p);
	assert_int_not_equal(zt_get_be16(l4 + 6), 0xffff);
	assert_int_equal(zt_nat_rewrite_dst(p, len, ip(REAL)), 0);
	assert_int_equal(zt_get_be16(l4 + 6), 0xffff);
	check_ip_csum(p);
	check_l4_csum(p, false);
	free(p);
}

static void test_icmp_echo(void **state)
{
	uint8_t msg[128];
	size_t len;
	uint8_t *p = build(5, IPPROTO_ICMP, CLIENT, FAKE, msg, icmp_echo(msg, 8, 0x4242, 56), 0,
			   &len);
	uint16_t icmp_csum;
	struct zt_pkt_info pi;

	(void)state;
	fill_csums(p);
	icmp_csum = zt_get_be16(p + 22);
	assert_int_equal(zt_nat_rewrite_dst(p, len, ip(REAL)), 0);
	check_ip_csum(p);
	check_l4_csum(p, false);
	assert_int_equal(zt_get_be16(p + 22), icmp_csum);	/* no pseudo-header: unchanged */
	assert_int_equal(zt_pkt_parse(p, len, &pi), 0);
	assert_int_equal(pi.t.proto, IPPROTO_ICMP);
	assert_int_equal(pi.icmp_type, 8);
	assert_int_equal(pi.t.sport, 0x4242);
	assert_int_equal(pi.t.dport, 0x4242);
	assert_false(pi.icmp_error);
	free(p);
}

/* ---- ICMP errors coming back from the private network ---- */

/*
 * The resource answers a UDP datagram CLIENT -> REAL:53 with port
 * unreachable; the quote is the whole datagram, so its UDP checksum can be
 * checked from scratch too.
 */
static void test_icmp_port_unreachable_udp(void **state)
{
	uint8_t dg[64], msg[256];
	size_t dlen = udp_dgram(dg, 40000, 53, 29), qlen, len;
	uint8_t *orig = build(5, IPPROTO_UDP, CLIENT, REAL, dg, dlen, 0, &qlen);
	uint8_t *p, *quote;
	struct zt_pkt_info pi;

	(void)state;
	fill_csums(orig);
	memset(msg, 0, 8);
	msg[0] = 3;
	msg[1] = 3;
	memcpy(msg + 8, orig, qlen);
	p = build(5, IPPROTO_ICMP, REAL, CLIENT, msg, 8 + qlen, 0, &len);
	fill_csums(p);

	assert_int_equal(zt_pkt_parse(p, len, &pi), 0);
	assert_true(pi.icmp_error);
	assert_int_equal(pi.icmp_type, 3);
	assert_int_equal(pi.icmp_code, 3);
	assert_int_equal(pi.inner.proto, IPPROTO_UDP);
	assert_true(pi.inner.src.s_addr == ip(CLIENT).s_addr);
	assert_true(pi.inner.dst.s_addr == ip(REAL).s_addr);
	assert_int_equal(pi.inner.sport, 40000);
	assert_int_equal(pi.inner.dport, 53);

	assert_int_equal(zt_nat_rewrite_src(p, len, ip(FAKE)), 0);
	quote = p + 28;
	assert_true(addr_is(p + 12, FAKE));
	assert_true(addr_is(p + 16, CLIENT));
	assert_true(addr_is(quote + 12, CLIENT));
	assert_true(addr_is(quote + 16, FAKE));
	check_ip_csum(p);
	check_l4_csum(p, false);	/* the ICMP checksum over the changed quote */
	check_ip_csum(quote);
	check_l4_csum(quote, false);	/* the quoted UDP checksum, new pseudo-header */

	/* The mirror: an error the device sends about a datagram from the resource. */
	assert_int_equal(zt_nat_rewrite_dst(p, len, ip(ROUTER)), 0);
	assert_true(addr_is(p + 16, ROUTER));
	assert_true(addr_is(quote + 12, ROUTER));
	check_ip_csum(p);
	check_l4_csum(p, false);
	check_ip_csum(quote);
	check_l4_csum(quote, false);
	free(orig);
	free(p);
}

/* A router's time exceeded about a TCP segment, quoting only 8 bytes of it. */
static void test_icmp_time_exceeded_short_tcp_quote(void **state)
{
	uint8_t seg[64], msg[128];
	size_t slen = tcp_seg(seg, 40001, 443, ZT_TCP_SYN, NULL, 0, 0), qlen, len;
	uint8_t *orig = build(5, IPPROTO_TCP, CLIENT, REAL, seg, slen, 0, &qlen);
	uint8_t *p, *quote;
	struct zt_pkt_info pi;

	(void)state;
	fill_csums(orig);
	memset(msg, 0, 8);
	msg[0] = 11;
	memcpy(msg + 8, orig, 28);
	p = build(5, IPPROTO_ICMP, ROUTER, CLIENT, msg, 8 + 28, 0, &len);
	fill_csums(p);
	assert_int_equal(zt_pkt_parse(p, len, &pi), 0);
	assert_true(pi.icmp_error);
	assert_true(pi.inner.dst.s_addr == ip(REAL).s_addr);
	assert_int_equal(pi.inner.dport, 443);

	assert_int_equal(zt_nat_rewrite_src(p, len, ip(FAKE)), 0);
	quote = p + 28;
	assert_true(addr_is(p + 12, FAKE));
	assert_true(addr_is(quote + 16, FAKE));
	check_ip_csum(p);
	check_l4_csum(p, false);
	check_ip_csum(quote);
	assert_memory_equal(quote + 20, orig + 20, 8);	/* ports and sequence untouched */
	free(orig);
	free(p);
}

/*
 * The quote holds the TCP checksum but not the payload: the quoted checksum
 * must become what the whole original segment would have with the new
 * address.
 */
static void test_icmp_error_tcp_quote_with_checksum(void **state)
{
	uint8_t seg[256], msg[256];
	size_t slen = tcp_seg(seg, 40002, 22, ZT_TCP_ACK | ZT_TCP_PSH, NULL, 0, 100), qlen, len;
	uint8_t *orig = build(5, IPPROTO_TCP, CLIENT, REAL, seg, slen, 0, &qlen);
	uint8_t *want = build(5, IPPROTO_TCP, CLIENT, FAKE, seg, slen, 0, &qlen);
	uint8_t *p, *quote;

	(void)state;
	fill_csums(orig);
	fill_csums(want);
	memset(msg, 0, 8);
	msg[0] = 3;
	msg[1] = 1;			/* host unreachable */
	memcpy(msg + 8, orig, 20 + 40);
	p = build(5, IPPROTO_ICMP, ROUTER, CLIENT, msg, 8 + 60, 0, &len);
	fill_csums(p);
	assert_int_equal(zt_nat_rewrite_src(p, len, ip(FAKE)), 0);
	quote = p + 28;
	assert_int_equal(zt_get_be16(quote + 20 + 16), zt_get_be16(want + 20 + 16));
	check_ip_csum(p);
	check_l4_csum(p, false);
	check_ip_csum(quote);
	free(orig);
	free(want);
	free(p);
}

/* Errors about a ping: the quoted ICMP has no pseudo-header, only IP checksums move. */
static void test_icmp_error_about_echo(void **state)
{
	uint8_t echo[64], msg[128];
	size_t elen = icmp_echo(echo, 8, 7, 16), qlen, len;
	uint8_t *orig = build(5, IPPROTO_ICMP, CLIENT, REAL, echo, elen, 0, &qlen);
	uint8_t *p, *quote;
	struct zt_pkt_info pi;

	(void)state;
	fill_csums(orig);
	memset(msg, 0, 8);
	msg[0] = 3;
	msg[1] = 1;
	memcpy(msg + 8, orig, qlen);
	p = build(5, IPPROTO_ICMP, ROUTER, CLIENT, msg, 8 + qlen, 0, &len);
	fill_csums(p);
	assert_int_equal(zt_pkt_parse(p, len, &pi), 0);
	assert_int_equal(pi.inner.proto, IPPROTO_ICMP);
	assert_int_equal(pi.inner.sport, 7);
	assert_int_equal(zt_nat_rewrite_src(p, len, ip(FAKE)), 0);
	quote = p + 28;
	check_ip_csum(p);
	check_l4_csum(p, false);
	check_ip_csum(quote);
	check_l4_csum(quote, false);
	free(orig);
	free(p);
}

/* ---- fragments ---- */

static void test_fragments(void **state)
{
	uint8_t dg[256];
	size_t dlen = udp_dgram(dg, 7000, 7001, 120), flen, len;
	uint8_t *whole = build(5, IPPROTO_UDP, CLIENT, FAKE, dg, dlen, 0, &len);
	uint8_t *want = build(5, IPPROTO_UDP, CLIENT, REAL, dg, dlen, 0, &len);
	uint8_t *first, *later, *copy;
	struct zt_pkt_info pi;

	(void)state;
	fill_csums(whole);
	fill_csums(want);
	/* First fragment: 64 bytes of the datagram, MF set; its UDP checksum covers all. */
	first = build(5, IPPROTO_UDP, CLIENT, FAKE, whole + 20, 64, 0x2000, &flen);
	fill_csums(first);
	memcpy(first + 20 + 6, whole + 20 + 6, 2);
	assert_int_equal(zt_nat_rewrite_dst(first, flen, ip(REAL)), 0);
	check_ip_csum(first);
	assert_int_equal(zt_get_be16(first + 26), zt_get_be16(want + 26));
	assert_int_equal(zt_pkt_parse(first, flen, &pi), 0);
	assert_true(pi.fragment);
	assert_true(pi.has_l4);
	assert_int_equal(pi.t.dport, 7001);

	/* A later fragment carries no L4 header: its payload must not change. */
	later = build(5, IPPROTO_UDP, CLIENT, FAKE, whole + 20 + 64, dlen - 64, 8, &flen);
	fill_csums(later);		/* the IP header; the "UDP" fill is harmless junk */
	copy = malloc(flen);
	memcpy(copy, later, flen);
	assert_int_equal(zt_nat_rewrite_dst(later, flen, ip(REAL)), 0);
	check_ip_csum(later);
	assert_memory_equal(later + 20, copy + 20, flen - 20);
	assert_int_equal(zt_pkt_parse(later, flen, &pi), 0);
	assert_true(pi.fragment);
	assert_false(pi.has_l4);
	assert_int_equal(pi.t.sport, 0);
	assert_int_equal(zt_tcp_clamp_mss(later, flen, 1000), 0);

	free(copy);
	free(whole);
	free(want);
	free(first);
	free(later);
}

/* ---- MSS clamping ---- */

static void test_mss_clamp(void **state)
{
	static const uint8_t even[] = { 2, 4, 0x05, 0xb4, 1, 1, 4, 2 };
	static const uint8_t odd[] = { 1, 2, 4, 0x05, 0xb4, 1, 1, 0 };	/* value at offset 23 */
	static const uint8_t small[] = { 2, 4, 0x04, 0x00 };
	uint8_t seg[64];
	size_t len, slen;
	uint8_t *p;

	(void)state;
	slen = tcp_seg(seg, 1234, 80, ZT_TCP_SYN, even, sizeof(even), 0);
	p = build(5, IPPROTO_TCP, CLIENT, REAL, seg, slen, 0, &len);
	fill_csums(p);
	assert_int_equal(zt_tcp_clamp_mss(p, len, 1380), 1);
	assert_int_equal(zt_get_be16(p + 42), 1380);
	check_l4_csum(p, false);
	check_ip_csum(p);
	assert_int_equal(zt_tcp_clamp_mss(p, len, 1380), 0);	/* already there */
	free(p);

	slen = tcp_seg(seg, 1234, 80, ZT_TCP_SYN | ZT_TCP_ACK, odd, sizeof(odd), 0);
	p = build(7, IPPROTO_TCP, REAL, CLIENT, seg, slen, 0, &len);
	fill_csums(p);
	assert_int_equal(zt_tcp_clamp_mss(p, len, 1380), 1);
	assert_int_equal(zt_get_be16(p + 28 + 23), 1380);
	check_l4_csum(p, false);
	free(p);

	slen = tcp_seg(seg, 1234, 80, ZT_TCP_SYN, small, sizeof(small), 0);
	p = build(5, IPPROTO_TCP, CLIENT, REAL, seg, slen, 0, &len);
	fill_csums(p);
	assert_int_equal(zt_tcp_clamp_mss(p, len, 1380), 0);
	assert_int_equal(zt_get_be16(p + 42), 1024);
	free(p);

	/* Not a SYN: options are not looked at. */
	slen = tcp_seg(seg, 1234, 80, ZT_TCP_ACK, even, sizeof(even), 0);
	p = build(5, IPPROTO_TCP, CLIENT, REAL, seg, slen, 0, &len);
	fill_csums(p);
	assert_int_equal(zt_tcp_clamp_mss(p, len, 1380), 0);
	assert_int_equal(zt_get_be16(p + 42), 1460);
	free(p);

	/* UDP: nothing to do. */
	slen = udp_dgram(seg, 1, 2, 4);
	p = build(5, IPPROTO_UDP, CLIENT, REAL, seg, slen, 0, &len);
	assert_int_equal(zt_tcp_clamp_mss(p, len, 1380), 0);
	free(p);
}

/* ---- malformed input: refused, the packet unchanged ---- */

static void expect_refused(const uint8_t *pkt, size_t len)
{
	uint8_t *p = malloc(len ? len : 1), *copy = malloc(len ? len : 1);
	struct zt_pkt_info pi;

	memcpy(p, pkt, len);
	memcpy(copy, pkt, len);
	assert_int_equal(zt_nat_rewrite_dst(p, len, ip(REAL)), -EINVAL);
	assert_int_equal(zt_nat_rewrite_src(p, len, ip(FAKE)), -EINVAL);
	assert_true(zt_tcp_clamp_mss(p, len, 536) <= 0);
	assert_memory_equal(p, copy, len);
	assert_true(zt_pkt_parse(p, len, &pi) < 0);
	free(p);
	free(copy);
}

static void test_malformed(void **state)
{
	static const uint8_t bad_mss_len[] = { 2, 0, 0, 0 };
	static const uint8_t mss_overruns[] = { 1, 1, 2, 8 };
	uint8_t seg[64], msg[128], *p, *q;
	size_t len, slen, qlen;

	(void)state;
	slen = tcp_seg(seg, 1, 2, ZT_TCP_SYN, NULL, 0, 0);
	p = build(5, IPPROTO_TCP, CLIENT, FAKE, seg, slen, 0, &len);
	fill_csums(p);

	expect_refused(p, 0);
	expect_refused(p, 19);
	expect_refused(p, len - 1);		/* total length beyond the buffer */

	p[0] = 0x44;				/* IHL 4 */
	expect_refused(p, len);
	p[0] = 0x4f;				/* IHL 15: past the total length */
	expect_refused(p, len);
	p[0] = 0x65;				/* IPv6 nibble */
	expect_refused(p, len);
	p[0] = 0x45;
	zt_put_be16(p + 2, 19);			/* total length below the header */
	expect_refused(p, len);
	zt_put_be16(p + 2, 30);			/* a first fragment with half a TCP header */
	expect_refused(p, len);
	zt_put_be16(p + 2, (uint16_t)len);
	free(p);

	/* UDP with 7 bytes of header, ICMP with 6. */
	slen = udp_dgram(seg, 1, 2, 0);
	p = build(5, IPPROTO_UDP, CLIENT, FAKE, seg, 7, 0, &len);
	expect_refused(p, len);
	free(p);
	p = build(5, IPPROTO_ICMP, CLIENT, FAKE, seg, 6, 0, &len);
	expect_refused(p, len);
	free(p);

	/* ICMP errors whose quote is not a whole IPv4 header. */
	slen = udp_dgram(seg, 1, 2, 4);
	q = build(5, IPPROTO_UDP, CLIENT, REAL, seg, slen, 0, &qlen);
	memset(msg, 0, 8);
	msg[0] = 3;
	memcpy(msg + 8, q, 19);
	p = build(5, IPPROTO_ICMP, REAL, CLIENT, msg, 8 + 19, 0, &len);
	expect_refused(p, len);
	free(p);
	q[0] = 0x46;				/* quote claims 24 header bytes, has 20 */
	memcpy(msg + 8, q, 20);
	p = build(5, IPPROTO_ICMP, REAL, CLIENT, msg, 8 + 20, 0, &len);
	expect_refused(p, len);
	free(p);
	q[0] = 0x60;
	memcpy(msg + 8, q, qlen);
	p = build(5, IPPROTO_ICMP, REAL, CLIENT, msg, 8 + qlen, 0, &len);
	expect_refused(p, len);
	free(p);
	free(q);

	/* MSS options that lie about their length: -EINVAL, nothing written. */
	slen = tcp_seg(seg, 1, 2, ZT_TCP_SYN, bad_mss_len, sizeof(bad_mss_len), 0);
	p = build(5, IPPROTO_TCP, CLIENT, REAL, seg, slen, 0, &len);
	q = malloc(len);
	memcpy(q, p, len);
	assert_int_equal(zt_tcp_clamp_mss(p, len, 536), -EINVAL);
	assert_memory_equal(p, q, len);
	free(p);
	free(q);
	slen = tcp_seg(seg, 1, 2, ZT_TCP_SYN, mss_overruns, sizeof(mss_overruns), 0);
	p = build(5, IPPROTO_TCP, CLIENT, REAL, seg, slen, 0, &len);
	assert_int_equal(zt_tcp_clamp_mss(p, len, 536), -EINVAL);
	free(p);
	/* A data offset past the segment. */
	slen = tcp_seg(seg, 1, 2, ZT_TCP_SYN, NULL, 0, 0);
	seg[12] = 0x60;
	p = build(5, IPPROTO_TCP, CLIENT, REAL, seg, slen, 0, &len);
	assert_int_equal(zt_tcp_clamp_mss(p, len, 536), -EINVAL);
	free(p);
}

/* A buffer longer than the IP total length: the tail is neither read as L4 nor changed. */
static void test_trailing_bytes_ignored(void **state)
{
	uint8_t dg[64], *p, *big;
	size_t len;
	struct zt_pkt_info pi;

	(void)state;
	p = build(5, IPPROTO_UDP, CLIENT, FAKE, dg, udp_dgram(dg, 9, 10, 3), 0, &len);
	fill_csums(p);
	big = malloc(len + 16);
	memcpy(big, p, len);
	memset(big + len, 0xee, 16);
	assert_int_equal(zt_nat_rewrite_dst(big, len + 16, ip(REAL)), 0);
	check_ip_csum(big);
	check_l4_csum(big, false);
	for (size_t i = 0; i < 16; i++)
		assert_int_equal(big[len + i], 0xee);
	assert_int_equal(zt_pkt_parse(big, len + 16, &pi), 0);
	assert_int_equal(pi.ip_len, len);
	free(p);
	free(big);
}

/* ---- many packets ---- */

static uint32_t rng = 12345;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static struct in_addr rnd_addr(void)
{
	return (struct in_addr){ .s_addr = rnd() };
}

static void test_many_random_packets(void **state)
{
	char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN];
	uint8_t l4[1600];
	int i;

	(void)state;
	for (i = 0; i < 3000; i++) {
		unsigned int ihl_words = 5 + rnd() % 11;
		size_t payload = rnd() % 1400, l4len, len;
		struct in_addr a = rnd_addr(), b = rnd_addr();
		uint8_t proto, *p;
		bool udp_zero = false;

		inet_ntop(AF_INET, &a, src, sizeof(src));
		inet_ntop(AF_INET, &b, dst, sizeof(dst));
		switch (rnd() % 3) {
		case 0:
			proto = IPPROTO_TCP;
			l4len = tcp_seg(l4, (uint16_t)rnd(), (uint16_t)rnd(), (uint8_t)rnd(), NULL, 0,
					payload);
			break;
		case 1:
			proto = IPPROTO_UDP;
			l4len = udp_dgram(l4, (uint16_t)rnd(), (uint16_t)rnd(), payload);
			udp_zero = rnd() % 4 == 0;
			break;
		default:
			proto = IPPROTO_ICMP;
			l4len = icmp_echo(l4, rnd() % 2 ? 8 : 0, (uint16_t)rnd(), payload);
			break;
		}
		for (size_t j = 0; j < payload; j++)
			l4[l4len - payload + j] = (uint8_t)rnd();
		p = build(ihl_words, proto, src, dst, l4, l4len, 0, &len);
		fill_csums(p);
		if (udp_zero)
			zt_put_be16(p + ihl_words * 4 + 6, 0);
		assert_int_equal(zt_nat_rewrite_dst(p, len, rnd_addr()), 0);
		check_ip_csum(p);
		check_l4_csum(p, udp_zero);
		assert_int_equal(zt_nat_rewrite_src(p, len, rnd_addr()), 0);
		check_ip_csum(p);
		check_l4_csum(p, udp_zero);
		free(p);
	}
}

/* Random bytes behind a plausible first byte: whatever happens, nothing out of bounds. */
static void test_random_garbage(void **state)
{
	struct zt_pkt_info pi;
	int i;

	(void)state;
	for (i = 0; i < 20000; i++) {
		size_t len = rnd() % 120;
		uint8_t *p = malloc(len ? len : 1);

		for (size_t j = 0; j < len; j++)
			p[j] = (uint8_t)rnd();
		if (len) {
			p[0] = (uint8_t)(0x40 | (5 + rnd() % 3));
			if (len >= 4 && rnd() % 2)
				zt_put_be16(p + 2, (uint16_t)(len - rnd() % 4));
			if (len >= 10)
				p[9] = (uint8_t[]){ 1, 6, 17 }[rnd() % 3];
			if (len >= 8 && rnd() % 2)
				p[6] = p[7] = 0;
		}
		zt_pkt_parse(p, len, &pi);
		zt_nat_rewrite_dst(p, len, rnd_addr());
		zt_nat_rewrite_src(p, len, rnd_addr());
		zt_tcp_clamp_mss(p, len, 1380);
		free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_syn_with_ip_options),
		cmocka_unit_test(test_udp_both_ways_odd_payload),
		cmocka_unit_test(test_udp_zero_checksum_stays_zero),
		cmocka_unit_test(test_udp_computed_zero_is_all_ones),
		cmocka_unit_test(test_icmp_echo),
		cmocka_unit_test(test_icmp_port_unreachable_udp),
		cmocka_unit_test(test_icmp_time_exceeded_short_tcp_quote),
		cmocka_unit_test(test_icmp_error_tcp_quote_with_checksum),
		cmocka_unit_test(test_icmp_error_about_echo),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_mss_clamp),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_trailing_bytes_ignored),
		cmocka_unit_test(test_many_random_packets),
		cmocka_unit_test(test_random_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
