// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests: the relay's messages (docs/RELAY.md, daemon/relay/proto.h).
 * Sizes, encode/parse round trips, every truncated, oversized, mis-padded
 * or wrongly typed message refused, the mac (both sides derive the same
 * key; one flipped bit or another key fails), the cookie bound to the
 * source address, port and key, and its rotation. Then the peer's client
 * (relay/client.c) against a relay played here, with spoofed control
 * messages (issue 10 A5).
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
#include <openssl/curve25519.h>
#include <openssl/hkdf.h>
#include <openssl/hmac.h>
#include <openssl/digest.h>

#include "lib/loop.h"
#include "relay/client.h"
#include "relay/proto.h"

#define SEC 1000000000ull

static uint8_t peer_priv[32], peer_pub[32], relay_priv[32], relay_pub[32];

static int setup(void **state)
{
	(void)state;
	X25519_keypair(peer_pub, peer_priv);
	X25519_keypair(relay_pub, relay_priv);
	return 0;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static void test_sizes(void **state)
{
	(void)state;
	assert_int_equal(ZT_RELAY_REGISTER_LEN(0), 70);
	assert_int_equal(ZT_RELAY_REGISTER_LEN(3), 166);
	/* Amplification: every answer is smaller than what it answers. */
	assert_true(ZT_RELAY_CHALLENGE_LEN < ZT_RELAY_HELLO_LEN);
	assert_true(ZT_RELAY_REGISTERED_LEN < ZT_RELAY_REGISTER_LEN(0));
	assert_true(ZT_RELAY_REGISTERED_LEN < ZT_RELAY_KEEPALIVE_LEN);
	assert_true(ZT_RELAY_ERROR_LEN < ZT_RELAY_ERROR_MIN_REQUEST);
	assert_true(ZT_RELAY_ERROR_MIN_REQUEST <= ZT_RELAY_FWD_HDR_LEN + 4);
}

/* Both sides derive the same K, and it is HKDF-SHA256 of the X25519 secret. */
static void test_mac_key(void **state)
{
	struct zt_relay_mac_key a, b;
	uint8_t shared[32], want[32];
	static const uint8_t low_order[32] = { 0 };

	(void)state;
	assert_int_equal(zt_relay_mac_key(peer_priv, relay_pub, &a), 0);
	assert_int_equal(zt_relay_mac_key(relay_priv, peer_pub, &b), 0);
	assert_memory_equal(a.k, b.k, 32);
	assert_true(X25519(shared, peer_priv, relay_pub));
	assert_true(HKDF(want, 32, EVP_sha256(), shared, 32, NULL, 0,
			 (const uint8_t *)"ztgate relay v1", 15));
	assert_memory_equal(a.k, want, 32);
	assert_int_equal(zt_relay_mac_key(peer_priv, low_order, &a), -EINVAL);
}

static void test_hello(void **state)
{
	uint8_t buf[200], key[32];

	(void)state;
	assert_int_equal(zt_relay_hello_encode(peer_pub, buf, 95), -ENOSPC);
	assert_int_equal(zt_relay_hello_encode(peer_pub, buf, sizeof(buf)), 96);
	assert_int_equal(zt_relay_msg_type(buf, 96), ZT_RELAY_HELLO);
	assert_int_equal(zt_relay_hello_parse(buf, 96, key), 0);
	assert_memory_equal(key, peer_pub, 32);
	for (size_t n = 0; n < 96; n++) {
		assert_int_equal(zt_relay_hello_parse(buf, n, key), -EBADMSG);
		assert_true(zt_relay_msg_type(buf, n) < 0);
	}
	buf[96] = 0;
	assert_int_equal(zt_relay_hello_parse(buf, 97, key), -EBADMSG);
	assert_true(zt_relay_msg_type(buf, 97) < 0);
	buf[95] = 1;	/* padding must be zero */
	assert_int_equal(zt_relay_hello_parse(buf, 96, key), -EBADMSG);
	buf[95] = 0;
	buf[2] = 1;	/* the three header bytes too */
	assert_int_equal(zt_relay_hello_parse(buf, 96, key), -EBADMSG);
	assert_true(zt_relay_msg_type(buf, 96) < 0);
}

static void test_challenge(void **state)
{
	struct zt_relay_challenge c, p;
	uint8_t buf[100];

	(void)state;
	memcpy(c.relay_key, relay_pub, 32);
	fill(c.cookie, 16, 3);
	assert_int_equal(zt_relay_challenge_encode(&c, buf, sizeof(buf)), 64);
	assert_int_equal(zt_relay_msg_type(buf, 64), ZT_RELAY_CHALLENGE);
	assert_int_equal(zt_relay_challenge_parse(buf, 64, &p), 0);
	assert_memory_equal(&p, &c, sizeof(c));
	assert_int_equal(zt_relay_challenge_parse(buf, 63, &p), -EBADMSG);
	assert_int_equal(zt_relay_challenge_parse(buf, 65, &p), -EBADMSG);
	buf[63] = 9;
	assert_int_equal(zt_relay_challenge_parse(buf, 64, &p), -EBADMSG);
	/* A hello parser does not take a challenge and the reverse. */
	buf[63] = 0;
	assert_int_equal(zt_relay_hello_parse(buf, 64, p.relay_key), -EBADMSG);
}

static void test_register(void **state)
{
	uint8_t accept[3][32], cookie[16], buf[400];
	struct zt_relay_mac_key k, relay_k, other;
	struct zt_relay_register m;
	size_t len = ZT_RELAY_REGISTER_LEN(3);
	uint8_t mac[32];
	unsigned int maclen;

	(void)state;
	fill(accept[0], sizeof(accept), 11);
	fill(cookie, 16, 5);
	assert_int_equal(zt_relay_mac_key(peer_priv, relay_pub, &k), 0);
	assert_int_equal(zt_relay_mac_key(relay_priv, peer_pub, &relay_k), 0);
	assert_int_equal(zt_relay_register_encode(peer_pub, cookie, accept, 3, &k, buf, len - 1),
			 -ENOSPC);
	assert_int_equal(zt_relay_register_encode(peer_pub, cookie, accept, 3, &k, buf, sizeof(buf)),
			 (ssize_t)len);
	assert_int_equal(zt_relay_register_encode(peer_pub, cookie, NULL, ZT_RELAY_ACCEPT_MAX + 1,
						  &k, buf + 200, 0), -EINVAL);
	assert_int_equal(zt_relay_msg_type(buf, len), ZT_RELAY_REGISTER);
	assert_int_equal(zt_relay_register_parse(buf, len, &m), 0);
	assert_memory_equal(m.key, peer_pub, 32);
	assert_memory_equal(m.cookie, cookie, 16);
	assert_int_equal(m.n, 3);
	assert_memory_equal(m.accept, accept, sizeof(accept));

	/* mac = HMAC-SHA256(K, everything before it)[0:16], checked by the relay's own K. */
	assert_non_null(HMAC(EVP_sha256(), k.k, 32, buf, len - 16, mac, &maclen));
	assert_memory_equal(buf + len - 16, mac, 16);
	assert_true(zt_relay_mac_ok(buf, len, &relay_k));
	for (size_t i = 0; i < len; i += 13) {
		buf[i] ^= 0x40;
		assert_false(zt_relay_mac_ok(buf, len, &relay_k));
		buf[i] ^= 0x40;
	}
	other = k;
	other.k[0] ^= 1;
	assert_false(zt_relay_mac_ok(buf, len, &other));

	/* n must match the length exactly. */
	for (size_t n = 0; n < len; n++)
		assert_int_equal(zt_relay_register_parse(buf, n, &m), -EBADMSG);
	buf[len] = 0;
	assert_int_equal(zt_relay_register_parse(buf, len + 1, &m), -EBADMSG);
	buf[53] = 4;
	assert_int_equal(zt_relay_register_parse(buf, len, &m), -EBADMSG);
	assert_true(zt_relay_msg_type(buf, len) < 0);
	buf[53] = 2;
	assert_int_equal(zt_relay_register_parse(buf, len, &m), -EBADMSG);
	buf[53] = 3;
	/* An n beyond the maximum is refused even with the length to match. */
	{
		size_t big = ZT_RELAY_REGISTER_LEN(ZT_RELAY_ACCEPT_MAX + 1);
		uint8_t *p = calloc(1, big);

		assert_non_null(p);
		p[0] = ZT_RELAY_REGISTER;
		p[52] = (ZT_RELAY_ACCEPT_MAX + 1) >> 8;
		p[53] = (ZT_RELAY_ACCEPT_MAX + 1) & 0xff;
		assert_int_equal(zt_relay_register_parse(p, big, &m), -EBADMSG);
		assert_true(zt_relay_msg_type(p, big) < 0);
		free(p);
	}
	/* No accept list at all is a valid registration. */
	assert_int_equal(zt_relay_register_encode(peer_pub, cookie, NULL, 0, &k, buf, sizeof(buf)), 70);
	assert_int_equal(zt_relay_register_parse(buf, 70, &m), 0);
	assert_int_equal(m.n, 0);
	assert_true(zt_relay_mac_ok(buf, 70, &relay_k));
}

static void test_registered(void **state)
{
	struct zt_relay_registered r = { .index = 0x01020304, .lifetime_s = 60 }, p;
	struct zt_relay_mac_key k;
	char err[64];
	uint8_t buf[64];

	(void)state;
	assert_int_equal(zt_relay_mac_key(relay_priv, peer_pub, &k), 0);
	assert_int_equal(zt_endpoint_parse("198.18.0.7:40000", &r.observed, err, sizeof(err)), 0);
	assert_int_equal(zt_relay_registered_encode(&r, &k, buf, sizeof(buf)), 45);
	assert_int_equal(zt_relay_msg_type(buf, 45), ZT_RELAY_REGISTERED);
	assert_int_equal(buf[8], 4);
	assert_int_equal(zt_relay_registered_parse(buf, 45, &p), 0);
	assert_int_equal(p.index, r.index);
	assert_int_equal(p.lifetime_s, 60);
	assert_true(zt_endpoint_equal(&p.observed, &r.observed));
	assert_true(zt_relay_mac_ok(buf, 45, &k));
	buf[8] = 5;	/* unknown family */
	assert_int_equal(zt_relay_registered_parse(buf, 45, &p), -EBADMSG);
	buf[8] = 4;
	buf[11] = 1;	/* family 4 with an address that is not IPv4-mapped */
	assert_int_equal(zt_relay_registered_parse(buf, 45, &p), -EBADMSG);
	assert_int_equal(zt_endpoint_parse("[2001:db8::5]:3478", &r.observed, err, sizeof(err)), 0);
	assert_int_equal(zt_relay_registered_encode(&r, &k, buf, sizeof(buf)), 45);
	assert_int_equal(zt_relay_registered_parse(buf, 45, &p), 0);
	assert_true(zt_endpoint_equal(&p.observed, &r.observed));
	assert_int_equal(zt_relay_registered_parse(buf, 44, &p), -EBADMSG);
	assert_int_equal(zt_relay_registered_parse(buf, 46, &p), -EBADMSG);
}

static void test_keepalive_error(void **state)
{
	struct zt_relay_mac_key k;
	uint8_t buf[64], key[32];
	uint16_t code;

	(void)state;
	assert_int_equal(zt_relay_mac_key(peer_priv, relay_pub, &k), 0);
	assert_int_equal(zt_relay_keepalive_encode(peer_pub, &k, buf, sizeof(buf)), 52);
	assert_int_equal(zt_relay_keepalive_parse(buf, 52, key), 0);
	assert_memory_equal(key, peer_pub, 32);
	assert_true(zt_relay_mac_ok(buf, 52, &k));
	assert_int_equal(zt_relay_keepalive_parse(buf, 51, key), -EBADMSG);
	/* A mac is only checked on messages that carry one. */
	assert_int_equal(zt_relay_error_encode(ZT_RELAY_E_NOT_ACCEPTED, buf, sizeof(buf)), 8);
	assert_false(zt_relay_mac_ok(buf, 8, &k));
	assert_int_equal(zt_relay_error_parse(buf, 8, &code), 0);
	assert_int_equal(code, ZT_RELAY_E_NOT_ACCEPTED);
	assert_int_equal(zt_relay_error_parse(buf, 7, &code), -EBADMSG);
	assert_int_equal(zt_relay_error_parse(buf, 9, &code), -EBADMSG);
	buf[7] = 1;
	assert_int_equal(zt_relay_error_parse(buf, 8, &code), -EBADMSG);
	assert_int_equal(zt_relay_error_encode(1, buf, 7), -ENOSPC);
}

static void test_fwd(void **state)
{
	uint8_t data[300], buf[400];
	struct zt_relay_fwd f;
	ssize_t n;

	(void)state;
	fill(data, sizeof(data), 1);
	n = zt_relay_fwd_encode(ZT_RELAY_SEND, relay_pub, data, sizeof(data), buf, sizeof(buf));
	assert_int_equal(n, 336);
	assert_int_equal(zt_relay_msg_type(buf, 336), ZT_RELAY_SEND);
	assert_int_equal(zt_relay_fwd_parse(ZT_RELAY_SEND, buf, 336, &f), 0);
	assert_memory_equal(f.key, relay_pub, 32);
	assert_int_equal(f.len, 300);
	assert_memory_equal(f.datagram, data, 300);
	/* A send is not a recv. */
	assert_int_equal(zt_relay_fwd_parse(ZT_RELAY_RECV, buf, 336, &f), -EBADMSG);
	/* At least one byte of datagram; none is refused both ways. */
	assert_int_equal(zt_relay_fwd_parse(ZT_RELAY_SEND, buf, 36, &f), -EBADMSG);
	assert_true(zt_relay_msg_type(buf, 36) < 0);
	assert_int_equal(zt_relay_fwd_parse(ZT_RELAY_SEND, buf, 37, &f), 0);
	assert_int_equal(zt_relay_fwd_encode(ZT_RELAY_SEND, relay_pub, data, 0, buf, sizeof(buf)),
			 -EINVAL);
	assert_int_equal(zt_relay_fwd_encode(ZT_RELAY_RECV, relay_pub, data, 300, buf, 335), -ENOSPC);
	assert_int_equal(zt_relay_fwd_encode(ZT_RELAY_HELLO, relay_pub, data, 3, buf, sizeof(buf)),
			 -EINVAL);
	/* Longer than a TCP frame can carry: refused. */
	assert_true(zt_relay_msg_type(buf, ZT_RELAY_MSG_MAX + 1) < 0);
	/* In place: the relay rewrites send into recv without a copy. */
	n = zt_relay_fwd_encode(ZT_RELAY_RECV, peer_pub, buf + 36, 300, buf, sizeof(buf));
	assert_int_equal(n, 336);
	assert_int_equal(zt_relay_fwd_parse(ZT_RELAY_RECV, buf, 336, &f), 0);
	assert_memory_equal(f.key, peer_pub, 32);
	assert_memory_equal(f.datagram, data, 300);
}

/* Every byte value as a type: only 0x10-0x17 with the right sizes pass. */
static void test_types(void **state)
{
	uint8_t buf[200] = { 0 };

	(void)state;
	for (int t = 0; t < 256; t++) {
		buf[0] = (uint8_t)t;
		for (size_t n = 0; n <= sizeof(buf); n++) {
			int r = zt_relay_msg_type(buf, n);

			if (t < 0x10 || t > 0x17)
				assert_true(r < 0);
			else if (r >= 0)
				assert_int_equal(r, t);
		}
	}
	assert_true(zt_relay_looks_like((const uint8_t *)"\x1f\0\0\0", 4));
	assert_false(zt_relay_looks_like((const uint8_t *)"\x04\0\0\0", 4));
	assert_false(zt_relay_looks_like((const uint8_t *)"\x10\0\0", 3));
}

static void sin_of(struct sockaddr_in *s, const char *ip, uint16_t port)
{
	memset(s, 0, sizeof(*s));
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	inet_pton(AF_INET, ip, &s->sin_addr);
}

static void test_cookie(void **state)
{
	struct zt_relay_cookie_secret s = { 0 };
	struct sockaddr_in a, b, c;
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(5000) };
	struct sockaddr_un_like { sa_family_t f; char p[20]; } unix_addr = { .f = AF_UNIX };
	uint8_t c1[16], c2[16], other_key[32];
	uint64_t t0 = 1000 * SEC;

	(void)state;
	sin_of(&a, "198.18.0.2", 5000);
	sin_of(&b, "198.18.0.3", 5000);
	sin_of(&c, "198.18.0.2", 5001);
	inet_pton(AF_INET6, "::ffff:198.18.0.2", &a6.sin6_addr);
	memcpy(other_key, peer_pub, 32);
	other_key[31] ^= 1;

	assert_int_equal(zt_relay_cookie_make(&s, t0, (struct sockaddr *)&a, peer_pub, c1), 0);
	assert_true(zt_relay_cookie_ok(&s, t0, (struct sockaddr *)&a, peer_pub, c1));
	/* The same IPv4 peer seen through a dual-stack socket: the same cookie. */
	assert_true(zt_relay_cookie_ok(&s, t0, (struct sockaddr *)&a6, peer_pub, c1));
	/* Bound to the address, the port and the key. */
	assert_false(zt_relay_cookie_ok(&s, t0, (struct sockaddr *)&b, peer_pub, c1));
	assert_false(zt_relay_cookie_ok(&s, t0, (struct sockaddr *)&c, peer_pub, c1));
	assert_false(zt_relay_cookie_ok(&s, t0, (struct sockaddr *)&a, other_key, c1));
	/* Bound to the transport (issue 10 B3): a UDP cookie registers no TCP connection. */
	assert_true(zt_relay_cookie_ok_on(&s, t0, (struct sockaddr *)&a, false, peer_pub, c1));
	assert_false(zt_relay_cookie_ok_on(&s, t0, (struct sockaddr *)&a, true, peer_pub, c1));
	{
		uint8_t ct[ZT_RELAY_COOKIE_LEN];

		assert_int_equal(zt_relay_cookie_make_on(&s, t0, (struct sockaddr *)&a, true, peer_pub,
							 ct), 0);
		assert_memory_not_equal(ct, c1, sizeof(ct));
		assert_true(zt_relay_cookie_ok_on(&s, t0, (struct sockaddr *)&a, true, peer_pub, ct));
		assert_false(zt_relay_cookie_ok(&s, t0, (struct sockaddr *)&a, peer_pub, ct));
	}
	c1[0] ^= 1;
	assert_false(zt_relay_cookie_ok(&s, t0, (struct sockaddr *)&a, peer_pub, c1));
	c1[0] ^= 1;
	assert_int_equal(zt_relay_cookie_make(&s, t0, (struct sockaddr *)&unix_addr, peer_pub, c2),
			 -EAFNOSUPPORT);

	/* Rotation: valid through the next period, dead after two. */
	assert_true(zt_relay_cookie_ok(&s, t0 + 119 * SEC, (struct sockaddr *)&a, peer_pub, c1));
	assert_true(zt_relay_cookie_ok(&s, t0 + 121 * SEC, (struct sockaddr *)&a, peer_pub, c1));
	assert_int_equal(zt_relay_cookie_make(&s, t0 + 121 * SEC, (struct sockaddr *)&a, peer_pub,
					      c2), 0);
	assert_memory_not_equal(c1, c2, 16);
	assert_true(zt_relay_cookie_ok(&s, t0 + 239 * SEC, (struct sockaddr *)&a, peer_pub, c1));
	assert_false(zt_relay_cookie_ok(&s, t0 + 242 * SEC, (struct sockaddr *)&a, peer_pub, c1));
	assert_true(zt_relay_cookie_ok(&s, t0 + 242 * SEC, (struct sockaddr *)&a, peer_pub, c2));
	/* A relay idle for longer than two periods honours nothing old. */
	assert_false(zt_relay_cookie_ok(&s, t0 + 1000 * SEC, (struct sockaddr *)&a, peer_pub, c2));
	zt_relay_cookie_secret_destroy(&s);
}

/* ---- the client against spoofed control messages ---- */

/* What the client sent to the relay: the last message of each type. */
static uint8_t sent[0x20][2048];
static size_t sent_len[0x20];
static unsigned int sent_count[0x20];

static int capture_send(void *ctx, const uint8_t *dg, size_t len, const struct sockaddr_storage *dst)
{
	(void)ctx;
	(void)dst;
	if (len >= 1 && dg[0] < 0x20 && len <= sizeof(sent[0])) {
		memcpy(sent[dg[0]], dg, len);
		sent_len[dg[0]] = len;
		sent_count[dg[0]]++;
	}
	return 0;
}

/* The relay's challenge naming RELAY_KEY, fed to RC. */
static void feed_challenge(struct zt_relay_client *rc, const uint8_t key[32], uint8_t cookie_seed)
{
	struct zt_relay_challenge ch;
	uint8_t msg[ZT_RELAY_CHALLENGE_LEN];

	memcpy(ch.relay_key, key, 32);
	fill(ch.cookie, sizeof(ch.cookie), cookie_seed);
	assert_int_equal(zt_relay_challenge_encode(&ch, msg, sizeof(msg)), sizeof(msg));
	zt_relay_client_input(rc, msg, sizeof(msg));
}

static void feed_registered(struct zt_relay_client *rc, const struct zt_relay_mac_key *k)
{
	struct zt_relay_registered m = { .index = 7, .lifetime_s = 60 };
	uint8_t msg[ZT_RELAY_REGISTERED_LEN];

	m.observed.family = AF_INET;
	m.observed.port = 40000;
	m.observed.addr[10] = m.observed.addr[11] = 0xff;
	m.observed.addr[12] = 198;
	m.observed.addr[13] = 18;
	m.observed.addr[15] = 2;
	assert_int_equal(zt_relay_registered_encode(&m, k, msg, sizeof(msg)), sizeof(msg));
	zt_relay_client_input(rc, msg, sizeof(msg));
}

static bool client_registered(struct zt_relay_client *rc)
{
	struct zt_relay_client_stats st;

	zt_relay_client_stats(rc, &st);
	return st.registered;
}

/*
 * Issue 10 A5: an 8-byte error 4 from the relay's address (spoofable) does
 * not deregister the peer, only starts a re-registration, and a challenge
 * naming another key never replaces the relay's key once a MACed
 * registration pinned it: the register that follows is MACed for the real
 * relay, which registers it again; the peer stayed registered throughout.
 */
static void test_client_spoofed_control(void **state)
{
	struct zt_relay_client_cfg cfg = { .relay = "198.18.0.1:3478", .udp_send = capture_send };
	struct zt_relay_mac_key k, kx;
	struct zt_relay_client_stats st;
	struct zt_relay_client *rc;
	struct zt_loop *loop;
	uint8_t x_pub[32], x_priv[32], err8[ZT_RELAY_ERROR_LEN], accept[1][32];
	unsigned int registers;
	char errbuf[128];

	(void)state;
	memset(sent_count, 0, sizeof(sent_count));
	X25519_keypair(x_pub, x_priv);
	memcpy(cfg.private_key, peer_priv, 32);
	assert_int_equal(zt_loop_new(&loop), 0);
	assert_int_equal(zt_relay_client_open(loop, &cfg, NULL, NULL, &rc, errbuf, sizeof(errbuf)), 0);
	fill(accept[0], 32, 3);
	assert_int_equal(zt_relay_client_set_accept(rc, (const uint8_t (*)[32])accept, 1), 0);
	assert_int_equal(sent_count[ZT_RELAY_HELLO], 1);
	assert_int_equal(zt_relay_mac_key(relay_priv, peer_pub, &k), 0);
	assert_int_equal(zt_relay_mac_key(x_priv, peer_pub, &kx), 0);

	/* Registered with the real relay: its key is pinned. */
	feed_challenge(rc, relay_pub, 1);
	assert_int_equal(sent_count[ZT_RELAY_REGISTER], 1);
	assert_true(zt_relay_mac_ok(sent[ZT_RELAY_REGISTER], sent_len[ZT_RELAY_REGISTER], &k));
	feed_registered(rc, &k);
	assert_true(client_registered(rc));

	/* A spoofed error 4: still registered; a hello goes out to check. */
	assert_int_equal(zt_relay_error_encode(ZT_RELAY_E_NOT_REGISTERED, err8, sizeof(err8)),
			 sizeof(err8));
	zt_relay_client_input(rc, err8, sizeof(err8));
	assert_true(client_registered(rc));
	assert_int_equal(sent_count[ZT_RELAY_HELLO], 2);
	/* More of them within a second start nothing more. */
	for (int i = 0; i < 50; i++)
		zt_relay_client_input(rc, err8, sizeof(err8));
	assert_int_equal(sent_count[ZT_RELAY_HELLO], 2);
	assert_true(client_registered(rc));

	/* A spoofed challenge with another key: ignored, no register MACed for it. */
	registers = sent_count[ZT_RELAY_REGISTER];
	feed_challenge(rc, x_pub, 2);
	assert_int_equal(sent_count[ZT_RELAY_REGISTER], registers);
	zt_relay_client_stats(rc, &st);
	assert_int_equal(st.rx_spoofed, 1);
	assert_true(client_registered(rc));

	/* The real relay's challenge: register MACed for it, registered again. */
	feed_challenge(rc, relay_pub, 3);
	assert_int_equal(sent_count[ZT_RELAY_REGISTER], registers + 1);
	assert_true(zt_relay_mac_ok(sent[ZT_RELAY_REGISTER], sent_len[ZT_RELAY_REGISTER], &k));
	assert_false(zt_relay_mac_ok(sent[ZT_RELAY_REGISTER], sent_len[ZT_RELAY_REGISTER], &kx));
	feed_registered(rc, &k);
	assert_true(client_registered(rc));
	/* A registered MACed with the spoofer's key changes nothing either. */
	feed_registered(rc, &kx);
	assert_true(client_registered(rc));

	zt_relay_client_close(rc);
	zt_loop_free(loop);
	zt_relay_mac_key_destroy(&k);
	zt_relay_mac_key_destroy(&kx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_mac_key),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_challenge),
		cmocka_unit_test(test_register),
		cmocka_unit_test(test_registered),
		cmocka_unit_test(test_keepalive_error),
		cmocka_unit_test(test_fwd),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_cookie),
		cmocka_unit_test(test_client_spoofed_control),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
