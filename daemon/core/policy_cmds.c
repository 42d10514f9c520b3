// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy commands of the control socket (roles with ZT_ROLE_POLICY):
 * resources, devices, connectors, grants, the whole document (apply,
 * export), and the per-resource counters (`stats`, which every role answers).
 * Every request is validated whole before anything changes; the change is
 * made live through zt_daemon_apply_policy (compiled into the inactive
 * generation, saved, flipped) and leaves an audit record.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/control.h"
#include "core/daemon.h"
#include "core/managed.h"
#include "core/role.h"
#include "lib/log.h"

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

/*
 * What never reached the event stream: events lost to a full ring buffer,
 * and deny events, reject replies and scan events the rate limits held back.
 */
static json_object *events_counters(struct zt_daemon *d)
{
	json_object *o = json_object_new_object();
	struct zt_evbudget b;

	if (zt_evbudget_read(d->fds[ZT_MAP_EVBUDGET], &b))
		memset(&b, 0, sizeof(b));
	json_object_object_add(o, "lost", json_object_new_int64((int64_t)b.ring_lost));
	json_object_object_add(o, "suppressed", json_object_new_int64((int64_t)b.suppressed));
	json_object_object_add(o, "scan_suppressed",
			       json_object_new_int64((int64_t)b.scan_suppressed));
	json_object_object_add(o, "replies_suppressed",
			       json_object_new_int64((int64_t)b.replies_suppressed));
	return o;
}

static json_object *cmd_resource_add(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	struct zt_resource_def def;
	struct zt_policy next;
	json_object *v, *o;
	char err[512];
	bool icmp = false;
	int ret;

	if (json_object_object_get_ex(r->args, "icmp", &v)) {
		/* json-c would read the string "false" as true. */
		if (!json_object_is_type(v, json_type_boolean))
			return zt_ctl_error("malformed request: \"icmp\" must be true or false");
		icmp = json_object_get_boolean(v);
	}
	ret = zt_resource_parse(&def, zt_ctl_str(r, "name"), zt_ctl_str(r, "address"),
				zt_ctl_str(r, "tcp"), zt_ctl_str(r, "udp"), icmp,
				zt_ctl_str(r, "deny_mode"), err, sizeof(err));
	if (!ret)
		ret = zt_resource_set_connector(&def, zt_ctl_str(r, "connector"), err, sizeof(err));
	if (ret)
		return zt_ctl_error(err);
	if (zt_policy_copy(&next, &d->policy))
		return zt_ctl_error("out of memory");
	ret = zt_policy_add(&next, &def, err, sizeof(err));
	if (!ret) {
		/* The id may be a removed resource's: start its counters at zero. */
		ret = zt_counters_reset(d->fds, def.id);
		if (ret)
			snprintf(err, sizeof(err), "resetting counters: %s", strerror(-ret));
	}
	if (!ret)
		ret = zt_daemon_apply_policy(d, &next, err, sizeof(err));
	zt_policy_free(&next);
	if (ret)
		return zt_ctl_error(err);

	zt_audit(d, r->peer_fd, "resource.add", zt_resource_to_json(&def));
	o = zt_ctl_ok();
	json_object_object_add(o, "resource", zt_resource_to_json(&def));
	return o;
}

static json_object *cmd_resource_rm(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	const char *name = zt_ctl_str(r, "name");
	struct zt_resource_def *cur;
	struct zt_policy next;
	json_object *detail, *removed, *o;
	char err[512];
	int ret;

	if (!name)
		return zt_ctl_error("resource rm needs a name");
	cur = zt_policy_find(&d->policy, name);
	if (!cur) {
		snprintf(err, sizeof(err), "no resource named '%s'", name);
		return zt_ctl_error(err);
	}
	detail = zt_resource_to_json(cur);
	/* Its grants go with it: say which, in the audit record and the reply. */
	removed = zt_policy_grants_to_json(&d->policy, 0, cur->id);
	if (zt_policy_copy(&next, &d->policy)) {
		json_object_put(detail);
		json_object_put(removed);
		return zt_ctl_error("out of memory");
	}
	ret = zt_policy_remove(&next, name, err, sizeof(err));
	if (!ret)
		ret = zt_daemon_apply_policy(d, &next, err, sizeof(err));
	zt_policy_free(&next);
	if (ret) {
		json_object_put(detail);
		json_object_put(removed);
		return zt_ctl_error(err);
	}
	if (json_object_array_length(removed))
		json_object_object_add(detail, "removed_grants", json_object_get(removed));
	zt_audit(d, r->peer_fd, "resource.rm", detail);
	o = zt_ctl_ok();
	json_object_object_add(o, "removed_grants", removed);
	return o;
}

static json_object *cmd_resource_list(struct zt_daemon *d, bool with_counters)
{
	json_object *o = zt_ctl_ok(), *arr = json_object_new_array();
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
		json_object_object_add(o, "events", events_counters(d));
		if (d->ops->stats)
			d->ops->stats(d, o);
		zt_managed_stats(d, o);
	}
	return o;
}

static json_object *cmd_resource_ls(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	(void)r;
	return cmd_resource_list(d, false);
}

json_object *zt_daemon_stats(struct zt_daemon *d)
{
	return cmd_resource_list(d, true);
}

static json_object *cmd_stats(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	(void)r;
	return zt_daemon_stats(d);
}

static json_object *cmd_resource_show(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	const char *name = zt_ctl_str(r, "name");
	const struct zt_resource_def *def;
	struct zt_counters c;
	json_object *o, *res;
	char err[256];

	if (!name)
		return zt_ctl_error("resource show needs a name");
	def = zt_policy_find(&d->policy, name);
	if (!def) {
		snprintf(err, sizeof(err), "no resource named '%s'", name);
		return zt_ctl_error(err);
	}
	res = zt_resource_to_json(def);
	c = read_counters(d, def->id);
	json_object_object_add(res, "counters", add_counters(json_object_new_object(), &c));
	o = zt_ctl_ok();
	json_object_object_add(o, "resource", res);
	return o;
}

/*
 * Make NEXT (emptied here either way) the policy, then leave an audit record
 * of ACTION with DETAIL (taken). Returns the reply: REPLY (taken) on
 * success, an error otherwise.
 */
static json_object *change_policy(struct zt_daemon *d, const struct zt_ctl_req *r,
				  struct zt_policy *next, const char *action, json_object *detail,
				  json_object *reply)
{
	char err[512];
	int ret;

	ret = zt_daemon_apply_policy(d, next, err, sizeof(err));
	zt_policy_free(next);
	if (ret) {
		json_object_put(detail);
		json_object_put(reply);
		return zt_ctl_error(err);
	}
	zt_audit(d, r->peer_fd, action, detail);
	return reply;
}

static json_object *cmd_device_add(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	struct zt_device_def def;
	struct zt_policy next;
	json_object *o;
	char err[512];
	int ret;

	ret = zt_device_parse(&def, zt_ctl_str(r, "name"), zt_ctl_str(r, "pubkey"),
			      zt_ctl_str(r, "address"), err, sizeof(err));
	if (ret)
		return zt_ctl_error(err);
	if (zt_policy_copy(&next, &d->policy))
		return zt_ctl_error("out of memory");
	ret = zt_policy_device_add(&next, &def, err, sizeof(err));
	if (ret) {
		zt_policy_free(&next);
		return zt_ctl_error(err);
	}
	o = zt_ctl_ok();
	json_object_object_add(o, "device", zt_device_to_json(&def));
	return change_policy(d, r, &next, "device.add", zt_device_to_json(&def), o);
}

static json_object *cmd_device_rm(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	const char *name = zt_ctl_str(r, "name");
	const struct zt_device_def *cur;
	struct zt_policy next;
	json_object *detail, *removed, *o;
	char err[512];

	if (!name)
		return zt_ctl_error("device rm needs a name");
	cur = zt_policy_device_find(&d->policy, name);
	if (!cur) {
		snprintf(err, sizeof(err), "no device named '%s'", name);
		return zt_ctl_error(err);
	}
	detail = zt_device_to_json(cur);
	removed = zt_policy_grants_to_json(&d->policy, cur->id, 0);
	if (zt_policy_copy(&next, &d->policy)) {
		json_object_put(detail);
		json_object_put(removed);
		return zt_ctl_error("out of memory");
	}
	zt_policy_device_remove(&next, name, err, sizeof(err));
	json_object_object_add(detail, "removed_grants", json_object_get(removed));
	o = zt_ctl_ok();
	json_object_object_add(o, "removed_grants", removed);
	return change_policy(d, r, &next, "device.rm", detail, o);
}

static json_object *cmd_device_list(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	json_object *o = zt_ctl_ok(), *arr = json_object_new_array();
	unsigned int i;

	(void)r;

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

static json_object *cmd_connector_add(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	struct zt_connector_def def;
	struct zt_policy next;
	json_object *o;
	char err[512];
	int ret;

	ret = zt_connector_parse(&def, zt_ctl_str(r, "name"), zt_ctl_str(r, "pubkey"),
				 zt_ctl_str(r, "endpoint"), err, sizeof(err));
	if (ret)
		return zt_ctl_error(err);
	if (zt_policy_copy(&next, &d->policy))
		return zt_ctl_error("out of memory");
	ret = zt_policy_connector_add(&next, &def, err, sizeof(err));
	if (ret) {
		zt_policy_free(&next);
		return zt_ctl_error(err);
	}
	o = zt_ctl_ok();
	json_object_object_add(o, "connector", zt_connector_to_json(&def));
	return change_policy(d, r, &next, "connector.add", zt_connector_to_json(&def), o);
}

static json_object *cmd_connector_rm(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	const char *name = zt_ctl_str(r, "name");
	const struct zt_connector_def *cur;
	struct zt_policy next;
	json_object *detail;
	char err[512];

	if (!name)
		return zt_ctl_error("connector rm needs a name");
	cur = zt_policy_connector_find(&d->policy, name);
	if (!cur) {
		snprintf(err, sizeof(err), "no connector named '%s'", name);
		return zt_ctl_error(err);
	}
	detail = zt_connector_to_json(cur);
	if (zt_policy_copy(&next, &d->policy)) {
		json_object_put(detail);
		return zt_ctl_error("out of memory");
	}
	if (zt_policy_connector_remove(&next, name, err, sizeof(err))) {
		zt_policy_free(&next);
		json_object_put(detail);
		return zt_ctl_error(err);
	}
	return change_policy(d, r, &next, "connector.rm", detail, zt_ctl_ok());
}

static json_object *cmd_connector_list(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	json_object *o = zt_ctl_ok(), *arr = json_object_new_array();
	unsigned int i, j;

	(void)r;

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
static json_object *grant_change(struct zt_daemon *d, const struct zt_ctl_req *r, bool add)
{
	const char *device = zt_ctl_str(r, "device"), *resource = zt_ctl_str(r, "resource");
	struct zt_policy next;
	json_object *detail, *o;
	char err[512];
	int ret;

	if (!device || !resource)
		return zt_ctl_error(add ? "grant needs a device and a resource"
				       : "revoke needs a device and a resource");
	if (zt_policy_copy(&next, &d->policy))
		return zt_ctl_error("out of memory");
	ret = add ? zt_policy_grant_add(&next, device, resource, err, sizeof(err))
		  : zt_policy_grant_remove(&next, device, resource, err, sizeof(err));
	if (ret) {
		zt_policy_free(&next);
		return zt_ctl_error(err);
	}
	detail = json_object_new_object();
	json_object_object_add(detail, "device", json_object_new_string(device));
	json_object_object_add(detail, "resource", json_object_new_string(resource));
	o = zt_ctl_ok();
	json_object_object_add(o, "grant", json_object_get(detail));
	return change_policy(d, r, &next, add ? "grant.add" : "grant.rm", detail, o);
}

static json_object *cmd_grant_add(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	return grant_change(d, r, true);
}

static json_object *cmd_grant_rm(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	return grant_change(d, r, false);
}

static json_object *cmd_grant_list(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	const char *device = zt_ctl_str(r, "device");
	const struct zt_device_def *dev = NULL;
	json_object *o;
	char err[256];

	if (device) {
		dev = zt_policy_device_find(&d->policy, device);
		if (!dev) {
			snprintf(err, sizeof(err), "no device named '%s'", device);
			return zt_ctl_error(err);
		}
	}
	o = zt_ctl_ok();
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
static json_object *cmd_policy_apply(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	struct zt_policy next;
	json_object *doc, *v, *changes, *o, *detail;
	bool dry_run = false;
	char err[512];
	int ret;

	if (!json_object_object_get_ex(r->args, "policy", &doc))
		return zt_ctl_error("apply needs a \"policy\" document");
	if (json_object_object_get_ex(r->args, "dry_run", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return zt_ctl_error("malformed request: \"dry_run\" must be true or false");
		dry_run = json_object_get_boolean(v);
	}
	ret = zt_policy_from_doc(&next, doc, &d->policy, err, sizeof(err));
	if (ret)
		return zt_ctl_error(err);
	changes = zt_policy_diff(&d->policy, &next);
	if (!changes) {
		zt_policy_free(&next);
		return zt_ctl_error("out of memory");
	}
	o = zt_ctl_ok();
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
		return zt_ctl_error(err);
	}
	detail = json_object_new_object();
	json_object_object_add(detail, "changes", json_object_get(changes));
	return change_policy(d, r, &next, "policy.apply", detail, o);
}

int zt_daemon_apply_document(struct zt_daemon *d, json_object *doc, const char *action,
			     char *err, size_t errlen)
{
	json_object *changes, *detail;
	struct zt_policy next;
	int ret;

	ret = zt_policy_from_doc(&next, doc, &d->policy, err, errlen);
	if (ret)
		return ret;
	changes = zt_policy_diff(&d->policy, &next);
	if (!changes) {
		ret = zt_errf(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	if (json_object_array_length(changes) == 0)
		goto out;	/* the live policy already */
	ret = reset_new_counters(d, &next, err, errlen);
	if (!ret)
		ret = zt_daemon_apply_policy(d, &next, err, errlen);
	if (!ret) {
		detail = json_object_new_object();
		json_object_object_add(detail, "changes", json_object_get(changes));
		zt_audit(d, -1, action, detail);
	}
out:
	json_object_put(changes);
	zt_policy_free(&next);
	return ret;
}

static json_object *cmd_policy_export(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	json_object *o = zt_ctl_ok();

	(void)r;

	json_object_object_add(o, "policy", zt_policy_to_json(&d->policy));
	return o;
}

const struct zt_ctl_cmd zt_policy_commands[] = {
	{ "resource.add", cmd_resource_add, ZT_ROLE_POLICY, true },
	{ "resource.rm", cmd_resource_rm, ZT_ROLE_POLICY, true },
	{ "resource.list", cmd_resource_ls, 0, false },
	{ "resource.show", cmd_resource_show, ZT_ROLE_POLICY, false },
	{ "stats", cmd_stats, 0, false },
	{ "device.add", cmd_device_add, ZT_ROLE_POLICY, true },
	{ "device.rm", cmd_device_rm, ZT_ROLE_POLICY, true },
	{ "device.list", cmd_device_list, 0, false },
	{ "connector.add", cmd_connector_add, ZT_ROLE_POLICY, true },
	{ "connector.rm", cmd_connector_rm, ZT_ROLE_POLICY, true },
	{ "connector.list", cmd_connector_list, 0, false },
	{ "grant.add", cmd_grant_add, ZT_ROLE_POLICY, true },
	{ "grant.rm", cmd_grant_rm, ZT_ROLE_POLICY, true },
	{ "grant.list", cmd_grant_list, 0, false },
	{ "policy.apply", cmd_policy_apply, ZT_ROLE_POLICY, true },
	{ "policy.export", cmd_policy_export, 0, false },
	{ 0 },
};
