// SPDX-License-Identifier: GPL-2.0-only
/*
 * One entry from user text: a resource (name, address or DNS name, ports,
 * ICMP, deny mode, connector), a device (name, key, tunnel address) or a
 * connector (name, key, endpoint), each checked on its own; whether it
 * fits the rest of the policy is edit.c's and doc_check.c's. Called by the
 * control socket's add commands, by doc_read.c for every entry of a
 * document, and by the tests.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/types.h>

#include "lib/dns_name.h"
#include "policy/policy.h"
#include "ztgate/maps.h"

/* WHAT ("resource", "device", "connector") is only for the message. */
static int check_name(const char *what, const char *name, char *err, size_t errlen)
{
	size_t len = strlen(name), i;

	if (len == 0 || len >= ZT_NAME_MAX) {
		snprintf(err, errlen, "invalid %s name '%.*s': must be 1-%d characters", what,
			 ZT_NAME_MAX * 2, name, ZT_NAME_MAX - 1);
		return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
			snprintf(err, errlen,
				 "invalid %s name '%s': use letters, digits, '-', '_', '.'", what,
				 name);
			return -EINVAL;
		}
	}
	return 0;
}

/* NAME, checked, into DST (a name field of ZT_NAME_MAX). */
static int set_name(const char *what, char *dst, const char *name, char *err, size_t errlen)
{
	int ret = check_name(what, name, err, errlen);

	if (!ret)
		snprintf(dst, ZT_NAME_MAX, "%s", name);
	return ret;
}

/* A device's or connector's name and base64 public key into NAME_OUT and KEY. */
static int parse_identity(const char *what, const char *name, const char *pubkey,
			  char *name_out, uint8_t key[ZT_KEY_LEN], char *err, size_t errlen)
{
	int ret = set_name(what, name_out, name, err, errlen);

	if (!ret)
		ret = zt_key_from_base64(pubkey, key, err, errlen);
	return ret;
}

/*
 * A name rather than an address: no ':' or '/', and a last label that is
 * not all digits (no top-level domain is numeric, RFC 3696 2), so
 * "300.1.1.1" stays a bad address instead of becoming a name.
 */
static bool looks_like_name(const char *s)
{
	const char *last, *c;
	size_t len = strlen(s);

	if (!len || strpbrk(s, ":/"))
		return false;
	if (s[len - 1] == '.')
		len--;
	for (last = s + len; last > s && last[-1] != '.'; last--)
		;
	for (c = last; c < s + len; c++)
		if (*c < '0' || *c > '9')
			return true;
	return false;
}

int zt_resource_parse(struct zt_resource_def *def, const char *name, const char *address,
		      const char *tcp, const char *udp, bool icmp, const char *deny_mode,
		      char *err, size_t errlen)
{
	char sub[200];
	int ret;

	memset(def, 0, sizeof(*def));
	if (!name || !address) {
		snprintf(err, errlen, "a resource needs a name and an address");
		return -EINVAL;
	}
	ret = set_name("resource", def->name, name, err, errlen);
	if (ret)
		return ret;

	if (looks_like_name(address)) {
		ret = zt_dns_name_normalize(address, def->name_pattern, sizeof(def->name_pattern),
					    err, errlen);
	} else {
		ret = zt_prefix_parse(address, &def->prefix, err, errlen);
	}
	if (ret)
		return ret;

	ret = zt_ports_parse(tcp, &def->tcp, sub, sizeof(sub));
	if (ret) {
		snprintf(err, errlen, "--tcp: %s", sub);
		return ret;
	}
	ret = zt_ports_parse(udp, &def->udp, sub, sizeof(sub));
	if (ret) {
		snprintf(err, errlen, "--udp: %s", sub);
		return ret;
	}
	def->icmp = icmp;

	if (!deny_mode || !strcmp(deny_mode, "drop")) {
		def->deny_mode = ZT_DENY_DROP;
	} else if (!strcmp(deny_mode, "reject")) {
		def->deny_mode = ZT_DENY_REJECT;
	} else {
		snprintf(err, errlen, "invalid deny mode '%s': use drop or reject", deny_mode);
		return -EINVAL;
	}
	return 0;
}

int zt_resource_set_connector(struct zt_resource_def *def, const char *connector, char *err,
			      size_t errlen)
{
	memset(def->connector, 0, sizeof(def->connector));
	if (!connector || !*connector)
		return 0;
	return set_name("connector", def->connector, connector, err, errlen);
}

int zt_device_parse(struct zt_device_def *def, const char *name, const char *pubkey,
		    const char *address, char *err, size_t errlen)
{
	int ret;

	memset(def, 0, sizeof(*def));
	if (!name || !pubkey || !address) {
		snprintf(err, errlen, "a device needs a name, a public key and an address");
		return -EINVAL;
	}
	ret = parse_identity("device", name, pubkey, def->name, def->pubkey, err, errlen);
	if (ret)
		return ret;
	ret = zt_prefix_parse(address, &def->address, err, errlen);
	if (ret)
		return ret;
	if (def->address.family != AF_INET || !zt_prefix_is_host(&def->address)) {
		snprintf(err, errlen,
			 "invalid device address '%s': a tunnel address is one IPv4 address "
			 "(e.g. 100.64.0.2)", address);
		return -EINVAL;
	}
	return 0;
}

int zt_connector_parse(struct zt_connector_def *def, const char *name, const char *pubkey,
		       const char *endpoint, char *err, size_t errlen)
{
	int ret;

	memset(def, 0, sizeof(*def));
	if (!name || !pubkey) {
		snprintf(err, errlen, "a connector needs a name and a public key");
		return -EINVAL;
	}
	ret = parse_identity("connector", name, pubkey, def->name, def->pubkey, err, errlen);
	if (ret)
		return ret;
	/* Without one, the connector is reached through relays until a direct path is found. */
	if (!endpoint)
		return 0;
	return zt_endpoint_parse(endpoint, &def->endpoint, err, errlen);
}
