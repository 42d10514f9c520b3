// SPDX-License-Identifier: GPL-2.0-only
/* The Internet checksum (csum.h): summed over buffers, updated for changes. */
#include <arpa/inet.h>
#include <string.h>

#include "lib/bytes.h"
#include "lib/csum.h"

uint16_t zt_csum_add_value(uint16_t sum, uint32_t v)
{
	uint32_t s = (uint32_t)sum + v;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/*
 * Summed as native 64-bit words with the carries counted apart: the
 * ones'-complement sum does not care about byte order (RFC 1071, 2.B), so
 * the folded native sum is the network-order one byte-swapped.
 */
uint16_t zt_csum_add(uint16_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t acc = 0, carry = 0, w;
	uint16_t native;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		carry += __builtin_add_overflow(acc, w, &acc);
	}
	if (len) {
		w = 0;
		memcpy(&w, p, len);
		carry += __builtin_add_overflow(acc, w, &acc);
	}
	acc = (acc & 0xffffffff) + (acc >> 32) + carry;
	acc = (acc & 0xffffffff) + (acc >> 32);
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	native = (uint16_t)acc;
	return zt_csum_add_value(sum, ntohs(native));
}

uint16_t zt_csum_replace(uint16_t csum, const void *old, const void *new, size_t len)
{
	const uint8_t *o = old, *n = new;
	uint32_t sum = (uint16_t)~csum;

	for (size_t i = 0; i < len; i += 2) {
		sum += (uint16_t)~zt_get_be16(o + i);
		sum += zt_get_be16(n + i);
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}
