// SPDX-License-Identifier: GPL-2.0-only
/*
 * The relay server (docs/RELAY.md), run by roles/relay.c. One UDP port answers
 * STUN Binding requests and carries the relay messages; an optional TCP
 * port carries the same messages length-prefixed, for peers whose UDP is
 * blocked. Registered peers that accept each other exchange tunnel
 * datagrams through it; everything else is dropped, and answered (if at
 * all) with fewer bytes than it carried, at a bounded rate per source.
 *
 * State: the registered peers, found by key and (UDP) by source endpoint;
 * the TCP connections; a fixed table of per-source token buckets for the
 * messages that anyone may send (STUN, hello, register, and the errors we
 * answer with), one entry per source address. Nothing grows with
 * unauthenticated traffic, and everything is capped (issue 10 A4): peers,
 * accept-list keys (per peer and in all), a registration's age, TCP
 * connections (per source, unregistered, in all) and their buffers, which
 * are allocated as frames need them.
 *
 * The relay reads no tunnel datagram: they are sealed end to end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/curve25519.h>
#include <openssl/mem.h>
#include <openssl/rand.h>
#include <openssl/siphash.h>

#include "lib/addr.h"
#include "lib/clock.h"
#include "lib/udp_batch.h"
#include "lib/log.h"
#include "relay/proto.h"
#include "relay/server.h"
#include "relay/stun.h"
#include "tunnel/keys.h"

#define RELAY_BATCH		32		/* datagrams per recvmmsg / sendmmsg */
#define RELAY_OUT_MAX		(2 * RELAY_BATCH)
#define RELAY_REPLY_MAX		128		/* our own replies, copied into the batch */
#define RELAY_HASH_BITS		14
#define RELAY_SRC_SETS		4096		/* per-source entries: sets of ... */
#define RELAY_SRC_WAYS		8		/* ... this many, each one address */
#define RELAY_SRC_TOUCHED	64		/* sets zt_relay_server_reset clears one by one */
#define RELAY_MAX_PEERS		16384
#define RELAY_MAX_CONNS		4096
#define RELAY_MAX_UNREG_CONNS	1024		/* not registered: the oldest makes room */
#define RELAY_TCP_PER_SOURCE	8		/* connections from one address */
#define RELAY_TCP_OUT_MAX	(256 * 1024)	/* queued bytes per connection */
#define RELAY_TCP_OUT_MIN	1024		/* the output buffer's first size */
#define RELAY_TCP_OUT_KEEP	16384		/* kept when empty; a bigger one is freed */
#define RELAY_TCP_OUT_TOTAL	(64u << 20)	/* output buffers of all connections */
#define RELAY_TCP_IN_MIN	512		/* the input buffer's size until a frame needs more */
#define NSEC			1000000000ull

/* A token bucket; RATE per second, depth BURST. */
struct bucket {
	double tokens;
	uint64_t last_ns;
};

static bool bucket_take(struct bucket *b, double rate, double burst, double cost, uint64_t now)
{
	if (!b->last_ns) {
		b->tokens = burst;
	} else if (now > b->last_ns) {
		b->tokens += (double)(now - b->last_ns) * rate / 1e9;
		if (b->tokens > burst)
			b->tokens = burst;
	}
	b->last_ns = now;
	if (b->tokens < cost)
		return false;
	b->tokens -= cost;
	return true;
}

/*
 * Per source address (any port): what anyone may make us do, and its TCP
 * connections. A set-associative table keyed by SipHash of the address:
 * an entry holds one address, so two sources never share buckets; a new
 * address takes a free way or the least recently used one without TCP
 * connections (its buckets start full again, as after two idle seconds).
 */
struct src_slot {
	uint8_t addr[16];
	bool used;
	uint16_t tcp_conns;
	uint64_t last_ns;
	struct bucket stun, hs, err;
};

struct tcp_conn;
struct zt_relay_server;

struct relay_peer {
	uint8_t key[ZT_RELAY_KEYLEN];
	struct zt_relay_mac_key k;
	uint32_t index;
	uint8_t (*accept)[ZT_RELAY_KEYLEN];	/* sorted */
	size_t naccept;
	/* Where it registered from: a UDP endpoint, or a TCP connection. */
	struct tcp_conn *conn;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct zt_endpoint ep;
	bool in_ep_table;
	uint64_t registered_ns, expires_ns;
	struct bucket pkts, bytes;
	uint64_t tx_packets, tx_bytes;		/* sent by it, forwarded */
	uint64_t rx_packets, rx_bytes;		/* delivered to it */
	uint64_t dropped_rate_limited;
	struct relay_peer *next_key, *next_ep;
};

struct tcp_conn {
	int fd;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint8_t *in;				/* allocated as frames need it */
	size_t inlen, incap;
	uint8_t *out;
	size_t outlen, outoff, outcap;
	bool want_out;
	uint64_t last_rx_ns, accepted_ns;	/* last_rx: the last valid frame */
	struct src_slot *src;			/* holds this connection's count */
	struct relay_peer *peer;
	struct zt_relay_server *r;
	struct tcp_conn *prev, *next;
};

struct relay_stats {
	uint64_t stun_answered, stun_dropped;
	uint64_t challenges, registrations, keepalives, expired;
	uint64_t forwarded_packets, forwarded_bytes;
	uint64_t dropped_not_registered, dropped_unknown_peer, dropped_not_accepted;
	uint64_t dropped_rate_limited, dropped_malformed, dropped_bad_cookie, dropped_bad_mac;
	uint64_t dropped_src_limited, dropped_tcp_full, dropped_send_failed, dropped_peer_limit;
	uint64_t errors_sent;
	uint64_t tcp_accepted, tcp_closed, tcp_refused, tcp_source_limited, tcp_unreg_evicted;
	uint64_t max_age_expired;
};

/* A message's origin: a UDP source, or a TCP connection. */
struct origin {
	const struct sockaddr_storage *addr;
	socklen_t addrlen;
	struct tcp_conn *conn;
};

struct zt_relay_server {
	struct zt_loop *loop;
	struct zt_relay_server_cfg o;
	uint8_t priv[ZT_RELAY_KEYLEN], pub[ZT_RELAY_KEYLEN];
	struct zt_relay_cookie_secret cookie;
	uint64_t hash_key[2];

	int udp_fd, tcp_fd, timer_fd;
	uint16_t udp_port, tcp_port;

	struct relay_peer *by_key[1u << RELAY_HASH_BITS];
	struct relay_peer *by_ep[1u << RELAY_HASH_BITS];
	size_t npeers, naccept;		/* naccept: keys on all accept lists */
	uint32_t next_index;

	struct tcp_conn *conns;
	size_t nconns, out_bytes;	/* out_bytes: all output buffers' sizes */

	struct src_slot *src;		/* RELAY_SRC_SETS x RELAY_SRC_WAYS */
	/*
	 * The sets that took a new source since the last zt_relay_server_reset,
	 * so that it clears those instead of the whole 2.6 MB table; past
	 * RELAY_SRC_TOUCHED it clears everything.
	 */
	uint16_t src_touched[RELAY_SRC_TOUCHED];
	unsigned int nsrc_touched;

	/* UDP batches (lib/udp_batch.h): forwarded datagrams go out of rx by reference. */
	struct zt_udp_batch *ub;

	struct relay_stats st;
};

/* ---- tables ---- */

static size_t hash_bytes(const struct zt_relay_server *r, const void *p, size_t n)
{
	return (size_t)(SIPHASH_24(r->hash_key, p, n) & ((1u << RELAY_HASH_BITS) - 1));
}

static size_t hash_ep(const struct zt_relay_server *r, const struct zt_endpoint *ep)
{
	uint8_t b[18];

	memcpy(b, ep->addr, 16);
	b[16] = ep->port >> 8;
	b[17] = ep->port & 0xff;
	return hash_bytes(r, b, sizeof(b));
}

static struct relay_peer *peer_by_key(struct zt_relay_server *r, const uint8_t key[ZT_RELAY_KEYLEN])
{
	struct relay_peer *p = r->by_key[hash_bytes(r, key, ZT_RELAY_KEYLEN)];

	while (p && memcmp(p->key, key, ZT_RELAY_KEYLEN))
		p = p->next_key;
	return p;
}

static struct relay_peer *peer_by_ep(struct zt_relay_server *r, const struct zt_endpoint *ep)
{
	struct relay_peer *p = r->by_ep[hash_ep(r, ep)];

	while (p && !zt_endpoint_equal(&p->ep, ep))
		p = p->next_ep;
	return p;
}

static void ep_unlink(struct zt_relay_server *r, struct relay_peer *p)
{
	struct relay_peer **pp;

	if (!p->in_ep_table)
		return;
	for (pp = &r->by_ep[hash_ep(r, &p->ep)]; *pp; pp = &(*pp)->next_ep)
		if (*pp == p) {
			*pp = p->next_ep;
			break;
		}
	p->in_ep_table = false;
}

static void peer_detach_transport(struct zt_relay_server *r, struct relay_peer *p)
{
	ep_unlink(r, p);
	if (p->conn) {
		p->conn->peer = NULL;
		p->conn = NULL;
	}
}

static void peer_free(struct zt_relay_server *r, struct relay_peer *p)
{
	struct relay_peer **pp;

	peer_detach_transport(r, p);
	for (pp = &r->by_key[hash_bytes(r, p->key, ZT_RELAY_KEYLEN)]; *pp; pp = &(*pp)->next_key)
		if (*pp == p) {
			*pp = p->next_key;
			break;
		}
	zt_relay_mac_key_destroy(&p->k);
	free(p->accept);
	r->naccept -= p->naccept;
	free(p);
	r->npeers--;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, ZT_RELAY_KEYLEN);
}

static bool accepts(const struct relay_peer *p, const uint8_t key[ZT_RELAY_KEYLEN])
{
	return p->naccept && bsearch(key, p->accept, p->naccept, ZT_RELAY_KEYLEN, key_cmp);
}

/* SA's own entry (made if new, at NOW); NULL if its set is all held by TCP connections. */
static struct src_slot *src_slot(struct zt_relay_server *r, const struct sockaddr *sa, uint64_t now)
{
	struct src_slot *set, *victim = NULL;
	struct zt_endpoint ep;
	size_t si;

	if (zt_relay_endpoint_from_sockaddr(sa, &ep))
		return NULL;
	si = SIPHASH_24(r->hash_key, ep.addr, 16) % RELAY_SRC_SETS;
	set = &r->src[si * RELAY_SRC_WAYS];
	for (int i = 0; i < RELAY_SRC_WAYS; i++) {
		struct src_slot *e = &set[i];

		if (e->used && !memcmp(e->addr, ep.addr, 16)) {
			e->last_ns = now;
			return e;
		}
		if (!e->used) {
			if (!victim || victim->used)
				victim = e;
		} else if (!e->tcp_conns && (!victim || (victim->used && e->last_ns < victim->last_ns))) {
			victim = e;
		}
	}
	if (!victim)
		return NULL;
	if (r->nsrc_touched < RELAY_SRC_TOUCHED)
		r->src_touched[r->nsrc_touched] = (uint16_t)si;
	r->nsrc_touched += r->nsrc_touched <= RELAY_SRC_TOUCHED;	/* saturates past the list */
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->addr, ep.addr, 16);
	victim->used = true;
	victim->last_ns = now;
	return victim;
}

/* ---- output ---- */

/* Full socket buffer or an unreachable destination: that datagram is lost, the rest go. */
static void udp_flush(struct zt_relay_server *r)
{
	r->st.dropped_send_failed += zt_udp_batch_flush(r->ub);
}

/* Queue DATA (kept by reference until the flush) to ADDR. */
static void udp_queue(struct zt_relay_server *r, const struct sockaddr_storage *addr, socklen_t addrlen,
		      uint8_t *data, size_t len)
{
	if (zt_udp_batch_full(r->ub))
		udp_flush(r);
	if (zt_udp_batch_queue(r->ub, data, len, (const struct sockaddr *)addr, addrlen))
		r->st.dropped_send_failed++;
}

static void conn_close(struct zt_relay_server *r, struct tcp_conn *c);

static int conn_try_write(struct zt_relay_server *r, struct tcp_conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		c->outoff += (size_t)n;
	}
	if (c->outoff == c->outlen) {
		c->outoff = c->outlen = 0;
		if (c->outcap > RELAY_TCP_OUT_KEEP) {
			r->out_bytes -= c->outcap;
			free(c->out);
			c->out = NULL;
			c->outcap = 0;
		}
	}
	if ((c->outlen > 0) != c->want_out) {
		c->want_out = c->outlen > 0;
		zt_loop_mod(r->loop, c->fd, EPOLLIN | (c->want_out ? EPOLLOUT : 0));
	}
	return 0;
}

/* Append one frame; false if the connection's queue is full (the frame is dropped). */
static bool conn_queue(struct tcp_conn *c, const uint8_t *msg, size_t len)
{
	if (c->outoff && c->outlen + 2 + len > c->outcap) {
		memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
		c->outlen -= c->outoff;
		c->outoff = 0;
	}
	if (c->outlen + 2 + len > RELAY_TCP_OUT_MAX)
		return false;
	if (c->outlen + 2 + len > c->outcap) {
		/* Grown as the queue needs it, up to RELAY_TCP_OUT_MAX. */
		size_t cap = c->outcap ? c->outcap : RELAY_TCP_OUT_MIN;
		uint8_t *nb;

		while (cap < c->outlen + 2 + len)
			cap *= 2;
		if (cap > RELAY_TCP_OUT_MAX)
			cap = RELAY_TCP_OUT_MAX;
		if (c->r->out_bytes - c->outcap + cap > RELAY_TCP_OUT_TOTAL)
			return false;
		nb = realloc(c->out, cap);
		if (!nb)
			return false;
		c->r->out_bytes = c->r->out_bytes - c->outcap + cap;
		c->out = nb;
		c->outcap = cap;
	}
	c->out[c->outlen] = (uint8_t)(len >> 8);
	c->out[c->outlen + 1] = (uint8_t)len;
	memcpy(c->out + c->outlen + 2, msg, len);
	c->outlen += 2 + len;
	return true;
}

/* A reply of ours (at most 128 bytes) to the origin of a request. */
static void reply(struct zt_relay_server *r, const struct origin *o, const uint8_t *msg, size_t len)
{
	if (o->conn) {
		if (!conn_queue(o->conn, msg, len))
			r->st.dropped_tcp_full++;
		return;
	}
	if (zt_udp_batch_full(r->ub))
		udp_flush(r);
	if (zt_udp_batch_queue_copy(r->ub, msg, len, (const struct sockaddr *)o->addr, o->addrlen))
		r->st.dropped_send_failed++;
}

/*
 * An error answers only a request of at least ZT_RELAY_ERROR_MIN_REQUEST
 * bytes (8 < 40: never an amplifier) and at most at the source's error
 * rate: a flood of junk gets a trickle of errors.
 */
static void reply_error(struct zt_relay_server *r, const struct origin *o, size_t req_len, uint16_t code,
			uint64_t now)
{
	uint8_t buf[ZT_RELAY_ERROR_LEN];
	struct src_slot *s;

	if (req_len < ZT_RELAY_ERROR_MIN_REQUEST)
		return;
	s = src_slot(r, (const struct sockaddr *)o->addr, now);
	if (!s || !bucket_take(&s->err, 5, 10, 1, now))
		return;
	zt_relay_error_encode(code, buf, sizeof(buf));
	reply(r, o, buf, sizeof(buf));
	r->st.errors_sent++;
}

/* ---- STUN ---- */

static void on_stun(struct zt_relay_server *r, const struct origin *o, const uint8_t *msg, size_t len,
		    uint64_t now)
{
	struct zt_stun_msg m;
	struct zt_stun_builder b;
	struct zt_endpoint ep;
	struct zt_stun_addr from;
	struct src_slot *s;
	uint8_t out[128];
	ssize_t n;
	int ret;

	ret = zt_stun_parse(msg, len, &m);
	if (ret < 0 || m.type != ZT_STUN_BINDING_REQUEST) {
		r->st.dropped_malformed++;
		return;
	}
	s = src_slot(r, (const struct sockaddr *)o->addr, now);
	if (!s || !bucket_take(&s->stun, r->o.src_stun_rate, 2 * r->o.src_stun_rate, 1, now)) {
		r->st.stun_dropped++;
		return;
	}
	if (ret == ZT_STUN_PARSE_UNKNOWN) {
		/* 420 lists what we did not know: answered only if no bigger than the rule allows. */
		n = zt_stun_build_binding_error(&m, ZT_STUN_ERR_UNKNOWN_ATTRIBUTE, NULL, NULL, out,
						sizeof(out));
	} else {
		zt_relay_endpoint_from_sockaddr((const struct sockaddr *)o->addr, &ep);
		memcpy(from.addr, ep.addr, 16);
		from.family = ep.family;
		from.port = ep.port;
		zt_stun_init(&b, out, sizeof(out), ZT_STUN_BINDING_SUCCESS, m.tid);
		zt_stun_add_addr(&b, ZT_STUN_A_XOR_MAPPED_ADDRESS, &from);
		/* FINGERPRINT only when asked for it: the reply stays within request + 20 bytes. */
		if (m.has_fingerprint)
			zt_stun_add_fingerprint(&b);
		n = zt_stun_finish(&b);
	}
	if (n < 0 || (size_t)n > len + 20) {
		r->st.stun_dropped++;
		return;
	}
	reply(r, o, out, (size_t)n);
	r->st.stun_answered++;
}

/* ---- relay messages ---- */

static bool origin_endpoint(const struct origin *o, struct zt_endpoint *ep)
{
	return !zt_relay_endpoint_from_sockaddr((const struct sockaddr *)o->addr, ep);
}

/* Each handler below: true if the message was valid and did its work (a TCP connection's sign of life). */
static bool on_hello(struct zt_relay_server *r, const struct origin *o, const uint8_t *msg, size_t len,
		     struct src_slot *s, uint64_t now)
{
	struct zt_relay_challenge ch;
	uint8_t key[ZT_RELAY_KEYLEN], out[ZT_RELAY_CHALLENGE_LEN];

	if (zt_relay_hello_parse(msg, len, key)) {
		r->st.dropped_malformed++;
		return false;
	}
	if (!bucket_take(&s->hs, r->o.src_hs_rate, 2 * r->o.src_hs_rate, 1, now)) {
		r->st.dropped_src_limited++;
		return false;
	}
	memcpy(ch.relay_key, r->pub, sizeof(ch.relay_key));
	if (zt_relay_cookie_make_on(&r->cookie, now, (const struct sockaddr *)o->addr, o->conn != NULL,
				    key, ch.cookie))
		return false;
	zt_relay_challenge_encode(&ch, out, sizeof(out));
	reply(r, o, out, sizeof(out));
	r->st.challenges++;
	return true;
}

static void send_registered(struct zt_relay_server *r, const struct origin *o, struct relay_peer *p,
			    uint64_t now)
{
	struct zt_relay_registered m = { .index = p->index, .lifetime_s = r->o.lifetime_s };

	/* Never more than is left of the registration's maximum age. */
	if (p->expires_ns > now && (p->expires_ns - now) / NSEC < m.lifetime_s)
		m.lifetime_s = (uint16_t)((p->expires_ns - now) / NSEC);
	if (!m.lifetime_s)
		m.lifetime_s = 1;
	uint8_t out[ZT_RELAY_REGISTERED_LEN];

	if (!origin_endpoint(o, &m.observed))
		return;
	if (zt_relay_registered_encode(&m, &p->k, out, sizeof(out)) < 0)
		return;
	reply(r, o, out, sizeof(out));
}

/* A new peer with KEY and mac key K in the key table; NULL at the peer limit. */
static struct relay_peer *peer_new(struct zt_relay_server *r, const uint8_t key[ZT_RELAY_KEYLEN],
				   const struct zt_relay_mac_key *k)
{
	struct relay_peer *p;
	size_t h;

	if (r->npeers >= RELAY_MAX_PEERS) {
		r->st.dropped_peer_limit++;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	memcpy(p->key, key, ZT_RELAY_KEYLEN);
	p->k = *k;
	p->index = ++r->next_index;
	h = hash_bytes(r, p->key, ZT_RELAY_KEYLEN);
	p->next_key = r->by_key[h];
	r->by_key[h] = p;
	r->npeers++;
	return p;
}

/* P registered from O: the newest registration's transport wins. */
static void peer_bind_origin(struct zt_relay_server *r, struct relay_peer *p, const struct origin *o)
{
	peer_detach_transport(r, p);
	if (o->conn) {
		if (o->conn->peer && o->conn->peer != p)
			peer_free(r, o->conn->peer);	/* one registration per connection */
		o->conn->peer = p;
		p->conn = o->conn;
		memset(&p->ep, 0, sizeof(p->ep));
		origin_endpoint(o, &p->ep);
	} else {
		struct relay_peer *old;
		size_t h;

		origin_endpoint(o, &p->ep);
		/* Another key registered from this endpoint before: the endpoint is ours now. */
		old = peer_by_ep(r, &p->ep);
		if (old)
			ep_unlink(r, old);
		h = hash_ep(r, &p->ep);
		p->next_ep = r->by_ep[h];
		r->by_ep[h] = p;
		p->in_ep_table = true;
	}
	memcpy(&p->addr, o->addr, o->addrlen);
	p->addrlen = o->addrlen;
}

/*
 * The accept list of a register (N keys at KEYS), sorted, for a peer that
 * holds OLD keys now; NULL with *ERR set past the caps (issue 10 A4: per
 * peer and in all, so accept lists cost at most total_accept_max x 32 bytes).
 */
static uint8_t (*accept_copy(struct zt_relay_server *r, const uint8_t *keys, size_t n,
			     size_t old, bool *err))[ZT_RELAY_KEYLEN]
{
	uint8_t (*accept)[ZT_RELAY_KEYLEN];

	*err = true;
	if (n > r->o.peer_accept_max || r->naccept - old + n > r->o.total_accept_max) {
		r->st.dropped_peer_limit++;
		return NULL;
	}
	*err = false;
	if (!n)
		return NULL;
	accept = malloc(n * ZT_RELAY_KEYLEN);
	if (!accept) {
		*err = true;
		return NULL;
	}
	memcpy(accept, keys, n * ZT_RELAY_KEYLEN);
	qsort(accept, n, ZT_RELAY_KEYLEN, key_cmp);
	return accept;
}

static bool on_register(struct zt_relay_server *r, const struct origin *o, const uint8_t *msg, size_t len,
			struct src_slot *s, uint64_t now)
{
	struct zt_relay_register m;
	struct zt_relay_mac_key k;
	struct relay_peer *p;
	uint8_t (*accept)[ZT_RELAY_KEYLEN];
	bool fresh = false, err, ok = false;

	if (zt_relay_register_parse(msg, len, &m)) {
		r->st.dropped_malformed++;
		return false;
	}
	if (!bucket_take(&s->hs, r->o.src_hs_rate, 2 * r->o.src_hs_rate, 1, now)) {
		r->st.dropped_src_limited++;
		return false;
	}
	if (!zt_relay_cookie_ok_on(&r->cookie, now, (const struct sockaddr *)o->addr, o->conn != NULL,
				   m.key, m.cookie)) {
		r->st.dropped_bad_cookie++;
		return false;
	}
	p = peer_by_key(r, m.key);
	if (p) {
		k = p->k;
	} else if (zt_relay_mac_key(r->priv, m.key, &k)) {
		r->st.dropped_bad_mac++;
		return false;
	}
	if (!zt_relay_mac_ok(msg, len, &k)) {
		r->st.dropped_bad_mac++;
		goto out;
	}
	accept = accept_copy(r, m.accept, m.n, p ? p->naccept : 0, &err);
	if (err)
		goto out;
	if (!p) {
		p = peer_new(r, m.key, &k);
		if (!p) {
			free(accept);
			goto out;
		}
		fresh = true;
	}
	free(p->accept);
	r->naccept = r->naccept - p->naccept + m.n;
	p->accept = accept;
	p->naccept = m.n;
	peer_bind_origin(r, p, o);
	/* A register (a fresh cookie, a MAC) starts the maximum age again; a keepalive does not. */
	p->registered_ns = now;
	p->expires_ns = now + (uint64_t)(r->o.lifetime_s < r->o.max_age_s ? r->o.lifetime_s
									: r->o.max_age_s) * NSEC;
	r->st.registrations++;
	if (fresh) {
		char b64[ZT_KEY_B64_LEN + 1], ep[64];

		zt_key_to_base64(p->key, b64);
		zt_endpoint_format(&p->ep, ep, sizeof(ep));
		zt_log("info", "relay: peer %s registered from %s%s (%u accepted)", b64, ep,
		       o->conn ? " over TCP" : "", m.n);
	}
	send_registered(r, o, p, now);
	ok = true;
out:
	OPENSSL_cleanse(&k, sizeof(k));
	return ok;
}

/* The registration MSG's source holds, or NULL. */
static struct relay_peer *peer_of_origin(struct zt_relay_server *r, const struct origin *o)
{
	struct zt_endpoint ep;

	if (o->conn)
		return o->conn->peer;
	if (!origin_endpoint(o, &ep))
		return NULL;
	return peer_by_ep(r, &ep);
}

/*
 * A keepalive extends a registration by a lifetime, but never past its
 * maximum age (registered_ns + max_age_s): keepalives are replayable, so a
 * registration must be made again with a fresh cookie and MAC that often.
 * Within the last lifetime of it, a keepalive is answered with error 4,
 * which has the peer register again (hello, register) while this
 * registration still holds: no gap when the peer is alive.
 */
static bool on_keepalive(struct zt_relay_server *r, const struct origin *o, const uint8_t *msg,
			 size_t len, uint64_t now)
{
	uint8_t key[ZT_RELAY_KEYLEN];
	struct relay_peer *p;
	uint64_t end;

	if (zt_relay_keepalive_parse(msg, len, key)) {
		r->st.dropped_malformed++;
		return false;
	}
	p = peer_of_origin(r, o);
	/* Only from where it registered: a keepalive is replayable, a register is not. */
	if (!p || memcmp(p->key, key, ZT_RELAY_KEYLEN)) {
		r->st.dropped_not_registered++;
		reply_error(r, o, len, ZT_RELAY_E_NOT_REGISTERED, now);
		return false;
	}
	if (!zt_relay_mac_ok(msg, len, &p->k)) {
		r->st.dropped_bad_mac++;
		return false;
	}
	end = p->registered_ns + (uint64_t)r->o.max_age_s * NSEC;
	r->st.keepalives++;
	if (now + (uint64_t)r->o.lifetime_s * NSEC >= end) {
		p->expires_ns = end;
		reply_error(r, o, len, ZT_RELAY_E_NOT_REGISTERED, now);
		return true;
	}
	p->expires_ns = now + (uint64_t)r->o.lifetime_s * NSEC;
	send_registered(r, o, p, now);
	return true;
}

/* MSG is a send (LEN bytes, writable): rewrite it in place as a recv and deliver it. */
static bool on_send(struct zt_relay_server *r, const struct origin *o, uint8_t *msg, size_t len,
		    uint64_t now)
{
	struct relay_peer *a, *b;
	struct zt_relay_fwd m;

	if (zt_relay_fwd_parse(ZT_RELAY_SEND, msg, len, &m)) {
		r->st.dropped_malformed++;
		return false;
	}
	a = peer_of_origin(r, o);
	if (!a) {
		r->st.dropped_not_registered++;
		reply_error(r, o, len, ZT_RELAY_E_NOT_REGISTERED, now);
		return false;
	}
	b = peer_by_key(r, m.key);
	if (!b || (!b->conn && !b->in_ep_table)) {
		r->st.dropped_unknown_peer++;
		reply_error(r, o, len, ZT_RELAY_E_UNKNOWN_PEER, now);
		return true;
	}
	if (!accepts(b, a->key) || !accepts(a, b->key)) {
		r->st.dropped_not_accepted++;
		reply_error(r, o, len, ZT_RELAY_E_NOT_ACCEPTED, now);
		return true;
	}
	if (!bucket_take(&a->pkts, r->o.peer_pps, r->o.peer_pps, 1, now) ||
	    !bucket_take(&a->bytes, r->o.peer_bps, r->o.peer_bps, (double)len, now)) {
		r->st.dropped_rate_limited++;
		a->dropped_rate_limited++;
		reply_error(r, o, len, ZT_RELAY_E_RATE_LIMITED, now);
		return true;
	}
	msg[0] = ZT_RELAY_RECV;
	memcpy(msg + 4, a->key, ZT_RELAY_KEYLEN);
	if (b->conn) {
		if (!conn_queue(b->conn, msg, len)) {
			r->st.dropped_tcp_full++;
			return true;
		}
		/* A failed write shows up as EPOLLERR on B's connection, closed there. */
		conn_try_write(r, b->conn);
	} else if (o->conn) {
		/* From a TCP buffer that is about to move: send now, not in the batch. */
		if (sendto(r->udp_fd, msg, len, MSG_DONTWAIT, (struct sockaddr *)&b->addr,
			   b->addrlen) < 0) {
			r->st.dropped_send_failed++;
			return true;
		}
	} else {
		udp_queue(r, &b->addr, b->addrlen, msg, len);
	}
	a->tx_packets++;
	a->tx_bytes += len - ZT_RELAY_FWD_HDR_LEN;
	b->rx_packets++;
	b->rx_bytes += len - ZT_RELAY_FWD_HDR_LEN;
	r->st.forwarded_packets++;
	r->st.forwarded_bytes += len - ZT_RELAY_FWD_HDR_LEN;
	return true;
}

/* True if MSG was a valid message that did its work (refreshes a TCP connection). */
static bool on_message(struct zt_relay_server *r, const struct origin *o, uint8_t *msg, size_t len,
		       uint64_t now)
{
	struct src_slot *s;
	int type;

	if (!o->conn && zt_stun_looks_like(msg, len)) {
		on_stun(r, o, msg, len, now);
		return false;
	}
	type = zt_relay_msg_type(msg, len);
	if (type < 0) {
		r->st.dropped_malformed++;
		return false;
	}
	s = src_slot(r, (const struct sockaddr *)o->addr, now);
	if (!s) {
		r->st.dropped_src_limited++;
		return false;
	}
	switch (type) {
	case ZT_RELAY_HELLO:
		return on_hello(r, o, msg, len, s, now);
	case ZT_RELAY_REGISTER:
		return on_register(r, o, msg, len, s, now);
	case ZT_RELAY_KEEPALIVE:
		return on_keepalive(r, o, msg, len, now);
	case ZT_RELAY_SEND:
		return on_send(r, o, msg, len, now);
	default:	/* relay -> peer messages have no business here */
		r->st.dropped_malformed++;
		return false;
	}
}

/* ---- UDP ---- */

static void on_udp(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_relay_server *r = arg;
	int rounds = 8;		/* then let the other fds have a turn */

	(void)loop;
	(void)fd;
	(void)events;
	while (rounds--) {
		struct zt_udp_rx_pos pos = { 0 };
		struct zt_udp_dgram d;
		uint64_t now;
		int n;

		n = zt_udp_batch_recv(r->ub);
		if (n <= 0)
			break;
		now = zt_mono_ns();
		while (zt_udp_batch_next(r->ub, &pos, &d)) {
			struct origin o = { .addr = d.from, .addrlen = d.fromlen };

			if (d.truncated) {
				r->st.dropped_malformed++;
				continue;
			}
			on_message(r, &o, d.data, d.len, now);
		}
		/* Forwarded datagrams point into rx: out before the next recvmmsg. */
		udp_flush(r);
		if (n < RELAY_BATCH)
			break;
	}
}

/* ---- TCP ---- */

static void conn_close(struct zt_relay_server *r, struct tcp_conn *c)
{
	if (c->peer)
		peer_free(r, c->peer);
	zt_loop_del(r->loop, c->fd);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		r->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->src)
		c->src->tcp_conns--;
	r->out_bytes -= c->outcap;
	free(c->in);
	free(c->out);
	free(c);
	r->nconns--;
	r->st.tcp_closed++;
}

/*
 * Cut the frames out of C's input buffer; false when C was closed. Only a
 * valid message counts as a sign of life (last_rx): junk keeps nothing open.
 * The buffer then grows to what the next frame needs, or shrinks when empty.
 */
static bool conn_frames(struct zt_relay_server *r, struct tcp_conn *c, uint64_t now)
{
	size_t off = 0, need = RELAY_TCP_IN_MIN;

	while (c->inlen - off >= 2) {
		size_t flen = (size_t)c->in[off] << 8 | c->in[off + 1];
		struct origin o = { .addr = &c->addr, .addrlen = c->addrlen, .conn = c };

		/* Before registering, no valid frame is longer than a register. */
		if (!flen || flen < ZT_RELAY_HDR_LEN ||
		    (!c->peer && flen > ZT_RELAY_REGISTER_LEN(r->o.peer_accept_max))) {
			r->st.dropped_malformed++;
			conn_close(r, c);
			return false;
		}
		if (c->inlen - off - 2 < flen) {
			if (2 + flen > need)
				need = 2 + flen;
			break;
		}
		if (on_message(r, &o, c->in + off + 2, flen, now))
			c->last_rx_ns = now;
		off += 2 + flen;
	}
	if (off) {
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
	}
	if (need != c->incap && (need > c->incap || !c->inlen)) {
		uint8_t *nb = realloc(c->in, need);

		if (!nb) {
			conn_close(r, c);
			return false;
		}
		c->in = nb;
		c->incap = need;
	}
	if (conn_try_write(r, c)) {
		conn_close(r, c);
		return false;
	}
	return true;
}

static void on_conn(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct tcp_conn *c = arg;
	struct zt_relay_server *r = c->r;
	uint64_t now = zt_mono_ns();

	(void)loop;
	(void)fd;
	if (events & (EPOLLERR | EPOLLHUP)) {
		conn_close(r, c);
		return;
	}
	if (events & EPOLLOUT) {
		if (conn_try_write(r, c)) {
			conn_close(r, c);
			return;
		}
	}
	if (!(events & EPOLLIN))
		return;
	if (!c->in) {
		c->in = malloc(RELAY_TCP_IN_MIN);
		if (!c->in) {
			conn_close(r, c);
			return;
		}
		c->incap = RELAY_TCP_IN_MIN;
	}
	for (int rounds = 0; rounds < 4; rounds++) {
		ssize_t n = recv(c->fd, c->in + c->inlen, c->incap - c->inlen, MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_close(r, c);
			return;
		}
		if (n < 0)
			return;
		c->inlen += (size_t)n;
		if (!conn_frames(r, c, now))
			return;
	}
}

/*
 * Room for one more connection: at most RELAY_TCP_PER_SOURCE from one
 * address, at most RELAY_MAX_UNREG_CONNS not registered (the oldest of them
 * is closed to make room, so idle connections cannot keep new peers out),
 * at most RELAY_MAX_CONNS in all. The source's entry, or NULL (refused).
 */
static struct src_slot *conn_admit(struct zt_relay_server *r, const struct sockaddr *sa, uint64_t now)
{
	struct src_slot *s = src_slot(r, sa, now);
	struct tcp_conn *c, *oldest = NULL;
	size_t unreg = 0;

	if (!s || s->tcp_conns >= RELAY_TCP_PER_SOURCE) {
		r->st.tcp_source_limited++;
		return NULL;
	}
	if (r->nconns >= RELAY_MAX_UNREG_CONNS) {
		for (c = r->conns; c; c = c->next) {
			if (c->peer)
				continue;
			unreg++;
			if (!oldest || c->accepted_ns <= oldest->accepted_ns)
				oldest = c;
		}
		if (unreg >= RELAY_MAX_UNREG_CONNS) {
			r->st.tcp_unreg_evicted++;
			conn_close(r, oldest);
		}
	}
	if (r->nconns >= RELAY_MAX_CONNS)
		return NULL;
	return s;
}

static void on_tcp_listen(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_relay_server *r = arg;

	(void)events;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct tcp_conn *c = NULL;
		struct src_slot *s;
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int one = 1;
		uint64_t now = zt_mono_ns();

		if (cfd < 0)
			return;
		s = conn_admit(r, (struct sockaddr *)&ss, now);
		if (!s || !(c = calloc(1, sizeof(*c))) ||
		    zt_loop_add(loop, cfd, EPOLLIN, on_conn, c)) {
			r->st.tcp_refused++;
			close(cfd);
			free(c);
			continue;
		}
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = cfd;
		c->r = r;
		c->addr = ss;
		c->addrlen = sl;
		c->last_rx_ns = c->accepted_ns = now;
		c->src = s;
		s->tcp_conns++;
		c->next = r->conns;
		if (r->conns)
			r->conns->prev = c;
		r->conns = c;
		r->nconns++;
		r->st.tcp_accepted++;
	}
}

/* ---- the once-a-second sweep ---- */

static void on_timer(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_relay_server *r = arg;
	uint64_t ticks, now = zt_mono_ns();
	struct tcp_conn *c, *cn;

	(void)loop;
	(void)events;
	if (read(fd, &ticks, sizeof(ticks)) < 0)
		return;
	for (size_t h = 0; h < (1u << RELAY_HASH_BITS); h++) {
		struct relay_peer *p = r->by_key[h], *pn;

		for (; p; p = pn) {
			pn = p->next_key;
			if (p->expires_ns <= now) {
				r->st.expired++;
				if (now >= p->registered_ns + (uint64_t)r->o.max_age_s * NSEC)
					r->st.max_age_expired++;
				peer_free(r, p);
			}
		}
	}
	for (c = r->conns; c; c = cn) {
		uint64_t idle = (uint64_t)(c->peer ? r->o.tcp_idle_s : r->o.tcp_unreg_idle_s) * NSEC;

		cn = c->next;
		if (now - c->last_rx_ns > idle)
			conn_close(r, c);
	}
}

/* ---- stats ---- */

void zt_relay_server_stats_json(const struct zt_relay_server *r, json_object *o)
{
	json_object *t = json_object_new_object(), *drop = json_object_new_object();
	json_object *peers = json_object_new_array();
	uint64_t now = zt_mono_ns();

#define PUT(obj, name, v) json_object_object_add(obj, name, json_object_new_int64((int64_t)(v)))
	PUT(t, "stun_answered", r->st.stun_answered);
	PUT(t, "stun_ratelimited", r->st.stun_dropped);
	PUT(t, "registered_peers", r->npeers);
	PUT(t, "challenges", r->st.challenges);
	PUT(t, "registrations", r->st.registrations);
	PUT(t, "keepalives", r->st.keepalives);
	PUT(t, "expired", r->st.expired);
	PUT(t, "forwarded_packets", r->st.forwarded_packets);
	PUT(t, "forwarded_bytes", r->st.forwarded_bytes);
	PUT(t, "errors_sent", r->st.errors_sent);
	PUT(t, "tcp_connections", r->nconns);
	PUT(t, "tcp_accepted", r->st.tcp_accepted);
	PUT(t, "tcp_refused", r->st.tcp_refused);
	PUT(t, "tcp_source_limited", r->st.tcp_source_limited);
	PUT(t, "tcp_unreg_evicted", r->st.tcp_unreg_evicted);
	PUT(t, "accept_keys", r->naccept);
	PUT(t, "max_age_expired", r->st.max_age_expired);
	PUT(drop, "not_registered", r->st.dropped_not_registered);
	PUT(drop, "unknown_peer", r->st.dropped_unknown_peer);
	PUT(drop, "not_accepted", r->st.dropped_not_accepted);
	PUT(drop, "rate_limited", r->st.dropped_rate_limited);
	PUT(drop, "malformed", r->st.dropped_malformed);
	PUT(drop, "bad_cookie", r->st.dropped_bad_cookie);
	PUT(drop, "bad_mac", r->st.dropped_bad_mac);
	PUT(drop, "source_limited", r->st.dropped_src_limited);
	PUT(drop, "tcp_queue_full", r->st.dropped_tcp_full);
	PUT(drop, "send_failed", r->st.dropped_send_failed);
	PUT(drop, "peer_limit", r->st.dropped_peer_limit);
	json_object_object_add(t, "dropped", drop);
	json_object_object_add(o, "relay", t);

	for (size_t h = 0; h < (1u << RELAY_HASH_BITS); h++) {
		for (struct relay_peer *p = r->by_key[h]; p; p = p->next_key) {
			json_object *j = json_object_new_object();
			char b64[ZT_KEY_B64_LEN + 1], ep[64];

			zt_key_to_base64(p->key, b64);
			zt_endpoint_format(&p->ep, ep, sizeof(ep));
			json_object_object_add(j, "key", json_object_new_string(b64));
			json_object_object_add(j, "transport", json_object_new_string(p->conn ? "tcp" : "udp"));
			json_object_object_add(j, "endpoint", json_object_new_string(ep));
			PUT(j, "index", p->index);
			PUT(j, "accepts", p->naccept);
			PUT(j, "expires_in_s", p->expires_ns > now ? (p->expires_ns - now) / NSEC : 0);
			PUT(j, "tx_packets", p->tx_packets);
			PUT(j, "tx_bytes", p->tx_bytes);
			PUT(j, "rx_packets", p->rx_packets);
			PUT(j, "rx_bytes", p->rx_bytes);
			PUT(j, "dropped_rate_limited", p->dropped_rate_limited);
			json_object_array_add(peers, j);
		}
	}
	json_object_object_add(o, "peers", peers);
#undef PUT
}

static int open_socket(const char *text, int type, uint16_t *port, char *err, size_t errlen)
{
	struct zt_endpoint ep;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1, ret;

	if (zt_endpoint_parse(text, &ep, err, errlen)) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "invalid listen address '%s': %s", text, why);
		return -EINVAL;
	}
	sl = zt_endpoint_to_sockaddr(&ep, &ss);
	fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return ret;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (type == SOCK_DGRAM) {
		int sz = 4 << 20;

		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) ||
	    (type == SOCK_STREAM && listen(fd, 512))) {
		ret = -errno;
		snprintf(err, errlen, "%s %s: %s", type == SOCK_STREAM ? "TCP" : "UDP", text,
			 strerror(errno));
		close(fd);
		return ret;
	}
	sl = sizeof(ss);
	if (!getsockname(fd, (struct sockaddr *)&ss, &sl))
		*port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						      : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}


int zt_relay_server_open(const struct zt_relay_server_cfg *cfg, struct zt_relay_server **out, char *err,
			 size_t errlen)
{
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	struct zt_relay_server *r;
	int ret;

	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*out = r;
	r->loop = cfg->loop;
	r->o = *cfg;
	r->udp_fd = r->tcp_fd = r->timer_fd = -1;
	memcpy(r->priv, cfg->private_key, sizeof(r->priv));
	X25519_public_from_private(r->pub, r->priv);
	if (!RAND_bytes((uint8_t *)r->hash_key, sizeof(r->hash_key))) {
		snprintf(err, errlen, "no randomness");
		return -EIO;
	}
	if (!r->o.max_age_s)
		r->o.max_age_s = ZT_RELAY_DEFAULT_MAX_AGE_S;
	if (!r->o.peer_accept_max)
		r->o.peer_accept_max = ZT_RELAY_DEFAULT_PEER_ACCEPT;
	if (!r->o.total_accept_max)
		r->o.total_accept_max = ZT_RELAY_DEFAULT_TOTAL_ACCEPT;
	if (!r->o.tcp_idle_s)
		r->o.tcp_idle_s = ZT_RELAY_DEFAULT_TCP_IDLE_S;
	if (!r->o.tcp_unreg_idle_s)
		r->o.tcp_unreg_idle_s = ZT_RELAY_DEFAULT_TCP_UNREG_S;
	r->src = calloc((size_t)RELAY_SRC_SETS * RELAY_SRC_WAYS, sizeof(*r->src));
	if (!r->src) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = open_socket(cfg->listen, SOCK_DGRAM, &r->udp_port, err, errlen);
	if (ret < 0)
		return ret;
	r->udp_fd = ret;
	ret = zt_udp_batch_new(&(struct zt_udp_batch_cfg){ .fd = r->udp_fd,
			       .rx_msgs = RELAY_BATCH, .rx_size = ZT_UDP_DGRAM_MAX,
			       .tx_msgs = RELAY_OUT_MAX, .tx_size = RELAY_REPLY_MAX }, &r->ub);
	if (ret) {
		snprintf(err, errlen, "UDP batch: %s", strerror(-ret));
		return ret;
	}
	ret = zt_loop_add(r->loop, r->udp_fd, EPOLLIN, on_udp, r);
	if (ret)
		goto loop_err;
	if (cfg->tcp_listen) {
		ret = open_socket(cfg->tcp_listen, SOCK_STREAM, &r->tcp_port, err, errlen);
		if (ret < 0)
			return ret;
		r->tcp_fd = ret;
		ret = zt_loop_add(r->loop, r->tcp_fd, EPOLLIN, on_tcp_listen, r);
		if (ret)
			goto loop_err;
	}
	r->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (r->timer_fd < 0 || timerfd_settime(r->timer_fd, 0, &its, NULL) ||
	    zt_loop_add(r->loop, r->timer_fd, EPOLLIN, on_timer, r)) {
		ret = -errno;
		snprintf(err, errlen, "timer: %s", strerror(errno));
		return ret;
	}
	return 0;
loop_err:
	snprintf(err, errlen, "event loop: %s", strerror(-ret));
	return ret;
}

static void close_fd(struct zt_relay_server *r, int fd)
{
	if (fd < 0)
		return;
	zt_loop_del(r->loop, fd);
	close(fd);
}

void zt_relay_server_close(struct zt_relay_server *r)
{
	if (!r)
		return;
	while (r->conns)
		conn_close(r, r->conns);
	for (size_t h = 0; h < (1u << RELAY_HASH_BITS); h++)
		while (r->by_key[h])
			peer_free(r, r->by_key[h]);
	close_fd(r, r->timer_fd);
	close_fd(r, r->tcp_fd);
	close_fd(r, r->udp_fd);
	free(r->src);
	zt_udp_batch_free(r->ub);
	zt_relay_cookie_secret_destroy(&r->cookie);
	OPENSSL_cleanse(r->priv, sizeof(r->priv));
	free(r);
}

void zt_relay_server_reset(struct zt_relay_server *r)
{
	while (r->conns)
		conn_close(r, r->conns);
	for (size_t h = 0; r->npeers && h < (1u << RELAY_HASH_BITS); h++)
		while (r->by_key[h])
			peer_free(r, r->by_key[h]);
	if (r->nsrc_touched > RELAY_SRC_TOUCHED)
		memset(r->src, 0, (size_t)RELAY_SRC_SETS * RELAY_SRC_WAYS * sizeof(*r->src));
	else
		for (unsigned int i = 0; i < r->nsrc_touched; i++)
			memset(&r->src[(size_t)r->src_touched[i] * RELAY_SRC_WAYS], 0,
			       RELAY_SRC_WAYS * sizeof(*r->src));
	r->nsrc_touched = 0;
	r->next_index = 0;
	memset(&r->st, 0, sizeof(r->st));
}

size_t zt_relay_server_npeers(const struct zt_relay_server *r)
{
	return r->npeers;
}

uint16_t zt_relay_server_udp_port(const struct zt_relay_server *r)
{
	return r->udp_port;
}

uint16_t zt_relay_server_tcp_port(const struct zt_relay_server *r)
{
	return r->tcp_port;
}

void zt_relay_server_public_key(const struct zt_relay_server *r, uint8_t pub[ZT_RELAY_KEYLEN])
{
	memcpy(pub, r->pub, ZT_RELAY_KEYLEN);
}
