// SPDX-License-Identifier: GPL-2.0-only
/*
 * The tunnel's sessions and handshakes (internal.h): the index table that
 * responses, transports and cookie replies are addressed to; WireGuard's
 * three sessions per peer (previous, current, next) and how a new one is
 * installed; the handshake messages, sent (initiation, response) and
 * received (initiation, response, cookie reply), with the cookie defence
 * under load. Called by recv.c (dispatch), send.c and timers.c (initiate).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/mem.h>
#include <openssl/rand.h>
#include <openssl/siphash.h>

#include "tunnel/internal.h"

/* ---- index table ---- */

static struct index_entry **index_bucket(struct zt_tunnel *t, uint32_t id)
{
	return &t->index[id & (INDEX_BUCKETS - 1)];
}

struct index_entry *tunnel_index_find(struct zt_tunnel *t, uint32_t id)
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

	while (!id || tunnel_index_find(t, id)) {
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

void tunnel_handshake_clear(struct zt_tunnel_peer *p)
{
	index_remove(p->t, &p->hs_idx);
	zt_noise_handshake_destroy(&p->hs);
	p->hs_pending = false;
	p->has_sent_mac1 = false;
}

void tunnel_wipe_keys(struct zt_tunnel_peer *p)
{
	keypair_free(p->t, p->prev);
	keypair_free(p->t, p->cur);
	keypair_free(p->t, p->next);
	p->prev = p->cur = p->next = NULL;
	tunnel_handshake_clear(p);
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
bool tunnel_received_with_keypair(struct zt_tunnel_peer *p, struct keypair *kp)
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

/* ---- handshake: initiator ---- */

/* mac1 of handshake message BUF to P, and mac2 while we hold a fresh cookie of P's. */
static void write_macs(struct zt_tunnel_peer *p, uint8_t *buf, size_t len, uint64_t now)
{
	bool fresh_cookie = p->has_cookie &&
			    now - p->cookie_born_ns < ZT_TW_COOKIE_SECRET_MAX_AGE_NS - COOKIE_LATENCY_NS;

	zt_tw_mac1_write(buf, len, p->mac1_key);
	zt_tw_mac2_write(buf, len, fresh_cookie ? p->cookie : NULL);
}

void tunnel_send_initiation(struct zt_tunnel_peer *p, uint64_t now)
{
	struct zt_tunnel *t = p->t;
	struct zt_tw_initiation m = { 0 };
	uint8_t ts[ZT_TW_TAI64N_LEN], *buf;

	if (p->removed || !can_reach(p))
		return;
	tunnel_handshake_clear(p);
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

	buf = tunnel_tx_reserve(t, ZT_TW_INITIATION_LEN);
	zt_tw_initiation_encode(&m, buf, ZT_TW_INITIATION_LEN);
	write_macs(p, buf, ZT_TW_INITIATION_LEN, now);
	/* A cookie reply to it is sealed with this mac1. */
	memcpy(p->sent_mac1, zt_tw_mac1_of(buf, ZT_TW_INITIATION_LEN), ZT_TW_MAC_LEN);
	p->has_sent_mac1 = true;
	tunnel_peer_commit(p, buf, ZT_TW_INITIATION_LEN);

	p->last_init_sent_ns = now;
	p->st.initiations_sent++;
	tunnel_set_timer(p, &p->retry_at, now + tunnel_rekey_timeout_jittered(t));
	tunnel_timers_any_authenticated_packet_sent(p);
	tunnel_timers_any_authenticated_packet_traversal(p, now);
	return;
fail:
	tunnel_handshake_clear(p);
}

/*
 * Start a handshake unless one went out less than REKEY_TIMEOUT ago
 * (WireGuard's rate limit). The REKEY_ATTEMPT_TIME budget starts with the
 * first initiation of an attempt, not with every packet that asks for one.
 */
void tunnel_initiate(struct zt_tunnel_peer *p, uint64_t now)
{
	if (p->removed || !can_reach(p))
		return;
	if (p->last_init_sent_ns && now - p->last_init_sent_ns < p->t->rekey_timeout_ns)
		return;
	if (!p->retry_at)
		p->attempt_start_ns = now;
	tunnel_send_initiation(p, now);
}

/* ---- handshake: received ---- */

/*
 * Under load: more initiations in the current second than the threshold,
 * or a receive batch more than half initiations; the state holds for a
 * second after the last sign of it.
 */
static bool under_load(struct zt_tunnel *t, uint64_t now)
{
	if (now - t->load_window_start_ns >= ZT_NS_PER_S) {
		t->load_window_start_ns = now;
		t->load_count = 0;
	}
	t->load_count++;
	if (t->load_count > t->under_load_threshold || t->backlog)
		t->under_load_until_ns = now + UNDER_LOAD_AFTER_NS;
	return now < t->under_load_until_ns;
}

/*
 * The source an initiation is limited and cookied by: its address (IP
 * only for the bucket, as wireguard-go; IP and port for the cookie), or,
 * relayed, the key the relay named (tagged, so never an address's bytes).
 */
static size_t source_bytes(const struct zt_tunnel *t, const struct sockaddr_storage *src,
			   uint8_t out[1 + ZT_NOISE_KEY_LEN])
{
	if (t->rx_path == ZT_TUNNEL_RX_RELAYED) {
		out[0] = 0xff;
		memcpy(out + 1, t->rx_src_key, ZT_NOISE_KEY_LEN);
		return 1 + ZT_NOISE_KEY_LEN;
	}
	if (src->ss_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)src)->sin_addr, 4);
		return 4;
	}
	memcpy(out, &((const struct sockaddr_in6 *)src)->sin6_addr, 16);
	return 16;
}

/*
 * One mac2-valid initiation from SRC against its bucket. The table is
 * fixed (RL_SLOTS, two slots per tag): a source it cannot hold takes the
 * slot that refills soonest, with a full bucket. Only sources that proved
 * their address (mac2) get here, so spoofed ones cannot churn it.
 */
static bool source_admitted(struct zt_tunnel *t, const struct sockaddr_storage *src, uint64_t now)
{
	uint8_t b[1 + ZT_NOISE_KEY_LEN];
	size_t n = source_bytes(t, src, b);
	uint64_t tag = SIPHASH_24(t->rl_key, b, n) | 1, cost = ZT_NS_PER_S / RL_RATE, next;
	struct rl_slot *a = &t->rl[tag % RL_SLOTS], *c = &t->rl[(tag % RL_SLOTS) ^ 1], *e;

	if (a->tag == tag)
		e = a;
	else if (c->tag == tag)
		e = c;
	else {
		e = a->tat_ns <= c->tat_ns ? a : c;
		e->tag = tag;
		e->tat_ns = now;
	}
	next = (e->tat_ns > now ? e->tat_ns : now) + cost;
	if (next - now > RL_BURST * cost)
		return false;
	e->tat_ns = next;
	return true;
}

/*
 * Under load, an initiation goes on only with a mac2 made from the cookie
 * of its source (an address, or the key a relay named it by) and within
 * that source's budget; without a mac2 it gets a cookie reply instead (no
 * DH spent on it), sent where it came from: the address, or through the
 * relay to the key it named. False if M ends here.
 */
static bool cookie_passes(struct zt_tunnel *t, const uint8_t *msg, size_t len,
			  const struct zt_tw_initiation *m, const struct sockaddr_storage *src,
			  uint64_t now)
{
	bool relayed = t->rx_path == ZT_TUNNEL_RX_RELAYED;
	uint8_t cookie[ZT_TW_COOKIE_LEN], *buf;
	bool ok;

	if (!under_load(t, now))
		return true;
	if (relayed ? zt_tw_cookie_make_relayed(&t->cookie_secret, now, t->rx_src_key, cookie)
		    : zt_tw_cookie_make(&t->cookie_secret, now, (const struct sockaddr *)src, cookie))
		return false;
	ok = zt_tw_mac2_ok(msg, len, cookie);
	if (ok) {
		t->stats.mac2_accepted++;
		if (!source_admitted(t, src, now)) {
			t->stats.rx_ratelimited++;
			ok = false;
		}
	} else {
		buf = tunnel_tx_reserve(t, ZT_TW_COOKIE_REPLY_LEN);
		if (!zt_tw_cookie_reply_seal(t->cookie_key, m->sender, cookie, m->mac1, buf,
					     ZT_TW_COOKIE_REPLY_LEN)) {
			if (relayed) {
				/* rx_peer: what the engine sends to it now goes through the relay. */
				t->rx_peer = zt_tunnel_peer_by_key(t, t->rx_src_key);
				if (t->rx_peer)
					tunnel_peer_commit(t->rx_peer, buf, ZT_TW_COOKIE_REPLY_LEN);
				t->rx_peer = NULL;
			} else {
				tunnel_tx_commit(t, src, buf, ZT_TW_COOKIE_REPLY_LEN);
			}
			t->stats.cookie_replies_sent++;
		}
	}
	OPENSSL_cleanse(cookie, sizeof(cookie));
	return ok;
}

void tunnel_consume_initiation(struct zt_tunnel *t, uint8_t *msg, size_t len,
			       const struct sockaddr_storage *src, uint64_t now)
{
	struct zt_tw_initiation m;
	struct zt_tw_response r = { 0 };
	struct zt_noise_handshake hs;
	struct zt_tunnel_peer *p;
	struct keypair *kp;
	uint8_t ts[ZT_TW_TAI64N_LEN], rs[ZT_NOISE_KEY_LEN], *buf;

	/* Cheap checks first: no DH for anyone who does not know our public key. */
	if (!zt_tw_mac1_ok(msg, len, t->mac1_key)) {
		t->stats.rx_bad_mac1++;
		return;
	}
	if (zt_tw_initiation_parse(msg, len, &m))
		return;
	/* Relayed: from a peer of ours, or the relay would not have forwarded it. */
	if (t->rx_path == ZT_TUNNEL_RX_RELAYED && !zt_tunnel_peer_by_key(t, t->rx_src_key)) {
		t->stats.rx_unknown_key++;
		return;
	}
	if (!cookie_passes(t, msg, len, &m, src, now))
		return;

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
	/* The relay (or whoever spoofs it) named another sender: its cookie and budget were not P's. */
	if (t->rx_path == ZT_TUNNEL_RX_RELAYED &&
	    CRYPTO_memcmp(rs, t->rx_src_key, ZT_NOISE_KEY_LEN)) {
		t->stats.rx_relayed_mismatch++;
		goto out;
	}
	if (!zt_tw_tai64n_after(ts, p->last_tai64n)) {
		t->stats.rx_initiation_replay++;
		goto out;
	}
	/* wireguard-go's flood check: no peer makes us answer more than 50 per second. */
	if (p->last_init_consumed_ns && now - p->last_init_consumed_ns < INITIATION_MIN_GAP_NS) {
		t->stats.rx_initiation_flood++;
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
	p->last_init_consumed_ns = now;
	tunnel_authenticated_from(p, src, now);
	tunnel_timers_any_authenticated_packet_received(p);
	tunnel_timers_any_authenticated_packet_traversal(p, now);

	r.sender = kp->idx.id;
	r.receiver = m.sender;
	buf = tunnel_tx_reserve(t, ZT_TW_RESPONSE_LEN);
	zt_tw_response_encode(&r, buf, ZT_TW_RESPONSE_LEN);
	write_macs(p, buf, ZT_TW_RESPONSE_LEN, now);
	tunnel_peer_commit(p, buf, ZT_TW_RESPONSE_LEN);
	tunnel_timers_any_authenticated_packet_sent(p);

	install_keypair(p, kp);
	tunnel_timers_session_derived(p, now);
out:
	zt_noise_handshake_destroy(&hs);
	OPENSSL_cleanse(ts, sizeof(ts));
}

void tunnel_consume_response(struct zt_tunnel *t, uint8_t *msg, size_t len,
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
	e = tunnel_index_find(t, r.receiver);
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
	tunnel_handshake_clear(p);	/* frees our index for the session to take over */
	kp = keypair_new(t, p, &hs, r.receiver, r.sender, true, now);
	if (!kp)
		return;
	tunnel_authenticated_from(p, src, now);
	install_keypair(p, kp);
	tunnel_timers_session_derived(p, now);
	tunnel_timers_handshake_complete(p);
	tunnel_timers_any_authenticated_packet_received(p);
	tunnel_timers_any_authenticated_packet_traversal(p, now);
	/* Queued packets, or a keepalive: the responder's next session is confirmed by it. */
	tunnel_send_keepalive(p, now);
	if (t->ops.session_up && !p->removed)
		t->ops.session_up(t->ctx, p);
}

void tunnel_consume_cookie_reply(struct zt_tunnel *t, const uint8_t *msg, size_t len,
				 uint64_t now)
{
	struct zt_tw_cookie_reply c;
	struct zt_tunnel_peer *p;
	struct index_entry *e;
	uint8_t cookie[ZT_TW_COOKIE_LEN];

	if (zt_tw_cookie_reply_parse(msg, len, &c))
		return;
	e = tunnel_index_find(t, c.receiver);
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
