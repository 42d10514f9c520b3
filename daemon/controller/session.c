// SPDX-License-Identifier: GPL-2.0-only
/*
 * Security policy session lifetime (model.h): a user's device whose
 * session (from its enrollment or its last re-authentication, the device's
 * "session_start") is older than the "session_lifetime" of the policy of
 * an access rule loses that rule's grants in its connectors' views until
 * it re-authenticates (zt_model_reauth, devices.c). A service account's
 * device re-authenticates by its key: while the device exists and its
 * account is enabled, its session does not expire. The controller role
 * keeps one timer on the earliest expiry (zt_model_expire): at that time
 * only the connectors of the rules concerned are recomputed.
 *
 * Allowed hours (hours.c) ride on the same timer: a rule whose policy has
 * "hours" grants nothing outside them, and each boundary of the window is
 * an expiry of the rule for every device at once. Called by view.c (the
 * grants, zt_grant_expired, which also withholds the grants of an expired
 * service account key, keys.c) and roles/controller.c (the timer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/internal.h"
#include "controller/model.h"

int64_t zt_device_session_start(const struct zt_mobj *d)
{
	json_object *v;

	if (json_object_object_get_ex(d->body, "session_start", &v) &&
	    json_object_is_type(v, json_type_int))
		return json_object_get_int64(v);
	return d->created;	/* enrolled before sessions were recorded */
}

/* Access rule ACC's policy, or NULL. */
static const struct zt_mobj *rule_policy(const struct zt_model *m, const struct zt_mobj *acc)
{
	const char *name = zt_mobj_str(acc, "policy");

	return *name ? zt_model_find(m, ZT_K_POLICY, name) : NULL;
}

/* The allowed hours of access rule ACC's policy, NULL for none (always). */
static const char *rule_hours(const struct zt_model *m, const struct zt_mobj *acc)
{
	const struct zt_mobj *p = rule_policy(m, acc);
	const char *h = p ? zt_mobj_str(p, "hours") : "";

	return *h ? h : NULL;
}

/* The zone of those hours ("" for UTC). */
static const char *rule_tz(const struct zt_model *m, const struct zt_mobj *acc)
{
	const struct zt_mobj *p = rule_policy(m, acc);

	return p ? zt_mobj_str(p, "tz") : "";
}

/* The session lifetime of access rule ACC's policy, 0 for none. */
static int64_t rule_lifetime(const struct zt_model *m, const struct zt_mobj *acc)
{
	const struct zt_mobj *p = rule_policy(m, acc);
	json_object *v;

	if (!p || !json_object_object_get_ex(p->body, "session_lifetime", &v))
		return 0;
	return json_object_get_int64(v) > 0 ? json_object_get_int64(v) : 0;
}

/* When device D of principal P loses rule ACC's grants; 0: never. */
static int64_t grant_expiry(const struct zt_model *m, const struct zt_mobj *acc,
			    const struct zt_mobj *p, const struct zt_mobj *d)
{
	int64_t life;

	if (p->kind != ZT_K_USER)
		return 0;	/* a service account's key re-authenticates it */
	life = rule_lifetime(m, acc);
	return life ? zt_device_session_start(d) + life : 0;
}

bool zt_grant_expired(const struct zt_model *m, const struct zt_mobj *acc,
		      const struct zt_mobj *p, const struct zt_mobj *d)
{
	int64_t exp = grant_expiry(m, acc, p, d), now = m->now();
	const char *hours = rule_hours(m, acc);

	if (hours && !zt_hours_allow(hours, rule_tz(m, acc), now))
		return true;	/* outside the allowed hours: no grant, whoever asks */
	if (zt_device_key_expired(m, d))
		return true;	/* a service account's key past its expiry (keys.c) */
	return exp && exp <= now;
}

/* The connectors of rule ACC's resource's network: their views move. */
static void rule_changed(struct zt_model *m, const struct zt_mobj *acc)
{
	const struct zt_mobj *r = zt_model_find(m, ZT_K_RESOURCE, zt_mobj_str(acc, "resource"));
	struct zt_idents s = { 0 };
	struct zt_mobj *const *c;
	size_t n;

	if (!r || !m->changed)
		return;
	c = zt_index_related(m, "cn", zt_mobj_str(r, "network"), &n);
	for (size_t i = 0; i < n; i++)
		if (!zt_idents_add(&s, ZT_NODE_CONNECTOR, c[i]))
			m->changed(m->changed_arg, &s.v[s.n - 1]);
	free(s.v);
}

/*
 * One rule's devices: the views of its connectors move when a session
 * expired since the last look (LAST, NOW]; *NEXT lowered to its next expiry.
 */
static void rule_expire(struct zt_model *m, const struct zt_mobj *acc, int64_t last, int64_t now,
			int64_t *next)
{
	size_t np, nd;
	struct zt_mobj *const *ps = zt_index_related(m, "m", zt_mobj_str(acc, "group"), &np);
	bool moved = false;

	for (size_t i = 0; i < np; i++) {
		char owner[256];
		struct zt_mobj *const *ds;

		if (ps[i]->kind != ZT_K_USER || zt_mobj_bool(ps[i], "disabled"))
			continue;
		snprintf(owner, sizeof(owner), "%s:%s", zt_kind_name(ps[i]->kind), ps[i]->name);
		ds = zt_index_related(m, "do", owner, &nd);
		for (size_t k = 0; k < nd; k++) {
			int64_t exp = grant_expiry(m, acc, ps[i], ds[k]);

			if (exp > last && exp <= now)
				moved = true;
			else if (exp > now && (!*next || exp < *next))
				*next = exp;
		}
	}
	if (moved)
		rule_changed(m, acc);
}

int64_t zt_model_expire(struct zt_model *m)
{
	int64_t now = m->now(), next = 0;

	for (size_t i = 0; i < m->n[ZT_K_ACCESS]; i++) {
		const struct zt_mobj *acc = m->objs[ZT_K_ACCESS][i];
		const char *hours = rule_hours(m, acc);

		if (rule_lifetime(m, acc))
			rule_expire(m, acc, m->expiry_checked, now, &next);
		if (hours) {
			/* A boundary passed since the last look: the rule's grants moved. */
			const char *tz = rule_tz(m, acc);
			int64_t b = zt_hours_next(hours, tz, m->expiry_checked);
			int64_t nb = zt_hours_next(hours, tz, now);

			if (b && b <= now)
				rule_changed(m, acc);
			if (nb && (!next || nb < next))
				next = nb;
		}
	}
	m->expiry_checked = now;
	return next;
}
