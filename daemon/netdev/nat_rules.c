// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <nftables/libnftables.h>

#include "netdev/nat_rules.h"

#define ZT_IP_FORWARD "/proc/sys/net/ipv4/ip_forward"

/* Run one nft script as a single transaction; its error text goes to ERR. */
static int nft_run(const char *script, char *err, size_t errlen)
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
	}
	nft_ctx_free(nft);
	return ret;
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

int zt_nat_rules_install(const char *tun_name, const struct zt_prefix *device_range,
			 bool *forward_set, char *err, size_t errlen)
{
	char range[INET6_ADDRSTRLEN + 8], script[3072], only_tun[256] = "";
	int ret;

	*forward_set = false;
	if (device_range->family != AF_INET) {
		snprintf(err, errlen, "device range must be IPv4");
		return -EINVAL;
	}
	zt_prefix_format(device_range, range, sizeof(range));
	if (read_forward() != '1') {
		ret = write_sysctl(ZT_IP_FORWARD, "1", err, errlen);
		if (ret)
			return ret;
		*forward_set = true;
		/* Forwarding is on for us alone: only the tunnel's traffic crosses. */
		snprintf(only_tun, sizeof(only_tun),
			 "    iifname != \"%s\" oifname != \"%s\" counter drop\n", tun_name, tun_name);
	}
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
		 "add table ip " ZT_NFT_TABLE "\n"
		 "delete table ip " ZT_NFT_TABLE "\n"
		 "table ip " ZT_NFT_TABLE " {\n"
		 "  counter unsolicited { }\n"
		 "  chain forward {\n"
		 "    type filter hook forward priority mangle; policy accept;\n"
		 "%s"
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
		 only_tun, tun_name, tun_name, range, tun_name, tun_name, range, tun_name);
	ret = nft_run(script, err, errlen);
	if (ret && *forward_set) {
		char e2[128];

		write_sysctl(ZT_IP_FORWARD, "0", e2, sizeof(e2));
		*forward_set = false;
	}
	return ret;
}

void zt_nat_rules_remove(bool forward_set)
{
	char err[256];

	nft_run("add table ip " ZT_NFT_TABLE "\ndelete table ip " ZT_NFT_TABLE "\n", err,
		sizeof(err));
	if (forward_set)
		write_sysctl(ZT_IP_FORWARD, "0", err, sizeof(err));
}
