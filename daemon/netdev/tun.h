/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The client's TUN interface (ztg0): created persistent, so that if the
 * daemon dies its routes and the tc enforcer on it stay (fail closed: the
 * fake range and the IP resources keep pointing into a device where policy
 * is enforced, instead of falling back to the default route). A clean
 * shutdown (zt_tun_close with destroy) drops persistence and the kernel
 * deletes the device and every route through it.
 *
 * Addresses and routes are set with raw rtnetlink messages.
 */
#ifndef ZT_TUN_H
#define ZT_TUN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"

struct zt_tun;

struct zt_tun_stats {
	uint64_t rx_packets;	/* packets the kernel sent into the tunnel */
	uint64_t rx_bytes;
	uint64_t tx_packets;	/* packets the tunnel handed to the kernel */
	uint64_t tx_bytes;
	uint64_t tx_dropped;	/* refused by the kernel (queue full, bad packet) */
	uint64_t tx_coalesced;	/* of tx_packets, written merged into TCP super-packets */
	uint64_t rx_malformed;	/* reads whose offload header made no sense: dropped */
};

/* Writes queued before zt_tun_queue flushes by itself. */
#define ZT_TUN_WRITE_BATCH	64

/* Create (or adopt, after a crash) the TUN NAME, bring it up. 0 or -errno. */
int zt_tun_open(const char *name, struct zt_tun **out, char *err, size_t errlen);
int zt_tun_fd(const struct zt_tun *t);
const char *zt_tun_name(const struct zt_tun *t);

/* Give the interface ADDR (its prefix length as given). Already present is fine. */
int zt_tun_add_addr(struct zt_tun *t, const struct zt_prefix *addr, char *err, size_t errlen);

/* Put the link in interface GROUP (IFLA_GROUP: nftables' iifgroup/oifgroup). 0 or -errno. */
int zt_tun_set_group(struct zt_tun *t, uint32_t group, char *err, size_t errlen);

/* Set the link's MTU (the tunnel's inner MTU). 0 or -errno. */
int zt_tun_set_mtu(struct zt_tun *t, uint32_t mtu, char *err, size_t errlen);

/*
 * Routes added from now on carry SRC as their preferred source (NULL: none),
 * so that local sockets talking through the tunnel use the device's tunnel
 * address rather than whichever address the interface got first.
 */
void zt_tun_set_route_src(struct zt_tun *t, const struct in_addr *src);

/*
 * Make the routes through the TUN exactly ROUTES (N of them): add the
 * missing ones, remove the ones no longer wanted. On error the routes added
 * so far stay (they are recorded) and ERR says which one failed.
 */
int zt_tun_set_routes(struct zt_tun *t, const struct zt_prefix *routes, size_t n,
		      char *err, size_t errlen);
size_t zt_tun_route_count(const struct zt_tun *t);

/*
 * The TUN is opened with offloads (offload.h): the kernel may hand us TCP
 * super-packets (TSO) and packets with partial checksums; zt_tun_drain()
 * cuts and completes them, so callers only ever see plain IP packets of at
 * most the MTU, with valid checksums. Writes merge runs of one TCP flow's
 * consecutive segments into super-packets (zt_tun_queue/zt_tun_flush).
 */

/*
 * Read what is queued (nonblocking). VISIT, when set, sees each IP packet
 * (the buffer is the TUN's, writable, valid during the call only).
 * Returns packets read or -errno.
 */
typedef void (*zt_tun_visit_fn)(const uint8_t *pkt, size_t len, void *ctx);
int zt_tun_drain(struct zt_tun *t, zt_tun_visit_fn visit, void *ctx);
/*
 * Queue PKT for the kernel, as if it arrived on the interface (the tc
 * ingress program sees it first): it must stay valid and unchanged until
 * the next zt_tun_flush() (or zt_tun_close()), which writes the queue in
 * order, consecutive TCP segments of one flow merged into one
 * super-packet. A full queue flushes itself. Returns 0; a packet the
 * kernel refuses counts in tx_dropped.
 */
int zt_tun_queue(struct zt_tun *t, const uint8_t *pkt, size_t len);
void zt_tun_flush(struct zt_tun *t);
void zt_tun_stats(const struct zt_tun *t, struct zt_tun_stats *st);

/* Close; DESTROY deletes the device (and with it its addresses and routes). */
void zt_tun_close(struct zt_tun *t, bool destroy);

#endif
