// SPDX-License-Identifier: GPL-2.0-only
/*
 * `ztgated enforce`: standalone enforcement of the local policy on the
 * given interfaces. The other roles build on the same pieces: data plane,
 * policy store, compiler, control socket, events.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/daemon.h"
#include "lib/log.h"
#include "policy/store.h"

#define MAX_IFACES 32

struct attach_req {
	const char *ifname;
	const char *hook;	/* "tc-ingress", "tc-egress", "xdp" */
};

struct enforce_opts {
	struct attach_req attach[MAX_IFACES];
	unsigned int nattach;
	struct zt_tunables tun;
	bool teardown;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ztgated enforce [--tc-ingress IFACE]... [--tc-egress IFACE]... [--xdp IFACE]...\n"
		"                       [--state-dir DIR] [--socket PATH] [--pin-dir DIR]\n"
		"                       [--scan-threshold N] [--scan-window-ms MS]\n"
		"                       [--event-rate N] [--event-burst N] [--teardown]\n");
}

static int parse_u32(const char *opt, const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		fprintf(stderr, "ztgated: invalid %s '%s': expected %u-%u\n", opt, s, min, max);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

static int attach_all(struct zt_daemon *d, const struct enforce_opts *o, json_object *list,
		      char *err, size_t errlen)
{
	unsigned int i;
	int ret;

	for (i = 0; i < o->nattach; i++) {
		const struct attach_req *a = &o->attach[i];
		json_object *e;

		if (!strcmp(a->hook, "xdp"))
			ret = zt_dp_attach_xdp(d->dp, a->ifname);
		else
			ret = zt_dp_attach_tc(d->dp, a->ifname, !strcmp(a->hook, "tc-egress"));
		if (ret) {
			const char *why = strerror(-ret);

			if (ret == -EPROTONOSUPPORT)
				why = strcmp(a->hook, "xdp") ?
				      "unsupported link type (Ethernet and L3 tunnels only)" :
				      "XDP needs an Ethernet device; use --tc-ingress on TUN and other L3 devices";
			else if (ret == -EBUSY)
				why = "another ztgate instance enforces on this hook";
			snprintf(err, errlen, "attaching %s to %s: %s", a->hook, a->ifname, why);
			return ret;
		}
		e = json_object_new_object();
		json_object_object_add(e, "iface", json_object_new_string(a->ifname));
		json_object_object_add(e, "hook", json_object_new_string(a->hook));
		json_object_array_add(list, e);
	}
	return 0;
}

static int parse_opts(int argc, char **argv, struct zt_daemon *d, struct enforce_opts *o)
{
	static const struct option longopts[] = {
		{ "tc-ingress", required_argument, NULL, 'i' },
		{ "tc-egress", required_argument, NULL, 'e' },
		{ "xdp", required_argument, NULL, 'x' },
		ZT_DAEMON_LONGOPTS,
		{ "scan-threshold", required_argument, NULL, 'T' },
		{ "scan-window-ms", required_argument, NULL, 'W' },
		{ "event-rate", required_argument, NULL, 'R' },
		{ "event-burst", required_argument, NULL, 'B' },
		{ "teardown", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	optind = 1;
	opterr = 0;	/* one line of our own instead of getopt's and a usage page */
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
		case 'e':
		case 'x':
			if (o->nattach == MAX_IFACES) {
				fprintf(stderr, "ztgated: at most %d attachments\n", MAX_IFACES);
				return -EINVAL;
			}
			o->attach[o->nattach].ifname = optarg;
			o->attach[o->nattach].hook = c == 'i' ? "tc-ingress" :
						     c == 'e' ? "tc-egress" : "xdp";
			o->nattach++;
			break;
		case 'T':
			if (parse_u32("--scan-threshold", optarg, 1, 1023, &o->tun.scan_threshold))
				return -EINVAL;
			break;
		case 'W':
			if (parse_u32("--scan-window-ms", optarg, 1, 3600000, &o->tun.scan_window_ms))
				return -EINVAL;
			break;
		case 'R':
			if (parse_u32("--event-rate", optarg, 1, 1000000, &o->tun.event_rate))
				return -EINVAL;
			break;
		case 'B':
			if (parse_u32("--event-burst", optarg, 1, 1000000, &o->tun.event_burst))
				return -EINVAL;
			break;
		case 'D': o->teardown = true; break;
		case 'h': usage(stdout); exit(0);
		default:
			if (zt_daemon_common_opt(d, c, optarg))
				break;
			return zt_daemon_bad_opt("enforce", c, argv);
		}
	}
	return zt_daemon_no_args(argc, argv);
}

int zt_role_enforce(int argc, char **argv)
{
	struct zt_daemon d = {
		.role = "enforce",
		.state_dir = ZT_DEFAULT_STATE_DIR,
		.socket_path = ZT_DEFAULT_SOCKET_PATH,
		.pin_dir = ZT_DEFAULT_PIN_DIR,
		.listen_fd = -1,
		.signal_fd = -1,
	};
	struct enforce_opts o = { .tun = ZT_TUNABLES_DEFAULT };
	json_object *ready = NULL, *attached;
	char err[512];
	int ret;

	zt_policy_init(&d.policy);
	if (parse_opts(argc, argv, &d, &o))
		return 2;

	if (o.teardown) {
		ret = zt_dp_teardown(d.pin_dir);
		if (ret) {
			fprintf(stderr, "ztgated: teardown of %s: %s\n", d.pin_dir, strerror(-ret));
			return 1;
		}
		zt_log("info", "teardown: programs detached, %s removed", d.pin_dir);
		return 0;
	}

	/* Validate the stored policy before touching the kernel. */
	ret = zt_store_load(d.state_dir, &d.policy, err, sizeof(err));
	if (ret)
		goto fail;
	ret = zt_daemon_open_dataplane(&d, &o.tun, err, sizeof(err));
	if (!ret)
		ret = zt_daemon_check_adoption(&d, err, sizeof(err));
	if (ret)
		goto fail;
	/* Adopting pinned state: the maps already enforce; this swaps in the stored policy whole. */
	ret = zt_compile_apply(d.fds, &d.policy, err, sizeof(err));
	if (ret)
		goto fail;

	attached = json_object_new_array();
	ready = json_object_new_object();
	json_object_object_add(ready, "attached", attached);
	ret = attach_all(&d, &o, attached, err, sizeof(err));
	if (ret)
		goto fail;
	ret = zt_daemon_watch(&d, err, sizeof(err));
	if (!ret)
		ret = zt_control_open(&d, err, sizeof(err));
	if (ret)
		goto fail;

	json_object_object_add(ready, "event", json_object_new_string("ready"));
	json_object_object_add(ready, "role", json_object_new_string(d.role));
	json_object_object_add(ready, "pin_dir", json_object_new_string(d.pin_dir));
	json_object_object_add(ready, "socket", json_object_new_string(d.socket_path));
	json_object_object_add(ready, "state_dir", json_object_new_string(d.state_dir));
	json_object_object_add(ready, "resources", json_object_new_int((int)d.policy.count));
	zt_emit(ready);
	ready = NULL;

	ret = zt_daemon_run(&d, err, sizeof(err));
	if (!ret)
		goto out;
fail:
	fprintf(stderr, "ztgated: %s\n", err);
out:
	json_object_put(ready);
	zt_daemon_close(&d);
	return ret ? 1 : 0;
}
