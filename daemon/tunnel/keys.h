/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * X25519 keys as people handle them: 32 bytes in standard base64 with
 * padding (44 characters, as WireGuard writes them), and private key files
 * that only their owner can read.
 *
 * Parsing is strict: exactly one canonical encoding of exactly 32 bytes
 * (re-encoding must give back the same text), so two spellings of one key
 * cannot pass a uniqueness check. Every error is one line in ERR; functions
 * return 0 or -errno.
 */
#ifndef ZT_KEYS_H
#define ZT_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define ZT_KEY_LEN	32
#define ZT_KEY_B64_LEN	44	/* base64 of 32 bytes, with its one '=' */

/* KEY in base64 into OUT (ZT_KEY_B64_LEN characters and a NUL). */
void zt_key_to_base64(const uint8_t key[ZT_KEY_LEN], char out[ZT_KEY_B64_LEN + 1]);

/*
 * TEXT (NUL-terminated, nothing around it) to KEY. -EINVAL with a reason
 * ("not base64", "decodes to 31 bytes, a key is 32") otherwise.
 */
int zt_key_from_base64(const char *text, uint8_t key[ZT_KEY_LEN], char *err, size_t errlen);

/*
 * A private key as found in a file or on stdin: the base64 text, optionally
 * followed by one newline. BUF need not be NUL-terminated.
 */
int zt_key_parse_private(const char *buf, size_t len, uint8_t priv[ZT_KEY_LEN], char *err,
			 size_t errlen);

/*
 * Read the private key file PATH. Refused (-EACCES) when the file is
 * readable or writable by group or others, as a key anyone else can read is
 * no longer private (chmod 600 fixes it); -EINVAL if it is not a regular
 * file or does not hold one key. PRIV is written only on success.
 */
int zt_key_load_private(const char *path, uint8_t priv[ZT_KEY_LEN], char *err, size_t errlen);

/*
 * Create PATH with mode 0600 holding PRIV in base64 and a newline. Never
 * replaces a file (-EEXIST: a key overwritten by mistake is an identity
 * lost); on a write error the partial file is removed.
 */
int zt_key_write_private(const char *path, const uint8_t priv[ZT_KEY_LEN], char *err,
			 size_t errlen);

/*
 * `ztgate keygen`: a new X25519 key pair, the private key written to PATH
 * as zt_key_write_private() does, its public key in PUB.
 */
int zt_key_generate_file(const char *path, uint8_t pub[ZT_KEY_LEN], char *err, size_t errlen);

#endif
