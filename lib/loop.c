// SPDX-License-Identifier: GPL-2.0-only
/*
 * The daemon's epoll event loop (loop.h): each role runs one; the tunnel, the
 * DNS server, the relay, the control socket and the timers add their fds.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "lib/loop.h"

struct zt_watch {
	int fd;
	zt_loop_cb cb;
	void *arg;
	struct zt_watch *next;
};

struct zt_loop {
	int epfd;
	bool stop;
	struct zt_watch *watches;
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

void zt_loop_free(struct zt_loop *loop)
{
	struct zt_watch *w, *next;

	if (!loop)
		return;
	for (w = loop->watches; w; w = next) {
		next = w->next;
		free(w);
	}
	close(loop->epfd);
	free(loop);
}

int zt_loop_add(struct zt_loop *loop, int fd, uint32_t events, zt_loop_cb cb, void *arg)
{
	struct zt_watch *w = calloc(1, sizeof(*w));
	struct epoll_event ev = { .events = events };

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
	w->next = loop->watches;
	loop->watches = w;
	return 0;
}

void zt_loop_del(struct zt_loop *loop, int fd)
{
	struct zt_watch **pw, *w;

	for (pw = &loop->watches; (w = *pw); pw = &w->next) {
		if (w->fd != fd)
			continue;
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
		/* Mark dead rather than free: it may be in the current batch. */
		w->cb = NULL;
		w->fd = -1;
		return;
	}
}

int zt_loop_mod(struct zt_loop *loop, int fd, uint32_t events)
{
	struct zt_watch *w;

	for (w = loop->watches; w; w = w->next) {
		struct epoll_event ev = { .events = events };

		if (w->fd != fd || !w->cb)
			continue;
		ev.data.ptr = w;
		return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
	}
	return -ENOENT;
}

static void reap(struct zt_loop *loop)
{
	struct zt_watch **pw = &loop->watches, *w;

	while ((w = *pw)) {
		if (!w->cb) {
			*pw = w->next;
			free(w);
		} else {
			pw = &w->next;
		}
	}
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
