// SPDX-License-Identifier: GPL-2.0-only
/*
 * The tunnel engine (tunnel.h): WireGuard's state machine (its paper,
 * sections 5.4 and 6, and the Linux driver's timers.c/send.c/receive.c)
 * over our own Noise IK. This file is the engine's life: open (socket,
 * timerfd, the batch I/O) and close, peers added, found, moved and
 * removed, endpoint addresses, events (cork and deferred frees), counters.
 * The rest, by concern: session.c, timers.c, send.c, recv.c (internal.h).
 * Callers: roles/forward/client.c, roles/connector.c, path/paths.c.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <openssl/mem.h>
#include <openssl/rand.h>

#include "tunnel/internal.h"

#define SOCKET_BUFFER		(4 << 20)

/* ---- addresses ---- */

/* Endpoints are kept as the peer is: an IPv4-mapped IPv6 address becomes AF_INET. */
int tunnel_addr_normalize(const struct sockaddr *sa, socklen_t len, struct sockaddr_storage *out)
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
socklen_t tunnel_addr_for_socket(const struct zt_tunnel *t, const struct sockaddr_storage *ep,
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

/* ---- events ---- */

static void peer_free(struct zt_tunnel_peer *p)
{
	tunnel_queue_purge(p, false);
	OPENSSL_cleanse(p, sizeof(*p));
	free(p);
}

void tunnel_event_begin(struct zt_tunnel *t)
{
	t->depth++;
	zt_tunnel_cork(t);
}

void tunnel_event_end(struct zt_tunnel *t)
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

/* ---- open and close ---- */

static uint64_t ms_or(uint32_t ms, uint64_t def_ms)
{
	return (ms ? ms : def_ms) * ZT_NS_PER_MS;
}

/* Our keys, and WireGuard's constants where CFG does not set its own. */
static void configure(struct zt_tunnel *t, const struct zt_tunnel_cfg *cfg)
{
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
	t->persistent_keepalive_ns = (uint64_t)cfg->persistent_keepalive_ms * ZT_NS_PER_MS;
	t->rekey_after_messages = cfg->rekey_after_messages ? cfg->rekey_after_messages :
							      ZT_TUNNEL_REKEY_AFTER_MESSAGES;
	t->under_load_threshold = cfg->under_load_initiations_per_s ?
				  cfg->under_load_initiations_per_s :
				  ZT_TUNNEL_UNDER_LOAD_INITIATIONS;
}

/* -errno of the call WHAT that just failed, said in ERR. */
static int sys_err(char *err, size_t errlen, const char *what)
{
	int ret = -errno;

	snprintf(err, errlen, "%s: %s", what, strerror(-ret));
	return ret;
}

/*
 * The socket on LISTEN (AF_UNSPEC: IPv6 any, with LISTEN's port), with its
 * batch I/O. 0 or -errno with ERR set; what was made is closed by
 * zt_tunnel_close().
 */
static int open_socket(struct zt_tunnel *t, const struct sockaddr_storage *listen, char *err,
		       size_t errlen)
{
	struct sockaddr_storage addr = *listen;
	int ret, off = 0, bufsz = SOCKET_BUFFER;

	if (addr.ss_family == AF_UNSPEC) {
		memset(&addr, 0, sizeof(addr));
		addr.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&addr)->sin6_port = ((const struct sockaddr_in *)listen)->sin_port;
	}
	if (addr.ss_family != AF_INET && addr.ss_family != AF_INET6) {
		snprintf(err, errlen, "listen address: unsupported family %d", addr.ss_family);
		return -EAFNOSUPPORT;
	}
	t->family = addr.ss_family;
	t->fd = socket(t->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0)
		return sys_err(err, errlen, "socket");
	/* IPv4 peers reach a v6 socket as mapped addresses: one socket for both. */
	if (t->family == AF_INET6 &&
	    setsockopt(t->fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)))
		return sys_err(err, errlen, "IPV6_V6ONLY");
	/* Bursts between wakeups; the kernel caps these at rmem_max/wmem_max. */
	setsockopt(t->fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	setsockopt(t->fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	if (bind(t->fd, (struct sockaddr *)&addr, t->family == AF_INET ?
		 sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)))
		return sys_err(err, errlen, "bind");
	/*
	 * UDP GSO out (runs of equal datagrams leave as one send) and GRO in
	 * (runs arrive as one): one trip through the stack for up to 64
	 * datagrams. Either may be missing (an old kernel): then one by one.
	 */
	ret = zt_udp_batch_new(&(struct zt_udp_batch_cfg){ .fd = t->fd,
			       .rx_msgs = ZT_TUNNEL_BATCH, .rx_size = ZT_UDP_DGRAM_MAX,
			       .tx_msgs = ZT_TUNNEL_BATCH, .tx_size = TX_SLOT, .offload = true },
			       &t->io);
	if (ret)
		snprintf(err, errlen, "UDP batch: %s", strerror(-ret));
	return ret;
}

int zt_tunnel_open(struct zt_loop *loop, const struct zt_tunnel_cfg *cfg,
		   const struct zt_tunnel_ops *ops, void *ctx, struct zt_tunnel **out,
		   char *err, size_t errlen)
{
	struct zt_tunnel *t = calloc(1, sizeof(*t));
	int ret;

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->fd = t->timer_fd = -1;
	t->loop = loop;
	if (ops)
		t->ops = *ops;
	t->ctx = ctx;
	configure(t, cfg);
	if (!RAND_bytes((uint8_t *)t->rl_key, sizeof(t->rl_key))) {
		snprintf(err, errlen, "no randomness");
		ret = -EIO;
		goto fail;
	}
	ret = open_socket(t, &cfg->listen, err, errlen);
	if (ret)
		goto fail;
	t->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->timer_fd < 0) {
		ret = sys_err(err, errlen, "timerfd");
		goto fail;
	}
	ret = zt_loop_add(loop, t->fd, EPOLLIN, tunnel_on_udp, t);
	t->fd_registered = !ret;
	if (!ret) {
		ret = zt_loop_add(loop, t->timer_fd, EPOLLIN, tunnel_on_timer, t);
		t->timer_registered = !ret;
	}
	if (ret) {
		snprintf(err, errlen, "event loop: %s", strerror(-ret));
		goto fail;
	}
	*out = t;
	return 0;

fail:
	zt_tunnel_close(t);
	return ret;
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
	zt_udp_batch_free(t->io);
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

void zt_tunnel_stats(const struct zt_tunnel *t, struct zt_tunnel_stats *st)
{
	struct zt_udp_batch_stats io;

	*st = t->stats;
	zt_udp_batch_stats(t->io, &io);
	st->tx_datagrams = io.tx_datagrams;
	st->tx_gso_sends = io.tx_gso_sends;
	st->tx_errors += io.tx_errors;
	st->rx_gro_messages = io.rx_gro_messages;
}

/* ---- peers ---- */

/* Peers by public key: random bytes, so its first bits bucket evenly. */
static unsigned int peer_hash(const uint8_t key[ZT_NOISE_KEY_LEN])
{
	return (key[0] | (unsigned int)key[1] << 8) & (PEER_BUCKETS - 1);
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
	bucket = &t->by_key[peer_hash(p->pub)];
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

static void peer_unlink(struct zt_tunnel *t, struct zt_tunnel_peer *p)
{
	struct zt_tunnel_peer **pp;

	for (pp = &t->by_key[peer_hash(p->pub)]; *pp; pp = &(*pp)->hnext) {
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
	tunnel_wipe_keys(p);
	tunnel_queue_purge(p, false);
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

struct zt_tunnel_peer *zt_tunnel_peer_by_key(const struct zt_tunnel *t,
					     const uint8_t public_key[ZT_NOISE_KEY_LEN])
{
	struct zt_tunnel_peer *p;

	for (p = t->by_key[peer_hash(public_key)]; p; p = p->hnext)
		if (!CRYPTO_memcmp(p->pub, public_key, ZT_NOISE_KEY_LEN))
			return p;
	return NULL;
}

int zt_tunnel_peer_set_endpoint(struct zt_tunnel_peer *p, const struct sockaddr_storage *endpoint)
{
	struct sockaddr_storage ep, to;
	uint64_t now = zt_mono_ns();

	if (tunnel_addr_normalize((const struct sockaddr *)endpoint, sizeof(*endpoint), &ep))
		return -EINVAL;
	if (!tunnel_addr_for_socket(p->t, &ep, &to))
		return -EAFNOSUPPORT;	/* an IPv6 peer for an IPv4 socket */
	p->endpoint = ep;
	/* A client with persistent keepalive connects at once and keeps the NAT open from the start. */
	if (p->t->persistent_keepalive_ns)
		tunnel_set_timer(p, &p->persistent_at, now);
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
	uint64_t now = zt_mono_ns();

	if (p->relayed == relayed)
		return;
	p->relayed = relayed;
	if (!relayed)
		return;
	if (t->persistent_keepalive_ns)
		tunnel_set_timer(p, &p->persistent_at, now);
	if (p->qlen) {
		/* Packets waited for a way to the peer: there is one now. */
		tunnel_event_begin(t);
		tunnel_send_staged(p, now);
		tunnel_event_end(t);
	}
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

void zt_tunnel_peer_stats(const struct zt_tunnel_peer *p, struct zt_tunnel_peer_stats *st)
{
	*st = p->st;
	st->endpoint = p->endpoint;
	st->queued = p->qlen;
	st->session_up = can_send(p->t, p->cur, zt_mono_ns());
	st->relayed = p->relayed;
	st->last_direct_rx_ns = p->last_direct_rx_ns;
}
