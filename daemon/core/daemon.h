/* SPDX-License-Identifier: GPL-2.0-only */
/* State shared by a role's modules: the loop, the data plane, the policy. */
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

#define ZT_DEFAULT_STATE_DIR "/var/lib/ztgate"

struct zt_ctl_client;
struct zt_dns_server;
struct zt_fakeip;

struct zt_daemon {
	const char *role;
	const char *state_dir;
	const char *socket_path;
	const char *pin_dir;

	struct zt_loop *loop;
	struct zt_dataplane *dp;
	zt_map_fds fds;
	struct zt_policy policy;	/* what the maps hold; swapped whole on change */
	struct zt_events *events;

	int listen_fd;
	int signal_fd;
	struct zt_ctl_client *clients;
	bool teardown;			/* a client asked for teardown */

	/* The client role's DNS side; NULL in other roles. */
	struct zt_fakeip *fakeip;	/* its mappings ride along every compile */
	struct zt_dns_server *dns;

	/* Role hooks, NULL when a role has none. */
	/* The new policy is live (the client's routes follow it). */
	int (*policy_applied)(struct zt_daemon *d, char *err, size_t errlen);
	/* Add role-specific fields to the `stats` reply. */
	void (*stats)(struct zt_daemon *d, json_object *o);
	/* Fill the `status` reply: "peers" (zt_paths_status_json rows) and "relays". */
	void (*status)(struct zt_daemon *d, json_object *o);
	/*
	 * The addresses learnt at run time that a compile of NEXT must carry
	 * (*OUT malloc'd, may be NULL when *N is 0). 0 or -errno.
	 */
	int (*bindings)(struct zt_daemon *d, const struct zt_policy *next,
			struct zt_exact_binding **out, size_t *n);
	/* Sees each data-plane event before it is logged and broadcast. */
	void (*event)(struct zt_daemon *d, const struct zt_event *raw, json_object *ev);
};

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

/* The options every role takes, for its getopt_long table. */
#define ZT_DAEMON_LONGOPTS \
	{ "state-dir", required_argument, NULL, 's' }, \
	{ "socket", required_argument, NULL, 'S' }, \
	{ "pin-dir", required_argument, NULL, 'p' }

/* Take one of ZT_DAEMON_LONGOPTS; false if C is not one of them. */
bool zt_daemon_common_opt(struct zt_daemon *d, int c, const char *arg);
/* Report getopt_long's '?' or ':' for ROLE in one line; returns -EINVAL. */
int zt_daemon_bad_opt(const char *role, int c, char **argv);
/* After getopt_long: a role takes no positional arguments. */
int zt_daemon_no_args(int argc, char **argv);

/* Shared start-up and shut-down (core.c); each returns 0 or -errno with ERR set. */
/* The loop, the data plane (maps adopted or created) and the tunables. */
int zt_daemon_open_dataplane(struct zt_daemon *d, const struct zt_tunables *t, char *err,
			     size_t errlen);
/* Refuse to adopt pinned maps that hold a policy when the state dir has none. */
int zt_daemon_check_adoption(struct zt_daemon *d, char *err, size_t errlen);
/* Follow the event ring buffer and SIGINT/SIGTERM/SIGHUP from the loop. */
int zt_daemon_watch(struct zt_daemon *d, char *err, size_t errlen);
/* Run until a signal or a teardown request. */
int zt_daemon_run(struct zt_daemon *d, char *err, size_t errlen);
/* Close everything; programs stay attached unless d->teardown. */
void zt_daemon_close(struct zt_daemon *d);

/* Control socket: listen on d->socket_path (mode 0600) and serve the CLI. */
int zt_control_open(struct zt_daemon *d, char *err, size_t errlen);
void zt_control_close(struct zt_daemon *d);
/* Send an event to every `ztgate events` subscriber. */
void zt_control_broadcast(struct zt_daemon *d, json_object *ev);

/*
 * Append an audit record (stdout and STATE_DIR/audit.jsonl); PEER_FD, when
 * not -1, is the control connection whose credentials name who acted.
 */
void zt_audit(struct zt_daemon *d, int peer_fd, const char *action, json_object *detail);

int zt_role_enforce(int argc, char **argv);
int zt_role_client(int argc, char **argv);
int zt_role_connector(int argc, char **argv);
int zt_role_relay(int argc, char **argv);

#endif
