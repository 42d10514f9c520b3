// SPDX-License-Identifier: GPL-2.0-only
/*
 * `ztgate admin ...`: the controller's admin commands (cmd_admin_table.c).
 * One handler for all of them: the request is "admin.KIND.VERB" from the
 * command's words, NAME (and MEMBER) and every option given (dashes become
 * underscores, flags true, a repeated --group a list); the reply is printed
 * by the verb's printer (a table for lists, a token on its own last line)
 * or, with --json, as it came. The controller validates everything.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "cli/command.h"
#include "cli/handlers.h"
#include "cli/output.h"
#include "cli/request.h"

/* A column of a list: its header and the object's field. */
struct column {
	const char *head, *key;
};

/* The columns of each kind's list, by kind. */
static const struct {
	const char *kind;
	struct column cols[8];
} list_columns[] = {
	{ "user", { { "EMAIL", "name" }, { "ROLE", "role" }, { "GROUPS", "groups" },
		    { "DISABLED", "disabled" }, { "ID", "id" } } },
	{ "group", { { "NAME", "name" }, { "DESCRIPTION", "description" }, { "ID", "id" } } },
	{ "service-account", { { "NAME", "name" }, { "GROUPS", "groups" },
			       { "DISABLED", "disabled" }, { "ID", "id" } } },
	{ "network", { { "NAME", "name" }, { "DESCRIPTION", "description" }, { "ID", "id" } } },
	{ "connector", { { "NAME", "name" }, { "NETWORK", "network" }, { "PUBKEY", "pubkey" },
			 { "ID", "id" } } },
	{ "resource", { { "NAME", "name" }, { "NETWORK", "network" }, { "ADDRESS", "address" },
			{ "TCP", "tcp" }, { "UDP", "udp" }, { "ICMP", "icmp" },
			{ "DENY", "deny_mode" }, { "ALIAS", "alias" } } },
	{ "policy", { { "NAME", "name" }, { "SESSION_LIFETIME_S", "session_lifetime" },
		      { "HOURS", "hours" }, { "TZ", "tz" }, { "ID", "id" } } },
	{ "relay", { { "NAME", "name" }, { "ADDRESS", "address" }, { "ID", "id" } } },
	{ "access", { { "GROUP", "group" }, { "RESOURCE", "resource" }, { "POLICY", "policy" },
		      { "ID", "id" } } },
	{ "device", { { "NAME", "name" }, { "OWNER", "owner" }, { "ADDRESS", "address" },
		      { "PUBKEY", "pubkey" }, { "KEY_EXPIRES", "key_expires" }, { "ID", "id" } } },
	{ "api-key", { { "NAME", "name" }, { "ROLE", "role" }, { "EXPIRES", "expires" },
		       { "CREATED", "created" }, { "ACTOR", "actor" } } },
	{ "audit", { { "SEQ", "seq" }, { "TIME", "time" }, { "ACTOR", "actor" },
		     { "ACTION", "action" }, { "KIND", "kind" }, { "NAME", "name" } } },
};

/* O's field KEY as text into BUF: strings, numbers, yes/no, lists joined by ','; "-" if none. */
static const char *cell(json_object *o, const char *key, char *buf, size_t len)
{
	json_object *v;

	buf[0] = '\0';
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return "-";
	if (json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v) ? "yes" : "no";
	if (json_object_is_type(v, json_type_null))
		return "-";
	if (!strcmp(key, "time") || !strcmp(key, "expires")) {
		time_t t = (time_t)json_object_get_int64(v);
		struct tm tm;

		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
		return buf;
	}
	if (json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++)
			snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? "," : "",
				 json_object_get_string(json_object_array_get_idx(v, i)));
		return or_dash(buf);
	}
	snprintf(buf, len, "%s", json_object_get_string(v));
	return or_dash(buf);
}

/* ARR as a table of COLS, each column as wide as its widest cell. */
static void print_table(json_object *arr, const struct column *cols, const char *what)
{
	size_t n = json_object_array_length(arr), w[8] = { 0 }, nc;
	char buf[512];

	for (nc = 0; nc < 8 && cols[nc].head; nc++) {
		w[nc] = strlen(cols[nc].head);
		for (size_t i = 0; i < n; i++) {
			size_t l = strlen(cell(json_object_array_get_idx(arr, i), cols[nc].key, buf,
					       sizeof(buf)));

			w[nc] = l > w[nc] ? l : w[nc];
		}
	}
	for (size_t c = 0; c < nc; c++)
		printf("%-*s%s", c + 1 < nc ? (int)w[c] : 0, cols[c].head, c + 1 < nc ? "  " : "\n");
	for (size_t i = 0; i < n; i++)
		for (size_t c = 0; c < nc; c++)
			printf("%-*s%s", c + 1 < nc ? (int)w[c] : 0,
			       cell(json_object_array_get_idx(arr, i), cols[c].key, buf, sizeof(buf)),
			       c + 1 < nc ? "  " : "\n");
	if (!n)
		printf("(no %s)\n", what);
}

static const struct column *columns_of(const char *kind)
{
	for (size_t i = 0; i < sizeof(list_columns) / sizeof(list_columns[0]); i++)
		if (!strcmp(list_columns[i].kind, kind))
			return list_columns[i].cols;
	return list_columns[0].cols;
}

/* Word N of the command's words ("admin resource add": 1 is "resource"). */
static void word(const struct cli_args *a, int n, char *out, size_t len)
{
	const char *w = a->cmd->words;

	for (; n > 0 && *w; n--)
		w += strcspn(w, " ") + !!w[strcspn(w, " ")];
	snprintf(out, len, "%.*s", (int)strcspn(w, " "), w);
}

static void print_token(json_object *resp)
{
	time_t t = (time_t)get_int(resp, "expires");
	char when[32];
	struct tm tm;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	printf("one-time enrollment token for %s %s, valid until %s:\n%s\n", get_str(resp, "for"),
	       get_str(resp, "name"), when, get_str(resp, "token"));
}

static void print_api_key(json_object *resp, const char *key)
{
	json_object *o = json_object_object_get(resp, "object");
	char when[64], buf[32];

	if (get_int(o, "expires"))
		snprintf(when, sizeof(when), "valid until %s", cell(o, "expires", buf, sizeof(buf)));
	else
		snprintf(when, sizeof(when), "no expiry");
	printf("API key %s (%s), %s; shown once, keep it now:\n%s\n", get_str(o, "name"),
	       get_str(o, "role"), when, key);
}

/* `--count N`: a header, then one token a line. */
static void print_tokens(json_object *resp, json_object *arr)
{
	time_t t = (time_t)get_int(resp, "expires");
	size_t n = json_object_array_length(arr);
	char when[32];
	struct tm tm;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	printf("%zu one-time enrollment tokens for %s %s, valid until %s:\n", n,
	       get_str(resp, "for"), get_str(resp, "name"), when);
	for (size_t i = 0; i < n; i++)
		puts(json_object_get_string(json_object_array_get_idx(arr, i)));
}

static void print_object(json_object *o)
{
	char buf[512];

	json_object_object_foreach(o, key, val) {
		(void)val;
		printf("%-18s %s\n", key, cell(o, key, buf, sizeof(buf)));
	}
}

/* `admin status`: the nodes over every controller, and this one's share when there are others. */
static void print_status(json_object *resp)
{
	json_object *others;

	printf("rev %lld applied on %lld of %lld nodes (%lld connected)\n", get_int(resp, "rev"),
	       get_int(resp, "applied"), get_int(resp, "nodes"), get_int(resp, "connected"));
	if (json_object_object_get_ex(resp, "other_controllers", &others) &&
	    json_object_array_length(others) > 0)
		printf("this controller: %lld connected, %lld up to date; %zu other controller(s)\n",
		       get_int(resp, "connected_here"), get_int(resp, "applied_here"),
		       json_object_array_length(others));
}

/* The reply of A's command, for people. */
static void print_reply(const struct cli_args *a, json_object *resp)
{
	char kind[32], verb[32];
	json_object *v;

	word(a, 1, kind, sizeof(kind));
	word(a, 2, verb, sizeof(verb));
	if (json_object_object_get_ex(resp, "items", &v))
		print_table(v, columns_of(kind), kind);
	else if (!strcmp(kind, "audit") && json_object_object_get_ex(resp, "records", &v) &&
		 json_object_is_type(v, json_type_array))
		print_table(v, columns_of("audit"), "audit records");
	else if (!strcmp(kind, "audit"))
		printf("audit chain ok: %lld records\n", get_int(resp, "records"));
	else if (!strcmp(kind, "status"))
		print_status(resp);
	else if (!strcmp(kind, "export") && json_object_object_get_ex(resp, "model", &v))
		puts(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	else if (json_object_object_get_ex(resp, "key", &v))
		print_api_key(resp, json_object_get_string(v));
	else if (!strcmp(verb, "show") && json_object_object_get_ex(resp, "object", &v))
		print_object(v);
	else if (json_object_object_get_ex(resp, "object", &v))
		printf("%s %s %s (id %lld)\n", !strcmp(verb, "add") ? "added" : "updated", kind,
		       get_str(v, "name"), get_int(v, "id"));
	else if (json_object_object_get_ex(resp, "removed", &v))
		printf("removed %s %s\n", kind, json_object_get_string(v));
	else if (!strcmp(verb, "add-member") || !strcmp(verb, "rm-member"))
		printf("%s %s %s group %s\n", verb[0] == 'a' ? "added" : "removed", a->pos[1],
		       verb[0] == 'a' ? "to" : "from", a->pos[0]);
	if (json_object_object_get_ex(resp, "token", &v))
		print_token(resp);
	if (json_object_object_get_ex(resp, "tokens", &v))
		print_tokens(resp, v);
}

/* The request of A's command: "admin.KIND.VERB", NAME/MEMBER, its options. */
static json_object *build_request(const struct cli_args *a)
{
	char cmd[64], key[64];
	json_object *req;
	size_t i;

	snprintf(cmd, sizeof(cmd), "%s", a->cmd->words);
	for (i = 0; cmd[i]; i++)
		cmd[i] = cmd[i] == ' ' ? '.' : cmd[i];
	if (!strcmp(cmd, "admin.audit") && cli_arg(a, "verify"))
		snprintf(cmd, sizeof(cmd), "admin.audit.verify");
	req = cli_request(cmd);
	cli_request_add(req, "name", a->npos > 0 ? a->pos[0] : NULL);
	cli_request_add(req, "member", a->npos > 1 ? a->pos[1] : NULL);
	for (int g = 0; g < a->ngiven; g++) {
		const struct option *o = a->cmd->opts;
		json_object *arr;

		while (strcmp(o->name, a->given[g].name))
			o++;
		snprintf(key, sizeof(key), "%s", o->name);
		for (i = 0; key[i]; i++)
			key[i] = key[i] == '-' ? '_' : key[i];
		if (o->has_arg == no_argument) {
			json_object_object_add(req, key, json_object_new_boolean(1));
		} else if (a->cmd->repeatable && !strcmp(a->cmd->repeatable, o->name)) {
			if (!json_object_object_get_ex(req, key, &arr))
				json_object_object_add(req, key, arr = json_object_new_array());
			json_object_array_add(arr, json_object_new_string(a->given[g].value));
		} else {
			cli_request_add(req, key, a->given[g].value);
		}
	}
	return req;
}

int cmd_admin(struct cli *c, const struct cli_args *a)
{
	json_object *resp = cli_call(c, build_request(a));

	if (!resp)
		return CLI_EXIT_FAIL;
	if (!cli_printed_as_json(c, resp)) {
		print_reply(a, resp);
		json_object_put(resp);
	}
	return CLI_EXIT_OK;
}

/* `admin apply -f FILE [--dry-run]`: the changes on stdout, how it went on stderr. */
int cmd_admin_apply(struct cli *c, const struct cli_args *a)
{
	bool dry_run = cli_arg(a, "dry-run") != NULL;
	json_object *doc = cli_read_document(cli_arg(a, "file")), *req, *resp, *changes;
	size_t n;

	if (!doc)
		return CLI_EXIT_FAIL;
	req = cli_request("admin.apply");
	json_object_object_add(req, "model", doc);
	json_object_object_add(req, "dry_run", json_object_new_boolean(dry_run));
	resp = cli_call(c, req);
	if (!resp)
		return CLI_EXIT_FAIL;
	if (cli_printed_as_json(c, resp))
		return CLI_EXIT_OK;
	changes = json_object_object_get(resp, "changes");
	n = json_object_array_length(changes);
	for (size_t i = 0; i < n; i++)
		puts(json_object_get_string(json_object_array_get_idx(changes, i)));
	fflush(stdout);
	fprintf(stderr, "ztgate: %s %zu change%s%s\n", dry_run ? "dry run:" : "applied", n,
		n == 1 ? "" : "s", dry_run ? ", nothing applied" : "");
	json_object_put(resp);
	return CLI_EXIT_OK;
}

/* FIELD of a connection line, or "-". */
static const char *line_str(json_object *l, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(l, key, &v) && v ? json_object_get_string(v) : "-";
}

/* One connection line for people: time, event, who, device, where, status, connector. */
static void print_connection(json_object *l)
{
	json_object *v;
	const char *who = json_object_object_get_ex(l, "user", &v) ? json_object_get_string(v)
			  : line_str(l, "service_account");
	char dest[96];

	snprintf(dest, sizeof(dest), "%s %s%s%s", line_str(l, "resolved_ip"), line_str(l, "protocol"),
		 json_object_object_get_ex(l, "port", &v) && v ? "/" : "",
		 json_object_object_get_ex(l, "port", &v) && v ? json_object_get_string(v) : "");
	printf("%-24s %-16s %-24s %-18s %-12s %-24s %-17s %s/%s\n", line_str(l, "time"),
	       line_str(l, "event"), who, line_str(l, "device"), line_str(l, "resource"), dest,
	       line_str(l, "status"), line_str(l, "connector"), line_str(l, "remote_network"));
}

static volatile sig_atomic_t stop_following;

static void on_interrupt(int sig)
{
	(void)sig;
	stop_following = 1;
}

/* One poll: the lines after *CURSOR printed (a JSON line each with --json), *CURSOR moved. */
static int connections_poll(struct cli *c, unsigned long long *cursor)
{
	json_object *req = cli_request("admin.connections"), *resp, *lines, *v;
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", *cursor);
	cli_request_add(req, "after", buf);
	resp = cli_call(c, req);
	if (!resp)
		return CLI_EXIT_FAIL;
	if (json_object_object_get_ex(resp, "lost", &v) && json_object_get_int64(v) > 0)
		fprintf(stderr, "ztgate: %lld lines dropped from the controller's ring before they "
			"were read\n", (long long)json_object_get_int64(v));
	lines = json_object_object_get(resp, "lines");
	for (size_t i = 0; i < json_object_array_length(lines); i++) {
		json_object *l = json_object_array_get_idx(lines, i);

		if (c->json)
			puts(json_object_to_json_string_ext(l, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
		else
			print_connection(l);
	}
	if (json_object_object_get_ex(resp, "next", &v))
		*cursor = (unsigned long long)json_object_get_int64(v);
	fflush(stdout);
	json_object_put(resp);
	return CLI_EXIT_OK;
}

/*
 * `admin connections [--follow]`: the connectors' recent connection lines
 * (a JSON line each with --json); --follow polls with the cursor every
 * 250 ms and prints new lines until interrupted.
 */
int cmd_admin_connections(struct cli *c, const struct cli_args *a)
{
	bool follow = cli_arg(a, "follow") != NULL;
	const struct timespec tick = { 0, 250 * 1000 * 1000 };
	unsigned long long cursor = 0;
	int ret;

	if (!c->json)
		printf("%-24s %-16s %-24s %-18s %-12s %-24s %-17s %s\n", "TIME", "EVENT", "WHO",
		       "DEVICE", "RESOURCE", "DESTINATION", "STATUS", "CONNECTOR/NETWORK");
	if (follow) {
		signal(SIGINT, on_interrupt);
		signal(SIGTERM, on_interrupt);
	}
	do {
		ret = connections_poll(c, &cursor);
		if (ret || !follow)
			return ret;
		nanosleep(&tick, NULL);
	} while (!stop_following);
	return CLI_EXIT_OK;
}
