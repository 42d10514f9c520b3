/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The relay server (docs/RELAY.md): STUN Binding and the relay messages on
 * one UDP port, the same length-prefixed on an optional TCP port; forwards
 * sealed tunnel datagrams between registered peers that accept each other.
 * roles/relay.c runs it.
 */
#ifndef ZT_RELAY_SERVER_H
#define ZT_RELAY_SERVER_H

#include <stdint.h>

#include <json-c/json.h>

#include "lib/loop.h"
#include "relay/proto.h"

#define ZT_RELAY_DEFAULT_LISTEN		"0.0.0.0:3478"
#define ZT_RELAY_DEFAULT_LIFETIME_S	60
#define ZT_RELAY_DEFAULT_MAX_AGE_S	600	/* then a fresh register (cookie) is needed */
#define ZT_RELAY_DEFAULT_PEER_ACCEPT	256	/* keys on one peer's accept list */
#define ZT_RELAY_DEFAULT_TOTAL_ACCEPT	131072	/* keys on all accept lists (4 MiB) */
#define ZT_RELAY_DEFAULT_TCP_IDLE_S	75
#define ZT_RELAY_DEFAULT_TCP_UNREG_S	10

struct zt_relay_server;

struct zt_relay_server_cfg {
	struct zt_loop *loop;
	const char *listen;			/* UDP ADDR:PORT */
	const char *tcp_listen;			/* TCP ADDR:PORT, or NULL */
	uint8_t private_key[ZT_RELAY_KEYLEN];
	double peer_pps, peer_bps;		/* per registered peer */
	double src_stun_rate, src_hs_rate;	/* per source address */
	uint16_t lifetime_s;			/* of a registration */
	/* 0: the defaults above (issue 10 A4; tests make them small). */
	uint32_t max_age_s;			/* since the last register */
	uint32_t peer_accept_max, total_accept_max;
	uint32_t tcp_idle_s, tcp_unreg_idle_s;
};

/* Bind the sockets and start; 0 or -errno with ERR set (*OUT to close either way). */
int zt_relay_server_open(const struct zt_relay_server_cfg *cfg, struct zt_relay_server **out,
			 char *err, size_t errlen);
void zt_relay_server_close(struct zt_relay_server *r);
/*
 * Forget every registration, TCP connection, per-source bucket and
 * counter, as if just opened; the sockets, keys and cookie secret stay.
 * For tests and fuzzing (tests/fuzz/fuzz_relay_server.c): a fresh server
 * per input without opening one, which costs a thousand times more.
 */
void zt_relay_server_reset(struct zt_relay_server *r);
/* Registered peers now ("registered_peers" in the stats). */
size_t zt_relay_server_npeers(const struct zt_relay_server *r);
uint16_t zt_relay_server_udp_port(const struct zt_relay_server *r);
uint16_t zt_relay_server_tcp_port(const struct zt_relay_server *r);
void zt_relay_server_public_key(const struct zt_relay_server *r, uint8_t pub[ZT_RELAY_KEYLEN]);
/* `ztgate stats`: "relay" (counters) and "peers" (the registered peers). */
void zt_relay_server_stats_json(const struct zt_relay_server *r, json_object *o);

#endif
