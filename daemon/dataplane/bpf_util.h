/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bpf_util: the low-level BPF helpers the three loaders share: the
 * enforcement data plane (dataplane.c), the DNS fast path (dns_fast.c) and
 * the uplink guard (uplink.c), and pins.c below them. It knows no loader:
 * libbpf print callbacks, a device's link type, map ids and clearing, which
 * instance a program belongs to.
 *
 * Layering, one way only: teardown.c -> {dataplane,dns_fast,uplink}.c ->
 * {bpf_util,pins}.c. A loader never includes another loader's header.
 *
 * Functions return 0 or -errno unless said otherwise.
 */
#ifndef ZT_DATAPLANE_BPF_UTIL_H
#define ZT_DATAPLANE_BPF_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>
#include <bpf/libbpf.h>

/* libbpf print callback: warnings and errors (a verifier log) to stderr, chatter nowhere. */
int zt_libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap);

/* A libbpf print callback that prints nothing: for probes whose failure is an answer. */
int zt_libbpf_silent(enum libbpf_print_level level, const char *fmt, va_list ap);

/*
 * ARPHRD_* of IFNAME in the current network namespace, asked of the kernel
 * (sysfs may belong to another namespace).
 */
int zt_link_type(const char *ifname, int *type);

/* Delete every entry of the hash map MAP_FD (keys of KEY_SIZE <= ZT_MAP_KEY_MAX bytes). */
#define ZT_MAP_KEY_MAX	256
int zt_map_clear(int map_fd, size_t key_size);

/* Kernel id of the map behind MAP_FD. */
int zt_map_id(int map_fd, __u32 *id);

/*
 * Does program PROG_FD use the map with id MAP_ID? How a loader tells its
 * own instance's programs from another's (each reads its instance's config
 * map): a name alone does not.
 */
bool zt_prog_uses_map(int prog_fd, __u32 map_id);

/*
 * A tc filter slot, HANDLE/PRIORITY on IFINDEX's clsact ingress or egress,
 * and how to recognise our program there: its name starts with NAME_PREFIX
 * and it uses the map with id MAP_ID (any such program when MAP_ID is 0,
 * e.g. a teardown whose pins are gone). IFNAME is for messages only.
 */
struct zt_tc_slot {
	const char *ifname;
	int ifindex;
	enum bpf_tc_attach_point point;	/* BPF_TC_INGRESS or BPF_TC_EGRESS */
	__u32 handle;
	__u32 priority;
	const char *name_prefix;
	__u32 map_id;
};

/*
 * Who holds the tc filter at HANDLE/PRIORITY on HOOK: nobody, a program
 * whose name starts with NAME_PREFIX and that uses the map with id MAP_ID
 * (any such program when MAP_ID is 0: "ours"), such a program of another
 * instance, or a foreign one. One of ZT_TC_* or -errno; *PROG_ID (may be
 * NULL) gets the program's id.
 */
enum { ZT_TC_FREE, ZT_TC_OURS, ZT_TC_OTHER_INSTANCE, ZT_TC_FOREIGN };
int zt_tc_owner(struct bpf_tc_hook *hook, __u32 handle, __u32 priority, const char *name_prefix,
		__u32 map_id, __u32 *prog_id);

/*
 * Attach PROG_FD as our filter in SLOT (SLOT->map_id must be set), with
 * one rule for every loader:
 *   - a free slot is taken (clsact created if needed), never clobbering a
 *     filter that appeared there meanwhile;
 *   - our own filter (a restarted daemon's) is replaced in place
 *     (BPF_TC_F_REPLACE at the same handle and priority: no gap);
 *   - a slot held by another instance or by a foreign program is never
 *     taken over: -EBUSY, and ERR says which holder (and its program id).
 * Any other failure is -errno with one line in ERR, prefixed with WHAT
 * ("dns fast path"). ERR may be NULL.
 */
int zt_tc_attach_ours(const struct zt_tc_slot *slot, int prog_fd, const char *what, char *err,
		      size_t errlen);

/* zt_tc_owner for SLOT: one of ZT_TC_* or -errno. */
int zt_tc_slot_owner(const struct zt_tc_slot *slot);

/*
 * Remove our filter from SLOT: only if the slot holds ours (by
 * SLOT->map_id, any of ours when 0). Nothing there, or someone else's
 * filter, is left alone and is not an error (0).
 */
int zt_tc_detach_ours(const struct zt_tc_slot *slot);

/*
 * Sum the per-CPU value at KEY of MAP_FD, a struct of NFIELDS __u64
 * counters, over every possible CPU into SUM (NFIELDS long). 0 or -errno.
 */
int zt_percpu_sum_u64(int map_fd, const void *key, __u64 *sum, size_t nfields);

#endif /* ZT_DATAPLANE_BPF_UTIL_H */
