// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the controller's views (daemon/controller/view.c,
 * affected.c): which node sees what (a client of a user in group A learns
 * nothing of group B's resources; a connector sees only its network), every
 * view a valid policy document, and which nodes a change touches.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "controlplane/delta.h"

#include "controller/connlog.h"
#include "controller/db.h"
#include "controller/internal.h"
#include "ctl_helpers.h"
#include "policy/policy.h"

struct nodes {
	struct zt_node_ident gw_office, gw_lab, alice, bob, ci;
};

static struct nodes n;

/* What the model said changed since the last reset. */
static struct zt_node_ident changed[64];
static size_t nchanged;
static bool changed_all;

static void on_changed(void *arg, const struct zt_node_ident *ident)
{
	(void)arg;
	if (!ident)
		changed_all = true;
	else if (nchanged < 64)
		changed[nchanged++] = *ident;
}

static bool was_changed(const struct zt_node_ident *id)
{
	for (size_t i = 0; i < nchanged; i++)
		if (changed[i].kind == id->kind && changed[i].id == id->id)
			return true;
	return false;
}

static void enroll(struct zt_model *m, enum zt_kind k, const char *name, uint8_t key,
		   const char *host, struct zt_node_ident *id)
{
	char hash[ZT_TOKEN_HASH_HEX_LEN + 1];

	assert_int_equal(ctl_token(m, k, name, 3600, hash), 0);
	if (ctl_enroll(m, hash, key, host, id))
		fail_msg("enroll %s: %s", name, ctl_err);
}

/* Two networks, two groups, three principals, every node enrolled. */
static void world(struct zt_model *m)
{
	ctl_add(m, ZT_K_NETWORK, "office", NULL);
	ctl_add(m, ZT_K_NETWORK, "lab", NULL);
	ctl_add(m, ZT_K_CONNECTOR, "gw-office", "{\"network\":\"office\"}");
	ctl_add(m, ZT_K_CONNECTOR, "gw-lab", "{\"network\":\"lab\"}");
	ctl_add(m, ZT_K_RESOURCE, "nas", "{\"network\":\"office\",\"address\":\"nas.home.int\","
		"\"tcp\":\"80\",\"icmp\":true}");
	ctl_add(m, ZT_K_RESOURCE, "wiki", "{\"network\":\"office\",\"address\":\"10.1.0.5\","
		"\"tcp\":\"443\"}");
	ctl_add(m, ZT_K_RESOURCE, "labdb", "{\"network\":\"lab\",\"address\":\"10.2.0.0/24\","
		"\"tcp\":\"5432\",\"deny_mode\":\"reject\"}");
	ctl_add(m, ZT_K_GROUP, "eng", NULL);
	ctl_add(m, ZT_K_GROUP, "ops", NULL);
	ctl_add(m, ZT_K_USER, "alice@example.com", "{\"group\":[\"eng\"]}");
	ctl_add(m, ZT_K_USER, "bob@example.com", "{\"group\":\"ops\"}");
	ctl_add(m, ZT_K_SA, "ci", "{\"group\":[\"eng\"]}");
	ctl_add(m, ZT_K_ACCESS, NULL, "{\"group\":\"eng\",\"resource\":\"nas\"}");
	ctl_add(m, ZT_K_ACCESS, NULL, "{\"group\":\"ops\",\"resource\":\"wiki\"}");
	ctl_add(m, ZT_K_ACCESS, NULL, "{\"group\":\"ops\",\"resource\":\"labdb\"}");
	enroll(m, ZT_K_CONNECTOR, "gw-office", 1, "gw1", &n.gw_office);
	enroll(m, ZT_K_CONNECTOR, "gw-lab", 2, "gw2", &n.gw_lab);
	enroll(m, ZT_K_USER, "alice@example.com", 3, "laptop", &n.alice);
	enroll(m, ZT_K_USER, "bob@example.com", 4, "pc", &n.bob);
	enroll(m, ZT_K_SA, "ci", 5, "runner", &n.ci);
	m->changed = on_changed;
	nchanged = 0;
	changed_all = false;
}

/*
 * ID's view text as the node server sends it: json-c's own serialization of
 * the tree it parses to (what a node hashes), and the same when compiled
 * afresh, without the fragments kept since the last compile.
 */
static void check_text(struct zt_model *m, const struct zt_node_ident *id)
{
	size_t len = 0, len2 = 0;
	char *text = zt_model_view_text(m, id, &(uint64_t){ 0 }, &len), *fresh;
	json_object *v;

	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	v = json_tokener_parse(text);
	assert_non_null(v);
	assert_string_equal(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), text);
	json_object_put(v);
	zt_view_cache_free(m);
	fresh = zt_model_view_text(m, id, &(uint64_t){ 0 }, &len2);
	assert_non_null(fresh);
	assert_string_equal(fresh, text);
	free(text);
	free(fresh);
}

/* ID's view as text, checked to be a policy document `ztgate apply` takes. */
static char *view_text(struct zt_model *m, const struct zt_node_ident *id)
{
	json_object *v, *doc;
	struct zt_policy p;
	char *text;

	check_text(m, id);
	v = zt_model_view(m, id, &(uint64_t){ 0 });
	assert_non_null(v);
	assert_true(json_object_object_get_ex(v, "policy", &doc));
	if (zt_policy_from_json(&p, doc, ctl_err, sizeof(ctl_err)))
		fail_msg("%s's view is not a policy: %s\n%s", id->name, ctl_err,
			 json_object_to_json_string(doc));
	zt_policy_free(&p);
	text = strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(v);
	return text;
}

static void has(const char *text, const char *part, bool want)
{
	if (!!strstr(text, part) != want)
		fail_msg("view %s '%s': %s", want ? "lacks" : "has", part, text);
}

static void test_client_views(void **state)
{
	struct zt_model *m = *state;
	char *a, *b, *c;

	world(m);
	a = view_text(m, &n.alice);
	has(a, "\"name\":\"nas\"", true);
	has(a, "\"connector\":\"gw-office\"", true);
	has(a, "\"address\":\"100.64.0.2\"", true);	/* self: the first device */
	has(a, "wiki", false);
	has(a, "labdb", false);
	has(a, "gw-lab", false);
	has(a, "bob", false);
	has(a, "10.1.0.5", false);
	b = view_text(m, &n.bob);
	has(b, "\"name\":\"wiki\"", true);
	has(b, "\"name\":\"labdb\"", true);
	has(b, "gw-lab", true);
	has(b, "nas", false);
	has(b, "alice", false);
	c = view_text(m, &n.ci);
	has(c, "\"name\":\"nas\"", true);
	has(c, "wiki", false);
	free(a);
	free(b);
	free(c);
}

/*
 * The delta from view text A to B (controlplane/delta.h) applies back to B
 * exactly, and a change of a device or two and a grant is well under half
 * the view (the node server sends it as a delta).
 */
static void delta_round_trip(const char *a, const char *b)
{
	size_t alen = strlen(a), blen = strlen(b), size, len;
	json_object *e = zt_cp_delta_make(a, alen, b, blen, (size_t)-1, &size);
	char *out = NULL;

	assert_non_null(e);
	if (size > blen / 2)
		fail_msg("a delta of %zu bytes for a view of %zu:\n%s\n%s\n%s", size, blen, a, b,
			 json_object_to_json_string(e));
	assert_int_equal(zt_cp_delta_apply(a, alen, e, &out, &len), 0);
	assert_int_equal(len, blen);
	assert_memory_equal(out, b, blen);
	free(out);
	json_object_put(e);
}

static void test_connector_views(void **state)
{
	struct zt_model *m = *state;
	struct zt_node_ident second;
	char *o, *l;

	world(m);
	o = view_text(m, &n.gw_office);
	has(o, "\"name\":\"nas\"", true);
	has(o, "\"name\":\"wiki\"", true);
	has(o, "labdb", false);
	has(o, "{\"device\":\"alice-laptop\",\"resource\":\"nas\"}", true);
	has(o, "{\"device\":\"ci-runner\",\"resource\":\"nas\"}", true);
	has(o, "{\"device\":\"bob-pc\",\"resource\":\"wiki\"}", true);
	has(o, "{\"device\":\"bob-pc\",\"resource\":\"nas\"}", false);
	l = view_text(m, &n.gw_lab);
	has(l, "labdb", true);
	has(l, "nas", false);
	has(l, "alice", false);
	has(l, "{\"device\":\"bob-pc\",\"resource\":\"labdb\"}", true);
	free(o);
	free(l);
	/*
	 * A device whose entry moved (a field its fragment was made of) is not
	 * taken from the fragments of the last compile; a grant that went is
	 * gone, one that came is there (view_text compares with a fresh compile).
	 */
	o = view_text(m, &n.gw_office);
	json_object_object_add(zt_model_find_id(m, ZT_K_DEVICE, n.bob.id)->body, "address",
			       json_object_new_string("100.64.9.9"));
	ctl_add(m, ZT_K_ACCESS, NULL, "{\"group\":\"ops\",\"resource\":\"nas\"}");
	l = view_text(m, &n.gw_office);
	has(l, "\"address\":\"100.64.9.9\"", true);
	has(l, "{\"device\":\"bob-pc\",\"resource\":\"nas\"}", true);
	delta_round_trip(o, l);
	free(o);
	assert_int_equal(zt_model_rm(m, ZT_K_ACCESS, "eng:nas", "test", ctl_err, sizeof(ctl_err)), 0);
	o = view_text(m, &n.gw_office);
	has(o, "{\"device\":\"alice-laptop\",\"resource\":\"nas\"}", false);
	has(o, "alice-laptop", false);
	delta_round_trip(l, o);
	free(l);
	free(o);
	/* A second connector of the network: the same policy (copied, not compiled again). */
	ctl_add(m, ZT_K_CONNECTOR, "gw-office2", "{\"network\":\"office\"}");
	enroll(m, ZT_K_CONNECTOR, "gw-office2", 6, "gw3", &second);
	o = view_text(m, &n.gw_office);
	l = view_text(m, &second);
	assert_int_equal(strstr(o, ",\"self\":") - o, strstr(l, ",\"self\":") - l);
	assert_memory_equal(o, l, (size_t)(strstr(o, ",\"self\":") - o));
	has(l, "\"name\":\"gw-office2\"", true);
	free(o);
	free(l);
}

/* Only the nodes a change touches are told. */
static void test_affected(void **state)
{
	struct zt_model *m = *state;
	json_object *a = ctl_args("{\"group\":\"ops\",\"resource\":\"nas\"}"), *out = NULL;
	char *v;

	world(m);
	assert_int_equal(zt_model_add(m, ZT_K_ACCESS, NULL, a, "uid:0", &out, ctl_err,
				      sizeof(ctl_err)), 0);
	json_object_put(a);
	json_object_put(out);
	assert_false(changed_all);
	assert_true(was_changed(&n.gw_office));
	assert_true(was_changed(&n.bob));
	assert_false(was_changed(&n.alice));
	assert_false(was_changed(&n.gw_lab));
	assert_false(was_changed(&n.ci));
	/* alice leaves eng: her device and the office connector. */
	nchanged = 0;
	assert_int_equal(zt_model_member(m, "eng", "alice@example.com", false, "uid:0", ctl_err,
					 sizeof(ctl_err)), 0);
	assert_true(was_changed(&n.alice));
	assert_true(was_changed(&n.gw_office));
	assert_false(was_changed(&n.bob));
	assert_false(was_changed(&n.gw_lab));
	v = view_text(m, &n.alice);
	has(v, "nas", false);
	free(v);
}

/* A connector's endpoint reaches the clients that list it, as runtime data only. */
static void test_endpoint_and_revocation(void **state)
{
	struct zt_model *m = *state;
	json_object *body = json_object_new_object(), *args;
	uint64_t rev;
	char *a;

	world(m);
	rev = m->rev;
	json_object_object_add(body, "endpoint", json_object_new_string("192.0.2.1:51820"));
	zt_model_node_ops.report(m, &n.gw_office, "endpoint", body);
	json_object_put(body);
	assert_int_equal(m->rev, rev);
	assert_true(was_changed(&n.alice));
	assert_true(was_changed(&n.bob));
	assert_false(was_changed(&n.gw_lab));
	a = view_text(m, &n.alice);
	has(a, "\"endpoint\":\"192.0.2.1:51820\"", true);
	free(a);
	/* Listening on any address: the address its connection came from, its own port. */
	body = json_object_new_object();
	json_object_object_add(body, "endpoint", json_object_new_string("198.51.100.7:40000"));
	zt_model_node_ops.report(m, &n.gw_office, "connect", body);
	json_object_put(body);
	body = json_object_new_object();
	json_object_object_add(body, "endpoint", json_object_new_string("0.0.0.0:51821"));
	zt_model_node_ops.report(m, &n.gw_office, "endpoint", body);
	json_object_put(body);
	a = view_text(m, &n.alice);
	has(a, "\"endpoint\":\"198.51.100.7:51821\"", true);
	free(a);
	/* A disabled user's device has no view: the node server closes it. */
	args = ctl_args("{\"disable\":true}");
	assert_int_equal(zt_model_set(m, ZT_K_USER, "alice@example.com", args, "uid:0", &body,
				      ctl_err, sizeof(ctl_err)), 0);
	json_object_put(args);
	json_object_put(body);
	assert_null(zt_model_view(m, &n.alice, &rev));
	a = view_text(m, &n.gw_office);
	has(a, "alice", false);
	free(a);
}

/* A connector's view names each device's owner and id, and its own network. */
static void test_identity(void **state)
{
	struct zt_model *m = *state;
	char *o, want[160];

	world(m);
	o = view_text(m, &n.gw_office);
	snprintf(want, sizeof(want), "\"owner\":{\"user\":\"alice@example.com\"},\"controller_id\":%llu",
		 (unsigned long long)n.alice.id);
	has(o, want, true);
	has(o, "\"owner\":{\"service_account\":\"ci\"}", true);
	has(o, "\"self\":{\"kind\":\"connector\"", true);
	has(o, "\"network\":\"office\"", true);
	free(o);
	o = view_text(m, &n.alice);
	has(o, "owner", false);		/* a client's view has no devices */
	free(o);
}

/* Token of user EMAIL, its hash into HASH. */
static void user_token(struct zt_model *m, const char *email, char hash[ZT_TOKEN_HASH_HEX_LEN + 1])
{
	assert_int_equal(ctl_token(m, ZT_K_USER, email, 3600, hash), 0);
}

/*
 * Session lifetime: a user's device outliving the policy of its access rule
 * loses that grant (its device stays, for the deny counters); a service
 * account's does not; the timer's walk tells the connectors at the expiry;
 * re-authentication with the user's own token restores it.
 */
static void test_session_lifetime(void **state)
{
	struct zt_model *m = *state;
	char hash[ZT_TOKEN_HASH_HEX_LEN + 1];
	json_object *args, *body;
	int64_t t0, next;
	char *o;

	world(m);
	ctl_add_fails(m, ZT_K_POLICY, "tiny", "{\"session_lifetime\":\"5s\"}", -EINVAL,
		      "invalid session lifetime '5s': e.g. 8h, 30m, 7d (at least 10s)");
	ctl_add(m, ZT_K_POLICY, "short", "{\"session_lifetime\":\"60s\"}");
	args = ctl_args("{\"group\":\"eng\",\"resource\":\"nas\",\"policy\":\"short\"}");
	assert_int_equal(zt_model_set(m, ZT_K_ACCESS, "eng:nas", args, "uid:0", &body, ctl_err,
				      sizeof(ctl_err)), 0);
	json_object_put(args);
	json_object_put(body);
	t0 = ctl_time;
	next = zt_model_expire(m);
	assert_int_equal(next, t0 + 60);		/* alice enrolled at t0 */
	nchanged = 0;
	ctl_time = t0 + 59;
	assert_int_equal(zt_model_expire(m), t0 + 60);
	assert_int_equal(nchanged, 0);
	ctl_time = t0 + 60;
	assert_int_equal(zt_model_expire(m), 0);	/* nothing left to expire */
	assert_true(was_changed(&n.gw_office));
	assert_false(was_changed(&n.gw_lab));
	o = view_text(m, &n.gw_office);
	has(o, "{\"device\":\"alice-laptop\",\"resource\":\"nas\"}", false);
	has(o, "\"name\":\"alice-laptop\"", true);		/* still known: denied, counted */
	has(o, "{\"device\":\"ci-runner\",\"resource\":\"nas\"}", true);	/* its key re-authenticates */
	free(o);
	/* Refused: bob's token for alice's device, a service account's token. */
	user_token(m, "bob@example.com", hash);
	assert_int_equal(zt_model_reauth(m, &n.alice, hash, ctl_err, sizeof(ctl_err)), -EACCES);
	assert_string_equal(ctl_err, "the token is for another user");
	assert_int_equal(ctl_token(m, ZT_K_SA, "ci", 3600, hash), 0);
	assert_int_equal(zt_model_reauth(m, &n.ci, hash, ctl_err, sizeof(ctl_err)), -EACCES);
	/* Alice's own token: the session starts again; used once. */
	user_token(m, "alice@example.com", hash);
	ctl_time = t0 + 100;
	nchanged = 0;
	assert_int_equal(zt_model_reauth(m, &n.alice, hash, ctl_err, sizeof(ctl_err)), 0);
	assert_true(was_changed(&n.gw_office));
	assert_int_equal(zt_model_reauth(m, &n.alice, hash, ctl_err, sizeof(ctl_err)), -EACCES);
	assert_string_equal(ctl_err, "token already used");
	o = view_text(m, &n.gw_office);
	has(o, "{\"device\":\"alice-laptop\",\"resource\":\"nas\"}", true);
	free(o);
	assert_int_equal(zt_model_expire(m), t0 + 160);
	ctl_time = t0;
}

/* Set access rule eng:nas's policy to POLICY ("" none). */
static void nas_policy(struct zt_model *m, const char *policy)
{
	char a[128];
	json_object *args, *body;

	snprintf(a, sizeof(a), "{\"group\":\"eng\",\"resource\":\"nas\",\"policy\":\"%s\"}", policy);
	args = ctl_args(a);
	assert_int_equal(zt_model_set(m, ZT_K_ACCESS, "eng:nas", args, "uid:0", &body, ctl_err,
				      sizeof(ctl_err)), 0);
	json_object_put(args);
	json_object_put(body);
}

/* Whether gw-office's view grants DEV nas. */
static bool nas_granted(struct zt_model *m, const char *dev)
{
	char part[128], *o = view_text(m, &n.gw_office);
	bool yes;

	snprintf(part, sizeof(part), "{\"device\":\"%s\",\"resource\":\"nas\"}", dev);
	yes = strstr(o, part) != NULL;
	free(o);
	return yes;
}

/*
 * Allowed hours (UTC or a zone, [start, end)): the window itself at and around its
 * boundaries and over midnight; a rule with such a policy grants only inside
 * it, to users' and service accounts' devices alike; the timer's walk lands
 * on each boundary and tells the rule's connectors only.
 */
static void test_allowed_hours(void **state)
{
	struct zt_model *m = *state;
	int64_t day = ctl_time - ctl_time % 86400, t0 = ctl_time;	/* ctl_time is 08:00 UTC */

	assert_int_equal(t0 - day, 8 * 3600);
	/* The window: inside, outside, at both boundaries; over midnight. */
	assert_false(zt_hours_allow("09:00-17:00", NULL, day + 9 * 3600 - 1));
	assert_true(zt_hours_allow("09:00-17:00", NULL, day + 9 * 3600));
	assert_true(zt_hours_allow("09:00-17:00", NULL, day + 17 * 3600 - 1));
	assert_false(zt_hours_allow("09:00-17:00", NULL, day + 17 * 3600));
	assert_true(zt_hours_allow("22:00-06:00", NULL, day + 23 * 3600));
	assert_true(zt_hours_allow("22:00-06:00", NULL, day + 3600));
	assert_false(zt_hours_allow("22:00-06:00", NULL, day + 6 * 3600));
	assert_false(zt_hours_allow("22:00-06:00", NULL, day + 12 * 3600));
	assert_false(zt_hours_allow("bogus", NULL, day + 12 * 3600));		/* fails closed */
	assert_int_equal(zt_hours_next("09:00-17:00", NULL, day + 8 * 3600), day + 9 * 3600);
	assert_int_equal(zt_hours_next("09:00-17:00", NULL, day + 9 * 3600), day + 17 * 3600);
	assert_int_equal(zt_hours_next("09:00-17:00", NULL, day + 17 * 3600), day + 86400 + 9 * 3600);
	assert_int_equal(zt_hours_next("22:00-06:00", NULL, day + 23 * 3600), day + 86400 + 6 * 3600);
	/* Days of the week (ctl_time is a Friday): the day a window starts on. */
	assert_true(zt_hours_allow("Mon-Fri 09:00-17:00", NULL, day + 10 * 3600));
	assert_false(zt_hours_allow("Mon-Fri 09:00-17:00", NULL, day + 86400 + 10 * 3600));
	assert_true(zt_hours_allow("sat,Sun 09:00-17:00", NULL, day + 2 * 86400 + 10 * 3600));
	assert_false(zt_hours_allow("Sat,Sun 09:00-17:00", NULL, day + 3 * 86400 + 10 * 3600));
	assert_true(zt_hours_allow("Fri 22:00-06:00", NULL, day + 23 * 3600));
	assert_true(zt_hours_allow("Fri 22:00-06:00", NULL, day + 86400 + 5 * 3600));	/* Saturday */
	assert_false(zt_hours_allow("Fri 22:00-06:00", NULL, day + 5 * 3600));	/* Thursday's */
	assert_false(zt_hours_allow("Fri 22:00-06:00", NULL, day + 86400 + 23 * 3600));
	assert_true(zt_hours_allow("Fri-Mon 09:00-17:00", NULL, day + 3 * 86400 + 10 * 3600));
	assert_false(zt_hours_allow("Fri-Mon 09:00-17:00", NULL, day + 4 * 86400 + 10 * 3600));
	assert_false(zt_hours_allow("Mon, 09:00-17:00", NULL, day + 3 * 86400 + 10 * 3600));
	assert_false(zt_hours_allow("Monday 09:00-17:00", NULL, day + 3 * 86400 + 10 * 3600));
	/* Friday 17:00 to Monday 09:00: the weekend has no boundary. */
	assert_int_equal(zt_hours_next("Mon-Fri 09:00-17:00", NULL, day + 17 * 3600),
			 day + 3 * 86400 + 9 * 3600);

	world(m);
	ctl_add_fails(m, ZT_K_POLICY, "same", "{\"hours\":\"09:00-09:00\"}", -EINVAL,
		      "invalid hours '09:00-09:00': [Mon-Fri ]HH:MM-HH:MM (UTC, or --tz), start and end differ");
	ctl_add_fails(m, ZT_K_POLICY, "late", "{\"hours\":\"24:00-01:00\"}", -EINVAL,
		      "invalid hours '24:00-01:00': [Mon-Fri ]HH:MM-HH:MM (UTC, or --tz), start and end differ");
	ctl_add_fails(m, ZT_K_POLICY, "typo", "{\"hours\":\"Mon-Fry 09:00-17:00\"}", -EINVAL,
		      "invalid hours 'Mon-Fry 09:00-17:00': [Mon-Fri ]HH:MM-HH:MM (UTC, or --tz), start and end differ");
	ctl_add(m, ZT_K_POLICY, "office", "{\"hours\":\"09:00-17:00\"}");
	nas_policy(m, "office");
	/* 08:00: no grant, the devices stay known (denied, counted). */
	assert_false(nas_granted(m, "alice-laptop"));
	assert_false(nas_granted(m, "ci-runner"));
	assert_int_equal(zt_model_expire(m), day + 9 * 3600);
	nchanged = 0;
	ctl_time = day + 9 * 3600 - 1;
	assert_int_equal(zt_model_expire(m), day + 9 * 3600);
	assert_int_equal(nchanged, 0);
	assert_false(nas_granted(m, "alice-laptop"));
	/* 09:00 sharp: the grant appears, at nas's connector only. */
	ctl_time = day + 9 * 3600;
	assert_int_equal(zt_model_expire(m), day + 17 * 3600);
	assert_true(was_changed(&n.gw_office));
	assert_false(was_changed(&n.gw_lab));
	assert_true(nas_granted(m, "alice-laptop"));
	assert_true(nas_granted(m, "ci-runner"));
	/* 17:00: gone again; the timer goes to tomorrow's 09:00. */
	nchanged = 0;
	ctl_time = day + 17 * 3600;
	assert_int_equal(zt_model_expire(m), day + 86400 + 9 * 3600);
	assert_true(was_changed(&n.gw_office));
	assert_false(nas_granted(m, "alice-laptop"));
	/* Weekdays only: on Friday at 17:00 the timer goes to Monday 09:00. */
	ctl_add(m, ZT_K_POLICY, "weekdays", "{\"hours\":\"Mon-Fri 09:00-17:00\"}");
	nas_policy(m, "weekdays");
	assert_int_equal(zt_model_expire(m), day + 3 * 86400 + 9 * 3600);
	ctl_time = day + 86400 + 10 * 3600;	/* Saturday 10:00 */
	assert_false(nas_granted(m, "alice-laptop"));
	ctl_time = day + 3 * 86400 + 9 * 3600;	/* Monday 09:00 */
	nchanged = 0;
	assert_int_equal(zt_model_expire(m), day + 3 * 86400 + 17 * 3600);
	assert_true(was_changed(&n.gw_office));
	assert_true(nas_granted(m, "alice-laptop"));
	ctl_time = day + 17 * 3600;
	nas_policy(m, "office");
	/* Another rule to the same resource without hours still grants. */
	ctl_add(m, ZT_K_ACCESS, NULL, "{\"group\":\"ops\",\"resource\":\"nas\"}");
	assert_true(nas_granted(m, "bob-pc"));
	/* No hours any more: granted, and no timer. */
	nas_policy(m, "");
	assert_true(nas_granted(m, "alice-laptop"));
	assert_int_equal(zt_model_expire(m), 0);
	/*
	 * In Europe/Berlin (test_controller_hours has the DST cases): 07:30 UTC is
	 * 08:30 on Friday 2026-03-27 (CET, outside) and 09:30 on Monday 2026-03-30
	 * (CEST, inside); the timer goes to the zone's boundaries.
	 */
	ctl_add(m, ZT_K_POLICY, "berlin", "{\"hours\":\"Mon-Fri 09:00-17:00\","
		"\"tz\":\"Europe/Berlin\"}");
	ctl_time = 1774569600 + 7 * 3600 + 1800;
	nas_policy(m, "berlin");
	assert_false(nas_granted(m, "alice-laptop"));
	assert_int_equal(zt_model_expire(m), 1774569600 + 8 * 3600);
	ctl_time = 1774828800 + 7 * 3600 + 1800;
	assert_true(nas_granted(m, "alice-laptop"));
	assert_int_equal(zt_model_expire(m), 1774828800 + 15 * 3600);
	ctl_time = t0;
}

/* How many audit records have ACTION and NAME. */
static int audit_count(struct zt_model *m, const char *action, const char *name)
{
	const char *p[] = { action, name };
	struct zt_db_rows *r;
	int n;

	assert_int_equal(zt_db_query(m->db, "SELECT COUNT(*) FROM audit WHERE action = $1"
				     " AND name = $2", 2, p, &r, ctl_err, sizeof(ctl_err)), 0);
	n = atoi(zt_db_cell(r, 0, 0));
	zt_db_rows_free(r);
	return n;
}

/*
 * Service account key expiry: a token with a key lifetime gives the device
 * "key_expires" counted from enrollment; past it the device's grants leave
 * its connector's view (another key of the account keeps its own), its key
 * is refused, and the timer's walk returns it (its session closes) with one
 * audit record, once.
 */
/* Set service account ci's "disabled" to DISABLED. */
static void ci_disabled(struct zt_model *m, bool disabled)
{
	json_object *args = ctl_args(disabled ? "{\"disable\":true}" : "{\"enable\":true}"), *body;

	assert_int_equal(zt_model_set(m, ZT_K_SA, "ci", args, "uid:0", &body, ctl_err,
				      sizeof(ctl_err)), 0);
	json_object_put(args);
	json_object_put(body);
}

/*
 * Revocation still holds beside key expiry: disabling the account takes its
 * unexpired key's grant and session too, enabling it again does not revive
 * the expired key, and `device rm` of the expired device closes and removes it.
 */
static void revocation_after_expiry(struct zt_model *m, const uint8_t expired_pub[ZT_KEY_LEN])
{
	const uint8_t runner_pub[ZT_KEY_LEN] = { 5, 0x55 };
	struct zt_node_ident id, *nodes;
	size_t nn;

	ci_disabled(m, true);
	assert_false(nas_granted(m, "ci-runner"));
	assert_int_equal(zt_model_lookup_key(m, runner_pub, &id), -ENOENT);
	assert_null(zt_model_view(m, &n.ci, &(uint64_t){ 0 }));	/* its session closes */
	ci_disabled(m, false);
	assert_true(nas_granted(m, "ci-runner"));
	assert_int_equal(zt_model_lookup_key(m, runner_pub, &id), 0);
	assert_false(nas_granted(m, "ci-builder"));
	assert_int_equal(zt_model_lookup_key(m, expired_pub, &id), -ENOENT);
	assert_int_equal(zt_model_nodes_of(m, ZT_K_DEVICE, "ci-builder", &nodes, &nn), 0);
	assert_int_equal(nn, 1);
	assert_int_equal(nodes[0].kind, ZT_NODE_DEVICE);
	free(nodes);
	assert_int_equal(zt_model_rm(m, ZT_K_DEVICE, "ci-builder", "uid:0", ctl_err,
				     sizeof(ctl_err)), 0);
	assert_null(zt_model_find(m, ZT_K_DEVICE, "ci-builder"));
	assert_true(nas_granted(m, "ci-runner"));
}

static void test_key_expiry(void **state)
{
	struct zt_model *m = *state;
	const uint8_t pub[ZT_KEY_LEN] = { 6, 0x55 };
	char hash[ZT_TOKEN_HASH_HEX_LEN + 1];
	struct zt_node_ident builder, id, *gone;
	const struct zt_mobj *d;
	int64_t t0 = ctl_time, next;
	size_t ngone;

	world(m);
	assert_int_equal(ctl_key_token(m, ZT_K_USER, "alice@example.com", 3600, 600, hash),
			 -EINVAL);
	assert_string_equal(ctl_err, "--key-expires is for service accounts' keys");
	assert_int_equal(ctl_key_token(m, ZT_K_SA, "ci", 3600, 600, hash), 0);
	ctl_time = t0 + 100;	/* the key's life starts at enrollment, not at the token */
	if (ctl_enroll(m, hash, 6, "builder", &builder))
		fail_msg("enroll: %s", ctl_err);
	d = zt_model_find(m, ZT_K_DEVICE, "ci-builder");
	assert_non_null(d);
	assert_int_equal(json_object_get_int64(json_object_object_get(d->body, "key_expires")),
			 t0 + 700);
	assert_int_equal(zt_model_expire_keys(m, &next, &gone, &ngone, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(next, t0 + 700);
	assert_int_equal(ngone, 0);
	free(gone);
	/* A second before: granted, its key known. */
	ctl_time = t0 + 699;
	assert_true(nas_granted(m, "ci-builder"));
	assert_int_equal(zt_model_lookup_key(m, pub, &id), 0);
	/* At the expiry: no grant, key refused; ci's other key (no expiry) unaffected. */
	ctl_time = t0 + 700;
	assert_false(nas_granted(m, "ci-builder"));
	assert_true(nas_granted(m, "ci-runner"));
	assert_int_equal(zt_model_lookup_key(m, pub, &id), -ENOENT);
	nchanged = 0;
	assert_int_equal(zt_model_expire_keys(m, &next, &gone, &ngone, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(next, 0);
	assert_int_equal(ngone, 1);
	assert_int_equal(gone[0].kind, ZT_NODE_DEVICE);
	assert_int_equal(gone[0].id, builder.id);
	free(gone);
	assert_true(was_changed(&n.gw_office));
	assert_false(was_changed(&n.gw_lab));
	assert_int_equal(audit_count(m, "device.key_expired", "ci-builder"), 1);
	d = zt_model_find(m, ZT_K_DEVICE, "ci-builder");
	assert_true(zt_mobj_bool(d, "key_expired"));
	/* Once: a later walk (another timer, a restart) writes nothing more. */
	ctl_time = t0 + 800;
	assert_int_equal(zt_model_expire_keys(m, &next, &gone, &ngone, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(ngone, 0);
	free(gone);
	assert_int_equal(audit_count(m, "device.key_expired", "ci-builder"), 1);
	assert_false(nas_granted(m, "ci-builder"));
	revocation_after_expiry(m, pub);
	ctl_time = t0;
}

/* `admin device set NAME` with ARGS: its return, the error in ctl_err. */
static int device_set(struct zt_model *m, const char *name, const char *args)
{
	json_object *a = ctl_args(args), *out = NULL;
	int ret = zt_model_set(m, ZT_K_DEVICE, name, a, "uid:0", &out, ctl_err, sizeof(ctl_err));

	json_object_put(a);
	json_object_put(out);
	return ret;
}

/* The last "update" record of device NAME: its before and after (parsed, to put). */
static void last_update(struct zt_model *m, const char *name, json_object **before,
			json_object **after)
{
	const char *p[] = { name };
	struct zt_db_rows *r;

	assert_int_equal(zt_db_query(m->db, "SELECT before_json, after_json FROM audit WHERE"
				     " action = 'update' AND kind = 'device' AND name = $1 ORDER BY"
				     " seq DESC LIMIT 1", 1, p, &r, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(r->nrows, 1);
	*before = json_tokener_parse(zt_db_cell(r, 0, 0));
	*after = json_tokener_parse(zt_db_cell(r, 0, 1));
	zt_db_rows_free(r);
}

/*
 * A service account's key renewed in place (`admin device set NAME
 * --key-expires D|never`): an expired key gets its grants and its sessions
 * back, audited as an update with the device before and after, and expires
 * again (marked and audited again) at the new time; "never" ends expiry.
 * Refused, with nothing changed: a user's device, a bad duration, no field.
 */
static void test_key_renewal(void **state)
{
	struct zt_model *m = *state;
	const uint8_t pub[ZT_KEY_LEN] = { 6, 0x55 };
	char hash[ZT_TOKEN_HASH_HEX_LEN + 1];
	struct zt_node_ident builder, id, *gone;
	json_object *before, *after;
	int64_t t0 = ctl_time, next;
	uint64_t rev;
	size_t ngone;

	world(m);
	assert_int_equal(ctl_key_token(m, ZT_K_SA, "ci", 3600, 600, hash), 0);
	if (ctl_enroll(m, hash, 6, "builder", &builder))
		fail_msg("enroll: %s", ctl_err);
	ctl_time = t0 + 700;
	assert_int_equal(zt_model_expire_keys(m, &next, &gone, &ngone, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(ngone, 1);
	free(gone);
	assert_false(nas_granted(m, "ci-builder"));
	/* Refused: nothing changes. */
	rev = m->rev;
	assert_int_equal(device_set(m, "alice-laptop", "{\"key_expires\":\"90d\"}"), -EINVAL);
	assert_string_equal(ctl_err, "--key-expires is for service accounts' keys");
	assert_int_equal(device_set(m, "ci-builder", "{\"key_expires\":\"soon\"}"), -EINVAL);
	assert_non_null(strstr(ctl_err, "invalid --key-expires 'soon'"));
	assert_int_equal(device_set(m, "ci-builder", "{\"key_expires\":\"5s\"}"), -EINVAL);
	assert_int_equal(device_set(m, "ci-builder", "{}"), -EINVAL);
	assert_non_null(strstr(ctl_err, "--key-expires D|never"));
	assert_int_equal(device_set(m, "nope", "{\"key_expires\":\"90d\"}"), -ENOENT);
	assert_int_equal(m->rev, rev);
	assert_true(zt_mobj_bool(zt_model_find(m, ZT_K_DEVICE, "ci-builder"), "key_expired"));
	/* Renewed for 90 days from now: grant and key back, its connector told. */
	ctl_time = t0 + 800;
	nchanged = 0;
	assert_int_equal(device_set(m, "ci-builder", "{\"key_expires\":\"90d\"}"), 0);
	assert_true(was_changed(&n.gw_office));
	assert_true(nas_granted(m, "ci-builder"));
	assert_int_equal(zt_model_lookup_key(m, pub, &id), 0);
	assert_int_equal(id.id, builder.id);
	last_update(m, "ci-builder", &before, &after);
	assert_true(json_object_get_boolean(json_object_object_get(before, "key_expired")));
	assert_int_equal(json_object_get_int64(json_object_object_get(before, "key_expires")),
			 t0 + 600);
	assert_false(json_object_object_get_ex(after, "key_expired", NULL));
	assert_int_equal(json_object_get_int64(json_object_object_get(after, "key_expires")),
			 t0 + 800 + 90 * 86400);
	json_object_put(before);
	json_object_put(after);
	/* It expires again at the new time, marked and audited a second time. */
	assert_int_equal(zt_model_expire_keys(m, &next, &gone, &ngone, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(next, t0 + 800 + 90 * 86400);
	free(gone);
	ctl_time = next;
	assert_int_equal(zt_model_expire_keys(m, &next, &gone, &ngone, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(ngone, 1);
	free(gone);
	assert_int_equal(audit_count(m, "device.key_expired", "ci-builder"), 2);
	assert_false(nas_granted(m, "ci-builder"));
	/* never: no expiry at all, nothing for the timer. */
	assert_int_equal(device_set(m, "ci-builder", "{\"key_expires\":\"never\"}"), 0);
	assert_true(nas_granted(m, "ci-builder"));
	assert_false(json_object_object_get_ex(zt_model_find(m, ZT_K_DEVICE, "ci-builder")->body,
					       "key_expires", NULL));
	assert_int_equal(zt_model_expire_keys(m, &next, &gone, &ngone, ctl_err, sizeof(ctl_err)), 0);
	assert_int_equal(next, 0);
	free(gone);
	ctl_time = t0;
}

/* The controller's ring of connection lines: sequence, cursor, bounded, lost lines counted. */
static void test_connlog(void **state)
{
	struct zt_connlog *r = zt_connlog_new(4);
	json_object *line = json_object_new_object(), *o, *v;

	(void)state;
	o = zt_connlog_since(r, 0, 0);
	assert_int_equal(json_object_array_length(json_object_object_get(o, "lines")), 0);
	assert_int_equal(json_object_get_int64(json_object_object_get(o, "next")), 0);
	json_object_put(o);
	v = json_object_new_string("x");
	assert_int_equal(zt_connlog_push(r, v), 0);	/* not an object */
	json_object_put(v);
	for (int i = 1; i <= 6; i++) {
		json_object_object_add(line, "n", json_object_new_int(i));
		assert_int_equal(zt_connlog_push(r, line), (uint64_t)i);
	}
	json_object_put(line);
	o = zt_connlog_since(r, 1, 0);		/* 2 was dropped before it was read */
	v = json_object_object_get(o, "lines");
	assert_int_equal(json_object_array_length(v), 4);
	assert_int_equal(json_object_get_int64(json_object_object_get(json_object_array_get_idx(v, 0),
								       "seq")), 3);
	assert_int_equal(json_object_get_int64(json_object_object_get(o, "lost")), 1);
	assert_int_equal(json_object_get_int64(json_object_object_get(o, "next")), 6);
	json_object_put(o);
	o = zt_connlog_since(r, 4, 1);
	assert_int_equal(json_object_array_length(json_object_object_get(o, "lines")), 1);
	assert_int_equal(json_object_get_int64(json_object_object_get(o, "next")), 5);
	json_object_put(o);
	o = zt_connlog_since(r, 6, 0);
	assert_int_equal(json_object_array_length(json_object_object_get(o, "lines")), 0);
	assert_int_equal(json_object_get_int64(json_object_object_get(o, "next")), 6);
	json_object_put(o);
	zt_connlog_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_client_views, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_connector_views, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_affected, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_endpoint_and_revocation, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_identity, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_session_lifetime, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_allowed_hours, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_key_expiry, ctl_setup, ctl_teardown),
		cmocka_unit_test_setup_teardown(test_key_renewal, ctl_setup, ctl_teardown),
		cmocka_unit_test(test_connlog),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
