/* SPDX-License-Identifier: GPL-2.0-only */
/* A command's options and positional arguments. */
#ifndef ZT_CLI_ARGS_H
#define ZT_CLI_ARGS_H

#include <stdbool.h>

/* An option that takes a value, and where it goes. */
struct cli_value_opt {
	const char *flag;
	const char **value;
	bool optional;		/* else missing it is an error */
};

/*
 * Options from OPTS anywhere among ARGV, and exactly NPOS positional
 * arguments, named by POS_NAMES for the messages, into POS. 0, or the
 * exit code of a usage error already reported.
 */
int cli_parse_args(const char *what, int argc, char **argv, const struct cli_value_opt *opts,
		   const char **pos, const char *const *pos_names, int npos);

#endif
