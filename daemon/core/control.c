// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control API: JSON lines over a Unix socket (mode 0600, root only).
 * Every request is validated whole before anything changes; a change is
 * compiled into the inactive generation, persisted, and only then made live,
 * so a failure at any step leaves the maps, the file and the daemon's view
 * as they were.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/daemon.h"
#include "dns/server.h"
#include "lib/json_io.h"
#include "lib/log.h"
#include "policy/store.h"

/*
 * A subscriber's events wait here when its socket is full. Bounded: a
 * reader that stays behind loses events (and is told how many), it never
 * makes the daemon grow or wait.
 */
#define ZT_SUB_QUEUE_MAX (1024 * 1024)

struct zt_ctl_client {
	struct zt_daemon *d;
	int fd;
	bool subscriber;
	char *out;		/* queued bytes not yet accepted by the socket */
	size_t out_len;
	unsigned long dropped;	/* events dropped since the last marker */
	struct zt_ctl_client *next;
	struct zt_line_buf buf;
};

static json_object *reply_error(const char *msg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

static json_object *reply_ok(void)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

static const char *req_str(json_object *req, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(req, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

void zt_audit(struct zt_daemon *d, int peer_fd, const char *action, json_object *detail)
{
	json_object *o = json_object_new_object();
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char path[4096];
	FILE *f;

	json_object_object_add(o, "event", json_object_new_string("audit"));
	json_object_object_add(o, "action", json_object_new_string(action));
	/* Who asked: the kernel's word for the peer, not anything it sent. */
	if (peer_fd >= 0 && !getsockopt(peer_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		json_object_object_add(o, "peer_uid", json_object_new_int((int)cred.uid));
		json_object_object_add(o, "peer_pid", json_object_new_int((int)cred.pid));
	}
	if (detail)
		json_object_object_add(o, "detail", detail);

	/* Durable copy first, then the log stream (zt_emit takes o). */
	snprintf(path, sizeof(path), "%s/audit.jsonl", d->state_dir);
	f = fopen(path, "ae");
	if (f) {
		struct timespec ts;
		char tbuf[48];
		json_object *line = json_object_get(o);

		clock_gettime(CLOCK_REALTIME, &ts);
		zt_format_time((unsigned long long)ts.tv_sec * 1000000000ull +
				       (unsigned long long)ts.tv_nsec, tbuf, sizeof(tbuf));
		json_object_object_add(line, "ts", json_object_new_string(tbuf));
		fprintf(f, "%s\n", json_object_to_json_string_ext(line, JSON_C_TO_STRING_PLAIN |
								       JSON_C_TO_STRING_NOSLASHESCAPE));
		fclose(f);
		json_object_put(line);
	} else {
		zt_log("warning", "audit: cannot open %s: %s", path, strerror(errno));
	}
	zt_emit(o);
}

/*
 * Make NEXT the live policy: compile into the inactive generation, save,
 * flip. On error nothing has changed and ERR says why.
 */
static int apply_policy(struct zt_daemon *d, struct zt_policy *next, char *err, size_t errlen)
{
	struct zt_exact_binding *binds = NULL;
	size_t nbinds = 0;
	char sub[256];
	uint32_t gen;
	int ret;

	/*
	 * Addresses learnt at run time (the client's fake IPs, the connector's
	 * resolved names) stay valid for names NEXT still has.
	 */
	ret = d->bindings ? d->bindings(d, next, &binds, &nbinds) : 0;
	if (ret) {
		snprintf(err, errlen, "collecting run-time address bindings: %s", strerror(-ret));
		return ret;
	}
	ret = zt_compile_prepare_with(d->fds, next, binds, nbinds, &gen, err, errlen);
	free(binds);
	if (ret)
		return ret;
	ret = zt_store_save(d->state_dir, next, err, errlen);
	if (ret) {
		zt_compile_abort(d->fds, gen);
		return ret;
	}
	ret = zt_compile_commit(d->fds, gen, err, errlen);
	if (ret) {
		/* Nothing flipped: put the file back in step with the maps. */
		char sub2[256];

		zt_compile_abort(d->fds, gen);
		if (zt_store_save(d->state_dir, &d->policy, sub2, sizeof(sub2)))
			zt_log("error", "restoring the policy file: %s", sub2);
		return ret;
	}
	zt_policy_free(&d->policy);
	d->policy = *next;
	zt_policy_init(next);
	/* Live and saved: a failure here is reported, not rolled back. */
	if (d->policy_applied && d->policy_applied(d, sub, sizeof(sub)))
		zt_log("error", "policy applied, but: %s", sub);
	return 0;
}

/* Add C's four fields to O; returns O. */
static json_object *add_counters(json_object *o, const struct zt_counters *c)
{
	json_object_object_add(o, "allowed_packets", json_object_new_int64((int64_t)c->allowed_packets));
	json_object_object_add(o, "allowed_bytes", json_object_new_int64((int64_t)c->allowed_bytes));
	json_object_object_add(o, "denied_packets", json_object_new_int64((int64_t)c->denied_packets));
	json_object_object_add(o, "denied_bytes", json_object_new_int64((int64_t)c->denied_bytes));
	return o;
}

/* A resource's counters summed over CPUs; zeroes if they cannot be read. */
static struct zt_counters read_counters(struct zt_daemon *d, uint32_t id)
{
	struct zt_counters c;

	if (zt_counters_read(d->fds, id, &c))
		memset(&c, 0, sizeof(c));
	return c;
}

static json_object *cmd_resource_add(struct zt_daemon *d, struct zt_ctl_client *c,
				     json_object *req)
{
	struct zt_resource_def def;
	struct zt_policy next;
	json_object *v, *o;
	char err[512];
	bool icmp = false;
	int ret;

	if (json_object_object_get_ex(req, "icmp", &v)) {
		/* json-c would read the string "false" as true. */
		if (!json_object_is_type(v, json_type_boolean))
			return reply_error("malformed request: \"icmp\" must be true or false");
		icmp = json_object_get_boolean(v);
	}
	ret = zt_resource_parse(&def, req_str(req, "name"), req_str(req, "address"),
				req_str(req, "tcp"), req_str(req, "udp"), icmp,
				req_str(req, "deny_mode"), err, sizeof(err));
	if (!ret)
		ret = zt_resource_set_connector(&def, req_str(req, "connector"), err, sizeof(err));
	if (ret)
		return reply_error(err);
	if (zt_policy_copy(&next, &d->policy))
		return reply_error("out of memory");
	ret = zt_policy_add(&next, &def, err, sizeof(err));
	if (!ret) {
		/* The id may be a removed resource's: start its counters at zero. */
		ret = zt_counters_reset(d->fds, def.id);
		if (ret)
			snprintf(err, sizeof(err), "resetting counters: %s", strerror(-ret));
	}
	if (!ret)
		ret = apply_policy(d, &next, err, sizeof(err));
	zt_policy_free(&next);
	if (ret)
		return reply_error(err);

	zt_audit(d, c->fd, "resource.add", zt_resource_to_json(&def));
	o = reply_ok();
	json_object_object_add(o, "resource", zt_resource_to_json(&def));
	return o;
}

static json_object *cmd_resource_rm(struct zt_daemon *d, struct zt_ctl_client *c,
				    json_object *req)
{
	const char *name = req_str(req, "name");
	struct zt_resource_def *cur;
	struct zt_policy next;
	json_object *detail, *removed, *o;
	char err[512];
	int ret;

	if (!name)
		return reply_error("resource rm needs a name");
	cur = zt_policy_find(&d->policy, name);
	if (!cur) {
		snprintf(err, sizeof(err), "no resource named '%s'", name);
		return reply_error(err);
	}
	detail = zt_resource_to_json(cur);
	/* Its grants go with it: say which, in the audit record and the reply. */
	removed = zt_policy_grants_to_json(&d->policy, 0, cur->id);
	if (zt_policy_copy(&next, &d->policy)) {
		json_object_put(detail);
		json_object_put(removed);
		return reply_error("out of memory");
	}
	ret = zt_policy_remove(&next, name, err, sizeof(err));
	if (!ret)
		ret = apply_policy(d, &next, err, sizeof(err));
	zt_policy_free(&next);
	if (ret) {
		json_object_put(detail);
		json_object_put(removed);
		return reply_error(err);
	}
	if (json_object_array_length(removed))
		json_object_object_add(detail, "removed_grants", json_object_get(removed));
	zt_audit(d, c->fd, "resource.rm", detail);
	o = reply_ok();
	json_object_object_add(o, "removed_grants", removed);
	return o;
}

static json_object *cmd_resource_list(struct zt_daemon *d, bool with_counters)
{
	json_object *o = reply_ok(), *arr = json_object_new_array();
	struct zt_counters total = { 0 };
	unsigned int i;

	for (i = 0; i < d->policy.count; i++) {
		json_object *r = zt_resource_to_json(&d->policy.res[i]);

		if (with_counters) {
			struct zt_counters c = read_counters(d, d->policy.res[i].id);

			add_counters(r, &c);
			total.allowed_packets += c.allowed_packets;
			total.allowed_bytes += c.allowed_bytes;
			total.denied_packets += c.denied_packets;
			total.denied_bytes += c.denied_bytes;
		}
		json_object_array_add(arr, r);
	}
	json_object_object_add(o, "resources", arr);
	if (with_counters) {
		json_object_object_add(o, "total", add_counters(json_object_new_object(), &total));
		if (d->stats)
			d->stats(d, o);
	}
	return o;
}

/* `ztgate status`: each tunnel peer's path (client and connector roles). */
static json_object *cmd_status(struct zt_daemon *d)
{
	json_object *o;

	if (!d->status)
		return reply_error("no tunnel here: `ztgate status` needs the client or connector role");
	o = reply_ok();
	d->status(d, o);
	return o;
}

static json_object *cmd_dns_list(struct zt_daemon *d)
{
	json_object *o;

	if (!d->fakeip)
		return reply_error("no DNS here: `ztgate dns` needs the client role");
	o = reply_ok();
	json_object_object_add(o, "mappings", zt_dns_list_json(d->fakeip, &d->policy));
	return o;
}

static json_object *cmd_dns_resolve(struct zt_daemon *d, json_object *req)
{
	const char *name = req_str(req, "name");
	json_object *o, *r;
	char err[512];

	if (!d->dns)
		return reply_error("no DNS here: `ztgate resolve` needs the client role");
	if (!name)
		return reply_error("resolve needs a name");
	r = zt_dns_resolve_json(d->dns, name, err, sizeof(err));
	if (!r)
		return reply_error(err);
	o = reply_ok();
	json_object_object_add(o, "resolve", r);
	return o;
}

static json_object *cmd_resource_show(struct zt_daemon *d, json_object *req)
{
	const char *name = req_str(req, "name");
	const struct zt_resource_def *def;
	struct zt_counters c;
	json_object *o, *r;
	char err[256];

	if (!name)
		return reply_error("resource show needs a name");
	def = zt_policy_find(&d->policy, name);
	if (!def) {
		snprintf(err, sizeof(err), "no resource named '%s'", name);
		return reply_error(err);
	}
	r = zt_resource_to_json(def);
	c = read_counters(d, def->id);
	json_object_object_add(r, "counters", add_counters(json_object_new_object(), &c));
	o = reply_ok();
	json_object_object_add(o, "resource", r);
	return o;
}

/*
 * Make NEXT (emptied here either way) the policy, then leave an audit record
 * of ACTION with DETAIL (taken). Returns the reply: REPLY (taken) on
 * success, an error otherwise.
 */
static json_object *change_policy(struct zt_daemon *d, struct zt_ctl_client *c,
				  struct zt_policy *next, const char *action, json_object *detail,
				  json_object *reply)
{
	char err[512];
	int ret;

	ret = apply_policy(d, next, err, sizeof(err));
	zt_policy_free(next);
	if (ret) {
		json_object_put(detail);
		json_object_put(reply);
		return reply_error(err);
	}
	zt_audit(d, c->fd, action, detail);
	return reply;
}

static json_object *cmd_device_add(struct zt_daemon *d, struct zt_ctl_client *c,
				   json_object *req)
{
	struct zt_device_def def;
	struct zt_policy next;
	json_object *o;
	char err[512];
	int ret;

	ret = zt_device_parse(&def, req_str(req, "name"), req_str(req, "pubkey"),
			      req_str(req, "address"), err, sizeof(err));
	if (ret)
		return reply_error(err);
	if (zt_policy_copy(&next, &d->policy))
		return reply_error("out of memory");
	ret = zt_policy_device_add(&next, &def, err, sizeof(err));
	if (ret) {
		zt_policy_free(&next);
		return reply_error(err);
	}
	o = reply_ok();
	json_object_object_add(o, "device", zt_device_to_json(&def));
	return change_policy(d, c, &next, "device.add", zt_device_to_json(&def), o);
}

static json_object *cmd_device_rm(struct zt_daemon *d, struct zt_ctl_client *c,
				  json_object *req)
{
	const char *name = req_str(req, "name");
	const struct zt_device_def *cur;
	struct zt_policy next;
	json_object *detail, *removed, *o;
	char err[512];

	if (!name)
		return reply_error("device rm needs a name");
	cur = zt_policy_device_find(&d->policy, name);
	if (!cur) {
		snprintf(err, sizeof(err), "no device named '%s'", name);
		return reply_error(err);
	}
	detail = zt_device_to_json(cur);
	removed = zt_policy_grants_to_json(&d->policy, cur->id, 0);
	if (zt_policy_copy(&next, &d->policy)) {
		json_object_put(detail);
		json_object_put(removed);
		return reply_error("out of memory");
	}
	zt_policy_device_remove(&next, name, err, sizeof(err));
	json_object_object_add(detail, "removed_grants", json_object_get(removed));
	o = reply_ok();
	json_object_object_add(o, "removed_grants", removed);
	return change_policy(d, c, &next, "device.rm", detail, o);
}

static json_object *cmd_device_list(struct zt_daemon *d)
{
	json_object *o = reply_ok(), *arr = json_object_new_array();
	unsigned int i;

	for (i = 0; i < d->policy.ndevices; i++) {
		const struct zt_device_def *dev = &d->policy.devices[i];
		json_object *j = zt_device_to_json(dev);

		json_object_object_add(j, "grants",
				       json_object_new_int((int)zt_policy_grant_count(&d->policy,
										 dev->id, 0)));
		json_object_array_add(arr, j);
	}
	json_object_object_add(o, "devices", arr);
	return o;
}

static json_object *cmd_connector_add(struct zt_daemon *d, struct zt_ctl_client *c,
				      json_object *req)
{
	struct zt_connector_def def;
	struct zt_policy next;
	json_object *o;
	char err[512];
	int ret;

	ret = zt_connector_parse(&def, req_str(req, "name"), req_str(req, "pubkey"),
				 req_str(req, "endpoint"), err, sizeof(err));
	if (ret)
		return reply_error(err);
	if (zt_policy_copy(&next, &d->policy))
		return reply_error("out of memory");
	ret = zt_policy_connector_add(&next, &def, err, sizeof(err));
	if (ret) {
		zt_policy_free(&next);
		return reply_error(err);
	}
	o = reply_ok();
	json_object_object_add(o, "connector", zt_connector_to_json(&def));
	return change_policy(d, c, &next, "connector.add", zt_connector_to_json(&def), o);
}

static json_object *cmd_connector_rm(struct zt_daemon *d, struct zt_ctl_client *c,
				     json_object *req)
{
	const char *name = req_str(req, "name");
	const struct zt_connector_def *cur;
	struct zt_policy next;
	json_object *detail;
	char err[512];

	if (!name)
		return reply_error("connector rm needs a name");
	cur = zt_policy_connector_find(&d->policy, name);
	if (!cur) {
		snprintf(err, sizeof(err), "no connector named '%s'", name);
		return reply_error(err);
	}
	detail = zt_connector_to_json(cur);
	if (zt_policy_copy(&next, &d->policy)) {
		json_object_put(detail);
		return reply_error("out of memory");
	}
	if (zt_policy_connector_remove(&next, name, err, sizeof(err))) {
		zt_policy_free(&next);
		json_object_put(detail);
		return reply_error(err);
	}
	return change_policy(d, c, &next, "connector.rm", detail, reply_ok());
}

static json_object *cmd_connector_list(struct zt_daemon *d)
{
	json_object *o = reply_ok(), *arr = json_object_new_array();
	unsigned int i, j;

	for (i = 0; i < d->policy.nconnectors; i++) {
		const struct zt_connector_def *con = &d->policy.connectors[i];
		json_object *r = zt_connector_to_json(con), *served = json_object_new_array();

		for (j = 0; j < d->policy.count; j++)
			if (!strcmp(d->policy.res[j].connector, con->name))
				json_object_array_add(served,
						      json_object_new_string(d->policy.res[j].name));
		json_object_object_add(r, "resources", served);
		json_object_array_add(arr, r);
	}
	json_object_object_add(o, "connectors", arr);
	return o;
}

/* grant.add and grant.rm (revoke). */
static json_object *cmd_grant(struct zt_daemon *d, struct zt_ctl_client *c, json_object *req,
			      bool add)
{
	const char *device = req_str(req, "device"), *resource = req_str(req, "resource");
	struct zt_policy next;
	json_object *detail, *o;
	char err[512];
	int ret;

	if (!device || !resource)
		return reply_error(add ? "grant needs a device and a resource"
				       : "revoke needs a device and a resource");
	if (zt_policy_copy(&next, &d->policy))
		return reply_error("out of memory");
	ret = add ? zt_policy_grant_add(&next, device, resource, err, sizeof(err))
		  : zt_policy_grant_remove(&next, device, resource, err, sizeof(err));
	if (ret) {
		zt_policy_free(&next);
		return reply_error(err);
	}
	detail = json_object_new_object();
	json_object_object_add(detail, "device", json_object_new_string(device));
	json_object_object_add(detail, "resource", json_object_new_string(resource));
	o = reply_ok();
	json_object_object_add(o, "grant", json_object_get(detail));
	return change_policy(d, c, &next, add ? "grant.add" : "grant.rm", detail, o);
}

static json_object *cmd_grant_list(struct zt_daemon *d, json_object *req)
{
	const char *device = req_str(req, "device");
	const struct zt_device_def *dev = NULL;
	json_object *o;
	char err[256];

	if (device) {
		dev = zt_policy_device_find(&d->policy, device);
		if (!dev) {
			snprintf(err, sizeof(err), "no device named '%s'", device);
			return reply_error(err);
		}
	}
	o = reply_ok();
	json_object_object_add(o, "grants",
			       zt_policy_grants_to_json(&d->policy, dev ? dev->id : 0, 0));
	return o;
}

/*
 * A resource id that NEXT gives to another name than the live policy does
 * (a removed resource's id reused) starts its counters at zero, as
 * resource add does.
 */
static int reset_new_counters(struct zt_daemon *d, const struct zt_policy *next, char *err,
			      size_t errlen)
{
	const char **live = calloc(ZT_MAX_RESOURCES, sizeof(*live));
	unsigned int i;
	int ret = 0;

	if (!live) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < d->policy.count; i++)
		live[d->policy.res[i].id] = d->policy.res[i].name;
	for (i = 0; i < next->count && !ret; i++) {
		const struct zt_resource_def *r = &next->res[i];

		if (live[r->id] && !strcmp(live[r->id], r->name))
			continue;
		ret = zt_counters_reset(d->fds, r->id);
		if (ret)
			snprintf(err, errlen, "resetting counters: %s", strerror(-ret));
	}
	free(live);
	return ret;
}

/*
 * Replace the whole policy with a document: validated whole, compiled once,
 * saved once. With dry_run, only the difference is computed.
 */
static json_object *cmd_policy_apply(struct zt_daemon *d, struct zt_ctl_client *c,
				     json_object *req)
{
	struct zt_policy next;
	json_object *doc, *v, *changes, *o, *detail;
	bool dry_run = false;
	char err[512];
	int ret;

	if (!json_object_object_get_ex(req, "policy", &doc))
		return reply_error("apply needs a \"policy\" document");
	if (json_object_object_get_ex(req, "dry_run", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return reply_error("malformed request: \"dry_run\" must be true or false");
		dry_run = json_object_get_boolean(v);
	}
	ret = zt_policy_from_doc(&next, doc, &d->policy, err, sizeof(err));
	if (ret)
		return reply_error(err);
	changes = zt_policy_diff(&d->policy, &next);
	if (!changes) {
		zt_policy_free(&next);
		return reply_error("out of memory");
	}
	o = reply_ok();
	json_object_object_add(o, "dry_run", json_object_new_boolean(dry_run));
	json_object_object_add(o, "changes", changes);
	if (dry_run) {
		zt_policy_free(&next);
		return o;
	}
	ret = reset_new_counters(d, &next, err, sizeof(err));
	if (ret) {
		zt_policy_free(&next);
		json_object_put(o);
		return reply_error(err);
	}
	detail = json_object_new_object();
	json_object_object_add(detail, "changes", json_object_get(changes));
	return change_policy(d, c, &next, "policy.apply", detail, o);
}

static json_object *cmd_policy_export(struct zt_daemon *d)
{
	json_object *o = reply_ok();

	json_object_object_add(o, "policy", zt_policy_to_json(&d->policy));
	return o;
}

static json_object *cmd_maps(struct zt_daemon *d)
{
	json_object *o = reply_ok(), *arr = json_object_new_array();
	const char *dir = zt_dp_pin_dir(d->dp);
	int i;

	json_object_object_add(o, "pin_dir", json_object_new_string(dir));
	for (i = 0; i < ZT_MAP__COUNT; i++) {
		json_object *m = json_object_new_object();
		char path[4096], cmd[4200];

		snprintf(path, sizeof(path), "%s/%s", dir, zt_map_name(i));
		snprintf(cmd, sizeof(cmd), "bpftool map dump pinned %s", path);
		json_object_object_add(m, "name", json_object_new_string(zt_map_name(i)));
		json_object_object_add(m, "path", json_object_new_string(path));
		json_object_object_add(m, "bpftool", json_object_new_string(cmd));
		json_object_array_add(arr, m);
	}
	json_object_object_add(o, "maps", arr);
	return o;
}

static json_object *handle_request(struct zt_daemon *d, struct zt_ctl_client *c, const char *line)
{
	json_object *req = zt_json_parse_object(line), *resp;
	const char *cmd;

	if (!req)
		return reply_error("malformed request: expected one JSON object per line");
	cmd = req_str(req, "cmd");
	if (!cmd)
		resp = reply_error("malformed request: no \"cmd\"");
	else if (!strcmp(cmd, "resource.add"))
		resp = cmd_resource_add(d, c, req);
	else if (!strcmp(cmd, "resource.rm"))
		resp = cmd_resource_rm(d, c, req);
	else if (!strcmp(cmd, "resource.list"))
		resp = cmd_resource_list(d, false);
	else if (!strcmp(cmd, "resource.show"))
		resp = cmd_resource_show(d, req);
	else if (!strcmp(cmd, "stats"))
		resp = cmd_resource_list(d, true);
	else if (!strcmp(cmd, "maps"))
		resp = cmd_maps(d);
	else if (!strcmp(cmd, "status"))
		resp = cmd_status(d);
	else if (!strcmp(cmd, "device.add"))
		resp = cmd_device_add(d, c, req);
	else if (!strcmp(cmd, "device.rm"))
		resp = cmd_device_rm(d, c, req);
	else if (!strcmp(cmd, "device.list"))
		resp = cmd_device_list(d);
	else if (!strcmp(cmd, "connector.add"))
		resp = cmd_connector_add(d, c, req);
	else if (!strcmp(cmd, "connector.rm"))
		resp = cmd_connector_rm(d, c, req);
	else if (!strcmp(cmd, "connector.list"))
		resp = cmd_connector_list(d);
	else if (!strcmp(cmd, "grant.add"))
		resp = cmd_grant(d, c, req, true);
	else if (!strcmp(cmd, "grant.rm"))
		resp = cmd_grant(d, c, req, false);
	else if (!strcmp(cmd, "grant.list"))
		resp = cmd_grant_list(d, req);
	else if (!strcmp(cmd, "policy.apply"))
		resp = cmd_policy_apply(d, c, req);
	else if (!strcmp(cmd, "policy.export"))
		resp = cmd_policy_export(d);
	else if (!strcmp(cmd, "dns.list"))
		resp = cmd_dns_list(d);
	else if (!strcmp(cmd, "dns.resolve"))
		resp = cmd_dns_resolve(d, req);
	else if (!strcmp(cmd, "events")) {
		c->subscriber = true;
		resp = reply_ok();
	} else if (!strcmp(cmd, "teardown")) {
		zt_audit(d, c->fd, "teardown", NULL);
		d->teardown = true;
		zt_loop_stop(d->loop);
		resp = reply_ok();
	} else {
		char err[128];

		snprintf(err, sizeof(err), "unknown command '%.64s'", cmd);
		resp = reply_error(err);
	}
	json_object_put(req);
	return resp;
}

static void client_close(struct zt_daemon *d, struct zt_ctl_client *c)
{
	struct zt_ctl_client **pc;

	for (pc = &d->clients; *pc; pc = &(*pc)->next) {
		if (*pc == c) {
			*pc = c->next;
			break;
		}
	}
	zt_loop_del(d->loop, c->fd);
	close(c->fd);
	free(c->out);
	zt_line_buf_free(&c->buf);
	free(c);
}

/* Send what is queued; returns 0 (maybe with bytes left) or -errno. */
static int subscriber_flush(struct zt_ctl_client *c)
{
	while (c->out_len) {
		ssize_t w = send(c->fd, c->out, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		memmove(c->out, c->out + w, c->out_len - (size_t)w);
		c->out_len -= (size_t)w;
	}
	if (!c->out_len && c->dropped) {
		char marker[96];
		int n = snprintf(marker, sizeof(marker),
				 "{\"event\":\"dropped\",\"count\":%lu}\n", c->dropped);

		/* Fits: the queue is empty and far larger than a marker. */
		memcpy(c->out, marker, (size_t)n);
		c->out_len = (size_t)n;
		c->dropped = 0;
		return subscriber_flush(c);
	}
	/* Ask for EPOLLOUT only while something waits. */
	return zt_loop_mod(c->d->loop, c->fd,
			   EPOLLIN | EPOLLRDHUP | (c->out_len ? EPOLLOUT : 0u));
}

static int subscriber_queue(struct zt_ctl_client *c, const char *text)
{
	size_t len = strlen(text);

	if (!c->out) {
		c->out = malloc(ZT_SUB_QUEUE_MAX);
		if (!c->out)
			return -ENOMEM;
	}
	if (c->out_len + len + 1 > ZT_SUB_QUEUE_MAX - 96) {
		c->dropped++;
		return 0;
	}
	memcpy(c->out + c->out_len, text, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	return subscriber_flush(c);
}

static void on_client(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_ctl_client *c = arg;
	struct zt_daemon *d = c->d;
	char *line, *space;
	size_t avail;
	ssize_t r;
	int ret;

	(void)loop;
	if (c->subscriber && (events & EPOLLOUT) && !(events & (EPOLLHUP | EPOLLERR))) {
		if (subscriber_flush(c)) {
			client_close(d, c);
			return;
		}
		if (!(events & EPOLLIN))
			return;
	}
	if (c->subscriber || (events & (EPOLLHUP | EPOLLERR))) {
		/* Subscribers only listen; anything from them, or a hangup, ends them. */
		if (events & EPOLLIN) {
			char drain[256];

			r = read(fd, drain, sizeof(drain));
			if (r > 0 && !(events & (EPOLLHUP | EPOLLERR)))
				return;
		}
		client_close(d, c);
		return;
	}
	space = zt_line_space(&c->buf, &avail);
	if (!space) {
		json_object *resp = reply_error("request too long");

		zt_json_write(fd, resp);
		json_object_put(resp);
		client_close(d, c);
		return;
	}
	r = read(fd, space, avail);
	if (r <= 0) {
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		client_close(d, c);
		return;
	}
	c->buf.len += (size_t)r;
	while ((ret = zt_line_take(&c->buf, &line)) == 1) {
		json_object *resp = handle_request(d, c, line);

		ret = zt_json_write(fd, resp);
		json_object_put(resp);
		if (ret) {
			client_close(d, c);
			return;
		}
		if (c->subscriber)
			return;
	}
	if (ret < 0) {
		json_object *resp = reply_error("request too long");

		zt_json_write(fd, resp);
		json_object_put(resp);
		client_close(d, c);
	}
}

static void on_listen(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_daemon *d = arg;
	struct timeval tv = { .tv_sec = 2 };
	struct zt_ctl_client *c;
	int cfd;

	(void)events;
	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	/*
	 * Reads happen only when epoll says data is there; writes of a reply
	 * may block, but never longer than this, so one stuck client cannot
	 * hold the daemon.
	 */
	setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return;
	}
	c->d = d;
	c->fd = cfd;
	if (zt_loop_add(loop, cfd, EPOLLIN | EPOLLRDHUP, on_client, c)) {
		close(cfd);
		free(c);
		return;
	}
	c->next = d->clients;
	d->clients = c;
}

void zt_control_broadcast(struct zt_daemon *d, json_object *ev)
{
	const char *text = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE);
	struct zt_ctl_client *c, *next;

	for (c = d->clients; c; c = next) {
		next = c->next;
		if (c->subscriber && subscriber_queue(c, text))
			client_close(d, c);
	}
}

int zt_control_open(struct zt_daemon *d, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)];
	char *slash;
	mode_t old;
	int fd, ret;

	if (strlen(d->socket_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", d->socket_path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, d->socket_path);
	snprintf(dir, sizeof(dir), "%s", d->socket_path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		ret = zt_mkdir_p(dir, 0755);
		if (ret) {
			snprintf(err, errlen, "%s: %s", dir, strerror(-ret));
			return ret;
		}
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto sys_err;
	/* A socket file that still answers belongs to a running daemon. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		snprintf(err, errlen, "another ztgated is already serving %s", d->socket_path);
		return -EADDRINUSE;
	}
	unlink(d->socket_path);
	old = umask(0177);	/* 0600 from the start, no window with wider rights */
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret || listen(fd, 64))
		goto sys_err;
	ret = zt_loop_add(d->loop, fd, EPOLLIN, on_listen, d);
	if (ret) {
		errno = -ret;
		goto sys_err;
	}
	d->listen_fd = fd;
	return 0;

sys_err:
	ret = -errno;
	snprintf(err, errlen, "control socket %s: %s", d->socket_path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ret;
}

void zt_control_close(struct zt_daemon *d)
{
	while (d->clients)
		client_close(d, d->clients);
	if (d->listen_fd >= 0) {
		zt_loop_del(d->loop, d->listen_fd);
		close(d->listen_fd);
		d->listen_fd = -1;
		unlink(d->socket_path);
	}
}
