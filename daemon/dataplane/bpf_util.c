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
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/bpf_util.h"

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
