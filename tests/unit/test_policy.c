// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests: port lists, addresses, resources, the policy file. */
#include <errno.h>
#include <setjmp.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/addr.h"
#include "policy/policy.h"
#include "policy/store.h"
#include "lib/ports.h"
#include <linux/types.h>
#include "ztgate/maps.h"

static char err[512];

static void ports_roundtrip(const char *in, const char *want)
{
	struct zt_port_list l;
	char out[256];

	assert_int_equal(zt_ports_parse(in, &l, err, sizeof(err)), 0);
	zt_ports_format(&l, out, sizeof(out));
	assert_string_equal(out, want);
}

static void ports_bad(const char *in, const char *msg_part)
{
	struct zt_port_list l;

	err[0] = '\0';
	assert_int_equal(zt_ports_parse(in, &l, err, sizeof(err)), -EINVAL);
	if (!strstr(err, msg_part))
		fail_msg("error for '%s' was '%s', expected it to mention '%s'", in, err, msg_part);
	assert_null(strchr(err, '\n'));
}

static void test_ports_parse(void **state)
{
	(void)state;
	ports_roundtrip("22", "22");
	ports_roundtrip("443,22,8000-8100", "22,443,8000-8100");
	ports_roundtrip("80,81,82", "80-82");
	ports_roundtrip("8000-8100,8050-8200", "8000-8200");
	ports_roundtrip("all", "all");
	ports_roundtrip("1-65535", "all");
	ports_roundtrip("", "");
	ports_roundtrip("65535", "65535");
}

static void test_ports_errors(void **state)
{
	(void)state;
	ports_bad("0", "ports are 1-65535");
	ports_bad("65536", "ports are 1-65535");
	ports_bad("70000", "ports are 1-65535");
	ports_bad("99999999999999999999", "ports are 1-65535");
	ports_bad("90-80", "start is above end");
	ports_bad("http", "not a number");
	ports_bad("22,", "trailing comma");
	ports_bad(",22", "empty item");
	ports_bad("22,,23", "empty item");
	ports_bad("-5", "empty port");
	ports_bad("5-", "empty port");
	ports_bad("1-2-3", "not a number");
	ports_bad(" 22", "not a number");
}

static void test_ports_expanded(void **state)
{
	struct zt_port_list l;

	(void)state;
	assert_int_equal(zt_ports_parse("22,8000-8100", &l, err, sizeof(err)), 0);
	assert_int_equal(zt_ports_expanded(&l), 102);
	assert_true(zt_ports_contains(&l, 8050));
	assert_false(zt_ports_contains(&l, 23));
}

static void test_addr_parse(void **state)
{
	struct zt_prefix p;
	char out[64];

	(void)state;
	assert_int_equal(zt_prefix_parse("198.18.0.2", &p, err, sizeof(err)), 0);
	assert_int_equal(p.family, AF_INET);
	assert_true(zt_prefix_is_host(&p));
	assert_int_equal(zt_prefix_len128(&p), 128);
	assert_int_equal(p.addr[10], 0xff);
	assert_int_equal(p.addr[15], 2);

	assert_int_equal(zt_prefix_parse("10.1.0.0/16", &p, err, sizeof(err)), 0);
	assert_int_equal(zt_prefix_len128(&p), 96 + 16);
	zt_prefix_format(&p, out, sizeof(out));
	assert_string_equal(out, "10.1.0.0/16");

	assert_int_equal(zt_prefix_parse("2001:db8::/32", &p, err, sizeof(err)), 0);
	assert_int_equal(p.family, AF_INET6);
	assert_int_equal(zt_prefix_len128(&p), 32);
	assert_int_equal(zt_prefix_parse("2001:DB8::0001", &p, err, sizeof(err)), 0);
	zt_prefix_format(&p, out, sizeof(out));
	assert_string_equal(out, "2001:db8::1");
	assert_int_equal(zt_prefix_parse("0.0.0.0/0", &p, err, sizeof(err)), 0);

	/* IPv4-mapped IPv6 is the IPv4 address: one key in the maps, one resource. */
	{
		struct zt_prefix q;

		assert_int_equal(zt_prefix_parse("::ffff:10.99.0.1", &p, err, sizeof(err)), 0);
		assert_int_equal(zt_prefix_parse("10.99.0.1", &q, err, sizeof(err)), 0);
		assert_true(zt_prefix_equal(&p, &q));
		zt_prefix_format(&p, out, sizeof(out));
		assert_string_equal(out, "10.99.0.1");
		assert_int_equal(zt_prefix_parse("::ffff:10.0.0.0/104", &p, err, sizeof(err)), 0);
		assert_int_equal(zt_prefix_parse("10.0.0.0/8", &q, err, sizeof(err)), 0);
		assert_true(zt_prefix_equal(&p, &q));
		assert_int_equal(zt_prefix_parse("::ffff:0.0.0.0/80", &p, err, sizeof(err)), -EINVAL);
	}
}

static void test_addr_errors(void **state)
{
	struct zt_prefix p;

	(void)state;
	assert_int_equal(zt_prefix_parse("300.1.1.1", &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "invalid address"));
	assert_int_equal(zt_prefix_parse("10.0.0.0/33", &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "prefix length must be 0-32"));
	assert_int_equal(zt_prefix_parse("2001:db8::/129", &p, err, sizeof(err)), -EINVAL);
	assert_int_equal(zt_prefix_parse("10.0.0.5/24", &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "did you mean 10.0.0.0/24"));
	assert_int_equal(zt_prefix_parse("10.0.0.0/", &p, err, sizeof(err)), -EINVAL);
	assert_int_equal(zt_prefix_parse("10.0.0.0/x", &p, err, sizeof(err)), -EINVAL);
	assert_int_equal(zt_prefix_parse("", &p, err, sizeof(err)), -EINVAL);
	assert_int_equal(zt_prefix_parse("nas.home.int", &p, err, sizeof(err)), -EINVAL);
}

static void add(struct zt_policy *p, const char *name, const char *addr, const char *tcp,
		int want)
{
	struct zt_resource_def def;

	assert_int_equal(zt_resource_parse(&def, name, addr, tcp, NULL, false, NULL, err,
					   sizeof(err)), 0);
	assert_int_equal(zt_policy_add(p, &def, err, sizeof(err)), want);
}

static void test_policy_add_remove(void **state)
{
	struct zt_resource_def def;
	struct zt_policy p;

	(void)state;
	zt_policy_init(&p);
	add(&p, "web", "198.18.0.2", "80,443", 0);
	add(&p, "db", "198.18.0.3", "5432", 0);
	assert_int_equal(zt_policy_find(&p, "web")->id, 1);
	assert_int_equal(zt_policy_find(&p, "db")->id, 2);

	add(&p, "web", "198.18.0.9", NULL, -EEXIST);
	assert_non_null(strstr(err, "already exists"));
	add(&p, "web2", "198.18.0.2", NULL, -EEXIST);
	assert_non_null(strstr(err, "already resource 'web'"));

	assert_int_equal(zt_policy_remove(&p, "nope", err, sizeof(err)), -ENOENT);
	assert_int_equal(zt_policy_remove(&p, "web", err, sizeof(err)), 0);
	assert_null(zt_policy_find(&p, "web"));
	/* The lowest free id is reused. */
	add(&p, "ssh", "198.18.0.4", "22", 0);
	assert_int_equal(zt_policy_find(&p, "ssh")->id, 1);

	assert_int_equal(zt_resource_parse(&def, "bad name", "1.2.3.4", NULL, NULL, false, NULL,
					   err, sizeof(err)), -EINVAL);
	assert_int_equal(zt_resource_parse(&def, "x", "1.2.3.4", NULL, NULL, false, "bogus",
					   err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "use drop or reject"));
	assert_int_equal(zt_resource_parse(&def, "x", "1.2.3.4", "0", NULL, false, NULL,
					   err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--tcp:"));
	assert_int_equal(zt_resource_parse(&def, "x", "1.2.3.4", NULL, "90-80", false, NULL,
					   err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--udp:"));
	zt_policy_free(&p);
}

static void test_policy_names(void **state)
{
	const struct zt_resource_def *r;
	struct zt_resource_def def;
	struct zt_policy p, q;
	json_object *j;

	(void)state;
	zt_policy_init(&p);
	add(&p, "nas", "NAS.Home.Int.", "22", 0);
	add(&p, "home", "*.home.int", "80", 0);
	add(&p, "deep", "*.lab.home.int", "443", 0);
	add(&p, "web", "198.18.0.2", "80", 0);
	assert_string_equal(zt_policy_find(&p, "nas")->name_pattern, "nas.home.int");
	assert_true(zt_resource_is_name(zt_policy_find(&p, "home")));
	assert_false(zt_resource_is_name(zt_policy_find(&p, "web")));
	/* The same pattern twice is a duplicate, like an address. */
	add(&p, "nas2", "nas.home.int", NULL, -EEXIST);
	assert_non_null(strstr(err, "already resource 'nas'"));

	/* Exact beats wildcard; the longest wildcard wins; the domain itself is not below it. */
	assert_string_equal(zt_policy_match_name(&p, "nas.home.int")->name, "nas");
	assert_string_equal(zt_policy_match_name(&p, "a.b.home.int")->name, "home");
	assert_string_equal(zt_policy_match_name(&p, "x.lab.home.int")->name, "deep");
	assert_string_equal(zt_policy_match_name(&p, "lab.home.int")->name, "home");
	assert_null(zt_policy_match_name(&p, "home.int"));
	assert_null(zt_policy_match_name(&p, "xhome.int"));
	assert_null(zt_policy_match_name(&p, "198.18.0.2"));

	/* Bad names and numbers that are not addresses stay errors. */
	assert_int_equal(zt_resource_parse(&def, "x", "a..b", NULL, NULL, false, NULL, err,
					   sizeof(err)), -EINVAL);
	assert_int_equal(zt_resource_parse(&def, "x", "a.*.b", NULL, NULL, false, NULL, err,
					   sizeof(err)), -EINVAL);
	assert_int_equal(zt_resource_parse(&def, "x", "300.1.1.1", NULL, NULL, false, NULL, err,
					   sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "invalid address"));

	/* JSON keeps the pattern as the address. */
	j = zt_policy_to_json(&p);
	assert_int_equal(zt_policy_from_json(&q, j, err, sizeof(err)), 0);
	json_object_put(j);
	r = zt_policy_find(&q, "home");
	assert_non_null(r);
	assert_string_equal(r->name_pattern, "*.home.int");
	assert_int_equal(r->id, zt_policy_find(&p, "home")->id);
	zt_policy_free(&q);
	zt_policy_free(&p);
}

static void test_policy_port_limit(void **state)
{
	struct zt_policy p;
	char name[16], addr[32];
	int i;

	(void)state;
	zt_policy_init(&p);
	/* Each 1-65534 range expands to 65534 entries; the limit is ZT_MAX_PORT_RULES/2. */
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		snprintf(addr, sizeof(addr), "10.0.0.%d", i + 1);
		add(&p, name, addr, "1-65534", 0);
	}
	add(&p, "one-too-many", "10.0.1.1", "1-65534", -ENOSPC);
	assert_non_null(strstr(err, "use 'all'"));
	add(&p, "all-is-fine", "10.0.1.1", "all", 0);
	zt_policy_free(&p);
}

static void test_policy_json_roundtrip(void **state)
{
	struct zt_policy p, q;
	json_object *o;

	(void)state;
	zt_policy_init(&p);
	add(&p, "web", "198.18.0.2", "80,443,8000-8100", 0);
	add(&p, "net", "2001:db8::/48", "all", 0);
	o = zt_policy_to_json(&p);
	assert_int_equal(zt_policy_from_json(&q, o, err, sizeof(err)), 0);
	json_object_put(o);
	assert_int_equal(q.count, 2);
	assert_memory_equal(q.res, p.res, 2 * sizeof(*p.res));
	zt_policy_free(&q);

	o = json_tokener_parse("{\"resources\":[{\"id\":1,\"name\":\"a\",\"address\":\"10.0.0.0/33\"}]}");
	assert_int_equal(zt_policy_from_json(&q, o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "resources[0]: "));
	json_object_put(o);
	o = json_tokener_parse("{\"resources\":[{\"id\":0,\"name\":\"a\",\"address\":\"10.0.0.1\"}]}");
	assert_int_equal(zt_policy_from_json(&q, o, err, sizeof(err)), -EINVAL);
	json_object_put(o);
	o = json_tokener_parse("[1,2]");
	assert_int_equal(zt_policy_from_json(&q, o, err, sizeof(err)), -EINVAL);
	json_object_put(o);
	zt_policy_free(&p);
}

static json_object *res_json(int id, const char *name, const char *addr)
{
	json_object *r = json_object_new_object();

	json_object_object_add(r, "id", json_object_new_int(id));
	json_object_object_add(r, "name", json_object_new_string(name));
	json_object_object_add(r, "address", json_object_new_string(addr));
	json_object_object_add(r, "tcp", json_object_new_string("80,443"));
	return r;
}

/* A 100,000-resource file loads (sorting, not pairwise checks), and duplicates in a file are found. */
static void test_policy_load_large(void **state)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	struct zt_policy p;
	char name[32], addr[32];
	int i;

	(void)state;
	for (i = 0; i < 100000; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		json_object_array_add(arr, res_json(i + 1, name, addr));
	}
	json_object_object_add(o, "resources", arr);
	assert_int_equal(zt_policy_from_json(&p, o, err, sizeof(err)), 0);
	assert_int_equal(p.count, 100000);
	assert_string_equal(zt_policy_find_id(&p, 77)->name, "r76");
	zt_policy_free(&p);

	json_object_array_add(arr, res_json(120001, "r5", "10.200.0.1"));
	assert_int_equal(zt_policy_from_json(&p, o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'r5' appears twice"));
	json_object_array_del_idx(arr, 100000, 1);
	json_object_array_add(arr, res_json(120000, "other", "::ffff:10.0.0.7"));
	assert_int_equal(zt_policy_from_json(&p, o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "same address"));
	json_object_array_del_idx(arr, 100000, 1);
	json_object_array_add(arr, res_json(3, "dup-id", "10.201.0.1"));
	assert_int_equal(zt_policy_from_json(&p, o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "duplicate id 3"));
	json_object_put(o);
}

static void test_store_save_load(void **state)
{
	char dir[] = "/tmp/zt-unit-XXXXXX", path[256], sub[160];
	struct zt_policy p, q;
	struct stat st;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/state", dir);

	/* Missing file: empty policy. */
	assert_int_equal(zt_store_load(sub, &q, err, sizeof(err)), 0);
	assert_int_equal(q.count, 0);

	zt_policy_init(&p);
	add(&p, "web", "198.18.0.2", "80,443", 0);
	assert_int_equal(zt_store_save(sub, &p, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/policy.json", sub);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(zt_store_load(sub, &q, err, sizeof(err)), 0);
	assert_int_equal(q.count, 1);
	assert_string_equal(q.res[0].name, "web");
	zt_policy_free(&q);

	/* No temp file left behind. */
	snprintf(path, sizeof(path), "%s/.policy.json.tmp", sub);
	assert_int_not_equal(access(path, F_OK), 0);

	/* A corrupt file is an error, not an empty policy. */
	snprintf(path, sizeof(path), "%s/policy.json", sub);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"resources\": [", f);
	fclose(f);
	assert_int_not_equal(zt_store_load(sub, &q, err, sizeof(err)), 0);

	zt_policy_free(&p);
	unlink(path);
	rmdir(sub);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ports_parse),
		cmocka_unit_test(test_ports_errors),
		cmocka_unit_test(test_ports_expanded),
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_addr_errors),
		cmocka_unit_test(test_policy_add_remove),
		cmocka_unit_test(test_policy_names),
		cmocka_unit_test(test_policy_port_limit),
		cmocka_unit_test(test_policy_json_roundtrip),
		cmocka_unit_test(test_policy_load_large),
		cmocka_unit_test(test_store_save_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
