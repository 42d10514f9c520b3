// SPDX-License-Identifier: GPL-2.0-only
/*
 * Policy compilation against real kernel maps of the same types and sizes
 * the data plane uses: entries land in the inactive generation, the flip
 * makes them live, the old generation disappears, an abort leaves nothing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <arpa/inet.h>

#include "lib/addr.h"
#include "policy/compile.h"

static zt_map_fds fds;
static char err[512];

static int create(enum bpf_map_type type, size_t key, size_t val, unsigned int max, bool noprealloc)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = noprealloc ? BPF_F_NO_PREALLOC : 0);
	int fd = bpf_map_create(type, NULL, (unsigned int)key, (unsigned int)val, max, &opts);

	if (fd < 0)
		fail_msg("bpf_map_create(type %d): %s (tests need root and BPF)", type, strerror(errno));
	return fd;
}

static int setup(void **state)
{
	(void)state;
	fds[ZT_MAP_CONFIG] = create(BPF_MAP_TYPE_ARRAY, 4, sizeof(struct zt_config), 1, false);
	fds[ZT_MAP_RES_EXACT] = create(BPF_MAP_TYPE_HASH, sizeof(struct zt_addr_key),
				       sizeof(struct zt_res_ref), ZT_MAX_EXACT, true);
	fds[ZT_MAP_RES_PREFIX] = create(BPF_MAP_TYPE_LPM_TRIE, sizeof(struct zt_lpm_key),
					sizeof(struct zt_res_ref), ZT_MAX_PREFIXES, true);
	fds[ZT_MAP_RESOURCES] = create(BPF_MAP_TYPE_ARRAY, 4, sizeof(struct zt_resource),
				       ZT_NGEN * ZT_MAX_RESOURCES, false);
	fds[ZT_MAP_PORTS] = create(BPF_MAP_TYPE_HASH, sizeof(struct zt_port_key),
				   sizeof(struct zt_port_val), ZT_MAX_PORT_RULES, true);
	fds[ZT_MAP_DEVICES] = create(BPF_MAP_TYPE_HASH, sizeof(struct zt_addr_key),
				     sizeof(struct zt_device_val), ZT_MAX_DEVICES, true);
	fds[ZT_MAP_GRANTS] = create(BPF_MAP_TYPE_HASH, sizeof(struct zt_grant_key),
				    sizeof(struct zt_grant_val), ZT_MAX_GRANTS, true);
	fds[ZT_MAP_DEV_BINDS] = create(BPF_MAP_TYPE_HASH, sizeof(struct zt_bind_key),
				       sizeof(struct zt_res_ref), 1024, true);
	fds[ZT_MAP_COUNTERS] = create(BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct zt_counters),
				      ZT_MAX_RESOURCES, false);
	fds[ZT_MAP_SCAN] = fds[ZT_MAP_EVBUDGET] = fds[ZT_MAP_EVENTS] = fds[ZT_MAP_FRAG] = -1;
	return 0;
}

static int teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < ZT_MAP__COUNT; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return 0;
}

/* Count entries of a generation-keyed map with generation GEN. */
static unsigned int count_gen(int fd, size_t key_size, size_t gen_off, unsigned int gen)
{
	uint8_t key[32], prev[32];
	unsigned int n = 0;
	void *p = NULL;

	while (!bpf_map_get_next_key(fd, p, key)) {
		if (key[gen_off] == gen)
			n++;
		memcpy(prev, key, key_size);
		p = prev;
	}
	return n;
}

#define COUNT_EXACT(g) count_gen(fds[ZT_MAP_RES_EXACT], sizeof(struct zt_addr_key), 0, g)
#define COUNT_PREFIX(g) count_gen(fds[ZT_MAP_RES_PREFIX], sizeof(struct zt_lpm_key), 4, g)
#define COUNT_PORTS(g) count_gen(fds[ZT_MAP_PORTS], sizeof(struct zt_port_key), 7, g)

static unsigned int active_gen(void)
{
	struct zt_config cfg;

	assert_int_equal(zt_config_read(fds, &cfg), 0);
	return cfg.active_gen;
}

static void add(struct zt_policy *p, const char *name, const char *addr, const char *tcp,
		const char *udp, bool icmp, const char *deny)
{
	struct zt_resource_def def;

	assert_int_equal(zt_resource_parse(&def, name, addr, tcp, udp, icmp, deny, err,
					   sizeof(err)), 0);
	assert_int_equal(zt_policy_add(p, &def, err, sizeof(err)), 0);
}

static void test_apply_and_flip(void **state)
{
	struct zt_policy p;
	unsigned int gen;
	struct zt_resource res;
	struct zt_res_ref ref;
	__u32 idx;

	(void)state;
	zt_policy_init(&p);
	add(&p, "web", "198.18.0.2", "80,443,8000-8009", "53", true, "reject");
	add(&p, "net", "10.1.0.0/16", "all", NULL, false, NULL);
	add(&p, "v6", "2001:db8::1", "22", NULL, false, NULL);

	assert_int_equal(active_gen(), 0);
	assert_int_equal(zt_compile_apply(fds, NULL, &p, err, sizeof(err)), 0);
	gen = active_gen();
	assert_int_equal(gen, 1);
	assert_int_equal(COUNT_EXACT(1), 2);
	assert_int_equal(COUNT_PREFIX(1), 1);
	/* web's twelve TCP ports; its UDP 53 and v6's 22 are held in their slots. */
	assert_int_equal(COUNT_PORTS(1), 2 + 10);
	assert_int_equal(COUNT_EXACT(0) + COUNT_PREFIX(0) + COUNT_PORTS(0), 0);

	/* The exact entry and the resource slot, as the BPF side reads them. */
	{
		struct zt_addr_key k = { .gen = 1 };

		memcpy(k.addr, zt_policy_find(&p, "web")->prefix.addr, 16);
		assert_int_equal(bpf_map_lookup_elem(fds[ZT_MAP_RES_EXACT], &k, &ref), 0);
		assert_int_equal(ref.resource_id, zt_policy_find(&p, "web")->id);
	}
	idx = 1 * ZT_MAX_RESOURCES + zt_policy_find(&p, "web")->id;
	assert_int_equal(bpf_map_lookup_elem(fds[ZT_MAP_RESOURCES], &idx, &res), 0);
	assert_int_equal(res.flags, ZT_RES_PRESENT | ZT_RES_ICMP | ZT_RES_UDP_LIST);
	assert_int_equal(res.deny_mode, ZT_DENY_REJECT);
	assert_int_equal(res.nudp, 1);
	assert_int_equal(res.udp_ports[0], 53);
	idx = 1 * ZT_MAX_RESOURCES + zt_policy_find(&p, "net")->id;
	assert_int_equal(bpf_map_lookup_elem(fds[ZT_MAP_RESOURCES], &idx, &res), 0);
	/* "all" TCP; no UDP port at all is an empty list. */
	assert_int_equal(res.flags, ZT_RES_PRESENT | ZT_RES_TCP_ALL | ZT_RES_UDP_LIST);
	assert_int_equal(res.nudp, 0);
	idx = 1 * ZT_MAX_RESOURCES + zt_policy_find(&p, "v6")->id;
	assert_int_equal(bpf_map_lookup_elem(fds[ZT_MAP_RESOURCES], &idx, &res), 0);
	assert_int_equal(res.flags, ZT_RES_PRESENT | ZT_RES_TCP_LIST | ZT_RES_UDP_LIST);
	assert_int_equal(res.ntcp, 1);
	assert_int_equal(res.tcp_ports[0], 22);

	/* An LPM lookup of an address inside the /16 finds "net". */
	{
		struct zt_lpm_key k = { .prefixlen = 8 + 128, .gen = 1 };
		struct zt_prefix a;

		assert_int_equal(zt_prefix_parse("10.1.200.7", &a, err, sizeof(err)), 0);
		memcpy(k.addr, a.addr, 16);
		assert_int_equal(bpf_map_lookup_elem(fds[ZT_MAP_RES_PREFIX], &k, &ref), 0);
		assert_int_equal(ref.resource_id, zt_policy_find(&p, "net")->id);
		k.gen = 0;
		assert_int_not_equal(bpf_map_lookup_elem(fds[ZT_MAP_RES_PREFIX], &k, &ref), 0);
	}

	/* Second apply: back to generation 0, generation 1 gone. */
	assert_int_equal(zt_policy_remove(&p, "net", err, sizeof(err)), 0);
	assert_int_equal(zt_compile_apply(fds, NULL, &p, err, sizeof(err)), 0);
	assert_int_equal(active_gen(), 0);
	assert_int_equal(COUNT_EXACT(0), 2);
	assert_int_equal(COUNT_PREFIX(0), 0);
	assert_int_equal(COUNT_EXACT(1) + COUNT_PREFIX(1) + COUNT_PORTS(1), 0);
	zt_policy_free(&p);
}

/*
 * A device's binding (issue 10, A2) goes to zt_dev_binds under its device
 * id, never to the shared exact map; every compile carries it; unbinding
 * removes it from the live generation.
 */
static void test_device_binding(void **state)
{
	struct zt_exact_binding b = { .resource_id = 7, .device_id = 3 };
	struct zt_policy p;
	struct zt_bind_key k = { .device_id = 3 };
	struct zt_res_ref ref;
	uint32_t gen;

	(void)state;
	zt_policy_init(&p);
	add(&p, "web", "198.18.0.2", "80", NULL, false, NULL);
	assert_int_equal(zt_compile_apply(fds, NULL, &p, err, sizeof(err)), 0);
	zt_addr_from_v4(b.addr, htonl(0x0a0a0007));
	assert_int_equal(zt_compile_bind_live(fds, NULL, &b), 0);
	k.gen = (__u8)active_gen();
	memcpy(k.addr, b.addr, 16);
	assert_int_equal(bpf_map_lookup_elem(fds[ZT_MAP_DEV_BINDS], &k, &ref), 0);
	assert_int_equal(ref.resource_id, 7);
	assert_int_equal(COUNT_EXACT(active_gen()), 1);	/* only web: nothing shared */

	assert_int_equal(zt_compile_prepare_with(fds, NULL, &p, &b, 1, &gen, err, sizeof(err)), 0);
	assert_int_equal(zt_compile_commit(fds, NULL, gen, err, sizeof(err)), 0);
	k.gen = (__u8)gen;
	assert_int_equal(bpf_map_lookup_elem(fds[ZT_MAP_DEV_BINDS], &k, &ref), 0);
	k.gen = (__u8)!gen;
	assert_int_not_equal(bpf_map_lookup_elem(fds[ZT_MAP_DEV_BINDS], &k, &ref), 0);

	assert_int_equal(zt_compile_unbind_live(fds, NULL, &b), 0);
	k.gen = (__u8)gen;
	assert_int_not_equal(bpf_map_lookup_elem(fds[ZT_MAP_DEV_BINDS], &k, &ref), 0);
	assert_int_equal(zt_compile_unbind_live(fds, NULL, &b), 0);	/* absent is fine */
	zt_policy_free(&p);
}

static void test_abort_and_stale(void **state)
{
	struct zt_policy p;
	uint32_t gen, before = active_gen();
	struct zt_port_key stale = { .resource_id = 77, .port = 9, .proto = ZT_PROTO_TCP };
	struct zt_port_val one = { .allow = 1 };

	(void)state;
	zt_policy_init(&p);
	add(&p, "a", "198.18.1.1", "1-100", NULL, false, NULL);

	/* Prepare then abort: nothing in the inactive generation, nothing flipped. */
	assert_int_equal(zt_compile_prepare(fds, &p, &gen, err, sizeof(err)), 0);
	assert_int_equal(gen, !before);
	assert_int_equal(COUNT_PORTS(gen), 100);
	zt_compile_abort(fds, NULL, gen);
	assert_int_equal(COUNT_PORTS(gen), 0);
	assert_int_equal(active_gen(), before);

	/* Leftovers of a crashed compile in the inactive generation are cleared. */
	stale.gen = (__u8)!before;
	assert_int_equal(bpf_map_update_elem(fds[ZT_MAP_PORTS], &stale, &one, BPF_ANY), 0);
	assert_int_equal(zt_compile_apply(fds, NULL, &p, err, sizeof(err)), 0);
	assert_int_not_equal(bpf_map_lookup_elem(fds[ZT_MAP_PORTS], &stale, &one), 0);
	assert_int_equal(COUNT_PORTS(!before), 100);
	zt_policy_free(&p);
}

static void test_counters(void **state)
{
	int ncpu = libbpf_num_possible_cpus();
	struct zt_counters *vals = calloc((size_t)ncpu, sizeof(*vals)), sum;
	__u32 id = 5;
	int i;

	(void)state;
	for (i = 0; i < ncpu; i++) {
		vals[i].allowed_packets = 1;
		vals[i].denied_bytes = 100;
	}
	assert_int_equal(bpf_map_update_elem(fds[ZT_MAP_COUNTERS], &id, vals, BPF_ANY), 0);
	assert_int_equal(zt_counters_read(fds, id, &sum), 0);
	assert_int_equal(sum.allowed_packets, (uint64_t)ncpu);
	assert_int_equal(sum.denied_bytes, 100 * (uint64_t)ncpu);
	assert_int_equal(zt_counters_reset(fds, id), 0);
	assert_int_equal(zt_counters_read(fds, id, &sum), 0);
	assert_int_equal(sum.allowed_packets + sum.denied_bytes, 0);
	free(vals);
}

static void test_tunables_keep_generation(void **state)
{
	struct zt_config cfg;
	uint32_t before = active_gen();

	(void)state;
	assert_int_equal(zt_config_set_tunables(fds, 7, 1234, 50, 60), 0);
	assert_int_equal(zt_config_read(fds, &cfg), 0);
	assert_int_equal(cfg.active_gen, before);
	assert_int_equal(cfg.scan_threshold, 7);
	assert_int_equal(cfg.scan_window_ms, 1234);
	assert_int_equal(cfg.event_rate, 50);
	assert_int_equal(cfg.event_burst, 60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_and_flip),
		cmocka_unit_test(test_abort_and_stale),
		cmocka_unit_test(test_device_binding),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_tunables_keep_generation),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
