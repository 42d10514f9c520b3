/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The relay's messages (docs/RELAY.md): encode and parse each of them, the
 * relay's stateless registration cookie, and the registration mac. No
 * sockets and no state beyond the cookie secret: the relay (relay.c) and
 * the peers' side (relay/client.c) string these together.
 *
 * Every datagram comes from outside. zt_relay_msg_type() accepts a message
 * only when its header is exact (a known type 0x10-0x17, three zero bytes)
 * and its length is the one its type allows (fixed sizes; register: 70 +
 * 32 n with n as the message says; send/recv: at least one byte of
 * datagram), so the parsers behind it read only inside it. Each parser
 * checks the same again, so each is safe alone. Padding must be zero.
 *
 * Integers on the wire are big-endian. MACs are compared in constant time.
 *
 * The mac key K = HKDF-SHA256(X25519(ours, theirs), salt empty, info
 * "ztgate relay v1"), the same on both sides; mac = first 16 bytes of
 * HMAC-SHA256(K, every byte of the message before the mac).
 */
#ifndef ZT_RELAY_PROTO_H
#define ZT_RELAY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "lib/addr.h"
#include "ztgate/wire.h"

/* The type byte of each message (ztgate/wire.h, shared with the uplink guard). */
enum zt_relay_type {
	ZT_RELAY_HELLO		= ZT_RELAY_MSG_HELLO,
	ZT_RELAY_CHALLENGE	= ZT_RELAY_MSG_CHALLENGE,
	ZT_RELAY_REGISTER	= ZT_RELAY_MSG_REGISTER,
	ZT_RELAY_REGISTERED	= ZT_RELAY_MSG_REGISTERED,
	ZT_RELAY_SEND		= ZT_RELAY_MSG_SEND,
	ZT_RELAY_RECV		= ZT_RELAY_MSG_RECV,
	ZT_RELAY_KEEPALIVE	= ZT_RELAY_MSG_KEEPALIVE,
	ZT_RELAY_ERROR		= ZT_RELAY_MSG_ERROR,
};

/* Error codes carried by ZT_RELAY_ERROR. */
enum zt_relay_error_code {
	ZT_RELAY_E_UNKNOWN_PEER	= 1,	/* send: destination not registered */
	ZT_RELAY_E_NOT_ACCEPTED	= 2,	/* send: the pair does not accept each other */
	ZT_RELAY_E_RATE_LIMITED	= 3,
	ZT_RELAY_E_NOT_REGISTERED = 4,	/* send/keepalive from a source with no registration */
};

#define ZT_RELAY_KEYLEN		32
#define ZT_RELAY_COOKIE_LEN	16
#define ZT_RELAY_MAC_LEN	16
/*
 * Message sizes: the numbers live in ztgate/wire.h, where the uplink guard
 * (BPF, relay mode) reads them; the asserts check them against the fields.
 */
#define ZT_RELAY_HDR_LEN	ZT_RELAY_MSG_HDR_LEN		/* type, 3 zero bytes */
#define ZT_RELAY_HELLO_LEN	ZT_RELAY_MSG_HELLO_LEN
#define ZT_RELAY_CHALLENGE_LEN	ZT_RELAY_MSG_CHALLENGE_LEN
/* Header, key, cookie, n (u16), N accepted keys, mac. */
#define ZT_RELAY_REGISTER_LEN(n) \
	(ZT_RELAY_MSG_REGISTER_MIN + ZT_RELAY_MSG_REGISTER_PER_KEY * (size_t)(n))
/* header, index, endpoint, lifetime, mac */
#define ZT_RELAY_REGISTERED_LEN	ZT_RELAY_MSG_REGISTERED_LEN
#define ZT_RELAY_KEEPALIVE_LEN	ZT_RELAY_MSG_KEEPALIVE_LEN	/* header, key, mac */
#define ZT_RELAY_ERROR_LEN	ZT_RELAY_MSG_ERROR_LEN		/* header, code u16, 2 zero */
/* send/recv: header, key, then the datagram */
#define ZT_RELAY_FWD_HDR_LEN	ZT_RELAY_MSG_FWD_HDR_LEN

_Static_assert(ZT_RELAY_REGISTER_LEN(0) ==
	       ZT_RELAY_HDR_LEN + ZT_RELAY_KEYLEN + ZT_RELAY_COOKIE_LEN + 2 + ZT_RELAY_MAC_LEN,
	       "register size");
_Static_assert(ZT_RELAY_MSG_REGISTER_PER_KEY == ZT_RELAY_KEYLEN, "register: one key each");
_Static_assert(ZT_RELAY_KEEPALIVE_LEN == ZT_RELAY_HDR_LEN + ZT_RELAY_KEYLEN + ZT_RELAY_MAC_LEN,
	       "keepalive size");
_Static_assert(ZT_RELAY_FWD_HDR_LEN == ZT_RELAY_HDR_LEN + ZT_RELAY_KEYLEN, "send/recv header size");

/* A TCP frame's length is a u16: no message is longer, over either transport. */
#define ZT_RELAY_MSG_MAX	65535
#define ZT_RELAY_DATAGRAM_MAX	(ZT_RELAY_MSG_MAX - ZT_RELAY_FWD_HDR_LEN)
/* The most keys one register may accept (a 32 KiB message). */
#define ZT_RELAY_ACCEPT_MAX	1024
/* Errors answer only messages at least this long (never an amplifier). */
#define ZT_RELAY_ERROR_MIN_REQUEST 40

/* The cookie secret rotates this often; a cookie stays valid for up to two periods. */
#define ZT_RELAY_COOKIE_ROTATE_NS	(120ull * 1000000000ull)

/* MAC key of a peer/relay pair: zt_relay_mac_key(). */
struct zt_relay_mac_key {
	uint8_t k[32];
};

struct zt_relay_challenge {
	uint8_t relay_key[ZT_RELAY_KEYLEN];
	uint8_t cookie[ZT_RELAY_COOKIE_LEN];
};

/* A parsed register: ACCEPT points into the message (N x 32 bytes). */
struct zt_relay_register {
	uint8_t key[ZT_RELAY_KEYLEN];
	uint8_t cookie[ZT_RELAY_COOKIE_LEN];
	uint16_t n;
	const uint8_t *accept;
};

struct zt_relay_registered {
	uint32_t index;
	struct zt_endpoint observed;	/* the source the relay saw the register (or keepalive) from */
	uint16_t lifetime_s;
};

/* A parsed send or recv: KEY and DATAGRAM point into the message. */
struct zt_relay_fwd {
	const uint8_t *key;		/* send: destination; recv: source */
	const uint8_t *datagram;
	size_t len;
};

/*
 * The type of MSG (LEN bytes) if it is a well-formed relay message (known
 * type, three zero bytes, the length its type allows), else -EBADMSG.
 * MACs and cookies are not checked here.
 */
int zt_relay_msg_type(const uint8_t *msg, size_t len);

/* True when MSG's first byte is in the relay's range 0x10-0x1f (cheap demux). */
static inline bool zt_relay_looks_like(const uint8_t *msg, size_t len)
{
	return len >= ZT_RELAY_HDR_LEN && (msg[0] & 0xf0) == 0x10;
}

/*
 * K for the pair (PRIV, PUB): HKDF-SHA256 of their X25519 shared secret.
 * -EINVAL when PUB is a low-order point (shared secret all zero), -EIO if
 * HKDF fails.
 */
int zt_relay_mac_key(const uint8_t priv[ZT_RELAY_KEYLEN], const uint8_t pub[ZT_RELAY_KEYLEN],
		     struct zt_relay_mac_key *k);
/* Wipe K. */
void zt_relay_mac_key_destroy(struct zt_relay_mac_key *k);

/*
 * Is the mac of MSG (a register, registered or keepalive of exactly LEN
 * bytes: its last 16) right under K? False for any other message.
 */
bool zt_relay_mac_ok(const uint8_t *msg, size_t len, const struct zt_relay_mac_key *k);

/*
 * Encoders write the whole message into OUT and return its length, or
 * -ENOSPC when OUTLEN is short, -EINVAL on arguments out of range. Those
 * of register, registered and keepalive compute the mac under K.
 */
ssize_t zt_relay_hello_encode(const uint8_t key[ZT_RELAY_KEYLEN], uint8_t *out, size_t outlen);
ssize_t zt_relay_challenge_encode(const struct zt_relay_challenge *m, uint8_t *out, size_t outlen);
/* ACCEPT: N keys, N <= ZT_RELAY_ACCEPT_MAX (may be NULL when N is 0). */
ssize_t zt_relay_register_encode(const uint8_t key[ZT_RELAY_KEYLEN],
				 const uint8_t cookie[ZT_RELAY_COOKIE_LEN],
				 const uint8_t (*accept)[ZT_RELAY_KEYLEN], size_t n,
				 const struct zt_relay_mac_key *k, uint8_t *out, size_t outlen);
ssize_t zt_relay_registered_encode(const struct zt_relay_registered *m,
				   const struct zt_relay_mac_key *k, uint8_t *out, size_t outlen);
ssize_t zt_relay_keepalive_encode(const uint8_t key[ZT_RELAY_KEYLEN],
				  const struct zt_relay_mac_key *k, uint8_t *out, size_t outlen);
/* TYPE ZT_RELAY_SEND or ZT_RELAY_RECV; LEN 1..ZT_RELAY_DATAGRAM_MAX. */
ssize_t zt_relay_fwd_encode(uint8_t type, const uint8_t key[ZT_RELAY_KEYLEN],
			    const uint8_t *datagram, size_t len, uint8_t *out, size_t outlen);
ssize_t zt_relay_error_encode(uint16_t code, uint8_t *out, size_t outlen);

/*
 * Parsers: 0 with M filled, or -EBADMSG unless MSG is exactly a well-formed
 * message of their type. The mac is not checked (zt_relay_mac_ok), nor the
 * cookie (zt_relay_cookie_ok).
 */
int zt_relay_hello_parse(const uint8_t *msg, size_t len, uint8_t key[ZT_RELAY_KEYLEN]);
int zt_relay_challenge_parse(const uint8_t *msg, size_t len, struct zt_relay_challenge *m);
int zt_relay_register_parse(const uint8_t *msg, size_t len, struct zt_relay_register *m);
int zt_relay_registered_parse(const uint8_t *msg, size_t len, struct zt_relay_registered *m);
int zt_relay_keepalive_parse(const uint8_t *msg, size_t len, uint8_t key[ZT_RELAY_KEYLEN]);
/* TYPE ZT_RELAY_SEND or ZT_RELAY_RECV. */
int zt_relay_fwd_parse(uint8_t type, const uint8_t *msg, size_t len, struct zt_relay_fwd *m);
int zt_relay_error_parse(const uint8_t *msg, size_t len, uint16_t *code);

/*
 * The relay's stateless cookie: the first 16 bytes of HMAC-SHA256(secret,
 * transport 'U'/'T' || source IP bytes || source port big-endian || peer key); an IPv4-mapped
 * source counts as the IPv4 one. The secret is replaced by a fresh random
 * one every ZT_RELAY_COOKIE_ROTATE_NS and the one before it is still
 * accepted, so a cookie lives between 120 and 240 s. Zero it to start.
 */
struct zt_relay_cookie_secret {
	uint8_t cur[32], prev[32];
	uint64_t born_ns;		/* CLOCK_MONOTONIC of cur */
	bool valid, has_prev;
};

/*
 * The cookie is bound to the transport too (issue 10 B3): HMAC over 'U' or
 * 'T' first, so a cookie a UDP source got never registers a TCP connection
 * from the same address and port, nor the other way round. TCP: whether
 * SRC is a TCP connection's peer. -EAFNOSUPPORT for a source not
 * IPv4/IPv6, -EIO without randomness.
 */
int zt_relay_cookie_make_on(struct zt_relay_cookie_secret *s, uint64_t now_ns,
			    const struct sockaddr *src, bool tcp, const uint8_t key[ZT_RELAY_KEYLEN],
			    uint8_t cookie[ZT_RELAY_COOKIE_LEN]);
/* Was COOKIE made for SRC over that transport and KEY under the current or the previous secret? */
bool zt_relay_cookie_ok_on(struct zt_relay_cookie_secret *s, uint64_t now_ns,
			   const struct sockaddr *src, bool tcp, const uint8_t key[ZT_RELAY_KEYLEN],
			   const uint8_t cookie[ZT_RELAY_COOKIE_LEN]);
/* The UDP ones (tcp false). */
int zt_relay_cookie_make(struct zt_relay_cookie_secret *s, uint64_t now_ns,
			 const struct sockaddr *src, const uint8_t key[ZT_RELAY_KEYLEN],
			 uint8_t cookie[ZT_RELAY_COOKIE_LEN]);
/* Was COOKIE made for SRC and KEY under the current or the previous secret? */
bool zt_relay_cookie_ok(struct zt_relay_cookie_secret *s, uint64_t now_ns,
			const struct sockaddr *src, const uint8_t key[ZT_RELAY_KEYLEN],
			const uint8_t cookie[ZT_RELAY_COOKIE_LEN]);
void zt_relay_cookie_secret_destroy(struct zt_relay_cookie_secret *s);

/* SS (AF_INET / AF_INET6, IPv4-mapped taken as IPv4) as an endpoint. -EAFNOSUPPORT otherwise. */
int zt_relay_endpoint_from_sockaddr(const struct sockaddr *sa, struct zt_endpoint *ep);

#endif
