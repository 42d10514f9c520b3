// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests: the bind and bind-ack codec (daemon/forward/bind_msg.c), what the connector refuses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <arpa/inet.h>

#include "forward/bind_msg.h"

/* A bind for 100.96.0.5 naming the LEN bytes of NAME, its length byte NLEN; its size. */
static size_t raw_bind(uint8_t *out, const char *name, size_t len, uint8_t nlen)
{
	out[0] = ZT_CTRL_BIND;
	out[1] = 100, out[2] = 96, out[3] = 0, out[4] = 5;
	out[5] = nlen;
	memcpy(out + 6, name, len);
	return 6 + len;
}

static void test_bind_roundtrip(void **state)
{
	uint8_t msg[ZT_BIND_MSG_MAX], out[ZT_BIND_MSG_MAX];
	struct zt_bind_msg m;
	size_t n = raw_bind(msg, "db.corp.internal", 16, 16);

	(void)state;
	assert_int_equal(zt_bind_parse(msg, n, &m), 0);
	assert_string_equal(m.name, "db.corp.internal");
	assert_int_equal(m.fake.s_addr, inet_addr("100.96.0.5"));
	assert_int_equal(zt_bind_encode(m.fake, m.name, out, sizeof(out)), n);
	assert_memory_equal(out, msg, n);
}

static void test_bind_refused(void **state)
{
	static const struct { const char *name; size_t len; int nlen; } bad[] = {
		{ "db.corp\0internal", 16, 16 },	/* a NUL inside: was read as "db.corp" */
		{ "DB.corp.internal", 16, 16 },		/* not in normal form */
		{ "*.corp.internal", 15, 15 },		/* a wildcard */
		{ "db.corp.internal", 16, 17 },		/* length byte past the end */
		{ "db.corp.internal", 16, 15 },		/* trailing bytes */
		{ "", 0, 0 },				/* empty */
	};
	uint8_t msg[ZT_BIND_MSG_MAX];
	struct zt_bind_msg m;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = raw_bind(msg, bad[i].name, bad[i].len, (uint8_t)bad[i].nlen);

		assert_int_equal(zt_bind_parse(msg, n, &m), -EINVAL);
	}
	assert_int_equal(zt_bind_parse(msg, 5, &m), -EINVAL);		/* shorter than the header */
	msg[0] = ZT_CTRL_BIND_ACK;
	assert_int_equal(zt_bind_parse(msg, 6, &m), -EINVAL);		/* another type */
}

static void test_ack(void **state)
{
	uint8_t msg[ZT_BIND_ACK_LEN + 1];
	struct zt_bind_ack_msg a;
	struct in_addr fake = { .s_addr = inet_addr("100.96.0.9") };

	(void)state;
	zt_bind_ack_encode(fake, ZT_BIND_DENIED, msg);
	assert_int_equal(zt_bind_ack_parse(msg, ZT_BIND_ACK_LEN, &a), 0);
	assert_int_equal(a.fake.s_addr, fake.s_addr);
	assert_int_equal(a.status, ZT_BIND_DENIED);
	assert_int_equal(zt_bind_ack_parse(msg, ZT_BIND_ACK_LEN - 1, &a), -EINVAL);
	assert_int_equal(zt_bind_ack_parse(msg, ZT_BIND_ACK_LEN + 1, &a), -EINVAL);
	msg[0] = ZT_CTRL_BIND;
	assert_int_equal(zt_bind_ack_parse(msg, ZT_BIND_ACK_LEN, &a), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bind_roundtrip),
		cmocka_unit_test(test_bind_refused),
		cmocka_unit_test(test_ack),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
