// SPDX-License-Identifier: GPL-2.0-only
/*
 * The SQLite backend of the controller's storage (db.h): one file (mode
 * 0600) in WAL mode with foreign keys on and a busy timeout, so a reader
 * (sqlite3 on the command line, a backup) never blocks the controller for
 * long. Parameters are bound as text; $N placeholders become ?N. Opened by
 * zt_db_open (db.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "controller/db.h"

#define SQLITE_BUSY_MS	5000

struct sqlite_db {
	struct zt_db base;
	sqlite3 *h;
};

static sqlite3 *handle(struct zt_db *db)
{
	return ((struct sqlite_db *)db)->h;
}

static int fail(struct zt_db *db, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "database %s: %s", what, sqlite3_errmsg(handle(db)));
	return -EIO;
}

/* SQL prepared with PARAMS bound as text; NULL after setting ERR. */
static sqlite3_stmt *prepare(struct zt_db *db, const char *sql, int nparams,
			     const char *const *params, char *err, size_t errlen)
{
	char *q = zt_db_sql_qmarks(sql);
	sqlite3_stmt *st = NULL;

	if (!q) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_prepare_v2(handle(db), q, -1, &st, NULL) != SQLITE_OK) {
		fail(db, "error", err, errlen);
		free(q);
		return NULL;
	}
	free(q);
	for (int i = 0; i < nparams; i++) {
		int rc = params[i] ? sqlite3_bind_text(st, i + 1, params[i], -1, SQLITE_TRANSIENT)
				   : sqlite3_bind_null(st, i + 1);

		if (rc != SQLITE_OK) {
			fail(db, "error", err, errlen);
			sqlite3_finalize(st);
			return NULL;
		}
	}
	return st;
}

static int sq_exec(struct zt_db *db, const char *sql, int nparams, const char *const *params,
		   char *err, size_t errlen)
{
	sqlite3_stmt *st = prepare(db, sql, nparams, params, err, errlen);
	int rc;

	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(db, "error", err, errlen);
	return 0;
}

/* Append the current row of ST to ROWS (grown by doubling). */
static int take_row(sqlite3_stmt *st, struct zt_db_rows *rows, size_t *cap)
{
	size_t nc = rows->ncols;

	if (rows->nrows == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		char **c = realloc(rows->cells, ncap * nc * sizeof(char *));

		if (!c)
			return -ENOMEM;
		rows->cells = c;
		*cap = ncap;
	}
	for (size_t i = 0; i < nc; i++) {
		const unsigned char *t = sqlite3_column_text(st, (int)i);

		rows->cells[rows->nrows * nc + i] = t ? strdup((const char *)t) : NULL;
		if (t && !rows->cells[rows->nrows * nc + i]) {
			for (size_t k = 0; k < i; k++)
				free(rows->cells[rows->nrows * nc + k]);
			return -ENOMEM;
		}
	}
	rows->nrows++;
	return 0;
}

static int sq_query(struct zt_db *db, const char *sql, int nparams, const char *const *params,
		    struct zt_db_rows **out, char *err, size_t errlen)
{
	sqlite3_stmt *st = prepare(db, sql, nparams, params, err, errlen);
	struct zt_db_rows *rows = NULL;
	size_t cap = 0;
	int rc, ret = 0;

	if (!st)
		return -EIO;
	rows = zt_db_rows_new(0, (size_t)sqlite3_column_count(st));
	if (!rows) {
		ret = -ENOMEM;
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ret = take_row(st, rows, &cap);
		if (ret)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = fail(db, "error", err, errlen);
out:
	sqlite3_finalize(st);
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	if (ret) {
		zt_db_rows_free(rows);
		rows = NULL;
	}
	*out = rows;
	return ret;
}

static int sq_script(struct zt_db *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(handle(db), sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "database error: %s", msg ? msg : "unknown");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static void sq_close(struct zt_db *db)
{
	sqlite3_close(handle(db));
	free(db);
}

static const struct zt_db_ops sqlite_ops = {
	.name = "sqlite",
	.exec = sq_exec,
	.query = sq_query,
	.script = sq_script,
	.close = sq_close,
};

int zt_db_sqlite_open(const char *path, struct zt_db **out, char *err, size_t errlen)
{
	struct sqlite_db *s = calloc(1, sizeof(*s));
	mode_t old;
	int rc;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->base.ops = &sqlite_ops;
	snprintf(s->base.url, sizeof(s->base.url), "sqlite:%s", path);
	old = umask(0077);	/* the model holds keys and token hashes: private */
	rc = sqlite3_open_v2(path, &s->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			     SQLITE_OPEN_FULLMUTEX, NULL);
	umask(old);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, s->h ? sqlite3_errmsg(s->h) : "cannot open");
		sqlite3_close(s->h);
		free(s);
		return -EIO;
	}
	sqlite3_busy_timeout(s->h, SQLITE_BUSY_MS);
	rc = sq_script(&s->base, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;"
			" PRAGMA synchronous=NORMAL;", err, errlen);
	if (rc) {
		sq_close(&s->base);
		return rc;
	}
	*out = &s->base;
	return 0;
}
