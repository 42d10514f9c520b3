// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/membarrier.h>

#include "dataplane/bpf_util.h"
#include "policy/compile.h"

/* Where the generation byte sits in each generation-keyed map's key. */
struct gen_keyed_map {
	enum zt_map_id id;
	size_t key_size;
	size_t gen_offset;
};

static const struct gen_keyed_map gen_keyed_maps[] = {
	{ ZT_MAP_RES_EXACT, sizeof(struct zt_addr_key), offsetof(struct zt_addr_key, gen) },
	{ ZT_MAP_RES_PREFIX, sizeof(struct zt_lpm_key), offsetof(struct zt_lpm_key, gen) },
	{ ZT_MAP_PORTS, sizeof(struct zt_port_key), offsetof(struct zt_port_key, gen) },
	{ ZT_MAP_DEVICES, sizeof(struct zt_addr_key), offsetof(struct zt_addr_key, gen) },
	{ ZT_MAP_GRANTS, sizeof(struct zt_grant_key), offsetof(struct zt_grant_key, gen) },
	{ ZT_MAP_DEV_BINDS, sizeof(struct zt_bind_key), offsetof(struct zt_bind_key, gen) },
};

/*
 * Delete every entry of generation GEN from a map. Keys are collected first:
 * deleting while walking with get_next_key restarts the walk on hash maps.
 */
static int clear_generation(int fd, size_t key_size, size_t gen_offset, uint32_t gen)
{
	size_t n = 0, cap = 0, i;
	uint8_t *keys = NULL, *prev = NULL;
	uint8_t key[32], prev_key[32];
	int ret = 0;

	if (fd < 0)
		return 0;
	if (key_size > sizeof(key))
		return -EINVAL;
	while (bpf_map_get_next_key(fd, prev, key) == 0) {
		if (key[gen_offset] == gen) {
			if (n == cap) {
				uint8_t *k;

				cap = cap ? cap * 2 : 256;
				k = realloc(keys, cap * key_size);
				if (!k) {
					ret = -ENOMEM;
					goto out;
				}
				keys = k;
			}
			memcpy(keys + n * key_size, key, key_size);
			n++;
		}
		memcpy(prev_key, key, key_size);
		prev = prev_key;
	}
	for (i = 0; i < n; i++)
		if (bpf_map_delete_elem(fd, keys + i * key_size) && errno != ENOENT && !ret)
			ret = -errno;
out:
	free(keys);
	return ret;
}

static int clear_all_generation(const int *fds, uint32_t gen)
{
	size_t i;
	int ret = 0, r;

	for (i = 0; i < sizeof(gen_keyed_maps) / sizeof(gen_keyed_maps[0]); i++) {
		const struct gen_keyed_map *m = &gen_keyed_maps[i];

		r = clear_generation(fds[m->id], m->key_size, m->gen_offset, gen);
		if (r && !ret)
			ret = r;
	}
	return ret;
}

/* Does any address map hold an entry of generation GEN? */
bool zt_compile_has_addresses(const int *fds, uint32_t gen)
{
	static const struct gen_keyed_map *maps[] = { &gen_keyed_maps[0], &gen_keyed_maps[1] };
	uint8_t key[32], prev[32];
	size_t i;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		int fd = fds[maps[i]->id];
		void *p = NULL;

		if (fd < 0)
			continue;
		while (!bpf_map_get_next_key(fd, p, key)) {
			if (key[maps[i]->gen_offset] == gen)
				return true;
			memcpy(prev, key, maps[i]->key_size);
			p = prev;
		}
	}
	return false;
}

int zt_config_read(const int *fds, struct zt_config *cfg)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fds[ZT_MAP_CONFIG], &zero, cfg))
		return -errno;
	return 0;
}

static int config_write(const int *fds, const struct zt_config *cfg)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(fds[ZT_MAP_CONFIG], &zero, cfg, BPF_ANY))
		return -errno;
	return 0;
}

int zt_config_set_tunables(const int *fds, uint32_t scan_threshold, uint32_t scan_window_ms,
			   uint32_t event_rate, uint32_t event_burst)
{
	struct zt_config cfg;
	int ret = zt_config_read(fds, &cfg);

	if (ret)
		return ret;
	cfg.scan_threshold = scan_threshold;
	cfg.scan_window_ms = scan_window_ms;
	cfg.event_rate = event_rate;
	cfg.event_burst = event_burst;
	return config_write(fds, &cfg);
}

int zt_config_set_flags(const int *fds, uint32_t flags)
{
	struct zt_config cfg;
	int ret = zt_config_read(fds, &cfg);

	if (ret)
		return ret;
	cfg.flags = flags;
	return config_write(fds, &cfg);
}

static int write_ports(int fd, uint32_t id, uint8_t proto, const struct zt_port_list *list,
		       uint32_t gen)
{
	struct zt_port_val val = { .allow = 1 };
	unsigned int i;

	for (i = 0; i < list->count; i++) {
		uint32_t port;

		for (port = list->ranges[i].first; port <= list->ranges[i].last; port++) {
			struct zt_port_key key = {
				.resource_id = id,
				.port = (__u16)port,
				.proto = proto,
				.gen = (__u8)gen,
			};

			if (bpf_map_update_elem(fd, &key, &val, BPF_ANY))
				return -errno;
		}
	}
	return 0;
}

static int write_resource(const int *fds, const struct zt_resource_def *def, uint32_t gen)
{
	struct zt_res_ref ref = { .resource_id = def->id };
	struct zt_resource res = { .flags = ZT_RES_PRESENT, .deny_mode = def->deny_mode };
	__u32 idx = gen * ZT_MAX_RESOURCES + def->id;
	int ret;

	if (def->tcp.all)
		res.flags |= ZT_RES_TCP_ALL;
	if (def->udp.all)
		res.flags |= ZT_RES_UDP_ALL;
	if (def->icmp)
		res.flags |= ZT_RES_ICMP;

	/* Rules before the address: the address is what makes them reachable. */
	if (bpf_map_update_elem(fds[ZT_MAP_RESOURCES], &idx, &res, BPF_ANY))
		return -errno;
	ret = write_ports(fds[ZT_MAP_PORTS], def->id, ZT_PROTO_TCP, &def->tcp, gen);
	if (!ret)
		ret = write_ports(fds[ZT_MAP_PORTS], def->id, ZT_PROTO_UDP, &def->udp, gen);
	if (ret)
		return ret;

	if (zt_resource_is_name(def)) {
		/* Its addresses are the fake IPs the DNS server handed out. */
		return 0;
	} else if (zt_prefix_is_host(&def->prefix)) {
		struct zt_addr_key key = { .gen = (__u8)gen };

		memcpy(key.addr, def->prefix.addr, 16);
		if (bpf_map_update_elem(fds[ZT_MAP_RES_EXACT], &key, &ref, BPF_ANY))
			return -errno;
	} else {
		struct zt_lpm_key key = {
			.prefixlen = 8 + zt_prefix_len128(&def->prefix),
			.gen = (__u8)gen,
		};

		memcpy(key.addr, def->prefix.addr, 16);
		if (bpf_map_update_elem(fds[ZT_MAP_RES_PREFIX], &key, &ref, BPF_ANY))
			return -errno;
	}
	return 0;
}

/* A device's tunnel address to its id; its grants as (device, resource) keys. */
static int write_identities(const int *fds, const struct zt_policy *p, uint32_t gen, char *err,
			    size_t errlen)
{
	struct zt_grant_val allow = { .allow = 1 };
	unsigned int i;

	if (fds[ZT_MAP_DEVICES] < 0 || fds[ZT_MAP_GRANTS] < 0) {
		if (!p->ndevices && !p->ngrants)
			return 0;
		snprintf(err, errlen, "no zt_devices/zt_grants map to write devices into");
		return -ENOENT;
	}
	for (i = 0; i < p->ndevices; i++) {
		struct zt_addr_key key = { .gen = (__u8)gen };
		struct zt_device_val val = { .device_id = p->devices[i].id };

		memcpy(key.addr, p->devices[i].address.addr, 16);
		if (bpf_map_update_elem(fds[ZT_MAP_DEVICES], &key, &val, BPF_ANY)) {
			snprintf(err, errlen, "writing device '%s' to the maps: %s",
				 p->devices[i].name, strerror(errno));
			return -errno;
		}
	}
	for (i = 0; i < p->ngrants; i++) {
		struct zt_grant_key key = {
			.device_id = p->grants[i].device_id,
			.resource_id = p->grants[i].resource_id,
			.gen = (__u8)gen,
		};

		if (bpf_map_update_elem(fds[ZT_MAP_GRANTS], &key, &allow, BPF_ANY)) {
			snprintf(err, errlen, "writing a grant to the maps: %s", strerror(errno));
			return -errno;
		}
	}
	return 0;
}

/* A device's binding goes to zt_dev_binds (its packets only), any other to zt_res_exact. */
static int write_binding(const int *fds, const struct zt_exact_binding *b, uint32_t gen)
{
	struct zt_res_ref ref = { .resource_id = b->resource_id };

	if (b->device_id) {
		struct zt_bind_key key = { .device_id = b->device_id, .gen = (__u8)gen };

		if (fds[ZT_MAP_DEV_BINDS] < 0)
			return -EBADF;
		memcpy(key.addr, b->addr, 16);
		if (bpf_map_update_elem(fds[ZT_MAP_DEV_BINDS], &key, &ref, BPF_ANY))
			return -errno;
	} else {
		struct zt_addr_key key = { .gen = (__u8)gen };

		memcpy(key.addr, b->addr, 16);
		if (bpf_map_update_elem(fds[ZT_MAP_RES_EXACT], &key, &ref, BPF_ANY))
			return -errno;
	}
	return 0;
}

int zt_compile_bind_live(const int *fds, const struct zt_exact_binding *b)
{
	struct zt_config cfg;
	int ret;

	ret = zt_config_read(fds, &cfg);
	if (ret)
		return ret;
	return write_binding(fds, b, cfg.active_gen);
}

int zt_compile_unbind_live(const int *fds, const struct zt_exact_binding *b)
{
	struct zt_bind_key key = { .device_id = b->device_id };
	struct zt_config cfg;
	int ret;

	if (!b->device_id || fds[ZT_MAP_DEV_BINDS] < 0)
		return -EINVAL;	/* shared entries go with the next compile */
	ret = zt_config_read(fds, &cfg);
	if (ret)
		return ret;
	key.gen = (__u8)cfg.active_gen;
	memcpy(key.addr, b->addr, 16);
	if (bpf_map_delete_elem(fds[ZT_MAP_DEV_BINDS], &key) && errno != ENOENT)
		return -errno;
	return 0;
}

int zt_compile_prepare(const int *fds, const struct zt_policy *p, uint32_t *new_gen,
		       char *err, size_t errlen)
{
	return zt_compile_prepare_with(fds, p, NULL, 0, new_gen, err, errlen);
}

int zt_compile_prepare_with(const int *fds, const struct zt_policy *p,
			    const struct zt_exact_binding *binds, size_t nbinds,
			    uint32_t *new_gen, char *err, size_t errlen)
{
	size_t b;
	struct zt_config cfg;
	unsigned int i;
	int ret;

	ret = zt_config_read(fds, &cfg);
	if (ret) {
		snprintf(err, errlen, "reading zt_config: %s", strerror(-ret));
		return ret;
	}
	*new_gen = cfg.active_gen ? 0 : 1;

	/* Leftovers of a compile interrupted by a crash. */
	ret = clear_all_generation(fds, *new_gen);
	if (ret) {
		snprintf(err, errlen, "clearing generation %u: %s", *new_gen, strerror(-ret));
		return ret;
	}
	for (i = 0; i < p->count; i++) {
		ret = write_resource(fds, &p->res[i], *new_gen);
		if (ret) {
			snprintf(err, errlen, "writing resource '%s' to the maps: %s",
				 p->res[i].name, strerror(-ret));
			zt_compile_abort(fds, *new_gen);
			return ret;
		}
	}
	ret = write_identities(fds, p, *new_gen, err, errlen);
	if (ret) {
		zt_compile_abort(fds, *new_gen);
		return ret;
	}
	for (b = 0; b < nbinds; b++) {
		ret = write_binding(fds, &binds[b], *new_gen);
		if (ret) {
			snprintf(err, errlen, "writing a learnt address of resource %u: %s",
				 binds[b].resource_id, strerror(-ret));
			zt_compile_abort(fds, *new_gen);
			return ret;
		}
	}
	return 0;
}

/*
 * Wait until no BPF program can still be running with the generation it read
 * before the flip. tc and XDP programs run inside RCU read-side sections, and
 * MEMBARRIER_CMD_GLOBAL is implemented with synchronize_rcu(). Kernels with
 * nohz_full refuse it; there, wait far longer than any packet's processing.
 */
static void wait_for_readers(void)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 50 * 1000 * 1000 };

	if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0)
		return;
	nanosleep(&ts, NULL);
}

int zt_compile_commit(const int *fds, uint32_t new_gen, char *err, size_t errlen)
{
	struct zt_config cfg;
	int ret;

	ret = zt_config_read(fds, &cfg);
	if (ret) {
		snprintf(err, errlen, "reading zt_config: %s", strerror(-ret));
		return ret;
	}
	cfg.active_gen = new_gen;
	ret = config_write(fds, &cfg);
	if (ret) {
		snprintf(err, errlen, "switching generation: %s", strerror(-ret));
		return ret;
	}
	wait_for_readers();
	ret = clear_all_generation(fds, new_gen ? 0 : 1);
	if (ret) {
		/* The new policy is live; stale entries are cleared next time. */
		snprintf(err, errlen, "clearing old generation: %s", strerror(-ret));
	}
	return 0;
}

void zt_compile_abort(const int *fds, uint32_t new_gen)
{
	clear_all_generation(fds, new_gen);
}

int zt_compile_apply(const int *fds, const struct zt_policy *p, char *err, size_t errlen)
{
	uint32_t gen;
	int ret;

	ret = zt_compile_prepare(fds, p, &gen, err, errlen);
	if (ret)
		return ret;
	return zt_compile_commit(fds, gen, err, errlen);
}

int zt_counters_read(const int *fds, uint32_t id, struct zt_counters *sum)
{
	_Static_assert(sizeof(*sum) % sizeof(__u64) == 0, "zt_counters: __u64 fields only");
	return zt_percpu_sum_u64(fds[ZT_MAP_COUNTERS], &id, (__u64 *)sum,
				 sizeof(*sum) / sizeof(__u64));
}

int zt_counters_reset(const int *fds, uint32_t id)
{
	int ncpu = libbpf_num_possible_cpus();
	struct zt_counters *vals;
	int ret = 0;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_update_elem(fds[ZT_MAP_COUNTERS], &id, vals, BPF_ANY))
		ret = -errno;
	free(vals);
	return ret;
}

int zt_evbudget_read(int evbudget_fd, struct zt_evbudget *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct zt_evbudget *vals;
	uint32_t zero = 0;
	int i, ret = 0;

	memset(sum, 0, sizeof(*sum));
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(evbudget_fd, &zero, vals)) {
		ret = -errno;
		goto out;
	}
	for (i = 0; i < ncpu; i++) {
		sum->suppressed += vals[i].suppressed;
		sum->replies_suppressed += vals[i].replies_suppressed;
		sum->scan_suppressed += vals[i].scan_suppressed;
		sum->ring_lost += vals[i].ring_lost;
	}
out:
	free(vals);
	return ret;
}
