// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of libpq's isolation (daemon/controller/pq.c) and of the
 * PostgreSQL URL check (db_pg.c): libpq is loaded into a link-map
 * namespace that is not the process's, is not visible from the process's
 * own namespace (the binary does not link it), and the OpenSSL its TLS
 * uses is OpenSSL 3 while the process's libcrypto stays BoringSSL;
 * OpenSSL's thread-specific data keys in that namespace come from the
 * process's table and leave the process's values alone; URLs
 * asking for TLS are accepted now, a URL libpq cannot parse is refused
 * with libpq's reason on one line. TLS against a real server:
 * tests/integration/controller_pg_tls.test.sh.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "controller/db.h"
#include "controller/pq.h"
#include "lib/clock.h"

static char err[512];

/*
 * First, before libpq is loaded: a key of the process with a value, and an
 * error in BoringSSL's per-thread queue (kept under BoringSSL's own key);
 * OpenSSL in libpq's namespace starts (its init and error state take keys
 * and set them). Our value and BoringSSL's error stay, and OpenSSL's keys
 * were taken from our libc's table (the next one here is past them).
 * Without pqns/keys.c the namespace's libc hands out keys from 0 again and
 * overwrites the values of ours with the same numbers.
 */
static void test_keys_shared(void **state)
{
	const struct zt_pq *pq;
	pthread_key_t mine, next;
	int (*init)(uint64_t, const void *);
	unsigned long (*err_get)(void);
	uint64_t t0;

	(void)state;
	assert_int_equal(pthread_key_create(&mine, NULL), 0);
	assert_int_equal(pthread_setspecific(mine, &mine), 0);
	ERR_clear_error();
	OPENSSL_PUT_ERROR(USER, 42);
	t0 = zt_mono_ns();
	pq = zt_pq_load(err, sizeof(err));
	assert_non_null(pq);
	print_message("libpq's namespace loaded in %.1f ms\n", (double)(zt_mono_ns() - t0) / 1e6);
	*(void **)&init = dlsym(pq->handle, "OPENSSL_init_crypto");
	*(void **)&err_get = dlsym(pq->handle, "ERR_get_error");
	assert_non_null(init);
	assert_non_null(err_get);
	assert_int_equal(init(0, NULL), 1);
	assert_int_equal(err_get(), 0);
	assert_ptr_equal(pthread_getspecific(mine), &mine);
	assert_int_equal(ERR_peek_error(), ERR_PACK(ERR_LIB_USER, 42));
	ERR_clear_error();
	assert_int_equal(pthread_key_create(&next, NULL), 0);
	print_message("our key %u, the next one after OpenSSL's start %u\n", mine, next);
	assert_true(next > mine + 1);
	pthread_key_delete(next);
	pthread_key_delete(mine);
}

/* Loaded once, in a namespace of its own, every function present. */
static void test_load_isolated(void **state)
{
	const struct zt_pq *pq = zt_pq_load(err, sizeof(err));
	Lmid_t lmid = LM_ID_BASE;

	(void)state;
	assert_non_null(pq);
	assert_ptr_equal(zt_pq_load(err, sizeof(err)), pq);
	assert_int_equal(dlinfo(pq->handle, RTLD_DI_LMID, &lmid), 0);
	assert_true(lmid != LM_ID_BASE);
	assert_non_null(pq->PQconnectdbParams);
	assert_non_null(pq->PQfreemem);
	/* The process's own namespace has no libpq: nothing links it. */
	assert_null(dlsym(RTLD_DEFAULT, "PQconnectdbParams"));
	assert_null(dlsym(RTLD_DEFAULT, "PQlibVersion"));
}

/* The same name, two libraries: BoringSSL here, OpenSSL 3 under libpq. */
static void test_two_libcryptos(void **state)
{
	const struct zt_pq *pq = zt_pq_load(err, sizeof(err));
	const char *(*theirs)(int);
	const char *ours = OpenSSL_version(OPENSSL_VERSION);

	(void)state;
	assert_non_null(pq);
	theirs = (const char *(*)(int))dlsym(pq->handle, "OpenSSL_version");
	assert_non_null(theirs);
	print_message("process: %s; libpq's namespace: %s\n", ours, theirs(OPENSSL_VERSION));
	assert_non_null(strstr(ours, "BoringSSL"));
	assert_true(!strncmp(theirs(OPENSSL_VERSION), "OpenSSL 3.", strlen("OpenSSL 3.")));
	/* Resolving by name in the process still finds BoringSSL's. */
	assert_ptr_equal(dlsym(RTLD_DEFAULT, "OpenSSL_version"), (void *)OpenSSL_version);
}

/* TLS URLs pass; an unparsable one is refused with libpq's reason on one line. */
static void test_url_check(void **state)
{
	static const char *const good[] = {
		"postgresql:///z?host=/tmp", "postgresql:///z?sslmode=require",
		"postgresql://db.example.com/z?sslmode=verify-full&sslrootcert=/etc/ca.crt",
		"postgresql:///z?gssencmode=prefer",
	};
	struct zt_db *db = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(zt_db_pg_check_url(good[i], err, sizeof(err)), 0);
	assert_int_equal(zt_db_pg_check_url("postgresql:///z?nosuch=1", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a valid PostgreSQL URL"));
	assert_non_null(strstr(err, "nosuch"));
	assert_null(strchr(err, '\n'));
	assert_int_equal(zt_db_open("postgresql:///z?nosuch=1", NULL, &db, err, sizeof(err)), -EINVAL);
	assert_null(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_shared),
		cmocka_unit_test(test_load_isolated),
		cmocka_unit_test(test_two_libcryptos),
		cmocka_unit_test(test_url_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
