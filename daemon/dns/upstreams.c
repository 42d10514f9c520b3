// SPDX-License-Identifier: GPL-2.0-only
/* The client's upstream DNS servers as c-ares' csv (dns/upstreams.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/upstreams.h"
#include "lib/log.h"

/*
 * One upstream to c-ares' csv form: "1.2.3.4", "1.2.3.4:5353", "::1",
 * "[::1]:5353". Returns 0 or -EINVAL.
 */
int zt_dns_upstream_csv(const char *in, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN + 8];
	unsigned long port = 53;
	struct in6_addr a6;
	struct in_addr a4;
	const char *p;
	char *end;

	if (in[0] == '[') {
		p = strchr(in, ']');
		if (!p || (size_t)(p - in - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, in + 1, (size_t)(p - in - 1));
		host[p - in - 1] = '\0';
		p++;
		if (*p && *p != ':')
			return -EINVAL;
	} else if (strchr(in, ':') != strrchr(in, ':')) {
		snprintf(host, sizeof(host), "%s", in);	/* bare IPv6 */
		p = "";
	} else {
		p = strchr(in, ':');
		if (!p)
			p = in + strlen(in);
		if ((size_t)(p - in) >= sizeof(host))
			return -EINVAL;
		memcpy(host, in, (size_t)(p - in));
		host[p - in] = '\0';
	}
	if (*p == ':') {
		errno = 0;
		port = strtoul(p + 1, &end, 10);
		if (errno || end == p + 1 || *end || port == 0 || port > 65535)
			return -EINVAL;
	}
	if (inet_pton(AF_INET, host, &a4) == 1)
		snprintf(out, outlen, "%s:%lu", host, port);
	else if (inet_pton(AF_INET6, host, &a6) == 1)
		snprintf(out, outlen, "[%s]:%lu", host, port);
	else
		return -EINVAL;
	return 0;
}

void zt_dns_upstream_csv_add(char *csv, size_t len, const char *entry)
{
	size_t used = strlen(csv);

	snprintf(csv + used, len - used, "%s%s", used ? "," : "", entry);
}

/*
 * The nameservers of resolv.conf as they are now; our own address is left
 * out (a resolv.conf already pointing at us would make a forwarding loop).
 */
void zt_dns_upstreams_from_resolv(const char *path, const struct sockaddr_in *self, char *csv,
				  size_t len)
{
	char line[512], entry[128], self_text[INET_ADDRSTRLEN];
	FILE *f = fopen(path, "re");

	if (!f) {
		zt_log("warning", "dns: cannot read %s: %s; no upstreams", path, strerror(errno));
		return;
	}
	inet_ntop(AF_INET, &self->sin_addr, self_text, sizeof(self_text));
	while (fgets(line, sizeof(line), f)) {
		char *save, *kw = strtok_r(line, " \t\r\n", &save), *addr;

		if (!kw || strcmp(kw, "nameserver"))
			continue;
		addr = strtok_r(NULL, " \t\r\n", &save);
		if (!addr || !strcmp(addr, self_text))
			continue;
		if (zt_dns_upstream_csv(addr, entry, sizeof(entry)) == 0)
			zt_dns_upstream_csv_add(csv, len, entry);
	}
	fclose(f);
}
