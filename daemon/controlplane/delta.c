// SPDX-License-Identifier: GPL-2.0-only
/*
 * View deltas (delta.h): the edits between two view texts, and applying
 * them. Made by the controller's node server for a node that holds a view it
 * still knows, applied by the agent (and ctlload) onto the view it holds.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controlplane/conn.h"
#include "controlplane/delta.h"

#define DELTA_CHAIN_MAX	64	/* equal-hash pieces looked at before a piece counts as new */
#define DELTA_EDIT_COST	24	/* an edit's bytes in a message besides its text */
#define DELTA_PIECE_SURE	32	/* a piece this long is matched on its own */

/* A piece of a text: [OFF, OFF + LEN), its hash, the next piece of the same hash bucket. */
struct piece {
	uint32_t off, len;
	uint64_t h;
	int32_t next;
};

struct pieces {
	struct piece *v;
	size_t n;
};

/* FNV-1a: only to find equal pieces fast; equality itself is memcmp. */
static uint64_t fnv(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
	return h;
}

/* TEXT cut after each "[", "}," and "],": an array element a piece (delta.h). */
static int cut(const char *t, size_t len, struct pieces *out)
{
	size_t cap = len / 32 + 16, start = 0;

	out->n = 0;
	out->v = malloc(cap * sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		bool end = i + 1 == len || t[i] == '[' ||
			   (t[i] == ',' && i && (t[i - 1] == '}' || t[i - 1] == ']'));

		if (!end)
			continue;
		if (out->n == cap) {
			struct piece *v = realloc(out->v, (cap *= 2) * sizeof(*v));

			if (!v)
				return -ENOMEM;
			out->v = v;
		}
		out->v[out->n++] = (struct piece){ (uint32_t)start, (uint32_t)(i + 1 - start),
						   fnv(t + start, i + 1 - start), -1 };
		start = i + 1;
	}
	return 0;
}

static bool same(const char *a, const struct piece *x, const char *b, const struct piece *y)
{
	return x->h == y->h && x->len == y->len && !memcmp(a + x->off, b + y->off, x->len);
}

/* The old text's pieces by hash: TAB (MASK + 1 heads), chained through piece.next in order. */
struct index {
	int32_t *tab;
	size_t mask;
};

static int index_build(struct pieces *o, struct index *ix)
{
	size_t size = 16;

	while (size < 2 * o->n)
		size *= 2;
	ix->mask = size - 1;
	ix->tab = malloc(size * sizeof(*ix->tab));
	if (!ix->tab)
		return -ENOMEM;
	memset(ix->tab, 0xff, size * sizeof(*ix->tab));
	/* From the end, so that each chain runs in ascending order. */
	for (size_t i = o->n; i-- > 0;) {
		int32_t *head = &ix->tab[o->v[i].h & ix->mask];

		o->v[i].next = *head;
		*head = (int32_t)i;
	}
	return 0;
}

/* The first old piece at or after FROM equal to new piece Y, or -1. */
static long find(const struct index *ix, const char *old, const struct pieces *o, const char *new,
		 const struct piece *y, size_t from)
{
	int steps = 0;

	for (int32_t i = ix->tab[y->h & ix->mask]; i >= 0 && steps < DELTA_CHAIN_MAX;
	     i = o->v[i].next, steps++)
		if ((size_t)i >= from && same(old, &o->v[i], new, y))
			return i;
	return -1;
}

/* The edits being made: replace old [OEND, ooff) with new [NEND, noff) at each match. */
struct edits {
	json_object *arr;
	const char *new;
	size_t oend, nend, size, max;
};

static int edit_to(struct edits *e, size_t ooff, size_t noff)
{
	json_object *ed;

	if (ooff == e->oend && noff == e->nend)
		return 0;
	/* In JSON a view's text grows by its escaped quotes: about a quarter. */
	e->size += DELTA_EDIT_COST + (noff - e->nend) + (noff - e->nend) / 4;
	if (e->size > e->max)
		return -E2BIG;
	ed = json_object_new_array_ext(3);
	json_object_array_add(ed, json_object_new_int64((int64_t)e->oend));
	json_object_array_add(ed, json_object_new_int64((int64_t)(ooff - e->oend)));
	json_object_array_add(ed, json_object_new_string_len(e->new + e->nend, (int)(noff - e->nend)));
	json_object_array_add(e->arr, ed);
	return 0;
}

/* Match N's pieces in order against O's; an edit wherever they part. */
static int diff(const char *old, struct pieces *o, const char *new, const struct pieces *n,
		const struct index *ix, struct edits *e)
{
	size_t i = 0;
	int ret;

	for (size_t j = 0; j < n->n;) {
		const struct piece *y = &n->v[j];
		long p;

		if (i < o->n && same(old, &o->v[i], new, y)) {
			ret = edit_to(e, o->v[i].off, y->off);
			if (ret)
				return ret;
			e->oend = o->v[i].off + o->v[i].len;
			e->nend = y->off + y->len;
			i++, j++;
			continue;
		}
		p = find(ix, old, o, new, y, i);
		/*
		 * A jump ahead (old pieces left) for a piece long enough to be
		 * itself (a grant, a device entry), or when the next piece agrees
		 * too: not for a lone "[" or a short tail met by chance.
		 */
		if (p >= 0 && (y->len >= DELTA_PIECE_SURE || j + 1 == n->n ||
			       ((size_t)p + 1 < o->n && same(old, &o->v[p + 1], new, &n->v[j + 1]))))
			i = (size_t)p;
		else
			j++;	/* a piece that came */
	}
	return 0;
}

json_object *zt_cp_delta_make(const char *old, size_t olen, const char *new, size_t nlen,
			      size_t max, size_t *size)
{
	struct pieces o = { 0 }, n = { 0 };
	struct index ix = { 0 };
	struct edits e = { .new = new, .max = max };
	int ret = -E2BIG;

	if (olen > ZT_CP_MSG_MAX || nlen > ZT_CP_MSG_MAX)
		goto out;
	e.arr = json_object_new_array();
	ret = e.arr ? 0 : -ENOMEM;
	if (!ret)
		ret = cut(old, olen, &o);
	if (!ret)
		ret = cut(new, nlen, &n);
	if (!ret)
		ret = index_build(&o, &ix);
	if (!ret)
		ret = diff(old, &o, new, &n, &ix, &e);
	if (!ret)
		ret = edit_to(&e, olen, nlen);
out:
	free(o.v);
	free(n.v);
	free(ix.tab);
	if (ret) {
		json_object_put(e.arr);
		errno = -ret;
		return NULL;
	}
	*size = e.size;
	return e.arr;
}

/* Edit ED's offset, length and text, checked against the base's BLEN and the last end POS. */
static int edit_get(json_object *ed, size_t pos, size_t blen, size_t *off, size_t *len,
		    const char **text, size_t *tlen)
{
	json_object *a, *b, *t;
	int64_t x, y;

	if (!json_object_is_type(ed, json_type_array) || json_object_array_length(ed) != 3)
		return -EINVAL;
	a = json_object_array_get_idx(ed, 0);
	b = json_object_array_get_idx(ed, 1);
	t = json_object_array_get_idx(ed, 2);
	if (!json_object_is_type(a, json_type_int) || !json_object_is_type(b, json_type_int) ||
	    !json_object_is_type(t, json_type_string))
		return -EINVAL;
	x = json_object_get_int64(a);
	y = json_object_get_int64(b);
	if (x < 0 || y < 0 || (uint64_t)x < pos || (uint64_t)x > blen || (uint64_t)y > blen - (uint64_t)x)
		return -EINVAL;
	*off = (size_t)x;
	*len = (size_t)y;
	*text = json_object_get_string(t);
	*tlen = (size_t)json_object_get_string_len(t);
	return 0;
}

int zt_cp_delta_apply(const char *base, size_t blen, json_object *edits, char **out, size_t *len)
{
	size_t n, pos = 0, total = 0, off, dl, tl;
	const char *text;
	char *r, *p;
	int ret;

	if (!json_object_is_type(edits, json_type_array))
		return -EINVAL;
	n = json_object_array_length(edits);
	/* First pass: check every edit, and the result's size. */
	for (size_t i = 0; i < n; i++) {
		ret = edit_get(json_object_array_get_idx(edits, i), pos, blen, &off, &dl, &text, &tl);
		if (ret)
			return ret;
		total += (off - pos) + tl;
		pos = off + dl;
		if (total > ZT_CP_MSG_MAX)
			return -EINVAL;
	}
	total += blen - pos;
	if (total > ZT_CP_MSG_MAX)
		return -EINVAL;
	r = p = malloc(total + 1);
	if (!r)
		return -ENOMEM;
	pos = 0;
	for (size_t i = 0; i < n; i++) {
		edit_get(json_object_array_get_idx(edits, i), pos, blen, &off, &dl, &text, &tl);
		p = mempcpy(p, base + pos, off - pos);
		p = mempcpy(p, text, tl);
		pos = off + dl;
	}
	p = mempcpy(p, base + pos, blen - pos);
	*p = '\0';
	*out = r;
	*len = total;
	return 0;
}
