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
#include <stdio.h>
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
	char key[320];
	size_t n;
	struct zt_mobj *const *acc;

	snprintf(key, sizeof(key), "ar:%s", res);
	acc = zt_index_get(m, key, &n);
	for (size_t i = 0; i < n; i++)
		if (zt_principal_in(p, zt_mobj_str(acc[i], "group")))
			return true;
	return false;
}

/* A growing list of objects, sorted by id and made unique before use. */
struct objs {
	const struct zt_mobj **v;
	size_t n, cap;
};

static int objs_add(struct objs *l, const struct zt_mobj *o)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		const struct zt_mobj **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = o;
	return 0;
}

static int by_id(const void *a, const void *b)
{
	uint64_t x = (*(const struct zt_mobj *const *)a)->id;
	uint64_t y = (*(const struct zt_mobj *const *)b)->id;

	return x < y ? -1 : x > y;
}

/* Sorted by id, each once: a view's order depends on the model only. */
static void objs_settle(struct objs *l)
{
	size_t k = 0;

	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), by_id);
	for (size_t i = 0; i < l->n; i++)
		if (!k || l->v[k - 1] != l->v[i])
			l->v[k++] = l->v[i];
	l->n = k;
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
	size_t n;
	struct zt_mobj *const *c = zt_index_related(m, "cn", net, &n);
	const struct zt_mobj *best = NULL;

	for (size_t i = 0; i < n; i++)
		if (*zt_mobj_str(c[i], "pubkey") && (!best || c[i]->id < best->id))
			best = c[i];
	return best;
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

/* The resources principal P's groups reach, into L. */
static int reached(const struct zt_model *m, const struct zt_mobj *p, struct objs *l)
{
	json_object *groups;
	int ret = 0;

	if (!json_object_object_get_ex(p->body, "groups", &groups) || zt_mobj_bool(p, "disabled"))
		return 0;
	for (size_t g = 0; !ret && g < json_object_array_length(groups); g++) {
		size_t n;
		struct zt_mobj *const *acc = zt_index_related(m, "ag", json_object_get_string(
						     json_object_array_get_idx(groups, g)), &n);

		for (size_t i = 0; !ret && i < n; i++) {
			const struct zt_mobj *r = zt_model_find(m, ZT_K_RESOURCE,
								zt_mobj_str(acc[i], "resource"));

			ret = r ? objs_add(l, r) : 0;
		}
	}
	objs_settle(l);
	return ret;
}

static json_object *connector_entry(struct zt_model *m, const struct zt_mobj *c)
{
	const struct zt_mruntime *rt = zt_model_runtime(m, ZT_NODE_CONNECTOR, c->id, false);
	json_object *j = json_object_new_object();

	json_object_object_add(j, "name", json_object_new_string(c->name));
	json_object_object_add(j, "pubkey", json_object_new_string(zt_mobj_str(c, "pubkey")));
	if (rt && rt->endpoint[0])
		json_object_object_add(j, "endpoint", json_object_new_string(rt->endpoint));
	return j;
}

/* A client's policy: the resources its principal P reaches, their connectors. */
static json_object *device_policy(struct zt_model *m, const struct zt_mobj *p)
{
	json_object *res, *dev, *con, *grants, *doc = new_doc(&res, &dev, &con, &grants);
	struct objs rs = { 0 }, cs = { 0 };

	if (reached(m, p, &rs))
		goto fail;
	for (size_t i = 0; i < rs.n; i++) {
		const struct zt_mobj *c = network_connector(m, zt_mobj_str(rs.v[i], "network"));

		json_object_array_add(res, resource_entry(rs.v[i], c ? c->name : NULL));
		if (c && objs_add(&cs, c))
			goto fail;
	}
	objs_settle(&cs);
	for (size_t k = 0; k < cs.n; k++)
		json_object_array_add(con, connector_entry(m, cs.v[k]));
	free(rs.v);
	free(cs.v);
	return doc;
fail:
	free(rs.v);
	free(cs.v);
	json_object_put(doc);
	return NULL;
}

/*
 * A grant: device D may reach resource R (sorted by device, then resource);
 * EXPIRED: only through a rule whose policy's session lifetime D outlived.
 */
struct grant {
	const struct zt_mobj *d, *r;
	bool expired;
};

static int grant_cmp(const void *a, const void *b)
{
	const struct grant *x = a, *y = b;

	if (x->d->id != y->d->id)
		return x->d->id < y->d->id ? -1 : 1;
	return x->r->id < y->r->id ? -1 : x->r->id > y->r->id;
}

/* The grants on network NET's resources RS: their groups' members' devices. */
static int collect_grants(const struct zt_model *m, const struct objs *rs, struct grant **out,
			  size_t *nout)
{
	struct grant *g = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < rs->n; i++) {
		size_t na, np, nd;
		struct zt_mobj *const *acc = zt_index_related(m, "ar", rs->v[i]->name, &na);

		for (size_t a = 0; a < na; a++) {
			struct zt_mobj *const *ps = zt_index_related(m, "m", zt_mobj_str(acc[a], "group"), &np);

			for (size_t p = 0; p < np; p++) {
				char owner[256];
				struct zt_mobj *const *ds;

				if (zt_mobj_bool(ps[p], "disabled"))
					continue;
				snprintf(owner, sizeof(owner), "%s:%s", zt_kind_name(ps[p]->kind), ps[p]->name);
				ds = zt_index_related(m, "do", owner, &nd);
				for (size_t d = 0; d < nd; d++) {
					if (n == cap) {
						struct grant *ng = realloc(g, (cap = cap ? cap * 2 : 64) * sizeof(*g));

						if (!ng) {
							free(g);
							return -ENOMEM;
						}
						g = ng;
					}
					g[n++] = (struct grant){ ds[d], rs->v[i],
								 zt_grant_expired(m, acc[a], ps[p], ds[d]) };
				}
			}
		}
	}
	if (n)
		qsort(g, n, sizeof(*g), grant_cmp);
	*out = g;
	*nout = n;
	return 0;
}

/* A device for a connector: its key and address, and for the logs its owner and id. */
static json_object *device_entry(const struct zt_mobj *d)
{
	json_object *j = json_object_new_object(), *w = json_object_new_object();
	bool sa = zt_kind_from_name(zt_mobj_str(d, "owner_kind")) == ZT_K_SA;

	json_object_object_add(j, "name", json_object_new_string(d->name));
	json_object_object_add(j, "pubkey", json_object_new_string(zt_mobj_str(d, "pubkey")));
	json_object_object_add(j, "address", json_object_new_string(zt_mobj_str(d, "address")));
	json_object_object_add(w, sa ? "service_account" : "user",
			       json_object_new_string(zt_mobj_str(d, "owner")));
	json_object_object_add(j, "owner", w);
	json_object_object_add(j, "controller_id", json_object_new_int64((int64_t)d->id));
	return j;
}

/*
 * The grant objects of network NET's last connector view, sorted by (device
 * id, resource id). Names never change and ids are never reused, so a grant
 * between the same device and resource is the same JSON object next time:
 * a recompiled connector view allocates only the grants that are new (a
 * json-c object costs a hash table: at 25,000 grants, most of a view's cost).
 */
struct cgrant {
	uint64_t d, r;
	json_object *o;
};

struct zt_grant_cache {
	char *net;
	struct cgrant *v;
	size_t n;
};

static struct zt_grant_cache *gcache_of(struct zt_model *m, const char *net)
{
	struct zt_grant_cache *v;

	for (size_t i = 0; i < m->ngcache; i++)
		if (!strcmp(m->gcache[i].net, net))
			return &m->gcache[i];
	v = realloc(m->gcache, (m->ngcache + 1) * sizeof(*v));
	if (!v)
		return NULL;
	m->gcache = v;
	v = &m->gcache[m->ngcache];
	*v = (struct zt_grant_cache){ .net = strdup(net) };
	if (!v->net)
		return NULL;
	m->ngcache++;
	return v;
}

static void gcache_drop(struct cgrant *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_object_put(v[i].o);
	free(v);
}

void zt_view_cache_free(struct zt_model *m)
{
	for (size_t i = 0; i < m->ngcache; i++) {
		gcache_drop(m->gcache[i].v, m->gcache[i].n);
		free(m->gcache[i].net);
	}
	free(m->gcache);
	m->gcache = NULL;
	m->ngcache = 0;
}

/* G's object: the cached one at or after *K in GC, or a new one. */
static json_object *grant_object(const struct zt_grant_cache *gc, size_t *k, const struct grant *g)
{
	json_object *j;

	while (gc && *k < gc->n && (gc->v[*k].d < g->d->id ||
				    (gc->v[*k].d == g->d->id && gc->v[*k].r < g->r->id)))
		(*k)++;
	if (gc && *k < gc->n && gc->v[*k].d == g->d->id && gc->v[*k].r == g->r->id)
		return json_object_get(gc->v[*k].o);
	j = json_object_new_object();
	json_object_object_add(j, "device", json_object_new_string(g->d->name));
	json_object_object_add(j, "resource", json_object_new_string(g->r->name));
	return j;
}

/* The grants G (sorted, N) into GRANTS and the devices into DEV; the cache follows. */
static void add_grants(struct zt_model *m, const char *net, const struct grant *g, size_t n,
		       json_object *dev, json_object *grants)
{
	struct zt_grant_cache *gc = gcache_of(m, net);
	struct cgrant *nv = gc && n ? malloc(n * sizeof(*nv)) : NULL;
	size_t kc = 0, nn = 0;

	for (size_t i = 0, k; i < n; i = k) {
		bool granted = false;
		json_object *j;

		/* Reached through several rules: granted if one of them holds. */
		for (k = i; k < n && g[k].d == g[i].d && g[k].r == g[i].r; k++)
			granted |= !g[k].expired;
		/* A device whose session expired stays (its tunnel up, its packets denied and counted). */
		if (!i || g[i].d != g[i - 1].d)
			json_object_array_add(dev, device_entry(g[i].d));
		if (!granted)
			continue;
		j = grant_object(gc, &kc, &g[i]);
		json_object_array_add(grants, j);
		if (nv)
			nv[nn++] = (struct cgrant){ g[i].d->id, g[i].r->id, json_object_get(j) };
	}
	if (!gc)
		return;
	gcache_drop(gc->v, gc->n);	/* the reused objects live on in NV */
	gc->v = nv;
	gc->n = nn;
}

/* A connector's policy: network NET's resources, the devices granted any, the grants. */
static json_object *connector_policy(struct zt_model *m, const char *net)
{
	json_object *res, *dev, *con, *grants, *doc = new_doc(&res, &dev, &con, &grants);
	struct objs rs = { 0 };
	struct grant *g = NULL;
	size_t n = 0, nr;
	struct zt_mobj *const *r = zt_index_related(m, "rn", net, &nr);

	for (size_t i = 0; i < nr; i++)
		if (objs_add(&rs, r[i]))
			goto fail;
	objs_settle(&rs);
	for (size_t i = 0; i < rs.n; i++)
		json_object_array_add(res, resource_entry(rs.v[i], NULL));
	if (collect_grants(m, &rs, &g, &n))
		goto fail;
	add_grants(m, net, g, n, dev, grants);
	free(rs.v);
	free(g);
	return doc;
fail:
	free(rs.v);
	json_object_put(doc);
	return NULL;
}

json_object *zt_model_view(struct zt_model *m, const struct zt_node_ident *ident, uint64_t *rev)
{
	bool conn = ident->kind == ZT_NODE_CONNECTOR;
	const struct zt_mobj *o = zt_model_find_id(m, conn ? ZT_K_CONNECTOR : ZT_K_DEVICE, ident->id);
	const struct zt_mobj *p = conn || !o ? NULL : zt_device_owner(m, o);
	json_object *view, *self, *relays, *policy;

	if (!o || (!conn && (!p || zt_mobj_bool(p, "disabled"))))
		return NULL;
	policy = conn ? connector_policy(m, zt_mobj_str(o, "network")) : device_policy(m, p);
	if (!policy)
		return NULL;
	view = json_object_new_object();
	json_object_object_add(view, "policy", policy);
	self = json_object_new_object();
	json_object_object_add(self, "kind", json_object_new_string(conn ? "connector" : "device"));
	json_object_object_add(self, "id", json_object_new_int64((int64_t)o->id));
	json_object_object_add(self, "name", json_object_new_string(o->name));
	if (!conn)
		json_object_object_add(self, "address", json_object_new_string(zt_mobj_str(o, "address")));
	else
		json_object_object_add(self, "network", json_object_new_string(zt_mobj_str(o, "network")));
	json_object_object_add(view, "self", self);
	relays = json_object_new_array();
	for (size_t i = 0; i < m->nrelays; i++)
		json_object_array_add(relays, json_object_new_string(m->relays[i]));
	json_object_object_add(view, "relays", relays);
	*rev = m->rev;
	return view;
}
