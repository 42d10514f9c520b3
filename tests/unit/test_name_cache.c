// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests: the connector's name cache (daemon/dns/name_cache.c) against a
 * real dnsmasq on 127.0.0.1 (a free port picked per run), driven by the
 * daemon's own epoll loop. Every wait is on a condition with a deadline.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ares.h>
#include <cmocka.h>

#include "lib/loop.h"
#include "lib/clock.h"
#include "dns/name_cache.h"

#define DNSMASQ "/usr/sbin/dnsmasq"

static struct in_addr ip(const char *text)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, text, &a), 1);
	return a;
}

/* ---- dnsmasq ---- */

/* A port free for both UDP and TCP on 127.0.0.1 right now. */
static uint16_t free_port(void)
{
	for (int attempt = 0; attempt < 20; attempt++) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t sl = sizeof(sa);
		int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0);
		uint16_t port = 0;

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (!bind(u, (struct sockaddr *)&sa, sizeof(sa)) &&
		    !getsockname(u, (struct sockaddr *)&sa, &sl) &&
		    !bind(t, (struct sockaddr *)&sa, sizeof(sa)))
			port = ntohs(sa.sin_port);
		close(u);
		close(t);
		if (port)
			return port;
	}
	fail_msg("no free port");
	return 0;
}

/* One A query straight to 127.0.0.1:PORT; 0 and the first address if answered. */
static int query_a(uint16_t port, const char *name, struct in_addr *out)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	unsigned char *q = NULL, ans[512];
	struct ares_addrttl ttls[4];
	int qlen, n = 4, fd, ret = -1;
	struct pollfd pfd;
	ssize_t len;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ares_create_query(name, C_IN, T_A, 0x4242, 1, &q, &qlen, 0) != ARES_SUCCESS)
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (sendto(fd, q, (size_t)qlen, 0, (struct sockaddr *)&sa, sizeof(sa)) != qlen)
		goto out;
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, 100) != 1)
		goto out;
	len = recv(fd, ans, sizeof(ans), 0);
	if (len > 0 && ares_parse_a_reply(ans, (int)len, NULL, ttls, &n) == ARES_SUCCESS && n > 0) {
		*out = ttls[0].ipaddr;
		ret = 0;
	}
out:
	ares_free_string(q);
	close(fd);
	return ret;
}

/*
 * dnsmasq on 127.0.0.1:PORT answering nas.home.int with NAS_ADDR (TTL TTL),
 * NXDOMAIN for other names under home.int, REFUSED elsewhere. Returns once
 * it answers with NAS_ADDR (5 s at most).
 */
static pid_t dnsmasq_start(uint16_t port, const char *nas_addr, unsigned int ttl)
{
	char port_arg[32], addr_arg[96], ttl_arg[32];
	struct in_addr got, want = ip(nas_addr);
	uint64_t deadline;
	pid_t pid;

	snprintf(port_arg, sizeof(port_arg), "--port=%u", port);
	snprintf(addr_arg, sizeof(addr_arg), "--address=/nas.home.int/%s", nas_addr);
	snprintf(ttl_arg, sizeof(ttl_arg), "--local-ttl=%u", ttl);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 1);
		dup2(null, 2);
		execl(DNSMASQ, DNSMASQ, "--no-daemon", "--no-resolv", "--no-hosts",
		      "--conf-file=/dev/null", "--pid-file=", port_arg,
		      "--listen-address=127.0.0.1", "--bind-interfaces", addr_arg,
		      "--local=/home.int/", ttl_arg, (char *)NULL);
		_exit(127);
	}
	deadline = zt_mono_ms() + 5000;
	while (zt_mono_ms() < deadline) {
		if (!query_a(port, "nas.home.int", &got) && got.s_addr == want.s_addr)
			return pid;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			fail_msg("dnsmasq exited at start");
		usleep(20000);	/* between polls of a condition with a deadline */
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("dnsmasq did not answer within 5 s");
	return -1;
}

static void dnsmasq_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* ---- the cache on a loop ---- */

struct result {
	char name[256];
	int status;
	struct in_addr addrs[ZT_NAME_CACHE_MAX_ADDRS];
	size_t n;
	uint32_t ttl;
	uint64_t at_ms;
};

struct fixture {
	struct zt_loop *loop;
	struct zt_name_cache *cache;
	pid_t dnsmasq;
	uint16_t port;
	int deadline_fd;
	struct result results[16];
	unsigned int nresults;
	int silent_fd;			/* a "server" that never answers */
};

static void on_resolved(void *ctx, const char *name, int status, const struct in_addr *addrs,
			size_t n, uint32_t ttl)
{
	struct fixture *fx = ctx;
	struct result *r;

	assert_true(fx->nresults < 16);
	r = &fx->results[fx->nresults++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->status = status;
	assert_true(n <= ZT_NAME_CACHE_MAX_ADDRS);
	memcpy(r->addrs, addrs, n * sizeof(*addrs));
	r->n = n;
	r->ttl = ttl;
	r->at_ms = zt_mono_ms();
	zt_loop_stop(fx->loop);
}

static const struct zt_name_cache_ops ops = { .resolved = on_resolved };

static void on_deadline(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	uint64_t n;

	(void)fd;
	(void)events;
	(void)arg;
	if (read(fd, &n, sizeof(n)) < 0)
		return;
	zt_loop_stop(loop);
}

/* Run the loop until a result arrives or MS pass. True if a result arrived. */
static bool run_for(struct fixture *fx, uint64_t ms)
{
	struct itimerspec its = { .it_value = { .tv_sec = (time_t)(ms / 1000),
						 .tv_nsec = (long)(ms % 1000) * 1000000 } };
	unsigned int before = fx->nresults;

	if (!ms)
		its.it_value.tv_nsec = 1;
	assert_int_equal(timerfd_settime(fx->deadline_fd, 0, &its, NULL), 0);
	assert_int_equal(zt_loop_run(fx->loop), 0);
	its = (struct itimerspec){ 0 };
	timerfd_settime(fx->deadline_fd, 0, &its, NULL);
	return fx->nresults > before;
}

static struct result *wait_result(struct fixture *fx, uint64_t ms)
{
	if (!run_for(fx, ms))
		fail_msg("no resolution reported within %llu ms", (unsigned long long)ms);
	return &fx->results[fx->nresults - 1];
}

static void cache_open(struct fixture *fx, const struct zt_name_cache_cfg *cfg)
{
	char err[256];

	if (zt_name_cache_open(fx->loop, cfg, &ops, fx, &fx->cache, err, sizeof(err)))
		fail_msg("open: %s", err);
}

static char servers_buf[64];

static const char *servers(uint16_t port)
{
	snprintf(servers_buf, sizeof(servers_buf), "127.0.0.1:%u", port);
	return servers_buf;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_int_equal(zt_loop_new(&fx->loop), 0);
	fx->deadline_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	assert_true(fx->deadline_fd >= 0);
	assert_int_equal(zt_loop_add(fx->loop, fx->deadline_fd, EPOLLIN, on_deadline, fx), 0);
	fx->silent_fd = -1;
	fx->port = free_port();
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	zt_name_cache_close(fx->cache);
	dnsmasq_stop(fx->dnsmasq);
	zt_loop_del(fx->loop, fx->deadline_fd);
	close(fx->deadline_fd);
	if (fx->silent_fd >= 0)
		close(fx->silent_fd);
	zt_loop_free(fx->loop);
	free(fx);
	return 0;
}

/* ---- tests ---- */

static void test_resolves_and_caches(void **state)
{
	struct fixture *fx = *state;
	struct zt_name_cache_cfg cfg = { .ttl_min_s = 1 };
	struct in_addr a[4];
	struct result *r;
	size_t n;

	fx->dnsmasq = dnsmasq_start(fx->port, "10.10.0.5", 30);
	cfg.servers = servers(fx->port);
	cache_open(fx, &cfg);

	assert_int_equal(zt_name_cache_lookup(fx->cache, "nas.home.int", a, 4, &n), -EINPROGRESS);
	assert_int_equal(n, 0);
	/* Asked again while in flight: still one resolution. */
	assert_int_equal(zt_name_cache_lookup(fx->cache, "nas.home.int", a, 4, &n), -EINPROGRESS);
	r = wait_result(fx, 3000);
	assert_string_equal(r->name, "nas.home.int");
	assert_int_equal(r->status, 0);
	assert_int_equal(r->n, 1);
	assert_true(r->addrs[0].s_addr == ip("10.10.0.5").s_addr);
	assert_int_equal(r->ttl, 30);
	assert_false(run_for(fx, 200));		/* only one report */
	assert_int_equal(fx->nresults, 1);

	/* From the cache now, even with the server gone. */
	dnsmasq_stop(fx->dnsmasq);
	fx->dnsmasq = 0;
	assert_int_equal(zt_name_cache_lookup(fx->cache, "nas.home.int", a, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_true(a[0].s_addr == ip("10.10.0.5").s_addr);
	assert_int_equal(zt_name_cache_lookup(fx->cache, "NAS.Home.Int", a, 4, &n), 0);
	assert_int_equal(zt_name_cache_count(fx->cache), 1);
}

/* A TTL below the floor is raised to it; above the ceiling, lowered. */
static void test_ttl_clamped(void **state)
{
	struct fixture *fx = *state;
	struct zt_name_cache_cfg cfg = { .ttl_min_s = 5, .ttl_max_s = 20 };
	struct in_addr a[1];
	size_t n;

	fx->dnsmasq = dnsmasq_start(fx->port, "10.10.0.5", 2);
	cfg.servers = servers(fx->port);
	cache_open(fx, &cfg);
	assert_int_equal(zt_name_cache_lookup(fx->cache, "nas.home.int", a, 1, &n), -EINPROGRESS);
	assert_int_equal(wait_result(fx, 3000)->ttl, 5);
	dnsmasq_stop(fx->dnsmasq);
	fx->dnsmasq = dnsmasq_start(fx->port, "10.10.0.5", 3600);
	zt_name_cache_close(fx->cache);
	cache_open(fx, &cfg);
	assert_int_equal(zt_name_cache_lookup(fx->cache, "nas.home.int", a, 1, &n), -EINPROGRESS);
	assert_int_equal(wait_result(fx, 3000)->ttl, 20);
}

/*
 * The TTL is honoured: a changed answer is not seen before it runs out,
 * and an entry in use is resolved again when it does, picking the change up.
 */
static void test_reresolves_on_expiry(void **state)
{
	struct fixture *fx = *state;
	struct zt_name_cache_cfg cfg = { .ttl_min_s = 1 };
	const unsigned int ttl = 3;
	struct in_addr a[4], got;
	struct result *r;
	uint64_t t0;
	size_t n;

	fx->dnsmasq = dnsmasq_start(fx->port, "10.10.0.5", ttl);
	cfg.servers = servers(fx->port);
	cache_open(fx, &cfg);
	assert_int_equal(zt_name_cache_lookup(fx->cache, "nas.home.int", a, 4, &n), -EINPROGRESS);
	r = wait_result(fx, 3000);
	t0 = r->at_ms;
	assert_int_equal(r->status, 0);
	assert_int_equal(r->ttl, ttl);

	/* The private DNS changes its answer. */
	dnsmasq_stop(fx->dnsmasq);
	fx->dnsmasq = dnsmasq_start(fx->port, "10.10.0.6", ttl);
	assert_int_equal(query_a(fx->port, "nas.home.int", &got), 0);
	assert_true(got.s_addr == ip("10.10.0.6").s_addr);

	/* Within the TTL the cache keeps the old answer (and this use keeps it alive). */
	assert_int_equal(zt_name_cache_lookup(fx->cache, "nas.home.int", a, 4, &n), 0);
	if (zt_mono_ms() - t0 >= ttl * 1000)
		fail_msg("restarting dnsmasq took longer than the TTL; the check is void");
	assert_true(a[0].s_addr == ip("10.10.0.5").s_addr);

	/* At expiry: resolved again, the change reported. */
	r = wait_result(fx, ttl * 1000 + 3000);
	assert_int_equal(r->status, 0);
	assert_true(r->addrs[0].s_addr == ip("10.10.0.6").s_addr);
	assert_true(r->at_ms + 20 >= t0 + ttl * 1000);	/* not before the TTL ran out */
	assert_int_equal(zt_name_cache_lookup(fx->cache, "nas.home.int", a, 4, &n), 0);
	assert_true(a[0].s_addr == ip("10.10.0.6").s_addr);
}

/* An entry nobody looked up during its TTL is dropped, not resolved again. */
static void test_unused_entry_dropped(void **state)
{
	struct fixture *fx = *state;
	struct zt_name_cache_cfg cfg = { .ttl_min_s = 1 };
	struct in_addr a[1];
	uint64_t deadline;
	size_t n;

	fx->dnsmasq = dnsmasq_start(fx->port, "10.10.0.5", 1);
	cfg.servers = servers(fx->port);
	cache_open(fx, &cfg);
	assert_int_equal(zt_name_cache_lookup(fx->cache, "nas.home.int", a, 1, &n), -EINPROGRESS);
	assert_int_equal(wait_result(fx, 3000)->status, 0);
	assert_int_equal(zt_name_cache_count(fx->cache), 1);
	deadline = zt_mono_ms() + 3000;
	while (zt_name_cache_count(fx->cache) && zt_mono_ms() < deadline)
		assert_false(run_for(fx, 50));	/* and no re-resolution is reported */
	assert_int_equal(zt_name_cache_count(fx->cache), 0);
	assert_int_equal(fx->nresults, 1);
}

static void test_nxdomain_and_refused(void **state)
{
	struct fixture *fx = *state;
	struct zt_name_cache_cfg cfg = { .ttl_min_s = 1, .negative_ttl_s = 30 };
	struct in_addr a[1];
	struct result *r;
	size_t n;

	fx->dnsmasq = dnsmasq_start(fx->port, "10.10.0.5", 30);
	cfg.servers = servers(fx->port);
	cache_open(fx, &cfg);
	assert_int_equal(zt_name_cache_lookup(fx->cache, "missing.home.int", a, 1, &n),
			 -EINPROGRESS);
	r = wait_result(fx, 3000);
	assert_string_equal(r->name, "missing.home.int");
	assert_int_equal(r->status, -ENOENT);
	assert_int_equal(r->n, 0);
	assert_string_equal(zt_name_cache_strerror(r->status), "NXDOMAIN");
	/* Remembered: the error again, no new query. */
	assert_int_equal(zt_name_cache_lookup(fx->cache, "missing.home.int", a, 1, &n), -ENOENT);
	assert_false(run_for(fx, 200));

	/*
	 * A name the private DNS refuses to resolve: c-ares 1.18 tries the
	 * next server on REFUSED and, with none left, says "could not contact".
	 */
	assert_int_equal(zt_name_cache_lookup(fx->cache, "www.example.com", a, 1, &n),
			 -EINPROGRESS);
	r = wait_result(fx, 3000);
	assert_int_equal(r->status, -ECONNREFUSED);
	assert_string_equal(zt_name_cache_strerror(r->status), "server failure");
}

/* A server that never answers: a timeout, reported within tries x timeout. */
static void test_timeout(void **state)
{
	struct fixture *fx = *state;
	struct zt_name_cache_cfg cfg = { .timeout_ms = 300, .tries = 2 };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(fx->port) };
	struct in_addr a[1];
	struct result *r;
	uint64_t t0;
	size_t n;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fx->silent_fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(bind(fx->silent_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cfg.servers = servers(fx->port);
	cache_open(fx, &cfg);
	t0 = zt_mono_ms();
	assert_int_equal(zt_name_cache_lookup(fx->cache, "nas.home.int", a, 1, &n), -EINPROGRESS);
	r = wait_result(fx, 5000);
	assert_int_equal(r->status, -ETIMEDOUT);
	assert_string_equal(zt_name_cache_strerror(r->status), "timeout");
	assert_true(r->at_ms - t0 >= 300);
	assert_true(r->at_ms - t0 < 3000);
}

/* Nothing listening: an error soon (refused by ICMP, or a timeout), never a hang. */
static void test_no_server(void **state)
{
	struct fixture *fx = *state;
	struct zt_name_cache_cfg cfg = { .timeout_ms = 300, .tries = 2 };
	struct in_addr a[1];
	struct result *r;
	uint64_t t0;
	size_t n;

	cfg.servers = servers(fx->port);
	cache_open(fx, &cfg);
	t0 = zt_mono_ms();
	assert_int_equal(zt_name_cache_lookup(fx->cache, "nas.home.int", a, 1, &n), -EINPROGRESS);
	r = wait_result(fx, 5000);
	assert_true(r->status == -ECONNREFUSED || r->status == -ETIMEDOUT);
	assert_true(r->at_ms - t0 < 3000);
}

/* No servers at all: the error is the lookup's return value, no report follows. */
static void test_empty_server_list(void **state)
{
	struct fixture *fx = *state;
	struct zt_name_cache_cfg cfg = { .servers = "" };
	struct in_addr a[1];
	size_t n;
	int r;

	cache_open(fx, &cfg);
	r = zt_name_cache_lookup(fx->cache, "nas.home.int", a, 1, &n);
	assert_int_equal(r, -ENETUNREACH);
	assert_string_equal(zt_name_cache_strerror(r), "no DNS servers");
	assert_false(run_for(fx, 100));
	assert_int_equal(zt_name_cache_lookup(fx->cache, "nas.home.int", a, 1, &n), r);
}

static void test_bad_input(void **state)
{
	struct fixture *fx = *state;
	struct zt_name_cache_cfg cfg = { .servers = "not an address" };
	char err[256] = "", longname[300];
	struct in_addr a[1];
	size_t n;

	assert_true(zt_name_cache_open(fx->loop, &cfg, &ops, fx, &fx->cache, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "not an address"));
	fx->cache = NULL;

	cfg.servers = servers(fx->port);
	cache_open(fx, &cfg);
	assert_int_equal(zt_name_cache_lookup(fx->cache, "", a, 1, &n), -EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(zt_name_cache_lookup(fx->cache, longname, a, 1, &n), -EINVAL);
}

/* Closing with queries in flight: no report, nothing leaks (ASan). */
static void test_close_in_flight(void **state)
{
	struct fixture *fx = *state;
	struct zt_name_cache_cfg cfg = { .timeout_ms = 5000 };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(fx->port) };
	struct in_addr a[1];
	size_t n;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fx->silent_fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(bind(fx->silent_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cfg.servers = servers(fx->port);
	cache_open(fx, &cfg);
	assert_int_equal(zt_name_cache_lookup(fx->cache, "a.home.int", a, 1, &n), -EINPROGRESS);
	assert_int_equal(zt_name_cache_lookup(fx->cache, "b.home.int", a, 1, &n), -EINPROGRESS);
	assert_false(run_for(fx, 50));
	zt_name_cache_close(fx->cache);
	fx->cache = NULL;
	assert_int_equal(fx->nresults, 0);
}

/* A13: one device (owner) holds at most its share of the slots, never another's. */
static void test_owner_share(void **state)
{
	struct fixture *fx = *state;
	struct zt_name_cache_cfg cfg = { .ttl_min_s = 1, .negative_ttl_s = 30, .max_names = 4,
					 .max_per_owner = 2 };
	const char *names[] = { "c.home.int", "d.home.int", "e.home.int", "f.home.int" };
	struct in_addr a[1];
	size_t n;

	fx->dnsmasq = dnsmasq_start(fx->port, "10.10.0.5", 30);
	cfg.servers = servers(fx->port);
	cache_open(fx, &cfg);
	assert_int_equal(zt_name_cache_lookup_as(fx->cache, 1, "a.home.int", a, 1, &n),
			 -EINPROGRESS);
	assert_int_equal(zt_name_cache_lookup_as(fx->cache, 1, "b.home.int", a, 1, &n),
			 -EINPROGRESS);
	/* Both its slots are being resolved: a third name waits its turn. */
	assert_int_equal(zt_name_cache_lookup_as(fx->cache, 1, "c.home.int", a, 1, &n), -ENOSPC);
	wait_result(fx, 3000);
	if (fx->nresults < 2)
		wait_result(fx, 3000);
	assert_int_equal(zt_name_cache_lookup_as(fx->cache, 2, "nas.home.int", a, 1, &n),
			 -EINPROGRESS);
	assert_int_equal(wait_result(fx, 3000)->status, 0);
	/* Owner 1 churns through names: it evicts only its own. */
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(zt_name_cache_lookup_as(fx->cache, 1, names[i], a, 1, &n),
				 -EINPROGRESS);
		assert_int_equal(wait_result(fx, 3000)->status, -ENOENT);
		assert_true(zt_name_cache_owned(fx->cache, 1) <= 2);
	}
	assert_int_equal(zt_name_cache_owned(fx->cache, 1), 2);
	assert_int_equal(zt_name_cache_owned(fx->cache, 2), 1);
	assert_int_equal(zt_name_cache_count(fx->cache), 3);
	/* Owner 2's name is still served from the cache. */
	assert_int_equal(zt_name_cache_lookup_as(fx->cache, 2, "nas.home.int", a, 1, &n), 0);
	assert_int_equal(n, 1);
	assert_true(a[0].s_addr == ip("10.10.0.5").s_addr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_resolves_and_caches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ttl_clamped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reresolves_on_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unused_entry_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nxdomain_and_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_server_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_share, setup, teardown),
	};

	if (access(DNSMASQ, X_OK)) {
		fprintf(stderr, "test_name_cache: %s is missing (make deps)\n", DNSMASQ);
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
