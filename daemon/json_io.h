/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control protocol's framing: one JSON object per line over a Unix
 * stream socket. A request is {"cmd": "...", ...}; a reply is
 * {"ok": true, ...} or {"ok": false, "error": "one line"}. "events" keeps
 * the connection open and streams one event object per line.
 */
#ifndef ZT_JSON_IO_H
#define ZT_JSON_IO_H

#include <stddef.h>

#include <json-c/json.h>

#define ZT_LINE_MAX 65536
#define ZT_DEFAULT_SOCKET_PATH "/run/ztgate/ztgated.sock"

struct zt_line_buf {
	size_t len;
	size_t consumed;	/* the line handed out last, dropped on the next take */
	char data[ZT_LINE_MAX];
};

/* Write O as one line. Returns 0 or -errno. */
int zt_json_write(int fd, json_object *o);
/* Same, with sendmsg() FLAGS (MSG_DONTWAIT for subscribers that must not stall us). */
int zt_json_send(int fd, json_object *o, int flags);

/*
 * Take one complete line out of BUF if there is one: returns 1 and sets
 * *line (NUL-terminated, valid until the next call), 0 if more bytes are
 * needed, -EMSGSIZE if the buffer filled without a newline.
 */
int zt_line_take(struct zt_line_buf *buf, char **line);

/* Blocking: read until a full line is available. 0 on EOF before a line. */
int zt_line_read(int fd, struct zt_line_buf *buf, char **line);

/* Parse a line into an object; NULL if it is not a JSON object. */
json_object *zt_json_parse_object(const char *line);

#endif
