/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dataplane: loads the BPF objects, pins their maps under a per-instance
 * directory, attaches the tc and XDP entry points, adopts what a previous
 * daemon left behind, and tears it all down on request.
 *
 * Closing a dataplane leaves programs attached and maps pinned: that is
 * what keeps enforcement in place while the daemon is down (fail closed).
 * Only zt_dp_teardown() removes them.
 *
 * Implemented in dataplane.c, except zt_dp_teardown() (teardown.c, which
 * also removes the uplink guard and the DNS fast path). The helpers the
 * loaders share (link type, tc slot owner, map clear...) are in
 * bpf_util.h. Callers: core/lifecycle.c (open, map fds, teardown), the
 * roles (attach; enforce.c's --teardown), core/control.c (map names),
 * policy/compile.c (enum zt_map_id), the BPF tests. Functions return 0
 * or -errno.
 */
#ifndef ZT_DATAPLANE_H
#define ZT_DATAPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

enum zt_map_id {
	ZT_MAP_CONFIG,
	ZT_MAP_RES_EXACT,
	ZT_MAP_RES_PREFIX,
	ZT_MAP_RESOURCES,
	ZT_MAP_PORTS,
	ZT_MAP_DEVICES,
	ZT_MAP_GRANTS,
	ZT_MAP_DEV_BINDS,
	ZT_MAP_COUNTERS,
	ZT_MAP_SCAN,
	ZT_MAP_EVBUDGET,
	ZT_MAP_EVENTS,
	ZT_MAP_FRAG,
	ZT_MAP__COUNT,
};

/* The pinned name of each map (a file under the pin directory). */
const char *zt_map_name(enum zt_map_id id);

struct zt_dataplane;

/*
 * Mount bpffs at /sys/fs/bpf if none is mounted there, create pin_dir, load
 * the programs, reusing maps already pinned in pin_dir (so their contents
 * survive a restart) and pinning the ones that are not; then give the scan
 * detector a new random key (zt_config.scan_key_*). Returns 0 or -errno.
 */
int zt_dp_open(const char *pin_dir, struct zt_dataplane **out);

/*
 * Attach the tc entry point to IFNAME (clsact, ingress or egress) through
 * libbpf's bpf_tc_* API (bpf_util.h, zt_tc_attach_ours). The filter uses a
 * fixed handle and priority; this instance's filter there is replaced in
 * place, so a restarted daemon re-attaches with no gap. Another instance's
 * filter or a foreign program at that handle is never taken over: -EBUSY,
 * with a warning logged that says which. Picks the L2 or L3 variant from
 * the device type (a TUN has no Ethernet header); -EPROTONOSUPPORT for
 * other link types.
 */
int zt_dp_attach_tc(struct zt_dataplane *dp, const char *ifname, bool egress);

/*
 * Attach the XDP entry point to IFNAME through libxdp (multi-program
 * dispatcher, so it coexists with other XDP programs). If a ztgate XDP
 * program is already attached there, keep it: it already uses the pinned
 * maps.
 */
int zt_dp_attach_xdp(struct zt_dataplane *dp, const char *ifname);

/* fd of a map; valid until zt_dp_close(). */
int zt_dp_map_fd(const struct zt_dataplane *dp, enum zt_map_id id);

const char *zt_dp_pin_dir(const struct zt_dataplane *dp);

/*
 * How many hooks in this network namespace run this instance's programs
 * (tc ingress/egress filters and XDP): 0 for pins a cleanly stopped
 * instance left behind. -errno on error.
 */
int zt_dp_attachments(const struct zt_dataplane *dp);

/* Free userspace state; programs stay attached, maps stay pinned. */
void zt_dp_close(struct zt_dataplane *dp);

/*
 * Detach this instance's tc filters and XDP programs (found by the
 * zt_config pinned in PIN_DIR; every ztgate one if the pins are gone) from
 * every interface of the current network namespace. Pins stay. The first
 * step of zt_dp_teardown(); keeps going on errors and returns the first.
 */
int zt_dp_detach_all(const char *pin_dir);

/*
 * Detach every ztgate tc filter and XDP program from every interface of the
 * current network namespace, and remove pin_dir with everything in it
 * (the uplink guard's and the DNS fast path's subdirectories included).
 * Defined in teardown.c, the one place that knows all three loaders.
 */
int zt_dp_teardown(const char *pin_dir);

#endif /* ZT_DATAPLANE_H */
