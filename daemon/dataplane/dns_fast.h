/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dns_fast: the client's DNS fast path (bpf/zt_dns.bpf.c, contract in
 * bpf/zt_dns.h). A tc egress program on the loopback device answers, in
 * the kernel, UDP queries for the A record of resource names that already
 * hold a fake IP; the daemon's DNS server fills its table (zt_dns_fast)
 * after answering such a name itself, and every other query reaches the
 * daemon as before.
 *
 * A local socket's query to the DNS address (a local address, on the TUN)
 * travels over the loopback device of the network namespace, so the
 * program goes on `lo` of the namespace the client runs in: the host's lo
 * in production, a test namespace's own lo in the tests. Nothing else is
 * touched.
 *
 * Its maps (and the program, for bpftool) are pinned under a directory of
 * their own, given by the caller (the daemon's pin dir + "/dns"). Opening
 * empties the table (the daemon refills it as it answers) so a table left
 * by a previous daemon with another range or TTL is never served. Unlike
 * the enforcer, the fast path is detached on clean shutdown: with no
 * daemon, nobody keeps its table in step with the policy.
 *
 * Every call is a few syscalls and never blocks. Functions return 0 or
 * -errno; those taking ERR write one line there on failure.
 */
#ifndef ZT_DNS_FAST_DAEMON_H
#define ZT_DNS_FAST_DAEMON_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "ztgate/dns_fast.h"

struct zt_dns_fast;

/*
 * Create PIN_DIR (on bpffs), load the program, reusing the maps pinned
 * there, and aim it at the DNS server ADDR:PORT (PORT host order). The
 * table starts empty. *OUT is the caller's (zt_dns_fast_close()).
 */
int zt_dns_fast_open(const char *pin_dir, struct in_addr addr, uint16_t port,
		     struct zt_dns_fast **out, char *err, size_t errlen);

/*
 * Attach to IFNAME's tc egress (a loopback device of the current network
 * namespace), replacing this instance's earlier program there (a restart:
 * no gap). -EBUSY if the filter slot holds another instance's or a foreign
 * program (ERR says which): the rule of bpf_util.h's zt_tc_attach_ours().
 */
int zt_dns_fast_attach(struct zt_dns_fast *f, const char *ifname, char *err, size_t errlen);

/* Remove this instance's program from the device it was attached to (0 if none). */
int zt_dns_fast_detach(struct zt_dns_fast *f, char *err, size_t errlen);

/*
 * Answer QNAME (wire form, as in struct zt_dns_query: QNAME_LEN bytes, the
 * root included; any case) with ADDR and TTL from now on. -E2BIG when the
 * name is longer than the fast path takes (the daemon keeps answering it).
 */
int zt_dns_fast_put(struct zt_dns_fast *f, const uint8_t *qname, size_t qname_len,
		    struct in_addr addr, uint32_t ttl);

/* Stop answering every name (a policy change, a reclaimed address). */
int zt_dns_fast_flush(struct zt_dns_fast *f);

/*
 * Answers given in BPF count as use of their fake IP: call FN for every
 * name answered since its last report, oldest first, with the wall-clock
 * second of its latest answer (what struct zt_fakeip's last use holds).
 * Fold before deciding a reclaim and before saving the pool.
 */
typedef void (*zt_dns_fast_hit_fn)(struct in_addr addr, int64_t wall_s, void *ctx);
int zt_dns_fast_fold_hits(struct zt_dns_fast *f, zt_dns_fast_hit_fn fn, void *ctx);

/* The counters of every CPU, summed. */
int zt_dns_fast_read_stats(const struct zt_dns_fast *f, struct zt_dns_fast_stats *sum);

/* The program's fd for tests (BPF_PROG_RUN); valid until close. */
int zt_dns_fast_prog_fd(const struct zt_dns_fast *f);

/* Free userspace state; an attached program stays attached. */
void zt_dns_fast_close(struct zt_dns_fast *f);

/*
 * Detach this instance's program (found by its pinned config map; every
 * ztgate DNS fast path if the pins are gone) from every device of the
 * current network namespace, then remove the pins and PIN_DIR.
 */
int zt_dns_fast_teardown(const char *pin_dir, char *err, size_t errlen);

#endif /* ZT_DNS_FAST_DAEMON_H */
