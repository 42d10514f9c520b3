/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The controller's node port: nodes (connectors, client devices, service
 * accounts' headless clients) connect here over TCP, authenticate with
 * Noise IK (the node is the initiator and pins the controller's static key
 * from its enrollment token) and receive their view; the node server knows
 * nothing of the model: everything it needs comes through zt_node_server_ops,
 * which the controller role wires to the model (daemon/controller/model.h).
 *
 * A connection whose first message fails, or carries an unknown key without
 * a valid token, is closed without a byte sent back: a scanner learns only
 * that a TCP port is open.
 *
 * Views: ops->view() (or ops->view_text()) gives a node's whole current view; the server hashes it
 * and sends it only when the hash differs from what the node last
 * acknowledged. zt_node_server_changed() marks nodes dirty; dirty nodes are
 * recomputed together after a short coalescing delay (ZT_NODE_COALESCE_MS),
 * so a burst of admin writes costs one view per affected node, and a node
 * that is slow to read gets the latest view, never a queue of stale ones.
 *
 * Remote admins: a hello with "role": "admin" carries an API key's secret
 * ("api_key", base64) instead of a token; ops->admin_auth checks it (a
 * wrong, expired or removed key: closed without a byte, like an unknown
 * node). The session then takes {"type": "admin", "request": {...}} (the
 * local control socket's request) and answers {"type": "admin_reply",
 * "reply": {...}} through cfg->admin; it has no view and is no node.
 *
 * Callers: daemon/roles/controller.c (open, changed, status, close).
 */
#ifndef ZT_CONTROLLER_NODE_SERVER_H
#define ZT_CONTROLLER_NODE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "controlplane/viewsig.h"
#include "lib/addr.h"
#include "tunnel/keys.h"

struct zt_loop;
struct zt_node_server;

#define ZT_NODE_COALESCE_MS	50

/* Who a connected node is, as the model knows it. */
enum zt_node_kind {
	ZT_NODE_CONNECTOR = 1,
	ZT_NODE_DEVICE,		/* a user's device or a service account's client */
};

struct zt_node_ident {
	enum zt_node_kind kind;
	uint64_t id;		/* the model's object id (connector or device) */
	char name[128];		/* for logs and status */
};

struct zt_node_server_ops {
	/*
	 * First contact: TOKEN_HASH (zt_token_secret_hash() of the secret the
	 * node sent) with the node's static key PUB. HELLO is the node's hello
	 * message (hostname, role, version). 0 and IDENT filled (the key is now
	 * the node's identity in the model, the token used up), or -EACCES
	 * (unknown, expired or used token: refused and audited by the model),
	 * -errno on a storage error.
	 */
	int (*enroll)(void *ctx, const char *token_hash, const uint8_t pub[ZT_KEY_LEN],
		      json_object *hello, struct zt_node_ident *ident, char *err, size_t errlen);
	/* A node with its key alone: 0 and IDENT, or -ENOENT (unknown or revoked key). */
	int (*lookup)(void *ctx, const uint8_t pub[ZT_KEY_LEN], struct zt_node_ident *ident);
	/*
	 * The node's current view (a new reference the caller puts), with the
	 * model revision it reflects in *REV; NULL if the node no longer exists
	 * (the server then closes its connection). The view object is
	 *   {"policy": <a policy document as `ztgate apply` takes it>,
	 *    "self": {"kind": "connector"|"device", "id", "name", "address"?},
	 *    "relays": ["HOST:PORT", ...]}
	 */
	json_object *(*view)(void *ctx, const struct zt_node_ident *ident, uint64_t *rev);
	/*
	 * Instead of view() when set: the same view as its plain JSON text
	 * (malloc'd, *LEN bytes), byte for byte json-c's JSON_C_TO_STRING_PLAIN
	 * serialization of view()'s tree (what the node hashes). The model
	 * assembles a connector's large view from cached fragments this way
	 * rather than serializing a whole tree. NULL as view().
	 */
	char *(*view_text)(void *ctx, const struct zt_node_ident *ident, uint64_t *rev, size_t *len);
	/*
	 * Runtime reports from a node, never model writes: WHAT is "connect"
	 * (BODY: {"endpoint": "IP:PORT" seen from here, "hello": {...}}),
	 * "disconnect", "applied" ({"rev": N}), "endpoint" ({"endpoint"}: the
	 * connector's tunnel endpoint), "connection" (a connection log line).
	 */
	void (*report)(void *ctx, const struct zt_node_ident *ident, const char *what,
		       json_object *body);
	/*
	 * A remote admin's API key: KEY_HASH (zt_token_secret_hash() of the
	 * secret it sent). 0 with the key's NAME and *READ_ONLY, or -EACCES
	 * with ERR (refused and audited by the model), -errno.
	 */
	int (*admin_auth)(void *ctx, const char *key_hash, char *name, size_t namelen,
			  bool *read_only, char *err, size_t errlen);
	/*
	 * A "reauth" message: node IDENT re-authenticates with the token of
	 * TOKEN_HASH (security policy session lifetime). 0, or -EACCES with
	 * ERR (refused: the node is told why), -errno. NULL: refused.
	 */
	int (*reauth)(void *ctx, const struct zt_node_ident *ident, const char *token_hash,
		      char *err, size_t errlen);
};

struct zt_node_server_cfg {
	struct zt_loop *loop;
	struct zt_endpoint listen;		/* TCP ADDR:PORT */
	uint8_t static_priv[ZT_KEY_LEN];	/* the controller's key (--key) */
	/*
	 * The views' signing key (controlplane/viewsig.h): every view sent
	 * carries its signature, the accept its public key. All zero: a key
	 * made for this run (tests, stubs).
	 */
	uint8_t view_priv[ZT_VIEWSIG_PRIV_LEN];
	const struct zt_node_server_ops *ops;
	void *ctx;
	/*
	 * One admin request (borrowed) of the API key KEY_NAME: the reply
	 * object (a new reference), as the control socket would answer it.
	 * NULL: remote admin refused (no "admin" hello is admitted).
	 */
	json_object *(*admin)(void *arg, const char *key_name, bool read_only,
			      json_object *request);
	void *admin_arg;
};

/* Listen and serve. 0 or -errno with ERR set. */
int zt_node_server_open(struct zt_node_server **out, const struct zt_node_server_cfg *cfg,
			char *err, size_t errlen);

/*
 * The views of IDENT (or of every connected node when IDENT is NULL) may
 * have changed: recompute them after the coalescing delay and send those
 * whose hash moved. Cheap to call many times.
 */
void zt_node_server_changed(struct zt_node_server *s, const struct zt_node_ident *ident);

/* Close the connection of IDENT now (key revoked, device deleted). */
void zt_node_server_disconnect(struct zt_node_server *s, const struct zt_node_ident *ident);

/*
 * {"listen", "connected": N, "nodes": [{"kind", "id", "name", "endpoint",
 *  "since", "sent_rev", "applied_rev"}]}
 */
json_object *zt_node_server_status(const struct zt_node_server *s);

void zt_node_server_close(struct zt_node_server *s);

#endif
