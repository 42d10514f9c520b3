// SPDX-License-Identifier: GPL-2.0-only
/*
 * The storage interface's common part (db.h): opening by URL, transactions
 * and the calls that go to the backend's operations, result rows, and the
 * placeholder rewrite SQLite needs. Called by the controller's model,
 * schema and audit files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/db.h"

static int has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

int zt_db_open(const char *url, const char *state_dir, struct zt_db **out, char *err,
	       size_t errlen)
{
	char path[4096];

	*out = NULL;
	if (url && (has_prefix(url, "postgresql://") || has_prefix(url, "postgres://")))
		return zt_db_pg_open(url, out, err, errlen);
	if (url && has_prefix(url, "sqlite:"))
		url += strlen("sqlite:");
	if (!url || !*url) {
		if (snprintf(path, sizeof(path), "%s/controller.db", state_dir) >= (int)sizeof(path)) {
			snprintf(err, errlen, "state dir path too long");
			return -ENAMETOOLONG;
		}
		url = path;
	}
	return zt_db_sqlite_open(url, out, err, errlen);
}

void zt_db_close(struct zt_db *db)
{
	if (db)
		db->ops->close(db);
}

int zt_db_begin(struct zt_db *db, char *err, size_t errlen)
{
	int ret = db->ops->exec(db, "BEGIN", 0, NULL, err, errlen);

	db->in_tx = !ret;
	return ret;
}

int zt_db_begin_snapshot(struct zt_db *db, char *err, size_t errlen)
{
	const char *sql = db->shared ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN";
	int ret = db->ops->exec(db, sql, 0, NULL, err, errlen);

	db->in_tx = !ret;
	return ret;
}

int zt_db_commit(struct zt_db *db, char *err, size_t errlen)
{
	int ret = db->ops->exec(db, "COMMIT", 0, NULL, err, errlen);

	if (ret)
		zt_db_rollback(db);
	db->in_tx = 0;
	return ret;
}

void zt_db_rollback(struct zt_db *db)
{
	char err[64];

	if (db->in_tx)
		db->ops->exec(db, "ROLLBACK", 0, NULL, err, sizeof(err));
	db->in_tx = 0;
}

int zt_db_exec(struct zt_db *db, const char *sql, int nparams, const char *const *params,
	       char *err, size_t errlen)
{
	return db->ops->exec(db, sql, nparams, params, err, errlen);
}

int zt_db_query(struct zt_db *db, const char *sql, int nparams, const char *const *params,
		struct zt_db_rows **out, char *err, size_t errlen)
{
	*out = NULL;
	return db->ops->query(db, sql, nparams, params, out, err, errlen);
}

int zt_db_script(struct zt_db *db, const char *sql, char *err, size_t errlen)
{
	return db->ops->script(db, sql, err, errlen);
}

int zt_db_listen(struct zt_db *db, const char *const *channels, size_t n, char *err,
		 size_t errlen)
{
	if (!db->ops->listen) {
		snprintf(err, errlen, "%s: one controller per database, nothing to listen to",
			 db->ops->name);
		return -EOPNOTSUPP;
	}
	return db->ops->listen(db, channels, n, err, errlen);
}

int zt_db_notifications(struct zt_db *db, void (*fn)(void *arg, const char *channel,
						     const char *payload), void *arg)
{
	return db->ops->notifications ? db->ops->notifications(db, fn, arg) : -EOPNOTSUPP;
}

void zt_db_unlisten(struct zt_db *db)
{
	if (db && db->ops->unlisten)
		db->ops->unlisten(db);
}

const char *zt_db_cell(const struct zt_db_rows *r, size_t row, size_t col)
{
	if (!r || row >= r->nrows || col >= r->ncols)
		return NULL;
	return r->cells[row * r->ncols + col];
}

struct zt_db_rows *zt_db_rows_new(size_t nrows, size_t ncols)
{
	struct zt_db_rows *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->nrows = nrows;
	r->ncols = ncols;
	if (nrows && ncols) {
		r->cells = calloc(nrows * ncols, sizeof(char *));
		if (!r->cells) {
			free(r);
			return NULL;
		}
	}
	return r;
}

void zt_db_rows_free(struct zt_db_rows *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nrows * r->ncols; i++)
		free(r->cells[i]);
	free(r->cells);
	free(r);
}

char *zt_db_sql_qmarks(const char *sql)
{
	char *out = strdup(sql), quote = 0;

	if (!out)
		return NULL;
	for (char *p = out; *p; p++) {
		if (quote) {
			if (*p == quote)
				quote = 0;
		} else if (*p == '\'' || *p == '"') {
			quote = *p;
		} else if (*p == '$' && p[1] >= '0' && p[1] <= '9') {
			*p = '?';
		}
	}
	return out;
}
