// SPDX-License-Identifier: GPL-2.0-only
/*
 * Noise_IK_25519_ChaChaPoly_SHA256 on BoringSSL (noise.h): the handshake and
 * transport crypto that the tunnel engine (session.c, send.c, recv.c) runs.
 */
#include <errno.h>
#include <string.h>

#include <openssl/aead.h>
#include <openssl/curve25519.h>
#include <openssl/digest.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/sha.h>

#include "lib/bytes.h"
#include "tunnel/noise.h"

#define NONCE_LEN	12

/* Smallest messages: no payload, but every key and tag. */
#define MSG1_MIN	ZT_NOISE_MSG1_LEN(0)
#define MSG2_MIN	ZT_NOISE_MSG2_LEN(0)

/* The ChaChaPoly nonce (spec 12.3): 32 zero bits, then the counter little-endian. */
static void nonce_bytes(uint8_t out[NONCE_LEN], uint64_t n)
{
	memset(out, 0, 4);
	zt_put_le64(out + 4, n);
}

/* MixHash (spec 5.2): h = SHA-256(h || data). */
static void mix_hash(struct zt_noise_handshake *hs, const uint8_t *data, size_t len)
{
	SHA256_CTX c;

	SHA256_Init(&c);
	SHA256_Update(&c, hs->h, sizeof(hs->h));
	if (len)
		SHA256_Update(&c, data, len);
	SHA256_Final(hs->h, &c);
	OPENSSL_cleanse(&c, sizeof(c));
}

/*
 * HKDF with two outputs, exactly as spec 4.3 writes it on HMAC-SHA256 (the
 * same as RFC 5869 with empty info, but spelled the spec's way so it can be
 * checked against the text line by line).
 */
static int hkdf2(const uint8_t ck[ZT_NOISE_HASH_LEN], const uint8_t *ikm, size_t ikm_len,
		 uint8_t out1[ZT_NOISE_HASH_LEN], uint8_t out2[ZT_NOISE_HASH_LEN])
{
	uint8_t temp_key[ZT_NOISE_HASH_LEN];
	uint8_t buf[ZT_NOISE_HASH_LEN + 1];
	uint8_t dummy = 0;
	unsigned int n;
	int ret = -EINVAL;

	/* HMAC wants a real pointer even for the empty input Split() passes. */
	if (!HMAC(EVP_sha256(), ck, ZT_NOISE_HASH_LEN, ikm_len ? ikm : &dummy, ikm_len,
		  temp_key, &n) || n != ZT_NOISE_HASH_LEN)
		goto out;
	buf[0] = 0x01;
	if (!HMAC(EVP_sha256(), temp_key, sizeof(temp_key), buf, 1, out1, &n) ||
	    n != ZT_NOISE_HASH_LEN)
		goto out;
	memcpy(buf, out1, ZT_NOISE_HASH_LEN);
	buf[ZT_NOISE_HASH_LEN] = 0x02;
	if (!HMAC(EVP_sha256(), temp_key, sizeof(temp_key), buf, sizeof(buf), out2, &n) ||
	    n != ZT_NOISE_HASH_LEN)
		goto out;
	ret = 0;
out:
	OPENSSL_cleanse(temp_key, sizeof(temp_key));
	OPENSSL_cleanse(buf, sizeof(buf));
	return ret;
}

/* MixKey (spec 5.2): ck, temp_k = HKDF(ck, ikm); InitializeKey(temp_k). */
static int mix_key(struct zt_noise_handshake *hs, const uint8_t *ikm, size_t len)
{
	uint8_t ck[ZT_NOISE_HASH_LEN];
	int ret;

	ret = hkdf2(hs->ck, ikm, len, ck, hs->k);
	if (ret)
		goto out;
	memcpy(hs->ck, ck, sizeof(ck));
	hs->has_k = true;
	hs->n = 0;
out:
	OPENSSL_cleanse(ck, sizeof(ck));
	return ret;
}

/*
 * DH then MixKey. X25519() fails on an all-zero result, i.e. a low-order
 * public key: refusing those (as WireGuard does) keeps a peer from forcing
 * a known shared secret.
 */
static int mix_dh(struct zt_noise_handshake *hs, const uint8_t priv[ZT_NOISE_KEY_LEN],
		  const uint8_t pub[ZT_NOISE_KEY_LEN])
{
	uint8_t shared[X25519_SHARED_KEY_LEN];
	int ret = -EBADMSG;

	if (!X25519(shared, priv, pub))
		goto out;
	ret = mix_key(hs, shared, sizeof(shared));
out:
	OPENSSL_cleanse(shared, sizeof(shared));
	return ret;
}

/*
 * One handshake AEAD operation with key k, nonce n and h as associated
 * data. A context per call: handshakes are rare, and the state stays plain
 * memory that a failed read can simply throw away.
 */
static int hs_aead(const struct zt_noise_handshake *hs, bool seal, const uint8_t *in,
		   size_t inlen, uint8_t *out, size_t outlen, size_t *out_len)
{
	EVP_AEAD_CTX ctx;
	uint8_t nonce[NONCE_LEN];
	int ok = 0;

	/* n = 2^64 - 1 is reserved (spec 5.1); a handshake never gets near it. */
	if (hs->n == ZT_NOISE_NONCE_MAX)
		return -EOVERFLOW;
	EVP_AEAD_CTX_zero(&ctx);
	if (!EVP_AEAD_CTX_init(&ctx, EVP_aead_chacha20_poly1305(), hs->k, sizeof(hs->k),
			       ZT_NOISE_TAG_LEN, NULL))
		goto out;
	nonce_bytes(nonce, hs->n);
	if (seal)
		ok = EVP_AEAD_CTX_seal(&ctx, out, out_len, outlen, nonce, sizeof(nonce),
				       in, inlen, hs->h, sizeof(hs->h));
	else
		ok = EVP_AEAD_CTX_open(&ctx, out, out_len, outlen, nonce, sizeof(nonce),
				       in, inlen, hs->h, sizeof(hs->h));
out:
	EVP_AEAD_CTX_cleanup(&ctx);
	OPENSSL_cleanse(&ctx, sizeof(ctx));
	if (!ok)
		return seal ? -EINVAL : -EBADMSG;
	return 0;
}

/* EncryptAndHash (spec 5.2): OUT receives INLEN (+ a tag once keyed) bytes. */
static int encrypt_and_hash(struct zt_noise_handshake *hs, const uint8_t *in, size_t inlen,
			    uint8_t *out, size_t *out_len)
{
	int ret;

	if (!hs->has_k) {
		memcpy(out, in, inlen);
		*out_len = inlen;
	} else {
		ret = hs_aead(hs, true, in, inlen, out, inlen + ZT_NOISE_TAG_LEN, out_len);
		if (ret)
			return ret;
		hs->n++;
	}
	mix_hash(hs, out, *out_len);
	return 0;
}

/*
 * DecryptAndHash (spec 5.2). The new h is computed from the ciphertext
 * before decrypting (with the old h as associated data), so OUT may be the
 * very buffer IN is in.
 */
static int decrypt_and_hash(struct zt_noise_handshake *hs, const uint8_t *in, size_t inlen,
			    uint8_t *out, size_t *out_len)
{
	uint8_t h[ZT_NOISE_HASH_LEN];
	int ret = 0;

	memcpy(h, hs->h, sizeof(h));
	mix_hash(hs, in, inlen);		/* hs->h is now the new h */
	if (!hs->has_k) {
		memmove(out, in, inlen);
		*out_len = inlen;
		goto out;
	}
	if (inlen < ZT_NOISE_TAG_LEN) {
		ret = -EBADMSG;
		goto out;
	}
	{
		uint8_t newh[ZT_NOISE_HASH_LEN];

		memcpy(newh, hs->h, sizeof(newh));
		memcpy(hs->h, h, sizeof(h));
		ret = hs_aead(hs, false, in, inlen, out, inlen - ZT_NOISE_TAG_LEN, out_len);
		memcpy(hs->h, newh, sizeof(newh));
	}
	if (!ret)
		hs->n++;
out:
	return ret;
}

void zt_noise_public_key(uint8_t pub[ZT_NOISE_KEY_LEN], const uint8_t priv[ZT_NOISE_KEY_LEN])
{
	X25519_public_from_private(pub, priv);
}

void zt_noise_keypair(uint8_t pub[ZT_NOISE_KEY_LEN], uint8_t priv[ZT_NOISE_KEY_LEN])
{
	X25519_keypair(pub, priv);
}

int zt_noise_handshake_init(struct zt_noise_handshake *hs, enum zt_noise_role role,
			    const uint8_t *prologue, size_t prologue_len,
			    const uint8_t s_priv[ZT_NOISE_KEY_LEN],
			    const uint8_t rs[ZT_NOISE_KEY_LEN])
{
	const char *name = ZT_NOISE_PROTOCOL_NAME;
	size_t name_len = strlen(name);

	if (!hs || !s_priv || (prologue_len && !prologue))
		return -EINVAL;
	if (role != ZT_NOISE_INITIATOR && role != ZT_NOISE_RESPONDER)
		return -EINVAL;
	/* IK's pre-message: the initiator knows the responder's static key. */
	if ((role == ZT_NOISE_INITIATOR) != (rs != NULL))
		return -EINVAL;

	OPENSSL_cleanse(hs, sizeof(*hs));
	hs->role = role;

	/* InitializeSymmetric (spec 5.2): the name is h when it fits, else its hash. */
	if (name_len <= ZT_NOISE_HASH_LEN)
		memcpy(hs->h, name, name_len);
	else
		SHA256((const uint8_t *)name, name_len, hs->h);
	memcpy(hs->ck, hs->h, sizeof(hs->ck));
	mix_hash(hs, prologue, prologue_len);

	memcpy(hs->s_priv, s_priv, sizeof(hs->s_priv));
	X25519_public_from_private(hs->s_pub, hs->s_priv);
	if (role == ZT_NOISE_INITIATOR) {
		memcpy(hs->rs, rs, sizeof(hs->rs));
		hs->has_rs = true;
		mix_hash(hs, hs->rs, sizeof(hs->rs));
	} else {
		mix_hash(hs, hs->s_pub, sizeof(hs->s_pub));
	}
	return 0;
}

/* Our message is message 1 for the initiator and message 2 for the responder. */
static bool our_turn(const struct zt_noise_handshake *hs)
{
	return (hs->role == ZT_NOISE_INITIATOR && hs->step == 0) ||
	       (hs->role == ZT_NOISE_RESPONDER && hs->step == 1);
}

int zt_noise_set_ephemeral(struct zt_noise_handshake *hs, const uint8_t e_priv[ZT_NOISE_KEY_LEN])
{
	if (!hs || !e_priv)
		return -EINVAL;
	/* Any time before our message goes out (the responder's, before message 1 too). */
	if (hs->step > (hs->role == ZT_NOISE_INITIATOR ? 0 : 1))
		return -EPROTO;
	memcpy(hs->e_priv, e_priv, sizeof(hs->e_priv));
	X25519_public_from_private(hs->e_pub, hs->e_priv);
	hs->has_e = true;
	return 0;
}

ssize_t zt_noise_write_message(struct zt_noise_handshake *hs, const uint8_t *payload,
			       size_t payload_len, uint8_t *out, size_t outlen)
{
	struct zt_noise_handshake t;
	bool first;
	size_t need, off = 0, n;
	ssize_t ret;

	if (!hs || !out || (payload_len && !payload))
		return -EINVAL;
	if (!our_turn(hs))
		return -EPROTO;
	first = hs->role == ZT_NOISE_INITIATOR;
	if (payload_len > ZT_NOISE_MSG_MAX)
		return -EMSGSIZE;
	need = first ? ZT_NOISE_MSG1_LEN(payload_len) : ZT_NOISE_MSG2_LEN(payload_len);
	if (need > ZT_NOISE_MSG_MAX)
		return -EMSGSIZE;
	if (outlen < need)
		return -ENOSPC;

	/* Work on a copy: HS changes only when the whole message is written. */
	t = *hs;
	if (!t.has_e) {
		X25519_keypair(t.e_pub, t.e_priv);
		t.has_e = true;
	}

	/* e */
	memcpy(out, t.e_pub, sizeof(t.e_pub));
	off += sizeof(t.e_pub);
	mix_hash(&t, t.e_pub, sizeof(t.e_pub));
	if (first) {
		/* es, s, ss */
		ret = mix_dh(&t, t.e_priv, t.rs);
		if (ret)
			goto bad_key;
		ret = encrypt_and_hash(&t, t.s_pub, sizeof(t.s_pub), out + off, &n);
		if (ret)
			goto out;
		off += n;
		ret = mix_dh(&t, t.s_priv, t.rs);
		if (ret)
			goto bad_key;
	} else {
		/* ee, se */
		ret = mix_dh(&t, t.e_priv, t.re);
		if (ret)
			goto bad_key;
		ret = mix_dh(&t, t.e_priv, t.rs);
		if (ret)
			goto bad_key;
	}
	ret = encrypt_and_hash(&t, payload, payload_len, out + off, &n);
	if (ret)
		goto out;
	off += n;
	t.step++;
	*hs = t;
	ret = (ssize_t)off;
	goto out;
bad_key:
	/* Only a low-order key configured as the responder's gets here. */
	ret = -EINVAL;
out:
	OPENSSL_cleanse(&t, sizeof(t));
	if (ret < 0)
		OPENSSL_cleanse(out, need);
	return ret;
}

ssize_t zt_noise_read_message(struct zt_noise_handshake *hs, const uint8_t *msg, size_t len,
			      uint8_t *payload, size_t outlen)
{
	struct zt_noise_handshake t;
	uint8_t dummy[1];
	bool first;
	size_t min, off = 0, n;
	ssize_t ret;

	if (!hs || (len && !msg) || (outlen && !payload))
		return -EINVAL;
	if (!((hs->role == ZT_NOISE_RESPONDER && hs->step == 0) ||
	      (hs->role == ZT_NOISE_INITIATOR && hs->step == 1)))
		return -EPROTO;
	first = hs->role == ZT_NOISE_RESPONDER;
	min = first ? MSG1_MIN : MSG2_MIN;
	if (len < min || len > ZT_NOISE_MSG_MAX)
		return -EBADMSG;
	if (outlen < len - min)
		return -ENOSPC;
	if (!payload)
		payload = dummy;	/* an empty payload: BoringSSL wants a buffer */

	t = *hs;
	/* e */
	memcpy(t.re, msg, sizeof(t.re));
	off += sizeof(t.re);
	mix_hash(&t, t.re, sizeof(t.re));
	if (first) {
		/* es, s, ss */
		ret = mix_dh(&t, t.s_priv, t.re);
		if (ret)
			goto out;
		ret = decrypt_and_hash(&t, msg + off, ZT_NOISE_KEY_LEN + ZT_NOISE_TAG_LEN, t.rs, &n);
		if (ret)
			goto out;
		off += ZT_NOISE_KEY_LEN + ZT_NOISE_TAG_LEN;
		t.has_rs = true;
		ret = mix_dh(&t, t.s_priv, t.rs);
		if (ret)
			goto out;
	} else {
		/* ee, se */
		ret = mix_dh(&t, t.e_priv, t.re);
		if (ret)
			goto out;
		ret = mix_dh(&t, t.s_priv, t.re);
		if (ret)
			goto out;
	}
	ret = decrypt_and_hash(&t, msg + off, len - off, payload, &n);
	if (ret)
		goto out;
	t.step++;
	*hs = t;
	ret = (ssize_t)n;
out:
	/* Every failure here is the message's fault: one answer for all of them. */
	if (ret < 0)
		ret = -EBADMSG;
	OPENSSL_cleanse(&t, sizeof(t));
	return ret;
}

int zt_noise_remote_static(const struct zt_noise_handshake *hs, uint8_t out[ZT_NOISE_KEY_LEN])
{
	if (!hs || !out)
		return -EINVAL;
	if (!hs->has_rs)
		return -EPROTO;
	memcpy(out, hs->rs, ZT_NOISE_KEY_LEN);
	return 0;
}

void zt_noise_handshake_hash(const struct zt_noise_handshake *hs, uint8_t out[ZT_NOISE_HASH_LEN])
{
	memcpy(out, hs->h, ZT_NOISE_HASH_LEN);
}

bool zt_noise_handshake_done(const struct zt_noise_handshake *hs)
{
	return hs->step == 2;
}

static int key_init(struct zt_noise_key *key, const uint8_t k[ZT_NOISE_KEY_LEN])
{
	EVP_AEAD_CTX_zero(&key->ctx);
	if (!EVP_AEAD_CTX_init(&key->ctx, EVP_aead_chacha20_poly1305(), k, ZT_NOISE_KEY_LEN,
			       ZT_NOISE_TAG_LEN, NULL))
		return -ENOMEM;
	key->valid = true;
	return 0;
}

static void key_destroy(struct zt_noise_key *key)
{
	if (key->valid)
		EVP_AEAD_CTX_cleanup(&key->ctx);
	OPENSSL_cleanse(key, sizeof(*key));
}

int zt_noise_split(struct zt_noise_handshake *hs, struct zt_noise_session *sess)
{
	uint8_t k1[ZT_NOISE_KEY_LEN], k2[ZT_NOISE_KEY_LEN];
	bool initiator;
	int ret;

	if (!hs || !sess)
		return -EINVAL;
	if (hs->step != 2)
		return -EPROTO;
	memset(sess, 0, sizeof(*sess));
	ret = hkdf2(hs->ck, NULL, 0, k1, k2);
	if (ret)
		goto out;
	initiator = hs->role == ZT_NOISE_INITIATOR;
	ret = key_init(&sess->send, initiator ? k1 : k2);
	if (ret)
		goto out;
	ret = key_init(&sess->recv, initiator ? k2 : k1);
	if (ret)
		goto out;
	memcpy(sess->hash, hs->h, sizeof(sess->hash));
	memcpy(sess->remote_static, hs->rs, sizeof(sess->remote_static));
	zt_noise_handshake_destroy(hs);
out:
	if (ret)
		zt_noise_session_destroy(sess);
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	return ret;
}

void zt_noise_handshake_destroy(struct zt_noise_handshake *hs)
{
	if (hs)
		OPENSSL_cleanse(hs, sizeof(*hs));
}

ssize_t zt_noise_seal(const struct zt_noise_key *key, uint64_t nonce,
		      const uint8_t *ad, size_t ad_len, const uint8_t *in, size_t inlen,
		      uint8_t *out, size_t outlen)
{
	uint8_t nb[NONCE_LEN];
	size_t n;

	if (!key || !key->valid || !out || (inlen && !in) || (ad_len && !ad))
		return -EINVAL;
	if (nonce == ZT_NOISE_NONCE_MAX)
		return -EINVAL;
	if (inlen > ZT_NOISE_MSG_MAX - ZT_NOISE_TAG_LEN)
		return -EMSGSIZE;
	if (outlen < ZT_NOISE_SEALED_LEN(inlen))
		return -ENOSPC;
	nonce_bytes(nb, nonce);
	if (!EVP_AEAD_CTX_seal(&key->ctx, out, &n, outlen, nb, sizeof(nb), in, inlen, ad, ad_len))
		return -EINVAL;
	return (ssize_t)n;
}

ssize_t zt_noise_open(const struct zt_noise_key *key, uint64_t nonce,
		      const uint8_t *ad, size_t ad_len, const uint8_t *in, size_t inlen,
		      uint8_t *out, size_t outlen)
{
	uint8_t nb[NONCE_LEN];
	size_t n;

	if (!key || !key->valid || !out || (inlen && !in) || (ad_len && !ad))
		return -EINVAL;
	/* The nonce and the length come off the wire. */
	if (nonce == ZT_NOISE_NONCE_MAX || inlen < ZT_NOISE_TAG_LEN || inlen > ZT_NOISE_MSG_MAX)
		return -EBADMSG;
	if (outlen < inlen - ZT_NOISE_TAG_LEN)
		return -ENOSPC;
	nonce_bytes(nb, nonce);
	if (!EVP_AEAD_CTX_open(&key->ctx, out, &n, outlen, nb, sizeof(nb), in, inlen, ad, ad_len))
		return -EBADMSG;
	return (ssize_t)n;
}

void zt_noise_session_destroy(struct zt_noise_session *sess)
{
	if (!sess)
		return;
	key_destroy(&sess->send);
	key_destroy(&sess->recv);
	OPENSSL_cleanse(sess, sizeof(*sess));
}

/*
 * Replay window after RFC 6479 (as WireGuard does it): a ring of words
 * where moving the top forward clears whole words instead of shifting
 * bits. One word is always being recycled, so the usable window is the
 * ring less one word.
 */
#define RING_WORDS	ZT_NOISE_REPLAY_WORDS
#define WINDOW		((uint64_t)(RING_WORDS - 1) * 64)

_Static_assert((RING_WORDS & (RING_WORDS - 1)) == 0, "ring size must be a power of two");
_Static_assert(WINDOW >= 8192, "the issue asks for a window of at least 8192 packets");

void zt_noise_replay_init(struct zt_noise_replay *r)
{
	memset(r, 0, sizeof(*r));
}

/*
 * Counters are stored plus one, so that "nothing seen yet" (top 0) is not
 * the same as "counter 0 seen".
 */
bool zt_noise_replay_check(const struct zt_noise_replay *r, uint64_t counter)
{
	uint64_t c;

	if (counter >= ZT_NOISE_NONCE_MAX)
		return false;
	c = counter + 1;
	if (c > r->top)
		return true;
	if (r->top - c >= WINDOW)
		return false;
	return !(r->ring[(c / 64) & (RING_WORDS - 1)] & (UINT64_C(1) << (c % 64)));
}

bool zt_noise_replay_accept(struct zt_noise_replay *r, uint64_t counter)
{
	uint64_t c, idx, cur, top, bit;

	if (!zt_noise_replay_check(r, counter))
		return false;
	c = counter + 1;
	idx = c / 64;
	if (c > r->top) {
		/* Clear the words between the old top's and the new one's (at most the ring). */
		cur = r->top / 64;
		top = idx - cur < RING_WORDS ? idx - cur : RING_WORDS;
		for (uint64_t i = 1; i <= top; i++)
			r->ring[(cur + i) & (RING_WORDS - 1)] = 0;
		r->top = c;
	}
	bit = UINT64_C(1) << (c % 64);
	r->ring[idx & (RING_WORDS - 1)] |= bit;
	return true;
}
