// SPDX-License-Identifier: GPL-2.0-only
/*
 * `ztgated client`: what a user runs. The core's policy parts (data plane,
 * policy store, control socket, events) plus the client's own: the TUN with
 * its addresses and routes and the enforcer on its egress, the fake-IP DNS
 * server (with its BPF fast path), and the tunnel to the connectors that
 * carries what the TUN reads. Options and role operations.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <openssl/mem.h>

#include "forward/client.h"
#include "core/control.h"
#include "core/daemon.h"
#include "core/managed.h"
#include "core/role.h"
#include "roles/roles.h"
#include "dns/cache.h"
#include "dataplane/dns_fast.h"
#include "dns/server.h"
#include "dns/upstreams.h"
#include "dns/fakeip.h"
#include "tunnel/keys.h"
#include "lib/log.h"
#include "policy/store.h"
#include "dns/resolved.h"
#include "netdev/tun.h"

#define ZT_CLIENT_DEFAULT_TUN	"ztg0"
#define ZT_CLIENT_DEFAULT_DNS	"100.95.0.251:53"
#define MAX_UPSTREAMS		8

struct client_opts {
	const char *tun;
	const char *dns;
	const char *fake_range;
	const char *resolv_conf;
	const char *upstream[MAX_UPSTREAMS];
	unsigned int nupstream;
	uint32_t ttl;
	unsigned int dns_cache;		/* entries; 0: no cache */
	const char *address;	/* our tunnel address; with KEY_FILE, the tunnel is on */
	const char *key_file;
	struct zt_path_relay_spec relays[ZT_PATHS_RELAYS_MAX];	/* --relay, --relay-tcp; the controller's */
	size_t nrelays;
	size_t nrelays_own;	/* of them, --relay and --relay-tcp: the first ones, kept */
	struct zt_paths_advertise advertise;	/* --advertise */
	bool dns_fast_path;	/* answer known resource names in BPF on lo */
};

/* The client role's state (zt_daemon.role). */
struct client {
	struct client_opts o;
	struct zt_dns_server_cfg dcfg;
	struct zt_prefix dns_addr;	/* the DNS address, on the TUN */
	struct zt_prefix tunnel_addr;	/* our tunnel address, on the TUN (with --key) */
	struct in_addr address;
	bool has_address;	/* --address, or the controller's view (self.address) */
	bool has_key;		/* --key, or the node's key under --controller */
	uint8_t key[ZT_KEY_LEN];
	char upstreams[1024];
	bool destroy_tun;

	struct zt_tun *tun;
	struct zt_prefix fake_range;
	struct zt_fakeip *pool;
	char dns_ip[16];	/* the DNS server's address, for systemd-resolved */
	bool resolved;		/* registered with systemd-resolved */
	struct zt_client_tunnel *tunnel;	/* NULL: no --key, packets are only counted */
	struct zt_dns_fast *dns_fast;	/* NULL: --dns-fast-path=off */
	struct zt_dns_server *dns;
};

/*
 * A local socket's query to the DNS address (a local address) travels over
 * the loopback device of our network namespace: the fast path goes there.
 */
#define ZT_CLIENT_LOOPBACK	"lo"


static void usage(FILE *f)
{
	fprintf(f,
		"usage: ztgated client [--controller HOST:PORT [--token TOKEN] [--key FILE]]\n"
		"                      [--tun NAME] [--dns ADDR:PORT] [--upstream ADDR[:PORT]]...\n"
		"                      [--fake-range CIDR] [--dns-ttl S] [--dns-cache N]\n"
		"                      [--resolv-conf PATH] [--address TUNNEL-ADDR --key FILE]\n"
		"                      [--relay HOST:PORT]... [--relay-tcp HOST:PORT]...\n"
		"                      [--advertise ADDR[:PORT]|none]... [--dns-fast-path=on|off]\n"
		"                      [--state-dir DIR] [--socket PATH] [--pin-dir DIR]\n"
		"defaults: --tun %s --dns %s --fake-range %s --dns-ttl %d --dns-cache %d\n"
		"(answers of forwarded names cached; 0: no cache);\n"
		"--dns-fast-path (default on): A queries for resource names that have a fake IP\n"
		"are answered in BPF on this namespace's lo, without the daemon;\n"
		"upstreams: the nameservers of --resolv-conf (/etc/resolv.conf) at start;\n"
		"--relay: connectors are reached through it until a direct path is found\n"
		"(tunnel MTU %d instead of %d)\n"
		"--advertise: the local addresses offered to connectors as direct paths, instead\n"
		"of every interface's (never loopback, link-local, the TUN's or 100.64.0.0/10);\n"
		"none: only the public address the relays see (at most %d)\n"
		"--controller: the tunnel address and the policy come from the controller's view\n"
		"(the tunnel starts with the first view, or the one persisted in the state dir)\n",
		ZT_CLIENT_DEFAULT_TUN, ZT_CLIENT_DEFAULT_DNS, ZT_FAKEIP_DEFAULT_RANGE,
		ZT_DNS_DEFAULT_TTL, ZT_DNS_CACHE_DEFAULT_ENTRIES, ZT_RELAYED_TUNNEL_MTU,
		ZT_TUNNEL_MTU, ZT_CAND_ADVERTISE_MAX);
}

static const struct option options[] = {
	{ "tun", required_argument, NULL, 't' },
	{ "dns", required_argument, NULL, 'd' },
	{ "upstream", required_argument, NULL, 'u' },
	{ "fake-range", required_argument, NULL, 'f' },
	{ "dns-ttl", required_argument, NULL, 'T' },
	{ "dns-cache", required_argument, NULL, 'C' },
	{ "resolv-conf", required_argument, NULL, 'r' },
	{ "address", required_argument, NULL, 'a' },
	{ "key", required_argument, NULL, 'k' },
	{ "relay", required_argument, NULL, 'R' },
	{ "relay-tcp", required_argument, NULL, 'P' },
	{ "dns-fast-path", required_argument, NULL, 'F' },
	{ "advertise", required_argument, NULL, 'A' },
	{ 0 },
};

static int option(struct zt_daemon *d, int c, const char *optarg)
{
	struct client_opts *o = &((struct client *)d->role)->o;
	unsigned long long v;

	switch (c) {
	case 't': o->tun = optarg; return 0;
	case 'd': o->dns = optarg; return 0;
	case 'f': o->fake_range = optarg; return 0;
	case 'r': o->resolv_conf = optarg; return 0;
	case 'a': o->address = optarg; return 0;
	case 'k': o->key_file = optarg; return 0;
	case 'R':
	case 'P':
		return zt_opt_relay(o->relays, &o->nrelays, optarg, c == 'P');
	case 'A':
		return zt_opt_advertise(&o->advertise, optarg);
	case 'F':
		if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
			fprintf(stderr, "ztgated: invalid --dns-fast-path '%s': expected on or off\n",
				optarg);
			return -EINVAL;
		}
		o->dns_fast_path = !strcmp(optarg, "on");
		return 0;
	case 'u':
		if (o->nupstream == MAX_UPSTREAMS) {
			fprintf(stderr, "ztgated: at most %d upstreams\n", MAX_UPSTREAMS);
			return -EINVAL;
		}
		o->upstream[o->nupstream++] = optarg;
		return 0;
	case 'T':
		if (zt_opt_uint("dns-ttl", optarg, 0, 86400, &v))
			return -EINVAL;
		o->ttl = (uint32_t)v;
		return 0;
	case 'C':
		if (zt_opt_uint("dns-cache", optarg, 0, ZT_DNS_CACHE_MAX_ENTRIES, &v))
			return -EINVAL;
		o->dns_cache = (unsigned int)v;
		return 0;
	default:
		return -EINVAL;
	}
}

/* The routes into the TUN: the fake range and every IP/CIDR resource. */
static int sync_routes(struct zt_daemon *d, char *err, size_t errlen)
{
	struct client *cl = d->role;
	const struct zt_policy *p = &d->policy;
	struct zt_prefix *routes;
	size_t n = 0;
	unsigned int i;
	int ret;

	routes = calloc(p->count + 1, sizeof(*routes));
	if (!routes) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	routes[n++] = cl->fake_range;
	for (i = 0; i < p->count; i++)
		if (!zt_resource_is_name(&p->res[i]))
			routes[n++] = p->res[i].prefix;
	ret = zt_tun_set_routes(cl->tun, routes, n, err, errlen);
	free(routes);
	return ret;
}

static int on_policy_applied(struct zt_daemon *d, char *err, size_t errlen)
{
	struct client *cl = d->role;
	int ret;

	if (!cl->tun)
		return 0;
	ret = sync_routes(d, err, errlen);
	if (!ret && cl->tunnel)
		ret = zt_client_tunnel_sync(cl->tunnel, err, errlen);
	/* New name resources bring new routing domains. */
	if (!ret && cl->resolved)
		ret = zt_resolver_apply(zt_tun_name(cl->tun), cl->dns_ip, &d->policy, err, errlen);
	/* A name that stopped being a resource must not be answered in BPF any more. */
	zt_dns_server_policy_changed(cl->dns);
	return ret;
}

static void on_stats(struct zt_daemon *d, json_object *o)
{
	struct client *cl = d->role;
	struct zt_tun_stats st;
	json_object *t;

	if (cl->tun) {
		zt_tun_stats(cl->tun, &st);
		t = json_object_new_object();
		json_object_object_add(t, "name", json_object_new_string(zt_tun_name(cl->tun)));
		json_object_object_add(t, "rx_packets", json_object_new_int64((int64_t)st.rx_packets));
		json_object_object_add(t, "rx_bytes", json_object_new_int64((int64_t)st.rx_bytes));
		json_object_object_add(t, "routes",
				       json_object_new_int64((int64_t)zt_tun_route_count(cl->tun)));
		json_object_object_add(o, "tun", t);
	}
	if (cl->dns)
		zt_dns_server_stats(cl->dns, o);
	if (cl->tunnel)
		zt_client_tunnel_stats_json(cl->tunnel, o);
}

static void on_status(struct zt_daemon *d, json_object *o)
{
	struct client *cl = d->role;

	if (cl->tunnel) {
		zt_client_tunnel_status_json(cl->tunnel, o);
	} else {
		json_object_object_add(o, "peers", json_object_new_array());
		json_object_object_add(o, "relays", json_object_new_array());
	}
}

/* Traffic to a fake IP keeps its mapping from being reclaimed. */
static void tun_visit(const uint8_t *pkt, size_t len, void *ctx)
{
	struct client *cl = ctx;
	struct in_addr dst;

	if (len < 20 || (pkt[0] >> 4) != 4)
		return;
	memcpy(&dst, pkt + 16, 4);
	zt_fakeip_touch(cl->pool, dst, (int64_t)time(NULL));
	if (cl->tunnel)
		zt_client_tunnel_packet(cl->tunnel, pkt, len);
}

static void on_tun(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct client *cl = arg;

	(void)loop;
	(void)fd;
	(void)events;
	if (cl->tunnel)
		zt_client_tunnel_cork(cl->tunnel, true);
	zt_tun_drain(cl->tun, tun_visit, cl);
	if (cl->tunnel)
		zt_client_tunnel_cork(cl->tunnel, false);
}

/* The fake IPs the pool holds, for every compile (core). */
static int client_bindings(struct zt_daemon *d, const struct zt_policy *next,
			   struct zt_exact_binding **out, size_t *n)
{
	return zt_fakeip_bindings(((struct client *)d->role)->pool, next, out, n);
}

/* A new fake IP goes into the live maps before its answer leaves (dns/server.c). */
static int bind_live(void *arg, const struct zt_exact_binding *b)
{
	struct zt_daemon *d = arg;

	return zt_compile_bind_live(d->fds, &d->compiled, b);
}

/* `ztgate dns`: name, fake IP, resource, last use. */
static json_object *cmd_dns_list(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	struct client *cl = d->role;
	json_object *o = zt_ctl_ok();

	(void)r;
	json_object_object_add(o, "mappings", zt_dns_list_json(cl->pool, &d->policy));
	return o;
}

/* `ztgate resolve NAME`: what the client would answer, and why. */
static json_object *cmd_dns_resolve(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	struct client *cl = d->role;
	const char *name = zt_ctl_str(r, "name");
	json_object *o, *res;
	char err[512];

	if (!name)
		return zt_ctl_error("resolve needs a name");
	res = zt_dns_resolve_json(cl->dns, name, err, sizeof(err));
	if (!res)
		return zt_ctl_error(err);
	o = zt_ctl_ok();
	json_object_object_add(o, "resolve", res);
	return o;
}

/* `ztgate ping NAME`: one probe to a connector (or a resource's), or with "id" its answer. */
static json_object *cmd_ping(struct zt_daemon *d, const struct zt_ctl_req *r)
{
	struct client *cl = d->role;
	const char *peer = zt_ctl_str(r, "peer");
	json_object *o;
	char err[256];

	if (!peer)
		return zt_ctl_error("ping needs a connector or resource name");
	if (!cl->tunnel)
		return zt_ctl_error("this client has no tunnel (no --key or --controller): nothing to ping");
	o = zt_ctl_ok();
	if (zt_client_tunnel_ping(cl->tunnel, peer, zt_ctl_str(r, "id"), o, err, sizeof(err))) {
		json_object_put(o);
		return zt_ctl_error(err);
	}
	return o;
}

static const struct zt_ctl_cmd commands[] = {
	{ "dns.list", cmd_dns_list, 0, false },
	{ "dns.resolve", cmd_dns_resolve, 0, false },
	{ "ping", cmd_ping, 0, false },
	{ 0 },
};

/* The options taken together, the key loaded: nothing opened yet. */
static int configure(struct zt_daemon *d, char *err, size_t errlen)
{
	struct client *cl = d->role;
	struct client_opts *o = &cl->o;
	struct zt_dns_server_cfg *dcfg = &cl->dcfg;
	struct zt_endpoint dns_ep;
	struct sockaddr_storage ss;
	unsigned int u;

	if (d->controller && o->address) {
		snprintf(err, errlen, "--address comes from the controller with --controller");
		return -EINVAL;
	}
	if (!d->controller && !o->address != !o->key_file) {
		snprintf(err, errlen, "--address and --key go together (the tunnel needs both)");
		return -EINVAL;
	}
	o->nrelays_own = o->nrelays;
	if (o->nrelays && !o->key_file && !d->controller) {
		snprintf(err, errlen, "--relay needs the tunnel (--address and --key)");
		return -EINVAL;
	}
	if ((o->advertise.n || o->advertise.none) && !o->key_file) {
		snprintf(err, errlen, "--advertise needs the tunnel (--address and --key)");
		return -EINVAL;
	}
	if (zt_opt_advertise_check(&o->advertise, err, errlen))
		return -EINVAL;
	if (zt_endpoint_parse(o->dns, &dns_ep, err, errlen) || dns_ep.family != AF_INET) {
		snprintf(err, errlen, "invalid --dns '%s': expected IPv4:PORT", o->dns);
		return -EINVAL;
	}
	zt_endpoint_to_sockaddr(&dns_ep, (struct sockaddr_storage *)&ss);
	dcfg->listen = *(struct sockaddr_in *)&ss;
	if (zt_prefix_parse(o->fake_range, &cl->fake_range, err, errlen) ||
	    cl->fake_range.family != AF_INET) {
		char why[256];

		snprintf(why, sizeof(why), "%s",
			 cl->fake_range.family == AF_INET ? err : "expected an IPv4 CIDR");
		snprintf(err, errlen, "invalid --fake-range '%s': %s", o->fake_range, why);
		return -EINVAL;
	}
	for (u = 0; u < o->nupstream; u++) {
		char entry[128];

		if (zt_dns_upstream_csv(o->upstream[u], entry, sizeof(entry))) {
			snprintf(err, errlen, "invalid --upstream '%s': expected ADDR[:PORT]",
				 o->upstream[u]);
			return -EINVAL;
		}
		zt_dns_upstream_csv_add(cl->upstreams, sizeof(cl->upstreams), entry);
	}
	if (!o->nupstream)
		zt_dns_upstreams_from_resolv(o->resolv_conf, &dcfg->listen, cl->upstreams,
					     sizeof(cl->upstreams));
	cl->tunnel_addr = (struct zt_prefix){ .family = AF_INET, .len = 32 };
	if (o->address) {
		if (inet_pton(AF_INET, o->address, &cl->address) != 1) {
			snprintf(err, errlen, "invalid --address '%s': expected an IPv4 address",
				 o->address);
			return -EINVAL;
		}
		zt_addr_from_v4(cl->tunnel_addr.addr, cl->address.s_addr);
		cl->has_address = true;
	}
	if (d->controller && zt_managed_prepare(d, o->key_file, err, errlen))
		return -EINVAL;
	if (o->key_file || d->controller) {
		if (zt_key_load_private(d->controller ? zt_managed_key_file(d) : o->key_file, cl->key,
					err, errlen))
			return -EINVAL;
		cl->has_key = true;
	}
	cl->dns_addr = (struct zt_prefix){ .family = AF_INET, .len = 32 };
	cl->dns_addr.addr[10] = cl->dns_addr.addr[11] = 0xff;
	memcpy(cl->dns_addr.addr + 12, &dcfg->listen.sin_addr, 4);
	dcfg->fake_range = cl->fake_range;
	dcfg->ttl = o->ttl;
	dcfg->cache_entries = o->dns_cache;
	dcfg->upstreams = cl->upstreams;
	inet_ntop(AF_INET, &dcfg->listen.sin_addr, cl->dns_ip, sizeof(cl->dns_ip));
	return 0;
}

/* The fake-IP pool as saved, before the first compile carries its addresses. */
static int prepare(struct zt_daemon *d, char *err, size_t errlen)
{
	struct client *cl = d->role;
	uint32_t ttl = cl->o.ttl;
	int ret;

	/*
	 * A client may cache an answer for its TTL: an address must not go to
	 * another name while a cached answer can still lead to it.
	 */
	ret = zt_fakeip_new(&cl->pool, &cl->fake_range,
			    ttl * 2 > ZT_FAKEIP_DEFAULT_MIN_IDLE ? ttl * 2 : ZT_FAKEIP_DEFAULT_MIN_IDLE,
			    err, errlen);
	if (ret)
		return ret;
	zt_fakeip_reserve(cl->pool, cl->dcfg.listen.sin_addr);
	ret = zt_fakeip_load(cl->pool, d->state_dir, (int64_t)time(NULL), err, errlen);
	return ret < 0 ? ret : 0;
}

/* The TUN with the enforcer on its egress, its addresses and routes. */
static int tun_up(struct zt_daemon *d, char *err, size_t errlen)
{
	struct client *cl = d->role;
	const struct client_opts *o = &cl->o;
	int ret;

	/* The enforcer is on the TUN before any route leads into it. */
	ret = zt_tun_open(o->tun, &cl->tun, err, errlen);
	if (ret)
		return ret;
	cl->destroy_tun = true;
	ret = zt_dp_attach_tc(d->dp, zt_tun_name(cl->tun), true);
	if (ret) {
		snprintf(err, errlen, "attaching tc egress to %s: %s", zt_tun_name(cl->tun),
			 strerror(-ret));
		return ret;
	}
	ret = zt_tun_add_addr(cl->tun, &cl->dns_addr, err, errlen);
	/*
	 * A managed client's relays come and go with its views: it takes the
	 * relayed MTU from the start, as lowering it under open connections
	 * would strand their segments (docs/CONTROLLER.md).
	 */
	if (!ret && cl->has_key)
		ret = zt_tun_set_mtu(cl->tun, o->nrelays || d->controller ? ZT_RELAYED_TUNNEL_MTU :
				     ZT_TUNNEL_MTU, err, errlen);
	if (!ret && cl->has_address) {
		/* Sockets talking through the tunnel speak from our tunnel address. */
		ret = zt_tun_add_addr(cl->tun, &cl->tunnel_addr, err, errlen);
		zt_tun_set_route_src(cl->tun, &cl->address);
	}
	if (!ret)
		ret = sync_routes(d, err, errlen);
	if (ret)
		return ret;
	ret = zt_loop_add(d->loop, zt_tun_fd(cl->tun), EPOLLIN, on_tun, cl);
	if (ret)
		snprintf(err, errlen, "%s", strerror(-ret));
	return ret;
}

/* The DNS server, with the BPF fast path on lo when asked for. */
static int dns_up(struct zt_daemon *d, char *err, size_t errlen)
{
	struct client *cl = d->role;
	struct zt_dns_server_cfg *dcfg = &cl->dcfg;
	int ret;

	if (cl->o.dns_fast_path) {
		char pins[512];

		snprintf(pins, sizeof(pins), "%s/dns", d->pin_dir);
		ret = zt_dns_fast_open(pins, dcfg->listen.sin_addr, ntohs(dcfg->listen.sin_port),
				       &cl->dns_fast, err, errlen);
		if (ret)
			return ret;
		dcfg->fast = cl->dns_fast;
	}
	dcfg->loop = d->loop;
	dcfg->state_dir = d->state_dir;
	dcfg->policy = &d->policy;
	dcfg->bind_live = bind_live;
	dcfg->bind_arg = d;
	ret = zt_dns_server_open(cl->pool, dcfg, &cl->dns, err, errlen);
	if (ret)
		return ret;
	/* Misses must find the server listening: attach only now. */
	if (cl->dns_fast)
		ret = zt_dns_fast_attach(cl->dns_fast, ZT_CLIENT_LOOPBACK, err, errlen);
	return ret;
}

/* The tunnel to the connectors, from our tunnel address. */
static int tunnel_up(struct zt_daemon *d, char *err, size_t errlen)
{
	struct client *cl = d->role;
	struct zt_client_tunnel_cfg tcfg = {
		.loop = d->loop, .policy = &d->policy, .tun = cl->tun, .pool = cl->pool,
		.fake_range = cl->fake_range, .address = cl->address,
		.relays = cl->o.relays, .nrelays = cl->o.nrelays,
		.advertise = &cl->o.advertise,
	};
	int ret;

	/* The controller's relays join --relay (the MTU is the relayed one already: tun_up). */
	cl->o.nrelays = cl->o.nrelays_own;
	zt_managed_relays_merge(d, cl->o.relays, &cl->o.nrelays);
	tcfg.relays = cl->o.relays;
	tcfg.nrelays = cl->o.nrelays;
	memcpy(tcfg.private_key, cl->key, sizeof(tcfg.private_key));
	ret = zt_client_tunnel_open(&tcfg, &cl->tunnel, err, errlen);
	OPENSSL_cleanse(tcfg.private_key, sizeof(tcfg.private_key));
	return ret;
}

/*
 * A controller's view: our tunnel address is self.address. The tunnel
 * starts with the first address, and starts again from a new one (the old
 * address stays on the TUN until the client restarts).
 */
static int view_self(struct zt_daemon *d, json_object *self, char *err, size_t errlen)
{
	struct client *cl = d->role;
	struct in_addr addr;
	json_object *v;
	int ret;

	if (!json_object_object_get_ex(self, "address", &v))
		return 0;	/* no address yet: the tunnel waits */
	if (!json_object_is_type(v, json_type_string) ||
	    inet_pton(AF_INET, json_object_get_string(v), &addr) != 1)
		return zt_errf(err, errlen, -EINVAL, "the view's self.address is not an IPv4 address");
	if (cl->tunnel && addr.s_addr == cl->address.s_addr)
		return 0;
	if (cl->tunnel) {
		zt_log("info", "tunnel address %s from the controller (was %s): restarting the tunnel",
		       json_object_get_string(v), inet_ntoa(cl->address));
		zt_client_tunnel_close(cl->tunnel);
		cl->tunnel = NULL;
	}
	cl->address = addr;
	cl->has_address = true;
	zt_addr_from_v4(cl->tunnel_addr.addr, addr.s_addr);
	ret = zt_tun_add_addr(cl->tun, &cl->tunnel_addr, err, errlen);
	if (ret == -EEXIST)
		ret = 0;
	if (ret)
		return ret;
	/* Routes carry their source when added: the existing ones go and come back with it. */
	zt_tun_set_route_src(cl->tun, &cl->address);
	ret = zt_tun_set_routes(cl->tun, NULL, 0, err, errlen);
	if (!ret)
		ret = sync_routes(d, err, errlen);
	if (!ret)
		ret = tunnel_up(d, err, errlen);
	return ret;
}

/* The controller's relays changed: the tunnel's follow (or take them when it starts). */
static int view_relays(struct zt_daemon *d, char *err, size_t errlen)
{
	struct client *cl = d->role;

	cl->o.nrelays = cl->o.nrelays_own;
	zt_managed_relays_merge(d, cl->o.relays, &cl->o.nrelays);
	if (!cl->tunnel)
		return 0;
	return zt_client_tunnel_set_relays(cl->tunnel, cl->o.relays, cl->o.nrelays, err, errlen);
}

static int start(struct zt_daemon *d, char *err, size_t errlen)
{
	struct client *cl = d->role;
	int ret;

	ret = tun_up(d, err, errlen);
	if (!ret)
		ret = dns_up(d, err, errlen);
	/* Under --controller, the tunnel waits for its address (view_self). */
	if (!ret && cl->has_key && cl->has_address)
		ret = tunnel_up(d, err, errlen);
	if (!ret && zt_resolver_available()) {
		ret = zt_resolver_apply(zt_tun_name(cl->tun), cl->dns_ip, &d->policy, err, errlen);
		cl->resolved = !ret;
	}
	return ret;
}

/*
 * SIGHUP: upstreams taken from resolv.conf are read again (a laptop that
 * changed networks); --upstream ones stay as given.
 */
static int reload(struct zt_daemon *d, char *err, size_t errlen)
{
	struct client *cl = d->role;
	char upstreams[sizeof(cl->upstreams)] = "";
	int ret;

	if (cl->o.nupstream || !cl->dns)
		return 0;
	zt_dns_upstreams_from_resolv(cl->o.resolv_conf, &cl->dcfg.listen, upstreams,
				     sizeof(upstreams));
	if (!strcmp(upstreams, cl->upstreams))
		return 0;
	ret = zt_dns_server_set_upstreams(cl->dns, upstreams, err, errlen);
	if (ret)
		return ret;
	zt_log("info", "dns: upstreams now '%s' (were '%s')", upstreams, cl->upstreams);
	snprintf(cl->upstreams, sizeof(cl->upstreams), "%s", upstreams);
	return 0;
}

static void ready(struct zt_daemon *d, json_object *ready)
{
	struct client *cl = d->role;
	const struct client_opts *o = &cl->o;

	json_object_object_add(ready, "split_dns", json_object_new_string(
			       cl->resolved ? "systemd-resolved" : "none (point resolv.conf at the dns address)"));
	json_object_object_add(ready, "tun", json_object_new_string(zt_tun_name(cl->tun)));
	json_object_object_add(ready, "dns", json_object_new_string(o->dns));
	json_object_object_add(ready, "upstreams", json_object_new_string(cl->upstreams));
	json_object_object_add(ready, "fake_range", json_object_new_string(o->fake_range));
	json_object_object_add(ready, "fake_ips", json_object_new_int64((int64_t)zt_fakeip_count(cl->pool)));
	json_object_object_add(ready, "tunnel", json_object_new_string(
			       cl->has_address && cl->has_key ? inet_ntoa(cl->address) :
			       d->controller ? "waiting for the controller's view" : "off"));
	json_object_object_add(ready, "dns_fast_path", json_object_new_string(
			       cl->dns_fast ? ZT_CLIENT_LOOPBACK : "off"));
}

static void stop(struct zt_daemon *d)
{
	struct client *cl = d->role;
	char err[512];

	OPENSSL_cleanse(cl->key, sizeof(cl->key));
	zt_client_tunnel_close(cl->tunnel);
	cl->tunnel = NULL;
	zt_dns_server_close(cl->dns);	/* saves the pool, BPF's answers folded in */
	cl->dns = NULL;
	/* Nobody keeps its table in step with the policy now: off it goes. */
	if (cl->dns_fast && zt_dns_fast_detach(cl->dns_fast, err, sizeof(err)))
		fprintf(stderr, "ztgated: %s\n", err);
	zt_dns_fast_close(cl->dns_fast);
	cl->dns_fast = NULL;
	if (cl->resolved)
		zt_resolver_revert(zt_tun_name(cl->tun));
	cl->resolved = false;
	/* The device goes, and its addresses and routes with it. */
	if (cl->tun && d->loop)
		zt_loop_del(d->loop, zt_tun_fd(cl->tun));
	zt_tun_close(cl->tun, cl->destroy_tun);
	cl->tun = NULL;
	zt_fakeip_free(cl->pool);
	cl->pool = NULL;
}

/* /healthz and `ztgate health`: the TUN and the DNS server are up. */
static bool health(struct zt_daemon *d, json_object *checks)
{
	struct client *cl = d->role;

	json_object_object_add(checks, "tun", json_object_new_string(cl->tun ? "ok" : "down"));
	json_object_object_add(checks, "dns", json_object_new_string(cl->dns ? "ok" : "down"));
	return cl->tun && cl->dns;
}

/* Defaults, before the options. */
static void init(struct zt_daemon *d)
{
	struct client_opts *o = &((struct client *)d->role)->o;

	*o = (struct client_opts){
		.tun = ZT_CLIENT_DEFAULT_TUN,
		.dns = ZT_CLIENT_DEFAULT_DNS,
		.fake_range = ZT_FAKEIP_DEFAULT_RANGE,
		.resolv_conf = "/etc/resolv.conf",
		.ttl = ZT_DNS_DEFAULT_TTL,
		.dns_cache = ZT_DNS_CACHE_DEFAULT_ENTRIES,
		.dns_fast_path = true,
	};
}

const struct zt_role_ops zt_role_client = {
	.name = "client",
	.summary = "fake-IP DNS, the TUN and its routes, enforcement of egress, tunnels to connectors",
	.needs = ZT_ROLE_POLICY | ZT_ROLE_MANAGED,
	.state_size = sizeof(struct client),
	.options = options,
	.usage = usage,
	.init = init,
	.option = option,
	.configure = configure,
	.prepare = prepare,
	.start = start,
	.ready = ready,
	.stop = stop,
	.reload = reload,
	.bindings = client_bindings,
	.policy_applied = on_policy_applied,
	.view_self = view_self,
	.view_relays = view_relays,
	.stats = on_stats,
	.status = on_status,
	.health = health,
	.commands = commands,
};
