// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the relay's messages (daemon/relay/proto.c): the
 * input is a datagram arriving at the relay's port or at a peer from a
 * relay.
 *
 * zt_relay_msg_type() and each parser must agree (a parser accepts exactly
 * what the type test accepts for its type), and what a parser accepts must
 * encode back to the same bytes. When the input's last byte is odd the
 * harness writes the right mac into messages that carry one, so the mac
 * check runs on both outcomes; cookies are checked against their source.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "relay/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static struct zt_relay_mac_key mac_key;
static struct zt_relay_cookie_secret secret;

static void setup(void)
{
	uint8_t a[32], b[32];

	memset(a, 0x42, sizeof(a));
	memset(b, 0x17, sizeof(b));
	/* b as a public "key" is just 32 bytes; X25519 takes any that is not low order. */
	check(zt_relay_mac_key(a, b, &mac_key) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static uint8_t msg[ZT_RELAY_MSG_MAX + 1], out[ZT_RELAY_MSG_MAX + 1];
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(4242),
				   .sin_addr.s_addr = htonl(0xc6120001) };
	bool mac_written;
	int type, ok;

	if (!ready) {
		setup();
		ready = true;
	}
	if (size > sizeof(msg))
		return 0;
	memcpy(msg, data, size);
	type = zt_relay_msg_type(msg, size);
	mac_written = false;
	if (size && (data[size - 1] & 1)) {
		/* Write the mac the way an encoder does: it must then check. */
		struct zt_relay_register reg;
		struct zt_relay_registered rd;
		ssize_t n = -1;

		if (type == ZT_RELAY_KEEPALIVE)
			n = zt_relay_keepalive_encode(msg + 4, &mac_key, out, sizeof(out));
		else if (type == ZT_RELAY_REGISTER && !zt_relay_register_parse(msg, size, &reg))
			n = zt_relay_register_encode(reg.key, reg.cookie,
						     (const uint8_t (*)[32])reg.accept, reg.n,
						     &mac_key, out, sizeof(out));
		else if (type == ZT_RELAY_REGISTERED && !zt_relay_registered_parse(msg, size, &rd))
			n = zt_relay_registered_encode(&rd, &mac_key, out, sizeof(out));
		if (n > 0) {
			check((size_t)n == size);
			memcpy(msg, out, size);
			check(zt_relay_mac_ok(msg, size, &mac_key));
			mac_written = true;
		}
	}

	{
		uint8_t key[32];
		struct zt_relay_challenge ch;
		struct zt_relay_register reg;
		struct zt_relay_registered rd;
		struct zt_relay_fwd f;
		uint16_t code;
		ssize_t n;

		ok = !zt_relay_hello_parse(msg, size, key);
		check(!ok || type == ZT_RELAY_HELLO);
		if (ok) {
			n = zt_relay_hello_encode(key, out, sizeof(out));
			check(n == (ssize_t)size && !memcmp(out, msg, size));
		}
		ok = !zt_relay_challenge_parse(msg, size, &ch);
		check(!ok || type == ZT_RELAY_CHALLENGE);
		if (ok) {
			n = zt_relay_challenge_encode(&ch, out, sizeof(out));
			check(n == (ssize_t)size && !memcmp(out, msg, size));
		}
		ok = !zt_relay_register_parse(msg, size, &reg);
		check(ok == (type == ZT_RELAY_REGISTER));
		if (ok) {
			check(reg.accept + (size_t)reg.n * 32 + 16 == msg + size);
			n = zt_relay_register_encode(reg.key, reg.cookie,
						     (const uint8_t (*)[32])reg.accept, reg.n,
						     &mac_key, out, sizeof(out));
			check(n == (ssize_t)size && !memcmp(out, msg, size - 16));
			check(zt_relay_mac_ok(out, size, &mac_key));
			check(zt_relay_mac_ok(msg, size, &mac_key) == !memcmp(out, msg, size));
		}
		ok = !zt_relay_registered_parse(msg, size, &rd);
		check(!ok || type == ZT_RELAY_REGISTERED);
		if (ok) {
			n = zt_relay_registered_encode(&rd, &mac_key, out, sizeof(out));
			check(n == (ssize_t)size && !memcmp(out, msg, size - 16));
		}
		ok = !zt_relay_keepalive_parse(msg, size, key);
		check(ok == (type == ZT_RELAY_KEEPALIVE));
		if (ok && mac_written)
			check(zt_relay_mac_ok(msg, size, &mac_key));
		for (uint8_t t = ZT_RELAY_SEND; t <= ZT_RELAY_RECV; t++) {
			ok = !zt_relay_fwd_parse(t, msg, size, &f);
			check(ok == (type == t));
			if (ok) {
				n = zt_relay_fwd_encode(t, f.key, f.datagram, f.len, out, sizeof(out));
				check(n == (ssize_t)size && !memcmp(out, msg, size));
			}
		}
		ok = !zt_relay_error_parse(msg, size, &code);
		check(!ok || type == ZT_RELAY_ERROR);
		if (ok) {
			n = zt_relay_error_encode(code, out, sizeof(out));
			check(n == (ssize_t)size && !memcmp(out, msg, size));
		}
	}
	/* A cookie from a random secret never matches random bytes by accident (2^-128). */
	if (size >= 48) {
		uint8_t cookie[16];

		check(zt_relay_cookie_make(&secret, 1, (struct sockaddr *)&src, msg, cookie) == 0);
		check(zt_relay_cookie_ok(&secret, 1, (struct sockaddr *)&src, msg, cookie));
		check(!zt_relay_cookie_ok(&secret, 1, (struct sockaddr *)&src, msg, msg + 32) ||
		      !memcmp(cookie, msg + 32, 16));
	}
	return 0;
}
