/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * lib/maps.h: the classifier's maps, defined once and included (through
 * lib/core.h) by both the tc and the XDP object; their key and value types
 * and sizes are the contract ztgate/maps.h. Every shared map is pinned by
 * name, so when
 * libbpf opens either object with pin_root_path set to the instance's pin
 * directory, the second object (and a restarted daemon) reuses the maps the
 * first one created instead of getting private copies. See MAPS.md.
 */
#ifndef ZT_MAPS_BPF_H
#define ZT_MAPS_BPF_H

#include "ztgate/maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zt_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zt_config SEC(".maps");

/* Large, sparsely used hashes: NO_PREALLOC so an idle node pays nothing. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ZT_MAX_EXACT);
	__type(key, struct zt_addr_key);
	__type(value, struct zt_res_ref);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zt_res_exact SEC(".maps");

/* The kernel requires NO_PREALLOC for LPM tries. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, ZT_MAX_PREFIXES);
	__type(key, struct zt_lpm_key);
	__type(value, struct zt_res_ref);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zt_res_prefix SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ZT_NGEN * ZT_MAX_RESOURCES);
	__type(key, __u32);
	__type(value, struct zt_resource);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zt_resources SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ZT_MAX_PORT_RULES);
	__type(key, struct zt_port_key);
	__type(value, struct zt_port_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zt_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ZT_MAX_DEVICES);
	__type(key, struct zt_addr_key);
	__type(value, struct zt_device_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zt_devices SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ZT_MAX_GRANTS);
	__type(key, struct zt_grant_key);
	__type(value, struct zt_grant_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zt_grants SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ZT_MAX_DEV_BINDS);
	__type(key, struct zt_bind_key);
	__type(value, struct zt_res_ref);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zt_dev_binds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ZT_MAX_RESOURCES);
	__type(key, __u32);
	__type(value, struct zt_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zt_counters SEC(".maps");

/* LRU maps must be preallocated; a scanner cannot grow it past its size. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ZT_SCAN_TRACK);
	__type(key, struct zt_scan_key);
	__type(value, struct zt_scan_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zt_scan SEC(".maps");

/* Fragmented datagrams whose first fragment was allowed (LRU: prealloc). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ZT_FRAG_TRACK);
	__type(key, struct zt_frag_key);
	__type(value, struct zt_frag_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zt_frag SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zt_evbudget);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zt_evbudget SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, ZT_EVENTS_RINGBUF);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zt_events SEC(".maps");

/*
 * Per-CPU scratch space where reject replies are assembled before being
 * copied over the packet. Private to each object (not pinned): it holds
 * nothing between two runs of a program.
 */
#define ZT_RB_SIZE	512	/* > 40 + 8 + 252: lets the verifier see every copy fits */


struct zt_scratch {
	__u8 b[ZT_RB_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zt_scratch);
} zt_scratch SEC(".maps");

#endif /* ZT_MAPS_BPF_H */
