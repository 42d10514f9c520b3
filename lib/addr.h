/* SPDX-License-Identifier: GPL-2.0-only */
/* IP addresses and CIDR prefixes, kept IPv4-mapped as the BPF maps key them. */
#ifndef ZT_ADDR_H
#define ZT_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct zt_prefix {
	uint8_t addr[16];	/* IPv6, or IPv4-mapped ::ffff:a.b.c.d */
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t len;		/* prefix length in the family's terms (32/128 = one host) */
};

/* Parse "ADDR" or "ADDR/LEN". Host bits below LEN must be zero. */
int zt_prefix_parse(const char *text, struct zt_prefix *p, char *err, size_t errlen);

/* Canonical text; a full-length prefix prints without "/LEN". */
void zt_prefix_format(const struct zt_prefix *p, char *buf, size_t len);

/* Format a 16-byte (possibly IPv4-mapped) address. */
void zt_addr_format(const uint8_t addr[16], char *buf, size_t len);

bool zt_prefix_is_host(const struct zt_prefix *p);

/* Prefix length over the 128-bit mapped address space. */
unsigned int zt_prefix_len128(const struct zt_prefix *p);

bool zt_prefix_equal(const struct zt_prefix *a, const struct zt_prefix *b);

/* A UDP peer address: "a.b.c.d:PORT" or "[IPv6]:PORT" (no names: nothing resolves here). */
struct zt_endpoint {
	uint8_t addr[16];	/* IPv6, or IPv4-mapped ::ffff:a.b.c.d */
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint16_t port;		/* host byte order, 1-65535 */
};

/* Parse TEXT; an IPv4-mapped IPv6 address is taken as the IPv4 one. 0 or -EINVAL. */
int zt_endpoint_parse(const char *text, struct zt_endpoint *ep, char *err, size_t errlen);
/* Canonical text: "a.b.c.d:PORT" or "[v6]:PORT" (at most 48 bytes with the NUL). */
void zt_endpoint_format(const struct zt_endpoint *ep, char *buf, size_t len);
bool zt_endpoint_equal(const struct zt_endpoint *a, const struct zt_endpoint *b);

/* ADDR (16 bytes) as IPv4-mapped from an IPv4 address in network order. */
static inline void zt_addr_from_v4(uint8_t addr[16], uint32_t s_addr)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	for (int i = 0; i < 12; i++)
		addr[i] = mapped[i];
	for (int i = 0; i < 4; i++)
		addr[12 + i] = ((const uint8_t *)&s_addr)[i];
}

/* Is ADDR (16 bytes) IPv4-mapped? */
static inline bool zt_addr_is_v4(const uint8_t addr[16])
{
	for (int i = 0; i < 10; i++)
		if (addr[i])
			return false;
	return addr[10] == 0xff && addr[11] == 0xff;
}

/* Does prefix P hold ADDR (16 bytes, IPv4-mapped for IPv4)? */
bool zt_prefix_contains(const struct zt_prefix *p, const uint8_t addr[16]);
/* As a sockaddr_in or sockaddr_in6 in SS; returns its length. */
unsigned int zt_endpoint_to_sockaddr(const struct zt_endpoint *ep,
				     struct sockaddr_storage *ss);

#endif
