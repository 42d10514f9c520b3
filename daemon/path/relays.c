// SPDX-License-Identifier: GPL-2.0-only
/* --relay and --relay-tcp of a tunnel peer (path/relays.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/mem.h>

#include "lib/log.h"
#include "path/relays.h"
#include "tunnel/status.h"

struct relay_entry {
	struct zt_path_relays *rs;
	struct zt_relay_client *rc;
	int index;		/* in paths */
	bool tcp;
	char name[128];
};

struct zt_path_relays {
	struct zt_tunnel *t;
	struct zt_paths *ps;
	struct relay_entry e[ZT_PATHS_RELAYS_MAX];
	size_t n;
};

/* ---- the relay clients' side ---- */

static int udp_send(void *ctx, const uint8_t *datagram, size_t len,
		    const struct sockaddr_storage *dst)
{
	struct zt_path_relays *rs = ctx;

	return zt_tunnel_sendto_raw(rs->t, datagram, len, dst);
}

static void on_recv(void *ctx, struct zt_relay_client *rc, const uint8_t src[ZT_RELAY_KEY_LEN],
		    uint8_t *datagram, size_t len)
{
	struct relay_entry *e = ctx;

	(void)rc;
	zt_paths_relayed_input(e->rs->ps, e->index, src, datagram, len);
}

static void on_registered(void *ctx, struct zt_relay_client *rc,
			  const struct sockaddr_storage *observed)
{
	struct relay_entry *e = ctx;
	char ep[64];

	(void)rc;
	/* Over TCP the relay sees our TCP connection's mapping: no use to a UDP peer. */
	if (!e->tcp)
		zt_paths_set_observed(e->rs->ps, e->index, observed);
	zt_sockaddr_format(observed, ep, sizeof(ep));
	zt_log("info", "relay %s: registered, we are %s", e->name, ep);
	zt_paths_relay_up(e->rs->ps);
}

static void on_lost(void *ctx, struct zt_relay_client *rc)
{
	struct relay_entry *e = ctx;

	(void)rc;
	zt_paths_set_observed(e->rs->ps, e->index, NULL);
	zt_log("warning", "relay %s: lost", e->name);
}

/* ---- paths' side ---- */

static int p_send(void *rc, const uint8_t key[ZT_NOISE_KEY_LEN], const uint8_t *datagram,
		  size_t len)
{
	struct relay_entry *e = rc;

	return zt_relay_client_send(e->rc, key, datagram, len);
}

static bool p_owns(void *rc, const struct sockaddr *src, socklen_t srclen)
{
	struct relay_entry *e = rc;

	return zt_relay_client_owns(e->rc, src, srclen);
}

static void p_input(void *rc, uint8_t *datagram, size_t len)
{
	struct relay_entry *e = rc;

	zt_relay_client_input(e->rc, datagram, len);
}

static int open_one(struct zt_loop *loop, struct zt_path_relays *rs,
		    const struct zt_relay_client_cfg *base, const struct zt_path_relay_spec *spec,
		    char *err, size_t errlen)
{
	static const struct zt_relay_client_ops ops = {
		.recv = on_recv, .registered = on_registered, .lost = on_lost,
	};
	struct relay_entry *e = &rs->e[rs->n];
	struct zt_relay_client_cfg cfg = *base;
	struct zt_paths_relay pr = { .send = p_send, .rc = e };
	int ret;

	if (rs->n == ZT_PATHS_RELAYS_MAX) {
		snprintf(err, errlen, "at most %d relays", ZT_PATHS_RELAYS_MAX);
		return -E2BIG;
	}
	e->rs = rs;
	e->tcp = spec->tcp;
	snprintf(e->name, sizeof(e->name), "%s", spec->relay);
	cfg.relay = spec->relay;
	cfg.tcp = spec->tcp;
	ret = zt_relay_client_open(loop, &cfg, &ops, e, &e->rc, err, errlen);
	OPENSSL_cleanse(cfg.private_key, sizeof(cfg.private_key));
	if (ret)
		return ret;
	pr.name = e->name;
	pr.tcp = spec->tcp;
	if (!spec->tcp) {
		pr.owns = p_owns;
		pr.input = p_input;
	}
	e->index = zt_paths_add_relay(rs->ps, &pr);
	if (e->index < 0) {
		zt_relay_client_close(e->rc);
		e->rc = NULL;
		snprintf(err, errlen, "relay %s: %s", spec->relay, strerror(-e->index));
		return e->index;
	}
	rs->n++;
	return 0;
}

int zt_path_relays_open(struct zt_loop *loop, struct zt_tunnel *t, struct zt_paths *ps,
			const uint8_t private_key[ZT_RELAY_KEY_LEN],
			const struct zt_path_relay_spec *specs, size_t n,
			struct zt_path_relays **out, char *err, size_t errlen)
{
	struct zt_relay_client_cfg base = { .udp_send = udp_send };
	struct zt_path_relays *rs = calloc(1, sizeof(*rs));
	int ret = 0;

	if (!rs) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rs->t = t;
	rs->ps = ps;
	base.udp_send_ctx = rs;
	memcpy(base.private_key, private_key, sizeof(base.private_key));
	/* UDP first: paths tries relays in order, and UDP is the cheaper way. */
	for (int pass = 0; pass < 2 && !ret; pass++)
		for (size_t i = 0; i < n && !ret; i++)
			if (specs[i].tcp == (pass == 1))
				ret = open_one(loop, rs, &base, &specs[i], err, errlen);
	OPENSSL_cleanse(base.private_key, sizeof(base.private_key));
	if (ret) {
		zt_path_relays_close(rs);
		return ret;
	}
	*out = rs;
	return 0;
}

void zt_path_relays_close(struct zt_path_relays *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++)
		zt_relay_client_close(rs->e[i].rc);
	free(rs);
}

int zt_path_relays_set_accept(struct zt_path_relays *rs, const uint8_t (*keys)[ZT_RELAY_KEY_LEN],
			      size_t n)
{
	int ret = 0;

	for (size_t i = 0; rs && i < rs->n; i++) {
		int r = zt_relay_client_set_accept(rs->e[i].rc, keys, n);

		if (r && !ret)
			ret = r;
	}
	return ret;
}

size_t zt_path_relays_count(const struct zt_path_relays *rs)
{
	return rs ? rs->n : 0;
}

json_object *zt_path_relays_json(const struct zt_path_relays *rs)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; rs && i < rs->n; i++) {
		struct zt_relay_client_stats st;
		json_object *o = json_object_new_object();
		char ep[64];

		zt_relay_client_stats(rs->e[i].rc, &st);
		json_object_object_add(o, "relay", json_object_new_string(rs->e[i].name));
		json_object_object_add(o, "transport",
				       json_object_new_string(rs->e[i].tcp ? "tcp" : "udp"));
		json_object_object_add(o, "registered", json_object_new_boolean(st.registered));
		zt_sockaddr_format(&st.observed, ep, sizeof(ep));
		json_object_object_add(o, "observed", json_object_new_string(ep));
		json_object_object_add(o, "rtt_ms", json_object_new_double((double)st.rtt_us / 1000.0));
		json_object_object_add(o, "tx_packets", json_object_new_int64((int64_t)st.tx_packets));
		json_object_object_add(o, "tx_bytes", json_object_new_int64((int64_t)st.tx_bytes));
		json_object_object_add(o, "rx_packets", json_object_new_int64((int64_t)st.rx_packets));
		json_object_object_add(o, "rx_bytes", json_object_new_int64((int64_t)st.rx_bytes));
		json_object_object_add(o, "rx_not_accepted",
				       json_object_new_int64((int64_t)st.rx_not_accepted));
		json_object_object_add(o, "rx_spoofed", json_object_new_int64((int64_t)st.rx_spoofed));
		json_object_array_add(arr, o);
	}
	return arr;
}
