// SPDX-License-Identifier: GPL-2.0-only
/*
 * The PostgreSQL backend of the controller's storage (db.h), with libpq:
 * one connection for statements, sent with PQexecParams (all parameters
 * text), results copied into zt_db_rows, reconnected when it broke outside
 * a transaction; a second connection LISTENs for the other controllers'
 * notifications. Connections never use TLS nor GSS encryption (libpq's
 * OpenSSL beside BoringSSL in one process, docs/CONTROLLER.md): both
 * default to disable and a URL that asks for them is refused. The
 * schema's SQL is the same as SQLite's. Opened by zt_db_open (db.c) for
 * postgresql:// URLs.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "controller/db.h"

struct pg_db {
	struct zt_db base;
	PGconn *conn;
	PGconn *listener;	/* LISTENing, or NULL */
	char *conninfo;
};

/* Before dbname, so that the URL (expanded in its place) may set them. */
static const char *const conn_keys[] = { "sslmode", "gssencmode", "dbname", NULL };

static PGconn *connect_url(const char *conninfo)
{
	const char *vals[] = { "disable", "disable", conninfo, NULL };

	return PQconnectdbParams(conn_keys, vals, 1);
}

int zt_db_pg_check_url(const char *conninfo, char *err, size_t errlen)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	int ret = 0;

	if (!opts) {
		snprintf(err, errlen, "--db: not a valid PostgreSQL URL");
		return -EINVAL;
	}
	for (PQconninfoOption *o = opts; o->keyword && !ret; o++) {
		bool ssl = !strcmp(o->keyword, "sslmode"), gss = !strcmp(o->keyword, "gssencmode");

		if ((!ssl && !gss) || !o->val || !*o->val || !strcmp(o->val, "disable"))
			continue;
		snprintf(err, errlen, "--db: %s=%s refused: ztgated links BoringSSL and libpq's TLS"
			 " would load OpenSSL beside it; connect over a Unix socket, or through a local"
			 " pgbouncer or stunnel that does TLS to the server", o->keyword, o->val);
		ret = -EPROTONOSUPPORT;
	}
	PQconninfoFree(opts);
	return ret;
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
	PGresult *res = PQexecParams(conn_of(db), sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	/* The server went away and came back: outside a transaction, reconnect once. */
	if (st == PGRES_FATAL_ERROR && !db->in_tx && PQstatus(conn_of(db)) == CONNECTION_BAD) {
		PQclear(res);
		PQreset(conn_of(db));
		res = PQexecParams(conn_of(db), sql, nparams, NULL, params, NULL, NULL, 0);
		st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	}

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

static void pg_unlisten(struct zt_db *db)
{
	struct pg_db *p = (struct pg_db *)db;

	PQfinish(p->listener);
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
	if (!p->listener || PQstatus(p->listener) != CONNECTION_OK) {
		ret = fail(p->listener ? PQerrorMessage(p->listener) : "cannot connect", err, errlen);
		goto out;
	}
	for (size_t i = 0; i < n && !ret; i++) {
		PGresult *res;

		snprintf(sql, sizeof(sql), "LISTEN %s", channels[i]);
		res = PQexec(p->listener, sql);
		if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
			ret = fail(res ? PQresultErrorMessage(res) : PQerrorMessage(p->listener), err,
				   errlen);
		PQclear(res);
	}
	if (!ret && PQsetnonblocking(p->listener, 1))
		ret = fail(PQerrorMessage(p->listener), err, errlen);
out:
	if (ret) {
		pg_unlisten(db);
		return ret;
	}
	return PQsocket(p->listener);
}

static int pg_notifications(struct zt_db *db, void (*fn)(void *arg, const char *channel,
							 const char *payload), void *arg)
{
	struct pg_db *p = (struct pg_db *)db;
	PGnotify *nt;

	if (!p->listener || !PQconsumeInput(p->listener) || PQstatus(p->listener) != CONNECTION_OK)
		return -EIO;
	while ((nt = PQnotifies(p->listener))) {
		fn(arg, nt->relname, nt->extra);
		PQfreemem(nt);
	}
	return 0;
}

static void pg_close(struct zt_db *db)
{
	struct pg_db *p = (struct pg_db *)db;

	pg_unlisten(db);
	PQfinish(p->conn);
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
	if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
		fail(p->conn ? PQerrorMessage(p->conn) : "cannot connect", err, errlen);
		pg_close(&p->base);
		return -EIO;
	}
	/* Quiet NOTICEs (CREATE ... IF NOT EXISTS) off stderr. */
	pg_script(&p->base, "SET client_min_messages = warning", err, errlen);
	*out = &p->base;
	return 0;
}
