/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The tunnel's four UDP messages (docs/TUNNEL.md): encode and parse them,
 * compute and check mac1/mac2, make cookies under a rotating secret, seal
 * and open cookie replies, and write TAI64N timestamps. No state beyond the
 * cookie secret, no sockets: the engine (tunnel.h) strings these together.
 *
 * Every datagram comes from outside: zt_tw_type() accepts a datagram only
 * when its header is exact (type, three zero bytes) and its size is the
 * size of that type, so the parsers behind it read only inside it. The
 * parsers check the same again on their own, so each is safe alone.
 * MACs are compared in constant time (CRYPTO_memcmp).
 *
 * Integers on the wire are little-endian (as WireGuard's); TAI64N and the
 * port inside a cookie are big-endian (as their definitions say).
 */
#ifndef ZT_TUNNEL_WIRE_H
#define ZT_TUNNEL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "tunnel/noise.h"
#include "ztgate/wire.h"

#define ZT_TW_PROLOGUE		"ztgate v1"
#define ZT_TW_PROLOGUE_LEN	9

/* The type byte of each message (ztgate/wire.h, shared with the uplink guard). */
enum zt_tw_type {
	ZT_TW_INITIATION	= ZT_MSG_INITIATION,
	ZT_TW_RESPONSE		= ZT_MSG_RESPONSE,
	ZT_TW_COOKIE_REPLY	= ZT_MSG_COOKIE_REPLY,
	ZT_TW_TRANSPORT		= ZT_MSG_TRANSPORT,
};

#define ZT_TW_MAC_LEN		16	/* mac1, mac2: HMAC-SHA256 truncated */
#define ZT_TW_COOKIE_LEN	16
#define ZT_TW_TAI64N_LEN	12
#define ZT_TW_COOKIE_NONCE_LEN	24	/* XChaCha20-Poly1305 */
#define ZT_TW_COOKIE_SEALED_LEN	(ZT_TW_COOKIE_LEN + ZT_NOISE_TAG_LEN)

/* The Noise parts: message 1 carries the TAI64N timestamp, message 2 nothing. */
#define ZT_TW_INIT_NOISE_LEN	ZT_NOISE_MSG1_LEN(ZT_TW_TAI64N_LEN)
#define ZT_TW_RESP_NOISE_LEN	ZT_NOISE_MSG2_LEN(0)

/*
 * Each message's size from its parts. The numbers live in ztgate/wire.h,
 * where the uplink guard (BPF) reads them: the asserts keep the two in step.
 */
#define ZT_TW_INITIATION_LEN	(8 + ZT_TW_INIT_NOISE_LEN + 2 * ZT_TW_MAC_LEN)
#define ZT_TW_RESPONSE_LEN	(12 + ZT_TW_RESP_NOISE_LEN + 2 * ZT_TW_MAC_LEN)
#define ZT_TW_COOKIE_REPLY_LEN	(8 + ZT_TW_COOKIE_NONCE_LEN + ZT_TW_COOKIE_SEALED_LEN)
/* type, 3 zero, receiver u32, counter u64 */
#define ZT_TW_TRANSPORT_HEADER_LEN ZT_MSG_TRANSPORT_HEADER_LEN
#define ZT_TW_TRANSPORT_LEN(n)	(ZT_TW_TRANSPORT_HEADER_LEN + ZT_NOISE_SEALED_LEN(n))
#define ZT_TW_TRANSPORT_MIN_LEN	ZT_TW_TRANSPORT_LEN(0)

_Static_assert(ZT_TW_INITIATION_LEN == ZT_MSG_INITIATION_LEN, "initiation size");
_Static_assert(ZT_TW_RESPONSE_LEN == ZT_MSG_RESPONSE_LEN, "response size");
_Static_assert(ZT_TW_COOKIE_REPLY_LEN == ZT_MSG_COOKIE_REPLY_LEN, "cookie reply size");
_Static_assert(ZT_TW_TRANSPORT_MIN_LEN == ZT_MSG_TRANSPORT_MIN, "keepalive size");

/* Cookies and the secret behind them live this long (WireGuard's 120 s). */
#define ZT_TW_COOKIE_SECRET_MAX_AGE_NS	(120ull * 1000000000ull)

struct zt_tw_initiation {
	uint32_t sender;
	uint8_t noise[ZT_TW_INIT_NOISE_LEN];
	uint8_t mac1[ZT_TW_MAC_LEN];
	uint8_t mac2[ZT_TW_MAC_LEN];
};

struct zt_tw_response {
	uint32_t sender;
	uint32_t receiver;
	uint8_t noise[ZT_TW_RESP_NOISE_LEN];
	uint8_t mac1[ZT_TW_MAC_LEN];
	uint8_t mac2[ZT_TW_MAC_LEN];
};

struct zt_tw_cookie_reply {
	uint32_t receiver;
	uint8_t nonce[ZT_TW_COOKIE_NONCE_LEN];
	uint8_t sealed[ZT_TW_COOKIE_SEALED_LEN];
};

/* A parsed transport message: SEALED points into the datagram parsed. */
struct zt_tw_transport {
	uint32_t receiver;
	uint64_t counter;
	const uint8_t *sealed;
	size_t sealed_len;		/* payload + 16 */
};

/*
 * The type of datagram MSG (LEN bytes) if it is a well-formed message of
 * that type: known type byte, three zero bytes, exactly the type's size
 * (transport: at least 32 bytes, at most ZT_NOISE_MSG_MAX sealed).
 * Otherwise -EBADMSG.
 */
int zt_tw_type(const uint8_t *msg, size_t len);

/*
 * Encoders write the whole message (MACs as given in the struct) into OUT
 * and return its length, or -ENOSPC when OUTLEN is short. Parsers fill M
 * and return 0, or -EBADMSG unless MSG is exactly a message of their type.
 */
ssize_t zt_tw_initiation_encode(const struct zt_tw_initiation *m, uint8_t *out, size_t outlen);
int zt_tw_initiation_parse(const uint8_t *msg, size_t len, struct zt_tw_initiation *m);
ssize_t zt_tw_response_encode(const struct zt_tw_response *m, uint8_t *out, size_t outlen);
int zt_tw_response_parse(const uint8_t *msg, size_t len, struct zt_tw_response *m);
ssize_t zt_tw_cookie_reply_encode(const struct zt_tw_cookie_reply *m, uint8_t *out, size_t outlen);
int zt_tw_cookie_reply_parse(const uint8_t *msg, size_t len, struct zt_tw_cookie_reply *m);
/* Only the 16-byte header; the sealed payload follows it in OUT. */
ssize_t zt_tw_transport_header_encode(uint32_t receiver, uint64_t counter, uint8_t *out,
				      size_t outlen);
int zt_tw_transport_parse(const uint8_t *msg, size_t len, struct zt_tw_transport *m);

/*
 * Key derivations from a static public key: the mac1 key is
 * SHA-256("mac1----" || key), the cookie key SHA-256("cookie--" || key).
 * A message to peer P carries mac1 under P's mac1 key; a cookie reply from
 * P is sealed under P's cookie key.
 */
void zt_tw_mac1_key(const uint8_t pub[ZT_NOISE_KEY_LEN], uint8_t key[32]);
void zt_tw_cookie_key(const uint8_t pub[ZT_NOISE_KEY_LEN], uint8_t key[32]);

/*
 * mac1 of handshake message MSG (an initiation or a response, LEN its exact
 * size): the first 16 bytes of HMAC-SHA256 over every byte before mac1.
 * _write stores it in the message, _ok checks it. -EINVAL / false when MSG
 * is not a handshake message.
 */
int zt_tw_mac1_write(uint8_t *msg, size_t len, const uint8_t mac1_key[32]);
bool zt_tw_mac1_ok(const uint8_t *msg, size_t len, const uint8_t mac1_key[32]);

/*
 * mac2 under COOKIE over every byte before mac2; COOKIE NULL writes 16
 * zero bytes (no fresh cookie). _ok with a NULL cookie is false.
 */
int zt_tw_mac2_write(uint8_t *msg, size_t len, const uint8_t cookie[ZT_TW_COOKIE_LEN]);
bool zt_tw_mac2_ok(const uint8_t *msg, size_t len, const uint8_t cookie[ZT_TW_COOKIE_LEN]);

/* Where mac1 sits in a handshake message of LEN bytes (LEN - 32). */
static inline const uint8_t *zt_tw_mac1_of(const uint8_t *msg, size_t len)
{
	return msg + len - 2 * ZT_TW_MAC_LEN;
}

/*
 * The responder's cookie secret, replaced by a fresh random one when it is
 * ZT_TW_COOKIE_SECRET_MAX_AGE_NS old. Zero it to start.
 */
struct zt_tw_cookie_secret {
	uint8_t secret[32];
	uint64_t born_ns;		/* CLOCK_MONOTONIC */
	bool valid;
};

/*
 * The cookie for source address SRC (AF_INET or AF_INET6; an IPv4-mapped
 * address counts as the IPv4 one) at NOW_NS: the first 16 bytes of
 * HMAC-SHA256(secret, IP bytes || port big-endian). Rotates the secret
 * first when due. -EAFNOSUPPORT for other families, -EIO if no randomness.
 */
int zt_tw_cookie_make(struct zt_tw_cookie_secret *s, uint64_t now_ns,
		      const struct sockaddr *src, uint8_t cookie[ZT_TW_COOKIE_LEN]);

/*
 * The cookie for a sender that came through a relay, which names it by
 * SRC_KEY: HMAC-SHA256(secret, 0xff || SRC_KEY)[0:16]. It reaches only the
 * holder of that registration (the relay forwards it there), as an
 * address's cookie reaches only that address.
 */
int zt_tw_cookie_make_relayed(struct zt_tw_cookie_secret *s, uint64_t now_ns,
			      const uint8_t src_key[32], uint8_t cookie[ZT_TW_COOKIE_LEN]);

/* Wipe the secret. */
void zt_tw_cookie_secret_destroy(struct zt_tw_cookie_secret *s);

/*
 * A cookie reply to a handshake message whose sender index is RECEIVER and
 * whose mac1 is MAC1: COOKIE sealed with XChaCha20-Poly1305 under
 * COOKIE_KEY (ours: zt_tw_cookie_key of our static public key), a random
 * nonce, MAC1 as associated data. Writes ZT_TW_COOKIE_REPLY_LEN bytes.
 * Returns 0, -ENOSPC, -EIO.
 */
int zt_tw_cookie_reply_seal(const uint8_t cookie_key[32], uint32_t receiver,
			    const uint8_t cookie[ZT_TW_COOKIE_LEN],
			    const uint8_t mac1[ZT_TW_MAC_LEN], uint8_t *out, size_t outlen);

/*
 * Open cookie reply MSG with COOKIE_KEY (the replier's: zt_tw_cookie_key
 * of its static public key) and MAC1, the mac1 of the message we sent it.
 * Returns 0 with the cookie in COOKIE, or -EBADMSG.
 */
int zt_tw_cookie_reply_open(const uint8_t cookie_key[32], const uint8_t *msg, size_t len,
			    const uint8_t mac1[ZT_TW_MAC_LEN], uint8_t cookie[ZT_TW_COOKIE_LEN]);

/*
 * TAI64N: 8 bytes big-endian 2^62 + 10 + Unix seconds (TAI64 label, as
 * WireGuard writes it), 4 bytes big-endian nanoseconds. _now rounds the
 * nanoseconds down to 2^24 ns (WireGuard's whitening: an initiation does
 * not tell the peer our clock to the nanosecond); two initiations must
 * then be ~17 ms apart, which the REKEY_TIMEOUT rate limit guarantees.
 * Timestamps compare as bytes: _after(a, b) is true iff a is later than b.
 */
void zt_tw_tai64n(uint64_t unix_sec, uint32_t nsec, uint8_t out[ZT_TW_TAI64N_LEN]);
void zt_tw_tai64n_now(uint8_t out[ZT_TW_TAI64N_LEN]);
bool zt_tw_tai64n_after(const uint8_t a[ZT_TW_TAI64N_LEN], const uint8_t b[ZT_TW_TAI64N_LEN]);

#endif
