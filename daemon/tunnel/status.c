// SPDX-License-Identifier: GPL-2.0-only
/* The tunnel's counters as JSON, for `ztgate stats` on clients and connectors. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

#include "tunnel/keys.h"
#include "lib/log.h"
#include "tunnel/status.h"

#define PUT(o, s, f) json_object_object_add(o, #f, json_object_new_int64((int64_t)(s)->f))

json_object *zt_tunnel_stats_json(const struct zt_tunnel *t)
{
	struct zt_tunnel_stats st;
	json_object *o = json_object_new_object();

	zt_tunnel_stats(t, &st);
	json_object_object_add(o, "port", json_object_new_int(zt_tunnel_local_port(t)));
	PUT(o, &st, rx_datagrams); PUT(o, &st, tx_datagrams); PUT(o, &st, tx_errors);
	PUT(o, &st, rx_malformed); PUT(o, &st, rx_bad_mac1); PUT(o, &st, rx_handshake_failed);
	PUT(o, &st, rx_unknown_key); PUT(o, &st, rx_initiation_replay);
	PUT(o, &st, rx_unknown_index); PUT(o, &st, rx_replay); PUT(o, &st, rx_bad_tag);
	PUT(o, &st, rx_expired); PUT(o, &st, rx_bad_cookie); PUT(o, &st, handshake_dh);
	PUT(o, &st, cookie_replies_sent); PUT(o, &st, mac2_accepted);
	PUT(o, &st, tx_gso_sends); PUT(o, &st, rx_gro_messages);
	PUT(o, &st, rx_other); PUT(o, &st, rx_relayed); PUT(o, &st, tx_relayed);
	PUT(o, &st, rx_ratelimited); PUT(o, &st, rx_initiation_flood);
	PUT(o, &st, rx_relayed_mismatch);
	return o;
}

void zt_sockaddr_format(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		/* A v4-mapped peer on a dual-stack socket reads as plain IPv4. */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			inet_ntop(AF_INET, sin6->sin6_addr.s6_addr + 12, host, sizeof(host));
			snprintf(buf, len, "%s:%u", host, ntohs(sin6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
			snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
		}
	} else {
		snprintf(buf, len, "%s", "");
	}
}

json_object *zt_tunnel_peer_json(const char *name, const struct zt_tunnel_peer *p)
{
	struct zt_tunnel_peer_stats st;
	json_object *o = json_object_new_object();
	char buf[64], key[ZT_KEY_B64_LEN + 1];

	json_object_object_add(o, "name", json_object_new_string(name));
	if (!p)
		return o;
	zt_key_to_base64(zt_tunnel_peer_key(p), key);
	json_object_object_add(o, "pubkey", json_object_new_string(key));
	zt_tunnel_peer_stats(p, &st);
	zt_sockaddr_format(&st.endpoint, buf, sizeof(buf));
	json_object_object_add(o, "endpoint", json_object_new_string(buf));
	json_object_object_add(o, "session_up", json_object_new_boolean(st.session_up));
	if (st.last_handshake_ns) {
		zt_format_time(st.last_handshake_ns, buf, sizeof(buf));
		json_object_object_add(o, "last_handshake", json_object_new_string(buf));
	}
	PUT(o, &st, handshakes); PUT(o, &st, initiations_sent); PUT(o, &st, rx_packets);
	PUT(o, &st, rx_bytes); PUT(o, &st, tx_packets); PUT(o, &st, tx_bytes);
	PUT(o, &st, rx_keepalives); PUT(o, &st, tx_keepalives); PUT(o, &st, cookie_replies_received);
	PUT(o, &st, queue_dropped); PUT(o, &st, queued);
	return o;
}
