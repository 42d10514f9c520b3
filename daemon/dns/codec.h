/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The DNS message codec of the client's DNS server (RFC 1035, EDNS0 per
 * RFC 6891): parse one query, build the few replies the server makes
 * itself, and look inside an upstream answer for the rebinding guard.
 *
 * Every byte comes from outside: each read is bounds-checked, compression
 * pointers may only point backwards (so they cannot loop) and are followed
 * a bounded number of times, names stop at 255 wire bytes, and output
 * buffers are never overrun (-ENOSPC instead).
 *
 * Names handed out are in presentation form, lowercase (ASCII only, as DNS
 * compares), without the trailing dot; the root is "". A '.' or '\' inside a
 * label and any byte outside 0x21-0x7e are escaped ("\.", "\\", "\DDD"), so
 * the label "nas.home" followed by "int" can never read as nas.home.int.
 */
#ifndef ZT_DNS_MSG_H
#define ZT_DNS_MSG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/addr.h"
#include "lib/dns_name.h"
#include "ztgate/defaults.h"	/* ZT_DNS_EDNS_UDP_SIZE: what we advertise */
#include "ztgate/wire.h"	/* ZT_DNS_HEADER_LEN, ZT_DNS_F_*, ZT_DNS_CLASS_IN */

#define ZT_DNS_NAME_WIRE_MAX	255	/* RFC 1035 2.3.4, length bytes and root included */
#define ZT_DNS_NAME_TEXT_MAX	1024	/* 255 wire bytes in presentation form, escapes included */
#define ZT_DNS_UDP_PLAIN_MAX	512	/* a UDP reply without EDNS0 */
/*
 * Largest query we accept: one question plus an OPT record with room for
 * padding and cookies. A receive buffer one byte larger tells oversize apart.
 */
#define ZT_DNS_QUERY_MAX	4096

enum zt_dns_type {
	ZT_DNS_T_A	= ZT_DNS_TYPE_A,
	ZT_DNS_T_NS	= 2,
	ZT_DNS_T_CNAME	= 5,
	ZT_DNS_T_SOA	= 6,
	ZT_DNS_T_PTR	= 12,
	ZT_DNS_T_MX	= 15,
	ZT_DNS_T_TXT	= 16,
	ZT_DNS_T_AAAA	= 28,
	ZT_DNS_T_OPT	= ZT_DNS_TYPE_OPT,
	ZT_DNS_T_ANY	= 255,
};

enum zt_dns_rcode {
	ZT_DNS_RCODE_NOERROR	= 0,
	ZT_DNS_RCODE_FORMERR	= 1,
	ZT_DNS_RCODE_SERVFAIL	= 2,
	ZT_DNS_RCODE_NXDOMAIN	= 3,
	ZT_DNS_RCODE_NOTIMP	= 4,
	ZT_DNS_RCODE_REFUSED	= 5,
	ZT_DNS_RCODE_BADVERS	= 16,	/* extended: needs the OPT record */
};

struct zt_dns_query {
	uint16_t id;
	uint16_t flags;			/* as received */
	/* The question; valid only when has_question (replies then echo it). */
	bool has_question;
	uint16_t qtype;
	uint16_t qclass;
	char name[ZT_DNS_NAME_TEXT_MAX];	/* normalised, see above */
	/* Uncompressed wire form with the case as sent: replies echo it so
	 * resolvers that randomise case (DNS 0x20) accept them. */
	uint8_t qname[ZT_DNS_NAME_WIRE_MAX];
	size_t qname_len;
	/* EDNS0: set when the additional section held a valid OPT record. */
	bool edns;
	bool edns_do;			/* DNSSEC OK, echoed */
	bool edns_options;		/* the OPT record carried options (a cookie, ECS...) */
	uint8_t edns_version;
	uint16_t edns_udp_size;		/* the client's limit, at least 512 */
	const char *why;		/* static text: why the query was refused */
};

/*
 * Parse one query of LEN bytes (a UDP datagram, or a TCP message without
 * its length prefix). Returns:
 *   ZT_DNS_RCODE_NOERROR   a query to answer;
 *   ZT_DNS_RCODE_FORMERR, _NOTIMP or _BADVERS: answer with
 *                          zt_dns_build_error(q, rcode, ...);
 *   -EBADMSG               drop it silently: shorter than a header, or a
 *                          response (answering those invites loops).
 * q->why says what was wrong in every case but NOERROR.
 */
int zt_dns_parse_query(const uint8_t *msg, size_t len, struct zt_dns_query *q);

/*
 * Replies to Q, written to OUT; they return the length or -ENOSPC. The ID,
 * opcode, RD and CD are copied, RA is set, the question is echoed when Q
 * has one, and an OPT record (with DO echoed) is added when Q had one.
 * Every reply fits in ZT_DNS_UDP_PLAIN_MAX bytes.
 */
/* One A record; its owner is a compression pointer to the question. */
ssize_t zt_dns_build_a(const struct zt_dns_query *q, struct in_addr addr, uint32_t ttl,
		       uint8_t *out, size_t outlen);
/* NOERROR with an empty answer: the name exists, not with this type. */
ssize_t zt_dns_build_nodata(const struct zt_dns_query *q, uint8_t *out, size_t outlen);
/* An error reply (FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, BADVERS). */
ssize_t zt_dns_build_error(const struct zt_dns_query *q, unsigned int rcode,
			   uint8_t *out, size_t outlen);

/*
 * Rebinding guard: 1 if an A or AAAA record in the answer section of the
 * response MSG points into PREFIX (an AAAA counts as its IPv4-mapped form
 * too, since ::ffff:a.b.c.d reaches a.b.c.d), 0 if none does, -EBADMSG if
 * the message does not parse (treat it as unsafe).
 */
int zt_dns_answer_in_prefix(const uint8_t *msg, size_t len, const struct zt_prefix *prefix);
/* The same over N prefixes: 1 + the index of the first one hit, 0, -EBADMSG. */
int zt_dns_answer_in_prefixes(const uint8_t *msg, size_t len, const struct zt_prefix *prefixes,
			      size_t n);

/*
 * What a cache must know of an upstream response: zt_dns_response_scan().
 * TTL_OFF receives the offset of every record's TTL field (answer,
 * authority and additional sections; the OPT record's "TTL" holds flags
 * and is left out), so a cached copy can have them all aged.
 */
struct zt_dns_response_info {
	uint16_t flags;			/* the header's flags, RCODE included */
	unsigned int ancount;
	uint32_t min_ttl;		/* smallest TTL of any record; UINT32_MAX: none */
	bool has_soa;			/* the authority section holds an SOA */
	uint32_t soa_negative_ttl;	/* RFC 2308 5: min(SOA TTL, SOA MINIMUM) */
	size_t nttl;			/* TTL offsets written to TTL_OFF */
};

/*
 * Walk the response MSG to query Q: it must parse to its last byte and
 * hold exactly Q's question (the name compared as DNS does, ignoring ASCII
 * case, and uncompressed). Up to MAXTTL offsets go to TTL_OFF. Returns 0,
 * -EBADMSG (does not parse, or another question), -E2BIG (more than MAXTTL
 * records).
 */
int zt_dns_response_scan(const uint8_t *msg, size_t len, const struct zt_dns_query *q,
			 struct zt_dns_response_info *info, uint16_t *ttl_off, size_t maxttl);

/* Replace a message's ID (an upstream answer going back to the client). */
int zt_dns_set_id(uint8_t *msg, size_t len, uint16_t id);

#endif
