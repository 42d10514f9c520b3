// SPDX-License-Identifier: GPL-2.0-only
/*
 * The controller's admin commands on the control socket (`ztgate admin
 * ...`): one table, "admin.KIND.VERB" for every kind the model has (add,
 * list, show, set, rm), tokens, group membership, status, the audit trail
 * and the export. Each handler reads the request, calls the model (which
 * validates, commits and audits) and answers; the actor is the peer's uid
 * from SO_PEERCRED. Called by core/control.c through zt_role_ops.commands.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/mem.h>

#include "controller/connlog.h"
#include "controller/db.h"
#include "controller/model.h"
#include "controller/node_server.h"
#include "controlplane/token.h"
#include "core/control.h"
#include "core/daemon.h"
#include "lib/log.h"
#include "lib/version.h"
#include "roles/controller.h"

const char *zt_controller_db_url(const struct controller_role *cr)
{
	return cr->model->db->url;
}

static struct zt_model *model_of(struct zt_daemon *d)
{
	return ((struct controller_role *)d->role)->model;
}

/* Who asked: "api-key:NAME" remotely, or "uid:N" from the kernel's credentials. */
static void actor_of(const struct zt_ctl_req *r, char *out, size_t len)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);

	if (r->actor)
		snprintf(out, len, "%s", r->actor);
	else if (r->peer_fd >= 0 && !getsockopt(r->peer_fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen))
		snprintf(out, len, "uid:%u", (unsigned int)cred.uid);
	else
		snprintf(out, len, "local");
}

/* The kind of "admin.KIND.VERB". */
static int kind_of(const struct zt_ctl_req *r)
{
	const char *cmd = zt_ctl_str(r, "cmd") + strlen("admin.");
	char kind[32];

	snprintf(kind, sizeof(kind), "%.*s", (int)strcspn(cmd, "."), cmd);
	return zt_kind_from_name(kind);
}

static json_object *reply_object(const char *key, json_object *val)
{
	json_object *o = zt_ctl_ok();

	json_object_object_add(o, key, val);
	return o;
}

/* NAME, or for an access rule "GROUP:RESOURCE" from --group/--resource. */
static const char *name_of(const struct zt_ctl_req *r, char *buf, size_t len)
{
	if (kind_of(r) != ZT_K_ACCESS || zt_ctl_str(r, "name"))
		return zt_ctl_str(r, "name");
	snprintf(buf, len, "%s:%s", zt_ctl_str(r, "group") ?: "", zt_ctl_str(r, "resource") ?: "");
	return buf;
}

static json_object *cmd_add(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	json_object *obj = NULL;
	char err[256], actor[96];

	actor_of(r, actor, sizeof(actor));
	if (zt_model_add(model_of(d), (enum zt_kind)kind_of(r), zt_ctl_str(r, "name"), r->args,
			 actor, &obj, err, sizeof(err)))
		return zt_ctl_error(err);
	return reply_object("object", obj);
}

/* `admin KIND set NAME ...`; an access rule is named by --group and --resource. */
static json_object *cmd_set(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	json_object *obj = NULL;
	char err[256], actor[96], buf[160];

	actor_of(r, actor, sizeof(actor));
	if (zt_model_set(model_of(d), (enum zt_kind)kind_of(r), name_of(r, buf, sizeof(buf)),
			 r->args, actor, &obj, err, sizeof(err)))
		return zt_ctl_error(err);
	return reply_object("object", obj);
}

/*
 * `admin KIND rm NAME`. The nodes that go with the object (a device, a
 * connector, a user's or service account's devices) lose their controller
 * session at once, not at the next view push.
 */
static json_object *cmd_rm(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	struct controller_role *cr = d->role;
	char err[256], actor[96], buf[160];
	const char *name = name_of(r, buf, sizeof(buf));
	enum zt_kind k = (enum zt_kind)kind_of(r);
	struct zt_node_ident *gone = NULL;
	size_t ngone = 0;

	actor_of(r, actor, sizeof(actor));
	if (zt_model_nodes_of(model_of(d), k, name, &gone, &ngone))
		return zt_ctl_error("out of memory");
	if (zt_model_rm(model_of(d), k, name, actor, err, sizeof(err))) {
		free(gone);
		return zt_ctl_error(err);
	}
	for (size_t i = 0; cr->server && i < ngone; i++)
		zt_node_server_disconnect(cr->server, &gone[i]);
	free(gone);
	return reply_object("removed", json_object_new_string(name));
}

static json_object *cmd_list(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	return reply_object("items", zt_model_list(model_of(d), (enum zt_kind)kind_of(r)));
}

static json_object *cmd_show(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	char err[256], buf[160];
	const char *name = name_of(r, buf, sizeof(buf));
	const struct zt_mobj *o = zt_model_find(model_of(d), (enum zt_kind)kind_of(r), name);

	if (!o) {
		snprintf(err, sizeof(err), "no %s '%s'", zt_kind_name((enum zt_kind)kind_of(r)),
			 name ? name : "");
		return zt_ctl_error(err);
	}
	return reply_object("object", zt_mobj_to_json(o));
}

/* A token for KIND NAME (its key living KEY_TTL, 0: always) into REPLY: {"token", "expires", "for", "name"}. */
static int add_token(struct zt_daemon *d, const struct zt_ctl_req *r, enum zt_kind kind,
		     const char *name, int64_t key_ttl, json_object *reply, char *err,
		     size_t errlen)
{
	const char *exp = zt_ctl_str(r, "expires");
	int64_t ttl = ZT_TOKEN_DEFAULT_TTL_S, expires;
	char text[ZT_TOKEN_TEXT_LEN + 1], actor[96];
	int ret;

	if (exp && zt_parse_duration(exp, &ttl)) {
		snprintf(err, errlen, "invalid --expires '%s': e.g. 24h, 30m, 7d", exp);
		return -EINVAL;
	}
	actor_of(r, actor, sizeof(actor));
	ret = zt_model_token(model_of(d), kind, name, ttl, key_ttl, actor, text, sizeof(text),
			     &expires, err, errlen);
	if (ret)
		return ret;
	json_object_object_add(reply, "for", json_object_new_string(zt_kind_name(kind)));
	json_object_object_add(reply, "name", json_object_new_string(name));
	json_object_object_add(reply, "expires", json_object_new_int64(expires));
	json_object_object_add(reply, "token", json_object_new_string(text));
	return 0;
}

/* `admin connector add NAME --network NET [--expires D]`: the connector and its token. */
static json_object *cmd_connector_add(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	json_object *reply = cmd_add(d, r), *ok;
	char err[256];

	if (!json_object_object_get_ex(reply, "ok", &ok) || !json_object_get_boolean(ok))
		return reply;
	if (add_token(d, r, ZT_K_CONNECTOR, zt_ctl_str(r, "name"), 0, reply, err, sizeof(err))) {
		json_object_put(reply);
		return zt_ctl_error(err);
	}
	return reply;
}

static json_object *cmd_connector_token(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	json_object *reply = zt_ctl_ok();
	char err[256];

	if (add_token(d, r, ZT_K_CONNECTOR, zt_ctl_str(r, "name"), 0, reply, err, sizeof(err))) {
		json_object_put(reply);
		return zt_ctl_error(err);
	}
	return reply;
}

/* `admin device token ... --count N`: N tokens in one transaction, {"tokens": [...]}. */
static json_object *device_tokens(struct zt_daemon *d, const struct zt_ctl_req *r,
				  enum zt_kind kind, const char *name, int64_t key_ttl,
				  const char *count_s)
{
	const char *exp = zt_ctl_str(r, "expires");
	char (*texts)[ZT_TOKEN_TEXT_LEN + 1] = NULL, err[256], actor[32], *end;
	int64_t ttl = ZT_TOKEN_DEFAULT_TTL_S, expires;
	unsigned long count = strtoul(count_s, &end, 10);
	json_object *reply = NULL, *arr;

	if (*end || !count || count > ZT_TOKENS_MAX) {
		snprintf(err, sizeof(err), "invalid --count '%s': 1 to %d", count_s, ZT_TOKENS_MAX);
		return zt_ctl_error(err);
	}
	if (exp && zt_parse_duration(exp, &ttl)) {
		snprintf(err, sizeof(err), "invalid --expires '%s': e.g. 24h, 30m, 7d", exp);
		return zt_ctl_error(err);
	}
	texts = calloc(count, sizeof(*texts));
	if (!texts)
		return zt_ctl_error("out of memory");
	actor_of(r, actor, sizeof(actor));
	if (zt_model_tokens(model_of(d), kind, name, ttl, key_ttl, actor, count, texts, &expires,
			    err, sizeof(err))) {
		reply = zt_ctl_error(err);
		goto out;
	}
	reply = zt_ctl_ok();
	arr = json_object_new_array_ext((int)count);
	for (unsigned long i = 0; i < count; i++)
		json_object_array_add(arr, json_object_new_string(texts[i]));
	json_object_object_add(reply, "for", json_object_new_string(zt_kind_name(kind)));
	json_object_object_add(reply, "name", json_object_new_string(name));
	json_object_object_add(reply, "expires", json_object_new_int64(expires));
	json_object_object_add(reply, "tokens", arr);
out:
	OPENSSL_cleanse(texts, count * sizeof(*texts));
	free(texts);
	return reply;
}

/*
 * `admin device token --user EMAIL | --service-account NAME [--count N]
 * [--key-expires D]` (a service account's key lives D from its enrollment).
 */
static json_object *cmd_device_token(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	const char *user = zt_ctl_str(r, "user"), *sa = zt_ctl_str(r, "service_account");
	const char *count = zt_ctl_str(r, "count"), *kexp = zt_ctl_str(r, "key_expires");
	int64_t key_ttl = 0;
	json_object *reply;
	char err[256];

	if (!user == !sa)
		return zt_ctl_error("give one of --user EMAIL or --service-account NAME");
	if (kexp && (zt_parse_duration(kexp, &key_ttl) || key_ttl < 10)) {
		snprintf(err, sizeof(err), "invalid --key-expires '%.64s': e.g. 90d, 24h (at least 10s)",
			 kexp);
		return zt_ctl_error(err);
	}
	if (kexp && user)
		return zt_ctl_error("--key-expires is for service accounts' keys");
	if (count)
		return device_tokens(d, r, user ? ZT_K_USER : ZT_K_SA, user ? user : sa, key_ttl,
				     count);
	reply = zt_ctl_ok();
	if (add_token(d, r, user ? ZT_K_USER : ZT_K_SA, user ? user : sa, key_ttl, reply, err,
		      sizeof(err))) {
		json_object_put(reply);
		return zt_ctl_error(err);
	}
	return reply;
}

static json_object *member(struct zt_daemon *d, const struct zt_ctl_req *r, bool add)
{
	char err[256], actor[96];
	const char *who = zt_ctl_str(r, "member");

	actor_of(r, actor, sizeof(actor));
	if (zt_model_member(model_of(d), zt_ctl_str(r, "name"), who, add, actor, err, sizeof(err)))
		return zt_ctl_error(err);
	return zt_ctl_ok();
}

static json_object *cmd_add_member(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	return member(d, r, true);
}

static json_object *cmd_rm_member(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	return member(d, r, false);
}

/*
 * `admin status`: "rev N applied on X of Y nodes" over every controller on
 * the database (each counts the nodes connected to it: presence.c), and
 * the node server's view.
 */
static json_object *cmd_status(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	struct controller_role *cr = d->role;
	struct zt_model *m = cr->model;
	struct zt_node_counts c, all;
	json_object *o, *counts, *others = NULL;
	char err[256];

	(void)r;
	zt_model_node_counts(m, &c);
	all = c;
	if (m->db->shared && cr->instance[0]) {
		others = zt_model_presence_others(m, cr->instance, &all, err, sizeof(err));
		if (!others)
			return zt_ctl_error(err);
	}
	o = zt_ctl_ok();
	counts = json_object_new_object();
	for (int k = 0; k < ZT_K__COUNT; k++)
		json_object_object_add(counts, zt_kind_name((enum zt_kind)k),
				       json_object_new_int64((int64_t)m->n[k]));
	json_object_object_add(o, "rev", json_object_new_int64((int64_t)m->rev));
	json_object_object_add(o, "nodes", json_object_new_int64(c.nodes));
	json_object_object_add(o, "connected", json_object_new_int64(all.connected));
	json_object_object_add(o, "applied", json_object_new_int64(all.applied));
	json_object_object_add(o, "connected_here", json_object_new_int64(c.connected));
	json_object_object_add(o, "applied_here", json_object_new_int64(c.applied));
	if (others)
		json_object_object_add(o, "other_controllers", others);
	json_object_object_add(o, "objects", counts);
	json_object_object_add(o, "db", json_object_new_string(zt_controller_db_url(cr)));
	json_object_object_add(o, "server", zt_node_server_status(cr->server));
	return o;
}

/* `admin audit [--since UNIX]`. */
static json_object *cmd_audit(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	const char *since = zt_ctl_str(r, "since");
	json_object *arr;
	char err[256];

	arr = zt_audit_list(model_of(d), since ? strtoll(since, NULL, 10) : 0, err, sizeof(err));
	return arr ? reply_object("records", arr) : zt_ctl_error(err);
}

/* `admin audit --verify`: the chain whole, or the first record that does not hold. */
static json_object *cmd_audit_verify(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	uint64_t count, bad;
	char err[256], msg[320];

	(void)r;
	if (zt_audit_verify(model_of(d), &count, &bad, err, sizeof(err))) {
		if (!bad)
			return zt_ctl_error(err);
		snprintf(msg, sizeof(msg), "audit chain broken at record %" PRIu64 ": %s", bad, err);
		return zt_ctl_error(msg);
	}
	return reply_object("records", json_object_new_int64((int64_t)count));
}

/* `admin connections [--follow]`: the lines after the cursor "after" (0: the oldest kept). */
static json_object *cmd_connections(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	const char *after = zt_ctl_str(r, "after"), *limit = zt_ctl_str(r, "limit");
	json_object *o = zt_ctl_ok(), *v;
	char *end = NULL;
	unsigned long long a = 0, l = 0;

	if (after && (a = strtoull(after, &end, 10), *end || !*after)) {
		json_object_put(o);
		return zt_ctl_error("invalid \"after\": a sequence number");
	}
	if (limit && (l = strtoull(limit, &end, 10), *end || !*limit)) {
		json_object_put(o);
		return zt_ctl_error("invalid \"limit\": a number of lines");
	}
	v = zt_connlog_since(model_of(d)->connlog, a, (size_t)l);
	json_object_object_foreach(v, key, val)
		json_object_object_add(o, key, json_object_get(val));
	json_object_put(v);
	return o;
}

static json_object *cmd_export(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	(void)r;
	return reply_object("model", zt_model_export(model_of(d)));
}

/* `admin apply -f FILE [--dry-run]`: {"model": document, "dry_run"}. */
static json_object *cmd_apply(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	json_object *doc, *dry, *changes, *o;
	char err[256], actor[96];

	if (!json_object_object_get_ex(r->args, "model", &doc))
		return zt_ctl_error("no \"model\" document");
	actor_of(r, actor, sizeof(actor));
	if (zt_model_apply(model_of(d), doc, json_object_object_get_ex(r->args, "dry_run", &dry) &&
			   json_object_get_boolean(dry), actor, &changes, err, sizeof(err)))
		return zt_ctl_error(err);
	o = reply_object("changes", changes);
	json_object_object_add(o, "rev", json_object_new_int64((int64_t)model_of(d)->rev));
	return o;
}

typedef json_object *(*cmd_fn)(struct zt_daemon *d, const struct zt_ctl_req *r);

/*
 * A write on a shared database: in turn with the other controllers' writes
 * (zt_model_write_lock), catch up first, and when a write not taken in turn
 * (a node's) committed between that and our commit (m->conflict), catch up
 * and build it again; after ZT_WRITE_TRIES the command fails with the
 * commit's line.
 */
static json_object *retried(struct zt_daemon *d, const struct zt_ctl_req *r, cmd_fn fn)
{
	struct zt_model *m = model_of(d);
	json_object *res = NULL;
	char err[256];

	if (!m->db->shared)
		return fn(d, r);
	if (zt_model_write_lock(m, err, sizeof(err)))
		return zt_ctl_error(err);
	for (int i = 0; i < ZT_WRITE_TRIES; i++) {
		if (zt_model_sync(m, err, sizeof(err))) {
			json_object_put(res);
			res = zt_ctl_error(err);
			break;
		}
		m->conflict = false;
		json_object_put(res);
		res = fn(d, r);
		if (!m->conflict)
			break;
		zt_log("info", "controller: %s met another controller's write; caught up, trying again",
		       zt_ctl_str(r, "cmd"));
	}
	zt_model_write_unlock(m);
	return res;
}

#define RETRIED(fn) \
	static json_object *fn##_w(struct zt_daemon *d, const struct zt_ctl_req *r) \
	{ \
		return retried(d, r, fn); \
	}
RETRIED(cmd_add)
RETRIED(cmd_set)
RETRIED(cmd_rm)
RETRIED(cmd_connector_add)
RETRIED(cmd_connector_token)
RETRIED(cmd_device_token)
RETRIED(cmd_add_member)
RETRIED(cmd_rm_member)
RETRIED(cmd_apply)
/* `admin api-key add NAME --role read-only|read-write [--expires D]`: the key, once. */
static json_object *cmd_apikey_add(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	const char *exp = zt_ctl_str(r, "expires");
	char text[ZT_APIKEY_TEXT_LEN + 1], err[256], actor[96];
	json_object *obj = NULL, *o;
	int64_t ttl = 0;

	if (exp && zt_parse_duration(exp, &ttl)) {
		snprintf(err, sizeof(err), "invalid --expires '%s': e.g. 30d, 24h, 30m", exp);
		return zt_ctl_error(err);
	}
	actor_of(r, actor, sizeof(actor));
	if (zt_model_apikey_add(model_of(d), zt_ctl_str(r, "name"), zt_ctl_str(r, "role"), ttl,
				actor, text, sizeof(text), &obj, err, sizeof(err)))
		return zt_ctl_error(err);
	o = reply_object("object", obj);
	json_object_object_add(o, "key", json_object_new_string(text));
	OPENSSL_cleanse(text, sizeof(text));
	return o;
}

static json_object *cmd_apikey_list(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	json_object *arr;
	char err[256];

	(void)r;
	arr = zt_model_apikey_list(model_of(d), NULL, err, sizeof(err));
	return arr ? reply_object("items", arr) : zt_ctl_error(err);
}

static json_object *cmd_apikey_show(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	const char *name = zt_ctl_str(r, "name");
	json_object *arr, *o;
	char err[256];

	arr = zt_model_apikey_list(model_of(d), name ? name : "", err, sizeof(err));
	if (!arr)
		return zt_ctl_error(err);
	if (!json_object_array_length(arr)) {
		json_object_put(arr);
		snprintf(err, sizeof(err), "no API key '%s'", name ? name : "");
		return zt_ctl_error(err);
	}
	o = reply_object("object", json_object_get(json_object_array_get_idx(arr, 0)));
	json_object_put(arr);
	return o;
}

static json_object *cmd_apikey_rm(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	char err[256], actor[96];
	const char *name = zt_ctl_str(r, "name");

	actor_of(r, actor, sizeof(actor));
	if (zt_model_apikey_rm(model_of(d), name, actor, err, sizeof(err)))
		return zt_ctl_error(err);
	return reply_object("removed", json_object_new_string(name));
}

/* The verbs every kind has; reads change nothing, the rest change state. */
#define KIND_CMDS(kind) \
	{ .name = "admin." kind ".add", .run = cmd_add_w, .changes = true }, \
	{ .name = "admin." kind ".set", .run = cmd_set_w, .changes = true }, \
	{ .name = "admin." kind ".rm", .run = cmd_rm_w, .changes = true }, \
	{ .name = "admin." kind ".list", .run = cmd_list }, \
	{ .name = "admin." kind ".show", .run = cmd_show }

const struct zt_ctl_cmd zt_controller_commands[] = {
	KIND_CMDS("user"),
	KIND_CMDS("group"),
	KIND_CMDS("service-account"),
	KIND_CMDS("network"),
	KIND_CMDS("resource"),
	KIND_CMDS("policy"),
	KIND_CMDS("relay"),
	{ .name = "admin.connector.add", .run = cmd_connector_add_w, .changes = true },
	{ .name = "admin.connector.set", .run = cmd_set_w, .changes = true },
	{ .name = "admin.connector.rm", .run = cmd_rm_w, .changes = true },
	{ .name = "admin.connector.list", .run = cmd_list },
	{ .name = "admin.connector.show", .run = cmd_show },
	{ .name = "admin.connector.token", .run = cmd_connector_token_w, .changes = true },
	{ .name = "admin.access.add", .run = cmd_add_w, .changes = true },
	{ .name = "admin.access.set", .run = cmd_set_w, .changes = true },
	{ .name = "admin.access.rm", .run = cmd_rm_w, .changes = true },
	{ .name = "admin.access.list", .run = cmd_list },
	{ .name = "admin.device.list", .run = cmd_list },
	{ .name = "admin.device.show", .run = cmd_show },
	{ .name = "admin.device.set", .run = cmd_set_w, .changes = true },
	{ .name = "admin.device.rm", .run = cmd_rm_w, .changes = true },
	{ .name = "admin.device.token", .run = cmd_device_token_w, .changes = true },
	{ .name = "admin.group.add-member", .run = cmd_add_member_w, .changes = true },
	{ .name = "admin.group.rm-member", .run = cmd_rm_member_w, .changes = true },
	{ .name = "admin.status", .run = cmd_status },
	{ .name = "admin.audit", .run = cmd_audit },
	{ .name = "admin.audit.verify", .run = cmd_audit_verify },
	{ .name = "admin.export", .run = cmd_export },
	{ .name = "admin.apply", .run = cmd_apply_w, .changes = true },
	{ .name = "admin.api-key.add", .run = cmd_apikey_add, .changes = true },
	{ .name = "admin.api-key.list", .run = cmd_apikey_list },
	{ .name = "admin.api-key.show", .run = cmd_apikey_show },
	{ .name = "admin.api-key.rm", .run = cmd_apikey_rm, .changes = true },
	{ .name = "admin.connections", .run = cmd_connections },
	{ 0 },
};

json_object *zt_controller_remote_admin(void *arg, const char *key_name, bool read_only,
					json_object *req)
{
	struct zt_daemon *d = arg;
	char actor[96], msg[256];
	struct zt_ctl_req r = { .args = req, .peer_fd = -1, .actor = actor };
	const struct zt_ctl_cmd *cmd = zt_controller_commands;
	const char *name = zt_ctl_str(&r, "cmd");
	json_object *reply;

	snprintf(actor, sizeof(actor), "api-key:%s", key_name);
	while (name && cmd->name && strcmp(cmd->name, name))
		cmd++;
	if (!name || !cmd->name) {
		snprintf(msg, sizeof(msg), "unknown admin command '%.64s'", name ? name : "");
		reply = zt_ctl_error(msg);
	} else if (cmd->changes && read_only) {
		zt_model_audit_event(model_of(d), actor, "api-key.denied", "command", name, NULL);
		snprintf(msg, sizeof(msg), "API key '%s' is read-only: '%s' changes the model",
			 key_name, name + strlen("admin."));
		reply = zt_ctl_error(msg);
	} else {
		/* Writes are audited by the model with this actor; reads here. */
		if (!cmd->changes)
			zt_model_audit_event(model_of(d), actor, "api.read", "command", name, NULL);
		reply = cmd->run(d, &r);
	}
	json_object_object_add(reply, "version", json_object_new_string(zt_version()));
	return reply;
}
