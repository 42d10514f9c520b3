// SPDX-License-Identifier: GPL-2.0-only
/*
 * The connector's uplink guard (bpf/zt_uplink.bpf.c through daemon/dataplane/uplink.c):
 * the real object loaded into a private pin directory, fed crafted
 * Ethernet/IPv4/IPv6/UDP frames with BPF_PROG_RUN; then attached for real
 * to veth interfaces in a network namespace of its own (the whole test
 * runs in one, created with unshare), where replacing our own guard,
 * refusing someone else's program, the generic-mode fallback, detach and
 * teardown are checked against what the kernel reports.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>
#include <cmocka.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>

#include "bpf/lib/wire.h"	/* ZT_MAX_EXTHDR */
#include "lib/clock.h"
#include "zt_testlib.h"
#include "dataplane/uplink.h"

#define PORT	51820

static struct zt_uplink *U;
static int prog_fd;
static char pin_dir[128];
static uint8_t inb[1024], outb[2048];
static uint32_t outlen;

static const char *const SRC4 = "198.51.100.7", *const DST4 = "203.0.113.1";
static const char *const SRC6 = "2001:db8:1::7", *const DST6 = "2001:db8:2::1";

/* Run one frame through the guard; the frame must come back unchanged on a pass. */
static int run(struct pspec s)
{
	size_t len = build_pkt(inb, &s);
	int rc;

	memset(outb, 0, sizeof(outb));
	rc = run_prog(prog_fd, inb, len, outb, &outlen, 1, NULL);
	if (rc == XDP_PASS) {
		assert_int_equal(outlen, len);
		assert_memory_equal(outb, inb, len);
	}
	return rc;
}

/* A datagram to the tunnel port: message TYPE, PLEN bytes of UDP payload. */
static struct pspec tun_msg(const char *src, const char *dst, int type, int plen)
{
	static uint8_t first[4];

	first[0] = (uint8_t)type;
	return (struct pspec){ .src = src, .dst = dst, .proto = 17, .sport = 40000,
			       .dport = PORT, .payload = plen, .data = first,
			       .datalen = 4 };
}

static struct zt_uplink_stats stats(void)
{
	struct zt_uplink_stats s;

	assert_int_equal(zt_uplink_read_stats(U, &s), 0);
	return s;
}

static void assert_stats_delta(const struct zt_uplink_stats *before, uint64_t passed,
			       uint64_t malformed, uint64_t ratelimited, uint64_t inits)
{
	struct zt_uplink_stats now = stats();

	assert_int_equal(now.passed - before->passed, passed);
	assert_int_equal(now.dropped_malformed - before->dropped_malformed, malformed);
	assert_int_equal(now.dropped_ratelimited - before->dropped_ratelimited, ratelimited);
	assert_int_equal(now.initiations_seen - before->initiations_seen, inits);
}

/* Empty the per-source buckets so each test starts with full ones. */
static void clear_buckets(void)
{
	struct zt_uplink_rl_key k, next;
	int fd = zt_uplink_rl_fd(U);

	while (!bpf_map_get_next_key(fd, NULL, &next)) {
		k = next;
		assert_int_equal(bpf_map_delete_elem(fd, &k), 0);
	}
}

static int setup(void **st)
{
	char err[256] = "";
	int ret;

	(void)st;
	/* Our own network namespace: the attach tests create interfaces in it. */
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	if (system("ip link set lo up"))
		return -1;
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/ztgate/uplink-test-%d/uplink",
		 (int)getpid());
	ret = zt_uplink_open(pin_dir, &U, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "zt_uplink_open: %s\n", err);
		return -1;
	}
	prog_fd = zt_uplink_prog_fd(U);
	return prog_fd >= 0 ? 0 : -1;
}

static int teardown(void **st)
{
	char err[256] = "", parent[128];
	struct stat sb;
	int ret;

	(void)st;
	zt_uplink_close(U);
	ret = zt_uplink_teardown(pin_dir, err, sizeof(err));
	snprintf(parent, sizeof(parent), "/sys/fs/bpf/ztgate/uplink-test-%d", (int)getpid());
	rmdir(parent);
	if (ret) {
		fprintf(stderr, "zt_uplink_teardown: %s\n", err);
		return -1;
	}
	if (stat(pin_dir, &sb) == 0) {
		fprintf(stderr, "teardown: %s still exists\n", pin_dir);
		return -1;
	}
	return 0;
}

/* ---- the filter ---- */

static void test_disabled_passes_everything(void **st)
{
	struct zt_uplink_stats before;
	int t;

	(void)st;
	/* A freshly created config is all zeroes: port 0, off. */
	before = stats();
	for (t = 0; t < 6; t++) {
		assert_int_equal(run(tun_msg(SRC4, DST4, t, 7)), XDP_PASS);
		assert_int_equal(run(tun_msg(SRC6, DST6, t, 7)), XDP_PASS);
	}
	for (t = 0; t < 100; t++)
		assert_int_equal(run(tun_msg(SRC4, DST4, 1, 148)), XDP_PASS);
	assert_stats_delta(&before, 0, 0, 0, 0);
}

static void test_other_traffic_passes(void **st)
{
	struct zt_uplink_stats before;
	uint8_t arp[60] = { 0 };
	struct pspec s;

	(void)st;
	assert_int_equal(zt_uplink_set_config(U, PORT, 0, 0), 0);
	before = stats();
	/* Other UDP ports, with bytes that would be malformed on ours. */
	s = tun_msg(SRC4, DST4, 9, 5);
	s.dport = 53;
	assert_int_equal(run(s), XDP_PASS);
	s = tun_msg(SRC6, DST6, 1, 20);
	s.dport = PORT + 1;
	assert_int_equal(run(s), XDP_PASS);
	/* Our port number, other protocols. */
	assert_int_equal(run((struct pspec){ .src = SRC4, .dst = DST4, .proto = 6, .sport = 1,
					     .dport = PORT, .tcp_flags = 2, .payload = 3 }),
			 XDP_PASS);
	assert_int_equal(run((struct pspec){ .src = SRC6, .dst = DST6, .proto = 6, .sport = 1,
					     .dport = PORT, .tcp_flags = 2 }),
			 XDP_PASS);
	assert_int_equal(run((struct pspec){ .src = SRC4, .dst = DST4, .proto = 1,
					     .icmp_type = 8 }),
			 XDP_PASS);
	assert_int_equal(run((struct pspec){ .src = SRC6, .dst = DST6, .proto = 58,
					     .icmp_type = 128 }),
			 XDP_PASS);
	/* Not IP. */
	arp[12] = 0x08;
	arp[13] = 0x06;
	assert_int_equal(run_prog(prog_fd, arp, sizeof(arp), outb, &outlen, 1, NULL), XDP_PASS);
	/* IPv4 and IPv6 cut short inside the IP header: not ours to judge. */
	arp[13] = 0x00;
	assert_int_equal(run_prog(prog_fd, arp, 20, outb, &outlen, 1, NULL), XDP_PASS);
	arp[12] = 0x86;
	arp[13] = 0xdd;
	assert_int_equal(run_prog(prog_fd, arp, 40, outb, &outlen, 1, NULL), XDP_PASS);
	assert_stats_delta(&before, 0, 0, 0, 0);
}

static void test_sizes(void **st)
{
	static const struct { int type, good; } msgs[] = {
		{ ZT_MSG_INITIATION, ZT_MSG_INITIATION_LEN },
		{ ZT_MSG_RESPONSE, ZT_MSG_RESPONSE_LEN },
		{ ZT_MSG_COOKIE_REPLY, ZT_MSG_COOKIE_REPLY_LEN },
	};
	const char *const src[] = { SRC4, SRC6 }, *const dst[] = { DST4, DST6 };
	struct zt_uplink_stats before;
	uint64_t passed = 0, dropped = 0, inits = 0;
	int f, m, d;

	(void)st;
	/* Roomy budget: this test is about sizes only. */
	assert_int_equal(zt_uplink_set_config(U, PORT, 1000000, 1000000), 0);
	clear_buckets();
	before = stats();
	for (f = 0; f < 2; f++) {
		for (m = 0; m < 3; m++) {
			int t = msgs[m].type, good = msgs[m].good;
			const int bad[] = { 1, 4, good - 16, good - 1, good + 1, good + 16, 600 };

			if (run(tun_msg(src[f], dst[f], t, good)) != XDP_PASS)
				fail_msg("type %d, %d bytes, v%d: dropped", t, good, f ? 6 : 4);
			passed++;
			inits += t == ZT_MSG_INITIATION;
			for (d = 0; d < (int)(sizeof(bad) / sizeof(bad[0])); d++) {
				if (run(tun_msg(src[f], dst[f], t, bad[d])) != XDP_DROP)
					fail_msg("type %d, %d bytes, v%d: passed", t, bad[d],
						 f ? 6 : 4);
				dropped++;
			}
		}
		/* Transport: 32 bytes (a keepalive) and up pass; shorter never. */
		for (d = 32; d <= 900; d += 434) {
			assert_int_equal(run(tun_msg(src[f], dst[f], ZT_MSG_TRANSPORT, d)), XDP_PASS);
			passed++;
		}
		assert_int_equal(run(tun_msg(src[f], dst[f], ZT_MSG_TRANSPORT, 33)), XDP_PASS);
		passed++;
		for (d = 1; d < 32; d += 10) {
			assert_int_equal(run(tun_msg(src[f], dst[f], ZT_MSG_TRANSPORT, d)), XDP_DROP);
			dropped++;
		}
		assert_int_equal(run(tun_msg(src[f], dst[f], ZT_MSG_TRANSPORT, 31)), XDP_DROP);
		dropped++;
		/* Unknown types, at every valid size; and an empty datagram. */
		for (m = 0; m < 4; m++) {
			const int t[] = { 0, 5, 0x41, 0xff };

			for (d = 0; d < 3; d++) {
				assert_int_equal(run(tun_msg(src[f], dst[f], t[m], msgs[d].good)),
						 XDP_DROP);
				dropped++;
			}
		}
		assert_int_equal(run(tun_msg(src[f], dst[f], ZT_MSG_INITIATION, 0)), XDP_DROP);
		dropped++;
	}
	assert_stats_delta(&before, passed, dropped, 0, inits);
}

static void test_malformed_headers(void **st)
{
	/* IPv6 fragment header: next header UDP, offset 0 and M set; then a later fragment. */
	static const uint8_t frag6_first[8] = { 17, 0, 0x00, 0x01, 0, 0, 0, 42 };
	static const uint8_t frag6_later[8] = { 17, 0, 0x00, 0x10, 0, 0, 0, 42 };
	static const uint8_t frag6_atomic[8] = { 17, 0, 0x00, 0x00, 0, 0, 0, 42 };
	/* Destination options (8 bytes of PadN) before UDP. */
	static const uint8_t dstopts[8] = { 17, 0, 1, 4, 0, 0, 0, 0 };
	struct zt_uplink_stats before;
	struct pspec s;

	(void)st;
	assert_int_equal(zt_uplink_set_config(U, PORT, 1000000, 1000000), 0);
	before = stats();

	/* UDP length longer than what arrived (truncated frame). */
	s = tun_msg(SRC4, DST4, ZT_MSG_TRANSPORT, 100);
	s.truncate = 10;
	assert_int_equal(run(s), XDP_DROP);
	s = tun_msg(SRC6, DST6, ZT_MSG_INITIATION, 148);
	s.truncate = 1;
	assert_int_equal(run(s), XDP_DROP);

	/* VLAN-tagged: same rules. */
	s = tun_msg(SRC4, DST4, ZT_MSG_RESPONSE, 91);
	s.vlan = true;
	assert_int_equal(run(s), XDP_DROP);
	s = tun_msg(SRC6, DST6, ZT_MSG_RESPONSE, 92);
	s.vlan = true;
	assert_int_equal(run(s), XDP_PASS);

	/* IPv4 first fragment: a handshake message is never fragmented, transport may be. */
	s = tun_msg(SRC4, DST4, ZT_MSG_INITIATION, 148);
	s.frag = 0x2000;
	assert_int_equal(run(s), XDP_DROP);
	s = tun_msg(SRC4, DST4, ZT_MSG_TRANSPORT, 100);
	s.frag = 0x2000;
	assert_int_equal(run(s), XDP_PASS);
	/* A later fragment has no UDP header, whatever its bytes look like. */
	s = tun_msg(SRC4, DST4, 0x77, 3);
	s.frag = 0x0010;
	assert_int_equal(run(s), XDP_PASS);

	/* IPv6: the same through a fragment header, and past destination options. */
	s = tun_msg(SRC6, DST6, ZT_MSG_COOKIE_REPLY, 64);
	s.ext = frag6_first;
	s.extlen = 8;
	s.ext_first = 44;
	assert_int_equal(run(s), XDP_DROP);
	s = tun_msg(SRC6, DST6, ZT_MSG_TRANSPORT, 64);
	s.ext = frag6_first;
	s.extlen = 8;
	s.ext_first = 44;
	assert_int_equal(run(s), XDP_PASS);
	s = tun_msg(SRC6, DST6, 0x77, 3);
	s.ext = frag6_later;
	s.extlen = 8;
	s.ext_first = 44;
	assert_int_equal(run(s), XDP_PASS);
	s = tun_msg(SRC6, DST6, ZT_MSG_INITIATION, 147);
	s.ext = frag6_atomic;
	s.extlen = 8;
	s.ext_first = 44;
	assert_int_equal(run(s), XDP_DROP);
	s = tun_msg(SRC6, DST6, ZT_MSG_INITIATION, 149);
	s.ext = dstopts;
	s.extlen = 8;
	s.ext_first = 60;
	assert_int_equal(run(s), XDP_DROP);
	s = tun_msg(SRC6, DST6, ZT_MSG_INITIATION, 148);
	s.ext = dstopts;
	s.extlen = 8;
	s.ext_first = 60;
	assert_int_equal(run(s), XDP_PASS);

	/* passed: vlan response, 2 transport first fragments, dstopts initiation (later fragments are not ours to count). */
	assert_stats_delta(&before, 4, 7, 0, 1);
}

static void test_rate_limit(void **st)
{
	const char *const other4 = "198.51.100.8", *const other6 = "2001:db8:1::8";
	struct zt_uplink_stats before;
	struct zt_uplink_rl_key k;
	struct zt_uplink_rl_val v;
	uint64_t t0, waited;
	int i, rc = XDP_DROP, polls = 0;

	(void)st;
	/* 2 per second, bucket of 3: a burst of 3 passes, the 4th (within 500 ms) does not. */
	assert_int_equal(zt_uplink_set_config(U, PORT, 2, 3), 0);
	clear_buckets();
	before = stats();
	t0 = zt_mono_ns();
	for (i = 0; i < 3; i++)
		assert_int_equal(run(tun_msg(SRC4, DST4, ZT_MSG_INITIATION, 148)), XDP_PASS);
	assert_int_equal(run(tun_msg(SRC4, DST4, ZT_MSG_INITIATION, 148)), XDP_DROP);
	/* The budget is per source: another address, either family, has its own. */
	assert_int_equal(run(tun_msg(other4, DST4, ZT_MSG_INITIATION, 148)), XDP_PASS);
	for (i = 0; i < 3; i++)
		assert_int_equal(run(tun_msg(SRC6, DST6, ZT_MSG_INITIATION, 148)), XDP_PASS);
	assert_int_equal(run(tun_msg(SRC6, DST6, ZT_MSG_INITIATION, 148)), XDP_DROP);
	assert_int_equal(run(tun_msg(other6, DST6, ZT_MSG_INITIATION, 148)), XDP_PASS);
	/* Only initiations cost tokens: the drained source still gets everything else. */
	assert_int_equal(run(tun_msg(SRC4, DST4, ZT_MSG_RESPONSE, 92)), XDP_PASS);
	assert_int_equal(run(tun_msg(SRC4, DST4, ZT_MSG_COOKIE_REPLY, 64)), XDP_PASS);
	assert_int_equal(run(tun_msg(SRC4, DST4, ZT_MSG_TRANSPORT, 32)), XDP_PASS);
	/* A malformed initiation is dropped as such and costs nothing. */
	assert_int_equal(run(tun_msg(other4, DST4, ZT_MSG_INITIATION, 149)), XDP_DROP);
	waited = zt_mono_ns() - t0;
	if (waited >= 400000000ULL)
		skip();	/* too slow a machine for a 500 ms token: the drops above may not hold */
	assert_stats_delta(&before, 3 + 1 + 3 + 1 + 3, 1, 2, 10);

	/* The bucket as bpftool shows it: 3 admitted, 1 dropped. */
	zt_addr(SRC4, k.addr);
	assert_int_equal(bpf_map_lookup_elem(zt_uplink_rl_fd(U), &k, &v), 0);
	assert_int_equal(v.admitted, 3);
	assert_int_equal(v.dropped, 1);
	zt_addr(other4, k.addr);
	assert_int_equal(bpf_map_lookup_elem(zt_uplink_rl_fd(U), &k, &v), 0);
	assert_int_equal(v.admitted, 1);
	assert_int_equal(v.dropped, 0);

	/*
	 * Refill: the drained source gets a token back after about 1/rate
	 * (500 ms after the first of the burst), not before 400 ms and well
	 * within 2 s. Polled every 20 ms; each refused poll counts as a drop.
	 */
	while (zt_mono_ns() - t0 < 2000000000ULL) {
		rc = run(tun_msg(SRC4, DST4, ZT_MSG_INITIATION, 148));
		polls++;
		if (rc == XDP_PASS)
			break;
		usleep(20000);
	}
	waited = zt_mono_ns() - t0;
	assert_int_equal(rc, XDP_PASS);
	assert_true(waited >= 400000000ULL);
	assert_stats_delta(&before, 3 + 1 + 3 + 1 + 3 + 1, 1, 2 + (uint64_t)polls - 1,
			   10 + (uint64_t)polls);
}

static void test_defaults(void **st)
{
	struct zt_uplink_stats before;
	int i;

	(void)st;
	/* Rate and burst 0: 20 per second, bucket of 40. */
	assert_int_equal(zt_uplink_set_config(U, PORT, 0, 0), 0);
	clear_buckets();
	before = stats();
	for (i = 0; i < 40; i++)
		assert_int_equal(run(tun_msg(SRC4, DST4, ZT_MSG_INITIATION, 148)), XDP_PASS);
	/* 40 runs take far less than the 50 ms a token takes to come back. */
	assert_int_equal(run(tun_msg(SRC4, DST4, ZT_MSG_INITIATION, 148)), XDP_DROP);
	assert_stats_delta(&before, 40, 0, 1, 41);

	/* A rate with burst 0: the burst is the rate. */
	assert_int_equal(zt_uplink_set_config(U, PORT, 5, 0), 0);
	clear_buckets();
	for (i = 0; i < 5; i++)
		assert_int_equal(run(tun_msg(SRC6, DST6, ZT_MSG_INITIATION, 148)), XDP_PASS);
	assert_int_equal(run(tun_msg(SRC6, DST6, ZT_MSG_INITIATION, 148)), XDP_DROP);
}

/* ---- attaching ---- */

/* A STUN-shaped datagram: Binding request header with length field MLEN, PLEN bytes. */
static struct pspec stun_msg(const char *src, const char *dst, int mlen, int plen, uint8_t b0,
			     uint8_t cookie0)
{
	static uint8_t hdr[8];

	hdr[0] = b0;
	hdr[1] = 0x01;
	hdr[2] = (uint8_t)(mlen >> 8);
	hdr[3] = (uint8_t)mlen;
	hdr[4] = cookie0;
	hdr[5] = 0x12;
	hdr[6] = 0xa4;
	hdr[7] = 0x42;
	return (struct pspec){ .src = src, .dst = dst, .proto = 17, .sport = 40000,
			       .dport = PORT, .payload = plen, .data = hdr, .datalen = 8 };
}

/* Relay mode (docs/RELAY.md): STUN and relay messages of their sizes only; hellos rate-limited. */
static void test_relay_mode(void **st)
{
	static const struct { int type, good; } fixed[] = {
		{ ZT_RELAY_MSG_HELLO, ZT_RELAY_MSG_HELLO_LEN },
		{ ZT_RELAY_MSG_CHALLENGE, ZT_RELAY_MSG_CHALLENGE_LEN },
		{ ZT_RELAY_MSG_REGISTERED, ZT_RELAY_MSG_REGISTERED_LEN },
		{ ZT_RELAY_MSG_KEEPALIVE, ZT_RELAY_MSG_KEEPALIVE_LEN },
		{ ZT_RELAY_MSG_ERROR, ZT_RELAY_MSG_ERROR_LEN },
	};
	const char *const src[] = { SRC4, SRC6 }, *const dst[] = { DST4, DST6 };
	struct zt_uplink_stats before;
	int f, m, i, passed_hellos = 0;

	(void)st;
	assert_int_equal(zt_uplink_set_relay_config(U, PORT, 1000000, 1000000), 0);
	clear_buckets();
	for (f = 0; f < 2; f++) {
		for (m = 0; m < (int)(sizeof(fixed) / sizeof(fixed[0])); m++) {
			int t = fixed[m].type, good = fixed[m].good;

			if (run(tun_msg(src[f], dst[f], t, good)) != XDP_PASS)
				fail_msg("relay type 0x%x, %d bytes: dropped", t, good);
			if (run(tun_msg(src[f], dst[f], t, good - 1)) != XDP_DROP ||
			    run(tun_msg(src[f], dst[f], t, good + 1)) != XDP_DROP)
				fail_msg("relay type 0x%x, %d +- 1 bytes: passed", t, good);
		}
		/* register: 70 + 32 n */
		assert_int_equal(run(tun_msg(src[f], dst[f], ZT_RELAY_MSG_REGISTER, 70)), XDP_PASS);
		assert_int_equal(run(tun_msg(src[f], dst[f], ZT_RELAY_MSG_REGISTER, 134)), XDP_PASS);
		assert_int_equal(run(tun_msg(src[f], dst[f], ZT_RELAY_MSG_REGISTER, 69)), XDP_DROP);
		assert_int_equal(run(tun_msg(src[f], dst[f], ZT_RELAY_MSG_REGISTER, 71)), XDP_DROP);
		assert_int_equal(run(tun_msg(src[f], dst[f], ZT_RELAY_MSG_REGISTER, 133)), XDP_DROP);
		/* send/recv: at least one byte of datagram */
		for (i = ZT_RELAY_MSG_SEND; i <= ZT_RELAY_MSG_RECV; i++) {
			assert_int_equal(run(tun_msg(src[f], dst[f], i, 37)), XDP_PASS);
			assert_int_equal(run(tun_msg(src[f], dst[f], i, 900)), XDP_PASS);
			assert_int_equal(run(tun_msg(src[f], dst[f], i, 36)), XDP_DROP);
		}
		/* Tunnel messages, other types in the relay range, and junk: dropped. */
		assert_int_equal(run(tun_msg(src[f], dst[f], ZT_MSG_INITIATION, 148)), XDP_DROP);
		assert_int_equal(run(tun_msg(src[f], dst[f], ZT_MSG_TRANSPORT, 200)), XDP_DROP);
		assert_int_equal(run(tun_msg(src[f], dst[f], 0x18, 96)), XDP_DROP);
		assert_int_equal(run(tun_msg(src[f], dst[f], 0x1f, 96)), XDP_DROP);
		assert_int_equal(run(tun_msg(src[f], dst[f], ZT_RELAY_MSG_HELLO, 0)), XDP_DROP);
		/* STUN: cookie, top bits and a length field that is the rest of the datagram. */
		assert_int_equal(run(stun_msg(src[f], dst[f], 0, 20, 0, 0x21)), XDP_PASS);
		assert_int_equal(run(stun_msg(src[f], dst[f], 8, 28, 0, 0x21)), XDP_PASS);
		assert_int_equal(run(stun_msg(src[f], dst[f], 4, 20, 0, 0x21)), XDP_DROP);
		assert_int_equal(run(stun_msg(src[f], dst[f], 6, 26, 0, 0x21)), XDP_DROP);
		assert_int_equal(run(stun_msg(src[f], dst[f], 0, 20, 0, 0x22)), XDP_DROP);
		assert_int_equal(run(stun_msg(src[f], dst[f], 0, 20, 0x40, 0x21)), XDP_DROP);
	}
	/* A relay message with a non-zero header byte. */
	{
		static const uint8_t bad_hdr[4] = { ZT_RELAY_MSG_HELLO, 0, 1, 0 };
		struct pspec s = tun_msg(SRC4, DST4, ZT_RELAY_MSG_HELLO, 96);

		s.data = bad_hdr;
		assert_int_equal(run(s), XDP_DROP);
	}

	/* Hellos over the source's budget are dropped; another source keeps its own. */
	assert_int_equal(zt_uplink_set_relay_config(U, PORT, 10, 20), 0);
	clear_buckets();
	before = stats();
	for (i = 0; i < 60; i++)
		passed_hellos += run(tun_msg(SRC4, DST4, ZT_RELAY_MSG_HELLO, 96)) == XDP_PASS;
	assert_true(passed_hellos >= 20 && passed_hellos <= 22);
	assert_int_equal(run(tun_msg(SRC6, DST6, ZT_RELAY_MSG_HELLO, 96)), XDP_PASS);
	/* Only hellos spend it: sends still pass. */
	assert_int_equal(run(tun_msg(SRC4, DST4, ZT_RELAY_MSG_SEND, 100)), XDP_PASS);
	assert_stats_delta(&before, (uint64_t)passed_hellos + 2, 0, 60 - (uint64_t)passed_hellos, 61);

	/* Back to a tunnel port: relay messages are junk there. */
	assert_int_equal(zt_uplink_set_config(U, PORT, 0, 0), 0);
	assert_int_equal(run(tun_msg(SRC4, DST4, ZT_RELAY_MSG_HELLO, 96)), XDP_DROP);
	clear_buckets();
}

/*
 * Tunnel mode with relays (connector --uplink --relay): a relay's datagrams
 * (its messages, STUN answers) pass from the relay's address and port only;
 * from anywhere else they are malformed tunnel messages, as before.
 */
static void test_tunnel_mode_relay_sources(void **st)
{
	struct zt_endpoint relays[2];
	struct zt_uplink_stats before;
	struct pspec challenge4, challenge6, stun;
	char err[128];

	(void)st;
	assert_int_equal(zt_uplink_set_config(U, PORT, 0, 0), 0);
	assert_int_equal(zt_endpoint_parse("198.51.100.7:3478", &relays[0], err, sizeof(err)), 0);
	assert_int_equal(zt_endpoint_parse("[2001:db8:1::7]:3478", &relays[1], err, sizeof(err)), 0);
	challenge4 = tun_msg(SRC4, DST4, ZT_RELAY_MSG_CHALLENGE, ZT_RELAY_MSG_CHALLENGE_LEN);
	challenge6 = tun_msg(SRC6, DST6, ZT_RELAY_MSG_CHALLENGE, ZT_RELAY_MSG_CHALLENGE_LEN);
	stun = stun_msg(SRC4, DST4, 12, 32, 0x01, 0x21);

	/* No relays known: a challenge and a STUN answer are malformed tunnel messages. */
	assert_int_equal(zt_uplink_set_relays(U, NULL, 0), 0);
	challenge4.sport = 3478;
	stun.sport = 3478;
	before = stats();
	assert_int_equal(run(challenge4), XDP_DROP);
	assert_int_equal(run(stun), XDP_DROP);
	assert_stats_delta(&before, 0, 2, 0, 0);

	/* The relays known: from their address and port they pass, v4 and v6. */
	assert_int_equal(zt_uplink_set_relays(U, relays, 2), 0);
	challenge6.sport = 3478;
	before = stats();
	assert_int_equal(run(challenge4), XDP_PASS);
	assert_int_equal(run(challenge6), XDP_PASS);
	assert_int_equal(run(stun), XDP_PASS);
	assert_stats_delta(&before, 3, 0, 0, 0);

	/* The same address from another port, or another address: still dropped. */
	challenge4.sport = 3479;
	before = stats();
	assert_int_equal(run(challenge4), XDP_DROP);
	assert_int_equal(run(tun_msg(DST4, SRC4, ZT_RELAY_MSG_CHALLENGE,
				     ZT_RELAY_MSG_CHALLENGE_LEN)), XDP_DROP);
	assert_stats_delta(&before, 0, 2, 0, 0);

	/* Tunnel messages from elsewhere are judged as always. */
	before = stats();
	assert_int_equal(run(tun_msg(DST4, SRC4, ZT_MSG_TRANSPORT, 64)), XDP_PASS);
	assert_int_equal(run(tun_msg(DST4, SRC4, ZT_MSG_RESPONSE, 91)), XDP_DROP);
	assert_stats_delta(&before, 1, 1, 0, 0);

	/* The set is replaced whole; more than fits is refused. */
	assert_int_equal(zt_uplink_set_relays(U, relays, 1), 0);
	challenge6.sport = 3478;
	assert_int_equal(run(challenge6), XDP_DROP);
	assert_int_equal(zt_uplink_set_relays(U, relays, ZT_UPLINK_RELAYS_MAX + 1), -E2BIG);
	assert_int_equal(zt_uplink_set_relays(U, NULL, 0), 0);
}

/* A relay's recv (from RELAY:3478) carrying a tunnel message of type INNER, PLEN bytes in all. */
static struct pspec relay_recv(const char *relay, const char *dst, uint8_t inner, int plen)
{
	static uint8_t d[ZT_RELAY_MSG_FWD_HDR_LEN + 1];

	memset(d, 0, sizeof(d));
	d[0] = ZT_RELAY_MSG_RECV;
	d[ZT_RELAY_MSG_FWD_HDR_LEN] = inner;
	return (struct pspec){ .src = relay, .dst = dst, .proto = 17, .sport = 3478,
			       .dport = PORT, .payload = plen, .data = d, .datalen = sizeof(d) };
}

/*
 * Issue 10 A1: a relay's address is no licence for unlimited DH work. The
 * initiations a relay's recv carries spend that relay's bucket
 * (ZT_UPLINK_RELAY_RATE/BURST, higher than a source's); everything else
 * from it still passes, and other relays and direct sources keep theirs.
 */
static void test_relayed_initiations_limited(void **st)
{
	const int init_len = ZT_RELAY_MSG_FWD_HDR_LEN + ZT_MSG_INITIATION_LEN, n = ZT_UPLINK_RELAY_BURST + 100;
	struct zt_endpoint relays[2];
	struct zt_uplink_stats before;
	struct zt_uplink_rl_val v;
	struct zt_uplink_relay_key k = { 0 };
	uint64_t t0, elapsed;
	char err[128];
	int i, passed = 0;

	(void)st;
	assert_int_equal(zt_uplink_set_config(U, PORT, 0, 0), 0);
	clear_buckets();
	assert_int_equal(zt_endpoint_parse("198.51.100.7:3478", &relays[0], err, sizeof(err)), 0);
	assert_int_equal(zt_endpoint_parse("[2001:db8:1::7]:3478", &relays[1], err, sizeof(err)), 0);
	assert_int_equal(zt_uplink_set_relays(U, relays, 2), 0);

	before = stats();
	t0 = zt_mono_ns();
	for (i = 0; i < n; i++)
		passed += run(relay_recv(SRC4, DST4, ZT_MSG_INITIATION, init_len)) == XDP_PASS;
	elapsed = zt_mono_ns() - t0;
	/* The burst, plus what refilled meanwhile: never the whole flood. */
	assert_true(passed >= ZT_UPLINK_RELAY_BURST);
	assert_true((uint64_t)passed <= ZT_UPLINK_RELAY_BURST + 1 +
		    elapsed * ZT_UPLINK_RELAY_RATE / 1000000000ULL);
	assert_true(passed < n);
	assert_stats_delta(&before, (uint64_t)passed, 0, (uint64_t)(n - passed), (uint64_t)n);
	/* The bucket as bpftool shows it: the value of the relay's entry. */
	memcpy(k.addr, relays[0].addr, sizeof(k.addr));
	k.port = relays[0].port;
	assert_int_equal(bpf_map_lookup_elem(zt_uplink_relays_fd(U), &k, &v), 0);
	assert_int_equal(v.admitted, (uint64_t)passed);
	assert_int_equal(v.dropped, (uint64_t)(n - passed));

	/* The drained relay still delivers everything else; others keep their budgets. */
	before = stats();
	assert_int_equal(run(relay_recv(SRC4, DST4, ZT_MSG_TRANSPORT, ZT_RELAY_MSG_FWD_HDR_LEN + 64)),
			 XDP_PASS);
	assert_int_equal(run(relay_recv(SRC4, DST4, ZT_MSG_RESPONSE, ZT_RELAY_MSG_FWD_HDR_LEN + 92)),
			 XDP_PASS);
	assert_int_equal(run(relay_recv(SRC6, DST6, ZT_MSG_INITIATION, init_len)), XDP_PASS);
	assert_int_equal(run(tun_msg(DST4, SRC4, ZT_MSG_INITIATION, 148)), XDP_PASS);
	/* A relayed initiation of the wrong size: malformed, costs nothing. */
	assert_int_equal(run(relay_recv(SRC6, DST6, ZT_MSG_INITIATION, init_len + 1)), XDP_DROP);
	assert_stats_delta(&before, 4, 1, 0, 2);

	/* Stating the relays again gives them full buckets. */
	assert_int_equal(zt_uplink_set_relays(U, relays, 2), 0);
	assert_int_equal(run(relay_recv(SRC4, DST4, ZT_MSG_INITIATION, init_len)), XDP_PASS);
	assert_int_equal(zt_uplink_set_relays(U, NULL, 0), 0);
}

/*
 * Issue 10 A8: an IPv6 packet with more extension headers than the parser
 * walks (ZT_MAX_EXTHDR) hides its port; it is dropped and counted in
 * dropped_exthdr, not passed unexamined. One header fewer is walked and
 * judged as usual.
 */
static void test_ip6_exthdr_chain(void **st)
{
	uint8_t chain[8 * (ZT_MAX_EXTHDR + 1)];
	struct zt_uplink_stats before, now;
	struct pspec s;
	int n;

	(void)st;
	assert_int_equal(zt_uplink_set_config(U, PORT, 1000000, 1000000), 0);
	for (n = ZT_MAX_EXTHDR; n <= ZT_MAX_EXTHDR + 1; n++) {
		/* N destination options headers (8 bytes of PadN each), the last before UDP. */
		for (int i = 0; i < n; i++) {
			uint8_t *h = chain + 8 * i;

			h[0] = i == n - 1 ? 17 : 60;
			h[1] = 0;
			h[2] = 1;
			h[3] = 4;
			memset(h + 4, 0, 4);
		}
		before = stats();
		s = tun_msg(SRC6, DST6, ZT_MSG_INITIATION, 148);
		s.ext = chain;
		s.extlen = 8 * n;
		s.ext_first = 60;
		if (n == ZT_MAX_EXTHDR) {
			assert_int_equal(run(s), XDP_PASS);
			assert_stats_delta(&before, 1, 0, 0, 1);
		} else {
			assert_int_equal(run(s), XDP_DROP);
			/* Whatever it carries and wherever it goes: its port cannot be known. */
			s = tun_msg(SRC6, DST6, ZT_MSG_TRANSPORT, 64);
			s.ext = chain;
			s.extlen = 8 * n;
			s.ext_first = 60;
			s.dport = 443;
			assert_int_equal(run(s), XDP_DROP);
			assert_stats_delta(&before, 0, 0, 0, 0);
			now = stats();
			assert_int_equal(now.dropped_exthdr - before.dropped_exthdr, 2);
		}
	}
}

static void sh(const char *cmd)
{
	if (system(cmd))
		fail_msg("command failed: %s", cmd);
}

static uint32_t xdp_prog_on(const char *ifname, uint8_t *mode)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int ifindex = (int)if_nametoindex(ifname);

	assert_true(ifindex > 0);
	assert_int_equal(bpf_xdp_query(ifindex, 0, &q), 0);
	if (mode)
		*mode = q.attach_mode;
	return q.prog_id;
}

static uint32_t prog_id_of(int fd)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	return info.id;
}

/* A foreign XDP program: "return XDP_PASS", named like nothing of ours. */
static int foreign_prog(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "not_ours", "GPL", insns, 2, NULL);

	assert_true(fd >= 0);
	return fd;
}

static void test_attach(void **st)
{
	struct zt_uplink_info info, info2;
	struct zt_uplink *other = NULL;
	char err[256], other_pin[160], pinned[200];
	uint8_t mode;
	uint32_t first_id;
	int fd, pfd;

	(void)st;
	sh("ip link add up0 type veth peer name up1 && ip link set up0 up && ip link set up1 up");

	/* Native on a veth. */
	memset(&info, 0, sizeof(info));
	assert_int_equal(zt_uplink_attach(U, "up0", &info, err, sizeof(err)), 0);
	assert_true(info.native);
	assert_false(info.replaced);
	assert_int_equal(info.ifindex, (int)if_nametoindex("up0"));
	assert_int_equal(xdp_prog_on("up0", &mode), info.prog_id);
	assert_int_equal(mode, XDP_ATTACHED_DRV);
	assert_int_equal(info.prog_id, prog_id_of(prog_fd));
	/* The program is pinned beside the maps. */
	snprintf(pinned, sizeof(pinned), "%s/zt_uplink", pin_dir);
	pfd = bpf_obj_get(pinned);
	assert_true(pfd >= 0);
	assert_int_equal(prog_id_of(pfd), info.prog_id);
	close(pfd);
	first_id = info.prog_id;

	/* A restarted daemon: same pins, a new program, swapped in place. */
	zt_uplink_close(U);
	U = NULL;
	assert_int_equal(zt_uplink_open(pin_dir, &U, err, sizeof(err)), 0);
	prog_fd = zt_uplink_prog_fd(U);
	assert_int_equal(zt_uplink_attach(U, "up0", &info2, err, sizeof(err)), 0);
	assert_true(info2.replaced);
	assert_true(info2.native);
	assert_int_not_equal(info2.prog_id, first_id);
	assert_int_equal(xdp_prog_on("up0", NULL), info2.prog_id);
	/* The reopened guard uses the pinned maps: a config set now is what it runs with. */
	assert_int_equal(zt_uplink_set_config(U, PORT, 1000000, 1000000), 0);
	assert_int_equal(run(tun_msg(SRC4, DST4, 9, 148)), XDP_DROP);

	/* Another instance (its own pins) must not take over ours. */
	snprintf(other_pin, sizeof(other_pin), "%s-other", pin_dir);
	assert_int_equal(zt_uplink_open(other_pin, &other, err, sizeof(err)), 0);
	assert_int_equal(zt_uplink_attach(other, "up0", NULL, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "another ztgate instance"));
	assert_int_equal(xdp_prog_on("up0", NULL), info2.prog_id);
	/* ... nor detach it. */
	assert_int_equal(zt_uplink_detach(other, "up0", err, sizeof(err)), 0);
	assert_int_equal(xdp_prog_on("up0", NULL), info2.prog_id);
	zt_uplink_close(other);
	assert_int_equal(zt_uplink_teardown(other_pin, err, sizeof(err)), 0);
	assert_int_equal(xdp_prog_on("up0", NULL), info2.prog_id);

	/* Someone else's program: refused, left in place. */
	fd = foreign_prog();
	assert_int_equal(bpf_xdp_attach((int)if_nametoindex("up1"), fd, XDP_FLAGS_DRV_MODE, NULL), 0);
	assert_int_equal(zt_uplink_attach(U, "up1", NULL, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "not_ours"));
	assert_int_equal(xdp_prog_on("up1", NULL), prog_id_of(fd));
	assert_int_equal(zt_uplink_detach(U, "up1", err, sizeof(err)), 0);
	assert_int_equal(xdp_prog_on("up1", NULL), prog_id_of(fd));
	assert_int_equal(bpf_xdp_detach((int)if_nametoindex("up1"), XDP_FLAGS_DRV_MODE, NULL), 0);
	close(fd);

	/* Not Ethernet. */
	assert_int_equal(zt_uplink_attach(U, "lo", NULL, err, sizeof(err)), -EPROTONOSUPPORT);
	assert_int_equal(zt_uplink_attach(U, "nosuchif0", NULL, err, sizeof(err)), -ENODEV);

	/*
	 * Generic mode when native is refused: veth will not run an XDP
	 * program that cannot take multi-buffer frames with a peer MTU past
	 * a page.
	 */
	sh("ip link set up0 mtu 9000");
	memset(&info, 0, sizeof(info));
	assert_int_equal(zt_uplink_attach(U, "up1", &info, err, sizeof(err)), 0);
	assert_false(info.native);
	assert_int_equal(xdp_prog_on("up1", &mode), info.prog_id);
	assert_int_equal(mode, XDP_ATTACHED_SKB);
	/* Replacing keeps the mode it runs in. */
	assert_int_equal(zt_uplink_attach(U, "up1", &info, err, sizeof(err)), 0);
	assert_true(info.replaced);
	assert_false(info.native);

	/* Detach one; teardown (in teardown()) takes the rest. */
	assert_int_equal(zt_uplink_detach(U, "up1", err, sizeof(err)), 0);
	assert_int_equal(xdp_prog_on("up1", NULL), 0);
	assert_int_equal(zt_uplink_detach(U, "up1", err, sizeof(err)), 0);
	assert_int_equal(xdp_prog_on("up0", NULL), info2.prog_id);
}

static void test_teardown_detaches(void **st)
{
	char err[256], tmp_pin[160];
	struct zt_uplink *t = NULL;
	struct stat sb;

	(void)st;
	/* A second instance on an interface of its own, torn down with its pins. */
	sh("ip link add td0 type veth peer name td1 && ip link set td0 up && ip link set td1 up");
	snprintf(tmp_pin, sizeof(tmp_pin), "%s-td", pin_dir);
	assert_int_equal(zt_uplink_open(tmp_pin, &t, err, sizeof(err)), 0);
	assert_int_equal(zt_uplink_attach(t, "td0", NULL, err, sizeof(err)), 0);
	zt_uplink_close(t);
	/* Closing leaves it attached. */
	assert_int_not_equal(xdp_prog_on("td0", NULL), 0);
	assert_int_equal(zt_uplink_teardown(tmp_pin, err, sizeof(err)), 0);
	assert_int_equal(xdp_prog_on("td0", NULL), 0);
	assert_int_not_equal(stat(tmp_pin, &sb), 0);
	/* Ours, on up0, untouched. */
	assert_int_not_equal(xdp_prog_on("up0", NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disabled_passes_everything),
		cmocka_unit_test(test_other_traffic_passes),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_malformed_headers),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_relay_mode),
		cmocka_unit_test(test_tunnel_mode_relay_sources),
		cmocka_unit_test(test_relayed_initiations_limited),
		cmocka_unit_test(test_ip6_exthdr_chain),
		cmocka_unit_test(test_attach),
		cmocka_unit_test(test_teardown_detaches),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
