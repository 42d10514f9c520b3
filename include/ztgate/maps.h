/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ztgate/maps.h: the contract between the BPF data plane (bpf/lib/maps.h,
 * bpf/lib/core.h) and userspace (daemon/dataplane, daemon/policy/compile.c,
 * the CLI, the tests).
 *
 * Included by the BPF programs (after vmlinux.h) and by the daemon, the
 * CLI and the tests (after <linux/types.h>), so it uses only __u8..__u64
 * and plain constants. Every map value and key is a named struct so that
 * `bpftool map dump pinned PATH` prints named fields (BTF).
 *
 * Atomic policy changes: every policy-bearing map key or index carries a
 * generation (0 or 1). A packet reads zt_config.active_gen once and uses it
 * for every lookup. Userspace writes a change into the inactive generation,
 * flips active_gen with one array update (a single aligned 32-bit store,
 * atomic for readers), waits for the readers of the old one, then writes the
 * same change there (daemon/policy/compile.h). No packet ever sees half a
 * policy.
 *
 * Addresses: IPv4 is stored IPv4-mapped (::ffff:a.b.c.d) so one key type
 * and one trie serve both families.
 */
#ifndef ZT_MAPS_H
#define ZT_MAPS_H

#include "ztgate/wire.h"		/* ZT_IPPROTO_* */

#define ZT_MAX_RESOURCES	131072	/* resource ids are 1..ZT_MAX_RESOURCES-1; 0 = none */
#define ZT_MAX_EXACT		(2 * 262144)	/* exact address entries, both generations */
#define ZT_MAX_PREFIXES		(2 * 16384)	/* CIDR entries, both generations */
#define ZT_MAX_PORT_RULES	(2 * 524288)	/* expanded port entries, both generations */
#define ZT_MAX_DEVICES		(2 * 65536)	/* connector: device tunnel addresses */
#define ZT_MAX_GRANTS		(2 * 262144)	/* connector: (device, resource) grants */
#define ZT_MAX_DEV_BINDS	(2 * 262144)	/* connector: names a device bound, both generations */
#define ZT_SCAN_TRACK		65536		/* LRU entries for the scan detector */
#define ZT_FRAG_TRACK		16384		/* LRU entries for fragmented datagrams */
#define ZT_FRAG_TIMEOUT_MS	30000		/* a first fragment's verdict holds this long */
#define ZT_EVENTS_RINGBUF	(256 * 1024)

#define ZT_NGEN			2

/* zt_config.flags */
#define ZT_CFG_CHECK_DEVICE	(1u << 0)	/* connector: require a (device, resource) grant */
#define ZT_CFG_DEFAULT_DENY	(1u << 1)	/* connector: drop what no resource matches */

/* zt_resource.flags */
#define ZT_RES_PRESENT		(1u << 0)
#define ZT_RES_TCP_ALL		(1u << 1)
#define ZT_RES_UDP_ALL		(1u << 2)
#define ZT_RES_ICMP		(1u << 3)	/* ICMP echo / ICMPv6 echo allowed */
#define ZT_RES_TCP_LIST		(1u << 4)	/* TCP allowed = zt_resource.tcp_ports[0..ntcp) */
#define ZT_RES_UDP_LIST		(1u << 5)	/* UDP allowed = zt_resource.udp_ports[0..nudp) */

/* At most this many ports of one protocol are held in the resource itself. */
#define ZT_RES_LIST_PORTS	4

/* zt_resource.deny_mode */
#define ZT_DENY_DROP		0
#define ZT_DENY_REJECT		1

/* zt_port_key.proto */
#define ZT_PROTO_TCP		ZT_IPPROTO_TCP
#define ZT_PROTO_UDP		ZT_IPPROTO_UDP

/* zt_event.type */
#define ZT_EV_DENY		1
#define ZT_EV_SCAN		2

/* zt_event.reason: why a packet to a resource was denied */
#define ZT_REASON_PORT		1	/* TCP/UDP port not allowed */
#define ZT_REASON_PROTO		2	/* protocol not allowed (e.g. ICMP off, GRE) */
#define ZT_REASON_MALFORMED	3	/* could not be classified (truncated, bad header) */
#define ZT_REASON_FRAGMENT	4	/* later fragment of no allowed first fragment (or tiny) */
#define ZT_REASON_DEVICE	5	/* connector: device has no grant */
#define ZT_REASON_NO_RESOURCE	6	/* connector: destination is no resource */
#define ZT_REASON_SRCROUTE	7	/* IPv4 LSRR/SSRR or IPv6 routing header: any destination */

/* zt_event.action */
#define ZT_ACT_DROP		0
#define ZT_ACT_REJECT		1	/* TCP RST or ICMP unreachable sent locally */

/* Singleton config, ARRAY map "zt_config", key 0. */
struct zt_config {
	__u32 active_gen;		/* 0 or 1 */
	__u32 flags;			/* ZT_CFG_* */
	__u32 scan_threshold;		/* distinct denied ports per (source, resource) */
	__u32 scan_window_ms;		/* ... within this window raises one scan event */
	__u32 event_rate;		/* denied-flow events per second, per CPU */
	__u32 event_burst;		/* token bucket depth, per CPU */
	/* Appended; 0 means the default (see MAPS.md). */
	__u32 reply_rate;		/* reject replies (RST / ICMP) per second, per CPU */
	__u32 reply_burst;		/* reply token bucket depth, per CPU */
	__u32 scan_event_rate;		/* scan events per second, per CPU */
	__u32 scan_event_burst;		/* scan event token bucket depth, per CPU */
	/*
	 * The scan detector's secret key: a port's bit in the per-source set
	 * is the top ZT_SCAN_SET_BITS of h * ZT_SCAN_MIX_MUL after
	 * h ^= h >> 29, where h = scan_key_mul * port + scan_key_add (lib/core.h
	 * zt_scan_track): without the key, a scanner cannot pick ports that
	 * share bits. Random, written by the daemon at every start
	 * (zt_dp_open); a zero multiplier (never written) means
	 * ZT_SCAN_KEY_MUL_DEFAULT.
	 */
	__u64 scan_key_mul;
	__u64 scan_key_add;
};

/* Address key: HASH "zt_res_exact" (value struct zt_res_ref). */
struct zt_addr_key {
	__u8 gen;
	__u8 pad[3];
	__u8 addr[16];			/* IPv6 or IPv4-mapped */
};

/*
 * CIDR key: LPM_TRIE "zt_res_prefix" (value struct zt_res_ref).
 * prefixlen counts the gen byte: 8 + (v4 ? 96 + len : len).
 */
struct zt_lpm_key {
	__u32 prefixlen;
	__u8 gen;
	__u8 addr[16];
};

struct zt_res_ref {
	__u32 resource_id;
};

/*
 * ARRAY "zt_resources", index gen * ZT_MAX_RESOURCES + resource_id.
 *
 * A protocol whose allowed ports number at most ZT_RES_LIST_PORTS (the
 * usual resource: 22 and 443) is held here, under ZT_RES_TCP_LIST or
 * ZT_RES_UDP_LIST, and has no zt_ports entry: the packet path decides it
 * from the entry it has already read, with no hash lookup, whether the
 * port is allowed or denied (a flood of denied packets costs one lookup
 * less per packet). An empty list (count 0) allows no port of it.
 */
struct zt_resource {
	__u32 flags;			/* ZT_RES_* */
	__u32 deny_mode;		/* ZT_DENY_* */
	__u16 tcp_ports[ZT_RES_LIST_PORTS];	/* host byte order */
	__u16 udp_ports[ZT_RES_LIST_PORTS];
	__u8 ntcp;			/* slots used in tcp_ports */
	__u8 nudp;
	__u8 pad[2];
};

/*
 * HASH "zt_ports": present means allowed. Port ranges are expanded when the
 * policy is compiled, so the packet path does one hash lookup whatever the
 * number of rules; "all" is a resource flag, never expanded, and a short
 * list lives in the resource itself (ZT_RES_TCP_LIST / ZT_RES_UDP_LIST).
 */
struct zt_port_key {
	__u32 resource_id;
	__u16 port;			/* host byte order */
	__u8 proto;			/* ZT_PROTO_TCP / ZT_PROTO_UDP */
	__u8 gen;
};

struct zt_port_val {
	__u8 allow;
	__u8 pad[3];
};

/*
 * Connector side (ZT_CFG_CHECK_DEVICE): the source address is a device's
 * tunnel address; HASH "zt_devices" maps it to a device id and HASH
 * "zt_grants" says which resources that device may reach. Unused by the
 * standalone enforcer and the client, where the device is the host itself.
 */
struct zt_device_val {
	__u32 device_id;
};

struct zt_grant_key {
	__u32 device_id;
	__u32 resource_id;
	__u8 gen;
	__u8 pad[3];
};

/*
 * Connector side (ZT_CFG_CHECK_DEVICE): HASH "zt_dev_binds" (value struct
 * zt_res_ref) maps (device id, real address) to the name resource that
 * device bound the address through. Looked up before zt_res_exact, and only
 * for that device's packets: one device's binding never changes how another
 * device's packets, or any other address, are classified.
 */
struct zt_bind_key {
	__u32 device_id;
	__u8 gen;
	__u8 pad[3];
	__u8 addr[16];			/* IPv4-mapped */
};

struct zt_grant_val {
	__u8 allow;
	__u8 pad[3];
};

/* PERCPU_ARRAY "zt_counters", index resource_id (stable across generations). */
struct zt_counters {
	__u64 allowed_packets;
	__u64 allowed_bytes;
	__u64 denied_packets;
	__u64 denied_bytes;
};

/* LRU_HASH "zt_scan": one entry per (source, resource) with recent denials. */
struct zt_scan_key {
	__u8 src[16];
	__u32 resource_id;
};

#define ZT_SCAN_SET_BITS	10	/* the set of denied ports: 2^10 bits, keyed hash */
#define ZT_SCAN_MIX_MUL		0xbf58476d1ce4e5b9ULL	/* the hash's fixed mix (splitmix64) */

struct zt_scan_val {
	__u64 window_start_ns;
	__u32 distinct;			/* distinct denied ports seen in this window */
	__u32 reported;			/* scan event already raised for this window */
	__u64 key;			/* zt_config.scan_key_mul the set was filled under */
	__u64 seen[(1 << ZT_SCAN_SET_BITS) / 64];	/* bits of the ports' keyed hashes */
};

/*
 * LRU_HASH "zt_frag": fragmented datagrams to a resource whose first
 * fragment (the one with the ports) was allowed. Later fragments pass only
 * if their datagram is here, under the same generation and resource, and
 * younger than ZT_FRAG_TIMEOUT_MS; anything else (first fragment denied,
 * never seen, or not seen yet: out of order) is denied.
 */
struct zt_frag_key {
	__u8 src[16];			/* IPv6 or IPv4-mapped */
	__u8 dst[16];
	__u32 id;			/* IPv4 identification (16 bits) or IPv6 Fragment id */
	__u8 proto;			/* IPv4 protocol; IPv6: the Fragment header's next header */
	__u8 pad[3];
};

struct zt_frag_val {
	__u64 first_ns;			/* bpf_ktime_get_coarse_ns() of the first fragment */
	__u32 resource_id;
	__u8 gen;			/* the generation that allowed it */
	__u8 pad[3];
};

/*
 * PERCPU_ARRAY "zt_evbudget", key 0: the deny path's per-CPU state: token
 * buckets for deny events, reject replies and scan events, each {last
 * refill, tokens * 1000, suppressed} (times: bpf_ktime_get_coarse_ns), the
 * events lost to a full ring, and the scan detector's memo.
 */
struct zt_evbudget {
	/*
	 * What a flood of denied packets touches, first and together (64
	 * bytes): the deny-event bucket and the scan detector's memo, the
	 * last denied (source, resource, port) this CPU counted, until the
	 * end of its window (a flood of one denied flow is then no
	 * shared-LRU work per packet). Then the clock they read: the coarse
	 * clock's value, read once per jiffy (lib/core.h zt_deny_clock).
	 */
	__u64 clock_jiffies;		/* bpf_jiffies64() when clock_ns was read */
	__u64 clock_ns;			/* bpf_ktime_get_coarse_ns() then */
	__u64 last_ns;
	__u64 tokens_milli;		/* tokens * 1000 */
	__u64 suppressed;		/* deny events dropped by the rate limit */
	__u64 scan_seen_src[2];
	__u64 scan_seen_until_ns;
	__u32 scan_seen_rid;
	__u16 scan_seen_port;
	__u16 pad;
	__u64 reply_last_ns;
	__u64 reply_tokens_milli;
	__u64 replies_suppressed;	/* rejects dropped instead: reply budget empty */
	__u64 scan_last_ns;
	__u64 scan_tokens_milli;
	__u64 scan_suppressed;		/* scan events dropped by the rate limit */
	__u64 ring_lost;		/* events not written: the ring buffer was full */
};

/* RINGBUF "zt_events" records. */
struct zt_event {
	__u64 ts_ns;			/* bpf_ktime_get_ns() */
	__u32 type;			/* ZT_EV_* */
	__u32 resource_id;
	__u8 src[16];			/* IPv6 or IPv4-mapped */
	__u8 dst[16];
	__u16 sport;			/* host byte order; 0 if none */
	__u16 dport;			/* host byte order; for ICMP: type << 8 | code */
	__u8 l4proto;			/* IPPROTO_* */
	__u8 reason;			/* ZT_REASON_* (deny) */
	__u8 action;			/* ZT_ACT_* (deny) */
	__u8 hook;			/* ZT_HOOK_* */
	__u32 ifindex;
	__u32 distinct_ports;		/* scan: distinct ports in the window */
	__u32 window_ms;		/* scan: the window */
};

#define ZT_HOOK_TC_INGRESS	1
#define ZT_HOOK_TC_EGRESS	2
#define ZT_HOOK_XDP		3

#endif /* ZT_MAPS_H */
