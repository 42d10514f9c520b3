/* SPDX-License-Identifier: GPL-2.0-only */
/* The commands' handlers, by concern: policy objects, apply/export, keys, observability. */
#ifndef ZT_CLI_HANDLERS_H
#define ZT_CLI_HANDLERS_H

#include <stdbool.h>

#include "cli/cli.h"

/* cmd_policy.c: resources, devices, connectors, grants */
int cmd_resource(struct cli *c, int argc, char **argv);
int cmd_device(struct cli *c, int argc, char **argv);
int cmd_connector(struct cli *c, int argc, char **argv);
int cmd_grant(struct cli *c, bool add, int argc, char **argv);
int cmd_grant_list(struct cli *c);

/* cmd_apply.c: the whole policy as one document */
int cmd_apply(struct cli *c, int argc, char **argv);
int cmd_export(struct cli *c);

/* cmd_keys.c: keys, locally */
int cmd_keygen(struct cli *c, int argc, char **argv);
int cmd_pubkey(struct cli *c, int argc, char **argv);

/* cmd_observe.c: what the daemon sees, and stopping it */
int cmd_stats(struct cli *c);
int cmd_status(struct cli *c);
int cmd_events(struct cli *c);
int cmd_maps(struct cli *c);
int cmd_dns(struct cli *c);
int cmd_resolve(struct cli *c, const char *name);
int cmd_teardown(struct cli *c);

#endif
