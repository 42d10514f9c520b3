/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * lib/csum.h: Internet checksum arithmetic (RFC 1071) on the 32-bit sums
 * bpf_csum_diff() returns. Used by the reject replies (lib/reply.h), which
 * checksum whole headers they build, and by the DNS fast path
 * (zt_dns.bpf.c), which feeds the sum of the bytes it appends to
 * bpf_l4_csum_replace().
 *
 * bpf_csum_diff() returns a 32-bit one's complement sum (as an s64, < 0 on
 * error); two end-around-carry folds bring it to 16 bits, the first can
 * carry into bit 16 and the second absorbs it.
 */
#ifndef ZT_CSUM_H
#define ZT_CSUM_H

/* SUM folded to 16 bits: the one's complement sum, not yet inverted. */
static __always_inline __u16 zt_csum16(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* The checksum field for CSUM (a bpf_csum_diff() result): the folded sum, inverted. */
static __always_inline __u16 zt_csum_fold(__s64 csum)
{
	return (__u16)~zt_csum16((__u32)csum);
}

/*
 * A 16-bit sum of bytes that start at an odd offset of what the checksum
 * covers: each byte counts in the other half of its word, so the sum is
 * byte-swapped (RFC 1071 2(B)).
 */
static __always_inline __u16 zt_csum16_odd(__u16 sum)
{
	return (__u16)((sum & 0xff) << 8 | sum >> 8);
}

#endif /* ZT_CSUM_H */
