// SPDX-License-Identifier: GPL-2.0-only
/* ztgated ROLE [options]: one daemon, one role per process. */
#include <stdio.h>
#include <string.h>

#include "core/daemon.h"

struct role {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *what;
};

static const struct role roles[] = {
	{ "enforce", zt_role_enforce, "enforce the local policy on the given interfaces" },
	{ "client", zt_role_client, "fake-IP DNS, the TUN and its routes, enforcement of egress, tunnels to connectors" },
	{ "connector", zt_role_connector, "ends device tunnels in the private network, enforces grants, forwards, logs connections" },
	{ "relay", zt_role_relay, "STUN and a meeting point that forwards sealed tunnel datagrams between peers that accept each other" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: ztgated ROLE [options]   (ztgated ROLE --help)\nroles:\n");
	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		fprintf(f, "  %-10s %s\n", roles[i].name, roles[i].what);
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
	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (!strcmp(argv[1], roles[i].name))
			return roles[i].run(argc - 1, argv + 1);
	fprintf(stderr, "ztgated: unknown role '%s' (try: ztgated --help)\n", argv[1]);
	return 2;
}
