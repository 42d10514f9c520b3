// SPDX-License-Identifier: GPL-2.0-only
/* The node <-> controller messages (msg.h): builders, field readers, the view hash. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "controlplane/msg.h"

void zt_cp_view_hash_text(const char *text, size_t len, char out[ZT_CP_HASH_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t md[SHA256_DIGEST_LENGTH];

	SHA256((const uint8_t *)text, len, md);
	for (size_t i = 0; i < sizeof(md); i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * sizeof(md)] = '\0';
}

void zt_cp_view_hash(json_object *view, char out[ZT_CP_HASH_HEX_LEN + 1])
{
	const char *text = json_object_to_json_string_ext(view, JSON_C_TO_STRING_PLAIN);

	zt_cp_view_hash_text(text, strlen(text), out);
}

char *zt_cp_msg_view_text(uint64_t rev, const char *hash, const char *sig, const char *view,
			  size_t len, size_t *out_len)
{
	char head[256];
	/* HASH is hex, SIG base64: nothing in them needs escaping. */
	int h = snprintf(head, sizeof(head),
			 "{\"type\":\"view\",\"rev\":%llu,\"hash\":\"%s\",%s%s%s\"view\":",
			 (unsigned long long)rev, hash, sig ? "\"sig\":\"" : "", sig ? sig : "",
			 sig ? "\"," : "");
	char *m;

	if (h < 0 || (size_t)h >= sizeof(head))
		return NULL;
	m = malloc((size_t)h + len + 2);
	if (!m)
		return NULL;
	memcpy(m, head, (size_t)h);
	memcpy(m + h, view, len);
	m[(size_t)h + len] = '}';
	m[(size_t)h + len + 1] = '\0';
	*out_len = (size_t)h + len + 1;
	return m;
}

static json_object *typed(const char *type, uint64_t rev, const char *hash)
{
	json_object *m = json_object_new_object();

	json_object_object_add(m, "type", json_object_new_string(type));
	json_object_object_add(m, "rev", json_object_new_int64((int64_t)rev));
	if (hash)
		json_object_object_add(m, "hash", json_object_new_string(hash));
	return m;
}

json_object *zt_cp_msg_view(uint64_t rev, const char *hash, json_object *view)
{
	json_object *m = typed("view", rev, hash);

	json_object_object_add(m, "view", view);
	return m;
}

json_object *zt_cp_msg_view_delta(uint64_t rev, const char *base, const char *hash,
				  const char *sig, json_object *edits)
{
	json_object *m = typed("view_delta", rev, hash);

	json_object_object_add(m, "base", json_object_new_string(base));
	json_object_object_add(m, "sig", json_object_new_string(sig));
	json_object_object_add(m, "edits", edits);
	return m;
}

json_object *zt_cp_msg_applied(uint64_t rev, const char *hash)
{
	return typed("applied", rev, hash);
}

const char *zt_cp_msg_str(json_object *msg, const char *field)
{
	json_object *v;

	if (!json_object_object_get_ex(msg, field, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

const char *zt_cp_msg_type(json_object *msg)
{
	return zt_cp_msg_str(msg, "type");
}

int zt_cp_msg_u64(json_object *msg, const char *field, uint64_t *out)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(msg, field, &v) || !json_object_is_type(v, json_type_int))
		return -EINVAL;
	n = json_object_get_int64(v);
	if (n < 0)
		return -EINVAL;
	*out = (uint64_t)n;
	return 0;
}
