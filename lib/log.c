// SPDX-License-Identifier: GPL-2.0-only
/* Daemon output (log.h): timestamped JSON lines on stdout, for every module. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/log.h"

void zt_format_time(unsigned long long realtime_ns, char *buf, size_t len)
{
	time_t secs = (time_t)(realtime_ns / 1000000000ull);
	unsigned int ms = (unsigned int)(realtime_ns / 1000000ull % 1000);
	struct tm tm;
	char base[32];

	gmtime_r(&secs, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", base, ms);
}

void zt_emit(json_object *o)
{
	json_object *line = json_object_new_object();
	json_object *have_ts;
	char buf[48];

	/* "ts" first: it is what a reader scans for. */
	if (json_object_object_get_ex(o, "ts", &have_ts)) {
		json_object_object_add(line, "ts", json_object_get(have_ts));
	} else {
		zt_format_time(zt_real_ns(), buf, sizeof(buf));
		json_object_object_add(line, "ts", json_object_new_string(buf));
	}
	json_object_object_foreach(o, key, val)
		if (strcmp(key, "ts"))
			json_object_object_add(line, key, json_object_get(val));
	fputs(json_object_to_json_string_ext(line, JSON_C_TO_STRING_PLAIN |
						   JSON_C_TO_STRING_NOSLASHESCAPE), stdout);
	fputc('\n', stdout);
	fflush(stdout);
	json_object_put(line);
	json_object_put(o);
}

/* Most severe first: a line is printed when its level ranks at or above the threshold. */
static const char *const levels[] = { "error", "warning", "info", "debug" };
static int threshold = 2;	/* info */

static int level_rank(const char *name)
{
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcmp(name, levels[i]))
			return (int)i;
	return -1;
}

int zt_log_set_level(const char *name)
{
	int rank = level_rank(name);

	if (rank < 0)
		return -EINVAL;
	threshold = rank;
	return 0;
}

const char *zt_log_level(void)
{
	return levels[threshold];
}

void zt_log(const char *level, const char *fmt, ...)
{
	json_object *o;
	char msg[1024];
	va_list ap;

	if (level_rank(level) > threshold)
		return;
	o = json_object_new_object();
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "event", json_object_new_string("log"));
	json_object_object_add(o, "level", json_object_new_string(level));
	json_object_object_add(o, "msg", json_object_new_string(msg));
	zt_emit(o);
}

int zt_errf(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}
