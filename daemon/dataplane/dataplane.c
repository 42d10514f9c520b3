// SPDX-License-Identifier: GPL-2.0-only
/*
 * dataplane: load, pin, attach, adopt and tear down the BPF data plane.
 *
 * Both objects declare their maps LIBBPF_PIN_BY_NAME and are opened with
 * pin_root_path = the instance's pin directory, so libbpf reuses maps that
 * are already pinned there (their contents survive a restart) and pins the
 * ones it creates. Nothing here detaches on close: enforcement outlives the
 * daemon (fail closed); only zt_dp_teardown() removes it.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "dataplane/pins.h"
#include "dataplane/dataplane.h"
#include "dataplane/dns_fast.h"
#include "dataplane/uplink.h"
#include "lib/fsutil.h"
#include "zt_tc.skel.h"
#include "zt_xdp.skel.h"

#define BPFFS_ROOT	"/sys/fs/bpf"
#define ZT_TC_HANDLE	0x2a7e
#define ZT_TC_PRIO	1
#define ZT_XDP_PROG	"zt_xdp"
#define ZT_TC_PREFIX	"zt_tc"

struct zt_dataplane {
	char pin_dir[PATH_MAX];
	struct zt_tc_bpf *tc;
	__u32 config_id;	/* this instance's zt_config: how its programs are told apart */
	int lock_fd;		/* flock on the pin dir: one daemon per instance */
};

static const char *const map_names[ZT_MAP__COUNT] = {
	[ZT_MAP_CONFIG] = "zt_config",
	[ZT_MAP_RES_EXACT] = "zt_res_exact",
	[ZT_MAP_RES_PREFIX] = "zt_res_prefix",
	[ZT_MAP_RESOURCES] = "zt_resources",
	[ZT_MAP_PORTS] = "zt_ports",
	[ZT_MAP_DEVICES] = "zt_devices",
	[ZT_MAP_GRANTS] = "zt_grants",
	[ZT_MAP_COUNTERS] = "zt_counters",
	[ZT_MAP_SCAN] = "zt_scan",
	[ZT_MAP_EVBUDGET] = "zt_evbudget",
	[ZT_MAP_EVENTS] = "zt_events",
};

const char *zt_map_name(enum zt_map_id id)
{
	if ((unsigned int)id >= ZT_MAP__COUNT)
		return NULL;
	return map_names[id];
}

/* Library chatter is for debugging; warnings (e.g. a verifier log) matter. */
static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
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

/*
 * libxdp probes whether the kernel can run its multi-program dispatcher by
 * loading one; where it cannot, libxdp falls back to a single program by
 * itself. That probe's failure is an answer, not an error: keep it off
 * stderr, and let every other warning through.
 */
static int libbpf_xdp_probe(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char msg[512];

	if (level > LIBBPF_WARN)
		return 0;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (strstr(msg, "xdp-dispatcher") || strstr(msg, "'xdp_pass'") || strstr(msg, "ulimit -l"))
		return 0;
	return fputs(msg, stderr);
}

static int libxdp_quiet(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	if (level > LIBXDP_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void quiet_libs(void)
{
	libbpf_set_print(libbpf_quiet);
	libxdp_set_print(libxdp_quiet);
}

static int ensure_bpffs(void)
{
	struct statfs st;

	if (statfs(BPFFS_ROOT, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", BPFFS_ROOT, "bpf", 0, "mode=0700"))
		return -errno;
	return 0;
}

/* Id of the map behind FD. */
static int map_id_of(int fd, __u32 *id)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*id = info.id;
	return 0;
}

/*
 * Does program PROG_FD use map MAP_ID? Every ztgate program reads its
 * instance's zt_config, so this tells one instance's programs from
 * another's (a name alone does not).
 */
static bool prog_uses_map(int prog_fd, __u32 map_id)
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

int zt_dp_open(const char *pin_dir, struct zt_dataplane **out)
{
	LIBBPF_OPTS(bpf_object_open_opts, oopts);
	struct zt_dataplane *dp;
	int ret;

	*out = NULL;
	if (!pin_dir || !*pin_dir)
		return -EINVAL;
	quiet_libs();
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->lock_fd = -1;
	if (snprintf(dp->pin_dir, sizeof(dp->pin_dir), "%s", pin_dir) >= (int)sizeof(dp->pin_dir)) {
		ret = -ENAMETOOLONG;
		goto fail;
	}
	ret = ensure_bpffs();
	if (ret)
		goto fail;
	ret = zt_mkdir_p(pin_dir, 0700);
	if (ret)
		goto fail;
	/*
	 * One daemon per instance: a second one would recompile the maps
	 * under the first one's feet before finding its socket taken.
	 */
	dp->lock_fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dp->lock_fd < 0 || flock(dp->lock_fd, LOCK_EX | LOCK_NB)) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto fail;
	}

	oopts.pin_root_path = dp->pin_dir;
	dp->tc = zt_tc_bpf__open_opts(&oopts);
	if (!dp->tc) {
		ret = -errno;
		goto fail;
	}
	/*
	 * Loading creates and pins the maps, or reuses the pinned ones (a
	 * restart, or the XDP object loaded first). A freshly created
	 * zt_config is all zeroes: generation 0 and default tunables.
	 */
	ret = zt_tc_bpf__load(dp->tc);
	if (ret)
		goto fail;
	ret = map_id_of(bpf_map__fd(dp->tc->maps.zt_config), &dp->config_id);
	if (ret)
		goto fail;
	*out = dp;
	return 0;
fail:
	zt_dp_close(dp);
	return ret < 0 ? ret : -EINVAL;
}

int zt_dp_map_fd(const struct zt_dataplane *dp, enum zt_map_id id)
{
	struct bpf_map *m;

	if (!dp || !dp->tc || (unsigned int)id >= ZT_MAP__COUNT)
		return -EINVAL;
	m = bpf_object__find_map_by_name(dp->tc->obj, map_names[id]);
	return m ? bpf_map__fd(m) : -ENOENT;
}

const char *zt_dp_pin_dir(const struct zt_dataplane *dp)
{
	return dp ? dp->pin_dir : NULL;
}

void zt_dp_close(struct zt_dataplane *dp)
{
	if (!dp)
		return;
	zt_tc_bpf__destroy(dp->tc);
	if (dp->lock_fd >= 0)
		close(dp->lock_fd);	/* releases the flock */
	free(dp);
}

/* ARPHRD_* of IFNAME, asked of the kernel in the current netns (sysfs may belong to another). */
static int link_type(const char *ifname, int *type)
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
	else if (!map_id || prog_uses_map(fd, map_id))
		ret = ZT_TC_OURS;
	else
		ret = ZT_TC_OTHER_INSTANCE;
	close(fd);
	return ret;
}

/* The data plane's filter slot (ZT_TC_HANDLE) on HOOK: zt_tc_owner for the zt_config CONFIG_ID. */
static int tc_filter_owner(struct bpf_tc_hook *hook, __u32 config_id)
{
	return zt_tc_owner(hook, ZT_TC_HANDLE, ZT_TC_PRIO, ZT_TC_PREFIX, config_id, NULL);
}

int zt_dp_attach_tc(struct zt_dataplane *dp, const char *ifname, bool egress)
{
	LIBBPF_OPTS(bpf_tc_hook, hook);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = ZT_TC_HANDLE, .priority = ZT_TC_PRIO,
		    .flags = BPF_TC_F_REPLACE);
	struct bpf_program *prog;
	int ifindex, type = -1, ret;
	bool l2;

	if (!dp || !dp->tc || !ifname)
		return -EINVAL;
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		return -errno;
	ret = link_type(ifname, &type);
	if (ret)
		return ret;
	/*
	 * Ethernet-framed devices get the L2 variant; TUN, WireGuard, ipip...
	 * have no link header and get the L3 one. Anything else (InfiniBand,
	 * GRE with its own header...) would be misparsed, and a misparsed
	 * packet passes: refuse it.
	 */
	switch (type) {
	case ARPHRD_ETHER:
	case ARPHRD_LOOPBACK:
		l2 = true;
		break;
	case ARPHRD_NONE:
	case ARPHRD_RAWIP:
	case ARPHRD_PPP:
	case ARPHRD_TUNNEL:
	case ARPHRD_TUNNEL6:
	case ARPHRD_SIT:
		l2 = false;
		break;
	default:
		return -EPROTONOSUPPORT;
	}
	if (l2)
		prog = egress ? dp->tc->progs.zt_tc_egress : dp->tc->progs.zt_tc_ingress;
	else
		prog = egress ? dp->tc->progs.zt_tc3_egress : dp->tc->progs.zt_tc3_ingress;

	hook.ifindex = ifindex;
	hook.attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS;
	/* An existing clsact is the normal case; keep libbpf from reporting it. */
	libbpf_set_print(zt_libbpf_silent);
	ret = bpf_tc_hook_create(&hook);
	libbpf_set_print(libbpf_quiet);
	if (ret && ret != -EEXIST)
		return ret;
	/* Our handle may hold another instance's filter: never take it over. */
	ret = tc_filter_owner(&hook, dp->config_id);
	if (ret == ZT_TC_OTHER_INSTANCE)
		return -EBUSY;
	if (ret < 0)
		return ret;
	opts.prog_fd = bpf_program__fd(prog);
	/* Same handle and priority: the kernel swaps the filter in place, no gap. */
	return bpf_tc_attach(&hook, &opts);
}

static bool is_ztgate_xdp(struct xdp_program *p)
{
	const char *name = xdp_program__name(p);

	return name && !strcmp(name, ZT_XDP_PROG);
}

/* A ztgate XDP program of the instance whose zt_config is CONFIG_ID (0: any). */
static bool is_our_xdp(struct xdp_program *p, __u32 config_id)
{
	return is_ztgate_xdp(p) && (!config_id || prog_uses_map(xdp_program__fd(p), config_id));
}

/*
 * 1 if this instance's XDP program is attached to IFINDEX, 0 if none is,
 * -EBUSY if another instance's is (two instances on one hook would each
 * believe they enforce).
 */
static int xdp_attached(int ifindex, __u32 config_id)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p;
	int found = 0;

	mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (!mp || libxdp_get_error(mp))
		return 0;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		if (p && is_ztgate_xdp(p))
			found = is_our_xdp(p, config_id) ? 1 : -EBUSY;
	} else {
		for (p = xdp_multiprog__next_prog(NULL, mp); p && found <= 0;
		     p = xdp_multiprog__next_prog(p, mp))
			if (is_ztgate_xdp(p))
				found = is_our_xdp(p, config_id) ? 1 : -EBUSY;
	}
	xdp_multiprog__close(mp);
	return found;
}

int zt_dp_attach_xdp(struct zt_dataplane *dp, const char *ifname)
{
	LIBBPF_OPTS(bpf_object_open_opts, oopts);
	DECLARE_LIBXDP_OPTS(xdp_program_opts, xopts);
	struct xdp_program *prog = NULL;
	struct zt_xdp_bpf *skel = NULL;
	int ifindex, type = -1, ret;

	if (!dp || !ifname)
		return -EINVAL;
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		return -errno;
	/* The XDP program is Ethernet-only; on a TUN it would pass everything. */
	ret = link_type(ifname, &type);
	if (ret)
		return ret;
	if (type != ARPHRD_ETHER)
		return -EPROTONOSUPPORT;
	/* Already there (a previous daemon): it uses the same pinned maps. */
	ret = xdp_attached(ifindex, dp->config_id);
	if (ret)
		return ret > 0 ? 0 : ret;

	/*
	 * libxdp loads the object itself (as a dispatcher component), so it
	 * gets the skeleton's object opened but not loaded; the pin root
	 * makes that load reuse this instance's pinned maps.
	 */
	oopts.pin_root_path = dp->pin_dir;
	skel = zt_xdp_bpf__open_opts(&oopts);
	if (!skel)
		return -errno;
	xopts.obj = skel->obj;
	xopts.prog_name = ZT_XDP_PROG;
	prog = xdp_program__create(&xopts);
	ret = libxdp_get_error(prog);
	if (ret) {
		prog = NULL;
		goto out;
	}
	libbpf_set_print(libbpf_xdp_probe);
	ret = xdp_program__attach(prog, ifindex, XDP_MODE_NATIVE, 0);
	if (ret)
		ret = xdp_program__attach(prog, ifindex, XDP_MODE_SKB, 0);
	libbpf_set_print(libbpf_quiet);
out:
	/* The dispatcher's links are pinned by libxdp: closing keeps it attached. */
	xdp_program__close(prog);
	zt_xdp_bpf__destroy(skel);
	return ret;
}

static int tc_detach_ours(int ifindex, enum bpf_tc_attach_point point, __u32 config_id)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = ZT_TC_HANDLE, .priority = ZT_TC_PRIO);
	int ret;

	ret = tc_filter_owner(&hook, config_id);
	if (ret != ZT_TC_OURS)
		return ret < 0 ? ret : 0;	/* nothing, another instance's, or not ztgate's */
	ret = bpf_tc_detach(&hook, &opts);
	return ret == -ENOENT ? 0 : ret;
}

static int xdp_detach_ours(int ifindex, __u32 config_id)
{
	struct xdp_program *p, *ours[64];
	struct xdp_multiprog *mp;
	int n = 0, total = 0, ret = 0, i;

	mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (!mp || libxdp_get_error(mp))
		return 0;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		if (p && is_our_xdp(p, config_id))
			ret = xdp_multiprog__detach(mp);
		goto out;
	}
	for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp)) {
		total++;
		if (is_our_xdp(p, config_id) && n < (int)(sizeof(ours) / sizeof(ours[0])))
			ours[n++] = p;
	}
	if (!n)
		goto out;
	if (n == total) {
		/* Only ours: remove the dispatcher altogether. */
		ret = xdp_multiprog__detach(mp);
		goto out;
	}
	for (i = 0; i < n && !ret; i++)
		ret = xdp_program__detach(ours[i], ifindex, xdp_multiprog__attach_mode(mp), 0);
out:
	xdp_multiprog__close(mp);
	return ret == -ENOENT ? 0 : ret;
}

static int rm_pin_dir(const char *dir)
{
	char path[PATH_MAX], parent[PATH_MAX], *slash;
	struct dirent *de;
	int ret = 0;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path)) {
			ret = -ENAMETOOLONG;
			continue;
		}
		/* Pins are files; unlinking drops the reference, not attached programs' maps. */
		if (unlink(path) && errno != ENOENT && !ret)
			ret = -errno;
	}
	closedir(d);
	if (ret)
		return ret;
	if (rmdir(dir) && errno != ENOENT)
		return -errno;

	/* The shared parent (/sys/fs/bpf/ztgate) goes when its last instance does. */
	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if (!strcmp(strrchr(parent, '/') ? strrchr(parent, '/') + 1 : parent, "ztgate"))
			rmdir(parent);	/* ENOTEMPTY: other instances live on */
	}
	return 0;
}

int zt_dp_teardown(const char *pin_dir)
{
	struct if_nameindex *ifs, *i;
	__u32 config_id;
	int ret = 0, r;

	if (!pin_dir || !*pin_dir)
		return -EINVAL;
	quiet_libs();
	/*
	 * Only this instance's programs: those using its zt_config. With the
	 * pins already gone there is no way to tell; then every ztgate
	 * program in this namespace goes (config_id 0).
	 */
	config_id = zt_pinned_map_id(pin_dir, "zt_config");
	ifs = if_nameindex();
	if (!ifs)
		return -errno;
	libbpf_set_print(zt_libbpf_silent);
	/* Keep going on errors: remove as much as possible, report the first. */
	for (i = ifs; i->if_index; i++) {
		r = tc_detach_ours((int)i->if_index, BPF_TC_INGRESS, config_id);
		if (r && !ret)
			ret = r;
		r = tc_detach_ours((int)i->if_index, BPF_TC_EGRESS, config_id);
		if (r && !ret)
			ret = r;
		r = xdp_detach_ours((int)i->if_index, config_id);
		if (r && !ret)
			ret = r;
	}
	if_freenameindex(ifs);
	libbpf_set_print(libbpf_quiet);
	/* A connector's uplink guard left behind by a crash lives in a subdirectory. */
	{
		char up[PATH_MAX], uerr[256];

		snprintf(up, sizeof(up), "%s/uplink", pin_dir);
		if (access(up, F_OK) == 0) {
			r = zt_uplink_teardown(up, uerr, sizeof(uerr));
			if (r && !ret)
				ret = r;
		}
		/* And a client's DNS fast path. */
		snprintf(up, sizeof(up), "%s/dns", pin_dir);
		if (access(up, F_OK) == 0) {
			r = zt_dns_fast_teardown(up, uerr, sizeof(uerr));
			if (r && !ret)
				ret = r;
		}
	}
	r = rm_pin_dir(pin_dir);
	return ret ? ret : r;
}

/* Exported for the other loaders (uplink.c): one copy of each probe. */
int zt_link_type(const char *ifname, int *type)
{
	return link_type(ifname, type);
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
	return map_id_of(map_fd, id);
}

bool zt_prog_uses_map(int prog_fd, __u32 map_id)
{
	return prog_uses_map(prog_fd, map_id);
}
