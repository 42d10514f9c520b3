// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dns/resolved.h"

extern char **environ;

/* resolved answers on this varlink socket while it runs. */
#define RESOLVED_SOCKET "/run/systemd/resolve/io.systemd.Resolve"

static bool same_netns_as_init(void)
{
	struct stat self, init;

	if (stat("/proc/self/ns/net", &self) || stat("/proc/1/ns/net", &init))
		return false;
	return self.st_ino == init.st_ino && self.st_dev == init.st_dev;
}

bool zt_resolver_available(void)
{
	return access(RESOLVED_SOCKET, F_OK) == 0 && same_netns_as_init();
}

/* Is "~DOMAIN" one of the space-separated entries of LIST? */
static bool already_listed(const char *list, const char *domain)
{
	size_t n = strlen(domain);
	const char *p = list;

	while (*p) {
		const char *end = strchr(p, ' ');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n + 1 && p[0] == '~' && !memcmp(p + 1, domain, n))
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

int zt_resolver_domains(const struct zt_policy *policy, char *buf, size_t len)
{
	size_t off = 0;
	unsigned int i;

	if (!len)
		return -ENOSPC;
	buf[0] = '\0';
	for (i = 0; i < policy->count; i++) {
		const char *pat = policy->res[i].name_pattern;
		int w;

		if (!zt_resource_is_name(&policy->res[i]))
			continue;
		/* "*.home.int" routes home.int; a plain name routes itself. */
		if (!strncmp(pat, "*.", 2))
			pat += 2;
		if (!*pat || already_listed(buf, pat))
			continue;
		w = snprintf(buf + off, len - off, "%s~%s", off ? " " : "", pat);
		if (w < 0 || (size_t)w >= len - off)
			return -ENOSPC;
		off += (size_t)w;
	}
	return 0;
}

/* Run resolvectl ARGV; 0 if it exited 0. */
static int run_resolvectl(char *const argv[])
{
	pid_t pid;
	int status;

	if (posix_spawnp(&pid, "resolvectl", NULL, NULL, argv, environ))
		return -ENOENT;
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int zt_resolver_apply(const char *ifname, const char *dns_addr, const struct zt_policy *policy,
		      char *err, size_t errlen)
{
	char domains[4096], *argv[64];
	char *save = NULL, *tok;
	int argc = 0, ret;

	ret = zt_resolver_domains(policy, domains, sizeof(domains));
	if (ret) {
		snprintf(err, errlen, "resolver: too many resource domains");
		return ret;
	}
	ret = run_resolvectl((char *const[]){ "resolvectl", "dns", (char *)ifname,
					      (char *)dns_addr, NULL });
	if (ret) {
		snprintf(err, errlen, "resolvectl dns %s %s failed", ifname, dns_addr);
		return ret;
	}
	argv[argc++] = "resolvectl";
	argv[argc++] = "domain";
	argv[argc++] = (char *)ifname;
	for (tok = strtok_r(domains, " ", &save); tok && argc < 63; tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	/* With no domain, "resolvectl domain IF" would only print: clear with "". */
	if (argc == 3) {
		argv[argc++] = "";
		argv[argc] = NULL;
	}
	ret = run_resolvectl(argv);
	if (ret)
		snprintf(err, errlen, "resolvectl domain %s failed", ifname);
	return ret;
}

void zt_resolver_revert(const char *ifname)
{
	run_resolvectl((char *const[]){ "resolvectl", "revert", (char *)ifname, NULL });
}
