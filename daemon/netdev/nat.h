/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The connector's packet surgery on IPv4 packets, in place: parse the
 * 5-tuple, rewrite the destination (fake IP -> real address, toward the
 * resource) or the source (real -> fake, on the way back), and clamp the
 * TCP MSS. Checksums are updated incrementally (RFC 1624, eqn. 3): the IP
 * header's, and the TCP/UDP checksum where the changed bytes are covered by
 * its pseudo-header; ICMP has no pseudo-header, so an ICMP echo only needs
 * the IP checksum.
 *
 * ICMP errors (destination unreachable, time exceeded, parameter problem)
 * quote the header of the packet that caused them, which travelled the
 * other way. Its addresses are rewritten along with the outer ones, so the
 * receiving host matches the error to its socket: rewriting the outer
 * source also rewrites the quoted packet's destination (and its IP and L4
 * checksums, and the ICMP checksum that covers them), and rewriting the
 * outer destination also rewrites the quoted source.
 *
 * Fragments: only the first fragment carries the L4 header. Of a later
 * fragment only the IP header is touched. An L4 checksum covers the whole
 * datagram, but the update only depends on the changed bytes, so fixing it
 * in the first fragment is right.
 *
 * Every function validates what it reads (version, IHL, total length
 * against the buffer, L4 header within the total length) and never reads
 * or writes outside [PKT, PKT + LEN). A buffer longer than the IP total
 * length is fine (bytes past it are ignored); a shorter one is refused.
 * Malformed input returns -EINVAL and the packet is unchanged.
 */
#ifndef ZT_NAT_H
#define ZT_NAT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ztgate/wire.h"		/* ZT_TCP_*: TCP flags, shared with BPF */

/*
 * A flow's addresses and ports. Ports are in host order. For an ICMP echo
 * request or reply both ports hold the echo identifier (that is what tells
 * one ping from another); for other ICMP messages and where the L4 header
 * is absent they are 0.
 */
struct zt_tuple {
	uint8_t proto;			/* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, ... */
	struct in_addr src, dst;
	uint16_t sport, dport;
};

struct zt_pkt_info {
	struct zt_tuple t;		/* the packet's own */
	uint16_t ip_len;		/* the IP total length: bytes for counters */
	uint16_t l4_off;		/* offset of the L4 header; 0 when absent */
	bool fragment;			/* MF set or offset non-zero */
	bool has_l4;			/* the L4 header is in this packet (ports valid) */
	uint8_t tcp_flags;		/* TCP: ZT_TCP_* */
	uint8_t icmp_type, icmp_code;	/* ICMP */
	/*
	 * ICMP error: the quoted packet's tuple (it travelled the other way:
	 * a reply's quoted destination is the real address the device sent
	 * to). Its ports are 0 if the quote is too short to hold them.
	 */
	bool icmp_error;
	struct zt_tuple inner;
};

/*
 * Parse an IPv4 packet. Fills *INFO; returns 0, or -EINVAL when the packet
 * is not well-formed IPv4 (a truncated L4 header in a first fragment, a
 * truncated quoted header in an ICMP error included), -EPROTONOSUPPORT for
 * IPv6.
 */
int zt_pkt_parse(const uint8_t *pkt, size_t len, struct zt_pkt_info *info);

/*
 * Toward the resource: the destination becomes NEW_DST (network order),
 * and in an ICMP error the quoted packet's source too. Returns 0 or
 * -EINVAL (the packet is then unchanged).
 */
int zt_nat_rewrite_dst(uint8_t *pkt, size_t len, struct in_addr new_dst);

/*
 * Back toward the device (un-DNAT a reply): the source becomes NEW_SRC,
 * and in an ICMP error the quoted packet's destination too. An error sent
 * by a router on the way (time exceeded, host unreachable) thus also
 * appears to come from the fake IP: the private network's topology stays
 * private, and the device's tunnel accepts it like any reply. Find the
 * fake IP by zt_pkt_parse(): the real address is INFO.inner.dst for an
 * ICMP error and INFO.t.src otherwise. Returns 0 or -EINVAL.
 */
int zt_nat_rewrite_src(uint8_t *pkt, size_t len, struct in_addr new_src);

/*
 * Lower the MSS option of a TCP SYN (or SYN-ACK) to MSS if it is larger,
 * fixing the TCP checksum. Returns 1 if it was lowered, 0 if nothing was
 * to do (not TCP, not a SYN, no MSS option, already small enough, a later
 * fragment), -EINVAL for a malformed packet or options list.
 */
int zt_tcp_clamp_mss(uint8_t *pkt, size_t len, uint16_t mss);

#endif
