/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The connector's view of the private network's names: A records resolved
 * through the private DNS (the --dns servers, or /etc/resolv.conf) with
 * c-ares on the daemon's epoll loop (ares_loop.h), cached for their TTL.
 *
 * - zt_name_cache_lookup() answers from the cache, or starts a resolution
 *   and says -EINPROGRESS; the ops' resolved() reports its outcome later.
 * - TTLs are clamped to [TTL_MIN, TTL_MAX] (default 5 s .. 1 h).
 * - When an entry's TTL runs out it is resolved again if it was looked up
 *   during that TTL (in use), and dropped otherwise. Each re-resolution is
 *   reported through resolved() too, changed or not: the caller compares
 *   and moves its bindings.
 * - Until a re-resolution completes, the old addresses are served. If it
 *   fails transiently (SERVFAIL, REFUSED, timeout), they stay served and the
 *   error is reported; the next try is NEGATIVE_TTL later. If the name is
 *   gone (NXDOMAIN, or no A record), the entry fails.
 * - A failure is remembered for NEGATIVE_TTL (default: TTL_MIN): lookups in
 *   that time return the error without asking the DNS again.
 *
 * Names are taken as given (normalise them first, dns/codec.h) and looked
 * up as they are: no search domains. Memory is bounded by MAX_NAMES.
 * Times are CLOCK_MONOTONIC; the cache's timerfd and c-ares' sockets are on
 * the loop. Nothing blocks.
 */
#ifndef ZT_NAME_CACHE_H
#define ZT_NAME_CACHE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/loop.h"

#define ZT_NAME_CACHE_MAX_ADDRS		16	/* addresses kept per name */
#define ZT_NAME_CACHE_DEFAULT_TTL_MIN	5	/* seconds */
#define ZT_NAME_CACHE_DEFAULT_TTL_MAX	3600
#define ZT_NAME_CACHE_DEFAULT_MAX_NAMES	4096
#define ZT_NAME_CACHE_DEFAULT_PER_OWNER	256

struct zt_name_cache_cfg {
	const char *servers;		/* "ip:port,..." (c-ares csv); NULL: /etc/resolv.conf */
	uint32_t ttl_min_s;		/* 0: ZT_NAME_CACHE_DEFAULT_TTL_MIN */
	uint32_t ttl_max_s;		/* 0: ZT_NAME_CACHE_DEFAULT_TTL_MAX */
	uint32_t negative_ttl_s;	/* 0: ttl_min_s */
	int timeout_ms;			/* per try; 0: 2000 */
	int tries;			/* 0: 2 */
	unsigned int max_names;		/* 0: ZT_NAME_CACHE_DEFAULT_MAX_NAMES */
	unsigned int max_per_owner;	/* 0: ZT_NAME_CACHE_DEFAULT_PER_OWNER */
};

struct zt_name_cache_ops {
	/*
	 * A resolution of NAME finished. STATUS 0: N (>= 1) addresses, TTL the
	 * clamped TTL in seconds. STATUS -errno: it failed (the reason for a
	 * log line: zt_name_cache_strerror()); ADDRS then holds what is still
	 * served (N > 0 only after a transient failure of a re-resolution).
	 * Never called from inside zt_name_cache_lookup() (an immediate result
	 * is its return value) nor from zt_name_cache_close(). The callee may
	 * call zt_name_cache_lookup(), not zt_name_cache_close().
	 */
	void (*resolved)(void *ctx, const char *name, int status, const struct in_addr *addrs,
			 size_t n, uint32_t ttl);
};

struct zt_name_cache;

/* Returns 0 or -errno with ERR set (a bad server list, say). */
int zt_name_cache_open(struct zt_loop *loop, const struct zt_name_cache_cfg *cfg,
		       const struct zt_name_cache_ops *ops, void *ctx,
		       struct zt_name_cache **out, char *err, size_t errlen);
/* Cancel what is in flight (no callbacks), free everything. NULL is fine. */
void zt_name_cache_close(struct zt_name_cache *c);

/*
 * NAME's addresses, and NAME marked in use. Returns:
 *   0             up to MAX addresses copied to ADDRS, their count in *N;
 *   -EINPROGRESS  a resolution is under way; resolved() will tell;
 *   -errno        the last resolution failed less than NEGATIVE_TTL ago:
 *                 -ENOENT NXDOMAIN, -ENODATA no A record, -ETIMEDOUT no
 *                 answer, -ECONNREFUSED every server failed (SERVFAIL,
 *                 REFUSED) or was unreachable, -ENETUNREACH no servers
 *                 (servers ""), or another from a broken answer;
 *   -EINVAL       NAME is empty or longer than a DNS name;
 *   -ENOSPC       MAX_NAMES names are being resolved at once.
 * A new name in a full cache evicts the least recently looked-up one.
 */
int zt_name_cache_lookup(struct zt_name_cache *c, const char *name, struct in_addr *addrs,
			 size_t max, size_t *n);
/*
 * The same, on behalf of OWNER (a device; 0: nobody, as
 * zt_name_cache_lookup()). An entry is charged to the last owner that
 * looked it up, and one owner holds at most MAX_PER_OWNER entries: a new
 * name past that evicts the owner's own least recently used entry (never
 * another owner's), or, when all of them are being resolved, is refused
 * with -ENOSPC. One device cannot take the slots every device shares.
 */
int zt_name_cache_lookup_as(struct zt_name_cache *c, uint32_t owner, const char *name,
			    struct in_addr *addrs, size_t max, size_t *n);
/* Entries charged to OWNER. */
size_t zt_name_cache_owned(const struct zt_name_cache *c, uint32_t owner);

/* A failure's name for the DNS_ERROR log: "NXDOMAIN", "NODATA", "SERVFAIL", "timeout", ... */
const char *zt_name_cache_strerror(int status);

/* Names cached (resolving, valid or failed). */
size_t zt_name_cache_count(const struct zt_name_cache *c);

#endif
