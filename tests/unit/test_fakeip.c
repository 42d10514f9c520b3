// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests: the fake-IP pool (assignment, exhaustion, reuse, persistence). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/addr.h"
#include "dns/fakeip.h"

static char err[512];

static struct zt_fakeip *pool(const char *cidr, unsigned int min_idle)
{
	struct zt_fakeip *fp;
	struct zt_prefix p;

	assert_int_equal(zt_prefix_parse(cidr, &p, err, sizeof(err)), 0);
	assert_int_equal(zt_fakeip_new(&fp, &p, min_idle, err, sizeof(err)), 0);
	return fp;
}

static struct in_addr ip(const char *text)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, text, &a), 1);
	return a;
}

static const char *ntoa(struct in_addr a)
{
	static char buf[4][INET_ADDRSTRLEN];
	static int n;

	n = (n + 1) % 4;
	return inet_ntop(AF_INET, &a, buf[n], sizeof(buf[n]));
}

static char *name_of(int i)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "host%d.home.int", i);
	return buf;
}

/* Every mapping is found both ways, and no address appears twice. */
struct check_ctx {
	const struct zt_fakeip *fp;
	uint8_t *seen;		/* indexed by the address's low 16 bits */
	size_t count;
	int64_t prev_use;	/* not used for order: touches may be late */
};

static int check_one(const char *name, struct in_addr addr, int64_t last_use, void *ctx)
{
	struct check_ctx *c = ctx;
	struct in_addr by_name;
	const char *owner;
	int64_t lu;

	assert_int_equal(zt_fakeip_lookup_name(c->fp, name, &by_name, &lu), 0);
	assert_int_equal(by_name.s_addr, addr.s_addr);
	assert_int_equal(lu, last_use);
	owner = zt_fakeip_lookup_addr(c->fp, addr, NULL);
	assert_non_null(owner);
	assert_string_equal(owner, name);
	assert_int_equal(c->seen[ntohl(addr.s_addr) & 0xffff], 0);
	c->seen[ntohl(addr.s_addr) & 0xffff] = 1;
	c->count++;
	return 0;
}

static void check_consistent(const struct zt_fakeip *fp)
{
	struct check_ctx c = { .fp = fp, .seen = calloc(65536, 1) };

	assert_int_equal(zt_fakeip_foreach(fp, check_one, &c), 0);
	assert_int_equal(c.count, zt_fakeip_count(fp));
	assert_true(c.count <= zt_fakeip_capacity(fp));
	free(c.seen);
}

static void test_new_rejects_bad_ranges(void **state)
{
	const char *bad[] = { "fd00::/64", "10.0.0.0/7", "100.96.0.1", "0.0.0.0/0" };
	struct zt_fakeip *fp = (void *)1;
	struct zt_prefix p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(zt_prefix_parse(bad[i], &p, err, sizeof(err)), 0);
		assert_int_equal(zt_fakeip_new(&fp, &p, 120, err, sizeof(err)), -EINVAL);
		assert_null(fp);
		assert_non_null(strstr(err, "fake IP range"));
	}
	fp = pool(ZT_FAKEIP_DEFAULT_RANGE, ZT_FAKEIP_DEFAULT_MIN_IDLE);
	/* A /12 holds a million addresses; the cap on names is what bounds the maps. */
	assert_int_equal(zt_fakeip_capacity(fp), ZT_FAKEIP_DEFAULT_MAX_NAMES);
	zt_fakeip_set_max_names(fp, 1u << 21);
	assert_int_equal(zt_fakeip_capacity(fp), (1u << 20) - 1);
	zt_fakeip_free(fp);
	zt_fakeip_free(NULL);
}

static void test_assign_and_lookup(void **state)
{
	struct zt_fakeip *fp = pool("100.96.0.0/12", 120);
	struct in_addr a, b;
	int64_t lu;

	(void)state;
	assert_int_equal(zt_fakeip_assign(fp, "nas.home.int", 1000, &a), ZT_FAKEIP_FRESH);
	assert_string_equal(ntoa(a), "100.96.0.1");	/* never the first address */
	assert_int_equal(zt_fakeip_assign(fp, "web.home.int", 1001, &b), ZT_FAKEIP_FRESH);
	assert_string_equal(ntoa(b), "100.96.0.2");
	assert_int_equal(zt_fakeip_assign(fp, "nas.home.int", 1005, &b), ZT_FAKEIP_EXISTING);
	assert_int_equal(a.s_addr, b.s_addr);

	assert_int_equal(zt_fakeip_lookup_name(fp, "nas.home.int", &b, &lu), 0);
	assert_int_equal(lu, 1005);
	assert_int_equal(zt_fakeip_lookup_name(fp, "NAS.home.int", &b, NULL), -ENOENT);
	assert_int_equal(zt_fakeip_lookup_name(fp, "", &b, NULL), -ENOENT);
	assert_string_equal(zt_fakeip_lookup_addr(fp, ip("100.96.0.2"), &lu), "web.home.int");
	assert_int_equal(lu, 1001);
	assert_null(zt_fakeip_lookup_addr(fp, ip("100.96.0.3"), NULL));
	assert_null(zt_fakeip_lookup_addr(fp, ip("100.96.0.0"), NULL));

	/* A late traffic report does not age a name. */
	assert_int_equal(zt_fakeip_touch(fp, ip("100.96.0.2"), 2000), 0);
	assert_int_equal(zt_fakeip_touch(fp, ip("100.96.0.2"), 1500), 0);
	zt_fakeip_lookup_addr(fp, ip("100.96.0.2"), &lu);
	assert_int_equal(lu, 2000);
	assert_int_equal(zt_fakeip_touch(fp, ip("100.96.0.9"), 2000), -ENOENT);

	assert_int_equal(zt_fakeip_assign(fp, "", 1, &a), -EINVAL);
	assert_int_equal(zt_fakeip_assign(fp, NULL, 1, &a), -EINVAL);
	assert_int_equal(zt_fakeip_count(fp), 2);
	assert_true(zt_fakeip_dirty(fp));
	check_consistent(fp);
	zt_fakeip_free(fp);
}

/*
 * A /29 holds 8 addresses: the first is never handed out and one is
 * reserved, so six names fit.
 */
static void test_exhaustion_and_reuse(void **state)
{
	struct zt_fakeip *fp = pool("100.96.0.0/29", 120);
	struct in_addr a[6], x;
	int i, j;

	(void)state;
	assert_int_equal(zt_fakeip_reserve(fp, ip("100.96.0.3")), 0);
	assert_int_equal(zt_fakeip_reserve(fp, ip("100.96.0.3")), 0);
	assert_int_equal(zt_fakeip_reserve(fp, ip("100.95.0.251")), 0);	/* outside */
	assert_int_equal(zt_fakeip_capacity(fp), 6);
	for (i = 0; i < 6; i++) {
		assert_int_equal(zt_fakeip_assign(fp, name_of(i), 1000 + i, &a[i]),
				 ZT_FAKEIP_FRESH);
		assert_string_not_equal(ntoa(a[i]), "100.96.0.0");
		assert_string_not_equal(ntoa(a[i]), "100.96.0.3");
		for (j = 0; j < i; j++)
			assert_int_not_equal(a[i].s_addr, a[j].s_addr);
	}
	/* Reserving an address a name holds is refused. */
	assert_int_equal(zt_fakeip_reserve(fp, a[2]), -EBUSY);

	/* Full, and nothing idle for 120 s yet: no reuse before idle time. */
	assert_int_equal(zt_fakeip_assign(fp, "late.home.int", 1119, &x), -ENOSPC);
	assert_int_equal(zt_fakeip_lookup_name(fp, "late.home.int", &x, NULL), -ENOENT);
	check_consistent(fp);

	/* Traffic keeps host0 alive; host1 (last use 1001) is the LRU. */
	assert_int_equal(zt_fakeip_touch(fp, a[0], 1100), 0);
	assert_int_equal(zt_fakeip_assign(fp, "late.home.int", 1120, &x), -ENOSPC);
	assert_int_equal(zt_fakeip_assign(fp, "late.home.int", 1121, &x), ZT_FAKEIP_RECLAIMED);
	assert_int_equal(x.s_addr, a[1].s_addr);
	assert_int_equal(zt_fakeip_lookup_name(fp, name_of(1), &x, NULL), -ENOENT);
	assert_string_equal(zt_fakeip_lookup_addr(fp, a[1], NULL), "late.home.int");
	assert_string_equal(zt_fakeip_lookup_addr(fp, a[0], NULL), name_of(0));
	check_consistent(fp);

	/* host1 asks again much later: host2 (1002) makes way, not host0. */
	assert_int_equal(zt_fakeip_assign(fp, name_of(1), 1300, &x), ZT_FAKEIP_RECLAIMED);
	assert_int_equal(x.s_addr, a[2].s_addr);
	assert_int_equal(zt_fakeip_count(fp), 6);
	check_consistent(fp);

	/* Everything used just now: full again. */
	for (i = 0; i < 6; i++)
		zt_fakeip_touch(fp, a[i], 1400);
	assert_int_equal(zt_fakeip_assign(fp, "again.home.int", 1519, &x), -ENOSPC);
	assert_int_equal(zt_fakeip_assign(fp, "again.home.int", 1520, &x), ZT_FAKEIP_RECLAIMED);
	check_consistent(fp);
	zt_fakeip_free(fp);
}

/* Random use over a tiny pool: at no point does an address have two names. */
static void test_never_two_names(void **state)
{
	struct zt_fakeip *fp = pool("100.96.0.0/28", 30);
	struct in_addr a;
	int64_t now = 1700000000;
	int i, ret, reclaimed = 0, refused = 0;

	(void)state;
	srand(7);
	for (i = 0; i < 20000; i++) {
		now += rand() % 4;
		if (rand() % 3) {
			ret = zt_fakeip_assign(fp, name_of(rand() % 40), now, &a);
			assert_true(ret >= 0 || ret == -ENOSPC);
			reclaimed += ret == ZT_FAKEIP_RECLAIMED;
			refused += ret == -ENOSPC;
		} else {
			a.s_addr = htonl(0x64600000 | (uint32_t)(rand() % 16));
			zt_fakeip_touch(fp, a, now);
		}
		if (i % 97 == 0)
			check_consistent(fp);
	}
	check_consistent(fp);
	assert_true(reclaimed > 0);
	assert_true(refused > 0);
	zt_fakeip_free(fp);
}

/* Thousands of names: the tables grow, and reclaiming churns them. */
static void test_many_names(void **state)
{
	struct zt_fakeip *fp = pool("100.96.0.0/20", 60);
	char name[64];
	struct in_addr a;
	int i;

	(void)state;
	for (i = 0; i < 4095; i++)
		assert_int_equal(zt_fakeip_assign(fp, name_of(i), 10, &a), ZT_FAKEIP_FRESH);
	assert_int_equal(zt_fakeip_assign(fp, "one.more", 69, &a), -ENOSPC);
	for (i = 0; i < 4095; i++) {
		snprintf(name, sizeof(name), "second%d.home.int", i);
		assert_int_equal(zt_fakeip_assign(fp, name, 100, &a), ZT_FAKEIP_RECLAIMED);
	}
	for (i = 0; i < 4095; i++)
		assert_int_equal(zt_fakeip_lookup_name(fp, name_of(i), &a, NULL), -ENOENT);
	check_consistent(fp);
	zt_fakeip_free(fp);
}

struct order_ctx {
	char names[16][64];
	int64_t uses[16];
	struct in_addr addrs[16];
	int n;
};

static int record(const char *name, struct in_addr addr, int64_t last_use, void *ctx)
{
	struct order_ctx *o = ctx;

	assert_true(o->n < 16);
	snprintf(o->names[o->n], sizeof(o->names[0]), "%s", name);
	o->uses[o->n] = last_use;
	o->addrs[o->n] = addr;
	o->n++;
	return 0;
}

static int stop_at_two(const char *name, struct in_addr addr, int64_t last_use, void *ctx)
{
	(void)name;
	(void)addr;
	(void)last_use;
	return ++*(int *)ctx == 2 ? 42 : 0;
}

static void write_file(const char *dir, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, ZT_FAKEIP_FILE);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_persistence(void **state)
{
	char dir[] = "/tmp/zt-fakeip-XXXXXX", sub[600], path[700];
	const char *odd = "we\"ird\\name\x01\xc3\xa9.home.int";
	struct order_ctx before = { 0 }, after = { 0 };
	struct zt_fakeip *fp, *fp2;
	struct in_addr a;
	struct stat st;
	int i, calls = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/state/ztgate", dir);

	fp = pool("100.96.0.0/24", 120);
	assert_int_equal(zt_fakeip_reserve(fp, ip("100.96.0.2")), 0);
	for (i = 0; i < 5; i++)
		zt_fakeip_assign(fp, name_of(i), 5000 + i, &a);
	zt_fakeip_assign(fp, odd, 6000, &a);
	zt_fakeip_touch(fp, ip("100.96.0.1"), 7000);	/* host0: most recent */
	assert_int_equal(zt_fakeip_foreach(fp, stop_at_two, &calls), 42);
	zt_fakeip_foreach(fp, record, &before);
	assert_string_equal(before.names[0], name_of(0));
	assert_string_equal(before.names[1], odd);

	/* A missing file is an empty pool. */
	fp2 = pool("100.96.0.0/24", 120);
	assert_int_equal(zt_fakeip_load(fp2, sub, 8000, err, sizeof(err)), 0);
	zt_fakeip_free(fp2);

	assert_true(zt_fakeip_dirty(fp));
	assert_int_equal(zt_fakeip_save(fp, sub, err, sizeof(err)), 0);
	assert_false(zt_fakeip_dirty(fp));
	snprintf(path, sizeof(path), "%s/%s", sub, ZT_FAKEIP_FILE);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/.%s.tmp", sub, ZT_FAKEIP_FILE);
	assert_int_equal(access(path, F_OK), -1);

	/* Same range: everything back, in the same LRU order. */
	fp2 = pool("100.96.0.0/24", 120);
	assert_int_equal(zt_fakeip_reserve(fp2, ip("100.96.0.2")), 0);
	assert_int_equal(zt_fakeip_load(fp2, sub, 8000, err, sizeof(err)), 6);
	assert_false(zt_fakeip_dirty(fp2));
	zt_fakeip_foreach(fp2, record, &after);
	assert_int_equal(after.n, before.n);
	for (i = 0; i < before.n; i++) {
		assert_string_equal(after.names[i], before.names[i]);
		assert_int_equal(after.uses[i], before.uses[i]);
		assert_int_equal(after.addrs[i].s_addr, before.addrs[i].s_addr);
	}
	check_consistent(fp2);
	/* A loaded pool refuses a second load. */
	assert_int_equal(zt_fakeip_load(fp2, sub, 8000, err, sizeof(err)), -EBUSY);
	/* New names step over the loaded addresses and the reservation. */
	for (i = 0; i < 10; i++) {
		assert_int_equal(zt_fakeip_assign(fp2, name_of(100 + i), 8001, &a),
				 ZT_FAKEIP_FRESH);
		assert_int_not_equal(a.s_addr, ip("100.96.0.2").s_addr);
	}
	check_consistent(fp2);
	zt_fakeip_free(fp2);

	/* A narrower range drops what no longer fits; future times clamp. */
	fp2 = pool("100.96.0.0/30", 120);
	assert_int_equal(zt_fakeip_load(fp2, sub, 5002, err, sizeof(err)), 2);
	assert_true(zt_fakeip_dirty(fp2));
	assert_string_equal(zt_fakeip_lookup_addr(fp2, ip("100.96.0.1"), NULL), name_of(0));
	assert_int_equal(zt_fakeip_lookup_name(fp2, name_of(1), &a, NULL), 0);
	assert_string_equal(ntoa(a), "100.96.0.3");
	zt_fakeip_foreach(fp2, record, &(struct order_ctx){ 0 });
	{
		int64_t lu;

		zt_fakeip_lookup_name(fp2, name_of(0), NULL, &lu);
		assert_int_equal(lu, 5002);
	}
	zt_fakeip_free(fp2);

	/* A damaged file: refused whole, the pool left empty and usable. */
	write_file(sub, "{\"version\": 1, \"mappings\": [{\"name\": \"a\", \"address\": "
			"\"100.96.0.1\", \"last_use\": 1}, {\"name\": \"b\", \"address\": "
			"\"100.96.0.1\", \"last_use\": 1}]}");
	fp2 = pool("100.96.0.0/24", 120);
	assert_int_equal(zt_fakeip_load(fp2, sub, 10, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "address held twice"));
	assert_int_equal(zt_fakeip_count(fp2), 0);
	assert_int_equal(zt_fakeip_assign(fp2, "b", 11, &a), ZT_FAKEIP_FRESH);
	assert_string_equal(ntoa(a), "100.96.0.1");
	zt_fakeip_free(fp2);

	{
		const char *bad[] = {
			"{\"version\": 1, \"mappings\": [{\"name\": \"a\", \"address\": "
			"\"100.96.0.1\", \"last_use\": 1}, {\"name\": \"a\", \"address\": "
			"\"100.96.0.2\", \"last_use\": 1}]}",
			"{\"version\": 2, \"mappings\": []}",
			"{\"version\": 1}",
			"{\"version\": 1, \"mappings\": [{\"name\": \"\", \"address\": "
			"\"100.96.0.1\", \"last_use\": 1}]}",
			"{\"version\": 1, \"mappings\": [{\"name\": \"a\", \"address\": "
			"\"100.96.0.300\", \"last_use\": 1}]}",
			"{\"version\": 1, \"mappings\": [{\"name\": \"a\", \"address\": "
			"\"100.96.0.1\", \"last_use\": \"soon\"}]}",
			"{\"version\": 1, \"mappings\": [7]}",
			"[1, 2",
			"",
		};

		for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
			write_file(sub, bad[i]);
			fp2 = pool("100.96.0.0/24", 120);
			err[0] = '\0';
			assert_int_equal(zt_fakeip_load(fp2, sub, 10, err, sizeof(err)), -EINVAL);
			assert_true(err[0] != '\0');
			assert_null(strchr(err, '\n'));
			assert_int_equal(zt_fakeip_count(fp2), 0);
			zt_fakeip_free(fp2);
		}
	}

	/* Saving where the directory cannot be made fails cleanly, and the
	 * pool stays dirty so the next attempt saves again. */
	write_file(dir, "x");
	snprintf(path, sizeof(path), "%s/%s/sub", dir, ZT_FAKEIP_FILE);
	zt_fakeip_assign(fp, "new.home.int", 9000, &a);
	assert_int_equal(zt_fakeip_save(fp, path, err, sizeof(err)), -ENOTDIR);
	assert_non_null(strstr(err, "Not a directory"));
	assert_true(zt_fakeip_dirty(fp));
	zt_fakeip_free(fp);

	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int c, n = 0;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/*
 * A6: a wildcard resource lets anyone making this host resolve names ask
 * for new ones. The pool holds at most its cap (the least recently used
 * idle name is reclaimed past it) and each new name costs one journal line,
 * not a rewrite of the whole file; the journal replays at load.
 */
static void test_cap_and_journal(void **state)
{
	/* tmpfs when there is one: 10000 fdatasyncs on a disk take seconds. */
	char dir[] = "/dev/shm/zt-fakeip-XXXXXX", path[700];
	struct zt_fakeip *fp, *fp2;
	struct in_addr a, b;
	uint64_t saves, appends;
	FILE *f;
	int i;

	(void)state;
	if (access("/dev/shm", W_OK))
		memcpy(dir, "/tmp/zt-fakeip-XXXXXX", sizeof("/tmp/zt-fakeip-XXXXXX"));
	assert_non_null(mkdtemp(dir));
	fp = pool("100.96.0.0/16", 0);
	zt_fakeip_set_max_names(fp, 100);
	for (i = 0; i < 300; i++) {
		assert_true(zt_fakeip_assign(fp, name_of(i), 1000 + i, &a) >= 0);
		assert_int_equal(zt_fakeip_persist(fp, dir, name_of(i), err, sizeof(err)), 0);
	}
	assert_int_equal(zt_fakeip_count(fp), 100);
	assert_int_equal(zt_fakeip_persist(fp, dir, name_of(0), err, sizeof(err)), -ENOENT);
	zt_fakeip_file_stats(fp, &saves, &appends);
	assert_int_equal(saves, 0);
	assert_int_equal(appends, 300);
	snprintf(path, sizeof(path), "%s/%s", dir, ZT_FAKEIP_JOURNAL);
	assert_int_equal(count_lines(path), 300);
	snprintf(path, sizeof(path), "%s/%s", dir, ZT_FAKEIP_FILE);
	assert_int_equal(access(path, F_OK), -1);	/* no whole-file save yet */

	/* A crash mid-append leaves a torn line: skipped, the rest replays. */
	snprintf(path, sizeof(path), "%s/%s", dir, ZT_FAKEIP_JOURNAL);
	f = fopen(path, "a");
	assert_non_null(f);
	fputs("{\"name\": \"torn.home.int\", \"addr", f);
	fclose(f);
	fp2 = pool("100.96.0.0/16", 0);
	zt_fakeip_set_max_names(fp2, 100);
	assert_int_equal(zt_fakeip_load(fp2, dir, 5000, err, sizeof(err)), 100);
	for (i = 200; i < 300; i++) {
		assert_int_equal(zt_fakeip_lookup_name(fp, name_of(i), &a, NULL), 0);
		assert_int_equal(zt_fakeip_lookup_name(fp2, name_of(i), &b, NULL), 0);
		assert_int_equal(a.s_addr, b.s_addr);
	}
	assert_int_equal(zt_fakeip_lookup_name(fp2, name_of(0), NULL, NULL), -ENOENT);
	assert_int_equal(zt_fakeip_lookup_name(fp2, "torn.home.int", NULL, NULL), -ENOENT);
	assert_true(zt_fakeip_dirty(fp2));
	/* A full save folds the journal in and empties it. */
	assert_int_equal(zt_fakeip_save(fp2, dir, err, sizeof(err)), 0);
	assert_int_equal(count_lines(path), 0);
	zt_fakeip_free(fp2);
	fp2 = pool("100.96.0.0/16", 0);
	assert_int_equal(zt_fakeip_load(fp2, dir, 5000, err, sizeof(err)), 100);
	zt_fakeip_free(fp2);
	zt_fakeip_free(fp);

	/* Many names: one whole-file save per pool's worth of new names. */
	fp = pool("100.96.0.0/12", 0);
	for (i = 0; i < 10000; i++) {
		char name[64];

		snprintf(name, sizeof(name), "n%d.home.int", i);
		assert_true(zt_fakeip_assign(fp, name, 1000, &a) >= 0);
		assert_int_equal(zt_fakeip_persist(fp, dir, name, err, sizeof(err)), 0);
	}
	zt_fakeip_file_stats(fp, &saves, &appends);
	assert_int_equal(saves, 2);		/* at 4097 and 8194 names */
	assert_int_equal(saves + appends, 10000);
	fp2 = pool("100.96.0.0/12", 0);
	assert_int_equal(zt_fakeip_load(fp2, dir, 5000, err, sizeof(err)), 10000);
	assert_int_equal(zt_fakeip_lookup_name(fp2, "n9999.home.int", &b, NULL), 0);
	assert_int_equal(zt_fakeip_lookup_name(fp, "n9999.home.int", &a, NULL), 0);
	assert_int_equal(a.s_addr, b.s_addr);
	zt_fakeip_free(fp2);
	zt_fakeip_free(fp);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

/* A11: symlinks planted in the state directory are not followed. */
static void test_symlinks_refused(void **state)
{
	char dir[] = "/tmp/zt-fakeip-XXXXXX", path[700], victim[700], buf[16];
	struct zt_fakeip *fp;
	struct in_addr a;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	f = fopen(victim, "w");
	assert_non_null(f);
	fputs("precious", f);
	fclose(f);

	fp = pool("100.96.0.0/24", 0);
	assert_true(zt_fakeip_assign(fp, "a.home.int", 10, &a) >= 0);
	/* At the temp path: replaced by a file of our own, the victim untouched. */
	snprintf(path, sizeof(path), "%s/.%s.tmp", dir, ZT_FAKEIP_FILE);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(zt_fakeip_save(fp, dir, err, sizeof(err)), 0);
	f = fopen(victim, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "precious");
	/* At the journal: refused. */
	zt_fakeip_free(fp);
	fp = pool("100.96.0.0/24", 0);
	snprintf(path, sizeof(path), "%s/%s", dir, ZT_FAKEIP_JOURNAL);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink(victim, path), 0);
	assert_true(zt_fakeip_assign(fp, "b.home.int", 10, &a) >= 0);
	assert_int_equal(zt_fakeip_persist(fp, dir, "b.home.int", err, sizeof(err)), -ELOOP);
	/* At the pool file: not loaded through it. */
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, ZT_FAKEIP_FILE);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink(victim, path), 0);
	zt_fakeip_free(fp);
	fp = pool("100.96.0.0/24", 0);
	assert_int_equal(zt_fakeip_load(fp, dir, 10, err, sizeof(err)), -ELOOP);
	zt_fakeip_free(fp);
	f = fopen(victim, "r");
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "precious");
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_rejects_bad_ranges),
		cmocka_unit_test(test_assign_and_lookup),
		cmocka_unit_test(test_exhaustion_and_reuse),
		cmocka_unit_test(test_never_two_names),
		cmocka_unit_test(test_many_names),
		cmocka_unit_test(test_persistence),
		cmocka_unit_test(test_cap_and_journal),
		cmocka_unit_test(test_symlinks_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
