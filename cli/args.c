// SPDX-License-Identifier: GPL-2.0-only
/* A command's options and positional arguments, from its part of argv. */
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"

int cli_parse_args(const char *what, int argc, char **argv, const struct cli_value_opt *opts,
		   const char **pos, const char *const *pos_names, int npos)
{
	int i, n = 0;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		const struct cli_value_opt *o;

		if (a[0] == '-' && a[1]) {
			for (o = opts; o && o->flag && strcmp(o->flag, a); o++)
				;
			if (!o || !o->flag)
				return cli_usage_fail("%s: unknown option '%s'", what, a);
			if (i + 1 >= argc)
				return cli_usage_fail("%s: %s needs a value", what, a);
			if (*o->value)
				return cli_usage_fail("%s: %s given twice", what, a);
			*o->value = argv[++i];
			continue;
		}
		if (n == npos)
			return cli_usage_fail("%s: unexpected argument '%s'", what, a);
		pos[n++] = a;
	}
	if (n < npos)
		return cli_usage_fail("%s: missing %s", what, pos_names[n]);
	for (; opts && opts->flag; opts++)
		if (!*opts->value && !opts->optional)
			return cli_usage_fail("%s: missing %s", what, opts->flag);
	return 0;
}
