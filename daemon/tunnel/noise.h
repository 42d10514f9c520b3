/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Noise_IK_25519_ChaChaPoly_SHA256 (Noise Protocol Framework, revision 34):
 * the handshake between a client (initiator) and a connector (responder)
 * whose static public key the client knows in advance, and the transport
 * keys it yields.
 *
 *   IK:  <- s
 *        ...
 *        -> e, es, s, ss     message 1: 32 + 48 + payload + 16 bytes
 *        <- e, ee, se        message 2: 32 + payload + 16 bytes
 *
 * The primitives are BoringSSL's (X25519, the ChaCha20-Poly1305 EVP_AEAD,
 * SHA-256, HMAC); this file only strings them together as the spec says.
 * It reproduces the cacophony test vectors (tests/vectors/noise-ik.json).
 *
 * Every message comes from outside: lengths are checked before any byte is
 * read, and a message that fails (short, too long, bad tag, a low-order
 * point) returns -EBADMSG and leaves the handshake exactly as it was, so a
 * forged packet cannot wedge a handshake in progress.
 *
 * Transport messages carry an explicit 64-bit counter (the datagram says
 * which nonce it used, as UDP reorders and drops): zt_noise_seal() and
 * zt_noise_open() keep no counter of their own. The caller picks send
 * counters in order, never reuses one with a key, and runs a replay
 * window over the counters of packets that opened.
 *
 * Secrets (private keys, chaining key, cipher keys, DH outputs) are wiped
 * with OPENSSL_cleanse when no longer needed and on destroy.
 */
#ifndef ZT_NOISE_H
#define ZT_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/aead.h>

#define ZT_NOISE_PROTOCOL_NAME	"Noise_IK_25519_ChaChaPoly_SHA256"
#define ZT_NOISE_KEY_LEN	32	/* X25519 keys, cipher keys */
#define ZT_NOISE_HASH_LEN	32	/* SHA-256 */
#define ZT_NOISE_TAG_LEN	16	/* Poly1305 */
#define ZT_NOISE_MSG_MAX	65535	/* spec 3: every Noise message */

/* Handshake message sizes for a payload of N bytes. */
#define ZT_NOISE_MSG1_LEN(n)	(ZT_NOISE_KEY_LEN + ZT_NOISE_KEY_LEN + ZT_NOISE_TAG_LEN + \
				 (n) + ZT_NOISE_TAG_LEN)
#define ZT_NOISE_MSG2_LEN(n)	(ZT_NOISE_KEY_LEN + (n) + ZT_NOISE_TAG_LEN)
/* A transport message of N plaintext bytes. */
#define ZT_NOISE_SEALED_LEN(n)	((n) + ZT_NOISE_TAG_LEN)
/* The spec reserves the last nonce (11.1); zt_noise_seal/open refuse it. */
#define ZT_NOISE_NONCE_MAX	UINT64_MAX

enum zt_noise_role {
	ZT_NOISE_INITIATOR,
	ZT_NOISE_RESPONDER,
};

/*
 * Handshake state (spec 5.3) with its symmetric state (5.2) and cipher
 * state (5.1) inline. Plain memory: a failed read works on a copy.
 * Fields are private to noise.c.
 */
struct zt_noise_handshake {
	enum zt_noise_role role;
	int step;			/* messages done: 0, 1, 2 (complete) */
	/* Symmetric state. */
	uint8_t h[ZT_NOISE_HASH_LEN];
	uint8_t ck[ZT_NOISE_HASH_LEN];
	uint8_t k[ZT_NOISE_KEY_LEN];
	bool has_k;
	uint64_t n;
	/* Keys. */
	uint8_t s_priv[ZT_NOISE_KEY_LEN], s_pub[ZT_NOISE_KEY_LEN];
	uint8_t e_priv[ZT_NOISE_KEY_LEN], e_pub[ZT_NOISE_KEY_LEN];
	bool has_e;			/* injected by zt_noise_set_ephemeral */
	uint8_t rs[ZT_NOISE_KEY_LEN];	/* initiator: given; responder: from message 1 */
	uint8_t re[ZT_NOISE_KEY_LEN];
	bool has_rs;
};

/* One direction's transport key. */
struct zt_noise_key {
	EVP_AEAD_CTX ctx;
	bool valid;
};

/* What Split() yields: a key each way, and the handshake hash (spec 11.2). */
struct zt_noise_session {
	struct zt_noise_key send;
	struct zt_noise_key recv;
	uint8_t hash[ZT_NOISE_HASH_LEN];
	uint8_t remote_static[ZT_NOISE_KEY_LEN];
};

/* X25519: PUB from PRIV; a new random key pair. */
void zt_noise_public_key(uint8_t pub[ZT_NOISE_KEY_LEN], const uint8_t priv[ZT_NOISE_KEY_LEN]);
void zt_noise_keypair(uint8_t pub[ZT_NOISE_KEY_LEN], uint8_t priv[ZT_NOISE_KEY_LEN]);

/*
 * Start a handshake. S_PRIV is our static private key. The initiator must
 * pass the responder's static public key RS; the responder passes NULL and
 * learns the initiator's from message 1. The prologue (up to
 * ZT_NOISE_MSG_MAX bytes) must be the same on both sides or message 1
 * fails. Returns 0 or -EINVAL.
 */
int zt_noise_handshake_init(struct zt_noise_handshake *hs, enum zt_noise_role role,
			    const uint8_t *prologue, size_t prologue_len,
			    const uint8_t s_priv[ZT_NOISE_KEY_LEN],
			    const uint8_t rs[ZT_NOISE_KEY_LEN]);

/*
 * Use E_PRIV as our ephemeral key instead of a fresh random one (test
 * vectors only: a reused ephemeral destroys forward secrecy). Before our
 * message is written; -EPROTO after.
 */
int zt_noise_set_ephemeral(struct zt_noise_handshake *hs, const uint8_t e_priv[ZT_NOISE_KEY_LEN]);

/*
 * Write our next handshake message (message 1 for the initiator, message 2
 * for the responder) with PAYLOAD into OUT. Returns its length, or
 * -EPROTO (not our turn), -EMSGSIZE (the message would exceed
 * ZT_NOISE_MSG_MAX), -ENOSPC (OUTLEN too small: ZT_NOISE_MSG1_LEN /
 * ZT_NOISE_MSG2_LEN), -EINVAL. On error the handshake is unchanged.
 */
ssize_t zt_noise_write_message(struct zt_noise_handshake *hs, const uint8_t *payload,
			       size_t payload_len, uint8_t *out, size_t outlen);

/*
 * Read the peer's handshake message MSG of LEN bytes; its payload goes to
 * PAYLOAD (OUTLEN bytes; may be NULL when OUTLEN is 0). Returns the payload
 * length, or -EBADMSG (malformed, forged, or for someone else), -ENOSPC
 * (payload does not fit), -EPROTO (not the peer's turn). On error the
 * handshake is unchanged and PAYLOAD's contents are unspecified.
 *
 * The responder must check zt_noise_remote_static() against the keys it
 * knows before answering: message 1 proves only that the sender holds the
 * private key of the static key it sent.
 */
ssize_t zt_noise_read_message(struct zt_noise_handshake *hs, const uint8_t *msg, size_t len,
			      uint8_t *payload, size_t outlen);

/* The peer's static public key: the initiator's after message 1 (responder), or -EPROTO. */
int zt_noise_remote_static(const struct zt_noise_handshake *hs, uint8_t out[ZT_NOISE_KEY_LEN]);

/* The handshake hash h (spec 5.2); the final one once both messages are done. */
void zt_noise_handshake_hash(const struct zt_noise_handshake *hs, uint8_t out[ZT_NOISE_HASH_LEN]);

bool zt_noise_handshake_done(const struct zt_noise_handshake *hs);

/*
 * Split() (spec 5.2) a completed handshake into SESS: the initiator sends
 * with the first key, the responder with the second. The handshake is
 * destroyed on success. Returns 0, -EPROTO (not complete) or -ENOMEM.
 */
int zt_noise_split(struct zt_noise_handshake *hs, struct zt_noise_session *sess);

/* Wipe every secret in HS. Safe on a zeroed or already destroyed state. */
void zt_noise_handshake_destroy(struct zt_noise_handshake *hs);

/*
 * Transport: seal IN (INLEN bytes) with counter NONCE and associated data
 * AD into OUT (ZT_NOISE_SEALED_LEN(INLEN) bytes). IN and OUT may be the
 * same buffer, or must not overlap. Returns the ciphertext length, or
 * -EINVAL (no key, NONCE is ZT_NOISE_NONCE_MAX), -EMSGSIZE (over
 * ZT_NOISE_MSG_MAX), -ENOSPC.
 */
ssize_t zt_noise_seal(const struct zt_noise_key *key, uint64_t nonce,
		      const uint8_t *ad, size_t ad_len, const uint8_t *in, size_t inlen,
		      uint8_t *out, size_t outlen);

/*
 * Open ciphertext IN (INLEN bytes, tag included) sealed with NONCE and AD
 * into OUT (at least INLEN - ZT_NOISE_TAG_LEN bytes). Same buffer rules as
 * seal. Returns the plaintext length, or -EBADMSG (short, too long,
 * forged, wrong nonce or key, the reserved nonce; OUT is then zeroed when
 * the tag was checked), -EINVAL (no key), -ENOSPC.
 * Nothing here remembers NONCE: replay protection is the caller's.
 */
ssize_t zt_noise_open(const struct zt_noise_key *key, uint64_t nonce,
		      const uint8_t *ad, size_t ad_len, const uint8_t *in, size_t inlen,
		      uint8_t *out, size_t outlen);

/* Wipe both keys. Safe on a zeroed or already destroyed session. */
void zt_noise_session_destroy(struct zt_noise_session *sess);

/*
 * Replay window over received transport counters: ZT_NOISE_REPLAY_WINDOW
 * (16320) counters below the highest seen are remembered, anything older
 * is refused. Use: zt_noise_replay_check() before zt_noise_open() (a cheap
 * early drop), zt_noise_replay_accept() only after it succeeded, so that
 * forged packets never move the window. Not thread-safe: one receiver per
 * window, or a lock around accept.
 */
#define ZT_NOISE_REPLAY_WORDS	256	/* 2 KiB; a power of two */
#define ZT_NOISE_REPLAY_WINDOW	((ZT_NOISE_REPLAY_WORDS - 1) * 64)

struct zt_noise_replay {
	uint64_t top;			/* highest counter accepted, plus one; 0: none */
	uint64_t ring[ZT_NOISE_REPLAY_WORDS];
};

void zt_noise_replay_init(struct zt_noise_replay *r);
/* True if COUNTER is new and inside the window (the reserved last nonce never is). */
bool zt_noise_replay_check(const struct zt_noise_replay *r, uint64_t counter);
/* Check and record COUNTER; false if it was a replay or too old. */
bool zt_noise_replay_accept(struct zt_noise_replay *r, uint64_t counter);

#endif
