/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the tunnel engine's files share (tunnel.h is the public interface):
 * its state and the functions one file calls in another. Only
 * daemon/tunnel/{tunnel,session,timers,send,recv}.c include it.
 *
 *   tunnel.c   the engine's life: open, close, peers, addresses, events
 *   session.c  index table, sessions (keypairs), the handshake messages
 *   timers.c   WireGuard's timers (timers.c in the Linux driver, same names)
 *   send.c     payloads out: queue, transport messages, the send batch
 *   recv.c     datagrams in: the receive batch, transport messages, dispatch
 *
 * The socket's batched I/O (recvmmsg/sendmmsg, UDP GRO/GSO) is
 * lib/udp_batch.c. Single-threaded, like the whole engine.
 */
#ifndef ZT_TUNNEL_INTERNAL_H
#define ZT_TUNNEL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/clock.h"
#include "lib/udp_batch.h"
#include "tunnel/noise.h"
#include "tunnel/tunnel.h"
#include "tunnel/wire.h"

#define INDEX_BUCKETS		4096	/* local indices: random, so any bucketing is even */
#define PEER_BUCKETS		1024
#define TX_SLOT			2048	/* an inner MTU of 1420 + 32 fits; bigger ones go alone */
/* An initiator stops using a cookie a little before the responder's secret rotates. */
#define COOKIE_LATENCY_NS	(5 * ZT_NS_PER_S)
#define UNDER_LOAD_AFTER_NS	ZT_NS_PER_S
/*
 * wireguard-go's limits on initiations: under load, a source with a valid
 * mac2 gets RL_RATE per second with a burst of RL_BURST (its ratelimiter),
 * and any one peer's initiations are consumed at most every
 * INITIATION_MIN_GAP_NS (HandshakeInitationRate: 50 per second).
 */
#define RL_SLOTS		4096	/* per-source buckets: fixed, keyed-hashed, 2-way */
#define RL_RATE			20
#define RL_BURST		5
#define INITIATION_MIN_GAP_NS	(ZT_NS_PER_S / 50)

/* One source's bucket (GCRA: the theoretical arrival time of the next initiation). */
struct rl_slot {
	uint64_t tag;			/* keyed hash of the source; 0: free */
	uint64_t tat_ns;
};

/* A local index: what a response, transport or cookie reply is addressed to. */
struct index_entry {
	uint32_t id;
	bool linked;
	struct zt_tunnel_peer *peer;
	struct keypair *kp;		/* NULL: the peer's pending initiation */
	struct index_entry *next;
};

/* One session: a key each way, counters, replay window. */
struct keypair {
	struct index_entry idx;		/* our index: the peer sends to it */
	struct zt_noise_session noise;
	uint32_t remote_index;		/* we send to it */
	uint64_t born_ns;
	uint64_t send_counter;		/* next to use; never reused */
	bool initiator;
	bool confirmed;			/* may send: the responder waits for the first packet */
	struct zt_noise_replay replay;
};

struct queued {
	uint8_t *buf;
	size_t len;
};

struct zt_tunnel_peer {
	struct zt_tunnel *t;
	uint8_t pub[ZT_NOISE_KEY_LEN];
	uint8_t mac1_key[32];		/* mac1 of what we send it */
	uint8_t cookie_key[32];		/* opens its cookie replies */
	void *ctx;
	struct sockaddr_storage endpoint;	/* AF_UNSPEC: unknown */
	bool removed;
	bool relayed;				/* path through ops.relay_send */
	uint64_t last_direct_rx_ns;

	/* The initiation we sent, waiting for its response. */
	struct zt_noise_handshake hs;
	bool hs_pending;
	struct index_entry hs_idx;
	uint8_t sent_mac1[ZT_TW_MAC_LEN];	/* a cookie reply's associated data */
	bool has_sent_mac1;
	uint8_t cookie[ZT_TW_COOKIE_LEN];
	uint64_t cookie_born_ns;
	bool has_cookie;
	uint64_t last_init_sent_ns;
	uint64_t attempt_start_ns;
	bool sent_lastminute_handshake;

	/* The newest TAI64N accepted from it (as responder). */
	uint8_t last_tai64n[ZT_TW_TAI64N_LEN];
	uint64_t last_init_consumed_ns;	/* its last initiation we answered */

	struct keypair *prev, *cur, *next;

	/* Deadlines, CLOCK_MONOTONIC ns; 0: off. */
	uint64_t retry_at;		/* retransmit the initiation */
	uint64_t keepalive_at;		/* we received data and sent nothing */
	uint64_t new_handshake_at;	/* we sent data and heard nothing */
	uint64_t zero_keys_at;		/* no new session for 3 * REJECT_AFTER_TIME */
	uint64_t persistent_at;
	bool need_another_keepalive;

	struct queued queue[ZT_TUNNEL_QUEUE_MAX];
	unsigned int qhead, qlen;

	struct zt_tunnel_peer_stats st;	/* endpoint, queued, session_up filled on read */

	struct zt_tunnel_peer *hnext;		/* by_key chain */
	struct zt_tunnel_peer *lprev, *lnext;	/* all peers */
	struct zt_tunnel_peer *gnext;		/* graveyard */
};

struct zt_tunnel {
	struct zt_loop *loop;
	int fd, timer_fd;
	int family;			/* of the socket */
	bool fd_registered, timer_registered;
	struct zt_tunnel_ops ops;
	void *ctx;

	uint8_t priv[ZT_NOISE_KEY_LEN], pub[ZT_NOISE_KEY_LEN];
	uint8_t mac1_key[32];		/* checks mac1 of what we receive */
	uint8_t cookie_key[32];		/* seals our cookie replies */
	struct zt_tw_cookie_secret cookie_secret;
	struct rl_slot rl[RL_SLOTS];	/* under load: mac2-valid initiations per source */
	uint64_t rl_key[2];		/* SipHash key of the buckets' tags */

	uint64_t rekey_after_time_ns, reject_after_time_ns, rekey_attempt_time_ns;
	uint64_t rekey_timeout_ns, keepalive_timeout_ns, persistent_keepalive_ns;
	uint64_t rekey_after_messages;
	uint32_t under_load_threshold;
	uint64_t load_window_start_ns, load_count, under_load_until_ns;
	bool backlog;
	bool in_rx_batch;		/* handling a recvmmsg batch: rx buffers stable until its flush */

	struct index_entry *index[INDEX_BUCKETS];
	struct zt_tunnel_peer *by_key[PEER_BUCKETS];
	struct zt_tunnel_peer *peers;
	struct zt_tunnel_peer *graveyard;
	int depth;			/* inside an event: removed peers wait */

	/* The datagram being handled: how it came, and the peer it authenticated. */
	enum zt_tunnel_rx_path rx_path;
	struct sockaddr_storage rx_from;
	uint8_t rx_src_key[ZT_NOISE_KEY_LEN];	/* RX_RELAYED: the key the relay named */
	struct zt_tunnel_peer *rx_peer;

	uint64_t timer_armed_ns;	/* 0: disarmed */

	/* The socket's recvmmsg/sendmmsg batches (UDP GRO in, GSO out). */
	struct zt_udp_batch *io;
	int cork;			/* > 0: sends wait in the batch for the uncork */

	struct zt_tunnel_stats stats;
};

static inline bool has_endpoint(const struct zt_tunnel_peer *p)
{
	return p->endpoint.ss_family != AF_UNSPEC;
}

/* Datagrams to P go through the relay: its path, or the answer to a relayed datagram. */
static inline bool via_relay(const struct zt_tunnel_peer *p)
{
	return p->relayed || (p->t->rx_path == ZT_TUNNEL_RX_RELAYED && p->t->rx_peer == p);
}

/* Somewhere to send P's datagrams (a handshake needs it). */
static inline bool can_reach(const struct zt_tunnel_peer *p)
{
	return has_endpoint(p) || via_relay(p);
}

static inline bool can_send(const struct zt_tunnel *t, const struct keypair *kp, uint64_t now)
{
	return kp && kp->confirmed && now - kp->born_ns < t->reject_after_time_ns &&
	       kp->send_counter < ZT_TUNNEL_REJECT_AFTER_MESSAGES;
}

/* ---- tunnel.c ---- */

/* Endpoints are kept as the peer is: an IPv4-mapped IPv6 address becomes AF_INET. */
int tunnel_addr_normalize(const struct sockaddr *sa, socklen_t len, struct sockaddr_storage *out);
/* EP as our socket's family wants it; 0 if it cannot reach it (IPv6 from an IPv4 socket). */
socklen_t tunnel_addr_for_socket(const struct zt_tunnel *t, const struct sockaddr_storage *ep,
				 struct sockaddr_storage *to);
/*
 * Around every event (a batch, a timer, an API call that sends): sends are
 * corked until the end, and peers removed meanwhile are freed only then.
 */
void tunnel_event_begin(struct zt_tunnel *t);
void tunnel_event_end(struct zt_tunnel *t);

/* ---- session.c ---- */

struct index_entry *tunnel_index_find(struct zt_tunnel *t, uint32_t id);
/* Forget the pending handshake (and its index). */
void tunnel_handshake_clear(struct zt_tunnel_peer *p);
/* Forget every session and the pending handshake. */
void tunnel_wipe_keys(struct zt_tunnel_peer *p);
/* The first packet on the next session confirms it: it becomes current. True if so. */
bool tunnel_received_with_keypair(struct zt_tunnel_peer *p, struct keypair *kp);
/* Send an initiation now (a retry, or a path that just became usable). */
void tunnel_send_initiation(struct zt_tunnel_peer *p, uint64_t now);
/* Start a handshake unless one went out less than REKEY_TIMEOUT ago. */
void tunnel_initiate(struct zt_tunnel_peer *p, uint64_t now);
/* The handshake messages from SRC (how they came: t->rx_path). */
void tunnel_consume_initiation(struct zt_tunnel *t, uint8_t *msg, size_t len,
			       const struct sockaddr_storage *src, uint64_t now);
void tunnel_consume_response(struct zt_tunnel *t, uint8_t *msg, size_t len,
			     const struct sockaddr_storage *src, uint64_t now);
void tunnel_consume_cookie_reply(struct zt_tunnel *t, const uint8_t *msg, size_t len,
				 uint64_t now);

/* ---- timers.c: what WireGuard's timers.c calls on each event, same names ---- */

/* Set P's DEADLINE (one of its *_at fields) to WHEN, arming the timerfd if earlier. */
void tunnel_set_timer(struct zt_tunnel_peer *p, uint64_t *deadline, uint64_t when);
uint64_t tunnel_rekey_timeout_jittered(const struct zt_tunnel *t);
void tunnel_timers_any_authenticated_packet_sent(struct zt_tunnel_peer *p);
void tunnel_timers_any_authenticated_packet_received(struct zt_tunnel_peer *p);
void tunnel_timers_any_authenticated_packet_traversal(struct zt_tunnel_peer *p, uint64_t now);
void tunnel_timers_data_sent(struct zt_tunnel_peer *p, uint64_t now);
void tunnel_timers_data_received(struct zt_tunnel_peer *p, uint64_t now);
void tunnel_timers_handshake_complete(struct zt_tunnel_peer *p);
void tunnel_timers_session_derived(struct zt_tunnel_peer *p, uint64_t now);
/* The timerfd's callback (zt_loop). */
void tunnel_on_timer(struct zt_loop *loop, int fd, uint32_t events, void *arg);

/* ---- send.c ---- */

void tunnel_tx_flush(struct zt_tunnel *t);
/* Space for one datagram of LEN bytes, for tunnel_tx_commit() or tunnel_peer_commit() next. */
uint8_t *tunnel_tx_reserve(struct zt_tunnel *t, size_t len);
/* Send BUF (from tunnel_tx_reserve) to EP: into the batch, out at once unless corked. */
void tunnel_tx_commit(struct zt_tunnel *t, const struct sockaddr_storage *ep, uint8_t *buf,
		      size_t len);
/* Send BUF (from tunnel_tx_reserve) to P on its path: its endpoint or the relay. */
void tunnel_peer_commit(struct zt_tunnel_peer *p, uint8_t *buf, size_t len);
/* Drop what P has queued; COUNT: as queue_dropped. */
void tunnel_queue_purge(struct zt_tunnel_peer *p, bool count);
/* Send what is queued on the current session, or ask for one. */
void tunnel_send_staged(struct zt_tunnel_peer *p, uint64_t now);
/* A keepalive (or what is queued, which says as much), or a handshake if no session. */
void tunnel_send_keepalive(struct zt_tunnel_peer *p, uint64_t now);

/* ---- recv.c ---- */

/* A datagram from SRC authenticated P: its endpoint roams there unless it came relayed. */
void tunnel_authenticated_from(struct zt_tunnel_peer *p, const struct sockaddr_storage *src,
			       uint64_t now);
/* The socket's callback (zt_loop). */
void tunnel_on_udp(struct zt_loop *loop, int fd, uint32_t events, void *arg);

#endif
