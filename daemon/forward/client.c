// SPDX-License-Identifier: GPL-2.0-only
/*
 * The client's side of the tunnel: allowed packets read from the TUN go
 * to the connector that serves their resource, encrypted (tunnel.h); what
 * comes back goes into the TUN if it is a reply from one of that
 * connector's resources to our tunnel address.
 *
 * A fake IP means nothing to the connector until we say which name it
 * stands for: before the first packet to a fake IP on each session, a bind
 * message (docs/TUNNEL.md) travels ahead of it in the same batch; the
 * connector resolves the name and holds the packet meanwhile. A bind is
 * resent with the next packet until the connector acknowledges it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/mem.h>

#include "lib/clock.h"
#include "forward/bind_msg.h"
#include "forward/client.h"
#include "dns/codec.h"
#include "tunnel/keys.h"
#include "lib/log.h"
#include "path/relays.h"
#include "path/paths.h"
#include "tunnel/tunnel.h"
#include "tunnel/ctrl.h"
#include "tunnel/status.h"

#define BIND_RESEND_NS	(200 * 1000000ull)	/* unacknowledged: resend at most this often */

/* One fake IP as the tunnel to one connector knows it. */
struct sent_bind {
	struct in_addr fake;
	uint64_t sent_ns;	/* last sent; 0: not on this session */
	uint8_t status;		/* ZT_BIND_* from the ack; 0xff: none yet */
};

struct ct_peer {
	char name[ZT_NAME_MAX];		/* the connector's */
	uint8_t pubkey[ZT_KEY_LEN];
	struct zt_endpoint endpoint;	/* family 0: none, relays only */
	bool endpoint_changed;		/* by this sync */
	struct zt_tunnel_peer *peer;
	struct sent_bind *binds;
	size_t nbinds;
};

struct zt_client_tunnel {
	struct zt_loop *loop;
	const struct zt_policy *policy;
	struct zt_tun *tun;
	struct zt_fakeip *pool;
	struct zt_prefix fake_range;
	struct in_addr address;		/* ours inside the tunnel */
	struct zt_prefix own[2];	/* the fake range and our address: never a path to a connector */
	struct zt_tunnel *tunnel;
	struct zt_paths *paths;		/* direct or relayed, per connector */
	struct zt_path_relays *relays;	/* --relay, --relay-tcp */
	struct ct_peer *peers;
	size_t npeers;
	struct zt_client_tunnel_stats st;
};

static struct ct_peer *peer_by_name(struct zt_client_tunnel *ct, const char *name)
{
	for (size_t i = 0; i < ct->npeers; i++)
		if (!strcmp(ct->peers[i].name, name))
			return &ct->peers[i];
	return NULL;
}

static bool in_prefix(const struct zt_prefix *p, struct in_addr a)
{
	uint32_t net, mask, host = ntohl(a.s_addr);

	if (p->family != AF_INET)
		return false;
	memcpy(&net, p->addr + 12, 4);
	mask = p->len ? ~0u << (32 - p->len) : 0;
	return (host & mask) == (ntohl(net) & mask);
}

/*
 * The resource a destination belongs to: a fake IP's name, or the longest
 * IP/CIDR resource holding it. NAME (when the address is a fake IP) is the
 * name the fake IP stands for.
 */
static const struct zt_resource_def *resource_of(struct zt_client_tunnel *ct, struct in_addr dst,
						 const char **name)
{
	const struct zt_policy *p = ct->policy;
	const struct zt_resource_def *best = NULL;

	*name = NULL;
	if (in_prefix(&ct->fake_range, dst)) {
		*name = zt_fakeip_lookup_addr(ct->pool, dst, NULL);
		return *name ? zt_policy_match_name(p, *name) : NULL;
	}
	for (unsigned int i = 0; i < p->count; i++) {
		const struct zt_resource_def *r = &p->res[i];

		if (zt_resource_is_name(r) || !in_prefix(&r->prefix, dst))
			continue;
		if (!best || r->prefix.len > best->prefix.len)
			best = r;
	}
	return best;
}

static struct sent_bind *bind_slot(struct ct_peer *cp, struct in_addr fake)
{
	struct sent_bind *b;

	for (size_t i = 0; i < cp->nbinds; i++)
		if (cp->binds[i].fake.s_addr == fake.s_addr)
			return &cp->binds[i];
	b = realloc(cp->binds, (cp->nbinds + 1) * sizeof(*b));
	if (!b)
		return NULL;
	cp->binds = b;
	b = &cp->binds[cp->nbinds++];
	*b = (struct sent_bind){ .fake = fake, .status = 0xff };
	return b;
}

/* Tell the connector what FAKE stands for, unless it already knows. */
static void ensure_bound(struct zt_client_tunnel *ct, struct ct_peer *cp, struct in_addr fake,
			 const char *name)
{
	uint8_t msg[ZT_BIND_HDR_LEN + ZT_PATTERN_MAX];
	struct sent_bind *b = bind_slot(cp, fake);
	size_t nlen = strlen(name);
	uint64_t now = zt_mono_ns();

	if (!b || b->status == ZT_BIND_OK || nlen > ZT_BIND_NAME_MAX)
		return;
	if (b->sent_ns && now - b->sent_ns < BIND_RESEND_NS)
		return;
	if (!zt_bind_encode(fake, name, msg, sizeof(msg)))
		return;
	b->sent_ns = now;
	ct->st.binds_sent++;
	zt_tunnel_send(ct->tunnel, cp->peer, msg, ZT_BIND_HDR_LEN + nlen);
}

void zt_client_tunnel_packet(struct zt_client_tunnel *ct, const uint8_t *pkt, size_t len)
{
	const struct zt_resource_def *res;
	struct ct_peer *cp;
	struct in_addr dst;
	const char *name;

	if (len < 20 || (pkt[0] >> 4) != 4) {
		ct->st.not_ipv4++;
		return;
	}
	memcpy(&dst.s_addr, pkt + 16, 4);
	res = resource_of(ct, dst, &name);
	if (!res || !res->connector[0] || !(cp = peer_by_name(ct, res->connector)) || !cp->peer) {
		ct->st.no_connector++;
		return;
	}
	if (name)
		ensure_bound(ct, cp, dst, name);
	ct->st.to_connectors++;
	zt_tunnel_send(ct->tunnel, cp->peer, pkt, len);
}

static void handle_ack(struct zt_client_tunnel *ct, struct ct_peer *cp, const uint8_t *msg,
		       size_t len)
{
	struct zt_bind_ack_msg ack;
	struct sent_bind *b;
	struct in_addr fake;
	char text[INET_ADDRSTRLEN];

	if (zt_bind_ack_parse(msg, len, &ack)) {
		ct->st.malformed_control++;
		return;
	}
	fake = ack.fake;
	b = bind_slot(cp, fake);
	if (!b)
		return;
	b->status = ack.status;
	if (b->status != ZT_BIND_OK) {
		const char *name = zt_fakeip_lookup_addr(ct->pool, fake, NULL);

		inet_ntop(AF_INET, &fake, text, sizeof(text));
		zt_log("warning", "connector %s refused %s (%s): %s", cp->name, name ? name : "?",
		       text, b->status == ZT_BIND_DNS_ERROR ? "DNS_ERROR" : "DENIED");
	}
}

static void on_recv(void *ctx, struct zt_tunnel_peer *peer, uint8_t *pkt, size_t len)
{
	struct zt_client_tunnel *ct = ctx;
	struct ct_peer *cp = zt_tunnel_peer_ctx(peer);
	const struct zt_resource_def *res;
	struct in_addr src, dst;
	const char *name;

	if (zt_paths_recv(ct->paths, peer, pkt, len))
		return;
	if (pkt[ZT_CTRL_OFF_TYPE] < ZT_CTRL_MAX) {
		if (pkt[ZT_CTRL_OFF_TYPE] == ZT_CTRL_BIND_ACK)
			handle_ack(ct, cp, pkt, len);
		else
			ct->st.malformed_control++;
		return;
	}
	if (len < 20 || (pkt[0] >> 4) != 4) {
		ct->st.not_ipv4++;
		return;
	}
	memcpy(&src.s_addr, pkt + 12, 4);
	memcpy(&dst.s_addr, pkt + 16, 4);
	/* Only replies from this connector's own resources, to us. */
	res = resource_of(ct, src, &name);
	if (dst.s_addr != ct->address.s_addr || !res || strcmp(res->connector, cp->name)) {
		ct->st.from_connectors_refused++;
		return;
	}
	ct->st.from_connectors++;
	zt_tun_queue(ct->tun, pkt, len);
}

static void on_flush(void *ctx)
{
	struct zt_client_tunnel *ct = ctx;

	zt_tun_flush(ct->tun);
}

/* A new session: the connector may have restarted; tell it our names again. */
static void on_session_up(void *ctx, struct zt_tunnel_peer *peer)
{
	struct zt_client_tunnel *ct = ctx;
	struct ct_peer *cp = zt_tunnel_peer_ctx(peer);

	zt_paths_session_up(ct->paths, peer);
	for (size_t i = 0; i < cp->nbinds; i++) {
		cp->binds[i].sent_ns = 0;
		cp->binds[i].status = 0xff;
	}
}

static void on_other(void *ctx, uint8_t *buf, size_t len, const struct sockaddr *src,
		     socklen_t srclen)
{
	struct zt_client_tunnel *ct = ctx;

	zt_paths_other(ct->paths, buf, len, src, srclen);
}

static int on_relay_send(void *ctx, struct zt_tunnel_peer *peer, const uint8_t *datagram,
			 size_t len)
{
	struct zt_client_tunnel *ct = ctx;

	return zt_paths_relay_send(ct->paths, peer, datagram, len);
}

/* The relays forward to us only from our connectors. */
static int sync_accept(struct zt_client_tunnel *ct, char *err, size_t errlen)
{
	uint8_t (*keys)[ZT_RELAY_KEY_LEN];
	int ret;

	/* Even without relays: those a controller's view adds later take the list. */
	keys = calloc(ct->npeers ? ct->npeers : 1, sizeof(*keys));
	if (!keys) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < ct->npeers; i++)
		memcpy(keys[i], ct->peers[i].pubkey, ZT_RELAY_KEY_LEN);
	ret = zt_path_relays_set_accept(ct->relays, (const uint8_t (*)[ZT_RELAY_KEY_LEN])keys,
					ct->npeers);
	free(keys);
	if (ret)
		snprintf(err, errlen, "relay accept list: %s", strerror(-ret));
	return ret;
}

int zt_client_tunnel_sync(struct zt_client_tunnel *ct, char *err, size_t errlen)
{
	const struct zt_policy *p = ct->policy;
	struct ct_peer *next;
	size_t n = p->nconnectors;

	next = calloc(n ? n : 1, sizeof(*next));
	if (!next) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct zt_connector_def *def = &p->connectors[i];
		struct ct_peer *np = &next[i];

		snprintf(np->name, sizeof(np->name), "%s", def->name);
		memcpy(np->pubkey, def->pubkey, sizeof(np->pubkey));
		np->endpoint = def->endpoint;
		for (size_t j = 0; j < ct->npeers; j++) {
			struct ct_peer *op = &ct->peers[j];

			if (!op->peer || memcmp(op->pubkey, np->pubkey, sizeof(np->pubkey)))
				continue;
			np->peer = op->peer;
			np->endpoint_changed = !zt_endpoint_equal(&op->endpoint, &np->endpoint);
			np->binds = op->binds;
			np->nbinds = op->nbinds;
			op->peer = NULL;
			op->binds = NULL;
			break;
		}
	}
	for (size_t j = 0; j < ct->npeers; j++) {
		if (ct->peers[j].peer)
			zt_tunnel_peer_remove(ct->tunnel, ct->peers[j].peer);
		free(ct->peers[j].binds);
	}
	free(ct->peers);
	ct->peers = next;
	ct->npeers = n;
	for (size_t i = 0; i < n; i++) {
		struct ct_peer *np = &next[i];
		struct sockaddr_storage ss;
		int ret;

		const bool has_ep = np->endpoint.family != 0;	/* else: relays only */

		zt_endpoint_to_sockaddr(&np->endpoint, &ss);
		if (np->peer) {
			zt_tunnel_peer_set_ctx(np->peer, np);
			/* Unchanged, the path found (direct or relayed) stays. */
			if (!np->endpoint_changed)
				continue;
			if (has_ep)
				zt_tunnel_peer_set_endpoint(np->peer, &ss);
			else
				zt_tunnel_peer_clear_endpoint(np->peer);
			zt_paths_track(ct->paths, np->peer);
			continue;
		}
		ret = zt_tunnel_peer_add(ct->tunnel, np->pubkey, has_ep ? &ss : NULL, np, &np->peer);
		if (ret) {
			snprintf(err, errlen, "connector %s: %s", np->name, strerror(-ret));
			return ret;
		}
		zt_paths_track(ct->paths, np->peer);
	}
	return sync_accept(ct, err, errlen);
}

int zt_client_tunnel_open(const struct zt_client_tunnel_cfg *ccfg, struct zt_client_tunnel **out,
			  char *err, size_t errlen)
{
	struct zt_tunnel_cfg cfg = { .persistent_keepalive_ms = 25000 };
	const struct zt_tunnel_ops ops = { .recv = on_recv, .session_up = on_session_up,
					   .flush = on_flush, .other = on_other,
					   .relay_send = on_relay_send };
	struct zt_client_tunnel *ct;
	int ret;

	ct = calloc(1, sizeof(*ct));
	if (!ct) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ct->loop = ccfg->loop;
	ct->policy = ccfg->policy;
	ct->tun = ccfg->tun;
	ct->pool = ccfg->pool;
	ct->fake_range = ccfg->fake_range;
	ct->address = ccfg->address;
	memcpy(cfg.private_key, ccfg->private_key, sizeof(cfg.private_key));
	cfg.listen.ss_family = AF_INET;	/* any address, any port: we only dial out */
	ret = zt_tunnel_open(ct->loop, &cfg, &ops, ct, &ct->tunnel, err, errlen);
	OPENSSL_cleanse(cfg.private_key, sizeof(cfg.private_key));
	if (!ret) {
		const struct zt_paths_cfg pcfg = {
			.advertise = ccfg->advertise, .tun_name = ct->tun ? zt_tun_name(ct->tun) : NULL,
			.deny = ct->own, .ndeny = 2,
		};

		ct->own[0] = ct->fake_range;
		ct->own[1] = (struct zt_prefix){ .family = AF_INET, .len = 32 };
		zt_addr_from_v4(ct->own[1].addr, ct->address.s_addr);
		ret = zt_paths_open(ct->loop, ct->tunnel, &pcfg, &ct->paths, err, errlen);
	}
	if (!ret)
		ret = zt_path_relays_open(ct->loop, ct->tunnel, ct->paths, ccfg->private_key,
					  ccfg->relays, ccfg->nrelays, &ct->relays, err, errlen);
	if (!ret)
		ret = zt_client_tunnel_sync(ct, err, errlen);
	if (ret) {
		zt_client_tunnel_close(ct);
		return ret;
	}
	*out = ct;
	return 0;
}

int zt_client_tunnel_set_relays(struct zt_client_tunnel *ct, const struct zt_path_relay_spec *specs,
				size_t n, char *err, size_t errlen)
{
	return zt_path_relays_update(ct->relays, specs, n, err, errlen);
}

void zt_client_tunnel_close(struct zt_client_tunnel *ct)
{
	if (!ct)
		return;
	zt_path_relays_close(ct->relays);	/* they send on the tunnel's socket */
	zt_paths_close(ct->paths);
	zt_tunnel_close(ct->tunnel);	/* frees the peers */
	for (size_t i = 0; i < ct->npeers; i++)
		free(ct->peers[i].binds);
	free(ct->peers);
	free(ct);
}

void zt_client_tunnel_cork(struct zt_client_tunnel *ct, bool cork)
{
	if (cork)
		zt_tunnel_cork(ct->tunnel);
	else
		zt_tunnel_uncork(ct->tunnel);
}

void zt_client_tunnel_stats_json(struct zt_client_tunnel *ct, json_object *o)
{
	json_object *t = zt_tunnel_stats_json(ct->tunnel), *peers;

#define PUT(f) json_object_object_add(t, #f, json_object_new_int64((int64_t)ct->st.f))
	PUT(to_connectors); PUT(no_connector); PUT(not_ipv4); PUT(binds_sent);
	PUT(from_connectors); PUT(from_connectors_refused); PUT(malformed_control);
#undef PUT
	json_object_object_add(o, "tunnel", t);
	peers = json_object_new_array();
	for (size_t i = 0; i < ct->npeers; i++) {
		json_object *row = zt_tunnel_peer_json(ct->peers[i].name, ct->peers[i].peer);

		zt_paths_stats_json(ct->paths, ct->peers[i].peer, row);
		json_object_array_add(peers, row);
	}
	json_object_object_add(o, "peers", peers);
}

void zt_client_tunnel_status_json(struct zt_client_tunnel *ct, json_object *o)
{
	json_object *peers = json_object_new_array();

	for (size_t i = 0; i < ct->npeers; i++)
		json_object_array_add(peers, zt_paths_status_json(ct->paths, ct->peers[i].name,
								  ct->peers[i].peer));
	json_object_object_add(o, "peers", peers);
	json_object_object_add(o, "relays", zt_path_relays_json(ct->relays));
}

int zt_client_tunnel_ping(struct zt_client_tunnel *ct, const char *name, const char *id,
			  json_object *o, char *err, size_t errlen)
{
	struct ct_peer *cp = peer_by_name(ct, name);
	const struct zt_resource_def *res = NULL;

	if (!cp) {
		res = zt_policy_find(ct->policy, name);
		if (!res) {
			snprintf(err, errlen, "no connector or resource named '%.64s'", name);
			return -ENOENT;
		}
		if (!res->connector[0] || !(cp = peer_by_name(ct, res->connector))) {
			snprintf(err, errlen, "resource '%.64s' is served by no connector", name);
			return -ENOENT;
		}
		json_object_object_add(o, "resource", json_object_new_string(res->name));
	}
	json_object_object_add(o, "peer", json_object_new_string(cp->name));
	return zt_paths_ping_json(ct->paths, cp->peer, id, o, err, errlen);
}
