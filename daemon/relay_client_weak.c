// SPDX-License-Identifier: GPL-2.0-only
/*
 * Weak stand-ins for relay_client.h, so that the daemon and the unit tests
 * link while daemon/relay_client.c is on another branch: its definitions
 * are strong and replace these at link time once it is in the tree. With
 * only these, --relay fails at start-up with a clear message. Delete this
 * file once relay_client.c is merged.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "relay_client.h"

#define WEAK __attribute__((weak))

WEAK int zt_relay_client_open(struct zt_loop *loop, const struct zt_relay_client_cfg *cfg,
			      const struct zt_relay_client_ops *ops, void *ctx,
			      struct zt_relay_client **out, char *err, size_t errlen)
{
	(void)loop;
	(void)ops;
	(void)ctx;
	*out = NULL;
	snprintf(err, errlen, "relay %s: this build has no relay client (daemon/relay_client.c)",
		 cfg->relay ? cfg->relay : "?");
	return -ENOSYS;
}

WEAK void zt_relay_client_close(struct zt_relay_client *rc)
{
	(void)rc;
}

WEAK int zt_relay_client_set_accept(struct zt_relay_client *rc,
				    const uint8_t (*keys)[ZT_RELAY_KEY_LEN], size_t n)
{
	(void)rc;
	(void)keys;
	(void)n;
	return -ENOSYS;
}

WEAK int zt_relay_client_send(struct zt_relay_client *rc, const uint8_t dst[ZT_RELAY_KEY_LEN],
			      const uint8_t *datagram, size_t len)
{
	(void)rc;
	(void)dst;
	(void)datagram;
	(void)len;
	return -ENOSYS;
}

WEAK bool zt_relay_client_owns(const struct zt_relay_client *rc, const struct sockaddr *src,
			       socklen_t srclen)
{
	(void)rc;
	(void)src;
	(void)srclen;
	return false;
}

WEAK void zt_relay_client_input(struct zt_relay_client *rc, uint8_t *datagram, size_t len)
{
	(void)rc;
	(void)datagram;
	(void)len;
}

WEAK void zt_relay_client_stats(const struct zt_relay_client *rc,
				struct zt_relay_client_stats *st)
{
	(void)rc;
	memset(st, 0, sizeof(*st));
}

WEAK const char *zt_relay_client_name(const struct zt_relay_client *rc)
{
	(void)rc;
	return "";
}
