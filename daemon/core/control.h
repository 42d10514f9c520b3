/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control socket: JSON lines over a Unix socket (mode 0600, root only).
 * control.c serves the connections and subscribers and dispatches each
 * request by its "cmd" through command tables: the core's (commands.c), the
 * policy commands for roles with a policy (policy_cmds.c), and the role's
 * own (zt_role_ops.commands).
 */
#ifndef ZT_CORE_CONTROL_H
#define ZT_CORE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

struct zt_daemon;
struct zt_control;
struct zt_ctl_client;

/* One request as a handler sees it. */
struct zt_ctl_req {
	json_object *args;		/* the request object ("cmd" and its arguments) */
	int peer_fd;			/* for zt_audit: whose credentials acted */
	struct zt_ctl_client *client;
	const char *actor;		/* set when not a local peer: "api-key:NAME" (NULL: peer_fd's uid) */
};

struct zt_ctl_cmd {
	const char *name;		/* the request's "cmd", e.g. "resource.add" */
	/* Returns the reply (reply_ok/reply_error below), taken by the caller. */
	json_object *(*run)(struct zt_daemon *d, const struct zt_ctl_req *r);
	unsigned int needs;		/* enum zt_role_needs: refused by roles without */
	/*
	 * Changes state: only root (or the daemon's own user) may ask. A
	 * --socket-group member may run the others (status, stats, lists).
	 */
	bool changes;
};

/*
 * Listen on d->socket_path and serve the CLI: mode 0600 (root only), or 0660
 * with GROUP (a group name or id, NULL for none) as its group. 0 or -errno,
 * ERR set.
 */
int zt_control_open(struct zt_daemon *d, const char *group, char *err, size_t errlen);
void zt_control_close(struct zt_daemon *d);
/* Send an event to every `ztgate events` subscriber. */
void zt_control_broadcast(struct zt_daemon *d, json_object *ev);
/* Make the requesting connection an events subscriber (after its reply). */
void zt_control_subscribe(const struct zt_ctl_req *r);

/* Reply helpers for handlers. */
json_object *zt_ctl_ok(void);
json_object *zt_ctl_error(const char *msg);
/* The string argument KEY, or NULL when absent or not a string. */
const char *zt_ctl_str(const struct zt_ctl_req *r, const char *key);

/* The core's tables (commands.c, policy_cmds.c). */
extern const struct zt_ctl_cmd zt_core_commands[];
extern const struct zt_ctl_cmd zt_policy_commands[];

#endif
