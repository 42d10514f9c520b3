// SPDX-License-Identifier: GPL-2.0-only
/*
 * Which resource answers for a DNS name (an exact name, else the wildcard
 * with the longest domain, through the name index) or for an address (the
 * longest prefix, by a scan). The DNS server and the client's and
 * connector's slow paths call it; the index is a cache on the policy that
 * every change drops (policy_name_index_drop).
 */
#include <stdlib.h>
#include <string.h>

#include "lib/dns_name.h"
#include "policy/internal.h"

bool zt_name_pattern_match(const char *pattern, const char *name)
{
	if (pattern[0] == '*' && pattern[1] == '.')
		return zt_dns_name_is_below(name, pattern + 2);
	return !strcmp(pattern, name);
}

/*
 * The name index: one open-addressing table (at most half full, linear
 * probing) keyed by exact patterns and by wildcards' domains, each hashed
 * from its last character backwards, so that one right-to-left pass over a
 * queried name yields the hash of every suffix that could be a wildcard's
 * domain, and of the whole name. The table holds policy patterns only;
 * queried names never enter it.
 */
struct name_slot {
	uint32_t hash;
	uint32_t idx;		/* index into res, plus 1; 0: empty */
	bool wild;
};

struct zt_name_index {
	const struct zt_resource_def *res;	/* what it was built for */
	unsigned int count;
	bool linear;		/* a pattern the index does not model: scan instead */
	size_t mask;
	struct name_slot slot[];
};

#define NAME_HASH_INIT	0xcbf29ce484222325ULL
#define NAME_HASH_STEP(h, c)	(((h) ^ (uint8_t)(c)) * 0x100000001b3ULL)

static uint32_t name_hash_final(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (uint32_t)h;
}

/* The backwards hash of S[0..LEN). */
static uint32_t name_hash(const char *s, size_t len)
{
	uint64_t h = NAME_HASH_INIT;

	while (len)
		h = NAME_HASH_STEP(h, s[--len]);
	return name_hash_final(h);
}

void policy_name_index_drop(struct zt_policy *p)
{
	free(p->name_index);
	p->name_index = NULL;
}

static struct zt_name_index *name_index_build(const struct zt_policy *p)
{
	struct zt_name_index *ix;
	size_t cap = 16, n = 0, i, j;
	bool linear = false;

	for (i = 0; i < p->count; i++) {
		const char *pat = p->res[i].name_pattern;

		if (!zt_resource_is_name(&p->res[i]))
			continue;
		n++;
		/* Wildcards other than "*.domain" (never made by zt_resource_parse). */
		if (pat[0] == '*' && (pat[1] != '.' || pat[2] == '\0'))
			linear = true;
	}
	while (cap < 2 * n)
		cap *= 2;
	ix = calloc(1, sizeof(*ix) + cap * sizeof(ix->slot[0]));
	if (!ix)
		return NULL;
	ix->res = p->res;
	ix->count = p->count;
	ix->linear = linear;
	ix->mask = cap - 1;
	for (i = 0; i < p->count && !linear; i++) {
		const char *pat = p->res[i].name_pattern;
		bool wild = pat[0] == '*';
		const char *key = wild ? pat + 2 : pat;
		uint32_t h;

		if (!zt_resource_is_name(&p->res[i]))
			continue;
		h = name_hash(key, strlen(key));
		for (j = h & ix->mask; ix->slot[j].idx; j = (j + 1) & ix->mask) {
			const char *o = p->res[ix->slot[j].idx - 1].name_pattern;

			/* The same key again: the first one answers, as in a scan. */
			if (ix->slot[j].hash == h && ix->slot[j].wild == wild &&
			    !strcmp(wild ? o + 2 : o, key))
				break;
		}
		if (!ix->slot[j].idx)
			ix->slot[j] = (struct name_slot){ .hash = h, .idx = (uint32_t)i + 1,
							  .wild = wild };
	}
	return ix;
}

static const struct zt_resource_def *name_index_find(const struct zt_policy *p,
						     const struct zt_name_index *ix, uint32_t h,
						     bool wild, const char *key)
{
	size_t j;

	for (j = h & ix->mask; ix->slot[j].idx; j = (j + 1) & ix->mask) {
		const struct zt_resource_def *r = &p->res[ix->slot[j].idx - 1];

		if (ix->slot[j].hash == h && ix->slot[j].wild == wild &&
		    !strcmp(wild ? r->name_pattern + 2 : r->name_pattern, key))
			return r;
	}
	return NULL;
}

/* The plain scan, for policies the index does not model. */
static const struct zt_resource_def *match_name_scan(const struct zt_policy *p, const char *name)
{
	const struct zt_resource_def *best = NULL;
	size_t best_len = 0;
	unsigned int i;

	for (i = 0; i < p->count; i++) {
		const struct zt_resource_def *r = &p->res[i];
		size_t len;

		if (!zt_resource_is_name(r) || !zt_name_pattern_match(r->name_pattern, name))
			continue;
		if (r->name_pattern[0] != '*')
			return r;	/* an exact name beats every wildcard */
		len = strlen(r->name_pattern);
		if (len > best_len) {
			best = r;
			best_len = len;
		}
	}
	return best;
}

const struct zt_resource_def *zt_policy_match_name(const struct zt_policy *p, const char *name)
{
	const struct zt_resource_def *exact, *wild = NULL;
	struct zt_name_index *ix = p->name_index;
	uint64_t h = NAME_HASH_INIT;
	size_t i;

	if (!p->count)
		return NULL;
	if (!ix || ix->res != p->res || ix->count != p->count) {
		/* A cache: building it changes nothing a caller can see. */
		struct zt_policy *mp = (struct zt_policy *)p;

		policy_name_index_drop(mp);
		ix = mp->name_index = name_index_build(p);
		if (!ix)
			return match_name_scan(p, name);
	}
	if (ix->linear)
		return match_name_scan(p, name);

	/*
	 * Right to left: at each dot that separates labels (not an escaped
	 * "\.") with a label before it, the suffix after it may be a
	 * wildcard's domain; the leftmost such hit is the longest domain.
	 */
	i = strlen(name);
	while (i) {
		h = NAME_HASH_STEP(h, name[--i]);
		if (i >= 2 && name[i - 1] == '.') {
			size_t j, slashes = 0;
			const struct zt_resource_def *r;

			for (j = i - 1; j > 0 && name[j - 1] == '\\'; j--)
				slashes++;
			if (slashes % 2)
				continue;
			r = name_index_find(p, ix, name_hash_final(h), true, name + i);
			if (r)
				wild = r;
		}
	}
	exact = name_index_find(p, ix, name_hash_final(h), false, name);
	return exact ? exact : wild;
}

const struct zt_resource_def *zt_policy_match_addr(const struct zt_policy *p,
						   const uint8_t addr[16])
{
	const struct zt_resource_def *best = NULL;

	for (unsigned int i = 0; i < p->count; i++) {
		const struct zt_resource_def *r = &p->res[i];

		if (zt_resource_is_name(r) || !zt_prefix_contains(&r->prefix, addr))
			continue;
		if (!best || r->prefix.len > best->prefix.len)
			best = r;
	}
	return best;
}
