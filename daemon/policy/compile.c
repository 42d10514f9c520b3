// SPDX-License-Identifier: GPL-2.0-only
/*
 * Policy compilation into the maps (the scheme: compile.h): a policy's
 * image written whole or as the diff from the committed one, the
 * generation flip, run-time bindings, zt_config and the counters. Called by
 * core/ (lifecycle.c, policy_apply.c), the roles' binding hooks and tests.
 */
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
#include "policy/image.h"

/* The maps whose key carries a generation byte (zt_resources: an index instead). */
static const enum zt_map_id gen_keyed_maps[] = {
	ZT_MAP_RES_EXACT, ZT_MAP_RES_PREFIX, ZT_MAP_PORTS, ZT_MAP_DEVICES, ZT_MAP_GRANTS,
	ZT_MAP_DEV_BINDS,
};

/*
 * Delete every entry of generation GEN from a map, counting the deletes in
 * ST. Keys are collected first: deleting while walking with get_next_key
 * restarts the walk on hash maps.
 */
static int clear_generation(int fd, enum zt_map_id map, uint32_t gen, struct zt_compile_stats *st)
{
	size_t key_size = zt_image_key_size(map), gen_offset = zt_image_gen_offset(map);
	size_t n = 0, cap = 0, i;
	uint8_t *keys = NULL, *prev = NULL;
	uint8_t key[32], prev_key[32];
	int ret = 0;

	if (fd < 0)
		return 0;
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
	st->deletes += n;
	for (i = 0; i < n; i++)
		if (bpf_map_delete_elem(fd, keys + i * key_size) && errno != ENOENT && !ret)
			ret = -errno;
out:
	free(keys);
	return ret;
}

static int clear_all_generation(const int *fds, uint32_t gen, struct zt_compile_stats *st)
{
	struct zt_compile_stats ignored = { 0 };
	size_t i;
	int ret = 0, r;

	for (i = 0; i < sizeof(gen_keyed_maps) / sizeof(gen_keyed_maps[0]); i++) {
		r = clear_generation(fds[gen_keyed_maps[i]], gen_keyed_maps[i], gen,
				     st ? st : &ignored);
		if (r && !ret)
			ret = r;
	}
	return ret;
}

/* Does any address map hold an entry of generation GEN? */
bool zt_compile_has_addresses(const int *fds, uint32_t gen)
{
	static const enum zt_map_id maps[] = { ZT_MAP_RES_EXACT, ZT_MAP_RES_PREFIX };
	uint8_t key[32], prev[32];
	size_t i;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		int fd = fds[maps[i]];
		void *p = NULL;

		if (fd < 0)
			continue;
		while (!bpf_map_get_next_key(fd, p, key)) {
			if (key[zt_image_gen_offset(maps[i])] == gen)
				return true;
			memcpy(prev, key, zt_image_key_size(maps[i]));
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

/* E's key in generation GEN: the generation byte set, or the zt_resources slot. */
static void entry_key(const struct zt_img_entry *e, uint32_t gen, uint8_t key[ZT_IMG_KEY_MAX])
{
	int off = zt_image_gen_offset(e->map);

	memcpy(key, e->key, ZT_IMG_KEY_MAX);
	if (off < 0) {
		__u32 idx;

		memcpy(&idx, key, sizeof(idx));
		idx += gen * ZT_MAX_RESOURCES;
		memcpy(key, &idx, sizeof(idx));
	} else {
		key[off] = (uint8_t)gen;
	}
}

/* One image entry into generation GEN of its map. */
static int entry_write(const int *fds, const struct zt_img_entry *e, uint32_t gen,
		       struct zt_compile_stats *st)
{
	uint8_t key[ZT_IMG_KEY_MAX];

	if (fds[e->map] < 0)
		return -EBADF;
	entry_key(e, gen, key);
	st->updates++;
	if (bpf_map_update_elem(fds[e->map], key, e->val, BPF_ANY))
		return -errno;
	return 0;
}

/* Remove E from generation GEN; a zt_resources slot (an array) is zeroed: not present. */
static int entry_delete(const int *fds, const struct zt_img_entry *e, uint32_t gen,
			struct zt_compile_stats *st)
{
	static const uint8_t zero[ZT_IMG_VAL_MAX];
	uint8_t key[ZT_IMG_KEY_MAX];
	int ret;

	if (fds[e->map] < 0)
		return -EBADF;
	entry_key(e, gen, key);
	st->deletes++;
	if (zt_image_gen_offset(e->map) < 0)
		ret = bpf_map_update_elem(fds[e->map], key, zero, BPF_ANY);
	else
		ret = bpf_map_delete_elem(fds[e->map], key);
	if (ret && errno != ENOENT)
		return -errno;
	return 0;
}

static int write_all(const int *fds, const struct zt_image *img, uint32_t gen,
		     struct zt_compile_stats *st, char *err, size_t errlen)
{
	size_t i;
	int ret;

	for (i = 0; i < img->n; i++) {
		ret = entry_write(fds, &img->e[i], gen, st);
		if (ret) {
			snprintf(err, errlen, "writing a %s entry into generation %u: %s",
				 zt_map_name(img->e[i].map), gen, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/*
 * Write the changes of C->diff into generation GEN: forward (cur -> next),
 * or backward (next -> cur) to undo a prepare.
 */
static int write_diff(const int *fds, struct zt_compiled *c, uint32_t gen, bool forward,
		      char *err, size_t errlen)
{
	size_t i;
	int ret;

	for (i = 0; i < c->diff.n; i++) {
		const struct zt_img_change *ch = &c->diff.c[i];
		int64_t to = forward ? ch->new_i : ch->old_i;
		int64_t from = forward ? ch->old_i : ch->new_i;
		const struct zt_image *to_img = forward ? &c->next : &c->cur;
		const struct zt_image *from_img = forward ? &c->cur : &c->next;
		const struct zt_img_entry *e = to >= 0 ? &to_img->e[to] : &from_img->e[from];

		if (to >= 0)
			ret = entry_write(fds, e, gen, &c->stats);
		else
			ret = entry_delete(fds, e, gen, &c->stats);
		if (ret) {
			snprintf(err, errlen, "changing a %s entry in generation %u: %s",
				 zt_map_name(e->map), gen, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void zt_compiled_init(struct zt_compiled *c)
{
	memset(c, 0, sizeof(*c));
	zt_image_init(&c->cur);
	zt_image_init(&c->next);
}

void zt_compiled_free(struct zt_compiled *c)
{
	zt_image_free(&c->cur);
	zt_image_free(&c->next);
	zt_img_diff_free(&c->diff);
	zt_compiled_init(c);
}

/*
 * Both generations, the live one first (packets may use it at once), then
 * the other, which the next flip makes live. Each write is atomic alone.
 */
int zt_compile_bind_live(const int *fds, struct zt_compiled *c, const struct zt_exact_binding *b)
{
	struct zt_compile_stats st = { 0 };
	struct zt_img_entry e;
	struct zt_config cfg;
	int ret;

	ret = zt_config_read(fds, &cfg);
	if (ret)
		return ret;
	zt_image_binding_entry(b, &e);
	ret = entry_write(fds, &e, cfg.active_gen, &st);
	ret = ret ?: entry_write(fds, &e, !cfg.active_gen, &st);
	if (!ret && c)
		ret = zt_image_put(&c->cur, &e);
	return ret;
}

int zt_compile_unbind_live(const int *fds, struct zt_compiled *c, const struct zt_exact_binding *b)
{
	struct zt_compile_stats st = { 0 };
	struct zt_img_entry e;
	struct zt_config cfg;
	int ret;

	if (!b->device_id || fds[ZT_MAP_DEV_BINDS] < 0)
		return -EINVAL;	/* shared entries go with the next compile */
	ret = zt_config_read(fds, &cfg);
	if (ret)
		return ret;
	zt_image_binding_entry(b, &e);
	ret = entry_delete(fds, &e, cfg.active_gen, &st);
	ret = ret ?: entry_delete(fds, &e, !cfg.active_gen, &st);
	if (!ret && c)
		zt_image_drop(&c->cur, &e);
	return ret;
}

int zt_compile_prepare(const int *fds, const struct zt_policy *p, uint32_t *new_gen,
		       char *err, size_t errlen)
{
	return zt_compile_prepare_with(fds, NULL, p, NULL, 0, new_gen, err, errlen);
}

int zt_compile_prepare_with(const int *fds, struct zt_compiled *c, const struct zt_policy *p,
			    const struct zt_exact_binding *binds, size_t nbinds,
			    uint32_t *new_gen, char *err, size_t errlen)
{
	struct zt_compile_stats local = { 0 };
	struct zt_compile_stats *st = c ? &c->stats : &local;
	struct zt_image own, *next = c ? &c->next : &own;
	struct zt_config cfg;
	int ret;

	zt_image_init(&own);
	memset(st, 0, sizeof(*st));
	ret = zt_config_read(fds, &cfg);
	if (ret) {
		snprintf(err, errlen, "reading zt_config: %s", strerror(-ret));
		return ret;
	}
	*new_gen = cfg.active_gen ? 0 : 1;
	if ((fds[ZT_MAP_DEVICES] < 0 || fds[ZT_MAP_GRANTS] < 0) && (p->ndevices || p->ngrants)) {
		snprintf(err, errlen, "no zt_devices/zt_grants map to write devices into");
		return -ENOENT;
	}
	ret = zt_image_build(next, p, binds, nbinds);
	if (ret) {
		snprintf(err, errlen, "compiling the policy: %s", strerror(-ret));
		goto out;
	}
	if (c && c->known) {
		/* The inactive generation holds c->cur too: write what changed. */
		ret = zt_image_diff(&c->cur, next, &c->diff);
		if (ret) {
			snprintf(err, errlen, "comparing policies: %s", strerror(-ret));
			goto out;
		}
		ret = write_diff(fds, c, *new_gen, true, err, errlen);
		if (ret)
			zt_compile_abort(fds, c, *new_gen);
		goto out;
	}
	/* Unknown contents (first load, a crash's leftovers): write it whole. */
	st->full = true;
	ret = clear_all_generation(fds, *new_gen, st);
	if (ret) {
		snprintf(err, errlen, "clearing generation %u: %s", *new_gen, strerror(-ret));
		goto out;
	}
	ret = write_all(fds, next, *new_gen, st, err, errlen);
	if (ret)
		zt_compile_abort(fds, c, *new_gen);
out:
	zt_image_free(&own);
	return ret;
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

int zt_compile_commit(const int *fds, struct zt_compiled *c, uint32_t new_gen, char *err,
		      size_t errlen)
{
	struct zt_image tmp;
	uint32_t old_gen = new_gen ? 0 : 1;
	struct zt_config cfg;
	char sub[256] = "";
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
	if (!c) {
		/* Without an image the old generation is emptied, as before. */
		ret = clear_all_generation(fds, old_gen, NULL);
		if (ret)	/* The new policy is live; stale entries are cleared next time. */
			snprintf(err, errlen, "clearing old generation: %s", strerror(-ret));
		return 0;
	}
	/* The same change into the old generation: both hold the new policy again. */
	if (c->known) {
		ret = write_diff(fds, c, old_gen, true, sub, sizeof(sub));
	} else {
		ret = clear_all_generation(fds, old_gen, &c->stats);
		ret = ret ?: write_all(fds, &c->next, old_gen, &c->stats, sub, sizeof(sub));
	}
	/* Only the committed image stays: the old one would double the memory. */
	tmp = c->cur;
	c->cur = c->next;
	c->next = tmp;
	zt_image_free(&c->next);
	zt_img_diff_free(&c->diff);
	/*
	 * The new policy is live either way. An old generation left half
	 * written is unknown: the next prepare writes it whole.
	 */
	c->known = !ret;
	if (ret)
		snprintf(err, errlen, "updating the old generation: %s", sub);
	return 0;
}

void zt_compile_abort(const int *fds, struct zt_compiled *c, uint32_t new_gen)
{
	char sub[256];

	if (c && c->known) {
		/* Undo the diff: the inactive generation holds c->cur again. */
		if (write_diff(fds, c, new_gen, false, sub, sizeof(sub)))
			c->known = false;
		return;
	}
	clear_all_generation(fds, new_gen, NULL);
}

int zt_compile_apply(const int *fds, struct zt_compiled *c, const struct zt_policy *p, char *err,
		     size_t errlen)
{
	uint32_t gen;
	int ret;

	ret = zt_compile_prepare_with(fds, c, p, NULL, 0, &gen, err, errlen);
	if (ret)
		return ret;
	return zt_compile_commit(fds, c, gen, err, errlen);
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
