// SPDX-License-Identifier: GPL-2.0-only
/*
 * `ztgated connector`: ends the devices' tunnels inside the private
 * network (docs/TUNNEL.md, "Connector data path").
 *
 * From a device: the tunnel decrypts; the inner source must be the address
 * assigned to that device's key; a fake IP the device bound to a name is
 * translated to the name's resolved address; the packet goes into the TUN,
 * where the classifier checks the device's grant and the resource's ports
 * (and drops anything that is no resource); the kernel forwards and
 * masquerades it. Replies route back into the TUN (the device range points
 * there); we translate the source back and encrypt to the device.
 *
 * Opens no TCP port: the only socket facing outside is the tunnel's UDP.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/mem.h>

#include "core/daemon.h"
#include "dns/codec.h"
#include "netdev/flows.h"
#include "tunnel/keys.h"
#include "lib/log.h"
#include "dns/name_cache.h"
#include "netdev/nat.h"
#include "netdev/nat_rules.h"
#include "policy/store.h"
#include "netdev/tun.h"
#include "path/relays.h"
#include "path/paths.h"
#include "tunnel/tunnel.h"
#include "tunnel/status.h"
#include "dataplane/uplink.h"
#include "tunnel/ctrl.h"

#define ZT_CONNECTOR_DEFAULT_TUN	"ztc0"
#define ZT_CONNECTOR_DEFAULT_DEVICES	"100.64.0.0/12"
#define ZT_TUNNEL_MTU			1420
#define MAX_DNS				8
#define BIND_QUEUE			4	/* packets held while a name resolves */
#define MAX_BINDS_PER_DEVICE		4096

enum bind_state {
	BIND_PENDING,		/* the name is being resolved */
	BIND_OK,
	BIND_DNS_ERROR,
	BIND_DENIED,
};

/* One fake IP a device bound to a name. */
struct binding {
	struct in_addr fake;
	struct in_addr real;
	uint32_t resource_id;
	enum bind_state state;
	char name[ZT_PATTERN_MAX];
	uint8_t *queue[BIND_QUEUE];
	size_t queue_len[BIND_QUEUE];
	unsigned int nqueued;
};

/* What the connector keeps about one device while it is in the policy. */
struct device {
	uint32_t id;
	char name[ZT_NAME_MAX];
	uint8_t pubkey[32];
	struct in_addr addr;
	struct zt_tunnel_peer *peer;
	struct connector *c;
	/*
	 * A device binds the names it uses (tens): a linear array is the
	 * simplest thing that is fast enough here.
	 */
	struct binding *binds;
	size_t nbinds;
};

struct connector_stats {
	uint64_t from_devices;		/* IP packets decrypted */
	uint64_t spoofed;		/* inner source not the device's address */
	uint64_t not_ipv4;
	uint64_t unbound;		/* to a fake IP nobody bound */
	uint64_t bind_pending_drops;	/* queue full while a name resolved */
	uint64_t to_devices;
	uint64_t no_device;		/* a reply for an address no device has */
	uint64_t binds;
	uint64_t bind_errors;
	uint64_t malformed_control;
};

struct connector {
	struct zt_daemon d;		/* first: the hooks get d */
	const char *name;		/* this connector's name in logs */
	struct zt_tun *tun;
	struct zt_tunnel *tunnel;
	struct zt_paths *paths;		/* each device: direct or through a relay */
	struct zt_path_relays *relays;	/* --relay, --relay-tcp */
	struct zt_name_cache *names;
	struct zt_flows *flows;
	struct zt_prefix device_range;
	struct device *devices;
	size_t ndevices;
	struct connector_stats st;
	int flow_timer_fd;
	struct zt_uplink *uplink;	/* the XDP guard on --uplink; NULL without */
	const char *uplink_ifname;
	char uplink_pins[512];
};

struct connector_opts {
	const char *listen;
	const char *key_file;
	const char *tun;
	const char *name;
	const char *device_range;
	const char *uplink;
	uint32_t handshake_rate;
	uint32_t handshake_burst;
	const char *dns[MAX_DNS];
	unsigned int ndns;
	struct zt_path_relay_spec relays[ZT_PATHS_RELAYS_MAX];
	size_t nrelays;
	struct zt_endpoint udp_relays[ZT_PATHS_RELAYS_MAX];	/* --relay as addresses, for --uplink */
	size_t nudp_relays;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ztgated connector --listen ADDR:PORT --key FILE [--tun NAME] [--dns ADDR]...\n"
		"                         [--name NAME] [--device-range CIDR]\n"
		"                         [--uplink IFACE [--handshake-rate N] [--handshake-burst N]]\n"
		"                         [--relay HOST:PORT]... [--relay-tcp HOST:PORT]...\n"
		"                         [--state-dir DIR] [--socket PATH] [--pin-dir DIR]\n"
		"defaults: --tun %s --device-range %s; --dns: the nameservers of /etc/resolv.conf\n"
		"--uplink: an XDP guard on that interface drops malformed tunnel datagrams and\n"
		"limits handshake initiations per source (default 20/s, burst 40); with it,\n"
		"UDP relays must be given as IP:PORT (the guard admits them by address)\n"
		"--relay: devices reach us through it until a direct path is found (TUN MTU %d)\n",
		ZT_CONNECTOR_DEFAULT_TUN, ZT_CONNECTOR_DEFAULT_DEVICES, ZT_RELAYED_TUNNEL_MTU);
}

/* ---- devices and their bindings ---- */

static struct device *device_by_addr(struct connector *c, struct in_addr a)
{
	for (size_t i = 0; i < c->ndevices; i++)
		if (c->devices[i].addr.s_addr == a.s_addr)
			return &c->devices[i];
	return NULL;
}

static struct binding *binding_by_fake(struct device *dev, struct in_addr fake)
{
	for (size_t i = 0; i < dev->nbinds; i++)
		if (dev->binds[i].fake.s_addr == fake.s_addr)
			return &dev->binds[i];
	return NULL;
}

/* The binding whose name resolved to REAL: a reply's source becomes its fake IP again. */
static struct binding *binding_by_real(struct device *dev, struct in_addr real)
{
	for (size_t i = 0; i < dev->nbinds; i++)
		if (dev->binds[i].state == BIND_OK && dev->binds[i].real.s_addr == real.s_addr)
			return &dev->binds[i];
	return NULL;
}

static void binding_drop_queue(struct binding *b)
{
	for (unsigned int i = 0; i < b->nqueued; i++)
		free(b->queue[i]);
	b->nqueued = 0;
}

static void device_free_binds(struct device *dev)
{
	for (size_t i = 0; i < dev->nbinds; i++)
		binding_drop_queue(&dev->binds[i]);
	free(dev->binds);
	dev->binds = NULL;
	dev->nbinds = 0;
}

/* ---- connection logs ---- */

static void flow_sink(json_object *line, void *arg)
{
	struct connector *c = arg;

	zt_control_broadcast(&c->d, line);
	zt_emit(json_object_get(line));
}

/* The resource a real destination belongs to, for the log: a binding's, or an IP resource's. */
static const char *resource_name_of(struct connector *c, struct device *dev, struct in_addr real)
{
	const struct zt_resource_def *r = NULL;
	uint8_t a[16];

	for (size_t i = 0; i < dev->nbinds; i++)
		if (dev->binds[i].state == BIND_OK && dev->binds[i].real.s_addr == real.s_addr) {
			r = zt_policy_find_id(&c->d.policy, dev->binds[i].resource_id);
			break;
		}
	if (!r) {
		zt_addr_from_v4(a, real.s_addr);
		r = zt_policy_match_addr(&c->d.policy, a);
	}
	return r ? r->name : NULL;
}

static void flow_meta(struct connector *c, struct device *dev, struct in_addr real,
		      struct zt_flow_meta *m, struct sockaddr_storage *ep)
{
	struct zt_tunnel_peer_stats st;

	zt_tunnel_peer_stats(dev->peer, &st);
	*ep = st.endpoint;
	m->device = dev->name;
	m->client_endpoint = ep->ss_family == AF_UNSPEC ? NULL : (const struct sockaddr *)ep;
	m->resource = resource_name_of(c, dev, real);
}

/*
 * Account a packet (parsed in INFO) to its flow. TO_RESOURCE: as it goes
 * into the TUN (after DNAT); else as the resource sent it (before un-DNAT).
 */
static void flow_packet(struct connector *c, struct device *dev, const struct zt_pkt_info *info,
			bool to_resource)
{
	struct zt_flow_key k = { .device_id = dev->id };
	const struct zt_tuple *t = info->icmp_error ? &info->inner : &info->t;
	struct sockaddr_storage ep;
	struct zt_flow_meta m = { 0 };
	unsigned int flags;

	/* Keyed the device's way: device address and port first. */
	k.proto = t->proto;
	if (to_resource != info->icmp_error) {
		k.src = t->src; k.sport = t->sport; k.dst = t->dst; k.dport = t->dport;
	} else {
		k.src = t->dst; k.sport = t->dport; k.dst = t->src; k.dport = t->sport;
	}
	flags = info->icmp_error ? ZT_FLOW_ICMP_ERROR : info->tcp_flags;
	/* Read only when a flow starts (a device's packet): not per packet of a running one. */
	if (to_resource && !zt_flows_open(c->flows, &k))
		flow_meta(c, dev, k.dst, &m, &ep);
	zt_flows_packet(c->flows, &k, &m, to_resource ? ZT_FLOW_TO_RESOURCE : ZT_FLOW_FROM_RESOURCE,
			info->ip_len, flags, zt_flows_now_ms());
}

static void flow_log_dns_error(struct connector *c, struct device *dev, const struct binding *b,
			       int status)
{
	struct zt_flow_key k = { .device_id = dev->id, .src = dev->addr, .dst = b->fake };
	const struct zt_resource_def *r = zt_policy_find_id(&c->d.policy, b->resource_id);
	struct sockaddr_storage ep;
	struct zt_flow_meta m;

	flow_meta(c, dev, b->real, &m, &ep);
	m.resource = r ? r->name : NULL;
	zt_flows_log_dns_error(c->flows, &k, &m, b->name, zt_name_cache_strerror(status),
			       zt_flows_now_ms());
}

static void flow_log_denied_name(struct connector *c, struct device *dev, struct in_addr fake,
				 const char *name, const struct zt_resource_def *res)
{
	struct zt_flow_key k = { .device_id = dev->id, .src = dev->addr, .dst = fake };
	struct sockaddr_storage ep;
	struct zt_flow_meta m;

	(void)name;
	flow_meta(c, dev, fake, &m, &ep);
	m.resource = res ? res->name : NULL;
	zt_flows_log_denied(c->flows, &k, &m, 0, zt_flows_now_ms());
}

/* A deny from the classifier on the TUN: a DENIED connection record for its device. */
static void on_event(struct zt_daemon *d, const struct zt_event *e, json_object *ev)
{
	struct connector *c = (struct connector *)d;
	struct zt_flow_key k = { .proto = e->l4proto, .sport = e->sport, .dport = e->dport };
	struct sockaddr_storage ep;
	struct zt_flow_meta m;
	struct device *dev;
	uint32_t len;

	(void)ev;
	if (e->type != ZT_EV_DENY || !zt_addr_is_v4(e->src) || !zt_addr_is_v4(e->dst))
		return;
	memcpy(&k.src.s_addr, e->src + 12, 4);
	memcpy(&k.dst.s_addr, e->dst + 12, 4);
	dev = device_by_addr(c, k.src);
	if (!dev)
		return;
	k.device_id = dev->id;
	flow_meta(c, dev, k.dst, &m, &ep);
	len = 0;
	zt_flows_log_denied(c->flows, &k, &m, len, zt_flows_now_ms());
}

static void on_flow_timer(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct connector *c = arg;
	uint64_t ticks;

	(void)loop;
	(void)events;
	if (read(fd, &ticks, sizeof(ticks)) < 0)
		return;
	zt_flows_expire(c->flows, zt_flows_now_ms());
}

/* Expire flows once a second: connection ends are logged within a second of their timeout. */
static int flows_open(struct connector *c, char *err, size_t errlen)
{
	const struct zt_flows_cfg cfg = { .connector = c->name };
	const struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	int ret;

	ret = zt_flows_new(&cfg, flow_sink, c, &c->flows);
	if (ret) {
		snprintf(err, errlen, "flow table: %s", strerror(-ret));
		return ret;
	}
	c->flow_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (c->flow_timer_fd < 0 || timerfd_settime(c->flow_timer_fd, 0, &its, NULL)) {
		ret = -errno;
		snprintf(err, errlen, "flow timer: %s", strerror(errno));
		return ret;
	}
	ret = zt_loop_add(c->d.loop, c->flow_timer_fd, EPOLLIN, on_flow_timer, c);
	if (ret)
		snprintf(err, errlen, "flow timer: %s", strerror(-ret));
	return ret;
}

static void flows_close(struct connector *c)
{
	if (c->flows)
		zt_flows_end_all(c->flows, zt_flows_now_ms());
	if (c->flow_timer_fd > 0) {
		zt_loop_del(c->d.loop, c->flow_timer_fd);
		close(c->flow_timer_fd);
	}
	c->flow_timer_fd = -1;
	zt_flows_free(c->flows);
	c->flows = NULL;
}

/* ---- from a device ---- */

static void send_bind_ack(struct connector *c, struct device *dev, struct in_addr fake,
			  uint8_t status)
{
	uint8_t msg[ZT_BIND_ACK_LEN] = { [ZT_CTRL_OFF_TYPE] = ZT_CTRL_BIND_ACK };

	memcpy(msg + ZT_BIND_OFF_FAKE, &fake.s_addr, 4);
	msg[ZT_BIND_ACK_OFF_STATUS] = status;
	zt_tunnel_send(c->tunnel, dev->peer, msg, sizeof(msg));
}

/* Into the kernel: the classifier on the TUN has the last word. */
static void deliver(struct connector *c, struct device *dev, uint8_t *pkt, size_t len)
{
	struct zt_pkt_info info;

	if (zt_pkt_parse(pkt, len, &info) == 0)
		flow_packet(c, dev, &info, true);
	zt_tun_queue(c->tun, pkt, len);
}

/* The tunnel's receive batch is done: what deliver() queued goes into the TUN. */
static void on_tunnel_flush(void *ctx)
{
	struct connector *c = ctx;

	zt_tun_flush(c->tun);
}

static void binding_resolved(struct connector *c, struct device *dev, struct binding *b)
{
	struct zt_exact_binding eb = { .resource_id = b->resource_id };

	zt_addr_from_v4(eb.addr, b->real.s_addr);
	zt_compile_bind_live(c->d.fds, &eb);
	send_bind_ack(c, dev, b->fake, ZT_BIND_OK);
	for (unsigned int i = 0; i < b->nqueued; i++)
		if (zt_nat_rewrite_dst(b->queue[i], b->queue_len[i], b->real) == 0)
			deliver(c, dev, b->queue[i], b->queue_len[i]);
	zt_tun_flush(c->tun);	/* before the buffers go */
	binding_drop_queue(b);
}

static void name_result(struct connector *c, const char *name, int status,
			const struct in_addr *addrs, size_t naddrs);

/*
 * A bind: the device says FAKE stands for NAME. It must be a name one of
 * its granted resources answers for; the name is resolved here, through the
 * private network's DNS, never taken from the client.
 */
static void handle_bind(struct connector *c, struct device *dev, const uint8_t *msg, size_t len)
{
	const struct zt_resource_def *res;
	struct in_addr fake, addrs[8];
	char name[ZT_PATTERN_MAX], norm[ZT_PATTERN_MAX];
	struct binding *b;
	size_t nlen, naddrs = 0;
	int ret;

	if (len < ZT_BIND_HDR_LEN)
		goto malformed;
	memcpy(&fake.s_addr, msg + ZT_BIND_OFF_FAKE, 4);
	nlen = msg[ZT_BIND_OFF_NAME_LEN];
	if (nlen == 0 || len != ZT_BIND_HDR_LEN + nlen || nlen >= sizeof(name))
		goto malformed;
	memcpy(name, msg + ZT_BIND_HDR_LEN, nlen);
	name[nlen] = '\0';
	/* The client sends names normalised; anything else is refused. */
	if (name[0] == '*' || zt_dns_name_normalize(name, norm, sizeof(norm), NULL, 0) ||
	    strcmp(name, norm))
		goto malformed;

	res = zt_policy_match_name(&c->d.policy, name);
	if (!res || !zt_policy_granted(&c->d.policy, dev->id, res->id)) {
		c->st.bind_errors++;
		flow_log_denied_name(c, dev, fake, name, res);
		send_bind_ack(c, dev, fake, ZT_BIND_DENIED);
		return;
	}
	b = binding_by_fake(dev, fake);
	if (b && b->state == BIND_OK && !strcmp(b->name, name) && b->resource_id == res->id) {
		send_bind_ack(c, dev, fake, ZT_BIND_OK);	/* a resend: our ack was lost */
		return;
	}
	if (!b) {
		if (dev->nbinds == MAX_BINDS_PER_DEVICE) {
			c->st.bind_errors++;
			send_bind_ack(c, dev, fake, ZT_BIND_DENIED);
			return;
		}
		b = realloc(dev->binds, (dev->nbinds + 1) * sizeof(*b));
		if (!b)
			return;
		dev->binds = b;
		b = &dev->binds[dev->nbinds++];
		memset(b, 0, sizeof(*b));
		b->fake = fake;
	}
	binding_drop_queue(b);
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->resource_id = res->id;
	b->state = BIND_PENDING;
	c->st.binds++;
	ret = zt_name_cache_lookup(c->names, name, addrs, 8, &naddrs);
	if (ret == -EINPROGRESS)
		return;		/* name_resolved() finishes it */
	name_result(c, name, ret, addrs, naddrs);
	return;
malformed:
	c->st.malformed_control++;
}

/* The name cache answered NAME: every binding waiting for it moves on. */
static void name_result(struct connector *c, const char *name, int status,
			const struct in_addr *addrs, size_t naddrs)
{
	for (size_t i = 0; i < c->ndevices; i++) {
		struct device *dev = &c->devices[i];

		for (size_t j = 0; j < dev->nbinds; j++) {
			struct binding *b = &dev->binds[j];

			if (strcmp(b->name, name) || (b->state != BIND_PENDING && b->state != BIND_OK))
				continue;
			/* A failed re-resolution that still serves the old addresses changes nothing. */
			if (!naddrs) {
				bool was_pending = b->state == BIND_PENDING;

				b->state = BIND_DNS_ERROR;
				binding_drop_queue(b);
				c->st.bind_errors++;
				if (was_pending) {
					flow_log_dns_error(c, dev, b, status);
					send_bind_ack(c, dev, b->fake, ZT_BIND_DNS_ERROR);
				}
				continue;
			}
			/* A re-resolution that moved the name moves the binding with it. */
			if (b->state == BIND_OK && b->real.s_addr == addrs[0].s_addr)
				continue;
			b->real = addrs[0];
			b->state = BIND_OK;
			binding_resolved(c, dev, b);
		}
	}
}

static void on_name_resolved(void *ctx, const char *name, int status, const struct in_addr *addrs,
			     size_t n, uint32_t ttl)
{
	(void)ttl;
	name_result(ctx, name, status, addrs, n);
}

static void on_tunnel_recv(void *ctx, struct zt_tunnel_peer *peer, uint8_t *pkt, size_t len)
{
	struct connector *c = ctx;
	struct device *dev = zt_tunnel_peer_ctx(peer);
	struct in_addr src, dst;
	struct binding *b;

	if (zt_paths_recv(c->paths, peer, pkt, len))
		return;
	if (pkt[ZT_CTRL_OFF_TYPE] < ZT_CTRL_MAX) {
		if (pkt[ZT_CTRL_OFF_TYPE] == ZT_CTRL_BIND)
			handle_bind(c, dev, pkt, len);
		else
			c->st.malformed_control++;
		return;
	}
	if ((pkt[0] >> 4) != 4 || len < 20) {
		c->st.not_ipv4++;
		return;
	}
	memcpy(&src.s_addr, pkt + 12, 4);
	memcpy(&dst.s_addr, pkt + 16, 4);
	/* The key proves who sent it; the address must agree (no spoofing). */
	if (src.s_addr != dev->addr.s_addr) {
		c->st.spoofed++;
		return;
	}
	c->st.from_devices++;
	b = binding_by_fake(dev, dst);
	if (b) {
		if (b->state == BIND_PENDING) {
			if (b->nqueued == BIND_QUEUE) {
				c->st.bind_pending_drops++;
				return;
			}
			b->queue[b->nqueued] = malloc(len);
			if (!b->queue[b->nqueued])
				return;
			memcpy(b->queue[b->nqueued], pkt, len);
			b->queue_len[b->nqueued++] = len;
			return;
		}
		if (b->state != BIND_OK) {
			c->st.unbound++;
			return;
		}
		if (zt_nat_rewrite_dst(pkt, len, b->real))
			return;
	}
	/*
	 * Anything else goes in as it is: an IP or CIDR resource, or nothing
	 * the classifier knows, which it drops (default deny) and reports.
	 */
	deliver(c, dev, pkt, len);
}

/* ---- to a device ---- */

static void on_tun_packet(const uint8_t *cpkt, size_t len, void *ctx)
{
	struct connector *c = ctx;
	uint8_t *pkt = (uint8_t *)cpkt;	/* the TUN's read buffer: ours to rewrite */
	struct zt_pkt_info info;
	struct in_addr src, dst;
	struct device *dev;
	struct binding *b;

	if (len < 20 || (pkt[0] >> 4) != 4)
		return;
	memcpy(&src.s_addr, pkt + 12, 4);
	memcpy(&dst.s_addr, pkt + 16, 4);
	dev = device_by_addr(c, dst);
	if (!dev || !dev->peer) {
		c->st.no_device++;
		return;
	}
	/* Counted as the resource sent it, before its source turns into the fake IP. */
	if (zt_pkt_parse(pkt, len, &info))
		return;
	flow_packet(c, dev, &info, false);
	b = binding_by_real(dev, info.icmp_error ? info.inner.dst : src);
	if (b && zt_nat_rewrite_src(pkt, len, b->fake))
		return;
	c->st.to_devices++;
	zt_tunnel_send(c->tunnel, dev->peer, pkt, len);
}

static void on_tun(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct connector *c = arg;

	(void)loop;
	(void)fd;
	(void)events;
	zt_tunnel_cork(c->tunnel);
	zt_tun_drain(c->tun, on_tun_packet, c);
	zt_tunnel_uncork(c->tunnel);
}

static void on_tunnel_session_up(void *ctx, struct zt_tunnel_peer *peer)
{
	struct connector *c = ctx;

	zt_paths_session_up(c->paths, peer);
}

static void on_tunnel_other(void *ctx, uint8_t *buf, size_t len, const struct sockaddr *src,
			    socklen_t srclen)
{
	struct connector *c = ctx;

	zt_paths_other(c->paths, buf, len, src, srclen);
}

static int on_tunnel_relay_send(void *ctx, struct zt_tunnel_peer *peer, const uint8_t *datagram,
				size_t len)
{
	struct connector *c = ctx;

	return zt_paths_relay_send(c->paths, peer, datagram, len);
}

/* The relays forward to us only from our devices. */
static int sync_accept(struct connector *c, char *err, size_t errlen)
{
	uint8_t (*keys)[ZT_RELAY_KEY_LEN];
	int ret;

	if (!zt_path_relays_count(c->relays))
		return 0;
	keys = calloc(c->ndevices ? c->ndevices : 1, sizeof(*keys));
	if (!keys) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->ndevices; i++)
		memcpy(keys[i], c->devices[i].pubkey, ZT_RELAY_KEY_LEN);
	ret = zt_path_relays_set_accept(c->relays, (const uint8_t (*)[ZT_RELAY_KEY_LEN])keys,
					c->ndevices);
	free(keys);
	if (ret)
		snprintf(err, errlen, "relay accept list: %s", strerror(-ret));
	return ret;
}

/* ---- policy ---- */

/*
 * Make the tunnel's peers the policy's devices: new keys added, removed
 * ones dropped (their sessions wiped: a removed device is cut at once),
 * and the bindings of devices that stay kept.
 */
static int sync_devices(struct connector *c, char *err, size_t errlen)
{
	const struct zt_policy *p = &c->d.policy;
	struct device *next;
	size_t n = p->ndevices;

	next = calloc(n ? n : 1, sizeof(*next));
	if (!next) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct zt_device_def *def = &p->devices[i];
		struct device *nd = &next[i];

		nd->id = def->id;
		snprintf(nd->name, sizeof(nd->name), "%s", def->name);
		memcpy(nd->pubkey, def->pubkey, sizeof(nd->pubkey));
		memcpy(&nd->addr.s_addr, def->address.addr + 12, 4);
		nd->c = c;
		for (size_t j = 0; j < c->ndevices; j++) {
			struct device *od = &c->devices[j];

			if (!od->peer || memcmp(od->pubkey, nd->pubkey, 32) ||
			    od->addr.s_addr != nd->addr.s_addr)
				continue;
			/* Same key, same address: the session and the bindings carry over. */
			nd->peer = od->peer;
			nd->binds = od->binds;
			nd->nbinds = od->nbinds;
			od->peer = NULL;
			od->binds = NULL;
			od->nbinds = 0;
			break;
		}
	}
	for (size_t j = 0; j < c->ndevices; j++) {
		struct device *od = &c->devices[j];

		if (od->peer)
			zt_tunnel_peer_remove(c->tunnel, od->peer);
		device_free_binds(od);
	}
	free(c->devices);
	c->devices = next;
	c->ndevices = n;
	/* Peers carry a pointer to their device: repoint them at the new array. */
	for (size_t i = 0; i < n; i++) {
		struct device *nd = &next[i];
		int ret;

		if (nd->peer) {
			zt_tunnel_peer_set_ctx(nd->peer, nd);
			continue;
		}
		ret = zt_tunnel_peer_add(c->tunnel, nd->pubkey, NULL, nd, &nd->peer);
		if (ret) {
			snprintf(err, errlen, "device %s: adding its key: %s", nd->name, strerror(-ret));
			return ret;
		}
		if (c->paths)
			zt_paths_track(c->paths, nd->peer);
	}
	return sync_accept(c, err, errlen);
}

static int on_policy_applied(struct zt_daemon *d, char *err, size_t errlen)
{
	return sync_devices((struct connector *)d, err, errlen);
}

/* The resolved names in use: compiled as exact addresses of their resources. */
static int connector_bindings(struct zt_daemon *d, const struct zt_policy *next,
			      struct zt_exact_binding **out, size_t *n)
{
	struct connector *c = (struct connector *)d;
	struct zt_exact_binding *v = NULL;
	size_t cnt = 0, cap = 0;

	for (size_t i = 0; i < c->ndevices; i++) {
		struct device *dev = &c->devices[i];

		for (size_t j = 0; j < dev->nbinds; j++) {
			const struct binding *b = &dev->binds[j];
			const struct zt_resource_def *res;

			if (b->state != BIND_OK)
				continue;
			res = zt_policy_match_name(next, b->name);
			if (!res)
				continue;	/* the name is no resource any more */
			if (cnt == cap) {
				struct zt_exact_binding *nv;

				cap = cap ? cap * 2 : 16;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
			}
			v[cnt].resource_id = res->id;
			zt_addr_from_v4(v[cnt].addr, b->real.s_addr);
			cnt++;
		}
	}
	*out = v;
	*n = cnt;
	return 0;
}

static void on_status(struct zt_daemon *d, json_object *o)
{
	struct connector *c = (struct connector *)d;
	json_object *peers = json_object_new_array();

	for (size_t i = 0; i < c->ndevices; i++)
		json_object_array_add(peers, zt_paths_status_json(c->paths, c->devices[i].name,
								  c->devices[i].peer));
	json_object_object_add(o, "peers", peers);
	json_object_object_add(o, "relays", zt_path_relays_json(c->relays));
}

static void on_stats(struct zt_daemon *d, json_object *o)
{
	struct connector *c = (struct connector *)d;
	json_object *t, *devs;

	t = json_object_new_object();
#define PUT(f) json_object_object_add(t, #f, json_object_new_int64((int64_t)c->st.f))
	PUT(from_devices); PUT(spoofed); PUT(not_ipv4); PUT(unbound); PUT(bind_pending_drops);
	PUT(to_devices); PUT(no_device); PUT(binds); PUT(bind_errors); PUT(malformed_control);
#undef PUT
	json_object_object_add(o, "connector", t);
	json_object_object_add(o, "tunnel", zt_tunnel_stats_json(c->tunnel));
	devs = json_object_new_array();
	for (size_t i = 0; i < c->ndevices; i++)
		json_object_array_add(devs, zt_tunnel_peer_json(c->devices[i].name, c->devices[i].peer));
	json_object_object_add(o, "peers", devs);
	if (c->uplink) {
		struct zt_uplink_stats us = { 0 };
		json_object *u = json_object_new_object();

		zt_uplink_read_stats(c->uplink, &us);
		json_object_object_add(u, "iface", json_object_new_string(c->uplink_ifname));
#define PUT(f) json_object_object_add(u, #f, json_object_new_int64((int64_t)us.f))
		PUT(passed); PUT(dropped_malformed); PUT(dropped_ratelimited); PUT(initiations_seen);
#undef PUT
		json_object_object_add(o, "uplink", u);
	}
}

/*
 * The XDP guard in front of the tunnel's port: malformed datagrams and
 * initiation floods never reach the socket (docs/TUNNEL.md).
 */
static int uplink_open(struct connector *c, const struct connector_opts *o, char *err,
		       size_t errlen)
{
	struct zt_uplink_info info;
	int ret;

	snprintf(c->uplink_pins, sizeof(c->uplink_pins), "%s/uplink", c->d.pin_dir);
	ret = zt_uplink_open(c->uplink_pins, &c->uplink, err, errlen);
	if (ret)
		return ret;
	ret = zt_uplink_set_config(c->uplink, (uint16_t)zt_tunnel_local_port(c->tunnel),
				   o->handshake_rate, o->handshake_burst);
	if (!ret)
		ret = zt_uplink_set_relays(c->uplink, o->udp_relays, o->nudp_relays);
	if (ret) {
		snprintf(err, errlen, "uplink guard config: %s", strerror(-ret));
		return ret;
	}
	ret = zt_uplink_attach(c->uplink, o->uplink, &info, err, errlen);
	if (ret)
		return ret;
	c->uplink_ifname = o->uplink;
	zt_log("info", "uplink guard on %s (%s mode), port %d", o->uplink,
	       info.native ? "native" : "generic", zt_tunnel_local_port(c->tunnel));
	return 0;
}

/* The guard protects our socket: it goes with the daemon. */
static void uplink_close(struct connector *c)
{
	char err[256];

	if (!c->uplink)
		return;
	if (c->uplink_ifname && zt_uplink_detach(c->uplink, c->uplink_ifname, err, sizeof(err)))
		zt_log("error", "uplink guard: %s", err);
	zt_uplink_close(c->uplink);
	c->uplink = NULL;
	if (zt_uplink_teardown(c->uplink_pins, err, sizeof(err)))
		zt_log("error", "uplink guard: %s", err);
}

/* ---- start-up ---- */

static int parse_opts(int argc, char **argv, struct zt_daemon *d, struct connector_opts *o)
{
	static const struct option longopts[] = {
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
		ZT_DAEMON_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': o->listen = optarg; break;
		case 'k': o->key_file = optarg; break;
		case 't': o->tun = optarg; break;
		case 'n': o->name = optarg; break;
		case 'r': o->device_range = optarg; break;
		case 'U': o->uplink = optarg; break;
		case 'Y':
		case 'P':
			if (o->nrelays == ZT_PATHS_RELAYS_MAX) {
				fprintf(stderr, "ztgated: at most %d relays\n", ZT_PATHS_RELAYS_MAX);
				return -EINVAL;
			}
			o->relays[o->nrelays++] = (struct zt_path_relay_spec){ .relay = optarg,
									       .tcp = c == 'P' };
			break;
		case 'R':
		case 'B': {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || *optarg == '-' || v == 0 || v > 1000000) {
				fprintf(stderr, "ztgated: invalid --handshake-%s '%s': expected 1-1000000\n",
					c == 'R' ? "rate" : "burst", optarg);
				return -EINVAL;
			}
			if (c == 'R')
				o->handshake_rate = (uint32_t)v;
			else
				o->handshake_burst = (uint32_t)v;
			break;
		}
		case 'd':
			if (o->ndns == MAX_DNS) {
				fprintf(stderr, "ztgated: at most %d --dns servers\n", MAX_DNS);
				return -EINVAL;
			}
			o->dns[o->ndns++] = optarg;
			break;
		case 'h': usage(stdout); exit(0);
		default:
			if (zt_daemon_common_opt(d, c, optarg))
				break;
			return zt_daemon_bad_opt("connector", c, argv);
		}
	}
	if ((o->handshake_rate || o->handshake_burst) && !o->uplink) {
		fprintf(stderr, "ztgated: --handshake-rate/--handshake-burst need --uplink IFACE\n");
		return -EINVAL;
	}
	/*
	 * The guard passes tunnel messages, and the UDP relays' datagrams by
	 * their source: it needs the relays' addresses, not names (nothing
	 * resolves in XDP, and they must pass before the first answer).
	 */
	if (o->uplink) {
		size_t i;

		for (i = 0; i < o->nrelays; i++) {
			char why[128];

			if (o->relays[i].tcp)
				continue;
			if (zt_endpoint_parse(o->relays[i].relay, &o->udp_relays[o->nudp_relays],
					      why, sizeof(why))) {
				fprintf(stderr, "ztgated: with --uplink, --relay must be IP:PORT "
					"(the guard admits the relay by address): '%s'\n",
					o->relays[i].relay);
				return -EINVAL;
			}
			o->nudp_relays++;
		}
	}
	if (!o->listen || !o->key_file) {
		fprintf(stderr, "ztgated: connector needs --listen ADDR:PORT and --key FILE\n");
		return -EINVAL;
	}
	return zt_daemon_no_args(argc, argv);
}

int zt_role_connector(int argc, char **argv)
{
	static struct connector c;	/* static: the hooks reach it via d */
	struct zt_daemon *d = &c.d;
	struct connector_opts o = {
		.tun = ZT_CONNECTOR_DEFAULT_TUN,
		.device_range = ZT_CONNECTOR_DEFAULT_DEVICES,
	};
	const struct zt_tunables tunables = ZT_TUNABLES_DEFAULT;
	struct zt_tunnel_cfg tcfg = { 0 };
	const struct zt_tunnel_ops tops = { .recv = on_tunnel_recv, .flush = on_tunnel_flush,
					    .session_up = on_tunnel_session_up,
					    .other = on_tunnel_other,
					    .relay_send = on_tunnel_relay_send };
	const struct zt_name_cache_ops nops = { .resolved = on_name_resolved };
	struct zt_name_cache_cfg ncfg = { 0 };
	struct zt_endpoint listen;
	json_object *ready = NULL;
	char err[512], dns_csv[512] = "", host[ZT_NAME_MAX];
	bool destroy_tun = false, rules = false;
	int ret;

	*d = (struct zt_daemon){
		.role = "connector",
		.state_dir = ZT_DEFAULT_STATE_DIR,
		.socket_path = ZT_DEFAULT_SOCKET_PATH,
		.pin_dir = ZT_DEFAULT_PIN_DIR,
		.listen_fd = -1,
		.signal_fd = -1,
		.policy_applied = on_policy_applied,
		.stats = on_stats,
		.status = on_status,
		.bindings = connector_bindings,
		.event = on_event,
	};
	c.flow_timer_fd = -1;
	zt_policy_init(&d->policy);
	if (parse_opts(argc, argv, d, &o))
		return 2;
	if (zt_endpoint_parse(o.listen, &listen, err, sizeof(err))) {
		fprintf(stderr, "ztgated: invalid --listen '%s': %s\n", o.listen, err);
		return 2;
	}
	if (zt_prefix_parse(o.device_range, &c.device_range, err, sizeof(err)) ||
	    c.device_range.family != AF_INET) {
		fprintf(stderr, "ztgated: invalid --device-range '%s': %s\n", o.device_range,
			c.device_range.family == AF_INET ? err : "expected an IPv4 CIDR");
		return 2;
	}
	for (unsigned int i = 0; i < o.ndns; i++) {
		struct in_addr a;

		if (inet_pton(AF_INET, o.dns[i], &a) != 1) {
			fprintf(stderr, "ztgated: invalid --dns '%s': expected an IPv4 address\n", o.dns[i]);
			return 2;
		}
		snprintf(dns_csv + strlen(dns_csv), sizeof(dns_csv) - strlen(dns_csv), "%s%s",
			 i ? "," : "", o.dns[i]);
	}
	if (!o.name) {
		if (gethostname(host, sizeof(host)))
			snprintf(host, sizeof(host), "connector");
		host[sizeof(host) - 1] = '\0';
		o.name = host;
	}
	c.name = o.name;
	ret = zt_key_load_private(o.key_file, tcfg.private_key, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "ztgated: %s\n", err);
		return 2;
	}
	zt_endpoint_to_sockaddr(&listen, &tcfg.listen);

	ret = zt_store_load(d->state_dir, &d->policy, err, sizeof(err));
	if (ret)
		goto fail_msg;
	ret = zt_daemon_open_dataplane(d, &tunables, err, sizeof(err));
	if (!ret)
		ret = zt_daemon_check_adoption(d, err, sizeof(err));
	if (!ret)
		ret = zt_config_set_flags(d->fds, ZT_CFG_CHECK_DEVICE | ZT_CFG_DEFAULT_DENY);
	if (ret) {
		if (!err[0])
			snprintf(err, sizeof(err), "zt_config: %s", strerror(-ret));
		goto fail_msg;
	}
	ret = zt_compile_apply(d->fds, &d->policy, err, sizeof(err));
	if (ret)
		goto fail_msg;

	/* The classifier is on the TUN before any packet can go in. */
	ret = zt_tun_open(o.tun, &c.tun, err, sizeof(err));
	if (ret)
		goto fail_msg;
	destroy_tun = true;
	ret = zt_dp_attach_tc(d->dp, zt_tun_name(c.tun), false);
	if (ret) {
		snprintf(err, sizeof(err), "attaching tc ingress to %s: %s", zt_tun_name(c.tun),
			 strerror(-ret));
		goto fail_msg;
	}
	ret = zt_tun_set_mtu(c.tun, o.nrelays ? ZT_RELAYED_TUNNEL_MTU : ZT_TUNNEL_MTU, err,
			     sizeof(err));
	if (!ret)
		ret = zt_tun_set_routes(c.tun, &c.device_range, 1, err, sizeof(err));
	if (!ret)
		ret = zt_nat_rules_install(zt_tun_name(c.tun), &c.device_range, err, sizeof(err));
	if (ret)
		goto fail_msg;
	rules = true;

	ret = zt_tunnel_open(d->loop, &tcfg, &tops, &c, &c.tunnel, err, sizeof(err));
	if (!ret)
		ret = zt_paths_open(d->loop, c.tunnel, NULL, &c.paths, err, sizeof(err));
	if (!ret)
		ret = zt_path_relays_open(d->loop, c.tunnel, c.paths, tcfg.private_key, o.relays,
					  o.nrelays, &c.relays, err, sizeof(err));
	if (ret)
		goto fail_msg;
	ncfg.servers = dns_csv[0] ? dns_csv : NULL;
	ret = zt_name_cache_open(d->loop, &ncfg, &nops, &c, &c.names, err, sizeof(err));
	if (ret)
		goto fail_msg;
	if (o.uplink) {
		ret = uplink_open(&c, &o, err, sizeof(err));
		if (ret)
			goto fail_msg;
	}
	ret = flows_open(&c, err, sizeof(err));
	if (ret)
		goto fail_msg;
	ret = sync_devices(&c, err, sizeof(err));
	if (ret)
		goto fail_msg;
	ret = zt_loop_add(d->loop, zt_tun_fd(c.tun), EPOLLIN, on_tun, &c);
	if (ret) {
		snprintf(err, sizeof(err), "TUN: %s", strerror(-ret));
		goto fail_msg;
	}
	ret = zt_daemon_watch(d, err, sizeof(err));
	if (!ret)
		ret = zt_control_open(d, err, sizeof(err));
	if (ret)
		goto fail_msg;

	ready = json_object_new_object();
	json_object_object_add(ready, "event", json_object_new_string("ready"));
	json_object_object_add(ready, "role", json_object_new_string(d->role));
	json_object_object_add(ready, "name", json_object_new_string(c.name));
	json_object_object_add(ready, "listen", json_object_new_string(o.listen));
	json_object_object_add(ready, "port", json_object_new_int(zt_tunnel_local_port(c.tunnel)));
	{
		uint8_t pub[32];
		char b64[ZT_KEY_B64_LEN + 1];

		zt_tunnel_public_key(c.tunnel, pub);
		zt_key_to_base64(pub, b64);
		json_object_object_add(ready, "pubkey", json_object_new_string(b64));
	}
	json_object_object_add(ready, "tun", json_object_new_string(zt_tun_name(c.tun)));
	json_object_object_add(ready, "uplink", json_object_new_string(o.uplink ? o.uplink : "none"));
	json_object_object_add(ready, "dns", json_object_new_string(dns_csv[0] ? dns_csv : "resolv.conf"));
	json_object_object_add(ready, "devices", json_object_new_int((int)d->policy.ndevices));
	json_object_object_add(ready, "resources", json_object_new_int((int)d->policy.count));
	json_object_object_add(ready, "pin_dir", json_object_new_string(d->pin_dir));
	json_object_object_add(ready, "socket", json_object_new_string(d->socket_path));
	json_object_object_add(ready, "state_dir", json_object_new_string(d->state_dir));
	zt_emit(ready);
	ready = NULL;

	ret = zt_daemon_run(d, err, sizeof(err));
	if (ret)
		goto fail_msg;
	goto out;

fail_msg:
	fprintf(stderr, "ztgated: %s\n", err);
	ret = ret ? ret : -EINVAL;
out:
	json_object_put(ready);
	uplink_close(&c);
	flows_close(&c);
	zt_name_cache_close(c.names);
	c.names = NULL;
	for (size_t i = 0; i < c.ndevices; i++)
		device_free_binds(&c.devices[i]);
	free(c.devices);
	c.devices = NULL;
	c.ndevices = 0;
	zt_path_relays_close(c.relays);	/* they send on the tunnel's socket */
	c.relays = NULL;
	zt_paths_close(c.paths);
	c.paths = NULL;
	zt_tunnel_close(c.tunnel);
	c.tunnel = NULL;
	if (rules)
		zt_nat_rules_remove();
	zt_tun_close(c.tun, destroy_tun);
	c.tun = NULL;
	zt_daemon_close(d);
	OPENSSL_cleanse(tcfg.private_key, sizeof(tcfg.private_key));
	return ret ? 1 : 0;
}
