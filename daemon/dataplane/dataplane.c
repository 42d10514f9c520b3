// SPDX-License-Identifier: GPL-2.0-only
/*
 * dataplane: the enforcement data plane's loader (bpf/zt_tc.bpf.c,
 * bpf/zt_xdp.bpf.c): load, pin, attach, adopt, and detach for teardown.
 *
 * Both objects declare their maps LIBBPF_PIN_BY_NAME and are opened with
 * pin_root_path = the instance's pin directory, so libbpf reuses maps that
 * are already pinned there (their contents survive a restart) and pins the
 * ones it creates. Nothing here detaches on close: enforcement outlives the
 * daemon (fail closed); only zt_dp_teardown() (teardown.c, through
 * zt_dp_detach_all() here) removes it.
 *
 * tc goes through bpf_util.c's zt_tc_attach_ours(), the rule every loader
 * shares; XDP through libxdp. Callers: core/lifecycle.c (open, map fds),
 * the roles (roles/enforce.c, client.c, connector.c: attach), teardown.c
 * (zt_dp_detach_all), the BPF tests. Uses bpf_util.c and pins.c, no other
 * loader. Functions return 0 or -errno.
 */
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
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "dataplane/bpf_util.h"
#include "dataplane/dataplane.h"
#include "dataplane/pins.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "ztgate/maps.h"
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
	[ZT_MAP_DEV_BINDS] = "zt_dev_binds",
	[ZT_MAP_COUNTERS] = "zt_counters",
	[ZT_MAP_SCAN] = "zt_scan",
	[ZT_MAP_EVBUDGET] = "zt_evbudget",
	[ZT_MAP_EVENTS] = "zt_events",
	[ZT_MAP_FRAG] = "zt_frag",
};

const char *zt_map_name(enum zt_map_id id)
{
	if ((unsigned int)id >= ZT_MAP__COUNT)
		return NULL;
	return map_names[id];
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
	libbpf_set_print(zt_libbpf_quiet);
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

/*
 * A new secret key for the scan detector's port hash (zt_config.scan_key_*,
 * ztgate/maps.h) at every start: without it a scanner could pick ports that
 * share bits and stay under the threshold. Read-modify-write: the rest of
 * zt_config (generation, flags, tunables) stays as the pins hold it. BPF
 * starts a source's window afresh when its set was filled under another
 * key, so a restart costs at most the windows then open, never a false scan.
 */
static int scan_rekey(int cfg_fd)
{
	struct zt_config cfg;
	__u64 key[2];
	__u32 zero = 0;

	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
		return errno ? -errno : -EIO;
	if (bpf_map_lookup_elem(cfg_fd, &zero, &cfg))
		return -errno;
	cfg.scan_key_mul = key[0];
	cfg.scan_key_add = key[1];
	if (bpf_map_update_elem(cfg_fd, &zero, &cfg, BPF_ANY))
		return -errno;
	return 0;
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
		goto out;
	}
	ret = ensure_bpffs();
	if (ret)
		goto out;
	ret = zt_mkdir_p(pin_dir, 0700);
	if (ret)
		goto out;
	/*
	 * One daemon per instance: a second one would recompile the maps
	 * under the first one's feet before finding its socket taken.
	 */
	dp->lock_fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dp->lock_fd < 0 || flock(dp->lock_fd, LOCK_EX | LOCK_NB)) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto out;
	}

	oopts.pin_root_path = dp->pin_dir;
	dp->tc = zt_tc_bpf__open_opts(&oopts);
	if (!dp->tc) {
		ret = errno ? -errno : -EINVAL;
		goto out;
	}
	/*
	 * Loading creates and pins the maps, or reuses the pinned ones (a
	 * restart, or the XDP object loaded first). A freshly created
	 * zt_config is all zeroes: generation 0 and default tunables.
	 */
	ret = zt_tc_bpf__load(dp->tc);
	if (ret)
		goto out;
	ret = zt_map_id(bpf_map__fd(dp->tc->maps.zt_config), &dp->config_id);
	if (ret)
		goto out;
	ret = scan_rekey(bpf_map__fd(dp->tc->maps.zt_config));
	if (ret)
		goto out;
	*out = dp;
	dp = NULL;
out:
	zt_dp_close(dp);	/* NULL on success */
	return ret;
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

/* The enforcer's tc filter slot on IFINDEX's ingress or egress, ours by the zt_config CONFIG_ID. */
static struct zt_tc_slot tc_slot(const char *ifname, int ifindex, bool egress, __u32 config_id)
{
	struct zt_tc_slot slot = {
		.ifname = ifname,
		.ifindex = ifindex,
		.point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS,
		.handle = ZT_TC_HANDLE,
		.priority = ZT_TC_PRIO,
		.name_prefix = ZT_TC_PREFIX,
		.map_id = config_id,
	};

	return slot;
}

/*
 * The tc program for a device of link type TYPE: Ethernet-framed devices
 * get the L2 variant; TUN, WireGuard, ipip... have no link header and get
 * the L3 one. Anything else (InfiniBand, GRE with its own header...) would
 * be misparsed, and a misparsed packet passes: NULL, refused.
 */
static struct bpf_program *tc_prog_for(struct zt_dataplane *dp, int type, bool egress)
{
	switch (type) {
	case ARPHRD_ETHER:
	case ARPHRD_LOOPBACK:
		return egress ? dp->tc->progs.zt_tc_egress : dp->tc->progs.zt_tc_ingress;
	case ARPHRD_NONE:
	case ARPHRD_RAWIP:
	case ARPHRD_PPP:
	case ARPHRD_TUNNEL:
	case ARPHRD_TUNNEL6:
	case ARPHRD_SIT:
		return egress ? dp->tc->progs.zt_tc3_egress : dp->tc->progs.zt_tc3_ingress;
	default:
		return NULL;
	}
}

int zt_dp_attach_tc(struct zt_dataplane *dp, const char *ifname, bool egress)
{
	struct bpf_program *prog;
	struct zt_tc_slot slot;
	int ifindex, type = -1, ret;
	char err[256];

	if (!dp || !dp->tc || !ifname)
		return -EINVAL;
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		return -errno;
	ret = zt_link_type(ifname, &type);
	if (ret)
		return ret;
	prog = tc_prog_for(dp, type, egress);
	if (!prog)
		return -EPROTONOSUPPORT;
	/*
	 * Our own filter (a restarted daemon's) is replaced in place, no gap;
	 * another instance's or a foreign program at our handle is never
	 * taken over. The caller only gets -EBUSY: say whose slot it is here.
	 */
	slot = tc_slot(ifname, ifindex, egress, dp->config_id);
	ret = zt_tc_attach_ours(&slot, bpf_program__fd(prog), "data plane", err, sizeof(err));
	if (ret == -EBUSY)
		zt_log("warning", "%s", err);
	return ret;
}

static bool is_ztgate_xdp(struct xdp_program *p)
{
	const char *name = xdp_program__name(p);

	return name && !strcmp(name, ZT_XDP_PROG);
}

/* A ztgate XDP program of the instance whose zt_config is CONFIG_ID (0: any). */
static bool is_our_xdp(struct xdp_program *p, __u32 config_id)
{
	return is_ztgate_xdp(p) && (!config_id || zt_prog_uses_map(xdp_program__fd(p), config_id));
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
	ret = zt_link_type(ifname, &type);
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
	libbpf_set_print(zt_libbpf_quiet);
out:
	/* The dispatcher's links are pinned by libxdp: closing keeps it attached. */
	xdp_program__close(prog);
	zt_xdp_bpf__destroy(skel);
	return ret;
}

static int tc_detach_ours(int ifindex, bool egress, __u32 config_id)
{
	struct zt_tc_slot slot = tc_slot("", ifindex, egress, config_id);

	return zt_tc_detach_ours(&slot);
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

int zt_dp_attachments(const struct zt_dataplane *dp)
{
	struct if_nameindex *ifs, *i;
	int n = 0;

	if (!dp)
		return -EINVAL;
	ifs = if_nameindex();
	if (!ifs)
		return -errno;
	libbpf_set_print(zt_libbpf_silent);
	for (i = ifs; i->if_index; i++) {
		struct zt_tc_slot in = tc_slot(i->if_name, (int)i->if_index, false, dp->config_id);
		struct zt_tc_slot out = tc_slot(i->if_name, (int)i->if_index, true, dp->config_id);

		n += zt_tc_slot_owner(&in) == ZT_TC_OURS;
		n += zt_tc_slot_owner(&out) == ZT_TC_OURS;
		n += xdp_attached((int)i->if_index, dp->config_id) == 1;
	}
	if_freenameindex(ifs);
	libbpf_set_print(zt_libbpf_quiet);
	return n;
}

int zt_dp_detach_all(const char *pin_dir)
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
		r = tc_detach_ours((int)i->if_index, false, config_id);
		if (r && !ret)
			ret = r;
		r = tc_detach_ours((int)i->if_index, true, config_id);
		if (r && !ret)
			ret = r;
		r = xdp_detach_ours((int)i->if_index, config_id);
		if (r && !ret)
			ret = r;
	}
	if_freenameindex(ifs);
	libbpf_set_print(zt_libbpf_quiet);
	return ret;
}
