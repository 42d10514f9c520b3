/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * An intrusive least-recently-used list: newest at one end, oldest at the
 * other, O(1) unlink and push. The DNS answer cache and the fake-IP pool
 * keep their entries in one (a node in each entry, lib/ owns no memory).
 */
#ifndef ZT_LIB_LRU_H
#define ZT_LIB_LRU_H

#include <stddef.h>

struct zt_lru_node {
	struct zt_lru_node *newer, *older;
};

struct zt_lru {
	struct zt_lru_node *newest, *oldest;
};

/* The entry of type TYPE whose member MEMBER is NODE (NULL stays NULL). */
#define ZT_LRU_ENTRY(node, type, member) \
	((node) ? (type *)((char *)(node) - offsetof(type, member)) : (type *)NULL)

static inline void zt_lru_unlink(struct zt_lru *l, struct zt_lru_node *n)
{
	if (n->newer)
		n->newer->older = n->older;
	else
		l->newest = n->older;
	if (n->older)
		n->older->newer = n->newer;
	else
		l->oldest = n->newer;
	n->newer = n->older = NULL;
}

static inline void zt_lru_push_newest(struct zt_lru *l, struct zt_lru_node *n)
{
	n->newer = NULL;
	n->older = l->newest;
	if (l->newest)
		l->newest->newer = n;
	else
		l->oldest = n;
	l->newest = n;
}

static inline void zt_lru_push_oldest(struct zt_lru *l, struct zt_lru_node *n)
{
	n->older = NULL;
	n->newer = l->oldest;
	if (l->oldest)
		l->oldest->older = n;
	else
		l->newest = n;
	l->oldest = n;
}

#endif
