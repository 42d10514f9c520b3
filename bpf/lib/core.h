/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * lib/core.h: the one classification core behind every entry point of the
 * enforcer's data plane (zt_tc.bpf.c: tc ingress/egress, L2 and L3 devices;
 * zt_xdp.bpf.c: XDP), for every role that enforces a policy. Its maps are
 * lib/maps.h, their contract with the daemon ztgate/maps.h (bpf/MAPS.md).
 *
 * Per packet: parse the link header (Ethernet with up to two VLAN tags, or
 * none on an L3 device such as a TUN: lib/parse.h), read the IP header
 * into the classifier's view of it (struct zt_pkt, lib/wire.h), look the
 * destination up in the active generation (exact hash, then LPM trie).
 * Not a resource: pass untouched. A resource: validate what follows the
 * fixed IP header, optionally check the device's grant (connector), then
 * the protocol and port, each a single hash or array lookup, so the cost
 * does not depend on how many resources or rules exist.
 *
 * Fail closed: anything to a resource that cannot be classified
 * (truncated, bad header, unknown protocol) is denied. Fragments: the
 * first (it has the ports) is classified, and its verdict, if allowed,
 * kept in zt_frag for the later ones; a later fragment of no allowed first
 * fragment (denied, never seen, or arriving before it) is denied.
 * Packets whose destination cannot even be read are passed: they cannot be
 * matched to a resource and the stack discards them anyway. Source-routed
 * packets (IPv4 LSRR/SSRR, IPv6 routing header with segments left) are
 * denied whatever their destination: it is only their next hop.
 *
 * A denial is counted, may raise an event and feed the scan detector (each
 * under its own token bucket, so a flood cannot flood the ring buffer), and
 * in reject mode is answered by lib/reply.h. Defaults for zero zt_config
 * fields: ztgate/defaults.h.
 */
#ifndef ZT_CORE_H
#define ZT_CORE_H

#include "lib/maps.h"
#include "lib/wire.h"
#include "lib/ctx.h"
#include "lib/parse.h"
#include "lib/reply.h"
#include "ztgate/defaults.h"	/* ZT_DEF_*: what a zero field of zt_config means */

/*
 * Where an IPv4 packet sits in its datagram: a first fragment (offset 0,
 * MF) carries the ports and is classified like a whole datagram; a later
 * one (offset > 0) follows its first fragment's verdict (zt_frag_follow).
 * A TCP fragment at offset 1 (8 bytes) could rewrite the flags of a first
 * fragment already let through (RFC 1858 3.2, the tiny fragment attack):
 * denied outright.
 */
static __always_inline void zt_pkt_ip4_frag(const struct zt_ip4 *ip, struct zt_pkt *p,
					    __u8 *reason)
{
	__u16 fo = bpf_ntohs(ip->frag_off);

	if (!(fo & (ZT_IP4_MF | ZT_IP4_OFFSET)))
		return;
	p->frag = fo & ZT_IP4_OFFSET ? ZT_FRAG_LATER : ZT_FRAG_FIRST;
	p->frag_id = bpf_ntohs(ip->id);
	p->frag_proto = ip->proto;
	if ((fo & ZT_IP4_OFFSET) == 1 && ip->proto == ZT_IPPROTO_TCP)
		*reason = ZT_REASON_FRAGMENT;
}

/*
 * IPv4 options, as global functions for the same reason as the IPv6 walk
 * below (the loop is verified once, on its own). They are copied into the
 * per-CPU scratch buffer, which holds nothing between runs and is only
 * used again for a reject reply, long after. Returns enum zt_ip4_opts.
 */
static __always_inline int zt_ip4_opts(void *ctx, const bool is_xdp, __u32 off, __u32 len)
{
	struct zt_scratch *s;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&zt_scratch, &zero);
	if (!s)
		return ZT_OPTS_MALFORMED;
	return zt_walk_ip4_opts(ctx, is_xdp, off, len, s->b);
}

__noinline int zt_ip4_opts_xdp(struct xdp_md *ctx, __u32 off, __u32 len)
{
	return zt_ip4_opts(ctx, true, off, len);
}

__noinline int zt_ip4_opts_skb(struct __sk_buff *ctx, __u32 off, __u32 len)
{
	return zt_ip4_opts(ctx, false, off, len);
}

/*
 * The extension-header walk through fragments, as global functions: the
 * verifier checks each once, on its own, and its caller goes on with one
 * state whatever the walk found (inlined, every combination of headers,
 * fragment and routing flags multiplied the states of all that follows,
 * and the tc object came close to the verifier's instruction limit).
 */
__noinline int zt_walk_ip6_xdp(struct xdp_md *ctx, struct zt_ip6_chain *c)
{
	if (!c)
		return ZT_WALK_TRUNCATED;
	return zt_walk_ip6_ext(ctx, true, true, c);
}

__noinline int zt_walk_ip6_skb(struct __sk_buff *ctx, struct zt_ip6_chain *c)
{
	if (!c)
		return ZT_WALK_TRUNCATED;
	return zt_walk_ip6_ext(ctx, false, true, c);
}

/*
 * IPv6 extension headers, up to the L4 header; returns a deny reason (for
 * a packet to a resource) or 0, and sets P->srcroute for a routing header
 * with segments left (or a chain too long to see its end). Walks through a Fragment header: a first
 * fragment (offset 0, M) is classified by its ports like a whole datagram
 * (RFC 8200 4.5: it carries the whole header chain), a later one follows
 * its first fragment (zt_frag_follow), an atomic fragment (offset 0, no M)
 * is a whole datagram. A chain too long or too short to read to its end is
 * denied.
 */
static __always_inline __u8 zt_pkt_ip6_ext(void *ctx, const bool is_xdp, struct zt_pkt *p)
{
	struct zt_ip6_chain c = { .off = p->l4off, .nh = p->l4proto };
	int w = is_xdp ? zt_walk_ip6_xdp(ctx, &c) : zt_walk_ip6_skb(ctx, &c);

	if (c.fragment) {
		p->frag_id = c.frag_id;
		p->frag_proto = c.frag_nh;
	}
	if (c.srcroute)
		p->srcroute = 1;
	switch (w) {
	case ZT_WALK_L4:
		p->l4proto = c.nh;
		p->l4off = c.off;
		if (c.more_fragments)
			p->frag = ZT_FRAG_FIRST;
		return 0;
	case ZT_WALK_LATER_FRAGMENT:
		p->l4proto = c.frag_nh;
		p->frag = ZT_FRAG_LATER;
		return 0;
	case ZT_WALK_TOO_LONG:
		/*
		 * The stack walks on where we stopped: a routing header past
		 * our limit would still route the packet. Whatever the
		 * destination, it cannot be told from a source route.
		 */
		p->srcroute = 1;
		return ZT_REASON_MALFORMED;
	default:
		return ZT_REASON_MALFORMED;
	}
}

/*
 * Fixed IP header (VER from zt_parse_link) into P: addresses always (or -1
 * if they cannot be read); then a deny reason in *REASON (0 if fine) for
 * what a resource-bound packet must not be, and P->srcroute for a source
 * route, which is denied whatever the destination. IPv4 options and IPv6
 * extension headers are walked only where there are some: a packet
 * without costs one comparison.
 */
static __always_inline int zt_pkt_ip(void *ctx, const bool is_xdp, int ver, struct zt_pkt *p,
				     __u8 *reason)
{
	*reason = 0;
	if (ver == 4) {
		struct zt_ip4 ip;
		__u32 hlen, tot;
		int r;

		r = zt_parse_ip4(ctx, is_xdp, p->l3off, &ip, &hlen);
		if (r < 0)
			return -1;
		p->src[10] = p->src[11] = 0xff;
		p->dst[10] = p->dst[11] = 0xff;
		__builtin_memcpy(p->src + 12, ip.saddr, 4);
		__builtin_memcpy(p->dst + 12, ip.daddr, 4);
		p->l4proto = ip.proto;
		tot = bpf_ntohs(ip.tot_len);
		if (!r || p->l3off + hlen > p->len || tot < hlen) {
			*reason = ZT_REASON_MALFORMED;
			return 0;
		}
		p->l4off = p->l3off + hlen;
		p->l3end = p->l3off + tot;
		if (p->l3end > p->len)
			p->l3end = p->len;
		if (hlen > sizeof(ip)) {
			__u32 ooff = p->l3off + sizeof(ip), olen = hlen - sizeof(ip);
			int o = is_xdp ? zt_ip4_opts_xdp(ctx, ooff, olen) :
					 zt_ip4_opts_skb(ctx, ooff, olen);

			if (o == ZT_OPTS_SRCROUTE)
				p->srcroute = 1;
			else if (o != ZT_OPTS_OK)
				*reason = ZT_REASON_MALFORMED;
		}
		zt_pkt_ip4_frag(&ip, p, reason);
		return 0;
	} else {
		struct zt_ip6 ip6;
		__u32 plen;
		int r;

		r = zt_parse_ip6(ctx, is_xdp, p->l3off, &ip6);
		if (r < 0)
			return -1;
		p->v6 = 1;
		__builtin_memcpy(p->src, ip6.saddr, 16);
		__builtin_memcpy(p->dst, ip6.daddr, 16);
		p->l4proto = ip6.nexthdr;
		if (!r) {
			*reason = ZT_REASON_MALFORMED;
			return 0;
		}
		p->l4off = p->l3off + sizeof(ip6);
		plen = bpf_ntohs(ip6.plen);
		/* plen 0 is a jumbogram (or GSO): bounded by the packet. */
		p->l3end = plen ? p->l4off + plen : p->len;
		if (p->l3end > p->len)
			p->l3end = p->len;
		switch (p->l4proto) {
		case ZT_IPPROTO_HOPOPTS:
		case ZT_IPPROTO_ROUTING:
		case ZT_IPPROTO_DSTOPTS:
		case ZT_IPPROTO_AH:
		case ZT_IPPROTO_FRAGMENT:
			*reason = zt_pkt_ip6_ext(ctx, is_xdp, p);
		}
		return 0;
	}
}

/* L4 header of a resource-bound packet; returns a deny reason or 0. */
static __always_inline __u8 zt_pkt_l4(void *ctx, const bool is_xdp, struct zt_pkt *p)
{
	if (p->l4proto == ZT_IPPROTO_TCP) {
		struct zt_tcp th;
		__u32 doff, hdr_end;

		if (zt_load(ctx, is_xdp, p->l4off, &th, sizeof(th)))
			return ZT_REASON_MALFORMED;
		doff = (th.doff >> 4) * 4;
		hdr_end = p->l4off + doff;
		if (doff < sizeof(th) || hdr_end > p->len)
			return ZT_REASON_MALFORMED;
		p->sport = bpf_ntohs(th.sport);
		p->dport = bpf_ntohs(th.dport);
		p->seq = bpf_ntohl(th.seq);
		p->ack = bpf_ntohl(th.ack);
		p->tcp_flags = th.flags;
		p->seglen = p->l3end > hdr_end ? p->l3end - hdr_end : 0;
		p->has_ports = 1;
		return 0;
	}
	if (p->l4proto == ZT_IPPROTO_UDP) {
		struct zt_udp uh;

		if (zt_load(ctx, is_xdp, p->l4off, &uh, sizeof(uh)))
			return ZT_REASON_MALFORMED;
		p->sport = bpf_ntohs(uh.sport);
		p->dport = bpf_ntohs(uh.dport);
		p->has_ports = 1;
		return 0;
	}
	if ((!p->v6 && p->l4proto == ZT_IPPROTO_ICMP) ||
	    (p->v6 && p->l4proto == ZT_IPPROTO_ICMPV6)) {
		struct zt_icmp ic;

		if (zt_load(ctx, is_xdp, p->l4off, &ic, sizeof(ic)))
			return ZT_REASON_MALFORMED;
		p->dport = (__u16)ic.type << 8 | ic.code;
		return 0;
	}
	return 0;
}

/* Resource id for the destination in generation GEN, 0 if none. */
static __always_inline __u32 zt_lookup_dst(__u8 gen, const struct zt_pkt *p)
{
	struct zt_res_ref *ref;
	struct zt_addr_key k;
	struct zt_lpm_key lk;

	__builtin_memset(&k, 0, sizeof(k));
	k.gen = gen;
	__builtin_memcpy(k.addr, p->dst, 16);
	ref = bpf_map_lookup_elem(&zt_res_exact, &k);
	if (ref)
		return ref->resource_id;

	__builtin_memset(&lk, 0, sizeof(lk));
	lk.prefixlen = 8 + 128;
	lk.gen = gen;
	__builtin_memcpy(lk.addr, p->dst, 16);
	ref = bpf_map_lookup_elem(&zt_res_prefix, &lk);
	return ref ? ref->resource_id : 0;
}

/*
 * Connector mode: the name resource the source device bound the destination
 * through (zt_dev_binds), 0 if none. Only that device's packets see it.
 */
static __always_inline __u32 zt_lookup_bound(__u8 gen, const struct zt_pkt *p)
{
	struct zt_device_val *dev;
	struct zt_res_ref *ref;
	struct zt_bind_key bk;
	struct zt_addr_key k;

	__builtin_memset(&k, 0, sizeof(k));
	k.gen = gen;
	__builtin_memcpy(k.addr, p->src, 16);
	dev = bpf_map_lookup_elem(&zt_devices, &k);
	if (!dev)
		return 0;
	__builtin_memset(&bk, 0, sizeof(bk));
	bk.device_id = dev->device_id;
	bk.gen = gen;
	__builtin_memcpy(bk.addr, p->dst, 16);
	ref = bpf_map_lookup_elem(&zt_dev_binds, &bk);
	return ref ? ref->resource_id : 0;
}

/* Does the source device hold a grant for RID? (connector mode) */
static __always_inline bool zt_device_granted(__u8 gen, __u32 rid, const struct zt_pkt *p)
{
	struct zt_device_val *dev;
	struct zt_grant_key gk;
	struct zt_addr_key k;

	__builtin_memset(&k, 0, sizeof(k));
	k.gen = gen;
	__builtin_memcpy(k.addr, p->src, 16);
	dev = bpf_map_lookup_elem(&zt_devices, &k);
	if (!dev)
		return false;
	__builtin_memset(&gk, 0, sizeof(gk));
	gk.device_id = dev->device_id;
	gk.resource_id = rid;
	gk.gen = gen;
	return bpf_map_lookup_elem(&zt_grants, &gk) != NULL;
}

/* Is PORT one of the first N of a resource's listed ports? */
static __always_inline bool zt_port_listed(const __u16 *ports, __u8 n, __u16 port)
{
	int i;

#pragma unroll
	for (i = 0; i < ZT_RES_LIST_PORTS; i++)
		if (i < n && ports[i] == port)
			return true;
	return false;
}

/* Protocol and port policy; returns a deny reason or 0. */
static __always_inline __u8 zt_check_l4(__u8 gen, __u32 rid, const struct zt_resource *res,
					const struct zt_pkt *p)
{
	struct zt_port_key pk;

	switch (p->l4proto) {
	case ZT_IPPROTO_TCP:
		if (res->flags & ZT_RES_TCP_ALL)
			return 0;
		if (res->flags & ZT_RES_TCP_LIST)
			return zt_port_listed(res->tcp_ports, res->ntcp, p->dport) ? 0 :
										     ZT_REASON_PORT;
		break;
	case ZT_IPPROTO_UDP:
		if (res->flags & ZT_RES_UDP_ALL)
			return 0;
		if (res->flags & ZT_RES_UDP_LIST)
			return zt_port_listed(res->udp_ports, res->nudp, p->dport) ? 0 :
										     ZT_REASON_PORT;
		break;
	case ZT_IPPROTO_ICMP:
	case ZT_IPPROTO_ICMPV6:
		/*
		 * Only an echo request counts as "ping allowed": replies and
		 * errors towards a resource are not something a client sends.
		 * (ICMP of the wrong family was already rejected by zt_pkt_l4
		 * leaving dport 0, which is no echo request of either kind.)
		 */
		/*
		 * Neighbour solicitation/advertisement to a resource's unicast
		 * address is how the link keeps reaching it (NUD); the kernel
		 * consumes them, no service sees them. Denying them would cut
		 * an on-link IPv6 resource off now and then, ICMP or not.
		 */
		if (p->v6 && p->l4proto == ZT_IPPROTO_ICMPV6 &&
		    (p->dport >> 8 == 135 || p->dport >> 8 == 136))
			return 0;
		if (!(res->flags & ZT_RES_ICMP))
			return ZT_REASON_PROTO;
		if (!p->v6 && p->l4proto == ZT_IPPROTO_ICMP && p->dport == (8 << 8))
			return 0;
		if (p->v6 && p->l4proto == ZT_IPPROTO_ICMPV6 && p->dport == (128 << 8))
			return 0;
		return ZT_REASON_PROTO;
	default:
		return ZT_REASON_PROTO;
	}

	__builtin_memset(&pk, 0, sizeof(pk));
	pk.resource_id = rid;
	pk.port = p->dport;
	pk.proto = p->l4proto;
	pk.gen = gen;
	return bpf_map_lookup_elem(&zt_ports, &pk) ? 0 : ZT_REASON_PORT;
}

/* The zt_frag key of P's datagram. */
static __always_inline void zt_frag_key_of(const struct zt_pkt *p, struct zt_frag_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->src, p->src, 16);
	__builtin_memcpy(k->dst, p->dst, 16);
	k->id = p->frag_id;
	k->proto = p->frag_proto;
}

/*
 * A later fragment: passes (0) only if its datagram's first fragment was
 * allowed to the same resource under the generation still active, less
 * than ZT_FRAG_TIMEOUT_MS ago. First fragment denied, never seen, or not
 * seen yet (out of order): ZT_REASON_FRAGMENT.
 */
static __always_inline __u8 zt_frag_follow(__u8 gen, __u32 rid, const struct zt_pkt *p)
{
	struct zt_frag_val *v;
	struct zt_frag_key k;

	zt_frag_key_of(p, &k);
	v = bpf_map_lookup_elem(&zt_frag, &k);
	if (!v || v->gen != gen || v->resource_id != rid ||
	    bpf_ktime_get_coarse_ns() - v->first_ns > ZT_FRAG_TIMEOUT_MS * 1000000ULL)
		return ZT_REASON_FRAGMENT;
	return 0;
}

/*
 * A first fragment's verdict: allowed, its datagram is remembered for the
 * later fragments; denied, a remembered datagram of the same key (an id
 * reused) is forgotten, so its later fragments are denied too. A denied
 * first fragment only costs a lookup (no LRU update).
 */
static __always_inline void zt_frag_first(__u8 gen, __u32 rid, const struct zt_pkt *p,
					  bool allowed)
{
	struct zt_frag_key k;

	zt_frag_key_of(p, &k);
	if (allowed) {
		struct zt_frag_val v;

		__builtin_memset(&v, 0, sizeof(v));
		v.first_ns = bpf_ktime_get_coarse_ns();
		v.resource_id = rid;
		v.gen = gen;
		bpf_map_update_elem(&zt_frag, &k, &v, BPF_ANY);
	} else if (bpf_map_lookup_elem(&zt_frag, &k)) {
		bpf_map_delete_elem(&zt_frag, &k);
	}
}

static __always_inline void zt_count(__u32 rid, bool allowed, __u32 bytes)
{
	struct zt_counters *c = bpf_map_lookup_elem(&zt_counters, &rid);

	if (!c)
		return;
	/* Per-CPU slot, and programs don't migrate while running: no atomics. */
	if (allowed) {
		c->allowed_packets++;
		c->allowed_bytes += bytes;
	} else {
		c->denied_packets++;
		c->denied_bytes += bytes;
	}
}

/*
 * One per-CPU token bucket (deny events, reject replies and scan events
 * each have one in zt_evbudget), in thousandths of a token so that slow
 * rates still refill. Time is only consumed when it buys at least a
 * thousandth, so frequent calls cannot starve the refill. CFG_RATE and
 * CFG_BURST come from zt_config: rate 0 means DEF_RATE; burst 0 means the
 * rate when a rate is set, DEF_BURST otherwise. Returns true if a token
 * was taken; otherwise counts one in *SUPPRESSED.
 */
static __always_inline bool zt_bucket_take(__u64 *last_ns, __u64 *tokens_milli, __u64 *suppressed,
					   __u32 cfg_rate, __u32 cfg_burst, __u64 def_rate,
					   __u64 def_burst, __u64 now)
{
	__u64 rate = cfg_rate, burst = cfg_burst, cap, el, add;

	if (!rate)
		rate = def_rate;
	if (!burst)
		burst = cfg_rate ? rate : def_burst;
	cap = burst * 1000;

	if (!*last_ns) {
		*tokens_milli = cap;
		*last_ns = now;
	} else if (now > *last_ns) {
		el = now - *last_ns;
		if (el >= 100ULL * 1000000000ULL) {
			add = cap;
		} else {
			/* el < 1e11 ns: (el / 1000) * rate fits in 64 bits. */
			add = el / 1000 * rate / 1000;
		}
		if (add) {
			*tokens_milli += add;
			if (*tokens_milli > cap)
				*tokens_milli = cap;
			*last_ns = now;
		}
	}
	if (*tokens_milli >= 1000) {
		*tokens_milli -= 1000;
		return true;
	}
	(*suppressed)++;
	return false;
}

/* Deny events. */
static __always_inline bool zt_event_budget(const struct zt_config *cfg, struct zt_evbudget *b,
					    __u64 now)
{
	return zt_bucket_take(&b->last_ns, &b->tokens_milli, &b->suppressed, cfg->event_rate,
			      cfg->event_burst, ZT_DEF_EVENT_RATE, ZT_DEF_EVENT_BURST, now);
}

/* Reject replies (RFC 4443 2.4(f): ICMPv6 errors must be rate-limited). */
static __always_inline bool zt_reply_budget(const struct zt_config *cfg, struct zt_evbudget *b,
					    __u64 now)
{
	return zt_bucket_take(&b->reply_last_ns, &b->reply_tokens_milli, &b->replies_suppressed,
			      cfg->reply_rate, cfg->reply_burst, ZT_DEF_REPLY_RATE,
			      ZT_DEF_REPLY_BURST, now);
}

/* Scan events: spoofed sources must not fill the ring buffer with them. */
static __always_inline bool zt_scan_budget(const struct zt_config *cfg, struct zt_evbudget *b,
					   __u64 now)
{
	return zt_bucket_take(&b->scan_last_ns, &b->scan_tokens_milli, &b->scan_suppressed,
			      cfg->scan_event_rate, cfg->scan_event_burst, ZT_DEF_SCAN_EV_RATE,
			      ZT_DEF_SCAN_EV_BURST, now);
}

/* One event into the ring; a full ring is counted in B->ring_lost. */
static __always_inline void zt_emit(struct zt_evbudget *b, const struct zt_pkt *p, __u32 type,
				    __u32 rid, __u8 reason, __u8 action, __u8 hook, __u32 ifindex,
				    __u32 distinct, __u32 window_ms)
{
	struct zt_event *e;

	e = bpf_ringbuf_reserve(&zt_events, sizeof(*e), 0);
	if (!e) {
		b->ring_lost++;
		return;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->type = type;
	e->resource_id = rid;
	__builtin_memcpy(e->src, p->src, 16);
	__builtin_memcpy(e->dst, p->dst, 16);
	e->sport = p->sport;
	e->dport = p->dport;
	e->l4proto = p->l4proto;
	e->reason = reason;
	e->action = action;
	e->hook = hook;
	e->ifindex = ifindex;
	e->distinct_ports = distinct;
	e->window_ms = window_ms;
	bpf_ringbuf_submit(e, 0);
}

/*
 * The scan detector's per-CPU memo (zt_evbudget): true if this CPU already
 * counted P's (source, resource, port) in the current window, so the
 * shared entry need not be touched. A miss changes nothing: the full
 * comparison means a collision can only cost a lookup, never hide a port.
 */
static __always_inline bool zt_scan_memo_hit(const struct zt_evbudget *b, const struct zt_pkt *p,
					     __u32 rid, __u64 now)
{
	__u64 src[2];

	__builtin_memcpy(src, p->src, 16);
	return now < b->scan_seen_until_ns && b->scan_seen_rid == rid &&
	       b->scan_seen_port == p->dport && b->scan_seen_src[0] == src[0] &&
	       b->scan_seen_src[1] == src[1];
}

static __always_inline void zt_scan_memo_set(struct zt_evbudget *b, const struct zt_pkt *p,
					     __u32 rid, __u64 until)
{
	__builtin_memcpy(b->scan_seen_src, p->src, 16);
	b->scan_seen_rid = rid;
	b->scan_seen_port = p->dport;
	b->scan_seen_until_ns = until;
}

/*
 * Scan detector: distinct denied destination ports per (source, resource)
 * in a window; crossing the threshold raises one event per window, outside
 * the deny-event rate limit (a scan is exactly what floods it) but under
 * its own, smaller one: spoofed sources are free, and each would otherwise
 * be worth an event. A scan the budget suppresses counts as reported.
 * A port this CPU just counted (the memo) costs no shared-map work: a
 * flood of one denied flow touches the LRU entry once per window per CPU.
 */
static __always_inline void zt_scan_track(const struct zt_config *cfg, struct zt_evbudget *b,
					  const struct zt_pkt *p, __u32 rid, __u8 hook,
					  __u32 ifindex, __u64 now)
{
	__u64 window_ns = (__u64)(cfg->scan_window_ms ?: ZT_DEF_SCAN_WINDOW_MS) * 1000000ULL;
	__u32 threshold = cfg->scan_threshold ?: ZT_DEF_SCAN_THRESHOLD;
	__u64 mul = cfg->scan_key_mul ?: ZT_SCAN_KEY_MUL_DEFAULT, slot;
	struct zt_scan_val *v;
	struct zt_scan_key k;

	if (zt_scan_memo_hit(b, p, rid, now))
		return;
	__builtin_memset(&k, 0, sizeof(k));
	__builtin_memcpy(k.src, p->src, 16);
	k.resource_id = rid;
	v = bpf_map_lookup_elem(&zt_scan, &k);
	if (!v) {
		struct zt_scan_val nv;

		__builtin_memset(&nv, 0, sizeof(nv));
		nv.window_start_ns = now;
		nv.key = mul;
		bpf_map_update_elem(&zt_scan, &k, &nv, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&zt_scan, &k);
		if (!v)
			return;
	}
	/*
	 * A set filled under another key (the daemon restarted) would count
	 * each port again under its new bit: start the window afresh. A
	 * window another CPU started a tick ahead of this CPU's clock
	 * (zt_deny_clock may lag one tick) is still open, not a wrap-around.
	 */
	if ((now > v->window_start_ns && now - v->window_start_ns > window_ns) || v->key != mul) {
		v->window_start_ns = now;
		v->distinct = 0;
		v->reported = 0;
		v->key = mul;
		__builtin_memset(v->seen, 0, sizeof(v->seen));
	}
	/*
	 * The port's bit: keyed multiply-add (zt_config.scan_key_*), so that
	 * ports chosen to collide (p, p + 1024, ... under port & 1023) are no
	 * better than any others, then a xorshift-multiply mix. Plain
	 * multiply-add-shift keeps the structure of an arithmetic series:
	 * 16 ports 1024 apart fell into 10 bits or fewer (no scan) under
	 * 0.5% of keys; mixed, under none of 200,000.
	 */
	slot = mul * p->dport + cfg->scan_key_add;
	slot ^= slot >> 29;
	slot = (slot * ZT_SCAN_MIX_MUL) >> (64 - ZT_SCAN_SET_BITS);
	if (!(v->seen[slot >> 6] & (1ULL << (slot & 63)))) {
		v->seen[slot >> 6] |= 1ULL << (slot & 63);
		v->distinct++;
	}
	zt_scan_memo_set(b, p, rid, v->window_start_ns + window_ns);
	if (v->distinct > threshold && !v->reported) {
		v->reported = 1;
		if (zt_scan_budget(cfg, b, now))
			zt_emit(b, p, ZT_EV_SCAN, rid, 0, 0, hook, ifindex, v->distinct,
				window_ns / 1000000);
	}
}

/*
 * The deny path's clock, per CPU: the coarse clock, read only when the
 * jiffy changed. The coarse clock only moves at a tick, so this is the
 * value it would return. A tick bumps jiffies_64 a moment before the
 * timekeeper: a reading that has not moved yet is not kept for the new
 * jiffy (the next packet reads again), so a stale value is at most a
 * tick old and rare (the scan window tolerates it: zt_scan_track).
 * bpf_jiffies64() is one load (the verifier inlines it); the helper call
 * it saves was ~6 ns of a denied packet's ~60 under a flood.
 */
static __always_inline __u64 zt_deny_clock(struct zt_evbudget *b)
{
	__u64 j = bpf_jiffies64(), ns;

	if (j != b->clock_jiffies) {
		ns = bpf_ktime_get_coarse_ns();
		if (ns != b->clock_ns)
			b->clock_jiffies = j;
		b->clock_ns = ns;
	}
	return b->clock_ns;
}

/*
 * A packet to resource RID (0: none, connector default deny) is denied for
 * REASON: counted, fed to the scan detector if its ports are known,
 * reported under the event budget, and dropped or, in reject mode, answered.
 */
static __always_inline int zt_deny(void *ctx, const bool is_xdp, const bool l3,
				   const bool egress, const __u8 hook,
				   const struct zt_config *cfg, const struct zt_resource *res,
				   struct zt_pkt *p, __u32 rid, __u8 reason)
{
	__u8 action = ZT_ACT_DROP;
	struct zt_evbudget *b;
	__u32 zero = 0;
	__u64 now;

	zt_count(rid, false, p->len);
	b = bpf_map_lookup_elem(&zt_evbudget, &zero);
	if (!b)
		return zt_verdict_drop(is_xdp);
	now = zt_deny_clock(b);
	if (rid && p->has_ports)
		zt_scan_track(cfg, b, p, rid, hook, zt_ifindex(ctx, is_xdp), now);

	/*
	 * Reject only what has a meaningful answer: a TCP segment that is
	 * not itself a reset, or a UDP datagram, whose headers we parsed.
	 * Malformed packets, later fragments, ICMP and other protocols are
	 * dropped even in reject mode (answering garbage helps nobody, and
	 * an ICMP error about an ICMP message is forbidden by RFC 1122).
	 * Nor is anything sent to or from a group address answered, and
	 * the answers are rate-limited: the reply budget, when empty, turns
	 * a reject into a drop (a spoofed flood is not reflected 1:1).
	 */
	if (res && res->deny_mode == ZT_DENY_REJECT && p->has_ports &&
	    !(p->l4proto == ZT_IPPROTO_TCP && (p->tcp_flags & ZT_TCP_RST)) &&
	    zt_may_reply(p) && zt_reply_budget(cfg, b, now))
		action = ZT_ACT_REJECT;

	if (zt_event_budget(cfg, b, now))
		zt_emit(b, p, ZT_EV_DENY, rid, reason, action, hook, zt_ifindex(ctx, is_xdp), 0, 0);

	if (action == ZT_ACT_REJECT)
		return zt_reject(ctx, is_xdp, l3, egress, p);
	return zt_verdict_drop(is_xdp);
}

/*
 * Policy for a packet to resource RID (RES) of generation GEN: a deny
 * reason, or 0 to let it through. A later fragment follows its first
 * fragment; a first fragment is classified by its ports and its verdict
 * recorded for the rest of its datagram.
 */
static __always_inline __u8 zt_decide(void *ctx, const bool is_xdp, const struct zt_config *cfg,
				      __u8 gen, __u32 rid, const struct zt_resource *res,
				      struct zt_pkt *p, __u8 reason)
{
	if (p->frag == ZT_FRAG_LATER)
		return reason ?: zt_frag_follow(gen, rid, p);
	if (!reason)
		reason = zt_pkt_l4(ctx, is_xdp, p);
	if (!reason && (cfg->flags & ZT_CFG_CHECK_DEVICE) && !zt_device_granted(gen, rid, p))
		reason = ZT_REASON_DEVICE;
	if (!reason)
		reason = zt_check_l4(gen, rid, res, p);
	if (p->frag == ZT_FRAG_FIRST)
		zt_frag_first(gen, rid, p, !reason);
	return reason;
}

/*
 * The whole decision for one packet. is_xdp, l3, egress and hook are
 * compile-time constants at each entry point.
 */
static __always_inline int zt_classify(void *ctx, const bool is_xdp, const bool l3,
				       const bool egress, const __u8 hook)
{
	const struct zt_resource *res;
	const struct zt_config *cfg;
	struct zt_pkt p;
	__u32 zero = 0, rid, idx;
	__u8 gen, reason = 0;
	int ver;

	cfg = bpf_map_lookup_elem(&zt_config, &zero);
	if (!cfg)
		return zt_verdict_pass(is_xdp);
	/* Read once: every lookup of this packet uses the same generation. */
	gen = cfg->active_gen & 1;

	__builtin_memset(&p, 0, sizeof(p));
	p.len = zt_pkt_len(ctx, is_xdp);
	ver = zt_parse_link(ctx, is_xdp, l3, &p.l3off, &p.l2_group);
	if (ver < 0)
		return zt_verdict_pass(is_xdp);
	if (zt_pkt_ip(ctx, is_xdp, ver, &p, &reason) < 0)
		return zt_verdict_pass(is_xdp);

	rid = 0;
	if (cfg->flags & ZT_CFG_CHECK_DEVICE)
		rid = zt_lookup_bound(gen, &p);
	if (!rid)
		rid = zt_lookup_dst(gen, &p);
	/*
	 * A source route (IPv4 LSRR/SSRR, IPv6 routing header with segments
	 * left): the destination in the header is only the next hop, so
	 * what it finally reaches cannot be known here. Denied whatever that
	 * hop is (fail closed), counted under it if it is a resource, and
	 * never answered.
	 */
	if (p.srcroute)
		return zt_deny(ctx, is_xdp, l3, egress, hook, cfg, NULL, &p,
			       rid < ZT_MAX_RESOURCES ? rid : 0, ZT_REASON_SRCROUTE);
	if (!rid) {
		if (!(cfg->flags & ZT_CFG_DEFAULT_DENY))
			return zt_verdict_pass(is_xdp);
		/*
		 * The connector forwards only to resources: anything else a
		 * device sends is dropped and reported (resource id 0).
		 */
		return zt_deny(ctx, is_xdp, l3, egress, hook, cfg, NULL, &p, 0,
			       ZT_REASON_NO_RESOURCE);
	}
	/* A reference to an id out of range is a broken policy: fail closed. */
	if (rid >= ZT_MAX_RESOURCES)
		return zt_verdict_drop(is_xdp);
	idx = (__u32)gen * ZT_MAX_RESOURCES + rid;
	res = bpf_map_lookup_elem(&zt_resources, &idx);
	if (!res || !(res->flags & ZT_RES_PRESENT))
		return zt_verdict_drop(is_xdp);

	reason = zt_decide(ctx, is_xdp, cfg, gen, rid, res, &p, reason);
	if (!reason) {
		zt_count(rid, true, p.len);
		return zt_verdict_pass(is_xdp);
	}
	return zt_deny(ctx, is_xdp, l3, egress, hook, cfg, res, &p, rid, reason);
}

#endif /* ZT_CORE_H */
