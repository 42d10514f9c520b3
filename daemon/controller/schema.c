// SPDX-License-Identifier: GPL-2.0-only
/*
 * The schema, as forward migrations (schema.h). SQL shared by SQLite and
 * PostgreSQL: TEXT and BIGINT only, no backend-specific syntax.
 *   v1: meta (the revision counter), objects (every model object: one
 *       generic table, see docs/CONTROLLER.md), changes (the change log).
 *   v2: tokens (enrollment tokens, hashes only), audit (the hash chain).
 *   v3: several controllers on one database: meta next_id (ids come from
 *       the database, under the revision row's lock), meta changes_pruned
 *       (the change log holds every revision after it), runtime (nodes'
 *       runtime data shared between controllers: connector endpoints).
 *       meta timeline is written by model.c (random, at the first start).
 *   v4: api_keys (admin API keys, hashes only; expires 0: never).
 *   v5: tokens.key_ttl: the lifetime in seconds of the key a service
 *       account's token enrolls (0: until removed), set on the device at
 *       enrollment as "key_expires".
 *   v6: controllers (each controller on a shared database: its nodes
 *       connected and up to date, for every controller's `admin status`).
 *   v7: relay objects (kind 'relay' in objects: the table is generic, so
 *       no new one; the statement changes nothing). The version keeps a
 *       v6 controller, which cannot load a 'relay' row, off this database
 *       with a clear error rather than a failed load.
 * Called by controller/model.c at start.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "controller/db.h"
#include "controller/schema.h"

static const char *const migrations[] = {
	/* v1 */
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"INSERT INTO meta (key, value) VALUES ('rev', '0');"
	"CREATE TABLE objects (id BIGINT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL,"
	" body TEXT NOT NULL, created BIGINT NOT NULL, updated BIGINT NOT NULL,"
	" actor TEXT NOT NULL, UNIQUE (kind, name));"
	"CREATE TABLE changes (rev BIGINT NOT NULL, kind TEXT NOT NULL, id BIGINT NOT NULL,"
	" op TEXT NOT NULL, time BIGINT NOT NULL);"
	"CREATE INDEX changes_rev ON changes (rev);",
	/* v2 */
	"CREATE TABLE tokens (hash TEXT PRIMARY KEY, kind TEXT NOT NULL, target TEXT NOT NULL,"
	" created BIGINT NOT NULL, expires BIGINT NOT NULL, used_at BIGINT, used_by TEXT);"
	"CREATE TABLE audit (seq BIGINT PRIMARY KEY, time BIGINT NOT NULL, actor TEXT NOT NULL,"
	" action TEXT NOT NULL, kind TEXT, name TEXT, before_json TEXT, after_json TEXT,"
	" prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
	"INSERT INTO meta (key, value) VALUES ('audit_head', '0');",
	/* v3 */
	"INSERT INTO meta (key, value) SELECT 'next_id', CAST(COALESCE(MAX(id), 0) + 1 AS TEXT)"
	" FROM (SELECT id FROM objects UNION ALL SELECT id FROM changes) AS ids;"
	"INSERT INTO meta (key, value) VALUES ('changes_pruned', '0');"
	"CREATE TABLE runtime (kind TEXT NOT NULL, id BIGINT NOT NULL, endpoint TEXT NOT NULL,"
	" updated BIGINT NOT NULL, PRIMARY KEY (kind, id));",
	/* v4 */
	"CREATE TABLE api_keys (name TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE,"
	" role TEXT NOT NULL, created BIGINT NOT NULL, expires BIGINT NOT NULL,"
	" actor TEXT NOT NULL);",
	/* v5 */
	"ALTER TABLE tokens ADD COLUMN key_ttl BIGINT NOT NULL DEFAULT 0;",
	/* v6 */
	"CREATE TABLE controllers (instance TEXT PRIMARY KEY, rev BIGINT NOT NULL,"
	" connected BIGINT NOT NULL, applied BIGINT NOT NULL, updated BIGINT NOT NULL);",
	/* v7 */
	"UPDATE meta SET value = value WHERE key = 'rev';",
};

#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))
_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == ZT_SCHEMA_VERSION,
	       "one migration per schema version");

int zt_schema_version(struct zt_db *db, int *version, char *err, size_t errlen)
{
	struct zt_db_rows *rows;
	const char *v;
	int ret;

	ret = zt_db_script(db, "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)",
			   err, errlen);
	if (ret)
		return ret;
	ret = zt_db_query(db, "SELECT MAX(version) FROM schema_version", 0, NULL, &rows, err, errlen);
	if (ret)
		return ret;
	v = zt_db_cell(rows, 0, 0);
	*version = v ? atoi(v) : 0;
	zt_db_rows_free(rows);
	return 0;
}

/* Migration to version TO (its SQL and the version row), in one transaction. */
static int migrate_one(struct zt_db *db, int to, char *err, size_t errlen)
{
	char v[16];
	const char *params[] = { v };
	int ret;

	snprintf(v, sizeof(v), "%d", to);
	ret = zt_db_begin(db, err, errlen);
	if (ret)
		return ret;
	ret = zt_db_script(db, migrations[to - 1], err, errlen);
	if (!ret)
		ret = zt_db_exec(db, "INSERT INTO schema_version (version) VALUES ($1)", 1, params,
				 err, errlen);
	if (!ret)
		return zt_db_commit(db, err, errlen);
	zt_db_rollback(db);
	return ret;
}

int zt_schema_migrate(struct zt_db *db, int target, char *err, size_t errlen)
{
	int version, ret;

	if (!target)
		target = ZT_SCHEMA_VERSION;
	ret = zt_schema_version(db, &version, err, errlen);
	if (ret)
		return ret;
	if (version > NMIGRATIONS) {
		snprintf(err, errlen, "database schema v%d is newer than this controller (v%d)",
			 version, NMIGRATIONS);
		return -EPROTO;
	}
	for (int to = version + 1; to <= target && to <= NMIGRATIONS; to++) {
		ret = migrate_one(db, to, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}
