/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A node's view on the wire (node_server.c's half of "view_delta",
 * controlplane/delta.h): sent whole, or as the edits from the view the node
 * holds when the server still has that view's text. The server keeps the
 * last text it sent each connector that takes deltas (its base), across
 * reconnects, bounded in bytes (the least recently used go first); devices'
 * views are small and always go whole, and keep nothing here.
 *
 * Callers: daemon/controller/node_server.c.
 */
#ifndef ZT_CONTROLLER_NODE_VIEW_H
#define ZT_CONTROLLER_NODE_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controller/node_server.h"
#include "controlplane/msg.h"
#include "controlplane/viewsig.h"

#define ZT_NODE_VIEWS_MAX_BYTES	(256u << 20)	/* bases kept, all nodes together */

struct zt_cp_conn;

struct zt_view_base {
	enum zt_node_kind kind;
	uint64_t id;
	char hash[ZT_CP_HASH_HEX_LEN + 1];
	char *text;
	size_t len;
	uint64_t used;			/* the clock of its last use: the oldest goes first */
};

/* The bases, and what was sent (for the server's status). */
struct zt_node_views {
	struct zt_view_base *v;
	size_t n, bytes;
	uint64_t clock;
	uint64_t whole, delta, whole_bytes, delta_bytes, requests;
};

/* How a node takes its views: from its hello. */
struct zt_node_view_to {
	struct zt_cp_conn *c;
	const struct zt_node_ident *ident;
	bool sig_hash;			/* "view_sig": 2 */
	bool delta;			/* "view_delta": 1 (and sig_hash) */
	const char *held;		/* the hash of the view it holds, as far as we know ("": none) */
};

/*
 * Send TO the view TEXT (LEN bytes; taken: kept as its base or freed) of
 * revision REV and hash HASH, signed with PRIV: as a delta when TO takes
 * them, is a connector, the base of TO->held is here and the delta is at
 * most half the view; whole otherwise. 0, or -errno from the connection
 * (nothing sent; the base is unchanged).
 */
int zt_node_view_send(struct zt_node_views *v, const struct zt_node_view_to *to,
		      const uint8_t priv[ZT_VIEWSIG_PRIV_LEN], char *text, size_t len,
		      uint64_t rev, const char *hash);

/* Forget the base of node (KIND, ID): it is gone, or asked for its whole view. */
void zt_node_view_forget(struct zt_node_views *v, enum zt_node_kind kind, uint64_t id);
void zt_node_views_free(struct zt_node_views *v);

#endif
