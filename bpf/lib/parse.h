/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * lib/parse.h: the one packet parser of the BPF programs: the link header
 * (Ethernet with up to ZT_MAX_VLAN tags, or none on an L3 device), the
 * fixed IPv4 and IPv6 headers, IPv4 options, and the IPv6 extension-header
 * chain.
 *
 * Used by the classification core (lib/core.h, behind the tc and XDP entry
 * points) and by the uplink guard (zt_uplink.bpf.c). The DNS fast path
 * (zt_dns.bpf.c) does not use it: it takes one fixed shape only (Ethernet
 * on lo, IPv4 without options), which it reads with a single load.
 *
 * The parser reports what it found and nothing more: what a short header,
 * a fragment or an over-long chain means (deny, pass) is each caller's to
 * decide. Bytes are copied with zt_load() (lib/ctx.h); is_xdp, l3 and
 * through_frag are compile-time constants at every call site, so each
 * program gets only the code for its own case.
 */
#ifndef ZT_PARSE_H
#define ZT_PARSE_H

#include "lib/ctx.h"
#include "lib/wire.h"

/*
 * The link header. L3 (a device without one, such as a TUN): the IP header
 * starts at 0 and its version nibble, not skb->protocol, says which (it is
 * what the IP layer will act on). Otherwise Ethernet, skipping up to
 * ZT_MAX_VLAN 802.1Q/802.1ad tags; *L2_GROUP is the I/G bit of the
 * destination MAC (a link-layer broadcast or multicast frame).
 * Sets *L3OFF and returns the IP version (4 or 6), or -1 if the packet is
 * no IP or the headers cannot be read.
 */
static __always_inline int zt_parse_link(void *ctx, const bool is_xdp, const bool l3,
					 __u32 *l3off, __u8 *l2_group)
{
	struct zt_eth eth;
	__u16 proto;
	__u32 off;
	int i;

	if (l3) {
		__u8 v;

		if (zt_load(ctx, is_xdp, 0, &v, 1))
			return -1;
		*l3off = 0;
		v >>= 4;
		return v == 4 || v == 6 ? v : -1;
	}

	if (zt_load(ctx, is_xdp, 0, &eth, sizeof(eth)))
		return -1;
	proto = bpf_ntohs(eth.proto);
	off = sizeof(eth);
	*l2_group = eth.dst[0] & 1;
#pragma unroll
	for (i = 0; i < ZT_MAX_VLAN; i++) {
		struct zt_vlan vh;

		if (proto != ZT_ETH_P_8021Q && proto != ZT_ETH_P_8021AD)
			break;
		if (zt_load(ctx, is_xdp, off, &vh, sizeof(vh)))
			return -1;
		proto = bpf_ntohs(vh.proto);
		off += sizeof(vh);
	}
	*l3off = off;
	if (proto == ZT_ETH_P_IP)
		return 4;
	if (proto == ZT_ETH_P_IPV6)
		return 6;
	return -1;
}

/*
 * The fixed IPv4 header at OFF, copied to *IP, its length (IHL * 4) in
 * *HLEN. Returns 1 if it says version 4 with an IHL of at least 5, 0 if
 * not, -1 if it cannot be read. Nothing else (lengths, fragments) is
 * checked.
 */
static __always_inline int zt_parse_ip4(void *ctx, const bool is_xdp, __u32 off,
					struct zt_ip4 *ip, __u32 *hlen)
{
	if (zt_load(ctx, is_xdp, off, ip, sizeof(*ip)))
		return -1;
	*hlen = (ip->ver_ihl & 0xf) * 4;
	return (ip->ver_ihl >> 4) == 4 && *hlen >= sizeof(*ip);
}

/* What zt_walk_ip4_opts() found in an IPv4 header's options. */
enum zt_ip4_opts {
	ZT_OPTS_OK,		/* walked to their end (or an End of Options List) */
	ZT_OPTS_SRCROUTE,	/* a loose or strict source route (LSRR, SSRR) */
	ZT_OPTS_MALFORMED,	/* unreadable, or an option whose length does not fit */
};

/*
 * The LEN bytes of IPv4 options at OFF (the header's IHL * 4 - 20), copied
 * into BUF (at least ZT_IP4_MAX_OPTLEN + 1 bytes, a map value: the walk
 * indexes it with a variable offset, which the verifier bounds-checks in a
 * map value whatever the program's privileges, unlike on the stack).
 *
 * The walk is the kernel's own (ip_options_compile): End of Options List
 * ends it, NOP is one byte, anything else is type, length (>= 2, within
 * the options). An option the kernel would refuse is ZT_OPTS_MALFORMED
 * (the stack drops such a packet); LSRR or SSRR before that is
 * ZT_OPTS_SRCROUTE: the header's destination is only the next hop. One
 * copy, then a loop of at most ZT_IP4_MAX_OPTLEN short iterations (each
 * moves at least one byte), not unrolled: packets with options are rare,
 * and the verifier walks it in a few thousand instructions.
 */
static __always_inline enum zt_ip4_opts zt_walk_ip4_opts(void *ctx, const bool is_xdp, __u32 off,
							 __u32 len, __u8 *buf)
{
	__u64 i = 0, n;		/* 64-bit: no zero extension for clang to index with */

	if (len > ZT_IP4_MAX_OPTLEN)
		return ZT_OPTS_MALFORMED;
	/*
	 * The copy's length must be bounded in the very register the helper
	 * gets; clang would otherwise pass the unchecked one.
	 */
	asm volatile("" : "+r"(len));
	len &= 0x3f;
	if (!len)
		return ZT_OPTS_OK;
	if (zt_load(ctx, is_xdp, off, buf, len))
		return ZT_OPTS_MALFORMED;
#pragma clang loop unroll(disable)
	for (n = 0; n < ZT_IP4_MAX_OPTLEN; n++) {
		__u64 type, olen;

		if (i >= len || i >= ZT_IP4_MAX_OPTLEN)
			break;
		type = buf[i];
		if (type == ZT_IPOPT_EOL)
			break;
		if (type == ZT_IPOPT_NOP) {
			i++;
			continue;
		}
		/* The length byte must be inside the options, and so must the option. */
		if (i + 1 >= len)
			return ZT_OPTS_MALFORMED;
		olen = buf[i + 1];
		if (olen < 2 || i + olen > len)
			return ZT_OPTS_MALFORMED;
		if (type == ZT_IPOPT_LSRR || type == ZT_IPOPT_SSRR)
			return ZT_OPTS_SRCROUTE;
		i += olen;
	}
	return ZT_OPTS_OK;
}

/*
 * The fixed IPv6 header at OFF, copied to *IP6. Returns 1 if it says
 * version 6, 0 if not, -1 if it cannot be read.
 */
static __always_inline int zt_parse_ip6(void *ctx, const bool is_xdp, __u32 off,
					struct zt_ip6 *ip6)
{
	if (zt_load(ctx, is_xdp, off, ip6, sizeof(*ip6)))
		return -1;
	return (bpf_ntohl(ip6->vtcfl) >> 28) == 6;
}

/* An IPv6 header chain being walked: zt_walk_ip6_ext(). */
struct zt_ip6_chain {
	__u32 off;		/* in: just past the fixed header; out: where the walk stopped */
	__u8 nh;		/* in: the fixed header's next header; out: the header at off */
	__u8 more_fragments;	/* out, through_frag: a first fragment, more to come */
	__u8 fragment;		/* out: a fragment header was read (through_frag) */
	__u8 frag_nh;		/* out, fragment: its next header */
	__u8 srcroute;		/* out: a routing header with segments left > 0 was walked */
	__u32 frag_id;		/* out, fragment: its identification (host order) */
};

/* Where zt_walk_ip6_ext() stopped. */
enum zt_ip6_walk {
	ZT_WALK_L4,		/* on a header that is no extension header: nh at off */
	ZT_WALK_FRAGMENT,	/* on a fragment header (not walking through them) */
	ZT_WALK_LATER_FRAGMENT,	/* a fragment header with a non-zero offset: no L4 header here */
	ZT_WALK_TRUNCATED,	/* a header could not be read */
	ZT_WALK_TOO_LONG,	/* ZT_MAX_EXTHDR headers walked, and another one follows */
};

/*
 * Walk the extension headers from C->nh at C->off: hop-by-hop, routing,
 * destination options and AH are skipped, at most ZT_MAX_EXTHDR of them
 * (their lengths count in 8-byte units, AH's in 4-byte units, RFC 4302).
 * A fragment header stops the walk (ZT_WALK_FRAGMENT), unless THROUGH_FRAG:
 * then a first fragment's header is skipped like the others (it counts
 * towards the limit, and sets C->more_fragments if M is set) and a later
 * fragment's ends the walk (ZT_WALK_LATER_FRAGMENT). An L4 header is only
 * accepted where the walk ended right on it: after ZT_MAX_EXTHDR headers
 * another extension header is ZT_WALK_TOO_LONG.
 *
 * C->off and C->nh are updated when the walk stops on a header (L4,
 * FRAGMENT, TOO_LONG); when it stops on an error (TRUNCATED,
 * LATER_FRAGMENT) they are left as they were. Through a fragment header,
 * C->fragment, frag_nh and frag_id say which datagram the packet belongs
 * to (set for LATER_FRAGMENT too); a routing header with segments left
 * sets C->srcroute (the fixed header's destination is not the last one).
 *
 * The loop is unrolled: six short iterations cost the verifier less as
 * straight code than as a loop it re-walks per state (the uplink guard
 * verifies in 1701 instead of 2701 instructions), and clang unrolls the
 * classifier's copy anyway.
 */
static __always_inline enum zt_ip6_walk zt_walk_ip6_ext(void *ctx, const bool is_xdp,
							const bool through_frag,
							struct zt_ip6_chain *c)
{
	__u32 off = c->off;
	__u8 nh = c->nh;
	int i;

#pragma unroll
	for (i = 0; i < ZT_MAX_EXTHDR; i++) {
		struct zt_ip6_ext ext;
		__u8 frag[8];	/* nexthdr, reserved, offset(13) res(2) M(1), id */
		__u16 fo;

		switch (nh) {
		case ZT_IPPROTO_HOPOPTS:
		case ZT_IPPROTO_ROUTING:
		case ZT_IPPROTO_DSTOPTS:
		case ZT_IPPROTO_AH:
			if (zt_load(ctx, is_xdp, off, &ext, sizeof(ext)))
				return ZT_WALK_TRUNCATED;
			if (nh == ZT_IPPROTO_ROUTING && ext.segs_left)
				c->srcroute = 1;
			if (nh == ZT_IPPROTO_AH)
				off += ((__u32)ext.len + 2) * 4;
			else
				off += ((__u32)ext.len + 1) * 8;
			nh = ext.nexthdr;
			break;
		case ZT_IPPROTO_FRAGMENT:
			if (!through_frag) {
				c->off = off;
				c->nh = nh;
				return ZT_WALK_FRAGMENT;
			}
			if (zt_load(ctx, is_xdp, off, frag, sizeof(frag)))
				return ZT_WALK_TRUNCATED;
			fo = (__u16)frag[2] << 8 | frag[3];
			c->fragment = 1;
			c->frag_nh = frag[0];
			c->frag_id = (__u32)frag[4] << 24 | (__u32)frag[5] << 16 |
				     (__u32)frag[6] << 8 | frag[7];
			if (fo & 0xfff8)
				return ZT_WALK_LATER_FRAGMENT;
			/* M clear at offset 0 is an atomic fragment: a whole datagram. */
			if (fo & 1)
				c->more_fragments = 1;
			off += sizeof(frag);
			nh = frag[0];
			break;
		default:
			c->off = off;
			c->nh = nh;
			return ZT_WALK_L4;
		}
	}
	/* Only accept the L4 header if the walk ended right on it. */
	c->off = off;
	c->nh = nh;
	switch (nh) {
	case ZT_IPPROTO_HOPOPTS:
	case ZT_IPPROTO_ROUTING:
	case ZT_IPPROTO_DSTOPTS:
	case ZT_IPPROTO_AH:
		return ZT_WALK_TOO_LONG;
	case ZT_IPPROTO_FRAGMENT:
		return through_frag ? ZT_WALK_TOO_LONG : ZT_WALK_FRAGMENT;
	}
	return ZT_WALK_L4;
}

#endif /* ZT_PARSE_H */
