/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Enrollment tokens: what `ztgate admin connector add` and `ztgate admin
 * device token` print and what `ztgated connector|client --token` takes.
 *
 * A token carries the controller's static public key (the node pins it: the
 * Noise IK handshake to the controller fails against any other key) and a
 * random 32-byte secret. Text form: "ztgt1_" + base64url without padding of
 * (public key || secret): 6 + 86 characters, safe in a shell and a URL.
 * The controller stores only zt_token_secret_hash() of the secret; the node
 * sends the secret inside Noise message 1 (encrypted to the controller's
 * key), once, at enrollment.
 *
 * Callers: daemon/controller/ (creating tokens, checking hashes),
 * daemon/agent/ (decoding --token), tests/unit/test_token.c.
 */
#ifndef ZT_CONTROLPLANE_TOKEN_H
#define ZT_CONTROLPLANE_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "tunnel/keys.h"

#define ZT_TOKEN_PREFIX		"ztgt1_"
#define ZT_TOKEN_SECRET_LEN	32
/* Prefix + base64url(64 bytes) without padding (86) + NUL. */
#define ZT_TOKEN_TEXT_LEN	(sizeof(ZT_TOKEN_PREFIX) - 1 + 86)
#define ZT_TOKEN_HASH_HEX_LEN	64	/* SHA-256 in lower-case hex */

struct zt_token {
	uint8_t controller_pub[ZT_KEY_LEN];
	uint8_t secret[ZT_TOKEN_SECRET_LEN];
};

/* A fresh token for CONTROLLER_PUB: a random secret. 0 or -EIO (no randomness). */
int zt_token_new(struct zt_token *t, const uint8_t controller_pub[ZT_KEY_LEN]);

/* T as text into OUT (ZT_TOKEN_TEXT_LEN + 1 bytes). */
void zt_token_encode(const struct zt_token *t, char out[ZT_TOKEN_TEXT_LEN + 1]);

/*
 * TEXT (surrounding whitespace allowed, e.g. a token pasted from a file) to
 * T. -EINVAL with one line in ERR: "not a ztgate token (expected ztgt1_...)",
 * "token is truncated or corrupted".
 */
int zt_token_decode(const char *text, struct zt_token *t, char *err, size_t errlen);

/* SHA-256 of SECRET in hex: what the controller stores and compares. */
void zt_token_secret_hash(const uint8_t secret[ZT_TOKEN_SECRET_LEN],
			  char out[ZT_TOKEN_HASH_HEX_LEN + 1]);

/*
 * API keys (`ztgate admin api-key add`) share the form with another
 * prefix: "ztak1_" + base64url(controller public key || 32-byte secret).
 * The admin CLI takes the controller's key from it (so --controller-key
 * is optional) and sends the secret in Noise message 1 of an "admin"
 * hello; the controller stores only zt_token_secret_hash() of it.
 */
#define ZT_APIKEY_PREFIX	"ztak1_"
#define ZT_APIKEY_TEXT_LEN	(sizeof(ZT_APIKEY_PREFIX) - 1 + 86)

void zt_apikey_encode(const struct zt_token *t, char out[ZT_APIKEY_TEXT_LEN + 1]);
/* As zt_token_decode: "not a ztgate API key (expected ztak1_...)", "API key is truncated or corrupted". */
int zt_apikey_decode(const char *text, struct zt_token *t, char *err, size_t errlen);

/* Wipe T's secret. */
void zt_token_wipe(struct zt_token *t);

#endif
