// SPDX-License-Identifier: GPL-2.0-only
/*
 * Several controllers on one database (model.h, docs/CONTROLLER.md "High
 * availability"): catching up with the others' writes and sharing runtime
 * data. zt_model_sync reads, in one snapshot, the database's revision and
 * timeline; the change log from our revision on names the objects that
 * moved, whose rows become a transaction of adds, edits and removals that
 * goes to memory through the same code as a local commit
 * (zt_model_apply_changes: affected nodes told). A replaced database
 * (another timeline), a log pruned past our revision or a database behind
 * us reloads the whole model. Connector endpoints travel through the
 * runtime table and ZT_CHANNEL_RUNTIME. Called by the controller role (on
 * NOTIFY, on a timer, before an admin write), devices.c (enrollment
 * retried), the tests.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/db.h"
#include "controller/internal.h"
#include "controller/model.h"
#include "lib/log.h"

/* The database's revision, timeline and how far its change log was pruned. */
struct db_state {
	uint64_t rev, pruned;
	char timeline[ZT_TIMELINE_LEN + 1];
};

static int read_state(struct zt_model *m, struct db_state *st, char *err, size_t errlen)
{
	struct zt_db_rows *r;
	int ret = zt_db_query(m->db, "SELECT key, value FROM meta WHERE key IN ('rev', 'timeline',"
			      " 'changes_pruned')", 0, NULL, &r, err, errlen);

	if (ret)
		return ret;
	memset(st, 0, sizeof(*st));
	for (size_t i = 0; i < r->nrows; i++) {
		const char *k = zt_db_cell(r, i, 0), *v = zt_db_cell(r, i, 1);

		if (!strcmp(k, "rev"))
			st->rev = strtoull(v, NULL, 10);
		else if (!strcmp(k, "changes_pruned"))
			st->pruned = strtoull(v, NULL, 10);
		else
			snprintf(st->timeline, sizeof(st->timeline), "%s", v);
	}
	zt_db_rows_free(r);
	return 0;
}

/* Rank of a change in the replay: removals, then edits, then additions (names free first). */
static int op_rank(const struct zt_mchange *c)
{
	return c->op == ZT_OP_RM ? 0 : c->op == ZT_OP_SET ? 1 : 2;
}

static int by_op(const void *a, const void *b)
{
	return op_rank(a) - op_rank(b);
}

/* Row I of the objects that moved, as an add or an edit of TX. */
static int row_change(struct zt_model *m, struct zt_mtx *tx, const struct zt_db_rows *r, size_t i)
{
	struct zt_mobj *o = zt_mobj_from_row(r, i), *old;

	if (!o)
		return -EBADMSG;
	old = zt_model_find_id(m, o->kind, o->id);
	return zt_mtx_add(tx, old ? ZT_OP_SET : ZT_OP_ADD, o, old);
}

/* The objects the log names between FROM and TO (one snapshot) as TX. */
static int build_replay(struct zt_model *m, uint64_t from, uint64_t to, struct zt_mtx *tx,
			char *err, size_t errlen)
{
	char f[24], t[24];
	const char *p[] = { f, t };
	struct zt_db_rows *objs = NULL, *ch = NULL;
	int ret;

	snprintf(f, sizeof(f), "%" PRIu64, from);
	snprintf(t, sizeof(t), "%" PRIu64, to);
	ret = zt_db_query(m->db, "SELECT id, kind, name, body, created, updated, actor FROM objects"
			  " WHERE id IN (SELECT id FROM changes WHERE rev > $1 AND rev <= $2)"
			  " ORDER BY id", 2, p, &objs, err, errlen);
	if (!ret)
		ret = zt_db_query(m->db, "SELECT DISTINCT kind, id FROM changes WHERE rev > $1 AND"
				  " rev <= $2 AND id NOT IN (SELECT id FROM objects)", 2, p, &ch,
				  err, errlen);
	for (size_t i = 0; !ret && i < objs->nrows; i++)
		ret = row_change(m, tx, objs, i);
	for (size_t i = 0; !ret && i < ch->nrows; i++) {
		int k = zt_kind_from_name(zt_db_cell(ch, i, 0));
		struct zt_mobj *gone = k < 0 ? NULL :
			zt_model_find_id(m, (enum zt_kind)k, strtoull(zt_db_cell(ch, i, 1), NULL, 10));

		if (gone)
			ret = zt_mtx_add(tx, ZT_OP_RM, gone, NULL);
	}
	if (ret == -EBADMSG)
		snprintf(err, errlen, "database: an object changed by another controller cannot be read");
	else if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	zt_db_rows_free(objs);
	zt_db_rows_free(ch);
	if (!ret)
		qsort(tx->ch, tx->n, sizeof(*tx->ch), by_op);
	return ret;
}

/* Swap what was loaded between A and B (the database, clock, callbacks and runtime stay). */
static void swap_loaded(struct zt_model *a, struct zt_model *b)
{
	struct zt_model t = *a;

	memcpy(a->objs, b->objs, sizeof(a->objs));
	memcpy(a->n, b->n, sizeof(a->n));
	memcpy(a->cap, b->cap, sizeof(a->cap));
	a->ix = b->ix;
	a->rev = b->rev;
	a->next_id = b->next_id;
	memcpy(a->timeline, b->timeline, sizeof(a->timeline));
	memcpy(b->objs, t.objs, sizeof(b->objs));
	memcpy(b->n, t.n, sizeof(b->n));
	memcpy(b->cap, t.cap, sizeof(b->cap));
	b->ix = t.ix;
}

/* The whole model again (inside the snapshot): every node may have moved. */
static int reload(struct zt_model *m, char *err, size_t errlen)
{
	struct zt_model *fresh = calloc(1, sizeof(*fresh));
	int ret;

	if (!fresh) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	fresh->db = m->db;
	fresh->now = m->now;
	fresh->next_id = 1;
	ret = zt_model_load(fresh, err, errlen);
	if (!ret) {
		swap_loaded(m, fresh);
		m->audit_seq = fresh->audit_seq;
		memcpy(m->audit_hash, fresh->audit_hash, sizeof(m->audit_hash));
	}
	fresh->db = NULL;	/* not closed with the old objects */
	zt_model_close(fresh);
	if (!ret && m->changed)
		m->changed(m->changed_arg, NULL);
	return ret;
}

/* Replay FROM..ST's revision into memory (inside the snapshot). */
static int replay(struct zt_model *m, const struct db_state *st, char *err, size_t errlen)
{
	struct zt_mtx tx;
	int ret;

	zt_mtx_init(&tx, "sync");
	ret = build_replay(m, m->rev, st->rev, &tx, err, errlen);
	if (!ret && (ret = zt_model_reserve(m, &tx)))
		snprintf(err, errlen, "out of memory");
	if (!ret)
		ret = zt_audit_load_head(m, err, errlen);
	if (!ret) {
		m->rev = st->rev;
		zt_model_apply_changes(m, &tx);
	}
	zt_mtx_free(&tx);
	return ret;
}

int zt_model_sync(struct zt_model *m, char *err, size_t errlen)
{
	struct db_state st;
	uint64_t from = m->rev;
	bool whole;
	int ret;

	ret = zt_db_begin_snapshot(m->db, err, errlen);
	if (ret)
		return ret;
	ret = read_state(m, &st, err, errlen);
	if (ret || (st.rev == m->rev && !strcmp(st.timeline, m->timeline)))
		goto out;
	whole = strcmp(st.timeline, m->timeline) || st.pruned > m->rev || st.rev < m->rev;
	ret = whole ? reload(m, err, errlen) : replay(m, &st, err, errlen);
	if (!ret)
		zt_log("info", "controller: caught up from rev %" PRIu64 " to %" PRIu64 " (%s)", from,
		       m->rev, whole ? "whole model reloaded" : "change log replayed");
out:
	zt_db_rollback(m->db);
	return ret;
}

int zt_model_runtime_load(struct zt_model *m, char *err, size_t errlen)
{
	struct zt_db_rows *r;
	int ret = zt_db_query(m->db, "SELECT id, endpoint FROM runtime WHERE kind = 'connector'", 0,
			      NULL, &r, err, errlen);

	if (ret)
		return ret;
	for (size_t i = 0; i < r->nrows; i++)
		zt_model_set_endpoint(m, strtoull(zt_db_cell(r, i, 0), NULL, 10), zt_db_cell(r, i, 1),
				      false);
	zt_db_rows_free(r);
	return 0;
}

void zt_model_runtime_notified(struct zt_model *m, const char *payload)
{
	char ep[64];
	uint64_t id;

	if (sscanf(payload, "connector %" SCNu64 " %63s", &id, ep) == 2)
		zt_model_set_endpoint(m, id, ep, false);
}

/* Any constant, the same in every controller: the advisory lock's key ("ztgw"). */
#define WRITE_LOCK_KEY "2054453111"

int zt_model_write_lock(struct zt_model *m, char *err, size_t errlen)
{
	if (!m->db->shared)
		return 0;
	return zt_db_exec(m->db, "SELECT pg_advisory_lock(" WRITE_LOCK_KEY ")", 0, NULL, err,
			  errlen);
}

void zt_model_write_unlock(struct zt_model *m)
{
	char err[128];

	if (m->db->shared &&
	    zt_db_exec(m->db, "SELECT pg_advisory_unlock(" WRITE_LOCK_KEY ")", 0, NULL, err,
		       sizeof(err)))
		zt_log("warn", "controller: releasing the write lock: %s", err);
}
