// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests: devices, connectors and grants in the policy (validation,
 * cascades, copies), the policy document (strict reading, errors naming the
 * entry, ids kept by name, exact round trip, old files) and its diff.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy/policy.h"
#include "policy/store.h"

static char err[512];

/* Three distinct keys, as keygen would print them. */
static const char *const KEY[] = {
	"agEkazMiQ/qcVG/sy9k7AhH98O5WMe7FsK49TBvjoSA=",
	"RFXKKEBiFAbydt0Q/x7InfiiIJwlUlrxN32c+GMKGgk=",
	"gu8xdKEL/A1HCNTXnzGrmGqwJdlLWNXi+MQzBXPCRCQ=",
	"GAPBdlCUeD2Qb8rJumMaqG9zTm+r+ztopZdaO8E3ajo=",
};

static void expect_err(int ret, int want, const char *part)
{
	if (ret != want)
		fail_msg("returned %d, want %d (error '%s')", ret, want, err);
	if (part && !strstr(err, part))
		fail_msg("error '%s' does not mention '%s'", err, part);
	assert_null(strchr(err, '\n'));
}

static int add_resource(struct zt_policy *p, const char *name, const char *addr,
			const char *connector)
{
	struct zt_resource_def def;
	int ret;

	ret = zt_resource_parse(&def, name, addr, "80", NULL, false, NULL, err, sizeof(err));
	if (!ret)
		ret = zt_resource_set_connector(&def, connector, err, sizeof(err));
	return ret ? ret : zt_policy_add(p, &def, err, sizeof(err));
}

static int add_device(struct zt_policy *p, const char *name, const char *key, const char *addr)
{
	struct zt_device_def def;
	int ret = zt_device_parse(&def, name, key, addr, err, sizeof(err));

	return ret ? ret : zt_policy_device_add(p, &def, err, sizeof(err));
}

static int add_connector(struct zt_policy *p, const char *name, const char *key,
			 const char *endpoint)
{
	struct zt_connector_def def;
	int ret = zt_connector_parse(&def, name, key, endpoint, err, sizeof(err));

	return ret ? ret : zt_policy_connector_add(p, &def, err, sizeof(err));
}

/* A small policy with one of everything. */
static void build(struct zt_policy *p)
{
	zt_policy_init(p);
	assert_int_equal(add_connector(p, "gw", KEY[2], "192.0.2.1:51820"), 0);
	assert_int_equal(add_resource(p, "web", "198.18.0.2", "gw"), 0);
	assert_int_equal(add_resource(p, "db", "198.18.0.3", NULL), 0);
	assert_int_equal(add_device(p, "alice", KEY[0], "100.64.0.2"), 0);
	assert_int_equal(add_device(p, "bob", KEY[1], "100.64.0.3"), 0);
	assert_int_equal(zt_policy_grant_add(p, "alice", "web", err, sizeof(err)), 0);
	assert_int_equal(zt_policy_grant_add(p, "alice", "db", err, sizeof(err)), 0);
	assert_int_equal(zt_policy_grant_add(p, "bob", "web", err, sizeof(err)), 0);
}

static void test_validation(void **state)
{
	struct zt_device_def dev;
	struct zt_policy p;

	(void)state;
	build(&p);
	assert_int_equal(zt_policy_device_find(&p, "alice")->id, 1);
	assert_int_equal(zt_policy_device_find(&p, "bob")->id, 2);

	/* Unique names, keys (across devices and connectors) and addresses. */
	expect_err(add_device(&p, "alice", KEY[3], "100.64.0.9"), -EEXIST, "already exists");
	expect_err(add_device(&p, "carol", KEY[0], "100.64.0.9"), -EEXIST, "device 'alice'");
	expect_err(add_device(&p, "carol", KEY[2], "100.64.0.9"), -EEXIST, "connector 'gw'");
	expect_err(add_device(&p, "carol", KEY[3], "100.64.0.2"), -EEXIST,
		   "100.64.0.2 is already device 'alice'");
	expect_err(add_connector(&p, "gw2", KEY[1], "192.0.2.2:1"), -EEXIST, "device 'bob'");
	expect_err(add_connector(&p, "gw", KEY[3], "192.0.2.2:1"), -EEXIST, "already exists");

	/* Parsing: key length, one IPv4 address, endpoint form, names. */
	expect_err(zt_device_parse(&dev, "carol", "AAAA", "100.64.0.9", err, sizeof(err)),
		   -EINVAL, "invalid key");
	expect_err(zt_device_parse(&dev, "carol", KEY[3], "100.64.0.0/24", err, sizeof(err)),
		   -EINVAL, "one IPv4 address");
	expect_err(zt_device_parse(&dev, "carol", KEY[3], "fd00::2", err, sizeof(err)), -EINVAL,
		   "one IPv4 address");
	expect_err(zt_device_parse(&dev, "bad name", KEY[3], "100.64.0.9", err, sizeof(err)),
		   -EINVAL, "invalid device name");
	expect_err(zt_device_parse(&dev, "carol", NULL, "100.64.0.9", err, sizeof(err)), -EINVAL,
		   "needs a name, a public key and an address");
	expect_err(add_connector(&p, "gw3", KEY[3], "gw.example:1"), -EINVAL, "invalid endpoint");

	/* A resource's connector must exist. */
	expect_err(add_resource(&p, "nas", "198.18.0.4", "nope"), -ENOENT, "no connector named 'nope'");
	assert_null(zt_policy_find(&p, "nas"));

	/* Grants name existing entries, once. */
	expect_err(zt_policy_grant_add(&p, "alice", "web", err, sizeof(err)), -EEXIST,
		   "already has a grant");
	expect_err(zt_policy_grant_add(&p, "zed", "web", err, sizeof(err)), -ENOENT,
		   "no device named 'zed'");
	expect_err(zt_policy_grant_add(&p, "alice", "nope", err, sizeof(err)), -ENOENT,
		   "no resource named 'nope'");
	expect_err(zt_policy_grant_remove(&p, "bob", "db", err, sizeof(err)), -ENOENT,
		   "no grant for 'db'");
	assert_true(zt_policy_granted(&p, 1, 1));
	assert_int_equal(zt_policy_grant_remove(&p, "alice", "web", err, sizeof(err)), 0);
	assert_false(zt_policy_granted(&p, 1, 1));
	assert_true(zt_policy_granted(&p, 1, 2));

	/* Lookups the connector role needs. */
	{
		uint8_t key[ZT_KEY_LEN];

		assert_int_equal(zt_key_from_base64(KEY[1], key, err, sizeof(err)), 0);
		assert_string_equal(zt_policy_device_find_key(&p, key)->name, "bob");
		assert_string_equal(zt_policy_device_find_addr(&p,
				    zt_policy_device_find(&p, "bob")->address.addr)->name, "bob");
		assert_int_equal(zt_key_from_base64(KEY[2], key, err, sizeof(err)), 0);
		assert_string_equal(zt_policy_connector_find_key(&p, key)->name, "gw");
	}
	zt_policy_free(&p);
}

static void test_cascade(void **state)
{
	struct zt_policy p, copy;

	(void)state;
	build(&p);
	assert_int_equal(zt_policy_copy(&copy, &p), 0);

	/* A connector in use stays; the message names a user. */
	expect_err(zt_policy_connector_remove(&p, "gw", err, sizeof(err)), -EBUSY,
		   "serves resource 'web'");
	assert_non_null(zt_policy_connector_find(&p, "gw"));

	/* Removing a resource takes its grants, and only those. */
	assert_int_equal(zt_policy_grant_count(&p, 0, zt_policy_find(&p, "web")->id), 2);
	assert_int_equal(zt_policy_remove(&p, "web", err, sizeof(err)), 0);
	assert_int_equal(p.ngrants, 1);
	assert_true(zt_policy_granted(&p, 1, 2));
	/* Now the connector is free to go. */
	assert_int_equal(zt_policy_connector_remove(&p, "gw", err, sizeof(err)), 0);

	/* Removing a device takes its grants. */
	assert_int_equal(zt_policy_device_remove(&p, "alice", err, sizeof(err)), 0);
	assert_int_equal(p.ngrants, 0);
	expect_err(zt_policy_device_remove(&p, "alice", err, sizeof(err)), -ENOENT, "no device");
	/* The lowest free id comes back. */
	assert_int_equal(add_device(&p, "carol", KEY[0], "100.64.0.2"), 0);
	assert_int_equal(zt_policy_device_find(&p, "carol")->id, 1);

	/* The copy made before is whole and independent. */
	assert_int_equal(copy.count, 2);
	assert_int_equal(copy.ndevices, 2);
	assert_int_equal(copy.nconnectors, 1);
	assert_int_equal(copy.ngrants, 3);
	assert_string_equal(copy.res[0].connector, "gw");
	assert_string_equal(copy.devices[0].name, "alice");
	zt_policy_free(&copy);
	zt_policy_free(&p);
}

static json_object *parse(const char *text)
{
	json_object *o = json_tokener_parse(text);

	assert_non_null(o);
	return o;
}

/* Reading TEXT fails with an error that contains PART. */
static void doc_bad(const char *text, const char *part)
{
	json_object *o = parse(text);
	struct zt_policy p;

	err[0] = '\0';
	if (!zt_policy_from_json(&p, o, err, sizeof(err)))
		fail_msg("accepted: %s", text);
	if (!strstr(err, part))
		fail_msg("'%s': error '%s' does not mention '%s'", text, err, part);
	assert_null(strchr(err, '\n'));
	assert_int_equal(p.count + p.ndevices + p.nconnectors + p.ngrants, 0);
	json_object_put(o);
}

#define R(name, addr) "{\"name\":\"" name "\",\"address\":\"" addr "\",\"tcp\":\"80\"}"
#define D(name, key, addr) "{\"name\":\"" name "\",\"pubkey\":\"" key "\",\"address\":\"" addr "\"}"
#define G(dev, res) "{\"device\":\"" dev "\",\"resource\":\"" res "\"}"
#define K0 "agEkazMiQ/qcVG/sy9k7AhH98O5WMe7FsK49TBvjoSA="
#define K1 "RFXKKEBiFAbydt0Q/x7InfiiIJwlUlrxN32c+GMKGgk="

static void test_doc_errors(void **state)
{
	(void)state;
	doc_bad("{\"resources\":[" R("web", "198.18.0.2") "],\"devices\":[" D("alice", K0, "100.64.0.2")
		"],\"grants\":[" G("alice", "web") "," G("alice", "nope") "]}",
		"grants[1]: no resource 'nope'");
	doc_bad("{\"resources\":[" R("web", "198.18.0.2") "],\"grants\":[" G("bob", "web") "]}",
		"grants[0]: no device 'bob'");
	doc_bad("{\"resources\":[" R("web", "198.18.0.2") "],\"devices\":[" D("alice", K0, "100.64.0.2")
		"],\"grants\":[" G("alice", "web") "," G("alice", "web") "]}",
		"grants[1]: the same grant as grants[0]");
	doc_bad("{\"devices\":[" D("alice", K0, "100.64.0.2") "," D("alice", K1, "100.64.0.3") "]}",
		"devices[1]: name 'alice' appears twice (devices[0])");
	doc_bad("{\"devices\":[" D("alice", K0, "100.64.0.2") "," D("bob", K0, "100.64.0.3") "]}",
		"devices[1]: public key already used by devices[0]");
	doc_bad("{\"devices\":[" D("alice", K0, "100.64.0.2") "],\"connectors\":[{\"name\":\"gw\","
		"\"pubkey\":\"" K0 "\",\"endpoint\":\"192.0.2.1:1\"}]}",
		"connectors[0]: public key already used by devices[0]");
	doc_bad("{\"devices\":[" D("alice", K0, "100.64.0.2") "," D("bob", K1, "100.64.0.2") "]}",
		"devices[1]: address 100.64.0.2 is already device 'alice'");
	doc_bad("{\"resources\":[{\"name\":\"web\",\"address\":\"198.18.0.2\",\"connector\":\"gw\"}]}",
		"resources[0]: no connector 'gw'");
	doc_bad("{\"resources\":[{\"name\":\"web\",\"address\":\"198.18.0.2\",\"ports\":\"80\"}]}",
		"resources[0]: unknown field 'ports'");
	doc_bad("{\"resources\":[{\"name\":\"web\",\"address\":\"198.18.0.2\",\"tcp\":80}]}",
		"resources[0]: 'tcp' must be a string");
	doc_bad("{\"resources\":[{\"name\":\"web\",\"address\":\"198.18.0.2\",\"icmp\":\"yes\"}]}",
		"'icmp' must be true or false");
	doc_bad("{\"resources\":[],\"rules\":[]}", "policy: unknown field 'rules'");
	doc_bad("{\"version\":2}", "unsupported version 2");
	doc_bad("{\"devices\":{}}", "'devices' must be an array");
	doc_bad("{\"devices\":[1]}", "devices[0]: not an object");
	doc_bad("{\"devices\":[{\"name\":\"a\",\"pubkey\":\"AAAA\",\"address\":\"100.64.0.2\"}]}",
		"devices[0]: invalid key");
	doc_bad("{\"grants\":[{\"device\":\"a\"}]}", "grants[0]: a grant needs a device and a resource");
	doc_bad("{\"grants\":[{\"device\":\"a\",\"resource\":\"b\",\"allow\":true}]}",
		"grants[0]: unknown field 'allow'");
	doc_bad("{\"resources\":[{\"id\":3,\"name\":\"a\",\"address\":\"10.0.0.1\"},"
		"{\"id\":3,\"name\":\"b\",\"address\":\"10.0.0.2\"}]}", "resources[1]: duplicate id 3");
	doc_bad("{\"devices\":[{\"id\":70000,\"name\":\"a\",\"pubkey\":\"" K0 "\",\"address\":\"100.64.0.2\"}]}",
		"devices[0]: invalid id 70000");
	doc_bad("[]", "expected a JSON object");
	doc_bad("{\"devices\":[{\"name\":\"a\",\"pubkey\":\"" K0 "\",\"address\":\"100.64.0.2\","
		"\"owner\":{\"user\":\"a@x\",\"service_account\":\"ci\"}}]}",
		"devices[0]: 'owner' must be {\"user\": EMAIL} or {\"service_account\": NAME}");
	doc_bad("{\"devices\":[{\"name\":\"a\",\"pubkey\":\"" K0 "\",\"address\":\"100.64.0.2\","
		"\"owner\":{\"group\":\"eng\"}}]}", "devices[0]: unknown field 'group'");
	doc_bad("{\"devices\":[{\"name\":\"a\",\"pubkey\":\"" K0 "\",\"address\":\"100.64.0.2\","
		"\"owner\":{\"user\":\"\"}}]}", "devices[0]: invalid owner ''");
	doc_bad("{\"devices\":[{\"name\":\"a\",\"pubkey\":\"" K0 "\",\"address\":\"100.64.0.2\","
		"\"controller_id\":0}]}", "devices[0]: invalid controller_id 0");
}

/* The text of P's document; caller frees. */
static char *text_of(const struct zt_policy *p)
{
	char *t = zt_policy_to_text(p);

	assert_non_null(t);
	return t;
}

/* A controller's device: its owner and controller id survive export and apply byte for byte. */
static void test_doc_owner(void **state)
{
	static const char *const doc =
		"{\"devices\":[{\"name\":\"alice-laptop\",\"pubkey\":\"" K0 "\",\"address\":\"100.64.0.2\","
		"\"owner\":{\"user\":\"alice@example.com\"},\"controller_id\":12},"
		"{\"name\":\"ci-runner\",\"pubkey\":\"" K1 "\",\"address\":\"100.64.0.3\","
		"\"owner\":{\"service_account\":\"ci\"}}]}";
	struct zt_policy p, q;
	json_object *o = parse(doc);
	char *t1, *t2;

	(void)state;
	assert_int_equal(zt_policy_from_doc(&p, o, NULL, err, sizeof(err)), 0);
	json_object_put(o);
	assert_int_equal(p.devices[0].owner_kind, ZT_OWNER_USER);
	assert_string_equal(p.devices[0].owner, "alice@example.com");
	assert_int_equal(p.devices[0].controller_id, 12);
	assert_int_equal(p.devices[1].owner_kind, ZT_OWNER_SERVICE_ACCOUNT);
	assert_int_equal(p.devices[1].controller_id, 0);
	t1 = text_of(&p);
	assert_non_null(strstr(t1, "alice@example.com"));
	assert_non_null(strstr(t1, "\"service_account\""));
	assert_non_null(strstr(t1, "\"controller_id\""));
	o = parse(t1);
	assert_int_equal(zt_policy_from_doc(&q, o, &p, err, sizeof(err)), 0);
	json_object_put(o);
	t2 = text_of(&q);
	assert_string_equal(t1, t2);
	free(t1);
	free(t2);
	zt_policy_free(&q);
	zt_policy_free(&p);
}

static void test_doc_roundtrip(void **state)
{
	struct zt_policy p, q, r;
	json_object *o, *diff;
	char *t1, *t2;

	(void)state;
	build(&p);
	t1 = text_of(&p);
	o = parse(t1);
	assert_int_equal(zt_policy_from_doc(&q, o, &p, err, sizeof(err)), 0);
	json_object_put(o);
	t2 = text_of(&q);
	assert_string_equal(t1, t2);		/* export, apply, export: the same bytes */
	diff = zt_policy_diff(&p, &q);
	assert_int_equal(json_object_array_length(diff), 0);
	json_object_put(diff);
	free(t2);

	/* Without ids, entries keep the ids their names had; new ones get free ids. */
	o = parse("{\"resources\":[" R("db", "198.18.0.3") "," R("new", "198.18.0.9") ","
		  R("web", "198.18.0.2") "],\"devices\":[" D("bob", K1, "100.64.0.3") "]}");
	assert_int_equal(zt_policy_from_doc(&r, o, &p, err, sizeof(err)), 0);
	json_object_put(o);
	assert_int_equal(zt_policy_find(&r, "web")->id, zt_policy_find(&p, "web")->id);
	assert_int_equal(zt_policy_find(&r, "db")->id, zt_policy_find(&p, "db")->id);
	assert_int_equal(zt_policy_find(&r, "new")->id, 3);
	assert_int_equal(zt_policy_device_find(&r, "bob")->id, 2);
	/* The order of the document is kept. */
	assert_string_equal(r.res[0].name, "db");

	/* The diff: one line per entry, removed first, then added and changed. */
	diff = zt_policy_diff(&p, &r);
	{
		static const char *const want[] = {
			"- device alice",
			"- connector gw",
			"- grant alice web",
			"- grant alice db",
			"- grant bob web",
			"+ resource new id=3 address=198.18.0.9 tcp=80 udp=(none) icmp=false deny_mode=drop",
			"~ resource web: connector gw -> (none)",
		};
		size_t i, n = json_object_array_length(diff), j;

		assert_int_equal(n, sizeof(want) / sizeof(want[0]));
		for (j = 0; j < n; j++) {
			const char *line = json_object_get_string(json_object_array_get_idx(diff, j));

			for (i = 0; i < n && strcmp(want[i], line); i++)
				;
			if (i == n)
				fail_msg("unexpected diff line '%s'", line);
		}
		/* Sections in order: resources before devices before grants. */
		assert_string_equal(json_object_get_string(json_object_array_get_idx(diff, 0)),
				    "+ resource new id=3 address=198.18.0.9 tcp=80 udp=(none) icmp=false deny_mode=drop");
	}
	json_object_put(diff);
	zt_policy_free(&r);
	zt_policy_free(&q);
	free(t1);
	zt_policy_free(&p);
}

/* A file written before devices existed: resources only, and it still loads. */
static void test_old_file(void **state)
{
	char dir[] = "/tmp/zt-doc-XXXXXX", path[256];
	struct zt_policy p, q;
	char *text;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/policy.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\n  \"version\":1,\n  \"resources\":[\n    {\n      \"name\":\"web\",\n"
	      "      \"id\":4,\n      \"address\":\"198.18.0.2\",\n      \"tcp\":\"80,443\",\n"
	      "      \"udp\":\"\",\n      \"icmp\":true,\n      \"deny_mode\":\"reject\"\n"
	      "    }\n  ]\n}\n", f);
	fclose(f);
	assert_int_equal(zt_store_load(dir, &p, err, sizeof(err)), 0);
	assert_int_equal(p.count, 1);
	assert_int_equal(p.res[0].id, 4);
	assert_int_equal(p.ndevices + p.nconnectors + p.ngrants, 0);

	/* Saved again, it is the new document; loaded again, the same policy. */
	assert_int_equal(add_device(&p, "alice", KEY[0], "100.64.0.2"), 0);
	assert_int_equal(zt_policy_grant_add(&p, "alice", "web", err, sizeof(err)), 0);
	assert_int_equal(zt_store_save(dir, &p, err, sizeof(err)), 0);
	assert_int_equal(zt_store_load(dir, &q, err, sizeof(err)), 0);
	text = text_of(&p);
	{
		char *t2 = text_of(&q), buf[8192];
		size_t n;

		assert_string_equal(text, t2);
		/* The file holds exactly the exported text. */
		f = fopen(path, "r");
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		assert_string_equal(buf, text);
		free(t2);
	}
	free(text);

	/* A bad file names itself and the entry. */
	zt_policy_free(&q);
	f = fopen(path, "w");
	fputs("{\"grants\":[{\"device\":\"x\",\"resource\":\"y\"}]}", f);
	fclose(f);
	assert_int_not_equal(zt_store_load(dir, &q, err, sizeof(err)), 0);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "grants[0]: no device 'x'"));

	zt_policy_free(&q);
	zt_policy_free(&p);
	unlink(path);
	rmdir(dir);
}

/* A connector known by its key alone (reached through relays): no "endpoint", kept so. */
static void test_connector_without_endpoint(void **state)
{
	struct zt_policy p, q;
	json_object *o, *con;
	char *t1, *t2;

	(void)state;
	zt_policy_init(&p);
	assert_int_equal(add_connector(&p, "gw", KEY[2], NULL), 0);
	assert_int_equal(add_connector(&p, "gw2", KEY[3], "192.0.2.1:51820"), 0);
	assert_false(zt_connector_has_endpoint(zt_policy_connector_find(&p, "gw")));
	assert_true(zt_connector_has_endpoint(zt_policy_connector_find(&p, "gw2")));
	t1 = text_of(&p);
	o = parse(t1);
	con = json_object_array_get_idx(json_object_object_get(o, "connectors"), 0);
	assert_false(json_object_object_get_ex(con, "endpoint", NULL));
	assert_int_equal(zt_policy_from_doc(&q, o, &p, err, sizeof(err)), 0);
	json_object_put(o);
	t2 = text_of(&q);
	assert_string_equal(t1, t2);
	assert_false(zt_connector_has_endpoint(zt_policy_connector_find(&q, "gw")));
	expect_err(add_connector(&p, "gw3", NULL, NULL), -EINVAL, "needs a name and a public key");
	free(t1);
	free(t2);
	zt_policy_free(&p);
	zt_policy_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connector_without_endpoint),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_cascade),
		cmocka_unit_test(test_doc_errors),
		cmocka_unit_test(test_doc_roundtrip),
		cmocka_unit_test(test_doc_owner),
		cmocka_unit_test(test_old_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
