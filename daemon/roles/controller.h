/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The controller role's state, shared by its two files: roles/controller.c
 * (options, role operations) and roles/controller_cmds.c (the admin
 * commands on the control socket).
 */
#ifndef ZT_ROLES_CONTROLLER_H
#define ZT_ROLES_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/control.h"
#include "lib/addr.h"
#include "tunnel/keys.h"

struct zt_loop;
struct zt_model;
struct zt_node_server;

struct controller_role {
	const char *listen;		/* --listen ADDR:PORT */
	struct zt_endpoint listen_ep;
	const char *key_file;		/* --key FILE */
	uint64_t keep_changes;		/* --keep-changes N (0: ZT_CHANGES_KEEP) */
	const char *db_url;		/* --db URL, or NULL: STATE_DIR/controller.db */
	const char *relays[8];		/* --relay HOST:PORT */
	size_t nrelays;
	uint8_t priv[ZT_KEY_LEN], pub[ZT_KEY_LEN];
	uint8_t view_priv[64], view_pub[32];	/* STATE_DIR/view-signing.key (Ed25519) */
	struct zt_model *model;
	struct zt_node_server *server;
	/* A shared database (controller_sync.c): its LISTEN connection and a 1 s tick. */
	struct zt_loop *loop;
	int listen_fd, tick_fd;
	unsigned int ticks;
	char instance[33];		/* this controller's row in the controllers table (random) */
	struct zt_node_counts published;	/* as last written there */
	unsigned int published_tick;
	int expiry_fd;			/* CLOCK_REALTIME timer: the next session expiry */
	bool expiry_kicked;		/* armed soon: a change may move the next expiry */
	int audit_fd;			/* CLOCK_MONOTONIC timer: write the queued audit records */
};

/* The database as opened (no credentials). */
const char *zt_controller_db_url(const struct controller_role *cr);

/*
 * On a database shared with other controllers: LISTEN for their changes and
 * runtime data, catch up on each, on reconnecting, and every few seconds
 * (controller_sync.c). No-op on SQLite. 0 or -errno with ERR set.
 */
int zt_controller_sync_start(struct controller_role *cr, struct zt_loop *loop, char *err,
			     size_t errlen);
void zt_controller_sync_stop(struct controller_role *cr);

/* The admin commands (controller_cmds.c). */
extern const struct zt_ctl_cmd zt_controller_commands[];

/*
 * A remote admin's request REQ (borrowed) with the API key KEY_NAME: run
 * through the same table as the control socket, with actor
 * "api-key:KEY_NAME"; a read-only key may run only the commands that change
 * nothing. The reply (a new reference). Wired to the node server (cfg.admin).
 */
json_object *zt_controller_remote_admin(void *arg, const char *key_name, bool read_only,
					json_object *req);

#endif
