/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * uplink: the connector's uplink guard (bpf/zt_uplink.bpf.c), XDP on the
 * interface the tunnel's UDP arrives on. It drops datagrams to the tunnel
 * port whose size does not fit their message type and rate-limits
 * handshake initiations per source address (bpf/zt_uplink.h, MAPS.md).
 *
 * Its maps are pinned by name under a directory of their own, given by the
 * caller (the daemon's pin dir + "/uplink"), and the program is pinned there
 * too as "zt_uplink". Like the data plane, closing leaves the program
 * attached and the maps pinned (the guard keeps working while the daemon is
 * down); only zt_uplink_detach() / zt_uplink_teardown() remove it.
 *
 * Attaching is netlink XDP (bpf_xdp_attach), native mode where the driver
 * has it, else generic (skb) mode. One XDP program per interface: an
 * interface that already runs someone else's XDP program (ztgate's policy
 * XDP included) is refused; this instance's own guard is replaced in place
 * (no gap), which is what a restarted daemon does.
 *
 * Every call is a few syscalls and never blocks, so a daemon can drive it
 * from its epoll loop. Functions return 0 or -errno; those taking ERR write
 * one line there on failure.
 */
#ifndef ZT_UPLINK_DAEMON_H
#define ZT_UPLINK_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "lib/addr.h"

#include "ztgate/uplink.h"

struct zt_uplink;

/* What zt_uplink_attach() did. */
struct zt_uplink_info {
	int ifindex;
	__u32 prog_id;		/* the attached program */
	bool native;		/* driver (native) mode; false: generic (skb) mode */
	bool replaced;		/* an earlier guard of this instance was swapped out */
};

/*
 * Create PIN_DIR (bpffs must be mounted above it), load the guard, reusing
 * maps already pinned in PIN_DIR (the config, the buckets and the counters
 * survive a restart) and pinning the ones that are not. A freshly created
 * config has port 0: the guard passes everything until
 * zt_uplink_set_config() names the port. *OUT is owned by the caller
 * (zt_uplink_close()).
 */
int zt_uplink_open(const char *pin_dir, struct zt_uplink **out, char *err, size_t errlen);

/*
 * Attach the guard to IFNAME (an Ethernet interface of the current network
 * namespace), native mode if possible, else generic; or replace this
 * instance's guard already attached there. -EBUSY if another XDP program
 * (or another instance's guard) is attached, -EPROTONOSUPPORT if IFNAME is
 * not Ethernet. INFO may be NULL.
 */
int zt_uplink_attach(struct zt_uplink *u, const char *ifname, struct zt_uplink_info *info,
		     char *err, size_t errlen);

/*
 * Remove this instance's guard from IFNAME. Nothing of ours there is not
 * an error (0); someone else's program is left alone.
 */
int zt_uplink_detach(struct zt_uplink *u, const char *ifname, char *err, size_t errlen);

/*
 * The guard's tunables: PORT (host order, 0 = guard off, everything
 * passes), initiations per second per source RATE and bucket depth BURST
 * (0 = defaults, see zt_uplink.h). Takes effect on the next packet; a
 * source's bucket keeps what it had spent.
 */
int zt_uplink_set_config(struct zt_uplink *u, uint16_t port, uint32_t rate, uint32_t burst);

/*
 * The relays a tunnel-mode peer registers with over UDP: datagrams from
 * these sources (their relay messages and STUN answers) pass the guard.
 * Replaces the whole set; at most ZT_UPLINK_RELAYS_MAX. 0 or -errno.
 */
int zt_uplink_set_relays(struct zt_uplink *u, const struct zt_endpoint *relays, size_t n);

/*
 * The same for a relay's port (docs/RELAY.md): only STUN-shaped datagrams
 * and relay messages 0x10-0x17 of their sizes pass; RATE/BURST limit
 * hellos per source (0 = defaults).
 */
int zt_uplink_set_relay_config(struct zt_uplink *u, uint16_t port, uint32_t rate, uint32_t burst);

/* The counters of every CPU, summed, into *SUM. */
int zt_uplink_read_stats(const struct zt_uplink *u, struct zt_uplink_stats *sum);

/* fds for tests and tools (BPF_PROG_RUN, bucket inspection); valid until close. */
int zt_uplink_prog_fd(const struct zt_uplink *u);
int zt_uplink_rl_fd(const struct zt_uplink *u);
/* The relays map (zt_uplink_relays: a relay's bucket for relayed initiations), for tests. */
int zt_uplink_relays_fd(const struct zt_uplink *u);

/* Free userspace state; the guard stays attached, the maps stay pinned. */
void zt_uplink_close(struct zt_uplink *u);

/*
 * Detach this instance's guard (found by its pinned config map; every
 * ztgate uplink guard if the pins are already gone) from every interface
 * of the current network namespace, then remove the pins and PIN_DIR.
 * Call it before zt_dp_teardown() when PIN_DIR lies inside the data
 * plane's pin directory, which only removes files.
 */
int zt_uplink_teardown(const char *pin_dir, char *err, size_t errlen);

#endif /* ZT_UPLINK_DAEMON_H */
