// SPDX-License-Identifier: GPL-2.0-only
/*
 * Paths between tunnel peers (paths.h, docs/RELAY.md). Per peer, two
 * states:
 *
 *   DIRECT   the tunnel sends to the peer's endpoint. A probe every
 *            direct_probe_ms holds the NATs open and measures the RTT; no
 *            authenticated direct datagram for fallback_ms (the tunnel's
 *            own count, so keepalives and data count too) moves the peer
 *            to RELAYED.
 *   RELAYED  the tunnel sends through ops.relay_send. Our candidates go
 *            to the peer when the session comes up over the relay and
 *            every upgrade_retry_ms. When the peer's arrive, we first open
 *            our own NAT toward them with probes of low TTL (prime_ttl:
 *            they die on the way, before the peer's NAT), then say so with
 *            PRIMED (through the relay, so after our NAT has the mapping).
 *            Probes of full TTL go only once both sides have primed: the
 *            peer's PRIMED came (or, from a peer that has never sent one,
 *            probe_interval_ms passed). Then every probe_interval_ms for
 *            probe_duration_ms, from both sides. The first probe-ack that
 *            arrives directly moves the peer to DIRECT, on the address it
 *            came from.
 *
 * Why prime (issue 10): a probe that reaches the peer's NAT before the
 * peer's own probe has left finds no mapping there. A NAT that drops it is
 * harmless; one that takes it for itself (a router with no input filter)
 * confirms a conntrack entry whose reply tuple is the very mapping its own
 * peer's probe then needs, so that probe leaves from another port, and every
 * later probe refreshes the stolen entry. A primed NAT has the mapping
 * before anything from the peer can arrive.
 *
 * Direct on a NAT path (the hairpin through our router, out and back), a
 * candidate of the peer's own on one of our subnets is probed for
 * probe_duration_ms more and preferred when it answers: the LAN path.
 *
 * Probes are sealed transport payloads like any (tunnel/ctrl.h), so only
 * the real peer can answer them, and an answer proves the path works both
 * ways. A peer that answers a session over the relay is RELAYED, over its
 * endpoint DIRECT: whoever started decides, and the other side follows.
 * Without any relay nothing falls back and nothing is probed: the module
 * only answers the probes and candidates of peers that have relays.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/mem.h>
#include <openssl/rand.h>

#include "lib/addr.h"
#include "lib/clock.h"
#include "tunnel/keys.h"
#include "lib/log.h"
#include "path/paths.h"
#include "tunnel/ctrl.h"
#include "tunnel/status.h"

#define PEER_BUCKETS	256
#define PROBES_KEPT	32	/* outstanding probes remembered per peer */
#define PINGS_KEPT	8	/* `ztgate ping` probes remembered per peer, answered or not */
/*
 * A relay added at run time (a controller's view): the peer takes the same
 * view a moment before or after us, and a handshake we send through the
 * relay before it registered there is lost. Peers still waiting for a
 * session resend theirs every second for a few seconds, rather than at the
 * tunnel's retry (5 s).
 */
#define RELAY_ADDED_RETRY_NS	(1 * ZT_NS_PER_S)
#define RELAY_ADDED_RETRIES_NS	(5 * ZT_NS_PER_S)

enum state { ST_DIRECT, ST_RELAYED };

struct probe_sent {
	uint64_t id;		/* 0: free slot */
	uint64_t sent_ns;
};

/* A probe of `ztgate ping` (zt_paths_ping): kept until PINGS_KEPT later ones overwrite it. */
struct ping_sent {
	uint64_t id;		/* 0: free slot */
	uint64_t sent_ns;
	uint64_t rtt_ns;
	bool answered;
	bool direct;		/* the answer came directly (from FROM), else through RELAY */
	int relay;
	struct sockaddr_storage from;
};

struct path_peer {
	uint8_t key[ZT_NOISE_KEY_LEN];
	struct path_peer *next;
	enum state state;

	/* DIRECT */
	uint64_t direct_since_ns;	/* grace: no fallback before since + fallback */
	uint64_t next_probe_ns;

	/* RELAYED */
	uint64_t candidates_at;		/* send ours then; 0: off */
	uint64_t candidates_sent_ns;
	uint64_t burst_until_ns, burst_next_ns;	/* probing the peer's candidates */
	uint64_t primed_ns;		/* we last opened our NAT toward their candidates; 0: never */
	uint64_t peer_primed_ns;	/* their last PRIMED; 0: never */
	uint64_t burst_at_ns;		/* primed, waiting for theirs: probe then at the latest; 0: not waiting */
	bool peer_primes;		/* they have sent PRIMED: wait for it, however long */

	struct sockaddr_storage cands[ZT_PATHS_CANDIDATES_ACCEPT];	/* passed the filter */
	unsigned int ncands;
	struct sockaddr_storage refused[ZT_PATHS_CANDIDATES_MAX];	/* of the last message */
	uint8_t refused_why[ZT_PATHS_CANDIDATES_MAX];			/* enum zt_cand_why */
	unsigned int nrefused;
	uint64_t refused_total;
	struct probe_sent probes[PROBES_KEPT];
	unsigned int probe_slot;
	struct ping_sent pings[PINGS_KEPT];
	unsigned int ping_slot;
	uint64_t rtt_us;
	int relay;			/* the relay it last came or went through; -1: none */
	uint64_t upgrades, fallbacks;
};

struct zt_paths {
	struct zt_loop *loop;
	struct zt_tunnel *t;
	int timer_fd;
	bool timer_registered;
	uint64_t direct_probe_ns, fallback_ns, upgrade_retry_ns, probe_interval_ns,
		 probe_duration_ns;
	bool no_local_addresses, include_loopback;
	int prime_ttl;			/* 0: no priming */
	/* What our candidates are and which of the peers' we take (path/cand.h). */
	bool uplink_only, accept_loopback;
	char tun_name[IF_NAMESIZE];	/* "": no TUN */
	const struct zt_prefix *deny;
	size_t ndeny;
	struct zt_paths_advertise advertise;

	struct zt_paths_relay relays[ZT_PATHS_RELAYS_MAX];
	struct sockaddr_storage observed[ZT_PATHS_RELAYS_MAX];
	int nrelays;
	uint64_t hs_retry_ns, hs_retry_until_ns;	/* a relay added at run time: 0 when off */

	struct path_peer *peers[PEER_BUCKETS];
};

static const char *key_short(const uint8_t key[ZT_NOISE_KEY_LEN], char out[ZT_KEY_B64_LEN + 1])
{
	zt_key_to_base64(key, out);
	out[12] = '\0';		/* enough to tell peers apart in a log */
	return out;
}

static void format_ep(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	zt_sockaddr_format(ss, buf, len);
}

static bool same_ep(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
	}
	return false;
}

/* ---- peers ---- */

static struct path_peer **bucket(struct zt_paths *ps, const uint8_t *key)
{
	return &ps->peers[key[0]];
}

static struct path_peer *peer_find(struct zt_paths *ps, const uint8_t *key)
{
	struct path_peer *pp;

	for (pp = *bucket(ps, key); pp; pp = pp->next)
		if (!memcmp(pp->key, key, ZT_NOISE_KEY_LEN))
			return pp;
	return NULL;
}

static struct zt_tunnel_peer_stats tstats(const struct zt_tunnel_peer *p)
{
	struct zt_tunnel_peer_stats st;

	zt_tunnel_peer_stats(p, &st);
	return st;
}

static void enter_direct(struct zt_paths *ps, struct path_peer *pp, struct zt_tunnel_peer *p,
			 const struct sockaddr_storage *ep, uint64_t now)
{
	if (ep)
		zt_tunnel_peer_set_endpoint(p, ep);
	zt_tunnel_peer_set_relayed(p, false);
	pp->state = ST_DIRECT;
	pp->direct_since_ns = now;
	pp->next_probe_ns = now + ps->direct_probe_ns;
	pp->candidates_at = 0;
	pp->burst_until_ns = pp->burst_next_ns = 0;
	pp->burst_at_ns = 0;
}

/* Through the relays, if there are any; else the tunnel keeps doing what it can. */
static void enter_relayed(struct zt_paths *ps, struct path_peer *pp, struct zt_tunnel_peer *p,
			  uint64_t now)
{
	pp->state = ST_RELAYED;
	pp->rtt_us = 0;
	pp->candidates_at = now + ps->upgrade_retry_ns;
	if (ps->nrelays)
		zt_tunnel_peer_set_relayed(p, true);
}

static void peer_init(struct zt_paths *ps, struct path_peer *pp, struct zt_tunnel_peer *p,
		      uint64_t now)
{
	struct zt_tunnel_peer_stats st = tstats(p);

	if (st.endpoint.ss_family != AF_UNSPEC && !st.relayed)
		enter_direct(ps, pp, p, NULL, now);
	else
		enter_relayed(ps, pp, p, now);
}

static struct path_peer *peer_get(struct zt_paths *ps, struct zt_tunnel_peer *p, uint64_t now)
{
	const uint8_t *key = zt_tunnel_peer_key(p);
	struct path_peer *pp = peer_find(ps, key), **b;

	if (pp)
		return pp;
	pp = calloc(1, sizeof(*pp));
	if (!pp)
		return NULL;
	memcpy(pp->key, key, ZT_NOISE_KEY_LEN);
	pp->relay = -1;
	b = bucket(ps, key);
	pp->next = *b;
	*b = pp;		/* first: setting the path may already send (relay_send finds it) */
	peer_init(ps, pp, p, now);
	return pp;
}

/* ---- timer ---- */

static uint64_t min_nz(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/* When direct, the last sign of life on the direct path (the grace at its start counts as one). */
static uint64_t last_direct(const struct path_peer *pp, const struct zt_tunnel_peer *p)
{
	uint64_t engine = tstats(p).last_direct_rx_ns;

	return engine > pp->direct_since_ns ? engine : pp->direct_since_ns;
}

static uint64_t peer_deadline(const struct zt_paths *ps, const struct path_peer *pp,
			      const struct zt_tunnel_peer *p)
{
	uint64_t d = 0;

	if (pp->state == ST_DIRECT) {
		/* Without a relay there is nothing to fall back to, nor a reason to probe. */
		if (ps->nrelays)
			d = min_nz(pp->next_probe_ns, last_direct(pp, p) + ps->fallback_ns);
	} else {
		d = min_nz(pp->candidates_at, pp->burst_at_ns);
		if (pp->burst_until_ns)
			d = min_nz(d, pp->burst_next_ns);
	}
	return d;
}

static void rearm(struct zt_paths *ps)
{
	struct itimerspec its = { 0 };
	uint64_t next = ps->hs_retry_ns;

	for (int b = 0; b < PEER_BUCKETS; b++) {
		for (struct path_peer *pp = ps->peers[b]; pp; pp = pp->next) {
			struct zt_tunnel_peer *p = zt_tunnel_peer_by_key(ps->t, pp->key);

			if (p)
				next = min_nz(next, peer_deadline(ps, pp, p));
		}
	}
	if (next) {
		its.it_value.tv_sec = (time_t)(next / ZT_NS_PER_S);
		its.it_value.tv_nsec = (long)(next % ZT_NS_PER_S);
	}
	timerfd_settime(ps->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* ---- messages ---- */

static bool session_up(const struct zt_tunnel_peer *p)
{
	return tstats(p).session_up;
}

/*
 * Send a probe to EP, or along the peer's path when EP is NULL (the relayed
 * RTT); with TTL (> 0) as its IP TTL (a priming probe), else the default.
 */
static void send_probe_ttl(struct zt_paths *ps, struct path_peer *pp, struct zt_tunnel_peer *p,
			   const struct sockaddr_storage *ep, int ttl, uint64_t now)
{
	uint8_t msg[ZT_PROBE_LEN];
	struct probe_sent *slot = &pp->probes[pp->probe_slot];
	uint64_t id = 0;

	while (!id)
		if (!RAND_bytes((uint8_t *)&id, sizeof(id)))
			return;
	msg[ZT_CTRL_OFF_TYPE] = ZT_CTRL_PROBE;
	memcpy(msg + ZT_PROBE_OFF_ID, &id, ZT_PROBE_ID_LEN);
	if ((ep ? zt_tunnel_send_to_ttl(ps->t, p, msg, sizeof(msg), ep, ttl) :
		  zt_tunnel_send(ps->t, p, msg, sizeof(msg))) != 0)
		return;
	slot->id = id;
	slot->sent_ns = now;
	pp->probe_slot = (pp->probe_slot + 1) % PROBES_KEPT;
}

_Static_assert(ZT_PROBE_ID_LEN == sizeof(uint64_t), "a probe's id is kept as a uint64_t");

static void send_probe(struct zt_paths *ps, struct path_peer *pp, struct zt_tunnel_peer *p,
		       const struct sockaddr_storage *ep, uint64_t now)
{
	send_probe_ttl(ps, pp, p, ep, 0, now);
}

static void put_candidate(uint8_t *c, const struct sockaddr_storage *ss)
{
	memset(c, 0, ZT_CANDIDATE_LEN);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		c[ZT_CANDIDATE_OFF_FAMILY] = 4;
		memcpy(c + ZT_CANDIDATE_OFF_PORT, &sin->sin_port, 2);
		zt_addr_from_v4(c + ZT_CANDIDATE_OFF_ADDR, sin->sin_addr.s_addr);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		c[ZT_CANDIDATE_OFF_FAMILY] = 6;
		memcpy(c + ZT_CANDIDATE_OFF_PORT, &sin6->sin6_port, 2);
		memcpy(c + ZT_CANDIDATE_OFF_ADDR, &sin6->sin6_addr, 16);
	}
}

/* A candidate as sent: -EINVAL if its family and address disagree (port 0 and the rest: the filter's). */
static int get_candidate(const uint8_t *c, struct sockaddr_storage *ss)
{
	uint16_t port;

	memset(ss, 0, sizeof(*ss));
	memcpy(&port, c + ZT_CANDIDATE_OFF_PORT, 2);
	if (c[ZT_CANDIDATE_OFF_FAMILY] == 4 && zt_addr_is_v4(c + ZT_CANDIDATE_OFF_ADDR)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = port;
		memcpy(&sin->sin_addr, c + ZT_CANDIDATE_ADDR_V4, 4);
		return 0;
	}
	if (c[ZT_CANDIDATE_OFF_FAMILY] == 6 && !zt_addr_is_v4(c + ZT_CANDIDATE_OFF_ADDR)) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = port;
		memcpy(&sin6->sin6_addr, c + ZT_CANDIDATE_OFF_ADDR, 16);
		return 0;
	}
	return -EINVAL;
}

/* Add SS to LIST (N of them, at most MAX) unless there already; false if LIST is full. */
static bool add_unique(struct sockaddr_storage *list, unsigned int *n, unsigned int max,
		       const struct sockaddr_storage *ss)
{
	for (unsigned int i = 0; i < *n; i++)
		if (same_ep(&list[i], ss))
			return true;
	if (*n >= max)
		return false;
	list[(*n)++] = *ss;
	return true;
}

/* Our interfaces as the candidate filter and our_candidates() see them. */
static int read_view(const struct zt_paths *ps, struct zt_cand_view *v)
{
	const struct zt_cand_cfg cfg = {
		.tun_name = ps->tun_name[0] ? ps->tun_name : NULL,
		.uplink_only = ps->uplink_only,
		.deny = ps->deny, .ndeny = ps->ndeny,
		.advertise = ps->advertise.addr, .nadvertise = ps->advertise.n,
		.advertise_none = ps->advertise.none,
		.include_loopback = ps->include_loopback,
	};
	int ret = zt_cand_view_read(&cfg, v);

	v->allow_loopback = ps->accept_loopback;
	return ret;
}

/*
 * Ours: what relays observed first (the likeliest to work across NATs), then
 * the --advertise list or, without one, our plausible uplinks' addresses
 * (path/cand.h: a connector's private side and TUN are nobody's business).
 */
static unsigned int our_candidates(struct zt_paths *ps, struct sockaddr_storage *list)
{
	struct sockaddr_storage local[ZT_PATHS_CANDIDATES_MAX];
	struct zt_cand_view v;
	unsigned int n = 0;
	size_t nlocal;
	int port = zt_tunnel_local_port(ps->t);

	for (int r = 0; r < ps->nrelays; r++)
		if (ps->observed[r].ss_family != AF_UNSPEC)
			add_unique(list, &n, ZT_PATHS_CANDIDATES_MAX, &ps->observed[r]);
	if (ps->no_local_addresses || port <= 0 || ps->advertise.none)
		return n;
	for (size_t i = 0; i < ps->advertise.n; i++) {
		struct sockaddr_storage ss = ps->advertise.addr[i];
		uint16_t *p = ss.ss_family == AF_INET ? &((struct sockaddr_in *)&ss)->sin_port :
			      &((struct sockaddr_in6 *)&ss)->sin6_port;

		if (!*p)
			*p = htons((uint16_t)port);
		add_unique(list, &n, ZT_PATHS_CANDIDATES_MAX, &ss);
	}
	if (ps->advertise.n || read_view(ps, &v))
		return n;
	nlocal = zt_cand_local_list(&v, ps->include_loopback, port, local, ZT_PATHS_CANDIDATES_MAX);
	for (size_t i = 0; i < nlocal; i++)
		add_unique(list, &n, ZT_PATHS_CANDIDATES_MAX, &local[i]);
	return n;
}

/* Is EP's address A's (MASK NULL), or in A's subnet of MASK? The family is EP's, checked by the caller. */
static bool addr_in(const struct sockaddr_storage *ep, const struct sockaddr *a,
		    const struct sockaddr *mask)
{
	const uint8_t *x, *y, *m = NULL;
	size_t n;

	if (ep->ss_family == AF_INET) {
		x = (const uint8_t *)&((const struct sockaddr_in *)(const void *)ep)->sin_addr;
		y = (const uint8_t *)&((const struct sockaddr_in *)(const void *)a)->sin_addr;
		if (mask)
			m = (const uint8_t *)&((const struct sockaddr_in *)(const void *)mask)->sin_addr;
		n = 4;
	} else {
		x = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)ep)->sin6_addr;
		y = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr;
		if (mask)
			m = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)mask)->sin6_addr;
		n = 16;
	}
	for (size_t k = 0; k < n; k++) {
		uint8_t mk = m ? m[k] : 0xff;

		if ((x[k] & mk) != (y[k] & mk))
			return false;
	}
	return true;
}

/*
 * Is EP's address one of ours (SUBNET false), or on one of our subnets
 * (SUBNET true: the peer is on our link, no router between us)? Loopback
 * counts only with include_loopback, as for candidates.
 */
static bool ours(const struct zt_paths *ps, const struct sockaddr_storage *ep, bool subnet)
{
	struct ifaddrs *ifa, *i;
	bool found = false;

	if ((ep->ss_family != AF_INET && ep->ss_family != AF_INET6) || getifaddrs(&ifa))
		return false;
	for (i = ifa; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) || i->ifa_addr->sa_family != ep->ss_family)
			continue;
		if ((i->ifa_flags & IFF_LOOPBACK) && !ps->include_loopback)
			continue;
		if (subnet && !i->ifa_netmask)
			continue;
		found = addr_in(ep, i->ifa_addr, subnet ? i->ifa_netmask : NULL);
	}
	freeifaddrs(ifa);
	return found;
}

static uint16_t ep_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
	return 0;
}

/*
 * No NAT between us and the internet: every relay saw us at one of our own
 * addresses and our port. Unknown (no relay saw us yet) counts as a NAT.
 */
static bool no_nat(const struct zt_paths *ps)
{
	int port = zt_tunnel_local_port(ps->t);
	bool seen = false;

	for (int r = 0; r < ps->nrelays; r++) {
		const struct sockaddr_storage *o = &ps->observed[r];

		if (o->ss_family == AF_UNSPEC)
			continue;
		if (ep_port(o) != port || !ours(ps, o, false))
			return false;
		seen = true;
	}
	return seen;
}

static bool recent(uint64_t at, uint64_t now, uint64_t within)
{
	return at && now - at < within;
}

/*
 * Open our NAT toward each of the peer's candidates: a probe of TTL
 * prime_ttl that creates our NAT's mapping and dies before the peer's NAT
 * (one that reaches the peer, on our LAN, is answered as any probe).
 * Nothing to open without a NAT, and from a public address a TTL of 2 could
 * reach a NAT one router away: then nothing is sent.
 */
static void prime(struct zt_paths *ps, struct path_peer *pp, struct zt_tunnel_peer *p,
		  uint64_t now)
{
	if (!no_nat(ps))
		for (unsigned int i = 0; i < pp->ncands; i++)
			send_probe_ttl(ps, pp, p, &pp->cands[i], ps->prime_ttl, now);
	pp->primed_ns = now;
}

/* PRIMED along the peer's path (the relay while relayed): after the priming probes, always. */
static void send_primed(struct zt_paths *ps, struct zt_tunnel_peer *p, bool ask)
{
	uint8_t msg[ZT_PRIMED_LEN] = { ZT_CTRL_PRIMED, ask ? ZT_PRIMED_ASK : 0 };

	zt_tunnel_send(ps->t, p, msg, sizeof(msg));
}

/* Is EP a candidate of the peer's own on one of our subnets (the LAN path)? */
static bool lan_candidate(const struct zt_paths *ps, const struct path_peer *pp,
			  const struct sockaddr_storage *ep)
{
	bool listed = false;

	for (unsigned int i = 0; i < pp->ncands && !listed; i++)
		listed = same_ep(&pp->cands[i], ep);
	return listed && ours(ps, ep, true);
}

/* Direct on CUR, not the LAN path: probe the peer's LAN candidates (their acks move us there). */
static void probe_lan(struct zt_paths *ps, struct path_peer *pp, struct zt_tunnel_peer *p,
		      const struct sockaddr_storage *cur, uint64_t now)
{
	if (lan_candidate(ps, pp, cur))
		return;
	for (unsigned int i = 0; i < pp->ncands; i++)
		if (!same_ep(&pp->cands[i], cur) && ours(ps, &pp->cands[i], true))
			send_probe(ps, pp, p, &pp->cands[i], now);
}

/* Our candidates to the peer along its path, and a probe after them to time that path. */
static void send_candidates(struct zt_paths *ps, struct path_peer *pp, struct zt_tunnel_peer *p,
			    uint64_t now)
{
	struct sockaddr_storage list[ZT_PATHS_CANDIDATES_MAX];
	uint8_t msg[ZT_CANDIDATES_HDR_LEN + ZT_PATHS_CANDIDATES_MAX * ZT_CANDIDATE_LEN];
	unsigned int n = our_candidates(ps, list);

	if (!session_up(p))
		return;
	msg[ZT_CTRL_OFF_TYPE] = ZT_CTRL_CANDIDATES;
	msg[ZT_CANDIDATES_OFF_COUNT] = (uint8_t)n;
	for (unsigned int i = 0; i < n; i++)
		put_candidate(msg + ZT_CANDIDATES_HDR_LEN + i * ZT_CANDIDATE_LEN, &list[i]);
	if (zt_tunnel_send(ps->t, p, msg, ZT_CANDIDATES_HDR_LEN + n * ZT_CANDIDATE_LEN))
		return;
	pp->candidates_sent_ns = now;
	send_probe(ps, pp, p, NULL, now);
}

static void probe_candidates(struct zt_paths *ps, struct path_peer *pp, struct zt_tunnel_peer *p,
			     uint64_t now)
{
	for (unsigned int i = 0; i < pp->ncands; i++)
		send_probe(ps, pp, p, &pp->cands[i], now);
	pp->burst_next_ns = now + ps->probe_interval_ns;
	if (pp->burst_next_ns > pp->burst_until_ns)
		pp->burst_until_ns = pp->burst_next_ns = 0;
}

/* Probe the peer's candidates now and every probe_interval for probe_duration. */
static void start_burst(struct zt_paths *ps, struct path_peer *pp, struct zt_tunnel_peer *p,
			uint64_t now)
{
	pp->burst_at_ns = 0;
	if (pp->burst_until_ns) {	/* already probing: for longer */
		pp->burst_until_ns = now + ps->probe_duration_ns;
		return;
	}
	pp->burst_until_ns = now + ps->probe_duration_ns;
	probe_candidates(ps, pp, p, now);
}

static void refuse(struct path_peer *pp, const struct sockaddr_storage *ss, enum zt_cand_why why)
{
	pp->refused_total++;
	if (pp->nrefused < ZT_PATHS_CANDIDATES_MAX) {
		pp->refused[pp->nrefused] = *ss;
		pp->refused_why[pp->nrefused++] = (uint8_t)why;
	}
}

/*
 * The peer's N candidates at C replace those we had: each one that passes
 * path/cand.h's filter, up to ZT_PATHS_CANDIDATES_ACCEPT (issue 10 A12: a
 * peer names where we send probes, so it may name only where it can be).
 * Refusals are kept for status and logged when their number changes.
 */
static void take_candidates(struct zt_paths *ps, struct path_peer *pp, const uint8_t *c,
			    unsigned int n)
{
	unsigned int before = pp->nrefused;
	char ep[64], key[ZT_KEY_B64_LEN + 1];
	struct zt_cand_view v;
	bool view = !read_view(ps, &v);

	pp->ncands = 0;
	pp->nrefused = 0;
	for (unsigned int i = 0; i < n; i++, c += ZT_CANDIDATE_LEN) {
		struct sockaddr_storage ss;
		enum zt_cand_why why = ZT_CAND_PORT;

		/* Without our addresses nothing can be checked: none taken (fail closed). */
		if (!get_candidate(c, &ss))
			why = view ? zt_cand_check(&v, &ss) : ZT_CAND_UNCHECKED;
		if (why == ZT_CAND_OK &&
		    !add_unique(pp->cands, &pp->ncands, ZT_PATHS_CANDIDATES_ACCEPT, &ss))
			why = ZT_CAND_OVER_CAP;
		if (why != ZT_CAND_OK)
			refuse(pp, &ss, why);
	}
	if (pp->nrefused && pp->nrefused != before) {
		format_ep(&pp->refused[0], ep, sizeof(ep));
		zt_log("info", "path to %s: %u of %u candidates refused (%s: %s)",
		       key_short(pp->key, key), pp->nrefused, n, ep,
		       zt_cand_why_name(pp->refused_why[0]));
	}
}

static void on_candidates(struct zt_paths *ps, struct path_peer *pp, struct zt_tunnel_peer *p,
			  const uint8_t *msg, size_t len, uint64_t now)
{
	unsigned int n;

	if (len < ZT_CANDIDATES_HDR_LEN)
		return;
	n = msg[ZT_CANDIDATES_OFF_COUNT];
	if (n > ZT_PATHS_CANDIDATES_MAX || len != ZT_CANDIDATES_HDR_LEN + n * ZT_CANDIDATE_LEN)
		return;
	take_candidates(ps, pp, msg + ZT_CANDIDATES_HDR_LEN, n);
	if (pp->state != ST_RELAYED || !ps->nrelays)
		return;
	/* Theirs arrived: make sure they have ours, to open their NAT toward us and probe us. */
	if (!pp->candidates_sent_ns || now - pp->candidates_sent_ns >= ps->probe_duration_ns)
		send_candidates(ps, pp, p, now);
	if (!ps->prime_ttl) {
		start_burst(ps, pp, p, now);
		return;
	}
	/*
	 * Open our NAT toward theirs, say so, and probe once they have done
	 * the same. At most once a probe interval: a peer that floods
	 * candidates messages gets no more probes than the burst sends.
	 */
	if (!recent(pp->primed_ns, now, ps->probe_interval_ns))
		prime(ps, pp, p, now);
	send_primed(ps, p, true);
	if (recent(pp->peer_primed_ns, now, ps->probe_duration_ns))
		start_burst(ps, pp, p, now);
	else if (!pp->burst_until_ns && !pp->peer_primes)
		pp->burst_at_ns = now + ps->probe_interval_ns;	/* a peer that may never say PRIMED */
}

/*
 * PRIMED: the peer's NAT is open toward our candidates. Probe theirs if
 * ours is open toward them too; if they ask, open it (again, if it is not
 * fresh) and tell them.
 */
static void on_primed(struct zt_paths *ps, struct path_peer *pp, struct zt_tunnel_peer *p,
		      const uint8_t *msg, size_t len, uint64_t now)
{
	bool ask;

	if (len != ZT_PRIMED_LEN)
		return;
	ask = msg[1] & ZT_PRIMED_ASK;
	pp->peer_primes = true;
	pp->peer_primed_ns = now;
	if (pp->state == ST_DIRECT || !ps->nrelays || !ps->prime_ttl) {
		/* We send to them already, or probe without priming: nothing of ours to wait for. */
		if (ask)
			send_primed(ps, p, false);
		return;
	}
	if (!pp->ncands)
		return;		/* we prime, and ask, when their candidates come */
	if (ask) {
		if (!recent(pp->primed_ns, now, ps->probe_interval_ns))
			prime(ps, pp, p, now);
		send_primed(ps, p, false);
	}
	if (recent(pp->primed_ns, now, ps->probe_duration_ns))
		start_burst(ps, pp, p, now);
}

static void on_probe(struct zt_paths *ps, struct path_peer *pp, struct zt_tunnel_peer *p,
		     const uint8_t *msg, enum zt_tunnel_rx_path how,
		     const struct sockaddr_storage *src, uint64_t now)
{
	uint8_t ack[ZT_PROBE_LEN];

	ack[ZT_CTRL_OFF_TYPE] = ZT_CTRL_PROBE_ACK;
	memcpy(ack + ZT_PROBE_OFF_ID, msg + ZT_PROBE_OFF_ID, ZT_PROBE_ID_LEN);
	if (how != ZT_TUNNEL_RX_DIRECT) {
		zt_tunnel_send(ps->t, p, ack, sizeof(ack));	/* back the way it came: the relay */
		return;
	}
	zt_tunnel_send_to(ps->t, p, ack, sizeof(ack), src);
	/*
	 * A probe from where we have not looked (their NAT's mapping toward
	 * us): probe it back, which also opens our NAT to it.
	 */
	if (pp->state == ST_RELAYED && ps->nrelays)
		send_probe(ps, pp, p, src, now);
}

/*
 * The answer to a `ztgate ping` probe: recorded, nothing else. It came back
 * the way the probe went (on_probe answers along the path it arrived on), so
 * it says which path the peer's traffic takes now; the path state is the
 * path probes' business alone.
 */
static void on_pong(struct path_peer *pp, uint64_t id, enum zt_tunnel_rx_path how,
		    const struct sockaddr_storage *src, uint64_t now)
{
	for (unsigned int i = 0; id && i < PINGS_KEPT; i++) {
		struct ping_sent *ping = &pp->pings[i];

		if (ping->id != id || ping->answered)
			continue;
		ping->answered = true;
		ping->rtt_ns = now - ping->sent_ns;
		ping->direct = how == ZT_TUNNEL_RX_DIRECT;
		ping->relay = pp->relay;	/* relayed: the one it came through (relayed_input) */
		if (ping->direct)
			ping->from = *src;
		return;
	}
}

static void on_probe_ack(struct zt_paths *ps, struct path_peer *pp, struct zt_tunnel_peer *p,
			 const uint8_t *msg, enum zt_tunnel_rx_path how,
			 const struct sockaddr_storage *src, uint64_t now)
{
	struct probe_sent *slot = NULL;
	char ep[64], key[ZT_KEY_B64_LEN + 1];
	uint64_t id;

	memcpy(&id, msg + ZT_PROBE_OFF_ID, ZT_PROBE_ID_LEN);
	for (unsigned int i = 0; i < PROBES_KEPT; i++)
		if (id && pp->probes[i].id == id)
			slot = &pp->probes[i];
	if (!slot) {
		on_pong(pp, id, how, src, now);	/* a ping's, or not ours */
		return;
	}
	slot->id = 0;
	if (how == ZT_TUNNEL_RX_DIRECT) {
		struct sockaddr_storage cur = tstats(p).endpoint;

		if (pp->state != ST_DIRECT) {
			enter_direct(ps, pp, p, src, now);
			pp->upgrades++;
			format_ep(src, ep, sizeof(ep));
			zt_log("info", "path to %s: direct via %s", key_short(pp->key, key), ep);
			probe_lan(ps, pp, p, src, now);
		} else if (!same_ep(src, &cur)) {
			/* Another of the probes answered: only the LAN path is worth moving to. */
			if (!lan_candidate(ps, pp, src) || lan_candidate(ps, pp, &cur))
				return;
			zt_tunnel_peer_set_endpoint(p, src);
			format_ep(src, ep, sizeof(ep));
			zt_log("info", "path to %s: direct via %s (the LAN)", key_short(pp->key, key), ep);
		}
		pp->rtt_us = (now - slot->sent_ns) / 1000;
	} else if (pp->state == ST_RELAYED) {
		pp->rtt_us = (now - slot->sent_ns) / 1000;
	}
}

static void peer_due(struct zt_paths *ps, struct path_peer *pp, struct zt_tunnel_peer *p,
		     uint64_t now)
{
	char key[ZT_KEY_B64_LEN + 1];

	if (pp->state == ST_DIRECT) {
		if (!ps->nrelays)
			return;
		if (now >= last_direct(pp, p) + ps->fallback_ns) {
			pp->fallbacks++;
			enter_relayed(ps, pp, p, now);
			zt_log("info", "path to %s: direct path silent, relayed",
			       key_short(pp->key, key));
			return;
		}
		if (now >= pp->next_probe_ns) {
			struct zt_tunnel_peer_stats st = tstats(p);

			if (st.session_up && st.endpoint.ss_family != AF_UNSPEC) {
				send_probe(ps, pp, p, &st.endpoint, now);
				if (now - pp->direct_since_ns < ps->probe_duration_ns)
					probe_lan(ps, pp, p, &st.endpoint, now);
			}
			pp->next_probe_ns = now + ps->direct_probe_ns;
		}
		return;
	}
	if (pp->candidates_at && now >= pp->candidates_at) {
		if (ps->nrelays)
			send_candidates(ps, pp, p, now);
		pp->candidates_at = now + ps->upgrade_retry_ns;
	}
	if (pp->burst_at_ns && now >= pp->burst_at_ns)
		start_burst(ps, pp, p, now);	/* no PRIMED from a peer that never sent one */
	if (pp->burst_until_ns && now >= pp->burst_next_ns)
		probe_candidates(ps, pp, p, now);
}

static void on_timer(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_paths *ps = arg;
	uint64_t expirations, now = zt_mono_ns();

	(void)loop;
	(void)events;
	if (read(fd, &expirations, sizeof(expirations)) < 0) {
		/* EAGAIN: nothing due; the scan below is harmless */
	}
	if (ps->hs_retry_ns && now >= ps->hs_retry_ns) {
		zt_tunnel_retry_handshakes(ps->t);
		ps->hs_retry_ns = now + RELAY_ADDED_RETRY_NS;
		if (ps->hs_retry_ns > ps->hs_retry_until_ns)
			ps->hs_retry_ns = 0;
	}
	for (int b = 0; b < PEER_BUCKETS; b++) {
		struct path_peer **ppp = &ps->peers[b];

		while (*ppp) {
			struct path_peer *pp = *ppp;
			struct zt_tunnel_peer *p = zt_tunnel_peer_by_key(ps->t, pp->key);

			if (!p) {	/* the tunnel dropped it */
				*ppp = pp->next;
				free(pp);
				continue;
			}
			peer_due(ps, pp, p, now);
			ppp = &pp->next;
		}
	}
	rearm(ps);
}

/* ---- API ---- */

static uint64_t ms_or(uint32_t ms, uint64_t def_ms)
{
	return (ms ? ms : def_ms) * ZT_NS_PER_MS;
}

int zt_paths_open(struct zt_loop *loop, struct zt_tunnel *t, const struct zt_paths_cfg *cfg,
		  struct zt_paths **out, char *err, size_t errlen)
{
	const struct zt_paths_cfg none = { 0 };
	struct zt_paths *ps;
	int ret;

	if (!cfg)
		cfg = &none;
	if (cfg->prime_ttl > 255) {
		snprintf(err, errlen, "prime TTL %d: at most 255", cfg->prime_ttl);
		return -EINVAL;
	}
	ps = calloc(1, sizeof(*ps));
	if (!ps) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ps->loop = loop;
	ps->t = t;
	ps->direct_probe_ns = ms_or(cfg->direct_probe_ms, ZT_PATHS_DIRECT_PROBE_MS);
	ps->fallback_ns = ms_or(cfg->fallback_ms, ZT_PATHS_FALLBACK_MS);
	ps->upgrade_retry_ns = ms_or(cfg->upgrade_retry_ms, ZT_PATHS_UPGRADE_RETRY_MS);
	ps->probe_interval_ns = ms_or(cfg->probe_interval_ms, ZT_PATHS_PROBE_INTERVAL_MS);
	ps->probe_duration_ns = ms_or(cfg->probe_duration_ms, ZT_PATHS_PROBE_DURATION_MS);
	ps->no_local_addresses = cfg->no_local_addresses;
	ps->include_loopback = cfg->include_loopback;
	ps->uplink_only = cfg->uplink_only;
	ps->accept_loopback = cfg->accept_loopback;
	if (cfg->tun_name)
		snprintf(ps->tun_name, sizeof(ps->tun_name), "%s", cfg->tun_name);
	ps->deny = cfg->deny;
	ps->ndeny = cfg->ndeny;
	if (cfg->advertise)
		ps->advertise = *cfg->advertise;
	ps->prime_ttl = cfg->prime_ttl < 0 ? 0 : cfg->prime_ttl ? cfg->prime_ttl : ZT_PATHS_PRIME_TTL;
	for (int i = 0; i < ZT_PATHS_RELAYS_MAX; i++)
		ps->observed[i].ss_family = AF_UNSPEC;
	ps->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ps->timer_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "timerfd: %s", strerror(errno));
		goto fail;
	}
	ret = zt_loop_add(loop, ps->timer_fd, EPOLLIN, on_timer, ps);
	if (ret) {
		snprintf(err, errlen, "event loop: %s", strerror(-ret));
		goto fail;
	}
	ps->timer_registered = true;
	*out = ps;
	return 0;
fail:
	zt_paths_close(ps);
	return ret;
}

void zt_paths_close(struct zt_paths *ps)
{
	if (!ps)
		return;
	if (ps->timer_registered)
		zt_loop_del(ps->loop, ps->timer_fd);
	if (ps->timer_fd >= 0)
		close(ps->timer_fd);
	for (int b = 0; b < PEER_BUCKETS; b++) {
		while (ps->peers[b]) {
			struct path_peer *pp = ps->peers[b];

			ps->peers[b] = pp->next;
			free(pp);
		}
	}
	free(ps);
}

/*
 * The first relay arrived at run time (a controller's view): a relayed peer
 * now has a way; a direct one whose session is up keeps its path, probed at
 * once and given a fresh grace (an idle direct path must not be taken for
 * a dead one); one whose session never came up had no path: relayed.
 */
static void relays_came(struct zt_paths *ps, struct path_peer *pp, struct zt_tunnel_peer *p,
			uint64_t now)
{
	if (pp->state == ST_RELAYED) {
		zt_tunnel_peer_set_relayed(p, true);
		pp->candidates_at = now;
	} else if (tstats(p).session_up) {
		pp->direct_since_ns = now;
		pp->next_probe_ns = now;
	} else {
		enter_relayed(ps, pp, p, now);
	}
}

/*
 * The last relay went: as when there never was one (peer_init), the tunnel
 * sends to the peer's endpoint if it has one, else keeps doing what it can.
 */
static void relays_gone(struct zt_paths *ps, struct path_peer *pp, struct zt_tunnel_peer *p,
			uint64_t now)
{
	if (pp->state != ST_RELAYED)
		return;
	if (tstats(p).endpoint.ss_family != AF_UNSPEC)
		enter_direct(ps, pp, p, NULL, now);
	else
		zt_tunnel_peer_set_relayed(p, false);
}

static bool has_peers(const struct zt_paths *ps)
{
	for (int b = 0; b < PEER_BUCKETS; b++)
		if (ps->peers[b])
			return true;
	return false;
}

/* A relay index after relay REMOVED went: the ones above move down; its own is none (-1). */
static int renumber(int r, int removed)
{
	return r == removed ? -1 : r > removed ? r - 1 : r;
}

/* Every tracked peer the tunnel still has, through FN (relays_came, relays_gone) or only renumbered. */
static void peers_relays_changed(struct zt_paths *ps, int removed,
				 void (*fn)(struct zt_paths *, struct path_peer *,
					    struct zt_tunnel_peer *, uint64_t))
{
	uint64_t now = zt_mono_ns();

	for (int b = 0; b < PEER_BUCKETS; b++) {
		for (struct path_peer *pp = ps->peers[b]; pp; pp = pp->next) {
			struct zt_tunnel_peer *p = zt_tunnel_peer_by_key(ps->t, pp->key);

			if (removed >= 0) {
				pp->relay = renumber(pp->relay, removed);
				for (unsigned int i = 0; i < PINGS_KEPT; i++)
					pp->pings[i].relay = renumber(pp->pings[i].relay, removed);
			}
			if (p && fn)
				fn(ps, pp, p, now);
		}
	}
	rearm(ps);
}

int zt_paths_add_relay(struct zt_paths *ps, const struct zt_paths_relay *relay)
{
	if (ps->nrelays == ZT_PATHS_RELAYS_MAX)
		return -ENOSPC;
	if (!relay->send)
		return -EINVAL;
	ps->relays[ps->nrelays] = *relay;
	ps->observed[ps->nrelays].ss_family = AF_UNSPEC;
	ps->nrelays++;
	if (!has_peers(ps))
		return ps->nrelays - 1;		/* opening: nobody waits for it */
	ps->hs_retry_until_ns = zt_mono_ns() + RELAY_ADDED_RETRIES_NS;
	ps->hs_retry_ns = zt_mono_ns() + RELAY_ADDED_RETRY_NS;
	/* The first: peers get their way (the timer is armed there); any: the retries. */
	if (ps->nrelays == 1)
		peers_relays_changed(ps, -1, relays_came);
	else
		rearm(ps);
	return ps->nrelays - 1;
}

int zt_paths_remove_relay(struct zt_paths *ps, int index)
{
	size_t above;

	if (index < 0 || index >= ps->nrelays)
		return -ENOENT;
	above = (size_t)(ps->nrelays - index - 1);
	memmove(&ps->relays[index], &ps->relays[index + 1], above * sizeof(ps->relays[0]));
	memmove(&ps->observed[index], &ps->observed[index + 1], above * sizeof(ps->observed[0]));
	ps->nrelays--;
	ps->observed[ps->nrelays].ss_family = AF_UNSPEC;
	peers_relays_changed(ps, index, ps->nrelays ? NULL : relays_gone);
	return 0;
}

void zt_paths_set_observed(struct zt_paths *ps, int index, const struct sockaddr_storage *ep)
{
	if (index < 0 || index >= ps->nrelays)
		return;
	if (ep)
		ps->observed[index] = *ep;
	else
		ps->observed[index].ss_family = AF_UNSPEC;
}

void zt_paths_relay_up(struct zt_paths *ps)
{
	zt_tunnel_retry_handshakes(ps->t);
}

void zt_paths_track(struct zt_paths *ps, struct zt_tunnel_peer *p)
{
	uint64_t now = zt_mono_ns();
	struct path_peer *pp = peer_find(ps, zt_tunnel_peer_key(p));

	if (pp)
		peer_init(ps, pp, p, now);
	else
		peer_get(ps, p, now);
	rearm(ps);
}

bool zt_paths_recv(struct zt_paths *ps, struct zt_tunnel_peer *p, const uint8_t *payload,
		   size_t len)
{
	struct sockaddr_storage src = { .ss_family = AF_UNSPEC };
	enum zt_tunnel_rx_path how;
	struct path_peer *pp;
	uint64_t now;

	if (!len || payload[ZT_CTRL_OFF_TYPE] < ZT_CTRL_CANDIDATES ||
	    payload[ZT_CTRL_OFF_TYPE] > ZT_CTRL_PRIMED)
		return false;
	now = zt_mono_ns();
	pp = peer_get(ps, p, now);
	if (!pp)
		return true;
	how = zt_tunnel_rx_path(ps->t, &src);
	switch (payload[ZT_CTRL_OFF_TYPE]) {
	case ZT_CTRL_CANDIDATES:
		on_candidates(ps, pp, p, payload, len, now);
		break;
	case ZT_CTRL_PROBE:
		if (len == ZT_PROBE_LEN)
			on_probe(ps, pp, p, payload, how, &src, now);
		break;
	case ZT_CTRL_PROBE_ACK:
		if (len == ZT_PROBE_LEN)
			on_probe_ack(ps, pp, p, payload, how, &src, now);
		break;
	case ZT_CTRL_PRIMED:
		on_primed(ps, pp, p, payload, len, now);
		break;
	}
	rearm(ps);
	return true;
}

void zt_paths_session_up(struct zt_paths *ps, struct zt_tunnel_peer *p)
{
	enum zt_tunnel_rx_path how = zt_tunnel_rx_path(ps->t, NULL);
	uint64_t now = zt_mono_ns();
	struct path_peer *pp = peer_get(ps, p, now);

	if (!pp)
		return;
	if (how == ZT_TUNNEL_RX_DIRECT) {
		if (pp->state != ST_DIRECT)
			enter_direct(ps, pp, p, NULL, now);	/* roaming set the endpoint */
	} else if (how == ZT_TUNNEL_RX_RELAYED) {
		if (pp->state != ST_RELAYED)
			enter_relayed(ps, pp, p, now);
		send_candidates(ps, pp, p, now);
	}
	rearm(ps);
}

void zt_paths_other(struct zt_paths *ps, uint8_t *buf, size_t len, const struct sockaddr *src,
		    socklen_t srclen)
{
	for (int i = 0; i < ps->nrelays; i++) {
		const struct zt_paths_relay *r = &ps->relays[i];

		if (r->owns && r->input && r->owns(r->rc, src, srclen)) {
			r->input(r->rc, buf, len);
			return;
		}
	}
}

int zt_paths_relay_send(struct zt_paths *ps, struct zt_tunnel_peer *p, const uint8_t *datagram,
			size_t len)
{
	const uint8_t *key = zt_tunnel_peer_key(p);
	struct path_peer *pp = peer_find(ps, key);
	int ret = -ENETUNREACH;

	if (pp && pp->relay >= 0 && pp->relay < ps->nrelays) {
		const struct zt_paths_relay *r = &ps->relays[pp->relay];

		ret = r->send(r->rc, key, datagram, len);
		if (!ret)
			return 0;
	}
	for (int i = 0; i < ps->nrelays; i++) {
		const struct zt_paths_relay *r = &ps->relays[i];

		if (pp && i == pp->relay)
			continue;
		ret = r->send(r->rc, key, datagram, len);
		if (!ret) {
			if (pp)
				pp->relay = i;
			return 0;
		}
	}
	return ret;
}

void zt_paths_relayed_input(struct zt_paths *ps, int index, const uint8_t src[ZT_NOISE_KEY_LEN],
			    uint8_t *datagram, size_t len)
{
	struct path_peer *pp = peer_find(ps, src);

	/* Answers go back through the relay it used: the one it is registered with. */
	if (pp && index >= 0 && index < ps->nrelays)
		pp->relay = index;
	zt_tunnel_input_relayed(ps->t, src, datagram, len);
}

const char *zt_path_kind_name(enum zt_path_kind k)
{
	switch (k) {
	case ZT_PATH_DIRECT:
		return "direct";
	case ZT_PATH_RELAYED_UDP:
		return "relayed-udp";
	case ZT_PATH_RELAYED_TCP:
		return "relayed-tcp";
	default:
		return "none";
	}
}

int zt_paths_status(struct zt_paths *ps, const struct zt_tunnel_peer *p, struct zt_path_status *st)
{
	struct path_peer *pp = peer_find(ps, zt_tunnel_peer_key(p));
	struct zt_tunnel_peer_stats ts = tstats(p);

	memset(st, 0, sizeof(*st));
	st->endpoint.ss_family = AF_UNSPEC;
	if (!pp)
		return -ENOENT;
	st->last_handshake_ns = ts.last_handshake_ns;
	st->rx_bytes = ts.rx_bytes;
	st->tx_bytes = ts.tx_bytes;
	st->upgrades = pp->upgrades;
	st->fallbacks = pp->fallbacks;
	st->candidates = pp->ncands;
	st->candidates_refused = (unsigned int)pp->refused_total;
	st->rtt_us = pp->rtt_us;
	if (pp->state == ST_DIRECT) {
		if (ts.endpoint.ss_family != AF_UNSPEC) {
			st->path = ZT_PATH_DIRECT;
			st->endpoint = ts.endpoint;
		}
		return 0;
	}
	if (ps->nrelays) {
		int r = pp->relay >= 0 && pp->relay < ps->nrelays ? pp->relay : 0;

		st->path = ps->relays[r].tcp ? ZT_PATH_RELAYED_TCP : ZT_PATH_RELAYED_UDP;
		st->relay = ps->relays[r].name;
	}
	return 0;
}

int zt_paths_ping(struct zt_paths *ps, struct zt_tunnel_peer *p, uint64_t *id)
{
	struct path_peer *pp = peer_get(ps, p, zt_mono_ns());
	uint8_t msg[ZT_PROBE_LEN];
	struct ping_sent *slot;
	uint64_t v = 0;
	int ret;

	if (!pp)
		return -ENOMEM;
	while (!v)
		if (!RAND_bytes((uint8_t *)&v, sizeof(v)))
			return -EIO;
	msg[ZT_CTRL_OFF_TYPE] = ZT_CTRL_PROBE;
	memcpy(msg + ZT_PROBE_OFF_ID, &v, ZT_PROBE_ID_LEN);
	slot = &pp->pings[pp->ping_slot];
	*slot = (struct ping_sent){ .id = v, .sent_ns = zt_mono_ns(), .relay = -1 };
	/* Along the peer's path, as its traffic goes: queued behind a handshake if need be. */
	ret = zt_tunnel_send(ps->t, p, msg, sizeof(msg));
	if (ret) {
		slot->id = 0;
		return ret;
	}
	pp->ping_slot = (pp->ping_slot + 1) % PINGS_KEPT;
	*id = v;
	rearm(ps);
	return 0;
}

int zt_paths_pong(struct zt_paths *ps, const struct zt_tunnel_peer *p, uint64_t id,
		  struct zt_paths_pong *out)
{
	struct path_peer *pp = peer_find(ps, zt_tunnel_peer_key(p));

	memset(out, 0, sizeof(*out));
	out->path = ZT_PATH_NONE;
	out->from.ss_family = AF_UNSPEC;
	for (unsigned int i = 0; pp && id && i < PINGS_KEPT; i++) {
		const struct ping_sent *ping = &pp->pings[i];

		if (ping->id != id)
			continue;
		out->answered = ping->answered;
		if (!ping->answered)
			return 0;
		out->rtt_ns = ping->rtt_ns;
		if (ping->direct) {
			out->path = ZT_PATH_DIRECT;
			out->from = ping->from;
		} else if (ping->relay >= 0 && ping->relay < ps->nrelays) {
			out->path = ps->relays[ping->relay].tcp ? ZT_PATH_RELAYED_TCP :
								  ZT_PATH_RELAYED_UDP;
			out->relay = ps->relays[ping->relay].name;
		} else {
			out->path = ZT_PATH_RELAYED_UDP;	/* relayed, by a relay since removed */
		}
		return 0;
	}
	return -ENOENT;
}

/* The answer to ping ID (16 hex digits) in O; ERR when it is not one of P's. */
static int pong_json(struct zt_paths *ps, struct zt_tunnel_peer *p, const char *id,
		     json_object *o, char *err, size_t errlen)
{
	struct zt_paths_pong pong;
	unsigned long long v;
	char *end, buf[64];

	errno = 0;
	v = strtoull(id, &end, 16);
	if (errno || !*id || *end || strlen(id) != 16 ||
	    zt_paths_pong(ps, p, (uint64_t)v, &pong)) {
		snprintf(err, errlen, "ping %.32s: no such probe (forgotten after %d more)", id,
			 PINGS_KEPT);
		return -ENOENT;
	}
	json_object_object_add(o, "answered", json_object_new_boolean(pong.answered));
	if (!pong.answered)
		return 0;
	json_object_object_add(o, "path", json_object_new_string(zt_path_kind_name(pong.path)));
	if (pong.path == ZT_PATH_DIRECT) {
		format_ep(&pong.from, buf, sizeof(buf));
		json_object_object_add(o, "endpoint", json_object_new_string(buf));
	} else if (pong.relay) {
		json_object_object_add(o, "relay", json_object_new_string(pong.relay));
	}
	json_object_object_add(o, "rtt_ms", json_object_new_double((double)pong.rtt_ns / 1e6));
	return 0;
}

int zt_paths_ping_json(struct zt_paths *ps, struct zt_tunnel_peer *p, const char *id,
		       json_object *o, char *err, size_t errlen)
{
	char buf[24];
	uint64_t v;
	int ret;

	if (!ps || !p) {
		snprintf(err, errlen, "no tunnel to this peer");
		return -ENOTCONN;
	}
	if (id)
		return pong_json(ps, p, id, o, err, errlen);
	ret = zt_paths_ping(ps, p, &v);
	if (ret) {
		snprintf(err, errlen, "ping: %s", strerror(-ret));
		return ret;
	}
	snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)v);
	json_object_object_add(o, "id", json_object_new_string(buf));
	json_object_object_add(o, "session_up", json_object_new_boolean(session_up(p)));
	return 0;
}

void zt_paths_stats_json(struct zt_paths *ps, const struct zt_tunnel_peer *p, json_object *row)
{
	struct zt_path_status st = { .path = ZT_PATH_NONE };

	if (p && (!ps || zt_paths_status(ps, p, &st))) {
		memset(&st, 0, sizeof(st));
		st.path = tstats(p).endpoint.ss_family != AF_UNSPEC ? ZT_PATH_DIRECT : ZT_PATH_NONE;
	}
	json_object_object_add(row, "path", json_object_new_string(zt_path_kind_name(st.path)));
	if (st.rtt_us)
		json_object_object_add(row, "rtt_ms", json_object_new_double((double)st.rtt_us / 1000.0));
	json_object_object_add(row, "upgrades", json_object_new_int64((int64_t)st.upgrades));
	json_object_object_add(row, "fallbacks", json_object_new_int64((int64_t)st.fallbacks));
}

/*
 * The peer's candidates as last received: "candidates" (taken, probed) and
 * "candidates_refused" ([{"candidate", "why"}] of the last message), and
 * "candidates_refused_total" since it was tracked.
 */
static void candidates_json(const struct path_peer *pp, json_object *o)
{
	json_object *taken = json_object_new_array(), *refused = json_object_new_array();
	char buf[64];

	for (unsigned int i = 0; pp && i < pp->ncands; i++) {
		format_ep(&pp->cands[i], buf, sizeof(buf));
		json_object_array_add(taken, json_object_new_string(buf));
	}
	for (unsigned int i = 0; pp && i < pp->nrefused; i++) {
		json_object *r = json_object_new_object();

		format_ep(&pp->refused[i], buf, sizeof(buf));
		json_object_object_add(r, "candidate", json_object_new_string(buf));
		json_object_object_add(r, "why", json_object_new_string(zt_cand_why_name(pp->refused_why[i])));
		json_object_array_add(refused, r);
	}
	json_object_object_add(o, "candidates", taken);
	json_object_object_add(o, "candidates_refused", refused);
	json_object_object_add(o, "candidates_refused_total",
			       json_object_new_int64(pp ? (int64_t)pp->refused_total : 0));
}

json_object *zt_paths_status_json(struct zt_paths *ps, const char *name,
				  const struct zt_tunnel_peer *p)
{
	json_object *o = json_object_new_object();
	struct zt_path_status st = { .path = ZT_PATH_NONE };
	char buf[64], key[ZT_KEY_B64_LEN + 1];

	json_object_object_add(o, "name", json_object_new_string(name));
	if (p) {
		struct zt_tunnel_peer_stats ts = tstats(p);

		zt_key_to_base64(zt_tunnel_peer_key(p), key);
		json_object_object_add(o, "pubkey", json_object_new_string(key));
		if (!ps || zt_paths_status(ps, p, &st)) {
			/* No path logic: the tunnel alone, direct when it knows where. */
			memset(&st, 0, sizeof(st));
			st.path = ts.endpoint.ss_family != AF_UNSPEC ? ZT_PATH_DIRECT : ZT_PATH_NONE;
			st.endpoint = ts.endpoint;
			st.last_handshake_ns = ts.last_handshake_ns;
			st.rx_bytes = ts.rx_bytes;
			st.tx_bytes = ts.tx_bytes;
		}
		json_object_object_add(o, "session_up", json_object_new_boolean(ts.session_up));
	}
	json_object_object_add(o, "path", json_object_new_string(zt_path_kind_name(st.path)));
	if (st.path == ZT_PATH_DIRECT)
		format_ep(&st.endpoint, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "%s", st.relay ? st.relay : "");
	json_object_object_add(o, "endpoint", json_object_new_string(buf));
	if (st.rtt_us)
		json_object_object_add(o, "rtt_ms", json_object_new_double((double)st.rtt_us / 1000.0));
	if (st.last_handshake_ns) {
		zt_format_time(st.last_handshake_ns, buf, sizeof(buf));
		json_object_object_add(o, "last_handshake", json_object_new_string(buf));
	}
	json_object_object_add(o, "rx_bytes", json_object_new_int64((int64_t)st.rx_bytes));
	json_object_object_add(o, "tx_bytes", json_object_new_int64((int64_t)st.tx_bytes));
	json_object_object_add(o, "upgrades", json_object_new_int64((int64_t)st.upgrades));
	json_object_object_add(o, "fallbacks", json_object_new_int64((int64_t)st.fallbacks));
	if (ps && p)
		candidates_json(peer_find(ps, zt_tunnel_peer_key(p)), o);
	return o;
}
