// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests: the answer cache for forwarded names. Queries are real wire
 * queries run through the server's parser; answers are built the way an
 * upstream writes them.
 */
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

#include "lib/bytes.h"
#include "dns/cache.h"
#include "dns/codec.h"

struct msg {
	uint8_t b[8192];
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

/* EDNS0 OPT: UDP size, DO, and OPTLEN bytes of one option when non-zero. */
static void add_opt(struct msg *m, uint16_t udp, bool dnssec_ok, uint16_t optlen)
{
	add8(m, 0);
	add16(m, ZT_DNS_T_OPT);
	add16(m, udp);
	add32(m, dnssec_ok ? 0x8000 : 0);
	if (!optlen) {
		add16(m, 0);
		return;
	}
	add16(m, (uint16_t)(4 + optlen));
	add16(m, 10);			/* COOKIE */
	add16(m, optlen);
	for (uint16_t i = 0; i < optlen; i++)
		add8(m, (uint8_t)i);
}

/* How a query is asked: the parts the key depends on. */
struct ask {
	const char *name;
	uint16_t id;
	uint16_t qtype;
	uint16_t qclass;
	uint16_t flags;			/* RD, CD */
	bool edns;
	uint16_t udp;
	bool dnssec_ok;
	uint16_t optlen;
};

/* ASK(.field = value...) overrides the defaults it lists first, on purpose. */
#pragma GCC diagnostic ignored "-Woverride-init"
#define ASK(...) ((struct ask){ .name = "www.example.test", .id = 1, .qtype = ZT_DNS_T_A, \
				.qclass = ZT_DNS_CLASS_IN, .flags = ZT_DNS_F_RD, .udp = 1232, \
				__VA_ARGS__ })

static void parse(const struct ask *a, struct zt_dns_query *q)
{
	struct msg m;

	header(&m, a->id, a->flags, 1, 0, 0, a->edns ? 1 : 0);
	add_name(&m, a->name);
	add16(&m, a->qtype);
	add16(&m, a->qclass);
	if (a->edns)
		add_opt(&m, a->udp, a->dnssec_ok, a->optlen);
	assert_int_equal(zt_dns_parse_query(m.b, m.len, q), ZT_DNS_RCODE_NOERROR);
}

/*
 * An upstream's answer to A: RCODE, ANSWERS A records with TTLs TTL[i]
 * (owner: a pointer to the question), then an SOA in the authority
 * section when SOA_TTL is non-zero, then OPT when A asked with EDNS.
 */
static void answer(const struct ask *a, uint16_t extra_flags, unsigned int answers,
		   const uint32_t *ttl, uint32_t soa_ttl, uint32_t soa_minimum, struct msg *m)
{
	unsigned int i;

	header(m, 0x4242, (uint16_t)(ZT_DNS_F_QR | ZT_DNS_F_RA | a->flags | extra_flags), 1,
	       (uint16_t)answers, soa_ttl ? 1 : 0, a->edns ? 1 : 0);
	add_name(m, a->name);
	add16(m, a->qtype);
	add16(m, a->qclass);
	for (i = 0; i < answers; i++) {
		add16(m, 0xc000 | ZT_DNS_HEADER_LEN);
		add16(m, ZT_DNS_T_A);
		add16(m, ZT_DNS_CLASS_IN);
		add32(m, ttl[i]);
		add16(m, 4);
		add32(m, 0xc6120900 + i);	/* 198.18.9.x */
	}
	if (soa_ttl) {
		add16(m, 0xc000 | ZT_DNS_HEADER_LEN);
		add16(m, ZT_DNS_T_SOA);
		add16(m, ZT_DNS_CLASS_IN);
		add32(m, soa_ttl);
		add16(m, 2 + 20);
		add8(m, 0);			/* MNAME, RNAME: the root */
		add8(m, 0);
		add32(m, 2024010101);
		add32(m, 3600);
		add32(m, 600);
		add32(m, 86400);
		add32(m, soa_minimum);
	}
	if (a->edns)
		add_opt(m, 1232, a->dnssec_ok, 0);
}

/* The TTL of answer record I in a reply built by answer() for A. */
static uint32_t answer_ttl(const struct ask *a, const uint8_t *msg, unsigned int i)
{
	size_t qlen = strlen(a->name) + 2 + 4;

	return zt_get_be32(msg + ZT_DNS_HEADER_LEN + qlen + i * 16 + 6);
}

static struct zt_dns_cache *new_cache(unsigned int n)
{
	struct zt_dns_cache *c;

	assert_int_equal(zt_dns_cache_new(&c, n), 0);
	return c;
}

static ssize_t lookup(struct zt_dns_cache *c, const struct ask *a, uint64_t now, uint8_t *out)
{
	struct zt_dns_query q;

	parse(a, &q);
	return zt_dns_cache_get(c, &q, now, out, ZT_DNS_CACHE_MSG_MAX);
}

static int store(struct zt_dns_cache *c, const struct ask *a, const struct msg *m, uint64_t now)
{
	struct zt_dns_query q;

	parse(a, &q);
	return zt_dns_cache_put(c, &q, m->b, m->len, now);
}

static void test_ttl_decrement_and_expiry(void **state)
{
	struct zt_dns_cache *c = new_cache(8);
	struct ask a = ASK();
	uint32_t ttl[2] = { 30, 20 };
	uint8_t out[ZT_DNS_CACHE_MSG_MAX];
	struct zt_dns_cache_stats st;
	struct msg m;

	(void)state;
	answer(&a, 0, 2, ttl, 0, 0, &m);
	assert_int_equal(lookup(c, &a, 1000, out), -ENOENT);
	assert_int_equal(store(c, &a, &m, 1000), 0);

	assert_int_equal(lookup(c, &a, 1000, out), (ssize_t)m.len);
	assert_int_equal(answer_ttl(&a, out, 0), 30);
	assert_int_equal(answer_ttl(&a, out, 1), 20);
	/* Whole seconds spent in the cache come off every TTL. */
	assert_int_equal(lookup(c, &a, 6999, out), (ssize_t)m.len);
	assert_int_equal(answer_ttl(&a, out, 0), 25);
	assert_int_equal(answer_ttl(&a, out, 1), 15);
	assert_int_equal(lookup(c, &a, 20999, out), (ssize_t)m.len);
	assert_int_equal(answer_ttl(&a, out, 0), 11);
	assert_int_equal(answer_ttl(&a, out, 1), 1);
	/* The smallest TTL ends the entry. */
	assert_int_equal(lookup(c, &a, 21000, out), -ENOENT);
	zt_dns_cache_get_stats(c, &st);
	assert_int_equal(st.hits, 3);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.entries, 0);
	/* The rest of the message is the upstream's, byte for byte. */
	assert_int_equal(store(c, &a, &m, 50000), 0);
	assert_int_equal(lookup(c, &a, 50000, out), (ssize_t)m.len);
	assert_memory_equal(out + 2, m.b + 2, m.len - 2);
	zt_dns_cache_free(c);
}

static void test_id_and_question_rewrite(void **state)
{
	struct zt_dns_cache *c = new_cache(8);
	struct ask stored = ASK(.id = 7, .name = "www.example.test");
	struct ask asked = ASK(.id = 0xbeef, .name = "WwW.ExAmPle.TEST");
	uint32_t ttl[1] = { 60 };
	uint8_t out[ZT_DNS_CACHE_MSG_MAX];
	size_t qlen = strlen(asked.name) + 2;
	struct msg m;

	(void)state;
	answer(&stored, ZT_DNS_F_AA, 1, ttl, 0, 0, &m);
	assert_int_equal(store(c, &stored, &m, 0), 0);
	assert_int_equal(lookup(c, &asked, 0, out), (ssize_t)m.len);
	assert_int_equal(out[0] << 8 | out[1], 0xbeef);
	/* The question as this client spelled it (DNS 0x20). */
	assert_memory_equal(out + ZT_DNS_HEADER_LEN, "\x03WwW\x07" "ExAmPle\x04TEST", qlen);
	/* Not the authority any more; every other flag as the upstream set it. */
	assert_int_equal(out[2] << 8 | out[3],
			 (m.b[2] << 8 | m.b[3]) & ~ZT_DNS_F_AA);
	assert_memory_equal(out + ZT_DNS_HEADER_LEN + qlen, m.b + ZT_DNS_HEADER_LEN + qlen,
			    m.len - ZT_DNS_HEADER_LEN - qlen);
	zt_dns_cache_free(c);
}

static void test_key_separation(void **state)
{
	struct zt_dns_cache *c = new_cache(64);
	uint32_t ttl[1] = { 60 };
	uint8_t out[ZT_DNS_CACHE_MSG_MAX];
	struct zt_dns_query q;
	struct ask base = ASK(.edns = true, .udp = 1232);
	struct ask other[] = {
		ASK(.edns = true, .udp = 1232, .qtype = ZT_DNS_T_AAAA),
		ASK(.edns = true, .udp = 1232, .qclass = 3),
		ASK(.edns = true, .udp = 1232, .dnssec_ok = true),
		ASK(.edns = true, .udp = 1232, .flags = ZT_DNS_F_RD | ZT_DNS_F_CD),
		ASK(.edns = true, .udp = 1232, .flags = 0),
		ASK(.edns = false),
		ASK(.edns = true, .udp = 512),
		ASK(.edns = true, .udp = 4096),
		ASK(.edns = true, .udp = 1232, .name = "www.example.tes"),
		ASK(.edns = true, .udp = 1232, .name = "ww.example.test"),
	};
	struct msg m;
	unsigned int i;

	(void)state;
	answer(&base, 0, 1, ttl, 0, 0, &m);
	assert_int_equal(store(c, &base, &m, 0), 0);
	assert_int_equal(lookup(c, &base, 0, out), (ssize_t)m.len);
	/* Same size class (1232-4095): the same entry. */
	assert_int_equal(lookup(c, &ASK(.edns = true, .udp = 1400), 0, out), (ssize_t)m.len);
	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		assert_int_equal(lookup(c, &other[i], 0, out), -ENOENT);

	/* Each of them keeps an answer of its own. */
	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		uint32_t t[1] = { 100 + i };

		answer(&other[i], 0, 1, t, 0, 0, &m);
		assert_int_equal(store(c, &other[i], &m, 0), 0);
	}
	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		assert_true(lookup(c, &other[i], 0, out) > 0);
		assert_int_equal(answer_ttl(&other[i], out, 0), 100 + i);
	}
	assert_true(lookup(c, &base, 0, out) > 0);
	assert_int_equal(answer_ttl(&base, out, 0), 60);

	/* EDNS options are per client: such queries are neither served nor stored. */
	struct ask cookie = ASK(.edns = true, .udp = 1232, .optlen = 8);

	parse(&cookie, &q);
	assert_false(zt_dns_cache_query_cacheable(&q));
	assert_int_equal(lookup(c, &cookie, 0, out), -ENOENT);
	answer(&cookie, 0, 1, ttl, 0, 0, &m);
	assert_int_equal(store(c, &cookie, &m, 0), -EAGAIN);
	zt_dns_cache_free(c);
}

static void test_not_cached(void **state)
{
	struct zt_dns_cache *c = new_cache(8);
	struct ask a = ASK();
	uint32_t ttl[1] = { 60 }, zero[2] = { 60, 0 };
	uint8_t out[ZT_DNS_CACHE_MSG_MAX];
	struct zt_dns_cache_stats st;
	struct msg m;

	(void)state;
	answer(&a, ZT_DNS_RCODE_SERVFAIL, 0, NULL, 0, 0, &m);
	assert_int_equal(store(c, &a, &m, 0), -EAGAIN);
	answer(&a, ZT_DNS_RCODE_REFUSED, 0, NULL, 0, 0, &m);
	assert_int_equal(store(c, &a, &m, 0), -EAGAIN);
	answer(&a, ZT_DNS_RCODE_SERVFAIL, 0, NULL, 300, 300, &m);
	assert_int_equal(store(c, &a, &m, 0), -EAGAIN);
	answer(&a, ZT_DNS_F_TC, 1, ttl, 0, 0, &m);
	assert_int_equal(store(c, &a, &m, 0), -EAGAIN);
	answer(&a, 0, 2, zero, 0, 0, &m);
	assert_int_equal(store(c, &a, &m, 0), -EAGAIN);
	/* Negative answers without an SOA: no TTL to go by. */
	answer(&a, ZT_DNS_RCODE_NXDOMAIN, 0, NULL, 0, 0, &m);
	assert_int_equal(store(c, &a, &m, 0), -EAGAIN);
	answer(&a, 0, 0, NULL, 0, 0, &m);
	assert_int_equal(store(c, &a, &m, 0), -EAGAIN);
	/* Not a response. */
	answer(&a, 0, 1, ttl, 0, 0, &m);
	m.b[2] &= (uint8_t)~(ZT_DNS_F_QR >> 8);
	assert_int_equal(store(c, &a, &m, 0), -EAGAIN);
	/* Another question, a broken message, trailing bytes. */
	answer(&ASK(.name = "other.example.test"), 0, 1, ttl, 0, 0, &m);
	assert_int_equal(store(c, &a, &m, 0), -EBADMSG);
	answer(&ASK(.qtype = ZT_DNS_T_AAAA), 0, 1, ttl, 0, 0, &m);
	assert_int_equal(store(c, &a, &m, 0), -EBADMSG);
	answer(&a, 0, 1, ttl, 0, 0, &m);
	m.len--;
	assert_int_equal(store(c, &a, &m, 0), -EBADMSG);
	m.len += 2;
	assert_int_equal(store(c, &a, &m, 0), -EBADMSG);
	/* Larger than an entry may be. */
	{
		uint32_t many[300];

		for (unsigned int i = 0; i < 300; i++)
			many[i] = 60;
		answer(&a, 0, 300, many, 0, 0, &m);
		assert_true(m.len > ZT_DNS_CACHE_MSG_MAX);
		assert_int_equal(store(c, &a, &m, 0), -EAGAIN);
	}
	zt_dns_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.stored, 0);
	assert_int_equal(lookup(c, &a, 0, out), -ENOENT);
	zt_dns_cache_free(c);
}

static void test_negative_and_caps(void **state)
{
	struct zt_dns_cache *c = new_cache(8);
	struct ask nx = ASK(.name = "nope.example.test");
	struct ask nodata = ASK(.qtype = ZT_DNS_T_AAAA);
	struct ask big = ASK(.name = "big.example.test");
	struct ask bigneg = ASK(.name = "gone.example.test");
	uint32_t day[1] = { 86400 };
	uint8_t out[ZT_DNS_CACHE_MSG_MAX];
	struct msg m;
	size_t soa_ttl_off;

	(void)state;
	/* NXDOMAIN: min(SOA TTL 600, MINIMUM 60) = 60 s. */
	answer(&nx, ZT_DNS_RCODE_NXDOMAIN, 0, NULL, 600, 60, &m);
	assert_int_equal(store(c, &nx, &m, 0), 0);
	assert_int_equal(lookup(c, &nx, 59999, out), (ssize_t)m.len);
	assert_int_equal(out[3] & ZT_DNS_F_RCODE, ZT_DNS_RCODE_NXDOMAIN);
	/* The SOA's own TTL ages too. */
	soa_ttl_off = ZT_DNS_HEADER_LEN + strlen(nx.name) + 2 + 4 + 6;
	assert_int_equal(zt_get_be32(out + soa_ttl_off), 600 - 59);
	assert_int_equal(lookup(c, &nx, 60000, out), -ENOENT);

	/* NODATA: min(SOA TTL 30, MINIMUM 3600) = 30 s. */
	answer(&nodata, 0, 0, NULL, 30, 3600, &m);
	assert_int_equal(store(c, &nodata, &m, 0), 0);
	assert_int_equal(lookup(c, &nodata, 29999, out), (ssize_t)m.len);
	assert_int_equal(lookup(c, &nodata, 30000, out), -ENOENT);

	/* Caps: a day-long answer lives an hour here, with its TTLs aged as usual. */
	answer(&big, 0, 1, day, 0, 0, &m);
	assert_int_equal(store(c, &big, &m, 0), 0);
	assert_int_equal(lookup(c, &big, 10000, out), (ssize_t)m.len);
	assert_int_equal(answer_ttl(&big, out, 0), 86400 - 10);
	assert_int_equal(lookup(c, &big, ZT_DNS_CACHE_MAX_TTL * 1000ull - 1, out), (ssize_t)m.len);
	assert_int_equal(lookup(c, &big, ZT_DNS_CACHE_MAX_TTL * 1000ull, out), -ENOENT);
	answer(&bigneg, ZT_DNS_RCODE_NXDOMAIN, 0, NULL, 86400, 86400, &m);
	assert_int_equal(store(c, &bigneg, &m, 0), 0);
	assert_int_equal(lookup(c, &bigneg, ZT_DNS_CACHE_MAX_NEGATIVE_TTL * 1000ull - 1, out),
			 (ssize_t)m.len);
	assert_int_equal(lookup(c, &bigneg, ZT_DNS_CACHE_MAX_NEGATIVE_TTL * 1000ull, out), -ENOENT);
	/* A clock that went backwards does not serve stale data. */
	assert_int_equal(store(c, &bigneg, &m, 5000), 0);
	assert_int_equal(lookup(c, &bigneg, 4999, out), -ENOENT);
	zt_dns_cache_free(c);
}

static void test_eviction_and_flush(void **state)
{
	struct zt_dns_cache *c = new_cache(3);
	struct ask n[4] = {
		ASK(.name = "a.example.test"), ASK(.name = "b.example.test"),
		ASK(.name = "c.example.test"), ASK(.name = "d.example.test"),
	};
	uint32_t ttl[1] = { 60 };
	uint8_t out[ZT_DNS_CACHE_MSG_MAX];
	struct zt_dns_cache_stats st;
	struct msg m;
	unsigned int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		answer(&n[i], 0, 1, ttl, 0, 0, &m);
		assert_int_equal(store(c, &n[i], &m, i), 0);
	}
	/* a is used again: b becomes the least recently used. */
	assert_true(lookup(c, &n[0], 10, out) > 0);
	answer(&n[3], 0, 1, ttl, 0, 0, &m);
	assert_int_equal(store(c, &n[3], &m, 20), 0);
	zt_dns_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(lookup(c, &n[1], 30, out), -ENOENT);
	assert_true(lookup(c, &n[0], 30, out) > 0);
	assert_true(lookup(c, &n[2], 30, out) > 0);
	assert_true(lookup(c, &n[3], 30, out) > 0);
	/* A new answer for a cached key replaces it; nothing else goes. */
	ttl[0] = 90;
	answer(&n[2], 0, 1, ttl, 0, 0, &m);
	assert_int_equal(store(c, &n[2], &m, 40), 0);
	assert_true(lookup(c, &n[2], 40, out) > 0);
	assert_int_equal(answer_ttl(&n[2], out, 0), 90);
	zt_dns_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.evicted, 1);
	/* Upstreams changed: nothing survives. */
	zt_dns_cache_flush(c);
	zt_dns_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(lookup(c, &n[i], 50, out), -ENOENT);
	/* And it fills again. */
	assert_int_equal(store(c, &n[2], &m, 60), 0);
	assert_true(lookup(c, &n[2], 60, out) > 0);
	zt_dns_cache_free(c);
}

static void test_small_buffer_and_bounds(void **state)
{
	struct zt_dns_cache *c;
	struct ask a = ASK();
	uint32_t ttl[1] = { 60 };
	uint8_t out[ZT_DNS_CACHE_MSG_MAX];
	struct zt_dns_query q;
	struct msg m;

	(void)state;
	assert_int_equal(zt_dns_cache_new(&c, 0), -EINVAL);
	assert_int_equal(zt_dns_cache_new(&c, ZT_DNS_CACHE_MAX_ENTRIES + 1), -EINVAL);
	c = new_cache(1);
	answer(&a, 0, 1, ttl, 0, 0, &m);
	assert_int_equal(store(c, &a, &m, 0), 0);
	parse(&a, &q);
	assert_int_equal(zt_dns_cache_get(c, &q, 0, out, m.len - 1), -ENOSPC);
	assert_int_equal(zt_dns_cache_get(c, &q, 0, out, m.len), (ssize_t)m.len);
	zt_dns_cache_free(c);
	zt_dns_cache_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ttl_decrement_and_expiry),
		cmocka_unit_test(test_id_and_question_rewrite),
		cmocka_unit_test(test_key_separation),
		cmocka_unit_test(test_not_cached),
		cmocka_unit_test(test_negative_and_caps),
		cmocka_unit_test(test_eviction_and_flush),
		cmocka_unit_test(test_small_buffer_and_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
