// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/store.h"

#define POLICY_FILE "policy.json"

bool zt_store_exists(const char *state_dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", state_dir, POLICY_FILE);
	return access(path, F_OK) == 0;
}

int zt_store_load(const char *state_dir, struct zt_policy *p, char *err, size_t errlen)
{
	char path[PATH_MAX], sub[512];
	json_object *obj;
	struct stat st;
	int fd, ret;

	zt_policy_init(p);
	snprintf(path, sizeof(path), "%s/%s", state_dir, POLICY_FILE);
	/* Never through a symlink; only a file root (or we) wrote and no one else may. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || fstat(fd, &st)) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & 022)) {
		snprintf(err, errlen, "%s: refusing a policy file that is not a regular file "
			 "owned by root (or uid %u) and writable by its owner only (uid %u, mode %04o)",
			 path, (unsigned int)geteuid(), (unsigned int)st.st_uid,
			 (unsigned int)(st.st_mode & 07777));
		close(fd);
		return -EACCES;
	}
	obj = json_object_from_fd(fd);
	close(fd);
	if (!obj) {
		snprintf(err, errlen, "%s: %s", path, json_util_get_last_err());
		return -EINVAL;
	}
	ret = zt_policy_from_json(p, obj, sub, sizeof(sub));
	json_object_put(obj);
	if (ret)
		snprintf(err, errlen, "%s: %s", path, sub);
	return ret;
}

int zt_store_save(const char *state_dir, const struct zt_policy *p, char *err, size_t errlen)
{
	struct zt_atomic_file af;
	char *text;
	int ret;

	/* The same text `ztgate export` prints, so the file can be applied as it is. */
	text = zt_policy_to_text(p);
	if (!text) {
		snprintf(err, errlen, "saving the policy: out of memory");
		return -ENOMEM;
	}
	ret = zt_atomic_begin(&af, state_dir, POLICY_FILE, err, errlen);
	if (!ret) {
		fputs(text, af.f);
		ret = zt_atomic_commit(&af, err, errlen);
	}
	free(text);
	return ret;
}
