// SPDX-License-Identifier: GPL-2.0-only
/*
 * `ztgate ping PEER|RESOURCE`: a tunnel-level ping, like `tailscale ping`.
 * Each probe is one `ping` request (the daemon sends a path probe along the
 * peer's current path, tunnel/ctrl.h) and then `ping` requests with its id
 * until the answer is in or the timeout passes; the daemon times the round
 * trip, so polling adds nothing to it. Per probe: the path the answer took
 * (direct IP:PORT, or relayed through a relay over UDP or TCP) and the RTT;
 * then a summary. Exit 1 when no probe was answered.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/command.h"
#include "cli/handlers.h"
#include "cli/output.h"
#include "cli/request.h"

#define PING_COUNT_DEFAULT	5
#define PING_COUNT_MAX		1000
#define PING_TIMEOUT_DEFAULT	2.0	/* seconds per probe */
#define PING_TIMEOUT_MAX	60.0
#define PING_INTERVAL_NS	1000000000ull	/* one probe a second, as ping(8) */
#define PING_POLL_US		2000		/* between two asks for the answer */

struct ping_run {
	const char *peer;		/* as given: a peer or a resource */
	char shown[64];			/* the peer pinged, as the daemon names it */
	int count;
	uint64_t timeout_ns;
	int answered;
	double min, max, sum;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* One `ping` request (ID NULL: send a probe); the connection closed after it. */
static json_object *ask(struct cli *c, const char *peer, const char *id)
{
	json_object *req = cli_request("ping"), *resp;

	cli_request_add(req, "peer", peer);
	cli_request_add(req, "id", id);
	resp = cli_call(c, req);
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	zt_line_buf_free(&c->buf);
	memset(&c->buf, 0, sizeof(c->buf));
	return resp;
}

/* Probe SEQ's answer printed: "office: direct 10.0.0.2:51820, rtt 0.41 ms". */
static void print_probe(const struct ping_run *run, int seq, json_object *pong)
{
	const char *path = get_str(pong, "path");
	double rtt = json_object_get_double(json_object_object_get(pong, "rtt_ms"));

	if (!strcmp(path, "direct"))
		printf("probe %d: %s: direct %s, rtt %.3f ms\n", seq, run->shown,
		       get_str(pong, "endpoint"), rtt);
	else
		printf("probe %d: %s: relayed via %s over %s, rtt %.3f ms\n", seq, run->shown,
		       or_dash(get_str(pong, "relay")),
		       !strcmp(path, "relayed-tcp") ? "tcp" : "udp", rtt);
}

static void tally(struct ping_run *run, json_object *pong)
{
	double rtt = json_object_get_double(json_object_object_get(pong, "rtt_ms"));

	if (!run->answered++ || rtt < run->min)
		run->min = rtt;
	if (rtt > run->max)
		run->max = rtt;
	run->sum += rtt;
}

/*
 * Probe SEQ: sent, then its answer awaited. 0 (answered or timed out,
 * printed), or CLI_EXIT_FAIL after the daemon's refusal was reported.
 */
static int one_probe(struct cli *c, struct ping_run *run, int seq)
{
	json_object *resp = ask(c, run->peer, NULL), *pong = NULL, *v;
	uint64_t start = now_ns();
	bool answered;
	char id[24];

	if (!resp)
		return CLI_EXIT_FAIL;
	snprintf(id, sizeof(id), "%s", get_str(resp, "id"));
	snprintf(run->shown, sizeof(run->shown), "%s", get_str_or(resp, "peer", run->peer));
	if (seq == 1 && !c->json && json_object_object_get_ex(resp, "resource", &v))
		printf("%s is served by connector %s\n", json_object_get_string(v),
		       get_str(resp, "peer"));
	json_object_put(resp);
	while (now_ns() - start < run->timeout_ns) {
		sleep_ns(PING_POLL_US * 1000ull);
		pong = ask(c, run->peer, id);
		if (!pong)
			return CLI_EXIT_FAIL;
		if (json_object_object_get_ex(pong, "answered", &v) && json_object_get_boolean(v))
			break;
		json_object_put(pong);
		pong = NULL;
	}
	answered = pong != NULL;
	if (answered)
		tally(run, pong);
	if (c->json) {
		if (!pong)
			pong = json_object_new_object();
		json_object_object_add(pong, "probe", json_object_new_int(seq));
		json_object_object_add(pong, "peer", json_object_new_string(run->shown));
		json_object_object_add(pong, "answered", json_object_new_boolean(answered));
		json_object_object_del(pong, "version");
		cli_print_json(pong);
	} else if (pong) {
		print_probe(run, seq, pong);
	} else {
		printf("probe %d: %s: no answer in %.1f s\n", seq, run->shown,
		       (double)run->timeout_ns / 1e9);
	}
	json_object_put(pong);
	return 0;
}

static void print_summary(struct cli *c, const struct ping_run *run)
{
	double avg = run->answered ? run->sum / run->answered : 0;
	json_object *o;

	if (!c->json) {
		printf("--- %s: %d probes, %d answered (%d%% lost)", run->shown, run->count,
		       run->answered, (run->count - run->answered) * 100 / run->count);
		if (run->answered)
			printf(", rtt min/avg/max %.3f/%.3f/%.3f ms", run->min, avg, run->max);
		printf("\n");
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "peer", json_object_new_string(run->shown));
	json_object_object_add(o, "sent", json_object_new_int(run->count));
	json_object_object_add(o, "answered", json_object_new_int(run->answered));
	if (run->answered) {
		json_object_object_add(o, "rtt_ms_min", json_object_new_double(run->min));
		json_object_object_add(o, "rtt_ms_avg", json_object_new_double(avg));
		json_object_object_add(o, "rtt_ms_max", json_object_new_double(run->max));
	}
	cli_print_json(o);
	json_object_put(o);
}

/* -c and --timeout into RUN; CLI_EXIT_USAGE after saying what is wrong. */
static int parse_opts(const struct cli_args *a, struct ping_run *run)
{
	const char *count = cli_arg(a, "count"), *timeout = cli_arg(a, "timeout");
	double t = PING_TIMEOUT_DEFAULT;
	char *end;
	long n = PING_COUNT_DEFAULT;

	if (count) {
		errno = 0;
		n = strtol(count, &end, 10);
		if (errno || !*count || *end || n < 1 || n > PING_COUNT_MAX)
			return cli_cmd_usage_fail(a->cmd, "-c %s: a count from 1 to %d", count,
						  PING_COUNT_MAX);
	}
	if (timeout) {
		errno = 0;
		t = strtod(timeout, &end);
		if (errno || !*timeout || *end || !(t >= 0.01 && t <= PING_TIMEOUT_MAX))
			return cli_cmd_usage_fail(a->cmd, "--timeout %s: seconds, from 0.01 to %.0f",
						  timeout, PING_TIMEOUT_MAX);
	}
	run->count = (int)n;
	run->timeout_ns = (uint64_t)(t * 1e9);
	return 0;
}

int cmd_ping(struct cli *c, const struct cli_args *a)
{
	struct ping_run run = { .peer = a->pos[0] };
	int ret = parse_opts(a, &run);

	if (ret)
		return ret;
	for (int seq = 1; seq <= run.count; seq++) {
		uint64_t start = now_ns(), spent;

		ret = one_probe(c, &run, seq);
		if (ret)
			return ret;
		fflush(stdout);
		spent = now_ns() - start;
		if (seq < run.count && spent < PING_INTERVAL_NS)
			sleep_ns(PING_INTERVAL_NS - spent);
	}
	print_summary(c, &run);
	if (!run.answered)
		return cli_fail("%s: no answer to %d probe%s", run.shown, run.count,
				run.count > 1 ? "s" : "");
	return CLI_EXIT_OK;
}
