// SPDX-License-Identifier: GPL-2.0-only
/*
 * The controller's admin commands (`ztgate admin ...`): one table, read by
 * the CLI's dispatch and help like the node commands' (commands.c). Every
 * entry runs through cmd_admin.c, which makes the request "admin.KIND.VERB"
 * from the words and the options and prints the reply.
 */
#include <stddef.h>

#include "cli/command.h"
#include "cli/handlers.h"

#define OPT(name, arg) { name, arg, NULL, CLI_OPT_LONG }

static const struct option describe_opts[] = { OPT("description", required_argument), { 0 } };
static const struct option user_opts[] = {
	OPT("group", required_argument), OPT("display-name", required_argument),
	OPT("role", required_argument), OPT("disable", no_argument), OPT("enable", no_argument),
	{ 0 }
};
static const struct option sa_opts[] = {
	OPT("group", required_argument), OPT("disable", no_argument), OPT("enable", no_argument),
	{ 0 }
};
static const struct option connector_opts[] = {
	OPT("network", required_argument), OPT("expires", required_argument), { 0 }
};
static const struct option expires_opts[] = { OPT("expires", required_argument), { 0 } };
static const struct option resource_opts[] = {
	OPT("network", required_argument), OPT("address", required_argument),
	OPT("tcp", required_argument), OPT("udp", required_argument), OPT("icmp", no_argument),
	OPT("no-icmp", no_argument), OPT("deny-mode", required_argument),
	OPT("alias", required_argument), { 0 }
};
static const struct option policy_opts[] = {
	OPT("session-lifetime", required_argument), OPT("hours", required_argument),
	OPT("tz", required_argument), { 0 }
};
static const struct option access_opts[] = {
	OPT("group", required_argument), OPT("resource", required_argument),
	OPT("policy", required_argument), { 0 }
};
static const struct option token_opts[] = {
	OPT("user", required_argument), OPT("service-account", required_argument),
	OPT("expires", required_argument), OPT("count", required_argument),
	OPT("key-expires", required_argument), { 0 }
};
static const struct option key_expires_opts[] = { OPT("key-expires", required_argument), { 0 } };
static const struct option apply_opts[] = {
	{ "file", required_argument, NULL, 'f' }, OPT("dry-run", no_argument), { 0 }
};
static const struct option relay_opts[] = { OPT("address", required_argument), { 0 } };
static const struct option apikey_opts[] = {
	OPT("role", required_argument), OPT("expires", required_argument), { 0 }
};
static const struct option connections_opts[] = { OPT("follow", no_argument), { 0 } };
static const struct option audit_opts[] = {
	OPT("verify", no_argument), OPT("since", required_argument), { 0 }
};

/* list, show and rm of KIND, whose objects are named by WHAT. */
#define READ_RM(kind, what) \
	{ .words = "admin " kind " list", .alias = "admin " kind " ls", .usage = "", \
	  .summary = "every " kind, .run = cmd_admin }, \
	{ .words = "admin " kind " show", .usage = what, .summary = "one " kind ", all its fields", \
	  .pos = { what }, .min_pos = 1, .run = cmd_admin }, \
	{ .words = "admin " kind " rm", .alias = "admin " kind " remove", .usage = what, \
	  .summary = "remove a " kind, .pos = { what }, .min_pos = 1, .run = cmd_admin }

/* add and set of KIND with OPTS. */
#define ADD_SET(kind, what, optv, usage_opts, ...) \
	{ .words = "admin " kind " add", .usage = what " " usage_opts, .summary = "add a " kind, \
	  .opts = optv, .pos = { what }, .min_pos = 1, .required = { __VA_ARGS__ }, \
	  .repeatable = "group", .run = cmd_admin }, \
	{ .words = "admin " kind " set", .usage = what " " usage_opts, \
	  .summary = "change a " kind "'s fields (those given)", .opts = optv, .pos = { what }, \
	  .min_pos = 1, .repeatable = "group", .run = cmd_admin }

const struct cli_cmd cli_admin_cmds[] = {
	ADD_SET("network", "NAME", describe_opts, "[--description TEXT]"),
	READ_RM("network", "NAME"),
	{
		.words = "admin connector add",
		.usage = "NAME --network NET [--expires 24h]",
		.summary = "add a connector; prints its one-time enrollment token (last line)",
		.details = "ztgated connector --controller HOST:PORT --token TOKEN enrolls it\n"
			   "--expires: how long the token works (default 24h; 30m, 7d, seconds)",
		.opts = connector_opts, .pos = { "NAME" }, .min_pos = 1,
		.required = { "network" }, .run = cmd_admin,
	},
	{
		.words = "admin connector set", .usage = "NAME --network NET",
		.summary = "move a connector to another network", .opts = connector_opts,
		.pos = { "NAME" }, .min_pos = 1, .run = cmd_admin,
	},
	{
		.words = "admin connector token", .usage = "NAME [--expires 24h]",
		.summary = "a new one-time enrollment token for a connector (last line)",
		.opts = expires_opts, .pos = { "NAME" }, .min_pos = 1, .run = cmd_admin,
	},
	READ_RM("connector", "NAME"),
	ADD_SET("resource", "NAME", resource_opts,
		"--network NET --address ADDR [--tcp LIST] [--udp LIST]\n"
		"[--icmp|--no-icmp] [--deny-mode drop|reject] [--alias NAME]",
		"network", "address"),
	READ_RM("resource", "NAME"),
	ADD_SET("group", "NAME", describe_opts, "[--description TEXT]"),
	READ_RM("group", "NAME"),
	{
		.words = "admin group add-member", .usage = "GROUP EMAIL|SERVICE-ACCOUNT",
		.summary = "put a user (an email) or a service account in a group",
		.pos = { "GROUP", "MEMBER" }, .min_pos = 2, .run = cmd_admin,
	},
	{
		.words = "admin group rm-member", .usage = "GROUP EMAIL|SERVICE-ACCOUNT",
		.summary = "take a user or a service account out of a group",
		.pos = { "GROUP", "MEMBER" }, .min_pos = 2, .run = cmd_admin,
	},
	ADD_SET("user", "EMAIL", user_opts,
		"[--group G]... [--display-name NAME] [--role admin|member]\n[--disable|--enable]" ),
	READ_RM("user", "EMAIL"),
	ADD_SET("service-account", "NAME", sa_opts, "[--group G]... [--disable|--enable]"),
	READ_RM("service-account", "NAME"),
	ADD_SET("policy", "NAME", policy_opts,
		"[--session-lifetime 8h] [--hours '[Mon-Fri ]HH:MM-HH:MM']\n[--tz Europe/Berlin]" ),
	READ_RM("policy", "NAME"),
	ADD_SET("relay", "NAME", relay_opts, "--address HOST:PORT", "address"),
	READ_RM("relay", "NAME"),
	{
		.words = "admin access add", .usage = "--group G --resource R [--policy P]",
		.summary = "let group G reach resource R (under security policy P)",
		.opts = access_opts, .required = { "group", "resource" }, .run = cmd_admin,
	},
	{
		.words = "admin access set", .usage = "--group G --resource R --policy P",
		.summary = "change an access rule's security policy", .opts = access_opts,
		.required = { "group", "resource" }, .run = cmd_admin,
	},
	{
		.words = "admin access rm", .alias = "admin access remove",
		.usage = "--group G --resource R", .summary = "take group G's access to R away",
		.opts = access_opts, .required = { "group", "resource" }, .run = cmd_admin,
	},
	{
		.words = "admin access list", .alias = "admin access ls", .usage = "",
		.summary = "every access rule", .run = cmd_admin,
	},
	{
		.words = "admin device token",
		.usage = "--user EMAIL | --service-account NAME [--expires 24h] [--count N]"
			 " [--key-expires 90d]",
		.summary = "a one-time token that enrolls a new device (last line; --count: N lines)",
		.details = "ztgated client --controller HOST:PORT --token TOKEN enrolls it\n"
			   "--key-expires (service accounts): the enrolled key stops working that\n"
			   "long after its enrollment",
		.opts = token_opts, .run = cmd_admin,
	},
	{
		.words = "admin device list", .alias = "admin device ls", .usage = "",
		.summary = "every enrolled device", .run = cmd_admin,
	},
	{
		.words = "admin device show", .usage = "NAME", .summary = "one device",
		.pos = { "NAME" }, .min_pos = 1, .run = cmd_admin,
	},
	{
		.words = "admin device set", .usage = "NAME --key-expires D|never",
		.summary = "renew a service account device's key in place: it expires D from now",
		.opts = key_expires_opts, .pos = { "NAME" }, .min_pos = 1,
		.required = { "key-expires" }, .run = cmd_admin,
	},
	{
		.words = "admin device rm", .alias = "admin device remove", .usage = "NAME",
		.summary = "revoke a device", .pos = { "NAME" }, .min_pos = 1, .run = cmd_admin,
	},
	{
		.words = "admin api-key add", .usage = "NAME --role read-only|read-write [--expires 30d]",
		.summary = "an API key for remote admin; printed once (last line), stored as a hash",
		.details = "ztgate admin --controller HOST:PORT --api-key KEY ... uses it over the\n"
			   "  controller's node port; read-only keys run list, show, status, audit\n"
			   "  and export only\n"
			   "--expires: how long it works (default: until removed; 30d, 24h, 30m)",
		.opts = apikey_opts, .pos = { "NAME" }, .min_pos = 1, .required = { "role" },
		.run = cmd_admin,
	},
	READ_RM("api-key", "NAME"),
	{
		.words = "admin status", .usage = "",
		.summary = "the model's revision and how many nodes applied it", .run = cmd_admin,
	},
	{
		.words = "admin audit", .usage = "[--verify] [--since UNIX-TIME]",
		.summary = "the audit trail; --verify checks its hash chain",
		.opts = audit_opts, .run = cmd_admin,
	},
	{
		.words = "admin connections", .usage = "[--follow]",
		.summary = "the connectors' recent connection logs, with who, device and network",
		.details = "The controller keeps the last 4096 lines its connectors sent (memory only).\n"
			   "--follow: keep printing new lines until interrupted\n"
			   "--json: one JSON line per connection line, as the connector logged it",
		.opts = connections_opts, .run = cmd_admin_connections,
	},
	{
		.words = "admin export", .usage = "", .summary = "the whole model as one JSON document",
		.run = cmd_admin,
	},
	{
		.words = "admin apply", .usage = "-f FILE [--dry-run]",
		.summary = "make the model what FILE says (admin export's form), atomically",
		.details = "FILE ('-': stdin) is validated whole, its \"tests\" ([{\"user\": EMAIL,\n"
			   "  \"allow\": [RESOURCE...], \"deny\": [...]}]) must pass, then every change\n"
			   "  is committed at once; prints one line per change (+ added, ~ changed,\n"
			   "  - removed). Devices stay unless their owner goes.\n"
			   "--dry-run: print the changes, apply nothing",
		.opts = apply_opts, .required = { "file" }, .run = cmd_admin_apply,
	},
	{ 0 }
};
