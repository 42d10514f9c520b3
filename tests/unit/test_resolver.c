// SPDX-License-Identifier: GPL-2.0-only
/* Split-DNS domains handed to systemd-resolved: routing-only, never "~.". */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dns/resolved.h"

static void add(struct zt_policy *p, const char *name, const char *addr)
{
	struct zt_resource_def def;
	char err[256];

	assert_int_equal(zt_resource_parse(&def, name, addr, "80", NULL, false, NULL, err,
					   sizeof(err)), 0);
	assert_int_equal(zt_policy_add(p, &def, err, sizeof(err)), 0);
}

static void test_domains(void **state)
{
	struct zt_policy p;
	char buf[256];

	(void)state;
	zt_policy_init(&p);
	assert_int_equal(zt_resolver_domains(&p, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");

	add(&p, "nas", "nas.home.int");
	add(&p, "ip", "198.18.0.2");
	add(&p, "home", "*.home.int");
	add(&p, "lab", "*.Lab.Example");
	add(&p, "net", "10.0.0.0/8");
	assert_int_equal(zt_resolver_domains(&p, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "~nas.home.int ~home.int ~lab.example");
	assert_null(strstr(buf, "~."));

	/* A second wildcard over the same domain adds nothing. */
	add(&p, "home2", "home.int");
	assert_int_equal(zt_resolver_domains(&p, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "~nas.home.int ~home.int ~lab.example");

	assert_int_equal(zt_resolver_domains(&p, buf, 10), -ENOSPC);
	zt_policy_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
