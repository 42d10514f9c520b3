// SPDX-License-Identifier: GPL-2.0-only
/*
 * The admin operations every kind shares (model.h): add, set, rm and group
 * membership, each one transaction built from the kinds' rules (kinds.c,
 * netobjs.c) and committed by commit.c; and the request argument helpers.
 * Called by the controller role's admin commands.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "controller/internal.h"
#include "controller/model.h"

const char *zt_arg_str(json_object *args, const char *key)
{
	json_object *v;

	if (!args || !json_object_object_get_ex(args, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int zt_arg_flag(json_object *args, const char *key)
{
	json_object *v;

	if (!args || !json_object_object_get_ex(args, key, &v) || json_object_is_type(v, json_type_null))
		return -1;
	if (json_object_is_type(v, json_type_string))
		return !strcmp(json_object_get_string(v), "true") || !strcmp(json_object_get_string(v), "yes");
	return json_object_get_boolean(v);
}

json_object *zt_arg_strs(json_object *args, const char *key)
{
	json_object *v, *arr;

	if (!args || !json_object_object_get_ex(args, key, &v))
		return NULL;
	arr = json_object_new_array();
	if (json_object_is_type(v, json_type_string)) {
		if (*json_object_get_string(v))
			json_object_array_add(arr, json_object_get(v));
		return arr;
	}
	for (size_t i = 0; json_object_is_type(v, json_type_array) &&
			   i < json_object_array_length(v); i++) {
		json_object *e = json_object_array_get_idx(v, i);

		if (json_object_is_type(e, json_type_string))
			json_object_array_add(arr, json_object_get(e));
	}
	return arr;
}

void zt_access_name(const char *group, const char *resource, char *out, size_t len)
{
	snprintf(out, len, "%s:%s", group, resource);
}

/* Commit TX (one change), its object's JSON in *OUT when OUT. */
static int commit_one(struct zt_model *m, struct zt_mtx *tx, json_object **out, char *err,
		      size_t errlen)
{
	struct zt_mobj *o = tx->ch[0].obj;	/* the model's once committed */
	int ret = zt_model_commit(m, tx, err, errlen);

	if (out && !ret)
		*out = zt_mobj_to_json(o);
	return ret;
}

int zt_model_add(struct zt_model *m, enum zt_kind k, const char *name, json_object *args,
		 const char *actor, json_object **out, char *err, size_t errlen)
{
	char access[160];
	json_object *body = NULL;
	struct zt_mobj *o;
	struct zt_mtx tx;
	int ret;

	if (k == ZT_K_ACCESS) {
		zt_access_name(zt_arg_str(args, "group") ?: "", zt_arg_str(args, "resource") ?: "",
			       access, sizeof(access));
		name = access;
	}
	if (!name || !*name) {
		snprintf(err, errlen, "%s: a name is needed", zt_kind_name(k));
		return -EINVAL;
	}
	if (zt_model_find(m, k, name)) {
		snprintf(err, errlen, "%s '%s' already exists", zt_kind_name(k), name);
		return -EEXIST;
	}
	ret = zt_kind_rules[k].build(m, name, NULL, args, &body, err, errlen);
	if (ret)
		return ret;
	o = zt_mobj_new(m, k, name, body);
	zt_mtx_init(&tx, actor);
	ret = o ? zt_mtx_add(&tx, ZT_OP_ADD, o, NULL) : -ENOMEM;
	if (!ret)
		ret = commit_one(m, &tx, out, err, errlen);
	else
		snprintf(err, errlen, "out of memory");
	zt_mtx_free(&tx);
	return ret;
}

/* Edit OLD into BODY (taken) in one transaction. */
static int edit(struct zt_model *m, struct zt_mobj *old, json_object *body, const char *actor,
		json_object **out, char *err, size_t errlen)
{
	struct zt_mobj *o = zt_mobj_edit(m, old, body);
	struct zt_mtx tx;
	int ret;

	zt_mtx_init(&tx, actor);
	ret = o ? zt_mtx_add(&tx, ZT_OP_SET, o, old) : -ENOMEM;
	if (!ret)
		ret = commit_one(m, &tx, out, err, errlen);
	else
		snprintf(err, errlen, "out of memory");
	zt_mtx_free(&tx);
	return ret;
}

int zt_model_set(struct zt_model *m, enum zt_kind k, const char *name, json_object *args,
		 const char *actor, json_object **out, char *err, size_t errlen)
{
	struct zt_mobj *old = zt_model_find(m, k, name);
	json_object *body = NULL;
	int ret;

	if (!old) {
		snprintf(err, errlen, "no %s '%s'", zt_kind_name(k), name ? name : "");
		return -ENOENT;
	}
	ret = zt_kind_rules[k].build(m, name, old, args, &body, err, errlen);
	if (ret)
		return ret;
	return edit(m, old, body, actor, out, err, errlen);
}

/* Devices of principal P (a user or service account) into TX, to go with it. */
static int rm_devices(struct zt_model *m, struct zt_mtx *tx, const struct zt_mobj *p)
{
	int ret = 0;

	for (size_t i = 0; i < m->n[ZT_K_DEVICE] && !ret; i++) {
		struct zt_mobj *d = m->objs[ZT_K_DEVICE][i];

		if (zt_device_owner(m, d) == p)
			ret = zt_mtx_add(tx, ZT_OP_RM, d, NULL);
	}
	return ret;
}

int zt_model_rm(struct zt_model *m, enum zt_kind k, const char *name, const char *actor,
		char *err, size_t errlen)
{
	struct zt_mobj *o = zt_model_find(m, k, name);
	struct zt_mtx tx;
	int ret;

	if (!o) {
		snprintf(err, errlen, "no %s '%s'", zt_kind_name(k), name ? name : "");
		return -ENOENT;
	}
	if (zt_kind_rules[k].in_use) {
		ret = zt_kind_rules[k].in_use(m, o, err, errlen);
		if (ret)
			return ret;
	}
	zt_mtx_init(&tx, actor);
	ret = zt_mtx_add(&tx, ZT_OP_RM, o, NULL);
	if (!ret && (k == ZT_K_USER || k == ZT_K_SA))
		ret = rm_devices(m, &tx, o);
	if (ret)
		snprintf(err, errlen, "out of memory");
	else
		ret = zt_model_commit(m, &tx, err, errlen);
	zt_mtx_free(&tx);
	return ret;
}

/* BODY's "groups" with GROUP added or taken out. */
static json_object *groups_edit(const struct zt_mobj *p, const char *group, bool add)
{
	json_object *body = NULL, *groups, *next = json_object_new_array();

	json_object_deep_copy(p->body, &body, NULL);
	if (json_object_object_get_ex(body, "groups", &groups)) {
		for (size_t i = 0; i < json_object_array_length(groups); i++) {
			json_object *g = json_object_array_get_idx(groups, i);

			if (strcmp(json_object_get_string(g), group))
				json_object_array_add(next, json_object_get(g));
		}
	}
	if (add)
		json_object_array_add(next, json_object_new_string(group));
	json_object_object_add(body, "groups", next);
	return body;
}

int zt_model_member(struct zt_model *m, const char *group, const char *member, bool add,
		    const char *actor, char *err, size_t errlen)
{
	enum zt_kind k = member && strchr(member, '@') ? ZT_K_USER : ZT_K_SA;
	struct zt_mobj *p = zt_model_find(m, k, member);

	if (!zt_model_find(m, ZT_K_GROUP, group)) {
		snprintf(err, errlen, "no group '%s'", group ? group : "");
		return -ENOENT;
	}
	if (!p) {
		snprintf(err, errlen, "no %s '%s'", zt_kind_name(k), member ? member : "");
		return -ENOENT;
	}
	if (zt_mobj_has(p, "groups", group) == add) {
		snprintf(err, errlen, "%s '%s' is %s a member of group '%s'", zt_kind_name(k), member,
			 add ? "already" : "not", group);
		return add ? -EEXIST : -ENOENT;
	}
	return edit(m, p, groups_edit(p, group, add), actor, NULL, err, errlen);
}
