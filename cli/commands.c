// SPDX-License-Identifier: GPL-2.0-only
/*
 * The command table: every command once, with its words, usage, summary,
 * getopt_long options and handler (the model: xdp-tools' and iproute2's
 * command tables). `ztgate --help`, `ztgate WORDS --help` and the
 * dispatch in main.c all read it; nothing else lists the commands.
 */
#include <stdio.h>
#include <string.h>

#include "cli/command.h"
#include "lib/paths.h"
#include "cli/handlers.h"

#define SUMMARY_COL	34	/* where the summaries start in `ztgate --help` */

static const struct option resource_add_opts[] = {
	{ "address", required_argument, NULL, CLI_OPT_LONG },
	{ "tcp", required_argument, NULL, CLI_OPT_LONG },
	{ "udp", required_argument, NULL, CLI_OPT_LONG },
	{ "icmp", no_argument, NULL, CLI_OPT_LONG },
	{ "deny-mode", required_argument, NULL, CLI_OPT_LONG },
	{ "connector", required_argument, NULL, CLI_OPT_LONG },
	{ 0 }
};

static const struct option device_add_opts[] = {
	{ "pubkey", required_argument, NULL, CLI_OPT_LONG },
	{ "address", required_argument, NULL, CLI_OPT_LONG },
	{ 0 }
};

static const struct option connector_add_opts[] = {
	{ "pubkey", required_argument, NULL, CLI_OPT_LONG },
	{ "endpoint", required_argument, NULL, CLI_OPT_LONG },
	{ 0 }
};

static const struct option apply_opts[] = {
	{ "file", required_argument, NULL, 'f' },
	{ "dry-run", no_argument, NULL, CLI_OPT_LONG },
	{ 0 }
};

static const struct option keygen_opts[] = {
	{ "out", required_argument, NULL, CLI_OPT_LONG },
	{ 0 }
};

static const struct option bugreport_opts[] = {
	{ "out", required_argument, NULL, CLI_OPT_LONG },
	{ 0 }
};

static const struct option ping_opts[] = {
	{ "count", required_argument, NULL, 'c' },
	{ "timeout", required_argument, NULL, CLI_OPT_LONG },
	{ 0 }
};

static const struct option netcheck_opts[] = {
	{ "relay", required_argument, NULL, CLI_OPT_LONG },
	{ 0 }
};

const struct cli_cmd cli_cmds[] = {
	/* The policy's objects (cmd_policy.c) */
	{
		.words = "resource add",
		.usage = "NAME --address ADDR [--tcp LIST] [--udp LIST] [--icmp]\n"
			 "[--deny-mode drop|reject] [--connector NAME]",
		.summary = "add a resource: what devices may reach, and how",
		.details = "ADDR: an IPv4/IPv6 address or CIDR, a DNS name (nas.home.int) or a\n"
			   "  wildcard ('*.home.int': every name below home.int)\n"
			   "LIST: 22,443,8000-8100 or all (no --tcp means no TCP; likewise --udp)\n"
			   "--icmp: ICMP/ICMPv6 echo allowed too\n"
			   "--deny-mode: what denied traffic gets: drop (the default: nothing) or\n"
			   "  reject (refused at once: a TCP RST, an ICMP port unreachable)\n"
			   "--connector: the connector a client reaches it through",
		.opts = resource_add_opts,
		.pos = { "NAME" },
		.min_pos = 1,
		.required = { "address" },
		.run = cmd_resource_add,
	},
	{
		.words = "resource list",
		.alias = "resource ls",
		.usage = "",
		.summary = "every resource and its rules",
		.run = cmd_resource_list,
	},
	{
		.words = "resource show",
		.usage = "NAME",
		.summary = "one resource's rules and counters",
		.pos = { "NAME" },
		.min_pos = 1,
		.run = cmd_resource_show,
	},
	{
		.words = "resource rm",
		.alias = "resource remove",
		.usage = "NAME",
		.summary = "remove a resource (its grants go with it)",
		.pos = { "NAME" },
		.min_pos = 1,
		.run = cmd_resource_rm,
	},
	{
		.words = "device add",
		.usage = "NAME --pubkey KEY --address 100.64.X.Y",
		.summary = "add a device: a client's key and tunnel address",
		.details = "KEY: the device's public key (ztgate pubkey), base64\n"
			   "100.64.X.Y: its address in the tunnel (ztgated client --address)",
		.opts = device_add_opts,
		.pos = { "NAME" },
		.min_pos = 1,
		.required = { "pubkey", "address" },
		.run = cmd_device_add,
	},
	{
		.words = "device list",
		.alias = "device ls",
		.usage = "",
		.summary = "every device: address, grants, public key",
		.run = cmd_device_list,
	},
	{
		.words = "device rm",
		.alias = "device remove",
		.usage = "NAME",
		.summary = "remove a device (its grants go with it)",
		.pos = { "NAME" },
		.min_pos = 1,
		.run = cmd_device_rm,
	},
	{
		.words = "connector add",
		.usage = "NAME --pubkey KEY [--endpoint IP:PORT|[IPv6]:PORT]",
		.summary = "add a connector: where a client reaches resources",
		.details = "KEY: the connector's public key, base64\n"
			   "without --endpoint it is reached through relays only (--relay on the client)",
		.opts = connector_add_opts,
		.pos = { "NAME" },
		.min_pos = 1,
		.required = { "pubkey" },
		.run = cmd_connector_add,
	},
	{
		.words = "connector list",
		.alias = "connector ls",
		.usage = "",
		.summary = "every connector: endpoint, public key, resources",
		.run = cmd_connector_list,
	},
	{
		.words = "connector rm",
		.alias = "connector remove",
		.usage = "NAME",
		.summary = "remove a connector (refused while a resource uses it)",
		.pos = { "NAME" },
		.min_pos = 1,
		.run = cmd_connector_rm,
	},
	{
		.words = "grant",
		.usage = "DEVICE RESOURCE",
		.summary = "let DEVICE reach RESOURCE",
		.pos = { "DEVICE", "RESOURCE" },
		.min_pos = 2,
		.run = cmd_grant,
	},
	{
		.words = "grant list",
		.alias = "grants",
		.usage = "",
		.summary = "every grant (or: ztgate grants)",
		.run = cmd_grant_list,
	},
	{
		.words = "revoke",
		.usage = "DEVICE RESOURCE",
		.summary = "take DEVICE's grant of RESOURCE away, open flows included",
		.pos = { "DEVICE", "RESOURCE" },
		.min_pos = 2,
		.run = cmd_revoke,
	},
	/* The whole policy (cmd_apply.c) */
	{
		.words = "apply",
		.usage = "-f FILE [--dry-run]",
		.summary = "replace the whole policy with FILE ('-': stdin)",
		.details = "FILE is validated whole and swapped in atomically, or nothing changes;\n"
			   "prints one line per change (+ added, - removed, ~ changed)\n"
			   "--dry-run: print the changes, apply nothing",
		.opts = apply_opts,
		.required = { "file" },
		.run = cmd_apply,
	},
	{
		.words = "export",
		.usage = "",
		.summary = "the whole policy as the document apply reads",
		.run = cmd_export,
	},
	/* Keys (cmd_keys.c), no daemon needed */
	{
		.words = "keygen",
		.usage = "--out FILE",
		.summary = "new X25519 private key in FILE (mode 0600), prints its public key",
		.details = "no daemon needed; an existing FILE is never overwritten",
		.opts = keygen_opts,
		.required = { "out" },
		.run = cmd_keygen,
	},
	{
		.words = "pubkey",
		.usage = "[FILE]",
		.summary = "the public key of the private key in FILE (default: stdin)",
		.details = "no daemon needed; a FILE readable by group or others is refused",
		.pos = { "FILE" },
		.run = cmd_pubkey,
	},
	/* What the daemon sees (cmd_observe.c) */
	{
		.words = "stats",
		.usage = "",
		.summary = "per-resource allowed/denied packets and bytes",
		.run = cmd_stats,
	},
	{
		.words = "reauth",
		.usage = "TOKEN",
		.summary = "re-authenticate this device with its controller (security policy session)",
		.details = "TOKEN: a new device token of this device's user (ztgate admin device token\n"
			   "  --user EMAIL); the controller checks it and starts the device's session\n"
			   "  again. Waits up to 5 s for the controller's answer.",
		.pos = { "TOKEN" }, .min_pos = 1,
		.run = cmd_reauth,
	},
	{
		.words = "status",
		.usage = "",
		.summary = "what runs: role, version, paths, policy; each peer's path (tunnel roles)",
		.details = "role, version, pin dir, socket, state dir; for roles with a policy its\n"
			   "fingerprint and active generation, the enforcer's hooks; for the client\n"
			   "and connector each peer's path (direct, relayed-udp or relayed-tcp),\n"
			   "endpoint, RTT, last handshake, bytes each way, and each relay",
		.run = cmd_status,
	},
	{
		.words = "health",
		.usage = "",
		.summary = "is the daemon healthy (exit 0) or not (exit 1): the checks of /healthz",
		.details = "control socket, data plane, and the role's own parts (TUN, DNS, tunnel,\n"
			   "relay sockets); for scripts and probes",
		.run = cmd_health,
	},
	{
		.words = "events",
		.usage = "",
		.summary = "follow denied flows and scans",
		.run = cmd_events,
	},
	{
		.words = "maps",
		.usage = "",
		.summary = "pinned BPF maps and the bpftool commands that read them",
		.run = cmd_maps,
	},
	{
		.words = "dns",
		.usage = "",
		.summary = "client: names answered with fake IPs",
		.details = "name, fake IP, resource, last use",
		.run = cmd_dns,
	},
	{
		.words = "resolve",
		.usage = "NAME",
		.summary = "client: what the DNS server would answer for NAME, and why",
		.pos = { "NAME" },
		.min_pos = 1,
		.run = cmd_resolve,
	},
	{
		.words = "ping",
		.usage = "PEER|RESOURCE [-c N] [--timeout SECONDS]",
		.summary = "tunnel-level ping: the path each probe took and its RTT",
		.details = "client: PEER is a connector, or RESOURCE the resource whose connector is\n"
			   "  pinged; connector: PEER is a device\n"
			   "a probe goes along the peer's current path (a handshake first if no session\n"
			   "  is up) and is answered the way it came: printed per probe as direct\n"
			   "  IP:PORT or relayed via RELAY over udp/tcp, with its round trip; then a\n"
			   "  summary; exit 1 if no probe was answered\n"
			   "-c: probes, one a second (default 5); --timeout: per probe (default 2)",
		.opts = ping_opts,
		.pos = { "PEER" },
		.min_pos = 1,
		.run = cmd_ping,
	},
	{
		.words = "teardown",
		.usage = "",
		.summary = "detach every program, remove pins, stop the daemon",
		.run = cmd_teardown,
	},
	{
		.words = "bugreport",
		.usage = "[--out FILE]",
		.summary = "one archive for a bug report: status, health, stats, maps, versions; no secrets",
		.details = "versions, kernel features, the daemon's status, health, stats, policy\n"
			   "document (public keys only), bpftool dumps of every pinned map, attached\n"
			   "programs, links and routes, the unit's recent log; default FILE:\n"
			   "ztgate-bugreport-DATE.tar.gz in the current directory",
		.opts = bugreport_opts,
		.run = cmd_bugreport,
	},
	/* The network (netcheck.c), no daemon needed */
	{
		.words = "netcheck",
		.usage = "--relay HOST:PORT...",
		.summary = "UDP reachability, public endpoint, RTT, hard NAT",
		.details = "no daemon needed; --relay: a relay or any STUN server ([IPv6]:PORT too),\n"
			   "up to 16; with answers from two, whether the NAT's mapping depends on\n"
			   "the destination (hard NAT: hole punching will not work through it)",
		.opts = netcheck_opts,
		.repeatable = "relay",
		.run = cmd_netcheck,
	},
	{ 0 }
};

/* Do the space-separated words of SPEC match WORDS[0..N) (PREFIX: start with them)? */
static bool spec_match(const char *spec, char *const *words, int n, bool prefix)
{
	for (int i = 0; i < n; i++) {
		size_t len = strlen(words[i]);

		if (!len || strncmp(spec, words[i], len) || (spec[len] && spec[len] != ' '))
			return false;
		spec += len;
		spec += *spec == ' ';
	}
	return prefix || !*spec;
}

bool cli_cmd_words_match(const struct cli_cmd *cmd, char *const *words, int n, bool prefix)
{
	return spec_match(cmd->words, words, n, prefix) ||
	       (cmd->alias && spec_match(cmd->alias, words, n, prefix));
}

/* "  WORDS USAGE" (continuation lines aligned), then SUMMARY at SUMMARY_COL. */
static void print_entry(FILE *f, const struct cli_cmd *cmd)
{
	const char *u = cmd->usage;
	int col = fprintf(f, "  %s%s", cmd->words, *u ? " " : "");
	int indent = col;

	for (;;) {
		size_t len = strcspn(u, "\n");

		col += fprintf(f, "%.*s", (int)len, u);
		if (!u[len])
			break;
		u += len + 1;
		col = fprintf(f, "\n%*s", indent, "") - 1;
	}
	if (col + 2 > SUMMARY_COL)
		col = fprintf(f, "\n") - 1;
	fprintf(f, "%*s%s\n", SUMMARY_COL - col, "", cmd->summary);
}

/* The command tables, in the order help lists them. */
static const struct cli_cmd *const tables[] = { cli_cmds, cli_admin_cmds };

const struct cli_cmd *cli_cmd_first(void)
{
	return cli_cmds;
}

const struct cli_cmd *cli_cmd_next(const struct cli_cmd *cmd)
{
	if (cmd[1].words)
		return cmd + 1;
	/* CMD ends a table: the next table's first, if there is one. */
	for (size_t t = 0; t + 1 < sizeof(tables) / sizeof(tables[0]); t++) {
		const struct cli_cmd *last = tables[t];

		while (last[1].words)
			last++;
		if (last == cmd)
			return tables[t + 1]->words ? tables[t + 1] : NULL;
	}
	return NULL;
}

void cli_usage(FILE *f)
{
	fprintf(f, "usage: ztgate [--socket PATH | --role ROLE] [--json] COMMAND [ARGS]\n"
		   "       ztgate COMMAND --help      that command's usage\n"
		   "commands:\n");
	for (const struct cli_cmd *cmd = cli_cmd_first(); cmd; cmd = cli_cmd_next(cmd))
		print_entry(f, cmd);
	fprintf(f, "global options, before or after the command:\n"
		   "  --socket PATH  the daemon's socket (default: $ZTGATE_SOCKET, else the one\n"
		   "                 daemon answering in %s)\n"
		   "  --role ROLE    the socket of that role's daemon (%s/ROLE.sock)\n"
		   "  --json         print replies as JSON, for scripts\n"
		   "  --version      this CLI's version\n"
		   "remote admin (`ztgate admin ...` only), over the controller's node port:\n"
		   "  --controller HOST:PORT    the controller ($ZTGATE_CONTROLLER)\n"
		   "  --api-key KEY             an API key, ztak1_... ($ZTGATE_API_KEY)\n"
		   "  --controller-key PUBKEY   the controller's public key, checked against\n"
		   "                            the one in the API key ($ZTGATE_CONTROLLER_KEY)\n",
		   ZT_RUN_DIR, ZT_RUN_DIR);
}

void cli_cmd_help(FILE *f, const struct cli_cmd *cmd)
{
	const char *u = cmd->usage, *d = cmd->details;
	int indent = fprintf(f, "usage: ztgate %s%s", cmd->words, *u ? " " : "");

	for (;;) {
		size_t len = strcspn(u, "\n");

		fprintf(f, "%.*s\n", (int)len, u);
		if (!u[len])
			break;
		u += len + 1;
		fprintf(f, "%*s", indent, "");
	}
	fprintf(f, "%s\n", cmd->summary);
	while (d && *d) {
		size_t len = strcspn(d, "\n");

		fprintf(f, "  %.*s\n", (int)len, d);
		d += len + !!d[len];
	}
	if (cmd->alias)
		fprintf(f, "also: ztgate %s\n", cmd->alias);
	fprintf(f, "global options: --socket PATH, --role ROLE, --json (see ztgate --help)\n");
}

/* WORDS[0..N) as one string: "resource add". */
static const char *join_words(char *buf, size_t len, char *const *words, int n)
{
	buf[0] = '\0';
	for (int k = 0; k < n; k++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", k ? " " : "", words[k]);
	return buf;
}

bool cli_usage_of(FILE *f, char *const *words, int n)
{
	const struct cli_cmd *cmd;
	char group[64];
	int found = 0;

	for (cmd = cli_cmd_first(); cmd; cmd = cli_cmd_next(cmd)) {
		if (cli_cmd_words_match(cmd, words, n, false)) {
			cli_cmd_help(f, cmd);
			return true;
		}
	}
	for (cmd = cli_cmd_first(); cmd; cmd = cli_cmd_next(cmd)) {
		if (!spec_match(cmd->words, words, n, true))
			continue;
		if (!found++)
			fprintf(f, "usage: ztgate [--socket PATH] [--json] %s COMMAND [ARGS]\n"
				   "commands:\n", join_words(group, sizeof(group), words, n));
		print_entry(f, cmd);
	}
	return found;
}

/* Word N of SPEC ("resource add": 1 is "add"), its length in *LEN; NULL if it has none. */
static const char *nth_word(const char *spec, int n, size_t *len)
{
	for (; n > 0 && *spec; n--) {
		spec += strcspn(spec, " ");
		spec += *spec == ' ';
	}
	*len = strcspn(spec, " ");
	return *len ? spec : NULL;
}

/* Does a command before UPTO, starting with WORDS[0..N), have W (LEN bytes) as word N? */
static bool listed_before(const struct cli_cmd *upto, char *const *words, int n, const char *w,
			  size_t len)
{
	for (const struct cli_cmd *cmd = cli_cmd_first(); cmd && cmd != upto; cmd = cli_cmd_next(cmd)) {
		size_t l;
		const char *x = nth_word(cmd->words, n, &l);

		if (x && l == len && !strncmp(x, w, len) && spec_match(cmd->words, words, n, true))
			return true;
	}
	return false;
}

int cli_group_fail(char *const *words, int n, const char *next)
{
	char group[64], expected[512] = "";
	int count = 0, i = 0;
	const struct cli_cmd *cmd;
	size_t len;

	join_words(group, sizeof(group), words, n);
	for (cmd = cli_cmd_first(); cmd; cmd = cli_cmd_next(cmd)) {
		const char *w = nth_word(cmd->words, n, &len);

		count += w && spec_match(cmd->words, words, n, true) &&
			 !listed_before(cmd, words, n, w, len);
	}
	/* "add, list, show or rm" */
	for (cmd = cli_cmd_first(); cmd; cmd = cli_cmd_next(cmd)) {
		const char *w = nth_word(cmd->words, n, &len);

		if (!w || !spec_match(cmd->words, words, n, true) || listed_before(cmd, words, n, w, len))
			continue;
		snprintf(expected + strlen(expected), sizeof(expected) - strlen(expected), "%s%.*s",
			 !i ? "" : i == count - 1 ? " or " : ", ", (int)len, w);
		i++;
	}
	if (next)
		fprintf(stderr, "ztgate: %s: unknown subcommand '%s'", group, next);
	else
		fprintf(stderr, "ztgate: %s: expected %s", group, expected);
	fprintf(stderr, " (see ztgate %s --help)\n", group);
	return CLI_EXIT_USAGE;
}
