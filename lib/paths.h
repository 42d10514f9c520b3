/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Where a role keeps its things on a host by default, one place per role so
 * that every role can run on one host with its defaults: the control socket
 * ZT_RUN_DIR/ROLE.sock, the state ZT_STATE_ROOT/ROLE, the pins
 * ZT_PIN_ROOT/ROLE. The daemon's core picks them; the CLI finds the sockets.
 */
#ifndef ZT_LIB_PATHS_H
#define ZT_LIB_PATHS_H

#define ZT_RUN_DIR	"/run/ztgate"
#define ZT_STATE_ROOT	"/var/lib/ztgate"
#define ZT_PIN_ROOT	"/sys/fs/bpf/ztgate"

#endif
