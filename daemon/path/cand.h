/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which addresses are path candidates (issue 10 A12, docs/SECURITY.md "Path
 * candidates"). A peer's candidates are addresses we will send probes to,
 * named by the peer: without a filter a device could make the connector send
 * UDP to 127.0.0.1, to multicast, or into the private network behind it.
 * Ours go to every peer: without a filter the connector would tell every
 * device its private-side and TUN addresses.
 *
 * Both sides read the same view of our interfaces (zt_cand_view_read): each
 * address with its subnet, and whether its link is one a peer's LAN address
 * may share with us ("lan": an uplink, never the TUN, never loopback). The
 * lan links are those of the addresses we advertise: with --advertise, the
 * links holding those addresses (none with --advertise none); without, a
 * client's are all of them, a connector's only those that hold a default
 * route (its uplink), because its other links lead into the private network
 * it guards.
 *
 * Pure functions over the view (tests build one by hand), and the one
 * reader of the system's state (getifaddrs, /proc/net/route and ipv6_route
 * of our network namespace).
 */
#ifndef ZT_PATH_CAND_H
#define ZT_PATH_CAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/addr.h"

#define ZT_CAND_LOCAL_MAX	256	/* addresses of ours; with more, nothing can be checked */
#define ZT_CAND_ADVERTISE_MAX	8	/* --advertise given at most this often */

/* Why a candidate is refused (ZT_CAND_OK: it is not). */
enum zt_cand_why {
	ZT_CAND_OK,
	ZT_CAND_PORT,		/* port 0, or not IPv4/IPv6 */
	ZT_CAND_UNSPECIFIED,	/* 0.0.0.0/8, :: */
	ZT_CAND_LOOPBACK,	/* 127/8, ::1 */
	ZT_CAND_MULTICAST,	/* 224/4, ff00::/8 */
	ZT_CAND_BROADCAST,	/* 255.255.255.255, a subnet's broadcast or network address of ours */
	ZT_CAND_LINK_LOCAL,	/* 169.254/16, fe80::/10 */
	ZT_CAND_RESERVED,	/* 240/4, fec0::/10 (site-local) */
	ZT_CAND_ZTGATE,		/* 100.64.0.0/10 (devices, fake IPs, DNS) and the role's own ranges */
	ZT_CAND_OURS,		/* one of our own addresses */
	ZT_CAND_PRIVATE_SIDE,	/* on the subnet of a link of ours that is not lan (the TUN, the private side) */
	ZT_CAND_NOT_LAN,	/* private (RFC 1918, ULA) but on none of our lan subnets */
	ZT_CAND_OVER_CAP,	/* past ZT_PATHS_CANDIDATES_ACCEPT for this peer */
	ZT_CAND_UNCHECKED,	/* our own addresses could not be read: nothing is taken */
};

/* One address of ours. */
struct zt_cand_local {
	struct zt_prefix net;		/* the address, LEN: its subnet's (from the netmask) */
	bool lan;			/* on a link a peer's LAN address may share (see above) */
	bool loopback;
	bool tun;			/* the ztgate TUN's */
};

struct zt_cand_view {
	struct zt_cand_local a[ZT_CAND_LOCAL_MAX];
	size_t n;
	const struct zt_prefix *deny;	/* the role's own ranges beside 100.64.0.0/10; not owned */
	size_t ndeny;
	bool allow_loopback;		/* tests on one host: loopback candidates pass, and are not "ours" */
};

/* What zt_cand_view_read needs to know. */
struct zt_cand_cfg {
	const char *tun_name;		/* our TUN: never lan, never advertised; NULL: none */
	bool uplink_only;		/* lan = the default-route links (the connector) */
	const struct zt_prefix *deny;	/* copied into the view by pointer */
	size_t ndeny;
	const struct sockaddr_storage *advertise;	/* N > 0: lan = the links holding these */
	size_t nadvertise;
	bool advertise_none;		/* no lan links: no private candidate is ever probed */
	bool include_loopback;		/* tests: lo is lan, and loopback candidates pass */
};

/* The class of ADDR alone (16 bytes, IPv4-mapped for IPv4): OK, or a refusal that needs no view. */
enum zt_cand_why zt_cand_class(const uint8_t addr[16], const struct zt_prefix *deny, size_t ndeny);
/* ZT_CAND_OK if C may be probed, else why not. */
enum zt_cand_why zt_cand_check(const struct zt_cand_view *v, const struct sockaddr_storage *c);
/* "loopback", "not-lan" ... for logs and status. */
const char *zt_cand_why_name(enum zt_cand_why why);

/*
 * Our interfaces as CFG says to see them. 0, or -errno with V empty:
 * getifaddrs failed, or -E2BIG: more than ZT_CAND_LOCAL_MAX addresses (a
 * view missing some could take a private-side address for a public one).
 */
int zt_cand_view_read(const struct zt_cand_cfg *cfg, struct zt_cand_view *v);

/*
 * Our local candidates, each with PORT: V's lan addresses whose class is
 * OK (link-local and loopback never; loopback with include_loopback), at
 * most MAX into OUT. The count.
 */
size_t zt_cand_local_list(const struct zt_cand_view *v, bool include_loopback, int port,
			  struct sockaddr_storage *out, size_t max);

/*
 * --advertise ARG: "IP" (the tunnel's port) or "IP:PORT" / "[IPv6]:PORT",
 * into *OUT (port 0 for "IP"). -EINVAL with ERR when it does not parse or
 * names an address no peer would probe (zt_cand_class).
 */
int zt_cand_parse_advertise(const char *arg, struct sockaddr_storage *out, char *err,
			    size_t errlen);

/* SS as 16 bytes (IPv4-mapped) and its port (host order); false if neither IPv4 nor IPv6. */
bool zt_cand_addr(const struct sockaddr_storage *ss, uint8_t addr[16], uint16_t *port);

#endif
