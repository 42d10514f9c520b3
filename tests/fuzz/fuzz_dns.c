// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the DNS server's parsers: the input is taken as a
 * client's query and as an upstream response. Beyond "no crash", it checks
 * the promises the server relies on: every reply we build from whatever
 * parsed fits a plain UDP reply, and our A answers are seen by the guard.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "dns_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
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
	}

	ret = zt_dns_answer_in_prefix(copy, size, &fake);
	check(ret == 0 || ret == 1 || ret == -EBADMSG);
	zt_dns_set_id(copy, size, 0x1234);
	free(copy);
	return 0;
}
