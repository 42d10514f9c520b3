// SPDX-License-Identifier: GPL-2.0-only
/*
 * The CLI's side of the control socket: connect to ztgated's Unix socket,
 * send one JSON request line, read one reply line, and turn a refusal
 * ({"ok": false, "error": ...}) into one line on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/request.h"
#include "lib/paths.h"
#include "lib/version.h"

/* The roles whose default socket the CLI looks for, in this order (lib/paths.h). */
static const char *const roles[] = { "enforce", "client", "connector", "relay", "controller" };

/* Does a daemon answer on PATH? */
static bool answers(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ok;

	if (strlen(path) >= sizeof(sa.sun_path))
		return false;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	ok = !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return ok;
}

/*
 * No --socket, --role or $ZTGATE_SOCKET: the one daemon running here, by
 * the roles' default sockets. None, or several, is a question for the user.
 */
static int find_socket(struct cli *c)
{
	char path[sizeof(c->socket_buf)], found[256] = "";
	size_t n = 0;

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s.sock", ZT_RUN_DIR, roles[i]);
		if (!answers(path))
			continue;
		if (!n++)
			snprintf(c->socket_buf, sizeof(c->socket_buf), "%s", path);
		snprintf(found + strlen(found), sizeof(found) - strlen(found), "%s%s",
			 n > 1 ? ", " : "", roles[i]);
	}
	if (n == 1) {
		c->socket_path = c->socket_buf;
		return 0;
	}
	if (!n)
		return cli_fail("no ztgated answers in %s (is the daemon running? or --socket PATH)",
				ZT_RUN_DIR);
	return cli_fail("several ztgated run here (%s): pick one with --role ROLE or --socket PATH",
			found);
}

static int cli_connect(struct cli *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (!c->socket_path && find_socket(c))
		return CLI_EXIT_FAIL;
	if (strlen(c->socket_path) >= sizeof(sa.sun_path))
		return cli_fail("socket path too long: %s", c->socket_path);
	strcpy(sa.sun_path, c->socket_path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return cli_fail("socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = errno;

		close(c->fd);
		c->fd = -1;
		return cli_fail("cannot reach ztgated at %s: %s (is the daemon running?)",
				c->socket_path, strerror(err));
	}
	return 0;
}

/* The reply line of the local socket: the reply object, or NULL after reporting. */
static json_object *local_call(struct cli *c, json_object *req)
{
	json_object *resp;
	char *line;
	int ret;

	if (cli_connect(c)) {
		json_object_put(req);
		return NULL;
	}
	ret = zt_json_write(c->fd, req);
	json_object_put(req);
	if (ret) {
		cli_fail("sending request: %s", strerror(-ret));
		return NULL;
	}
	ret = zt_line_read(c->fd, &c->buf, &line);
	if (ret <= 0) {
		cli_fail("no reply from ztgated: %s", ret ? strerror(-ret) : "connection closed");
		return NULL;
	}
	resp = zt_json_parse_object(line);
	if (!resp)
		cli_fail("malformed reply from ztgated");
	return resp;
}

json_object *cli_call(struct cli *c, json_object *req)
{
	json_object *resp, *ok, *err, *ver;
	const char *cmd = json_object_get_string(json_object_object_get(req, "cmd"));

	/* Admin requests go to a remote controller when one is named. */
	if (c->controller && cmd && !strncmp(cmd, "admin.", 6))
		resp = cli_remote_call(c, req);
	else
		resp = local_call(c, req);
	if (!resp)
		return NULL;
	/* Another build may read or answer differently: say so, once, and go on. */
	if (json_object_object_get_ex(resp, "version", &ver) &&
	    strcmp(json_object_get_string(ver), zt_version()))
		fprintf(stderr, "ztgate: warning: ztgate %s talking to ztgated %s\n", zt_version(),
			json_object_get_string(ver));
	if (!json_object_object_get_ex(resp, "ok", &ok) || !json_object_get_boolean(ok)) {
		cli_fail("%s", json_object_object_get_ex(resp, "error", &err)
			       ? json_object_get_string(err) : "request failed");
		json_object_put(resp);
		return NULL;
	}
	return resp;
}

json_object *cli_request(const char *cmd)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "cmd", json_object_new_string(cmd));
	return o;
}

void cli_request_add(json_object *req, const char *key, const char *value)
{
	if (value)
		json_object_object_add(req, key, json_object_new_string(value));
}
