/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Durable policy: STATE_DIR/policy.json, replaced atomically (write a temp
 * file, fsync it, rename over the old one, fsync the directory), so a crash
 * or power loss leaves either the old or the new policy, never a mix.
 */
#ifndef ZT_POLICY_STORE_H
#define ZT_POLICY_STORE_H

#include <stdbool.h>
#include <stddef.h>

/* The atomic replace the store writes through; its includers also find zt_mkdir_p there. */
#include "lib/fsutil.h"
#include "policy/policy.h"

/* Is there a policy file at all (an empty policy is still a file)? */
bool zt_store_exists(const char *state_dir);

/* A missing file is an empty policy. Returns 0 or -errno with ERR set. */
int zt_store_load(const char *state_dir, struct zt_policy *p, char *err, size_t errlen);
int zt_store_save(const char *state_dir, const struct zt_policy *p, char *err, size_t errlen);

#endif
