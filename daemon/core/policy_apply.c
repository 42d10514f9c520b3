// SPDX-License-Identifier: GPL-2.0-only
/*
 * The one way a policy becomes live, for the control commands and the
 * role's start: compile into the inactive generation (with the addresses the
 * role learnt at run time; only what changed, policy/compile.h), save, flip,
 * then tell the role.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/daemon.h"
#include "core/role.h"
#include "lib/log.h"
#include "policy/store.h"

int zt_daemon_apply_policy(struct zt_daemon *d, struct zt_policy *next, char *err, size_t errlen)
{
	struct zt_exact_binding *binds = NULL;
	size_t nbinds = 0;
	char sub[256];
	uint32_t gen;
	int ret;

	/*
	 * Addresses learnt at run time (the client's fake IPs, the connector's
	 * resolved names) stay valid for names NEXT still has.
	 */
	ret = d->ops->bindings ? d->ops->bindings(d, next, &binds, &nbinds) : 0;
	if (ret) {
		snprintf(err, errlen, "collecting run-time address bindings: %s", strerror(-ret));
		return ret;
	}
	ret = zt_compile_prepare_with(d->fds, &d->compiled, next, binds, nbinds, &gen, err, errlen);
	free(binds);
	if (ret)
		return ret;
	ret = zt_store_save(d->state_dir, next, err, errlen);
	if (ret) {
		zt_compile_abort(d->fds, &d->compiled, gen);
		return ret;
	}
	ret = zt_compile_commit(d->fds, &d->compiled, gen, err, errlen);
	if (ret) {
		/* Nothing flipped: put the file back in step with the maps. */
		char sub2[256];

		zt_compile_abort(d->fds, &d->compiled, gen);
		if (zt_store_save(d->state_dir, &d->policy, sub2, sizeof(sub2)))
			zt_log("error", "restoring the policy file: %s", sub2);
		return ret;
	}
	zt_policy_free(&d->policy);
	d->policy = *next;
	zt_policy_init(next);
	/* Live and saved: a failure here is reported, not rolled back. */
	if (d->ops->policy_applied && d->ops->policy_applied(d, sub, sizeof(sub)))
		zt_log("error", "policy applied, but: %s", sub);
	return 0;
}
