// SPDX-License-Identifier: GPL-2.0-only
/*
 * teardown: zt_dp_teardown(), removing everything an instance left in the
 * kernel: the enforcer's tc filters and XDP programs (dataplane.c), a
 * connector's uplink guard (uplink.c, pins in PIN_DIR/uplink), a client's
 * DNS fast path (dns_fast.c, pins in PIN_DIR/dns), then the pin directory.
 *
 * This is the one file that knows all three loaders; none of them knows
 * another (they share bpf_util.c and pins.c below them). Called by
 * `ztgated enforce --teardown` (roles/enforce.c), by the daemon's shutdown
 * with teardown requested (core/lifecycle.c) and by the BPF tests.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dataplane/dataplane.h"
#include "dataplane/dns_fast.h"
#include "dataplane/uplink.h"

/* Remove DIR/SUB with the component's own teardown, if DIR/SUB exists. */
static int teardown_sub(const char *dir, const char *sub,
			int (*teardown)(const char *pin_dir, char *err, size_t errlen))
{
	char path[PATH_MAX], err[256];

	if (snprintf(path, sizeof(path), "%s/%s", dir, sub) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (access(path, F_OK))
		return 0;
	return teardown(path, err, sizeof(err));
}

/* Remove the files in DIR (pins), DIR, and the shared parent "ztgate" if now empty. */
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
	int ret, r;

	if (!pin_dir || !*pin_dir)
		return -EINVAL;
	/* Keep going on errors: remove as much as possible, report the first. */
	ret = zt_dp_detach_all(pin_dir);
	/* A connector's uplink guard left behind by a crash lives in a subdirectory. */
	r = teardown_sub(pin_dir, "uplink", zt_uplink_teardown);
	if (r && !ret)
		ret = r;
	/* And a client's DNS fast path. */
	r = teardown_sub(pin_dir, "dns", zt_dns_fast_teardown);
	if (r && !ret)
		ret = r;
	r = rm_pin_dir(pin_dir);
	return ret ? ret : r;
}
