/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The local policy: named resources (an address, CIDR or DNS name with its
 * allowed TCP ports, UDP ports and ICMP, and a deny mode), and for the
 * tunnel the identities around them: devices (a connector's view: who may
 * connect, from which tunnel address), connectors (a client's view: where
 * a resource is reached) and grants (which device may reach which
 * resource). Validation lives here so every entry point (control socket,
 * state file, `ztgate apply`) applies the same rules. The module's files,
 * one concern each, are listed in policy/internal.h.
 *
 * The whole policy is also one JSON document (zt_policy_to_json), the
 * format of STATE_DIR/policy.json, `ztgate export` and `ztgate apply`:
 *   {"version": 1,
 *    "resources":  [{"name", "id", "address", "tcp", "udp", "icmp", "deny_mode",
 *                    "connector"?}],
 *    "devices":    [{"name", "id", "pubkey", "address"}],
 *    "connectors": [{"name", "pubkey", "endpoint"?}],
 *    "grants":     [{"device", "resource"}]}
 * Ids are optional on input (kept by name from the previous policy, else the
 * lowest free one); every array is optional (absent = empty); unknown
 * fields are refused. Entries keep their order, so export, apply, export
 * gives the same bytes.
 */
#ifndef ZT_POLICY_H
#define ZT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "lib/addr.h"
#include "tunnel/keys.h"
#include "lib/ports.h"

#define ZT_NAME_MAX 64
#define ZT_PATTERN_MAX 256	/* a DNS name in text: at most 253 characters */
#define ZT_MAX_DEVICE_ID 65536	/* device ids are 1..ZT_MAX_DEVICE_ID-1 */
#define ZT_MAX_CONNECTORS 4096

struct zt_resource_def {
	uint32_t id;		/* stable while the resource exists; indexes counters */
	char name[ZT_NAME_MAX];
	/*
	 * The address: an IP/CIDR (prefix), or, when name_pattern[0] is set, a
	 * DNS name ("nas.home.int") or wildcard ("*.home.int": every name below
	 * home.int), normalised as dns/codec.h does. A name resource has no
	 * address of its own; the DNS server hands out fake IPs for it.
	 */
	struct zt_prefix prefix;
	char name_pattern[ZT_PATTERN_MAX];
	struct zt_port_list tcp;
	struct zt_port_list udp;
	bool icmp;
	uint8_t deny_mode;	/* ZT_DENY_* */
	/* Client: the connector that serves it (a name in the policy); "" none. */
	char connector[ZT_NAME_MAX];
};

/* Connector side: a peer that may open a tunnel, and the inner address it must use. */
/* Whose a device is, as a controller's view says (connection logs only). */
enum zt_owner_kind {
	ZT_OWNER_NONE = 0,		/* unmanaged: the document says nothing */
	ZT_OWNER_USER,			/* "owner": {"user": EMAIL} */
	ZT_OWNER_SERVICE_ACCOUNT,	/* "owner": {"service_account": NAME} */
};

#define ZT_OWNER_MAX 256		/* an email address: at most 254 bytes */

struct zt_device_def {
	uint32_t id;		/* stable while the device exists; keys its grants in the maps */
	char name[ZT_NAME_MAX];
	uint8_t pubkey[ZT_KEY_LEN];
	struct zt_prefix address;	/* its tunnel address: one IPv4 host */
	/* Optional, from a controller's view: enforced nowhere, logged with its flows. */
	enum zt_owner_kind owner_kind;
	char owner[ZT_OWNER_MAX];
	uint64_t controller_id;	/* the controller's id of the device; 0: none */
};

/* Client side: where the tunnel to a connector goes, and the key that proves it. */
struct zt_connector_def {
	char name[ZT_NAME_MAX];
	uint8_t pubkey[ZT_KEY_LEN];
	struct zt_endpoint endpoint;	/* family 0: none (relays only) */
};

/* Device DEVICE_ID may reach resource RESOURCE_ID (ports still apply). */
struct zt_grant_def {
	uint32_t device_id;
	uint32_t resource_id;
};

struct zt_name_index;

/*
 * Each array is owned by the policy, in insertion order; COUNT/CAP pairs
 * as for RES. Plain data apart from the arrays: move it whole, copy it with
 * zt_policy_copy().
 */
struct zt_policy {
	unsigned int count;
	unsigned int cap;
	struct zt_resource_def *res;
	unsigned int ndevices, devices_cap;
	struct zt_device_def *devices;
	unsigned int nconnectors, connectors_cap;
	struct zt_connector_def *connectors;
	unsigned int ngrants, grants_cap;
	struct zt_grant_def *grants;
	/*
	 * Lookup index of the name patterns for zt_policy_match_name(), built
	 * on first use, dropped by every change made through this module, and
	 * owned like RES (moves with the struct, freed by zt_policy_free()).
	 */
	struct zt_name_index *name_index;
};

void zt_policy_init(struct zt_policy *p);
void zt_policy_free(struct zt_policy *p);
/* A deep copy of everything (DST need not be initialised). 0 or -ENOMEM. */
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

/* Set DEF's connector (NULL or "": none); checks the name's syntax only. */
int zt_resource_set_connector(struct zt_resource_def *def, const char *connector, char *err,
			      size_t errlen);

/*
 * Add DEF (id 0: allocate the lowest free id). Rejects duplicate names and
 * addresses, a connector the policy does not have, and policies that would
 * not fit the maps.
 */
int zt_policy_add(struct zt_policy *p, struct zt_resource_def *def, char *err, size_t errlen);
/* Remove a resource and every grant of it (count them first: zt_policy_grant_count). */
int zt_policy_remove(struct zt_policy *p, const char *name, char *err, size_t errlen);

/* ---- devices ---- */

/* Build a device from user text: a name, a base64 public key, one IPv4 address. */
int zt_device_parse(struct zt_device_def *def, const char *name, const char *pubkey,
		    const char *address, char *err, size_t errlen);
/*
 * Add DEF (id 0: the lowest free id). Names, public keys (devices and
 * connectors alike) and addresses are unique: -EEXIST. -ENOSPC when full.
 */
int zt_policy_device_add(struct zt_policy *p, struct zt_device_def *def, char *err,
			 size_t errlen);
/* Remove a device and every grant it holds. */
int zt_policy_device_remove(struct zt_policy *p, const char *name, char *err, size_t errlen);
struct zt_device_def *zt_policy_device_find(const struct zt_policy *p, const char *name);
struct zt_device_def *zt_policy_device_find_id(const struct zt_policy *p, uint32_t id);
struct zt_device_def *zt_policy_device_find_key(const struct zt_policy *p,
						const uint8_t key[ZT_KEY_LEN]);
/* By tunnel address (16 bytes, IPv4-mapped). */
struct zt_device_def *zt_policy_device_find_addr(const struct zt_policy *p,
						 const uint8_t addr[16]);

/* ---- connectors ---- */

/*
 * Build a connector from user text: a name, a base64 public key, and
 * IP:PORT or [IPv6]:PORT, or NULL for none (reached through relays only;
 * endpoint.family stays 0 and the JSON has no "endpoint").
 */
int zt_connector_parse(struct zt_connector_def *def, const char *name, const char *pubkey,
		       const char *endpoint, char *err, size_t errlen);
static inline bool zt_connector_has_endpoint(const struct zt_connector_def *def)
{
	return def->endpoint.family != 0;
}
/* Add DEF; names and public keys are unique (-EEXIST). */
int zt_policy_connector_add(struct zt_policy *p, const struct zt_connector_def *def, char *err,
			    size_t errlen);
/* -EBUSY while a resource names it: those must change first. */
int zt_policy_connector_remove(struct zt_policy *p, const char *name, char *err, size_t errlen);
struct zt_connector_def *zt_policy_connector_find(const struct zt_policy *p, const char *name);
struct zt_connector_def *zt_policy_connector_find_key(const struct zt_policy *p,
						      const uint8_t key[ZT_KEY_LEN]);

/* ---- grants ---- */

/* DEVICE may reach RESOURCE (names). -ENOENT for either missing, -EEXIST if granted. */
int zt_policy_grant_add(struct zt_policy *p, const char *device, const char *resource,
			char *err, size_t errlen);
/* Take the grant away; -ENOENT if there is none. */
int zt_policy_grant_remove(struct zt_policy *p, const char *device, const char *resource,
			   char *err, size_t errlen);
bool zt_policy_granted(const struct zt_policy *p, uint32_t device_id, uint32_t resource_id);
/* Grants of DEVICE_ID and of RESOURCE_ID (0: any). */
unsigned int zt_policy_grant_count(const struct zt_policy *p, uint32_t device_id,
				   uint32_t resource_id);

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

/*
 * The IP/CIDR resource holding ADDR (16 bytes, IPv4-mapped for IPv4): the
 * longest prefix, as the data plane decides. NULL if none. A scan over the
 * resources: for the daemon's slow paths (logs, a flow's first packet).
 */
const struct zt_resource_def *zt_policy_match_addr(const struct zt_policy *p,
						   const uint8_t addr[16]);

/* ---- JSON: each returns a new object the caller owns ---- */

json_object *zt_resource_to_json(const struct zt_resource_def *def);
json_object *zt_device_to_json(const struct zt_device_def *def);
json_object *zt_connector_to_json(const struct zt_connector_def *def);
/* {"device", "resource"} by name. */
json_object *zt_grant_to_json(const struct zt_policy *p, const struct zt_grant_def *g);
/* The grants of DEVICE_ID and of RESOURCE_ID (0: any), as an array. */
json_object *zt_policy_grants_to_json(const struct zt_policy *p, uint32_t device_id,
				      uint32_t resource_id);
/* The whole document (see the top of this file). */
json_object *zt_policy_to_json(const struct zt_policy *p);
/* The document's text, as saved and exported: pretty-printed, with a final newline. */
char *zt_policy_to_text(const struct zt_policy *p);

/*
 * Read a document into P (initialised here; freed again on error). Entries
 * without an id take the id their name had in PREV (may be NULL) when no
 * other entry claims it, else the lowest free one. Returns 0 or -errno with
 * ERR naming the entry: "grants[2]: no device 'bob'".
 */
int zt_policy_from_doc(struct zt_policy *p, json_object *obj, const struct zt_policy *prev,
		       char *err, size_t errlen);
/* zt_policy_from_doc without a previous policy. */
int zt_policy_from_json(struct zt_policy *p, json_object *obj, char *err, size_t errlen);

/*
 * What replacing FROM with TO changes, one line per entry, as an array of
 * strings: "+ resource web address=198.18.0.2 tcp=80 ...", "- device bob",
 * "~ resource web: tcp 80 -> 80,443", "+ grant alice web". Empty when
 * equal; NULL on out of memory.
 */
json_object *zt_policy_diff(const struct zt_policy *from, const struct zt_policy *to);

const char *zt_deny_mode_name(uint8_t mode);

#endif
