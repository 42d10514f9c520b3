// SPDX-License-Identifier: GPL-2.0-only
/*
 * ztgate: the CLI. Thin by design: it turns arguments into one JSON
 * request on the daemon's Unix socket and the reply into a table (or, with
 * --json, prints the reply as it came). All validation of policy lives in
 * the daemon, so the CLI and any other client get the same answers.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/mem.h>

#include "lib/json_io.h"
#include "tunnel/keys.h"
#include "netcheck.h"
#include "tunnel/noise.h"

struct cli {
	const char *socket_path;
	bool json;
	int fd;
	struct zt_line_buf buf;
};

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

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("ztgate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static int usage_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("ztgate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see ztgate --help)\n", stderr);
	return 2;
}

static int cli_connect(struct cli *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(c->socket_path) >= sizeof(sa.sun_path))
		return fail("socket path too long: %s", c->socket_path);
	strcpy(sa.sun_path, c->socket_path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return fail("socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = errno;

		close(c->fd);
		c->fd = -1;
		return fail("cannot reach ztgated at %s: %s (is the daemon running?)",
			    c->socket_path, strerror(err));
	}
	return 0;
}

/* Send REQ (taken), read one reply. Returns the reply or NULL after reporting. */
static json_object *cli_call(struct cli *c, json_object *req)
{
	json_object *resp = NULL, *ok, *err;
	char *line;
	int ret;

	if (cli_connect(c)) {
		json_object_put(req);
		return NULL;
	}
	ret = zt_json_write(c->fd, req);
	json_object_put(req);
	if (ret) {
		fail("sending request: %s", strerror(-ret));
		return NULL;
	}
	ret = zt_line_read(c->fd, &c->buf, &line);
	if (ret <= 0) {
		fail("no reply from ztgated: %s", ret ? strerror(-ret) : "connection closed");
		return NULL;
	}
	resp = zt_json_parse_object(line);
	if (!resp) {
		fail("malformed reply from ztgated");
		return NULL;
	}
	if (!json_object_object_get_ex(resp, "ok", &ok) || !json_object_get_boolean(ok)) {
		fail("%s", json_object_object_get_ex(resp, "error", &err)
				   ? json_object_get_string(err) : "request failed");
		json_object_put(resp);
		return NULL;
	}
	return resp;
}

static json_object *request(const char *cmd)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "cmd", json_object_new_string(cmd));
	return o;
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return "";
	return json_object_get_string(v);
}

/* KEY's string, or DEF when absent or empty. */
static const char *get_str_or(json_object *o, const char *key, const char *def)
{
	const char *v = get_str(o, key);

	return *v ? v : def;
}

static long long get_int(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? (long long)json_object_get_int64(v) : 0;
}

static void print_json(json_object *o)
{
	json_object_object_del(o, "ok");
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* With --json a reply is printed as it came (less "ok"); true if so, and RESP is freed. */
static bool printed_as_json(struct cli *c, json_object *resp)
{
	if (!c->json)
		return false;
	print_json(resp);
	json_object_put(resp);
	return true;
}

static const char *or_dash(const char *s)
{
	return *s ? s : "-";
}

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
			return usage_fail("resource add: unknown option '%s'", a);
		} else if (!name) {
			name = a;
			continue;
		} else {
			return usage_fail("resource add: unexpected argument '%s'", a);
		}
		if (i + 1 >= argc)
			return usage_fail("resource add: %s needs a value", a);
		if (*slot)
			return usage_fail("resource add: %s given twice", a);
		*slot = argv[++i];
	}
	if (!name)
		return usage_fail("resource add: missing NAME");
	if (!address)
		return usage_fail("resource add: missing --address");

	req = request("resource.add");
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
		print_json(resp);
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

	if (argc != 1)
		return usage_fail("%s: expected exactly one NAME", what);
	req = request(cmd);
	json_object_object_add(req, "name", json_object_new_string(argv[0]));
	*out = cli_call(c, req);
	return *out ? 0 : 1;
}

static int cmd_resource(struct cli *c, int argc, char **argv)
{
	json_object *resp, *v;

	if (argc < 1)
		return usage_fail("resource: expected add, list, show or rm");
	if (!strcmp(argv[0], "add"))
		return cmd_resource_add(c, argc - 1, argv + 1);
	if (!strcmp(argv[0], "list") || !strcmp(argv[0], "ls")) {
		if (argc != 1)
			return usage_fail("resource list: unexpected argument '%s'", argv[1]);
		resp = cli_call(c, request("resource.list"));
		if (!resp)
			return 1;
		if (c->json)
			print_json(resp);
		else if (json_object_object_get_ex(resp, "resources", &v))
			print_resource_table(v);
		json_object_put(resp);
		return 0;
	}
	if (!strcmp(argv[0], "show")) {
		if (cmd_named(c, "resource.show", "resource show", argc - 1, argv + 1, &resp))
			return 1;
		if (c->json) {
			print_json(resp);
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
			print_json(resp);
		else
			print_removed("resource", argv[1], resp);
		json_object_put(resp);
		return 0;
	}
	return usage_fail("resource: unknown subcommand '%s'", argv[0]);
}

/* An option that takes a value, and where it goes. */
struct value_opt {
	const char *flag;
	const char **value;
	bool optional;		/* else missing it is an error */
};

/*
 * Options from OPTS anywhere among ARGV, and exactly NPOS positional
 * arguments, named by POS_NAMES for the messages, into POS. 0, or the
 * exit code of a usage error already reported.
 */
static int parse_args(const char *what, int argc, char **argv, const struct value_opt *opts,
		      const char **pos, const char *const *pos_names, int npos)
{
	int i, n = 0;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		const struct value_opt *o;

		if (a[0] == '-' && a[1]) {
			for (o = opts; o && o->flag && strcmp(o->flag, a); o++)
				;
			if (!o || !o->flag)
				return usage_fail("%s: unknown option '%s'", what, a);
			if (i + 1 >= argc)
				return usage_fail("%s: %s needs a value", what, a);
			if (*o->value)
				return usage_fail("%s: %s given twice", what, a);
			*o->value = argv[++i];
			continue;
		}
		if (n == npos)
			return usage_fail("%s: unexpected argument '%s'", what, a);
		pos[n++] = a;
	}
	if (n < npos)
		return usage_fail("%s: missing %s", what, pos_names[n]);
	for (; opts && opts->flag; opts++)
		if (!*opts->value && !opts->optional)
			return usage_fail("%s: missing %s", what, opts->flag);
	return 0;
}

/* A reply printed as it came with --json, else by PRINT; frees RESP. */
static int print_reply(struct cli *c, json_object *resp, void (*print)(json_object *resp))
{
	if (!resp)
		return 1;
	if (!printed_as_json(c, resp)) {
		print(resp);
		json_object_put(resp);
	}
	return 0;
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

static int cmd_device(struct cli *c, int argc, char **argv)
{
	json_object *req, *resp;

	if (argc < 1)
		return usage_fail("device: expected add, list or rm");
	if (!strcmp(argv[0], "add")) {
		static const char *const names[] = { "NAME" };
		const char *name, *pubkey = NULL, *address = NULL;
		const struct value_opt opts[] = { { "--pubkey", &pubkey, false },
						  { "--address", &address, false }, { 0 } };
		int ret = parse_args("device add", argc - 1, argv + 1, opts, &name, names, 1);

		if (ret)
			return ret;
		req = request("device.add");
		json_object_object_add(req, "name", json_object_new_string(name));
		json_object_object_add(req, "pubkey", json_object_new_string(pubkey));
		json_object_object_add(req, "address", json_object_new_string(address));
		return print_reply(c, cli_call(c, req), print_device_added);
	}
	if (!strcmp(argv[0], "list") || !strcmp(argv[0], "ls")) {
		if (argc != 1)
			return usage_fail("device list: unexpected argument '%s'", argv[1]);
		return print_reply(c, cli_call(c, request("device.list")), print_devices);
	}
	if (!strcmp(argv[0], "rm") || !strcmp(argv[0], "remove")) {
		int ret = cmd_named(c, "device.rm", "device rm", argc - 1, argv + 1, &resp);

		if (ret)
			return ret;
		if (!printed_as_json(c, resp)) {
			print_removed("device", argv[1], resp);
			json_object_put(resp);
		}
		return 0;
	}
	return usage_fail("device: unknown subcommand '%s'", argv[0]);
}

static int cmd_connector(struct cli *c, int argc, char **argv)
{
	json_object *req, *resp;

	if (argc < 1)
		return usage_fail("connector: expected add, list or rm");
	if (!strcmp(argv[0], "add")) {
		static const char *const names[] = { "NAME" };
		const char *name, *pubkey = NULL, *endpoint = NULL;
		const struct value_opt opts[] = { { "--pubkey", &pubkey, false },
						  { "--endpoint", &endpoint, true }, { 0 } };
		int ret = parse_args("connector add", argc - 1, argv + 1, opts, &name, names, 1);

		if (ret)
			return ret;
		req = request("connector.add");
		json_object_object_add(req, "name", json_object_new_string(name));
		json_object_object_add(req, "pubkey", json_object_new_string(pubkey));
		if (endpoint)	/* without: reached through relays (--relay on the client) */
			json_object_object_add(req, "endpoint", json_object_new_string(endpoint));
		return print_reply(c, cli_call(c, req), print_connector_added);
	}
	if (!strcmp(argv[0], "list") || !strcmp(argv[0], "ls")) {
		if (argc != 1)
			return usage_fail("connector list: unexpected argument '%s'", argv[1]);
		return print_reply(c, cli_call(c, request("connector.list")), print_connectors);
	}
	if (!strcmp(argv[0], "rm") || !strcmp(argv[0], "remove")) {
		int ret = cmd_named(c, "connector.rm", "connector rm", argc - 1, argv + 1, &resp);

		if (ret)
			return ret;
		if (!printed_as_json(c, resp)) {
			printf("removed connector %s\n", argv[1]);
			json_object_put(resp);
		}
		return 0;
	}
	return usage_fail("connector: unknown subcommand '%s'", argv[0]);
}

/* grant DEVICE RESOURCE, revoke DEVICE RESOURCE, grant list. */
static int cmd_grant(struct cli *c, bool add, int argc, char **argv)
{
	static const char *const names[] = { "DEVICE", "RESOURCE" };
	const char *what = add ? "grant" : "revoke", *pos[2];
	json_object *req, *resp;
	int ret;

	if (add && argc == 1 && !strcmp(argv[0], "list"))
		return print_reply(c, cli_call(c, request("grant.list")), print_grants);
	ret = parse_args(what, argc, argv, NULL, pos, names, 2);
	if (ret)
		return ret;
	req = request(add ? "grant.add" : "grant.rm");
	json_object_object_add(req, "device", json_object_new_string(pos[0]));
	json_object_object_add(req, "resource", json_object_new_string(pos[1]));
	resp = cli_call(c, req);
	if (!resp)
		return 1;
	if (!printed_as_json(c, resp)) {
		if (add)
			printf("granted %s access to %s\n", pos[0], pos[1]);
		else
			printf("revoked %s's access to %s\n", pos[0], pos[1]);
		json_object_put(resp);
	}
	return 0;
}

/* The whole of FILE ("-": stdin) as one JSON object; NULL after reporting. */
static json_object *read_document(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	const char *name = strcmp(path, "-") ? path : "stdin";
	struct json_tokener *tok = NULL;
	json_object *doc = NULL;
	char *text = NULL;
	size_t len = 0, cap = 0, end;

	if (!f) {
		fail("%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		size_t r;

		if (cap - len < 65536) {
			char *t;

			cap = cap ? cap * 2 : 131072;
			if (cap > ZT_LINE_MAX) {
				fail("%s: larger than %d bytes", name, ZT_LINE_MAX);
				goto out;
			}
			t = realloc(text, cap);
			if (!t) {
				fail("out of memory");
				goto out;
			}
			text = t;
		}
		r = fread(text + len, 1, cap - len - 1, f);
		len += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		fail("%s: %s", name, strerror(errno));
		goto out;
	}
	text[len] = '\0';
	tok = json_tokener_new();
	if (!tok) {
		fail("out of memory");
		goto out;
	}
	doc = json_tokener_parse_ex(tok, text, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (!doc || json_tokener_get_error(tok) != json_tokener_success ||
	    text[end + strspn(text + end, " \t\r\n")]) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		fail("%s: not a JSON document: %s", name,
		     e == json_tokener_success ? "text after the document"
		     : e == json_tokener_continue ? "unexpected end"
		     : json_tokener_error_desc(e));
		json_object_put(doc);
		doc = NULL;
		goto out;
	}
	if (!json_object_is_type(doc, json_type_object)) {
		fail("%s: the policy document must be a JSON object", name);
		json_object_put(doc);
		doc = NULL;
	}
out:
	if (tok)
		json_tokener_free(tok);
	free(text);
	if (f && f != stdin)
		fclose(f);
	return doc;
}

static int cmd_apply(struct cli *c, int argc, char **argv)
{
	const char *file = NULL;
	bool dry_run = false;
	json_object *req, *resp, *changes, *doc;
	size_t i, n;
	int k = 0;
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));

	if (!rest)
		return fail("out of memory");
	for (int j = 0; j < argc; j++) {
		if (!strcmp(argv[j], "--dry-run"))
			dry_run = true;
		else
			rest[k++] = argv[j];
	}
	{
		const struct value_opt opts[] = { { "-f", &file, false }, { 0 } };
		int ret = parse_args("apply", k, rest, opts, NULL, NULL, 0);

		free(rest);
		if (ret)
			return ret;
	}
	doc = read_document(file);
	if (!doc)
		return 1;
	req = request("policy.apply");
	json_object_object_add(req, "policy", doc);
	json_object_object_add(req, "dry_run", json_object_new_boolean(dry_run));
	resp = cli_call(c, req);
	if (!resp)
		return 1;
	if (printed_as_json(c, resp))
		return 0;
	changes = json_object_object_get(resp, "changes");
	n = json_object_array_length(changes);
	for (i = 0; i < n; i++)
		puts(json_object_get_string(json_object_array_get_idx(changes, i)));
	/* The changes are the output; how it went is a remark beside it. */
	fflush(stdout);
	if (dry_run)
		fprintf(stderr, "ztgate: dry run: %zu change%s, nothing applied\n", n,
			n == 1 ? "" : "s");
	else
		fprintf(stderr, "ztgate: applied %zu change%s\n", n, n == 1 ? "" : "s");
	json_object_put(resp);
	return 0;
}

static int cmd_export(struct cli *c)
{
	json_object *resp = cli_call(c, request("policy.export"));

	if (!resp)
		return 1;
	if (printed_as_json(c, resp))
		return 0;
	/* Byte for byte what STATE_DIR/policy.json holds. */
	printf("%s\n", json_object_to_json_string_ext(json_object_object_get(resp, "policy"),
						      JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(resp);
	return 0;
}

static int cmd_keygen(struct cli *c, int argc, char **argv)
{
	const char *out = NULL;
	const struct value_opt opts[] = { { "--out", &out, false }, { 0 } };
	uint8_t pub[ZT_KEY_LEN];
	char text[ZT_KEY_B64_LEN + 1], err[512];
	int ret = parse_args("keygen", argc, argv, opts, NULL, NULL, 0);

	if (ret)
		return ret;
	if (zt_key_generate_file(out, pub, err, sizeof(err)))
		return fail("%s", err);
	zt_key_to_base64(pub, text);
	if (c->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "private_key_file", json_object_new_string(out));
		json_object_object_add(o, "public_key", json_object_new_string(text));
		print_json(o);
		json_object_put(o);
	} else {
		puts(text);
	}
	return 0;
}

static int cmd_pubkey(struct cli *c, int argc, char **argv)
{
	uint8_t priv[ZT_KEY_LEN], pub[ZT_KEY_LEN];
	char text[ZT_KEY_B64_LEN + 1], err[512], buf[ZT_KEY_B64_LEN + 8];
	size_t len = 0;
	int ret;

	if (argc > 1)
		return usage_fail("pubkey: expected at most one FILE");
	if (argc == 1) {
		ret = zt_key_load_private(argv[0], priv, err, sizeof(err));
	} else {
		/* Like `wg pubkey`: the key comes in on stdin (a pipe has no mode to check). */
		while (len < sizeof(buf)) {
			ssize_t r = read(0, buf + len, sizeof(buf) - len);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			len += (size_t)r;
		}
		ret = zt_key_parse_private(buf, len, priv, err, sizeof(err));
		OPENSSL_cleanse(buf, sizeof(buf));
	}
	if (ret)
		return fail("%s", err);
	zt_noise_public_key(pub, priv);
	OPENSSL_cleanse(priv, sizeof(priv));
	zt_key_to_base64(pub, text);
	if (c->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "public_key", json_object_new_string(text));
		print_json(o);
		json_object_put(o);
	} else {
		puts(text);
	}
	return 0;
}

/* The relay role's counters and registered peers, when the reply has them. */
static void print_relay_stats(json_object *resp)
{
	json_object *r, *drop, *peers;
	size_t n;

	if (!json_object_object_get_ex(resp, "relay", &r))
		return;
	json_object_object_get_ex(r, "dropped", &drop);
	printf("\nrelay: %lld peers registered, %lld STUN answered, forwarded %lld packets / %lld bytes\n",
	       get_int(r, "registered_peers"), get_int(r, "stun_answered"),
	       get_int(r, "forwarded_packets"), get_int(r, "forwarded_bytes"));
	printf("dropped: %lld not registered, %lld unknown peer, %lld not accepted, %lld rate limited, "
	       "%lld malformed\n", get_int(drop, "not_registered"), get_int(drop, "unknown_peer"),
	       get_int(drop, "not_accepted"), get_int(drop, "rate_limited"), get_int(drop, "malformed"));
	if (!json_object_object_get_ex(resp, "peers", &peers))
		return;
	n = json_object_array_length(peers);
	printf("%-44s %-4s %-24s %12s %12s %12s %12s\n", "PEER", "VIA", "ENDPOINT", "TX_PKTS",
	       "TX_BYTES", "RX_PKTS", "RX_BYTES");
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(peers, i);

		printf("%-44s %-4s %-24s %12lld %12lld %12lld %12lld\n", get_str(p, "key"),
		       get_str(p, "transport"), get_str(p, "endpoint"), get_int(p, "tx_packets"),
		       get_int(p, "tx_bytes"), get_int(p, "rx_packets"), get_int(p, "rx_bytes"));
	}
}

static int cmd_stats(struct cli *c)
{
	json_object *resp = cli_call(c, request("stats")), *arr, *t;
	size_t i, n;

	if (!resp)
		return 1;
	if (printed_as_json(c, resp))
		return 0;
	json_object_object_get_ex(resp, "resources", &arr);
	json_object_object_get_ex(resp, "total", &t);
	n = json_object_array_length(arr);
	printf("%-20s %14s %14s %14s %14s\n", "RESOURCE", "ALLOWED_PKTS", "ALLOWED_BYTES",
	       "DENIED_PKTS", "DENIED_BYTES");
	for (i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(arr, i);

		printf("%-20s %14lld %14lld %14lld %14lld\n", get_str(r, "name"),
		       get_int(r, "allowed_packets"), get_int(r, "allowed_bytes"),
		       get_int(r, "denied_packets"), get_int(r, "denied_bytes"));
	}
	printf("%-20s %14lld %14lld %14lld %14lld\n", "(total)", get_int(t, "allowed_packets"),
	       get_int(t, "allowed_bytes"), get_int(t, "denied_packets"),
	       get_int(t, "denied_bytes"));
	print_relay_stats(resp);
	json_object_put(resp);
	return 0;
}

static void print_event(json_object *ev)
{
	const char *type = get_str(ev, "event");

	if (!strcmp(type, "scan")) {
		printf("%s  SCAN  %s  from %s: %lld distinct denied ports within %lld ms\n",
		       get_str(ev, "ts"), or_dash(get_str(ev, "resource")), get_str(ev, "src"),
		       get_int(ev, "distinct_ports"), get_int(ev, "window_ms"));
	} else if (json_object_object_get_ex(ev, "dport", NULL)) {
		printf("%s  %-6s %s  %s %s:%lld -> %s:%lld  (%s, %s)\n", get_str(ev, "ts"),
		       get_str(ev, "action"), or_dash(get_str(ev, "resource")), get_str(ev, "proto"),
		       get_str(ev, "src"), get_int(ev, "sport"), get_str(ev, "dst"),
		       get_int(ev, "dport"), get_str(ev, "reason"), get_str(ev, "hook"));
	} else {
		printf("%s  %-6s %s  %s %s -> %s  (%s, %s)\n", get_str(ev, "ts"),
		       get_str(ev, "action"), or_dash(get_str(ev, "resource")), get_str(ev, "proto"),
		       get_str(ev, "src"), get_str(ev, "dst"), get_str(ev, "reason"),
		       get_str(ev, "hook"));
	}
	fflush(stdout);
}

static int cmd_events(struct cli *c)
{
	json_object *resp = cli_call(c, request("events"));
	char *line;
	int ret;

	if (!resp)
		return 1;
	json_object_put(resp);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((ret = zt_line_read(c->fd, &c->buf, &line)) == 1) {
		json_object *ev;

		if (c->json) {
			puts(line);
			continue;
		}
		ev = zt_json_parse_object(line);
		if (ev) {
			print_event(ev);
			json_object_put(ev);
		}
	}
	if (ret < 0)
		return fail("event stream: %s", strerror(-ret));
	return fail("ztgated closed the event stream");
}

static int cmd_maps(struct cli *c)
{
	json_object *resp = cli_call(c, request("maps")), *arr;
	size_t i, n;

	if (!resp)
		return 1;
	if (printed_as_json(c, resp))
		return 0;
	json_object_object_get_ex(resp, "maps", &arr);
	n = json_object_array_length(arr);
	printf("pinned under %s; read any of them with:\n", get_str(resp, "pin_dir"));
	for (i = 0; i < n; i++)
		printf("  %s\n", get_str(json_object_array_get_idx(arr, i), "bpftool"));
	json_object_put(resp);
	return 0;
}

/* N bytes as "812 B", "3.4 KiB", "1.2 GiB". */
static void format_bytes(long long n, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u)
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	else
		snprintf(buf, len, "%lld B", n);
}

/* Each tunnel peer's path: direct or through which relay, RTT, last handshake, bytes. */
static int cmd_status(struct cli *c)
{
	json_object *resp = cli_call(c, request("status")), *arr, *v;
	size_t i, n;

	if (!resp)
		return 1;
	if (printed_as_json(c, resp))
		return 0;
	json_object_object_get_ex(resp, "peers", &arr);
	n = json_object_array_length(arr);
	printf("%-20s %-12s %-28s %9s  %-24s %10s %10s\n", "PEER", "PATH", "ENDPOINT", "RTT",
	       "LAST HANDSHAKE", "RX", "TX");
	for (i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(arr, i);
		char rtt[32] = "-", rx[32], tx[32];

		if (json_object_object_get_ex(p, "rtt_ms", &v))
			snprintf(rtt, sizeof(rtt), "%.1f ms", json_object_get_double(v));
		format_bytes(get_int(p, "rx_bytes"), rx, sizeof(rx));
		format_bytes(get_int(p, "tx_bytes"), tx, sizeof(tx));
		printf("%-20s %-12s %-28s %9s  %-24s %10s %10s\n", get_str(p, "name"),
		       get_str(p, "path"), get_str_or(p, "endpoint", "-"), rtt,
		       get_str_or(p, "last_handshake", "never"), rx, tx);
	}
	if (!n)
		printf("(no peers)\n");
	json_object_object_get_ex(resp, "relays", &arr);
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(arr, i);

		json_object_object_get_ex(r, "registered", &v);
		printf("%srelay %s (%s): %s, we are %s\n", i ? "" : "\n", get_str(r, "relay"),
		       get_str(r, "transport"), json_object_get_boolean(v) ? "registered" : "not registered",
		       get_str_or(r, "observed", "?"));
	}
	json_object_put(resp);
	return 0;
}

static int cmd_dns(struct cli *c)
{
	json_object *resp = cli_call(c, request("dns.list")), *arr;
	size_t i, n;

	if (!resp)
		return 1;
	if (printed_as_json(c, resp))
		return 0;
	json_object_object_get_ex(resp, "mappings", &arr);
	n = json_object_array_length(arr);
	printf("%-40s %-16s %-20s %s\n", "NAME", "FAKE_IP", "RESOURCE", "LAST_USE");
	for (i = 0; i < n; i++) {
		json_object *m = json_object_array_get_idx(arr, i);

		printf("%-40s %-16s %-20s %s\n", get_str(m, "name"), get_str(m, "fake_ip"),
		       or_dash(get_str(m, "resource")), get_str(m, "last_use"));
	}
	if (!n)
		printf("(no names answered yet)\n");
	json_object_put(resp);
	return 0;
}

static int cmd_resolve(struct cli *c, const char *name)
{
	json_object *req = request("dns.resolve"), *resp, *r;

	json_object_object_add(req, "name", json_object_new_string(name));
	resp = cli_call(c, req);
	if (!resp)
		return 1;
	if (printed_as_json(c, resp))
		return 0;
	json_object_object_get_ex(resp, "resolve", &r);
	if (!strcmp(get_str(r, "answer"), "resource")) {
		printf("%s: resource %s (%s match of %s)\n", get_str(r, "name"),
		       get_str(r, "resource"), get_str(r, "match"), get_str(r, "pattern"));
		printf("  A:     %s (ttl %lld)\n",
		       *get_str(r, "fake_ip") ? get_str(r, "fake_ip")
					      : "a fake IP, assigned at the first query",
		       get_int(r, "ttl"));
		printf("  other: NOERROR, no answer\n");
	} else {
		printf("%s: not a resource; forwarded to %s\n", get_str(r, "name"),
		       or_dash(get_str(r, "upstreams")));
	}
	printf("  why:   %s\n", get_str(r, "why"));
	json_object_put(resp);
	return 0;
}

static int cmd_teardown(struct cli *c)
{
	json_object *resp = cli_call(c, request("teardown"));

	if (!resp)
		return 1;
	if (c->json)
		print_json(resp);
	else
		printf("ztgated is detaching its programs, removing its pins and stopping\n");
	json_object_put(resp);
	return 0;
}

int main(int argc, char **argv)
{
	struct cli *c = calloc(1, sizeof(*c));
	char **args;
	int nargs = 0, i, ret;

	if (!c)
		return fail("out of memory");
	c->fd = -1;
	c->socket_path = getenv("ZTGATE_SOCKET") ? getenv("ZTGATE_SOCKET") : ZT_DEFAULT_SOCKET_PATH;
	args = calloc((size_t)argc + 1, sizeof(*args));
	if (!args)
		return fail("out of memory");

	/* Global options may stand anywhere, so `ztgate resource list --json` works. */
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			c->json = true;
		} else if (!strcmp(argv[i], "--socket")) {
			if (i + 1 >= argc) {
				ret = usage_fail("--socket needs a path");
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
		ret = print_reply(c, cli_call(c, request("grant.list")), print_grants);
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
				 : usage_fail("resolve: expected exactly one NAME");
	else if (!strcmp(args[0], "stats") || !strcmp(args[0], "events") ||
		 !strcmp(args[0], "maps") || !strcmp(args[0], "teardown") ||
		 !strcmp(args[0], "status") ||
		 !strcmp(args[0], "dns") || !strcmp(args[0], "grants") ||
		 !strcmp(args[0], "export"))
		ret = usage_fail("%s: unexpected argument '%s'", args[0], args[1]);
	else
		ret = usage_fail("unknown command '%s'", args[0]);
out:
	if (c->fd >= 0)
		close(c->fd);
	zt_line_buf_free(&c->buf);
	free(args);
	free(c);
	return ret;
}
