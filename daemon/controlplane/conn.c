// SPDX-License-Identifier: GPL-2.0-only
/*
 * The node <-> controller connection (conn.h): frames in and out of a
 * non-blocking TCP socket, the Noise IK handshake, sealed messages with
 * implicit counters, reassembly, keepalives. Used by the controller's node
 * server and the node's agent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/mem.h>

#include "controlplane/conn.h"
#include "lib/bytes.h"
#include "lib/clock.h"
#include "lib/loop.h"

#define READS_PER_EVENT	16
/*
 * Buffers above this are freed once used (an idle connection's output, a
 * delivered message, a frame read): thousands of idle connections on a
 * controller hold a few kilobytes each, whatever they once carried.
 */
#define BUF_KEEP	(16u * 1024)

enum state { ST_HANDSHAKE, ST_ESTABLISHED };

struct zt_cp_conn {
	struct zt_loop *loop;
	int fd;
	enum state state;
	enum zt_noise_role role;
	struct zt_noise_handshake hs;
	struct zt_noise_session sess;
	uint64_t send_n, recv_n;
	uint8_t remote[ZT_KEY_LEN];
	const struct zt_cp_conn_ops *ops;
	void *ctx;

	uint8_t *in;			/* one frame: length and body */
	size_t in_len, in_cap;
	char *msg;			/* the message being reassembled */
	size_t msg_len, msg_cap;
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	bool want_out, was_pending;

	uint64_t deadline_ms;		/* the handshake's */
	uint64_t last_rx_ms, last_tx_ms;
	const char *closing;		/* set: close once the callback returns */
};

static void fail(struct zt_cp_conn *c, const char *reason)
{
	if (!c->closing)
		c->closing = reason;
}

void zt_cp_conn_shutdown(struct zt_cp_conn *c, const char *reason)
{
	fail(c, reason);
}

static int out_reserve(struct zt_cp_conn *c, size_t more)
{
	size_t need, cap;
	uint8_t *p;

	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_off > c->out_len / 2) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	need = c->out_len + more;
	if (need > ZT_CP_OUT_MAX)
		return -ENOBUFS;
	if (need <= c->out_cap)
		return 0;
	cap = c->out_cap ? c->out_cap : 4096;
	while (cap < need)
		cap *= 2;
	if (cap > ZT_CP_OUT_MAX)
		cap = ZT_CP_OUT_MAX;
	p = realloc(c->out, cap);
	if (!p)
		return -ENOMEM;
	c->out = p;
	c->out_cap = cap;
	return 0;
}

static void watch_out(struct zt_cp_conn *c, bool on)
{
	if (c->want_out == on)
		return;
	c->want_out = on;
	zt_loop_mod(c->loop, c->fd, EPOLLIN | (on ? EPOLLOUT : 0));
}

/* Give the kernel what it takes. 0, or -errno (the connection is failed). */
static int flush(struct zt_cp_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				watch_out(c, true);
				return 0;
			}
			fail(c, "send failed");
			return -errno;
		}
		c->out_off += (size_t)w;
	}
	c->out_off = c->out_len = 0;
	if (c->out_cap > BUF_KEEP) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	watch_out(c, false);
	return 0;
}

/* Queue one handshake frame. */
static int queue_raw(struct zt_cp_conn *c, const uint8_t *msg, size_t len)
{
	int ret = out_reserve(c, 2 + len);

	if (ret)
		return ret;
	zt_put_be16(c->out + c->out_len, (uint16_t)len);
	memcpy(c->out + c->out_len + 2, msg, len);
	c->out_len += 2 + len;
	return 0;
}

/* Seal FLAGS and DATA (LEN <= ZT_CP_FRAME_DATA) as one frame at the end of the output. */
static int queue_sealed(struct zt_cp_conn *c, uint8_t flags, const char *data, size_t len)
{
	size_t clen = ZT_NOISE_SEALED_LEN(1 + len);
	uint8_t *frame = c->out + c->out_len;
	ssize_t n;

	if (c->send_n == ZT_NOISE_NONCE_MAX - 1)
		return -EOVERFLOW;
	frame[2] = flags;
	memcpy(frame + 3, data, len);
	n = zt_noise_seal(&c->sess.send, c->send_n, NULL, 0, frame + 2, 1 + len, frame + 2, clen);
	if (n < 0)
		return (int)n;
	c->send_n++;
	zt_put_be16(frame, (uint16_t)n);
	c->out_len += 2 + (size_t)n;
	return 0;
}

int zt_cp_conn_send(struct zt_cp_conn *c, json_object *msg)
{
	const char *text;

	if (c->state != ST_ESTABLISHED || c->closing)
		return -ENOTCONN;
	text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
	return zt_cp_conn_send_text(c, text, strlen(text));
}

int zt_cp_conn_send_text(struct zt_cp_conn *c, const char *text, size_t len)
{
	size_t nframes, off = 0;
	int ret;

	if (c->state != ST_ESTABLISHED || c->closing)
		return -ENOTCONN;
	if (len > ZT_CP_MSG_MAX)
		return -EMSGSIZE;
	nframes = len ? (len + ZT_CP_FRAME_DATA - 1) / ZT_CP_FRAME_DATA : 1;
	ret = out_reserve(c, len + nframes * (2 + 1 + ZT_NOISE_TAG_LEN));
	if (ret)
		return ret;
	do {
		size_t chunk = len - off > ZT_CP_FRAME_DATA ? ZT_CP_FRAME_DATA : len - off;

		ret = queue_sealed(c, off + chunk == len ? ZT_CP_FLAG_END : 0, text + off, chunk);
		if (ret) {
			fail(c, "sealing failed");
			return ret;
		}
		off += chunk;
	} while (off < len);
	c->last_tx_ms = zt_mono_ms();
	return flush(c);
}

static void send_type(struct zt_cp_conn *c, const char *type)
{
	json_object *m = json_object_new_object();

	json_object_object_add(m, "type", json_object_new_string(type));
	zt_cp_conn_send(c, m);
	json_object_put(m);
}

/* Frame 1 at the responder: decide, answer or close without a byte. */
static void read_hello(struct zt_cp_conn *c, const uint8_t *frame, size_t len)
{
	uint8_t payload[ZT_CP_HELLO_MAX], msg2[ZT_NOISE_MSG_MAX];
	json_object *hello = NULL, *accept = NULL;
	const char *text;
	ssize_t n;

	n = zt_noise_read_message(&c->hs, frame, len, payload, sizeof(payload) - 1);
	if (n < 0 || zt_noise_remote_static(&c->hs, c->remote)) {
		fail(c, "message 1 did not open (wrong controller key, or not a node)");
		goto out;
	}
	payload[n] = '\0';
	hello = json_tokener_parse((const char *)payload);
	if (!hello || !json_object_is_type(hello, json_type_object)) {
		fail(c, "hello is not a JSON object");
		goto out;
	}
	accept = c->ops->hello(c->ctx, c, c->remote, hello);
	if (!accept) {
		fail(c, "refused");
		goto out;
	}
	text = json_object_to_json_string_ext(accept, JSON_C_TO_STRING_PLAIN);
	n = zt_noise_write_message(&c->hs, (const uint8_t *)text, strlen(text), msg2, sizeof(msg2));
	if (n < 0 || queue_raw(c, msg2, (size_t)n) || zt_noise_split(&c->hs, &c->sess)) {
		fail(c, "answering the handshake failed");
		goto out;
	}
	c->state = ST_ESTABLISHED;
	flush(c);
out:
	OPENSSL_cleanse(payload, sizeof(payload));
	json_object_put(hello);
	json_object_put(accept);
}

/* Frame 2 at the initiator. */
static void read_accept(struct zt_cp_conn *c, const uint8_t *frame, size_t len)
{
	uint8_t payload[ZT_NOISE_MSG_MAX + 1];
	json_object *accept;
	ssize_t n;

	n = zt_noise_read_message(&c->hs, frame, len, payload, sizeof(payload) - 1);
	if (n < 0 || zt_noise_split(&c->hs, &c->sess)) {
		fail(c, "the controller's answer did not authenticate");
		return;
	}
	payload[n] = '\0';
	accept = json_tokener_parse((const char *)payload);
	if (!accept || !json_object_is_type(accept, json_type_object)) {
		json_object_put(accept);
		fail(c, "the controller's accept is not a JSON object");
		return;
	}
	c->state = ST_ESTABLISHED;
	c->ops->established(c->ctx, c, accept);
	json_object_put(accept);
}

/* A whole message in c->msg. */
static void deliver(struct zt_cp_conn *c)
{
	struct json_tokener *tok = json_tokener_new_ex(64);
	json_object *m = NULL, *t;
	const char *type;

	if (!tok) {
		fail(c, "out of memory");
		return;
	}
	m = json_tokener_parse_ex(tok, c->msg, (int)c->msg_len);
	if (!m || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != c->msg_len || !json_object_is_type(m, json_type_object) ||
	    !json_object_object_get_ex(m, "type", &t) || !json_object_is_type(t, json_type_string)) {
		fail(c, "a message is not a JSON object with a type");
		goto out;
	}
	type = json_object_get_string(t);
	if (!strcmp(type, "ping"))
		send_type(c, "pong");
	else if (strcmp(type, "pong"))
		c->ops->message(c->ctx, c, m);
out:
	json_object_put(m);
	json_tokener_free(tok);
	c->msg_len = 0;
	if (c->msg_cap > BUF_KEEP) {
		free(c->msg);
		c->msg = NULL;
		c->msg_cap = 0;
	}
}

static int msg_append(struct zt_cp_conn *c, const uint8_t *data, size_t len)
{
	size_t cap;
	char *p;

	if (c->msg_len + len > ZT_CP_MSG_MAX)
		return -EMSGSIZE;
	if (c->msg_len + len + 1 <= c->msg_cap)
		goto copy;
	cap = c->msg_cap ? c->msg_cap : 4096;
	while (cap < c->msg_len + len + 1)
		cap *= 2;
	p = realloc(c->msg, cap);
	if (!p)
		return -ENOMEM;
	c->msg = p;
	c->msg_cap = cap;
copy:
	memcpy(c->msg + c->msg_len, data, len);
	c->msg_len += len;
	c->msg[c->msg_len] = '\0';
	return 0;
}

static void read_transport(struct zt_cp_conn *c, uint8_t *frame, size_t len)
{
	ssize_t n;

	if (len < ZT_NOISE_SEALED_LEN(1)) {
		fail(c, "short frame");
		return;
	}
	n = zt_noise_open(&c->sess.recv, c->recv_n, NULL, 0, frame, len, frame, len);
	if (n < 1) {
		fail(c, "a frame did not authenticate");
		return;
	}
	c->recv_n++;
	if (frame[0] & ~ZT_CP_FLAG_END) {
		fail(c, "bad frame flags");
		return;
	}
	if (msg_append(c, frame + 1, (size_t)n - 1)) {
		fail(c, "message over 16 MiB refused");
		return;
	}
	if (frame[0] & ZT_CP_FLAG_END)
		deliver(c);
}

static void read_frame(struct zt_cp_conn *c, uint8_t *frame, size_t len)
{
	c->last_rx_ms = zt_mono_ms();
	if (c->state == ST_ESTABLISHED)
		read_transport(c, frame, len);
	else if (c->role == ZT_NOISE_RESPONDER)
		read_hello(c, frame, len);
	else
		read_accept(c, frame, len);
}

/* The largest frame accepted now: frame 1 is read before we know who sends it. */
static size_t frame_limit(const struct zt_cp_conn *c)
{
	return c->state == ST_HANDSHAKE && c->role == ZT_NOISE_RESPONDER ? ZT_CP_HELLO_MAX
									  : ZT_CP_FRAME_MAX;
}

static int grow_in(struct zt_cp_conn *c, size_t need)
{
	uint8_t *p;

	if (need <= c->in_cap)
		return 0;
	p = realloc(c->in, need);
	if (!p)
		return -ENOMEM;
	c->in = p;
	c->in_cap = need;
	return 0;
}

/* Read what there is; each whole frame is handled as it completes. */
static void on_readable(struct zt_cp_conn *c)
{
	for (int i = 0; i < READS_PER_EVENT && !c->closing; i++) {
		size_t want = c->in_len < 2 ? 2 : 2 + (size_t)zt_get_be16(c->in);
		ssize_t r;

		if (c->in_len >= 2 && want - 2 > frame_limit(c)) {
			fail(c, "frame too large");
			return;
		}
		if (grow_in(c, want)) {
			fail(c, "out of memory");
			return;
		}
		r = recv(c->fd, c->in + c->in_len, want - c->in_len, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			fail(c, r ? "receive failed" : c->state == ST_ESTABLISHED ?
			     "closed by the peer" : "closed by the peer during the handshake");
			return;
		}
		c->in_len += (size_t)r;
		if (c->in_len < 2 || c->in_len < want || want == 2) {
			if (c->in_len == 2 && zt_get_be16(c->in) == 0) {
				fail(c, "empty frame");
				return;
			}
			continue;
		}
		read_frame(c, c->in + 2, c->in_len - 2);
		c->in_len = 0;
		if (c->in_cap > BUF_KEEP) {
			free(c->in);
			c->in = NULL;
			c->in_cap = 0;
		}
	}
}

static void finish(struct zt_cp_conn *c)
{
	if (c->closing) {
		c->ops->closed(c->ctx, c, c->closing);
		return;
	}
	if (c->was_pending && c->out_len == 0) {
		c->was_pending = false;
		if (c->ops->drained)
			c->ops->drained(c->ctx, c);
		if (c->closing) {
			c->ops->closed(c->ctx, c, c->closing);
			return;
		}
	}
	c->was_pending = c->out_len > 0;
}

static void on_io(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_cp_conn *c = arg;

	(void)loop;
	(void)fd;
	if (events & EPOLLOUT)
		flush(c);
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		on_readable(c);
	finish(c);
}

void zt_cp_conn_tick(struct zt_cp_conn *c, uint64_t now_ms)
{
	if (c->state == ST_HANDSHAKE && now_ms >= c->deadline_ms)
		fail(c, "handshake timed out");
	else if (c->state == ST_ESTABLISHED && now_ms >= c->last_rx_ms + ZT_CP_DEAD_MS)
		fail(c, "no word from the peer for 15 s");
	else if (c->state == ST_ESTABLISHED && now_ms >= c->last_tx_ms + ZT_CP_PING_MS)
		send_type(c, "ping");
	finish(c);
}

/* The initiator's message 1. */
static int start_initiator(struct zt_cp_conn *c, json_object *hello)
{
	const char *text = json_object_to_json_string_ext(hello, JSON_C_TO_STRING_PLAIN);
	uint8_t msg1[ZT_NOISE_MSG_MAX];
	ssize_t n;

	n = zt_noise_write_message(&c->hs, (const uint8_t *)text, strlen(text), msg1, sizeof(msg1));
	if (n < 0)
		return (int)n;
	if ((size_t)n > ZT_CP_HELLO_MAX)
		return -EMSGSIZE;
	return queue_raw(c, msg1, (size_t)n);
}

int zt_cp_conn_open(const struct zt_cp_conn_cfg *cfg, struct zt_cp_conn **out)
{
	struct zt_cp_conn *c = calloc(1, sizeof(*c));
	int ret = -ENOMEM;

	if (!c) {
		close(cfg->fd);
		return ret;
	}
	c->loop = cfg->loop;
	c->fd = cfg->fd;
	c->role = cfg->role;
	c->ops = cfg->ops;
	c->ctx = cfg->ctx;
	c->last_rx_ms = c->last_tx_ms = cfg->now_ms;
	c->deadline_ms = cfg->now_ms + ZT_CP_HANDSHAKE_MS;
	if (cfg->role == ZT_NOISE_INITIATOR)
		memcpy(c->remote, cfg->remote_pub, ZT_KEY_LEN);
	ret = zt_noise_handshake_init(&c->hs, cfg->role, (const uint8_t *)ZT_CP_PROLOGUE,
				      strlen(ZT_CP_PROLOGUE), cfg->static_priv,
				      cfg->role == ZT_NOISE_INITIATOR ? cfg->remote_pub : NULL);
	if (!ret && cfg->role == ZT_NOISE_INITIATOR)
		ret = start_initiator(c, cfg->hello);
	if (!ret)
		ret = zt_loop_add(c->loop, c->fd, EPOLLIN, on_io, c);
	if (ret) {
		c->loop = NULL;	/* not watched */
		zt_cp_conn_free(c);
		return ret;
	}
	ret = flush(c);
	c->was_pending = c->out_len > 0;
	*out = c;
	return 0;
}

size_t zt_cp_conn_pending(const struct zt_cp_conn *c)
{
	return c->out_len - c->out_off;
}

bool zt_cp_conn_established(const struct zt_cp_conn *c)
{
	return c->state == ST_ESTABLISHED;
}

const uint8_t *zt_cp_conn_remote(const struct zt_cp_conn *c)
{
	return c->remote;
}

int zt_cp_conn_fd(const struct zt_cp_conn *c)
{
	return c->fd;
}

uint64_t zt_cp_conn_last_rx(const struct zt_cp_conn *c)
{
	return c->last_rx_ms;
}

void zt_cp_conn_free(struct zt_cp_conn *c)
{
	if (!c)
		return;
	if (c->loop)
		zt_loop_del(c->loop, c->fd);
	if (c->fd >= 0)
		close(c->fd);
	zt_noise_handshake_destroy(&c->hs);
	zt_noise_session_destroy(&c->sess);
	if (c->msg)
		OPENSSL_cleanse(c->msg, c->msg_cap);
	free(c->msg);
	free(c->in);
	free(c->out);
	free(c);
}
