// SPDX-License-Identifier: GPL-2.0-only
/*
 * The bind and bind-ack codec (forward/bind_msg.h). The checks are the ones
 * connector.c and client.c made inline before (plus: no NUL in a name), here
 * so that a fuzz target reaches them without a tunnel, a TUN or a policy.
 */
#include <errno.h>
#include <string.h>

#include "forward/bind_msg.h"
#include "lib/dns_name.h"

int zt_bind_parse(const uint8_t *msg, size_t len, struct zt_bind_msg *out)
{
	char norm[ZT_PATTERN_MAX];
	size_t nlen;

	if (len < ZT_BIND_HDR_LEN || msg[ZT_CTRL_OFF_TYPE] != ZT_CTRL_BIND)
		return -EINVAL;
	memcpy(&out->fake.s_addr, msg + ZT_BIND_OFF_FAKE, 4);
	nlen = msg[ZT_BIND_OFF_NAME_LEN];
	if (nlen == 0 || len != ZT_BIND_HDR_LEN + nlen || nlen >= sizeof(out->name))
		return -EINVAL;
	/*
	 * A NUL inside the name would cut it short: "db.corp\0junk" read as
	 * "db.corp" (found by fuzz_bind). No client sends one; refuse it.
	 */
	if (memchr(msg + ZT_BIND_HDR_LEN, '\0', nlen))
		return -EINVAL;
	memcpy(out->name, msg + ZT_BIND_HDR_LEN, nlen);
	out->name[nlen] = '\0';
	/* The client sends names normalised; anything else is refused. */
	if (out->name[0] == '*' || zt_dns_name_normalize(out->name, norm, sizeof(norm), NULL, 0) ||
	    strcmp(out->name, norm))
		return -EINVAL;
	return 0;
}

size_t zt_bind_encode(struct in_addr fake, const char *name, uint8_t *out, size_t outlen)
{
	size_t nlen = strlen(name);

	if (nlen > ZT_BIND_NAME_MAX || ZT_BIND_HDR_LEN + nlen > outlen)
		return 0;
	out[ZT_CTRL_OFF_TYPE] = ZT_CTRL_BIND;
	memcpy(out + ZT_BIND_OFF_FAKE, &fake.s_addr, 4);
	out[ZT_BIND_OFF_NAME_LEN] = (uint8_t)nlen;
	memcpy(out + ZT_BIND_HDR_LEN, name, nlen);
	return ZT_BIND_HDR_LEN + nlen;
}

int zt_bind_ack_parse(const uint8_t *msg, size_t len, struct zt_bind_ack_msg *out)
{
	if (len != ZT_BIND_ACK_LEN || msg[ZT_CTRL_OFF_TYPE] != ZT_CTRL_BIND_ACK)
		return -EINVAL;
	memcpy(&out->fake.s_addr, msg + ZT_BIND_OFF_FAKE, 4);
	out->status = msg[ZT_BIND_ACK_OFF_STATUS];
	return 0;
}

void zt_bind_ack_encode(struct in_addr fake, uint8_t status, uint8_t out[ZT_BIND_ACK_LEN])
{
	out[ZT_CTRL_OFF_TYPE] = ZT_CTRL_BIND_ACK;
	memcpy(out + ZT_BIND_OFF_FAKE, &fake.s_addr, 4);
	out[ZT_BIND_ACK_OFF_STATUS] = status;
}
