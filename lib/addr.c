// SPDX-License-Identifier: GPL-2.0-only
/*
 * IP addresses and CIDR prefixes (addr.h): parsed and formatted for the
 * policy, the CLI, the relay, the path manager and the events.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/addr.h"

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

int zt_endpoint_parse(const char *text, struct zt_endpoint *ep, char *err, size_t errlen)
{
	const char *orig = text;
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_text, *end;
	unsigned long port = 0;
	size_t hlen;
	bool v6 = text[0] == '[';

	memset(ep, 0, sizeof(*ep));
	if (v6) {
		end = strchr(text, ']');
		if (!end || end[1] != ':')
			goto bad;
		hlen = (size_t)(end - text - 1);
		port_text = end + 2;
		text++;
	} else {
		end = strchr(text, ':');
		if (!end || strchr(end + 1, ':'))
			goto bad;	/* a bare IPv6 address: its port needs brackets */
		hlen = (size_t)(end - text);
		port_text = end + 1;
	}
	if (!hlen || hlen >= sizeof(host))
		goto bad;
	memcpy(host, text, hlen);
	host[hlen] = '\0';

	if (!*port_text || strlen(port_text) > 5)
		goto bad_port;
	for (end = port_text; *end; end++) {
		if (*end < '0' || *end > '9')
			goto bad_port;
		port = port * 10 + (unsigned long)(*end - '0');
	}
	if (port == 0 || port > 65535)
		goto bad_port;
	ep->port = (uint16_t)port;

	if (!v6 && inet_pton(AF_INET, host, ep->addr + 12) == 1) {
		memcpy(ep->addr, v4mapped_prefix, sizeof(v4mapped_prefix));
		ep->family = AF_INET;
	} else if (v6 && inet_pton(AF_INET6, host, ep->addr) == 1) {
		ep->family = memcmp(ep->addr, v4mapped_prefix, sizeof(v4mapped_prefix)) ?
			     AF_INET6 : AF_INET;
	} else {
		goto bad;
	}
	return 0;

bad:
	snprintf(err, errlen, "invalid endpoint '%s': expected IPv4:PORT or [IPv6]:PORT", orig);
	return -EINVAL;
bad_port:
	snprintf(err, errlen, "invalid endpoint '%s': the port must be 1-65535", orig);
	return -EINVAL;
}

void zt_endpoint_format(const struct zt_endpoint *ep, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ep->family == AF_INET) {
		inet_ntop(AF_INET, ep->addr + 12, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ep->port);
	} else {
		inet_ntop(AF_INET6, ep->addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ep->port);
	}
}

bool zt_endpoint_equal(const struct zt_endpoint *a, const struct zt_endpoint *b)
{
	return a->family == b->family && a->port == b->port && !memcmp(a->addr, b->addr, 16);
}

unsigned int zt_endpoint_to_sockaddr(const struct zt_endpoint *ep, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (ep->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(ep->port);
		memcpy(&sin->sin_addr, ep->addr + 12, 4);
		return sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(ep->port);
		memcpy(&sin6->sin6_addr, ep->addr, 16);
		return sizeof(*sin6);
	}
}

bool zt_prefix_contains(const struct zt_prefix *p, const uint8_t addr[16])
{
	/* IPv4 prefixes are stored mapped: their length counts from bit 96. */
	unsigned int bits = p->family == AF_INET ? 96u + p->len : p->len;
	unsigned int full = bits / 8, rest = bits % 8;

	if (p->family == AF_INET && !zt_addr_is_v4(addr))
		return false;
	if (memcmp(p->addr, addr, full))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		return (p->addr[full] & mask) == (addr[full] & mask);
	}
	return true;
}
