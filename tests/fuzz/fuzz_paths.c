// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the tunnel control messages the path manager reads
 * (daemon/path/paths.c: candidates 0x03, probe 0x04, probe-ack 0x05;
 * daemon/tunnel/ctrl.h), through its public API as a node runs it.
 *
 * Two live tunnel engines, A (the fuzzer's side) and B (with a zt_paths
 * and one fake relay), in this process: neither knows the other's
 * endpoint, so every datagram either sends goes out through ops.relay_send
 * into a queue the harness delivers, synchronously, no socket in the way.
 * The handshake runs once in setup; afterwards each record of the input
 * is a payload A seals to B (zt_tunnel_send) and the harness delivers
 * either relayed (zt_paths_relayed_input) or as if direct from one of a
 * few loopback sources (zt_tunnel_input with that source), so B's
 * zt_paths_recv sees it with either rx path and runs the candidate, probe
 * and upgrade logic; B's answers (probe-acks, candidates, probes) are
 * delivered back to A. Records: [how][len][len bytes]; how & 3: relayed,
 * or direct from source 1-3; how & 4 makes the first byte a control type
 * (0x03 + (how >> 3) % 3) so most records reach the parsers; how & 0x80
 * echoes the id of B's last probe back as a probe-ack (so an upgrade to
 * direct happens). Invariants: no crash, ASan clean, B's candidate count
 * for A at most ZT_PATHS_CANDIDATES_MAX, the status always readable.
 *
 * Not reached here: bind (0x01) and bind-ack (0x02), read by
 * daemon/forward/connector.c and forward/client.c through
 * forward/bind_msg.c, which tests/fuzz/fuzz_bind.c fuzzes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/loop.h"
#include "path/paths.h"
#include "tunnel/ctrl.h"
#include "tunnel/noise.h"
#include "tunnel/tunnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

#define QMAX 64

struct queue {
	uint8_t buf[QMAX][2048];
	size_t len[QMAX];
	unsigned int n;
};

static struct zt_loop *loop;
static struct zt_tunnel *ta, *tb;
static struct zt_tunnel_peer *a_to_b, *b_to_a;
static struct zt_paths *ps;
static uint8_t pub_a[32], pub_b[32];
/* What each side sent, not yet delivered; the spares take the next round's (swapped, not copied). */
static struct queue queues[4];
static struct queue *to_a = &queues[0], *to_b = &queues[1], *spare_a = &queues[2], *spare_b = &queues[3];
static uint8_t last_probe[ZT_PROBE_LEN];

static void enqueue(struct queue *q, const uint8_t *d, size_t len)
{
	if (q->n == QMAX || len > sizeof(q->buf[0]))
		return;
	memcpy(q->buf[q->n], d, len);
	q->len[q->n++] = len;
}

static int a_relay_send(void *ctx, struct zt_tunnel_peer *p, const uint8_t *d, size_t len)
{
	(void)ctx, (void)p;
	enqueue(to_b, d, len);
	return 0;
}

static void a_recv(void *ctx, struct zt_tunnel_peer *p, uint8_t *payload, size_t len)
{
	(void)ctx, (void)p;
	if (len == ZT_PROBE_LEN && payload[0] == ZT_CTRL_PROBE)
		memcpy(last_probe, payload, len);
}

static void b_recv(void *ctx, struct zt_tunnel_peer *p, uint8_t *payload, size_t len)
{
	(void)ctx;
	(void)zt_paths_recv(ps, p, payload, len);
}

static void b_session_up(void *ctx, struct zt_tunnel_peer *p)
{
	(void)ctx;
	zt_paths_session_up(ps, p);
}

static int b_relay_send(void *ctx, struct zt_tunnel_peer *p, const uint8_t *d, size_t len)
{
	(void)ctx;
	return zt_paths_relay_send(ps, p, d, len);
}

/* The fake relay B's paths send through: on to A. */
static int fake_relay_send(void *rc, const uint8_t key[ZT_NOISE_KEY_LEN], const uint8_t *d,
			   size_t len)
{
	(void)rc;
	if (memcmp(key, pub_a, 32))
		return -ENOTCONN;
	enqueue(to_a, d, len);
	return 0;
}

static void src_of(int i, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin->sin_port = htons((uint16_t)(9 + i));	/* discard-ish ports: nothing listens */
}

/* Deliver what is queued, both ways, until quiet (bounded). HOW: 0 relayed, else direct source. */
static void deliver(int how)
{
	for (int round = 0; round < 8 && (to_a->n || to_b->n); round++) {
		struct queue *qa = to_a, *qb = to_b;

		/* This round's go out of QA/QB; what they make queues in the spares. */
		to_a = spare_a, to_b = spare_b;
		spare_a = qa, spare_b = qb;
		to_a->n = to_b->n = 0;
		for (unsigned int i = 0; i < qb->n; i++) {
			if (how) {
				struct sockaddr_storage ss;

				src_of(how, &ss);
				zt_tunnel_input(tb, qb->buf[i], qb->len[i], (struct sockaddr *)&ss,
						sizeof(struct sockaddr_in));
			} else {
				zt_paths_relayed_input(ps, 0, pub_a, qb->buf[i], qb->len[i]);
			}
		}
		for (unsigned int i = 0; i < qa->n; i++)
			zt_tunnel_input_relayed(ta, pub_b, qa->buf[i], qa->len[i]);
	}
	to_a->n = to_b->n = 0;
}

static void setup(void)
{
	static const struct zt_tunnel_ops aops = { .recv = a_recv, .relay_send = a_relay_send };
	static const struct zt_tunnel_ops bops = { .recv = b_recv, .session_up = b_session_up,
						   .relay_send = b_relay_send };
	struct zt_tunnel_cfg ca = { 0 }, cb = { 0 };
	struct zt_paths_cfg pc = { .no_local_addresses = true };
	struct zt_paths_relay relay = { .name = "fake:3478", .send = fake_relay_send };
	struct sockaddr_storage obs;
	char err[256];
	uint8_t one = 1;

	zt_log_set_level("error");	/* a line per upgrade or fallback would cost more than the input */
	check(zt_loop_new(&loop) == 0);
	memset(ca.private_key, 0x41, 32);
	memset(cb.private_key, 0x42, 32);
	zt_noise_public_key(pub_a, ca.private_key);
	zt_noise_public_key(pub_b, cb.private_key);
	for (struct zt_tunnel_cfg *c = &ca; c; c = c == &ca ? &cb : NULL) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&c->listen;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	check(zt_tunnel_open(loop, &ca, &aops, NULL, &ta, err, sizeof(err)) == 0);
	check(zt_tunnel_open(loop, &cb, &bops, NULL, &tb, err, sizeof(err)) == 0);
	check(zt_paths_open(loop, tb, &pc, &ps, err, sizeof(err)) == 0);
	check(zt_paths_add_relay(ps, &relay) == 0);
	src_of(7, &obs);
	zt_paths_set_observed(ps, 0, &obs);
	check(zt_tunnel_peer_add(ta, pub_b, NULL, NULL, &a_to_b) == 0);
	check(zt_tunnel_peer_add(tb, pub_a, NULL, NULL, &b_to_a) == 0);
	zt_tunnel_peer_set_relayed(a_to_b, true);
	zt_paths_track(ps, b_to_a);
	/* The handshake, relayed: A's first packet starts it. */
	(void)zt_tunnel_send(ta, a_to_b, &one, 1);
	deliver(0);
	{
		struct zt_tunnel_peer_stats sa, sb;

		zt_tunnel_peer_stats(a_to_b, &sa);
		zt_tunnel_peer_stats(b_to_a, &sb);
		fprintf(stderr, "fuzz_paths: session A %d B %d\n", sa.session_up, sb.session_up);
		check(sa.session_up && sb.session_up);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zt_path_status st;
	size_t off;

	if (!loop)
		setup();
	for (off = 0; size - off >= 2;) {
		uint8_t how = data[off];
		size_t n = data[off + 1];
		uint8_t msg[256];

		off += 2;
		if (n > size - off)
			n = size - off;
		memcpy(msg, data + off, n);
		off += n;
		if (how & 0x80 && last_probe[0] == ZT_CTRL_PROBE) {
			memcpy(msg, last_probe, ZT_PROBE_LEN);
			msg[0] = ZT_CTRL_PROBE_ACK;
			n = ZT_PROBE_LEN;
		} else if (how & 4) {
			if (!n)
				n = 1;
			msg[0] = (uint8_t)(ZT_CTRL_CANDIDATES + (how >> 3) % 3);
		}
		if (!n)
			continue;
		(void)zt_tunnel_send(ta, a_to_b, msg, n);
		deliver(how & 3);
		check(zt_paths_status(ps, b_to_a, &st) == 0);
		check(st.candidates <= ZT_PATHS_CANDIDATES_MAX);
	}
	zt_loop_run_once(loop, 0);	/* the paths timer, when due */
	return 0;
}
