/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A node's session with its controller (`ztgated connector|client
 * --controller HOST:PORT [--token TOKEN]`): enrollment, the pinned
 * controller key, the views it receives and applies, and fail static.
 *
 * State, all in the node's state dir:
 *   node.key         the node's private key (mode 0600), made at the first
 *                    start with --token when there is none (or --key FILE)
 *   controller.json  {"controller", "public_key", "enrolled", "view_key"}:
 *                    the controller's key pinned from the token; "enrolled"
 *                    once the controller accepted the token, from when
 *                    on the key alone authenticates (a --token given again
 *                    is ignored, with a note in the log); "view_key" the
 *                    controller's Ed25519 view signing key (viewsig.h),
 *                    pinned from the accept at enrollment
 *   view.json        {"rev", "hash", "sig", "view"}: the last view applied,
 *                    replaced atomically, with the controller's signature
 * At start the persisted view is applied before the controller is asked
 * (and whether or not it answers): the node keeps enforcing its last view
 * while the controller is unreachable. The session reconnects with
 * exponential backoff and jitter (1 s doubling to about 30 s).
 *
 * Each view received: its hash and signature checked, applied through cfg->apply (which
 * the core wires to its one atomic policy path), persisted, then
 * acknowledged with "applied". Nothing here knows the daemon: the core
 * (core/managed.c) hands in the callbacks.
 *
 * Callers: daemon/core/managed.c, tests/unit/test_agent.c,
 * tests/unit/test_node_server.c.
 */
#ifndef ZT_AGENT_H
#define ZT_AGENT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "controlplane/token.h"
#include "controlplane/viewsig.h"
#include "tunnel/keys.h"

struct zt_loop;
struct zt_agent;

#define ZT_AGENT_KEY_FILE	"node.key"
#define ZT_AGENT_PIN_FILE	"controller.json"
#define ZT_AGENT_VIEW_FILE	"view.json"
#define ZT_AGENT_BACKOFF_MAX_MS	30000

/* What zt_agent_prepare settles before anything opens. */
struct zt_agent_identity {
	char key_file[PATH_MAX];	/* the node's private key */
	uint8_t controller_pub[ZT_KEY_LEN];	/* pinned */
	bool enrolled;
	bool has_view_key;		/* VIEW_KEY pinned (controller.json "view_key") */
	uint8_t view_key[ZT_VIEWSIG_PUB_LEN];
	bool has_token;			/* enroll with TOKEN's secret */
	struct zt_token token;
};

/*
 * The node's identity in STATE_DIR: the pinned controller key (from
 * TOKEN_TEXT at the first start, else from controller.json), and its key
 * file (KEY_FILE, or STATE_DIR/node.key), made now if absent and a token
 * was given. 0, or -errno with one line in ERR ("not enrolled with a
 * controller yet: the first start needs --token TOKEN", a bad token...).
 */
int zt_agent_prepare(const char *state_dir, const char *key_file, const char *controller,
		     const char *token_text, struct zt_agent_identity *id, char *err,
		     size_t errlen);

struct zt_agent_cfg {
	struct zt_loop *loop;
	const char *state_dir;
	const char *controller;		/* HOST:PORT, or several: "HOST:PORT,HOST:PORT" */
	const char *role;		/* the hello's "role": "client" or "connector" */
	const struct zt_agent_identity *id;
	uint8_t private_key[ZT_KEY_LEN];
	/*
	 * Make VIEW (the controller's view object, borrowed) live at revision
	 * REV, atomically: 0, or -errno with ERR set and nothing changed.
	 */
	int (*apply)(void *arg, json_object *view, uint64_t rev, char *err, size_t errlen);
	void *arg;
	bool no_timer;			/* tests: they call zt_agent_tick themselves */
};

/* Set up (nothing sent yet). 0 or -errno with ERR. */
int zt_agent_open(const struct zt_agent_cfg *cfg, struct zt_agent **out, char *err,
		  size_t errlen);

/*
 * Apply the persisted view if there is one (fail static: a failure is
 * logged, the stored policy keeps enforcing), then connect. A view.json
 * that does not hold (its hash, or its signature under the pinned view
 * key) is refused with one line in the log and not applied: the node goes
 * on with the policy in force until the controller sends a view. 0.
 */
int zt_agent_start(struct zt_agent *a, char *err, size_t errlen);

/* Deadlines at NOW_MS (monotonic): reconnects, the session's keepalives. */
void zt_agent_tick(struct zt_agent *a, uint64_t now_ms);

/* The connector's tunnel endpoint (IP:PORT), sent now and after every reconnect. */
void zt_agent_set_endpoint(struct zt_agent *a, const char *endpoint);
/* A connection log line (borrowed), sent if the session is up and not backed up. */
void zt_agent_report_connection(struct zt_agent *a, json_object *line);

/*
 * Re-authenticate (security policy session lifetime) with TOKEN_TEXT, a
 * device token of this device's user for this controller: sent over the
 * session; the answer shows in the status's "reauth" ("pending", "ok",
 * "refused: WHY"). 0, or -errno with one line in ERR (a bad token, another
 * controller's, not connected).
 */
int zt_agent_reauth(struct zt_agent *a, const char *token_text, char *err, size_t errlen);

/*
 * {"controller", "controller_key", "enrolled", "connected", "state",
 *  "node"?: {"kind","id","name"}, "rev_applied", "hash_applied",
 *  "last_contact"?, "last_error"?, "reconnects", "connections_dropped",
 *  "reauth"?: the last zt_agent_reauth's "pending", "ok" or "refused: WHY"}
 */
json_object *zt_agent_status(const struct zt_agent *a);
bool zt_agent_connected(const struct zt_agent *a);
uint64_t zt_agent_rev(const struct zt_agent *a);

void zt_agent_close(struct zt_agent *a);

/* state.c: the files above. */
/*
 * The persisted view, its hash and its signature checked against VIEW_KEY
 * (NULL: none pinned, refused): 0 and *VIEW (a new reference) and *REV,
 * -ENOENT, or -errno with ERR ("... does not match its hash", "... is not
 * signed by the controller's view key").
 */
int zt_agent_view_load(const char *state_dir, const uint8_t *view_key, json_object **view,
		       uint64_t *rev, char hash[65], char *err, size_t errlen);
/* VIEW at REV with its HASH and SIG (base64) into view.json, atomically. */
int zt_agent_view_save(const char *state_dir, json_object *view, uint64_t rev,
		       const char *hash, const char *sig, char *err, size_t errlen);
/* The same from the view's plain JSON TEXT (LEN bytes, the text HASH is of): no serialization. */
int zt_agent_view_save_text(const char *state_dir, const char *text, size_t len, uint64_t rev,
			    const char *hash, const char *sig, char *err, size_t errlen);
/* controller.json; VIEW_KEY NULL: none pinned yet. */
int zt_agent_pin_save(const char *state_dir, const char *controller,
		      const uint8_t pub[ZT_KEY_LEN], const uint8_t *view_key, bool enrolled,
		      char *err, size_t errlen);

#endif
