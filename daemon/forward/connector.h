/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The connector's forwarding (docs/TUNNEL.md, "Connector data path"), for
 * roles/connector.c. From a device: the tunnel decrypts; the inner source
 * must be the address assigned to that device's key; a fake IP the device
 * bound to a name is translated to the name's resolved address (resolved
 * here through the private DNS, never taken from the client); the packet
 * goes into the TUN, where the classifier checks the device's grant and the
 * resource's ports. Replies route back into the TUN; their source is
 * translated back and they are sealed to the device. Every flow is logged.
 */
#ifndef ZT_FORWARD_CONNECTOR_H
#define ZT_FORWARD_CONNECTOR_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "lib/addr.h"
#include "lib/loop.h"
#include "path/relays.h"
#include "policy/compile.h"
#include "policy/policy.h"
#include "tunnel/tunnel.h"

struct zt_connector_fwd;
struct zt_event;
struct zt_tun;

struct zt_connector_fwd_cfg {
	struct zt_loop *loop;
	const struct zt_policy *policy;	/* the live policy (swapped in place) */
	const char *name;		/* this connector's name in connection logs */
	struct zt_tun *tun;		/* with the classifier on its ingress */
	struct zt_tunnel_cfg tunnel;	/* listen address and private key */
	const struct zt_path_relay_spec *relays;	/* --relay, --relay-tcp */
	size_t nrelays;
	const struct zt_paths_advertise *advertise;	/* --advertise; NULL: the uplink's addresses */
	const char *dns_servers;	/* c-ares csv, or NULL: resolv.conf */
	/*
	 * A name resolved for a device: into the live maps (for that device's
	 * packets only: b->device_id) before its packets go in; unbind_live
	 * takes it out again when the name moves, fails or is rebound.
	 */
	int (*bind_live)(void *arg, const struct zt_exact_binding *b);
	int (*unbind_live)(void *arg, const struct zt_exact_binding *b);
	void *bind_arg;
	/*
	 * What a resolved name may never be bound to, beside link-local,
	 * loopback, multicast, reserved, the connector's own addresses and
	 * other resources' addresses: the device range, the clients' fake
	 * range (ZT_FAKEIP_DEFAULT_RANGE) and the operator's --deny-address.
	 */
	struct zt_prefix device_range;
	const struct zt_prefix *deny;
	size_t ndeny;
	/* Per device: flow table entries (0: ZT_FLOWS_DEFAULT_PER_DEVICE) and names bound (0: 256). */
	uint32_t device_flows;
	uint32_t device_binds;
	/* Each connection log line (taken by neither side: the callee refs what it keeps). */
	void (*log)(void *arg, json_object *line);
	void *log_arg;
};

/* Open the tunnel, paths, relays, name cache and flow table; take the policy's devices. */
int zt_connector_fwd_open(const struct zt_connector_fwd_cfg *cfg, struct zt_connector_fwd **out,
			  char *err, size_t errlen);
/* Ends every open flow (logged), then closes it all. NULL is fine. */
void zt_connector_fwd_close(struct zt_connector_fwd *c);
/*
 * The policy changed: the tunnel's peers follow its devices (removed ones
 * cut at once), the relays' accept lists too.
 */
int zt_connector_fwd_sync(struct zt_connector_fwd *c, char *err, size_t errlen);
/* The resolved names in use, as exact addresses of NEXT's resources (*OUT malloc'd). */
int zt_connector_fwd_bindings(const struct zt_connector_fwd *c, const struct zt_policy *next,
			      struct zt_exact_binding **out, size_t *n);
/*
 * The connector's name and remote network in connection logs from now on
 * (a controller's view says them; NAME NULL or "": kept, NETWORK NULL: none).
 */
void zt_connector_fwd_set_names(struct zt_connector_fwd *c, const char *name, const char *network);
/* A deny from the classifier on the TUN: a DENIED record for its device. */
void zt_connector_fwd_deny(struct zt_connector_fwd *c, const struct zt_event *e);
/* The relays are now SPECS (a controller's view changed them: path/relays.h zt_path_relays_update). */
int zt_connector_fwd_set_relays(struct zt_connector_fwd *c, const struct zt_path_relay_spec *specs,
				size_t n, char *err, size_t errlen);
/* The tunnel's local UDP port and public key (for the ready line and the uplink guard). */
int zt_connector_fwd_port(const struct zt_connector_fwd *c);
void zt_connector_fwd_public_key(const struct zt_connector_fwd *c, uint8_t pub[32]);
/* `ztgate stats` and `ztgate status`. */
void zt_connector_fwd_stats_json(const struct zt_connector_fwd *c, json_object *o);
void zt_connector_fwd_status_json(const struct zt_connector_fwd *c, json_object *o);
/*
 * `ztgate ping DEVICE`: one probe sent (ID NULL) or its answer
 * (path/paths.h zt_paths_ping_json), with "peer" in O. 0 or -errno with
 * ERR (-ENOENT: no such device).
 */
int zt_connector_fwd_ping(struct zt_connector_fwd *c, const char *name, const char *id,
			  json_object *o, char *err, size_t errlen);

#endif
