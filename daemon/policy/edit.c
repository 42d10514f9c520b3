// SPDX-License-Identifier: GPL-2.0-only
/*
 * Changing a policy one entry at a time: add or remove a resource, device,
 * connector or grant, checked against the rest of the policy (unique
 * names, addresses and keys, connectors that exist, ids, the data plane's
 * limits); removing an entry removes the grants that name it. The control
 * socket's add/remove commands and the tests call it; a whole document is
 * checked at once by doc_check.c instead.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy/internal.h"

/* ---- resources ---- */

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
	ret = policy_entry_id(&def->id, p->res, p->count, sizeof(*p->res),
			      offsetof(struct zt_resource_def, id), ZT_MAX_RESOURCES, "resource",
			      def->name, err, errlen);
	if (ret)
		return ret;
	return policy_append_resource(p, def, err, errlen);
}

/* Drop the grants of DEVICE_ID and of RESOURCE_ID (0: any), keeping the order of the rest. */
static void grants_remove_matching(struct zt_policy *p, uint32_t device_id, uint32_t resource_id)
{
	unsigned int i, n = 0;

	for (i = 0; i < p->ngrants; i++)
		if (!policy_grant_matches(&p->grants[i], device_id, resource_id))
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
	policy_name_index_drop(p);
	policy_array_erase(p->res, &p->count, sizeof(*def), (size_t)(def - p->res));
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
	ret = policy_entry_id(&def->id, p->devices, p->ndevices, sizeof(*p->devices),
			      offsetof(struct zt_device_def, id), ZT_MAX_DEVICE_ID, "device",
			      def->name, err, errlen);
	if (ret)
		return ret;
	return policy_append_device(p, def, err, errlen);
}

int zt_policy_device_remove(struct zt_policy *p, const char *name, char *err, size_t errlen)
{
	struct zt_device_def *def = zt_policy_device_find(p, name);

	if (!def) {
		snprintf(err, errlen, "no device named '%s'", name);
		return -ENOENT;
	}
	grants_remove_matching(p, def->id, 0);
	policy_array_erase(p->devices, &p->ndevices, sizeof(*def), (size_t)(def - p->devices));
	return 0;
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
	return policy_append_connector(p, def, err, errlen);
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
	policy_array_erase(p->connectors, &p->nconnectors, sizeof(*def),
			   (size_t)(def - p->connectors));
	return 0;
}

/* ---- grants ---- */

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
	return policy_array_push((void **)&p->grants, &p->grants_cap, &p->ngrants, &g, sizeof(g),
				 err, errlen);
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
			policy_array_erase(p->grants, &p->ngrants, sizeof(*p->grants), i);
			return 0;
		}
	}
	snprintf(err, errlen, "device '%s' has no grant for '%s'", device, resource);
	return -ENOENT;
}
