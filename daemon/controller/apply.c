// SPDX-License-Identifier: GPL-2.0-only
/*
 * The whole model as one document (`ztgate admin export` / `admin apply -f
 * FILE [--dry-run]`): the document's objects are rebuilt by the kinds'
 * rules in a shadow model (so they refer to each other, not to what is
 * there now), its "tests" ({"user"|"service_account", "allow": [...],
 * "deny": [...]}) must pass against it, then the differences from the
 * current model (+ added, ~ changed, - removed) are committed in one
 * transaction, or only listed with --dry-run. Devices are not in the
 * document's hands: they stay, unless their owner goes. Connectors keep
 * their enrolled key. Called by the controller role (admin.apply).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/internal.h"
#include "controller/model.h"

/* The order in which kinds are rebuilt: what is referred to first. */
static const enum zt_kind build_order[] = {
	ZT_K_NETWORK, ZT_K_GROUP, ZT_K_POLICY, ZT_K_USER, ZT_K_SA, ZT_K_CONNECTOR,
	ZT_K_RESOURCE, ZT_K_ACCESS, ZT_K_RELAY,
};

/* An exported object (its body's fields) as the admin request that would make it. */
static json_object *as_args(json_object *obj)
{
	json_object *args = json_object_new_object();
	char num[24];

	json_object_object_foreach(obj, key, val) {
		if (!strcmp(key, "groups"))
			json_object_object_add(args, "group", json_object_get(val));
		else if (!strcmp(key, "disabled"))
			json_object_object_add(args, json_object_get_boolean(val) ? "disable" : "enable",
					       json_object_new_boolean(1));
		else if (!strcmp(key, "icmp") && !json_object_get_boolean(val))
			json_object_object_add(args, "no_icmp", json_object_new_boolean(1));
		else if (json_object_is_type(val, json_type_int)) {
			snprintf(num, sizeof(num), "%lld", (long long)json_object_get_int64(val));
			json_object_object_add(args, key, json_object_new_string(num));
		} else
			json_object_object_add(args, key, json_object_get(val));
	}
	return args;
}

/* Entry I of the document's array for K into SHADOW. */
static int build_one(struct zt_model *shadow, const struct zt_model *m, enum zt_kind k,
		     json_object *e, size_t i, char *err, size_t errlen)
{
	const char *name = zt_arg_str(e, "name");
	json_object *args = as_args(e), *body = NULL;
	char access[160], why[256];
	const struct zt_mobj *cur;
	struct zt_mobj *o;
	int ret;

	if (k == ZT_K_ACCESS) {
		zt_access_name(zt_arg_str(e, "group") ?: "", zt_arg_str(e, "resource") ?: "", access,
			       sizeof(access));
		name = access;
	}
	ret = !name ? -EINVAL : zt_model_find(shadow, k, name) ? -EEXIST : 0;
	if (ret)
		snprintf(why, sizeof(why), name ? "'%s' twice" : "no name", name);
	else
		ret = zt_kind_rules[k].build(shadow, name, NULL, args, &body, why, sizeof(why));
	json_object_put(args);
	if (ret) {
		snprintf(err, errlen, "%s[%zu]: %s", zt_kind_name(k), i, why);
		return ret;
	}
	cur = zt_model_find(m, k, name);
	if (k == ZT_K_CONNECTOR && cur && *zt_mobj_str(cur, "pubkey"))
		json_object_object_add(body, "pubkey", json_object_new_string(zt_mobj_str(cur, "pubkey")));
	o = zt_mobj_new(shadow, k, name, body);
	if (!o || zt_model_insert(shadow, o)) {
		zt_mobj_free(o);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* The document's tests against SHADOW: each principal reaches its "allow", not its "deny". */
static int run_tests(const struct zt_model *shadow, json_object *tests, char *err, size_t errlen)
{
	for (size_t i = 0; tests && i < json_object_array_length(tests); i++) {
		json_object *t = json_object_array_get_idx(tests, i);
		const char *user = zt_arg_str(t, "user"), *sa = zt_arg_str(t, "service_account");
		const struct zt_mobj *p = user ? zt_model_find(shadow, ZT_K_USER, user)
					      : zt_model_find(shadow, ZT_K_SA, sa);

		if (!p) {
			snprintf(err, errlen, "tests[%zu]: no such user or service account", i);
			return -EINVAL;
		}
		for (int allow = 0; allow < 2; allow++) {
			json_object *list = zt_arg_strs(t, allow ? "allow" : "deny");

			for (size_t k = 0; list && k < json_object_array_length(list); k++) {
				const char *r = json_object_get_string(json_object_array_get_idx(list, k));

				if (zt_principal_reaches(shadow, p, r) != allow) {
					snprintf(err, errlen, "tests[%zu]: %s %s reach %s", i, p->name,
						 allow ? "does not" : "would", r);
					json_object_put(list);
					return -EINVAL;
				}
			}
			json_object_put(list);
		}
	}
	return 0;
}

/* "+ kind name", "~ kind name", "- kind name". */
static void note(json_object *changes, char op, const struct zt_mobj *o)
{
	char line[256];

	snprintf(line, sizeof(line), "%c %s %s", op, zt_kind_name(o->kind), o->name);
	json_object_array_add(changes, json_object_new_string(line));
}

/* What turns M into SHADOW, into TX (and CHANGES). */
static int diff(struct zt_model *m, struct zt_model *shadow, struct zt_mtx *tx,
		json_object *changes)
{
	int ret = 0;

	for (size_t b = 0; b < sizeof(build_order) / sizeof(build_order[0]) && !ret; b++) {
		enum zt_kind k = build_order[b];

		for (size_t i = 0; i < shadow->n[k] && !ret; i++) {
			struct zt_mobj *s = shadow->objs[k][i], *cur = zt_model_find(m, k, s->name), *o;
			json_object *body = NULL;

			if (cur && json_object_equal(cur->body, s->body))
				continue;
			json_object_deep_copy(s->body, &body, NULL);
			o = cur ? zt_mobj_edit(m, cur, body) : zt_mobj_new(m, k, s->name, body);
			note(changes, cur ? '~' : '+', o);
			ret = o ? zt_mtx_add(tx, cur ? ZT_OP_SET : ZT_OP_ADD, o, cur) : -ENOMEM;
		}
		for (size_t i = 0; i < m->n[k] && !ret; i++) {
			if (zt_model_find(shadow, k, m->objs[k][i]->name))
				continue;
			note(changes, '-', m->objs[k][i]);
			ret = zt_mtx_add(tx, ZT_OP_RM, m->objs[k][i], NULL);
		}
	}
	/* Devices of principals that go. */
	for (size_t i = 0; i < m->n[ZT_K_DEVICE] && !ret; i++) {
		const struct zt_mobj *p = zt_device_owner(m, m->objs[ZT_K_DEVICE][i]);

		if (p && !zt_model_find(shadow, p->kind, p->name)) {
			note(changes, '-', m->objs[ZT_K_DEVICE][i]);
			ret = zt_mtx_add(tx, ZT_OP_RM, m->objs[ZT_K_DEVICE][i], NULL);
		}
	}
	return ret;
}

/* The document's objects rebuilt in a shadow model; its tests run there. */
static int build_shadow(struct zt_model *shadow, const struct zt_model *m, json_object *doc,
			char *err, size_t errlen)
{
	int ret = 0;

	if (!json_object_is_type(doc, json_type_object)) {
		snprintf(err, errlen, "the model document must be a JSON object");
		return -EINVAL;
	}
	json_object_object_foreach(doc, key, val) {
		(void)val;
		if (strcmp(key, "rev") && strcmp(key, "tests") && strcmp(key, "device") &&
		    zt_kind_from_name(key) < 0) {
			snprintf(err, errlen, "unknown section '%s'", key);
			return -EINVAL;
		}
	}
	for (size_t b = 0; b < sizeof(build_order) / sizeof(build_order[0]) && !ret; b++) {
		enum zt_kind k = build_order[b];
		json_object *arr;

		if (!json_object_object_get_ex(doc, zt_kind_name(k), &arr))
			continue;
		for (size_t i = 0; i < json_object_array_length(arr) && !ret; i++)
			ret = build_one(shadow, m, k, json_object_array_get_idx(arr, i), i, err, errlen);
	}
	return ret ? ret : run_tests(shadow, json_object_object_get(doc, "tests"), err, errlen);
}

int zt_model_apply(struct zt_model *m, json_object *doc, bool dry_run, const char *actor,
		   json_object **changes, char *err, size_t errlen)
{
	struct zt_model *shadow = calloc(1, sizeof(*shadow));
	struct zt_mtx tx;
	int ret;

	*changes = json_object_new_array();
	zt_mtx_init(&tx, actor);
	if (!shadow) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	shadow->now = m->now;
	shadow->next_id = 1;
	ret = build_shadow(shadow, m, doc, err, errlen);
	if (!ret)
		ret = diff(m, shadow, &tx, *changes);
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	if (!ret && !dry_run && tx.n)
		ret = zt_model_commit(m, &tx, err, errlen);
	zt_mtx_free(&tx);
	zt_model_close(shadow);
	if (ret) {
		json_object_put(*changes);
		*changes = NULL;
	}
	return ret;
}
