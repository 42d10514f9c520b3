// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/types.h>

#include "dns/codec.h"
#include "policy/policy.h"
#include "ztgate/maps.h"

#define ZT_MAX_GRANTS_PER_GEN	(ZT_MAX_GRANTS / ZT_NGEN)
/* Device ids index nothing but grants; each generation holds every device. */
_Static_assert(ZT_MAX_DEVICE_ID <= ZT_MAX_DEVICES / ZT_NGEN, "a generation holds every device");

void zt_policy_init(struct zt_policy *p)
{
	memset(p, 0, sizeof(*p));
}

static void name_index_drop(struct zt_policy *p);

void zt_policy_free(struct zt_policy *p)
{
	name_index_drop(p);
	free(p->res);
	free(p->devices);
	free(p->connectors);
	free(p->grants);
	zt_policy_init(p);
}

/*
 * Append the ELEM-byte entry E to *ARR (*COUNT used of *CAP), growing it.
 * 0, or -ENOMEM with ERR.
 */
static int array_push(void **arr, unsigned int *cap, unsigned int *count, const void *e,
		      size_t elem, char *err, size_t errlen)
{
	if (*count >= *cap) {
		unsigned int ncap = *cap ? *cap * 2 : 16;
		void *n = realloc(*arr, ncap * elem);

		if (!n) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		*arr = n;
		*cap = ncap;
	}
	memcpy((char *)*arr + (size_t)*count * elem, e, elem);
	(*count)++;
	return 0;
}

/* Take entry IDX out of the *COUNT entries of ELEM bytes at ARR, keeping the order of the rest. */
static void array_erase(void *arr, unsigned int *count, size_t elem, size_t idx)
{
	memmove((char *)arr + idx * elem, (char *)arr + (idx + 1) * elem,
		(*count - idx - 1) * elem);
	(*count)--;
}

static int array_dup(void **dst, unsigned int *dst_cap, const void *src, unsigned int count,
		     size_t elem)
{
	*dst = NULL;
	*dst_cap = 0;
	if (!count)
		return 0;
	*dst = malloc(count * elem);
	if (!*dst)
		return -ENOMEM;
	memcpy(*dst, src, count * elem);
	*dst_cap = count;
	return 0;
}

int zt_policy_copy(struct zt_policy *dst, const struct zt_policy *src)
{
	zt_policy_init(dst);
	if (array_dup((void **)&dst->res, &dst->cap, src->res, src->count, sizeof(*src->res)) ||
	    array_dup((void **)&dst->devices, &dst->devices_cap, src->devices, src->ndevices,
		      sizeof(*src->devices)) ||
	    array_dup((void **)&dst->connectors, &dst->connectors_cap, src->connectors,
		      src->nconnectors, sizeof(*src->connectors)) ||
	    array_dup((void **)&dst->grants, &dst->grants_cap, src->grants, src->ngrants,
		      sizeof(*src->grants))) {
		zt_policy_free(dst);
		return -ENOMEM;
	}
	dst->count = src->count;
	dst->ndevices = src->ndevices;
	dst->nconnectors = src->nconnectors;
	dst->ngrants = src->ngrants;
	return 0;
}

/*
 * The first of N entries of STRIDE bytes at BASE whose name (at NAME_OFF)
 * is NAME, or whose LEN bytes at OFF are KEY; NULL if none. Every lookup
 * below is one of these two scans.
 */
static void *find_name(const void *base, unsigned int n, size_t stride, size_t name_off,
		       const char *name)
{
	const char *e = base;
	unsigned int i;

	for (i = 0; i < n; i++, e += stride)
		if (!strcmp(e + name_off, name))
			return (void *)e;
	return NULL;
}

static void *find_bytes(const void *base, unsigned int n, size_t stride, size_t off,
			const void *key, size_t len)
{
	const char *e = base;
	unsigned int i;

	for (i = 0; i < n; i++, e += stride)
		if (!memcmp(e + off, key, len))
			return (void *)e;
	return NULL;
}

struct zt_resource_def *zt_policy_find(const struct zt_policy *p, const char *name)
{
	return find_name(p->res, p->count, sizeof(*p->res),
			 offsetof(struct zt_resource_def, name), name);
}

struct zt_resource_def *zt_policy_find_id(const struct zt_policy *p, uint32_t id)
{
	return find_bytes(p->res, p->count, sizeof(*p->res), offsetof(struct zt_resource_def, id),
			  &id, sizeof(id));
}

/* G is a grant of DEVICE_ID and of RESOURCE_ID (0: any). */
static bool grant_matches(const struct zt_grant_def *g, uint32_t device_id, uint32_t resource_id)
{
	return (!device_id || g->device_id == device_id) &&
	       (!resource_id || g->resource_id == resource_id);
}

const char *zt_deny_mode_name(uint8_t mode)
{
	return mode == ZT_DENY_REJECT ? "reject" : "drop";
}

/* WHAT ("resource", "device", "connector") is only for the message. */
static int check_name(const char *what, const char *name, char *err, size_t errlen)
{
	size_t len = strlen(name), i;

	if (len == 0 || len >= ZT_NAME_MAX) {
		snprintf(err, errlen, "invalid %s name '%.*s': must be 1-%d characters", what,
			 ZT_NAME_MAX * 2, name, ZT_NAME_MAX - 1);
		return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
			snprintf(err, errlen,
				 "invalid %s name '%s': use letters, digits, '-', '_', '.'", what,
				 name);
			return -EINVAL;
		}
	}
	return 0;
}

/* NAME, checked, into DST (a name field of ZT_NAME_MAX). */
static int set_name(const char *what, char *dst, const char *name, char *err, size_t errlen)
{
	int ret = check_name(what, name, err, errlen);

	if (!ret)
		snprintf(dst, ZT_NAME_MAX, "%s", name);
	return ret;
}

/* A device's or connector's name and base64 public key into NAME_OUT and KEY. */
static int parse_identity(const char *what, const char *name, const char *pubkey,
			  char *name_out, uint8_t key[ZT_KEY_LEN], char *err, size_t errlen)
{
	int ret = set_name(what, name_out, name, err, errlen);

	if (!ret)
		ret = zt_key_from_base64(pubkey, key, err, errlen);
	return ret;
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
	ret = set_name("resource", def->name, name, err, errlen);
	if (ret)
		return ret;

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
	return array_push((void **)&p->res, &p->cap, &p->count, def, sizeof(*def), err, errlen);
}

static int device_append(struct zt_policy *p, const struct zt_device_def *def, char *err,
			 size_t errlen)
{
	return array_push((void **)&p->devices, &p->devices_cap, &p->ndevices, def, sizeof(*def),
			  err, errlen);
}

static int connector_append(struct zt_policy *p, const struct zt_connector_def *def, char *err,
			    size_t errlen)
{
	return array_push((void **)&p->connectors, &p->connectors_cap, &p->nconnectors, def,
			  sizeof(*def), err, errlen);
}

int zt_resource_set_connector(struct zt_resource_def *def, const char *connector, char *err,
			      size_t errlen)
{
	memset(def->connector, 0, sizeof(def->connector));
	if (!connector || !*connector)
		return 0;
	return set_name("connector", def->connector, connector, err, errlen);
}

/*
 * Ids 1..MAX-1 in use, as a bitmap, handing out the lowest free ones: ids
 * index counters and map keys, so they are kept dense.
 */
struct id_set {
	uint8_t *used;
	uint32_t max;
	uint32_t cursor;	/* where the next search starts (0: at 1) */
};

static int id_set_init(struct id_set *s, uint32_t max, char *err, size_t errlen)
{
	s->used = calloc(max / 8, 1);
	s->max = max;
	s->cursor = 0;
	if (!s->used) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static void id_set_free(struct id_set *s)
{
	free(s->used);
	s->used = NULL;
}

static void id_set_mark(struct id_set *s, uint32_t id)
{
	s->used[id / 8] |= (uint8_t)(1u << (id % 8));
}

static bool id_set_has(const struct id_set *s, uint32_t id)
{
	return s->used[id / 8] & (1u << (id % 8));
}

/* The lowest id not in S from the last one handed out on (not marked); 0 if none. */
static uint32_t id_set_next(struct id_set *s)
{
	uint32_t id;

	for (id = s->cursor ? s->cursor : 1; id < s->max; id++) {
		if (!id_set_has(s, id)) {
			s->cursor = id + 1;
			return id;
		}
	}
	s->cursor = s->max;
	return 0;
}

/*
 * The id of a new entry KIND 'NAME' among N entries of STRIDE bytes at BASE
 * (their id, a uint32_t, at ID_OFF): *ID 0 takes the lowest one that none
 * of them holds; any other must be below MAX and not held already.
 */
static int entry_id(uint32_t *id, const void *base, unsigned int n, size_t stride, size_t id_off,
		    uint32_t max, const char *kind, const char *name, char *err, size_t errlen)
{
	const char *e = base;
	struct id_set ids;
	unsigned int i;
	int ret;

	if (*id) {
		if (*id < max && !find_bytes(base, n, stride, id_off, id, sizeof(*id)))
			return 0;
		snprintf(err, errlen, "%s '%s': invalid or duplicate id %u", kind, name, *id);
		return -EINVAL;
	}
	ret = id_set_init(&ids, max, err, errlen);
	if (ret)
		return ret;
	for (i = 0; i < n; i++, e += stride) {
		uint32_t used;

		memcpy(&used, e + id_off, sizeof(used));
		id_set_mark(&ids, used);
	}
	*id = id_set_next(&ids);
	id_set_free(&ids);
	return 0;
}

int zt_policy_add(struct zt_policy *p, struct zt_resource_def *def, char *err, size_t errlen)
{
	unsigned long hosts, nets, ports;
	unsigned int i;
	char addr[64];
	int ret;

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
	if (def->connector[0] && !zt_policy_connector_find(p, def->connector)) {
		snprintf(err, errlen, "no connector named '%s'", def->connector);
		return -ENOENT;
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
	ret = entry_id(&def->id, p->res, p->count, sizeof(*p->res),
		       offsetof(struct zt_resource_def, id), ZT_MAX_RESOURCES, "resource",
		       def->name, err, errlen);
	if (ret)
		return ret;
	return policy_append(p, def, err, errlen);
}

/* Drop the grants of DEVICE_ID and of RESOURCE_ID (0: any), keeping the order of the rest. */
static void grants_remove_matching(struct zt_policy *p, uint32_t device_id, uint32_t resource_id)
{
	unsigned int i, n = 0;

	for (i = 0; i < p->ngrants; i++)
		if (!grant_matches(&p->grants[i], device_id, resource_id))
			p->grants[n++] = p->grants[i];
	p->ngrants = n;
}

int zt_policy_remove(struct zt_policy *p, const char *name, char *err, size_t errlen)
{
	struct zt_resource_def *def = zt_policy_find(p, name);

	if (!def) {
		snprintf(err, errlen, "no resource named '%s'", name);
		return -ENOENT;
	}
	grants_remove_matching(p, 0, def->id);
	name_index_drop(p);
	array_erase(p->res, &p->count, sizeof(*def), (size_t)(def - p->res));
	return 0;
}

/* ---- devices and connectors ---- */

/* Nobody holds KEY yet, device or connector; -EEXIST naming the holder. */
static int key_unused(const struct zt_policy *p, const uint8_t key[ZT_KEY_LEN], char *err,
		      size_t errlen)
{
	const struct zt_device_def *d = zt_policy_device_find_key(p, key);
	const struct zt_connector_def *c = d ? NULL : zt_policy_connector_find_key(p, key);

	if (!d && !c)
		return 0;
	snprintf(err, errlen, "public key already belongs to %s '%s'", d ? "device" : "connector",
		 d ? d->name : c->name);
	return -EEXIST;
}

/*
 * A new device or connector (KIND) takes a NAME that none of its kind has
 * (TAKEN: one has) and a KEY that nobody has: -EEXIST otherwise.
 */
static int identity_unused(const struct zt_policy *p, const char *kind, bool taken,
			   const char *name, const uint8_t key[ZT_KEY_LEN], char *err,
			   size_t errlen)
{
	if (taken) {
		snprintf(err, errlen, "%s '%s' already exists", kind, name);
		return -EEXIST;
	}
	return key_unused(p, key, err, errlen);
}

int zt_device_parse(struct zt_device_def *def, const char *name, const char *pubkey,
		    const char *address, char *err, size_t errlen)
{
	int ret;

	memset(def, 0, sizeof(*def));
	if (!name || !pubkey || !address) {
		snprintf(err, errlen, "a device needs a name, a public key and an address");
		return -EINVAL;
	}
	ret = parse_identity("device", name, pubkey, def->name, def->pubkey, err, errlen);
	if (ret)
		return ret;
	ret = zt_prefix_parse(address, &def->address, err, errlen);
	if (ret)
		return ret;
	if (def->address.family != AF_INET || !zt_prefix_is_host(&def->address)) {
		snprintf(err, errlen,
			 "invalid device address '%s': a tunnel address is one IPv4 address "
			 "(e.g. 100.64.0.2)", address);
		return -EINVAL;
	}
	return 0;
}

struct zt_device_def *zt_policy_device_find(const struct zt_policy *p, const char *name)
{
	return find_name(p->devices, p->ndevices, sizeof(*p->devices),
			 offsetof(struct zt_device_def, name), name);
}

struct zt_device_def *zt_policy_device_find_id(const struct zt_policy *p, uint32_t id)
{
	return find_bytes(p->devices, p->ndevices, sizeof(*p->devices),
			  offsetof(struct zt_device_def, id), &id, sizeof(id));
}

struct zt_device_def *zt_policy_device_find_key(const struct zt_policy *p,
						const uint8_t key[ZT_KEY_LEN])
{
	return find_bytes(p->devices, p->ndevices, sizeof(*p->devices),
			  offsetof(struct zt_device_def, pubkey), key, ZT_KEY_LEN);
}

struct zt_device_def *zt_policy_device_find_addr(const struct zt_policy *p,
						 const uint8_t addr[16])
{
	return find_bytes(p->devices, p->ndevices, sizeof(*p->devices),
			  offsetof(struct zt_device_def, address.addr), addr, 16);
}

int zt_policy_device_add(struct zt_policy *p, struct zt_device_def *def, char *err,
			 size_t errlen)
{
	const struct zt_device_def *other;
	char addr[64];
	int ret;

	ret = identity_unused(p, "device", zt_policy_device_find(p, def->name), def->name,
			      def->pubkey, err, errlen);
	if (ret)
		return ret;
	other = zt_policy_device_find_addr(p, def->address.addr);
	if (other) {
		zt_prefix_format(&def->address, addr, sizeof(addr));
		snprintf(err, errlen, "address %s is already device '%s'", addr, other->name);
		return -EEXIST;
	}
	if (p->ndevices + 1 >= ZT_MAX_DEVICE_ID) {
		snprintf(err, errlen, "policy full: at most %u devices", ZT_MAX_DEVICE_ID - 1);
		return -ENOSPC;
	}
	ret = entry_id(&def->id, p->devices, p->ndevices, sizeof(*p->devices),
		       offsetof(struct zt_device_def, id), ZT_MAX_DEVICE_ID, "device", def->name,
		       err, errlen);
	if (ret)
		return ret;
	return device_append(p, def, err, errlen);
}

int zt_policy_device_remove(struct zt_policy *p, const char *name, char *err, size_t errlen)
{
	struct zt_device_def *def = zt_policy_device_find(p, name);

	if (!def) {
		snprintf(err, errlen, "no device named '%s'", name);
		return -ENOENT;
	}
	grants_remove_matching(p, def->id, 0);
	array_erase(p->devices, &p->ndevices, sizeof(*def), (size_t)(def - p->devices));
	return 0;
}

int zt_connector_parse(struct zt_connector_def *def, const char *name, const char *pubkey,
		       const char *endpoint, char *err, size_t errlen)
{
	int ret;

	memset(def, 0, sizeof(*def));
	if (!name || !pubkey) {
		snprintf(err, errlen, "a connector needs a name and a public key");
		return -EINVAL;
	}
	ret = parse_identity("connector", name, pubkey, def->name, def->pubkey, err, errlen);
	if (ret)
		return ret;
	/* Without one, the connector is reached through relays until a direct path is found. */
	if (!endpoint)
		return 0;
	return zt_endpoint_parse(endpoint, &def->endpoint, err, errlen);
}

struct zt_connector_def *zt_policy_connector_find(const struct zt_policy *p, const char *name)
{
	return find_name(p->connectors, p->nconnectors, sizeof(*p->connectors),
			 offsetof(struct zt_connector_def, name), name);
}

struct zt_connector_def *zt_policy_connector_find_key(const struct zt_policy *p,
						      const uint8_t key[ZT_KEY_LEN])
{
	return find_bytes(p->connectors, p->nconnectors, sizeof(*p->connectors),
			  offsetof(struct zt_connector_def, pubkey), key, ZT_KEY_LEN);
}

int zt_policy_connector_add(struct zt_policy *p, const struct zt_connector_def *def, char *err,
			    size_t errlen)
{
	int ret;

	ret = identity_unused(p, "connector", zt_policy_connector_find(p, def->name), def->name,
			      def->pubkey, err, errlen);
	if (ret)
		return ret;
	if (p->nconnectors >= ZT_MAX_CONNECTORS) {
		snprintf(err, errlen, "policy full: at most %u connectors", ZT_MAX_CONNECTORS);
		return -ENOSPC;
	}
	return connector_append(p, def, err, errlen);
}

int zt_policy_connector_remove(struct zt_policy *p, const char *name, char *err, size_t errlen)
{
	struct zt_connector_def *def = zt_policy_connector_find(p, name);
	const char *first = NULL;
	unsigned int i, users = 0;

	if (!def) {
		snprintf(err, errlen, "no connector named '%s'", name);
		return -ENOENT;
	}
	for (i = 0; i < p->count; i++) {
		if (strcmp(p->res[i].connector, name))
			continue;
		if (!users++)
			first = p->res[i].name;
	}
	if (users) {
		if (users == 1)
			snprintf(err, errlen,
				 "connector '%s' serves resource '%s': remove that resource first",
				 name, first);
		else
			snprintf(err, errlen,
				 "connector '%s' serves resource '%s' and %u more: remove those "
				 "resources first", name, first, users - 1);
		return -EBUSY;
	}
	array_erase(p->connectors, &p->nconnectors, sizeof(*def), (size_t)(def - p->connectors));
	return 0;
}

/* ---- grants ---- */

bool zt_policy_granted(const struct zt_policy *p, uint32_t device_id, uint32_t resource_id)
{
	unsigned int i;

	for (i = 0; i < p->ngrants; i++)
		if (p->grants[i].device_id == device_id && p->grants[i].resource_id == resource_id)
			return true;
	return false;
}

unsigned int zt_policy_grant_count(const struct zt_policy *p, uint32_t device_id,
				   uint32_t resource_id)
{
	unsigned int i, n = 0;

	for (i = 0; i < p->ngrants; i++)
		if (grant_matches(&p->grants[i], device_id, resource_id))
			n++;
	return n;
}

/* The device and resource a grant names; -ENOENT with ERR if either is missing. */
static int grant_lookup(const struct zt_policy *p, const char *device, const char *resource,
			struct zt_grant_def *g, char *err, size_t errlen)
{
	const struct zt_device_def *d = device ? zt_policy_device_find(p, device) : NULL;
	const struct zt_resource_def *r = resource ? zt_policy_find(p, resource) : NULL;

	if (!device || !resource) {
		snprintf(err, errlen, "a grant needs a device and a resource");
		return -EINVAL;
	}
	if (!d) {
		snprintf(err, errlen, "no device named '%s'", device);
		return -ENOENT;
	}
	if (!r) {
		snprintf(err, errlen, "no resource named '%s'", resource);
		return -ENOENT;
	}
	g->device_id = d->id;
	g->resource_id = r->id;
	return 0;
}

int zt_policy_grant_add(struct zt_policy *p, const char *device, const char *resource,
			char *err, size_t errlen)
{
	struct zt_grant_def g;
	int ret;

	ret = grant_lookup(p, device, resource, &g, err, errlen);
	if (ret)
		return ret;
	if (zt_policy_granted(p, g.device_id, g.resource_id)) {
		snprintf(err, errlen, "device '%s' already has a grant for '%s'", device, resource);
		return -EEXIST;
	}
	if (p->ngrants >= ZT_MAX_GRANTS_PER_GEN) {
		snprintf(err, errlen, "policy full: at most %u grants", ZT_MAX_GRANTS_PER_GEN);
		return -ENOSPC;
	}
	return array_push((void **)&p->grants, &p->grants_cap, &p->ngrants, &g, sizeof(g), err,
			  errlen);
}

int zt_policy_grant_remove(struct zt_policy *p, const char *device, const char *resource,
			   char *err, size_t errlen)
{
	struct zt_grant_def g;
	unsigned int i;
	int ret;

	ret = grant_lookup(p, device, resource, &g, err, errlen);
	if (ret)
		return ret;
	for (i = 0; i < p->ngrants; i++) {
		if (p->grants[i].device_id == g.device_id &&
		    p->grants[i].resource_id == g.resource_id) {
			array_erase(p->grants, &p->ngrants, sizeof(*p->grants), i);
			return 0;
		}
	}
	snprintf(err, errlen, "device '%s' has no grant for '%s'", device, resource);
	return -ENOENT;
}

/* ---- JSON ---- */

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
	if (def->connector[0])
		json_object_object_add(o, "connector", json_object_new_string(def->connector));
	return o;
}

json_object *zt_device_to_json(const struct zt_device_def *def)
{
	json_object *o = json_object_new_object();
	char key[ZT_KEY_B64_LEN + 1], addr[64];

	zt_key_to_base64(def->pubkey, key);
	zt_prefix_format(&def->address, addr, sizeof(addr));
	json_object_object_add(o, "name", json_object_new_string(def->name));
	json_object_object_add(o, "id", json_object_new_int64(def->id));
	json_object_object_add(o, "pubkey", json_object_new_string(key));
	json_object_object_add(o, "address", json_object_new_string(addr));
	return o;
}

json_object *zt_connector_to_json(const struct zt_connector_def *def)
{
	json_object *o = json_object_new_object();
	char key[ZT_KEY_B64_LEN + 1], ep[64];

	zt_key_to_base64(def->pubkey, key);
	json_object_object_add(o, "name", json_object_new_string(def->name));
	json_object_object_add(o, "pubkey", json_object_new_string(key));
	if (zt_connector_has_endpoint(def)) {
		zt_endpoint_format(&def->endpoint, ep, sizeof(ep));
		json_object_object_add(o, "endpoint", json_object_new_string(ep));
	}
	return o;
}

static json_object *grant_json(const char *device, const char *resource)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "device", json_object_new_string(device ? device : "?"));
	json_object_object_add(o, "resource", json_object_new_string(resource ? resource : "?"));
	return o;
}

json_object *zt_grant_to_json(const struct zt_policy *p, const struct zt_grant_def *g)
{
	const struct zt_device_def *d = zt_policy_device_find_id(p, g->device_id);
	const struct zt_resource_def *r = zt_policy_find_id(p, g->resource_id);

	return grant_json(d ? d->name : NULL, r ? r->name : NULL);
}

/* Names by id, so that writing every grant stays linear. */
struct id_names {
	const char **res;	/* ZT_MAX_RESOURCES entries */
	const char **dev;	/* ZT_MAX_DEVICE_ID entries */
};

static void id_names_free(struct id_names *n)
{
	free(n->res);
	free(n->dev);
}

static int id_names_build(const struct zt_policy *p, struct id_names *n)
{
	unsigned int i;

	n->res = calloc(ZT_MAX_RESOURCES, sizeof(*n->res));
	n->dev = calloc(ZT_MAX_DEVICE_ID, sizeof(*n->dev));
	if (!n->res || !n->dev) {
		id_names_free(n);
		return -ENOMEM;
	}
	for (i = 0; i < p->count; i++)
		if (p->res[i].id < ZT_MAX_RESOURCES)
			n->res[p->res[i].id] = p->res[i].name;
	for (i = 0; i < p->ndevices; i++)
		if (p->devices[i].id < ZT_MAX_DEVICE_ID)
			n->dev[p->devices[i].id] = p->devices[i].name;
	return 0;
}

json_object *zt_policy_grants_to_json(const struct zt_policy *p, uint32_t device_id,
				      uint32_t resource_id)
{
	json_object *arr = json_object_new_array();
	struct id_names names;
	unsigned int i;

	if (!p->ngrants)
		return arr;
	if (id_names_build(p, &names)) {
		/* Slow, but still right. */
		for (i = 0; i < p->ngrants; i++)
			if (grant_matches(&p->grants[i], device_id, resource_id))
				json_object_array_add(arr, zt_grant_to_json(p, &p->grants[i]));
		return arr;
	}
	for (i = 0; i < p->ngrants; i++) {
		const struct zt_grant_def *g = &p->grants[i];

		if (!grant_matches(g, device_id, resource_id))
			continue;
		json_object_array_add(arr, grant_json(g->device_id < ZT_MAX_DEVICE_ID ?
						      names.dev[g->device_id] : NULL,
						      g->resource_id < ZT_MAX_RESOURCES ?
						      names.res[g->resource_id] : NULL));
	}
	id_names_free(&names);
	return arr;
}

json_object *zt_policy_to_json(const struct zt_policy *p)
{
	json_object *o = json_object_new_object();
	json_object *arr;
	unsigned int i;

	json_object_object_add(o, "version", json_object_new_int(1));
	arr = json_object_new_array();
	for (i = 0; i < p->count; i++)
		json_object_array_add(arr, zt_resource_to_json(&p->res[i]));
	json_object_object_add(o, "resources", arr);
	arr = json_object_new_array();
	for (i = 0; i < p->ndevices; i++)
		json_object_array_add(arr, zt_device_to_json(&p->devices[i]));
	json_object_object_add(o, "devices", arr);
	arr = json_object_new_array();
	for (i = 0; i < p->nconnectors; i++)
		json_object_array_add(arr, zt_connector_to_json(&p->connectors[i]));
	json_object_object_add(o, "connectors", arr);
	json_object_object_add(o, "grants", zt_policy_grants_to_json(p, 0, 0));
	return o;
}

char *zt_policy_to_text(const struct zt_policy *p)
{
	json_object *o = zt_policy_to_json(p);
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE);
	char *out = NULL;

	if (text && asprintf(&out, "%s\n", text) < 0)
		out = NULL;
	json_object_put(o);
	return out;
}

/* ---- reading a document ---- */

static const char *const doc_fields[] = { "version", "resources", "devices", "connectors",
					  "grants", NULL };
static const char *const resource_fields[] = { "name", "id", "address", "tcp", "udp", "icmp",
					       "deny_mode", "connector", NULL };
static const char *const device_fields[] = { "name", "id", "pubkey", "address", NULL };
static const char *const connector_fields[] = { "name", "pubkey", "endpoint", NULL };
static const char *const grant_fields[] = { "device", "resource", NULL };

/* Every key of O is in ALLOWED (a NULL-terminated list). */
static int check_fields(json_object *o, const char *const *allowed, char *err, size_t errlen)
{
	json_object_object_foreach(o, key, val) {
		const char *const *a;

		(void)val;
		for (a = allowed; *a && strcmp(*a, key); a++)
			;
		if (!*a) {
			snprintf(err, errlen, "unknown field '%.64s'", key);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * O[KEY] in *V: 1 when it is of TYPE, 0 when absent, -EINVAL ("'KEY' must
 * be WHAT") for any other type: json-c would turn 80 into "80".
 */
static int field_get(json_object *o, const char *key, json_type type, const char *what,
		     json_object **v, char *err, size_t errlen)
{
	if (!json_object_object_get_ex(o, key, v))
		return 0;
	if (!json_object_is_type(*v, type)) {
		snprintf(err, errlen, "'%s' must be %s", key, what);
		return -EINVAL;
	}
	return 1;
}

/* A string field: absent is NULL. */
static int field_str(json_object *o, const char *key, const char **out, char *err, size_t errlen)
{
	json_object *v;
	int ret = field_get(o, key, json_type_string, "a string", &v, err, errlen);

	*out = ret > 0 ? json_object_get_string(v) : NULL;
	return ret < 0 ? ret : 0;
}

/* A boolean field: absent is false. */
static int field_bool(json_object *o, const char *key, bool *out, char *err, size_t errlen)
{
	json_object *v;
	int ret = field_get(o, key, json_type_boolean, "true or false", &v, err, errlen);

	*out = ret > 0 && json_object_get_boolean(v);
	return ret < 0 ? ret : 0;
}

/* An id: absent is 0 (to be assigned), else 1..MAX-1. */
static int field_id(json_object *o, uint32_t max, uint32_t *out, char *err, size_t errlen)
{
	json_object *v;
	int ret = field_get(o, "id", json_type_int, "an integer", &v, err, errlen);
	int64_t id;

	*out = 0;
	if (ret <= 0)
		return ret;
	id = json_object_get_int64(v);
	if (id <= 0 || id >= max) {
		snprintf(err, errlen, "invalid id %lld: ids are 1-%u", (long long)id, max - 1);
		return -EINVAL;
	}
	*out = (uint32_t)id;
	return 0;
}

/* O has no field but ALLOWED; its string fields KEYS into OUT (NULL when absent). */
static int read_fields(json_object *o, const char *const *allowed, const char *const *keys,
		       const char **out, char *err, size_t errlen)
{
	int ret = check_fields(o, allowed, err, errlen);

	for (; !ret && *keys; keys++, out++)
		ret = field_str(o, *keys, out, err, errlen);
	return ret;
}

static int parse_resource(struct zt_policy *p, json_object *o, void *ctx, char *err,
			  size_t errlen)
{
	static const char *const keys[] = { "name", "address", "tcp", "udp", "deny_mode",
					    "connector", NULL };
	struct zt_resource_def def;
	const char *v[6];
	uint32_t id;
	bool icmp;
	int ret;

	(void)ctx;
	ret = read_fields(o, resource_fields, keys, v, err, errlen);
	if (!ret)
		ret = field_bool(o, "icmp", &icmp, err, errlen);
	if (!ret)
		ret = field_id(o, ZT_MAX_RESOURCES, &id, err, errlen);
	if (!ret)
		ret = zt_resource_parse(&def, v[0], v[1], v[2], v[3], icmp, v[4], err, errlen);
	if (!ret)
		ret = zt_resource_set_connector(&def, v[5], err, errlen);
	if (ret)
		return ret;
	def.id = id;
	return policy_append(p, &def, err, errlen);
}

static int parse_device(struct zt_policy *p, json_object *o, void *ctx, char *err, size_t errlen)
{
	static const char *const keys[] = { "name", "pubkey", "address", NULL };
	struct zt_device_def def;
	const char *v[3];
	uint32_t id;
	int ret;

	(void)ctx;
	ret = read_fields(o, device_fields, keys, v, err, errlen);
	if (!ret)
		ret = field_id(o, ZT_MAX_DEVICE_ID, &id, err, errlen);
	if (!ret)
		ret = zt_device_parse(&def, v[0], v[1], v[2], err, errlen);
	if (ret)
		return ret;
	def.id = id;
	return device_append(p, &def, err, errlen);
}

static int parse_connector(struct zt_policy *p, json_object *o, void *ctx, char *err,
			   size_t errlen)
{
	static const char *const keys[] = { "name", "pubkey", "endpoint", NULL };
	struct zt_connector_def def;
	const char *v[3];
	int ret;

	(void)ctx;
	ret = read_fields(o, connector_fields, keys, v, err, errlen);
	if (!ret)
		ret = zt_connector_parse(&def, v[0], v[1], v[2], err, errlen);
	if (ret)
		return ret;
	return connector_append(p, &def, err, errlen);
}

/* Reads one entry (a JSON object) of a section into P; CTX is the section's own. */
typedef int (*entry_parser)(struct zt_policy *p, json_object *o, void *ctx, char *err,
			    size_t errlen);

/* The array DOC[SECTION] in *ARR, NULL when absent; -EINVAL when it is no array. */
static int section_array(json_object *doc, const char *section, json_object **arr, char *err,
			 size_t errlen)
{
	if (!json_object_object_get_ex(doc, section, arr)) {
		*arr = NULL;
		return 0;
	}
	if (!json_object_is_type(*arr, json_type_array)) {
		snprintf(err, errlen, "'%s' must be an array", section);
		return -EINVAL;
	}
	return 0;
}

/* Parse every entry of ARR, the array of SECTION, with PARSE: errors name the entry. */
static int parse_entries(struct zt_policy *p, json_object *arr, const char *section,
			 entry_parser parse, void *ctx, char *err, size_t errlen)
{
	size_t i, n = json_object_array_length(arr);
	char sub[400];
	int ret;

	for (i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(o, json_type_object)) {
			snprintf(err, errlen, "%s[%zu]: not an object", section, i);
			return -EINVAL;
		}
		ret = parse(p, o, ctx, sub, sizeof(sub));
		if (ret) {
			snprintf(err, errlen, "%s[%zu]: %s", section, i, sub);
			return ret;
		}
	}
	return 0;
}

/* Parse every entry of the array DOC[SECTION] (absent: none) with PARSE. */
static int parse_section(struct zt_policy *p, json_object *doc, const char *section,
			 entry_parser parse, char *err, size_t errlen)
{
	json_object *arr;
	int ret = section_array(doc, section, &arr, err, errlen);

	if (ret || !arr)
		return ret;
	return parse_entries(p, arr, section, parse, NULL, err, errlen);
}

/*
 * A name with its entry's id and index, sorted by name (then index), so a
 * whole document is checked and resolved in O(n log n).
 */
struct named_ref {
	const char *name;
	uint32_t id;
	uint32_t idx;
};

static int cmp_ref(const void *a, const void *b)
{
	const struct named_ref *x = a, *y = b;
	int d = strcmp(x->name, y->name);

	if (d)
		return d;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int cmp_ref_name(const void *key, const void *b)
{
	return strcmp(key, ((const struct named_ref *)b)->name);
}

/*
 * Refs to N entries of STRIDE bytes at BASE, with the name at NAME_OFF and
 * the id (a uint32_t) at ID_OFF (SIZE_MAX: none). NULL on out of memory.
 */
static struct named_ref *refs_build(const void *base, unsigned int n, size_t stride,
				    size_t name_off, size_t id_off)
{
	struct named_ref *refs = calloc(n ? n : 1, sizeof(*refs));
	unsigned int i;

	if (!refs)
		return NULL;
	for (i = 0; i < n; i++) {
		const char *e = (const char *)base + (size_t)i * stride;

		refs[i].name = e + name_off;
		if (id_off != SIZE_MAX)
			memcpy(&refs[i].id, e + id_off, sizeof(uint32_t));
		refs[i].idx = i;
	}
	qsort(refs, n, sizeof(*refs), cmp_ref);
	return refs;
}

static const struct named_ref *refs_find(const struct named_ref *refs, unsigned int n,
					 const char *name)
{
	return n ? bsearch(name, refs, n, sizeof(*refs), cmp_ref_name) : NULL;
}

/* Two entries of a section with one name: "devices[4]: name 'x' appears twice (devices[1])". */
static int refs_check_unique(const struct named_ref *refs, unsigned int n, const char *section,
			     char *err, size_t errlen)
{
	unsigned int i;

	for (i = 1; i < n; i++) {
		if (!strcmp(refs[i - 1].name, refs[i].name)) {
			snprintf(err, errlen, "%s[%u]: name '%s' appears twice (%s[%u])", section,
				 refs[i].idx, refs[i].name, section, refs[i - 1].idx);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Give every entry without an id one: the id its name had in PREV_REFS if
 * no other entry of the document claims it, else the lowest free one.
 * Explicit ids must be unique.
 */
static int assign_ids(void *base, unsigned int n, size_t stride, size_t name_off, size_t id_off,
		      uint32_t max, const struct named_ref *prev_refs, unsigned int nprev,
		      const char *section, char *err, size_t errlen)
{
	struct id_set used;
	unsigned int i;
	uint32_t *id;
	int ret;

	ret = id_set_init(&used, max, err, errlen);
	if (ret)
		return ret;
#define ENTRY(i) ((char *)base + (size_t)(i) * stride)
	for (i = 0; i < n; i++) {
		id = (uint32_t *)(ENTRY(i) + id_off);
		if (!*id)
			continue;
		if (id_set_has(&used, *id)) {
			snprintf(err, errlen, "%s[%u]: duplicate id %u", section, i, *id);
			ret = -EINVAL;
			goto out;
		}
		id_set_mark(&used, *id);
	}
	for (i = 0; i < n && prev_refs; i++) {
		const struct named_ref *r;

		id = (uint32_t *)(ENTRY(i) + id_off);
		if (*id)
			continue;
		r = refs_find(prev_refs, nprev, ENTRY(i) + name_off);
		if (r && r->id && r->id < max && !id_set_has(&used, r->id)) {
			*id = r->id;
			id_set_mark(&used, *id);
		}
	}
	for (i = 0; i < n; i++) {
		id = (uint32_t *)(ENTRY(i) + id_off);
		if (*id)
			continue;
		*id = id_set_next(&used);
		if (!*id) {
			snprintf(err, errlen, "%s[%u]: no free id left", section, i);
			ret = -ENOSPC;
			goto out;
		}
	}
#undef ENTRY
out:
	id_set_free(&used);
	return ret;
}

/* Order by address (names by pattern, prefixes by family, length, bytes), then position. */
static int cmp_address(const void *a, const void *b)
{
	const struct zt_resource_def *x = *(const void *const *)a;
	const struct zt_resource_def *y = *(const void *const *)b;
	int d = (int)zt_resource_is_name(x) - (int)zt_resource_is_name(y);

	if (d)
		return d;
	if (zt_resource_is_name(x))
		d = strcmp(x->name_pattern, y->name_pattern);
	else if (x->prefix.family != y->prefix.family)
		d = (int)x->prefix.family - (int)y->prefix.family;
	else if (x->prefix.len != y->prefix.len)
		d = (int)x->prefix.len - (int)y->prefix.len;
	else
		d = memcmp(x->prefix.addr, y->prefix.addr, 16);
	return d ? d : (x < y ? -1 : x > y);
}

static int cmp_device_address(const void *a, const void *b)
{
	const struct zt_device_def *x = *(const void *const *)a;
	const struct zt_device_def *y = *(const void *const *)b;
	int d = memcmp(x->address.addr, y->address.addr, 16);

	return d ? d : (x < y ? -1 : x > y);
}

/*
 * Pointers to the N entries of STRIDE bytes at BASE, sorted by CMP (which
 * is handed pointers to them). NULL, with ERR, on out of memory.
 */
static const void **sorted_entries(const void *base, unsigned int n, size_t stride,
				   int (*cmp)(const void *, const void *), char *err,
				   size_t errlen)
{
	const void **v = calloc(n ? n : 1, sizeof(*v));
	unsigned int i;

	if (!v) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (i = 0; i < n; i++)
		v[i] = (const char *)base + (size_t)i * stride;
	qsort(v, n, sizeof(*v), cmp);
	return v;
}

/* A public key and where it sits: devices[idx] or connectors[idx]. */
struct key_ref {
	const uint8_t *key;
	const char *section;
	unsigned int idx;
};

static int cmp_key_ref(const void *a, const void *b)
{
	const struct key_ref *x = a, *y = b;
	int d = memcmp(x->key, y->key, ZT_KEY_LEN);

	if (d)
		return d;
	d = strcmp(x->section, y->section);
	if (d)
		return -d;	/* devices before connectors */
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Every public key once, over devices and connectors. */
static int check_keys_unique(const struct zt_policy *p, char *err, size_t errlen)
{
	unsigned int n = p->ndevices + p->nconnectors, i, k = 0;
	struct key_ref *v;
	int ret = 0;

	if (n < 2)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < p->ndevices; i++)
		v[k++] = (struct key_ref){ p->devices[i].pubkey, "devices", i };
	for (i = 0; i < p->nconnectors; i++)
		v[k++] = (struct key_ref){ p->connectors[i].pubkey, "connectors", i };
	qsort(v, n, sizeof(*v), cmp_key_ref);
	for (i = 1; i < n; i++) {
		if (!memcmp(v[i - 1].key, v[i].key, ZT_KEY_LEN)) {
			snprintf(err, errlen, "%s[%u]: public key already used by %s[%u]",
				 v[i].section, v[i].idx, v[i - 1].section, v[i - 1].idx);
			ret = -EINVAL;
			break;
		}
	}
	free(v);
	return ret;
}

/* No two resources with one address: names by pattern, prefixes by prefix. */
static int check_addresses(const struct zt_policy *p, char *err, size_t errlen)
{
	const void **v;
	unsigned int i;
	int ret = 0;

	if (p->count < 2)
		return 0;
	v = sorted_entries(p->res, p->count, sizeof(*p->res), cmp_address, err, errlen);
	if (!v)
		return -ENOMEM;
	for (i = 1; i < p->count; i++) {
		const struct zt_resource_def *a = v[i - 1], *b = v[i];

		if (zt_resource_is_name(b) ? !strcmp(a->name_pattern, b->name_pattern) :
		    !zt_resource_is_name(a) && zt_prefix_equal(&a->prefix, &b->prefix)) {
			snprintf(err, errlen,
				 "resources[%u]: resources '%s' and '%s' have the same address",
				 (unsigned int)(b - p->res), a->name, b->name);
			ret = -EINVAL;
			break;
		}
	}
	free(v);
	return ret;
}

/*
 * The checks the add functions make one entry at a time, made once over a
 * whole document: sorting keeps a 100,000-resource file to O(n log n)
 * instead of O(n^2). Ids are unique already (assign_ids).
 */
static int check_resources(const struct zt_policy *p, const struct named_ref *res_refs,
			   const struct named_ref *conn_refs, char *err, size_t errlen)
{
	unsigned long hosts, nets, ports;
	unsigned int i;
	int ret;

	ret = refs_check_unique(res_refs, p->count, "resources", err, errlen);
	if (ret)
		return ret;
	for (i = 0; i < p->count; i++) {
		if (p->res[i].connector[0] &&
		    !refs_find(conn_refs, p->nconnectors, p->res[i].connector)) {
			snprintf(err, errlen, "resources[%u]: no connector '%s'", i,
				 p->res[i].connector);
			return -EINVAL;
		}
	}
	ret = check_addresses(p, err, errlen);
	if (ret)
		return ret;
	policy_counts(p, &hosts, &nets);
	ports = policy_port_entries(p);
	if (p->count + 1 > ZT_MAX_RESOURCES || hosts > ZT_MAX_EXACT / ZT_NGEN ||
	    nets > ZT_MAX_PREFIXES / ZT_NGEN || ports > ZT_MAX_PORT_RULES / ZT_NGEN) {
		snprintf(err, errlen, "resources: larger than the data plane's limits");
		return -ENOSPC;
	}
	return 0;
}

static int check_devices(const struct zt_policy *p, const struct named_ref *dev_refs,
			 char *err, size_t errlen)
{
	const void **v;
	unsigned int i;
	int ret;

	ret = refs_check_unique(dev_refs, p->ndevices, "devices", err, errlen);
	if (ret || p->ndevices < 2)
		return ret;
	v = sorted_entries(p->devices, p->ndevices, sizeof(*p->devices), cmp_device_address, err,
			   errlen);
	if (!v)
		return -ENOMEM;
	for (i = 1; i < p->ndevices; i++) {
		const struct zt_device_def *a = v[i - 1], *b = v[i];

		if (!memcmp(a->address.addr, b->address.addr, 16)) {
			char addr[64];

			zt_prefix_format(&b->address, addr, sizeof(addr));
			snprintf(err, errlen, "devices[%u]: address %s is already device '%s'",
				 (unsigned int)(b - p->devices), addr, a->name);
			ret = -EINVAL;
			break;
		}
	}
	free(v);
	return ret;
}

struct grant_ref {
	struct zt_grant_def g;
	unsigned int idx;
};

static int cmp_grant_ref(const void *a, const void *b)
{
	const struct grant_ref *x = a, *y = b;

	if (x->g.device_id != y->g.device_id)
		return x->g.device_id < y->g.device_id ? -1 : 1;
	if (x->g.resource_id != y->g.resource_id)
		return x->g.resource_id < y->g.resource_id ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * What reading a grant needs: the names it resolves, and where to note it for the
 * duplicate check.
 */
struct grant_ctx {
	const struct named_ref *dev_refs;
	const struct named_ref *res_refs;
	struct grant_ref *v;
};

/* One grant, its names resolved against the document's own devices and resources. */
static int parse_grant(struct zt_policy *p, json_object *o, void *ctx, char *err, size_t errlen)
{
	struct grant_ctx *c = ctx;
	const struct named_ref *d, *r;
	struct zt_grant_def *g;
	const char *s[2];
	int ret;

	ret = read_fields(o, grant_fields, grant_fields, s, err, errlen);
	if (ret)
		return ret;
	if (!s[0] || !s[1]) {
		snprintf(err, errlen, "a grant needs a device and a resource");
		return -EINVAL;
	}
	d = refs_find(c->dev_refs, p->ndevices, s[0]);
	r = refs_find(c->res_refs, p->count, s[1]);
	if (!d || !r) {
		snprintf(err, errlen, "no %s '%.64s'", d ? "resource" : "device", d ? s[1] : s[0]);
		return -EINVAL;
	}
	g = &p->grants[p->ngrants];
	g->device_id = p->devices[d->idx].id;
	g->resource_id = p->res[r->idx].id;
	c->v[p->ngrants] = (struct grant_ref){ .g = *g, .idx = p->ngrants };
	p->ngrants++;
	return 0;
}

/* The grants array, each grant once. */
static int parse_grants(struct zt_policy *p, json_object *doc, const struct named_ref *dev_refs,
			const struct named_ref *res_refs, char *err, size_t errlen)
{
	struct grant_ctx c = { .dev_refs = dev_refs, .res_refs = res_refs };
	json_object *arr;
	size_t i, n;
	int ret;

	ret = section_array(doc, "grants", &arr, err, errlen);
	if (ret || !arr)
		return ret;
	n = json_object_array_length(arr);
	if (n > ZT_MAX_GRANTS_PER_GEN) {
		snprintf(err, errlen, "grants: %zu, at most %u", n, ZT_MAX_GRANTS_PER_GEN);
		return -ENOSPC;
	}
	if (!n)
		return 0;
	p->grants = calloc(n, sizeof(*p->grants));
	c.v = calloc(n, sizeof(*c.v));
	if (!p->grants || !c.v) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	p->grants_cap = (unsigned int)n;
	ret = parse_entries(p, arr, "grants", parse_grant, &c, err, errlen);
	if (ret)
		goto out;
	qsort(c.v, n, sizeof(*c.v), cmp_grant_ref);
	for (i = 1; i < n; i++) {
		if (c.v[i - 1].g.device_id == c.v[i].g.device_id &&
		    c.v[i - 1].g.resource_id == c.v[i].g.resource_id) {
			snprintf(err, errlen, "grants[%u]: the same grant as grants[%u]",
				 c.v[i].idx, c.v[i - 1].idx);
			ret = -EINVAL;
			goto out;
		}
	}
out:
	free(c.v);
	return ret;
}

int zt_policy_from_doc(struct zt_policy *p, json_object *obj, const struct zt_policy *prev,
		       char *err, size_t errlen)
{
	struct named_ref *res_refs = NULL, *dev_refs = NULL, *conn_refs = NULL;
	struct named_ref *prev_res = NULL, *prev_dev = NULL;
	json_object *v;
	char sub[400];
	int ret;

	zt_policy_init(p);
	if (!json_object_is_type(obj, json_type_object)) {
		snprintf(err, errlen, "policy: expected a JSON object");
		return -EINVAL;
	}
	ret = check_fields(obj, doc_fields, sub, sizeof(sub));
	if (ret) {
		snprintf(err, errlen, "policy: %s", sub);
		return ret;
	}
	if (json_object_object_get_ex(obj, "version", &v) &&
	    (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) != 1)) {
		snprintf(err, errlen, "policy: unsupported version %.32s (this ztgate reads 1)",
			 json_object_to_json_string(v));
		return -EINVAL;
	}
	ret = parse_section(p, obj, "resources", parse_resource, err, errlen);
	if (!ret)
		ret = parse_section(p, obj, "devices", parse_device, err, errlen);
	if (!ret)
		ret = parse_section(p, obj, "connectors", parse_connector, err, errlen);
	if (ret)
		goto fail;
	if (p->ndevices >= ZT_MAX_DEVICE_ID || p->nconnectors > ZT_MAX_CONNECTORS) {
		snprintf(err, errlen, "policy: more than %u devices or %u connectors",
			 ZT_MAX_DEVICE_ID - 1, ZT_MAX_CONNECTORS);
		ret = -ENOSPC;
		goto fail;
	}

	if (prev) {
		prev_res = refs_build(prev->res, prev->count, sizeof(*prev->res),
				      offsetof(struct zt_resource_def, name),
				      offsetof(struct zt_resource_def, id));
		prev_dev = refs_build(prev->devices, prev->ndevices, sizeof(*prev->devices),
				      offsetof(struct zt_device_def, name),
				      offsetof(struct zt_device_def, id));
		if (!prev_res || !prev_dev)
			goto nomem;
	}
	ret = assign_ids(p->res, p->count, sizeof(*p->res), offsetof(struct zt_resource_def, name),
			 offsetof(struct zt_resource_def, id), ZT_MAX_RESOURCES, prev_res,
			 prev ? prev->count : 0, "resources", err, errlen);
	if (!ret)
		ret = assign_ids(p->devices, p->ndevices, sizeof(*p->devices),
				 offsetof(struct zt_device_def, name),
				 offsetof(struct zt_device_def, id), ZT_MAX_DEVICE_ID, prev_dev,
				 prev ? prev->ndevices : 0, "devices", err, errlen);
	if (ret)
		goto fail;

	res_refs = refs_build(p->res, p->count, sizeof(*p->res),
			      offsetof(struct zt_resource_def, name), SIZE_MAX);
	dev_refs = refs_build(p->devices, p->ndevices, sizeof(*p->devices),
			      offsetof(struct zt_device_def, name), SIZE_MAX);
	conn_refs = refs_build(p->connectors, p->nconnectors, sizeof(*p->connectors),
			       offsetof(struct zt_connector_def, name), SIZE_MAX);
	if (!res_refs || !dev_refs || !conn_refs)
		goto nomem;
	ret = refs_check_unique(conn_refs, p->nconnectors, "connectors", err, errlen);
	if (!ret)
		ret = check_resources(p, res_refs, conn_refs, err, errlen);
	if (!ret)
		ret = check_devices(p, dev_refs, err, errlen);
	if (!ret)
		ret = check_keys_unique(p, err, errlen);
	if (!ret)
		ret = parse_grants(p, obj, dev_refs, res_refs, err, errlen);
	if (ret)
		goto fail;
	goto out;

nomem:
	snprintf(err, errlen, "out of memory");
	ret = -ENOMEM;
fail:
	zt_policy_free(p);
out:
	free(prev_res);
	free(prev_dev);
	free(res_refs);
	free(dev_refs);
	free(conn_refs);
	return ret;
}

int zt_policy_from_json(struct zt_policy *p, json_object *obj, char *err, size_t errlen)
{
	return zt_policy_from_doc(p, obj, NULL, err, errlen);
}

/* ---- difference between two policies ---- */

struct diff_item {
	char *key;		/* the entry's identity: its name, or "device\nresource" */
	json_object *o;
	unsigned int idx;
};

static int cmp_diff_item(const void *a, const void *b)
{
	return strcmp(((const struct diff_item *)a)->key, ((const struct diff_item *)b)->key);
}

static int cmp_diff_key(const void *key, const void *b)
{
	return strcmp(key, ((const struct diff_item *)b)->key);
}

static void diff_items_free(struct diff_item *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i].key);
	free(v);
}

static struct diff_item *diff_items(json_object *arr, bool grants, size_t *n)
{
	struct diff_item *v;
	size_t i;

	*n = json_object_array_length(arr);
	v = calloc(*n ? *n : 1, sizeof(*v));
	if (!v)
		return NULL;
	for (i = 0; i < *n; i++) {
		json_object *o = json_object_array_get_idx(arr, i), *d, *r, *name;
		int ret;

		v[i].o = o;
		v[i].idx = (unsigned int)i;
		if (grants) {
			json_object_object_get_ex(o, "device", &d);
			json_object_object_get_ex(o, "resource", &r);
			ret = asprintf(&v[i].key, "%s\n%s", json_object_get_string(d),
				       json_object_get_string(r));
		} else {
			json_object_object_get_ex(o, "name", &name);
			ret = asprintf(&v[i].key, "%s", json_object_get_string(name));
		}
		if (ret < 0) {
			v[i].key = NULL;
			diff_items_free(v, i);
			return NULL;
		}
	}
	qsort(v, *n, sizeof(*v), cmp_diff_item);
	return v;
}

/* A value as a diff line shows it: strings bare, "" as (none), the rest as JSON. */
static const char *diff_value(json_object *v)
{
	if (!v)
		return "(none)";
	if (json_object_is_type(v, json_type_string))
		return *json_object_get_string(v) ? json_object_get_string(v) : "(none)";
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

/* The line for an entry of KIND that is only in one policy, or changed. */
static char *diff_line(char sign, const char *kind, json_object *from, json_object *to)
{
	json_object *o = to ? to : from;
	bool first = true;
	char *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&line, &len);

	if (!f)
		return NULL;
	if (!strcmp(kind, "grant")) {
		fprintf(f, "%c grant %s %s", sign,
			diff_value(json_object_object_get(o, "device")),
			diff_value(json_object_object_get(o, "resource")));
		goto out;
	}
	fprintf(f, "%c %s %s", sign, kind, diff_value(json_object_object_get(o, "name")));
	if (sign == '-')
		goto out;
	if (sign == '+') {
		json_object_object_foreach(to, key, val) {
			if (strcmp(key, "name"))
				fprintf(f, " %s=%s", key, diff_value(val));
		}
		goto out;
	}
	/* Changed: every field that differs, those only FROM has last. */
	json_object_object_foreach(to, k1, v1) {
		json_object *old = json_object_object_get(from, k1);

		if (json_object_equal(old, v1))
			continue;
		fprintf(f, "%s %s %s -> %s", first ? ":" : ",", k1, diff_value(old), diff_value(v1));
		first = false;
	}
	json_object_object_foreach(from, k2, v2) {
		if (json_object_object_get_ex(to, k2, NULL))
			continue;
		fprintf(f, "%s %s %s -> (none)", first ? ":" : ",", k2, diff_value(v2));
		first = false;
	}
out:
	if (fclose(f)) {
		free(line);
		return NULL;
	}
	return line;
}

static int diff_add_line(json_object *out, char *line)
{
	if (!line)
		return -ENOMEM;
	json_object_array_add(out, json_object_new_string(line));
	free(line);
	return 0;
}

/* V indexed by each item's position in its array. NULL on out of memory. */
static struct diff_item **diff_by_idx(struct diff_item *v, size_t n)
{
	struct diff_item **by_idx = calloc(n ? n : 1, sizeof(*by_idx));
	size_t i;

	if (by_idx)
		for (i = 0; i < n; i++)
			by_idx[v[i].idx] = &v[i];
	return by_idx;
}

/* Removed entries in FROM's order, then added and changed ones in TO's. */
static int diff_section(json_object *out, const char *kind, json_object *from, json_object *to)
{
	bool grants = !strcmp(kind, "grant");
	struct diff_item *a, *b, **a_idx = NULL, **b_idx = NULL;
	size_t na = 0, nb = 0, i;
	int ret = -ENOMEM;

	a = diff_items(from, grants, &na);
	b = diff_items(to, grants, &nb);
	if (!a || !b)
		goto out;
	a_idx = diff_by_idx(a, na);
	b_idx = diff_by_idx(b, nb);
	if (!a_idx || !b_idx)
		goto out;
	for (i = 0; i < na; i++) {
		ret = 0;
		if (!bsearch(a_idx[i]->key, b, nb, sizeof(*b), cmp_diff_key))
			ret = diff_add_line(out, diff_line('-', kind, a_idx[i]->o, NULL));
		if (ret)
			goto out;
	}
	for (i = 0; i < nb; i++) {
		const struct diff_item *old = bsearch(b_idx[i]->key, a, na, sizeof(*a), cmp_diff_key);

		ret = 0;
		if (!old)
			ret = diff_add_line(out, diff_line('+', kind, NULL, b_idx[i]->o));
		else if (!json_object_equal(old->o, b_idx[i]->o))
			ret = diff_add_line(out, diff_line('~', kind, old->o, b_idx[i]->o));
		if (ret)
			goto out;
	}
	ret = 0;
out:
	free(a_idx);
	free(b_idx);
	diff_items_free(a, na);
	diff_items_free(b, nb);
	return ret;
}

json_object *zt_policy_diff(const struct zt_policy *from, const struct zt_policy *to)
{
	static const char *const sections[][2] = {
		{ "resources", "resource" },
		{ "devices", "device" },
		{ "connectors", "connector" },
		{ "grants", "grant" },
	};
	json_object *a = zt_policy_to_json(from), *b = zt_policy_to_json(to);
	json_object *out = json_object_new_array();
	size_t i;

	for (i = 0; out && i < sizeof(sections) / sizeof(sections[0]); i++) {
		if (diff_section(out, sections[i][1], json_object_object_get(a, sections[i][0]),
				 json_object_object_get(b, sections[i][0]))) {
			json_object_put(out);
			out = NULL;
		}
	}
	json_object_put(a);
	json_object_put(b);
	return out;
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
