// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the controller's audit chain (daemon/controller/audit.c):
 * every write leaves a record with before/after and actor; verify passes on
 * a whole chain and names the first bad record after an edit, a deletion
 * in the middle, or a deleted tail; node events are recorded.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_records, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_edited, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_edited_with_hash, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_deleted, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_deleted_tail, ctl_setup, ctl_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
