// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests: the relay server's limits (issue 10 A4, docs/RELAY.md
 * "Limits"), through its sockets on loopback with peers played here.
 * Per-source buckets: thousands of source addresses each get their own
 * (none is refused for another's use, none escapes its own); accept lists
 * capped per peer and in all, and the memory many registrations take;
 * a registration's maximum age (keepalives alone do not extend it); TCP
 * junk keeps no connection alive; idle TCP connections from one source
 * (or many) cannot keep another source's peer out.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/curve25519.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "relay/proto.h"
#include "relay/server.h"

static struct zt_loop *loop;
static struct zt_relay_server *srv;
static uint8_t srv_pub[32];

/* A peer played here: a UDP socket or a TCP connection from address SRC. */
struct cl {
	int fd;
	bool tcp;
	uint8_t priv[32], pub[32];
	struct zt_relay_mac_key k;
	uint8_t in[2 + ZT_RELAY_MSG_MAX];
	size_t inlen;
};

static void pump(void)
{
	for (int i = 0; i < 64 && zt_loop_run_once(loop, 0) > 0; i++)
		;
}

/* "127.0.0.1:PORT" with a port free for TYPE just now. */
static const char *free_port(int type, char *buf, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(a);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
	close(fd);
	snprintf(buf, len, "127.0.0.1:%u", ntohs(a.sin_port));
	return buf;
}

static void srv_start(struct zt_relay_server_cfg *cfg)
{
	static char ubuf[32], tbuf[32];
	char err[256];

	assert_int_equal(zt_loop_new(&loop), 0);
	cfg->loop = loop;
	cfg->listen = free_port(SOCK_DGRAM, ubuf, sizeof(ubuf));
	cfg->tcp_listen = free_port(SOCK_STREAM, tbuf, sizeof(tbuf));
	X25519_keypair(srv_pub, cfg->private_key);
	if (!cfg->peer_pps)
		cfg->peer_pps = cfg->peer_bps = 1e9;
	if (!cfg->src_stun_rate)
		cfg->src_stun_rate = 20;
	if (!cfg->src_hs_rate)
		cfg->src_hs_rate = 1000;
	if (!cfg->lifetime_s)
		cfg->lifetime_s = 60;
	assert_int_equal(zt_relay_server_open(cfg, &srv, err, sizeof(err)), 0);
}

static void srv_stop(void)
{
	zt_relay_server_close(srv);
	srv = NULL;
	zt_loop_free(loop);
	loop = NULL;
}

static int64_t stat(const char *name)
{
	json_object *o = json_object_new_object(), *relay, *v;
	int64_t n = -1;

	zt_relay_server_stats_json(srv, o);
	if (json_object_object_get_ex(o, "relay", &relay)) {
		if (json_object_object_get_ex(relay, name, &v))
			n = json_object_get_int64(v);
		else if (json_object_object_get_ex(relay, "dropped", &v) &&
			 json_object_object_get_ex(v, name, &v))
			n = json_object_get_int64(v);
	}
	json_object_put(o);
	return n;
}

static long rss_kib(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* A socket from 127.A.B.C (A.B.C = SRC) to the server; -1 if a TCP connect failed. */
static int cl_open(struct cl *c, bool tcp, uint32_t src)
{
	struct sockaddr_in from = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000000u | src) };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	memset(c, 0, offsetof(struct cl, in));
	c->inlen = 0;
	c->tcp = tcp;
	X25519_keypair(c->pub, c->priv);
	assert_int_equal(zt_relay_mac_key(c->priv, srv_pub, &c->k), 0);
	c->fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	assert_true(c->fd >= 0);
	assert_int_equal(bind(c->fd, (struct sockaddr *)&from, sizeof(from)), 0);
	to.sin_port = htons(tcp ? zt_relay_server_tcp_port(srv) : zt_relay_server_udp_port(srv));
	if (connect(c->fd, (struct sockaddr *)&to, sizeof(to))) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
	return 0;
}

static void cl_close(struct cl *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void cl_send(struct cl *c, const uint8_t *msg, size_t len)
{
	if (c->tcp) {
		uint8_t hdr[2] = { (uint8_t)(len >> 8), (uint8_t)len };

		(void)send(c->fd, hdr, 2, MSG_NOSIGNAL);
	}
	(void)send(c->fd, msg, len, MSG_NOSIGNAL);
	pump();
}

/* The next message for C within MS milliseconds: its length, 0 if none, -1 if TCP closed. */
static ssize_t cl_recv(struct cl *c, uint8_t *buf, int ms)
{
	uint64_t end = zt_mono_ns() + (uint64_t)ms * 1000000u;

	do {
		ssize_t n;

		pump();
		if (!c->tcp) {
			n = recv(c->fd, buf, ZT_RELAY_MSG_MAX, MSG_DONTWAIT);
			if (n > 0)
				return n;
		} else {
			n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN))
				return -1;
			if (n > 0)
				c->inlen += (size_t)n;
			if (c->inlen >= 2) {
				size_t flen = (size_t)c->in[0] << 8 | c->in[1];

				if (c->inlen >= 2 + flen) {
					memcpy(buf, c->in + 2, flen);
					memmove(c->in, c->in + 2 + flen, c->inlen - 2 - flen);
					c->inlen -= 2 + flen;
					return (ssize_t)flen;
				}
			}
		}
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	} while (zt_mono_ns() < end);
	return 0;
}

/* hello, challenge, register with N accepted keys; true if registered came back. */
static bool cl_register_wait(struct cl *c, const uint8_t (*accept)[32], size_t n, int ms)
{
	static uint8_t buf[ZT_RELAY_MSG_MAX], msg[ZT_RELAY_MSG_MAX];
	struct zt_relay_challenge ch;
	ssize_t len;

	assert_true(zt_relay_hello_encode(c->pub, msg, sizeof(msg)) > 0);
	cl_send(c, msg, ZT_RELAY_HELLO_LEN);
	len = cl_recv(c, buf, 1000);
	if (len <= 0 || zt_relay_challenge_parse(buf, (size_t)len, &ch))
		return false;
	len = zt_relay_register_encode(c->pub, ch.cookie, accept, n, &c->k, msg, sizeof(msg));
	assert_true(len > 0);
	cl_send(c, msg, (size_t)len);
	len = cl_recv(c, buf, ms);
	return len == ZT_RELAY_REGISTERED_LEN && buf[0] == ZT_RELAY_REGISTERED;
}

static bool cl_register(struct cl *c, const uint8_t (*accept)[32], size_t n)
{
	return cl_register_wait(c, accept, n, 200);
}

/* Each of thousands of sources has its own bucket: none shares, none escapes. */
static void test_source_buckets(void **state)
{
	struct zt_relay_server_cfg cfg = { .src_hs_rate = 0.5 };	/* burst 1: one hello each */
	uint8_t hello[ZT_RELAY_HELLO_LEN];
	const int n = 3000;	/* 8192 hashed slots shared ~400 of them among these */

	(void)state;
	srv_start(&cfg);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < n; i++) {
			struct cl c;

			cl_open(&c, false, 0x010000u + (uint32_t)i);
			zt_relay_hello_encode(c.pub, hello, sizeof(hello));
			cl_send(&c, hello, sizeof(hello));
			cl_close(&c);
		}
		pump();
		/* Round 1: every source's first hello answered; round 2: none (its bucket is empty). */
		assert_int_equal(stat("challenges"), n);
		assert_int_equal(stat("source_limited"), round * n);
	}
	srv_stop();
}

/* Every source's first hello answered, its second refused (burst 1); N sources from BASE. */
static void hello_round(uint32_t base, int n, int64_t limited)
{
	uint8_t hello[ZT_RELAY_HELLO_LEN];

	for (int k = 0; k < 2; k++)
		for (int i = 0; i < n; i++) {
			struct cl c;

			cl_open(&c, false, base + (uint32_t)i);
			zt_relay_hello_encode(c.pub, hello, sizeof(hello));
			cl_send(&c, hello, sizeof(hello));
			cl_close(&c);
		}
	pump();
	assert_int_equal(stat("challenges"), n);
	assert_int_equal(stat("source_limited"), limited);
}

/* zt_relay_server_reset: registrations, buckets (few sources, and past the list) and counters go. */
static void test_reset(void **state)
{
	struct zt_relay_server_cfg cfg = { 0 };
	struct cl c;

	(void)state;
	srv_start(&cfg);
	assert_int_equal(cl_open(&c, false, 0x020001u), 0);
	assert_true(cl_register(&c, NULL, 0));
	assert_int_equal(zt_relay_server_npeers(srv), 1);
	zt_relay_server_reset(srv);
	assert_int_equal(zt_relay_server_npeers(srv), 0);
	assert_int_equal(stat("registrations"), 0);
	assert_true(cl_register(&c, NULL, 0));	/* as to a fresh server */
	assert_int_equal(zt_relay_server_npeers(srv), 1);
	cl_close(&c);
	srv_stop();

	cfg = (struct zt_relay_server_cfg){ .src_hs_rate = 0.5 };	/* burst 1 */
	srv_start(&cfg);
	for (int n = 3; n <= 300; n += 297) {	/* the touched sets one by one; then the whole table */
		hello_round(0x030000u, n, n);
		zt_relay_server_reset(srv);
		hello_round(0x030000u, n, n);	/* full buckets again, counters from zero */
		zt_relay_server_reset(srv);
	}
	srv_stop();
}

/* Accept lists: capped per peer and in all; refused past either (the peer limit). */
static void test_accept_caps(void **state)
{
	struct zt_relay_server_cfg cfg = { .peer_accept_max = 4, .total_accept_max = 10 };
	uint8_t keys[5][32];
	struct cl c[3];

	(void)state;
	memset(keys, 7, sizeof(keys));
	for (int i = 0; i < 5; i++)
		keys[i][0] = (uint8_t)i;
	srv_start(&cfg);
	for (int i = 0; i < 3; i++)
		cl_open(&c[i], false, 0x020000u + (uint32_t)i);
	assert_false(cl_register(&c[0], keys, 5));		/* over the per-peer cap */
	assert_int_equal(stat("peer_limit"), 1);
	assert_true(cl_register(&c[0], keys, 4));
	assert_true(cl_register(&c[1], keys, 4));
	assert_false(cl_register(&c[2], keys, 4));		/* 12 > 10 in all */
	assert_int_equal(stat("registered_peers"), 2);
	assert_int_equal(stat("accept_keys"), 8);
	assert_true(cl_register(&c[0], keys, 2));		/* a re-register gives keys back */
	assert_true(cl_register(&c[2], keys, 4));
	assert_int_equal(stat("accept_keys"), 10);
	for (int i = 0; i < 3; i++)
		cl_close(&c[i]);
	srv_stop();
}

/* Many registrations with full lists: the keys stop at the default total cap; RSS measured. */
static void test_registration_memory(void **state)
{
	struct zt_relay_server_cfg cfg = { 0 };
	static uint8_t keys[ZT_RELAY_DEFAULT_PEER_ACCEPT][32];
	const int n = 1000;
	long before, after;

	(void)state;
	for (int i = 0; i < ZT_RELAY_DEFAULT_PEER_ACCEPT; i++)
		memset(keys[i], i + 1, 32);
	srv_start(&cfg);
	before = rss_kib();
	for (int i = 0; i < n; i++) {
		struct cl c;

		cl_open(&c, false, 0x030000u + (uint32_t)i);
		/* The server answers within the pump after the send: no need to wait for a refusal. */
		cl_register_wait(&c, keys, ZT_RELAY_DEFAULT_PEER_ACCEPT, 2);
		cl_close(&c);
	}
	after = rss_kib();
	print_message("relay: %d registrations x %d keys: %lld registered, %lld accept keys, "
		      "RSS +%ld KiB (ASan build)\n", n, ZT_RELAY_DEFAULT_PEER_ACCEPT,
		      (long long)stat("registered_peers"), (long long)stat("accept_keys"), after - before);
	assert_true(stat("accept_keys") <= ZT_RELAY_DEFAULT_TOTAL_ACCEPT);
	assert_int_equal(stat("registered_peers"), ZT_RELAY_DEFAULT_TOTAL_ACCEPT / ZT_RELAY_DEFAULT_PEER_ACCEPT);
	assert_int_equal(stat("peer_limit"), n - ZT_RELAY_DEFAULT_TOTAL_ACCEPT / ZT_RELAY_DEFAULT_PEER_ACCEPT);
	srv_stop();
}

/* Keepalives alone do not hold a registration past its maximum age. */
static void test_max_age(void **state)
{
	struct zt_relay_server_cfg cfg = { .lifetime_s = 2, .max_age_s = 3 };
	uint8_t msg[ZT_RELAY_MSG_MAX], buf[ZT_RELAY_MSG_MAX];
	uint64_t t0;
	bool got_error = false;
	struct cl c;

	(void)state;
	srv_start(&cfg);
	cl_open(&c, false, 0x040001u);
	assert_true(cl_register(&c, NULL, 0));
	t0 = zt_mono_ns();
	zt_relay_keepalive_encode(c.pub, &c.k, msg, sizeof(msg));
	while (zt_mono_ns() - t0 < 5000000000ull) {
		ssize_t n;

		cl_send(&c, msg, ZT_RELAY_KEEPALIVE_LEN);
		n = cl_recv(&c, buf, 400);
		if (n == ZT_RELAY_ERROR_LEN && buf[0] == ZT_RELAY_ERROR)
			got_error = true;	/* register again, please */
	}
	assert_true(got_error);
	assert_int_equal(stat("registered_peers"), 0);
	assert_int_equal(stat("max_age_expired"), 1);
	/* A fresh register is welcome. */
	assert_true(cl_register(&c, NULL, 0));
	assert_int_equal(stat("registered_peers"), 1);
	cl_close(&c);
	srv_stop();
}

/* Well-framed junk on a TCP connection does not keep it open. */
static void test_tcp_junk_idle(void **state)
{
	struct zt_relay_server_cfg cfg = { .tcp_unreg_idle_s = 1 };
	uint8_t junk[40] = { ZT_RELAY_ERROR }, buf[ZT_RELAY_MSG_MAX];
	uint64_t t0;
	ssize_t n = 0;
	struct cl c;

	(void)state;
	srv_start(&cfg);
	assert_int_equal(cl_open(&c, true, 0x050001u), 0);
	pump();
	assert_int_equal(stat("tcp_connections"), 1);
	t0 = zt_mono_ns();
	while (zt_mono_ns() - t0 < 4000000000ull && n >= 0) {
		cl_send(&c, junk, sizeof(junk));
		n = cl_recv(&c, buf, 200);
	}
	assert_int_equal(n, -1);	/* closed by the server */
	assert_int_equal(stat("tcp_connections"), 0);
	cl_close(&c);
	srv_stop();
}

static void raise_nofile(void)
{
	struct rlimit rl = { 20000, 20000 };

	if (setrlimit(RLIMIT_NOFILE, &rl))
		skip();
}

/* Open up to N idle TCP connections from source SRC (stepping the source by STEP every 8). */
static int open_idle(int *fds, int n, uint32_t src, uint32_t step)
{
	int opened = 0;

	for (int i = 0; i < n; i++) {
		struct cl c;

		if (cl_open(&c, true, src + (uint32_t)(i / 8) * step))
			continue;
		fds[opened++] = c.fd;
		if (i % 16 == 15)
			pump();
	}
	pump();
	return opened;
}

/* Thousands of idle connections (one source, then many) do not keep another source's peer out. */
static void test_tcp_lockout(void **state)
{
	struct zt_relay_server_cfg cfg = { 0 };
	static int fds[5000];
	int nfds;
	uint8_t peer_keys[1][32];
	struct cl b;

	(void)state;
	raise_nofile();
	srv_start(&cfg);
	/* One source: 4200 connections (more than the relay's 4096 in all). */
	nfds = open_idle(fds, 4200, 0x060001u, 0);
	assert_true(stat("tcp_connections") <= 8);
	assert_true(stat("tcp_source_limited") >= 4192);
	assert_int_equal(cl_open(&b, true, 0x060101u), 0);
	memcpy(peer_keys[0], b.pub, 32);
	assert_true(cl_register(&b, peer_keys, 1));
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	/* Many sources, 8 each: the unregistered are capped, the oldest make room. */
	nfds = open_idle(fds, 1600, 0x070001u, 1);
	assert_true(stat("tcp_unreg_evicted") >= 1600 - 1024);
	assert_true(stat("tcp_connections") <= 1025);
	cl_close(&b);
	assert_int_equal(cl_open(&b, true, 0x060102u), 0);
	assert_true(cl_register(&b, NULL, 0));
	print_message("relay: %lld TCP connections held, RSS %ld KiB\n",
		      (long long)stat("tcp_connections"), rss_kib());
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	cl_close(&b);
	srv_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_source_buckets),
		cmocka_unit_test(test_accept_caps),
		cmocka_unit_test(test_registration_memory),
		cmocka_unit_test(test_max_age),
		cmocka_unit_test(test_tcp_junk_idle),
		cmocka_unit_test(test_tcp_lockout),
		cmocka_unit_test(test_reset),
	};

	zt_log_set_level("warning");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
