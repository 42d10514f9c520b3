// SPDX-License-Identifier: GPL-2.0-only
/*
 * Service account key expiry (model.h): a service account's device may
 * carry "key_expires" (Unix seconds, set at enrollment from its token's
 * key_ttl, devices.c). Past it the device's grants are withheld (session.c
 * asks zt_device_key_expired for every grant), its key is unknown to
 * zt_model_lookup_key (its next session is refused), and the controller
 * role's timer calls zt_model_expire_keys at the expiry: the device is
 * marked "key_expired" in one audited transaction ("device.key_expired")
 * and handed back so that the role closes its session, like a revoked
 * device. The mark makes the audit record once per key, across restarts
 * and across controllers sharing the database (bar a race of two firing
 * in the same instant). An admin renews a key in place (`admin device set
 * NAME --key-expires D|never`, through ops.c's set: one transaction, an
 * "update" record with the device before and after): a new expiry from
 * now and the mark gone, so an expired key is known again, its grants
 * come back and its next expiry is marked and audited in its turn.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/internal.h"
#include "controller/model.h"

static int64_t key_expires(const struct zt_mobj *d)
{
	json_object *v;

	if (json_object_object_get_ex(d->body, "key_expires", &v) &&
	    json_object_is_type(v, json_type_int))
		return json_object_get_int64(v);
	return 0;
}

bool zt_device_key_expired(const struct zt_model *m, const struct zt_mobj *d)
{
	int64_t exp = key_expires(d);

	return exp && exp <= m->now();
}

int zt_device_key_renew(struct zt_model *m, const struct zt_mobj *old, json_object *args,
			json_object **out, char *err, size_t errlen)
{
	const char *kexp = zt_arg_str(args, "key_expires");
	const struct zt_mobj *owner = zt_device_owner(m, old);
	int64_t ttl = 0;

	if (!kexp) {
		snprintf(err, errlen, "a device changes only by enrolling again (rm revokes it), or a"
			 " service account's key by --key-expires D|never");
		return -EINVAL;
	}
	if (!owner || owner->kind != ZT_K_SA) {
		snprintf(err, errlen, "--key-expires is for service accounts' keys");
		return -EINVAL;
	}
	if (strcmp(kexp, "never") && (zt_parse_duration(kexp, &ttl) || ttl < 10)) {
		snprintf(err, errlen, "invalid --key-expires '%.64s': e.g. 90d, 24h (at least 10s),"
			 " or never", kexp);
		return -EINVAL;
	}
	*out = zt_body_start(old);
	json_object_object_del(*out, "key_expired");
	if (ttl)
		json_object_object_add(*out, "key_expires", json_object_new_int64(m->now() + ttl));
	else
		json_object_object_del(*out, "key_expires");
	return 0;
}

/* Device D's key expired: marked, audited, in one transaction. */
static int mark_expired(struct zt_model *m, struct zt_mobj *d, char *err, size_t errlen)
{
	json_object *body = zt_body_start(d);
	struct zt_mobj *o;
	struct zt_mtx tx;
	int ret;

	json_object_object_add(body, "key_expired", json_object_new_boolean(1));
	o = zt_mobj_edit(m, d, body);
	if (!o) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	zt_mtx_init(&tx, "controller");
	ret = zt_mtx_add(&tx, ZT_OP_SET, o, d);
	if (!ret) {
		zt_mtx_audit(&tx, "device.key_expired", zt_kind_name(ZT_K_DEVICE), d->name, NULL,
			     json_object_new_int64(key_expires(d)));
		ret = zt_model_commit(m, &tx, err, errlen);
	}
	zt_mtx_free(&tx);
	return ret;
}

int zt_model_expire_keys(struct zt_model *m, int64_t *next, struct zt_node_ident **gone,
			 size_t *ngone, char *err, size_t errlen)
{
	struct zt_idents due = { 0 };
	int64_t now = m->now();
	int ret = 0;

	*next = 0;
	*gone = NULL;
	*ngone = 0;
	/* Service accounts are few: walk their devices, collect the due ones, then write. */
	for (size_t i = 0; i < m->n[ZT_K_SA] && !ret; i++) {
		const struct zt_mobj *sa = m->objs[ZT_K_SA][i];
		struct zt_mobj *const *ds;
		char owner[256];
		size_t nd;

		snprintf(owner, sizeof(owner), "%s:%s", zt_kind_name(sa->kind), sa->name);
		ds = zt_index_related(m, "do", owner, &nd);
		for (size_t k = 0; k < nd && !ret; k++) {
			int64_t exp = key_expires(ds[k]);

			if (!exp || zt_mobj_bool(ds[k], "key_expired"))
				continue;
			if (exp <= now)
				ret = zt_idents_add(&due, ZT_NODE_DEVICE, ds[k]);
			else if (!*next || exp < *next)
				*next = exp;
		}
	}
	if (ret) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < due.n && !ret; i++) {
		struct zt_mobj *d = zt_model_find_id(m, ZT_K_DEVICE, due.v[i].id);

		if (d)
			ret = mark_expired(m, d, err, errlen);
	}
	if (ret)
		*next = now + 1;	/* the database said no: try again in a second */
	/* Its session closes even if the mark must wait: the key is refused already. */
	*gone = due.v;
	*ngone = due.n;
	due.v = NULL;
out:
	free(due.v);
	return ret;
}
