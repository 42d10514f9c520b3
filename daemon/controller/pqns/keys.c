// SPDX-License-Identifier: GPL-2.0-only
/*
 * The first object of libpq's link-map namespace (controller/pq.c embeds
 * it, built as build/pq_keys.so with no libc and no sanitizer): it defines
 * pthread_key_create, pthread_key_delete, pthread_setspecific and
 * pthread_getspecific for everything loaded after it in that namespace,
 * and forwards them to the process's own libc.
 *
 * Why: a namespace gets its own copy of libc, but a thread has one thread
 * descriptor, and its thread-specific values live there, indexed by key.
 * Each libc hands out keys from its own table starting at 0, so OpenSSL's
 * keys in libpq's namespace (and krb5's) would be the same numbers as
 * BoringSSL's and ASan's in the process and overwrite their values
 * (measured: ASan dies at the first TLS connection). With one table,
 * keys never collide. The first object's symbols come first in every
 * lookup of its namespace, so these win over the namespace's libc.
 */
#include <sys/types.h>	/* pthread_key_t; not <pthread.h>: its prototypes carry
			 * attributes these forwarding definitions would trip on */

#include "controller/pq.h"

int pthread_key_create(pthread_key_t *key, void (*destructor)(void *));
int pthread_key_delete(pthread_key_t key);
int pthread_setspecific(pthread_key_t key, const void *value);
void *pthread_getspecific(pthread_key_t key);
void zt_pq_keys_use(const struct zt_pq_keys *from);

static struct zt_pq_keys keys;

/* Called once by pq.c, before libpq is loaded beside this object. */
void zt_pq_keys_use(const struct zt_pq_keys *from)
{
	keys = *from;
}

int pthread_key_create(pthread_key_t *key, void (*destructor)(void *))
{
	return keys.key_create(key, destructor);
}

int pthread_key_delete(pthread_key_t key)
{
	return keys.key_delete(key);
}

int pthread_setspecific(pthread_key_t key, const void *value)
{
	return keys.setspecific(key, value);
}

void *pthread_getspecific(pthread_key_t key)
{
	return keys.getspecific(key);
}
