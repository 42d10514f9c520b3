/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Denied-flow and scan events: drained from the zt_events ring buffer,
 * turned into JSON objects (one per line on stdout, and to every
 * `ztgate events` subscriber).
 */
#ifndef ZT_EVENTS_H
#define ZT_EVENTS_H

#include <json-c/json.h>
#include <linux/types.h>

#include "policy/policy.h"
#include "ztgate/maps.h"

struct zt_event;

/* Called with each event, raw and as JSON; the callee does not take ownership. */
typedef void (*zt_event_sink)(const struct zt_event *raw, json_object *ev, void *arg);

struct zt_events;

/*
 * POLICY is read at each event to name the resource; it must outlive the
 * consumer (the daemon swaps its contents, not the pointer).
 */
int zt_events_open(int ringbuf_fd, const struct zt_policy *policy, zt_event_sink sink,
		   void *arg, struct zt_events **out);
int zt_events_fd(const struct zt_events *ev);
/*
 * Watch zt_evbudget (EVBUDGET_FD, the pinned map) for events lost to a full
 * ring: zt_events_poll() then logs a warning, at most once a second, when
 * their count has grown.
 */
void zt_events_watch_lost(struct zt_events *ev, int evbudget_fd);
/* Drain what is ready. Returns events handled or -errno. */
int zt_events_poll(struct zt_events *ev);
void zt_events_close(struct zt_events *ev);

/* The JSON form of one raw event (exposed for tests). */
json_object *zt_event_to_json(const struct zt_event *e, const struct zt_policy *policy);

#endif
