// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control socket's server: accepts CLI connections, reads JSON lines,
 * dispatches each request through the command tables (control.h) and
 * writes the reply; `events` subscribers get the event stream through a
 * bounded queue. Which commands exist is the tables' business, not this
 * file's.
 */
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/control.h"
#include "core/daemon.h"
#include "core/role.h"
#include "lib/fsutil.h"
#include "lib/json_io.h"
#include "lib/version.h"

/*
 * A subscriber's events wait here when its socket is full. Bounded: a
 * reader that stays behind loses events (and is told how many), it never
 * makes the daemon grow or wait.
 */
#define ZT_SUB_QUEUE_MAX (1024 * 1024)

struct zt_ctl_client {
	struct zt_daemon *d;
	int fd;
	bool subscriber;
	char *out;		/* queued bytes not yet accepted by the socket */
	size_t out_len;
	unsigned long dropped;	/* events dropped since the last marker */
	struct zt_ctl_client *next;
	struct zt_line_buf buf;
};

struct zt_control {
	int listen_fd;
	struct zt_ctl_client *clients;
};

json_object *zt_ctl_error(const char *msg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

json_object *zt_ctl_ok(void)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

const char *zt_ctl_str(const struct zt_ctl_req *r, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(r->args, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

void zt_control_subscribe(const struct zt_ctl_req *r)
{
	r->client->subscriber = true;
}

static const struct zt_ctl_cmd *find_in(const struct zt_ctl_cmd *table, const char *name)
{
	for (; table && table->name; table++)
		if (!strcmp(table->name, name))
			return table;
	return NULL;
}

/* The core's commands, the policy's, then the role's own. */
static const struct zt_ctl_cmd *find_command(const struct zt_daemon *d, const char *name)
{
	const struct zt_ctl_cmd *cmd = find_in(zt_core_commands, name);

	if (!cmd)
		cmd = find_in(zt_policy_commands, name);
	if (!cmd)
		cmd = find_in(d->ops->commands, name);
	return cmd;
}

/* Root, or the user the daemon runs as (the kernel's word for the peer). */
static bool peer_may_change(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

static json_object *handle_request(struct zt_daemon *d, struct zt_ctl_client *c, const char *line)
{
	struct zt_ctl_req r = { .args = zt_json_parse_object(line), .peer_fd = c->fd, .client = c };
	const struct zt_ctl_cmd *cmd;
	json_object *resp;
	const char *name;
	char err[160];

	if (!r.args)
		return zt_ctl_error("malformed request: expected one JSON object per line");
	name = zt_ctl_str(&r, "cmd");
	cmd = name ? find_command(d, name) : NULL;
	if (!name) {
		resp = zt_ctl_error("malformed request: no \"cmd\"");
	} else if (!cmd) {
		snprintf(err, sizeof(err), "unknown command '%.64s' for the %s role", name,
			 d->ops->name);
		resp = zt_ctl_error(err);
	} else if (cmd->needs & ~d->ops->needs) {
		snprintf(err, sizeof(err), "'%.64s': the %s role holds no policy", name,
			 d->ops->name);
		resp = zt_ctl_error(err);
	} else if (cmd->changes && (cmd->needs & ZT_ROLE_POLICY) && d->controller) {
		snprintf(err, sizeof(err), "this node is managed by its controller (%.64s): change "
			 "the policy there", d->controller);
		resp = zt_ctl_error(err);
	} else if (cmd->changes && !peer_may_change(c->fd)) {
		snprintf(err, sizeof(err), "'%.64s' changes state: only root may ask (the socket's "
			 "group may read)", name);
		resp = zt_ctl_error(err);
	} else {
		resp = cmd->run(d, &r);
	}
	json_object_put(r.args);
	/* Every reply says which build answered: the CLI warns on a mismatch. */
	json_object_object_add(resp, "version", json_object_new_string(zt_version()));
	return resp;
}

static void client_close(struct zt_daemon *d, struct zt_ctl_client *c)
{
	struct zt_ctl_client **pc;

	for (pc = &d->control->clients; *pc; pc = &(*pc)->next) {
		if (*pc == c) {
			*pc = c->next;
			break;
		}
	}
	zt_loop_del(d->loop, c->fd);
	close(c->fd);
	free(c->out);
	zt_line_buf_free(&c->buf);
	free(c);
}

/* Send what is queued; returns 0 (maybe with bytes left) or -errno. */
static int subscriber_flush(struct zt_ctl_client *c)
{
	while (c->out_len) {
		ssize_t w = send(c->fd, c->out, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		memmove(c->out, c->out + w, c->out_len - (size_t)w);
		c->out_len -= (size_t)w;
	}
	if (!c->out_len && c->dropped) {
		char marker[96];
		int n = snprintf(marker, sizeof(marker),
				 "{\"event\":\"dropped\",\"count\":%lu}\n", c->dropped);

		/* Fits: the queue is empty and far larger than a marker. */
		memcpy(c->out, marker, (size_t)n);
		c->out_len = (size_t)n;
		c->dropped = 0;
		return subscriber_flush(c);
	}
	/* Ask for EPOLLOUT only while something waits. */
	return zt_loop_mod(c->d->loop, c->fd,
			   EPOLLIN | EPOLLRDHUP | (c->out_len ? EPOLLOUT : 0u));
}

static int subscriber_queue(struct zt_ctl_client *c, const char *text)
{
	size_t len = strlen(text);

	if (!c->out) {
		c->out = malloc(ZT_SUB_QUEUE_MAX);
		if (!c->out)
			return -ENOMEM;
	}
	if (c->out_len + len + 1 > ZT_SUB_QUEUE_MAX - 96) {
		c->dropped++;
		return 0;
	}
	memcpy(c->out + c->out_len, text, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	return subscriber_flush(c);
}

static void on_client(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_ctl_client *c = arg;
	struct zt_daemon *d = c->d;
	char *line, *space;
	size_t avail;
	ssize_t r;
	int ret;

	(void)loop;
	if (c->subscriber && (events & EPOLLOUT) && !(events & (EPOLLHUP | EPOLLERR))) {
		if (subscriber_flush(c)) {
			client_close(d, c);
			return;
		}
		if (!(events & EPOLLIN))
			return;
	}
	if (c->subscriber || (events & (EPOLLHUP | EPOLLERR))) {
		/* Subscribers only listen; anything from them, or a hangup, ends them. */
		if (events & EPOLLIN) {
			char drain[256];

			r = read(fd, drain, sizeof(drain));
			if (r > 0 && !(events & (EPOLLHUP | EPOLLERR)))
				return;
		}
		client_close(d, c);
		return;
	}
	space = zt_line_space(&c->buf, &avail);
	if (!space) {
		json_object *resp = zt_ctl_error("request too long");

		zt_json_write(fd, resp);
		json_object_put(resp);
		client_close(d, c);
		return;
	}
	r = read(fd, space, avail);
	if (r <= 0) {
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		client_close(d, c);
		return;
	}
	c->buf.len += (size_t)r;
	while ((ret = zt_line_take(&c->buf, &line)) == 1) {
		json_object *resp = handle_request(d, c, line);

		ret = zt_json_write(fd, resp);
		json_object_put(resp);
		if (ret) {
			client_close(d, c);
			return;
		}
		if (c->subscriber)
			return;
	}
	if (ret < 0) {
		json_object *resp = zt_ctl_error("request too long");

		zt_json_write(fd, resp);
		json_object_put(resp);
		client_close(d, c);
	}
}

static void on_listen(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_daemon *d = arg;
	struct timeval tv = { .tv_sec = 2 };
	struct zt_ctl_client *c;
	int cfd;

	(void)events;
	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	/*
	 * Reads happen only when epoll says data is there; writes of a reply
	 * may block, but never longer than this, so one stuck client cannot
	 * hold the daemon.
	 */
	setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return;
	}
	c->d = d;
	c->fd = cfd;
	if (zt_loop_add(loop, cfd, EPOLLIN | EPOLLRDHUP, on_client, c)) {
		close(cfd);
		free(c);
		return;
	}
	c->next = d->control->clients;
	d->control->clients = c;
}

void zt_control_broadcast(struct zt_daemon *d, json_object *ev)
{
	const char *text = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE);
	struct zt_ctl_client *c, *next;

	if (!d->control)
		return;
	for (c = d->control->clients; c; c = next) {
		next = c->next;
		if (c->subscriber && subscriber_queue(c, text))
			client_close(d, c);
	}
}

/* GROUP (name or number) as a gid; -ENOENT when there is no such group. */
static int group_id(const char *group, gid_t *gid)
{
	struct group *gr = getgrnam(group);
	char *end;
	unsigned long v;

	if (gr) {
		*gid = gr->gr_gid;
		return 0;
	}
	errno = 0;
	v = strtoul(group, &end, 10);
	if (errno || end == group || *end)
		return -ENOENT;
	*gid = (gid_t)v;
	return 0;
}

int zt_control_open(struct zt_daemon *d, const char *group, char *err, size_t errlen)
{
	gid_t gid = 0;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)];
	char *slash;
	mode_t old;
	int fd, ret;

	if (group && group_id(group, &gid)) {
		snprintf(err, errlen, "--socket-group '%s': no such group", group);
		return -ENOENT;
	}
	if (strlen(d->socket_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", d->socket_path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, d->socket_path);
	d->control = calloc(1, sizeof(*d->control));
	if (!d->control) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	d->control->listen_fd = -1;
	snprintf(dir, sizeof(dir), "%s", d->socket_path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		ret = zt_mkdir_p(dir, 0755);
		if (ret) {
			snprintf(err, errlen, "%s: %s", dir, strerror(-ret));
			return ret;
		}
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto sys_err;
	/* A socket file that still answers belongs to a running daemon. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		snprintf(err, errlen, "another ztgated is already serving %s", d->socket_path);
		return -EADDRINUSE;
	}
	unlink(d->socket_path);
	old = umask(0177);	/* 0600 from the start, no window with wider rights */
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret)
		goto sys_err;
	/* The group may connect (and read); changes still need root (peer_may_change). */
	if (group && (chown(d->socket_path, (uid_t)-1, gid) || chmod(d->socket_path, 0660)))
		goto sys_err;
	if (listen(fd, 64))
		goto sys_err;
	ret = zt_loop_add(d->loop, fd, EPOLLIN, on_listen, d);
	if (ret) {
		errno = -ret;
		goto sys_err;
	}
	d->control->listen_fd = fd;
	return 0;

sys_err:
	ret = -errno;
	snprintf(err, errlen, "control socket %s: %s", d->socket_path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ret;
}

void zt_control_close(struct zt_daemon *d)
{
	if (!d->control)
		return;
	while (d->control->clients)
		client_close(d, d->control->clients);
	if (d->control->listen_fd >= 0) {
		zt_loop_del(d->loop, d->control->listen_fd);
		close(d->control->listen_fd);
		d->control->listen_fd = -1;
		unlink(d->socket_path);
	}
	free(d->control);
	d->control = NULL;
}
