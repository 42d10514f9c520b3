/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * TUN offloads (docs/TUNNEL.md, "Speed"): the packet surgery that lets a
 * TUN opened with IFF_VNET_HDR hand us, and take from us, TCP
 * super-packets of up to 64 KB instead of one MTU-sized packet per
 * syscall, so the kernel's stack runs once per super-packet. The design is
 * wireguard-go's (tun_linux.go, offload_linux.go) and the kernel's own
 * GSO/GRO for TCP.
 *
 * Reading (the kernel's TSO): every packet comes after a struct
 * virtio_net_hdr. zt_offload_split() turns what it describes into plain IP
 * packets with complete checksums: a GSO TCP packet is cut into segments of
 * gso_size payload bytes (per segment: IP total length, IPv4 id and header
 * checksum, TCP sequence number, FIN/PSH only on the last, CWR only on the
 * first, TCP checksum from scratch); a packet with a partial checksum
 * (VIRTIO_NET_HDR_F_NEEDS_CSUM) gets it completed.
 *
 * Writing (our GRO): zt_offload_coalesce() finds runs of consecutive
 * segments of one TCP/IPv4 flow, as the kernel's tcp_gro_receive() would
 * merge them, and builds the header of the super-packet and its
 * virtio_net_hdr; the caller writes header and payloads with one writev.
 * Each segment's own checksum is verified before it joins a run: the
 * super-packet goes in with a partial checksum that the kernel completes,
 * so a segment that arrived with a wrong one must not be made right.
 *
 * Pure functions on buffers: no syscalls, no allocation.
 */
#ifndef ZT_OFFLOAD_H
#define ZT_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_net.h>

#define ZT_VNET_HDR_LEN		sizeof(struct virtio_net_hdr)
/* Longest IP + TCP header we segment or coalesce (IPv4: 60 + 60). */
#define ZT_OFFLOAD_HDR_MAX	128
/* Most segments one super-packet is built from (the kernel's GRO limit). */
#define ZT_OFFLOAD_SEGS_MAX	64

/* Receives one plain IP packet; PKT is valid (and writable) during the call only. */
typedef void (*zt_offload_visit_fn)(const uint8_t *pkt, size_t len, void *ctx);

/*
 * BUF (LEN bytes): a virtio_net_hdr and the packet after it, as read from
 * the TUN. Calls VISIT once per resulting plain IP packet, in order.
 * Segments are built in place (each one's header goes where the previous
 * segment's payload was), so BUF is clobbered. Returns the number of
 * packets visited, or -EINVAL for a header that does not describe the
 * packet (nothing visited).
 */
int zt_offload_split(uint8_t *buf, size_t len, zt_offload_visit_fn visit, void *ctx);

/*
 * PKTS[0..N) are IP packets about to be written to a TUN, in order. Finds
 * how many of them, from the first, make one TCP super-packet (at most
 * ZT_OFFLOAD_SEGS_MAX, at most 65535 bytes): returns that count, or 1 when
 * the first cannot be merged with the second (or N is 1). For a count
 * above 1, *VNET and HDR (ZT_OFFLOAD_HDR_MAX bytes) receive the
 * super-packet's virtio_net_hdr and its IP + TCP header (*HDRLEN bytes);
 * the payload of packet i starts at byte *HDRLEN of PKTS[i] (every packet
 * of a run has the same header length). The packets are not modified. For
 * a count of 1, *VNET says "no offload" and HDR is unused.
 */
size_t zt_offload_coalesce(const struct iovec *pkts, size_t n, struct virtio_net_hdr *vnet,
			   uint8_t *hdr, size_t *hdrlen);

#endif
