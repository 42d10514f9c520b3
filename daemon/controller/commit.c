// SPDX-License-Identifier: GPL-2.0-only
/*
 * Writing the model (model.h): transactions built by the admin operations
 * and by enrollment, committed in ONE database transaction (object rows,
 * the revision, the change log, the audit records, extra SQL) and applied
 * to memory only once committed. The transaction first locks the revision
 * row: on a database shared by several controllers, writers take turns,
 * new objects take their ids from meta.next_id, the audit chain goes on
 * from the head read under that lock, and a write built on a model older
 * than the database's revision is refused with -EAGAIN (the caller catches
 * up, zt_model_sync, and builds it again). The apply to memory is shared
 * with the catch-up (sync.c). Called by the controller role's admin
 * commands, ops.c, apply.c, devices.c, tokens.c, audit.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/db.h"
#include "controller/internal.h"
#include "controller/model.h"

void zt_mtx_init(struct zt_mtx *tx, const char *actor)
{
	memset(tx, 0, sizeof(*tx));
	tx->actor = actor;
}

void zt_mtx_free(struct zt_mtx *tx)
{
	for (size_t i = 0; i < tx->n; i++)
		if (tx->ch[i].op != ZT_OP_RM)
			zt_mobj_free(tx->ch[i].obj);
	free(tx->ch);
	free(tx->affected);
	tx->affected = NULL;
	for (size_t i = 0; i < tx->naudit; i++) {
		json_object_put(tx->audit[i].before);
		json_object_put(tx->audit[i].after);
	}
	tx->ch = NULL;
	tx->n = tx->naudit = 0;
}

struct zt_mobj *zt_mobj_new(struct zt_model *m, enum zt_kind k, const char *name,
			    json_object *body)
{
	struct zt_mobj *o = calloc(1, sizeof(*o));

	if (!o) {
		json_object_put(body);
		return NULL;
	}
	o->kind = k;
	o->id = m->next_id++;	/* never reused, a failed write leaves a gap */
	o->name = strdup(name);
	o->body = body;
	o->created = o->updated = m->now();
	if (!o->name) {
		zt_mobj_free(o);
		return NULL;
	}
	return o;
}

struct zt_mobj *zt_mobj_edit(struct zt_model *m, const struct zt_mobj *old, json_object *body)
{
	struct zt_mobj *o = zt_mobj_new(m, old->kind, old->name, body);

	if (o) {
		m->next_id--;
		o->id = old->id;
		o->created = old->created;
	}
	return o;
}

int zt_mtx_add(struct zt_mtx *tx, enum zt_mop op, struct zt_mobj *obj, struct zt_mobj *old)
{
	if (tx->n == tx->cap) {
		size_t cap = tx->cap ? tx->cap * 2 : 4;
		struct zt_mchange *c = realloc(tx->ch, cap * sizeof(*c));

		if (!c) {
			if (op != ZT_OP_RM)
				zt_mobj_free(obj);
			return -ENOMEM;
		}
		tx->ch = c;
		tx->cap = cap;
	}
	tx->ch[tx->n++] = (struct zt_mchange){ .op = op, .obj = obj, .old = old };
	return 0;
}

void zt_mtx_audit(struct zt_mtx *tx, const char *action, const char *kind, const char *name,
		  json_object *before, json_object *after)
{
	if (tx->naudit == sizeof(tx->audit) / sizeof(tx->audit[0])) {
		json_object_put(before);
		json_object_put(after);
		return;
	}
	tx->audit[tx->naudit++] = (struct zt_maudit){ .action = action, .kind = kind,
						      .name = name, .before = before, .after = after };
}

static const char *const op_names[] = { [ZT_OP_ADD] = "create", [ZT_OP_SET] = "update",
					[ZT_OP_RM] = "delete" };

/* The object row's SQL for change C. */
static int write_change(struct zt_model *m, const struct zt_mchange *c, char *err, size_t errlen)
{
	const struct zt_mobj *o = c->obj;
	char id[24], created[24], updated[24];
	const char *body = json_object_to_json_string_ext(o->body, JSON_C_TO_STRING_PLAIN);

	snprintf(id, sizeof(id), "%" PRIu64, o->id);
	snprintf(created, sizeof(created), "%" PRId64, o->created);
	snprintf(updated, sizeof(updated), "%" PRId64, o->updated);
	if (c->op == ZT_OP_ADD) {
		const char *p[] = { id, zt_kind_name(o->kind), o->name, body, created, updated,
				    o->actor };

		return zt_db_exec(m->db, "INSERT INTO objects (id, kind, name, body, created,"
				  " updated, actor) VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, p,
				  err, errlen);
	}
	if (c->op == ZT_OP_SET) {
		const char *p[] = { body, updated, o->actor, id };

		return zt_db_exec(m->db, "UPDATE objects SET body = $1, updated = $2, actor = $3"
				  " WHERE id = $4", 4, p, err, errlen);
	}
	{
		const char *p[] = { id };

		return zt_db_exec(m->db, "DELETE FROM objects WHERE id = $1", 1, p, err, errlen);
	}
}

/* Change C's log row and audit record. */
static int log_change(struct zt_model *m, struct zt_mtx *tx, const struct zt_mchange *c,
		      uint64_t rev, uint64_t *seq, char hash[65], char *err, size_t errlen)
{
	char r[24], id[24], now[24];
	const char *p[] = { r, zt_kind_name(c->obj->kind), id, op_names[c->op], now };
	json_object *before = NULL, *after = NULL;
	int ret;

	snprintf(r, sizeof(r), "%" PRIu64, rev);
	snprintf(id, sizeof(id), "%" PRIu64, c->obj->id);
	snprintf(now, sizeof(now), "%" PRId64, m->now());
	ret = zt_db_exec(m->db, "INSERT INTO changes (rev, kind, id, op, time) VALUES"
			 " ($1, $2, $3, $4, $5)", 5, p, err, errlen);
	if (ret)
		return ret;
	if (c->op != ZT_OP_ADD)
		before = zt_mobj_to_json(c->op == ZT_OP_SET ? c->old : c->obj);
	if (c->op != ZT_OP_RM)
		after = zt_mobj_to_json(c->obj);
	ret = zt_audit_append(m, *seq, hash, m->now(), tx->actor, op_names[c->op],
			      zt_kind_name(c->obj->kind), c->obj->name, before, after, seq, hash, err, errlen);
	json_object_put(before);
	json_object_put(after);
	return ret;
}

/* The database's state under the revision row's lock. */
struct head {
	uint64_t rev, next_id;
	char timeline[ZT_TIMELINE_LEN + 1];
};

/* Lock the revision row; read the revision, the next id, the timeline and the audit head. */
static int lock_head(struct zt_model *m, struct head *h, char *err, size_t errlen)
{
	struct zt_db_rows *r = NULL;
	int ret;

	ret = zt_db_query(m->db, m->db->shared ? "SELECT value FROM meta WHERE key = 'rev' FOR UPDATE"
			  : "SELECT value FROM meta WHERE key = 'rev'", 0, NULL, &r, err, errlen);
	if (ret)
		goto out;
	h->rev = zt_db_cell(r, 0, 0) ? strtoull(zt_db_cell(r, 0, 0), NULL, 10) : 0;
	zt_db_rows_free(r);
	ret = zt_db_query(m->db, "SELECT key, value FROM meta WHERE key IN ('next_id', 'timeline')",
			  0, NULL, &r, err, errlen);
	if (ret)
		goto out;
	h->next_id = m->next_id;
	h->timeline[0] = '\0';
	for (size_t i = 0; i < r->nrows; i++) {
		if (!strcmp(zt_db_cell(r, i, 0), "next_id"))
			h->next_id = strtoull(zt_db_cell(r, i, 1), NULL, 10);
		else
			snprintf(h->timeline, sizeof(h->timeline), "%s", zt_db_cell(r, i, 1));
	}
	ret = zt_audit_load_head(m, err, errlen);
out:
	zt_db_rows_free(r);
	return ret;
}

/* New objects take their ids from the database's counter, in order. */
static void number_adds(struct zt_mtx *tx, struct head *h)
{
	for (size_t i = 0; i < tx->n; i++)
		if (tx->ch[i].op == ZT_OP_ADD)
			tx->ch[i].obj->id = h->next_id++;
}

/* The counters after TX: revision, next id, audit head; and the NOTIFY. */
static int write_counters(struct zt_model *m, struct zt_mtx *tx, const struct head *h,
			  uint64_t rev, uint64_t seq, char *err, size_t errlen)
{
	char v[24], n[24], s[24];
	const char *p[] = { v }, *pn[] = { n }, *ps[] = { s };
	int ret = 0;

	snprintf(v, sizeof(v), "%" PRIu64, rev);
	snprintf(n, sizeof(n), "%" PRIu64, h->next_id);
	snprintf(s, sizeof(s), "%" PRIu64, seq);
	if (!tx->no_rev) {
		ret = zt_db_exec(m->db, "UPDATE meta SET value = $1 WHERE key = 'rev'", 1, p, err,
				 errlen);
		if (!ret)
			ret = zt_db_exec(m->db, "UPDATE meta SET value = $1 WHERE key = 'next_id'", 1,
					 pn, err, errlen);
		/* Delivered at commit, to every controller LISTENing (ours too). */
		if (!ret && m->db->shared)
			ret = zt_db_exec(m->db, "SELECT pg_notify('" ZT_CHANNEL_REV "', $1)", 1, p, err,
					 errlen);
	}
	if (!ret)
		ret = zt_db_exec(m->db, "UPDATE meta SET value = $1 WHERE key = 'audit_head'", 1, ps,
				 err, errlen);
	return ret;
}

/*
 * The change log past m->keep_changes revisions goes, in the write's own
 * transaction (under the revision row's lock), and meta.changes_pruned
 * says up to where: a controller behind it reloads the whole model
 * (sync.c). Every ZT_PRUNE_EVERY revisions, so a write rarely pays for it.
 */
static int prune_changes(struct zt_model *m, uint64_t rev, char *err, size_t errlen)
{
	uint64_t keep = m->keep_changes ? m->keep_changes : ZT_CHANGES_KEEP;
	uint64_t every = keep < ZT_PRUNE_EVERY ? keep : ZT_PRUNE_EVERY;
	char upto[24];
	const char *p[] = { upto };
	int ret;

	if (rev <= keep || rev % every)
		return 0;
	snprintf(upto, sizeof(upto), "%" PRIu64, rev - keep);
	ret = zt_db_exec(m->db, "DELETE FROM changes WHERE rev <= $1", 1, p, err, errlen);
	if (!ret)
		ret = zt_db_exec(m->db, "UPDATE meta SET value = $1 WHERE key = 'changes_pruned'", 1,
				 p, err, errlen);
	return ret;
}

/* Everything of TX inside the open transaction; the new head in SEQ/HASH. */
static int write_tx(struct zt_model *m, struct zt_mtx *tx, const struct head *h, uint64_t *seq,
		    char hash[65], char *err, size_t errlen)
{
	uint64_t rev = h->rev + (tx->no_rev ? 0 : 1);
	/* Runtime records queued before this write come before its own. */
	int ret = zt_audit_write_pending(m, seq, hash, err, errlen);

	for (size_t i = 0; i < tx->n && !ret; i++) {
		ret = write_change(m, &tx->ch[i], err, errlen);
		if (!ret)
			ret = log_change(m, tx, &tx->ch[i], rev, seq, hash, err, errlen);
	}
	for (size_t i = 0; i < tx->naudit && !ret; i++) {
		const struct zt_maudit *a = &tx->audit[i];

		ret = zt_audit_append(m, *seq, hash, m->now(), tx->actor, a->action, a->kind,
				      a->name, a->before, a->after, seq, hash, err, errlen);
	}
	if (!ret && tx->sql)
		ret = tx->sql(m, tx->sql_arg, err, errlen);
	if (!ret && !tx->no_rev)
		ret = prune_changes(m, rev, err, errlen);
	if (!ret)
		ret = write_counters(m, tx, h, rev, *seq, err, errlen);
	return ret;
}

/* Remove O from its kind's array and free it. */
static void remove_obj(struct zt_model *m, struct zt_mobj *o)
{
	enum zt_kind k = o->kind;

	zt_index_remove(m, o);
	for (size_t i = 0; i < m->n[k]; i++) {
		if (m->objs[k][i] == o) {
			memmove(&m->objs[k][i], &m->objs[k][i + 1], (m->n[k] - i - 1) * sizeof(o));
			m->n[k]--;
			break;
		}
	}
	zt_mobj_free(o);
}

/* The committed TX into memory (cannot fail: room was made before). */
static void apply_tx(struct zt_model *m, struct zt_mtx *tx)
{
	for (size_t i = 0; i < tx->n; i++) {
		struct zt_mchange *c = &tx->ch[i];

		if (c->op == ZT_OP_RM) {
			remove_obj(m, c->obj);
		} else if (c->op == ZT_OP_SET) {
			enum zt_kind k = c->obj->kind;

			for (size_t j = 0; j < m->n[k]; j++)
				if (m->objs[k][j] == c->old)
					m->objs[k][j] = c->obj;
			zt_index_remove(m, c->old);
			zt_index_insert(m, c->obj);	/* ENOMEM: lookups miss it until restart */
			zt_mobj_free(c->old);
		} else {
			zt_model_insert(m, c->obj);
		}
		c->obj = NULL;
		c->old = NULL;
		c->op = ZT_OP_SET;	/* nothing left to free */
	}
}

/* Room in every array TX adds to, before anything is written. */
int zt_model_reserve(struct zt_model *m, const struct zt_mtx *tx)
{
	size_t add[ZT_K__COUNT] = { 0 };

	for (size_t i = 0; i < tx->n; i++)
		add[tx->ch[i].obj->kind] += tx->ch[i].op == ZT_OP_ADD;
	for (int k = 0; k < ZT_K__COUNT; k++) {
		size_t need = m->n[k] + add[k], cap = m->cap[k] ? m->cap[k] : 16;
		struct zt_mobj **a;

		if (need <= m->cap[k])
			continue;
		while (cap < need)
			cap *= 2;
		a = realloc(m->objs[k], cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		m->objs[k] = a;
		m->cap[k] = cap;
	}
	return 0;
}

void zt_model_apply_changes(struct zt_model *m, struct zt_mtx *tx)
{
	/* Old and new relations are both still visible: before memory moves. */
	if (zt_model_tx_affected(m, tx))
		tx->affected_all = true;
	apply_tx(m, tx);
	if (m->changed && tx->affected_all)
		m->changed(m->changed_arg, NULL);
	for (size_t i = 0; m->changed && !tx->affected_all && i < tx->naffected; i++)
		m->changed(m->changed_arg, &tx->affected[i]);
}

/* Lock, check that TX was built on the database's revision, write it. */
static int locked_write(struct zt_model *m, struct zt_mtx *tx, struct head *h, uint64_t *seq,
			char hash[65], char *err, size_t errlen)
{
	int ret = lock_head(m, h, err, errlen);

	if (ret)
		return ret;
	if (!tx->no_rev && (h->rev != m->rev || strcmp(h->timeline, m->timeline))) {
		m->conflict = true;
		snprintf(err, errlen, "another controller changed the model at the same time"
			 " (rev %" PRIu64 ", this one had %" PRIu64 "): try again", h->rev, m->rev);
		return -EAGAIN;
	}
	number_adds(tx, h);
	*seq = m->audit_seq;
	memcpy(hash, m->audit_hash, 65);
	return write_tx(m, tx, h, seq, hash, err, errlen);
}

int zt_model_commit(struct zt_model *m, struct zt_mtx *tx, char *err, size_t errlen)
{
	struct head h;
	uint64_t seq;
	char hash[65];
	int ret;

	for (size_t i = 0; i < tx->n; i++) {
		struct zt_mobj *o = tx->ch[i].obj;

		if (tx->ch[i].op != ZT_OP_RM) {
			free(o->actor);
			o->actor = strdup(tx->actor);
			if (!o->actor) {
				snprintf(err, errlen, "out of memory");
				return -ENOMEM;
			}
		}
	}
	ret = zt_model_reserve(m, tx);
	if (ret) {
		snprintf(err, errlen, "out of memory");
		return ret;
	}
	ret = zt_db_begin(m->db, err, errlen);
	if (ret)
		return ret;
	ret = locked_write(m, tx, &h, &seq, hash, err, errlen);
	if (ret) {
		zt_db_rollback(m->db);
		return ret;
	}
	ret = zt_db_commit(m->db, err, errlen);
	if (ret)
		return ret;
	if (!tx->no_rev)	/* an audit-only write does not catch up: sync does */
		m->rev = h.rev + 1;
	m->next_id = h.next_id;
	m->audit_seq = seq;
	memcpy(m->audit_hash, hash, sizeof(hash));
	zt_audit_pending_done(m);
	zt_model_apply_changes(m, tx);
	return 0;
}
