/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A response cache for forwarded names, what dnsmasq and systemd-resolved
 * keep for their clients: the upstream's answer bytes, served again until
 * the smallest TTL in them runs out.
 *
 * Key: the question name (ASCII case ignored), type and class, and the
 * query bits that change what an upstream answers: RD, CD, DO, whether
 * EDNS0 was present and the class of UDP size it advertised (below 1232,
 * 1232-4095, 4096 and up). Queries whose OPT record carries options
 * (cookies, client subnet, padding...) are neither served nor stored:
 * those options are per client, and so are the answers' echoes of them.
 *
 * Stored: NOERROR answers (lifetime: the smallest TTL of any record, at
 * most ZT_DNS_CACHE_MAX_TTL) and negative answers, NXDOMAIN or NOERROR
 * without an answer record (RFC 2308 5: min(SOA TTL, SOA MINIMUM) of the
 * authority section's SOA and the records' TTLs, at most
 * ZT_DNS_CACHE_MAX_NEGATIVE_TTL; none without an SOA). Never stored: other
 * RCODEs (SERVFAIL, REFUSED...), truncated answers, answers with a TTL of
 * 0, answers larger than ZT_DNS_CACHE_MSG_MAX, answers that do not parse or
 * hold another question. The caller stores nothing its own checks rejected
 * (the rebinding guard's stripped answers).
 *
 * Served: the stored bytes with the client's query ID, the question exactly
 * as the client sent it (DNS 0x20 case kept), AA cleared (a cached answer
 * is not the authority's), and every TTL lowered by the whole seconds the
 * answer spent here.
 *
 * Memory is bounded: at most MAX_ENTRIES entries, each at most
 * ZT_DNS_CACHE_MSG_MAX bytes of answer; a full cache evicts its least
 * recently used entry. Times are milliseconds of a monotonic clock, passed
 * in by the caller.
 */
#ifndef ZT_DNS_CACHE_H
#define ZT_DNS_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dns/codec.h"

#define ZT_DNS_CACHE_DEFAULT_ENTRIES	1024
#define ZT_DNS_CACHE_MAX_ENTRIES	1000000
#define ZT_DNS_CACHE_MSG_MAX		4096	/* larger answers are not stored */
#define ZT_DNS_CACHE_MAX_TTL		600	/* seconds, positive answers: bounds a poisoned entry too */
#define ZT_DNS_CACHE_MAX_NEGATIVE_TTL	300	/* seconds, NXDOMAIN and NODATA */

struct zt_dns_cache;

struct zt_dns_cache_stats {
	uint64_t hits, misses, stored, evicted, expired;
	size_t entries;
};

/*
 * An empty cache of at most MAX_ENTRIES (1 to ZT_DNS_CACHE_MAX_ENTRIES)
 * entries. Returns 0 or -EINVAL, -ENOMEM.
 */
int zt_dns_cache_new(struct zt_dns_cache **out, unsigned int max_entries);
void zt_dns_cache_free(struct zt_dns_cache *c);

/* Whether Q may be answered from the cache at all (see above). */
bool zt_dns_cache_query_cacheable(const struct zt_dns_query *q);

/*
 * Store ANS (LEN bytes), the upstream's answer to Q, received at NOW_MS;
 * the bytes are copied. An entry for the same key is replaced. Returns 0
 * when stored, -EAGAIN when the answer must not be cached (see above),
 * -EBADMSG when it does not parse or answers another question, -ENOMEM.
 */
int zt_dns_cache_put(struct zt_dns_cache *c, const struct zt_dns_query *q,
		     const uint8_t *ans, size_t len, uint64_t now_ms);

/*
 * The cached answer to Q at NOW_MS, written to OUT as described above.
 * Returns its length, -ENOENT on a miss (an expired entry is dropped), or
 * -ENOSPC when OUTLEN is too small (ZT_DNS_CACHE_MSG_MAX always suffices).
 */
ssize_t zt_dns_cache_get(struct zt_dns_cache *c, const struct zt_dns_query *q,
			 uint64_t now_ms, uint8_t *out, size_t outlen);

/* Drop every entry (the upstreams changed). Counters are kept. */
void zt_dns_cache_flush(struct zt_dns_cache *c);

void zt_dns_cache_get_stats(const struct zt_dns_cache *c, struct zt_dns_cache_stats *st);

#endif
