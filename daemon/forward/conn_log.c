// SPDX-License-Identifier: GPL-2.0-only
/*
 * The connector's connection logs: every packet a device sends or receives
 * is accounted to its flow (netdev/flows.c), with the device, its endpoint
 * and the resource named when a flow starts; DNS errors and denials
 * (a name not granted, the classifier's deny events) become records too.
 * Flows expire on a one-second timer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "dns/name_cache.h"
#include "forward/connector_int.h"
#include "lib/addr.h"
#include "tunnel/tunnel.h"

static void flow_sink(json_object *line, void *arg)
{
	struct zt_connector_fwd *c = arg;

	c->cfg.log(c->cfg.log_arg, line);
}

/* The resource a real destination belongs to, for the log: a binding's, or an IP resource's. */
static const char *resource_name_of(struct zt_connector_fwd *c, struct device *dev, struct in_addr real)
{
	const struct zt_resource_def *r = NULL;
	uint8_t a[16];

	for (size_t i = 0; i < dev->nbinds; i++)
		if (dev->binds[i].state == BIND_OK && dev->binds[i].real.s_addr == real.s_addr) {
			r = zt_policy_find_id(c->policy, dev->binds[i].resource_id);
			break;
		}
	if (!r) {
		zt_addr_from_v4(a, real.s_addr);
		r = zt_policy_match_addr(c->policy, a);
	}
	return r ? r->name : NULL;
}

static void flow_meta(struct zt_connector_fwd *c, struct device *dev, struct in_addr real,
		      struct zt_flow_meta *m, struct sockaddr_storage *ep)
{
	struct zt_tunnel_peer_stats st;

	zt_tunnel_peer_stats(dev->peer, &st);
	*ep = st.endpoint;
	m->device = dev->name;
	m->client_endpoint = ep->ss_family == AF_UNSPEC ? NULL : (const struct sockaddr *)ep;
	m->resource = resource_name_of(c, dev, real);
	m->ident = dev->ident;
}

void zt_connector_fwd_set_names(struct zt_connector_fwd *c, const char *name, const char *network)
{
	if (c->flows)
		zt_flows_set_names(c->flows, name, network);
}

/*
 * The classifier's verdict on a device's new flow, as user space can tell
 * it: the resource the destination belongs to (the device's binding, or an
 * IP resource), granted to the device, with the port allowed. Only a hint:
 * a flow expected to be denied holds its table entry briefly (probation),
 * unless the resource answers.
 */
static bool expect_denied(struct zt_connector_fwd *c, struct device *dev, const struct zt_flow_key *k)
{
	const struct zt_resource_def *r = NULL;
	uint8_t a[16];

	for (size_t i = 0; i < dev->nbinds && !r; i++)
		if (dev->binds[i].state == BIND_OK && dev->binds[i].real.s_addr == k->dst.s_addr)
			r = zt_policy_find_id(c->policy, dev->binds[i].resource_id);
	if (!r) {
		zt_addr_from_v4(a, k->dst.s_addr);
		r = zt_policy_match_addr(c->policy, a);
	}
	if (!r || !zt_policy_granted(c->policy, dev->id, r->id))
		return true;
	switch (k->proto) {
	case IPPROTO_TCP:
		return !zt_ports_contains(&r->tcp, k->dport);
	case IPPROTO_UDP:
		return !zt_ports_contains(&r->udp, k->dport);
	case IPPROTO_ICMP:
		return !r->icmp;
	default:
		return true;
	}
}

/*
 * Account a packet (parsed in INFO) to its flow. TO_RESOURCE: as it goes
 * into the TUN (after DNAT); else as the resource sent it (before un-DNAT).
 * zt_flows_packet()'s result: -ENOENT for a packet from the private network
 * that belongs to no flow the device opened, -ENOSPC for a flow not tracked.
 */
int flow_packet(struct zt_connector_fwd *c, struct device *dev, const struct zt_pkt_info *info,
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
	if (to_resource && !zt_flows_open(c->flows, &k)) {
		flow_meta(c, dev, k.dst, &m, &ep);
		if (expect_denied(c, dev, &k))
			flags |= ZT_FLOW_PROBATION;
	}
	return zt_flows_packet(c->flows, &k, &m,
			       to_resource ? ZT_FLOW_TO_RESOURCE : ZT_FLOW_FROM_RESOURCE,
			       info->ip_len, flags, zt_flows_now_ms());
}

void flow_log_dns_error(struct zt_connector_fwd *c, struct device *dev, const struct binding *b,
			       int status)
{
	struct zt_flow_key k = { .device_id = dev->id, .src = dev->addr, .dst = b->fake };
	const struct zt_resource_def *r = zt_policy_find_id(c->policy, b->resource_id);
	struct sockaddr_storage ep;
	struct zt_flow_meta m;

	flow_meta(c, dev, b->real, &m, &ep);
	m.resource = r ? r->name : NULL;
	zt_flows_log_dns_error(c->flows, &k, &m, b->name, zt_name_cache_strerror(status),
			       zt_flows_now_ms());
}

/* A bind refused: DST is the fake IP (not granted) or the address refused. */
void flow_log_denied_name(struct zt_connector_fwd *c, struct device *dev, struct in_addr dst,
				 const char *name, const struct zt_resource_def *res)
{
	struct zt_flow_key k = { .device_id = dev->id, .src = dev->addr, .dst = dst };
	struct sockaddr_storage ep;
	struct zt_flow_meta m;

	(void)name;
	flow_meta(c, dev, dst, &m, &ep);
	m.resource = res ? res->name : NULL;
	zt_flows_log_denied(c->flows, &k, &m, 0, zt_flows_now_ms());
}

/* A deny from the classifier on the TUN: a DENIED connection record for its device. */
void zt_connector_fwd_deny(struct zt_connector_fwd *c, const struct zt_event *e)
{
	struct zt_flow_key k = { .proto = e->l4proto, .sport = e->sport, .dport = e->dport };
	struct sockaddr_storage ep;
	struct zt_flow_meta m;
	struct device *dev;
	uint32_t len;

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
	struct zt_connector_fwd *c = arg;
	uint64_t ticks;

	(void)loop;
	(void)events;
	if (read(fd, &ticks, sizeof(ticks)) < 0)
		return;
	zt_flows_expire(c->flows, zt_flows_now_ms());
}

/* Expire flows once a second: connection ends are logged within a second of their timeout. */
int flows_open(struct zt_connector_fwd *c, char *err, size_t errlen)
{
	const struct zt_flows_cfg cfg = { .connector = c->name,
					  .max_per_device = c->cfg.device_flows };
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
	ret = zt_loop_add(c->loop, c->flow_timer_fd, EPOLLIN, on_flow_timer, c);
	if (ret)
		snprintf(err, errlen, "flow timer: %s", strerror(-ret));
	return ret;
}

void flows_close(struct zt_connector_fwd *c)
{
	if (c->flows)
		zt_flows_end_all(c->flows, zt_flows_now_ms());
	if (c->flow_timer_fd > 0) {
		zt_loop_del(c->loop, c->flow_timer_fd);
		close(c->flow_timer_fd);
	}
	c->flow_timer_fd = -1;
	zt_flows_free(c->flows);
	c->flows = NULL;
}
