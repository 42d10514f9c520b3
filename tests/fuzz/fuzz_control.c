// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the control socket (daemon/core/control.c and
 * policy_cmds.c): the input is what a client writes to the socket, a
 * stream of JSON lines, cut into reads of fuzzed sizes.
 *
 * Every line goes through the line buffer (zt_line_space/zt_line_take)
 * and zt_json_parse_object, then, by its "cmd", through what the policy
 * commands do with their arguments, on a policy kept across the lines of
 * one input (the daemon's, without the maps): resource.add
 * (zt_resource_parse, zt_resource_set_connector, zt_policy_add), .rm;
 * device.add (zt_device_parse, zt_policy_device_add), .rm; connector.add
 * (zt_connector_parse, zt_policy_connector_add), .rm; grant.add, .rm;
 * policy.apply (zt_policy_from_doc with the current policy as PREV, then
 * zt_policy_diff). Arguments are read as zt_ctl_str reads them (strings
 * only). Invariants: every line the buffer hands out is the text between
 * two newlines, none longer than the input; after each change, the
 * policy's own document reads back (zt_policy_from_doc) into a policy
 * with no difference from it, and a policy differs from itself in
 * nothing.
 *
 * Read sizes: the first byte of the input seeds them (1..256 bytes per
 * read; 0: everything at once).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json_io.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static const char *arg(json_object *req, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(req, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The policy's document reads back as itself. */
static void check_roundtrip(const struct zt_policy *p)
{
	json_object *doc = zt_policy_to_json(p), *diff;
	struct zt_policy back;
	char err[512];

	check(doc != NULL);
	check(zt_policy_from_doc(&back, doc, p, err, sizeof(err)) == 0);
	diff = zt_policy_diff(p, &back);
	check(diff && json_object_array_length(diff) == 0);
	json_object_put(diff);
	zt_policy_free(&back);
	json_object_put(doc);
}

/* Apply one request to *CUR the way its command would; true if it changed. */
static bool apply(struct zt_policy *cur, json_object *req)
{
	const char *cmd = arg(req, "cmd");
	struct zt_policy next;
	char err[512];
	int ret = -1;

	if (!cmd)
		return false;
	if (zt_policy_copy(&next, cur))
		return false;
	if (!strcmp(cmd, "resource.add")) {
		struct zt_resource_def def;
		json_object *v;
		bool icmp = json_object_object_get_ex(req, "icmp", &v) &&
			    json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);

		ret = zt_resource_parse(&def, arg(req, "name"), arg(req, "address"), arg(req, "tcp"),
					arg(req, "udp"), icmp, arg(req, "deny_mode"), err,
					sizeof(err));
		if (!ret)
			ret = zt_resource_set_connector(&def, arg(req, "connector"), err, sizeof(err));
		if (!ret)
			ret = zt_policy_add(&next, &def, err, sizeof(err));
	} else if (!strcmp(cmd, "resource.rm") && arg(req, "name")) {
		ret = zt_policy_remove(&next, arg(req, "name"), err, sizeof(err));
	} else if (!strcmp(cmd, "device.add")) {
		struct zt_device_def def;

		ret = zt_device_parse(&def, arg(req, "name"), arg(req, "pubkey"), arg(req, "address"),
				      err, sizeof(err));
		if (!ret)
			ret = zt_policy_device_add(&next, &def, err, sizeof(err));
	} else if (!strcmp(cmd, "device.rm") && arg(req, "name")) {
		ret = zt_policy_device_remove(&next, arg(req, "name"), err, sizeof(err));
	} else if (!strcmp(cmd, "connector.add")) {
		struct zt_connector_def def;

		ret = zt_connector_parse(&def, arg(req, "name"), arg(req, "pubkey"),
					 arg(req, "endpoint"), err, sizeof(err));
		if (!ret)
			ret = zt_policy_connector_add(&next, &def, err, sizeof(err));
	} else if (!strcmp(cmd, "connector.rm") && arg(req, "name")) {
		ret = zt_policy_connector_remove(&next, arg(req, "name"), err, sizeof(err));
	} else if ((!strcmp(cmd, "grant.add") || !strcmp(cmd, "grant.rm")) &&
		   arg(req, "device") && arg(req, "resource")) {
		ret = cmd[6] == 'a' ?
			zt_policy_grant_add(&next, arg(req, "device"), arg(req, "resource"), err,
					    sizeof(err)) :
			zt_policy_grant_remove(&next, arg(req, "device"), arg(req, "resource"), err,
					       sizeof(err));
	} else if (!strcmp(cmd, "policy.apply")) {
		json_object *doc, *diff;

		if (json_object_object_get_ex(req, "policy", &doc)) {
			zt_policy_free(&next);
			ret = zt_policy_from_doc(&next, doc, cur, err, sizeof(err));
			if (!ret) {
				diff = zt_policy_diff(cur, &next);
				check(diff != NULL);
				json_object_put(diff);
			}
			if (ret)
				return false;	/* NEXT was freed on error */
		}
	}
	if (ret) {
		zt_policy_free(&next);
		return false;
	}
	zt_policy_free(cur);
	*cur = next;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zt_line_buf buf = { 0 };
	struct zt_policy policy;
	uint32_t rnd;
	size_t off, chunk;
	char *line;

	if (!size)
		return 0;
	rnd = data[0];
	chunk = data[0];
	data++, size--;
	zt_policy_init(&policy);
	for (off = 0; off < size;) {
		size_t avail, n;
		char *space = zt_line_space(&buf, &avail);

		if (!space)
			break;
		if (chunk) {
			rnd = rnd * 1103515245u + 12345u;
			n = 1 + (rnd >> 16) % 256;
		} else {
			n = size - off;
		}
		if (n > size - off)
			n = size - off;
		if (n > avail)
			n = avail;
		memcpy(space, data + off, n);
		buf.len += n;
		off += n;
		while (zt_line_take(&buf, &line) == 1) {
			size_t llen = strlen(line);
			json_object *o;

			check(llen <= size && !memchr(line, '\n', llen));
			o = zt_json_parse_object(line);
			if (!o)
				continue;
			if (apply(&policy, o))
				check_roundtrip(&policy);
			json_object_put(o);
		}
	}
	zt_policy_free(&policy);
	zt_line_buf_free(&buf);
	return 0;
}
