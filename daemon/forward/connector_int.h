/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the connector's forwarding files share (connector.c, devices.c,
 * conn_log.c): the devices of the policy, the names each bound, and the
 * engine's state. Not for callers: they use forward/connector.h.
 */
#ifndef ZT_FORWARD_CONNECTOR_INT_H
#define ZT_FORWARD_CONNECTOR_INT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "forward/connector.h"
#include "netdev/flows.h"
#include "netdev/nat.h"

#include <json-c/json.h>

#define BIND_QUEUE			4	/* packets held while a name resolves */
#define DEFAULT_BINDS_PER_DEVICE	256	/* --device-binds */
#define MAX_BINDS_PER_DEVICE		4096	/* --device-binds at most */
/* Bytes of packets held while names resolve: per device, and for every device together. */
#define DEVICE_QUEUE_BYTES		(64 * 1024)
#define TOTAL_QUEUE_BYTES		(4 * 1024 * 1024)

enum bind_state {
	BIND_PENDING,		/* the name is being resolved */
	BIND_OK,
	BIND_DNS_ERROR,
	BIND_DENIED,
};

/* One fake IP a device bound to a name. */
struct binding {
	struct in_addr fake;
	struct in_addr real;
	uint32_t resource_id;
	enum bind_state state;
	char name[ZT_PATTERN_MAX];
	uint8_t *queue[BIND_QUEUE];
	size_t queue_len[BIND_QUEUE];
	unsigned int nqueued;
};

/* What the connector keeps about one device while it is in the policy. */
struct device {
	uint32_t id;
	char name[ZT_NAME_MAX];
	uint8_t pubkey[32];
	struct in_addr addr;
	json_object *ident;		/* owner and controller id for the logs (policy), or NULL */
	struct zt_tunnel_peer *peer;
	struct zt_connector_fwd *c;
	/*
	 * A device binds the names it uses (tens): a linear array is the
	 * simplest thing that is fast enough here.
	 */
	struct binding *binds;
	size_t nbinds;
	size_t queued_bytes;		/* held in its bindings' queues */
};

struct connector_stats {
	uint64_t from_devices;		/* IP packets decrypted */
	uint64_t spoofed;		/* inner source not the device's address */
	uint64_t not_ipv4;
	uint64_t unbound;		/* to a fake IP nobody bound */
	uint64_t bind_pending_drops;	/* queue full while a name resolved */
	uint64_t bind_queue_bytes_drops;	/* the device's or everyone's queued bytes at their cap */
	uint64_t to_devices;
	uint64_t no_device;		/* a reply for an address no device has */
	uint64_t unsolicited;		/* from the private network, in no flow the device opened */
	uint64_t untracked_drops;	/* a device's new flow the flow table could not take */
	uint64_t binds;
	uint64_t bind_errors;
	uint64_t malformed_control;
	uint64_t bind_refused;		/* a name resolved only to addresses it may not have */
};

struct zt_connector_fwd {
	struct zt_connector_fwd_cfg cfg;
	struct zt_loop *loop;
	const struct zt_policy *policy;	/* the live policy (swapped in place) */
	const char *name;		/* this connector's name in logs */
	struct zt_tun *tun;
	struct zt_tunnel *tunnel;
	struct zt_paths *paths;		/* each device: direct or through a relay */
	struct zt_path_relays *relays;	/* --relay, --relay-tcp */
	struct zt_name_cache *names;
	struct zt_flows *flows;
	struct device *devices;
	size_t ndevices;
	struct connector_stats st;
	size_t queued_bytes;		/* every device's queues */
	uint32_t max_binds;		/* per device */
	int flow_timer_fd;
};

/* devices.c */
struct device *device_by_addr(struct zt_connector_fwd *c, struct in_addr a);
struct binding *binding_by_fake(struct device *dev, struct in_addr fake);
struct binding *binding_by_real(struct device *dev, struct in_addr real);
/* Free B's queued packets (DEV's), and their bytes from the device's and the total count. */
void binding_drop_queue(struct device *dev, struct binding *b);
/* Why REAL may not be bound for DEV through resource RES_ID; NULL: it may. */
const char *binding_refusal(struct zt_connector_fwd *c, const struct zt_policy *p,
			    const struct device *dev, uint32_t res_id, const struct binding *self,
			    struct in_addr real);
/* B (BIND_OK) leaves the live maps, unless another binding of DEV still needs its address. */
void binding_unlive(struct zt_connector_fwd *c, struct device *dev, struct binding *b);
void device_free_binds(struct device *dev);
void devices_free(struct zt_connector_fwd *c);

/* conn_log.c */
int flow_packet(struct zt_connector_fwd *c, struct device *dev, const struct zt_pkt_info *info,
		bool to_resource);
void flow_log_dns_error(struct zt_connector_fwd *c, struct device *dev, const struct binding *b,
			int status);
void flow_log_denied_name(struct zt_connector_fwd *c, struct device *dev, struct in_addr dst,
			  const char *name, const struct zt_resource_def *res);
int flows_open(struct zt_connector_fwd *c, char *err, size_t errlen);
void flows_close(struct zt_connector_fwd *c);

#endif
