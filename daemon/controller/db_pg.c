// SPDX-License-Identifier: GPL-2.0-only
/*
 * The PostgreSQL backend of the controller's storage (db.h), with libpq:
 * one connection, statements sent with PQexecParams (all parameters text),
 * results copied into zt_db_rows. The schema's SQL is the same as
 * SQLite's. Opened by zt_db_open (db.c) for postgresql:// URLs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "controller/db.h"

struct pg_db {
	struct zt_db base;
	PGconn *conn;
};

static PGconn *conn_of(struct zt_db *db)
{
	return ((struct pg_db *)db)->conn;
}

/* The first line of libpq's message. */
static int fail(const char *msg, char *err, size_t errlen)
{
	snprintf(err, errlen, "database error: %.*s", (int)strcspn(msg, "\n"), msg);
	return -EIO;
}

static PGresult *run(struct zt_db *db, const char *sql, int nparams, const char *const *params,
		     char *err, size_t errlen)
{
	PGresult *res = PQexecParams(conn_of(db), sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		fail(res ? PQresultErrorMessage(res) : PQerrorMessage(conn_of(db)), err, errlen);
		PQclear(res);
		return NULL;
	}
	return res;
}

static int pg_exec(struct zt_db *db, const char *sql, int nparams, const char *const *params,
		   char *err, size_t errlen)
{
	PGresult *res = run(db, sql, nparams, params, err, errlen);

	if (!res)
		return -EIO;
	PQclear(res);
	return 0;
}

static int pg_query(struct zt_db *db, const char *sql, int nparams, const char *const *params,
		    struct zt_db_rows **out, char *err, size_t errlen)
{
	PGresult *res = run(db, sql, nparams, params, err, errlen);
	struct zt_db_rows *rows;
	size_t nr, nc;

	if (!res)
		return -EIO;
	nr = (size_t)PQntuples(res);
	nc = (size_t)PQnfields(res);
	rows = zt_db_rows_new(nr, nc);
	for (size_t r = 0; rows && r < nr; r++) {
		for (size_t c = 0; c < nc; c++) {
			if (PQgetisnull(res, (int)r, (int)c))
				continue;
			rows->cells[r * nc + c] = strdup(PQgetvalue(res, (int)r, (int)c));
			if (!rows->cells[r * nc + c]) {
				zt_db_rows_free(rows);
				rows = NULL;
				break;
			}
		}
	}
	PQclear(res);
	if (!rows) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*out = rows;
	return 0;
}

static int pg_script(struct zt_db *db, const char *sql, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn_of(db), sql);
	int ret = 0;

	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
		ret = fail(res ? PQresultErrorMessage(res) : PQerrorMessage(conn_of(db)), err, errlen);
	PQclear(res);
	return ret;
}

static void pg_close(struct zt_db *db)
{
	PQfinish(conn_of(db));
	free(db);
}

static const struct zt_db_ops pg_ops = {
	.name = "postgresql",
	.exec = pg_exec,
	.query = pg_query,
	.script = pg_script,
	.close = pg_close,
};

int zt_db_pg_open(const char *conninfo, struct zt_db **out, char *err, size_t errlen)
{
	struct pg_db *p = calloc(1, sizeof(*p));
	const char *at;

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->base.ops = &pg_ops;
	/* For messages: the URL without its credentials. */
	at = strrchr(conninfo, '@');
	snprintf(p->base.url, sizeof(p->base.url), "postgresql://%s",
		 at ? at + 1 : conninfo + strcspn(conninfo, "/") + 2);
	p->conn = PQconnectdb(conninfo);
	if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
		fail(p->conn ? PQerrorMessage(p->conn) : "cannot connect", err, errlen);
		PQfinish(p->conn);
		free(p);
		return -EIO;
	}
	/* Quiet NOTICEs (CREATE ... IF NOT EXISTS) off stderr. */
	pg_script(&p->base, "SET client_min_messages = warning", err, errlen);
	*out = &p->base;
	return 0;
}
