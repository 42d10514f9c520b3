// SPDX-License-Identifier: GPL-2.0-only
/*
 * `ztgated relay`: the relay server (relay/server.h) on a public host, with
 * the optional XDP guard on its uplink. It enforces no policy: the core
 * loads no policy store and no tc data plane for it. Options and role
 * operations.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/mem.h>

#include "core/daemon.h"
#include "core/role.h"
#include "dataplane/uplink_guard.h"
#include "lib/log.h"
#include "relay/server.h"
#include "roles/roles.h"
#include "tunnel/keys.h"

/* The relay role's state (zt_daemon.role). */
struct relay_role {
	struct zt_relay_server_cfg cfg;
	const char *key_file;
	const char *uplink;		/* --uplink IFACE, or NULL */
	struct zt_relay_server *server;
	struct zt_uplink_guard *guard;	/* --uplink's XDP guard, or NULL */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ztgated relay --listen ADDR:PORT --key FILE [--tcp-listen ADDR:PORT]\n"
		"                     [--uplink IFACE] [--peer-pps N] [--peer-bps N]\n"
		"                     [--source-stun-rate N] [--source-hello-rate N] [--lifetime S]\n"
		"                     [--max-accept N]\n"
		"                     [--state-dir DIR] [--socket PATH] [--pin-dir DIR]\n"
		"UDP --listen answers STUN Binding and relays between registered peers that\n"
		"accept each other; --tcp-listen carries the same over TCP.\n"
		"defaults: --listen %s, per peer 20000 packets/s and 100000000 bytes/s,\n"
		"per source address 20 STUN and 10 hello/register per second, lifetime %d s\n"
		"--max-accept: keys one peer may accept (a connector: its devices; default %d,\n"
		"at most %d); a register with more is refused\n",
		ZT_RELAY_DEFAULT_LISTEN, ZT_RELAY_DEFAULT_LIFETIME_S, ZT_RELAY_DEFAULT_PEER_ACCEPT,
		ZT_RELAY_ACCEPT_MAX);
}

/* --OPT as a rate in [MIN, MAX]. */
static int opt_rate(const char *opt, const char *arg, unsigned long long min,
		    unsigned long long max, double *out)
{
	unsigned long long v;

	if (zt_opt_uint(opt, arg, min, max, &v))
		return -EINVAL;
	*out = (double)v;
	return 0;
}

static const struct option options[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "tcp-listen", required_argument, NULL, 'T' },
	{ "key", required_argument, NULL, 'k' },
	{ "uplink", required_argument, NULL, 'U' },
	{ "peer-pps", required_argument, NULL, 'P' },
	{ "peer-bps", required_argument, NULL, 'B' },
	{ "source-stun-rate", required_argument, NULL, 'R' },
	{ "source-hello-rate", required_argument, NULL, 'H' },
	{ "lifetime", required_argument, NULL, 'L' },
	{ "max-accept", required_argument, NULL, 'A' },
	{ 0 },
};

static int option(struct zt_daemon *d, int c, const char *arg)
{
	struct relay_role *rr = d->role;
	struct zt_relay_server_cfg *o = &rr->cfg;
	unsigned long long v;

	switch (c) {
	case 'l': o->listen = arg; return 0;
	case 'T': o->tcp_listen = arg; return 0;
	case 'k': rr->key_file = arg; return 0;
	case 'U': rr->uplink = arg; return 0;
	case 'P': return opt_rate("peer-pps", arg, 1, 1000000000ull, &o->peer_pps);
	case 'B': return opt_rate("peer-bps", arg, 65536, 1000000000000ull, &o->peer_bps);
	case 'R': return opt_rate("source-stun-rate", arg, 1, 1000000, &o->src_stun_rate);
	case 'H': return opt_rate("source-hello-rate", arg, 1, 1000000, &o->src_hs_rate);
	case 'L':
		if (zt_opt_uint("lifetime", arg, 30, 3600, &v))
			return -EINVAL;
		o->lifetime_s = (uint16_t)v;
		return 0;
	case 'A':
		/* More than a register can carry could never be used. */
		if (zt_opt_uint("max-accept", arg, 1, ZT_RELAY_ACCEPT_MAX, &v))
			return -EINVAL;
		o->peer_accept_max = (uint32_t)v;
		return 0;
	default:
		return -EINVAL;
	}
}

static void init(struct zt_daemon *d)
{
	struct relay_role *rr = d->role;

	rr->cfg = (struct zt_relay_server_cfg){
		.listen = ZT_RELAY_DEFAULT_LISTEN,
		.peer_pps = 20000,
		.peer_bps = 100e6,
		.src_stun_rate = 20,
		.src_hs_rate = 10,
		.lifetime_s = ZT_RELAY_DEFAULT_LIFETIME_S,
	};
}

static int configure(struct zt_daemon *d, char *err, size_t errlen)
{
	struct relay_role *rr = d->role;

	if (!rr->key_file) {
		snprintf(err, errlen, "relay needs --key FILE (and --listen ADDR:PORT, default %s)",
			 ZT_RELAY_DEFAULT_LISTEN);
		return -EINVAL;
	}
	return zt_key_load_private(rr->key_file, rr->cfg.private_key, err, errlen);
}

/* The XDP guard in front of the UDP port, in its relay mode. */
static int guard_open(struct zt_daemon *d, char *err, size_t errlen)
{
	struct relay_role *rr = d->role;
	const struct zt_uplink_guard_cfg cfg = {
		.pin_dir = d->pin_dir, .ifname = rr->uplink, .relay_mode = true,
		.port = zt_relay_server_udp_port(rr->server),
	};

	return zt_uplink_guard_start(&cfg, &rr->guard, err, errlen);
}

static int start(struct zt_daemon *d, char *err, size_t errlen)
{
	struct relay_role *rr = d->role;
	int ret;

	rr->cfg.loop = d->loop;
	ret = zt_relay_server_open(&rr->cfg, &rr->server, err, errlen);
	if (!ret && rr->uplink)
		ret = guard_open(d, err, errlen);
	return ret;
}

static void ready(struct zt_daemon *d, json_object *ready)
{
	struct relay_role *rr = d->role;
	char b64[ZT_KEY_B64_LEN + 1];
	uint8_t pub[ZT_RELAY_KEYLEN];

	zt_relay_server_public_key(rr->server, pub);
	zt_key_to_base64(pub, b64);
	json_object_object_add(ready, "listen", json_object_new_string(rr->cfg.listen));
	json_object_object_add(ready, "port", json_object_new_int(zt_relay_server_udp_port(rr->server)));
	if (rr->cfg.tcp_listen) {
		json_object_object_add(ready, "tcp_listen", json_object_new_string(rr->cfg.tcp_listen));
		json_object_object_add(ready, "tcp_port",
				       json_object_new_int(zt_relay_server_tcp_port(rr->server)));
	}
	json_object_object_add(ready, "pubkey", json_object_new_string(b64));
	json_object_object_add(ready, "uplink", json_object_new_string(rr->uplink ? rr->uplink : "none"));
}

static void on_stats(struct zt_daemon *d, json_object *o)
{
	struct relay_role *rr = d->role;

	zt_relay_server_stats_json(rr->server, o);
	zt_uplink_guard_stats_json(rr->guard, o);
}

static void stop(struct zt_daemon *d)
{
	struct relay_role *rr = d->role;

	zt_uplink_guard_stop(rr->guard);
	rr->guard = NULL;
	zt_relay_server_close(rr->server);
	rr->server = NULL;
	OPENSSL_cleanse(rr->cfg.private_key, sizeof(rr->cfg.private_key));
}

/* /healthz and `ztgate health`: the relay's sockets are up. */
static bool health(struct zt_daemon *d, json_object *checks)
{
	struct relay_role *rr = d->role;

	json_object_object_add(checks, "relay", json_object_new_string(rr->server ? "ok" : "down"));
	return rr->server != NULL;
}

const struct zt_role_ops zt_role_relay = {
	.name = "relay",
	.summary = "STUN and a meeting point that forwards sealed tunnel datagrams between peers that accept each other",
	.needs = 0,
	.state_size = sizeof(struct relay_role),
	.options = options,
	.usage = usage,
	.init = init,
	.option = option,
	.configure = configure,
	.start = start,
	.ready = ready,
	.stop = stop,
	.stats = on_stats,
	.health = health,
};
