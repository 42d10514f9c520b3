// SPDX-License-Identifier: GPL-2.0-only
/*
 * Denied-flow and scan events: drained from the zt_events ring buffer and
 * turned into JSON; events the ring had no room for (zt_evbudget.ring_lost)
 * are watched and a warning logged when their number grows.
 */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "lib/addr.h"
#include "core/events.h"
#include "lib/log.h"
#include "policy/compile.h"

struct zt_events {
	struct ring_buffer *rb;
	const struct zt_policy *policy;
	zt_event_sink sink;
	void *arg;
	int evbudget_fd;		/* -1: lost events not watched */
	__u64 lost_seen;		/* ring_lost at the last check */
	struct timespec lost_checked;	/* CLOCK_MONOTONIC of the last check */
};

static const char *proto_name(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmpv6";
	default: return NULL;
	}
}

static const char *reason_name(__u8 reason)
{
	switch (reason) {
	case ZT_REASON_PORT: return "port";
	case ZT_REASON_PROTO: return "protocol";
	case ZT_REASON_MALFORMED: return "malformed";
	case ZT_REASON_FRAGMENT: return "fragment";
	case ZT_REASON_DEVICE: return "device";
	case ZT_REASON_NO_RESOURCE: return "no_resource";
	case ZT_REASON_SRCROUTE: return "source_route";
	default: return "unknown";
	}
}

static const char *hook_name(__u8 hook)
{
	switch (hook) {
	case ZT_HOOK_TC_INGRESS: return "tc-ingress";
	case ZT_HOOK_TC_EGRESS: return "tc-egress";
	case ZT_HOOK_XDP: return "xdp";
	default: return "unknown";
	}
}

/* Kernel events carry CLOCK_MONOTONIC (bpf_ktime_get_ns); logs want wall time. */
static unsigned long long mono_to_realtime(unsigned long long mono_ns)
{
	struct timespec rt, mono;
	unsigned long long rt_ns, mono_now;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	rt_ns = (unsigned long long)rt.tv_sec * 1000000000ull + (unsigned long long)rt.tv_nsec;
	mono_now = (unsigned long long)mono.tv_sec * 1000000000ull + (unsigned long long)mono.tv_nsec;
	return mono_ns <= mono_now ? rt_ns - (mono_now - mono_ns) : rt_ns;
}

json_object *zt_event_to_json(const struct zt_event *e, const struct zt_policy *policy)
{
	json_object *o = json_object_new_object();
	const struct zt_resource_def *def = zt_policy_find_id(policy, e->resource_id);
	const char *proto = proto_name(e->l4proto);
	char buf[64], ifname[IF_NAMESIZE];

	zt_format_time(mono_to_realtime(e->ts_ns), buf, sizeof(buf));
	json_object_object_add(o, "ts", json_object_new_string(buf));
	json_object_object_add(o, "event",
			       json_object_new_string(e->type == ZT_EV_SCAN ? "scan" : "deny"));
	json_object_object_add(o, "resource", def ? json_object_new_string(def->name) : NULL);
	json_object_object_add(o, "resource_id", json_object_new_int64(e->resource_id));
	if (proto)
		json_object_object_add(o, "proto", json_object_new_string(proto));
	else
		json_object_object_add(o, "proto", json_object_new_int(e->l4proto));
	zt_addr_format(e->src, buf, sizeof(buf));
	json_object_object_add(o, "src", json_object_new_string(buf));
	zt_addr_format(e->dst, buf, sizeof(buf));
	json_object_object_add(o, "dst", json_object_new_string(buf));

	if (e->type == ZT_EV_SCAN) {
		json_object_object_add(o, "distinct_ports", json_object_new_int64(e->distinct_ports));
		json_object_object_add(o, "window_ms", json_object_new_int64(e->window_ms));
	} else {
		if (e->l4proto == IPPROTO_ICMP || e->l4proto == IPPROTO_ICMPV6) {
			json_object_object_add(o, "icmp_type", json_object_new_int(e->dport >> 8));
			json_object_object_add(o, "icmp_code", json_object_new_int(e->dport & 0xff));
		} else if (e->l4proto == IPPROTO_TCP || e->l4proto == IPPROTO_UDP) {
			json_object_object_add(o, "sport", json_object_new_int(e->sport));
			json_object_object_add(o, "dport", json_object_new_int(e->dport));
		}
		json_object_object_add(o, "reason", json_object_new_string(reason_name(e->reason)));
		json_object_object_add(o, "action", json_object_new_string(
				       e->action == ZT_ACT_REJECT ? "reject" : "drop"));
	}
	json_object_object_add(o, "hook", json_object_new_string(hook_name(e->hook)));
	if (e->ifindex && if_indextoname(e->ifindex, ifname))
		json_object_object_add(o, "iface", json_object_new_string(ifname));
	return o;
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct zt_events *ev = ctx;
	json_object *o;

	if (size < sizeof(struct zt_event))
		return 0;
	o = zt_event_to_json(data, ev->policy);
	ev->sink(data, o, ev->arg);
	json_object_put(o);
	return 0;
}

int zt_events_open(int ringbuf_fd, const struct zt_policy *policy, zt_event_sink sink,
		   void *arg, struct zt_events **out)
{
	struct zt_events *ev = calloc(1, sizeof(*ev));

	if (!ev)
		return -ENOMEM;
	ev->policy = policy;
	ev->sink = sink;
	ev->arg = arg;
	ev->evbudget_fd = -1;
	ev->rb = ring_buffer__new(ringbuf_fd, handle_event, ev, NULL);
	if (!ev->rb) {
		int ret = -errno;

		free(ev);
		return ret ? ret : -EINVAL;
	}
	*out = ev;
	return 0;
}

int zt_events_fd(const struct zt_events *ev)
{
	return ring_buffer__epoll_fd(ev->rb);
}

void zt_events_watch_lost(struct zt_events *ev, int evbudget_fd)
{
	struct zt_evbudget b;

	ev->evbudget_fd = evbudget_fd;
	if (evbudget_fd >= 0 && !zt_evbudget_read(evbudget_fd, &b))
		ev->lost_seen = b.ring_lost;
	clock_gettime(CLOCK_MONOTONIC, &ev->lost_checked);
}

/* At most once a second: a warning if events were lost since the last look. */
static void check_lost(struct zt_events *ev)
{
	struct zt_evbudget b;
	struct timespec now;

	if (ev->evbudget_fd < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - ev->lost_checked.tv_sec < 1)
		return;
	ev->lost_checked = now;
	if (zt_evbudget_read(ev->evbudget_fd, &b) || b.ring_lost <= ev->lost_seen)
		return;
	zt_log("warn", "events: %llu lost because the ring buffer was full (%llu since start); "
	       "the daemon is not draining it fast enough",
	       (unsigned long long)(b.ring_lost - ev->lost_seen), (unsigned long long)b.ring_lost);
	ev->lost_seen = b.ring_lost;
}

int zt_events_poll(struct zt_events *ev)
{
	int ret = ring_buffer__consume(ev->rb);

	check_lost(ev);
	return ret;
}

void zt_events_close(struct zt_events *ev)
{
	if (!ev)
		return;
	ring_buffer__free(ev->rb);
	free(ev);
}
