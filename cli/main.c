// SPDX-License-Identifier: GPL-2.0-only
/*
 * ztgate: the CLI. Thin by design: it turns arguments into one JSON
 * request on the daemon's Unix socket and the reply into a table (or, with
 * --json, prints the reply as it came). All validation of policy lives in
 * the daemon, so the CLI and any other client get the same answers.
 *
 * This file: the global options and the dispatch to the commands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/handlers.h"
#include "cli/netcheck.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ztgate [--socket PATH] [--json] COMMAND\n"
		"commands:\n"
		"  resource add NAME --address ADDR [--tcp LIST] [--udp LIST] [--icmp]\n"
		"                    [--deny-mode drop|reject] [--connector NAME]\n"
		"      ADDR: an IPv4/IPv6 address or CIDR, a DNS name (nas.home.int) or a\n"
		"      wildcard ('*.home.int': every name below home.int); LIST: 22,443,8000-8100 or all\n"
		"      (no --tcp means no TCP; likewise --udp)\n"
		"  resource list\n"
		"  resource show NAME\n"
		"  resource rm NAME  (its grants go with it)\n"
		"  device add NAME --pubkey KEY --address 100.64.X.Y\n"
		"  device list | device rm NAME  (its grants go with it)\n"
		"  connector add NAME --pubkey KEY [--endpoint IP:PORT|[IPv6]:PORT]\n"
		"  connector list | connector rm NAME  (refused while a resource uses it)\n"
		"  grant DEVICE RESOURCE | revoke DEVICE RESOURCE | grant list (or grants)\n"
		"  apply -f FILE [--dry-run]  replace the whole policy with FILE ('-': stdin);\n"
		"                 prints one line per change (+ added, - removed, ~ changed)\n"
		"  export         the whole policy as the document apply reads\n"
		"  keygen --out FILE  new X25519 private key in FILE (mode 0600), prints its public key\n"
		"  pubkey [FILE]  the public key of the private key in FILE (default: stdin)\n"
		"  stats          per-resource allowed/denied packets and bytes\n"
		"  status         client, connector: each peer's path (direct, relayed-udp, relayed-tcp),\n"
		"                 endpoint, round trip, last handshake, bytes each way\n"
		"  events         follow denied flows and scans\n"
		"  maps           pinned BPF maps and the bpftool commands that read them\n"
		"  dns            client: names answered with fake IPs (name, fake IP, resource, last use)\n"
		"  resolve NAME   client: what the DNS server would answer for NAME, and why\n"
		"  teardown       detach every program, remove pins, stop the daemon\n"
		"  netcheck --relay HOST:PORT...  (no daemon needed) UDP reachability, the public\n"
		"                 endpoint and RTT each relay (or STUN server) sees, hard NAT or not\n");
}

int main(int argc, char **argv)
{
	struct cli *c = calloc(1, sizeof(*c));
	char **args;
	int nargs = 0, i, ret;

	if (!c)
		return cli_fail("out of memory");
	c->fd = -1;
	c->socket_path = getenv("ZTGATE_SOCKET") ? getenv("ZTGATE_SOCKET") : ZT_DEFAULT_SOCKET_PATH;
	args = calloc((size_t)argc + 1, sizeof(*args));
	if (!args)
		return cli_fail("out of memory");

	/* Global options may stand anywhere, so `ztgate resource list --json` works. */
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			c->json = true;
		} else if (!strcmp(argv[i], "--socket")) {
			if (i + 1 >= argc) {
				ret = cli_usage_fail("--socket needs a path");
				goto out;
			}
			c->socket_path = argv[++i];
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			c->socket_path = argv[i] + 9;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			ret = 0;
			goto out;
		} else {
			args[nargs++] = argv[i];
		}
	}
	if (!nargs) {
		usage(stderr);
		ret = 2;
		goto out;
	}

	if (!strcmp(args[0], "resource"))
		ret = cmd_resource(c, nargs - 1, args + 1);
	else if (!strcmp(args[0], "device"))
		ret = cmd_device(c, nargs - 1, args + 1);
	else if (!strcmp(args[0], "connector"))
		ret = cmd_connector(c, nargs - 1, args + 1);
	else if (!strcmp(args[0], "grant"))
		ret = cmd_grant(c, true, nargs - 1, args + 1);
	else if (!strcmp(args[0], "revoke"))
		ret = cmd_grant(c, false, nargs - 1, args + 1);
	else if (nargs == 1 && !strcmp(args[0], "grants"))
		ret = cmd_grant_list(c);
	else if (!strcmp(args[0], "apply"))
		ret = cmd_apply(c, nargs - 1, args + 1);
	else if (nargs == 1 && !strcmp(args[0], "export"))
		ret = cmd_export(c);
	else if (!strcmp(args[0], "keygen"))
		ret = cmd_keygen(c, nargs - 1, args + 1);
	else if (!strcmp(args[0], "pubkey"))
		ret = cmd_pubkey(c, nargs - 1, args + 1);
	else if (!strcmp(args[0], "netcheck"))
		ret = zt_cli_netcheck(c->json, nargs - 1, args + 1);
	else if (nargs == 1 && !strcmp(args[0], "stats"))
		ret = cmd_stats(c);
	else if (nargs == 1 && !strcmp(args[0], "events"))
		ret = cmd_events(c);
	else if (nargs == 1 && !strcmp(args[0], "maps"))
		ret = cmd_maps(c);
	else if (nargs == 1 && !strcmp(args[0], "status"))
		ret = cmd_status(c);
	else if (nargs == 1 && !strcmp(args[0], "teardown"))
		ret = cmd_teardown(c);
	else if (nargs == 1 && !strcmp(args[0], "dns"))
		ret = cmd_dns(c);
	else if (!strcmp(args[0], "resolve"))
		ret = nargs == 2 ? cmd_resolve(c, args[1])
				 : cli_usage_fail("resolve: expected exactly one NAME");
	else if (!strcmp(args[0], "stats") || !strcmp(args[0], "events") ||
		 !strcmp(args[0], "maps") || !strcmp(args[0], "teardown") ||
		 !strcmp(args[0], "status") ||
		 !strcmp(args[0], "dns") || !strcmp(args[0], "grants") ||
		 !strcmp(args[0], "export"))
		ret = cli_usage_fail("%s: unexpected argument '%s'", args[0], args[1]);
	else
		ret = cli_usage_fail("unknown command '%s'", args[0]);
out:
	if (c->fd >= 0)
		close(c->fd);
	zt_line_buf_free(&c->buf);
	free(args);
	free(c);
	return ret;
}
