// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the controller's audit chain (daemon/controller/audit.c):
 * every write leaves a record with before/after and actor; verify passes on
 * a whole chain and names the first bad record after an edit, a deletion
 * in the middle, or a deleted tail; node events are recorded, queued and
 * written together (many nodes coming and going), in order, kept across a
 * failed write and written at close.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ctl_helpers.h"

/* Five records: three creates, an update, a delete. */
static void fill(struct zt_model *m)
{
	json_object *a = ctl_args("{\"description\":\"the eng team\"}"), *out = NULL;

	ctl_add(m, ZT_K_NETWORK, "office", NULL);
	ctl_add(m, ZT_K_GROUP, "eng", NULL);
	ctl_add(m, ZT_K_GROUP, "ops", NULL);
	assert_int_equal(zt_model_set(m, ZT_K_GROUP, "eng", a, "uid:1000", &out, ctl_err,
				      sizeof(ctl_err)), 0);
	assert_int_equal(zt_model_rm(m, ZT_K_GROUP, "ops", "uid:0", ctl_err, sizeof(ctl_err)), 0);
	json_object_put(a);
	json_object_put(out);
}

static void expect_bad(struct zt_model *m, uint64_t seq, const char *part)
{
	uint64_t count, bad;

	assert_int_equal(zt_audit_verify(m, &count, &bad, ctl_err, sizeof(ctl_err)), -EBADMSG);
	if (bad != seq || !strstr(ctl_err, part))
		fail_msg("verify: bad %llu (%s), want %llu and '%s'", (unsigned long long)bad, ctl_err,
			 (unsigned long long)seq, part);
}

static void test_records(void **state)
{
	struct zt_model *m = *state;
	json_object *recs, *r, *v;
	uint64_t count, bad;

	fill(m);
	assert_int_equal(zt_audit_verify(m, &count, &bad, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(count, 5);
	recs = zt_audit_list(m, 0, ctl_err, sizeof(ctl_err));
	assert_int_equal(json_object_array_length(recs), 5);
	r = json_object_array_get_idx(recs, 3);
	assert_string_equal(json_object_get_string(json_object_object_get(r, "action")), "update");
	assert_string_equal(json_object_get_string(json_object_object_get(r, "actor")), "uid:1000");
	assert_true(json_object_object_get_ex(r, "before", &v) && v);
	assert_false(json_object_object_get_ex(v, "description", NULL));
	assert_true(json_object_object_get_ex(r, "after", &v) && v);
	assert_string_equal(json_object_get_string(json_object_object_get(v, "description")),
			    "the eng team");
	r = json_object_array_get_idx(recs, 4);
	assert_string_equal(json_object_get_string(json_object_object_get(r, "action")), "delete");
	assert_true(json_object_object_get_ex(r, "after", &v) && !v);
	json_object_put(recs);
	/* A node event is a record too, and the chain goes on across a reopen. */
	zt_model_audit_event(m, "node", "node.connect", "device", "alice-laptop", NULL);
	zt_model_close(m);
	*state = m = ctl_open();
	ctl_add(m, ZT_K_GROUP, "later", NULL);
	assert_int_equal(zt_audit_verify(m, &count, &bad, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(count, 7);
}

static void test_edited(void **state)
{
	struct zt_model *m = *state;

	fill(m);
	assert_int_equal(zt_db_script(m->db, "UPDATE audit SET actor = 'uid:666' WHERE seq = 2",
				      ctl_err, sizeof(ctl_err)), 0);
	expect_bad(m, 2, "changed");
}

static void test_edited_with_hash(void **state)
{
	struct zt_model *m = *state;

	/* Rewriting a record's own hash too: the next record's prev_hash gives it away. */
	fill(m);
	assert_int_equal(zt_db_script(m->db, "UPDATE audit SET after_json = NULL, hash = 'x'"
				      " WHERE seq = 3", ctl_err, sizeof(ctl_err)), 0);
	expect_bad(m, 3, "changed");
	assert_int_equal(zt_db_script(m->db, "UPDATE audit SET hash = (SELECT prev_hash FROM audit"
				      " WHERE seq = 4) WHERE seq = 3", ctl_err, sizeof(ctl_err)), 0);
	expect_bad(m, 3, "changed");
}

static void test_deleted(void **state)
{
	struct zt_model *m = *state;

	fill(m);
	assert_int_equal(zt_db_script(m->db, "DELETE FROM audit WHERE seq = 3", ctl_err,
				      sizeof(ctl_err)), 0);
	expect_bad(m, 3, "missing");
}

static void test_deleted_tail(void **state)
{
	struct zt_model *m = *state;

	fill(m);
	assert_int_equal(zt_db_script(m->db, "DELETE FROM audit WHERE seq >= 4", ctl_err,
				      sizeof(ctl_err)), 0);
	expect_bad(m, 4, "missing");
}

static int queued_calls;

static void on_queued(void *arg)
{
	(void)arg;
	queued_calls++;
}

static long long count_rows(struct zt_model *m, const char *where)
{
	char sql[160];
	struct zt_db_rows *r;
	long long n;

	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM audit WHERE %s", where);
	if (zt_db_query(m->db, sql, 0, NULL, &r, ctl_err, sizeof(ctl_err)))
		fail_msg("count: %s", ctl_err);
	n = strtoll(zt_db_cell(r, 0, 0), NULL, 10);
	zt_db_rows_free(r);
	return n;
}

/* N nodes (ids from 100) report WHAT as the node server does; the clock moves every 100. */
static void nodes_report(struct zt_model *m, int n, const char *what)
{
	for (int i = 0; i < n; i++) {
		struct zt_node_ident id = { .kind = ZT_NODE_DEVICE, .id = 100 + (uint64_t)i };

		snprintf(id.name, sizeof(id.name), "u%d-laptop", i);
		zt_model_node_ops.report(m, &id, what, NULL);
		if (i % 100 == 99)
			ctl_time++;
	}
}

static void expect_whole(struct zt_model *m, uint64_t want)
{
	uint64_t count, bad;

	if (zt_audit_verify(m, &count, &bad, ctl_err, sizeof(ctl_err)))
		fail_msg("verify: %s", ctl_err);
	assert_int_equal(count, want);
}

/*
 * 500 nodes connecting and leaving: nothing is written until the queue is
 * flushed (by the role's timer, here by hand) or a write comes, which writes
 * the queue first; one kick per queue; records in order with their own times.
 */
static void test_node_events_queued(void **state)
{
	struct zt_model *m = *state;
	json_object *recs, *r;
	int64_t t0 = ctl_time;

	m->audit_queued = on_queued;
	queued_calls = 0;
	nodes_report(m, 500, "connect");
	assert_int_equal(m->napend, 500);
	assert_int_equal(queued_calls, 1);
	assert_int_equal(count_rows(m, "1 = 1"), 0);
	ctl_add(m, ZT_K_GROUP, "eng", NULL);	/* a write: the queue, then its own record */
	assert_int_equal(m->napend, 0);
	assert_int_equal(count_rows(m, "action = 'node.connect'"), 500);
	assert_int_equal(count_rows(m, "action = 'create' AND seq = 501"), 1);
	nodes_report(m, 500, "disconnect");
	assert_int_equal(queued_calls, 2);
	assert_int_equal(count_rows(m, "action = 'node.disconnect'"), 0);
	assert_int_equal(zt_model_audit_flush(m, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(zt_model_audit_flush(m, ctl_err, sizeof(ctl_err)), 0);	/* empty */
	assert_int_equal(count_rows(m, "action = 'node.disconnect'"), 500);
	expect_whole(m, 1001);
	recs = zt_audit_list(m, 0, ctl_err, sizeof(ctl_err));
	r = json_object_array_get_idx(recs, 0);
	assert_string_equal(json_object_get_string(json_object_object_get(r, "name")), "u0-laptop");
	assert_int_equal(json_object_get_int64(json_object_object_get(r, "time")), t0);
	r = json_object_array_get_idx(recs, 499);
	assert_string_equal(json_object_get_string(json_object_object_get(r, "name")),
			    "u499-laptop");
	assert_int_equal(json_object_get_int64(json_object_object_get(r, "time")), t0 + 4);
	r = json_object_array_get_idx(recs, 1000);
	assert_string_equal(json_object_get_string(json_object_object_get(r, "action")),
			    "node.disconnect");
	assert_string_equal(json_object_get_string(json_object_object_get(r, "actor")), "node");
	json_object_put(recs);
}

/* A failed flush keeps the queue (written later, chain whole); close writes what is left. */
static void test_node_events_kept(void **state)
{
	struct zt_model *m = *state;

	nodes_report(m, 20, "connect");
	ctl_audit_fails(m, true);
	assert_int_equal(zt_model_audit_flush(m, ctl_err, sizeof(ctl_err)), -EIO);
	assert_non_null(strstr(ctl_err, "disk on fire"));
	assert_int_equal(m->napend, 20);
	ctl_audit_fails(m, false);
	nodes_report(m, 20, "disconnect");
	zt_model_close(m);
	*state = m = ctl_open();
	assert_int_equal(m->napend, 0);
	assert_int_equal(count_rows(m, "action LIKE 'node.%'"), 40);
	expect_whole(m, 40);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_records, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_edited, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_edited_with_hash, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_deleted, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_deleted_tail, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_node_events_queued, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_node_events_kept, ctl_setup, ctl_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
