// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the CLI prints: its error lines on stderr, the fields of a reply
 * for the tables people read, and with --json the reply as it came (less
 * "ok") for scripts. The tables themselves live with their commands.
 */
#include <stdarg.h>
#include <stdio.h>

#include "cli/output.h"

int cli_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("ztgate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_EXIT_FAIL;
}

int cli_usage_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("ztgate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see ztgate --help)\n", stderr);
	return CLI_EXIT_USAGE;
}

const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return "";
	return json_object_get_string(v);
}

/* KEY's string, or DEF when absent or empty. */
const char *get_str_or(json_object *o, const char *key, const char *def)
{
	const char *v = get_str(o, key);

	return *v ? v : def;
}

long long get_int(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? (long long)json_object_get_int64(v) : 0;
}

void cli_print_json(json_object *o)
{
	json_object_object_del(o, "ok");
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* With --json a reply is printed as it came (less "ok"); true if so, and RESP is freed. */
bool cli_printed_as_json(struct cli *c, json_object *resp)
{
	if (!c->json)
		return false;
	cli_print_json(resp);
	json_object_put(resp);
	return true;
}

const char *or_dash(const char *s)
{
	return *s ? s : "-";
}

/* A reply printed as it came with --json, else by PRINT; frees RESP. */
int cli_print_reply(struct cli *c, json_object *resp, void (*print)(json_object *resp))
{
	if (!resp)
		return 1;
	if (!cli_printed_as_json(c, resp)) {
		print(resp);
		json_object_put(resp);
	}
	return 0;
}

/* N bytes as "812 B", "3.4 KiB", "1.2 GiB". */
void cli_format_bytes(long long n, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u)
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	else
		snprintf(buf, len, "%lld B", n);
}
