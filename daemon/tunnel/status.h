/* SPDX-License-Identifier: GPL-2.0-only */
/* The tunnel's counters as JSON (`ztgate stats`), shared by client and connector. */
#ifndef ZT_TUNNEL_JSON_H
#define ZT_TUNNEL_JSON_H

#include <stddef.h>
#include <sys/socket.h>

#include <json-c/json.h>

#include "tunnel/tunnel.h"

json_object *zt_tunnel_stats_json(const struct zt_tunnel *t);
/* NAME (a device's or a connector's) with P's session and counters; P may be NULL. */
json_object *zt_tunnel_peer_json(const char *name, const struct zt_tunnel_peer *p);
/* "a.b.c.d:port", "[v6]:port" (v4-mapped shown as IPv4), "" when unset. */
void zt_sockaddr_format(const struct sockaddr_storage *ss, char *buf, size_t len);

#endif
