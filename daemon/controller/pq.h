/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libpq, loaded at run time into a link-map namespace of its own
 * (dlmopen(LM_ID_NEWLM)): the daemon links BoringSSL, libpq links OpenSSL's
 * libssl.so.3/libcrypto.so.3, and both export the same unversioned names.
 * In its own namespace libpq and everything it needs (OpenSSL, GSSAPI, even
 * a second libc) resolve only among themselves, so TLS to PostgreSQL runs
 * OpenSSL's code while the daemon keeps BoringSSL's. The daemon does not
 * link libpq at all (no NEEDED entry; the .deb depends on libpq5 by name,
 * deploy/debian/build-deb.sh).
 *
 * The namespace's own libc would hand out thread-specific data keys that
 * collide with the process's (pqns/keys.c says how); the namespace's first
 * object makes it use the process's instead.
 *
 * Memory never crosses the boundary the wrong way: what libpq allocates is
 * freed only through libpq (PQclear, PQfreemem, PQconninfoFree, PQfinish),
 * with the namespace's own malloc; what the daemon passes in is only read.
 *
 * Callers: controller/db_pg.c (every libpq call goes through the table),
 * controller/pqns/keys.c (struct zt_pq_keys), tests/unit/test_controller_pq.c.
 */
#ifndef ZT_CONTROLLER_PQ_H
#define ZT_CONTROLLER_PQ_H

#include <stddef.h>
#include <sys/types.h>

#include <libpq-fe.h>	/* types and prototypes only: nothing is linked */

/* The library loaded, by its soname (the package libpq5). */
#define ZT_PQ_LIBRARY "libpq.so.5"

/* Every libpq function the backend calls: one field each, typed from libpq-fe.h. */
#define ZT_PQ_FUNCS(X)								\
	X(PQclear) X(PQconnectdbParams) X(PQconninfoFree) X(PQconninfoParse)	\
	X(PQconsumeInput) X(PQerrorMessage) X(PQexec) X(PQexecParams)		\
	X(PQfinish) X(PQfreemem) X(PQgetisnull) X(PQgetvalue) X(PQnfields)	\
	X(PQnotifies) X(PQntuples) X(PQreset) X(PQresultErrorMessage)		\
	X(PQresultStatus) X(PQsetnonblocking) X(PQsocket) X(PQstatus)

struct zt_pq {
#define ZT_PQ_FIELD(fn) __typeof__(fn) *fn;
	ZT_PQ_FUNCS(ZT_PQ_FIELD)
#undef ZT_PQ_FIELD
	void *handle;		/* dlmopen's, for dlsym/dlinfo (tests) */
};

/*
 * The process's thread-specific data functions, handed to the namespace's
 * first object (pqns/keys.c, embedded in the daemon) so that the
 * namespace's libraries take keys from the process's one table.
 */
struct zt_pq_keys {
	int (*key_create)(pthread_key_t *key, void (*destructor)(void *));
	int (*key_delete)(pthread_key_t key);
	int (*setspecific)(pthread_key_t key, const void *value);
	void *(*getspecific)(pthread_key_t key);
};

/*
 * The table, loaded on the first call and kept for the process's life (a
 * namespace holding a libc is never unloaded). NULL, with one line in ERR,
 * when libpq or one of its functions cannot be loaded. Not thread-safe: the
 * controller's storage is used from its one loop thread.
 */
const struct zt_pq *zt_pq_load(char *err, size_t errlen);

#endif
