// SPDX-License-Identifier: GPL-2.0-only
/*
 * Allowed hours of a security policy ("hours": "[DAYS ]HH:MM-HH:MM", in the
 * policy's "tz", a zone of the tz database, or UTC without one): the parse
 * that kinds.c validates with, the zone's check, whether an instant falls
 * inside the window, and the next boundary after an instant. session.c uses
 * them to withhold an access rule's grants outside the window and to arm
 * the controller's timer on the next boundary.
 *
 * The zone is the policy's, never the controller's local time: controllers
 * sharing one database (HA) may run in different zones, and a grant must
 * not depend on which of them computed the view. The window is wall-clock
 * time in that zone, [start, end); start > end spans midnight
 * ("22:00-06:00"); start == end is refused (neither "always" nor "never" is
 * what anyone means by it). DAYS ("Mon-Fri", "Sat,Sun", "Mon,Wed-Fri";
 * absent: every day) are the days a window starts on: with "Fri
 * 22:00-06:00" Saturday 05:00 is inside. Across daylight saving time the
 * wall clock decides: 09:00-17:00 in Europe/Berlin is 08:00-16:00 UTC in
 * winter and 07:00-15:00 UTC in summer; a window edge inside the hour the
 * clocks skip takes effect when they jump (03:00 local), and one inside the
 * hour they repeat holds both times.
 *
 * Local time comes from libc's tz database (TZ, tzset, localtime_r): the
 * controller is single-threaded, and TZ is put back after each use. A
 * switch of TZ makes glibc read the zone's file again, so the offsets a
 * view compile asks for (every grant, at one instant) are cached.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "controller/internal.h"

#define DAY_S	86400
#define ALL_DAYS 0x7fu

static const char *const day_names[7] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

/* "Mon" at S (3 letters, any case): its number, 0 for Sunday; -1 if none. */
static int day_of(const char *s)
{
	for (int i = 0; i < 7; i++)
		if (!strncasecmp(s, day_names[i], 3))
			return i;
	return -1;
}

/* DAYS ("Mon-Fri,Sun") of length LEN into a mask (bit 0 Sunday); -EINVAL. */
static int parse_days(const char *s, size_t len, unsigned int *mask)
{
	const char *end = s + len;

	*mask = 0;
	while (s < end) {
		int a = s + 3 <= end ? day_of(s) : -1, b = a;

		if (a < 0)
			return -EINVAL;
		s += 3;
		if (s < end && *s == '-') {
			b = s + 4 <= end ? day_of(s + 1) : -1;
			if (b < 0)
				return -EINVAL;
			s += 4;
		}
		for (int d = a;; d = (d + 1) % 7) {	/* "Fri-Mon" wraps over the weekend */
			*mask |= 1u << d;
			if (d == b)
				break;
		}
		if (s < end && (*s != ',' || ++s == end))
			return -EINVAL;
	}
	return 0;
}

int zt_hours_parse(const char *s, int *start, int *end, unsigned int *days)
{
	unsigned int h1, m1, h2, m2;
	const char *sp = s ? strchr(s, ' ') : NULL, *t = sp ? sp + 1 : s;
	int n = 0;

	*days = ALL_DAYS;
	if (!s || (sp && (parse_days(s, (size_t)(sp - s), days) || !*days)))
		return -EINVAL;
	if (sscanf(t, "%2u:%2u-%2u:%2u%n", &h1, &m1, &h2, &m2, &n) != 4 || t[n] ||
	    h1 > 23 || h2 > 23 || m1 > 59 || m2 > 59 || !isdigit((unsigned char)*t))
		return -EINVAL;
	*start = (int)(h1 * 3600 + m1 * 60);
	*end = (int)(h2 * 3600 + m2 * 60);
	return *start == *end ? -EINVAL : 0;
}

/* The weekday of day number DAY since the epoch (a Thursday): 0 for Sunday. */
static int weekday(int64_t day)
{
	return (int)(((day + 4) % 7 + 7) % 7);
}

/* ---- zones ---- */

#define ZONE_MAX	64	/* a zone's name, e.g. "America/Argentina/ComodRivadavia" */

static bool zone_is_utc(const char *tz)
{
	return !tz || !*tz;
}

int zt_tz_check(const char *tz)
{
	char path[512], magic[4];
	const char *dir = getenv("TZDIR");
	FILE *f;
	size_t n;

	if (!tz || !*tz || strlen(tz) >= ZONE_MAX || *tz == '/' || strstr(tz, ".."))
		return -EINVAL;
	for (const char *c = tz; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("/_+-", *c))
			return -EINVAL;
	/* The database's file for it, as libc will read it (a TZif file, not parsed here). */
	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", tz);
	f = fopen(path, "re");
	if (!f)
		return -ENOENT;
	n = fread(magic, 1, sizeof(magic), f);
	fclose(f);
	return n == sizeof(magic) && !memcmp(magic, "TZif", 4) ? 0 : -ENOENT;
}

/* TZ set to zone TZ for localtime_r (the old value into SAVED, to be put back). */
static void zone_enter(const char *tz, char **saved)
{
	char val[ZONE_MAX + 2];
	const char *old = getenv("TZ");

	*saved = old ? strdup(old) : NULL;
	snprintf(val, sizeof(val), ":%s", tz);
	setenv("TZ", val, 1);
	tzset();
}

static void zone_leave(char *saved)
{
	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	free(saved);
	tzset();
}

/* zt_hours_next's zone is UTC: no TZ entered, offsets all 0. */
static bool here_utc;

/* Seconds east of UTC at T in the zone TZ names (entered). */
static long tz_offset(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	return localtime_r(&tt, &tm) ? tm.tm_gmtoff : 0;
}

/* Seconds east of UTC at T in zt_hours_next's zone. */
static long zone_offset_here(int64_t t)
{
	return here_utc ? 0 : tz_offset(t);
}

/* The offset of zone TZ at T, cached: a compile asks for the same instant per grant. */
static long zone_offset(const char *tz, int64_t t)
{
	static struct { char tz[ZONE_MAX]; int64_t t; long off; } cache[8];
	static unsigned int next;
	char *saved;
	long off;

	if (zone_is_utc(tz))
		return 0;
	for (size_t i = 0; i < sizeof(cache) / sizeof(cache[0]); i++)
		if (cache[i].t == t && !strcmp(cache[i].tz, tz))
			return cache[i].off;
	zone_enter(tz, &saved);
	off = tz_offset(t);
	zone_leave(saved);
	next = (next + 1) % (sizeof(cache) / sizeof(cache[0]));
	snprintf(cache[next].tz, sizeof(cache[next].tz), "%s", tz);
	cache[next].t = t;
	cache[next].off = off;
	return off;
}

/* ---- the window ---- */

/* Is wall-clock time LOCAL (seconds since the epoch as if UTC) inside window S? */
static bool allow_local(const char *s, int64_t local)
{
	int64_t day = (local - (((local % DAY_S) + DAY_S) % DAY_S)) / DAY_S;
	int start, end, t = (int)(((local % DAY_S) + DAY_S) % DAY_S);
	unsigned int days;

	if (zt_hours_parse(s, &start, &end, &days))
		return false;	/* a window that does not parse grants nothing */
	if (start < end)
		return t >= start && t < end && ((days >> weekday(day)) & 1);
	/* Over midnight: the evening is today's window, the morning yesterday's. */
	if (t >= start)
		return (days >> weekday(day)) & 1;
	return t < end && ((days >> weekday(day - 1)) & 1);
}

bool zt_hours_allow(const char *s, const char *tz, int64_t now)
{
	return allow_local(s, now + zone_offset(tz, now));
}

/* The zone entered: window S's answer at T. */
static bool allow_here(const char *s, int64_t t)
{
	return allow_local(s, t + zone_offset_here(t));
}

/* The zone entered: the first instant in (A, B] whose offset differs from A's (B if none). */
static int64_t offset_change(int64_t a, int64_t b)
{
	long off = zone_offset_here(a);

	if (zone_offset_here(b) == off)
		return b;
	while (b - a > 1) {
		int64_t mid = a + (b - a) / 2;

		if (zone_offset_here(mid) == off)
			a = mid;
		else
			b = mid;
	}
	return b;
}

/* Candidate T: the earliest instant after NOW where window S's answer moves, into *BEST. */
static void consider(const char *s, int64_t now, int64_t t, int64_t *best)
{
	if (t > now && (!*best || t < *best) && allow_here(s, t) != allow_here(s, t - 1))
		*best = t;
}

/*
 * The zone entered: over the next 8 days, each day's two wall-clock
 * boundaries under each UTC offset the zone has in that time (both sides
 * of a daylight saving change: a repeated hour has its boundary twice),
 * and the changes of offset themselves (a skipped hour moves the answer
 * when the clocks jump).
 */
static int64_t next_here(const char *s, int64_t now, const int b[2])
{
	long offs[8];
	size_t noffs = 0;
	int64_t best = 0, local = now + zone_offset_here(now);
	int64_t day = local - (((local % DAY_S) + DAY_S) % DAY_S);

	offs[noffs++] = zone_offset_here(now);
	for (int d = 0; d < 9; d++) {	/* day by day: every change of offset in 9 days */
		int64_t a = now + d * DAY_S, t;

		for (t = offset_change(a, a + DAY_S); t < a + DAY_S;
		     t = offset_change(t, a + DAY_S)) {
			consider(s, now, t, &best);
			if (noffs < sizeof(offs) / sizeof(offs[0]))
				offs[noffs++] = zone_offset_here(t);
		}
	}
	for (int d = -1; d <= 8; d++)
		for (int i = 0; i < 2; i++)
			for (size_t o = 0; o < noffs; o++)
				consider(s, now, day + d * DAY_S + b[i] - offs[o], &best);
	return best;
}

int64_t zt_hours_next(const char *s, const char *tz, int64_t now)
{
	unsigned int days;
	char *saved = NULL;
	int64_t next;
	int b[2];

	if (zt_hours_parse(s, &b[0], &b[1], &days))
		return 0;
	here_utc = zone_is_utc(tz);
	if (!here_utc)
		zone_enter(tz, &saved);
	next = next_here(s, now, b);
	if (!here_utc)
		zone_leave(saved);
	return next;
}
