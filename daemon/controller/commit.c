// SPDX-License-Identifier: GPL-2.0-only
/*
 * Writing the model (model.h): transactions built by the admin operations
 * and by enrollment, committed in ONE database transaction (object rows,
 * the revision, the change log, the audit records, extra SQL) and applied
 * to memory only once committed; and the generic add, set, rm and group
 * membership operations over the kinds' rules. Called by the controller
 * role's admin commands and by devices.c/tokens.c.
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
	ret = zt_audit_append(m, *seq, hash, tx->actor, op_names[c->op], zt_kind_name(c->obj->kind),
			      c->obj->name, before, after, seq, hash, err, errlen);
	json_object_put(before);
	json_object_put(after);
	return ret;
}

/* Everything of TX inside the open transaction; the new head in SEQ/HASH. */
static int write_tx(struct zt_model *m, struct zt_mtx *tx, uint64_t *seq, char hash[65],
		    char *err, size_t errlen)
{
	uint64_t rev = m->rev + (tx->no_rev ? 0 : 1);
	char v[24];
	const char *p[] = { v };
	int ret = 0;

	for (size_t i = 0; i < tx->n && !ret; i++) {
		ret = write_change(m, &tx->ch[i], err, errlen);
		if (!ret)
			ret = log_change(m, tx, &tx->ch[i], rev, seq, hash, err, errlen);
	}
	for (size_t i = 0; i < tx->naudit && !ret; i++) {
		const struct zt_maudit *a = &tx->audit[i];

		ret = zt_audit_append(m, *seq, hash, tx->actor, a->action, a->kind, a->name,
				      a->before, a->after, seq, hash, err, errlen);
	}
	if (!ret && tx->sql)
		ret = tx->sql(m, tx->sql_arg, err, errlen);
	if (!ret && !tx->no_rev) {
		snprintf(v, sizeof(v), "%" PRIu64, rev);
		ret = zt_db_exec(m->db, "UPDATE meta SET value = $1 WHERE key = 'rev'", 1, p, err,
				 errlen);
	}
	if (!ret) {
		snprintf(v, sizeof(v), "%" PRIu64, *seq);
		ret = zt_db_exec(m->db, "UPDATE meta SET value = $1 WHERE key = 'audit_head'", 1, p,
				 err, errlen);
	}
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
static int reserve(struct zt_model *m, const struct zt_mtx *tx)
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

int zt_model_commit(struct zt_model *m, struct zt_mtx *tx, char *err, size_t errlen)
{
	uint64_t seq = m->audit_seq;
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
	ret = reserve(m, tx);
	if (ret) {
		snprintf(err, errlen, "out of memory");
		return ret;
	}
	memcpy(hash, m->audit_hash, sizeof(hash));
	ret = zt_db_begin(m->db, err, errlen);
	if (ret)
		return ret;
	ret = write_tx(m, tx, &seq, hash, err, errlen);
	if (ret) {
		zt_db_rollback(m->db);
		return ret;
	}
	ret = zt_db_commit(m->db, err, errlen);
	if (ret)
		return ret;
	m->rev += tx->no_rev ? 0 : 1;
	m->audit_seq = seq;
	memcpy(m->audit_hash, hash, sizeof(hash));
	/* Old and new relations are both still visible: before memory moves. */
	if (zt_model_tx_affected(m, tx))
		tx->affected_all = true;
	apply_tx(m, tx);
	if (m->changed && tx->affected_all)
		m->changed(m->changed_arg, NULL);
	for (size_t i = 0; m->changed && !tx->affected_all && i < tx->naffected; i++)
		m->changed(m->changed_arg, &tx->affected[i]);
	return 0;
}
