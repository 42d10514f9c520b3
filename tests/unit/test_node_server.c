// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests: the controller's node server (controller/node_server.h) with
 * fake model operations, and real agents (agent/agent.h) as its nodes, on
 * loopback. Enrollment with a token (once), reconnection with the key
 * alone, views coalesced and sent only when their hash moved, the latest
 * view (never a queue) to a node that does not read, refusal without a
 * byte (bad token, wrong controller key), per-source limits on
 * unauthenticated connections and their handshake deadline, disconnect
 * and status; a connector's views as deltas (at a change, and after a
 * restart holding an older view), whole when it holds none.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "controller/node_server.h"
#include "controlplane/conn.h"
#include "controlplane/msg.h"
#include "controlplane/token.h"
#include "lib/clock.h"
#include "lib/loop.h"
#include "tunnel/noise.h"

/* The fake model: one connector, enrolled by token, and the view it gets. */
static struct {
	char token_hash[ZT_TOKEN_HASH_HEX_LEN + 1];
	bool token_used;
	uint8_t pub[ZT_KEY_LEN];
	bool known;
	uint64_t rev;
	json_object *view;
	int enrolls, lookups, views, connects, disconnects, applied, endpoints, connections;
	uint64_t applied_rev;
	json_object *last_hello;
	bool drop_on_applied;		/* the model disconnects the node from its report */
} m;

static struct zt_loop *loop, *node_loop;
static struct zt_node_server *srv;
static uint8_t ctl_priv[32], ctl_pub[32];
static char controller[64];
static char dir[64];

/* What the node applied. */
static struct {
	int applies;
	uint64_t rev;
	json_object *view;
} node;

static int f_enroll(void *ctx, const char *token_hash, const uint8_t pub[ZT_KEY_LEN],
		    json_object *hello, struct zt_node_ident *ident, char *err, size_t errlen)
{
	(void)ctx;
	m.enrolls++;
	if (m.token_used || strcmp(token_hash, m.token_hash)) {
		snprintf(err, errlen, "unknown, expired or used token");
		return -EACCES;
	}
	m.token_used = true;
	m.known = true;
	memcpy(m.pub, pub, ZT_KEY_LEN);
	json_object_put(m.last_hello);
	m.last_hello = json_object_get(hello);
	*ident = (struct zt_node_ident){ .kind = ZT_NODE_CONNECTOR, .id = 7 };
	snprintf(ident->name, sizeof(ident->name), "office-gw");
	return 0;
}

static int f_lookup(void *ctx, const uint8_t pub[ZT_KEY_LEN], struct zt_node_ident *ident)
{
	(void)ctx;
	m.lookups++;
	if (!m.known || memcmp(pub, m.pub, ZT_KEY_LEN))
		return -ENOENT;
	*ident = (struct zt_node_ident){ .kind = ZT_NODE_CONNECTOR, .id = 7 };
	snprintf(ident->name, sizeof(ident->name), "office-gw");
	return 0;
}

static json_object *f_view(void *ctx, const struct zt_node_ident *ident, uint64_t *rev)
{
	(void)ctx;
	(void)ident;
	m.views++;
	if (!m.view)
		return NULL;
	*rev = m.rev;
	return json_object_get(m.view);
}

static void f_report(void *ctx, const struct zt_node_ident *ident, const char *what, json_object *body)
{
	(void)ctx;
	assert_int_equal(ident->id, 7);
	if (!strcmp(what, "connect")) {
		m.connects++;
		json_object_put(m.last_hello);
		assert_true(json_object_object_get_ex(body, "hello", &m.last_hello));
		json_object_get(m.last_hello);
	} else if (!strcmp(what, "disconnect")) {
		m.disconnects++;
	} else if (!strcmp(what, "applied")) {
		m.applied++;
		json_object *v;

		assert_true(json_object_object_get_ex(body, "rev", &v));
		m.applied_rev = (uint64_t)json_object_get_int64(v);
		if (m.drop_on_applied)
			zt_node_server_disconnect(srv, ident);
	} else if (!strcmp(what, "endpoint")) {
		m.endpoints++;
	} else if (!strcmp(what, "connection")) {
		m.connections++;
	}
}

static const struct zt_node_server_ops fops = {
	.enroll = f_enroll, .lookup = f_lookup, .view = f_view, .report = f_report,
};

static int n_apply(void *arg, json_object *view, uint64_t rev, char *err, size_t errlen)
{
	(void)arg;
	(void)err;
	(void)errlen;
	node.applies++;
	node.rev = rev;
	json_object_put(node.view);
	node.view = json_object_get(view);
	return 0;
}

/* Run both loops for up to MS, or until *UNTIL (if given) turns true. */
static void run(int ms, const bool *until)
{
	uint64_t end = zt_mono_ms() + (uint64_t)ms;

	while (zt_mono_ms() < end && !(until && *until)) {
		zt_loop_run_once(loop, 5);
		zt_loop_run_once(node_loop, 5);
	}
}

static void set_view(uint64_t rev, const char *name, size_t pad)
{
	json_object *v = json_object_new_object(), *self = json_object_new_object();
	char *big = calloc(1, pad + 1);

	memset(big, 'x', pad);
	json_object_object_add(self, "kind", json_object_new_string("connector"));
	json_object_object_add(self, "name", json_object_new_string(name));
	json_object_object_add(v, "self", self);
	json_object_object_add(v, "policy", json_object_new_object());
	json_object_object_add(v, "pad", json_object_new_string(big));
	free(big);
	json_object_put(m.view);
	m.view = v;
	m.rev = rev;
}

static struct zt_agent *agent_up(const char *state, const char *token, struct zt_loop *l, int *ret_prepare)
{
	struct zt_agent_identity id;
	struct zt_agent_cfg cfg = {
		.loop = l, .state_dir = state, .controller = controller, .role = "connector",
		.id = &id, .apply = n_apply, .no_timer = true,
	};
	struct zt_agent *a;
	char err[256];

	*ret_prepare = zt_agent_prepare(state, NULL, controller, token, &id, err, sizeof(err));
	if (*ret_prepare)
		return NULL;
	assert_int_equal(zt_key_load_private(id.key_file, cfg.private_key, err, sizeof(err)), 0);
	assert_int_equal(zt_agent_open(&cfg, &a, err, sizeof(err)), 0);
	assert_int_equal(zt_agent_start(a, err, sizeof(err)), 0);
	zt_token_wipe(&id.token);
	return a;
}

static void new_token(char text[ZT_TOKEN_TEXT_LEN + 1], const uint8_t *pub, bool register_it)
{
	struct zt_token t;

	assert_int_equal(zt_token_new(&t, pub), 0);
	zt_token_encode(&t, text);
	if (register_it) {
		zt_token_secret_hash(t.secret, m.token_hash);
		m.token_used = false;
	}
	zt_token_wipe(&t);
}

static bool applied_rev(uint64_t rev)
{
	return m.applied_rev == rev && node.rev == rev;
}

static void test_enroll_views_restart(void **state)
{
	char token[ZT_TOKEN_TEXT_LEN + 1], path[128];
	struct zt_node_ident ident = { .kind = ZT_NODE_CONNECTOR, .id = 7 };
	struct zt_agent *a;
	json_object *st, *v;
	struct stat sb;
	int rp, applies, views;
	uint64_t sig_form = 0;

	(void)state;
	new_token(token, ctl_pub, true);
	set_view(1, "r1", 10);
	a = agent_up(dir, token, node_loop, &rp);
	assert_int_equal(rp, 0);
	snprintf(path, sizeof(path), "%s/node.key", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	for (int i = 0; i < 100 && !applied_rev(1); i++)
		run(20, NULL);
	assert_int_equal(m.enrolls, 1);
	assert_int_equal(m.connects, 1);
	/* The model never sees the secret. */
	assert_false(json_object_object_get_ex(m.last_hello, "token_secret", NULL));
	assert_string_equal(zt_cp_msg_str(m.last_hello, "role"), "connector");
	/* Views signed over their hash from here on (viewsig.h form 2): the agent verified them. */
	assert_true(!zt_cp_msg_u64(m.last_hello, "view_sig", &sig_form) && sig_form == 2);
	assert_true(zt_agent_connected(a));
	assert_int_equal(node.applies, 1);
	/* Persisted. */
	{
		struct zt_agent_identity pid;
		json_object *pv;
		uint64_t prev;
		char h[65], err[128];

		/* Signed by the node server's key, which the node pinned from the accept. */
		assert_int_equal(zt_agent_prepare(dir, NULL, controller, NULL, &pid, err, sizeof(err)), 0);
		assert_true(pid.has_view_key);
		assert_int_equal(zt_agent_view_load(dir, pid.view_key, &pv, &prev, h, err, sizeof(err)), 0);
		assert_int_equal(prev, 1);
		assert_true(json_object_equal(pv, m.view));
		json_object_put(pv);
	}
	/* The endpoint and connection logs reach the model. */
	zt_agent_set_endpoint(a, "192.0.2.1:51820");
	v = json_object_new_object();
	json_object_object_add(v, "event", json_object_new_string("connection_start"));
	zt_agent_report_connection(a, v);
	json_object_put(v);
	run(100, NULL);
	assert_int_equal(m.endpoints, 1);
	assert_int_equal(m.connections, 1);

	/* Unchanged view: nothing sent. A burst of changes: one view. */
	views = m.views;
	applies = node.applies;
	zt_node_server_changed(srv, NULL);
	run(200, NULL);
	assert_int_equal(m.views, views + 1);
	assert_int_equal(node.applies, applies);
	for (int i = 2; i <= 6; i++) {
		set_view((uint64_t)i, "r", (size_t)i);
		zt_node_server_changed(srv, &ident);
	}
	run(300, NULL);
	assert_int_equal(node.applies, applies + 1);
	assert_int_equal(node.rev, 6);
	assert_int_equal(m.applied_rev, 6);

	st = zt_node_server_status(srv);
	assert_true(json_object_object_get_ex(st, "connected", &v));
	assert_int_equal(json_object_get_int(v), 1);
	assert_true(json_object_object_get_ex(st, "nodes", &v));
	v = json_object_array_get_idx(v, 0);
	assert_string_equal(zt_cp_msg_str(v, "name"), "office-gw");
	json_object_put(st);
	st = zt_agent_status(a);
	assert_true(json_object_object_get_ex(st, "rev_applied", &v));
	assert_int_equal(json_object_get_int(v), 6);
	json_object_put(st);

	/* Restart: the key alone; the persisted view applies first; unchanged: not resent. */
	zt_agent_close(a);
	run(100, NULL);
	assert_int_equal(m.disconnects, 1);
	applies = node.applies;
	a = agent_up(dir, token, node_loop, &rp);	/* --token again: ignored */
	assert_int_equal(rp, 0);
	assert_int_equal(node.applies, applies + 1);	/* fail static, before any answer */
	for (int i = 0; i < 100 && !zt_agent_connected(a); i++)
		run(10, NULL);
	run(200, NULL);
	assert_true(zt_agent_connected(a));
	assert_int_equal(m.enrolls, 1);
	assert_true(m.lookups >= 1);
	assert_int_equal(node.applies, applies + 1);
	assert_int_equal(m.applied_rev, 6);

	/* The controller drops the node: it comes back by itself. */
	zt_node_server_disconnect(srv, &ident);
	run(100, NULL);
	assert_false(zt_agent_connected(a));
	zt_agent_tick(a, zt_mono_ms() + 60000);
	for (int i = 0; i < 100 && !zt_agent_connected(a); i++)
		run(10, NULL);
	assert_true(zt_agent_connected(a));
	/* The model disconnects the node from inside its own report: safe, and it comes back. */
	m.drop_on_applied = true;
	set_view(7, "r7", 7);
	zt_node_server_changed(srv, &ident);
	run(200, NULL);
	m.drop_on_applied = false;
	assert_int_equal(m.applied_rev, 7);
	assert_false(zt_agent_connected(a));
	zt_agent_tick(a, zt_mono_ms() + 60000);
	for (int i = 0; i < 100 && !zt_agent_connected(a); i++)
		run(10, NULL);
	assert_true(zt_agent_connected(a));
	/* The node is deleted in the model: its connection goes. */
	json_object_put(m.view);
	m.view = NULL;
	zt_node_server_changed(srv, NULL);
	run(200, NULL);
	assert_false(zt_agent_connected(a));
	zt_agent_close(a);
	run(50, NULL);
}

/* A node that does not read gets the latest view once it does, not every one between. */
static void test_latest_view(void **state)
{
	char token[ZT_TOKEN_TEXT_LEN + 1], d1[128];
	struct zt_node_ident ident = { .kind = ZT_NODE_CONNECTOR, .id = 7 };
	struct zt_agent *a;
	int rp, applies;

	(void)state;
	m.known = false;
	new_token(token, ctl_pub, true);
	set_view(1, "r1", 10);
	snprintf(d1, sizeof(d1), "%s/n1", dir);
	a = agent_up(d1, token, node_loop, &rp);
	assert_int_equal(rp, 0);
	for (int i = 0; i < 100 && !applied_rev(1); i++)
		run(20, NULL);
	assert_int_equal(node.rev, 1);
	applies = node.applies;
	/* 8 MB: more than the socket buffers hold; the node's loop is not run. */
	set_view(2, "big", 8u << 20);
	zt_node_server_changed(srv, &ident);
	for (int i = 0; i < 40; i++)
		zt_loop_run_once(loop, 5);
	for (int i = 3; i <= 5; i++) {
		set_view((uint64_t)i, "small", (size_t)i);
		zt_node_server_changed(srv, &ident);
		for (int k = 0; k < 20; k++)
			zt_loop_run_once(loop, 5);
	}
	for (int i = 0; i < 400 && !applied_rev(5); i++)
		run(10, NULL);
	assert_int_equal(node.rev, 5);
	assert_int_equal(node.applies, applies + 2);	/* rev 2, then 5: never 3 or 4 */
	zt_agent_close(a);
	run(50, NULL);
}

/* A view of N device entries, entry K with address A: the connector's view in small. */
static void set_view_list(uint64_t rev, int n, int k, int addr)
{
	json_object *v = json_object_new_object(), *p = json_object_new_object();
	json_object *devs = json_object_new_array();
	char b[64];

	for (int i = 0; i < n; i++) {
		json_object *e = json_object_new_object();

		snprintf(b, sizeof(b), "dev-%d", i);
		json_object_object_add(e, "name", json_object_new_string(b));
		snprintf(b, sizeof(b), "100.64.0.%d", i == k ? addr : i % 250);
		json_object_object_add(e, "address", json_object_new_string(b));
		json_object_array_add(devs, e);
	}
	json_object_object_add(p, "devices", devs);
	json_object_object_add(v, "policy", p);
	json_object_object_add(v, "self", json_object_new_object());
	json_object_put(m.view);
	m.view = v;
	m.rev = rev;
}

static int64_t field_of(json_object *st, const char *field)
{
	json_object *v;
	int64_t n;

	assert_true(json_object_object_get_ex(st, field, &v));
	n = json_object_get_int64(v);
	json_object_put(st);
	return n;
}

/*
 * A connector that says "view_delta": a change goes as a delta (the server's
 * and the agent's counters), the view applied equal to the model's; a
 * restart holding an older view the server still has gets a delta; one
 * holding no view gets it whole.
 */
static void test_delta(void **state)
{
	char token[ZT_TOKEN_TEXT_LEN + 1], d1[128], path[160];
	struct zt_node_ident ident = { .kind = ZT_NODE_CONNECTOR, .id = 7 };
	struct zt_agent *a;
	int64_t whole, delta;
	int rp;

	(void)state;
	m.known = false;
	new_token(token, ctl_pub, true);
	set_view_list(1, 300, -1, 0);
	snprintf(d1, sizeof(d1), "%s/nd", dir);
	a = agent_up(d1, token, node_loop, &rp);
	assert_int_equal(rp, 0);
	for (int i = 0; i < 100 && !applied_rev(1); i++)
		run(20, NULL);
	whole = field_of(zt_node_server_status(srv), "views_whole");
	delta = field_of(zt_node_server_status(srv), "views_delta");
	assert_int_equal(field_of(zt_agent_status(a), "views_whole"), 1);

	set_view_list(2, 300, 17, 251);
	zt_node_server_changed(srv, &ident);
	for (int i = 0; i < 100 && !applied_rev(2); i++)
		run(20, NULL);
	assert_true(json_object_equal(node.view, m.view));
	assert_int_equal(field_of(zt_agent_status(a), "views_delta"), 1);
	assert_int_equal(field_of(zt_agent_status(a), "views_whole"), 1);
	assert_int_equal(field_of(zt_node_server_status(srv), "views_delta"), delta + 1);
	assert_int_equal(field_of(zt_node_server_status(srv), "views_whole"), whole);
	/* A few hundred bytes on the wire for a view of about 13 KB. */
	assert_true(field_of(zt_node_server_status(srv), "view_bytes_delta") < 1000);

	/* Down while the view changes: back with the older view, it gets a delta. */
	zt_agent_close(a);
	run(50, NULL);
	set_view_list(3, 300, 40, 252);
	zt_node_server_changed(srv, &ident);
	run(100, NULL);
	a = agent_up(d1, NULL, node_loop, &rp);
	for (int i = 0; i < 100 && !applied_rev(3); i++)
		run(20, NULL);
	assert_true(json_object_equal(node.view, m.view));
	assert_int_equal(field_of(zt_agent_status(a), "views_delta"), 1);
	assert_int_equal(field_of(zt_agent_status(a), "views_whole"), 0);

	/* Back holding no view (view.json gone): whole. */
	zt_agent_close(a);
	run(50, NULL);
	snprintf(path, sizeof(path), "%s/view.json", d1);
	assert_int_equal(unlink(path), 0);
	set_view_list(4, 300, 41, 253);
	a = agent_up(d1, NULL, node_loop, &rp);
	for (int i = 0; i < 100 && !applied_rev(4); i++)
		run(20, NULL);
	assert_true(json_object_equal(node.view, m.view));
	assert_int_equal(field_of(zt_agent_status(a), "views_whole"), 1);
	assert_int_equal(field_of(zt_agent_status(a), "views_delta"), 0);
	zt_agent_close(a);
	run(50, NULL);
}

/* A bad token, another controller's key: refused, no byte back, no view. */
static void test_refused(void **state)
{
	char token[ZT_TOKEN_TEXT_LEN + 1], d2[128];
	uint8_t other_priv[32], other_pub[32];
	struct zt_agent *a;
	json_object *st, *v;
	int rp, enrolls = m.enrolls, applies = node.applies, connects = m.connects;

	(void)state;
	snprintf(d2, sizeof(d2), "%s/n2", dir);
	new_token(token, ctl_pub, false);	/* never issued */
	a = agent_up(d2, token, node_loop, &rp);
	run(300, NULL);
	assert_int_equal(m.enrolls, enrolls + 1);
	assert_false(zt_agent_connected(a));
	assert_int_equal(node.applies, applies);
	assert_int_equal(m.connects, connects);
	st = zt_agent_status(a);
	assert_true(json_object_object_get_ex(st, "last_error", &v));
	assert_non_null(strstr(json_object_get_string(v), "refused during the handshake"));
	json_object_put(st);
	zt_agent_close(a);

	snprintf(d2, sizeof(d2), "%s/n3", dir);
	zt_noise_keypair(other_pub, other_priv);
	new_token(token, other_pub, true);
	a = agent_up(d2, token, node_loop, &rp);
	run(300, NULL);
	assert_int_equal(m.enrolls, enrolls + 1);	/* the model never heard of it */
	assert_false(zt_agent_connected(a));
	zt_agent_close(a);

	/* Not enrolled, no token: refused at start with one line. */
	{
		struct zt_agent_identity id;
		char err[256];

		snprintf(d2, sizeof(d2), "%s/n4", dir);
		assert_int_equal(zt_agent_prepare(d2, NULL, controller, NULL, &id, err, sizeof(err)),
				 -EINVAL);
		assert_string_equal(err, "not enrolled with a controller yet: the first start needs "
				    "--token TOKEN");
		assert_int_equal(zt_agent_prepare(d2, NULL, controller, "ztgt1_nope", &id, err,
						  sizeof(err)), -EINVAL);
		assert_string_equal(err, "invalid --token: token is truncated or corrupted");
	}
}

/* Unauthenticated connections from one address are capped. */
static void test_unauth_limit(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fds[10], n = 0;
	char buf[8];
	json_object *st, *v;

	(void)state;
	a.sin_port = htons((uint16_t)atoi(strrchr(controller, ':') + 1));
	for (int i = 0; i < 10; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
		run(20, NULL);
	}
	st = zt_node_server_status(srv);
	assert_true(json_object_object_get_ex(st, "handshaking", &v));
	assert_int_equal(json_object_get_int(v), 8);
	json_object_put(st);
	for (int i = 0; i < 10; i++) {
		struct timeval tv = { .tv_usec = 1000 };

		setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (recv(fds[i], buf, sizeof(buf), 0) == 0) {
			n++;	/* closed by the server without a byte */
			close(fds[i]);
			fds[i] = -1;
		}
	}
	assert_int_equal(n, 2);
	/* The others had ZT_CP_HANDSHAKE_MS to send message 1: closed after it, without a byte. */
	run(ZT_CP_HANDSHAKE_MS + 1500, NULL);
	st = zt_node_server_status(srv);
	assert_true(json_object_object_get_ex(st, "handshaking", &v));
	assert_int_equal(json_object_get_int(v), 0);
	json_object_put(st);
	for (int i = 0; i < 10; i++) {
		if (fds[i] < 0)
			continue;
		assert_int_equal(recv(fds[i], buf, sizeof(buf), 0), 0);
		close(fds[i]);
	}
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	struct zt_node_server_cfg cfg = { .ops = &fops };
	json_object *st;
	char err[256];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/zt-test-ns.XXXXXX");
	assert_non_null(mkdtemp(dir));
	zt_noise_keypair(ctl_pub, ctl_priv);
	assert_int_equal(zt_loop_new(&loop), 0);
	assert_int_equal(zt_loop_new(&node_loop), 0);
	cfg.loop = loop;
	assert_int_equal(zt_endpoint_parse("127.0.0.1:1", &cfg.listen, err, sizeof(err)), 0);
	cfg.listen.port = 0;	/* any free port */
	memcpy(cfg.static_priv, ctl_priv, 32);
	assert_int_equal(zt_node_server_open(&srv, &cfg, err, sizeof(err)), 0);
	st = zt_node_server_status(srv);
	snprintf(controller, sizeof(controller), "%s", zt_cp_msg_str(st, "listen"));
	json_object_put(st);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	zt_node_server_close(srv);
	zt_loop_free(loop);
	zt_loop_free(node_loop);
	json_object_put(m.view);
	json_object_put(m.last_hello);
	json_object_put(node.view);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enroll_views_restart),
		cmocka_unit_test(test_latest_view),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_unauth_limit),
		cmocka_unit_test(test_delta),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
