// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests: the tunnel engine over real UDP sockets on loopback, two or
 * three engines in this process, each on its own zt_loop. The process
 * moves into a network namespace of its own first (loopback only), so no
 * port or packet touches the host's stack.
 *
 * Some tests put a small UDP relay (struct relay) between client and
 * connector: it can capture a datagram to replay it, and move to a new
 * source port as a NAT rebinding would.
 *
 * Everything waits on a condition with a deadline (WAIT_FOR); the few
 * "nothing happens" checks run the loops for a fixed time and then look
 * at the counters that would have moved.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "lib/loop.h"
#include "lib/clock.h"
#include "tunnel/noise.h"
#include "tunnel/tunnel.h"
#include "tunnel/wire.h"

#define MAX_NODES	3
#define RECV_LOG	4096

struct node {
	const char *name;
	struct zt_loop *loop;
	struct zt_tunnel *t;
	uint8_t priv[32], pub[32];
	uint16_t port;
	/* What recv() got. */
	unsigned int nrecv;
	uint32_t seqs[RECV_LOG];	/* first 4 bytes after the version nibble byte */
	uint8_t last[2048];
	size_t last_len;
	unsigned int sessions_up;
	bool echo;			/* send every payload back */
};

/* A UDP relay: the client talks to FRONT, the relay talks to the connector from BACK. */
struct relay {
	int front, back;
	uint16_t front_port;
	struct sockaddr_in client;	/* learned from the first datagram */
	bool has_client;
	struct sockaddr_in server;
	/* The last datagram of each type the client sent, for replays. */
	uint8_t captured[5][2048];
	size_t captured_len[5];
	unsigned int from_server;	/* datagrams the connector sent to BACK */
};

static struct node *g_nodes[MAX_NODES];
static int g_nnodes;
static struct relay *g_relay;

/*
 * A relay service in this process (ops.relay_send): datagrams wait in a
 * queue and are handed to the destination's zt_tunnel_input_relayed() by
 * pump_once, named by their sender's key, or by LIE_KEY when set (a hostile
 * relay, or someone spoofing it). HOLD keeps them queued.
 */
#define RQ_MAX	512
struct rq_item {
	struct node *to;
	uint8_t from[32];
	uint8_t buf[2048];
	size_t len;
};
static struct rq_item g_rq[RQ_MAX];
static int g_rqn;
static bool g_rq_hold;
static const uint8_t *g_rq_lie_key;

/* ---- relay ---- */

static int udp_socket(uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	if (port)
		*port = ntohs(sin.sin_port);
	return fd;
}

static struct sockaddr_in loopback(uint16_t port)
{
	return (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(port),
				     .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
}

static struct sockaddr_storage ss_loopback(uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in sin = loopback(port);

	memcpy(&ss, &sin, sizeof(sin));
	return ss;
}

static struct relay *relay_new(uint16_t server_port)
{
	struct relay *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->front = udp_socket(&r->front_port);
	r->back = udp_socket(NULL);
	r->server = loopback(server_port);
	return r;
}

static void relay_free(struct relay *r)
{
	if (!r)
		return;
	close(r->front);
	close(r->back);
	free(r);
}

/* A NAT rebinding: the connector now sees the client from a new port. */
static void relay_rebind(struct relay *r, int *old_back)
{
	*old_back = r->back;
	r->back = udp_socket(NULL);
}

static void relay_pump(struct relay *r)
{
	struct sockaddr_in from;
	socklen_t fl;
	uint8_t buf[65536];
	ssize_t n;

	for (;;) {
		fl = sizeof(from);
		n = recvfrom(r->front, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			break;
		r->client = from;
		r->has_client = true;
		if (n >= 1 && buf[0] >= 1 && buf[0] <= 4 && (size_t)n <= sizeof(r->captured[0])) {
			memcpy(r->captured[buf[0]], buf, (size_t)n);
			r->captured_len[buf[0]] = (size_t)n;
		}
		sendto(r->back, buf, (size_t)n, 0, (struct sockaddr *)&r->server, sizeof(r->server));
	}
	for (;;) {
		n = recv(r->back, buf, sizeof(buf), 0);
		if (n < 0)
			break;
		r->from_server++;
		if (r->has_client)
			sendto(r->front, buf, (size_t)n, 0, (struct sockaddr *)&r->client,
			       sizeof(r->client));
	}
}

/* Send a captured client datagram again, as the client's relay port would. */
static void relay_replay(struct relay *r, int type)
{
	assert_true(r->captured_len[type] > 0);
	assert_int_equal(sendto(r->back, r->captured[type], r->captured_len[type], 0,
				(struct sockaddr *)&r->server, sizeof(r->server)),
			 (ssize_t)r->captured_len[type]);
}

/* ---- the in-process relay service ---- */

static void rq_deliver(void)
{
	static struct rq_item it;

	while (g_rqn > 0 && !g_rq_hold) {
		it = g_rq[0];
		memmove(g_rq, g_rq + 1, (size_t)(g_rqn - 1) * sizeof(g_rq[0]));
		g_rqn--;
		zt_tunnel_input_relayed(it.to->t, g_rq_lie_key ? g_rq_lie_key : it.from, it.buf,
					it.len);
	}
}

static int on_relay_send(void *ctx, struct zt_tunnel_peer *p, const uint8_t *dg, size_t len)
{
	struct node *from = ctx;

	for (int i = 0; i < g_nnodes; i++) {
		if (memcmp(g_nodes[i]->pub, zt_tunnel_peer_key(p), 32))
			continue;
		if (g_rqn == RQ_MAX || len > sizeof(g_rq[0].buf))
			return -ENOBUFS;
		g_rq[g_rqn].to = g_nodes[i];
		memcpy(g_rq[g_rqn].from, from->pub, 32);
		memcpy(g_rq[g_rqn].buf, dg, len);
		g_rq[g_rqn].len = len;
		g_rqn++;
		return 0;
	}
	return -ENETUNREACH;
}

/* ---- driving the loops ---- */

static void pump_once(int wait_ms)
{
	struct pollfd pfd[MAX_NODES + 2];
	int n = 0;

	for (int i = 0; i < g_nnodes; i++)
		pfd[n++] = (struct pollfd){ .fd = zt_loop_fd(g_nodes[i]->loop), .events = POLLIN };
	if (g_relay) {
		pfd[n++] = (struct pollfd){ .fd = g_relay->front, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = g_relay->back, .events = POLLIN };
	}
	poll(pfd, (nfds_t)n, wait_ms);
	for (int i = 0; i < g_nnodes; i++)
		while (zt_loop_run_once(g_nodes[i]->loop, 0) > 0)
			;
	if (g_relay)
		relay_pump(g_relay);
	rq_deliver();
}

/* Run every loop until COND holds or MS pass; the value of COND at the end. */
#define WAIT_FOR(cond, ms) ({						\
	uint64_t _deadline = zt_mono_ms() + (ms);				\
	bool _ok;							\
	for (;;) {							\
		if ((_ok = (cond)))					\
			break;						\
		if (zt_mono_ms() >= _deadline)				\
			break;						\
		pump_once(5);						\
	}								\
	_ok;								\
})

/* Run every loop for MS, for checks that something does NOT happen. */
static void settle(int ms)
{
	uint64_t deadline = zt_mono_ms() + (uint64_t)ms;

	while (zt_mono_ms() < deadline)
		pump_once(5);
}

/* Run only NODE's loop for MS (the others are "frozen"; their sockets fill). */
static void run_only(struct node *node, int ms)
{
	uint64_t deadline = zt_mono_ms() + (uint64_t)ms;
	struct pollfd pfd = { .fd = zt_loop_fd(node->loop), .events = POLLIN };

	while (zt_mono_ms() < deadline) {
		poll(&pfd, 1, 5);
		while (zt_loop_run_once(node->loop, 0) > 0)
			;
	}
}

/* ---- nodes ---- */

static void on_recv(void *ctx, struct zt_tunnel_peer *p, uint8_t *payload, size_t len)
{
	struct node *n = ctx;

	if (n->nrecv < RECV_LOG && len >= 5) {
		uint32_t seq;

		memcpy(&seq, payload + 1, 4);
		n->seqs[n->nrecv] = seq;
	}
	n->nrecv++;
	n->last_len = len < sizeof(n->last) ? len : sizeof(n->last);
	memcpy(n->last, payload, n->last_len);
	if (n->echo)
		assert_int_equal(zt_tunnel_send(n->t, p, payload, len), 0);
}

static void on_session_up(void *ctx, struct zt_tunnel_peer *p)
{
	struct node *n = ctx;

	(void)p;
	n->sessions_up++;
}

static const struct zt_tunnel_ops ops = { .recv = on_recv, .session_up = on_session_up,
					   .relay_send = on_relay_send };

/* Test timers: short, so that rekeys and retries happen within a test. */
static struct zt_tunnel_cfg fast_cfg(void)
{
	return (struct zt_tunnel_cfg){
		.rekey_timeout_ms = 100,
		.keepalive_timeout_ms = 10000,
		.rekey_attempt_time_ms = 3000,
	};
}

static struct node *node_open_cfg(const char *name, const struct zt_tunnel_cfg *base, int family)
{
	struct node *n = calloc(1, sizeof(*n));
	struct zt_tunnel_cfg cfg = *base;
	char err[256] = "";

	assert_non_null(n);
	n->name = name;
	zt_noise_keypair(n->pub, n->priv);
	memcpy(cfg.private_key, n->priv, 32);
	memset(&cfg.listen, 0, sizeof(cfg.listen));
	if (family == AF_INET) {
		struct sockaddr_in sin = loopback(0);

		memcpy(&cfg.listen, &sin, sizeof(sin));
	} else if (family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&cfg.listen;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
	}	/* AF_UNSPEC: [::] dual-stack */
	assert_int_equal(zt_loop_new(&n->loop), 0);
	if (zt_tunnel_open(n->loop, &cfg, &ops, n, &n->t, err, sizeof(err)))
		fail_msg("zt_tunnel_open: %s", err);
	n->port = (uint16_t)zt_tunnel_local_port(n->t);
	assert_true(n->port > 0);
	assert_true(g_nnodes < MAX_NODES);
	g_nodes[g_nnodes++] = n;
	return n;
}

static struct node *node_open(const char *name, const struct zt_tunnel_cfg *base)
{
	return node_open_cfg(name, base, AF_INET);
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < g_nnodes; i++) {
		zt_tunnel_close(g_nodes[i]->t);
		zt_loop_free(g_nodes[i]->loop);
		free(g_nodes[i]);
	}
	g_nnodes = 0;
	relay_free(g_relay);
	g_relay = NULL;
	g_rqn = 0;
	g_rq_hold = false;
	g_rq_lie_key = NULL;
	return 0;
}

/* An IPv4-looking payload carrying SEQ. */
static size_t packet(uint8_t *buf, uint32_t seq, size_t len)
{
	memset(buf, 0xab, len);
	buf[0] = 0x45;
	memcpy(buf + 1, &seq, 4);
	return len;
}

static struct zt_tunnel_peer_stats pstats(struct node *n, struct zt_tunnel_peer *p)
{
	struct zt_tunnel_peer_stats st;

	zt_tunnel_peer_stats(p, &st);
	(void)n;
	return st;
}

static struct zt_tunnel_stats tstats(struct node *n)
{
	struct zt_tunnel_stats st;

	zt_tunnel_stats(n->t, &st);
	return st;
}

static uint16_t ep_port(const struct zt_tunnel_peer_stats *st)
{
	if (st->endpoint.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&st->endpoint)->sin_port);
	if (st->endpoint.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&st->endpoint)->sin6_port);
	return 0;
}

/*
 * Client A knows connector B's key and endpoint; B knows A's key only.
 * Through the relay when VIA_RELAY.
 */
static void pair(struct node *a, struct node *b, bool via_relay, struct zt_tunnel_peer **pa_b,
		 struct zt_tunnel_peer **pb_a)
{
	struct sockaddr_storage ep;

	if (via_relay) {
		g_relay = relay_new(b->port);
		ep = ss_loopback(g_relay->front_port);
	} else {
		ep = ss_loopback(b->port);
	}
	assert_int_equal(zt_tunnel_peer_add(a->t, b->pub, &ep, NULL, pa_b), 0);
	assert_int_equal(zt_tunnel_peer_add(b->t, a->pub, NULL, NULL, pb_a), 0);
}

/* ---- tests ---- */

static void test_handshake_and_payload(void **state)
{
	struct zt_tunnel_cfg cfg = fast_cfg();
	struct node *a = node_open("client", &cfg), *b = node_open("connector", &cfg);
	struct zt_tunnel_peer *pab, *pba;
	struct zt_tunnel_peer_stats sa, sb;
	uint8_t buf[1500];

	(void)state;
	pair(a, b, false, &pab, &pba);
	assert_ptr_equal(zt_tunnel_peer_by_key(b->t, a->pub), pba);
	assert_int_equal(zt_tunnel_peer_add(b->t, a->pub, NULL, NULL, NULL), -EEXIST);
	assert_int_equal(zt_tunnel_peer_add(b->t, b->pub, NULL, NULL, NULL), -EINVAL);
	{
		struct sockaddr_storage v6ep = { .ss_family = AF_INET6 };
		uint8_t k[32], priv[32];

		zt_noise_keypair(k, priv);
		assert_int_equal(zt_tunnel_peer_add(a->t, k, &v6ep, NULL, NULL), -EAFNOSUPPORT);
		assert_null(zt_tunnel_peer_by_key(a->t, k));
	}
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, 0), -EMSGSIZE);
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, ZT_TUNNEL_PAYLOAD_MAX + 1), -EMSGSIZE);

	/* The connector cannot reach a client that never talked: it queues, sends nothing. */
	assert_int_equal(zt_tunnel_send(b->t, pba, buf, packet(buf, 7, 100)), 0);
	sb = pstats(b, pba);
	assert_int_equal(sb.queued, 1);
	assert_int_equal(sb.initiations_sent, 0);
	assert_int_equal(sb.endpoint.ss_family, AF_UNSPEC);

	/* The client's first packet starts the handshake and arrives after it. */
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 1, 1420)), 0);
	assert_true(WAIT_FOR(b->nrecv == 1, 2000));
	assert_int_equal(b->last_len, 1420);
	assert_int_equal(b->seqs[0], 1);
	/* ... and the connector's queued packet followed once the session was confirmed. */
	assert_true(WAIT_FOR(a->nrecv == 1, 2000));
	assert_int_equal(a->seqs[0], 7);
	assert_int_equal(a->last_len, 100);

	assert_int_equal(zt_tunnel_send(b->t, pba, buf, packet(buf, 8, 60)), 0);
	assert_true(WAIT_FOR(a->nrecv == 2, 2000));
	assert_int_equal(a->seqs[1], 8);

	sa = pstats(a, pab);
	sb = pstats(b, pba);
	assert_int_equal(sa.handshakes, 1);
	assert_int_equal(sb.handshakes, 1);
	assert_int_equal(sa.initiations_sent, 1);
	assert_int_equal(sb.initiations_sent, 0);
	assert_true(sa.session_up && sb.session_up);
	assert_int_equal(a->sessions_up, 1);
	assert_int_equal(b->sessions_up, 1);
	assert_int_equal(sa.tx_packets, 1);
	assert_int_equal(sa.tx_bytes, 1420);
	assert_int_equal(sb.rx_packets, 1);
	assert_int_equal(sb.rx_bytes, 1420);
	assert_int_equal(sb.tx_packets, 2);
	assert_int_equal(sa.rx_packets, 2);
	assert_true(sa.last_handshake_ns > 0 && sb.last_handshake_ns > 0);
	/* The connector learned the client's endpoint from the handshake. */
	assert_int_equal(sb.endpoint.ss_family, AF_INET);
	assert_int_equal(ep_port(&sb), a->port);
	assert_int_equal(tstats(b).handshake_dh, 1);
	assert_int_equal(tstats(a).rx_replay + tstats(b).rx_replay, 0);
	assert_int_equal(tstats(a).rx_bad_tag + tstats(b).rx_bad_tag, 0);
}

/*
 * A corked burst of equal-sized packets leaves as UDP GSO sends and, on
 * loopback, arrives as UDP GRO receives: every packet still comes out, in
 * order, with its own length, and the counters count datagrams.
 */
static void test_gso_gro_burst(void **state)
{
	struct zt_tunnel_cfg cfg = fast_cfg();
	struct node *a = node_open("client", &cfg), *b = node_open("connector", &cfg);
	struct zt_tunnel_peer *pab, *pba;
	struct zt_tunnel_stats ta0, tb0;
	uint8_t buf[1500];
	const unsigned int burst = 50;	/* over one sendmmsg batch */

	(void)state;
	pair(a, b, false, &pab, &pba);
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 0, 1420)), 0);
	assert_true(WAIT_FOR(b->nrecv == 1, 2000));
	ta0 = tstats(a);
	tb0 = tstats(b);
	zt_tunnel_cork(a->t);
	for (unsigned int i = 1; i <= burst; i++)
		assert_int_equal(zt_tunnel_send(a->t, pab, buf,
						packet(buf, i, i == burst ? 333 : 1420)), 0);
	zt_tunnel_uncork(a->t);
	assert_true(WAIT_FOR(b->nrecv == 1 + burst, 2000));
	for (unsigned int i = 0; i <= burst; i++)
		assert_int_equal(b->seqs[i], i);
	assert_int_equal(b->last_len, 333);
	assert_int_equal(tstats(a).tx_datagrams - ta0.tx_datagrams, burst);
	assert_int_equal(tstats(b).rx_datagrams - tb0.rx_datagrams, burst);
	assert_true(tstats(a).tx_gso_sends > ta0.tx_gso_sends);
	assert_true(tstats(b).rx_gro_messages > tb0.rx_gro_messages);
	assert_int_equal(tstats(b).rx_replay + tstats(b).rx_bad_tag + tstats(b).rx_malformed, 0);
}

/* A key the connector never added: one DH, then silence. */
static void test_unknown_key_no_reply(void **state)
{
	struct zt_tunnel_cfg cfg = fast_cfg();
	struct node *b = node_open("connector", &cfg), *c = node_open("stranger", &cfg);
	struct sockaddr_storage ep = ss_loopback(b->port);
	struct zt_tunnel_peer *pcb;
	uint8_t buf[100];

	(void)state;
	assert_int_equal(zt_tunnel_peer_add(c->t, b->pub, &ep, NULL, &pcb), 0);
	assert_int_equal(zt_tunnel_send(c->t, pcb, buf, packet(buf, 1, sizeof(buf))), 0);
	assert_true(WAIT_FOR(tstats(b).rx_unknown_key >= 1, 2000));
	assert_int_equal(tstats(b).handshake_dh, tstats(b).rx_unknown_key);
	settle(300);
	/* Retries came (every 100 ms) and were all ignored: the stranger heard nothing at all. */
	assert_true(tstats(b).rx_unknown_key >= 2);
	assert_int_equal(tstats(c).rx_datagrams, 0);
	assert_int_equal(tstats(b).tx_datagrams, 0);
	assert_false(pstats(c, pcb).session_up);
	assert_int_equal(b->nrecv, 0);
}

/* Someone without the connector's real public key: mac1 fails, no DH is spent. */
static void test_bad_mac1_dropped_before_dh(void **state)
{
	struct zt_tunnel_cfg cfg = fast_cfg();
	struct node *b = node_open("connector", &cfg), *c = node_open("guesser", &cfg);
	struct sockaddr_storage ep = ss_loopback(b->port);
	struct zt_tunnel_peer *pcb;
	uint8_t wrong_pub[32], wrong_priv[32], buf[100];

	(void)state;
	/* The guesser is even a known device: still nothing without the right key. */
	assert_int_equal(zt_tunnel_peer_add(b->t, c->pub, NULL, NULL, NULL), 0);
	zt_noise_keypair(wrong_pub, wrong_priv);
	assert_int_equal(zt_tunnel_peer_add(c->t, wrong_pub, &ep, NULL, &pcb), 0);
	assert_int_equal(zt_tunnel_send(c->t, pcb, buf, packet(buf, 1, sizeof(buf))), 0);
	assert_true(WAIT_FOR(tstats(b).rx_bad_mac1 >= 2, 2000));
	assert_int_equal(tstats(b).handshake_dh, 0);
	assert_int_equal(tstats(b).tx_datagrams, 0);
	assert_int_equal(tstats(c).rx_datagrams, 0);
}

static void test_replayed_transport_dropped(void **state)
{
	struct zt_tunnel_cfg cfg = fast_cfg();
	struct node *a = node_open("client", &cfg), *b = node_open("connector", &cfg);
	struct zt_tunnel_peer *pab, *pba;
	uint8_t buf[200];

	(void)state;
	pair(a, b, true, &pab, &pba);
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 1, sizeof(buf))), 0);
	assert_true(WAIT_FOR(b->nrecv == 1, 2000));
	/* The relay captured the client's transport packet (the last one: seq 1, 232 bytes). */
	assert_int_equal(g_relay->captured_len[ZT_TW_TRANSPORT], ZT_TW_TRANSPORT_LEN(200));
	relay_replay(g_relay, ZT_TW_TRANSPORT);
	assert_true(WAIT_FOR(tstats(b).rx_replay == 1, 2000));
	settle(50);
	assert_int_equal(b->nrecv, 1);
	/* A forged one (counter changed) does not open and does not move the window. */
	g_relay->captured[ZT_TW_TRANSPORT][8] ^= 0x40;
	relay_replay(g_relay, ZT_TW_TRANSPORT);
	assert_true(WAIT_FOR(tstats(b).rx_bad_tag == 1, 2000));
	/* The real stream goes on. */
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 2, sizeof(buf))), 0);
	assert_true(WAIT_FOR(b->nrecv == 2, 2000));
	assert_int_equal(b->seqs[1], 2);
}

static void test_replayed_initiation_dropped(void **state)
{
	struct zt_tunnel_cfg cfg = fast_cfg();
	struct node *a = node_open("client", &cfg), *b = node_open("connector", &cfg);
	struct zt_tunnel_peer *pab, *pba;
	unsigned int from_server;
	uint8_t buf[100];

	(void)state;
	pair(a, b, true, &pab, &pba);
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 1, sizeof(buf))), 0);
	assert_true(WAIT_FOR(b->nrecv == 1, 2000));
	assert_int_equal(g_relay->captured_len[ZT_TW_INITIATION], ZT_TW_INITIATION_LEN);
	from_server = g_relay->from_server;
	relay_replay(g_relay, ZT_TW_INITIATION);
	assert_true(WAIT_FOR(tstats(b).rx_initiation_replay == 1, 2000));
	settle(100);
	/* No response, no new session: the old one still carries traffic. */
	assert_int_equal(g_relay->from_server, from_server);
	assert_int_equal(pstats(b, pba).handshakes, 1);
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 2, sizeof(buf))), 0);
	assert_true(WAIT_FOR(b->nrecv == 2, 2000));
}

/* Junk initiations with a valid mac1 (anyone who knows the public key can make them). */
static void flood_initiations(int fd, uint16_t port, const uint8_t pub[32], int count)
{
	struct sockaddr_in to = loopback(port);
	uint8_t key[32], msg[ZT_TW_INITIATION_LEN];
	struct zt_tw_initiation m = { .sender = 1 };

	zt_tw_mac1_key(pub, key);
	for (int i = 0; i < count; i++) {
		memset(m.noise, i + 1, sizeof(m.noise));
		assert_int_equal(zt_tw_initiation_encode(&m, msg, sizeof(msg)), sizeof(msg));
		assert_int_equal(zt_tw_mac1_write(msg, sizeof(msg), key), 0);
		assert_int_equal(sendto(fd, msg, sizeof(msg), 0, (struct sockaddr *)&to, sizeof(to)),
				 (ssize_t)sizeof(msg));
	}
}

static void test_cookie_under_load(void **state)
{
	struct zt_tunnel_cfg cfg = fast_cfg();
	struct node *a, *b;
	struct zt_tunnel_peer *pab, *pba;
	struct zt_tunnel_stats sb;
	uint8_t buf[100], reply[128];
	int flood;
	ssize_t n;

	(void)state;
	a = node_open("client", &cfg);
	cfg.under_load_initiations_per_s = 1;
	b = node_open("connector", &cfg);
	pair(a, b, false, &pab, &pba);

	/* Three initiations in a second: the connector is under load. */
	flood = udp_socket(NULL);
	flood_initiations(flood, b->port, b->pub, 3);
	assert_true(WAIT_FOR(tstats(b).rx_datagrams == 3, 2000));
	sb = tstats(b);
	/* The first two were processed (and failed: junk); the third got a cookie, not a DH. */
	assert_int_equal(sb.handshake_dh, 1);
	assert_int_equal(sb.rx_handshake_failed, 1);
	assert_int_equal(sb.cookie_replies_sent, 2);
	n = recv(flood, reply, sizeof(reply), MSG_DONTWAIT);
	assert_int_equal(n, ZT_TW_COOKIE_REPLY_LEN);
	assert_int_equal(zt_tw_type(reply, (size_t)n), ZT_TW_COOKIE_REPLY);
	close(flood);

	/* The real client: cookie reply first, then a retry with mac2 that gets through. */
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 1, sizeof(buf))), 0);
	assert_true(WAIT_FOR(b->nrecv == 1, 3000));
	sb = tstats(b);
	assert_int_equal(pstats(a, pab).cookie_replies_received, 1);
	assert_int_equal(pstats(a, pab).initiations_sent, 2);
	assert_int_equal(sb.cookie_replies_sent, 3);
	assert_int_equal(sb.mac2_accepted, 1);
	assert_int_equal(pstats(b, pba).handshakes, 1);
}

/* Junk initiations with a valid mac1, fed as if a relay said they came from the peer FROM. */
static void flood_relayed(struct node *to, const uint8_t from[32], int count)
{
	uint8_t key[32], msg[ZT_TW_INITIATION_LEN];
	struct zt_tw_initiation m = { .sender = 1 };

	zt_tw_mac1_key(to->pub, key);
	for (int i = 0; i < count; i++) {
		memset(m.noise, i + 1, sizeof(m.noise));
		assert_int_equal(zt_tw_initiation_encode(&m, msg, sizeof(msg)), sizeof(msg));
		assert_int_equal(zt_tw_mac1_write(msg, sizeof(msg), key), 0);
		zt_tunnel_input_relayed(to->t, from, msg, sizeof(msg));
	}
}

/*
 * Issue 10 A1: initiations that come "from the relay" (anyone who spoofs its
 * address) get the under-load cookie too, its reply going back through the
 * relay to the key the relay named; the legitimate peer still connects and
 * the responder's DH work stays bounded.
 */
static void test_relayed_cookie_under_load(void **state)
{
	struct zt_tunnel_cfg cfg = fast_cfg();
	struct node *a, *b;
	struct zt_tunnel_peer *pab, *pba;
	struct zt_tunnel_stats sb;
	uint8_t buf[100], stranger[32], spriv[32];

	(void)state;
	a = node_open("client", &cfg);
	cfg.under_load_initiations_per_s = 1;
	b = node_open("connector", &cfg);
	assert_int_equal(zt_tunnel_peer_add(a->t, b->pub, NULL, NULL, &pab), 0);
	assert_int_equal(zt_tunnel_peer_add(b->t, a->pub, NULL, NULL, &pba), 0);
	zt_tunnel_peer_set_relayed(pab, true);

	/* A flood naming A: one DH before the load shows, then cookie replies only. */
	flood_relayed(b, a->pub, 200);
	sb = tstats(b);
	assert_int_equal(sb.handshake_dh, 1);
	assert_int_equal(sb.cookie_replies_sent, 199);
	assert_int_equal(sb.tx_relayed, 199);	/* to A, through the relay: none answered the spoofer */
	/* A flood naming a key that is no peer of ours costs nothing at all. */
	zt_noise_keypair(stranger, spriv);
	flood_relayed(b, stranger, 200);
	assert_int_equal(tstats(b).handshake_dh, 1);
	assert_int_equal(tstats(b).rx_unknown_key, 200);
	assert_int_equal(tstats(b).tx_relayed, 199);
	/* A gets the spoofer's cookie replies and opens none (not sealed with its mac1). */
	settle(50);
	assert_int_equal(pstats(a, pab).cookie_replies_received, 0);

	/* Still under load (the flood goes on): A's cookie reply, then its mac2 gets through. */
	flood_relayed(b, a->pub, 5);
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 1, sizeof(buf))), 0);
	assert_true(WAIT_FOR(b->nrecv == 1, 3000));
	sb = tstats(b);
	assert_int_equal(pstats(a, pab).cookie_replies_received, 1);
	assert_true(sb.mac2_accepted >= 1);
	assert_int_equal(sb.handshake_dh, 2);	/* the one before the load, and A's */
	assert_int_equal(pstats(b, pba).handshakes, 1);
	assert_int_equal(sb.rx_relayed_mismatch, 0);
}

/*
 * The key a relayed initiation proves must be the one the relay named (its
 * cookie and budget were that key's), and a peer's initiations are answered
 * at most every 20 ms (wireguard-go's 50 per second).
 */
static void test_relayed_initiation_checks(void **state)
{
	struct zt_tunnel_cfg cfg = fast_cfg();
	struct node *a, *b, *c;
	struct zt_tunnel_peer *pab, *pba, *pcb, *pbc;
	uint8_t buf[100];

	(void)state;
	a = node_open("client", &cfg);
	b = node_open("connector", &cfg);
	c = node_open("other", &cfg);
	assert_int_equal(zt_tunnel_peer_add(a->t, b->pub, NULL, NULL, &pab), 0);
	assert_int_equal(zt_tunnel_peer_add(b->t, a->pub, NULL, NULL, &pba), 0);
	assert_int_equal(zt_tunnel_peer_add(c->t, b->pub, NULL, NULL, &pcb), 0);
	assert_int_equal(zt_tunnel_peer_add(b->t, c->pub, NULL, NULL, &pbc), 0);
	zt_tunnel_peer_set_relayed(pab, true);
	zt_tunnel_peer_set_relayed(pcb, true);

	/* C's real initiation, said to be A's: one DH, then dropped, no session. */
	g_rq_lie_key = a->pub;
	assert_int_equal(zt_tunnel_send(c->t, pcb, buf, packet(buf, 1, sizeof(buf))), 0);
	assert_true(WAIT_FOR(tstats(b).rx_relayed_mismatch >= 1, 2000));
	assert_int_equal(pstats(b, pba).handshakes, 0);
	assert_int_equal(pstats(b, pbc).handshakes, 0);
	assert_int_equal(tstats(b).rx_initiation_flood, 0);
	g_rq_lie_key = NULL;
	zt_tunnel_peer_remove(c->t, pcb);

	/* Two fresh initiations from A 18 ms apart, delivered together: the second is a flood. */
	g_rq_hold = true;
	g_rqn = 0;
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 2, sizeof(buf))), 0);
	assert_int_equal(g_rqn, 1);
	usleep(18000);
	zt_tunnel_retry_handshakes(a->t);
	if (g_rqn != 2) {
		usleep(20000);
		zt_tunnel_retry_handshakes(a->t);
	}
	assert_int_equal(g_rqn, 2);
	g_rq_hold = false;
	rq_deliver();
	assert_int_equal(tstats(b).rx_initiation_flood, 1);
	assert_int_equal(pstats(b, pba).handshakes, 1);
	/* The session from the first one carries the data. */
	assert_true(WAIT_FOR(b->nrecv >= 1, 3000));
}

/* A stream both ways through several rekeys: every packet arrives, in order. */
static void test_rekey_no_loss(void **state)
{
	struct zt_tunnel_cfg cfg = fast_cfg();
	struct node *a, *b;
	struct zt_tunnel_peer *pab, *pba;
	const uint32_t total = 600;
	uint8_t buf[300];
	uint32_t sent = 0;
	uint64_t start;

	(void)state;
	cfg.rekey_after_time_ms = 200;
	cfg.reject_after_time_ms = 1000;
	cfg.keepalive_timeout_ms = 100;
	a = node_open("client", &cfg);
	b = node_open("connector", &cfg);
	b->echo = true;
	pair(a, b, false, &pab, &pba);

	start = zt_mono_ms();
	while (sent < total) {
		/* About one packet per 2 ms: 1.2 s, six rekey periods. */
		while (sent < total && sent < (zt_mono_ms() - start) / 2 + 1) {
			assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, sent, sizeof(buf))), 0);
			sent++;
		}
		pump_once(1);
	}
	assert_true(WAIT_FOR(a->nrecv == total && b->nrecv == total, 3000));
	for (uint32_t i = 0; i < total; i++) {
		assert_int_equal(b->seqs[i], i);
		assert_int_equal(a->seqs[i], i);
	}
	assert_true(pstats(a, pab).handshakes >= 4);
	assert_int_equal(pstats(a, pab).queue_dropped, 0);
	assert_int_equal(pstats(b, pba).queue_dropped, 0);
	assert_int_equal(tstats(a).rx_expired + tstats(b).rx_expired, 0);
	assert_int_equal(tstats(a).rx_unknown_index + tstats(b).rx_unknown_index, 0);
	assert_int_equal(tstats(a).tx_errors + tstats(b).tx_errors, 0);
	assert_int_equal(pstats(b, pba).initiations_sent, 0);	/* the initiator rekeys */
}

static void test_rekey_after_messages(void **state)
{
	struct zt_tunnel_cfg cfg = fast_cfg();
	struct node *a, *b;
	struct zt_tunnel_peer *pab, *pba;
	uint8_t buf[64];

	(void)state;
	cfg.rekey_after_messages = 20;
	cfg.rekey_timeout_ms = 20;
	a = node_open("client", &cfg);
	b = node_open("connector", &cfg);
	pair(a, b, false, &pab, &pba);
	for (uint32_t i = 0; i < 200; i++) {
		assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, i, sizeof(buf))), 0);
		settle(2);
	}
	assert_true(WAIT_FOR(b->nrecv == 200, 2000));
	assert_true(pstats(a, pab).handshakes >= 3);
	for (uint32_t i = 0; i < 200; i++)
		assert_int_equal(b->seqs[i], i);
}

/* Past REJECT_AFTER_TIME a session is not used again: the next packet waits for a new one. */
static void test_reject_after_time(void **state)
{
	struct zt_tunnel_cfg cfg = fast_cfg();
	struct node *a, *b;
	struct zt_tunnel_peer *pab, *pba;
	struct zt_tunnel_peer_stats sa;
	uint8_t buf[64];

	(void)state;
	cfg.reject_after_time_ms = 300;
	cfg.rekey_after_time_ms = 60000;	/* no time rekey: only the rejection acts */
	a = node_open("client", &cfg);
	b = node_open("connector", &cfg);
	pair(a, b, false, &pab, &pba);
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 1, sizeof(buf))), 0);
	assert_true(WAIT_FOR(b->nrecv == 1, 2000));
	assert_true(pstats(a, pab).session_up);

	/* The connector freezes; the client's session ages past 300 ms. */
	run_only(a, 350);
	sa = pstats(a, pab);
	assert_false(sa.session_up);
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 2, sizeof(buf))), 0);
	sa = pstats(a, pab);
	assert_int_equal(sa.tx_packets, 1);		/* not sent on the old session */
	assert_int_equal(sa.queued, 1);
	assert_int_equal(sa.initiations_sent, 2);	/* a new handshake instead */

	/* The connector wakes: new session, and the packet comes over it. */
	assert_true(WAIT_FOR(b->nrecv == 2, 2000));
	assert_int_equal(b->seqs[1], 2);
	assert_int_equal(pstats(b, pba).handshakes, 2);
	assert_int_equal(pstats(a, pab).tx_packets, 2);
	/* Its own session is as old: it too sends only after the new one. */
	assert_int_equal(tstats(b).rx_expired, 0);
}

static void test_roaming(void **state)
{
	struct zt_tunnel_cfg cfg = fast_cfg();
	struct node *a = node_open("client", &cfg), *b = node_open("connector", &cfg);
	struct zt_tunnel_peer *pab, *pba;
	struct sockaddr_in back;
	socklen_t len = sizeof(back);
	uint8_t buf[64], junk[2048];
	int old_back;

	(void)state;
	pair(a, b, true, &pab, &pba);
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 1, sizeof(buf))), 0);
	assert_true(WAIT_FOR(b->nrecv == 1, 2000));
	assert_int_equal(getsockname(g_relay->back, (struct sockaddr *)&back, &len), 0);
	{
		struct zt_tunnel_peer_stats sb = pstats(b, pba);

		assert_int_equal(ep_port(&sb), ntohs(back.sin_port));
	}

	/* The NAT gives the client a new public port. */
	relay_rebind(g_relay, &old_back);
	len = sizeof(back);
	assert_int_equal(getsockname(g_relay->back, (struct sockaddr *)&back, &len), 0);
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 2, sizeof(buf))), 0);
	assert_true(WAIT_FOR(b->nrecv == 2, 2000));
	{
		struct zt_tunnel_peer_stats sb = pstats(b, pba);

		assert_int_equal(ep_port(&sb), ntohs(back.sin_port));
	}
	/* Replies go to the new port (the relay forwards them); the old one hears nothing. */
	assert_int_equal(zt_tunnel_send(b->t, pba, buf, packet(buf, 3, sizeof(buf))), 0);
	assert_true(WAIT_FOR(a->nrecv == 1, 2000));
	assert_int_equal(a->seqs[0], 3);
	assert_int_equal(recv(old_back, junk, sizeof(junk), MSG_DONTWAIT), -1);
	close(old_back);

	/* A forged packet from elsewhere does not move the endpoint. */
	{
		int fd = udp_socket(NULL);
		struct sockaddr_in to = loopback(b->port);
		uint8_t fake[ZT_TW_TRANSPORT_LEN(20)] = { 0 };

		memcpy(fake, g_relay->captured[ZT_TW_TRANSPORT], 16);
		fake[8] = 0x7f;		/* a counter not seen yet */
		assert_int_equal(sendto(fd, fake, sizeof(fake), 0, (struct sockaddr *)&to,
					sizeof(to)), (ssize_t)sizeof(fake));
		assert_true(WAIT_FOR(tstats(b).rx_bad_tag == 1, 2000));
		{
			struct zt_tunnel_peer_stats sb = pstats(b, pba);

			assert_int_equal(ep_port(&sb), ntohs(back.sin_port));
		}
		close(fd);
	}
}

static void test_keepalive_passive(void **state)
{
	struct zt_tunnel_cfg cfg = fast_cfg();
	struct node *a, *b;
	struct zt_tunnel_peer *pab, *pba;
	uint8_t buf[64];

	(void)state;
	cfg.keepalive_timeout_ms = 150;
	a = node_open("client", &cfg);
	b = node_open("connector", &cfg);
	pair(a, b, false, &pab, &pba);
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 1, sizeof(buf))), 0);
	assert_true(WAIT_FOR(b->nrecv == 1, 2000));
	/* The connector got data and has nothing to say: an empty packet after 150 ms. */
	assert_true(WAIT_FOR(pstats(a, pab).rx_keepalives == 1, 2000));
	assert_int_equal(pstats(b, pba).tx_keepalives, 1);
	assert_int_equal(a->nrecv, 0);		/* keepalives are not payloads */
	/* And no more while nothing flows. */
	settle(400);
	assert_int_equal(pstats(b, pba).tx_keepalives, 1);
}

static void test_keepalive_persistent(void **state)
{
	struct zt_tunnel_cfg cfg = fast_cfg();
	struct node *a, *b;
	struct zt_tunnel_peer *pab, *pba;

	(void)state;
	b = node_open("connector", &cfg);
	cfg.persistent_keepalive_ms = 100;
	a = node_open("client", &cfg);
	pair(a, b, false, &pab, &pba);
	/* No data at all: the client connects by itself and keeps the path warm. */
	assert_true(WAIT_FOR(pstats(b, pba).rx_keepalives >= 4, 2000));
	assert_int_equal(pstats(a, pab).handshakes, 1);
	assert_int_equal(b->sessions_up, 1);
	assert_int_equal(b->nrecv, 0);
}

/* A connector that never answers: retries every REKEY_TIMEOUT, then give up and drop the queue. */
static void test_give_up_after_attempt_time(void **state)
{
	struct zt_tunnel_cfg cfg = fast_cfg();
	struct node *a;
	struct zt_tunnel_peer *pab;
	struct sockaddr_storage ep;
	uint8_t pub[32], priv[32], buf[64], junk[256];
	uint16_t port;
	uint64_t sent;
	int silent, got = 0;

	(void)state;
	cfg.rekey_attempt_time_ms = 450;
	a = node_open("client", &cfg);
	silent = udp_socket(&port);
	ep = ss_loopback(port);
	zt_noise_keypair(pub, priv);
	assert_int_equal(zt_tunnel_peer_add(a->t, pub, &ep, NULL, &pab), 0);
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 1, sizeof(buf))), 0);
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 2, sizeof(buf))), 0);
	assert_true(WAIT_FOR(pstats(a, pab).queue_dropped == 2, 2000));
	assert_int_equal(pstats(a, pab).queued, 0);
	sent = pstats(a, pab).initiations_sent;
	/* 100 ms (+ up to 6 ms) apart within 450 ms: 5 initiations (4 if a timer ran late). */
	assert_true(sent >= 4 && sent <= 5);
	while (recv(silent, junk, sizeof(junk), MSG_DONTWAIT) == ZT_TW_INITIATION_LEN)
		got++;
	assert_int_equal(got, sent);
	settle(300);
	assert_int_equal(pstats(a, pab).initiations_sent, sent);
	close(silent);
}

static void test_queue_bounded(void **state)
{
	struct zt_tunnel_cfg cfg = fast_cfg();
	struct node *a = node_open("client", &cfg), *b = node_open("connector", &cfg);
	struct zt_tunnel_peer *pab, *pba;
	struct zt_tunnel_peer_stats sb;
	uint8_t buf[64];

	(void)state;
	pair(a, b, false, &pab, &pba);
	for (uint32_t i = 0; i < 200; i++)
		assert_int_equal(zt_tunnel_send(b->t, pba, buf, packet(buf, i, sizeof(buf))), 0);
	sb = pstats(b, pba);
	assert_int_equal(sb.queued, ZT_TUNNEL_QUEUE_MAX);
	assert_int_equal(sb.queue_dropped, 200 - ZT_TUNNEL_QUEUE_MAX);
	/* The client connects; the newest 128 arrive, in order. */
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 1000, sizeof(buf))), 0);
	assert_true(WAIT_FOR(a->nrecv == ZT_TUNNEL_QUEUE_MAX, 2000));
	for (uint32_t i = 0; i < ZT_TUNNEL_QUEUE_MAX; i++)
		assert_int_equal(a->seqs[i], 200 - ZT_TUNNEL_QUEUE_MAX + i);
	assert_int_equal(pstats(b, pba).queued, 0);
}

static void test_peer_remove(void **state)
{
	struct zt_tunnel_cfg cfg = fast_cfg();
	struct node *a = node_open("client", &cfg), *b = node_open("connector", &cfg);
	struct zt_tunnel_peer *pab, *pba;
	uint8_t buf[64];

	(void)state;
	pair(a, b, false, &pab, &pba);
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 1, sizeof(buf))), 0);
	assert_true(WAIT_FOR(b->nrecv == 1, 2000));
	zt_tunnel_peer_remove(b->t, pba);
	assert_null(zt_tunnel_peer_by_key(b->t, a->pub));
	/* Its session is gone: transport finds no index; its next handshake, no key. */
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 2, sizeof(buf))), 0);
	assert_true(WAIT_FOR(tstats(b).rx_unknown_index == 1, 2000));
	settle(50);
	assert_int_equal(b->nrecv, 1);
}

/* IPv4 and IPv6 peers on one dual-stack connector socket. */
static void test_dual_stack(void **state)
{
	struct zt_tunnel_cfg cfg = fast_cfg();
	struct node *b = node_open_cfg("connector", &cfg, AF_UNSPEC);
	struct node *a4 = node_open_cfg("client4", &cfg, AF_INET);
	struct node *a6 = node_open_cfg("client6", &cfg, AF_INET6);
	struct sockaddr_storage ep4 = ss_loopback(b->port), ep6 = { 0 };
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ep6;
	struct zt_tunnel_peer *p4, *p6, *pb4, *pb6;
	struct zt_tunnel_peer_stats st;
	uint8_t buf[64];

	(void)state;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr = in6addr_loopback;
	sin6->sin6_port = htons(b->port);
	assert_int_equal(zt_tunnel_peer_add(a4->t, b->pub, &ep4, NULL, &p4), 0);
	assert_int_equal(zt_tunnel_peer_add(a6->t, b->pub, &ep6, NULL, &p6), 0);
	assert_int_equal(zt_tunnel_peer_add(b->t, a4->pub, NULL, NULL, &pb4), 0);
	assert_int_equal(zt_tunnel_peer_add(b->t, a6->pub, NULL, NULL, &pb6), 0);
	assert_int_equal(zt_tunnel_send(a4->t, p4, buf, packet(buf, 4, sizeof(buf))), 0);
	assert_int_equal(zt_tunnel_send(a6->t, p6, buf, packet(buf, 6, sizeof(buf))), 0);
	assert_true(WAIT_FOR(b->nrecv == 2, 2000));
	st = pstats(b, pb4);
	assert_int_equal(st.endpoint.ss_family, AF_INET);	/* mapped, shown as IPv4 */
	assert_int_equal(ep_port(&st), a4->port);
	st = pstats(b, pb6);
	assert_int_equal(st.endpoint.ss_family, AF_INET6);
	assert_int_equal(ep_port(&st), a6->port);
	assert_int_equal(zt_tunnel_send(b->t, pb4, buf, packet(buf, 40, sizeof(buf))), 0);
	assert_int_equal(zt_tunnel_send(b->t, pb6, buf, packet(buf, 60, sizeof(buf))), 0);
	assert_true(WAIT_FOR(a4->nrecv == 1 && a6->nrecv == 1, 2000));
	assert_int_equal(a4->seqs[0], 40);
	assert_int_equal(a6->seqs[0], 60);
}

/* Junk of every size and type at the socket: counted, never crashes, never answered. */
static void test_garbage(void **state)
{
	struct zt_tunnel_cfg cfg = fast_cfg();
	struct node *b = node_open("connector", &cfg);
	struct sockaddr_in to = loopback(b->port);
	uint8_t buf[300];
	int fd = udp_socket(NULL), sent = 0;

	(void)state;
	for (size_t len = 0; len < sizeof(buf); len += 7) {
		for (int type = 0; type < 6; type++) {
			memset(buf, 0x5a, sizeof(buf));
			if (len)
				buf[0] = (uint8_t)type;
			if (len > 3)
				buf[1] = buf[2] = buf[3] = 0;
			assert_true(sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) >= 0);
			sent++;
		}
	}
	assert_true(WAIT_FOR(tstats(b).rx_datagrams == (uint64_t)sent, 2000));
	assert_int_equal(tstats(b).tx_datagrams, 0);
	assert_int_equal(tstats(b).handshake_dh, 0);
	close(fd);
}

/* Our own namespace with only loopback, up. */
static void private_netns(void)
{
	struct ifreq ifr = { 0 };
	int fd;

	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "note: unshare(CLONE_NEWNET): %s; using the host's loopback\n",
			strerror(errno));
		return;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr))) {
		fprintf(stderr, "bringing lo up: %s\n", strerror(errno));
		exit(1);
	}
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_handshake_and_payload, teardown),
		cmocka_unit_test_teardown(test_unknown_key_no_reply, teardown),
		cmocka_unit_test_teardown(test_bad_mac1_dropped_before_dh, teardown),
		cmocka_unit_test_teardown(test_replayed_transport_dropped, teardown),
		cmocka_unit_test_teardown(test_replayed_initiation_dropped, teardown),
		cmocka_unit_test_teardown(test_cookie_under_load, teardown),
		cmocka_unit_test_teardown(test_relayed_cookie_under_load, teardown),
		cmocka_unit_test_teardown(test_relayed_initiation_checks, teardown),
		cmocka_unit_test_teardown(test_rekey_no_loss, teardown),
		cmocka_unit_test_teardown(test_rekey_after_messages, teardown),
		cmocka_unit_test_teardown(test_reject_after_time, teardown),
		cmocka_unit_test_teardown(test_roaming, teardown),
		cmocka_unit_test_teardown(test_keepalive_passive, teardown),
		cmocka_unit_test_teardown(test_keepalive_persistent, teardown),
		cmocka_unit_test_teardown(test_give_up_after_attempt_time, teardown),
		cmocka_unit_test_teardown(test_queue_bounded, teardown),
		cmocka_unit_test_teardown(test_peer_remove, teardown),
		cmocka_unit_test_teardown(test_dual_stack, teardown),
		cmocka_unit_test_teardown(test_garbage, teardown),
		cmocka_unit_test_teardown(test_gso_gro_burst, teardown),
	};

	private_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
