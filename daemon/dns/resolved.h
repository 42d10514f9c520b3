/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Split DNS with systemd-resolved: the client's DNS server is registered on
 * the TUN link, with the resource domains as routing-only domains, so only
 * those names come to ztgate and everything else keeps the host's resolver.
 * Never "~.": ztgate must not become every name's resolver by accident.
 */
#ifndef ZT_RESOLVER_H
#define ZT_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"

/*
 * The routing-only domains for POLICY as one space-separated string:
 * "~nas.home.int ~home.int" for nas.home.int and *.home.int. Empty when
 * the policy has no name resources. Returns 0 or -ENOSPC.
 */
int zt_resolver_domains(const struct zt_policy *policy, char *buf, size_t len);

/*
 * True where systemd-resolved runs and this process is in the host's
 * network namespace (resolved's view of interfaces is the host's; a daemon
 * in another namespace must not register its links there).
 */
bool zt_resolver_available(void);

/* Register DNS ADDR and the policy's domains on IFNAME; revert on shutdown. */
int zt_resolver_apply(const char *ifname, const char *dns_addr, const struct zt_policy *policy,
		      char *err, size_t errlen);
void zt_resolver_revert(const char *ifname);

#endif
