/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Policy compilation: turns a struct zt_policy into BPF map entries and
 * switches the data plane to it in one step.
 *
 * How a change stays atomic for packets: every policy map key carries a
 * generation (0/1). prepare() writes the whole new policy into the
 * generation no packet reads; commit() flips zt_config.active_gen (a single
 * byte changes, so no reader can see a torn value), waits for an RCU grace
 * period so no packet is still using the old generation, then deletes the
 * old generation's entries. Each packet reads active_gen once, so it sees
 * either the whole old or the whole new policy.
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
#include "policy/policy.h"
#include "ztgate/maps.h"

/* fds indexed by enum zt_map_id; a map not needed may be -1. */
typedef int zt_map_fds[ZT_MAP__COUNT];

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

/* zt_compile_prepare, plus BINDS written into the new generation. */
int zt_compile_prepare_with(const int *fds, const struct zt_policy *p,
			    const struct zt_exact_binding *binds, size_t nbinds,
			    uint32_t *new_gen, char *err, size_t errlen);

/*
 * Add (or repoint) one address in the live generation. A single map update,
 * so it is atomic for packets by itself; no generation flip is needed.
 */
int zt_compile_bind_live(const int *fds, const struct zt_exact_binding *b);
/* Remove a device's binding (device_id != 0) from the live generation; absent is fine. */
int zt_compile_unbind_live(const int *fds, const struct zt_exact_binding *b);
int zt_compile_commit(const int *fds, uint32_t new_gen, char *err, size_t errlen);
void zt_compile_abort(const int *fds, uint32_t new_gen);

/* prepare + commit. */
int zt_compile_apply(const int *fds, const struct zt_policy *p, char *err, size_t errlen);

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
