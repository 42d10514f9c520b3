// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * zt_dns.bpf.c: the client's DNS fast path, tc egress on the loopback
 * device of the client's network namespace. A local socket's query to the
 * DNS address (a local address, on the TUN) leaves through lo; when it is
 * the one common shape whose answer sits in zt_dns_fast, it is turned into
 * that answer in place and let go on: lo loops it back to the querier's
 * socket, and the daemon never sees the query.
 *
 * The fast shape, and nothing else: IPv4 without options, not fragmented,
 * UDP to zt_dns_fast_cfg's address and port, a DNS header with QR 0,
 * opcode QUERY, QDCOUNT 1, ANCOUNT and NSCOUNT 0, one question of QTYPE A
 * and QCLASS IN whose name has at most ZT_DNS_FAST_NAME_MAX wire bytes of
 * plain labels, then either nothing (ARCOUNT 0) or a bare EDNS0 OPT record
 * (ARCOUNT 1: owned by the root, version 0, no options), and not a byte
 * after it.
 * Anything else passes untouched to the daemon, which answers exactly as
 * it always does.
 *
 * The answer is the daemon's to the byte (daemon/dns/codec.c build_reply):
 * the ID, the question as sent (case kept, for DNS 0x20), flags QR AA RA
 * plus RD and CD copied, one A record owned by a pointer to the question,
 * the TTL the daemon configured, and the daemon's OPT record (UDP size
 * ZT_DNS_EDNS_UDP_SIZE, DO echoed) when the query had one. Checksums are
 * updated incrementally with the kernel's helpers, which do the right
 * thing for a CHECKSUM_PARTIAL skb (what a local socket sends on lo) and
 * for a fully summed one.
 *
 * The program, in order: to_dns_addr() (ours at all?), fast_shape() (the
 * one shape?), the table lookup, build_tail() (the answer record and OPT),
 * then the rewrite in place: turn_ip_udp(), answer_header(), write_tail().
 * The loader is daemon/dataplane/dns_fast.c; the contract with it
 * include/ztgate/dns_fast.h, the maps bpf/MAPS.md.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lib/csum.h"
#include "lib/ctx.h"
#include "lib/wire.h"
#include "ztgate/defaults.h"	/* ZT_DNS_EDNS_UDP_SIZE: the daemon's OPT record */
#include "ztgate/dns_fast.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zt_dns_fast_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zt_dns_fast_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ZT_DNS_FAST_ENTRIES);
	__type(key, struct zt_dns_fast_key);
	__type(value, struct zt_dns_fast_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zt_dns_fast SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zt_dns_fast_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} zt_dns_fast_stats SEC(".maps");

#define ETH_LEN		14
#define IP_LEN		20
#define UDP_LEN		8
#define QNAME_OFF	(ETH_LEN + IP_LEN + UDP_LEN + ZT_DNS_HEADER_LEN)
#define ANSWER_LEN	16	/* pointer 2, type 2, class 2, TTL 4, rdlength 2, address 4 */
#define OPT_LEN		11	/* root 1, type 2, class (UDP size) 2, TTL 4, rdlength 2 */

struct dns_hdr {
	__be16 id;
	__be16 flags;
	__be16 qdcount;
	__be16 ancount;
	__be16 nscount;
	__be16 arcount;
};

/* Everything up to the question, as one load. */
struct query_head {
	struct zt_eth eth;
	struct zt_ip4 ip;
	struct zt_udp udp;
	struct dns_hdr dns;
} __attribute__((packed));

enum verdict { PASSED, MISSED };

static __always_inline int pass(enum verdict why)
{
	__u32 zero = 0;
	struct zt_dns_fast_stats *st = bpf_map_lookup_elem(&zt_dns_fast_stats, &zero);

	if (st) {
		if (why == MISSED)
			st->missed++;
		else
			st->passed++;
	}
	return TC_ACT_OK;
}

/*
 * The name walk, one byte per call of bpf_loop: the verifier checks the
 * callback once, where an open-coded loop over 128 bytes with a label
 * cursor makes it explore every path through every iteration.
 */
struct name_walk {
	struct zt_dns_fast_key key;
	__u32 len;		/* wire bytes of the name, the root included */
	__u32 next;		/* offset of the next length byte */
	bool ok;		/* ended with the root at len - 1 */
};

static long walk_name_byte(__u32 i, void *ctx)
{
	struct name_walk *w = ctx;
	__u8 c;

	/* bpf_loop runs i below ZT_DNS_FAST_NAME_MAX (a power of 2); the mask tells the verifier. */
	i &= ZT_DNS_FAST_NAME_MAX - 1;
	if (i >= w->len)
		return 1;
	c = w->key.name[i];
	if (i == w->next) {
		if (c == 0) {
			w->ok = i == w->len - 1;
			return 1;
		}
		if (c & 0xc0)
			return 1;	/* a pointer or an extended label type */
		w->next = i + 1 + c;
	} else if (c >= 'A' && c <= 'Z') {
		w->key.name[i] = c + ('a' - 'A');
	}
	return 0;
}

/* A query in the fast shape, as fast_shape() found it. */
struct query {
	struct query_head h;
	struct name_walk w;	/* the name as the table's key */
	__u32 ip_len;		/* IP total length (= the packet less Ethernet) */
	__u32 udp_len;		/* UDP length (= the IP payload) */
	__u32 opt_len;		/* OPT_LEN with an OPT record, else 0 */
	/* The query's OPT record, if any, padded for bpf_csum_diff. */
	__u8 opt[OPT_LEN + 1];
};

/* The new tail: the answer record, then the daemon's OPT; padded for bpf_csum_diff. */
#define TAIL_MAX	(ANSWER_LEN + OPT_LEN + 1)

/*
 * A UDP datagram over IPv4 to the DNS address and port? Loads everything
 * up to the question into *H. What is not ours goes on uncounted.
 */
static __always_inline bool to_dns_addr(struct __sk_buff *skb, const struct zt_dns_fast_cfg *cfg,
					struct query_head *h)
{
	if (skb->protocol != bpf_htons(ZT_ETH_P_IP) || skb->len > 1024)
		return false;
	if (bpf_skb_load_bytes(skb, 0, h, sizeof(*h)))
		return false;
	return h->eth.proto == bpf_htons(ZT_ETH_P_IP) && h->ip.proto == ZT_IPPROTO_UDP &&
	       *(__u32 *)h->ip.daddr == cfg->addr && h->udp.dport == cfg->port;
}

/*
 * Is the query in Q->h the fast shape (see the top of this file)? Reads
 * the question and the OPT record, if any, into Q; the name lowercased in
 * Q->w.key.
 */
static __always_inline bool fast_shape(struct __sk_buff *skb, struct query *q)
{
	const struct query_head *h = &q->h;
	__be16 one = bpf_htons(1);
	__u32 name_len, dns_len;
	__u16 qtc[2];

	if (h->ip.ver_ihl != 0x45 || (h->ip.frag_off & bpf_htons(ZT_IP4_MF | ZT_IP4_OFFSET)) ||
	    skb->gso_segs > 1)
		return false;
	q->ip_len = bpf_ntohs(h->ip.tot_len);
	q->udp_len = bpf_ntohs(h->udp.len);
	if (q->ip_len != skb->len - ETH_LEN || q->udp_len != q->ip_len - IP_LEN)
		return false;
	if ((h->dns.flags & bpf_htons(ZT_DNS_F_QR | ZT_DNS_F_OPCODE)) || h->dns.qdcount != one ||
	    h->dns.ancount || h->dns.nscount)
		return false;
	if (h->dns.arcount == one)
		q->opt_len = OPT_LEN;
	else if (h->dns.arcount)
		return false;
	else
		q->opt_len = 0;
	dns_len = q->udp_len - UDP_LEN;
	if (dns_len < ZT_DNS_HEADER_LEN + 1 + 4 + q->opt_len)
		return false;
	name_len = dns_len - ZT_DNS_HEADER_LEN - 4 - q->opt_len;
	if (name_len < 1 || name_len > ZT_DNS_FAST_NAME_MAX)
		return false;

	__builtin_memset(&q->w.key, 0, sizeof(q->w.key));
	if (bpf_skb_load_bytes(skb, QNAME_OFF, q->w.key.name, name_len))
		return false;
	/* Plain labels ending with the root exactly at the end; lowercase ASCII on the way. */
	q->w.len = name_len;
	q->w.next = 0;
	q->w.ok = false;
	bpf_loop(ZT_DNS_FAST_NAME_MAX, walk_name_byte, &q->w, 0);
	if (!q->w.ok)
		return false;
	if (bpf_skb_load_bytes(skb, QNAME_OFF + name_len, qtc, sizeof(qtc)))
		return false;
	if (qtc[0] != bpf_htons(ZT_DNS_TYPE_A) || qtc[1] != bpf_htons(ZT_DNS_CLASS_IN))
		return false;
	__builtin_memset(q->opt, 0, sizeof(q->opt));
	if (q->opt_len) {
		/* Root owner, type OPT, version 0 (TTL's third byte), RDLENGTH 0. */
		if (bpf_skb_load_bytes(skb, QNAME_OFF + name_len + 4, q->opt, OPT_LEN))
			return false;
		if (q->opt[0] != 0 || q->opt[1] != 0 || q->opt[2] != ZT_DNS_TYPE_OPT ||
		    q->opt[6] != 0 || q->opt[9] != 0 || q->opt[10] != 0)
			return false;
	}
	return true;
}

/*
 * The tail the answer adds where the question ends: the A record (a
 * pointer to the question, VAL's TTL and address), then, when the query
 * had one, the daemon's OPT (its UDP size, extended RCODE 0, version 0,
 * the query's DO bit). Built before the packet changes.
 */
static __always_inline void build_tail(const struct zt_dns_fast_val *val, const struct query *q,
				       __u8 tail[TAIL_MAX])
{
	tail[0] = 0xc0;
	tail[1] = ZT_DNS_HEADER_LEN;
	tail[2] = 0;
	tail[3] = ZT_DNS_TYPE_A;
	tail[4] = 0;
	tail[5] = ZT_DNS_CLASS_IN;
	tail[6] = (__u8)(val->ttl >> 24);
	tail[7] = (__u8)(val->ttl >> 16);
	tail[8] = (__u8)(val->ttl >> 8);
	tail[9] = (__u8)val->ttl;
	tail[10] = 0;
	tail[11] = 4;
	__builtin_memcpy(&tail[12], &val->addr, 4);
	__builtin_memset(&tail[ANSWER_LEN], 0, OPT_LEN + 1);
	if (q->opt_len) {
		tail[ANSWER_LEN + 2] = ZT_DNS_TYPE_OPT;
		tail[ANSWER_LEN + 3] = ZT_DNS_EDNS_UDP_SIZE >> 8;
		tail[ANSWER_LEN + 4] = ZT_DNS_EDNS_UDP_SIZE & 0xff;
		tail[ANSWER_LEN + 7] = q->opt[7] & 0x80;
	}
}

/* The answer's last use for the daemon's LRU: moved at most once a second. */
static __always_inline void touch(struct zt_dns_fast_val *val)
{
	__u64 now = bpf_ktime_get_ns();

	if (now - val->last_hit_ns > 1000000000ull)
		val->last_hit_ns = now;
}

/*
 * Turn the IP and UDP headers around (the packet already ANSWER_LEN
 * longer): swapping the addresses and the ports moves no checksum, the
 * lengths do: the IP header's, the UDP header's and the pseudo-header's.
 * 0, or < 0 if the packet could not be written.
 */
static __always_inline int turn_ip_udp(struct __sk_buff *skb, const struct query *q)
{
	const struct query_head *h = &q->h;
	__be16 new_ip_len = bpf_htons(q->ip_len + ANSWER_LEN);
	__be16 new_udp_len = bpf_htons(q->udp_len + ANSWER_LEN);
	__u32 csum_off = ETH_LEN + IP_LEN + offsetof(struct zt_udp, check);
	__u8 tmp[4];

	__builtin_memcpy(tmp, h->ip.saddr, 4);
	if (bpf_skb_store_bytes(skb, ETH_LEN + offsetof(struct zt_ip4, saddr), h->ip.daddr, 4, 0) ||
	    bpf_skb_store_bytes(skb, ETH_LEN + offsetof(struct zt_ip4, daddr), tmp, 4, 0) ||
	    bpf_skb_store_bytes(skb, ETH_LEN + offsetof(struct zt_ip4, tot_len), &new_ip_len, 2, 0) ||
	    bpf_l3_csum_replace(skb, ETH_LEN + offsetof(struct zt_ip4, check), h->ip.tot_len,
				new_ip_len, 2))
		return -1;
	if (bpf_skb_store_bytes(skb, ETH_LEN + IP_LEN + offsetof(struct zt_udp, sport),
				&h->udp.dport, 2, 0) ||
	    bpf_skb_store_bytes(skb, ETH_LEN + IP_LEN + offsetof(struct zt_udp, dport),
				&h->udp.sport, 2, 0) ||
	    bpf_skb_store_bytes(skb, ETH_LEN + IP_LEN + offsetof(struct zt_udp, len),
				&new_udp_len, 2, 0) ||
	    bpf_l4_csum_replace(skb, csum_off, h->udp.len, new_udp_len,
				BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | 2) ||
	    bpf_l4_csum_replace(skb, csum_off, h->udp.len, new_udp_len, BPF_F_MARK_MANGLED_0 | 2))
		return -1;
	return 0;
}

/* The DNS header of the answer: flags QR AA RA with RD and CD kept, ANCOUNT 1. */
static __always_inline int answer_header(struct __sk_buff *skb, const struct query *q)
{
	__be16 old_flags = q->h.dns.flags, one = bpf_htons(1), zero16 = 0;
	__be16 new_flags = bpf_htons(ZT_DNS_F_QR | ZT_DNS_F_AA | ZT_DNS_F_RA) |
			   (old_flags & bpf_htons(ZT_DNS_F_RD | ZT_DNS_F_CD));
	__u32 csum_off = ETH_LEN + IP_LEN + offsetof(struct zt_udp, check);

	if (bpf_skb_store_bytes(skb, ETH_LEN + IP_LEN + UDP_LEN + 2, &new_flags, 2, 0) ||
	    bpf_skb_store_bytes(skb, ETH_LEN + IP_LEN + UDP_LEN + 6, &one, 2, 0) ||
	    bpf_l4_csum_replace(skb, csum_off, old_flags, new_flags, BPF_F_MARK_MANGLED_0 | 2) ||
	    bpf_l4_csum_replace(skb, csum_off, zero16, one, BPF_F_MARK_MANGLED_0 | 2))
		return -1;
	return 0;
}

/*
 * The record goes where the question ended, the OPT (if any) after it.
 * The old tail's sum goes out, the new one's in; both start at the same
 * offset, and count byte-swapped when it is odd (the name's length decides).
 */
static __always_inline int write_tail(struct __sk_buff *skb, const struct query *q,
				      __u8 tail[TAIL_MAX])
{
	__u32 csum_off = ETH_LEN + IP_LEN + offsetof(struct zt_udp, check);
	__u32 tail_off = ETH_LEN + IP_LEN + q->udp_len - q->opt_len;	/* where the OPT was */
	__u16 sum;

	/* One branch per tail size: the helpers' lengths must be constants the verifier sees. */
	if (q->opt_len) {
		if (bpf_skb_store_bytes(skb, tail_off, tail, ANSWER_LEN + OPT_LEN, 0))
			return -1;
		sum = zt_csum16(bpf_csum_diff((__be32 *)q->opt, OPT_LEN + 1, (__be32 *)tail,
					      ANSWER_LEN + OPT_LEN + 1, 0));
	} else {
		if (bpf_skb_store_bytes(skb, tail_off, tail, ANSWER_LEN, 0))
			return -1;
		sum = zt_csum16(bpf_csum_diff(NULL, 0, (__be32 *)tail, ANSWER_LEN, 0));
	}
	if ((q->udp_len - q->opt_len) & 1)
		sum = zt_csum16_odd(sum);
	if (bpf_l4_csum_replace(skb, csum_off, 0, sum, BPF_F_MARK_MANGLED_0))
		return -1;
	return 0;
}

SEC("tc")
int zt_dns_fast_eg(struct __sk_buff *skb)
{
	struct zt_dns_fast_stats *st;
	struct zt_dns_fast_cfg *cfg;
	struct zt_dns_fast_val *val;
	__u8 tail[TAIL_MAX];
	struct query q;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&zt_dns_fast_cfg, &zero);
	if (!cfg || !cfg->addr)
		return TC_ACT_OK;
	if (!to_dns_addr(skb, cfg, &q.h))
		return TC_ACT_OK;		/* not a query to us: not counted */
	/* Ours: from here on, whatever is not the fast shape is counted as passed. */
	if (!fast_shape(skb, &q))
		return pass(PASSED);
	val = bpf_map_lookup_elem(&zt_dns_fast, &q.w.key);
	if (!val)
		return pass(MISSED);
	build_tail(val, &q, tail);
	touch(val);

	/* From here on a failure leaves a half-written packet: drop it. */
	if (bpf_skb_change_tail(skb, skb->len + ANSWER_LEN, 0) || turn_ip_udp(skb, &q) ||
	    answer_header(skb, &q) || write_tail(skb, &q, tail))
		return TC_ACT_SHOT;

	st = bpf_map_lookup_elem(&zt_dns_fast_stats, &zero);
	if (st)
		st->answered++;
	/*
	 * On its way: lo's transmit loops every packet back into the stack
	 * with its route still attached, and that route is the local one to
	 * the DNS address, so the answer goes straight to local delivery and
	 * the querier's socket. (A redirect into lo's ingress would drop the
	 * route, and the input lookup then rejects the DNS address as a
	 * martian source: a local address arriving from outside.)
	 */
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
