// SPDX-License-Identifier: GPL-2.0-only
/*
 * `ztgated controller`: the control plane. It holds the model
 * (controller/model.h) in its database, serves nodes on --listen (the node
 * server, controller/node_server.h) and admins on the control socket (the
 * admin commands, roles/controller_cmds.c). Like the relay it enforces no
 * policy: no store, no data plane. Options and role operations.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <openssl/mem.h>

#include "controller/model.h"
#include "controller/node_server.h"
#include "controlplane/viewsig.h"
#include "core/daemon.h"
#include "core/role.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "roles/controller.h"
#include "roles/roles.h"
#include "tunnel/keys.h"
#include "tunnel/noise.h"

#define ZT_CONTROLLER_DEFAULT_LISTEN	"0.0.0.0:7450"
#define ZT_CONTROLLER_RELAYS_MAX	8

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ztgated controller --listen ADDR:PORT --key FILE [--db URL]\n"
		"                          [--relay HOST:PORT]... [--keep-changes N]\n"
		"                          [--state-dir DIR] [--socket PATH]\n"
		"Holds users, groups, networks, connectors, resources, access rules and\n"
		"devices; nodes enroll with tokens on --listen (TCP) and receive their view;\n"
		"admins use `ztgate admin ...` on the control socket.\n"
		"--db: sqlite:PATH, a PATH, or postgresql://... (default STATE_DIR/controller.db);\n"
		"      several controllers may share one PostgreSQL database, all active\n"
		"--relay: a relay every node's view names (repeatable), besides the\n"
		"  relays of `ztgate admin relay add` (those change without a restart)\n"
		"--keep-changes: revisions the change log keeps (default %d); a controller\n"
		"      further behind reloads the whole model\n"
		"views are signed with an Ed25519 key derived from --key\n"
		"defaults: --listen %s\n", ZT_CHANGES_KEEP, ZT_CONTROLLER_DEFAULT_LISTEN);
}

static const struct option options[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "key", required_argument, NULL, 'k' },
	{ "db", required_argument, NULL, 'D' },
	{ "relay", required_argument, NULL, 'R' },
	{ "keep-changes", required_argument, NULL, 'K' },
	{ 0 },
};

static int option(struct zt_daemon *d, int c, const char *arg)
{
	struct controller_role *cr = d->role;
	char why[160];

	switch (c) {
	case 'l': cr->listen = arg; return 0;
	case 'k': cr->key_file = arg; return 0;
	case 'D': cr->db_url = arg; return 0;
	case 'K': {
		char *end;
		unsigned long long n = strtoull(arg, &end, 10);

		if (!*arg || *end || *arg == '-' || n < 1 || n > 1000000000ULL) {
			fprintf(stderr, "ztgated: --keep-changes '%s': a number of revisions,"
				" 1..1000000000\n", arg);
			return -EINVAL;
		}
		cr->keep_changes = n;
		return 0;
	}
	case 'R':
		if (cr->nrelays == ZT_CONTROLLER_RELAYS_MAX) {
			fprintf(stderr, "ztgated: at most %d --relay\n", ZT_CONTROLLER_RELAYS_MAX);
			return -EINVAL;
		}
		if (zt_relay_address_check(arg, why, sizeof(why))) {
			fprintf(stderr, "ztgated: --relay: %s\n", why);
			return -EINVAL;
		}
		cr->relays[cr->nrelays++] = arg;
		return 0;
	default:
		return -EINVAL;
	}
}

static void init(struct zt_daemon *d)
{
	struct controller_role *cr = d->role;

	cr->listen = ZT_CONTROLLER_DEFAULT_LISTEN;
	cr->expiry_fd = cr->audit_fd = -1;
}

static int configure(struct zt_daemon *d, char *err, size_t errlen)
{
	struct controller_role *cr = d->role;
	int ret;

	if (!cr->key_file) {
		snprintf(err, errlen, "controller needs --key FILE (and --listen ADDR:PORT, default %s)",
			 ZT_CONTROLLER_DEFAULT_LISTEN);
		return -EINVAL;
	}
	ret = zt_endpoint_parse(cr->listen, &cr->listen_ep, err, errlen);
	if (ret)
		return ret;
	ret = zt_key_load_private(cr->key_file, cr->priv, err, errlen);
	if (!ret)
		zt_noise_public_key(cr->pub, cr->priv);
	return ret;
}

/* The state dir and the model, before the loop. */
static int prepare(struct zt_daemon *d, char *err, size_t errlen)
{
	struct controller_role *cr = d->role;
	int ret = zt_mkdir_p(d->state_dir, 0700);

	if (ret) {
		snprintf(err, errlen, "%s: %s", d->state_dir, strerror(-ret));
		return ret;
	}
	ret = zt_viewsig_key_derive(cr->priv, cr->view_pub, cr->view_priv);
	if (ret) {
		snprintf(err, errlen, "cannot derive the view signing key");
		return ret;
	}
	ret = zt_model_open(&cr->model, cr->db_url, d->state_dir, cr->pub, err, errlen);
	if (!ret)
		cr->model->keep_changes = cr->keep_changes;
	for (size_t i = 0; !ret && i < cr->nrelays; i++)
		if (zt_model_add_relay(cr->model, cr->relays[i]))
			ret = -ENOMEM;
	return ret;
}

/* The session timer fires at WHEN (Unix seconds; 0: never) or, with SOON, in 10 ms. */
static void expiry_arm(struct controller_role *cr, int64_t when, bool soon)
{
	struct itimerspec its = { 0 };

	if (cr->expiry_fd < 0)
		return;
	if (soon) {
		its.it_value.tv_nsec = 10 * 1000 * 1000;
		timerfd_settime(cr->expiry_fd, 0, &its, NULL);
	} else {
		its.it_value.tv_sec = when;	/* 0: disarmed */
		timerfd_settime(cr->expiry_fd, TFD_TIMER_ABSTIME, &its, NULL);
	}
	cr->expiry_kicked = soon;
}

/*
 * Sessions expired, allowed hours began or ended, service account keys
 * expired: their connectors' views move, expired keys' sessions close (like
 * a revoked device's); old tokens go (hourly); the timer goes to the
 * earliest next one.
 */
static void on_expiry(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct controller_role *cr = arg;
	struct zt_node_ident *gone = NULL;
	int64_t next, next_key;
	size_t ngone = 0;
	uint64_t ticks;
	char err[256];

	(void)loop;
	(void)events;
	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	cr->expiry_kicked = false;
	next = zt_model_expire(cr->model);
	if (zt_model_expire_keys(cr->model, &next_key, &gone, &ngone, err, sizeof(err)))
		zt_log("warn", "service account key expiry: %s (trying again)", err);
	for (size_t i = 0; cr->server && i < ngone; i++)
		zt_node_server_disconnect(cr->server, &gone[i]);
	free(gone);
	if (next_key && (!next || next_key < next))
		next = next_key;
	if (zt_model_prune_tokens(cr->model, &next_key, err, sizeof(err)) < 0)
		zt_log("warn", "controller: tokens not pruned: %s (trying again)", err);
	if (!next || next_key < next)
		next = next_key;
	expiry_arm(cr, next, false);
}

/* The model's word that IDENT's view (NULL: every view) may have changed. */
static void on_changed(void *arg, const struct zt_node_ident *ident)
{
	struct controller_role *cr = arg;

	zt_model_want_current(cr->model, ident);
	if (cr->server)
		zt_node_server_changed(cr->server, ident);
	/* A session, a policy or a membership may have moved: look again once the burst is over. */
	if (!cr->expiry_kicked)
		expiry_arm(cr, 0, true);
}

/* A timerfd on CLOCK in D's loop calling ON with the role; *FD -1 on failure. */
static int timer_open(struct zt_daemon *d, clockid_t clock, zt_loop_cb on, int *fd,
		      const char *what, char *err, size_t errlen)
{
	int ret;

	*fd = timerfd_create(clock, TFD_NONBLOCK | TFD_CLOEXEC);
	if (*fd < 0)
		return zt_errf(err, errlen, -errno, "%s: %s", what, strerror(errno));
	ret = zt_loop_add(d->loop, *fd, EPOLLIN, on, d->role);
	if (ret) {
		close(*fd);
		*fd = -1;
		return zt_errf(err, errlen, ret, "%s: %s", what, strerror(-ret));
	}
	return 0;
}

static int expiry_open(struct zt_daemon *d, char *err, size_t errlen)
{
	struct controller_role *cr = d->role;
	int ret = timer_open(d, CLOCK_REALTIME, on_expiry, &cr->expiry_fd, "session timer", err,
			     errlen);

	if (!ret)
		expiry_arm(cr, 0, true);
	return ret;
}

/* The audit queue's first record: written ZT_AUDIT_FLUSH_MS later with what follows it. */
static void audit_arm(void *arg)
{
	struct controller_role *cr = arg;
	struct itimerspec its = { .it_value.tv_nsec = ZT_AUDIT_FLUSH_MS * 1000 * 1000 };

	if (cr->audit_fd >= 0)
		timerfd_settime(cr->audit_fd, 0, &its, NULL);
}

static void on_audit(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct controller_role *cr = arg;
	uint64_t ticks;
	char err[256];

	(void)loop;
	(void)events;
	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	if (zt_model_audit_flush(cr->model, err, sizeof(err))) {
		zt_log("warn", "controller: %zu audit records not yet written: %s (trying again)",
		       cr->model->napend, err);
		audit_arm(cr);
	}
}

static int audit_open(struct zt_daemon *d, char *err, size_t errlen)
{
	struct controller_role *cr = d->role;
	int ret = timer_open(d, CLOCK_MONOTONIC, on_audit, &cr->audit_fd, "audit timer", err,
			     errlen);

	if (ret)
		return ret;
	cr->model->audit_queued = audit_arm;
	cr->model->audit_queued_arg = cr;
	return 0;
}

static int start(struct zt_daemon *d, char *err, size_t errlen)
{
	struct controller_role *cr = d->role;
	struct zt_node_server_cfg cfg = {
		.loop = d->loop, .listen = cr->listen_ep, .ops = &zt_model_node_ops,
		.ctx = cr->model, .admin = zt_controller_remote_admin, .admin_arg = d,
	};
	int ret;

	memcpy(cfg.static_priv, cr->priv, sizeof(cfg.static_priv));
	memcpy(cfg.view_priv, cr->view_priv, sizeof(cfg.view_priv));
	cr->model->changed = on_changed;
	cr->model->changed_arg = cr;
	ret = audit_open(d, err, errlen);
	if (ret)
		return ret;
	ret = zt_node_server_open(&cr->server, &cfg, err, errlen);
	OPENSSL_cleanse(cfg.static_priv, sizeof(cfg.static_priv));
	OPENSSL_cleanse(cfg.view_priv, sizeof(cfg.view_priv));
	if (!ret)
		ret = zt_controller_sync_start(cr, d->loop, err, errlen);
	return ret ? ret : expiry_open(d, err, errlen);
}

static void ready(struct zt_daemon *d, json_object *ready)
{
	struct controller_role *cr = d->role;
	char b64[ZT_KEY_B64_LEN + 1], vk[ZT_VIEWSIG_PUB_B64_LEN + 1];

	zt_key_to_base64(cr->pub, b64);
	json_object_object_add(ready, "listen", json_object_new_string(cr->listen));
	json_object_object_add(ready, "pubkey", json_object_new_string(b64));
	zt_viewsig_pub_to_base64(cr->view_pub, vk);
	json_object_object_add(ready, "view_key", json_object_new_string(vk));
	json_object_object_add(ready, "db", json_object_new_string(zt_controller_db_url(cr)));
	json_object_object_add(ready, "rev", json_object_new_int64((int64_t)cr->model->rev));
}

static void stop(struct zt_daemon *d)
{
	struct controller_role *cr = d->role;

	zt_controller_sync_stop(cr);
	if (cr->expiry_fd >= 0) {
		zt_loop_del(d->loop, cr->expiry_fd);
		close(cr->expiry_fd);
	}
	cr->expiry_fd = -1;
	zt_node_server_close(cr->server);
	cr->server = NULL;
	if (cr->audit_fd >= 0) {
		zt_loop_del(d->loop, cr->audit_fd);
		close(cr->audit_fd);
	}
	cr->audit_fd = -1;
	if (cr->model)
		cr->model->audit_queued = NULL;
	zt_model_close(cr->model);	/* writes what is still queued */
	cr->model = NULL;
	OPENSSL_cleanse(cr->priv, sizeof(cr->priv));
	OPENSSL_cleanse(cr->view_priv, sizeof(cr->view_priv));
}

static void status(struct zt_daemon *d, json_object *o)
{
	struct controller_role *cr = d->role;

	json_object_object_add(o, "rev", json_object_new_int64((int64_t)cr->model->rev));
	json_object_object_add(o, "nodes", zt_node_server_status(cr->server));
}

static bool health(struct zt_daemon *d, json_object *checks)
{
	struct controller_role *cr = d->role;

	json_object_object_add(checks, "controller", json_object_new_string(cr->server ? "ok" : "down"));
	return cr->server != NULL;
}

const struct zt_role_ops zt_role_controller = {
	.name = "controller",
	.summary = "the control plane: the model, node enrollment and views, the admin API",
	.needs = 0,
	.state_size = sizeof(struct controller_role),
	.options = options,
	.usage = usage,
	.init = init,
	.option = option,
	.configure = configure,
	.prepare = prepare,
	.start = start,
	.ready = ready,
	.stop = stop,
	.status = status,
	.health = health,
	.commands = zt_controller_commands,
};
