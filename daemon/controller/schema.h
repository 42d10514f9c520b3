/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The controller's database schema and its forward migrations, run at
 * start (zt_model_open) and by the tests. The version lives in table
 * schema_version; each migration runs in its own transaction with the
 * version bump, so a crash leaves the database at one version or the next.
 *
 * Callers: controller/model.c, tests/unit/test_controller_db.c.
 */
#ifndef ZT_CONTROLLER_SCHEMA_H
#define ZT_CONTROLLER_SCHEMA_H

#include <stddef.h>

struct zt_db;

#define ZT_SCHEMA_VERSION	7	/* the version this build writes */

/*
 * Bring DB to TARGET (0: ZT_SCHEMA_VERSION). A database newer than this
 * build is refused (-EPROTO). 0 or -errno with ERR set.
 */
int zt_schema_migrate(struct zt_db *db, int target, char *err, size_t errlen);
/* The database's version (0: empty). */
int zt_schema_version(struct zt_db *db, int *version, char *err, size_t errlen);

#endif
