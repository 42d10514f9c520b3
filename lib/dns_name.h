/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * DNS names as text: the one normal form (lowercase, no trailing dot,
 * host-name characters) that the policy, the DNS server and the connector
 * compare names in, and the below-a-domain test wildcards use.
 */
#ifndef ZT_LIB_DNS_NAME_H
#define ZT_LIB_DNS_NAME_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Normalise a name from the user (a resource's address, a CLI argument) to
 * the form the parser produces: lowercase, one trailing dot dropped. Only
 * host-name characters are accepted (letters, digits, '-', '_'), plus "*"
 * as a whole first label. Returns 0 or -EINVAL with ERR set.
 */
int zt_dns_name_normalize(const char *in, char *out, size_t outlen, char *err, size_t errlen);

/* NAME lies strictly below DOMAIN ("a.b.home.int" below "home.int"); both normalised. */
bool zt_dns_name_is_below(const char *name, const char *domain);

#endif
