/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ztgate/dns_fast.h: the contract between the client's DNS fast path
 * (zt_dns.bpf.c, tc egress on the loopback device) and userspace
 * (daemon/dataplane/dns_fast.c, the tests, bpftool). The DNS numbers both
 * write are ztgate/wire.h's, the EDNS0 UDP size ztgate/defaults.h's.
 *
 * Included by BPF (after vmlinux.h) and userspace (after <linux/types.h>),
 * so only __u8..__u64 and constants. See MAPS.md.
 *
 * The fast path answers, in the kernel, the one common query whose answer
 * the daemon already knows: a UDP query to the DNS address for the A
 * record of a resource name that holds a fake IP. The daemon puts such a
 * name into zt_dns_fast once it has answered it itself (the data plane
 * knows the fake IP by then), and removes it when the name loses its
 * address or stops being a resource. Everything else passes to the daemon.
 */
#ifndef ZT_DNS_H
#define ZT_DNS_H

/*
 * Longest question name the fast path takes, in wire bytes (length bytes
 * and the root included). Longer names pass to the daemon.
 */
#define ZT_DNS_FAST_NAME_MAX	128
#define ZT_DNS_FAST_ENTRIES	65536

/* ARRAY "zt_dns_fast_cfg", key u32 0. Written by userspace only. */
struct zt_dns_fast_cfg {
	__u32 addr;		/* the DNS server's IPv4 address, network order; 0: off */
	__u16 port;		/* its UDP port, network order */
	__u16 pad;
};

/*
 * HASH "zt_dns_fast" key: the question name in wire form (length-prefixed
 * labels, ending with the root byte), ASCII letters lowercased, the rest
 * of the buffer zero.
 */
struct zt_dns_fast_key {
	__u8 name[ZT_DNS_FAST_NAME_MAX];
};

/* HASH "zt_dns_fast" value. */
struct zt_dns_fast_val {
	__u32 addr;		/* the fake IPv4 address, network order */
	__u32 ttl;		/* of the A record, host order */
	/*
	 * bpf_ktime_get_ns() (CLOCK_MONOTONIC) of the last answer given in
	 * BPF, moved at most once a second; written by BPF only. The daemon
	 * folds it into the pool's last use (LRU reclaim).
	 */
	__u64 last_hit_ns;
};

/* PERCPU_ARRAY "zt_dns_fast_stats", key u32 0; userspace sums the CPUs. */
struct zt_dns_fast_stats {
	__u64 answered;		/* answered in BPF */
	__u64 missed;		/* the fast shape, but the name is not in zt_dns_fast */
	__u64 passed;		/* to the DNS address, another shape: left to the daemon */
};

#endif /* ZT_DNS_H */
