/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Control messages inside the tunnel (docs/TUNNEL.md): a transport payload
 * whose first byte is below 0x40 (an IP packet starts with 0x4_ or 0x6_).
 *   bind      0x01, fake IPv4 (4 bytes, network order), name length (1), name
 *   bind-ack  0x02, fake IPv4 (4 bytes), status (1): ZT_BIND_*
 * and the path messages of docs/RELAY.md (daemon/paths.c):
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

#define ZT_BIND_OK		0
#define ZT_BIND_DNS_ERROR	1
#define ZT_BIND_DENIED		2

#define ZT_BIND_ACK_LEN		6
#define ZT_BIND_HDR_LEN		6	/* before the name */

#define ZT_CANDIDATE_LEN	19
#define ZT_CANDIDATES_HDR_LEN	2
#define ZT_PROBE_LEN		9
#define ZT_PRIMED_LEN		2
#define ZT_PRIMED_ASK		0x01

#endif
