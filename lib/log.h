/* SPDX-License-Identifier: GPL-2.0-only */
/* Daemon output: one JSON object per line on stdout (journald, kubectl logs, SIEM). */
#ifndef ZT_LOG_H
#define ZT_LOG_H

#include <stddef.h>

#include <json-c/json.h>

/* Add "ts" (RFC 3339 UTC, ms) first unless O has one, print O as one line, flush. Takes O. */
void zt_emit(json_object *o);

/*
 * {"ts":..., "event":"log", "level":LEVEL, "msg":...}; LEVEL is error,
 * warning, info or debug, and lines below the threshold are not printed.
 */
void zt_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The threshold: "error", "warning", "info" (the default) or "debug". 0 or -EINVAL. */
int zt_log_set_level(const char *name);
const char *zt_log_level(void);

/* RFC 3339 UTC timestamp of a CLOCK_REALTIME time in ns. */
void zt_format_time(unsigned long long realtime_ns, char *buf, size_t len);

/*
 * Format one error line into ERR (when there is room) and return RET, so
 * that a failing path reads `return zt_errf(err, errlen, -EINVAL, ...)`.
 */
int zt_errf(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
