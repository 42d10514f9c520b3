// SPDX-License-Identifier: GPL-2.0-only
/*
 * The tunnel's UDP messages (wire.h): encoded and parsed, mac1/mac2, cookies
 * and TAI64N timestamps, for the tunnel engine (session.c, send.c, recv.c).
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include <openssl/aead.h>
#include <openssl/digest.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "lib/bytes.h"
#include "tunnel/wire.h"

_Static_assert(ZT_TW_INITIATION_LEN == 148, "docs/TUNNEL.md: initiation is 148 bytes");
_Static_assert(ZT_TW_RESPONSE_LEN == 92, "docs/TUNNEL.md: response is 92 bytes");
_Static_assert(ZT_TW_COOKIE_REPLY_LEN == 64, "docs/TUNNEL.md: cookie reply is 64 bytes");
_Static_assert(ZT_TW_TRANSPORT_MIN_LEN == 32, "docs/TUNNEL.md: transport is 32 + n bytes");

static void put_header(uint8_t *p, enum zt_tw_type type)
{
	p[0] = (uint8_t)type;
	p[1] = p[2] = p[3] = 0;
}

int zt_tw_type(const uint8_t *msg, size_t len)
{
	if (!msg || len < 4 || msg[1] || msg[2] || msg[3])
		return -EBADMSG;
	switch (msg[0]) {
	case ZT_TW_INITIATION:
		return len == ZT_TW_INITIATION_LEN ? ZT_TW_INITIATION : -EBADMSG;
	case ZT_TW_RESPONSE:
		return len == ZT_TW_RESPONSE_LEN ? ZT_TW_RESPONSE : -EBADMSG;
	case ZT_TW_COOKIE_REPLY:
		return len == ZT_TW_COOKIE_REPLY_LEN ? ZT_TW_COOKIE_REPLY : -EBADMSG;
	case ZT_TW_TRANSPORT:
		if (len < ZT_TW_TRANSPORT_MIN_LEN ||
		    len - ZT_TW_TRANSPORT_HEADER_LEN > ZT_NOISE_MSG_MAX)
			return -EBADMSG;
		return ZT_TW_TRANSPORT;
	default:
		return -EBADMSG;
	}
}

ssize_t zt_tw_initiation_encode(const struct zt_tw_initiation *m, uint8_t *out, size_t outlen)
{
	uint8_t *p = out;

	if (outlen < ZT_TW_INITIATION_LEN)
		return -ENOSPC;
	put_header(p, ZT_TW_INITIATION);
	zt_put_le32(p + 4, m->sender);
	p += 8;
	memcpy(p, m->noise, sizeof(m->noise));
	p += sizeof(m->noise);
	memcpy(p, m->mac1, ZT_TW_MAC_LEN);
	memcpy(p + ZT_TW_MAC_LEN, m->mac2, ZT_TW_MAC_LEN);
	return ZT_TW_INITIATION_LEN;
}

int zt_tw_initiation_parse(const uint8_t *msg, size_t len, struct zt_tw_initiation *m)
{
	const uint8_t *p = msg;

	if (zt_tw_type(msg, len) != ZT_TW_INITIATION)
		return -EBADMSG;
	m->sender = zt_get_le32(p + 4);
	p += 8;
	memcpy(m->noise, p, sizeof(m->noise));
	p += sizeof(m->noise);
	memcpy(m->mac1, p, ZT_TW_MAC_LEN);
	memcpy(m->mac2, p + ZT_TW_MAC_LEN, ZT_TW_MAC_LEN);
	return 0;
}

ssize_t zt_tw_response_encode(const struct zt_tw_response *m, uint8_t *out, size_t outlen)
{
	uint8_t *p = out;

	if (outlen < ZT_TW_RESPONSE_LEN)
		return -ENOSPC;
	put_header(p, ZT_TW_RESPONSE);
	zt_put_le32(p + 4, m->sender);
	zt_put_le32(p + 8, m->receiver);
	p += 12;
	memcpy(p, m->noise, sizeof(m->noise));
	p += sizeof(m->noise);
	memcpy(p, m->mac1, ZT_TW_MAC_LEN);
	memcpy(p + ZT_TW_MAC_LEN, m->mac2, ZT_TW_MAC_LEN);
	return ZT_TW_RESPONSE_LEN;
}

int zt_tw_response_parse(const uint8_t *msg, size_t len, struct zt_tw_response *m)
{
	const uint8_t *p = msg;

	if (zt_tw_type(msg, len) != ZT_TW_RESPONSE)
		return -EBADMSG;
	m->sender = zt_get_le32(p + 4);
	m->receiver = zt_get_le32(p + 8);
	p += 12;
	memcpy(m->noise, p, sizeof(m->noise));
	p += sizeof(m->noise);
	memcpy(m->mac1, p, ZT_TW_MAC_LEN);
	memcpy(m->mac2, p + ZT_TW_MAC_LEN, ZT_TW_MAC_LEN);
	return 0;
}

ssize_t zt_tw_cookie_reply_encode(const struct zt_tw_cookie_reply *m, uint8_t *out, size_t outlen)
{
	if (outlen < ZT_TW_COOKIE_REPLY_LEN)
		return -ENOSPC;
	put_header(out, ZT_TW_COOKIE_REPLY);
	zt_put_le32(out + 4, m->receiver);
	memcpy(out + 8, m->nonce, sizeof(m->nonce));
	memcpy(out + 8 + sizeof(m->nonce), m->sealed, sizeof(m->sealed));
	return ZT_TW_COOKIE_REPLY_LEN;
}

int zt_tw_cookie_reply_parse(const uint8_t *msg, size_t len, struct zt_tw_cookie_reply *m)
{
	if (zt_tw_type(msg, len) != ZT_TW_COOKIE_REPLY)
		return -EBADMSG;
	m->receiver = zt_get_le32(msg + 4);
	memcpy(m->nonce, msg + 8, sizeof(m->nonce));
	memcpy(m->sealed, msg + 8 + sizeof(m->nonce), sizeof(m->sealed));
	return 0;
}

ssize_t zt_tw_transport_header_encode(uint32_t receiver, uint64_t counter, uint8_t *out,
				      size_t outlen)
{
	if (outlen < ZT_TW_TRANSPORT_HEADER_LEN)
		return -ENOSPC;
	put_header(out, ZT_TW_TRANSPORT);
	zt_put_le32(out + 4, receiver);
	zt_put_le64(out + 8, counter);
	return ZT_TW_TRANSPORT_HEADER_LEN;
}

int zt_tw_transport_parse(const uint8_t *msg, size_t len, struct zt_tw_transport *m)
{
	if (zt_tw_type(msg, len) != ZT_TW_TRANSPORT)
		return -EBADMSG;
	m->receiver = zt_get_le32(msg + 4);
	m->counter = zt_get_le64(msg + 8);
	m->sealed = msg + ZT_TW_TRANSPORT_HEADER_LEN;
	m->sealed_len = len - ZT_TW_TRANSPORT_HEADER_LEN;
	return 0;
}

/* SHA-256(LABEL || pub): LABEL is 8 bytes, as WireGuard's. */
static void label_key(const char label[8], const uint8_t pub[ZT_NOISE_KEY_LEN], uint8_t key[32])
{
	SHA256_CTX c;

	SHA256_Init(&c);
	SHA256_Update(&c, label, 8);
	SHA256_Update(&c, pub, ZT_NOISE_KEY_LEN);
	SHA256_Final(key, &c);
}

void zt_tw_mac1_key(const uint8_t pub[ZT_NOISE_KEY_LEN], uint8_t key[32])
{
	label_key("mac1----", pub, key);
}

void zt_tw_cookie_key(const uint8_t pub[ZT_NOISE_KEY_LEN], uint8_t key[32])
{
	label_key("cookie--", pub, key);
}

/* First 16 bytes of HMAC-SHA256(KEY, DATA). */
static void mac16(const uint8_t *key, size_t keylen, const uint8_t *data, size_t len,
		  uint8_t out[ZT_TW_MAC_LEN])
{
	uint8_t full[SHA256_DIGEST_LENGTH];
	unsigned int n = 0;

	if (!HMAC(EVP_sha256(), key, keylen, data, len, full, &n) || n != sizeof(full))
		memset(full, 0, sizeof(full));	/* never on BoringSSL; a zero MAC matches nothing sent */
	memcpy(out, full, ZT_TW_MAC_LEN);
	OPENSSL_cleanse(full, sizeof(full));
}

static bool is_handshake(const uint8_t *msg, size_t len)
{
	int type = zt_tw_type(msg, len);

	return type == ZT_TW_INITIATION || type == ZT_TW_RESPONSE;
}

int zt_tw_mac1_write(uint8_t *msg, size_t len, const uint8_t mac1_key[32])
{
	if (!is_handshake(msg, len))
		return -EINVAL;
	mac16(mac1_key, 32, msg, len - 2 * ZT_TW_MAC_LEN, msg + len - 2 * ZT_TW_MAC_LEN);
	return 0;
}

bool zt_tw_mac1_ok(const uint8_t *msg, size_t len, const uint8_t mac1_key[32])
{
	uint8_t mac[ZT_TW_MAC_LEN];

	if (!is_handshake(msg, len))
		return false;
	mac16(mac1_key, 32, msg, len - 2 * ZT_TW_MAC_LEN, mac);
	return !CRYPTO_memcmp(mac, msg + len - 2 * ZT_TW_MAC_LEN, ZT_TW_MAC_LEN);
}

int zt_tw_mac2_write(uint8_t *msg, size_t len, const uint8_t cookie[ZT_TW_COOKIE_LEN])
{
	if (!is_handshake(msg, len))
		return -EINVAL;
	if (cookie)
		mac16(cookie, ZT_TW_COOKIE_LEN, msg, len - ZT_TW_MAC_LEN, msg + len - ZT_TW_MAC_LEN);
	else
		memset(msg + len - ZT_TW_MAC_LEN, 0, ZT_TW_MAC_LEN);
	return 0;
}

bool zt_tw_mac2_ok(const uint8_t *msg, size_t len, const uint8_t cookie[ZT_TW_COOKIE_LEN])
{
	uint8_t mac[ZT_TW_MAC_LEN];

	if (!cookie || !is_handshake(msg, len))
		return false;
	mac16(cookie, ZT_TW_COOKIE_LEN, msg, len - ZT_TW_MAC_LEN, mac);
	return !CRYPTO_memcmp(mac, msg + len - ZT_TW_MAC_LEN, ZT_TW_MAC_LEN);
}

static int cookie_of(struct zt_tw_cookie_secret *s, uint64_t now_ns, const uint8_t *buf, size_t n,
		     uint8_t cookie[ZT_TW_COOKIE_LEN]);

int zt_tw_cookie_make(struct zt_tw_cookie_secret *s, uint64_t now_ns,
		      const struct sockaddr *src, uint8_t cookie[ZT_TW_COOKIE_LEN])
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint8_t buf[16 + 2];
	size_t n;

	if (src->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)src;

		memcpy(buf, &sin->sin_addr, 4);
		memcpy(buf + 4, &sin->sin_port, 2);	/* already big-endian */
		n = 6;
	} else if (src->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)src;
		const uint8_t *a = sin6->sin6_addr.s6_addr;

		/* A dual-stack socket reports IPv4 peers mapped: the same peer, the same cookie. */
		if (!memcmp(a, v4mapped, sizeof(v4mapped))) {
			memcpy(buf, a + 12, 4);
			n = 4;
		} else {
			memcpy(buf, a, 16);
			n = 16;
		}
		memcpy(buf + n, &sin6->sin6_port, 2);
		n += 2;
	} else {
		return -EAFNOSUPPORT;
	}
	return cookie_of(s, now_ns, buf, n, cookie);
}

/*
 * A relayed sender has no address of its own: its cookie binds the key the
 * relay named it by (a tag byte first: 33 bytes, never an address's 6 or 18).
 */
int zt_tw_cookie_make_relayed(struct zt_tw_cookie_secret *s, uint64_t now_ns,
			      const uint8_t src_key[32], uint8_t cookie[ZT_TW_COOKIE_LEN])
{
	uint8_t buf[1 + 32];

	buf[0] = 0xff;
	memcpy(buf + 1, src_key, 32);
	return cookie_of(s, now_ns, buf, sizeof(buf), cookie);
}

static int cookie_of(struct zt_tw_cookie_secret *s, uint64_t now_ns, const uint8_t *buf, size_t n,
		     uint8_t cookie[ZT_TW_COOKIE_LEN])
{
	if (!s->valid || now_ns - s->born_ns >= ZT_TW_COOKIE_SECRET_MAX_AGE_NS) {
		if (!RAND_bytes(s->secret, sizeof(s->secret)))
			return -EIO;
		s->born_ns = now_ns;
		s->valid = true;
	}
	mac16(s->secret, sizeof(s->secret), buf, n, cookie);
	return 0;
}

void zt_tw_cookie_secret_destroy(struct zt_tw_cookie_secret *s)
{
	OPENSSL_cleanse(s, sizeof(*s));
}

static int cookie_aead(bool seal, const uint8_t key[32], const uint8_t nonce[ZT_TW_COOKIE_NONCE_LEN],
		       const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen,
		       const uint8_t mac1[ZT_TW_MAC_LEN])
{
	EVP_AEAD_CTX ctx;
	size_t n = 0;
	int ok = 0;

	EVP_AEAD_CTX_zero(&ctx);
	if (!EVP_AEAD_CTX_init(&ctx, EVP_aead_xchacha20_poly1305(), key, 32,
			       EVP_AEAD_DEFAULT_TAG_LENGTH, NULL))
		goto out;
	if (seal)
		ok = EVP_AEAD_CTX_seal(&ctx, out, &n, outlen, nonce, ZT_TW_COOKIE_NONCE_LEN,
				       in, inlen, mac1, ZT_TW_MAC_LEN);
	else
		ok = EVP_AEAD_CTX_open(&ctx, out, &n, outlen, nonce, ZT_TW_COOKIE_NONCE_LEN,
				       in, inlen, mac1, ZT_TW_MAC_LEN);
	ok = ok && n == outlen;
out:
	EVP_AEAD_CTX_cleanup(&ctx);
	return ok ? 0 : -EBADMSG;
}

int zt_tw_cookie_reply_seal(const uint8_t cookie_key[32], uint32_t receiver,
			    const uint8_t cookie[ZT_TW_COOKIE_LEN],
			    const uint8_t mac1[ZT_TW_MAC_LEN], uint8_t *out, size_t outlen)
{
	struct zt_tw_cookie_reply m = { .receiver = receiver };

	if (outlen < ZT_TW_COOKIE_REPLY_LEN)
		return -ENOSPC;
	if (!RAND_bytes(m.nonce, sizeof(m.nonce)))
		return -EIO;
	if (cookie_aead(true, cookie_key, m.nonce, cookie, ZT_TW_COOKIE_LEN, m.sealed,
			sizeof(m.sealed), mac1))
		return -EIO;
	zt_tw_cookie_reply_encode(&m, out, outlen);
	return 0;
}

int zt_tw_cookie_reply_open(const uint8_t cookie_key[32], const uint8_t *msg, size_t len,
			    const uint8_t mac1[ZT_TW_MAC_LEN], uint8_t cookie[ZT_TW_COOKIE_LEN])
{
	struct zt_tw_cookie_reply m;
	uint8_t out[ZT_TW_COOKIE_LEN];
	int ret;

	if (zt_tw_cookie_reply_parse(msg, len, &m))
		return -EBADMSG;
	ret = cookie_aead(false, cookie_key, m.nonce, m.sealed, sizeof(m.sealed), out,
			  sizeof(out), mac1);
	if (!ret)
		memcpy(cookie, out, sizeof(out));
	OPENSSL_cleanse(out, sizeof(out));
	return ret;
}

void zt_tw_tai64n(uint64_t unix_sec, uint32_t nsec, uint8_t out[ZT_TW_TAI64N_LEN])
{
	uint64_t label = 0x400000000000000aull + unix_sec;

	zt_put_be64(out, label);
	zt_put_be32(out + 8, nsec);
}

void zt_tw_tai64n_now(uint8_t out[ZT_TW_TAI64N_LEN])
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	zt_tw_tai64n((uint64_t)ts.tv_sec, (uint32_t)ts.tv_nsec & ~((1u << 24) - 1), out);
}

bool zt_tw_tai64n_after(const uint8_t a[ZT_TW_TAI64N_LEN], const uint8_t b[ZT_TW_TAI64N_LEN])
{
	return memcmp(a, b, ZT_TW_TAI64N_LEN) > 0;
}
