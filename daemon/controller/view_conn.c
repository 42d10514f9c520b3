// SPDX-License-Identifier: GPL-2.0-only
/*
 * A connector's policy as text (internal.h: zt_connector_policy_text): its
 * network's resources, the devices whose principals' groups have access to
 * any of them, and those grants. At 10,000 devices a connector's view holds
 * about 2,500 devices and 25,000 grants (1.5 MB): built as a json-c tree and
 * serialized whole on every change, it cost most of a change's time. So
 * each network keeps the JSON text of every device entry and grant of its
 * last view (json-c's own serialization of that entry, made once), and the
 * next compile walks the grants (index lookups, no allocation), takes the
 * fragments that are still there and makes only the new ones; the view's
 * text is those fragments copied one after the other between the
 * document's fixed keys. The result is byte for byte json-c's plain
 * serialization of the same tree (what a node hashes; the unit tests parse
 * and re-serialize every view to check it).
 * Called by view.c (zt_model_view_text); model.c frees the fragments.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/internal.h"
#include "controller/model.h"

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
static int collect_grants(const struct zt_model *m, const struct zt_objs *rs, struct grant **out,
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

/*
 * One entry's JSON text: a device's (A: its id; KEY, KLEN: the fields its
 * text was made of, NUL-separated, to see whether it still holds) or a
 * grant's (A, B: device id, resource id; names never change and ids are
 * never reused, so the pair is the text).
 */
struct frag {
	uint64_t a, b;
	char *text, *key;
	size_t len, klen;
};

/*
 * Network NET's fragments of its last connector view, sorted by (A, B), and
 * that policy's TEXT as of model revision REV and clock second AT (a
 * network's connectors share it: the second one in the same pass copies it).
 */
struct zt_grant_cache {
	char *net;
	struct frag *dev, *grant;
	size_t ndev, ngrant;
	char *text;
	size_t len;
	uint64_t rev;
	int64_t at;
};

static void frags_free(struct frag *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].text);
		free(v[i].key);
	}
	free(v);
}

void zt_view_cache_free(struct zt_model *m)
{
	for (size_t i = 0; i < m->ngcache; i++) {
		frags_free(m->gcache[i].dev, m->gcache[i].ndev);
		frags_free(m->gcache[i].grant, m->gcache[i].ngrant);
		free(m->gcache[i].text);
		free(m->gcache[i].net);
	}
	free(m->gcache);
	m->gcache = NULL;
	m->ngcache = 0;
}

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

/* J's plain text (malloc'd, *LEN bytes); J is put. NULL when out of memory. */
static char *json_text(json_object *j, size_t *len)
{
	const char *t = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
	char *s;

	*len = strlen(t);
	s = malloc(*len + 1);
	if (s)
		memcpy(s, t, *len + 1);
	json_object_put(j);
	return s;
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

#define DEV_FIELDS 4

/* What device_entry reads of D besides its name and id (which never change). */
static void dev_fields(const struct zt_mobj *d, const char *f[DEV_FIELDS], size_t l[DEV_FIELDS],
		       size_t *total)
{
	static const char *const keys[DEV_FIELDS] = { "pubkey", "address", "owner_kind", "owner" };

	*total = 0;
	for (int i = 0; i < DEV_FIELDS; i++) {
		f[i] = zt_mobj_str(d, keys[i]);
		l[i] = strlen(f[i]);
		*total += l[i] + 1;
	}
}

/* Does fragment F still hold for device D? */
static bool dev_frag_holds(const struct frag *f, const struct zt_mobj *d)
{
	const char *v[DEV_FIELDS];
	size_t l[DEV_FIELDS], total, off = 0;

	dev_fields(d, v, l, &total);
	if (total != f->klen)
		return false;
	for (int i = 0; i < DEV_FIELDS; off += l[i] + 1, i++)
		if (memcmp(f->key + off, v[i], l[i] + 1))
			return false;
	return true;
}

static int dev_frag_new(const struct zt_mobj *d, struct frag *f)
{
	const char *v[DEV_FIELDS];
	size_t l[DEV_FIELDS], off = 0, klen;

	dev_fields(d, v, l, &klen);
	*f = (struct frag){ .a = d->id, .klen = klen };
	f->key = malloc(f->klen);
	f->text = json_text(device_entry(d), &f->len);
	if (!f->key || !f->text) {
		free(f->key);
		free(f->text);
		return -ENOMEM;
	}
	for (int i = 0; i < DEV_FIELDS; off += l[i] + 1, i++)
		memcpy(f->key + off, v[i], l[i] + 1);
	return 0;
}

static int grant_frag_new(const struct grant *g, struct frag *f)
{
	json_object *j = json_object_new_object();

	json_object_object_add(j, "device", json_object_new_string(g->d->name));
	json_object_object_add(j, "resource", json_object_new_string(g->r->name));
	*f = (struct frag){ .a = g->d->id, .b = g->r->id };
	f->text = json_text(j, &f->len);
	return f->text ? 0 : -ENOMEM;
}

/* Take the fragment of (A, B) at or after *K in the sorted OLD (N) if there is one. */
static struct frag *frag_take(struct frag *old, size_t n, size_t *k, uint64_t a, uint64_t b)
{
	while (*k < n && (old[*k].a < a || (old[*k].a == a && old[*k].b < b)))
		(*k)++;
	return *k < n && old[*k].a == a && old[*k].b == b && old[*k].text ? &old[*k] : NULL;
}

/* The fragments of the view the grants G (sorted, N) make, into DEV and GR; GC's reused ones move. */
static int view_frags(struct zt_grant_cache *gc, const struct grant *g, size_t n, struct frag *dev,
		      size_t *ndev, struct frag *gr, size_t *ngr)
{
	size_t kd = 0, kg = 0;
	struct frag *f;
	int ret = 0;

	for (size_t i = 0, k; !ret && i < n; i = k) {
		bool granted = false;

		/* Reached through several rules: granted if one of them holds. */
		for (k = i; k < n && g[k].d == g[i].d && g[k].r == g[i].r; k++)
			granted |= !g[k].expired;
		/* A device whose session expired stays (its tunnel up, its packets denied and counted). */
		if (!i || g[i].d != g[i - 1].d) {
			f = frag_take(gc->dev, gc->ndev, &kd, g[i].d->id, 0);
			if (f && dev_frag_holds(f, g[i].d)) {
				dev[(*ndev)++] = *f;
				f->text = f->key = NULL;
			} else if (!(ret = dev_frag_new(g[i].d, &dev[*ndev]))) {
				(*ndev)++;
			}
		}
		if (ret || !granted)
			continue;
		f = frag_take(gc->grant, gc->ngrant, &kg, g[i].d->id, g[i].r->id);
		if (f) {
			gr[(*ngr)++] = *f;
			f->text = NULL;
		} else if (!(ret = grant_frag_new(&g[i], &gr[*ngr]))) {
			(*ngr)++;
		}
	}
	return ret;
}

/* "[" V[0] "," V[1] ... "]" at P; the end. */
static char *put_frags(char *p, const struct frag *v, size_t n)
{
	*p++ = '[';
	for (size_t i = 0; i < n; i++) {
		if (i)
			*p++ = ',';
		memcpy(p, v[i].text, v[i].len);
		p += v[i].len;
	}
	*p++ = ']';
	return p;
}

static size_t frags_len(const struct frag *v, size_t n)
{
	size_t len = 2 + (n ? n - 1 : 0);

	for (size_t i = 0; i < n; i++)
		len += v[i].len;
	return len;
}

/* The document (view.c's device_policy's keys, in its order) around RES and the fragments. */
static char *assemble(const char *res, size_t rlen, const struct frag *dev, size_t ndev,
		      const struct frag *gr, size_t ngr, size_t *len)
{
	static const char k_ver[] = "{\"version\":1,\"resources\":", k_dev[] = ",\"devices\":",
			  k_con[] = ",\"connectors\":[],\"grants\":";
	size_t total = strlen(k_ver) + rlen + strlen(k_dev) + frags_len(dev, ndev) + strlen(k_con) +
		       frags_len(gr, ngr) + 1;
	char *text = malloc(total + 1), *p = text;

	if (!text)
		return NULL;
	p = mempcpy(p, k_ver, strlen(k_ver));
	p = mempcpy(p, res, rlen);
	p = mempcpy(p, k_dev, strlen(k_dev));
	p = put_frags(p, dev, ndev);
	p = mempcpy(p, k_con, strlen(k_con));
	p = put_frags(p, gr, ngr);
	*p++ = '}';
	*p = '\0';
	*len = total;
	return text;
}

/* Network NET's resources (sorted into RS) as the document's array text. */
static char *resources_text(struct zt_model *m, const char *net, struct zt_objs *rs, size_t *len)
{
	size_t nr;
	struct zt_mobj *const *r = zt_index_related(m, "rn", net, &nr);
	json_object *arr;

	for (size_t i = 0; i < nr; i++)
		if (zt_objs_add(rs, r[i]))
			return NULL;
	zt_objs_settle(rs);
	arr = json_object_new_array();
	for (size_t i = 0; i < rs->n; i++)
		json_object_array_add(arr, zt_view_resource_entry(rs->v[i], NULL));
	return json_text(arr, len);
}

/* A copy of GC's policy text if it is the model's now (same revision, same second), or NULL. */
static char *policy_again(const struct zt_model *m, const struct zt_grant_cache *gc, size_t *len)
{
	char *text;

	if (!gc->text || gc->rev != m->rev || gc->at != m->now())
		return NULL;
	text = malloc(gc->len + 1);
	if (text) {
		memcpy(text, gc->text, gc->len + 1);
		*len = gc->len;
	}
	return text;
}

/* TEXT (LEN bytes) as GC's policy of now; dropped when no copy can be kept. */
static void policy_keep(const struct zt_model *m, struct zt_grant_cache *gc, const char *text,
			size_t len)
{
	free(gc->text);
	gc->text = malloc(len + 1);
	if (gc->text) {
		memcpy(gc->text, text, len + 1);
		gc->len = len;
		gc->rev = m->rev;
		gc->at = m->now();
	}
}

char *zt_connector_policy_text(struct zt_model *m, const char *net, size_t *len)
{
	struct zt_grant_cache *gc = gcache_of(m, net);
	struct zt_objs rs = { 0 };
	struct grant *g = NULL;
	struct frag *dev = NULL, *gr = NULL;
	size_t n = 0, ndev = 0, ngr = 0, rlen = 0;
	char *res = NULL, *text = NULL;

	if (gc && (text = policy_again(m, gc, len)))
		return text;
	if (!gc || !(res = resources_text(m, net, &rs, &rlen)) || collect_grants(m, &rs, &g, &n))
		goto out;
	dev = malloc((n ? n : 1) * sizeof(*dev));
	gr = malloc((n ? n : 1) * sizeof(*gr));
	if (!dev || !gr)
		goto out;
	if (!view_frags(gc, g, n, dev, &ndev, gr, &ngr))
		text = assemble(res, rlen, dev, ndev, gr, ngr, len);
	/* What was not taken is gone from the view; the new lists are the cache now. */
	frags_free(gc->dev, gc->ndev);
	frags_free(gc->grant, gc->ngrant);
	free(gc->text);
	*gc = (struct zt_grant_cache){ .net = gc->net, .dev = dev, .ndev = ndev, .grant = gr,
				       .ngrant = ngr };
	dev = gr = NULL;
	if (text)
		policy_keep(m, gc, text, *len);
out:
	free(dev);
	free(gr);
	free(g);
	free(rs.v);
	free(res);
	return text;
}
