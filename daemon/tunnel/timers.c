// SPDX-License-Identifier: GPL-2.0-only
/*
 * The tunnel's timers (internal.h): WireGuard's (the Linux driver's
 * timers.c, whose function names these keep) on one timerfd armed for the
 * earliest deadline of any peer (tunnel.h says why). The event hooks are
 * called from session.c, send.c and recv.c; the expiry runs each peer's
 * due deadlines.
 */
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "tunnel/internal.h"

/* TAI64N counts in steps of 2^24 ns: initiations this far apart carry newer ones. */
#define TAI64N_STEP_NS		(20 * ZT_NS_PER_MS)

/* Arm the timerfd for WHEN unless it already fires no later. */
static void arm(struct zt_tunnel *t, uint64_t when)
{
	struct itimerspec its = { 0 };

	if (!when || (t->timer_armed_ns && t->timer_armed_ns <= when))
		return;
	its.it_value.tv_sec = (time_t)(when / ZT_NS_PER_S);
	its.it_value.tv_nsec = (long)(when % ZT_NS_PER_S);
	if (timerfd_settime(t->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		t->timer_armed_ns = when;
}

void tunnel_set_timer(struct zt_tunnel_peer *p, uint64_t *deadline, uint64_t when)
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
uint64_t tunnel_rekey_timeout_jittered(const struct zt_tunnel *t)
{
	uint32_t r = 0;
	uint64_t span = t->rekey_timeout_ns / 15;

	RAND_bytes((uint8_t *)&r, sizeof(r));
	return t->rekey_timeout_ns + (span ? r % (span + 1) : 0);
}

/* ---- WireGuard's event hooks: what its timers.c calls on each event, same names ---- */

void tunnel_timers_any_authenticated_packet_sent(struct zt_tunnel_peer *p)
{
	p->keepalive_at = 0;
}

void tunnel_timers_any_authenticated_packet_received(struct zt_tunnel_peer *p)
{
	p->new_handshake_at = 0;
}

void tunnel_timers_any_authenticated_packet_traversal(struct zt_tunnel_peer *p, uint64_t now)
{
	if (p->t->persistent_keepalive_ns)
		tunnel_set_timer(p, &p->persistent_at, now + p->t->persistent_keepalive_ns);
}

void tunnel_timers_data_sent(struct zt_tunnel_peer *p, uint64_t now)
{
	if (!p->new_handshake_at)
		tunnel_set_timer(p, &p->new_handshake_at,
				 now + p->t->keepalive_timeout_ns + p->t->rekey_timeout_ns);
}

void tunnel_timers_data_received(struct zt_tunnel_peer *p, uint64_t now)
{
	if (!p->keepalive_at)
		tunnel_set_timer(p, &p->keepalive_at, now + p->t->keepalive_timeout_ns);
	else
		p->need_another_keepalive = true;
}

void tunnel_timers_handshake_complete(struct zt_tunnel_peer *p)
{
	p->retry_at = 0;
	p->sent_lastminute_handshake = false;
}

void tunnel_timers_session_derived(struct zt_tunnel_peer *p, uint64_t now)
{
	tunnel_set_timer(p, &p->zero_keys_at, now + 3 * p->t->reject_after_time_ns);
	p->st.handshakes++;
	p->st.last_handshake_ns = zt_real_ns();
}

/* ---- expiry ---- */

static void peer_timers(struct zt_tunnel_peer *p, uint64_t now)
{
	struct zt_tunnel *t = p->t;

	if (p->retry_at && p->retry_at <= now) {
		p->retry_at = 0;
		if (now - p->attempt_start_ns >= t->rekey_attempt_time_ns) {
			/* Give up: what waited for this session is lost; keys go later. */
			tunnel_handshake_clear(p);
			tunnel_queue_purge(p, true);
			if (!p->zero_keys_at)
				tunnel_set_timer(p, &p->zero_keys_at, now + 3 * t->reject_after_time_ns);
		} else {
			tunnel_send_initiation(p, now);
		}
	}
	if (p->keepalive_at && p->keepalive_at <= now) {
		p->keepalive_at = 0;
		tunnel_send_keepalive(p, now);
		if (p->need_another_keepalive) {
			p->need_another_keepalive = false;
			tunnel_set_timer(p, &p->keepalive_at, now + t->keepalive_timeout_ns);
		}
	}
	if (p->new_handshake_at && p->new_handshake_at <= now) {
		/* We sent data and heard nothing for KEEPALIVE + REKEY_TIMEOUT. */
		p->new_handshake_at = 0;
		tunnel_initiate(p, now);
	}
	if (p->zero_keys_at && p->zero_keys_at <= now) {
		p->zero_keys_at = 0;
		tunnel_wipe_keys(p);
	}
	if (p->persistent_at && p->persistent_at <= now) {
		p->persistent_at = 0;
		tunnel_send_keepalive(p, now);
	}
}

void tunnel_on_timer(struct zt_loop *loop, int fd, uint32_t events, void *arg)
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
	now = zt_mono_ns();
	tunnel_event_begin(t);
	for (p = t->peers; p; p = p->lnext)
		peer_timers(p, now);
	for (p = t->peers; p; p = p->lnext) {
		d = peer_deadline(p);
		if (d && (!next || d < next))
			next = d;
	}
	arm(t, next);
	tunnel_event_end(t);
}

/*
 * A path just became usable (a relay registered): handshakes waiting for
 * their retry go out now instead of up to REKEY_TIMEOUT later. Not sooner
 * than 20 ms after the last one, so the TAI64N (2^24 ns granularity) still
 * increases.
 */
void zt_tunnel_retry_handshakes(struct zt_tunnel *t)
{
	uint64_t now = zt_mono_ns();
	struct zt_tunnel_peer *p;

	tunnel_event_begin(t);
	for (p = t->peers; p; p = p->lnext) {
		/* Waiting for a session: a handshake lost on the way, or packets queued. */
		if (p->removed || !can_reach(p) || (!p->hs_pending && !p->qlen))
			continue;
		if (!p->retry_at)
			p->attempt_start_ns = now;
		if (p->last_init_sent_ns && now - p->last_init_sent_ns < TAI64N_STEP_NS) {
			/* Too soon for a newer TAI64N: the retry timer moves up instead. */
			tunnel_set_timer(p, &p->retry_at, p->last_init_sent_ns + TAI64N_STEP_NS);
			continue;
		}
		tunnel_send_initiation(p, now);
	}
	tunnel_event_end(t);
}
