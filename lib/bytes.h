/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Fixed-width integers at any (unaligned) address in a byte buffer, in
 * network order (big-endian: DNS, STUN, the relay's messages, IP headers)
 * and little-endian (WireGuard's wire format, the Noise nonce). Used by
 * every parser and builder of outside bytes; byte by byte, so alignment
 * and host order never matter (the compiler turns each into one load or
 * store and a byte swap).
 */
#ifndef ZT_BYTES_H
#define ZT_BYTES_H

#include <stdint.h>

static inline uint16_t zt_get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t zt_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t zt_get_be64(const uint8_t *p)
{
	return (uint64_t)zt_get_be32(p) << 32 | zt_get_be32(p + 4);
}

static inline void zt_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void zt_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void zt_put_be64(uint8_t *p, uint64_t v)
{
	zt_put_be32(p, (uint32_t)(v >> 32));
	zt_put_be32(p + 4, (uint32_t)v);
}

static inline uint32_t zt_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t zt_get_le64(const uint8_t *p)
{
	return (uint64_t)zt_get_le32(p) | (uint64_t)zt_get_le32(p + 4) << 32;
}

static inline void zt_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void zt_put_le64(uint8_t *p, uint64_t v)
{
	zt_put_le32(p, (uint32_t)v);
	zt_put_le32(p + 4, (uint32_t)(v >> 32));
}

#endif
