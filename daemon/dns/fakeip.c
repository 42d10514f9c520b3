// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fake IPs for name resources (fakeip.h): the pool, its least-recently-used
 * reuse and its file. The DNS server assigns them, the client's tunnel looks
 * them up.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "dns/fakeip.h"
#include "lib/lru.h"
#include "lib/fsutil.h"

#define FAKEIP_FILE_VERSION	1
#define TABLE_MIN_CAP		64
#define JOURNAL_MIN_LINES	4096

static int journal_reset(struct zt_fakeip *fp, const char *state_dir, char *err,
			 size_t errlen);

/*
 * One address in the range: held by a name, or reserved (name NULL, not
 * on the LRU list, never handed out).
 */
struct entry {
	struct zt_lru_node lru;		/* mapped entries only */
	char *name;
	uint64_t name_hash;
	uint32_t addr;			/* host byte order */
	int64_t last_use;
};

/*
 * Open addressing with linear probing, at most half full so a probe always
 * meets an empty slot, and backward-shift deletion so there are no
 * tombstones to pile up as names come and go.
 */
struct table {
	struct entry **slot;
	size_t cap;			/* 0 or a power of two */
	size_t used;
};

enum table_key { BY_NAME, BY_ADDR };

struct zt_fakeip {
	struct zt_prefix range;
	uint32_t base;			/* first address, host order */
	uint64_t size;			/* addresses in the range */
	uint64_t next_fresh;		/* offset of the next never-used address */
	unsigned int min_idle;
	/*
	 * Names come from DNS queries, which any web page can make a browser
	 * send: a per-process random seed keeps anyone from precomputing
	 * names that all land in one probe run.
	 */
	uint64_t seed;
	struct table by_name;		/* mapped entries */
	struct table by_addr;		/* mapped and reserved entries */
	struct zt_lru lru;		/* mapped entries, newest used first */
	size_t mapped;
	size_t reserved;
	size_t max_names;		/* mappings at most: past it, reclaim */
	bool dirty;
	/* The journal (fakeip.h): new mappings appended, until compacted. */
	int jfd;			/* -1: not open yet */
	size_t jlines;			/* lines in it since the last full save */
	uint64_t saves, appends;	/* counters */
};

static uint64_t mix64(uint64_t x)
{
	/* MurmurHash3's finaliser: every input bit reaches every output bit. */
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t hash_name(const struct zt_fakeip *fp, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ fp->seed;	/* FNV-1a, seeded */

	for (; *name; name++) {
		h ^= (uint8_t)*name;
		h *= 0x100000001b3ULL;
	}
	return mix64(h ^ fp->seed);
}

static uint64_t hash_addr(const struct zt_fakeip *fp, uint32_t addr)
{
	return mix64(addr ^ fp->seed);
}

static uint64_t entry_hash(const struct zt_fakeip *fp, const struct entry *e, enum table_key k)
{
	return k == BY_NAME ? e->name_hash : hash_addr(fp, e->addr);
}

static struct table *table_of(struct zt_fakeip *fp, enum table_key k)
{
	return k == BY_NAME ? &fp->by_name : &fp->by_addr;
}

static void table_put(const struct zt_fakeip *fp, struct table *t, enum table_key k,
		      struct entry *e)
{
	size_t mask = t->cap - 1, i = entry_hash(fp, e, k) & mask;

	while (t->slot[i])
		i = (i + 1) & mask;
	t->slot[i] = e;
	t->used++;
}

/* Make room for WANT entries, so that a later table_put() cannot fail. */
static int table_reserve(struct zt_fakeip *fp, enum table_key k, size_t want)
{
	struct table *t = table_of(fp, k), bigger;
	size_t i;

	if (want <= t->cap / 2)
		return 0;
	bigger.cap = t->cap ? t->cap : TABLE_MIN_CAP;
	while (want > bigger.cap / 2)
		bigger.cap *= 2;
	bigger.slot = calloc(bigger.cap, sizeof(*bigger.slot));
	if (!bigger.slot)
		return -ENOMEM;
	bigger.used = 0;
	for (i = 0; i < t->cap; i++)
		if (t->slot[i])
			table_put(fp, &bigger, k, t->slot[i]);
	free(t->slot);
	*t = bigger;
	return 0;
}

static void table_del(struct zt_fakeip *fp, enum table_key k, struct entry *e)
{
	struct table *t = table_of(fp, k);
	size_t mask = t->cap - 1, i = entry_hash(fp, e, k) & mask, j, home;

	while (t->slot[i] != e)
		i = (i + 1) & mask;
	t->used--;
	/* Pull later members of the run back over the hole they may need. */
	for (;;) {
		t->slot[i] = NULL;
		j = i;
		for (;;) {
			j = (j + 1) & mask;
			if (!t->slot[j])
				return;
			home = entry_hash(fp, t->slot[j], k) & mask;
			/* Movable unless its home lies cyclically in (i, j]. */
			if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
				break;
		}
		t->slot[i] = t->slot[j];
		i = j;
	}
}

static struct entry *find_name(const struct zt_fakeip *fp, const char *name, uint64_t h)
{
	const struct table *t = &fp->by_name;
	size_t mask = t->cap - 1, i;

	if (!t->cap)
		return NULL;
	for (i = h & mask; t->slot[i]; i = (i + 1) & mask)
		if (t->slot[i]->name_hash == h && !strcmp(t->slot[i]->name, name))
			return t->slot[i];
	return NULL;
}

static struct entry *find_addr(const struct zt_fakeip *fp, uint32_t addr)
{
	const struct table *t = &fp->by_addr;
	size_t mask = t->cap - 1, i;

	if (!t->cap)
		return NULL;
	for (i = hash_addr(fp, addr) & mask; t->slot[i]; i = (i + 1) & mask)
		if (t->slot[i]->addr == addr)
			return t->slot[i];
	return NULL;
}

static struct entry *lru_entry(const struct zt_lru_node *n)
{
	return ZT_LRU_ENTRY(n, struct entry, lru);
}

static void mark_used(struct zt_fakeip *fp, struct entry *e, int64_t now)
{
	/* Never move a last use backwards: a late report must not age a name. */
	if (now > e->last_use)
		e->last_use = now;
	zt_lru_unlink(&fp->lru, &e->lru);
	zt_lru_push_newest(&fp->lru, &e->lru);
}

/* Written without signed overflow whatever the two times are. */
static bool idle_long_enough(int64_t last_use, int64_t now, unsigned int min_idle)
{
	if (now <= last_use)
		return min_idle == 0;
	return (uint64_t)now - (uint64_t)last_use >= min_idle;
}

static bool in_range(const struct zt_fakeip *fp, uint32_t addr)
{
	return addr >= fp->base && (uint64_t)(addr - fp->base) < fp->size;
}

static struct in_addr to_in_addr(uint32_t addr)
{
	struct in_addr a = { .s_addr = htonl(addr) };

	return a;
}

int zt_fakeip_new(struct zt_fakeip **out, const struct zt_prefix *range,
		  unsigned int min_idle, char *err, size_t errlen)
{
	struct zt_fakeip *fp;
	uint32_t base;

	*out = NULL;
	if (range->family != AF_INET || range->len < 8 || range->len > 31) {
		char text[64];

		zt_prefix_format(range, text, sizeof(text));
		snprintf(err, errlen, "fake IP range %s: must be IPv4, /8 to /31", text);
		return -EINVAL;
	}
	fp = calloc(1, sizeof(*fp));
	if (!fp) {
		snprintf(err, errlen, "fake IP pool: out of memory");
		return -ENOMEM;
	}
	memcpy(&base, range->addr + 12, sizeof(base));
	fp->range = *range;
	fp->base = ntohl(base);
	fp->size = 1ULL << (32 - range->len);
	fp->next_fresh = 1;	/* the first address is never handed out */
	fp->min_idle = min_idle;
	fp->max_names = ZT_FAKEIP_DEFAULT_MAX_NAMES;
	fp->jfd = -1;
	/* Without entropy the pool still works, only less hardened. */
	if (getrandom(&fp->seed, sizeof(fp->seed), GRND_NONBLOCK) != sizeof(fp->seed))
		fp->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	*out = fp;
	return 0;
}

void zt_fakeip_free(struct zt_fakeip *fp)
{
	size_t i;

	if (!fp)
		return;
	for (i = 0; i < fp->by_addr.cap; i++) {
		if (fp->by_addr.slot[i]) {
			free(fp->by_addr.slot[i]->name);
			free(fp->by_addr.slot[i]);
		}
	}
	free(fp->by_addr.slot);
	free(fp->by_name.slot);
	if (fp->jfd >= 0)
		close(fp->jfd);
	free(fp);
}

void zt_fakeip_set_max_names(struct zt_fakeip *fp, size_t max_names)
{
	fp->max_names = max_names ? max_names : 1;
}

int zt_fakeip_reserve(struct zt_fakeip *fp, struct in_addr addr)
{
	uint32_t a = ntohl(addr.s_addr);
	struct entry *e;
	int ret;

	if (!in_range(fp, a) || a == fp->base)
		return 0;
	e = find_addr(fp, a);
	if (e)
		return e->name ? -EBUSY : 0;
	ret = table_reserve(fp, BY_ADDR, fp->by_addr.used + 1);
	if (ret)
		return ret;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->addr = a;
	table_put(fp, &fp->by_addr, BY_ADDR, e);
	fp->reserved++;
	return 0;
}

static bool name_ok(const char *name)
{
	size_t len = name ? strnlen(name, ZT_FAKEIP_NAME_MAX) : 0;

	return len > 0 && len < ZT_FAKEIP_NAME_MAX;
}

int zt_fakeip_assign(struct zt_fakeip *fp, const char *name, int64_t now,
		     struct in_addr *addr)
{
	struct entry *e, *fresh = NULL;
	char *dup = NULL;
	uint64_t h;
	int ret;

	if (!name_ok(name))
		return -EINVAL;
	h = hash_name(fp, name);
	e = find_name(fp, name, h);
	if (e) {
		mark_used(fp, e, now);
		*addr = to_in_addr(e->addr);
		return ZT_FAKEIP_EXISTING;
	}

	/* Take everything that can fail first: past this point nothing may. */
	ret = -ENOMEM;
	dup = strdup(name);
	fresh = calloc(1, sizeof(*fresh));
	if (!dup || !fresh)
		goto out;
	ret = table_reserve(fp, BY_NAME, fp->by_name.used + 1);
	if (!ret)
		ret = table_reserve(fp, BY_ADDR, fp->by_addr.used + 1);
	if (ret)
		goto out;

	/* Loaded mappings and reservations sit anywhere: step over them. */
	while (fp->mapped < fp->max_names && fp->next_fresh < fp->size) {
		uint32_t a = fp->base + (uint32_t)fp->next_fresh++;

		if (find_addr(fp, a))
			continue;
		fresh->addr = a;
		fresh->name = dup;
		fresh->name_hash = h;
		fresh->last_use = now;
		table_put(fp, &fp->by_name, BY_NAME, fresh);
		table_put(fp, &fp->by_addr, BY_ADDR, fresh);
		zt_lru_push_newest(&fp->lru, &fresh->lru);
		fp->mapped++;
		fp->dirty = true;
		*addr = to_in_addr(fresh->addr);
		return ZT_FAKEIP_FRESH;
	}

	/* Exhausted (or at the cap): the least recently used name gives up its address, if
	 * it has been idle long enough for flows and cached answers to end. */
	e = lru_entry(fp->lru.oldest);
	if (!e || !idle_long_enough(e->last_use, now, fp->min_idle)) {
		ret = -ENOSPC;
		goto out;
	}
	table_del(fp, BY_NAME, e);
	free(e->name);
	e->name = dup;
	e->name_hash = h;
	e->last_use = now;
	dup = NULL;
	table_put(fp, &fp->by_name, BY_NAME, e);
	zt_lru_unlink(&fp->lru, &e->lru);
	zt_lru_push_newest(&fp->lru, &e->lru);
	fp->dirty = true;
	*addr = to_in_addr(e->addr);
	ret = ZT_FAKEIP_RECLAIMED;
out:
	free(dup);
	free(fresh);
	return ret;
}

int zt_fakeip_lookup_name(const struct zt_fakeip *fp, const char *name,
			  struct in_addr *addr, int64_t *last_use)
{
	struct entry *e;

	if (!name_ok(name))
		return -ENOENT;
	e = find_name(fp, name, hash_name(fp, name));
	if (!e)
		return -ENOENT;
	if (addr)
		*addr = to_in_addr(e->addr);
	if (last_use)
		*last_use = e->last_use;
	return 0;
}

const char *zt_fakeip_lookup_addr(const struct zt_fakeip *fp, struct in_addr addr,
				  int64_t *last_use)
{
	struct entry *e = find_addr(fp, ntohl(addr.s_addr));

	if (!e || !e->name)
		return NULL;
	if (last_use)
		*last_use = e->last_use;
	return e->name;
}

int zt_fakeip_touch(struct zt_fakeip *fp, struct in_addr addr, int64_t now)
{
	struct entry *e = find_addr(fp, ntohl(addr.s_addr));

	if (!e || !e->name)
		return -ENOENT;
	mark_used(fp, e, now);
	return 0;
}

int zt_fakeip_foreach(const struct zt_fakeip *fp, zt_fakeip_visit_fn fn, void *ctx)
{
	const struct entry *e;
	int ret;

	for (e = lru_entry(fp->lru.newest); e; e = lru_entry(e->lru.older)) {
		ret = fn(e->name, to_in_addr(e->addr), e->last_use, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

size_t zt_fakeip_count(const struct zt_fakeip *fp)
{
	return fp->mapped;
}

size_t zt_fakeip_capacity(const struct zt_fakeip *fp)
{
	size_t addrs = (size_t)(fp->size - 1 - fp->reserved);

	return addrs < fp->max_names ? addrs : fp->max_names;
}

void zt_fakeip_file_stats(const struct zt_fakeip *fp, uint64_t *saves, uint64_t *appends)
{
	*saves = fp->saves;
	*appends = fp->appends;
}

bool zt_fakeip_dirty(const struct zt_fakeip *fp)
{
	return fp->dirty;
}

/* Drop every mapping, keep the reservations: back to a new pool. */
static void clear_mappings(struct zt_fakeip *fp)
{
	struct entry *e, *older;

	for (e = lru_entry(fp->lru.newest); e; e = older) {
		older = lru_entry(e->lru.older);
		table_del(fp, BY_ADDR, e);
		free(e->name);
		free(e);
	}
	if (fp->by_name.cap)
		memset(fp->by_name.slot, 0, fp->by_name.cap * sizeof(*fp->by_name.slot));
	fp->by_name.used = 0;
	fp->lru = (struct zt_lru){ 0 };
	fp->mapped = 0;
	fp->next_fresh = 1;
}

static int file_path(const char *state_dir, char *path)
{
	if (snprintf(path, PATH_MAX, "%s/%s", state_dir, ZT_FAKEIP_FILE) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* One mapping as a JSON line: json-c does the quoting. NULL on ENOMEM. */
static json_object *entry_to_json(const struct entry *e)
{
	char text[INET_ADDRSTRLEN];
	struct in_addr a = to_in_addr(e->addr);
	json_object *o = json_object_new_object(), *name, *addr, *last;

	inet_ntop(AF_INET, &a, text, sizeof(text));
	name = json_object_new_string(e->name);
	addr = json_object_new_string(text);
	last = json_object_new_int64(e->last_use);
	if (!o || !name || !addr || !last) {
		json_object_put(o);
		json_object_put(name);
		json_object_put(addr);
		json_object_put(last);
		return NULL;
	}
	json_object_object_add(o, "name", name);
	json_object_object_add(o, "address", addr);
	json_object_object_add(o, "last_use", last);
	return o;
}

/*
 * Saved through lib/fsutil.h's atomic replace. The mappings array is
 * streamed one json-c object at a time: a full range is a million names,
 * too many to build as one tree.
 */
int zt_fakeip_save(struct zt_fakeip *fp, const char *state_dir, char *err, size_t errlen)
{
	struct zt_atomic_file af;
	const struct entry *e;
	char range[64];
	int ret;

	ret = zt_atomic_begin(&af, state_dir, ZT_FAKEIP_FILE, err, errlen);
	if (ret)
		return ret;
	zt_prefix_format(&fp->range, range, sizeof(range));
	fprintf(af.f, "{\n  \"version\": %d,\n  \"range\": \"%s\",\n  \"mappings\": [",
		FAKEIP_FILE_VERSION, range);
	for (e = lru_entry(fp->lru.newest); e; e = lru_entry(e->lru.older)) {
		json_object *o = entry_to_json(e);

		if (!o) {
			snprintf(err, errlen, "saving %s: %s", af.path, strerror(ENOMEM));
			zt_atomic_abort(&af);
			return -ENOMEM;
		}
		fputs(&e->lru == fp->lru.newest ? "\n    " : ",\n    ", af.f);
		fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_SPACED |
						      JSON_C_TO_STRING_NOSLASHESCAPE), af.f);
		json_object_put(o);
	}
	fputs("\n  ]\n}\n", af.f);
	ret = zt_atomic_commit(&af, err, errlen);
	if (ret)
		return ret;
	fp->dirty = false;
	fp->saves++;
	/* Everything the journal said is in the file now: empty it. */
	return journal_reset(fp, state_dir, err, errlen);
}

/*
 * The journal: one JSON line per new or reclaimed mapping, appended and
 * fdatasync'd before its answer leaves, so a new name costs one small
 * write instead of rewriting the whole file. A full save empties it; so
 * does a save once it holds half as many lines as the pool has names (at
 * least JOURNAL_MIN_LINES), which keeps the work per new name constant.
 */
static int journal_path(const char *state_dir, char *path)
{
	if (snprintf(path, PATH_MAX, "%s/%s", state_dir, ZT_FAKEIP_JOURNAL) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

static int journal_open(struct zt_fakeip *fp, const char *state_dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int ret;

	if (fp->jfd >= 0)
		return 0;
	ret = journal_path(state_dir, path);
	if (!ret)
		ret = zt_mkdir_p(state_dir, 0700);
	if (!ret) {
		/* Never through a planted symlink; private like the pool file. */
		fp->jfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fp->jfd < 0)
			ret = -errno;
	}
	if (ret)
		snprintf(err, errlen, "%s/%s: %s", state_dir, ZT_FAKEIP_JOURNAL, strerror(-ret));
	return ret;
}

static int journal_reset(struct zt_fakeip *fp, const char *state_dir, char *err, size_t errlen)
{
	int ret = journal_open(fp, state_dir, err, errlen);

	if (ret)
		return ret;
	if (ftruncate(fp->jfd, 0) || fdatasync(fp->jfd)) {
		ret = -errno;
		snprintf(err, errlen, "emptying %s: %s", ZT_FAKEIP_JOURNAL, strerror(-ret));
		return ret;
	}
	fp->jlines = 0;
	return 0;
}

int zt_fakeip_persist(struct zt_fakeip *fp, const char *state_dir, const char *name,
		      char *err, size_t errlen)
{
	struct entry *e = name_ok(name) ? find_name(fp, name, hash_name(fp, name)) : NULL;
	const char *text;
	json_object *o;
	size_t len, off = 0;
	char *line;
	int ret;

	if (!e)
		return -ENOENT;
	if (fp->jlines >= JOURNAL_MIN_LINES && fp->jlines >= fp->mapped / 2)
		return zt_fakeip_save(fp, state_dir, err, errlen);
	ret = journal_open(fp, state_dir, err, errlen);
	if (ret)
		return ret;
	o = entry_to_json(e);
	if (!o)
		return -ENOMEM;
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(text);
	line = malloc(len + 1);
	if (!line) {
		json_object_put(o);
		return -ENOMEM;
	}
	memcpy(line, text, len);
	line[len++] = '\n';
	json_object_put(o);
	/* One write of the whole line: O_APPEND keeps lines whole. */
	while (off < len) {
		ssize_t w = write(fp->jfd, line + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(line);
	if (off < len || fdatasync(fp->jfd)) {
		ret = errno ? -errno : -EIO;
		snprintf(err, errlen, "appending to %s: %s", ZT_FAKEIP_JOURNAL, strerror(-ret));
		return ret;
	}
	fp->jlines++;
	fp->appends++;
	return 0;
}

/* Forget mapping E (loading a journal that moved its name or address). */
static void drop_entry(struct zt_fakeip *fp, struct entry *e)
{
	table_del(fp, BY_NAME, e);
	table_del(fp, BY_ADDR, e);
	zt_lru_unlink(&fp->lru, &e->lru);
	free(e->name);
	free(e);
	fp->mapped--;
}

/* Add a loaded mapping NAME -> A, newest or oldest in the LRU order. 0 or -ENOMEM. */
static int add_loaded(struct zt_fakeip *fp, const char *name, uint32_t a, int64_t last,
		      int64_t now, bool newest)
{
	struct entry *e = NULL;
	int ret;

	ret = table_reserve(fp, BY_NAME, fp->by_name.used + 1);
	if (!ret)
		ret = table_reserve(fp, BY_ADDR, fp->by_addr.used + 1);
	if (!ret) {
		e = calloc(1, sizeof(*e));
		if (e)
			e->name = strdup(name);
		if (!e || !e->name)
			ret = -ENOMEM;
	}
	if (ret) {
		if (e)
			free(e->name);
		free(e);
		return ret;
	}
	e->addr = a;
	e->name_hash = hash_name(fp, name);
	e->last_use = last > now ? now : last;
	table_put(fp, &fp->by_name, BY_NAME, e);
	table_put(fp, &fp->by_addr, BY_ADDR, e);
	if (newest)
		zt_lru_push_newest(&fp->lru, &e->lru);
	else
		zt_lru_push_oldest(&fp->lru, &e->lru);	/* the file lists the most recent first */
	fp->mapped++;
	return 0;
}

/* Add one mapping read from the file. 1 added, 0 dropped, -errno. */
static int load_one(struct zt_fakeip *fp, json_object *m, size_t idx, int64_t now,
		    char *err, size_t errlen)
{
	json_object *jname, *jaddr, *jlast;
	struct entry *e = NULL;
	const char *name;
	struct in_addr in;
	uint32_t a;
	int64_t last;
	int ret;

	if (!json_object_is_type(m, json_type_object) ||
	    !json_object_object_get_ex(m, "name", &jname) ||
	    !json_object_is_type(jname, json_type_string) ||
	    !json_object_object_get_ex(m, "address", &jaddr) ||
	    !json_object_is_type(jaddr, json_type_string) ||
	    !json_object_object_get_ex(m, "last_use", &jlast) ||
	    !json_object_is_type(jlast, json_type_int)) {
		snprintf(err, errlen, "mapping %zu: needs name, address and last_use", idx);
		return -EINVAL;
	}
	name = json_object_get_string(jname);
	if (!name_ok(name) || strlen(name) != (size_t)json_object_get_string_len(jname)) {
		snprintf(err, errlen, "mapping %zu: invalid name", idx);
		return -EINVAL;
	}
	if (inet_pton(AF_INET, json_object_get_string(jaddr), &in) != 1) {
		snprintf(err, errlen, "mapping %zu: invalid address", idx);
		return -EINVAL;
	}
	a = ntohl(in.s_addr);
	last = json_object_get_int64(jlast);

	/* The range or the reservations may have changed since the save. */
	if (!in_range(fp, a) || a == fp->base)
		return 0;
	e = find_addr(fp, a);
	if (e && !e->name)
		return 0;
	if (e || find_name(fp, name, hash_name(fp, name))) {
		snprintf(err, errlen, "mapping %zu: %s held twice", idx,
			 e ? "address" : "name");
		return -EINVAL;
	}

	if (fp->mapped >= fp->max_names)
		return 0;			/* the cap: the oldest ones go */
	ret = add_loaded(fp, name, a, last, now, false);
	if (ret < 0) {
		snprintf(err, errlen, "mapping %zu: %s", idx, strerror(-ret));
		return ret;
	}
	return 1;
}

/* A journal line: NAME holds ADDR from now on, whoever held either before. */
static int journal_apply(struct zt_fakeip *fp, json_object *m, int64_t now)
{
	json_object *jname, *jaddr, *jlast;
	const char *name;
	struct in_addr in;
	struct entry *e;
	uint32_t a;
	int ret;

	if (!json_object_is_type(m, json_type_object) ||
	    !json_object_object_get_ex(m, "name", &jname) ||
	    !json_object_is_type(jname, json_type_string) ||
	    !json_object_object_get_ex(m, "address", &jaddr) ||
	    !json_object_is_type(jaddr, json_type_string) ||
	    !json_object_object_get_ex(m, "last_use", &jlast) ||
	    !json_object_is_type(jlast, json_type_int))
		return -EINVAL;
	name = json_object_get_string(jname);
	if (!name_ok(name) || strlen(name) != (size_t)json_object_get_string_len(jname) ||
	    inet_pton(AF_INET, json_object_get_string(jaddr), &in) != 1)
		return -EINVAL;
	a = ntohl(in.s_addr);
	if (!in_range(fp, a) || a == fp->base)
		return 0;
	e = find_addr(fp, a);
	if (e && !e->name)
		return 0;			/* reserved since */
	if (e)
		drop_entry(fp, e);
	e = find_name(fp, name, hash_name(fp, name));
	if (e)
		drop_entry(fp, e);
	ret = add_loaded(fp, name, a, json_object_get_int64(jlast), now, true);
	while (!ret && fp->mapped > fp->max_names)
		drop_entry(fp, lru_entry(fp->lru.oldest));
	return ret;
}

/*
 * Replay STATE_DIR/fakeip.journal over what the file held. A torn last
 * line (a crash mid-append: its answer never left) is skipped, as is any
 * other line that does not parse. 0 or -errno with ERR set.
 */
static int journal_replay(struct zt_fakeip *fp, const char *state_dir, int64_t now,
			  char *err, size_t errlen)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	int fd, ret = journal_path(state_dir, path);

	if (ret)
		return ret;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || !(f = fdopen(fd, "r"))) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		json_object *m = json_tokener_parse(line);

		ret = m ? journal_apply(fp, m, now) : -EINVAL;
		json_object_put(m);
		if (ret == -ENOMEM)
			break;
		ret = 0;
		fp->jlines++;
		fp->dirty = true;	/* the next save folds the journal in */
	}
	free(line);
	fclose(f);
	if (ret == -ENOMEM) {
		snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
		clear_mappings(fp);
		return ret;
	}
	return 0;
}

int zt_fakeip_load(struct zt_fakeip *fp, const char *state_dir, int64_t now,
		   char *err, size_t errlen)
{
	char path[PATH_MAX], msg[256];
	json_object *obj, *v, *maps;
	size_t i, n, loaded = 0;
	int fd, ret;

	if (fp->mapped) {
		snprintf(err, errlen, "fake IP pool: load into a pool already in use");
		return -EBUSY;
	}
	ret = file_path(state_dir, path);
	if (ret) {
		snprintf(err, errlen, "%s: %s", state_dir, strerror(-ret));
		return ret;
	}
	/* Never through a planted symlink. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		ret = journal_replay(fp, state_dir, now, err, errlen);
		return ret < 0 ? ret : (int)(fp->mapped > INT_MAX ? INT_MAX : fp->mapped);
	}
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	obj = json_object_from_fd(fd);
	close(fd);
	if (!obj) {
		const char *why = json_util_get_last_err();
		size_t n;

		/* json-c's message ends in a newline; ours are one line. */
		snprintf(err, errlen, "%s: %s", path, why ? why : "unreadable");
		n = strlen(err);
		while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
			err[--n] = '\0';
		return -EINVAL;
	}
	ret = -EINVAL;
	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "version", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) != FAKEIP_FILE_VERSION) {
		snprintf(err, errlen, "%s: not a version %d fake IP file", path,
			 FAKEIP_FILE_VERSION);
		goto out;
	}
	if (!json_object_object_get_ex(obj, "mappings", &maps) ||
	    !json_object_is_type(maps, json_type_array)) {
		snprintf(err, errlen, "%s: no mappings array", path);
		goto out;
	}
	n = json_object_array_length(maps);
	for (i = 0; i < n; i++) {
		ret = load_one(fp, json_object_array_get_idx(maps, i), i, now, msg, sizeof(msg));
		if (ret < 0) {
			snprintf(err, errlen, "%s: %s", path, msg);
			clear_mappings(fp);
			goto out;
		}
		loaded += (size_t)ret;
	}
	/* Dropped mappings make the file stale: the next lazy save rewrites it. */
	fp->dirty = loaded != n;
	json_object_put(obj);
	ret = journal_replay(fp, state_dir, now, err, errlen);
	if (ret < 0)
		return ret;
	loaded = fp->mapped;
	return loaded > INT_MAX ? INT_MAX : (int)loaded;
out:
	json_object_put(obj);
	return ret;
}
