/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * zt_testlib.h: shared by the BPF tests and the benchmark. Loads the data
 * plane through zt_dp_open() into a unique pin directory, then opens the
 * tc and XDP objects a second time against the same pins (exactly what a
 * restarted daemon or libxdp does) to get program fds for BPF_PROG_RUN.
 * Packet builders write real headers with valid checksums.
 */
#ifndef ZT_TESTLIB_H
#define ZT_TESTLIB_H

#include <arpa/inet.h>
#include <errno.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dataplane.h"
#include "policy/policy.h"
#include "ztgate/maps.h"
#include "zt_tc.skel.h"
#include "zt_xdp.skel.h"

struct zt_env {
	char pin_dir[128];
	struct zt_dataplane *dp;
	struct zt_tc_bpf *tc;
	struct zt_xdp_bpf *xdp;
	int fd[ZT_MAP__COUNT];
	int xdp_fd, tc_in_fd, tc_eg_fd, tc3_in_fd, tc3_eg_fd;
};

static inline int zt_env_open(struct zt_env *e, const char *tag)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	int ret, i;

	memset(e, 0, sizeof(*e));
	snprintf(e->pin_dir, sizeof(e->pin_dir), "/sys/fs/bpf/ztgate/%s-%d", tag, (int)getpid());
	ret = zt_dp_open(e->pin_dir, &e->dp);
	if (ret)
		return ret;
	for (i = 0; i < ZT_MAP__COUNT; i++)
		e->fd[i] = zt_dp_map_fd(e->dp, i);
	oo.pin_root_path = e->pin_dir;
	e->tc = zt_tc_bpf__open_opts(&oo);
	if (!e->tc)
		return -errno;
	ret = zt_tc_bpf__load(e->tc);
	if (ret)
		return ret;
	e->xdp = zt_xdp_bpf__open_opts(&oo);
	if (!e->xdp)
		return -errno;
	ret = zt_xdp_bpf__load(e->xdp);
	if (ret)
		return ret;
	e->xdp_fd = bpf_program__fd(e->xdp->progs.zt_xdp);
	e->tc_in_fd = bpf_program__fd(e->tc->progs.zt_tc_ingress);
	e->tc_eg_fd = bpf_program__fd(e->tc->progs.zt_tc_egress);
	e->tc3_in_fd = bpf_program__fd(e->tc->progs.zt_tc3_ingress);
	e->tc3_eg_fd = bpf_program__fd(e->tc->progs.zt_tc3_egress);
	return 0;
}

static inline int zt_env_close(struct zt_env *e)
{
	zt_xdp_bpf__destroy(e->xdp);
	zt_tc_bpf__destroy(e->tc);
	zt_dp_close(e->dp);
	e->xdp = NULL;
	e->tc = NULL;
	e->dp = NULL;
	return e->pin_dir[0] ? zt_dp_teardown(e->pin_dir) : 0;
}

/* "10.0.0.1" -> ::ffff:10.0.0.1, "fd00::1" as is. Returns 4 or 6. */
static inline int zt_addr(const char *s, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out + 12) == 1) {
		out[10] = out[11] = 0xff;
		return 4;
	}
	if (inet_pton(AF_INET6, s, out) == 1)
		return 6;
	abort();
}

static inline int zt_add_exact(struct zt_env *e, uint8_t gen, const char *addr, uint32_t id)
{
	struct zt_addr_key k = { .gen = gen };
	struct zt_res_ref v = { .resource_id = id };

	zt_addr(addr, k.addr);
	return bpf_map_update_elem(e->fd[ZT_MAP_RES_EXACT], &k, &v, BPF_ANY);
}

static inline int zt_add_prefix(struct zt_env *e, uint8_t gen, const char *addr, int len, uint32_t id)
{
	struct zt_lpm_key k;
	struct zt_res_ref v = { .resource_id = id };
	int fam;

	memset(&k, 0, sizeof(k));
	k.gen = gen;
	fam = zt_addr(addr, k.addr);
	k.prefixlen = 8 + (fam == 4 ? 96 + len : len);
	return bpf_map_update_elem(e->fd[ZT_MAP_RES_PREFIX], &k, &v, BPF_ANY);
}

static inline int zt_set_res(struct zt_env *e, uint8_t gen, uint32_t id, uint32_t flags, uint32_t mode)
{
	struct zt_resource r = { .flags = flags | ZT_RES_PRESENT, .deny_mode = mode };
	uint32_t idx = gen * ZT_MAX_RESOURCES + id;

	return bpf_map_update_elem(e->fd[ZT_MAP_RESOURCES], &idx, &r, BPF_ANY);
}

/*
 * PORT of PROTO into resource ID's own list (ZT_RES_TCP_LIST/UDP_LIST), as
 * the policy compiler does for at most ZT_RES_LIST_PORTS ports; the
 * resource must have been set first. -ENOSPC when the list is full.
 */
static inline int zt_list_port(struct zt_env *e, uint8_t gen, uint32_t id, uint8_t proto,
			       uint16_t port)
{
	uint32_t idx = gen * ZT_MAX_RESOURCES + id;
	struct zt_resource r;
	int ret;

	ret = bpf_map_lookup_elem(e->fd[ZT_MAP_RESOURCES], &idx, &r);
	if (ret)
		return ret;
	if (proto == ZT_PROTO_TCP) {
		if (r.ntcp >= ZT_RES_LIST_PORTS)
			return -ENOSPC;
		r.tcp_ports[r.ntcp++] = port;
		r.flags |= ZT_RES_TCP_LIST;
	} else {
		if (r.nudp >= ZT_RES_LIST_PORTS)
			return -ENOSPC;
		r.udp_ports[r.nudp++] = port;
		r.flags |= ZT_RES_UDP_LIST;
	}
	return bpf_map_update_elem(e->fd[ZT_MAP_RESOURCES], &idx, &r, BPF_ANY);
}

/* A port range in zt_ports, expanded the way the policy compiler does for longer lists. */
static inline int zt_add_ports(struct zt_env *e, uint8_t gen, uint32_t id, uint8_t proto, uint16_t lo,
			uint16_t hi)
{
	struct zt_port_val v = { .allow = 1 };
	uint32_t p;
	int ret;

	for (p = lo; p <= hi; p++) {
		struct zt_port_key k = { .resource_id = id, .port = (uint16_t)p, .proto = proto,
					 .gen = gen };

		ret = bpf_map_update_elem(e->fd[ZT_MAP_PORTS], &k, &v, BPF_ANY);
		if (ret)
			return ret;
	}
	return 0;
}

static inline int zt_set_config(struct zt_env *e, const struct zt_config *c)
{
	uint32_t zero = 0;

	return bpf_map_update_elem(e->fd[ZT_MAP_CONFIG], &zero, c, BPF_ANY);
}

/* ---- packets ---- */

/* RFC 1071, written out plainly so the test does not trust the code under test. */
static inline uint16_t rfc1071(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	while (len > 1) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Sum of the pseudo-header, unfolded, for TCP/UDP/ICMPv6 checksums. */
static inline uint32_t pseudo_sum(bool v6, const uint8_t *src, const uint8_t *dst, uint8_t proto,
			   uint32_t len)
{
	uint32_t sum = 0;
	int i, n = v6 ? 16 : 4;

	for (i = 0; i < n; i += 2) {
		sum += (uint32_t)src[i] << 8 | src[i + 1];
		sum += (uint32_t)dst[i] << 8 | dst[i + 1];
	}
	sum += proto;
	sum += len >> 16;
	sum += len & 0xffff;
	return sum;
}

struct pspec {
	const char *src, *dst;
	uint8_t proto;			/* 6, 17, 1, 58, or anything */
	uint16_t sport, dport;
	uint8_t tcp_flags;
	uint32_t seq, ack;
	uint8_t icmp_type, icmp_code;
	int payload;			/* L4 payload bytes */
	int ip4_opts;			/* bytes of IPv4 options (multiple of 4) */
	const uint8_t *opts;		/* their bytes (NOPs if NULL) */
	uint16_t frag;			/* IPv4 frag_off field, host order */
	uint16_t ip_id;			/* IPv4 identification */
	const uint8_t *ext;		/* IPv6 extension headers, already chained */
	int extlen;
	uint8_t ext_first;		/* next header of the fixed IPv6 header */
	bool l3;			/* no Ethernet header */
	bool vlan;			/* one 802.1Q tag */
	int truncate;			/* cut this many bytes off the end */
	int l4_hdr_override;		/* TCP doff bytes if set */
	const uint8_t *data;		/* first payload bytes (the rest 0x5a) */
	int datalen;
};

static const uint8_t MAC_A[6] = { 0x02, 0, 0, 0, 0, 0xaa };	/* source */
static const uint8_t MAC_B[6] = { 0x02, 0, 0, 0, 0, 0xbb };	/* destination */

static inline size_t build_pkt(uint8_t *b, const struct pspec *s)
{
	uint8_t src[16], dst[16], *l3, *l4;
	int fam = zt_addr(s->src, src);
	size_t off = 0, l4len, iphl;

	zt_addr(s->dst, dst);
	memset(b, 0, 1024);
	if (!s->l3) {
		memcpy(b, MAC_B, 6);
		memcpy(b + 6, MAC_A, 6);
		off = 12;
		if (s->vlan) {
			b[off++] = 0x81;
			b[off++] = 0x00;
			b[off++] = 0x00;
			b[off++] = 0x07;
		}
		b[off++] = fam == 4 ? 0x08 : 0x86;
		b[off++] = fam == 4 ? 0x00 : 0xdd;
	}
	l3 = b + off;
	switch (s->proto) {
	case 6:
		l4len = (s->l4_hdr_override ? s->l4_hdr_override : 20) + s->payload;
		break;
	case 17:
	case 1:
	case 58:
		l4len = 8 + s->payload;
		break;
	default:
		l4len = 8 + s->payload;
	}
	if (fam == 4) {
		iphl = 20 + s->ip4_opts;
		l3[0] = 0x40 | (uint8_t)(iphl / 4);
		l3[2] = (uint8_t)((iphl + l4len) >> 8);
		l3[3] = (uint8_t)(iphl + l4len);
		l3[4] = s->ip_id >> 8;
		l3[5] = s->ip_id & 0xff;
		l3[6] = s->frag >> 8;
		l3[7] = s->frag & 0xff;
		l3[8] = 64;
		l3[9] = s->proto;
		memcpy(l3 + 12, src + 12, 4);
		memcpy(l3 + 16, dst + 12, 4);
		memset(l3 + 20, 1, s->ip4_opts);	/* NOPs */
		if (s->opts)
			memcpy(l3 + 20, s->opts, (size_t)s->ip4_opts);
		{
			uint16_t c = rfc1071(l3, iphl, 0);

			l3[10] = c >> 8;
			l3[11] = c & 0xff;
		}
	} else {
		iphl = 40 + s->extlen;
		l3[0] = 0x60;
		l3[4] = (uint8_t)((s->extlen + l4len) >> 8);
		l3[5] = (uint8_t)(s->extlen + l4len);
		l3[6] = s->extlen ? s->ext_first : s->proto;
		l3[7] = 64;
		memcpy(l3 + 8, src, 16);
		memcpy(l3 + 24, dst, 16);
		if (s->extlen)
			memcpy(l3 + 40, s->ext, s->extlen);
	}
	l4 = l3 + iphl;
	if (s->proto == 6) {
		size_t hl = s->l4_hdr_override ? s->l4_hdr_override : 20;

		l4[0] = s->sport >> 8;
		l4[1] = s->sport & 0xff;
		l4[2] = s->dport >> 8;
		l4[3] = s->dport & 0xff;
		l4[4] = s->seq >> 24; l4[5] = s->seq >> 16; l4[6] = s->seq >> 8; l4[7] = s->seq;
		l4[8] = s->ack >> 24; l4[9] = s->ack >> 16; l4[10] = s->ack >> 8; l4[11] = s->ack;
		l4[12] = (uint8_t)((hl / 4) << 4);
		l4[13] = s->tcp_flags;
		l4[14] = 0xff;
		l4[15] = 0xff;
	} else if (s->proto == 17) {
		l4[0] = s->sport >> 8;
		l4[1] = s->sport & 0xff;
		l4[2] = s->dport >> 8;
		l4[3] = s->dport & 0xff;
		l4[4] = (uint8_t)(l4len >> 8);
		l4[5] = (uint8_t)l4len;
	} else if (s->proto == 1 || s->proto == 58) {
		l4[0] = s->icmp_type;
		l4[1] = s->icmp_code;
		l4[4] = 0x12;	/* id */
		l4[7] = 1;	/* seq */
	}
	memset(l4 + (l4len - s->payload), 0x5a, s->payload);
	if (s->datalen)
		memcpy(l4 + (l4len - s->payload), s->data,
		       (size_t)(s->datalen < s->payload ? s->datalen : s->payload));
	if (s->proto == 6 || s->proto == 17 || s->proto == 58) {
		uint16_t c, co = s->proto == 6 ? 16 : (s->proto == 17 ? 6 : 2);
		uint32_t ps = pseudo_sum(fam == 6, fam == 6 ? src : src + 12,
					 fam == 6 ? dst : dst + 12, s->proto, (uint32_t)l4len);

		c = rfc1071(l4, l4len, ps);
		l4[co] = c >> 8;
		l4[co + 1] = c & 0xff;
	} else if (s->proto == 1) {
		uint16_t c = rfc1071(l4, l4len, 0);

		l4[2] = c >> 8;
		l4[3] = c & 0xff;
	}
	return off + iphl + l4len - (size_t)s->truncate;
}

static inline int run_prog(int prog_fd, const void *in, size_t len, void *out, uint32_t *outlen,
		    int repeat, uint32_t *duration)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = out ? 2048 : 0, .repeat = repeat);
	int ret;

	ret = bpf_prog_test_run_opts(prog_fd, &o);
	if (ret)
		return -1000 + ret;
	if (outlen)
		*outlen = o.data_size_out;
	if (duration)
		*duration = o.duration;
	return (int)o.retval;
}

/* 10.x.y.z of resource ID in zt_test_policy(): its id in the low 24 bits. */
static inline void zt_test_res_addr(uint32_t id, char *buf, size_t len)
{
	snprintf(buf, len, "10.%u.%u.%u", (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff);
}

/*
 * A policy of N host resources "r1".."rN" (ids 1..N, addresses from
 * zt_test_res_addr), TCP 22,443 and UDP 53 each. Filled in directly:
 * zt_policy_add checks each resource against all the others, quadratic at
 * 100,000. P must be initialised (zt_policy_init). 0 or -errno.
 */
static inline int zt_test_policy(struct zt_policy *p, uint32_t n)
{
	char name[32], addr[32], err[256];
	uint32_t i;
	int ret;

	p->res = calloc(n, sizeof(*p->res));
	if (!p->res)
		return -ENOMEM;
	p->cap = n;
	for (i = 1; i <= n; i++) {
		snprintf(name, sizeof(name), "r%u", i);
		zt_test_res_addr(i, addr, sizeof(addr));
		ret = zt_resource_parse(&p->res[i - 1], name, addr, "22,443", "53", false, NULL,
					err, sizeof(err));
		if (ret) {
			fprintf(stderr, "zt_test_policy: %s\n", err);
			return ret;
		}
		p->res[i - 1].id = i;
		p->count = i;
	}
	return 0;
}

#endif /* ZT_TESTLIB_H */
