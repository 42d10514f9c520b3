// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests: the tunnel's wire format (docs/TUNNEL.md). Sizes, encode and
 * parse round trips, every cut or padded datagram refused, mac1/mac2
 * against values computed independently (Python's hmac and hashlib, see
 * each test), cookies and cookie replies, TAI64N.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "tunnel/wire.h"

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

static void unhex(const char *s, uint8_t *out, size_t n)
{
	assert_int_equal(strlen(s), 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned int v;

		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static void test_sizes(void **state)
{
	(void)state;
	assert_int_equal(ZT_TW_INITIATION_LEN, 148);
	assert_int_equal(ZT_TW_RESPONSE_LEN, 92);
	assert_int_equal(ZT_TW_COOKIE_REPLY_LEN, 64);
	assert_int_equal(ZT_TW_TRANSPORT_LEN(0), 32);
	assert_int_equal(ZT_TW_TRANSPORT_LEN(1420), 1452);
	assert_int_equal(ZT_TW_INIT_NOISE_LEN, 32 + 48 + 28);
	assert_int_equal(ZT_TW_RESP_NOISE_LEN, 32 + 16);
}

/* A message of LEN bytes with a valid header of TYPE, the rest patterned. */
static void make_msg(uint8_t *buf, size_t len, uint8_t type)
{
	fill(buf, len, type);
	buf[0] = type;
	buf[1] = buf[2] = buf[3] = 0;
}

static void test_type_exact_sizes(void **state)
{
	static const struct { uint8_t type; size_t len; } ok[] = {
		{ ZT_TW_INITIATION, 148 }, { ZT_TW_RESPONSE, 92 },
		{ ZT_TW_COOKIE_REPLY, 64 }, { ZT_TW_TRANSPORT, 32 },
	};
	uint8_t *buf = malloc(16 + 65536 + 1);

	(void)state;
	assert_non_null(buf);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		make_msg(buf, ok[i].len + 1, ok[i].type);
		assert_int_equal(zt_tw_type(buf, ok[i].len), ok[i].type);
		/* Every shorter cut is refused. */
		for (size_t n = 0; n < ok[i].len; n++)
			assert_int_equal(zt_tw_type(buf, n), -EBADMSG);
		/* One byte more: fixed-size types refuse it; transport takes any payload. */
		if (ok[i].type != ZT_TW_TRANSPORT)
			assert_int_equal(zt_tw_type(buf, ok[i].len + 1), -EBADMSG);
		/* The three reserved bytes must be zero. */
		for (int b = 1; b < 4; b++) {
			buf[b] = 1;
			assert_int_equal(zt_tw_type(buf, ok[i].len), -EBADMSG);
			buf[b] = 0;
		}
	}
	/* Transport: sealed part up to the Noise maximum, no more. */
	make_msg(buf, 16 + 65536, ZT_TW_TRANSPORT);
	assert_int_equal(zt_tw_type(buf, 16 + 65535), ZT_TW_TRANSPORT);
	assert_int_equal(zt_tw_type(buf, 16 + 65536), -EBADMSG);
	/* Unknown types, whatever the size. */
	for (int type = 0; type < 256; type++) {
		if (type >= ZT_TW_INITIATION && type <= ZT_TW_TRANSPORT)
			continue;
		make_msg(buf, 148, (uint8_t)type);
		assert_int_equal(zt_tw_type(buf, 148), -EBADMSG);
		assert_int_equal(zt_tw_type(buf, 32), -EBADMSG);
	}
	assert_int_equal(zt_tw_type(NULL, 0), -EBADMSG);
	free(buf);
}

static void test_initiation_round_trip(void **state)
{
	struct zt_tw_initiation m, back;
	uint8_t buf[ZT_TW_INITIATION_LEN + 1];

	(void)state;
	m.sender = 0xa1b2c3d4;
	fill(m.noise, sizeof(m.noise), 1);
	fill(m.mac1, sizeof(m.mac1), 2);
	fill(m.mac2, sizeof(m.mac2), 3);
	assert_int_equal(zt_tw_initiation_encode(&m, buf, ZT_TW_INITIATION_LEN - 1), -ENOSPC);
	assert_int_equal(zt_tw_initiation_encode(&m, buf, sizeof(buf)), 148);
	/* Layout: type, 3 zero, sender little-endian, noise, mac1, mac2. */
	assert_memory_equal(buf, "\x01\x00\x00\x00\xd4\xc3\xb2\xa1", 8);
	assert_memory_equal(buf + 8, m.noise, 108);
	assert_memory_equal(buf + 116, m.mac1, 16);
	assert_memory_equal(buf + 132, m.mac2, 16);
	assert_int_equal(zt_tw_initiation_parse(buf, 148, &back), 0);
	assert_memory_equal(&m, &back, sizeof(m));
	for (size_t n = 0; n < sizeof(buf); n++)
		if (n != 148)
			assert_int_equal(zt_tw_initiation_parse(buf, n, &back), -EBADMSG);
	buf[0] = ZT_TW_RESPONSE;
	assert_int_equal(zt_tw_initiation_parse(buf, 148, &back), -EBADMSG);
}

static void test_response_round_trip(void **state)
{
	struct zt_tw_response m, back;
	uint8_t buf[ZT_TW_RESPONSE_LEN + 1];

	(void)state;
	m.sender = 0x01020304;
	m.receiver = 0xfffffffe;
	fill(m.noise, sizeof(m.noise), 4);
	fill(m.mac1, sizeof(m.mac1), 5);
	fill(m.mac2, sizeof(m.mac2), 6);
	assert_int_equal(zt_tw_response_encode(&m, buf, 91), -ENOSPC);
	assert_int_equal(zt_tw_response_encode(&m, buf, sizeof(buf)), 92);
	assert_memory_equal(buf, "\x02\x00\x00\x00\x04\x03\x02\x01\xfe\xff\xff\xff", 12);
	assert_memory_equal(buf + 60, m.mac1, 16);
	assert_int_equal(zt_tw_response_parse(buf, 92, &back), 0);
	assert_memory_equal(&m, &back, sizeof(m));
	for (size_t n = 0; n < sizeof(buf); n++)
		if (n != 92)
			assert_int_equal(zt_tw_response_parse(buf, n, &back), -EBADMSG);
}

static void test_cookie_reply_round_trip(void **state)
{
	struct zt_tw_cookie_reply m, back;
	uint8_t buf[ZT_TW_COOKIE_REPLY_LEN + 1];

	(void)state;
	m.receiver = 7;
	fill(m.nonce, sizeof(m.nonce), 7);
	fill(m.sealed, sizeof(m.sealed), 8);
	assert_int_equal(zt_tw_cookie_reply_encode(&m, buf, 63), -ENOSPC);
	assert_int_equal(zt_tw_cookie_reply_encode(&m, buf, sizeof(buf)), 64);
	assert_memory_equal(buf, "\x03\x00\x00\x00\x07\x00\x00\x00", 8);
	assert_int_equal(zt_tw_cookie_reply_parse(buf, 64, &back), 0);
	assert_memory_equal(&m, &back, sizeof(m));
	for (size_t n = 0; n < sizeof(buf); n++)
		if (n != 64)
			assert_int_equal(zt_tw_cookie_reply_parse(buf, n, &back), -EBADMSG);
}

static void test_transport_header(void **state)
{
	struct zt_tw_transport m;
	uint8_t buf[64];

	(void)state;
	assert_int_equal(zt_tw_transport_header_encode(9, 0x0102030405060708ull, buf, 15), -ENOSPC);
	assert_int_equal(zt_tw_transport_header_encode(9, 0x0102030405060708ull, buf, 16), 16);
	assert_memory_equal(buf, "\x04\x00\x00\x00\x09\x00\x00\x00"
				 "\x08\x07\x06\x05\x04\x03\x02\x01", 16);
	fill(buf + 16, 48, 9);
	assert_int_equal(zt_tw_transport_parse(buf, 40, &m), 0);
	assert_int_equal(m.receiver, 9);
	assert_true(m.counter == 0x0102030405060708ull);
	assert_ptr_equal(m.sealed, buf + 16);
	assert_int_equal(m.sealed_len, 24);
	for (size_t n = 0; n < 32; n++)
		assert_int_equal(zt_tw_transport_parse(buf, n, &m), -EBADMSG);
}

/*
 * mac1 against Python:
 *   k = sha256(b'mac1----' + bytes(range(32))).digest()
 *   msg = bytes([1,0,0,0]) + bytes((i*7) & 0xff for i in range(4,116))
 *   hmac.new(k, msg, sha256).hexdigest()[:32]                   -> mac1
 *   hmac.new(bytes(range(16)), msg + mac1, sha256).hexdigest()[:32] -> mac2
 *   sha256(b'cookie--' + bytes(range(32))).hexdigest()          -> cookie key
 */
static void test_mac_known_answer(void **state)
{
	uint8_t pub[32], key[32], expect[32], msg[ZT_TW_INITIATION_LEN], cookie[16];

	(void)state;
	for (int i = 0; i < 32; i++)
		pub[i] = (uint8_t)i;
	for (int i = 0; i < 16; i++)
		cookie[i] = (uint8_t)i;
	memset(msg, 0xee, sizeof(msg));
	msg[0] = 1;
	msg[1] = msg[2] = msg[3] = 0;
	for (int i = 4; i < 116; i++)
		msg[i] = (uint8_t)(i * 7);

	zt_tw_mac1_key(pub, key);
	assert_int_equal(zt_tw_mac1_write(msg, sizeof(msg), key), 0);
	unhex("1ead463512c8c56dc0518eacfc8d9afe", expect, 16);
	assert_memory_equal(msg + 116, expect, 16);
	assert_true(zt_tw_mac1_ok(msg, sizeof(msg), key));

	assert_int_equal(zt_tw_mac2_write(msg, sizeof(msg), cookie), 0);
	unhex("0e4aaa3e4c49102084015bae72c68b9d", expect, 16);
	assert_memory_equal(msg + 132, expect, 16);
	assert_true(zt_tw_mac2_ok(msg, sizeof(msg), cookie));
	/* mac1 does not cover mac2: still valid. */
	assert_true(zt_tw_mac1_ok(msg, sizeof(msg), key));

	zt_tw_cookie_key(pub, key);
	unhex("9364fbfe8f935a20aaa9c550e23a7556f37b509329a2e975b371806879919d2d", expect, 32);
	assert_memory_equal(key, expect, 32);
}

static void test_mac_checks(void **state)
{
	uint8_t pub[32], other[32], key[32], okey[32], cookie[16], msg[ZT_TW_RESPONSE_LEN];

	(void)state;
	fill(pub, 32, 1);
	fill(other, 32, 2);
	fill(cookie, 16, 3);
	zt_tw_mac1_key(pub, key);
	zt_tw_mac1_key(other, okey);
	make_msg(msg, sizeof(msg), ZT_TW_RESPONSE);
	assert_int_equal(zt_tw_mac1_write(msg, sizeof(msg), key), 0);
	assert_true(zt_tw_mac1_ok(msg, sizeof(msg), key));
	assert_false(zt_tw_mac1_ok(msg, sizeof(msg), okey));	/* someone else's key */
	/* Any byte before or of mac1 changed: refused. */
	for (size_t i = 4; i < sizeof(msg) - 16; i++) {
		msg[i] ^= 0x80;
		assert_false(zt_tw_mac1_ok(msg, sizeof(msg), key));
		msg[i] ^= 0x80;
	}
	/* No cookie: 16 zero bytes, which no cookie validates. */
	assert_int_equal(zt_tw_mac2_write(msg, sizeof(msg), NULL), 0);
	for (size_t i = sizeof(msg) - 16; i < sizeof(msg); i++)
		assert_int_equal(msg[i], 0);
	assert_false(zt_tw_mac2_ok(msg, sizeof(msg), cookie));
	assert_false(zt_tw_mac2_ok(msg, sizeof(msg), NULL));
	assert_int_equal(zt_tw_mac2_write(msg, sizeof(msg), cookie), 0);
	assert_true(zt_tw_mac2_ok(msg, sizeof(msg), cookie));
	msg[10] ^= 1;
	assert_false(zt_tw_mac2_ok(msg, sizeof(msg), cookie));
	/* Not a handshake message: nothing to MAC. */
	assert_int_equal(zt_tw_mac1_write(msg, sizeof(msg) - 1, key), -EINVAL);
	assert_false(zt_tw_mac1_ok(msg, sizeof(msg) - 1, key));
	msg[0] = ZT_TW_COOKIE_REPLY;
	assert_int_equal(zt_tw_mac1_write(msg, 64, key), -EINVAL);
}

static struct sockaddr_in v4(const char *ip, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };

	assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	return sin;
}

static struct sockaddr_in6 v6(const char *ip, uint16_t port)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

	assert_int_equal(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
	return sin6;
}

static void test_cookies(void **state)
{
	struct zt_tw_cookie_secret s = { 0 };
	struct sockaddr_in a = v4("192.0.2.1", 4000), b = v4("192.0.2.1", 4001);
	struct sockaddr_in6 am = v6("::ffff:192.0.2.1", 4000), c = v6("2001:db8::1", 4000);
	struct sockaddr un = { .sa_family = AF_UNIX };
	uint8_t c1[16], c2[16], c3[16];
	uint64_t t0 = 1000 * 1000000000ull;

	(void)state;
	assert_int_equal(zt_tw_cookie_make(&s, t0, (struct sockaddr *)&a, c1), 0);
	assert_int_equal(zt_tw_cookie_make(&s, t0 + 1, (struct sockaddr *)&a, c2), 0);
	assert_memory_equal(c1, c2, 16);			/* same source, same secret */
	assert_int_equal(zt_tw_cookie_make(&s, t0, (struct sockaddr *)&am, c2), 0);
	assert_memory_equal(c1, c2, 16);			/* IPv4-mapped is the same source */
	assert_int_equal(zt_tw_cookie_make(&s, t0, (struct sockaddr *)&b, c2), 0);
	assert_memory_not_equal(c1, c2, 16);			/* another port */
	assert_int_equal(zt_tw_cookie_make(&s, t0, (struct sockaddr *)&c, c3), 0);
	assert_memory_not_equal(c1, c3, 16);
	assert_int_equal(zt_tw_cookie_make(&s, t0, &un, c3), -EAFNOSUPPORT);
	/* 120 s on, the secret is new: so is the cookie. */
	assert_int_equal(zt_tw_cookie_make(&s, t0 + ZT_TW_COOKIE_SECRET_MAX_AGE_NS - 1,
					   (struct sockaddr *)&a, c2), 0);
	assert_memory_equal(c1, c2, 16);
	assert_int_equal(zt_tw_cookie_make(&s, t0 + ZT_TW_COOKIE_SECRET_MAX_AGE_NS,
					   (struct sockaddr *)&a, c2), 0);
	assert_memory_not_equal(c1, c2, 16);
	zt_tw_cookie_secret_destroy(&s);
	assert_false(s.valid);
}

static void test_cookie_reply_seal_open(void **state)
{
	uint8_t pub[32], other[32], key[32], okey[32], cookie[16], got[16], mac1[16], msg[64];

	(void)state;
	fill(pub, 32, 11);
	fill(other, 32, 12);
	fill(cookie, 16, 13);
	fill(mac1, 16, 14);
	zt_tw_cookie_key(pub, key);
	zt_tw_cookie_key(other, okey);
	assert_int_equal(zt_tw_cookie_reply_seal(key, 0x55667788, cookie, mac1, msg, 63), -ENOSPC);
	assert_int_equal(zt_tw_cookie_reply_seal(key, 0x55667788, cookie, mac1, msg, 64), 0);
	assert_int_equal(zt_tw_type(msg, 64), ZT_TW_COOKIE_REPLY);
	assert_memory_equal(msg + 4, "\x88\x77\x66\x55", 4);
	assert_memory_not_equal(msg + 32, cookie, 16);		/* sealed, not in the clear */
	assert_int_equal(zt_tw_cookie_reply_open(key, msg, 64, mac1, got), 0);
	assert_memory_equal(got, cookie, 16);
	/* Another replier's key, another message's mac1, any flipped byte: refused. */
	assert_int_equal(zt_tw_cookie_reply_open(okey, msg, 64, mac1, got), -EBADMSG);
	mac1[0] ^= 1;
	assert_int_equal(zt_tw_cookie_reply_open(key, msg, 64, mac1, got), -EBADMSG);
	mac1[0] ^= 1;
	for (size_t i = 8; i < 64; i++) {
		msg[i] ^= 4;
		assert_int_equal(zt_tw_cookie_reply_open(key, msg, 64, mac1, got), -EBADMSG);
		msg[i] ^= 4;
	}
	for (size_t n = 0; n < 64; n++)
		assert_int_equal(zt_tw_cookie_reply_open(key, msg, n, mac1, got), -EBADMSG);
	/* Two seals of one cookie differ (random nonce). */
	{
		uint8_t msg2[64];

		assert_int_equal(zt_tw_cookie_reply_seal(key, 0x55667788, cookie, mac1, msg2, 64), 0);
		assert_memory_not_equal(msg + 8, msg2 + 8, 24);
	}
}

/* struct.pack('>QI', 0x400000000000000a + 1700000000, 123456789).hex() */
static void test_tai64n(void **state)
{
	uint8_t a[12], b[12], expect[12];

	(void)state;
	zt_tw_tai64n(1700000000, 123456789, a);
	unhex("400000006553f10a075bcd15", expect, 12);
	assert_memory_equal(a, expect, 12);
	zt_tw_tai64n(0, 0, a);
	unhex("400000000000000a00000000", expect, 12);
	assert_memory_equal(a, expect, 12);

	zt_tw_tai64n(1700000000, 5, a);
	zt_tw_tai64n(1700000000, 6, b);
	assert_true(zt_tw_tai64n_after(b, a));
	assert_false(zt_tw_tai64n_after(a, b));
	assert_false(zt_tw_tai64n_after(a, a));		/* equal is a replay */
	zt_tw_tai64n(1700000001, 0, b);
	assert_true(zt_tw_tai64n_after(b, a));

	/* Now: later than 2023, whitened to 2^24 ns. */
	zt_tw_tai64n_now(b);
	assert_true(zt_tw_tai64n_after(b, expect) && zt_tw_tai64n_after(b, a));
	assert_int_equal(b[11], 0);
	assert_int_equal(b[10], 0);
	assert_int_equal(b[9], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_type_exact_sizes),
		cmocka_unit_test(test_initiation_round_trip),
		cmocka_unit_test(test_response_round_trip),
		cmocka_unit_test(test_cookie_reply_round_trip),
		cmocka_unit_test(test_transport_header),
		cmocka_unit_test(test_mac_known_answer),
		cmocka_unit_test(test_mac_checks),
		cmocka_unit_test(test_cookies),
		cmocka_unit_test(test_cookie_reply_seal_open),
		cmocka_unit_test(test_tai64n),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
