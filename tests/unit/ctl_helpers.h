/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the controller's unit tests (test_controller_*.c): a
 * model in a fresh SQLite file, a fake clock, admin calls that must work
 * or must fail with a message, and enrollment with a token.
 */
#ifndef ZT_TEST_CTL_HELPERS_H
#define ZT_TEST_CTL_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller/db.h"
#include "controller/model.h"
#include "controlplane/token.h"

static char ctl_dir[64];
static char ctl_err[512];
static int64_t ctl_time = 1800000000;
static const char *ctl_role;	/* the hello's role in ctl_enroll; NULL: the token's */

static __attribute__((unused)) int64_t ctl_now(void)
{
	return ctl_time;
}

static const uint8_t ctl_pub[ZT_KEY_LEN] = { 1, 2, 3 };

static __attribute__((unused)) void ctl_path(char *out, size_t len)
{
	snprintf(out, len, "%s/controller.db", ctl_dir);
}

/* tests/pg.sh sets it: the same tests on PostgreSQL. */
static const char *ctl_pg(void)
{
	return getenv("ZT_TEST_PG_URL");
}

static __attribute__((unused)) struct zt_model *ctl_open(void)
{
	struct zt_model *m = NULL;
	char path[512];

	ctl_path(path, sizeof(path));
	if (ctl_pg())
		snprintf(path, sizeof(path), "%s", ctl_pg());
	if (zt_model_open(&m, path, NULL, ctl_pub, ctl_err, sizeof(ctl_err)))
		fail_msg("open: %s", ctl_err);
	m->now = ctl_now;
	return m;
}

/* A fresh directory and model. */
static __attribute__((unused)) int ctl_setup(void **state)
{
	snprintf(ctl_dir, sizeof(ctl_dir), "/tmp/zt-ctl-XXXXXX");
	if (!mkdtemp(ctl_dir))
		return -1;
	if (ctl_pg()) {	/* an empty database for each test */
		struct zt_db *db;

		if (zt_db_open(ctl_pg(), NULL, &db, ctl_err, sizeof(ctl_err)) ||
		    zt_db_script(db, "DROP SCHEMA public CASCADE; CREATE SCHEMA public", ctl_err,
				 sizeof(ctl_err)))
			fail_msg("postgresql: %s", ctl_err);
		zt_db_close(db);
	}
	*state = ctl_open();
	return 0;
}

static __attribute__((unused)) int ctl_teardown(void **state)
{
	char cmd[128];

	zt_model_close(*state);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", ctl_dir);
	return system(cmd);
}

/* ARGS (JSON text) as a request object. */
static __attribute__((unused)) json_object *ctl_args(const char *args)
{
	json_object *o = json_tokener_parse(args ? args : "{}");

	if (!o)
		fail_msg("bad test JSON: %s", args);
	return o;
}

/* Add KIND NAME with ARGS: must work. */
static __attribute__((unused)) void ctl_add(struct zt_model *m, enum zt_kind k, const char *name, const char *args)
{
	json_object *a = ctl_args(args), *out = NULL;

	if (zt_model_add(m, k, name, a, "uid:0", &out, ctl_err, sizeof(ctl_err)))
		fail_msg("add %s %s: %s", zt_kind_name(k), name ? name : "", ctl_err);
	json_object_put(out);
	json_object_put(a);
}

/* Add KIND NAME with ARGS: must fail with RET and a one-line error holding PART. */
static __attribute__((unused)) void ctl_add_fails(struct zt_model *m, enum zt_kind k, const char *name, const char *args,
			  int ret, const char *part)
{
	json_object *a = ctl_args(args), *out = NULL;
	uint64_t rev = m->rev;
	int got = zt_model_add(m, k, name, a, "uid:0", &out, ctl_err, sizeof(ctl_err));

	json_object_put(a);
	if (got != ret)
		fail_msg("add %s %s: got %d, want %d (%s)", zt_kind_name(k), name ? name : "", got, ret,
			 ctl_err);
	if (!strstr(ctl_err, part) || strchr(ctl_err, '\n'))
		fail_msg("error '%s' does not say '%s'", ctl_err, part);
	if (m->rev != rev)
		fail_msg("a refused add moved the revision");
}

/*
 * Make every INSERT into the audit table fail ("disk on fire"), on either
 * store; ON false takes the failure away again.
 */
static __attribute__((unused)) void ctl_audit_fails(struct zt_model *m, bool on)
{
	const char *sql;

	if (on)
		sql = ctl_pg() ? "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN RAISE"
				 " EXCEPTION 'disk on fire'; END $$ LANGUAGE plpgsql;"
				 " CREATE TRIGGER boom BEFORE INSERT ON audit FOR EACH ROW"
				 " EXECUTE FUNCTION boom()"
			       : "CREATE TRIGGER boom BEFORE INSERT ON audit BEGIN"
				 " SELECT RAISE(ABORT, 'disk on fire'); END";
	else
		sql = ctl_pg() ? "DROP TRIGGER boom ON audit" : "DROP TRIGGER boom";
	if (zt_db_script(m->db, sql, ctl_err, sizeof(ctl_err)))
		fail_msg("audit trigger: %s", ctl_err);
}

/* A token for KIND NAME whose key expires KEY_TTL after enrollment (0: never): its hash. */
static __attribute__((unused)) int ctl_key_token(struct zt_model *m, enum zt_kind k, const char *name,
						 int64_t ttl, int64_t key_ttl,
						 char hash[ZT_TOKEN_HASH_HEX_LEN + 1])
{
	char text[ZT_TOKEN_TEXT_LEN + 1];
	struct zt_token t;
	int64_t exp;
	int ret = zt_model_token(m, k, name, ttl, key_ttl, "uid:0", text, sizeof(text), &exp,
				 ctl_err, sizeof(ctl_err));

	if (ret)
		return ret;
	if (zt_token_decode(text, &t, ctl_err, sizeof(ctl_err)))
		fail_msg("decode: %s", ctl_err);
	zt_token_secret_hash(t.secret, hash);
	return 0;
}

/* A token for KIND NAME valid TTL seconds: its hash (the secret's, as enrollment takes it). */
static __attribute__((unused)) int ctl_token(struct zt_model *m, enum zt_kind k, const char *name, int64_t ttl,
		     char hash[ZT_TOKEN_HASH_HEX_LEN + 1])
{
	return ctl_key_token(m, k, name, ttl, 0, hash);
}

static __attribute__((unused)) int ctl_enroll(struct zt_model *m, const char *hash, uint8_t keybyte, const char *host,
		      struct zt_node_ident *ident)
{
	uint8_t pub[ZT_KEY_LEN] = { keybyte, 0x55 };
	json_object *hello = json_object_new_object();
	const char *p[] = { hash };
	struct zt_db_rows *r = NULL;
	int ret;

	/* The role the token's kind wants (devices.c checks it), unless the test set one. */
	if (!zt_db_query(m->db, "SELECT kind FROM tokens WHERE hash = $1", 1, p, &r, ctl_err,
			 sizeof(ctl_err)) && r->nrows)
		json_object_object_add(hello, "role", json_object_new_string(
			ctl_role ? ctl_role : !strcmp(zt_db_cell(r, 0, 0), "connector") ? "connector"
										: "client"));
	zt_db_rows_free(r);
	json_object_object_add(hello, "hostname", json_object_new_string(host));
	ret = zt_model_enroll(m, hash, pub, hello, ident, ctl_err, sizeof(ctl_err));
	json_object_put(hello);
	return ret;
}

#endif
