// SPDX-License-Identifier: GPL-2.0-only
/*
 * `ztgated client`: what a user runs. The enforcer's core (data plane,
 * policy store, compiler, control socket, events) plus the client's own
 * pieces: the TUN with its addresses and routes, and the fake-IP DNS
 * server. Allowed packets that reach the TUN are read and counted; the
 * tunnel that carries them to a connector comes later.
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

#include "roles/client_tunnel.h"
#include "core/daemon.h"
#include "dns/cache.h"
#include "dataplane/dns_fast.h"
#include "dns/server.h"
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
	struct zt_path_relay_spec relays[ZT_PATHS_RELAYS_MAX];	/* --relay, --relay-tcp */
	size_t nrelays;
	bool dns_fast_path;	/* answer known resource names in BPF on lo */
};

/* What the hooks need besides struct zt_daemon. */
struct client {
	struct zt_daemon d;
	struct zt_tun *tun;
	struct zt_prefix fake_range;
	struct zt_fakeip *pool;
	char dns_ip[16];	/* the DNS server's address, for systemd-resolved */
	bool resolved;		/* registered with systemd-resolved */
	struct zt_client_tunnel *tunnel;	/* NULL: no --key, packets are only counted */
	struct zt_dns_fast *dns_fast;	/* NULL: --dns-fast-path=off */
};

/*
 * A local socket's query to the DNS address (a local address) travels over
 * the loopback device of our network namespace: the fast path goes there.
 */
#define ZT_CLIENT_LOOPBACK	"lo"

#define ZT_CLIENT_TUNNEL_MTU	ZT_TUNNEL_MTU	/* ztgate/defaults.h (via core/daemon.h) */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ztgated client [--tun NAME] [--dns ADDR:PORT] [--upstream ADDR[:PORT]]...\n"
		"                      [--fake-range CIDR] [--dns-ttl S] [--dns-cache N]\n"
		"                      [--resolv-conf PATH] [--address TUNNEL-ADDR --key FILE]\n"
		"                      [--relay HOST:PORT]... [--relay-tcp HOST:PORT]...\n"
		"                      [--dns-fast-path=on|off]\n"
		"                      [--state-dir DIR] [--socket PATH] [--pin-dir DIR]\n"
		"defaults: --tun %s --dns %s --fake-range %s --dns-ttl %d --dns-cache %d\n"
		"(answers of forwarded names cached; 0: no cache);\n"
		"--dns-fast-path (default on): A queries for resource names that have a fake IP\n"
		"are answered in BPF on this namespace's lo, without the daemon;\n"
		"upstreams: the nameservers of --resolv-conf (/etc/resolv.conf) at start;\n"
		"--relay: connectors are reached through it until a direct path is found\n"
		"(tunnel MTU %d instead of %d)\n",
		ZT_CLIENT_DEFAULT_TUN, ZT_CLIENT_DEFAULT_DNS, ZT_FAKEIP_DEFAULT_RANGE,
		ZT_DNS_DEFAULT_TTL, ZT_DNS_CACHE_DEFAULT_ENTRIES, ZT_RELAYED_TUNNEL_MTU,
		ZT_CLIENT_TUNNEL_MTU);
}

/* "a.b.c.d:port" (the port required). */
static int parse_v4_port(const char *s, struct sockaddr_in *sa)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port == 0 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

/*
 * One upstream to c-ares' csv form: "1.2.3.4", "1.2.3.4:5353", "::1",
 * "[::1]:5353". Returns 0 or -EINVAL.
 */
static int upstream_csv(const char *in, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN + 8];
	unsigned long port = 53;
	struct in6_addr a6;
	struct in_addr a4;
	const char *p;
	char *end;

	if (in[0] == '[') {
		p = strchr(in, ']');
		if (!p || (size_t)(p - in - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, in + 1, (size_t)(p - in - 1));
		host[p - in - 1] = '\0';
		p++;
		if (*p && *p != ':')
			return -EINVAL;
	} else if (strchr(in, ':') != strrchr(in, ':')) {
		snprintf(host, sizeof(host), "%s", in);	/* bare IPv6 */
		p = "";
	} else {
		p = strchr(in, ':');
		if (!p)
			p = in + strlen(in);
		if ((size_t)(p - in) >= sizeof(host))
			return -EINVAL;
		memcpy(host, in, (size_t)(p - in));
		host[p - in] = '\0';
	}
	if (*p == ':') {
		errno = 0;
		port = strtoul(p + 1, &end, 10);
		if (errno || end == p + 1 || *end || port == 0 || port > 65535)
			return -EINVAL;
	}
	if (inet_pton(AF_INET, host, &a4) == 1)
		snprintf(out, outlen, "%s:%lu", host, port);
	else if (inet_pton(AF_INET6, host, &a6) == 1)
		snprintf(out, outlen, "[%s]:%lu", host, port);
	else
		return -EINVAL;
	return 0;
}

static void csv_add(char *csv, size_t len, const char *entry)
{
	size_t used = strlen(csv);

	snprintf(csv + used, len - used, "%s%s", used ? "," : "", entry);
}

/*
 * The nameservers of resolv.conf as they are now; our own address is left
 * out (a resolv.conf already pointing at us would make a forwarding loop).
 */
static void upstreams_from_resolv(const char *path, const struct sockaddr_in *self,
				  char *csv, size_t len)
{
	char line[512], entry[128], self_text[INET_ADDRSTRLEN];
	FILE *f = fopen(path, "re");

	if (!f) {
		zt_log("warning", "dns: cannot read %s: %s; no upstreams", path, strerror(errno));
		return;
	}
	inet_ntop(AF_INET, &self->sin_addr, self_text, sizeof(self_text));
	while (fgets(line, sizeof(line), f)) {
		char *save, *kw = strtok_r(line, " \t\r\n", &save), *addr;

		if (!kw || strcmp(kw, "nameserver"))
			continue;
		addr = strtok_r(NULL, " \t\r\n", &save);
		if (!addr || !strcmp(addr, self_text))
			continue;
		if (upstream_csv(addr, entry, sizeof(entry)) == 0)
			csv_add(csv, len, entry);
	}
	fclose(f);
}

static int parse_opts(int argc, char **argv, struct zt_daemon *d, struct client_opts *o)
{
	static const struct option longopts[] = {
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
		ZT_DAEMON_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned long v;
	char *end;
	int c;

	optind = 1;
	opterr = 0;	/* one line of our own instead of getopt's and a usage page */
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 't': o->tun = optarg; break;
		case 'd': o->dns = optarg; break;
		case 'f': o->fake_range = optarg; break;
		case 'r': o->resolv_conf = optarg; break;
		case 'a': o->address = optarg; break;
		case 'k': o->key_file = optarg; break;
		case 'R':
		case 'P':
			if (o->nrelays == ZT_PATHS_RELAYS_MAX) {
				fprintf(stderr, "ztgated: at most %d relays\n", ZT_PATHS_RELAYS_MAX);
				return -EINVAL;
			}
			o->relays[o->nrelays++] = (struct zt_path_relay_spec){ .relay = optarg,
									       .tcp = c == 'P' };
			break;
		case 'F':
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				fprintf(stderr, "ztgated: invalid --dns-fast-path '%s': expected on or off\n",
					optarg);
				return -EINVAL;
			}
			o->dns_fast_path = !strcmp(optarg, "on");
			break;
		case 'u':
			if (o->nupstream == MAX_UPSTREAMS) {
				fprintf(stderr, "ztgated: at most %d upstreams\n", MAX_UPSTREAMS);
				return -EINVAL;
			}
			o->upstream[o->nupstream++] = optarg;
			break;
		case 'T':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || *optarg == '-' || v > 86400) {
				fprintf(stderr, "ztgated: invalid --dns-ttl '%s': expected 0-86400\n",
					optarg);
				return -EINVAL;
			}
			o->ttl = (uint32_t)v;
			break;
		case 'C':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || *optarg == '-' ||
			    v > ZT_DNS_CACHE_MAX_ENTRIES) {
				fprintf(stderr, "ztgated: invalid --dns-cache '%s': expected 0-%d\n",
					optarg, ZT_DNS_CACHE_MAX_ENTRIES);
				return -EINVAL;
			}
			o->dns_cache = (unsigned int)v;
			break;
		case 'h': usage(stdout); exit(0);
		default:
			if (zt_daemon_common_opt(d, c, optarg))
				break;
			return zt_daemon_bad_opt("client", c, argv);
		}
	}
	if (!o->address != !o->key_file) {
		fprintf(stderr, "ztgated: --address and --key go together (the tunnel needs both)\n");
		return -EINVAL;
	}
	if (o->nrelays && !o->key_file) {
		fprintf(stderr, "ztgated: --relay needs the tunnel (--address and --key)\n");
		return -EINVAL;
	}
	return zt_daemon_no_args(argc, argv);
}

/* The routes into the TUN: the fake range and every IP/CIDR resource. */
static int sync_routes(struct client *cl, char *err, size_t errlen)
{
	const struct zt_policy *p = &cl->d.policy;
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
	struct client *cl = (struct client *)d;

	int ret;

	if (!cl->tun)
		return 0;
	ret = sync_routes(cl, err, errlen);
	if (!ret && cl->tunnel)
		ret = zt_client_tunnel_sync(cl->tunnel, err, errlen);
	/* New name resources bring new routing domains. */
	if (!ret && cl->resolved)
		ret = zt_resolver_apply(zt_tun_name(cl->tun), cl->dns_ip, &d->policy, err, errlen);
	/* A name that stopped being a resource must not be answered in BPF any more. */
	zt_dns_server_policy_changed(d->dns);
	return ret;
}

static void on_stats(struct zt_daemon *d, json_object *o)
{
	struct client *cl = (struct client *)d;
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
	if (d->dns)
		zt_dns_server_stats(d->dns, o);
	if (cl->tunnel)
		zt_client_tunnel_stats_json(cl->tunnel, o);
}

static void on_status(struct zt_daemon *d, json_object *o)
{
	struct client *cl = (struct client *)d;

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

static int client_bindings(struct zt_daemon *d, const struct zt_policy *next,
			   struct zt_exact_binding **out, size_t *n)
{
	return zt_fakeip_bindings(d->fakeip, next, out, n);
}

/* Compile the stored policy with the mappings the pool brought back. */
static int initial_compile(struct client *cl, char *err, size_t errlen)
{
	struct zt_exact_binding *binds;
	size_t n;
	uint32_t gen;
	int ret;

	ret = zt_fakeip_bindings(cl->pool, &cl->d.policy, &binds, &n);
	if (ret) {
		snprintf(err, errlen, "fake-IP mappings: %s", strerror(-ret));
		return ret;
	}
	ret = zt_compile_prepare_with(cl->d.fds, &cl->d.policy, binds, n, &gen, err, errlen);
	free(binds);
	if (!ret)
		ret = zt_compile_commit(cl->d.fds, gen, err, errlen);
	return ret;
}

int zt_role_client(int argc, char **argv)
{
	static struct client cl;	/* static: large, and the hooks reach it via d */
	struct zt_daemon *d = &cl.d;
	struct client_opts o = {
		.tun = ZT_CLIENT_DEFAULT_TUN,
		.dns = ZT_CLIENT_DEFAULT_DNS,
		.fake_range = ZT_FAKEIP_DEFAULT_RANGE,
		.resolv_conf = "/etc/resolv.conf",
		.ttl = ZT_DNS_DEFAULT_TTL,
		.dns_cache = ZT_DNS_CACHE_DEFAULT_ENTRIES,
		.dns_fast_path = true,
	};
	struct zt_dns_server_cfg dcfg = { 0 };
	struct zt_prefix dns_addr = { .family = AF_INET, .len = 32 };
	struct zt_prefix tunnel_addr = { .family = AF_INET, .len = 32 };
	struct in_addr address = { 0 };
	uint8_t key[ZT_KEY_LEN];
	const struct zt_tunables tunables = ZT_TUNABLES_DEFAULT;
	json_object *ready = NULL;
	char err[512], upstreams[1024] = "";
	bool destroy_tun = false;
	int ret;
	unsigned int u;

	*d = (struct zt_daemon){
		.role = "client",
		.state_dir = ZT_DEFAULT_STATE_DIR,
		.socket_path = ZT_DEFAULT_SOCKET_PATH,
		.pin_dir = ZT_DEFAULT_PIN_DIR,
		.listen_fd = -1,
		.signal_fd = -1,
		.policy_applied = on_policy_applied,
		.stats = on_stats,
		.status = on_status,
		.bindings = client_bindings,
	};
	zt_policy_init(&d->policy);
	if (parse_opts(argc, argv, d, &o))
		return 2;

	if (parse_v4_port(o.dns, &dcfg.listen)) {
		fprintf(stderr, "ztgated: invalid --dns '%s': expected IPv4:PORT\n", o.dns);
		return 2;
	}
	if (zt_prefix_parse(o.fake_range, &cl.fake_range, err, sizeof(err)) ||
	    cl.fake_range.family != AF_INET) {
		fprintf(stderr, "ztgated: invalid --fake-range '%s': %s\n", o.fake_range,
			cl.fake_range.family == AF_INET ? err : "expected an IPv4 CIDR");
		return 2;
	}
	for (u = 0; u < o.nupstream; u++) {
		char entry[128];

		if (upstream_csv(o.upstream[u], entry, sizeof(entry))) {
			fprintf(stderr, "ztgated: invalid --upstream '%s': expected ADDR[:PORT]\n",
				o.upstream[u]);
			return 2;
		}
		csv_add(upstreams, sizeof(upstreams), entry);
	}
	if (!o.nupstream)
		upstreams_from_resolv(o.resolv_conf, &dcfg.listen, upstreams, sizeof(upstreams));
	if (o.key_file) {
		if (inet_pton(AF_INET, o.address, &address) != 1) {
			fprintf(stderr, "ztgated: invalid --address '%s': expected an IPv4 address\n",
				o.address);
			return 2;
		}
		if (zt_key_load_private(o.key_file, key, err, sizeof(err))) {
			fprintf(stderr, "ztgated: %s\n", err);
			return 2;
		}
		zt_addr_from_v4(tunnel_addr.addr, address.s_addr);
	}
	dcfg.fake_range = cl.fake_range;
	dcfg.ttl = o.ttl;
	dcfg.cache_entries = o.dns_cache;
	dcfg.upstreams = upstreams;
	dns_addr.addr[10] = dns_addr.addr[11] = 0xff;
	memcpy(dns_addr.addr + 12, &dcfg.listen.sin_addr, 4);

	/* Validate the stored state before touching the kernel. */
	ret = zt_store_load(d->state_dir, &d->policy, err, sizeof(err));
	if (ret)
		goto fail_msg;
	/*
	 * A client may cache an answer for its TTL: an address must not go to
	 * another name while a cached answer can still lead to it.
	 */
	ret = zt_fakeip_new(&cl.pool, &cl.fake_range,
			    o.ttl * 2 > ZT_FAKEIP_DEFAULT_MIN_IDLE ? o.ttl * 2 : ZT_FAKEIP_DEFAULT_MIN_IDLE,
			    err, sizeof(err));
	if (ret)
		goto fail_msg;
	zt_fakeip_reserve(cl.pool, dcfg.listen.sin_addr);
	ret = zt_fakeip_load(cl.pool, d->state_dir, (int64_t)time(NULL), err, sizeof(err));
	if (ret < 0)
		goto fail_msg;
	d->fakeip = cl.pool;

	ret = zt_daemon_open_dataplane(d, &tunables, err, sizeof(err));
	if (!ret)
		ret = zt_daemon_check_adoption(d, err, sizeof(err));
	if (ret)
		goto fail_msg;
	ret = initial_compile(&cl, err, sizeof(err));
	if (ret)
		goto fail_msg;

	/* The enforcer is on the TUN before any route leads into it. */
	ret = zt_tun_open(o.tun, &cl.tun, err, sizeof(err));
	if (ret)
		goto fail_msg;
	destroy_tun = true;
	ret = zt_dp_attach_tc(d->dp, zt_tun_name(cl.tun), true);
	if (ret) {
		snprintf(err, sizeof(err), "attaching tc egress to %s: %s", zt_tun_name(cl.tun),
			 strerror(-ret));
		goto fail_msg;
	}
	ret = zt_tun_add_addr(cl.tun, &dns_addr, err, sizeof(err));
	if (!ret && o.key_file) {
		/* Sockets talking through the tunnel speak from our tunnel address. */
		ret = zt_tun_set_mtu(cl.tun, o.nrelays ? ZT_RELAYED_TUNNEL_MTU : ZT_CLIENT_TUNNEL_MTU,
				     err, sizeof(err));
		if (!ret)
			ret = zt_tun_add_addr(cl.tun, &tunnel_addr, err, sizeof(err));
		zt_tun_set_route_src(cl.tun, &address);
	}
	if (!ret)
		ret = sync_routes(&cl, err, sizeof(err));
	if (ret)
		goto fail_msg;
	ret = zt_loop_add(d->loop, zt_tun_fd(cl.tun), EPOLLIN, on_tun, &cl);
	if (ret)
		goto sys_fail;

	ret = zt_daemon_watch(d, err, sizeof(err));
	if (ret)
		goto fail_msg;

	ret = zt_control_open(d, err, sizeof(err));
	if (ret)
		goto fail_msg;
	if (o.dns_fast_path) {
		char pins[512];

		snprintf(pins, sizeof(pins), "%s/dns", d->pin_dir);
		ret = zt_dns_fast_open(pins, dcfg.listen.sin_addr, ntohs(dcfg.listen.sin_port),
				       &cl.dns_fast, err, sizeof(err));
		if (ret)
			goto fail_msg;
		dcfg.fast = cl.dns_fast;
	}
	ret = zt_dns_server_open(d, cl.pool, &dcfg, &d->dns, err, sizeof(err));
	if (ret)
		goto fail_msg;
	/* Misses must find the server listening: attach only now. */
	if (cl.dns_fast) {
		ret = zt_dns_fast_attach(cl.dns_fast, ZT_CLIENT_LOOPBACK, err, sizeof(err));
		if (ret)
			goto fail_msg;
	}
	if (o.key_file) {
		ret = zt_client_tunnel_open(d, cl.tun, cl.pool, &cl.fake_range, address, key,
					    o.relays, o.nrelays, &cl.tunnel, err, sizeof(err));
		if (ret)
			goto fail_msg;
	}

	inet_ntop(AF_INET, &dcfg.listen.sin_addr, cl.dns_ip, sizeof(cl.dns_ip));
	if (zt_resolver_available()) {
		ret = zt_resolver_apply(zt_tun_name(cl.tun), cl.dns_ip, &d->policy, err, sizeof(err));
		if (ret)
			goto fail_msg;
		cl.resolved = true;
	}

	ready = json_object_new_object();
	json_object_object_add(ready, "event", json_object_new_string("ready"));
	json_object_object_add(ready, "role", json_object_new_string(d->role));
	json_object_object_add(ready, "split_dns", json_object_new_string(
			       cl.resolved ? "systemd-resolved" : "none (point resolv.conf at the dns address)"));
	json_object_object_add(ready, "tun", json_object_new_string(zt_tun_name(cl.tun)));
	json_object_object_add(ready, "dns", json_object_new_string(o.dns));
	json_object_object_add(ready, "upstreams", json_object_new_string(upstreams));
	json_object_object_add(ready, "fake_range", json_object_new_string(o.fake_range));
	json_object_object_add(ready, "fake_ips", json_object_new_int64((int64_t)zt_fakeip_count(cl.pool)));
	json_object_object_add(ready, "pin_dir", json_object_new_string(d->pin_dir));
	json_object_object_add(ready, "socket", json_object_new_string(d->socket_path));
	json_object_object_add(ready, "state_dir", json_object_new_string(d->state_dir));
	json_object_object_add(ready, "resources", json_object_new_int((int)d->policy.count));
	json_object_object_add(ready, "tunnel", json_object_new_string(o.key_file ? o.address : "off"));
	json_object_object_add(ready, "dns_fast_path", json_object_new_string(
			       cl.dns_fast ? ZT_CLIENT_LOOPBACK : "off"));
	zt_emit(ready);
	ready = NULL;

	ret = zt_daemon_run(d, err, sizeof(err));
	if (ret)
		goto fail_msg;
	goto out;

fail_msg:
	fprintf(stderr, "ztgated: %s\n", err);
	goto fail;
sys_fail:
	fprintf(stderr, "ztgated: %s\n", strerror(-ret));
fail:
	ret = ret ? ret : -EINVAL;
out:
	json_object_put(ready);
	OPENSSL_cleanse(key, sizeof(key));
	zt_client_tunnel_close(cl.tunnel);
	cl.tunnel = NULL;
	zt_dns_server_close(d->dns);	/* saves the pool, BPF's answers folded in */
	d->dns = NULL;
	/* Nobody keeps its table in step with the policy now: off it goes. */
	if (cl.dns_fast && zt_dns_fast_detach(cl.dns_fast, err, sizeof(err)))
		fprintf(stderr, "ztgated: %s\n", err);
	zt_dns_fast_close(cl.dns_fast);
	cl.dns_fast = NULL;
	if (cl.resolved)
		zt_resolver_revert(zt_tun_name(cl.tun));
	cl.resolved = false;
	/* The device goes, and its addresses and routes with it. */
	zt_tun_close(cl.tun, destroy_tun);
	cl.tun = NULL;
	zt_daemon_close(d);
	zt_fakeip_free(cl.pool);
	d->fakeip = NULL;
	return ret ? 1 : 0;
}
