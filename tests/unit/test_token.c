// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests: enrollment tokens (controlplane/token.h): round trip, the
 * text form's length and alphabet, whitespace around a pasted token,
 * refusal of other prefixes, truncation, corruption and the standard
 * base64 alphabet, and the stored hash.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "controlplane/token.h"

static void make(struct zt_token *t, char text[ZT_TOKEN_TEXT_LEN + 1])
{
	uint8_t pub[ZT_KEY_LEN];

	for (int i = 0; i < ZT_KEY_LEN; i++)
		pub[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(zt_token_new(t, pub), 0);
	zt_token_encode(t, text);
}

static void test_round_trip(void **state)
{
	char text[ZT_TOKEN_TEXT_LEN + 1], padded[ZT_TOKEN_TEXT_LEN + 8], err[128];
	struct zt_token t, u;

	(void)state;
	make(&t, text);
	assert_int_equal(strlen(text), ZT_TOKEN_TEXT_LEN);
	assert_int_equal(strncmp(text, ZT_TOKEN_PREFIX, strlen(ZT_TOKEN_PREFIX)), 0);
	for (size_t i = 0; i < strlen(text); i++)
		assert_true(strchr("+/=", text[i]) == NULL);
	assert_int_equal(zt_token_decode(text, &u, err, sizeof(err)), 0);
	assert_memory_equal(&t, &u, sizeof(t));
	snprintf(padded, sizeof(padded), "  %s\n", text);
	memset(&u, 0, sizeof(u));
	assert_int_equal(zt_token_decode(padded, &u, err, sizeof(err)), 0);
	assert_memory_equal(&t, &u, sizeof(t));
	zt_token_wipe(&u);
	for (size_t i = 0; i < sizeof(u.secret); i++)
		assert_int_equal(u.secret[i], 0);
}

static void test_refused(void **state)
{
	char text[ZT_TOKEN_TEXT_LEN + 1], bad[ZT_TOKEN_TEXT_LEN + 8], err[128];
	struct zt_token t, u;

	(void)state;
	make(&t, text);
	assert_int_equal(zt_token_decode("hello", &u, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "not a ztgate token (expected ztgt1_...)");
	assert_int_equal(zt_token_decode("", &u, err, sizeof(err)), -EINVAL);
	snprintf(bad, sizeof(bad), "ztgt2_%s", text + 6);
	assert_int_equal(zt_token_decode(bad, &u, err, sizeof(err)), -EINVAL);
	/* Truncated, or one character more. */
	snprintf(bad, sizeof(bad), "%.*s", (int)ZT_TOKEN_TEXT_LEN - 1, text);
	assert_int_equal(zt_token_decode(bad, &u, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "token is truncated or corrupted");
	snprintf(bad, sizeof(bad), "%sA", text);
	assert_int_equal(zt_token_decode(bad, &u, err, sizeof(err)), -EINVAL);
	/* Characters outside the URL-safe alphabet. */
	snprintf(bad, sizeof(bad), "%s", text);
	bad[10] = '+';
	assert_int_equal(zt_token_decode(bad, &u, err, sizeof(err)), -EINVAL);
	bad[10] = '!';
	assert_int_equal(zt_token_decode(bad, &u, err, sizeof(err)), -EINVAL);
	bad[10] = ' ';
	assert_int_equal(zt_token_decode(bad, &u, err, sizeof(err)), -EINVAL);
}

static void test_hash(void **state)
{
	uint8_t secret[ZT_TOKEN_SECRET_LEN] = { 0 };
	char h[ZT_TOKEN_HASH_HEX_LEN + 1], h2[ZT_TOKEN_HASH_HEX_LEN + 1];

	(void)state;
	zt_token_secret_hash(secret, h);
	/* SHA-256 of 32 zero bytes. */
	assert_string_equal(h, "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925");
	secret[31] = 1;
	zt_token_secret_hash(secret, h2);
	assert_string_not_equal(h, h2);
	assert_int_equal(strlen(h2), ZT_TOKEN_HASH_HEX_LEN);
}

static void test_fresh_secrets(void **state)
{
	char a[ZT_TOKEN_TEXT_LEN + 1], b[ZT_TOKEN_TEXT_LEN + 1];
	struct zt_token t, u;

	(void)state;
	make(&t, a);
	make(&u, b);
	assert_memory_equal(t.controller_pub, u.controller_pub, ZT_KEY_LEN);
	assert_memory_not_equal(t.secret, u.secret, ZT_TOKEN_SECRET_LEN);
	assert_string_not_equal(a, b);
}

/* API keys: the same form under "ztak1_"; neither form passes for the other. */
static void test_api_keys(void **state)
{
	char tok[ZT_TOKEN_TEXT_LEN + 1], key[ZT_APIKEY_TEXT_LEN + 1], err[128];
	struct zt_token t, u;

	(void)state;
	make(&t, tok);
	zt_apikey_encode(&t, key);
	assert_int_equal(strlen(key), ZT_APIKEY_TEXT_LEN);
	assert_int_equal(strncmp(key, ZT_APIKEY_PREFIX, strlen(ZT_APIKEY_PREFIX)), 0);
	assert_int_equal(zt_apikey_decode(key, &u, err, sizeof(err)), 0);
	assert_memory_equal(t.secret, u.secret, ZT_TOKEN_SECRET_LEN);
	assert_memory_equal(t.controller_pub, u.controller_pub, ZT_KEY_LEN);
	assert_int_equal(zt_apikey_decode(tok, &u, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a ztgate API key"));
	assert_int_equal(zt_token_decode(key, &u, err, sizeof(err)), -EINVAL);
	key[20] = '\0';
	assert_int_equal(zt_apikey_decode(key, &u, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "API key is truncated or corrupted"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_fresh_secrets),
		cmocka_unit_test(test_api_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
