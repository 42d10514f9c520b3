// SPDX-License-Identifier: GPL-2.0-only
/* The connector's cache of private names (name_cache.h), resolved through c-ares. */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <ares.h>
#include <openssl/rand.h>
#include <openssl/siphash.h>

#include "lib/ares_loop.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "dns/name_cache.h"

#define NAME_MAX_LEN	253		/* a DNS name in text, no trailing dot */
#define NBUCKETS	1024

enum entry_state {
	E_RESOLVING,			/* first resolution: nothing to serve */
	E_VALID,			/* addrs served (until a re-resolution says otherwise) */
	E_FAILED,			/* error served until expires */
};

struct entry {
	struct zt_name_cache *c;
	struct entry *hnext;
	struct entry *next, *prev;	/* every entry, for the sweep */
	enum entry_state state;
	bool in_flight;			/* a query's callback holds this entry */
	bool report_pending;		/* resolved() is owed, with report_status */
	int report_status;
	int error;			/* E_FAILED: -errno */
	struct in_addr addrs[ZT_NAME_CACHE_MAX_ADDRS];
	size_t naddrs;
	uint32_t ttl;			/* of the last answer, clamped */
	uint64_t expires_ns;		/* E_VALID, E_FAILED */
	uint64_t last_used_ns;
	uint32_t owner;			/* charged to (zt_name_cache_lookup_as()); 0 nobody */
	char name[NAME_MAX_LEN + 1];
};

struct zt_name_cache {
	struct zt_loop *loop;
	struct zt_ares_loop *al;
	struct zt_name_cache_ops ops;
	void *ctx;
	uint32_t ttl_min, ttl_max, negative_ttl;
	unsigned int max_names;
	unsigned int max_per_owner;
	uint64_t hash_key[2];
	struct entry *buckets[NBUCKETS];
	struct entry *all;
	size_t count;
	int timer_fd;
	bool closing;
	/*
	 * While set, outcomes are noted in the entries instead of reported:
	 * c-ares may answer inside ares_query() (no servers, say), and user
	 * code must not run while we walk the entries or inside lookup().
	 */
	bool deferring;
};

static int status_to_errno(int status)
{
	switch (status) {
	case ARES_ENOTFOUND:
		return -ENOENT;
	case ARES_ENODATA:
		return -ENODATA;
	case ARES_ESERVFAIL:
		return -EREMOTEIO;
	case ARES_EREFUSED:
		return -EACCES;
	case ARES_ETIMEOUT:
		return -ETIMEDOUT;
	case ARES_ECONNREFUSED:
		return -ECONNREFUSED;
	case ARES_EFORMERR:
	case ARES_EBADRESP:
		return -EBADMSG;
	case ARES_ENOMEM:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

const char *zt_name_cache_strerror(int status)
{
	switch (status) {
	case 0:
		return "ok";
	case -ENOENT:
		return "NXDOMAIN";
	case -ENODATA:
		return "NODATA";
	case -EREMOTEIO:
		return "SERVFAIL";
	case -EACCES:
		return "REFUSED";
	case -ETIMEDOUT:
		return "timeout";
	case -ECONNREFUSED:
		/* c-ares 1.18: every server refused, failed (SERVFAIL, REFUSED) or was unreachable */
		return "server failure";
	case -ENETUNREACH:
		return "no DNS servers";
	case -EBADMSG:
		return "bad response";
	case -ENOMEM:
		return "out of memory";
	default:
		return "resolver error";
	}
}

/* The name is gone, as opposed to a DNS that could not say. */
static bool is_authoritative_negative(int err)
{
	return err == -ENOENT || err == -ENODATA;
}

/* ---- entries ---- */

/* Keyed, and case-blind like DNS: bind messages bring names chosen by devices. */
static size_t bucket_of(const struct zt_name_cache *c, const char *name)
{
	char lower[NAME_MAX_LEN + 1];
	size_t i, len = strlen(name);

	for (i = 0; i < len; i++)
		lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
	return (size_t)SIPHASH_24(c->hash_key, (const uint8_t *)lower, len) % NBUCKETS;
}

static struct entry *find(const struct zt_name_cache *c, const char *name)
{
	struct entry *e;

	for (e = c->buckets[bucket_of(c, name)]; e; e = e->hnext)
		if (!strcasecmp(e->name, name))
			return e;
	return NULL;
}

static void entry_free(struct zt_name_cache *c, struct entry *e)
{
	struct entry **pe;

	for (pe = &c->buckets[bucket_of(c, e->name)]; *pe; pe = &(*pe)->hnext) {
		if (*pe == e) {
			*pe = e->hnext;
			break;
		}
	}
	if (e->prev)
		e->prev->next = e->next;
	else
		c->all = e->next;
	if (e->next)
		e->next->prev = e->prev;
	c->count--;
	free(e);
}

/* Arm the timer for the earliest expiry of an entry that no query holds. */
static void rearm(struct zt_name_cache *c)
{
	struct itimerspec its = { 0 };
	uint64_t next = UINT64_MAX, now = zt_mono_ns();
	struct entry *e;

	if (c->closing)
		return;
	for (e = c->all; e; e = e->next)
		if (!e->in_flight && e->state != E_RESOLVING && e->expires_ns < next)
			next = e->expires_ns;
	if (next != UINT64_MAX) {
		uint64_t in = next > now ? next - now : 1;

		its.it_value.tv_sec = (time_t)(in / ZT_NS_PER_S);
		its.it_value.tv_nsec = (long)(in % ZT_NS_PER_S);
	}
	timerfd_settime(c->timer_fd, 0, &its, NULL);
}

static uint32_t clamp_ttl(const struct zt_name_cache *c, uint32_t ttl)
{
	if (ttl < c->ttl_min)
		return c->ttl_min;
	if (ttl > c->ttl_max)
		return c->ttl_max;
	return ttl;
}

static void report(struct zt_name_cache *c, struct entry *e, int status)
{
	if (!c->ops.resolved)
		return;
	if (c->deferring) {
		e->report_pending = true;
		e->report_status = status;
		return;
	}
	c->ops.resolved(c->ctx, e->name, status, e->addrs, e->naddrs, e->ttl);
}

/*
 * The reports owed, one at a time from the head: a callback may look
 * names up, which adds entries and may evict others.
 */
static void flush_reports(struct zt_name_cache *c)
{
	struct entry *e;

	for (;;) {
		for (e = c->all; e && !e->report_pending; e = e->next)
			;
		if (!e)
			return;
		e->report_pending = false;
		c->ops.resolved(c->ctx, e->name, e->report_status, e->addrs, e->naddrs, e->ttl);
	}
}

/* A resolution ended: ERR 0 with N addresses and their TTLs, or -errno. */
static void finish(struct zt_name_cache *c, struct entry *e, int err,
		   const struct ares_addrttl *ttls, int n)
{
	uint32_t ttl = UINT32_MAX;
	uint64_t now = zt_mono_ns();
	int i;

	e->in_flight = false;
	if (!err) {
		for (i = 0; i < n; i++) {
			e->addrs[i] = ttls[i].ipaddr;
			if ((uint32_t)(ttls[i].ttl < 0 ? 0 : ttls[i].ttl) < ttl)
				ttl = (uint32_t)(ttls[i].ttl < 0 ? 0 : ttls[i].ttl);
		}
		e->naddrs = (size_t)n;
		e->ttl = clamp_ttl(c, ttl);
		e->state = E_VALID;
		e->error = 0;
		e->expires_ns = now + (uint64_t)e->ttl * ZT_NS_PER_S;
	} else if (e->state == E_VALID && !is_authoritative_negative(err)) {
		/* A re-resolution the DNS could not answer: keep serving, try again soon. */
		e->expires_ns = now + (uint64_t)c->negative_ttl * ZT_NS_PER_S;
	} else {
		e->state = E_FAILED;
		e->error = err;
		e->naddrs = 0;
		e->ttl = c->negative_ttl;
		e->expires_ns = now + (uint64_t)c->negative_ttl * ZT_NS_PER_S;
	}
	report(c, e, err);
	rearm(c);
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct entry *e = arg;
	struct zt_name_cache *c = e->c;
	struct ares_addrttl ttls[ZT_NAME_CACHE_MAX_ADDRS];
	int n = ZT_NAME_CACHE_MAX_ADDRS, err = 0;

	(void)timeouts;
	if (status == ARES_EDESTRUCTION || c->closing) {
		e->in_flight = false;
		return;
	}
	if (status != ARES_SUCCESS) {
		err = status_to_errno(status);
	} else {
		status = ares_parse_a_reply(abuf, alen, NULL, ttls, &n);
		if (status != ARES_SUCCESS)
			err = status_to_errno(status);
		else if (n <= 0)
			err = -ENODATA;
	}
	finish(c, e, err, ttls, err ? 0 : n);
}

static void start_query(struct zt_name_cache *c, struct entry *e)
{
	e->in_flight = true;
	if (!zt_ares_loop_has_servers(c->al)) {
		finish(c, e, -ENETUNREACH, NULL, 0);
		return;
	}
	ares_query(zt_ares_loop_channel(c->al), e->name, C_IN, T_A, on_answer, e);
	zt_ares_loop_queued(c->al);
}

/* From lookup(): an answer that comes at once is its return value, not a report. */
static void start_query_quiet(struct zt_name_cache *c, struct entry *e)
{
	bool was = c->deferring;

	c->deferring = true;
	start_query(c, e);
	c->deferring = was;
	e->report_pending = false;
}

/* ---- expiry ---- */

static void on_timer(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_name_cache *c = arg;
	struct entry *e, *next;
	uint64_t now = zt_mono_ns(), n;

	(void)loop;
	(void)events;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	c->deferring = true;
	for (e = c->all; e; e = next) {
		next = e->next;
		if (e->in_flight || e->state == E_RESOLVING || e->expires_ns > now)
			continue;
		/*
		 * In use means looked up within the TTL that just ran out. A
		 * failure is not resolved again on its own: the next lookup
		 * starts over.
		 */
		if (e->state == E_VALID &&
		    e->last_used_ns + (uint64_t)e->ttl * ZT_NS_PER_S >= e->expires_ns)
			start_query(c, e);
		else
			entry_free(c, e);
	}
	c->deferring = false;
	rearm(c);
	flush_reports(c);
}

/* ---- API ---- */

int zt_name_cache_open(struct zt_loop *loop, const struct zt_name_cache_cfg *cfg,
		       const struct zt_name_cache_ops *ops, void *ctx,
		       struct zt_name_cache **out, char *err, size_t errlen)
{
	struct zt_ares_loop_cfg acfg = { 0 };
	struct zt_name_cache *c;
	int ret;

	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->loop = loop;
	c->ops = *ops;
	c->ctx = ctx;
	c->ttl_min = cfg->ttl_min_s ? cfg->ttl_min_s : ZT_NAME_CACHE_DEFAULT_TTL_MIN;
	c->ttl_max = cfg->ttl_max_s ? cfg->ttl_max_s : ZT_NAME_CACHE_DEFAULT_TTL_MAX;
	if (c->ttl_max < c->ttl_min)
		c->ttl_max = c->ttl_min;
	c->negative_ttl = cfg->negative_ttl_s ? cfg->negative_ttl_s : c->ttl_min;
	c->max_names = cfg->max_names ? cfg->max_names : ZT_NAME_CACHE_DEFAULT_MAX_NAMES;
	c->max_per_owner = cfg->max_per_owner ? cfg->max_per_owner
					      : ZT_NAME_CACHE_DEFAULT_PER_OWNER;
	RAND_bytes((uint8_t *)c->hash_key, sizeof(c->hash_key));
	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (c->timer_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "timerfd: %s", strerror(-ret));
		free(c);
		return ret;
	}
	ret = zt_loop_add(loop, c->timer_fd, EPOLLIN, on_timer, c);
	if (ret) {
		snprintf(err, errlen, "event loop: %s", strerror(-ret));
		close(c->timer_fd);
		free(c);
		return ret;
	}
	acfg.servers = cfg->servers;
	acfg.timeout_ms = cfg->timeout_ms;
	acfg.tries = cfg->tries;
	ret = zt_ares_loop_open(loop, &acfg, &c->al, err, errlen);
	if (ret) {
		zt_name_cache_close(c);
		return ret;
	}
	*out = c;
	return 0;
}

void zt_name_cache_close(struct zt_name_cache *c)
{
	if (!c)
		return;
	c->closing = true;
	/* Queries in flight are answered with ARES_EDESTRUCTION: they touch nothing. */
	zt_ares_loop_close(c->al);
	while (c->all)
		entry_free(c, c->all);
	zt_loop_del(c->loop, c->timer_fd);
	close(c->timer_fd);
	free(c);
}

/*
 * Room for one more of OWNER's: past its share, its own least recently
 * used entry no query holds goes; in a full cache, anyone's.
 */
static int make_room(struct zt_name_cache *c, uint32_t owner)
{
	struct entry *e, *victim = NULL, *own = NULL;
	size_t owned = 0;

	for (e = c->all; e; e = e->next) {
		if (owner && e->owner == owner) {
			owned++;
			if (!e->in_flight && (!own || e->last_used_ns < own->last_used_ns))
				own = e;
		}
		if (!e->in_flight && (!victim || e->last_used_ns < victim->last_used_ns))
			victim = e;
	}
	if (owner && owned >= c->max_per_owner)
		victim = own;
	else if (c->count < c->max_names)
		return 0;
	if (!victim)
		return -ENOSPC;
	entry_free(c, victim);
	return 0;
}

static int serve(const struct entry *e, struct in_addr *addrs, size_t max, size_t *n)
{
	size_t k = e->naddrs < max ? e->naddrs : max;

	memcpy(addrs, e->addrs, k * sizeof(*addrs));
	*n = k;
	return 0;
}

int zt_name_cache_lookup(struct zt_name_cache *c, const char *name, struct in_addr *addrs,
			 size_t max, size_t *n)
{
	return zt_name_cache_lookup_as(c, 0, name, addrs, max, n);
}

size_t zt_name_cache_owned(const struct zt_name_cache *c, uint32_t owner)
{
	size_t k = 0;

	for (const struct entry *e = c->all; e; e = e->next)
		k += owner && e->owner == owner;
	return k;
}

int zt_name_cache_lookup_as(struct zt_name_cache *c, uint32_t owner, const char *name,
			    struct in_addr *addrs, size_t max, size_t *n)
{
	size_t len = strlen(name), b;
	uint64_t now = zt_mono_ns();
	struct entry *e;

	*n = 0;
	if (!len || len > NAME_MAX_LEN)
		return -EINVAL;
	e = find(c, name);
	if (!e) {
		if ((owner || c->count >= c->max_names) && make_room(c, owner))
			return -ENOSPC;
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->c = c;
		memcpy(e->name, name, len + 1);
		e->state = E_RESOLVING;
		b = bucket_of(c, name);
		e->hnext = c->buckets[b];
		c->buckets[b] = e;
		e->next = c->all;
		if (c->all)
			c->all->prev = e;
		c->all = e;
		c->count++;
	}
	e->last_used_ns = now;
	if (owner)
		e->owner = owner;
	switch (e->state) {
	case E_VALID:
		/* Past its TTL before the timer ran: serve it, and refresh. */
		if (!e->in_flight && e->expires_ns <= now)
			start_query_quiet(c, e);
		return serve(e, addrs, max, n);
	case E_FAILED:
		if (e->in_flight || e->expires_ns > now)
			return e->in_flight ? -EINPROGRESS : e->error;
		e->state = E_RESOLVING;
		break;
	case E_RESOLVING:
		if (e->in_flight)
			return -EINPROGRESS;
		break;
	}
	start_query_quiet(c, e);
	if (e->in_flight)
		return -EINPROGRESS;
	if (e->state == E_VALID)
		return serve(e, addrs, max, n);
	return e->error;
}

size_t zt_name_cache_count(const struct zt_name_cache *c)
{
	return c->count;
}
