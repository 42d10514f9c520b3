// SPDX-License-Identifier: GPL-2.0-only
/*
 * uplink_tool: drives daemon/dataplane/uplink.c from the integration test, and sends
 * and receives tunnel-shaped UDP datagrams through real sockets.
 *
 *   uplink_tool attach PIN_DIR IFNAME PORT RATE BURST
 *       open (reusing pins), set the config, attach; prints one JSON line
 *       {"ifindex":N,"prog_id":N,"mode":"native"|"generic","replaced":bool}
 *   uplink_tool config PIN_DIR PORT RATE BURST
 *   uplink_tool stats PIN_DIR       JSON line of the summed counters
 *   uplink_tool detach PIN_DIR IFNAME
 *   uplink_tool teardown PIN_DIR
 *   uplink_tool send [-b SRC] [-t SECONDS] DST PORT TYPE SIZE COUNT
 *       COUNT datagrams (with -t: for SECONDS, at most COUNT, 0 = no
 *       limit) of SIZE bytes, first byte TYPE, the rest a counter pattern,
 *       as fast as the socket takes them; prints "SECONDS_TAKEN SENT"
 *   uplink_tool recv PORT
 *       dual-stack listener: one line "TYPE SIZE SOURCE" per datagram,
 *       flushed as it arrives; runs until killed
 *
 * Exit status 0 on success; errors are one line on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/uplink.h"

static int usage(void)
{
	fprintf(stderr, "usage: uplink_tool attach|config|stats|detach|teardown|send|recv ...\n");
	return 2;
}

static unsigned long num(const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || end == s || v > max) {
		fprintf(stderr, "uplink_tool: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static int open_or_die(const char *pin_dir, struct zt_uplink **u)
{
	char err[256] = "";
	int ret = zt_uplink_open(pin_dir, u, err, sizeof(err));

	if (ret)
		fprintf(stderr, "uplink_tool: %s\n", err);
	return ret;
}

/* An address for DST/SRC text, v4 as v4-mapped on an AF_INET6 socket. */
static int parse_addr(const char *text, unsigned short port, struct sockaddr_in6 *sa)
{
	struct in_addr v4;

	memset(sa, 0, sizeof(*sa));
	sa->sin6_family = AF_INET6;
	sa->sin6_port = htons(port);
	if (inet_pton(AF_INET6, text, &sa->sin6_addr) == 1)
		return 0;
	if (inet_pton(AF_INET, text, &v4) != 1)
		return -EINVAL;
	sa->sin6_addr.s6_addr[10] = sa->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&sa->sin6_addr.s6_addr[12], &v4, 4);
	return 0;
}

static int cmd_send(int argc, char **argv)
{
	struct sockaddr_in6 dst, src;
	const char *bind_to = NULL;
	unsigned char buf[65507];
	unsigned long size, count, i, for_ns = 0;
	struct timespec t0, t1;
	int fd, off = 0, type;

	while (argc - off >= 2 && argv[off][0] == '-') {
		if (!strcmp(argv[off], "-b"))
			bind_to = argv[off + 1];
		else if (!strcmp(argv[off], "-t"))
			for_ns = num(argv[off + 1], 3600) * 1000000000UL;
		else
			return usage();
		off += 2;
	}
	if (argc - off != 5)
		return usage();
	if (parse_addr(argv[off], (unsigned short)num(argv[off + 1], 65535), &dst)) {
		fprintf(stderr, "uplink_tool: bad address %s\n", argv[off]);
		return 2;
	}
	type = (int)num(argv[off + 2], 255);
	size = num(argv[off + 3], sizeof(buf));
	count = num(argv[off + 4], 100000000);
	if (for_ns && !count)
		count = ~0UL;
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("uplink_tool: socket");
		return 1;
	}
	if (bind_to) {
		if (parse_addr(bind_to, 0, &src) || bind(fd, (struct sockaddr *)&src, sizeof(src))) {
			fprintf(stderr, "uplink_tool: bind %s: %s\n", bind_to, strerror(errno));
			close(fd);
			return 1;
		}
	}
	for (i = 0; i < size; i++)
		buf[i] = (unsigned char)i;
	if (size)
		buf[0] = (unsigned char)type;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < count; i++) {
		if (for_ns && !(i & 63)) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if ((unsigned long)(t1.tv_sec - t0.tv_sec) * 1000000000UL + (unsigned long)t1.tv_nsec -
			    (unsigned long)t0.tv_nsec >= for_ns)
				break;
		}
		/* A full socket buffer (ENOBUFS) is retried: every datagram must go out. */
		while (sendto(fd, buf, size, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
			if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, "uplink_tool: sendto: %s\n", strerror(errno));
				close(fd);
				return 1;
			}
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.6f %lu\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       i);
	close(fd);
	return 0;
}

static int cmd_recv(int argc, char **argv)
{
	struct sockaddr_in6 sa;
	unsigned char buf[65536];
	char from[INET6_ADDRSTRLEN];
	int fd, zero = 0, rcvbuf = 4 << 20;
	ssize_t n;

	if (argc != 1)
		return usage();
	memset(&sa, 0, sizeof(sa));
	sa.sin6_family = AF_INET6;
	sa.sin6_port = htons((unsigned short)num(argv[0], 65535));
	sa.sin6_addr = in6addr_any;
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("uplink_tool: recv socket");
		return 1;
	}
	/* What passes the guard must not be lost here instead. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	for (;;) {
		socklen_t len = sizeof(sa);

		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&sa, &len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("uplink_tool: recvfrom");
			return 1;
		}
		inet_ntop(AF_INET6, &sa.sin6_addr, from, sizeof(from));
		printf("%d %zd %s\n", n ? buf[0] : -1, n, from);
		fflush(stdout);
	}
}

int main(int argc, char **argv)
{
	struct zt_uplink *u = NULL;
	struct zt_uplink_info info;
	struct zt_uplink_stats st;
	char err[256] = "";
	int ret;

	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "send"))
		return cmd_send(argc - 2, argv + 2);
	if (!strcmp(argv[1], "recv"))
		return cmd_recv(argc - 2, argv + 2);
	if (!strcmp(argv[1], "teardown") && argc == 3) {
		ret = zt_uplink_teardown(argv[2], err, sizeof(err));
		if (ret)
			fprintf(stderr, "uplink_tool: %s\n", err);
		return ret ? 1 : 0;
	}
	if (!strcmp(argv[1], "attach") && argc == 7) {
		if (open_or_die(argv[2], &u))
			return 1;
		ret = zt_uplink_set_config(u, (uint16_t)num(argv[4], 65535),
					   (uint32_t)num(argv[5], 0xffffffff),
					   (uint32_t)num(argv[6], 0xffffffff));
		if (ret) {
			snprintf(err, sizeof(err), "uplink: setting the config: %s", strerror(-ret));
		} else {
			ret = zt_uplink_attach(u, argv[3], &info, err, sizeof(err));
			if (!ret)
				printf("{\"ifindex\":%d,\"prog_id\":%u,\"mode\":\"%s\",\"replaced\":%s}\n",
				       info.ifindex, info.prog_id, info.native ? "native" : "generic",
				       info.replaced ? "true" : "false");
		}
	} else if (!strcmp(argv[1], "config") && argc == 6) {
		if (open_or_die(argv[2], &u))
			return 1;
		ret = zt_uplink_set_config(u, (uint16_t)num(argv[3], 65535),
					   (uint32_t)num(argv[4], 0xffffffff),
					   (uint32_t)num(argv[5], 0xffffffff));
		if (ret)
			snprintf(err, sizeof(err), "uplink: setting the config: %s", strerror(-ret));
	} else if (!strcmp(argv[1], "stats") && argc == 3) {
		if (open_or_die(argv[2], &u))
			return 1;
		ret = zt_uplink_read_stats(u, &st);
		if (ret)
			snprintf(err, sizeof(err), "uplink: reading stats: %s", strerror(-ret));
		else
			printf("{\"passed\":%llu,\"dropped_malformed\":%llu,"
			       "\"dropped_ratelimited\":%llu,\"initiations_seen\":%llu}\n",
			       (unsigned long long)st.passed,
			       (unsigned long long)st.dropped_malformed,
			       (unsigned long long)st.dropped_ratelimited,
			       (unsigned long long)st.initiations_seen);
	} else if (!strcmp(argv[1], "detach") && argc == 4) {
		if (open_or_die(argv[2], &u))
			return 1;
		ret = zt_uplink_detach(u, argv[3], err, sizeof(err));
	} else {
		return usage();
	}
	if (ret)
		fprintf(stderr, "uplink_tool: %s\n", err);
	zt_uplink_close(u);
	return ret ? 1 : 0;
}
