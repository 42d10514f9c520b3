// SPDX-License-Identifier: GPL-2.0-only
/*
 * Which addresses are path candidates (cand.h; docs/SECURITY.md "Path
 * candidates"): the classes no peer may make us probe, the LAN rule for
 * private addresses, and the view of our interfaces both rest on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "path/cand.h"

#define UPLINKS_MAX	8		/* interfaces holding a default route, or an --advertise address */
#define RTF_UP_FLAG	0x0001		/* <linux/route.h> RTF_UP, RTF_REJECT: not included by */
#define RTF_REJECT_FLAG	0x0200		/* libc headers without pulling the kernel's in */

bool zt_cand_addr(const struct sockaddr_storage *ss, uint8_t addr[16], uint16_t *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		zt_addr_from_v4(addr, sin->sin_addr.s_addr);
		*port = ntohs(sin->sin_port);
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		memcpy(addr, &sin6->sin6_addr, 16);
		*port = ntohs(sin6->sin6_port);
		return true;
	}
	return false;
}

static enum zt_cand_why class_v4(const uint8_t *a)
{
	if (a[0] == 0)
		return ZT_CAND_UNSPECIFIED;		/* 0.0.0.0/8: "this network" */
	if (a[0] == 127)
		return ZT_CAND_LOOPBACK;
	if (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255)
		return ZT_CAND_BROADCAST;
	if (a[0] >= 224 && a[0] < 240)
		return ZT_CAND_MULTICAST;
	if (a[0] >= 240)
		return ZT_CAND_RESERVED;
	if (a[0] == 169 && a[1] == 254)
		return ZT_CAND_LINK_LOCAL;		/* cloud metadata lives here */
	/*
	 * 100.64.0.0/10: ztgate's devices (100.64/12), fake IPs (100.96/12)
	 * and DNS (100.95.0.251). A peer's address there is a tunnel's, never a
	 * path to it; a carrier-grade NAT's inside is never shared with a
	 * connector either.
	 */
	if (a[0] == 100 && (a[1] & 0xc0) == 64)
		return ZT_CAND_ZTGATE;
	return ZT_CAND_OK;
}

static enum zt_cand_why class_v6(const uint8_t *a)
{
	static const uint8_t zero[16], one[16] = { [15] = 1 };

	if (!memcmp(a, zero, 16))
		return ZT_CAND_UNSPECIFIED;
	if (!memcmp(a, one, 16))
		return ZT_CAND_LOOPBACK;
	if (a[0] == 0xff)
		return ZT_CAND_MULTICAST;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return ZT_CAND_LINK_LOCAL;		/* needs a scope the peer cannot know */
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
		return ZT_CAND_RESERVED;		/* site-local, deprecated */
	if (!memcmp(a, zero, 12))
		return ZT_CAND_RESERVED;		/* IPv4-compatible, deprecated */
	return ZT_CAND_OK;
}

enum zt_cand_why zt_cand_class(const uint8_t addr[16], const struct zt_prefix *deny, size_t ndeny)
{
	enum zt_cand_why why = zt_addr_is_v4(addr) ? class_v4(addr + 12) : class_v6(addr);

	for (size_t i = 0; !why && i < ndeny; i++)
		if (zt_prefix_contains(&deny[i], addr))
			why = ZT_CAND_ZTGATE;
	return why;
}

/* RFC 1918 and ULA: addresses that mean something only on their own network. */
static bool is_private(const uint8_t addr[16])
{
	const uint8_t *a = addr + 12;

	if (!zt_addr_is_v4(addr))
		return (addr[0] & 0xfe) == 0xfc;
	return a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168);
}

/* IPv4 ADDR in L's subnet (of at most 30 bits) with host bits all zero or all one. */
static bool subnet_edge(const struct zt_cand_local *l, const uint8_t addr[16])
{
	uint32_t a, mask;

	if (l->net.family != AF_INET || l->net.len > 30 || !zt_prefix_contains(&l->net, addr))
		return false;
	memcpy(&a, addr + 12, 4);
	a = ntohl(a);
	mask = l->net.len ? ~0u << (32 - l->net.len) : 0;
	return (a & ~mask) == 0 || (a & ~mask) == ~mask;
}

static bool same_family(const struct zt_cand_local *l, const uint8_t addr[16])
{
	return (l->net.family == AF_INET) == zt_addr_is_v4(addr);
}

enum zt_cand_why zt_cand_check(const struct zt_cand_view *v, const struct sockaddr_storage *c)
{
	bool on_lan = false, on_side = false;
	enum zt_cand_why why;
	uint8_t addr[16];
	uint16_t port;

	if (!zt_cand_addr(c, addr, &port) || !port)
		return ZT_CAND_PORT;
	why = zt_cand_class(addr, v->deny, v->ndeny);
	if (why == ZT_CAND_LOOPBACK && v->allow_loopback)
		return ZT_CAND_OK;
	if (why)
		return why;
	for (size_t i = 0; i < v->n; i++) {
		const struct zt_cand_local *l = &v->a[i];

		if (!same_family(l, addr))
			continue;
		/* Our own address: a probe would go to whatever else listens on that port here. */
		if (!memcmp(l->net.addr, addr, 16))
			return ZT_CAND_OURS;
		if (subnet_edge(l, addr))
			return ZT_CAND_BROADCAST;
		if (l->loopback || !zt_prefix_contains(&l->net, addr))
			continue;
		if (l->lan)
			on_lan = true;
		else
			on_side = true;
	}
	/* A subnet of the TUN or of the private side: never a path to a peer, always a target. */
	if (on_side)
		return ZT_CAND_PRIVATE_SIDE;
	/* A private address means something only on our own LAN (the hairpin, same-LAN peers). */
	if (is_private(addr) && !on_lan)
		return ZT_CAND_NOT_LAN;
	return ZT_CAND_OK;
}

const char *zt_cand_why_name(enum zt_cand_why why)
{
	static const char *const names[] = {
		[ZT_CAND_OK] = "ok", [ZT_CAND_PORT] = "port", [ZT_CAND_UNSPECIFIED] = "unspecified",
		[ZT_CAND_LOOPBACK] = "loopback", [ZT_CAND_MULTICAST] = "multicast",
		[ZT_CAND_BROADCAST] = "broadcast", [ZT_CAND_LINK_LOCAL] = "link-local",
		[ZT_CAND_RESERVED] = "reserved", [ZT_CAND_ZTGATE] = "ztgate-range",
		[ZT_CAND_OURS] = "ours", [ZT_CAND_PRIVATE_SIDE] = "private-side",
		[ZT_CAND_NOT_LAN] = "private-not-on-lan", [ZT_CAND_OVER_CAP] = "over-cap",
		[ZT_CAND_UNCHECKED] = "unchecked",
	};

	return (unsigned int)why < sizeof(names) / sizeof(names[0]) && names[why] ? names[why] : "?";
}

/* ---- our interfaces ---- */

struct names {
	char n[UPLINKS_MAX][IF_NAMESIZE];
	size_t count;
};

static void names_add(struct names *ns, const char *name)
{
	for (size_t i = 0; i < ns->count; i++)
		if (!strcmp(ns->n[i], name))
			return;
	if (ns->count < UPLINKS_MAX)
		snprintf(ns->n[ns->count++], IF_NAMESIZE, "%s", name);
}

static bool names_has(const struct names *ns, const char *name)
{
	for (size_t i = 0; i < ns->count; i++)
		if (!strcmp(ns->n[i], name))
			return true;
	return false;
}

/*
 * The interfaces that hold a default route in our network namespace (the
 * uplinks), from /proc: the routing tables as the kernel exports them,
 * without a netlink dump for something read once per candidates message.
 */
static void default_route_links(struct names *ns)
{
	char line[256], ifname[IF_NAMESIZE + 1], dest[40];
	unsigned int d, mask, flags, len;
	FILE *f = fopen("/proc/net/route", "re");

	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%16s %x %*x %x %*d %*d %*d %x", ifname, &d, &flags, &mask) == 4 &&
			    !d && !mask && (flags & RTF_UP_FLAG) && !(flags & RTF_REJECT_FLAG))
				names_add(ns, ifname);
		fclose(f);
	}
	f = fopen("/proc/net/ipv6_route", "re");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%39s %x %*s %*s %*s %*s %*s %*s %x %16s", dest, &len, &flags,
				   ifname) == 4 && !len && strspn(dest, "0") == 32 &&
			    (flags & RTF_UP_FLAG) && !(flags & RTF_REJECT_FLAG) && strcmp(ifname, "lo"))
				names_add(ns, ifname);
		fclose(f);
	}
}

static unsigned int mask_len(const struct sockaddr *mask, int family)
{
	const uint8_t *m;
	unsigned int n = family == AF_INET ? 4 : 16, bits = 0;

	if (!mask)
		return n * 8;
	m = family == AF_INET ? (const uint8_t *)&((const struct sockaddr_in *)(const void *)mask)->sin_addr :
				(const uint8_t *)&((const struct sockaddr_in6 *)(const void *)mask)->sin6_addr;
	for (unsigned int i = 0; i < n; i++)
		bits += (unsigned int)__builtin_popcount(m[i]);
	return bits;
}

/* IFA's address as a subnet of ours; false if neither IPv4 nor IPv6. */
static bool local_net(const struct ifaddrs *ifa, struct zt_prefix *net)
{
	struct sockaddr_storage ss = { 0 };
	uint16_t port;
	size_t len = ifa->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in) :
		     sizeof(struct sockaddr_in6);

	if (ifa->ifa_addr->sa_family != AF_INET && ifa->ifa_addr->sa_family != AF_INET6)
		return false;
	memcpy(&ss, ifa->ifa_addr, len);
	zt_cand_addr(&ss, net->addr, &port);
	net->family = (uint8_t)ifa->ifa_addr->sa_family;
	net->len = (uint8_t)mask_len(ifa->ifa_netmask, ifa->ifa_addr->sa_family);
	return true;
}

/* The links that hold an --advertise address: operator-named uplinks. */
static void advertise_links(const struct zt_cand_cfg *cfg, const struct ifaddrs *ifa,
			    struct names *ns)
{
	for (const struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		struct zt_prefix net;

		if (!i->ifa_addr || !local_net(i, &net))
			continue;
		for (size_t k = 0; k < cfg->nadvertise; k++) {
			uint8_t a[16];
			uint16_t port;

			if (zt_cand_addr(&cfg->advertise[k], a, &port) && !memcmp(a, net.addr, 16))
				names_add(ns, i->ifa_name);
		}
	}
}

int zt_cand_view_read(const struct zt_cand_cfg *cfg, struct zt_cand_view *v)
{
	struct names uplinks = { .count = 0 };
	struct ifaddrs *ifa;

	memset(v, 0, sizeof(*v));
	v->deny = cfg->deny;
	v->ndeny = cfg->ndeny;
	v->allow_loopback = cfg->include_loopback;
	if (getifaddrs(&ifa))
		return -errno;
	if (cfg->nadvertise)
		advertise_links(cfg, ifa, &uplinks);
	else if (cfg->uplink_only)
		default_route_links(&uplinks);
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		struct zt_cand_local *l = &v->a[v->n];

		if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) ||
		    (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
			continue;
		if (v->n == ZT_CAND_LOCAL_MAX) {
			v->n = 0;
			freeifaddrs(ifa);
			return -E2BIG;
		}
		local_net(i, &l->net);
		l->loopback = i->ifa_flags & IFF_LOOPBACK;
		l->tun = cfg->tun_name && !strcmp(i->ifa_name, cfg->tun_name);
		if (l->loopback)
			l->lan = cfg->include_loopback;
		else if (l->tun || cfg->advertise_none)
			l->lan = false;
		else if (cfg->nadvertise || cfg->uplink_only)
			l->lan = names_has(&uplinks, i->ifa_name);
		else
			l->lan = true;
		v->n++;
	}
	freeifaddrs(ifa);
	return 0;
}

size_t zt_cand_local_list(const struct zt_cand_view *v, bool include_loopback, int port,
			  struct sockaddr_storage *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < v->n && n < max; i++) {
		const struct zt_cand_local *l = &v->a[i];
		enum zt_cand_why why;

		if (!l->lan || l->tun)
			continue;
		why = zt_cand_class(l->net.addr, v->deny, v->ndeny);
		if (why && !(why == ZT_CAND_LOOPBACK && include_loopback))
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		if (l->net.family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&out[n];

			sin->sin_family = AF_INET;
			sin->sin_port = htons((uint16_t)port);
			memcpy(&sin->sin_addr, l->net.addr + 12, 4);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out[n];

			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons((uint16_t)port);
			memcpy(&sin6->sin6_addr, l->net.addr, 16);
		}
		n++;
	}
	return n;
}

int zt_cand_parse_advertise(const char *arg, struct sockaddr_storage *out, char *err,
			    size_t errlen)
{
	struct zt_endpoint ep = { .port = 0 };
	struct in6_addr a6;
	struct in_addr a4;
	enum zt_cand_why why;

	memset(out, 0, sizeof(*out));
	if (!zt_endpoint_parse(arg, &ep, err, errlen)) {
		zt_endpoint_to_sockaddr(&ep, out);
	} else if (inet_pton(AF_INET, arg, &a4) == 1) {
		ep.family = AF_INET;
		zt_addr_from_v4(ep.addr, a4.s_addr);
		((struct sockaddr_in *)out)->sin_family = AF_INET;
		((struct sockaddr_in *)out)->sin_addr = a4;
	} else if (inet_pton(AF_INET6, arg, &a6) == 1 && !zt_addr_is_v4(a6.s6_addr)) {
		ep.family = AF_INET6;
		memcpy(ep.addr, &a6, 16);
		((struct sockaddr_in6 *)out)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)out)->sin6_addr = a6;
	} else {
		snprintf(err, errlen, "expected IP, IP:PORT, [IPv6]:PORT or none");
		return -EINVAL;
	}
	why = zt_cand_class(ep.addr, NULL, 0);
	if (why) {
		snprintf(err, errlen, "a %s address: no peer would probe it", zt_cand_why_name(why));
		return -EINVAL;
	}
	return 0;
}
