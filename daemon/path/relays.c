// SPDX-License-Identifier: GPL-2.0-only
/*
 * --relay, --relay-tcp and a controller's relays of a tunnel peer
 * (path/relays.h): opened, updated at run time and closed by the packet
 * paths (forward/client.c, forward/connector.c).
 */
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

/*
 * Entries are allocated one by one: each is its relay client's context and
 * its paths' relay, so it must not move when another goes. e[i]->index == i
 * (paths' index), kept so when one is removed.
 */
struct zt_path_relays {
	struct zt_loop *loop;
	struct zt_tunnel *t;
	struct zt_paths *ps;
	struct relay_entry *e[ZT_PATHS_RELAYS_MAX];
	size_t n;
	/* What a relay opened later needs: our key, the accept list of the others. */
	uint8_t private_key[ZT_RELAY_KEY_LEN];
	uint8_t (*accept)[ZT_RELAY_KEY_LEN];
	size_t naccept;
	bool accept_set;
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

static int open_one(struct zt_path_relays *rs, const struct zt_path_relay_spec *spec,
		    char *err, size_t errlen)
{
	static const struct zt_relay_client_ops ops = {
		.recv = on_recv, .registered = on_registered, .lost = on_lost,
	};
	struct zt_relay_client_cfg cfg = {
		.udp_send = udp_send, .udp_send_ctx = rs, .relay = spec->relay, .tcp = spec->tcp,
	};
	struct zt_paths_relay pr = { .send = p_send };
	struct relay_entry *e;
	int ret;

	if (rs->n == ZT_PATHS_RELAYS_MAX) {
		snprintf(err, errlen, "at most %d relays", ZT_PATHS_RELAYS_MAX);
		return -E2BIG;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	e->rs = rs;
	e->tcp = spec->tcp;
	snprintf(e->name, sizeof(e->name), "%s", spec->relay);
	memcpy(cfg.private_key, rs->private_key, sizeof(cfg.private_key));
	ret = zt_relay_client_open(rs->loop, &cfg, &ops, e, &e->rc, err, errlen);
	OPENSSL_cleanse(cfg.private_key, sizeof(cfg.private_key));
	if (!ret && rs->accept_set)
		ret = zt_relay_client_set_accept(e->rc, (const uint8_t (*)[ZT_RELAY_KEY_LEN])rs->accept,
						 rs->naccept);
	if (ret)
		goto fail;
	pr.rc = e;
	pr.name = e->name;
	pr.tcp = spec->tcp;
	if (!spec->tcp) {
		pr.owns = p_owns;
		pr.input = p_input;
	}
	e->index = zt_paths_add_relay(rs->ps, &pr);
	if (e->index < 0) {
		ret = e->index;
		snprintf(err, errlen, "relay %s: %s", spec->relay, strerror(-ret));
		goto fail;
	}
	rs->e[rs->n++] = e;
	return 0;
fail:
	zt_relay_client_close(e->rc);
	free(e);
	return ret;
}

/* Close entry I: out of paths first (nothing sends through it after), the others renumbered. */
static void close_one(struct zt_path_relays *rs, size_t i)
{
	struct relay_entry *e = rs->e[i];

	zt_paths_remove_relay(rs->ps, e->index);
	zt_relay_client_close(e->rc);
	free(e);
	memmove(&rs->e[i], &rs->e[i + 1], (rs->n - i - 1) * sizeof(rs->e[0]));
	rs->n--;
	for (size_t k = 0; k < rs->n; k++)
		rs->e[k]->index = (int)k;
}

/* Open the relays of SPECS that are not open yet: UDP first (paths tries them in order, UDP is cheaper). */
static int open_missing(struct zt_path_relays *rs, const struct zt_path_relay_spec *specs, size_t n,
			char *err, size_t errlen)
{
	int ret = 0;

	for (int pass = 0; pass < 2 && !ret; pass++)
		for (size_t i = 0; i < n && !ret; i++)
			if (specs[i].tcp == (pass == 1) && !zt_path_relays_has(rs, &specs[i]))
				ret = open_one(rs, &specs[i], err, errlen);
	return ret;
}

int zt_path_relays_open(struct zt_loop *loop, struct zt_tunnel *t, struct zt_paths *ps,
			const uint8_t private_key[ZT_RELAY_KEY_LEN],
			const struct zt_path_relay_spec *specs, size_t n,
			struct zt_path_relays **out, char *err, size_t errlen)
{
	struct zt_path_relays *rs = calloc(1, sizeof(*rs));
	int ret;

	if (!rs) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rs->loop = loop;
	rs->t = t;
	rs->ps = ps;
	memcpy(rs->private_key, private_key, sizeof(rs->private_key));
	ret = open_missing(rs, specs, n, err, errlen);
	if (ret) {
		zt_path_relays_close(rs);
		return ret;
	}
	*out = rs;
	return 0;
}

bool zt_path_relays_has(const struct zt_path_relays *rs, const struct zt_path_relay_spec *spec)
{
	for (size_t i = 0; rs && i < rs->n; i++)
		if (rs->e[i]->tcp == spec->tcp && !strcmp(rs->e[i]->name, spec->relay))
			return true;
	return false;
}

int zt_path_relays_update(struct zt_path_relays *rs, const struct zt_path_relay_spec *specs,
			  size_t n, char *err, size_t errlen)
{
	size_t i = 0;
	int ret;

	/*
	 * The new ones first: a relay replaced by another never leaves the
	 * peers without any (which would send them to their endpoints, and
	 * back to a relay only after the direct path's grace). At the limit,
	 * again once the old ones are closed.
	 */
	ret = open_missing(rs, specs, n, err, errlen);
	while (i < rs->n) {
		bool wanted = false;

		for (size_t k = 0; k < n && !wanted; k++)
			wanted = specs[k].tcp == rs->e[i]->tcp && !strcmp(specs[k].relay, rs->e[i]->name);
		if (wanted) {
			i++;
			continue;
		}
		zt_log("info", "relay %s: no longer ours, closed", rs->e[i]->name);
		close_one(rs, i);
	}
	if (ret == -E2BIG)
		ret = open_missing(rs, specs, n, err, errlen);
	return ret;
}

void zt_path_relays_close(struct zt_path_relays *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++) {
		zt_relay_client_close(rs->e[i]->rc);
		free(rs->e[i]);
	}
	OPENSSL_cleanse(rs->private_key, sizeof(rs->private_key));
	free(rs->accept);
	free(rs);
}

int zt_path_relays_set_accept(struct zt_path_relays *rs, const uint8_t (*keys)[ZT_RELAY_KEY_LEN],
			      size_t n)
{
	uint8_t (*copy)[ZT_RELAY_KEY_LEN] = NULL;
	int ret = 0;

	if (!rs)
		return 0;
	/* Kept for the relays a view adds later. */
	if (n && !(copy = malloc(n * sizeof(*copy))))
		return -ENOMEM;
	if (n)
		memcpy(copy, keys, n * sizeof(*copy));
	free(rs->accept);
	rs->accept = copy;
	rs->naccept = n;
	rs->accept_set = true;
	for (size_t i = 0; i < rs->n; i++) {
		int r = zt_relay_client_set_accept(rs->e[i]->rc, keys, n);

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

		zt_relay_client_stats(rs->e[i]->rc, &st);
		json_object_object_add(o, "relay", json_object_new_string(rs->e[i]->name));
		json_object_object_add(o, "transport",
				       json_object_new_string(rs->e[i]->tcp ? "tcp" : "udp"));
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
