// SPDX-License-Identifier: GPL-2.0-only
/*
 * Enrollment tokens on the controller's side (model.h): a fresh token
 * (controlplane/token.h) for a connector, a user or a service account,
 * stored only as the hash of its secret with its kind, target and expiry,
 * audited (never the secret), in one transaction; and the table pruned of
 * tokens used or expired more than ZT_TOKENS_KEEP_S ago. Called by the
 * controller role (`admin connector add`, `admin device token`, its expiry
 * timer for the pruning); enrollment checks them in devices.c.
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
};

struct token_rows {
	const char *kind, *target;
	char created[24], expires[24], key_ttl[24];
	struct token_row *rows;
	size_t n;
};

static int insert_tokens(struct zt_model *m, void *arg, char *err, size_t errlen)
{
	struct token_rows *t = arg;
	int ret = 0;

	for (size_t i = 0; i < t->n && !ret; i++) {
		const char *p[] = { t->rows[i].hash, t->kind, t->target, t->created, t->expires,
				    t->key_ttl };

		ret = zt_db_exec(m->db, "INSERT INTO tokens (hash, kind, target, created, expires,"
				 " key_ttl) VALUES ($1, $2, $3, $4, $5, $6)", 6, p, err, errlen);
	}
	return ret;
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

/* One audit record per token: its kind, expiry and hash prefix, never the secret. */
static void audit_tokens(struct zt_mtx *tx, const struct token_rows *t, enum zt_kind kind,
			 const char *name, int64_t expires, int64_t key_ttl)
{
	for (size_t i = 0; i < t->n; i++) {
		json_object *after = json_object_new_object();

		json_object_object_add(after, "for", json_object_new_string(t->kind));
		json_object_object_add(after, "expires", json_object_new_int64(expires));
		if (key_ttl)
			json_object_object_add(after, "key_ttl", json_object_new_int64(key_ttl));
		/* The first 8 hex digits of the hash name the token in the trail. */
		json_object_object_add(after, "hash_prefix",
				       json_object_new_string_len(t->rows[i].hash, 8));
		zt_mtx_audit(tx, "token.create", zt_kind_name(kind), name, NULL, after);
	}
}

int zt_model_tokens(struct zt_model *m, enum zt_kind kind, const char *name, int64_t ttl_s,
		    int64_t key_ttl_s, const char *actor, size_t count,
		    char (*texts)[ZT_TOKEN_TEXT_LEN + 1], int64_t *expires, char *err, size_t errlen)
{
	struct token_rows rows = { .kind = zt_kind_name(kind), .target = name, .n = count };
	struct zt_token *t = NULL;
	struct zt_mtx tx;
	int ret = check_target(m, kind, name, err, errlen);

	if (ret)
		return ret;
	if (ttl_s <= 0 || key_ttl_s < 0 || !count || count > ZT_TOKENS_MAX) {
		snprintf(err, errlen, "invalid token request");
		return -EINVAL;
	}
	/* A user's device answers to its user's sessions; a connector is no one's key. */
	if (key_ttl_s && kind != ZT_K_SA) {
		snprintf(err, errlen, "--key-expires is for service accounts' keys");
		return -EINVAL;
	}
	rows.rows = calloc(count, sizeof(*rows.rows));
	t = calloc(count, sizeof(*t));
	if (!rows.rows || !t) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		if (zt_token_new(&t[i], m->controller_pub)) {
			snprintf(err, errlen, "no randomness for a token");
			ret = -EIO;
			goto out;
		}
		zt_token_secret_hash(t[i].secret, rows.rows[i].hash);
	}
	*expires = m->now() + ttl_s;
	snprintf(rows.created, sizeof(rows.created), "%" PRId64, m->now());
	snprintf(rows.expires, sizeof(rows.expires), "%" PRId64, *expires);
	snprintf(rows.key_ttl, sizeof(rows.key_ttl), "%" PRId64, key_ttl_s);
	zt_mtx_init(&tx, actor);
	tx.no_rev = true;
	tx.sql = insert_tokens;
	tx.sql_arg = &rows;
	audit_tokens(&tx, &rows, kind, name, *expires, key_ttl_s);
	ret = zt_model_commit(m, &tx, err, errlen);
	zt_mtx_free(&tx);
	for (size_t i = 0; !ret && i < count; i++)
		zt_token_encode(&t[i], texts[i]);
out:
	for (size_t i = 0; t && i < count; i++)
		zt_token_wipe(&t[i]);
	free(t);
	free(rows.rows);
	return ret;
}

int zt_model_token(struct zt_model *m, enum zt_kind kind, const char *name, int64_t ttl_s,
		   int64_t key_ttl_s, const char *actor, char *text, size_t textlen,
		   int64_t *expires, char *err, size_t errlen)
{
	char one[1][ZT_TOKEN_TEXT_LEN + 1];
	int ret;

	if (textlen < ZT_TOKEN_TEXT_LEN + 1) {
		snprintf(err, errlen, "invalid token request");
		return -EINVAL;
	}
	ret = zt_model_tokens(m, kind, name, ttl_s, key_ttl_s, actor, 1, one, expires, err,
			      errlen);
	if (!ret)
		memcpy(text, one[0], ZT_TOKEN_TEXT_LEN + 1);
	return ret;
}

/* Tokens used, or expired unused, before CUTOFF: what the pruning deletes. */
#define PRUNABLE " FROM tokens WHERE (used_at IS NOT NULL AND used_at < $1)" \
		 " OR (used_at IS NULL AND expires < $1)"

static int delete_tokens(struct zt_model *m, void *arg, char *err, size_t errlen)
{
	const char *p[] = { arg };

	return zt_db_exec(m->db, "DELETE" PRUNABLE, 1, p, err, errlen);
}

int zt_model_prune_tokens(struct zt_model *m, int64_t *next, char *err, size_t errlen)
{
	int64_t now = m->now(), n;
	char cutoff[24];
	const char *p[] = { cutoff };
	struct zt_db_rows *r;
	json_object *after;
	struct zt_mtx tx;
	int ret;

	if (m->tokens_pruned && now < m->tokens_pruned + ZT_TOKENS_PRUNE_EVERY_S) {
		*next = m->tokens_pruned + ZT_TOKENS_PRUNE_EVERY_S;
		return 0;
	}
	*next = now + ZT_TOKENS_PRUNE_EVERY_S;
	snprintf(cutoff, sizeof(cutoff), "%" PRId64, now - ZT_TOKENS_KEEP_S);
	ret = zt_db_query(m->db, "SELECT COUNT(*)" PRUNABLE, 1, p, &r, err, errlen);
	if (ret)
		return ret;
	n = strtoll(zt_db_cell(r, 0, 0), NULL, 10);
	zt_db_rows_free(r);
	m->tokens_pruned = now;
	if (!n)
		return 0;
	/* The trail keeps each token's create and use records: only the count goes in. */
	after = json_object_new_object();
	json_object_object_add(after, "deleted", json_object_new_int64(n));
	json_object_object_add(after, "used_or_expired_before",
			       json_object_new_int64(now - ZT_TOKENS_KEEP_S));
	zt_mtx_init(&tx, "controller");
	tx.no_rev = true;
	tx.sql = delete_tokens;
	tx.sql_arg = cutoff;
	zt_mtx_audit(&tx, "token.prune", "token", NULL, NULL, after);
	ret = zt_model_commit(m, &tx, err, errlen);
	zt_mtx_free(&tx);
	if (ret)
		m->tokens_pruned = 0;	/* again at the next call */
	return ret ? ret : (int)(n > INT32_MAX ? INT32_MAX : n);
}
