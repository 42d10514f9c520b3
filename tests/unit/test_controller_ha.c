// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of several controllers on one database
 * (daemon/controller/sync.c, commit.c): two models open on the same
 * database (SQLite file here, PostgreSQL under tests/pg.sh). A write built
 * on a model behind the database is refused with -EAGAIN and changes
 * nothing, goes through once caught up, ids come from the database and
 * never clash, the audit chain stays one chain; the catch-up replays the
 * change log into memory and names the nodes it touches; a pruned log or
 * a replaced database (another timeline) reloads the whole model; writes
 * prune the change log to --keep-changes; each controller's node counts
 * reach the others' status;
 * enrollment retries by itself; connector endpoints are shared through the
 * runtime table (PostgreSQL). libpq's loading and URLs:
 * test_controller_pq.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ctl_helpers.h"

static struct zt_model *second;
static size_t nchanged;
static bool changed_all;

static void count_changed(void *arg, const struct zt_node_ident *ident)
{
	(void)arg;
	nchanged++;
	changed_all |= !ident;
}

static int setup2(void **state)
{
	int ret = ctl_setup(state);

	second = ctl_open();
	second->changed = count_changed;
	nchanged = 0;
	changed_all = false;
	return ret;
}

static int teardown2(void **state)
{
	zt_model_close(second);
	second = NULL;
	return ctl_teardown(state);
}

static void sync_ok(struct zt_model *m)
{
	if (zt_model_sync(m, ctl_err, sizeof(ctl_err)))
		fail_msg("sync: %s", ctl_err);
}

static void verify_ok(struct zt_model *m)
{
	uint64_t count, bad;

	if (zt_audit_verify(m, &count, &bad, ctl_err, sizeof(ctl_err)))
		fail_msg("audit: %s", ctl_err);
}

/* Interleaved writers: conflict, catch up, unique ids, one audit chain. */
static void test_two_writers(void **state)
{
	struct zt_model *a = *state, *b = second;
	json_object *args = ctl_args(NULL), *out = NULL;
	char name[16];

	ctl_add(a, ZT_K_GROUP, "ga", NULL);
	/* B did not see ga: its write is refused, nothing written. */
	assert_int_equal(zt_model_add(b, ZT_K_GROUP, "gb", args, "uid:0", &out, ctl_err,
				      sizeof(ctl_err)), -EAGAIN);
	assert_true(b->conflict);
	assert_non_null(strstr(ctl_err, "another controller"));
	assert_null(zt_model_find(b, ZT_K_GROUP, "gb"));
	/* A duplicate of what A made is caught once B caught up. */
	sync_ok(b);
	assert_non_null(zt_model_find(b, ZT_K_GROUP, "ga"));
	assert_int_equal(b->rev, a->rev);
	ctl_add_fails(b, ZT_K_GROUP, "ga", NULL, -EEXIST, "ga");
	ctl_add(b, ZT_K_GROUP, "gb", NULL);
	for (int i = 0; i < 10; i++) {
		struct zt_model *w = i % 2 ? a : b;

		snprintf(name, sizeof(name), "g%d", i);
		sync_ok(w);
		ctl_add(w, ZT_K_GROUP, name, NULL);
	}
	sync_ok(a);
	sync_ok(b);
	assert_int_equal(a->rev, b->rev);
	assert_int_equal(a->n[ZT_K_GROUP], 12);
	assert_int_equal(b->n[ZT_K_GROUP], 12);
	for (size_t i = 0; i < a->n[ZT_K_GROUP]; i++) {
		const struct zt_mobj *o = a->objs[ZT_K_GROUP][i];

		assert_int_equal(zt_model_find(b, ZT_K_GROUP, o->name)->id, o->id);
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(a->objs[ZT_K_GROUP][j]->id, o->id);
	}
	verify_ok(a);
	verify_ok(b);
	json_object_put(args);
}

/* The catch-up names the nodes an access rule removed elsewhere touches. */
static void test_replay_affects(void **state)
{
	struct zt_model *a = *state, *b = second;
	char hash[ZT_TOKEN_HASH_HEX_LEN + 1];
	struct zt_node_ident conn, dev;

	ctl_add(a, ZT_K_NETWORK, "office", NULL);
	ctl_add(a, ZT_K_CONNECTOR, "gw", "{\"network\":\"office\"}");
	ctl_add(a, ZT_K_RESOURCE, "nas", "{\"network\":\"office\",\"address\":\"10.0.0.5\","
		"\"tcp\":\"80\"}");
	ctl_add(a, ZT_K_GROUP, "eng", NULL);
	ctl_add(a, ZT_K_USER, "alice@example.com", "{\"group\":\"eng\"}");
	ctl_add(a, ZT_K_ACCESS, NULL, "{\"group\":\"eng\",\"resource\":\"nas\"}");
	assert_int_equal(ctl_token(a, ZT_K_CONNECTOR, "gw", 3600, hash), 0);
	/* B enrolls the connector with A's token, behind A: it catches up by itself. */
	assert_int_equal(ctl_enroll(b, hash, 7, "gw", &conn), 0);
	assert_int_equal(ctl_token(b, ZT_K_USER, "alice@example.com", 3600, hash), 0);
	sync_ok(a);
	assert_int_equal(ctl_enroll(a, hash, 8, "laptop", &dev), 0);
	assert_true(*zt_mobj_str(zt_model_find(a, ZT_K_CONNECTOR, "gw"), "pubkey"));
	sync_ok(b);
	assert_non_null(zt_model_find_id(b, ZT_K_DEVICE, dev.id));
	nchanged = 0;
	assert_int_equal(zt_model_rm(a, ZT_K_ACCESS, "eng:nas", "uid:0", ctl_err, sizeof(ctl_err)), 0);
	sync_ok(b);
	assert_null(zt_model_find(b, ZT_K_ACCESS, "eng:nas"));
	assert_true(nchanged >= 2);	/* the connector and alice's device */
	assert_false(changed_all);
	verify_ok(b);
}

/* A relay added or removed elsewhere: the catch-up has it and tells every node. */
static void test_replay_relay(void **state)
{
	struct zt_model *a = *state, *b = second;

	ctl_add(a, ZT_K_RELAY, "r1", "{\"address\":\"192.0.2.1:3478\"}");
	sync_ok(b);
	assert_string_equal(zt_mobj_str(zt_model_find(b, ZT_K_RELAY, "r1"), "address"),
			    "192.0.2.1:3478");
	assert_true(changed_all);
	/* B's refusal of a taken address, then its removal reaches A. */
	ctl_add_fails(b, ZT_K_RELAY, "r2", "{\"address\":\"192.0.2.1:3478\"}", -EEXIST,
		      "has the address");
	assert_int_equal(zt_model_rm(b, ZT_K_RELAY, "r1", "uid:0", ctl_err, sizeof(ctl_err)), 0);
	sync_ok(a);
	assert_null(zt_model_find(a, ZT_K_RELAY, "r1"));
	verify_ok(a);
}

/* A pruned change log, a replaced database: the whole model again. */
static void test_reload(void **state)
{
	struct zt_model *a = *state, *b = second;

	ctl_add(a, ZT_K_GROUP, "one", NULL);
	sync_ok(b);
	ctl_add(a, ZT_K_GROUP, "two", NULL);
	assert_int_equal(zt_db_script(a->db, "DELETE FROM changes; UPDATE meta SET value = (SELECT"
				      " value FROM meta WHERE key = 'rev') WHERE key = 'changes_pruned'",
				      ctl_err, sizeof(ctl_err)), 0);
	changed_all = false;
	sync_ok(b);
	assert_non_null(zt_model_find(b, ZT_K_GROUP, "two"));
	assert_true(changed_all);
	assert_int_equal(b->rev, a->rev);
	/* Another database behind the same URL: another timeline. */
	assert_int_equal(zt_db_script(a->db, "UPDATE meta SET value = 'another' WHERE key ="
				      " 'timeline'; DELETE FROM objects WHERE name = 'one'", ctl_err,
				      sizeof(ctl_err)), 0);
	changed_all = false;
	sync_ok(b);
	assert_string_equal(b->timeline, "another");
	assert_null(zt_model_find(b, ZT_K_GROUP, "one"));
	assert_true(changed_all);
	/* A, still on the old timeline, may not write before it caught up. */
	ctl_add_fails(a, ZT_K_GROUP, "three", NULL, -EAGAIN, "another controller");
	sync_ok(a);
	ctl_add(a, ZT_K_GROUP, "three", NULL);
}

/* One cell of a one-row query, as a number. */
static uint64_t query_u64(struct zt_model *m, const char *sql)
{
	struct zt_db_rows *r;
	uint64_t v;

	if (zt_db_query(m->db, sql, 0, NULL, &r, ctl_err, sizeof(ctl_err)))
		fail_msg("%s: %s", sql, ctl_err);
	v = zt_db_cell(r, 0, 0) ? strtoull(zt_db_cell(r, 0, 0), NULL, 10) : 0;
	zt_db_rows_free(r);
	return v;
}

/*
 * Writes prune the change log to the last keep_changes revisions and say
 * so in meta; a controller caught up keeps replaying, one left behind the
 * pruned point reloads the whole model and misses nothing.
 */
static void test_prune(void **state)
{
	struct zt_model *a = *state, *b = second;
	char name[16];
	uint64_t rev0 = a->rev;

	a->keep_changes = 4;
	sync_ok(b);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		ctl_add(a, ZT_K_GROUP, name, NULL);
	}
	changed_all = false;
	sync_ok(b);	/* within the log: replayed */
	assert_false(changed_all);
	for (int i = 3; i < 12; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		ctl_add(a, ZT_K_GROUP, name, NULL);
	}
	assert_int_equal(a->rev, rev0 + 12);
	/* Pruned at the last multiple of 4: the log starts past it minus 4. */
	uint64_t pruned = query_u64(a, "SELECT value FROM meta WHERE key = 'changes_pruned'");
	assert_true(pruned > rev0 && pruned + 4 <= a->rev && pruned + 8 > a->rev);
	assert_true(query_u64(a, "SELECT MIN(rev) FROM changes") > pruned);
	assert_true(query_u64(a, "SELECT COUNT(*) FROM changes") <= 8);
	/* B stopped at rev0 + 3, before the pruned point: the whole model again. */
	changed_all = false;
	sync_ok(b);
	assert_true(changed_all);
	assert_int_equal(b->rev, a->rev);
	assert_non_null(zt_model_find(b, ZT_K_GROUP, "p11"));
	verify_ok(b);
}

/*
 * Each controller's node counts reach the others' `admin status`: counted
 * when fresh, applied ones only at the same revision, none once withdrawn
 * or older than ZT_PRESENCE_MAX_AGE.
 */
static void test_presence(void **state)
{
	struct zt_model *a = *state, *b = second;
	struct zt_node_counts mine = { .nodes = 5, .connected = 3, .applied = 2 }, add = { 0 };
	json_object *rows;

	assert_int_equal(zt_model_presence_publish(a, "aaaa", &mine, ctl_err, sizeof(ctl_err)), 0);
	sync_ok(b);
	rows = zt_model_presence_others(b, "bbbb", &add, ctl_err, sizeof(ctl_err));
	assert_non_null(rows);
	assert_int_equal(json_object_array_length(rows), 1);
	assert_int_equal(add.connected, 3);
	assert_int_equal(add.applied, 2);
	json_object_put(rows);
	/* Its own row is not another's. */
	memset(&add, 0, sizeof(add));
	rows = zt_model_presence_others(a, "aaaa", &add, ctl_err, sizeof(ctl_err));
	assert_int_equal(json_object_array_length(rows), 0);
	json_object_put(rows);
	/* B moved on: A's nodes are connected, not up to date at B's revision. */
	ctl_add(b, ZT_K_GROUP, "newer", NULL);
	memset(&add, 0, sizeof(add));
	rows = zt_model_presence_others(b, "bbbb", &add, ctl_err, sizeof(ctl_err));
	assert_int_equal(add.connected, 3);
	assert_int_equal(add.applied, 0);
	json_object_put(rows);
	/* A stale row (a controller killed) counts for nothing; a withdrawn one is gone. */
	assert_int_equal(zt_db_script(a->db, "UPDATE controllers SET updated = updated - 60",
				      ctl_err, sizeof(ctl_err)), 0);
	memset(&add, 0, sizeof(add));
	rows = zt_model_presence_others(b, "bbbb", &add, ctl_err, sizeof(ctl_err));
	assert_int_equal(json_object_array_length(rows), 0);
	assert_int_equal(add.connected, 0);
	json_object_put(rows);
	zt_model_presence_withdraw(a, "aaaa");
	assert_int_equal(query_u64(b, "SELECT COUNT(*) FROM controllers"), 0);
}

/* A connector's endpoint reported to one controller reaches the other's views. */
static void test_runtime_shared(void **state)
{
	struct zt_model *a = *state, *b = second;
	const struct zt_mruntime *rt;
	uint64_t id;

	if (!ctl_pg())	/* one controller per SQLite file: nothing is shared */
		skip();
	ctl_add(a, ZT_K_NETWORK, "office", NULL);
	ctl_add(a, ZT_K_CONNECTOR, "gw", "{\"network\":\"office\"}");
	sync_ok(b);
	id = zt_model_find(a, ZT_K_CONNECTOR, "gw")->id;
	zt_model_set_endpoint(a, id, "198.19.0.2:51820", true);
	assert_int_equal(zt_model_runtime_load(b, ctl_err, sizeof(ctl_err)), 0);
	rt = zt_model_runtime(b, ZT_NODE_CONNECTOR, id, false);
	assert_non_null(rt);
	assert_string_equal(rt->endpoint, "198.19.0.2:51820");
	zt_model_runtime_notified(b, "connector 99 10.0.0.1:1");
	assert_string_equal(zt_model_runtime(b, ZT_NODE_CONNECTOR, 99, false)->endpoint, "10.0.0.1:1");
	assert_int_equal(b->rev, a->rev);	/* runtime data moves no revision */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_writers, setup2, teardown2),
		cmocka_unit_test_setup_teardown(test_replay_affects, setup2, teardown2),
		cmocka_unit_test_setup_teardown(test_replay_relay, setup2, teardown2),
		cmocka_unit_test_setup_teardown(test_reload, setup2, teardown2),
		cmocka_unit_test_setup_teardown(test_prune, setup2, teardown2),
		cmocka_unit_test_setup_teardown(test_presence, setup2, teardown2),
		cmocka_unit_test_setup_teardown(test_runtime_shared, setup2, teardown2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
