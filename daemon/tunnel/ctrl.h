/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Control messages inside the tunnel (docs/TUNNEL.md): a transport payload
 * whose first byte is below ZT_CTRL_MAX (an IP packet starts with 0x4_ or
 * 0x6_). Built and parsed with the offsets below by the client
 * (roles/forward/client.c: bind, bind-ack), the connector (roles/connector.c)
 * and the path manager (path/paths.c: candidates, probes; docs/RELAY.md):
 *   bind       0x01, fake IPv4 (4 bytes, network order), name length (1), name
 *   bind-ack   0x02, fake IPv4 (4 bytes), status (1): ZT_BIND_*
 *   candidates 0x03, n (1), n x (family (1): 4 or 6, port (2, big-endian),
 *              address (16): IPv6 or IPv4-mapped)
 *   probe      0x04, id (8, opaque)
 *   probe-ack  0x05, the probe's id (8)
 *   primed     0x06, flags (1): ZT_PRIMED_ASK. "My NAT is open toward your
 *              candidates (or I have none): probe me"; ASK: "and tell me
 *              when yours is" (docs/RELAY.md "Opening our own NAT first")
 */
#ifndef ZT_TUNNEL_CTRL_H
#define ZT_TUNNEL_CTRL_H

#define ZT_CTRL_BIND		0x01
#define ZT_CTRL_BIND_ACK	0x02
#define ZT_CTRL_CANDIDATES	0x03
#define ZT_CTRL_PROBE		0x04
#define ZT_CTRL_PROBE_ACK	0x05
#define ZT_CTRL_PRIMED		0x06
#define ZT_CTRL_MAX		0x40	/* first bytes below this are control */

#define ZT_CTRL_OFF_TYPE	0	/* every message: its type */

/* bind and bind-ack */
#define ZT_BIND_OK		0
#define ZT_BIND_DNS_ERROR	1
#define ZT_BIND_DENIED		2

#define ZT_BIND_OFF_FAKE	1	/* 4 bytes, network order: both messages */
#define ZT_BIND_OFF_NAME_LEN	5
#define ZT_BIND_HDR_LEN		6	/* before the name */
#define ZT_BIND_NAME_MAX	255	/* what the length byte can say */
#define ZT_BIND_ACK_OFF_STATUS	5
#define ZT_BIND_ACK_LEN		6

/* candidates: a header, then each candidate */
#define ZT_CANDIDATES_OFF_COUNT	1
#define ZT_CANDIDATES_HDR_LEN	2
#define ZT_CANDIDATE_OFF_FAMILY	0	/* 4 or 6 */
#define ZT_CANDIDATE_OFF_PORT	1	/* 2 bytes, network order */
#define ZT_CANDIDATE_OFF_ADDR	3	/* 16 bytes; IPv4 mapped: the last 4 */
#define ZT_CANDIDATE_ADDR_V4	(ZT_CANDIDATE_OFF_ADDR + 12)
#define ZT_CANDIDATE_LEN	19

/* probe and probe-ack */
#define ZT_PROBE_OFF_ID		1
#define ZT_PROBE_ID_LEN		8
#define ZT_PROBE_LEN		9
#define ZT_PRIMED_LEN		2
#define ZT_PRIMED_ASK		0x01

_Static_assert(ZT_BIND_HDR_LEN == ZT_BIND_OFF_NAME_LEN + 1, "bind: the name follows its length");
_Static_assert(ZT_BIND_ACK_LEN == ZT_BIND_ACK_OFF_STATUS + 1, "bind-ack: ends with its status");
_Static_assert(ZT_CANDIDATE_LEN == ZT_CANDIDATE_OFF_ADDR + 16, "candidate: ends with its address");
_Static_assert(ZT_PROBE_LEN == ZT_PROBE_OFF_ID + ZT_PROBE_ID_LEN, "probe: type and id");

#endif
