/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The node <-> controller connection: a Noise IK session (tunnel/noise.h,
 * no new crypto) over one TCP connection, carrying JSON messages.
 *
 * Why TCP: a view can be large (a connector's view at 10,000 devices is
 * about 1 MB) and must arrive whole and in order, which a byte stream gives
 * for free; and TCP to one port passes firewalls that block UDP. The data
 * plane stays on the UDP tunnel; only the control plane rides TCP.
 *
 * Wire format: a stream of frames, each a 2-byte big-endian length L
 * (<= 65,535) and L bytes.
 *   frame 1 (node -> controller): Noise message 1. The node is the
 *     initiator and pins the controller's static key (from its token); the
 *     payload is the node's hello, a JSON object {"role", "hostname",
 *     "version", "token_secret"? (base64, only at enrollment), "have"?:
 *     {"rev", "hash"} (the view it holds)}. A controller reads at most
 *     ZT_CP_HELLO_MAX bytes before it knows who is talking.
 *   frame 2 (controller -> node): Noise message 2; its payload the
 *     controller's accept {"type": "accept", "kind", "id", "name"}. A
 *     node the controller refuses gets no frame 2 and no byte at all.
 *   then transport frames both ways: ChaCha20-Poly1305 with the Noise
 *     transport keys and an implicit counter per direction (0, 1, 2...:
 *     TCP neither reorders nor drops, so the counter is not sent). The
 *     plaintext is one flags byte (bit 0: the last frame of a message; no
 *     other bit may be set) and up to ZT_CP_FRAME_DATA bytes of a message.
 *     A message is a JSON object with a "type", up to ZT_CP_MSG_MAX bytes
 *     (16 MiB): more is refused and the connection closed.
 * Any frame that fails to open, a bad flags byte, an oversized frame or
 * message, or a message that is not a JSON object closes the connection.
 *
 * Messages (controlplane/msg.h builds them): view, applied, endpoint,
 * connection, error; ping and pong are answered here: each side sends a
 * ping after ZT_CP_PING_MS without sending anything, and closes after
 * ZT_CP_DEAD_MS without receiving anything (a dead peer is noticed in
 * about 15 s).
 *
 * Non-blocking, on the caller's zt_loop. Bounded: the input buffer is one
 * frame (a hello-sized one until the handshake is done), a message being
 * reassembled at most ZT_CP_MSG_MAX, the output at most ZT_CP_OUT_MAX
 * (zt_cp_conn_send says -ENOBUFS past it). Senders of views send one only
 * when zt_cp_conn_pending() is 0 and otherwise wait for ops->drained, so a
 * slow reader gets the latest view, never a queue of stale ones.
 *
 * Callers: daemon/controller/node_server.c (responder), daemon/agent/
 * (initiator), tests/unit/test_cp_conn.c.
 */
#ifndef ZT_CONTROLPLANE_CONN_H
#define ZT_CONTROLPLANE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "tunnel/keys.h"
#include "tunnel/noise.h"

struct zt_loop;
struct zt_cp_conn;

#define ZT_CP_PROLOGUE		"ztgate control plane 1"
#define ZT_CP_FRAME_MAX		65535u		/* a frame's bytes after its length */
#define ZT_CP_FRAME_DATA	(ZT_CP_FRAME_MAX - ZT_NOISE_TAG_LEN - 1)
#define ZT_CP_MSG_MAX		(16u << 20)	/* one JSON message */
#define ZT_CP_HELLO_MAX		4096u		/* frame 1, read before authentication */
#define ZT_CP_OUT_MAX		(ZT_CP_MSG_MAX + (1u << 20))
#define ZT_CP_PING_MS		5000
#define ZT_CP_DEAD_MS		15000
#define ZT_CP_HANDSHAKE_MS	5000		/* frame 1 (controller) or 2 (node) must come by then */

#define ZT_CP_FLAG_END		0x01

struct zt_cp_conn_ops {
	/*
	 * Responder: message 1 opened; PUB is the initiator's static key (it
	 * holds its private key), HELLO its payload. Return the accept payload
	 * (a new reference, sent in message 2), or NULL to close without a byte.
	 */
	json_object *(*hello)(void *ctx, struct zt_cp_conn *c, const uint8_t pub[ZT_KEY_LEN],
			      json_object *hello);
	/* Initiator: message 2 opened; ACCEPT is the controller's payload. */
	void (*established)(void *ctx, struct zt_cp_conn *c, json_object *accept);
	/* A message other than ping and pong (borrowed). */
	void (*message)(void *ctx, struct zt_cp_conn *c, json_object *msg);
	/* Everything queued went to the kernel (NULL: not wanted). */
	void (*drained)(void *ctx, struct zt_cp_conn *c);
	/*
	 * The connection is over: REASON in a few words. Called once, from the
	 * loop or zt_cp_conn_tick, never from zt_cp_conn_send; the owner frees
	 * C here (zt_cp_conn_free) and must not touch it after.
	 */
	void (*closed)(void *ctx, struct zt_cp_conn *c, const char *reason);
};

struct zt_cp_conn_cfg {
	struct zt_loop *loop;
	int fd;				/* a connected TCP socket; the connection owns it */
	enum zt_noise_role role;
	uint8_t static_priv[ZT_KEY_LEN];
	uint8_t remote_pub[ZT_KEY_LEN];	/* initiator: the controller's pinned key */
	json_object *hello;		/* initiator: message 1's payload (borrowed) */
	uint64_t now_ms;		/* monotonic: the handshake deadline counts from here */
	const struct zt_cp_conn_ops *ops;
	void *ctx;
};

/*
 * Take CFG->fd and watch it on CFG->loop; the initiator queues message 1.
 * 0 or -errno (the fd is then closed).
 */
int zt_cp_conn_open(const struct zt_cp_conn_cfg *cfg, struct zt_cp_conn **out);

/*
 * Queue MSG (a JSON object) as one message. 0, -ENOTCONN (handshake not
 * done, or closing), -EMSGSIZE (over ZT_CP_MSG_MAX), -ENOBUFS (the output
 * would pass ZT_CP_OUT_MAX: the peer does not read).
 */
int zt_cp_conn_send(struct zt_cp_conn *c, json_object *msg);
/*
 * The same for a message already serialized (TEXT, LEN bytes: one JSON
 * object with a "type", e.g. zt_cp_msg_view_text's): a large view is
 * serialized once, for its hash and its message.
 */
int zt_cp_conn_send_text(struct zt_cp_conn *c, const char *text, size_t len);

/* Bytes queued and not yet taken by the kernel. */
size_t zt_cp_conn_pending(const struct zt_cp_conn *c);
bool zt_cp_conn_established(const struct zt_cp_conn *c);
/* The peer's static key: known once message 1 was read (responder) or from the start. */
const uint8_t *zt_cp_conn_remote(const struct zt_cp_conn *c);
int zt_cp_conn_fd(const struct zt_cp_conn *c);
/* When the peer was last heard from (monotonic ms). */
uint64_t zt_cp_conn_last_rx(const struct zt_cp_conn *c);

/*
 * Deadlines at NOW_MS (monotonic): the handshake's, keepalives, the dead
 * peer. May call ops->closed (the owner then frees C): call it last for C.
 */
void zt_cp_conn_tick(struct zt_cp_conn *c, uint64_t now_ms);

/* From inside a callback: close after it returns (ops->closed follows). */
void zt_cp_conn_shutdown(struct zt_cp_conn *c, const char *reason);

/* Stop watching, close the socket, wipe the keys. Never calls ops->closed. */
void zt_cp_conn_free(struct zt_cp_conn *c);

#endif
