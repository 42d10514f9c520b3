// SPDX-License-Identifier: GPL-2.0-only
/*
 * Admin API keys (model.h): `ztgate admin api-key add NAME --role
 * read-only|read-write [--expires D]` makes one, printed once; the
 * database keeps only the SHA-256 of its secret (table api_keys, schema
 * v3) with its role and expiry. Every creation, removal and refused use is
 * audited, in the same transaction as the write. The node server checks a
 * remote admin's key here (zt_model_apikey_check); the controller role
 * runs the admin commands it may run (roles/controller_cmds.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/db.h"
#include "controller/internal.h"
#include "controller/model.h"
#include "controlplane/token.h"

struct key_row {
	const char *name, *role;
	char hash[ZT_TOKEN_HASH_HEX_LEN + 1];
	char created[24], expires[24];
	const char *actor;
};

static int insert_key(struct zt_model *m, void *arg, char *err, size_t errlen)
{
	struct key_row *k = arg;
	const char *p[] = { k->name, k->hash, k->role, k->created, k->expires, k->actor };

	return zt_db_exec(m->db, "INSERT INTO api_keys (name, hash, role, created, expires, actor)"
			  " VALUES ($1, $2, $3, $4, $5, $6)", 6, p, err, errlen);
}

static int delete_key(struct zt_model *m, void *arg, char *err, size_t errlen)
{
	const char *p[] = { arg };

	return zt_db_exec(m->db, "DELETE FROM api_keys WHERE name = $1", 1, p, err, errlen);
}

/* Row R of "name, role, created, expires, actor" as the admin API shows it. */
static json_object *key_json(const struct zt_db_rows *r, size_t row)
{
	json_object *o = json_object_new_object();
	int64_t exp = strtoll(zt_db_cell(r, row, 3), NULL, 10);

	json_object_object_add(o, "name", json_object_new_string(zt_db_cell(r, row, 0)));
	json_object_object_add(o, "role", json_object_new_string(zt_db_cell(r, row, 1)));
	json_object_object_add(o, "created", json_object_new_int64(strtoll(zt_db_cell(r, row, 2),
									   NULL, 10)));
	json_object_object_add(o, "expires", exp ? json_object_new_int64(exp) : NULL);
	json_object_object_add(o, "actor", json_object_new_string(zt_db_cell(r, row, 4)));
	return o;
}

#define KEY_COLUMNS	"SELECT name, role, created, expires, actor FROM api_keys"

json_object *zt_model_apikey_list(struct zt_model *m, const char *name, char *err, size_t errlen)
{
	const char *p[] = { name };
	struct zt_db_rows *r;
	json_object *arr;

	if (zt_db_query(m->db, name ? KEY_COLUMNS " WHERE name = $1" : KEY_COLUMNS " ORDER BY name",
			name ? 1 : 0, p, &r, err, errlen))
		return NULL;
	arr = json_object_new_array();
	for (size_t i = 0; i < r->nrows; i++)
		json_object_array_add(arr, key_json(r, i));
	zt_db_rows_free(r);
	return arr;
}

/* Does the key NAME exist? 1, 0, or -errno with ERR. */
static int key_exists(struct zt_model *m, const char *name, char *err, size_t errlen)
{
	json_object *arr = zt_model_apikey_list(m, name, err, errlen);
	int n;

	if (!arr)
		return -EIO;
	n = json_object_array_length(arr) > 0;
	json_object_put(arr);
	return n;
}

static bool role_ok(const char *role)
{
	return role && (!strcmp(role, "read-only") || !strcmp(role, "read-write"));
}

int zt_model_apikey_add(struct zt_model *m, const char *name, const char *role, int64_t ttl_s,
			const char *actor, char *text, size_t textlen, json_object **out,
			char *err, size_t errlen)
{
	struct key_row row = { .name = name, .role = role, .actor = actor };
	json_object *after;
	struct zt_token t;
	struct zt_mtx tx;
	int ret = zt_check_name("API key", name ? name : "", err, errlen);

	if (ret)
		return ret;
	if (!role_ok(role)) {
		snprintf(err, errlen, "API key needs --role read-only or --role read-write");
		return -EINVAL;
	}
	if (textlen < ZT_APIKEY_TEXT_LEN + 1 || ttl_s < 0) {
		snprintf(err, errlen, "invalid API key request");
		return -EINVAL;
	}
	ret = key_exists(m, name, err, errlen);
	if (ret > 0) {
		snprintf(err, errlen, "API key '%s' exists", name);
		ret = -EEXIST;
	}
	if (ret)
		return ret;
	if (zt_token_new(&t, m->controller_pub)) {
		snprintf(err, errlen, "no randomness for an API key");
		return -EIO;
	}
	zt_token_secret_hash(t.secret, row.hash);
	snprintf(row.created, sizeof(row.created), "%" PRId64, m->now());
	snprintf(row.expires, sizeof(row.expires), "%" PRId64, ttl_s ? m->now() + ttl_s : 0);
	after = json_object_new_object();
	json_object_object_add(after, "role", json_object_new_string(role));
	json_object_object_add(after, "expires", ttl_s ? json_object_new_int64(m->now() + ttl_s)
						       : NULL);
	json_object_object_add(after, "hash_prefix", json_object_new_string_len(row.hash, 8));
	zt_mtx_init(&tx, actor);
	tx.no_rev = true;
	tx.sql = insert_key;
	tx.sql_arg = &row;
	zt_mtx_audit(&tx, "api-key.create", "api-key", name, NULL, after);
	ret = zt_model_commit(m, &tx, err, errlen);
	zt_mtx_free(&tx);
	if (!ret) {
		zt_apikey_encode(&t, text);
		*out = zt_model_apikey_list(m, name, err, errlen);
		if (*out) {
			json_object *o = json_object_get(json_object_array_get_idx(*out, 0));

			json_object_put(*out);
			*out = o;
		}
	}
	zt_token_wipe(&t);
	return ret;
}

int zt_model_apikey_rm(struct zt_model *m, const char *name, const char *actor, char *err,
		       size_t errlen)
{
	json_object *before;
	struct zt_mtx tx;
	int ret;

	before = name ? zt_model_apikey_list(m, name, err, errlen) : NULL;
	if (name && !before)
		return -EIO;
	if (!before || !json_object_array_length(before)) {
		json_object_put(before);
		snprintf(err, errlen, "no API key '%s'", name ? name : "");
		return -ENOENT;
	}
	zt_mtx_init(&tx, actor);
	tx.no_rev = true;
	tx.sql = delete_key;
	tx.sql_arg = (void *)name;
	zt_mtx_audit(&tx, "api-key.delete", "api-key", name,
		     json_object_get(json_object_array_get_idx(before, 0)), NULL);
	json_object_put(before);
	ret = zt_model_commit(m, &tx, err, errlen);
	zt_mtx_free(&tx);
	return ret;
}

/* A refused key, audited (the hash's first 8 digits name it, never the secret). */
static int refuse(struct zt_model *m, const char *hash, const char *why, char *err, size_t errlen)
{
	json_object *d = json_object_new_object();

	snprintf(err, errlen, "%s", why);
	json_object_object_add(d, "reason", json_object_new_string(why));
	json_object_object_add(d, "hash_prefix", json_object_new_string_len(hash, 8));
	zt_model_audit_event(m, "node", "api-key.refused", "api-key", NULL, d);
	return -EACCES;
}

int zt_model_apikey_check(struct zt_model *m, const char *hash, char *name, size_t namelen,
			  bool *read_only, char *err, size_t errlen)
{
	const char *p[] = { hash };
	struct zt_db_rows *r;
	int64_t exp;
	int ret;

	ret = zt_db_query(m->db, "SELECT name, role, expires FROM api_keys WHERE hash = $1", 1, p,
			  &r, err, errlen);
	if (ret)
		return ret;
	if (!r->nrows) {
		zt_db_rows_free(r);
		return refuse(m, hash, "unknown API key", err, errlen);
	}
	exp = strtoll(zt_db_cell(r, 0, 2), NULL, 10);
	snprintf(name, namelen, "%s", zt_db_cell(r, 0, 0));
	*read_only = strcmp(zt_db_cell(r, 0, 1), "read-write") != 0;
	zt_db_rows_free(r);
	if (exp && exp <= m->now()) {
		char why[160];

		snprintf(why, sizeof(why), "API key '%s' expired", name);
		return refuse(m, hash, why, err, errlen);
	}
	return 0;
}
