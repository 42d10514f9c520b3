// SPDX-License-Identifier: GPL-2.0-only
/* The control protocol's framing (json_io.h): the daemon's control socket and the CLI. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/json_io.h"

int zt_json_write(int fd, json_object *o)
{
	return zt_json_send(fd, o, 0);
}

int zt_json_send(int fd, json_object *o, int flags)
{
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t len = strlen(text), off = 0;
	struct iovec iov[2];

	while (off < len + 1) {
		struct msghdr msg = { 0 };
		ssize_t w;

		iov[0].iov_base = (char *)text + (off < len ? off : len);
		iov[0].iov_len = off < len ? len - off : 0;
		iov[1].iov_base = (char *)"\n" + (off > len ? 1 : 0);
		iov[1].iov_len = 1;
		msg.msg_iov = iov;
		msg.msg_iovlen = 2;
		w = sendmsg(fd, &msg, MSG_NOSIGNAL | flags);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)w;
	}
	return 0;
}

char *zt_line_space(struct zt_line_buf *buf, size_t *avail)
{
	if (buf->consumed) {
		memmove(buf->data, buf->data + buf->consumed, buf->len - buf->consumed);
		buf->len -= buf->consumed;
		buf->scanned = buf->scanned > buf->consumed ? buf->scanned - buf->consumed : 0;
		buf->consumed = 0;
	}
	if (buf->len == buf->cap) {
		size_t cap = buf->cap ? buf->cap * 2 : 4096;
		char *data;

		if (cap > ZT_LINE_MAX)
			cap = ZT_LINE_MAX;
		if (cap <= buf->cap)
			return NULL;
		data = realloc(buf->data, cap);
		if (!data)
			return NULL;
		buf->data = data;
		buf->cap = cap;
	}
	*avail = buf->cap - buf->len;
	return buf->data + buf->len;
}

void zt_line_buf_free(struct zt_line_buf *buf)
{
	free(buf->data);
	memset(buf, 0, sizeof(*buf));
}

int zt_line_take(struct zt_line_buf *buf, char **line)
{
	char *nl;

	if (buf->consumed) {
		memmove(buf->data, buf->data + buf->consumed, buf->len - buf->consumed);
		buf->len -= buf->consumed;
		buf->scanned = buf->scanned > buf->consumed ? buf->scanned - buf->consumed : 0;
		buf->consumed = 0;
	}
	nl = buf->len > buf->scanned ? memchr(buf->data + buf->scanned, '\n',
					      buf->len - buf->scanned) : NULL;
	if (!nl) {
		buf->scanned = buf->len;
		if (buf->len >= ZT_LINE_MAX)
			return -EMSGSIZE;
		return 0;
	}
	*nl = '\0';
	*line = buf->data;
	buf->consumed = (size_t)(nl - buf->data) + 1;
	buf->scanned = 0;
	return 1;
}

int zt_line_read(int fd, struct zt_line_buf *buf, char **line)
{
	int ret;

	for (;;) {
		size_t avail;
		char *space;
		ssize_t r;

		ret = zt_line_take(buf, line);
		if (ret)
			return ret;
		space = zt_line_space(buf, &avail);
		if (!space)
			return -EMSGSIZE;
		r = read(fd, space, avail);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return 0;
		buf->len += (size_t)r;
	}
}

char *zt_json_take_text(json_object *o, size_t *len)
{
	const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	char *text;

	*len = strlen(t);
	text = malloc(*len + 1);
	if (text)
		memcpy(text, t, *len + 1);
	json_object_put(o);
	return text;
}

json_object *zt_json_parse_object(const char *line)
{
	json_object *o = json_tokener_parse(line);

	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}
