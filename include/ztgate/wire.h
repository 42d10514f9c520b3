/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ztgate/wire.h: the on-the-wire numbers BPF and userspace share, each
 * defined here and nowhere else. Plain integer #defines, no types, so any
 * layer can include it: the BPF programs (through bpf/lib/wire.h, and
 * zt_uplink.bpf.c through ztgate/uplink.h), the daemon (tunnel/wire.h,
 * relay/proto.h, netdev/nat.h, ztgate/maps.h) and the tests.
 *
 * What is here: IP protocol numbers, IPv4 fragment bits, TCP flags; the
 * tunnel's and the relay's message types and sizes; STUN's header as the
 * uplink guard recognises it on a relay's port; the DNS numbers the fast
 * path's answers share with the daemon's.
 *
 * Where userspace derives a size from its parts (the tunnel's messages
 * from the Noise sizes, the relay's from its fields), the derivation stays
 * in the userspace header with a _Static_assert that it equals the number
 * here: the uplink guard (BPF) checks exactly the sizes the daemon parses.
 */
#ifndef ZTGATE_WIRE_H
#define ZTGATE_WIRE_H

/* IP protocol numbers (IANA): zt_port_key.proto and zt_event.l4proto hold them. */
#define ZT_IPPROTO_HOPOPTS	0
#define ZT_IPPROTO_ICMP		1
#define ZT_IPPROTO_TCP		6
#define ZT_IPPROTO_UDP		17
#define ZT_IPPROTO_ROUTING	43
#define ZT_IPPROTO_FRAGMENT	44
#define ZT_IPPROTO_AH		51
#define ZT_IPPROTO_ICMPV6	58
#define ZT_IPPROTO_DSTOPTS	60

/* IPv4 flags and fragment offset (the 16 bits at offset 6, host order). */
#define ZT_IP4_DF		0x4000
#define ZT_IP4_MF		0x2000
#define ZT_IP4_OFFSET		0x1fff	/* in 8-byte units */

/* TCP flags as in the header's 13th byte. */
#define ZT_TCP_FIN		0x01
#define ZT_TCP_SYN		0x02
#define ZT_TCP_RST		0x04
#define ZT_TCP_PSH		0x08
#define ZT_TCP_ACK		0x10

/*
 * The tunnel's messages (docs/TUNNEL.md): the first byte of the UDP payload
 * is the type, and each type has one size (transport: a lower bound). The
 * daemon's codec is daemon/tunnel/wire.h (ZT_TW_*), the uplink guard's check
 * zt_uplink.bpf.c.
 */
#define ZT_MSG_INITIATION	1
#define ZT_MSG_RESPONSE		2
#define ZT_MSG_COOKIE_REPLY	3
#define ZT_MSG_TRANSPORT	4
#define ZT_MSG_INITIATION_LEN	148	/* sender 8, Noise message 1 108, mac1 16, mac2 16 */
#define ZT_MSG_RESPONSE_LEN	92	/* sender, receiver 12, Noise message 2 48, macs 32 */
#define ZT_MSG_COOKIE_REPLY_LEN	64	/* receiver 8, nonce 24, sealed cookie 32 */
#define ZT_MSG_TRANSPORT_HEADER_LEN 16	/* type, 3 zero, receiver u32, counter u64 */
/* The header and an empty payload sealed (its 16-byte tag): a keepalive. */
#define ZT_MSG_TRANSPORT_MIN	(ZT_MSG_TRANSPORT_HEADER_LEN + 16)

/*
 * The relay's messages (docs/RELAY.md): type (0x10-0x17), three zero bytes,
 * then the type's fields; each type has one size (register: one per number
 * of accepted keys; send/recv: a lower bound). The daemon's codec is
 * daemon/relay/proto.h (ZT_RELAY_*), the guard's check (relay mode)
 * zt_uplink.bpf.c.
 */
#define ZT_RELAY_MSG_HELLO		0x10
#define ZT_RELAY_MSG_CHALLENGE		0x11
#define ZT_RELAY_MSG_REGISTER		0x12
#define ZT_RELAY_MSG_REGISTERED		0x13
#define ZT_RELAY_MSG_SEND		0x14
#define ZT_RELAY_MSG_RECV		0x15
#define ZT_RELAY_MSG_KEEPALIVE		0x16
#define ZT_RELAY_MSG_ERROR		0x17
#define ZT_RELAY_MSG_HDR_LEN		4	/* type, 3 zero bytes */
#define ZT_RELAY_MSG_HELLO_LEN		96	/* padded so that the challenge is smaller */
#define ZT_RELAY_MSG_CHALLENGE_LEN	64
#define ZT_RELAY_MSG_REGISTER_MIN	70	/* 4 + key 32 + cookie 16 + n 2 + mac 16 ... */
#define ZT_RELAY_MSG_REGISTER_PER_KEY	32	/* ... + one key per accepted peer */
#define ZT_RELAY_MSG_REGISTERED_LEN	45	/* 4 + index 4 + endpoint 19 + lifetime 2 + mac */
#define ZT_RELAY_MSG_KEEPALIVE_LEN	52	/* 4 + key 32 + mac 16 */
#define ZT_RELAY_MSG_ERROR_LEN		8	/* 4 + code u16 + 2 zero */
#define ZT_RELAY_MSG_FWD_HDR_LEN	36	/* send/recv: 4 + key 32, then the datagram */
#define ZT_RELAY_MSG_FWD_MIN		(ZT_RELAY_MSG_FWD_HDR_LEN + 1)	/* a datagram of one byte */

/*
 * STUN (RFC 8489), which a relay's port carries too: a 20-byte header whose
 * type has its top two bits clear and whose cookie is this. The daemon's
 * codec is daemon/relay/stun.h.
 */
#define ZT_STUN_HEADER_LEN	20
#define ZT_STUN_MAGIC		0x2112a442u

/*
 * DNS (RFC 1035, EDNS0 RFC 6891), which the client's DNS fast path
 * (zt_dns.bpf.c) answers byte for byte as the daemon's codec
 * (daemon/dns/codec.h) does: the header, its flag bits, and the record
 * types and class the fast path reads and writes.
 */
#define ZT_DNS_HEADER_LEN	12
#define ZT_DNS_F_QR		0x8000
#define ZT_DNS_F_OPCODE		0x7800
#define ZT_DNS_F_AA		0x0400
#define ZT_DNS_F_TC		0x0200
#define ZT_DNS_F_RD		0x0100
#define ZT_DNS_F_RA		0x0080
#define ZT_DNS_F_AD		0x0020
#define ZT_DNS_F_CD		0x0010
#define ZT_DNS_F_RCODE		0x000f
#define ZT_DNS_TYPE_A		1
#define ZT_DNS_TYPE_OPT		41
#define ZT_DNS_CLASS_IN		1

#endif /* ZTGATE_WIRE_H */
