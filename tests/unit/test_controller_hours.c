// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of allowed hours in a time zone (daemon/controller/hours.c):
 * fixed instants around Europe/Berlin's daylight saving changes of
 * 2026-03-29 and 2026-10-25 (the wall clock decides, a skipped hour's
 * boundary takes effect at the jump, a repeated hour's holds twice), the
 * next boundary across them, and the policy's --tz: a known zone stored,
 * an unknown one refused with one line and nothing changed, "" back to UTC.
 * The controller's own TZ plays no part (set to another zone here) and is
 * left as it was.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "controller/internal.h"
#include "ctl_helpers.h"

#define H		3600
#define MAR27		1774569600	/* 2026-03-27 00:00 UTC, a Friday; CET (+1) */
#define MAR30		1774828800	/* Monday after the change; CEST (+2) */
#define MAR29		1774742400	/* Sunday: 02:00 CET becomes 03:00 CEST at 01:00 UTC */
#define OCT23		1792713600	/* Friday; CEST */
#define OCT25		1792886400	/* Sunday: 03:00 CEST becomes 02:00 CET at 01:00 UTC */
#define OCT26		1792972800	/* Monday; CET */

static const char *const berlin = "Europe/Berlin";

/* Office hours follow the wall clock: 08:00-16:00 UTC in winter, 07:00-15:00 in summer. */
static void test_office_hours_across_dst(void **state)
{
	const char *w = "Mon-Fri 09:00-17:00";

	(void)state;
	assert_false(zt_hours_allow(w, berlin, MAR27 + 8 * H - 1));
	assert_true(zt_hours_allow(w, berlin, MAR27 + 8 * H));
	assert_true(zt_hours_allow(w, berlin, MAR27 + 16 * H - 1));
	assert_false(zt_hours_allow(w, berlin, MAR27 + 16 * H));
	assert_false(zt_hours_allow(w, berlin, MAR30 + 7 * H - 1));
	assert_true(zt_hours_allow(w, berlin, MAR30 + 7 * H));
	assert_false(zt_hours_allow(w, berlin, MAR30 + 15 * H));
	/* Friday 17:00 CET to Monday 09:00 CEST: one boundary, over the weekend's change. */
	assert_int_equal(zt_hours_next(w, berlin, MAR27 + 16 * H), MAR30 + 7 * H);
	assert_int_equal(zt_hours_next(w, berlin, MAR30 + 7 * H), MAR30 + 15 * H);
	/* And back in October: Friday 07:00-15:00 UTC, Monday 08:00-16:00 UTC. */
	assert_true(zt_hours_allow(w, berlin, OCT23 + 7 * H));
	assert_false(zt_hours_allow(w, berlin, OCT23 + 15 * H));
	assert_int_equal(zt_hours_next(w, berlin, OCT23 + 15 * H), OCT26 + 8 * H);
	assert_false(zt_hours_allow(w, berlin, OCT26 + 8 * H - 1));
	assert_true(zt_hours_allow(w, berlin, OCT26 + 8 * H));
	/* The same window in UTC (no zone) does not move. */
	assert_true(zt_hours_allow(w, NULL, MAR30 + 9 * H));
	assert_false(zt_hours_allow(w, NULL, MAR30 + 8 * H));
	assert_true(zt_hours_allow(w, "", OCT26 + 16 * H));
}

/* 02:30-03:30 on the day 02:00-03:00 does not exist: inside from the jump to 03:30 CEST. */
static void test_skipped_hour(void **state)
{
	const char *w = "02:30-03:30";

	(void)state;
	assert_true(zt_hours_allow(w, berlin, MAR29 - 24 * H + 90 * 60));	/* Sat 02:30 CET */
	assert_false(zt_hours_allow(w, berlin, MAR29 + H - 1));	/* Sun 01:59:59 CET */
	assert_true(zt_hours_allow(w, berlin, MAR29 + H));	/* 03:00 CEST */
	assert_false(zt_hours_allow(w, berlin, MAR29 + 90 * 60));	/* 03:30 CEST */
	assert_int_equal(zt_hours_next(w, berlin, MAR29), MAR29 + H);
	assert_int_equal(zt_hours_next(w, berlin, MAR29 + H), MAR29 + 90 * 60);
	/* Monday's window: 02:30 CEST is 00:30 UTC. */
	assert_int_equal(zt_hours_next(w, berlin, MAR29 + 90 * 60), MAR30 + 30 * 60);
}

/* 02:15-02:45 on the day 02:00-03:00 comes twice: both times, four boundaries. */
static void test_repeated_hour(void **state)
{
	const char *w = "02:15-02:45";
	const int64_t want[] = { OCT25 + 15 * 60, OCT25 + 45 * 60, OCT25 + H + 15 * 60,
				 OCT25 + H + 45 * 60, OCT26 + H + 15 * 60 };
	int64_t t = OCT25 - H;

	(void)state;
	assert_true(zt_hours_allow(w, berlin, OCT25 + 20 * 60));	/* 02:20 CEST */
	assert_false(zt_hours_allow(w, berlin, OCT25 + 50 * 60));	/* 02:50 CEST */
	assert_true(zt_hours_allow(w, berlin, OCT25 + H + 20 * 60));	/* 02:20 CET */
	assert_false(zt_hours_allow(w, berlin, OCT25 + H + 45 * 60));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		t = zt_hours_next(w, berlin, t);
		assert_int_equal(t, want[i]);
	}
}

/* The process's own zone is not the policy's, and is put back as it was. */
static void test_process_tz_untouched(void **state)
{
	(void)state;
	setenv("TZ", "America/New_York", 1);
	tzset();
	assert_true(zt_hours_allow("09:00-17:00", NULL, MAR30 + 9 * H));
	assert_true(zt_hours_allow("09:00-17:00", berlin, MAR30 + 7 * H));
	assert_int_equal(zt_hours_next("09:00-17:00", NULL, MAR30), MAR30 + 9 * H);
	assert_int_equal(zt_hours_next("09:00-17:00", berlin, MAR30), MAR30 + 7 * H);
	/* A UTC walk just before does not make the next zone's answer UTC's. */
	assert_int_equal(zt_hours_next("09:00-17:00", NULL, MAR30), MAR30 + 9 * H);
	assert_true(zt_hours_allow("09:00-17:00", berlin, MAR30 + 7 * H + 1));
	assert_false(zt_hours_allow("09:00-17:00", NULL, MAR30 + 7 * H + 1));
	assert_string_equal(getenv("TZ"), "America/New_York");
	unsetenv("TZ");
	tzset();
	assert_int_equal(zt_hours_next("09:00-17:00", berlin, MAR30), MAR30 + 7 * H);
	assert_null(getenv("TZ"));
}

/* --tz: a zone of the database, refused otherwise (one line, nothing changed); "" is UTC. */
static void test_policy_tz(void **state)
{
	struct zt_model *m = *state;
	json_object *a, *out = NULL;
	const struct zt_mobj *p;
	uint64_t rev;

	assert_int_equal(zt_tz_check("Europe/Berlin"), 0);
	assert_int_equal(zt_tz_check("Europe/Berln"), -ENOENT);
	assert_int_equal(zt_tz_check("../../etc/passwd"), -EINVAL);
	assert_int_equal(zt_tz_check("/usr/share/zoneinfo/UTC"), -EINVAL);
	ctl_add(m, ZT_K_POLICY, "office", "{\"hours\":\"Mon-Fri 09:00-17:00\","
		"\"tz\":\"Europe/Berlin\"}");
	p = zt_model_find(m, ZT_K_POLICY, "office");
	assert_string_equal(zt_mobj_str(p, "tz"), "Europe/Berlin");
	ctl_add_fails(m, ZT_K_POLICY, "bad", "{\"hours\":\"09:00-17:00\",\"tz\":\"Mars/Olympus\"}",
		      -EINVAL, "unknown time zone 'Mars/Olympus': a name of the tz database, e.g."
		      " Europe/Berlin");
	assert_null(zt_model_find(m, ZT_K_POLICY, "bad"));
	/* A refused set leaves the policy as it was. */
	rev = m->rev;
	a = ctl_args("{\"tz\":\"Europe/Nowhere\"}");
	assert_int_equal(zt_model_set(m, ZT_K_POLICY, "office", a, "uid:0", &out, ctl_err,
				      sizeof(ctl_err)), -EINVAL);
	json_object_put(a);
	assert_non_null(strstr(ctl_err, "unknown time zone 'Europe/Nowhere'"));
	assert_null(strchr(ctl_err, '\n'));
	assert_int_equal(m->rev, rev);
	assert_string_equal(zt_mobj_str(zt_model_find(m, ZT_K_POLICY, "office"), "tz"),
			    "Europe/Berlin");
	/* --tz "" : UTC again, the hours kept. */
	a = ctl_args("{\"tz\":\"\"}");
	assert_int_equal(zt_model_set(m, ZT_K_POLICY, "office", a, "uid:0", &out, ctl_err,
				      sizeof(ctl_err)), 0);
	json_object_put(a);
	json_object_put(out);
	p = zt_model_find(m, ZT_K_POLICY, "office");
	assert_string_equal(zt_mobj_str(p, "tz"), "");
	assert_string_equal(zt_mobj_str(p, "hours"), "Mon-Fri 09:00-17:00");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_office_hours_across_dst),
		cmocka_unit_test(test_skipped_hour),
		cmocka_unit_test(test_repeated_hour),
		cmocka_unit_test(test_process_tz_untouched),
		cmocka_unit_test_setup_teardown(test_policy_tz, ctl_setup, ctl_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
