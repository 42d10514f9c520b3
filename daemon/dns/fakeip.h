/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Fake IPs for name resources: each name the DNS server answers for gets
 * its own IPv4 address from a range (default 100.96.0.0/12), which the
 * data plane maps back to the resource.
 *
 * A name keeps its address while it is used and across restarts (the pool
 * is saved to STATE_DIR/fakeip.json). Addresses never handed out are used
 * first; once the range is exhausted, the least recently used mapping is
 * reclaimed, but only after MIN_IDLE seconds without use, so an address is
 * never moved to another name while flows or cached answers may still
 * point at it. One address belongs to at most one name at any time.
 *
 * Times are seconds from the caller's clock. Use wall-clock time (not
 * CLOCK_MONOTONIC): last-use times are saved and compared after restarts.
 * Lookups are O(1) (hash tables keyed by name and by address), the LRU
 * order is a doubly linked list.
 */
#ifndef ZT_FAKEIP_H
#define ZT_FAKEIP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"

#define ZT_FAKEIP_DEFAULT_RANGE		"100.96.0.0/12"
#define ZT_FAKEIP_DEFAULT_MIN_IDLE	120	/* seconds */
#define ZT_FAKEIP_NAME_MAX		1024	/* = ZT_DNS_NAME_TEXT_MAX, NUL included */
#define ZT_FAKEIP_FILE			"fakeip.json"
#define ZT_FAKEIP_JOURNAL		"fakeip.journal"
/*
 * Names held at most, whatever the range: each is an exact-map entry
 * (ZT_MAX_EXACT holds two generations of 262144), and a wildcard resource
 * lets anyone who can make this host resolve names ask for new ones.
 * Past the cap the least recently used idle name is reclaimed.
 */
#define ZT_FAKEIP_DEFAULT_MAX_NAMES	65536

struct zt_fakeip;

/* What zt_fakeip_assign() did. */
enum zt_fakeip_assigned {
	ZT_FAKEIP_EXISTING	= 0,	/* the name already had this address */
	ZT_FAKEIP_FRESH		= 1,	/* a never-used address */
	ZT_FAKEIP_RECLAIMED	= 2,	/* taken from an idle name, which lost it */
};

/*
 * An empty pool over RANGE (IPv4, /8 to /31). The first address of the
 * range is never handed out. Returns 0 or -errno with ERR set.
 */
int zt_fakeip_new(struct zt_fakeip **out, const struct zt_prefix *range,
		  unsigned int min_idle, char *err, size_t errlen);
void zt_fakeip_free(struct zt_fakeip *fp);

/*
 * Never hand out ADDR (the DNS server's own address, say). Addresses
 * outside the range need no reservation and are accepted as they are.
 * Returns 0, or -EBUSY if a name holds ADDR (reserve before loading).
 */
int zt_fakeip_reserve(struct zt_fakeip *fp, struct in_addr addr);

/*
 * NAME's address, assigned now if it has none, and marked used at NOW.
 * NAME must be normalised (dns/codec.h) by the caller. Returns a
 * zt_fakeip_assigned value, -ENOSPC when every address is taken and none
 * has been idle for MIN_IDLE seconds, -EINVAL for an empty or overlong
 * name, -ENOMEM.
 */
int zt_fakeip_assign(struct zt_fakeip *fp, const char *name, int64_t now,
		     struct in_addr *addr);

/* Lookups; they do not count as use. 0 or -ENOENT. LAST_USE may be NULL. */
int zt_fakeip_lookup_name(const struct zt_fakeip *fp, const char *name,
			  struct in_addr *addr, int64_t *last_use);
/* The name holding ADDR (valid until the pool next changes), or NULL. */
const char *zt_fakeip_lookup_addr(const struct zt_fakeip *fp, struct in_addr addr,
				  int64_t *last_use);

/* Traffic to ADDR was seen at NOW. 0 or -ENOENT. */
int zt_fakeip_touch(struct zt_fakeip *fp, struct in_addr addr, int64_t now);

/*
 * Call FN for each mapping, most recently used first, until it returns
 * non-zero (which is then returned). FN must not change the pool.
 */
typedef int (*zt_fakeip_visit_fn)(const char *name, struct in_addr addr, int64_t last_use,
				  void *ctx);
int zt_fakeip_foreach(const struct zt_fakeip *fp, zt_fakeip_visit_fn fn, void *ctx);

size_t zt_fakeip_count(const struct zt_fakeip *fp);	/* names holding an address */
/* Addresses it may hand out: the range's, at most the cap on names. */
size_t zt_fakeip_capacity(const struct zt_fakeip *fp);
/* Change the cap on names (ZT_FAKEIP_DEFAULT_MAX_NAMES); 0 counts as 1. */
void zt_fakeip_set_max_names(struct zt_fakeip *fp, size_t max_names);
/* Full saves and journal appends so far. */
void zt_fakeip_file_stats(const struct zt_fakeip *fp, uint64_t *saves, uint64_t *appends);

/*
 * Whether names or addresses changed since the last save or load, so saves
 * can be lazy. Last-use times alone do not count (every query moves one):
 * they go out with the next save, so save at clean shutdown too; a crash
 * then loses only recent uses, which make a mapping look idle sooner.
 */
bool zt_fakeip_dirty(const struct zt_fakeip *fp);

/*
 * Save to STATE_DIR/fakeip.json, replaced atomically like the policy file,
 * then empty the journal. Memory stays bounded whatever the number of
 * mappings. 0 or -errno.
 */
int zt_fakeip_save(struct zt_fakeip *fp, const char *state_dir, char *err, size_t errlen);

/*
 * Make NAME's mapping durable (after zt_fakeip_assign() gave it a fresh or
 * reclaimed address, before the answer leaves): one JSON line appended to
 * STATE_DIR/fakeip.journal and fdatasync'd, O(1) whatever the pool's size.
 * Once the journal holds half as many lines as the pool has names (4096
 * at least) this is a full save instead, which empties it: O(1) amortised.
 * 0, -ENOENT (no such mapping), or -errno with ERR set.
 */
int zt_fakeip_persist(struct zt_fakeip *fp, const char *state_dir, const char *name,
		      char *err, size_t errlen);

/*
 * Load STATE_DIR/fakeip.json into an empty pool (-EBUSY otherwise); a
 * missing file loads nothing. Mappings outside the current range or on a
 * reserved address are dropped (the range is configurable); last-use times
 * in the future are clamped to NOW. Then the journal is replayed over it
 * (lines that do not parse, like a torn last one, are skipped). Past the
 * cap on names the least recently used are dropped. Neither file is
 * followed if it is a symlink. Returns the number of mappings loaded,
 * or -errno with ERR set and the pool left empty.
 */
int zt_fakeip_load(struct zt_fakeip *fp, const char *state_dir, int64_t now,
		   char *err, size_t errlen);

#endif
