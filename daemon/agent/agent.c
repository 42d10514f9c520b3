// SPDX-License-Identifier: GPL-2.0-only
/*
 * A node's session with its controller (agent.h): connect (non-blocking),
 * the initiator's handshake with the pinned key, enrollment once, views
 * applied, persisted and acknowledged, reports sent, reconnects with
 * backoff; with several controllers ("A:P,B:P", all sharing one key and
 * one database) each failure moves on to the next one. Opened by
 * core/managed.c for controller-managed roles.
 */
#include <errno.h>
#include <netdb.h>
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
#include <openssl/rand.h>

#include "agent/agent.h"
#include "controlplane/conn.h"
#include "controlplane/delta.h"
#include "controlplane/msg.h"
#include "lib/addr.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/version.h"

#define AGENT_TICK_MS		250
#define AGENT_CONNECT_MS	10000
#define AGENT_BACKOFF_MIN_MS	1000

enum agent_state { AG_IDLE, AG_BACKOFF, AG_CONNECTING, AG_SESSION };

struct zt_agent {
	struct zt_agent_cfg cfg;
	struct zt_agent_identity id;
	enum agent_state state;
	int timer_fd, connect_fd;
	struct zt_cp_conn *c;
	uint64_t next_try_ms, connect_deadline_ms;
	unsigned int attempt;
	unsigned int which;		/* the controller of the list tried (modulo its length) */
	char current[256];		/* that controller's HOST:PORT */
	bool established;		/* the current connection got past the handshake */

	char node_kind[16], node_name[128];
	uint64_t node_id;
	uint64_t rev;
	char hash[ZT_CP_HASH_HEX_LEN + 1];
	char *text;			/* the view of HASH as text: the base of a delta */
	size_t text_len;
	uint64_t views_whole, views_delta, views_requested;
	uint64_t last_contact_ns;	/* realtime */
	char last_error[600];
	char endpoint[64];
	uint64_t reconnects, dropped;
	char reauth[300];		/* "", "pending", "ok" or "refused: WHY" */
};

static const char *state_name(enum agent_state s)
{
	static const char *const names[] = { "idle", "backoff", "connecting", "connected" };

	return names[s];
}

/* The next attempt after a failure: 1 s doubling to 30 s, each drawn in [d/2, d]. */
static void backoff(struct zt_agent *a, const char *why)
{
	uint64_t d = AGENT_BACKOFF_MIN_MS;
	uint32_t r = 0;

	for (unsigned int i = 0; i < a->attempt && d < ZT_AGENT_BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > ZT_AGENT_BACKOFF_MAX_MS)
		d = ZT_AGENT_BACKOFF_MAX_MS;
	RAND_bytes((uint8_t *)&r, sizeof(r));
	d = d / 2 + r % (d / 2 + 1);
	a->attempt++;
	a->state = AG_BACKOFF;
	a->next_try_ms = zt_mono_ms() + d;
	snprintf(a->last_error, sizeof(a->last_error), "%s", why);
	a->which++;	/* several controllers: the next one */
	zt_log(a->attempt == 1 ? "warning" : "debug", "controller %s: %s; retrying in %.1f s",
	       a->current, why, (double)d / 1000);
}

/* The controller of the comma-separated list to try now into A->current. */
static void pick_controller(struct zt_agent *a)
{
	const char *p = a->cfg.controller;
	unsigned int n = 1, i;

	for (const char *q = p; *q; q++)
		n += *q == ',';
	for (i = a->which % n; i; i--)
		p = strchr(p, ',') + 1;
	snprintf(a->current, sizeof(a->current), "%.*s", (int)strcspn(p, ","), p);
}

static void send_msg(struct zt_agent *a, json_object *m)
{
	if (a->c && zt_cp_conn_established(a->c))
		zt_cp_conn_send(a->c, m);
	json_object_put(m);
}

static void send_error(struct zt_agent *a, uint64_t rev, const char *err)
{
	json_object *m = json_object_new_object();

	json_object_object_add(m, "type", json_object_new_string("error"));
	json_object_object_add(m, "rev", json_object_new_int64((int64_t)rev));
	json_object_object_add(m, "error", json_object_new_string(err));
	send_msg(a, m);
}

static void send_endpoint(struct zt_agent *a)
{
	json_object *m;

	if (!a->endpoint[0])
		return;
	m = json_object_new_object();
	json_object_object_add(m, "type", json_object_new_string("endpoint"));
	json_object_object_add(m, "endpoint", json_object_new_string(a->endpoint));
	send_msg(a, m);
}

/* TEXT (taken; LEN bytes) as the view the node holds now. */
static void hold_text(struct zt_agent *a, char *text, size_t len)
{
	free(a->text);
	a->text = text;
	a->text_len = len;
}

/* Does the view TEXT of HASH at REV carry the controller's signature SIG? Else refused, logged. */
static bool signed_ok(struct zt_agent *a, uint64_t rev, const char *text, size_t len,
		      const char *hash, const char *sig)
{
	if (a->id.has_view_key && zt_viewsig_verify_text(a->id.view_key, rev, text, len, hash, sig))
		return true;
	zt_log("error", "controller %s: view rev %llu is not signed by the controller's view "
	       "key: refused (the last view stays)", a->cfg.controller, (unsigned long long)rev);
	snprintf(a->last_error, sizeof(a->last_error), "view rev %llu: bad signature",
		 (unsigned long long)rev);
	send_error(a, rev, "view signature does not verify");
	return false;
}

/*
 * A view checked against its hash and signature (TEXT: its text, taken):
 * applied if it moved, persisted, held as the next delta's base, acknowledged.
 */
static void take_view(struct zt_agent *a, json_object *view, char *text, size_t len, uint64_t rev,
		      const char *hash, const char *sig)
{
	char err[512] = "";
	int ret;

	if (strcmp(hash, a->hash)) {
		ret = a->cfg.apply(a->cfg.arg, view, rev, err, sizeof(err));
		if (ret) {
			zt_log("error", "controller %s: view rev %llu not applied (the last one stays): %s",
			       a->current, (unsigned long long)rev, err);
			snprintf(a->last_error, sizeof(a->last_error), "view rev %llu: %s",
				 (unsigned long long)rev, err);
			send_error(a, rev, err);
			free(text);
			return;
		}
		if (zt_agent_view_save_text(a->cfg.state_dir, text, len, rev, hash, sig, err,
					    sizeof(err)))
			zt_log("error", "view rev %llu applied but not saved: %s",
			       (unsigned long long)rev, err);
		zt_log("info", "controller %s: view rev %llu applied", a->current,
		       (unsigned long long)rev);
	}
	hold_text(a, text, len);
	a->rev = rev;
	memcpy(a->hash, hash, ZT_CP_HASH_HEX_LEN + 1);
	send_msg(a, zt_cp_msg_applied(rev, hash));
}

/* A whole view from the controller: check, apply, persist, acknowledge. */
static void on_view(struct zt_agent *a, json_object *m)
{
	char hash[ZT_CP_HASH_HEX_LEN + 1], *text;
	const char *claimed = zt_cp_msg_str(m, "hash"), *sig = zt_cp_msg_str(m, "sig");
	json_object *view;
	uint64_t rev;
	size_t len;

	if (zt_cp_msg_u64(m, "rev", &rev) || !claimed || !json_object_object_get_ex(m, "view", &view) ||
	    !json_object_is_type(view, json_type_object)) {
		zt_log("error", "controller %s: malformed view message ignored", a->current);
		return;
	}
	text = strdup(json_object_to_json_string_ext(view, JSON_C_TO_STRING_PLAIN));
	if (!text) {
		send_error(a, rev, "out of memory");
		return;
	}
	len = strlen(text);
	zt_cp_view_hash_text(text, len, hash);
	if (strcmp(hash, claimed)) {
		zt_log("error", "controller %s: view rev %llu does not match its hash: ignored",
		       a->current, (unsigned long long)rev);
		send_error(a, rev, "view does not match its hash");
		free(text);
		return;
	}
	if (!signed_ok(a, rev, text, len, hash, sig)) {
		free(text);
		return;
	}
	a->views_whole++;
	take_view(a, view, text, len, rev, hash, sig);
}

/* A delta the node cannot take (WHY): the controller sends the view whole. */
static void view_request(struct zt_agent *a, uint64_t rev, const char *why)
{
	json_object *m = json_object_new_object();

	zt_log("warning", "controller %s: view rev %llu as a delta: %s; asking for it whole",
	       a->current, (unsigned long long)rev, why);
	a->views_requested++;
	json_object_object_add(m, "type", json_object_new_string("view_request"));
	json_object_object_add(m, "rev", json_object_new_int64((int64_t)rev));
	json_object_object_add(m, "error", json_object_new_string(why));
	send_msg(a, m);
}

/*
 * A view as edits on the one the node holds (delta.h): the text rebuilt,
 * checked against the hash and the signature before it is parsed, then
 * taken as a whole view is. Anything odd: the whole view is asked for.
 */
static void on_view_delta(struct zt_agent *a, json_object *m)
{
	const char *claimed = zt_cp_msg_str(m, "hash"), *base = zt_cp_msg_str(m, "base"),
		   *sig = zt_cp_msg_str(m, "sig"), *why = NULL;
	char hash[ZT_CP_HASH_HEX_LEN + 1], *text = NULL;
	json_object *edits, *view = NULL;
	uint64_t rev = 0;
	size_t len;

	if (zt_cp_msg_u64(m, "rev", &rev) || !claimed || !base ||
	    !json_object_object_get_ex(m, "edits", &edits)) {
		why = "malformed delta";
		goto out;
	}
	if (!a->text || strcmp(base, a->hash)) {
		why = "its base is not the view this node holds";
		goto out;
	}
	if (zt_cp_delta_apply(a->text, a->text_len, edits, &text, &len)) {
		why = "its edits do not fit the view this node holds";
		goto out;
	}
	zt_cp_view_hash_text(text, len, hash);
	if (strcmp(hash, claimed)) {
		why = "the view it gives does not match its hash";
		goto out;
	}
	if (!signed_ok(a, rev, text, len, hash, sig))
		goto out;
	view = json_tokener_parse(text);
	if (!json_object_is_type(view, json_type_object)) {
		why = "the view it gives is not a JSON object";
		goto out;
	}
	a->views_delta++;
	take_view(a, view, text, len, rev, hash, sig);
	text = NULL;
out:
	if (why)
		view_request(a, rev, why);
	json_object_put(view);
	free(text);
}

/*
 * The accept's view signing key: pinned at enrollment (or, for a node
 * enrolled before views were signed, at its first session: the accept came
 * over the session with the pinned controller key). Another key later is
 * refused: views keep being checked against the pinned one.
 */
static void pin_view_key(struct zt_agent *a, json_object *accept)
{
	uint8_t key[ZT_VIEWSIG_PUB_LEN];
	char err[256];

	if (zt_viewsig_pub_from_base64(zt_cp_msg_str(accept, "view_key"), key)) {
		zt_log("error", "controller %s sends no view signing key: its views will be refused",
		       a->cfg.controller);
		return;
	}
	if (a->id.has_view_key) {
		if (memcmp(key, a->id.view_key, sizeof(key)))
			zt_log("error", "controller %s: its view signing key is not the pinned one: "
			       "views refused (remove \"view_key\" from %s/%s to pin the new one)",
			       a->cfg.controller, a->cfg.state_dir, ZT_AGENT_PIN_FILE);
		return;
	}
	memcpy(a->id.view_key, key, sizeof(key));
	a->id.has_view_key = true;
	if (zt_agent_pin_save(a->cfg.state_dir, a->cfg.controller, a->id.controller_pub,
			      a->id.view_key, true, err, sizeof(err)))
		zt_log("error", "view signing key pinned, but: %s", err);
}

static void on_established(void *ctx, struct zt_cp_conn *c, json_object *accept)
{
	struct zt_agent *a = ctx;
	const char *kind = zt_cp_msg_str(accept, "kind"), *name = zt_cp_msg_str(accept, "name");
	char err[256];

	(void)c;
	a->established = true;
	a->state = AG_SESSION;
	a->attempt = 0;
	a->last_error[0] = '\0';
	a->last_contact_ns = zt_real_ns();
	snprintf(a->node_kind, sizeof(a->node_kind), "%s", kind ? kind : "");
	snprintf(a->node_name, sizeof(a->node_name), "%s", name ? name : "");
	if (zt_cp_msg_u64(accept, "id", &a->node_id))
		a->node_id = 0;
	if (!a->id.enrolled) {
		a->id.enrolled = true;
		zt_token_wipe(&a->id.token);
		a->id.has_token = false;
		if (zt_agent_pin_save(a->cfg.state_dir, a->cfg.controller, a->id.controller_pub, NULL,
				      true, err, sizeof(err)))
			zt_log("error", "enrolled, but: %s", err);
		zt_log("info", "enrolled with controller %s as %s '%s' (id %llu)", a->cfg.controller,
		       a->node_kind, a->node_name, (unsigned long long)a->node_id);
	} else {
		zt_log("info", "controller %s: connected as %s '%s'", a->current, a->node_kind,
		       a->node_name);
	}
	pin_view_key(a, accept);
	send_endpoint(a);
}

static void on_message(void *ctx, struct zt_cp_conn *c, json_object *m)
{
	struct zt_agent *a = ctx;
	const char *type = zt_cp_msg_type(m);

	(void)c;
	a->last_contact_ns = zt_real_ns();
	if (!strcmp(type, "view")) {
		on_view(a, m);
	} else if (!strcmp(type, "view_delta")) {
		on_view_delta(a, m);
	} else if (!strcmp(type, "reauth")) {
		json_object *ok;

		if (json_object_object_get_ex(m, "ok", &ok) && json_object_get_boolean(ok))
			snprintf(a->reauth, sizeof(a->reauth), "ok");
		else
			snprintf(a->reauth, sizeof(a->reauth), "refused: %s",
				 zt_cp_msg_str(m, "error") ?: "no reason given");
		zt_log(strcmp(a->reauth, "ok") ? "warning" : "info", "controller %s: re-authentication %s",
		       a->current, a->reauth);
	} else
		zt_log("debug", "controller %s: message '%s' ignored", a->current, type);
}

static void on_closed(void *ctx, struct zt_cp_conn *c, const char *reason)
{
	struct zt_agent *a = ctx;
	char why[256];

	zt_cp_conn_free(c);
	a->c = NULL;
	a->reconnects++;
	if (!a->established && strstr(reason, "during the handshake"))
		snprintf(why, sizeof(why), "refused during the handshake (another controller key, "
			 "an unknown node key, or a used or expired token)");
	else
		snprintf(why, sizeof(why), "session closed: %s", reason);
	backoff(a, why);
}

static const struct zt_cp_conn_ops conn_ops = {
	.established = on_established, .message = on_message, .closed = on_closed,
};

/* The hello: who we are, the token secret at enrollment, the view we hold. */
static json_object *make_hello(struct zt_agent *a)
{
	json_object *h = json_object_new_object();
	char host[256] = "";

	gethostname(host, sizeof(host) - 1);
	json_object_object_add(h, "role", json_object_new_string(a->cfg.role));
	json_object_object_add(h, "hostname", json_object_new_string(host));
	json_object_object_add(h, "version", json_object_new_string(zt_version()));
	/* Views signed over their hash (viewsig.h, form 2): no Ed25519 pass over a large view. */
	json_object_object_add(h, "view_sig", json_object_new_int(2));
	/* Connectors' views as deltas on the one held (delta.h). */
	json_object_object_add(h, "view_delta", json_object_new_int(ZT_CP_DELTA_FORM));
	if (a->id.has_token && !a->id.enrolled) {
		char b64[64];

		EVP_EncodeBlock((uint8_t *)b64, a->id.token.secret, ZT_TOKEN_SECRET_LEN);
		json_object_object_add(h, "token_secret", json_object_new_string(b64));
		OPENSSL_cleanse(b64, sizeof(b64));
	}
	if (a->hash[0]) {
		json_object *have = json_object_new_object();

		json_object_object_add(have, "rev", json_object_new_int64((int64_t)a->rev));
		json_object_object_add(have, "hash", json_object_new_string(a->hash));
		json_object_object_add(h, "have", have);
	}
	return h;
}

/*
 * json-c frees without wiping: the token secret's string and the hello's
 * serialized text (json-c's buffer) are wiped here before the put.
 */
static void wipe_hello(json_object *h)
{
	json_object *v;
	char *p;

	if (!json_object_object_get_ex(h, "token_secret", &v))
		return;
	p = (char *)json_object_to_json_string_ext(h, JSON_C_TO_STRING_PLAIN);
	OPENSSL_cleanse(p, strlen(p));
	p = (char *)json_object_get_string(v);
	OPENSSL_cleanse(p, strlen(p));
}

static void on_connect(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_agent *a = arg;
	struct zt_cp_conn_cfg cfg = {
		.loop = loop, .fd = fd, .role = ZT_NOISE_INITIATOR, .ops = &conn_ops, .ctx = a,
	};
	socklen_t sl = sizeof(int);
	int soerr = 0, one = 1, ret;
	char why[160];

	(void)events;
	zt_loop_del(loop, fd);
	a->connect_fd = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) || soerr) {
		close(fd);
		snprintf(why, sizeof(why), "connect: %s", strerror(soerr ? soerr : errno));
		backoff(a, why);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memcpy(cfg.static_priv, a->cfg.private_key, ZT_KEY_LEN);
	memcpy(cfg.remote_pub, a->id.controller_pub, ZT_KEY_LEN);
	cfg.hello = make_hello(a);
	cfg.now_ms = zt_mono_ms();
	a->established = false;
	ret = zt_cp_conn_open(&cfg, &a->c);
	OPENSSL_cleanse(cfg.static_priv, sizeof(cfg.static_priv));
	wipe_hello(cfg.hello);
	json_object_put(cfg.hello);
	if (ret) {
		a->c = NULL;
		snprintf(why, sizeof(why), "session: %s", strerror(-ret));
		backoff(a, why);
		return;
	}
	a->state = AG_SESSION;
}

/* HOST:PORT (an IP literal, or a name looked up now) into SS. */
static int resolve(const char *controller, struct sockaddr_storage *ss, socklen_t *sl)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	struct zt_endpoint ep;
	char why[128], host[256];
	const char *colon = strrchr(controller, ':');

	if (!zt_endpoint_parse(controller, &ep, why, sizeof(why))) {
		*sl = (socklen_t)zt_endpoint_to_sockaddr(&ep, ss);
		return 0;
	}
	if (!colon || colon == controller || (size_t)(colon - controller) >= sizeof(host))
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - controller), controller);
	if (getaddrinfo(host, colon + 1, &hints, &res) || !res)
		return -EHOSTUNREACH;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void try_connect(struct zt_agent *a)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char why[160];
	int fd, ret;

	pick_controller(a);
	ret = resolve(a->current, &ss, &sl);
	if (ret) {
		snprintf(why, sizeof(why), "cannot resolve %.128s", a->current);
		backoff(a, why);
		return;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || (connect(fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS)) {
		snprintf(why, sizeof(why), "connect: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		backoff(a, why);
		return;
	}
	ret = zt_loop_add(a->cfg.loop, fd, EPOLLOUT, on_connect, a);
	if (ret) {
		close(fd);
		backoff(a, "event loop");
		return;
	}
	a->connect_fd = fd;
	a->state = AG_CONNECTING;
	a->connect_deadline_ms = zt_mono_ms() + AGENT_CONNECT_MS;
}

void zt_agent_tick(struct zt_agent *a, uint64_t now_ms)
{
	switch (a->state) {
	case AG_BACKOFF:
		if (now_ms >= a->next_try_ms)
			try_connect(a);
		break;
	case AG_CONNECTING:
		if (now_ms >= a->connect_deadline_ms) {
			zt_loop_del(a->cfg.loop, a->connect_fd);
			close(a->connect_fd);
			a->connect_fd = -1;
			backoff(a, "connect timed out");
		}
		break;
	case AG_SESSION:
		if (a->c)
			zt_cp_conn_tick(a->c, now_ms);	/* may close: backoff */
		break;
	case AG_IDLE:
		break;
	}
}

static void on_timer(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	uint64_t exp;

	(void)loop;
	(void)events;
	if (read(fd, &exp, sizeof(exp)) == sizeof(exp))
		zt_agent_tick(arg, zt_mono_ms());
}

int zt_agent_open(const struct zt_agent_cfg *cfg, struct zt_agent **out, char *err,
		  size_t errlen)
{
	struct itimerspec its = { .it_value.tv_nsec = AGENT_TICK_MS * 1000000L,
				  .it_interval.tv_nsec = AGENT_TICK_MS * 1000000L };
	struct zt_agent *a = calloc(1, sizeof(*a));
	int ret;

	if (!a)
		return zt_errf(err, errlen, -ENOMEM, "out of memory");
	a->cfg = *cfg;
	a->id = *cfg->id;
	a->timer_fd = a->connect_fd = -1;
	if (!cfg->no_timer) {
		a->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (a->timer_fd < 0 || timerfd_settime(a->timer_fd, 0, &its, NULL)) {
			ret = zt_errf(err, errlen, -errno, "agent timer: %s", strerror(errno));
			goto fail;
		}
		ret = zt_loop_add(cfg->loop, a->timer_fd, EPOLLIN, on_timer, a);
		if (ret) {
			zt_errf(err, errlen, ret, "agent timer: %s", strerror(-ret));
			goto fail;
		}
	}
	*out = a;
	return 0;
fail:
	if (a->timer_fd >= 0)
		close(a->timer_fd);
	free(a);
	return ret;
}

int zt_agent_start(struct zt_agent *a, char *err, size_t errlen)
{
	char hash[ZT_CP_HASH_HEX_LEN + 1], why[512], *text;
	json_object *view = NULL;
	uint64_t rev = 0;
	int ret;

	(void)err;
	(void)errlen;
	ret = zt_agent_view_load(a->cfg.state_dir, a->id.has_view_key ? a->id.view_key : NULL,
				 &view, &rev, hash, why, sizeof(why));
	/*
	 * A view.json that does not hold (tampered, torn, not signed by the
	 * pinned key) is refused with one line: the node goes on with the
	 * policy in force (its store's policy.json) until the controller sends
	 * a view.
	 */
	if (ret && ret != -ENOENT)
		zt_log("error", "%s: refused; keeping the policy in force until the controller "
		       "sends a view", why);
	if (!ret) {
		/* Fail static: the last view, whether or not the controller answers. */
		if (a->cfg.apply(a->cfg.arg, view, rev, why, sizeof(why))) {
			zt_log("error", "the persisted view rev %llu could not be applied: %s",
			       (unsigned long long)rev, why);
		} else {
			a->rev = rev;
			memcpy(a->hash, hash, sizeof(hash));
			/* The base of the controller's next delta, if it has this view too. */
			text = strdup(json_object_to_json_string_ext(view, JSON_C_TO_STRING_PLAIN));
			hold_text(a, text, text ? strlen(text) : 0);
			zt_log("info", "persisted view rev %llu applied (until the controller answers)",
			       (unsigned long long)rev);
		}
		json_object_put(view);
	}
	try_connect(a);
	return 0;
}

void zt_agent_set_endpoint(struct zt_agent *a, const char *endpoint)
{
	snprintf(a->endpoint, sizeof(a->endpoint), "%s", endpoint);
	send_endpoint(a);
}

void zt_agent_report_connection(struct zt_agent *a, json_object *line)
{
	json_object *m;

	/* Logs never hold up a view: a backed-up session drops them (counted). */
	if (!a->c || !zt_cp_conn_established(a->c) || zt_cp_conn_pending(a->c) > (1u << 20)) {
		a->dropped++;
		return;
	}
	m = json_object_new_object();
	json_object_object_add(m, "type", json_object_new_string("connection"));
	json_object_object_add(m, "line", json_object_get(line));
	if (zt_cp_conn_send(a->c, m))
		a->dropped++;
	json_object_put(m);
}

bool zt_agent_connected(const struct zt_agent *a)
{
	return a->c && zt_cp_conn_established(a->c);
}

uint64_t zt_agent_rev(const struct zt_agent *a)
{
	return a->rev;
}

json_object *zt_agent_status(const struct zt_agent *a)
{
	json_object *o = json_object_new_object();
	char b64[ZT_KEY_B64_LEN + 1], when[64];
	bool up = zt_agent_connected(a);

	zt_key_to_base64(a->id.controller_pub, b64);
	json_object_object_add(o, "controller", json_object_new_string(a->cfg.controller));
	json_object_object_add(o, "controller_key", json_object_new_string(b64));
	json_object_object_add(o, "enrolled", json_object_new_boolean(a->id.enrolled));
	json_object_object_add(o, "connected", json_object_new_boolean(up));
	json_object_object_add(o, "state", json_object_new_string(
			       up ? "connected" : a->state == AG_SESSION ? "handshake" : state_name(a->state)));
	if (a->node_kind[0]) {
		json_object *n = json_object_new_object();

		json_object_object_add(n, "kind", json_object_new_string(a->node_kind));
		json_object_object_add(n, "id", json_object_new_int64((int64_t)a->node_id));
		json_object_object_add(n, "name", json_object_new_string(a->node_name));
		json_object_object_add(o, "node", n);
	}
	json_object_object_add(o, "rev_applied", json_object_new_int64((int64_t)a->rev));
	json_object_object_add(o, "hash_applied", json_object_new_string(a->hash));
	if (up) {
		uint64_t ago = zt_mono_ms() - zt_cp_conn_last_rx(a->c);
		uint64_t now = zt_real_ns();

		zt_format_time(now - ago * ZT_NS_PER_MS, when, sizeof(when));
		json_object_object_add(o, "last_contact", json_object_new_string(when));
	} else if (a->last_contact_ns) {
		zt_format_time(a->last_contact_ns, when, sizeof(when));
		json_object_object_add(o, "last_contact", json_object_new_string(when));
	}
	if (a->last_error[0])
		json_object_object_add(o, "last_error", json_object_new_string(a->last_error));
	if (a->reauth[0])
		json_object_object_add(o, "reauth", json_object_new_string(a->reauth));
	json_object_object_add(o, "reconnects", json_object_new_int64((int64_t)a->reconnects));
	json_object_object_add(o, "connections_dropped", json_object_new_int64((int64_t)a->dropped));
	json_object_object_add(o, "views_whole", json_object_new_int64((int64_t)a->views_whole));
	json_object_object_add(o, "views_delta", json_object_new_int64((int64_t)a->views_delta));
	json_object_object_add(o, "views_requested_whole",
			       json_object_new_int64((int64_t)a->views_requested));
	return o;
}

int zt_agent_reauth(struct zt_agent *a, const char *token_text, char *err, size_t errlen)
{
	char b64[((ZT_TOKEN_SECRET_LEN + 2) / 3) * 4 + 1];
	struct zt_token t;
	json_object *m;
	int ret = zt_token_decode(token_text, &t, err, errlen);

	if (ret)
		return ret;
	if (CRYPTO_memcmp(t.controller_pub, a->id.controller_pub, ZT_KEY_LEN)) {
		zt_token_wipe(&t);
		return zt_errf(err, errlen, -EINVAL, "the token is for another controller");
	}
	if (!zt_agent_connected(a)) {
		zt_token_wipe(&t);
		return zt_errf(err, errlen, -ENOTCONN, "not connected to the controller %s (%s): "
			       "try again when connected", a->cfg.controller, state_name(a->state));
	}
	EVP_EncodeBlock((uint8_t *)b64, t.secret, ZT_TOKEN_SECRET_LEN);
	zt_token_wipe(&t);
	m = json_object_new_object();
	json_object_object_add(m, "type", json_object_new_string("reauth"));
	json_object_object_add(m, "token_secret", json_object_new_string(b64));
	OPENSSL_cleanse(b64, sizeof(b64));
	ret = zt_cp_conn_send(a->c, m);
	json_object_put(m);
	if (ret)
		return zt_errf(err, errlen, ret, "sending to the controller: %s", strerror(-ret));
	snprintf(a->reauth, sizeof(a->reauth), "pending");
	return 0;
}

void zt_agent_close(struct zt_agent *a)
{
	if (!a)
		return;
	if (a->c)
		zt_cp_conn_free(a->c);
	if (a->connect_fd >= 0) {
		zt_loop_del(a->cfg.loop, a->connect_fd);
		close(a->connect_fd);
	}
	if (a->timer_fd >= 0) {
		zt_loop_del(a->cfg.loop, a->timer_fd);
		close(a->timer_fd);
	}
	zt_token_wipe(&a->id.token);
	OPENSSL_cleanse(a->cfg.private_key, sizeof(a->cfg.private_key));
	free(a->text);
	free(a);
}
