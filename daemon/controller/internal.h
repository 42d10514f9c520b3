/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Between the controller's model files only (model.c, commit.c, kinds.c,
 * netobjs.c, devices.c, tokens.c, view.c, view_conn.c, audit.c, nodes.c): object
 * storage in memory, request argument helpers, the walks the views and the
 * affected-node sets share.
 */
#ifndef ZT_CONTROLLER_INTERNAL_H
#define ZT_CONTROLLER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "controller/model.h"

struct zt_db_rows;

/* Insert O (taken) into its kind's array. 0 or -ENOMEM. */
int zt_model_insert(struct zt_model *m, struct zt_mobj *o);
void zt_mobj_free(struct zt_mobj *o);

/* Load revision, objects, timeline and audit head into an empty M. */
int zt_model_load(struct zt_model *m, char *err, size_t errlen);
/* One objects row (id, kind, name, body, created, updated, actor); NULL if unreadable. */
struct zt_mobj *zt_mobj_from_row(const struct zt_db_rows *r, size_t i);
/* Room for TX's new objects (before its commit). 0 or -ENOMEM. */
int zt_model_reserve(struct zt_model *m, const struct zt_mtx *tx);
/*
 * Committed TX into memory (room reserved), its affected nodes told
 * (changed()): the local commit and the catch-up (sync.c) share it.
 */
void zt_model_apply_changes(struct zt_model *m, struct zt_mtx *tx);

/* ARGS's string KEY, or NULL when absent or not a string. */
const char *zt_arg_str(json_object *args, const char *key);
/* ARGS's flag KEY: -1 absent, else 0 or 1. */
int zt_arg_flag(json_object *args, const char *key);
/* ARGS's KEY as an array of strings (a string alone makes one); NULL when absent. */
json_object *zt_arg_strs(json_object *args, const char *key);

/* "GROUP:RESOURCE", the name of an access rule. */
void zt_access_name(const char *group, const char *resource, char *out, size_t len);

/* ---- indexes (index.c) ---- */

/* Index O under its name, id and relations / take it out again. */
int zt_index_insert(struct zt_model *m, struct zt_mobj *o);
void zt_index_remove(struct zt_model *m, struct zt_mobj *o);
/* The objects under KEY (see index.c), *N of them; NULL when none. */
struct zt_mobj *const *zt_index_get(const struct zt_model *m, const char *key, size_t *n);
/* The objects related to NAME by PREFIX ("m", "ag", "ar", "cn", "rn", "do"). */
struct zt_mobj *const *zt_index_related(const struct zt_model *m, const char *prefix,
				       const char *name, size_t *n);
/* The first object under KEY, or NULL. */
struct zt_mobj *zt_index_one(const struct zt_model *m, const char *key);
void zt_index_free(struct zt_index *ix);

/* ---- building bodies (kinds.c, netobjs.c) ---- */

/* A copy of OLD's body (or {}), for the request's fields to go over. */
json_object *zt_body_start(const struct zt_mobj *old);
/* Letters, digits, '-', '_', '.'; 1..ZT_NAME_MAX-1 (the policy's names). */
int zt_check_name(const char *what, const char *name, char *err, size_t errlen);
int zt_build_connector(struct zt_model *m, const char *name, const struct zt_mobj *old,
		       json_object *args, json_object **out, char *err, size_t errlen);
int zt_build_resource(struct zt_model *m, const char *name, const struct zt_mobj *old,
		      json_object *args, json_object **out, char *err, size_t errlen);
int zt_build_access(struct zt_model *m, const char *name, const struct zt_mobj *old,
		    json_object *args, json_object **out, char *err, size_t errlen);
int zt_build_device(struct zt_model *m, const char *name, const struct zt_mobj *old,
		    json_object *args, json_object **out, char *err, size_t errlen);
/* relays.c: a relay's body ({"address"}); the views' "relays" array (--relay, then objects). */
int zt_build_relay(struct zt_model *m, const char *name, const struct zt_mobj *old,
		   json_object *args, json_object **out, char *err, size_t errlen);
json_object *zt_view_relays(const struct zt_model *m);

/* ---- walks (view.c) ---- */

/* A growing list of objects, sorted by id and made unique (settled) before use. */
struct zt_objs {
	const struct zt_mobj **v;
	size_t n, cap;
};
int zt_objs_add(struct zt_objs *l, const struct zt_mobj *o);
void zt_objs_settle(struct zt_objs *l);
/* The policy document's resource entry of R (CONNECTOR: the client's way to it, or NULL). */
json_object *zt_view_resource_entry(const struct zt_mobj *r, const char *connector);
/*
 * view_conn.c: network NET's connector policy as text (malloc'd, *LEN
 * bytes), assembled from the fragments kept since the last compile; NULL
 * when out of memory.
 */
char *zt_connector_policy_text(struct zt_model *m, const char *net, size_t *len);

/* Is principal P (a user or service account object) enabled and in GROUP? */
bool zt_principal_in(const struct zt_mobj *p, const char *group);
/* Does principal P reach resource RES through some access rule? */
bool zt_principal_reaches(const struct zt_model *m, const struct zt_mobj *p, const char *res);
/* The owner (user or service account) of device D, or NULL. */
struct zt_mobj *zt_device_owner(const struct zt_model *m, const struct zt_mobj *d);

/* A set of node idents under construction. */
struct zt_idents {
	struct zt_node_ident *v;
	size_t n, cap;
	bool all;
};
int zt_idents_add(struct zt_idents *s, enum zt_node_kind kind, const struct zt_mobj *o);

/* session.c: device D's session start; whether rule ACC's grant to D (of principal P) expired. */
int64_t zt_device_session_start(const struct zt_mobj *d);
bool zt_grant_expired(const struct zt_model *m, const struct zt_mobj *acc,
		      const struct zt_mobj *p, const struct zt_mobj *d);
/* keys.c: whether service account device D's key expired ("key_expires" passed). */
bool zt_device_key_expired(const struct zt_model *m, const struct zt_mobj *d);
/*
 * keys.c: `admin device set NAME --key-expires D|never` (ARGS "key_expires"):
 * service account device OLD's body with its key expiring D from now (never:
 * not at all) and its "key_expired" mark gone, into *OUT. -EINVAL with ERR
 * (a user's device, a bad duration, nothing to change).
 */
int zt_device_key_renew(struct zt_model *m, const struct zt_mobj *old, json_object *args,
			json_object **out, char *err, size_t errlen);

/*
 * hours.c: a policy's allowed hours "[DAYS ]HH:MM-HH:MM" (wall-clock time in
 * zone TZ, NULL or "" for UTC; [start, end), over midnight when start > end,
 * DAYS the days a window starts on): the parse (seconds of the day, a mask of
 * days with bit 0 Sunday; -EINVAL), whether NOW is inside, the next boundary
 * after NOW where that answer moves (0: none). zt_tz_check: TZ is a zone of
 * the system's tz database (0), not a zone name (-EINVAL), unknown (-ENOENT).
 */
int zt_hours_parse(const char *s, int *start, int *end, unsigned int *days);
bool zt_hours_allow(const char *s, const char *tz, int64_t now);
int64_t zt_hours_next(const char *s, const char *tz, int64_t now);
int zt_tz_check(const char *tz);

/*
 * audit.c's queue inside a commit: the queued records appended first in the
 * open transaction (*SEQ/HASH the chain's head, moved), then, once that
 * transaction committed, dropped; freed with the model.
 */
struct zt_apending {
	int64_t time;
	char *actor, *action, *kind, *name;
	json_object *detail;
};
int zt_audit_write_pending(struct zt_model *m, uint64_t *seq, char hash[65], char *err,
			   size_t errlen);
void zt_audit_pending_done(struct zt_model *m);
void zt_audit_pending_free(struct zt_model *m);

#endif
