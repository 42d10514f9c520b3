// SPDX-License-Identifier: GPL-2.0-only
/*
 * Enrollment tokens on the controller's side (model.h): a fresh token
 * (controlplane/token.h) for a connector, a user or a service account,
 * stored only as the hash of its secret with its kind, target and expiry,
 * audited (never the secret), in one transaction. Called by the controller
 * role (`admin connector add`, `admin device token`); enrollment checks
 * them in devices.c.
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

int zt_parse_duration(const char *s, int64_t *out)
{
	char *end;
	long long v;
	int64_t mult = 1;

	if (!s || !*s)
		return -EINVAL;
	v = strtoll(s, &end, 10);
	if (end == s || v <= 0)
		return -EINVAL;
	switch (*end) {
	case '\0': case 's': break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default: return -EINVAL;
	}
	if (*end && end[1])
		return -EINVAL;
	if (v > (long long)(INT64_MAX / mult / 4))
		return -EINVAL;
	*out = v * mult;
	return 0;
}

struct token_row {
	char hash[ZT_TOKEN_HASH_HEX_LEN + 1];
	const char *kind, *target;
	char created[24], expires[24];
};

static int insert_token(struct zt_model *m, void *arg, char *err, size_t errlen)
{
	struct token_row *t = arg;
	const char *p[] = { t->hash, t->kind, t->target, t->created, t->expires };

	return zt_db_exec(m->db, "INSERT INTO tokens (hash, kind, target, created, expires)"
			  " VALUES ($1, $2, $3, $4, $5)", 5, p, err, errlen);
}

/* What a token of KIND may enroll: a connector, a user or a service account that exists. */
static int check_target(struct zt_model *m, enum zt_kind kind, const char *name, char *err,
			size_t errlen)
{
	const struct zt_mobj *o;

	if (kind != ZT_K_CONNECTOR && kind != ZT_K_USER && kind != ZT_K_SA) {
		snprintf(err, errlen, "tokens enroll connectors, users' devices and service accounts");
		return -EINVAL;
	}
	o = zt_model_find(m, kind, name);
	if (!o) {
		snprintf(err, errlen, "no %s '%s'", zt_kind_name(kind), name ? name : "");
		return -ENOENT;
	}
	if (zt_mobj_bool(o, "disabled")) {
		snprintf(err, errlen, "%s '%s' is disabled", zt_kind_name(kind), name);
		return -EPERM;
	}
	return 0;
}

int zt_model_token(struct zt_model *m, enum zt_kind kind, const char *name, int64_t ttl_s,
		   const char *actor, char *text, size_t textlen, int64_t *expires,
		   char *err, size_t errlen)
{
	struct token_row row = { .kind = zt_kind_name(kind), .target = name };
	json_object *after;
	struct zt_token t;
	struct zt_mtx tx;
	int ret = check_target(m, kind, name, err, errlen);

	if (ret)
		return ret;
	if (textlen < ZT_TOKEN_TEXT_LEN + 1 || ttl_s <= 0) {
		snprintf(err, errlen, "invalid token request");
		return -EINVAL;
	}
	if (zt_token_new(&t, m->controller_pub)) {
		snprintf(err, errlen, "no randomness for a token");
		return -EIO;
	}
	*expires = m->now() + ttl_s;
	zt_token_secret_hash(t.secret, row.hash);
	snprintf(row.created, sizeof(row.created), "%" PRId64, m->now());
	snprintf(row.expires, sizeof(row.expires), "%" PRId64, *expires);
	after = json_object_new_object();
	json_object_object_add(after, "for", json_object_new_string(row.kind));
	json_object_object_add(after, "expires", json_object_new_int64(*expires));
	/* The first 8 hex digits of the hash name the token in the trail, never the secret. */
	json_object_object_add(after, "hash_prefix", json_object_new_string_len(row.hash, 8));
	zt_mtx_init(&tx, actor);
	tx.no_rev = true;
	tx.sql = insert_token;
	tx.sql_arg = &row;
	zt_mtx_audit(&tx, "token.create", zt_kind_name(kind), name, NULL, after);
	ret = zt_model_commit(m, &tx, err, errlen);
	zt_mtx_free(&tx);
	if (!ret)
		zt_token_encode(&t, text);
	zt_token_wipe(&t);
	return ret;
}
