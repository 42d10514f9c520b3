// SPDX-License-Identifier: GPL-2.0-only
/*
 * Keys, locally (no daemon): `keygen` writes a new X25519 private key
 * (mode 0600, never over an existing file) and prints its public key;
 * `pubkey` derives the public key of a key file or of stdin.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/mem.h>

#include "cli/command.h"
#include "cli/handlers.h"
#include "cli/output.h"
#include "tunnel/keys.h"
#include "tunnel/noise.h"

int cmd_keygen(struct cli *c, const struct cli_args *a)
{
	const char *out = cli_arg(a, "out");
	uint8_t pub[ZT_KEY_LEN];
	char text[ZT_KEY_B64_LEN + 1], err[512];

	if (zt_key_generate_file(out, pub, err, sizeof(err)))
		return cli_fail("%s", err);
	zt_key_to_base64(pub, text);
	if (c->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "private_key_file", json_object_new_string(out));
		json_object_object_add(o, "public_key", json_object_new_string(text));
		cli_print_json(o);
		json_object_put(o);
	} else {
		puts(text);
	}
	return 0;
}

int cmd_pubkey(struct cli *c, const struct cli_args *a)
{
	uint8_t priv[ZT_KEY_LEN], pub[ZT_KEY_LEN];
	char text[ZT_KEY_B64_LEN + 1], err[512], buf[ZT_KEY_B64_LEN + 8];
	size_t len = 0;
	int ret;

	if (a->npos) {
		ret = zt_key_load_private(a->pos[0], priv, err, sizeof(err));
	} else {
		/* Like `wg pubkey`: the key comes in on stdin (a pipe has no mode to check). */
		while (len < sizeof(buf)) {
			ssize_t r = read(0, buf + len, sizeof(buf) - len);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			len += (size_t)r;
		}
		ret = zt_key_parse_private(buf, len, priv, err, sizeof(err));
		OPENSSL_cleanse(buf, sizeof(buf));
	}
	if (ret)
		return cli_fail("%s", err);
	zt_noise_public_key(pub, priv);
	OPENSSL_cleanse(priv, sizeof(priv));
	zt_key_to_base64(pub, text);
	if (c->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "public_key", json_object_new_string(text));
		cli_print_json(o);
		json_object_put(o);
	} else {
		puts(text);
	}
	return 0;
}
