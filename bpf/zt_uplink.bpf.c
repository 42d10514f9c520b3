// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * zt_uplink.bpf.c: the connector's uplink guard, XDP on the interface the
 * tunnel's UDP arrives on (Ethernet, up to two VLAN tags, IPv4 and IPv6).
 *
 * Only UDP datagrams to the tunnel's listen port (zt_uplink_cfg.port; 0
 * turns the guard off) are looked at; everything else passes untouched.
 * For those, the first payload byte is the message type and the UDP
 * payload must have the size docs/TUNNEL.md fixes for it: initiation 148,
 * response 92, cookie reply 64, transport at least 32. Anything else sent
 * to the port is dropped here, before it costs an skb, a socket wakeup and
 * a MAC check in userspace. Initiations are the one message that can make
 * the responder do DH work, so each source address gets a token bucket
 * (zt_uplink_rl, LRU) and initiations over it are dropped.
 *
 * Fragments: a non-first fragment carries no UDP header and passes (its
 * port is unknown). A first fragment to the port passes only for a
 * transport message: handshake messages are at most 148 bytes and are never
 * fragmented by a real sender, while a fragmented one would reach the
 * socket after reassembly unchecked, so it is dropped as malformed.
 *
 * In native mode the guard sees every datagram as it came off the wire. In
 * generic (skb) mode it runs after GRO, so datagrams a socket with UDP_GRO
 * would have coalesced arrive as one; only transport messages are large or
 * frequent enough for that to matter, and they need only a lower bound.
 *
 * The headers up to UDP are read by the shared parser (lib/parse.h), the
 * message sizes are ztgate/wire.h's (the daemon's codecs assert theirs
 * against them), the defaults ztgate/defaults.h's. Packet bytes are copied
 * with bpf_xdp_load_bytes, which does every bounds check in the helper and
 * works on multi-buffer frames too. The loader is daemon/dataplane/uplink.c.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lib/parse.h"
#include "ztgate/uplink.h"

/* Pinned by name under the pin root the loader chooses (daemon/dataplane/uplink.c). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zt_uplink_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zt_uplink_cfg SEC(".maps");

/* The relays a tunnel-mode peer registers with (ztgate/uplink.h); filled by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ZT_UPLINK_RELAYS_MAX);
	__type(key, struct zt_uplink_relay_key);
	__type(value, struct zt_uplink_rl_val);	/* the relay's bucket for relayed initiations */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zt_uplink_relays SEC(".maps");

/* LRU requires preallocation; a spoofed-source flood evicts, it cannot fill. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ZT_UPLINK_RL_TRACK);
	__type(key, struct zt_uplink_rl_key);
	__type(value, struct zt_uplink_rl_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zt_uplink_rl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zt_uplink_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zt_uplink_stats SEC(".maps");

#define NSEC_PER_SEC	1000000000ULL
#define CAS_TRIES	4	/* retries when another CPU updates the same source */

/* What the parser found: a UDP header at udp_off, from src. */
struct uplink_pkt {
	struct zt_uplink_rl_key src;
	__u32 udp_off;
	bool fragmented;	/* first fragment of a datagram that continues */
};

/* parse(): a chain of extension headers too long to walk (issue 10 A8). */
#define PARSE_TOO_LONG	(-1)

/*
 * IPv6: the extension headers to UDP, through a first fragment's header.
 * 1 found, 0 not a (parsable) UDP first fragment: a later fragment, a
 * header that cannot be read, another protocol. PARSE_TOO_LONG: more than
 * ZT_MAX_EXTHDR extension headers, behind which the port (and so whether
 * the guard should judge it) cannot be known: such packets are dropped and
 * counted (dropped_exthdr), never passed unexamined (no real sender of
 * ours builds such a chain, and RFC 9098 notes they are widely dropped).
 */
static __always_inline int parse_ip6(struct xdp_md *ctx, __u32 l3off, struct uplink_pkt *p)
{
	struct zt_ip6_chain c = { .off = l3off + sizeof(struct zt_ip6) };
	struct zt_ip6 ip6;
	int w;

	if (zt_parse_ip6(ctx, true, l3off, &ip6) <= 0)
		return 0;
	__builtin_memcpy(p->src.addr, ip6.saddr, 16);
	c.nh = ip6.nexthdr;
	w = zt_walk_ip6_ext(ctx, true, true, &c);
	if (w == ZT_WALK_TOO_LONG)
		return PARSE_TOO_LONG;
	if (w != ZT_WALK_L4 || c.nh != ZT_IPPROTO_UDP)
		return 0;
	p->fragmented = c.more_fragments;
	p->udp_off = c.off;
	return 1;
}

/* IPv4: 1 if UDP in a datagram's first fragment (or a whole datagram), else 0. */
static __always_inline int parse_ip4(struct xdp_md *ctx, __u32 l3off, struct uplink_pkt *p)
{
	struct zt_ip4 ip;
	__u32 hlen;
	__u16 fo;

	if (zt_parse_ip4(ctx, true, l3off, &ip, &hlen) <= 0 || ip.proto != ZT_IPPROTO_UDP)
		return 0;
	fo = bpf_ntohs(ip.frag_off);
	if (fo & ZT_IP4_OFFSET)
		return 0;	/* not the first fragment */
	if (fo & ZT_IP4_MF)
		p->fragmented = true;
	p->src.addr[10] = p->src.addr[11] = 0xff;
	__builtin_memcpy(p->src.addr + 12, ip.saddr, 4);
	p->udp_off = l3off + hlen;
	return 1;
}

/* The link header (Ethernet, up to two VLAN tags) then IP. 1 if a UDP header was located, or PARSE_TOO_LONG. */
static __always_inline int parse(struct xdp_md *ctx, struct uplink_pkt *p)
{
	__u32 l3off;
	__u8 l2_group;

	switch (zt_parse_link(ctx, true, false, &l3off, &l2_group)) {
	case 4:
		return parse_ip4(ctx, l3off, p);
	case 6:
		return parse_ip6(ctx, l3off, p);
	default:
		return 0;
	}
}

/*
 * One initiation against bucket V (GCRA, see ztgate/uplink.h) of RATE per
 * second, depth BURST. Entries are shared by every CPU: the timestamp moves
 * by compare-and-swap so two CPUs cannot both spend the last token.
 */
static __always_inline bool gcra_admit(struct zt_uplink_rl_val *v, __u64 rate, __u64 burst)
{
	__u64 cost = NSEC_PER_SEC / rate, window = burst * cost;	/* <= 2^32 * 1e9 */
	__u64 now = bpf_ktime_get_ns();
	int i;

	for (i = 0; i < CAS_TRIES; i++) {
		__u64 tat = *(volatile __u64 *)&v->tat_ns;
		__u64 next = (tat > now ? tat : now) + cost;

		if (next - now > window)
			break;
		if (__sync_val_compare_and_swap(&v->tat_ns, tat, next) == tat) {
			__sync_fetch_and_add(&v->admitted, 1);
			return true;
		}
	}
	/* Over budget, or lost the race CAS_TRIES times: a flood from this source. */
	__sync_fetch_and_add(&v->dropped, 1);
	return false;
}

/*
 * One initiation from SRC against its bucket. A source the map cannot
 * hold is admitted: userspace's cookie mechanism still protects the DH.
 */
static __always_inline bool initiation_admitted(const struct zt_uplink_cfg *cfg,
						const struct zt_uplink_rl_key *src)
{
	struct zt_uplink_rl_val *v, fresh = {};
	__u64 rate = cfg->init_rate, burst = cfg->init_burst;

	if (!rate)
		rate = ZT_UPLINK_DEF_RATE;
	if (!burst)
		burst = cfg->init_rate ? rate : ZT_UPLINK_DEF_BURST;
	v = bpf_map_lookup_elem(&zt_uplink_rl, src);
	if (!v) {
		/* Another CPU may insert first (NOEXIST fails): either way, look again. */
		bpf_map_update_elem(&zt_uplink_rl, src, &fresh, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&zt_uplink_rl, src);
		if (!v)
			return true;
	}
	return gcra_admit(v, rate, burst);
}

/*
 * The length of the UDP payload the socket will be handed, in *PLEN: the
 * UDP length says it (the stack trims anything past it, and drops the
 * datagram if it is longer than what arrived), not the frame length, which
 * may be padded. -1 if the UDP length is impossible.
 */
static __always_inline int udp_payload_len(struct xdp_md *ctx, const struct uplink_pkt *p,
					   const struct zt_udp *uh, __u32 *plen)
{
	__u32 ulen = bpf_ntohs(uh->len);

	if (ulen < sizeof(*uh) || p->udp_off + ulen > bpf_xdp_get_buff_len(ctx))
		return -1;
	*plen = ulen - sizeof(*uh);
	return 0;
}

/* An initiation (or hello) from P's source: counted, and admitted or dropped by its bucket. */
static __always_inline int initiation(const struct zt_uplink_cfg *cfg, struct zt_uplink_stats *st,
				      const struct uplink_pkt *p)
{
	st->initiations_seen++;
	if (!initiation_admitted(cfg, &p->src)) {
		st->dropped_ratelimited++;
		return XDP_DROP;
	}
	st->passed++;
	return XDP_PASS;
}

/*
 * From one of the relays this peer registers with? Its bucket, or NULL. A
 * spoofed source gets past here, then meets the same userspace checks
 * (MACs, registration state, the tunnel's cookies) as it did before there
 * was a guard.
 */
static __always_inline struct zt_uplink_rl_val *from_relay(const struct uplink_pkt *p,
							   const struct zt_udp *uh)
{
	struct zt_uplink_relay_key k = {};

	__builtin_memcpy(k.addr, p->src.addr, sizeof(k.addr));
	k.port = bpf_ntohs(uh->sport);
	return bpf_map_lookup_elem(&zt_uplink_relays, &k);
}

/*
 * A relay's datagram: its own messages pass (userspace checks them), but a
 * recv carrying a tunnel initiation spends the relay's bucket, as a direct
 * one spends its source's: a relay's address is no licence for unlimited
 * DH work (issue 10 A1). Such a recv is 36 + 148 bytes and never
 * fragmented by a real relay.
 */
static __always_inline int relay_datagram(struct xdp_md *ctx, struct zt_uplink_stats *st,
					  const struct uplink_pkt *p, const struct zt_udp *uh,
					  __u8 type, struct zt_uplink_rl_val *rv)
{
	__u32 plen;
	__u8 inner;

	if (type != ZT_RELAY_MSG_RECV ||
	    bpf_xdp_load_bytes(ctx, p->udp_off + sizeof(*uh) + ZT_RELAY_MSG_FWD_HDR_LEN, &inner, 1) ||
	    inner != ZT_MSG_INITIATION)
		goto pass;
	if (p->fragmented || udp_payload_len(ctx, p, uh, &plen) ||
	    plen != ZT_RELAY_MSG_FWD_HDR_LEN + ZT_MSG_INITIATION_LEN) {
		st->dropped_malformed++;
		return XDP_DROP;
	}
	st->initiations_seen++;
	if (!gcra_admit(rv, ZT_UPLINK_RELAY_RATE, ZT_UPLINK_RELAY_BURST)) {
		st->dropped_ratelimited++;
		return XDP_DROP;
	}
pass:
	st->passed++;
	return XDP_PASS;
}

/*
 * A tunnel's port (docs/TUNNEL.md): the four message types with their
 * sizes; initiations, the one message that makes the responder do DH
 * work, spend the source's bucket. The relays' own datagrams pass, but
 * the initiations they carry spend the relay's bucket.
 */
static __always_inline int tunnel_port(struct xdp_md *ctx, const struct zt_uplink_cfg *cfg,
				       struct zt_uplink_stats *st, const struct uplink_pkt *p,
				       const struct zt_udp *uh, __u8 type)
{
	struct zt_uplink_rl_val *rv = from_relay(p, uh);
	__u32 plen;

	if (rv)
		return relay_datagram(ctx, st, p, uh, type, rv);
	if (p->fragmented) {
		/* The UDP length covers fragments not seen here: nothing to check but the type. */
		if (type != ZT_MSG_TRANSPORT)
			goto malformed;
		goto pass;
	}
	if (udp_payload_len(ctx, p, uh, &plen))
		goto malformed;
	switch (type) {
	case ZT_MSG_INITIATION:
		if (plen != ZT_MSG_INITIATION_LEN)
			goto malformed;
		return initiation(cfg, st, p);
	case ZT_MSG_RESPONSE:
		if (plen != ZT_MSG_RESPONSE_LEN)
			goto malformed;
		goto pass;
	case ZT_MSG_COOKIE_REPLY:
		if (plen != ZT_MSG_COOKIE_REPLY_LEN)
			goto malformed;
		goto pass;
	case ZT_MSG_TRANSPORT:
		if (plen < ZT_MSG_TRANSPORT_MIN)
			goto malformed;
		goto pass;
	default:
		goto malformed;
	}
pass:
	st->passed++;
	return XDP_PASS;
malformed:
	st->dropped_malformed++;
	return XDP_DROP;
}

/*
 * A relay's port (docs/RELAY.md): STUN-shaped datagrams (top two bits 0,
 * the magic cookie at 4..7, a length field that is the rest of the
 * datagram) and relay messages 0x10-0x17 with their sizes; hellos, the one
 * message anyone can make the relay answer, spend the source's bucket.
 */
static __always_inline int relay_port(struct xdp_md *ctx, const struct zt_uplink_cfg *cfg,
				      struct zt_uplink_stats *st, const struct uplink_pkt *p,
				      const struct zt_udp *uh, __u8 type)
{
	/* The first 8 bytes: a relay message's header, or STUN's type, length and cookie. */
	union {
		__u8 b[8];
		struct {
			__be16 type;
			__be16 len;
			__be32 cookie;
		} stun;
	} hdr;
	__u32 plen;

	if (p->fragmented) {
		/* Only register and send can outgrow a path's MTU. */
		if (type != ZT_RELAY_MSG_REGISTER && type != ZT_RELAY_MSG_SEND)
			goto malformed;
		goto pass;
	}
	if (udp_payload_len(ctx, p, uh, &plen))
		goto malformed;
	if (plen < sizeof(hdr) ||
	    bpf_xdp_load_bytes(ctx, p->udp_off + sizeof(*uh), &hdr, sizeof(hdr)))
		goto malformed;
	/* STUN: the type's top two bits clear, the magic cookie, 4-aligned attributes. */
	if (!(hdr.b[0] & 0xc0) && hdr.stun.cookie == bpf_htonl(ZT_STUN_MAGIC)) {
		__u32 mlen = bpf_ntohs(hdr.stun.len);

		if (plen < ZT_STUN_HEADER_LEN || mlen + ZT_STUN_HEADER_LEN != plen || (mlen & 3))
			goto malformed;
		goto pass;
	}
	/* A relay message: its type, three zero bytes. */
	if (hdr.b[1] || hdr.b[2] || hdr.b[3])
		goto malformed;
	switch (type) {
	case ZT_RELAY_MSG_HELLO:
		if (plen != ZT_RELAY_MSG_HELLO_LEN)
			goto malformed;
		return initiation(cfg, st, p);
	case ZT_RELAY_MSG_CHALLENGE:
		if (plen != ZT_RELAY_MSG_CHALLENGE_LEN)
			goto malformed;
		goto pass;
	case ZT_RELAY_MSG_REGISTER:
		if (plen < ZT_RELAY_MSG_REGISTER_MIN ||
		    (plen - ZT_RELAY_MSG_REGISTER_MIN) % ZT_RELAY_MSG_REGISTER_PER_KEY)
			goto malformed;
		goto pass;
	case ZT_RELAY_MSG_REGISTERED:
		if (plen != ZT_RELAY_MSG_REGISTERED_LEN)
			goto malformed;
		goto pass;
	case ZT_RELAY_MSG_SEND:
	case ZT_RELAY_MSG_RECV:
		if (plen < ZT_RELAY_MSG_FWD_MIN)
			goto malformed;
		goto pass;
	case ZT_RELAY_MSG_KEEPALIVE:
		if (plen != ZT_RELAY_MSG_KEEPALIVE_LEN)
			goto malformed;
		goto pass;
	case ZT_RELAY_MSG_ERROR:
		if (plen != ZT_RELAY_MSG_ERROR_LEN)
			goto malformed;
		goto pass;
	default:
		goto malformed;
	}
pass:
	st->passed++;
	return XDP_PASS;
malformed:
	st->dropped_malformed++;
	return XDP_DROP;
}

SEC("xdp")
int zt_uplink(struct xdp_md *ctx)
{
	struct uplink_pkt p = {};
	struct zt_uplink_stats *st;
	struct zt_uplink_cfg *cfg;
	struct zt_udp uh;
	__u32 zero = 0;
	__u8 type;
	int r;

	cfg = bpf_map_lookup_elem(&zt_uplink_cfg, &zero);
	if (!cfg || !cfg->port)
		return XDP_PASS;
	r = parse(ctx, &p);
	if (r == PARSE_TOO_LONG) {
		st = bpf_map_lookup_elem(&zt_uplink_stats, &zero);
		if (st)
			st->dropped_exthdr++;
		return XDP_DROP;
	}
	if (r <= 0)
		return XDP_PASS;
	if (bpf_xdp_load_bytes(ctx, p.udp_off, &uh, sizeof(uh)) ||
	    bpf_ntohs(uh.dport) != cfg->port)
		return XDP_PASS;

	/* From here on the datagram is addressed to the port: counted. */
	st = bpf_map_lookup_elem(&zt_uplink_stats, &zero);
	if (!st)
		return XDP_PASS;
	/* Per-CPU slot, and programs don't migrate while running: no atomics. */
	if (bpf_xdp_load_bytes(ctx, p.udp_off + sizeof(uh), &type, 1)) {
		st->dropped_malformed++;
		return XDP_DROP;
	}
	if (cfg->mode == ZT_UPLINK_MODE_RELAY)
		return relay_port(ctx, cfg, st, &p, &uh, type);
	return tunnel_port(ctx, cfg, st, &p, &uh, type);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
