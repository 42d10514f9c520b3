/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The image of a compiled policy: every entry the policy maps hold for it
 * (resources, ports, addresses, devices, grants, run-time bindings), as
 * generation-free (map, key, value) records sorted by map and key.
 *
 * compile.c builds one for each policy it applies and keeps the last
 * committed one, so that a change becomes a diff of two images: only the
 * entries that differ are written (O(what changed) map syscalls). Pure
 * memory: nothing here touches a map.
 */
#ifndef ZT_POLICY_IMAGE_H
#define ZT_POLICY_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "dataplane/dataplane.h"
#include "policy/policy.h"
#include "ztgate/maps.h"

struct zt_exact_binding;

#define ZT_IMG_KEY_MAX	24	/* the largest generation-keyed key (zt_bind_key, zt_lpm_key) */
#define ZT_IMG_VAL_MAX	28	/* the largest value (struct zt_resource) */

/*
 * One map entry. For the hash and trie maps KEY is the map's key with its
 * generation byte 0; for zt_resources it is the resource id (the slot is
 * gen * ZT_MAX_RESOURCES + id).
 */
struct zt_img_entry {
	uint8_t map;			/* enum zt_map_id */
	uint8_t pad[3];
	uint8_t key[ZT_IMG_KEY_MAX];	/* unused tail bytes 0, so memcmp orders keys */
	uint8_t val[ZT_IMG_VAL_MAX];
};

struct zt_image {
	struct zt_img_entry *e;
	size_t n, cap;
};

/* One difference between two images: OLD_I / NEW_I index them, -1 = absent. */
struct zt_img_change {
	int64_t old_i;
	int64_t new_i;
};

struct zt_img_diff {
	struct zt_img_change *c;
	size_t n, cap;
};

void zt_image_init(struct zt_image *img);
void zt_image_free(struct zt_image *img);

/*
 * The entries P and BINDS compile to, in IMG (emptied first). A binding on
 * the same key as a policy entry wins, as it did when it was written last.
 * 0 or -ENOMEM.
 */
int zt_image_build(struct zt_image *img, const struct zt_policy *p,
		   const struct zt_exact_binding *binds, size_t nbinds);

/* The entry a run-time binding is; its key is what zt_image_put/drop look up. */
void zt_image_binding_entry(const struct zt_exact_binding *b, struct zt_img_entry *out);
/* Insert or replace E in sorted IMG. 0 or -ENOMEM. */
int zt_image_put(struct zt_image *img, const struct zt_img_entry *e);
/* Remove the entry with E's map and key; absent is fine. */
void zt_image_drop(struct zt_image *img, const struct zt_img_entry *e);

/* What turns OLD into NEW: added, changed and removed entries. 0 or -ENOMEM. */
int zt_image_diff(const struct zt_image *old, const struct zt_image *new,
		  struct zt_img_diff *out);
void zt_img_diff_free(struct zt_img_diff *d);

/* The size of map MAP's key (generation byte included); 0 if it is no policy map. */
size_t zt_image_key_size(uint8_t map);
/* Where the generation byte sits in MAP's key; -1 for zt_resources (an index). */
int zt_image_gen_offset(uint8_t map);
size_t zt_image_val_size(uint8_t map);

#endif
