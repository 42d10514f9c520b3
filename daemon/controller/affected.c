// SPDX-License-Identifier: GPL-2.0-only
/*
 * Which nodes a change touches (model.h): from the changed object's
 * relations (a group's members, a principal's groups, the access rules of
 * a group or a resource, a resource's network, a network's connectors) the
 * connectors and devices whose views may differ, so that only those are
 * recompiled. Old and new bodies both count (a user leaving a group is
 * felt by the connectors of what the group reached). Called by commit.c
 * after a transaction commits and before memory moves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/internal.h"
#include "controller/model.h"

int zt_idents_add(struct zt_idents *s, enum zt_node_kind kind, const struct zt_mobj *o)
{
	struct zt_node_ident *v;

	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].kind == kind && s->v[i].id == o->id)
			return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;

		v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	v = &s->v[s->n++];
	memset(v, 0, sizeof(*v));
	v->kind = kind;
	v->id = o->id;
	snprintf(v->name, sizeof(v->name), "%s", o->name);
	return 0;
}

static int connectors_of(const struct zt_model *m, struct zt_idents *s, const char *net)
{
	size_t n;
	struct zt_mobj *const *c = zt_index_related(m, "cn", net, &n);
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++)
		ret = zt_idents_add(s, ZT_NODE_CONNECTOR, c[i]);
	return ret;
}

/* Devices owned by principal P (a user or a service account). */
static int devices_of_owner(const struct zt_model *m, struct zt_idents *s, const struct zt_mobj *p)
{
	char owner[256];
	size_t n;
	struct zt_mobj *const *d;
	int ret = 0;

	snprintf(owner, sizeof(owner), "%s:%s", zt_kind_name(p->kind), p->name);
	d = zt_index_related(m, "do", owner, &n);
	for (size_t i = 0; i < n && !ret; i++)
		ret = zt_idents_add(s, ZT_NODE_DEVICE, d[i]);
	return ret;
}

int zt_model_nodes_of(const struct zt_model *m, enum zt_kind k, const char *name,
		      struct zt_node_ident **out, size_t *n)
{
	const struct zt_mobj *o = name ? zt_model_find(m, k, name) : NULL;
	struct zt_idents s = { 0 };
	int ret = 0;

	if (o && k == ZT_K_DEVICE)
		ret = zt_idents_add(&s, ZT_NODE_DEVICE, o);
	else if (o && k == ZT_K_CONNECTOR)
		ret = zt_idents_add(&s, ZT_NODE_CONNECTOR, o);
	else if (o && (k == ZT_K_USER || k == ZT_K_SA))
		ret = devices_of_owner(m, &s, o);
	if (ret) {
		free(s.v);
		s.v = NULL;
		s.n = 0;
	}
	*out = s.v;
	*n = s.n;
	return ret;
}

/* Devices whose principal is in GROUP. */
static int devices_of_group(const struct zt_model *m, struct zt_idents *s, const char *group)
{
	size_t n;
	struct zt_mobj *const *p = zt_index_related(m, "m", group, &n);
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++)
		ret = devices_of_owner(m, s, p[i]);
	return ret;
}

static int network_of_resource(const struct zt_model *m, struct zt_idents *s, const char *res)
{
	const struct zt_mobj *r = zt_model_find(m, ZT_K_RESOURCE, res);

	return r ? connectors_of(m, s, zt_mobj_str(r, "network")) : 0;
}

/* The connectors of the networks principal P's groups reach. */
static int reach_of(const struct zt_model *m, struct zt_idents *s, const struct zt_mobj *p)
{
	json_object *groups;
	int ret = 0;

	if (!json_object_object_get_ex(p->body, "groups", &groups))
		return 0;
	for (size_t g = 0; g < json_object_array_length(groups) && !ret; g++) {
		size_t n;
		struct zt_mobj *const *acc = zt_index_related(m, "ag", json_object_get_string(
						json_object_array_get_idx(groups, g)), &n);

		for (size_t i = 0; i < n && !ret; i++)
			ret = network_of_resource(m, s, zt_mobj_str(acc[i], "resource"));
	}
	return ret;
}

/* The devices of the groups with access to resource RES. */
static int clients_of_resource(const struct zt_model *m, struct zt_idents *s, const char *res)
{
	size_t n;
	struct zt_mobj *const *acc = zt_index_related(m, "ar", res, &n);
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++)
		ret = devices_of_group(m, s, zt_mobj_str(acc[i], "group"));
	return ret;
}

/* Devices that reach some resource of network NET (they list its connectors). */
static int clients_of_network(const struct zt_model *m, struct zt_idents *s, const char *net)
{
	size_t n;
	struct zt_mobj *const *r = zt_index_related(m, "rn", net, &n);
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++)
		ret = clients_of_resource(m, s, r[i]->name);
	return ret;
}

/* O's touched nodes into S; 1 when every node may be. */
static int affected(const struct zt_model *m, const struct zt_mobj *o, struct zt_idents *s)
{
	int ret = 0;

	switch (o->kind) {
	case ZT_K_USER:
	case ZT_K_SA:
		ret = devices_of_owner(m, s, o);
		return ret ? ret : reach_of(m, s, o);
	case ZT_K_CONNECTOR:
		ret = *zt_mobj_str(o, "pubkey") ? zt_idents_add(s, ZT_NODE_CONNECTOR, o) : 0;
		return ret ? ret : clients_of_network(m, s, zt_mobj_str(o, "network"));
	case ZT_K_RESOURCE:
		ret = connectors_of(m, s, zt_mobj_str(o, "network"));
		return ret ? ret : clients_of_resource(m, s, o->name);
	case ZT_K_ACCESS:
		ret = network_of_resource(m, s, zt_mobj_str(o, "resource"));
		return ret ? ret : devices_of_group(m, s, zt_mobj_str(o, "group"));
	case ZT_K_DEVICE: {
		const struct zt_mobj *p = zt_device_owner(m, o);

		ret = zt_idents_add(s, ZT_NODE_DEVICE, o);
		return ret || !p ? ret : reach_of(m, s, p);
	}
	case ZT_K_POLICY:
	case ZT_K_RELAY:	/* every view names the relays */
		return 1;
	default:	/* groups and networks: their users are what changes views */
		return 0;
	}
}

int zt_model_affected(const struct zt_model *m, const struct zt_mobj *o, json_object *old_body,
		      struct zt_node_ident **out, size_t *n)
{
	struct zt_idents s = { 0 };
	int ret = affected(m, o, &s);

	if (!ret && old_body) {
		struct zt_mobj old = *o;

		old.body = old_body;
		ret = affected(m, &old, &s);
	}
	if (ret) {
		free(s.v);
		s.v = NULL;
		s.n = 0;
	}
	*out = s.v;
	*n = s.n;
	return ret;
}

int zt_model_tx_affected(const struct zt_model *m, struct zt_mtx *tx)
{
	struct zt_idents s = { .v = tx->affected, .n = tx->naffected, .cap = tx->naffected };
	int ret = 0;

	for (size_t i = 0; i < tx->n && !ret; i++) {
		ret = affected(m, tx->ch[i].obj, &s);
		if (!ret && tx->ch[i].old)
			ret = affected(m, tx->ch[i].old, &s);
	}
	tx->affected = s.v;
	tx->naffected = s.n;
	if (ret)
		tx->affected_all = true;
	return ret < 0 ? ret : 0;
}
