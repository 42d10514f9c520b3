// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests: paths between tunnel peers (daemon/path/paths.c) over the tunnel
 * engine's path hooks, with real UDP sockets on loopback in a network
 * namespace of this process's own (as test_tunnel.c).
 *
 * The relay is a fake of docs/RELAY.md's forwarding in this file: one UDP
 * socket; each node reaches it from its tunnel socket with 0x14 send
 * (zt_tunnel_sendto_raw), and it delivers 0x15 recv to the destination's
 * tunnel socket, where the engine hands it to ops.other. Registration is
 * skipped: the relay knows each node's key and port from the test. It
 * counts what it forwards, and can drop everything.
 *
 * A "nat" is a UDP forwarder standing for the direct path between two
 * nodes, so that a test can blackhole it: A talks to its front, it talks
 * to B from its back; B's replies to the back go to whoever last wrote to
 * the front (nothing before that: a NAT's filtering). Candidates then are
 * the nat's two addresses, given as the relay-observed endpoints.
 *
 * "Routers" model issue 10: two Linux NATs with no input firewall, one in
 * front of each node, and a router of the internet between them. A node
 * reaches the far node through its own router's socket (its candidate for
 * the far node); a datagram from the node with TTL <= 2 opens the router's
 * mapping and dies in the internet; one that arrives from the far router
 * goes to the node if the router has a mapping, and otherwise is taken by
 * the router itself, which steals the mapping for good: the node's later
 * datagrams leave from another port that the far router never lets in. With
 * `firewall` set, a router drops such a datagram instead (nothing stolen).
 *
 * The candidate filter (daemon/path/cand.c, issue 10 A12) is tested on a
 * view of interfaces built by hand, and through the engine: a peer's
 * candidates message of refused classes, none of them probed.
 *
 * Everything waits on a condition with a deadline (WAIT_FOR).
 */
#include <errno.h>
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
#include "lib/addr.h"
#include "path/cand.h"
#include "path/paths.h"
#include "tunnel/status.h"
#include "tunnel/tunnel.h"
#include "tunnel/ctrl.h"

#define MAX_NODES	3
#define RELAY_SEND	0x14
#define RELAY_RECV	0x15
#define RELAY_HDR	36

struct node {
	const char *name;
	struct zt_loop *loop;
	struct zt_tunnel *t;
	struct zt_paths *ps;
	bool path_logic;		/* false: paths only carries relay traffic */
	uint8_t priv[32], pub[32];
	uint16_t port;
	unsigned int nrecv;
	uint32_t last_seq;
	enum zt_tunnel_rx_path last_rx_path;
	unsigned int rx_direct, rx_relayed;
	bool echo;
	bool drop_primed;		/* a peer from before PRIMED: it never sees one */
	unsigned int primed_dropped;
};

struct fake_relay {
	int fd;
	uint16_t port;
	bool drop;
	unsigned int forwarded;		/* datagrams delivered as recv */
};

struct router {
	int fd;				/* its node sends here to reach the far node */
	uint16_t port;
	uint16_t host_port;		/* its node's tunnel port */
	struct router *far;
	bool firewall;
	bool mapped, stolen;
	unsigned int died;		/* low-TTL datagrams that opened the mapping and died */
	unsigned int taken;		/* datagrams from afar taken by the router itself */
	unsigned int delivered;
};

struct nat {
	int front, back;
	uint16_t front_port, back_port;
	struct sockaddr_in inside;	/* who last wrote to the front */
	bool has_inside;
	struct sockaddr_in server;
	bool drop;
};

static struct node *g_nodes[MAX_NODES];
static int g_nnodes;
static struct fake_relay *g_relay;
static struct nat *g_nat;
static struct router *g_routers[2];
static uint32_t g_rekey_ms;	/* the tunnels' handshake retry; 0: 100 ms */

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

static uint16_t ss_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

/* ---- the fake relay ---- */

static struct node *node_by_port(uint16_t port)
{
	for (int i = 0; i < g_nnodes; i++)
		if (g_nodes[i]->port == port)
			return g_nodes[i];
	return NULL;
}

static struct node *node_by_key(const uint8_t *key)
{
	for (int i = 0; i < g_nnodes; i++)
		if (!memcmp(g_nodes[i]->pub, key, 32))
			return g_nodes[i];
	return NULL;
}

static void relay_pump(struct fake_relay *r)
{
	uint8_t buf[65536];
	struct sockaddr_in from;
	socklen_t fl;
	ssize_t n;

	for (;;) {
		struct node *src, *dst;
		struct sockaddr_in to;

		fl = sizeof(from);
		n = recvfrom(r->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			break;
		if (r->drop || n < RELAY_HDR || buf[0] != RELAY_SEND)
			continue;
		/* As the real one: the source must be a registered peer, the destination too. */
		src = node_by_port(ntohs(from.sin_port));
		dst = node_by_key(buf + 4);
		if (!src || !dst)
			continue;
		buf[0] = RELAY_RECV;
		memcpy(buf + 4, src->pub, 32);
		to = loopback(dst->port);
		sendto(r->fd, buf, (size_t)n, 0, (struct sockaddr *)&to, sizeof(to));
		r->forwarded++;
	}
}

/* The adapter paths.c sees (what daemon/path/relays.c does for zt_relay_client). */
static int fr_send(void *rc, const uint8_t key[32], const uint8_t *dg, size_t len)
{
	struct node *n = rc;
	uint8_t msg[2048];
	struct sockaddr_storage to = ss_loopback(g_relay->port);

	if (len + RELAY_HDR > sizeof(msg))
		return -EMSGSIZE;
	memset(msg, 0, RELAY_HDR);
	msg[0] = RELAY_SEND;
	memcpy(msg + 4, key, 32);
	memcpy(msg + RELAY_HDR, dg, len);
	return zt_tunnel_sendto_raw(n->t, msg, len + RELAY_HDR, &to);
}

static bool fr_owns(void *rc, const struct sockaddr *src, socklen_t srclen)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)src;

	(void)rc;
	return srclen >= sizeof(*sin) && src->sa_family == AF_INET &&
	       ntohs(sin->sin_port) == g_relay->port;
}

static void fr_input(void *rc, uint8_t *dg, size_t len)
{
	struct node *n = rc;

	if (len < RELAY_HDR || dg[0] != RELAY_RECV)
		return;
	zt_paths_relayed_input(n->ps, 0, dg + 4, dg + RELAY_HDR, len - RELAY_HDR);
}

/* ---- the nat ---- */

static struct nat *nat_new(uint16_t server_port)
{
	struct nat *nt = calloc(1, sizeof(*nt));

	assert_non_null(nt);
	nt->front = udp_socket(&nt->front_port);
	nt->back = udp_socket(&nt->back_port);
	nt->server = loopback(server_port);
	return nt;
}

static void nat_pump(struct nat *nt)
{
	uint8_t buf[65536];
	struct sockaddr_in from;
	socklen_t fl;
	ssize_t n;

	for (;;) {
		fl = sizeof(from);
		n = recvfrom(nt->front, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			break;
		if (nt->drop)
			continue;
		nt->inside = from;
		nt->has_inside = true;
		sendto(nt->back, buf, (size_t)n, 0, (struct sockaddr *)&nt->server, sizeof(nt->server));
	}
	for (;;) {
		n = recv(nt->back, buf, sizeof(buf), 0);
		if (n < 0)
			break;
		if (!nt->drop && nt->has_inside)
			sendto(nt->front, buf, (size_t)n, 0, (struct sockaddr *)&nt->inside,
			       sizeof(nt->inside));
	}
}

/* ---- the routers ---- */

static struct router *router_new(uint16_t host_port, bool firewall)
{
	struct router *r = calloc(1, sizeof(*r));
	int one = 1;

	assert_non_null(r);
	r->fd = udp_socket(&r->port);
	assert_int_equal(setsockopt(r->fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof(one)), 0);
	r->host_port = host_port;
	r->firewall = firewall;
	return r;
}

/* From the far router; FROM_MAPPING: from the endpoint our node wrote to. */
static void router_from_far(struct router *r, const uint8_t *buf, size_t n, bool from_mapping)
{
	struct sockaddr_in to = loopback(r->host_port);

	if (r->mapped && from_mapping) {
		sendto(r->fd, buf, n, 0, (struct sockaddr *)&to, sizeof(to));
		r->delivered++;
	} else if (!r->mapped && !r->firewall) {
		r->stolen = true;	/* conntrack confirmed an entry with our mapping's tuple */
		r->taken++;
	}
}

static void router_pump(struct router *r)
{
	uint8_t buf[65536];
	union {
		struct cmsghdr align;
		uint8_t b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct sockaddr_in from;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr m;
	ssize_t n;

	for (;;) {
		struct cmsghdr *cm;
		int ttl = 64;

		m = (struct msghdr){ .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
				     .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
		n = recvmsg(r->fd, &m, 0);
		if (n < 0)
			break;
		if (ntohs(from.sin_port) != r->host_port)
			continue;
		for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
			if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_TTL)
				memcpy(&ttl, CMSG_DATA(cm), sizeof(ttl));
		if (r->stolen) {	/* out from another port: a stranger to the far router */
			router_from_far(r->far, buf, (size_t)n, false);
			continue;
		}
		r->mapped = true;
		if (ttl <= 2) {		/* through us, then dead at the internet's router */
			r->died++;
			continue;
		}
		router_from_far(r->far, buf, (size_t)n, true);
	}
}

/* ---- driving ---- */

static void pump_once(int wait_ms)
{
	struct pollfd pfd[MAX_NODES + 5];
	int n = 0;

	for (int i = 0; i < g_nnodes; i++)
		pfd[n++] = (struct pollfd){ .fd = zt_loop_fd(g_nodes[i]->loop), .events = POLLIN };
	if (g_relay)
		pfd[n++] = (struct pollfd){ .fd = g_relay->fd, .events = POLLIN };
	if (g_nat) {
		pfd[n++] = (struct pollfd){ .fd = g_nat->front, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = g_nat->back, .events = POLLIN };
	}
	for (int i = 0; i < 2; i++)
		if (g_routers[i])
			pfd[n++] = (struct pollfd){ .fd = g_routers[i]->fd, .events = POLLIN };
	poll(pfd, (nfds_t)n, wait_ms);
	for (int i = 0; i < g_nnodes; i++)
		while (zt_loop_run_once(g_nodes[i]->loop, 0) > 0)
			;
	if (g_relay)
		relay_pump(g_relay);
	if (g_nat)
		nat_pump(g_nat);
	for (int i = 0; i < 2; i++)
		if (g_routers[i])
			router_pump(g_routers[i]);
}

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

static void settle(int ms)
{
	uint64_t deadline = zt_mono_ms() + (uint64_t)ms;

	while (zt_mono_ms() < deadline)
		pump_once(5);
}

/* ---- nodes ---- */

static void on_recv(void *ctx, struct zt_tunnel_peer *p, uint8_t *payload, size_t len)
{
	struct node *n = ctx;

	if (n->drop_primed && len && payload[0] == ZT_CTRL_PRIMED) {
		n->primed_dropped++;	/* an older peer counts it as malformed */
		return;
	}
	if (n->path_logic && zt_paths_recv(n->ps, p, payload, len))
		return;
	n->last_rx_path = zt_tunnel_rx_path(n->t, NULL);
	if (n->last_rx_path == ZT_TUNNEL_RX_DIRECT)
		n->rx_direct++;
	else if (n->last_rx_path == ZT_TUNNEL_RX_RELAYED)
		n->rx_relayed++;
	n->nrecv++;
	if (len >= 5)
		memcpy(&n->last_seq, payload + 1, 4);
	if (n->echo)
		assert_int_equal(zt_tunnel_send(n->t, p, payload, len), 0);
}

static void on_session_up(void *ctx, struct zt_tunnel_peer *p)
{
	struct node *n = ctx;

	if (n->path_logic)
		zt_paths_session_up(n->ps, p);
}

static void on_other(void *ctx, uint8_t *buf, size_t len, const struct sockaddr *src,
		     socklen_t srclen)
{
	struct node *n = ctx;

	zt_paths_other(n->ps, buf, len, src, srclen);
}

static int on_relay_send(void *ctx, struct zt_tunnel_peer *p, const uint8_t *dg, size_t len)
{
	struct node *n = ctx;

	return zt_paths_relay_send(n->ps, p, dg, len);
}

static const struct zt_tunnel_ops ops = {
	.recv = on_recv, .session_up = on_session_up, .other = on_other,
	.relay_send = on_relay_send,
};

/* Short path timers, as a test can wait for them; PCFG NULL: these. */
static struct zt_paths_cfg fast_paths(void)
{
	return (struct zt_paths_cfg){
		.direct_probe_ms = 300,
		.fallback_ms = 1000,
		.upgrade_retry_ms = 1500,
		.probe_interval_ms = 200,
		.probe_duration_ms = 1000,
		.include_loopback = true,
		.accept_loopback = true,	/* every node and nat is on 127.0.0.1 here */
	};
}

static struct node *node_open(const char *name, const struct zt_paths_cfg *pcfg, bool path_logic)
{
	struct node *n = calloc(1, sizeof(*n));
	struct zt_tunnel_cfg cfg = { .rekey_timeout_ms = g_rekey_ms ? g_rekey_ms : 100,
				     .rekey_attempt_time_ms = g_rekey_ms ? 20000 : 5000 };
	struct sockaddr_in sin = loopback(0);
	struct zt_paths_relay relay = { .name = "fake-relay", .send = fr_send, .owns = fr_owns,
					.input = fr_input };
	char err[256] = "";

	assert_non_null(n);
	n->name = name;
	n->path_logic = path_logic;
	zt_noise_keypair(n->pub, n->priv);
	memcpy(cfg.private_key, n->priv, 32);
	memcpy(&cfg.listen, &sin, sizeof(sin));
	assert_int_equal(zt_loop_new(&n->loop), 0);
	if (zt_tunnel_open(n->loop, &cfg, &ops, n, &n->t, err, sizeof(err)))
		fail_msg("zt_tunnel_open: %s", err);
	n->port = (uint16_t)zt_tunnel_local_port(n->t);
	if (zt_paths_open(n->loop, n->t, pcfg, &n->ps, err, sizeof(err)))
		fail_msg("zt_paths_open: %s", err);
	relay.rc = n;
	assert_int_equal(zt_paths_add_relay(n->ps, &relay), 0);
	assert_true(g_nnodes < MAX_NODES);
	g_nodes[g_nnodes++] = n;
	return n;
}

static void relay_open(void)
{
	g_relay = calloc(1, sizeof(*g_relay));
	assert_non_null(g_relay);
	g_relay->fd = udp_socket(&g_relay->port);
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < g_nnodes; i++) {
		zt_paths_close(g_nodes[i]->ps);
		zt_tunnel_close(g_nodes[i]->t);
		zt_loop_free(g_nodes[i]->loop);
		free(g_nodes[i]);
	}
	g_nnodes = 0;
	g_rekey_ms = 0;
	if (g_relay) {
		close(g_relay->fd);
		free(g_relay);
		g_relay = NULL;
	}
	if (g_nat) {
		close(g_nat->front);
		close(g_nat->back);
		free(g_nat);
		g_nat = NULL;
	}
	for (int i = 0; i < 2; i++) {
		if (g_routers[i]) {
			close(g_routers[i]->fd);
			free(g_routers[i]);
			g_routers[i] = NULL;
		}
	}
	return 0;
}

static size_t packet(uint8_t *buf, uint32_t seq, size_t len)
{
	memset(buf, 0xab, len);
	buf[0] = 0x45;
	memcpy(buf + 1, &seq, 4);
	return len;
}

static struct zt_path_status path_of(struct node *n, struct zt_tunnel_peer *p)
{
	struct zt_path_status st;

	assert_int_equal(zt_paths_status(n->ps, p, &st), 0);
	return st;
}

static struct zt_tunnel_peer_stats pstats(struct zt_tunnel_peer *p)
{
	struct zt_tunnel_peer_stats st;

	zt_tunnel_peer_stats(p, &st);
	return st;
}

static struct zt_tunnel_stats tstats(struct node *n)
{
	struct zt_tunnel_stats st;

	zt_tunnel_stats(n->t, &st);
	return st;
}

/*
 * Client A knows connector B by key only; B knows A by key only: they can
 * meet only through the relay. Both manage paths.
 */
static void pair_relayed(struct node *a, struct node *b, struct zt_tunnel_peer **pab,
			 struct zt_tunnel_peer **pba)
{
	assert_int_equal(zt_tunnel_peer_add(a->t, b->pub, NULL, NULL, pab), 0);
	assert_int_equal(zt_tunnel_peer_add(b->t, a->pub, NULL, NULL, pba), 0);
	zt_paths_track(a->ps, *pab);
	zt_paths_track(b->ps, *pba);
}

/* ---- tests ---- */

/*
 * Up over the relay, candidates (the real interface addresses: loopback
 * here) exchanged, probes answered, data moves direct, and from then on
 * the relay forwards nothing.
 */
static void test_relayed_then_direct(void **state)
{
	struct zt_paths_cfg pcfg = fast_paths();
	struct node *a, *b;
	struct zt_tunnel_peer *pab, *pba;
	struct zt_path_status sa, sb;
	unsigned int forwarded;
	uint8_t buf[200];

	(void)state;
	relay_open();
	a = node_open("client", &pcfg, true);
	b = node_open("connector", &pcfg, true);
	pair_relayed(a, b, &pab, &pba);
	assert_int_equal(path_of(a, pab).path, ZT_PATH_RELAYED_UDP);
	assert_true(pstats(pab).relayed);

	/* The first packet starts a handshake through the relay and arrives through it. */
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 1, sizeof(buf))), 0);
	assert_true(WAIT_FOR(b->nrecv == 1, 2000));
	assert_int_equal(b->last_rx_path, ZT_TUNNEL_RX_RELAYED);
	assert_true(tstats(b).rx_relayed >= 1);
	assert_true(tstats(b).rx_other >= 1);
	assert_true(g_relay->forwarded >= 3);	/* initiation, response, data */

	/* Candidates go both ways, probes are answered: both sides go direct. */
	assert_true(WAIT_FOR(path_of(a, pab).path == ZT_PATH_DIRECT &&
			     path_of(b, pba).path == ZT_PATH_DIRECT, 3000));
	sa = path_of(a, pab);
	sb = path_of(b, pba);
	assert_int_equal(ss_port(&sa.endpoint), b->port);
	assert_int_equal(ss_port(&sb.endpoint), a->port);
	assert_true(sa.candidates >= 1 && sb.candidates >= 1);
	assert_int_equal(sa.upgrades, 1);
	assert_int_equal(sb.upgrades, 1);
	assert_false(pstats(pab).relayed);
	assert_false(pstats(pba).relayed);
	assert_true(WAIT_FOR(path_of(a, pab).rtt_us > 0, 2000));

	/* Let what was in flight through the relay land, then it must stay idle. */
	settle(200);
	forwarded = g_relay->forwarded;
	b->echo = true;
	for (uint32_t i = 0; i < 50; i++)
		assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 100 + i, sizeof(buf))), 0);
	assert_true(WAIT_FOR(a->nrecv == 50, 3000));
	assert_int_equal(a->last_rx_path, ZT_TUNNEL_RX_DIRECT);
	assert_int_equal(b->last_rx_path, ZT_TUNNEL_RX_DIRECT);
	/* Several keepalive probes' worth: still direct, still nothing through the relay. */
	settle(1500);
	assert_int_equal(g_relay->forwarded, forwarded);
	assert_int_equal(path_of(a, pab).path, ZT_PATH_DIRECT);
	assert_int_equal(path_of(b, pba).path, ZT_PATH_DIRECT);
	assert_int_equal(path_of(a, pab).fallbacks, 0);
	assert_int_equal(tstats(a).tx_errors + tstats(b).tx_errors, 0);
}

static bool pong_in(struct node *n, struct zt_tunnel_peer *p, uint64_t id,
		    struct zt_paths_pong *pong)
{
	return zt_paths_pong(n->ps, p, id, pong) == 0 && pong->answered;
}

/*
 * `ztgate ping`: a probe along the peer's path, queued behind the handshake
 * while no session is up, answered the way it came: relayed (no candidates
 * here, so the pair stays relayed), through the relay it went, with an RTT;
 * the answer changes no path. Then direct, from the peer's endpoint.
 */
static void test_ping(void **state)
{
	struct zt_paths_cfg pcfg = fast_paths();
	struct zt_tunnel_peer *pab, *pba;
	struct zt_paths_pong pong;
	struct node *a, *b;
	uint64_t id, id2;

	(void)state;
	pcfg.no_local_addresses = true;	/* no candidates: relayed for good */
	relay_open();
	a = node_open("client", &pcfg, true);
	b = node_open("connector", &pcfg, true);
	pair_relayed(a, b, &pab, &pba);
	assert_int_equal(zt_paths_ping(a->ps, pab, &id), 0);
	assert_int_equal(zt_paths_pong(a->ps, pab, id, &pong), 0);
	assert_false(pong.answered);
	assert_true(WAIT_FOR(pong_in(a, pab, id, &pong), 2000));
	assert_int_equal(pong.path, ZT_PATH_RELAYED_UDP);
	assert_non_null(pong.relay);
	assert_string_equal(pong.relay, "fake-relay");
	assert_int_equal(pong.from.ss_family, AF_UNSPEC);
	assert_true(pong.rtt_ns > 0);
	assert_int_equal(path_of(a, pab).path, ZT_PATH_RELAYED_UDP);
	assert_int_equal(path_of(a, pab).upgrades, 0);
	/* The other side pings back: its own probe, its own answer. */
	assert_int_equal(zt_paths_ping(b->ps, pba, &id2), 0);
	assert_true(WAIT_FOR(pong_in(b, pba, id2, &pong), 2000));
	assert_int_equal(pong.path, ZT_PATH_RELAYED_UDP);
	/* Not a ping of ours: unknown. */
	assert_int_equal(zt_paths_pong(a->ps, pab, id ^ 1, &pong), -ENOENT);
	assert_int_equal(zt_paths_pong(a->ps, pab, 0, &pong), -ENOENT);

	/* Direct: B's endpoint known to A, the path goes there, so does the ping. */
	{
		struct sockaddr_storage ep = ss_loopback(b->port);

		zt_tunnel_peer_set_endpoint(pab, &ep);
		zt_tunnel_peer_set_relayed(pab, false);
		zt_paths_track(a->ps, pab);
	}
	assert_int_equal(path_of(a, pab).path, ZT_PATH_DIRECT);
	assert_int_equal(zt_paths_ping(a->ps, pab, &id), 0);
	assert_true(WAIT_FOR(pong_in(a, pab, id, &pong), 2000));
	assert_int_equal(pong.path, ZT_PATH_DIRECT);
	assert_int_equal(ss_port(&pong.from), b->port);
	assert_null(pong.relay);
}

/* Send one packet A -> B every 50 ms while waiting for COND. */
#define WAIT_SENDING(a, pab, seq, cond, ms) ({				\
	uint64_t _deadline = zt_mono_ms() + (ms), _next = 0;		\
	uint8_t _buf[100];						\
	bool _ok;							\
	for (;;) {							\
		if ((_ok = (cond)))					\
			break;						\
		if (zt_mono_ms() >= _deadline)				\
			break;						\
		if (zt_mono_ms() >= _next) {				\
			zt_tunnel_send((a)->t, (pab), _buf,		\
				       packet(_buf, (seq)++, sizeof(_buf))); \
			_next = zt_mono_ms() + 50;				\
		}							\
		pump_once(5);						\
	}								\
	_ok;								\
})

/*
 * Direct through a nat; the nat goes dark: both fall back to the relay
 * within the default 6 s and traffic continues; the nat comes back: the
 * upgrade retry finds it again.
 */
static void test_fallback_and_upgrade_again(void **state)
{
	struct zt_paths_cfg pcfg = {
		.upgrade_retry_ms = 1500, .probe_interval_ms = 200, .probe_duration_ms = 1000,
		.no_local_addresses = true,	/* defaults: probe 5 s, fallback 6 s */
		.accept_loopback = true,
	};
	struct sockaddr_storage front, back;
	struct node *a, *b;
	struct zt_tunnel_peer *pab, *pba;
	uint32_t seq = 1;
	unsigned int before, forwarded;
	uint64_t dark_at, fell_ms;

	(void)state;
	relay_open();
	a = node_open("client", &pcfg, true);
	b = node_open("connector", &pcfg, true);
	g_nat = nat_new(b->port);
	/* What each side's "relay" observed: A is at the nat's back for B, B at its front for A. */
	front = ss_loopback(g_nat->front_port);
	back = ss_loopback(g_nat->back_port);
	zt_paths_set_observed(a->ps, 0, &back);
	zt_paths_set_observed(b->ps, 0, &front);
	pair_relayed(a, b, &pab, &pba);

	assert_true(WAIT_SENDING(a, pab, seq, path_of(a, pab).path == ZT_PATH_DIRECT &&
				 path_of(b, pba).path == ZT_PATH_DIRECT, 4000));
	{
		struct zt_path_status sa = path_of(a, pab), sb = path_of(b, pba);

		assert_int_equal(ss_port(&sa.endpoint), g_nat->front_port);
		assert_int_equal(ss_port(&sb.endpoint), g_nat->back_port);
	}
	assert_true(WAIT_SENDING(a, pab, seq, b->last_rx_path == ZT_TUNNEL_RX_DIRECT, 1000));

	/* Dark. */
	g_nat->drop = true;
	dark_at = zt_mono_ms();
	assert_true(WAIT_SENDING(a, pab, seq, path_of(a, pab).path == ZT_PATH_RELAYED_UDP &&
				 path_of(b, pba).path == ZT_PATH_RELAYED_UDP, 8000));
	fell_ms = zt_mono_ms() - dark_at;
	assert_true(fell_ms <= 6000 + 300);	/* 6 s after the last direct packet, at most */
	assert_int_equal(path_of(a, pab).fallbacks, 1);
	assert_int_equal(path_of(b, pba).fallbacks, 1);
	{
		json_object *o = zt_paths_status_json(a->ps, "b", pab);

		assert_string_equal(json_object_get_string(json_object_object_get(o, "path")),
				    "relayed-udp");
		assert_string_equal(json_object_get_string(json_object_object_get(o, "endpoint")),
				    "fake-relay");
		json_object_put(o);
	}
	/* Traffic goes on through the relay. */
	before = b->rx_relayed;
	forwarded = g_relay->forwarded;
	assert_true(WAIT_SENDING(a, pab, seq, b->rx_relayed >= before + 10, 2000));
	assert_true(g_relay->forwarded > forwarded);

	/* Light again: the retry (1.5 s here) finds the direct path. */
	g_nat->drop = false;
	assert_true(WAIT_SENDING(a, pab, seq, path_of(a, pab).path == ZT_PATH_DIRECT &&
				 path_of(b, pba).path == ZT_PATH_DIRECT, 5000));
	assert_int_equal(path_of(a, pab).upgrades, 2);
	before = b->rx_direct;
	assert_true(WAIT_SENDING(a, pab, seq, b->rx_direct >= before + 10, 2000));
}

/* The fake relay as another index of N's paths (a relay a controller's view adds), named NAME. */
static int relay_add(struct node *n, const char *name)
{
	struct zt_paths_relay r = { .name = name, .send = fr_send, .owns = fr_owns,
				    .input = fr_input, .rc = n };

	return zt_paths_add_relay(n->ps, &r);
}

/*
 * A client and a connector with the fake relay running but none in their
 * paths yet (and no local candidates): what a managed node starts with
 * before its view names a relay.
 */
static void open_pair_no_relay(struct zt_paths_cfg *pcfg, struct node **a, struct node **b)
{
	pcfg->no_local_addresses = true;
	pcfg->include_loopback = false;
	relay_open();
	*a = node_open("client", pcfg, true);
	*b = node_open("connector", pcfg, true);
	assert_int_equal(zt_paths_remove_relay((*a)->ps, 0), 0);
	assert_int_equal(zt_paths_remove_relay((*b)->ps, 0), 0);
}

static const char *relay_of(struct node *n, struct zt_tunnel_peer *p)
{
	struct zt_path_status st = path_of(n, p);

	return st.relay ? st.relay : "";
}

/*
 * Relays changed at run time (a controller's view; path/relays.c): two
 * peers that know each other by key only have no path without a relay;
 * the relay added, traffic goes through it; a second added and the first
 * removed, traffic goes on through the second (renumbered to index 0, its
 * name in status); the last removed, nothing goes through any relay.
 */
static void test_relays_at_run_time(void **state)
{
	struct zt_paths_cfg pcfg = fast_paths();
	struct node *a, *b;
	struct zt_tunnel_peer *pab, *pba;
	uint32_t seq = 1;
	unsigned int before, forwarded;

	(void)state;
	open_pair_no_relay(&pcfg, &a, &b);	/* no candidates: relayed it stays */
	assert_int_equal(zt_paths_remove_relay(a->ps, 1), -ENOENT);
	pair_relayed(a, b, &pab, &pba);
	assert_int_equal(path_of(a, pab).path, ZT_PATH_NONE);
	assert_false(WAIT_SENDING(a, pab, seq, b->nrecv > 0, 500));
	assert_int_equal(g_relay->forwarded, 0);

	/* Added: the handshake waiting for a way goes through it, and the data. */
	assert_int_equal(relay_add(a, "first"), 0);
	assert_int_equal(relay_add(b, "first"), 0);
	assert_true(pstats(pab).relayed);
	assert_true(WAIT_SENDING(a, pab, seq, b->nrecv >= 3, 3000));
	assert_int_equal(path_of(a, pab).path, ZT_PATH_RELAYED_UDP);
	assert_string_equal(relay_of(a, pab), "first");
	assert_true(g_relay->forwarded >= 3);

	/* A second, then the first removed: the session goes on through the second. */
	assert_int_equal(relay_add(a, "second"), 1);
	assert_int_equal(relay_add(b, "second"), 1);
	assert_int_equal(zt_paths_remove_relay(a->ps, 0), 0);
	assert_int_equal(zt_paths_remove_relay(b->ps, 0), 0);
	before = b->nrecv;
	assert_true(WAIT_SENDING(a, pab, seq, b->nrecv >= before + 10, 2000));
	assert_string_equal(relay_of(a, pab), "second");
	assert_string_equal(relay_of(b, pba), "second");
	assert_int_equal(path_of(a, pab).fallbacks, 0);

	/* The last one removed: no relay carries anything any more. */
	assert_int_equal(zt_paths_remove_relay(a->ps, 0), 0);
	assert_int_equal(zt_paths_remove_relay(b->ps, 0), 0);
	assert_false(pstats(pab).relayed);
	assert_int_equal(path_of(a, pab).path, ZT_PATH_NONE);
	settle(100);
	forwarded = g_relay->forwarded;
	before = b->nrecv;
	assert_false(WAIT_SENDING(a, pab, seq, b->nrecv > before, 500));
	assert_int_equal(g_relay->forwarded, forwarded);
}

/*
 * A relay added at run time on one side first: its handshake through the
 * relay is lost (the other side is not there yet). When the other side
 * adds it 1.2 s later, the session comes up within a second or so: handshakes
 * are resent every second for a while after a relay is added, not only at
 * the tunnel's retry (5 s here, as in the daemons).
 */
static void test_relay_added_retries_handshakes(void **state)
{
	struct zt_paths_cfg pcfg = fast_paths();
	struct node *a, *b;
	struct zt_tunnel_peer *pab, *pba;
	uint8_t buf[100];
	uint64_t t0;

	(void)state;
	g_rekey_ms = 5000;
	open_pair_no_relay(&pcfg, &a, &b);
	pair_relayed(a, b, &pab, &pba);
	assert_int_equal(relay_add(a, "new"), 0);
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 1, sizeof(buf))), 0);
	settle(1200);
	assert_int_equal(b->nrecv, 0);
	assert_true(g_relay->forwarded >= 1);	/* the lost initiation(s) */
	t0 = zt_mono_ms();
	assert_int_equal(relay_add(b, "new"), 0);
	assert_true(WAIT_FOR(b->nrecv == 1, 2500));
	assert_true(zt_mono_ms() - t0 < 1500);
	assert_int_equal(b->last_rx_path, ZT_TUNNEL_RX_RELAYED);
}

/*
 * A direct path without any relay (through a nat), idle for longer than
 * the fallback time; the first relay arrives at run time: the path is
 * probed at once and stays direct, nothing goes through the relay.
 */
static void test_relay_added_keeps_direct(void **state)
{
	struct zt_paths_cfg pcfg = fast_paths();
	struct sockaddr_storage ep;
	struct node *a, *b;
	struct zt_tunnel_peer *pab, *pba;
	uint32_t seq = 1;

	(void)state;
	open_pair_no_relay(&pcfg, &a, &b);
	g_nat = nat_new(b->port);
	ep = ss_loopback(g_nat->front_port);
	assert_int_equal(zt_tunnel_peer_add(a->t, b->pub, &ep, NULL, &pab), 0);
	assert_int_equal(zt_tunnel_peer_add(b->t, a->pub, NULL, NULL, &pba), 0);
	zt_paths_track(a->ps, pab);
	zt_paths_track(b->ps, pba);
	assert_true(WAIT_SENDING(a, pab, seq, b->nrecv >= 1, 2000));
	assert_int_equal(path_of(a, pab).path, ZT_PATH_DIRECT);
	settle(1500);				/* idle beyond fallback_ms (1 s) */

	assert_int_equal(relay_add(a, "late"), 0);
	assert_int_equal(relay_add(b, "late"), 0);
	settle(2000);				/* probes every 300 ms hold it */
	assert_int_equal(path_of(a, pab).path, ZT_PATH_DIRECT);
	assert_int_equal(path_of(a, pab).fallbacks, 0);
	assert_false(pstats(pab).relayed);
	assert_int_equal(g_relay->forwarded, 0);
}

/*
 * B has a direct endpoint for A (through the nat). A datagram from A that
 * comes through the relay (the relay's address on B's socket) is handled,
 * but moves neither B's endpoint nor its last direct time; B's answer made
 * while handling it goes back through the relay, even though the direct
 * path is dark.
 */
static void test_relayed_never_moves_endpoint(void **state)
{
	struct node *a, *b;
	struct zt_tunnel_peer *pab, *pba;
	struct sockaddr_storage ep;
	struct zt_tunnel_peer_stats sb;
	uint64_t last_direct;
	uint8_t buf[100];

	(void)state;
	relay_open();
	a = node_open("client", NULL, false);
	b = node_open("connector", NULL, false);
	g_nat = nat_new(b->port);
	ep = ss_loopback(g_nat->front_port);
	assert_int_equal(zt_tunnel_peer_add(a->t, b->pub, &ep, NULL, &pab), 0);
	assert_int_equal(zt_tunnel_peer_add(b->t, a->pub, NULL, NULL, &pba), 0);
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 1, sizeof(buf))), 0);
	assert_true(WAIT_FOR(b->nrecv == 1, 2000));
	assert_int_equal(b->last_rx_path, ZT_TUNNEL_RX_DIRECT);
	sb = pstats(pba);
	assert_int_equal(ss_port(&sb.endpoint), g_nat->back_port);
	assert_true(sb.last_direct_rx_ns > 0);
	last_direct = sb.last_direct_rx_ns;
	assert_int_equal(g_relay->forwarded, 0);

	/* A's path to B becomes the relay; the direct path goes dark. */
	g_nat->drop = true;
	zt_tunnel_peer_set_relayed(pab, true);
	b->echo = true;
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 2, sizeof(buf))), 0);
	assert_true(WAIT_FOR(b->nrecv == 2 && a->nrecv == 1, 2000));
	assert_int_equal(b->last_rx_path, ZT_TUNNEL_RX_RELAYED);
	assert_int_equal(a->last_rx_path, ZT_TUNNEL_RX_RELAYED);	/* the echo came back that way */
	assert_int_equal(a->last_seq, 2);
	assert_int_equal(g_relay->forwarded, 2);
	sb = pstats(pba);
	assert_int_equal(ss_port(&sb.endpoint), g_nat->back_port);	/* not the relay's port */
	assert_int_equal(sb.last_direct_rx_ns, last_direct);
	assert_false(sb.relayed);

	/* Also fed by hand (the engine's entry point), with a lying source key: same. */
	{
		uint8_t junk[64] = { 4, 0, 0, 0 };

		zt_tunnel_input_relayed(b->t, b->pub, junk, sizeof(junk));
		sb = pstats(pba);
		assert_int_equal(ss_port(&sb.endpoint), g_nat->back_port);
	}
}

/*
 * A and B each behind a router (see the top): A reaches B through its
 * router RA, B reaches A through RB; what each relay saw of a node is its
 * router's port as the far node sees it (RB for A, RA for B).
 */
static void routers_open(struct node *a, struct node *b, bool firewall)
{
	struct sockaddr_storage a_seen, b_seen;

	g_routers[0] = router_new(a->port, firewall);
	g_routers[1] = router_new(b->port, firewall);
	g_routers[0]->far = g_routers[1];
	g_routers[1]->far = g_routers[0];
	a_seen = ss_loopback(g_routers[1]->port);
	b_seen = ss_loopback(g_routers[0]->port);
	zt_paths_set_observed(a->ps, 0, &a_seen);
	zt_paths_set_observed(b->ps, 0, &b_seen);
}

static struct zt_paths_cfg router_paths(int prime_ttl)
{
	struct zt_paths_cfg pcfg = fast_paths();

	pcfg.no_local_addresses = true;		/* only what the "relay" saw: the routers */
	pcfg.include_loopback = false;
	pcfg.prime_ttl = prime_ttl;
	return pcfg;
}

/*
 * Issue 10: both routers take unsolicited datagrams for themselves. Each
 * side opens its own router with TTL-2 probes and says PRIMED through the
 * relay before any probe of full TTL: nothing is stolen, both go direct, and
 * data then flows direct with the relay idle.
 */
static void test_primed_through_routers_without_firewall(void **state)
{
	struct zt_paths_cfg pcfg = router_paths(0);
	struct node *a, *b;
	struct zt_tunnel_peer *pab, *pba;
	unsigned int forwarded;
	uint32_t seq = 1;

	(void)state;
	relay_open();
	a = node_open("client", &pcfg, true);
	b = node_open("connector", &pcfg, true);
	routers_open(a, b, false);
	pair_relayed(a, b, &pab, &pba);
	assert_true(WAIT_SENDING(a, pab, seq, path_of(a, pab).path == ZT_PATH_DIRECT &&
				 path_of(b, pba).path == ZT_PATH_DIRECT, 3000));
	{
		struct zt_path_status sa = path_of(a, pab), sb = path_of(b, pba);

		assert_int_equal(ss_port(&sa.endpoint), g_routers[0]->port);
		assert_int_equal(ss_port(&sb.endpoint), g_routers[1]->port);
	}
	/* Each router was opened by a probe that died, and nothing was taken. */
	assert_true(g_routers[0]->died >= 1 && g_routers[1]->died >= 1);
	assert_int_equal(g_routers[0]->taken + g_routers[1]->taken, 0);
	assert_false(g_routers[0]->stolen || g_routers[1]->stolen);
	settle(200);
	forwarded = g_relay->forwarded;
	b->echo = true;
	assert_true(WAIT_SENDING(a, pab, seq, a->rx_direct >= 20, 3000));
	assert_int_equal(g_relay->forwarded, forwarded);
	assert_int_equal(path_of(a, pab).fallbacks + path_of(b, pba).fallbacks, 0);
}

/*
 * The control: the same routers, priming off (probes of full TTL as soon as
 * candidates arrive, as before issue 10). The first probe reaches a router
 * whose node has not sent yet: taken, the mapping stolen, never direct
 * (however many retries: every probe refreshes what was stolen).
 */
static void test_unprimed_probes_lose_the_mapping(void **state)
{
	struct zt_paths_cfg pcfg = router_paths(-1);
	struct node *a, *b;
	struct zt_tunnel_peer *pab, *pba;
	uint32_t seq = 1;

	(void)state;
	relay_open();
	a = node_open("client", &pcfg, true);
	b = node_open("connector", &pcfg, true);
	routers_open(a, b, false);
	pair_relayed(a, b, &pab, &pba);
	/* Two upgrade retries' worth (1.5 s each here). */
	assert_false(WAIT_SENDING(a, pab, seq, path_of(a, pab).path == ZT_PATH_DIRECT ||
				  path_of(b, pba).path == ZT_PATH_DIRECT, 3500));
	assert_true(g_routers[0]->stolen || g_routers[1]->stolen);
	assert_true(g_routers[0]->taken + g_routers[1]->taken >= 1);
	assert_int_equal(g_routers[0]->died + g_routers[1]->died, 0);
	assert_int_equal(path_of(a, pab).path, ZT_PATH_RELAYED_UDP);
	assert_true(b->rx_relayed > 0);		/* traffic went on through the relay */
}

/*
 * A peer from before PRIMED (it drops them, and never sends one) behind a
 * router with a firewall: the new side primes, waits probe_interval for a
 * PRIMED that does not come, and probes anyway; the old side probes at
 * once. Direct, as before.
 */
static void test_peer_without_primed(void **state)
{
	struct zt_paths_cfg pcfg = router_paths(0), old = router_paths(-1);
	struct node *a, *b;
	struct zt_tunnel_peer *pab, *pba;
	uint32_t seq = 1;

	(void)state;
	relay_open();
	a = node_open("client", &pcfg, true);
	b = node_open("old connector", &old, true);
	b->drop_primed = true;
	routers_open(a, b, true);
	pair_relayed(a, b, &pab, &pba);
	assert_true(WAIT_SENDING(a, pab, seq, path_of(a, pab).path == ZT_PATH_DIRECT &&
				 path_of(b, pba).path == ZT_PATH_DIRECT, 3000));
	assert_true(b->primed_dropped >= 1);
	assert_true(g_routers[0]->died >= 1);		/* A still opened its router first */
	assert_int_equal(g_routers[0]->taken + g_routers[1]->taken, 0);
}

/* ---- the candidate filter (issue 10 A12, path/cand.h) ---- */

static struct sockaddr_storage ep_of(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	}
	return ss;
}

static void view_add(struct zt_cand_view *v, const char *cidr, bool lan, bool loopback, bool tun)
{
	struct zt_cand_local *l = &v->a[v->n++];
	char text[64], *slash, why[128];
	struct zt_prefix host;

	snprintf(text, sizeof(text), "%s", cidr);
	slash = strchr(text, '/');
	*slash = '\0';
	assert_int_equal(zt_prefix_parse(text, &host, why, sizeof(why)), 0);
	l->net = host;
	l->net.len = (uint8_t)atoi(slash + 1);
	l->lan = lan;
	l->loopback = loopback;
	l->tun = tun;
}

/*
 * A connector as the filter sees it: lo; the uplink eth0 (default route:
 * lan) 192.168.2.2/24 and a ULA and a global /64; the private side p0
 * 10.10.0.1/24 and a ULA (not lan); the TUN with a device-range address;
 * an operator range of its own (deny).
 */
static void connector_view(struct zt_cand_view *v, const struct zt_prefix *deny)
{
	memset(v, 0, sizeof(*v));
	view_add(v, "127.0.0.1/8", false, true, false);
	view_add(v, "::1/128", false, true, false);
	view_add(v, "192.168.2.2/24", true, false, false);
	view_add(v, "fd00:2::2/64", true, false, false);
	view_add(v, "2001:db8:1::2/64", true, false, false);
	view_add(v, "10.10.0.1/24", false, false, false);
	view_add(v, "fd00:10::1/64", false, false, false);
	view_add(v, "198.51.100.1/24", false, false, false);	/* a public range on the private side */
	view_add(v, "100.64.0.1/32", false, false, true);
	v->deny = deny;
	v->ndeny = 1;
}

static void expect(const struct zt_cand_view *v, const char *ip, uint16_t port, enum zt_cand_why want)
{
	struct sockaddr_storage ss = ep_of(ip, port);
	enum zt_cand_why got = zt_cand_check(v, &ss);

	if (got != want)
		fail_msg("%s port %u: %s, want %s", ip, port, zt_cand_why_name(got),
			 zt_cand_why_name(want));
}

/* Each refused class; private passes on the uplink's LAN only; public passes. */
static void test_candidate_filter(void **state)
{
	struct zt_prefix deny;
	struct zt_cand_view v;
	char why[128];

	(void)state;
	assert_int_equal(zt_prefix_parse("198.18.200.0/24", &deny, why, sizeof(why)), 0);
	connector_view(&v, &deny);
	expect(&v, "203.0.113.7", 0, ZT_CAND_PORT);
	expect(&v, "0.0.0.0", 51820, ZT_CAND_UNSPECIFIED);
	expect(&v, "0.1.2.3", 51820, ZT_CAND_UNSPECIFIED);
	expect(&v, "127.0.0.1", 51820, ZT_CAND_LOOPBACK);
	expect(&v, "127.0.0.53", 53, ZT_CAND_LOOPBACK);
	expect(&v, "224.0.0.251", 5353, ZT_CAND_MULTICAST);
	expect(&v, "239.255.255.250", 1900, ZT_CAND_MULTICAST);
	expect(&v, "255.255.255.255", 51820, ZT_CAND_BROADCAST);
	expect(&v, "192.168.2.255", 51820, ZT_CAND_BROADCAST);	/* our LAN's broadcast */
	expect(&v, "192.168.2.0", 51820, ZT_CAND_BROADCAST);
	expect(&v, "169.254.169.254", 80, ZT_CAND_LINK_LOCAL);	/* cloud metadata */
	expect(&v, "240.0.0.1", 51820, ZT_CAND_RESERVED);
	expect(&v, "100.64.0.7", 51820, ZT_CAND_ZTGATE);		/* a device */
	expect(&v, "100.96.0.9", 51820, ZT_CAND_ZTGATE);		/* a fake IP */
	expect(&v, "100.95.0.251", 53, ZT_CAND_ZTGATE);		/* the client's DNS */
	expect(&v, "100.127.255.254", 53, ZT_CAND_ZTGATE);
	expect(&v, "198.18.200.9", 51820, ZT_CAND_ZTGATE);		/* the role's own range */
	expect(&v, "192.168.2.2", 22, ZT_CAND_OURS);
	expect(&v, "10.10.0.1", 53, ZT_CAND_OURS);
	expect(&v, "10.10.0.5", 7, ZT_CAND_PRIVATE_SIDE);		/* a host of the private network */
	expect(&v, "198.51.100.20", 161, ZT_CAND_PRIVATE_SIDE);	/* public, but on the private side */
	expect(&v, "10.99.0.1", 7, ZT_CAND_NOT_LAN);		/* routed: behind us or nowhere */
	expect(&v, "172.16.5.5", 51820, ZT_CAND_NOT_LAN);
	expect(&v, "192.168.1.2", 51820, ZT_CAND_NOT_LAN);		/* another LAN: the peer's own */
	expect(&v, "192.168.2.3", 51820, ZT_CAND_OK);		/* a peer on our LAN: the hairpin case */
	expect(&v, "203.0.113.7", 4500, ZT_CAND_OK);
	expect(&v, "100.63.255.255", 4500, ZT_CAND_OK);		/* just below 100.64.0.0/10 */
	expect(&v, "100.128.0.1", 4500, ZT_CAND_OK);		/* just above */
	expect(&v, "::", 51820, ZT_CAND_UNSPECIFIED);
	expect(&v, "::1", 51820, ZT_CAND_LOOPBACK);
	expect(&v, "ff02::1", 51820, ZT_CAND_MULTICAST);
	expect(&v, "fe80::1", 51820, ZT_CAND_LINK_LOCAL);
	expect(&v, "fec0::1", 51820, ZT_CAND_RESERVED);
	expect(&v, "2001:db8:1::2", 51820, ZT_CAND_OURS);
	expect(&v, "fd00:10::5", 7, ZT_CAND_PRIVATE_SIDE);
	expect(&v, "fd99::1", 51820, ZT_CAND_NOT_LAN);
	expect(&v, "fd00:2::3", 51820, ZT_CAND_OK);
	expect(&v, "2001:db8:5::1", 51820, ZT_CAND_OK);
	/* Tests on one host: loopback passes, but nothing else does that did not. */
	v.allow_loopback = true;
	expect(&v, "127.0.0.1", 51820, ZT_CAND_OK);
	expect(&v, "10.10.0.5", 7, ZT_CAND_PRIVATE_SIDE);
}

/* What our candidates are: the lan links' addresses, never the TUN's, loopback, link-local or ours. */
static void test_candidate_advertised(void **state)
{
	struct sockaddr_storage out[16], adv;
	struct zt_cand_view v;
	char buf[64], why[128];
	size_t n;

	(void)state;
	connector_view(&v, NULL);
	v.ndeny = 0;
	view_add(&v, "169.254.0.1/16", true, false, false);
	view_add(&v, "100.64.0.9/12", true, false, false);	/* an overlay's address on an uplink */
	n = zt_cand_local_list(&v, false, 51820, out, 16);
	assert_int_equal(n, 3);
	zt_sockaddr_format(&out[0], buf, sizeof(buf));
	assert_string_equal(buf, "192.168.2.2:51820");
	zt_sockaddr_format(&out[1], buf, sizeof(buf));
	assert_string_equal(buf, "[fd00:2::2]:51820");
	zt_sockaddr_format(&out[2], buf, sizeof(buf));
	assert_string_equal(buf, "[2001:db8:1::2]:51820");
	/* --advertise: what no peer would probe is refused at once. */
	assert_int_equal(zt_cand_parse_advertise("203.0.113.5:4500", &adv, why, sizeof(why)), 0);
	assert_int_equal(ss_port(&adv), 4500);
	assert_int_equal(zt_cand_parse_advertise("192.168.2.2", &adv, why, sizeof(why)), 0);
	assert_int_equal(ss_port(&adv), 0);
	assert_int_equal(zt_cand_parse_advertise("[2001:db8::1]:7", &adv, why, sizeof(why)), 0);
	assert_int_equal(zt_cand_parse_advertise("2001:db8::1", &adv, why, sizeof(why)), 0);
	assert_int_equal(zt_cand_parse_advertise("127.0.0.1", &adv, why, sizeof(why)), -EINVAL);
	assert_int_equal(zt_cand_parse_advertise("224.0.0.1:9", &adv, why, sizeof(why)), -EINVAL);
	assert_int_equal(zt_cand_parse_advertise("100.64.0.2", &adv, why, sizeof(why)), -EINVAL);
	assert_int_equal(zt_cand_parse_advertise("fe80::1", &adv, why, sizeof(why)), -EINVAL);
	assert_int_equal(zt_cand_parse_advertise("1.2.3.4:0", &adv, why, sizeof(why)), -EINVAL);
	assert_int_equal(zt_cand_parse_advertise("host:51820", &adv, why, sizeof(why)), -EINVAL);
}

static size_t put_cand(uint8_t *msg, size_t n, const struct sockaddr_storage *ss)
{
	uint8_t *c = msg + ZT_CANDIDATES_HDR_LEN + n * ZT_CANDIDATE_LEN;

	memset(c, 0, ZT_CANDIDATE_LEN);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		c[ZT_CANDIDATE_OFF_FAMILY] = 4;
		memcpy(c + ZT_CANDIDATE_OFF_PORT, &sin->sin_port, 2);
		c[ZT_CANDIDATE_OFF_ADDR + 10] = c[ZT_CANDIDATE_OFF_ADDR + 11] = 0xff;
		memcpy(c + ZT_CANDIDATE_ADDR_V4, &sin->sin_addr, 4);
	}
	return n + 1;
}

static unsigned int drain(int fd)
{
	uint8_t buf[2048];
	unsigned int n = 0;

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		n++;
	return n;
}

/*
 * A peer's candidates message through the engine: the refused ones are
 * neither kept nor probed, at most ZT_PATHS_CANDIDATES_ACCEPT are taken,
 * and status says which were refused and why.
 */
static void test_candidates_refused_not_probed(void **state)
{
	struct zt_paths_cfg pa = fast_paths(), pb = fast_paths();
	static const char *const bad[] = { "0.0.0.0", "224.0.0.1", "10.99.0.1", "169.254.169.254",
					   "100.64.0.9" };
	uint8_t msg[ZT_CANDIDATES_HDR_LEN + 16 * ZT_CANDIDATE_LEN], buf[100];
	int sink[10];
	unsigned int got[10] = { 0 };
	uint16_t sport[10];
	struct node *a, *b;
	struct zt_tunnel_peer *pab, *pba;
	struct sockaddr_storage ss;
	json_object *st, *refused;
	size_t n = 0;

	(void)state;
	pa.upgrade_retry_ms = 60000;		/* A sends only what the test writes */
	pa.no_local_addresses = true;
	relay_open();
	a = node_open("device", &pa, false);
	b = node_open("connector", &pb, true);
	pair_relayed(a, b, &pab, &pba);
	assert_int_equal(zt_tunnel_send(a->t, pab, buf, packet(buf, 1, sizeof(buf))), 0);
	assert_true(WAIT_FOR(b->nrecv == 1, 2000));
	for (int i = 0; i < 10; i++) {
		sink[i] = udp_socket(&sport[i]);
		ss = ss_loopback(sport[i]);
		n = put_cand(msg, n, &ss);
		if (i < 5) {
			ss = ep_of(bad[i], 7);
			n = put_cand(msg, n, &ss);
		}
	}
	ss = ss_loopback(0);		/* port 0 */
	n = put_cand(msg, n, &ss);
	msg[ZT_CTRL_OFF_TYPE] = ZT_CTRL_CANDIDATES;
	msg[ZT_CANDIDATES_OFF_COUNT] = (uint8_t)n;
	assert_int_equal(n, 16);
	assert_int_equal(zt_tunnel_send(a->t, pab, msg, ZT_CANDIDATES_HDR_LEN + n * ZT_CANDIDATE_LEN), 0);
	assert_true(WAIT_FOR(path_of(b, pba).candidates_refused == 8, 2000));
	assert_int_equal(path_of(b, pba).candidates, ZT_PATHS_CANDIDATES_ACCEPT);
	st = zt_paths_status_json(b->ps, "device", pba);
	assert_int_equal(json_object_array_length(json_object_object_get(st, "candidates")), 8);
	refused = json_object_object_get(st, "candidates_refused");
	assert_int_equal(json_object_array_length(refused), 8);
	{
		static const char *const want[] = { "unspecified", "multicast", "private-not-on-lan",
						     "link-local", "ztgate-range", "over-cap", "over-cap",
						     "port" };

		for (size_t i = 0; i < 8; i++)
			assert_string_equal(json_object_get_string(json_object_object_get(
				json_object_array_get_idx(refused, i), "why")), want[i]);
	}
	json_object_put(st);
	/* The eight taken are probed (primed, then probed); the two over the cap never. */
	assert_true(WAIT_FOR(({
		bool all = true;

		for (int i = 0; i < 10; i++)
			got[i] += drain(sink[i]);
		for (int i = 0; i < 8; i++)
			all = all && got[i] > 0;
		all;
	}), 3000));
	settle(500);
	for (int i = 0; i < 10; i++)
		got[i] += drain(sink[i]);
	assert_int_equal(got[8] + got[9], 0);
	for (int i = 0; i < 10; i++)
		close(sink[i]);
}

/* A relay message or STUN on the tunnel socket reaches ops.other; junk stays malformed. */
static void test_other_datagrams(void **state)
{
	struct node *b;
	struct sockaddr_in to;
	uint8_t stun[20] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42 };
	uint8_t relay_msg[40] = { 0x17 }, junk[40] = { 0x30 };
	int fd;

	(void)state;
	relay_open();
	b = node_open("connector", NULL, false);
	to = loopback(b->port);
	fd = udp_socket(NULL);
	sendto(fd, stun, sizeof(stun), 0, (struct sockaddr *)&to, sizeof(to));
	sendto(fd, relay_msg, sizeof(relay_msg), 0, (struct sockaddr *)&to, sizeof(to));
	sendto(fd, junk, sizeof(junk), 0, (struct sockaddr *)&to, sizeof(to));
	assert_true(WAIT_FOR(tstats(b).rx_datagrams == 3, 2000));
	assert_int_equal(tstats(b).rx_other, 2);
	assert_int_equal(tstats(b).rx_malformed, 1);
	close(fd);
}

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
		cmocka_unit_test(test_candidate_filter),
		cmocka_unit_test(test_candidate_advertised),
		cmocka_unit_test_teardown(test_candidates_refused_not_probed, teardown),
		cmocka_unit_test_teardown(test_other_datagrams, teardown),
		cmocka_unit_test_teardown(test_relayed_never_moves_endpoint, teardown),
		cmocka_unit_test_teardown(test_relayed_then_direct, teardown),
		cmocka_unit_test_teardown(test_fallback_and_upgrade_again, teardown),
		cmocka_unit_test_teardown(test_primed_through_routers_without_firewall, teardown),
		cmocka_unit_test_teardown(test_unprimed_probes_lose_the_mapping, teardown),
		cmocka_unit_test_teardown(test_peer_without_primed, teardown),
		cmocka_unit_test_teardown(test_ping, teardown),
		cmocka_unit_test_teardown(test_relays_at_run_time, teardown),
		cmocka_unit_test_teardown(test_relay_added_keeps_direct, teardown),
		cmocka_unit_test_teardown(test_relay_added_retries_handshakes, teardown),
	};

	private_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
