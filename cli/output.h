/* SPDX-License-Identifier: GPL-2.0-only */
/* What the CLI prints: fields of a reply for tables, and --json passthrough. */
#ifndef ZT_CLI_OUTPUT_H
#define ZT_CLI_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "cli/cli.h"

/* KEY's string in O, "" when absent or null. */
const char *get_str(json_object *o, const char *key);
/* KEY's string, or DEF when absent or empty. */
const char *get_str_or(json_object *o, const char *key, const char *def);
/* KEY's integer, 0 when absent. */
long long get_int(json_object *o, const char *key);
/* S, or "-" when empty. */
const char *or_dash(const char *s);
/* N bytes as "812 B", "3.4 KiB", "1.2 GiB". */
void cli_format_bytes(long long n, char *buf, size_t len);

/* O on one line, as it came (less "ok"). */
void cli_print_json(json_object *o);
/* With --json a reply is printed as it came (less "ok"); true if so, and RESP is freed. */
bool cli_printed_as_json(struct cli *c, json_object *resp);
/* A reply (NULL: failed, already reported) printed as JSON or by PRINT; frees it; the exit code. */
int cli_print_reply(struct cli *c, json_object *resp, void (*print)(json_object *resp));

#endif
