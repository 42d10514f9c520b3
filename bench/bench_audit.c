// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_audit: what the controller pays for node connect/disconnect audit
 * records when many nodes come or leave at once (bench/run.sh, section
 * (f2); docs/CONTROLLER.md "Audit trail"). A model on a fresh SQLite file
 * (or on BENCH_PG_URL, an empty PostgreSQL database), BENCH_AUDIT_NODES
 * nodes (default 10,000) reported connected, then all of them reported
 * gone, through the node server's operations (zt_model_node_ops.report)
 * as the node server calls them, then the audit queue flushed: the wall
 * time of the leaving, and that the chain still verifies.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/db.h"
#include "controller/model.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Every node's WHAT report, then the queue written: the milliseconds it took. */
static double report_all(struct zt_model *m, size_t nodes, const char *what)
{
	double t0 = now_ms();
	char err[256];

	for (size_t i = 0; i < nodes; i++) {
		struct zt_node_ident id = { .kind = ZT_NODE_DEVICE, .id = 1000 + i };

		snprintf(id.name, sizeof(id.name), "user%zu-laptop", i);
		zt_model_node_ops.report(m, &id, what, NULL);
	}
	if (zt_model_audit_flush(m, err, sizeof(err)))
		fprintf(stderr, "bench_audit: flush: %s\n", err);
	return now_ms() - t0;
}

int main(void)
{
	const char *pg = getenv("BENCH_PG_URL"), *n = getenv("BENCH_AUDIT_NODES");
	size_t nodes = n ? strtoul(n, NULL, 10) : 10000;
	static const uint8_t pub[ZT_KEY_LEN] = { 1 };
	char dir[] = "/tmp/zt-bench-audit-XXXXXX", path[64], err[256];
	struct zt_model *m = NULL;
	uint64_t count, bad;
	double up, down;
	int ret;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/controller.db", dir);
	if (zt_model_open(&m, pg ? pg : path, NULL, pub, err, sizeof(err))) {
		fprintf(stderr, "bench_audit: %s\n", err);
		return 1;
	}
	up = report_all(m, nodes, "connect");
	down = report_all(m, nodes, "disconnect");
	ret = zt_audit_verify(m, &count, &bad, err, sizeof(err));
	printf("store=%s nodes=%zu connect_ms=%.0f disconnect_ms=%.0f records=%" PRIu64
	       " verify=%s\n", pg ? "postgresql" : "sqlite", nodes, up, down, count,
	       ret ? err : "ok");
	zt_model_close(m);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	return system(path) || ret;
}
