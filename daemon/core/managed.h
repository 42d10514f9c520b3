/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A controller-managed node (roles with ZT_ROLE_MANAGED started with
 * --controller): the core's side of the node's agent (agent/agent.h). The
 * role's configure calls zt_managed_prepare (the node's key and the pinned
 * controller key, made or read before anything opens); the core opens the
 * agent after the role's start (lifecycle.c), hands it the one atomic
 * policy path for views, shows its session in `status`, and closes it
 * first at stop. Local policy edits are refused while d->controller is set
 * (control.c).
 */
#ifndef ZT_CORE_MANAGED_H
#define ZT_CORE_MANAGED_H

#include <stddef.h>

#include <json-c/json.h>

#include "path/relays.h"

struct zt_daemon;

/*
 * Settle the node's identity in STATE_DIR (agent.h, zt_agent_prepare) with
 * KEY_FILE (--key, or NULL: STATE_DIR/node.key). 0 or -errno with ERR.
 */
int zt_managed_prepare(struct zt_daemon *d, const char *key_file, char *err, size_t errlen);
/* The node's private key file, once prepared. */
const char *zt_managed_key_file(const struct zt_daemon *d);

/*
 * The relays the controller's view names (its "relays": ["HOST:PORT"...]),
 * appended to SPECS (*N of them, at most ZT_PATHS_RELAYS_MAX) after the
 * node's own --relay, those already there skipped: the persisted view's
 * at configure, or, for a client whose tunnel waits for its first view,
 * that view's. Called when the role opens its relays; from then on a
 * change of the view's relays calls the role's view_relays, which calls
 * this again from its own --relay count (docs/CONTROLLER.md). The strings
 * added are the view's: valid until the next view changes them (the relay
 * modules copy them). Returns how many were added.
 */
size_t zt_managed_relays_merge(struct zt_daemon *d, struct zt_path_relay_spec *specs, size_t *n);

/* Open the agent: the persisted view applied, the session started. 0 or -errno with ERR. */
int zt_managed_open(struct zt_daemon *d, char *err, size_t errlen);
void zt_managed_close(struct zt_daemon *d);

/* The connector's tunnel endpoint and connection logs, for the controller. */
void zt_managed_set_endpoint(struct zt_daemon *d, const char *endpoint);
void zt_managed_report_connection(struct zt_daemon *d, json_object *line);

/*
 * Add "controller": {"connected" (0/1), "rev_applied", "reconnects",
 * "connections_dropped"} to the stats reply O (and so to /metrics).
 */
void zt_managed_stats(const struct zt_daemon *d, json_object *o);

/* Re-authenticate with TOKEN (agent.h, zt_agent_reauth). 0 or -errno with ERR. */
int zt_managed_reauth(struct zt_daemon *d, const char *token, char *err, size_t errlen);

/* The session as `ztgate status` shows it (zt_agent_status), or NULL when not managed. */
json_object *zt_managed_status(const struct zt_daemon *d);

#endif
