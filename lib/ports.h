/* SPDX-License-Identifier: GPL-2.0-only */
/* Port lists as users write them: "22,443,8000-8100", "all", or empty. */
#ifndef ZT_PORTS_H
#define ZT_PORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZT_PORT_RANGES_MAX 64

struct zt_port_range {
	uint16_t first;
	uint16_t last;
};

/* A parsed list: sorted, overlapping and adjacent ranges merged. */
struct zt_port_list {
	bool all;
	unsigned int count;
	struct zt_port_range ranges[ZT_PORT_RANGES_MAX];
};

/*
 * Parse TEXT into LIST. Returns 0, or -EINVAL with a one-line reason in
 * ERR (no trailing newline).
 */
int zt_ports_parse(const char *text, struct zt_port_list *list, char *err, size_t errlen);

/* Canonical text: "all", "" (none) or "22,443,8000-8100". */
void zt_ports_format(const struct zt_port_list *list, char *buf, size_t len);

/* Number of individual ports the list covers when expanded (0 for all). */
unsigned int zt_ports_expanded(const struct zt_port_list *list);

bool zt_ports_contains(const struct zt_port_list *list, uint16_t port);

#endif
