/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The connector's kernel-side forwarding set-up, in its own network
 * namespace: IPv4 forwarding on (back off on removal if it was off, and
 * then only the TUN's traffic is forwarded), and an nftables table
 * `ztgate` that
 *   - forwards into the TUN only what belongs to connections a device
 *     opened (conntrack established/related; the rest is counted in the
 *     named counter "unsolicited" and dropped), and out of it only the
 *     device range,
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

#include <stdbool.h>
#include <stddef.h>

#include "lib/addr.h"

#define ZT_NFT_TABLE "ztgate"

/*
 * Enable forwarding and install the table for devices in DEVICE_RANGE whose
 * packets arrive on TUN_NAME. *FORWARD_SET: forwarding was off and we
 * turned it on (pass it to zt_nat_rules_remove). 0 or -errno with ERR set.
 */
int zt_nat_rules_install(const char *tun_name, const struct zt_prefix *device_range,
			 bool *forward_set, char *err, size_t errlen);
/* Delete the table (absent is fine); FORWARD_SET: turn forwarding back off. */
void zt_nat_rules_remove(bool forward_set);

#endif
