/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The controller's storage backend: a small interface over SQLite
 * (db_sqlite.c, the default) and PostgreSQL (db_pg.c, libpq loaded by
 * pq.c), chosen by the URL given to zt_db_open. SQL is written once for
 * both: positional parameters are spelled $1, $2, ... (PostgreSQL's way;
 * the SQLite backend turns them into ?1, ?2), every parameter and every value read back is
 * text (NULL for SQL NULL), and the schema uses only types both know
 * (TEXT, BIGINT).
 *
 * Callers: controller/schema.c (migrations), controller/model.c and the
 * files beside it (loads and transactional writes), controller/audit.c,
 * tests/unit/test_controller_*.c.
 */
#ifndef ZT_CONTROLLER_DB_H
#define ZT_CONTROLLER_DB_H

#include <stddef.h>

struct zt_db;

/* The rows a query returned: text cells, row-major. */
struct zt_db_rows {
	size_t nrows, ncols;
	char **cells;		/* nrows * ncols, NULL for SQL NULL */
};

struct zt_db_ops {
	const char *name;	/* "sqlite", "postgresql" */
	/* One statement, no rows back. 0 or -errno (-EIO for SQL errors) with ERR set. */
	int (*exec)(struct zt_db *db, const char *sql, int nparams, const char *const *params,
		    char *err, size_t errlen);
	/* One statement; *OUT the rows (free with zt_db_rows_free). */
	int (*query)(struct zt_db *db, const char *sql, int nparams, const char *const *params,
		     struct zt_db_rows **out, char *err, size_t errlen);
	/* Several statements separated by ';', no parameters (the schema). */
	int (*script)(struct zt_db *db, const char *sql, char *err, size_t errlen);
	void (*close)(struct zt_db *db);
	/* Several controllers (PostgreSQL): LISTEN, notifications; NULL elsewhere. */
	int (*listen)(struct zt_db *db, const char *const *channels, size_t n, char *err,
		      size_t errlen);
	int (*notifications)(struct zt_db *db, void (*fn)(void *arg, const char *channel,
							  const char *payload), void *arg);
	void (*unlisten)(struct zt_db *db);
};

struct zt_db {
	const struct zt_db_ops *ops;
	char url[512];		/* as opened, for messages (a password never kept) */
	int in_tx;		/* a transaction is open */
	/*
	 * Several controllers may share this database (PostgreSQL): writers
	 * lock the revision row (SELECT ... FOR UPDATE), commits NOTIFY, and
	 * runtime data goes to the runtime table. SQLite: one controller.
	 */
	int shared;
};

/*
 * Open URL: "postgresql://..." or "postgres://..." (libpq), "sqlite:PATH" or a
 * plain PATH (SQLite); NULL or "" means STATE_DIR/controller.db. 0 or -errno
 * with one line in ERR.
 */
int zt_db_open(const char *url, const char *state_dir, struct zt_db **out, char *err,
	       size_t errlen);
void zt_db_close(struct zt_db *db);

int zt_db_begin(struct zt_db *db, char *err, size_t errlen);
/* A read-only transaction that sees one snapshot (REPEATABLE READ on PostgreSQL). */
int zt_db_begin_snapshot(struct zt_db *db, char *err, size_t errlen);
int zt_db_commit(struct zt_db *db, char *err, size_t errlen);
/* Undo the open transaction (no-op without one). */
void zt_db_rollback(struct zt_db *db);

int zt_db_exec(struct zt_db *db, const char *sql, int nparams, const char *const *params,
	       char *err, size_t errlen);
int zt_db_query(struct zt_db *db, const char *sql, int nparams, const char *const *params,
		struct zt_db_rows **out, char *err, size_t errlen);
int zt_db_script(struct zt_db *db, const char *sql, char *err, size_t errlen);

/*
 * A second connection LISTENing on CHANNELS (shared databases only; again:
 * a new connection). Its socket fd (watch it for reads), or -errno
 * (-EOPNOTSUPP: SQLite).
 */
int zt_db_listen(struct zt_db *db, const char *const *channels, size_t n, char *err,
		 size_t errlen);
/*
 * Read what arrived on the listening connection and call FN for each
 * notification. 0, or -EIO once that connection is lost (listen again).
 */
int zt_db_notifications(struct zt_db *db, void (*fn)(void *arg, const char *channel,
						     const char *payload), void *arg);
/* Close the listening connection (no-op without one). */
void zt_db_unlisten(struct zt_db *db);

/* Cell (ROW, COL) or NULL. */
const char *zt_db_cell(const struct zt_db_rows *r, size_t row, size_t col);
void zt_db_rows_free(struct zt_db_rows *r);
/* A rows object of NROWS x NCOLS NULL cells (for backends). NULL on ENOMEM. */
struct zt_db_rows *zt_db_rows_new(size_t nrows, size_t ncols);

/* Backends (db_sqlite.c, db_pg.c). */
int zt_db_sqlite_open(const char *path, struct zt_db **out, char *err, size_t errlen);
int zt_db_pg_open(const char *conninfo, struct zt_db **out, char *err, size_t errlen);
/*
 * Whether URL can be tried: libpq loads (controller/pq.c, its own link-map
 * namespace) and parses it. 0, or -ELIBACC (no libpq) / -EINVAL (libpq's
 * reason) with one line in ERR.
 */
int zt_db_pg_check_url(const char *conninfo, char *err, size_t errlen);

/*
 * SQL with $N placeholders rewritten as ?N outside quotes (SQLite). A new
 * string, NULL on ENOMEM.
 */
char *zt_db_sql_qmarks(const char *sql);

#endif
