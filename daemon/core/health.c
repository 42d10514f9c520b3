// SPDX-License-Identifier: GPL-2.0-only
/* The daemon's health (health.h): the core's checks, then the role's. */
#include <stdbool.h>

#include "core/health.h"
#include "core/role.h"
#include "lib/version.h"

json_object *zt_health_json(struct zt_daemon *d)
{
	json_object *o = json_object_new_object(), *checks = json_object_new_object();
	struct zt_config cfg;
	bool ok = true;

	json_object_object_add(checks, "control", json_object_new_string(d->control ? "ok" : "down"));
	ok &= d->control != NULL;
	if (d->ops->needs & ZT_ROLE_POLICY) {
		bool dp = d->dp && !zt_config_read(d->fds, &cfg);

		json_object_object_add(checks, "dataplane",
				       json_object_new_string(dp ? "ok" : "maps not readable"));
		ok &= dp;
	}
	if (d->ops->health)
		ok &= d->ops->health(d, checks);
	json_object_object_add(o, "ok", json_object_new_boolean(ok));
	json_object_object_add(o, "role", json_object_new_string(d->ops->name));
	json_object_object_add(o, "version", json_object_new_string(zt_version()));
	json_object_object_add(o, "checks", checks);
	return o;
}
