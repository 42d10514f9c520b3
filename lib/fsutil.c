// SPDX-License-Identifier: GPL-2.0-only
/* Directories made as needed and files replaced atomically (fsutil.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fsutil.h"

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

int zt_atomic_begin(struct zt_atomic_file *af, const char *dir, const char *name, char *err,
		    size_t errlen)
{
	int fd, ret;

	memset(af, 0, sizeof(*af));
	if (snprintf(af->dir, sizeof(af->dir), "%s", dir) >= (int)sizeof(af->dir) ||
	    snprintf(af->path, sizeof(af->path), "%s/%s", dir, name) >= (int)sizeof(af->path) ||
	    snprintf(af->tmp, sizeof(af->tmp), "%s/.%s.tmp", dir, name) >= (int)sizeof(af->tmp)) {
		snprintf(err, errlen, "%s: %s", dir, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	ret = zt_mkdir_p(dir, 0700);
	if (ret) {
		snprintf(err, errlen, "%s: %s", dir, strerror(-ret));
		return ret;
	}
	/*
	 * A new file of our own, never one (or a symlink) found there: a stale
	 * temp file from a crash goes first (unlink removes a symlink itself,
	 * not its target), then O_EXCL | O_NOFOLLOW refuses whatever appears
	 * in between instead of writing through it.
	 */
	if (unlink(af->tmp) && errno != ENOENT) {
		ret = -errno;
		snprintf(err, errlen, "saving %s: %s: %s", af->path, af->tmp, strerror(-ret));
		return ret;
	}
	fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		af->f = fdopen(fd, "w");
		if (!af->f)
			close(fd);
	}
	if (!af->f) {
		ret = -errno;
		snprintf(err, errlen, "saving %s: %s", af->path, strerror(-ret));
		if (ret != -EEXIST)
			unlink(af->tmp);
		return ret;
	}
	return 0;
}

void zt_atomic_abort(struct zt_atomic_file *af)
{
	if (af->f)
		fclose(af->f);
	af->f = NULL;
	unlink(af->tmp);
}

int zt_atomic_commit(struct zt_atomic_file *af, char *err, size_t errlen)
{
	int dfd = -1, ret;

	errno = 0;
	if (fflush(af->f) || ferror(af->f) || fsync(fileno(af->f)))
		goto sys_err;
	ret = fclose(af->f);
	af->f = NULL;
	if (ret || rename(af->tmp, af->path))
		goto sys_err;
	/* The rename is durable only once the directory is. */
	dfd = open(af->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd))
		goto sys_err;
	close(dfd);
	return 0;

sys_err:
	ret = errno ? -errno : -EIO;
	snprintf(err, errlen, "saving %s: %s", af->path, strerror(-ret));
	if (dfd >= 0)
		close(dfd);
	zt_atomic_abort(af);
	return ret;
}
