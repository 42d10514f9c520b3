// SPDX-License-Identifier: GPL-2.0-only
/*
 * The controller's node port (node_server.h): accepts TCP connections,
 * runs the responder's side of the control-plane handshake
 * (controlplane/conn.h), enrolls or looks up the node through the model's
 * operations, and pushes each node its view: coalesced, hashed, latest
 * first. Run by daemon/roles/controller.c.
 *
 * Limits: an unauthenticated connection has ZT_CP_HANDSHAKE_MS to send
 * message 1 (and may send no more than a hello's bytes); at most
 * NODE_UNAUTH_MAX of them at once and NODE_UNAUTH_PER_SOURCE from one
 * address; past those, new connections are closed at once. A refused
 * node gets no byte back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <openssl/base64.h>
#include <openssl/mem.h>

#include "controller/node_server.h"
#include "controller/node_view.h"
#include "controlplane/conn.h"
#include "controlplane/delta.h"
#include "controlplane/msg.h"
#include "controlplane/token.h"
#include "lib/clock.h"
#include "lib/json_io.h"
#include "lib/log.h"
#include "lib/loop.h"

#define NODE_UNAUTH_MAX		256
#define NODE_UNAUTH_PER_SOURCE	8
#define NODE_CONNS_MAX		32768
#define NODE_TICK_MS		1000
#define NODE_HASH		4096		/* authenticated nodes by (kind, id) */

struct node {
	struct node *next, *prev;
	struct node *hnext;		/* in its by_id bucket, once authenticated */
	struct zt_node_server *s;
	struct zt_cp_conn *c;
	bool authed, dirty;
	bool sig_hash;			/* its hello said "view_sig": 2: views signed over their hash */
	bool delta;			/* and "view_delta": 1: it takes deltas (node_view.h) */
	bool admin, read_only;		/* a remote admin's session (an API key), no node */
	char admin_name[64];		/* its key's name */
	struct zt_node_ident ident;
	struct zt_endpoint peer;
	char peer_text[64];
	uint64_t since_ns;		/* realtime, once authenticated */
	uint64_t sent_rev, applied_rev;
	uint64_t next_view_ms;		/* monotonic: no view compiled before (push_view) */
	char sent_hash[ZT_CP_HASH_HEX_LEN + 1];
};

struct zt_node_server {
	struct zt_loop *loop;
	const struct zt_node_server_ops *ops;
	void *ctx;
	json_object *(*admin)(void *arg, const char *key_name, bool read_only, json_object *req);
	void *admin_arg;
	uint8_t priv[ZT_KEY_LEN];
	uint8_t view_priv[ZT_VIEWSIG_PRIV_LEN];
	char view_pub[ZT_VIEWSIG_PUB_B64_LEN + 1];
	int listen_fd, tick_fd, coalesce_fd;
	bool coalesce_armed, accept_paused;
	struct zt_endpoint bound;
	struct node *nodes;		/* authenticated */
	struct node *pending;		/* still in their handshake */
	struct node *in_cb;		/* whose connection's callback runs now */
	struct node *by_id[NODE_HASH];
	unsigned int count, unauth;
	struct zt_node_views views;	/* the bases of deltas, counters */
};

static struct node **bucket(struct zt_node_server *s, const struct zt_node_ident *id)
{
	uint64_t h = (id->id * 0x9e3779b97f4a7c15ull) ^ (uint64_t)id->kind;

	return &s->by_id[(h >> 32) % NODE_HASH];
}

static const char *kind_name(enum zt_node_kind k)
{
	return k == ZT_NODE_CONNECTOR ? "connector" : "device";
}

static struct node **list_of(struct zt_node_server *s, const struct node *n)
{
	return n->authed ? &s->nodes : &s->pending;
}

static void list_add(struct zt_node_server *s, struct node *n)
{
	struct node **h = list_of(s, n);

	n->prev = NULL;
	n->next = *h;
	if (*h)
		(*h)->prev = n;
	*h = n;
}

static void list_del(struct zt_node_server *s, struct node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		*list_of(s, n) = n->next;
	if (n->next)
		n->next->prev = n->prev;
	n->next = n->prev = NULL;
}

static void node_unlink(struct zt_node_server *s, struct node *n)
{
	list_del(s, n);
	s->count--;
	if (!n->authed) {
		s->unauth--;
		return;
	}
	if (n->admin)
		return;
	for (struct node **pn = bucket(s, &n->ident); *pn; pn = &(*pn)->hnext) {
		if (*pn == n) {
			*pn = n->hnext;
			break;
		}
	}
}

/* Forget N (its connection closed or to be closed now: FREE_CONN). */
static void node_drop(struct node *n, const char *reason, bool free_conn)
{
	struct zt_node_server *s = n->s;

	node_unlink(s, n);
	if (n->authed && n->admin) {
		zt_log("info", "admin session of API key '%s' from %s closed: %s", n->admin_name,
		       n->peer_text, reason);
	} else if (n->authed) {
		json_object *body = json_object_new_object();

		json_object_object_add(body, "reason", json_object_new_string(reason));
		zt_log("info", "node %s '%s' (id %llu) from %s disconnected: %s", kind_name(n->ident.kind),
		       n->ident.name, (unsigned long long)n->ident.id, n->peer_text, reason);
		s->ops->report(s->ctx, &n->ident, "disconnect", body);
		json_object_put(body);
	}
	if (free_conn)
		zt_cp_conn_free(n->c);
	free(n);
}

static struct node *find(struct zt_node_server *s, const struct zt_node_ident *id)
{
	for (struct node *n = *bucket(s, id); n; n = n->hnext)
		if (n->ident.kind == id->kind && n->ident.id == id->id)
			return n;
	return NULL;
}

/* N holds its view unchanged at revision REV: up to date there, nothing sent. */
static void view_current(struct node *n, uint64_t rev)
{
	json_object *body = json_object_new_object();

	n->sent_rev = n->applied_rev = rev;
	json_object_object_add(body, "rev", json_object_new_int64((int64_t)rev));
	n->s->ops->report(n->s->ctx, &n->ident, "applied", body);
	json_object_put(body);
}

static void arm_coalesce(struct zt_node_server *s)
{
	struct itimerspec its = { .it_value.tv_nsec = ZT_NODE_COALESCE_MS * 1000000L };

	if (s->coalesce_armed)
		return;
	if (timerfd_settime(s->coalesce_fd, 0, &its, NULL) == 0)
		s->coalesce_armed = true;
}

/*
 * N's view (its plain JSON text, LEN bytes, taken): hashed, and sent when it
 * moved, whole or as a delta (node_view.h). 0, or -errno from the connection
 * (-ENOBUFS: try again later).
 */
static int send_view(struct node *n, char *text, size_t len, uint64_t rev)
{
	char hash[ZT_CP_HASH_HEX_LEN + 1];
	struct zt_node_view_to to = { .c = n->c, .ident = &n->ident, .sig_hash = n->sig_hash,
				      .delta = n->delta, .held = n->sent_hash };
	int ret;

	zt_cp_view_hash_text(text, len, hash);
	if (!strcmp(hash, n->sent_hash)) {
		free(text);
		if (n->applied_rev == n->sent_rev && rev > n->applied_rev)
			view_current(n, rev);
		return 0;
	}
	ret = zt_node_view_send(&n->s->views, &to, n->s->view_priv, text, len, rev, hash);
	if (!ret) {
		memcpy(n->sent_hash, hash, sizeof(hash));
		n->sent_rev = rev;
	}
	return ret;
}

/* IDENT's view as text (malloc'd, *LEN bytes) from the model's view_text or view; NULL: gone. */
static char *view_text(struct zt_node_server *s, const struct zt_node_ident *ident, uint64_t *rev,
		       size_t *len)
{
	json_object *view;

	if (s->ops->view_text)
		return s->ops->view_text(s->ctx, ident, rev, len);
	view = s->ops->view(s->ctx, ident, rev);
	return view ? zt_json_take_text(view, len) : NULL;
}

/*
 * Send N its view if it moved and N's output is empty (otherwise ops->drained
 * comes back here: the latest view then, never a queue), and not sooner than
 * N's last view allows: a view that took T ms to compile and send is not
 * recompiled before 3 T have passed (a connector's view at 10,000 devices
 * during an enrollment storm: the storm's changes are taken a few at a time,
 * and the controller keeps time for the rest). IN_CB: called from N's own
 * callback, where the connection may only be shut down.
 */
static void push_view(struct node *n, bool in_cb)
{
	struct zt_node_server *s = n->s;
	uint64_t rev = 0, t0 = zt_mono_ns();
	size_t len = 0;
	char *text;
	int ret;

	if (n->admin || !n->dirty || !zt_cp_conn_established(n->c) || zt_cp_conn_pending(n->c))
		return;
	if (t0 / 1000000 < n->next_view_ms) {
		arm_coalesce(s);	/* look again then */
		return;
	}
	text = view_text(s, &n->ident, &rev, &len);
	if (!text) {
		zt_node_view_forget(&s->views, n->ident.kind, n->ident.id);
		if (in_cb)
			zt_cp_conn_shutdown(n->c, "the node no longer exists");
		else
			node_drop(n, "the node no longer exists", true);
		return;
	}
	n->dirty = false;
	ret = send_view(n, text, len, rev);
	if (ret == -ENOBUFS) {
		n->dirty = true;
	} else if (ret) {
		zt_log("error", "view for %s '%s' (rev %llu): %s", kind_name(n->ident.kind),
		       n->ident.name, (unsigned long long)rev, strerror(-ret));
	}
	n->next_view_ms = (zt_mono_ns() + 2 * (zt_mono_ns() - t0)) / 1000000;
}

/* HELLO's FIELD (base64 of a 32-byte secret) into SECRET: 1, 0 (none), -EINVAL. */
static int hello_secret(json_object *hello, const char *field,
			uint8_t secret[ZT_TOKEN_SECRET_LEN])
{
	const char *b64 = zt_cp_msg_str(hello, field);
	uint8_t raw[ZT_TOKEN_SECRET_LEN + 3];
	size_t len = 0;
	int ret = -EINVAL;

	if (!b64)
		return json_object_object_get_ex(hello, field, NULL) ? -EINVAL : 0;
	if (EVP_DecodeBase64(raw, &len, sizeof(raw), (const uint8_t *)b64, strlen(b64)) &&
	    len == ZT_TOKEN_SECRET_LEN) {
		memcpy(secret, raw, ZT_TOKEN_SECRET_LEN);
		ret = 1;
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	return ret;
}

/* A remote admin: its API key, checked by the model. 0 or -errno. */
static int identify_admin(struct node *n, json_object *hello)
{
	struct zt_node_server *s = n->s;
	uint8_t secret[ZT_TOKEN_SECRET_LEN];
	char hash[ZT_TOKEN_HASH_HEX_LEN + 1], err[256] = "";
	int ret = s->admin && s->ops->admin_auth ? hello_secret(hello, "api_key", secret) : -EPERM;

	if (ret <= 0) {
		zt_log("warning", "admin session from %s: %s: refused", n->peer_text,
		       ret == -EPERM ? "remote admin is off" : "no or malformed API key");
		return -EACCES;
	}
	zt_token_secret_hash(secret, hash);
	OPENSSL_cleanse(secret, sizeof(secret));
	ret = s->ops->admin_auth(s->ctx, hash, n->admin_name, sizeof(n->admin_name), &n->read_only,
				 err, sizeof(err));
	if (ret) {
		zt_log("warning", "admin session from %s refused: %s", n->peer_text,
		       err[0] ? err : strerror(-ret));
		return ret;
	}
	n->admin = true;
	return 0;
}

/* Who PUB is: enrolled now with the hello's token, or known by its key. 0 or -errno. */
static int identify(struct node *n, const uint8_t pub[ZT_KEY_LEN], json_object *hello,
		    json_object *plain)
{
	struct zt_node_server *s = n->s;
	uint8_t secret[ZT_TOKEN_SECRET_LEN];
	char hash[ZT_TOKEN_HASH_HEX_LEN + 1], err[256] = "", b64[ZT_KEY_B64_LEN + 1];
	const char *role = zt_cp_msg_str(hello, "role");
	int has, ret;

	if (role && !strcmp(role, "admin"))
		return identify_admin(n, hello);
	has = hello_secret(hello, "token_secret", secret);

	zt_key_to_base64(pub, b64);
	if (has < 0) {
		zt_log("warning", "node from %s (key %s): malformed token secret: refused",
		       n->peer_text, b64);
		return -EACCES;
	}
	if (has) {
		zt_token_secret_hash(secret, hash);
		OPENSSL_cleanse(secret, sizeof(secret));
		ret = s->ops->enroll(s->ctx, hash, pub, plain, &n->ident, err, sizeof(err));
		if (ret)
			zt_log("warning", "enrollment from %s (key %s) refused: %s", n->peer_text, b64,
			       err[0] ? err : strerror(-ret));
		return ret;
	}
	ret = s->ops->lookup(s->ctx, pub, &n->ident);
	if (ret)
		zt_log("info", "node from %s with unknown key %s: refused", n->peer_text, b64);
	return ret;
}

/* An admin session admitted: authenticated, but no node (no view, no report). */
static json_object *admit_admin(struct node *n)
{
	struct zt_node_server *s = n->s;
	json_object *accept;

	list_del(s, n);
	n->authed = true;
	list_add(s, n);
	s->unauth--;
	n->since_ns = zt_real_ns();
	zt_log("info", "admin session of API key '%s' (%s) from %s", n->admin_name,
	       n->read_only ? "read-only" : "read-write", n->peer_text);
	accept = json_object_new_object();
	json_object_object_add(accept, "type", json_object_new_string("accept"));
	json_object_object_add(accept, "kind", json_object_new_string("admin"));
	json_object_object_add(accept, "name", json_object_new_string(n->admin_name));
	json_object_object_add(accept, "role", json_object_new_string(n->read_only ? "read-only"
											 : "read-write"));
	return accept;
}

/*
 * Message 1 opened: identify the node, replace an older connection of it,
 * report it, and answer with the accept (NULL: refused, nothing sent).
 */
static json_object *admit(struct node *n, const uint8_t pub[ZT_KEY_LEN], json_object *hello)
{
	struct zt_node_server *s = n->s;
	json_object *plain = NULL, *have, *body, *accept;
	struct node *old;
	uint64_t sig_form;
	const char *h;

	/* What the model and the logs see: the hello without its secret. */
	if (json_object_deep_copy(hello, &plain, NULL))
		return NULL;
	json_object_object_del(plain, "token_secret");
	json_object_object_del(plain, "api_key");
	if (identify(n, pub, hello, plain)) {
		json_object_put(plain);
		return NULL;
	}
	if (n->admin) {
		json_object_put(plain);
		return admit_admin(n);
	}
	old = find(s, &n->ident);
	if (old)	/* the same node again (it restarted): the new connection wins */
		node_drop(old, "replaced by a new connection", true);
	list_del(s, n);
	n->authed = true;
	list_add(s, n);
	s->unauth--;
	n->hnext = *bucket(s, &n->ident);
	*bucket(s, &n->ident) = n;
	n->since_ns = zt_real_ns();
	n->dirty = true;
	n->sig_hash = !zt_cp_msg_u64(hello, "view_sig", &sig_form) && sig_form >= 2;
	n->delta = n->sig_hash && !zt_cp_msg_u64(hello, "view_delta", &sig_form) &&
		   sig_form >= ZT_CP_DELTA_FORM;
	arm_coalesce(s);
	zt_log("info", "node %s '%s' (id %llu) connected from %s", kind_name(n->ident.kind),
	       n->ident.name, (unsigned long long)n->ident.id, n->peer_text);
	body = json_object_new_object();
	json_object_object_add(body, "endpoint", json_object_new_string(n->peer_text));
	json_object_object_add(body, "hello", plain);
	s->ops->report(s->ctx, &n->ident, "connect", body);
	json_object_put(body);
	/* The view it holds (applied before): sent again only if it moved. */
	if (json_object_object_get_ex(hello, "have", &have) && (h = zt_cp_msg_str(have, "hash")) &&
	    strlen(h) == ZT_CP_HASH_HEX_LEN && !zt_cp_msg_u64(have, "rev", &n->applied_rev)) {
		memcpy(n->sent_hash, h, sizeof(n->sent_hash));
		n->sent_rev = n->applied_rev;
		body = json_object_new_object();
		json_object_object_add(body, "rev", json_object_new_int64((int64_t)n->applied_rev));
		json_object_object_add(body, "hash", json_object_new_string(h));
		s->ops->report(s->ctx, &n->ident, "applied", body);
		json_object_put(body);
	}
	accept = json_object_new_object();
	json_object_object_add(accept, "type", json_object_new_string("accept"));
	json_object_object_add(accept, "kind", json_object_new_string(kind_name(n->ident.kind)));
	json_object_object_add(accept, "id", json_object_new_int64((int64_t)n->ident.id));
	json_object_object_add(accept, "name", json_object_new_string(n->ident.name));
	json_object_object_add(accept, "view_key", json_object_new_string(s->view_pub));
	return accept;
}

static json_object *on_hello(void *ctx, struct zt_cp_conn *c, const uint8_t pub[ZT_KEY_LEN],
			     json_object *h)
{
	struct node *n = ctx;
	json_object *accept;

	(void)c;
	n->s->in_cb = n;
	accept = admit(n, pub, h);
	n->s->in_cb = NULL;
	return accept;
}

/* A runtime report: WHAT with BODY (borrowed). */
static void report(struct node *n, const char *what, json_object *body)
{
	n->s->ops->report(n->s->ctx, &n->ident, what, body);
}

/* A remote admin's request: answered in one message, as the control socket would. */
static void on_admin(struct node *n, json_object *m)
{
	json_object *req, *reply, *msg;
	int ret;

	if (strcmp(zt_cp_msg_type(m), "admin") || !json_object_object_get_ex(m, "request", &req) ||
	    !json_object_is_type(req, json_type_object)) {
		zt_cp_conn_shutdown(n->c, "not an admin request");
		return;
	}
	reply = n->s->admin(n->s->admin_arg, n->admin_name, n->read_only, req);
	msg = json_object_new_object();
	json_object_object_add(msg, "type", json_object_new_string("admin_reply"));
	json_object_object_add(msg, "reply", reply);
	ret = zt_cp_conn_send(n->c, msg);
	json_object_put(msg);
	if (ret)
		zt_cp_conn_shutdown(n->c, "admin reply not sent");
}

/* {"type": "reauth", "token_secret"}: answered {"type": "reauth", "ok"} or {.., "error"}. */
static void on_reauth(struct node *n, json_object *m)
{
	uint8_t secret[ZT_TOKEN_SECRET_LEN];
	char hash[ZT_TOKEN_HASH_HEX_LEN + 1], err[256] = "refused";
	json_object *reply = json_object_new_object();
	int ret = -EACCES;

	if (hello_secret(m, "token_secret", secret) == 1 && n->s->ops->reauth) {
		zt_token_secret_hash(secret, hash);
		ret = n->s->ops->reauth(n->s->ctx, &n->ident, hash, err, sizeof(err));
	} else if (n->s->ops->reauth) {
		snprintf(err, sizeof(err), "malformed token secret");
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	zt_log(ret ? "warning" : "info", "node %s '%s': re-authentication %s%s", kind_name(n->ident.kind),
	       n->ident.name, ret ? "refused: " : "accepted", ret ? err : "");
	json_object_object_add(reply, "type", json_object_new_string("reauth"));
	json_object_object_add(reply, "ok", json_object_new_boolean(!ret));
	if (ret)
		json_object_object_add(reply, "error", json_object_new_string(err));
	zt_cp_conn_send(n->c, reply);
	json_object_put(reply);
}

static void on_message(void *ctx, struct zt_cp_conn *c, json_object *m)
{
	struct node *n = ctx;
	const char *type = zt_cp_msg_type(m), *ep, *h;
	json_object *body, *line;
	uint64_t rev;

	(void)c;
	n->s->in_cb = n;
	if (n->admin)
		on_admin(n, m);
	else if (!strcmp(type, "applied") && !zt_cp_msg_u64(m, "rev", &rev)) {
		n->applied_rev = rev;
		body = json_object_new_object();
		json_object_object_add(body, "rev", json_object_new_int64((int64_t)rev));
		if ((h = zt_cp_msg_str(m, "hash")))
			json_object_object_add(body, "hash", json_object_new_string(h));
		report(n, "applied", body);
		json_object_put(body);
	} else if (!strcmp(type, "endpoint") && (ep = zt_cp_msg_str(m, "endpoint"))) {
		body = json_object_new_object();
		json_object_object_add(body, "endpoint", json_object_new_string(ep));
		report(n, "endpoint", body);
		json_object_put(body);
	} else if (!strcmp(type, "connection") && json_object_object_get_ex(m, "line", &line) &&
		   json_object_is_type(line, json_type_object)) {
		report(n, "connection", line);
	} else if (!strcmp(type, "reauth")) {
		on_reauth(n, m);
	} else if (!strcmp(type, "view_request")) {
		/* A delta it could not take: its whole view next, from no base. */
		zt_log("warning", "node %s '%s' asks for its whole view: %s", kind_name(n->ident.kind),
		       n->ident.name, zt_cp_msg_str(m, "error") ?: "(no reason)");
		n->s->views.requests++;
		zt_node_view_forget(&n->s->views, n->ident.kind, n->ident.id);
		n->sent_hash[0] = '\0';
		n->dirty = true;
		arm_coalesce(n->s);
	} else if (!strcmp(type, "error")) {
		zt_log("error", "node %s '%s' could not apply its view: %s", kind_name(n->ident.kind),
		       n->ident.name, zt_cp_msg_str(m, "error") ?: "(no reason)");
	} else {
		zt_log("debug", "node '%s': message '%s' ignored", n->ident.name, type);
	}
	n->s->in_cb = NULL;
}

static void on_drained(void *ctx, struct zt_cp_conn *c)
{
	struct node *n = ctx;

	(void)c;
	n->s->in_cb = n;
	push_view(n, true);
	n->s->in_cb = NULL;
}

static void on_closed(void *ctx, struct zt_cp_conn *c, const char *reason)
{
	struct node *n = ctx;

	(void)c;
	node_drop(n, reason, true);
}

static const struct zt_cp_conn_ops conn_ops = {
	.hello = on_hello, .message = on_message, .drained = on_drained, .closed = on_closed,
};

/* Unauthenticated connections from PEER's address. */
static unsigned int unauth_from(const struct zt_node_server *s, const struct zt_endpoint *peer)
{
	unsigned int k = 0;

	for (const struct node *n = s->pending; n; n = n->next)
		if (!memcmp(n->peer.addr, peer->addr, sizeof(peer->addr)))
			k++;
	return k;
}

static void endpoint_from(const struct sockaddr_storage *ss, struct zt_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;

		ep->family = AF_INET;
		zt_addr_from_v4(ep->addr, a->sin_addr.s_addr);
		ep->port = ntohs(a->sin_port);
	} else {
		const struct sockaddr_in6 *a = (const void *)ss;

		ep->family = AF_INET6;
		memcpy(ep->addr, &a->sin6_addr, 16);
		ep->port = ntohs(a->sin6_port);
	}
}

static void accept_one(struct zt_node_server *s, int fd, const struct sockaddr_storage *ss)
{
	struct zt_cp_conn_cfg cfg = {
		.loop = s->loop, .fd = fd, .role = ZT_NOISE_RESPONDER, .now_ms = zt_mono_ms(),
		.ops = &conn_ops,
	};
	struct node *n;
	int one = 1;

	n = calloc(1, sizeof(*n));
	if (!n) {
		close(fd);
		return;
	}
	n->s = s;
	endpoint_from(ss, &n->peer);
	zt_endpoint_format(&n->peer, n->peer_text, sizeof(n->peer_text));
	if (s->count >= NODE_CONNS_MAX || s->unauth >= NODE_UNAUTH_MAX ||
	    unauth_from(s, &n->peer) >= NODE_UNAUTH_PER_SOURCE) {
		zt_log("debug", "node port: connection from %s refused (limits)", n->peer_text);
		close(fd);
		free(n);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memcpy(cfg.static_priv, s->priv, ZT_KEY_LEN);
	cfg.ctx = n;
	if (zt_cp_conn_open(&cfg, &n->c)) {
		OPENSSL_cleanse(cfg.static_priv, sizeof(cfg.static_priv));
		free(n);
		return;
	}
	OPENSSL_cleanse(cfg.static_priv, sizeof(cfg.static_priv));
	list_add(s, n);
	s->count++;
	s->unauth++;
}

static void on_listen(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_node_server *s = arg;

	(void)loop;
	(void)events;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
				errno == ENOMEM)) {
			/* Out of descriptors: stop accepting until the next tick (no busy loop). */
			zt_log("warning", "node port: accept: %s; pausing for a second",
			       strerror(errno));
			s->accept_paused = true;
			zt_loop_mod(s->loop, fd, 0);
			return;
		}
		if (cfd < 0)
			return;	/* EAGAIN, or a connection gone before we took it */
		accept_one(s, cfd, &ss);
	}
}

static void on_tick(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_node_server *s = arg;
	uint64_t exp, now = zt_mono_ms();
	struct node *n, *next;

	(void)loop;
	(void)events;
	if (read(fd, &exp, sizeof(exp)) != sizeof(exp))
		return;
	if (s->accept_paused && !zt_loop_mod(s->loop, s->listen_fd, EPOLLIN))
		s->accept_paused = false;
	for (n = s->pending; n; n = next) {
		next = n->next;
		zt_cp_conn_tick(n->c, now);	/* may drop N */
	}
	for (n = s->nodes; n; n = next) {
		next = n->next;
		zt_cp_conn_tick(n->c, now);	/* may drop N */
	}
}

static void on_coalesce(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_node_server *s = arg;
	struct node *n, *next;
	uint64_t exp;

	(void)loop;
	(void)events;
	if (read(fd, &exp, sizeof(exp)) != sizeof(exp))
		return;
	s->coalesce_armed = false;
	/* Devices first: a connector's view (1.5 MB at 10,000 devices) holds none of theirs back. */
	for (int pass = 0; pass < 2; pass++) {
		for (n = s->nodes; n; n = next) {
			next = n->next;
			if ((n->ident.kind == ZT_NODE_CONNECTOR) == pass)
				push_view(n, false);	/* may drop N */
		}
	}
}

void zt_node_server_changed(struct zt_node_server *s, const struct zt_node_ident *ident)
{
	struct node *n;

	if (ident) {
		n = find(s, ident);
		if (!n)
			return;
		n->dirty = true;
	} else {
		for (n = s->nodes; n; n = n->next)
			n->dirty = !n->admin;
	}
	arm_coalesce(s);
}

void zt_node_server_disconnect(struct zt_node_server *s, const struct zt_node_ident *ident)
{
	struct node *n = find(s, ident);

	/* From the model's report() about this very node: closed once its callback returns. */
	if (n && n == s->in_cb)
		zt_cp_conn_shutdown(n->c, "disconnected by the controller");
	else if (n)
		node_drop(n, "disconnected by the controller", true);
}

json_object *zt_node_server_status(const struct zt_node_server *s)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	unsigned int connected = 0, admins = 0;
	char buf[64];

	zt_endpoint_format(&s->bound, buf, sizeof(buf));
	json_object_object_add(o, "listen", json_object_new_string(buf));
	for (const struct node *n = s->nodes; n; n = n->next) {
		json_object *e;

		if (n->admin) {
			admins++;
			continue;
		}
		connected++;
		e = json_object_new_object();
		json_object_object_add(e, "kind", json_object_new_string(kind_name(n->ident.kind)));
		json_object_object_add(e, "id", json_object_new_int64((int64_t)n->ident.id));
		json_object_object_add(e, "name", json_object_new_string(n->ident.name));
		json_object_object_add(e, "endpoint", json_object_new_string(n->peer_text));
		zt_format_time(n->since_ns, buf, sizeof(buf));
		json_object_object_add(e, "since", json_object_new_string(buf));
		json_object_object_add(e, "sent_rev", json_object_new_int64((int64_t)n->sent_rev));
		json_object_object_add(e, "applied_rev", json_object_new_int64((int64_t)n->applied_rev));
		json_object_array_add(arr, e);
	}
	json_object_object_add(o, "connected", json_object_new_int((int)connected));
	json_object_object_add(o, "handshaking", json_object_new_int((int)s->unauth));
	json_object_object_add(o, "admin_sessions", json_object_new_int((int)admins));
	json_object_object_add(o, "views_whole", json_object_new_int64((int64_t)s->views.whole));
	json_object_object_add(o, "views_delta", json_object_new_int64((int64_t)s->views.delta));
	json_object_object_add(o, "views_requested_whole",
			       json_object_new_int64((int64_t)s->views.requests));
	json_object_object_add(o, "view_bytes_whole",
			       json_object_new_int64((int64_t)s->views.whole_bytes));
	json_object_object_add(o, "view_bytes_delta",
			       json_object_new_int64((int64_t)s->views.delta_bytes));
	json_object_object_add(o, "nodes", arr);
	return o;
}

/* The listening socket on CFG->listen; S->bound is where it ended up (port 0: any). */
static int listen_on(struct zt_node_server *s, const struct zt_node_server_cfg *cfg, char *err,
		     size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = (socklen_t)zt_endpoint_to_sockaddr(&cfg->listen, &ss);
	int one = 1, ret;

	s->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		return zt_errf(err, errlen, -errno, "node port socket: %s", strerror(errno));
	setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->listen_fd, (struct sockaddr *)&ss, sl) || listen(s->listen_fd, 512)) {
		char ep[64];

		ret = -errno;
		zt_endpoint_format(&cfg->listen, ep, sizeof(ep));
		return zt_errf(err, errlen, ret, "node port %s: %s", ep, strerror(-ret));
	}
	sl = sizeof(ss);
	getsockname(s->listen_fd, (struct sockaddr *)&ss, &sl);
	endpoint_from(&ss, &s->bound);
	return 0;
}

static int timers(struct zt_node_server *s, char *err, size_t errlen)
{
	struct itimerspec its = {
		.it_value.tv_nsec = NODE_TICK_MS * 1000000L % 1000000000L,
		.it_value.tv_sec = NODE_TICK_MS / 1000,
	};

	its.it_interval = its.it_value;
	s->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->coalesce_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->tick_fd < 0 || s->coalesce_fd < 0 || timerfd_settime(s->tick_fd, 0, &its, NULL))
		return zt_errf(err, errlen, -errno, "node port timers: %s", strerror(errno));
	return 0;
}

int zt_node_server_open(struct zt_node_server **out, const struct zt_node_server_cfg *cfg,
			char *err, size_t errlen)
{
	struct zt_node_server *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return zt_errf(err, errlen, -ENOMEM, "out of memory");
	s->loop = cfg->loop;
	s->ops = cfg->ops;
	s->ctx = cfg->ctx;
	s->admin = cfg->admin;
	s->admin_arg = cfg->admin_arg;
	s->listen_fd = s->tick_fd = s->coalesce_fd = -1;
	memcpy(s->priv, cfg->static_priv, ZT_KEY_LEN);
	memcpy(s->view_priv, cfg->view_priv, sizeof(s->view_priv));
	if (!memcmp(s->view_priv, (uint8_t[ZT_VIEWSIG_PRIV_LEN]){ 0 }, sizeof(s->view_priv))) {
		uint8_t pub[ZT_VIEWSIG_PUB_LEN];

		zt_viewsig_keypair(pub, s->view_priv);
	}
	/* BoringSSL's private key is seed || public key. */
	zt_viewsig_pub_to_base64(s->view_priv + 32, s->view_pub);
	ret = listen_on(s, cfg, err, errlen);
	if (!ret)
		ret = timers(s, err, errlen);
	if (!ret && ((ret = zt_loop_add(s->loop, s->listen_fd, EPOLLIN, on_listen, s)) ||
		     (ret = zt_loop_add(s->loop, s->tick_fd, EPOLLIN, on_tick, s)) ||
		     (ret = zt_loop_add(s->loop, s->coalesce_fd, EPOLLIN, on_coalesce, s))))
		zt_errf(err, errlen, ret, "node port: event loop: %s", strerror(-ret));
	if (ret) {
		zt_node_server_close(s);
		return ret;
	}
	*out = s;
	return 0;
}

void zt_node_server_close(struct zt_node_server *s)
{
	if (!s)
		return;
	while (s->pending)
		node_drop(s->pending, "controller stopping", true);
	while (s->nodes)
		node_drop(s->nodes, "controller stopping", true);
	if (s->listen_fd >= 0) {
		zt_loop_del(s->loop, s->listen_fd);
		close(s->listen_fd);
	}
	if (s->tick_fd >= 0) {
		zt_loop_del(s->loop, s->tick_fd);
		close(s->tick_fd);
	}
	if (s->coalesce_fd >= 0) {
		zt_loop_del(s->loop, s->coalesce_fd);
		close(s->coalesce_fd);
	}
	OPENSSL_cleanse(s->priv, sizeof(s->priv));
	OPENSSL_cleanse(s->view_priv, sizeof(s->view_priv));
	zt_node_views_free(&s->views);
	free(s);
}
