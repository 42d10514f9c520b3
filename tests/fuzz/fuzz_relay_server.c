// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the relay server (daemon/relay/server.c) as a
 * whole: a server on loopback (UDP and TCP ports) as good as fresh per
 * input, driven through its sockets by three UDP peers and one TCP peer
 * with a sequence of messages, so that its state (sources, cookies,
 * registrations, accept lists, forwarding, TCP framing) carries from one
 * message to the next.
 *
 * Persistent: the two servers (loose and tight limits) are opened once,
 * and zt_relay_server_reset forgets what an input made (registrations,
 * connections, per-source buckets, counters) before the next. Opening one
 * per input (2.6 MB of tables, a 2 MB receive batch, four sockets) held
 * the target to ~130 inputs a second.
 *
 * Input: byte 0 picks the rate limits (bit 0: tight ones, so the buckets
 * run dry), then records: [op][len hi][len lo][len bytes]. op & 3 is the
 * peer (3: the TCP one), op >> 2 the kind:
 *   0  the bytes as they are (TCP: as they are on the stream, framing too)
 *   1  hello with the peer's key
 *   2  register with the peer's key, the cookie of the last challenge it
 *      got, an accept list from the first byte's bits (peers 0-3), mac
 *   3  keepalive with the peer's key, mac
 *   4  send to peer (first byte & 3) of the rest of the bytes
 *   5  register as above but with the bytes' own accept list (32 each)
 *  else as 0
 * Synthesised messages go length-prefixed on TCP. After each record the
 * loop runs until idle and every peer drains its socket (a challenge's
 * cookie is kept). Invariants: no crash, ASan clean, and nothing grows
 * without bound: the registered peers are at most the four keys used here
 * (and the stats list them), and every reply fits its message size limit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/loop.h"
#include "relay/proto.h"
#include "relay/server.h"
#include "tunnel/noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NPEERS 4

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

struct peer {
	int fd;				/* UDP for 0-2, the TCP connection for 3 */
	uint8_t priv[32], pub[32];
	struct zt_relay_mac_key k;
	uint8_t cookie[ZT_RELAY_COOKIE_LEN];
	uint8_t in[2 + ZT_RELAY_MSG_MAX];	/* TCP: the stream not yet cut into frames */
	size_t inlen;
};

static struct zt_loop *loop;
static struct peer peers[NPEERS];
static uint8_t srv_priv[32], srv_pub[32];
static struct zt_relay_server *servers[2];	/* [1]: tight limits, so the buckets run dry */

static const char *free_port(int type, char *buf, size_t len);

static void open_server(bool tight)
{
	struct zt_relay_server_cfg cfg = {
		.lifetime_s = 60,
		.peer_pps = 1e6, .peer_bps = 1e10, .src_stun_rate = 1e6, .src_hs_rate = 1e6,
	};
	char err[256], ubuf[32], tbuf[32];

	if (tight) {
		cfg.peer_pps = 4, cfg.peer_bps = 4000, cfg.src_stun_rate = 2, cfg.src_hs_rate = 2;
		cfg.lifetime_s = 1;
	}
	cfg.loop = loop;
	cfg.listen = free_port(SOCK_DGRAM, ubuf, sizeof(ubuf));
	cfg.tcp_listen = free_port(SOCK_STREAM, tbuf, sizeof(tbuf));
	memcpy(cfg.private_key, srv_priv, sizeof(srv_priv));
	if (zt_relay_server_open(&cfg, &servers[tight], err, sizeof(err))) {
		fprintf(stderr, "relay server: %s\n", err);
		__builtin_trap();
	}
}

static void setup(void)
{
	struct sockaddr_in lo = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	check(zt_loop_new(&loop) == 0);
	memset(srv_priv, 0x5a, sizeof(srv_priv));
	zt_noise_public_key(srv_pub, srv_priv);
	for (int i = 0; i < NPEERS; i++) {
		struct peer *p = &peers[i];

		memset(p->priv, 0x21 + i, sizeof(p->priv));
		zt_noise_public_key(p->pub, p->priv);
		check(zt_relay_mac_key(p->priv, srv_pub, &p->k) == 0);
		p->fd = -1;
		if (i == 3)
			continue;
		p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		check(p->fd >= 0);
		check(bind(p->fd, (struct sockaddr *)&lo, sizeof(lo)) == 0);
	}
	zt_log_set_level("error");	/* no line per registration: it would dominate */
	open_server(false);
	open_server(true);
}

static void take(struct peer *p, const uint8_t *msg, size_t len)
{
	struct zt_relay_challenge ch;

	check(len <= ZT_RELAY_MSG_MAX);
	if (!zt_relay_challenge_parse(msg, len, &ch)) {
		check(!memcmp(ch.relay_key, srv_pub, 32));
		memcpy(p->cookie, ch.cookie, sizeof(p->cookie));
	}
}

static void drain(void)
{
	static uint8_t buf[ZT_RELAY_MSG_MAX + 1];

	for (int i = 0; i < NPEERS; i++) {
		struct peer *p = &peers[i];
		ssize_t n;

		if (p->fd < 0)
			continue;
		if (i < 3) {
			while ((n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0)
				take(p, buf, (size_t)n);
			continue;
		}
		while ((n = recv(p->fd, p->in + p->inlen, sizeof(p->in) - p->inlen,
				 MSG_DONTWAIT)) > 0) {
			size_t off = 0;

			p->inlen += (size_t)n;
			while (p->inlen - off >= 2) {
				size_t flen = (size_t)p->in[off] << 8 | p->in[off + 1];

				if (p->inlen - off - 2 < flen)
					break;
				take(p, p->in + off + 2, flen);
				off += 2 + flen;
			}
			memmove(p->in, p->in + off, p->inlen - off);
			p->inlen -= off;
		}
		if (n == 0) {	/* the server closed it */
			close(p->fd);
			p->fd = -1;
		}
	}
}

static void pump(void)
{
	for (int i = 0; i < 16 && zt_loop_run_once(loop, 0) > 0; i++)
		;
	drain();
}

static void tcp_open(uint16_t port)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct peer *p = &peers[3];

	p->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	check(p->fd >= 0);
	check(connect(p->fd, (struct sockaddr *)&to, sizeof(to)) == 0);
	fcntl(p->fd, F_SETFL, O_NONBLOCK);
	p->inlen = 0;
	pump();		/* the server accepts */
}

static void deliver(struct peer *p, bool tcp, bool framed, const uint8_t *msg, size_t len,
		    uint16_t udp_port)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(udp_port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	if (!tcp) {
		(void)sendto(p->fd, msg, len, 0, (struct sockaddr *)&to, sizeof(to));
		return;
	}
	if (p->fd < 0)
		return;
	if (framed) {
		uint8_t hdr[2] = { (uint8_t)(len >> 8), (uint8_t)len };

		(void)send(p->fd, hdr, 2, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	(void)send(p->fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Synthesise message KIND for peer P from the record's bytes B (N); its length, or 0. */
static size_t build(int kind, struct peer *p, const uint8_t *b, size_t n, uint8_t *out,
		    size_t outlen)
{
	uint8_t accept[NPEERS][32];
	ssize_t m = -1;
	size_t na = 0;

	switch (kind) {
	case 1:
		m = zt_relay_hello_encode(p->pub, out, outlen);
		break;
	case 2:
		for (int i = 0; i < NPEERS; i++)
			if (n && (b[0] >> i & 1))
				memcpy(accept[na++], peers[i].pub, 32);
		m = zt_relay_register_encode(p->pub, p->cookie, (const uint8_t (*)[32])accept, na,
					     &p->k, out, outlen);
		break;
	case 3:
		m = zt_relay_keepalive_encode(p->pub, &p->k, out, outlen);
		break;
	case 4:
		if (!n)
			return 0;
		m = zt_relay_fwd_encode(ZT_RELAY_SEND, peers[b[0] & 3].pub, b + 1, n - 1, out,
					outlen);
		break;
	case 5:
		m = zt_relay_register_encode(p->pub, p->cookie, (const uint8_t (*)[32])b, n / 32,
					     &p->k, out, outlen);
		break;
	}
	return m > 0 ? (size_t)m : 0;
}

/* A free port of TYPE on loopback, as "127.0.0.1:PORT" in BUF (the server takes no port 0). */
static const char *free_port(int type, char *buf, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	check(fd >= 0);
	check(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	check(getsockname(fd, (struct sockaddr *)&a, &al) == 0);
	close(fd);
	snprintf(buf, len, "127.0.0.1:%u", ntohs(a.sin_port));
	return buf;
}

/* The stats list exactly the registered peers (a walk of 16,384 buckets: once per input). */
static void check_stats(struct zt_relay_server *r)
{
	json_object *o = json_object_new_object(), *arr;

	zt_relay_server_stats_json(r, o);
	check(json_object_object_get_ex(o, "peers", &arr) && json_object_is_type(arr, json_type_array));
	check(json_object_array_length(arr) == zt_relay_server_npeers(r));
	json_object_put(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[ZT_RELAY_MSG_MAX + 1];
	struct zt_relay_server *r;
	uint16_t uport;
	bool tcp_used = false;
	size_t off;

	if (!loop)
		setup();
	if (!size)
		return 0;
	r = servers[data[0] & 1];
	uport = zt_relay_server_udp_port(r);
	drain();	/* leftovers of the previous input */
	for (int i = 0; i < NPEERS; i++)
		memset(peers[i].cookie, 0, sizeof(peers[i].cookie));

	for (off = 1; size - off >= 3;) {
		uint8_t op = data[off];
		size_t n = (size_t)data[off + 1] << 8 | data[off + 2];
		struct peer *p = &peers[op & 3];
		bool tcp = (op & 3) == 3;
		int kind = op >> 2;
		size_t m;

		off += 3;
		if (tcp && p->fd < 0 && !tcp_used) {
			tcp_open(zt_relay_server_tcp_port(r));	/* the first TCP record connects */
			tcp_used = true;
		}
		if (n > size - off)
			n = size - off;
		m = kind >= 1 && kind <= 5 ? build(kind, p, data + off, n, out, sizeof(out)) : 0;
		if (m)
			deliver(p, tcp, true, out, m, uport);
		else
			deliver(p, tcp, false, data + off, n, uport);
		off += n;
		pump();
		check(zt_relay_server_npeers(r) <= NPEERS);
	}
	if (zt_relay_server_npeers(r))
		check_stats(r);
	if (peers[3].fd >= 0) {
		close(peers[3].fd);
		peers[3].fd = -1;
	}
	/*
	 * Now, not before the next input: what this one allocated is freed
	 * within it, or libFuzzer would take it for a leak and run the input
	 * again under LeakSanitizer.
	 */
	zt_relay_server_reset(r);
	return 0;
}
