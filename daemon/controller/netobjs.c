// SPDX-License-Identifier: GPL-2.0-only
/*
 * The rules of what sits in a remote network and who may reach it:
 * connectors (their network; the key comes at enrollment), resources (the
 * policy module's parser checks address, ports, ICMP, deny mode; an
 * optional alias), access rules (group -> resource, optionally under a
 * security policy) and devices (made at enrollment only). Used through
 * zt_kind_rules (kinds.c) by the admin operations (ops.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "controller/internal.h"
#include "controller/model.h"
#include "policy/policy.h"

/* ARGS's "network" (or OLD's) as a known network into BODY. */
static int take_network(const struct zt_model *m, json_object *args, json_object *body,
			char *err, size_t errlen)
{
	const char *net = zt_arg_str(args, "network");

	if (!net && json_object_object_get_ex(body, "network", NULL))
		return 0;
	if (!net) {
		snprintf(err, errlen, "--network NET is needed");
		return -EINVAL;
	}
	if (!zt_model_find(m, ZT_K_NETWORK, net)) {
		snprintf(err, errlen, "unknown network '%s'", net);
		return -ENOENT;
	}
	json_object_object_add(body, "network", json_object_new_string(net));
	return 0;
}

int zt_build_connector(struct zt_model *m, const char *name, const struct zt_mobj *old,
		       json_object *args, json_object **out, char *err, size_t errlen)
{
	json_object *body;
	int ret = zt_check_name("connector", name, err, errlen);

	if (ret)
		return ret;
	body = zt_body_start(old);
	ret = take_network(m, args, body, err, errlen);
	if (ret)
		json_object_put(body);
	else
		*out = body;
	return ret;
}

/* ARGS's STR field KEY, else BODY's (a set keeps what it does not name). */
static const char *field(json_object *args, json_object *body, const char *key)
{
	const char *v = zt_arg_str(args, key);
	json_object *o;

	if (v)
		return *v ? v : NULL;
	if (json_object_object_get_ex(body, key, &o) && json_object_is_type(o, json_type_string))
		return *json_object_get_string(o) ? json_object_get_string(o) : NULL;
	return NULL;
}

/* Another resource with DEF's address, or NULL. */
static const struct zt_mobj *same_address(const struct zt_model *m, const char *name,
					  const char *address)
{
	for (size_t i = 0; i < m->n[ZT_K_RESOURCE]; i++) {
		const struct zt_mobj *r = m->objs[ZT_K_RESOURCE][i];

		if (strcmp(r->name, name) && !strcmp(zt_mobj_str(r, "address"), address))
			return r;
	}
	return NULL;
}

/* The resource's fields as the policy module normalised them, into BODY. */
static void put_resource(json_object *body, const struct zt_resource_def *def, const char *alias)
{
	json_object *j = zt_resource_to_json(def);

	json_object_object_foreach(j, key, val)
		if (strcmp(key, "name") && strcmp(key, "id") && strcmp(key, "connector"))
			json_object_object_add(body, key, json_object_get(val));
	json_object_put(j);
	if (alias)
		json_object_object_add(body, "alias", json_object_new_string(alias));
}

int zt_build_resource(struct zt_model *m, const char *name, const struct zt_mobj *old,
		      json_object *args, json_object **out, char *err, size_t errlen)
{
	json_object *body = zt_body_start(old), *icmp_old;
	struct zt_resource_def def;
	const struct zt_mobj *dup;
	int icmp = zt_arg_flag(args, "icmp");
	const char *alias = zt_arg_str(args, "alias");
	int ret = take_network(m, args, body, err, errlen);

	if (zt_arg_flag(args, "no_icmp") == 1)
		icmp = 0;
	else if (icmp < 0)
		icmp = json_object_object_get_ex(body, "icmp", &icmp_old) &&
		       json_object_get_boolean(icmp_old);
	if (!ret && !field(args, body, "address")) {
		snprintf(err, errlen, "--address ADDR is needed");
		ret = -EINVAL;
	}
	if (!ret)
		ret = zt_resource_parse(&def, name, field(args, body, "address"),
					field(args, body, "tcp"), field(args, body, "udp"), icmp,
					field(args, body, "deny_mode"), err, errlen);
	if (!ret && alias && *alias)
		ret = zt_check_name("alias", alias, err, errlen);
	if (!ret) {
		put_resource(body, &def, alias);
		dup = same_address(m, name, zt_mobj_str(&(struct zt_mobj){ .body = body }, "address"));
		if (dup) {
			snprintf(err, errlen, "address %s is already resource '%s''s",
				 zt_mobj_str(dup, "address"), dup->name);
			ret = -EEXIST;
		}
	}
	if (ret)
		json_object_put(body);
	else
		*out = body;
	return ret;
}

int zt_build_access(struct zt_model *m, const char *name, const struct zt_mobj *old,
		    json_object *args, json_object **out, char *err, size_t errlen)
{
	const char *group = old ? zt_mobj_str(old, "group") : zt_arg_str(args, "group");
	const char *res = old ? zt_mobj_str(old, "resource") : zt_arg_str(args, "resource");
	const char *policy = zt_arg_str(args, "policy");

	(void)name;
	if (!group || !res) {
		snprintf(err, errlen, "--group GROUP and --resource RESOURCE are needed");
		return -EINVAL;
	}
	if (!zt_model_find(m, ZT_K_GROUP, group)) {
		snprintf(err, errlen, "unknown group '%s'", group);
		return -ENOENT;
	}
	if (!zt_model_find(m, ZT_K_RESOURCE, res)) {
		snprintf(err, errlen, "unknown resource '%s'", res);
		return -ENOENT;
	}
	if (policy && *policy && !zt_model_find(m, ZT_K_POLICY, policy)) {
		snprintf(err, errlen, "unknown policy '%s'", policy);
		return -ENOENT;
	}
	*out = zt_body_start(old);
	json_object_object_add(*out, "group", json_object_new_string(group));
	json_object_object_add(*out, "resource", json_object_new_string(res));
	if (policy)
		json_object_object_add(*out, "policy", json_object_new_string(policy));
	return 0;
}

int zt_build_device(struct zt_model *m, const char *name, const struct zt_mobj *old,
		    json_object *args, json_object **out, char *err, size_t errlen)
{
	(void)name;
	if (old)	/* a service account's key renewed in place (keys.c) */
		return zt_device_key_renew(m, old, args, out, err, errlen);
	(void)args, (void)out;
	snprintf(err, errlen, "devices are made at enrollment: admin device token --user EMAIL");
	return -EINVAL;
}
