// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the daemon sees: counters (stats), tunnel paths (status), the
 * event stream (events), pinned maps (maps), the client's DNS answers
 * (dns, resolve); and teardown, which stops it.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "cli/command.h"
#include "cli/handlers.h"
#include "cli/output.h"
#include "cli/request.h"

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

int cmd_stats(struct cli *c, const struct cli_args *a)
{
	json_object *resp = cli_call(c, cli_request("stats")), *arr, *t;
	size_t i, n;

	(void)a;
	if (!resp)
		return 1;
	if (cli_printed_as_json(c, resp))
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
	if (json_object_object_get_ex(resp, "events", &t))
		printf("events: %lld lost (ring buffer full), %lld deny events and %lld scan events "
		       "rate-limited, %lld reject replies suppressed\n", get_int(t, "lost"),
		       get_int(t, "suppressed"), get_int(t, "scan_suppressed"),
		       get_int(t, "replies_suppressed"));
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

int cmd_events(struct cli *c, const struct cli_args *a)
{
	json_object *resp = cli_call(c, cli_request("events"));
	char *line;
	int ret;

	(void)a;
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
		return cli_fail("event stream: %s", strerror(-ret));
	return cli_fail("ztgated closed the event stream");
}

int cmd_maps(struct cli *c, const struct cli_args *a)
{
	json_object *resp = cli_call(c, cli_request("maps")), *arr;
	size_t i, n;

	(void)a;
	if (!resp)
		return 1;
	if (cli_printed_as_json(c, resp))
		return 0;
	json_object_object_get_ex(resp, "maps", &arr);
	n = json_object_array_length(arr);
	printf("pinned under %s; read any of them with:\n", get_str(resp, "pin_dir"));
	for (i = 0; i < n; i++)
		printf("  %s\n", get_str(json_object_array_get_idx(arr, i), "bpftool"));
	json_object_put(resp);
	return 0;
}

/* Each tunnel peer's path: direct or through which relay, RTT, last handshake, bytes. */
/* A controller-managed node's session: state, who we are, the revision applied. */
static void print_controller(json_object *c)
{
	json_object *node, *v;

	printf("controller %s: %s", get_str_or(c, "controller", "?"), get_str_or(c, "state", "?"));
	if (json_object_object_get_ex(c, "node", &node))
		printf(", as %s '%s'", get_str_or(node, "kind", "?"), get_str_or(node, "name", "?"));
	printf(", rev %lld applied, last contact %s\n", get_int(c, "rev_applied"),
	       get_str_or(c, "last_contact", "never"));
	if (json_object_object_get_ex(c, "views_delta", &v))
		printf("controller views: %lld whole, %lld as deltas, %lld asked again whole\n",
		       get_int(c, "views_whole"), get_int(c, "views_delta"),
		       get_int(c, "views_requested_whole"));
	if (json_object_object_get_ex(c, "last_error", &v) && !get_int(c, "connected"))
		printf("controller: %s\n", json_object_get_string(v));
}

/* What runs: role, version, paths, generation and policy fingerprint, hooks. */
static void print_status_head(json_object *resp)
{
	json_object *v, *hooks;

	printf("%s %s, pin dir %s, socket %s, state dir %s\n", get_str_or(resp, "role", "?"),
	       get_str_or(resp, "version", "?"), get_str_or(resp, "pin_dir", "-"),
	       get_str_or(resp, "socket", "-"), get_str_or(resp, "state_dir", "-"));
	if (json_object_object_get_ex(resp, "policy_hash", &v))
		printf("policy %s: %lld resources, generation %lld active\n", json_object_get_string(v),
		       get_int(resp, "resources"), get_int(resp, "generation"));
	if (json_object_object_get_ex(resp, "controller", &v))
		print_controller(v);
	if (json_object_object_get_ex(resp, "attached", &hooks)) {
		size_t n = json_object_array_length(hooks);

		printf("attached:%s", n ? "" : " nothing");
		for (size_t i = 0; i < n; i++) {
			json_object *h = json_object_array_get_idx(hooks, i);

			printf(" %s %s", get_str(h, "hook"), get_str(h, "iface"));
		}
		printf("\n");
	}
}

static void print_peers(json_object *arr)
{
	json_object *v;
	size_t i, n = json_object_array_length(arr);

	printf("%-20s %-12s %-28s %9s  %-24s %10s %10s\n", "PEER", "PATH", "ENDPOINT", "RTT",
	       "LAST HANDSHAKE", "RX", "TX");
	for (i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(arr, i);
		char rtt[32] = "-", rx[32], tx[32];

		if (json_object_object_get_ex(p, "rtt_ms", &v))
			snprintf(rtt, sizeof(rtt), "%.1f ms", json_object_get_double(v));
		cli_format_bytes(get_int(p, "rx_bytes"), rx, sizeof(rx));
		cli_format_bytes(get_int(p, "tx_bytes"), tx, sizeof(tx));
		printf("%-20s %-12s %-28s %9s  %-24s %10s %10s\n", get_str(p, "name"),
		       get_str(p, "path"), get_str_or(p, "endpoint", "-"), rtt,
		       get_str_or(p, "last_handshake", "never"), rx, tx);
	}
	if (!n)
		printf("(no peers)\n");
}

int cmd_status(struct cli *c, const struct cli_args *a)
{
	json_object *resp = cli_call(c, cli_request("status")), *arr, *v;
	size_t i, n;

	(void)a;
	if (!resp)
		return 1;
	if (cli_printed_as_json(c, resp))
		return 0;
	print_status_head(resp);
	if (json_object_object_get_ex(resp, "peers", &arr)) {
		printf("\n");
		print_peers(arr);
	}
	if (json_object_object_get_ex(resp, "relays", &arr)) {
		n = json_object_array_length(arr);
		for (i = 0; i < n; i++) {
			json_object *r = json_object_array_get_idx(arr, i);

			json_object_object_get_ex(r, "registered", &v);
			printf("%srelay %s (%s): %s, we are %s\n", i ? "" : "\n", get_str(r, "relay"),
			       get_str(r, "transport"),
			       json_object_get_boolean(v) ? "registered" : "not registered",
			       get_str_or(r, "observed", "?"));
		}
	}
	json_object_put(resp);
	return 0;
}

int cmd_dns(struct cli *c, const struct cli_args *a)
{
	json_object *resp = cli_call(c, cli_request("dns.list")), *arr;
	size_t i, n;

	(void)a;
	if (!resp)
		return 1;
	if (cli_printed_as_json(c, resp))
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

int cmd_resolve(struct cli *c, const struct cli_args *a)
{
	json_object *req = cli_request("dns.resolve"), *resp, *r;

	cli_request_add(req, "name", a->pos[0]);
	resp = cli_call(c, req);
	if (!resp)
		return 1;
	if (cli_printed_as_json(c, resp))
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

int cmd_teardown(struct cli *c, const struct cli_args *a)
{
	json_object *resp = cli_call(c, cli_request("teardown"));

	(void)a;
	if (!resp)
		return 1;
	if (c->json)
		cli_print_json(resp);
	else
		printf("ztgated is detaching its programs, removing its pins and stopping\n");
	json_object_put(resp);
	return 0;
}

int cmd_health(struct cli *c, const struct cli_args *a)
{
	json_object *resp = cli_call(c, cli_request("health")), *v, *checks;
	bool healthy;

	(void)a;
	if (!resp)
		return CLI_EXIT_FAIL;
	healthy = json_object_object_get_ex(resp, "healthy", &v) && json_object_get_boolean(v);
	if (!cli_printed_as_json(c, resp)) {
		printf("%s: %s\n", get_str_or(resp, "role", "?"), healthy ? "healthy" : "UNHEALTHY");
		if (json_object_object_get_ex(resp, "checks", &checks)) {
			json_object_object_foreach(checks, name, val)
				printf("  %-10s %s\n", name, json_object_get_string(val));
		}
	}
	json_object_put(resp);
	return healthy ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* The controller session's "reauth" state from `status`, into BUF; "" when none. */
static int reauth_state(struct cli *c, char *buf, size_t len)
{
	json_object *resp = cli_call(c, cli_request("status")), *ctl, *v;

	if (!resp)
		return CLI_EXIT_FAIL;
	snprintf(buf, len, "%s", json_object_object_get_ex(resp, "controller", &ctl) &&
		 json_object_object_get_ex(ctl, "reauth", &v) ? json_object_get_string(v) : "");
	json_object_put(resp);
	return CLI_EXIT_OK;
}

/* `ztgate reauth TOKEN`: sent by the daemon over its controller session; the answer awaited. */
int cmd_reauth(struct cli *c, const struct cli_args *a)
{
	const struct timespec tick = { 0, 100 * 1000 * 1000 };
	json_object *req = cli_request("reauth"), *resp;
	char state[320] = "pending";

	cli_request_add(req, "token", a->pos[0]);
	resp = cli_call(c, req);
	if (!resp)
		return CLI_EXIT_FAIL;
	json_object_put(resp);
	for (int i = 0; i < 50 && !strcmp(state, "pending"); i++) {
		nanosleep(&tick, NULL);
		if (reauth_state(c, state, sizeof(state)))
			return CLI_EXIT_FAIL;
	}
	if (!strcmp(state, "ok")) {
		printf("re-authenticated: the device's session starts again now\n");
		return CLI_EXIT_OK;
	}
	if (!strcmp(state, "pending"))
		return cli_fail("no answer from the controller within 5 s");
	return cli_fail("re-authentication %s", state);
}
