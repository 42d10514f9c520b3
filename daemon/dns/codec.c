// SPDX-License-Identifier: GPL-2.0-only
/*
 * DNS messages (codec.h): one query parsed, the server's replies built. Used
 * by the DNS server, the connector's bind check and the policy's name checks.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/bytes.h"
#include "dns/codec.h"

/*
 * A pointer must point before the start of the stretch of labels it ends
 * (the name's start, or the previous pointer's target). Targets then
 * strictly decrease, so loops are impossible; "before the pointer itself"
 * would not do, as a name can run forward into the same pointer again.
 * The hop bound keeps a name's cost small even so (a 255-byte name has at
 * most 127 labels, so honest messages never come close).
 */
#define MAX_POINTER_HOPS	128

/*
 * Read the name starting at *off. WIRE (may be NULL) receives it
 * uncompressed, *wire_len its length. *off moves past the name as it sits
 * in the message, i.e. past the first pointer if there is one.
 */
static int read_name(const uint8_t *msg, size_t len, size_t *off, uint8_t *wire,
		     size_t *wire_len, const char **why)
{
	size_t pos = *off, stretch = *off, end = 0, out = 0;
	unsigned int hops = 0;
	bool jumped = false;

	for (;;) {
		uint8_t c;

		if (pos >= len) {
			*why = "name runs past the end of the message";
			return -EBADMSG;
		}
		c = msg[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= len) {
				*why = "truncated compression pointer";
				return -EBADMSG;
			}
			target = (size_t)(c & 0x3f) << 8 | msg[pos + 1];
			if (target >= stretch || ++hops > MAX_POINTER_HOPS) {
				*why = "compression pointer loops or points forward";
				return -EBADMSG;
			}
			if (!jumped)
				end = pos + 2;
			jumped = true;
			pos = stretch = target;
			continue;
		}
		if (c & 0xc0) {
			/* 0x40 and 0x80: extended and reserved label types. */
			*why = "unknown label type";
			return -EBADMSG;
		}
		/* This label (or the root byte) plus the root byte still to come. */
		if (out + 1 + c + (c ? 1 : 0) > ZT_DNS_NAME_WIRE_MAX) {
			*why = "name longer than 255 bytes";
			return -EBADMSG;
		}
		if (c == 0) {
			if (wire)
				wire[out] = 0;
			out++;
			pos++;
			break;
		}
		if (c > len - pos - 1) {
			*why = "label runs past the end of the message";
			return -EBADMSG;
		}
		if (wire)
			memcpy(wire + out, msg + pos, (size_t)c + 1);
		out += (size_t)c + 1;
		pos += (size_t)c + 1;
	}
	*off = jumped ? end : pos;
	if (wire_len)
		*wire_len = out;
	return 0;
}

/* Each byte as it appears in presentation form, lowercased; 0: escaped. */
static const uint8_t text_byte[256] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
	0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x00, 0x2f,
	0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
	0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
	0x40, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67,
	0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
	0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77,
	0x78, 0x79, 0x7a, 0x5b, 0x00, 0x5d, 0x5e, 0x5f,
	0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67,
	0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
	0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77,
	0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* Presentation form of a validated wire name: see dns/codec.h. */
static void name_to_text(const uint8_t *wire, char *text, size_t textlen)
{
	size_t i = 0, o = 0;

	/*
	 * A buffer of ZT_DNS_NAME_TEXT_MAX holds any 255-byte wire name with
	 * every byte escaped ("\DDD"): no bounds checks per byte, and one table
	 * look-up for the usual bytes. The loop below does the same for any size.
	 */
	if (textlen >= ZT_DNS_NAME_TEXT_MAX) {
		while (wire[i]) {
			uint8_t n = wire[i++], j;

			if (o)
				text[o++] = '.';
			for (j = 0; j < n; j++, i++) {
				uint8_t c = wire[i], t = text_byte[c];

				if (t) {
					text[o++] = (char)t;
				} else if (c == '.' || c == '\\') {
					text[o++] = '\\';
					text[o++] = (char)c;
				} else {
					o += (size_t)snprintf(text + o, textlen - o, "\\%03u", c);
				}
			}
		}
		text[o] = '\0';
		return;
	}

	while (wire[i]) {
		uint8_t n = wire[i++], j;

		if (o && o < textlen - 1)
			text[o++] = '.';
		for (j = 0; j < n; j++, i++) {
			uint8_t c = wire[i];

			if (c >= 'A' && c <= 'Z')
				c = (uint8_t)(c - 'A' + 'a');
			if (o + 5 > textlen)
				continue;	/* cannot happen with ZT_DNS_NAME_TEXT_MAX */
			if (c == '.' || c == '\\') {
				text[o++] = '\\';
				text[o++] = (char)c;
			} else if (c < 0x21 || c > 0x7e) {
				o += (size_t)snprintf(text + o, textlen - o, "\\%03u", c);
			} else {
				text[o++] = (char)c;
			}
		}
	}
	text[o] = '\0';
}

/*
 * Skip one resource record at *off (the name, fixed fields and RDATA).
 * Hands the fixed fields back so callers can look at the record.
 */
struct rr_view {
	size_t name_off;
	uint16_t type;
	uint16_t class;
	uint32_t ttl;
	uint16_t rdlength;
	size_t rdata_off;
};

static int skip_rr(const uint8_t *msg, size_t len, size_t *off, struct rr_view *rr,
		   const char **why)
{
	int ret;

	rr->name_off = *off;
	ret = read_name(msg, len, off, NULL, NULL, why);
	if (ret)
		return ret;
	if (len - *off < 10) {
		*why = "truncated resource record";
		return -EBADMSG;
	}
	rr->type = zt_get_be16(msg + *off);
	rr->class = zt_get_be16(msg + *off + 2);
	rr->ttl = zt_get_be32(msg + *off + 4);
	rr->rdlength = zt_get_be16(msg + *off + 8);
	*off += 10;
	if (rr->rdlength > len - *off) {
		*why = "record data runs past the end of the message";
		return -EBADMSG;
	}
	rr->rdata_off = *off;
	*off += rr->rdlength;
	return 0;
}

/* An OPT record's options are code, length, data; check they tile RDATA. */
static bool opt_options_valid(const uint8_t *rdata, size_t rdlength)
{
	size_t off = 0;

	while (off < rdlength) {
		if (rdlength - off < 4)
			return false;
		if (zt_get_be16(rdata + off + 2) > rdlength - off - 4)
			return false;
		off += 4 + (size_t)zt_get_be16(rdata + off + 2);
	}
	return true;
}

int zt_dns_parse_query(const uint8_t *msg, size_t len, struct zt_dns_query *q)
{
	unsigned int qdcount, ancount, nscount, arcount, i;
	size_t off = ZT_DNS_HEADER_LEN;
	bool seen_opt = false;
	const char *why = NULL;

	/* Every field but the two name buffers, which only need to read as
	 * empty: clearing all 1.3 KB would cost more than the parse. */
	q->id = 0;
	q->flags = 0;
	q->has_question = false;
	q->qtype = 0;
	q->qclass = 0;
	q->name[0] = '\0';
	q->qname[0] = 0;
	q->qname_len = 0;
	q->edns = false;
	q->edns_do = false;
	q->edns_options = false;
	q->edns_version = 0;
	q->why = NULL;
	q->edns_udp_size = ZT_DNS_UDP_PLAIN_MAX;
	if (len < ZT_DNS_HEADER_LEN) {
		q->why = "shorter than a DNS header";
		return -EBADMSG;
	}
	q->id = zt_get_be16(msg);
	q->flags = zt_get_be16(msg + 2);
	if (q->flags & ZT_DNS_F_QR) {
		q->why = "a response, not a query";
		return -EBADMSG;
	}
	if (q->flags & ZT_DNS_F_OPCODE) {
		q->why = "opcode other than QUERY";
		return ZT_DNS_RCODE_NOTIMP;
	}
	qdcount = zt_get_be16(msg + 4);
	ancount = zt_get_be16(msg + 6);
	nscount = zt_get_be16(msg + 8);
	arcount = zt_get_be16(msg + 10);
	if (qdcount != 1) {
		q->why = qdcount ? "more than one question" : "no question";
		return ZT_DNS_RCODE_FORMERR;
	}

	if (read_name(msg, len, &off, q->qname, &q->qname_len, &why))
		goto formerr;
	if (len - off < 4) {
		why = "truncated question";
		goto formerr;
	}
	q->qtype = zt_get_be16(msg + off);
	q->qclass = zt_get_be16(msg + off + 2);
	off += 4;
	name_to_text(q->qname, q->name, sizeof(q->name));
	q->has_question = true;

	/* Queries carry no answer or authority records, but skipping them
	 * costs nothing; the additional section may hold OPT (and TSIG,
	 * which we ignore). Each record is at least 11 bytes, so the loop
	 * ends with the message. */
	for (i = 0; i < ancount + nscount + arcount; i++) {
		struct rr_view rr;

		if (skip_rr(msg, len, &off, &rr, &why))
			goto formerr;
		if (i < ancount + nscount || rr.type != ZT_DNS_T_OPT)
			continue;
		/* RFC 6891 6.1.1: one OPT, owned by the root. */
		if (seen_opt) {
			why = "more than one OPT record";
			goto formerr;
		}
		if (msg[rr.name_off] != 0) {
			why = "OPT record not owned by the root";
			goto formerr;
		}
		if (!opt_options_valid(msg + rr.rdata_off, rr.rdlength)) {
			why = "malformed EDNS option";
			goto formerr;
		}
		seen_opt = true;
		q->edns_udp_size = rr.class < ZT_DNS_UDP_PLAIN_MAX ? ZT_DNS_UDP_PLAIN_MAX : rr.class;
		q->edns_version = (uint8_t)(rr.ttl >> 16);
		q->edns_do = rr.ttl & 0x8000;
		q->edns_options = rr.rdlength > 0;
	}
	if (off != len) {
		why = "trailing bytes after the last record";
		goto formerr;
	}
	if (len > ZT_DNS_QUERY_MAX) {
		why = "oversize query";
		goto formerr;
	}
	q->edns = seen_opt;
	if (seen_opt && q->edns_version != 0) {
		q->why = "unsupported EDNS version";
		return ZT_DNS_RCODE_BADVERS;
	}
	return ZT_DNS_RCODE_NOERROR;

formerr:
	/* An OPT we could not trust is not echoed. */
	q->edns = false;
	q->edns_do = false;
	q->edns_options = false;
	q->edns_udp_size = ZT_DNS_UDP_PLAIN_MAX;
	q->why = why;
	return ZT_DNS_RCODE_FORMERR;
}

/* A bounded writer: a write that does not fit sets overflow and stops. */
struct wbuf {
	uint8_t *p;
	size_t cap;
	size_t len;
	bool overflow;
};

static void put(struct wbuf *w, const void *data, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = true;
		return;
	}
	memcpy(w->p + w->len, data, n);
	w->len += n;
}

static void put16(struct wbuf *w, uint16_t v)
{
	uint8_t b[2];

	zt_put_be16(b, v);
	put(w, b, sizeof(b));
}

static void put32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4];

	zt_put_be32(b, v);
	put(w, b, sizeof(b));
}

static ssize_t build_reply(const struct zt_dns_query *q, unsigned int rcode, bool authoritative,
			   const struct in_addr *a, uint32_t ttl, uint8_t *out, size_t outlen)
{
	struct wbuf w = { .p = out, .cap = outlen };
	uint16_t flags;

	if (rcode > 0xfff || (a && !q->has_question) ||
	    (q->has_question && (q->qname_len < 1 || q->qname_len > ZT_DNS_NAME_WIRE_MAX)))
		return -EINVAL;
	/* Extended RCODEs live partly in the OPT record. */
	if (rcode > ZT_DNS_F_RCODE && !q->edns)
		return -EINVAL;

	flags = ZT_DNS_F_QR | ZT_DNS_F_RA | (rcode & ZT_DNS_F_RCODE) |
		(q->flags & (ZT_DNS_F_OPCODE | ZT_DNS_F_RD | ZT_DNS_F_CD));
	/* Resource names exist only here: our answers are the authority. */
	if (authoritative)
		flags |= ZT_DNS_F_AA;
	put16(&w, q->id);
	put16(&w, flags);
	put16(&w, q->has_question ? 1 : 0);
	put16(&w, a ? 1 : 0);
	put16(&w, 0);
	put16(&w, q->edns ? 1 : 0);

	if (q->has_question) {
		put(&w, q->qname, q->qname_len);
		put16(&w, q->qtype);
		put16(&w, q->qclass);
	}
	if (a) {
		put16(&w, 0xc000 | ZT_DNS_HEADER_LEN);	/* the question's name */
		put16(&w, ZT_DNS_T_A);
		put16(&w, ZT_DNS_CLASS_IN);
		put32(&w, ttl);
		put16(&w, 4);
		put(&w, &a->s_addr, 4);			/* already network order */
	}
	if (q->edns) {
		uint8_t root = 0;

		put(&w, &root, 1);
		put16(&w, ZT_DNS_T_OPT);
		put16(&w, ZT_DNS_EDNS_UDP_SIZE);
		/* TTL: extended RCODE (upper 8 of 12 bits), version 0, DO. */
		put32(&w, (uint32_t)(rcode >> 4) << 24 | (q->edns_do ? 0x8000u : 0));
		put16(&w, 0);
	}
	if (w.overflow)
		return -ENOSPC;
	return (ssize_t)w.len;
}

ssize_t zt_dns_build_a(const struct zt_dns_query *q, struct in_addr addr, uint32_t ttl,
		       uint8_t *out, size_t outlen)
{
	return build_reply(q, ZT_DNS_RCODE_NOERROR, true, &addr, ttl, out, outlen);
}

ssize_t zt_dns_build_nodata(const struct zt_dns_query *q, uint8_t *out, size_t outlen)
{
	return build_reply(q, ZT_DNS_RCODE_NOERROR, true, NULL, 0, out, outlen);
}

ssize_t zt_dns_build_error(const struct zt_dns_query *q, unsigned int rcode,
			   uint8_t *out, size_t outlen)
{
	return build_reply(q, rcode, false, NULL, 0, out, outlen);
}

static bool prefix_contains(const struct zt_prefix *p, const uint8_t addr[16])
{
	unsigned int bits = zt_prefix_len128(p), whole = bits / 8, rest = bits % 8;

	if (bits > 128)
		return false;
	if (memcmp(p->addr, addr, whole))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		if ((p->addr[whole] & mask) != (addr[whole] & mask))
			return false;
	}
	return true;
}

int zt_dns_answer_in_prefix(const uint8_t *msg, size_t len, const struct zt_prefix *prefix)
{
	return zt_dns_answer_in_prefixes(msg, len, prefix, 1);	/* 1 on a hit: index 0 */
}

int zt_dns_answer_in_prefixes(const uint8_t *msg, size_t len, const struct zt_prefix *prefixes,
			      size_t n)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	unsigned int qdcount, ancount, i;
	size_t off = ZT_DNS_HEADER_LEN, j;
	const char *why;
	uint8_t addr[16];

	if (len < ZT_DNS_HEADER_LEN)
		return -EBADMSG;
	qdcount = zt_get_be16(msg + 4);
	ancount = zt_get_be16(msg + 6);
	for (i = 0; i < qdcount; i++) {
		if (read_name(msg, len, &off, NULL, NULL, &why) || len - off < 4)
			return -EBADMSG;
		off += 4;
	}
	for (i = 0; i < ancount; i++) {
		struct rr_view rr;

		if (skip_rr(msg, len, &off, &rr, &why))
			return -EBADMSG;
		/* Any class: a client that misreads one must not be steered either. */
		if (rr.type == ZT_DNS_T_A && rr.rdlength == 4) {
			memcpy(addr, v4mapped, sizeof(v4mapped));
			memcpy(addr + 12, msg + rr.rdata_off, 4);
		} else if (rr.type == ZT_DNS_T_AAAA && rr.rdlength == 16) {
			memcpy(addr, msg + rr.rdata_off, 16);
		} else {
			continue;
		}
		for (j = 0; j < n; j++)
			if (prefix_contains(&prefixes[j], addr))
				return (int)j + 1;
	}
	return 0;
}

/* Wire names equal as DNS compares them: ASCII case ignored, other bytes exact. */
static bool wire_names_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		uint8_t x = a[i], y = b[i];

		if (x >= 'A' && x <= 'Z')
			x = (uint8_t)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (uint8_t)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

int zt_dns_response_scan(const uint8_t *msg, size_t len, const struct zt_dns_query *q,
			 struct zt_dns_response_info *info, uint16_t *ttl_off, size_t maxttl)
{
	unsigned int ancount, nscount, arcount, i;
	size_t off = ZT_DNS_HEADER_LEN + q->qname_len;
	const char *why;

	memset(info, 0, sizeof(*info));
	info->min_ttl = UINT32_MAX;
	/*
	 * The question must be the very bytes asked (case aside), not a
	 * pointer: labels compared in place, with lengths as label bytes.
	 * Offsets must fit the 16-bit TTL_OFF entries.
	 */
	if (len < ZT_DNS_HEADER_LEN || len > UINT16_MAX || !q->has_question ||
	    zt_get_be16(msg + 4) != 1 || len - ZT_DNS_HEADER_LEN < q->qname_len + 4 ||
	    !wire_names_equal(msg + ZT_DNS_HEADER_LEN, q->qname, q->qname_len) ||
	    zt_get_be16(msg + off) != q->qtype || zt_get_be16(msg + off + 2) != q->qclass)
		return -EBADMSG;
	off += 4;
	info->flags = zt_get_be16(msg + 2);
	ancount = zt_get_be16(msg + 6);
	nscount = zt_get_be16(msg + 8);
	arcount = zt_get_be16(msg + 10);
	info->ancount = ancount;
	for (i = 0; i < ancount + nscount + arcount; i++) {
		struct rr_view rr;

		if (skip_rr(msg, len, &off, &rr, &why))
			return -EBADMSG;
		if (rr.type == ZT_DNS_T_OPT && i >= ancount + nscount)
			continue;
		if (info->nttl == maxttl)
			return -E2BIG;
		ttl_off[info->nttl++] = (uint16_t)(rr.rdata_off - 6);
		/* RFC 2181 8: a TTL with the top bit set counts as zero. */
		if (rr.ttl > INT32_MAX)
			rr.ttl = 0;
		if (rr.ttl < info->min_ttl)
			info->min_ttl = rr.ttl;
		if (rr.type == ZT_DNS_T_SOA && i >= ancount && i < ancount + nscount &&
		    !info->has_soa) {
			size_t p = rr.rdata_off;
			uint32_t minimum;

			/* MNAME, RNAME, then five 32-bit fields; MINIMUM is the last. */
			if (read_name(msg, rr.rdata_off + rr.rdlength, &p, NULL, NULL, &why) ||
			    read_name(msg, rr.rdata_off + rr.rdlength, &p, NULL, NULL, &why) ||
			    rr.rdata_off + rr.rdlength - p != 20)
				return -EBADMSG;
			minimum = zt_get_be32(msg + p + 16);
			if (minimum > INT32_MAX)
				minimum = 0;
			info->has_soa = true;
			info->soa_negative_ttl = rr.ttl < minimum ? rr.ttl : minimum;
		}
	}
	if (off != len)
		return -EBADMSG;
	return 0;
}

int zt_dns_set_id(uint8_t *msg, size_t len, uint16_t id)
{
	if (len < ZT_DNS_HEADER_LEN)
		return -EBADMSG;
	zt_put_be16(msg, id);
	return 0;
}
