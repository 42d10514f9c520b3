// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the tunnel: the input is a datagram arriving at a
 * connector's tunnel socket.
 *
 * The wire codec must refuse anything that is not exactly a message, and
 * what it accepts must encode back to the same bytes. Then the datagram
 * goes into a live engine (zt_tunnel_input) that has a known peer. Random
 * bytes never carry a valid mac1, so when the input asks for it (its last
 * byte odd) the harness writes the right mac1 into handshake messages: the
 * engine then runs the Noise handshake on fuzzed keys and ciphertexts, and,
 * as initiations add up within a second, the under-load cookie path.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/loop.h"
#include "tunnel/noise.h"
#include "tunnel/tunnel.h"
#include "tunnel/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static struct zt_loop *loop;
static struct zt_tunnel *engine;
static uint8_t engine_mac1_key[32];

static void on_recv(void *ctx, struct zt_tunnel_peer *p, uint8_t *payload, size_t len)
{
	(void)ctx, (void)p, (void)payload, (void)len;
	__builtin_trap();	/* nobody but the peer's key can make a packet open */
}

static void setup(void)
{
	static const struct zt_tunnel_ops ops = { .recv = on_recv };
	struct zt_tunnel_cfg cfg = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&cfg.listen;
	uint8_t pub[32], peer_pub[32], peer_priv[32];
	char err[256];

	/* Fixed keys: runs repeat. The peer's private key is thrown away. */
	memset(cfg.private_key, 0x42, sizeof(cfg.private_key));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	check(zt_loop_new(&loop) == 0);
	check(zt_tunnel_open(loop, &cfg, &ops, NULL, &engine, err, sizeof(err)) == 0);
	zt_tunnel_public_key(engine, pub);
	zt_tw_mac1_key(pub, engine_mac1_key);
	memset(peer_priv, 0x17, sizeof(peer_priv));
	zt_noise_public_key(peer_pub, peer_priv);
	check(zt_tunnel_peer_add(engine, peer_pub, NULL, NULL, NULL) == 0);
}

static void check_wire(const uint8_t *msg, size_t size)
{
	uint8_t out[ZT_TW_INITIATION_LEN];
	int type = zt_tw_type(msg, size);

	check(type == -EBADMSG || (type >= ZT_TW_INITIATION && type <= ZT_TW_TRANSPORT));
	if (type == ZT_TW_INITIATION) {
		struct zt_tw_initiation m;

		check(zt_tw_initiation_parse(msg, size, &m) == 0);
		check(zt_tw_initiation_encode(&m, out, sizeof(out)) == (ssize_t)size);
		check(!memcmp(out, msg, size));
	} else {
		struct zt_tw_initiation m;

		check(zt_tw_initiation_parse(msg, size, &m) == -EBADMSG);
	}
	if (type == ZT_TW_RESPONSE) {
		struct zt_tw_response m;

		check(zt_tw_response_parse(msg, size, &m) == 0);
		check(zt_tw_response_encode(&m, out, sizeof(out)) == (ssize_t)size);
		check(!memcmp(out, msg, size));
	}
	if (type == ZT_TW_COOKIE_REPLY) {
		struct zt_tw_cookie_reply m;
		uint8_t cookie[ZT_TW_COOKIE_LEN], mac1[ZT_TW_MAC_LEN] = { 0 };

		check(zt_tw_cookie_reply_parse(msg, size, &m) == 0);
		check(zt_tw_cookie_reply_encode(&m, out, sizeof(out)) == (ssize_t)size);
		check(!memcmp(out, msg, size));
		check(zt_tw_cookie_reply_open(engine_mac1_key, msg, size, mac1, cookie) == -EBADMSG);
	}
	if (type == ZT_TW_TRANSPORT) {
		struct zt_tw_transport m;

		check(zt_tw_transport_parse(msg, size, &m) == 0);
		check(m.sealed == msg + ZT_TW_TRANSPORT_HEADER_LEN && m.sealed_len + 16 == size);
		check(m.sealed_len >= ZT_NOISE_TAG_LEN);
	}
	/* MAC checks read only inside: random bytes do not pass them. */
	if (type == ZT_TW_INITIATION || type == ZT_TW_RESPONSE) {
		(void)zt_tw_mac1_ok(msg, size, engine_mac1_key);
	} else {
		check(!zt_tw_mac1_ok(msg, size, engine_mac1_key));
		check(!zt_tw_mac2_ok(msg, size, engine_mac1_key));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(9),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct zt_tunnel_stats before, after;
	uint8_t *copy;
	int type;

	if (!engine)
		setup();
	/* Exact-size copy, so ASan catches any read past the end. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	check_wire(copy, size);

	type = zt_tw_type(copy, size);
	if (size && (data[size - 1] & 1) && (type == ZT_TW_INITIATION || type == ZT_TW_RESPONSE))
		check(zt_tw_mac1_write(copy, size, engine_mac1_key) == 0);
	zt_tunnel_stats(engine, &before);
	zt_tunnel_input(engine, copy, size, (struct sockaddr *)&src, sizeof(src));
	zt_tunnel_stats(engine, &after);
	check(after.rx_datagrams == before.rx_datagrams + 1);
	/* The peer's private key is unknown here: no handshake completes, no session exists. */
	check(after.rx_replay == 0 && after.rx_bad_tag == 0);
	if (type < 0)
		check(after.rx_malformed == before.rx_malformed + 1);
	free(copy);
	return 0;
}
