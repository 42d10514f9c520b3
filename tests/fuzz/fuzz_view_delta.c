// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for view deltas (daemon/controlplane/delta.c): the edits
 * a node applies come from the controller over the authenticated session,
 * but a node must never crash or write out of bounds on them.
 *
 * The input is BASE, a NUL byte, and a JSON text taken as the edits.
 * Invariants: edits that apply give a text of at most 16 MiB; and for any
 * BASE and any text T (the result, or the input's tail when the edits do
 * not apply), the delta made from BASE to T applies back to exactly T.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controlplane/delta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void round_trip(const char *base, size_t blen, const char *t, size_t tlen)
{
	json_object *e;
	size_t esize, len;
	char *out = NULL;

	e = zt_cp_delta_make(base, blen, t, tlen, (size_t)-1, &esize);
	check(e != NULL);
	check(zt_cp_delta_apply(base, blen, e, &out, &len) == 0);
	check(len == tlen && !memcmp(out, t, tlen));
	free(out);
	json_object_put(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t blen = nul ? (size_t)(nul - data) : size, rest = nul ? size - blen - 1 : 0;
	const char *base = (const char *)data, *tail = nul ? (const char *)nul + 1 : "";
	struct json_tokener *tok = json_tokener_new();
	json_object *edits = tok ? json_tokener_parse_ex(tok, tail, (int)rest) : NULL;
	char *out = NULL;
	size_t len;

	if (edits && !zt_cp_delta_apply(base, blen, edits, &out, &len)) {
		check(len <= (16u << 20) && out[len] == '\0');
		round_trip(base, blen, out, len);
		free(out);
	} else {
		round_trip(base, blen, tail, rest);
	}
	json_object_put(edits);
	if (tok)
		json_tokener_free(tok);
	return 0;
}
