/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * lib/wire.h: on-the-wire header layouts for the BPF programs (Ethernet,
 * VLAN, IPv4, IPv6 and its extension headers, TCP, UDP, ICMP, checksum
 * pseudo-headers), the ethertypes and parser limits only BPF needs, and the
 * classifier's parsed view of a packet (struct zt_pkt). The numbers
 * userspace shares (IP protocols, TCP flags, message types) come from
 * ztgate/wire.h, included here. Used by every program, through lib/parse.h,
 * lib/core.h and lib/reply.h.
 *
 * Our own plain structs rather than vmlinux.h's: wire formats never move,
 * so they need no CO-RE relocations, and vmlinux.h's iphdr hides its
 * addresses in a union and its version/ihl in bitfields.
 */
#ifndef ZT_WIRE_H
#define ZT_WIRE_H

#include "ztgate/wire.h"

#define ZT_ETH_P_IP	0x0800
#define ZT_ETH_P_IPV6	0x86DD
#define ZT_ETH_P_8021Q	0x8100
#define ZT_ETH_P_8021AD	0x88A8

#define ZT_MAX_VLAN	2	/* 802.1ad + 802.1Q */
#define ZT_MAX_L2LEN	(14 + 4 * ZT_MAX_VLAN)
#define ZT_MAX_EXTHDR	6	/* IPv6 extension headers walked before giving up */

/* IPv4 options (RFC 791): at most 40 bytes (IHL 15), type then length. */
#define ZT_IP4_MAX_OPTLEN	40
#define ZT_IPOPT_EOL		0	/* end of options list: the rest is padding */
#define ZT_IPOPT_NOP		1	/* one byte, no length */
#define ZT_IPOPT_LSRR		131	/* loose source and record route */
#define ZT_IPOPT_SSRR		137	/* strict source and record route */

struct zt_eth {
	__u8 dst[6];
	__u8 src[6];
	__be16 proto;
};

struct zt_vlan {
	__be16 tci;
	__be16 proto;
};

struct zt_ip4 {
	__u8 ver_ihl;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 proto;
	__u16 check;
	__u8 saddr[4];
	__u8 daddr[4];
};

struct zt_ip6 {
	__be32 vtcfl;
	__be16 plen;
	__u8 nexthdr;
	__u8 hop;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct zt_ip6_ext {
	__u8 nexthdr;
	__u8 len;
	__u8 type;		/* routing header: routing type */
	__u8 segs_left;		/* routing header: segments left */
};

struct zt_tcp {
	__be16 sport;
	__be16 dport;
	__be32 seq;
	__be32 ack;
	__u8 doff;		/* data offset << 4 */
	__u8 flags;
	__be16 win;
	__u16 check;
	__be16 urg;
};

struct zt_udp {
	__be16 sport;
	__be16 dport;
	__be16 len;
	__u16 check;
};

struct zt_icmp {
	__u8 type;
	__u8 code;
	__u16 check;
	__be32 rest;
};

/* Pseudo-headers for the TCP and ICMPv6 checksums. */
struct zt_pseudo4 {
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 zero;
	__u8 proto;
	__be16 len;
};

struct zt_pseudo6 {
	__u8 saddr[16];
	__u8 daddr[16];
	__be32 len;
	__u8 zero[3];
	__u8 nexthdr;
};

/* What the classifier learned about one packet. Offsets are absolute. */
struct zt_pkt {
	__u8 src[16];		/* IPv6 or IPv4-mapped */
	__u8 dst[16];
	__u32 len;		/* whole packet */
	__u32 l3off;		/* = length of the link header */
	__u32 l4off;
	__u32 l3end;		/* end of the IP datagram (total length), <= len */
	__u32 seq;		/* TCP, host order */
	__u32 ack;
	__u32 seglen;		/* TCP payload length */
	__u16 sport;		/* host order */
	__u16 dport;		/* host order; ICMP: type << 8 | code */
	__u8 l4proto;
	__u8 v6;
	__u8 tcp_flags;
	__u8 has_ports;		/* TCP/UDP header parsed */
	__u8 l2_group;		/* link-layer destination is broadcast/multicast */
	__u8 frag;		/* ZT_FRAG_*: where this packet sits in a datagram */
	__u8 frag_proto;	/* zt_frag_key.proto */
	__u8 srcroute;		/* IPv4 LSRR/SSRR, IPv6 routing header with segments left */
	__u32 frag_id;		/* zt_frag_key.id */
};

#define ZT_FRAG_NONE	0	/* a whole datagram */
#define ZT_FRAG_FIRST	1	/* offset 0, more fragments follow: the ports are here */
#define ZT_FRAG_LATER	2	/* a non-zero offset: no L4 header */

#endif /* ZT_WIRE_H */
