// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the TUN offloads (daemon/netdev/offload.c): the
 * input is what a TUN opened with IFF_VNET_HDR hands us (a virtio_net_hdr
 * and a packet, read side) and, cut into packets, what we write to it.
 *
 * Input: byte 0 picks the mode; odd: coalesce, else split.
 *
 * Split: the rest is the virtio_net_hdr and the packet, copied into an
 * exact-size buffer (ASan sees a byte past it), after 4 bytes: byte 1 bit 0
 * set makes the harness write a consistent header (gso_type from the IP
 * version, the IP header length as csum_start, gso_size from bytes 2-3) so that the
 * segmentation runs on fuzzed packets instead of stopping at the header
 * checks. Invariants: every segment is inside the buffer, segments are
 * visited in order, lengths add up (n * header + payload), each IPv4
 * segment has a valid IP checksum and each TCP segment's checksum
 * verifies, and the count matches the return value.
 *
 * Coalesce: the rest is a list of packets, each a 2-byte length and bytes
 * (1..80 packets); byte 1 bit 0 set makes the harness fix each packet's IP
 * total length and both checksums, and bit 1 gives each packet the first
 * one's headers and the sequence number after the previous one's, so that
 * runs can form. Invariants: the
 * count is 1..min(n, 64); for a run, the header is at most
 * ZT_OFFLOAD_HDR_MAX and every packet is at least as long as it, the
 * super-packet's IP total length is the header plus every payload, and it
 * is at most 65535; the packets are not modified.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bytes.h"
#include "lib/csum.h"
#include "netdev/offload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

struct visit_ctx {
	const uint8_t *lo, *hi;		/* the packet area */
	const uint8_t *last;		/* the previous segment's start */
	size_t count, total, hlen;
	bool gso, v4;
};

static uint16_t tcp_pseudo(const uint8_t *ip, bool v4, size_t tcplen)
{
	uint16_t s = v4 ? zt_csum_add(0, ip + 12, 8) : zt_csum_add(0, ip + 8, 32);

	return zt_csum_add_value(zt_csum_add_value(s, IPPROTO_TCP), (uint32_t)tcplen);
}

static void visit(const uint8_t *pkt, size_t len, void *arg)
{
	struct visit_ctx *v = arg;

	check(pkt >= v->lo && len <= (size_t)(v->hi - pkt));
	check(!v->last || pkt > v->last);
	v->last = pkt;
	v->count++;
	v->total += len;
	if (len) {
		volatile uint8_t first = pkt[0], end = pkt[len - 1];

		(void)first, (void)end;
	}
	if (!v->gso)
		return;
	check(len >= v->hlen);
	if (v->v4) {
		size_t ihl = (size_t)(pkt[0] & 0xf) * 4;

		check(zt_csum_add(0, pkt, ihl) == 0xffff);
		if (len <= 0xffff)
			check(zt_get_be16(pkt + 2) == len);
		check(zt_csum_add(tcp_pseudo(pkt, true, len - ihl), pkt + ihl, len - ihl) == 0xffff);
	} else {
		if (len - 40 <= 0xffff)
			check(zt_get_be16(pkt + 4) == len - 40);
		check(zt_csum_add(tcp_pseudo(pkt, false, len - 40), pkt + 40, len - 40) == 0xffff);
	}
}

static void fix_header(uint8_t *buf, size_t len, uint16_t gso)
{
	struct virtio_net_hdr vh = { 0 };
	uint8_t *pkt = buf + ZT_VNET_HDR_LEN;
	size_t plen = len - ZT_VNET_HDR_LEN;

	if (!plen)
		return;
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.gso_size = htole16(gso);
	vh.csum_offset = htole16(16);
	if (pkt[0] >> 4 == 6) {
		vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
		vh.csum_start = htole16(40);
		if (plen > 6)
			pkt[6] = IPPROTO_TCP;
	} else {
		vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		pkt[0] = (uint8_t)(0x40 | (pkt[0] & 0xf));
		vh.csum_start = htole16((uint16_t)((pkt[0] & 0xf) * 4));
		if (plen > 9)
			pkt[9] = IPPROTO_TCP;
	}
	memcpy(buf, &vh, sizeof(vh));
}

static void fuzz_split(const uint8_t *data, size_t size)
{
	struct virtio_net_hdr vh;
	struct visit_ctx v = { 0 };
	uint8_t *buf;
	bool fix;
	uint16_t gso;
	int n;

	if (size < 4)
		return;
	fix = data[1] & 1;
	gso = (uint16_t)(data[2] | data[3] << 8);
	data += 4, size -= 4;
	buf = malloc(size ? size : 1);
	if (!buf)
		return;
	memcpy(buf, data, size);
	if (fix && size >= ZT_VNET_HDR_LEN)
		fix_header(buf, size, gso);
	if (size >= ZT_VNET_HDR_LEN) {
		memcpy(&vh, buf, sizeof(vh));
		v.gso = (vh.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE;
		v.v4 = (vh.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_TCPV4;
		if (v.gso && size > ZT_VNET_HDR_LEN + 12 + le16toh(vh.csum_start))
			v.hlen = le16toh(vh.csum_start) +
				 (size_t)(buf[ZT_VNET_HDR_LEN + le16toh(vh.csum_start) + 12] >> 4) * 4;
	}
	v.lo = buf + ZT_VNET_HDR_LEN;
	v.hi = buf + size;
	n = zt_offload_split(buf, size, visit, &v);
	if (n < 0) {
		check(v.count == 0);
	} else {
		size_t plen = size - ZT_VNET_HDR_LEN;

		check((size_t)n == v.count && n >= 1);
		if (v.gso)
			check(v.total == (size_t)(n - 1) * v.hlen + plen);
		else
			check(n == 1 && v.total == plen);
	}
	free(buf);
}

/* Make P (LEN bytes) a consistent TCP/IPv4 packet as far as lengths and checksums go. */
static void fix_packet(uint8_t *p, size_t len)
{
	if (len < 40)
		return;
	p[0] = 0x45;
	p[9] = IPPROTO_TCP;
	zt_put_be16(p + 2, (uint16_t)len);
	zt_put_be16(p + 10, 0);
	zt_put_be16(p + 10, (uint16_t)~zt_csum_add(0, p, 20));
	zt_put_be16(p + 36, 0);
	zt_put_be16(p + 36, (uint16_t)~zt_csum_add(tcp_pseudo(p, true, len - 20), p + 20, len - 20));
}

static void fuzz_coalesce(const uint8_t *data, size_t size)
{
	struct iovec pkts[80];
	uint8_t *copies[80];
	uint8_t hdr[ZT_OFFLOAD_HDR_MAX];
	struct virtio_net_hdr vnet;
	size_t n = 0, off, count, hdrlen = 0;
	bool fix, same;

	if (size < 2)
		return;
	fix = data[1] & 1;
	same = data[1] & 2;
	off = 2;
	while (n < 80 && size - off >= 2) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];

		off += 2;
		if (len > size - off)
			len = size - off;
		copies[n] = malloc(len ? len : 1);
		if (!copies[n])
			break;
		memcpy(copies[n], data + off, len);
		if (same && n && len >= 40 && pkts[0].iov_len >= 40) {
			/* The first one's headers, and the sequence number that follows the previous. */
			const uint8_t *f = copies[0], *pr = copies[n - 1];
			size_t hl = 20 + (size_t)(f[32] >> 4) * 4, prl = pkts[n - 1].iov_len;
			size_t prhl = prl >= 40 ? 20 + (size_t)(pr[32] >> 4) * 4 : SIZE_MAX;

			if (hl <= len && hl <= pkts[0].iov_len)
				memcpy(copies[n], f, hl);
			if (prhl <= prl)
				zt_put_be32(copies[n] + 24,
					    zt_get_be32(pr + 24) + (uint32_t)(prl - prhl));
		}
		if (fix)
			fix_packet(copies[n], len);
		pkts[n].iov_base = copies[n];
		pkts[n].iov_len = len;
		off += len;
		n++;
	}
	if (!n)
		return;
	{
		/*
		 * Keep what went in, to check nothing was written: one buffer for
		 * all (the packets together are at most the input), not one
		 * allocation each, which ASan fills and tracks at a cost that
		 * was most of a run.
		 */
		uint8_t *before = malloc(size), *b = before;

		check(before != NULL);
		for (size_t i = 0; i < n; i++, b += pkts[i - 1].iov_len)
			memcpy(b, copies[i], pkts[i].iov_len);
		count = zt_offload_coalesce(pkts, n, &vnet, hdr, &hdrlen);
		b = before;
		for (size_t i = 0; i < n; i++, b += pkts[i - 1].iov_len)
			check(!memcmp(b, copies[i], pkts[i].iov_len));
		free(before);
	}
	check(count >= 1 && count <= n && count <= ZT_OFFLOAD_SEGS_MAX);
	if (count == 1) {
		check(vnet.gso_type == VIRTIO_NET_HDR_GSO_NONE && vnet.flags == 0);
	} else {
		size_t total = hdrlen;

		check(hdrlen >= 40 && hdrlen <= ZT_OFFLOAD_HDR_MAX);
		check(le16toh(vnet.hdr_len) == hdrlen);
		for (size_t i = 0; i < count; i++) {
			check(pkts[i].iov_len >= hdrlen);
			total += pkts[i].iov_len - hdrlen;
		}
		check(total <= 65535 && zt_get_be16(hdr + 2) == total);
		check(zt_csum_add(0, hdr, 20) == 0xffff);
		/* Every segment but the last carries gso_size bytes; the last at most that. */
		for (size_t i = 0; i < count; i++) {
			size_t pl = pkts[i].iov_len - hdrlen;

			check(i + 1 < count ? pl == le16toh(vnet.gso_size) :
					      pl <= le16toh(vnet.gso_size));
		}
	}
	for (size_t i = 0; i < n; i++)
		free(copies[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] & 1)
		fuzz_coalesce(data, size);
	else
		fuzz_split(data, size);
	return 0;
}
