/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the files of the policy module share and its callers must not use:
 * they have policy/policy.h. Only daemon/policy/ includes this header.
 *
 *   model.c      the data: init/free/copy, entry arrays, lookups, grant
 *                queries, ids, what the data plane's capacity counts
 *   entry.c      one resource, device or connector from user text
 *   edit.c       adding and removing one entry, checked against the rest
 *   match.c      name patterns, the name index; the resource for a name
 *                or an address
 *   doc_write.c  the policy as JSON (export, STATE_DIR/policy.json)
 *   doc_read.c   a JSON document into a policy: its fields, entries, grants
 *   doc_check.c  a read document's ids and its whole-document checks
 *   diff.c       the change list between two policies (apply --dry-run)
 */
#ifndef ZT_POLICY_INTERNAL_H
#define ZT_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "policy/policy.h"
#include "ztgate/maps.h"

/* Grants one generation of the maps holds. */
#define ZT_MAX_GRANTS_PER_GEN	(ZT_MAX_GRANTS / ZT_NGEN)

/* ---- entry arrays (model.c) ---- */

/*
 * Append the ELEM-byte entry E to *ARR (*COUNT used of *CAP), growing it.
 * 0, or -ENOMEM with ERR.
 */
int policy_array_push(void **arr, unsigned int *cap, unsigned int *count, const void *e,
		      size_t elem, char *err, size_t errlen);
/* Take entry IDX out of the *COUNT entries of ELEM bytes at ARR, keeping the order of the rest. */
void policy_array_erase(void *arr, unsigned int *count, size_t elem, size_t idx);

/*
 * Append DEF as it is: the callers (edit.c one entry at a time, doc_read.c
 * and doc_check.c for a whole document) make the checks. A resource drops
 * the name index.
 */
int policy_append_resource(struct zt_policy *p, const struct zt_resource_def *def, char *err,
			   size_t errlen);
int policy_append_device(struct zt_policy *p, const struct zt_device_def *def, char *err,
			 size_t errlen);
int policy_append_connector(struct zt_policy *p, const struct zt_connector_def *def, char *err,
			    size_t errlen);

/* G is a grant of DEVICE_ID and of RESOURCE_ID (0: any). */
static inline bool policy_grant_matches(const struct zt_grant_def *g, uint32_t device_id,
					uint32_t resource_id)
{
	return (!device_id || g->device_id == device_id) &&
	       (!resource_id || g->resource_id == resource_id);
}

/* ---- ids (model.c) ---- */

/*
 * Ids 1..MAX-1 in use, as a bitmap, handing out the lowest free ones: ids
 * index counters and map keys, so they are kept dense.
 */
struct policy_ids {
	uint8_t *used;
	uint32_t max;
	uint32_t cursor;	/* where the next search starts (0: at 1) */
};

/* An empty set; -ENOMEM with ERR. */
int policy_ids_init(struct policy_ids *s, uint32_t max, char *err, size_t errlen);
void policy_ids_free(struct policy_ids *s);

static inline void policy_ids_mark(struct policy_ids *s, uint32_t id)
{
	s->used[id / 8] |= (uint8_t)(1u << (id % 8));
}

static inline bool policy_ids_has(const struct policy_ids *s, uint32_t id)
{
	return s->used[id / 8] & (1u << (id % 8));
}

/* The lowest id not in S from the last one handed out on (not marked); 0 if none. */
uint32_t policy_ids_next(struct policy_ids *s);

/*
 * The id of a new entry KIND 'NAME' among N entries of STRIDE bytes at BASE
 * (their id, a uint32_t, at ID_OFF): *ID 0 takes the lowest one that none
 * of them holds; any other must be below MAX and not held already.
 */
int policy_entry_id(uint32_t *id, const void *base, unsigned int n, size_t stride,
		    size_t id_off, uint32_t max, const char *kind, const char *name, char *err,
		    size_t errlen);

/* ---- what the data plane holds (model.c) ---- */

/* Port map entries the resources' port lists expand to. */
unsigned long policy_port_entries(const struct zt_policy *p);
/* IP resources that are one host (exact map) and networks (LPM map). */
void policy_counts(const struct zt_policy *p, unsigned long *hosts, unsigned long *nets);

/* ---- the name index (match.c) ---- */

/* Drop the index: every change to the resources makes it stale. */
void policy_name_index_drop(struct zt_policy *p);

/* ---- reading a document: doc_check.c for doc_read.c ---- */

/*
 * A name with its entry's id and index, sorted by name (then index), so a
 * whole document is checked and resolved in O(n log n).
 */
struct named_ref {
	const char *name;
	uint32_t id;
	uint32_t idx;
};

/* The ref of NAME among N sorted refs; NULL if none. */
const struct named_ref *policy_refs_find(const struct named_ref *refs, unsigned int n,
					 const char *name);

/* A read document's names, sorted: resources, devices and connectors. */
struct doc_refs {
	struct named_ref *res;
	struct named_ref *dev;
	struct named_ref *conn;
};

/*
 * Give every resource and device without an id one: the id its name had
 * in PREV (may be NULL) if no other entry claims it, else the lowest free
 * one. Explicit ids must be unique.
 */
int policy_doc_assign_ids(struct zt_policy *p, const struct zt_policy *prev, char *err,
			  size_t errlen);
/*
 * The checks the add functions make one entry at a time, made once over a
 * whole document (names, addresses and keys unique, connectors named
 * exist, the data plane's limits), with REFS built for resolving grants:
 * free them with policy_doc_refs_free() whatever this returns.
 */
int policy_doc_check(const struct zt_policy *p, struct doc_refs *refs, char *err,
		     size_t errlen);
void policy_doc_refs_free(struct doc_refs *refs);

#endif
