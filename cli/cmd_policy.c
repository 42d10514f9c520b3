// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy's objects, one at a time: resources (what may be reached),
 * devices (who reaches it), connectors (where it is reached through) and
 * grants (device -> resource). Each command is one request; the daemon
 * validates, the CLI prints what it answered.
 */
#include <stdio.h>

#include <json-c/json.h>

#include "cli/command.h"
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

int cmd_resource_add(struct cli *c, const struct cli_args *a)
{
	json_object *req = cli_request("resource.add"), *resp, *r;

	cli_request_add(req, "name", a->pos[0]);
	cli_request_add(req, "address", cli_arg(a, "address"));
	cli_request_add(req, "tcp", cli_arg(a, "tcp"));
	cli_request_add(req, "udp", cli_arg(a, "udp"));
	json_object_object_add(req, "icmp", json_object_new_boolean(cli_arg(a, "icmp") != NULL));
	cli_request_add(req, "deny_mode", cli_arg(a, "deny-mode"));
	cli_request_add(req, "connector", cli_arg(a, "connector"));
	resp = cli_call(c, req);
	if (!resp)
		return CLI_EXIT_FAIL;
	if (cli_printed_as_json(c, resp))
		return 0;
	json_object_object_get_ex(resp, "resource", &r);
	printf("added resource %s (id %lld): %s tcp=%s udp=%s icmp=%s deny=%s%s%s\n",
	       get_str(r, "name"), get_int(r, "id"), get_str(r, "address"),
	       or_dash(get_str(r, "tcp")), or_dash(get_str(r, "udp")),
	       json_object_get_boolean(json_object_object_get(r, "icmp")) ? "yes" : "no",
	       get_str(r, "deny_mode"), *get_str(r, "connector") ? " via " : "",
	       get_str(r, "connector"));
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

/* Request CMD for the object named by the command's NAME; the reply, or NULL after reporting. */
static json_object *named_request(struct cli *c, const char *cmd, const struct cli_args *a)
{
	json_object *req = cli_request(cmd);

	cli_request_add(req, "name", a->pos[0]);
	return cli_call(c, req);
}

static void print_resources(json_object *resp)
{
	json_object *v;

	if (json_object_object_get_ex(resp, "resources", &v))
		print_resource_table(v);
}

int cmd_resource_list(struct cli *c, const struct cli_args *a)
{
	(void)a;
	return cli_print_reply(c, cli_call(c, cli_request("resource.list")), print_resources);
}

static void print_resource(json_object *resp)
{
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

int cmd_resource_show(struct cli *c, const struct cli_args *a)
{
	return cli_print_reply(c, named_request(c, "resource.show", a), print_resource);
}

/* `resource rm`, `device rm`: the removal and the grants that went with it. */
static int remove_with_grants(struct cli *c, const struct cli_args *a, const char *cmd,
			      const char *kind)
{
	json_object *resp = named_request(c, cmd, a);

	if (!resp)
		return CLI_EXIT_FAIL;
	if (!cli_printed_as_json(c, resp)) {
		print_removed(kind, a->pos[0], resp);
		json_object_put(resp);
	}
	return 0;
}

int cmd_resource_rm(struct cli *c, const struct cli_args *a)
{
	return remove_with_grants(c, a, "resource.rm", "resource");
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

int cmd_device_add(struct cli *c, const struct cli_args *a)
{
	json_object *req = cli_request("device.add");

	cli_request_add(req, "name", a->pos[0]);
	cli_request_add(req, "pubkey", cli_arg(a, "pubkey"));
	cli_request_add(req, "address", cli_arg(a, "address"));
	return cli_print_reply(c, cli_call(c, req), print_device_added);
}

int cmd_device_list(struct cli *c, const struct cli_args *a)
{
	(void)a;
	return cli_print_reply(c, cli_call(c, cli_request("device.list")), print_devices);
}

int cmd_device_rm(struct cli *c, const struct cli_args *a)
{
	return remove_with_grants(c, a, "device.rm", "device");
}

int cmd_connector_add(struct cli *c, const struct cli_args *a)
{
	json_object *req = cli_request("connector.add");

	cli_request_add(req, "name", a->pos[0]);
	cli_request_add(req, "pubkey", cli_arg(a, "pubkey"));
	/* Without an endpoint: reached through relays (--relay on the client). */
	cli_request_add(req, "endpoint", cli_arg(a, "endpoint"));
	return cli_print_reply(c, cli_call(c, req), print_connector_added);
}

int cmd_connector_list(struct cli *c, const struct cli_args *a)
{
	(void)a;
	return cli_print_reply(c, cli_call(c, cli_request("connector.list")), print_connectors);
}

int cmd_connector_rm(struct cli *c, const struct cli_args *a)
{
	json_object *resp = named_request(c, "connector.rm", a);

	if (!resp)
		return CLI_EXIT_FAIL;
	if (!cli_printed_as_json(c, resp)) {
		printf("removed connector %s\n", a->pos[0]);
		json_object_put(resp);
	}
	return 0;
}

/* grant DEVICE RESOURCE, revoke DEVICE RESOURCE. */
static int grant_or_revoke(struct cli *c, const struct cli_args *a, bool add)
{
	json_object *req = cli_request(add ? "grant.add" : "grant.rm"), *resp;

	cli_request_add(req, "device", a->pos[0]);
	cli_request_add(req, "resource", a->pos[1]);
	resp = cli_call(c, req);
	if (!resp)
		return CLI_EXIT_FAIL;
	if (!cli_printed_as_json(c, resp)) {
		if (add)
			printf("granted %s access to %s\n", a->pos[0], a->pos[1]);
		else
			printf("revoked %s's access to %s\n", a->pos[0], a->pos[1]);
		json_object_put(resp);
	}
	return 0;
}

int cmd_grant(struct cli *c, const struct cli_args *a)
{
	return grant_or_revoke(c, a, true);
}

int cmd_revoke(struct cli *c, const struct cli_args *a)
{
	return grant_or_revoke(c, a, false);
}

int cmd_grant_list(struct cli *c, const struct cli_args *a)
{
	(void)a;
	return cli_print_reply(c, cli_call(c, cli_request("grant.list")), print_grants);
}
