// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/types.h>

#include "dns_msg.h"
#include "policy.h"
#include "zt_maps.h"

void zt_policy_init(struct zt_policy *p)
{
	memset(p, 0, sizeof(*p));
}

static void name_index_drop(struct zt_policy *p);

void zt_policy_free(struct zt_policy *p)
{
	name_index_drop(p);
	free(p->res);
	zt_policy_init(p);
}

int zt_policy_copy(struct zt_policy *dst, const struct zt_policy *src)
{
	zt_policy_init(dst);
	if (!src->count)
		return 0;
	dst->res = calloc(src->count, sizeof(*dst->res));
	if (!dst->res)
		return -ENOMEM;
	memcpy(dst->res, src->res, src->count * sizeof(*dst->res));
	dst->count = dst->cap = src->count;
	return 0;
}

struct zt_resource_def *zt_policy_find(const struct zt_policy *p, const char *name)
{
	unsigned int i;

	for (i = 0; i < p->count; i++)
		if (!strcmp(p->res[i].name, name))
			return &p->res[i];
	return NULL;
}

struct zt_resource_def *zt_policy_find_id(const struct zt_policy *p, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < p->count; i++)
		if (p->res[i].id == id)
			return &p->res[i];
	return NULL;
}

const char *zt_deny_mode_name(uint8_t mode)
{
	return mode == ZT_DENY_REJECT ? "reject" : "drop";
}

static int check_name(const char *name, char *err, size_t errlen)
{
	size_t len = strlen(name), i;

	if (len == 0 || len >= ZT_NAME_MAX) {
		snprintf(err, errlen, "invalid resource name '%s': must be 1-%d characters",
			 name, ZT_NAME_MAX - 1);
		return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
			snprintf(err, errlen,
				 "invalid resource name '%s': use letters, digits, '-', '_', '.'",
				 name);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * A name rather than an address: no ':' or '/', and a last label that is
 * not all digits (no top-level domain is numeric, RFC 3696 2), so
 * "300.1.1.1" stays a bad address instead of becoming a name.
 */
static bool looks_like_name(const char *s)
{
	const char *last, *c;
	size_t len = strlen(s);

	if (!len || strpbrk(s, ":/"))
		return false;
	if (s[len - 1] == '.')
		len--;
	for (last = s + len; last > s && last[-1] != '.'; last--)
		;
	for (c = last; c < s + len; c++)
		if (*c < '0' || *c > '9')
			return true;
	return false;
}

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

static void name_index_drop(struct zt_policy *p)
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

		name_index_drop(mp);
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

int zt_resource_parse(struct zt_resource_def *def, const char *name, const char *address,
		      const char *tcp, const char *udp, bool icmp, const char *deny_mode,
		      char *err, size_t errlen)
{
	char sub[200];
	int ret;

	memset(def, 0, sizeof(*def));
	if (!name || !address) {
		snprintf(err, errlen, "a resource needs a name and an address");
		return -EINVAL;
	}
	ret = check_name(name, err, errlen);
	if (ret)
		return ret;
	snprintf(def->name, sizeof(def->name), "%s", name);

	if (looks_like_name(address)) {
		ret = zt_dns_name_normalize(address, def->name_pattern, sizeof(def->name_pattern),
					    err, errlen);
	} else {
		ret = zt_prefix_parse(address, &def->prefix, err, errlen);
	}
	if (ret)
		return ret;

	ret = zt_ports_parse(tcp, &def->tcp, sub, sizeof(sub));
	if (ret) {
		snprintf(err, errlen, "--tcp: %s", sub);
		return ret;
	}
	ret = zt_ports_parse(udp, &def->udp, sub, sizeof(sub));
	if (ret) {
		snprintf(err, errlen, "--udp: %s", sub);
		return ret;
	}
	def->icmp = icmp;

	if (!deny_mode || !strcmp(deny_mode, "drop")) {
		def->deny_mode = ZT_DENY_DROP;
	} else if (!strcmp(deny_mode, "reject")) {
		def->deny_mode = ZT_DENY_REJECT;
	} else {
		snprintf(err, errlen, "invalid deny mode '%s': use drop or reject", deny_mode);
		return -EINVAL;
	}
	return 0;
}

static unsigned long policy_port_entries(const struct zt_policy *p)
{
	unsigned long n = 0;
	unsigned int i;

	for (i = 0; i < p->count; i++)
		n += zt_ports_expanded(&p->res[i].tcp) + zt_ports_expanded(&p->res[i].udp);
	return n;
}

static void policy_counts(const struct zt_policy *p, unsigned long *hosts, unsigned long *nets)
{
	unsigned int i;

	*hosts = *nets = 0;
	for (i = 0; i < p->count; i++) {
		if (zt_resource_is_name(&p->res[i]))
			continue;	/* fake-IP entries are bounded by the pool */
		if (zt_prefix_is_host(&p->res[i].prefix))
			(*hosts)++;
		else
			(*nets)++;
	}
}

static int policy_append(struct zt_policy *p, const struct zt_resource_def *def, char *err,
			 size_t errlen)
{
	name_index_drop(p);
	if (p->count == p->cap) {
		unsigned int cap = p->cap ? p->cap * 2 : 16;
		struct zt_resource_def *res = realloc(p->res, cap * sizeof(*res));

		if (!res) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		p->res = res;
		p->cap = cap;
	}
	p->res[p->count++] = *def;
	return 0;
}

int zt_policy_add(struct zt_policy *p, struct zt_resource_def *def, char *err, size_t errlen)
{
	unsigned long hosts, nets, ports;
	unsigned int i;
	char addr[64];

	if (zt_policy_find(p, def->name)) {
		snprintf(err, errlen, "resource '%s' already exists", def->name);
		return -EEXIST;
	}
	for (i = 0; i < p->count; i++) {
		if (zt_resource_is_name(&p->res[i]) || zt_resource_is_name(def)) {
			if (!strcmp(p->res[i].name_pattern, def->name_pattern)) {
				snprintf(err, errlen, "address %s is already resource '%s'",
					 def->name_pattern, p->res[i].name);
				return -EEXIST;
			}
			continue;
		}
		if (zt_prefix_equal(&p->res[i].prefix, &def->prefix)) {
			zt_prefix_format(&def->prefix, addr, sizeof(addr));
			snprintf(err, errlen, "address %s is already resource '%s'", addr,
				 p->res[i].name);
			return -EEXIST;
		}
	}

	policy_counts(p, &hosts, &nets);
	ports = policy_port_entries(p) + zt_ports_expanded(&def->tcp) +
		zt_ports_expanded(&def->udp);
	if (p->count + 2 > ZT_MAX_RESOURCES ||
	    (zt_resource_is_name(def) ? false :
	     zt_prefix_is_host(&def->prefix) ? hosts + 1 > ZT_MAX_EXACT / ZT_NGEN
					     : nets + 1 > ZT_MAX_PREFIXES / ZT_NGEN)) {
		snprintf(err, errlen, "policy full: too many resources");
		return -ENOSPC;
	}
	if (ports > ZT_MAX_PORT_RULES / ZT_NGEN) {
		snprintf(err, errlen,
			 "policy full: port ranges expand to %lu entries, limit %u (use 'all')",
			 ports, ZT_MAX_PORT_RULES / ZT_NGEN);
		return -ENOSPC;
	}

	if (!def->id) {
		/* Lowest free id: ids index the counters, so keep them dense. */
		uint8_t *used = calloc(ZT_MAX_RESOURCES / 8, 1);
		uint32_t id;

		if (!used) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		for (i = 0; i < p->count; i++)
			used[p->res[i].id / 8] |= (uint8_t)(1u << (p->res[i].id % 8));
		for (id = 1; id < ZT_MAX_RESOURCES; id++)
			if (!(used[id / 8] & (1u << (id % 8))))
				break;
		free(used);
		def->id = id;
	} else if (def->id >= ZT_MAX_RESOURCES || zt_policy_find_id(p, def->id)) {
		snprintf(err, errlen, "resource '%s': invalid or duplicate id %u", def->name,
			 def->id);
		return -EINVAL;
	}

	return policy_append(p, def, err, errlen);
}

int zt_policy_remove(struct zt_policy *p, const char *name, char *err, size_t errlen)
{
	struct zt_resource_def *def = zt_policy_find(p, name);
	size_t idx;

	if (!def) {
		snprintf(err, errlen, "no resource named '%s'", name);
		return -ENOENT;
	}
	name_index_drop(p);
	idx = (size_t)(def - p->res);
	memmove(def, def + 1, (p->count - idx - 1) * sizeof(*def));
	p->count--;
	return 0;
}

json_object *zt_resource_to_json(const struct zt_resource_def *def)
{
	json_object *o = json_object_new_object();
	char buf[1024];

	json_object_object_add(o, "name", json_object_new_string(def->name));
	json_object_object_add(o, "id", json_object_new_int64(def->id));
	if (zt_resource_is_name(def))
		snprintf(buf, sizeof(buf), "%s", def->name_pattern);
	else
		zt_prefix_format(&def->prefix, buf, sizeof(buf));
	json_object_object_add(o, "address", json_object_new_string(buf));
	zt_ports_format(&def->tcp, buf, sizeof(buf));
	json_object_object_add(o, "tcp", json_object_new_string(buf));
	zt_ports_format(&def->udp, buf, sizeof(buf));
	json_object_object_add(o, "udp", json_object_new_string(buf));
	json_object_object_add(o, "icmp", json_object_new_boolean(def->icmp));
	json_object_object_add(o, "deny_mode",
			       json_object_new_string(zt_deny_mode_name(def->deny_mode)));
	return o;
}

json_object *zt_policy_to_json(const struct zt_policy *p)
{
	json_object *o = json_object_new_object();
	json_object *arr = json_object_new_array();
	unsigned int i;

	json_object_object_add(o, "version", json_object_new_int(1));
	for (i = 0; i < p->count; i++)
		json_object_array_add(arr, zt_resource_to_json(&p->res[i]));
	json_object_object_add(o, "resources", arr);
	return o;
}

static const char *json_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int cmp_name(const void *a, const void *b)
{
	const struct zt_resource_def *x = *(const struct zt_resource_def *const *)a;
	const struct zt_resource_def *y = *(const struct zt_resource_def *const *)b;

	return strcmp(x->name, y->name);
}

/* Order by address: names by pattern, prefixes by (family, length, bytes). */
static int cmp_address(const void *a, const void *b)
{
	const struct zt_resource_def *x = *(const struct zt_resource_def *const *)a;
	const struct zt_resource_def *y = *(const struct zt_resource_def *const *)b;
	int d = (int)zt_resource_is_name(x) - (int)zt_resource_is_name(y);

	if (d)
		return d;
	if (zt_resource_is_name(x))
		return strcmp(x->name_pattern, y->name_pattern);
	if (x->prefix.family != y->prefix.family)
		return (int)x->prefix.family - (int)y->prefix.family;
	if (x->prefix.len != y->prefix.len)
		return (int)x->prefix.len - (int)y->prefix.len;
	return memcmp(x->prefix.addr, y->prefix.addr, 16);
}

/*
 * The checks zt_policy_add makes one resource at a time, made once over a
 * whole loaded policy: sorting keeps a 100,000-resource file to
 * O(n log n) instead of O(n^2).
 */
static int policy_check_whole(const struct zt_policy *p, char *err, size_t errlen)
{
	const struct zt_resource_def **v = NULL;
	unsigned long hosts, nets, ports;
	uint8_t *used = NULL;
	unsigned int i;
	int ret = -EINVAL;

	if (!p->count)
		return 0;
	v = calloc(p->count, sizeof(*v));
	used = calloc(ZT_MAX_RESOURCES / 8, 1);
	if (!v || !used) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < p->count; i++) {
		uint32_t id = p->res[i].id;

		if (used[id / 8] & (1u << (id % 8))) {
			snprintf(err, errlen, "policy: duplicate id %u", id);
			goto out;
		}
		used[id / 8] |= (uint8_t)(1u << (id % 8));
		v[i] = &p->res[i];
	}
	qsort(v, p->count, sizeof(*v), cmp_name);
	for (i = 1; i < p->count; i++) {
		if (!cmp_name(&v[i - 1], &v[i])) {
			snprintf(err, errlen, "policy: resource '%s' appears twice", v[i]->name);
			goto out;
		}
	}
	qsort(v, p->count, sizeof(*v), cmp_address);
	for (i = 1; i < p->count; i++) {
		if (!cmp_address(&v[i - 1], &v[i])) {
			snprintf(err, errlen, "policy: resources '%s' and '%s' have the same address",
				 v[i - 1]->name, v[i]->name);
			goto out;
		}
	}
	policy_counts(p, &hosts, &nets);
	ports = policy_port_entries(p);
	if (p->count + 1 > ZT_MAX_RESOURCES || hosts > ZT_MAX_EXACT / ZT_NGEN ||
	    nets > ZT_MAX_PREFIXES / ZT_NGEN || ports > ZT_MAX_PORT_RULES / ZT_NGEN) {
		snprintf(err, errlen, "policy: larger than the data plane's limits");
		ret = -ENOSPC;
		goto out;
	}
	ret = 0;
out:
	free(v);
	free(used);
	return ret;
}

int zt_policy_from_json(struct zt_policy *p, json_object *obj, char *err, size_t errlen)
{
	json_object *arr, *v;
	size_t i, n;
	int ret;

	zt_policy_init(p);
	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "resources", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		snprintf(err, errlen, "policy: expected an object with a 'resources' array");
		return -EINVAL;
	}
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(arr, i);
		struct zt_resource_def def;
		char sub[200];
		bool icmp = false;
		int64_t id = 0;

		if (!json_object_is_type(r, json_type_object)) {
			snprintf(err, errlen, "policy: resource %zu is not an object", i);
			ret = -EINVAL;
			goto fail;
		}
		if (json_object_object_get_ex(r, "icmp", &v)) {
			if (!json_object_is_type(v, json_type_boolean)) {
				snprintf(err, errlen, "policy: resource %zu: icmp must be true or false", i);
				ret = -EINVAL;
				goto fail;
			}
			icmp = json_object_get_boolean(v);
		}
		if (json_object_object_get_ex(r, "id", &v)) {
			if (!json_object_is_type(v, json_type_int)) {
				snprintf(err, errlen, "policy: resource %zu: id must be an integer", i);
				ret = -EINVAL;
				goto fail;
			}
			id = json_object_get_int64(v);
		}
		ret = zt_resource_parse(&def, json_str(r, "name"), json_str(r, "address"),
					json_str(r, "tcp"), json_str(r, "udp"), icmp,
					json_str(r, "deny_mode"), sub, sizeof(sub));
		if (!ret && (id <= 0 || id >= ZT_MAX_RESOURCES)) {
			snprintf(sub, sizeof(sub), "invalid id %lld", (long long)id);
			ret = -EINVAL;
		}
		if (!ret) {
			def.id = (uint32_t)id;
			ret = policy_append(p, &def, sub, sizeof(sub));
		}
		if (ret) {
			snprintf(err, errlen, "policy: resource %zu: %s", i, sub);
			goto fail;
		}
	}
	ret = policy_check_whole(p, err, errlen);
	if (ret)
		goto fail;
	return 0;
fail:
	zt_policy_free(p);
	return ret;
}
