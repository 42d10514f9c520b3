// SPDX-License-Identifier: GPL-2.0-only
/*
 * Allowed hours of a security policy ("hours": "[DAYS ]HH:MM-HH:MM", UTC):
 * the parse that kinds.c validates with, whether an instant falls inside
 * the window, and the next boundary after an instant. session.c uses them
 * to withhold an access rule's grants outside the window and to arm the
 * controller's timer on the next boundary.
 *
 * UTC, not the controller's local time: controllers sharing one database
 * (HA) may run in different zones, and a grant must not depend on which of
 * them computed the view. The window is [start, end); start > end spans
 * midnight ("22:00-06:00"); start == end is refused (neither "always" nor
 * "never" is what anyone means by it). DAYS ("Mon-Fri", "Sat,Sun",
 * "Mon,Wed-Fri"; absent: every day) are the days a window starts on: with
 * "Fri 22:00-06:00" Saturday 05:00 is inside.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

bool zt_hours_allow(const char *s, int64_t now)
{
	int64_t day = (now - (((now % DAY_S) + DAY_S) % DAY_S)) / DAY_S;
	int start, end, t = (int)(((now % DAY_S) + DAY_S) % DAY_S);
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

int64_t zt_hours_next(const char *s, int64_t now)
{
	int64_t day = now - (((now % DAY_S) + DAY_S) % DAY_S);
	unsigned int days;
	int b[2];

	if (zt_hours_parse(s, &b[0], &b[1], &days))
		return 0;
	if (b[0] > b[1]) {	/* in order within a day */
		int x = b[0];

		b[0] = b[1];
		b[1] = x;
	}
	/* Each day's two boundaries over the next 8 days: the first where the answer moves. */
	for (int d = 0; d <= 8; d++)
		for (int i = 0; i < 2; i++) {
			int64_t t = day + d * DAY_S + b[i];

			if (t > now && zt_hours_allow(s, t) != zt_hours_allow(s, t - 1))
				return t;
		}
	return 0;
}
