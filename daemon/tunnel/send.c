// SPDX-License-Identifier: GPL-2.0-only
/*
 * The tunnel's sending side (internal.h): payloads queued while no session
 * is up, transport messages sealed into the socket's send batch
 * (lib/udp_batch.c: one sendmmsg per event, UDP GSO runs) or handed to the
 * relay, and the send half of WireGuard's keep_key_fresh. Public:
 * zt_tunnel_send, zt_tunnel_send_to, zt_tunnel_sendto_raw, cork/uncork.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/internal.h"

/* ---- the send batch ---- */

void tunnel_tx_flush(struct zt_tunnel *t)
{
	zt_udp_batch_flush(t->io);	/* losses count in the batch's tx_errors */
}

uint8_t *tunnel_tx_reserve(struct zt_tunnel *t, size_t len)
{
	return zt_udp_batch_reserve(t->io, len);
}

void tunnel_tx_commit(struct zt_tunnel *t, const struct sockaddr_storage *ep, uint8_t *buf,
		      size_t len)
{
	struct sockaddr_storage to;
	socklen_t tolen = tunnel_addr_for_socket(t, ep, &to);

	if (!tolen) {
		t->stats.tx_errors++;
		return;
	}
	zt_udp_batch_queue(t->io, buf, len, (struct sockaddr *)&to, tolen);
	if (!t->cork)
		tunnel_tx_flush(t);
}

void tunnel_peer_commit(struct zt_tunnel_peer *p, uint8_t *buf, size_t len)
{
	struct zt_tunnel *t = p->t;

	if (!via_relay(p)) {
		tunnel_tx_commit(t, &p->endpoint, buf, len);
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
		tunnel_tx_flush(t);
}

/* ---- queue ---- */

/* Drop the oldest queued packet (sent, or pushed out). */
static void queue_pop(struct zt_tunnel_peer *p)
{
	free(p->queue[p->qhead].buf);
	p->qhead = (p->qhead + 1) % ZT_TUNNEL_QUEUE_MAX;
	p->qlen--;
}

/* Keep a copy of PAYLOAD until a session is up; a full queue loses its oldest. */
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
		queue_pop(p);
		p->st.queue_dropped++;
	}
	q = &p->queue[(p->qhead + p->qlen) % ZT_TUNNEL_QUEUE_MAX];
	q->buf = copy;
	q->len = len;
	p->qlen++;
}

void tunnel_queue_purge(struct zt_tunnel_peer *p, bool count)
{
	while (p->qlen) {
		queue_pop(p);
		if (count)
			p->st.queue_dropped++;
	}
	p->qhead = 0;
}

/* ---- transport ---- */

/*
 * PAYLOAD (LEN bytes; none: a keepalive) sealed on KP into a send buffer
 * of ZT_TW_TRANSPORT_LEN(LEN) bytes, to be committed next; NULL if sealing
 * failed. Each counter value is used once, whatever happens to the datagram.
 */
static uint8_t *seal_transport(struct zt_tunnel *t, struct keypair *kp, const uint8_t *payload,
			       size_t len)
{
	size_t total = ZT_TW_TRANSPORT_LEN(len);
	uint8_t *buf = tunnel_tx_reserve(t, total);

	zt_tw_transport_header_encode(kp->remote_index, kp->send_counter, buf, total);
	if (zt_noise_seal(&kp->noise.send, kp->send_counter, NULL, 0, payload, len,
			  buf + ZT_TW_TRANSPORT_HEADER_LEN, total - ZT_TW_TRANSPORT_HEADER_LEN) < 0)
		return NULL;
	kp->send_counter++;
	return buf;
}

static void send_transport(struct zt_tunnel_peer *p, struct keypair *kp, const uint8_t *payload,
			   size_t len, uint64_t now)
{
	uint8_t *buf = seal_transport(p->t, kp, payload, len);

	if (!buf)
		return;
	tunnel_peer_commit(p, buf, ZT_TW_TRANSPORT_LEN(len));
	if (len) {
		p->st.tx_packets++;
		p->st.tx_bytes += len;
		tunnel_timers_data_sent(p, now);
	} else {
		p->st.tx_keepalives++;
	}
	tunnel_timers_any_authenticated_packet_sent(p);
	tunnel_timers_any_authenticated_packet_traversal(p, now);
}

/* WireGuard's keep_key_fresh on the send side. */
static void keep_key_fresh_send(struct zt_tunnel_peer *p, uint64_t now)
{
	struct keypair *kp = p->cur;

	if (kp && (kp->send_counter > p->t->rekey_after_messages ||
		   (kp->initiator && now - kp->born_ns > p->t->rekey_after_time_ns)))
		tunnel_initiate(p, now);
}

/* Send what is queued on the current session, or ask for one. */
void tunnel_send_staged(struct zt_tunnel_peer *p, uint64_t now)
{
	struct zt_tunnel *t = p->t;

	while (p->qlen) {
		struct queued *q = &p->queue[p->qhead];

		if (!can_send(t, p->cur, now)) {
			tunnel_initiate(p, now);
			return;
		}
		send_transport(p, p->cur, q->buf, q->len, now);
		queue_pop(p);
	}
	p->qhead = 0;
	keep_key_fresh_send(p, now);
}

void tunnel_send_keepalive(struct zt_tunnel_peer *p, uint64_t now)
{
	if (p->qlen) {
		tunnel_send_staged(p, now);	/* data says we are alive as well */
		return;
	}
	if (can_send(p->t, p->cur, now))
		send_transport(p, p->cur, NULL, 0, now);
	else
		tunnel_initiate(p, now);
}

int zt_tunnel_send(struct zt_tunnel *t, struct zt_tunnel_peer *p, const uint8_t *payload,
		   size_t len)
{
	uint64_t now;

	if (!p || p->removed || !payload)
		return -EINVAL;
	if (!len || len > ZT_TUNNEL_PAYLOAD_MAX)
		return -EMSGSIZE;
	now = zt_mono_ns();
	if (!p->qlen && can_send(t, p->cur, now)) {
		send_transport(p, p->cur, payload, len, now);
		keep_key_fresh_send(p, now);
		return 0;
	}
	queue_push(p, payload, len);
	tunnel_send_staged(p, now);
	return 0;
}

/*
 * One datagram now, with TTL (IPv4, and IPv4-mapped on a v6 socket) or hop
 * limit (IPv6) for this send only: an IP_TTL / IPV6_HOPLIMIT cmsg, so the
 * socket's own TTL, and so every other datagram, stays as it is.
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
	m.msg_namelen = tunnel_addr_for_socket(t, ep, &to);
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
	uint8_t *buf;

	if (!p || p->removed || !payload || !endpoint || ttl < 0 || ttl > 255)
		return -EINVAL;
	if (!len || len > ZT_TUNNEL_PAYLOAD_MAX)
		return -EMSGSIZE;
	if (tunnel_addr_normalize((const struct sockaddr *)endpoint, sizeof(*endpoint), &ep))
		return -EINVAL;
	if (!tunnel_addr_for_socket(t, &ep, &to))
		return -EAFNOSUPPORT;
	kp = p->cur;
	if (!can_send(t, kp, zt_mono_ns()))
		return -ENOTCONN;
	/* In order: what the batch holds leaves before this one. */
	if (ttl)
		tunnel_tx_flush(t);
	buf = seal_transport(t, kp, payload, len);
	if (!buf)
		return -EIO;
	if (ttl)
		send_with_ttl(t, &ep, buf, ZT_TW_TRANSPORT_LEN(len), ttl);	/* slot not queued */
	else
		tunnel_tx_commit(t, &ep, buf, ZT_TW_TRANSPORT_LEN(len));
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
	int ret;

	if (tunnel_addr_normalize((const struct sockaddr *)dst, sizeof(*dst), &ep))
		return -EINVAL;
	tolen = tunnel_addr_for_socket(t, &ep, &to);
	if (!tolen)
		return -EAFNOSUPPORT;
	/*
	 * Into the batch, like the tunnel's own datagrams: a relayed flow's
	 * datagrams (all to the relay, mostly of one size) leave in one
	 * sendmmsg, as UDP GSO runs, instead of one sendto each. One too big
	 * for a slot goes at once.
	 */
	ret = zt_udp_batch_queue_copy(t->io, buf, len, (struct sockaddr *)&to, tolen);
	if (!t->cork)
		tunnel_tx_flush(t);
	return ret;
}
