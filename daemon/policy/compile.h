/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Policy compilation: turns a struct zt_policy into BPF map entries and
 * switches the data plane to it in one step. Called by core/ (the start's
 * compile, policy changes, the roles' run-time bindings) and the tests.
 *
 * How a change stays atomic for packets: every policy map key carries a
 * generation (0/1). Each packet reads zt_config.active_gen once, so it sees
 * either the whole old or the whole new policy.
 *
 * How a change costs what changed ("left-right"): with a struct
 * zt_compiled, both generations hold the committed policy, and userspace
 * keeps its image (policy/image.h: every entry, sorted). prepare() compiles
 * the new policy to an image in memory, diffs it against the committed one
 * and writes only the differences into the inactive generation; commit()
 * flips active_gen (a single aligned store), waits for an RCU grace period
 * so no packet still reads the old generation, then writes the same
 * differences into it. Map syscalls: 2 x changed entries. Without an image
 * (first load, a restarted daemon adopting pinned maps, a failed write)
 * the inactive generation is cleared and written whole, then the other.
 * Without a struct zt_compiled (NULL) the old behaviour stays: the whole
 * policy into the inactive generation, the old one emptied after the flip.
 *
 * Besides the resources, each generation carries the policy's devices
 * (zt_devices: tunnel address -> device id) and grants (zt_grants:
 * (device id, resource id) -> allow); they are read only when the role set
 * ZT_CFG_CHECK_DEVICE, but a revoke is as atomic as any other change.
 */
#ifndef ZT_COMPILE_H
#define ZT_COMPILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "dataplane/dataplane.h"
#include "policy/image.h"
#include "policy/policy.h"
#include "ztgate/maps.h"

/* fds indexed by enum zt_map_id; a map not needed may be -1. */
typedef int zt_map_fds[ZT_MAP__COUNT];

/* Map syscalls of the last prepare + commit (bindings not counted). */
struct zt_compile_stats {
	uint64_t updates;	/* bpf_map_update_elem (a zeroed zt_resources slot is a delete) */
	uint64_t deletes;
	bool full;		/* written whole: the maps' contents were unknown */
};

/* What the maps hold: the daemon keeps one for its whole run. */
struct zt_compiled {
	struct zt_image cur;	/* both generations hold this when KNOWN */
	bool known;
	struct zt_image next;	/* prepared, not committed yet */
	struct zt_img_diff diff;	/* cur -> next */
	struct zt_compile_stats stats;
};

void zt_compiled_init(struct zt_compiled *c);
void zt_compiled_free(struct zt_compiled *c);

/* zt_compile_prepare_with(fds, NULL, p, NULL, 0, ...): no image, no bindings. */
int zt_compile_prepare(const int *fds, const struct zt_policy *p, uint32_t *new_gen,
		       char *err, size_t errlen);

/*
 * Addresses learnt at run time for name resources (the client's fake IPs):
 * each maps one address to a resource id. They are not part of the policy,
 * but every new generation must carry them, or a flip would cut flows to
 * names the DNS server already answered.
 */
struct zt_exact_binding {
	uint8_t addr[16];	/* IPv6 or IPv4-mapped */
	uint32_t resource_id;
	/*
	 * 0: the address is the resource's for every packet (zt_res_exact: a
	 * client's or enforcer's fake IPs). A device id (connector): only for
	 * that device's packets (zt_dev_binds), never another device's.
	 */
	uint32_t device_id;
};

/*
 * Write P, plus BINDS, into the inactive generation (*NEW_GEN): the
 * differences from C's image, or everything when C is NULL or its image
 * unknown. 0 or -errno, ERR saying why; on error the generation is as it was.
 */
int zt_compile_prepare_with(const int *fds, struct zt_compiled *c, const struct zt_policy *p,
			    const struct zt_exact_binding *binds, size_t nbinds,
			    uint32_t *new_gen, char *err, size_t errlen);

/*
 * Add (or repoint) one address in both generations, and in C's image (C may
 * be NULL). Each is a single map update, atomic for packets by itself; no
 * flip is needed, and the next flip keeps it.
 */
int zt_compile_bind_live(const int *fds, struct zt_compiled *c, const struct zt_exact_binding *b);
/* Remove a device's binding (device_id != 0) from both generations; absent is fine. */
int zt_compile_unbind_live(const int *fds, struct zt_compiled *c,
			   const struct zt_exact_binding *b);
/*
 * Flip to NEW_GEN, wait for the readers of the old one, then bring the old
 * one in step (C) or empty it (NULL). Fails only if nothing flipped; a later
 * failure is left in ERR with 0 returned (the new policy is live).
 */
int zt_compile_commit(const int *fds, struct zt_compiled *c, uint32_t new_gen, char *err,
		      size_t errlen);
/* Undo a prepare: the inactive generation back as it was. */
void zt_compile_abort(const int *fds, struct zt_compiled *c, uint32_t new_gen);

/* prepare (no bindings) + commit. */
int zt_compile_apply(const int *fds, struct zt_compiled *c, const struct zt_policy *p, char *err,
		     size_t errlen);

int zt_config_read(const int *fds, struct zt_config *cfg);

/* Does the generation GEN map any address to a resource? */
bool zt_compile_has_addresses(const int *fds, uint32_t gen);
/* Update the tunables; active_gen is left as it is. */
int zt_config_set_tunables(const int *fds, uint32_t scan_threshold, uint32_t scan_window_ms,
			   uint32_t event_rate, uint32_t event_burst);

/*
 * Set zt_config.flags (ZT_CFG_*), e.g. ZT_CFG_CHECK_DEVICE in the connector
 * role so that a packet also needs its source device's grant. The rest of
 * zt_config, active_gen included, is left as it is. 0 or -errno.
 */
int zt_config_set_flags(const int *fds, uint32_t flags);

/* Sum of the per-CPU counters of a resource id. */
int zt_counters_read(const int *fds, uint32_t id, struct zt_counters *sum);
int zt_counters_reset(const int *fds, uint32_t id);

/*
 * zt_evbudget summed over CPUs: what the rate limits suppressed (deny
 * events, reject replies, scan events) and the events lost to a full ring.
 * Only those four fields of *SUM are filled. 0 or -errno.
 */
int zt_evbudget_read(int evbudget_fd, struct zt_evbudget *sum);

#endif
