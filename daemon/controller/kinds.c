// SPDX-License-Identifier: GPL-2.0-only
/*
 * The rules of the principals and containers: users (email, display name,
 * role, groups, disabled), groups, service accounts (groups, disabled),
 * remote networks and security policies (session lifetime, allowed hours):
 * how each body is built from an admin request and what keeps one from
 * being removed. The rules table (zt_kind_rules) joins these with
 * netobjs.c's and relays.c's. Called through model.h's add/set/rm (ops.c).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "controller/internal.h"
#include "controller/model.h"
#include "policy/policy.h"

json_object *zt_body_start(const struct zt_mobj *old)
{
	json_object *body = NULL;

	if (!old)
		return json_object_new_object();
	json_object_deep_copy(old->body, &body, NULL);
	return body;
}

int zt_check_name(const char *what, const char *name, char *err, size_t errlen)
{
	size_t len = strlen(name);

	if (len == 0 || len >= ZT_NAME_MAX) {
		snprintf(err, errlen, "invalid %s name '%.64s': must be 1-%d characters", what, name,
			 ZT_NAME_MAX - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (!isalnum((unsigned char)name[i]) && !strchr("-_.", name[i])) {
			snprintf(err, errlen, "invalid %s name '%s': use letters, digits, '-', '_', '.'",
				 what, name);
			return -EINVAL;
		}
	}
	return 0;
}

/* user@domain: printable, no spaces, one '@' with text on both sides. */
static int check_email(const char *s, char *err, size_t errlen)
{
	const char *at = strchr(s, '@');
	size_t len = strlen(s);

	for (size_t i = 0; i < len; i++)
		if (!isgraph((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			at = NULL;
	if (!at || at == s || !at[1] || strchr(at + 1, '@') || len > 128 || !strchr(at, '.')) {
		snprintf(err, errlen, "invalid email '%.128s': expected user@example.com in lower case", s);
		return -EINVAL;
	}
	return 0;
}

/* ARGS's "group" list, each a known group, into BODY's "groups". */
static int set_groups(const struct zt_model *m, json_object *args, json_object *body, char *err,
		      size_t errlen)
{
	json_object *groups = zt_arg_strs(args, "group"), *uniq;

	if (!groups)
		return 0;
	uniq = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(groups); i++) {
		const char *g = json_object_get_string(json_object_array_get_idx(groups, i));
		bool dup = false;

		if (!zt_model_find(m, ZT_K_GROUP, g)) {
			snprintf(err, errlen, "unknown group '%s'", g);
			json_object_put(groups);
			json_object_put(uniq);
			return -ENOENT;
		}
		for (size_t k = 0; k < json_object_array_length(uniq); k++)
			dup |= !strcmp(json_object_get_string(json_object_array_get_idx(uniq, k)), g);
		if (!dup)
			json_object_array_add(uniq, json_object_new_string(g));
	}
	json_object_put(groups);
	json_object_object_add(body, "groups", uniq);
	return 0;
}

/* --disable / --enable on BODY's "disabled" (absent: as it was, false when new). */
static void set_disabled(json_object *args, json_object *body)
{
	if (zt_arg_flag(args, "disable") == 1)
		json_object_object_add(body, "disabled", json_object_new_boolean(1));
	else if (zt_arg_flag(args, "enable") == 1)
		json_object_object_add(body, "disabled", json_object_new_boolean(0));
	else if (!json_object_object_get_ex(body, "disabled", NULL))
		json_object_object_add(body, "disabled", json_object_new_boolean(0));
	if (!json_object_object_get_ex(body, "groups", NULL))
		json_object_object_add(body, "groups", json_object_new_array());
}

static int build_user(struct zt_model *m, const char *name, const struct zt_mobj *old,
		      json_object *args, json_object **out, char *err, size_t errlen)
{
	const char *role = zt_arg_str(args, "role"), *dn = zt_arg_str(args, "display_name");
	json_object *body;
	int ret = old ? 0 : check_email(name, err, errlen);

	if (ret)
		return ret;
	if (role && strcmp(role, "admin") && strcmp(role, "member")) {
		snprintf(err, errlen, "invalid role '%s': admin or member", role);
		return -EINVAL;
	}
	body = zt_body_start(old);
	if (dn)
		json_object_object_add(body, "display_name", json_object_new_string(dn));
	if (role || !old)
		json_object_object_add(body, "role", json_object_new_string(role ? role : "member"));
	ret = set_groups(m, args, body, err, errlen);
	set_disabled(args, body);
	if (ret)
		json_object_put(body);
	else
		*out = body;
	return ret;
}

static int build_sa(struct zt_model *m, const char *name, const struct zt_mobj *old,
		    json_object *args, json_object **out, char *err, size_t errlen)
{
	json_object *body;
	int ret = zt_check_name("service account", name, err, errlen);

	if (ret)
		return ret;
	body = zt_body_start(old);
	ret = set_groups(m, args, body, err, errlen);
	set_disabled(args, body);
	if (ret)
		json_object_put(body);
	else
		*out = body;
	return ret;
}

/* Groups, networks: a name and an optional description. */
static int build_plain(struct zt_model *m, const char *name, const struct zt_mobj *old,
		       json_object *args, json_object **out, char *err, size_t errlen)
{
	const char *desc = zt_arg_str(args, "description");
	int ret = zt_check_name("object", name, err, errlen);

	(void)m;
	if (ret)
		return ret;
	*out = zt_body_start(old);
	if (desc)
		json_object_object_add(*out, "description", json_object_new_string(desc));
	return 0;
}

static int build_policy(struct zt_model *m, const char *name, const struct zt_mobj *old,
			json_object *args, json_object **out, char *err, size_t errlen)
{
	const char *life = zt_arg_str(args, "session_lifetime"), *hours = zt_arg_str(args, "hours");
	const char *tz = zt_arg_str(args, "tz");
	int64_t secs = 0;
	int ret = zt_check_name("policy", name, err, errlen);

	(void)m;
	if (ret)
		return ret;
	if (life && strcmp(life, "0") && (zt_parse_duration(life, &secs) || secs < 10)) {
		snprintf(err, errlen, "invalid session lifetime '%s': e.g. 8h, 30m, 7d (at least 10s)",
			 life);
		return -EINVAL;
	}
	if (hours && *hours && zt_hours_parse(hours, &(int){ 0 }, &(int){ 0 }, &(unsigned int){ 0 })) {
		snprintf(err, errlen, "invalid hours '%s': [Mon-Fri ]HH:MM-HH:MM (UTC, or --tz),"
			 " start and end differ", hours);
		return -EINVAL;
	}
	if (tz && *tz && zt_tz_check(tz)) {
		snprintf(err, errlen, "unknown time zone '%.64s': a name of the tz database, e.g."
			 " Europe/Berlin (see /usr/share/zoneinfo)", tz);
		return -EINVAL;
	}
	*out = zt_body_start(old);
	if (life || !old)
		json_object_object_add(*out, "session_lifetime", json_object_new_int64(life ? secs : 0));
	if (hours)
		json_object_object_add(*out, "hours", json_object_new_string(hours));
	if (tz && *tz)
		json_object_object_add(*out, "tz", json_object_new_string(tz));
	else if (tz)	/* --tz "": UTC again */
		json_object_object_del(*out, "tz");
	return 0;
}

/* How many objects of kind K have string KEY (or string array KEY) naming NAME. */
static size_t refs(const struct zt_model *m, enum zt_kind k, const char *key, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n[k]; i++)
		n += !strcmp(zt_mobj_str(m->objs[k][i], key), name) ||
		     zt_mobj_has(m->objs[k][i], key, name);
	return n;
}

static int busy(const struct zt_mobj *o, size_t n, const char *what, char *err, size_t errlen)
{
	if (!n)
		return 0;
	snprintf(err, errlen, "%s '%s' is still used by %zu %s", zt_kind_name(o->kind), o->name, n,
		 what);
	return -EBUSY;
}

static int group_in_use(const struct zt_model *m, const struct zt_mobj *o, char *err,
			size_t errlen)
{
	int ret = busy(o, refs(m, ZT_K_USER, "groups", o->name) + refs(m, ZT_K_SA, "groups", o->name),
		       "member(s): remove them first", err, errlen);

	return ret ? ret : busy(o, refs(m, ZT_K_ACCESS, "group", o->name),
				"access rule(s): admin access rm first", err, errlen);
}

static int network_in_use(const struct zt_model *m, const struct zt_mobj *o, char *err,
			  size_t errlen)
{
	return busy(o, refs(m, ZT_K_CONNECTOR, "network", o->name) +
		       refs(m, ZT_K_RESOURCE, "network", o->name),
		    "connector(s) and resource(s): remove them first", err, errlen);
}

static int policy_in_use(const struct zt_model *m, const struct zt_mobj *o, char *err,
			 size_t errlen)
{
	return busy(o, refs(m, ZT_K_ACCESS, "policy", o->name), "access rule(s)", err, errlen);
}

static int resource_in_use(const struct zt_model *m, const struct zt_mobj *o, char *err,
			   size_t errlen)
{
	return busy(o, refs(m, ZT_K_ACCESS, "resource", o->name),
		    "access rule(s): admin access rm first", err, errlen);
}

const struct zt_kind_rules zt_kind_rules[ZT_K__COUNT] = {
	[ZT_K_USER] = { .build = build_user },
	[ZT_K_GROUP] = { .build = build_plain, .in_use = group_in_use },
	[ZT_K_SA] = { .build = build_sa },
	[ZT_K_NETWORK] = { .build = build_plain, .in_use = network_in_use },
	[ZT_K_CONNECTOR] = { .build = zt_build_connector },
	[ZT_K_RESOURCE] = { .build = zt_build_resource, .in_use = resource_in_use },
	[ZT_K_POLICY] = { .build = build_policy, .in_use = policy_in_use },
	[ZT_K_ACCESS] = { .build = zt_build_access },
	[ZT_K_DEVICE] = { .build = zt_build_device },
	[ZT_K_RELAY] = { .build = zt_build_relay },
};
