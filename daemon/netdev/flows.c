// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <openssl/siphash.h>

#include "lib/clock.h"
#include "netdev/flows.h"
#include "lib/log.h"
#include "netdev/nat.h"
#include "policy/policy.h"

#define ENDPOINT_MAX	(INET6_ADDRSTRLEN + 8)	/* "[addr]:port" */

enum flow_state {
	ST_SYN_SENT,		/* TCP: a SYN, no answer yet */
	ST_OPEN,
	ST_ENDED,		/* TCP: the end line is out; lingering */
};

/*
 * Each class has one timeout, and its list is in order of last activity
 * (a flow moves to the tail on every packet), so its head is the next to
 * expire: expiry costs only what expires, a packet O(1).
 */
enum flow_class {
	CLS_TCP_SYN,
	CLS_TCP,
	CLS_IDLE,		/* UDP, ICMP, anything else */
	CLS_LINGER,
	CLS_PROBATION,		/* expected to be denied: short, until an answer */
	NCLASSES,
};

struct flow {
	struct zt_flow_key key;
	struct flow *hnext;			/* hash chain */
	struct flow *prev, *next;		/* its class list */
	uint8_t cls;
	uint8_t state;
	uint8_t fins;				/* 1 << dir: who sent a FIN */
	bool replied;				/* UDP/ICMP: a reply that is not an ICMP error */
	bool error_seen;			/* an ICMP error came back */
	uint64_t start_ms, last_ms;
	uint64_t packets[2], bytes[2];
	char device[ZT_NAME_MAX];
	char resource[ZT_NAME_MAX];
	char endpoint[ENDPOINT_MAX];		/* "" unknown */
	json_object *ident;			/* the device's identity fields (a reference) or NULL */
};

struct flow_list {
	struct flow *head, *tail;
};

/* How many entries one device holds: a chained table, an entry per device with flows. */
#define DEV_BUCKETS	256

struct dev_count {
	uint32_t device_id;
	uint32_t n;
	struct dev_count *next;
};

struct zt_flows {
	char connector[ZT_NAME_MAX];
	char network[ZT_NAME_MAX];		/* "" none: no "remote_network" */
	uint32_t max_flows;
	uint32_t max_per_device;
	uint64_t timeout_ms[NCLASSES];
	zt_flow_sink sink;
	void *arg;
	uint64_t hash_key[2];
	struct flow **buckets;
	size_t nbuckets;			/* a power of two */
	struct flow_list lists[NCLASSES];
	size_t nflows;				/* every entry, lingering ones included */
	size_t nlinger;
	struct dev_count *devs[DEV_BUCKETS];
	/* counters */
	uint64_t started, ended, table_full, device_full, probation, untracked;
};

enum status {
	STATUS_NORMAL,
	STATUS_CONNECTION_FAILED,
	STATUS_DNS_ERROR,
	STATUS_DENIED,
	STATUS_REVOKED,
};

static const char *const status_names[] = {
	[STATUS_NORMAL] = "NORMAL",
	[STATUS_CONNECTION_FAILED] = "CONNECTION_FAILED",
	[STATUS_DNS_ERROR] = "DNS_ERROR",
	[STATUS_DENIED] = "DENIED",
	[STATUS_REVOKED] = "REVOKED",
};

uint64_t zt_flows_now_ms(void)
{
	return zt_real_ns() / ZT_NS_PER_MS;
}

/* ---- lists and hash ---- */

static void list_del(struct zt_flows *t, struct flow *f)
{
	struct flow_list *l = &t->lists[f->cls];

	if (f->prev)
		f->prev->next = f->next;
	else
		l->head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		l->tail = f->prev;
	f->prev = f->next = NULL;
}

static void list_append(struct zt_flows *t, struct flow *f, enum flow_class cls)
{
	struct flow_list *l = &t->lists[cls];

	f->cls = (uint8_t)cls;
	f->prev = l->tail;
	f->next = NULL;
	if (l->tail)
		l->tail->next = f;
	else
		l->head = f;
	l->tail = f;
}

/* Keyed SipHash: a device choosing its ports cannot pile flows into one chain. */
static size_t bucket_of(const struct zt_flows *t, const struct zt_flow_key *k)
{
	uint8_t buf[17];

	memcpy(buf, &k->device_id, 4);
	memcpy(buf + 4, &k->src, 4);
	memcpy(buf + 8, &k->dst, 4);
	memcpy(buf + 12, &k->sport, 2);
	memcpy(buf + 14, &k->dport, 2);
	buf[16] = k->proto;
	return (size_t)SIPHASH_24(t->hash_key, buf, sizeof(buf)) & (t->nbuckets - 1);
}

static bool key_equal(const struct zt_flow_key *a, const struct zt_flow_key *b)
{
	return a->device_id == b->device_id && a->proto == b->proto &&
	       a->src.s_addr == b->src.s_addr && a->dst.s_addr == b->dst.s_addr &&
	       a->sport == b->sport && a->dport == b->dport;
}

static struct flow *find(const struct zt_flows *t, const struct zt_flow_key *k)
{
	struct flow *f;

	for (f = t->buckets[bucket_of(t, k)]; f; f = f->hnext)
		if (key_equal(&f->key, k))
			return f;
	return NULL;
}

static struct dev_count **dev_slot(struct zt_flows *t, uint32_t device_id)
{
	struct dev_count **pd = &t->devs[(device_id * 2654435761u) >> 24];

	while (*pd && (*pd)->device_id != device_id)
		pd = &(*pd)->next;
	return pd;
}

static uint32_t dev_held(const struct zt_flows *t, uint32_t device_id)
{
	struct dev_count **pd = dev_slot((struct zt_flows *)t, device_id);

	return *pd ? (*pd)->n : 0;
}

/* One more (DELTA 1) or one fewer (-1) entry for DEVICE_ID. Returns -ENOMEM or 0. */
static int dev_charge(struct zt_flows *t, uint32_t device_id, int delta)
{
	struct dev_count **pd = dev_slot(t, device_id), *d = *pd;

	if (!d) {
		if (delta < 0)
			return 0;
		d = calloc(1, sizeof(*d));
		if (!d)
			return -ENOMEM;
		d->device_id = device_id;
		*pd = d;
	}
	d->n = (uint32_t)((int64_t)d->n + delta);
	if (!d->n) {
		*pd = d->next;
		free(d);
	}
	return 0;
}

static void destroy(struct zt_flows *t, struct flow *f)
{
	struct flow **pf;

	for (pf = &t->buckets[bucket_of(t, &f->key)]; *pf; pf = &(*pf)->hnext) {
		if (*pf == f) {
			*pf = f->hnext;
			break;
		}
	}
	if (f->state == ST_ENDED)
		t->nlinger--;
	list_del(t, f);
	t->nflows--;
	dev_charge(t, f->key.device_id, -1);
	json_object_put(f->ident);
	free(f);
}

/* ---- lines ---- */

static const char *proto_name(uint8_t proto, char *buf, size_t len)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	default:
		snprintf(buf, len, "%u", proto);
		return buf;
	}
}

static void format_endpoint(const struct sockaddr *sa, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	buf[0] = 0;
	if (!sa)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	}
}

static json_object *str_or_null(const char *s)
{
	return s && s[0] ? json_object_new_string(s) : NULL;
}

/* What every line carries, in the documented order. */
static json_object *line_new(const struct zt_flows *t, const char *event, uint64_t now_ms,
			     const char *device, json_object *ident, const char *endpoint,
			     const char *resource, const struct zt_flow_key *key, bool with_ip)
{
	json_object *o = json_object_new_object();
	char buf[48], a[INET_ADDRSTRLEN];

	zt_format_time(now_ms * 1000000ull, buf, sizeof(buf));
	json_object_object_add(o, "time", json_object_new_string(buf));
	json_object_object_add(o, "event", json_object_new_string(event));
	json_object_object_add(o, "device", str_or_null(device));
	if (ident) {
		json_object_object_foreach(ident, k, v)
			json_object_object_add(o, k, json_object_get(v));
	}
	json_object_object_add(o, "client_endpoint", str_or_null(endpoint));
	json_object_object_add(o, "resource", str_or_null(resource));
	if (key && with_ip) {
		inet_ntop(AF_INET, &key->dst, a, sizeof(a));
		json_object_object_add(o, "resolved_ip", json_object_new_string(a));
	} else {
		json_object_object_add(o, "resolved_ip", NULL);
	}
	json_object_object_add(o, "protocol",
			       key ? json_object_new_string(proto_name(key->proto, buf, sizeof(buf)))
				   : NULL);
	json_object_object_add(o, "port", key && key->proto != IPPROTO_ICMP
					  ? json_object_new_int(key->dport) : NULL);
	json_object_object_add(o, "connector", str_or_null(t->connector));
	if (t->network[0])
		json_object_object_add(o, "remote_network", json_object_new_string(t->network));
	return o;
}

static void add_counters(json_object *o, const uint64_t packets[2], const uint64_t bytes[2])
{
	json_object_object_add(o, "packets_to_resource",
			       json_object_new_int64((int64_t)packets[ZT_FLOW_TO_RESOURCE]));
	json_object_object_add(o, "bytes_to_resource",
			       json_object_new_int64((int64_t)bytes[ZT_FLOW_TO_RESOURCE]));
	json_object_object_add(o, "packets_from_resource",
			       json_object_new_int64((int64_t)packets[ZT_FLOW_FROM_RESOURCE]));
	json_object_object_add(o, "bytes_from_resource",
			       json_object_new_int64((int64_t)bytes[ZT_FLOW_FROM_RESOURCE]));
}

static void emit(const struct zt_flows *t, json_object *o)
{
	if (t->sink)
		t->sink(o, t->arg);
	json_object_put(o);
}

static void emit_flow(struct zt_flows *t, const struct flow *f, bool end, enum status st,
		      uint64_t now_ms)
{
	json_object *o = line_new(t, end ? "connection_end" : "connection_start", now_ms,
				  f->device, f->ident, f->endpoint, f->resource, &f->key, true);

	add_counters(o, f->packets, f->bytes);
	if (end) {
		json_object_object_add(o, "duration_ms",
				       json_object_new_int64((int64_t)(f->last_ms - f->start_ms)));
		json_object_object_add(o, "status", json_object_new_string(status_names[st]));
	}
	emit(t, o);
}

static enum status end_status(const struct flow *f)
{
	if (f->state == ST_SYN_SENT)
		return STATUS_CONNECTION_FAILED;	/* no answer, a RST or an ICMP error */
	if (f->key.proto != IPPROTO_TCP && f->error_seen && !f->replied)
		return STATUS_CONNECTION_FAILED;
	return STATUS_NORMAL;
}

/*
 * The end line. A TCP flow that ended by its packets lingers (its last ACK
 * must not start a flow); one that timed out goes at once.
 */
static void end_flow(struct zt_flows *t, struct flow *f, uint64_t now_ms, bool linger)
{
	emit_flow(t, f, true, end_status(f), now_ms);
	t->ended++;
	if (!linger) {
		destroy(t, f);
		return;
	}
	f->state = ST_ENDED;
	t->nlinger++;
	list_del(t, f);
	f->last_ms = now_ms;
	list_append(t, f, CLS_LINGER);
}

/* ---- the table ---- */

int zt_flows_new(const struct zt_flows_cfg *cfg, zt_flow_sink sink, void *arg,
		 struct zt_flows **out)
{
	struct zt_flows *t;
	size_t n = 16;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	snprintf(t->connector, sizeof(t->connector), "%s", cfg->connector ? cfg->connector : "");
	t->max_flows = cfg->max_flows ? cfg->max_flows : ZT_FLOWS_DEFAULT_MAX;
	t->timeout_ms[CLS_TCP_SYN] = cfg->tcp_syn_ms ? cfg->tcp_syn_ms : ZT_FLOWS_DEFAULT_TCP_SYN_MS;
	t->timeout_ms[CLS_TCP] = cfg->tcp_idle_ms ? cfg->tcp_idle_ms : ZT_FLOWS_DEFAULT_TCP_IDLE_MS;
	t->timeout_ms[CLS_IDLE] = cfg->idle_ms ? cfg->idle_ms : ZT_FLOWS_DEFAULT_IDLE_MS;
	t->timeout_ms[CLS_LINGER] = cfg->linger_ms ? cfg->linger_ms : ZT_FLOWS_DEFAULT_LINGER_MS;
	t->timeout_ms[CLS_PROBATION] = cfg->probation_ms ? cfg->probation_ms
							 : ZT_FLOWS_DEFAULT_PROBATION_MS;
	t->max_per_device = cfg->max_per_device ? cfg->max_per_device : ZT_FLOWS_DEFAULT_PER_DEVICE;
	t->sink = sink;
	t->arg = arg;
	RAND_bytes((uint8_t *)t->hash_key, sizeof(t->hash_key));
	while (n < t->max_flows && n < (1u << 24))
		n <<= 1;
	t->nbuckets = n;
	t->buckets = calloc(n, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

void zt_flows_set_names(struct zt_flows *t, const char *connector, const char *network)
{
	if (connector && connector[0])
		snprintf(t->connector, sizeof(t->connector), "%s", connector);
	snprintf(t->network, sizeof(t->network), "%s", network ? network : "");
}

void zt_flows_free(struct zt_flows *t)
{
	struct flow *f, *next;
	struct dev_count *d, *dn;
	int c;

	if (!t)
		return;
	for (c = 0; c < DEV_BUCKETS; c++)
		for (d = t->devs[c]; d; d = dn) {
			dn = d->next;
			free(d);
		}
	for (c = 0; c < NCLASSES; c++) {
		for (f = t->lists[c].head; f; f = next) {
			next = f->next;
			json_object_put(f->ident);
			free(f);
		}
	}
	free(t->buckets);
	free(t);
}

/* The class a flow's state and protocol give it (out of probation). */
static enum flow_class class_of(const struct flow *f)
{
	if (f->key.proto != IPPROTO_TCP)
		return CLS_IDLE;
	return f->state == ST_SYN_SENT ? CLS_TCP_SYN : CLS_TCP;
}

static struct flow *flow_start(struct zt_flows *t, const struct zt_flow_key *key,
			       const struct zt_flow_meta *meta, unsigned int flags,
			       uint64_t now_ms)
{
	struct flow *f;
	size_t b;

	/* One device's flows cannot take the room every other device shares. */
	if (dev_held(t, key->device_id) >= t->max_per_device) {
		t->device_full++;
		return NULL;
	}
	if (t->nflows >= t->max_flows) {
		/* An ended flow only absorbs stragglers: a new one needs the room more. */
		if (!t->lists[CLS_LINGER].head)
			return NULL;
		destroy(t, t->lists[CLS_LINGER].head);
	}
	f = calloc(1, sizeof(*f));
	if (!f || dev_charge(t, key->device_id, 1)) {
		free(f);
		return NULL;
	}
	f->key = *key;
	f->start_ms = f->last_ms = now_ms;
	snprintf(f->device, sizeof(f->device), "%s", meta && meta->device ? meta->device : "");
	snprintf(f->resource, sizeof(f->resource), "%s",
		 meta && meta->resource ? meta->resource : "");
	format_endpoint(meta ? meta->client_endpoint : NULL, f->endpoint, sizeof(f->endpoint));
	f->ident = meta && meta->ident ? json_object_get(meta->ident) : NULL;
	if (key->proto == IPPROTO_TCP && (flags & ZT_TCP_SYN) && !(flags & ZT_TCP_ACK))
		f->state = ST_SYN_SENT;
	else
		f->state = ST_OPEN;	/* TCP picked up mid-stream (after a restart, say) */
	if (flags & ZT_FLOW_PROBATION) {
		t->probation++;
		list_append(t, f, CLS_PROBATION);
	} else {
		list_append(t, f, class_of(f));
	}
	b = bucket_of(t, key);
	f->hnext = t->buckets[b];
	t->buckets[b] = f;
	t->nflows++;
	t->started++;
	return f;
}

/* TCP: move the state on with one packet. Returns true if the flow ended. */
static bool tcp_packet(struct zt_flows *t, struct flow *f, enum zt_flow_dir dir,
		       unsigned int flags, uint64_t now_ms)
{
	bool answer = dir == ZT_FLOW_FROM_RESOURCE &&
		      !(flags & (ZT_TCP_RST | ZT_FLOW_ICMP_ERROR));

	if (f->state == ST_SYN_SENT && answer) {
		f->state = ST_OPEN;
		list_del(t, f);
		list_append(t, f, CLS_TCP);
	}
	if ((flags & ZT_TCP_RST) ||
	    (f->state == ST_SYN_SENT && (flags & ZT_FLOW_ICMP_ERROR))) {
		end_flow(t, f, now_ms, true);
		return true;
	}
	if (flags & ZT_TCP_FIN)
		f->fins |= (uint8_t)(1u << dir);
	if (f->fins == 3) {
		end_flow(t, f, now_ms, true);
		return true;
	}
	return false;
}

int zt_flows_packet(struct zt_flows *t, const struct zt_flow_key *key,
		    const struct zt_flow_meta *meta, enum zt_flow_dir dir, uint32_t bytes,
		    unsigned int flags, uint64_t now_ms)
{
	struct flow *f = find(t, key);
	bool started = false;

	if (f && f->state == ST_ENDED) {
		/* A new connection on the same ports replaces the ended one. */
		if (dir != ZT_FLOW_TO_RESOURCE || key->proto != IPPROTO_TCP ||
		    !(flags & ZT_TCP_SYN) || (flags & ZT_TCP_ACK))
			return 0;	/* a straggler of the ended flow */
		destroy(t, f);
		f = NULL;
	}
	if (!f) {
		if (dir != ZT_FLOW_TO_RESOURCE) {
			t->untracked++;
			return -ENOENT;
		}
		uint64_t device_full = t->device_full;

		f = flow_start(t, key, meta, flags, now_ms);
		if (!f) {
			if (t->device_full == device_full)
				t->table_full++;
			return -ENOSPC;
		}
		started = true;
	}
	f->packets[dir]++;
	f->bytes[dir] += bytes;
	f->last_ms = now_ms;
	if (dir == ZT_FLOW_FROM_RESOURCE) {
		if (flags & ZT_FLOW_ICMP_ERROR)
			f->error_seen = true;
		else
			f->replied = true;
	}
	/* An answer: the classifier let it through after all; it times out as usual. */
	if (f->cls == CLS_PROBATION && dir == ZT_FLOW_FROM_RESOURCE &&
	    !(flags & (ZT_FLOW_ICMP_ERROR | ZT_TCP_RST))) {
		list_del(t, f);
		list_append(t, f, class_of(f));
	}
	if (started)
		emit_flow(t, f, false, STATUS_NORMAL, now_ms);
	if (key->proto == IPPROTO_TCP && tcp_packet(t, f, dir, flags, now_ms))
		return started ? 1 : 0;
	/* Most recent last: the list stays in expiry order. */
	list_del(t, f);
	list_append(t, f, f->cls);
	return started ? 1 : 0;
}

bool zt_flows_open(const struct zt_flows *t, const struct zt_flow_key *key)
{
	const struct flow *f = find(t, key);

	return f && f->state != ST_ENDED;
}

unsigned int zt_flows_expire(struct zt_flows *t, uint64_t now_ms)
{
	unsigned int n = 0;
	struct flow *f;
	int c;

	for (c = 0; c < NCLASSES; c++) {
		while ((f = t->lists[c].head) && f->last_ms + t->timeout_ms[c] <= now_ms) {
			if (c == CLS_LINGER) {
				destroy(t, f);
				continue;
			}
			end_flow(t, f, now_ms, false);
			n++;
		}
	}
	return n;
}

uint64_t zt_flows_next_deadline(const struct zt_flows *t)
{
	uint64_t next = UINT64_MAX;
	int c;

	for (c = 0; c < NCLASSES; c++) {
		const struct flow *f = t->lists[c].head;

		if (f && f->last_ms + t->timeout_ms[c] < next)
			next = f->last_ms + t->timeout_ms[c];
	}
	return next;
}

unsigned int zt_flows_end_all(struct zt_flows *t, uint64_t now_ms)
{
	unsigned int n = 0;
	struct flow *f;
	int c;

	for (c = 0; c < NCLASSES; c++) {
		while ((f = t->lists[c].head)) {
			if (c == CLS_LINGER) {
				destroy(t, f);
				continue;
			}
			/* Shutdown is no failure of the flow's. */
			if (f->state == ST_SYN_SENT)
				f->state = ST_OPEN;
			end_flow(t, f, now_ms, false);
			n++;
		}
	}
	return n;
}

unsigned int zt_flows_end_device(struct zt_flows *t, uint32_t device_id, uint64_t now_ms)
{
	unsigned int n = 0;
	struct flow *f, *next;

	for (int c = 0; c < NCLASSES; c++) {
		for (f = t->lists[c].head; f; f = next) {
			next = f->next;
			if (f->key.device_id != device_id)
				continue;
			if (c != CLS_LINGER) {
				emit_flow(t, f, true, STATUS_REVOKED, now_ms);
				t->ended++;
				n++;
			}
			destroy(t, f);
		}
	}
	return n;
}

/* ---- one-line records ---- */

static void log_one(struct zt_flows *t, const struct zt_flow_key *key,
		    const struct zt_flow_meta *meta, uint32_t bytes, enum status st,
		    const char *name, const char *error, uint64_t now_ms)
{
	uint64_t packets[2] = { bytes ? 1 : 0, 0 }, nbytes[2] = { bytes, 0 };
	char endpoint[ENDPOINT_MAX];
	json_object *o;

	format_endpoint(meta ? meta->client_endpoint : NULL, endpoint, sizeof(endpoint));
	o = line_new(t, "connection_end", now_ms, meta ? meta->device : NULL,
		     meta ? meta->ident : NULL, endpoint, meta ? meta->resource : NULL, key,
		     st != STATUS_DNS_ERROR);
	add_counters(o, packets, nbytes);
	json_object_object_add(o, "duration_ms", json_object_new_int64(0));
	json_object_object_add(o, "status", json_object_new_string(status_names[st]));
	if (name)
		json_object_object_add(o, "name", json_object_new_string(name));
	if (error)
		json_object_object_add(o, "error", json_object_new_string(error));
	emit(t, o);
}

void zt_flows_log_denied(struct zt_flows *t, const struct zt_flow_key *key,
			 const struct zt_flow_meta *meta, uint32_t bytes, uint64_t now_ms)
{
	log_one(t, key, meta, bytes, STATUS_DENIED, NULL, NULL, now_ms);
}

void zt_flows_log_dns_error(struct zt_flows *t, const struct zt_flow_key *key,
			    const struct zt_flow_meta *meta, const char *name,
			    const char *error, uint64_t now_ms)
{
	log_one(t, key, meta, 0, STATUS_DNS_ERROR, name, error, now_ms);
}

size_t zt_flows_count(const struct zt_flows *t)
{
	return t->nflows - t->nlinger;
}

size_t zt_flows_device_count(const struct zt_flows *t, uint32_t device_id)
{
	return dev_held(t, device_id);
}

void zt_flows_stats(const struct zt_flows *t, json_object *o)
{
	json_object *s = json_object_new_object();

	json_object_object_add(s, "active", json_object_new_int64((int64_t)zt_flows_count(t)));
	json_object_object_add(s, "started", json_object_new_int64((int64_t)t->started));
	json_object_object_add(s, "ended", json_object_new_int64((int64_t)t->ended));
	json_object_object_add(s, "table_full", json_object_new_int64((int64_t)t->table_full));
	json_object_object_add(s, "device_full", json_object_new_int64((int64_t)t->device_full));
	json_object_object_add(s, "probation", json_object_new_int64((int64_t)t->probation));
	json_object_object_add(s, "untracked", json_object_new_int64((int64_t)t->untracked));
	json_object_object_add(o, "flows", s);
}
