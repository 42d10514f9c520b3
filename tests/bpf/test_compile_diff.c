// SPDX-License-Identifier: GPL-2.0-only
/*
 * A policy change reaches the maps as a change (policy/compile.h, "left-
 * right"): against the real data plane's maps, a policy of 20,000
 * resources is applied, then one thing at a time changes. Each apply must
 * cost a handful of map syscalls (struct zt_compile_stats), the XDP
 * classifier (BPF_PROG_RUN) must give the new verdict for what changed and
 * the old one for the rest, and both generations must hold the same
 * entries again after every flip. Run-time bindings survive changes; a
 * restarted daemon (no image) writes everything once, then diffs again.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "lib/addr.h"
#include "policy/compile.h"
#include "tests/bpf/zt_testlib.h"

#define NRES	20000u
/* A one-entry change: written into each generation once, plus slack for nothing else. */
#define HANDFUL	8u

static struct zt_env E;
static struct zt_compiled C;
static struct zt_policy P;
static char err[512];

enum { DROP = XDP_DROP, PASS = XDP_PASS };

/* The XDP program's verdict on a TCP SYN (UDP datagram) from SRC to DST:PORT. */
static int verdict(const char *src, const char *dst, uint8_t proto, uint16_t port)
{
	static uint8_t in[1024], out[2048];
	struct pspec s = { .src = src, .dst = dst, .proto = proto, .sport = 40000, .dport = port,
			   .tcp_flags = 0x02 };
	uint32_t outlen = 0;

	return run_prog(E.xdp_fd, in, build_pkt(in, &s), out, &outlen, 1, NULL);
}

static int to_res(uint32_t id, uint8_t proto, uint16_t port)
{
	char dst[32];

	zt_test_res_addr(id, dst, sizeof(dst));
	return verdict("172.16.0.1", dst, proto, port);
}

/* Entries of each generation in a generation-keyed hash/trie map, in one walk. */
static void count_gens(enum zt_map_id map, unsigned int n[ZT_NGEN])
{
	size_t ksz = zt_image_key_size(map);
	int off = zt_image_gen_offset(map);
	uint8_t key[32], prev[32];
	void *p = NULL;

	n[0] = n[1] = 0;
	while (!bpf_map_get_next_key(E.fd[map], p, key)) {
		if (key[off] < ZT_NGEN)
			n[key[off]]++;
		memcpy(prev, key, ksz);
		p = prev;
	}
}

/* Entries of MAP in both generations. */
static unsigned int count_entries(enum zt_map_id map)
{
	unsigned int n[ZT_NGEN];

	count_gens(map, n);
	return n[0] + n[1];
}

/* Both generations hold the same number of entries in every hash/trie map. */
static void assert_generations_agree(void)
{
	static const enum zt_map_id maps[] = { ZT_MAP_RES_EXACT, ZT_MAP_RES_PREFIX, ZT_MAP_PORTS,
					       ZT_MAP_DEVICES, ZT_MAP_GRANTS, ZT_MAP_DEV_BINDS };
	unsigned int n[ZT_NGEN];
	size_t i;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		count_gens(maps[i], n);
		if (n[0] != n[1])
			fail_msg("%s: %u entries in generation 0, %u in 1", zt_map_name(maps[i]),
				 n[0], n[1]);
	}
}

/* Is PORT an entry of zt_ports in generation GEN? */
static bool port_in_map(uint32_t id, uint8_t proto, uint16_t port, unsigned int gen)
{
	struct zt_port_key k = { .resource_id = id, .port = port, .proto = proto, .gen = (__u8)gen };
	struct zt_port_val v;

	return !bpf_map_lookup_elem(E.fd[ZT_MAP_PORTS], &k, &v);
}

/* Is PORT allowed to resource ID in generation GEN: in its own list, or in zt_ports? */
static bool port_in_gen(uint32_t id, uint8_t proto, uint16_t port, unsigned int gen)
{
	uint32_t idx = gen * ZT_MAX_RESOURCES + id, flag;
	struct zt_resource r;
	const __u16 *list;
	unsigned int i, n;

	assert_int_equal(bpf_map_lookup_elem(E.fd[ZT_MAP_RESOURCES], &idx, &r), 0);
	flag = proto == ZT_PROTO_TCP ? ZT_RES_TCP_LIST : ZT_RES_UDP_LIST;
	if (!(r.flags & flag))
		return port_in_map(id, proto, port, gen);
	list = proto == ZT_PROTO_TCP ? r.tcp_ports : r.udp_ports;
	n = proto == ZT_PROTO_TCP ? r.ntcp : r.nudp;
	for (i = 0; i < n; i++)
		if (list[i] == port)
			return true;
	return false;
}

static void apply(void)
{
	if (zt_compile_apply(E.fd, &C, &P, err, sizeof(err)))
		fail_msg("apply: %s", err);
}

/* The last apply was a diff of at most MAX map syscalls. */
static void assert_cost(uint64_t max)
{
	if (C.stats.full || C.stats.updates + C.stats.deletes > max)
		fail_msg("apply cost %llu updates + %llu deletes (full %d), want <= %llu",
			 (unsigned long long)C.stats.updates, (unsigned long long)C.stats.deletes,
			 C.stats.full, (unsigned long long)max);
}

static void add(const char *name, const char *addr, const char *tcp)
{
	struct zt_resource_def def;

	assert_int_equal(zt_resource_parse(&def, name, addr, tcp, NULL, false, NULL, err,
					   sizeof(err)), 0);
	assert_int_equal(zt_policy_add(&P, &def, err, sizeof(err)), 0);
}

/* The first load writes everything, into both generations. */
static void test_first_load(void **st)
{
	(void)st;
	assert_int_equal(zt_test_policy(&P, NRES), 0);
	apply();
	assert_true(C.stats.full);
	/* Per generation: a slot (its three ports in it) and an address per resource. */
	assert_int_equal(C.stats.updates, 2ull * NRES * 2);
	assert_int_equal(count_entries(ZT_MAP_PORTS), 0);
	assert_generations_agree();
	assert_int_equal(to_res(777, ZT_PROTO_TCP, 443), PASS);
	assert_int_equal(to_res(777, ZT_PROTO_TCP, 8443), DROP);
}

/* One resource's ports change: its slot in both generations; nothing else moves. */
static void test_one_resource_ports(void **st)
{
	struct zt_resource_def *r = zt_policy_find_id(&P, 777);
	unsigned int g;

	(void)st;
	assert_int_equal(zt_ports_parse("22,8443", &r->tcp, err, sizeof(err)), 0);
	apply();
	assert_cost(2);
	assert_int_equal(C.stats.updates, 2);
	assert_int_equal(to_res(777, ZT_PROTO_TCP, 8443), PASS);
	assert_int_equal(to_res(777, ZT_PROTO_TCP, 443), DROP);
	assert_int_equal(to_res(777, ZT_PROTO_UDP, 53), PASS);
	assert_int_equal(to_res(778, ZT_PROTO_TCP, 443), PASS);
	assert_int_equal(to_res(778, ZT_PROTO_TCP, 8443), DROP);
	assert_int_equal(to_res(NRES, ZT_PROTO_TCP, 22), PASS);
	for (g = 0; g < ZT_NGEN; g++) {
		assert_true(port_in_gen(777, ZT_PROTO_TCP, 8443, g));
		assert_false(port_in_gen(777, ZT_PROTO_TCP, 443, g));
	}
	assert_generations_agree();
	/* The same policy again: nothing to write. */
	apply();
	assert_int_equal(C.stats.updates + C.stats.deletes, 0);
	assert_int_equal(to_res(777, ZT_PROTO_TCP, 8443), PASS);
}

/*
 * A list longer than a slot holds moves to zt_ports (and back): the same
 * verdicts either way, and only that resource's entries move.
 */
static void test_long_port_list(void **st)
{
	struct zt_resource_def *r = zt_policy_find_id(&P, 777);
	unsigned int g;

	(void)st;
	assert_int_equal(zt_ports_parse("22,8000-8009", &r->tcp, err, sizeof(err)), 0);
	apply();
	assert_cost(2 * 12);	/* the slot, eleven ports */
	assert_int_equal(to_res(777, ZT_PROTO_TCP, 8005), PASS);
	assert_int_equal(to_res(777, ZT_PROTO_TCP, 22), PASS);
	assert_int_equal(to_res(777, ZT_PROTO_TCP, 8010), DROP);
	assert_int_equal(to_res(777, ZT_PROTO_TCP, 8443), DROP);
	assert_int_equal(to_res(777, ZT_PROTO_UDP, 53), PASS);	/* UDP stays in the slot */
	for (g = 0; g < ZT_NGEN; g++) {
		assert_true(port_in_map(777, ZT_PROTO_TCP, 8009, g));
		assert_false(port_in_map(777, ZT_PROTO_UDP, 53, g));
	}
	assert_generations_agree();

	assert_int_equal(zt_ports_parse("22,8443", &r->tcp, err, sizeof(err)), 0);
	apply();
	assert_cost(2 * 12);
	assert_int_equal(count_entries(ZT_MAP_PORTS), 0);
	assert_int_equal(to_res(777, ZT_PROTO_TCP, 8005), DROP);
	assert_int_equal(to_res(777, ZT_PROTO_TCP, 8443), PASS);
	assert_generations_agree();
}

/* Removing a resource opens nothing else and closes its rules; adding one likewise. */
static void test_remove_and_add(void **st)
{
	(void)st;
	/* r100: port 9999 dropped while it is a resource, not its business once it is gone. */
	assert_int_equal(to_res(100, ZT_PROTO_TCP, 9999), DROP);
	assert_int_equal(zt_policy_remove(&P, "r100", err, sizeof(err)), 0);
	apply();
	assert_cost(2 * 2);	/* slot (its ports in it), address */
	assert_int_equal(to_res(100, ZT_PROTO_TCP, 9999), PASS);
	assert_int_equal(to_res(101, ZT_PROTO_TCP, 9999), DROP);
	assert_int_equal(to_res(101, ZT_PROTO_TCP, 22), PASS);

	add("fresh", "10.200.0.1", "80");
	apply();
	assert_cost(2 * 3);
	assert_int_equal(verdict("172.16.0.1", "10.200.0.1", ZT_PROTO_TCP, 80), PASS);
	assert_int_equal(verdict("172.16.0.1", "10.200.0.1", ZT_PROTO_TCP, 81), DROP);
	assert_generations_agree();
}

/* A CIDR resource: added, then moved to another prefix. */
static void test_cidr(void **st)
{
	struct zt_prefix moved;

	(void)st;
	add("net", "10.128.0.0/16", "80");
	apply();
	assert_cost(2 * 3);
	assert_int_equal(verdict("172.16.0.1", "10.128.5.5", ZT_PROTO_TCP, 80), PASS);
	assert_int_equal(verdict("172.16.0.1", "10.128.5.5", ZT_PROTO_TCP, 81), DROP);

	assert_int_equal(zt_prefix_parse("10.129.0.0/16", &moved, err, sizeof(err)), 0);
	zt_policy_find(&P, "net")->prefix = moved;
	apply();
	assert_cost(2 * 2);	/* the old prefix out, the new in */
	assert_int_equal(verdict("172.16.0.1", "10.128.5.5", ZT_PROTO_TCP, 81), PASS);
	assert_int_equal(verdict("172.16.0.1", "10.129.5.5", ZT_PROTO_TCP, 81), DROP);
	assert_int_equal(verdict("172.16.0.1", "10.129.5.5", ZT_PROTO_TCP, 80), PASS);
	assert_generations_agree();
}

static void set_flags(uint32_t flags)
{
	assert_int_equal(zt_config_set_flags(E.fd, flags), 0);
}

/* Devices and grants (connector): a grant, a revoke, a device removed. */
static void test_devices_and_grants(void **st)
{
	struct zt_device_def alice, bob;

	(void)st;
	set_flags(ZT_CFG_CHECK_DEVICE);
	assert_int_equal(zt_device_parse(&alice, "alice",
					 "agEkazMiQ/qcVG/sy9k7AhH98O5WMe7FsK49TBvjoSA=",
					 "100.64.0.7", err, sizeof(err)), 0);
	assert_int_equal(zt_policy_device_add(&P, &alice, err, sizeof(err)), 0);
	assert_int_equal(zt_device_parse(&bob, "bob", "RFXKKEBiFAbydt0Q/x7InfiiIJwlUlrxN32c+GMKGgk=",
					 "100.64.0.8", err, sizeof(err)), 0);
	assert_int_equal(zt_policy_device_add(&P, &bob, err, sizeof(err)), 0);
	assert_int_equal(zt_policy_grant_add(&P, "alice", "r5", err, sizeof(err)), 0);
	assert_int_equal(zt_policy_grant_add(&P, "bob", "r5", err, sizeof(err)), 0);
	apply();
	assert_cost(2 * 4);	/* two devices, two grants */
	assert_int_equal(verdict("100.64.0.7", "10.0.0.5", ZT_PROTO_TCP, 22), PASS);
	assert_int_equal(verdict("100.64.0.8", "10.0.0.5", ZT_PROTO_TCP, 22), PASS);
	assert_int_equal(verdict("100.64.0.7", "10.0.0.6", ZT_PROTO_TCP, 22), DROP);

	/* Revoke alice's grant: only her packets change. */
	assert_int_equal(zt_policy_grant_remove(&P, "alice", "r5", err, sizeof(err)), 0);
	apply();
	assert_cost(2);
	assert_int_equal(C.stats.deletes, 2);
	assert_int_equal(verdict("100.64.0.7", "10.0.0.5", ZT_PROTO_TCP, 22), DROP);
	assert_int_equal(verdict("100.64.0.8", "10.0.0.5", ZT_PROTO_TCP, 22), PASS);

	/* Bob removed: his address is no device any more, his grant goes with him. */
	assert_int_equal(zt_policy_device_remove(&P, "bob", err, sizeof(err)), 0);
	apply();
	assert_cost(2 * 2);
	assert_int_equal(verdict("100.64.0.8", "10.0.0.5", ZT_PROTO_TCP, 22), DROP);
	assert_generations_agree();
	set_flags(0);
}

/*
 * A fake IP bound at run time is in both generations at once, and stays
 * live across changes that carry it (the role hands it to every prepare);
 * a change that no longer carries it (its name gone) removes it from both.
 */
static void test_binding_survives(void **st)
{
	struct zt_exact_binding b = { .resource_id = 9 };
	uint32_t gen;

	(void)st;
	zt_addr_from_v4(b.addr, htonl(0xc6330001));	/* 198.51.0.1 */
	assert_int_equal(verdict("172.16.0.1", "198.51.0.1", ZT_PROTO_TCP, 9999), PASS);
	assert_int_equal(zt_compile_bind_live(E.fd, &C, &b), 0);
	assert_int_equal(verdict("172.16.0.1", "198.51.0.1", ZT_PROTO_TCP, 9999), DROP);
	assert_int_equal(verdict("172.16.0.1", "198.51.0.1", ZT_PROTO_TCP, 22), PASS);
	assert_generations_agree();

	/* Two changes (two flips) carrying it: it costs nothing and stays. */
	assert_int_equal(zt_ports_parse("22,2222", &zt_policy_find_id(&P, 9)->tcp, err,
					sizeof(err)), 0);
	assert_int_equal(zt_compile_prepare_with(E.fd, &C, &P, &b, 1, &gen, err, sizeof(err)), 0);
	assert_int_equal(zt_compile_commit(E.fd, &C, gen, err, sizeof(err)), 0);
	assert_cost(2 * 2);
	assert_int_equal(zt_compile_prepare_with(E.fd, &C, &P, &b, 1, &gen, err, sizeof(err)), 0);
	assert_int_equal(zt_compile_commit(E.fd, &C, gen, err, sizeof(err)), 0);
	assert_int_equal(C.stats.updates + C.stats.deletes, 0);
	assert_int_equal(verdict("172.16.0.1", "198.51.0.1", ZT_PROTO_TCP, 2222), PASS);
	assert_int_equal(verdict("172.16.0.1", "198.51.0.1", ZT_PROTO_TCP, 9999), DROP);

	/* Not carried any more: gone from both generations. */
	apply();
	assert_cost(2);
	assert_int_equal(verdict("172.16.0.1", "198.51.0.1", ZT_PROTO_TCP, 9999), PASS);
	assert_generations_agree();
}

/* An aborted prepare leaves the inactive generation as the live one. */
static void test_abort(void **st)
{
	struct zt_config cfg;
	uint32_t gen;

	(void)st;
	assert_int_equal(zt_ports_parse("22,4444", &zt_policy_find_id(&P, 50)->tcp, err,
					sizeof(err)), 0);
	assert_int_equal(zt_compile_prepare_with(E.fd, &C, &P, NULL, 0, &gen, err, sizeof(err)), 0);
	assert_true(port_in_gen(50, ZT_PROTO_TCP, 4444, gen));
	zt_compile_abort(E.fd, &C, gen);
	assert_false(port_in_gen(50, ZT_PROTO_TCP, 4444, gen));
	assert_true(port_in_gen(50, ZT_PROTO_TCP, 443, gen));
	assert_int_equal(zt_config_read(E.fd, &cfg), 0);
	assert_int_equal(cfg.active_gen, !gen);
	assert_generations_agree();
	assert_int_equal(to_res(50, ZT_PROTO_TCP, 4444), DROP);
	/* And the next apply still costs only the change. */
	apply();
	assert_cost(2 * 2);
	assert_int_equal(to_res(50, ZT_PROTO_TCP, 4444), PASS);
}

/*
 * A restarted daemon adopts pinned maps it has no image of: it writes its
 * policy whole (stale entries of the inactive generation cleared), into
 * both generations, and diffs from then on.
 */
static void test_restart_writes_whole(void **st)
{
	struct zt_port_key stale = { .resource_id = 30, .port = 7, .proto = ZT_PROTO_TCP };
	struct zt_port_val one = { .allow = 1 };
	struct zt_config cfg;

	(void)st;
	assert_int_equal(zt_config_read(E.fd, &cfg), 0);
	stale.gen = (__u8)!cfg.active_gen;
	assert_int_equal(bpf_map_update_elem(E.fd[ZT_MAP_PORTS], &stale, &one, BPF_ANY), 0);
	zt_compiled_free(&C);
	assert_int_equal(zt_ports_parse("22,3333", &zt_policy_find_id(&P, 30)->tcp, err,
					sizeof(err)), 0);
	apply();
	assert_true(C.stats.full);
	assert_false(port_in_map(30, ZT_PROTO_TCP, 7, 0));
	assert_false(port_in_map(30, ZT_PROTO_TCP, 7, 1));
	assert_int_equal(to_res(30, ZT_PROTO_TCP, 3333), PASS);
	assert_int_equal(to_res(30, ZT_PROTO_TCP, 443), DROP);
	assert_generations_agree();
	assert_int_equal(zt_ports_parse("22,443", &zt_policy_find_id(&P, 30)->tcp, err,
					sizeof(err)), 0);
	apply();
	assert_cost(HANDFUL);
	assert_int_equal(to_res(30, ZT_PROTO_TCP, 443), PASS);
}

static int setup(void **st)
{
	struct zt_config cfg = { .scan_threshold = 1000000 };
	cpu_set_t set;
	int ret;

	(void)st;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
	zt_policy_init(&P);
	zt_compiled_init(&C);
	ret = zt_env_open(&E, "diff");
	if (ret) {
		fprintf(stderr, "loading the data plane: %s (tests need root and BPF)\n",
			strerror(-ret));
		return -1;
	}
	return zt_set_config(&E, &cfg) ? -1 : 0;
}

static int teardown(void **st)
{
	(void)st;
	zt_policy_free(&P);
	zt_compiled_free(&C);
	zt_env_close(&E);
	return 0;
}

int main(void)
{
	/* In order: each test changes the policy the previous one left. */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_load),
		cmocka_unit_test(test_one_resource_ports),
		cmocka_unit_test(test_long_port_list),
		cmocka_unit_test(test_remove_and_add),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_devices_and_grants),
		cmocka_unit_test(test_binding_survives),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_restart_writes_whole),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
