// SPDX-License-Identifier: GPL-2.0-only
/*
 * --metrics ADDR:PORT: Prometheus text exposition on /metrics and the health
 * check on /healthz, served by libmicrohttpd inside the daemon's own event
 * loop (its epoll fd is one of ours; no thread, so reading the daemon's
 * state needs no lock).
 *
 * /metrics renders what `ztgate --json stats` shows (zt_daemon_stats), so a
 * counter added to stats is a metric without more code: per-resource
 * counters as ztgate_resource_*_total{resource}, every other number as
 * ztgate_<path>[_total] (a counter unless it is known to be a gauge), rows of
 * arrays (relays, the relay's peers) labelled by their name; the tunnel's
 * peers as ztgate_peer_*{peer} with their path as a state set; durations in
 * ms become seconds. lifecycle.c opens and closes it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/health.h"
#include "core/metrics.h"
#include "core/role.h"
#include "lib/addr.h"
#include "lib/version.h"

struct zt_metrics {
	struct zt_daemon *d;
	struct MHD_Daemon *mhd;
	int epoll_fd;		/* libmicrohttpd's, registered in our loop */
	int timer_fd;		/* idle connections time out even when nothing happens */
	char addr[64];
};

/* A growing text buffer; on allocation failure it stays short and says so. */
struct text {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		if (t->failed)
			return;
		va_start(ap, fmt);
		n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if (t->buf && t->len + (size_t)n < t->cap) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 16384;
		while (cap < t->len + (size_t)n + 1)
			cap *= 2;
		char *nb = realloc(t->buf, cap);
		if (!nb) {
			t->failed = true;
			return;
		}
		t->buf = nb;
		t->cap = cap;
	}
}

/*
 * The exposition format wants each family's samples together under one
 * TYPE line: samples are collected per family, in first-seen order.
 */
struct family {
	char name[160];
	char help[200];
	bool gauge;
	struct text samples;
};

struct families {
	struct family *v;
	size_t n, cap;
	bool failed;
};

static struct text *family(struct families *fs, const char *name, bool gauge, const char *help)
{
	for (size_t i = 0; i < fs->n; i++)
		if (!strcmp(fs->v[i].name, name))
			return &fs->v[i].samples;
	if (fs->n == fs->cap) {
		size_t cap = fs->cap ? fs->cap * 2 : 64;
		struct family *nv = realloc(fs->v, cap * sizeof(*nv));

		if (!nv) {
			fs->failed = true;
			return NULL;
		}
		fs->v = nv;
		fs->cap = cap;
	}
	fs->v[fs->n] = (struct family){ .gauge = gauge };
	snprintf(fs->v[fs->n].name, sizeof(fs->v[fs->n].name), "%s", name);
	snprintf(fs->v[fs->n].help, sizeof(fs->v[fs->n].help), "%s", help);
	return &fs->v[fs->n++].samples;
}

/* Every family: its TYPE line, then its samples; the families freed. */
static void put_families(struct text *t, struct families *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		struct family *f = &fs->v[i];

		put(t, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
		    f->gauge ? "gauge" : "counter");
		if (f->samples.failed)
			t->failed = true;
		else if (f->samples.len)
			put(t, "%s", f->samples.buf);
		free(f->samples.buf);
	}
	if (fs->failed)
		t->failed = true;
	free(fs->v);
}

/* Numbers that go up and down: everything else is a counter (_total). */
static bool is_gauge(const char *name)
{
	static const char *const gauges[] = {
		"registered_peers", "tcp_connections", "entries", "routes", "fake_ips", "accepts",
		"index", "expires_in_s", "capacity", "size", "pending", "peers", "sessions",
		"active", "in_use", "open_flows", "flows", "generation", "resources", "devices",
		"connected", "rev_applied", "session_up", "queued",
	};

	for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++)
		if (!strcmp(name, gauges[i]))
			return true;
	return false;
}

/* Label values escaped as the exposition format wants (\\, \", \n). */
static void put_label(struct text *t, const char *key, const char *value)
{
	put(t, "%s=\"", key);
	for (const char *p = value; *p; p++) {
		if (*p == '\\' || *p == '"')
			put(t, "\\%c", *p);
		else if (*p == '\n')
			put(t, "\\n");
		else
			put(t, "%c", *p);
	}
	put(t, "\"");
}

/*
 * One sample: ztgate_PREFIX_NAME with LABELS ("" or `k="v"`), value V. Names
 * ending in _ms are gauges in seconds; counters get _total.
 */
static void put_sample(struct families *fs, const char *prefix, const char *name,
		       const char *labels, double v)
{
	struct text *t;
	size_t nlen = strlen(name);
	bool ms = nlen > 3 && !strcmp(name + nlen - 3, "_ms");
	bool gauge = ms || is_gauge(name);
	char metric[160], help[200];

	if (ms)
		snprintf(metric, sizeof(metric), "ztgate_%s%.*s_seconds", prefix, (int)(nlen - 3), name);
	else
		snprintf(metric, sizeof(metric), "ztgate_%s%s%s", prefix, name, gauge ? "" : "_total");
	for (char *p = metric; *p; p++)
		if (*p == '.' || *p == '-')
			*p = '_';
	snprintf(help, sizeof(help), "`ztgate --json stats` field %s%s%s", prefix, name,
		 ms ? " (in seconds)" : "");
	t = family(fs, metric, gauge, help);
	if (t)
		put(t, "%s%s%s%s %.17g\n", metric, *labels ? "{" : "", labels, *labels ? "}" : "",
		    ms ? v / 1000.0 : v);
}

static bool is_number(json_object *v)
{
	return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

/* The label that names a row of an array: its name, key, relay or interface. */
static const char *row_name(json_object *row, const char **label)
{
	static const char *const keys[] = { "name", "key", "relay", "iface" };
	json_object *v;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_object_get_ex(row, keys[i], &v) &&
		    json_object_is_type(v, json_type_string)) {
			*label = keys[i];
			return json_object_get_string(v);
		}
	return NULL;
}

static void put_object(struct families *fs, const char *prefix, json_object *o,
		       const char *labels);

/* Rows of an array of objects: one label each; their strings become _info samples. */
static void put_rows(struct families *fs, const char *prefix, json_object *arr)
{
	size_t n = json_object_array_length(arr);

	for (size_t i = 0; i < n; i++) {
		json_object *row = json_object_array_get_idx(arr, i);
		const char *label = NULL, *name;
		struct text l = { 0 };

		if (!json_object_is_type(row, json_type_object))
			continue;
		name = row_name(row, &label);
		if (!name)
			continue;
		put_label(&l, strcmp(label, "name") ? label : "name", name);
		if (l.failed) {
			free(l.buf);
			continue;
		}
		put_object(fs, prefix, row, l.buf);
		json_object_object_foreach(row, key, v) {
			if (!json_object_is_type(v, json_type_string) || !strcmp(key, label))
				continue;
			if (strcmp(key, "path") && strcmp(key, "transport"))
				continue;	/* states worth a label; endpoints and keys are not */
			struct text l2 = { 0 }, *t;
			char metric[160];

			put(&l2, "%s,", l.buf);
			put_label(&l2, key, json_object_get_string(v));
			snprintf(metric, sizeof(metric), "ztgate_%s%s_info", prefix, key);
			t = l2.failed ? NULL : family(fs, metric, true, "the row's state, as a label");
			if (t)
				put(t, "%s{%s} 1\n", metric, l2.buf);
			free(l2.buf);
		}
		free(l.buf);
	}
}

static void put_object(struct families *fs, const char *prefix, json_object *o,
		       const char *labels)
{
	json_object_object_foreach(o, key, v) {
		char sub[128];

		if (is_number(v)) {
			put_sample(fs, prefix, key, labels, json_object_get_double(v));
		} else if (json_object_is_type(v, json_type_boolean)) {
			put_sample(fs, prefix, key, labels, json_object_get_boolean(v));
		} else if (json_object_is_type(v, json_type_object)) {
			snprintf(sub, sizeof(sub), "%s%s_", prefix, key);
			put_object(fs, sub, v, labels);
		} else if (json_object_is_type(v, json_type_array) && !*labels) {
			snprintf(sub, sizeof(sub), "%s%s_", prefix, key);
			put_rows(fs, sub, v);
		}
	}
}

/* Per-resource counters, labelled by resource (ids and rules are not metrics). */
static void put_resources(struct text *t, json_object *arr)
{
	static const char *const fields[] = { "allowed_packets", "allowed_bytes", "denied_packets",
					      "denied_bytes" };
	size_t n = json_object_array_length(arr);

	for (size_t f = 0; f < 4; f++) {
		put(t, "# HELP ztgate_resource_%s_total %s packets or bytes of a resource, summed "
		    "over CPUs\n# TYPE ztgate_resource_%s_total counter\n", fields[f],
		    f < 2 ? "allowed" : "denied", fields[f]);
		for (size_t i = 0; i < n; i++) {
			json_object *r = json_object_array_get_idx(arr, i), *name, *v;
			struct text l = { 0 };

			if (!json_object_object_get_ex(r, "name", &name) ||
			    !json_object_object_get_ex(r, fields[f], &v))
				continue;
			put_label(&l, "resource", json_object_get_string(name));
			if (!l.failed)
				put(t, "ztgate_resource_%s_total{%s} %" PRId64 "\n", fields[f], l.buf,
				    json_object_get_int64(v));
			free(l.buf);
		}
	}
}

/* Is ARR the tunnel's peers (client, connector: rows with "name" and "path"), not the relay's? */
static bool tunnel_peers(json_object *arr)
{
	json_object *row = json_object_array_get_idx(arr, 0), *v;

	return json_object_is_type(arr, json_type_array) && row &&
	       json_object_object_get_ex(row, "name", &v) && json_object_is_type(v, json_type_string) &&
	       json_object_object_get_ex(row, "path", &v) && json_object_is_type(v, json_type_string);
}

/*
 * The tunnel's peers (client: connectors; connector: devices), labelled
 * peer="NAME": every number of the row as ztgate_peer_* (bytes and packets
 * each way, handshakes, rtt_seconds, upgrades, fallbacks...), and the path
 * as a state set, ztgate_peer_path{peer, path} 1 for the one taken and 0
 * for the others, so `sum by (path)` counts peers per path with no gaps.
 */
static void put_peers(struct families *fs, json_object *arr)
{
	static const char *const kinds[] = { "direct", "relayed-udp", "relayed-tcp", "none" };
	size_t n = json_object_array_length(arr);

	for (size_t i = 0; i < n; i++) {
		json_object *row = json_object_array_get_idx(arr, i), *name, *path;
		struct text l = { 0 }, *t;

		if (!json_object_object_get_ex(row, "name", &name) ||
		    !json_object_object_get_ex(row, "path", &path))
			continue;
		put_label(&l, "peer", json_object_get_string(name));
		if (!l.failed) {
			put_object(fs, "peer_", row, l.buf);
			t = family(fs, "ztgate_peer_path", true,
				   "1 for the path the peer takes now (direct, relayed-udp, relayed-tcp, "
				   "none), 0 for the others");
			for (size_t k = 0; t && k < sizeof(kinds) / sizeof(kinds[0]); k++)
				put(t, "ztgate_peer_path{%s,path=\"%s\"} %d\n", l.buf, kinds[k],
				    !strcmp(kinds[k], json_object_get_string(path)));
		}
		free(l.buf);
	}
}

static void render_metrics(struct zt_metrics *m, struct text *t)
{
	json_object *stats = zt_daemon_stats(m->d), *v;
	struct families fs = { 0 };

	put(t, "# HELP ztgate_build_info the build and the role that answers\n"
	    "# TYPE ztgate_build_info gauge\nztgate_build_info{");
	put_label(t, "version", zt_version());
	put(t, ",");
	put_label(t, "role", m->d->ops->name);
	put(t, "} 1\n");
	if ((m->d->ops->needs & ZT_ROLE_POLICY) && json_object_object_get_ex(stats, "resources", &v))
		put_resources(t, v);
	json_object_object_del(stats, "resources");
	json_object_object_del(stats, "total");	/* a sum of the above: PromQL's job */
	json_object_object_del(stats, "ok");
	json_object_object_del(stats, "version");
	if (json_object_object_get_ex(stats, "peers", &v) && tunnel_peers(v)) {
		put_peers(&fs, v);
		json_object_object_del(stats, "peers");
	}
	put_object(&fs, "", stats, "");
	put_families(t, &fs);
	json_object_put(stats);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *type,
			     const char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body,
								MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct zt_metrics *m = cls;
	struct text t = { 0 };
	enum MHD_Result ret;

	(void)version;
	(void)upload;
	(void)con_cls;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "GET only\n", 9);
	if (*upload_size)
		return MHD_NO;
	if (!strcmp(url, "/metrics")) {
		render_metrics(m, &t);
		ret = t.failed ? reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "out of memory\n", 14)
			       : reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
				       t.buf ? t.buf : "", t.len);
	} else if (!strcmp(url, "/healthz")) {
		json_object *h = zt_health_json(m->d);
		const char *body = json_object_to_json_string_ext(h, JSON_C_TO_STRING_PLAIN);
		json_object *ok;

		json_object_object_get_ex(h, "ok", &ok);
		ret = reply(c, json_object_get_boolean(ok) ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
			    "application/json", body, strlen(body));
		json_object_put(h);
	} else {
		ret = reply(c, MHD_HTTP_NOT_FOUND, "text/plain", "/metrics or /healthz\n", 21);
	}
	free(t.buf);
	return ret;
}

static void on_ready(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct zt_metrics *m = arg;
	uint64_t ticks;

	(void)loop;
	(void)events;
	if (fd == m->timer_fd && read(fd, &ticks, sizeof(ticks)) < 0)
		return;
	MHD_run(m->mhd);
}

int zt_metrics_open(struct zt_daemon *d, const char *listen, struct zt_metrics **out, char *err,
		    size_t errlen)
{
	const struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	const union MHD_DaemonInfo *info;
	struct sockaddr_storage ss;
	struct zt_endpoint ep;
	struct zt_metrics *m;
	char why[128];
	int ret;

	if (zt_endpoint_parse(listen, &ep, why, sizeof(why))) {
		snprintf(err, errlen, "invalid --metrics '%s': %s", listen, why);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*out = m;
	m->d = d;
	m->epoll_fd = m->timer_fd = -1;
	snprintf(m->addr, sizeof(m->addr), "%s", listen);
	zt_endpoint_to_sockaddr(&ep, &ss);
	/* Bounded: a scraper and a probe or two, each with a deadline. */
	m->mhd = MHD_start_daemon(MHD_USE_EPOLL | (ep.family == AF_INET6 ? MHD_USE_IPv6 : 0),
				  ep.port, NULL, NULL, on_request, m,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				  MHD_OPTION_CONNECTION_LIMIT, 16u,
				  MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (!m->mhd) {
		snprintf(err, errlen, "--metrics %s: cannot listen (address in use or not local?)",
			 listen);
		return -EADDRNOTAVAIL;
	}
	info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	m->epoll_fd = info ? info->epoll_fd : -1;
	m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m->epoll_fd < 0 || m->timer_fd < 0 || timerfd_settime(m->timer_fd, 0, &its, NULL)) {
		snprintf(err, errlen, "--metrics %s: %s", listen, strerror(errno));
		return -EIO;
	}
	ret = zt_loop_add(d->loop, m->epoll_fd, EPOLLIN, on_ready, m);
	if (!ret)
		ret = zt_loop_add(d->loop, m->timer_fd, EPOLLIN, on_ready, m);
	if (ret)
		snprintf(err, errlen, "--metrics: event loop: %s", strerror(-ret));
	return ret;
}

void zt_metrics_close(struct zt_metrics *m)
{
	if (!m)
		return;
	if (m->timer_fd >= 0) {
		zt_loop_del(m->d->loop, m->timer_fd);
		close(m->timer_fd);
	}
	if (m->epoll_fd >= 0)
		zt_loop_del(m->d->loop, m->epoll_fd);
	if (m->mhd)
		MHD_stop_daemon(m->mhd);
	free(m);
}
