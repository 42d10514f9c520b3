// SPDX-License-Identifier: GPL-2.0-only
/* ztgated ROLE [options]: one daemon, one role per process (roles/roles.h). */
#include <stdio.h>
#include <string.h>

#include "core/role.h"
#include "lib/version.h"
#include "roles/roles.h"

static const struct zt_role_ops *const roles[] = {
	&zt_role_enforce,
	&zt_role_client,
	&zt_role_connector,
	&zt_role_relay,
	&zt_role_controller,
};

#define NROLES (sizeof(roles) / sizeof(roles[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: ztgated ROLE [options]   (ztgated ROLE --help)\nroles:\n");
	for (i = 0; i < NROLES; i++)
		fprintf(f, "  %-10s %s\n", roles[i]->name, roles[i]->summary);
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("ztgated %s\n", zt_version());
		return 0;
	}
	for (i = 0; i < NROLES; i++)
		if (!strcmp(argv[1], roles[i]->name))
			return zt_daemon_main(roles[i], argc - 1, argv + 1);
	fprintf(stderr, "ztgated: unknown role '%s' (try: ztgated --help)\n", argv[1]);
	return 2;
}
