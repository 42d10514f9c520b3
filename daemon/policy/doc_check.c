// SPDX-License-Identifier: GPL-2.0-only
/*
 * A document's entries once doc_read.c has read them one by one: ids for
 * the entries without one (the id the name had in the previous policy, so
 * counters and grants keep their keys across an apply), then the checks
 * the add functions in edit.c make one entry at a time, made once over the
 * whole (names, addresses and keys unique, connectors named exist, the data
 * plane's limits) by sorting: a 100,000-resource file stays O(n log n)
 * instead of O(n^2). Only doc_read.c calls it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/internal.h"

/* ---- names ---- */

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

const struct named_ref *policy_refs_find(const struct named_ref *refs, unsigned int n,
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

/* ---- ids ---- */

/*
 * Give every entry without an id one: the id its name had in PREV_REFS if
 * no other entry of the document claims it, else the lowest free one.
 * Explicit ids must be unique.
 */
static int assign_ids(void *base, unsigned int n, size_t stride, size_t name_off, size_t id_off,
		      uint32_t max, const struct named_ref *prev_refs, unsigned int nprev,
		      const char *section, char *err, size_t errlen)
{
	struct policy_ids used;
	unsigned int i;
	uint32_t *id;
	int ret;

	ret = policy_ids_init(&used, max, err, errlen);
	if (ret)
		return ret;
#define ENTRY(i) ((char *)base + (size_t)(i) * stride)
	for (i = 0; i < n; i++) {
		id = (uint32_t *)(ENTRY(i) + id_off);
		if (!*id)
			continue;
		if (policy_ids_has(&used, *id)) {
			snprintf(err, errlen, "%s[%u]: duplicate id %u", section, i, *id);
			ret = -EINVAL;
			goto out;
		}
		policy_ids_mark(&used, *id);
	}
	for (i = 0; i < n && prev_refs; i++) {
		const struct named_ref *r;

		id = (uint32_t *)(ENTRY(i) + id_off);
		if (*id)
			continue;
		r = policy_refs_find(prev_refs, nprev, ENTRY(i) + name_off);
		if (r && r->id && r->id < max && !policy_ids_has(&used, r->id)) {
			*id = r->id;
			policy_ids_mark(&used, *id);
		}
	}
	for (i = 0; i < n; i++) {
		id = (uint32_t *)(ENTRY(i) + id_off);
		if (*id)
			continue;
		*id = policy_ids_next(&used);
		if (!*id) {
			snprintf(err, errlen, "%s[%u]: no free id left", section, i);
			ret = -ENOSPC;
			goto out;
		}
	}
#undef ENTRY
out:
	policy_ids_free(&used);
	return ret;
}

int policy_doc_assign_ids(struct zt_policy *p, const struct zt_policy *prev, char *err,
			  size_t errlen)
{
	struct named_ref *prev_res = NULL, *prev_dev = NULL;
	int ret;

	if (prev) {
		prev_res = refs_build(prev->res, prev->count, sizeof(*prev->res),
				      offsetof(struct zt_resource_def, name),
				      offsetof(struct zt_resource_def, id));
		prev_dev = refs_build(prev->devices, prev->ndevices, sizeof(*prev->devices),
				      offsetof(struct zt_device_def, name),
				      offsetof(struct zt_device_def, id));
		if (!prev_res || !prev_dev) {
			snprintf(err, errlen, "out of memory");
			ret = -ENOMEM;
			goto out;
		}
	}
	ret = assign_ids(p->res, p->count, sizeof(*p->res), offsetof(struct zt_resource_def, name),
			 offsetof(struct zt_resource_def, id), ZT_MAX_RESOURCES, prev_res,
			 prev ? prev->count : 0, "resources", err, errlen);
	if (!ret)
		ret = assign_ids(p->devices, p->ndevices, sizeof(*p->devices),
				 offsetof(struct zt_device_def, name),
				 offsetof(struct zt_device_def, id), ZT_MAX_DEVICE_ID, prev_dev,
				 prev ? prev->ndevices : 0, "devices", err, errlen);
out:
	free(prev_res);
	free(prev_dev);
	return ret;
}

/* ---- checks ---- */

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
 * Resources: names unique, connectors that exist, addresses unique, within
 * the data plane's limits. Ids are unique already (assign_ids).
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
		    !policy_refs_find(conn_refs, p->nconnectors, p->res[i].connector)) {
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

int policy_doc_check(const struct zt_policy *p, struct doc_refs *refs, char *err,
		     size_t errlen)
{
	int ret;

	refs->res = refs_build(p->res, p->count, sizeof(*p->res),
			       offsetof(struct zt_resource_def, name), SIZE_MAX);
	refs->dev = refs_build(p->devices, p->ndevices, sizeof(*p->devices),
			       offsetof(struct zt_device_def, name), SIZE_MAX);
	refs->conn = refs_build(p->connectors, p->nconnectors, sizeof(*p->connectors),
				offsetof(struct zt_connector_def, name), SIZE_MAX);
	if (!refs->res || !refs->dev || !refs->conn) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = refs_check_unique(refs->conn, p->nconnectors, "connectors", err, errlen);
	if (!ret)
		ret = check_resources(p, refs->res, refs->conn, err, errlen);
	if (!ret)
		ret = check_devices(p, refs->dev, err, errlen);
	if (!ret)
		ret = check_keys_unique(p, err, errlen);
	return ret;
}

void policy_doc_refs_free(struct doc_refs *refs)
{
	free(refs->res);
	free(refs->dev);
	free(refs->conn);
	refs->res = refs->dev = refs->conn = NULL;
}
