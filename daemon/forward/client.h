/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The client's half of the tunnel: routes allowed packets from the TUN to
 * the connector serving their resource, binds fake IPs to names on the
 * connector, and lets replies from those resources back into the TUN.
 */
#ifndef ZT_CLIENT_TUNNEL_H
#define ZT_CLIENT_TUNNEL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/loop.h"
#include "policy/policy.h"
#include "dns/fakeip.h"
#include "tunnel/keys.h"
#include "path/relays.h"
#include "netdev/tun.h"

struct zt_client_tunnel;

struct zt_client_tunnel_stats {
	uint64_t to_connectors;		/* packets handed to the tunnel */
	uint64_t no_connector;		/* allowed by policy, but no connector serves it */
	uint64_t not_ipv4;
	uint64_t binds_sent;
	uint64_t from_connectors;	/* replies written into the TUN */
	uint64_t from_connectors_refused;	/* not from that connector's resources, or not to us */
	uint64_t malformed_control;
};

struct zt_client_tunnel_cfg {
	struct zt_loop *loop;
	const struct zt_policy *policy;	/* the live policy (swapped in place) */
	struct zt_tun *tun;		/* receives the replies */
	struct zt_fakeip *pool;		/* names the fake IPs */
	struct zt_prefix fake_range;
	struct in_addr address;		/* ours inside the tunnel */
	uint8_t private_key[ZT_KEY_LEN];
	/*
	 * --relay/--relay-tcp (N may be 0): connectors are reached through
	 * them until a direct path is found (path/paths.h).
	 */
	const struct zt_path_relay_spec *relays;
	size_t nrelays;
	const struct zt_paths_advertise *advertise;	/* --advertise; NULL: the interfaces' */
};

/*
 * Open the tunnel socket (any port) and add a peer per connector of the
 * policy. 0 or -errno with ERR set.
 */
int zt_client_tunnel_open(const struct zt_client_tunnel_cfg *cfg, struct zt_client_tunnel **out,
			  char *err, size_t errlen);
void zt_client_tunnel_close(struct zt_client_tunnel *ct);
/* The policy changed: connectors follow it (sessions of unchanged keys stay). */
int zt_client_tunnel_sync(struct zt_client_tunnel *ct, char *err, size_t errlen);
/* The relays are now SPECS (a controller's view changed them: path/relays.h zt_path_relays_update). */
int zt_client_tunnel_set_relays(struct zt_client_tunnel *ct, const struct zt_path_relay_spec *specs,
				size_t n, char *err, size_t errlen);
/* One allowed packet from the TUN. */
void zt_client_tunnel_packet(struct zt_client_tunnel *ct, const uint8_t *pkt, size_t len);
/* Batch the sends of one TUN drain into one sendmmsg. */
void zt_client_tunnel_cork(struct zt_client_tunnel *ct, bool cork);
/* `ztgate stats`: the tunnel, and each connector's session. */
void zt_client_tunnel_stats_json(struct zt_client_tunnel *ct, json_object *o);
/* `ztgate status`: "peers" (each connector's path) and "relays". */
void zt_client_tunnel_status_json(struct zt_client_tunnel *ct, json_object *o);
/*
 * `ztgate ping NAME`: NAME is a connector, or a resource (its connector is
 * pinged). One probe sent (ID NULL) or its answer (path.h
 * zt_paths_ping_json), with "peer" (and "resource") in O. 0 or -errno
 * with ERR (-ENOENT: no such connector or resource).
 */
int zt_client_tunnel_ping(struct zt_client_tunnel *ct, const char *name, const char *id,
			  json_object *o, char *err, size_t errlen);

#endif
