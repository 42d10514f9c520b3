// SPDX-License-Identifier: GPL-2.0-only
/*
 * `ztgate netcheck --relay HOST:PORT...`: what this host's network does to
 * UDP, measured with STUN Binding requests (daemon/relay/stun.c) from one local
 * socket to each relay (or any STUN server): whether UDP gets out at all,
 * the public endpoint each relay sees and its round-trip time, and whether
 * that endpoint differs between destinations (a NAT whose mapping depends
 * on the destination, "hard NAT": hole punching will not work through it,
 * the relay will carry the traffic). No daemon needed.
 *
 * Each relay gets a request every 500 ms until it answers, for at most
 * 3 s; every try has its own transaction ID, so an answer's RTT is against
 * the try it answers.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/rand.h>

#include "lib/clock.h"
#include "cli/command.h"
#include "cli/handlers.h"
#include "lib/addr.h"
#include "relay/stun.h"

#define NETCHECK_MAX_RELAYS	16
#define NETCHECK_TRIES		6
#define NETCHECK_RETRY_MS	500
#define NETCHECK_TIMEOUT_MS	3000

struct probe {
	const char *name;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	bool resolved, answered;
	char why[128];
	uint8_t tid[NETCHECK_TRIES][ZT_STUN_TID_LEN];
	uint64_t sent_ms[NETCHECK_TRIES];
	unsigned int tries;
	double rtt_ms;
	struct zt_endpoint seen;
};

static int resolve(struct probe *p)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM }, *res;
	char host[256], *port;
	const char *text = p->name;
	int r;

	if (text[0] == '[') {
		const char *end = strchr(text, ']');

		if (!end || end[1] != ':' || (size_t)(end - text) >= sizeof(host))
			goto bad;
		memcpy(host, text + 1, (size_t)(end - text - 1));
		host[end - text - 1] = '\0';
		port = (char *)end + 2;
	} else {
		const char *colon = strrchr(text, ':');

		if (!colon || (size_t)(colon - text) >= sizeof(host) || colon == text)
			goto bad;
		memcpy(host, text, (size_t)(colon - text));
		host[colon - text] = '\0';
		port = (char *)colon + 1;
	}
	if (!*port)
		goto bad;
	r = getaddrinfo(host, port, &hints, &res);
	if (r) {
		snprintf(p->why, sizeof(p->why), "%s", gai_strerror(r));
		return -ENOENT;
	}
	memcpy(&p->addr, res->ai_addr, res->ai_addrlen);
	p->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	p->resolved = true;
	return 0;
bad:
	snprintf(p->why, sizeof(p->why), "expected HOST:PORT or [IPv6]:PORT");
	return -EINVAL;
}

/* The relay's address as the dual-stack socket wants it (IPv4 mapped). */
static socklen_t dest_for(const struct probe *p, int family, struct sockaddr_storage *ss)
{
	if (family == AF_INET6 && p->addr.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&p->addr;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		memset(ss, 0, sizeof(*ss));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = sin->sin_port;
		s6->sin6_addr.s6_addr[10] = s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6->sin6_addr.s6_addr[12], &sin->sin_addr, 4);
		return sizeof(*s6);
	}
	memcpy(ss, &p->addr, p->addrlen);
	return p->addrlen;
}

static void send_try(int fd, int family, struct probe *p)
{
	struct sockaddr_storage dst;
	socklen_t dl;
	uint8_t msg[128];
	ssize_t n;

	if (p->tries == NETCHECK_TRIES)
		return;
	RAND_bytes(p->tid[p->tries], ZT_STUN_TID_LEN);
	n = zt_stun_build_binding_request(p->tid[p->tries], NULL, msg, sizeof(msg));
	if (n < 0)
		return;
	dl = dest_for(p, family, &dst);
	p->sent_ms[p->tries] = zt_mono_us();
	if (sendto(fd, msg, (size_t)n, 0, (struct sockaddr *)&dst, dl) < 0)
		snprintf(p->why, sizeof(p->why), "send: %s", strerror(errno));
	p->tries++;
}

static void take_answer(struct probe *probes, size_t n, const uint8_t *msg, size_t len)
{
	struct zt_stun_msg m;
	uint64_t now = zt_mono_us();

	if (zt_stun_parse(msg, len, &m) < 0 || m.type != ZT_STUN_BINDING_SUCCESS)
		return;
	for (size_t i = 0; i < n; i++) {
		struct probe *p = &probes[i];

		for (unsigned int t = 0; t < p->tries; t++) {
			const struct zt_stun_addr *a;

			if (p->answered || memcmp(p->tid[t], m.tid, ZT_STUN_TID_LEN))
				continue;
			a = m.has_xor_mapped ? &m.xor_mapped : m.has_mapped ? &m.mapped : NULL;
			if (!a)
				return;
			p->answered = true;
			p->rtt_ms = (double)(now - p->sent_ms[t]) / 1000.0;
			memcpy(p->seen.addr, a->addr, 16);
			p->seen.family = a->family;
			p->seen.port = a->port;
			return;
		}
	}
}

/* One run: the probes, how many answered, and whether the NAT is hard (-1: unknown). */
struct netcheck {
	struct probe probes[NETCHECK_MAX_RELAYS];
	size_t n, answered;
	int hard;
};

/*
 * One socket for all, so the NAT mappings compared are of one socket:
 * dual-stack if the host has IPv6, else IPv4. Its family in *FAMILY; -1
 * after reporting.
 */
static int open_socket(int *family)
{
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), zero = 0;

	*family = AF_INET6;
	if (fd >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero))) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		*family = AF_INET;
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			fprintf(stderr, "ztgate: netcheck: socket: %s\n", strerror(errno));
	}
	return fd;
}

/* Send the tries, every NETCHECK_RETRY_MS, and take the answers until all came or time is up. */
static void probe_all(struct netcheck *nc, int fd, int family)
{
	uint64_t start = zt_mono_us(), next_try = start;

	for (;;) {
		uint64_t now = zt_mono_us();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int wait_ms;

		if (nc->answered == nc->n || now - start >= NETCHECK_TIMEOUT_MS * 1000ull)
			break;
		if (now >= next_try) {
			for (size_t i = 0; i < nc->n; i++) {
				struct probe *p = &nc->probes[i];

				if (p->resolved && !p->answered &&
				    (p->addr.ss_family == AF_INET || family == AF_INET6))
					send_try(fd, family, p);
			}
			next_try = now + NETCHECK_RETRY_MS * 1000ull;
		}
		wait_ms = (int)((next_try - now) / 1000) + 1;
		if (poll(&pfd, 1, wait_ms) > 0) {
			uint8_t buf[2048];
			ssize_t len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (len > 0) {
				take_answer(nc->probes, nc->n, buf, (size_t)len);
				nc->answered = 0;
				for (size_t i = 0; i < nc->n; i++)
					nc->answered += nc->probes[i].answered;
			}
		}
	}
}

/* Hard NAT: two destinations saw different endpoints of one socket. -1: not two answers. */
static int hard_nat(const struct netcheck *nc)
{
	const struct probe *p = nc->probes;
	int hard = -1;

	for (size_t i = 0; i < nc->n; i++) {
		if (!p[i].answered)
			continue;
		for (size_t j = i + 1; j < nc->n; j++) {
			/* An IPv4 and an IPv6 endpoint always differ: not the NAT's doing. */
			if (!p[j].answered || p[j].seen.family != p[i].seen.family)
				continue;
			if (hard < 0)
				hard = 0;
			if (!zt_endpoint_equal(&p[i].seen, &p[j].seen))
				hard = 1;
		}
	}
	return hard;
}

static void print_json_result(const struct netcheck *nc)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();

	for (size_t i = 0; i < nc->n; i++) {
		const struct probe *p = &nc->probes[i];
		json_object *r = json_object_new_object();
		char ep[64];

		json_object_object_add(r, "relay", json_object_new_string(p->name));
		json_object_object_add(r, "ok", json_object_new_boolean(p->answered));
		if (p->answered) {
			zt_endpoint_format(&p->seen, ep, sizeof(ep));
			json_object_object_add(r, "endpoint", json_object_new_string(ep));
			json_object_object_add(r, "rtt_ms", json_object_new_double(p->rtt_ms));
		} else {
			json_object_object_add(r, "error", json_object_new_string(
				p->why[0] ? p->why : "no answer"));
		}
		json_object_array_add(arr, r);
	}
	json_object_object_add(o, "relays", arr);
	json_object_object_add(o, "udp", json_object_new_boolean(nc->answered > 0));
	json_object_object_add(o, "hard_nat",
			       nc->hard < 0 ? NULL : json_object_new_boolean(nc->hard));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static void print_table(const struct netcheck *nc)
{
	printf("%-32s %10s  %s\n", "RELAY", "RTT", "PUBLIC ENDPOINT");
	for (size_t i = 0; i < nc->n; i++) {
		const struct probe *p = &nc->probes[i];
		char ep[64], rtt[32];

		if (p->answered) {
			zt_endpoint_format(&p->seen, ep, sizeof(ep));
			snprintf(rtt, sizeof(rtt), "%.1f ms", p->rtt_ms);
		} else {
			snprintf(ep, sizeof(ep), "- (%s)", p->why[0] ? p->why : "no answer");
			snprintf(rtt, sizeof(rtt), "-");
		}
		printf("%-32s %10s  %s\n", p->name, rtt, ep);
	}
	printf("UDP: %s\n", nc->answered ? "yes" : "no");
	printf("mapping varies by destination (hard NAT): %s\n",
	       nc->hard < 0 ? "unknown (needs answers from two relays)" : nc->hard ? "yes" : "no");
}

/* Probe each of the N relays NAMES from one socket; print; 0 if some answered, else 1. */
static int netcheck(bool json, const char *const *names, size_t n)
{
	struct netcheck nc = { .n = n };
	int fd, family;

	for (size_t i = 0; i < n; i++) {
		nc.probes[i].name = names[i];
		resolve(&nc.probes[i]);
	}
	fd = open_socket(&family);
	if (fd < 0)
		return CLI_EXIT_FAIL;
	probe_all(&nc, fd, family);
	close(fd);
	nc.hard = hard_nat(&nc);
	if (json)
		print_json_result(&nc);
	else
		print_table(&nc);
	return nc.answered ? 0 : CLI_EXIT_FAIL;
}

int cmd_netcheck(struct cli *c, const struct cli_args *a)
{
	const char *relays[NETCHECK_MAX_RELAYS];
	size_t n = 0;

	for (int i = 0; i < a->ngiven; i++) {
		if (strcmp(a->given[i].name, "relay"))
			continue;
		if (n == NETCHECK_MAX_RELAYS)
			return cli_cmd_usage_fail(a->cmd, "at most %d relays", NETCHECK_MAX_RELAYS);
		relays[n++] = a->given[i].value;
	}
	if (!n) {
		/* The daemon has no `relays` command yet: nothing to ask it. */
		fprintf(stderr, "ztgate: netcheck needs --relay HOST:PORT (a relay or any STUN server; "
			"repeat it for the hard-NAT check)\n");
		return CLI_EXIT_USAGE;
	}
	return netcheck(c->json, relays, n);
}
