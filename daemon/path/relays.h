/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `--relay HOST:PORT` and `--relay-tcp HOST:PORT` of a tunnel peer (client
 * or connector): one zt_relay_client per relay, sharing the tunnel's UDP
 * socket (or its own TCP connection), plugged into the peer's paths
 * (paths.h) so that relayed datagrams reach the tunnel and the tunnel's
 * relayed sends reach the relays. The public endpoint a UDP relay observed
 * becomes one of our candidates.
 *
 * Single-threaded, on the loop.
 */
#ifndef ZT_PATH_RELAYS_H
#define ZT_PATH_RELAYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "lib/loop.h"
#include "path/paths.h"
#include "relay/client.h"
#include "tunnel/tunnel.h"

/* Inner MTU with relays: a relayed datagram (1380 + 32 + 36) fits 1500 bytes (docs/RELAY.md). */
#define ZT_RELAYED_TUNNEL_MTU	1380

struct zt_path_relay_spec {
	const char *relay;	/* "host:port" or "[v6]:port"; kept by pointer (argv) */
	bool tcp;
};

struct zt_path_relays;

/*
 * Open a client for each of the N relays in SPECS, UDP ones first, and
 * add them to PS in that order. PRIVATE_KEY is the tunnel's (copied, kept
 * for the relays zt_path_relays_update opens, wiped at close). 0 with *OUT
 * (N may be 0: an empty set), or -errno with ERR.
 */
int zt_path_relays_open(struct zt_loop *loop, struct zt_tunnel *t, struct zt_paths *ps,
			const uint8_t private_key[ZT_RELAY_KEY_LEN],
			const struct zt_path_relay_spec *specs, size_t n,
			struct zt_path_relays **out, char *err, size_t errlen);
/* Is SPEC's relay (name and transport) open in RS? */
bool zt_path_relays_has(const struct zt_path_relays *rs, const struct zt_path_relay_spec *spec);
/*
 * Make RS's relays exactly SPECS (a controller's view changed them): those
 * not named any more are closed (their peers move to another relay or,
 * with none left, to their endpoint: zt_paths_remove_relay), the new ones
 * opened with our key and the accept list last set; the others, and the
 * paths through them, untouched. 0, or -errno with ERR (an added relay that
 * could not open: the others stay as they are).
 */
int zt_path_relays_update(struct zt_path_relays *rs, const struct zt_path_relay_spec *specs,
			  size_t n, char *err, size_t errlen);
/* Close every client. NULL is fine. */
void zt_path_relays_close(struct zt_path_relays *rs);
/* The keys we accept through the relays (a client: its connectors; a connector: its devices); kept for relays added later. */
int zt_path_relays_set_accept(struct zt_path_relays *rs, const uint8_t (*keys)[ZT_RELAY_KEY_LEN],
			      size_t n);
size_t zt_path_relays_count(const struct zt_path_relays *rs);
/* [{"relay", "transport", "registered", "observed", "rtt_ms", tx/rx counters}] for `ztgate status`. */
json_object *zt_path_relays_json(const struct zt_path_relays *rs);

#endif
