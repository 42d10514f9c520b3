// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the DNS server's parsers: the input is taken as a
 * client's query and as an upstream response. Beyond "no crash", it checks
 * the promises the server relies on: every reply we build from whatever
 * parsed fits a plain UDP reply, and our A answers are seen by the guard.
 * A query that parses is also scanned as a response to itself and goes
 * through the answer cache: stored or refused, never half-stored.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "dns/cache.h"
#include "dns/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

/* The input as an upstream's answer to its own question (QR set). */
static void cache_roundtrip(uint8_t *msg, size_t size, const struct zt_dns_query *q)
{
	static struct zt_dns_cache *cache;
	static uint8_t out[ZT_DNS_CACHE_MSG_MAX];
	struct zt_dns_response_info info;
	uint16_t ttl_off[512];
	size_t i;
	ssize_t n;
	int scan, put;

	if (!cache && zt_dns_cache_new(&cache, 8))
		return;
	scan = zt_dns_response_scan(msg, size, q, &info, ttl_off, 512);
	check(scan == 0 || scan == -EBADMSG || scan == -E2BIG);
	if (scan == 0)
		for (i = 0; i < info.nttl; i++)
			check(ttl_off[i] >= ZT_DNS_HEADER_LEN && ttl_off[i] + 4u <= size);
	msg[2] |= ZT_DNS_F_QR >> 8;
	put = zt_dns_cache_put(cache, q, msg, size, 1000);
	check(put == 0 || put == -EAGAIN || put == -EBADMSG || put == -ENOMEM);
	n = zt_dns_cache_get(cache, q, 1500, out, sizeof(out));
	if (put == 0) {
		check(n == (ssize_t)size);
		check(out[0] == (uint8_t)(q->id >> 8) && out[1] == (uint8_t)q->id);
		check(!memcmp(out + ZT_DNS_HEADER_LEN, q->qname, q->qname_len));
	}
	msg[2] &= (uint8_t)~(ZT_DNS_F_QR >> 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct zt_prefix fake = {
		.addr = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 100, 96, 0, 0 },
		.family = AF_INET, .len = 12,
	};
	struct in_addr a = { .s_addr = htonl(0x64600007) };	/* 100.96.0.7 */
	uint8_t out[ZT_DNS_UDP_PLAIN_MAX], *copy;
	struct zt_dns_query q;
	ssize_t n;
	int ret;

	/* Exact-size copy, so ASan catches any read past the end. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);

	ret = zt_dns_parse_query(copy, size, &q);
	check(ret == -EBADMSG || ret == ZT_DNS_RCODE_NOERROR || ret == ZT_DNS_RCODE_FORMERR ||
	      ret == ZT_DNS_RCODE_NOTIMP || ret == ZT_DNS_RCODE_BADVERS);
	if (ret >= 0) {
		check(q.why != NULL || ret == ZT_DNS_RCODE_NOERROR);
		check(strlen(q.name) < sizeof(q.name));
		n = zt_dns_build_error(&q, ret == ZT_DNS_RCODE_NOERROR ? ZT_DNS_RCODE_SERVFAIL :
				       (unsigned int)ret, out, sizeof(out));
		check(n >= ZT_DNS_HEADER_LEN);
		check(zt_dns_answer_in_prefix(out, (size_t)n, &fake) == 0);
	}
	if (ret == ZT_DNS_RCODE_NOERROR) {
		check(q.has_question && q.qname_len >= 1 && q.qname_len <= ZT_DNS_NAME_WIRE_MAX);
		n = zt_dns_build_a(&q, a, 15, out, sizeof(out));
		check(n > 0);
		check(zt_dns_answer_in_prefix(out, (size_t)n, &fake) == 1);
		n = zt_dns_build_nodata(&q, out, sizeof(out));
		check(n > 0);
		check(zt_dns_answer_in_prefix(out, (size_t)n, &fake) == 0);
		zt_dns_name_is_below(q.name, "home.int");
		cache_roundtrip(copy, size, &q);
	}

	ret = zt_dns_answer_in_prefix(copy, size, &fake);
	check(ret == 0 || ret == 1 || ret == -EBADMSG);
	zt_dns_set_id(copy, size, 0x1234);
	free(copy);
	return 0;
}
