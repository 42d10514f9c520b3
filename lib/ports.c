// SPDX-License-Identifier: GPL-2.0-only
/* Port lists as users write them (ports.h), parsed for the policy. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ports.h"

static int parse_port(const char *s, const char *end, const char *item,
		      uint16_t *port, char *err, size_t errlen)
{
	unsigned long v = 0;
	const char *p;

	if (s == end) {
		snprintf(err, errlen, "invalid port list item '%s': empty port", item);
		return -EINVAL;
	}
	for (p = s; p < end; p++) {
		if (*p < '0' || *p > '9') {
			snprintf(err, errlen, "invalid port '%.*s': not a number",
				 (int)(end - s), s);
			return -EINVAL;
		}
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			break;
	}
	if (v == 0 || v > 65535) {
		snprintf(err, errlen, "invalid port '%.*s': ports are 1-65535",
			 (int)(end - s), s);
		return -EINVAL;
	}
	*port = (uint16_t)v;
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct zt_port_range *x = a, *y = b;

	return (int)x->first - (int)y->first;
}

int zt_ports_parse(const char *text, struct zt_port_list *list, char *err, size_t errlen)
{
	struct zt_port_range raw[ZT_PORT_RANGES_MAX];
	unsigned int n = 0, i;
	char item[64];
	const char *s = text;

	memset(list, 0, sizeof(*list));
	if (!text || !*text)
		return 0;
	if (!strcmp(text, "all")) {
		list->all = true;
		return 0;
	}
	while (*s) {
		const char *comma = strchr(s, ',');
		const char *end = comma ? comma : s + strlen(s);
		const char *dash;
		struct zt_port_range r;
		int ret;

		snprintf(item, sizeof(item), "%.*s", (int)(end - s), s);
		if (end == s) {
			snprintf(err, errlen, "invalid port list '%s': empty item", text);
			return -EINVAL;
		}
		if (n == ZT_PORT_RANGES_MAX) {
			snprintf(err, errlen, "invalid port list: more than %d items",
				 ZT_PORT_RANGES_MAX);
			return -EINVAL;
		}
		dash = memchr(s, '-', (size_t)(end - s));
		ret = parse_port(s, dash ? dash : end, item, &r.first, err, errlen);
		if (ret)
			return ret;
		r.last = r.first;
		if (dash) {
			ret = parse_port(dash + 1, end, item, &r.last, err, errlen);
			if (ret)
				return ret;
			if (r.last < r.first) {
				snprintf(err, errlen,
					 "invalid port range '%s': start is above end", item);
				return -EINVAL;
			}
		}
		raw[n++] = r;
		if (!comma)
			break;
		s = comma + 1;
		if (!*s) {
			snprintf(err, errlen, "invalid port list '%s': trailing comma", text);
			return -EINVAL;
		}
	}

	qsort(raw, n, sizeof(raw[0]), cmp_range);
	for (i = 0; i < n; i++) {
		struct zt_port_range *last = list->count ? &list->ranges[list->count - 1] : NULL;

		if (last && (unsigned int)raw[i].first <= (unsigned int)last->last + 1) {
			if (raw[i].last > last->last)
				last->last = raw[i].last;
			continue;
		}
		list->ranges[list->count++] = raw[i];
	}
	if (list->count == 1 && list->ranges[0].first == 1 && list->ranges[0].last == 65535) {
		list->count = 0;
		list->all = true;
	}
	return 0;
}

void zt_ports_format(const struct zt_port_list *list, char *buf, size_t len)
{
	size_t off = 0;
	unsigned int i;

	if (!len)
		return;
	buf[0] = '\0';
	if (list->all) {
		snprintf(buf, len, "all");
		return;
	}
	for (i = 0; i < list->count && off < len; i++) {
		const struct zt_port_range *r = &list->ranges[i];
		int w;

		if (r->first == r->last)
			w = snprintf(buf + off, len - off, "%s%u", i ? "," : "", r->first);
		else
			w = snprintf(buf + off, len - off, "%s%u-%u", i ? "," : "",
				     r->first, r->last);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

unsigned int zt_ports_expanded(const struct zt_port_list *list)
{
	unsigned int i, n = 0;

	for (i = 0; i < list->count; i++)
		n += (unsigned int)list->ranges[i].last - list->ranges[i].first + 1;
	return n;
}

bool zt_ports_contains(const struct zt_port_list *list, uint16_t port)
{
	unsigned int i;

	if (list->all)
		return true;
	for (i = 0; i < list->count; i++)
		if (port >= list->ranges[i].first && port <= list->ranges[i].last)
			return true;
	return false;
}
