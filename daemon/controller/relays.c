// SPDX-License-Identifier: GPL-2.0-only
/*
 * Relays as admin objects (`ztgate admin relay add NAME --address
 * HOST:PORT`): a relay's rules (its address checked with the relay
 * client's parser, unique among the relay objects, at most
 * ZT_MODEL_RELAYS_MAX of them) and the "relays" every view carries: the
 * controller's --relay options, then the relay objects by id, each address
 * once. A relay's change concerns every node (affected.c), so its commit
 * pushes every view. Called by kinds.c's rules table (add, set, apply),
 * view.c (the views) and the controller role (--relay).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "controller/internal.h"
#include "controller/model.h"
#include "relay/client.h"

int zt_relay_address_check(const char *hostport, char *err, size_t errlen)
{
	char host[256], port[8];

	if (zt_relay_split_host_port(hostport, host, sizeof(host), port, sizeof(port)))
		goto bad;
	for (const char *p = host; *p; p++)
		if (!isgraph((unsigned char)*p))
			goto bad;
	return 0;
bad:
	snprintf(err, errlen, "invalid relay address '%.80s': expected HOST:PORT or [IPv6]:PORT"
		 " (port 1-65535)", hostport);
	return -EINVAL;
}

/* The relay object other than NAME whose address is ADDR, or NULL. */
static const struct zt_mobj *relay_at(const struct zt_model *m, const char *addr,
				      const char *name)
{
	for (size_t i = 0; i < m->n[ZT_K_RELAY]; i++) {
		const struct zt_mobj *o = m->objs[ZT_K_RELAY][i];

		if (strcmp(o->name, name) && !strcmp(zt_mobj_str(o, "address"), addr))
			return o;
	}
	return NULL;
}

int zt_build_relay(struct zt_model *m, const char *name, const struct zt_mobj *old,
		   json_object *args, json_object **out, char *err, size_t errlen)
{
	const char *addr = zt_arg_str(args, "address");
	const struct zt_mobj *other;
	int ret = zt_check_name("relay", name, err, errlen);

	if (ret)
		return ret;
	if (!addr && !old) {
		snprintf(err, errlen, "relay '%s' needs --address HOST:PORT", name);
		return -EINVAL;
	}
	if (!addr)
		addr = zt_mobj_str(old, "address");
	ret = zt_relay_address_check(addr, err, errlen);
	if (ret)
		return ret;
	other = relay_at(m, addr, name);
	if (other) {
		snprintf(err, errlen, "relay '%s' has the address %s already", other->name, addr);
		return -EEXIST;
	}
	if (!old && m->n[ZT_K_RELAY] >= ZT_MODEL_RELAYS_MAX) {
		snprintf(err, errlen, "at most %d relays", ZT_MODEL_RELAYS_MAX);
		return -ENOSPC;
	}
	*out = zt_body_start(old);
	json_object_object_add(*out, "address", json_object_new_string(addr));
	return 0;
}

/* Is ADDR in ARR already? */
static bool listed(json_object *arr, const char *addr)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), addr))
			return true;
	return false;
}

json_object *zt_view_relays(const struct zt_model *m)
{
	json_object *arr = json_object_new_array();
	uint64_t last = 0;

	for (size_t i = 0; i < m->nrelays; i++)
		if (!listed(arr, m->relays[i]))
			json_object_array_add(arr, json_object_new_string(m->relays[i]));
	/* The objects by id (the array's order moves with removals): the next id each time. */
	for (;;) {
		const struct zt_mobj *next = NULL;

		for (size_t i = 0; i < m->n[ZT_K_RELAY]; i++) {
			const struct zt_mobj *o = m->objs[ZT_K_RELAY][i];

			if (o->id > last && (!next || o->id < next->id))
				next = o;
		}
		if (!next)
			break;
		last = next->id;
		if (!listed(arr, zt_mobj_str(next, "address")))
			json_object_array_add(arr, json_object_new_string(zt_mobj_str(next, "address")));
	}
	return arr;
}
