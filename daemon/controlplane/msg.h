/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The messages of the node <-> controller protocol (conn.h carries them),
 * built and checked in one place so both ends spell them the same:
 *   hello       node -> controller, in Noise message 1
 *   accept      controller -> node, in Noise message 2
 *   view        controller -> node  {"type":"view","rev","hash","view":{...}}
 *   view_delta  controller -> node  {"type":"view_delta","rev","base","hash","sig","edits"}:
 *               the view of HASH as edits on the view of hash BASE (delta.h), to a
 *               connector whose hello says "view_delta": 1
 *   view_request node -> controller {"type":"view_request","rev","error"}: a delta it
 *               could not take (not its base, or not its hash): send the view whole
 *   applied     node -> controller   {"type":"applied","rev","hash"}
 *   endpoint    connector -> controller {"type":"endpoint","endpoint":"IP:PORT"}
 *   connection  connector -> controller {"type":"connection","line":{...}}
 *   error       node -> controller  {"type":"error","rev","error"}: a view it could not apply
 *   ping, pong  keepalives (conn.c answers them)
 * A view's hash is SHA-256 (hex) of its plain JSON text: the controller
 * sends a view only when the hash moved, the node checks it on receipt.
 *
 * Callers: daemon/controller/node_server.c, daemon/agent/, tests.
 */
#ifndef ZT_CONTROLPLANE_MSG_H
#define ZT_CONTROLPLANE_MSG_H

#include <stdint.h>

#include <json-c/json.h>

#define ZT_CP_HASH_HEX_LEN	64

/* SHA-256 of VIEW's plain JSON text, in hex. */
void zt_cp_view_hash(json_object *view, char out[ZT_CP_HASH_HEX_LEN + 1]);

/* {"type":"view","rev","hash","view"}: VIEW's reference is taken. */
json_object *zt_cp_msg_view(uint64_t rev, const char *hash, json_object *view);
/*
 * The same message as text around VIEW, the view's own serialization (LEN
 * bytes, the text its hash is of): malloc'd, *OUT_LEN bytes; NULL: no memory.
 */
char *zt_cp_msg_view_text(uint64_t rev, const char *hash, const char *sig, const char *view,
			  size_t len,
			  size_t *out_len);
/* zt_cp_view_hash of a view's text. */
void zt_cp_view_hash_text(const char *text, size_t len, char out[ZT_CP_HASH_HEX_LEN + 1]);
/* {"type":"view_delta","rev","base","hash","sig","edits"}: EDITS' reference is taken. */
json_object *zt_cp_msg_view_delta(uint64_t rev, const char *base, const char *hash,
				  const char *sig, json_object *edits);
/* {"type":"applied","rev","hash"} */
json_object *zt_cp_msg_applied(uint64_t rev, const char *hash);

/* MSG's "type" (NULL if none); FIELD of MSG as a string, or NULL. */
const char *zt_cp_msg_type(json_object *msg);
const char *zt_cp_msg_str(json_object *msg, const char *field);
/* FIELD of MSG as a non-negative integer: 0 or -EINVAL. */
int zt_cp_msg_u64(json_object *msg, const char *field, uint64_t *out);

#endif
