/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon core's state: what every role shares (the loop, the control
 * socket, and for roles with a policy the data plane and the live policy).
 * Included by core/ and roles/ only.
 */
#ifndef ZT_DAEMON_H
#define ZT_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "policy/compile.h"
#include "lib/json_io.h"
#include "dataplane/dataplane.h"
#include "core/events.h"
#include "lib/loop.h"
#include "policy/policy.h"
#include "ztgate/defaults.h"

/* Data-plane tunables every role writes into zt_config at start. */
struct zt_tunables {
	uint32_t scan_threshold;	/* distinct denied ports ... */
	uint32_t scan_window_ms;	/* ... within this window make a scan */
	uint32_t event_rate;		/* deny events per second, per CPU */
	uint32_t event_burst;
};

/* The same defaults BPF falls back on for zero fields (ztgate/defaults.h). */
#define ZT_TUNABLES_DEFAULT { .scan_threshold = ZT_DEF_SCAN_THRESHOLD, \
			      .scan_window_ms = ZT_DEF_SCAN_WINDOW_MS, \
			      .event_rate = ZT_DEF_EVENT_RATE, .event_burst = ZT_DEF_EVENT_BURST }

struct zt_control;
struct zt_managed;
struct zt_metrics;
struct zt_role_ops;

/*
 * The core's state, one per process. Roles read it (the loop, the live
 * policy, the maps) and keep their own state in ROLE; nothing below core/
 * includes this header.
 */
struct zt_daemon {
	const struct zt_role_ops *ops;
	void *role;			/* ops->state_size bytes, the role's own */
	const char *state_dir;
	const char *socket_path;
	const char *socket_group;	/* --socket-group: may connect and read; NULL: root only */
	const char *pin_dir;
	const char *metrics_addr;	/* --metrics ADDR:PORT, or NULL */
	struct zt_metrics *metrics;

	struct zt_loop *loop;
	struct zt_control *control;
	int signal_fd;
	bool teardown;			/* stop and remove the pins (CLI or --teardown) */

	/* ZT_ROLE_POLICY only; otherwise dp is NULL and the policy stays empty. */
	struct zt_dataplane *dp;
	zt_map_fds fds;
	struct zt_policy policy;	/* what the maps hold; swapped whole on change */
	struct zt_compiled compiled;	/* its entries, for writing a change as a diff */
	struct zt_events *events;
	struct zt_tunables tunables;	/* written into zt_config at start */

	/* ZT_ROLE_MANAGED, with --controller: the node's agent (core/managed.c). */
	const char *controller;		/* --controller HOST:PORT, or NULL: managed locally */
	const char *token;		/* --token TOKEN (first start) */
	struct zt_managed *managed;
};

/*
 * Make NEXT the live policy: compile into the inactive generation with the
 * role's run-time bindings, save, flip, tell the role. On error nothing has
 * changed and ERR says why (core/policy_apply.c).
 */
int zt_daemon_apply_policy(struct zt_daemon *d, struct zt_policy *next, char *err,
			   size_t errlen);

/*
 * Make the policy document DOC live (validated whole, counters of new ids
 * reset, then zt_daemon_apply_policy) and audit it as ACTION; nothing is
 * compiled when DOC equals the live policy. 0 or -errno with ERR
 * (core/policy_cmds.c).
 */
int zt_daemon_apply_document(struct zt_daemon *d, json_object *doc, const char *action,
			     char *err, size_t errlen);

/*
 * What `ztgate stats` shows: per-resource counters and totals, and the
 * role's own (tunnel, DNS, relay...). A reply object ("ok": true); the
 * caller owns it. core/metrics.c renders the same for Prometheus.
 */
json_object *zt_daemon_stats(struct zt_daemon *d);

/*
 * Append an audit record (stdout and STATE_DIR/audit.jsonl); PEER_FD, when
 * not -1, is the control connection whose credentials name who acted.
 */
void zt_audit(struct zt_daemon *d, int peer_fd, const char *action, json_object *detail);

#endif
