// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the bind and bind-ack control messages
 * (daemon/forward/bind_msg.c): what the connector parses of a device's
 * binds and the client of a connector's acks, both authenticated by the
 * tunnel but chosen by the peer.
 *
 * The input is one transport payload as on_tunnel_recv hands it on. Both
 * parsers see it (each must refuse the other's type). Invariants: a bind
 * the connector accepts names 1 to 253 characters, NUL-terminated, with
 * no wildcard, already in normal form (normalising it again changes
 * nothing), and encodes back into exactly the input; an ack is exactly
 * ZT_BIND_ACK_LEN bytes and encodes back into the input.
 */
#include <stdint.h>
#include <string.h>

#include "forward/bind_msg.h"
#include "lib/dns_name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void check_bind(const uint8_t *data, size_t size)
{
	uint8_t out[ZT_BIND_MSG_MAX + 1];
	char norm[ZT_PATTERN_MAX];
	struct zt_bind_msg m;
	size_t nlen, n;

	if (zt_bind_parse(data, size, &m))
		return;
	nlen = strnlen(m.name, sizeof(m.name));
	check(nlen > 0 && nlen < sizeof(m.name) && nlen <= 253 && m.name[0] != '*');
	check(zt_dns_name_normalize(m.name, norm, sizeof(norm), NULL, 0) == 0);
	check(!strcmp(norm, m.name));
	n = zt_bind_encode(m.fake, m.name, out, sizeof(out));
	check(n == size && !memcmp(out, data, size));
}

static void check_ack(const uint8_t *data, size_t size)
{
	uint8_t out[ZT_BIND_ACK_LEN];
	struct zt_bind_ack_msg a;

	if (zt_bind_ack_parse(data, size, &a))
		return;
	check(size == ZT_BIND_ACK_LEN);
	zt_bind_ack_encode(a.fake, a.status, out);
	check(!memcmp(out, data, size));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	check_bind(data, size);
	check_ack(data, size);
	return 0;
}
