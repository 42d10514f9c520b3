// SPDX-License-Identifier: GPL-2.0-only
/*
 * TEMPORARY, removed at merge: a do-nothing node server with the functions
 * of node_server.h, so that the controller role (daemon/roles/controller.c)
 * builds and runs its admin side on this branch while the real node server
 * (daemon/controller/node_server.c, another branch) is being written. It
 * listens on nothing: no node can connect.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "controller/node_server.h"

struct zt_node_server {
	int unused;
};

int zt_node_server_open(struct zt_node_server **out, const struct zt_node_server_cfg *cfg,
			char *err, size_t errlen)
{
	(void)cfg, (void)err, (void)errlen;
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void zt_node_server_changed(struct zt_node_server *s, const struct zt_node_ident *ident)
{
	(void)s, (void)ident;
}

void zt_node_server_disconnect(struct zt_node_server *s, const struct zt_node_ident *ident)
{
	(void)s, (void)ident;
}

json_object *zt_node_server_status(const struct zt_node_server *s)
{
	json_object *o = json_object_new_object();

	(void)s;
	json_object_object_add(o, "connected", json_object_new_int(0));
	json_object_object_add(o, "nodes", json_object_new_array());
	return o;
}

void zt_node_server_close(struct zt_node_server *s)
{
	free(s);
}
