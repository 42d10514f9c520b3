// SPDX-License-Identifier: GPL-2.0-only
/*
 * What replacing one policy with another changes, one line per entry, for
 * `ztgate apply --dry-run` (the control socket's apply) and the fuzzer's
 * "a policy differs from itself in nothing": removed entries in the old
 * policy's order, then added and changed ones in the new one's. Both
 * policies are compared as doc_write.c writes them, entry by entry, by
 * name (a grant by its device and resource).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

struct diff_item {
	char *key;		/* the entry's identity: its name, or "device\nresource" */
	json_object *o;
	unsigned int idx;
};

static int cmp_diff_item(const void *a, const void *b)
{
	return strcmp(((const struct diff_item *)a)->key, ((const struct diff_item *)b)->key);
}

static int cmp_diff_key(const void *key, const void *b)
{
	return strcmp(key, ((const struct diff_item *)b)->key);
}

static void diff_items_free(struct diff_item *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i].key);
	free(v);
}

static struct diff_item *diff_items(json_object *arr, bool grants, size_t *n)
{
	struct diff_item *v;
	size_t i;

	*n = json_object_array_length(arr);
	v = calloc(*n ? *n : 1, sizeof(*v));
	if (!v)
		return NULL;
	for (i = 0; i < *n; i++) {
		json_object *o = json_object_array_get_idx(arr, i), *d, *r, *name;
		int ret;

		v[i].o = o;
		v[i].idx = (unsigned int)i;
		if (grants) {
			json_object_object_get_ex(o, "device", &d);
			json_object_object_get_ex(o, "resource", &r);
			ret = asprintf(&v[i].key, "%s\n%s", json_object_get_string(d),
				       json_object_get_string(r));
		} else {
			json_object_object_get_ex(o, "name", &name);
			ret = asprintf(&v[i].key, "%s", json_object_get_string(name));
		}
		if (ret < 0) {
			v[i].key = NULL;
			diff_items_free(v, i);
			return NULL;
		}
	}
	qsort(v, *n, sizeof(*v), cmp_diff_item);
	return v;
}

/* A value as a diff line shows it: strings bare, "" as (none), the rest as JSON. */
static const char *diff_value(json_object *v)
{
	if (!v)
		return "(none)";
	if (json_object_is_type(v, json_type_string))
		return *json_object_get_string(v) ? json_object_get_string(v) : "(none)";
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

/* The line for an entry of KIND that is only in one policy, or changed. */
static char *diff_line(char sign, const char *kind, json_object *from, json_object *to)
{
	json_object *o = to ? to : from;
	bool first = true;
	char *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&line, &len);

	if (!f)
		return NULL;
	if (!strcmp(kind, "grant")) {
		fprintf(f, "%c grant %s %s", sign,
			diff_value(json_object_object_get(o, "device")),
			diff_value(json_object_object_get(o, "resource")));
		goto out;
	}
	fprintf(f, "%c %s %s", sign, kind, diff_value(json_object_object_get(o, "name")));
	if (sign == '-')
		goto out;
	if (sign == '+') {
		json_object_object_foreach(to, key, val) {
			if (strcmp(key, "name"))
				fprintf(f, " %s=%s", key, diff_value(val));
		}
		goto out;
	}
	/* Changed: every field that differs, those only FROM has last. */
	json_object_object_foreach(to, k1, v1) {
		json_object *old = json_object_object_get(from, k1);

		if (json_object_equal(old, v1))
			continue;
		fprintf(f, "%s %s %s -> %s", first ? ":" : ",", k1, diff_value(old), diff_value(v1));
		first = false;
	}
	json_object_object_foreach(from, k2, v2) {
		if (json_object_object_get_ex(to, k2, NULL))
			continue;
		fprintf(f, "%s %s %s -> (none)", first ? ":" : ",", k2, diff_value(v2));
		first = false;
	}
out:
	if (fclose(f)) {
		free(line);
		return NULL;
	}
	return line;
}

static int diff_add_line(json_object *out, char *line)
{
	if (!line)
		return -ENOMEM;
	json_object_array_add(out, json_object_new_string(line));
	free(line);
	return 0;
}

/* V indexed by each item's position in its array. NULL on out of memory. */
static struct diff_item **diff_by_idx(struct diff_item *v, size_t n)
{
	struct diff_item **by_idx = calloc(n ? n : 1, sizeof(*by_idx));
	size_t i;

	if (by_idx)
		for (i = 0; i < n; i++)
			by_idx[v[i].idx] = &v[i];
	return by_idx;
}

/* Removed entries in FROM's order, then added and changed ones in TO's. */
static int diff_section(json_object *out, const char *kind, json_object *from, json_object *to)
{
	bool grants = !strcmp(kind, "grant");
	struct diff_item *a, *b, **a_idx = NULL, **b_idx = NULL;
	size_t na = 0, nb = 0, i;
	int ret = -ENOMEM;

	a = diff_items(from, grants, &na);
	b = diff_items(to, grants, &nb);
	if (!a || !b)
		goto out;
	a_idx = diff_by_idx(a, na);
	b_idx = diff_by_idx(b, nb);
	if (!a_idx || !b_idx)
		goto out;
	for (i = 0; i < na; i++) {
		ret = 0;
		if (!bsearch(a_idx[i]->key, b, nb, sizeof(*b), cmp_diff_key))
			ret = diff_add_line(out, diff_line('-', kind, a_idx[i]->o, NULL));
		if (ret)
			goto out;
	}
	for (i = 0; i < nb; i++) {
		const struct diff_item *old = bsearch(b_idx[i]->key, a, na, sizeof(*a), cmp_diff_key);

		ret = 0;
		if (!old)
			ret = diff_add_line(out, diff_line('+', kind, NULL, b_idx[i]->o));
		else if (!json_object_equal(old->o, b_idx[i]->o))
			ret = diff_add_line(out, diff_line('~', kind, old->o, b_idx[i]->o));
		if (ret)
			goto out;
	}
	ret = 0;
out:
	free(a_idx);
	free(b_idx);
	diff_items_free(a, na);
	diff_items_free(b, nb);
	return ret;
}

json_object *zt_policy_diff(const struct zt_policy *from, const struct zt_policy *to)
{
	static const char *const sections[][2] = {
		{ "resources", "resource" },
		{ "devices", "device" },
		{ "connectors", "connector" },
		{ "grants", "grant" },
	};
	json_object *a = zt_policy_to_json(from), *b = zt_policy_to_json(to);
	json_object *out = json_object_new_array();
	size_t i;

	for (i = 0; out && i < sizeof(sections) / sizeof(sections[0]); i++) {
		if (diff_section(out, sections[i][1], json_object_object_get(a, sections[i][0]),
				 json_object_object_get(b, sections[i][0]))) {
			json_object_put(out);
			out = NULL;
		}
	}
	json_object_put(a);
	json_object_put(b);
	return out;
}
