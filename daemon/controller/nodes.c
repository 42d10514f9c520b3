// SPDX-License-Identifier: GPL-2.0-only
/*
 * The node server's operations on the model (node_server.h): enroll with a
 * token, look a node up by its key, compile its view, take its runtime
 * reports (connected, endpoint, applied revision, connection log lines:
 * memory only, never the database, except the connect/disconnect audit
 * records). The controller
 * role passes zt_model_node_ops with the model as context to
 * zt_node_server_open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/connlog.h"
#include "controller/internal.h"
#include "controller/model.h"

static int op_enroll(void *ctx, const char *token_hash, const uint8_t pub[ZT_KEY_LEN],
		     json_object *hello, struct zt_node_ident *ident, char *err, size_t errlen)
{
	return zt_model_enroll(ctx, token_hash, pub, hello, ident, err, errlen);
}

static int op_lookup(void *ctx, const uint8_t pub[ZT_KEY_LEN], struct zt_node_ident *ident)
{
	return zt_model_lookup_key(ctx, pub, ident);
}

static json_object *op_view(void *ctx, const struct zt_node_ident *ident, uint64_t *rev)
{
	return zt_model_view(ctx, ident, rev);
}

static const char *str_field(json_object *body, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(body, key, &v) && json_object_is_type(v, json_type_string)
	       ? json_object_get_string(v) : NULL;
}

/* A connector's endpoint moved: the devices that list it must learn. */
static void endpoint_moved(struct zt_model *m, const struct zt_node_ident *ident,
			   struct zt_mruntime *rt, const char *ep)
{
	struct zt_mobj *c = zt_model_find_id(m, ZT_K_CONNECTOR, ident->id);
	struct zt_node_ident *ids = NULL;
	size_t n = 0;
	int all;

	if (!ep || !strcmp(rt->endpoint, ep) || ident->kind != ZT_NODE_CONNECTOR || !c)
		return;
	snprintf(rt->endpoint, sizeof(rt->endpoint), "%s", ep);
	all = zt_model_affected(m, c, NULL, &ids, &n);
	for (size_t i = 0; m->changed && i < n; i++)
		if (ids[i].kind == ZT_NODE_DEVICE)
			m->changed(m->changed_arg, &ids[i]);
	if (m->changed && all)
		m->changed(m->changed_arg, NULL);
	free(ids);
}

static void op_report(void *ctx, const struct zt_node_ident *ident, const char *what,
		      json_object *body)
{
	struct zt_model *m = ctx;
	struct zt_mruntime *rt = zt_model_runtime(m, ident->kind, ident->id, true);
	const char *kind = ident->kind == ZT_NODE_CONNECTOR ? "connector" : "device";
	json_object *v;

	if (!rt)
		return;
	if (!strcmp(what, "connect") || !strcmp(what, "disconnect")) {
		rt->connected = !strcmp(what, "connect");
		rt->since = m->now();
		zt_model_audit_event(m, "node", rt->connected ? "node.connect" : "node.disconnect",
				     kind, ident->name, body ? json_object_get(body) : NULL);
	} else if (!strcmp(what, "applied") && json_object_object_get_ex(body, "rev", &v)) {
		rt->applied_rev = (uint64_t)json_object_get_int64(v);
	} else if (!strcmp(what, "endpoint")) {
		endpoint_moved(m, ident, rt, str_field(body, "endpoint"));
	} else if (!strcmp(what, "connection") && ident->kind == ZT_NODE_CONNECTOR) {
		if (!m->connlog)
			m->connlog = zt_connlog_new(0);
		zt_connlog_push(m->connlog, body);
	}
}

static int op_reauth(void *ctx, const struct zt_node_ident *ident, const char *token_hash,
		     char *err, size_t errlen)
{
	return zt_model_reauth(ctx, ident, token_hash, err, errlen);
}

const struct zt_node_server_ops zt_model_node_ops = {
	.enroll = op_enroll,
	.lookup = op_lookup,
	.view = op_view,
	.report = op_report,
	.reauth = op_reauth,
};
