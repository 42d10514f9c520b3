// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy as JSON: one object per resource, device, connector and
 * grant (the control socket's list and show replies), and the whole
 * document (policy/policy.h describes it) that `ztgate export` prints,
 * store.c saves as STATE_DIR/policy.json and diff.c compares. Entries keep
 * their order, so reading it back (doc_read.c) and writing it again gives
 * the same bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "policy/internal.h"

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
	if (def->owner_kind != ZT_OWNER_NONE) {
		json_object *w = json_object_new_object();

		json_object_object_add(w, def->owner_kind == ZT_OWNER_USER ? "user" : "service_account",
				       json_object_new_string(def->owner));
		json_object_object_add(o, "owner", w);
	}
	if (def->controller_id)
		json_object_object_add(o, "controller_id", json_object_new_int64((int64_t)def->controller_id));
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
			if (policy_grant_matches(&p->grants[i], device_id, resource_id))
				json_object_array_add(arr, zt_grant_to_json(p, &p->grants[i]));
		return arr;
	}
	for (i = 0; i < p->ngrants; i++) {
		const struct zt_grant_def *g = &p->grants[i];

		if (!policy_grant_matches(g, device_id, resource_id))
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
