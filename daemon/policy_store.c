// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy_store.h"

#define POLICY_FILE "policy.json"

int zt_mkdir_p(const char *path, unsigned int mode)
{
	char buf[PATH_MAX];
	char *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

bool zt_store_exists(const char *state_dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", state_dir, POLICY_FILE);
	return access(path, F_OK) == 0;
}

int zt_store_load(const char *state_dir, struct zt_policy *p, char *err, size_t errlen)
{
	char path[PATH_MAX];
	json_object *obj;
	int ret;

	zt_policy_init(p);
	snprintf(path, sizeof(path), "%s/%s", state_dir, POLICY_FILE);
	if (access(path, F_OK) && errno == ENOENT)
		return 0;
	obj = json_object_from_file(path);
	if (!obj) {
		snprintf(err, errlen, "%s: %s", path, json_util_get_last_err());
		return -EINVAL;
	}
	ret = zt_policy_from_json(p, obj, err, errlen);
	json_object_put(obj);
	return ret;
}

int zt_store_save(const char *state_dir, const struct zt_policy *p, char *err, size_t errlen)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	json_object *obj = NULL;
	const char *text;
	size_t len, off = 0;
	int fd = -1, dfd = -1, ret;

	ret = zt_mkdir_p(state_dir, 0700);
	if (ret) {
		snprintf(err, errlen, "%s: %s", state_dir, strerror(-ret));
		return ret;
	}
	snprintf(path, sizeof(path), "%s/%s", state_dir, POLICY_FILE);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", state_dir, POLICY_FILE);

	obj = zt_policy_to_json(p);
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
						   JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(text);

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto sys_err;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto sys_err;
		}
		off += (size_t)w;
	}
	if (write(fd, "\n", 1) != 1 || fsync(fd))
		goto sys_err;
	if (close(fd)) {
		fd = -1;
		goto sys_err;
	}
	fd = -1;
	if (rename(tmp, path))
		goto sys_err;
	/* The rename is durable only once the directory is. */
	dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd))
		goto sys_err;
	ret = 0;
	goto out;

sys_err:
	ret = -errno;
	snprintf(err, errlen, "saving %s: %s", path, strerror(errno));
	unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	json_object_put(obj);
	return ret;
}
