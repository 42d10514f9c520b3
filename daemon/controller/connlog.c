// SPDX-License-Identifier: GPL-2.0-only
/*
 * The ring of recent connection log lines (connlog.h): a fixed array of
 * json-c objects, slot = seq % cap. Nothing here touches the model or the
 * database.
 */
#include <stdlib.h>

#include "controller/connlog.h"

struct zt_connlog {
	size_t cap;
	uint64_t seq;			/* the last line's number; 0: none yet */
	json_object **lines;		/* lines[seq % cap] */
};

struct zt_connlog *zt_connlog_new(size_t cap)
{
	struct zt_connlog *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->cap = cap ? cap : ZT_CONNLOG_DEFAULT_LINES;
	r->lines = calloc(r->cap, sizeof(*r->lines));
	if (!r->lines) {
		free(r);
		return NULL;
	}
	return r;
}

void zt_connlog_free(struct zt_connlog *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->cap; i++)
		json_object_put(r->lines[i]);
	free(r->lines);
	free(r);
}

uint64_t zt_connlog_push(struct zt_connlog *r, json_object *line)
{
	json_object *copy = NULL;
	size_t slot;

	if (!r || !json_object_is_type(line, json_type_object) ||
	    json_object_deep_copy(line, &copy, NULL) || !copy)
		return 0;
	r->seq++;
	json_object_object_add(copy, "seq", json_object_new_int64((int64_t)r->seq));
	slot = (size_t)(r->seq % r->cap);
	json_object_put(r->lines[slot]);
	r->lines[slot] = copy;
	return r->seq;
}

json_object *zt_connlog_since(const struct zt_connlog *r, uint64_t after, size_t max)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	uint64_t oldest = 1, seq, lost = 0;

	if (!max || max > ZT_CONNLOG_MAX_REPLY)
		max = ZT_CONNLOG_MAX_REPLY;
	if (r && r->seq > r->cap)
		oldest = r->seq - r->cap + 1;
	if (after > (r ? r->seq : 0))
		after = r ? r->seq : 0;	/* a cursor from before a restart: start over */
	seq = after + 1;
	if (r && seq < oldest) {
		lost = after ? oldest - seq : 0;
		seq = oldest;
	}
	for (; r && seq <= r->seq && json_object_array_length(arr) < max; seq++)
		json_object_array_add(arr, json_object_get(r->lines[seq % r->cap]));
	json_object_object_add(o, "lines", arr);
	json_object_object_add(o, "next", json_object_new_int64((int64_t)(seq - 1)));
	json_object_object_add(o, "lost", json_object_new_int64((int64_t)lost));
	return o;
}
