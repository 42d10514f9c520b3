// SPDX-License-Identifier: GPL-2.0-only
/*
 * The audit trail of changes made through the control socket: one JSON line
 * on stdout and appended to STATE_DIR/audit.jsonl, naming who acted by the
 * kernel's credentials of the connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/daemon.h"
#include "lib/log.h"

void zt_audit(struct zt_daemon *d, int peer_fd, const char *action, json_object *detail)
{
	json_object *o = json_object_new_object();
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char path[4096];
	FILE *f;
	int fd;

	json_object_object_add(o, "event", json_object_new_string("audit"));
	json_object_object_add(o, "action", json_object_new_string(action));
	/* Who asked: the kernel's word for the peer, not anything it sent. */
	if (peer_fd >= 0 && !getsockopt(peer_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		json_object_object_add(o, "peer_uid", json_object_new_int((int)cred.uid));
		json_object_object_add(o, "peer_pid", json_object_new_int((int)cred.pid));
	}
	if (detail)
		json_object_object_add(o, "detail", detail);

	/* Durable copy first, then the log stream (zt_emit takes o). */
	snprintf(path, sizeof(path), "%s/audit.jsonl", d->state_dir);
	/* Never through a symlink planted in the state dir; private to root. */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "a") : NULL;
	if (!f && fd >= 0)
		close(fd);
	if (f) {
		struct timespec ts;
		char tbuf[48];
		json_object *line = json_object_get(o);

		clock_gettime(CLOCK_REALTIME, &ts);
		zt_format_time((unsigned long long)ts.tv_sec * 1000000000ull +
				       (unsigned long long)ts.tv_nsec, tbuf, sizeof(tbuf));
		json_object_object_add(line, "ts", json_object_new_string(tbuf));
		fprintf(f, "%s\n", json_object_to_json_string_ext(line, JSON_C_TO_STRING_PLAIN |
								       JSON_C_TO_STRING_NOSLASHESCAPE));
		fclose(f);
		json_object_put(line);
	} else {
		zt_log("warning", "audit: cannot open %s: %s", path, strerror(errno));
	}
	zt_emit(o);
}
