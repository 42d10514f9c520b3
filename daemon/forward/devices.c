// SPDX-License-Identifier: GPL-2.0-only
/*
 * The connector's devices: the policy's devices as tunnel peers (kept in
 * step with every policy change, sessions and bindings of unchanged devices
 * carried over), the relays' accept lists, and the names each device bound
 * to its fake IPs (the run-time bindings every compile carries).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward/connector_int.h"
#include "lib/addr.h"
#include "path/paths.h"
#include "path/relays.h"

struct device *device_by_addr(struct zt_connector_fwd *c, struct in_addr a)
{
	for (size_t i = 0; i < c->ndevices; i++)
		if (c->devices[i].addr.s_addr == a.s_addr)
			return &c->devices[i];
	return NULL;
}

struct binding *binding_by_fake(struct device *dev, struct in_addr fake)
{
	for (size_t i = 0; i < dev->nbinds; i++)
		if (dev->binds[i].fake.s_addr == fake.s_addr)
			return &dev->binds[i];
	return NULL;
}

/* The binding whose name resolved to REAL: a reply's source becomes its fake IP again. */
struct binding *binding_by_real(struct device *dev, struct in_addr real)
{
	for (size_t i = 0; i < dev->nbinds; i++)
		if (dev->binds[i].state == BIND_OK && dev->binds[i].real.s_addr == real.s_addr)
			return &dev->binds[i];
	return NULL;
}

void binding_drop_queue(struct binding *b)
{
	for (unsigned int i = 0; i < b->nqueued; i++)
		free(b->queue[i]);
	b->nqueued = 0;
}

void device_free_binds(struct device *dev)
{
	for (size_t i = 0; i < dev->nbinds; i++)
		binding_drop_queue(&dev->binds[i]);
	free(dev->binds);
	dev->binds = NULL;
	dev->nbinds = 0;
}

/* The relays forward to us only from our devices. */
static int sync_accept(struct zt_connector_fwd *c, char *err, size_t errlen)
{
	uint8_t (*keys)[ZT_RELAY_KEY_LEN];
	int ret;

	if (!zt_path_relays_count(c->relays))
		return 0;
	keys = calloc(c->ndevices ? c->ndevices : 1, sizeof(*keys));
	if (!keys) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->ndevices; i++)
		memcpy(keys[i], c->devices[i].pubkey, ZT_RELAY_KEY_LEN);
	ret = zt_path_relays_set_accept(c->relays, (const uint8_t (*)[ZT_RELAY_KEY_LEN])keys,
					c->ndevices);
	free(keys);
	if (ret)
		snprintf(err, errlen, "relay accept list: %s", strerror(-ret));
	return ret;
}

/*
 * Make the tunnel's peers the policy's devices: new keys added, removed
 * ones dropped (their sessions wiped: a removed device is cut at once),
 * and the bindings of devices that stay kept.
 */
int zt_connector_fwd_sync(struct zt_connector_fwd *c, char *err, size_t errlen)
{
	const struct zt_policy *p = c->policy;
	struct device *next;
	size_t n = p->ndevices;

	next = calloc(n ? n : 1, sizeof(*next));
	if (!next) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct zt_device_def *def = &p->devices[i];
		struct device *nd = &next[i];

		nd->id = def->id;
		snprintf(nd->name, sizeof(nd->name), "%s", def->name);
		memcpy(nd->pubkey, def->pubkey, sizeof(nd->pubkey));
		memcpy(&nd->addr.s_addr, def->address.addr + 12, 4);
		nd->c = c;
		for (size_t j = 0; j < c->ndevices; j++) {
			struct device *od = &c->devices[j];

			if (!od->peer || memcmp(od->pubkey, nd->pubkey, 32) ||
			    od->addr.s_addr != nd->addr.s_addr)
				continue;
			/* Same key, same address: the session and the bindings carry over. */
			nd->peer = od->peer;
			nd->binds = od->binds;
			nd->nbinds = od->nbinds;
			od->peer = NULL;
			od->binds = NULL;
			od->nbinds = 0;
			break;
		}
	}
	for (size_t j = 0; j < c->ndevices; j++) {
		struct device *od = &c->devices[j];

		if (od->peer)
			zt_tunnel_peer_remove(c->tunnel, od->peer);
		device_free_binds(od);
	}
	free(c->devices);
	c->devices = next;
	c->ndevices = n;
	/* Peers carry a pointer to their device: repoint them at the new array. */
	for (size_t i = 0; i < n; i++) {
		struct device *nd = &next[i];
		int ret;

		if (nd->peer) {
			zt_tunnel_peer_set_ctx(nd->peer, nd);
			continue;
		}
		ret = zt_tunnel_peer_add(c->tunnel, nd->pubkey, NULL, nd, &nd->peer);
		if (ret) {
			snprintf(err, errlen, "device %s: adding its key: %s", nd->name, strerror(-ret));
			return ret;
		}
		if (c->paths)
			zt_paths_track(c->paths, nd->peer);
	}
	return sync_accept(c, err, errlen);
}

/* The resolved names in use: compiled as exact addresses of their resources. */
int zt_connector_fwd_bindings(const struct zt_connector_fwd *c, const struct zt_policy *next,
			      struct zt_exact_binding **out, size_t *n)
{
	struct zt_exact_binding *v = NULL;
	size_t cnt = 0, cap = 0;

	for (size_t i = 0; i < c->ndevices; i++) {
		const struct device *dev = &c->devices[i];

		for (size_t j = 0; j < dev->nbinds; j++) {
			const struct binding *b = &dev->binds[j];
			const struct zt_resource_def *res;

			if (b->state != BIND_OK)
				continue;
			res = zt_policy_match_name(next, b->name);
			if (!res)
				continue;	/* the name is no resource any more */
			if (cnt == cap) {
				struct zt_exact_binding *nv;

				cap = cap ? cap * 2 : 16;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
			}
			v[cnt].resource_id = res->id;
			zt_addr_from_v4(v[cnt].addr, b->real.s_addr);
			cnt++;
		}
	}
	*out = v;
	*n = cnt;
	return 0;
}

void zt_connector_fwd_status_json(const struct zt_connector_fwd *c, json_object *o)
{
	json_object *peers = json_object_new_array();

	for (size_t i = 0; i < c->ndevices; i++)
		json_object_array_add(peers, zt_paths_status_json(c->paths, c->devices[i].name,
								  c->devices[i].peer));
	json_object_object_add(o, "peers", peers);
	json_object_object_add(o, "relays", zt_path_relays_json(c->relays));
}

/* Every device and its bindings, at close. */
void devices_free(struct zt_connector_fwd *c)
{
	for (size_t i = 0; i < c->ndevices; i++)
		device_free_binds(&c->devices[i]);
	free(c->devices);
	c->devices = NULL;
	c->ndevices = 0;
}
