/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The tunnel engine: everything between "an IP packet for peer P" and UDP
 * datagrams, as docs/TUNNEL.md lays it out (WireGuard's protocol with
 * Noise_IK_25519_ChaChaPoly_SHA256 from noise.h, messages from
 * tunnel/wire.h).
 *
 * One UDP socket and one timerfd per tunnel, both on the caller's zt_loop;
 * nothing blocks. Peers are added by static public key; only they can
 * complete a handshake with us. Per peer the engine keeps WireGuard's three
 * sessions (previous, current, next) so that a rekey loses no packet, runs
 * the handshake retries, rekeys, keepalives and key expiry, follows the
 * peer's endpoint as it roams, and queues a bounded number of packets while
 * no session is up.
 *
 * Timers: one timerfd armed (absolute, CLOCK_MONOTONIC) for the earliest
 * deadline any peer has. Setting a deadline only ever re-arms it earlier;
 * deadlines that move later or vanish are left to fire, and the expiry
 * scans all peers, runs what is due and re-arms for the next. That keeps a
 * timerfd_settime off the per-packet path (the keepalive deadline changes
 * on nearly every packet) and is exact to the millisecond, which the tests'
 * 100 ms timers need; a coarse tick would cost a wakeup per tick forever
 * and blur short timers. The scan is O(peers) per expiry, and expiries
 * come at most about one per deadline.
 *
 * Single-threaded: call everything from the loop's thread. The callbacks
 * may call zt_tunnel_send() and zt_tunnel_peer_remove() (a removed peer is
 * freed once the current event is done), not zt_tunnel_close().
 */
#ifndef ZT_TUNNEL_H
#define ZT_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/loop.h"
#include "tunnel/noise.h"

struct zt_tunnel;
struct zt_tunnel_peer;

/* Largest payload: what fits one IPv4 UDP datagram with our 32 bytes. */
#define ZT_TUNNEL_PAYLOAD_MAX	(65507 - 32)
/* Packets held per peer while no session is up; the oldest goes first. */
#define ZT_TUNNEL_QUEUE_MAX	128
/*
 * Datagrams taken per recvmmsg (and sent per sendmmsg). With UDP GSO/GRO
 * (when the kernel has them) a run of equal-sized datagrams to one
 * endpoint leaves as one send, and arrives as one receive.
 */
#define ZT_TUNNEL_BATCH		32

/*
 * WireGuard's constants (docs/TUNNEL.md). A zero in the config's field
 * means the default below.
 */
#define ZT_TUNNEL_REKEY_AFTER_TIME_MS		120000
#define ZT_TUNNEL_REJECT_AFTER_TIME_MS		180000
#define ZT_TUNNEL_REKEY_ATTEMPT_TIME_MS		90000
#define ZT_TUNNEL_REKEY_TIMEOUT_MS		5000	/* + up to 1/15 of it (333 ms) jitter */
#define ZT_TUNNEL_KEEPALIVE_TIMEOUT_MS		10000
#define ZT_TUNNEL_REKEY_AFTER_MESSAGES		(UINT64_C(1) << 60)
#define ZT_TUNNEL_REJECT_AFTER_MESSAGES		(UINT64_MAX - (UINT64_C(1) << 13))	/* 2^64 - 2^13 - 1 */
#define ZT_TUNNEL_UNDER_LOAD_INITIATIONS	64	/* per second */

struct zt_tunnel_cfg {
	uint8_t private_key[ZT_NOISE_KEY_LEN];
	/* Address and port to bind: AF_INET, or AF_INET6 (dual-stack); AF_UNSPEC is [::]. Port 0: any. */
	struct sockaddr_storage listen;
	uint32_t rekey_after_time_ms;
	uint32_t reject_after_time_ms;
	uint32_t rekey_attempt_time_ms;
	uint32_t rekey_timeout_ms;
	uint32_t keepalive_timeout_ms;
	uint32_t persistent_keepalive_ms;	/* 0: off (the client sets 25000) */
	uint64_t rekey_after_messages;
	/*
	 * Under load: more initiations (with a valid mac1) than this in the
	 * current one-second window, or a receive batch more than half full of
	 * initiations. The state lasts one second after the last overload.
	 */
	uint32_t under_load_initiations_per_s;
};

struct zt_tunnel_ops {
	/*
	 * The decrypted, non-empty payload of an authenticated transport
	 * packet from P. PAYLOAD is the engine's buffer: writable, and valid
	 * until the next flush call (so a batch of payloads can be written
	 * out together).
	 */
	void (*recv)(void *ctx, struct zt_tunnel_peer *p, uint8_t *payload, size_t len);
	/*
	 * After each batch of datagrams (up to ZT_TUNNEL_BATCH), before the
	 * buffers handed to recv are reused. May be NULL.
	 */
	void (*flush)(void *ctx);
	/* A new session with P is usable for sending (the client resends its binds here). May be NULL. */
	void (*session_up)(void *ctx, struct zt_tunnel_peer *p);
	/*
	 * A datagram on the socket that is not a tunnel message but a relay's
	 * (first byte 0x10-0x1f) or STUN (magic cookie at bytes 4-7):
	 * docs/RELAY.md. BUF is the engine's, valid (and writable) during the
	 * call. NULL: such datagrams count as malformed.
	 */
	void (*other)(void *ctx, uint8_t *buf, size_t len, const struct sockaddr *src,
		      socklen_t srclen);
	/*
	 * Deliver DATAGRAM (a complete tunnel message, valid during the call)
	 * to P through a relay: P's path is relayed (zt_tunnel_peer_set_relayed),
	 * or the engine answers a datagram that came relayed. 0 or -errno (a
	 * failure counts in tx_errors). NULL: such sends fail.
	 */
	int (*relay_send)(void *ctx, struct zt_tunnel_peer *p, const uint8_t *datagram, size_t len);
};

/* How the datagram being handled arrived (zt_tunnel_rx_path). */
enum zt_tunnel_rx_path {
	ZT_TUNNEL_RX_NONE,	/* not inside a receive (a timer, a send) */
	ZT_TUNNEL_RX_DIRECT,	/* on the socket, from the peer's address */
	ZT_TUNNEL_RX_RELAYED,	/* fed by zt_tunnel_input_relayed() */
};

/* Engine-wide counters: mostly why datagrams were dropped. */
struct zt_tunnel_stats {
	uint64_t rx_datagrams;		/* every datagram read from the socket */
	uint64_t tx_datagrams;		/* handed to the kernel */
	uint64_t tx_errors;		/* the kernel refused (buffer full, unreachable) */
	uint64_t rx_malformed;		/* unknown type, bad header or size */
	uint64_t rx_bad_mac1;		/* handshake with a wrong mac1: no DH, no reply */
	uint64_t rx_handshake_failed;	/* Noise refused it (forged, not for us) */
	uint64_t rx_unknown_key;	/* initiation from a static key never added */
	uint64_t rx_initiation_replay;	/* TAI64N not newer than the last accepted */
	uint64_t rx_unknown_index;	/* response/transport/cookie for no session of ours */
	uint64_t rx_replay;		/* transport counter seen or older than the window */
	uint64_t rx_bad_tag;		/* transport that did not open */
	uint64_t rx_expired;		/* transport on a session past REJECT_AFTER_* */
	uint64_t rx_bad_cookie;		/* cookie reply that did not open */
	uint64_t handshake_dh;		/* handshake messages that reached the DH */
	uint64_t cookie_replies_sent;	/* under load, instead of a DH */
	uint64_t mac2_accepted;		/* under load, initiations let through on a valid mac2 */
	uint64_t tx_gso_sends;		/* sends that carried several datagrams (UDP GSO) */
	uint64_t rx_gro_messages;	/* receives that held several datagrams (UDP GRO) */
	uint64_t rx_other;		/* relay or STUN datagrams handed to ops.other */
	uint64_t rx_relayed;		/* datagrams fed by zt_tunnel_input_relayed() */
	uint64_t tx_relayed;		/* datagrams handed to ops.relay_send (accepted) */
	uint64_t rx_ratelimited;	/* under load, mac2-valid initiations over their source's budget */
	uint64_t rx_initiation_flood;	/* initiations from a peer less than 20 ms after its last */
	uint64_t rx_relayed_mismatch;	/* relayed initiations whose key is not the one the relay named */
};

struct zt_tunnel_peer_stats {
	struct sockaddr_storage endpoint;	/* current (follows roaming); AF_UNSPEC: unknown */
	uint64_t last_handshake_ns;		/* CLOCK_REALTIME of the last session; 0: never */
	uint64_t handshakes;			/* sessions established */
	uint64_t initiations_sent;
	uint64_t rx_packets, rx_bytes;		/* payloads delivered (keepalives not counted) */
	uint64_t tx_packets, tx_bytes;		/* payloads sent */
	uint64_t rx_keepalives, tx_keepalives;
	uint64_t cookie_replies_received;	/* that opened */
	uint64_t queue_dropped;			/* queued packets lost: full queue, gave up */
	unsigned int queued;
	bool session_up;			/* a current session we can send on */
	bool relayed;				/* zt_tunnel_peer_set_relayed() */
	uint64_t last_direct_rx_ns;		/* CLOCK_MONOTONIC of the last authenticated direct datagram; 0: never */
};

/*
 * Bind the UDP socket (SO_REUSEADDR off: a port in use is an error) and a
 * timerfd, and register both on LOOP. OPS and CTX are kept (OPS copied).
 * Returns 0 with *OUT, or -errno with a message in ERR.
 */
int zt_tunnel_open(struct zt_loop *loop, const struct zt_tunnel_cfg *cfg,
		   const struct zt_tunnel_ops *ops, void *ctx, struct zt_tunnel **out,
		   char *err, size_t errlen);

/* Unregister, close, wipe every key, free every peer. NULL is fine. */
void zt_tunnel_close(struct zt_tunnel *t);

/* The bound UDP port (host order), e.g. after binding port 0. */
int zt_tunnel_local_port(const struct zt_tunnel *t);

/* Our static public key. */
void zt_tunnel_public_key(const struct zt_tunnel *t, uint8_t out[ZT_NOISE_KEY_LEN]);

/*
 * Add peer PUBLIC_KEY. ENDPOINT (AF_INET or AF_INET6 with a port) is where
 * to send; NULL if unknown until the peer talks to us (a connector's
 * devices). PEER_CTX is the caller's, returned by zt_tunnel_peer_ctx().
 * Returns 0 with *OUT (may be NULL), -EEXIST (key already added), -EINVAL
 * (our own key, a bad endpoint), -EAFNOSUPPORT (an IPv6 endpoint for an
 * IPv4 socket), -ENOMEM. With persistent keepalive configured, a peer with
 * an endpoint is connected to at once.
 */
int zt_tunnel_peer_add(struct zt_tunnel *t, const uint8_t public_key[ZT_NOISE_KEY_LEN],
		       const struct sockaddr_storage *endpoint, void *peer_ctx,
		       struct zt_tunnel_peer **out);

/* Set where to send to P (as zt_tunnel_peer_add's ENDPOINT). */
int zt_tunnel_peer_set_endpoint(struct zt_tunnel_peer *p, const struct sockaddr_storage *endpoint);

/* Forget P's direct endpoint: P is reached through ops.relay_send, or not at all, until it talks directly again. */
void zt_tunnel_peer_clear_endpoint(struct zt_tunnel_peer *p);

/*
 * P's path (docs/RELAY.md "Paths"). RELAYED true: every datagram to P goes
 * to ops.relay_send, and the engine initiates to P even without an
 * endpoint; the direct endpoint is kept (still following roaming) for
 * when the path goes direct again. False (the default): datagrams go to
 * the endpoint; a peer without one is answered through the relay only
 * when its datagram came that way. With persistent keepalive configured,
 * a peer made relayed is connected to at once.
 */
void zt_tunnel_peer_set_relayed(struct zt_tunnel_peer *p, bool relayed);

/*
 * Remove P: its sessions and handshake are wiped, its queue freed; later
 * packets from it are dropped (unknown index / unknown key). P must not be
 * used afterwards.
 */
void zt_tunnel_peer_remove(struct zt_tunnel *t, struct zt_tunnel_peer *p);

struct zt_tunnel_peer *zt_tunnel_peer_by_key(const struct zt_tunnel *t,
					     const uint8_t public_key[ZT_NOISE_KEY_LEN]);
void *zt_tunnel_peer_ctx(const struct zt_tunnel_peer *p);
/* Replace P's context (the caller moved the object it points to). */
void zt_tunnel_peer_set_ctx(struct zt_tunnel_peer *p, void *peer_ctx);
const uint8_t *zt_tunnel_peer_key(const struct zt_tunnel_peer *p);	/* 32 bytes */

/*
 * Send PAYLOAD (1..ZT_TUNNEL_PAYLOAD_MAX bytes, copied) to P: encrypted
 * now if a session is up, else queued (ZT_TUNNEL_QUEUE_MAX, oldest
 * dropped) and a handshake started when P's endpoint is known. Returns 0
 * (sent or queued), -EMSGSIZE, -EINVAL. A send the kernel refuses counts
 * in tx_errors, as a lost datagram would.
 */
int zt_tunnel_send(struct zt_tunnel *t, struct zt_tunnel_peer *p, const uint8_t *payload,
		   size_t len);

/* A path became usable: pending handshakes are resent now rather than at their retry. */
void zt_tunnel_retry_handshakes(struct zt_tunnel *t);

/*
 * Batch sends: between cork and uncork, datagrams collect (up to
 * ZT_TUNNEL_BATCH) and leave with one sendmmsg. Nests. The engine corks
 * itself while it handles a receive batch (replies made in the callbacks
 * join it) and its timers.
 */
void zt_tunnel_cork(struct zt_tunnel *t);
void zt_tunnel_uncork(struct zt_tunnel *t);

void zt_tunnel_peer_stats(const struct zt_tunnel_peer *p, struct zt_tunnel_peer_stats *st);
void zt_tunnel_stats(const struct zt_tunnel *t, struct zt_tunnel_stats *st);

/*
 * Handle datagram MSG (LEN bytes, modified in place) as if it had arrived
 * on the socket from SRC. For a caller that demultiplexes a shared socket
 * itself (STUN on the same port), and for fuzzing.
 */
void zt_tunnel_input(struct zt_tunnel *t, uint8_t *msg, size_t len, const struct sockaddr *src,
		     socklen_t srclen);

/*
 * Handle MSG, a tunnel datagram that came through a relay (the relay says
 * from the peer with key SRC_KEY, which nothing here trusts: the datagram
 * authenticates itself, and anyone who can spoof the relay's address can
 * feed this). Processed like any, except that it never moves a peer's
 * direct endpoint (roaming is for direct datagrams only), and what the
 * engine sends to that peer while handling it (handshake response,
 * keepalive, queued packets, and sends from the callbacks) goes back
 * through ops.relay_send. Initiations get the same defences as direct ones
 * (docs/TUNNEL.md "Handshake floods"): SRC_KEY must be a peer's, under load
 * they need a mac2 from the cookie bound to SRC_KEY (the cookie reply goes
 * back through the relay to SRC_KEY), mac2-valid ones are rate-limited per
 * SRC_KEY, the key the handshake proves must be SRC_KEY, and every peer's
 * initiations are limited to 50 per second.
 */
void zt_tunnel_input_relayed(struct zt_tunnel *t, const uint8_t src_key[ZT_NOISE_KEY_LEN],
			     uint8_t *msg, size_t len);

/*
 * Inside ops.recv or ops.session_up: how the datagram being handled came.
 * For ZT_TUNNEL_RX_DIRECT, *SRC (may be NULL) is its source (IPv4-mapped
 * addresses as AF_INET).
 */
enum zt_tunnel_rx_path zt_tunnel_rx_path(const struct zt_tunnel *t, struct sockaddr_storage *src);

/*
 * Send LEN bytes (not a tunnel message: a relay's or STUN) from the
 * tunnel's socket to DST, in order with the tunnel's own datagrams: queued
 * while corked (one sendmmsg for the batch), else now. 0 or -errno
 * (-EAFNOSUPPORT: an IPv6 DST on an IPv4 socket); a send that fails later
 * counts in tx_errors.
 */
int zt_tunnel_sendto_raw(struct zt_tunnel *t, const uint8_t *buf, size_t len,
			 const struct sockaddr_storage *dst);

/*
 * Seal PAYLOAD (1..ZT_TUNNEL_PAYLOAD_MAX bytes) on P's current session and
 * send it directly to ENDPOINT, whatever P's path (a probe to a candidate).
 * Nothing is queued and no timer moves. 0, -ENOTCONN (no session to send
 * on), -EMSGSIZE, -EINVAL, -EAFNOSUPPORT.
 */
int zt_tunnel_send_to(struct zt_tunnel *t, struct zt_tunnel_peer *p, const uint8_t *payload,
		      size_t len, const struct sockaddr_storage *endpoint);

/*
 * zt_tunnel_send_to, leaving with IP TTL (IPv6 hop limit) TTL, 1..255, for
 * this datagram only (0: the socket's default, as zt_tunnel_send_to): a
 * probe meant to die on the way (docs/RELAY.md "Opening our own NAT
 * first"). It leaves at once, after whatever the send batch held; the
 * batch and the socket's settings are not changed.
 */
int zt_tunnel_send_to_ttl(struct zt_tunnel *t, struct zt_tunnel_peer *p, const uint8_t *payload,
			  size_t len, const struct sockaddr_storage *endpoint, int ttl);

#endif
