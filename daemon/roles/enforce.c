// SPDX-License-Identifier: GPL-2.0-only
/*
 * `ztgated enforce`: standalone enforcement of the local policy on the
 * given interfaces: the core's policy parts (store, data plane, control
 * socket, events) and the attachments. Its options and role operations.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "core/daemon.h"
#include "core/role.h"
#include "roles/roles.h"

#define MAX_IFACES 32

struct attach_req {
	const char *ifname;
	const char *hook;	/* "tc-ingress", "tc-egress", "xdp" */
};

/* The interfaces to attach to, in the order given. */
struct enforce {
	struct attach_req attach[MAX_IFACES];
	unsigned int nattach;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ztgated enforce [--tc-ingress IFACE]... [--tc-egress IFACE]... [--xdp IFACE]...\n"
		"                       [--state-dir DIR] [--socket PATH] [--pin-dir DIR]\n"
		"                       [--scan-threshold N] [--scan-window-ms MS]\n"
		"                       [--event-rate N] [--event-burst N] [--teardown]\n");
}

/* --OPT as a uint32_t in [MIN, MAX]. */
static int opt_u32(const char *opt, const char *arg, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long long v;

	if (zt_opt_uint(opt, arg, min, max, &v))
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int attach_all(struct zt_daemon *d, char *err, size_t errlen)
{
	const struct enforce *o = d->role;
	unsigned int i;
	int ret;

	for (i = 0; i < o->nattach; i++) {
		const struct attach_req *a = &o->attach[i];

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
				why = "the hook's filter slot is held by another ztgate instance or a "
				      "foreign program (logged above)";
			snprintf(err, errlen, "attaching %s to %s: %s", a->hook, a->ifname, why);
			return ret;
		}
	}
	return 0;
}

/* The hooks asked for (all attached: start fails otherwise), as JSON. */
static json_object *attached_json(const struct enforce *o)
{
	json_object *list = json_object_new_array();

	for (unsigned int i = 0; i < o->nattach; i++) {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "iface", json_object_new_string(o->attach[i].ifname));
		json_object_object_add(e, "hook", json_object_new_string(o->attach[i].hook));
		json_object_array_add(list, e);
	}
	return list;
}

static void ready(struct zt_daemon *d, json_object *ready)
{
	json_object_object_add(ready, "attached", attached_json(d->role));
}

static void status(struct zt_daemon *d, json_object *o)
{
	json_object_object_add(o, "attached", attached_json(d->role));
}

static int option(struct zt_daemon *d, int c, const char *arg)
{
	struct enforce *o = d->role;
	struct zt_tunables *t = &d->tunables;

	switch (c) {
	case 'i':
	case 'e':
	case 'x':
		if (o->nattach == MAX_IFACES) {
			fprintf(stderr, "ztgated: at most %d attachments\n", MAX_IFACES);
			return -EINVAL;
		}
		o->attach[o->nattach].ifname = arg;
		o->attach[o->nattach].hook = c == 'i' ? "tc-ingress" : c == 'e' ? "tc-egress" : "xdp";
		o->nattach++;
		return 0;
	case 'T': return opt_u32("scan-threshold", arg, 1, 1023, &t->scan_threshold);
	case 'W': return opt_u32("scan-window-ms", arg, 1, 3600000, &t->scan_window_ms);
	case 'R': return opt_u32("event-rate", arg, 1, 1000000, &t->event_rate);
	case 'B': return opt_u32("event-burst", arg, 1, 1000000, &t->event_burst);
	default: return -EINVAL;
	}
}

static const struct option options[] = {
	{ "tc-ingress", required_argument, NULL, 'i' },
	{ "tc-egress", required_argument, NULL, 'e' },
	{ "xdp", required_argument, NULL, 'x' },
	{ "scan-threshold", required_argument, NULL, 'T' },
	{ "scan-window-ms", required_argument, NULL, 'W' },
	{ "event-rate", required_argument, NULL, 'R' },
	{ "event-burst", required_argument, NULL, 'B' },
	{ 0 },
};

const struct zt_role_ops zt_role_enforce = {
	.name = "enforce",
	.summary = "enforce the local policy on the given interfaces",
	.needs = ZT_ROLE_POLICY,
	.state_size = sizeof(struct enforce),
	.options = options,
	.usage = usage,
	.option = option,
	.start = attach_all,
	.ready = ready,
	.status = status,
};
