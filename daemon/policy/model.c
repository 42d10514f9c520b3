// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy's data: its life (init, free, copy), its entry arrays (append
 * and erase keep the order), the lookups by name, id, key and address, the
 * grant queries, the ids (the lowest free one, kept dense), and what the
 * data plane's capacity counts. Every other file of the module builds on
 * it; the daemon's roles, the control socket and the tests call the
 * lookups directly (policy/policy.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/internal.h"

/* Device ids index nothing but grants; each generation holds every device. */
_Static_assert(ZT_MAX_DEVICE_ID <= ZT_MAX_DEVICES / ZT_NGEN, "a generation holds every device");

void zt_policy_init(struct zt_policy *p)
{
	memset(p, 0, sizeof(*p));
}

void zt_policy_free(struct zt_policy *p)
{
	policy_name_index_drop(p);
	free(p->res);
	free(p->devices);
	free(p->connectors);
	free(p->grants);
	zt_policy_init(p);
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

/* ---- entry arrays ---- */

int policy_array_push(void **arr, unsigned int *cap, unsigned int *count, const void *e,
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

void policy_array_erase(void *arr, unsigned int *count, size_t elem, size_t idx)
{
	memmove((char *)arr + idx * elem, (char *)arr + (idx + 1) * elem,
		(*count - idx - 1) * elem);
	(*count)--;
}

int policy_append_resource(struct zt_policy *p, const struct zt_resource_def *def, char *err,
			   size_t errlen)
{
	policy_name_index_drop(p);
	return policy_array_push((void **)&p->res, &p->cap, &p->count, def, sizeof(*def), err,
				 errlen);
}

int policy_append_device(struct zt_policy *p, const struct zt_device_def *def, char *err,
			 size_t errlen)
{
	return policy_array_push((void **)&p->devices, &p->devices_cap, &p->ndevices, def,
				 sizeof(*def), err, errlen);
}

int policy_append_connector(struct zt_policy *p, const struct zt_connector_def *def, char *err,
			    size_t errlen)
{
	return policy_array_push((void **)&p->connectors, &p->connectors_cap, &p->nconnectors, def,
				 sizeof(*def), err, errlen);
}

/* ---- lookups ---- */

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
		if (policy_grant_matches(&p->grants[i], device_id, resource_id))
			n++;
	return n;
}

const char *zt_deny_mode_name(uint8_t mode)
{
	return mode == ZT_DENY_REJECT ? "reject" : "drop";
}

/* ---- ids ---- */

int policy_ids_init(struct policy_ids *s, uint32_t max, char *err, size_t errlen)
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

void policy_ids_free(struct policy_ids *s)
{
	free(s->used);
	s->used = NULL;
}

uint32_t policy_ids_next(struct policy_ids *s)
{
	uint32_t id;

	for (id = s->cursor ? s->cursor : 1; id < s->max; id++) {
		if (!policy_ids_has(s, id)) {
			s->cursor = id + 1;
			return id;
		}
	}
	s->cursor = s->max;
	return 0;
}

int policy_entry_id(uint32_t *id, const void *base, unsigned int n, size_t stride,
		    size_t id_off, uint32_t max, const char *kind, const char *name, char *err,
		    size_t errlen)
{
	const char *e = base;
	struct policy_ids ids;
	unsigned int i;
	int ret;

	if (*id) {
		if (*id < max && !find_bytes(base, n, stride, id_off, id, sizeof(*id)))
			return 0;
		snprintf(err, errlen, "%s '%s': invalid or duplicate id %u", kind, name, *id);
		return -EINVAL;
	}
	ret = policy_ids_init(&ids, max, err, errlen);
	if (ret)
		return ret;
	for (i = 0; i < n; i++, e += stride) {
		uint32_t used;

		memcpy(&used, e + id_off, sizeof(used));
		policy_ids_mark(&ids, used);
	}
	*id = policy_ids_next(&ids);
	policy_ids_free(&ids);
	return 0;
}

/* ---- what the data plane holds ---- */

unsigned long policy_port_entries(const struct zt_policy *p)
{
	unsigned long n = 0;
	unsigned int i;

	for (i = 0; i < p->count; i++)
		n += zt_ports_expanded(&p->res[i].tcp) + zt_ports_expanded(&p->res[i].udp);
	return n;
}

void policy_counts(const struct zt_policy *p, unsigned long *hosts, unsigned long *nets)
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
