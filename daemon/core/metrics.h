/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Prometheus metrics and the health check over HTTP (--metrics ADDR:PORT):
 * GET /metrics, GET /healthz. Served in the daemon's loop (metrics.c).
 */
#ifndef ZT_CORE_METRICS_H
#define ZT_CORE_METRICS_H

#include <stddef.h>

#include "core/daemon.h"

struct zt_metrics;

/* Listen on LISTEN (ADDR:PORT) in D's loop. 0 or -errno with ERR set (*OUT to close). */
int zt_metrics_open(struct zt_daemon *d, const char *listen, struct zt_metrics **out, char *err,
		    size_t errlen);
void zt_metrics_close(struct zt_metrics *m);

#endif
