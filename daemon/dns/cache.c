// SPDX-License-Identifier: GPL-2.0-only
/* The DNS server's cache of forwarded answers (cache.h), served again until their TTL. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "lib/bytes.h"
#include "dns/cache.h"
#include "lib/lru.h"

/* Every record is at least 11 bytes (root owner, type, class, TTL, length). */
#define MAX_TTL_FIELDS		(ZT_DNS_CACHE_MSG_MAX / 11 + 1)

/* Key bits: the query flags that change an upstream's answer. */
#define KEY_RD			0x01
#define KEY_CD			0x02
#define KEY_DO			0x04
#define KEY_EDNS		0x08
#define KEY_SIZE_SHIFT		4	/* two bits: the UDP size class */

/* One cached answer, in one allocation: the struct, TTL offsets, answer bytes. */
struct entry {
	struct entry *chain;		/* next in its hash bucket */
	struct zt_lru_node lru;
	uint64_t hash;
	uint64_t stored_ms;
	uint64_t expires_ms;
	uint16_t qtype;
	uint16_t qclass;
	uint16_t key_bits;
	uint16_t name_len;
	uint16_t len;			/* answer bytes */
	uint16_t nttl;
	uint16_t *ttl_off;		/* where each record's TTL sits in msg */
	uint8_t *msg;
	uint8_t name[ZT_DNS_NAME_WIRE_MAX];	/* wire form, lowercase */
};

struct zt_dns_cache {
	struct entry **bucket;
	size_t mask;			/* buckets - 1; a power of two, >= max entries */
	size_t count;
	size_t max;
	/*
	 * Names come from clients, which any web page can steer: a per-cache
	 * random seed keeps anyone from precomputing names that share a
	 * bucket.
	 */
	uint64_t seed;
	struct zt_lru lru;		/* every entry, newest used first */
	struct zt_dns_cache_stats st;
};

static uint64_t mix64(uint64_t x)
{
	/* MurmurHash3's finaliser: every input bit reaches every output bit. */
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* A query's key: its name lowercased into NAME, the rest hashed along. */
struct key {
	uint8_t name[ZT_DNS_NAME_WIRE_MAX];
	uint16_t name_len;
	uint16_t qtype;
	uint16_t qclass;
	uint16_t bits;
	uint64_t hash;
};

static void make_key(const struct zt_dns_cache *c, const struct zt_dns_query *q, struct key *k)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ c->seed;	/* FNV-1a, seeded */
	unsigned int size_class;
	size_t i;

	/* Length bytes (at most 63) are never letters: lowercase them all. */
	for (i = 0; i < q->qname_len; i++) {
		uint8_t b = q->qname[i];

		if (b >= 'A' && b <= 'Z')
			b = (uint8_t)(b - 'A' + 'a');
		k->name[i] = b;
		h ^= b;
		h *= 0x100000001b3ULL;
	}
	k->name_len = (uint16_t)q->qname_len;
	k->qtype = q->qtype;
	k->qclass = q->qclass;
	size_class = !q->edns ? 0 : q->edns_udp_size < ZT_DNS_EDNS_UDP_SIZE ? 0 :
		     q->edns_udp_size < 4096 ? 1 : 2;
	k->bits = (uint16_t)((q->flags & ZT_DNS_F_RD ? KEY_RD : 0) |
			     (q->flags & ZT_DNS_F_CD ? KEY_CD : 0) |
			     (q->edns_do ? KEY_DO : 0) | (q->edns ? KEY_EDNS : 0) |
			     size_class << KEY_SIZE_SHIFT);
	k->hash = mix64(h ^ ((uint64_t)k->qtype << 32 | (uint64_t)k->qclass << 16 | k->bits) ^
			c->seed);
}

static bool key_matches(const struct entry *e, const struct key *k)
{
	return e->hash == k->hash && e->qtype == k->qtype && e->qclass == k->qclass &&
	       e->key_bits == k->bits && e->name_len == k->name_len &&
	       !memcmp(e->name, k->name, k->name_len);
}

static struct entry **find_slot(struct zt_dns_cache *c, const struct key *k)
{
	struct entry **pe;

	for (pe = &c->bucket[k->hash & c->mask]; *pe; pe = &(*pe)->chain)
		if (key_matches(*pe, k))
			return pe;
	return NULL;
}

static struct entry *oldest(const struct zt_dns_cache *c)
{
	return ZT_LRU_ENTRY(c->lru.oldest, struct entry, lru);
}

/* Unlink the entry *PE points at from its bucket and the LRU list, and free it. */
static void remove_at(struct zt_dns_cache *c, struct entry **pe)
{
	struct entry *e = *pe;

	*pe = e->chain;
	zt_lru_unlink(&c->lru, &e->lru);
	free(e);
	c->count--;
}

static void remove_entry(struct zt_dns_cache *c, struct entry *e)
{
	struct entry **pe;

	for (pe = &c->bucket[e->hash & c->mask]; *pe != e; pe = &(*pe)->chain)
		;
	remove_at(c, pe);
}

int zt_dns_cache_new(struct zt_dns_cache **out, unsigned int max_entries)
{
	struct zt_dns_cache *c;
	size_t buckets = 16;

	*out = NULL;
	if (max_entries < 1 || max_entries > ZT_DNS_CACHE_MAX_ENTRIES)
		return -EINVAL;
	while (buckets < max_entries)
		buckets *= 2;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->bucket = calloc(buckets, sizeof(*c->bucket));
	if (!c->bucket) {
		free(c);
		return -ENOMEM;
	}
	c->mask = buckets - 1;
	c->max = max_entries;
	if (getrandom(&c->seed, sizeof(c->seed), GRND_NONBLOCK) != sizeof(c->seed))
		c->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	*out = c;
	return 0;
}

void zt_dns_cache_flush(struct zt_dns_cache *c)
{
	while (c->lru.oldest)
		remove_entry(c, oldest(c));
}

void zt_dns_cache_free(struct zt_dns_cache *c)
{
	if (!c)
		return;
	zt_dns_cache_flush(c);
	free(c->bucket);
	free(c);
}

bool zt_dns_cache_query_cacheable(const struct zt_dns_query *q)
{
	return q->has_question && !q->edns_options && q->qname_len >= 1 &&
	       q->qname_len <= ZT_DNS_NAME_WIRE_MAX;
}

/* How long ANS may be served, in seconds; 0: not at all. */
static uint32_t lifetime(const struct zt_dns_response_info *info)
{
	unsigned int rcode = info->flags & ZT_DNS_F_RCODE;
	uint32_t ttl;

	if (!(info->flags & ZT_DNS_F_QR) || (info->flags & ZT_DNS_F_TC))
		return 0;
	if (rcode == ZT_DNS_RCODE_NOERROR && info->ancount > 0) {
		ttl = info->min_ttl;
		return ttl < ZT_DNS_CACHE_MAX_TTL ? ttl : ZT_DNS_CACHE_MAX_TTL;
	}
	if (rcode != ZT_DNS_RCODE_NOERROR && rcode != ZT_DNS_RCODE_NXDOMAIN)
		return 0;
	/* NXDOMAIN or NODATA: cacheable only with the zone's SOA (RFC 2308 5). */
	if (!info->has_soa)
		return 0;
	ttl = info->soa_negative_ttl < info->min_ttl ? info->soa_negative_ttl : info->min_ttl;
	return ttl < ZT_DNS_CACHE_MAX_NEGATIVE_TTL ? ttl : ZT_DNS_CACHE_MAX_NEGATIVE_TTL;
}

int zt_dns_cache_put(struct zt_dns_cache *c, const struct zt_dns_query *q,
		     const uint8_t *ans, size_t len, uint64_t now_ms)
{
	uint16_t ttl_off[MAX_TTL_FIELDS];
	struct zt_dns_response_info info;
	struct entry *e, **pe;
	struct key k;
	uint32_t ttl;
	int ret;

	if (!zt_dns_cache_query_cacheable(q) || len > ZT_DNS_CACHE_MSG_MAX)
		return -EAGAIN;
	ret = zt_dns_response_scan(ans, len, q, &info, ttl_off, MAX_TTL_FIELDS);
	if (ret)
		return -EBADMSG;
	ttl = lifetime(&info);
	if (!ttl)
		return -EAGAIN;

	make_key(c, q, &k);
	pe = find_slot(c, &k);
	if (pe)
		remove_at(c, pe);
	else if (c->count == c->max) {
		remove_entry(c, oldest(c));
		c->st.evicted++;
	}
	e = malloc(sizeof(*e) + info.nttl * sizeof(uint16_t) + len);
	if (!e)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	e->hash = k.hash;
	e->qtype = k.qtype;
	e->qclass = k.qclass;
	e->key_bits = k.bits;
	e->name_len = k.name_len;
	memcpy(e->name, k.name, k.name_len);
	e->stored_ms = now_ms;
	e->expires_ms = now_ms + (uint64_t)ttl * 1000;
	e->len = (uint16_t)len;
	e->nttl = (uint16_t)info.nttl;
	e->ttl_off = (uint16_t *)(e + 1);
	e->msg = (uint8_t *)(e->ttl_off + info.nttl);
	memcpy(e->ttl_off, ttl_off, info.nttl * sizeof(uint16_t));
	memcpy(e->msg, ans, len);

	pe = &c->bucket[k.hash & c->mask];
	e->chain = *pe;
	*pe = e;
	zt_lru_push_newest(&c->lru, &e->lru);
	c->count++;
	c->st.stored++;
	return 0;
}

ssize_t zt_dns_cache_get(struct zt_dns_cache *c, const struct zt_dns_query *q,
			 uint64_t now_ms, uint8_t *out, size_t outlen)
{
	struct entry *e, **pe;
	uint32_t age;
	struct key k;
	unsigned int i;

	if (!zt_dns_cache_query_cacheable(q))
		return -ENOENT;
	make_key(c, q, &k);
	pe = find_slot(c, &k);
	if (!pe) {
		c->st.misses++;
		return -ENOENT;
	}
	e = *pe;
	if (now_ms >= e->expires_ms || now_ms < e->stored_ms) {
		remove_at(c, pe);
		c->st.expired++;
		c->st.misses++;
		return -ENOENT;
	}
	if (outlen < e->len)
		return -ENOSPC;
	memcpy(out, e->msg, e->len);
	zt_put_be16(out, q->id);
	out[2] &= (uint8_t)~(ZT_DNS_F_AA >> 8);
	/* The question as this client spelled it; same length, by the key. */
	memcpy(out + ZT_DNS_HEADER_LEN, q->qname, q->qname_len);
	age = (uint32_t)((now_ms - e->stored_ms) / 1000);
	for (i = 0; i < e->nttl; i++) {
		uint32_t ttl = zt_get_be32(out + e->ttl_off[i]);

		if (ttl > INT32_MAX)
			ttl = 0;	/* RFC 2181 8, as counted when stored */
		zt_put_be32(out + e->ttl_off[i], ttl > age ? ttl - age : 0);
	}
	zt_lru_unlink(&c->lru, &e->lru);
	zt_lru_push_newest(&c->lru, &e->lru);
	c->st.hits++;
	return (ssize_t)e->len;
}

void zt_dns_cache_get_stats(const struct zt_dns_cache *c, struct zt_dns_cache_stats *st)
{
	*st = c->st;
	st->entries = c->count;
}
