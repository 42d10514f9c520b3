// SPDX-License-Identifier: GPL-2.0-only
/*
 * bpf_util: low-level BPF helpers shared by the loaders (dataplane.c,
 * dns_fast.c, uplink.c) and pins.c; see bpf_util.h. Includes no loader's
 * header: the layering is one way, loaders on top of this.
 */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/bpf_util.h"
#include "lib/log.h"

/* Library chatter is for debugging; warnings (e.g. a verifier log) matter. */
int zt_libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level > LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* For probes whose failure is the normal answer ("no qdisc there"). */
int zt_libbpf_silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

int zt_link_type(const char *ifname, int *type)
{
	struct ifreq ifr;
	int fd, ret = 0;

	if (strlen(ifname) >= sizeof(ifr.ifr_name))
		return -ENAMETOOLONG;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		ret = -errno;
	else
		*type = ifr.ifr_hwaddr.sa_family;
	close(fd);
	return ret;
}

int zt_map_clear(int map_fd, size_t key_size)
{
	uint8_t key[ZT_MAP_KEY_MAX];

	if (key_size > sizeof(key))
		return -EINVAL;
	/* Always delete the first key: deleting as we walk never skips one. */
	while (!bpf_map_get_next_key(map_fd, NULL, key))
		if (bpf_map_delete_elem(map_fd, key) && errno != ENOENT)
			return -errno;
	return 0;
}

int zt_map_id(int map_fd, __u32 *id)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
		return -errno;
	*id = info.id;
	return 0;
}

bool zt_prog_uses_map(int prog_fd, __u32 map_id)
{
	struct bpf_prog_info info;
	__u32 ids[64], len = sizeof(info), i;

	memset(&info, 0, sizeof(info));
	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return false;
	for (i = 0; i < info.nr_map_ids && i < sizeof(ids) / sizeof(ids[0]); i++)
		if (ids[i] == map_id)
			return true;
	return false;
}

int zt_tc_owner(struct bpf_tc_hook *hook, __u32 handle, __u32 priority, const char *name_prefix,
		__u32 map_id, __u32 *prog_id)
{
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = priority);
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	libbpf_print_fn_t prev;
	int fd, ret;

	if (prog_id)
		*prog_id = 0;
	prev = libbpf_set_print(zt_libbpf_silent);
	ret = bpf_tc_query(hook, &opts);
	libbpf_set_print(prev);
	if (ret == -ENOENT || ret == -EINVAL)
		return ZT_TC_FREE;	/* no clsact or no filter at the handle */
	if (ret)
		return ret;
	if (prog_id)
		*prog_id = opts.prog_id;
	fd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (fd < 0)
		return errno == ENOENT ? ZT_TC_FREE : -errno;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		ret = -errno;
	else if (strncmp(info.name, name_prefix, strlen(name_prefix)))
		ret = ZT_TC_FOREIGN;
	else if (!map_id || zt_prog_uses_map(fd, map_id))
		ret = ZT_TC_OURS;
	else
		ret = ZT_TC_OTHER_INSTANCE;
	close(fd);
	return ret;
}

static const char *tc_point_name(enum bpf_tc_attach_point point)
{
	return point == BPF_TC_INGRESS ? "ingress" : "egress";
}

/* Create HOOK's clsact qdisc; one already there is the normal case (0), kept off stderr. */
static int tc_hook_ensure(struct bpf_tc_hook *hook)
{
	libbpf_print_fn_t prev;
	int ret;

	prev = libbpf_set_print(zt_libbpf_silent);
	ret = bpf_tc_hook_create(hook);
	libbpf_set_print(prev);
	return ret == -EEXIST ? 0 : ret;
}

int zt_tc_attach_ours(const struct zt_tc_slot *slot, int prog_fd, const char *what, char *err,
		      size_t errlen)
{
	LIBBPF_OPTS(bpf_tc_hook, hook);
	const char *dir;
	int holder, ret, tries;
	__u32 id;

	if (!slot || !slot->ifname || !slot->name_prefix || !slot->map_id || prog_fd < 0)
		return zt_errf(err, errlen, -EINVAL, "%s: tc attach: bad arguments", what);
	dir = tc_point_name(slot->point);
	hook.ifindex = slot->ifindex;
	hook.attach_point = slot->point;
	ret = tc_hook_ensure(&hook);
	if (ret)
		return zt_errf(err, errlen, ret, "%s: clsact on %s: %s", what, slot->ifname,
			       strerror(-ret));
	/* Twice at most: a filter may take the free slot between the look and the attach. */
	for (tries = 0; tries < 2; tries++) {
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = slot->handle, .priority = slot->priority,
			    .prog_fd = prog_fd);

		holder = zt_tc_owner(&hook, slot->handle, slot->priority, slot->name_prefix,
				     slot->map_id, &id);
		if (holder < 0)
			return zt_errf(err, errlen, holder, "%s: querying tc on %s %s: %s", what,
				       slot->ifname, dir, strerror(-holder));
		if (holder == ZT_TC_OTHER_INSTANCE || holder == ZT_TC_FOREIGN)
			return zt_errf(err, errlen, -EBUSY,
				       "%s: %s %s handle %#x holds %s program (id %u); not replacing it",
				       what, slot->ifname, dir, slot->handle,
				       holder == ZT_TC_OTHER_INSTANCE ? "another ztgate instance's" :
				       "a foreign", id);
		/*
		 * Ours: same handle and priority, the kernel swaps the filter in
		 * place (no gap). Free: create only (NLM_F_EXCL), so a filter
		 * that appeared meanwhile is never clobbered (-EEXIST: look again).
		 */
		if (holder == ZT_TC_OURS)
			opts.flags = BPF_TC_F_REPLACE;
		ret = bpf_tc_attach(&hook, &opts);
		if (ret != -EEXIST || holder == ZT_TC_OURS)
			break;
	}
	if (ret == -EEXIST)
		return zt_errf(err, errlen, -EBUSY, "%s: %s %s handle %#x taken while attaching", what,
			       slot->ifname, dir, slot->handle);
	if (ret)
		return zt_errf(err, errlen, ret, "%s: attaching to %s %s: %s", what, slot->ifname, dir,
			       strerror(-ret));
	return 0;
}

int zt_tc_slot_owner(const struct zt_tc_slot *slot)
{
	LIBBPF_OPTS(bpf_tc_hook, hook);

	if (!slot || !slot->name_prefix)
		return -EINVAL;
	hook.ifindex = slot->ifindex;
	hook.attach_point = slot->point;
	return zt_tc_owner(&hook, slot->handle, slot->priority, slot->name_prefix, slot->map_id, NULL);
}

int zt_tc_detach_ours(const struct zt_tc_slot *slot)
{
	LIBBPF_OPTS(bpf_tc_hook, hook);
	LIBBPF_OPTS(bpf_tc_opts, opts);
	int ret;

	if (!slot || !slot->name_prefix)
		return -EINVAL;
	hook.ifindex = slot->ifindex;
	hook.attach_point = slot->point;
	ret = zt_tc_owner(&hook, slot->handle, slot->priority, slot->name_prefix, slot->map_id, NULL);
	if (ret != ZT_TC_OURS)
		return ret < 0 ? ret : 0;	/* nothing, another instance's, or not ztgate's */
	opts.handle = slot->handle;
	opts.priority = slot->priority;
	ret = bpf_tc_detach(&hook, &opts);
	return ret == -ENOENT ? 0 : ret;
}

int zt_percpu_sum_u64(int map_fd, const void *key, __u64 *sum, size_t nfields)
{
	int ncpu = libbpf_num_possible_cpus(), ret = 0;
	__u64 *vals;

	memset(sum, 0, nfields * sizeof(*sum));
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	vals = calloc((size_t)ncpu * nfields, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(map_fd, key, vals)) {
		ret = -errno;
		goto out;
	}
	for (int cpu = 0; cpu < ncpu; cpu++)
		for (size_t f = 0; f < nfields; f++)
			sum[f] += vals[(size_t)cpu * nfields + f];
out:
	free(vals);
	return ret;
}
