/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The bind and bind-ack control messages (docs/TUNNEL.md, tunnel/ctrl.h):
 * their codec, apart from the packet paths that use it (client.c sends
 * binds and reads acks, connector.c reads binds and sends acks), so that
 * the parsers of these outside bytes can be fuzzed on their own
 * (tests/fuzz/fuzz_bind.c).
 */
#ifndef ZT_FORWARD_BIND_MSG_H
#define ZT_FORWARD_BIND_MSG_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "tunnel/ctrl.h"

/* The largest bind on the wire: the header and a 255-byte name. */
#define ZT_BIND_MSG_MAX (ZT_BIND_HDR_LEN + ZT_BIND_NAME_MAX)

struct zt_bind_msg {
	struct in_addr fake;
	char name[ZT_PATTERN_MAX];	/* NUL-terminated, in normal form, no wildcard */
};

struct zt_bind_ack_msg {
	struct in_addr fake;
	uint8_t status;			/* ZT_BIND_*, or any other byte the peer sent */
};

/*
 * A bind as the connector takes it: exact length, a name of 1 to
 * ZT_PATTERN_MAX - 1 bytes that is already in normal form (the client
 * sends names normalised; anything else, a wildcard too, is refused).
 * 0, or -EINVAL for a malformed message.
 */
int zt_bind_parse(const uint8_t *msg, size_t len, struct zt_bind_msg *out);

/* A bind for FAKE and NAME (NUL-terminated) into OUT; its length, or 0 if NAME is too long. */
size_t zt_bind_encode(struct in_addr fake, const char *name, uint8_t *out, size_t outlen);

/* A bind-ack: exactly ZT_BIND_ACK_LEN bytes (the type byte is the caller's). 0 or -EINVAL. */
int zt_bind_ack_parse(const uint8_t *msg, size_t len, struct zt_bind_ack_msg *out);

/* A bind-ack into OUT (ZT_BIND_ACK_LEN bytes). */
void zt_bind_ack_encode(struct in_addr fake, uint8_t status, uint8_t out[ZT_BIND_ACK_LEN]);

#endif
