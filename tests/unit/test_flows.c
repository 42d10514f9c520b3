// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests: the connector's flow table (daemon/netdev/flows.c). Time is passed
 * in, so every line's time and duration is checked exactly.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netdev/flows.h"
#include "netdev/nat.h"

#define T0	1700000000000ull	/* 2023-11-14T22:13:20.000Z */

struct sink {
	json_object *lines;		/* array */
};

static void collect(json_object *line, void *arg)
{
	struct sink *s = arg;

	/* Each line must survive the round trip through text as one object. */
	const char *text = json_object_to_json_string_ext(line, JSON_C_TO_STRING_PLAIN);

	assert_null(strchr(text, '\n'));
	json_object_array_add(s->lines, json_tokener_parse(text));
}

struct fixture {
	struct sink sink;
	struct zt_flows *t;
	struct sockaddr_in endpoint;
	struct zt_flow_meta meta;
};

static struct fixture *fixture_new(const struct zt_flows_cfg *cfg)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct zt_flows_cfg def = { .connector = "conn-home" };

	fx->sink.lines = json_object_new_array();
	assert_int_equal(zt_flows_new(cfg ? cfg : &def, collect, &fx->sink, &fx->t), 0);
	fx->endpoint.sin_family = AF_INET;
	fx->endpoint.sin_port = htons(51820);
	inet_pton(AF_INET, "203.0.113.5", &fx->endpoint.sin_addr);
	fx->meta = (struct zt_flow_meta){ .device = "laptop-ann",
					  .client_endpoint = (struct sockaddr *)&fx->endpoint,
					  .resource = "nas" };
	return fx;
}

static void fixture_free(struct fixture *fx)
{
	zt_flows_free(fx->t);
	json_object_put(fx->sink.lines);
	free(fx);
}

static size_t nlines(const struct fixture *fx)
{
	return json_object_array_length(fx->sink.lines);
}

static json_object *line(const struct fixture *fx, size_t i)
{
	assert_true(i < nlines(fx));
	return json_object_array_get_idx(fx->sink.lines, i);
}

static json_object *field(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
	return v;
}

static void expect_str(json_object *o, const char *key, const char *want)
{
	json_object *v = field(o, key);

	if (!want) {
		assert_null(v);
		return;
	}
	assert_true(json_object_is_type(v, json_type_string));
	assert_string_equal(json_object_get_string(v), want);
}

static void expect_int(json_object *o, const char *key, int64_t want)
{
	json_object *v = field(o, key);

	assert_true(json_object_is_type(v, json_type_int));
	assert_int_equal(json_object_get_int64(v), want);
}

static void expect_absent(json_object *o, const char *key)
{
	assert_false(json_object_object_get_ex(o, key, NULL));
}

static void expect_counters(json_object *o, int64_t pto, int64_t bto, int64_t pfrom,
			    int64_t bfrom)
{
	expect_int(o, "packets_to_resource", pto);
	expect_int(o, "bytes_to_resource", bto);
	expect_int(o, "packets_from_resource", pfrom);
	expect_int(o, "bytes_from_resource", bfrom);
}

static struct zt_flow_key key(uint8_t proto, uint16_t sport, uint16_t dport)
{
	struct zt_flow_key k = { .device_id = 7, .proto = proto, .sport = sport, .dport = dport };

	inet_pton(AF_INET, "100.64.0.2", &k.src);
	inet_pton(AF_INET, "10.10.0.5", &k.dst);
	return k;
}

static int pkt(struct fixture *fx, const struct zt_flow_key *k, enum zt_flow_dir dir,
	       uint32_t bytes, unsigned int flags, uint64_t now)
{
	return zt_flows_packet(fx->t, k, &fx->meta, dir, bytes, flags, now);
}

#define TO	ZT_FLOW_TO_RESOURCE
#define FROM	ZT_FLOW_FROM_RESOURCE

/* A whole TCP connection: handshake, data both ways, FIN both ways, last ACK. */
static void test_tcp_fin_both_ways(void **state)
{
	struct fixture *fx = fixture_new(NULL);
	struct zt_flow_key k = key(IPPROTO_TCP, 43210, 80);
	json_object *o;

	(void)state;
	assert_int_equal(pkt(fx, &k, TO, 60, ZT_TCP_SYN, T0), 1);
	assert_int_equal(nlines(fx), 1);
	o = line(fx, 0);
	expect_str(o, "time", "2023-11-14T22:13:20.000Z");
	expect_str(o, "event", "connection_start");
	expect_str(o, "device", "laptop-ann");
	expect_str(o, "client_endpoint", "203.0.113.5:51820");
	expect_str(o, "resource", "nas");
	expect_str(o, "resolved_ip", "10.10.0.5");
	expect_str(o, "protocol", "tcp");
	expect_int(o, "port", 80);
	expect_str(o, "connector", "conn-home");
	expect_counters(o, 1, 60, 0, 0);
	expect_absent(o, "duration_ms");
	assert_int_equal(zt_flows_count(fx->t), 1);

	assert_int_equal(pkt(fx, &k, FROM, 60, ZT_TCP_SYN | ZT_TCP_ACK, T0 + 12), 0);
	assert_int_equal(pkt(fx, &k, TO, 52, ZT_TCP_ACK, T0 + 13), 0);
	assert_int_equal(pkt(fx, &k, TO, 552, ZT_TCP_ACK | ZT_TCP_PSH, T0 + 14), 0);
	assert_int_equal(pkt(fx, &k, FROM, 1052, ZT_TCP_ACK | ZT_TCP_PSH, T0 + 30), 0);
	assert_int_equal(pkt(fx, &k, TO, 52, ZT_TCP_ACK | ZT_TCP_FIN, T0 + 40), 0);
	assert_int_equal(pkt(fx, &k, FROM, 52, ZT_TCP_ACK, T0 + 41), 0);
	assert_int_equal(nlines(fx), 1);
	assert_int_equal(pkt(fx, &k, FROM, 52, ZT_TCP_ACK | ZT_TCP_FIN, T0 + 1234), 0);
	assert_int_equal(nlines(fx), 2);
	o = line(fx, 1);
	expect_str(o, "event", "connection_end");
	expect_str(o, "time", "2023-11-14T22:13:21.234Z");
	expect_str(o, "status", "NORMAL");
	expect_int(o, "duration_ms", 1234);
	expect_counters(o, 4, 60 + 52 + 552 + 52, 4, 60 + 1052 + 52 + 52);
	assert_int_equal(zt_flows_count(fx->t), 0);

	/* The last ACK, and a retransmitted FIN: absorbed, no new flow. */
	assert_int_equal(pkt(fx, &k, TO, 52, ZT_TCP_ACK, T0 + 1235), 0);
	assert_int_equal(pkt(fx, &k, FROM, 52, ZT_TCP_ACK | ZT_TCP_FIN, T0 + 1300), 0);
	assert_int_equal(nlines(fx), 2);
	assert_int_equal(zt_flows_count(fx->t), 0);
	assert_int_equal(zt_flows_next_deadline(fx->t), T0 + 1234 + ZT_FLOWS_DEFAULT_LINGER_MS);

	/* After the linger a stray ACK is picked up as a flow of its own (mid-stream). */
	assert_int_equal(zt_flows_expire(fx->t, T0 + 1234 + ZT_FLOWS_DEFAULT_LINGER_MS), 0);
	assert_int_equal(nlines(fx), 2);
	assert_int_equal(pkt(fx, &k, TO, 52, ZT_TCP_ACK, T0 + 20000), 1);
	assert_int_equal(nlines(fx), 3);
	fixture_free(fx);
}

/* A new SYN on the ports of a lingering flow is a new connection at once. */
static void test_tcp_port_reuse_during_linger(void **state)
{
	struct fixture *fx = fixture_new(NULL);
	struct zt_flow_key k = key(IPPROTO_TCP, 5000, 22);

	(void)state;
	assert_false(zt_flows_open(fx->t, &k));
	assert_int_equal(pkt(fx, &k, TO, 60, ZT_TCP_SYN, T0), 1);
	assert_true(zt_flows_open(fx->t, &k));	/* the next packet needs no metadata */
	assert_int_equal(pkt(fx, &k, FROM, 60, ZT_TCP_SYN | ZT_TCP_ACK, T0 + 1), 0);
	assert_int_equal(pkt(fx, &k, FROM, 40, ZT_TCP_RST, T0 + 2), 0);
	assert_int_equal(nlines(fx), 2);
	expect_str(line(fx, 1), "status", "NORMAL");	/* it was answered: a reset, not a failure */
	assert_false(zt_flows_open(fx->t, &k));	/* ended: a new SYN starts one, with metadata */
	assert_int_equal(pkt(fx, &k, TO, 60, ZT_TCP_SYN, T0 + 3), 1);
	assert_true(zt_flows_open(fx->t, &k));
	assert_int_equal(nlines(fx), 3);
	expect_str(line(fx, 2), "event", "connection_start");
	expect_counters(line(fx, 2), 1, 60, 0, 0);
	fixture_free(fx);
}

static void test_tcp_syn_answered_by_rst(void **state)
{
	struct fixture *fx = fixture_new(NULL);
	struct zt_flow_key k = key(IPPROTO_TCP, 40000, 8443);
	json_object *o;

	(void)state;
	assert_int_equal(pkt(fx, &k, TO, 60, ZT_TCP_SYN, T0), 1);
	assert_int_equal(pkt(fx, &k, FROM, 40, ZT_TCP_RST | ZT_TCP_ACK, T0 + 3), 0);
	assert_int_equal(nlines(fx), 2);
	o = line(fx, 1);
	expect_str(o, "event", "connection_end");
	expect_str(o, "status", "CONNECTION_FAILED");
	expect_int(o, "duration_ms", 3);
	expect_counters(o, 1, 60, 1, 40);
	fixture_free(fx);
}

static void test_tcp_syn_unanswered_times_out(void **state)
{
	struct zt_flows_cfg cfg = { .connector = "c1", .tcp_syn_ms = 30000 };
	struct fixture *fx = fixture_new(&cfg);
	struct zt_flow_key k = key(IPPROTO_TCP, 40001, 445);
	json_object *o;

	(void)state;
	assert_int_equal(pkt(fx, &k, TO, 60, ZT_TCP_SYN, T0), 1);
	assert_int_equal(pkt(fx, &k, TO, 60, ZT_TCP_SYN, T0 + 1000), 0);	/* retransmitted */
	assert_int_equal(zt_flows_next_deadline(fx->t), T0 + 31000);
	assert_int_equal(zt_flows_expire(fx->t, T0 + 30999), 0);
	assert_int_equal(nlines(fx), 1);
	assert_int_equal(zt_flows_expire(fx->t, T0 + 31000), 1);
	assert_int_equal(nlines(fx), 2);
	o = line(fx, 1);
	expect_str(o, "status", "CONNECTION_FAILED");
	expect_str(o, "time", "2023-11-14T22:13:51.000Z");
	expect_int(o, "duration_ms", 1000);
	expect_counters(o, 2, 120, 0, 0);
	assert_int_equal(zt_flows_count(fx->t), 0);
	assert_int_equal(zt_flows_next_deadline(fx->t), UINT64_MAX);
	fixture_free(fx);
}

/* A SYN answered by an ICMP error (port unreachable from a firewall, say). */
static void test_tcp_syn_answered_by_icmp_error(void **state)
{
	struct fixture *fx = fixture_new(NULL);
	struct zt_flow_key k = key(IPPROTO_TCP, 40002, 3389);

	(void)state;
	assert_int_equal(pkt(fx, &k, TO, 60, ZT_TCP_SYN, T0), 1);
	assert_int_equal(pkt(fx, &k, FROM, 88, ZT_FLOW_ICMP_ERROR, T0 + 5), 0);
	assert_int_equal(nlines(fx), 2);
	expect_str(line(fx, 1), "status", "CONNECTION_FAILED");
	fixture_free(fx);
}

/* Established TCP idles out after its own (configurable) timeout. */
static void test_tcp_idle_timeout(void **state)
{
	struct zt_flows_cfg cfg = { .connector = "c1", .tcp_idle_ms = 60000 };
	struct fixture *fx = fixture_new(&cfg);
	struct zt_flow_key k = key(IPPROTO_TCP, 40003, 80);

	(void)state;
	pkt(fx, &k, TO, 60, ZT_TCP_SYN, T0);
	pkt(fx, &k, FROM, 60, ZT_TCP_SYN | ZT_TCP_ACK, T0 + 1);
	pkt(fx, &k, TO, 52, ZT_TCP_ACK, T0 + 2);
	assert_int_equal(zt_flows_expire(fx->t, T0 + 30000), 0);	/* not the SYN timeout any more */
	assert_int_equal(zt_flows_expire(fx->t, T0 + 60001), 0);
	assert_int_equal(zt_flows_expire(fx->t, T0 + 60002), 1);
	expect_str(line(fx, 1), "status", "NORMAL");
	expect_int(line(fx, 1), "duration_ms", 2);
	fixture_free(fx);
}

static void test_udp_idle_end(void **state)
{
	struct fixture *fx = fixture_new(NULL);
	struct zt_flow_key k = key(IPPROTO_UDP, 53000, 53);
	json_object *o;

	(void)state;
	assert_int_equal(pkt(fx, &k, TO, 70, 0, T0), 1);
	assert_int_equal(pkt(fx, &k, FROM, 120, 0, T0 + 20), 0);
	assert_int_equal(pkt(fx, &k, TO, 71, 0, T0 + 10000), 0);
	assert_int_equal(pkt(fx, &k, FROM, 121, 0, T0 + 10020), 0);
	assert_int_equal(zt_flows_next_deadline(fx->t), T0 + 10020 + 30000);
	assert_int_equal(zt_flows_expire(fx->t, T0 + 40019), 0);
	assert_int_equal(zt_flows_expire(fx->t, T0 + 40020), 1);
	assert_int_equal(nlines(fx), 2);
	o = line(fx, 1);
	expect_str(o, "protocol", "udp");
	expect_int(o, "port", 53);
	expect_str(o, "status", "NORMAL");
	expect_int(o, "duration_ms", 10020);
	expect_counters(o, 2, 141, 2, 241);
	fixture_free(fx);
}

/*
 * A controller's device: its identity in every line of its flows, kept by
 * the flow after the caller dropped it; the device revoked: its open flows
 * end REVOKED at once, another device's stay.
 */
static void test_identity_and_revoked(void **state)
{
	struct fixture *fx = fixture_new(NULL);
	struct zt_flow_key k = key(IPPROTO_TCP, 40000, 8080), other = key(IPPROTO_UDP, 53000, 53);
	json_object *ident = json_object_new_object(), *o;

	(void)state;
	json_object_object_add(ident, "device_id", json_object_new_int(12));
	json_object_object_add(ident, "user", json_object_new_string("ann@example.com"));
	zt_flows_set_names(fx->t, "office-gw", "office");
	fx->meta.ident = ident;
	assert_int_equal(pkt(fx, &k, TO, 60, ZT_TCP_SYN, T0), 1);
	fx->meta.ident = NULL;
	json_object_put(ident);		/* the flow holds its own reference */
	other.device_id = 8;
	assert_int_equal(pkt(fx, &other, TO, 70, 0, T0 + 5), 1);
	o = line(fx, 0);
	expect_str(o, "user", "ann@example.com");
	expect_int(o, "device_id", 12);
	expect_str(o, "connector", "office-gw");
	expect_str(o, "remote_network", "office");
	expect_absent(line(fx, 1), "user");
	assert_int_equal(zt_flows_end_device(fx->t, 7, T0 + 100), 1);
	assert_int_equal(nlines(fx), 3);
	o = line(fx, 2);
	expect_str(o, "event", "connection_end");
	expect_str(o, "status", "REVOKED");
	expect_str(o, "user", "ann@example.com");
	assert_int_equal(zt_flows_count(fx->t), 1);
	assert_int_equal(zt_flows_device_count(fx->t, 7), 0);
	fixture_free(fx);
}

/* UDP to a closed port: only ICMP port unreachable comes back. */
static void test_udp_only_icmp_errors_failed(void **state)
{
	struct fixture *fx = fixture_new(NULL);
	struct zt_flow_key k = key(IPPROTO_UDP, 53001, 9999), k2 = key(IPPROTO_UDP, 53002, 7);

	(void)state;
	pkt(fx, &k, TO, 40, 0, T0);
	pkt(fx, &k, FROM, 68, ZT_FLOW_ICMP_ERROR, T0 + 1);
	/* A flow with a real answer and an error is NORMAL. */
	pkt(fx, &k2, TO, 40, 0, T0);
	pkt(fx, &k2, FROM, 40, 0, T0 + 1);
	pkt(fx, &k2, FROM, 68, ZT_FLOW_ICMP_ERROR, T0 + 2);
	assert_int_equal(zt_flows_expire(fx->t, T0 + 60000), 2);
	assert_int_equal(nlines(fx), 4);
	expect_str(line(fx, 2), "status", "CONNECTION_FAILED");
	expect_int(line(fx, 2), "port", 9999);
	expect_str(line(fx, 3), "status", "NORMAL");
	fixture_free(fx);
}

static void test_icmp_echo_flow(void **state)
{
	struct fixture *fx = fixture_new(NULL);
	struct zt_flow_key k = key(IPPROTO_ICMP, 0x1234, 0x1234), other = k;

	(void)state;
	other.sport = other.dport = 0x1235;
	assert_int_equal(pkt(fx, &k, TO, 84, 0, T0), 1);
	assert_int_equal(pkt(fx, &k, FROM, 84, 0, T0 + 1), 0);
	assert_int_equal(pkt(fx, &k, TO, 84, 0, T0 + 1000), 0);
	assert_int_equal(pkt(fx, &other, TO, 84, 0, T0 + 1000), 1);	/* another ping */
	expect_str(line(fx, 0), "protocol", "icmp");
	assert_null(field(line(fx, 0), "port"));
	assert_int_equal(zt_flows_expire(fx->t, T0 + 31000), 2);
	expect_counters(line(fx, 2), 2, 168, 1, 84);
	fixture_free(fx);
}

/* Replies with no flow are not tracked; a device's flows are its own. */
static void test_untracked_and_keys(void **state)
{
	struct fixture *fx = fixture_new(NULL);
	struct zt_flow_key k = key(IPPROTO_TCP, 1, 2), k2 = k;
	json_object *stats = json_object_new_object(), *s;

	(void)state;
	assert_int_equal(pkt(fx, &k, FROM, 40, ZT_TCP_ACK, T0), -ENOENT);
	assert_int_equal(nlines(fx), 0);
	assert_int_equal(pkt(fx, &k, TO, 60, ZT_TCP_SYN, T0), 1);
	k2.device_id = 8;
	assert_int_equal(pkt(fx, &k2, TO, 60, ZT_TCP_SYN, T0), 1);
	k2 = k;
	inet_pton(AF_INET, "10.10.0.6", &k2.dst);
	assert_int_equal(pkt(fx, &k2, TO, 60, ZT_TCP_SYN, T0), 1);
	k2 = k;
	k2.proto = IPPROTO_UDP;
	assert_int_equal(pkt(fx, &k2, TO, 60, 0, T0), 1);
	assert_int_equal(zt_flows_count(fx->t), 4);
	zt_flows_stats(fx->t, stats);
	assert_true(json_object_object_get_ex(stats, "flows", &s));
	expect_int(s, "active", 4);
	expect_int(s, "started", 4);
	expect_int(s, "untracked", 1);
	expect_int(s, "table_full", 0);
	json_object_put(stats);
	fixture_free(fx);
}

static void test_table_full(void **state)
{
	struct zt_flows_cfg cfg = { .connector = "c1", .max_flows = 4 };
	struct fixture *fx = fixture_new(&cfg);
	json_object *stats = json_object_new_object(), *s;
	struct zt_flow_key k[6];
	int i;

	(void)state;
	for (i = 0; i < 6; i++)
		k[i] = key(IPPROTO_UDP, (uint16_t)(1000 + i), 53);
	for (i = 0; i < 4; i++)
		assert_int_equal(pkt(fx, &k[i], TO, 50, 0, T0 + (uint64_t)i), 1);
	assert_int_equal(pkt(fx, &k[4], TO, 50, 0, T0 + 10), -ENOSPC);
	assert_int_equal(pkt(fx, &k[4], TO, 50, 0, T0 + 11), -ENOSPC);
	assert_int_equal(nlines(fx), 4);
	/* Flows already tracked still count. */
	assert_int_equal(pkt(fx, &k[0], TO, 50, 0, T0 + 12), 0);
	zt_flows_stats(fx->t, stats);
	assert_true(json_object_object_get_ex(stats, "flows", &s));
	expect_int(s, "table_full", 2);
	expect_int(s, "active", 4);
	json_object_put(stats);

	/* Room again once flows expire (k[1] first: the oldest). */
	assert_int_equal(zt_flows_expire(fx->t, T0 + 1 + 30000), 1);
	expect_int(line(fx, 4), "port", 53);
	assert_int_equal(pkt(fx, &k[4], TO, 50, 0, T0 + 30002), 1);

	/* An ended TCP flow that lingers gives way to a new one. */
	fixture_free(fx);
	fx = fixture_new(&cfg);
	for (i = 0; i < 3; i++)
		assert_int_equal(pkt(fx, &k[i], TO, 50, 0, T0), 1);
	k[3].proto = IPPROTO_TCP;
	assert_int_equal(pkt(fx, &k[3], TO, 60, ZT_TCP_SYN, T0), 1);
	assert_int_equal(pkt(fx, &k[3], FROM, 40, ZT_TCP_RST, T0 + 1), 0);
	assert_int_equal(zt_flows_count(fx->t), 3);
	assert_int_equal(pkt(fx, &k[4], TO, 50, 0, T0 + 2), 1);
	assert_int_equal(pkt(fx, &k[5], TO, 50, 0, T0 + 3), -ENOSPC);
	fixture_free(fx);
}

static void test_denied_and_dns_error_records(void **state)
{
	struct fixture *fx = fixture_new(NULL);
	struct zt_flow_key k = key(IPPROTO_TCP, 40100, 23);
	json_object *o;

	(void)state;
	zt_flows_log_denied(fx->t, &k, &fx->meta, 60, T0 + 5);
	assert_int_equal(nlines(fx), 1);
	o = line(fx, 0);
	expect_str(o, "event", "connection_end");
	expect_str(o, "status", "DENIED");
	expect_str(o, "device", "laptop-ann");
	expect_str(o, "resolved_ip", "10.10.0.5");
	expect_int(o, "port", 23);
	expect_int(o, "duration_ms", 0);
	expect_counters(o, 1, 60, 0, 0);
	expect_str(o, "time", "2023-11-14T22:13:20.005Z");

	zt_flows_log_dns_error(fx->t, NULL, &fx->meta, "nas.home.int", "NXDOMAIN", T0 + 6);
	o = line(fx, 1);
	expect_str(o, "status", "DNS_ERROR");
	expect_str(o, "resource", "nas");
	expect_str(o, "name", "nas.home.int");
	expect_str(o, "error", "NXDOMAIN");
	expect_str(o, "resolved_ip", NULL);
	expect_str(o, "protocol", NULL);
	assert_null(field(o, "port"));
	expect_counters(o, 0, 0, 0, 0);

	/* Neither is a flow. */
	assert_int_equal(zt_flows_count(fx->t), 0);
	assert_int_equal(zt_flows_next_deadline(fx->t), UINT64_MAX);
	fixture_free(fx);
}

/* IPv6 tunnel endpoints print bracketed; an unknown endpoint is null. */
static void test_endpoints(void **state)
{
	struct fixture *fx = fixture_new(NULL);
	struct zt_flow_key k = key(IPPROTO_UDP, 1, 2);
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(4500) };

	(void)state;
	inet_pton(AF_INET6, "2001:db8::7", &s6.sin6_addr);
	fx->meta.client_endpoint = (struct sockaddr *)&s6;
	pkt(fx, &k, TO, 40, 0, T0);
	expect_str(line(fx, 0), "client_endpoint", "[2001:db8::7]:4500");
	fx->meta.client_endpoint = NULL;
	fx->meta.resource = NULL;
	k.sport = 3;
	pkt(fx, &k, TO, 40, 0, T0);
	expect_str(line(fx, 1), "client_endpoint", NULL);
	expect_str(line(fx, 1), "resource", NULL);
	fixture_free(fx);
}

/* Many flows: each found again (hash chains right), all end on expiry or shutdown. */
static void test_many_flows(void **state)
{
	struct fixture *fx = fixture_new(NULL);
	int i;

	(void)state;
	for (i = 0; i < 20000; i++) {
		struct zt_flow_key k = key(i % 2 ? IPPROTO_UDP : IPPROTO_TCP, (uint16_t)i, 443);

		k.device_id = (uint32_t)(i % 7);
		assert_int_equal(pkt(fx, &k, TO, 100, ZT_TCP_ACK, T0 + (uint64_t)i), 1);
	}
	for (i = 0; i < 20000; i++) {
		struct zt_flow_key k = key(i % 2 ? IPPROTO_UDP : IPPROTO_TCP, (uint16_t)i, 443);

		k.device_id = (uint32_t)(i % 7);
		assert_int_equal(pkt(fx, &k, FROM, 200, ZT_TCP_ACK, T0 + 20000 + (uint64_t)i), 0);
	}
	assert_int_equal(zt_flows_count(fx->t), 20000);
	/* The UDP half idles out; TCP stays. */
	assert_int_equal(zt_flows_expire(fx->t, T0 + 40000 + 30000), 10000);
	assert_int_equal(zt_flows_end_all(fx->t, T0 + 80000), 10000);
	assert_int_equal(nlines(fx), 40000);
	expect_counters(line(fx, 39999), 1, 100, 1, 200);
	assert_int_equal(zt_flows_count(fx->t), 0);
	fixture_free(fx);
}

/* A7: one device at its quota cannot take the room another device needs. */
static void test_device_quota(void **state)
{
	struct zt_flows_cfg cfg = { .connector = "c1", .max_flows = 8, .max_per_device = 3 };
	struct fixture *fx = fixture_new(&cfg);
	json_object *stats = json_object_new_object(), *s;
	struct zt_flow_key k;
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		k = key(IPPROTO_UDP, (uint16_t)(2000 + i), 53);
		assert_int_equal(pkt(fx, &k, TO, 50, 0, T0), 1);
	}
	/* The noisy device is at its quota: its new flows are refused... */
	for (i = 3; i < 20; i++) {
		k = key(IPPROTO_UDP, (uint16_t)(2000 + i), 53);
		assert_int_equal(pkt(fx, &k, TO, 50, 0, T0 + 1), -ENOSPC);
	}
	assert_int_equal(zt_flows_device_count(fx->t, 7), 3);
	/* ...its running flows still count... */
	k = key(IPPROTO_UDP, 2000, 53);
	assert_int_equal(pkt(fx, &k, TO, 50, 0, T0 + 2), 0);
	/* ...and every other device still gets the table's room. */
	for (i = 0; i < 5; i++) {
		k = key(IPPROTO_UDP, 3000, 53);
		k.device_id = (uint32_t)(8 + i);
		assert_int_equal(pkt(fx, &k, TO, 50, 0, T0 + 3), 1);
	}
	zt_flows_stats(fx->t, stats);
	assert_true(json_object_object_get_ex(stats, "flows", &s));
	expect_int(s, "device_full", 17);
	expect_int(s, "table_full", 0);
	json_object_put(stats);
	/* Its quota comes back as its flows end. */
	assert_int_equal(zt_flows_expire(fx->t, T0 + 1 + 30000), 2);
	assert_int_equal(zt_flows_device_count(fx->t, 7), 1);
	k = key(IPPROTO_UDP, 2100, 53);
	assert_int_equal(pkt(fx, &k, TO, 50, 0, T0 + 30002), 1);
	fixture_free(fx);
}

/* A7: flows expected to be denied hold their entry only briefly, unless answered. */
static void test_probation(void **state)
{
	struct zt_flows_cfg cfg = { .connector = "c1", .probation_ms = 2000 };
	struct fixture *fx = fixture_new(&cfg);
	struct zt_flow_key u = key(IPPROTO_UDP, 4000, 53), t = key(IPPROTO_TCP, 4001, 22);
	struct zt_flow_key a = key(IPPROTO_UDP, 4002, 53);

	(void)state;
	assert_int_equal(pkt(fx, &u, TO, 50, ZT_FLOW_PROBATION, T0), 1);
	assert_int_equal(pkt(fx, &t, TO, 60, ZT_TCP_SYN | ZT_FLOW_PROBATION, T0), 1);
	assert_int_equal(pkt(fx, &a, TO, 50, ZT_FLOW_PROBATION, T0), 1);
	/* An answer proves the classifier let it through: the usual idle timeout. */
	assert_int_equal(pkt(fx, &a, FROM, 80, 0, T0 + 100), 0);
	assert_int_equal(zt_flows_next_deadline(fx->t), T0 + 2000);
	assert_int_equal(zt_flows_expire(fx->t, T0 + 2000), 2);
	assert_int_equal(zt_flows_count(fx->t), 1);
	assert_int_equal(zt_flows_device_count(fx->t, 7), 1);
	expect_str(line(fx, 3), "event", "connection_end");
	assert_int_equal(zt_flows_expire(fx->t, T0 + 100 + 29999), 0);
	assert_int_equal(zt_flows_expire(fx->t, T0 + 100 + 30000), 1);
	assert_int_equal(zt_flows_device_count(fx->t, 7), 0);
	fixture_free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_fin_both_ways),
		cmocka_unit_test(test_tcp_port_reuse_during_linger),
		cmocka_unit_test(test_tcp_syn_answered_by_rst),
		cmocka_unit_test(test_tcp_syn_unanswered_times_out),
		cmocka_unit_test(test_tcp_syn_answered_by_icmp_error),
		cmocka_unit_test(test_tcp_idle_timeout),
		cmocka_unit_test(test_udp_idle_end),
		cmocka_unit_test(test_udp_only_icmp_errors_failed),
		cmocka_unit_test(test_icmp_echo_flow),
		cmocka_unit_test(test_untracked_and_keys),
		cmocka_unit_test(test_table_full),
		cmocka_unit_test(test_denied_and_dns_error_records),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_many_flows),
		cmocka_unit_test(test_device_quota),
		cmocka_unit_test(test_probation),
		cmocka_unit_test(test_identity_and_revoked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
