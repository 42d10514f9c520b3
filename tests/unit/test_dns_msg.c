// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests: the DNS message codec (queries, replies, the rebinding guard). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/addr.h"
#include "lib/bytes.h"
#include "dns/codec.h"

/* A message under construction, the way a client would write it. */
struct msg {
	uint8_t b[70000];
	size_t len;
};

static void add(struct msg *m, const void *p, size_t n)
{
	assert_true(m->len + n <= sizeof(m->b));
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

static void add8(struct msg *m, uint8_t v)
{
	add(m, &v, 1);
}

static void add16(struct msg *m, uint16_t v)
{
	add8(m, (uint8_t)(v >> 8));
	add8(m, (uint8_t)v);
}

static void add32(struct msg *m, uint32_t v)
{
	add16(m, (uint16_t)(v >> 16));
	add16(m, (uint16_t)v);
}

static void header(struct msg *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
		   uint16_t ns, uint16_t ar)
{
	m->len = 0;
	add16(m, id);
	add16(m, flags);
	add16(m, qd);
	add16(m, an);
	add16(m, ns);
	add16(m, ar);
}

/* "a.b.c" as labels, dots only as separators. */
static void add_name(struct msg *m, const char *text)
{
	const char *p = text, *dot;

	while (*p) {
		dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		add8(m, (uint8_t)n);
		add(m, p, n);
		p += n;
		if (*p == '.')
			p++;
	}
	add8(m, 0);
}

static void add_opt(struct msg *m, uint16_t udp, uint8_t version, bool dnssec_ok,
		    const uint8_t *rdata, uint16_t rdlen)
{
	add8(m, 0);
	add16(m, ZT_DNS_T_OPT);
	add16(m, udp);
	add32(m, (uint32_t)version << 16 | (dnssec_ok ? 0x8000u : 0));
	add16(m, rdlen);
	if (rdlen)
		add(m, rdata, rdlen);
}

/* What `dig nas.home.int` sends (with or without +edns). */
static void query(struct msg *m, uint16_t id, const char *name, uint16_t qtype, bool edns)
{
	header(m, id, ZT_DNS_F_RD, 1, 0, 0, edns ? 1 : 0);
	add_name(m, name);
	add16(m, qtype);
	add16(m, ZT_DNS_CLASS_IN);
	if (edns)
		add_opt(m, 4096, 0, true, NULL, 0);
}

static struct msg m;
static struct zt_dns_query q;
static uint8_t out[4096];

static void expect_formerr(const char *why_part)
{
	struct zt_dns_query reply;
	ssize_t n;

	assert_int_equal(zt_dns_parse_query(m.b, m.len, &q), ZT_DNS_RCODE_FORMERR);
	assert_non_null(q.why);
	if (why_part && !strstr(q.why, why_part))
		fail_msg("reason '%s', expected it to mention '%s'", q.why, why_part);
	/* Whatever was wrong, the reply carries the ID and is well formed. */
	n = zt_dns_build_error(&q, ZT_DNS_RCODE_FORMERR, out, sizeof(out));
	assert_true(n >= ZT_DNS_HEADER_LEN);
	assert_int_equal(zt_get_be16(out), zt_get_be16(m.b));
	assert_int_equal(zt_get_be16(out + 2) & ZT_DNS_F_RCODE, ZT_DNS_RCODE_FORMERR);
	assert_true(zt_get_be16(out + 2) & ZT_DNS_F_QR);
	assert_int_equal(zt_get_be16(out + 4), q.has_question ? 1 : 0);
	assert_int_equal(zt_get_be16(out + 6), 0);
	assert_int_equal(zt_dns_parse_query(out, (size_t)n, &reply), -EBADMSG);	/* a response */
}

static void test_parse_plain_query(void **state)
{
	(void)state;
	query(&m, 0xbeef, "NAS.Home.INT", ZT_DNS_T_A, false);
	assert_int_equal(zt_dns_parse_query(m.b, m.len, &q), ZT_DNS_RCODE_NOERROR);
	assert_int_equal(q.id, 0xbeef);
	assert_true(q.has_question);
	assert_string_equal(q.name, "nas.home.int");
	assert_int_equal(q.qtype, ZT_DNS_T_A);
	assert_int_equal(q.qclass, ZT_DNS_CLASS_IN);
	assert_false(q.edns);
	assert_int_equal(q.edns_udp_size, 512);
	assert_int_equal(q.qname_len, 14);
	assert_memory_equal(q.qname, m.b + 12, 14);	/* case kept for the echo */

	/* A root query, and a name with bytes that must not read as dots. */
	query(&m, 1, "", ZT_DNS_T_NS, false);
	assert_int_equal(zt_dns_parse_query(m.b, m.len, &q), 0);
	assert_string_equal(q.name, "");
	header(&m, 2, 0, 1, 0, 0, 0);
	add(&m, "\x08nas.HOME\x03" "a\\ \x03int", 18);
	add16(&m, ZT_DNS_T_A);
	add16(&m, ZT_DNS_CLASS_IN);
	assert_int_equal(zt_dns_parse_query(m.b, m.len, &q), 0);
	assert_string_equal(q.name, "nas\\.home.a\\\\\\032.int");
	assert_false(zt_dns_name_is_below(q.name, "home.int"));
}

static void test_build_a_roundtrip(void **state)
{
	struct zt_prefix fake, other;
	struct in_addr a;
	char err[128];
	ssize_t n;
	size_t off;

	(void)state;
	query(&m, 0x1234, "Nas.Home.Int", ZT_DNS_T_A, false);
	assert_int_equal(zt_dns_parse_query(m.b, m.len, &q), 0);
	inet_pton(AF_INET, "100.96.0.7", &a);
	n = zt_dns_build_a(&q, a, 15, out, sizeof(out));
	assert_true(n > 0 && n <= ZT_DNS_UDP_PLAIN_MAX);

	assert_int_equal(zt_get_be16(out), 0x1234);
	assert_int_equal(zt_get_be16(out + 2), ZT_DNS_F_QR | ZT_DNS_F_AA | ZT_DNS_F_RD | ZT_DNS_F_RA);
	assert_int_equal(zt_get_be16(out + 4), 1);
	assert_int_equal(zt_get_be16(out + 6), 1);
	assert_int_equal(zt_get_be16(out + 8), 0);
	assert_int_equal(zt_get_be16(out + 10), 0);
	assert_memory_equal(out + 12, m.b + 12, 14 + 4);	/* the question, as asked */
	off = 12 + 14 + 4;
	assert_int_equal(zt_get_be16(out + off), 0xc00c);
	assert_int_equal(zt_get_be16(out + off + 2), ZT_DNS_T_A);
	assert_int_equal(zt_get_be16(out + off + 4), ZT_DNS_CLASS_IN);
	assert_int_equal(zt_get_be32(out + off + 6), 15);
	assert_int_equal(zt_get_be16(out + off + 10), 4);
	assert_memory_equal(out + off + 12, &a, 4);
	assert_int_equal((size_t)n, off + 16);

	/* The guard reads our own answer through its compression pointer. */
	assert_int_equal(zt_prefix_parse("100.96.0.0/12", &fake, err, sizeof(err)), 0);
	assert_int_equal(zt_prefix_parse("10.0.0.0/8", &other, err, sizeof(err)), 0);
	assert_int_equal(zt_dns_answer_in_prefix(out, (size_t)n, &fake), 1);
	assert_int_equal(zt_dns_answer_in_prefix(out, (size_t)n, &other), 0);

	/* Every shorter buffer is refused, none overrun (ASan watches). */
	for (size_t cap = 0; cap < (size_t)n; cap++) {
		uint8_t *tight = malloc(cap ? cap : 1);

		assert_int_equal(zt_dns_build_a(&q, a, 15, tight, cap), -ENOSPC);
		free(tight);
	}
	/* No RD asked, none given; ID rewrite. */
	header(&m, 7, 0, 1, 0, 0, 0);
	add_name(&m, "x.home.int");
	add16(&m, ZT_DNS_T_A);
	add16(&m, ZT_DNS_CLASS_IN);
	assert_int_equal(zt_dns_parse_query(m.b, m.len, &q), 0);
	n = zt_dns_build_a(&q, a, 0, out, sizeof(out));
	assert_int_equal(zt_get_be16(out + 2), ZT_DNS_F_QR | ZT_DNS_F_AA | ZT_DNS_F_RA);
	assert_int_equal(zt_dns_set_id(out, (size_t)n, 0xabcd), 0);
	assert_int_equal(zt_get_be16(out), 0xabcd);
	assert_int_equal(zt_dns_set_id(out, 11, 1), -EBADMSG);
}

static void test_edns(void **state)
{
	static const uint8_t cookie[] = { 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8 };
	ssize_t n;
	size_t opt;

	(void)state;
	query(&m, 9, "nas.home.int", ZT_DNS_T_AAAA, true);
	assert_int_equal(zt_dns_parse_query(m.b, m.len, &q), 0);
	assert_true(q.edns);
	assert_true(q.edns_do);
	assert_int_equal(q.edns_version, 0);
	assert_int_equal(q.edns_udp_size, 4096);

	/* NODATA for AAAA, with the OPT record echoed. */
	n = zt_dns_build_nodata(&q, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(zt_get_be16(out + 2) & ZT_DNS_F_RCODE, ZT_DNS_RCODE_NOERROR);
	assert_int_equal(zt_get_be16(out + 6), 0);
	assert_int_equal(zt_get_be16(out + 10), 1);
	opt = 12 + 14 + 4;
	assert_int_equal((size_t)n, opt + 11);
	assert_int_equal(out[opt], 0);
	assert_int_equal(zt_get_be16(out + opt + 1), ZT_DNS_T_OPT);
	assert_int_equal(zt_get_be16(out + opt + 3), ZT_DNS_EDNS_UDP_SIZE);
	assert_int_equal(zt_get_be32(out + opt + 5), 0x8000);		/* DO echoed */
	assert_int_equal(zt_get_be16(out + opt + 9), 0);

	/* Without DO, a tiny UDP size counts as 512; options are fine. */
	header(&m, 9, 0, 1, 0, 0, 1);
	add_name(&m, "nas.home.int");
	add16(&m, ZT_DNS_T_A);
	add16(&m, ZT_DNS_CLASS_IN);
	add_opt(&m, 100, 0, false, cookie, sizeof(cookie));
	assert_int_equal(zt_dns_parse_query(m.b, m.len, &q), 0);
	assert_true(q.edns);
	assert_false(q.edns_do);
	assert_int_equal(q.edns_udp_size, 512);
	n = zt_dns_build_nodata(&q, out, sizeof(out));
	assert_int_equal(zt_get_be32(out + opt + 5), 0);

	/* EDNS version 1: BADVERS, whose upper bits ride in the OPT TTL. */
	header(&m, 10, 0, 1, 0, 0, 1);
	add_name(&m, "nas.home.int");
	add16(&m, ZT_DNS_T_A);
	add16(&m, ZT_DNS_CLASS_IN);
	add_opt(&m, 1232, 1, false, NULL, 0);
	assert_int_equal(zt_dns_parse_query(m.b, m.len, &q), ZT_DNS_RCODE_BADVERS);
	n = zt_dns_build_error(&q, ZT_DNS_RCODE_BADVERS, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(zt_get_be16(out + 2) & ZT_DNS_F_RCODE, 0);
	assert_int_equal(zt_get_be32(out + opt + 5), 1u << 24);

	/* Extended RCODEs need an OPT record to carry them. */
	query(&m, 11, "a", ZT_DNS_T_A, false);
	assert_int_equal(zt_dns_parse_query(m.b, m.len, &q), 0);
	assert_int_equal(zt_dns_build_error(&q, ZT_DNS_RCODE_BADVERS, out, sizeof(out)), -EINVAL);

	/* SERVFAIL keeps the question and EDNS. */
	query(&m, 12, "up.example", ZT_DNS_T_A, true);
	assert_int_equal(zt_dns_parse_query(m.b, m.len, &q), 0);
	n = zt_dns_build_error(&q, ZT_DNS_RCODE_SERVFAIL, out, sizeof(out));
	assert_int_equal(zt_get_be16(out + 2), ZT_DNS_F_QR | ZT_DNS_F_RD | ZT_DNS_F_RA | 2);
	assert_int_equal(zt_get_be16(out + 4), 1);
	assert_int_equal(zt_get_be16(out + 10), 1);
}

static void test_edns_malformed(void **state)
{
	static const uint8_t bad_option[] = { 0, 10, 0, 9, 1, 2, 3 };

	(void)state;
	/* Two OPT records. */
	header(&m, 1, 0, 1, 0, 0, 2);
	add_name(&m, "a.int");
	add16(&m, ZT_DNS_T_A);
	add16(&m, ZT_DNS_CLASS_IN);
	add_opt(&m, 1232, 0, false, NULL, 0);
	add_opt(&m, 1232, 0, false, NULL, 0);
	expect_formerr("more than one OPT");
	assert_true(q.has_question);
	assert_false(q.edns);

	/* OPT owned by a name other than the root. */
	header(&m, 1, 0, 1, 0, 0, 1);
	add_name(&m, "a.int");
	add16(&m, ZT_DNS_T_A);
	add16(&m, ZT_DNS_CLASS_IN);
	add_name(&m, "x");
	add16(&m, ZT_DNS_T_OPT);
	add16(&m, 1232);
	add32(&m, 0);
	add16(&m, 0);
	expect_formerr("root");

	/* An option longer than the record. */
	header(&m, 1, 0, 1, 0, 0, 1);
	add_name(&m, "a.int");
	add16(&m, ZT_DNS_T_A);
	add16(&m, ZT_DNS_CLASS_IN);
	add_opt(&m, 1232, 0, false, bad_option, sizeof(bad_option));
	expect_formerr("option");

	/* ARCOUNT promises a record that is not there. */
	header(&m, 1, 0, 1, 0, 0, 1);
	add_name(&m, "a.int");
	add16(&m, ZT_DNS_T_A);
	add16(&m, ZT_DNS_CLASS_IN);
	expect_formerr(NULL);

	/* RDLENGTH past the end. */
	header(&m, 1, 0, 1, 0, 0, 1);
	add_name(&m, "a.int");
	add16(&m, ZT_DNS_T_A);
	add16(&m, ZT_DNS_CLASS_IN);
	add8(&m, 0);
	add16(&m, ZT_DNS_T_OPT);
	add16(&m, 1232);
	add32(&m, 0);
	add16(&m, 50);
	expect_formerr("past the end");
}

static void test_malformed_queries(void **state)
{
	char label[64];
	ssize_t n;
	int i;

	(void)state;
	/* Short header: nothing to answer with. */
	query(&m, 1, "a.int", ZT_DNS_T_A, false);
	assert_int_equal(zt_dns_parse_query(m.b, 11, &q), -EBADMSG);
	assert_int_equal(zt_dns_parse_query(m.b, 0, &q), -EBADMSG);

	/* A response: never answered. */
	header(&m, 1, ZT_DNS_F_QR, 1, 0, 0, 0);
	add_name(&m, "a.int");
	add16(&m, 1);
	add16(&m, 1);
	assert_int_equal(zt_dns_parse_query(m.b, m.len, &q), -EBADMSG);

	/* QDCOUNT 0 and 2. */
	header(&m, 0x4242, 0, 0, 0, 0, 0);
	expect_formerr("no question");
	assert_false(q.has_question);
	query(&m, 0x4243, "a.int", ZT_DNS_T_A, false);
	m.b[5] = 2;
	add_name(&m, "b.int");
	add16(&m, 1);
	add16(&m, 1);
	expect_formerr("more than one");

	/* An opcode we do not serve. */
	query(&m, 5, "a.int", ZT_DNS_T_A, false);
	m.b[2] |= 2 << 3;		/* STATUS */
	assert_int_equal(zt_dns_parse_query(m.b, m.len, &q), ZT_DNS_RCODE_NOTIMP);
	n = zt_dns_build_error(&q, ZT_DNS_RCODE_NOTIMP, out, sizeof(out));
	assert_int_equal(zt_get_be16(out + 2) & (ZT_DNS_F_RCODE | ZT_DNS_F_OPCODE), (2 << 11) | 4);
	assert_true(n == ZT_DNS_HEADER_LEN);

	/* Label lengths: 64 is a reserved label type; 63 past the end. */
	header(&m, 1, 0, 1, 0, 0, 0);
	add8(&m, 64);
	memset(label, 'a', sizeof(label));
	add(&m, label, 64);
	add8(&m, 0);
	add16(&m, 1);
	add16(&m, 1);
	expect_formerr("label type");
	header(&m, 1, 0, 1, 0, 0, 0);
	add8(&m, 63);
	add(&m, label, 10);
	expect_formerr("past the end");

	/* A name over 255 bytes: five labels of 63. */
	header(&m, 1, 0, 1, 0, 0, 0);
	for (i = 0; i < 5; i++) {
		add8(&m, 63);
		add(&m, label, 63);
	}
	add8(&m, 0);
	add16(&m, 1);
	add16(&m, 1);
	expect_formerr("255");
	/* 255 exactly is fine: 3 x 63 + 62, plus length bytes and root. */
	header(&m, 1, 0, 1, 0, 0, 0);
	for (i = 0; i < 4; i++) {
		add8(&m, i < 3 ? 63 : 61);
		add(&m, label, i < 3 ? 63 : 61);
	}
	add8(&m, 0);
	add16(&m, 1);
	add16(&m, 1);
	assert_int_equal(zt_dns_parse_query(m.b, m.len, &q), 0);
	assert_int_equal(q.qname_len, 255);
	assert_int_equal(strlen(q.name), 253);
	n = zt_dns_build_a(&q, (struct in_addr){ .s_addr = htonl(0x64600001) }, 15, out,
			   sizeof(out));
	assert_true(n > 0 && n <= ZT_DNS_UDP_PLAIN_MAX);

	/* Compression loops: a pointer to itself, and a label that runs back
	 * into the pointer that follows it. */
	header(&m, 1, 0, 1, 0, 0, 0);
	add16(&m, 0xc00c);
	add16(&m, 1);
	add16(&m, 1);
	expect_formerr("compression");
	header(&m, 1, 0, 1, 0, 0, 0);
	add(&m, "\x01" "a", 2);
	add16(&m, 0xc00c);
	add16(&m, 1);
	add16(&m, 1);
	expect_formerr("compression");
	/* A forward pointer, and a pointer cut in half. */
	header(&m, 1, 0, 1, 0, 0, 0);
	add16(&m, 0xc010);
	add16(&m, 1);
	add16(&m, 1);
	add8(&m, 0);
	expect_formerr("compression");
	header(&m, 1, 0, 1, 0, 0, 0);
	add8(&m, 0xc0);
	expect_formerr("pointer");

	/* A backward pointer is followed (here into the header: byte 4 is
	 * QDCOUNT's high byte, 0, so the name is the root). */
	header(&m, 1, 0, 1, 0, 0, 0);
	add16(&m, 0xc004);
	add16(&m, ZT_DNS_T_A);
	add16(&m, 1);
	assert_int_equal(zt_dns_parse_query(m.b, m.len, &q), 0);
	assert_string_equal(q.name, "");
	assert_int_equal(q.qname_len, 1);

	/* Truncated question: the name, then half a QTYPE. */
	header(&m, 1, 0, 1, 0, 0, 0);
	add_name(&m, "a.int");
	add16(&m, 1);
	expect_formerr("truncated question");
	assert_false(q.has_question);

	/* Trailing garbage: FORMERR, with the question echoed. */
	query(&m, 77, "a.int", ZT_DNS_T_A, false);
	add(&m, "junk", 4);
	expect_formerr("trailing");
	assert_true(q.has_question);
	assert_string_equal(q.name, "a.int");
	assert_int_equal(zt_get_be16(out + 4), 1);

	/* Oversize: a well-formed query padded past ZT_DNS_QUERY_MAX. */
	{
		static uint8_t pad[ZT_DNS_QUERY_MAX];

		pad[0] = 0;
		pad[1] = 12;			/* EDNS padding option */
		pad[2] = (uint8_t)((sizeof(pad) - 4) >> 8);
		pad[3] = (uint8_t)(sizeof(pad) - 4);
		header(&m, 78, 0, 1, 0, 0, 1);
		add_name(&m, "a.int");
		add16(&m, 1);
		add16(&m, 1);
		add_opt(&m, 1232, 0, false, pad, sizeof(pad));
		expect_formerr("oversize");
		assert_true(q.has_question);
	}
}

/* Every cut of a good query, and every byte flipped, leaves the parser
 * safe; only the whole message is a good query. */
static void test_truncations_and_flips(void **state)
{
	uint8_t *copy;
	size_t cut, i;
	int ret;

	(void)state;
	query(&m, 3, "nas.home.int", ZT_DNS_T_A, true);
	for (cut = 0; cut < m.len; cut++) {
		copy = malloc(cut ? cut : 1);
		memcpy(copy, m.b, cut);
		ret = zt_dns_parse_query(copy, cut, &q);
		assert_true(ret == -EBADMSG || ret == ZT_DNS_RCODE_FORMERR);
		free(copy);
	}
	for (i = 0; i < m.len; i++) {
		for (unsigned int v = 0; v < 256; v += 17) {
			copy = malloc(m.len);
			memcpy(copy, m.b, m.len);
			copy[i] ^= (uint8_t)v;
			ret = zt_dns_parse_query(copy, m.len, &q);
			if (ret >= 0 && ret != ZT_DNS_RCODE_NOTIMP)
				assert_true(zt_dns_build_error(&q, ZT_DNS_RCODE_SERVFAIL, out,
							       sizeof(out)) > 0);
			free(copy);
		}
	}
}

/* An upstream answer: NAME CNAME TARGET, then TARGET's records. */
static void upstream(struct msg *r, uint16_t ancount_extra)
{
	header(r, 0x9999, ZT_DNS_F_QR | ZT_DNS_F_RD | ZT_DNS_F_RA, 1, (uint16_t)(1 + ancount_extra),
	       0, 0);
	add_name(r, "evil.example");
	add16(r, ZT_DNS_T_A);
	add16(r, 1);
	add16(r, 0xc00c);
	add16(r, ZT_DNS_T_CNAME);
	add16(r, 1);
	add32(r, 60);
	add16(r, 5);
	add(r, "\x02" "x1", 3);
	add16(r, 0xc00c);		/* x1.evil.example */
}

static void add_rr(struct msg *r, uint16_t type, const void *rdata, uint16_t rdlen)
{
	add16(r, 0xc00c);
	add16(r, type);
	add16(r, 1);
	add32(r, 300);
	add16(r, rdlen);
	add(r, rdata, rdlen);
}

static void test_rebinding_guard(void **state)
{
	struct zt_prefix fake, v6;
	uint8_t a[4], a6[16];
	char err[128];

	(void)state;
	assert_int_equal(zt_prefix_parse("100.96.0.0/12", &fake, err, sizeof(err)), 0);
	assert_int_equal(zt_prefix_parse("fd00::/8", &v6, err, sizeof(err)), 0);

	upstream(&m, 1);
	inet_pton(AF_INET, "93.184.216.34", a);
	add_rr(&m, ZT_DNS_T_A, a, 4);
	assert_int_equal(zt_dns_answer_in_prefix(m.b, m.len, &fake), 0);

	upstream(&m, 2);
	add_rr(&m, ZT_DNS_T_A, a, 4);
	inet_pton(AF_INET, "100.111.255.254", a);
	add_rr(&m, ZT_DNS_T_A, a, 4);
	assert_int_equal(zt_dns_answer_in_prefix(m.b, m.len, &fake), 1);
	/* Just outside: 100.95.0.251 and 100.112.0.1. */
	upstream(&m, 2);
	inet_pton(AF_INET, "100.95.0.251", a);
	add_rr(&m, ZT_DNS_T_A, a, 4);
	inet_pton(AF_INET, "100.112.0.1", a);
	add_rr(&m, ZT_DNS_T_A, a, 4);
	assert_int_equal(zt_dns_answer_in_prefix(m.b, m.len, &fake), 0);

	/* AAAA: an IPv4-mapped fake address counts, a real v6 one does not. */
	upstream(&m, 1);
	inet_pton(AF_INET6, "::ffff:100.96.3.4", a6);
	add_rr(&m, ZT_DNS_T_AAAA, a6, 16);
	assert_int_equal(zt_dns_answer_in_prefix(m.b, m.len, &fake), 1);
	upstream(&m, 1);
	inet_pton(AF_INET6, "fd12::1", a6);
	add_rr(&m, ZT_DNS_T_AAAA, a6, 16);
	assert_int_equal(zt_dns_answer_in_prefix(m.b, m.len, &fake), 0);
	assert_int_equal(zt_dns_answer_in_prefix(m.b, m.len, &v6), 1);
	/* B2: several prefixes (fake range, IP resources): the first one hit, 1-based. */
	{
		struct zt_prefix g[3] = { fake };

		assert_int_equal(zt_prefix_parse("198.18.5.0/24", &g[1], err, sizeof(err)), 0);
		g[2] = v6;
		assert_int_equal(zt_dns_answer_in_prefixes(m.b, m.len, g, 3), 3);
		assert_int_equal(zt_dns_answer_in_prefixes(m.b, m.len, g, 2), 0);
		upstream(&m, 2);
		inet_pton(AF_INET, "93.184.216.34", a);
		add_rr(&m, ZT_DNS_T_A, a, 4);
		inet_pton(AF_INET, "198.18.5.5", a);
		add_rr(&m, ZT_DNS_T_A, a, 4);
		assert_int_equal(zt_dns_answer_in_prefixes(m.b, m.len, g, 3), 2);
		assert_int_equal(zt_dns_answer_in_prefixes(m.b, m.len, g, 1), 0);
		assert_int_equal(zt_dns_answer_in_prefixes(m.b, m.len, g, 0), 0);
		upstream(&m, 1);
		inet_pton(AF_INET6, "fd12::1", a6);
		add_rr(&m, ZT_DNS_T_AAAA, a6, 16);
	}

	/* Malformed: record cut short, count larger than the records. */
	upstream(&m, 1);
	inet_pton(AF_INET, "100.96.0.1", a);
	add_rr(&m, ZT_DNS_T_A, a, 4);
	assert_int_equal(zt_dns_answer_in_prefix(m.b, m.len - 1, &fake), -EBADMSG);
	/* (A hit before the damage is reported as a hit: unsafe either way.) */
	m.b[7] = 5;
	assert_int_equal(zt_dns_answer_in_prefix(m.b, m.len, &fake), 1);
	upstream(&m, 1);
	inet_pton(AF_INET, "10.0.0.1", a);
	add_rr(&m, ZT_DNS_T_A, a, 4);
	m.b[7] = 5;
	assert_int_equal(zt_dns_answer_in_prefix(m.b, m.len, &fake), -EBADMSG);
	assert_int_equal(zt_dns_answer_in_prefix(m.b, 5, &fake), -EBADMSG);
	/* A compression loop in an answer name. */
	header(&m, 1, ZT_DNS_F_QR, 0, 1, 0, 0);
	add16(&m, 0xc00c);
	add16(&m, ZT_DNS_T_A);
	add16(&m, 1);
	add32(&m, 1);
	add16(&m, 4);
	add(&m, a, 4);
	assert_int_equal(zt_dns_answer_in_prefix(m.b, m.len, &fake), -EBADMSG);
}

static void test_names(void **state)
{
	char out_name[ZT_DNS_NAME_TEXT_MAX], err[256], long_name[300];

	(void)state;
	assert_int_equal(zt_dns_name_normalize("NAS.Home.Int.", out_name, sizeof(out_name), err,
					       sizeof(err)), 0);
	assert_string_equal(out_name, "nas.home.int");
	assert_int_equal(zt_dns_name_normalize("*.Home.int", out_name, sizeof(out_name), err,
					       sizeof(err)), 0);
	assert_string_equal(out_name, "*.home.int");
	assert_int_equal(zt_dns_name_normalize("_sip._tcp.x-y.int", out_name, sizeof(out_name),
					       err, sizeof(err)), 0);

	assert_int_equal(zt_dns_name_normalize("a..b", out_name, sizeof(out_name), err,
					       sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty label"));
	assert_int_equal(zt_dns_name_normalize("", out_name, sizeof(out_name), err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(zt_dns_name_normalize(".", out_name, sizeof(out_name), err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(zt_dns_name_normalize("*", out_name, sizeof(out_name), err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(zt_dns_name_normalize("a.*.int", out_name, sizeof(out_name), err,
					       sizeof(err)), -EINVAL);
	assert_int_equal(zt_dns_name_normalize("*a.int", out_name, sizeof(out_name), err,
					       sizeof(err)), -EINVAL);
	assert_int_equal(zt_dns_name_normalize("a b.int", out_name, sizeof(out_name), err,
					       sizeof(err)), -EINVAL);
	memset(long_name, 'a', 64);
	strcpy(long_name + 64, ".int");
	assert_int_equal(zt_dns_name_normalize(long_name, out_name, sizeof(out_name), err,
					       sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "63"));
	memset(long_name, 'a', sizeof(long_name));
	for (int i = 63; i < 299; i += 64)
		long_name[i] = '.';
	long_name[254] = '\0';
	assert_int_equal(zt_dns_name_normalize(long_name, out_name, sizeof(out_name), err,
					       sizeof(err)), -EINVAL);
	assert_int_equal(zt_dns_name_normalize("a.int", out_name, 5, err, sizeof(err)), -EINVAL);

	assert_true(zt_dns_name_is_below("nas.home.int", "home.int"));
	assert_true(zt_dns_name_is_below("a.b.home.int", "home.int"));
	assert_false(zt_dns_name_is_below("home.int", "home.int"));
	assert_false(zt_dns_name_is_below("nashome.int", "home.int"));
	assert_false(zt_dns_name_is_below("a\\.home.int", "home.int"));
	assert_true(zt_dns_name_is_below("a\\\\.home.int", "home.int"));
	assert_true(zt_dns_name_is_below("int", ""));
	assert_false(zt_dns_name_is_below("", ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_plain_query),
		cmocka_unit_test(test_build_a_roundtrip),
		cmocka_unit_test(test_edns),
		cmocka_unit_test(test_edns_malformed),
		cmocka_unit_test(test_malformed_queries),
		cmocka_unit_test(test_truncations_and_flips),
		cmocka_unit_test(test_rebinding_guard),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
