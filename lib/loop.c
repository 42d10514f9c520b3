// SPDX-License-Identifier: GPL-2.0-only
/*
 * The daemon's epoll event loop (loop.h): each role runs one; the tunnel, the
 * DNS server, the relay, the control socket and the timers add their fds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "lib/loop.h"

struct zt_watch {
	int fd;
	zt_loop_cb cb;
	void *arg;
	struct zt_watch *next_dead;
};

/*
 * Watches by fd (fds are small integers): add, del and mod are O(1) at any
 * number of fds (a controller holds one per node). A deleted watch is freed
 * after the current batch of events (it may still be in it).
 */
struct zt_loop {
	int epfd;
	bool stop;
	struct zt_watch **byfd;
	size_t nbyfd;
	struct zt_watch *dead;
};

int zt_loop_new(struct zt_loop **out)
{
	struct zt_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return -ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int ret = -errno;

		free(loop);
		return ret;
	}
	*out = loop;
	return 0;
}

static void reap(struct zt_loop *loop)
{
	struct zt_watch *w, *next;

	for (w = loop->dead; w; w = next) {
		next = w->next_dead;
		free(w);
	}
	loop->dead = NULL;
}

void zt_loop_free(struct zt_loop *loop)
{
	if (!loop)
		return;
	for (size_t i = 0; i < loop->nbyfd; i++)
		free(loop->byfd[i]);
	reap(loop);
	free(loop->byfd);
	close(loop->epfd);
	free(loop);
}

static struct zt_watch *lookup(const struct zt_loop *loop, int fd)
{
	return fd >= 0 && (size_t)fd < loop->nbyfd ? loop->byfd[fd] : NULL;
}

/* Retire W (its fd no longer watched): freed after the current batch. */
static void retire(struct zt_loop *loop, struct zt_watch *w)
{
	loop->byfd[w->fd] = NULL;
	w->cb = NULL;
	w->fd = -1;
	w->next_dead = loop->dead;
	loop->dead = w;
}

static int grow(struct zt_loop *loop, int fd)
{
	size_t n = loop->nbyfd ? loop->nbyfd : 64;
	struct zt_watch **v;

	while (n <= (size_t)fd)
		n *= 2;
	if (n == loop->nbyfd)
		return 0;
	v = realloc(loop->byfd, n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memset(v + loop->nbyfd, 0, (n - loop->nbyfd) * sizeof(*v));
	loop->byfd = v;
	loop->nbyfd = n;
	return 0;
}

int zt_loop_add(struct zt_loop *loop, int fd, uint32_t events, zt_loop_cb cb, void *arg)
{
	struct zt_watch *w, *old;
	struct epoll_event ev = { .events = events };

	if (fd < 0)
		return -EBADF;
	if (grow(loop, fd))
		return -ENOMEM;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->cb = cb;
	w->arg = arg;
	ev.data.ptr = w;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		int ret = -errno;

		free(w);
		return ret;
	}
	old = lookup(loop, fd);
	if (old)	/* the fd was closed without zt_loop_del and reused */
		retire(loop, old);
	loop->byfd[fd] = w;
	return 0;
}

void zt_loop_del(struct zt_loop *loop, int fd)
{
	struct zt_watch *w = lookup(loop, fd);

	if (!w)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	/* Retired rather than freed: it may be in the current batch. */
	retire(loop, w);
}

int zt_loop_mod(struct zt_loop *loop, int fd, uint32_t events)
{
	struct zt_watch *w = lookup(loop, fd);
	struct epoll_event ev = { .events = events };

	if (!w)
		return -ENOENT;
	ev.data.ptr = w;
	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
}

/* One epoll_wait and the callbacks of what it returned; events handled, or -errno. */
static int run_once(struct zt_loop *loop, int timeout_ms)
{
	struct epoll_event evs[32];
	int n = epoll_wait(loop->epfd, evs, 32, timeout_ms), i;

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n && !loop->stop; i++) {
		struct zt_watch *w = evs[i].data.ptr;

		if (w->cb)
			w->cb(loop, w->fd, evs[i].events, w->arg);
	}
	reap(loop);
	return n;
}

int zt_loop_run(struct zt_loop *loop)
{
	int ret;

	loop->stop = false;
	while (!loop->stop) {
		ret = run_once(loop, -1);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int zt_loop_run_once(struct zt_loop *loop, int timeout_ms)
{
	loop->stop = false;
	return run_once(loop, timeout_ms);
}

int zt_loop_fd(const struct zt_loop *loop)
{
	return loop->epfd;
}

void zt_loop_stop(struct zt_loop *loop)
{
	loop->stop = true;
}
