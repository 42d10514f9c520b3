/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * pins: the pin directory of one BPF component that pins its maps by
 * name under a directory of the caller's (uplink.c, dns_fast.c): make it
 * ready, find whose pins they are, remove exactly the component's files.
 * dataplane.c uses zt_pinned_map_id() to find its instance at teardown.
 * Errors are -errno with one line in ERR, prefixed with WHAT ("uplink").
 */
#ifndef ZT_BPF_PINS_H
#define ZT_BPF_PINS_H

#include <stddef.h>

#include <linux/types.h>

/* DIR/NAME into BUF. Returns 0 or -ENAMETOOLONG. */
int zt_pin_path(char *buf, size_t len, const char *dir, const char *name);

/*
 * Create PIN_DIR (and its parents) and check that it is on a bpf
 * filesystem: pins anywhere else would fail one by one, later and less
 * clearly.
 */
int zt_pin_dir_prepare(const char *pin_dir, const char *what, char *err, size_t errlen);

/* Kernel id of the map pinned at PIN_DIR/NAME; 0 when there is none. */
__u32 zt_pinned_map_id(const char *pin_dir, const char *name);

/*
 * Remove PIN_DIR/NAMES[i] for each name, then PIN_DIR itself if empty.
 * Keeps going on errors and reports the first.
 */
int zt_pins_remove(const char *pin_dir, const char *const *names, size_t n, const char *what,
		   char *err, size_t errlen);

#endif /* ZT_BPF_PINS_H */
