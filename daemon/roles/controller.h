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

struct zt_model;
struct zt_node_server;

struct controller_role {
	const char *listen;		/* --listen ADDR:PORT */
	struct zt_endpoint listen_ep;
	const char *key_file;		/* --key FILE */
	const char *db_url;		/* --db URL, or NULL: STATE_DIR/controller.db */
	const char *relays[8];		/* --relay HOST:PORT */
	size_t nrelays;
	uint8_t priv[ZT_KEY_LEN], pub[ZT_KEY_LEN];
	struct zt_model *model;
	struct zt_node_server *server;
	int expiry_fd;			/* CLOCK_REALTIME timer: the next session expiry */
	bool expiry_kicked;		/* armed soon: a change may move the next expiry */
};

/* The database as opened (no credentials). */
const char *zt_controller_db_url(const struct controller_role *cr);

/* The admin commands (controller_cmds.c). */
extern const struct zt_ctl_cmd zt_controller_commands[];

#endif
