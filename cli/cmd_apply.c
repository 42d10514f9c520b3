// SPDX-License-Identifier: GPL-2.0-only
/*
 * The whole policy as one document: `apply -f FILE` replaces it (validated
 * whole by the daemon, swapped in atomically, or nothing; --dry-run lists
 * the changes only) and `export` prints it as apply reads it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/command.h"
#include "cli/handlers.h"
#include "cli/output.h"
#include "cli/request.h"

json_object *cli_read_document(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	const char *name = strcmp(path, "-") ? path : "stdin";
	struct json_tokener *tok = NULL;
	json_object *doc = NULL;
	char *text = NULL;
	size_t len = 0, cap = 0, end;

	if (!f) {
		cli_fail("%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		size_t r;

		if (cap - len < 65536) {
			char *t;

			cap = cap ? cap * 2 : 131072;
			if (cap > ZT_LINE_MAX) {
				cli_fail("%s: larger than %d bytes", name, ZT_LINE_MAX);
				goto out;
			}
			t = realloc(text, cap);
			if (!t) {
				cli_fail("out of memory");
				goto out;
			}
			text = t;
		}
		r = fread(text + len, 1, cap - len - 1, f);
		len += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		cli_fail("%s: %s", name, strerror(errno));
		goto out;
	}
	text[len] = '\0';
	tok = json_tokener_new();
	if (!tok) {
		cli_fail("out of memory");
		goto out;
	}
	doc = json_tokener_parse_ex(tok, text, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (!doc || json_tokener_get_error(tok) != json_tokener_success ||
	    text[end + strspn(text + end, " \t\r\n")]) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		cli_fail("%s: not a JSON document: %s", name,
			 e == json_tokener_success ? "text after the document"
			 : e == json_tokener_continue ? "unexpected end"
			 : json_tokener_error_desc(e));
		json_object_put(doc);
		doc = NULL;
		goto out;
	}
	if (!json_object_is_type(doc, json_type_object)) {
		cli_fail("%s: the document must be a JSON object", name);
		json_object_put(doc);
		doc = NULL;
	}
out:
	if (tok)
		json_tokener_free(tok);
	free(text);
	if (f && f != stdin)
		fclose(f);
	return doc;
}

int cmd_apply(struct cli *c, const struct cli_args *a)
{
	bool dry_run = cli_arg(a, "dry-run") != NULL;
	json_object *req, *resp, *changes, *doc;
	size_t i, n;

	doc = cli_read_document(cli_arg(a, "file"));
	if (!doc)
		return 1;
	req = cli_request("policy.apply");
	json_object_object_add(req, "policy", doc);
	json_object_object_add(req, "dry_run", json_object_new_boolean(dry_run));
	resp = cli_call(c, req);
	if (!resp)
		return 1;
	if (cli_printed_as_json(c, resp))
		return 0;
	changes = json_object_object_get(resp, "changes");
	n = json_object_array_length(changes);
	for (i = 0; i < n; i++)
		puts(json_object_get_string(json_object_array_get_idx(changes, i)));
	/* The changes are the output; how it went is a remark beside it. */
	fflush(stdout);
	if (dry_run)
		fprintf(stderr, "ztgate: dry run: %zu change%s, nothing applied\n", n,
			n == 1 ? "" : "s");
	else
		fprintf(stderr, "ztgate: applied %zu change%s\n", n, n == 1 ? "" : "s");
	json_object_put(resp);
	return 0;
}

int cmd_export(struct cli *c, const struct cli_args *a)
{
	json_object *resp = cli_call(c, cli_request("policy.export"));

	(void)a;
	if (!resp)
		return 1;
	if (cli_printed_as_json(c, resp))
		return 0;
	/* Byte for byte what STATE_DIR/policy.json holds. */
	printf("%s\n", json_object_to_json_string_ext(json_object_object_get(resp, "policy"),
						      JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(resp);
	return 0;
}
