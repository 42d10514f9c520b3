/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Durable policy: STATE_DIR/policy.json, replaced atomically (write a temp
 * file, fsync it, rename over the old one, fsync the directory), so a crash
 * or power loss leaves either the old or the new policy, never a mix.
 */
#ifndef ZT_POLICY_STORE_H
#define ZT_POLICY_STORE_H

#include <stdbool.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "policy/policy.h"

/* Is there a policy file at all (an empty policy is still a file)? */
bool zt_store_exists(const char *state_dir);

/* A missing file is an empty policy. Returns 0 or -errno with ERR set. */
int zt_store_load(const char *state_dir, struct zt_policy *p, char *err, size_t errlen);
int zt_store_save(const char *state_dir, const struct zt_policy *p, char *err, size_t errlen);

/*
 * Atomic replacement of STATE_DIR/NAME for any writer: write to af.f, then
 * commit (fsync, rename over the old file, fsync the directory) or abort.
 * A crash leaves the old file or the new one, never a mix.
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

/* mkdir -p with MODE for the last component. */
int zt_mkdir_p(const char *path, unsigned int mode);

#endif
