// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_compile: what one policy change costs the node at 100,000 resources
 * (bench/run.sh, section (a2)). The real data plane's maps, a policy of
 * BENCH_COMPILE_RESOURCES host resources (default 100,000; TCP 22,443 and
 * UDP 53 each), then ROUNDS changes of one resource's ports, each applied:
 *   full      the whole policy into the inactive generation, the old one
 *             emptied after the flip (zt_compile_apply without an image:
 *             the behaviour before the diff);
 *   restart   no image yet (a restarted daemon): written whole, both
 *             generations;
 *   diff      the change only, into both generations (policy/compile.h).
 * Median wall time per apply (the compile in memory, the map writes, the
 * flip and its grace period) and the map syscalls of one apply; and the
 * compile in memory alone (zt_image_build), which the diff still pays.
 */
#include <time.h>

#include "policy/compile.h"
#include "tests/bpf/zt_testlib.h"

#define ROUNDS	3

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Flip resource 7's second TCP port between 443 and 8443: one entry out, one in. */
static void change_one(struct zt_policy *p)
{
	static unsigned int round;
	char err[128];

	zt_ports_parse(++round % 2 ? "22,8443" : "22,443", &zt_policy_find_id(p, 7)->tcp, err,
		       sizeof(err));
}

/* Median ms of ROUNDS applies; *ST: the map syscalls of the last (C, or counted for NULL). */
static int measure(struct zt_env *e, struct zt_compiled *c, struct zt_policy *p, bool fresh,
		   double *ms, struct zt_compile_stats *st)
{
	double t[ROUNDS], t0;
	char err[512];
	int i, ret;

	for (i = 0; i < ROUNDS; i++) {
		if (fresh)
			zt_compiled_free(c);
		change_one(p);
		t0 = now_ms();
		ret = zt_compile_apply(e->fd, c, p, err, sizeof(err));
		t[i] = now_ms() - t0;
		if (ret) {
			fprintf(stderr, "bench_compile: %s\n", err);
			return ret;
		}
	}
	qsort(t, ROUNDS, sizeof(t[0]), cmp_double);
	*ms = t[ROUNDS / 2];
	if (c)
		*st = c->stats;
	return 0;
}

int main(void)
{
	const char *env = getenv("BENCH_COMPILE_RESOURCES");
	uint32_t n = env ? (uint32_t)strtoul(env, NULL, 10) : 100000;
	struct zt_compile_stats s_full = { 0 }, s_restart, s_diff, tmp;
	double ms_full, ms_restart, ms_diff, ms_build, t0;
	struct zt_image img;
	struct zt_compiled c;
	struct zt_policy p;
	struct zt_env e;
	int ret;

	zt_policy_init(&p);
	zt_compiled_init(&c);
	ret = zt_env_open(&e, "bench-compile");
	if (ret) {
		fprintf(stderr, "bench_compile: loading data plane: %s\n", strerror(-ret));
		goto out;
	}
	ret = zt_test_policy(&p, n);
	/* Warm up (first load), then each way in turn. */
	ret = ret ?: measure(&e, &c, &p, false, &ms_diff, &tmp);
	ret = ret ?: measure(&e, NULL, &p, false, &ms_full, &tmp);
	ret = ret ?: measure(&e, &c, &p, true, &ms_restart, &s_restart);
	ret = ret ?: measure(&e, &c, &p, false, &ms_diff, &s_diff);
	if (ret)
		goto out;
	zt_image_init(&img);
	t0 = now_ms();
	ret = zt_image_build(&img, &p, NULL, 0);
	ms_build = now_ms() - t0;
	zt_image_free(&img);
	if (ret)
		goto out;
	/*
	 * Without an image nothing counts the syscalls: the whole image in,
	 * then every hash/trie entry of the old generation out (zt_resources
	 * slots are left, as before).
	 */
	s_full.updates = c.cur.n;
	s_full.deletes = c.cur.n - p.count;
	printf("one-resource change at %u resources (%zu entries per generation), median of %d\n",
	       n, c.cur.n, ROUNDS);
	printf("%-8s %12s %12s %12s\n", "apply", "wall ms", "updates", "deletes");
	printf("%-8s %12.1f %12llu %12llu\n", "full", ms_full, (unsigned long long)s_full.updates,
	       (unsigned long long)s_full.deletes);
	printf("%-8s %12.1f %12llu %12llu\n", "restart", ms_restart,
	       (unsigned long long)s_restart.updates, (unsigned long long)s_restart.deletes);
	printf("%-8s %12.1f %12llu %12llu\n", "diff", ms_diff, (unsigned long long)s_diff.updates,
	       (unsigned long long)s_diff.deletes);
	printf("compile in memory alone (zt_image_build): %.1f ms\n", ms_build);
	printf("full / diff: %.1fx wall time, %.0fx map syscalls\n", ms_full / ms_diff,
	       (double)(s_full.updates + s_full.deletes) / (double)(s_diff.updates + s_diff.deletes));
out:
	zt_compiled_free(&c);
	zt_policy_free(&p);
	ret = zt_env_close(&e) ?: ret;
	return ret ? 1 : 0;
}
