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

/* A whole policy document travels as one line: allow for a large one. */
#define ZT_LINE_MAX (64 * 1024 * 1024)

/*
 * Bytes read from a stream, cut into lines. Zero-initialised is empty; the
 * buffer grows as lines need it, up to ZT_LINE_MAX; free it with
 * zt_line_buf_free().
 */
struct zt_line_buf {
	size_t len;
	size_t consumed;	/* the line handed out last, dropped on the next take */
	size_t scanned;		/* bytes known to hold no newline */
	size_t cap;
	char *data;
};

/*
 * Where the next read goes: room for *AVAIL (> 0) bytes at the returned
 * pointer, growing the buffer if it is full. NULL when a line would grow
 * past ZT_LINE_MAX or memory is short; the caller then treats the line as
 * too long.
 */
char *zt_line_space(struct zt_line_buf *buf, size_t *avail);
void zt_line_buf_free(struct zt_line_buf *buf);

/* Write O as one line. Returns 0 or -errno. */
int zt_json_write(int fd, json_object *o);
/* Same, with sendmsg() FLAGS (MSG_DONTWAIT for subscribers that must not stall us). */
int zt_json_send(int fd, json_object *o, int flags);

/*
 * Take one complete line out of BUF if there is one: returns 1 and sets
 * *line (NUL-terminated, valid until the next call), 0 if more bytes are
 * needed, -EMSGSIZE if ZT_LINE_MAX bytes came without a newline.
 */
int zt_line_take(struct zt_line_buf *buf, char **line);

/* Blocking: read until a full line is available. 0 on EOF before a line. */
int zt_line_read(int fd, struct zt_line_buf *buf, char **line);

/* Parse a line into an object; NULL if it is not a JSON object. */
json_object *zt_json_parse_object(const char *line);

/* O's plain text in a malloc'd copy (*LEN bytes, NUL-terminated); O is put. NULL: out of memory. */
char *zt_json_take_text(json_object *o, size_t *len);

#endif
