// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reading a policy document (policy/policy.h describes it) into a policy:
 * the document's fields, each resource, device and connector through
 * entry.c's parsers, then (after doc_check.c has given ids and checked the
 * whole) the grants, by name. Errors name the entry: "grants[2]: no device
 * 'bob'". The control socket's apply, store.c's load of
 * STATE_DIR/policy.json, the fuzzer and the tests call it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "policy/internal.h"

static const char *const doc_fields[] = { "version", "resources", "devices", "connectors",
					  "grants", NULL };
static const char *const resource_fields[] = { "name", "id", "address", "tcp", "udp", "icmp",
					       "deny_mode", "connector", NULL };
static const char *const device_fields[] = { "name", "id", "pubkey", "address", "owner",
					     "controller_id", NULL };
static const char *const owner_fields[] = { "user", "service_account", NULL };
static const char *const connector_fields[] = { "name", "pubkey", "endpoint", NULL };
static const char *const grant_fields[] = { "device", "resource", NULL };

/* Every key of O is in ALLOWED (a NULL-terminated list). */
static int check_fields(json_object *o, const char *const *allowed, char *err, size_t errlen)
{
	json_object_object_foreach(o, key, val) {
		const char *const *a;

		(void)val;
		for (a = allowed; *a && strcmp(*a, key); a++)
			;
		if (!*a) {
			snprintf(err, errlen, "unknown field '%.64s'", key);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * O[KEY] in *V: 1 when it is of TYPE, 0 when absent, -EINVAL ("'KEY' must
 * be WHAT") for any other type: json-c would turn 80 into "80".
 */
static int field_get(json_object *o, const char *key, json_type type, const char *what,
		     json_object **v, char *err, size_t errlen)
{
	if (!json_object_object_get_ex(o, key, v))
		return 0;
	if (!json_object_is_type(*v, type)) {
		snprintf(err, errlen, "'%s' must be %s", key, what);
		return -EINVAL;
	}
	return 1;
}

/* A string field: absent is NULL. */
static int field_str(json_object *o, const char *key, const char **out, char *err, size_t errlen)
{
	json_object *v;
	int ret = field_get(o, key, json_type_string, "a string", &v, err, errlen);

	*out = ret > 0 ? json_object_get_string(v) : NULL;
	return ret < 0 ? ret : 0;
}

/* A boolean field: absent is false. */
static int field_bool(json_object *o, const char *key, bool *out, char *err, size_t errlen)
{
	json_object *v;
	int ret = field_get(o, key, json_type_boolean, "true or false", &v, err, errlen);

	*out = ret > 0 && json_object_get_boolean(v);
	return ret < 0 ? ret : 0;
}

/* An id: absent is 0 (to be assigned), else 1..MAX-1. */
static int field_id(json_object *o, uint32_t max, uint32_t *out, char *err, size_t errlen)
{
	json_object *v;
	int ret = field_get(o, "id", json_type_int, "an integer", &v, err, errlen);
	int64_t id;

	*out = 0;
	if (ret <= 0)
		return ret;
	id = json_object_get_int64(v);
	if (id <= 0 || id >= max) {
		snprintf(err, errlen, "invalid id %lld: ids are 1-%u", (long long)id, max - 1);
		return -EINVAL;
	}
	*out = (uint32_t)id;
	return 0;
}

/* O has no field but ALLOWED; its string fields KEYS into OUT (NULL when absent). */
static int read_fields(json_object *o, const char *const *allowed, const char *const *keys,
		       const char **out, char *err, size_t errlen)
{
	int ret = check_fields(o, allowed, err, errlen);

	for (; !ret && *keys; keys++, out++)
		ret = field_str(o, *keys, out, err, errlen);
	return ret;
}

static int parse_resource(struct zt_policy *p, json_object *o, void *ctx, char *err,
			  size_t errlen)
{
	static const char *const keys[] = { "name", "address", "tcp", "udp", "deny_mode",
					    "connector", NULL };
	struct zt_resource_def def;
	const char *v[6];
	uint32_t id;
	bool icmp;
	int ret;

	(void)ctx;
	ret = read_fields(o, resource_fields, keys, v, err, errlen);
	if (!ret)
		ret = field_bool(o, "icmp", &icmp, err, errlen);
	if (!ret)
		ret = field_id(o, ZT_MAX_RESOURCES, &id, err, errlen);
	if (!ret)
		ret = zt_resource_parse(&def, v[0], v[1], v[2], v[3], icmp, v[4], err, errlen);
	if (!ret)
		ret = zt_resource_set_connector(&def, v[5], err, errlen);
	if (ret)
		return ret;
	def.id = id;
	return policy_append_resource(p, &def, err, errlen);
}

/*
 * A device's optional "owner" ({"user": EMAIL} or {"service_account":
 * NAME}) and "controller_id" (1..2^53), as a controller's view gives them.
 */
static int parse_owner(json_object *o, struct zt_device_def *def, char *err, size_t errlen)
{
	json_object *w, *v;
	const char *user = NULL, *sa = NULL, *s;
	int ret = field_get(o, "owner", json_type_object, "an object", &w, err, errlen);

	if (ret > 0) {
		ret = check_fields(w, owner_fields, err, errlen);
		if (!ret)
			ret = field_str(w, "user", &user, err, errlen);
		if (!ret)
			ret = field_str(w, "service_account", &sa, err, errlen);
		if (ret)
			return ret;
		if (!user == !sa)
			return zt_errf(err, errlen, -EINVAL, "'owner' must be {\"user\": EMAIL} or "
				       "{\"service_account\": NAME}");
		s = user ? user : sa;
		if (!*s || strlen(s) >= sizeof(def->owner) || strpbrk(s, "\"\\ \t\r\n"))
			return zt_errf(err, errlen, -EINVAL, "invalid owner '%.64s'", s);
		def->owner_kind = user ? ZT_OWNER_USER : ZT_OWNER_SERVICE_ACCOUNT;
		snprintf(def->owner, sizeof(def->owner), "%s", s);
	}
	if (ret < 0)
		return ret;
	ret = field_get(o, "controller_id", json_type_int, "an integer", &v, err, errlen);
	if (ret > 0) {
		int64_t id = json_object_get_int64(v);

		if (id <= 0 || id > (1ll << 53))
			return zt_errf(err, errlen, -EINVAL, "invalid controller_id %lld", (long long)id);
		def->controller_id = (uint64_t)id;
	}
	return ret < 0 ? ret : 0;
}

static int parse_device(struct zt_policy *p, json_object *o, void *ctx, char *err, size_t errlen)
{
	static const char *const keys[] = { "name", "pubkey", "address", NULL };
	struct zt_device_def def;
	const char *v[3];
	uint32_t id;
	int ret;

	(void)ctx;
	ret = read_fields(o, device_fields, keys, v, err, errlen);
	if (!ret)
		ret = field_id(o, ZT_MAX_DEVICE_ID, &id, err, errlen);
	if (!ret)
		ret = zt_device_parse(&def, v[0], v[1], v[2], err, errlen);
	if (!ret)
		ret = parse_owner(o, &def, err, errlen);
	if (ret)
		return ret;
	def.id = id;
	return policy_append_device(p, &def, err, errlen);
}

static int parse_connector(struct zt_policy *p, json_object *o, void *ctx, char *err,
			   size_t errlen)
{
	static const char *const keys[] = { "name", "pubkey", "endpoint", NULL };
	struct zt_connector_def def;
	const char *v[3];
	int ret;

	(void)ctx;
	ret = read_fields(o, connector_fields, keys, v, err, errlen);
	if (!ret)
		ret = zt_connector_parse(&def, v[0], v[1], v[2], err, errlen);
	if (ret)
		return ret;
	return policy_append_connector(p, &def, err, errlen);
}

/* Reads one entry (a JSON object) of a section into P; CTX is the section's own. */
typedef int (*entry_parser)(struct zt_policy *p, json_object *o, void *ctx, char *err,
			    size_t errlen);

/* The array DOC[SECTION] in *ARR, NULL when absent; -EINVAL when it is no array. */
static int section_array(json_object *doc, const char *section, json_object **arr, char *err,
			 size_t errlen)
{
	if (!json_object_object_get_ex(doc, section, arr)) {
		*arr = NULL;
		return 0;
	}
	if (!json_object_is_type(*arr, json_type_array)) {
		snprintf(err, errlen, "'%s' must be an array", section);
		return -EINVAL;
	}
	return 0;
}

/* Parse every entry of ARR, the array of SECTION, with PARSE: errors name the entry. */
static int parse_entries(struct zt_policy *p, json_object *arr, const char *section,
			 entry_parser parse, void *ctx, char *err, size_t errlen)
{
	size_t i, n = json_object_array_length(arr);
	char sub[400];
	int ret;

	for (i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(o, json_type_object)) {
			snprintf(err, errlen, "%s[%zu]: not an object", section, i);
			return -EINVAL;
		}
		ret = parse(p, o, ctx, sub, sizeof(sub));
		if (ret) {
			snprintf(err, errlen, "%s[%zu]: %s", section, i, sub);
			return ret;
		}
	}
	return 0;
}

/* Parse every entry of the array DOC[SECTION] (absent: none) with PARSE. */
static int parse_section(struct zt_policy *p, json_object *doc, const char *section,
			 entry_parser parse, char *err, size_t errlen)
{
	json_object *arr;
	int ret = section_array(doc, section, &arr, err, errlen);

	if (ret || !arr)
		return ret;
	return parse_entries(p, arr, section, parse, NULL, err, errlen);
}

struct grant_ref {
	struct zt_grant_def g;
	unsigned int idx;
};

static int cmp_grant_ref(const void *a, const void *b)
{
	const struct grant_ref *x = a, *y = b;

	if (x->g.device_id != y->g.device_id)
		return x->g.device_id < y->g.device_id ? -1 : 1;
	if (x->g.resource_id != y->g.resource_id)
		return x->g.resource_id < y->g.resource_id ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * What reading a grant needs: the names it resolves, and where to note it for the
 * duplicate check.
 */
struct grant_ctx {
	const struct doc_refs *refs;
	struct grant_ref *v;
};

/* One grant, its names resolved against the document's own devices and resources. */
static int parse_grant(struct zt_policy *p, json_object *o, void *ctx, char *err, size_t errlen)
{
	struct grant_ctx *c = ctx;
	const struct named_ref *d, *r;
	struct zt_grant_def *g;
	const char *s[2];
	int ret;

	ret = read_fields(o, grant_fields, grant_fields, s, err, errlen);
	if (ret)
		return ret;
	if (!s[0] || !s[1]) {
		snprintf(err, errlen, "a grant needs a device and a resource");
		return -EINVAL;
	}
	d = policy_refs_find(c->refs->dev, p->ndevices, s[0]);
	r = policy_refs_find(c->refs->res, p->count, s[1]);
	if (!d || !r) {
		snprintf(err, errlen, "no %s '%.64s'", d ? "resource" : "device", d ? s[1] : s[0]);
		return -EINVAL;
	}
	g = &p->grants[p->ngrants];
	g->device_id = p->devices[d->idx].id;
	g->resource_id = p->res[r->idx].id;
	c->v[p->ngrants] = (struct grant_ref){ .g = *g, .idx = p->ngrants };
	p->ngrants++;
	return 0;
}

/* The grants array, each grant once. */
static int parse_grants(struct zt_policy *p, json_object *doc, const struct doc_refs *refs,
			char *err, size_t errlen)
{
	struct grant_ctx c = { .refs = refs };
	json_object *arr;
	size_t i, n;
	int ret;

	ret = section_array(doc, "grants", &arr, err, errlen);
	if (ret || !arr)
		return ret;
	n = json_object_array_length(arr);
	if (n > ZT_MAX_GRANTS_PER_GEN) {
		snprintf(err, errlen, "grants: %zu, at most %u", n, ZT_MAX_GRANTS_PER_GEN);
		return -ENOSPC;
	}
	if (!n)
		return 0;
	p->grants = calloc(n, sizeof(*p->grants));
	c.v = calloc(n, sizeof(*c.v));
	if (!p->grants || !c.v) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	p->grants_cap = (unsigned int)n;
	ret = parse_entries(p, arr, "grants", parse_grant, &c, err, errlen);
	if (ret)
		goto out;
	qsort(c.v, n, sizeof(*c.v), cmp_grant_ref);
	for (i = 1; i < n; i++) {
		if (c.v[i - 1].g.device_id == c.v[i].g.device_id &&
		    c.v[i - 1].g.resource_id == c.v[i].g.resource_id) {
			snprintf(err, errlen, "grants[%u]: the same grant as grants[%u]",
				 c.v[i].idx, c.v[i - 1].idx);
			ret = -EINVAL;
			goto out;
		}
	}
out:
	free(c.v);
	return ret;
}

/* The document itself: an object of known fields, of version 1 if it says. */
static int check_doc(json_object *obj, char *err, size_t errlen)
{
	json_object *v;
	char sub[400];
	int ret;

	if (!json_object_is_type(obj, json_type_object)) {
		snprintf(err, errlen, "policy: expected a JSON object");
		return -EINVAL;
	}
	ret = check_fields(obj, doc_fields, sub, sizeof(sub));
	if (ret) {
		snprintf(err, errlen, "policy: %s", sub);
		return ret;
	}
	if (json_object_object_get_ex(obj, "version", &v) &&
	    (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) != 1)) {
		snprintf(err, errlen, "policy: unsupported version %.32s (this ztgate reads 1)",
			 json_object_to_json_string(v));
		return -EINVAL;
	}
	return 0;
}

/* The resources, devices and connectors, in their order, each checked on its own. */
static int parse_sections(struct zt_policy *p, json_object *obj, char *err, size_t errlen)
{
	int ret;

	ret = parse_section(p, obj, "resources", parse_resource, err, errlen);
	if (!ret)
		ret = parse_section(p, obj, "devices", parse_device, err, errlen);
	if (!ret)
		ret = parse_section(p, obj, "connectors", parse_connector, err, errlen);
	if (ret)
		return ret;
	if (p->ndevices >= ZT_MAX_DEVICE_ID || p->nconnectors > ZT_MAX_CONNECTORS) {
		snprintf(err, errlen, "policy: more than %u devices or %u connectors",
			 ZT_MAX_DEVICE_ID - 1, ZT_MAX_CONNECTORS);
		return -ENOSPC;
	}
	return 0;
}

int zt_policy_from_doc(struct zt_policy *p, json_object *obj, const struct zt_policy *prev,
		       char *err, size_t errlen)
{
	struct doc_refs refs = { 0 };
	int ret;

	zt_policy_init(p);
	ret = check_doc(obj, err, errlen);
	if (ret)
		return ret;
	ret = parse_sections(p, obj, err, errlen);
	if (!ret)
		ret = policy_doc_assign_ids(p, prev, err, errlen);
	if (!ret)
		ret = policy_doc_check(p, &refs, err, errlen);
	if (!ret)
		ret = parse_grants(p, obj, &refs, err, errlen);
	policy_doc_refs_free(&refs);
	if (ret)
		zt_policy_free(p);
	return ret;
}

int zt_policy_from_json(struct zt_policy *p, json_object *obj, char *err, size_t errlen)
{
	return zt_policy_from_doc(p, obj, NULL, err, errlen);
}
