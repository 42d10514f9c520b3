/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The connector's kernel-side forwarding set-up, in its own network
 * namespace: IPv4 forwarding on, and an nftables table `ztgate` that
 *   - masquerades device traffic leaving for the private network (so the
 *     resource sees the connector, and replies come back to it), and
 *   - clamps the TCP MSS of every SYN forwarded through the tunnel's
 *     interface to the route's MTU, so no flow black-holes on the inner MTU.
 * Through libnftables (the library nft(8) is built on): one transaction,
 * applied whole or not at all; the table is replaced on start and deleted
 * on clean shutdown.
 */
#ifndef ZT_NAT_RULES_H
#define ZT_NAT_RULES_H

#include <stddef.h>

#include "lib/addr.h"

#define ZT_NFT_TABLE "ztgate"

/*
 * Enable forwarding and install the table for devices in DEVICE_RANGE whose
 * packets arrive on TUN_NAME. 0 or -errno with ERR set.
 */
int zt_nat_rules_install(const char *tun_name, const struct zt_prefix *device_range,
			 char *err, size_t errlen);
/* Delete the table (absent is fine). */
void zt_nat_rules_remove(void);

#endif
