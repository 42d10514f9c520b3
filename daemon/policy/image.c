// SPDX-License-Identifier: GPL-2.0-only
/*
 * Policy images (see image.h): build the sorted entry set of a policy,
 * diff two of them, keep one in step with single run-time bindings.
 * Called by compile.c only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/compile.h"
#include "lib/ports.h"
#include "policy/image.h"

_Static_assert(sizeof(struct zt_bind_key) <= ZT_IMG_KEY_MAX, "zt_bind_key fits an image key");
_Static_assert(sizeof(struct zt_lpm_key) <= ZT_IMG_KEY_MAX, "zt_lpm_key fits an image key");
_Static_assert(sizeof(struct zt_resource) <= ZT_IMG_VAL_MAX, "zt_resource fits an image value");

size_t zt_image_key_size(uint8_t map)
{
	switch (map) {
	case ZT_MAP_RES_EXACT:
	case ZT_MAP_DEVICES:
		return sizeof(struct zt_addr_key);
	case ZT_MAP_RES_PREFIX:
		return sizeof(struct zt_lpm_key);
	case ZT_MAP_RESOURCES:
		return sizeof(__u32);
	case ZT_MAP_PORTS:
		return sizeof(struct zt_port_key);
	case ZT_MAP_GRANTS:
		return sizeof(struct zt_grant_key);
	case ZT_MAP_DEV_BINDS:
		return sizeof(struct zt_bind_key);
	}
	return 0;
}

int zt_image_gen_offset(uint8_t map)
{
	switch (map) {
	case ZT_MAP_RES_EXACT:
	case ZT_MAP_DEVICES:
		return offsetof(struct zt_addr_key, gen);
	case ZT_MAP_RES_PREFIX:
		return offsetof(struct zt_lpm_key, gen);
	case ZT_MAP_PORTS:
		return offsetof(struct zt_port_key, gen);
	case ZT_MAP_GRANTS:
		return offsetof(struct zt_grant_key, gen);
	case ZT_MAP_DEV_BINDS:
		return offsetof(struct zt_bind_key, gen);
	}
	return -1;
}

size_t zt_image_val_size(uint8_t map)
{
	switch (map) {
	case ZT_MAP_RESOURCES:
		return sizeof(struct zt_resource);
	case ZT_MAP_PORTS:
		return sizeof(struct zt_port_val);
	case ZT_MAP_DEVICES:
		return sizeof(struct zt_device_val);
	case ZT_MAP_GRANTS:
		return sizeof(struct zt_grant_val);
	}
	return sizeof(struct zt_res_ref);
}

void zt_image_init(struct zt_image *img)
{
	memset(img, 0, sizeof(*img));
}

void zt_image_free(struct zt_image *img)
{
	free(img->e);
	zt_image_init(img);
}

static struct zt_img_entry *push(struct zt_image *img, uint8_t map)
{
	struct zt_img_entry *e;

	if (img->n == img->cap) {
		size_t cap = img->cap ? img->cap * 2 : 1024;

		e = realloc(img->e, cap * sizeof(*e));
		if (!e)
			return NULL;
		img->e = e;
		img->cap = cap;
	}
	e = &img->e[img->n++];
	memset(e, 0, sizeof(*e));
	e->map = map;
	return e;
}

/* One entry of MAP: KEY and VAL copied in (the rest of its bytes zero). */
static int push_kv(struct zt_image *img, uint8_t map, const void *key, size_t klen,
		   const void *val, size_t vlen)
{
	struct zt_img_entry *e = push(img, map);

	if (!e)
		return -ENOMEM;
	memcpy(e->key, key, klen);
	memcpy(e->val, val, vlen);
	return 0;
}

/*
 * The maps in image order. The ones a run-time binding goes into come last,
 * so that zt_image_put (on the DNS answer path) moves only their entries.
 */
static unsigned int map_rank(uint8_t map)
{
	switch (map) {
	case ZT_MAP_PORTS:
		return 0;
	case ZT_MAP_RESOURCES:
		return 1;
	case ZT_MAP_RES_PREFIX:
		return 2;
	case ZT_MAP_DEVICES:
		return 3;
	case ZT_MAP_GRANTS:
		return 4;
	case ZT_MAP_RES_EXACT:
		return 5;
	}
	return 6;	/* ZT_MAP_DEV_BINDS */
}

/* Map first, then key bytes: the order diff walks both images in. */
static int entry_cmp(const struct zt_img_entry *a, const struct zt_img_entry *b)
{
	unsigned int ra = map_rank(a->map), rb = map_rank(b->map);

	if (ra != rb)
		return ra < rb ? -1 : 1;
	return memcmp(a->key, b->key, sizeof(a->key));
}

/* qsort is not stable: the build order breaks ties, so the last write wins. */
struct ranked {
	struct zt_img_entry e;
	size_t rank;
};

static int ranked_cmp(const void *pa, const void *pb)
{
	const struct ranked *a = pa, *b = pb;
	int c = entry_cmp(&a->e, &b->e);

	if (c)
		return c;
	return a->rank < b->rank ? -1 : a->rank > b->rank;
}

static int sort_dedup(struct zt_image *img)
{
	struct ranked *r;
	size_t i, out = 0;

	if (!img->n)
		return 0;
	r = malloc(img->n * sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (i = 0; i < img->n; i++) {
		r[i].e = img->e[i];
		r[i].rank = i;
	}
	qsort(r, img->n, sizeof(*r), ranked_cmp);
	for (i = 0; i < img->n; i++) {
		if (i + 1 < img->n && !entry_cmp(&r[i].e, &r[i + 1].e))
			continue;	/* a later write of the same key follows */
		img->e[out++] = r[i].e;
	}
	img->n = out;
	free(r);
	return 0;
}

static int add_ports(struct zt_image *img, uint32_t id, uint8_t proto,
		     const struct zt_port_list *list)
{
	struct zt_port_val val = { .allow = 1 };
	unsigned int i;

	for (i = 0; i < list->count; i++) {
		uint32_t port;

		for (port = list->ranges[i].first; port <= list->ranges[i].last; port++) {
			struct zt_port_key key = { .resource_id = id, .port = (__u16)port,
						   .proto = proto };

			if (push_kv(img, ZT_MAP_PORTS, &key, sizeof(key), &val, sizeof(val)))
				return -ENOMEM;
		}
	}
	return 0;
}

/*
 * A short list (at most ZT_RES_LIST_PORTS ports, expanded) goes into the
 * resource entry itself: the packet path then needs no zt_ports lookup.
 * Returns true if LIST was put there (its ports get no zt_ports entries).
 */
static bool list_ports(const struct zt_port_list *list, __u16 *slots, __u8 *n)
{
	unsigned int i;
	uint32_t port;

	if (list->all || zt_ports_expanded(list) > ZT_RES_LIST_PORTS)
		return false;
	*n = 0;
	for (i = 0; i < list->count; i++)
		for (port = list->ranges[i].first; port <= list->ranges[i].last; port++)
			slots[(*n)++] = (__u16)port;
	return true;
}

static int add_resource(struct zt_image *img, const struct zt_resource_def *def)
{
	struct zt_res_ref ref = { .resource_id = def->id };
	struct zt_resource res = { .flags = ZT_RES_PRESENT, .deny_mode = def->deny_mode };
	__u32 idx = def->id;
	int ret;

	if (def->tcp.all)
		res.flags |= ZT_RES_TCP_ALL;
	if (def->udp.all)
		res.flags |= ZT_RES_UDP_ALL;
	if (def->icmp)
		res.flags |= ZT_RES_ICMP;
	if (list_ports(&def->tcp, res.tcp_ports, &res.ntcp))
		res.flags |= ZT_RES_TCP_LIST;
	if (list_ports(&def->udp, res.udp_ports, &res.nudp))
		res.flags |= ZT_RES_UDP_LIST;
	ret = push_kv(img, ZT_MAP_RESOURCES, &idx, sizeof(idx), &res, sizeof(res));
	if (!ret && !(res.flags & ZT_RES_TCP_LIST))
		ret = add_ports(img, def->id, ZT_PROTO_TCP, &def->tcp);
	if (!ret && !(res.flags & ZT_RES_UDP_LIST))
		ret = add_ports(img, def->id, ZT_PROTO_UDP, &def->udp);
	if (ret || zt_resource_is_name(def))
		return ret;	/* a name's addresses are the fake IPs the DNS server hands out */
	if (zt_prefix_is_host(&def->prefix)) {
		struct zt_addr_key key = { .gen = 0 };

		memcpy(key.addr, def->prefix.addr, 16);
		return push_kv(img, ZT_MAP_RES_EXACT, &key, sizeof(key), &ref, sizeof(ref));
	} else {
		struct zt_lpm_key key;

		/* Its tail padding too: images compare keys byte by byte. */
		memset(&key, 0, sizeof(key));
		key.prefixlen = 8 + zt_prefix_len128(&def->prefix);
		memcpy(key.addr, def->prefix.addr, 16);
		return push_kv(img, ZT_MAP_RES_PREFIX, &key, sizeof(key), &ref, sizeof(ref));
	}
}

/* A device's tunnel address to its id; its grants as (device, resource) keys. */
static int add_identities(struct zt_image *img, const struct zt_policy *p)
{
	struct zt_grant_val allow = { .allow = 1 };
	unsigned int i;

	for (i = 0; i < p->ndevices; i++) {
		struct zt_addr_key key = { .gen = 0 };
		struct zt_device_val val = { .device_id = p->devices[i].id };

		memcpy(key.addr, p->devices[i].address.addr, 16);
		if (push_kv(img, ZT_MAP_DEVICES, &key, sizeof(key), &val, sizeof(val)))
			return -ENOMEM;
	}
	for (i = 0; i < p->ngrants; i++) {
		struct zt_grant_key key = { .device_id = p->grants[i].device_id,
					    .resource_id = p->grants[i].resource_id };

		if (push_kv(img, ZT_MAP_GRANTS, &key, sizeof(key), &allow, sizeof(allow)))
			return -ENOMEM;
	}
	return 0;
}

/* A device's binding goes to zt_dev_binds (its packets only), any other to zt_res_exact. */
void zt_image_binding_entry(const struct zt_exact_binding *b, struct zt_img_entry *out)
{
	struct zt_res_ref ref = { .resource_id = b->resource_id };

	memset(out, 0, sizeof(*out));
	if (b->device_id) {
		struct zt_bind_key key = { .device_id = b->device_id };

		memcpy(key.addr, b->addr, 16);
		out->map = ZT_MAP_DEV_BINDS;
		memcpy(out->key, &key, sizeof(key));
	} else {
		struct zt_addr_key key = { .gen = 0 };

		memcpy(key.addr, b->addr, 16);
		out->map = ZT_MAP_RES_EXACT;
		memcpy(out->key, &key, sizeof(key));
	}
	memcpy(out->val, &ref, sizeof(ref));
}

int zt_image_build(struct zt_image *img, const struct zt_policy *p,
		   const struct zt_exact_binding *binds, size_t nbinds)
{
	size_t b, want;
	unsigned int i;
	int ret;

	/* Sized once: growing by doubling would copy a 100,000-resource image ~20 times. */
	want = nbinds + p->ndevices + p->ngrants;
	for (i = 0; i < p->count; i++)
		want += 2 + zt_ports_expanded(&p->res[i].tcp) + zt_ports_expanded(&p->res[i].udp);
	if (want > img->cap) {
		struct zt_img_entry *e = realloc(img->e, want * sizeof(*e));

		if (!e)
			return -ENOMEM;
		img->e = e;
		img->cap = want;
	}
	img->n = 0;
	for (i = 0; i < p->count; i++) {
		ret = add_resource(img, &p->res[i]);
		if (ret)
			return ret;
	}
	ret = add_identities(img, p);
	if (ret)
		return ret;
	for (b = 0; b < nbinds; b++) {
		struct zt_img_entry *e = push(img, 0);

		if (!e)
			return -ENOMEM;
		zt_image_binding_entry(&binds[b], e);
	}
	return sort_dedup(img);
}

/* The first index whose entry is not below E (binary search). */
static size_t lower_bound(const struct zt_image *img, const struct zt_img_entry *e)
{
	size_t lo = 0, hi = img->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (entry_cmp(&img->e[mid], e) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int zt_image_put(struct zt_image *img, const struct zt_img_entry *e)
{
	size_t at = lower_bound(img, e);

	if (at < img->n && !entry_cmp(&img->e[at], e)) {
		memcpy(img->e[at].val, e->val, sizeof(e->val));
		return 0;
	}
	if (!push(img, e->map))
		return -ENOMEM;
	memmove(&img->e[at + 1], &img->e[at], (img->n - 1 - at) * sizeof(*e));
	img->e[at] = *e;
	return 0;
}

void zt_image_drop(struct zt_image *img, const struct zt_img_entry *e)
{
	size_t at = lower_bound(img, e);

	if (at == img->n || entry_cmp(&img->e[at], e))
		return;
	memmove(&img->e[at], &img->e[at + 1], (img->n - at - 1) * sizeof(*e));
	img->n--;
}

static int diff_push(struct zt_img_diff *d, int64_t old_i, int64_t new_i)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct zt_img_change *c = realloc(d->c, cap * sizeof(*c));

		if (!c)
			return -ENOMEM;
		d->c = c;
		d->cap = cap;
	}
	d->c[d->n].old_i = old_i;
	d->c[d->n].new_i = new_i;
	d->n++;
	return 0;
}

int zt_image_diff(const struct zt_image *old, const struct zt_image *new,
		  struct zt_img_diff *out)
{
	size_t i = 0, j = 0;
	int ret = 0;

	out->n = 0;
	/* Both sorted the same way: one merge walk. */
	while (!ret && (i < old->n || j < new->n)) {
		int c = i == old->n ? 1 : j == new->n ? -1 : entry_cmp(&old->e[i], &new->e[j]);

		if (c < 0) {
			ret = diff_push(out, (int64_t)i++, -1);
		} else if (c > 0) {
			ret = diff_push(out, -1, (int64_t)j++);
		} else {
			if (memcmp(old->e[i].val, new->e[j].val, sizeof(old->e[i].val)))
				ret = diff_push(out, (int64_t)i, (int64_t)j);
			i++;
			j++;
		}
	}
	return ret;
}

void zt_img_diff_free(struct zt_img_diff *d)
{
	free(d->c);
	memset(d, 0, sizeof(*d));
}
