// SPDX-License-Identifier: GPL-2.0-only
/*
 * The connector's nftables tables and IPv4 forwarding (nat_rules.h): one
 * table per instance, a shared guard while ztgate is what turned
 * forwarding on.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <nftables/libnftables.h>

#include "netdev/nat_rules.h"

#define ZT_IP_FORWARD "/proc/sys/net/ipv4/ip_forward"

/*
 * Run one nft script as a single transaction; its error text goes to ERR,
 * its output (NULL: dropped) to OUT.
 */
static int nft_run_out(const char *script, char *out, size_t outlen, char *err, size_t errlen)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	int ret = 0;

	if (!nft) {
		snprintf(err, errlen, "nftables: out of memory");
		return -ENOMEM;
	}
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	if (nft_run_cmd_from_buffer(nft, script)) {
		const char *e = nft_ctx_get_error_buffer(nft);
		size_t n;

		snprintf(err, errlen, "nftables: %s", e && *e ? e : "command failed");
		n = strlen(err);
		while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
			err[--n] = '\0';
		for (char *p = err; *p; p++)	/* one line */
			if (*p == '\n')
				*p = ' ';
		ret = -EINVAL;
	} else if (out) {
		const char *o = nft_ctx_get_output_buffer(nft);

		snprintf(out, outlen, "%s", o ? o : "");
	}
	nft_ctx_free(nft);
	return ret;
}

static int nft_run(const char *script, char *err, size_t errlen)
{
	return nft_run_out(script, NULL, 0, err, errlen);
}

/* Already VALUE: nothing to write (a daemon without the right to write finds it set). */
static bool sysctl_is(const char *path, const char *value)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return !strcmp(buf, value);
}

static int write_sysctl(const char *path, const char *value, char *err, size_t errlen)
{
	int fd, ret = 0;

	if (sysctl_is(path, value))
		return 0;
	fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, value, strlen(value)) < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/* "1" or "0": what /proc/sys/net/ipv4/ip_forward says; '?' if unreadable. */
static char read_forward(void)
{
	char v = '?';
	int fd = open(ZT_IP_FORWARD, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, &v, 1) != 1)
			v = '?';
		close(fd);
	}
	return v;
}

void zt_nat_table_name(const char *key, char *out, size_t len)
{
	const char *base = strrchr(key, '/');
	uint32_t h = 2166136261u;	/* FNV-1a */
	char name[33];
	size_t n = 0;

	for (const char *p = key; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	for (base = base ? base + 1 : key; *base && n < sizeof(name) - 1; base++)
		if (isalnum((unsigned char)*base) || *base == '-' || *base == '_')
			name[n++] = *base;
	name[n] = '\0';
	snprintf(out, len, ZT_NFT_TABLE_PREFIX "%s%s%08x", name, n ? "-" : "", h);
}

/*
 * The guard: forwarding was off before ztgate, so only what crosses a
 * ztgate TUN is forwarded. The same for every instance: replacing it is
 * harmless.
 */
static int guard_install(char *err, size_t errlen)
{
	char script[768];

	snprintf(script, sizeof(script),
		 "add table ip " ZT_NFT_GUARD_TABLE "\n"
		 "delete table ip " ZT_NFT_GUARD_TABLE "\n"
		 "table ip " ZT_NFT_GUARD_TABLE " {\n"
		 "  counter foreign { }\n"
		 "  chain forward {\n"
		 "    type filter hook forward priority mangle; policy accept;\n"
		 "    iifgroup != %u oifgroup != %u counter name foreign drop\n"
		 "  }\n"
		 "}\n", ZT_NFT_TUN_GROUP, ZT_NFT_TUN_GROUP);
	return nft_run(script, err, errlen);
}

/*
 * The ip tables of the namespace: does the guard exist (*GUARD), and how
 * many ztgate instance tables but SELF? -errno if nft cannot say.
 */
static int count_tables(const char *self, bool *guard)
{
	char out[8192], err[256], *line, *save = NULL;
	int n = 0, ret = nft_run_out("list tables ip\n", out, sizeof(out), err, sizeof(err));

	*guard = false;
	if (ret)
		return ret;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *name;

		if (strncmp(line, "table ip ", 9))
			continue;
		name = line + 9;
		if (!strcmp(name, ZT_NFT_GUARD_TABLE))
			*guard = true;
		else if (!strncmp(name, ZT_NFT_TABLE_PREFIX, strlen(ZT_NFT_TABLE_PREFIX)) &&
			 strcmp(name, self))
			n++;
	}
	return n;
}

/* Forwarding on; if it was off, behind the guard (installed first: never unguarded). */
static int forwarding_on(char *err, size_t errlen)
{
	int ret;

	if (read_forward() == '1')
		return 0;	/* someone's, or ours with the guard up already */
	ret = guard_install(err, errlen);
	if (!ret)
		ret = write_sysctl(ZT_IP_FORWARD, "1", err, errlen);
	return ret;
}

int zt_nat_rules_install(const char *table, const char *tun_name,
			 const struct zt_prefix *device_range, char *err, size_t errlen)
{
	char range[INET6_ADDRSTRLEN + 8], script[3072];
	int ret;

	if (device_range->family != AF_INET) {
		snprintf(err, errlen, "device range must be IPv4");
		return -EINVAL;
	}
	zt_prefix_format(device_range, range, sizeof(range));
	/*
	 * "add table" then "delete table" makes the replace work whether or not
	 * a previous run left the table behind, in the same transaction.
	 *
	 * forward: into the TUN, only what belongs to a connection a device
	 * opened (conntrack established, or related such as its ICMP errors):
	 * the private network cannot open connections to a device. Out of it,
	 * only the device range.
	 */
	snprintf(script, sizeof(script),
		 "add table ip %s\n"
		 "delete table ip %s\n"
		 "table ip %s {\n"
		 "  counter unsolicited { }\n"
		 "  chain forward {\n"
		 "    type filter hook forward priority mangle; policy accept;\n"
		 "    oifname \"%s\" ct state != { established, related } counter name unsolicited drop\n"
		 "    iifname \"%s\" ip saddr != %s counter drop\n"
		 "    iifname \"%s\" tcp flags syn tcp option maxseg size set rt mtu\n"
		 "    oifname \"%s\" tcp flags syn tcp option maxseg size set rt mtu\n"
		 "  }\n"
		 "  chain postrouting {\n"
		 "    type nat hook postrouting priority srcnat; policy accept;\n"
		 "    ip saddr %s oifname != \"%s\" masquerade\n"
		 "  }\n"
		 "}\n",
		 table, table, table, tun_name, tun_name, range, tun_name, tun_name, range, tun_name);
	ret = nft_run(script, err, errlen);
	if (!ret)
		ret = forwarding_on(err, errlen);
	if (ret) {
		char e2[256];

		snprintf(script, sizeof(script), "add table ip %s\ndelete table ip %s\n", table, table);
		nft_run(script, e2, sizeof(e2));
	}
	return ret;
}

void zt_nat_rules_remove(const char *table)
{
	char err[256], script[256];
	bool guard;

	snprintf(script, sizeof(script), "add table ip %s\ndelete table ip %s\n", table, table);
	nft_run(script, err, sizeof(err));
	/* The last of us in this namespace: forwarding back as ztgate found it. */
	if (count_tables(table, &guard) == 0 && guard) {
		write_sysctl(ZT_IP_FORWARD, "0", err, sizeof(err));
		nft_run("delete table ip " ZT_NFT_GUARD_TABLE "\n", err, sizeof(err));
	}
}
