// SPDX-License-Identifier: GPL-2.0-only
/*
 * The connector's packet paths (forward/connector.h): a device's packets
 * into the TUN (source check, bound names translated, bind requests
 * answered once the private DNS resolved the name), the TUN's replies back
 * to their device; and the engine's open and close.
 *
 * Opens no TCP port: the only socket facing outside is the tunnel's UDP.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "dns/codec.h"
#include "dns/name_cache.h"
#include "forward/bind_msg.h"
#include "forward/connector_int.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "netdev/tun.h"
#include "path/paths.h"
#include "path/relays.h"
#include "tunnel/ctrl.h"
#include "tunnel/status.h"

static void send_bind_ack(struct zt_connector_fwd *c, struct device *dev, struct in_addr fake,
			  uint8_t status)
{
	uint8_t msg[ZT_BIND_ACK_LEN];

	zt_bind_ack_encode(fake, status, msg);
	zt_tunnel_send(c->tunnel, dev->peer, msg, sizeof(msg));
}

/* Into the kernel: the classifier on the TUN has the last word. */
static void deliver(struct zt_connector_fwd *c, struct device *dev, uint8_t *pkt, size_t len)
{
	struct zt_pkt_info info;

	/*
	 * A flow the table cannot take (the device's quota, or the table full)
	 * is not forwarded: its replies would find no flow and be dropped, and
	 * it would go unlogged.
	 */
	if (zt_pkt_parse(pkt, len, &info) == 0 && flow_packet(c, dev, &info, true) == -ENOSPC) {
		c->st.untracked_drops++;
		return;
	}
	zt_tun_queue(c->tun, pkt, len);
}

/* The tunnel's receive batch is done: what deliver() queued goes into the TUN. */
static void on_tunnel_flush(void *ctx)
{
	struct zt_connector_fwd *c = ctx;

	zt_tun_flush(c->tun);
}

static void binding_resolved(struct zt_connector_fwd *c, struct device *dev, struct binding *b)
{
	struct zt_exact_binding eb = { .resource_id = b->resource_id, .device_id = dev->id };

	zt_addr_from_v4(eb.addr, b->real.s_addr);
	if (c->cfg.bind_live(c->cfg.bind_arg, &eb)) {
		/* Not in the maps: its packets would be denied; say so now. */
		b->state = BIND_DNS_ERROR;
		c->st.bind_errors++;
		binding_drop_queue(dev, b);
		send_bind_ack(c, dev, b->fake, ZT_BIND_DNS_ERROR);
		return;
	}
	send_bind_ack(c, dev, b->fake, ZT_BIND_OK);
	for (unsigned int i = 0; i < b->nqueued; i++)
		if (zt_nat_rewrite_dst(b->queue[i], b->queue_len[i], b->real) == 0)
			deliver(c, dev, b->queue[i], b->queue_len[i]);
	zt_tun_flush(c->tun);	/* before the buffers go */
	binding_drop_queue(dev, b);
}

static void name_result(struct zt_connector_fwd *c, const char *name, int status,
			const struct in_addr *addrs, size_t naddrs);

/*
 * A bind: the device says FAKE stands for NAME. It must be a name one of
 * its granted resources answers for; the name is resolved here, through the
 * private network's DNS, never taken from the client.
 */
static void handle_bind(struct zt_connector_fwd *c, struct device *dev, const uint8_t *msg, size_t len)
{
	const struct zt_resource_def *res;
	struct in_addr fake, addrs[8];
	struct zt_bind_msg bm;
	const char *name = bm.name;
	struct binding *b;
	size_t naddrs = 0;
	int ret;

	/* Malformed, a name not in normal form, a wildcard: refused (bind_msg.c). */
	if (zt_bind_parse(msg, len, &bm))
		goto malformed;
	fake = bm.fake;

	res = zt_policy_match_name(c->policy, name);
	if (!res || !zt_policy_granted(c->policy, dev->id, res->id)) {
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
		if (dev->nbinds >= c->max_binds) {
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
	binding_drop_queue(dev, b);
	binding_unlive(c, dev, b);	/* a fake IP rebound: its old address goes */
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->resource_id = res->id;
	b->state = BIND_PENDING;
	c->st.binds++;
	/* Charged to the device: it cannot take the name cache's slots from the others. */
	ret = zt_name_cache_lookup_as(c->names, dev->id, name, addrs, 8, &naddrs);
	if (ret == -EINPROGRESS)
		return;		/* name_resolved() finishes it */
	if (ret == -ENOSPC) {
		/* This device's share of the cache is busy: its bind fails, nobody else's. */
		b->state = BIND_DNS_ERROR;
		c->st.bind_errors++;
		flow_log_dns_error(c, dev, b, ret);
		send_bind_ack(c, dev, fake, ZT_BIND_DNS_ERROR);
		return;
	}
	name_result(c, name, ret, addrs, naddrs);
	return;
malformed:
	c->st.malformed_control++;
}

/*
 * The first of ADDRS that B may be bound to (binding_refusal()), or NULL
 * with *WHY and *REFUSED saying what the first address was refused for.
 */
static const struct in_addr *pick_address(struct zt_connector_fwd *c, struct device *dev,
					  struct binding *b, const struct in_addr *addrs,
					  size_t naddrs, const char **why, struct in_addr *refused)
{
	for (size_t i = 0; i < naddrs; i++) {
		const char *r = binding_refusal(c, c->policy, dev, b->resource_id, b, addrs[i]);

		if (!r)
			return &addrs[i];
		if (i == 0) {
			*why = r;
			*refused = addrs[i];
		}
	}
	return NULL;
}

/*
 * A name bound somewhere stays in use: the cache resolves it again when
 * its TTL runs out (and we move the bindings), instead of dropping it and
 * leaving the bindings on an address the name may have left.
 */
static void keep_resolving(struct zt_connector_fwd *c, const char *name)
{
	struct in_addr addrs[ZT_NAME_CACHE_MAX_ADDRS];
	size_t n;

	for (size_t i = 0; i < c->ndevices; i++)
		for (size_t j = 0; j < c->devices[i].nbinds; j++)
			if (c->devices[i].binds[j].state == BIND_OK &&
			    !strcmp(c->devices[i].binds[j].name, name)) {
				zt_name_cache_lookup(c->names, name, addrs, ZT_NAME_CACHE_MAX_ADDRS, &n);
				return;
			}
}

/* The name cache answered NAME: every binding waiting for it moves on. */
static void name_result(struct zt_connector_fwd *c, const char *name, int status,
			const struct in_addr *addrs, size_t naddrs)
{
	for (size_t i = 0; i < c->ndevices; i++) {
		struct device *dev = &c->devices[i];

		for (size_t j = 0; j < dev->nbinds; j++) {
			struct binding *b = &dev->binds[j];
			bool was_pending = b->state == BIND_PENDING;
			const struct in_addr *pick;
			struct in_addr refused;
			const char *why = NULL;

			if (strcmp(b->name, name) || (b->state != BIND_PENDING && b->state != BIND_OK))
				continue;
			/* A failed re-resolution that still serves the old addresses changes nothing. */
			if (!naddrs) {
				binding_unlive(c, dev, b);	/* the name is gone: so is its address */
				b->state = BIND_DNS_ERROR;
				binding_drop_queue(dev, b);
				c->st.bind_errors++;
				if (was_pending) {
					flow_log_dns_error(c, dev, b, status);
					send_bind_ack(c, dev, b->fake, ZT_BIND_DNS_ERROR);
				}
				continue;
			}
			/* The address in use, if still among the answers, stays. */
			if (b->state == BIND_OK) {
				bool kept = false;

				for (size_t k = 0; k < naddrs && !kept; k++)
					kept = addrs[k].s_addr == b->real.s_addr;
				if (kept && !binding_refusal(c, c->policy, dev, b->resource_id, b, b->real))
					continue;
			}
			pick = pick_address(c, dev, b, addrs, naddrs, &why, &refused);
			/* A re-resolution that moved the name moves the binding with it. */
			binding_unlive(c, dev, b);
			if (!pick) {
				const struct zt_resource_def *res = zt_policy_find_id(c->policy,
										      b->resource_id);
				char ip[INET_ADDRSTRLEN];

				b->state = BIND_DENIED;
				binding_drop_queue(dev, b);
				c->st.bind_errors++;
				c->st.bind_refused++;
				inet_ntop(AF_INET, &refused, ip, sizeof(ip));
				zt_log("warning", "connector: device %s: %s resolved to %s: refused (%s)",
				       dev->name, name, ip, why);
				flow_log_denied_name(c, dev, refused, name, res);
				if (was_pending)
					send_bind_ack(c, dev, b->fake, ZT_BIND_DENIED);
				continue;
			}
			b->real = *pick;
			b->state = BIND_OK;
			binding_resolved(c, dev, b);
		}
	}
	keep_resolving(c, name);
}

static void on_name_resolved(void *ctx, const char *name, int status, const struct in_addr *addrs,
			     size_t n, uint32_t ttl)
{
	(void)ttl;
	name_result(ctx, name, status, addrs, n);
}

/*
 * A packet to a name still resolving waits in its binding's queue, within
 * bounds: BIND_QUEUE packets per binding, DEVICE_QUEUE_BYTES per device,
 * TOTAL_QUEUE_BYTES in all. Past them it is dropped (and counted).
 */
static void hold(struct zt_connector_fwd *c, struct device *dev, struct binding *b,
		 const uint8_t *pkt, size_t len)
{
	if (b->nqueued == BIND_QUEUE) {
		c->st.bind_pending_drops++;
		return;
	}
	if (dev->queued_bytes + len > DEVICE_QUEUE_BYTES ||
	    c->queued_bytes + len > TOTAL_QUEUE_BYTES) {
		c->st.bind_queue_bytes_drops++;
		return;
	}
	b->queue[b->nqueued] = malloc(len);
	if (!b->queue[b->nqueued])
		return;
	memcpy(b->queue[b->nqueued], pkt, len);
	b->queue_len[b->nqueued++] = len;
	dev->queued_bytes += len;
	c->queued_bytes += len;
}

static void on_tunnel_recv(void *ctx, struct zt_tunnel_peer *peer, uint8_t *pkt, size_t len)
{
	struct zt_connector_fwd *c = ctx;
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
			hold(c, dev, b, pkt, len);
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

static void on_tun_packet(const uint8_t *cpkt, size_t len, void *ctx)
{
	struct zt_connector_fwd *c = ctx;
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
	/*
	 * Only replies to a flow the device opened go in: the private network
	 * cannot push packets into a device. Counted as the resource sent
	 * it, before its source turns into the fake IP.
	 */
	if (zt_pkt_parse(pkt, len, &info) || flow_packet(c, dev, &info, false) < 0) {
		c->st.unsolicited++;
		return;
	}
	b = binding_by_real(dev, info.icmp_error ? info.inner.dst : src);
	if (b && zt_nat_rewrite_src(pkt, len, b->fake))
		return;
	c->st.to_devices++;
	zt_tunnel_send(c->tunnel, dev->peer, pkt, len);
}

static void on_tun(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_connector_fwd *c = arg;

	(void)loop;
	(void)fd;
	(void)events;
	zt_tunnel_cork(c->tunnel);
	zt_tun_drain(c->tun, on_tun_packet, c);
	zt_tunnel_uncork(c->tunnel);
}

static void on_tunnel_session_up(void *ctx, struct zt_tunnel_peer *peer)
{
	struct zt_connector_fwd *c = ctx;

	zt_paths_session_up(c->paths, peer);
}

static void on_tunnel_other(void *ctx, uint8_t *buf, size_t len, const struct sockaddr *src,
			    socklen_t srclen)
{
	struct zt_connector_fwd *c = ctx;

	zt_paths_other(c->paths, buf, len, src, srclen);
}

static int on_tunnel_relay_send(void *ctx, struct zt_tunnel_peer *peer, const uint8_t *datagram,
				size_t len)
{
	struct zt_connector_fwd *c = ctx;

	return zt_paths_relay_send(c->paths, peer, datagram, len);
}

void zt_connector_fwd_stats_json(const struct zt_connector_fwd *c, json_object *o)
{
	json_object *t, *devs;

	t = json_object_new_object();
#define PUT(f) json_object_object_add(t, #f, json_object_new_int64((int64_t)c->st.f))
	PUT(from_devices); PUT(spoofed); PUT(not_ipv4); PUT(unbound); PUT(bind_pending_drops);
	PUT(to_devices); PUT(no_device); PUT(unsolicited); PUT(untracked_drops); PUT(binds); PUT(bind_errors); PUT(malformed_control);
	PUT(bind_refused); PUT(bind_queue_bytes_drops);
#undef PUT
	json_object_object_add(o, "connector", t);
	if (c->flows)
		zt_flows_stats(c->flows, o);	/* "flows": active, device_full, ... */
	json_object_object_add(o, "tunnel", zt_tunnel_stats_json(c->tunnel));
	devs = json_object_new_array();
	for (size_t i = 0; i < c->ndevices; i++) {
		json_object *row = zt_tunnel_peer_json(c->devices[i].name, c->devices[i].peer);

		zt_paths_stats_json(c->paths, c->devices[i].peer, row);
		json_object_array_add(devs, row);
	}
	json_object_object_add(o, "peers", devs);
}

int zt_connector_fwd_port(const struct zt_connector_fwd *c)
{
	return zt_tunnel_local_port(c->tunnel);
}

void zt_connector_fwd_public_key(const struct zt_connector_fwd *c, uint8_t pub[32])
{
	zt_tunnel_public_key(c->tunnel, pub);
}

int zt_connector_fwd_open(const struct zt_connector_fwd_cfg *cfg, struct zt_connector_fwd **out,
			  char *err, size_t errlen)
{
	const struct zt_tunnel_ops tops = { .recv = on_tunnel_recv, .flush = on_tunnel_flush,
					    .session_up = on_tunnel_session_up,
					    .other = on_tunnel_other,
					    .relay_send = on_tunnel_relay_send };
	const struct zt_name_cache_ops nops = { .resolved = on_name_resolved };
	struct zt_name_cache_cfg ncfg = { .servers = cfg->dns_servers };
	struct zt_connector_fwd *c;
	int ret;

	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->cfg = *cfg;
	c->loop = cfg->loop;
	c->policy = cfg->policy;
	c->name = cfg->name;
	c->tun = cfg->tun;
	c->flow_timer_fd = -1;
	c->max_binds = cfg->device_binds ? cfg->device_binds : DEFAULT_BINDS_PER_DEVICE;
	if (c->max_binds > MAX_BINDS_PER_DEVICE)
		c->max_binds = MAX_BINDS_PER_DEVICE;
	*out = c;
	ret = zt_tunnel_open(c->loop, &cfg->tunnel, &tops, c, &c->tunnel, err, errlen);
	if (!ret) {
		/*
		 * Our other links lead into the private network: only the
		 * uplink's addresses are advertised and only its LAN's private
		 * candidates probed (path/cand.h); never the device range.
		 */
		const struct zt_paths_cfg pcfg = {
			.uplink_only = true, .advertise = cfg->advertise,
			.tun_name = c->tun ? zt_tun_name(c->tun) : NULL, .deny = &c->cfg.device_range, .ndeny = 1,
		};

		ret = zt_paths_open(c->loop, c->tunnel, &pcfg, &c->paths, err, errlen);
	}
	if (!ret)
		ret = zt_path_relays_open(c->loop, c->tunnel, c->paths, cfg->tunnel.private_key,
					  cfg->relays, cfg->nrelays, &c->relays, err, errlen);
	if (!ret)
		ret = zt_name_cache_open(c->loop, &ncfg, &nops, c, &c->names, err, errlen);
	if (!ret)
		ret = flows_open(c, err, errlen);
	if (!ret)
		ret = zt_connector_fwd_sync(c, err, errlen);
	if (ret)
		return ret;
	ret = zt_loop_add(c->loop, zt_tun_fd(c->tun), EPOLLIN, on_tun, c);
	if (ret)
		snprintf(err, errlen, "TUN: %s", strerror(-ret));
	return ret;
}

int zt_connector_fwd_set_relays(struct zt_connector_fwd *c, const struct zt_path_relay_spec *specs,
				size_t n, char *err, size_t errlen)
{
	return zt_path_relays_update(c->relays, specs, n, err, errlen);
}

void zt_connector_fwd_close(struct zt_connector_fwd *c)
{
	if (!c)
		return;
	flows_close(c);
	zt_name_cache_close(c->names);
	devices_free(c);
	zt_path_relays_close(c->relays);	/* they send on the tunnel's socket */
	zt_paths_close(c->paths);
	zt_tunnel_close(c->tunnel);
	free(c);
}
