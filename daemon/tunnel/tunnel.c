// SPDX-License-Identifier: GPL-2.0-only
/*
 * The tunnel engine (tunnel.h): WireGuard's state machine (its paper,
 * sections 5.4 and 6, and the Linux driver's timers.c/send.c/receive.c,
 * whose names the timer functions below keep) over our own Noise IK.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/mem.h>
#include <openssl/rand.h>

#include "tunnel/tunnel.h"
#include "tunnel/wire.h"

#define NS_PER_MS		1000000ull
#define NS_PER_S		1000000000ull
#define INDEX_BUCKETS		4096	/* local indices: random, so any bucketing is even */
#define PEER_BUCKETS		1024
#define TX_SLOT			2048	/* an inner MTU of 1420 + 32 fits; bigger ones go alone */
#define RX_SLOT			65536	/* any UDP datagram */
#define RX_ROUNDS		2	/* batches per wakeup, then the loop's other fds */
#define SOCKET_BUFFER		(4 << 20)
#define GSO_SEGMENTS_MAX	64	/* the kernel's UDP_MAX_SEGMENTS */
#define GSO_BYTES_MAX		65507	/* one IPv4 UDP datagram's payload */
/* An initiator stops using a cookie a little before the responder's secret rotates. */
#define COOKIE_LATENCY_NS	(5 * NS_PER_S)
#define UNDER_LOAD_AFTER_NS	NS_PER_S

/* A local index: what a response, transport or cookie reply is addressed to. */
struct index_entry {
	uint32_t id;
	bool linked;
	struct zt_tunnel_peer *peer;
	struct keypair *kp;		/* NULL: the peer's pending initiation */
	struct index_entry *next;
};

/* One session: a key each way, counters, replay window. */
struct keypair {
	struct index_entry idx;		/* our index: the peer sends to it */
	struct zt_noise_session noise;
	uint32_t remote_index;		/* we send to it */
	uint64_t born_ns;
	uint64_t send_counter;		/* next to use; never reused */
	bool initiator;
	bool confirmed;			/* may send: the responder waits for the first packet */
	struct zt_noise_replay replay;
};

struct queued {
	uint8_t *buf;
	size_t len;
};

struct zt_tunnel_peer {
	struct zt_tunnel *t;
	uint8_t pub[ZT_NOISE_KEY_LEN];
	uint8_t mac1_key[32];		/* mac1 of what we send it */
	uint8_t cookie_key[32];		/* opens its cookie replies */
	void *ctx;
	struct sockaddr_storage endpoint;	/* AF_UNSPEC: unknown */
	bool removed;
	bool relayed;				/* path through ops.relay_send */
	uint64_t last_direct_rx_ns;

	/* The initiation we sent, waiting for its response. */
	struct zt_noise_handshake hs;
	bool hs_pending;
	struct index_entry hs_idx;
	uint8_t sent_mac1[ZT_TW_MAC_LEN];	/* a cookie reply's associated data */
	bool has_sent_mac1;
	uint8_t cookie[ZT_TW_COOKIE_LEN];
	uint64_t cookie_born_ns;
	bool has_cookie;
	uint64_t last_init_sent_ns;
	uint64_t attempt_start_ns;
	bool sent_lastminute_handshake;

	/* The newest TAI64N accepted from it (as responder). */
	uint8_t last_tai64n[ZT_TW_TAI64N_LEN];

	struct keypair *prev, *cur, *next;

	/* Deadlines, CLOCK_MONOTONIC ns; 0: off. */
	uint64_t retry_at;		/* retransmit the initiation */
	uint64_t keepalive_at;		/* we received data and sent nothing */
	uint64_t new_handshake_at;	/* we sent data and heard nothing */
	uint64_t zero_keys_at;		/* no new session for 3 * REJECT_AFTER_TIME */
	uint64_t persistent_at;
	bool need_another_keepalive;

	struct queued queue[ZT_TUNNEL_QUEUE_MAX];
	unsigned int qhead, qlen;

	struct zt_tunnel_peer_stats st;	/* endpoint, queued, session_up filled on read */

	struct zt_tunnel_peer *hnext;		/* by_key chain */
	struct zt_tunnel_peer *lprev, *lnext;	/* all peers */
	struct zt_tunnel_peer *gnext;		/* graveyard */
};

struct zt_tunnel {
	struct zt_loop *loop;
	int fd, timer_fd;
	int family;			/* of the socket */
	bool fd_registered, timer_registered;
	struct zt_tunnel_ops ops;
	void *ctx;

	uint8_t priv[ZT_NOISE_KEY_LEN], pub[ZT_NOISE_KEY_LEN];
	uint8_t mac1_key[32];		/* checks mac1 of what we receive */
	uint8_t cookie_key[32];		/* seals our cookie replies */
	struct zt_tw_cookie_secret cookie_secret;

	uint64_t rekey_after_time_ns, reject_after_time_ns, rekey_attempt_time_ns;
	uint64_t rekey_timeout_ns, keepalive_timeout_ns, persistent_keepalive_ns;
	uint64_t rekey_after_messages;
	uint32_t under_load_threshold;
	uint64_t load_window_start_ns, load_count, under_load_until_ns;
	bool backlog;
	bool in_rx_batch;		/* handling a recvmmsg batch: rx buffers stable until its flush */

	struct index_entry *index[INDEX_BUCKETS];
	struct zt_tunnel_peer *by_key[PEER_BUCKETS];
	struct zt_tunnel_peer *peers;
	struct zt_tunnel_peer *graveyard;
	int depth;			/* inside an event: removed peers wait */

	/* The datagram being handled: how it came, and the peer it authenticated. */
	enum zt_tunnel_rx_path rx_path;
	struct sockaddr_storage rx_from;
	struct zt_tunnel_peer *rx_peer;

	uint64_t timer_armed_ns;	/* 0: disarmed */

	/* Receive batch. */
	struct mmsghdr rx[ZT_TUNNEL_BATCH];
	struct iovec rx_iov[ZT_TUNNEL_BATCH];
	struct sockaddr_storage rx_src[ZT_TUNNEL_BATCH];
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(int))];
	} rx_cmsg[ZT_TUNNEL_BATCH];	/* UDP_GRO: the segment size */
	uint8_t *rx_buf;		/* ZT_TUNNEL_BATCH * RX_SLOT */
	bool gro;			/* the kernel may hand us runs of datagrams at once */

	/* Send batch. */
	int cork;
	unsigned int ntx;
	struct mmsghdr tx[ZT_TUNNEL_BATCH];
	struct iovec tx_iov[ZT_TUNNEL_BATCH];
	struct sockaddr_storage tx_to[ZT_TUNNEL_BATCH];
	uint8_t (*tx_buf)[TX_SLOT];
	uint8_t *big;			/* one datagram over TX_SLOT, sent alone */
	/* What sendmmsg gets: runs of equal datagrams to one endpoint as one UDP GSO send. */
	bool gso;
	struct mmsghdr txg[ZT_TUNNEL_BATCH];
	unsigned int txg_count[ZT_TUNNEL_BATCH];
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(uint16_t))];
	} txg_cmsg[ZT_TUNNEL_BATCH];

	struct zt_tunnel_stats stats;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* ---- addresses ---- */

/* Endpoints are kept as the peer is: an IPv4-mapped IPv6 address becomes AF_INET. */
static int addr_normalize(const struct sockaddr *sa, socklen_t len, struct sockaddr_storage *out)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		memcpy(out, sa, sizeof(struct sockaddr_in));
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		struct sockaddr_in *sin = (struct sockaddr_in *)out;

		if (memcmp(sin6->sin6_addr.s6_addr, v4mapped, sizeof(v4mapped))) {
			memcpy(out, sa, sizeof(struct sockaddr_in6));
			return 0;
		}
		sin->sin_family = AF_INET;
		sin->sin_port = sin6->sin6_port;
		memcpy(&sin->sin_addr, sin6->sin6_addr.s6_addr + 12, 4);
		return 0;
	}
	return -EAFNOSUPPORT;
}

/* EP as our socket's family wants it; 0 if it cannot reach it (IPv6 from an IPv4 socket). */
static socklen_t addr_for_socket(const struct zt_tunnel *t, const struct sockaddr_storage *ep,
				 struct sockaddr_storage *to)
{
	memset(to, 0, sizeof(*to));
	if (ep->ss_family == t->family) {
		memcpy(to, ep, sizeof(*to));
		return ep->ss_family == AF_INET ? sizeof(struct sockaddr_in) :
						  sizeof(struct sockaddr_in6);
	}
	if (ep->ss_family == AF_INET && t->family == AF_INET6) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ep;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)to;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = sin->sin_port;
		sin6->sin6_addr.s6_addr[10] = 0xff;
		sin6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(sin6->sin6_addr.s6_addr + 12, &sin->sin_addr, 4);
		return sizeof(*sin6);
	}
	return 0;
}

static bool has_endpoint(const struct zt_tunnel_peer *p)
{
	return p->endpoint.ss_family != AF_UNSPEC;
}

/* Datagrams to P go through the relay: its path, or the answer to a relayed datagram. */
static bool via_relay(const struct zt_tunnel_peer *p)
{
	return p->relayed || (p->t->rx_path == ZT_TUNNEL_RX_RELAYED && p->t->rx_peer == p);
}

/* Somewhere to send P's datagrams (a handshake needs it). */
static bool can_reach(const struct zt_tunnel_peer *p)
{
	return has_endpoint(p) || via_relay(p);
}

/* ---- sending: one sendmmsg per batch ---- */

/*
 * How many datagrams from I can leave as one UDP GSO send: same endpoint,
 * same size (the last may be shorter), within the kernel's limits.
 */
static unsigned int gso_run(const struct zt_tunnel *t, unsigned int i)
{
	const struct msghdr *first = &t->tx[i].msg_hdr;
	size_t size = t->tx_iov[i].iov_len, total = size;
	unsigned int j = i + 1;

	if (!t->gso)
		return 1;
	while (j < t->ntx && j - i < GSO_SEGMENTS_MAX && t->tx_iov[j - 1].iov_len == size &&
	       t->tx_iov[j].iov_len <= size && total + t->tx_iov[j].iov_len <= GSO_BYTES_MAX &&
	       t->tx[j].msg_hdr.msg_namelen == first->msg_namelen &&
	       !memcmp(t->tx[j].msg_hdr.msg_name, first->msg_name, first->msg_namelen)) {
		total += t->tx_iov[j].iov_len;
		j++;
	}
	return j - i;
}

/* Group the datagrams from I into t->txg; returns how many groups. */
static unsigned int tx_group(struct zt_tunnel *t, unsigned int i)
{
	unsigned int ng = 0, cnt;

	for (; i < t->ntx; i += cnt, ng++) {
		struct msghdr *m = &t->txg[ng].msg_hdr;

		cnt = gso_run(t, i);
		*m = (struct msghdr){ .msg_name = t->tx[i].msg_hdr.msg_name,
				      .msg_namelen = t->tx[i].msg_hdr.msg_namelen,
				      .msg_iov = &t->tx_iov[i], .msg_iovlen = cnt };
		if (cnt > 1) {
			uint16_t size = (uint16_t)t->tx_iov[i].iov_len;
			struct cmsghdr *cm;

			m->msg_control = t->txg_cmsg[ng].buf;
			m->msg_controllen = sizeof(t->txg_cmsg[ng].buf);
			cm = CMSG_FIRSTHDR(m);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(size));
			memcpy(CMSG_DATA(cm), &size, sizeof(size));
		}
		t->txg_count[ng] = cnt;
	}
	return ng;
}

static void tx_flush(struct zt_tunnel *t)
{
	unsigned int sent = 0, ng;
	int n, k;

	while (sent < t->ntx) {
		ng = tx_group(t, sent);
		n = sendmmsg(t->fd, t->txg, ng, MSG_DONTWAIT);
		if (n <= 0) {
			/* A path that cannot segment (EIO): send them one by one from now on. */
			if (t->txg_count[0] > 1 && (errno == EIO || errno == EINVAL)) {
				t->gso = false;
				continue;
			}
			/* The first one failed: it is lost (as on a lossy path), the rest still go. */
			t->stats.tx_errors += t->txg_count[0];
			sent += t->txg_count[0];
			continue;
		}
		for (k = 0; k < n; k++) {
			t->stats.tx_gso_sends += t->txg_count[k] > 1;
			t->stats.tx_datagrams += t->txg_count[k];
			sent += t->txg_count[k];
		}
	}
	t->ntx = 0;
}

/* Space for one datagram of LEN bytes, to be passed to tx_commit() next. */
static uint8_t *tx_reserve(struct zt_tunnel *t, size_t len)
{
	if (len > TX_SLOT)
		return t->big;
	if (t->ntx == ZT_TUNNEL_BATCH)
		tx_flush(t);
	return t->tx_buf[t->ntx];
}

static void tx_commit(struct zt_tunnel *t, const struct sockaddr_storage *ep, uint8_t *buf,
		      size_t len)
{
	struct sockaddr_storage to;
	socklen_t tolen = addr_for_socket(t, ep, &to);
	unsigned int i;

	if (!tolen) {
		t->stats.tx_errors++;
		return;
	}
	if (buf == t->big) {
		if (sendto(t->fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&to, tolen) < 0)
			t->stats.tx_errors++;
		else
			t->stats.tx_datagrams++;
		return;
	}
	i = t->ntx++;
	t->tx_to[i] = to;
	t->tx_iov[i] = (struct iovec){ .iov_base = buf, .iov_len = len };
	t->tx[i].msg_hdr = (struct msghdr){ .msg_name = &t->tx_to[i], .msg_namelen = tolen,
					    .msg_iov = &t->tx_iov[i], .msg_iovlen = 1 };
	if (!t->cork)
		tx_flush(t);
}

/* Send a datagram made in BUF (from tx_reserve) to P on its path. */
static void peer_commit(struct zt_tunnel_peer *p, uint8_t *buf, size_t len)
{
	struct zt_tunnel *t = p->t;

	if (!via_relay(p)) {
		tx_commit(t, &p->endpoint, buf, len);
		return;
	}
	if (t->ops.relay_send && t->ops.relay_send(t->ctx, p, buf, len) == 0)
		t->stats.tx_relayed++;
	else
		t->stats.tx_errors++;
}

void zt_tunnel_cork(struct zt_tunnel *t)
{
	t->cork++;
}

void zt_tunnel_uncork(struct zt_tunnel *t)
{
	if (t->cork > 0 && --t->cork == 0)
		tx_flush(t);
}

/* ---- index table ---- */

static struct index_entry **index_bucket(struct zt_tunnel *t, uint32_t id)
{
	return &t->index[id & (INDEX_BUCKETS - 1)];
}

static struct index_entry *index_find(struct zt_tunnel *t, uint32_t id)
{
	struct index_entry *e;

	for (e = *index_bucket(t, id); e; e = e->next)
		if (e->id == id)
			return e;
	return NULL;
}

/*
 * Give E index ID, or a fresh random one unused by any other entry when ID
 * is 0 (so 0 is never an index).
 */
static int index_insert(struct zt_tunnel *t, struct index_entry *e, uint32_t id)
{
	struct index_entry **b;

	while (!id || index_find(t, id)) {
		if (!RAND_bytes((uint8_t *)&id, sizeof(id)))
			return -EIO;
	}
	e->id = id;
	b = index_bucket(t, id);
	e->next = *b;
	*b = e;
	e->linked = true;
	return 0;
}

static void index_remove(struct zt_tunnel *t, struct index_entry *e)
{
	struct index_entry **pe;

	if (!e->linked)
		return;
	for (pe = index_bucket(t, e->id); *pe; pe = &(*pe)->next) {
		if (*pe == e) {
			*pe = e->next;
			break;
		}
	}
	e->linked = false;
	e->next = NULL;
}

/* ---- timers ---- */

/* Arm the timerfd for WHEN unless it already fires no later. */
static void arm(struct zt_tunnel *t, uint64_t when)
{
	struct itimerspec its = { 0 };

	if (!when || (t->timer_armed_ns && t->timer_armed_ns <= when))
		return;
	its.it_value.tv_sec = (time_t)(when / NS_PER_S);
	its.it_value.tv_nsec = (long)(when % NS_PER_S);
	if (timerfd_settime(t->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		t->timer_armed_ns = when;
}

static void set_timer(struct zt_tunnel_peer *p, uint64_t *deadline, uint64_t when)
{
	*deadline = when;
	arm(p->t, when);
}

static uint64_t peer_deadline(const struct zt_tunnel_peer *p)
{
	const uint64_t d[] = { p->retry_at, p->keepalive_at, p->new_handshake_at,
			       p->zero_keys_at, p->persistent_at };
	uint64_t min = 0;

	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		if (d[i] && (!min || d[i] < min))
			min = d[i];
	return min;
}

/* REKEY_TIMEOUT plus up to a fifteenth of it (WireGuard's 333 ms of 5 s). */
static uint64_t rekey_timeout_jittered(const struct zt_tunnel *t)
{
	uint32_t r = 0;
	uint64_t span = t->rekey_timeout_ns / 15;

	RAND_bytes((uint8_t *)&r, sizeof(r));
	return t->rekey_timeout_ns + (span ? r % (span + 1) : 0);
}

/* What WireGuard's timers.c calls on each event, same names. */
static void timers_any_authenticated_packet_sent(struct zt_tunnel_peer *p)
{
	p->keepalive_at = 0;
}

static void timers_any_authenticated_packet_received(struct zt_tunnel_peer *p)
{
	p->new_handshake_at = 0;
}

static void timers_any_authenticated_packet_traversal(struct zt_tunnel_peer *p, uint64_t now)
{
	if (p->t->persistent_keepalive_ns)
		set_timer(p, &p->persistent_at, now + p->t->persistent_keepalive_ns);
}

static void timers_data_sent(struct zt_tunnel_peer *p, uint64_t now)
{
	if (!p->new_handshake_at)
		set_timer(p, &p->new_handshake_at,
			  now + p->t->keepalive_timeout_ns + p->t->rekey_timeout_ns);
}

static void timers_data_received(struct zt_tunnel_peer *p, uint64_t now)
{
	if (!p->keepalive_at)
		set_timer(p, &p->keepalive_at, now + p->t->keepalive_timeout_ns);
	else
		p->need_another_keepalive = true;
}

static void timers_handshake_complete(struct zt_tunnel_peer *p)
{
	p->retry_at = 0;
	p->sent_lastminute_handshake = false;
}

static void timers_session_derived(struct zt_tunnel_peer *p, uint64_t now)
{
	set_timer(p, &p->zero_keys_at, now + 3 * p->t->reject_after_time_ns);
	p->st.handshakes++;
	p->st.last_handshake_ns = real_ns();
}

/* ---- sessions ---- */

static void keypair_free(struct zt_tunnel *t, struct keypair *kp)
{
	if (!kp)
		return;
	index_remove(t, &kp->idx);
	zt_noise_session_destroy(&kp->noise);
	OPENSSL_cleanse(kp, sizeof(*kp));
	free(kp);
}

static void handshake_clear(struct zt_tunnel_peer *p)
{
	index_remove(p->t, &p->hs_idx);
	zt_noise_handshake_destroy(&p->hs);
	p->hs_pending = false;
	p->has_sent_mac1 = false;
}

static void wipe_keys(struct zt_tunnel_peer *p)
{
	keypair_free(p->t, p->prev);
	keypair_free(p->t, p->cur);
	keypair_free(p->t, p->next);
	p->prev = p->cur = p->next = NULL;
	handshake_clear(p);
}

static bool can_send(const struct zt_tunnel *t, const struct keypair *kp, uint64_t now)
{
	return kp && kp->confirmed && now - kp->born_ns < t->reject_after_time_ns &&
	       kp->send_counter < ZT_TUNNEL_REJECT_AFTER_MESSAGES;
}

/*
 * A session from a completed handshake HS (destroyed here, whatever
 * happens). LOCAL_INDEX: the index the peer knows us by (the initiator's
 * was in its initiation), 0 for a new one (the responder's, sent in the
 * response).
 */
static struct keypair *keypair_new(struct zt_tunnel *t, struct zt_tunnel_peer *p,
				   struct zt_noise_handshake *hs, uint32_t local_index,
				   uint32_t remote_index, bool initiator, uint64_t now)
{
	struct keypair *kp = calloc(1, sizeof(*kp));

	if (!kp)
		goto fail;
	if (zt_noise_split(hs, &kp->noise))
		goto fail;
	kp->idx.peer = p;
	kp->idx.kp = kp;
	if (index_insert(t, &kp->idx, local_index))
		goto fail;
	kp->remote_index = remote_index;
	kp->born_ns = now;
	kp->initiator = initiator;
	kp->confirmed = initiator;
	zt_noise_replay_init(&kp->replay);
	return kp;
fail:
	zt_noise_handshake_destroy(hs);
	keypair_free(t, kp);
	return NULL;
}

/*
 * WireGuard's add_new_keypair: the initiator uses its new session at once
 * (the responder's may still arrive on the old one, kept as previous); the
 * responder holds its new one as next until the initiator's first packet
 * on it shows that the initiator has it too.
 */
static void install_keypair(struct zt_tunnel_peer *p, struct keypair *kp)
{
	struct zt_tunnel *t = p->t;

	if (kp->initiator) {
		if (p->next) {
			keypair_free(t, p->prev);
			p->prev = p->next;
			p->next = NULL;
			keypair_free(t, p->cur);
		} else {
			keypair_free(t, p->prev);
			p->prev = p->cur;
		}
		p->cur = kp;
	} else {
		keypair_free(t, p->next);
		p->next = kp;
		keypair_free(t, p->prev);
		p->prev = NULL;
	}
}

/* The first packet on next confirms it: it becomes current. True if so. */
static bool received_with_keypair(struct zt_tunnel_peer *p, struct keypair *kp)
{
	if (kp != p->next)
		return false;
	keypair_free(p->t, p->prev);
	p->prev = p->cur;
	p->cur = kp;
	p->next = NULL;
	kp->confirmed = true;
	return true;
}

/* ---- queue ---- */

static void queue_push(struct zt_tunnel_peer *p, const uint8_t *payload, size_t len)
{
	struct queued *q;
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy) {
		p->st.queue_dropped++;
		return;
	}
	memcpy(copy, payload, len);
	if (p->qlen == ZT_TUNNEL_QUEUE_MAX) {
		q = &p->queue[p->qhead];
		free(q->buf);
		p->qhead = (p->qhead + 1) % ZT_TUNNEL_QUEUE_MAX;
		p->qlen--;
		p->st.queue_dropped++;
	}
	q = &p->queue[(p->qhead + p->qlen) % ZT_TUNNEL_QUEUE_MAX];
	q->buf = copy;
	q->len = len;
	p->qlen++;
}

static void queue_purge(struct zt_tunnel_peer *p, bool count)
{
	while (p->qlen) {
		free(p->queue[p->qhead].buf);
		p->qhead = (p->qhead + 1) % ZT_TUNNEL_QUEUE_MAX;
		p->qlen--;
		if (count)
			p->st.queue_dropped++;
	}
	p->qhead = 0;
}

/* ---- handshake: initiator ---- */

static void send_initiation(struct zt_tunnel_peer *p, uint64_t now)
{
	struct zt_tunnel *t = p->t;
	struct zt_tw_initiation m = { 0 };
	uint8_t ts[ZT_TW_TAI64N_LEN], *buf;
	bool fresh_cookie;

	if (p->removed || !can_reach(p))
		return;
	handshake_clear(p);
	if (zt_noise_handshake_init(&p->hs, ZT_NOISE_INITIATOR, (const uint8_t *)ZT_TW_PROLOGUE,
				    ZT_TW_PROLOGUE_LEN, t->priv, p->pub))
		return;
	zt_tw_tai64n_now(ts);
	if (zt_noise_write_message(&p->hs, ts, sizeof(ts), m.noise, sizeof(m.noise)) !=
	    (ssize_t)sizeof(m.noise))
		goto fail;
	p->hs_idx.peer = p;
	p->hs_idx.kp = NULL;
	if (index_insert(t, &p->hs_idx, 0))
		goto fail;
	p->hs_pending = true;
	m.sender = p->hs_idx.id;

	buf = tx_reserve(t, ZT_TW_INITIATION_LEN);
	zt_tw_initiation_encode(&m, buf, ZT_TW_INITIATION_LEN);
	zt_tw_mac1_write(buf, ZT_TW_INITIATION_LEN, p->mac1_key);
	memcpy(p->sent_mac1, zt_tw_mac1_of(buf, ZT_TW_INITIATION_LEN), ZT_TW_MAC_LEN);
	p->has_sent_mac1 = true;
	fresh_cookie = p->has_cookie &&
		       now - p->cookie_born_ns < ZT_TW_COOKIE_SECRET_MAX_AGE_NS - COOKIE_LATENCY_NS;
	zt_tw_mac2_write(buf, ZT_TW_INITIATION_LEN, fresh_cookie ? p->cookie : NULL);
	peer_commit(p, buf, ZT_TW_INITIATION_LEN);

	p->last_init_sent_ns = now;
	p->st.initiations_sent++;
	set_timer(p, &p->retry_at, now + rekey_timeout_jittered(t));
	timers_any_authenticated_packet_sent(p);
	timers_any_authenticated_packet_traversal(p, now);
	return;
fail:
	handshake_clear(p);
}

/*
 * Start a handshake unless one went out less than REKEY_TIMEOUT ago
 * (WireGuard's rate limit). The REKEY_ATTEMPT_TIME budget starts with the
 * first initiation of an attempt, not with every packet that asks for one.
 */
static void initiate(struct zt_tunnel_peer *p, uint64_t now)
{
	if (p->removed || !can_reach(p))
		return;
	if (p->last_init_sent_ns && now - p->last_init_sent_ns < p->t->rekey_timeout_ns)
		return;
	if (!p->retry_at)
		p->attempt_start_ns = now;
	send_initiation(p, now);
}

/* ---- transport ---- */

static void send_transport(struct zt_tunnel_peer *p, struct keypair *kp, const uint8_t *payload,
			   size_t len, uint64_t now)
{
	struct zt_tunnel *t = p->t;
	size_t total = ZT_TW_TRANSPORT_LEN(len);
	uint8_t *buf = tx_reserve(t, total);

	zt_tw_transport_header_encode(kp->remote_index, kp->send_counter, buf, total);
	if (zt_noise_seal(&kp->noise.send, kp->send_counter, NULL, 0, payload, len,
			  buf + ZT_TW_TRANSPORT_HEADER_LEN, total - ZT_TW_TRANSPORT_HEADER_LEN) < 0)
		return;
	kp->send_counter++;
	peer_commit(p, buf, total);
	if (len) {
		p->st.tx_packets++;
		p->st.tx_bytes += len;
		timers_data_sent(p, now);
	} else {
		p->st.tx_keepalives++;
	}
	timers_any_authenticated_packet_sent(p);
	timers_any_authenticated_packet_traversal(p, now);
}

/* WireGuard's keep_key_fresh on the send side. */
static void keep_key_fresh_send(struct zt_tunnel_peer *p, uint64_t now)
{
	struct keypair *kp = p->cur;

	if (kp && (kp->send_counter > p->t->rekey_after_messages ||
		   (kp->initiator && now - kp->born_ns > p->t->rekey_after_time_ns)))
		initiate(p, now);
}

/*
 * ... and on the receive side: an initiator whose session is about to be
 * rejected, and who has not sent since (else the send side would have
 * rekeyed), makes one last attempt.
 */
static void keep_key_fresh_recv(struct zt_tunnel_peer *p, uint64_t now)
{
	struct zt_tunnel *t = p->t;
	struct keypair *kp = p->cur;
	uint64_t margin = t->keepalive_timeout_ns + t->rekey_timeout_ns;
	uint64_t limit = t->reject_after_time_ns > margin ? t->reject_after_time_ns - margin : 0;

	if (kp && kp->initiator && !p->sent_lastminute_handshake && now - kp->born_ns > limit) {
		p->sent_lastminute_handshake = true;
		initiate(p, now);
	}
}

/* Send what is queued on the current session, or ask for one. */
static void send_staged(struct zt_tunnel_peer *p, uint64_t now)
{
	struct zt_tunnel *t = p->t;

	while (p->qlen) {
		struct queued *q = &p->queue[p->qhead];

		if (!can_send(t, p->cur, now)) {
			initiate(p, now);
			return;
		}
		send_transport(p, p->cur, q->buf, q->len, now);
		free(q->buf);
		p->qhead = (p->qhead + 1) % ZT_TUNNEL_QUEUE_MAX;
		p->qlen--;
	}
	p->qhead = 0;
	keep_key_fresh_send(p, now);
}

static void send_keepalive(struct zt_tunnel_peer *p, uint64_t now)
{
	if (p->qlen) {
		send_staged(p, now);		/* data says we are alive as well */
		return;
	}
	if (can_send(p->t, p->cur, now))
		send_transport(p, p->cur, NULL, 0, now);
	else
		initiate(p, now);
}

/* ---- receiving ---- */

/*
 * A datagram from SRC authenticated P. Roaming: a direct one makes SRC
 * P's endpoint; one that came through a relay moves nothing.
 */
static void authenticated_from(struct zt_tunnel_peer *p, const struct sockaddr_storage *src,
			       uint64_t now)
{
	p->t->rx_peer = p;
	if (p->t->rx_path == ZT_TUNNEL_RX_RELAYED)
		return;
	p->endpoint = *src;
	p->last_direct_rx_ns = now;
}

/* Not ours but a relay's (docs/RELAY.md: types 0x10-0x1f) or STUN (the magic cookie). */
static bool is_other(const uint8_t *msg, size_t len)
{
	static const uint8_t stun_magic[4] = { 0x21, 0x12, 0xa4, 0x42 };

	if (len >= 4 && msg[0] >= 0x10 && msg[0] <= 0x1f)
		return true;
	return len >= 20 && !(msg[0] & 0xc0) && !memcmp(msg + 4, stun_magic, 4);
}

/*
 * Under load: more initiations in the current second than the threshold,
 * or a receive batch more than half initiations; the state holds for a
 * second after the last sign of it.
 */
static bool under_load(struct zt_tunnel *t, uint64_t now)
{
	if (now - t->load_window_start_ns >= NS_PER_S) {
		t->load_window_start_ns = now;
		t->load_count = 0;
	}
	t->load_count++;
	if (t->load_count > t->under_load_threshold || t->backlog)
		t->under_load_until_ns = now + UNDER_LOAD_AFTER_NS;
	return now < t->under_load_until_ns;
}

static void consume_initiation(struct zt_tunnel *t, uint8_t *msg, size_t len,
			       const struct sockaddr_storage *src, uint64_t now)
{
	struct zt_tw_initiation m;
	struct zt_tw_response r = { 0 };
	struct zt_noise_handshake hs;
	struct zt_tunnel_peer *p;
	struct keypair *kp;
	uint8_t ts[ZT_TW_TAI64N_LEN], rs[ZT_NOISE_KEY_LEN], *buf;
	bool fresh_cookie;

	/* Cheap checks first: no DH for anyone who does not know our public key. */
	if (!zt_tw_mac1_ok(msg, len, t->mac1_key)) {
		t->stats.rx_bad_mac1++;
		return;
	}
	if (zt_tw_initiation_parse(msg, len, &m))
		return;
	if (t->rx_path != ZT_TUNNEL_RX_RELAYED && under_load(t, now)) {
		uint8_t cookie[ZT_TW_COOKIE_LEN];

		if (zt_tw_cookie_make(&t->cookie_secret, now, (const struct sockaddr *)src, cookie))
			return;
		if (!zt_tw_mac2_ok(msg, len, cookie)) {
			buf = tx_reserve(t, ZT_TW_COOKIE_REPLY_LEN);
			if (!zt_tw_cookie_reply_seal(t->cookie_key, m.sender, cookie, m.mac1, buf,
						     ZT_TW_COOKIE_REPLY_LEN)) {
				tx_commit(t, src, buf, ZT_TW_COOKIE_REPLY_LEN);
				t->stats.cookie_replies_sent++;
			}
			OPENSSL_cleanse(cookie, sizeof(cookie));
			return;
		}
		OPENSSL_cleanse(cookie, sizeof(cookie));
		t->stats.mac2_accepted++;
	}

	t->stats.handshake_dh++;
	if (zt_noise_handshake_init(&hs, ZT_NOISE_RESPONDER, (const uint8_t *)ZT_TW_PROLOGUE,
				    ZT_TW_PROLOGUE_LEN, t->priv, NULL))
		return;
	if (zt_noise_read_message(&hs, m.noise, sizeof(m.noise), ts, sizeof(ts)) !=
	    (ssize_t)sizeof(ts)) {
		t->stats.rx_handshake_failed++;
		goto out;
	}
	zt_noise_remote_static(&hs, rs);
	p = zt_tunnel_peer_by_key(t, rs);
	if (!p) {
		t->stats.rx_unknown_key++;	/* silence: no reply tells it we exist */
		goto out;
	}
	if (!zt_tw_tai64n_after(ts, p->last_tai64n)) {
		t->stats.rx_initiation_replay++;
		goto out;
	}
	if (zt_noise_write_message(&hs, NULL, 0, r.noise, sizeof(r.noise)) !=
	    (ssize_t)sizeof(r.noise))
		goto out;
	kp = keypair_new(t, p, &hs, 0, m.sender, false, now);
	if (!kp)
		goto out;
	/* Authenticated: only now does it count as the newest, and its source as the endpoint. */
	memcpy(p->last_tai64n, ts, sizeof(ts));
	authenticated_from(p, src, now);
	timers_any_authenticated_packet_received(p);
	timers_any_authenticated_packet_traversal(p, now);

	r.sender = kp->idx.id;
	r.receiver = m.sender;
	buf = tx_reserve(t, ZT_TW_RESPONSE_LEN);
	zt_tw_response_encode(&r, buf, ZT_TW_RESPONSE_LEN);
	zt_tw_mac1_write(buf, ZT_TW_RESPONSE_LEN, p->mac1_key);
	fresh_cookie = p->has_cookie &&
		       now - p->cookie_born_ns < ZT_TW_COOKIE_SECRET_MAX_AGE_NS - COOKIE_LATENCY_NS;
	zt_tw_mac2_write(buf, ZT_TW_RESPONSE_LEN, fresh_cookie ? p->cookie : NULL);
	peer_commit(p, buf, ZT_TW_RESPONSE_LEN);
	timers_any_authenticated_packet_sent(p);

	install_keypair(p, kp);
	timers_session_derived(p, now);
out:
	zt_noise_handshake_destroy(&hs);
	OPENSSL_cleanse(ts, sizeof(ts));
}

static void consume_response(struct zt_tunnel *t, uint8_t *msg, size_t len,
			     const struct sockaddr_storage *src, uint64_t now)
{
	struct zt_tw_response r;
	struct zt_noise_handshake hs;
	struct zt_tunnel_peer *p;
	struct index_entry *e;
	struct keypair *kp;

	if (!zt_tw_mac1_ok(msg, len, t->mac1_key)) {
		t->stats.rx_bad_mac1++;
		return;
	}
	if (zt_tw_response_parse(msg, len, &r))
		return;
	e = index_find(t, r.receiver);
	if (!e || e->kp || !e->peer->hs_pending) {
		t->stats.rx_unknown_index++;
		return;
	}
	p = e->peer;
	t->stats.handshake_dh++;
	hs = p->hs;		/* a forged response must leave ours intact */
	if (zt_noise_read_message(&hs, r.noise, sizeof(r.noise), NULL, 0) != 0) {
		t->stats.rx_handshake_failed++;
		zt_noise_handshake_destroy(&hs);
		return;
	}
	handshake_clear(p);	/* frees our index for the session to take over */
	kp = keypair_new(t, p, &hs, r.receiver, r.sender, true, now);
	if (!kp)
		return;
	authenticated_from(p, src, now);
	install_keypair(p, kp);
	timers_session_derived(p, now);
	timers_handshake_complete(p);
	timers_any_authenticated_packet_received(p);
	timers_any_authenticated_packet_traversal(p, now);
	/* Queued packets, or a keepalive: the responder's next session is confirmed by it. */
	send_keepalive(p, now);
	if (t->ops.session_up && !p->removed)
		t->ops.session_up(t->ctx, p);
}

static void consume_cookie_reply(struct zt_tunnel *t, const uint8_t *msg, size_t len,
				 uint64_t now)
{
	struct zt_tw_cookie_reply c;
	struct zt_tunnel_peer *p;
	struct index_entry *e;
	uint8_t cookie[ZT_TW_COOKIE_LEN];

	if (zt_tw_cookie_reply_parse(msg, len, &c))
		return;
	e = index_find(t, c.receiver);
	if (!e || e->kp || !e->peer->has_sent_mac1) {
		t->stats.rx_unknown_index++;
		return;
	}
	p = e->peer;
	if (zt_tw_cookie_reply_open(p->cookie_key, msg, len, p->sent_mac1, cookie)) {
		t->stats.rx_bad_cookie++;
		return;
	}
	memcpy(p->cookie, cookie, sizeof(cookie));
	OPENSSL_cleanse(cookie, sizeof(cookie));
	p->cookie_born_ns = now;
	p->has_cookie = true;
	p->has_sent_mac1 = false;	/* one cookie per initiation */
	p->st.cookie_replies_received++;
	/* No resend now: the retry timer sends the next initiation, with mac2. */
}

static void consume_transport(struct zt_tunnel *t, uint8_t *msg, size_t len,
			      const struct sockaddr_storage *src, uint64_t now)
{
	struct zt_tw_transport m;
	struct zt_tunnel_peer *p;
	struct index_entry *e;
	struct keypair *kp;
	uint8_t *plain;
	ssize_t n;

	if (zt_tw_transport_parse(msg, len, &m))
		return;
	e = index_find(t, m.receiver);
	if (!e || !e->kp) {
		t->stats.rx_unknown_index++;
		return;
	}
	kp = e->kp;
	p = e->peer;
	if (now - kp->born_ns >= t->reject_after_time_ns ||
	    m.counter >= ZT_TUNNEL_REJECT_AFTER_MESSAGES) {
		t->stats.rx_expired++;
		return;
	}
	if (!zt_noise_replay_check(&kp->replay, m.counter)) {
		t->stats.rx_replay++;
		return;
	}
	plain = msg + ZT_TW_TRANSPORT_HEADER_LEN;
	n = zt_noise_open(&kp->noise.recv, m.counter, NULL, 0, plain, m.sealed_len, plain,
			  m.sealed_len);
	if (n < 0) {
		t->stats.rx_bad_tag++;
		return;
	}
	if (!zt_noise_replay_accept(&kp->replay, m.counter)) {
		t->stats.rx_replay++;
		return;
	}

	/* Authenticated. */
	authenticated_from(p, src, now);
	timers_any_authenticated_packet_received(p);
	timers_any_authenticated_packet_traversal(p, now);
	if (n) {
		p->st.rx_packets++;
		p->st.rx_bytes += (uint64_t)n;
		timers_data_received(p, now);
	} else {
		p->st.rx_keepalives++;
	}
	keep_key_fresh_recv(p, now);
	if (received_with_keypair(p, kp)) {
		timers_handshake_complete(p);
		send_staged(p, now);
		if (t->ops.session_up)
			t->ops.session_up(t->ctx, p);
	}
	if (n && !p->removed && t->ops.recv)
		t->ops.recv(t->ctx, p, plain, (size_t)n);
}

/* A tunnel message from FROM (how it came: t->rx_path); false if MSG is none. */
static bool dispatch(struct zt_tunnel *t, uint8_t *msg, size_t len,
		     const struct sockaddr_storage *from, uint64_t now)
{
	t->rx_peer = NULL;
	switch (zt_tw_type(msg, len)) {
	case ZT_TW_INITIATION:
		consume_initiation(t, msg, len, from, now);
		return true;
	case ZT_TW_RESPONSE:
		consume_response(t, msg, len, from, now);
		return true;
	case ZT_TW_COOKIE_REPLY:
		consume_cookie_reply(t, msg, len, now);
		return true;
	case ZT_TW_TRANSPORT:
		consume_transport(t, msg, len, from, now);
		return true;
	default:
		return false;
	}
}

static void handle_datagram(struct zt_tunnel *t, uint8_t *msg, size_t len,
			    const struct sockaddr *src, socklen_t srclen, uint64_t now)
{
	struct sockaddr_storage from;

	t->stats.rx_datagrams++;
	if (addr_normalize(src, srclen, &from)) {
		t->stats.rx_malformed++;
		return;
	}
	t->rx_path = ZT_TUNNEL_RX_DIRECT;
	t->rx_from = from;
	if (!dispatch(t, msg, len, &from, now)) {
		if (t->ops.other && is_other(msg, len)) {
			t->stats.rx_other++;
			t->ops.other(t->ctx, msg, len, src, srclen);
		} else {
			t->stats.rx_malformed++;
		}
	}
	t->rx_path = ZT_TUNNEL_RX_NONE;
	t->rx_peer = NULL;
}

/* ---- events ---- */

static void peer_free(struct zt_tunnel_peer *p)
{
	queue_purge(p, false);
	OPENSSL_cleanse(p, sizeof(*p));
	free(p);
}

static void event_begin(struct zt_tunnel *t)
{
	t->depth++;
	zt_tunnel_cork(t);
}

static void event_end(struct zt_tunnel *t)
{
	struct zt_tunnel_peer *p;

	zt_tunnel_uncork(t);
	if (--t->depth)
		return;
	while ((p = t->graveyard)) {
		t->graveyard = p->gnext;
		peer_free(p);
	}
}

void zt_tunnel_input(struct zt_tunnel *t, uint8_t *msg, size_t len, const struct sockaddr *src,
		     socklen_t srclen)
{
	event_begin(t);
	handle_datagram(t, msg, len, src, srclen, mono_ns());
	if (t->ops.flush)
		t->ops.flush(t->ctx);
	event_end(t);
}

/*
 * A path just became usable (a relay registered): handshakes waiting for
 * their retry go out now instead of up to REKEY_TIMEOUT later. Not sooner
 * than 20 ms after the last one, so the TAI64N (2^24 ns granularity) still
 * increases.
 */
void zt_tunnel_retry_handshakes(struct zt_tunnel *t)
{
	uint64_t now = mono_ns();
	struct zt_tunnel_peer *p;

	event_begin(t);
	for (p = t->peers; p; p = p->lnext) {
		/* Waiting for a session: a handshake lost on the way, or packets queued. */
		if (p->removed || !can_reach(p) || (!p->hs_pending && !p->qlen))
			continue;
		if (!p->retry_at)
			p->attempt_start_ns = now;
		if (p->last_init_sent_ns && now - p->last_init_sent_ns < 20 * 1000000ull) {
			/* Too soon for a newer TAI64N: the retry timer moves up instead. */
			set_timer(p, &p->retry_at, p->last_init_sent_ns + 20 * 1000000ull);
			continue;
		}
		send_initiation(p, now);
	}
	event_end(t);
}

/* Nested in the relay's datagram that carried it (ops.other), so the state is saved. */
void zt_tunnel_input_relayed(struct zt_tunnel *t, const uint8_t src_key[ZT_NOISE_KEY_LEN],
			     uint8_t *msg, size_t len)
{
	enum zt_tunnel_rx_path saved_path = t->rx_path;
	struct sockaddr_storage saved_src = t->rx_from, none = { .ss_family = AF_UNSPEC };
	struct zt_tunnel_peer *saved_peer = t->rx_peer;

	(void)src_key;	/* the datagram names its peer itself, authenticated */
	event_begin(t);
	t->stats.rx_relayed++;
	t->rx_path = ZT_TUNNEL_RX_RELAYED;
	t->rx_from = none;
	if (!dispatch(t, msg, len, &none, mono_ns()))
		t->stats.rx_malformed++;
	/*
	 * A TCP relay reuses MSG's buffer at once: payloads handed to recv go
	 * out now. A UDP relay's datagram sits in our own recvmmsg batch, whose
	 * buffers hold until the batch's flush: its payloads join the batch's
	 * (coalesced into the TUN with the rest: relayed UDP went from 0.68 to
	 * 1.62 Gbit/s in bench/relay.sh).
	 */
	if (t->ops.flush && !t->in_rx_batch)
		t->ops.flush(t->ctx);
	t->rx_path = saved_path;
	t->rx_from = saved_src;
	t->rx_peer = saved_peer;
	event_end(t);
}

enum zt_tunnel_rx_path zt_tunnel_rx_path(const struct zt_tunnel *t, struct sockaddr_storage *src)
{
	if (src && t->rx_path == ZT_TUNNEL_RX_DIRECT)
		*src = t->rx_from;
	return t->rx_path;
}

/* The size of the datagrams a received message holds (UDP_GRO: several of one size). */
static size_t rx_segment_size(struct mmsghdr *mm)
{
	struct cmsghdr *cm;
	int size;

	for (cm = CMSG_FIRSTHDR(&mm->msg_hdr); cm; cm = CMSG_NXTHDR(&mm->msg_hdr, cm)) {
		if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(size))) {
			memcpy(&size, CMSG_DATA(cm), sizeof(size));
			if (size > 0)
				return (size_t)size;
		}
	}
	return mm->msg_len ? mm->msg_len : 1;	/* one datagram, maybe empty */
}

/* Up to RX_ROUNDS recvmmsg batches per wakeup; their replies leave in one sendmmsg each. */
static void on_udp(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_tunnel *t = arg;
	int r, i, n, inits;

	(void)loop;
	(void)events;
	event_begin(t);
	for (r = 0; r < RX_ROUNDS; r++) {
		size_t seg[ZT_TUNNEL_BATCH], off;
		unsigned int total;
		uint64_t now;

		for (i = 0; i < ZT_TUNNEL_BATCH; i++) {
			t->rx[i].msg_hdr.msg_namelen = sizeof(t->rx_src[i]);
			t->rx[i].msg_hdr.msg_flags = 0;
			t->rx[i].msg_hdr.msg_controllen = t->gro ? sizeof(t->rx_cmsg[i].buf) : 0;
		}
		n = recvmmsg(fd, t->rx, ZT_TUNNEL_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		/*
		 * A batch mostly of initiations is a backlog: under load, whatever
		 * the rate. With GRO one message may hold a run of datagrams.
		 */
		for (i = 0, inits = 0, total = 0; i < n; i++) {
			seg[i] = rx_segment_size(&t->rx[i]);
			t->stats.rx_gro_messages += seg[i] < t->rx[i].msg_len;
			off = 0;
			do {	/* at least once: an empty datagram is one too */
				inits += t->rx[i].msg_len - off >= ZT_TW_INITIATION_LEN &&
					 seg[i] == ZT_TW_INITIATION_LEN &&
					 t->rx_buf[(size_t)i * RX_SLOT + off] == ZT_TW_INITIATION;
				total++;
				off += seg[i];
			} while (off < t->rx[i].msg_len);
		}
		t->backlog = inits > ZT_TUNNEL_BATCH / 2 && 2 * inits > (int)total;
		t->in_rx_batch = true;
		now = mono_ns();
		for (i = 0; i < n; i++) {
			off = 0;
			do {
				handle_datagram(t, t->rx_buf + (size_t)i * RX_SLOT + off,
						t->rx[i].msg_len - off < seg[i] ?
						t->rx[i].msg_len - off : seg[i],
						(struct sockaddr *)&t->rx_src[i],
						t->rx[i].msg_hdr.msg_namelen, now);
				off += seg[i];
			} while (off < t->rx[i].msg_len);
		}
		if (t->ops.flush)
			t->ops.flush(t->ctx);
		t->in_rx_batch = false;
		t->backlog = false;
		if (n < ZT_TUNNEL_BATCH)
			break;
	}
	event_end(t);
}

static void peer_timers(struct zt_tunnel_peer *p, uint64_t now)
{
	struct zt_tunnel *t = p->t;

	if (p->retry_at && p->retry_at <= now) {
		p->retry_at = 0;
		if (now - p->attempt_start_ns >= t->rekey_attempt_time_ns) {
			/* Give up: what waited for this session is lost; keys go later. */
			handshake_clear(p);
			queue_purge(p, true);
			if (!p->zero_keys_at)
				set_timer(p, &p->zero_keys_at, now + 3 * t->reject_after_time_ns);
		} else {
			send_initiation(p, now);
		}
	}
	if (p->keepalive_at && p->keepalive_at <= now) {
		p->keepalive_at = 0;
		send_keepalive(p, now);
		if (p->need_another_keepalive) {
			p->need_another_keepalive = false;
			set_timer(p, &p->keepalive_at, now + t->keepalive_timeout_ns);
		}
	}
	if (p->new_handshake_at && p->new_handshake_at <= now) {
		/* We sent data and heard nothing for KEEPALIVE + REKEY_TIMEOUT. */
		p->new_handshake_at = 0;
		initiate(p, now);
	}
	if (p->zero_keys_at && p->zero_keys_at <= now) {
		p->zero_keys_at = 0;
		wipe_keys(p);
	}
	if (p->persistent_at && p->persistent_at <= now) {
		p->persistent_at = 0;
		send_keepalive(p, now);
	}
}

static void on_timer(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_tunnel *t = arg;
	struct zt_tunnel_peer *p;
	uint64_t expirations, now, next = 0, d;

	(void)loop;
	(void)events;
	if (read(fd, &expirations, sizeof(expirations)) < 0) {
		/* EAGAIN: already handled; nothing else can fail on a timerfd read */
	}
	t->timer_armed_ns = 0;
	now = mono_ns();
	event_begin(t);
	for (p = t->peers; p; p = p->lnext)
		peer_timers(p, now);
	for (p = t->peers; p; p = p->lnext) {
		d = peer_deadline(p);
		if (d && (!next || d < next))
			next = d;
	}
	arm(t, next);
	event_end(t);
}

/* ---- API ---- */

static uint64_t ms_or(uint32_t ms, uint64_t def_ms)
{
	return (ms ? ms : def_ms) * NS_PER_MS;
}

int zt_tunnel_open(struct zt_loop *loop, const struct zt_tunnel_cfg *cfg,
		   const struct zt_tunnel_ops *ops, void *ctx, struct zt_tunnel **out,
		   char *err, size_t errlen)
{
	struct sockaddr_storage addr = cfg->listen;
	struct zt_tunnel *t;
	socklen_t addrlen;
	int ret, off = 0, bufsz = SOCKET_BUFFER;

	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->fd = t->timer_fd = -1;
	t->loop = loop;
	if (ops)
		t->ops = *ops;
	t->ctx = ctx;
	memcpy(t->priv, cfg->private_key, sizeof(t->priv));
	zt_noise_public_key(t->pub, t->priv);
	zt_tw_mac1_key(t->pub, t->mac1_key);
	zt_tw_cookie_key(t->pub, t->cookie_key);
	t->rekey_after_time_ns = ms_or(cfg->rekey_after_time_ms, ZT_TUNNEL_REKEY_AFTER_TIME_MS);
	t->reject_after_time_ns = ms_or(cfg->reject_after_time_ms, ZT_TUNNEL_REJECT_AFTER_TIME_MS);
	t->rekey_attempt_time_ns = ms_or(cfg->rekey_attempt_time_ms,
					 ZT_TUNNEL_REKEY_ATTEMPT_TIME_MS);
	t->rekey_timeout_ns = ms_or(cfg->rekey_timeout_ms, ZT_TUNNEL_REKEY_TIMEOUT_MS);
	t->keepalive_timeout_ns = ms_or(cfg->keepalive_timeout_ms, ZT_TUNNEL_KEEPALIVE_TIMEOUT_MS);
	t->persistent_keepalive_ns = (uint64_t)cfg->persistent_keepalive_ms * NS_PER_MS;
	t->rekey_after_messages = cfg->rekey_after_messages ? cfg->rekey_after_messages :
							      ZT_TUNNEL_REKEY_AFTER_MESSAGES;
	t->under_load_threshold = cfg->under_load_initiations_per_s ?
				  cfg->under_load_initiations_per_s :
				  ZT_TUNNEL_UNDER_LOAD_INITIATIONS;

	t->rx_buf = malloc((size_t)ZT_TUNNEL_BATCH * RX_SLOT);
	t->tx_buf = malloc(sizeof(*t->tx_buf) * ZT_TUNNEL_BATCH);
	t->big = malloc(RX_SLOT);
	if (!t->rx_buf || !t->tx_buf || !t->big) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto fail;
	}
	for (int i = 0; i < ZT_TUNNEL_BATCH; i++) {
		t->rx_iov[i] = (struct iovec){ .iov_base = t->rx_buf + (size_t)i * RX_SLOT,
					       .iov_len = RX_SLOT };
		t->rx[i].msg_hdr = (struct msghdr){ .msg_name = &t->rx_src[i],
						    .msg_iov = &t->rx_iov[i], .msg_iovlen = 1,
						    .msg_control = t->rx_cmsg[i].buf };
	}

	if (addr.ss_family == AF_UNSPEC) {
		memset(&addr, 0, sizeof(addr));
		addr.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&addr)->sin6_port = ((struct sockaddr_in *)&cfg->listen)->sin_port;
	}
	if (addr.ss_family == AF_INET) {
		addrlen = sizeof(struct sockaddr_in);
	} else if (addr.ss_family == AF_INET6) {
		addrlen = sizeof(struct sockaddr_in6);
	} else {
		snprintf(err, errlen, "listen address: unsupported family %d", addr.ss_family);
		ret = -EAFNOSUPPORT;
		goto fail;
	}
	t->family = addr.ss_family;
	t->fd = socket(t->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto fail;
	}
	/* IPv4 peers reach a v6 socket as mapped addresses: one socket for both. */
	if (t->family == AF_INET6 &&
	    setsockopt(t->fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off))) {
		ret = -errno;
		snprintf(err, errlen, "IPV6_V6ONLY: %s", strerror(errno));
		goto fail;
	}
	/* Bursts between wakeups; the kernel caps these at rmem_max/wmem_max. */
	setsockopt(t->fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	setsockopt(t->fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	/*
	 * UDP GSO out (runs of equal datagrams leave as one send) and GRO in
	 * (runs arrive as one): one trip through the stack for up to 64
	 * datagrams. Either may be missing (an old kernel): then one by one.
	 */
	{
		int one = 1, size = 0;
		socklen_t sl = sizeof(size);

		t->gso = getsockopt(t->fd, SOL_UDP, UDP_SEGMENT, &size, &sl) == 0;
		t->gro = setsockopt(t->fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
	}
	if (bind(t->fd, (struct sockaddr *)&addr, addrlen)) {
		ret = -errno;
		snprintf(err, errlen, "bind: %s", strerror(errno));
		goto fail;
	}
	t->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->timer_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "timerfd: %s", strerror(errno));
		goto fail;
	}
	ret = zt_loop_add(loop, t->fd, EPOLLIN, on_udp, t);
	if (ret)
		goto fail_loop;
	t->fd_registered = true;
	ret = zt_loop_add(loop, t->timer_fd, EPOLLIN, on_timer, t);
	if (ret)
		goto fail_loop;
	t->timer_registered = true;
	*out = t;
	return 0;

fail_loop:
	snprintf(err, errlen, "event loop: %s", strerror(-ret));
fail:
	zt_tunnel_close(t);
	return ret;
}

static void peer_unlink(struct zt_tunnel *t, struct zt_tunnel_peer *p)
{
	struct zt_tunnel_peer **pp;

	for (pp = &t->by_key[p->pub[0] | (p->pub[1] & 3) << 8]; *pp; pp = &(*pp)->hnext) {
		if (*pp == p) {
			*pp = p->hnext;
			break;
		}
	}
	if (p->lprev)
		p->lprev->lnext = p->lnext;
	else
		t->peers = p->lnext;
	if (p->lnext)
		p->lnext->lprev = p->lprev;
	p->lprev = p->lnext = p->hnext = NULL;
}

void zt_tunnel_peer_remove(struct zt_tunnel *t, struct zt_tunnel_peer *p)
{
	if (!p || p->removed)
		return;
	p->removed = true;
	peer_unlink(t, p);
	wipe_keys(p);
	queue_purge(p, false);
	OPENSSL_cleanse(p->cookie, sizeof(p->cookie));
	p->retry_at = p->keepalive_at = p->new_handshake_at = p->zero_keys_at = 0;
	p->persistent_at = 0;
	if (t->depth) {
		p->gnext = t->graveyard;
		t->graveyard = p;
	} else {
		peer_free(p);
	}
}

void zt_tunnel_close(struct zt_tunnel *t)
{
	if (!t)
		return;
	while (t->peers)
		zt_tunnel_peer_remove(t, t->peers);
	if (t->fd_registered)
		zt_loop_del(t->loop, t->fd);
	if (t->timer_registered)
		zt_loop_del(t->loop, t->timer_fd);
	if (t->fd >= 0)
		close(t->fd);
	if (t->timer_fd >= 0)
		close(t->timer_fd);
	zt_tw_cookie_secret_destroy(&t->cookie_secret);
	free(t->rx_buf);
	free(t->tx_buf);
	free(t->big);
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
}

int zt_tunnel_local_port(const struct zt_tunnel *t)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(t->fd, (struct sockaddr *)&ss, &len))
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

void zt_tunnel_public_key(const struct zt_tunnel *t, uint8_t out[ZT_NOISE_KEY_LEN])
{
	memcpy(out, t->pub, ZT_NOISE_KEY_LEN);
}

struct zt_tunnel_peer *zt_tunnel_peer_by_key(const struct zt_tunnel *t,
					     const uint8_t public_key[ZT_NOISE_KEY_LEN])
{
	struct zt_tunnel_peer *p;

	for (p = t->by_key[public_key[0] | (public_key[1] & 3) << 8]; p; p = p->hnext)
		if (!CRYPTO_memcmp(p->pub, public_key, ZT_NOISE_KEY_LEN))
			return p;
	return NULL;
}

int zt_tunnel_peer_set_endpoint(struct zt_tunnel_peer *p, const struct sockaddr_storage *endpoint)
{
	struct sockaddr_storage ep;
	uint64_t now = mono_ns();

	struct sockaddr_storage to;

	if (addr_normalize((const struct sockaddr *)endpoint, sizeof(*endpoint), &ep))
		return -EINVAL;
	if (!addr_for_socket(p->t, &ep, &to))
		return -EAFNOSUPPORT;	/* an IPv6 peer for an IPv4 socket */
	p->endpoint = ep;
	/* A client with persistent keepalive connects at once and keeps the NAT open from the start. */
	if (p->t->persistent_keepalive_ns)
		set_timer(p, &p->persistent_at, now);
	return 0;
}

void zt_tunnel_peer_clear_endpoint(struct zt_tunnel_peer *p)
{
	memset(&p->endpoint, 0, sizeof(p->endpoint));
	p->endpoint.ss_family = AF_UNSPEC;
}

void zt_tunnel_peer_set_relayed(struct zt_tunnel_peer *p, bool relayed)
{
	struct zt_tunnel *t = p->t;
	uint64_t now = mono_ns();

	if (p->relayed == relayed)
		return;
	p->relayed = relayed;
	if (!relayed)
		return;
	if (t->persistent_keepalive_ns)
		set_timer(p, &p->persistent_at, now);
	if (p->qlen) {
		/* Packets waited for a way to the peer: there is one now. */
		event_begin(t);
		send_staged(p, now);
		event_end(t);
	}
}

int zt_tunnel_peer_add(struct zt_tunnel *t, const uint8_t public_key[ZT_NOISE_KEY_LEN],
		       const struct sockaddr_storage *endpoint, void *peer_ctx,
		       struct zt_tunnel_peer **out)
{
	struct zt_tunnel_peer *p, **bucket;
	int ret;

	if (!CRYPTO_memcmp(public_key, t->pub, ZT_NOISE_KEY_LEN))
		return -EINVAL;
	if (zt_tunnel_peer_by_key(t, public_key))
		return -EEXIST;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->t = t;
	memcpy(p->pub, public_key, ZT_NOISE_KEY_LEN);
	zt_tw_mac1_key(p->pub, p->mac1_key);
	zt_tw_cookie_key(p->pub, p->cookie_key);
	p->ctx = peer_ctx;
	p->endpoint.ss_family = AF_UNSPEC;
	if (endpoint) {
		ret = zt_tunnel_peer_set_endpoint(p, endpoint);
		if (ret) {
			free(p);
			return ret;
		}
	}
	bucket = &t->by_key[p->pub[0] | (p->pub[1] & 3) << 8];
	p->hnext = *bucket;
	*bucket = p;
	p->lnext = t->peers;
	if (t->peers)
		t->peers->lprev = p;
	t->peers = p;
	if (out)
		*out = p;
	return 0;
}

void *zt_tunnel_peer_ctx(const struct zt_tunnel_peer *p)
{
	return p->ctx;
}

void zt_tunnel_peer_set_ctx(struct zt_tunnel_peer *p, void *peer_ctx)
{
	p->ctx = peer_ctx;
}

const uint8_t *zt_tunnel_peer_key(const struct zt_tunnel_peer *p)
{
	return p->pub;
}

int zt_tunnel_send(struct zt_tunnel *t, struct zt_tunnel_peer *p, const uint8_t *payload,
		   size_t len)
{
	uint64_t now;

	if (!p || p->removed || !payload)
		return -EINVAL;
	if (!len || len > ZT_TUNNEL_PAYLOAD_MAX)
		return -EMSGSIZE;
	now = mono_ns();
	if (!p->qlen && can_send(t, p->cur, now)) {
		send_transport(p, p->cur, payload, len, now);
		keep_key_fresh_send(p, now);
		return 0;
	}
	queue_push(p, payload, len);
	send_staged(p, now);
	return 0;
}

void zt_tunnel_peer_stats(const struct zt_tunnel_peer *p, struct zt_tunnel_peer_stats *st)
{
	*st = p->st;
	st->endpoint = p->endpoint;
	st->queued = p->qlen;
	st->session_up = can_send(p->t, p->cur, mono_ns());
	st->relayed = p->relayed;
	st->last_direct_rx_ns = p->last_direct_rx_ns;
}

/*
 * One datagram now, with TTL (IPv4, and IPv4-mapped on a v6 socket) or
 * hop limit (IPv6) TTL for this send only: an IP_TTL / IPV6_HOPLIMIT cmsg,
 * so the socket's own TTL, and so every other datagram, stays as it is.
 */
static void send_with_ttl(struct zt_tunnel *t, const struct sockaddr_storage *ep,
			  const uint8_t *buf, size_t len, int ttl)
{
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct sockaddr_storage to;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr m = { .msg_name = &to, .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm;
	bool v6;

	memset(&ctl, 0, sizeof(ctl));
	m.msg_namelen = addr_for_socket(t, ep, &to);
	v6 = ep->ss_family == AF_INET6;	/* normalized: an IPv4-mapped one is AF_INET */
	cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
	cm->cmsg_type = v6 ? IPV6_HOPLIMIT : IP_TTL;
	cm->cmsg_len = CMSG_LEN(sizeof(ttl));
	memcpy(CMSG_DATA(cm), &ttl, sizeof(ttl));
	if (sendmsg(t->fd, &m, MSG_DONTWAIT) < 0)
		t->stats.tx_errors++;
	else
		t->stats.tx_datagrams++;
}

int zt_tunnel_send_to_ttl(struct zt_tunnel *t, struct zt_tunnel_peer *p, const uint8_t *payload,
			  size_t len, const struct sockaddr_storage *endpoint, int ttl)
{
	struct sockaddr_storage ep, to;
	struct keypair *kp;
	size_t total;
	uint8_t *buf;

	if (!p || p->removed || !payload || !endpoint || ttl < 0 || ttl > 255)
		return -EINVAL;
	if (!len || len > ZT_TUNNEL_PAYLOAD_MAX)
		return -EMSGSIZE;
	if (addr_normalize((const struct sockaddr *)endpoint, sizeof(*endpoint), &ep))
		return -EINVAL;
	if (!addr_for_socket(t, &ep, &to))
		return -EAFNOSUPPORT;
	kp = p->cur;
	if (!can_send(t, kp, mono_ns()))
		return -ENOTCONN;
	/* In order: what the batch holds leaves before this one, what comes after, after. */
	if (ttl && t->ntx)
		tx_flush(t);
	total = ZT_TW_TRANSPORT_LEN(len);
	buf = tx_reserve(t, total);
	zt_tw_transport_header_encode(kp->remote_index, kp->send_counter, buf, total);
	if (zt_noise_seal(&kp->noise.send, kp->send_counter, NULL, 0, payload, len,
			  buf + ZT_TW_TRANSPORT_HEADER_LEN, total - ZT_TW_TRANSPORT_HEADER_LEN) < 0)
		return -EIO;
	kp->send_counter++;
	if (ttl)
		send_with_ttl(t, &ep, buf, total, ttl);	/* the slot is not committed: reused next */
	else
		tx_commit(t, &ep, buf, total);
	p->st.tx_packets++;
	p->st.tx_bytes += len;
	return 0;
}

int zt_tunnel_send_to(struct zt_tunnel *t, struct zt_tunnel_peer *p, const uint8_t *payload,
		      size_t len, const struct sockaddr_storage *endpoint)
{
	return zt_tunnel_send_to_ttl(t, p, payload, len, endpoint, 0);
}

int zt_tunnel_sendto_raw(struct zt_tunnel *t, const uint8_t *buf, size_t len,
			 const struct sockaddr_storage *dst)
{
	struct sockaddr_storage ep, to;
	socklen_t tolen;
	uint8_t *out;

	if (addr_normalize((const struct sockaddr *)dst, sizeof(*dst), &ep))
		return -EINVAL;
	tolen = addr_for_socket(t, &ep, &to);
	if (!tolen)
		return -EAFNOSUPPORT;
	if (len > TX_SLOT) {
		if (sendto(t->fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&to, tolen) < 0) {
			t->stats.tx_errors++;
			return -errno;
		}
		t->stats.tx_datagrams++;
		return 0;
	}
	/*
	 * Into the batch, like the tunnel's own datagrams: a relayed flow's
	 * datagrams (all to the relay, mostly of one size) leave in one
	 * sendmmsg, as UDP GSO runs, instead of one sendto each.
	 */
	out = tx_reserve(t, len);
	memcpy(out, buf, len);
	tx_commit(t, &ep, out, len);
	return 0;
}

void zt_tunnel_stats(const struct zt_tunnel *t, struct zt_tunnel_stats *st)
{
	*st = t->stats;
}
