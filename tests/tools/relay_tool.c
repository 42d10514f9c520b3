// SPDX-License-Identifier: GPL-2.0-only
/*
 * relay_tool: a peer of the relay for the integration test, built on
 * daemon/relay/client.c (registration, keepalives, send/recv) over a real
 * UDP socket or the client's own TCP connection.
 *
 *   relay_tool echo RELAY KEYFILE [--tcp] [--accept PUB]...
 *       register; send every datagram received back to its sender through
 *       the relay. Prints "registered OBSERVED" on each registration and
 *       "recv FROM LEN" per datagram; runs until killed.
 *   relay_tool ping RELAY KEYFILE --to PUB [--tcp] [--accept PUB]... [--count N]
 *                   [--timeout S]
 *       register, send N datagrams (default 20) to PUB, count the echoes
 *       that come back within S seconds (default 5) after the last send.
 *       Prints "registered OBSERVED" and then "sent N echoed M errors E";
 *       exit 0 if it registered (whatever M), 1 if it never did.
 *   relay_tool raw RELAY --to PUB [--count N] [--size S]
 *       an unregistered source: N (default 20) send messages of S bytes
 *       (default 100) from a plain UDP socket, each sent for sure (retried
 *       while the device refuses it); prints "replies R max_reply M sent N"
 *       (M: the largest reply in bytes) after 2 s of silence.
 *
 * Errors are one line on stderr; exit 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/addr.h"
#include "lib/clock.h"
#include "tunnel/keys.h"
#include "lib/loop.h"
#include "relay/client.h"
#include "relay/proto.h"

#define MAX_ACCEPT 16

struct tool {
	struct zt_loop *loop;
	struct zt_relay_client *rc;
	int udp;
	bool echo;
	bool registered;
	unsigned long echoed;
};

static int udp_send(void *ctx, const uint8_t *d, size_t len, const struct sockaddr_storage *dst)
{
	struct tool *t = ctx;
	socklen_t sl = dst->ss_family == AF_INET ? sizeof(struct sockaddr_in)
						 : sizeof(struct sockaddr_in6);

	return sendto(t->udp, d, len, MSG_DONTWAIT, (const struct sockaddr *)dst, sl) < 0 ? -errno : 0;
}

static void on_udp(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct tool *t = arg;
	uint8_t buf[65536];

	(void)loop;
	(void)events;
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);

		if (n < 0)
			return;
		if (zt_relay_client_owns(t->rc, (struct sockaddr *)&ss, sl))
			zt_relay_client_input(t->rc, buf, (size_t)n);
	}
}

static void on_recv(void *ctx, struct zt_relay_client *rc, const uint8_t src[ZT_RELAY_KEY_LEN],
		    uint8_t *datagram, size_t len)
{
	struct tool *t = ctx;
	char b64[ZT_KEY_B64_LEN + 1];

	zt_key_to_base64(src, b64);
	if (t->echo) {
		printf("recv %s %zu\n", b64, len);
		fflush(stdout);
		zt_relay_client_send(rc, src, datagram, len);
	} else {
		t->echoed++;
	}
}

static void on_registered(void *ctx, struct zt_relay_client *rc,
			  const struct sockaddr_storage *observed)
{
	struct tool *t = ctx;
	struct zt_endpoint ep;
	char text[64] = "?";

	(void)rc;
	if (!zt_relay_endpoint_from_sockaddr((const struct sockaddr *)observed, &ep))
		zt_endpoint_format(&ep, text, sizeof(text));
	printf("registered %s\n", text);
	fflush(stdout);
	t->registered = true;
}

static void on_lost(void *ctx, struct zt_relay_client *rc)
{
	struct tool *t = ctx;

	(void)rc;
	t->registered = false;
	printf("lost\n");
	fflush(stdout);
}

static int key_arg(const char *text, uint8_t key[32])
{
	char err[128];

	if (zt_key_from_base64(text, key, err, sizeof(err))) {
		fprintf(stderr, "relay_tool: key '%s': %s\n", text, err);
		exit(2);
	}
	return 0;
}

static int raw(const char *relay, const uint8_t to[32], unsigned long count, unsigned long size)
{
	struct zt_endpoint ep;
	struct sockaddr_storage ss;
	socklen_t sl;
	uint8_t msg[65536], payload[65536] = { 0x04 };
	unsigned long replies = 0, max_reply = 0, sent = 0;
	char err[128];
	uint64_t quiet_until;
	int fd;

	if (zt_endpoint_parse(relay, &ep, err, sizeof(err))) {
		fprintf(stderr, "relay_tool: %s\n", err);
		return 2;
	}
	if (size <= ZT_RELAY_FWD_HDR_LEN || size > sizeof(msg))
		return 2;
	sl = zt_endpoint_to_sockaddr(&ep, &ss);
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0)
		return 1;
	zt_relay_fwd_encode(ZT_RELAY_SEND, to, payload, size - ZT_RELAY_FWD_HDR_LEN, msg, sizeof(msg));
	/*
	 * Every datagram must leave (the test counts them in a capture): a
	 * send refused for a moment (a veth peer's full ring stops its
	 * queue, which a noqueue device reports as ENETDOWN or ENOBUFS) is
	 * tried again, up to a second.
	 */
	for (unsigned long i = 0; i < count; i++) {
		uint64_t give_up = zt_mono_ms() + 1000;

		while (sendto(fd, msg, size, 0, (struct sockaddr *)&ss, sl) < 0) {
			if ((errno != ENOBUFS && errno != EAGAIN && errno != ENETDOWN) ||
			    zt_mono_ms() > give_up) {
				fprintf(stderr, "relay_tool: send %lu of %lu: %s\n", i + 1, count,
					strerror(errno));
				close(fd);
				return 1;
			}
			usleep(1000);
		}
		sent++;
	}
	quiet_until = zt_mono_ms() + 2000;
	while (zt_mono_ms() < quiet_until) {
		struct timeval tv = { 0, 200000 };
		ssize_t n;

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		n = recv(fd, msg, sizeof(msg), 0);
		if (n < 0)
			continue;
		replies++;
		if ((unsigned long)n > max_reply)
			max_reply = (unsigned long)n;
		quiet_until = zt_mono_ms() + 2000;
	}
	printf("replies %lu max_reply %lu sent %lu\n", replies, max_reply, sent);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tcp", no_argument, NULL, 't' },
		{ "accept", required_argument, NULL, 'a' },
		{ "to", required_argument, NULL, 'o' },
		{ "count", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 'w' },
		{ 0 },
	};
	struct tool t = { .udp = -1 };
	struct zt_relay_client_cfg cfg = { 0 };
	const struct zt_relay_client_ops ops = {
		.recv = on_recv, .registered = on_registered, .lost = on_lost,
	};
	uint8_t accept[MAX_ACCEPT][32], to[32];
	size_t naccept = 0;
	bool have_to = false;
	unsigned long count = 20, size = 100, timeout_s = 5;
	const char *mode, *relay;
	char err[256];
	int c, ret = 1;

	if (argc < 3)
		goto usage;
	mode = argv[1];
	relay = argv[2];
	optind = 3;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 't': cfg.tcp = true; break;
		case 'a':
			if (naccept == MAX_ACCEPT)
				goto usage;
			key_arg(optarg, accept[naccept++]);
			break;
		case 'o': key_arg(optarg, to); have_to = true; break;
		case 'c': count = strtoul(optarg, NULL, 10); break;
		case 's': size = strtoul(optarg, NULL, 10); break;
		case 'w': timeout_s = strtoul(optarg, NULL, 10); break;
		default: goto usage;
		}
	}
	if (!strcmp(mode, "raw")) {
		if (!have_to || optind != argc)
			goto usage;
		return raw(relay, to, count, size);
	}
	if (optind != argc - 1 || (strcmp(mode, "echo") && strcmp(mode, "ping")))
		goto usage;
	if (!strcmp(mode, "ping") && !have_to)
		goto usage;
	t.echo = !strcmp(mode, "echo");
	if (zt_key_load_private(argv[optind], cfg.private_key, err, sizeof(err))) {
		fprintf(stderr, "relay_tool: %s\n", err);
		return 2;
	}
	if (zt_loop_new(&t.loop))
		return 1;
	cfg.relay = relay;
	if (!cfg.tcp) {
		struct sockaddr_in6 any = { .sin6_family = AF_INET6 };
		int zero = 0;

		t.udp = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		setsockopt(t.udp, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (t.udp < 0 || bind(t.udp, (struct sockaddr *)&any, sizeof(any)) ||
		    zt_loop_add(t.loop, t.udp, EPOLLIN, on_udp, &t)) {
			perror("relay_tool: UDP socket");
			goto out;
		}
		cfg.udp_send = udp_send;
		cfg.udp_send_ctx = &t;
	}
	if (zt_relay_client_open(t.loop, &cfg, &ops, &t, &t.rc, err, sizeof(err))) {
		fprintf(stderr, "relay_tool: %s\n", err);
		goto out;
	}
	if (naccept && zt_relay_client_set_accept(t.rc, (const uint8_t (*)[32])accept, naccept)) {
		fprintf(stderr, "relay_tool: accept list refused\n");
		goto out;
	}
	if (t.echo) {
		for (;;)
			zt_loop_run_once(t.loop, -1);
	}
	{
		uint64_t deadline = zt_mono_ms() + 10000;
		struct zt_relay_client_stats st;
		unsigned long sent = 0;

		while (!t.registered && zt_mono_ms() < deadline)
			zt_loop_run_once(t.loop, 100);
		if (!t.registered) {
			fprintf(stderr, "relay_tool: not registered within 10 s\n");
			goto out;
		}
		for (unsigned long i = 0; i < count; i++) {
			uint8_t payload[200];

			memset(payload, (int)(i & 0xff), sizeof(payload));
			payload[0] = 0x04;	/* shaped like a tunnel transport message */
			if (!zt_relay_client_send(t.rc, to, payload, sizeof(payload)))
				sent++;
			zt_loop_run_once(t.loop, 10);
		}
		deadline = zt_mono_ms() + timeout_s * 1000;
		while (t.echoed < sent && zt_mono_ms() < deadline)
			zt_loop_run_once(t.loop, 100);
		zt_relay_client_stats(t.rc, &st);
		printf("sent %lu echoed %lu errors %llu rtt_us %llu\n", sent, t.echoed,
		       (unsigned long long)st.errors, (unsigned long long)st.rtt_us);
		ret = 0;
	}
out:
	zt_relay_client_close(t.rc);
	if (t.udp >= 0)
		close(t.udp);
	zt_loop_free(t.loop);
	return ret;
usage:
	fprintf(stderr, "usage: relay_tool echo|ping RELAY KEYFILE [--tcp] [--accept PUB]... "
			"[--to PUB] [--count N] [--timeout S]\n"
			"       relay_tool raw RELAY --to PUB [--count N] [--size S]\n");
	return 2;
}
