// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests: the node <-> controller connection (controlplane/conn.h).
 * Two connections on socketpairs on one loop, the test relaying bytes
 * between them as it likes (split at every byte boundary, one byte at a
 * time), or a raw peer played here with tunnel/noise.h to send what a
 * well-behaved end never would (oversized frames and messages, flipped
 * bits, a wrong key).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "controlplane/conn.h"
#include "controlplane/msg.h"
#include "lib/bytes.h"
#include "lib/clock.h"
#include "lib/loop.h"
#include "tunnel/noise.h"

static struct zt_loop *loop;
static uint8_t ctl_priv[32], ctl_pub[32], node_priv[32], node_pub[32];

/* One end as the test sees it. */
struct end {
	struct zt_cp_conn *c;
	int peer;			/* the socketpair's other end, the test's */
	int hellos, established, messages, closed;
	char reason[128];
	json_object *last;
	bool refuse;
	uint8_t hello_pub[32];
};

static json_object *on_hello(void *ctx, struct zt_cp_conn *c, const uint8_t pub[32], json_object *hello)
{
	struct end *e = ctx;
	json_object *a;

	(void)c;
	e->hellos++;
	memcpy(e->hello_pub, pub, 32);
	if (e->refuse || !zt_cp_msg_str(hello, "role"))
		return NULL;
	a = json_object_new_object();
	json_object_object_add(a, "type", json_object_new_string("accept"));
	json_object_object_add(a, "name", json_object_new_string("n1"));
	return a;
}

static void on_established(void *ctx, struct zt_cp_conn *c, json_object *accept)
{
	struct end *e = ctx;

	(void)c;
	e->established++;
	assert_string_equal(zt_cp_msg_str(accept, "name"), "n1");
}

static void on_message(void *ctx, struct zt_cp_conn *c, json_object *m)
{
	struct end *e = ctx;

	(void)c;
	e->messages++;
	json_object_put(e->last);
	e->last = json_object_get(m);
}

static void on_closed(void *ctx, struct zt_cp_conn *c, const char *reason)
{
	struct end *e = ctx;

	e->closed++;
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
	zt_cp_conn_free(c);
	e->c = NULL;
}

static const struct zt_cp_conn_ops ops = {
	.hello = on_hello, .established = on_established, .message = on_message,
	.closed = on_closed,
};

static void pump(void)
{
	for (int i = 0; i < 256 && zt_loop_run_once(loop, 0) > 0; i++)
		;
}

static void end_open(struct end *e, enum zt_noise_role role, const uint8_t *pin)
{
	struct zt_cp_conn_cfg cfg = {
		.loop = loop, .role = role, .ops = &ops, .ctx = e, .now_ms = zt_mono_ms(),
	};
	json_object *hello = json_object_new_object();
	int sv[2];

	memset(e, 0, sizeof(*e));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	cfg.fd = sv[0];
	e->peer = sv[1];
	json_object_object_add(hello, "role", json_object_new_string("client"));
	cfg.hello = hello;
	memcpy(cfg.static_priv, role == ZT_NOISE_INITIATOR ? node_priv : ctl_priv, 32);
	if (pin)
		memcpy(cfg.remote_pub, pin, 32);
	assert_int_equal(zt_cp_conn_open(&cfg, &e->c), 0);
	json_object_put(hello);
}

static void end_close(struct end *e)
{
	if (e->c)
		zt_cp_conn_free(e->c);
	close(e->peer);
	json_object_put(e->last);
	e->last = NULL;
}

/* Everything waiting on FD (non-blocking) into BUF. */
static size_t drain(int fd, uint8_t *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	pump();
	while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
		n += (size_t)r;
	return n;
}

static void put(int fd, const uint8_t *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);

		if (w < 0) {
			assert_int_equal(errno, EAGAIN);
			pump();
			continue;
		}
		off += (size_t)w;
	}
}

/* Node N and controller C: message 1 relayed split at SPLIT (0: whole), message 2 whole. */
static void handshake(struct end *n, struct end *c, size_t split)
{
	static uint8_t buf[1 << 17];
	size_t len;

	end_open(n, ZT_NOISE_INITIATOR, ctl_pub);
	end_open(c, ZT_NOISE_RESPONDER, NULL);
	len = drain(n->peer, buf, sizeof(buf));
	assert_true(len > 2 && len == 2 + (size_t)zt_get_be16(buf));
	if (split) {
		put(c->peer, buf, split);
		pump();
		assert_int_equal(c->hellos, 0);
		put(c->peer, buf + split, len - split);
	} else {
		put(c->peer, buf, len);
	}
	pump();
	assert_int_equal(c->hellos, 1);
	assert_memory_equal(c->hello_pub, node_pub, 32);
	len = drain(c->peer, buf, sizeof(buf));
	put(n->peer, buf, len);
	pump();
	assert_int_equal(n->established, 1);
	assert_true(zt_cp_conn_established(c->c));
}

static json_object *big_message(size_t len)
{
	json_object *m = json_object_new_object();
	char *s = malloc(len + 1);

	memset(s, 'v', len);
	s[len] = '\0';
	json_object_object_add(m, "type", json_object_new_string("view"));
	json_object_object_add(m, "data", json_object_new_string(s));
	free(s);
	return m;
}

static void test_handshake_and_messages(void **state)
{
	static uint8_t buf[1 << 20];
	struct end n, c;
	json_object *m;
	size_t len;

	(void)state;
	handshake(&n, &c, 0);
	/* Both ways, a small one and one of several frames. */
	m = zt_cp_msg_applied(7, "abc");
	assert_int_equal(zt_cp_conn_send(n.c, m), 0);
	json_object_put(m);
	len = drain(n.peer, buf, sizeof(buf));
	put(c.peer, buf, len);
	pump();
	assert_int_equal(c.messages, 1);
	assert_string_equal(zt_cp_msg_type(c.last), "applied");
	m = big_message(200000);
	assert_int_equal(zt_cp_conn_send(c.c, m), 0);
	len = drain(c.peer, buf, sizeof(buf));
	assert_true(len > 200000 + 4 * (2 + 17));
	put(n.peer, buf, len);
	pump();
	assert_int_equal(n.messages, 1);
	assert_true(json_object_equal(n.last, m));
	json_object_put(m);
	/* A ping is answered with a pong and never shown to the owner. */
	zt_cp_conn_tick(n.c, zt_mono_ms() + ZT_CP_PING_MS + 1);
	len = drain(n.peer, buf, sizeof(buf));
	assert_true(len > 0);
	put(c.peer, buf, len);
	len = drain(c.peer, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(c.messages, 1);
	/* Silence for 15 s: the peer is dead. */
	zt_cp_conn_tick(n.c, zt_mono_ms() + ZT_CP_DEAD_MS + 1);
	assert_int_equal(n.closed, 1);
	assert_null(n.c);
	end_close(&n);
	end_close(&c);
}

/* Message 1 split at every byte boundary. */
static void test_split_hello(void **state)
{
	static uint8_t buf[4096];
	struct end n, c;
	size_t len;

	(void)state;
	end_open(&n, ZT_NOISE_INITIATOR, ctl_pub);
	len = drain(n.peer, buf, sizeof(buf));
	end_close(&n);
	for (size_t i = 1; i < len; i++) {
		handshake(&n, &c, i);
		end_close(&n);
		end_close(&c);
	}
}

/* A transport message split at every byte boundary, and one of two frames a byte at a time. */
static void test_split_transport(void **state)
{
	static uint8_t buf[1 << 18];
	struct end n, c;
	json_object *m;
	size_t len;
	int count = 0;

	(void)state;
	handshake(&n, &c, 0);
	m = zt_cp_msg_applied(42, "0123456789abcdef");
	assert_int_equal(zt_cp_conn_send(n.c, m), 0);
	len = drain(n.peer, buf, sizeof(buf));
	put(c.peer, buf, len);
	pump();
	assert_int_equal(c.messages, ++count);
	for (size_t i = 1; i < len; i++) {
		/* Each time a fresh frame (counters move on), the same length. */
		size_t l2;

		assert_int_equal(zt_cp_conn_send(n.c, m), 0);
		l2 = drain(n.peer, buf, sizeof(buf));
		assert_int_equal(l2, len);
		put(c.peer, buf, i);
		pump();
		put(c.peer, buf + i, len - i);
		pump();
		assert_int_equal(c.messages, ++count);
		assert_true(json_object_equal(c.last, m));
	}
	json_object_put(m);
	m = big_message(70000);
	assert_int_equal(zt_cp_conn_send(n.c, m), 0);
	len = drain(n.peer, buf, sizeof(buf));
	for (size_t i = 0; i < len; i++) {
		put(c.peer, buf + i, 1);
		zt_loop_run_once(loop, 0);
	}
	pump();
	assert_int_equal(c.messages, count + 1);
	assert_true(json_object_equal(c.last, m));
	json_object_put(m);
	assert_int_equal(c.closed, 0);
	end_close(&n);
	end_close(&c);
}

/* The test as a raw node: its own handshake, so it can seal what it likes. */
struct raw {
	struct zt_noise_session s;
	uint64_t n;
};

static void raw_handshake(struct end *c, struct raw *r)
{
	struct zt_noise_handshake hs;
	const char *hello = "{\"role\":\"client\"}";
	uint8_t msg[2 + ZT_NOISE_MSG_MAX], payload[1024];
	ssize_t n;
	size_t len;

	end_open(c, ZT_NOISE_RESPONDER, NULL);
	assert_int_equal(zt_noise_handshake_init(&hs, ZT_NOISE_INITIATOR, (const uint8_t *)ZT_CP_PROLOGUE,
						 strlen(ZT_CP_PROLOGUE), node_priv, ctl_pub), 0);
	n = zt_noise_write_message(&hs, (const uint8_t *)hello, strlen(hello), msg + 2, sizeof(msg) - 2);
	assert_true(n > 0);
	zt_put_be16(msg, (uint16_t)n);
	put(c->peer, msg, 2 + (size_t)n);
	len = drain(c->peer, msg, sizeof(msg));
	assert_true(len > 2);
	assert_true(zt_noise_read_message(&hs, msg + 2, len - 2, payload, sizeof(payload)) > 0);
	assert_int_equal(zt_noise_split(&hs, &r->s), 0);
	r->n = 0;
}

/* One sealed frame of FLAGS and LEN bytes of DATA; FLIP: a bit flipped in the ciphertext. */
static void raw_frame(struct end *c, struct raw *r, uint8_t flags, const char *data, size_t len,
		      bool flip)
{
	static uint8_t f[2 + ZT_CP_FRAME_MAX];
	ssize_t n;

	f[2] = flags;
	memcpy(f + 3, data, len);
	n = zt_noise_seal(&r->s.send, r->n++, NULL, 0, f + 2, 1 + len, f + 2, sizeof(f) - 2);
	assert_true(n > 0);
	zt_put_be16(f, (uint16_t)n);
	if (flip)
		f[2 + n / 2] ^= 0x10;
	put(c->peer, f, 2 + (size_t)n);
}

static void test_raw_ok_then_bit_flip(void **state)
{
	const char *m = "{\"type\":\"applied\",\"rev\":1}";
	struct end c;
	struct raw r;

	(void)state;
	raw_handshake(&c, &r);
	raw_frame(&c, &r, ZT_CP_FLAG_END, m, strlen(m), false);
	pump();
	assert_int_equal(c.messages, 1);
	raw_frame(&c, &r, ZT_CP_FLAG_END, m, strlen(m), true);
	pump();
	assert_int_equal(c.messages, 1);
	assert_int_equal(c.closed, 1);
	assert_string_equal(c.reason, "a frame did not authenticate");
	end_close(&c);
	zt_noise_session_destroy(&r.s);
}

static void test_raw_refused(void **state)
{
	static char chunk[ZT_CP_FRAME_DATA];
	struct end c;
	struct raw r;
	size_t sent = 0;

	(void)state;
	/* Bad flags. */
	raw_handshake(&c, &r);
	raw_frame(&c, &r, 0x80 | ZT_CP_FLAG_END, "{}", 2, false);
	pump();
	assert_int_equal(c.closed, 1);
	assert_string_equal(c.reason, "bad frame flags");
	end_close(&c);
	zt_noise_session_destroy(&r.s);
	/* Not a JSON object with a type. */
	raw_handshake(&c, &r);
	raw_frame(&c, &r, ZT_CP_FLAG_END, "[1]", 3, false);
	pump();
	assert_int_equal(c.closed, 1);
	end_close(&c);
	zt_noise_session_destroy(&r.s);
	/* A message over 16 MiB: refused when it passes the cap. */
	raw_handshake(&c, &r);
	memset(chunk, ' ', sizeof(chunk));
	while (c.closed == 0 && sent <= ZT_CP_MSG_MAX + sizeof(chunk)) {
		raw_frame(&c, &r, 0, chunk, sizeof(chunk), false);
		sent += sizeof(chunk);
		pump();
	}
	assert_int_equal(c.closed, 1);
	assert_string_equal(c.reason, "message over 16 MiB refused");
	assert_true(sent > ZT_CP_MSG_MAX);
	end_close(&c);
	zt_noise_session_destroy(&r.s);
}

/* Before authentication a controller reads at most a hello-sized frame. */
static void test_oversize_hello(void **state)
{
	uint8_t hdr[2];
	struct end c;

	(void)state;
	end_open(&c, ZT_NOISE_RESPONDER, NULL);
	zt_put_be16(hdr, ZT_CP_HELLO_MAX + 1);
	put(c.peer, hdr, 2);
	pump();
	assert_int_equal(c.closed, 1);
	assert_string_equal(c.reason, "frame too large");
	end_close(&c);
}

/* A node that pins another key: the controller closes without a byte, the node learns nothing. */
static void test_wrong_controller_key(void **state)
{
	static uint8_t buf[4096];
	uint8_t other_priv[32], other_pub[32];
	struct end n, c;
	json_object *m;
	size_t len;

	(void)state;
	zt_noise_keypair(other_pub, other_priv);
	end_open(&n, ZT_NOISE_INITIATOR, other_pub);
	end_open(&c, ZT_NOISE_RESPONDER, NULL);
	len = drain(n.peer, buf, sizeof(buf));
	put(c.peer, buf, len);
	pump();
	assert_int_equal(c.hellos, 0);
	assert_int_equal(c.closed, 1);
	assert_int_equal(drain(c.peer, buf, sizeof(buf)), 0);	/* EOF, no byte */
	close(n.peer);						/* as the TCP close reaches the node */
	n.peer = -1;
	pump();
	assert_int_equal(n.closed, 1);
	assert_int_equal(n.established, 0);
	assert_string_equal(n.reason, "closed by the peer during the handshake");
	end_close(&n);
	end_close(&c);
	/* A refused node (the owner says no): likewise nothing. */
	end_open(&n, ZT_NOISE_INITIATOR, ctl_pub);
	end_open(&c, ZT_NOISE_RESPONDER, NULL);
	c.refuse = true;
	len = drain(n.peer, buf, sizeof(buf));
	put(c.peer, buf, len);
	pump();
	assert_int_equal(c.hellos, 1);
	assert_int_equal(c.closed, 1);
	assert_int_equal(drain(c.peer, buf, sizeof(buf)), 0);
	/* Sending before the handshake is done is refused. */
	m = zt_cp_msg_applied(1, NULL);
	assert_int_equal(zt_cp_conn_send(n.c, m), -ENOTCONN);
	json_object_put(m);
	/* The handshake deadline. */
	zt_cp_conn_tick(n.c, zt_mono_ms() + ZT_CP_HANDSHAKE_MS + 1);
	assert_int_equal(n.closed, 1);
	assert_string_equal(n.reason, "handshake timed out");
	end_close(&n);
	end_close(&c);
}

static void test_send_limits(void **state)
{
	struct end n, c;
	json_object *m;

	(void)state;
	handshake(&n, &c, 0);
	m = big_message(ZT_CP_MSG_MAX + 1);
	assert_int_equal(zt_cp_conn_send(n.c, m), -EMSGSIZE);
	json_object_put(m);
	/* Nobody reads: the output fills to its cap, then -ENOBUFS. */
	m = big_message(ZT_CP_MSG_MAX - 100);
	assert_int_equal(zt_cp_conn_send(n.c, m), 0);
	assert_true(zt_cp_conn_pending(n.c) > 0);
	assert_int_equal(zt_cp_conn_send(n.c, m), -ENOBUFS);
	json_object_put(m);
	end_close(&n);
	end_close(&c);
}

static void test_view_hash(void **state)
{
	json_object *a = json_tokener_parse("{\"policy\":{\"resources\":[]},\"self\":{\"id\":1}}");
	json_object *b = json_tokener_parse("{\"policy\":{\"resources\":[]},\"self\":{\"id\":2}}");
	char ha[65], hb[65], ha2[65];

	(void)state;
	zt_cp_view_hash(a, ha);
	zt_cp_view_hash(a, ha2);
	zt_cp_view_hash(b, hb);
	assert_int_equal(strlen(ha), 64);
	assert_string_equal(ha, ha2);
	assert_string_not_equal(ha, hb);
	json_object_put(a);
	json_object_put(b);
}

static int setup(void **state)
{
	(void)state;
	zt_noise_keypair(ctl_pub, ctl_priv);
	zt_noise_keypair(node_pub, node_priv);
	return zt_loop_new(&loop);
}

static int teardown(void **state)
{
	(void)state;
	zt_loop_free(loop);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_and_messages),
		cmocka_unit_test(test_split_hello),
		cmocka_unit_test(test_split_transport),
		cmocka_unit_test(test_raw_ok_then_bit_flip),
		cmocka_unit_test(test_raw_refused),
		cmocka_unit_test(test_oversize_hello),
		cmocka_unit_test(test_wrong_controller_key),
		cmocka_unit_test(test_send_limits),
		cmocka_unit_test(test_view_hash),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
