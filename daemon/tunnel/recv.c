// SPDX-License-Identifier: GPL-2.0-only
/*
 * The tunnel's receiving side (internal.h): the socket's receive batches
 * (lib/udp_batch.c: recvmmsg, UDP GRO runs cut back into datagrams), what
 * the relay hands in (zt_tunnel_input, zt_tunnel_input_relayed), dispatch
 * by message type (handshakes to session.c), transport messages opened and
 * delivered to ops.recv, roaming, and the receive half of keep_key_fresh.
 */
#include <string.h>

#include "tunnel/internal.h"

#define RX_ROUNDS		2	/* batches per wakeup, then the loop's other fds */

/* ---- transport ---- */

/*
 * A datagram from SRC authenticated P. Roaming: a direct one makes SRC
 * P's endpoint; one that came through a relay moves nothing.
 */
void tunnel_authenticated_from(struct zt_tunnel_peer *p, const struct sockaddr_storage *src,
			       uint64_t now)
{
	p->t->rx_peer = p;
	if (p->t->rx_path == ZT_TUNNEL_RX_RELAYED)
		return;
	p->endpoint = *src;
	p->last_direct_rx_ns = now;
}

/*
 * WireGuard's keep_key_fresh on the receive side (send.c has the send
 * side): an initiator whose session is about to be rejected, and who has
 * not sent since (else the send side would have rekeyed), makes one last
 * attempt.
 */
static void keep_key_fresh_recv(struct zt_tunnel_peer *p, uint64_t now)
{
	struct zt_tunnel *t = p->t;
	struct keypair *kp = p->cur;
	uint64_t margin = t->keepalive_timeout_ns + t->rekey_timeout_ns;
	uint64_t limit = t->reject_after_time_ns > margin ? t->reject_after_time_ns - margin : 0;

	if (kp && kp->initiator && !p->sent_lastminute_handshake && now - kp->born_ns > limit) {
		p->sent_lastminute_handshake = true;
		tunnel_initiate(p, now);
	}
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
	e = tunnel_index_find(t, m.receiver);
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
	tunnel_authenticated_from(p, src, now);
	tunnel_timers_any_authenticated_packet_received(p);
	tunnel_timers_any_authenticated_packet_traversal(p, now);
	if (n) {
		p->st.rx_packets++;
		p->st.rx_bytes += (uint64_t)n;
		tunnel_timers_data_received(p, now);
	} else {
		p->st.rx_keepalives++;
	}
	keep_key_fresh_recv(p, now);
	if (tunnel_received_with_keypair(p, kp)) {
		tunnel_timers_handshake_complete(p);
		tunnel_send_staged(p, now);
		if (t->ops.session_up)
			t->ops.session_up(t->ctx, p);
	}
	if (n && !p->removed && t->ops.recv)
		t->ops.recv(t->ctx, p, plain, (size_t)n);
}

/* ---- dispatch ---- */

/* Not ours but a relay's (docs/RELAY.md: types 0x10-0x1f) or STUN (the magic cookie). */
static bool is_other(const uint8_t *msg, size_t len)
{
	static const uint8_t stun_magic[4] = { 0x21, 0x12, 0xa4, 0x42 };

	if (len >= 4 && msg[0] >= 0x10 && msg[0] <= 0x1f)
		return true;
	return len >= 20 && !(msg[0] & 0xc0) && !memcmp(msg + 4, stun_magic, 4);
}

/* A tunnel message from FROM (how it came: t->rx_path); false if MSG is none. */
static bool dispatch(struct zt_tunnel *t, uint8_t *msg, size_t len,
		     const struct sockaddr_storage *from, uint64_t now)
{
	t->rx_peer = NULL;
	switch (zt_tw_type(msg, len)) {
	case ZT_TW_INITIATION:
		tunnel_consume_initiation(t, msg, len, from, now);
		return true;
	case ZT_TW_RESPONSE:
		tunnel_consume_response(t, msg, len, from, now);
		return true;
	case ZT_TW_COOKIE_REPLY:
		tunnel_consume_cookie_reply(t, msg, len, now);
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
	if (tunnel_addr_normalize(src, srclen, &from)) {
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

/* ---- input ---- */

void zt_tunnel_input(struct zt_tunnel *t, uint8_t *msg, size_t len, const struct sockaddr *src,
		     socklen_t srclen)
{
	tunnel_event_begin(t);
	handle_datagram(t, msg, len, src, srclen, zt_mono_ns());
	if (t->ops.flush)
		t->ops.flush(t->ctx);
	tunnel_event_end(t);
}

/* Nested in the relay's datagram that carried it (ops.other), so the state is saved. */
void zt_tunnel_input_relayed(struct zt_tunnel *t, const uint8_t src_key[ZT_NOISE_KEY_LEN],
			     uint8_t *msg, size_t len)
{
	enum zt_tunnel_rx_path saved_path = t->rx_path;
	struct sockaddr_storage saved_src = t->rx_from, none = { .ss_family = AF_UNSPEC };
	struct zt_tunnel_peer *saved_peer = t->rx_peer;

	uint8_t saved_key[ZT_NOISE_KEY_LEN];

	/* The datagram names its peer itself, authenticated; SRC_KEY scopes cookies and limits. */
	memcpy(saved_key, t->rx_src_key, sizeof(saved_key));
	tunnel_event_begin(t);
	t->stats.rx_relayed++;
	t->rx_path = ZT_TUNNEL_RX_RELAYED;
	t->rx_from = none;
	memcpy(t->rx_src_key, src_key, ZT_NOISE_KEY_LEN);
	if (!dispatch(t, msg, len, &none, zt_mono_ns()))
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
	memcpy(t->rx_src_key, saved_key, sizeof(saved_key));
	tunnel_event_end(t);
}

enum zt_tunnel_rx_path zt_tunnel_rx_path(const struct zt_tunnel *t, struct sockaddr_storage *src)
{
	if (src && t->rx_path == ZT_TUNNEL_RX_DIRECT)
		*src = t->rx_from;
	return t->rx_path;
}

/*
 * One received batch: a batch mostly of initiations is a backlog (under
 * load, whatever the rate); then every datagram, GRO runs cut back into
 * theirs, and one flush of what they produced.
 */
static void rx_batch(struct zt_tunnel *t)
{
	struct zt_udp_rx_pos pos = { 0 };
	struct zt_udp_dgram d;
	unsigned int inits = 0, total = 0;
	uint64_t now;

	while (zt_udp_batch_next(t->io, &pos, &d)) {
		inits += d.len == ZT_TW_INITIATION_LEN && d.data[0] == ZT_TW_INITIATION;
		total++;
	}
	t->backlog = inits > ZT_TUNNEL_BATCH / 2 && 2 * inits > total;
	t->in_rx_batch = true;
	now = zt_mono_ns();
	pos = (struct zt_udp_rx_pos){ 0 };
	while (zt_udp_batch_next(t->io, &pos, &d))
		handle_datagram(t, d.data, d.len, (struct sockaddr *)d.from, d.fromlen, now);
	if (t->ops.flush)
		t->ops.flush(t->ctx);
	t->in_rx_batch = false;
	t->backlog = false;
}

/* Up to RX_ROUNDS recvmmsg batches per wakeup; their replies leave in one sendmmsg each. */
void tunnel_on_udp(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_tunnel *t = arg;
	int r, n;

	(void)loop;
	(void)fd;
	(void)events;
	tunnel_event_begin(t);
	for (r = 0; r < RX_ROUNDS; r++) {
		n = zt_udp_batch_recv(t->io);
		if (n <= 0)
			break;
		rx_batch(t);
		if (n < ZT_TUNNEL_BATCH)
			break;
	}
	tunnel_event_end(t);
}
