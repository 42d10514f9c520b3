/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The client's DNS server (UDP and TCP on one address, 100.95.0.251:53 by
 * default). Names of name resources are answered here with fake IPs from
 * the pool, and the data plane learns each address before the answer
 * leaves; every other name is forwarded untouched to the upstreams with
 * c-ares, driven from the daemon's epoll loop (its sockets and a timerfd),
 * and the answers are cached (dns/cache.h) unless cfg.cache_entries is 0.
 * Resource names are matched before the cache, so a name that becomes a
 * resource is answered with its fake IP at once.
 */
#ifndef ZT_DNS_SERVER_H
#define ZT_DNS_SERVER_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "lib/addr.h"
#include "policy/compile.h"
#include "dns/fakeip.h"
#include "policy/policy.h"

struct zt_loop;
struct zt_dns_server;
struct zt_dns_fast;

#define ZT_DNS_DEFAULT_TTL	15

struct zt_dns_server_cfg {
	struct sockaddr_in listen;	/* the DNS address and port */
	struct zt_prefix fake_range;	/* upstream answers pointing in here are stripped */
	uint32_t ttl;			/* of fake-IP answers */
	const char *upstreams;		/* "ip:port,[ip6]:port" (c-ares csv); may be "" */
	unsigned int cache_entries;	/* forwarded answers cached (dns/cache.h); 0: none */
	/*
	 * The BPF fast path (dns_fast.h), owned by the caller, or NULL. The
	 * server puts a name there once it answered a UDP A query for it that
	 * the fast path could have answered, empties it when a name may have
	 * lost its address or its resource, and folds its answers into the
	 * pool's last use.
	 */
	struct zt_dns_fast *fast;

	/* What the server runs on and reads; all outlive it. */
	struct zt_loop *loop;
	const char *state_dir;		/* the pool is saved here when it changes */
	const struct zt_policy *policy;	/* the live policy (swapped in place) */
	/*
	 * Write a new fake IP's binding into the live data plane before its
	 * answer leaves: 0 or -errno.
	 */
	int (*bind_live)(void *arg, const struct zt_exact_binding *b);
	void *bind_arg;
};

/*
 * Bind the listeners and set up c-ares. POOL (owned by the caller) hands out
 * the fake IPs and is saved to CFG->state_dir when it changes.
 */
int zt_dns_server_open(struct zt_fakeip *pool, const struct zt_dns_server_cfg *cfg, struct zt_dns_server **out,
		       char *err, size_t errlen);
/*
 * The policy changed: names may have stopped being resources, so the fast
 * path forgets every name (each is put back at its next query the server
 * answers). Call after the new policy is in D->policy.
 */
void zt_dns_server_policy_changed(struct zt_dns_server *s);
/* Forward to UPSTREAMS (csv, as in the cfg) from now on; the answer cache is emptied. */
int zt_dns_server_set_upstreams(struct zt_dns_server *s, const char *upstreams, char *err,
				size_t errlen);
/* Stop listening, drop queries in flight, save the pool. */
void zt_dns_server_close(struct zt_dns_server *s);

/*
 * The fake-IP bindings a compiled policy P must carry: every mapping of the
 * pool whose name P answers for, with that resource's id. *OUT is malloc'd.
 */
int zt_fakeip_bindings(const struct zt_fakeip *pool, const struct zt_policy *p,
		       struct zt_exact_binding **out, size_t *n);

/* `ztgate dns`: the mappings. */
json_object *zt_dns_list_json(const struct zt_fakeip *pool, const struct zt_policy *p);
/* `ztgate resolve NAME`: what the server would answer and why. NULL with ERR set. */
json_object *zt_dns_resolve_json(struct zt_dns_server *s, const char *name,
				 char *err, size_t errlen);
/* Server counters for `ztgate stats`. */
void zt_dns_server_stats(const struct zt_dns_server *s, json_object *o);

#endif
