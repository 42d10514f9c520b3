// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "json_io.h"

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

int zt_line_take(struct zt_line_buf *buf, char **line)
{
	char *nl;

	if (buf->consumed) {
		memmove(buf->data, buf->data + buf->consumed, buf->len - buf->consumed);
		buf->len -= buf->consumed;
		buf->consumed = 0;
	}
	nl = memchr(buf->data, '\n', buf->len);
	if (!nl) {
		if (buf->len >= sizeof(buf->data))
			return -EMSGSIZE;
		return 0;
	}
	*nl = '\0';
	*line = buf->data;
	buf->consumed = (size_t)(nl - buf->data) + 1;
	return 1;
}

int zt_line_read(int fd, struct zt_line_buf *buf, char **line)
{
	int ret;

	for (;;) {
		ssize_t r;

		ret = zt_line_take(buf, line);
		if (ret)
			return ret;
		r = read(fd, buf->data + buf->len, sizeof(buf->data) - buf->len);
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

json_object *zt_json_parse_object(const char *line)
{
	json_object *o = json_tokener_parse(line);

	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}
