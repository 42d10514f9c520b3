// SPDX-License-Identifier: GPL-2.0-only
/*
 * pins: pin-directory helpers for the loaders (dns_fast.c, uplink.c;
 * dataplane.c for zt_pinned_map_id); see pins.h. Below the loaders, next
 * to bpf_util.c: includes no loader's header.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>
#include <bpf/bpf.h>

#include "dataplane/bpf_util.h"
#include "dataplane/pins.h"
#include "lib/log.h"
#include "lib/fsutil.h"

int zt_pin_path(char *buf, size_t len, const char *dir, const char *name)
{
	return snprintf(buf, len, "%s/%s", dir, name) >= (int)len ? -ENAMETOOLONG : 0;
}

int zt_pin_dir_prepare(const char *pin_dir, const char *what, char *err, size_t errlen)
{
	struct statfs st;
	int ret;

	if (!pin_dir || !*pin_dir)
		return zt_errf(err, errlen, -EINVAL, "%s: no pin directory", what);
	ret = zt_mkdir_p(pin_dir, 0700);
	if (ret)
		return zt_errf(err, errlen, ret, "%s: cannot create %s: %s", what, pin_dir,
			       strerror(-ret));
	if (statfs(pin_dir, &st) || st.f_type != BPF_FS_MAGIC)
		return zt_errf(err, errlen, -ENOTSUP, "%s: %s is not on a bpf filesystem", what,
			       pin_dir);
	return 0;
}

__u32 zt_pinned_map_id(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];
	__u32 id = 0;
	int fd;

	if (zt_pin_path(path, sizeof(path), pin_dir, name))
		return 0;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (zt_map_id(fd, &id))
		id = 0;
	close(fd);
	return id;
}

int zt_pins_remove(const char *pin_dir, const char *const *names, size_t n, const char *what,
		   char *err, size_t errlen)
{
	char path[PATH_MAX];
	size_t i;
	int ret = 0, r;

	for (i = 0; i < n; i++) {
		r = zt_pin_path(path, sizeof(path), pin_dir, names[i]);
		if (!r && unlink(path) && errno != ENOENT)
			r = -errno;
		if (r && !ret)
			ret = zt_errf(err, errlen, r, "%s: removing %s: %s", what, path,
				      strerror(-r));
	}
	if (rmdir(pin_dir) && errno != ENOENT && !ret)
		ret = zt_errf(err, errlen, -errno, "%s: removing %s: %s", what, pin_dir,
			      strerror(errno));
	return ret;
}
