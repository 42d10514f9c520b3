// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy's objects, one at a time: resources (what may be reached),
 * devices (who reaches it), connectors (where it is reached through) and
 * grants (device -> resource). Each command is one request; the daemon
 * validates, the CLI prints what it answered.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/args.h"
#include "cli/handlers.h"
#include "cli/output.h"
#include "cli/request.h"

static void print_resource_table(json_object *arr)
{
	size_t i, n = json_object_array_length(arr);

	printf("%-20s %5s  %-24s %-20s %-20s %-5s %-6s %s\n", "NAME", "ID", "ADDRESS", "TCP",
	       "UDP", "ICMP", "DENY", "CONNECTOR");
	for (i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(arr, i), *v;
		bool icmp = json_object_object_get_ex(r, "icmp", &v) && json_object_get_boolean(v);

		printf("%-20s %5lld  %-24s %-20s %-20s %-5s %-6s %s\n", get_str(r, "name"),
		       get_int(r, "id"), get_str(r, "address"), or_dash(get_str(r, "tcp")),
		       or_dash(get_str(r, "udp")), icmp ? "yes" : "no", get_str(r, "deny_mode"),
		       or_dash(get_str(r, "connector")));
	}
	if (!n)
		printf("(no resources)\n");
}

static int cmd_resource_add(struct cli *c, int argc, char **argv)
{
	const char *name = NULL, *address = NULL, *tcp = NULL, *udp = NULL, *deny = NULL;
	const char *connector = NULL;
	bool icmp = false;
	json_object *req, *resp;
	int i;

	for (i = 0; i < argc; i++) {
		const char **slot = NULL;
		const char *a = argv[i];

		if (!strcmp(a, "--address"))
			slot = &address;
		else if (!strcmp(a, "--tcp"))
			slot = &tcp;
		else if (!strcmp(a, "--udp"))
			slot = &udp;
		else if (!strcmp(a, "--deny-mode"))
			slot = &deny;
		else if (!strcmp(a, "--connector"))
			slot = &connector;
		else if (!strcmp(a, "--icmp")) {
			icmp = true;
			continue;
		} else if (a[0] == '-' && a[1]) {
			return cli_usage_fail("resource add: unknown option '%s'", a);
		} else if (!name) {
			name = a;
			continue;
		} else {
			return cli_usage_fail("resource add: unexpected argument '%s'", a);
		}
		if (i + 1 >= argc)
			return cli_usage_fail("resource add: %s needs a value", a);
		if (*slot)
			return cli_usage_fail("resource add: %s given twice", a);
		*slot = argv[++i];
	}
	if (!name)
		return cli_usage_fail("resource add: missing NAME");
	if (!address)
		return cli_usage_fail("resource add: missing --address");

	req = cli_request("resource.add");
	json_object_object_add(req, "name", json_object_new_string(name));
	json_object_object_add(req, "address", json_object_new_string(address));
	if (tcp)
		json_object_object_add(req, "tcp", json_object_new_string(tcp));
	if (udp)
		json_object_object_add(req, "udp", json_object_new_string(udp));
	json_object_object_add(req, "icmp", json_object_new_boolean(icmp));
	if (deny)
		json_object_object_add(req, "deny_mode", json_object_new_string(deny));
	if (connector)
		json_object_object_add(req, "connector", json_object_new_string(connector));
	resp = cli_call(c, req);
	if (!resp)
		return 1;
	if (c->json) {
		cli_print_json(resp);
	} else {
		json_object *r;

		json_object_object_get_ex(resp, "resource", &r);
		printf("added resource %s (id %lld): %s tcp=%s udp=%s icmp=%s deny=%s%s%s\n",
		       get_str(r, "name"), get_int(r, "id"), get_str(r, "address"),
		       or_dash(get_str(r, "tcp")), or_dash(get_str(r, "udp")),
		       json_object_get_boolean(json_object_object_get(r, "icmp")) ? "yes" : "no",
		       get_str(r, "deny_mode"), *get_str(r, "connector") ? " via " : "",
		       get_str(r, "connector"));
	}
	json_object_put(resp);
	return 0;
}

/* "removed device alice and its grants: alice -> web, ..." */
static void print_removed(const char *kind, const char *name, json_object *resp)
{
	json_object *arr;
	size_t i, n = 0;

	if (json_object_object_get_ex(resp, "removed_grants", &arr))
		n = json_object_array_length(arr);
	printf("removed %s %s", kind, name);
	for (i = 0; i < n; i++) {
		json_object *g = json_object_array_get_idx(arr, i);

		printf("%s%s -> %s", i ? ", " : n == 1 ? " and its grant: " : " and its grants: ",
		       get_str(g, "device"), get_str(g, "resource"));
	}
	putchar('\n');
}

static int cmd_named(struct cli *c, const char *cmd, const char *what, int argc, char **argv,
		     json_object **out)
{
	json_object *req;

	*out = NULL;
	if (argc != 1)
		return cli_usage_fail("%s: expected exactly one NAME", what);
	req = cli_request(cmd);
	json_object_object_add(req, "name", json_object_new_string(argv[0]));
	*out = cli_call(c, req);
	return *out ? 0 : 1;
}

int cmd_resource(struct cli *c, int argc, char **argv)
{
	json_object *resp, *v;

	if (argc < 1)
		return cli_usage_fail("resource: expected add, list, show or rm");
	if (!strcmp(argv[0], "add"))
		return cmd_resource_add(c, argc - 1, argv + 1);
	if (!strcmp(argv[0], "list") || !strcmp(argv[0], "ls")) {
		if (argc != 1)
			return cli_usage_fail("resource list: unexpected argument '%s'", argv[1]);
		resp = cli_call(c, cli_request("resource.list"));
		if (!resp)
			return 1;
		if (c->json)
			cli_print_json(resp);
		else if (json_object_object_get_ex(resp, "resources", &v))
			print_resource_table(v);
		json_object_put(resp);
		return 0;
	}
	if (!strcmp(argv[0], "show")) {
		if (cmd_named(c, "resource.show", "resource show", argc - 1, argv + 1, &resp))
			return 1;
		if (c->json) {
			cli_print_json(resp);
		} else {
			json_object *r, *cnt;

			json_object_object_get_ex(resp, "resource", &r);
			json_object_object_get_ex(r, "counters", &cnt);
			printf("name:       %s\nid:         %lld\naddress:    %s\ntcp:        %s\n"
			       "udp:        %s\nicmp:       %s\ndeny mode:  %s\nconnector:  %s\n"
			       "allowed:    %lld packets, %lld bytes\n"
			       "denied:     %lld packets, %lld bytes\n",
			       get_str(r, "name"), get_int(r, "id"), get_str(r, "address"),
			       or_dash(get_str(r, "tcp")), or_dash(get_str(r, "udp")),
			       json_object_get_boolean(json_object_object_get(r, "icmp")) ? "yes" : "no",
			       get_str(r, "deny_mode"), or_dash(get_str(r, "connector")),
			       get_int(cnt, "allowed_packets"),
			       get_int(cnt, "allowed_bytes"), get_int(cnt, "denied_packets"),
			       get_int(cnt, "denied_bytes"));
		}
		json_object_put(resp);
		return 0;
	}
	if (!strcmp(argv[0], "rm") || !strcmp(argv[0], "remove")) {
		if (cmd_named(c, "resource.rm", "resource rm", argc - 1, argv + 1, &resp))
			return 1;
		if (c->json)
			cli_print_json(resp);
		else
			print_removed("resource", argv[1], resp);
		json_object_put(resp);
		return 0;
	}
	return cli_usage_fail("resource: unknown subcommand '%s'", argv[0]);
}

static void print_device_added(json_object *resp)
{
	json_object *dev = json_object_object_get(resp, "device");

	printf("added device %s (id %lld): address %s key %s\n", get_str(dev, "name"),
	       get_int(dev, "id"), get_str(dev, "address"), get_str(dev, "pubkey"));
}

static void print_devices(json_object *resp)
{
	json_object *arr = json_object_object_get(resp, "devices");
	size_t i, n = json_object_array_length(arr);

	printf("%-20s %5s  %-16s %6s  %s\n", "NAME", "ID", "ADDRESS", "GRANTS", "PUBLIC KEY");
	for (i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(arr, i);

		printf("%-20s %5lld  %-16s %6lld  %s\n", get_str(d, "name"), get_int(d, "id"),
		       get_str(d, "address"), get_int(d, "grants"), get_str(d, "pubkey"));
	}
	if (!n)
		printf("(no devices)\n");
}

static void print_connector_added(json_object *resp)
{
	json_object *con = json_object_object_get(resp, "connector");

	printf("added connector %s: endpoint %s key %s\n", get_str(con, "name"),
	       get_str_or(con, "endpoint", "none (relays only)"), get_str(con, "pubkey"));
}

static void print_connectors(json_object *resp)
{
	json_object *arr = json_object_object_get(resp, "connectors");
	size_t i, j, n = json_object_array_length(arr);

	printf("%-20s %-30s %-44s  %s\n", "NAME", "ENDPOINT", "PUBLIC KEY", "RESOURCES");
	for (i = 0; i < n; i++) {
		json_object *con = json_object_array_get_idx(arr, i);
		json_object *res = json_object_object_get(con, "resources");
		size_t m = json_object_array_length(res);

		printf("%-20s %-30s %-44s  ", get_str(con, "name"), get_str_or(con, "endpoint", "-"),
		       get_str(con, "pubkey"));
		for (j = 0; j < m; j++)
			printf("%s%s", j ? "," : "",
			       json_object_get_string(json_object_array_get_idx(res, j)));
		printf("%s\n", m ? "" : "-");
	}
	if (!n)
		printf("(no connectors)\n");
}

static void print_grants(json_object *resp)
{
	json_object *arr = json_object_object_get(resp, "grants");
	size_t i, n = json_object_array_length(arr);

	printf("%-20s %s\n", "DEVICE", "RESOURCE");
	for (i = 0; i < n; i++) {
		json_object *g = json_object_array_get_idx(arr, i);

		printf("%-20s %s\n", get_str(g, "device"), get_str(g, "resource"));
	}
	if (!n)
		printf("(no grants)\n");
}

int cmd_device(struct cli *c, int argc, char **argv)
{
	json_object *req, *resp;

	if (argc < 1)
		return cli_usage_fail("device: expected add, list or rm");
	if (!strcmp(argv[0], "add")) {
		static const char *const names[] = { "NAME" };
		const char *name, *pubkey = NULL, *address = NULL;
		const struct cli_value_opt opts[] = { { "--pubkey", &pubkey, false },
						  { "--address", &address, false }, { 0 } };
		int ret = cli_parse_args("device add", argc - 1, argv + 1, opts, &name, names, 1);

		if (ret)
			return ret;
		req = cli_request("device.add");
		json_object_object_add(req, "name", json_object_new_string(name));
		json_object_object_add(req, "pubkey", json_object_new_string(pubkey));
		json_object_object_add(req, "address", json_object_new_string(address));
		return cli_print_reply(c, cli_call(c, req), print_device_added);
	}
	if (!strcmp(argv[0], "list") || !strcmp(argv[0], "ls")) {
		if (argc != 1)
			return cli_usage_fail("device list: unexpected argument '%s'", argv[1]);
		return cli_print_reply(c, cli_call(c, cli_request("device.list")), print_devices);
	}
	if (!strcmp(argv[0], "rm") || !strcmp(argv[0], "remove")) {
		int ret = cmd_named(c, "device.rm", "device rm", argc - 1, argv + 1, &resp);

		if (ret)
			return ret;
		if (!cli_printed_as_json(c, resp)) {
			print_removed("device", argv[1], resp);
			json_object_put(resp);
		}
		return 0;
	}
	return cli_usage_fail("device: unknown subcommand '%s'", argv[0]);
}

int cmd_connector(struct cli *c, int argc, char **argv)
{
	json_object *req, *resp;

	if (argc < 1)
		return cli_usage_fail("connector: expected add, list or rm");
	if (!strcmp(argv[0], "add")) {
		static const char *const names[] = { "NAME" };
		const char *name, *pubkey = NULL, *endpoint = NULL;
		const struct cli_value_opt opts[] = { { "--pubkey", &pubkey, false },
						  { "--endpoint", &endpoint, true }, { 0 } };
		int ret = cli_parse_args("connector add", argc - 1, argv + 1, opts, &name, names, 1);

		if (ret)
			return ret;
		req = cli_request("connector.add");
		json_object_object_add(req, "name", json_object_new_string(name));
		json_object_object_add(req, "pubkey", json_object_new_string(pubkey));
		if (endpoint)	/* without: reached through relays (--relay on the client) */
			json_object_object_add(req, "endpoint", json_object_new_string(endpoint));
		return cli_print_reply(c, cli_call(c, req), print_connector_added);
	}
	if (!strcmp(argv[0], "list") || !strcmp(argv[0], "ls")) {
		if (argc != 1)
			return cli_usage_fail("connector list: unexpected argument '%s'", argv[1]);
		return cli_print_reply(c, cli_call(c, cli_request("connector.list")), print_connectors);
	}
	if (!strcmp(argv[0], "rm") || !strcmp(argv[0], "remove")) {
		int ret = cmd_named(c, "connector.rm", "connector rm", argc - 1, argv + 1, &resp);

		if (ret)
			return ret;
		if (!cli_printed_as_json(c, resp)) {
			printf("removed connector %s\n", argv[1]);
			json_object_put(resp);
		}
		return 0;
	}
	return cli_usage_fail("connector: unknown subcommand '%s'", argv[0]);
}

/* grant DEVICE RESOURCE, revoke DEVICE RESOURCE, grant list. */
int cmd_grant(struct cli *c, bool add, int argc, char **argv)
{
	static const char *const names[] = { "DEVICE", "RESOURCE" };
	const char *what = add ? "grant" : "revoke", *pos[2];
	json_object *req, *resp;
	int ret;

	if (add && argc == 1 && !strcmp(argv[0], "list"))
		return cli_print_reply(c, cli_call(c, cli_request("grant.list")), print_grants);
	ret = cli_parse_args(what, argc, argv, NULL, pos, names, 2);
	if (ret)
		return ret;
	req = cli_request(add ? "grant.add" : "grant.rm");
	json_object_object_add(req, "device", json_object_new_string(pos[0]));
	json_object_object_add(req, "resource", json_object_new_string(pos[1]));
	resp = cli_call(c, req);
	if (!resp)
		return 1;
	if (!cli_printed_as_json(c, resp)) {
		if (add)
			printf("granted %s access to %s\n", pos[0], pos[1]);
		else
			printf("revoked %s's access to %s\n", pos[0], pos[1]);
		json_object_put(resp);
	}
	return 0;
}

int cmd_grant_list(struct cli *c)
{
	return cli_print_reply(c, cli_call(c, cli_request("grant.list")), print_grants);
}
