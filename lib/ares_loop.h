/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A c-ares channel driven from the daemon's epoll loop: c-ares' sockets are
 * watched through its sock_state_cb, its timeouts through a timerfd armed
 * for ares_timeout(). Nothing blocks. Shared by the client's DNS server
 * (forwarding) and the connector's name cache (resolving).
 */
#ifndef ZT_ARES_LOOP_H
#define ZT_ARES_LOOP_H

#include <stdbool.h>
#include <stddef.h>

#include <ares.h>

#include "lib/loop.h"

struct zt_ares_loop_cfg {
	/*
	 * Servers in c-ares' csv form ("1.2.3.4:53,[::1]:5353"). NULL: the
	 * system's (/etc/resolv.conf, read by c-ares at open). "": none (every
	 * query fails at once).
	 */
	const char *servers;
	int flags;			/* ARES_FLAG_* */
	int timeout_ms;			/* per try; 0: 2000 */
	int tries;			/* 0: 2 */
	/*
	 * Optional: called before and after each pass of c-ares over a ready
	 * socket or its timer. The query callbacks of that pass run in
	 * between, so their output can be batched and flushed in END.
	 */
	void (*begin)(void *arg);
	void (*end)(void *arg);
	void *arg;
};

struct zt_ares_loop;

/* A channel on LOOP. Returns 0 or -errno with ERR set. */
int zt_ares_loop_open(struct zt_loop *loop, const struct zt_ares_loop_cfg *cfg,
		      struct zt_ares_loop **out, char *err, size_t errlen);

/*
 * False when opened with servers "": then do not query at all (c-ares 1.18
 * fails such a query at once but leaks its allocation).
 */
bool zt_ares_loop_has_servers(const struct zt_ares_loop *al);

/* Replace the servers (csv as in the cfg; "" for none). 0 or -EINVAL with ERR set. */
int zt_ares_loop_set_servers(struct zt_ares_loop *al, const char *servers, char *err,
			     size_t errlen);

/* The channel, for ares_query()/ares_send(); follow each with zt_ares_loop_queued(). */
ares_channel zt_ares_loop_channel(const struct zt_ares_loop *al);

/*
 * After queries were added: make sure the timer fires no later than
 * c-ares' next deadline. Cheap when a timer is already armed.
 */
void zt_ares_loop_queued(struct zt_ares_loop *al);

/*
 * Destroy the channel: the callbacks of queries in flight run now, with
 * ARES_EDESTRUCTION; they must not queue new queries. Then the timer goes.
 * LOOP must still exist. NULL is fine.
 */
void zt_ares_loop_close(struct zt_ares_loop *al);

#endif
