/* SPDX-License-Identifier: GPL-2.0-only */
/* `ztgate netcheck`: UDP reachability, public endpoints and NAT behaviour via STUN. */
#ifndef ZT_CLI_NETCHECK_H
#define ZT_CLI_NETCHECK_H

#include <stdbool.h>

/*
 * Run netcheck with ARGV (`--relay HOST:PORT`, repeatable); print a table,
 * or one JSON object when JSON. Returns the exit status: 0 when some relay
 * answered, 1 when none did (UDP: no), 2 on bad usage.
 */
int zt_cli_netcheck(bool json, int argc, char **argv);

#endif
