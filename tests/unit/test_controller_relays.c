// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of relays as admin objects (daemon/controller/relays.c): add,
 * list, set, rm; refused input (bad HOST:PORT, duplicate name or address,
 * unknown name) changes nothing; state across a reopen; audit records with
 * before/after; export -> apply round trip, --dry-run and a refused
 * document; every view carries --relay and the relay objects once each,
 * and a relay's change concerns every node. Run on SQLite and, by
 * tests/pg.sh (make test-pg), on PostgreSQL.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "controller/schema.h"
#include "ctl_helpers.h"

static bool changed_all;
static size_t nchanged;

static void on_changed(void *arg, const struct zt_node_ident *ident)
{
	(void)arg;
	if (!ident)
		changed_all = true;
	else
		nchanged++;
}

/* The audit records' count. */
static size_t audit_count(struct zt_model *m)
{
	json_object *recs = zt_audit_list(m, 0, ctl_err, sizeof(ctl_err));
	size_t n;

	assert_non_null(recs);
	n = json_object_array_length(recs);
	json_object_put(recs);
	return n;
}

static void test_add_list_rm(void **state)
{
	struct zt_model *m = *state;
	json_object *list, *a, *out = NULL;
	uint64_t rev = m->rev, id;

	ctl_add(m, ZT_K_RELAY, "r1", "{\"address\":\"relay.example.com:3478\"}");
	ctl_add(m, ZT_K_RELAY, "r2", "{\"address\":\"[2001:db8::1]:3478\"}");
	ctl_add(m, ZT_K_RELAY, "r3", "{\"address\":\"192.0.2.7:3478\"}");
	assert_int_equal(m->rev, rev + 3);
	assert_int_equal(zt_kind_from_name("relay"), ZT_K_RELAY);
	list = zt_model_list(m, ZT_K_RELAY);
	assert_int_equal(json_object_array_length(list), 3);
	assert_string_equal(json_object_get_string(json_object_object_get(
		json_object_array_get_idx(list, 0), "address")), "relay.example.com:3478");
	json_object_put(list);
	/* set: a new address, the same id. */
	id = zt_model_find(m, ZT_K_RELAY, "r3")->id;
	a = ctl_args("{\"address\":\"192.0.2.8:3478\"}");
	assert_int_equal(zt_model_set(m, ZT_K_RELAY, "r3", a, "uid:0", &out, ctl_err,
				      sizeof(ctl_err)), 0);
	json_object_put(a);
	json_object_put(out);
	assert_int_equal(zt_model_find(m, ZT_K_RELAY, "r3")->id, id);
	assert_string_equal(zt_mobj_str(zt_model_find(m, ZT_K_RELAY, "r3"), "address"),
			    "192.0.2.8:3478");
	assert_int_equal(zt_model_rm(m, ZT_K_RELAY, "r1", "uid:0", ctl_err, sizeof(ctl_err)), 0);
	assert_null(zt_model_find(m, ZT_K_RELAY, "r1"));
	assert_int_equal(m->n[ZT_K_RELAY], 2);
	/* The address freed can be taken again. */
	ctl_add(m, ZT_K_RELAY, "r4", "{\"address\":\"relay.example.com:3478\"}");
}

/* Every refusal: one line, -errno, no revision, no object, no audit record. */
static void test_bad_input(void **state)
{
	static const char *const bad[] = {
		"relay.example.com", "relay.example.com:0", "relay.example.com:65536",
		"relay.example.com:34x8", ":3478", "[2001:db8::1]3478", "[2001:db8::1:3478",
		"relay example.com:3478", "relay.example.com:",
	};
	struct zt_model *m = *state;
	json_object *a, *out = NULL;
	size_t records;
	char args[128];

	ctl_add(m, ZT_K_RELAY, "r1", "{\"address\":\"192.0.2.1:3478\"}");
	records = audit_count(m);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(args, sizeof(args), "{\"address\":\"%s\"}", bad[i]);
		ctl_add_fails(m, ZT_K_RELAY, "r2", args, -EINVAL, "invalid relay address");
	}
	ctl_add_fails(m, ZT_K_RELAY, "r2", "{}", -EINVAL, "--address");
	ctl_add_fails(m, ZT_K_RELAY, "r1", "{\"address\":\"192.0.2.2:3478\"}", -EEXIST,
		      "already exists");
	ctl_add_fails(m, ZT_K_RELAY, "r2", "{\"address\":\"192.0.2.1:3478\"}", -EEXIST,
		      "relay 'r1' has the address 192.0.2.1:3478");
	ctl_add_fails(m, ZT_K_RELAY, "bad name", "{\"address\":\"192.0.2.2:3478\"}", -EINVAL,
		      "invalid relay name");
	/* A set to a bad or taken address, rm of an unknown name. */
	ctl_add(m, ZT_K_RELAY, "r2", "{\"address\":\"192.0.2.2:3478\"}");
	records = audit_count(m);
	a = ctl_args("{\"address\":\"192.0.2.1:3478\"}");
	assert_int_equal(zt_model_set(m, ZT_K_RELAY, "r2", a, "uid:0", &out, ctl_err,
				      sizeof(ctl_err)), -EEXIST);
	json_object_put(a);
	a = ctl_args("{\"address\":\"nope\"}");
	assert_int_equal(zt_model_set(m, ZT_K_RELAY, "r2", a, "uid:0", &out, ctl_err,
				      sizeof(ctl_err)), -EINVAL);
	json_object_put(a);
	assert_int_equal(zt_model_rm(m, ZT_K_RELAY, "r9", "uid:0", ctl_err, sizeof(ctl_err)),
			 -ENOENT);
	assert_string_equal(ctl_err, "no relay 'r9'");
	assert_string_equal(zt_mobj_str(zt_model_find(m, ZT_K_RELAY, "r2"), "address"),
			    "192.0.2.2:3478");
	assert_int_equal(audit_count(m), records);
	/* At most ZT_MODEL_RELAYS_MAX. */
	for (int i = 2; i < ZT_MODEL_RELAYS_MAX; i++) {
		char name[16];

		snprintf(args, sizeof(args), "{\"address\":\"192.0.2.%d:3478\"}", 10 + i);
		snprintf(name, sizeof(name), "x%d", i);
		ctl_add(m, ZT_K_RELAY, name, args);
	}
	ctl_add_fails(m, ZT_K_RELAY, "one-more", "{\"address\":\"192.0.2.99:3478\"}", -ENOSPC,
		      "at most");
}

/* Reopened: the same relays, ids and revision; the schema is the current one. */
static void test_reopen(void **state)
{
	struct zt_model *m = *state;
	uint64_t rev, id;
	int version;

	ctl_add(m, ZT_K_RELAY, "r1", "{\"address\":\"relay.example.com:3478\"}");
	rev = m->rev;
	id = zt_model_find(m, ZT_K_RELAY, "r1")->id;
	zt_model_close(m);
	*state = m = ctl_open();
	assert_int_equal(m->rev, rev);
	assert_int_equal(zt_model_find(m, ZT_K_RELAY, "r1")->id, id);
	assert_string_equal(zt_mobj_str(zt_model_find(m, ZT_K_RELAY, "r1"), "address"),
			    "relay.example.com:3478");
	assert_int_equal(zt_schema_version(m->db, &version, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(version, ZT_SCHEMA_VERSION);
	assert_int_equal(version, 7);
}

/* add, update, delete: each one record of kind relay with before/after. */
static void test_audit(void **state)
{
	struct zt_model *m = *state;
	json_object *recs, *r, *v, *a, *out = NULL;
	uint64_t count, bad;
	size_t n;

	ctl_add(m, ZT_K_RELAY, "r1", "{\"address\":\"192.0.2.1:3478\"}");
	a = ctl_args("{\"address\":\"192.0.2.2:3478\"}");
	assert_int_equal(zt_model_set(m, ZT_K_RELAY, "r1", a, "uid:7", &out, ctl_err,
				      sizeof(ctl_err)), 0);
	json_object_put(a);
	json_object_put(out);
	assert_int_equal(zt_model_rm(m, ZT_K_RELAY, "r1", "uid:0", ctl_err, sizeof(ctl_err)), 0);
	recs = zt_audit_list(m, 0, ctl_err, sizeof(ctl_err));
	n = json_object_array_length(recs);
	assert_true(n >= 3);
	r = json_object_array_get_idx(recs, n - 3);
	assert_string_equal(json_object_get_string(json_object_object_get(r, "kind")), "relay");
	assert_string_equal(json_object_get_string(json_object_object_get(r, "name")), "r1");
	assert_true(json_object_object_get_ex(r, "after", &v) && v);
	assert_string_equal(json_object_get_string(json_object_object_get(v, "address")),
			    "192.0.2.1:3478");
	r = json_object_array_get_idx(recs, n - 2);
	assert_string_equal(json_object_get_string(json_object_object_get(r, "action")), "update");
	assert_string_equal(json_object_get_string(json_object_object_get(r, "actor")), "uid:7");
	assert_true(json_object_object_get_ex(r, "before", &v) && v);
	assert_string_equal(json_object_get_string(json_object_object_get(v, "address")),
			    "192.0.2.1:3478");
	assert_true(json_object_object_get_ex(r, "after", &v) && v);
	assert_string_equal(json_object_get_string(json_object_object_get(v, "address")),
			    "192.0.2.2:3478");
	r = json_object_array_get_idx(recs, n - 1);
	assert_string_equal(json_object_get_string(json_object_object_get(r, "action")), "delete");
	assert_true(json_object_object_get_ex(r, "after", &v) && !v);
	json_object_put(recs);
	assert_int_equal(zt_audit_verify(m, &count, &bad, ctl_err, sizeof(ctl_err)), 0);
}

/* APPLY DOC (DRY): must work; the number of changes. */
static size_t apply_ok(struct zt_model *m, json_object *doc, bool dry)
{
	json_object *changes = NULL;
	size_t n;

	if (zt_model_apply(m, doc, dry, "uid:0", &changes, ctl_err, sizeof(ctl_err)))
		fail_msg("apply: %s", ctl_err);
	n = json_object_array_length(changes);
	json_object_put(changes);
	return n;
}

/* export -> apply is no change; relays added, changed, removed by a document. */
static void test_apply(void **state)
{
	struct zt_model *m = *state;
	json_object *doc, *arr, *changes = NULL;
	uint64_t rev;

	ctl_add(m, ZT_K_RELAY, "r1", "{\"address\":\"192.0.2.1:3478\"}");
	ctl_add(m, ZT_K_RELAY, "r2", "{\"address\":\"relay.example.com:3478\"}");
	doc = zt_model_export(m);
	assert_true(json_object_object_get_ex(doc, "relay", &arr));
	assert_int_equal(json_object_array_length(arr), 2);
	rev = m->rev;
	assert_int_equal(apply_ok(m, doc, false), 0);
	assert_int_equal(m->rev, rev);
	/* r2 goes, r3 comes, r1 moves: a dry run lists it and changes nothing. */
	json_object_array_del_idx(arr, 1, 1);
	json_object_array_add(arr, ctl_args("{\"name\":\"r3\",\"address\":\"[2001:db8::3]:3478\"}"));
	json_object_object_add(json_object_array_get_idx(arr, 0), "address",
			       json_object_new_string("192.0.2.9:3478"));
	assert_int_equal(apply_ok(m, doc, true), 3);
	assert_int_equal(m->rev, rev);
	assert_non_null(zt_model_find(m, ZT_K_RELAY, "r2"));
	assert_null(zt_model_find(m, ZT_K_RELAY, "r3"));
	/* A bad address or two relays at one address: refused whole, nothing changed. */
	json_object_array_add(arr, ctl_args("{\"name\":\"r4\",\"address\":\"nowhere\"}"));
	assert_int_equal(zt_model_apply(m, doc, true, "uid:0", &changes, ctl_err, sizeof(ctl_err)),
			 -EINVAL);
	assert_non_null(strstr(ctl_err, "relay[2]: invalid relay address"));
	json_object_array_del_idx(arr, 2, 1);
	json_object_array_add(arr, ctl_args("{\"name\":\"r4\",\"address\":\"192.0.2.9:3478\"}"));
	assert_int_equal(zt_model_apply(m, doc, false, "uid:0", &changes, ctl_err, sizeof(ctl_err)),
			 -EEXIST);
	assert_non_null(strstr(ctl_err, "relay[2]: relay 'r1' has the address"));
	assert_int_equal(m->rev, rev);
	json_object_array_del_idx(arr, 2, 1);
	/* Applied: one revision. */
	assert_int_equal(apply_ok(m, doc, false), 3);
	assert_int_equal(m->rev, rev + 1);
	assert_null(zt_model_find(m, ZT_K_RELAY, "r2"));
	assert_string_equal(zt_mobj_str(zt_model_find(m, ZT_K_RELAY, "r3"), "address"),
			    "[2001:db8::3]:3478");
	assert_string_equal(zt_mobj_str(zt_model_find(m, ZT_K_RELAY, "r1"), "address"),
			    "192.0.2.9:3478");
	json_object_put(doc);
}

/* ID's view's "relays" as one string "a,b,c". */
static void view_relays(struct zt_model *m, const struct zt_node_ident *id, char *out, size_t len)
{
	json_object *v = zt_model_view(m, id, &(uint64_t){ 0 }), *arr;

	assert_non_null(v);
	assert_true(json_object_object_get_ex(v, "relays", &arr));
	out[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? "," : "",
			 json_object_get_string(json_object_array_get_idx(arr, i)));
	json_object_put(v);
}

/* Devices and connectors carry --relay and the relay objects, each once; changes reach all. */
static void test_views(void **state)
{
	struct zt_model *m = *state;
	struct zt_node_ident dev, conn;
	char hash[ZT_TOKEN_HASH_HEX_LEN + 1], got[512];

	assert_int_equal(zt_model_add_relay(m, "192.0.2.1:3478"), 0);
	ctl_add(m, ZT_K_NETWORK, "office", NULL);
	ctl_add(m, ZT_K_CONNECTOR, "gw", "{\"network\":\"office\"}");
	ctl_add(m, ZT_K_USER, "alice@example.com", NULL);
	assert_int_equal(ctl_token(m, ZT_K_CONNECTOR, "gw", 3600, hash), 0);
	assert_int_equal(ctl_enroll(m, hash, 1, "gw1", &conn), 0);
	assert_int_equal(ctl_token(m, ZT_K_USER, "alice@example.com", 3600, hash), 0);
	assert_int_equal(ctl_enroll(m, hash, 2, "laptop", &dev), 0);
	view_relays(m, &dev, got, sizeof(got));
	assert_string_equal(got, "192.0.2.1:3478");
	m->changed = on_changed;
	changed_all = false;
	nchanged = 0;
	ctl_add(m, ZT_K_RELAY, "r-b", "{\"address\":\"relay-b.example.com:3478\"}");
	assert_true(changed_all);
	ctl_add(m, ZT_K_RELAY, "r-a", "{\"address\":\"192.0.2.1:3478\"}");	/* also a --relay */
	ctl_add(m, ZT_K_RELAY, "r-c", "{\"address\":\"[2001:db8::1]:3478\"}");
	view_relays(m, &dev, got, sizeof(got));
	assert_string_equal(got, "192.0.2.1:3478,relay-b.example.com:3478,[2001:db8::1]:3478");
	view_relays(m, &conn, got, sizeof(got));
	assert_string_equal(got, "192.0.2.1:3478,relay-b.example.com:3478,[2001:db8::1]:3478");
	/* Removed: gone from every view (the --relay stays), every node told. */
	changed_all = false;
	assert_int_equal(zt_model_rm(m, ZT_K_RELAY, "r-b", "uid:0", ctl_err, sizeof(ctl_err)), 0);
	assert_true(changed_all);
	assert_int_equal(zt_model_rm(m, ZT_K_RELAY, "r-a", "uid:0", ctl_err, sizeof(ctl_err)), 0);
	view_relays(m, &dev, got, sizeof(got));
	assert_string_equal(got, "192.0.2.1:3478,[2001:db8::1]:3478");
	view_relays(m, &conn, got, sizeof(got));
	assert_string_equal(got, "192.0.2.1:3478,[2001:db8::1]:3478");
	/* Order by id, whatever the array's order after removals. */
	ctl_add(m, ZT_K_RELAY, "r-d", "{\"address\":\"192.0.2.4:3478\"}");
	view_relays(m, &dev, got, sizeof(got));
	assert_string_equal(got, "192.0.2.1:3478,[2001:db8::1]:3478,192.0.2.4:3478");
	/* The --relay check is the objects' one. */
	assert_int_equal(zt_relay_address_check("relay.example.com:3478", ctl_err,
						sizeof(ctl_err)), 0);
	assert_int_equal(zt_relay_address_check("relay.example.com", ctl_err, sizeof(ctl_err)),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_list_rm, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_reopen, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_audit, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_apply, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_views, ctl_setup, ctl_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
