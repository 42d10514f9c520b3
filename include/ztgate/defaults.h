/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ztgate/defaults.h: the default values more than one side uses, each
 * defined here and nowhere else. Plain integer #defines, for BPF and
 * userspace alike.
 *
 * Data-plane tunables: a zero field of zt_config (ztgate/maps.h) means the
 * default below in BPF (bpf/lib/core.h), and ztgated writes the same
 * defaults into zt_config at start (ZT_TUNABLES_DEFAULT, daemon/core/
 * daemon.h) unless an option says otherwise, so both agree on what a user
 * gets. The uplink guard's zero fields likewise (ztgate/uplink.h).
 */
#ifndef ZTGATE_DEFAULTS_H
#define ZTGATE_DEFAULTS_H

/* Scan detector: more than this many distinct denied ports ... */
#define ZT_DEF_SCAN_THRESHOLD	10
/* ... from one source to one resource within this window is a scan. */
#define ZT_DEF_SCAN_WINDOW_MS	5000
/*
 * The scan detector's hash multiplier while zt_config holds no key (a map
 * the daemon never wrote): 2^64 / golden ratio, which spreads ports well
 * but is no secret. The daemon always writes a random one.
 */
#define ZT_SCAN_KEY_MUL_DEFAULT	0x9e3779b97f4a7c15ULL
/* Deny events: per second and bucket depth, per CPU (--event-rate, --event-burst). */
#define ZT_DEF_EVENT_RATE	100
#define ZT_DEF_EVENT_BURST	200
/* Reject replies (TCP RST, ICMP unreachable): per second and depth, per CPU. */
#define ZT_DEF_REPLY_RATE	1000
#define ZT_DEF_REPLY_BURST	200
/* Scan events: per second and depth, per CPU (spoofed sources are free). */
#define ZT_DEF_SCAN_EV_RATE	10
#define ZT_DEF_SCAN_EV_BURST	20

/* Uplink guard: handshake initiations per second per source, and the bucket depth. */
#define ZT_UPLINK_DEF_RATE	20
#define ZT_UPLINK_DEF_BURST	40

/*
 * The tunnel's inner MTU on a direct path (docs/TUNNEL.md): a 1500-byte
 * path less IPv6 40, UDP 8 and the transport message's 32 bytes.
 */
#define ZT_TUNNEL_MTU		1420

/*
 * EDNS0 UDP payload size the client's DNS server advertises (DNS flag day
 * 2020): in the daemon's answers (daemon/dns/codec.c) and, byte for byte
 * the same, in the fast path's (zt_dns.bpf.c).
 */
#define ZT_DNS_EDNS_UDP_SIZE	1232

#endif /* ZTGATE_DEFAULTS_H */
