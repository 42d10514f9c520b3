/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The command table's shape (one entry per command, in commands.c) and the
 * parsing of a command's arguments with getopt_long (args.c).
 */
#ifndef ZT_CLI_COMMAND_H
#define ZT_CLI_COMMAND_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "cli/cli.h"

/* The val of every option with no short form: it is found by its long index. */
#define CLI_OPT_LONG	0x100

#define CLI_MAX_WORDS	3	/* "resource add", "admin network add" */
#define CLI_MAX_POS	2	/* "grant DEVICE RESOURCE" */
#define CLI_MAX_GIVEN	64	/* options on one command line */

struct cli_args;

struct cli_cmd {
	const char *words;		/* what selects it: "resource add" */
	const char *alias;		/* the same command by other words ("resource ls"), or NULL */
	const char *usage;		/* what follows the words; '\n' starts a continuation line */
	const char *summary;		/* one line, for `ztgate --help` */
	const char *details;		/* more lines for `ztgate WORDS --help`, or NULL */
	const struct option *opts;	/* its getopt_long options, or NULL; --socket, --json and
					 * --help are added to them */
	const char *pos[CLI_MAX_POS];	/* its positional arguments' names, in order... */
	int min_pos;			/* ...of which the first MIN_POS must be given */
	const char *required[2];	/* options (long names) that must be given */
	const char *repeatable;		/* the option that may be given more than once, or NULL */
	int (*run)(struct cli *c, const struct cli_args *a);
};

/* A command line, parsed by its entry. */
struct cli_args {
	const struct cli_cmd *cmd;
	const char *pos[CLI_MAX_POS];
	int npos;
	struct {
		const char *name;	/* the option's long name */
		const char *value;	/* its value; "" for an option without one */
	} given[CLI_MAX_GIVEN];		/* in command-line order */
	int ngiven;
};

/* Every command, ended by an entry without words: the node's, and the controller's admin ones. */
extern const struct cli_cmd cli_cmds[];
extern const struct cli_cmd cli_admin_cmds[];	/* cmd_admin_table.c */

/* The first command of all the tables, and the one after CMD (NULL after the last). */
const struct cli_cmd *cli_cmd_first(void);
const struct cli_cmd *cli_cmd_next(const struct cli_cmd *cmd);

/* The global options: --socket PATH, --role ROLE, --json, --version, --help (-h). */
extern const struct option cli_global_opts[];

/* The value of option NAME (the last one given; "" for a flag), or NULL if not given. */
const char *cli_arg(const struct cli_args *a, const char *name);

/*
 * Apply global option O (one of cli_global_opts), given with ARG, to C.
 * Returns 0, 1 for --help (the caller prints the usage wanted), or 2 when
 * the option answered by itself (--version): done.
 */
int cli_global_opt(struct cli *c, const struct option *o, const char *arg);

/*
 * Parse ARGV[1..ARGC) (what follows the command's words; ARGV[0], its last
 * word, is passed over as getopt does) by CMD's options and positional
 * arguments into A, the global options into C. Returns 0; -1 after
 * printing CMD's usage for --help; or CLI_EXIT_USAGE with the message in
 * ERR (*EXTRA set when the trouble is a positional argument too many).
 */
int cli_cmd_parse(struct cli *c, const struct cli_cmd *cmd, int argc, char **argv,
		  struct cli_args *a, char *err, size_t errlen, bool *extra);

/* "ztgate: WORDS: MESSAGE (see ztgate WORDS --help)" on stderr; returns CLI_EXIT_USAGE. */
int cli_cmd_usage_fail(const struct cli_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Does CMD (or its alias) have words WORDS[0..N)? With PREFIX: do they start its words? */
bool cli_cmd_words_match(const struct cli_cmd *cmd, char *const *words, int n, bool prefix);

/*
 * WORDS[0..N) start commands but name none ("resource"): say which would
 * follow, or that NEXT is none of them. Returns CLI_EXIT_USAGE.
 */
int cli_group_fail(char *const *words, int n, const char *next);

/* `ztgate --help`: every command, from the table. */
void cli_usage(FILE *f);
/*
 * `ztgate WORDS --help`: the usage of the command WORDS[0..N) names, or of
 * every command they start ("resource"). False if they start none.
 */
bool cli_usage_of(FILE *f, char *const *words, int n);
/* One command's usage, summary and details. */
void cli_cmd_help(FILE *f, const struct cli_cmd *cmd);

#endif
