/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The local policy: a set of named resources, each an address or CIDR with
 * its allowed TCP ports, UDP ports and ICMP, and a deny mode. Validation
 * lives here so every entry point (control socket, state file) applies the
 * same rules.
 */
#ifndef ZT_POLICY_H
#define ZT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "addr.h"
#include "ports.h"

#define ZT_NAME_MAX 64
#define ZT_PATTERN_MAX 256	/* a DNS name in text: at most 253 characters */

struct zt_resource_def {
	uint32_t id;		/* stable while the resource exists; indexes counters */
	char name[ZT_NAME_MAX];
	/*
	 * The address: an IP/CIDR (prefix), or, when name_pattern[0] is set, a
	 * DNS name ("nas.home.int") or wildcard ("*.home.int": every name below
	 * home.int), normalised as dns_msg.h does. A name resource has no
	 * address of its own; the DNS server hands out fake IPs for it.
	 */
	struct zt_prefix prefix;
	char name_pattern[ZT_PATTERN_MAX];
	struct zt_port_list tcp;
	struct zt_port_list udp;
	bool icmp;
	uint8_t deny_mode;	/* ZT_DENY_* */
};

struct zt_name_index;

struct zt_policy {
	unsigned int count;
	unsigned int cap;
	struct zt_resource_def *res;
	/*
	 * Lookup index of the name patterns for zt_policy_match_name(), built
	 * on first use, dropped by every change made through this module, and
	 * owned like RES (moves with the struct, freed by zt_policy_free()).
	 */
	struct zt_name_index *name_index;
};

void zt_policy_init(struct zt_policy *p);
void zt_policy_free(struct zt_policy *p);
int zt_policy_copy(struct zt_policy *dst, const struct zt_policy *src);

struct zt_resource_def *zt_policy_find(const struct zt_policy *p, const char *name);
struct zt_resource_def *zt_policy_find_id(const struct zt_policy *p, uint32_t id);

/*
 * Build a resource from user text. tcp/udp may be NULL (none); deny_mode
 * NULL means "drop". Returns 0 or -EINVAL with a one-line reason in ERR.
 */
int zt_resource_parse(struct zt_resource_def *def, const char *name, const char *address,
		      const char *tcp, const char *udp, bool icmp, const char *deny_mode,
		      char *err, size_t errlen);

/*
 * Add DEF (id 0: allocate the lowest free id). Rejects duplicate names and
 * addresses, and policies that would not fit the maps.
 */
int zt_policy_add(struct zt_policy *p, struct zt_resource_def *def, char *err, size_t errlen);
int zt_policy_remove(struct zt_policy *p, const char *name, char *err, size_t errlen);

static inline bool zt_resource_is_name(const struct zt_resource_def *def)
{
	return def->name_pattern[0] != '\0';
}

/* PATTERN (normalised) matches NAME (normalised): equal, or NAME below a wildcard's domain. */
bool zt_name_pattern_match(const char *pattern, const char *name);

/*
 * The name resource answering for NAME (normalised): an exact name first,
 * else the wildcard with the longest domain. NULL if none.
 */
const struct zt_resource_def *zt_policy_match_name(const struct zt_policy *p, const char *name);

json_object *zt_resource_to_json(const struct zt_resource_def *def);
json_object *zt_policy_to_json(const struct zt_policy *p);
int zt_policy_from_json(struct zt_policy *p, json_object *obj, char *err, size_t errlen);

const char *zt_deny_mode_name(uint8_t mode);

#endif
