/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Paths between two tunnel peers (docs/RELAY.md, "Paths between two
 * peers"): every peer of a tunnel is reached through the relays until a
 * direct path is found by exchanging candidates and probing them from both
 * sides at once; the direct path is kept alive by probes, given up for the
 * relay when it goes quiet, and looked for again periodically.
 *
 * The module drives a zt_tunnel through its path hooks (tunnel.h:
 * zt_tunnel_peer_set_relayed, zt_tunnel_send_to, zt_tunnel_rx_path ...).
 * It knows relays only through struct zt_paths_relay, a few function
 * pointers, so it does not depend on the relay protocol's implementation
 * (daemon/path/relays.c plugs zt_relay_client in; tests plug a fake).
 *
 * The owner of the tunnel (client or connector) routes to it:
 *   ops.recv        -> zt_paths_recv() first (it takes control messages 0x03-0x06)
 *   ops.session_up  -> zt_paths_session_up()
 *   ops.other       -> zt_paths_other()
 *   ops.relay_send  -> zt_paths_relay_send()
 * and calls zt_paths_track() for each peer it adds. Peers are kept by
 * public key: one that the tunnel no longer has is forgotten at the next
 * timer, so removing a peer from the tunnel needs no call here.
 *
 * Single-threaded, on the loop; one timerfd, armed for the earliest due
 * peer. Nothing blocks.
 */
#ifndef ZT_PATHS_H
#define ZT_PATHS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <json-c/json.h>

#include "lib/loop.h"
#include "path/cand.h"
#include "tunnel/tunnel.h"

/* docs/RELAY.md's timers; a zero in the config means these. */
#define ZT_PATHS_DIRECT_PROBE_MS	5000	/* probe while direct (holds NAT mappings) */
#define ZT_PATHS_FALLBACK_MS		6000	/* no authenticated direct packet: back to the relay */
#define ZT_PATHS_UPGRADE_RETRY_MS	30000	/* candidates again while relayed */
#define ZT_PATHS_PROBE_INTERVAL_MS	2000	/* probes to candidates: every ... */
#define ZT_PATHS_PROBE_DURATION_MS	10000	/* ... for this long after candidates arrive */
/*
 * The TTL of the probes that open our own NAT toward the peer's candidates
 * before any probe of full TTL goes (docs/RELAY.md "Opening our own NAT
 * first"): 2 crosses our first hop (the NAT of a home, a cloud subnet, a k8s
 * node) and dies at the next router, before it can reach the peer's NAT.
 */
#define ZT_PATHS_PRIME_TTL		2

#define ZT_PATHS_CANDIDATES_MAX		16	/* per message */
/*
 * A peer's candidates we keep and probe (those the filter passed, in the
 * order sent: the relay-observed ones first). A peer has one or two public
 * endpoints and a few LAN addresses; more only multiply our probes.
 */
#define ZT_PATHS_CANDIDATES_ACCEPT	8
#define ZT_PATHS_RELAYS_MAX		8

struct zt_paths;

/*
 * --advertise (client and connector): the local candidates to send instead
 * of the interfaces' (each with the tunnel's port when its own is 0), or
 * none at all (only what relays observed).
 */
struct zt_paths_advertise {
	struct sockaddr_storage addr[ZT_CAND_ADVERTISE_MAX];
	size_t n;
	bool none;
};

/* One relay as seen from here (an adapter around zt_relay_client, or a test's fake). */
struct zt_paths_relay {
	const char *name;		/* "host:port", for status; kept by pointer */
	bool tcp;			/* status says relayed-tcp through it */
	void *rc;			/* the first argument of each function */
	/* DATAGRAM (a tunnel message) to the peer with KEY. 0 or -errno (-ENOTCONN: not registered). */
	int (*send)(void *rc, const uint8_t key[ZT_NOISE_KEY_LEN], const uint8_t *datagram,
		    size_t len);
	/* UDP: is this datagram from SRC (a relay message or STUN) this relay's? NULL for TCP. */
	bool (*owns)(void *rc, const struct sockaddr *src, socklen_t srclen);
	/* Take such a datagram. NULL for TCP. */
	void (*input)(void *rc, uint8_t *datagram, size_t len);
};

struct zt_paths_cfg {
	uint32_t direct_probe_ms;
	uint32_t fallback_ms;
	uint32_t upgrade_retry_ms;
	uint32_t probe_interval_ms;
	uint32_t probe_duration_ms;
	/*
	 * Our candidates: the endpoints relays observed, then the tunnel's
	 * port on our plausible uplink addresses (path/cand.h: never loopback,
	 * link-local, the TUN's or ztgate's ranges; with uplink_only, only
	 * those of links holding a default route), or instead the advertise
	 * list. Tests set no_local_addresses and give their own with
	 * zt_paths_set_observed(); include_loopback advertises lo's too.
	 */
	bool no_local_addresses;
	bool include_loopback;
	bool uplink_only;		/* the connector: its other links lead into the private network */
	const struct zt_paths_advertise *advertise;	/* --advertise; NULL or n == 0: the interfaces' */
	/*
	 * The peer's candidates pass path/cand.h's filter (issue 10 A12) with
	 * these: TUN_NAME (our TUN: neither advertised nor our LAN) and DENY
	 * (the role's ranges beside 100.64.0.0/10; kept by pointer). Tests on
	 * one host set accept_loopback: loopback candidates pass.
	 */
	const char *tun_name;
	const struct zt_prefix *deny;
	size_t ndeny;
	bool accept_loopback;
	/*
	 * TTL of the priming probes: 0 means ZT_PATHS_PRIME_TTL; -1 turns
	 * priming and its PRIMED handshake off (candidates are probed at once,
	 * as before issue 10).
	 */
	int prime_ttl;
};

enum zt_path_kind {
	ZT_PATH_NONE,		/* no direct endpoint and no relay */
	ZT_PATH_DIRECT,
	ZT_PATH_RELAYED_UDP,
	ZT_PATH_RELAYED_TCP,
};

struct zt_path_status {
	enum zt_path_kind path;
	struct sockaddr_storage endpoint;	/* direct: the peer's; else AF_UNSPEC */
	const char *relay;			/* relayed: the relay's name; else NULL */
	uint64_t rtt_us;			/* last probe round trip on the current path; 0: none yet */
	uint64_t last_handshake_ns;		/* CLOCK_REALTIME; 0: never */
	uint64_t rx_bytes, tx_bytes;		/* payload bytes, as the tunnel counts them */
	uint64_t upgrades, fallbacks;		/* relayed -> direct, direct -> relayed */
	unsigned int candidates;		/* the peer's we took, as last received */
	unsigned int candidates_refused;	/* the peer's the filter refused, in all */
};

/* Open on LOOP for tunnel T (not owned). 0 with *OUT, or -errno with ERR. */
int zt_paths_open(struct zt_loop *loop, struct zt_tunnel *t, const struct zt_paths_cfg *cfg,
		  struct zt_paths **out, char *err, size_t errlen);
/* Close; the tunnel's peers keep their last path. NULL is fine. */
void zt_paths_close(struct zt_paths *ps);

/*
 * Add a relay (copied; at most ZT_PATHS_RELAYS_MAX). Its index (returned,
 * >= 0) names it to zt_paths_set_observed() and zt_paths_relayed_input().
 * Relays are tried in the order added (UDP ones should come first). The
 * first one added while peers are tracked (at run time) gives relayed peers
 * their way and the peers without a session a relayed path; direct peers
 * with a session keep theirs (probed at once, a fresh fallback grace).
 */
int zt_paths_add_relay(struct zt_paths *ps, const struct zt_paths_relay *relay);
/*
 * Remove relay INDEX (a controller's view no longer names it): the relays
 * above it move down one index (the caller renumbers its own). Peers that
 * went through it take the next relay that carries their traffic; with no
 * relay left, a relayed peer goes to its endpoint, if the tunnel has one.
 * Direct paths are not touched. 0 or -ENOENT.
 */
int zt_paths_remove_relay(struct zt_paths *ps, int index);
/* Relay INDEX observed our endpoint as EP (its STUN or registration): a candidate. NULL forgets it. */
void zt_paths_set_observed(struct zt_paths *ps, int index, const struct sockaddr_storage *ep);
/* A relay (re)registered: handshakes that went out before it could carry them are resent now. */
void zt_paths_relay_up(struct zt_paths *ps);

/*
 * Manage peer P from now on (again): direct if the tunnel has an endpoint
 * for it, else relayed (if there is a relay).
 */
void zt_paths_track(struct zt_paths *ps, struct zt_tunnel_peer *p);

/* ops.recv: true if PAYLOAD was a path control message (consumed), false to handle it yourself. */
bool zt_paths_recv(struct zt_paths *ps, struct zt_tunnel_peer *p, const uint8_t *payload,
		   size_t len);
/* ops.session_up: the path the session came up on becomes the peer's. */
void zt_paths_session_up(struct zt_paths *ps, struct zt_tunnel_peer *p);
/* ops.other: hands a relay's datagram to the relay that owns its source. */
void zt_paths_other(struct zt_paths *ps, uint8_t *buf, size_t len, const struct sockaddr *src,
		    socklen_t srclen);
/* ops.relay_send: through the relay P last came through, else the first that takes it. */
int zt_paths_relay_send(struct zt_paths *ps, struct zt_tunnel_peer *p, const uint8_t *datagram,
			size_t len);
/*
 * A relay's recv: DATAGRAM from the peer with key SRC through relay INDEX.
 * Fed to the tunnel as relayed (zt_tunnel_input_relayed).
 */
void zt_paths_relayed_input(struct zt_paths *ps, int index, const uint8_t src[ZT_NOISE_KEY_LEN],
			    uint8_t *datagram, size_t len);

/* P's path for `ztgate status`. -ENOENT if P is not tracked. */
int zt_paths_status(struct zt_paths *ps, const struct zt_tunnel_peer *p, struct zt_path_status *st);
/*
 * `ztgate stats` (and so /metrics): ROW, a peer's counters, gains "path"
 * (as zt_path_kind_name), "rtt_ms" when measured, "upgrades" and
 * "fallbacks". PS may be NULL (no path logic: direct when the tunnel has
 * an endpoint), P too (path "none").
 */
void zt_paths_stats_json(struct zt_paths *ps, const struct zt_tunnel_peer *p, json_object *row);

/*
 * `ztgate ping` (docs/RELAY.md): a probe (tunnel/ctrl.h) to P along its
 * current path, as its traffic goes (queued behind a handshake when no
 * session is up). The peer answers it the way it came; the answer is kept
 * for zt_paths_pong() and changes no path. 0 with *ID, or -errno.
 */
int zt_paths_ping(struct zt_paths *ps, struct zt_tunnel_peer *p, uint64_t *id);

struct zt_paths_pong {
	bool answered;
	enum zt_path_kind path;			/* the way the answer came */
	struct sockaddr_storage from;		/* direct: the peer's endpoint; else AF_UNSPEC */
	const char *relay;			/* relayed: the relay's name (may be NULL) */
	uint64_t rtt_ns;
};

/* Ping ID's answer, or not yet (answered false). -ENOENT: no such ping (the last 8 are kept). */
int zt_paths_pong(struct zt_paths *ps, const struct zt_tunnel_peer *p, uint64_t id,
		  struct zt_paths_pong *out);

/*
 * The control command `ping` for peer P: without ID, send one and add its
 * "id" (16 hex digits) and "session_up" to O; with ID, add "answered" and,
 * when it is, "path", "endpoint" (direct) or "relay", and "rtt_ms".
 * 0, or -errno with ERR.
 */
int zt_paths_ping_json(struct zt_paths *ps, struct zt_tunnel_peer *p, const char *id,
		       json_object *o, char *err, size_t errlen);

/* "direct", "relayed-udp", "relayed-tcp", "none". */
const char *zt_path_kind_name(enum zt_path_kind k);
/*
 * One status row: {"name", "pubkey", "path", "endpoint", "rtt_ms",
 * "last_handshake", "rx_bytes", "tx_bytes", ...}. PS may be NULL (no path
 * logic: the tunnel's endpoint, path "direct"). P may be NULL (no peer:
 * path "none"). The caller owns the object.
 */
json_object *zt_paths_status_json(struct zt_paths *ps, const char *name,
				  const struct zt_tunnel_peer *p);

#endif
