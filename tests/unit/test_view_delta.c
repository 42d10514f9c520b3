// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests: views as deltas (controlplane/delta.h) and the agent's side of
 * "view_delta" (agent/agent.h). Round trips over random changes to a
 * connector-like view (applying the delta to the old text gives exactly the
 * new text, and a one-device change is a small delta); malformed edits
 * refused; and a real agent against a hand-made controller on loopback: a
 * good delta applied, a delta on another base, a tampered delta (its hash)
 * and a delta signed by another key never applied, the first two answered
 * with "view_request" and the whole view then applied.
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
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "controlplane/conn.h"
#include "controlplane/delta.h"
#include "controlplane/msg.h"
#include "lib/clock.h"
#include "lib/json_io.h"
#include "lib/loop.h"
#include "tunnel/noise.h"

/* A connector-like view: devices and their grants, resources, self, relays. */
struct model {
	bool dev[400];
	int addr[400];
	bool grant[400][8];
	int self, relays;
};

static char *text_of(const struct model *md, size_t *len)
{
	json_object *v = json_object_new_object(), *p = json_object_new_object();
	json_object *res = json_object_new_array(), *devs = json_object_new_array();
	json_object *grants = json_object_new_array(), *self = json_object_new_object();
	json_object *relays = json_object_new_array();
	char b[64];

	for (int r = 0; r < 8; r++) {
		json_object *e = json_object_new_object();

		snprintf(b, sizeof(b), "res-%d.corp", r);
		json_object_object_add(e, "name", json_object_new_string(b));
		json_object_object_add(e, "tcp", json_object_new_string("22,443"));
		json_object_array_add(res, e);
	}
	for (int d = 0; d < 400; d++) {
		json_object *e, *o;

		if (!md->dev[d])
			continue;
		e = json_object_new_object();
		o = json_object_new_object();
		snprintf(b, sizeof(b), "dev-%d", d);
		json_object_object_add(e, "name", json_object_new_string(b));
		snprintf(b, sizeof(b), "100.64.%d.%d", md->addr[d] / 250, md->addr[d] % 250);
		json_object_object_add(e, "address", json_object_new_string(b));
		snprintf(b, sizeof(b), "user%d@corp.example", d / 10);
		json_object_object_add(o, "user", json_object_new_string(b));
		json_object_object_add(e, "owner", o);
		json_object_object_add(e, "controller_id", json_object_new_int(d + 1));
		json_object_array_add(devs, e);
		for (int r = 0; r < 8; r++) {
			if (!md->grant[d][r])
				continue;
			e = json_object_new_object();
			snprintf(b, sizeof(b), "dev-%d", d);
			json_object_object_add(e, "device", json_object_new_string(b));
			snprintf(b, sizeof(b), "res-%d.corp", r);
			json_object_object_add(e, "resource", json_object_new_string(b));
			json_object_array_add(grants, e);
		}
	}
	json_object_object_add(p, "version", json_object_new_int(1));
	json_object_object_add(p, "resources", res);
	json_object_object_add(p, "devices", devs);
	json_object_object_add(p, "grants", grants);
	snprintf(b, sizeof(b), "gw-%d", md->self);
	json_object_object_add(self, "name", json_object_new_string(b));
	for (int i = 0; i < md->relays; i++)
		json_object_array_add(relays, json_object_new_string("198.18.0.9:3478"));
	json_object_object_add(v, "policy", p);
	json_object_object_add(v, "self", self);
	json_object_object_add(v, "relays", relays);
	return zt_json_take_text(v, len);
}

static void model_init(struct model *md)
{
	memset(md, 0, sizeof(*md));
	for (int d = 0; d < 400; d++) {
		md->dev[d] = d % 3 != 0;
		md->addr[d] = d;
		for (int r = 0; r < 8; r++)
			md->grant[d][r] = md->dev[d] && (d + r) % 4 == 0;
	}
	md->relays = 1;
}

/* One random change: a device in or out, an address, a grant, self, relays. */
static void change(struct model *md)
{
	int d = rand() % 400, r = rand() % 8;

	switch (rand() % 6) {
	case 0:
		md->dev[d] = !md->dev[d];
		for (int k = 0; k < 8; k++)
			md->grant[d][k] = md->dev[d] && rand() % 2;
		break;
	case 1: md->addr[d] = 400 + rand() % 1000; break;
	case 2: md->grant[d][r] = md->dev[d] && !md->grant[d][r]; break;
	case 3: md->self++; break;
	case 4: md->relays = rand() % 3; break;
	default:
		for (int k = 0; k < 8; k++)
			md->grant[d][k] = false;
		md->dev[d] = false;
	}
}

static void round_trip(const char *a, size_t alen, const char *b, size_t blen, size_t *size)
{
	json_object *e = zt_cp_delta_make(a, alen, b, blen, (size_t)-1, size);
	char *out = NULL;
	size_t len = 0;

	assert_non_null(e);
	/* Through the wire's form: the edits as JSON text and back, as a node gets them. */
	{
		json_object *back = json_tokener_parse(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));

		assert_int_equal(zt_cp_delta_apply(a, alen, back, &out, &len), 0);
		json_object_put(back);
	}
	assert_int_equal(len, blen);
	assert_memory_equal(out, b, blen);
	assert_int_equal(out[len], '\0');
	free(out);
	json_object_put(e);
}

static void test_round_trips(void **state)
{
	struct model md;
	size_t olen, nlen, size;
	char *old, *new;

	(void)state;
	srand(7);
	model_init(&md);
	old = text_of(&md, &olen);
	for (int i = 0; i < 300; i++) {
		int k = 1 + rand() % (i % 10 == 0 ? 40 : 3);

		while (k--)
			change(&md);
		new = text_of(&md, &nlen);
		round_trip(old, olen, new, nlen, &size);
		round_trip(old, olen, old, olen, &size);
		assert_int_equal(size, 0);	/* nothing changed: no edit */
		free(old);
		old = new;
		olen = nlen;
	}
	/* From and to nothing, and unrelated texts. */
	round_trip("", 0, old, olen, &size);
	round_trip(old, olen, "", 0, &size);
	round_trip("[1,2,3]", 7, "{\"a\":[{},{}]}", 13, &size);
	/* A one-device change to a view of about 270 devices is a small delta. */
	md.dev[1] = !md.dev[1];
	md.grant[1][3] = md.dev[1];
	new = text_of(&md, &nlen);
	round_trip(old, olen, new, nlen, &size);
	assert_true(size < 600);
	assert_true(nlen > 30000);
	/* Over MAX: none (the whole view goes). */
	assert_null(zt_cp_delta_make(old, olen, new, nlen, 10, &size));
	assert_int_equal(errno, E2BIG);
	free(old);
	free(new);
}

static void refused(const char *base, const char *edits)
{
	json_object *e = json_tokener_parse(edits);
	char *out = NULL;
	size_t len;

	assert_int_equal(zt_cp_delta_apply(base, strlen(base), e, &out, &len), -EINVAL);
	assert_null(out);
	json_object_put(e);
}

static void test_malformed(void **state)
{
	(void)state;
	refused("0123456789", "{\"a\":1}");
	refused("0123456789", "[[1,2]]");
	refused("0123456789", "[[1,2,3]]");
	refused("0123456789", "[[\"1\",2,\"x\"]]");
	refused("0123456789", "[[-1,2,\"x\"]]");
	refused("0123456789", "[[11,0,\"x\"]]");		/* past the end */
	refused("0123456789", "[[8,3,\"x\"]]");		/* runs past the end */
	refused("0123456789", "[[5,2,\"x\"],[4,0,\"y\"]]");	/* out of order */
	refused("0123456789", "[[5,2,\"x\"],[6,1,\"y\"]]");	/* overlapping */
	refused("0123456789", "[[0,10,\"x\"],7]");
}

/* A hand-made controller on loopback, with the real agent as its node. */
static struct zt_loop *loop;
static char dir[64], controller[64];
static uint8_t ctl_pub[32], ctl_priv[32];
static uint8_t vk_pub[ZT_VIEWSIG_PUB_LEN], vk_priv[ZT_VIEWSIG_PRIV_LEN];
static struct {
	int lfd;
	struct zt_cp_conn *c;
	bool up;
	json_object *last;		/* the node's last message */
	int msgs;
} ctl;
static struct {
	int applies;
	uint64_t rev;
	json_object *view;
} node;

static json_object *c_hello(void *ctx, struct zt_cp_conn *c, const uint8_t pub[ZT_KEY_LEN],
			    json_object *hello)
{
	json_object *a = json_object_new_object();
	char vk[ZT_VIEWSIG_PUB_B64_LEN + 1];
	uint64_t form = 0;

	(void)ctx;
	(void)c;
	(void)pub;
	assert_int_equal(zt_cp_msg_u64(hello, "view_delta", &form), 0);
	assert_int_equal(form, ZT_CP_DELTA_FORM);
	zt_viewsig_pub_to_base64(vk_pub, vk);
	json_object_object_add(a, "type", json_object_new_string("accept"));
	json_object_object_add(a, "kind", json_object_new_string("connector"));
	json_object_object_add(a, "id", json_object_new_int(7));
	json_object_object_add(a, "name", json_object_new_string("gw"));
	json_object_object_add(a, "view_key", json_object_new_string(vk));
	ctl.up = true;
	return a;
}

static void c_message(void *ctx, struct zt_cp_conn *c, json_object *m)
{
	(void)ctx;
	(void)c;
	json_object_put(ctl.last);
	ctl.last = json_object_get(m);
	ctl.msgs++;
}

static void c_closed(void *ctx, struct zt_cp_conn *c, const char *reason)
{
	(void)ctx;
	(void)reason;
	zt_cp_conn_free(c);
	ctl.c = NULL;
	ctl.up = false;
}

static const struct zt_cp_conn_ops c_ops = {
	.hello = c_hello, .message = c_message, .closed = c_closed,
};

static void c_accept(struct zt_loop *l, int fd, uint32_t events, void *arg)
{
	struct zt_cp_conn_cfg cfg = { .loop = l, .role = ZT_NOISE_RESPONDER, .ops = &c_ops,
				      .now_ms = zt_mono_ms() };

	(void)events;
	(void)arg;
	cfg.fd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	assert_true(cfg.fd >= 0);
	memcpy(cfg.static_priv, ctl_priv, 32);
	assert_int_equal(zt_cp_conn_open(&cfg, &ctl.c), 0);
}

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

/* Run the loop until the node's message count passes N (at most 2 s). */
static void until_msgs(int n)
{
	uint64_t end = zt_mono_ms() + 2000;

	while (ctl.msgs < n && zt_mono_ms() < end)
		zt_loop_run_once(loop, 5);
	assert_true(ctl.msgs >= n);
}

static const char *last_type(void)
{
	return zt_cp_msg_type(ctl.last);
}

/* Send the view TEXT at REV whole, signed with PRIV. */
static void send_whole(const char *text, size_t len, uint64_t rev)
{
	char hash[65], sig[ZT_VIEWSIG_B64_LEN + 1], *m;
	size_t mlen;

	zt_cp_view_hash_text(text, len, hash);
	zt_viewsig_sign_hash(vk_priv, rev, hash, sig);
	m = zt_cp_msg_view_text(rev, hash, sig, text, len, &mlen);
	assert_int_equal(zt_cp_conn_send_text(ctl.c, m, mlen), 0);
	free(m);
}

/* Send the delta FROM -> TO at REV with BASE (NULL: FROM's hash), signed with PRIV; TAMPER: one byte of an edit changed. */
static void send_delta(const char *from, size_t flen, const char *to, size_t tlen, uint64_t rev,
		       const char *base, const uint8_t *priv, bool tamper)
{
	char hash[65], bhash[65], sig[ZT_VIEWSIG_B64_LEN + 1];
	size_t size;
	json_object *e = zt_cp_delta_make(from, flen, to, tlen, (size_t)-1, &size), *m;

	assert_non_null(e);
	if (tamper) {
		json_object *ed = json_object_array_get_idx(e, 0);
		char *t = strdup(json_object_get_string(json_object_array_get_idx(ed, 2)));

		t[strlen(t) / 2] ^= 1;
		json_object_array_put_idx(ed, 2, json_object_new_string(t));
		free(t);
	}
	zt_cp_view_hash_text(to, tlen, hash);
	zt_cp_view_hash_text(from, flen, bhash);
	zt_viewsig_sign_hash(priv, rev, hash, sig);
	m = zt_cp_msg_view_delta(rev, base ? base : bhash, hash, sig, e);
	assert_int_equal(zt_cp_conn_send(ctl.c, m), 0);
	json_object_put(m);
}

static int64_t status_of(struct zt_agent *a, const char *field)
{
	json_object *st = zt_agent_status(a), *v;
	int64_t n;

	assert_true(json_object_object_get_ex(st, field, &v));
	n = json_object_get_int64(v);
	json_object_put(st);
	return n;
}

static void test_agent_delta(void **state)
{
	struct zt_agent_identity id;
	struct zt_agent_cfg cfg = {
		.loop = NULL, .state_dir = dir, .controller = controller, .role = "connector",
		.id = &id, .apply = n_apply, .no_timer = true,
	};
	uint8_t other_pub[ZT_VIEWSIG_PUB_LEN], other_priv[ZT_VIEWSIG_PRIV_LEN], node_pub[32];
	struct zt_agent *a;
	struct model md;
	char err[256], key[300], *v1, *v2, *v3, h[65];
	size_t l1, l2, l3;
	json_object *want;
	uint64_t end;

	(void)state;
	cfg.loop = loop;
	assert_int_equal(zt_agent_pin_save(dir, controller, ctl_pub, vk_pub, true, err, sizeof(err)), 0);
	snprintf(key, sizeof(key), "%s/node.key", dir);
	assert_int_equal(zt_key_generate_file(key, node_pub, err, sizeof(err)), 0);
	assert_int_equal(zt_agent_prepare(dir, NULL, controller, NULL, &id, err, sizeof(err)), 0);
	assert_int_equal(zt_key_load_private(id.key_file, cfg.private_key, err, sizeof(err)), 0);
	assert_int_equal(zt_agent_open(&cfg, &a, err, sizeof(err)), 0);
	assert_int_equal(zt_agent_start(a, err, sizeof(err)), 0);
	end = zt_mono_ms() + 2000;
	while (!(ctl.up && zt_agent_connected(a)) && zt_mono_ms() < end)
		zt_loop_run_once(loop, 5);
	assert_true(zt_agent_connected(a));

	model_init(&md);
	v1 = text_of(&md, &l1);
	md.dev[2] = !md.dev[2];
	md.grant[2][5] = md.dev[2];
	v2 = text_of(&md, &l2);
	md.addr[7] = 999;
	v3 = text_of(&md, &l3);

	/* Whole, then a delta: both applied, the delta's result equal to the view. */
	send_whole(v1, l1, 1);
	until_msgs(1);
	assert_string_equal(last_type(), "applied");
	send_delta(v1, l1, v2, l2, 2, NULL, vk_priv, false);
	until_msgs(2);
	assert_string_equal(last_type(), "applied");
	assert_int_equal(node.applies, 2);
	assert_int_equal(node.rev, 2);
	want = json_tokener_parse(v2);
	assert_true(json_object_equal(node.view, want));
	json_object_put(want);
	zt_cp_view_hash_text(v2, l2, h);
	assert_string_equal(zt_cp_msg_str(ctl.last, "hash"), h);
	assert_int_equal(status_of(a, "views_delta"), 1);
	assert_int_equal(status_of(a, "views_whole"), 1);

	/* Another base (it holds v2, not v1): never applied; it asks for the whole view. */
	send_delta(v1, l1, v3, l3, 3, NULL, vk_priv, false);
	until_msgs(3);
	assert_string_equal(last_type(), "view_request");
	assert_int_equal(node.applies, 2);
	/* A tampered delta on the right base: the hash does not hold; asked for whole. */
	send_delta(v2, l2, v3, l3, 3, NULL, vk_priv, true);
	until_msgs(4);
	assert_string_equal(last_type(), "view_request");
	assert_int_equal(node.applies, 2);
	/* The right text, signed by another key: refused as any view is (error), not applied. */
	zt_viewsig_keypair(other_pub, other_priv);
	send_delta(v2, l2, v3, l3, 3, NULL, other_priv, false);
	until_msgs(5);
	assert_string_equal(last_type(), "error");
	assert_int_equal(node.applies, 2);
	assert_int_equal(status_of(a, "rev_applied"), 2);
	assert_int_equal(status_of(a, "views_requested_whole"), 2);
	/* The whole view then: applied. And a delta from it works again. */
	send_whole(v3, l3, 3);
	until_msgs(6);
	assert_string_equal(last_type(), "applied");
	assert_int_equal(node.rev, 3);
	send_delta(v3, l3, v1, l1, 4, NULL, vk_priv, false);
	until_msgs(7);
	assert_string_equal(last_type(), "applied");
	assert_int_equal(node.rev, 4);
	want = json_tokener_parse(v1);
	assert_true(json_object_equal(node.view, want));
	json_object_put(want);
	assert_int_equal(status_of(a, "views_delta"), 2);

	zt_agent_close(a);
	free(v1);
	free(v2);
	free(v3);
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
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/zt-test-vd.XXXXXX");
	assert_non_null(mkdtemp(dir));
	zt_noise_keypair(ctl_pub, ctl_priv);
	zt_viewsig_keypair(vk_pub, vk_priv);
	assert_int_equal(zt_loop_new(&loop), 0);
	ctl.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(ctl.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ctl.lfd, 8), 0);
	assert_int_equal(getsockname(ctl.lfd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(controller, sizeof(controller), "127.0.0.1:%u", ntohs(sa.sin_port));
	assert_int_equal(zt_loop_add(loop, ctl.lfd, EPOLLIN, c_accept, NULL), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (ctl.c)
		zt_cp_conn_free(ctl.c);
	zt_loop_del(loop, ctl.lfd);
	close(ctl.lfd);
	zt_loop_free(loop);
	json_object_put(ctl.last);
	json_object_put(node.view);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_agent_delta),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
