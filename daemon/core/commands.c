// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control commands every role answers the same way: `status` (the
 * role's tunnel peers), `maps` (the pinned maps and how bpftool reads
 * them), `events` (follow the event stream) and `teardown`.
 */
#include <stdio.h>

#include "core/control.h"
#include "core/daemon.h"
#include "core/role.h"

/* `ztgate status`: each tunnel peer's path (client and connector roles). */
static json_object *cmd_status(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	json_object *o;

	(void)r;
	if (!d->ops->status)
		return zt_ctl_error("no tunnel here: `ztgate status` needs the client or connector role");
	o = zt_ctl_ok();
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

const struct zt_ctl_cmd zt_core_commands[] = {
	{ "status", cmd_status, 0, false },
	{ "maps", cmd_maps, ZT_ROLE_POLICY, false },
	{ "events", cmd_events, 0, false },
	{ "teardown", cmd_teardown, 0, true },
	{ 0 },
};
