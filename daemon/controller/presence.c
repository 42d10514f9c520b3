// SPDX-License-Identifier: GPL-2.0-only
/*
 * Which nodes are connected and up to date, over every controller
 * (model.h): each controller counts its own nodes (runtime data, kept in
 * memory) and, on a shared database, publishes the counts in the
 * `controllers` table (one row per running controller, at most once a
 * second and only when they moved, or as a 5 s heartbeat), so that
 * `ztgate admin status` on any controller says "rev N applied on X of Y
 * nodes" for all of them: a node is connected to one controller at a time.
 * Rows older than ZT_PRESENCE_MAX_AGE are a controller gone (killed without
 * withdrawing its row) and count for nothing. Called by the controller
 * role's status command and its 1 s tick (roles/controller_sync.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/db.h"
#include "controller/model.h"
#include "lib/log.h"

/* One enrolled node (connector or device) toward the counts. */
static void count_one(struct zt_model *m, enum zt_node_kind kind, const struct zt_mobj *o,
		      struct zt_node_counts *c)
{
	const struct zt_mruntime *rt = zt_model_runtime(m, kind, o->id, false);

	if (!*zt_mobj_str(o, "pubkey"))
		return;
	c->nodes++;
	c->connected += rt && rt->connected;
	c->applied += rt && rt->connected && zt_model_node_current(m, rt);
}

void zt_model_node_counts(struct zt_model *m, struct zt_node_counts *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < m->n[ZT_K_CONNECTOR]; i++)
		count_one(m, ZT_NODE_CONNECTOR, m->objs[ZT_K_CONNECTOR][i], c);
	for (size_t i = 0; i < m->n[ZT_K_DEVICE]; i++)
		count_one(m, ZT_NODE_DEVICE, m->objs[ZT_K_DEVICE][i], c);
}

int zt_model_presence_publish(struct zt_model *m, const char *instance,
			      const struct zt_node_counts *c, char *err, size_t errlen)
{
	char rev[24], conn[24], appl[24], now[24];
	const char *p[] = { instance, rev, conn, appl, now };

	snprintf(rev, sizeof(rev), "%" PRIu64, m->rev);
	snprintf(conn, sizeof(conn), "%" PRId64, c->connected);
	snprintf(appl, sizeof(appl), "%" PRId64, c->applied);
	snprintf(now, sizeof(now), "%" PRId64, m->now());
	return zt_db_exec(m->db, "INSERT INTO controllers (instance, rev, connected, applied,"
			  " updated) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (instance) DO UPDATE"
			  " SET rev = excluded.rev, connected = excluded.connected, applied ="
			  " excluded.applied, updated = excluded.updated", 5, p, err, errlen);
}

void zt_model_presence_withdraw(struct zt_model *m, const char *instance)
{
	const char *p[] = { instance };
	char err[160];

	if (zt_db_exec(m->db, "DELETE FROM controllers WHERE instance = $1", 1, p, err,
		       sizeof(err)))
		zt_log("warn", "controller: cannot withdraw from the controllers table: %s", err);
}

json_object *zt_model_presence_others(struct zt_model *m, const char *instance,
				      struct zt_node_counts *add, char *err, size_t errlen)
{
	char since[24];
	const char *p[] = { instance, since };
	struct zt_db_rows *r;
	json_object *arr;

	snprintf(since, sizeof(since), "%" PRId64, m->now() - ZT_PRESENCE_MAX_AGE);
	if (zt_db_query(m->db, "SELECT instance, rev, connected, applied, updated FROM controllers"
			" WHERE instance <> $1 AND updated >= $2 ORDER BY instance", 2, p, &r, err,
			errlen))
		return NULL;
	arr = json_object_new_array();
	for (size_t i = 0; arr && i < r->nrows; i++) {
		uint64_t rev = strtoull(zt_db_cell(r, i, 1), NULL, 10);
		int64_t connected = strtoll(zt_db_cell(r, i, 2), NULL, 10);
		int64_t applied = strtoll(zt_db_cell(r, i, 3), NULL, 10);
		json_object *o = json_object_new_object();

		/* Up to date means at this revision: a controller behind is catching up. */
		add->connected += connected;
		add->applied += rev == m->rev ? applied : 0;
		json_object_object_add(o, "instance", json_object_new_string(zt_db_cell(r, i, 0)));
		json_object_object_add(o, "rev", json_object_new_int64((int64_t)rev));
		json_object_object_add(o, "connected", json_object_new_int64(connected));
		json_object_object_add(o, "applied", json_object_new_int64(applied));
		json_object_object_add(o, "updated",
				       json_object_new_int64(strtoll(zt_db_cell(r, i, 4), NULL, 10)));
		json_object_array_add(arr, o);
	}
	zt_db_rows_free(r);
	if (!arr)
		snprintf(err, errlen, "out of memory");
	return arr;
}
