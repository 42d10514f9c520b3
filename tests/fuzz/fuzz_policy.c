// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the parsers that take outside bytes in this role:
 * a control-socket line (framing + JSON request), a policy file, and the
 * port-list and address grammars inside them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_io.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct zt_line_buf buf;
	struct zt_resource_def def;
	struct zt_port_list ports;
	struct zt_prefix prefix;
	struct zt_policy p;
	char err[512], *line, *text;
	json_object *o;

	/* Framing: feed the bytes as a socket read would, take every line. */
	buf.len = buf.consumed = 0;
	memcpy(buf.data, data, size < sizeof(buf.data) ? size : sizeof(buf.data));
	buf.len = size < sizeof(buf.data) ? size : sizeof(buf.data);
	while (zt_line_take(&buf, &line) == 1) {
		o = zt_json_parse_object(line);
		if (!o)
			continue;
		if (!zt_policy_from_json(&p, o, err, sizeof(err)))
			zt_policy_free(&p);
		json_object_put(o);
	}

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	zt_ports_parse(text, &ports, err, sizeof(err));
	zt_prefix_parse(text, &prefix, err, sizeof(err));
	zt_resource_parse(&def, "fuzz", text, text, text, true, text, err, sizeof(err));
	free(text);
	return 0;
}
