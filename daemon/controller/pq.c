// SPDX-License-Identifier: GPL-2.0-only
/*
 * libpq loaded into its own link-map namespace (pq.h says why), once:
 * first the namespace's key object (pqns/keys.c, built as
 * build/pq_keys.so and carried inside this object, loaded from a memfd so
 * that the daemon stays one file), told the process's thread-specific data
 * functions; then libpq.so.5 into the same namespace, RTLD_NOW, and a
 * dlsym per function into struct zt_pq. Called by controller/db_pg.c when
 * a postgresql:// URL is opened or checked; a controller on SQLite never
 * loads libpq.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "controller/pq.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U	/* Linux 6.3; older kernels refuse it (EINVAL) */
#endif

/* build/pq_keys.so (ZT_PQ_KEYS_SO, given by the Makefile), as bytes. */
__asm__(".section .rodata\n"
	".balign 16\n"
	"zt_pq_keys_so:\n"
	".incbin \"" ZT_PQ_KEYS_SO "\"\n"
	"zt_pq_keys_so_end:\n"
	".previous\n");
extern const unsigned char zt_pq_keys_so[], zt_pq_keys_so_end[];

static const struct {
	const char *name;
	size_t off;
} pq_syms[] = {
#define ZT_PQ_SYM(fn) { #fn, offsetof(struct zt_pq, fn) },
	ZT_PQ_FUNCS(ZT_PQ_SYM)
#undef ZT_PQ_SYM
};

static struct zt_pq pq;

/* dlerror's text, or WHAT when it has none. */
static const char *dl_why(const char *what)
{
	const char *e = dlerror();

	return e ? e : what;
}

/* The embedded key object as a file: a memfd, or -errno. */
static int keys_memfd(void)
{
	size_t len = (size_t)(zt_pq_keys_so_end - zt_pq_keys_so), off = 0;
	int fd = memfd_create("ztgate-pq-keys", MFD_CLOEXEC | MFD_EXEC);

	if (fd < 0 && errno == EINVAL)
		fd = memfd_create("ztgate-pq-keys", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, zt_pq_keys_so + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int ret = n < 0 ? -errno : -EIO;

			close(fd);
			return ret;
		}
		off += (size_t)n;
	}
	return fd;
}

/* A new namespace whose first object is the key object, wired to our libc. */
static int open_namespace(Lmid_t *lmid, char *err, size_t errlen)
{
	static const struct zt_pq_keys ours = {
		pthread_key_create, pthread_key_delete, pthread_setspecific, pthread_getspecific,
	};
	void (*use)(const struct zt_pq_keys *);
	char path[64];
	void *h, *sym;
	int fd = keys_memfd();

	if (fd < 0) {
		snprintf(err, errlen, "--db: libpq's namespace: memfd: %s", strerror(-fd));
		return fd;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	h = dlmopen(LM_ID_NEWLM, path, RTLD_NOW | RTLD_LOCAL);
	close(fd);	/* mapped now, or failed */
	if (!h) {
		snprintf(err, errlen, "--db: libpq's namespace: %s", dl_why("cannot load"));
		return -ELIBACC;
	}
	sym = dlsym(h, "zt_pq_keys_use");
	memcpy(&use, &sym, sizeof(use));
	if (!use || dlinfo(h, RTLD_DI_LMID, lmid)) {
		snprintf(err, errlen, "--db: libpq's namespace: %s", dl_why("no zt_pq_keys_use"));
		return -ELIBACC;
	}
	use(&ours);
	return 0;
}

/* A failure leaves what it loaded (a namespace is never unloaded): the controller exits on it. */
const struct zt_pq *zt_pq_load(char *err, size_t errlen)
{
	struct zt_pq loaded = { 0 };
	Lmid_t lmid;

	if (pq.handle)
		return &pq;
	if (open_namespace(&lmid, err, errlen))
		return NULL;
	/*
	 * RTLD_NOW: a missing symbol fails here, once, not at a later call.
	 * libpq's whole dependency tree (libssl.so.3, libcrypto.so.3, GSSAPI,
	 * LDAP, libc) is loaded afresh into the namespace and binds only there.
	 */
	loaded.handle = dlmopen(lmid, ZT_PQ_LIBRARY, RTLD_NOW | RTLD_LOCAL);
	if (!loaded.handle) {
		snprintf(err, errlen, "--db: PostgreSQL needs %s (package libpq5): %s", ZT_PQ_LIBRARY,
			 dl_why("cannot load"));
		return NULL;
	}
	for (size_t i = 0; i < sizeof(pq_syms) / sizeof(pq_syms[0]); i++) {
		void *fn = dlsym(loaded.handle, pq_syms[i].name);

		if (!fn) {
			snprintf(err, errlen, "--db: %s lacks %s: %s", ZT_PQ_LIBRARY, pq_syms[i].name,
				 dl_why("no such symbol"));
			return NULL;
		}
		memcpy((char *)&loaded + pq_syms[i].off, &fn, sizeof(fn));
	}
	pq = loaded;
	return &pq;
}
