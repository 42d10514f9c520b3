// SPDX-License-Identifier: GPL-2.0-only
/*
 * The client's DNS fast path (bpf/zt_dns.bpf.c through daemon/dataplane/dns_fast.c):
 * the real object loaded into a private pin directory and fed crafted
 * Ethernet/IPv4/UDP queries with BPF_PROG_RUN. A hit must come back as the
 * very bytes the daemon's codec (dns/codec.c) builds for the same query, in
 * a datagram with swapped addresses and ports and valid checksums; every
 * other shape must pass unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>
#include <cmocka.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include "zt_testlib.h"
#include "dataplane/dns_fast.h"
#include "dns/codec.h"

#define DNS_ADDR	"100.95.0.251"
#define CLIENT		"100.95.0.251"	/* a local querier speaks from the DNS address itself */
#define FAKE		"100.96.0.7"
#define TTL		15

static struct zt_dns_fast *F;
static int prog_fd;
static char pin_dir[128];
static uint8_t inb[1024], outb[2048];
static uint32_t outlen;
static struct in_addr fake;

/* A DNS query: header, NAME (dotted, case as given), QTYPE, IN, then EXTRA. */
static size_t query(uint8_t *q, uint16_t id, uint16_t flags, const char *name, uint16_t qtype,
		    const uint8_t *extra, size_t extralen, uint16_t arcount)
{
	size_t off = 12;
	const char *p = name;

	memset(q, 0, 12);
	q[0] = id >> 8;
	q[1] = id & 0xff;
	q[2] = flags >> 8;
	q[3] = flags & 0xff;
	q[5] = 1;
	q[10] = arcount >> 8;
	q[11] = arcount & 0xff;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		q[off++] = (uint8_t)n;
		memcpy(q + off, p, n);
		off += n;
		p += n + (dot ? 1 : 0);
	}
	q[off++] = 0;
	q[off++] = qtype >> 8;
	q[off++] = qtype & 0xff;
	q[off++] = 0;
	q[off++] = 1;
	if (extralen)
		memcpy(q + off, extra, extralen);
	return off + extralen;
}

/* Frame a DNS message as a datagram from CLIENT:40000 to DST:DPORT. */
static size_t frame(const uint8_t *dns, size_t len, const char *dst, uint16_t dport)
{
	struct pspec s = { .src = CLIENT, .dst = dst, .proto = 17, .sport = 40000, .dport = dport,
			   .payload = (int)len, .data = dns, .datalen = (int)len };

	return build_pkt(inb, &s);
}

static int run(size_t len)
{
	memset(outb, 0, sizeof(outb));
	return run_prog(prog_fd, inb, len, outb, &outlen, 1, NULL);
}

/* Passed: TC_ACT_OK and not a byte changed. */
static void assert_passes(size_t len)
{
	assert_int_equal(run(len), TC_ACT_OK);
	assert_int_equal(outlen, len);
	assert_memory_equal(outb, inb, len);
}

static struct zt_dns_fast_stats stats(void)
{
	struct zt_dns_fast_stats s;

	assert_int_equal(zt_dns_fast_read_stats(F, &s), 0);
	return s;
}

static void put(const char *name)
{
	uint8_t q[512];
	struct zt_dns_query pq;
	size_t n = query(q, 1, 0, name, 1, NULL, 0, 0);

	assert_int_equal(zt_dns_parse_query(q, n, &pq), 0);
	assert_int_equal(zt_dns_fast_put(F, pq.qname, pq.qname_len, fake, TTL), 0);
}

/*
 * DNS (a query of LEN bytes) must come back answered: what the daemon's
 * codec builds for it, in a datagram back to the querier with valid
 * IPv4 and UDP checksums.
 */
static void assert_answered(const uint8_t *dns, size_t len)
{
	struct zt_dns_query q;
	uint8_t want[512], src[4], dst[4];
	const uint8_t *ip, *udp;
	ssize_t wlen;
	size_t flen = frame(dns, len, DNS_ADDR, 53);
	int rc;

	assert_int_equal(zt_dns_parse_query(dns, len, &q), ZT_DNS_RCODE_NOERROR);
	wlen = zt_dns_build_a(&q, fake, TTL, want, sizeof(want));
	assert_true(wlen > 0);
	rc = run(flen);
	assert_int_equal(rc, TC_ACT_OK);	/* lo loops the rewritten packet back */
	assert_int_equal(outlen, 14 + 20 + 8 + (size_t)wlen);
	ip = outb + 14;
	udp = ip + 20;
	assert_memory_equal(outb, inb, 14);			/* lo's header as it was */
	inet_pton(AF_INET, CLIENT, dst);
	inet_pton(AF_INET, DNS_ADDR, src);
	assert_memory_equal(ip + 12, src, 4);
	assert_memory_equal(ip + 16, dst, 4);
	assert_int_equal(ip[2] << 8 | ip[3], 20 + 8 + wlen);
	assert_int_equal(rfc1071(ip, 20, 0), 0);		/* header checksum valid */
	assert_int_equal(udp[0] << 8 | udp[1], 53);
	assert_int_equal(udp[2] << 8 | udp[3], 40000);
	assert_int_equal(udp[4] << 8 | udp[5], 8 + wlen);
	assert_int_equal(rfc1071(udp, 8 + (size_t)wlen,
				 pseudo_sum(false, src, dst, 17, 8 + (uint32_t)wlen)), 0);
	assert_memory_equal(udp + 8, want, (size_t)wlen);	/* the daemon's bytes */
}

static int setup(void **st)
{
	int ret;
	char err[256];

	(void)st;
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/ztgate/test-dns-%d", (int)getpid());
	inet_pton(AF_INET, FAKE, &fake);
	{
		struct in_addr a;

		inet_pton(AF_INET, DNS_ADDR, &a);
		ret = zt_dns_fast_open(pin_dir, a, 53, &F, err, sizeof(err));
	}
	if (ret) {
		fprintf(stderr, "open: %s\n", err);
		return -1;
	}
	prog_fd = zt_dns_fast_prog_fd(F);
	return 0;
}

static int teardown(void **st)
{
	char err[256];

	(void)st;
	zt_dns_fast_close(F);
	if (zt_dns_fast_teardown(pin_dir, err, sizeof(err)))
		fprintf(stderr, "teardown: %s\n", err);
	rmdir("/sys/fs/bpf/ztgate");	/* only if nothing else lives there */
	return 0;
}

static void test_hit_is_the_daemons_answer(void **st)
{
	uint8_t q[512];
	struct zt_dns_fast_stats before = stats(), after;
	size_t n;

	(void)st;
	put("nas.home.int");
	put("ab.home.int");		/* an odd-length question: the record lands at an odd offset */
	n = query(q, 0x1234, 0x0100, "nas.home.int", 1, NULL, 0, 0);
	assert_answered(q, n);
	n = query(q, 0xbeef, 0x0000, "ab.home.int", 1, NULL, 0, 0);	/* RD clear */
	assert_answered(q, n);
	n = query(q, 7, 0x0130, "nas.home.int", 1, NULL, 0, 0);	/* RD, AD, CD: AD not echoed */
	assert_answered(q, n);
	after = stats();
	assert_int_equal(after.answered - before.answered, 3);
	assert_int_equal(after.passed, before.passed);
}

static void test_uppercase_hits_case_kept(void **st)
{
	uint8_t q[512];
	size_t n;

	(void)st;
	put("nas.home.int");
	n = query(q, 0x55aa, 0x0100, "NaS.HoMe.INT", 1, NULL, 0, 0);
	assert_answered(q, n);
	assert_memory_equal(outb + 14 + 20 + 8 + 13, "NaS", 3);	/* 0x20: as asked */
}

static void test_bare_opt_hits(void **st)
{
	/* root, OPT, UDP size 4096, ext-rcode 0, version 0, DO; no options */
	static const uint8_t opt[] = { 0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0 };
	static const uint8_t opt_nodo[] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0 };
	uint8_t q[512];
	size_t n;

	(void)st;
	put("nas.home.int");
	put("ab.home.int");
	n = query(q, 9, 0x0120, "nas.home.int", 1, opt, sizeof(opt), 1);
	assert_answered(q, n);
	n = query(q, 10, 0x0100, "AB.home.int", 1, opt_nodo, sizeof(opt_nodo), 1);
	assert_answered(q, n);
}

static void test_miss_passes(void **st)
{
	uint8_t q[512];
	struct zt_dns_fast_stats before = stats();
	size_t n;

	(void)st;
	n = query(q, 1, 0x0100, "other.home.int", 1, NULL, 0, 0);
	assert_passes(frame(q, n, DNS_ADDR, 53));
	assert_int_equal(stats().missed - before.missed, 1);
}

static void test_other_shapes_pass(void **st)
{
	static const uint8_t cookie[] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 12,
					  0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t opt_v1[] = { 0, 0, 41, 0x04, 0xd0, 0, 1, 0, 0, 0, 0 };
	static const uint8_t not_opt[] = { 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0 };
	struct zt_dns_fast_stats before;
	uint8_t q[512], tmp[512];
	size_t n, len;

	(void)st;
	put("nas.home.int");
	before = stats();
	n = query(q, 1, 0x0100, "nas.home.int", 28, NULL, 0, 0);	/* AAAA */
	assert_passes(frame(q, n, DNS_ADDR, 53));
	n = query(q, 1, 0x0100, "nas.home.int", 16, NULL, 0, 0);	/* TXT */
	assert_passes(frame(q, n, DNS_ADDR, 53));
	n = query(q, 1, 0x0100, "nas.home.int", 1, NULL, 0, 0);	/* class CH */
	q[n - 1] = 3;
	assert_passes(frame(q, n, DNS_ADDR, 53));
	n = query(q, 1, 0x0100, "nas.home.int", 1, cookie, sizeof(cookie), 1);	/* EDNS option */
	assert_passes(frame(q, n, DNS_ADDR, 53));
	n = query(q, 1, 0x0100, "nas.home.int", 1, opt_v1, sizeof(opt_v1), 1);	/* EDNS version 1 */
	assert_passes(frame(q, n, DNS_ADDR, 53));
	n = query(q, 1, 0x0100, "nas.home.int", 1, not_opt, sizeof(not_opt), 1);	/* not an OPT */
	assert_passes(frame(q, n, DNS_ADDR, 53));
	n = query(q, 1, 0x8100, "nas.home.int", 1, NULL, 0, 0);	/* a response */
	assert_passes(frame(q, n, DNS_ADDR, 53));
	n = query(q, 1, 0x2100, "nas.home.int", 1, NULL, 0, 0);	/* opcode 4 (NOTIFY) */
	assert_passes(frame(q, n, DNS_ADDR, 53));
	n = query(q, 1, 0x0100, "nas.home.int", 1, NULL, 0, 0);	/* QDCOUNT 2 */
	q[5] = 2;
	assert_passes(frame(q, n, DNS_ADDR, 53));
	n = query(q, 1, 0x0100, "nas.home.int", 1, NULL, 0, 0);	/* ANCOUNT 1 */
	q[7] = 1;
	assert_passes(frame(q, n, DNS_ADDR, 53));
	/* A trailing byte after the question. */
	n = query(q, 1, 0x0100, "nas.home.int", 1, (const uint8_t *)"x", 1, 0);
	assert_passes(frame(q, n, DNS_ADDR, 53));
	/* The name as a compression pointer, and a label running past the name. */
	n = query(q, 1, 0x0100, "nas.home.int", 1, NULL, 0, 0);
	memcpy(tmp, q, n);
	tmp[12] = 0xc0;
	tmp[13] = 12;
	assert_passes(frame(tmp, n, DNS_ADDR, 53));
	memcpy(tmp, q, n);
	tmp[12] = 40;
	assert_passes(frame(tmp, n, DNS_ADDR, 53));
	/* Truncated: the datagram cut short (IP and UDP lengths then lie). */
	len = frame(q, n, DNS_ADDR, 53);
	assert_passes(len - 1);
	/* Shorter than a header, and a bare header. */
	assert_passes(frame(q, 5, DNS_ADDR, 53));
	assert_passes(frame(q, 12, DNS_ADDR, 53));
	assert_int_equal(stats().answered, before.answered);
	/* Every case but the one too short to hold the headers counts as ours. */
	assert_int_equal(stats().passed - before.passed, 15);
}

static void test_long_name_passes(void **st)
{
	char name[256];
	uint8_t q[512];
	struct zt_dns_query pq;
	size_t n;

	(void)st;
	/* Two labels of 60 and one of 9 plus "int": 1+60+1+60+1+9+1+3+1 = 137 wire bytes. */
	snprintf(name, sizeof(name), "%.60s.%.60s.%.9s.int",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "ccccccccccc");
	n = query(q, 1, 0x0100, name, 1, NULL, 0, 0);
	assert_int_equal(zt_dns_parse_query(q, n, &pq), 0);
	assert_true(pq.qname_len > ZT_DNS_FAST_NAME_MAX);
	assert_int_equal(zt_dns_fast_put(F, pq.qname, pq.qname_len, fake, TTL), -E2BIG);
	assert_passes(frame(q, n, DNS_ADDR, 53));
	/* The longest name taken, 128 wire bytes: answered. */
	snprintf(name, sizeof(name), "%.60s.%.59s.z.int",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	n = query(q, 1, 0x0100, name, 1, NULL, 0, 0);
	assert_int_equal(zt_dns_parse_query(q, n, &pq), 0);
	assert_int_equal(pq.qname_len, ZT_DNS_FAST_NAME_MAX);
	assert_int_equal(zt_dns_fast_put(F, pq.qname, pq.qname_len, fake, TTL), 0);
	assert_answered(q, n);
}

static void test_not_our_address_passes(void **st)
{
	struct zt_dns_fast_stats before = stats();
	uint8_t q[512];
	size_t n;

	(void)st;
	put("nas.home.int");
	n = query(q, 1, 0x0100, "nas.home.int", 1, NULL, 0, 0);
	assert_passes(frame(q, n, "100.95.0.252", 53));
	assert_passes(frame(q, n, DNS_ADDR, 5353));
	/* Not ours: not even counted. */
	assert_int_equal(stats().passed, before.passed);
	assert_int_equal(stats().missed, before.missed);
}

static void hit_cb(struct in_addr addr, int64_t wall_s, void *ctx)
{
	int *n = ctx;

	assert_int_equal(addr.s_addr, fake.s_addr);
	assert_true(llabs((long long)(wall_s - (int64_t)time(NULL))) <= 2);
	(*n)++;
}

static void test_hits_fold_and_flush(void **st)
{
	uint8_t q[512];
	size_t n;
	int hits = 0;

	(void)st;
	put("nas.home.int");
	n = query(q, 1, 0x0100, "nas.home.int", 1, NULL, 0, 0);
	assert_int_equal(run(frame(q, n, DNS_ADDR, 53)), TC_ACT_OK);
	assert_int_equal(outb[14 + 20 + 8 + 2] & 0x80, 0x80);	/* answered: QR */
	assert_int_equal(zt_dns_fast_fold_hits(F, hit_cb, &hits), 0);
	assert_true(hits >= 1);
	/* Reported once: nothing new since. */
	hits = 0;
	assert_int_equal(zt_dns_fast_fold_hits(F, hit_cb, &hits), 0);
	assert_int_equal(hits, 0);
	assert_int_equal(zt_dns_fast_flush(F), 0);
	assert_passes(frame(q, n, DNS_ADDR, 53));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_is_the_daemons_answer),
		cmocka_unit_test(test_uppercase_hits_case_kept),
		cmocka_unit_test(test_bare_opt_hits),
		cmocka_unit_test(test_miss_passes),
		cmocka_unit_test(test_other_shapes_pass),
		cmocka_unit_test(test_long_name_passes),
		cmocka_unit_test(test_not_our_address_passes),
		cmocka_unit_test(test_hits_fold_and_flush),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
