// SPDX-License-Identifier: GPL-2.0-only
/*
 * A node's view on the wire (node_view.h): whole, or a "view_delta" against
 * the text the node was last sent. Called by node_server.c's push_view.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller/node_view.h"
#include "controlplane/conn.h"
#include "controlplane/delta.h"
#include "lib/json_io.h"
#include "lib/log.h"

static struct zt_view_base *base_of(struct zt_node_views *v, enum zt_node_kind kind, uint64_t id)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->v[i].kind == kind && v->v[i].id == id)
			return &v->v[i];
	return NULL;
}

static void base_drop(struct zt_node_views *v, struct zt_view_base *b)
{
	v->bytes -= b->len;
	free(b->text);
	*b = v->v[--v->n];
}

void zt_node_view_forget(struct zt_node_views *v, enum zt_node_kind kind, uint64_t id)
{
	struct zt_view_base *b = base_of(v, kind, id);

	if (b)
		base_drop(v, b);
}

/* TEXT (taken) as node (KIND, ID)'s base; within the bound, the least recently used go. */
static void base_keep(struct zt_node_views *v, enum zt_node_kind kind, uint64_t id,
		      const char *hash, char *text, size_t len)
{
	struct zt_view_base *b = base_of(v, kind, id), *nv;

	if (b)
		base_drop(v, b);
	if (len > ZT_NODE_VIEWS_MAX_BYTES) {
		free(text);
		return;
	}
	while (v->n && v->bytes + len > ZT_NODE_VIEWS_MAX_BYTES) {
		struct zt_view_base *old = &v->v[0];

		for (size_t i = 1; i < v->n; i++)
			if (v->v[i].used < old->used)
				old = &v->v[i];
		base_drop(v, old);
	}
	nv = realloc(v->v, (v->n + 1) * sizeof(*nv));
	if (!nv) {
		free(text);
		return;
	}
	v->v = nv;
	nv[v->n++] = (struct zt_view_base){ .kind = kind, .id = id, .text = text, .len = len,
					    .used = ++v->clock };
	memcpy(nv[v->n - 1].hash, hash, sizeof(nv->hash));
	v->bytes += len;
}

/* The delta message from B to TEXT, if worth it (at most half the view). NULL: send it whole. */
static json_object *delta_msg(struct zt_node_views *v, struct zt_view_base *b, const char *text,
			      size_t len, uint64_t rev, const char *hash, const char *sig)
{
	size_t size;
	json_object *edits = zt_cp_delta_make(b->text, b->len, text, len, len / 2, &size);

	b->used = ++v->clock;
	return edits ? zt_cp_msg_view_delta(rev, b->hash, hash, sig, edits) : NULL;
}

int zt_node_view_send(struct zt_node_views *v, const struct zt_node_view_to *to,
		      const uint8_t priv[ZT_VIEWSIG_PRIV_LEN], char *text, size_t len,
		      uint64_t rev, const char *hash)
{
	bool keep = to->delta && to->ident->kind == ZT_NODE_CONNECTOR;
	struct zt_view_base *b = keep ? base_of(v, to->ident->kind, to->ident->id) : NULL;
	char sig[ZT_VIEWSIG_B64_LEN + 1], *msg;
	json_object *dm = NULL;
	size_t mlen = 0;
	int ret;

	if (to->sig_hash)
		zt_viewsig_sign_hash(priv, rev, hash, sig);
	else
		zt_viewsig_sign_text(priv, rev, text, len, sig);
	if (b && to->held[0] && !strcmp(b->hash, to->held))
		dm = delta_msg(v, b, text, len, rev, hash, sig);
	if (dm) {
		msg = zt_json_take_text(dm, &mlen);
	} else {
		msg = zt_cp_msg_view_text(rev, hash, sig, text, len, &mlen);
	}
	ret = msg ? zt_cp_conn_send_text(to->c, msg, mlen) : -ENOMEM;
	free(msg);
	if (ret) {
		free(text);
		return ret;
	}
	if (dm) {
		v->delta++;
		v->delta_bytes += mlen;
		zt_log("debug", "view rev %llu for %s: a delta of %zu bytes (whole: %zu)",
		       (unsigned long long)rev, to->ident->name, mlen, len);
	} else {
		v->whole++;
		v->whole_bytes += mlen;
	}
	if (keep)
		base_keep(v, to->ident->kind, to->ident->id, hash, text, len);
	else
		free(text);
	return 0;
}

void zt_node_views_free(struct zt_node_views *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->v[i].text);
	free(v->v);
	*v = (struct zt_node_views){ 0 };
}
