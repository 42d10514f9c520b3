// SPDX-License-Identifier: GPL-2.0-only
/*
 * dns_fast: load, pin, attach, fill and tear down the client's DNS fast
 * path (bpf/zt_dns.bpf.c); API in dns_fast.h. Maps pinned by name under
 * the caller's directory, a program is "ours" when it uses this instance's
 * pinned zt_dns_fast_cfg (same map id). Attachment is a tc filter on
 * clsact egress at a handle of its own (it never meets the enforcer's),
 * through bpf_util.c's zt_tc_attach_ours() / zt_tc_detach_ours(): the same
 * take-free, replace-ours, refuse-others rule as the enforcer.
 *
 * Callers: roles/client.c and dns/server.c (open, attach, fill, detach),
 * teardown.c (zt_dns_fast_teardown), tests/bpf/test_dns_fast.c. Uses
 * bpf_util.c and pins.c, no other loader.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/bpf_util.h"
#include "dataplane/pins.h"
#include "lib/log.h"
#include "dataplane/dns_fast.h"
#include "lib/fsutil.h"
#include "zt_dns.skel.h"

#define DNS_PROG_NAME	"zt_dns_fast_eg"
#define DNS_TC_HANDLE	0x2a53
#define DNS_TC_PRIO	1

struct zt_dns_fast {
	char pin_dir[PATH_MAX];
	struct zt_dns_bpf *skel;
	__u32 cfg_id;		/* id of this instance's zt_dns_fast_cfg */
	int ifindex;		/* attached to; 0: not attached */
	__u64 folded_ns;	/* hits up to here were reported */
};

/* Files pinned; teardown removes exactly these. */
static const char *const pinned_names[] = {
	"zt_dns_fast_cfg", "zt_dns_fast", "zt_dns_fast_stats", DNS_PROG_NAME,
};

int zt_dns_fast_open(const char *pin_dir, struct in_addr addr, uint16_t port,
		     struct zt_dns_fast **out, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, oopts);
	struct zt_dns_fast_cfg cfg = { .addr = addr.s_addr, .port = htons(port) };
	struct zt_dns_fast *f;
	__u32 zero = 0;
	int ret;

	*out = NULL;
	if (!pin_dir || !*pin_dir)
		return zt_errf(err, errlen, -EINVAL, "dns fast path: no pin directory");
	f = calloc(1, sizeof(*f));
	if (!f)
		return zt_errf(err, errlen, -ENOMEM, "dns fast path: out of memory");
	if (snprintf(f->pin_dir, sizeof(f->pin_dir), "%s", pin_dir) >= (int)sizeof(f->pin_dir)) {
		ret = zt_errf(err, errlen, -ENAMETOOLONG, "dns fast path: pin directory name too long");
		goto out;
	}
	ret = zt_pin_dir_prepare(pin_dir, "dns fast path", err, errlen);
	if (ret)
		goto out;
	oopts.pin_root_path = f->pin_dir;
	f->skel = zt_dns_bpf__open_opts(&oopts);
	if (!f->skel) {
		ret = errno ? -errno : -EINVAL;
		zt_errf(err, errlen, ret, "dns fast path: opening the BPF object: %s", strerror(-ret));
		goto out;
	}
	ret = zt_dns_bpf__load(f->skel);
	if (ret) {
		zt_errf(err, errlen, ret, "dns fast path: loading (pins in %s reusable?): %s", pin_dir,
			strerror(-ret));
		goto out;
	}
	ret = zt_map_id(bpf_map__fd(f->skel->maps.zt_dns_fast_cfg), &f->cfg_id);
	if (ret) {
		zt_errf(err, errlen, ret, "dns fast path: reading the config map's id: %s",
			strerror(-ret));
		goto out;
	}
	/* Whatever a previous daemon left (another range, another TTL) goes first. */
	ret = zt_dns_fast_flush(f);
	if (!ret && bpf_map_update_elem(bpf_map__fd(f->skel->maps.zt_dns_fast_cfg), &zero, &cfg,
					BPF_ANY))
		ret = -errno;
	if (ret) {
		zt_errf(err, errlen, ret, "dns fast path: resetting its maps: %s", strerror(-ret));
		goto out;
	}
	*out = f;
	f = NULL;
out:
	zt_dns_fast_close(f);	/* NULL on success */
	return ret;
}

void zt_dns_fast_close(struct zt_dns_fast *f)
{
	if (!f)
		return;
	zt_dns_bpf__destroy(f->skel);
	free(f);
}

int zt_dns_fast_prog_fd(const struct zt_dns_fast *f)
{
	return f && f->skel ? bpf_program__fd(f->skel->progs.zt_dns_fast_eg) : -EINVAL;
}

/* The key BPF computes for a name: wire form, ASCII letters lowercased, zero padding. */
static int make_key(const uint8_t *qname, size_t len, struct zt_dns_fast_key *key)
{
	size_t i;

	if (len < 1 || len > sizeof(key->name))
		return -E2BIG;
	memset(key, 0, sizeof(*key));
	for (i = 0; i < len; i++) {
		uint8_t c = qname[i];

		key->name[i] = c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
	}
	return 0;
}

int zt_dns_fast_put(struct zt_dns_fast *f, const uint8_t *qname, size_t qname_len,
		    struct in_addr addr, uint32_t ttl)
{
	struct zt_dns_fast_val val = { .addr = addr.s_addr, .ttl = ttl };
	struct zt_dns_fast_key key;
	int ret;

	if (!f || !f->skel)
		return -EINVAL;
	ret = make_key(qname, qname_len, &key);
	if (ret)
		return ret;
	if (bpf_map_update_elem(bpf_map__fd(f->skel->maps.zt_dns_fast), &key, &val, BPF_ANY))
		return -errno;
	return 0;
}

int zt_dns_fast_flush(struct zt_dns_fast *f)
{
	if (!f || !f->skel)
		return -EINVAL;
	return zt_map_clear(bpf_map__fd(f->skel->maps.zt_dns_fast), sizeof(struct zt_dns_fast_key));
}

struct hit {
	struct in_addr addr;
	__u64 ns;
};

static int hit_cmp(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;

	return x->ns < y->ns ? -1 : x->ns > y->ns;
}

int zt_dns_fast_fold_hits(struct zt_dns_fast *f, zt_dns_fast_hit_fn fn, void *ctx)
{
	struct zt_dns_fast_key key, *prev = NULL;
	struct zt_dns_fast_val val;
	struct hit *hits = NULL;
	size_t n = 0, cap = 0, i;
	struct timespec mono;
	__u64 now_ns, since;
	int64_t now_wall;
	int fd, ret = 0;

	if (!f || !f->skel || !fn)
		return -EINVAL;
	fd = bpf_map__fd(f->skel->maps.zt_dns_fast);
	clock_gettime(CLOCK_MONOTONIC, &mono);	/* bpf_ktime_get_ns()'s clock */
	now_ns = (__u64)mono.tv_sec * 1000000000ull + (__u64)mono.tv_nsec;
	now_wall = (int64_t)time(NULL);
	since = f->folded_ns;
	while (!bpf_map_get_next_key(fd, prev, &key)) {
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &val) || val.last_hit_ns <= since)
			continue;	/* gone meanwhile, or nothing new */
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct hit *h = realloc(hits, ncap * sizeof(*h));

			if (!h) {
				ret = -ENOMEM;
				goto out;
			}
			hits = h;
			cap = ncap;
		}
		hits[n].addr.s_addr = val.addr;
		hits[n].ns = val.last_hit_ns;
		n++;
	}
	/* Oldest first, so the pool's LRU order ends as the hits happened. */
	if (n)
		qsort(hits, n, sizeof(*hits), hit_cmp);
	for (i = 0; i < n; i++) {
		__u64 ago = hits[i].ns < now_ns ? (now_ns - hits[i].ns) / 1000000000ull : 0;

		fn(hits[i].addr, now_wall - (int64_t)ago, ctx);
	}
	f->folded_ns = now_ns;
out:
	free(hits);
	return ret;
}

int zt_dns_fast_read_stats(const struct zt_dns_fast *f, struct zt_dns_fast_stats *sum)
{
	__u32 zero = 0;

	_Static_assert(sizeof(*sum) % sizeof(__u64) == 0, "zt_dns_fast_stats: __u64 fields only");
	if (!f || !f->skel || !sum)
		return -EINVAL;
	return zt_percpu_sum_u64(bpf_map__fd(f->skel->maps.zt_dns_fast_stats), &zero, (__u64 *)sum,
				 sizeof(*sum) / sizeof(__u64));
}

/* The fast path's tc filter slot on IFINDEX's egress, ours by the config map CFG_ID (0: any). */
static struct zt_tc_slot dns_slot(const char *ifname, int ifindex, __u32 cfg_id)
{
	struct zt_tc_slot slot = {
		.ifname = ifname,
		.ifindex = ifindex,
		.point = BPF_TC_EGRESS,
		.handle = DNS_TC_HANDLE,
		.priority = DNS_TC_PRIO,
		.name_prefix = DNS_PROG_NAME,
		.map_id = cfg_id,
	};

	return slot;
}

int zt_dns_fast_attach(struct zt_dns_fast *f, const char *ifname, char *err, size_t errlen)
{
	struct zt_tc_slot slot;
	char path[PATH_MAX];
	int ifindex, type = -1, ret;

	if (!f || !f->skel || !ifname)
		return zt_errf(err, errlen, -EINVAL, "dns fast path: attach: bad arguments");
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		return zt_errf(err, errlen, -errno, "dns fast path: no interface %s", ifname);
	ret = zt_link_type(ifname, &type);
	if (ret)
		return zt_errf(err, errlen, ret, "dns fast path: %s: %s", ifname, strerror(-ret));
	/* Local queries travel over loopback; the program parses its (zero) Ethernet header. */
	if (type != ARPHRD_LOOPBACK)
		return zt_errf(err, errlen, -EPROTONOSUPPORT,
			       "dns fast path: %s is not a loopback device (type %d)", ifname, type);
	/* Ours (a restart) is swapped in place; anyone else's slot is refused (-EBUSY). */
	slot = dns_slot(ifname, ifindex, f->cfg_id);
	ret = zt_tc_attach_ours(&slot, zt_dns_fast_prog_fd(f), "dns fast path", err, errlen);
	if (ret)
		return ret;
	f->ifindex = ifindex;
	/* For bpftool; the filter holds the program either way. */
	if (!zt_pin_path(path, sizeof(path), f->pin_dir, DNS_PROG_NAME)) {
		unlink(path);
		if (bpf_obj_pin(zt_dns_fast_prog_fd(f), path)) {
			ret = -errno;
			return zt_errf(err, errlen, ret, "dns fast path: pinning %s: %s", path,
				       strerror(-ret));
		}
	}
	return 0;
}

static int detach_ours(int ifindex, __u32 cfg_id)
{
	struct zt_tc_slot slot = dns_slot("", ifindex, cfg_id);

	return zt_tc_detach_ours(&slot);
}

int zt_dns_fast_detach(struct zt_dns_fast *f, char *err, size_t errlen)
{
	int ret;

	if (!f)
		return zt_errf(err, errlen, -EINVAL, "dns fast path: detach: bad arguments");
	if (!f->ifindex)
		return 0;
	ret = detach_ours(f->ifindex, f->cfg_id);
	if (ret)
		return zt_errf(err, errlen, ret, "dns fast path: detaching: %s", strerror(-ret));
	f->ifindex = 0;
	return 0;
}

int zt_dns_fast_teardown(const char *pin_dir, char *err, size_t errlen)
{
	struct if_nameindex *ifs, *i;
	__u32 cfg_id;
	int ret = 0, r;

	if (!pin_dir || !*pin_dir)
		return zt_errf(err, errlen, -EINVAL, "dns fast path: no pin directory");
	cfg_id = zt_pinned_map_id(pin_dir, "zt_dns_fast_cfg");
	ifs = if_nameindex();
	if (!ifs)
		return zt_errf(err, errlen, -errno, "dns fast path: listing interfaces: %s",
			       strerror(errno));
	for (i = ifs; i->if_index; i++) {
		r = detach_ours((int)i->if_index, cfg_id);
		if (r && !ret)
			ret = zt_errf(err, errlen, r, "dns fast path: detaching from %s: %s", i->if_name,
				      strerror(-r));
	}
	if_freenameindex(ifs);
	/* The first error is the one reported. */
	r = zt_pins_remove(pin_dir, pinned_names, sizeof(pinned_names) / sizeof(pinned_names[0]),
			   "dns fast path", ret ? NULL : err, ret ? 0 : errlen);
	return ret ? ret : r;
}
