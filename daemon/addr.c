// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int zt_prefix_parse(const char *text, struct zt_prefix *p, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t hlen = slash ? (size_t)(slash - text) : strlen(text);
	unsigned int max, len, i, bits;

	memset(p, 0, sizeof(*p));
	if (hlen == 0 || hlen >= sizeof(host))
		goto bad_addr;
	memcpy(host, text, hlen);
	host[hlen] = '\0';

	if (inet_pton(AF_INET, host, p->addr + 12) == 1) {
		memcpy(p->addr, v4mapped_prefix, sizeof(v4mapped_prefix));
		p->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, p->addr) == 1) {
		p->family = AF_INET6;
		max = 128;
		/*
		 * ::ffff:a.b.c.d is an IPv4 address: the maps key both the same
		 * way, so it must be one resource, not two that overwrite each
		 * other's entry.
		 */
		if (!memcmp(p->addr, v4mapped_prefix, sizeof(v4mapped_prefix)))
			p->family = AF_INET;
	} else {
		goto bad_addr;
	}

	len = max;
	if (slash) {
		const char *s = slash + 1;

		if (!*s || strlen(s) > 3)
			goto bad_len;
		for (len = 0; *s; s++) {
			if (*s < '0' || *s > '9')
				goto bad_len;
			len = len * 10 + (unsigned int)(*s - '0');
		}
		if (len > max)
			goto bad_len;
	}
	if (p->family == AF_INET && max == 128) {
		/* Mapped form: keep the length in IPv4 terms. */
		if (len < 96) {
			snprintf(err, errlen, "invalid CIDR '%s': a ::ffff:0:0/96 prefix needs a length of 96-128",
				 text);
			return -EINVAL;
		}
		len -= 96;
	}
	p->len = (uint8_t)len;

	/* Host bits set usually means a typo; say which network was meant. */
	bits = zt_prefix_len128(p);
	for (i = bits; i < 128; i++) {
		if (p->addr[i / 8] & (0x80 >> (i % 8))) {
			struct zt_prefix fixed = *p;
			char buf[64];

			for (; i < 128; i++)
				fixed.addr[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
			zt_prefix_format(&fixed, buf, sizeof(buf));
			snprintf(err, errlen, "invalid CIDR '%s': host bits set (did you mean %s?)",
				 text, buf);
			return -EINVAL;
		}
	}
	return 0;

bad_addr:
	snprintf(err, errlen, "invalid address '%s': not an IPv4/IPv6 address or CIDR", text);
	return -EINVAL;
bad_len:
	snprintf(err, errlen, "invalid CIDR '%s': prefix length must be 0-%u", text,
		 p->family == AF_INET ? 32 : 128);
	return -EINVAL;
}

void zt_addr_format(const uint8_t addr[16], char *buf, size_t len)
{
	if (!memcmp(addr, v4mapped_prefix, sizeof(v4mapped_prefix)))
		inet_ntop(AF_INET, addr + 12, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, addr, buf, (socklen_t)len);
}

void zt_prefix_format(const struct zt_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family, p->family == AF_INET ? p->addr + 12 : p->addr, a, sizeof(a));
	if (zt_prefix_is_host(p))
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, p->len);
}

bool zt_prefix_is_host(const struct zt_prefix *p)
{
	return p->len == (p->family == AF_INET ? 32 : 128);
}

unsigned int zt_prefix_len128(const struct zt_prefix *p)
{
	return p->family == AF_INET ? 96u + p->len : p->len;
}

bool zt_prefix_equal(const struct zt_prefix *a, const struct zt_prefix *b)
{
	return a->family == b->family && a->len == b->len && !memcmp(a->addr, b->addr, 16);
}
