/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The tests' reference Internet checksum (RFC 1071), byte at a time and
 * written apart from lib/csum.c, so that test_nat and test_offload check
 * the daemon's checksums against something that shares none of its code.
 */
#ifndef ZT_TEST_REF_CSUM_H
#define ZT_TEST_REF_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* SUM plus the N bytes at P taken as big-endian 16-bit words (P at an even offset). */
static inline uint32_t ref_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sum += i & 1 ? p[i] : (uint32_t)p[i] << 8;
	return sum;
}

/* SUM folded to 16 bits (not inverted). */
static inline uint16_t ref_fold(uint32_t sum)
{
	while (sum > 0xffff)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

#endif
