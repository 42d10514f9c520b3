/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A peer's side of one relay (docs/RELAY.md): registration with its accept
 * list, keepalives, sending tunnel datagrams to another peer through the
 * relay and receiving theirs, and the public endpoint the relay observed.
 *
 * Over UDP the client does not own a socket: it shares the tunnel's, so
 * that the relay observes the same NAT mapping the peers will punch. The
 * tunnel hands it every datagram from the relay's address that is not a
 * tunnel message (zt_relay_client_input), and it sends through the
 * caller's SEND function. Over TCP it owns its connection (on the loop),
 * reconnecting with backoff.
 *
 * This header is the contract between the relay's implementation and the
 * peers' path logic (daemon/path/paths.c). Single-threaded, on the loop.
 */
#ifndef ZT_RELAY_CLIENT_H
#define ZT_RELAY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/loop.h"

#define ZT_RELAY_KEY_LEN 32

struct zt_relay_client;

/* Send DATAGRAM to the relay at DST over the shared UDP socket. 0 or -errno. */
typedef int (*zt_relay_udp_send_fn)(void *ctx, const uint8_t *datagram, size_t len,
				    const struct sockaddr_storage *dst);

struct zt_relay_client_cfg {
	const char *relay;			/* "host:port" or "[v6]:port" */
	bool tcp;				/* use the relay's TCP port (the relay's --tcp-listen) */
	uint8_t private_key[ZT_RELAY_KEY_LEN];	/* our static key (the tunnel's) */
	zt_relay_udp_send_fn udp_send;		/* UDP: how to send on the tunnel's socket */
	void *udp_send_ctx;
};

struct zt_relay_client_ops {
	/* A tunnel datagram from the peer with key SRC, through this relay.
	 * DATAGRAM points into the client's input buffer: valid during the call only. */
	void (*recv)(void *ctx, struct zt_relay_client *rc, const uint8_t src[ZT_RELAY_KEY_LEN],
		     uint8_t *datagram, size_t len);
	/* Registered (again): OBSERVED is our endpoint as the relay sees it (UDP: our public mapping).
	 * Called on each (re-)registration and when a keepalive's answer shows a new
	 * mapping, not on every keepalive. */
	void (*registered)(void *ctx, struct zt_relay_client *rc,
			   const struct sockaddr_storage *observed);
	/* The relay stopped answering (registration expired, TCP connection lost). May be NULL. */
	void (*lost)(void *ctx, struct zt_relay_client *rc);
};

struct zt_relay_client_stats {
	bool registered;
	struct sockaddr_storage relay;		/* resolved address of the relay */
	struct sockaddr_storage observed;	/* our endpoint as the relay saw it */
	uint64_t rtt_us;			/* of the last register/keepalive round trip */
	uint64_t tx_packets, tx_bytes;		/* datagrams sent through the relay */
	uint64_t rx_packets, rx_bytes;
	uint64_t errors;			/* error messages from the relay */
	uint64_t rx_not_accepted;		/* recv from a key not on our accept list: dropped */
	uint64_t rx_spoofed;			/* challenges naming another key than the pinned relay's */
};

/*
 * A relay's address "HOST:PORT" / "[IPv6]:PORT" (HOST a name or an IP, PORT
 * 1..65535) into HOST and PORT: 0 or -EINVAL. The one parser of a relay's
 * address: the relay client's, and the controller's for --relay and relay
 * objects (controller/relays.c).
 */
int zt_relay_split_host_port(const char *text, char *host, size_t hostlen, char *port,
			     size_t portlen);

int zt_relay_client_open(struct zt_loop *loop, const struct zt_relay_client_cfg *cfg,
			 const struct zt_relay_client_ops *ops, void *ctx,
			 struct zt_relay_client **out, char *err, size_t errlen);
void zt_relay_client_close(struct zt_relay_client *rc);

/* The keys we accept traffic from (replaces the list; re-registers). 0 or -errno. */
int zt_relay_client_set_accept(struct zt_relay_client *rc, const uint8_t (*keys)[ZT_RELAY_KEY_LEN],
			       size_t n);

/* Send a tunnel datagram to the peer with key DST through the relay. 0 or -errno (-ENOTCONN: not registered yet). */
int zt_relay_client_send(struct zt_relay_client *rc, const uint8_t dst[ZT_RELAY_KEY_LEN],
			 const uint8_t *datagram, size_t len);

/*
 * UDP: is a datagram from SRC (not a tunnel message: first byte 0x10-0x1f,
 * or STUN) this relay's? zt_relay_client_input() then takes it.
 */
bool zt_relay_client_owns(const struct zt_relay_client *rc, const struct sockaddr *src,
			  socklen_t srclen);
void zt_relay_client_input(struct zt_relay_client *rc, uint8_t *datagram, size_t len);

void zt_relay_client_stats(const struct zt_relay_client *rc, struct zt_relay_client_stats *st);

#endif
