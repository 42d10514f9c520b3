/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * lib/reply.h: turn a denied packet into the answer a closed port would
 * give, so the local application fails fast instead of timing out, and
 * nothing is sent towards the resource.
 *
 *   TCP (not RST)  -> RST, RFC 793 "reset generation" rules
 *   UDP            -> ICMP port unreachable (3/3) or ICMPv6 (1/4), quoting
 *                     the original IP header + 8 bytes (IPv6: everything up
 *                     to the end of the UDP header, at most 128 bytes)
 *   anything else  -> dropped (the caller decides, see lib/core.h)
 *
 * Never in answer to a packet to or from a group address (zt_may_reply),
 * and never more than the reply budget allows (lib/core.h).
 *
 * The reply is assembled in a per-CPU scratch buffer at constant offsets,
 * checksummed there with bpf_csum_diff, then copied over the packet by
 * zt_send_back(). It comes from the resource's address with TTL/hop limit
 * 64 and no IP options. The link header is the original one with the MACs
 * swapped (VLAN tags kept), since the reply goes back on the same link.
 */
#ifndef ZT_REPLY_H
#define ZT_REPLY_H

#include "lib/wire.h"
#include "lib/ctx.h"
#include "lib/csum.h"

#define ZT_ICMP6_QUOTE_MAX	128

/*
 * May P be answered at all? Not if it went to a group: IPv4 multicast
 * (224/4), limited broadcast or class E (240/4, which holds
 * 255.255.255.255), IPv6 multicast (ff00::/8), or a link-layer broadcast
 * or multicast frame (a subnet-directed broadcast arrives as one). Not if
 * its source is no single host that could take the answer: unspecified
 * (0/8, ::), loopback (127/8, ::1), multicast, broadcast or class E.
 * RFC 1122 3.2.2 and 4.2.3.10, RFC 4443 2.4(e).
 */
static __always_inline bool zt_may_reply(const struct zt_pkt *p)
{
	if (p->l2_group)
		return false;
	if (!p->v6) {
		__u8 s = p->src[12], d = p->dst[12];

		if (d >= 224)			/* 224/4 multicast, 240/4 incl. broadcast */
			return false;
		if (s == 0 || s == 127 || s >= 224)
			return false;
		return true;
	}
	if (p->dst[0] == 0xff || p->src[0] == 0xff)
		return false;
	{
		__u64 hi, lo;

		__builtin_memcpy(&hi, p->src, 8);
		__builtin_memcpy(&lo, p->src + 8, 8);
		/* :: and ::1 */
		if (!hi && (!lo || lo == bpf_cpu_to_be64(1)))
			return false;
	}
	return true;
}

/* Returns the length of the L3 reply written to b, 0 if none can be built. */
static __always_inline __u32 zt_build_rst(struct zt_pkt *p, __u8 *b)
{
	__u32 iplen = p->v6 ? sizeof(struct zt_ip6) : sizeof(struct zt_ip4);
	struct zt_tcp *th;
	__s64 csum;

	if (p->v6) {
		struct zt_ip6 *ip6 = (void *)b;
		struct zt_pseudo6 ph = {};

		ip6->vtcfl = bpf_htonl(0x60000000);
		ip6->plen = bpf_htons(sizeof(*th));
		ip6->nexthdr = ZT_IPPROTO_TCP;
		ip6->hop = 64;
		__builtin_memcpy(ip6->saddr, p->dst, 16);
		__builtin_memcpy(ip6->daddr, p->src, 16);
		__builtin_memcpy(ph.saddr, p->dst, 16);
		__builtin_memcpy(ph.daddr, p->src, 16);
		ph.len = bpf_htonl(sizeof(*th));
		ph.nexthdr = ZT_IPPROTO_TCP;
		csum = bpf_csum_diff(0, 0, (void *)&ph, sizeof(ph), 0);
		th = (void *)(b + sizeof(struct zt_ip6));
	} else {
		struct zt_ip4 *ip = (void *)b;
		struct zt_pseudo4 ph = {};

		ip->ver_ihl = 0x45;
		ip->tos = 0;
		ip->tot_len = bpf_htons(sizeof(*ip) + sizeof(*th));
		ip->id = 0;
		ip->frag_off = bpf_htons(ZT_IP4_DF);
		ip->ttl = 64;
		ip->proto = ZT_IPPROTO_TCP;
		ip->check = 0;
		__builtin_memcpy(ip->saddr, p->dst + 12, 4);
		__builtin_memcpy(ip->daddr, p->src + 12, 4);
		ip->check = zt_csum_fold(bpf_csum_diff(0, 0, (void *)ip, sizeof(*ip), 0));
		__builtin_memcpy(ph.saddr, p->dst + 12, 4);
		__builtin_memcpy(ph.daddr, p->src + 12, 4);
		ph.proto = ZT_IPPROTO_TCP;
		ph.len = bpf_htons(sizeof(*th));
		csum = bpf_csum_diff(0, 0, (void *)&ph, sizeof(ph), 0);
		th = (void *)(b + sizeof(struct zt_ip4));
	}
	if (csum < 0)
		return 0;

	th->sport = bpf_htons(p->dport);
	th->dport = bpf_htons(p->sport);
	/*
	 * RFC 793: if the offending segment has an ACK, the reset takes its
	 * sequence number from that ACK; otherwise seq 0 and we ACK
	 * everything the segment occupied (payload, SYN and FIN count one).
	 */
	if (p->tcp_flags & ZT_TCP_ACK) {
		th->seq = bpf_htonl(p->ack);
		th->ack = 0;
		th->flags = ZT_TCP_RST;
	} else {
		__u32 acked = p->seq + p->seglen;

		if (p->tcp_flags & ZT_TCP_SYN)
			acked++;
		if (p->tcp_flags & ZT_TCP_FIN)
			acked++;
		th->seq = 0;
		th->ack = bpf_htonl(acked);
		th->flags = ZT_TCP_RST | ZT_TCP_ACK;
	}
	th->doff = 5 << 4;
	th->win = 0;
	th->check = 0;
	th->urg = 0;
	th->check = zt_csum_fold(bpf_csum_diff(0, 0, (void *)th, sizeof(*th), csum));
	return iplen + sizeof(*th);
}

static __always_inline __u32 zt_build_unreach(void *ctx, const bool is_xdp,
					      struct zt_pkt *p, __u8 *b)
{
	__u32 quote = p->l4off - p->l3off + sizeof(struct zt_udp);
	struct zt_icmp *ic;
	__s64 csum;

	if (p->v6) {
		struct zt_ip6 *ip6 = (void *)b;
		struct zt_pseudo6 ph = {};

		/* csum_diff works on whole 32-bit words. */
		if (quote > ZT_ICMP6_QUOTE_MAX)
			quote = ZT_ICMP6_QUOTE_MAX;
		/* Whole 32-bit words; the mask also gives the verifier its bound. */
		quote &= 0xfc;
		if (quote < sizeof(struct zt_ip6) + sizeof(struct zt_udp))
			return 0;
		if (zt_load(ctx, is_xdp, p->l3off, b + sizeof(*ip6) + sizeof(*ic), quote))
			return 0;
		ip6->vtcfl = bpf_htonl(0x60000000);
		ip6->plen = bpf_htons(sizeof(*ic) + quote);
		ip6->nexthdr = ZT_IPPROTO_ICMPV6;
		ip6->hop = 64;
		__builtin_memcpy(ip6->saddr, p->dst, 16);
		__builtin_memcpy(ip6->daddr, p->src, 16);
		__builtin_memcpy(ph.saddr, p->dst, 16);
		__builtin_memcpy(ph.daddr, p->src, 16);
		ph.len = bpf_htonl(sizeof(*ic) + quote);
		ph.nexthdr = ZT_IPPROTO_ICMPV6;
		csum = bpf_csum_diff(0, 0, (void *)&ph, sizeof(ph), 0);
		ic = (void *)(b + sizeof(*ip6));
		ic->type = 1;	/* destination unreachable */
		ic->code = 4;	/* port unreachable */
	} else {
		struct zt_ip4 *ip = (void *)b;

		/* IPv4 header with options (<= 60) + the 8 UDP header bytes. */
		/* 28..68 and 4-aligned by construction; the mask is for the verifier. */
		quote &= 0x7c;
		if (quote < sizeof(struct zt_ip4) + sizeof(struct zt_udp))
			return 0;
		if (zt_load(ctx, is_xdp, p->l3off, b + sizeof(*ip) + sizeof(*ic), quote))
			return 0;
		ip->ver_ihl = 0x45;
		ip->tos = 0;
		ip->tot_len = bpf_htons(sizeof(*ip) + sizeof(*ic) + quote);
		ip->id = 0;
		ip->frag_off = 0;
		ip->ttl = 64;
		ip->proto = ZT_IPPROTO_ICMP;
		ip->check = 0;
		__builtin_memcpy(ip->saddr, p->dst + 12, 4);
		__builtin_memcpy(ip->daddr, p->src + 12, 4);
		ip->check = zt_csum_fold(bpf_csum_diff(0, 0, (void *)ip, sizeof(*ip), 0));
		csum = 0;
		ic = (void *)(b + sizeof(*ip));
		ic->type = 3;	/* destination unreachable */
		ic->code = 3;	/* port unreachable */
	}
	if (csum < 0)
		return 0;
	ic->check = 0;
	ic->rest = 0;
	csum = bpf_csum_diff(0, 0, (void *)ic, sizeof(*ic) + quote, csum);
	if (csum < 0)
		return 0;
	ic->check = zt_csum_fold(csum);
	return (p->v6 ? sizeof(struct zt_ip6) : sizeof(struct zt_ip4)) + sizeof(*ic) + quote;
}

/* Build the reply for P and send it; returns the verdict (drop on failure). */
static __always_inline int zt_reject(void *ctx, const bool is_xdp, const bool l3,
				     const bool egress, struct zt_pkt *p)
{
	__u8 l2[ZT_MAX_L2LEN + 2];
	struct zt_scratch *s;
	__u32 zero = 0, l2len = 0, l3len;

	s = bpf_map_lookup_elem(&zt_scratch, &zero);
	if (!s)
		return zt_verdict_drop(is_xdp);

	if (!l3) {
		__u8 mac[6];

		l2len = p->l3off;
		if (l2len < sizeof(struct zt_eth) || l2len > ZT_MAX_L2LEN)
			return zt_verdict_drop(is_xdp);
		if (zt_load(ctx, is_xdp, 0, l2, l2len))
			return zt_verdict_drop(is_xdp);
		__builtin_memcpy(mac, l2, 6);
		__builtin_memcpy(l2, l2 + 6, 6);
		__builtin_memcpy(l2 + 6, mac, 6);
	}

	if (p->l4proto == ZT_IPPROTO_TCP)
		l3len = zt_build_rst(p, s->b);
	else
		l3len = zt_build_unreach(ctx, is_xdp, p, s->b);
	if (!l3len || l3len > ZT_RB_SIZE)
		return zt_verdict_drop(is_xdp);

	return zt_send_back(ctx, is_xdp, egress, l2, l2len, s->b, l3len);
}

#endif /* ZT_REPLY_H */
