// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests: the node's agent (agent/agent.h) without a controller.
 * Persistence (view.json written atomically, checked against its hash and
 * the controller's view signature on load: a tampered view or another
 * key's signature is refused, and a node starting on a tampered view.json
 * applies nothing and keeps running), fail static (a persisted view is applied at start while the
 * controller is down, and a failed apply leaves the state as it was),
 * the state dir's files (key made once with mode 0600, the pin), and
 * reconnect backoff bounded by about 30 s.
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
#include "controlplane/msg.h"
#include "controlplane/token.h"
#include "lib/clock.h"
#include "lib/loop.h"
#include "tunnel/noise.h"

static struct zt_loop *loop;
static char dir[64];
static char down[32];	/* a controller address where nobody listens */
static uint8_t vk_pub[ZT_VIEWSIG_PUB_LEN], vk_priv[ZT_VIEWSIG_PRIV_LEN];	/* the "controller's" */
static struct {
	int applies;
	uint64_t rev;
	bool fail;
	json_object *view;
} node;

static int apply(void *arg, json_object *view, uint64_t rev, char *err, size_t errlen)
{
	(void)arg;
	node.applies++;
	if (node.fail) {
		snprintf(err, errlen, "refused by the test");
		return -EINVAL;
	}
	node.rev = rev;
	json_object_put(node.view);
	node.view = json_object_get(view);
	return 0;
}

static json_object *a_view(const char *name)
{
	json_object *v = json_object_new_object(), *self = json_object_new_object();

	json_object_object_add(self, "kind", json_object_new_string("device"));
	json_object_object_add(self, "name", json_object_new_string(name));
	json_object_object_add(self, "address", json_object_new_string("100.64.0.9"));
	json_object_object_add(v, "self", self);
	json_object_object_add(v, "policy", json_object_new_object());
	return v;
}

/* A state dir enrolled already (pin with enrolled: true, a key), as after a first start. */
static void enrolled_dir(const char *d)
{
	uint8_t pub[32], priv[32];
	char err[256], key[256];

	zt_noise_keypair(pub, priv);
	assert_int_equal(zt_agent_pin_save(d, down, pub, vk_pub, true, err, sizeof(err)), 0);
	snprintf(key, sizeof(key), "%s/node.key", d);
	assert_int_equal(zt_key_generate_file(key, pub, err, sizeof(err)), 0);
}

static struct zt_agent *open_agent(const char *d)
{
	struct zt_agent_identity id;
	struct zt_agent_cfg cfg = {
		.loop = loop, .state_dir = d, .controller = down, .role = "client",
		.id = &id, .apply = apply, .no_timer = true,
	};
	struct zt_agent *a;
	char err[256];

	assert_int_equal(zt_agent_prepare(d, NULL, down, NULL, &id, err, sizeof(err)), 0);
	assert_true(id.enrolled);
	assert_int_equal(zt_key_load_private(id.key_file, cfg.private_key, err, sizeof(err)), 0);
	assert_int_equal(zt_agent_open(&cfg, &a, err, sizeof(err)), 0);
	return a;
}

/* VIEW at REV saved into D with its hash and the test controller's signature. */
static void save_signed(const char *d, json_object *v, uint64_t rev)
{
	char h[65], sig[ZT_VIEWSIG_B64_LEN + 1], err[256];

	zt_cp_view_hash(v, h);
	zt_viewsig_sign(vk_priv, rev, v, sig);
	assert_int_equal(zt_agent_view_save(d, v, rev, h, sig, err, sizeof(err)), 0);
}

static void test_persist_round_trip(void **state)
{
	json_object *v = a_view("laptop"), *back = NULL;
	char h[65], h2[65], err[256], path[128];
	uint64_t rev;
	struct stat st;

	(void)state;
	zt_cp_view_hash(v, h);
	assert_int_equal(zt_agent_view_load(dir, vk_pub, &back, &rev, h2, err, sizeof(err)), -ENOENT);
	save_signed(dir, v, 12);
	assert_int_equal(zt_agent_view_load(dir, vk_pub, &back, &rev, h2, err, sizeof(err)), 0);
	assert_int_equal(rev, 12);
	assert_string_equal(h, h2);
	assert_true(json_object_equal(v, back));
	json_object_put(back);
	snprintf(path, sizeof(path), "%s/view.json", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* A view that does not match its hash (edited by hand, torn) is refused. */
	assert_int_equal(zt_agent_view_save(dir, v, 13, "00", "", err, sizeof(err)), 0);
	assert_int_equal(zt_agent_view_load(dir, vk_pub, &back, &rev, h2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "does not match its hash"));
	/* Not JSON. */
	{
		FILE *f = fopen(path, "w");

		fputs("{\"rev\":", f);
		fclose(f);
	}
	assert_int_equal(zt_agent_view_load(dir, vk_pub, &back, &rev, h2, err, sizeof(err)), -EINVAL);
	unlink(path);
	json_object_put(v);
}

/* Signatures: a tampered view (hash made to match) or another key's signature is refused. */
static void test_signature(void **state)
{
	json_object *v = a_view("laptop"), *back = NULL, *self;
	char h[65], h2[65], sig[ZT_VIEWSIG_B64_LEN + 1], sig2[ZT_VIEWSIG_B64_LEN + 1], err[256];
	uint8_t other_pub[ZT_VIEWSIG_PUB_LEN], other_priv[ZT_VIEWSIG_PRIV_LEN];
	uint64_t rev;

	(void)state;
	zt_viewsig_sign(vk_priv, 7, v, sig);
	assert_true(zt_viewsig_verify(vk_pub, 7, v, sig));
	assert_false(zt_viewsig_verify(vk_pub, 8, v, sig));	/* the revision is signed too */
	assert_false(zt_viewsig_verify(vk_pub, 7, v, NULL));
	assert_false(zt_viewsig_verify(vk_pub, 7, v, "AAAA"));
	/* Form 2, over the view's hash: taken as well, bound to the revision and the view. */
	zt_cp_view_hash(v, h);
	zt_viewsig_sign_hash(vk_priv, 7, h, sig2);
	assert_true(zt_viewsig_verify(vk_pub, 7, v, sig2));
	assert_false(zt_viewsig_verify(vk_pub, 8, v, sig2));
	assert_int_equal(zt_agent_view_save(dir, v, 7, h, sig2, err, sizeof(err)), 0);
	assert_int_equal(zt_agent_view_load(dir, vk_pub, &back, &rev, h2, err, sizeof(err)), 0);
	json_object_put(back);
	/* Tampered: self.address changed, the hash recomputed, the old signature kept. */
	json_object_object_get_ex(v, "self", &self);
	json_object_object_add(self, "address", json_object_new_string("100.64.0.66"));
	zt_cp_view_hash(v, h);
	assert_false(zt_viewsig_verify(vk_pub, 7, v, sig));
	assert_false(zt_viewsig_verify(vk_pub, 7, v, sig2));
	assert_int_equal(zt_agent_view_save(dir, v, 7, h, sig, err, sizeof(err)), 0);
	assert_int_equal(zt_agent_view_load(dir, vk_pub, &back, &rev, h2, err, sizeof(err)),
			 -EBADMSG);
	assert_non_null(strstr(err, "not signed by the controller's view key"));
	assert_null(strchr(err, '\n'));
	/* Signed by another key: refused; no key pinned: refused. */
	zt_viewsig_keypair(other_pub, other_priv);
	zt_viewsig_sign(other_priv, 7, v, sig);
	assert_int_equal(zt_agent_view_save(dir, v, 7, h, sig, err, sizeof(err)), 0);
	assert_int_equal(zt_agent_view_load(dir, vk_pub, &back, &rev, h2, err, sizeof(err)),
			 -EBADMSG);
	assert_int_equal(zt_agent_view_load(dir, NULL, &back, &rev, h2, err, sizeof(err)), -EBADMSG);
	assert_int_equal(zt_agent_view_load(dir, other_pub, &back, &rev, h2, err, sizeof(err)), 0);
	json_object_put(back);
	json_object_put(v);
}

/* A node starting on a tampered view.json applies nothing and keeps going. */
static void test_tampered_at_start(void **state)
{
	json_object *v = a_view("laptop"), *self;
	char d[128], h[65], sig[ZT_VIEWSIG_B64_LEN + 1], err[256];
	struct zt_agent *a;

	(void)state;
	snprintf(d, sizeof(d), "%s/tampered", dir);
	enrolled_dir(d);
	zt_viewsig_sign(vk_priv, 5, v, sig);
	json_object_object_get_ex(v, "self", &self);
	json_object_object_add(self, "address", json_object_new_string("100.64.0.66"));
	zt_cp_view_hash(v, h);
	assert_int_equal(zt_agent_view_save(d, v, 5, h, sig, err, sizeof(err)), 0);
	memset(&node, 0, sizeof(node));
	a = open_agent(d);
	assert_int_equal(zt_agent_start(a, err, sizeof(err)), 0);
	assert_int_equal(node.applies, 0);
	assert_int_equal(zt_agent_rev(a), 0);
	zt_agent_close(a);
	json_object_put(v);
}

/* Controller down: the persisted view is enforced at start, and the session keeps trying. */
static void test_fail_static(void **state)
{
	char d[128], h[65], err[256];
	json_object *v = a_view("laptop"), *st, *x;
	struct zt_agent *a;

	(void)state;
	snprintf(d, sizeof(d), "%s/fs", dir);
	enrolled_dir(d);
	zt_cp_view_hash(v, h);
	save_signed(d, v, 41);
	memset(&node, 0, sizeof(node));
	a = open_agent(d);
	assert_int_equal(zt_agent_start(a, err, sizeof(err)), 0);
	assert_int_equal(node.applies, 1);
	assert_int_equal(node.rev, 41);
	assert_true(json_object_equal(node.view, v));
	for (int i = 0; i < 20; i++)
		zt_loop_run_once(loop, 5);
	assert_false(zt_agent_connected(a));
	st = zt_agent_status(a);
	assert_true(json_object_object_get_ex(st, "rev_applied", &x));
	assert_int_equal(json_object_get_int(x), 41);
	assert_true(json_object_object_get_ex(st, "connected", &x));
	assert_false(json_object_get_boolean(x));
	assert_true(json_object_object_get_ex(st, "last_error", &x));
	assert_non_null(strstr(json_object_get_string(x), "connect"));
	json_object_put(st);
	/* It keeps trying, never faster than the backoff, never slower than ~30 s. */
	for (int i = 0; i < 12; i++) {
		zt_agent_tick(a, zt_mono_ms() + ZT_AGENT_BACKOFF_MAX_MS + 1);
		for (int k = 0; k < 10; k++)
			zt_loop_run_once(loop, 2);
	}
	st = zt_agent_status(a);
	assert_true(json_object_object_get_ex(st, "state", &x));
	assert_string_equal(json_object_get_string(x), "backoff");
	json_object_put(st);
	/* Still the same view: nothing re-applied by failing connections. */
	assert_int_equal(node.applies, 1);
	zt_agent_close(a);

	/* A persisted view that no longer applies: logged, the start goes on. */
	json_object_put(node.view);
	memset(&node, 0, sizeof(node));
	node.fail = true;
	a = open_agent(d);
	assert_int_equal(zt_agent_start(a, err, sizeof(err)), 0);
	assert_int_equal(node.applies, 1);
	st = zt_agent_status(a);
	assert_true(json_object_object_get_ex(st, "rev_applied", &x));
	assert_int_equal(json_object_get_int(x), 0);
	json_object_put(st);
	zt_agent_close(a);
	node.fail = false;
	json_object_put(node.view);
	node.view = NULL;
	json_object_put(v);
}

/* First start: the key made once (0600), the token's controller key pinned. */
static void test_prepare(void **state)
{
	struct zt_agent_identity id;
	struct zt_token t;
	uint8_t pub[32], priv[32];
	char d[128], text[ZT_TOKEN_TEXT_LEN + 1], err[256], key1[64], path[160];
	struct stat st;
	FILE *f;

	(void)state;
	snprintf(d, sizeof(d), "%s/pp", dir);
	zt_noise_keypair(pub, priv);
	assert_int_equal(zt_token_new(&t, pub), 0);
	zt_token_encode(&t, text);
	assert_int_equal(zt_agent_prepare(d, NULL, down, text, &id, err, sizeof(err)), 0);
	assert_true(id.has_token);
	assert_false(id.enrolled);
	assert_memory_equal(id.controller_pub, pub, 32);
	assert_memory_equal(id.token.secret, t.secret, 32);
	assert_int_equal(stat(id.key_file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	f = fopen(id.key_file, "r");
	assert_non_null(fgets(key1, sizeof(key1), f));
	fclose(f);
	/* Again (enrollment not finished): the same key, the token used again. */
	assert_int_equal(zt_agent_prepare(d, NULL, down, text, &id, err, sizeof(err)), 0);
	f = fopen(id.key_file, "r");
	assert_non_null(fgets(path, sizeof(path), f));
	fclose(f);
	assert_string_equal(key1, path);
	/* Without the token before enrollment finished: refused. */
	assert_int_equal(zt_agent_prepare(d, NULL, down, NULL, &id, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "enrollment not finished: start again with --token TOKEN");
	/* Once enrolled, a token is ignored and the pin stays. */
	assert_int_equal(zt_agent_pin_save(d, down, pub, NULL, true, err, sizeof(err)), 0);
	zt_noise_keypair(pub, priv);
	assert_int_equal(zt_token_new(&t, pub), 0);
	zt_token_encode(&t, text);
	assert_int_equal(zt_agent_prepare(d, NULL, down, text, &id, err, sizeof(err)), 0);
	assert_false(id.has_token);
	assert_true(id.enrolled);
	assert_memory_not_equal(id.controller_pub, pub, 32);
	/* Bad arguments: one line, nothing written. */
	snprintf(path, sizeof(path), "%s/new", dir);
	assert_int_equal(zt_agent_prepare(path, NULL, "ctl.example.com", text, &id, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "invalid --controller 'ctl.example.com': expected HOST:PORT");
	assert_int_equal(zt_agent_prepare(path, NULL, "ctl.example.com:0", text, &id, err,
					  sizeof(err)), -EINVAL);
	assert_int_equal(zt_agent_prepare(path, NULL, "ctl.example.com:7443", "ztgt1_short", &id,
					  err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "invalid --token: token is truncated or corrupted");
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(zt_agent_prepare(path, NULL, "ctl.example.com:7443", text, &id, err,
					  sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* --key FILE that does not exist, without a token: refused. */
	snprintf(path, sizeof(path), "%s/nokey", d);
	assert_int_equal(zt_agent_prepare(d, path, down, NULL, &id, err, sizeof(err)), -ENOENT);
	zt_token_wipe(&t);
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
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	/* A port that was free a moment ago: connections to it are refused. */
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
	close(fd);
	snprintf(down, sizeof(down), "127.0.0.1:%u", ntohs(a.sin_port));
	snprintf(dir, sizeof(dir), "/tmp/zt-test-agent.XXXXXX");
	assert_non_null(mkdtemp(dir));
	zt_viewsig_keypair(vk_pub, vk_priv);
	return zt_loop_new(&loop);
}

static int teardown(void **state)
{
	(void)state;
	zt_loop_free(loop);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_persist_round_trip),
		cmocka_unit_test(test_fail_static),
		cmocka_unit_test(test_signature),
		cmocka_unit_test(test_tampered_at_start),
		cmocka_unit_test(test_prepare),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
