/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The client's upstream DNS servers, as c-ares takes them ("ip:port" and
 * "[ip6]:port", comma-separated): from --upstream options, or from the
 * nameservers of resolv.conf at start. roles/client.c builds the list the
 * DNS server forwards to.
 */
#ifndef ZT_DNS_UPSTREAMS_H
#define ZT_DNS_UPSTREAMS_H

#include <netinet/in.h>
#include <stddef.h>

/*
 * One upstream to c-ares' csv form: "1.2.3.4", "1.2.3.4:5353", "::1",
 * "[::1]:5353" (port 53 when none). Returns 0 or -EINVAL.
 */
int zt_dns_upstream_csv(const char *in, char *out, size_t outlen);
/* Append ENTRY to the csv list CSV (LEN bytes in all). */
void zt_dns_upstream_csv_add(char *csv, size_t len, const char *entry);
/*
 * Append the nameservers of resolv.conf PATH as they are now; SELF, our own
 * DNS address, is left out (pointing at ourselves would make a loop).
 */
void zt_dns_upstreams_from_resolv(const char *path, const struct sockaddr_in *self, char *csv,
				  size_t len);

#endif
