// SPDX-License-Identifier: GPL-2.0-only
/*
 * Enrollment tokens (token.h): encoding, decoding, the stored hash. The
 * base64 is BoringSSL's; only the URL-safe alphabet swap is ours.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/base64.h>
#include <openssl/mem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "controlplane/token.h"

#define TOKEN_RAW_LEN	(ZT_KEY_LEN + ZT_TOKEN_SECRET_LEN)
#define TOKEN_B64_LEN	88	/* standard base64 of 64 bytes, with "==" */

int zt_token_new(struct zt_token *t, const uint8_t controller_pub[ZT_KEY_LEN])
{
	memcpy(t->controller_pub, controller_pub, ZT_KEY_LEN);
	return RAND_bytes(t->secret, sizeof(t->secret)) == 1 ? 0 : -EIO;
}

/* T as PREFIX + base64url(public key || secret). */
static void encode_as(const char *prefix, const struct zt_token *t, char *out)
{
	uint8_t raw[TOKEN_RAW_LEN];
	char b64[TOKEN_B64_LEN + 1];
	size_t plen = strlen(prefix), i;

	memcpy(raw, t->controller_pub, ZT_KEY_LEN);
	memcpy(raw + ZT_KEY_LEN, t->secret, ZT_TOKEN_SECRET_LEN);
	EVP_EncodeBlock((uint8_t *)b64, raw, sizeof(raw));
	OPENSSL_cleanse(raw, sizeof(raw));
	memcpy(out, prefix, plen);
	for (i = 0; i < TOKEN_B64_LEN && b64[i] != '='; i++)
		out[plen + i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	out[plen + i] = '\0';
	OPENSSL_cleanse(b64, sizeof(b64));
}

void zt_token_encode(const struct zt_token *t, char out[ZT_TOKEN_TEXT_LEN + 1])
{
	encode_as(ZT_TOKEN_PREFIX, t, out);
}

void zt_apikey_encode(const struct zt_token *t, char out[ZT_APIKEY_TEXT_LEN + 1])
{
	encode_as(ZT_APIKEY_PREFIX, t, out);
}

/* The URL-safe body BODY (LEN characters) back to standard base64 in B64. */
static int body_to_b64(const char *body, size_t len, char b64[TOKEN_B64_LEN + 1])
{
	size_t i;

	if (len != TOKEN_B64_LEN - 2)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		char c = body[i];

		if (c == '+' || c == '/' || c == '=')	/* only the URL-safe spelling is a token */
			return -EINVAL;
		b64[i] = c == '-' ? '+' : c == '_' ? '/' : c;
	}
	b64[len] = '=';
	b64[len + 1] = '=';
	b64[len + 2] = '\0';
	return 0;
}

/* PREFIX's form of TEXT into T; WHAT names it in ERR ("token", "API key"). */
static int decode_as(const char *prefix, const char *what, const char *text, struct zt_token *t,
		     char *err, size_t errlen)
{
	size_t plen = strlen(prefix), len, out_len = 0;
	uint8_t raw[TOKEN_RAW_LEN + 3];
	char b64[TOKEN_B64_LEN + 1];
	int ret = -EINVAL;

	while (isspace((unsigned char)*text))
		text++;
	len = strlen(text);
	while (len && isspace((unsigned char)text[len - 1]))
		len--;
	if (len < plen || strncmp(text, prefix, plen)) {
		snprintf(err, errlen, "not a ztgate %s (expected %s...)", what, prefix);
		return -EINVAL;
	}
	if (body_to_b64(text + plen, len - plen, b64) ||
	    !EVP_DecodeBase64(raw, &out_len, sizeof(raw), (const uint8_t *)b64, TOKEN_B64_LEN) ||
	    out_len != TOKEN_RAW_LEN) {
		snprintf(err, errlen, "%s is truncated or corrupted", what);
		goto out;
	}
	memcpy(t->controller_pub, raw, ZT_KEY_LEN);
	memcpy(t->secret, raw + ZT_KEY_LEN, ZT_TOKEN_SECRET_LEN);
	ret = 0;
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(b64, sizeof(b64));
	return ret;
}

int zt_token_decode(const char *text, struct zt_token *t, char *err, size_t errlen)
{
	return decode_as(ZT_TOKEN_PREFIX, "token", text, t, err, errlen);
}

int zt_apikey_decode(const char *text, struct zt_token *t, char *err, size_t errlen)
{
	return decode_as(ZT_APIKEY_PREFIX, "API key", text, t, err, errlen);
}

void zt_token_secret_hash(const uint8_t secret[ZT_TOKEN_SECRET_LEN],
			  char out[ZT_TOKEN_HASH_HEX_LEN + 1])
{
	uint8_t md[SHA256_DIGEST_LENGTH];
	size_t i;

	SHA256(secret, ZT_TOKEN_SECRET_LEN, md);
	for (i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void zt_token_wipe(struct zt_token *t)
{
	OPENSSL_cleanse(t->secret, sizeof(t->secret));
}
