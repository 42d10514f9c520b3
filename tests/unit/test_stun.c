// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests: the STUN codec against RFC 5769's vectors (parsing, and
 * building them back byte for byte), the Binding helpers, and hostile input.
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
#include <sys/socket.h>

#include <cmocka.h>
#include <openssl/md5.h>
#include <zlib.h>

#include "lib/addr.h"
#include "relay/stun.h"

/* Relative to the repository root, where `make test-unit` runs the tests. */
#define VECTORS_FILE	"tests/vectors/rfc5769-stun.txt"

struct vector {
	uint8_t b[512];
	size_t len;
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The message named NAME from the vectors file. */
static void load(const char *name, struct vector *v)
{
	char line[2048];
	FILE *f = fopen(VECTORS_FILE, "r");
	bool found = false;

	if (!f)
		fail_msg("cannot open %s (run from the repository root)", VECTORS_FILE);
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(name), i;
		char *hex;

		if (line[0] == '#' || strncmp(line, name, n) || line[n] != ' ')
			continue;
		hex = line + n + 1;
		v->len = 0;
		for (i = 0; hexval(hex[i]) >= 0 && hexval(hex[i + 1]) >= 0; i += 2) {
			assert_true(v->len < sizeof(v->b));
			v->b[v->len++] = (uint8_t)(hexval(hex[i]) << 4 | hexval(hex[i + 1]));
		}
		found = true;
		break;
	}
	fclose(f);
	if (!found)
		fail_msg("vector %s not in %s", name, VECTORS_FILE);
}

static const uint8_t rfc_tid[ZT_STUN_TID_LEN] = {
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
};
static const char password[] = "VOkJxbRl1RmTxUk/WvJxBt";

static int failing_hmac(const uint8_t *key, size_t keylen, const struct iovec *iov, size_t iovcnt,
			uint8_t mac[ZT_STUN_HMAC_LEN])
{
	(void)key, (void)keylen, (void)iov, (void)iovcnt, (void)mac;
	return -EIO;
}

static void assert_text(const struct zt_stun_text *t, const char *s)
{
	assert_non_null(t->p);
	assert_int_equal(t->len, strlen(s));
	assert_memory_equal(t->p, s, t->len);
}

static void assert_addr(const struct zt_stun_addr *a, int family, const char *text, uint16_t port)
{
	char buf[INET6_ADDRSTRLEN];

	assert_int_equal(a->family, family);
	zt_addr_format(a->addr, buf, sizeof(buf));
	assert_string_equal(buf, text);
	assert_int_equal(a->port, port);
}

/*
 * MESSAGE-INTEGRITY of V at MI_OFF under KEY: first the RFC 8489 14.5
 * construction done here by hand (the message up to the attribute, the
 * length field counting up to its end), then through the codec.
 */
static void assert_integrity(const struct vector *v, const struct zt_stun_msg *m, size_t mi_off,
			     const uint8_t *key, size_t keylen)
{
	struct vector bad = *v;
	uint8_t mac[ZT_STUN_HMAC_LEN];
	struct iovec iov = { .iov_base = bad.b, .iov_len = mi_off };

	assert_true(m->has_integrity);
	assert_int_equal(m->integrity_off, mi_off);
	bad.b[2] = (uint8_t)((mi_off + 24 - 20) >> 8);
	bad.b[3] = (uint8_t)(mi_off + 24 - 20);
	assert_int_equal(zt_stun_hmac_sha1(key, keylen, &iov, 1, mac), 0);
	assert_memory_equal(mac, v->b + mi_off + 4, ZT_STUN_HMAC_LEN);

	assert_int_equal(zt_stun_check_integrity(v->b, v->len, m, key, keylen, NULL), 0);
	assert_int_equal(zt_stun_check_integrity(v->b, v->len, m, key, keylen,
						 zt_stun_hmac_sha1), 0);
	/* A wrong key, a changed byte, a changed MAC, a failing HMAC. */
	assert_int_equal(zt_stun_check_integrity(v->b, v->len, m, (const uint8_t *)"x", 1, NULL),
			 -EBADMSG);
	assert_int_equal(zt_stun_check_integrity(v->b, v->len, m, key, keylen - 1, NULL),
			 -EBADMSG);
	bad = *v;
	bad.b[mi_off - 1] ^= 1;
	assert_int_equal(zt_stun_check_integrity(bad.b, bad.len, m, key, keylen, NULL), -EBADMSG);
	bad = *v;
	bad.b[9] ^= 1;		/* the transaction ID is covered too */
	assert_int_equal(zt_stun_check_integrity(bad.b, bad.len, m, key, keylen, NULL), -EBADMSG);
	bad = *v;
	bad.b[mi_off + 4 + 19] ^= 0x80;
	assert_int_equal(zt_stun_check_integrity(bad.b, bad.len, m, key, keylen, NULL), -EBADMSG);
	assert_int_equal(zt_stun_check_integrity(v->b, v->len, m, key, keylen, failing_hmac),
			 -EIO);
}

#define PW	(const uint8_t *)password, strlen(password)

static void test_rfc5769_request(void **state)
{
	struct zt_stun_msg m;
	struct vector v;

	(void)state;
	load("sample-request", &v);
	assert_int_equal(v.len, 108);
	assert_true(zt_stun_looks_like(v.b, v.len));
	assert_int_equal(zt_stun_parse(v.b, v.len, &m), 0);
	assert_int_equal(m.type, ZT_STUN_BINDING_REQUEST);
	assert_int_equal(m.method, ZT_STUN_METHOD_BINDING);
	assert_int_equal(m.cls, ZT_STUN_CLASS_REQUEST);
	assert_int_equal(m.length, 0x58);
	assert_memory_equal(m.tid, rfc_tid, sizeof(rfc_tid));
	assert_text(&m.software, "STUN test client");
	assert_text(&m.username, "evtj:h6vY");
	assert_true(m.has_priority);
	assert_int_equal(m.priority, 0x6e0001ff);
	assert_true(m.has_ice_controlled);
	assert_false(m.has_ice_controlling);
	assert_true(m.tie_breaker == 0x932ff9b151263b36ull);
	assert_false(m.has_mapped || m.has_xor_mapped || m.has_error);
	assert_int_equal(m.n_unknown, 0);
	assert_true(m.has_fingerprint);
	assert_integrity(&v, &m, 76, PW);
}

static void test_rfc5769_ipv4_response(void **state)
{
	struct zt_stun_msg m;
	struct vector v;

	(void)state;
	load("sample-ipv4-response", &v);
	assert_int_equal(zt_stun_parse(v.b, v.len, &m), 0);
	assert_int_equal(m.type, ZT_STUN_BINDING_SUCCESS);
	assert_int_equal(m.method, ZT_STUN_METHOD_BINDING);
	assert_int_equal(m.cls, ZT_STUN_CLASS_SUCCESS);
	assert_memory_equal(m.tid, rfc_tid, sizeof(rfc_tid));
	assert_text(&m.software, "test vector");
	assert_true(m.has_xor_mapped);
	assert_addr(&m.xor_mapped, AF_INET, "192.0.2.1", 32853);
	assert_true(m.has_fingerprint);
	assert_integrity(&v, &m, 48, PW);
}

static void test_rfc5769_ipv6_response(void **state)
{
	struct zt_stun_msg m;
	struct vector v;

	(void)state;
	load("sample-ipv6-response", &v);
	assert_int_equal(zt_stun_parse(v.b, v.len, &m), 0);
	assert_int_equal(m.type, ZT_STUN_BINDING_SUCCESS);
	assert_text(&m.software, "test vector");
	assert_true(m.has_xor_mapped);
	assert_addr(&m.xor_mapped, AF_INET6, "2001:db8:1234:5678:11:2233:4455:6677", 32853);
	assert_true(m.has_fingerprint);
	assert_integrity(&v, &m, 60, PW);
}

static void test_rfc5769_long_term(void **state)
{
	/* "マトリックス" in UTF-8: the RFC's long-term user name. */
	static const char user[] = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83"
				   "\xe3\x82\xaf\xe3\x82\xb9";
	uint8_t key[MD5_DIGEST_LENGTH];
	struct zt_stun_msg m;
	char cred[128];
	struct vector v;

	(void)state;
	load("sample-request-long-term", &v);
	assert_int_equal(zt_stun_parse(v.b, v.len, &m), 0);
	assert_int_equal(m.type, ZT_STUN_BINDING_REQUEST);
	assert_text(&m.username, user);
	assert_text(&m.realm, "example.org");
	assert_text(&m.nonce, "f//499k954d6OL34oL9FSTvy64sA");
	assert_false(m.has_fingerprint);
	/* Long-term credential: the key is MD5(username ":" realm ":" password). */
	snprintf(cred, sizeof(cred), "%s:example.org:TheMatrIX", user);
	MD5((const uint8_t *)cred, strlen(cred), key);
	assert_integrity(&v, &m, 92, key, sizeof(key));
}

/* Build the RFC's messages back; the RFC pads with spaces, so do we here. */
static void test_build_rfc5769(void **state)
{
	static const uint8_t prio[4] = { 0x6e, 0x00, 0x01, 0xff };
	static const uint8_t tie[8] = { 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36 };
	struct zt_stun_addr a4 = { .family = AF_INET, .port = 32853 };
	struct zt_stun_addr a6 = { .family = AF_INET6, .port = 32853 };
	struct zt_stun_builder b;
	struct vector v;
	uint8_t out[512];

	(void)state;
	assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.1", a4.addr), 1);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:1234:5678:11:2233:4455:6677", a6.addr), 1);

	load("sample-request", &v);
	assert_int_equal(zt_stun_init(&b, out, sizeof(out), ZT_STUN_BINDING_REQUEST, rfc_tid), 0);
	b.pad = ' ';
	assert_int_equal(zt_stun_add_attr(&b, ZT_STUN_A_SOFTWARE, "STUN test client", 16), 0);
	assert_int_equal(zt_stun_add_attr(&b, ZT_STUN_A_PRIORITY, prio, 4), 0);
	assert_int_equal(zt_stun_add_attr(&b, ZT_STUN_A_ICE_CONTROLLED, tie, 8), 0);
	assert_int_equal(zt_stun_add_attr(&b, ZT_STUN_A_USERNAME, "evtj:h6vY", 9), 0);
	assert_int_equal(zt_stun_add_integrity(&b, PW, NULL), 0);
	assert_int_equal(zt_stun_add_fingerprint(&b), 0);
	assert_int_equal(zt_stun_finish(&b), v.len);
	assert_memory_equal(out, v.b, v.len);

	load("sample-ipv4-response", &v);
	zt_stun_init(&b, out, sizeof(out), ZT_STUN_BINDING_SUCCESS, rfc_tid);
	b.pad = ' ';
	zt_stun_add_attr(&b, ZT_STUN_A_SOFTWARE, "test vector", 11);
	zt_stun_add_addr(&b, ZT_STUN_A_XOR_MAPPED_ADDRESS, &a4);
	zt_stun_add_integrity(&b, PW, NULL);
	zt_stun_add_fingerprint(&b);
	assert_int_equal(zt_stun_finish(&b), v.len);
	assert_memory_equal(out, v.b, v.len);

	load("sample-ipv6-response", &v);
	zt_stun_init(&b, out, sizeof(out), ZT_STUN_BINDING_SUCCESS, rfc_tid);
	b.pad = ' ';
	zt_stun_add_attr(&b, ZT_STUN_A_SOFTWARE, "test vector", 11);
	zt_stun_add_addr(&b, ZT_STUN_A_XOR_MAPPED_ADDRESS, &a6);
	zt_stun_add_integrity(&b, PW, NULL);
	zt_stun_add_fingerprint(&b);
	assert_int_equal(zt_stun_finish(&b), v.len);
	assert_memory_equal(out, v.b, v.len);
}

/* What the relay does: a client's request in, the mapped address out. */
static void test_binding_round_trip(void **state)
{
	static const uint8_t tid[ZT_STUN_TID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	struct zt_stun_addr from = { .family = AF_INET, .port = 40000 }, from6 = from;
	struct zt_stun_msg req, resp;
	uint8_t b[256], r[256];
	ssize_t n, rn;

	(void)state;
	assert_int_equal(inet_pton(AF_INET6, "::ffff:198.18.0.7", from.addr), 1);
	from6.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", from6.addr), 1);

	n = zt_stun_build_binding_request(tid, NULL, b, sizeof(b));
	assert_int_equal(n, 28);
	assert_true(zt_stun_looks_like(b, (size_t)n));
	assert_int_equal(zt_stun_parse(b, (size_t)n, &req), 0);
	assert_int_equal(req.type, ZT_STUN_BINDING_REQUEST);
	assert_true(req.has_fingerprint);
	assert_memory_equal(req.tid, tid, sizeof(tid));

	rn = zt_stun_build_binding_success(&req, &from, "ztgate", r, sizeof(r));
	assert_true(rn > 0);
	assert_int_equal(zt_stun_parse(r, (size_t)rn, &resp), 0);
	assert_int_equal(resp.type, ZT_STUN_BINDING_SUCCESS);
	assert_memory_equal(resp.tid, tid, sizeof(tid));
	assert_text(&resp.software, "ztgate");
	assert_addr(&resp.xor_mapped, AF_INET, "198.18.0.7", 40000);
	assert_true(resp.has_fingerprint);

	rn = zt_stun_build_binding_success(&req, &from6, NULL, r, sizeof(r));
	assert_int_equal(rn, 20 + 24 + 8);
	assert_int_equal(zt_stun_parse(r, (size_t)rn, &resp), 0);
	assert_addr(&resp.xor_mapped, AF_INET6, "2001:db8::1", 40000);

	/* MAPPED-ADDRESS, the RFC 3489 form, is not XORed. */
	{
		struct zt_stun_builder bb;

		zt_stun_init(&bb, r, sizeof(r), ZT_STUN_BINDING_SUCCESS, tid);
		zt_stun_add_addr(&bb, ZT_STUN_A_MAPPED_ADDRESS, &from);
		rn = zt_stun_finish(&bb);
		assert_int_equal(rn, 32);
		assert_int_equal(r[24 + 2], 40000 >> 8);
		assert_int_equal(r[24 + 4], 198);
		assert_int_equal(zt_stun_parse(r, (size_t)rn, &resp), 0);
		assert_true(resp.has_mapped);
		assert_false(resp.has_xor_mapped);
		assert_false(resp.has_fingerprint);
		assert_addr(&resp.mapped, AF_INET, "198.18.0.7", 40000);
	}
}

/* A request with attributes we must understand but do not: 420 lists them. */
static void test_unknown_attributes(void **state)
{
	static const uint8_t tid[ZT_STUN_TID_LEN] = { 9 };
	struct zt_stun_builder b;
	struct zt_stun_msg m, e;
	uint8_t buf[256], out[256];
	ssize_t n;
	unsigned int i;

	(void)state;
	zt_stun_init(&b, buf, sizeof(buf), ZT_STUN_BINDING_REQUEST, tid);
	zt_stun_add_attr(&b, 0x8001, "x", 1);		/* optional: ignored */
	zt_stun_add_attr(&b, 0x0003, "abcd", 4);	/* CHANGE-REQUEST, RFC 5780 */
	zt_stun_add_attr(&b, ZT_STUN_A_MESSAGE_INTEGRITY_SHA256, NULL, 0);
	zt_stun_add_fingerprint(&b);
	n = zt_stun_finish(&b);
	assert_true(n > 0);
	assert_int_equal(zt_stun_parse(buf, (size_t)n, &m), ZT_STUN_PARSE_UNKNOWN);
	assert_int_equal(m.n_unknown, 2);
	assert_int_equal(m.unknown[0], 0x0003);
	assert_int_equal(m.unknown[1], ZT_STUN_A_MESSAGE_INTEGRITY_SHA256);

	n = zt_stun_build_binding_error(&m, ZT_STUN_ERR_UNKNOWN_ATTRIBUTE, "Unknown Attribute",
					NULL, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(zt_stun_parse(out, (size_t)n, &e), 0);
	assert_int_equal(e.type, ZT_STUN_BINDING_ERROR);
	assert_int_equal(e.cls, ZT_STUN_CLASS_ERROR);
	assert_true(e.has_error);
	assert_int_equal(e.error_code, 420);
	assert_text(&e.reason, "Unknown Attribute");
	assert_true(e.has_fingerprint);
	/* UNKNOWN-ATTRIBUTES: 00 0a 00 04 00 03 00 1c, before FINGERPRINT. */
	assert_int_equal(out[n - 8 - 8 + 1], 0x0a);
	assert_int_equal(out[n - 8 - 4 + 1], 0x03);
	assert_int_equal(out[n - 8 - 2 + 1], 0x1c);

	/* More than we remember: counted, the first ZT_STUN_UNKNOWN_MAX kept. */
	zt_stun_init(&b, buf, sizeof(buf), ZT_STUN_BINDING_REQUEST, tid);
	for (i = 0; i < ZT_STUN_UNKNOWN_MAX + 3; i++)
		zt_stun_add_attr(&b, (uint16_t)(0x7000 + i), NULL, 0);
	n = zt_stun_finish(&b);
	assert_int_equal(zt_stun_parse(buf, (size_t)n, &m), ZT_STUN_PARSE_UNKNOWN);
	assert_int_equal(m.n_unknown, ZT_STUN_UNKNOWN_MAX + 3);
	assert_int_equal(m.unknown[ZT_STUN_UNKNOWN_MAX - 1], 0x7000 + ZT_STUN_UNKNOWN_MAX - 1);
	n = zt_stun_build_binding_error(&m, 420, NULL, NULL, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(zt_stun_parse(out, (size_t)n, &e), 0);

	/* After MESSAGE-INTEGRITY they are not covered, so ignored. */
	zt_stun_init(&b, buf, sizeof(buf), ZT_STUN_BINDING_REQUEST, tid);
	zt_stun_add_attr(&b, ZT_STUN_A_MESSAGE_INTEGRITY, "01234567890123456789", 20);
	b.integrity = false;	/* the builder refuses this on purpose */
	zt_stun_add_attr(&b, 0x0003, "abcd", 4);
	zt_stun_add_attr(&b, ZT_STUN_A_USERNAME, "late", 4);
	n = zt_stun_finish(&b);
	assert_int_equal(zt_stun_parse(buf, (size_t)n, &m), 0);
	assert_int_equal(m.n_unknown, 0);
	assert_null(m.username.p);
	assert_true(m.has_integrity);
}

/* A message of LEN bytes in an exact-size heap buffer, so ASan sees overreads. */
static int parse_exact(const uint8_t *b, size_t len, struct zt_stun_msg *m)
{
	uint8_t *copy = malloc(len ? len : 1);
	int ret;

	assert_non_null(copy);
	memcpy(copy, b, len);
	ret = zt_stun_parse(copy, len, m);
	free(copy);
	return ret;
}

static void set_len(uint8_t *b, size_t body)
{
	b[2] = (uint8_t)(body >> 8);
	b[3] = (uint8_t)body;
}

static void expect_bad(const uint8_t *b, size_t len, const char *why)
{
	struct zt_stun_msg m;

	assert_int_equal(parse_exact(b, len, &m), -EBADMSG);
	assert_non_null(m.why);
	if (why && !strstr(m.why, why))
		fail_msg("rejected for \"%s\", expected \"%s\"", m.why, why);
}

/* A Binding request carrying one attribute, without FINGERPRINT. */
static size_t one_attr(uint8_t *buf, size_t cap, uint16_t type, const void *val, size_t len)
{
	struct zt_stun_builder b;
	ssize_t n;

	zt_stun_init(&b, buf, cap, ZT_STUN_BINDING_REQUEST, rfc_tid);
	zt_stun_add_attr(&b, type, val, len);
	n = zt_stun_finish(&b);
	assert_true(n > 0);
	return (size_t)n;
}

static void test_malformed(void **state)
{
	static const char *names[] = {
		"sample-request", "sample-ipv4-response", "sample-ipv6-response",
		"sample-request-long-term",
	};
	uint8_t buf[1024], big[1024] = { 0 };
	struct zt_stun_msg m;
	struct vector v, w;
	size_t i, n, bit;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		load(names[i], &v);
		/* Every truncation. */
		for (n = 0; n < v.len; n++)
			assert_int_equal(parse_exact(v.b, n, &m), -EBADMSG);
		/* Trailing bytes the length does not count. */
		memcpy(w.b, v.b, v.len);
		memset(w.b + v.len, 0, 4);
		expect_bad(w.b, v.len + 4, "length field");
		/* Wrong cookie, top bits, length not a multiple of 4. */
		w = v;
		w.b[7] ^= 1;
		expect_bad(w.b, w.len, "cookie");
		assert_false(zt_stun_looks_like(w.b, w.len));
		w = v;
		w.b[0] |= 0x80;
		expect_bad(w.b, w.len, "top bits");
		w = v;
		w.b[3] = (uint8_t)(w.b[3] - 2);
		expect_bad(w.b, w.len, "multiple of 4");
		/* Every attribute's length one too big runs past or misaligns. */
		for (n = 20; n < v.len;) {
			size_t alen = (size_t)(v.b[n + 2] << 8 | v.b[n + 3]);

			w = v;
			w.b[n + 2] = 0xff;
			expect_bad(w.b, w.len, NULL);
			n += 4 + ((alen + 3) & ~(size_t)3);
		}
		/* Last attribute running past the end by up to one word. */
		w = v;
		set_len(w.b, w.len - 20 - 4);
		expect_bad(w.b, w.len - 4, NULL);
	}

	/*
	 * With FINGERPRINT, no single bit flip passes as fingerprinted. A few
	 * flips do hide the FINGERPRINT (one in its type, or a length that now
	 * swallows it), and such a message then has no fingerprint, as the
	 * caller can see; the rest are rejected.
	 */
	for (i = 0; i < 3; i++) {
		size_t hidden = 0;

		load(names[i], &v);
		for (bit = 0; bit < v.len * 8; bit++) {
			int ret;

			w = v;
			w.b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			ret = parse_exact(w.b, w.len, &m);
			assert_true(ret == -EBADMSG || !m.has_fingerprint);
			hidden += ret != -EBADMSG;
		}
		assert_true(hidden <= 24);	/* 16 type bits, a few length bits */
	}
	load("sample-ipv4-response", &v);
	w = v;
	w.b[v.len - 1] ^= 1;
	expect_bad(w.b, w.len, "FINGERPRINT does not match");
	/* Something after FINGERPRINT (the length grown to count it). */
	w = v;
	memcpy(w.b + w.len, "\x80\x22\x00\x00", 4);
	set_len(w.b, w.len + 4 - 20);
	expect_bad(w.b, w.len + 4, NULL);
	/*
	 * The same with the CRC right for the final length (as a forger would
	 * make it): FINGERPRINT is still not last.
	 */
	{
		static const uint8_t tail[2][8] = {
			{ 0x80, 0x22, 0x00, 0x01, 'x', 0, 0, 0 },	/* SOFTWARE "x" */
			{ 0x80, 0x28, 0x00, 0x04, 0, 0, 0, 0 },		/* FINGERPRINT */
		};
		uint32_t crc;

		for (i = 0; i < 2; i++) {
			zt_stun_build_binding_request(rfc_tid, NULL, buf, sizeof(buf));
			set_len(buf, 16);
			crc = (uint32_t)crc32(0, buf, 20) ^ ZT_STUN_FP_XOR;
			buf[24] = (uint8_t)(crc >> 24);
			buf[25] = (uint8_t)(crc >> 16);
			buf[26] = (uint8_t)(crc >> 8);
			buf[27] = (uint8_t)crc;
			memcpy(buf + 28, tail[i], 8);
			expect_bad(buf, 36, "after FINGERPRINT");
		}
	}

	/* Known attributes with the wrong shape. */
	expect_bad(buf, one_attr(buf, sizeof(buf), ZT_STUN_A_FINGERPRINT, "abcdefgh", 8),
		   "FINGERPRINT not 4");
	expect_bad(buf, one_attr(buf, sizeof(buf), ZT_STUN_A_MESSAGE_INTEGRITY, "abcd", 4),
		   "MESSAGE-INTEGRITY");
	expect_bad(buf, one_attr(buf, sizeof(buf), ZT_STUN_A_XOR_MAPPED_ADDRESS,
				 "\0\1\2\3\4\5\6", 7), "IPv4");
	expect_bad(buf, one_attr(buf, sizeof(buf), ZT_STUN_A_XOR_MAPPED_ADDRESS,
				 "\0\2\2\3\4\5\6\7", 8), "IPv6");
	expect_bad(buf, one_attr(buf, sizeof(buf), ZT_STUN_A_MAPPED_ADDRESS,
				 "\0\3\2\3\4\5\6\7", 8), "family");
	expect_bad(buf, one_attr(buf, sizeof(buf), ZT_STUN_A_MAPPED_ADDRESS, "\0\1", 2),
		   "too short");
	expect_bad(buf, one_attr(buf, sizeof(buf), ZT_STUN_A_ERROR_CODE, "\0\0\7\0", 4),
		   "ERROR-CODE");
	expect_bad(buf, one_attr(buf, sizeof(buf), ZT_STUN_A_ERROR_CODE, "\0\0\4\144", 4),
		   "ERROR-CODE");
	expect_bad(buf, one_attr(buf, sizeof(buf), ZT_STUN_A_ERROR_CODE, "\0\0\4", 3),
		   "ERROR-CODE");
	expect_bad(buf, one_attr(buf, sizeof(buf), ZT_STUN_A_PRIORITY, "\0\0\4", 3), "PRIORITY");
	expect_bad(buf, one_attr(buf, sizeof(buf), ZT_STUN_A_USE_CANDIDATE, "\0", 1), NULL);
	expect_bad(buf, one_attr(buf, sizeof(buf), ZT_STUN_A_ICE_CONTROLLING, "\0", 1), NULL);
	expect_bad(buf, one_attr(buf, sizeof(buf), ZT_STUN_A_UNKNOWN_ATTRIBUTES, "\0\1\0", 3),
		   NULL);
	expect_bad(buf, one_attr(buf, sizeof(buf), ZT_STUN_A_USERNAME, big,
				 ZT_STUN_USERNAME_MAX + 1), "too long");
	expect_bad(buf, one_attr(buf, sizeof(buf), ZT_STUN_A_SOFTWARE, big,
				 ZT_STUN_TEXT_MAX + 1), "too long");
	assert_int_equal(parse_exact(buf, one_attr(buf, sizeof(buf), ZT_STUN_A_USERNAME, big,
						   ZT_STUN_USERNAME_MAX), &m), 0);
	assert_int_equal(m.username.len, ZT_STUN_USERNAME_MAX);
	assert_int_equal(parse_exact(buf, one_attr(buf, sizeof(buf), ZT_STUN_A_ERROR_CODE,
						   "\xff\xff\xfe\x01", 4), &m), 0);
	assert_int_equal(m.error_code, 601);	/* reserved bits ignored */
	expect_bad(buf, 0, "shorter");
	expect_bad(buf, 19, "shorter");

	/* Integrity checks on a message without it, or with a bogus offset. */
	load("sample-ipv4-response", &v);
	assert_int_equal(zt_stun_parse(v.b, v.len, &m), 0);
	m.integrity_off = v.len - 10;
	assert_int_equal(zt_stun_check_integrity(v.b, v.len, &m, (const uint8_t *)"k", 1,
						 NULL), -EINVAL);
	m.has_integrity = false;
	assert_int_equal(zt_stun_check_integrity(v.b, v.len, &m, (const uint8_t *)"k", 1,
						 NULL), -ENOENT);
}

/* Duplicates: the first counts (RFC 8489 14). */
static void test_duplicates(void **state)
{
	struct zt_stun_addr a = { .family = AF_INET, .port = 1 }, c = a;
	struct zt_stun_builder b;
	struct zt_stun_msg m;
	uint8_t buf[256];
	ssize_t n;

	(void)state;
	inet_pton(AF_INET6, "::ffff:10.0.0.1", a.addr);
	inet_pton(AF_INET6, "::ffff:10.0.0.2", c.addr);
	c.port = 2;
	zt_stun_init(&b, buf, sizeof(buf), ZT_STUN_BINDING_SUCCESS, rfc_tid);
	zt_stun_add_addr(&b, ZT_STUN_A_XOR_MAPPED_ADDRESS, &a);
	zt_stun_add_addr(&b, ZT_STUN_A_XOR_MAPPED_ADDRESS, &c);
	zt_stun_add_attr(&b, ZT_STUN_A_SOFTWARE, "one", 3);
	zt_stun_add_attr(&b, ZT_STUN_A_SOFTWARE, "two", 3);
	zt_stun_add_error(&b, 401, "first");
	zt_stun_add_error(&b, 500, "second");
	zt_stun_add_fingerprint(&b);
	n = zt_stun_finish(&b);
	assert_true(n > 0);
	assert_int_equal(zt_stun_parse(buf, (size_t)n, &m), 0);
	assert_addr(&m.xor_mapped, AF_INET, "10.0.0.1", 1);
	assert_text(&m.software, "one");
	assert_int_equal(m.error_code, 401);
	assert_text(&m.reason, "first");
}

static void test_builder_limits(void **state)
{
	struct zt_stun_addr a = { .family = AF_INET6, .port = 9 };
	struct zt_stun_builder b;
	struct zt_stun_msg req;
	uint8_t full[256], *buf;
	ssize_t len, n;
	size_t cap;

	(void)state;
	memset(&req, 0, sizeof(req));
	memcpy(req.tid, rfc_tid, sizeof(rfc_tid));
	len = zt_stun_build_binding_success(&req, &a, "ztgate relay", full, sizeof(full));
	assert_true(len > 0);
	/* Every smaller exact-size buffer: -ENOSPC, and ASan sees no overrun. */
	for (cap = 0; cap < (size_t)len; cap++) {
		buf = malloc(cap ? cap : 1);
		assert_non_null(buf);
		n = zt_stun_build_binding_success(&req, &a, "ztgate relay", buf, cap);
		assert_int_equal(n, -ENOSPC);
		free(buf);
	}
	buf = malloc((size_t)len);
	assert_int_equal(zt_stun_build_binding_success(&req, &a, "ztgate relay", buf,
						       (size_t)len), len);
	assert_memory_equal(buf, full, (size_t)len);
	free(buf);

	/* Order rules, and errors that stick. */
	zt_stun_init(&b, full, sizeof(full), ZT_STUN_BINDING_REQUEST, rfc_tid);
	assert_int_equal(zt_stun_add_integrity(&b, (const uint8_t *)"k", 1, NULL), 0);
	assert_int_equal(zt_stun_add_attr(&b, ZT_STUN_A_SOFTWARE, "x", 1), -EINVAL);
	assert_int_equal(zt_stun_add_fingerprint(&b), -EINVAL);
	assert_int_equal(zt_stun_finish(&b), -EINVAL);

	zt_stun_init(&b, full, sizeof(full), ZT_STUN_BINDING_REQUEST, rfc_tid);
	assert_int_equal(zt_stun_add_fingerprint(&b), 0);
	assert_int_equal(zt_stun_add_fingerprint(&b), -EINVAL);
	assert_int_equal(zt_stun_finish(&b), -EINVAL);

	zt_stun_init(&b, full, sizeof(full), ZT_STUN_BINDING_REQUEST, rfc_tid);
	assert_int_equal(zt_stun_add_integrity(&b, (const uint8_t *)"k", 1, failing_hmac), -EIO);
	assert_int_equal(zt_stun_finish(&b), -EIO);

	zt_stun_init(&b, full, sizeof(full), ZT_STUN_BINDING_REQUEST, rfc_tid);
	assert_int_equal(zt_stun_add_error(&b, 299, "x"), -EINVAL);
	zt_stun_init(&b, full, sizeof(full), ZT_STUN_BINDING_REQUEST, rfc_tid);
	assert_int_equal(zt_stun_add_addr(&b, ZT_STUN_A_SOFTWARE, &a), -EINVAL);
	a.family = AF_UNIX;
	zt_stun_init(&b, full, sizeof(full), ZT_STUN_BINDING_REQUEST, rfc_tid);
	assert_int_equal(zt_stun_add_addr(&b, ZT_STUN_A_XOR_MAPPED_ADDRESS, &a), -EAFNOSUPPORT);
	assert_int_equal(zt_stun_init(&b, full, sizeof(full), 0xc001, rfc_tid), -EINVAL);
	assert_int_equal(zt_stun_add_addr(&b, ZT_STUN_A_XOR_MAPPED_ADDRESS, &a), -EINVAL);
	assert_int_equal(zt_stun_init(&b, full, 19, ZT_STUN_BINDING_REQUEST, rfc_tid), -ENOSPC);
	assert_int_equal(zt_stun_build_binding_request(rfc_tid, NULL, full, 27), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5769_request),
		cmocka_unit_test(test_rfc5769_ipv4_response),
		cmocka_unit_test(test_rfc5769_ipv6_response),
		cmocka_unit_test(test_rfc5769_long_term),
		cmocka_unit_test(test_build_rfc5769),
		cmocka_unit_test(test_binding_round_trip),
		cmocka_unit_test(test_unknown_attributes),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_builder_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
