/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The connectors' connection log lines on the controller (`ztgate admin
 * connections [--follow]`): a bounded ring of the most recent lines, each
 * numbered by a sequence that only grows, so that a reader polls with the
 * last number it saw as its cursor. Runtime data: memory only, never the
 * database, lost at a restart. Called by nodes.c (the "connection" report)
 * and roles/controller_cmds.c (admin.connections).
 */
#ifndef ZT_CONTROLLER_CONNLOG_H
#define ZT_CONTROLLER_CONNLOG_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define ZT_CONNLOG_DEFAULT_LINES	4096	/* the ring's size */
#define ZT_CONNLOG_MAX_REPLY		1000	/* lines in one reply at most */

struct zt_connlog;

/* A ring of CAP lines (0: the default). NULL on -ENOMEM. */
struct zt_connlog *zt_connlog_new(size_t cap);
void zt_connlog_free(struct zt_connlog *r);

/*
 * Keep a copy of LINE (an object; anything else is ignored) with its
 * "seq" added; the oldest line goes when the ring is full. Returns the
 * line's sequence number (1, 2, ...), 0 when nothing was kept.
 */
uint64_t zt_connlog_push(struct zt_connlog *r, json_object *line);

/*
 * The lines after sequence AFTER (0: from the oldest kept), at most MAX
 * (0 or over ZT_CONNLOG_MAX_REPLY: that), oldest first, into a new
 * object: {"lines": [...], "next": the cursor for the next call (the last
 * line's seq, or AFTER when none), "lost": lines that were dropped from
 * the ring before the reader saw them}.
 */
json_object *zt_connlog_since(const struct zt_connlog *r, uint64_t after, size_t max);

#endif
