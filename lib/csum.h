/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The Internet checksum (RFC 1071) in user space: computed over a buffer
 * (netdev/offload.c completes partial checksums, cuts and merges TCP
 * segments) and updated for a changed field (RFC 1624: netdev/nat.c
 * rewrites addresses, ports and the MSS). BPF has its own (bpf/lib/).
 * Sums are 16-bit values in network order as a host integer (0x4500 for
 * the bytes 45 00), folded and not inverted; a header stores ~sum.
 */
#ifndef ZT_CSUM_H
#define ZT_CSUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * The sum of LEN bytes at DATA added to SUM. DATA starts at an even offset
 * of what is being checksummed (an odd LEN pads with a zero byte).
 */
uint16_t zt_csum_add(uint16_t sum, const void *data, size_t len);

/* SUM plus the value V (a length, a protocol number: the pseudo-header's fields). */
uint16_t zt_csum_add_value(uint16_t sum, uint32_t v);

/*
 * The stored checksum CSUM of something whose bytes OLD became NEW (LEN
 * even, at an even offset of what CSUM covers), without summing the rest
 * again (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')).
 */
uint16_t zt_csum_replace(uint16_t csum, const void *old, const void *new, size_t len);

#endif
