/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Is this daemon healthy: its control socket up, for roles with a policy its
 * data plane readable and its hooks attached, and what the role checks
 * (zt_role_ops.health). For /healthz (metrics.c), `ztgate health` (the
 * `health` control command) and liveness/readiness probes.
 */
#ifndef ZT_CORE_HEALTH_H
#define ZT_CORE_HEALTH_H

#include <json-c/json.h>

#include "core/daemon.h"

/* {"ok": bool, "role", "version", "checks": {NAME: "ok" or why not}}; the caller owns it. */
json_object *zt_health_json(struct zt_daemon *d);

#endif
