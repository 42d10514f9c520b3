// SPDX-License-Identifier: GPL-2.0-only
/*
 * Allowed hours of a security policy ("hours": "HH:MM-HH:MM", UTC): the
 * parse that kinds.c validates with, whether an instant falls inside the
 * window, and the next boundary after an instant. session.c uses them to
 * withhold an access rule's grants outside the window and to arm the
 * controller's timer on the next boundary.
 *
 * UTC, not the controller's local time: controllers sharing one database
 * (HA) may run in different zones, and a grant must not depend on which of
 * them computed the view. The window is [start, end); start > end spans
 * midnight ("22:00-06:00"); start == end is refused (neither "always" nor
 * "never" is what anyone means by it).
 */
#include <errno.h>
#include <stdio.h>

#include "controller/internal.h"

#define DAY_S	86400

int zt_hours_parse(const char *s, int *start, int *end)
{
	unsigned int h1, m1, h2, m2;
	int n = 0;

	if (!s || sscanf(s, "%2u:%2u-%2u:%2u%n", &h1, &m1, &h2, &m2, &n) != 4 || s[n] ||
	    h1 > 23 || h2 > 23 || m1 > 59 || m2 > 59)
		return -EINVAL;
	*start = (int)(h1 * 3600 + m1 * 60);
	*end = (int)(h2 * 3600 + m2 * 60);
	return *start == *end ? -EINVAL : 0;
}

bool zt_hours_allow(const char *s, int64_t now)
{
	int start, end, t;

	if (zt_hours_parse(s, &start, &end))
		return false;	/* a window that does not parse grants nothing */
	t = (int)(((now % DAY_S) + DAY_S) % DAY_S);
	return start < end ? t >= start && t < end : t >= start || t < end;
}

int64_t zt_hours_next(const char *s, int64_t now)
{
	int64_t day = now - (((now % DAY_S) + DAY_S) % DAY_S), best = 0;
	int b[2];

	if (zt_hours_parse(s, &b[0], &b[1]))
		return 0;
	/* Each boundary today and tomorrow: the earliest one after NOW. */
	for (int d = 0; d < 2; d++)
		for (int i = 0; i < 2; i++) {
			int64_t t = day + d * DAY_S + b[i];

			if (t > now && (!best || t < best))
				best = t;
		}
	return best;
}
