/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Files the daemon keeps across restarts: directories made as needed
 * (state dir, pin dir, audit log) and files replaced atomically (write a
 * temp file beside it, fsync, rename over the old one, fsync the
 * directory), so a crash or power loss leaves the old file or the new one,
 * never a mix. Users: the policy store (policy/store.c), the fake IP pool
 * (dns/fakeip.c), the BPF pin directory (dataplane/), the audit log.
 */
#ifndef ZT_FSUTIL_H
#define ZT_FSUTIL_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>

/* mkdir -p: missing parents with 0755, the last component with MODE. 0 or -errno. */
int zt_mkdir_p(const char *path, unsigned int mode);

/*
 * Atomic replacement of DIR/NAME: begin (makes DIR, mode 0700, if needed;
 * the temp file is DIR/.NAME.tmp, mode 0600, created anew with O_EXCL and
 * O_NOFOLLOW: whatever was planted there is never written through), write
 * to af.f, then commit
 * or abort. Each returns 0 or -errno with ERR set; a failed commit has
 * aborted (the temp file is gone, the old file untouched).
 */
struct zt_atomic_file {
	char dir[PATH_MAX];
	char path[PATH_MAX];
	char tmp[PATH_MAX];
	FILE *f;
};

int zt_atomic_begin(struct zt_atomic_file *af, const char *dir, const char *name, char *err,
		    size_t errlen);
int zt_atomic_commit(struct zt_atomic_file *af, char *err, size_t errlen);
void zt_atomic_abort(struct zt_atomic_file *af);

#endif
