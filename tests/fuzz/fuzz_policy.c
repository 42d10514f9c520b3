// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the parsers that take outside bytes in this role:
 * a control-socket line (framing + JSON request), a policy document (and
 * its diff against itself, which must be empty), and the port-list,
 * address, endpoint and key grammars inside them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json_io.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct zt_line_buf buf;
	struct zt_resource_def def;
	struct zt_port_list ports;
	struct zt_prefix prefix;
	struct zt_endpoint ep;
	uint8_t key[ZT_KEY_LEN];
	struct zt_policy p;
	char err[512], *line, *text;
	json_object *o;
	size_t off;

	/* Framing: feed the bytes as socket reads would, take every line. */
	buf.len = buf.consumed = buf.scanned = 0;
	for (off = 0; off < size;) {
		size_t avail, n;
		char *space = zt_line_space(&buf, &avail);

		if (!space)
			break;
		n = size - off < avail ? size - off : avail;
		memcpy(space, data + off, n);
		buf.len += n;
		off += n;
		while (zt_line_take(&buf, &line) == 1) {
			o = zt_json_parse_object(line);
			if (!o)
				continue;
			if (!zt_policy_from_json(&p, o, err, sizeof(err))) {
				json_object *diff = zt_policy_diff(&p, &p);

				/* A policy differs from itself in nothing. */
				if (diff && json_object_array_length(diff))
					abort();
				json_object_put(diff);
				zt_policy_free(&p);
			}
			json_object_put(o);
		}
	}
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	zt_ports_parse(text, &ports, err, sizeof(err));
	zt_prefix_parse(text, &prefix, err, sizeof(err));
	zt_resource_parse(&def, "fuzz", text, text, text, true, text, err, sizeof(err));
	zt_endpoint_parse(text, &ep, err, sizeof(err));
	zt_key_from_base64(text, key, err, sizeof(err));
	zt_key_parse_private(text, size, key, err, sizeof(err));
	free(text);
	return 0;
}
