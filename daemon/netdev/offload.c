// SPDX-License-Identifier: GPL-2.0-only
/* TUN offloads (offload.h): TSO segmentation on read, TCP coalescing on write. */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "lib/bytes.h"
#include "lib/csum.h"
#include "netdev/offload.h"

#define IPV4_HLEN	20	/* we coalesce only IPv4 without options */
#define IPV6_HLEN	40
#define TCP_HLEN_MIN	20
#define TCP_OFF_SEQ	4
#define TCP_OFF_ACK	8
#define TCP_OFF_FLAGS	13
#define TCP_OFF_CSUM	16

#define TCP_FIN		0x01
#define TCP_SYN		0x02
#define TCP_RST		0x04
#define TCP_PSH		0x08
#define TCP_ACK		0x10
#define TCP_URG		0x20
#define TCP_CWR		0x80

/* The TCP pseudo-header's sum for the IP header IP (v4 or v6) and TCPLEN bytes of TCP. */
static uint16_t pseudo_sum(const uint8_t *ip, bool v4, size_t tcplen)
{
	uint16_t s = v4 ? zt_csum_add(0, ip + 12, 8) : zt_csum_add(0, ip + 8, 32);

	return zt_csum_add_value(zt_csum_add_value(s, IPPROTO_TCP), (uint32_t)tcplen);
}

/* A packet with no GSO: complete a partial checksum if it has one. */
static int finish_csum(const struct virtio_net_hdr *vh, uint8_t *pkt, size_t len)
{
	size_t start = le16toh(vh->csum_start), off = le16toh(vh->csum_offset);
	uint16_t c;

	if (!(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return 0;
	if (start > len || off + 2 > len - start)
		return -EINVAL;
	/* The field holds the pseudo-header's sum: summing over it adds it in. */
	c = (uint16_t)~zt_csum_add(0, pkt + start, len - start);
	zt_put_be16(pkt + start + off, c ? c : 0xffff);	/* as skb_checksum_help: 0 means "none" to UDP */
	return 0;
}

static int split_tcp(const struct virtio_net_hdr *vh, bool v4, uint8_t *pkt, size_t len,
		     zt_offload_visit_fn visit, void *ctx)
{
	uint8_t hdr[ZT_OFFLOAD_HDR_MAX];
	size_t gso = le16toh(vh->gso_size), cs = le16toh(vh->csum_start);
	size_t thl, hlen, paylen, nseg, i;
	uint32_t seq;
	uint16_t id;
	uint8_t flags;

	if (!gso)
		return -EINVAL;
	if (v4) {
		if (len < IPV4_HLEN || pkt[0] >> 4 != 4 || (size_t)(pkt[0] & 0xf) * 4 != cs ||
		    cs < IPV4_HLEN || pkt[9] != IPPROTO_TCP)
			return -EINVAL;
	} else if (len < IPV6_HLEN || pkt[0] >> 4 != 6 || cs != IPV6_HLEN || pkt[6] != IPPROTO_TCP) {
		return -EINVAL;	/* extension headers: not segmented here */
	}
	if (cs + TCP_HLEN_MIN > len)
		return -EINVAL;
	thl = (size_t)(pkt[cs + 12] >> 4) * 4;
	hlen = cs + thl;
	if (thl < TCP_HLEN_MIN || hlen > len || hlen > sizeof(hdr))
		return -EINVAL;
	paylen = len - hlen;
	nseg = paylen ? (paylen + gso - 1) / gso : 1;
	memcpy(hdr, pkt, hlen);
	seq = zt_get_be32(hdr + cs + TCP_OFF_SEQ);
	flags = hdr[cs + TCP_OFF_FLAGS];
	id = zt_get_be16(hdr + 4);

	for (i = 0; i < nseg; i++) {
		size_t off = i * gso, seglen = paylen - off < gso ? paylen - off : gso;
		/* Segment i's header goes right before its payload, over segments already visited. */
		uint8_t *s = pkt + off, *th = s + cs;
		uint8_t f = flags;

		if (i)
			memcpy(s, hdr, hlen);
		if (v4) {
			zt_put_be16(s + 2, (uint16_t)(hlen + seglen));
			zt_put_be16(s + 4, (uint16_t)(id + i));
			zt_put_be16(s + 10, 0);
			zt_put_be16(s + 10, (uint16_t)~zt_csum_add(0, s, cs));
		} else {
			zt_put_be16(s + 4, (uint16_t)(hlen - IPV6_HLEN + seglen));
		}
		zt_put_be32(th + TCP_OFF_SEQ, seq + (uint32_t)off);
		if (i + 1 < nseg)
			f &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (i)
			f &= (uint8_t)~TCP_CWR;
		th[TCP_OFF_FLAGS] = f;
		zt_put_be16(th + TCP_OFF_CSUM, 0);
		zt_put_be16(th + TCP_OFF_CSUM,
		      (uint16_t)~zt_csum_add(pseudo_sum(s, v4, thl + seglen), th, thl + seglen));
		visit(s, hlen + seglen, ctx);
	}
	return (int)nseg;
}

int zt_offload_split(uint8_t *buf, size_t len, zt_offload_visit_fn visit, void *ctx)
{
	struct virtio_net_hdr vh;
	uint8_t *pkt = buf + ZT_VNET_HDR_LEN;
	size_t plen;

	if (len < ZT_VNET_HDR_LEN)
		return -EINVAL;
	memcpy(&vh, buf, sizeof(vh));
	plen = len - ZT_VNET_HDR_LEN;
	switch (vh.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		if (finish_csum(&vh, pkt, plen))
			return -EINVAL;
		visit(pkt, plen, ctx);
		return 1;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return split_tcp(&vh, true, pkt, plen, visit, ctx);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return split_tcp(&vh, false, pkt, plen, visit, ctx);
	default:
		return -EINVAL;
	}
}

/* ---- coalescing ---- */

struct seg {
	const uint8_t *p;
	size_t len;		/* = IP total length */
	size_t thl;
	size_t paylen;
	uint32_t seq;
	uint8_t flags;
};

/* Cheap checks: a TCP/IPv4 data segment, no IP options, no fragment, nothing special. */
static bool seg_parse(const struct iovec *v, struct seg *s)
{
	const uint8_t *p = v->iov_base;
	size_t len = v->iov_len;

	if (len < IPV4_HLEN + TCP_HLEN_MIN || p[0] != 0x45 || p[9] != IPPROTO_TCP ||
	    (zt_get_be16(p + 6) & 0x3fff) || zt_get_be16(p + 2) != len)
		return false;
	s->p = p;
	s->len = len;
	s->thl = (size_t)(p[IPV4_HLEN + 12] >> 4) * 4;
	if (s->thl < TCP_HLEN_MIN || IPV4_HLEN + s->thl >= len)
		return false;	/* no payload: nothing to merge */
	s->paylen = len - IPV4_HLEN - s->thl;
	s->seq = zt_get_be32(p + IPV4_HLEN + TCP_OFF_SEQ);
	s->flags = p[IPV4_HLEN + TCP_OFF_FLAGS];
	return (s->flags & TCP_ACK) &&
	       !(s->flags & (TCP_SYN | TCP_RST | TCP_URG | TCP_FIN | TCP_CWR));
}

/* Both checksums right: a run is written with a partial checksum the kernel completes. */
static bool seg_csum_ok(const struct seg *s)
{
	size_t tcplen = s->len - IPV4_HLEN;

	return zt_csum_add(0, s->p, IPV4_HLEN) == 0xffff &&
	       zt_csum_add(pseudo_sum(s->p, true, tcplen), s->p + IPV4_HLEN, tcplen) == 0xffff;
}

/* What tcp_gro_receive() asks before merging C after PREV in the run started by F. */
static bool seg_follows(const struct seg *f, const struct seg *prev, const struct seg *c)
{
	const uint8_t *a = f->p, *b = c->p;

	return !memcmp(a + 12, b + 12, 8) &&				/* addresses */
	       !memcmp(a + IPV4_HLEN, b + IPV4_HLEN, 4) &&		/* ports */
	       a[1] == b[1] && a[8] == b[8] &&				/* TOS, TTL */
	       (a[6] & 0x40) == (b[6] & 0x40) &&			/* DF */
	       f->thl == c->thl &&
	       !memcmp(a + IPV4_HLEN + TCP_OFF_ACK, b + IPV4_HLEN + TCP_OFF_ACK, 4) &&
	       !memcmp(a + IPV4_HLEN + TCP_HLEN_MIN, b + IPV4_HLEN + TCP_HLEN_MIN,
		       f->thl - TCP_HLEN_MIN) &&			/* options */
	       !((f->flags ^ c->flags) & ~TCP_PSH) &&
	       !(prev->flags & TCP_PSH) &&
	       c->seq == prev->seq + (uint32_t)prev->paylen &&
	       prev->paylen == f->paylen && c->paylen <= f->paylen;
}

size_t zt_offload_coalesce(const struct iovec *pkts, size_t n, struct virtio_net_hdr *vnet,
			   uint8_t *hdr, size_t *hdrlen)
{
	struct seg f, prev, c;
	size_t count = 1, total, hl;

	memset(vnet, 0, sizeof(*vnet));
	if (n < 2 || !seg_parse(&pkts[0], &f))
		return 1;
	hl = IPV4_HLEN + f.thl;
	total = f.len;
	prev = f;
	while (count < n && count < ZT_OFFLOAD_SEGS_MAX) {
		if (!seg_parse(&pkts[count], &c) || !seg_follows(&f, &prev, &c) ||
		    total + c.paylen > 65535)
			break;
		if (count == 1 && !seg_csum_ok(&f))
			return 1;
		if (!seg_csum_ok(&c))
			break;
		total += c.paylen;
		prev = c;
		count++;
	}
	if (count == 1)
		return 1;

	memcpy(hdr, f.p, hl);
	zt_put_be16(hdr + 2, (uint16_t)total);
	zt_put_be16(hdr + 10, 0);
	zt_put_be16(hdr + 10, (uint16_t)~zt_csum_add(0, hdr, IPV4_HLEN));
	hdr[IPV4_HLEN + TCP_OFF_FLAGS] |= prev.flags & TCP_PSH;
	/* CHECKSUM_PARTIAL: the field holds the pseudo-header's sum, not inverted. */
	zt_put_be16(hdr + IPV4_HLEN + TCP_OFF_CSUM, pseudo_sum(hdr, true, total - IPV4_HLEN));
	vnet->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vnet->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	vnet->hdr_len = htole16((uint16_t)hl);
	vnet->gso_size = htole16((uint16_t)f.paylen);
	vnet->csum_start = htole16(IPV4_HLEN);
	vnet->csum_offset = htole16(TCP_OFF_CSUM);
	*hdrlen = hl;
	return count;
}
