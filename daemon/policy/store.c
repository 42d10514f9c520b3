// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
