// SPDX-License-Identifier: GPL-2.0-only
/*
 * Views (node_server.h) compiled from the model, and which nodes a change
 * touches. A connector's view: its network's resources, the devices whose
 * principals' groups have access to any of them, and those grants. A
 * device's view: only the resources its principal's groups may reach, each
 * with a connector of its network, and those connectors' keys and
 * endpoints. A node never receives an object it does not need.
 * Called by nodes.c (the node server's view operation) and commit.c (the
 * affected set of a committed transaction).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller/internal.h"
#include "controller/model.h"

struct zt_mobj *zt_device_owner(const struct zt_model *m, const struct zt_mobj *d)
{
	int k = zt_kind_from_name(zt_mobj_str(d, "owner_kind"));

	return k == ZT_K_USER || k == ZT_K_SA ? zt_model_find(m, (enum zt_kind)k,
							      zt_mobj_str(d, "owner")) : NULL;
}

bool zt_principal_in(const struct zt_mobj *p, const char *group)
{
	return p && !zt_mobj_bool(p, "disabled") && zt_mobj_has(p, "groups", group);
}

bool zt_principal_reaches(const struct zt_model *m, const struct zt_mobj *p, const char *res)
{
	for (size_t i = 0; i < m->n[ZT_K_ACCESS]; i++) {
		const struct zt_mobj *a = m->objs[ZT_K_ACCESS][i];

		if (!strcmp(zt_mobj_str(a, "resource"), res) &&
		    zt_principal_in(p, zt_mobj_str(a, "group")))
			return true;
	}
	return false;
}

/* The policy document's resource entry of R (CONNECTOR: the client's way to it). */
static json_object *resource_entry(const struct zt_mobj *r, const char *connector)
{
	static const char *const keys[] = { "address", "tcp", "udp", "icmp", "deny_mode" };
	json_object *j = json_object_new_object(), *v;

	json_object_object_add(j, "name", json_object_new_string(r->name));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_object_get_ex(r->body, keys[i], &v))
			json_object_object_add(j, keys[i], json_object_get(v));
	if (connector)
		json_object_object_add(j, "connector", json_object_new_string(connector));
	return j;
}

/* The first enrolled connector of network NET, or NULL. */
static const struct zt_mobj *network_connector(const struct zt_model *m, const char *net)
{
	for (size_t i = 0; i < m->n[ZT_K_CONNECTOR]; i++) {
		const struct zt_mobj *c = m->objs[ZT_K_CONNECTOR][i];

		if (!strcmp(zt_mobj_str(c, "network"), net) && *zt_mobj_str(c, "pubkey"))
			return c;
	}
	return NULL;
}

static json_object *new_doc(json_object **res, json_object **dev, json_object **con,
			    json_object **grants)
{
	json_object *doc = json_object_new_object();

	json_object_object_add(doc, "version", json_object_new_int(1));
	json_object_object_add(doc, "resources", *res = json_object_new_array());
	json_object_object_add(doc, "devices", *dev = json_object_new_array());
	json_object_object_add(doc, "connectors", *con = json_object_new_array());
	json_object_object_add(doc, "grants", *grants = json_object_new_array());
	return doc;
}

/* A client's policy: the resources device D's principal P reaches, their connectors. */
static json_object *device_policy(struct zt_model *m, const struct zt_mobj *p)
{
	json_object *res, *dev, *con, *grants, *doc = new_doc(&res, &dev, &con, &grants);
	const struct zt_mobj **used = calloc(m->n[ZT_K_CONNECTOR] + 1, sizeof(*used));
	size_t nused = 0;

	for (size_t i = 0; used && i < m->n[ZT_K_RESOURCE]; i++) {
		const struct zt_mobj *r = m->objs[ZT_K_RESOURCE][i], *c;
		size_t k;

		if (!zt_principal_reaches(m, p, r->name))
			continue;
		c = network_connector(m, zt_mobj_str(r, "network"));
		json_object_array_add(res, resource_entry(r, c ? c->name : NULL));
		for (k = 0; c && k < nused && used[k] != c; k++)
			;
		if (c && k == nused)
			used[nused++] = c;
	}
	for (size_t k = 0; k < nused; k++) {
		const struct zt_mruntime *rt = zt_model_runtime(m, ZT_NODE_CONNECTOR, used[k]->id, false);
		json_object *j = json_object_new_object();

		json_object_object_add(j, "name", json_object_new_string(used[k]->name));
		json_object_object_add(j, "pubkey", json_object_new_string(zt_mobj_str(used[k], "pubkey")));
		if (rt && rt->endpoint[0])
			json_object_object_add(j, "endpoint", json_object_new_string(rt->endpoint));
		json_object_array_add(con, j);
	}
	free(used);
	return doc;
}

/* A connector's policy: network NET's resources, the devices granted any, the grants. */
static json_object *connector_policy(const struct zt_model *m, const char *net)
{
	json_object *res, *dev, *con, *grants, *doc = new_doc(&res, &dev, &con, &grants);

	for (size_t i = 0; i < m->n[ZT_K_RESOURCE]; i++)
		if (!strcmp(zt_mobj_str(m->objs[ZT_K_RESOURCE][i], "network"), net))
			json_object_array_add(res, resource_entry(m->objs[ZT_K_RESOURCE][i], NULL));
	for (size_t i = 0; i < m->n[ZT_K_DEVICE]; i++) {
		const struct zt_mobj *d = m->objs[ZT_K_DEVICE][i], *p = zt_device_owner(m, d);
		size_t before = json_object_array_length(grants);

		for (size_t k = 0; p && k < m->n[ZT_K_RESOURCE]; k++) {
			const struct zt_mobj *r = m->objs[ZT_K_RESOURCE][k];
			json_object *g;

			if (strcmp(zt_mobj_str(r, "network"), net) || !zt_principal_reaches(m, p, r->name))
				continue;
			g = json_object_new_object();
			json_object_object_add(g, "device", json_object_new_string(d->name));
			json_object_object_add(g, "resource", json_object_new_string(r->name));
			json_object_array_add(grants, g);
		}
		if (json_object_array_length(grants) > before) {
			json_object *j = json_object_new_object();

			json_object_object_add(j, "name", json_object_new_string(d->name));
			json_object_object_add(j, "pubkey", json_object_new_string(zt_mobj_str(d, "pubkey")));
			json_object_object_add(j, "address", json_object_new_string(zt_mobj_str(d, "address")));
			json_object_array_add(dev, j);
		}
	}
	return doc;
}

json_object *zt_model_view(struct zt_model *m, const struct zt_node_ident *ident, uint64_t *rev)
{
	bool conn = ident->kind == ZT_NODE_CONNECTOR;
	const struct zt_mobj *o = zt_model_find_id(m, conn ? ZT_K_CONNECTOR : ZT_K_DEVICE, ident->id);
	const struct zt_mobj *p = conn || !o ? NULL : zt_device_owner(m, o);
	json_object *view, *self, *relays;

	if (!o || (!conn && (!p || zt_mobj_bool(p, "disabled"))))
		return NULL;
	view = json_object_new_object();
	json_object_object_add(view, "policy", conn ? connector_policy(m, zt_mobj_str(o, "network"))
						    : device_policy(m, p));
	self = json_object_new_object();
	json_object_object_add(self, "kind", json_object_new_string(conn ? "connector" : "device"));
	json_object_object_add(self, "id", json_object_new_int64((int64_t)o->id));
	json_object_object_add(self, "name", json_object_new_string(o->name));
	if (!conn)
		json_object_object_add(self, "address", json_object_new_string(zt_mobj_str(o, "address")));
	json_object_object_add(view, "self", self);
	relays = json_object_new_array();
	for (size_t i = 0; i < m->nrelays; i++)
		json_object_array_add(relays, json_object_new_string(m->relays[i]));
	json_object_object_add(view, "relays", relays);
	*rev = m->rev;
	return view;
}
