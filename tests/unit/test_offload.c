// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests: TUN offloads (daemon/netdev/offload.c) and lib/csum.c. Every
 * checksum is checked against the byte-at-a-time RFC 1071 sum of
 * tests/unit/ref_csum.h; segments are compared field by field with what
 * the super-packet said; a coalesced run is cut again and must give back
 * the very packets it was made of.
 */
#include <arpa/inet.h>
#include <endian.h>
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
#include "lib/csum.h"
#include "netdev/offload.h"
#include "tests/unit/ref_csum.h"

/* ---- the reference: checksums from scratch ---- */

/* The TCP/UDP pseudo-header sum of IP packet PKT for L4LEN bytes of PROTO. */
static uint32_t ref_pseudo(const uint8_t *pkt, uint8_t proto, size_t l4len)
{
	uint32_t s = pkt[0] >> 4 == 4 ? ref_add(0, pkt + 12, 8) : ref_add(0, pkt + 8, 32);

	return s + proto + (uint32_t)l4len;
}

static bool ip4_csum_ok(const uint8_t *pkt)
{
	return ref_fold(ref_add(0, pkt, (size_t)(pkt[0] & 0xf) * 4)) == 0xffff;
}

static bool l4_csum_ok(const uint8_t *pkt, size_t len, size_t l4off, uint8_t proto)
{
	return ref_fold(ref_add(ref_pseudo(pkt, proto, len - l4off), pkt + l4off, len - l4off)) ==
	       0xffff;
}

/* ---- building packets ---- */

static void fill(uint8_t *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 131 + seed * 7 + (i >> 8)) ^ 0x5a);
}

/* A TCP/IPv4 header (20 + 20 + OPTLEN bytes) at P for PAYLEN payload bytes. */
static size_t tcp4_hdr(uint8_t *p, size_t optlen, size_t paylen, uint16_t id, uint32_t seq,
		       uint8_t flags)
{
	size_t thl = 20 + optlen;

	memset(p, 0, 20 + thl);
	p[0] = 0x45;
	p[1] = 0x02;			/* ECT(0) */
	zt_put_be16(p + 2, (uint16_t)(20 + thl + paylen));
	zt_put_be16(p + 4, id);
	p[6] = 0x40;			/* DF */
	p[8] = 64;
	p[9] = IPPROTO_TCP;
	inet_pton(AF_INET, "100.64.0.2", p + 12);
	inet_pton(AF_INET, "10.10.0.5", p + 16);
	zt_put_be16(p + 20, 43210);
	zt_put_be16(p + 22, 5201);
	zt_put_be32(p + 24, seq);
	zt_put_be32(p + 28, 0xa0b0c0d0);	/* ack */
	p[32] = (uint8_t)(thl / 4) << 4;
	p[33] = flags;
	zt_put_be16(p + 34, 502);		/* window */
	for (size_t i = 0; i < optlen; i++)
		p[40 + i] = i < 2 ? (uint8_t[]){ 1, 1 }[i] : (uint8_t)(8 + i);	/* NOP NOP, TS-ish */
	return 20 + thl;
}

/* Fill in both checksums of a complete TCP/IPv4 packet. */
static void tcp4_finish(uint8_t *p, size_t len)
{
	zt_put_be16(p + 10, 0);
	zt_put_be16(p + 10, (uint16_t)~ref_fold(ref_add(0, p, 20)));
	zt_put_be16(p + 36, 0);
	zt_put_be16(p + 36, (uint16_t)~ref_fold(ref_add(ref_pseudo(p, IPPROTO_TCP, len - 20), p + 20,
						  len - 20)));
}

struct collected {
	uint8_t *pkt[128];
	size_t len[128];
	size_t n;
};

static void collect(const uint8_t *pkt, size_t len, void *ctx)
{
	struct collected *c = ctx;

	assert_true(c->n < 128);
	c->pkt[c->n] = malloc(len);
	assert_non_null(c->pkt[c->n]);
	memcpy(c->pkt[c->n], pkt, len);
	c->len[c->n++] = len;
}

static void collected_free(struct collected *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->pkt[i]);
	c->n = 0;
}

/* A heap buffer of exactly LEN bytes holding DATA: ASan sees one byte out. */
static uint8_t *exact(const void *data, size_t len)
{
	uint8_t *b = malloc(len);

	assert_non_null(b);
	memcpy(b, data, len);
	return b;
}

/* ---- checksum ---- */

static void test_csum_matches_reference(void **state)
{
	uint8_t buf[3000];

	(void)state;
	fill(buf, sizeof(buf), 3);
	for (size_t off = 0; off < 16; off += 2)
		for (size_t len = 0; len < 300; len++)
			assert_int_equal(zt_csum_add(0, buf + off, len),
					 ref_fold(ref_add(0, buf + off, len)));
	/* Carries out of 64 bits: all ones. */
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(zt_csum_add(0, buf, sizeof(buf)), ref_fold(ref_add(0, buf, sizeof(buf))));
	assert_int_equal(zt_csum_add(0x1234, buf, 7), ref_fold(ref_add(0x1234, buf, 7)));
}

/* ---- splitting ---- */

/* The kernel's TSO packet: one header, PAYLEN bytes, a partial checksum. */
static size_t tso4(uint8_t *buf, size_t optlen, size_t paylen, uint16_t gso, uint8_t flags,
		   uint32_t seq)
{
	struct virtio_net_hdr vh = { 0 };
	uint8_t *p = buf + ZT_VNET_HDR_LEN;
	size_t hl = tcp4_hdr(p, optlen, paylen, 0xfffe, seq, flags), len = hl + paylen;

	fill(p + hl, paylen, 1);
	zt_put_be16(p + 10, (uint16_t)~ref_fold(ref_add(0, p, 20)));
	zt_put_be16(p + 36, ref_fold(ref_pseudo(p, IPPROTO_TCP, len - 20)));
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	vh.hdr_len = htole16((uint16_t)hl);
	vh.gso_size = htole16(gso);
	vh.csum_start = htole16(20);
	vh.csum_offset = htole16(16);
	memcpy(buf, &vh, sizeof(vh));
	return ZT_VNET_HDR_LEN + len;
}

static void test_split_tcp4(void **state)
{
	uint8_t src[ZT_VNET_HDR_LEN + 4000], *buf;
	const size_t optlen = 12, paylen = 3500, gso = 1000, hl = 40 + optlen;
	const uint32_t seq0 = 0xfffffe00;	/* wraps inside the run */
	struct collected c = { 0 };
	size_t len = tso4(src, optlen, paylen, gso, 0x10 | 0x08 | 0x01 | 0x80 /* ACK PSH FIN CWR */,
			  seq0);
	const uint8_t *orig = src + ZT_VNET_HDR_LEN;

	(void)state;
	buf = exact(src, len);
	assert_int_equal(zt_offload_split(buf, len, collect, &c), 4);
	assert_int_equal(c.n, 4);
	for (size_t i = 0; i < c.n; i++) {
		const uint8_t *s = c.pkt[i];
		size_t seglen = i < 3 ? gso : paylen - 3 * gso;
		uint8_t want = 0x10 | (i == 3 ? 0x08 | 0x01 : 0) | (i == 0 ? 0x80 : 0);

		assert_int_equal(c.len[i], hl + seglen);
		assert_int_equal(zt_get_be16(s + 2), hl + seglen);
		assert_int_equal(zt_get_be16(s + 4), (uint16_t)(0xfffe + i));	/* ids go on, wrapping */
		assert_true(ip4_csum_ok(s));
		assert_int_equal(zt_get_be32(s + 24), (uint32_t)(seq0 + i * gso));
		assert_int_equal(s[33], want);
		assert_true(l4_csum_ok(s, c.len[i], 20, IPPROTO_TCP));
		/* Everything else as the super-packet had it. */
		assert_memory_equal(s + 12, orig + 12, 12);		/* addresses, ports */
		assert_memory_equal(s + 28, orig + 28, 4);		/* ack */
		assert_memory_equal(s + 34, orig + 34, 2);		/* window */
		assert_memory_equal(s + 40, orig + 40, optlen);		/* options */
		assert_memory_equal(s + hl, orig + hl + i * gso, seglen);
	}
	collected_free(&c);
	free(buf);
}

static void test_split_tcp6(void **state)
{
	uint8_t src[ZT_VNET_HDR_LEN + 3000], *p = src + ZT_VNET_HDR_LEN, *buf;
	struct virtio_net_hdr vh = { 0 };
	const size_t paylen = 2001, gso = 1400, hl = 60;
	struct collected c = { 0 };
	size_t len = ZT_VNET_HDR_LEN + hl + paylen;

	(void)state;
	memset(p, 0, hl);
	p[0] = 0x60;
	zt_put_be16(p + 4, (uint16_t)(20 + paylen));
	p[6] = IPPROTO_TCP;
	p[7] = 64;
	inet_pton(AF_INET6, "fd00::2", p + 8);
	inet_pton(AF_INET6, "fd00:1::5", p + 24);
	zt_put_be16(p + 40, 40000);
	zt_put_be16(p + 42, 80);
	zt_put_be32(p + 44, 1000);
	p[52] = 5 << 4;
	p[53] = 0x18;	/* ACK PSH */
	fill(p + hl, paylen, 2);
	zt_put_be16(p + 56, ref_fold(ref_pseudo(p, IPPROTO_TCP, 20 + paylen)));
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	vh.gso_size = htole16(gso);
	vh.csum_start = htole16(40);
	vh.csum_offset = htole16(16);
	memcpy(src, &vh, sizeof(vh));
	buf = exact(src, len);
	assert_int_equal(zt_offload_split(buf, len, collect, &c), 2);
	for (size_t i = 0; i < 2; i++) {
		size_t seglen = i ? paylen - gso : gso;

		assert_int_equal(c.len[i], hl + seglen);
		assert_int_equal(zt_get_be16(c.pkt[i] + 4), 20 + seglen);
		assert_int_equal(zt_get_be32(c.pkt[i] + 44), 1000 + i * gso);
		assert_int_equal(c.pkt[i][53], i ? 0x18 : 0x10);
		assert_true(l4_csum_ok(c.pkt[i], c.len[i], 40, IPPROTO_TCP));
		assert_memory_equal(c.pkt[i] + hl, p + hl + i * gso, seglen);
	}
	collected_free(&c);
	free(buf);
}

/* No GSO, a partial checksum (UDP here): completed; without the flag: untouched. */
static void test_split_completes_checksum(void **state)
{
	uint8_t src[ZT_VNET_HDR_LEN + 128], *p = src + ZT_VNET_HDR_LEN, *buf;
	struct virtio_net_hdr vh = { 0 };
	const size_t len = 20 + 8 + 37;
	struct collected c = { 0 };

	(void)state;
	memset(p, 0, 28);
	p[0] = 0x45;
	zt_put_be16(p + 2, len);
	p[8] = 64;
	p[9] = IPPROTO_UDP;
	inet_pton(AF_INET, "100.64.0.2", p + 12);
	inet_pton(AF_INET, "10.10.0.5", p + 16);
	zt_put_be16(p + 10, (uint16_t)~ref_fold(ref_add(0, p, 20)));
	zt_put_be16(p + 20, 5353);
	zt_put_be16(p + 22, 7);
	zt_put_be16(p + 24, len - 20);
	fill(p + 28, len - 28, 9);
	zt_put_be16(p + 26, ref_fold(ref_pseudo(p, IPPROTO_UDP, len - 20)));
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.csum_start = htole16(20);
	vh.csum_offset = htole16(6);
	memcpy(src, &vh, sizeof(vh));
	buf = exact(src, ZT_VNET_HDR_LEN + len);
	assert_int_equal(zt_offload_split(buf, ZT_VNET_HDR_LEN + len, collect, &c), 1);
	assert_int_equal(c.len[0], len);
	assert_true(l4_csum_ok(c.pkt[0], len, 20, IPPROTO_UDP));
	assert_memory_equal(c.pkt[0] + 28, p + 28, len - 28);
	collected_free(&c);
	free(buf);

	/* No flag: passed through as it is. */
	memset(src, 0, ZT_VNET_HDR_LEN);
	buf = exact(src, ZT_VNET_HDR_LEN + len);
	assert_int_equal(zt_offload_split(buf, ZT_VNET_HDR_LEN + len, collect, &c), 1);
	assert_memory_equal(c.pkt[0], p, len);
	collected_free(&c);
	free(buf);
}

static void test_split_refuses_nonsense(void **state)
{
	uint8_t src[ZT_VNET_HDR_LEN + 4000], *buf;
	struct virtio_net_hdr *vh = (struct virtio_net_hdr *)src;
	struct collected c = { 0 };
	size_t len;

	(void)state;
	len = tso4(src, 0, 3000, 1000, 0x10, 1);
	/* csum_start not the IP header length */
	vh->csum_start = htole16(24);
	buf = exact(src, len);
	assert_int_equal(zt_offload_split(buf, len, collect, &c), -EINVAL);
	free(buf);
	/* gso_size 0 */
	len = tso4(src, 0, 3000, 0, 0x10, 1);
	buf = exact(src, len);
	assert_int_equal(zt_offload_split(buf, len, collect, &c), -EINVAL);
	free(buf);
	/* UDP fragmentation offload: never asked for */
	len = tso4(src, 0, 3000, 1000, 0x10, 1);
	vh->gso_type = VIRTIO_NET_HDR_GSO_UDP;	/* (UFO) */
	buf = exact(src, len);
	assert_int_equal(zt_offload_split(buf, len, collect, &c), -EINVAL);
	free(buf);
	/* truncated inside the TCP header */
	len = tso4(src, 0, 3000, 1000, 0x10, 1);
	buf = exact(src, ZT_VNET_HDR_LEN + 30);
	assert_int_equal(zt_offload_split(buf, ZT_VNET_HDR_LEN + 30, collect, &c), -EINVAL);
	free(buf);
	/* a partial checksum pointing past the end */
	memset(src, 0, ZT_VNET_HDR_LEN);
	vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh->csum_start = htole16(20);
	vh->csum_offset = htole16(16);
	buf = exact(src, ZT_VNET_HDR_LEN + 30);
	assert_int_equal(zt_offload_split(buf, ZT_VNET_HDR_LEN + 30, collect, &c), -EINVAL);
	free(buf);
	assert_int_equal(zt_offload_split(src, 5, collect, &c), -EINVAL);
	assert_int_equal(c.n, 0);
}

/* ---- coalescing ---- */

struct run {
	uint8_t *pkt[80];
	struct iovec iov[80];
	size_t n;
};

/* N consecutive segments of PAYLEN bytes (the last LASTLEN), PSH on the last. */
static void make_run(struct run *r, size_t n, size_t paylen, size_t lastlen)
{
	uint32_t seq = 0xffffff00;

	r->n = n;
	for (size_t i = 0; i < n; i++) {
		size_t pl = i + 1 == n ? lastlen : paylen;
		uint8_t tmp[2000];
		size_t hl = tcp4_hdr(tmp, 12, pl, (uint16_t)(7 + i), seq,
				     0x10 | (i + 1 == n ? 0x08 : 0));

		fill(tmp + hl, pl, (unsigned int)i);
		tcp4_finish(tmp, hl + pl);
		r->pkt[i] = exact(tmp, hl + pl);
		r->iov[i] = (struct iovec){ .iov_base = r->pkt[i], .iov_len = hl + pl };
		seq += (uint32_t)pl;
	}
}

static void run_free(struct run *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->pkt[i]);
}

/* A run merged and cut again gives back its packets, byte for byte. */
static void test_coalesce_round_trip(void **state)
{
	uint8_t hdr[ZT_OFFLOAD_HDR_MAX], *super;
	struct virtio_net_hdr vh;
	struct collected c = { 0 };
	struct run r;
	size_t hl, count, len, off;

	(void)state;
	make_run(&r, 5, 1368, 700);
	count = zt_offload_coalesce(r.iov, r.n, &vh, hdr, &hl);
	assert_int_equal(count, 5);
	assert_int_equal(hl, 52);
	assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(le16toh(vh.gso_size), 1368);
	assert_int_equal(le16toh(vh.hdr_len), 52);
	assert_int_equal(le16toh(vh.csum_start), 20);
	assert_int_equal(le16toh(vh.csum_offset), 16);
	assert_true(ip4_csum_ok(hdr));
	assert_int_equal(zt_get_be16(hdr + 2), 52 + 4 * 1368 + 700);
	assert_int_equal(hdr[33], 0x18);	/* the last one's PSH */

	/* What the kernel would get: vnet header, our header, the payloads. */
	len = ZT_VNET_HDR_LEN + hl + 4 * 1368 + 700;
	super = malloc(len);
	assert_non_null(super);
	memcpy(super, &vh, sizeof(vh));
	memcpy(super + ZT_VNET_HDR_LEN, hdr, hl);
	off = ZT_VNET_HDR_LEN + hl;
	for (size_t i = 0; i < r.n; i++) {
		memcpy(super + off, r.pkt[i] + hl, r.iov[i].iov_len - hl);
		off += r.iov[i].iov_len - hl;
	}
	assert_int_equal(zt_offload_split(super, len, collect, &c), 5);
	for (size_t i = 0; i < r.n; i++) {
		assert_int_equal(c.len[i], r.iov[i].iov_len);
		assert_memory_equal(c.pkt[i], r.pkt[i], c.len[i]);
	}
	collected_free(&c);
	free(super);
	run_free(&r);
}

static void test_coalesce_stops(void **state)
{
	uint8_t hdr[ZT_OFFLOAD_HDR_MAX];
	struct virtio_net_hdr vh;
	size_t hl;
	struct run r;

	(void)state;
	/* One packet: nothing to merge, no offload. */
	make_run(&r, 1, 1000, 1000);
	assert_int_equal(zt_offload_coalesce(r.iov, 1, &vh, hdr, &hl), 1);
	assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	assert_int_equal(vh.flags, 0);
	run_free(&r);

	/* A wrong TCP checksum in the third: the run is the first two. */
	make_run(&r, 5, 1000, 1000);
	r.pkt[2][100] ^= 1;
	assert_int_equal(zt_offload_coalesce(r.iov, r.n, &vh, hdr, &hl), 2);
	/* ... in the first: nothing merged. */
	r.pkt[0][100] ^= 1;
	assert_int_equal(zt_offload_coalesce(r.iov, r.n, &vh, hdr, &hl), 1);
	run_free(&r);

	/* A gap in the sequence. */
	make_run(&r, 4, 1000, 1000);
	zt_put_be32(r.pkt[2] + 24, zt_get_be32(r.pkt[2] + 24) + 1);
	tcp4_finish(r.pkt[2], r.iov[2].iov_len);
	assert_int_equal(zt_offload_coalesce(r.iov, r.n, &vh, hdr, &hl), 2);
	run_free(&r);

	/* Another flow (port), a different ack, a SYN, a PSH in the middle. */
	for (int k = 0; k < 4; k++) {
		make_run(&r, 4, 1000, 1000);
		if (k == 0)
			zt_put_be16(r.pkt[1] + 20, 1);
		else if (k == 1)
			zt_put_be32(r.pkt[1] + 28, 5);
		else if (k == 2)
			r.pkt[1][33] |= 0x02;
		else
			r.pkt[1][33] |= 0x08;
		tcp4_finish(r.pkt[1], r.iov[1].iov_len);
		assert_int_equal(zt_offload_coalesce(r.iov, r.n, &vh, hdr, &hl), k == 3 ? 2 : 1);
		run_free(&r);
	}

	/* A segment longer than the first cannot follow it; a shorter one ends the run. */
	make_run(&r, 3, 1000, 1001);
	assert_int_equal(zt_offload_coalesce(r.iov, r.n, &vh, hdr, &hl), 2);
	run_free(&r);
	make_run(&r, 4, 1000, 1000);
	free(r.pkt[1]);
	{
		uint8_t tmp[2000];
		size_t h = tcp4_hdr(tmp, 12, 500, 8, zt_get_be32(r.pkt[0] + 24) + 1000, 0x10);

		fill(tmp + h, 500, 1);
		tcp4_finish(tmp, h + 500);
		r.pkt[1] = exact(tmp, h + 500);
		r.iov[1] = (struct iovec){ .iov_base = r.pkt[1], .iov_len = h + 500 };
	}
	assert_int_equal(zt_offload_coalesce(r.iov, r.n, &vh, hdr, &hl), 2);
	run_free(&r);

	/* No more than 64 KB: 1380-byte segments stop at 47. */
	make_run(&r, 60, 1380, 1380);
	assert_int_equal(zt_offload_coalesce(r.iov, r.n, &vh, hdr, &hl), 47);
	assert_true(zt_get_be16(hdr + 2) <= 65535);
	run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_matches_reference),
		cmocka_unit_test(test_split_tcp4),
		cmocka_unit_test(test_split_tcp6),
		cmocka_unit_test(test_split_completes_checksum),
		cmocka_unit_test(test_split_refuses_nonsense),
		cmocka_unit_test(test_coalesce_round_trip),
		cmocka_unit_test(test_coalesce_stops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
