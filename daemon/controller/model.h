/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The controller's model: users, groups, service accounts, remote networks,
 * connectors, resources, security policies, access rules, devices and
 * relays, held
 * in memory and stored in the database (db.h). Every object has a stable
 * id, a unique name within its kind, created/updated times and the actor
 * who last changed it; its kind's fields are a normalised JSON body.
 *
 * Writes: an admin command builds the new objects, validated against the
 * in-memory model (one-line errors), then zt_model_commit writes them in ONE
 * transaction (object rows, the revision bump, the change log, the audit
 * records); only after the commit is memory updated. A database error fails
 * the command and changes nothing.
 *
 * Runtime data (a node's endpoint, connected, applied revision) is kept
 * apart, in memory only: it never bumps the revision nor writes the model.
 *
 * Files: model.c (load, lookup, commit), kinds.c (users, groups, service
 * accounts, networks, policies), netobjs.c (connectors, resources, access),
 * relays.c (relays: the rules, the views' set), devices.c (enrollment's
 * devices, tunnel addresses), tokens.c, view.c,
 * audit.c, nodes.c (the node server's operations).
 * Callers: daemon/roles/controller*.c, tests/unit/test_controller_*.c.
 */
#ifndef ZT_CONTROLLER_MODEL_H
#define ZT_CONTROLLER_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "controller/node_server.h"
#include "controlplane/token.h"
#include "tunnel/keys.h"

struct zt_db;
struct zt_index;

/* A database's identity (meta.timeline): another one means a replaced database. */
#define ZT_TIMELINE_LEN		32
/* NOTIFY channels on a shared database: a new revision; a node's runtime data. */
#define ZT_CHANNEL_REV		"ztgate_rev"
#define ZT_CHANNEL_RUNTIME	"ztgate_runtime"

enum zt_kind {
	ZT_K_USER,
	ZT_K_GROUP,
	ZT_K_SA,		/* service account */
	ZT_K_NETWORK,
	ZT_K_CONNECTOR,
	ZT_K_RESOURCE,
	ZT_K_POLICY,		/* security policy */
	ZT_K_ACCESS,		/* group -> resource; name "GROUP:RESOURCE" */
	ZT_K_DEVICE,
	ZT_K_RELAY,		/* a relay every view names: {"address": "HOST:PORT"} (relays.c) */
	ZT_K__COUNT,
};

struct zt_mobj {
	uint64_t id;
	enum zt_kind kind;
	char *name;
	json_object *body;
	int64_t created, updated;	/* Unix seconds */
	char *actor;
};

/* A node's runtime data, never stored. */
struct zt_mruntime {
	enum zt_node_kind kind;
	uint64_t id;
	bool connected;
	char endpoint[64];		/* a connector's tunnel endpoint, "" unknown */
	char seen[64];			/* the address its connection came from ("IP:PORT") */
	uint64_t applied_rev;
	uint64_t wanted_rev;		/* the revision of the last change that concerned its view */
	int64_t since;
};

struct zt_model {
	struct zt_db *db;
	uint64_t rev;			/* bumped by every committed write */
	uint64_t all_wanted_rev;	/* the last change that concerned every view */
	uint64_t next_id;
	uint32_t addr_hint;		/* where the next tunnel address is looked for */
	struct zt_mobj **objs[ZT_K__COUNT];
	size_t n[ZT_K__COUNT], cap[ZT_K__COUNT];
	struct zt_index *ix;		/* names, ids, relations (index.c) */
	char timeline[ZT_TIMELINE_LEN + 1];	/* the database's, as loaded */
	bool conflict;			/* the last commit was refused: the model moved (-EAGAIN) */
	uint64_t audit_seq;		/* the last record's */
	char audit_hash[65];		/* its hash ("0"*64 before the first) */
	uint8_t controller_pub[ZT_KEY_LEN];
	char **relays;			/* --relay "HOST:PORT": every view carries them and the relay objects */
	size_t nrelays;
	struct zt_mruntime *rt;
	size_t nrt, rtcap;
	size_t *rtix, rtixcap;		/* rt by (kind, id): index + 1, 0 empty */
	struct zt_grant_cache *gcache;	/* per network: its connector view's fragments (view_conn.c) */
	size_t ngcache;
	int64_t (*now)(void);		/* the clock (tests replace it) */
	struct zt_connlog *connlog;	/* connectors' connection lines (runtime, connlog.h) */
	int64_t expiry_checked;		/* sessions that expired up to here were acted on */
	int64_t tokens_pruned;		/* when the tokens table was last pruned (tokens.c) */
	uint64_t keep_changes;		/* revisions the change log keeps (commit.c prunes) */
	/*
	 * Called after every commit for each node whose view it may change
	 * (IDENT NULL: every node), and when a connector's endpoint moves. The
	 * controller role passes them to zt_node_server_changed.
	 */
	void (*changed)(void *arg, const struct zt_node_ident *ident);
	void *changed_arg;
	/*
	 * Runtime audit records queued for the next transaction (audit.c):
	 * audit_queued() is called when the queue stops being empty; the
	 * controller role then flushes it within ZT_AUDIT_FLUSH_MS.
	 */
	struct zt_apending *apend;
	size_t napend, apendcap;
	void (*audit_queued)(void *arg);
	void *audit_queued_arg;
};

/* The kind named NAME ("user", "service-account", ...) or -1. */
int zt_kind_from_name(const char *name);
const char *zt_kind_name(enum zt_kind k);

/*
 * Open the database URL (db.h: NULL for STATE_DIR/controller.db), migrate
 * it, load everything. 0 or -errno with ERR set.
 */
int zt_model_open(struct zt_model **out, const char *url, const char *state_dir,
		  const uint8_t controller_pub[ZT_KEY_LEN], char *err, size_t errlen);
void zt_model_close(struct zt_model *m);
/* Add a relay (--relay) every view names, besides the relay objects. 0 or -ENOMEM. */
int zt_model_add_relay(struct zt_model *m, const char *hostport);
/*
 * HOST:PORT as a relay's address (relays.c, with the relay client's parser):
 * 0, or -EINVAL with ERR saying why. --relay and relay objects both pass it.
 */
#define ZT_MODEL_RELAYS_MAX	8	/* relay objects (a node takes at most 8 relays) */
int zt_relay_address_check(const char *hostport, char *err, size_t errlen);

struct zt_mobj *zt_model_find(const struct zt_model *m, enum zt_kind k, const char *name);
struct zt_mobj *zt_model_find_id(const struct zt_model *m, enum zt_kind k, uint64_t id);
/* The object as the admin API shows it: {"id","kind","name",...body,"created","updated","actor"}. */
json_object *zt_mobj_to_json(const struct zt_mobj *o);

/* ---- body fields ---- */
const char *zt_mobj_str(const struct zt_mobj *o, const char *key);	/* "" when absent */
bool zt_mobj_bool(const struct zt_mobj *o, const char *key);
/* Does O's string array KEY hold VALUE? */
bool zt_mobj_has(const struct zt_mobj *o, const char *key, const char *value);

/* ---- writes ---- */

enum zt_mop { ZT_OP_ADD = 1, ZT_OP_SET, ZT_OP_RM };

struct zt_mchange {
	enum zt_mop op;
	struct zt_mobj *obj;	/* ADD/SET: the new object (owned by the tx); RM: the model's */
	struct zt_mobj *old;	/* SET: the model's current object */
};

/* An extra audit record of the transaction (token created, token used...). */
struct zt_maudit {
	const char *action;
	const char *kind, *name;
	json_object *before, *after;	/* owned by the tx */
};

/* Extra SQL run inside the transaction (tokens). */
typedef int (*zt_mtx_sql_fn)(struct zt_model *m, void *arg, char *err, size_t errlen);

struct zt_mtx {
	const char *actor;
	struct zt_mchange *ch;
	size_t n, cap;
	struct zt_maudit audit[4];
	size_t naudit;
	zt_mtx_sql_fn sql;
	void *sql_arg;
	bool no_rev;		/* audit only: runtime events (connect, token refused) */
	/* Filled by a commit: the nodes whose views it may change (all: every node). */
	struct zt_node_ident *affected;
	size_t naffected;
	bool affected_all;
};

void zt_mtx_init(struct zt_mtx *tx, const char *actor);
/* Free what the tx still owns (after a commit or a failure). */
void zt_mtx_free(struct zt_mtx *tx);
/* A new object of kind K named NAME with BODY (taken) for an ADD. NULL on ENOMEM. */
struct zt_mobj *zt_mobj_new(struct zt_model *m, enum zt_kind k, const char *name,
			    json_object *body);
/* A copy of OLD (id, created kept) with BODY (taken), for a SET. NULL on ENOMEM. */
struct zt_mobj *zt_mobj_edit(struct zt_model *m, const struct zt_mobj *old, json_object *body);
int zt_mtx_add(struct zt_mtx *tx, enum zt_mop op, struct zt_mobj *obj, struct zt_mobj *old);
/* Record an extra audit line (BEFORE/AFTER taken, may be NULL). */
void zt_mtx_audit(struct zt_mtx *tx, const char *action, const char *kind, const char *name,
		  json_object *before, json_object *after);
/*
 * Write TX in one transaction and, once committed, apply it to memory. 0 or
 * -errno with ERR set (nothing changed, in the database or in memory).
 * -EAGAIN (and m->conflict set): another controller wrote first and TX was
 * built on an older model: zt_model_sync, then build it again.
 */
int zt_model_commit(struct zt_model *m, struct zt_mtx *tx, char *err, size_t errlen);
/*
 * The change log keeps the last ZT_CHANGES_KEEP revisions by default
 * (--keep-changes): a controller further behind reloads the whole model.
 * Writes prune it every ZT_PRUNE_EVERY revisions (or every keep, if less).
 */
#define ZT_CHANGES_KEEP		100000
#define ZT_PRUNE_EVERY		256
/* How many times a write is built again after -EAGAIN before it fails. */
#define ZT_WRITE_TRIES		8

/* ---- several controllers on one database (sync.c) ---- */

/*
 * Catch up with the database: replay the change log from m->rev to the
 * database's revision into memory (as a local commit would, changed()
 * called for the affected nodes), or reload the whole model when the log
 * no longer reaches back to m->rev or the database was replaced (another
 * timeline; changed(NULL)). 0 or -errno with ERR set (memory unchanged).
 */
int zt_model_sync(struct zt_model *m, char *err, size_t errlen);
/*
 * Writers on a shared database take turns: zt_model_write_lock waits for
 * the other controllers' write in progress (a PostgreSQL advisory lock,
 * released with the session if a controller dies), so catch-up, build and
 * commit see no write in between and a busy peer cannot starve us with
 * -EAGAIN. No-op on SQLite (one controller). 0 or -errno with ERR set.
 */
int zt_model_write_lock(struct zt_model *m, char *err, size_t errlen);
void zt_model_write_unlock(struct zt_model *m);
/*
 * Connector ID's tunnel endpoint is EP: the devices that list it are told
 * (changed()). PUBLISH: a report from the connector itself, written to the
 * runtime table and NOTIFYed on a shared database (no revision, no audit).
 */
void zt_model_set_endpoint(struct zt_model *m, uint64_t id, const char *ep, bool publish);
/* Every shared endpoint from the runtime table (at start, after a reconnect). */
int zt_model_runtime_load(struct zt_model *m, char *err, size_t errlen);
/* A ZT_CHANNEL_RUNTIME notification's payload: "connector ID ENDPOINT". */
void zt_model_runtime_notified(struct zt_model *m, const char *payload);

/* ---- admin operations (the kinds' rules: kinds.c, netobjs.c) ---- */

/*
 * Add NAME of kind K from ARGS (the admin request's fields). The new
 * object's JSON in *OUT (the caller puts it). 0 or -errno with ERR set:
 * -EINVAL bad input, -EEXIST duplicate, -ENOENT unknown reference.
 */
int zt_model_add(struct zt_model *m, enum zt_kind k, const char *name, json_object *args,
		 const char *actor, json_object **out, char *err, size_t errlen);
/* Change NAME's fields given in ARGS; the rest stays. */
int zt_model_set(struct zt_model *m, enum zt_kind k, const char *name, json_object *args,
		 const char *actor, json_object **out, char *err, size_t errlen);
/* Remove NAME: refused (-EBUSY) while others use it; a user's devices go with it. */
int zt_model_rm(struct zt_model *m, enum zt_kind k, const char *name, const char *actor,
		char *err, size_t errlen);
/* Add MEMBER (an email: a user; else a service account) to GROUP, or take it out. */
int zt_model_member(struct zt_model *m, const char *group, const char *member, bool add,
		    const char *actor, char *err, size_t errlen);
/*
 * Make the model what DOC (zt_model_export's form, plus optional "tests")
 * says, validated whole, in one transaction; with DRY_RUN only list what
 * would change. *CHANGES: ["+ user bob", "~ resource nas", "- group ops"].
 * 0 or -errno with ERR naming the entry ("resource[2]: unknown network").
 */
int zt_model_apply(struct zt_model *m, json_object *doc, bool dry_run, const char *actor,
		   json_object **changes, char *err, size_t errlen);
/* Every object of K as an array. */
json_object *zt_model_list(const struct zt_model *m, enum zt_kind k);
/* {"rev", "users": [...], "groups": [...], ...}: the whole model. */
json_object *zt_model_export(const struct zt_model *m);

/* Builders and rules of each kind (kinds.c, netobjs.c; model.c dispatches). */
struct zt_kind_rules {
	/*
	 * The normalised body of NAME from ARGS over OLD's body (NULL for an
	 * add). 0 or -errno with ERR set.
	 */
	int (*build)(struct zt_model *m, const char *name, const struct zt_mobj *old,
		     json_object *args, json_object **body, char *err, size_t errlen);
	/* 0, or -EBUSY with ERR naming what still uses O. */
	int (*in_use)(const struct zt_model *m, const struct zt_mobj *o, char *err, size_t errlen);
};
extern const struct zt_kind_rules zt_kind_rules[ZT_K__COUNT];

/* ---- tokens (tokens.c) ---- */

#define ZT_TOKEN_DEFAULT_TTL_S	(24 * 3600)

/*
 * A one-time enrollment token for connector NAME (KIND ZT_K_CONNECTOR), or
 * for a new device of user/service account NAME: its text into TEXT
 * (ZT_TOKEN_TEXT_LEN + 1), valid TTL_S seconds. KEY_TTL_S (service
 * accounts only; 0: none): the enrolled key expires that long after its
 * enrollment (keys.c). 0 or -errno with ERR set.
 */
int zt_model_token(struct zt_model *m, enum zt_kind kind, const char *name, int64_t ttl_s,
		   int64_t key_ttl_s, const char *actor, char *text, size_t textlen,
		   int64_t *expires, char *err, size_t errlen);
/*
 * COUNT (1..ZT_TOKENS_MAX) tokens for the same target in one transaction
 * (`admin device token --count N`), into TEXTS; one audit record each.
 */
#define ZT_TOKENS_MAX	10000
int zt_model_tokens(struct zt_model *m, enum zt_kind kind, const char *name, int64_t ttl_s,
		    int64_t key_ttl_s, const char *actor, size_t count,
		    char (*texts)[ZT_TOKEN_TEXT_LEN + 1], int64_t *expires, char *err, size_t errlen);
/*
 * Tokens used, or expired unused, more than ZT_TOKENS_KEEP_S ago are
 * deleted (a used one shown again is then "unknown token" rather than
 * "already used"; the audit trail keeps its create and use records),
 * audited "token.prune" with the count, at most once per
 * ZT_TOKENS_PRUNE_EVERY_S (the role's expiry timer calls it; *NEXT: when
 * to call again). The number deleted, or -errno with ERR.
 */
#define ZT_TOKENS_KEEP_S	(7 * 86400)
#define ZT_TOKENS_PRUNE_EVERY_S	3600
int zt_model_prune_tokens(struct zt_model *m, int64_t *next, char *err, size_t errlen);
/* "24h", "30m", "3600" (seconds), "7d" as seconds; -EINVAL. */
int zt_parse_duration(const char *s, int64_t *out);

/* ---- admin API keys (apikeys.c) ---- */

/*
 * A new API key NAME with ROLE ("read-only" or "read-write"), valid TTL_S
 * seconds (0: until removed): its text (shown once) into TEXT
 * (ZT_APIKEY_TEXT_LEN + 1), its record into *OUT. 0 or -errno with ERR.
 */
int zt_model_apikey_add(struct zt_model *m, const char *name, const char *role, int64_t ttl_s,
			const char *actor, char *text, size_t textlen, json_object **out,
			char *err, size_t errlen);
/* Every key (NAME NULL) or the one NAME: [{"name","role","created","expires","actor"}]. */
json_object *zt_model_apikey_list(struct zt_model *m, const char *name, char *err, size_t errlen);
/* Remove (revoke) NAME: -ENOENT when there is none. */
int zt_model_apikey_rm(struct zt_model *m, const char *name, const char *actor, char *err,
		       size_t errlen);
/*
 * The key whose secret hashes to HASH: 0 with its NAME and *READ_ONLY, or
 * -EACCES (unknown, expired: audited "api-key.refused"), -errno with ERR.
 */
int zt_model_apikey_check(struct zt_model *m, const char *hash, char *name, size_t namelen,
			  bool *read_only, char *err, size_t errlen);

/* ---- enrollment and nodes (devices.c, nodes.c) ---- */

/* The node server's operations, CTX a struct zt_model. */
extern const struct zt_node_server_ops zt_model_node_ops;
int zt_model_enroll(struct zt_model *m, const char *token_hash, const uint8_t pub[ZT_KEY_LEN],
		    json_object *hello, struct zt_node_ident *ident, char *err, size_t errlen);
int zt_model_lookup_key(const struct zt_model *m, const uint8_t pub[ZT_KEY_LEN],
			struct zt_node_ident *ident);
/* The next free tunnel address in 100.64.0.0/12 as text. -ENOSPC when full. */
int zt_model_next_address(const struct zt_model *m, char *out, size_t len);
struct zt_mruntime *zt_model_runtime(struct zt_model *m, enum zt_node_kind kind, uint64_t id,
				     bool create);
/*
 * The current revision concerns IDENT's view (NULL: every view): the node is
 * up to date again once it applied a view of this revision or later.
 */
void zt_model_want_current(struct zt_model *m, const struct zt_node_ident *ident);
/* IDENT applied (or holds, unchanged) its view of the wanted revision. */
bool zt_model_node_current(const struct zt_model *m, const struct zt_mruntime *rt);

/* ---- nodes connected and up to date, over every controller (presence.c) ---- */

struct zt_node_counts {
	int64_t nodes;		/* enrolled (with a key) */
	int64_t connected;	/* to this controller */
	int64_t applied;	/* connected and up to date */
};
/* Seconds after which a controller's row counts for nothing (it is gone). */
#define ZT_PRESENCE_MAX_AGE	10
/* This controller's nodes. */
void zt_model_node_counts(struct zt_model *m, struct zt_node_counts *c);
/* Shared database: this controller's (INSTANCE) counts into the controllers table. */
int zt_model_presence_publish(struct zt_model *m, const char *instance,
			      const struct zt_node_counts *c, char *err, size_t errlen);
/* Its row out (a clean stop). */
void zt_model_presence_withdraw(struct zt_model *m, const char *instance);
/*
 * The other live controllers' rows as a JSON array (NULL and ERR on a
 * database error); their connected nodes, and their applied ones if they
 * are at our revision, added to ADD.
 */
json_object *zt_model_presence_others(struct zt_model *m, const char *instance,
				      struct zt_node_counts *add, char *err, size_t errlen);

/* ---- views (view.c) ---- */

/*
 * The view of node IDENT (node_server.h) as its plain JSON text (malloc'd,
 * *LEN bytes): what json-c's JSON_C_TO_STRING_PLAIN gives for the view's
 * tree, byte for byte (what a node hashes and verifies). NULL if the node
 * no longer exists or out of memory.
 */
char *zt_model_view_text(struct zt_model *m, const struct zt_node_ident *ident, uint64_t *rev,
			 size_t *len);
/* The same view as a json-c tree (that text parsed), NULL as above. */
json_object *zt_model_view(struct zt_model *m, const struct zt_node_ident *ident, uint64_t *rev);
/* Drop what views keep between compiles (view_conn.c; zt_model_close does). */
void zt_view_cache_free(struct zt_model *m);
/*
 * The nodes whose view a change of object O (of kind K; its old body in
 * OLD_BODY when edited/removed, may be NULL) may touch: *OUT malloc'd
 * idents, *N of them. Returns 1 when every node may be touched (*OUT NULL),
 * 0, or -ENOMEM.
 */
int zt_model_affected(const struct zt_model *m, const struct zt_mobj *o, json_object *old_body,
		      struct zt_node_ident **out, size_t *n);
/*
 * The nodes object K NAME is or owns (a device; a connector; a user's or a
 * service account's devices), for cutting their sessions when it goes:
 * *OUT malloc'd (NULL when none), *N of them. 0 or -ENOMEM.
 */
int zt_model_nodes_of(const struct zt_model *m, enum zt_kind k, const char *name,
		      struct zt_node_ident **out, size_t *n);
/*
 * Sessions (session.c): the views of the connectors whose grants lost a
 * device whose session expired, or whose rule's allowed hours began or
 * ended, since the last call are marked changed; returns the next expiry
 * or boundary (Unix seconds), 0 for none. The role's timer
 * calls it at that time and after every change.
 */
int64_t zt_model_expire(struct zt_model *m);
/*
 * Service account keys (keys.c): every device whose "key_expires" passed
 * and that is not yet marked is marked "key_expired" (audited
 * "device.key_expired") and returned in *GONE (malloc'd, *NGONE; the role
 * closes their sessions); *NEXT: the next key expiry, 0 for none (now + 1
 * when a write failed, to try again). 0 or -errno with ERR.
 */
int zt_model_expire_keys(struct zt_model *m, int64_t *next, struct zt_node_ident **gone,
			 size_t *ngone, char *err, size_t errlen);
/*
 * Device IDENT re-authenticates with the token of TOKEN_HASH (a device
 * token of the device's user, unused, unexpired): the token is used, the
 * device's session starts again now, audited "device.reauth"; a refusal is
 * audited "token.refused". 0, -EACCES (refused, ERR says why) or -errno.
 */
int zt_model_reauth(struct zt_model *m, const struct zt_node_ident *ident, const char *token_hash,
		    char *err, size_t errlen);
/* Fill TX's affected set (its changes joined); called by the commit. 0 or -ENOMEM. */
int zt_model_tx_affected(const struct zt_model *m, struct zt_mtx *tx);

/* ---- audit (audit.c) ---- */

/*
 * Append one record made at TIME inside the open transaction: its seq and
 * hash into *SEQ/HASH from PREV_SEQ/PREV_HASH. 0 or -errno.
 */
int zt_audit_append(struct zt_model *m, uint64_t prev_seq, const char *prev_hash, int64_t time,
		    const char *actor, const char *action, const char *kind, const char *name,
		    json_object *before, json_object *after, uint64_t *seq, char hash[65],
		    char *err, size_t errlen);
/* Records with seq > SINCE_SEQ (time >= SINCE_TIME) as an array; NULL with ERR on error. */
json_object *zt_audit_list(struct zt_model *m, int64_t since_time, char *err, size_t errlen);
/*
 * Walk the chain: 0 when whole; -EBADMSG with *BAD_SEQ the first record
 * that does not hold (edited, or a gap where one was deleted) and ERR
 * saying how. *COUNT the records checked.
 */
int zt_audit_verify(struct zt_model *m, uint64_t *count, uint64_t *bad_seq, char *err,
		    size_t errlen);
/* Load the chain's head (seq, hash) at open. */
int zt_audit_load_head(struct zt_model *m, char *err, size_t errlen);
/*
 * A runtime event's record in its own transaction (token refused, API
 * reads), after the queued ones. DETAIL is taken.
 */
void zt_model_audit_event(struct zt_model *m, const char *actor, const char *action,
			  const char *kind, const char *name, json_object *detail);
/*
 * The same record queued (node connect and disconnect, which come by the
 * thousand when nodes come or go at once): stamped now, chained in order,
 * written by the next transaction (any commit writes the queue first) or
 * by zt_model_audit_flush, which the controller role calls at most
 * ZT_AUDIT_FLUSH_MS after the first queued record: a crash loses at most
 * that window. Past ZT_AUDIT_PENDING_MAX queued records it flushes at once.
 */
#define ZT_AUDIT_FLUSH_MS	100
#define ZT_AUDIT_PENDING_MAX	65536
void zt_model_audit_queue(struct zt_model *m, const char *actor, const char *action,
			  const char *kind, const char *name, json_object *detail);
/* The queued records in one transaction. 0 (also when none) or -errno with ERR; kept on error. */
int zt_model_audit_flush(struct zt_model *m, char *err, size_t errlen);

#endif
