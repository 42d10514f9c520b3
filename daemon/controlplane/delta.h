/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A view as a delta on the wire (the "view_delta" message, msg.h): the
 * edits that turn the text of the view a node holds (its base) into the
 * text of the new one, so that the wire and the node's work grow with what
 * changed, not with the view (a connector's view at 10,000 devices is
 * 1.5 MB; a one-device change is about a kilobyte of it).
 *
 * The edits are a JSON array of [OFF, LEN, TEXT]: replace the base's bytes
 * [OFF, OFF + LEN) with TEXT, in ascending order, none overlapping; the
 * bytes between them are kept. TEXT is what came (device entries, grants,
 * resources, self, relays: whatever moved), the replaced ranges what left.
 * Applying them gives the new text byte for byte, which the node checks
 * against the message's hash (and its signature, over that hash) before
 * anything is applied: a wrong base or a wrong delta can only be refused,
 * never applied.
 *
 * How the edits are found: both texts are cut into pieces after each "[",
 * "}," and "],", so that an array element (a grant, a device entry's tail, a
 * resource) is a piece, and the pieces of the new text are matched in order
 * against those of the old (a hash table of the old pieces; a jump ahead is
 * taken for a piece of 32 bytes or more, or when the next piece matches too). The cut is a heuristic for
 * the size of the delta, not a parse: any cut gives a correct delta.
 *
 * Callers: daemon/controller/node_view.c (making), daemon/agent/agent.c and
 * bench/ctlload.c (applying), tests/unit/test_view_delta.c.
 */
#ifndef ZT_CONTROLPLANE_DELTA_H
#define ZT_CONTROLPLANE_DELTA_H

#include <stddef.h>

#include <json-c/json.h>

/* The hello's "view_delta": the form of delta this node applies. */
#define ZT_CP_DELTA_FORM	1

/*
 * The edits from OLD (OLEN bytes) to NEW (NLEN bytes): a new JSON array, and
 * in *SIZE about the bytes they take in a message. NULL with errno E2BIG when
 * they would take more than MAX bytes (send the whole view then), ENOMEM.
 */
json_object *zt_cp_delta_make(const char *old, size_t olen, const char *new, size_t nlen,
			      size_t max, size_t *size);

/*
 * EDITS applied to BASE (BLEN bytes): 0 and *OUT (malloc'd, NUL-terminated,
 * *LEN bytes), or -EINVAL (not edits, out of order, out of BASE's bounds,
 * a result over 16 MiB), -ENOMEM.
 */
int zt_cp_delta_apply(const char *base, size_t blen, json_object *edits, char **out,
		      size_t *len);

#endif
