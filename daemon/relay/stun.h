/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The STUN message codec (RFC 8489, wire-compatible with RFC 5389): parse
 * and build the Binding messages the relay answers and the peers send to
 * learn their public endpoints.
 *
 * Every byte comes from outside: the header's length must match the
 * datagram exactly, each attribute must fit inside the message, known
 * attributes must have the lengths the RFC gives them, FINGERPRINT must be
 * last and correct, and output buffers are never overrun (-ENOSPC).
 *
 * Text attributes (USERNAME, SOFTWARE, REALM, NONCE, the ERROR-CODE reason)
 * are handed out as pointers into the caller's message with a length: they
 * are not NUL-terminated, not checked as UTF-8, and live as long as the
 * message buffer does.
 *
 * MESSAGE-INTEGRITY is HMAC-SHA1, computed by BoringSSL (zt_stun_hmac_sha1).
 * The functions that need it take a zt_stun_hmac_fn; NULL means BoringSSL's.
 * The hook is there so tests can make it fail, and so another MAC source
 * (a key held elsewhere) can be plugged in without touching the codec.
 */
#ifndef ZT_STUN_H
#define ZT_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "ztgate/wire.h"	/* ZT_STUN_HEADER_LEN, ZT_STUN_MAGIC */

#define ZT_STUN_TID_LEN		12	/* 96-bit transaction ID */
#define ZT_STUN_FP_XOR		0x5354554eu	/* "STUN", RFC 8489 14.7 */
#define ZT_STUN_HMAC_LEN	20	/* HMAC-SHA1 */
/* The largest message a 16-bit length field allows (TCP framing). */
#define ZT_STUN_MSG_MAX		(ZT_STUN_HEADER_LEN + 0xfffc)
/* Unknown comprehension-required attributes remembered per message. */
#define ZT_STUN_UNKNOWN_MAX	8

/* Classes, already in the type field's bit positions (RFC 8489 5). */
#define ZT_STUN_CLASS_REQUEST		0x0000
#define ZT_STUN_CLASS_INDICATION	0x0010
#define ZT_STUN_CLASS_SUCCESS		0x0100
#define ZT_STUN_CLASS_ERROR		0x0110
#define ZT_STUN_CLASS_MASK		0x0110

#define ZT_STUN_METHOD_BINDING		0x001

#define ZT_STUN_BINDING_REQUEST		0x0001
#define ZT_STUN_BINDING_INDICATION	0x0011
#define ZT_STUN_BINDING_SUCCESS		0x0101
#define ZT_STUN_BINDING_ERROR		0x0111

enum zt_stun_attr {
	ZT_STUN_A_MAPPED_ADDRESS	= 0x0001,
	ZT_STUN_A_USERNAME		= 0x0006,
	ZT_STUN_A_MESSAGE_INTEGRITY	= 0x0008,
	ZT_STUN_A_ERROR_CODE		= 0x0009,
	ZT_STUN_A_UNKNOWN_ATTRIBUTES	= 0x000a,
	ZT_STUN_A_REALM			= 0x0014,
	ZT_STUN_A_NONCE			= 0x0015,
	ZT_STUN_A_MESSAGE_INTEGRITY_SHA256 = 0x001c,	/* not supported: reported unknown */
	ZT_STUN_A_XOR_MAPPED_ADDRESS	= 0x0020,
	ZT_STUN_A_PRIORITY		= 0x0024,	/* ICE, RFC 8445 */
	ZT_STUN_A_USE_CANDIDATE		= 0x0025,	/* ICE */
	ZT_STUN_A_SOFTWARE		= 0x8022,
	ZT_STUN_A_ALTERNATE_SERVER	= 0x8023,
	ZT_STUN_A_FINGERPRINT		= 0x8028,
	ZT_STUN_A_ICE_CONTROLLED	= 0x8029,	/* ICE */
	ZT_STUN_A_ICE_CONTROLLING	= 0x802a,	/* ICE */
};

/* Types below 0x8000 must be understood, or the message is refused. */
#define ZT_STUN_A_COMPREHENSION_OPTIONAL	0x8000

/* Length limits of RFC 8489 14 (bytes of value, before padding). */
#define ZT_STUN_USERNAME_MAX	513
#define ZT_STUN_TEXT_MAX	763	/* SOFTWARE, REALM, NONCE, reason phrase */

/* Error codes used by a Binding server (RFC 8489 14.8). */
#define ZT_STUN_ERR_BAD_REQUEST		400
#define ZT_STUN_ERR_UNAUTHORIZED	401
#define ZT_STUN_ERR_UNKNOWN_ATTRIBUTE	420
#define ZT_STUN_ERR_SERVER_ERROR	500

/* A transport address: ADDR is IPv6 or IPv4-mapped, as in addr.h. */
struct zt_stun_addr {
	uint8_t addr[16];
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint16_t port;		/* host order */
};

/* A text attribute: points into the parsed message. */
struct zt_stun_text {
	const uint8_t *p;	/* NULL when absent */
	size_t len;
};

struct zt_stun_msg {
	uint16_t type;		/* method and class as on the wire */
	uint16_t method;	/* 12 bits, ZT_STUN_METHOD_* */
	uint16_t cls;		/* ZT_STUN_CLASS_* */
	uint16_t length;	/* the header's length field (bytes after the header) */
	uint8_t tid[ZT_STUN_TID_LEN];

	/* Only the first occurrence of each attribute counts (RFC 8489 14). */
	bool has_mapped;
	struct zt_stun_addr mapped;		/* MAPPED-ADDRESS */
	bool has_xor_mapped;
	struct zt_stun_addr xor_mapped;		/* XOR-MAPPED-ADDRESS, already un-XORed */
	struct zt_stun_text username, software, realm, nonce;
	bool has_error;
	uint16_t error_code;			/* 300..699 */
	struct zt_stun_text reason;
	bool has_priority;
	uint32_t priority;
	bool use_candidate;
	bool has_ice_controlled, has_ice_controlling;
	uint64_t tie_breaker;			/* from the first of the two */

	/*
	 * MESSAGE-INTEGRITY: where its attribute header sits, so that
	 * zt_stun_check_integrity() can authenticate what precedes it. The
	 * parser checks only its length; the HMAC needs the caller's key.
	 */
	bool has_integrity;
	size_t integrity_off;
	/* FINGERPRINT: present, last and correct (the parser refuses it otherwise). */
	bool has_fingerprint;

	/*
	 * Comprehension-required attributes this codec does not know, in
	 * order, at most ZT_STUN_UNKNOWN_MAX (n_unknown counts them all).
	 */
	uint16_t unknown[ZT_STUN_UNKNOWN_MAX];
	size_t n_unknown;

	const char *why;	/* static text: why parsing failed */
};

/*
 * Cheap demultiplexing test for a port shared with other traffic: the two
 * top bits zero, the magic cookie, a length that is a multiple of 4 and
 * matches LEN. Says nothing about the attributes.
 */
bool zt_stun_looks_like(const uint8_t *msg, size_t len);

/*
 * Parse one message of exactly LEN bytes (a UDP datagram, or one message cut
 * from a TCP stream). Returns:
 *   0                      a well-formed message;
 *   ZT_STUN_PARSE_UNKNOWN  well-formed, but with unknown comprehension-
 *                          required attributes (m->unknown): answer a request
 *                          with 420 (zt_stun_build_error_response), drop
 *                          anything else;
 *   -EBADMSG               drop it: m->why says why.
 * MESSAGE-INTEGRITY is not verified here (see zt_stun_check_integrity);
 * FINGERPRINT, when present, is.
 */
#define ZT_STUN_PARSE_UNKNOWN	1
int zt_stun_parse(const uint8_t *msg, size_t len, struct zt_stun_msg *m);

/*
 * HMAC-SHA1 of the concatenated IOV under KEY into MAC. Returns 0 or -errno.
 * A short-term credential's key is the password (after OpaqueString, which
 * is the caller's business); a long-term one is MD5(user:realm:password).
 */
typedef int (*zt_stun_hmac_fn)(const uint8_t *key, size_t keylen, const struct iovec *iov,
			       size_t iovcnt, uint8_t mac[ZT_STUN_HMAC_LEN]);

/* HMAC-SHA1 by BoringSSL; -EIO if it fails. */
int zt_stun_hmac_sha1(const uint8_t *key, size_t keylen, const struct iovec *iov, size_t iovcnt,
		      uint8_t mac[ZT_STUN_HMAC_LEN]);

/*
 * Verify the MESSAGE-INTEGRITY of MSG (already parsed into M): the HMAC over
 * the message up to the attribute, with the header's length adjusted to end
 * just after it (RFC 8489 14.5). HMAC NULL: zt_stun_hmac_sha1. Returns 0
 * when it matches, -EBADMSG when it does not, -ENOENT when the message has
 * none, or the hook's error.
 */
int zt_stun_check_integrity(const uint8_t *msg, size_t len, const struct zt_stun_msg *m,
			    const uint8_t *key, size_t keylen, zt_stun_hmac_fn hmac);

/*
 * Building a message: init, add attributes in the order they should appear,
 * then MESSAGE-INTEGRITY and FINGERPRINT (in that order, both optional),
 * then finish. Each call returns 0 or -errno; the first error also sticks,
 * so a caller may check only zt_stun_finish(). The header's length is kept
 * current after every call.
 */
struct zt_stun_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	/* Padding bytes' value: any value is valid (RFC 8489 14), 0 by default.
	 * RFC 5769's vectors pad with spaces; a test reproduces them with ' '. */
	uint8_t pad;
	bool sealed;		/* FINGERPRINT added: nothing may follow */
	bool integrity;		/* MESSAGE-INTEGRITY added: only FINGERPRINT may follow */
	int err;
};

int zt_stun_init(struct zt_stun_builder *b, uint8_t *buf, size_t cap, uint16_t type,
		 const uint8_t tid[ZT_STUN_TID_LEN]);
/* Any attribute with a raw value (padding added here). */
int zt_stun_add_attr(struct zt_stun_builder *b, uint16_t type, const void *val, size_t len);
/* MAPPED-ADDRESS or XOR-MAPPED-ADDRESS (XORed here) per TYPE. */
int zt_stun_add_addr(struct zt_stun_builder *b, uint16_t type, const struct zt_stun_addr *a);
/* ERROR-CODE with CODE in 300..699 and a reason phrase (may be NULL). */
int zt_stun_add_error(struct zt_stun_builder *b, uint16_t code, const char *reason);
/* UNKNOWN-ATTRIBUTES listing N types. */
int zt_stun_add_unknown(struct zt_stun_builder *b, const uint16_t *types, size_t n);
/* MESSAGE-INTEGRITY under KEY (see zt_stun_hmac_fn); HMAC NULL: zt_stun_hmac_sha1. */
int zt_stun_add_integrity(struct zt_stun_builder *b, const uint8_t *key, size_t keylen,
			  zt_stun_hmac_fn hmac);
int zt_stun_add_fingerprint(struct zt_stun_builder *b);
/* The message's length, or the first error. */
ssize_t zt_stun_finish(struct zt_stun_builder *b);

/*
 * The replies a Binding server makes, each ending with FINGERPRINT and
 * without MESSAGE-INTEGRITY (the relay's Binding service is
 * unauthenticated). SOFTWARE is added when SOFTWARE is not NULL.
 * Return the length or -errno.
 */
/* Success: XOR-MAPPED-ADDRESS = FROM, the request's source. */
ssize_t zt_stun_build_binding_success(const struct zt_stun_msg *req,
				      const struct zt_stun_addr *from, const char *software,
				      uint8_t *out, size_t cap);
/* Error: 400, 420 (lists req->unknown), 500... */
ssize_t zt_stun_build_binding_error(const struct zt_stun_msg *req, uint16_t code,
				    const char *reason, const char *software,
				    uint8_t *out, size_t cap);
/* A Binding request with FINGERPRINT, as a client sends it. */
ssize_t zt_stun_build_binding_request(const uint8_t tid[ZT_STUN_TID_LEN], const char *software,
				      uint8_t *out, size_t cap);

#endif
