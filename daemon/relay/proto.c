// SPDX-License-Identifier: GPL-2.0-only
/* The relay's messages, its cookie and its mac (relay/proto.h, docs/RELAY.md). */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <openssl/curve25519.h>
#include <openssl/digest.h>
#include <openssl/hkdf.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/rand.h>

#include "lib/bytes.h"
#include "relay/proto.h"

#define MAC_INFO	"ztgate relay v1"

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return !acc;
}

static bool header_ok(const uint8_t *msg, size_t len, uint8_t type)
{
	return len >= ZT_RELAY_HDR_LEN && msg[0] == type && !msg[1] && !msg[2] && !msg[3];
}

static void header_put(uint8_t *out, uint8_t type)
{
	out[0] = type;
	out[1] = out[2] = out[3] = 0;
}

int zt_relay_msg_type(const uint8_t *msg, size_t len)
{
	if (!msg || len < ZT_RELAY_HDR_LEN || len > ZT_RELAY_MSG_MAX || msg[1] || msg[2] || msg[3])
		return -EBADMSG;
	switch (msg[0]) {
	case ZT_RELAY_HELLO:
		return len == ZT_RELAY_HELLO_LEN ? msg[0] : -EBADMSG;
	case ZT_RELAY_CHALLENGE:
		return len == ZT_RELAY_CHALLENGE_LEN ? msg[0] : -EBADMSG;
	case ZT_RELAY_REGISTER: {
		uint16_t n;

		if (len < ZT_RELAY_REGISTER_LEN(0))
			return -EBADMSG;
		n = zt_get_be16(msg + 52);
		return n <= ZT_RELAY_ACCEPT_MAX && len == ZT_RELAY_REGISTER_LEN(n) ? msg[0] : -EBADMSG;
	}
	case ZT_RELAY_REGISTERED:
		return len == ZT_RELAY_REGISTERED_LEN ? msg[0] : -EBADMSG;
	case ZT_RELAY_SEND:
	case ZT_RELAY_RECV:
		return len > ZT_RELAY_FWD_HDR_LEN ? msg[0] : -EBADMSG;
	case ZT_RELAY_KEEPALIVE:
		return len == ZT_RELAY_KEEPALIVE_LEN ? msg[0] : -EBADMSG;
	case ZT_RELAY_ERROR:
		return len == ZT_RELAY_ERROR_LEN ? msg[0] : -EBADMSG;
	default:
		return -EBADMSG;
	}
}

/* ---- mac ---- */

int zt_relay_mac_key(const uint8_t priv[ZT_RELAY_KEYLEN], const uint8_t pub[ZT_RELAY_KEYLEN],
		     struct zt_relay_mac_key *k)
{
	uint8_t shared[X25519_SHARED_KEY_LEN];
	int ret = 0;

	/* X25519() refuses a low-order point (an all-zero shared secret). */
	if (!X25519(shared, priv, pub)) {
		ret = -EINVAL;
		goto out;
	}
	if (!HKDF(k->k, sizeof(k->k), EVP_sha256(), shared, sizeof(shared), NULL, 0,
		  (const uint8_t *)MAC_INFO, strlen(MAC_INFO)))
		ret = -EIO;
out:
	OPENSSL_cleanse(shared, sizeof(shared));
	return ret;
}

void zt_relay_mac_key_destroy(struct zt_relay_mac_key *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

/* First 16 bytes of HMAC-SHA256(KEY, DATA). False if BoringSSL fails. */
static bool mac16(const uint8_t *key, size_t keylen, const uint8_t *const *parts,
		  const size_t *lens, size_t nparts, uint8_t out[ZT_RELAY_MAC_LEN])
{
	uint8_t full[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	HMAC_CTX ctx;
	bool ok;

	HMAC_CTX_init(&ctx);
	ok = HMAC_Init_ex(&ctx, key, keylen, EVP_sha256(), NULL);
	for (size_t i = 0; ok && i < nparts; i++)
		ok = HMAC_Update(&ctx, parts[i], lens[i]);
	ok = ok && HMAC_Final(&ctx, full, &n) && n == 32;
	HMAC_CTX_cleanup(&ctx);
	if (ok)
		memcpy(out, full, ZT_RELAY_MAC_LEN);
	OPENSSL_cleanse(full, sizeof(full));
	return ok;
}

static bool has_mac(const uint8_t *msg, size_t len)
{
	int t = zt_relay_msg_type(msg, len);

	return t == ZT_RELAY_REGISTER || t == ZT_RELAY_REGISTERED || t == ZT_RELAY_KEEPALIVE;
}

static int mac_write(uint8_t *msg, size_t len, const struct zt_relay_mac_key *k)
{
	const uint8_t *parts[1] = { msg };
	size_t lens[1] = { len - ZT_RELAY_MAC_LEN };

	return mac16(k->k, sizeof(k->k), parts, lens, 1, msg + len - ZT_RELAY_MAC_LEN) ? 0 : -EIO;
}

bool zt_relay_mac_ok(const uint8_t *msg, size_t len, const struct zt_relay_mac_key *k)
{
	const uint8_t *parts[1] = { msg };
	size_t lens[1];
	uint8_t mac[ZT_RELAY_MAC_LEN];

	if (!has_mac(msg, len))
		return false;
	lens[0] = len - ZT_RELAY_MAC_LEN;
	if (!mac16(k->k, sizeof(k->k), parts, lens, 1, mac))
		return false;
	return !CRYPTO_memcmp(mac, msg + len - ZT_RELAY_MAC_LEN, ZT_RELAY_MAC_LEN);
}

/* ---- encoders ---- */

ssize_t zt_relay_hello_encode(const uint8_t key[ZT_RELAY_KEYLEN], uint8_t *out, size_t outlen)
{
	if (outlen < ZT_RELAY_HELLO_LEN)
		return -ENOSPC;
	memset(out, 0, ZT_RELAY_HELLO_LEN);
	header_put(out, ZT_RELAY_HELLO);
	memcpy(out + 4, key, ZT_RELAY_KEYLEN);
	return ZT_RELAY_HELLO_LEN;
}

ssize_t zt_relay_challenge_encode(const struct zt_relay_challenge *m, uint8_t *out, size_t outlen)
{
	if (outlen < ZT_RELAY_CHALLENGE_LEN)
		return -ENOSPC;
	memset(out, 0, ZT_RELAY_CHALLENGE_LEN);
	header_put(out, ZT_RELAY_CHALLENGE);
	memcpy(out + 4, m->relay_key, ZT_RELAY_KEYLEN);
	memcpy(out + 36, m->cookie, ZT_RELAY_COOKIE_LEN);
	return ZT_RELAY_CHALLENGE_LEN;
}

ssize_t zt_relay_register_encode(const uint8_t key[ZT_RELAY_KEYLEN],
				 const uint8_t cookie[ZT_RELAY_COOKIE_LEN],
				 const uint8_t (*accept)[ZT_RELAY_KEYLEN], size_t n,
				 const struct zt_relay_mac_key *k, uint8_t *out, size_t outlen)
{
	size_t len;
	int ret;

	if (n > ZT_RELAY_ACCEPT_MAX || (n && !accept))
		return -EINVAL;
	len = ZT_RELAY_REGISTER_LEN(n);
	if (outlen < len)
		return -ENOSPC;
	header_put(out, ZT_RELAY_REGISTER);
	memcpy(out + 4, key, ZT_RELAY_KEYLEN);
	memcpy(out + 36, cookie, ZT_RELAY_COOKIE_LEN);
	zt_put_be16(out + 52, (uint16_t)n);
	if (n)
		memcpy(out + 54, accept, n * ZT_RELAY_KEYLEN);
	ret = mac_write(out, len, k);
	return ret ? ret : (ssize_t)len;
}

/* Endpoint on the wire: family u8 (4 or 6), port u16, addr[16] (IPv4-mapped for 4). */
static int endpoint_put(uint8_t *p, const struct zt_endpoint *ep)
{
	if (ep->family != AF_INET && ep->family != AF_INET6)
		return -EINVAL;
	p[0] = ep->family == AF_INET ? 4 : 6;
	zt_put_be16(p + 1, ep->port);
	memcpy(p + 3, ep->addr, 16);
	return 0;
}

static int endpoint_get(const uint8_t *p, struct zt_endpoint *ep)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (p[0] == 4) {
		if (memcmp(p + 3, v4mapped, sizeof(v4mapped)))
			return -EBADMSG;
		ep->family = AF_INET;
	} else if (p[0] == 6) {
		ep->family = AF_INET6;
	} else {
		return -EBADMSG;
	}
	ep->port = zt_get_be16(p + 1);
	memcpy(ep->addr, p + 3, 16);
	return 0;
}

ssize_t zt_relay_registered_encode(const struct zt_relay_registered *m,
				   const struct zt_relay_mac_key *k, uint8_t *out, size_t outlen)
{
	int ret;

	if (outlen < ZT_RELAY_REGISTERED_LEN)
		return -ENOSPC;
	header_put(out, ZT_RELAY_REGISTERED);
	zt_put_be32(out + 4, m->index);
	ret = endpoint_put(out + 8, &m->observed);
	if (ret)
		return ret;
	zt_put_be16(out + 27, m->lifetime_s);
	ret = mac_write(out, ZT_RELAY_REGISTERED_LEN, k);
	return ret ? ret : ZT_RELAY_REGISTERED_LEN;
}

ssize_t zt_relay_keepalive_encode(const uint8_t key[ZT_RELAY_KEYLEN],
				  const struct zt_relay_mac_key *k, uint8_t *out, size_t outlen)
{
	int ret;

	if (outlen < ZT_RELAY_KEEPALIVE_LEN)
		return -ENOSPC;
	header_put(out, ZT_RELAY_KEEPALIVE);
	memcpy(out + 4, key, ZT_RELAY_KEYLEN);
	ret = mac_write(out, ZT_RELAY_KEEPALIVE_LEN, k);
	return ret ? ret : ZT_RELAY_KEEPALIVE_LEN;
}

ssize_t zt_relay_fwd_encode(uint8_t type, const uint8_t key[ZT_RELAY_KEYLEN],
			    const uint8_t *datagram, size_t len, uint8_t *out, size_t outlen)
{
	if ((type != ZT_RELAY_SEND && type != ZT_RELAY_RECV) || !len ||
	    len > ZT_RELAY_DATAGRAM_MAX)
		return -EINVAL;
	if (outlen < ZT_RELAY_FWD_HDR_LEN + len)
		return -ENOSPC;
	header_put(out, type);
	memcpy(out + 4, key, ZT_RELAY_KEYLEN);
	memmove(out + ZT_RELAY_FWD_HDR_LEN, datagram, len);	/* may be in place */
	return (ssize_t)(ZT_RELAY_FWD_HDR_LEN + len);
}

ssize_t zt_relay_error_encode(uint16_t code, uint8_t *out, size_t outlen)
{
	if (outlen < ZT_RELAY_ERROR_LEN)
		return -ENOSPC;
	header_put(out, ZT_RELAY_ERROR);
	zt_put_be16(out + 4, code);
	out[6] = out[7] = 0;
	return ZT_RELAY_ERROR_LEN;
}

/* ---- parsers ---- */

int zt_relay_hello_parse(const uint8_t *msg, size_t len, uint8_t key[ZT_RELAY_KEYLEN])
{
	if (len != ZT_RELAY_HELLO_LEN || !header_ok(msg, len, ZT_RELAY_HELLO) ||
	    !all_zero(msg + 36, ZT_RELAY_HELLO_LEN - 36))
		return -EBADMSG;
	memcpy(key, msg + 4, ZT_RELAY_KEYLEN);
	return 0;
}

int zt_relay_challenge_parse(const uint8_t *msg, size_t len, struct zt_relay_challenge *m)
{
	if (len != ZT_RELAY_CHALLENGE_LEN || !header_ok(msg, len, ZT_RELAY_CHALLENGE) ||
	    !all_zero(msg + 52, ZT_RELAY_CHALLENGE_LEN - 52))
		return -EBADMSG;
	memcpy(m->relay_key, msg + 4, ZT_RELAY_KEYLEN);
	memcpy(m->cookie, msg + 36, ZT_RELAY_COOKIE_LEN);
	return 0;
}

int zt_relay_register_parse(const uint8_t *msg, size_t len, struct zt_relay_register *m)
{
	uint16_t n;

	if (len < ZT_RELAY_REGISTER_LEN(0) || len > ZT_RELAY_REGISTER_LEN(ZT_RELAY_ACCEPT_MAX) ||
	    !header_ok(msg, len, ZT_RELAY_REGISTER))
		return -EBADMSG;
	n = zt_get_be16(msg + 52);
	if (n > ZT_RELAY_ACCEPT_MAX || len != ZT_RELAY_REGISTER_LEN(n))
		return -EBADMSG;
	memcpy(m->key, msg + 4, ZT_RELAY_KEYLEN);
	memcpy(m->cookie, msg + 36, ZT_RELAY_COOKIE_LEN);
	m->n = n;
	m->accept = msg + 54;
	return 0;
}

int zt_relay_registered_parse(const uint8_t *msg, size_t len, struct zt_relay_registered *m)
{
	if (len != ZT_RELAY_REGISTERED_LEN || !header_ok(msg, len, ZT_RELAY_REGISTERED))
		return -EBADMSG;
	if (endpoint_get(msg + 8, &m->observed))
		return -EBADMSG;
	m->index = zt_get_be32(msg + 4);
	m->lifetime_s = zt_get_be16(msg + 27);
	return 0;
}

int zt_relay_keepalive_parse(const uint8_t *msg, size_t len, uint8_t key[ZT_RELAY_KEYLEN])
{
	if (len != ZT_RELAY_KEEPALIVE_LEN || !header_ok(msg, len, ZT_RELAY_KEEPALIVE))
		return -EBADMSG;
	memcpy(key, msg + 4, ZT_RELAY_KEYLEN);
	return 0;
}

int zt_relay_fwd_parse(uint8_t type, const uint8_t *msg, size_t len, struct zt_relay_fwd *m)
{
	if ((type != ZT_RELAY_SEND && type != ZT_RELAY_RECV) || len <= ZT_RELAY_FWD_HDR_LEN ||
	    len > ZT_RELAY_MSG_MAX || !header_ok(msg, len, type))
		return -EBADMSG;
	m->key = msg + 4;
	m->datagram = msg + ZT_RELAY_FWD_HDR_LEN;
	m->len = len - ZT_RELAY_FWD_HDR_LEN;
	return 0;
}

int zt_relay_error_parse(const uint8_t *msg, size_t len, uint16_t *code)
{
	if (len != ZT_RELAY_ERROR_LEN || !header_ok(msg, len, ZT_RELAY_ERROR) || msg[6] || msg[7])
		return -EBADMSG;
	*code = zt_get_be16(msg + 4);
	return 0;
}

/* ---- cookie ---- */

int zt_relay_endpoint_from_sockaddr(const struct sockaddr *sa, struct zt_endpoint *ep)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(ep, 0, sizeof(*ep));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		zt_addr_from_v4(ep->addr, sin->sin_addr.s_addr);
		ep->family = AF_INET;
		ep->port = ntohs(sin->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		memcpy(ep->addr, sin6->sin6_addr.s6_addr, 16);
		ep->family = memcmp(ep->addr, v4mapped, sizeof(v4mapped)) ? AF_INET6 : AF_INET;
		ep->port = ntohs(sin6->sin6_port);
		return 0;
	}
	return -EAFNOSUPPORT;
}

static void rotate(struct zt_relay_cookie_secret *s, uint64_t now_ns, bool *ok)
{
	*ok = true;
	if (s->valid && now_ns - s->born_ns < ZT_RELAY_COOKIE_ROTATE_NS)
		return;
	if (s->valid && now_ns - s->born_ns < 2 * ZT_RELAY_COOKIE_ROTATE_NS) {
		memcpy(s->prev, s->cur, sizeof(s->prev));
		s->has_prev = true;
	} else {
		/* Idle for two periods: the old secret is too old to honour. */
		OPENSSL_cleanse(s->prev, sizeof(s->prev));
		s->has_prev = false;
	}
	if (!RAND_bytes(s->cur, sizeof(s->cur))) {
		s->valid = false;
		*ok = false;
		return;
	}
	s->born_ns = now_ns;
	s->valid = true;
}

static int cookie_with(const uint8_t secret[32], const struct sockaddr *src, bool tcp,
		       const uint8_t key[ZT_RELAY_KEYLEN], uint8_t cookie[ZT_RELAY_COOKIE_LEN])
{
	struct zt_endpoint ep;
	uint8_t addrport[1 + 18];
	const uint8_t *parts[2];
	size_t lens[2], n;

	if (zt_relay_endpoint_from_sockaddr(src, &ep))
		return -EAFNOSUPPORT;
	/* The transport first: a UDP cookie is no TCP one for the same address and port. */
	addrport[0] = tcp ? 'T' : 'U';
	if (ep.family == AF_INET) {
		memcpy(addrport + 1, ep.addr + 12, 4);
		n = 1 + 4;
	} else {
		memcpy(addrport + 1, ep.addr, 16);
		n = 1 + 16;
	}
	zt_put_be16(addrport + n, ep.port);
	n += 2;
	parts[0] = addrport;
	lens[0] = n;
	parts[1] = key;
	lens[1] = ZT_RELAY_KEYLEN;
	return mac16(secret, 32, parts, lens, 2, cookie) ? 0 : -EIO;
}

int zt_relay_cookie_make_on(struct zt_relay_cookie_secret *s, uint64_t now_ns,
			    const struct sockaddr *src, bool tcp, const uint8_t key[ZT_RELAY_KEYLEN],
			    uint8_t cookie[ZT_RELAY_COOKIE_LEN])
{
	bool ok;

	if (src->sa_family != AF_INET && src->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	rotate(s, now_ns, &ok);
	if (!ok)
		return -EIO;
	return cookie_with(s->cur, src, tcp, key, cookie);
}

bool zt_relay_cookie_ok_on(struct zt_relay_cookie_secret *s, uint64_t now_ns,
			   const struct sockaddr *src, bool tcp, const uint8_t key[ZT_RELAY_KEYLEN],
			   const uint8_t cookie[ZT_RELAY_COOKIE_LEN])
{
	uint8_t want[ZT_RELAY_COOKIE_LEN];
	bool ok;

	rotate(s, now_ns, &ok);
	if (!ok)
		return false;
	if (!cookie_with(s->cur, src, tcp, key, want) &&
	    !CRYPTO_memcmp(want, cookie, ZT_RELAY_COOKIE_LEN))
		return true;
	if (s->has_prev && !cookie_with(s->prev, src, tcp, key, want) &&
	    !CRYPTO_memcmp(want, cookie, ZT_RELAY_COOKIE_LEN))
		return true;
	return false;
}

int zt_relay_cookie_make(struct zt_relay_cookie_secret *s, uint64_t now_ns,
			 const struct sockaddr *src, const uint8_t key[ZT_RELAY_KEYLEN],
			 uint8_t cookie[ZT_RELAY_COOKIE_LEN])
{
	return zt_relay_cookie_make_on(s, now_ns, src, false, key, cookie);
}

bool zt_relay_cookie_ok(struct zt_relay_cookie_secret *s, uint64_t now_ns,
			const struct sockaddr *src, const uint8_t key[ZT_RELAY_KEYLEN],
			const uint8_t cookie[ZT_RELAY_COOKIE_LEN])
{
	return zt_relay_cookie_ok_on(s, now_ns, src, false, key, cookie);
}

void zt_relay_cookie_secret_destroy(struct zt_relay_cookie_secret *s)
{
	OPENSSL_cleanse(s, sizeof(*s));
}
