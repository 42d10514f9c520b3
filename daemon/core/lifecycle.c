// SPDX-License-Identifier: GPL-2.0-only
/*
 * What every role does the same way: bring up the loop and the data plane,
 * follow the event ring and the signals, and shut down leaving enforcement
 * in place unless a teardown was asked for.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/daemon.h"
#include "lib/log.h"
#include "policy/store.h"

bool zt_daemon_common_opt(struct zt_daemon *d, int c, const char *arg)
{
	switch (c) {
	case 's': d->state_dir = arg; return true;
	case 'S': d->socket_path = arg; return true;
	case 'p': d->pin_dir = arg; return true;
	default: return false;
	}
}

int zt_daemon_bad_opt(const char *role, int c, char **argv)
{
	const char *opt = argv[optind - 1];

	if (c == ':')
		fprintf(stderr, "ztgated %s: option '%s' needs a value\n", role, opt);
	else
		fprintf(stderr, "ztgated %s: unknown option '%s' (see ztgated %s --help)\n", role,
			opt, role);
	return -EINVAL;
}

int zt_daemon_no_args(int argc, char **argv)
{
	if (optind < argc) {
		fprintf(stderr, "ztgated: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

int zt_daemon_open_dataplane(struct zt_daemon *d, const struct zt_tunables *t, char *err,
			     size_t errlen)
{
	int ret, i;

	ret = zt_loop_new(&d->loop);
	if (ret) {
		snprintf(err, errlen, "event loop: %s", strerror(-ret));
		return ret;
	}
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
	if (ret)
		snprintf(err, errlen, "writing zt_config: %s", strerror(-ret));
	return ret;
}

int zt_daemon_check_adoption(struct zt_daemon *d, char *err, size_t errlen)
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
	snprintf(err, errlen,
		 "%s enforces a policy but %s has no policy.json: refusing to replace it with "
		 "an empty one (right --state-dir? or tear down first)", d->pin_dir, d->state_dir);
	return -ESTALE;
}

static void on_signal(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;

	(void)events;
	(void)arg;
	if (read(fd, &si, sizeof(si)) == sizeof(si))
		zt_log("info", "signal %u: stopping; pinned programs keep enforcing",
		       si.ssi_signo);
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

	if (d->event)
		d->event(d, raw, ev);
	zt_control_broadcast(d, ev);
	zt_emit(json_object_get(ev));
}

int zt_daemon_watch(struct zt_daemon *d, char *err, size_t errlen)
{
	sigset_t mask;
	int ret;

	ret = zt_events_open(d->fds[ZT_MAP_EVENTS], &d->policy, event_sink, d, &d->events);
	if (!ret)
		ret = zt_loop_add(d->loop, zt_events_fd(d->events), EPOLLIN, on_events, d);
	if (ret) {
		snprintf(err, errlen, "event ring buffer: %s", strerror(-ret));
		return ret;
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

int zt_daemon_run(struct zt_daemon *d, char *err, size_t errlen)
{
	int ret = zt_loop_run(d->loop);

	if (ret) {
		snprintf(err, errlen, "event loop: %s", strerror(-ret));
		return ret;
	}
	/* Events still in the ring are worth a last look before we go. */
	zt_events_poll(d->events);
	return 0;
}

void zt_daemon_close(struct zt_daemon *d)
{
	zt_control_close(d);
	zt_events_close(d->events);
	d->events = NULL;
	if (d->signal_fd >= 0)
		close(d->signal_fd);
	d->signal_fd = -1;
	zt_dp_close(d->dp);
	d->dp = NULL;
	if (d->teardown) {
		int r = zt_dp_teardown(d->pin_dir);

		if (r)
			fprintf(stderr, "ztgated: teardown of %s: %s\n", d->pin_dir, strerror(-r));
		else
			zt_log("info", "teardown: programs detached, %s removed", d->pin_dir);
	}
	zt_loop_free(d->loop);
	d->loop = NULL;
	zt_policy_free(&d->policy);
}
