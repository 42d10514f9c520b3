// SPDX-License-Identifier: GPL-2.0-only
/*
 * The model in memory (model.h): kinds by name, opening (database,
 * migrations, the database's timeline, loading every object, the revision,
 * the audit chain's head),
 * lookups, object JSON, relays, runtime records and the export. Writes are
 * in commit.c. Called by the controller role and the other files here.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "controller/db.h"
#include "controller/connlog.h"
#include "controller/internal.h"
#include "controller/model.h"
#include "controller/schema.h"
#include "lib/log.h"

static const char *const kind_names[ZT_K__COUNT] = {
	[ZT_K_USER] = "user",
	[ZT_K_GROUP] = "group",
	[ZT_K_SA] = "service-account",
	[ZT_K_NETWORK] = "network",
	[ZT_K_CONNECTOR] = "connector",
	[ZT_K_RESOURCE] = "resource",
	[ZT_K_POLICY] = "policy",
	[ZT_K_ACCESS] = "access",
	[ZT_K_DEVICE] = "device",
	[ZT_K_RELAY] = "relay",
};

int zt_kind_from_name(const char *name)
{
	for (int k = 0; k < ZT_K__COUNT; k++)
		if (!strcmp(kind_names[k], name))
			return k;
	return -1;
}

const char *zt_kind_name(enum zt_kind k)
{
	return (unsigned int)k < ZT_K__COUNT ? kind_names[k] : "?";
}

static int64_t real_now(void)
{
	return (int64_t)time(NULL);
}

struct zt_mobj *zt_model_find(const struct zt_model *m, enum zt_kind k, const char *name)
{
	char key[320];

	if (!name)
		return NULL;
	snprintf(key, sizeof(key), "n%d:%s", k, name);
	return zt_index_one(m, key);
}

struct zt_mobj *zt_model_find_id(const struct zt_model *m, enum zt_kind k, uint64_t id)
{
	char key[64];

	snprintf(key, sizeof(key), "i%d:%" PRIu64, k, id);
	return zt_index_one(m, key);
}

const char *zt_mobj_str(const struct zt_mobj *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o->body, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

bool zt_mobj_bool(const struct zt_mobj *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o->body, key, &v) && json_object_get_boolean(v);
}

bool zt_mobj_has(const struct zt_mobj *o, const char *key, const char *value)
{
	json_object *arr;

	if (!o || !json_object_object_get_ex(o->body, key, &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), value))
			return true;
	return false;
}

json_object *zt_mobj_to_json(const struct zt_mobj *o)
{
	json_object *j = json_object_new_object();

	json_object_object_add(j, "id", json_object_new_int64((int64_t)o->id));
	json_object_object_add(j, "kind", json_object_new_string(zt_kind_name(o->kind)));
	json_object_object_add(j, "name", json_object_new_string(o->name));
	json_object_object_foreach(o->body, key, val)
		json_object_object_add(j, key, json_object_get(val));
	json_object_object_add(j, "created", json_object_new_int64(o->created));
	json_object_object_add(j, "updated", json_object_new_int64(o->updated));
	json_object_object_add(j, "actor", json_object_new_string(o->actor));
	return j;
}

json_object *zt_model_list(const struct zt_model *m, enum zt_kind k)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < m->n[k]; i++)
		json_object_array_add(arr, zt_mobj_to_json(m->objs[k][i]));
	return arr;
}

json_object *zt_model_export(const struct zt_model *m)
{
	json_object *doc = json_object_new_object();

	json_object_object_add(doc, "rev", json_object_new_int64((int64_t)m->rev));
	for (int k = 0; k < ZT_K__COUNT; k++)
		json_object_object_add(doc, kind_names[k], zt_model_list(m, (enum zt_kind)k));
	return doc;
}

int zt_model_add_relay(struct zt_model *m, const char *hostport)
{
	char **r = realloc(m->relays, (m->nrelays + 1) * sizeof(*r));

	if (!r)
		return -ENOMEM;
	m->relays = r;
	r[m->nrelays] = strdup(hostport);
	if (!r[m->nrelays])
		return -ENOMEM;
	m->nrelays++;
	return 0;
}

static size_t rt_slot(enum zt_node_kind kind, uint64_t id, size_t cap)
{
	uint64_t h = (id * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)kind << 61);

	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

/* The hash of runtime records (index + 1, 0 empty) rebuilt at CAP slots. */
static int rt_rehash(struct zt_model *m, size_t cap)
{
	size_t *ix = calloc(cap, sizeof(*ix));

	if (!ix)
		return -ENOMEM;
	for (size_t i = 0; i < m->nrt; i++) {
		size_t k = rt_slot(m->rt[i].kind, m->rt[i].id, cap);

		while (ix[k])
			k = (k + 1) & (cap - 1);
		ix[k] = i + 1;
	}
	free(m->rtix);
	m->rtix = ix;
	m->rtixcap = cap;
	return 0;
}

/* Runtime records by (kind, id): open addressing, at most half full (O(1)). */
struct zt_mruntime *zt_model_runtime(struct zt_model *m, enum zt_node_kind kind, uint64_t id,
				     bool create)
{
	struct zt_mruntime *rt;
	size_t k;

	for (k = m->rtixcap ? rt_slot(kind, id, m->rtixcap) : 0; m->rtixcap && m->rtix[k];
	     k = (k + 1) & (m->rtixcap - 1)) {
		rt = &m->rt[m->rtix[k] - 1];
		if (rt->kind == kind && rt->id == id)
			return rt;
	}
	if (!create)
		return NULL;
	if (m->nrt == m->rtcap) {
		size_t cap = m->rtcap ? m->rtcap * 2 : 16;

		rt = realloc(m->rt, cap * sizeof(*rt));
		if (!rt)
			return NULL;
		m->rt = rt;
		m->rtcap = cap;
	}
	if ((m->nrt + 1) * 2 > m->rtixcap && rt_rehash(m, m->rtixcap ? m->rtixcap * 2 : 64))
		return NULL;
	rt = &m->rt[m->nrt++];
	*rt = (struct zt_mruntime){ .kind = kind, .id = id };
	for (k = rt_slot(kind, id, m->rtixcap); m->rtix[k]; k = (k + 1) & (m->rtixcap - 1))
		;
	m->rtix[k] = m->nrt;
	return rt;
}

void zt_model_want_current(struct zt_model *m, const struct zt_node_ident *ident)
{
	struct zt_mruntime *rt;

	if (!ident) {
		m->all_wanted_rev = m->rev;
		return;
	}
	rt = zt_model_runtime(m, ident->kind, ident->id, true);
	if (rt)
		rt->wanted_rev = m->rev;
}

bool zt_model_node_current(const struct zt_model *m, const struct zt_mruntime *rt)
{
	uint64_t want = rt->wanted_rev > m->all_wanted_rev ? rt->wanted_rev : m->all_wanted_rev;

	return rt->applied_rev >= want;
}

/* ---- loading ---- */

int zt_model_insert(struct zt_model *m, struct zt_mobj *o)
{
	enum zt_kind k = o->kind;

	if (m->n[k] == m->cap[k]) {
		size_t cap = m->cap[k] ? m->cap[k] * 2 : 16;
		struct zt_mobj **a = realloc(m->objs[k], cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		m->objs[k] = a;
		m->cap[k] = cap;
	}
	if (zt_index_insert(m, o))
		return -ENOMEM;
	m->objs[k][m->n[k]++] = o;
	if (o->id >= m->next_id)
		m->next_id = o->id + 1;
	return 0;
}

void zt_mobj_free(struct zt_mobj *o)
{
	if (!o)
		return;
	free(o->name);
	free(o->actor);
	json_object_put(o->body);
	free(o);
}

/* One objects row (id, kind, name, body, created, updated, actor) as an object. */
struct zt_mobj *zt_mobj_from_row(const struct zt_db_rows *r, size_t i)
{
	int kind = zt_kind_from_name(zt_db_cell(r, i, 1));
	struct zt_mobj *o;

	if (kind < 0)
		return NULL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->id = strtoull(zt_db_cell(r, i, 0), NULL, 10);
	o->kind = (enum zt_kind)kind;
	o->name = strdup(zt_db_cell(r, i, 2));
	o->body = json_tokener_parse(zt_db_cell(r, i, 3));
	o->created = strtoll(zt_db_cell(r, i, 4), NULL, 10);
	o->updated = strtoll(zt_db_cell(r, i, 5), NULL, 10);
	o->actor = strdup(zt_db_cell(r, i, 6));
	if (!o->name || !o->actor || !json_object_is_type(o->body, json_type_object)) {
		zt_mobj_free(o);
		return NULL;
	}
	return o;
}

/* The counters of meta: rev, next_id, timeline. */
static int load_meta(struct zt_model *m, char *err, size_t errlen)
{
	struct zt_db_rows *r;
	int ret;

	ret = zt_db_query(m->db, "SELECT key, value FROM meta WHERE key IN ('rev', 'next_id',"
			  " 'timeline')", 0, NULL, &r, err, errlen);
	if (ret)
		return ret;
	for (size_t i = 0; i < r->nrows; i++) {
		const char *k = zt_db_cell(r, i, 0), *v = zt_db_cell(r, i, 1);

		if (!strcmp(k, "rev"))
			m->rev = strtoull(v, NULL, 10);
		else if (!strcmp(k, "next_id"))
			m->next_id = strtoull(v, NULL, 10);
		else
			snprintf(m->timeline, sizeof(m->timeline), "%s", v);
	}
	zt_db_rows_free(r);
	return 0;
}

/* A random timeline for a database that has none yet (the first start). */
static int ensure_timeline(struct zt_model *m, char *err, size_t errlen)
{
	uint8_t rnd[ZT_TIMELINE_LEN / 2];
	char hex[ZT_TIMELINE_LEN + 1];
	const char *p[] = { hex };

	if (!RAND_bytes(rnd, sizeof(rnd))) {
		snprintf(err, errlen, "no randomness for the database's timeline");
		return -EIO;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	return zt_db_exec(m->db, "INSERT INTO meta (key, value) VALUES ('timeline', $1)"
			  " ON CONFLICT (key) DO NOTHING", 1, p, err, errlen);
}

int zt_model_load(struct zt_model *m, char *err, size_t errlen)
{
	struct zt_db_rows *r;
	int ret;

	ret = load_meta(m, err, errlen);
	if (ret)
		return ret;
	ret = zt_db_query(m->db, "SELECT id, kind, name, body, created, updated, actor FROM objects"
			  " ORDER BY id", 0, NULL, &r, err, errlen);
	if (ret)
		return ret;
	for (size_t i = 0; i < r->nrows && !ret; i++) {
		struct zt_mobj *o = zt_mobj_from_row(r, i);

		if (!o) {
			snprintf(err, errlen, "database: object %s (%s) cannot be read",
				 zt_db_cell(r, i, 2), zt_db_cell(r, i, 1));
			ret = -EBADMSG;
		} else if ((ret = zt_model_insert(m, o))) {
			zt_mobj_free(o);
			snprintf(err, errlen, "out of memory");
		}
	}
	zt_db_rows_free(r);
	return ret ? ret : zt_audit_load_head(m, err, errlen);
}

int zt_model_open(struct zt_model **out, const char *url, const char *state_dir,
		  const uint8_t controller_pub[ZT_KEY_LEN], char *err, size_t errlen)
{
	struct zt_model *m = calloc(1, sizeof(*m));
	int ret;

	*out = NULL;
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	m->now = real_now;
	m->next_id = 1;
	memcpy(m->controller_pub, controller_pub, ZT_KEY_LEN);
	ret = zt_db_open(url, state_dir, &m->db, err, errlen);
	if (!ret)
		ret = zt_schema_migrate(m->db, 0, err, errlen);
	if (!ret)
		ret = ensure_timeline(m, err, errlen);
	if (!ret)
		ret = zt_model_load(m, err, errlen);
	if (ret) {
		zt_model_close(m);
		return ret;
	}
	*out = m;
	return 0;
}

void zt_model_close(struct zt_model *m)
{
	char err[160];

	if (!m)
		return;
	/* A clean stop loses no queued audit record. */
	if (m->db && zt_model_audit_flush(m, err, sizeof(err)))
		zt_log("warn", "controller: %zu audit records lost at close: %s", m->napend, err);
	zt_audit_pending_free(m);
	for (int k = 0; k < ZT_K__COUNT; k++) {
		for (size_t i = 0; i < m->n[k]; i++)
			zt_mobj_free(m->objs[k][i]);
		free(m->objs[k]);
	}
	for (size_t i = 0; i < m->nrelays; i++)
		free(m->relays[i]);
	free(m->relays);
	zt_connlog_free(m->connlog);
	free(m->rt);
	free(m->rtix);
	zt_view_cache_free(m);
	zt_index_free(m->ix);
	zt_db_close(m->db);
	free(m);
}
