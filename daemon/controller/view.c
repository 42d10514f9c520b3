// SPDX-License-Identifier: GPL-2.0-only
/*
 * Views (node_server.h) compiled from the model, and which nodes a change
 * touches. A connector's view: its network's resources, the devices whose
 * principals' groups have access to any of them, and those grants. A
 * device's view: only the resources its principal's groups may reach, each
 * with a connector of its network, and those connectors' keys and
 * endpoints. A node never receives an object it does not need. A
 * connector's policy is assembled as text from cached fragments
 * (view_conn.c); a device's is small and built as a json-c tree.
 * Called by nodes.c (the node server's view operation) and commit.c (the
 * affected set of a committed transaction).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/internal.h"
#include "controller/model.h"
#include "lib/json_io.h"

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

int zt_objs_add(struct zt_objs *l, const struct zt_mobj *o)
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
void zt_objs_settle(struct zt_objs *l)
{
	size_t k = 0;

	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), by_id);
	for (size_t i = 0; i < l->n; i++)
		if (!k || l->v[k - 1] != l->v[i])
			l->v[k++] = l->v[i];
	l->n = k;
}

json_object *zt_view_resource_entry(const struct zt_mobj *r, const char *connector)
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
static int reached(const struct zt_model *m, const struct zt_mobj *p, struct zt_objs *l)
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

			ret = r ? zt_objs_add(l, r) : 0;
		}
	}
	zt_objs_settle(l);
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
	struct zt_objs rs = { 0 }, cs = { 0 };

	if (reached(m, p, &rs))
		goto fail;
	for (size_t i = 0; i < rs.n; i++) {
		const struct zt_mobj *c = network_connector(m, zt_mobj_str(rs.v[i], "network"));

		json_object_array_add(res, zt_view_resource_entry(rs.v[i], c ? c->name : NULL));
		if (c && zt_objs_add(&cs, c))
			goto fail;
	}
	zt_objs_settle(&cs);
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

/* The view's {"self", "relays"} of node O (a connector when CONN). */
static json_object *view_tail(const struct zt_model *m, const struct zt_mobj *o, bool conn)
{
	json_object *tail = json_object_new_object(), *self = json_object_new_object(), *relays;

	json_object_object_add(self, "kind", json_object_new_string(conn ? "connector" : "device"));
	json_object_object_add(self, "id", json_object_new_int64((int64_t)o->id));
	json_object_object_add(self, "name", json_object_new_string(o->name));
	if (!conn)
		json_object_object_add(self, "address", json_object_new_string(zt_mobj_str(o, "address")));
	else
		json_object_object_add(self, "network", json_object_new_string(zt_mobj_str(o, "network")));
	json_object_object_add(tail, "self", self);
	relays = zt_view_relays(m);
	json_object_object_add(tail, "relays", relays);
	return tail;
}

/* A device's policy as text (malloc'd, *LEN bytes), or NULL. */
static char *device_policy_text(struct zt_model *m, const struct zt_mobj *p, size_t *len)
{
	json_object *policy = device_policy(m, p);

	return policy ? zt_json_take_text(policy, len) : NULL;
}

/*
 * {"policy": POLICY, "self", "relays"} as json-c would serialize that tree:
 * the policy's text, then the tail's members (its text after its '{').
 */
char *zt_model_view_text(struct zt_model *m, const struct zt_node_ident *ident, uint64_t *rev,
			 size_t *len)
{
	static const char head[] = "{\"policy\":";
	bool conn = ident->kind == ZT_NODE_CONNECTOR;
	const struct zt_mobj *o = zt_model_find_id(m, conn ? ZT_K_CONNECTOR : ZT_K_DEVICE, ident->id);
	const struct zt_mobj *p = conn || !o ? NULL : zt_device_owner(m, o);
	json_object *tail = NULL;
	const char *ttext;
	char *policy, *text = NULL;
	size_t plen = 0, tlen, hlen = sizeof(head) - 1;

	if (!o || (!conn && (!p || zt_mobj_bool(p, "disabled"))))
		return NULL;
	policy = conn ? zt_connector_policy_text(m, zt_mobj_str(o, "network"), &plen)
		      : device_policy_text(m, p, &plen);
	if (!policy)
		goto out;
	tail = view_tail(m, o, conn);
	ttext = json_object_to_json_string_ext(tail, JSON_C_TO_STRING_PLAIN);
	tlen = strlen(ttext);	/* "{" "self"... "}": at least "{}" */
	text = malloc(hlen + plen + tlen + 1);
	if (!text)
		goto out;
	memcpy(text, head, hlen);
	memcpy(text + hlen, policy, plen);
	text[hlen + plen] = ',';
	memcpy(text + hlen + plen + 1, ttext + 1, tlen);	/* with its NUL */
	*len = hlen + plen + tlen;
	*rev = m->rev;
out:
	json_object_put(tail);
	free(policy);
	return text;
}

json_object *zt_model_view(struct zt_model *m, const struct zt_node_ident *ident, uint64_t *rev)
{
	size_t len;
	char *text = zt_model_view_text(m, ident, rev, &len);
	json_object *view = text ? json_tokener_parse(text) : NULL;

	free(text);
	return view;
}
