// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ares.h>

#include "lib/ares_loop.h"
#include "lib/clock.h"
#include "lib/udp_batch.h"
#include "dns/cache.h"
#include "dataplane/dns_fast.h"
#include "dns/codec.h"
#include "dns/server.h"
#include "lib/log.h"

/* Bounds: whatever clients send, memory stays below these. */
#define MAX_TCP_CONNS		64
#define MAX_PENDING		4096	/* forwarded queries awaiting an upstream */
#define UDP_BATCH		32	/* datagrams per recvmmsg, answers per sendmmsg */
#define UDP_ROUNDS		2	/* batches per wakeup, then the loop's other fds */
#define TCP_MSG_MAX		65535
#define REPLY_MAX		65535
/*
 * New fake-IP names per second, and the burst: a web page can make the
 * browser ask for endless names under a wildcard resource, each a pool
 * entry, an exact-map entry and a journal write. At this rate, with the
 * pool's 120 s minimum idle time, a flood holds at most ~6000 names and
 * the cap (ZT_FAKEIP_DEFAULT_MAX_NAMES) always finds an idle one to reclaim.
 */
#define NEW_NAMES_PER_S		50
#define NEW_NAMES_BURST		500
#define LOCAL_ADDRS_MAX		64	/* this namespace's IPv4 addresses remembered */

struct tcp_conn {
	struct zt_dns_server *s;
	int fd;
	uint64_t id;			/* forwarded answers find their connection by id */
	size_t len;
	struct tcp_conn *next;
	uint8_t buf[2 + ZT_DNS_QUERY_MAX];
};

/*
 * One recvmmsg's worth of datagrams and the answers given at once, sent
 * with one sendmmsg (lib/udp_batch.h). Forwarded answers are sent the same
 * way, one sendmmsg per pass of c-ares over its sockets.
 */
struct udp_batch {
	struct zt_udp_batch *io;	/* queries of up to ZT_DNS_QUERY_MAX + 1 bytes (oversize
					 * is told apart), answers of ZT_DNS_UDP_PLAIN_MAX */
	bool collect_fwd;		/* in a c-ares pass: forwarded answers queue too */
};

/* A query sent upstream, and where its answer goes. */
struct fwd {
	struct zt_dns_server *s;
	struct zt_dns_query q;
	uint64_t conn_id;		/* 0: UDP */
	struct sockaddr_storage peer;
	socklen_t peerlen;
	/* The question as sent upstream (random case, DNS 0x20); 0: as the client's. */
	uint8_t sent_qname[ZT_DNS_NAME_WIRE_MAX];
	size_t sent_len;
};

struct zt_dns_server {
	struct zt_fakeip *pool;
	struct zt_dns_server_cfg cfg;
	char upstreams[1024];
	int udp_fd, tcp_fd;
	struct zt_ares_loop *al;	/* forwarding; NULL once closing */
	bool closing;
	struct tcp_conn *conns;
	unsigned int nconns;
	uint64_t next_conn_id;
	unsigned int pending;
	struct udp_batch *ub;
	struct zt_dns_cache *cache;	/* NULL: --dns-cache 0 */
	/*
	 * The rebinding guard's prefixes: the fake range, then every IP/CIDR
	 * resource of the policy (rebuilt when it changes). A forwarded name's
	 * answer pointing into any of them is stripped.
	 */
	struct zt_prefix *guard;
	size_t nguard;
	/* New names allowed now (a token bucket, NEW_NAMES_PER_S). */
	double new_tokens;
	uint64_t new_tokens_ms;
	/* This namespace's IPv4 addresses (network order), re-read on a miss at most once a second. */
	uint32_t local_addrs[LOCAL_ADDRS_MAX];
	unsigned int nlocal;
	uint64_t local_read_ms;
	/* counters */
	uint64_t q_local, q_forwarded, q_cached, q_dropped, q_formerr, q_servfail, q_stripped;
	uint64_t q_refused_remote, q_limited, q_spoofed;
	/* Random bytes for upstream IDs and 0x20, refilled by getrandom(). */
	uint8_t rnd[4096];
	size_t rnd_left;
	uint64_t fast_puts, fast_flushes;
};

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static void mapped(struct in_addr a, uint8_t out[16])
{
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, &a, 4);
}

/* ---- sending replies ---- */

static void send_udp(struct zt_dns_server *s, const uint8_t *msg, size_t len,
		     const struct sockaddr *peer, socklen_t peerlen)
{
	/* Nonblocking: a full socket buffer drops the reply, as UDP may. */
	if (sendto(s->udp_fd, msg, len, MSG_DONTWAIT, peer, peerlen) < 0)
		s->q_dropped++;
}

static struct tcp_conn *conn_find(struct zt_dns_server *s, uint64_t id)
{
	struct tcp_conn *c;

	for (c = s->conns; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static void conn_close(struct zt_dns_server *s, struct tcp_conn *c)
{
	struct tcp_conn **pc;

	for (pc = &s->conns; *pc; pc = &(*pc)->next) {
		if (*pc == c) {
			*pc = c->next;
			break;
		}
	}
	zt_loop_del(s->cfg.loop, c->fd);
	close(c->fd);
	free(c);
	s->nconns--;
}

static int send_tcp(struct zt_dns_server *s, struct tcp_conn *c, const uint8_t *msg, size_t len)
{
	uint8_t hdr[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	struct iovec iov[2] = { { hdr, 2 }, { (void *)msg, len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;

	/* A client that does not read its answers loses its connection. */
	n = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n != (ssize_t)(len + 2)) {
		conn_close(s, c);
		return -EIO;
	}
	return 0;
}

/* Where the reply to one query goes. */
struct reply_to {
	struct tcp_conn *conn;		/* NULL: UDP */
	const struct sockaddr *peer;
	socklen_t peerlen;
	bool batch;			/* UDP: queue in s->ub, sent by udp_flush() */
};

/* Send the queued UDP replies: one sendmmsg; a failed reply is dropped, the rest still go. */
static void udp_flush(struct zt_dns_server *s)
{
	s->q_dropped += zt_udp_batch_flush(s->ub->io);
}

/* Queue a UDP reply for the batch's sendmmsg; a full batch goes first, big EDNS0 answers alone. */
static void queue_udp(struct zt_dns_server *s, const uint8_t *msg, size_t len,
		      const struct sockaddr *peer, socklen_t peerlen)
{
	if (zt_udp_batch_full(s->ub->io))
		udp_flush(s);
	if (zt_udp_batch_queue_copy(s->ub->io, msg, len, peer, peerlen))
		s->q_dropped++;
}

static void reply(struct zt_dns_server *s, const struct reply_to *to, const uint8_t *msg,
		  ssize_t len)
{
	if (len <= 0)
		return;
	if (to->conn)
		send_tcp(s, to->conn, msg, (size_t)len);
	else if (to->batch || s->ub->collect_fwd)
		queue_udp(s, msg, (size_t)len, to->peer, to->peerlen);
	else
		send_udp(s, msg, (size_t)len, to->peer, to->peerlen);
}

/* ---- forwarding (c-ares) ---- */

static uint8_t rnd_byte(struct zt_dns_server *s)
{
	if (!s->rnd_left) {
		ssize_t n = getrandom(s->rnd, sizeof(s->rnd), GRND_NONBLOCK);

		/* No entropy yet (early boot): weaker, still varying. */
		if (n != (ssize_t)sizeof(s->rnd)) {
			uint64_t x = zt_mono_ns() ^ (uint64_t)(uintptr_t)s;
			size_t i;

			for (i = 0; i < sizeof(s->rnd); i++) {
				x = x * 6364136223846793005ULL + 1442695040888963407ULL;
				s->rnd[i] = (uint8_t)(x >> 56);
			}
		}
		s->rnd_left = sizeof(s->rnd);
	}
	return s->rnd[--s->rnd_left];
}

/* A random upstream ID, and the question's letters in random case (DNS 0x20). */
static void randomise_query(struct zt_dns_server *s, struct fwd *f, uint8_t *msg, size_t len)
{
	const struct zt_dns_query *q = &f->q;
	size_t i, end = ZT_DNS_HEADER_LEN + q->qname_len;
	uint8_t bits = 0;
	unsigned int nbits = 0;

	msg[0] = rnd_byte(s);
	msg[1] = rnd_byte(s);
	/* Only a question in plain wire form at its usual place (a query's always is). */
	if (!q->has_question || len < end || memcmp(msg + ZT_DNS_HEADER_LEN, q->qname, q->qname_len))
		return;
	for (i = ZT_DNS_HEADER_LEN; i < end && msg[i];) {
		size_t j, label = msg[i];

		for (j = i + 1; j <= i + label && j < end; j++) {
			uint8_t c = msg[j] | 0x20;

			if (c < 'a' || c > 'z')
				continue;
			if (!nbits) {
				bits = rnd_byte(s);
				nbits = 8;
			}
			msg[j] = (bits & 1) ? (uint8_t)(c - 0x20) : c;
			bits >>= 1;
			nbits--;
		}
		i += label + 1;
	}
	memcpy(f->sent_qname, msg + ZT_DNS_HEADER_LEN, q->qname_len);
	f->sent_len = q->qname_len;
}

/*
 * Around each pass of c-ares over its sockets: the forwarded answers of
 * that pass leave with one sendmmsg.
 */
static void ares_pass_begin(void *arg)
{
	struct zt_dns_server *s = arg;

	s->ub->collect_fwd = true;
}

static void ares_pass_end(void *arg)
{
	struct zt_dns_server *s = arg;

	s->ub->collect_fwd = false;
	udp_flush(s);
}

/*
 * An answer too big for the client's UDP limit: the header and question
 * with TC set, so it asks again over TCP (RFC 1035 4.2.1, RFC 7766).
 */
static ssize_t build_truncated(const struct zt_dns_query *q, const uint8_t *ans,
			       uint8_t *out, size_t outlen)
{
	size_t len = ZT_DNS_HEADER_LEN + q->qname_len + 4;

	if (len > outlen)
		return -ENOSPC;
	memmove(out, ans, 4);		/* id, flags (RCODE included); may be in place */
	out[2] |= ZT_DNS_F_TC >> 8;
	memset(out + 4, 0, 8);
	out[5] = 1;			/* QDCOUNT */
	memcpy(out + ZT_DNS_HEADER_LEN, q->qname, q->qname_len);
	out[ZT_DNS_HEADER_LEN + q->qname_len] = (uint8_t)(q->qtype >> 8);
	out[ZT_DNS_HEADER_LEN + q->qname_len + 1] = (uint8_t)q->qtype;
	out[ZT_DNS_HEADER_LEN + q->qname_len + 2] = (uint8_t)(q->qclass >> 8);
	out[ZT_DNS_HEADER_LEN + q->qname_len + 3] = (uint8_t)q->qclass;
	return (ssize_t)len;
}

/*
 * A whole answer to Q (forwarded or from the cache; MSG holds CAP bytes and
 * may be rewritten): UDP clients get the TC form when it exceeds their limit.
 */
static void reply_answer(struct zt_dns_server *s, const struct zt_dns_query *q,
			 const struct reply_to *to, uint8_t *msg, size_t len, size_t cap)
{
	ssize_t n = (ssize_t)len;

	if (!to->conn && len > (q->edns ? q->edns_udp_size : ZT_DNS_UDP_PLAIN_MAX))
		n = build_truncated(q, msg, msg, cap);
	reply(s, to, msg, n);
}

static void on_upstream_answer(void *arg, int status, int timeouts, unsigned char *abuf,
			       int alen)
{
	struct fwd *f = arg;
	struct zt_dns_server *s = f->s;
	struct reply_to to = { .peer = (struct sockaddr *)&f->peer, .peerlen = f->peerlen };
	static uint8_t out[REPLY_MAX];
	ssize_t len;
	int r;

	(void)timeouts;
	s->pending--;
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED || s->closing)
		goto out;
	if (f->conn_id) {
		to.conn = conn_find(s, f->conn_id);
		if (!to.conn)
			goto out;	/* the client hung up meanwhile */
	}
	if (status != ARES_SUCCESS || !abuf || alen < ZT_DNS_HEADER_LEN || alen > REPLY_MAX) {
		s->q_servfail++;
		len = zt_dns_build_error(&f->q, ZT_DNS_RCODE_SERVFAIL, out, sizeof(out));
		reply(s, &to, out, len);
		goto out;
	}
	/*
	 * DNS 0x20: c-ares compares questions ignoring case; an answer that
	 * does not echo the case we sent is a forgery (or an upstream that
	 * rewrites case, which we cannot tell apart): never cached, SERVFAIL.
	 */
	if (f->sent_len && ((size_t)alen < ZT_DNS_HEADER_LEN + f->sent_len ||
			    memcmp(abuf + ZT_DNS_HEADER_LEN, f->sent_qname, f->sent_len))) {
		s->q_spoofed++;
		zt_log("warning", "dns: answer for %s does not echo the question's case; dropped",
		       f->q.name);
		s->q_servfail++;
		len = zt_dns_build_error(&f->q, ZT_DNS_RCODE_SERVFAIL, out, sizeof(out));
		reply(s, &to, out, len);
		goto out;
	}
	/*
	 * Rebinding guard: an outside name must never lead into the fake range,
	 * nor into an IP resource (a page from evil.example answering with a
	 * resource's address would reach it as its own origin). Names meant
	 * to reach resources are resources themselves, answered above.
	 */
	r = zt_dns_answer_in_prefixes(abuf, (size_t)alen, s->guard, s->nguard);
	if (r != 0) {
		s->q_stripped++;
		zt_log("warning", "dns: answer for %s %s; stripped", f->q.name,
		       r < 0 ? "does not parse" : r == 1 ? "points into the fake range"
		       : "points into an IP resource");
		len = zt_dns_build_nodata(&f->q, out, sizeof(out));
		reply(s, &to, out, len);
		goto out;
	}
	memcpy(out, abuf, (size_t)alen);
	/* Back to the client's ID and spelling (c-ares matched ours, case aside). */
	zt_dns_set_id(out, (size_t)alen, f->q.id);
	if (f->sent_len)
		memcpy(out + ZT_DNS_HEADER_LEN, f->q.qname, f->q.qname_len);
	/* Only what passed the guard is stored; the cache refuses the rest itself. */
	if (s->cache)
		zt_dns_cache_put(s->cache, &f->q, out, (size_t)alen, zt_mono_ms());
	reply_answer(s, &f->q, &to, out, (size_t)alen, sizeof(out));
out:
	free(f);
	/* No re-arm: an answer moves no deadline earlier; our caller re-arms. */
}

static void forward(struct zt_dns_server *s, const struct zt_dns_query *q, const uint8_t *raw,
		    size_t rawlen, const struct reply_to *to)
{
	uint8_t out[ZT_DNS_UDP_PLAIN_MAX], sent[ZT_DNS_QUERY_MAX];
	struct fwd *f;

	if (rawlen > sizeof(sent) || !s->al || !s->upstreams[0] || s->pending >= MAX_PENDING ||
	    !(f = calloc(1, sizeof(*f)))) {
		s->q_servfail++;
		reply(s, to, out, zt_dns_build_error(q, ZT_DNS_RCODE_SERVFAIL, out, sizeof(out)));
		return;
	}
	f->s = s;
	f->q = *q;
	if (to->conn) {
		f->conn_id = to->conn->id;
	} else {
		memcpy(&f->peer, to->peer, to->peerlen);
		f->peerlen = to->peerlen;
	}
	s->pending++;
	s->q_forwarded++;
	/*
	 * The query goes as it came (EDNS0, flags), but c-ares 1.18's
	 * ares_send() keeps the ID it is given and sends every query from one
	 * socket (one source port) while any is pending: the client's ID
	 * would be all an off-path attacker had to guess. So a random ID, and
	 * the name's letters in random case (DNS 0x20), which the answer must
	 * echo exactly (on_upstream_answer).
	 */
	memcpy(sent, raw, rawlen);
	randomise_query(s, f, sent, rawlen);
	/* c-ares copies it. */
	ares_send(zt_ares_loop_channel(s->al), sent, (int)rawlen, on_upstream_answer, f);
	zt_ares_loop_queued(s->al);
}

/* ---- the BPF fast path ---- */

/* A name answered in BPF was used then: its pool entry learns it (never backwards). */
static void fold_hit(struct in_addr addr, int64_t wall_s, void *arg)
{
	struct zt_dns_server *s = arg;
	int64_t last_use;

	if (zt_fakeip_lookup_addr(s->pool, addr, &last_use) && wall_s > last_use)
		zt_fakeip_touch(s->pool, addr, wall_s);
}

static void fast_fold(struct zt_dns_server *s)
{
	if (s->cfg.fast)
		zt_dns_fast_fold_hits(s->cfg.fast, fold_hit, s);
}

/* Forget every name in the fast path, its uses kept first. */
static void fast_flush(struct zt_dns_server *s)
{
	int ret;

	if (!s->cfg.fast)
		return;
	fast_fold(s);
	ret = zt_dns_fast_flush(s->cfg.fast);
	if (ret)
		zt_log("error", "dns: emptying the fast path: %s", strerror(-ret));
	s->fast_flushes++;
}

/* The fake range and every IP resource's prefix; kept as it was on ENOMEM. */
static int build_guard(struct zt_dns_server *s)
{
	const struct zt_policy *p = s->cfg.policy;
	struct zt_prefix *g;
	size_t n = 1;
	unsigned int i;

	g = calloc(1 + (p ? p->count : 0), sizeof(*g));
	if (!g)
		return -ENOMEM;
	g[0] = s->cfg.fake_range;
	for (i = 0; p && i < p->count; i++)
		if (!p->res[i].name_pattern[0])
			g[n++] = p->res[i].prefix;
	free(s->guard);
	s->guard = g;
	s->nguard = n;
	return 0;
}

void zt_dns_server_policy_changed(struct zt_dns_server *s)
{
	if (!s)
		return;
	fast_flush(s);
	if (build_guard(s))
		zt_log("error", "dns: rebinding guard not updated: %s", strerror(ENOMEM));
	/* Answers cached before may point into a resource added now. */
	if (s->cache)
		zt_dns_cache_flush(s->cache);
}

/*
 * Could the fast path have answered Q (bpf/zt_dns.bpf.c)? Then it had no
 * entry for the name: put one. Other shapes reach us whatever the table
 * holds, so they cost no map update.
 */
static void fast_learn(struct zt_dns_server *s, const struct zt_dns_query *q, bool udp,
		       struct in_addr addr)
{
	int ret;

	if (!s->cfg.fast || !udp || q->edns_options || q->qname_len > ZT_DNS_FAST_NAME_MAX)
		return;
	ret = zt_dns_fast_put(s->cfg.fast, q->qname, q->qname_len, addr, s->cfg.ttl);
	if (ret)
		zt_log("warning", "dns: fast path entry for %s: %s", q->name, strerror(-ret));
	else
		s->fast_puts++;
}

/* ---- answering ---- */

/* May one more name get a fake IP now? Takes a token if so. */
static bool take_new_name(struct zt_dns_server *s)
{
	uint64_t now = zt_mono_ms();

	s->new_tokens += (double)(now - s->new_tokens_ms) * NEW_NAMES_PER_S / 1000.0;
	if (s->new_tokens > NEW_NAMES_BURST)
		s->new_tokens = NEW_NAMES_BURST;
	s->new_tokens_ms = now;
	if (s->new_tokens < 1.0)
		return false;
	s->new_tokens -= 1.0;
	return true;
}

/*
 * A resource name's A record: the pool's address, known to the data plane
 * and saved before the answer leaves.
 */
static ssize_t answer_resource(struct zt_dns_server *s, const struct zt_dns_query *q, bool udp,
			       const struct zt_resource_def *res, uint8_t *out, size_t outlen)
{
	struct zt_exact_binding b = { .resource_id = res->id };
	struct in_addr addr;
	char err[256];
	bool fresh;
	int ret;

	if (q->qtype != ZT_DNS_T_A || q->qclass != ZT_DNS_CLASS_IN)
		return zt_dns_build_nodata(q, out, outlen);	/* RFC 4074 for AAAA */
	/* A new name in a full range takes the least recently used address:
	 * answers given in BPF count as use, so they are folded in first. */
	if (s->cfg.fast && zt_fakeip_count(s->pool) >= zt_fakeip_capacity(s->pool) &&
	    zt_fakeip_lookup_name(s->pool, q->name, &addr, NULL))
		fast_fold(s);
	if (zt_fakeip_lookup_name(s->pool, q->name, NULL, NULL) && !take_new_name(s)) {
		s->q_limited++;
		goto servfail;		/* a flood of new names: SERVFAIL, tried again later */
	}
	ret = zt_fakeip_assign(s->pool, q->name, now_s(), &addr);
	if (ret < 0) {
		zt_log("warning", "dns: no fake IP for %s: %s", q->name, strerror(-ret));
		goto servfail;
	}
	/*
	 * An existing mapping is in the maps already: every compile re-adds
	 * all of them, against the policy it compiles. Only a new or reclaimed
	 * address has to be written now, before the answer leaves.
	 */
	fresh = ret != ZT_FAKEIP_EXISTING;
	/* The name that lost this address may still be answered in BPF. */
	if (ret == ZT_FAKEIP_RECLAIMED)
		fast_flush(s);
	mapped(addr, b.addr);
	ret = ret == ZT_FAKEIP_EXISTING ? 0 : s->cfg.bind_live(s->cfg.bind_arg, &b);
	if (ret) {
		zt_log("error", "dns: writing the fake IP of %s to the data plane: %s", q->name,
		       strerror(-ret));
		goto servfail;
	}
	if (fresh) {
		/* A new mapping is durable before anyone can cache it: one journal line. */
		ret = zt_fakeip_persist(s->pool, s->cfg.state_dir, q->name, err, sizeof(err));
		if (ret)
			zt_log("error", "dns: saving fake IPs: %s", err);
	}
	/* Known to the data plane and saved: from now on BPF may answer it too. */
	fast_learn(s, q, udp, addr);
	return zt_dns_build_a(q, addr, s->cfg.ttl, out, outlen);
servfail:
	s->q_servfail++;
	return zt_dns_build_error(q, ZT_DNS_RCODE_SERVFAIL, out, outlen);
}

static void handle_query(struct zt_dns_server *s, const uint8_t *msg, size_t len,
			 const struct reply_to *to)
{
	const struct zt_resource_def *res;
	struct zt_dns_query q;
	uint8_t out[ZT_DNS_UDP_PLAIN_MAX];
	int rc;

	rc = zt_dns_parse_query(msg, len, &q);
	if (rc < 0) {
		s->q_dropped++;
		return;
	}
	if (rc != ZT_DNS_RCODE_NOERROR) {
		s->q_formerr++;
		reply(s, to, out, zt_dns_build_error(&q, (unsigned int)rc, out, sizeof(out)));
		return;
	}
	res = zt_policy_match_name(s->cfg.policy, q.name);
	if (res) {
		s->q_local++;
		reply(s, to, out, answer_resource(s, &q, !to->conn, res, out, sizeof(out)));
		return;
	}
	if (s->cache && zt_dns_cache_query_cacheable(&q)) {
		static uint8_t cached[ZT_DNS_CACHE_MSG_MAX];
		ssize_t n = zt_dns_cache_get(s->cache, &q, zt_mono_ms(), cached, sizeof(cached));

		if (n > 0) {
			s->q_cached++;
			reply_answer(s, &q, to, cached, (size_t)n, sizeof(cached));
			return;
		}
	}
	forward(s, &q, msg, len, to);
}

/* ---- who may ask ---- */

static void read_local_addrs(struct zt_dns_server *s)
{
	struct ifaddrs *ifa, *i;

	s->local_read_ms = zt_mono_ms();
	if (getifaddrs(&ifa))
		return;
	s->nlocal = 0;
	for (i = ifa; i && s->nlocal < LOCAL_ADDRS_MAX; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET)
			s->local_addrs[s->nlocal++] =
				((const struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
	freeifaddrs(ifa);
}

/*
 * Only this host (this network namespace) may use the server: its address
 * sits on ztg0, and with Linux's weak host model anyone on the LAN who
 * routes to it could otherwise use it as an open forwarder and fill the
 * pool. A query from a process here carries a local source address
 * (127.0.0.0/8, or one of ours: the kernel picks the destination itself);
 * one from elsewhere cannot, since the kernel drops packets arriving with
 * a local source as martians (accept_local is 0 by default).
 */
static bool peer_is_local(struct zt_dns_server *s, const struct sockaddr *sa, socklen_t len)
{
	uint32_t a;
	unsigned int i;

	if (sa->sa_family != AF_INET || len < (socklen_t)sizeof(struct sockaddr_in))
		return false;
	a = ((const struct sockaddr_in *)sa)->sin_addr.s_addr;
	if ((ntohl(a) >> 24) == 127 || a == s->cfg.listen.sin_addr.s_addr)
		return true;
	for (i = 0; i < s->nlocal; i++)
		if (s->local_addrs[i] == a)
			return true;
	/* A new address here, maybe: look again, but not for every stranger's packet. */
	if (zt_mono_ms() - s->local_read_ms < 1000)
		return false;
	read_local_addrs(s);
	for (i = 0; i < s->nlocal; i++)
		if (s->local_addrs[i] == a)
			return true;
	return false;
}

/* ---- UDP ---- */

/*
 * Up to UDP_ROUNDS batches of UDP_BATCH datagrams per wakeup: each drained
 * with one recvmmsg and answered with one sendmmsg (forwarded queries
 * answer later, alone). Then the loop serves TCP and c-ares; the socket,
 * level-triggered, brings us back if more is waiting.
 */
static void on_udp(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_dns_server *s = arg;
	struct zt_udp_rx_pos pos;
	struct zt_udp_dgram d;
	int r, n;

	(void)loop;
	(void)fd;
	(void)events;
	for (r = 0; r < UDP_ROUNDS; r++) {
		n = zt_udp_batch_recv(s->ub->io);
		if (n <= 0)
			return;
		pos = (struct zt_udp_rx_pos){ 0 };
		while (zt_udp_batch_next(s->ub->io, &pos, &d)) {
			struct reply_to to = { .peer = (struct sockaddr *)d.from,
					       .peerlen = d.fromlen, .batch = true };

			if (!peer_is_local(s, to.peer, to.peerlen)) {
				s->q_refused_remote++;	/* not even an error: no amplifier */
				continue;
			}

			/* A truncated one fills the buffer: the parser sees it is oversize. */
			handle_query(s, d.data, d.len, &to);
		}
		udp_flush(s);
		if (n < UDP_BATCH)
			return;		/* drained */
	}
}

/* ---- TCP (RFC 7766): 2-byte length, then the message; pipelining allowed ---- */

static void on_conn(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct tcp_conn *c = arg;
	struct zt_dns_server *s = c->s;
	uint64_t id = c->id;
	ssize_t n;

	(void)loop;
	(void)fd;
	n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR) && !(events & (EPOLLHUP | EPOLLERR)))
			return;
		conn_close(s, c);
		return;
	}
	c->len += (size_t)n;
	for (;;) {
		size_t mlen;
		struct reply_to to = { .conn = c };

		if (c->len < 2)
			return;
		mlen = (size_t)c->buf[0] << 8 | c->buf[1];
		if (mlen < ZT_DNS_HEADER_LEN || mlen > ZT_DNS_QUERY_MAX) {
			/* Garbage or a message we would refuse anyway: end the stream. */
			s->q_dropped++;
			conn_close(s, c);
			return;
		}
		if (c->len < 2 + mlen)
			return;
		handle_query(s, c->buf + 2, mlen, &to);
		if (!conn_find(s, id))
			return;		/* closed while replying */
		memmove(c->buf, c->buf + 2 + mlen, c->len - 2 - mlen);
		c->len -= 2 + mlen;
	}
}

static void on_accept(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_dns_server *s = arg;
	struct sockaddr_storage peer;
	socklen_t peerlen = sizeof(peer);
	struct tcp_conn *c, **pc;
	int cfd;

	(void)events;
	cfd = accept4(fd, (struct sockaddr *)&peer, &peerlen, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return;
	if (!peer_is_local(s, (struct sockaddr *)&peer, peerlen)) {
		s->q_refused_remote++;
		close(cfd);
		return;
	}
	if (s->nconns >= MAX_TCP_CONNS) {
		/* Full: the oldest connection (the list's tail) makes room. */
		for (pc = &s->conns; (*pc)->next; pc = &(*pc)->next)
			;
		conn_close(s, *pc);
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return;
	}
	c->s = s;
	c->fd = cfd;
	c->id = ++s->next_conn_id;
	if (zt_loop_add(loop, cfd, EPOLLIN | EPOLLRDHUP, on_conn, c)) {
		close(cfd);
		free(c);
		return;
	}
	c->next = s->conns;
	s->conns = c;
	s->nconns++;
}

/* ---- setup ---- */

static int bind_socket(int type, const struct sockaddr_in *sa, int *out, char *err, size_t errlen)
{
	int fd, one = 1, ret;
	char a[INET_ADDRSTRLEN];

	fd = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)))
		goto fail;
	if (type == SOCK_STREAM && listen(fd, 64))
		goto fail;
	*out = fd;
	return 0;
fail:
	ret = -errno;
	inet_ntop(AF_INET, &sa->sin_addr, a, sizeof(a));
	snprintf(err, errlen, "DNS %s socket on %s:%u: %s", type == SOCK_STREAM ? "TCP" : "UDP",
		 a, ntohs(sa->sin_port), strerror(-ret));
	if (fd >= 0)
		close(fd);
	return ret;
}

int zt_dns_server_open(struct zt_fakeip *pool, const struct zt_dns_server_cfg *cfg,
		       struct zt_dns_server **out, char *err, size_t errlen)
{
	struct zt_ares_loop_cfg acfg = { 0 };
	struct zt_dns_server *s;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->pool = pool;
	s->cfg = *cfg;
	snprintf(s->upstreams, sizeof(s->upstreams), "%s", cfg->upstreams ? cfg->upstreams : "");
	s->cfg.upstreams = s->upstreams;
	s->udp_fd = s->tcp_fd = -1;
	s->new_tokens = NEW_NAMES_BURST;
	s->new_tokens_ms = zt_mono_ms();
	read_local_addrs(s);
	s->ub = calloc(1, sizeof(*s->ub));
	if (!s->ub) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}

	/*
	 * NOCHECKRESP: SERVFAIL, REFUSED and the like reach the client as the
	 * upstream sent them. Truncated UDP answers are retried over TCP by
	 * c-ares itself. (ARES_FLAG_STAYOPEN would save the socket churn of
	 * c-ares closing its upstream socket whenever nothing is in flight,
	 * but with c-ares 1.18 it broke the TC -> TCP retry in the tests.)
	 */
	acfg.servers = s->upstreams;
	acfg.flags = ARES_FLAG_NOCHECKRESP;
	acfg.timeout_ms = 2000;
	acfg.tries = 2;
	acfg.begin = ares_pass_begin;
	acfg.end = ares_pass_end;
	acfg.arg = s;
	ret = zt_ares_loop_open(cfg->loop, &acfg, &s->al, err, errlen);
	if (ret)
		goto fail;
	ret = build_guard(s);
	if (ret) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (cfg->cache_entries) {
		ret = zt_dns_cache_new(&s->cache, cfg->cache_entries);
		if (ret) {
			snprintf(err, errlen, "DNS cache of %u entries: %s", cfg->cache_entries,
				 strerror(-ret));
			goto fail;
		}
	}
	if (ret)
		goto fail;
	ret = bind_socket(SOCK_DGRAM, &cfg->listen, &s->udp_fd, err, errlen);
	if (ret)
		goto fail;
	ret = zt_udp_batch_new(&(struct zt_udp_batch_cfg){ .fd = s->udp_fd,
			       .rx_msgs = UDP_BATCH, .rx_size = ZT_DNS_QUERY_MAX + 1,
			       .tx_msgs = UDP_BATCH, .tx_size = ZT_DNS_UDP_PLAIN_MAX },
			       &s->ub->io);
	if (ret) {
		snprintf(err, errlen, "DNS UDP batch: %s", strerror(-ret));
		goto fail;
	}
	ret = bind_socket(SOCK_STREAM, &cfg->listen, &s->tcp_fd, err, errlen);
	if (ret)
		goto fail;
	ret = zt_loop_add(cfg->loop, s->udp_fd, EPOLLIN, on_udp, s);
	if (ret)
		goto fail_loop;
	ret = zt_loop_add(cfg->loop, s->tcp_fd, EPOLLIN, on_accept, s);
	if (ret)
		goto fail_loop;
	*out = s;
	return 0;

fail_loop:
	snprintf(err, errlen, "event loop: %s", strerror(-ret));
fail:
	zt_dns_server_close(s);
	return ret;
}

int zt_dns_server_set_upstreams(struct zt_dns_server *s, const char *upstreams, char *err,
				size_t errlen)
{
	int ret;

	if (!s->al)
		return 0;
	ret = zt_ares_loop_set_servers(s->al, upstreams, err, errlen);
	if (ret)
		return ret;
	snprintf(s->upstreams, sizeof(s->upstreams), "%s", upstreams);
	/* Answers from the old upstreams may not be what the new ones say. */
	if (s->cache)
		zt_dns_cache_flush(s->cache);
	return 0;
}

void zt_dns_server_close(struct zt_dns_server *s)
{
	char err[256];

	if (!s)
		return;
	s->closing = true;
	while (s->conns)
		conn_close(s, s->conns);
	if (s->al) {
		struct zt_ares_loop *al = s->al;

		/* In-flight callbacks run with ARES_EDESTRUCTION (and see closing). */
		s->al = NULL;
		zt_ares_loop_close(al);
	}
	if (s->udp_fd >= 0) {
		zt_loop_del(s->cfg.loop, s->udp_fd);
		close(s->udp_fd);
	}
	if (s->tcp_fd >= 0) {
		zt_loop_del(s->cfg.loop, s->tcp_fd);
		close(s->tcp_fd);
	}
	/* Last-use times are only saved with changes; keep them too, BPF's answers included. */
	fast_fold(s);
	if (s->pool && zt_fakeip_save(s->pool, s->cfg.state_dir, err, sizeof(err)))
		zt_log("error", "dns: saving fake IPs: %s", err);
	zt_dns_cache_free(s->cache);
	free(s->guard);
	zt_udp_batch_free(s->ub->io);
	free(s->ub);
	free(s);
}

/* ---- bindings, listing, resolve ---- */

struct bind_ctx {
	const struct zt_policy *p;
	struct zt_exact_binding *b;
	size_t n, cap;
};

static int collect_binding(const char *name, struct in_addr addr, int64_t last_use, void *arg)
{
	struct bind_ctx *bc = arg;
	const struct zt_resource_def *res = zt_policy_match_name(bc->p, name);

	(void)last_use;
	if (!res)
		return 0;	/* the name is no longer a resource: its address leads nowhere */
	if (bc->n == bc->cap) {
		size_t cap = bc->cap ? bc->cap * 2 : 64;
		struct zt_exact_binding *b = realloc(bc->b, cap * sizeof(*b));

		if (!b)
			return -ENOMEM;
		bc->b = b;
		bc->cap = cap;
	}
	/* Whole: a binding's device_id must be 0 (the shared map: every packet's). */
	bc->b[bc->n] = (struct zt_exact_binding){ .resource_id = res->id };
	mapped(addr, bc->b[bc->n].addr);
	bc->n++;
	return 0;
}

int zt_fakeip_bindings(const struct zt_fakeip *pool, const struct zt_policy *p,
		       struct zt_exact_binding **out, size_t *n)
{
	struct bind_ctx bc = { .p = p };
	int ret;

	*out = NULL;
	*n = 0;
	if (!pool)
		return 0;
	ret = zt_fakeip_foreach(pool, collect_binding, &bc);
	if (ret) {
		free(bc.b);
		return ret;
	}
	*out = bc.b;
	*n = bc.n;
	return 0;
}

static void add_time(json_object *o, const char *key, int64_t t)
{
	char buf[48];

	zt_format_time((unsigned long long)t * 1000000000ull, buf, sizeof(buf));
	json_object_object_add(o, key, json_object_new_string(buf));
}

struct list_ctx {
	const struct zt_policy *p;
	json_object *arr;
};

static int list_one(const char *name, struct in_addr addr, int64_t last_use, void *arg)
{
	struct list_ctx *lc = arg;
	const struct zt_resource_def *res = zt_policy_match_name(lc->p, name);
	json_object *o = json_object_new_object();
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &addr, a, sizeof(a));
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "fake_ip", json_object_new_string(a));
	json_object_object_add(o, "resource", res ? json_object_new_string(res->name) : NULL);
	add_time(o, "last_use", last_use);
	json_object_array_add(lc->arr, o);
	return 0;
}

json_object *zt_dns_list_json(const struct zt_fakeip *pool, const struct zt_policy *p)
{
	struct list_ctx lc = { .p = p, .arr = json_object_new_array() };

	if (pool)
		zt_fakeip_foreach(pool, list_one, &lc);
	return lc.arr;
}

json_object *zt_dns_resolve_json(struct zt_dns_server *s, const char *name, char *err,
				 size_t errlen)
{
	const struct zt_resource_def *res;
	char norm[ZT_DNS_NAME_TEXT_MAX];
	json_object *o;
	struct in_addr addr;
	int64_t last_use;

	if (zt_dns_name_normalize(name, norm, sizeof(norm), err, errlen))
		return NULL;
	if (norm[0] == '*') {
		snprintf(err, errlen, "'%s' is a pattern; ask for a name", name);
		return NULL;
	}
	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(norm));
	res = zt_policy_match_name(s->cfg.policy, norm);
	if (!res) {
		json_object_object_add(o, "answer", json_object_new_string("forwarded"));
		json_object_object_add(o, "upstreams", json_object_new_string(s->upstreams));
		json_object_object_add(o, "why", json_object_new_string(
			"not a resource name: forwarded to the upstreams; answers pointing into "
			"the fake range or an IP resource are stripped"));
		return o;
	}
	json_object_object_add(o, "answer", json_object_new_string("resource"));
	json_object_object_add(o, "resource", json_object_new_string(res->name));
	json_object_object_add(o, "pattern", json_object_new_string(res->name_pattern));
	json_object_object_add(o, "match", json_object_new_string(
		res->name_pattern[0] == '*' ? "wildcard" : "exact"));
	json_object_object_add(o, "ttl", json_object_new_int((int)s->cfg.ttl));
	fast_fold(s);
	if (!zt_fakeip_lookup_name(s->pool, norm, &addr, &last_use)) {
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &addr, a, sizeof(a));
		json_object_object_add(o, "fake_ip", json_object_new_string(a));
		add_time(o, "last_use", last_use);
		json_object_object_add(o, "why", json_object_new_string(
			"A: the name's fake IP; AAAA and other types: NOERROR, no answer"));
	} else {
		json_object_object_add(o, "fake_ip", NULL);
		json_object_object_add(o, "why", json_object_new_string(
			"A: a fake IP is assigned at the first A query; AAAA and other types: "
			"NOERROR, no answer"));
	}
	return o;
}

void zt_dns_server_stats(const struct zt_dns_server *s, json_object *o)
{
	json_object *d = json_object_new_object();
	uint64_t saves, appends;

	json_object_object_add(d, "local", json_object_new_int64((int64_t)s->q_local));
	json_object_object_add(d, "forwarded", json_object_new_int64((int64_t)s->q_forwarded));
	json_object_object_add(d, "cached", json_object_new_int64((int64_t)s->q_cached));
	json_object_object_add(d, "formerr", json_object_new_int64((int64_t)s->q_formerr));
	json_object_object_add(d, "servfail", json_object_new_int64((int64_t)s->q_servfail));
	json_object_object_add(d, "dropped", json_object_new_int64((int64_t)s->q_dropped));
	json_object_object_add(d, "stripped", json_object_new_int64((int64_t)s->q_stripped));
	json_object_object_add(d, "pending", json_object_new_int64((int64_t)s->pending));
	json_object_object_add(d, "refused_remote", json_object_new_int64((int64_t)s->q_refused_remote));
	json_object_object_add(d, "limited", json_object_new_int64((int64_t)s->q_limited));
	json_object_object_add(d, "case_mismatch", json_object_new_int64((int64_t)s->q_spoofed));
	zt_fakeip_file_stats(s->pool, &saves, &appends);
	json_object_object_add(d, "pool_saves", json_object_new_int64((int64_t)saves));
	json_object_object_add(d, "pool_journaled", json_object_new_int64((int64_t)appends));
	json_object_object_add(d, "mappings", json_object_new_int64((int64_t)zt_fakeip_count(s->pool)));
	if (s->cfg.fast) {
		struct zt_dns_fast_stats fs;
		json_object *f = json_object_new_object();

		if (zt_dns_fast_read_stats(s->cfg.fast, &fs) == 0) {
			json_object_object_add(f, "answered", json_object_new_int64((int64_t)fs.answered));
			json_object_object_add(f, "missed", json_object_new_int64((int64_t)fs.missed));
			json_object_object_add(f, "passed", json_object_new_int64((int64_t)fs.passed));
		}
		json_object_object_add(f, "learned", json_object_new_int64((int64_t)s->fast_puts));
		json_object_object_add(f, "flushes", json_object_new_int64((int64_t)s->fast_flushes));
		json_object_object_add(d, "fast_path", f);
	} else {
		json_object_object_add(d, "fast_path", json_object_new_string("off"));
	}
	if (s->cache) {
		struct zt_dns_cache_stats st;
		json_object *c = json_object_new_object();

		zt_dns_cache_get_stats(s->cache, &st);
		json_object_object_add(c, "entries", json_object_new_int64((int64_t)st.entries));
		json_object_object_add(c, "hits", json_object_new_int64((int64_t)st.hits));
		json_object_object_add(c, "misses", json_object_new_int64((int64_t)st.misses));
		json_object_object_add(c, "stored", json_object_new_int64((int64_t)st.stored));
		json_object_object_add(c, "evicted", json_object_new_int64((int64_t)st.evicted));
		json_object_object_add(c, "expired", json_object_new_int64((int64_t)st.expired));
		json_object_object_add(d, "cache", c);
	}
	json_object_object_add(o, "dns", d);
}
