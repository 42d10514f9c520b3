/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What a role is to the core: its name, the parts it needs, its options and
 * its operations. The core (lifecycle.c) parses the options, starts the parts
 * a role declares in one place, runs the loop and stops everything in
 * reverse; a role file (daemon/roles/) holds its options and these
 * operations only.
 *
 * Order at start: init -> options -> configure -> [policy store loaded] -> prepare ->
 * [loop; data plane opened, adopted, first compile] -> start -> [signals,
 * events, control socket] -> ready line -> run -> stop -> [core closes].
 */
#ifndef ZT_CORE_ROLE_H
#define ZT_CORE_ROLE_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

struct zt_daemon;
struct zt_event;
struct zt_exact_binding;
struct zt_policy;
struct zt_ctl_cmd;

/* The parts a role asks the core for (zt_role_ops.needs). */
enum zt_role_needs {
	/*
	 * A policy: the store in STATE_DIR, the tc/XDP data plane with its
	 * pinned maps, the deny/scan event ring, and the policy commands on the
	 * control socket. Without it (the relay) none of these is loaded.
	 */
	ZT_ROLE_POLICY = 1u << 0,
	/*
	 * May be managed by a controller (needs ZT_ROLE_POLICY): the core adds
	 * --controller HOST:PORT and --token TOKEN, runs the node's agent
	 * (core/managed.c) and refuses local policy edits while it does.
	 */
	ZT_ROLE_MANAGED = 1u << 1,
};

struct zt_role_ops {
	const char *name;		/* ztgated NAME */
	const char *summary;		/* one line for `ztgated --help` */
	unsigned int needs;		/* enum zt_role_needs */
	uint32_t dp_flags;		/* ZT_CFG_* set in zt_config at start */
	size_t state_size;		/* the role's state, zeroed: zt_daemon.role */

	/* The role's own options, ended by { 0 }; the core adds the common ones. */
	const struct option *options;
	void (*usage)(FILE *f);
	/* Set the role's defaults in its zeroed state, before the options. */
	void (*init)(struct zt_daemon *d);
	/* One of the role's options: 0, or -EINVAL after one line on stderr. */
	int (*option)(struct zt_daemon *d, int opt, const char *arg);

	/*
	 * Each returns 0 or -errno with ERR set. configure: the options taken
	 * together, before anything is read or opened (a failure is a usage
	 * error, exit 2). prepare: state read from disk before the kernel is
	 * touched. start: with the loop and, for ZT_ROLE_POLICY, the data plane
	 * up and the stored policy live.
	 */
	int (*configure)(struct zt_daemon *d, char *err, size_t errlen);
	int (*prepare)(struct zt_daemon *d, char *err, size_t errlen);
	int (*start)(struct zt_daemon *d, char *err, size_t errlen);
	/* Add the role's fields to the ready line. */
	void (*ready)(struct zt_daemon *d, json_object *ready);
	/* Undo start and prepare, whatever part of them ran; before the core closes. */
	void (*stop)(struct zt_daemon *d);

	/* Hooks, NULL when a role has none. */
	/* SIGHUP: reload what can be reloaded (the client: its upstreams). */
	int (*reload)(struct zt_daemon *d, char *err, size_t errlen);
	/*
	 * The addresses learnt at run time that a compile of NEXT must carry
	 * (*OUT malloc'd, may be NULL when *N is 0). 0 or -errno.
	 */
	int (*bindings)(struct zt_daemon *d, const struct zt_policy *next,
			struct zt_exact_binding **out, size_t *n);
	/* The new policy is live (the client's routes follow it). */
	int (*policy_applied)(struct zt_daemon *d, char *err, size_t errlen);
	/*
	 * A controller-managed node: a view's "self" object ({"kind", "id",
	 * "name", "address"?}) after its policy went live (the client takes
	 * its tunnel address from it). 0, or -errno with ERR.
	 */
	int (*view_self)(struct zt_daemon *d, json_object *self, char *err, size_t errlen);
	/*
	 * A controller's view named other relays than those the role opened
	 * (zt_managed_relays_merge gives the new set): the role opens the
	 * added ones and closes the removed ones, its --relay kept. 0, or
	 * -errno with ERR (the relays in use stay as they were).
	 */
	int (*view_relays)(struct zt_daemon *d, char *err, size_t errlen);
	/* Add role-specific fields to the `stats` reply. */
	void (*stats)(struct zt_daemon *d, json_object *o);
	/* Fill the `status` reply: "peers" and "relays" (tunnel roles). */
	void (*status)(struct zt_daemon *d, json_object *o);
	/* Add the role's checks to CHECKS (NAME: "ok" or why not); false if one failed. */
	bool (*health)(struct zt_daemon *d, json_object *checks);
	/* Sees each data-plane event before it is logged and broadcast. */
	void (*event)(struct zt_daemon *d, const struct zt_event *raw, json_object *ev);
	/* The role's own control commands, ended by { 0 }. */
	const struct zt_ctl_cmd *commands;
};

/*
 * ARG as a whole number in [MIN, MAX] for option --OPT (the name without
 * dashes); else one line on stderr and -EINVAL. For roles' option().
 */
int zt_opt_uint(const char *opt, const char *arg, unsigned long long min, unsigned long long max,
		unsigned long long *out);

/*
 * --relay HOST:PORT / --relay-tcp HOST:PORT (TCP): append to SPECS (*N of
 * ZT_PATHS_RELAYS_MAX); past the limit, one line on stderr and -EINVAL.
 */
struct zt_path_relay_spec;
int zt_opt_relay(struct zt_path_relay_spec *specs, size_t *n, const char *arg, bool tcp);

/*
 * --advertise ADDR (client and connector): "none", IP, IP:PORT or
 * [IPv6]:PORT appended to ADV; a bad one or one too many: one line on
 * stderr and -EINVAL ("none" mixed with addresses is configure's to refuse:
 * zt_opt_advertise_check).
 */
struct zt_paths_advertise;
int zt_opt_advertise(struct zt_paths_advertise *adv, const char *arg);
/* "none" and addresses together: -EINVAL with ERR. */
int zt_opt_advertise_check(const struct zt_paths_advertise *adv, char *err, size_t errlen);

/* Run ROLE with ARGV (argv[0] is the role's name); the process's exit code. */
int zt_daemon_main(const struct zt_role_ops *role, int argc, char **argv);

#endif
