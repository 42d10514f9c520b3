// SPDX-License-Identifier: GPL-2.0-only
/*
 * The TUN device (tun.h): created or adopted, addresses, MTU and routes over
 * netlink, offloaded reads cut and writes coalesced (offload.c). Used by
 * roles/client.c and roles/connector.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "netdev/offload.h"
#include "netdev/tun.h"

/* A read: the vnet header and the largest (GSO) IP packet. */
#define READ_BUF	(ZT_VNET_HDR_LEN + 65535)

struct zt_tun {
	int fd;
	int ifindex;
	char name[IFNAMSIZ];
	struct zt_prefix *routes;	/* what we installed */
	bool has_src;			/* IPv4 routes carry this preferred source */
	uint8_t src4[4];
	size_t nroutes;
	struct zt_tun_stats st;
	bool tso;			/* the kernel may hand us TCP super-packets */
	uint8_t *rbuf;			/* READ_BUF */
	/* Queued writes (zt_tun_queue): the caller's buffers, until zt_tun_flush. */
	struct iovec wq[ZT_TUN_WRITE_BATCH];
	size_t nwq;
};

/* ---- rtnetlink: one request, one ack ---- */

struct nl_req {
	struct nlmsghdr nh;
	char buf[512];
};

static void *nl_tail(struct nl_req *r)
{
	return (char *)r + NLMSG_ALIGN(r->nh.nlmsg_len);
}

static int nl_attr(struct nl_req *r, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = nl_tail(r);
	size_t total = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_SPACE(len);

	if (total > sizeof(*r))
		return -ENOSPC;
	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	r->nh.nlmsg_len = (uint32_t)total;
	return 0;
}

/* Send R and wait for its ack. 0 or the kernel's -errno. */
static int nl_talk(struct nl_req *r)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[4096];
	ssize_t n;
	int fd, ret;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	r->nh.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	r->nh.nlmsg_seq = 1;
	if (sendto(fd, r, r->nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		struct nlmsghdr *h;

		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				ret = e->error;	/* 0 is the ack */
				goto out;
			}
		}
	}
out:
	close(fd);
	return ret;
}

static int link_up(int ifindex)
{
	struct nl_req r = { 0 };
	struct ifinfomsg *ifi;

	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(*ifi));
	r.nh.nlmsg_type = RTM_NEWLINK;
	ifi = NLMSG_DATA(&r.nh);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return nl_talk(&r);
}

/* IFLA_MTU on the link: the inner MTU the tunnel can carry. */
static int link_set_mtu(int ifindex, uint32_t mtu)
{
	struct nl_req r = { 0 };
	struct ifinfomsg *ifi;
	int ret;

	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(*ifi));
	r.nh.nlmsg_type = RTM_NEWLINK;
	ifi = NLMSG_DATA(&r.nh);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ret = nl_attr(&r, IFLA_MTU, &mtu, sizeof(mtu));
	return ret ? ret : nl_talk(&r);
}

int zt_tun_set_group(struct zt_tun *t, uint32_t group, char *err, size_t errlen)
{
	struct nl_req r = { 0 };
	struct ifinfomsg *ifi;
	int ret;

	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(*ifi));
	r.nh.nlmsg_type = RTM_NEWLINK;
	ifi = NLMSG_DATA(&r.nh);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = t->ifindex;
	ret = nl_attr(&r, IFLA_GROUP, &group, sizeof(group));
	if (!ret)
		ret = nl_talk(&r);
	if (ret)
		snprintf(err, errlen, "%s: interface group %u: %s", t->name, group, strerror(-ret));
	return ret;
}

int zt_tun_set_mtu(struct zt_tun *t, uint32_t mtu, char *err, size_t errlen)
{
	int ret = link_set_mtu(t->ifindex, mtu);

	if (ret)
		snprintf(err, errlen, "%s: MTU %u: %s", t->name, mtu, strerror(-ret));
	return ret;
}

static int family_len(const struct zt_prefix *p, const uint8_t **addr)
{
	*addr = p->family == AF_INET ? p->addr + 12 : p->addr;
	return p->family == AF_INET ? 4 : 16;
}

int zt_tun_add_addr(struct zt_tun *t, const struct zt_prefix *a, char *err, size_t errlen)
{
	struct nl_req r = { 0 };
	struct ifaddrmsg *ifa;
	const uint8_t *addr;
	int alen = family_len(a, &addr), ret;
	char text[64];

	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(*ifa));
	r.nh.nlmsg_type = RTM_NEWADDR;
	r.nh.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	ifa = NLMSG_DATA(&r.nh);
	ifa->ifa_family = a->family;
	ifa->ifa_prefixlen = a->len;
	ifa->ifa_index = (unsigned int)t->ifindex;
	ret = nl_attr(&r, IFA_LOCAL, addr, (size_t)alen);
	if (!ret)
		ret = nl_attr(&r, IFA_ADDRESS, addr, (size_t)alen);
	if (!ret && a->family == AF_INET6) {
		uint32_t flags = IFA_F_NODAD;

		ret = nl_attr(&r, IFA_FLAGS, &flags, sizeof(flags));
	}
	if (!ret)
		ret = nl_talk(&r);
	if (ret == -EEXIST)
		ret = 0;
	if (ret) {
		zt_prefix_format(a, text, sizeof(text));
		snprintf(err, errlen, "adding address %s to %s: %s", text, t->name, strerror(-ret));
	}
	return ret;
}

static int route_msg(struct zt_tun *t, const struct zt_prefix *p, bool add)
{
	struct nl_req r = { 0 };
	struct rtmsg *rtm;
	const uint8_t *addr;
	int alen = family_len(p, &addr), ret;
	uint32_t oif = (uint32_t)t->ifindex;

	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(*rtm));
	r.nh.nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	r.nh.nlmsg_flags = add ? NLM_F_CREATE | NLM_F_REPLACE : 0;
	rtm = NLMSG_DATA(&r.nh);
	rtm->rtm_family = p->family;
	rtm->rtm_dst_len = p->len;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	ret = nl_attr(&r, RTA_DST, addr, (size_t)alen);
	if (!ret)
		ret = nl_attr(&r, RTA_OIF, &oif, sizeof(oif));
	if (!ret && add && t->has_src && p->family == AF_INET)
		ret = nl_attr(&r, RTA_PREFSRC, t->src4, sizeof(t->src4));
	if (!ret)
		ret = nl_talk(&r);
	if (!add && ret == -ESRCH)
		ret = 0;	/* already gone (the device went down, say) */
	return ret;
}

void zt_tun_set_route_src(struct zt_tun *t, const struct in_addr *src)
{
	t->has_src = src != NULL;
	if (src)
		memcpy(t->src4, &src->s_addr, 4);
}

static bool has_route(const struct zt_prefix *set, size_t n, const struct zt_prefix *p)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (zt_prefix_equal(&set[i], p))
			return true;
	return false;
}

int zt_tun_set_routes(struct zt_tun *t, const struct zt_prefix *routes, size_t n,
		      char *err, size_t errlen)
{
	struct zt_prefix *next;
	size_t i, nnext = 0;
	char text[64];
	int ret = 0;

	next = calloc(n + t->nroutes + 1, sizeof(*next));
	if (!next) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* Add first, then remove: a route that stays never blinks. */
	for (i = 0; i < n; i++) {
		if (has_route(next, nnext, &routes[i]))
			continue;
		if (!has_route(t->routes, t->nroutes, &routes[i])) {
			ret = route_msg(t, &routes[i], true);
			if (ret) {
				zt_prefix_format(&routes[i], text, sizeof(text));
				snprintf(err, errlen, "adding route %s dev %s: %s", text, t->name,
					 strerror(-ret));
				break;
			}
		}
		next[nnext++] = routes[i];
	}
	for (i = 0; i < t->nroutes; i++) {
		if (has_route(next, nnext, &t->routes[i]))
			continue;
		if (ret) {
			/* Keep recording what is installed. */
			next[nnext++] = t->routes[i];
			continue;
		}
		ret = route_msg(t, &t->routes[i], false);
		if (ret) {
			zt_prefix_format(&t->routes[i], text, sizeof(text));
			snprintf(err, errlen, "removing route %s dev %s: %s", text, t->name,
				 strerror(-ret));
			next[nnext++] = t->routes[i];
		}
	}
	free(t->routes);
	t->routes = next;
	t->nroutes = nnext;
	return ret;
}

size_t zt_tun_route_count(const struct zt_tun *t)
{
	return t->nroutes;
}

int zt_tun_open(const char *name, struct zt_tun **out, char *err, size_t errlen)
{
	struct ifreq ifr = { 0 };
	struct zt_tun *t;
	int ret;

	if (strlen(name) >= IFNAMSIZ || !*name) {
		snprintf(err, errlen, "invalid interface name '%s'", name);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (t->fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "/dev/net/tun: %s", strerror(errno));
		goto fail;
	}
	t->rbuf = malloc(READ_BUF);
	if (!t->rbuf) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* Every read and write starts with a virtio_net_hdr (offload.h). */
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(t->fd, TUNSETIFF, &ifr)) {
		ret = -errno;
		snprintf(err, errlen, "creating TUN %s: %s", name, strerror(errno));
		goto fail;
	}
	if (ioctl(t->fd, TUNSETPERSIST, 1)) {
		ret = -errno;
		snprintf(err, errlen, "TUN %s: persist: %s", name, strerror(errno));
		goto fail;
	}
	/*
	 * TCP super-packets and partial checksums from the kernel: one read per
	 * 64 KB of a bulk sender instead of one per MTU. Without it (an old
	 * kernel) every packet still comes whole, behind a plain vnet header.
	 */
	t->tso = ioctl(t->fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) == 0;
	snprintf(t->name, sizeof(t->name), "%s", ifr.ifr_name);
	t->ifindex = (int)if_nametoindex(t->name);
	if (!t->ifindex) {
		ret = -errno;
		snprintf(err, errlen, "TUN %s: %s", t->name, strerror(errno));
		goto fail_persist;
	}
	ret = link_up(t->ifindex);
	if (ret) {
		snprintf(err, errlen, "bringing %s up: %s", t->name, strerror(-ret));
		goto fail_persist;
	}
	*out = t;
	return 0;

fail_persist:
	ioctl(t->fd, TUNSETPERSIST, 0);
fail:
	if (t->fd >= 0)
		close(t->fd);
	free(t->rbuf);
	free(t);
	return ret;
}

int zt_tun_fd(const struct zt_tun *t)
{
	return t->fd;
}

const char *zt_tun_name(const struct zt_tun *t)
{
	return t->name;
}

struct split_ctx {
	struct zt_tun *t;
	zt_tun_visit_fn visit;
	void *ctx;
};

static void split_visit(const uint8_t *pkt, size_t len, void *arg)
{
	struct split_ctx *sc = arg;

	sc->t->st.rx_packets++;
	sc->t->st.rx_bytes += len;
	if (sc->visit)
		sc->visit(pkt, len, sc->ctx);
}

int zt_tun_drain(struct zt_tun *t, zt_tun_visit_fn visit, void *ctx)
{
	struct split_ctx sc = { .t = t, .visit = visit, .ctx = ctx };
	int count = 0, n_pkts;

	/* Bounded per wakeup so one busy TUN cannot starve DNS and control. */
	while (count < 256) {
		ssize_t n = read(t->fd, t->rbuf, READ_BUF);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		if (n == 0)
			break;
		n_pkts = zt_offload_split(t->rbuf, (size_t)n, split_visit, &sc);
		if (n_pkts < 0)
			t->st.rx_malformed++;
		else
			count += n_pkts;
	}
	return count;
}

/* Write IOV (N entries, the vnet header first), counting PKTS packets of BYTES. */
static int write_iov(struct zt_tun *t, const struct iovec *iov, int n, uint64_t pkts,
		     uint64_t bytes)
{
	ssize_t w;

	do
		w = writev(t->fd, iov, n);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		t->st.tx_dropped += pkts;
		return -errno;
	}
	t->st.tx_packets += pkts;
	t->st.tx_bytes += bytes;
	return 0;
}

static int write_one(struct zt_tun *t, const uint8_t *pkt, size_t len)
{
	struct virtio_net_hdr vh = { 0 };	/* no offload: the kernel checks the checksums */
	const struct iovec iov[2] = {
		{ .iov_base = &vh, .iov_len = sizeof(vh) },
		{ .iov_base = (void *)pkt, .iov_len = len },
	};

	return write_iov(t, iov, 2, 1, len);
}

void zt_tun_flush(struct zt_tun *t)
{
	struct iovec iov[2 + ZT_OFFLOAD_SEGS_MAX];
	uint8_t hdr[ZT_OFFLOAD_HDR_MAX];
	struct virtio_net_hdr vh;
	size_t i = 0, k, run, hdrlen;
	uint64_t bytes;

	while (i < t->nwq) {
		run = zt_offload_coalesce(t->wq + i, t->nwq - i, &vh, hdr, &hdrlen);
		if (run == 1) {
			write_one(t, t->wq[i].iov_base, t->wq[i].iov_len);
			i++;
			continue;
		}
		/* One super-packet: our header, then each segment's payload where it lies. */
		iov[0] = (struct iovec){ .iov_base = &vh, .iov_len = sizeof(vh) };
		iov[1] = (struct iovec){ .iov_base = hdr, .iov_len = hdrlen };
		bytes = 0;
		for (k = 0; k < run; k++) {
			const struct iovec *p = &t->wq[i + k];

			iov[2 + k] = (struct iovec){ .iov_base = (uint8_t *)p->iov_base + hdrlen,
						     .iov_len = p->iov_len - hdrlen };
			bytes += p->iov_len;
		}
		write_iov(t, iov, (int)(2 + run), run, bytes);
		t->st.tx_coalesced += run;
		i += run;
	}
	t->nwq = 0;
}

int zt_tun_queue(struct zt_tun *t, const uint8_t *pkt, size_t len)
{
	if (t->nwq == ZT_TUN_WRITE_BATCH)
		zt_tun_flush(t);
	t->wq[t->nwq++] = (struct iovec){ .iov_base = (void *)pkt, .iov_len = len };
	return 0;
}

void zt_tun_stats(const struct zt_tun *t, struct zt_tun_stats *st)
{
	*st = t->st;
}

void zt_tun_close(struct zt_tun *t, bool destroy)
{
	if (!t)
		return;
	if (destroy)
		ioctl(t->fd, TUNSETPERSIST, 0);	/* the last close now deletes it */
	zt_tun_flush(t);
	close(t->fd);
	free(t->routes);
	free(t->rbuf);
	free(t);
}
