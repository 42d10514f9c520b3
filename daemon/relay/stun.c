// SPDX-License-Identifier: GPL-2.0-only
/* STUN Binding messages (stun.h): the relay answers them; peers and `ztgate netcheck` ask. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include "lib/bytes.h"
#include "relay/stun.h"

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* RFC 8489 14.7: CRC-32 (ISO HDLC, as zlib computes it) XOR "STUN". */
static uint32_t fingerprint(const uint8_t *msg, size_t len)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), msg, (uInt)len) ^ ZT_STUN_FP_XOR;
}

bool zt_stun_looks_like(const uint8_t *msg, size_t len)
{
	if (len < ZT_STUN_HEADER_LEN || (msg[0] & 0xc0))
		return false;
	if (zt_get_be32(msg + 4) != ZT_STUN_MAGIC)
		return false;
	return (zt_get_be16(msg + 2) & 3) == 0 && (size_t)zt_get_be16(msg + 2) + ZT_STUN_HEADER_LEN == len;
}

/*
 * MAPPED-ADDRESS and XOR-MAPPED-ADDRESS share a layout (RFC 8489 14.1-2):
 * a reserved byte, the family (1 or 2), the port, 4 or 16 address bytes.
 * XOR-MAPPED-ADDRESS XORs the port with the cookie's top half and the
 * address with the cookie (IPv4) or the cookie and transaction ID (IPv6).
 */
static int read_addr(const uint8_t *v, size_t len, bool xor, const uint8_t *hdr,
		     struct zt_stun_addr *a, const char **why)
{
	static const uint8_t mapped_prefix[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
	};
	size_t i;

	if (len < 4) {
		*why = "address attribute too short";
		return -EBADMSG;
	}
	/* The reserved first byte is ignored, as the RFC asks. */
	a->port = zt_get_be16(v + 2);
	if (xor)
		a->port ^= (uint16_t)(ZT_STUN_MAGIC >> 16);
	switch (v[1]) {
	case 0x01:
		if (len != 8) {
			*why = "IPv4 address attribute not 8 bytes";
			return -EBADMSG;
		}
		a->family = AF_INET;
		memcpy(a->addr, mapped_prefix, sizeof(mapped_prefix));
		for (i = 0; i < 4; i++)
			a->addr[12 + i] = (uint8_t)(v[4 + i] ^ (xor ? hdr[4 + i] : 0));
		return 0;
	case 0x02:
		if (len != 20) {
			*why = "IPv6 address attribute not 20 bytes";
			return -EBADMSG;
		}
		a->family = AF_INET6;
		/* hdr + 4: the cookie, then the transaction ID, 16 bytes in all. */
		for (i = 0; i < 16; i++)
			a->addr[i] = (uint8_t)(v[4 + i] ^ (xor ? hdr[4 + i] : 0));
		return 0;
	default:
		*why = "unknown address family";
		return -EBADMSG;
	}
}

static int read_text(const uint8_t *v, size_t len, size_t max, struct zt_stun_text *t,
		     const char **why)
{
	if (len > max) {
		*why = "text attribute too long";
		return -EBADMSG;
	}
	if (!t->p) {
		t->p = v;
		t->len = len;
	}
	return 0;
}

/* One attribute known to us, at most once (later copies are ignored). */
static int read_attr(uint16_t type, const uint8_t *v, size_t len, const uint8_t *msg,
		     struct zt_stun_msg *m)
{
	const char **why = &m->why;

	switch (type) {
	case ZT_STUN_A_MAPPED_ADDRESS:
	case ZT_STUN_A_XOR_MAPPED_ADDRESS: {
		bool xor = type == ZT_STUN_A_XOR_MAPPED_ADDRESS;
		bool *has = xor ? &m->has_xor_mapped : &m->has_mapped;
		struct zt_stun_addr a;
		int ret = read_addr(v, len, xor, msg, &a, why);

		if (ret)
			return ret;
		if (!*has) {
			*has = true;
			*(xor ? &m->xor_mapped : &m->mapped) = a;
		}
		return 0;
	}
	case ZT_STUN_A_USERNAME:
		return read_text(v, len, ZT_STUN_USERNAME_MAX, &m->username, why);
	case ZT_STUN_A_SOFTWARE:
		return read_text(v, len, ZT_STUN_TEXT_MAX, &m->software, why);
	case ZT_STUN_A_REALM:
		return read_text(v, len, ZT_STUN_TEXT_MAX, &m->realm, why);
	case ZT_STUN_A_NONCE:
		return read_text(v, len, ZT_STUN_TEXT_MAX, &m->nonce, why);
	case ZT_STUN_A_ERROR_CODE: {
		unsigned int cls, num;

		if (len < 4 || len - 4 > ZT_STUN_TEXT_MAX) {
			*why = "ERROR-CODE length out of range";
			return -EBADMSG;
		}
		cls = v[2] & 0x07;
		num = v[3];
		if (cls < 3 || cls > 6 || num > 99) {
			*why = "ERROR-CODE out of range";
			return -EBADMSG;
		}
		if (!m->has_error) {
			m->has_error = true;
			m->error_code = (uint16_t)(cls * 100 + num);
			m->reason.p = v + 4;
			m->reason.len = len - 4;
		}
		return 0;
	}
	case ZT_STUN_A_UNKNOWN_ATTRIBUTES:
		if (len % 2) {
			*why = "UNKNOWN-ATTRIBUTES of odd length";
			return -EBADMSG;
		}
		return 0;
	case ZT_STUN_A_PRIORITY:
		if (len != 4) {
			*why = "PRIORITY not 4 bytes";
			return -EBADMSG;
		}
		if (!m->has_priority) {
			m->has_priority = true;
			m->priority = zt_get_be32(v);
		}
		return 0;
	case ZT_STUN_A_USE_CANDIDATE:
		if (len != 0) {
			*why = "USE-CANDIDATE not empty";
			return -EBADMSG;
		}
		m->use_candidate = true;
		return 0;
	case ZT_STUN_A_ICE_CONTROLLED:
	case ZT_STUN_A_ICE_CONTROLLING:
		if (len != 8) {
			*why = "ICE-CONTROLLED/CONTROLLING not 8 bytes";
			return -EBADMSG;
		}
		if (!m->has_ice_controlled && !m->has_ice_controlling)
			m->tie_breaker = (uint64_t)zt_get_be32(v) << 32 | zt_get_be32(v + 4);
		if (type == ZT_STUN_A_ICE_CONTROLLED)
			m->has_ice_controlled = true;
		else
			m->has_ice_controlling = true;
		return 0;
	case ZT_STUN_A_ALTERNATE_SERVER:
		return 0;	/* optional, and we never follow redirects */
	default:
		if (type < ZT_STUN_A_COMPREHENSION_OPTIONAL) {
			if (m->n_unknown < ZT_STUN_UNKNOWN_MAX)
				m->unknown[m->n_unknown] = type;
			m->n_unknown++;
		}
		return 0;
	}
}

int zt_stun_parse(const uint8_t *msg, size_t len, struct zt_stun_msg *m)
{
	size_t off;
	int ret;

	memset(m, 0, sizeof(*m));
	if (len < ZT_STUN_HEADER_LEN) {
		m->why = "shorter than a STUN header";
		return -EBADMSG;
	}
	if (msg[0] & 0xc0) {
		m->why = "top bits of the type set: not STUN";
		return -EBADMSG;
	}
	if (zt_get_be32(msg + 4) != ZT_STUN_MAGIC) {
		/* RFC 3489 messages have no cookie; we do not speak that. */
		m->why = "wrong magic cookie";
		return -EBADMSG;
	}
	m->length = zt_get_be16(msg + 2);
	if (m->length % 4) {
		m->why = "length not a multiple of 4";
		return -EBADMSG;
	}
	if ((size_t)m->length + ZT_STUN_HEADER_LEN != len) {
		m->why = "length field does not match the message";
		return -EBADMSG;
	}
	m->type = zt_get_be16(msg);
	m->cls = m->type & ZT_STUN_CLASS_MASK;
	m->method = (uint16_t)((m->type & 0x000f) | (m->type & 0x00e0) >> 1 |
			       (m->type & 0x3e00) >> 2);
	memcpy(m->tid, msg + 8, ZT_STUN_TID_LEN);

	for (off = ZT_STUN_HEADER_LEN; off < len;) {
		uint16_t type, alen;
		const uint8_t *v;

		/* len - off is a multiple of 4, so a whole header is there. */
		type = zt_get_be16(msg + off);
		alen = zt_get_be16(msg + off + 2);
		if (alen > len - off - 4) {
			m->why = "attribute runs past the end of the message";
			return -EBADMSG;
		}
		/* len - off - 4 is a multiple of 4: the padding fits as well. */
		v = msg + off + 4;
		if (m->has_fingerprint) {
			m->why = "attribute after FINGERPRINT";
			return -EBADMSG;
		}
		if (type == ZT_STUN_A_FINGERPRINT) {
			if (alen != 4) {
				m->why = "FINGERPRINT not 4 bytes";
				return -EBADMSG;
			}
			if (zt_get_be32(v) != fingerprint(msg, off)) {
				m->why = "FINGERPRINT does not match";
				return -EBADMSG;
			}
			m->has_fingerprint = true;
		} else if (m->has_integrity) {
			/*
			 * RFC 8489 14.5: what follows MESSAGE-INTEGRITY is not
			 * covered by it, so it is ignored (FINGERPRINT aside).
			 */
		} else if (type == ZT_STUN_A_MESSAGE_INTEGRITY) {
			if (alen != ZT_STUN_HMAC_LEN) {
				m->why = "MESSAGE-INTEGRITY not 20 bytes";
				return -EBADMSG;
			}
			m->has_integrity = true;
			m->integrity_off = off;
		} else {
			ret = read_attr(type, v, alen, msg, m);
			if (ret)
				return ret;
		}
		off += 4 + pad4(alen);
	}
	return m->n_unknown ? ZT_STUN_PARSE_UNKNOWN : 0;
}

int zt_stun_hmac_sha1(const uint8_t *key, size_t keylen, const struct iovec *iov, size_t iovcnt,
		      uint8_t mac[ZT_STUN_HMAC_LEN])
{
	static const uint8_t empty[1];
	unsigned int n = 0;
	HMAC_CTX ctx;
	size_t i;
	int ok;

	/* A NULL key would mean "reuse the previous one" to HMAC_Init_ex. */
	if (!key) {
		key = empty;
		keylen = 0;
	}
	HMAC_CTX_init(&ctx);
	ok = HMAC_Init_ex(&ctx, key, keylen, EVP_sha1(), NULL);
	for (i = 0; ok && i < iovcnt; i++)
		ok = HMAC_Update(&ctx, iov[i].iov_base, iov[i].iov_len);
	ok = ok && HMAC_Final(&ctx, mac, &n) && n == ZT_STUN_HMAC_LEN;
	HMAC_CTX_cleanup(&ctx);
	return ok ? 0 : -EIO;
}

int zt_stun_check_integrity(const uint8_t *msg, size_t len, const struct zt_stun_msg *m,
			    const uint8_t *key, size_t keylen, zt_stun_hmac_fn hmac)
{
	uint8_t hdr[ZT_STUN_HEADER_LEN], mac[ZT_STUN_HMAC_LEN], diff = 0;
	struct iovec iov[2];
	size_t off = m->integrity_off, i;
	int ret;

	if (!m->has_integrity)
		return -ENOENT;
	/* Re-checked so a stale or forged M cannot make us read outside MSG. */
	if (!hmac)
		hmac = zt_stun_hmac_sha1;
	if (off < ZT_STUN_HEADER_LEN || off > len ||
	    len - off < 4 + ZT_STUN_HMAC_LEN)
		return -EINVAL;
	/* The length as if MESSAGE-INTEGRITY were the last attribute. */
	memcpy(hdr, msg, sizeof(hdr));
	zt_put_be16(hdr + 2, (uint16_t)(off + 4 + ZT_STUN_HMAC_LEN - ZT_STUN_HEADER_LEN));
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)(msg + ZT_STUN_HEADER_LEN);
	iov[1].iov_len = off - ZT_STUN_HEADER_LEN;
	ret = hmac(key, keylen, iov, 2, mac);
	if (ret)
		return ret;
	/* Constant time, so a forger learns nothing from how long we took. */
	for (i = 0; i < ZT_STUN_HMAC_LEN; i++)
		diff |= (uint8_t)(mac[i] ^ msg[off + 4 + i]);
	return diff ? -EBADMSG : 0;
}

/* Building. */

static int fail(struct zt_stun_builder *b, int err)
{
	if (!b->err)
		b->err = err;
	return err;
}

int zt_stun_init(struct zt_stun_builder *b, uint8_t *buf, size_t cap, uint16_t type,
		 const uint8_t tid[ZT_STUN_TID_LEN])
{
	memset(b, 0, sizeof(*b));
	b->buf = buf;
	b->cap = cap < ZT_STUN_MSG_MAX ? cap : ZT_STUN_MSG_MAX;
	if (type & 0xc000)
		return fail(b, -EINVAL);
	if (b->cap < ZT_STUN_HEADER_LEN)
		return fail(b, -ENOSPC);
	zt_put_be16(buf, type);
	zt_put_be16(buf + 2, 0);
	zt_put_be32(buf + 4, ZT_STUN_MAGIC);
	memcpy(buf + 8, tid, ZT_STUN_TID_LEN);
	b->len = ZT_STUN_HEADER_LEN;
	return 0;
}

/* Room for an attribute of LEN value bytes: its header, value and padding. */
static uint8_t *reserve(struct zt_stun_builder *b, uint16_t type, size_t len)
{
	uint8_t *p;

	if (b->err)
		return NULL;
	if (b->sealed) {
		fail(b, -EINVAL);	/* nothing may follow FINGERPRINT */
		return NULL;
	}
	if (len > 0xffff || b->cap - b->len < 4 + pad4(len)) {
		fail(b, -ENOSPC);
		return NULL;
	}
	p = b->buf + b->len;
	zt_put_be16(p, type);
	zt_put_be16(p + 2, (uint16_t)len);
	memset(p + 4 + len, b->pad, pad4(len) - len);
	b->len += 4 + pad4(len);
	zt_put_be16(b->buf + 2, (uint16_t)(b->len - ZT_STUN_HEADER_LEN));
	return p + 4;
}

int zt_stun_add_attr(struct zt_stun_builder *b, uint16_t type, const void *val, size_t len)
{
	uint8_t *v;

	/* Only FINGERPRINT may follow MESSAGE-INTEGRITY, and it has its own call. */
	if (b->integrity)
		return fail(b, -EINVAL);
	v = reserve(b, type, len);
	if (!v)
		return b->err;
	if (len)
		memcpy(v, val, len);
	return 0;
}

int zt_stun_add_addr(struct zt_stun_builder *b, uint16_t type, const struct zt_stun_addr *a)
{
	bool xor = type == ZT_STUN_A_XOR_MAPPED_ADDRESS;
	uint8_t v[20];
	size_t n, i;

	if (b->err)
		return b->err;	/* the header, which the XOR reads, may not be there */
	if (type != ZT_STUN_A_MAPPED_ADDRESS && !xor)
		return fail(b, -EINVAL);
	v[0] = 0;
	zt_put_be16(v + 2, (uint16_t)(a->port ^ (xor ? ZT_STUN_MAGIC >> 16 : 0)));
	if (a->family == AF_INET) {
		v[1] = 0x01;
		n = 4;
		memcpy(v + 4, a->addr + 12, 4);
	} else if (a->family == AF_INET6) {
		v[1] = 0x02;
		n = 16;
		memcpy(v + 4, a->addr, 16);
	} else {
		return fail(b, -EAFNOSUPPORT);
	}
	if (xor)
		for (i = 0; i < n; i++)
			v[4 + i] ^= b->buf[4 + i];	/* cookie, then transaction ID */
	return zt_stun_add_attr(b, type, v, 4 + n);
}

int zt_stun_add_error(struct zt_stun_builder *b, uint16_t code, const char *reason)
{
	size_t rlen = reason ? strlen(reason) : 0;
	uint8_t v[4 + ZT_STUN_TEXT_MAX];

	if (code < 300 || code > 699 || rlen > ZT_STUN_TEXT_MAX)
		return fail(b, -EINVAL);
	v[0] = v[1] = 0;
	v[2] = (uint8_t)(code / 100);
	v[3] = (uint8_t)(code % 100);
	if (rlen)
		memcpy(v + 4, reason, rlen);
	return zt_stun_add_attr(b, ZT_STUN_A_ERROR_CODE, v, 4 + rlen);
}

int zt_stun_add_unknown(struct zt_stun_builder *b, const uint16_t *types, size_t n)
{
	uint8_t v[2 * ZT_STUN_UNKNOWN_MAX];
	size_t i;

	if (n > ZT_STUN_UNKNOWN_MAX)
		return fail(b, -EINVAL);
	for (i = 0; i < n; i++)
		zt_put_be16(v + 2 * i, types[i]);
	return zt_stun_add_attr(b, ZT_STUN_A_UNKNOWN_ATTRIBUTES, v, 2 * n);
}

int zt_stun_add_integrity(struct zt_stun_builder *b, const uint8_t *key, size_t keylen,
			  zt_stun_hmac_fn hmac)
{
	struct iovec iov;
	uint8_t *v;
	int ret;

	if (b->integrity)
		return fail(b, -EINVAL);
	if (!hmac)
		hmac = zt_stun_hmac_sha1;
	/* Reserving first sets the length to end just after this attribute. */
	v = reserve(b, ZT_STUN_A_MESSAGE_INTEGRITY, ZT_STUN_HMAC_LEN);
	if (!v)
		return b->err;
	b->integrity = true;
	iov.iov_base = b->buf;
	iov.iov_len = (size_t)(v - 4 - b->buf);
	ret = hmac(key, keylen, &iov, 1, v);
	return ret ? fail(b, ret) : 0;
}

int zt_stun_add_fingerprint(struct zt_stun_builder *b)
{
	uint8_t *v = reserve(b, ZT_STUN_A_FINGERPRINT, 4);

	if (!v)
		return b->err;
	/* The length now counts FINGERPRINT itself, as the CRC must cover. */
	zt_put_be32(v, fingerprint(b->buf, (size_t)(v - 4 - b->buf)));
	b->sealed = true;
	return 0;
}

ssize_t zt_stun_finish(struct zt_stun_builder *b)
{
	return b->err ? b->err : (ssize_t)b->len;
}

static void add_software(struct zt_stun_builder *b, const char *software)
{
	size_t n;

	if (!software)
		return;
	n = strlen(software);
	if (n > ZT_STUN_TEXT_MAX)
		fail(b, -EINVAL);
	else
		zt_stun_add_attr(b, ZT_STUN_A_SOFTWARE, software, n);
}

ssize_t zt_stun_build_binding_success(const struct zt_stun_msg *req,
				      const struct zt_stun_addr *from, const char *software,
				      uint8_t *out, size_t cap)
{
	struct zt_stun_builder b;

	zt_stun_init(&b, out, cap, ZT_STUN_BINDING_SUCCESS, req->tid);
	add_software(&b, software);
	zt_stun_add_addr(&b, ZT_STUN_A_XOR_MAPPED_ADDRESS, from);
	zt_stun_add_fingerprint(&b);
	return zt_stun_finish(&b);
}

ssize_t zt_stun_build_binding_error(const struct zt_stun_msg *req, uint16_t code,
				    const char *reason, const char *software,
				    uint8_t *out, size_t cap)
{
	struct zt_stun_builder b;
	size_t n = req->n_unknown < ZT_STUN_UNKNOWN_MAX ? req->n_unknown : ZT_STUN_UNKNOWN_MAX;

	zt_stun_init(&b, out, cap, ZT_STUN_BINDING_ERROR, req->tid);
	add_software(&b, software);
	zt_stun_add_error(&b, code, reason);
	if (code == ZT_STUN_ERR_UNKNOWN_ATTRIBUTE)
		zt_stun_add_unknown(&b, req->unknown, n);
	zt_stun_add_fingerprint(&b);
	return zt_stun_finish(&b);
}

ssize_t zt_stun_build_binding_request(const uint8_t tid[ZT_STUN_TID_LEN], const char *software,
				      uint8_t *out, size_t cap)
{
	struct zt_stun_builder b;

	zt_stun_init(&b, out, cap, ZT_STUN_BINDING_REQUEST, tid);
	add_software(&b, software);
	zt_stun_add_fingerprint(&b);
	return zt_stun_finish(&b);
}
