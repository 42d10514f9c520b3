// SPDX-License-Identifier: GPL-2.0-only
/*
 * A peer's side of one relay (relay/client.h, docs/RELAY.md).
 *
 * States: resolving the relay's name (c-ares, only for a name), connecting
 * (TCP), hello sent (waiting for the challenge), register sent (waiting for
 * registered), registered (a keepalive every 20 s, answered by registered).
 * One timerfd holds the next deadline: a retransmission, the next
 * keepalive, the registration's expiry, or a TCP reconnect.
 *
 * Retransmissions: hello after 1, 2, 4, 8, 16 s (then every 16 s); register
 * up to 3 times 1 s apart, then a fresh hello; an unanswered keepalive is
 * repeated every 2 s until the registration would have expired, which
 * makes the relay "lost" and starts over with hello. Error 4 (not
 * registered: the relay restarted, or our NAT mapping moved) starts over
 * at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
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

#include <ares.h>
#include <openssl/curve25519.h>
#include <openssl/mem.h>

#include "lib/addr.h"
#include "lib/ares_loop.h"
#include "lib/bytes.h"
#include "lib/clock.h"
#include "relay/client.h"
#include "relay/proto.h"

#define KEEPALIVE_NS		(20 * ZT_NS_PER_S)
#define KEEPALIVE_RETRY_NS	(2 * ZT_NS_PER_S)
#define HELLO_FIRST_NS		ZT_NS_PER_S
#define HELLO_MAX_NS		(16 * ZT_NS_PER_S)
#define REGISTER_RETRY_NS	ZT_NS_PER_S
#define REGISTER_TRIES		3
#define COOKIE_FRESH_NS		(100 * ZT_NS_PER_S)	/* reuse a cookie this young (relay keeps it >= 120 s) */
#define TCP_BACKOFF_MAX_S	30
#define TCP_CONNECT_NS		(10 * ZT_NS_PER_S)
#define TCP_OUT_MAX		(256 * 1024)

enum rc_state {
	RC_RESOLVING,
	RC_CONNECTING,		/* TCP only */
	RC_BACKOFF,		/* TCP: waiting to reconnect; UDP: waiting to resolve again */
	RC_HELLO,
	RC_REGISTER,
	RC_REGISTERED,
};

struct zt_relay_client {
	struct zt_loop *loop;
	bool tcp;
	uint8_t priv[ZT_RELAY_KEYLEN], pub[ZT_RELAY_KEYLEN];
	zt_relay_udp_send_fn udp_send;
	void *udp_send_ctx;
	struct zt_relay_client_ops ops;
	void *ctx;

	char host[256], port[8];
	struct sockaddr_storage relay;
	socklen_t relaylen;
	struct zt_ares_loop *ares;
	bool resolving;

	int timer_fd;
	enum rc_state st;
	uint64_t deadline_ns;		/* of the current state's timer */
	uint64_t hello_wait_ns;
	unsigned int tries;

	uint8_t relay_key[ZT_RELAY_KEYLEN];
	bool have_k;
	bool key_pinned;		/* a registration was MACed with it: no challenge replaces it */
	uint64_t rereg_ns;		/* last re-registration an error 4 started */
	struct zt_relay_mac_key k;
	uint8_t cookie[ZT_RELAY_COOKIE_LEN];
	uint64_t cookie_ns;
	bool have_cookie;

	uint8_t (*accept)[ZT_RELAY_KEYLEN];
	size_t naccept;

	bool registered;
	uint64_t expires_ns;		/* of our registration, as the relay told us */
	uint64_t probe_sent_ns;		/* register/keepalive waiting for registered; 0: none */
	bool keepalive_outstanding;

	/* TCP */
	int fd;
	unsigned int backoff_s;
	uint8_t in[2 + ZT_RELAY_MSG_MAX];
	size_t inlen;
	uint8_t *out;
	size_t outlen, outoff;
	bool want_out;

	struct zt_relay_client_stats stats;
	bool closing;
};

static void arm(struct zt_relay_client *rc, uint64_t at_ns)
{
	struct itimerspec its = { 0 };

	rc->deadline_ns = at_ns;
	its.it_value.tv_sec = (time_t)(at_ns / ZT_NS_PER_S);
	its.it_value.tv_nsec = (long)(at_ns % ZT_NS_PER_S);
	if (at_ns && !its.it_value.tv_sec && !its.it_value.tv_nsec)
		its.it_value.tv_nsec = 1;
	timerfd_settime(rc->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* ---- transport ---- */

static void tcp_close(struct zt_relay_client *rc);

static int tcp_flush(struct zt_relay_client *rc)
{
	while (rc->outoff < rc->outlen) {
		ssize_t n = send(rc->fd, rc->out + rc->outoff, rc->outlen - rc->outoff,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		rc->outoff += (size_t)n;
	}
	if (rc->outoff == rc->outlen)
		rc->outoff = rc->outlen = 0;
	if ((rc->outlen > 0) != rc->want_out) {
		rc->want_out = rc->outlen > 0;
		zt_loop_mod(rc->loop, rc->fd, EPOLLIN | (rc->want_out ? EPOLLOUT : 0));
	}
	return 0;
}

/* One message to the relay over whichever transport. 0 or -errno. */
static int xmit(struct zt_relay_client *rc, const uint8_t *msg, size_t len)
{
	if (!rc->tcp) {
		if (!rc->relaylen)
			return -ENOTCONN;
		return rc->udp_send(rc->udp_send_ctx, msg, len, &rc->relay);
	}
	if (rc->fd < 0 || rc->st == RC_CONNECTING)
		return -ENOTCONN;
	if (!rc->out) {
		rc->out = malloc(TCP_OUT_MAX);
		if (!rc->out)
			return -ENOMEM;
	}
	if (rc->outoff && rc->outlen + 2 + len > TCP_OUT_MAX) {
		memmove(rc->out, rc->out + rc->outoff, rc->outlen - rc->outoff);
		rc->outlen -= rc->outoff;
		rc->outoff = 0;
	}
	if (rc->outlen + 2 + len > TCP_OUT_MAX)
		return -ENOBUFS;
	zt_put_be16(rc->out + rc->outlen, (uint16_t)len);
	memcpy(rc->out + rc->outlen + 2, msg, len);
	rc->outlen += 2 + len;
	/* Errors surface as EPOLLERR/EPOLLHUP on the connection, handled there. */
	tcp_flush(rc);
	return 0;
}

/* ---- the registration state machine ---- */

static void set_unregistered(struct zt_relay_client *rc, bool tell)
{
	bool was = rc->registered;

	rc->registered = false;
	rc->stats.registered = false;
	rc->probe_sent_ns = 0;
	rc->keepalive_outstanding = false;
	if (was && tell && rc->ops.lost)
		rc->ops.lost(rc->ctx, rc);
}

static void send_hello(struct zt_relay_client *rc, uint64_t now)
{
	uint8_t msg[ZT_RELAY_HELLO_LEN];

	zt_relay_hello_encode(rc->pub, msg, sizeof(msg));
	xmit(rc, msg, sizeof(msg));
	rc->st = RC_HELLO;
	/* Re-registering while registered: the lifetime's end is a deadline too. */
	arm(rc, rc->registered && rc->expires_ns < now + rc->hello_wait_ns ? rc->expires_ns
									     : now + rc->hello_wait_ns);
	rc->hello_wait_ns = rc->hello_wait_ns * 2 > HELLO_MAX_NS ? HELLO_MAX_NS : rc->hello_wait_ns * 2;
}

static void start_hello(struct zt_relay_client *rc, uint64_t now)
{
	rc->hello_wait_ns = HELLO_FIRST_NS;
	rc->have_cookie = false;
	send_hello(rc, now);
}

static void send_register(struct zt_relay_client *rc, uint64_t now)
{
	size_t len = ZT_RELAY_REGISTER_LEN(rc->naccept);
	uint8_t *msg = malloc(len);

	if (msg) {
		if (zt_relay_register_encode(rc->pub, rc->cookie, rc->accept, rc->naccept, &rc->k,
					     msg, len) > 0 && !xmit(rc, msg, len))
			rc->probe_sent_ns = now;
		free(msg);
	}
	if (rc->st != RC_REGISTERED)
		rc->st = RC_REGISTER;
	arm(rc, now + REGISTER_RETRY_NS);
}

static void send_keepalive(struct zt_relay_client *rc, uint64_t now)
{
	uint8_t msg[ZT_RELAY_KEEPALIVE_LEN];

	if (zt_relay_keepalive_encode(rc->pub, &rc->k, msg, sizeof(msg)) > 0 &&
	    !xmit(rc, msg, sizeof(msg))) {
		if (!rc->keepalive_outstanding)
			rc->probe_sent_ns = now;
		rc->keepalive_outstanding = true;
	}
	arm(rc, now + KEEPALIVE_RETRY_NS < rc->expires_ns ? now + KEEPALIVE_RETRY_NS : rc->expires_ns);
}

/* (Re-)register: with the cookie we hold if it is fresh, else from hello. */
static void reregister(struct zt_relay_client *rc, uint64_t now)
{
	if (rc->st == RC_RESOLVING || rc->st == RC_CONNECTING || rc->st == RC_BACKOFF)
		return;
	rc->tries = 0;
	if (rc->have_cookie && rc->have_k && now - rc->cookie_ns < COOKIE_FRESH_NS) {
		rc->tries = 1;
		send_register(rc, now);
	} else {
		start_hello(rc, now);
	}
}

static void tcp_connect(struct zt_relay_client *rc, uint64_t now);
static void resolve(struct zt_relay_client *rc);

/*
 * Re-registering while still registered (after an error 4): past the
 * registration's lifetime it is lost, and the relay's key may change
 * (a new relay behind the address). True if so; hello goes on.
 */
static bool registration_expired(struct zt_relay_client *rc, uint64_t now)
{
	if (!rc->registered || now < rc->expires_ns)
		return false;
	set_unregistered(rc, true);
	rc->key_pinned = false;
	if (rc->tcp) {
		tcp_close(rc);
		return true;
	}
	start_hello(rc, now);
	return true;
}

static void on_timer(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_relay_client *rc = arg;
	uint64_t ticks, now = zt_mono_ns();

	(void)loop;
	(void)events;
	if (read(fd, &ticks, sizeof(ticks)) < 0)
		return;
	switch (rc->st) {
	case RC_RESOLVING:
		resolve(rc);
		break;
	case RC_BACKOFF:
		if (rc->tcp)
			tcp_connect(rc, now);
		break;
	case RC_CONNECTING:
		/* connect() took too long: start over. */
		tcp_close(rc);
		break;
	case RC_HELLO:
		if (registration_expired(rc, now))
			break;
		send_hello(rc, now);
		break;
	case RC_REGISTER:
		if (registration_expired(rc, now))
			break;
		if (++rc->tries > REGISTER_TRIES) {
			start_hello(rc, now);
			break;
		}
		send_register(rc, now);
		break;
	case RC_REGISTERED:
		if (now >= rc->expires_ns) {
			/* Not a word from the relay for a whole lifetime. */
			set_unregistered(rc, true);
			rc->key_pinned = false;
			if (rc->tcp)
				tcp_close(rc);
			else
				start_hello(rc, now);
			break;
		}
		send_keepalive(rc, now);
		break;
	}
}

/* ---- input ---- */

static void on_challenge(struct zt_relay_client *rc, const uint8_t *msg, size_t len, uint64_t now)
{
	struct zt_relay_challenge ch;

	if (rc->st != RC_HELLO && rc->st != RC_REGISTER)
		return;
	if (zt_relay_challenge_parse(msg, len, &ch))
		return;
	/*
	 * Challenges carry no MAC: anyone who spoofs the relay's address can
	 * send one. Once a registration proved the relay's key (its registered
	 * was MACed with it), a challenge naming another key is a spoofer's
	 * (issue 10 A5); the pin lasts until the registration expires.
	 */
	if (rc->key_pinned && memcmp(ch.relay_key, rc->relay_key, ZT_RELAY_KEYLEN)) {
		rc->stats.rx_spoofed++;
		return;
	}
	if (!rc->have_k || memcmp(ch.relay_key, rc->relay_key, ZT_RELAY_KEYLEN)) {
		if (zt_relay_mac_key(rc->priv, ch.relay_key, &rc->k))
			return;		/* a low-order "key": not a relay we can talk to */
		memcpy(rc->relay_key, ch.relay_key, ZT_RELAY_KEYLEN);
		rc->have_k = true;
	}
	memcpy(rc->cookie, ch.cookie, ZT_RELAY_COOKIE_LEN);
	rc->cookie_ns = now;
	rc->have_cookie = true;
	rc->tries = 1;
	send_register(rc, now);
}

static void on_registered(struct zt_relay_client *rc, const uint8_t *msg, size_t len,
			  uint64_t now)
{
	struct zt_relay_registered m;
	struct sockaddr_storage observed = { 0 };
	uint64_t lifetime, next;
	bool tell;

	if (!rc->have_k || zt_relay_registered_parse(msg, len, &m) ||
	    !zt_relay_mac_ok(msg, len, &rc->k))
		return;
	if (rc->st != RC_REGISTER && rc->st != RC_REGISTERED)
		return;
	if (rc->probe_sent_ns)
		rc->stats.rtt_us = (now - rc->probe_sent_ns) / 1000;
	rc->probe_sent_ns = 0;
	rc->keepalive_outstanding = false;
	lifetime = (m.lifetime_s ? m.lifetime_s : 60) * ZT_NS_PER_S;
	rc->expires_ns = now + lifetime;
	zt_endpoint_to_sockaddr(&m.observed, &observed);
	/* The hook runs on a (re-)registration or a new mapping, not on every keepalive. */
	tell = !rc->registered || memcmp(&observed, &rc->stats.observed, sizeof(observed));
	rc->stats.observed = observed;
	rc->st = RC_REGISTERED;
	rc->registered = true;
	rc->key_pinned = true;
	rc->stats.registered = true;
	rc->backoff_s = 0;
	rc->hello_wait_ns = HELLO_FIRST_NS;
	next = lifetime / 3 < KEEPALIVE_NS ? lifetime / 3 : KEEPALIVE_NS;
	arm(rc, now + next);
	if (tell && rc->ops.registered)
		rc->ops.registered(rc->ctx, rc, &rc->stats.observed);
}

/*
 * Errors are 8 unauthenticated bytes: anyone who spoofs the relay's
 * address can send them. Error 4 (not registered: the relay restarted, or
 * our mapping moved) therefore never drops a registration by itself (issue
 * 10 A5): it starts a re-registration from hello (our cookie is stale in
 * both true cases) at most once a second, while the registration stays
 * usable; only a MACed registered ends it (renewed), or its lifetime
 * running out with no word from the relay (lost). A spoofed error costs a
 * hello round trip, a true one still gets us registered again at once.
 */
static void on_error(struct zt_relay_client *rc, const uint8_t *msg, size_t len, uint64_t now)
{
	uint16_t code;

	if (zt_relay_error_parse(msg, len, &code))
		return;
	rc->stats.errors++;
	if (code != ZT_RELAY_E_NOT_REGISTERED || rc->st != RC_REGISTERED || rc->closing)
		return;
	if (rc->rereg_ns && now - rc->rereg_ns < ZT_NS_PER_S)
		return;
	rc->rereg_ns = now;
	rc->probe_sent_ns = 0;
	rc->keepalive_outstanding = false;
	start_hello(rc, now);
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, ZT_RELAY_KEYLEN);
}

/* KEY is on our accept list (kept sorted). */
static bool accepted(const struct zt_relay_client *rc, const uint8_t key[ZT_RELAY_KEYLEN])
{
	return rc->naccept && bsearch(key, rc->accept, rc->naccept, ZT_RELAY_KEYLEN, key_cmp);
}

static void input(struct zt_relay_client *rc, uint8_t *msg, size_t len)
{
	uint64_t now = zt_mono_ns();
	struct zt_relay_fwd f;

	switch (zt_relay_msg_type(msg, len)) {
	case ZT_RELAY_CHALLENGE:
		on_challenge(rc, msg, len, now);
		break;
	case ZT_RELAY_REGISTERED:
		on_registered(rc, msg, len, now);
		break;
	case ZT_RELAY_RECV:
		if (!rc->registered || zt_relay_fwd_parse(ZT_RELAY_RECV, msg, len, &f))
			break;
		/*
		 * The relay forwards only from keys we accept: any other is a
		 * spoofer's (or a lying relay's), dropped before the tunnel
		 * spends anything on it (issue 10 A1).
		 */
		if (!accepted(rc, f.key)) {
			rc->stats.rx_not_accepted++;
			break;
		}
		rc->stats.rx_packets++;
		rc->stats.rx_bytes += f.len;
		if (rc->ops.recv) {
			uint8_t src[ZT_RELAY_KEYLEN];

			memcpy(src, f.key, sizeof(src));
			rc->ops.recv(rc->ctx, rc, src, msg + ZT_RELAY_FWD_HDR_LEN, f.len);
		}
		break;
	case ZT_RELAY_ERROR:
		on_error(rc, msg, len, now);
		break;
	default:
		break;	/* STUN replies and anything else: not ours to read */
	}
}

/* ---- TCP ---- */

static void tcp_close(struct zt_relay_client *rc)
{
	uint64_t now = zt_mono_ns();

	if (rc->fd >= 0) {
		zt_loop_del(rc->loop, rc->fd);
		close(rc->fd);
		rc->fd = -1;
	}
	rc->inlen = rc->outlen = rc->outoff = 0;
	rc->want_out = false;
	set_unregistered(rc, true);
	if (rc->closing)
		return;
	rc->backoff_s = rc->backoff_s ? rc->backoff_s * 2 : 1;
	if (rc->backoff_s > TCP_BACKOFF_MAX_S)
		rc->backoff_s = TCP_BACKOFF_MAX_S;
	rc->st = RC_BACKOFF;
	arm(rc, now + (uint64_t)rc->backoff_s * ZT_NS_PER_S);
}

static void on_tcp(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_relay_client *rc = arg;

	(void)loop;
	if (events & (EPOLLERR | EPOLLHUP)) {
		tcp_close(rc);
		return;
	}
	if (rc->st == RC_CONNECTING) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		if (!(events & EPOLLOUT))
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) || soerr) {
			tcp_close(rc);
			return;
		}
		rc->st = RC_HELLO;
		rc->want_out = true;	/* EPOLLOUT is on: tcp_flush turns it off */
		reregister(rc, zt_mono_ns());
		if (rc->fd < 0)
			return;
		if (tcp_flush(rc)) {
			tcp_close(rc);
			return;
		}
	} else if (events & EPOLLOUT) {
		if (tcp_flush(rc)) {
			tcp_close(rc);
			return;
		}
	}
	if (!(events & EPOLLIN))
		return;
	for (;;) {
		ssize_t n = recv(fd, rc->in + rc->inlen, sizeof(rc->in) - rc->inlen, MSG_DONTWAIT);
		size_t off = 0;

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			tcp_close(rc);
			return;
		}
		if (n < 0)
			return;
		rc->inlen += (size_t)n;
		while (rc->inlen - off >= 2) {
			size_t flen = zt_get_be16(rc->in + off);

			if (flen < ZT_RELAY_HDR_LEN) {
				tcp_close(rc);
				return;
			}
			if (rc->inlen - off - 2 < flen)
				break;
			input(rc, rc->in + off + 2, flen);
			if (rc->fd < 0)
				return;
			off += 2 + flen;
		}
		memmove(rc->in, rc->in + off, rc->inlen - off);
		rc->inlen -= off;
	}
}

static void tcp_connect(struct zt_relay_client *rc, uint64_t now)
{
	int fd, one = 1;

	fd = socket(rc->relay.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto retry;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&rc->relay, rc->relaylen) && errno != EINPROGRESS) {
		close(fd);
		goto retry;
	}
	if (zt_loop_add(rc->loop, fd, EPOLLIN | EPOLLOUT, on_tcp, rc)) {
		close(fd);
		goto retry;
	}
	rc->fd = fd;
	rc->st = RC_CONNECTING;
	arm(rc, now + TCP_CONNECT_NS);
	return;
retry:
	rc->st = RC_BACKOFF;
	tcp_close(rc);
}

/* ---- resolution ---- */

static void start(struct zt_relay_client *rc)
{
	uint64_t now = zt_mono_ns();

	rc->stats.relay = rc->relay;
	if (rc->tcp) {
		tcp_connect(rc, now);
		return;
	}
	rc->st = RC_HELLO;
	reregister(rc, now);
}

static void on_resolved(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct zt_relay_client *rc = arg;
	struct ares_addrinfo_node *n;

	(void)timeouts;
	rc->resolving = false;
	if (status == ARES_SUCCESS && res) {
		for (n = res->nodes; n; n = n->ai_next) {
			if ((n->ai_family == AF_INET || n->ai_family == AF_INET6) &&
			    (size_t)n->ai_addrlen <= sizeof(rc->relay)) {
				memcpy(&rc->relay, n->ai_addr, n->ai_addrlen);
				rc->relaylen = n->ai_addrlen;
				break;
			}
		}
	}
	if (res)
		ares_freeaddrinfo(res);
	if (rc->closing)
		return;
	if (!rc->relaylen) {
		/* Try again in a while: the name may appear. */
		rc->st = RC_RESOLVING;
		arm(rc, zt_mono_ns() + 5 * ZT_NS_PER_S);
		return;
	}
	start(rc);
}

static void resolve(struct zt_relay_client *rc)
{
	struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };

	if (rc->resolving || !rc->ares)
		return;
	rc->resolving = true;
	ares_getaddrinfo(zt_ares_loop_channel(rc->ares), rc->host, rc->port, &hints, on_resolved, rc);
	zt_ares_loop_queued(rc->ares);
}

int zt_relay_split_host_port(const char *text, char *host, size_t hostlen, char *port,
			     size_t portlen)
{
	const char *colon;
	size_t n;

	if (text[0] == '[') {
		const char *end = strchr(text, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		n = (size_t)(end - text - 1);
		text++;
		colon = end + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return -EINVAL;
		n = (size_t)(colon - text);
	}
	if (!n || n >= hostlen || strlen(colon + 1) >= portlen || !colon[1])
		return -EINVAL;
	memcpy(host, text, n);
	host[n] = '\0';
	snprintf(port, portlen, "%s", colon + 1);
	for (const char *p = port; *p; p++)
		if (*p < '0' || *p > '9')
			return -EINVAL;
	return atoi(port) > 0 && atoi(port) < 65536 ? 0 : -EINVAL;
}

/* ---- API ---- */

int zt_relay_client_open(struct zt_loop *loop, const struct zt_relay_client_cfg *cfg,
			 const struct zt_relay_client_ops *ops, void *ctx,
			 struct zt_relay_client **out, char *err, size_t errlen)
{
	struct zt_relay_client *rc;
	struct zt_endpoint ep;
	char why[128];
	int ret;

	if (!cfg->relay || (!cfg->tcp && !cfg->udp_send)) {
		snprintf(err, errlen, "relay: %s", !cfg->relay ? "no relay address" : "no UDP send function");
		return -EINVAL;
	}
	rc = calloc(1, sizeof(*rc));
	if (!rc) {
		snprintf(err, errlen, "relay: out of memory");
		return -ENOMEM;
	}
	rc->loop = loop;
	rc->fd = -1;
	rc->timer_fd = -1;
	rc->tcp = cfg->tcp;
	rc->udp_send = cfg->udp_send;
	rc->udp_send_ctx = cfg->udp_send_ctx;
	if (ops)
		rc->ops = *ops;
	rc->ctx = ctx;
	memcpy(rc->priv, cfg->private_key, ZT_RELAY_KEYLEN);
	X25519_public_from_private(rc->pub, rc->priv);
	if (zt_relay_split_host_port(cfg->relay, rc->host, sizeof(rc->host), rc->port,
				     sizeof(rc->port))) {
		ret = -EINVAL;
		snprintf(err, errlen, "relay '%s': expected HOST:PORT or [IPv6]:PORT", cfg->relay);
		goto fail;
	}
	rc->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (rc->timer_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "relay: timerfd: %s", strerror(errno));
		goto fail;
	}
	ret = zt_loop_add(loop, rc->timer_fd, EPOLLIN, on_timer, rc);
	if (ret) {
		close(rc->timer_fd);
		rc->timer_fd = -1;
		snprintf(err, errlen, "relay: event loop: %s", strerror(-ret));
		goto fail;
	}
	if (!zt_endpoint_parse(cfg->relay, &ep, why, sizeof(why))) {
		rc->relaylen = zt_endpoint_to_sockaddr(&ep, &rc->relay);
		start(rc);
	} else {
		struct zt_ares_loop_cfg acfg = { 0 };

		ret = zt_ares_loop_open(loop, &acfg, &rc->ares, err, errlen);
		if (ret)
			goto fail;
		rc->st = RC_RESOLVING;
		resolve(rc);
	}
	*out = rc;
	return 0;
fail:
	zt_relay_client_close(rc);
	return ret;
}

void zt_relay_client_close(struct zt_relay_client *rc)
{
	if (!rc)
		return;
	rc->closing = true;
	zt_ares_loop_close(rc->ares);	/* runs on_resolved with ARES_EDESTRUCTION */
	if (rc->fd >= 0) {
		zt_loop_del(rc->loop, rc->fd);
		close(rc->fd);
	}
	if (rc->timer_fd >= 0) {
		zt_loop_del(rc->loop, rc->timer_fd);
		close(rc->timer_fd);
	}
	free(rc->out);
	free(rc->accept);
	zt_relay_mac_key_destroy(&rc->k);
	OPENSSL_cleanse(rc->priv, sizeof(rc->priv));
	free(rc);
}

int zt_relay_client_set_accept(struct zt_relay_client *rc, const uint8_t (*keys)[ZT_RELAY_KEY_LEN],
			       size_t n)
{
	uint8_t (*copy)[ZT_RELAY_KEYLEN] = NULL;

	if (n > ZT_RELAY_ACCEPT_MAX)
		return -E2BIG;
	if (n) {
		copy = malloc(n * ZT_RELAY_KEYLEN);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, keys, n * ZT_RELAY_KEYLEN);
		qsort(copy, n, ZT_RELAY_KEYLEN, key_cmp);
	}
	free(rc->accept);
	rc->accept = copy;
	rc->naccept = n;
	/* Registered or on the way: the relay must learn the new list now. */
	if (rc->st == RC_REGISTERED || rc->st == RC_REGISTER)
		reregister(rc, zt_mono_ns());
	return 0;
}

int zt_relay_client_send(struct zt_relay_client *rc, const uint8_t dst[ZT_RELAY_KEY_LEN],
			 const uint8_t *datagram, size_t len)
{
	uint8_t buf[ZT_RELAY_FWD_HDR_LEN + 2048], *msg = buf;
	ssize_t n;
	int ret;

	if (!rc->registered)
		return -ENOTCONN;
	if (!len || len > ZT_RELAY_DATAGRAM_MAX)
		return -EMSGSIZE;
	if (ZT_RELAY_FWD_HDR_LEN + len > sizeof(buf)) {
		msg = malloc(ZT_RELAY_FWD_HDR_LEN + len);
		if (!msg)
			return -ENOMEM;
	}
	n = zt_relay_fwd_encode(ZT_RELAY_SEND, dst, datagram, len, msg, ZT_RELAY_FWD_HDR_LEN + len);
	ret = n < 0 ? (int)n : xmit(rc, msg, (size_t)n);
	if (msg != buf)
		free(msg);
	if (!ret) {
		rc->stats.tx_packets++;
		rc->stats.tx_bytes += len;
	}
	return ret;
}

static bool same_addr(const struct sockaddr *a, socklen_t alen, const struct sockaddr_storage *b)
{
	struct zt_endpoint ea, eb;

	(void)alen;
	if (zt_relay_endpoint_from_sockaddr(a, &ea) ||
	    zt_relay_endpoint_from_sockaddr((const struct sockaddr *)b, &eb))
		return false;
	return zt_endpoint_equal(&ea, &eb);
}

bool zt_relay_client_owns(const struct zt_relay_client *rc, const struct sockaddr *src,
			  socklen_t srclen)
{
	return !rc->tcp && rc->relaylen && same_addr(src, srclen, &rc->relay);
}

void zt_relay_client_input(struct zt_relay_client *rc, uint8_t *datagram, size_t len)
{
	if (rc->tcp)
		return;
	input(rc, datagram, len);
}

void zt_relay_client_stats(const struct zt_relay_client *rc, struct zt_relay_client_stats *st)
{
	*st = rc->stats;
	st->registered = rc->registered;
}
