// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control commands every role answers the same way: `status` (the
 * role's tunnel peers), `maps` (the pinned maps and how bpftool reads
 * them), `events` (follow the event stream) and `teardown`.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "core/control.h"
#include "core/daemon.h"
#include "core/health.h"
#include "core/managed.h"
#include "core/role.h"

/* The live policy's fingerprint: the first 16 hex digits of SHA-256 of its document. */
static void policy_hash(const struct zt_policy *p, char out[17])
{
	json_object *doc = zt_policy_to_json(p);
	const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	uint8_t md[SHA256_DIGEST_LENGTH];

	SHA256((const uint8_t *)text, strlen(text), md);
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	json_object_put(doc);
}

/*
 * `ztgate status`: what runs here (role, version, paths), for roles with a
 * policy the active generation and the policy's fingerprint, and what the
 * role adds (the tunnel roles: each peer's path; the enforcer: its hooks).
 */
static json_object *cmd_status(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	json_object *o = zt_ctl_ok();
	struct zt_config cfg;
	char hash[17];

	(void)r;
	json_object_object_add(o, "role", json_object_new_string(d->ops->name));
	json_object_object_add(o, "pin_dir", json_object_new_string(d->pin_dir));
	json_object_object_add(o, "socket", json_object_new_string(d->socket_path));
	json_object_object_add(o, "state_dir", json_object_new_string(d->state_dir));
	if (d->dp) {
		policy_hash(&d->policy, hash);
		json_object_object_add(o, "policy_hash", json_object_new_string(hash));
		json_object_object_add(o, "resources", json_object_new_int((int)d->policy.count));
		if (!zt_config_read(d->fds, &cfg))
			json_object_object_add(o, "generation", json_object_new_int((int)cfg.active_gen));
	}
	if (d->controller) {
		json_object *m = zt_managed_status(d);

		if (m)
			json_object_object_add(o, "controller", m);
	}
	if (d->ops->status)
		d->ops->status(d, o);
	return o;
}

static json_object *cmd_maps(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	json_object *o = zt_ctl_ok(), *arr = json_object_new_array();
	const char *dir = zt_dp_pin_dir(d->dp);
	int i;

	(void)r;

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

/* `ztgate health`: the same checks as /healthz; the reply is ok, "healthy" says. */
static json_object *cmd_health(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	json_object *o = zt_ctl_ok(), *h = zt_health_json(d), *v;

	(void)r;
	json_object_object_get_ex(h, "ok", &v);
	json_object_object_add(o, "healthy", json_object_get(v));
	json_object_object_foreach(h, key, val)
		if (strcmp(key, "ok"))
			json_object_object_add(o, key, json_object_get(val));
	json_object_put(h);
	return o;
}

static json_object *cmd_events(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	(void)d;
	zt_control_subscribe(r);
	return zt_ctl_ok();
}

/* Stop; the core removes the pins on the way out (zt_daemon.teardown). */
static json_object *cmd_teardown(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	zt_audit(d, r->peer_fd, "teardown", NULL);
	d->teardown = true;
	zt_loop_stop(d->loop);
	return zt_ctl_ok();
}

/* `ztgate reauth TOKEN`: the token goes to the controller over the node's session. */
static json_object *cmd_reauth(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	const char *token = zt_ctl_str(r, "token");
	char err[300];

	if (!d->controller)
		return zt_ctl_error("this node is not managed by a controller");
	if (!token)
		return zt_ctl_error("reauth needs a token");
	if (zt_managed_reauth(d, token, err, sizeof(err)))
		return zt_ctl_error(err);
	return zt_ctl_ok();
}

const struct zt_ctl_cmd zt_core_commands[] = {
	{ "status", cmd_status, 0, false },
	{ "maps", cmd_maps, ZT_ROLE_POLICY, false },
	{ "health", cmd_health, 0, false },
	{ "events", cmd_events, 0, false },
	{ "teardown", cmd_teardown, 0, true },
	/* Not a change of the node's own: the token is the proof, checked by the controller. */
	{ "reauth", cmd_reauth, 0, false },
	{ 0 },
};
