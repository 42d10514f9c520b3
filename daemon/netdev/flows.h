/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The connector's flow table, for the connection log: one JSON line when a
 * flow starts, one when it ends, and one-line records for what never
 * became a flow (DENIED, DNS_ERROR).
 *
 * A flow is keyed by (device id, protocol, device's inner source address,
 * source port, real destination address, destination port); an ICMP echo
 * uses its identifier as both ports (as zt_pkt_parse() gives them). Flows
 * start with a packet toward the resource; a packet from the resource
 * that matches no flow is not tracked (the kernel's conntrack let it
 * through; it is counted as "untracked").
 *
 * A flow ends:
 *   - TCP: when both sides sent a FIN, or either sent a RST, or after
 *     TCP_IDLE without packets (5 min), or TCP_SYN (30 s) after a SYN that
 *     got no answer;
 *   - UDP, ICMP and anything else: after IDLE (30 s) without packets.
 * Status at the end: CONNECTION_FAILED when the flow began with a SYN and
 * the resource answered only with a RST (or an ICMP error), or never
 * answered; or, for UDP/ICMP, when all that came back were ICMP errors;
 * REVOKED when the device left the policy while the flow was open
 * (zt_flows_end_device); NORMAL otherwise. An ended TCP flow lingers
 * (LINGER, 10 s) so that its last ACK, or a retransmitted FIN, is absorbed instead of starting a new
 * flow; a new SYN during the linger starts a new flow at once.
 *
 * Lines (json-c objects handed to the sink; the sink does not take
 * ownership): "time" (RFC 3339 UTC, ms), "event" ("connection_start" or
 * "connection_end"), "device", then the device's identity fields when the
 * meta has them (a controller's view: "device_id", "user" or
 * "service_account"), "client_endpoint" (the tunnel peer's
 * public ip:port, null if unknown), "resource", "resolved_ip" (the real
 * destination), "protocol" ("tcp", "udp", "icmp" or the number),
 * "port" (destination port; null for ICMP), "connector",
 * "remote_network" (only when known: zt_flows_set_names),
 * "packets_to_resource", "bytes_to_resource", "packets_from_resource",
 * "bytes_from_resource", and in end lines "duration_ms" (first to last
 * packet) and "status". DENIED and DNS_ERROR records are single
 * "connection_end" lines with that status, duration 0 and no start line
 * before them.
 *
 * Bounded: at most MAX_FLOWS flows (default 65536), and at most
 * MAX_PER_DEVICE (default 4096) of them one device's, so that one device
 * cannot take the others' room. When the table is full, a lingering
 * (ended) flow is reclaimed; failing that, or when the device holds its
 * quota, the new flow is not tracked: zt_flows_packet() returns -ENOSPC
 * and the "table_full" (or "device_full") counter goes up. The caller
 * decides what an untracked flow means (the connector drops it).
 *
 * Time is the caller's: NOW is milliseconds of CLOCK_REALTIME
 * (zt_flows_now_ms()), passed to every call, so tests are deterministic.
 * Nothing here blocks or reads a clock; the loop calls zt_flows_expire()
 * from a timer (zt_flows_next_deadline() says when).
 */
#ifndef ZT_FLOWS_H
#define ZT_FLOWS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <json-c/json.h>

#define ZT_FLOWS_DEFAULT_MAX		65536
#define ZT_FLOWS_DEFAULT_TCP_IDLE_MS	(5 * 60 * 1000)
#define ZT_FLOWS_DEFAULT_TCP_SYN_MS	(30 * 1000)
#define ZT_FLOWS_DEFAULT_IDLE_MS	(30 * 1000)
#define ZT_FLOWS_DEFAULT_LINGER_MS	(10 * 1000)
#define ZT_FLOWS_DEFAULT_PER_DEVICE	4096
#define ZT_FLOWS_DEFAULT_PROBATION_MS	(3 * 1000)

/* In zt_flows_packet()'s FLAGS, beside the TCP flags (nat.h's ZT_TCP_*). */
#define ZT_FLOW_ICMP_ERROR	0x100	/* an ICMP error about this flow (FROM_RESOURCE) */
/*
 * A new flow the caller expects the classifier to deny (no grant, port not
 * allowed): it holds its entry only PROBATION_MS (3 s) unless an answer
 * from the resource proves otherwise, then it times out as usual.
 */
#define ZT_FLOW_PROBATION	0x200

enum zt_flow_dir {
	ZT_FLOW_TO_RESOURCE = 0,
	ZT_FLOW_FROM_RESOURCE = 1,
};

struct zt_flow_key {
	uint32_t device_id;
	uint8_t proto;			/* IPPROTO_* */
	struct in_addr src;		/* the device's inner address */
	uint16_t sport;			/* host order; ICMP echo: the identifier */
	struct in_addr dst;		/* the real destination (after DNAT) */
	uint16_t dport;			/* host order; ICMP echo: the identifier */
};

/* Names for the log, copied when a flow starts (only then: pass them cheaply). */
struct zt_flow_meta {
	const char *device;			/* device name */
	const struct sockaddr *client_endpoint;	/* AF_INET/AF_INET6; NULL: unknown */
	const char *resource;			/* resource name; NULL: none matched */
	/*
	 * Identity fields copied into every line of the flow (an object, or
	 * NULL): the flow keeps a reference, so its end line still names the
	 * device's owner after the device left the policy.
	 */
	json_object *ident;
};

struct zt_flows_cfg {
	const char *connector;		/* this connector's name, in every line */
	uint32_t max_flows;		/* 0: ZT_FLOWS_DEFAULT_MAX */
	uint32_t tcp_idle_ms;		/* 0: the defaults above */
	uint32_t tcp_syn_ms;
	uint32_t idle_ms;
	uint32_t linger_ms;
	uint32_t probation_ms;
	/* Entries one device may hold (lingering ones included); 0: ZT_FLOWS_DEFAULT_PER_DEVICE */
	uint32_t max_per_device;
};

/* Called with each line; the callee does not take ownership. */
typedef void (*zt_flow_sink)(json_object *line, void *arg);

struct zt_flows;

/* A new table. Returns 0 or -ENOMEM / -EINVAL. */
int zt_flows_new(const struct zt_flows_cfg *cfg, zt_flow_sink sink, void *arg,
		 struct zt_flows **out);
/*
 * The connector's name (CONNECTOR, kept when NULL or "") and its remote
 * network's (NETWORK; NULL or "": none) for the lines from now on.
 */
void zt_flows_set_names(struct zt_flows *t, const char *connector, const char *network);
/* Free without emitting anything (zt_flows_end_all() first on a clean stop). */
void zt_flows_free(struct zt_flows *t);

/* CLOCK_REALTIME in ms, for NOW. */
uint64_t zt_flows_now_ms(void);

/*
 * Account one packet of BYTES (the IP total length) going DIR, with FLAGS
 * (the TCP flags, or ZT_FLOW_ICMP_ERROR for an ICMP error from the
 * resource side about this flow; the caller keys it by the quoted
 * packet). META is read only when a flow starts. Returns 1 if a flow
 * started (its start line was emitted), 0 if the packet was counted in a
 * flow (which may have ended with it), -ENOENT for a packet from the
 * resource that matches no flow, -ENOSPC if the table is full.
 */
int zt_flows_packet(struct zt_flows *t, const struct zt_flow_key *key,
		    const struct zt_flow_meta *meta, enum zt_flow_dir dir, uint32_t bytes,
		    unsigned int flags, uint64_t now_ms);

/*
 * True if KEY has a flow that has not ended: zt_flows_packet() would count
 * a packet in it without reading META (so a caller can skip building it).
 */
bool zt_flows_open(const struct zt_flows *t, const struct zt_flow_key *key);

/* End the flows whose time is up. Returns how many ended (end lines emitted). */
unsigned int zt_flows_expire(struct zt_flows *t, uint64_t now_ms);
/* When zt_flows_expire() next has work: ms (CLOCK_REALTIME), or UINT64_MAX for never. */
uint64_t zt_flows_next_deadline(const struct zt_flows *t);
/*
 * End DEVICE_ID's open flows now, status REVOKED (the device left the
 * policy: its tunnel is cut), and drop its lingering ones. Returns how many
 * ended.
 */
unsigned int zt_flows_end_device(struct zt_flows *t, uint32_t device_id, uint64_t now_ms);
/* End every open flow now, NORMAL (shutdown). Returns how many. */
unsigned int zt_flows_end_all(struct zt_flows *t, uint64_t now_ms);

/*
 * One DENIED record: the device sent toward something it may not reach
 * (KEY's destination and port; BYTES: the packet). Not a flow: no state.
 */
void zt_flows_log_denied(struct zt_flows *t, const struct zt_flow_key *key,
			 const struct zt_flow_meta *meta, uint32_t bytes, uint64_t now_ms);
/*
 * One DNS_ERROR record: NAME of META's resource could not be resolved
 * (ERROR: a short reason such as "NXDOMAIN"). KEY may be NULL when no
 * packet is involved (a bind that failed); otherwise its protocol and port
 * are logged. "resolved_ip" is null.
 */
void zt_flows_log_dns_error(struct zt_flows *t, const struct zt_flow_key *key,
			    const struct zt_flow_meta *meta, const char *name,
			    const char *error, uint64_t now_ms);

/* Open flows (lingering ones not counted). */
size_t zt_flows_count(const struct zt_flows *t);
/* Entries DEVICE_ID holds (lingering ones counted: they count against its quota). */
size_t zt_flows_device_count(const struct zt_flows *t, uint32_t device_id);
/*
 * Counters for `ztgate stats`: adds "flows": {"active", "started",
 * "ended", "table_full", "device_full", "probation", "untracked"} to O.
 */
void zt_flows_stats(const struct zt_flows *t, json_object *o);

#endif
