// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_classify: per-packet cost of the XDP classifier as the policy
 * grows, through BPF_PROG_RUN with repeat. Resources are exact IPv4
 * addresses with TCP 22 and 443 and UDP 53, held in the resource entry as
 * the policy compiler holds short lists; the probe packet targets the most
 * recently added resource. Allowed = port in the list, denied = a port
 * that is not (drop mode; events rate-limited as in production). A last
 * row measures a resource whose ports are too many for its entry (the
 * zt_ports hash lookup).
 *
 * Caveat: BPF_PROG_RUN repeats one packet, so the lookups stay cache-hot;
 * this measures the algorithmic cost (hash/LPM lookups, independent of the
 * number of entries), not cache misses of a large working set.
 */
#include <sched.h>

#include "tests/bpf/zt_testlib.h"

#define REPEAT	1000000
#define ROUNDS	5

static int add_resource(struct zt_env *e, uint32_t id)
{
	char addr[32];
	int ret;

	snprintf(addr, sizeof(addr), "10.%u.%u.%u", (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff);
	ret = zt_add_exact(e, 0, addr, id);
	ret = ret ?: zt_set_res(e, 0, id, 0, ZT_DENY_DROP);
	ret = ret ?: zt_list_port(e, 0, id, ZT_PROTO_TCP, 22);
	ret = ret ?: zt_list_port(e, 0, id, ZT_PROTO_TCP, 443);
	ret = ret ?: zt_list_port(e, 0, id, ZT_PROTO_UDP, 53);
	return ret;
}

/* Best of ROUNDS runs: ns per packet. */
static double measure(struct zt_env *e, uint32_t id, uint16_t dport, int want)
{
	static uint8_t pkt[1024];
	char dst[32];
	double best = 1e18;
	uint32_t dur = 0;
	size_t len;
	int i, rc;

	snprintf(dst, sizeof(dst), "10.%u.%u.%u", (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff);
	struct pspec s = { .src = "172.16.0.1", .dst = dst, .proto = 6, .sport = 40000,
			   .dport = dport, .tcp_flags = 2, .payload = 0 };
	len = build_pkt(pkt, &s);
	for (i = 0; i < ROUNDS; i++) {
		rc = run_prog(e->xdp_fd, pkt, len, NULL, NULL, REPEAT, &dur);
		if (rc != want) {
			fprintf(stderr, "bench: verdict %d, expected %d\n", rc, want);
			exit(1);
		}
		if (dur < best)
			best = dur;
	}
	return best;
}

int main(void)
{
	static const uint32_t sizes[] = { 10, 1000, 100000 };
	struct zt_config cfg = { .scan_threshold = 1000000 };
	double base_a = 0, base_d = 0, base_p = 0;
	struct zt_env e;
	uint32_t have = 0;
	cpu_set_t set;
	size_t i;
	int ret;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
	ret = zt_env_open(&e, "bench");
	if (ret) {
		fprintf(stderr, "bench: loading data plane: %s\n", strerror(-ret));
		zt_env_close(&e);
		return 1;
	}
	zt_set_config(&e, &cfg);

	printf("%-10s %14s %14s %14s %8s %8s %8s\n", "resources", "allowed ns/pkt",
	       "denied ns/pkt", "passthru ns/pkt", "x allow", "x deny", "x pass");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double a, d, p;

		while (have < sizes[i]) {
			ret = add_resource(&e, ++have);
			if (ret) {
				fprintf(stderr, "bench: adding resource %u: %s\n", have, strerror(-ret));
				goto out;
			}
		}
		a = measure(&e, have, 443, XDP_PASS);
		d = measure(&e, have, 8080, XDP_DROP);
		p = measure(&e, 0xfe0000 | 7, 443, XDP_PASS);	/* 10.254.0.7: no resource */
		if (!i) {
			base_a = a;
			base_d = d;
			base_p = p;
		}
		printf("%-10u %14.1f %14.1f %15.1f %8.2f %8.2f %8.2f\n", sizes[i], a, d, p, a / base_a,
		       d / base_d, p / base_p);
		fflush(stdout);
	}
	/* The last resource again, its TCP ports as a range: no longer its own list. */
	ret = zt_set_res(&e, 0, have, 0, ZT_DENY_DROP);
	ret = ret ?: zt_add_ports(&e, 0, have, ZT_PROTO_TCP, 440, 449);
	if (ret) {
		fprintf(stderr, "bench: port range: %s\n", strerror(-ret));
		goto out;
	}
	{
		double a = measure(&e, have, 443, XDP_PASS), d = measure(&e, have, 8080, XDP_DROP);

		printf("%-10s %14.1f %14.1f %15s %8.2f %8.2f\n", "(hashed)", a, d, "-", a / base_a,
		       d / base_d);
		printf("(hashed): the last resource with TCP 440-449, ten ports, looked up in zt_ports\n");
	}
	ret = 0;
out:
	ret = zt_env_close(&e) ?: ret;
	return ret ? 1 : 0;
}
