// SPDX-License-Identifier: GPL-2.0-only
/*
 * uplink: load, pin, attach, replace and tear down the connector's uplink
 * guard (bpf/zt_uplink.bpf.c).
 *
 * The maps are LIBBPF_PIN_BY_NAME and the object is opened with
 * pin_root_path = the caller's directory, so libbpf reuses what a previous
 * daemon pinned. A program is "ours" when it uses this instance's pinned
 * zt_uplink_cfg (same map id), the way dataplane.c tells instances apart.
 *
 * Attachment is plain netlink XDP: the kernel keeps the program attached
 * after we exit, and XDP_FLAGS_REPLACE with the expected old program makes
 * both the swap on restart and the detach atomic against anyone else
 * attaching in between.
 *
 * Callers: roles/connector.c and relay/server.c (open, attach, configure),
 * teardown.c (zt_uplink_teardown), tests/bpf/test_uplink.c and
 * tests/tools/uplink_tool.c. Uses bpf_util.c and pins.c, no other loader.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/bpf_util.h"
#include "dataplane/pins.h"
#include "lib/log.h"
#include "lib/fsutil.h"
#include "dataplane/uplink.h"
#include "zt_uplink.skel.h"

#define UPLINK_PROG_NAME	"zt_uplink"

struct zt_uplink {
	char pin_dir[PATH_MAX];
	struct zt_uplink_bpf *skel;
	__u32 cfg_id;		/* id of this instance's zt_uplink_cfg */
};

/* Files the guard pins; teardown removes exactly these. */
static const char *const pinned_names[] = {
	"zt_uplink_cfg", "zt_uplink_rl", "zt_uplink_relays", "zt_uplink_stats", UPLINK_PROG_NAME,
};

int zt_uplink_open(const char *pin_dir, struct zt_uplink **out, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, oopts);
	struct zt_uplink *u;
	int ret;

	*out = NULL;
	if (!pin_dir || !*pin_dir)
		return zt_errf(err, errlen, -EINVAL, "uplink: no pin directory");
	u = calloc(1, sizeof(*u));
	if (!u)
		return zt_errf(err, errlen, -ENOMEM, "uplink: out of memory");
	if (snprintf(u->pin_dir, sizeof(u->pin_dir), "%s", pin_dir) >= (int)sizeof(u->pin_dir)) {
		ret = zt_errf(err, errlen, -ENAMETOOLONG, "uplink: pin directory name too long");
		goto out;
	}
	ret = zt_pin_dir_prepare(pin_dir, "uplink", err, errlen);
	if (ret)
		goto out;
	oopts.pin_root_path = u->pin_dir;
	u->skel = zt_uplink_bpf__open_opts(&oopts);
	if (!u->skel) {
		ret = errno ? -errno : -EINVAL;
		zt_errf(err, errlen, ret, "uplink: opening the BPF object: %s", strerror(-ret));
		goto out;
	}
	ret = zt_uplink_bpf__load(u->skel);
	if (ret) {
		/* Typically pins of an older map layout: teardown removes them. */
		zt_errf(err, errlen, ret, "uplink: loading the guard (pins in %s reusable?): %s",
			pin_dir, strerror(-ret));
		goto out;
	}
	ret = zt_map_id(bpf_map__fd(u->skel->maps.zt_uplink_cfg), &u->cfg_id);
	if (ret) {
		zt_errf(err, errlen, ret, "uplink: reading the config map's id: %s", strerror(-ret));
		goto out;
	}
	*out = u;
	u = NULL;
out:
	zt_uplink_close(u);	/* NULL on success */
	return ret;
}

void zt_uplink_close(struct zt_uplink *u)
{
	if (!u)
		return;
	zt_uplink_bpf__destroy(u->skel);
	free(u);
}

int zt_uplink_prog_fd(const struct zt_uplink *u)
{
	return u && u->skel ? bpf_program__fd(u->skel->progs.zt_uplink) : -EINVAL;
}

int zt_uplink_rl_fd(const struct zt_uplink *u)
{
	return u && u->skel ? bpf_map__fd(u->skel->maps.zt_uplink_rl) : -EINVAL;
}

int zt_uplink_relays_fd(const struct zt_uplink *u)
{
	return u && u->skel ? bpf_map__fd(u->skel->maps.zt_uplink_relays) : -EINVAL;
}

static int set_config(struct zt_uplink *u, uint16_t mode, uint16_t port, uint32_t rate,
		      uint32_t burst)
{
	struct zt_uplink_cfg cfg = { .port = port, .mode = mode, .init_rate = rate,
				     .init_burst = burst };
	__u32 zero = 0;

	if (!u || !u->skel)
		return -EINVAL;
	/* One array update: a packet sees the old or the new config, never half. */
	if (bpf_map_update_elem(bpf_map__fd(u->skel->maps.zt_uplink_cfg), &zero, &cfg, BPF_ANY))
		return -errno;
	return 0;
}

int zt_uplink_set_config(struct zt_uplink *u, uint16_t port, uint32_t rate, uint32_t burst)
{
	return set_config(u, ZT_UPLINK_MODE_TUNNEL, port, rate, burst);
}

int zt_uplink_set_relays(struct zt_uplink *u, const struct zt_endpoint *relays, size_t n)
{
	struct zt_uplink_relay_key key;
	struct zt_uplink_rl_val fresh = { 0 };	/* the relay's bucket, full */
	size_t i;
	int fd, ret;

	if (!u || !u->skel || (n && !relays))
		return -EINVAL;
	if (n > ZT_UPLINK_RELAYS_MAX)
		return -E2BIG;
	fd = bpf_map__fd(u->skel->maps.zt_uplink_relays);
	/* Whatever a previous daemon left first: the set is ours to state whole. */
	ret = zt_map_clear(fd, sizeof(key));
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		memset(&key, 0, sizeof(key));
		memcpy(key.addr, relays[i].addr, sizeof(key.addr));
		key.port = relays[i].port;
		if (bpf_map_update_elem(fd, &key, &fresh, BPF_ANY))
			return -errno;
	}
	return 0;
}

int zt_uplink_set_relay_config(struct zt_uplink *u, uint16_t port, uint32_t rate, uint32_t burst)
{
	return set_config(u, ZT_UPLINK_MODE_RELAY, port, rate, burst);
}

int zt_uplink_read_stats(const struct zt_uplink *u, struct zt_uplink_stats *sum)
{
	__u32 zero = 0;

	_Static_assert(sizeof(*sum) % sizeof(__u64) == 0, "zt_uplink_stats: __u64 fields only");
	if (!u || !u->skel || !sum)
		return -EINVAL;
	return zt_percpu_sum_u64(bpf_map__fd(u->skel->maps.zt_uplink_stats), &zero, (__u64 *)sum,
				 sizeof(*sum) / sizeof(__u64));
}

/* What is attached to an interface, and whose it is. */
struct xdp_slot {
	__u32 prog_id;		/* 0: nothing attached (drv or skb) */
	__u32 flags;		/* XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE */
	__u32 foreign_id;	/* someone else's program (any mode, offload included) */
	char foreign_name[BPF_OBJ_NAME_LEN];
	bool other_instance;	/* the foreign one is another instance's guard */
};

/*
 * Is program ID ours: named like the guard and using our config map (any
 * guard when CFG_ID is 0, i.e. the pins are gone)? NAME gets its name.
 */
static bool prog_is_ours(__u32 id, __u32 cfg_id, char name[BPF_OBJ_NAME_LEN], bool *guard)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	bool ours = false;
	int fd;

	*guard = false;
	snprintf(name, BPF_OBJ_NAME_LEN, "?");
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return false;
	memset(&info, 0, sizeof(info));
	if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
		snprintf(name, BPF_OBJ_NAME_LEN, "%s", info.name);
		*guard = !strcmp(info.name, UPLINK_PROG_NAME);
		ours = *guard && (!cfg_id || zt_prog_uses_map(fd, cfg_id));
	}
	close(fd);
	return ours;
}

static int xdp_slot_read(int ifindex, __u32 cfg_id, struct xdp_slot *s)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	char name[BPF_OBJ_NAME_LEN];
	__u32 ids[3], flags[3] = { XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE, XDP_FLAGS_HW_MODE };
	bool guard;
	int ret, i;

	memset(s, 0, sizeof(*s));
	ret = bpf_xdp_query(ifindex, 0, &q);
	if (ret)
		return ret;
	ids[0] = q.drv_prog_id;
	ids[1] = q.skb_prog_id;
	ids[2] = q.hw_prog_id;
	for (i = 0; i < 3; i++) {
		if (!ids[i])
			continue;
		/* Never offloaded by us: a program on the NIC is someone else's. */
		if (prog_is_ours(ids[i], cfg_id, name, &guard) && flags[i] != XDP_FLAGS_HW_MODE) {
			s->prog_id = ids[i];
			s->flags = flags[i];
		} else if (!s->foreign_id) {
			s->foreign_id = ids[i];
			s->other_instance = guard;
			memcpy(s->foreign_name, name, sizeof(name));
		}
	}
	return 0;
}

/* Replace the program pinned as UPLINK_PROG_NAME with PROG_FD. */
static int pin_prog(const struct zt_uplink *u, int prog_fd)
{
	char path[PATH_MAX];
	int ret;

	ret = zt_pin_path(path, sizeof(path), u->pin_dir, UPLINK_PROG_NAME);
	if (ret)
		return ret;
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return bpf_obj_pin(prog_fd, path) ? -errno : 0;
}

int zt_uplink_attach(struct zt_uplink *u, const char *ifname, struct zt_uplink_info *info,
		     char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, aopts);
	struct zt_uplink_info local;
	struct xdp_slot slot;
	int ifindex, type = -1, prog_fd, old_fd = -1, ret;

	if (!u || !u->skel || !ifname)
		return zt_errf(err, errlen, -EINVAL, "uplink: attach: bad arguments");
	if (!info)
		info = &local;
	memset(info, 0, sizeof(*info));
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		return zt_errf(err, errlen, -errno, "uplink: no interface %s", ifname);
	ret = zt_link_type(ifname, &type);
	if (ret)
		return zt_errf(err, errlen, ret, "uplink: %s: %s", ifname, strerror(-ret));
	/* The guard parses Ethernet; on anything else it would pass everything, unseen. */
	if (type != ARPHRD_ETHER)
		return zt_errf(err, errlen, -EPROTONOSUPPORT,
			       "uplink: %s is not an Ethernet interface (type %d)", ifname, type);
	ret = xdp_slot_read(ifindex, u->cfg_id, &slot);
	if (ret)
		return zt_errf(err, errlen, ret, "uplink: querying XDP on %s: %s", ifname,
			       strerror(-ret));
	if (slot.foreign_id)
		return zt_errf(err, errlen, -EBUSY,
			       "uplink: %s already runs %s XDP program '%s' (id %u); not replacing it",
			       ifname, slot.other_instance ? "another ztgate instance's" : "another",
			       slot.foreign_name, slot.foreign_id);

	prog_fd = bpf_program__fd(u->skel->progs.zt_uplink);
	if (slot.prog_id) {
		/* Ours (a previous daemon's): swap in place, in the mode it runs in. */
		old_fd = bpf_prog_get_fd_by_id(slot.prog_id);
		if (old_fd < 0)
			return zt_errf(err, errlen, -errno, "uplink: %s: opening the attached guard: %s",
				       ifname, strerror(errno));
		aopts.old_prog_fd = old_fd;
		ret = bpf_xdp_attach(ifindex, prog_fd, slot.flags | XDP_FLAGS_REPLACE, &aopts);
		if (ret) {
			zt_errf(err, errlen, ret, "uplink: replacing the guard on %s: %s", ifname,
				strerror(-ret));
			goto out;
		}
		info->replaced = true;
	} else {
		libbpf_print_fn_t prev;

		/*
		 * NOEXIST: never clobber a program attached since we looked.
		 * A driver without native XDP (or a veth whose peer's MTU is
		 * too large for it) says so through libbpf's log: that is
		 * the answer, not an error, so keep it off stderr.
		 */
		prev = libbpf_set_print(zt_libbpf_silent);
		ret = bpf_xdp_attach(ifindex, prog_fd,
				     XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
		libbpf_set_print(prev);
		if (ret && ret != -EBUSY && ret != -EEXIST)
			ret = bpf_xdp_attach(ifindex, prog_fd,
					     XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
		if (ret) {
			zt_errf(err, errlen, ret, "uplink: attaching XDP to %s: %s", ifname,
				strerror(-ret));
			goto out;
		}
	}
	ret = xdp_slot_read(ifindex, u->cfg_id, &slot);
	if (ret || !slot.prog_id) {
		ret = ret ? ret : -ENOENT;
		zt_errf(err, errlen, ret, "uplink: %s: guard not attached after attaching", ifname);
		goto out;
	}
	info->ifindex = ifindex;
	info->prog_id = slot.prog_id;
	info->native = slot.flags == XDP_FLAGS_DRV_MODE;
	ret = pin_prog(u, prog_fd);
	if (ret)
		zt_errf(err, errlen, ret, "uplink: pinning the program in %s: %s", u->pin_dir,
			strerror(-ret));
out:
	if (old_fd >= 0)
		close(old_fd);
	return ret;
}

/* Detach the guard of the instance whose config map is CFG_ID (0: any) from IFINDEX. */
static int detach_ours(int ifindex, __u32 cfg_id)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, aopts);
	struct xdp_slot slot;
	int fd, ret;

	ret = xdp_slot_read(ifindex, cfg_id, &slot);
	if (ret)
		return ret;
	if (!slot.prog_id)
		return 0;
	fd = bpf_prog_get_fd_by_id(slot.prog_id);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	/* Only if it is still that program: a newer one attached meanwhile stays. */
	aopts.old_prog_fd = fd;
	ret = bpf_xdp_detach(ifindex, slot.flags | XDP_FLAGS_REPLACE, &aopts);
	close(fd);
	return ret;
}

int zt_uplink_detach(struct zt_uplink *u, const char *ifname, char *err, size_t errlen)
{
	int ifindex, ret;

	if (!u || !ifname)
		return zt_errf(err, errlen, -EINVAL, "uplink: detach: bad arguments");
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		return zt_errf(err, errlen, -errno, "uplink: no interface %s", ifname);
	ret = detach_ours(ifindex, u->cfg_id);
	if (ret)
		return zt_errf(err, errlen, ret, "uplink: detaching from %s: %s", ifname,
			       strerror(-ret));
	return 0;
}

int zt_uplink_teardown(const char *pin_dir, char *err, size_t errlen)
{
	struct if_nameindex *ifs, *i;
	__u32 cfg_id;
	int ret = 0, r;

	if (!pin_dir || !*pin_dir)
		return zt_errf(err, errlen, -EINVAL, "uplink: no pin directory");
	/* Whose guard: the one using the pinned config; with no pins, any guard here. */
	cfg_id = zt_pinned_map_id(pin_dir, "zt_uplink_cfg");
	ifs = if_nameindex();
	if (!ifs)
		return zt_errf(err, errlen, -errno, "uplink: listing interfaces: %s", strerror(errno));
	/* Keep going on errors: remove as much as possible, report the first. */
	for (i = ifs; i->if_index; i++) {
		r = detach_ours((int)i->if_index, cfg_id);
		if (r && !ret)
			ret = zt_errf(err, errlen, r, "uplink: detaching from %s: %s", i->if_name,
				      strerror(-r));
	}
	if_freenameindex(ifs);
	/* The first error is the one reported. */
	r = zt_pins_remove(pin_dir, pinned_names, sizeof(pinned_names) / sizeof(pinned_names[0]),
			   "uplink", ret ? NULL : err, ret ? 0 : errlen);
	return ret ? ret : r;
}
