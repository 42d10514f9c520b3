// SPDX-License-Identifier: GPL-2.0-only
/* The uplink guard as a role uses it (uplink_guard.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/uplink.h"
#include "dataplane/uplink_guard.h"
#include "lib/log.h"

struct zt_uplink_guard {
	struct zt_uplink *uplink;
	char pins[PATH_MAX];
	char ifname[64];
	bool attached;
};

static int configure(struct zt_uplink_guard *g, const struct zt_uplink_guard_cfg *cfg)
{
	int ret;

	if (cfg->relay_mode)
		return zt_uplink_set_relay_config(g->uplink, cfg->port, cfg->rate, cfg->burst);
	ret = zt_uplink_set_config(g->uplink, cfg->port, cfg->rate, cfg->burst);
	if (!ret)
		ret = zt_uplink_set_relays(g->uplink, cfg->relays, cfg->nrelays);
	return ret;
}

int zt_uplink_guard_start(const struct zt_uplink_guard_cfg *cfg, struct zt_uplink_guard **out,
			  char *err, size_t errlen)
{
	struct zt_uplink_info info;
	struct zt_uplink_guard *g;
	int ret;

	g = calloc(1, sizeof(*g));
	*out = g;
	if (!g)
		return zt_errf(err, errlen, -ENOMEM, "uplink guard: out of memory");
	snprintf(g->pins, sizeof(g->pins), "%s/uplink", cfg->pin_dir);
	snprintf(g->ifname, sizeof(g->ifname), "%s", cfg->ifname);
	ret = zt_uplink_open(g->pins, &g->uplink, err, errlen);
	if (ret)
		return ret;
	ret = configure(g, cfg);
	if (ret)
		return zt_errf(err, errlen, ret, "uplink guard config: %s", strerror(-ret));
	ret = zt_uplink_attach(g->uplink, cfg->ifname, &info, err, errlen);
	if (ret)
		return ret;
	g->attached = true;
	zt_log("info", "uplink guard on %s (%s mode%s), port %u", cfg->ifname,
	       info.native ? "native" : "generic", cfg->relay_mode ? ", relay" : "", cfg->port);
	return 0;
}

int zt_uplink_guard_set_relays(struct zt_uplink_guard *g, const struct zt_endpoint *relays, size_t n)
{
	return g ? zt_uplink_set_relays(g->uplink, relays, n) : 0;
}

void zt_uplink_guard_stop(struct zt_uplink_guard *g)
{
	char err[256];

	if (!g)
		return;
	if (g->uplink) {
		if (g->attached && zt_uplink_detach(g->uplink, g->ifname, err, sizeof(err)))
			zt_log("error", "uplink guard: %s", err);
		zt_uplink_close(g->uplink);
		if (zt_uplink_teardown(g->pins, err, sizeof(err)))
			zt_log("error", "uplink guard: %s", err);
	}
	free(g);
}

void zt_uplink_guard_stats_json(const struct zt_uplink_guard *g, json_object *o)
{
	struct zt_uplink_stats us = { 0 };
	json_object *u;

	if (!g || !g->uplink)
		return;
	zt_uplink_read_stats(g->uplink, &us);
	u = json_object_new_object();
	json_object_object_add(u, "iface", json_object_new_string(g->ifname));
#define PUT(f) json_object_object_add(u, #f, json_object_new_int64((int64_t)us.f))
	PUT(passed); PUT(dropped_malformed); PUT(dropped_ratelimited); PUT(initiations_seen);
	PUT(dropped_exthdr);
#undef PUT
	json_object_object_add(o, "uplink", u);
}
