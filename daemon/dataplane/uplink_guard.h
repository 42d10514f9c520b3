/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The XDP guard on an uplink as a role uses it (--uplink IFACE on the
 * connector and the relay): open it under the role's pin dir, configure it
 * for the tunnel's or the relay's port, attach it, report it in `stats`, and
 * take it all away at stop (it protects our socket: it goes with us).
 * Built on dataplane/uplink.h.
 */
#ifndef ZT_DATAPLANE_UPLINK_GUARD_H
#define ZT_DATAPLANE_UPLINK_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "lib/addr.h"

struct zt_uplink_guard_cfg {
	const char *pin_dir;		/* the role's; the guard pins under PIN_DIR/uplink */
	const char *ifname;
	bool relay_mode;		/* the relay's port (STUN, relay messages), else a tunnel's */
	uint16_t port;
	uint32_t rate, burst;		/* handshake initiations per source per second; 0: defaults */
	const struct zt_endpoint *relays;	/* tunnel mode: UDP relays whose datagrams pass */
	size_t nrelays;
};

struct zt_uplink_guard;

/* 0 or -errno with ERR set; *OUT to stop either way. */
int zt_uplink_guard_start(const struct zt_uplink_guard_cfg *cfg, struct zt_uplink_guard **out,
			  char *err, size_t errlen);
/* Tunnel mode: the UDP relays whose datagrams pass are now RELAYS (a controller's view changed them). NULL is fine. 0 or -errno. */
int zt_uplink_guard_set_relays(struct zt_uplink_guard *g, const struct zt_endpoint *relays, size_t n);
/* Detach, close, remove the pins. NULL is fine. */
void zt_uplink_guard_stop(struct zt_uplink_guard *g);
/* Add "uplink": {iface, passed, dropped_malformed, ...} to O. */
void zt_uplink_guard_stats_json(const struct zt_uplink_guard *g, json_object *o);

#endif
