// SPDX-License-Identifier: GPL-2.0-only
/*
 * A role's life, the same for every role (role.h has the order): options,
 * the parts the role needs (policy store, data plane, events), the control
 * socket, the ready line, the loop, and shutdown leaving enforcement in
 * place unless a teardown was asked for. main.c calls zt_daemon_main with
 * the role's operations.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "core/control.h"
#include "core/daemon.h"
#include "core/managed.h"
#include "core/metrics.h"
#include "core/role.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/version.h"
#include "path/relays.h"
#include "policy/store.h"

#define MAX_OPTIONS 64

/* Options every role takes; their values are below 0x100 to stay clear of the roles'. */
enum {
	OPT_STATE_DIR = 1, OPT_SOCKET, OPT_PIN_DIR, OPT_TEARDOWN, OPT_HELP, OPT_VERSION,
	OPT_LOG_LEVEL, OPT_SOCKET_GROUP, OPT_METRICS, OPT_CONTROLLER, OPT_TOKEN,
	OPT_TOKEN_FILE,
};

static const struct option common_options[] = {
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
	{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
};

/* --teardown: only where there is a data plane to tear down. */
static const struct option teardown_option = { "teardown", no_argument, NULL, OPT_TEARDOWN };

/* Roles a controller may manage (ZT_ROLE_MANAGED). */
static const struct option managed_options[] = {
	{ "controller", required_argument, NULL, OPT_CONTROLLER },
	{ "token", required_argument, NULL, OPT_TOKEN },
	{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
};

/*
 * --controller again: several controllers of one database (they share a
 * key), joined "A,B" for the agent, which moves to the next on a failure.
 */
static int add_controller(struct zt_daemon *d, const char *arg)
{
	static char list[1024];
	size_t len = strlen(list);

	if (!d->controller) {
		d->controller = arg;
		return 0;
	}
	if (!len)
		len = (size_t)snprintf(list, sizeof(list), "%s", d->controller);
	if (len + 1 + strlen(arg) >= sizeof(list)) {
		fprintf(stderr, "ztgated: too many --controller\n");
		return -EINVAL;
	}
	snprintf(list + len, sizeof(list) - len, ",%s", arg);
	d->controller = list;
	return 0;
}

static size_t merge_options(const struct zt_role_ops *ops, struct option *out)
{
	size_t n = 0, i;

	for (i = 0; i < sizeof(common_options) / sizeof(common_options[0]); i++)
		out[n++] = common_options[i];
	if (ops->needs & ZT_ROLE_POLICY)
		out[n++] = teardown_option;
	if (ops->needs & ZT_ROLE_MANAGED) {
		for (i = 0; i < sizeof(managed_options) / sizeof(managed_options[0]); i++)
			out[n++] = managed_options[i];
	}
	for (i = 0; ops->options && ops->options[i].name && n < MAX_OPTIONS - 1; i++)
		out[n++] = ops->options[i];
	out[n] = (struct option){ 0 };
	return n;
}

/*
 * --token-file FILE: the token in FILE (a Kubernetes Secret's file, say:
 * not in the process's command line). An absent FILE is no token: a node
 * already enrolled needs none. 0, or -errno after one line on stderr.
 */
static int read_token_file(struct zt_daemon *d, const char *path)
{
	static char token[512];
	FILE *f = fopen(path, "re");
	size_t n;

	if (d->token) {
		fprintf(stderr, "ztgated %s: --token and --token-file: give one\n", d->ops->name);
		return -EINVAL;
	}
	if (!f && errno == ENOENT)
		return 0;
	if (!f) {
		int e = errno;

		fprintf(stderr, "ztgated %s: --token-file %s: %s\n", d->ops->name, path, strerror(e));
		return -e;
	}
	n = fread(token, 1, sizeof(token) - 1, f);
	fclose(f);
	while (n && (token[n - 1] == '\n' || token[n - 1] == '\r' || token[n - 1] == ' '))
		n--;
	token[n] = '\0';
	if (n)
		d->token = token;
	return 0;
}

/* 0: go on; 1: done (--help, --teardown), exit 0; -EINVAL: usage error, reported. */
static int parse_options(struct zt_daemon *d, int argc, char **argv, bool *teardown_now)
{
	struct option opts[MAX_OPTIONS];
	int c;

	merge_options(d->ops, opts);
	optind = 1;
	opterr = 0;	/* one line of our own instead of getopt's and a usage page */
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_STATE_DIR: d->state_dir = optarg; break;
		case OPT_SOCKET: d->socket_path = optarg; break;
		case OPT_PIN_DIR: d->pin_dir = optarg; break;
		case OPT_SOCKET_GROUP: d->socket_group = optarg; break;
		case OPT_METRICS: d->metrics_addr = optarg; break;
		case OPT_CONTROLLER:
			if (add_controller(d, optarg))
				return -EINVAL;
			break;
		case OPT_TOKEN:
			if (d->token) {
				fprintf(stderr, "ztgated %s: --token given twice, or with --token-file\n",
					d->ops->name);
				return -EINVAL;
			}
			d->token = optarg;
			break;
		case OPT_TOKEN_FILE:
			if (read_token_file(d, optarg))
				return -EINVAL;
			break;
		case OPT_TEARDOWN: *teardown_now = true; break;
		case OPT_LOG_LEVEL:
			if (zt_log_set_level(optarg)) {
				fprintf(stderr, "ztgated: invalid --log-level '%s': expected debug, info, "
					"warning or error\n", optarg);
				return -EINVAL;
			}
			break;
		case 'h':
		case OPT_HELP:
			d->ops->usage(stdout);
			fprintf(stdout, "every role: [--state-dir DIR] [--socket PATH] [--socket-group GROUP]\n"
				"            [--pin-dir DIR] [--log-level debug|info|warning|error]\n"
				"            [--metrics ADDR:PORT] [--version]\n");
			if (d->ops->needs & ZT_ROLE_MANAGED)
				fprintf(stdout, "managed by a controller: --controller HOST:PORT "
					"[--token TOKEN | --token-file FILE] (the token at the first\n"
					"start only; an absent FILE is no token;\n"
					"the node's key is made in the state dir unless --key is given)\n");
			return 1;
		case OPT_VERSION:
			printf("ztgated %s\n", zt_version());
			return 1;
		case ':':
			fprintf(stderr, "ztgated %s: option '%s' needs a value\n", d->ops->name,
				argv[optind - 1]);
			return -EINVAL;
		case '?':
			fprintf(stderr, "ztgated %s: unknown option '%s' (see ztgated %s --help)\n",
				d->ops->name, argv[optind - 1], d->ops->name);
			return -EINVAL;
		default:
			if (d->ops->option(d, c, optarg))
				return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ztgated: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

int zt_opt_uint(const char *opt, const char *arg, unsigned long long min, unsigned long long max,
		unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || *arg == '-' || *out < min || *out > max) {
		fprintf(stderr, "ztgated: invalid --%s '%s': expected %llu-%llu\n", opt, arg, min, max);
		return -EINVAL;
	}
	return 0;
}

int zt_opt_relay(struct zt_path_relay_spec *specs, size_t *n, const char *arg, bool tcp)
{
	if (*n == ZT_PATHS_RELAYS_MAX) {
		fprintf(stderr, "ztgated: at most %d relays\n", ZT_PATHS_RELAYS_MAX);
		return -EINVAL;
	}
	specs[(*n)++] = (struct zt_path_relay_spec){ .relay = arg, .tcp = tcp };
	return 0;
}

int zt_opt_advertise(struct zt_paths_advertise *adv, const char *arg)
{
	char why[128];

	if (!strcmp(arg, "none")) {
		adv->none = true;
		return 0;
	}
	if (adv->n == ZT_CAND_ADVERTISE_MAX) {
		fprintf(stderr, "ztgated: at most %d --advertise\n", ZT_CAND_ADVERTISE_MAX);
		return -EINVAL;
	}
	if (zt_cand_parse_advertise(arg, &adv->addr[adv->n], why, sizeof(why))) {
		fprintf(stderr, "ztgated: invalid --advertise '%s': %s\n", arg, why);
		return -EINVAL;
	}
	adv->n++;
	return 0;
}

int zt_opt_advertise_check(const struct zt_paths_advertise *adv, char *err, size_t errlen)
{
	if (adv->none && adv->n) {
		snprintf(err, errlen, "--advertise none: no other --advertise with it");
		return -EINVAL;
	}
	return 0;
}

static int teardown(const char *pin_dir)
{
	int ret = zt_dp_teardown(pin_dir);

	if (ret) {
		fprintf(stderr, "ztgated: teardown of %s: %s\n", pin_dir, strerror(-ret));
		return ret;
	}
	zt_log("info", "teardown: programs detached, %s removed", pin_dir);
	return 0;
}

static int open_dataplane(struct zt_daemon *d, char *err, size_t errlen)
{
	const struct zt_tunables *t = &d->tunables;
	int ret, i;

	ret = zt_dp_open(d->pin_dir, &d->dp);
	if (ret == -EBUSY) {
		snprintf(err, errlen, "another ztgated is running with pin dir %s", d->pin_dir);
		return ret;
	}
	if (ret == -EINVAL) {
		/* libbpf refuses a pinned map whose layout differs from ours. */
		snprintf(err, errlen,
			 "loading BPF data plane into %s: pinned maps do not match this version "
			 "(tear the old instance down first: ztgated enforce --teardown --pin-dir %s)",
			 d->pin_dir, d->pin_dir);
		return ret;
	}
	if (ret) {
		snprintf(err, errlen, "loading BPF data plane into %s: %s", d->pin_dir,
			 strerror(-ret));
		return ret;
	}
	for (i = 0; i < ZT_MAP__COUNT; i++)
		d->fds[i] = zt_dp_map_fd(d->dp, i);
	ret = zt_config_set_tunables(d->fds, t->scan_threshold, t->scan_window_ms, t->event_rate,
				     t->event_burst);
	if (!ret && d->ops->dp_flags)
		ret = zt_config_set_flags(d->fds, d->ops->dp_flags);
	if (ret)
		snprintf(err, errlen, "writing zt_config: %s", strerror(-ret));
	return ret;
}

/* Refuse to adopt pinned maps that hold a policy when the state dir has none. */
static int check_adoption(struct zt_daemon *d, char *err, size_t errlen)
{
	struct zt_config cfg;

	if (zt_store_exists(d->state_dir))
		return 0;
	/*
	 * Pinned maps that enforce a policy, and no policy file: a wrong or
	 * lost --state-dir. Compiling "no policy" would open every resource.
	 */
	if (zt_config_read(d->fds, &cfg) || !zt_compile_has_addresses(d->fds, cfg.active_gen))
		return 0;
	/*
	 * Unless they enforce nothing any more: a cleanly stopped instance's
	 * pins, its devices gone (a client's TUN). Those are reused.
	 */
	if (zt_dp_attachments(d->dp) == 0) {
		zt_log("warning", "%s holds a policy that is attached nowhere (a stopped instance's "
		       "pins): reusing it for %s", d->pin_dir, d->state_dir);
		return 0;
	}
	snprintf(err, errlen,
		 "%s enforces a policy but %s has no policy.json: refusing to replace it with "
		 "an empty one (right --state-dir? or tear down first)", d->pin_dir, d->state_dir);
	return -ESTALE;
}

/*
 * Make the stored policy live, with the addresses the role brought back.
 * Adopting pinned state: the maps already enforce, but what they hold is
 * unknown to this process; this swaps in the stored policy whole, into both
 * generations, and from then on changes are written as differences.
 */
static int initial_compile(struct zt_daemon *d, char *err, size_t errlen)
{
	struct zt_exact_binding *binds = NULL;
	size_t n = 0;
	uint32_t gen;
	int ret;

	ret = d->ops->bindings ? d->ops->bindings(d, &d->policy, &binds, &n) : 0;
	if (ret) {
		snprintf(err, errlen, "run-time address bindings: %s", strerror(-ret));
		return ret;
	}
	ret = zt_compile_prepare_with(d->fds, &d->compiled, &d->policy, binds, n, &gen, err, errlen);
	free(binds);
	if (!ret)
		ret = zt_compile_commit(d->fds, &d->compiled, gen, err, errlen);
	return ret;
}

/* SIGHUP: what the role can reload, without stopping. */
static void reload(struct zt_daemon *d)
{
	char err[512] = "";

	if (d->ops->reload && d->ops->reload(d, err, sizeof(err)))
		zt_log("error", "reload: %s", err);
	else
		zt_log("info", "reloaded (log level %s)", zt_log_level());
}

static void on_signal(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;

	(void)events;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		reload(arg);
		return;
	}
	zt_log("info", "signal %u: stopping; pinned programs keep enforcing", si.ssi_signo);
	sd_notify(0, "STOPPING=1");
	zt_loop_stop(loop);
}

static void on_events(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_daemon *d = arg;

	(void)loop;
	(void)fd;
	(void)events;
	zt_events_poll(d->events);
}

/* Each event goes to the log stream and to every `ztgate events` follower. */
static void event_sink(const struct zt_event *raw, json_object *ev, void *arg)
{
	struct zt_daemon *d = arg;

	if (d->ops->event)
		d->ops->event(d, raw, ev);
	zt_control_broadcast(d, ev);
	zt_emit(json_object_get(ev));
}

/* The event ring buffer (roles with a policy) and SIGINT/SIGTERM/SIGHUP. */
static int watch(struct zt_daemon *d, char *err, size_t errlen)
{
	sigset_t mask;
	int ret;

	if (d->dp) {
		ret = zt_events_open(d->fds[ZT_MAP_EVENTS], &d->policy, event_sink, d,
				     &d->events);
		if (!ret) {
			zt_events_watch_lost(d->events, d->fds[ZT_MAP_EVBUDGET]);
			ret = zt_loop_add(d->loop, zt_events_fd(d->events), EPOLLIN, on_events, d);
		}
		if (ret) {
			snprintf(err, errlen, "event ring buffer: %s", strerror(-ret));
			return ret;
		}
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (d->signal_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "signalfd: %s", strerror(errno));
		return ret;
	}
	ret = zt_loop_add(d->loop, d->signal_fd, EPOLLIN, on_signal, d);
	if (ret)
		snprintf(err, errlen, "event loop: %s", strerror(-ret));
	return ret;
}

/* Everything up to the loop; each step undone by close_all whatever ran. */
static int start(struct zt_daemon *d, char *err, size_t errlen)
{
	const struct zt_role_ops *ops = d->ops;
	int ret;

	/* Validate what is stored before touching the kernel. */
	if (ops->needs & ZT_ROLE_POLICY) {
		ret = zt_store_load(d->state_dir, &d->policy, err, errlen);
		if (ret)
			return ret;
	}
	if (ops->prepare) {
		ret = ops->prepare(d, err, errlen);
		if (ret)
			return ret;
	}
	ret = zt_loop_new(&d->loop);
	if (ret) {
		snprintf(err, errlen, "event loop: %s", strerror(-ret));
		return ret;
	}
	if (ops->needs & ZT_ROLE_POLICY) {
		ret = open_dataplane(d, err, errlen);
		if (!ret)
			ret = check_adoption(d, err, errlen);
		if (!ret)
			ret = initial_compile(d, err, errlen);
		if (ret)
			return ret;
	}
	ret = ops->start(d, err, errlen);
	/* The persisted view is enforced before the controller is asked (fail static). */
	if (!ret && d->managed)
		ret = zt_managed_open(d, err, errlen);
	if (!ret)
		ret = watch(d, err, errlen);
	if (!ret)
		ret = zt_control_open(d, d->socket_group, err, errlen);
	if (!ret && d->metrics_addr)
		ret = zt_metrics_open(d, d->metrics_addr, &d->metrics, err, errlen);
	return ret;
}

static void emit_ready(struct zt_daemon *d)
{
	json_object *ready = json_object_new_object();

	json_object_object_add(ready, "event", json_object_new_string("ready"));
	json_object_object_add(ready, "role", json_object_new_string(d->ops->name));
	json_object_object_add(ready, "version", json_object_new_string(zt_version()));
	if (d->ops->ready)
		d->ops->ready(d, ready);
	json_object_object_add(ready, "pin_dir", json_object_new_string(d->pin_dir));
	json_object_object_add(ready, "socket", json_object_new_string(d->socket_path));
	json_object_object_add(ready, "state_dir", json_object_new_string(d->state_dir));
	if (d->ops->needs & ZT_ROLE_POLICY)
		json_object_object_add(ready, "resources", json_object_new_int((int)d->policy.count));
	if (d->controller)
		json_object_object_add(ready, "controller", json_object_new_string(d->controller));
	zt_emit(ready);
	/* Under systemd (Type=notify): the data plane is attached, the socket answers. */
	sd_notifyf(0, "READY=1\nSTATUS=%s role ready", d->ops->name);
}

/* A fatal error: one line on stderr, and the same as a JSON line for the log stream. */
static void fatal(const char *msg)
{
	fprintf(stderr, "ztgated: %s\n", msg);
	zt_log("error", "fatal: %s", msg);
}

/* Close everything; programs stay attached unless d->teardown. */
static void close_all(struct zt_daemon *d)
{
	zt_metrics_close(d->metrics);
	d->metrics = NULL;
	zt_managed_close(d);	/* no view applied from here on */
	if (d->ops->stop)
		d->ops->stop(d);
	zt_control_close(d);
	zt_events_close(d->events);
	d->events = NULL;
	if (d->signal_fd >= 0)
		close(d->signal_fd);
	d->signal_fd = -1;
	zt_dp_close(d->dp);
	d->dp = NULL;
	if (d->teardown)
		teardown(d->pin_dir);
	zt_loop_free(d->loop);
	d->loop = NULL;
	zt_policy_free(&d->policy);
	zt_compiled_free(&d->compiled);
}

int zt_daemon_main(const struct zt_role_ops *ops, int argc, char **argv)
{
	char state_dir[256], socket_path[256], pin_dir[256], err[512] = "";
	struct zt_daemon d = {
		.ops = ops,
		.state_dir = state_dir,
		.socket_path = socket_path,
		.pin_dir = pin_dir,
		.signal_fd = -1,
		.tunables = ZT_TUNABLES_DEFAULT,
	};
	bool teardown_now = false;
	int ret;

	/* Per role, so that every role runs on one host with its defaults. */
	snprintf(state_dir, sizeof(state_dir), "%s/%s", ZT_STATE_ROOT, ops->name);
	snprintf(socket_path, sizeof(socket_path), "%s/%s.sock", ZT_RUN_DIR, ops->name);
	snprintf(pin_dir, sizeof(pin_dir), "%s/%s", ZT_PIN_ROOT, ops->name);

	zt_policy_init(&d.policy);
	zt_compiled_init(&d.compiled);
	d.role = calloc(1, ops->state_size ? ops->state_size : 1);
	if (!d.role) {
		fprintf(stderr, "ztgated: out of memory\n");
		return 1;
	}
	if (ops->init)
		ops->init(&d);
	ret = parse_options(&d, argc, argv, &teardown_now);
	if (ret) {
		free(d.role);
		return ret > 0 ? 0 : 2;
	}
	if (teardown_now) {
		free(d.role);
		return teardown(d.pin_dir) ? 1 : 0;
	}
	if (d.token && !d.controller) {
		fatal("--token needs --controller HOST:PORT");
		ret = 2;
		goto out;
	}
	if (ops->configure && ops->configure(&d, err, sizeof(err))) {
		fatal(err);
		ret = 2;
		goto out;
	}
	ret = start(&d, err, sizeof(err));
	if (!ret) {
		emit_ready(&d);
		ret = zt_loop_run(d.loop);
		if (ret)
			snprintf(err, sizeof(err), "event loop: %s", strerror(-ret));
		/* Events still in the ring are worth a last look before we go. */
		else if (d.events)
			zt_events_poll(d.events);
	}
	if (ret)
		fatal(err[0] ? err : strerror(-ret));
	ret = ret ? 1 : 0;
out:
	close_all(&d);
	free(d.role);
	return ret;
}
