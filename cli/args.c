// SPDX-License-Identifier: GPL-2.0-only
/*
 * A command's arguments, parsed with getopt_long by its table entry: its
 * own options (`--opt value` or `--opt=value`), the global ones (which may
 * stand after the command too: `ztgate resource list --json`), and its
 * positional arguments, anywhere among the options (`--` ends the options).
 * Any trouble is one message naming the command, and nothing is sent.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "lib/paths.h"
#include "lib/version.h"

#define CLI_MAX_OPTS	24	/* a command's options and the global ones */

const struct option cli_global_opts[] = {
	{ "socket", required_argument, NULL, CLI_OPT_LONG },
	{ "role", required_argument, NULL, CLI_OPT_LONG },
	{ "json", no_argument, NULL, CLI_OPT_LONG },
	{ "version", no_argument, NULL, CLI_OPT_LONG },
	{ "controller", required_argument, NULL, CLI_OPT_LONG },
	{ "controller-key", required_argument, NULL, CLI_OPT_LONG },
	{ "api-key", required_argument, NULL, CLI_OPT_LONG },
	{ "help", no_argument, NULL, 'h' },
	{ 0 }
};

const char *cli_arg(const struct cli_args *a, const char *name)
{
	const char *v = NULL;

	for (int i = 0; i < a->ngiven; i++)
		if (!strcmp(a->given[i].name, name))
			v = a->given[i].value;
	return v;
}

int cli_global_opt(struct cli *c, const struct option *o, const char *arg)
{
	if (!strcmp(o->name, "socket")) {
		c->socket_path = arg;
	} else if (!strcmp(o->name, "role")) {
		/* The role's default socket (lib/paths.h). */
		snprintf(c->socket_buf, sizeof(c->socket_buf), "%s/%s.sock", ZT_RUN_DIR, arg);
		c->socket_path = c->socket_buf;
	} else if (!strcmp(o->name, "json")) {
		c->json = true;
	} else if (!strcmp(o->name, "controller")) {
		c->controller = arg;
	} else if (!strcmp(o->name, "controller-key")) {
		c->controller_key = arg;
	} else if (!strcmp(o->name, "api-key")) {
		c->api_key = arg;
	} else if (!strcmp(o->name, "version")) {
		printf("ztgate %s\n", zt_version());
		return 2;
	} else {
		return 1;	/* --help */
	}
	return 0;
}

int cli_cmd_usage_fail(const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ztgate: %s: ", cmd->words);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see ztgate %s --help)\n", cmd->words);
	return CLI_EXIT_USAGE;
}

/*
 * CMD's options, then the global ones, into ALL; their short forms into
 * SHORTS, after "-" (positional arguments come back in order, as 1) and
 * ":" (a missing value is ':', not '?'). Returns how many are CMD's.
 */
static size_t build_opts(const struct cli_cmd *cmd, struct option *all, char *shorts, size_t len)
{
	const struct option *lists[] = { cmd->opts, cli_global_opts };
	size_t n = 0, k = 0, own = 0;

	shorts[k++] = '-';
	shorts[k++] = ':';
	for (size_t l = 0; l < 2; l++) {
		if (l == 1)
			own = n;
		for (const struct option *o = lists[l]; o && o->name; o++) {
			if (n == CLI_MAX_OPTS - 1 || k + 3 > len)
				abort();	/* the table outgrew this parser */
			all[n++] = *o;
			if (o->val >= CLI_OPT_LONG)
				continue;
			shorts[k++] = (char)o->val;
			if (o->has_arg == required_argument)
				shorts[k++] = ':';
		}
	}
	memset(&all[n], 0, sizeof(all[n]));
	shorts[k] = '\0';
	return own;
}

/* The option of short form CH in ALL. */
static const struct option *short_opt(const struct option *all, int ch)
{
	for (; all->name; all++)
		if (all->val == ch)
			return all;
	return NULL;
}

/* How many of ALL's long names start with the N bytes of NAME (an abbreviation's candidates). */
static int prefix_matches(const struct option *all, const char *name, size_t n)
{
	int m = 0;

	for (; all->name; all++)
		m += !strncmp(all->name, name, n);
	return m;
}

/*
 * What getopt_long's '?' or ':' was about, into ERR. ARG is the argument it
 * stopped at; OPT its optopt: 0 for an unknown long option, else the val
 * of the option it found (a long option given a value it does not take, or
 * missing the one it needs) or the short option's letter.
 */
static void bad_option(int ch, const char *arg, int opt, const struct option *all, char *err,
		       size_t errlen)
{
	bool is_long = !strncmp(arg, "--", 2);
	int name_len = (int)strcspn(arg, "=");

	if (ch == ':' && is_long)
		snprintf(err, errlen, "%s needs a value", arg);
	else if (ch == ':')
		snprintf(err, errlen, "-%c needs a value", opt);
	else if (is_long && opt)
		snprintf(err, errlen, "%.*s takes no value", name_len, arg);
	else if (is_long && prefix_matches(all, arg + 2, (size_t)name_len - 2) > 1)
		snprintf(err, errlen, "ambiguous option '%.*s'", name_len, arg);
	else if (is_long)
		snprintf(err, errlen, "unknown option '%.*s'", name_len, arg);
	else
		snprintf(err, errlen, "unknown option '-%c'", opt);
}

/* How the usage spells option O: "-f" when it has a short form, else "--name". */
static const char *spelling(const struct option *o, char *buf, size_t len)
{
	if (o->val < CLI_OPT_LONG)
		snprintf(buf, len, "-%c", o->val);
	else
		snprintf(buf, len, "--%s", o->name);
	return buf;
}

/* CMD's option of long name NAME. */
static const struct option *long_opt(const struct cli_cmd *cmd, const char *name)
{
	for (const struct option *o = cmd->opts; o && o->name; o++)
		if (!strcmp(o->name, name))
			return o;
	abort();	/* the table names an option it does not have */
}

/* Option O of A's command, given with VALUE: recorded; 0, or -1 with the trouble in ERR. */
static int take_opt(struct cli_args *a, const struct option *o, const char *value, char *err,
		    size_t errlen)
{
	const char *rep = a->cmd->repeatable;
	char sp[64];

	if (o->has_arg == required_argument && cli_arg(a, o->name) && !(rep && !strcmp(rep, o->name))) {
		snprintf(err, errlen, "%s given twice", spelling(o, sp, sizeof(sp)));
		return -1;
	}
	if (a->ngiven == CLI_MAX_GIVEN) {
		snprintf(err, errlen, "more than %d options", CLI_MAX_GIVEN);
		return -1;
	}
	a->given[a->ngiven].name = o->name;
	a->given[a->ngiven++].value = value ? value : "";
	return 0;
}

/* A positional argument: recorded, or the first one too many kept in *SURPLUS. */
static void take_pos(struct cli_args *a, const char *arg, const char **surplus)
{
	if (a->npos < CLI_MAX_POS && a->cmd->pos[a->npos])
		a->pos[a->npos++] = arg;
	else if (!*surplus)
		*surplus = arg;
}

/* All of A there, and nothing more? 0, or CLI_EXIT_USAGE with the trouble in ERR. */
static int check_args(const struct cli_args *a, const char *surplus, char *err, size_t errlen,
		      bool *extra)
{
	const struct cli_cmd *cmd = a->cmd;
	char sp[64];

	if (surplus) {
		snprintf(err, errlen, "unexpected argument '%s'", surplus);
		*extra = true;
		return CLI_EXIT_USAGE;
	}
	if (a->npos < cmd->min_pos) {
		snprintf(err, errlen, "missing %s", cmd->pos[a->npos]);
		return CLI_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(cmd->required) / sizeof(cmd->required[0]); i++) {
		if (cmd->required[i] && !cli_arg(a, cmd->required[i])) {
			snprintf(err, errlen, "missing %s",
				 spelling(long_opt(cmd, cmd->required[i]), sp, sizeof(sp)));
			return CLI_EXIT_USAGE;
		}
	}
	return 0;
}

int cli_cmd_parse(struct cli *c, const struct cli_cmd *cmd, int argc, char **argv,
		  struct cli_args *a, char *err, size_t errlen, bool *extra)
{
	struct option all[CLI_MAX_OPTS];
	char shorts[2 * CLI_MAX_OPTS + 3];
	const char *surplus = NULL;
	size_t own = build_opts(cmd, all, shorts, sizeof(shorts));
	int ret;

	memset(a, 0, sizeof(*a));
	a->cmd = cmd;
	*extra = false;
	optind = 0;	/* glibc: start afresh, at ARGV[1] */
	opterr = 0;
	for (;;) {
		int li = -1, ch = getopt_long(argc, argv, shorts, all, &li);
		const struct option *o;

		if (ch == -1)
			break;
		if (ch == 1) {
			take_pos(a, optarg, &surplus);
			continue;
		}
		if (ch == '?' || ch == ':') {
			bad_option(ch, argv[optind - 1], optopt, all, err, errlen);
			return CLI_EXIT_USAGE;
		}
		o = li >= 0 ? &all[li] : short_opt(all, ch);
		if ((size_t)(o - all) < own) {
			if (take_opt(a, o, optarg, err, errlen))
				return CLI_EXIT_USAGE;
		} else if ((ret = cli_global_opt(c, o, optarg))) {
			if (ret == 1)
				cli_cmd_help(stdout, cmd);
			return -1;
		}
	}
	for (; optind < argc; optind++)	/* after "--" */
		take_pos(a, argv[optind], &surplus);
	return check_args(a, surplus, err, errlen, extra);
}
