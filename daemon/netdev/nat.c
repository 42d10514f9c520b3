// SPDX-License-Identifier: GPL-2.0-only
/*
 * The connector's IPv4 packet surgery (nat.h): 5-tuple parse, address
 * rewrites with incremental checksums (lib/csum.c), MSS clamp. Called by
 * roles/connector.c and netdev/flows.c.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "lib/bytes.h"
#include "lib/csum.h"
#include "netdev/nat.h"

#define IP_MIN_HLEN	20
#define TCP_MIN_HLEN	20
#define UDP_HLEN	8
#define ICMP_HLEN	8

#define IP_OFF_CSUM	10
#define IP_OFF_SRC	12
#define IP_OFF_DST	16
#define TCP_OFF_CSUM	16
#define UDP_OFF_CSUM	6
#define ICMP_OFF_CSUM	2

#define ICMP_ECHOREPLY		0
#define ICMP_DEST_UNREACH	3
#define ICMP_SOURCE_QUENCH	4
#define ICMP_ECHO		8
#define ICMP_TIME_EXCEEDED	11
#define ICMP_PARAMETERPROB	12

#define TCPOPT_EOL	0
#define TCPOPT_NOP	1
#define TCPOPT_MSS	2

/* The L4 checksum that a pseudo-header change touches; UDP's 0 means "none". */
struct l4_csum {
	uint8_t *field;			/* NULL: nothing to fix */
	bool udp;
};

static void l4_csum_adjust(const struct l4_csum *c, const uint8_t *old, const uint8_t *new,
			   size_t len)
{
	uint16_t v;

	if (!c->field)
		return;
	v = zt_get_be16(c->field);
	if (c->udp && v == 0)
		return;			/* the sender computed none: there is none to fix */
	v = zt_csum_replace(v, old, new, len);
	if (c->udp && v == 0)
		v = 0xffff;		/* RFC 768: a computed 0 is sent as all ones */
	zt_put_be16(c->field, v);
}

/* ---- validation ---- */

struct ip_view {
	size_t hlen;			/* IHL in bytes */
	size_t tot;			/* total length */
	bool fragment;
	bool later_fragment;		/* offset != 0: no L4 header here */
};

static int ip_view(const uint8_t *pkt, size_t len, struct ip_view *v)
{
	uint16_t frag;

	if (len < 1)
		return -EINVAL;
	if (pkt[0] >> 4 == 6)
		return -EPROTONOSUPPORT;
	if (pkt[0] >> 4 != 4 || len < IP_MIN_HLEN)
		return -EINVAL;
	v->hlen = (size_t)(pkt[0] & 0x0f) * 4;
	v->tot = zt_get_be16(pkt + 2);
	if (v->hlen < IP_MIN_HLEN || v->tot < v->hlen || v->tot > len)
		return -EINVAL;
	frag = zt_get_be16(pkt + 6);
	v->later_fragment = (frag & 0x1fff) != 0;
	v->fragment = v->later_fragment || (frag & 0x2000);
	return 0;
}

static bool is_icmp_error(uint8_t type)
{
	return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED ||
	       type == ICMP_PARAMETERPROB || type == ICMP_SOURCE_QUENCH;
}

/* Minimum L4 header a first fragment must carry for PROTO; 0: none looked at. */
static size_t l4_min_len(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return TCP_MIN_HLEN;
	case IPPROTO_UDP:
		return UDP_HLEN;
	case IPPROTO_ICMP:
		return ICMP_HLEN;
	default:
		return 0;
	}
}

/*
 * The packet quoted in an ICMP error: QUOTE (QLEN bytes, what the ICMP
 * message carries after its 8-byte header) must start with a whole IPv4
 * header. Its L4 part may be cut short: RFC 792 promises 8 bytes.
 */
struct quote_view {
	size_t hlen;
	bool has_l4;			/* a first fragment: its L4 header starts at hlen */
	size_t l4_avail;		/* quoted L4 bytes */
};

static int quote_view(const uint8_t *quote, size_t qlen, struct quote_view *q)
{
	if (qlen < IP_MIN_HLEN || quote[0] >> 4 != 4)
		return -EINVAL;
	q->hlen = (size_t)(quote[0] & 0x0f) * 4;
	if (q->hlen < IP_MIN_HLEN || q->hlen > qlen)
		return -EINVAL;
	q->has_l4 = (zt_get_be16(quote + 6) & 0x1fff) == 0;
	q->l4_avail = qlen - q->hlen;
	return 0;
}

/* ---- parsing ---- */

static void l4_ports(uint8_t proto, const uint8_t *l4, size_t avail, struct zt_tuple *t)
{
	if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) && avail >= 4) {
		t->sport = zt_get_be16(l4);
		t->dport = zt_get_be16(l4 + 2);
	} else if (proto == IPPROTO_ICMP && avail >= 6 &&
		   (l4[0] == ICMP_ECHO || l4[0] == ICMP_ECHOREPLY)) {
		t->sport = t->dport = zt_get_be16(l4 + 4);
	}
}

int zt_pkt_parse(const uint8_t *pkt, size_t len, struct zt_pkt_info *info)
{
	const uint8_t *l4;
	struct ip_view v;
	size_t l4len;
	int ret;

	memset(info, 0, sizeof(*info));
	ret = ip_view(pkt, len, &v);
	if (ret)
		return ret;
	info->t.proto = pkt[9];
	memcpy(&info->t.src, pkt + IP_OFF_SRC, 4);
	memcpy(&info->t.dst, pkt + IP_OFF_DST, 4);
	info->ip_len = (uint16_t)v.tot;
	info->fragment = v.fragment;
	if (v.later_fragment || !l4_min_len(info->t.proto))
		return 0;
	l4 = pkt + v.hlen;
	l4len = v.tot - v.hlen;
	if (l4len < l4_min_len(info->t.proto))
		return -EINVAL;
	info->has_l4 = true;
	info->l4_off = (uint16_t)v.hlen;
	l4_ports(info->t.proto, l4, l4len, &info->t);
	if (info->t.proto == IPPROTO_TCP)
		info->tcp_flags = l4[13];
	if (info->t.proto != IPPROTO_ICMP)
		return 0;
	info->icmp_type = l4[0];
	info->icmp_code = l4[1];
	if (is_icmp_error(l4[0])) {
		const uint8_t *quote = l4 + ICMP_HLEN;
		struct quote_view q;

		if (quote_view(quote, l4len - ICMP_HLEN, &q))
			return -EINVAL;
		info->icmp_error = true;
		info->inner.proto = quote[9];
		memcpy(&info->inner.src, quote + IP_OFF_SRC, 4);
		memcpy(&info->inner.dst, quote + IP_OFF_DST, 4);
		if (q.has_l4)
			l4_ports(info->inner.proto, quote + q.hlen, q.l4_avail, &info->inner);
	}
	return 0;
}

/* ---- rewriting ---- */

/*
 * Put NEW at the address ADDR_OFF (12: source, 16: destination) of the IP
 * header IP, fixing its checksum, the L4 checksum L4 and, when OUTER is
 * set, the checksum of an enclosing ICMP message that covers every byte
 * changed here (IP sits inside its payload).
 */
static void set_addr(uint8_t *ip, size_t addr_off, struct in_addr new, const struct l4_csum *l4,
		     uint8_t *outer)
{
	uint8_t old_addr[4], old_ipc[2], old_l4c[2] = { 0 };

	memcpy(old_addr, ip + addr_off, 4);
	if (!memcmp(old_addr, &new, 4))
		return;
	memcpy(old_ipc, ip + IP_OFF_CSUM, 2);
	if (l4->field)
		memcpy(old_l4c, l4->field, 2);

	memcpy(ip + addr_off, &new, 4);
	zt_put_be16(ip + IP_OFF_CSUM, zt_csum_replace(zt_get_be16(old_ipc), old_addr, ip + addr_off, 4));
	l4_csum_adjust(l4, old_addr, ip + addr_off, 4);

	if (outer) {
		uint16_t c = zt_get_be16(outer);

		c = zt_csum_replace(c, old_addr, ip + addr_off, 4);
		c = zt_csum_replace(c, old_ipc, ip + IP_OFF_CSUM, 2);
		if (l4->field)
			c = zt_csum_replace(c, old_l4c, l4->field, 2);
		zt_put_be16(outer, c);
	}
}

/* The checksum a pseudo-header change touches, if this packet carries it. */
static struct l4_csum l4_csum_of(uint8_t proto, uint8_t *l4, size_t avail)
{
	struct l4_csum c = { 0 };

	if (proto == IPPROTO_TCP && avail >= TCP_OFF_CSUM + 2)
		c.field = l4 + TCP_OFF_CSUM;
	else if (proto == IPPROTO_UDP && avail >= UDP_OFF_CSUM + 2)
		c = (struct l4_csum){ .field = l4 + UDP_OFF_CSUM, .udp = true };
	return c;	/* ICMP: no pseudo-header */
}

/*
 * Rewrite the outer address at OUTER_OFF and, in an ICMP error, the quoted
 * packet's address at QUOTE_OFF (the same endpoint, seen the other way).
 * Everything is validated before the first byte changes.
 */
static int rewrite(uint8_t *pkt, size_t len, size_t outer_off, size_t quote_off,
		   struct in_addr new)
{
	struct l4_csum l4c = { 0 }, quote_l4c = { 0 };
	uint8_t *l4 = NULL, *quote = NULL;
	struct quote_view q;
	struct ip_view v;
	size_t l4len;
	uint8_t proto;

	if (ip_view(pkt, len, &v))
		return -EINVAL;
	proto = pkt[9];
	if (!v.later_fragment && l4_min_len(proto)) {
		l4 = pkt + v.hlen;
		l4len = v.tot - v.hlen;
		if (l4len < l4_min_len(proto))
			return -EINVAL;
		l4c = l4_csum_of(proto, l4, l4len);
		if (proto == IPPROTO_ICMP && is_icmp_error(l4[0])) {
			quote = l4 + ICMP_HLEN;
			if (quote_view(quote, l4len - ICMP_HLEN, &q))
				return -EINVAL;
			if (q.has_l4)
				quote_l4c = l4_csum_of(quote[9], quote + q.hlen, q.l4_avail);
		}
	}
	set_addr(pkt, outer_off, new, &l4c, NULL);
	if (quote)
		set_addr(quote, quote_off, new, &quote_l4c, l4 + ICMP_OFF_CSUM);
	return 0;
}

int zt_nat_rewrite_dst(uint8_t *pkt, size_t len, struct in_addr new_dst)
{
	return rewrite(pkt, len, IP_OFF_DST, IP_OFF_SRC, new_dst);
}

int zt_nat_rewrite_src(uint8_t *pkt, size_t len, struct in_addr new_src)
{
	return rewrite(pkt, len, IP_OFF_SRC, IP_OFF_DST, new_src);
}

int zt_tcp_clamp_mss(uint8_t *pkt, size_t len, uint16_t mss)
{
	uint8_t *tcp, *opt, old[4], *win;
	size_t hlen, i, optlen, off, n;
	struct ip_view v;

	if (ip_view(pkt, len, &v))
		return -EINVAL;
	if (pkt[9] != IPPROTO_TCP || v.later_fragment)
		return 0;
	if (v.tot - v.hlen < TCP_MIN_HLEN)
		return -EINVAL;
	tcp = pkt + v.hlen;
	if (!(tcp[13] & ZT_TCP_SYN))
		return 0;
	hlen = (size_t)(tcp[12] >> 4) * 4;
	if (hlen < TCP_MIN_HLEN || hlen > v.tot - v.hlen)
		return -EINVAL;
	opt = tcp + TCP_MIN_HLEN;
	optlen = hlen - TCP_MIN_HLEN;
	for (i = 0; i < optlen;) {
		if (opt[i] == TCPOPT_EOL)
			break;
		if (opt[i] == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= optlen || opt[i + 1] < 2 || i + opt[i + 1] > optlen)
			return -EINVAL;
		if (opt[i] == TCPOPT_MSS && opt[i + 1] == 4) {
			if (zt_get_be16(opt + i + 2) <= mss)
				return 0;
			/*
			 * The value may sit at an odd offset (after a NOP):
			 * adjust over the aligned words that hold it. They lie
			 * within the header, whose length is a multiple of 4.
			 */
			off = TCP_MIN_HLEN + i + 2;
			win = tcp + (off & ~(size_t)1);
			n = off & 1 ? 4 : 2;
			memcpy(old, win, n);
			zt_put_be16(tcp + off, mss);
			zt_put_be16(tcp + TCP_OFF_CSUM, zt_csum_replace(zt_get_be16(tcp + TCP_OFF_CSUM), old, win, n));
			return 1;
		}
		i += opt[i + 1];
	}
	return 0;
}
