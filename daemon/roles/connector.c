// SPDX-License-Identifier: GPL-2.0-only
/*
 * `ztgated connector`: ends the devices' tunnels inside the private network.
 * The core's policy parts (with device checks and default deny in the
 * classifier), the TUN `ztc0` with the classifier on its ingress, the
 * nftables forwarding and masquerade, the forwarding engine
 * (forward/connector.h) and the optional XDP guard on the uplink. Options
 * and role operations.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/mem.h>

#include "core/control.h"
#include "core/daemon.h"
#include "core/managed.h"
#include "core/role.h"
#include "dataplane/uplink_guard.h"
#include "forward/connector.h"
#include "lib/log.h"
#include "netdev/flows.h"
#include "netdev/nat_rules.h"
#include "netdev/tun.h"
#include "roles/roles.h"
#include "tunnel/keys.h"

#define ZT_CONNECTOR_DEFAULT_TUN	"ztc0"
#define ZT_CONNECTOR_DEFAULT_DEVICES	"100.64.0.0/12"
/* ZT_TUNNEL_MTU: ztgate/defaults.h (via core/daemon.h) */
#define MAX_DNS				8
#define MAX_DENY			64

struct connector_opts {
	const char *listen;
	const char *key_file;
	const char *tun;
	const char *name;
	const char *device_range;
	const char *uplink;
	uint32_t handshake_rate;
	uint32_t handshake_burst;
	uint32_t device_flows;		/* --device-flows: flow table entries per device */
	uint32_t device_binds;		/* --device-binds: names bound per device */
	const char *dns[MAX_DNS];
	unsigned int ndns;
	struct zt_prefix deny[MAX_DENY];	/* --deny-address: never bound to a name */
	size_t ndeny;
	struct zt_path_relay_spec relays[ZT_PATHS_RELAYS_MAX];	/* --relay, --relay-tcp; the controller's */
	size_t nrelays;
	size_t nrelays_own;	/* of them, --relay and --relay-tcp: the first ones, kept */
	struct zt_endpoint udp_relays[ZT_PATHS_RELAYS_MAX];	/* the UDP relays as addresses, for --uplink */
	size_t nudp_relays;
	struct zt_paths_advertise advertise;	/* --advertise */
};

/* The connector role's state (zt_daemon.role). */
struct connector {
	struct connector_opts o;
	struct zt_connector_fwd_cfg fcfg;	/* filled by configure */
	char host[ZT_NAME_MAX];
	char dns_csv[512];
	struct zt_prefix device_range;
	struct zt_tun *tun;
	bool destroy_tun, rules;
	char nft_table[ZT_NFT_TABLE_MAX];	/* ours alone: keyed by the pin dir */
	struct zt_connector_fwd *fwd;
	struct zt_uplink_guard *guard;	/* the XDP guard on --uplink; NULL without */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ztgated connector --listen ADDR:PORT --key FILE [--tun NAME] [--dns ADDR]...\n"
		"       ztgated connector --controller HOST:PORT [--token TOKEN] --listen ADDR:PORT ...\n"
		"                         [--name NAME] [--device-range CIDR] [--deny-address CIDR]...\n"
		"                         [--uplink IFACE [--handshake-rate N] [--handshake-burst N]]\n"
		"                         [--relay HOST:PORT]... [--relay-tcp HOST:PORT]...\n"
		"                         [--advertise ADDR[:PORT]|none]...\n"
		"                         [--device-flows N] [--device-binds N]\n"
		"                         [--state-dir DIR] [--socket PATH] [--pin-dir DIR]\n"
		"defaults: --tun %s --device-range %s; --dns: the nameservers of /etc/resolv.conf\n"
		"--uplink: an XDP guard on that interface drops malformed tunnel datagrams and\n"
		"limits handshake initiations per source (default 20/s, burst 40); with it,\n"
		"UDP relays must be given as IP:PORT (the guard admits them by address)\n"
		"--relay: devices reach us through it until a direct path is found (TUN MTU %d)\n"
		"--advertise: the addresses offered to devices as direct paths (IP: the tunnel's\n"
		"port), instead of those of the interfaces holding a default route (the\n"
		"uplink); none: only the public address the relays see (at most %d)\n"
		"--deny-address: a name a device binds is never translated to an address in CIDR\n"
		"(beside loopback, link-local, multicast, our own addresses, the device and fake\n"
		"ranges and other resources' addresses, always refused)\n"
		"--device-flows: connections one device may have in the flow table (default %d);\n"
		"past it, its new connections are dropped (untracked_drops)\n"
		"--device-binds: names one device may bind at once (default 256, at most 4096)\n"
		"--controller: devices and grants come from the controller's view; the key is\n"
		"made in the state dir at the first start (--token) unless --key is given\n",
		ZT_CONNECTOR_DEFAULT_TUN, ZT_CONNECTOR_DEFAULT_DEVICES, ZT_RELAYED_TUNNEL_MTU,
		ZT_CAND_ADVERTISE_MAX, ZT_FLOWS_DEFAULT_PER_DEVICE);
}

static int on_policy_applied(struct zt_daemon *d, char *err, size_t errlen)
{
	return zt_connector_fwd_sync(((struct connector *)d->role)->fwd, err, errlen);
}

static int connector_bindings(struct zt_daemon *d, const struct zt_policy *next,
			      struct zt_exact_binding **out, size_t *n)
{
	const struct connector *c = d->role;

	if (!c->fwd) {
		*out = NULL;
		*n = 0;
		return 0;
	}
	return zt_connector_fwd_bindings(c->fwd, next, out, n);
}

static void on_event(struct zt_daemon *d, const struct zt_event *e, json_object *ev)
{
	struct connector *c = d->role;

	(void)ev;
	if (c->fwd)
		zt_connector_fwd_deny(c->fwd, e);
}

static void on_status(struct zt_daemon *d, json_object *o)
{
	struct connector *c = d->role;

	json_object_object_add(o, "nft_table", json_object_new_string(c->nft_table));
	zt_connector_fwd_status_json(c->fwd, o);
}

static void on_stats(struct zt_daemon *d, json_object *o)
{
	struct connector *c = d->role;

	zt_connector_fwd_stats_json(c->fwd, o);
	zt_uplink_guard_stats_json(c->guard, o);
}

/*
 * Connection logs go to the log stream, to every `ztgate events` follower
 * and, on a controller-managed connector, to the controller.
 */
static void log_line(void *arg, json_object *line)
{
	zt_control_broadcast(arg, line);
	zt_managed_report_connection(arg, line);
	zt_emit(json_object_get(line));
}

static int bind_live(void *arg, const struct zt_exact_binding *b)
{
	struct zt_daemon *d = arg;

	return zt_compile_bind_live(d->fds, &d->compiled, b);
}

static int unbind_live(void *arg, const struct zt_exact_binding *b)
{
	struct zt_daemon *d = arg;

	return zt_compile_unbind_live(d->fds, &d->compiled, b);
}

/*
 * The XDP guard in front of the tunnel's port: malformed datagrams and
 * initiation floods never reach the socket (docs/TUNNEL.md).
 */
static int uplink_open(struct zt_daemon *d, char *err, size_t errlen)
{
	struct connector *c = d->role;
	const struct zt_uplink_guard_cfg cfg = {
		.pin_dir = d->pin_dir, .ifname = c->o.uplink,
		.port = (uint16_t)zt_connector_fwd_port(c->fwd),
		.rate = c->o.handshake_rate, .burst = c->o.handshake_burst,
		.relays = c->o.udp_relays, .nrelays = c->o.nudp_relays,
	};

	return zt_uplink_guard_start(&cfg, &c->guard, err, errlen);
}

static const struct option options[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "key", required_argument, NULL, 'k' },
	{ "tun", required_argument, NULL, 't' },
	{ "dns", required_argument, NULL, 'd' },
	{ "name", required_argument, NULL, 'n' },
	{ "device-range", required_argument, NULL, 'r' },
	{ "uplink", required_argument, NULL, 'U' },
	{ "handshake-rate", required_argument, NULL, 'R' },
	{ "handshake-burst", required_argument, NULL, 'B' },
	{ "relay", required_argument, NULL, 'Y' },
	{ "relay-tcp", required_argument, NULL, 'P' },
	{ "deny-address", required_argument, NULL, 'D' },
	{ "device-flows", required_argument, NULL, 'F' },
	{ "device-binds", required_argument, NULL, 'N' },
	{ "advertise", required_argument, NULL, 'A' },
	{ 0 },
};

static int option(struct zt_daemon *d, int c, const char *optarg)
{
	struct connector_opts *o = &((struct connector *)d->role)->o;
	unsigned long long v;

	switch (c) {
	case 'l': o->listen = optarg; return 0;
	case 'k': o->key_file = optarg; return 0;
	case 't': o->tun = optarg; return 0;
	case 'n': o->name = optarg; return 0;
	case 'r': o->device_range = optarg; return 0;
	case 'U': o->uplink = optarg; return 0;
	case 'D': {
		char why[128];

		if (o->ndeny == MAX_DENY) {
			fprintf(stderr, "ztgated: at most %d --deny-address\n", MAX_DENY);
			return -EINVAL;
		}
		if (zt_prefix_parse(optarg, &o->deny[o->ndeny], why, sizeof(why)) ||
		    o->deny[o->ndeny].family != AF_INET) {
			fprintf(stderr, "ztgated: invalid --deny-address '%s': %s\n", optarg,
				o->deny[o->ndeny].family == AF_INET ? why : "expected an IPv4 CIDR");
			return -EINVAL;
		}
		o->ndeny++;
		return 0;
	}
	case 'Y':
	case 'P':
		return zt_opt_relay(o->relays, &o->nrelays, optarg, c == 'P');
	case 'A':
		return zt_opt_advertise(&o->advertise, optarg);
	case 'R':
	case 'B':
		if (zt_opt_uint(c == 'R' ? "handshake-rate" : "handshake-burst", optarg, 1, 1000000,
				&v))
			return -EINVAL;
		if (c == 'R')
			o->handshake_rate = (uint32_t)v;
		else
			o->handshake_burst = (uint32_t)v;
		return 0;
	case 'F':
		if (zt_opt_uint("device-flows", optarg, 1, ZT_FLOWS_DEFAULT_MAX, &v))
			return -EINVAL;
		o->device_flows = (uint32_t)v;
		return 0;
	case 'N':
		if (zt_opt_uint("device-binds", optarg, 1, 4096, &v))
			return -EINVAL;
		o->device_binds = (uint32_t)v;
		return 0;
	case 'd':
		if (o->ndns == MAX_DNS) {
			fprintf(stderr, "ztgated: at most %d --dns servers\n", MAX_DNS);
			return -EINVAL;
		}
		o->dns[o->ndns++] = optarg;
		return 0;
	default:
		return -EINVAL;
	}
}

static void init(struct zt_daemon *d)
{
	struct connector *c = d->role;

	c->o.tun = ZT_CONNECTOR_DEFAULT_TUN;
	c->o.device_range = ZT_CONNECTOR_DEFAULT_DEVICES;
}

/*
 * The guard passes tunnel messages, and the UDP relays' datagrams by their
 * source: it needs the relays' addresses, not names (nothing resolves in
 * XDP, and they must pass before the first answer).
 */
static int uplink_relays(struct connector_opts *o, char *err, size_t errlen)
{
	o->nudp_relays = 0;
	for (size_t i = 0; i < o->nrelays; i++) {
		char why[128];

		if (o->relays[i].tcp)
			continue;
		if (zt_endpoint_parse(o->relays[i].relay, &o->udp_relays[o->nudp_relays], why,
				      sizeof(why))) {
			snprintf(err, errlen, "with --uplink, --relay must be IP:PORT "
				 "(the guard admits the relay by address): '%s'", o->relays[i].relay);
			return -EINVAL;
		}
		o->nudp_relays++;
	}
	return 0;
}

/* The --dns servers as c-ares' csv. */
static int dns_servers(struct connector *c, char *err, size_t errlen)
{
	const struct connector_opts *o = &c->o;
	size_t used = 0;

	for (unsigned int i = 0; i < o->ndns; i++) {
		struct in_addr a;

		if (inet_pton(AF_INET, o->dns[i], &a) != 1) {
			snprintf(err, errlen, "invalid --dns '%s': expected an IPv4 address", o->dns[i]);
			return -EINVAL;
		}
		used += (size_t)snprintf(c->dns_csv + used, sizeof(c->dns_csv) - used, "%s%s",
					 i ? "," : "", o->dns[i]);
		if (used >= sizeof(c->dns_csv))
			used = sizeof(c->dns_csv) - 1;
	}
	return 0;
}

static int configure(struct zt_daemon *d, char *err, size_t errlen)
{
	struct connector *c = d->role;
	struct connector_opts *o = &c->o;
	struct zt_endpoint listen;
	char why[256];
	int ret;

	if ((o->handshake_rate || o->handshake_burst) && !o->uplink) {
		snprintf(err, errlen, "--handshake-rate/--handshake-burst need --uplink IFACE");
		return -EINVAL;
	}
	if (o->uplink && (ret = uplink_relays(o, err, errlen)))
		return ret;
	o->nrelays_own = o->nrelays;
	if ((ret = zt_opt_advertise_check(&o->advertise, err, errlen)))
		return ret;
	if (!o->listen || (!o->key_file && !d->controller)) {
		snprintf(err, errlen, "connector needs --listen ADDR:PORT and --key FILE "
			 "(or --controller HOST:PORT)");
		return -EINVAL;
	}
	if (zt_endpoint_parse(o->listen, &listen, why, sizeof(why))) {
		snprintf(err, errlen, "invalid --listen '%s': %s", o->listen, why);
		return -EINVAL;
	}
	if (zt_prefix_parse(o->device_range, &c->device_range, why, sizeof(why)) ||
	    c->device_range.family != AF_INET) {
		snprintf(err, errlen, "invalid --device-range '%s': %s", o->device_range,
			 c->device_range.family == AF_INET ? why : "expected an IPv4 CIDR");
		return -EINVAL;
	}
	ret = dns_servers(c, err, errlen);
	if (ret)
		return ret;
	if (!o->name) {
		if (gethostname(c->host, sizeof(c->host)))
			snprintf(c->host, sizeof(c->host), "connector");
		c->host[sizeof(c->host) - 1] = '\0';
		o->name = c->host;
	}
	if (d->controller && (ret = zt_managed_prepare(d, o->key_file, err, errlen)))
		return ret;
	/*
	 * The controller's relays (the persisted view's) join --relay. One the
	 * guard cannot admit is refused as at run time (view_relays), not
	 * fatal: the view that named it is ours, and we must start with it.
	 */
	if (d->controller && zt_managed_relays_merge(d, o->relays, &o->nrelays) && o->uplink &&
	    uplink_relays(o, why, sizeof(why))) {
		zt_log("error", "the controller's relays (persisted view): %s", why);
		o->nrelays = o->nrelays_own;
		if ((ret = uplink_relays(o, err, errlen)))
			return ret;
	}
	ret = zt_key_load_private(d->controller ? zt_managed_key_file(d) : o->key_file,
				  c->fcfg.tunnel.private_key, err, errlen);
	if (ret)
		return ret;
	zt_endpoint_to_sockaddr(&listen, &c->fcfg.tunnel.listen);
	return 0;
}

/* The TUN with the classifier on its ingress, its route and the kernel's forwarding. */
static int tun_up(struct zt_daemon *d, char *err, size_t errlen)
{
	struct connector *c = d->role;
	int ret;

	/* The classifier is on the TUN before any packet can go in. */
	ret = zt_tun_open(c->o.tun, &c->tun, err, errlen);
	if (ret)
		return ret;
	c->destroy_tun = true;
	ret = zt_dp_attach_tc(d->dp, zt_tun_name(c->tun), false);
	if (ret) {
		snprintf(err, errlen, "attaching tc ingress to %s: %s", zt_tun_name(c->tun),
			 strerror(-ret));
		return ret;
	}
	/* Managed: relays come and go with the views, the MTU cannot (client.c, tun_up). */
	ret = zt_tun_set_mtu(c->tun, c->o.nrelays || d->controller ? ZT_RELAYED_TUNNEL_MTU :
			     ZT_TUNNEL_MTU, err, errlen);
	if (!ret)
		ret = zt_tun_set_routes(c->tun, &c->device_range, 1, err, errlen);
	/* The forward guard of a namespace where ztgate turned forwarding on lets our TUN's group through. */
	if (!ret)
		ret = zt_tun_set_group(c->tun, ZT_NFT_TUN_GROUP, err, errlen);
	zt_nat_table_name(d->pin_dir, c->nft_table, sizeof(c->nft_table));
	if (!ret)
		ret = zt_nat_rules_install(c->nft_table, zt_tun_name(c->tun), &c->device_range, err,
					   errlen);
	c->rules = !ret;
	return ret;
}

/*
 * Our tunnel endpoint for the controller: --listen with the port bound (an
 * unspecified address stays so: the controller then uses the address it
 * sees us connect from).
 */
static void report_endpoint(struct zt_daemon *d)
{
	struct connector *c = d->role;
	struct zt_endpoint ep;
	char why[128], buf[64];

	if (zt_endpoint_parse(c->o.listen, &ep, why, sizeof(why)))
		return;
	ep.port = (uint16_t)zt_connector_fwd_port(c->fwd);
	zt_endpoint_format(&ep, buf, sizeof(buf));
	zt_managed_set_endpoint(d, buf);
}

static int start(struct zt_daemon *d, char *err, size_t errlen)
{
	struct connector *c = d->role;
	struct zt_connector_fwd_cfg *f = &c->fcfg;
	int ret;

	ret = tun_up(d, err, errlen);
	if (ret)
		return ret;
	f->loop = d->loop;
	f->policy = &d->policy;
	f->name = c->o.name;
	f->tun = c->tun;
	f->relays = c->o.relays;
	f->nrelays = c->o.nrelays;
	f->advertise = &c->o.advertise;
	f->dns_servers = c->dns_csv[0] ? c->dns_csv : NULL;
	f->bind_live = bind_live;
	f->unbind_live = unbind_live;
	f->bind_arg = d;
	f->device_range = c->device_range;
	f->deny = c->o.deny;
	f->ndeny = c->o.ndeny;
	f->device_flows = c->o.device_flows;
	f->device_binds = c->o.device_binds;
	f->log = log_line;
	f->log_arg = d;
	ret = zt_connector_fwd_open(f, &c->fwd, err, errlen);
	if (!ret && c->o.uplink)
		ret = uplink_open(d, err, errlen);
	if (!ret && d->controller)
		report_endpoint(d);
	return ret;
}

static void ready(struct zt_daemon *d, json_object *ready)
{
	struct connector *c = d->role;
	char b64[ZT_KEY_B64_LEN + 1];
	uint8_t pub[32];

	zt_connector_fwd_public_key(c->fwd, pub);
	zt_key_to_base64(pub, b64);
	json_object_object_add(ready, "name", json_object_new_string(c->o.name));
	json_object_object_add(ready, "listen", json_object_new_string(c->o.listen));
	json_object_object_add(ready, "port", json_object_new_int(zt_connector_fwd_port(c->fwd)));
	json_object_object_add(ready, "pubkey", json_object_new_string(b64));
	json_object_object_add(ready, "tun", json_object_new_string(zt_tun_name(c->tun)));
	json_object_object_add(ready, "nft_table", json_object_new_string(c->nft_table));
	json_object_object_add(ready, "uplink", json_object_new_string(c->o.uplink ? c->o.uplink : "none"));
	json_object_object_add(ready, "dns", json_object_new_string(c->dns_csv[0] ? c->dns_csv : "resolv.conf"));
	json_object_object_add(ready, "devices", json_object_new_int((int)d->policy.ndevices));
}

static void stop(struct zt_daemon *d)
{
	struct connector *c = d->role;

	zt_uplink_guard_stop(c->guard);	/* it protects our socket: it goes with us */
	c->guard = NULL;
	zt_connector_fwd_close(c->fwd);	/* logs the end of every open flow */
	c->fwd = NULL;
	if (c->rules)
		zt_nat_rules_remove(c->nft_table);
	c->rules = false;
	if (c->tun && d->loop)
		zt_loop_del(d->loop, zt_tun_fd(c->tun));
	zt_tun_close(c->tun, c->destroy_tun);
	c->tun = NULL;
	OPENSSL_cleanse(c->fcfg.tunnel.private_key, sizeof(c->fcfg.tunnel.private_key));
}

/* A controller's view: our name and remote network, for the connection logs. */
static int view_self(struct zt_daemon *d, json_object *self, char *err, size_t errlen)
{
	struct connector *c = d->role;
	json_object *name, *net;

	(void)err;
	(void)errlen;
	if (!c->fwd)
		return 0;
	if (!json_object_object_get_ex(self, "name", &name) || !json_object_is_type(name, json_type_string))
		name = NULL;
	if (!json_object_object_get_ex(self, "network", &net) || !json_object_is_type(net, json_type_string))
		net = NULL;
	zt_connector_fwd_set_names(c->fwd, name ? json_object_get_string(name) : NULL,
				   net ? json_object_get_string(net) : NULL);
	return 0;
}

/* /healthz and `ztgate health`: the TUN and the tunnel are up. */
static bool health(struct zt_daemon *d, json_object *checks)
{
	struct connector *c = d->role;

	json_object_object_add(checks, "tun", json_object_new_string(c->tun ? "ok" : "down"));
	json_object_object_add(checks, "tunnel", json_object_new_string(c->fwd ? "ok" : "down"));
	return c->tun && c->fwd;
}

/* `ztgate ping DEVICE`: one probe to a device, or with "id" its answer. */
static json_object *cmd_ping(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	struct connector *c = d->role;
	const char *peer = zt_ctl_str(r, "peer");
	json_object *o;
	char err[256];

	if (!peer)
		return zt_ctl_error("ping needs a device name");
	if (!c->fwd)
		return zt_ctl_error("the connector's tunnel is not up yet: nothing to ping");
	o = zt_ctl_ok();
	if (zt_connector_fwd_ping(c->fwd, peer, zt_ctl_str(r, "id"), o, err, sizeof(err))) {
		json_object_put(o);
		return zt_ctl_error(err);
	}
	return o;
}

static const struct zt_ctl_cmd commands[] = {
	{ "ping", cmd_ping, 0, false },
	{ 0 },
};

/*
 * The controller's relays changed: the uplink guard admits the new set and
 * the tunnel's relays follow, --relay kept. With --uplink, a relay by name
 * cannot be admitted: the change is refused whole, the relays stay.
 */
static int view_relays(struct zt_daemon *d, char *err, size_t errlen)
{
	struct connector *c = d->role;
	struct connector_opts next = c->o;
	int ret;

	next.nrelays = next.nrelays_own;
	zt_managed_relays_merge(d, next.relays, &next.nrelays);
	if (next.uplink && (ret = uplink_relays(&next, err, errlen)))
		return ret;
	if (c->guard && (ret = zt_uplink_guard_set_relays(c->guard, next.udp_relays, next.nudp_relays)))
		return zt_errf(err, errlen, ret, "uplink guard relays: %s", strerror(-ret));
	c->o = next;
	return c->fwd ? zt_connector_fwd_set_relays(c->fwd, c->o.relays, c->o.nrelays, err, errlen) : 0;
}

const struct zt_role_ops zt_role_connector = {
	.name = "connector",
	.summary = "ends device tunnels in the private network, enforces grants, forwards, logs connections",
	.needs = ZT_ROLE_POLICY | ZT_ROLE_MANAGED,
	.dp_flags = ZT_CFG_CHECK_DEVICE | ZT_CFG_DEFAULT_DENY,
	.state_size = sizeof(struct connector),
	.options = options,
	.usage = usage,
	.init = init,
	.option = option,
	.configure = configure,
	.start = start,
	.ready = ready,
	.stop = stop,
	.bindings = connector_bindings,
	.policy_applied = on_policy_applied,
	.stats = on_stats,
	.status = on_status,
	.health = health,
	.event = on_event,
	.commands = commands,
	.view_self = view_self,
	.view_relays = view_relays,
};
