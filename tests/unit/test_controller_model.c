// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the controller's model (daemon/controller/): validation with
 * one-line errors, nothing changed by a refused or failed write (a database
 * error included), state across a reopen, removal rules, tokens (expired,
 * reused, unknown refused), schema migration from v1, SQL placeholders.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "controller/schema.h"
#include "ctl_helpers.h"

/* office network, eng group, nas resource, alice in eng, eng -> nas. */
static void base(struct zt_model *m)
{
	ctl_add(m, ZT_K_NETWORK, "office", NULL);
	ctl_add(m, ZT_K_GROUP, "eng", NULL);
	ctl_add(m, ZT_K_RESOURCE, "nas", "{\"network\":\"office\",\"address\":\"nas.home.int\","
		"\"tcp\":\"80\",\"icmp\":true}");
	ctl_add(m, ZT_K_USER, "alice@example.com", "{\"group\":[\"eng\"]}");
	ctl_add(m, ZT_K_ACCESS, NULL, "{\"group\":\"eng\",\"resource\":\"nas\"}");
}

static void test_validation(void **state)
{
	struct zt_model *m = *state;

	base(m);
	ctl_add_fails(m, ZT_K_USER, "bob@example.com", "{\"group\":[\"nope\"]}", -ENOENT,
		      "unknown group 'nope'");
	ctl_add_fails(m, ZT_K_USER, "alice@example.com", NULL, -EEXIST, "already exists");
	ctl_add_fails(m, ZT_K_USER, "not-an-email", NULL, -EINVAL, "invalid email");
	ctl_add_fails(m, ZT_K_RESOURCE, "x", "{\"network\":\"nowhere\",\"address\":\"1.2.3.4\"}",
		      -ENOENT, "unknown network 'nowhere'");
	ctl_add_fails(m, ZT_K_RESOURCE, "x", "{\"network\":\"office\",\"address\":\"1.2.3.4\","
		      "\"tcp\":\"99999\"}", -EINVAL, "99999");
	ctl_add_fails(m, ZT_K_RESOURCE, "x", "{\"network\":\"office\",\"address\":\"nas.home.int\"}",
		      -EEXIST, "already resource 'nas'");
	ctl_add_fails(m, ZT_K_RESOURCE, "bad name", "{\"network\":\"office\",\"address\":\"1.2.3.4\"}",
		      -EINVAL, "invalid");
	ctl_add_fails(m, ZT_K_ACCESS, NULL, "{\"group\":\"eng\",\"resource\":\"nope\"}", -ENOENT,
		      "unknown resource 'nope'");
	ctl_add_fails(m, ZT_K_ACCESS, NULL, "{\"group\":\"eng\",\"resource\":\"nas\"}", -EEXIST,
		      "already exists");
	ctl_add_fails(m, ZT_K_CONNECTOR, "gw", "{}", -EINVAL, "--network");
	ctl_add_fails(m, ZT_K_DEVICE, "d", "{}", -EINVAL, "enrollment");
	ctl_add_fails(m, ZT_K_POLICY, "p", "{\"session_lifetime\":\"soon\"}", -EINVAL,
		      "session lifetime");
	/* In use: refused with the reason; an access rule first, then the resource goes. */
	assert_int_equal(zt_model_rm(m, ZT_K_RESOURCE, "nas", "uid:0", ctl_err, sizeof(ctl_err)),
			 -EBUSY);
	assert_non_null(strstr(ctl_err, "access rule"));
	assert_int_equal(zt_model_rm(m, ZT_K_NETWORK, "office", "uid:0", ctl_err, sizeof(ctl_err)),
			 -EBUSY);
	assert_int_equal(zt_model_rm(m, ZT_K_ACCESS, "eng:nas", "uid:0", ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(zt_model_rm(m, ZT_K_RESOURCE, "nas", "uid:0", ctl_err, sizeof(ctl_err)), 0);
}

static void test_set_and_members(void **state)
{
	struct zt_model *m = *state;
	json_object *a, *out = NULL;

	base(m);
	ctl_add(m, ZT_K_GROUP, "ops", NULL);
	a = ctl_args("{\"tcp\":\"80,443\"}");
	assert_int_equal(zt_model_set(m, ZT_K_RESOURCE, "nas", a, "uid:7", &out, ctl_err,
				      sizeof(ctl_err)), 0);
	json_object_put(a);
	json_object_put(out);
	assert_string_equal(zt_mobj_str(zt_model_find(m, ZT_K_RESOURCE, "nas"), "tcp"), "80,443");
	assert_true(zt_mobj_bool(zt_model_find(m, ZT_K_RESOURCE, "nas"), "icmp"));
	assert_string_equal(zt_model_find(m, ZT_K_RESOURCE, "nas")->actor, "uid:7");
	assert_int_equal(zt_model_member(m, "ops", "alice@example.com", true, "uid:0", ctl_err,
					 sizeof(ctl_err)), 0);
	assert_true(zt_mobj_has(zt_model_find(m, ZT_K_USER, "alice@example.com"), "groups", "ops"));
	assert_int_equal(zt_model_member(m, "ops", "alice@example.com", true, "uid:0", ctl_err,
					 sizeof(ctl_err)), -EEXIST);
	assert_int_equal(zt_model_member(m, "nope", "alice@example.com", true, "uid:0", ctl_err,
					 sizeof(ctl_err)), -ENOENT);
	assert_int_equal(zt_model_rm(m, ZT_K_GROUP, "ops", "uid:0", ctl_err, sizeof(ctl_err)), -EBUSY);
	assert_int_equal(zt_model_member(m, "ops", "alice@example.com", false, "uid:0", ctl_err,
					 sizeof(ctl_err)), 0);
	assert_int_equal(zt_model_rm(m, ZT_K_GROUP, "ops", "uid:0", ctl_err, sizeof(ctl_err)), 0);
}

/* Reopened from the file: the same objects, ids, revision. */
static void test_reopen(void **state)
{
	struct zt_model *m = *state;
	uint64_t rev, id;

	base(m);
	rev = m->rev;
	id = zt_model_find(m, ZT_K_RESOURCE, "nas")->id;
	zt_model_close(m);
	*state = m = ctl_open();
	assert_int_equal(m->rev, rev);
	assert_int_equal(zt_model_find(m, ZT_K_RESOURCE, "nas")->id, id);
	assert_string_equal(zt_mobj_str(zt_model_find(m, ZT_K_RESOURCE, "nas"), "network"), "office");
	assert_true(zt_mobj_has(zt_model_find(m, ZT_K_USER, "alice@example.com"), "groups", "eng"));
	/* New ids never reuse old ones. */
	ctl_add(m, ZT_K_GROUP, "ops", NULL);
	assert_true(zt_model_find(m, ZT_K_GROUP, "ops")->id > id);
}

/* A database error (an audit insert that fails) fails the write and changes nothing. */
static void test_db_error_changes_nothing(void **state)
{
	struct zt_model *m = *state;
	json_object *a = ctl_args(NULL), *out = NULL;
	uint64_t rev;

	base(m);
	rev = m->rev;
	ctl_audit_fails(m, true);
	assert_int_equal(zt_model_add(m, ZT_K_GROUP, "ops", a, "uid:0", &out, ctl_err,
				      sizeof(ctl_err)), -EIO);
	assert_non_null(strstr(ctl_err, "disk on fire"));
	assert_null(zt_model_find(m, ZT_K_GROUP, "ops"));
	assert_int_equal(m->rev, rev);
	assert_int_equal(zt_model_rm(m, ZT_K_ACCESS, "eng:nas", "uid:0", ctl_err, sizeof(ctl_err)),
			 -EIO);
	assert_non_null(zt_model_find(m, ZT_K_ACCESS, "eng:nas"));
	json_object_put(a);
	zt_model_close(m);
	*state = m = ctl_open();
	assert_null(zt_model_find(m, ZT_K_GROUP, "ops"));
	assert_non_null(zt_model_find(m, ZT_K_ACCESS, "eng:nas"));
	assert_int_equal(m->rev, rev);
}

static void test_tokens(void **state)
{
	struct zt_model *m = *state;
	char hash[ZT_TOKEN_HASH_HEX_LEN + 1], hash2[ZT_TOKEN_HASH_HEX_LEN + 1];
	struct zt_node_ident id, id2;
	uint8_t pub[ZT_KEY_LEN] = { 9, 0x55 };

	base(m);
	ctl_add(m, ZT_K_CONNECTOR, "gw", "{\"network\":\"office\"}");
	assert_int_equal(ctl_token(m, ZT_K_USER, "nobody@example.com", 3600, hash), -ENOENT);
	/* A device token: works once. */
	assert_int_equal(ctl_token(m, ZT_K_USER, "alice@example.com", 3600, hash), 0);
	assert_int_equal(ctl_enroll(m, hash, 9, "laptop", &id), 0);
	assert_int_equal(id.kind, ZT_NODE_DEVICE);
	assert_string_equal(id.name, "alice-laptop");
	assert_string_equal(zt_mobj_str(zt_model_find_id(m, ZT_K_DEVICE, id.id), "address"),
			    "100.64.0.2");
	assert_int_equal(ctl_enroll(m, hash, 10, "other", &id2), -EACCES);
	assert_non_null(strstr(ctl_err, "already used"));
	/* The key alone finds it from now on. */
	assert_int_equal(zt_model_lookup_key(m, pub, &id2), 0);
	assert_int_equal(id2.id, id.id);
	/* Expired. */
	assert_int_equal(ctl_token(m, ZT_K_CONNECTOR, "gw", 60, hash2), 0);
	ctl_time += 61;
	assert_int_equal(ctl_enroll(m, hash2, 11, "gw", &id2), -EACCES);
	assert_non_null(strstr(ctl_err, "expired"));
	/* Unknown. */
	memset(hash2, 'a', ZT_TOKEN_HASH_HEX_LEN);
	assert_int_equal(ctl_enroll(m, hash2, 11, "gw", &id2), -EACCES);
	assert_non_null(strstr(ctl_err, "unknown"));
	/* A connector token used by a client, a device token by a connector: refused, kept. */
	assert_int_equal(ctl_token(m, ZT_K_CONNECTOR, "gw", 60, hash2), 0);
	ctl_role = "client";
	assert_int_equal(ctl_enroll(m, hash2, 12, "gw", &id2), -EACCES);
	assert_non_null(strstr(ctl_err, "token is for a connector"));
	assert_int_equal(ctl_token(m, ZT_K_USER, "alice@example.com", 3600, hash), 0);
	ctl_role = "connector";
	assert_int_equal(ctl_enroll(m, hash, 12, "laptop", &id2), -EACCES);
	assert_non_null(strstr(ctl_err, "token is for a user"));
	ctl_role = NULL;
	assert_string_equal(zt_mobj_str(zt_model_find(m, ZT_K_CONNECTOR, "gw"), "pubkey"), "");
	/* A connector token binds the connector's key; a second device gets the next address. */
	assert_int_equal(ctl_enroll(m, hash2, 12, "gw", &id2), 0);
	assert_int_equal(id2.kind, ZT_NODE_CONNECTOR);
	assert_string_not_equal(zt_mobj_str(zt_model_find(m, ZT_K_CONNECTOR, "gw"), "pubkey"), "");
	assert_int_equal(ctl_token(m, ZT_K_USER, "alice@example.com", 3600, hash), 0);
	assert_int_equal(ctl_enroll(m, hash, 13, "laptop", &id2), 0);
	assert_string_equal(id2.name, "alice-laptop-2");
	assert_string_equal(zt_mobj_str(zt_model_find_id(m, ZT_K_DEVICE, id2.id), "address"),
			    "100.64.0.3");
	/* Removing the user revokes its devices: the key is unknown again. */
	assert_int_equal(zt_model_rm(m, ZT_K_USER, "alice@example.com", "uid:0", ctl_err,
				     sizeof(ctl_err)), 0);
	assert_int_equal(zt_model_lookup_key(m, pub, &id2), -ENOENT);
	assert_int_equal(m->n[ZT_K_DEVICE], 0);
}

/* Tokens refused and used are in the audit trail. */
static void test_token_audit(void **state)
{
	struct zt_model *m = *state;
	char hash[ZT_TOKEN_HASH_HEX_LEN + 1];
	struct zt_node_ident id;
	json_object *recs;
	const char *text;

	base(m);
	assert_int_equal(ctl_token(m, ZT_K_USER, "alice@example.com", 3600, hash), 0);
	assert_int_equal(ctl_enroll(m, hash, 9, "laptop", &id), 0);
	assert_int_equal(ctl_enroll(m, hash, 10, "laptop", &id), -EACCES);
	recs = zt_audit_list(m, 0, ctl_err, sizeof(ctl_err));
	assert_non_null(recs);
	text = json_object_to_json_string(recs);
	assert_non_null(strstr(text, "token.create"));
	assert_non_null(strstr(text, "token.used"));
	assert_non_null(strstr(text, "token.refused"));
	json_object_put(recs);
}

static long long token_rows(struct zt_model *m)
{
	struct zt_db_rows *r;
	long long n;

	if (zt_db_query(m->db, "SELECT COUNT(*) FROM tokens", 0, NULL, &r, ctl_err,
			sizeof(ctl_err)))
		fail_msg("tokens: %s", ctl_err);
	n = strtoll(zt_db_cell(r, 0, 0), NULL, 10);
	zt_db_rows_free(r);
	return n;
}

/*
 * Tokens used or expired more than 7 days ago go, at most once an hour,
 * audited with the count; unused unexpired ones and recent ones stay.
 */
static void test_tokens_pruned(void **state)
{
	struct zt_model *m = *state;
	char used_old[ZT_TOKEN_HASH_HEX_LEN + 1], used_new[ZT_TOKEN_HASH_HEX_LEN + 1];
	char exp_old[ZT_TOKEN_HASH_HEX_LEN + 1], exp_new[ZT_TOKEN_HASH_HEX_LEN + 1];
	char live[ZT_TOKEN_HASH_HEX_LEN + 1];
	const int64_t day = 86400, t0 = ctl_time;
	struct zt_node_ident id;
	json_object *recs, *last = NULL;
	uint64_t count, bad;
	int64_t next;

	base(m);
	assert_int_equal(ctl_token(m, ZT_K_USER, "alice@example.com", 3600, used_old), 0);
	assert_int_equal(ctl_token(m, ZT_K_USER, "alice@example.com", 3 * day, used_new), 0);
	assert_int_equal(ctl_token(m, ZT_K_USER, "alice@example.com", 3600, exp_old), 0);
	assert_int_equal(ctl_token(m, ZT_K_USER, "alice@example.com", 3 * day, exp_new), 0);
	assert_int_equal(ctl_token(m, ZT_K_USER, "alice@example.com", 30 * day, live), 0);
	assert_int_equal(ctl_enroll(m, used_old, 9, "laptop", &id), 0);	/* used at t0 */
	ctl_time = t0 + 2 * day;
	assert_int_equal(ctl_enroll(m, used_new, 10, "desktop", &id), 0);
	/* Nothing old enough yet: nothing deleted, no record. */
	assert_int_equal(zt_model_prune_tokens(m, &next, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(next, ctl_time + ZT_TOKENS_PRUNE_EVERY_S);
	assert_int_equal(token_rows(m), 5);
	/* 7 days and 2 hours on: the one used at t0 and the one expired at t0 + 1h go. */
	ctl_time = t0 + 7 * day + 7200;
	assert_int_equal(zt_model_prune_tokens(m, &next, ctl_err, sizeof(ctl_err)), 2);
	assert_int_equal(token_rows(m), 3);
	assert_int_equal(ctl_enroll(m, used_old, 11, "again", &id), -EACCES);
	assert_non_null(strstr(ctl_err, "unknown token"));
	assert_int_equal(ctl_enroll(m, used_new, 11, "again", &id), -EACCES);
	assert_non_null(strstr(ctl_err, "already used"));
	recs = zt_audit_list(m, 0, ctl_err, sizeof(ctl_err));
	for (size_t i = json_object_array_length(recs); i-- > 0;) {
		last = json_object_array_get_idx(recs, i);
		if (!strcmp(json_object_get_string(json_object_object_get(last, "action")),
			    "token.prune"))
			break;
	}
	assert_string_equal(json_object_get_string(json_object_object_get(last, "action")),
			    "token.prune");
	assert_int_equal(json_object_get_int64(json_object_object_get(
		json_object_object_get(last, "after"), "deleted")), 2);
	/* The trail still has the deleted tokens' records: 5 made, 2 used. */
	count = 0;
	for (size_t i = 0; i < json_object_array_length(recs); i++) {
		const char *a = json_object_get_string(json_object_object_get(
			json_object_array_get_idx(recs, i), "action"));

		count += !strcmp(a, "token.create") ? 10 : !strcmp(a, "token.used");
	}
	assert_int_equal(count, 52);
	json_object_put(recs);
	assert_int_equal(ctl_enroll(m, exp_old, 11, "again", &id), -EACCES);
	assert_non_null(strstr(ctl_err, "unknown token"));
	assert_int_equal(ctl_enroll(m, exp_new, 11, "again", &id), -EACCES);
	assert_non_null(strstr(ctl_err, "expired"));
	/* Not again within the hour, even with more to delete. */
	ctl_time = t0 + 10 * day + 1;
	m->tokens_pruned = ctl_time - 60;
	assert_int_equal(zt_model_prune_tokens(m, &next, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(next, ctl_time - 60 + ZT_TOKENS_PRUNE_EVERY_S);
	assert_int_equal(token_rows(m), 3);
	/* An hour later: used at t0 + 2d and expired at t0 + 3d go; the live one stays. */
	ctl_time += 3600;
	assert_int_equal(zt_model_prune_tokens(m, &next, ctl_err, sizeof(ctl_err)), 2);
	assert_int_equal(token_rows(m), 1);
	assert_int_equal(ctl_enroll(m, live, 12, "phone", &id), 0);
	assert_int_equal(zt_audit_verify(m, &count, &bad, ctl_err, sizeof(ctl_err)), 0);
}

static void test_migration(void **state)
{
	struct zt_model *m = *state;
	struct zt_db *db;
	char path[128], v1[128];
	int version;

	(void)m;
	if (ctl_pg())	/* a second database file */
		skip();
	snprintf(v1, sizeof(v1), "%s/v1.db", ctl_dir);
	assert_int_equal(zt_db_open(v1, NULL, &db, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(zt_schema_migrate(db, 1, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(zt_schema_version(db, &version, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(version, 1);
	assert_int_equal(zt_db_script(db, "INSERT INTO objects VALUES (5, 'group', 'old', '{}', 1, 1,"
				      " 'uid:0'); UPDATE meta SET value = '3' WHERE key = 'rev'",
				      ctl_err, sizeof(ctl_err)), 0);
	zt_db_close(db);
	/* Opening the model migrates it to the current version and keeps the data. */
	snprintf(path, sizeof(path), "%s", v1);
	assert_int_equal(zt_model_open(&m, path, NULL, ctl_pub, ctl_err, sizeof(ctl_err)), 0);
	assert_non_null(zt_model_find(m, ZT_K_GROUP, "old"));
	assert_int_equal(m->rev, 3);
	assert_int_equal(zt_schema_version(m->db, &version, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(version, ZT_SCHEMA_VERSION);
	m->now = ctl_now;
	ctl_add(m, ZT_K_GROUP, "new", NULL);	/* v2's audit table is there */
	assert_true(zt_model_find(m, ZT_K_GROUP, "new")->id > 5);
	zt_model_close(m);
	/* A database newer than this build is refused. */
	assert_int_equal(zt_db_open(v1, NULL, &db, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(zt_db_script(db, "INSERT INTO schema_version VALUES (99)", ctl_err,
				      sizeof(ctl_err)), 0);
	zt_db_close(db);
	assert_int_equal(zt_model_open(&m, v1, NULL, ctl_pub, ctl_err, sizeof(ctl_err)), -EPROTO);
	assert_non_null(strstr(ctl_err, "newer"));
}

/* API keys: stored as hashes, roles, expiry, removal, every step audited. */
static void test_api_keys(void **state)
{
	struct zt_model *m = *state;
	char text[ZT_APIKEY_TEXT_LEN + 1], hash[ZT_TOKEN_HASH_HEX_LEN + 1], name[64], *all;
	json_object *obj = NULL, *list, *audit;
	struct zt_token t;
	bool ro = false;
	uint64_t rev = m->rev;

	assert_int_equal(zt_model_apikey_add(m, "ci", "admin", 0, "uid:0", text, sizeof(text), &obj,
					     ctl_err, sizeof(ctl_err)), -EINVAL);
	assert_non_null(strstr(ctl_err, "--role read-only or --role read-write"));
	assert_int_equal(zt_model_apikey_add(m, "c i", "read-only", 0, "uid:0", text, sizeof(text),
					     &obj, ctl_err, sizeof(ctl_err)), -EINVAL);
	assert_int_equal(zt_model_apikey_add(m, "ci", "read-write", 3600, "uid:0", text, sizeof(text),
					     &obj, ctl_err, sizeof(ctl_err)), 0);
	assert_string_equal(json_object_get_string(json_object_object_get(obj, "role")), "read-write");
	assert_false(json_object_object_get_ex(obj, "hash", NULL));
	json_object_put(obj);
	assert_int_equal(zt_model_apikey_add(m, "ci", "read-only", 0, "uid:0", text, sizeof(text),
					     &obj, ctl_err, sizeof(ctl_err)), -EEXIST);
	assert_int_equal(m->rev, rev);	/* keys are no model objects: no revision, no views */
	/* The key's secret checks; the database holds only its hash. */
	assert_int_equal(zt_apikey_decode(text, &t, ctl_err, sizeof(ctl_err)), 0);
	assert_memory_equal(t.controller_pub, ctl_pub, ZT_KEY_LEN);
	zt_token_secret_hash(t.secret, hash);
	assert_int_equal(zt_model_apikey_check(m, hash, name, sizeof(name), &ro, ctl_err,
					       sizeof(ctl_err)), 0);
	assert_string_equal(name, "ci");
	assert_false(ro);
	list = zt_model_apikey_list(m, NULL, ctl_err, sizeof(ctl_err));
	all = strdup(json_object_to_json_string(list));
	assert_null(strstr(all, hash));
	free(all);
	json_object_put(list);
	/* A wrong key, an expired one, a removed one: refused. */
	hash[0] = hash[0] == 'a' ? 'b' : 'a';
	assert_int_equal(zt_model_apikey_check(m, hash, name, sizeof(name), &ro, ctl_err,
					       sizeof(ctl_err)), -EACCES);
	zt_token_secret_hash(t.secret, hash);
	ctl_time += 3601;
	assert_int_equal(zt_model_apikey_check(m, hash, name, sizeof(name), &ro, ctl_err,
					       sizeof(ctl_err)), -EACCES);
	assert_non_null(strstr(ctl_err, "expired"));
	assert_int_equal(zt_model_apikey_add(m, "ro", "read-only", 0, "uid:0", text, sizeof(text),
					     &obj, ctl_err, sizeof(ctl_err)), 0);
	json_object_put(obj);
	assert_int_equal(zt_apikey_decode(text, &t, ctl_err, sizeof(ctl_err)), 0);
	zt_token_secret_hash(t.secret, hash);
	assert_int_equal(zt_model_apikey_check(m, hash, name, sizeof(name), &ro, ctl_err,
					       sizeof(ctl_err)), 0);
	assert_true(ro);
	assert_int_equal(zt_model_apikey_rm(m, "ro", "uid:0", ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(zt_model_apikey_rm(m, "ro", "uid:0", ctl_err, sizeof(ctl_err)), -ENOENT);
	assert_int_equal(zt_model_apikey_check(m, hash, name, sizeof(name), &ro, ctl_err,
					       sizeof(ctl_err)), -EACCES);
	zt_token_wipe(&t);
	audit = zt_audit_list(m, 0, ctl_err, sizeof(ctl_err));
	all = strdup(json_object_to_json_string(audit));
	assert_non_null(strstr(all, "api-key.create"));
	assert_non_null(strstr(all, "api-key.delete"));
	assert_non_null(strstr(all, "api-key.refused"));
	free(all);
	json_object_put(audit);
}

/* export -> apply is no change; a whole document applies at once or not at all. */
static void test_apply(void **state)
{
	struct zt_model *m = *state;
	char hash[ZT_TOKEN_HASH_HEX_LEN + 1];
	struct zt_node_ident id;
	json_object *doc, *changes = NULL, *users;
	uint64_t rev;

	base(m);
	assert_int_equal(ctl_token(m, ZT_K_USER, "alice@example.com", 3600, hash), 0);
	assert_int_equal(ctl_enroll(m, hash, 9, "laptop", &id), 0);
	doc = zt_model_export(m);
	rev = m->rev;
	assert_int_equal(zt_model_apply(m, doc, false, "uid:0", &changes, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(json_object_array_length(changes), 0);
	assert_int_equal(m->rev, rev);
	json_object_put(changes);
	/* A failing test in the document: refused, nothing changed. */
	json_object_object_add(doc, "tests", ctl_args("[{\"user\":\"alice@example.com\","
						       "\"deny\":[\"nas\"]}]"));
	assert_int_equal(zt_model_apply(m, doc, false, "uid:0", &changes, ctl_err, sizeof(ctl_err)),
			 -EINVAL);
	assert_non_null(strstr(ctl_err, "would reach nas"));
	assert_int_equal(m->rev, rev);
	/* Without alice: her device goes with her, in one revision. */
	json_object_object_del(doc, "tests");
	users = json_object_new_array();
	json_object_object_add(doc, "user", users);
	json_object_object_add(doc, "access", json_object_new_array());
	assert_int_equal(zt_model_apply(m, doc, true, "uid:0", &changes, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(json_object_array_length(changes), 3);
	assert_int_equal(m->rev, rev);
	json_object_put(changes);
	assert_int_equal(zt_model_apply(m, doc, false, "uid:0", &changes, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(m->rev, rev + 1);
	assert_null(zt_model_find(m, ZT_K_USER, "alice@example.com"));
	assert_int_equal(m->n[ZT_K_DEVICE], 0);
	json_object_put(changes);
	json_object_put(doc);
}

static void test_placeholders(void **state)
{
	char *q = zt_db_sql_qmarks("SELECT '$1', $2 FROM t WHERE a = $10 AND b = \"$3\"");

	(void)state;
	assert_string_equal(q, "SELECT '$1', ?2 FROM t WHERE a = ?10 AND b = \"$3\"");
	free(q);
	assert_int_equal(zt_parse_duration("24h", &ctl_time), 0);
	assert_int_equal(ctl_time, 86400);
	assert_int_equal(zt_parse_duration("soon", &ctl_time), -EINVAL);
	ctl_time = 1800000000;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_validation, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_set_and_members, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_reopen, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_db_error_changes_nothing, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_tokens, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_token_audit, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_tokens_pruned, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_api_keys, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_migration, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_apply, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_placeholders, ctl_setup, ctl_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
