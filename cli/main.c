// SPDX-License-Identifier: GPL-2.0-only
/*
 * ztgate: the CLI. Thin by design: it turns arguments into one JSON
 * request on the daemon's Unix socket and the reply into a table (or, with
 * --json, prints the reply as it came). All validation of policy lives in
 * the daemon, so the CLI and any other client get the same answers.
 *
 * This file: the global options, finding the command in the table
 * (commands.c) by its words, and running it with its arguments parsed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/command.h"

/* The command's words as found on the command line: argv indexes. */
struct words {
	char *w[CLI_MAX_WORDS];
	int at[CLI_MAX_WORDS];
	int n;
	int next;	/* the first argument after them (and the global options among them) */
};

/* Would WORD continue the words W has (some command's words start so)? */
static bool continues(struct words *w, char *word)
{
	if (w->n == CLI_MAX_WORDS)
		return false;
	w->w[w->n] = word;
	for (const struct cli_cmd *cmd = cli_cmd_first(); cmd; cmd = cli_cmd_next(cmd))
		if (cli_cmd_words_match(cmd, w->w, w->n + 1, true))
			return true;
	return false;
}

/*
 * The global options and the command's words, in any order up to the first
 * argument that is neither: `ztgate --json resource list`. Returns -1 to go
 * on, or the exit code (--help answered, or a global option's value missing).
 */
static int take_words(struct cli *c, int argc, char **argv, struct words *w)
{
	opterr = 0;
	optind = 1;
	for (;;) {
		int prev = optind, li = -1;
		int ch = getopt_long(argc, argv, "+:h", cli_global_opts, &li);
		const struct option *o;

		if (ch == -1 && optind == prev && optind < argc && continues(w, argv[optind])) {
			w->at[w->n++] = optind++;
			continue;
		}
		if (ch == '?' && optopt && !strncmp(argv[optind - 1], "--", 2))
			return cli_usage_fail("%.*s takes no value", (int)strcspn(argv[optind - 1], "="),
					      argv[optind - 1]);
		if (ch == -1 || ch == '?') {
			/* The command's part: its own options and arguments, or "--". */
			w->next = prev;
			return -1;
		}
		if (ch == ':')
			return cli_usage_fail("%s needs a value", argv[optind - 1]);
		if (li >= 0)
			o = &cli_global_opts[li];
		else	/* a short option: -h */
			for (o = cli_global_opts; o->val != ch; o++)
				;
		switch (cli_global_opt(c, o, optarg)) {
		case 0:
			break;
		case 1:	/* --help: the usage of what the words name so far */
			if (!w->n || !cli_usage_of(stdout, w->w, w->n))
				cli_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_OK;
		}
	}
}

/* W's command, the longest match: `grant list` lists, `grant list web` grants device "list". */
static int dispatch(struct cli *c, int argc, char **argv, struct words *w)
{
	char err[256], first_err[256] = "";
	const struct cli_cmd *first = NULL;

	if (!w->n && w->next >= argc) {
		cli_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (!w->n)
		return cli_usage_fail("unknown %s '%s'", argv[w->next][0] == '-' ? "option" : "command",
				      argv[w->next]);
	for (int k = w->n; k > 0; k--) {
		const struct cli_cmd *cmd;
		struct cli_args a;
		bool extra;
		int ret;

		for (cmd = cli_cmd_first(); cmd; cmd = cli_cmd_next(cmd))
			if (cli_cmd_words_match(cmd, w->w, k, false))
				break;
		if (!cmd)
			continue;
		ret = cli_cmd_parse(c, cmd, argc - w->at[k - 1], argv + w->at[k - 1], &a, err,
				    sizeof(err), &extra);
		if (ret == -1)
			return CLI_EXIT_OK;
		if (!ret)
			return cmd->run(c, &a);
		if (!first) {
			first = cmd;
			snprintf(first_err, sizeof(first_err), "%s", err);
		}
		if (!extra)
			break;
	}
	if (!first)
		return cli_group_fail(w->w, w->n, w->next < argc ? argv[w->next] : NULL);
	return cli_cmd_usage_fail(first, "%s", first_err);
}

int main(int argc, char **argv)
{
	struct cli c = { .fd = -1 };
	struct words w = { .n = 0 };
	int ret;

	c.socket_path = getenv("ZTGATE_SOCKET");	/* NULL: found in ZT_RUN_DIR (request.c) */
	c.controller = getenv("ZTGATE_CONTROLLER");	/* remote admin (remote.c) */
	c.api_key = getenv("ZTGATE_API_KEY");
	c.controller_key = getenv("ZTGATE_CONTROLLER_KEY");
	ret = take_words(&c, argc, argv, &w);
	if (ret < 0)
		ret = dispatch(&c, argc, argv, &w);
	if (c.fd >= 0)
		close(c.fd);
	zt_line_buf_free(&c.buf);
	return ret;
}
