/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Clocks for timers, deadlines and rate limits (CLOCK_MONOTONIC: never
 * steps, the clock of timerfds and of bpf_ktime_get_ns()) and for
 * timestamps people read (CLOCK_REALTIME). Inline: the tunnel reads the
 * monotonic clock once per batch and per API call on its hot path.
 */
#ifndef ZT_CLOCK_H
#define ZT_CLOCK_H

#include <stdint.h>
#include <time.h>

#define ZT_NS_PER_S	1000000000ull
#define ZT_NS_PER_MS	1000000ull
#define ZT_NS_PER_US	1000ull

static inline uint64_t zt_clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * ZT_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC in ns, us, ms. */
static inline uint64_t zt_mono_ns(void)
{
	return zt_clock_ns(CLOCK_MONOTONIC);
}

static inline uint64_t zt_mono_us(void)
{
	return zt_mono_ns() / ZT_NS_PER_US;
}

static inline uint64_t zt_mono_ms(void)
{
	return zt_mono_ns() / ZT_NS_PER_MS;
}

/* CLOCK_REALTIME (wall clock) in ns since the epoch. */
static inline uint64_t zt_real_ns(void)
{
	return zt_clock_ns(CLOCK_REALTIME);
}

#endif
