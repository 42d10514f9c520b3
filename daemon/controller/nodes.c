// SPDX-License-Identifier: GPL-2.0-only
/*
 * The node server's operations on the model (node_server.h): enroll with a
 * token, look a node up by its key, compile its view, take its runtime
 * reports (connected, endpoint, applied revision, connection log lines:
 * memory only, never the model, except the connect/disconnect audit
 * records, queued and written together (audit.c); on a shared database a connector's endpoint also goes to the
 * runtime table, for the other controllers' clients). The controller
 * role passes zt_model_node_ops with the model as context to
 * zt_node_server_open.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/db.h"
#include "controller/connlog.h"
#include "controller/internal.h"
#include "controller/model.h"
#include "lib/addr.h"
#include "lib/log.h"

static int op_enroll(void *ctx, const char *token_hash, const uint8_t pub[ZT_KEY_LEN],
		     json_object *hello, struct zt_node_ident *ident, char *err, size_t errlen)
{
	return zt_model_enroll(ctx, token_hash, pub, hello, ident, err, errlen);
}

static int op_lookup(void *ctx, const uint8_t pub[ZT_KEY_LEN], struct zt_node_ident *ident)
{
	return zt_model_lookup_key(ctx, pub, ident);
}

static char *op_view_text(void *ctx, const struct zt_node_ident *ident, uint64_t *rev, size_t *len)
{
	return zt_model_view_text(ctx, ident, rev, len);
}

static const char *str_field(json_object *body, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(body, key, &v) && json_object_is_type(v, json_type_string)
	       ? json_object_get_string(v) : NULL;
}

/*
 * REPORTED as the clients should use it into OUT: a connector listening on
 * any address (0.0.0.0:PORT, [::]:PORT) is reached at the address its
 * connection to us came from (SEEN), with its own port. -EINVAL: not IP:PORT.
 */
static int endpoint_resolve(const char *reported, const char *seen, char *out, size_t len)
{
	struct zt_endpoint ep, from;
	char why[128];
	bool any = true;

	if (zt_endpoint_parse(reported, &ep, why, sizeof(why)))
		return -EINVAL;
	for (int i = zt_addr_is_v4(ep.addr) ? 12 : 0; i < 16; i++)
		any = any && !ep.addr[i];
	if (any && seen[0] && !zt_endpoint_parse(seen, &from, why, sizeof(why))) {
		memcpy(ep.addr, from.addr, sizeof(ep.addr));
		ep.family = from.family;
	}
	zt_endpoint_format(&ep, out, len);
	return 0;
}

/* Write connector ID's endpoint to the runtime table and tell the other controllers. */
static void publish_endpoint(struct zt_model *m, uint64_t id, const char *ep)
{
	char sid[24], now[24], payload[96], err[160];
	const char *p[] = { sid, ep, now }, *pn[] = { payload };

	snprintf(sid, sizeof(sid), "%" PRIu64, id);
	snprintf(now, sizeof(now), "%" PRId64, m->now());
	snprintf(payload, sizeof(payload), "connector %" PRIu64 " %s", id, ep);
	if (zt_db_exec(m->db, "INSERT INTO runtime (kind, id, endpoint, updated) VALUES"
		       " ('connector', $1, $2, $3) ON CONFLICT (kind, id) DO UPDATE SET"
		       " endpoint = excluded.endpoint, updated = excluded.updated", 3, p, err,
		       sizeof(err)) ||
	    zt_db_exec(m->db, "SELECT pg_notify('" ZT_CHANNEL_RUNTIME "', $1)", 1, pn, err,
		       sizeof(err)))
		zt_log("warn", "controller: connector %" PRIu64 "'s endpoint not shared: %s", id, err);
}

void zt_model_set_endpoint(struct zt_model *m, uint64_t id, const char *ep, bool publish)
{
	struct zt_mruntime *rt = zt_model_runtime(m, ZT_NODE_CONNECTOR, id, true);
	struct zt_mobj *c = zt_model_find_id(m, ZT_K_CONNECTOR, id);
	struct zt_node_ident *ids = NULL;
	size_t n = 0;
	int all;

	if (!rt || !ep || !strcmp(rt->endpoint, ep))
		return;
	snprintf(rt->endpoint, sizeof(rt->endpoint), "%s", ep);
	if (publish && m->db->shared)
		publish_endpoint(m, id, ep);
	if (!c)
		return;
	/* The devices that list it must learn. */
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
		if (rt->connected && str_field(body, "endpoint"))
			snprintf(rt->seen, sizeof(rt->seen), "%s", str_field(body, "endpoint"));
		/* Queued: nodes come and go by the thousand (audit.c). */
		zt_model_audit_queue(m, "node", rt->connected ? "node.connect" : "node.disconnect",
				     kind, ident->name, body ? json_object_get(body) : NULL);
	} else if (!strcmp(what, "applied") && json_object_object_get_ex(body, "rev", &v)) {
		rt->applied_rev = (uint64_t)json_object_get_int64(v);
	} else if (!strcmp(what, "endpoint") && ident->kind == ZT_NODE_CONNECTOR) {
		const char *reported = str_field(body, "endpoint");
		char ep[64];

		if (reported && !endpoint_resolve(reported, rt->seen, ep, sizeof(ep)))
			zt_model_set_endpoint(m, ident->id, ep, true);
	} else if (!strcmp(what, "connection") && ident->kind == ZT_NODE_CONNECTOR) {
		if (!m->connlog)
			m->connlog = zt_connlog_new(0);
		zt_connlog_push(m->connlog, body);
	}
}

static int op_admin_auth(void *ctx, const char *key_hash, char *name, size_t namelen,
			 bool *read_only, char *err, size_t errlen)
{
	return zt_model_apikey_check(ctx, key_hash, name, namelen, read_only, err, errlen);
}

static int op_reauth(void *ctx, const struct zt_node_ident *ident, const char *token_hash,
		     char *err, size_t errlen)
{
	return zt_model_reauth(ctx, ident, token_hash, err, errlen);
}

const struct zt_node_server_ops zt_model_node_ops = {
	.admin_auth = op_admin_auth,
	.enroll = op_enroll,
	.lookup = op_lookup,
	.view_text = op_view_text,
	.report = op_report,
	.reauth = op_reauth,
};
