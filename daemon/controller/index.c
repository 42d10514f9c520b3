// SPDX-License-Identifier: GPL-2.0-only
/*
 * The model's indexes, kept up to date object by object (never rebuilt):
 * a hash table from a key to the objects under it. Keys name an object
 * ("n<kind>:<name>", "i<kind>:<id>") or a relation, which makes the reverse
 * walks of views and affected sets proportional to what is related, not to
 * the whole model:
 *   m:GROUP           users and service accounts in GROUP
 *   ag:GROUP, ar:RES  access rules of a group, of a resource
 *   cn:NET, rn:NET    connectors, resources of a network
 *   do:KIND:OWNER     devices of a user or service account
 *   k:PUBKEY          the connector or device with that key (base64)
 *   a:ADDRESS         the device with that tunnel address
 * Called by model.c/commit.c (insert, remove) and view.c/affected.c (walks).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/internal.h"
#include "controller/model.h"

struct ix_slot {
	char *key;			/* NULL: empty */
	struct zt_mobj **v;
	size_t n, cap;
};

struct zt_index {
	struct ix_slot *slots;
	size_t nslots, used;		/* power of two; keys held */
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static struct ix_slot *lookup(const struct zt_index *ix, const char *key)
{
	size_t i;

	if (!ix || !ix->nslots)
		return NULL;
	for (i = hash(key) & (ix->nslots - 1); ix->slots[i].key; i = (i + 1) & (ix->nslots - 1))
		if (!strcmp(ix->slots[i].key, key))
			return &ix->slots[i];
	return &ix->slots[i];
}

static int grow(struct zt_index *ix)
{
	size_t n = ix->nslots ? ix->nslots * 2 : 256;
	struct zt_index next = { .slots = calloc(n, sizeof(struct ix_slot)), .nslots = n };

	if (!next.slots)
		return -ENOMEM;
	for (size_t i = 0; i < ix->nslots; i++) {
		if (ix->slots[i].key) {
			*lookup(&next, ix->slots[i].key) = ix->slots[i];
			next.used++;
		}
	}
	free(ix->slots);
	*ix = next;
	return 0;
}

static int ix_add(struct zt_index *ix, const char *key, struct zt_mobj *o)
{
	struct ix_slot *s;

	if ((ix->used + 1) * 2 > ix->nslots && grow(ix))
		return -ENOMEM;
	s = lookup(ix, key);
	if (!s->key) {
		s->key = strdup(key);
		if (!s->key)
			return -ENOMEM;
		ix->used++;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 2;
		struct zt_mobj **v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = o;
	return 0;
}

static void ix_del(struct zt_index *ix, const char *key, const struct zt_mobj *o)
{
	struct ix_slot *s = lookup(ix, key);

	for (size_t i = 0; s && s->key && i < s->n; i++) {
		if (s->v[i] == o) {
			s->v[i] = s->v[--s->n];
			return;
		}
	}
}

struct zt_mobj *const *zt_index_get(const struct zt_model *m, const char *key, size_t *n)
{
	const struct ix_slot *s = lookup(m->ix, key);

	*n = s && s->key ? s->n : 0;
	return *n ? s->v : NULL;
}

struct zt_mobj *const *zt_index_related(const struct zt_model *m, const char *prefix,
				       const char *name, size_t *n)
{
	char key[320];

	snprintf(key, sizeof(key), "%s:%s", prefix, name);
	return zt_index_get(m, key, n);
}

struct zt_mobj *zt_index_one(const struct zt_model *m, const char *key)
{
	size_t n;
	struct zt_mobj *const *v = zt_index_get(m, key, &n);

	return n ? v[0] : NULL;
}

void zt_index_free(struct zt_index *ix)
{
	if (!ix)
		return;
	for (size_t i = 0; i < ix->nslots; i++) {
		free(ix->slots[i].key);
		free(ix->slots[i].v);
	}
	free(ix->slots);
	free(ix);
}

/* Each key O is found under, by F(IX, KEY, O). */
static int keys(struct zt_index *ix, struct zt_mobj *o,
		int (*f)(struct zt_index *ix, const char *key, struct zt_mobj *o))
{
	char key[320];
	json_object *groups;
	int ret;

	snprintf(key, sizeof(key), "n%d:%s", o->kind, o->name);
	ret = f(ix, key, o);
	snprintf(key, sizeof(key), "i%d:%" PRIu64, o->kind, o->id);
	ret = ret ? ret : f(ix, key, o);
	if (*zt_mobj_str(o, "pubkey")) {
		snprintf(key, sizeof(key), "k:%s", zt_mobj_str(o, "pubkey"));
		ret = ret ? ret : f(ix, key, o);
	}
	switch (o->kind) {
	case ZT_K_USER:
	case ZT_K_SA:
		if (!json_object_object_get_ex(o->body, "groups", &groups))
			break;
		for (size_t i = 0; !ret && i < json_object_array_length(groups); i++) {
			snprintf(key, sizeof(key), "m:%s",
				 json_object_get_string(json_object_array_get_idx(groups, i)));
			ret = f(ix, key, o);
		}
		break;
	case ZT_K_ACCESS:
		snprintf(key, sizeof(key), "ag:%s", zt_mobj_str(o, "group"));
		ret = ret ? ret : f(ix, key, o);
		snprintf(key, sizeof(key), "ar:%s", zt_mobj_str(o, "resource"));
		ret = ret ? ret : f(ix, key, o);
		break;
	case ZT_K_CONNECTOR:
	case ZT_K_RESOURCE:
		snprintf(key, sizeof(key), "%cn:%s", o->kind == ZT_K_CONNECTOR ? 'c' : 'r',
			 zt_mobj_str(o, "network"));
		ret = ret ? ret : f(ix, key, o);
		break;
	case ZT_K_DEVICE:
		snprintf(key, sizeof(key), "do:%s:%s", zt_mobj_str(o, "owner_kind"),
			 zt_mobj_str(o, "owner"));
		ret = ret ? ret : f(ix, key, o);
		snprintf(key, sizeof(key), "a:%s", zt_mobj_str(o, "address"));
		ret = ret ? ret : f(ix, key, o);
		break;
	default:
		break;
	}
	return ret;
}

static int del_one(struct zt_index *ix, const char *key, struct zt_mobj *o)
{
	ix_del(ix, key, o);
	return 0;
}

int zt_index_insert(struct zt_model *m, struct zt_mobj *o)
{
	if (!m->ix) {
		m->ix = calloc(1, sizeof(*m->ix));
		if (!m->ix)
			return -ENOMEM;
	}
	return keys(m->ix, o, ix_add);
}

void zt_index_remove(struct zt_model *m, struct zt_mobj *o)
{
	if (m->ix)
		keys(m->ix, o, del_one);
}
