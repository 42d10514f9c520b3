/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The commands' handlers, by concern; each is an entry's run in the command
 * table (commands.c), called with its arguments parsed and checked.
 */
#ifndef ZT_CLI_HANDLERS_H
#define ZT_CLI_HANDLERS_H

#include "cli/cli.h"
#include "cli/command.h"

/* cmd_policy.c: the policy's objects, one at a time */
int cmd_resource_add(struct cli *c, const struct cli_args *a);
int cmd_resource_list(struct cli *c, const struct cli_args *a);
int cmd_resource_show(struct cli *c, const struct cli_args *a);
int cmd_resource_rm(struct cli *c, const struct cli_args *a);
int cmd_device_add(struct cli *c, const struct cli_args *a);
int cmd_device_list(struct cli *c, const struct cli_args *a);
int cmd_device_rm(struct cli *c, const struct cli_args *a);
int cmd_connector_add(struct cli *c, const struct cli_args *a);
int cmd_connector_list(struct cli *c, const struct cli_args *a);
int cmd_connector_rm(struct cli *c, const struct cli_args *a);
int cmd_grant(struct cli *c, const struct cli_args *a);
int cmd_revoke(struct cli *c, const struct cli_args *a);
int cmd_grant_list(struct cli *c, const struct cli_args *a);

/* cmd_apply.c: the whole policy as one document */
int cmd_apply(struct cli *c, const struct cli_args *a);
int cmd_export(struct cli *c, const struct cli_args *a);

/* cmd_keys.c: keys, locally */
int cmd_keygen(struct cli *c, const struct cli_args *a);
int cmd_pubkey(struct cli *c, const struct cli_args *a);

/* cmd_observe.c: what the daemon sees, and stopping it */
int cmd_stats(struct cli *c, const struct cli_args *a);
int cmd_status(struct cli *c, const struct cli_args *a);
int cmd_reauth(struct cli *c, const struct cli_args *a);
int cmd_health(struct cli *c, const struct cli_args *a);
int cmd_bugreport(struct cli *c, const struct cli_args *a);
int cmd_events(struct cli *c, const struct cli_args *a);
int cmd_maps(struct cli *c, const struct cli_args *a);
int cmd_dns(struct cli *c, const struct cli_args *a);
int cmd_resolve(struct cli *c, const struct cli_args *a);
int cmd_teardown(struct cli *c, const struct cli_args *a);

/* cmd_ping.c: a tunnel-level ping */
int cmd_ping(struct cli *c, const struct cli_args *a);

/* cmd_admin.c: the controller's admin commands, every one of them */
int cmd_admin(struct cli *c, const struct cli_args *a);
int cmd_admin_apply(struct cli *c, const struct cli_args *a);
int cmd_admin_connections(struct cli *c, const struct cli_args *a);

/* netcheck.c: the network's UDP, locally */
int cmd_netcheck(struct cli *c, const struct cli_args *a);

#endif
