/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ztgate/uplink.h: the contract between the uplink guard (zt_uplink.bpf.c,
 * XDP on the interface the tunnel's or the relay's UDP arrives on) and
 * userspace (daemon/dataplane/uplink.c, the tests, bpftool). The message
 * sizes it checks are ztgate/wire.h's, its defaults ztgate/defaults.h's.
 *
 * Included by BPF (after vmlinux.h) and userspace (after <linux/types.h>),
 * so only __u8..__u64 and constants. Every key and value is a named struct
 * so `bpftool map dump pinned PATH` prints field names. See MAPS.md.
 *
 * The guard looks only at UDP datagrams to the tunnel's listen port and
 * checks the sizes docs/TUNNEL.md fixes for each message type, so malformed
 * tunnel traffic never reaches userspace, and it rate-limits handshake
 * initiations (the only message that makes the responder do DH work before
 * it knows the sender) per source address.
 */
#ifndef ZT_UPLINK_H
#define ZT_UPLINK_H

#include "ztgate/defaults.h"	/* ZT_UPLINK_DEF_*: zero fields of zt_uplink_cfg */
#include "ztgate/wire.h"		/* ZT_MSG_*, ZT_RELAY_MSG_*: what the guard checks */

#define ZT_UPLINK_RL_TRACK	65536	/* sources tracked (LRU) */

/* What the port carries: a connector's tunnel, or a relay's STUN and relay messages. */
#define ZT_UPLINK_MODE_TUNNEL	0
#define ZT_UPLINK_MODE_RELAY	1

/* ARRAY "zt_uplink_cfg", key u32 0. Written by userspace only. */
struct zt_uplink_cfg {
	__u16 port;		/* tunnel's UDP listen port, host order; 0 = guard off (pass all) */
	__u16 mode;		/* ZT_UPLINK_MODE_* */
	__u32 init_rate;	/* initiations per second per source; 0 = ZT_UPLINK_DEF_RATE */
	__u32 init_burst;	/* bucket depth; 0 = init_rate if set, else ZT_UPLINK_DEF_BURST */
};

/* LRU_HASH "zt_uplink_rl" key: source address, IPv4 stored IPv4-mapped. */
struct zt_uplink_rl_key {
	__u8 addr[16];
};

/*
 * Tunnel mode on a peer that also talks to relays (connector --relay): the
 * relays' datagrams (relay messages, STUN answers) arrive on the tunnel's
 * port too and are none of the tunnel's types. They pass when their source
 * (address IPv6 or IPv4-mapped, port host order) is in zt_uplink_relays.
 */
#define ZT_UPLINK_RELAYS_MAX	16
/*
 * A relay's recv messages that carry a tunnel initiation (issue 10 A1) spend
 * that relay's own bucket (the value in zt_uplink_relays, same GCRA form
 * as zt_uplink_rl's), with a budget for every peer behind it: anyone can
 * spoof a relay's address, so its datagrams are not passed unlimited.
 */
#define ZT_UPLINK_RELAY_RATE	500	/* relayed initiations per second per relay */
#define ZT_UPLINK_RELAY_BURST	1000

struct zt_uplink_relay_key {
	__u8 addr[16];
	__u16 port;
	__u16 pad;		/* zero */
};

/*
 * LRU_HASH "zt_uplink_rl" value, and HASH "zt_uplink_relays" value (a
 * relay's relayed initiations): one source's token bucket, kept in its
 * GCRA form (one timestamp instead of {tokens, last refill}) so that CPUs
 * sharing an entry update it with one compare-and-swap, no lock. A token
 * costs 1e9 / rate ns; the bucket is full when tat_ns <= now and empty when
 * tat_ns >= now + burst * cost. An initiation is admitted if
 * max(tat_ns, now) + cost <= now + burst * cost, and then tat_ns becomes
 * that sum. Times are bpf_ktime_get_ns() (CLOCK_MONOTONIC).
 */
struct zt_uplink_rl_val {
	__u64 tat_ns;		/* theoretical arrival time of the next initiation */
	__u64 admitted;		/* initiations from this source passed */
	__u64 dropped;		/* initiations from this source over the budget */
};

/* PERCPU_ARRAY "zt_uplink_stats", key u32 0; userspace sums the CPUs. */
struct zt_uplink_stats {
	__u64 passed;			/* datagrams to the port passed to the stack */
	__u64 dropped_malformed;	/* to the port, wrong size / unknown type / fragmented handshake */
	__u64 dropped_ratelimited;	/* well-formed initiations over their source's budget */
	__u64 initiations_seen;		/* well-formed initiations, direct or in a relay's recv (relay mode: hellos) */
	__u64 dropped_exthdr;		/* IPv6 with more extension headers than the parser walks: any port */
};

#endif /* ZT_UPLINK_H */
