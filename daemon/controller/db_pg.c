// SPDX-License-Identifier: GPL-2.0-only
/*
 * The PostgreSQL backend of the controller's storage (db.h), with libpq:
 * one connection for statements, sent with PQexecParams (all parameters
 * text), results copied into zt_db_rows, reconnected when it broke outside
 * a transaction; a second connection LISTENs for the other controllers'
 * notifications. libpq is not linked: every call goes through the table
 * of pq.c, which loads it into its own link-map namespace, so its OpenSSL
 * (sslmode=require, verify-full, ...) never meets the daemon's BoringSSL
 * (docs/CONTROLLER.md "TLS to PostgreSQL"). Only libpq frees what libpq
 * allocated (PQclear, PQfreemem, PQconninfoFree); values are copied out.
 * The schema's SQL is the same as SQLite's. Opened by zt_db_open (db.c)
 * for postgresql:// URLs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/db.h"
#include "controller/pq.h"

struct pg_db {
	struct zt_db base;
	PGconn *conn;
	PGconn *listener;	/* LISTENing, or NULL */
	char *conninfo;
};

/* libpq's table (pq.c), set by zt_db_pg_check_url before any connection. */
static const struct zt_pq *pq;

/*
 * The URL as libpq reads it, sslmode and the rest included (libpq's own
 * defaults, sslmode=prefer, and its PG* environment apply as usual).
 */
static PGconn *connect_url(const char *conninfo)
{
	static const char *const keys[] = { "dbname", NULL };
	const char *vals[] = { conninfo, NULL };

	return pq->PQconnectdbParams(keys, vals, 1);
}

int zt_db_pg_check_url(const char *conninfo, char *err, size_t errlen)
{
	PQconninfoOption *opts;
	char *why = NULL;

	if (!pq && !(pq = zt_pq_load(err, errlen)))
		return -ELIBACC;
	opts = pq->PQconninfoParse(conninfo, &why);
	if (!opts) {
		/* libpq's reason (an unknown option, a bad value), its first line. */
		snprintf(err, errlen, "--db: not a valid PostgreSQL URL: %.*s",
			 why ? (int)strcspn(why, "\n") : 0, why ? why : "");
		pq->PQfreemem(why);
		return -EINVAL;
	}
	pq->PQconninfoFree(opts);
	return 0;
}

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
	PGresult *res = pq->PQexecParams(conn_of(db), sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = res ? pq->PQresultStatus(res) : PGRES_FATAL_ERROR;

	/* The server went away and came back: outside a transaction, reconnect once. */
	if (st == PGRES_FATAL_ERROR && !db->in_tx && pq->PQstatus(conn_of(db)) == CONNECTION_BAD) {
		pq->PQclear(res);
		pq->PQreset(conn_of(db));
		res = pq->PQexecParams(conn_of(db), sql, nparams, NULL, params, NULL, NULL, 0);
		st = res ? pq->PQresultStatus(res) : PGRES_FATAL_ERROR;
	}

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		fail(res ? pq->PQresultErrorMessage(res) : pq->PQerrorMessage(conn_of(db)), err, errlen);
		pq->PQclear(res);
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
	pq->PQclear(res);
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
	nr = (size_t)pq->PQntuples(res);
	nc = (size_t)pq->PQnfields(res);
	rows = zt_db_rows_new(nr, nc);
	for (size_t r = 0; rows && r < nr; r++) {
		for (size_t c = 0; c < nc; c++) {
			if (pq->PQgetisnull(res, (int)r, (int)c))
				continue;
			rows->cells[r * nc + c] = strdup(pq->PQgetvalue(res, (int)r, (int)c));
			if (!rows->cells[r * nc + c]) {
				zt_db_rows_free(rows);
				rows = NULL;
				break;
			}
		}
	}
	pq->PQclear(res);
	if (!rows) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*out = rows;
	return 0;
}

static int pg_script(struct zt_db *db, const char *sql, char *err, size_t errlen)
{
	PGresult *res = pq->PQexec(conn_of(db), sql);
	int ret = 0;

	if (!res || pq->PQresultStatus(res) != PGRES_COMMAND_OK)
		ret = fail(res ? pq->PQresultErrorMessage(res) : pq->PQerrorMessage(conn_of(db)), err, errlen);
	pq->PQclear(res);
	return ret;
}

static void pg_unlisten(struct zt_db *db)
{
	struct pg_db *p = (struct pg_db *)db;

	pq->PQfinish(p->listener);
	p->listener = NULL;
}

static int pg_listen(struct zt_db *db, const char *const *channels, size_t n, char *err,
		     size_t errlen)
{
	struct pg_db *p = (struct pg_db *)db;
	char sql[128];
	int ret = 0;

	pg_unlisten(db);
	p->listener = connect_url(p->conninfo);
	if (!p->listener || pq->PQstatus(p->listener) != CONNECTION_OK) {
		ret = fail(p->listener ? pq->PQerrorMessage(p->listener) : "cannot connect", err, errlen);
		goto out;
	}
	for (size_t i = 0; i < n && !ret; i++) {
		PGresult *res;

		snprintf(sql, sizeof(sql), "LISTEN %s", channels[i]);
		res = pq->PQexec(p->listener, sql);
		if (!res || pq->PQresultStatus(res) != PGRES_COMMAND_OK)
			ret = fail(res ? pq->PQresultErrorMessage(res) : pq->PQerrorMessage(p->listener), err,
				   errlen);
		pq->PQclear(res);
	}
	if (!ret && pq->PQsetnonblocking(p->listener, 1))
		ret = fail(pq->PQerrorMessage(p->listener), err, errlen);
out:
	if (ret) {
		pg_unlisten(db);
		return ret;
	}
	return pq->PQsocket(p->listener);
}

static int pg_notifications(struct zt_db *db, void (*fn)(void *arg, const char *channel,
							 const char *payload), void *arg)
{
	struct pg_db *p = (struct pg_db *)db;
	PGnotify *nt;

	if (!p->listener || !pq->PQconsumeInput(p->listener) || pq->PQstatus(p->listener) != CONNECTION_OK)
		return -EIO;
	while ((nt = pq->PQnotifies(p->listener))) {
		fn(arg, nt->relname, nt->extra);
		pq->PQfreemem(nt);
	}
	return 0;
}

static void pg_close(struct zt_db *db)
{
	struct pg_db *p = (struct pg_db *)db;

	pg_unlisten(db);
	pq->PQfinish(p->conn);
	free(p->conninfo);
	free(p);
}

static const struct zt_db_ops pg_ops = {
	.name = "postgresql",
	.exec = pg_exec,
	.query = pg_query,
	.script = pg_script,
	.close = pg_close,
	.listen = pg_listen,
	.notifications = pg_notifications,
	.unlisten = pg_unlisten,
};

int zt_db_pg_open(const char *conninfo, struct zt_db **out, char *err, size_t errlen)
{
	struct pg_db *p;
	const char *at;
	int ret = zt_db_pg_check_url(conninfo, err, errlen);

	if (ret)
		return ret;
	p = calloc(1, sizeof(*p));
	if (!p || !(p->conninfo = strdup(conninfo))) {
		free(p);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->base.ops = &pg_ops;
	p->base.shared = 1;
	/* For messages: the URL without its credentials. */
	at = strrchr(conninfo, '@');
	snprintf(p->base.url, sizeof(p->base.url), "postgresql://%s",
		 at ? at + 1 : conninfo + strcspn(conninfo, "/") + 2);
	p->conn = connect_url(conninfo);
	if (!p->conn || pq->PQstatus(p->conn) != CONNECTION_OK) {
		fail(p->conn ? pq->PQerrorMessage(p->conn) : "cannot connect", err, errlen);
		pg_close(&p->base);
		return -EIO;
	}
	/* Quiet NOTICEs (CREATE ... IF NOT EXISTS) off stderr. */
	pg_script(&p->base, "SET client_min_messages = warning", err, errlen);
	*out = &p->base;
	return 0;
}
