// SPDX-License-Identifier: GPL-2.0-only
/*
 * The connector's devices: the policy's devices as tunnel peers (kept in
 * step with every policy change, sessions and bindings of unchanged devices
 * carried over), the relays' accept lists, and the names each device bound
 * to its fake IPs (the run-time bindings every compile carries).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward/connector_int.h"
#include "dns/fakeip.h"
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

static bool in_v4(uint32_t s_addr, const char *net, unsigned int len)
{
	struct in_addr n;

	inet_pton(AF_INET, net, &n);
	return ((ntohl(s_addr) ^ ntohl(n.s_addr)) >> (32 - len)) == 0;
}

static bool is_own_address(struct in_addr a)
{
	struct ifaddrs *ifa, *i;
	bool own = false;

	if (getifaddrs(&ifa))
		return true;	/* cannot tell: fail closed */
	for (i = ifa; i && !own; i = i->ifa_next)
		own = i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		      ((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr.s_addr ==
		      a.s_addr;
	freeifaddrs(ifa);
	return own;
}

/*
 * A name's address is bound only if it is something a resource in the
 * private network may be: never the connector itself, its loopback or
 * link-local neighbours (169.254.169.254 and the like), multicast or
 * broadcast, the devices' or fake ranges, an address the operator denied,
 * or an address the policy gives another resource (an exact match would
 * otherwise relabel it for this device). SELF: the binding being (re)set.
 */
const char *binding_refusal(struct zt_connector_fwd *c, const struct zt_policy *p,
			    const struct device *dev, uint32_t res_id, const struct binding *self,
			    struct in_addr real)
{
	static struct zt_prefix fake;
	char why[64];
	const struct zt_resource_def *other;
	uint8_t a[16];

	if (in_v4(real.s_addr, "0.0.0.0", 8) || in_v4(real.s_addr, "127.0.0.0", 8) ||
	    in_v4(real.s_addr, "169.254.0.0", 16) || in_v4(real.s_addr, "224.0.0.0", 4) ||
	    in_v4(real.s_addr, "240.0.0.0", 4))
		return "loopback, link-local, multicast or reserved address";
	zt_addr_from_v4(a, real.s_addr);
	if (!fake.family)
		zt_prefix_parse(ZT_FAKEIP_DEFAULT_RANGE, &fake, why, sizeof(why));
	if ((c->cfg.device_range.family && zt_prefix_contains(&c->cfg.device_range, a)) ||
	    (fake.family && zt_prefix_contains(&fake, a)))
		return "an address of the device or fake range";
	for (size_t i = 0; i < c->cfg.ndeny; i++)
		if (zt_prefix_contains(&c->cfg.deny[i], a))
			return "an address denied by --deny-address";
	other = zt_policy_match_addr(p, a);
	if (other && other->id != res_id)
		return "another resource's address";
	for (size_t i = 0; i < dev->nbinds; i++) {
		const struct binding *o = &dev->binds[i];

		if (o != self && o->state == BIND_OK && o->real.s_addr == real.s_addr &&
		    o->resource_id != res_id)
			return "bound by this device to another resource";
	}
	if (is_own_address(real))
		return "the connector's own address";
	return NULL;
}

void binding_unlive(struct zt_connector_fwd *c, struct device *dev, struct binding *b)
{
	struct zt_exact_binding eb = { .resource_id = b->resource_id, .device_id = dev->id };

	if (b->state != BIND_OK)
		return;
	for (size_t i = 0; i < dev->nbinds; i++)
		if (&dev->binds[i] != b && dev->binds[i].state == BIND_OK &&
		    dev->binds[i].real.s_addr == b->real.s_addr)
			return;
	zt_addr_from_v4(eb.addr, b->real.s_addr);
	if (c->cfg.unbind_live)
		c->cfg.unbind_live(c->cfg.bind_arg, &eb);
}

void binding_drop_queue(struct device *dev, struct binding *b)
{
	for (unsigned int i = 0; i < b->nqueued; i++) {
		free(b->queue[i]);
		dev->queued_bytes -= b->queue_len[i];
		dev->c->queued_bytes -= b->queue_len[i];
	}
	b->nqueued = 0;
}

void device_free_binds(struct device *dev)
{
	for (size_t i = 0; i < dev->nbinds; i++)
		binding_drop_queue(dev, &dev->binds[i]);
	free(dev->binds);
	dev->binds = NULL;
	dev->nbinds = 0;
}

/* The identity fields DEF's flows carry in their lines (nothing for an unmanaged device). */
static json_object *device_ident(const struct zt_device_def *def)
{
	json_object *o;

	if (def->owner_kind == ZT_OWNER_NONE && !def->controller_id)
		return NULL;
	o = json_object_new_object();
	if (def->controller_id)
		json_object_object_add(o, "device_id", json_object_new_int64((int64_t)def->controller_id));
	if (def->owner_kind != ZT_OWNER_NONE)
		json_object_object_add(o, def->owner_kind == ZT_OWNER_USER ? "user" : "service_account",
				       json_object_new_string(def->owner));
	return o;
}

/* The relays forward to us only from our devices. */
static int sync_accept(struct zt_connector_fwd *c, char *err, size_t errlen)
{
	uint8_t (*keys)[ZT_RELAY_KEY_LEN];
	int ret;

	/* Even without relays: those a controller's view adds later take the list. */
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
		nd->ident = device_ident(def);
		nd->c = c;
		for (size_t j = 0; j < c->ndevices; j++) {
			struct device *od = &c->devices[j];

			if (!od->peer || memcmp(od->pubkey, nd->pubkey, 32) ||
			    od->addr.s_addr != nd->addr.s_addr)
				continue;
			/*
			 * Same key, same address: the session and the bindings carry
			 * over; those the policy no longer allows stop (the maps
			 * compiled for it left them out: zt_connector_fwd_bindings).
			 */
			nd->peer = od->peer;
			nd->binds = od->binds;
			nd->nbinds = od->nbinds;
			nd->queued_bytes = od->queued_bytes;
			for (size_t k = 0; k < nd->nbinds; k++) {
				struct binding *b = &nd->binds[k];
				const struct zt_resource_def *res = zt_policy_match_name(p, b->name);

				if (b->state != BIND_OK)
					continue;
				if (nd->id != od->id || !res || res->id != b->resource_id ||
				    binding_refusal(c, p, nd, res->id, b, b->real))
					b->state = BIND_DENIED;
			}
			od->peer = NULL;
			od->binds = NULL;
			od->nbinds = 0;
			od->queued_bytes = 0;
			break;
		}
	}
	for (size_t j = 0; j < c->ndevices; j++) {
		struct device *od = &c->devices[j];

		if (od->peer) {
			/* Gone from the policy: its tunnel is cut, its flows end now. */
			zt_tunnel_peer_remove(c->tunnel, od->peer);
			if (c->flows)
				zt_flows_end_device(c->flows, od->id, zt_flows_now_ms());
		}
		device_free_binds(od);
		json_object_put(od->ident);
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

/* Is DEV (same id, same address) still a device of P? */
static bool device_in(const struct zt_policy *p, const struct device *dev)
{
	for (size_t i = 0; i < p->ndevices; i++)
		if (p->devices[i].id == dev->id &&
		    !memcmp(p->devices[i].address.addr + 12, &dev->addr.s_addr, 4))
			return true;
	return false;
}

/*
 * The resolved names in use, each for its own device only (zt_dev_binds):
 * only those NEXT still allows (the device and the name's resource still
 * there, the address still no other resource's).
 */
int zt_connector_fwd_bindings(const struct zt_connector_fwd *c, const struct zt_policy *next,
			      struct zt_exact_binding **out, size_t *n)
{
	struct zt_exact_binding *v = NULL;
	size_t cnt = 0, cap = 0;

	for (size_t i = 0; i < c->ndevices; i++) {
		const struct device *dev = &c->devices[i];

		if (!device_in(next, dev))
			continue;
		for (size_t j = 0; j < dev->nbinds; j++) {
			const struct binding *b = &dev->binds[j];
			const struct zt_resource_def *res;

			if (b->state != BIND_OK)
				continue;
			res = zt_policy_match_name(next, b->name);
			/*
			 * A revoked grant keeps the binding: the classifier checks
			 * the grant and denies (and counts) its packets against the
			 * resource, so an open connection is cut visibly.
			 */
			if (!res || binding_refusal((struct zt_connector_fwd *)c, next, dev, res->id, b,
						    b->real))
				continue;	/* the name is no resource any more, or not this one */
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
			v[cnt] = (struct zt_exact_binding){ .resource_id = res->id, .device_id = dev->id };
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

int zt_connector_fwd_ping(struct zt_connector_fwd *c, const char *name, const char *id,
			  json_object *o, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->ndevices; i++) {
		if (strcmp(c->devices[i].name, name))
			continue;
		json_object_object_add(o, "peer", json_object_new_string(name));
		return zt_paths_ping_json(c->paths, c->devices[i].peer, id, o, err, errlen);
	}
	snprintf(err, errlen, "no device named '%.64s'", name);
	return -ENOENT;
}

/* Every device and its bindings, at close. */
void devices_free(struct zt_connector_fwd *c)
{
	for (size_t i = 0; i < c->ndevices; i++) {
		device_free_binds(&c->devices[i]);
		json_object_put(c->devices[i].ident);
	}
	free(c->devices);
	c->devices = NULL;
	c->ndevices = 0;
}
