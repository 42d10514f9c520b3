// SPDX-License-Identifier: GPL-2.0-only
/*
 * The controller's audit trail, hash-chained (model.h): every record holds
 * the SHA-256 of the previous record's canonical bytes (prev_hash) and its
 * own (hash), so an edited record breaks its own hash and a deleted one
 * breaks the sequence and the next record's prev_hash; meta.audit_head
 * (written in the same transaction) names the last seq, so a deleted tail
 * shows too. Canonical bytes: the JSON array
 *   [seq, time, actor, action, kind, name, before, after, prev_hash]
 * with before/after as the stored JSON text (or null), printed plain.
 *
 * Node connect and disconnect records are queued (zt_model_audit_queue)
 * and written together by the next transaction, 16 rows per INSERT: 10,000
 * nodes leaving at once are one transaction, not 10,000. Each keeps the
 * time it was queued and its place in the chain; any commit writes the
 * queue before its own records, and the controller role flushes it
 * ZT_AUDIT_FLUSH_MS after the first one, so a crash loses at most that
 * window's records.
 * Called by commit.c (records in a write's transaction), devices.c and
 * nodes.c (events), the controller role (`admin audit [--verify]`, the
 * flush timer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "controller/db.h"
#include "controller/internal.h"
#include "controller/model.h"
#include "lib/log.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define AUDIT_COLS "seq, time, actor, action, kind, name, before_json, after_json, prev_hash, hash"

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

/* The record's hash from its fields (all text as stored; NULLs as null). */
static void record_hash(const char *const f[9], char out[65])
{
	json_object *arr = json_object_new_array();
	uint8_t md[SHA256_DIGEST_LENGTH];
	const char *text;

	json_object_array_add(arr, json_object_new_int64(strtoll(f[0], NULL, 10)));
	json_object_array_add(arr, json_object_new_int64(strtoll(f[1], NULL, 10)));
	for (int i = 2; i < 9; i++)
		json_object_array_add(arr, str_or_null(f[i]));
	text = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
						   JSON_C_TO_STRING_NOSLASHESCAPE);
	SHA256((const uint8_t *)text, strlen(text), md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	json_object_put(arr);
}

static const char *plain(json_object *o)
{
	return o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						     JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;
}

int zt_audit_append(struct zt_model *m, uint64_t prev_seq, const char *prev_hash, int64_t time,
		    const char *actor, const char *action, const char *kind, const char *name,
		    json_object *before, json_object *after, uint64_t *seq, char hash[65],
		    char *err, size_t errlen)
{
	char s[24], t[24], h[65], prev[65];
	const char *f[10];

	snprintf(prev, sizeof(prev), "%s", prev_hash);
	snprintf(s, sizeof(s), "%" PRIu64, prev_seq + 1);
	snprintf(t, sizeof(t), "%" PRId64, time);
	f[0] = s, f[1] = t, f[2] = actor, f[3] = action, f[4] = kind, f[5] = name;
	f[6] = plain(before);
	f[7] = plain(after);
	f[8] = prev;
	record_hash(f, h);
	f[9] = h;
	if (zt_db_exec(m->db, "INSERT INTO audit (seq, time, actor, action, kind, name, before_json,"
		       " after_json, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
		       " $10)", 10, f, err, errlen))
		return -EIO;
	*seq = prev_seq + 1;
	memcpy(hash, h, 65);
	return 0;
}

int zt_audit_load_head(struct zt_model *m, char *err, size_t errlen)
{
	struct zt_db_rows *r;
	int ret = zt_db_query(m->db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", 0,
			      NULL, &r, err, errlen);

	if (ret)
		return ret;
	m->audit_seq = r->nrows ? strtoull(zt_db_cell(r, 0, 0), NULL, 10) : 0;
	snprintf(m->audit_hash, sizeof(m->audit_hash), "%s", r->nrows ? zt_db_cell(r, 0, 1) : ZERO_HASH);
	zt_db_rows_free(r);
	return 0;
}

json_object *zt_audit_list(struct zt_model *m, int64_t since_time, char *err, size_t errlen)
{
	static const char *const keys[] = { "seq", "time", "actor", "action", "kind", "name",
					    "before", "after" };
	char since[24];
	const char *p[] = { since };
	struct zt_db_rows *r;
	json_object *arr;

	snprintf(since, sizeof(since), "%" PRId64, since_time);
	/* What happened up to now, queued records included (kept on error: listed next time). */
	if (zt_model_audit_flush(m, err, errlen))
		zt_log("warn", "controller: audit records not yet written: %s", err);
	if (zt_db_query(m->db, "SELECT " AUDIT_COLS " FROM audit WHERE time >= $1 ORDER BY seq", 1,
			p, &r, err, errlen))
		return NULL;
	arr = json_object_new_array();
	for (size_t i = 0; i < r->nrows; i++) {
		json_object *o = json_object_new_object();

		for (size_t c = 0; c < 8; c++) {
			const char *v = zt_db_cell(r, i, c);
			json_object *j = !v ? NULL : c < 2 ? json_object_new_int64(strtoll(v, NULL, 10))
					   : c >= 6 ? json_tokener_parse(v) : json_object_new_string(v);

			json_object_object_add(o, keys[c], j);
		}
		json_object_array_add(arr, o);
	}
	zt_db_rows_free(r);
	return arr;
}

/* Row I against the chain so far (EXPECT_SEQ, PREV); ERR says what is wrong. */
static bool row_holds(const struct zt_db_rows *r, size_t i, uint64_t expect_seq, const char *prev,
		      char *err, size_t errlen)
{
	const char *f[9];
	char h[65];
	uint64_t seq = strtoull(zt_db_cell(r, i, 0), NULL, 10);

	for (int c = 0; c < 9; c++)
		f[c] = zt_db_cell(r, i, (size_t)c);
	if (seq != expect_seq) {
		snprintf(err, errlen, "record %" PRIu64 " is missing (deleted)", expect_seq);
		return false;
	}
	if (strcmp(f[8], prev)) {
		snprintf(err, errlen, "record %" PRIu64 " does not follow the one before it", seq);
		return false;
	}
	record_hash(f, h);
	if (strcmp(h, zt_db_cell(r, i, 9))) {
		snprintf(err, errlen, "record %" PRIu64 " was changed after it was written", seq);
		return false;
	}
	return true;
}

int zt_audit_verify(struct zt_model *m, uint64_t *count, uint64_t *bad_seq, char *err,
		    size_t errlen)
{
	struct zt_db_rows *r = NULL, *head = NULL;
	char prev[65] = ZERO_HASH;
	uint64_t expect = 1, last;
	int ret;

	*count = 0;
	*bad_seq = 0;
	ret = zt_model_audit_flush(m, err, errlen);
	if (!ret)
		ret = zt_db_query(m->db, "SELECT " AUDIT_COLS " FROM audit ORDER BY seq", 0, NULL,
				  &r, err, errlen);
	if (!ret)
		ret = zt_db_query(m->db, "SELECT value FROM meta WHERE key = 'audit_head'", 0, NULL,
				  &head, err, errlen);
	if (ret)
		goto out;
	for (size_t i = 0; i < r->nrows; i++, expect++) {
		if (!row_holds(r, i, expect, prev, err, errlen)) {
			*bad_seq = expect;
			ret = -EBADMSG;
			goto out;
		}
		snprintf(prev, sizeof(prev), "%s", zt_db_cell(r, i, 9));
		(*count)++;
	}
	last = zt_db_cell(head, 0, 0) ? strtoull(zt_db_cell(head, 0, 0), NULL, 10) : 0;
	if (last != expect - 1) {
		snprintf(err, errlen, "records %" PRIu64 "..%" PRIu64 " are missing (deleted)", expect,
			 last);
		*bad_seq = expect;
		ret = -EBADMSG;
	}
out:
	zt_db_rows_free(r);
	zt_db_rows_free(head);
	return ret;
}

void zt_model_audit_event(struct zt_model *m, const char *actor, const char *action,
			  const char *kind, const char *name, json_object *detail)
{
	struct zt_mtx tx;
	char err[160];

	zt_mtx_init(&tx, actor);
	tx.no_rev = true;
	zt_mtx_audit(&tx, action, kind, name, NULL, detail);
	zt_model_commit(m, &tx, err, sizeof(err));
	zt_mtx_free(&tx);
}

/* ---- the queue of runtime records ---- */

static void pending_clear(struct zt_apending *p)
{
	free(p->actor);
	free(p->action);
	free(p->kind);
	free(p->name);
	json_object_put(p->detail);
}

/* Room for one more; false when out of memory. */
static bool pending_room(struct zt_model *m)
{
	struct zt_apending *a;
	size_t cap;

	if (m->napend < m->apendcap)
		return true;
	cap = m->apendcap ? m->apendcap * 2 : 64;
	a = realloc(m->apend, cap * sizeof(*a));
	if (!a)
		return false;
	m->apend = a;
	m->apendcap = cap;
	return true;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void zt_model_audit_queue(struct zt_model *m, const char *actor, const char *action,
			  const char *kind, const char *name, json_object *detail)
{
	struct zt_apending *p;
	char err[160];

	if (m->napend >= ZT_AUDIT_PENDING_MAX && zt_model_audit_flush(m, err, sizeof(err)))
		zt_log("warn", "controller: audit records not yet written: %s", err);
	if (m->napend >= ZT_AUDIT_PENDING_MAX || !pending_room(m))
		goto lost;
	p = &m->apend[m->napend];
	*p = (struct zt_apending){ .time = m->now(), .actor = strdup(actor),
				   .action = strdup(action), .kind = dup_or_null(kind),
				   .name = dup_or_null(name), .detail = detail };
	if (!p->actor || !p->action || (kind && !p->kind) || (name && !p->name)) {
		p->detail = NULL;
		pending_clear(p);
		goto lost;
	}
	if (m->napend++ == 0 && m->audit_queued)
		m->audit_queued(m->audit_queued_arg);
	return;
lost:
	/* As a failed write of an unqueued record would: a line in the log, the rest goes on. */
	zt_log("warn", "controller: audit record %s %s lost (queue full or out of memory)", action,
	       name ? name : "");
	json_object_put(detail);
}

/*
 * Queued records per INSERT: a round trip per 16 records, not per record
 * (more rows per statement cost SQLite more in naming ?NNN parameters than
 * they save).
 */
#define CHUNK	16

/* A chunk's fields, chained from *SEQ/HASH (moved on). */
struct chunk {
	char s[CHUNK][24], t[CHUNK][24], prev[CHUNK][65], h[CHUNK][65];
	const char *f[CHUNK * 10];
};

static void chunk_fill(struct chunk *c, const struct zt_apending *p, size_t n, uint64_t *seq,
		       char hash[65])
{
	for (size_t k = 0; k < n; k++) {
		const char **f = &c->f[k * 10];

		snprintf(c->prev[k], sizeof(c->prev[k]), "%s", hash);
		snprintf(c->s[k], sizeof(c->s[k]), "%" PRIu64, ++*seq);
		snprintf(c->t[k], sizeof(c->t[k]), "%" PRId64, p[k].time);
		f[0] = c->s[k], f[1] = c->t[k], f[2] = p[k].actor, f[3] = p[k].action;
		f[4] = p[k].kind, f[5] = p[k].name, f[6] = NULL, f[7] = plain(p[k].detail);
		f[8] = c->prev[k];
		record_hash(f, c->h[k]);
		f[9] = c->h[k];
		memcpy(hash, c->h[k], 65);
	}
}

/* "INSERT ... VALUES ($1, ..., $10), ($11, ...)" for N rows into SQL. */
static void chunk_sql(char *sql, size_t len, size_t n)
{
	size_t off = (size_t)snprintf(sql, len, "INSERT INTO audit (" AUDIT_COLS ") VALUES ");

	for (size_t k = 0; k < n && off < len; k++) {
		off += (size_t)snprintf(sql + off, len - off, "%s(", k ? ", " : "");
		for (size_t j = 1; j <= 10 && off < len; j++)
			off += (size_t)snprintf(sql + off, len - off, "$%zu%s", k * 10 + j,
						j < 10 ? ", " : ")");
	}
}

int zt_audit_write_pending(struct zt_model *m, uint64_t *seq, char hash[65], char *err,
			   size_t errlen)
{
	struct chunk *c;
	char *sql;
	int ret = 0;

	if (!m->napend)
		return 0;
	c = malloc(sizeof(*c));
	sql = malloc(CHUNK * 80 + 256);
	if (!c || !sql) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0, n; i < m->napend && !ret; i += n) {
		n = m->napend - i < CHUNK ? m->napend - i : CHUNK;
		chunk_fill(c, &m->apend[i], n, seq, hash);
		chunk_sql(sql, CHUNK * 80 + 256, n);
		if (zt_db_exec(m->db, sql, (int)n * 10, c->f, err, errlen))
			ret = -EIO;
	}
out:
	free(c);
	free(sql);
	return ret;
}

void zt_audit_pending_done(struct zt_model *m)
{
	for (size_t i = 0; i < m->napend; i++)
		pending_clear(&m->apend[i]);
	m->napend = 0;
}

void zt_audit_pending_free(struct zt_model *m)
{
	zt_audit_pending_done(m);
	free(m->apend);
	m->apend = NULL;
	m->apendcap = 0;
}

int zt_model_audit_flush(struct zt_model *m, char *err, size_t errlen)
{
	struct zt_mtx tx;
	int ret;

	if (!m->napend)
		return 0;
	zt_mtx_init(&tx, "controller");
	tx.no_rev = true;
	ret = zt_model_commit(m, &tx, err, errlen);	/* the queue alone */
	zt_mtx_free(&tx);
	return ret;
}
