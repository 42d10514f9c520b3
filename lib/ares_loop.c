// SPDX-License-Identifier: GPL-2.0-only
/*
 * A c-ares channel on the daemon's epoll loop (ares_loop.h): the DNS server's
 * forwarding, the connector's name cache and the relay client's name lookup.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "lib/ares_loop.h"
#include "lib/clock.h"
#include "lib/log.h"

struct zt_ares_loop {
	struct zt_loop *loop;
	struct zt_ares_loop_cfg cfg;
	ares_channel channel;
	bool up;			/* the channel exists and may be driven */
	bool lib_init;
	bool has_servers;
	int timer_fd;
	uint64_t timer_deadline_ns;	/* CLOCK_MONOTONIC of the armed timer; 0: none */
};

/*
 * Arm the timer for c-ares' next deadline. A timer already due no later
 * than that stays as it is: when it fires, c-ares handles what is due and
 * we re-arm. That keeps a timerfd_settime off most queries' path.
 */
static void rearm(struct zt_ares_loop *al)
{
	struct itimerspec its = { 0 };
	struct timeval tv, *tvp;
	uint64_t now, deadline;

	if (!al->up)
		return;
	tvp = ares_timeout(al->channel, NULL, &tv);
	now = zt_mono_ns();
	if (tvp) {
		deadline = now + (uint64_t)tvp->tv_sec * 1000000000ull +
			   (uint64_t)tvp->tv_usec * 1000ull;
		if (al->timer_deadline_ns && al->timer_deadline_ns > now &&
		    al->timer_deadline_ns <= deadline)
			return;
		its.it_value.tv_sec = tvp->tv_sec;
		its.it_value.tv_nsec = (long)tvp->tv_usec * 1000;
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1000000;	/* 0 would disarm: 1 ms */
		al->timer_deadline_ns = deadline;
	} else {
		if (!al->timer_deadline_ns)
			return;
		al->timer_deadline_ns = 0;
	}
	timerfd_settime(al->timer_fd, 0, &its, NULL);
}

/*
 * After queries were added or answered: a timer armed and not yet due
 * already fires no later than anything c-ares could need now (a new try is
 * due a whole timeout from now; answers only remove deadlines), so
 * ares_timeout(), a walk over every query in flight in c-ares 1.18, is
 * skipped. A timer left armed for queries already answered fires once and
 * disarms.
 */
static void rearm_lazy(struct zt_ares_loop *al)
{
	if (al->timer_deadline_ns && al->timer_deadline_ns > zt_mono_ns())
		return;
	rearm(al);
}

static void process(struct zt_ares_loop *al, ares_socket_t rfd, ares_socket_t wfd)
{
	if (al->cfg.begin)
		al->cfg.begin(al->cfg.arg);
	ares_process_fd(al->channel, rfd, wfd);
	if (al->cfg.end)
		al->cfg.end(al->cfg.arg);
}

static void on_fd(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_ares_loop *al = arg;

	(void)loop;
	process(al, events & (EPOLLIN | EPOLLERR | EPOLLHUP) ? fd : ARES_SOCKET_BAD,
		events & EPOLLOUT ? fd : ARES_SOCKET_BAD);
	rearm_lazy(al);
}

static void on_timer(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_ares_loop *al = arg;
	uint64_t n;

	(void)loop;
	(void)events;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	al->timer_deadline_ns = 0;	/* fired: nothing armed now */
	process(al, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm(al);
}

/* c-ares opens and closes its sockets; the loop follows. */
static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct zt_ares_loop *al = data;
	uint32_t ev = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);

	zt_loop_del(al->loop, fd);
	if (ev && zt_loop_add(al->loop, fd, ev, on_fd, al))
		zt_log("warning", "dns: cannot watch c-ares socket %d", fd);
}

int zt_ares_loop_open(struct zt_loop *loop, const struct zt_ares_loop_cfg *cfg,
		      struct zt_ares_loop **out, char *err, size_t errlen)
{
	struct ares_options opts = { 0 };
	struct zt_ares_loop *al;
	int ret;

	al = calloc(1, sizeof(*al));
	if (!al) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	al->loop = loop;
	al->cfg = *cfg;
	al->cfg.servers = NULL;		/* not kept: the caller's string */
	al->has_servers = !cfg->servers || cfg->servers[0];
	al->timer_fd = -1;

	ret = ares_library_init(ARES_LIB_INIT_ALL);
	if (ret != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(ret));
		ret = -EIO;
		goto fail;
	}
	al->lib_init = true;
	opts.flags = cfg->flags;
	opts.timeout = cfg->timeout_ms > 0 ? cfg->timeout_ms : 2000;
	opts.tries = cfg->tries > 0 ? cfg->tries : 2;
	opts.sock_state_cb = sock_state;
	opts.sock_state_cb_data = al;
	ret = ares_init_options(&al->channel, &opts, ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS |
				ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB);
	if (ret != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(ret));
		ret = -EIO;
		goto fail;
	}
	al->up = true;
	if (cfg->servers) {
		ret = zt_ares_loop_set_servers(al, cfg->servers, err, errlen);
		if (ret)
			goto fail;
	}
	al->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (al->timer_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "timerfd: %s", strerror(-ret));
		goto fail;
	}
	ret = zt_loop_add(loop, al->timer_fd, EPOLLIN, on_timer, al);
	if (ret) {
		snprintf(err, errlen, "event loop: %s", strerror(-ret));
		close(al->timer_fd);
		al->timer_fd = -1;
		goto fail;
	}
	*out = al;
	return 0;
fail:
	zt_ares_loop_close(al);
	return ret;
}

int zt_ares_loop_set_servers(struct zt_ares_loop *al, const char *servers, char *err,
			     size_t errlen)
{
	/* c-ares 1.18 takes "" as "keep what you have": clear them ourselves. */
	int ret = servers[0] ? ares_set_servers_ports_csv(al->channel, servers)
			     : ares_set_servers_ports(al->channel, NULL);

	if (ret == ARES_ENOTIMP) {
		/*
		 * c-ares changes servers only with no query in flight: those end
		 * now (their callbacks see ARES_ECANCELLED), then the change.
		 */
		ares_cancel(al->channel);
		ret = servers[0] ? ares_set_servers_ports_csv(al->channel, servers)
				 : ares_set_servers_ports(al->channel, NULL);
	}
	if (ret != ARES_SUCCESS) {
		snprintf(err, errlen, "DNS servers '%s': %s", servers, ares_strerror(ret));
		return -EINVAL;
	}
	al->has_servers = servers[0] != '\0';
	return 0;
}

bool zt_ares_loop_has_servers(const struct zt_ares_loop *al)
{
	return al->has_servers;
}

ares_channel zt_ares_loop_channel(const struct zt_ares_loop *al)
{
	return al->channel;
}

void zt_ares_loop_queued(struct zt_ares_loop *al)
{
	rearm_lazy(al);
}

void zt_ares_loop_close(struct zt_ares_loop *al)
{
	if (!al)
		return;
	if (al->up) {
		/* In-flight callbacks run with ARES_EDESTRUCTION; nothing re-arms. */
		al->up = false;
		ares_destroy(al->channel);
	}
	if (al->lib_init)
		ares_library_cleanup();
	if (al->timer_fd >= 0) {
		zt_loop_del(al->loop, al->timer_fd);
		close(al->timer_fd);
	}
	free(al);
}
