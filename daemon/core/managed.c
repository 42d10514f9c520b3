// SPDX-License-Identifier: GPL-2.0-only
/*
 * A controller-managed node (managed.h): the agent opened with the core's
 * policy path as its apply callback. A view is {"policy", "self",
 * "relays"}: its policy goes live through zt_daemon_apply_document (the
 * same compile, save and flip as `ztgate apply`), then the role sees its
 * "self" (view_self); its "relays" join the role's --relay when the role
 * opens its relays (zt_managed_relays_merge), and a change of them later
 * goes to the role (view_relays). Called by lifecycle.c, commands.c and the roles.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/mem.h>

#include "agent/agent.h"
#include "core/daemon.h"
#include "core/managed.h"
#include "core/role.h"
#include "lib/log.h"

#define MANAGED_RELAYS_MAX	8

struct zt_managed {
	struct zt_agent_identity id;
	struct zt_agent *agent;
	char endpoint[64];
	char *relays[MANAGED_RELAYS_MAX];	/* the view's, as the relays in use took them */
	size_t nrelays;
	bool relays_taken;			/* a role opened its relays with them: changes go to view_relays */
};

/*
 * The view's "relays" (strings) into M, or with COMPARE_ONLY only compared.
 * Returns whether they were M's already.
 */
static bool relays_take(struct zt_managed *m, json_object *view, bool compare_only)
{
	json_object *arr;
	size_t n = 0;
	bool same;

	if (!json_object_object_get_ex(view, "relays", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		arr = NULL;
	n = arr ? json_object_array_length(arr) : 0;
	n = n > MANAGED_RELAYS_MAX ? MANAGED_RELAYS_MAX : n;
	same = n == m->nrelays;
	for (size_t i = 0; same && i < n; i++)
		same = !strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), m->relays[i]);
	if (same || compare_only)
		return same;
	for (size_t i = 0; i < m->nrelays; i++)
		free(m->relays[i]);
	m->nrelays = 0;
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(arr, i);

		if (json_object_is_type(v, json_type_string) &&
		    (m->relays[m->nrelays] = strdup(json_object_get_string(v))))
			m->nrelays++;
	}
	return false;
}

/* The relays of the view persisted last time (fail static: the relays too). */
static void relays_persisted(struct zt_managed *m, const char *state_dir)
{
	json_object *view = NULL;
	char hash[65], err[256];
	uint64_t rev;

	if (zt_agent_view_load(state_dir, m->id.has_view_key ? m->id.view_key : NULL, &view,
			       &rev, hash, err, sizeof(err)))
		return;
	relays_take(m, view, false);
	json_object_put(view);
}

size_t zt_managed_relays_merge(struct zt_daemon *d, struct zt_path_relay_spec *specs, size_t *n)
{
	struct zt_managed *m = d->managed;
	size_t added = 0;

	if (!m)
		return 0;
	m->relays_taken = true;
	for (size_t i = 0; i < m->nrelays && *n < ZT_PATHS_RELAYS_MAX; i++) {
		bool have = false;

		for (size_t k = 0; k < *n && !have; k++)
			have = !strcmp(specs[k].relay, m->relays[i]);
		if (have)
			continue;
		specs[(*n)++] = (struct zt_path_relay_spec){ .relay = m->relays[i] };
		added++;
	}
	return added;
}

int zt_managed_prepare(struct zt_daemon *d, const char *key_file, char *err, size_t errlen)
{
	struct zt_managed *m;
	int ret;

	if (d->managed)
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return zt_errf(err, errlen, -ENOMEM, "out of memory");
	ret = zt_agent_prepare(d->state_dir, key_file, d->controller, d->token, &m->id, err, errlen);
	if (ret) {
		free(m);
		return ret;
	}
	d->managed = m;
	relays_persisted(m, d->state_dir);
	return 0;
}

const char *zt_managed_key_file(const struct zt_daemon *d)
{
	return d->managed ? d->managed->id.key_file : NULL;
}

/* The agent's apply: the view's policy through the one atomic path, then the role's self. */
static int apply_view(void *arg, json_object *view, uint64_t rev, char *err, size_t errlen)
{
	struct zt_daemon *d = arg;
	json_object *policy, *self;
	char action[64];
	int ret;

	if (!json_object_object_get_ex(view, "policy", &policy) ||
	    !json_object_is_type(policy, json_type_object))
		return zt_errf(err, errlen, -EINVAL, "the view has no \"policy\" document");
	snprintf(action, sizeof(action), "controller.view rev %llu", (unsigned long long)rev);
	ret = zt_daemon_apply_document(d, policy, action, err, errlen);
	if (ret)
		return ret;
	/*
	 * Relays: taken; once a role opened them, a change goes to the role at
	 * once. The policy is live already: a relay that cannot be taken is
	 * logged, and the view stays applied.
	 */
	if (!relays_take(d->managed, view, false) && d->managed->relays_taken) {
		char why[256];

		zt_log("info", "the controller's relays changed (view rev %llu): %zu now",
		       (unsigned long long)rev, d->managed->nrelays);
		if (d->ops->view_relays && d->ops->view_relays(d, why, sizeof(why)))
			zt_log("error", "the controller's relays (view rev %llu): %s",
			       (unsigned long long)rev, why);
	}
	if (d->ops->view_self && json_object_object_get_ex(view, "self", &self) &&
	    json_object_is_type(self, json_type_object))
		ret = d->ops->view_self(d, self, err, errlen);
	return ret;
}

int zt_managed_open(struct zt_daemon *d, char *err, size_t errlen)
{
	struct zt_managed *m = d->managed;
	struct zt_agent_cfg cfg = {
		.loop = d->loop, .state_dir = d->state_dir, .controller = d->controller,
		.role = d->ops->name, .id = &m->id, .apply = apply_view, .arg = d,
	};
	int ret;

	ret = zt_key_load_private(m->id.key_file, cfg.private_key, err, errlen);
	if (!ret)
		ret = zt_agent_open(&cfg, &m->agent, err, errlen);
	OPENSSL_cleanse(cfg.private_key, sizeof(cfg.private_key));
	zt_token_wipe(&m->id.token);	/* the agent has its copy */
	if (ret)
		return ret;
	if (m->endpoint[0])
		zt_agent_set_endpoint(m->agent, m->endpoint);
	return zt_agent_start(m->agent, err, errlen);
}

void zt_managed_set_endpoint(struct zt_daemon *d, const char *endpoint)
{
	struct zt_managed *m = d->managed;

	if (!m)
		return;
	snprintf(m->endpoint, sizeof(m->endpoint), "%s", endpoint);
	if (m->agent)
		zt_agent_set_endpoint(m->agent, endpoint);
}

void zt_managed_report_connection(struct zt_daemon *d, json_object *line)
{
	if (d->managed && d->managed->agent)
		zt_agent_report_connection(d->managed->agent, line);
}

int zt_managed_reauth(struct zt_daemon *d, const char *token, char *err, size_t errlen)
{
	if (!d->managed || !d->managed->agent)
		return zt_errf(err, errlen, -ENOTCONN, "this node is not managed by a controller");
	return zt_agent_reauth(d->managed->agent, token, err, errlen);
}

json_object *zt_managed_status(const struct zt_daemon *d)
{
	if (!d->managed || !d->managed->agent)
		return NULL;
	return zt_agent_status(d->managed->agent);
}

void zt_managed_stats(const struct zt_daemon *d, json_object *o)
{
	json_object *st = zt_managed_status(d), *c, *v;
	static const char *const numbers[] = { "rev_applied", "reconnects", "connections_dropped" };

	if (!st)
		return;
	c = json_object_new_object();
	json_object_object_add(c, "connected", json_object_new_int(zt_agent_connected(d->managed->agent)));
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
		if (json_object_object_get_ex(st, numbers[i], &v))
			json_object_object_add(c, numbers[i], json_object_get(v));
	json_object_object_add(o, "controller", c);
	json_object_put(st);
}

void zt_managed_close(struct zt_daemon *d)
{
	struct zt_managed *m = d->managed;

	if (!m)
		return;
	zt_agent_close(m->agent);
	zt_token_wipe(&m->id.token);
	for (size_t i = 0; i < m->nrelays; i++)
		free(m->relays[i]);
	free(m);
	d->managed = NULL;
}
