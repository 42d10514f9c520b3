/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The connector's kernel-side forwarding set-up, in its own network
 * namespace, keyed per instance so that several connectors can share one
 * namespace (each with its own TUN, pin dir and socket):
 *   - an nftables table `ztgate-<pin dir's name>-<hash of the pin dir>` of
 *     its own (zt_nat_table_name) that
 *       - forwards into its TUN only what belongs to connections a device
 *         opened (conntrack established/related; the rest is counted in
 *         the named counter "unsolicited" and dropped), and out of it only
 *         the device range,
 *       - masquerades device traffic leaving for the private network (so
 *         the resource sees the connector, and replies come back to it),
 *       - clamps the TCP MSS of every SYN forwarded through its TUN to the
 *         route's MTU, so no flow black-holes on the inner MTU;
 *   - IPv4 forwarding on. If it was off, the first connector turns it on and
 *     adds the shared table `ztgate-forward-guard`: only traffic that
 *     crosses a ztgate TUN (interface group ZT_NFT_TUN_GROUP, which every
 *     connector gives its TUN) is forwarded. The guard is the record that
 *     ztgate turned forwarding on: the last connector to leave the namespace
 *     deletes it and turns forwarding back off.
 * Through libnftables (the library nft(8) is built on): each table in one
 * transaction, applied whole or not at all; an instance's table is replaced
 * on start and deleted on clean shutdown; other instances' tables are
 * never touched.
 */
#ifndef ZT_NAT_RULES_H
#define ZT_NAT_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/addr.h"

#define ZT_NFT_TABLE_PREFIX	"ztgate-"
#define ZT_NFT_GUARD_TABLE	"ztgate-forward-guard"
#define ZT_NFT_TABLE_MAX	64
#define ZT_NFT_TUN_GROUP	31348u	/* "zt": the interface group of every connector's TUN */

/*
 * The table of the instance whose pin dir is KEY, into OUT (at least
 * ZT_NFT_TABLE_MAX): "ztgate-" the pin dir's last component (letters,
 * digits, '-' and '_' kept, at most 32), "-", 8 hex digits of a hash of
 * the whole path. Two pin dirs with one name still get two tables.
 */
void zt_nat_table_name(const char *key, char *out, size_t len);

/*
 * Install TABLE for devices in DEVICE_RANGE whose packets arrive on
 * TUN_NAME (a TUN in group ZT_NFT_TUN_GROUP), and forwarding (with the
 * guard if it was off). 0 or -errno with ERR set; on failure nothing of
 * ours is left but a guard another instance may use.
 */
int zt_nat_rules_install(const char *table, const char *tun_name,
			 const struct zt_prefix *device_range, char *err, size_t errlen);
/*
 * Delete TABLE (absent is fine). When no other ztgate instance's table is
 * left in the namespace, the guard goes too and forwarding back off.
 */
void zt_nat_rules_remove(const char *table);

#endif
