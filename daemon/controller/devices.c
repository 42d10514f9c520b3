// SPDX-License-Identifier: GPL-2.0-only
/*
 * Enrollment (model.h): a node's token hash and key become a connector's
 * key or a new device of a user or service account, with a tunnel address
 * from 100.64.0.0/12, in one transaction with the token marked used and
 * "token.used" audited; a refused token is audited "token.refused". Also
 * the lookup of a known node by its key (an expired service account key,
 * keys.c, is unknown). Called by the node server's
 * operations (nodes.c) and the tests.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/db.h"
#include "controller/internal.h"
#include "controller/model.h"

/* Tunnel addresses: 100.64.0.0/12 (README's address plan), from .0.2 up. */
#define TUNNEL_BASE	0x64400000u
#define TUNNEL_FIRST	(TUNNEL_BASE + 2)
#define TUNNEL_END	(TUNNEL_BASE + (1u << 20) - 1)	/* the broadcast-like last one excluded */

int zt_model_next_address(const struct zt_model *m, char *out, size_t len)
{
	uint32_t span = TUNNEL_END - TUNNEL_FIRST;
	char key[32];
	struct in_addr a;

	/* From just after the last one given, wrapping once: O(1) while there is room. */
	for (uint32_t i = 0; i < span; i++) {
		uint32_t cand = TUNNEL_FIRST + (m->addr_hint + i) % span;

		a.s_addr = htonl(cand);
		inet_ntop(AF_INET, &a, out, (socklen_t)len);
		snprintf(key, sizeof(key), "a:%s", out);
		if (!zt_index_one(m, key))
			return 0;
	}
	return -ENOSPC;
}

/* The connector or device whose "pubkey" is B64, or NULL. */
static struct zt_mobj *find_key(const struct zt_model *m, const char *b64, enum zt_kind *kind)
{
	char key[64];
	struct zt_mobj *o;

	snprintf(key, sizeof(key), "k:%s", b64);
	o = zt_index_one(m, key);
	if (o)
		*kind = o->kind;
	return o;
}

static void fill_ident(struct zt_node_ident *ident, enum zt_kind k, const struct zt_mobj *o)
{
	ident->kind = k == ZT_K_CONNECTOR ? ZT_NODE_CONNECTOR : ZT_NODE_DEVICE;
	ident->id = o->id;
	snprintf(ident->name, sizeof(ident->name), "%s", o->name);
}

int zt_model_lookup_key(const struct zt_model *m, const uint8_t pub[ZT_KEY_LEN],
			struct zt_node_ident *ident)
{
	char b64[ZT_KEY_B64_LEN + 1];
	enum zt_kind k;
	const struct zt_mobj *o;

	zt_key_to_base64(pub, b64);
	o = find_key(m, b64, &k);
	if (!o)
		return -ENOENT;
	if (k == ZT_K_DEVICE) {
		const struct zt_mobj *owner = zt_device_owner(m, o);

		if (!owner || zt_mobj_bool(owner, "disabled") || zt_device_key_expired(m, o))
			return -ENOENT;
	}
	fill_ident(ident, k, o);
	return 0;
}

/* A device name from OWNER and the node's HOSTNAME: "alice-laptop", unique, policy-safe. */
static void device_name(const struct zt_model *m, const struct zt_mobj *owner,
			const char *hostname, char *out, size_t len)
{
	char base[48];
	size_t k = 0;

	snprintf(base, sizeof(base), "%.*s-%s", (int)strcspn(owner->name, "@"), owner->name,
		 hostname && *hostname ? hostname : "device");
	for (size_t i = 0; base[i] && k < sizeof(base) - 1; i++)
		base[k++] = isalnum((unsigned char)base[i]) || strchr("-_.", base[i]) ? base[i] : '-';
	base[k] = '\0';
	snprintf(out, len, "%s", base);
	for (int n = 2; zt_model_find(m, ZT_K_DEVICE, out); n++)
		snprintf(out, len, "%s-%d", base, n);
}

struct used_token {
	const char *hash;
	char now[24];
	const char *by;
};

static int mark_used(struct zt_model *m, void *arg, char *err, size_t errlen)
{
	struct used_token *u = arg;
	const char *p[] = { u->now, u->by, u->hash };

	return zt_db_exec(m->db, "UPDATE tokens SET used_at = $1, used_by = $2 WHERE hash = $3"
			  " AND used_at IS NULL", 3, p, err, errlen);
}

/* The new device of OWNER with key B64 into TX; its key expires KEY_TTL after now (0: never). */
static int new_device(struct zt_model *m, struct zt_mtx *tx, const struct zt_mobj *owner,
		      const char *b64, int64_t key_ttl, json_object *hello, char *err,
		      size_t errlen)
{
	json_object *body = json_object_new_object(), *h;
	char name[64], addr[INET_ADDRSTRLEN];
	const char *host = "";
	struct zt_mobj *d;

	if (json_object_object_get_ex(hello, "hostname", &h) && json_object_is_type(h, json_type_string))
		host = json_object_get_string(h);
	if (zt_model_next_address(m, addr, sizeof(addr))) {
		json_object_put(body);
		snprintf(err, errlen, "no tunnel address left in 100.64.0.0/12");
		return -ENOSPC;
	}
	device_name(m, owner, host, name, sizeof(name));
	m->addr_hint = (uint32_t)(ntohl(inet_addr(addr)) - TUNNEL_FIRST + 1);
	json_object_object_add(body, "owner_kind", json_object_new_string(zt_kind_name(owner->kind)));
	json_object_object_add(body, "owner", json_object_new_string(owner->name));
	json_object_object_add(body, "pubkey", json_object_new_string(b64));
	json_object_object_add(body, "address", json_object_new_string(addr));
	json_object_object_add(body, "hostname", json_object_new_string(host));
	json_object_object_add(body, "session_start", json_object_new_int64(m->now()));
	/* From enrollment, not from the token: a token left unused does not eat the key's life. */
	if (key_ttl > 0)
		json_object_object_add(body, "key_expires", json_object_new_int64(m->now() + key_ttl));
	d = zt_mobj_new(m, ZT_K_DEVICE, name, body);
	return d ? zt_mtx_add(tx, ZT_OP_ADD, d, NULL) : -ENOMEM;
}

/* The connector TARGET takes key B64 into TX. */
static int bind_connector(struct zt_model *m, struct zt_mtx *tx, struct zt_mobj *c,
			  const char *b64)
{
	json_object *body = zt_body_start(c);
	struct zt_mobj *o;

	json_object_object_add(body, "pubkey", json_object_new_string(b64));
	o = zt_mobj_edit(m, c, body);
	return o ? zt_mtx_add(tx, ZT_OP_SET, o, c) : -ENOMEM;
}

/* The token row of HASH: kind, target, key_ttl (KEY_TTL may be NULL); or why it is refused. */
static int token_check(struct zt_model *m, const char *hash, enum zt_kind *kind,
		       struct zt_mobj **target, int64_t *key_ttl, char *err, size_t errlen)
{
	const char *p[] = { hash };
	struct zt_db_rows *r;
	int ret, k;

	ret = zt_db_query(m->db, "SELECT kind, target, expires, used_at, key_ttl FROM tokens"
			  " WHERE hash = $1", 1, p, &r, err, errlen);
	if (ret)
		return ret;
	k = r->nrows ? zt_kind_from_name(zt_db_cell(r, 0, 0)) : -1;
	*target = k >= 0 ? zt_model_find(m, (enum zt_kind)k, zt_db_cell(r, 0, 1)) : NULL;
	if (!r->nrows)
		snprintf(err, errlen, "unknown token");
	else if (zt_db_cell(r, 0, 3))
		snprintf(err, errlen, "token already used");
	else if (strtoll(zt_db_cell(r, 0, 2), NULL, 10) < m->now())
		snprintf(err, errlen, "token expired");
	else if (!*target || zt_mobj_bool(*target, "disabled"))
		snprintf(err, errlen, "token's %s is gone or disabled", zt_db_cell(r, 0, 0));
	else
		ret = 1;
	if (ret == 1 && key_ttl)
		*key_ttl = strtoll(zt_db_cell(r, 0, 4), NULL, 10);
	zt_db_rows_free(r);
	if (ret != 1)
		return -EACCES;
	*kind = (enum zt_kind)k;
	return 0;
}

/* A refused enrollment, audited in its own transaction. */
static int refuse(struct zt_model *m, const char *hash, const char *why)
{
	json_object *d = json_object_new_object();

	json_object_object_add(d, "reason", json_object_new_string(why));
	json_object_object_add(d, "hash_prefix", json_object_new_string_len(hash, 8));
	zt_model_audit_event(m, "node", "token.refused", "token", NULL, d);
	return -EACCES;
}

/*
 * The hello's role against the token's kind: a connector token enrolls only
 * a `ztgated connector`, a user's or service account's only a `ztgated
 * client`. 0, or -EACCES with ERR.
 */
static int role_check(enum zt_kind kind, json_object *hello, char *err, size_t errlen)
{
	const char *want = kind == ZT_K_CONNECTOR ? "connector" : "client";
	json_object *r;
	const char *role = json_object_object_get_ex(hello, "role", &r) &&
			   json_object_is_type(r, json_type_string) ? json_object_get_string(r) : "";

	if (!strcmp(role, want))
		return 0;
	snprintf(err, errlen, "token is for a %s, the node says it is a '%s'", zt_kind_name(kind),
		 role);
	return -EACCES;
}

/* One attempt; -EAGAIN when another controller wrote first. */
static int enroll_once(struct zt_model *m, const char *token_hash, const uint8_t pub[ZT_KEY_LEN],
		       json_object *hello, struct zt_node_ident *ident, char *err, size_t errlen)
{
	struct used_token used = { .hash = token_hash };
	char b64[ZT_KEY_B64_LEN + 1];
	struct zt_mobj *target, *o;
	enum zt_kind kind, k;
	struct zt_mtx tx;
	int64_t key_ttl = 0;
	int ret;

	ret = token_check(m, token_hash, &kind, &target, &key_ttl, err, errlen);
	if (ret == -EACCES)
		return refuse(m, token_hash, err);
	if (ret)
		return ret;
	if (role_check(kind, hello, err, errlen))
		return refuse(m, token_hash, err);
	zt_key_to_base64(pub, b64);
	if (find_key(m, b64, &k)) {
		snprintf(err, errlen, "key already enrolled");
		return refuse(m, token_hash, err);
	}
	zt_mtx_init(&tx, "node");
	used.by = kind == ZT_K_CONNECTOR ? target->name : b64;
	snprintf(used.now, sizeof(used.now), "%" PRId64, m->now());
	tx.sql = mark_used;
	tx.sql_arg = &used;
	ret = kind == ZT_K_CONNECTOR ? bind_connector(m, &tx, target, b64)
				     : new_device(m, &tx, target, b64, key_ttl, hello, err, errlen);
	if (!ret) {
		o = tx.ch[0].obj;	/* the model's once committed; its id is given then */
		zt_mtx_audit(&tx, "token.used", zt_kind_name(kind), target->name, NULL,
			     json_object_new_string(o->name));
		ret = zt_model_commit(m, &tx, err, errlen);
		if (!ret)
			fill_ident(ident, kind == ZT_K_CONNECTOR ? ZT_K_CONNECTOR : ZT_K_DEVICE, o);
	}
	zt_mtx_free(&tx);
	return ret;
}

int zt_model_enroll(struct zt_model *m, const char *token_hash, const uint8_t pub[ZT_KEY_LEN],
		    json_object *hello, struct zt_node_ident *ident, char *err, size_t errlen)
{
	int ret = -EAGAIN;

	/*
	 * The token may come from another controller (catch up first), and
	 * another controller may write first (catch up and enroll again).
	 */
	if (zt_model_write_lock(m, err, errlen))
		return -EIO;
	for (int i = 0; i < ZT_WRITE_TRIES && ret == -EAGAIN; i++) {
		if (zt_model_sync(m, err, errlen)) {
			ret = -EIO;
			break;
		}
		ret = enroll_once(m, token_hash, pub, hello, ident, err, errlen);
	}
	zt_model_write_unlock(m);
	return ret;
}

/* Whether token TARGET (of KIND) may re-authenticate device D: its own user's device token. */
static const char *reauth_refusal(const struct zt_mobj *d, enum zt_kind kind,
				  const struct zt_mobj *target)
{
	if (!d)
		return "unknown device";
	if (kind != ZT_K_USER || strcmp(zt_mobj_str(d, "owner_kind"), zt_kind_name(ZT_K_USER)))
		return "not a device token of a user";
	if (strcmp(zt_mobj_str(d, "owner"), target->name))
		return "the token is for another user";
	return NULL;
}

int zt_model_reauth(struct zt_model *m, const struct zt_node_ident *ident, const char *token_hash,
		    char *err, size_t errlen)
{
	struct used_token used = { .hash = token_hash };
	struct zt_mobj *d = ident->kind == ZT_NODE_DEVICE ? zt_model_find_id(m, ZT_K_DEVICE, ident->id)
							  : NULL;
	struct zt_mobj *target, *o;
	const char *why;
	json_object *body;
	enum zt_kind kind;
	struct zt_mtx tx;
	int ret;

	ret = token_check(m, token_hash, &kind, &target, NULL, err, errlen);
	if (ret == -EACCES)
		return refuse(m, token_hash, err);
	if (ret)
		return ret;
	why = reauth_refusal(d, kind, target);
	if (why) {
		snprintf(err, errlen, "%s", why);
		return refuse(m, token_hash, err);
	}
	body = zt_body_start(d);
	json_object_object_add(body, "session_start", json_object_new_int64(m->now()));
	o = zt_mobj_edit(m, d, body);
	if (!o) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	zt_mtx_init(&tx, "node");
	used.by = d->name;
	snprintf(used.now, sizeof(used.now), "%" PRId64, m->now());
	tx.sql = mark_used;
	tx.sql_arg = &used;
	ret = zt_mtx_add(&tx, ZT_OP_SET, o, d);
	if (!ret) {
		zt_mtx_audit(&tx, "device.reauth", zt_kind_name(ZT_K_DEVICE), d->name, NULL,
			     json_object_new_string(target->name));
		ret = zt_model_commit(m, &tx, err, errlen);
	}
	zt_mtx_free(&tx);
	return ret;
}
