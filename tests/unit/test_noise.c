// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests: Noise_IK_25519_ChaChaPoly_SHA256 against the cacophony vectors
 * (tests/vectors/noise-ik.json, read from the repository root as
 * `make test-unit` runs), and what forged, replayed and cut messages get.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "tunnel/noise.h"

#define VECTORS_PATH	"tests/vectors/noise-ik.json"
#define BUF_MAX		1024

struct blob {
	uint8_t b[BUF_MAX];
	size_t len;
};

static void unhex(const char *s, struct blob *out)
{
	size_t n = strlen(s);

	assert_int_equal(n % 2, 0);
	assert_true(n / 2 <= sizeof(out->b));
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int v;

		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out->b[i] = (uint8_t)v;
	}
	out->len = n / 2;
}

static void field(json_object *o, const char *key, struct blob *out)
{
	json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	assert_true(json_object_is_type(v, json_type_string));
	unhex(json_object_get_string(v), out);
}

static void key_field(json_object *o, const char *key, uint8_t k[ZT_NOISE_KEY_LEN])
{
	struct blob b;

	field(o, key, &b);
	assert_int_equal(b.len, ZT_NOISE_KEY_LEN);
	memcpy(k, b.b, ZT_NOISE_KEY_LEN);
}

/* The one vector of our protocol in the file. */
static json_object *load_vector(json_object **root)
{
	json_object *vectors, *v, *name, *src;

	*root = json_object_from_file(VECTORS_PATH);
	assert_non_null(*root);
	assert_true(json_object_object_get_ex(*root, "source", &src));
	assert_non_null(strstr(json_object_get_string(src), "cacophony"));
	assert_true(json_object_object_get_ex(*root, "vectors", &vectors));
	for (size_t i = 0; i < json_object_array_length(vectors); i++) {
		v = json_object_array_get_idx(vectors, i);
		assert_true(json_object_object_get_ex(v, "protocol_name", &name));
		if (!strcmp(json_object_get_string(name), ZT_NOISE_PROTOCOL_NAME))
			return v;
	}
	fail_msg("no %s vector in %s", ZT_NOISE_PROTOCOL_NAME, VECTORS_PATH);
	return NULL;
}

/* Both sides set up from the vector, ephemerals injected. */
struct pair {
	struct zt_noise_handshake ini, resp;
	uint8_t ini_pub[ZT_NOISE_KEY_LEN];
};

static void setup_pair(json_object *v, struct pair *p)
{
	struct blob ipro, rpro;
	uint8_t is[32], ie[32], irs[32], rs[32], re[32];

	field(v, "init_prologue", &ipro);
	field(v, "resp_prologue", &rpro);
	key_field(v, "init_static", is);
	key_field(v, "init_ephemeral", ie);
	key_field(v, "init_remote_static", irs);
	key_field(v, "resp_static", rs);
	key_field(v, "resp_ephemeral", re);
	zt_noise_public_key(p->ini_pub, is);

	assert_int_equal(zt_noise_handshake_init(&p->ini, ZT_NOISE_INITIATOR, ipro.b, ipro.len,
						 is, irs), 0);
	assert_int_equal(zt_noise_set_ephemeral(&p->ini, ie), 0);
	assert_int_equal(zt_noise_handshake_init(&p->resp, ZT_NOISE_RESPONDER, rpro.b, rpro.len,
						 rs, NULL), 0);
	assert_int_equal(zt_noise_set_ephemeral(&p->resp, re), 0);
}

static json_object *message(json_object *v, size_t i, struct blob *payload, struct blob *ct)
{
	json_object *msgs, *m;

	assert_true(json_object_object_get_ex(v, "messages", &msgs));
	assert_true(i < json_object_array_length(msgs));
	m = json_object_array_get_idx(msgs, i);
	field(m, "payload", payload);
	field(m, "ciphertext", ct);
	return m;
}

static void assert_blob(const uint8_t *got, size_t got_len, const struct blob *want)
{
	assert_int_equal(got_len, want->len);
	assert_memory_equal(got, want->b, want->len);
}

static void test_vector(void **state)
{
	json_object *root, *v, *msgs;
	struct pair p;
	struct zt_noise_session si, sr;
	struct blob pl, ct, hh;
	uint8_t out[BUF_MAX], back[BUF_MAX], key[32], h1[32], h2[32];
	uint64_t ini_n = 0, resp_n = 0;
	ssize_t n;

	(void)state;
	v = load_vector(&root);
	setup_pair(v, &p);

	/* -> e, es, s, ss */
	message(v, 0, &pl, &ct);
	n = zt_noise_write_message(&p.ini, pl.b, pl.len, out, sizeof(out));
	assert_int_equal(n, ZT_NOISE_MSG1_LEN(pl.len));
	assert_blob(out, (size_t)n, &ct);
	n = zt_noise_read_message(&p.resp, ct.b, ct.len, back, sizeof(back));
	assert_blob(back, (size_t)n, &pl);
	assert_int_equal(zt_noise_remote_static(&p.resp, key), 0);
	assert_memory_equal(key, p.ini_pub, 32);

	/* <- e, ee, se */
	message(v, 1, &pl, &ct);
	n = zt_noise_write_message(&p.resp, pl.b, pl.len, out, sizeof(out));
	assert_int_equal(n, ZT_NOISE_MSG2_LEN(pl.len));
	assert_blob(out, (size_t)n, &ct);
	n = zt_noise_read_message(&p.ini, ct.b, ct.len, back, sizeof(back));
	assert_blob(back, (size_t)n, &pl);

	assert_true(zt_noise_handshake_done(&p.ini));
	assert_true(zt_noise_handshake_done(&p.resp));
	field(v, "handshake_hash", &hh);
	zt_noise_handshake_hash(&p.ini, h1);
	zt_noise_handshake_hash(&p.resp, h2);
	assert_blob(h1, 32, &hh);
	assert_blob(h2, 32, &hh);

	assert_int_equal(zt_noise_split(&p.ini, &si), 0);
	assert_int_equal(zt_noise_split(&p.resp, &sr), 0);
	assert_memory_equal(si.hash, hh.b, 32);
	assert_memory_equal(sr.hash, hh.b, 32);

	/*
	 * Transport: the initiator sends the even messages, the responder the
	 * odd ones, each with its own counter from 0 (cacophony's order).
	 */
	assert_true(json_object_object_get_ex(v, "messages", &msgs));
	assert_true(json_object_array_length(msgs) > 2);
	for (size_t i = 2; i < json_object_array_length(msgs); i++) {
		bool from_ini = i % 2 == 0;
		struct zt_noise_session *tx = from_ini ? &si : &sr, *rx = from_ini ? &sr : &si;
		uint64_t nonce = from_ini ? ini_n++ : resp_n++;

		message(v, i, &pl, &ct);
		n = zt_noise_seal(&tx->send, nonce, NULL, 0, pl.b, pl.len, out, sizeof(out));
		assert_blob(out, (size_t)n, &ct);
		n = zt_noise_open(&rx->recv, nonce, NULL, 0, ct.b, ct.len, back, sizeof(back));
		assert_blob(back, (size_t)n, &pl);
	}

	zt_noise_session_destroy(&si);
	zt_noise_session_destroy(&sr);
	json_object_put(root);
}

/* Any flipped bit in message 1 is refused, and the responder is as before. */
static void test_tampered_msg1(void **state)
{
	json_object *root, *v;
	struct pair p;
	struct zt_noise_handshake saved;
	struct blob pl, ct;
	uint8_t m[BUF_MAX], back[BUF_MAX];

	(void)state;
	v = load_vector(&root);
	setup_pair(v, &p);
	message(v, 0, &pl, &ct);
	saved = p.resp;
	for (size_t i = 0; i < ct.len; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			memcpy(m, ct.b, ct.len);
			m[i] ^= (uint8_t)(1 << bit);
			assert_int_equal(zt_noise_read_message(&p.resp, m, ct.len, back,
							       sizeof(back)), -EBADMSG);
			assert_memory_equal(&p.resp, &saved, sizeof(saved));
		}
	}
	/* Cut short anywhere (or extended): refused too. */
	for (size_t len = 0; len < ct.len; len++)
		assert_int_equal(zt_noise_read_message(&p.resp, ct.b, len, back, sizeof(back)),
				 -EBADMSG);
	memcpy(m, ct.b, ct.len);
	m[ct.len] = 0;
	assert_int_equal(zt_noise_read_message(&p.resp, m, ct.len + 1, back, sizeof(back)),
			 -EBADMSG);
	assert_memory_equal(&p.resp, &saved, sizeof(saved));
	/* A payload buffer too small: -ENOSPC, nothing changed. */
	assert_int_equal(zt_noise_read_message(&p.resp, ct.b, ct.len, back, pl.len - 1), -ENOSPC);
	assert_memory_equal(&p.resp, &saved, sizeof(saved));

	/* The genuine message still goes through after all that. */
	assert_int_equal(zt_noise_read_message(&p.resp, ct.b, ct.len, back, sizeof(back)),
			 (ssize_t)pl.len);
	zt_noise_handshake_destroy(&p.ini);
	zt_noise_handshake_destroy(&p.resp);
	json_object_put(root);
}

static void test_tampered_msg2(void **state)
{
	json_object *root, *v;
	struct pair p;
	struct zt_noise_handshake saved;
	struct blob pl, ct;
	uint8_t m[BUF_MAX], back[BUF_MAX];

	(void)state;
	v = load_vector(&root);
	setup_pair(v, &p);
	message(v, 0, &pl, &ct);
	assert_true(zt_noise_write_message(&p.ini, pl.b, pl.len, m, sizeof(m)) > 0);
	assert_true(zt_noise_read_message(&p.resp, ct.b, ct.len, back, sizeof(back)) >= 0);
	message(v, 1, &pl, &ct);
	saved = p.ini;
	for (size_t i = 0; i < ct.len; i++) {
		memcpy(m, ct.b, ct.len);
		m[i] ^= 0x01;
		assert_int_equal(zt_noise_read_message(&p.ini, m, ct.len, back, sizeof(back)),
				 -EBADMSG);
		assert_memory_equal(&p.ini, &saved, sizeof(saved));
	}
	for (size_t len = 0; len < ct.len; len++)
		assert_int_equal(zt_noise_read_message(&p.ini, ct.b, len, back, sizeof(back)),
				 -EBADMSG);
	assert_memory_equal(&p.ini, &saved, sizeof(saved));
	/* Message 1 replayed at the initiator decodes as nothing. */
	message(v, 0, &pl, &ct);
	assert_int_equal(zt_noise_read_message(&p.ini, ct.b, ct.len, back, sizeof(back)),
			 -EBADMSG);
	message(v, 1, &pl, &ct);
	assert_int_equal(zt_noise_read_message(&p.ini, ct.b, ct.len, back, sizeof(back)),
			 (ssize_t)pl.len);
	zt_noise_handshake_destroy(&p.ini);
	zt_noise_handshake_destroy(&p.resp);
	json_object_put(root);
}

/* The initiator aims at another responder key, or at another prologue. */
static void test_wrong_responder(void **state)
{
	json_object *root, *v;
	struct pair p;
	struct zt_noise_handshake saved;
	struct blob pro;
	uint8_t is[32], other_priv[32], other_pub[32], m[BUF_MAX], back[BUF_MAX];
	ssize_t n;

	(void)state;
	v = load_vector(&root);
	setup_pair(v, &p);
	key_field(v, "init_static", is);
	field(v, "init_prologue", &pro);

	zt_noise_keypair(other_pub, other_priv);
	assert_int_equal(zt_noise_handshake_init(&p.ini, ZT_NOISE_INITIATOR, pro.b, pro.len,
						 is, other_pub), 0);
	n = zt_noise_write_message(&p.ini, (const uint8_t *)"hi", 2, m, sizeof(m));
	assert_int_equal(n, ZT_NOISE_MSG1_LEN(2));
	saved = p.resp;
	assert_int_equal(zt_noise_read_message(&p.resp, m, (size_t)n, back, sizeof(back)),
			 -EBADMSG);
	assert_memory_equal(&p.resp, &saved, sizeof(saved));
	assert_int_equal(zt_noise_remote_static(&p.resp, back), -EPROTO);

	/* Right key, other prologue. */
	key_field(v, "init_remote_static", other_pub);
	assert_int_equal(zt_noise_handshake_init(&p.ini, ZT_NOISE_INITIATOR,
						 (const uint8_t *)"other", 5, is, other_pub), 0);
	n = zt_noise_write_message(&p.ini, NULL, 0, m, sizeof(m));
	assert_int_equal(n, ZT_NOISE_MSG1_LEN(0));
	assert_int_equal(zt_noise_read_message(&p.resp, m, (size_t)n, NULL, 0), -EBADMSG);

	/* A low-order responder key (all zeros) is refused when writing. */
	memset(other_pub, 0, sizeof(other_pub));
	assert_int_equal(zt_noise_handshake_init(&p.ini, ZT_NOISE_INITIATOR, NULL, 0,
						 is, other_pub), 0);
	assert_int_equal(zt_noise_write_message(&p.ini, NULL, 0, m, sizeof(m)), -EINVAL);

	zt_noise_handshake_destroy(&p.ini);
	zt_noise_handshake_destroy(&p.resp);
	json_object_put(root);
}

/* Calls out of turn, and sizes at the edge. */
static void test_protocol_misuse(void **state)
{
	uint8_t a_priv[32], a_pub[32], b_priv[32], b_pub[32];
	static uint8_t big[ZT_NOISE_MSG_MAX + 1], out[ZT_NOISE_MSG_MAX + 1];
	struct zt_noise_handshake ini, resp;
	struct zt_noise_session s;
	ssize_t n;

	(void)state;
	zt_noise_keypair(a_pub, a_priv);
	zt_noise_keypair(b_pub, b_priv);
	/* The initiator needs the responder's key; the responder takes none. */
	assert_int_equal(zt_noise_handshake_init(&ini, ZT_NOISE_INITIATOR, NULL, 0, a_priv, NULL),
			 -EINVAL);
	assert_int_equal(zt_noise_handshake_init(&resp, ZT_NOISE_RESPONDER, NULL, 0, b_priv,
						 a_pub), -EINVAL);
	assert_int_equal(zt_noise_handshake_init(&ini, ZT_NOISE_INITIATOR, NULL, 0, a_priv, b_pub),
			 0);
	assert_int_equal(zt_noise_handshake_init(&resp, ZT_NOISE_RESPONDER, NULL, 0, b_priv, NULL),
			 0);

	assert_int_equal(zt_noise_write_message(&resp, NULL, 0, out, sizeof(out)), -EPROTO);
	assert_int_equal(zt_noise_read_message(&ini, big, 100, out, sizeof(out)), -EPROTO);
	assert_int_equal(zt_noise_split(&ini, &s), -EPROTO);
	/* Largest payload that fits in one message, and one byte more. */
	n = zt_noise_write_message(&ini, big, ZT_NOISE_MSG_MAX - ZT_NOISE_MSG1_LEN(0) + 1, out,
				   sizeof(out));
	assert_int_equal(n, -EMSGSIZE);
	assert_int_equal(zt_noise_write_message(&ini, big, 10, out, ZT_NOISE_MSG1_LEN(10) - 1),
			 -ENOSPC);
	n = zt_noise_write_message(&ini, big, ZT_NOISE_MSG_MAX - ZT_NOISE_MSG1_LEN(0), out,
				   sizeof(out));
	assert_int_equal(n, ZT_NOISE_MSG_MAX);
	assert_int_equal(zt_noise_write_message(&ini, NULL, 0, out, sizeof(out)), -EPROTO);
	assert_int_equal(zt_noise_set_ephemeral(&ini, a_priv), -EPROTO);
	/* Over the Noise limit: refused before anything is read. */
	assert_int_equal(zt_noise_read_message(&resp, big, sizeof(big), big, sizeof(big)),
			 -EBADMSG);
	assert_int_equal(zt_noise_read_message(&resp, out, (size_t)n, big, sizeof(big)),
			 ZT_NOISE_MSG_MAX - ZT_NOISE_MSG1_LEN(0));
	assert_int_equal(zt_noise_read_message(&resp, out, (size_t)n, big, sizeof(big)), -EPROTO);

	/* Message 2 with an empty payload and NULL buffers completes it. */
	n = zt_noise_write_message(&resp, NULL, 0, out, sizeof(out));
	assert_int_equal(n, ZT_NOISE_MSG2_LEN(0));
	assert_int_equal(zt_noise_read_message(&ini, out, (size_t)n, NULL, 0), 0);
	assert_int_equal(zt_noise_split(&ini, &s), 0);
	/* Split destroyed the handshake: no second session from it. */
	assert_int_equal(zt_noise_split(&ini, &s), -EPROTO);
	assert_memory_equal(s.remote_static, b_pub, 32);
	zt_noise_session_destroy(&s);
	zt_noise_session_destroy(&s);
	zt_noise_handshake_destroy(&resp);
}

/* A completed handshake with random keys: both sessions. */
static void handshake(struct zt_noise_session *si, struct zt_noise_session *sr)
{
	uint8_t a_priv[32], a_pub[32], b_priv[32], b_pub[32], m[256];
	struct zt_noise_handshake ini, resp;
	ssize_t n;

	zt_noise_keypair(a_pub, a_priv);
	zt_noise_keypair(b_pub, b_priv);
	assert_int_equal(zt_noise_handshake_init(&ini, ZT_NOISE_INITIATOR, (const uint8_t *)"zt",
						 2, a_priv, b_pub), 0);
	assert_int_equal(zt_noise_handshake_init(&resp, ZT_NOISE_RESPONDER, (const uint8_t *)"zt",
						 2, b_priv, NULL), 0);
	n = zt_noise_write_message(&ini, NULL, 0, m, sizeof(m));
	assert_int_equal(zt_noise_read_message(&resp, m, (size_t)n, NULL, 0), 0);
	n = zt_noise_write_message(&resp, NULL, 0, m, sizeof(m));
	assert_int_equal(zt_noise_read_message(&ini, m, (size_t)n, NULL, 0), 0);
	assert_int_equal(zt_noise_split(&ini, si), 0);
	assert_int_equal(zt_noise_split(&resp, sr), 0);
	assert_memory_equal(si->hash, sr->hash, 32);
	assert_memory_equal(sr->remote_static, a_pub, 32);
	explicit_bzero(a_priv, sizeof(a_priv));
	explicit_bzero(b_priv, sizeof(b_priv));
}

static void test_transport_tamper(void **state)
{
	struct zt_noise_session si, sr;
	const uint8_t ad[] = "hdr";
	uint8_t pt[100], ct[200], m[200], back[200];
	ssize_t n, r;

	(void)state;
	handshake(&si, &sr);
	for (size_t i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)i;
	n = zt_noise_seal(&si.send, 7, ad, 3, pt, sizeof(pt), ct, sizeof(ct));
	assert_int_equal(n, ZT_NOISE_SEALED_LEN(sizeof(pt)));
	assert_int_equal(zt_noise_open(&sr.recv, 7, ad, 3, ct, (size_t)n, back, sizeof(back)),
			 (ssize_t)sizeof(pt));
	assert_memory_equal(back, pt, sizeof(pt));

	/* Another counter, other associated data, the wrong direction's key. */
	assert_int_equal(zt_noise_open(&sr.recv, 8, ad, 3, ct, (size_t)n, back, sizeof(back)),
			 -EBADMSG);
	assert_int_equal(zt_noise_open(&sr.recv, 6, ad, 3, ct, (size_t)n, back, sizeof(back)),
			 -EBADMSG);
	assert_int_equal(zt_noise_open(&sr.recv, 7, ad, 2, ct, (size_t)n, back, sizeof(back)),
			 -EBADMSG);
	assert_int_equal(zt_noise_open(&si.recv, 7, ad, 3, ct, (size_t)n, back, sizeof(back)),
			 -EBADMSG);
	assert_int_equal(zt_noise_open(&sr.send, 7, ad, 3, ct, (size_t)n, back, sizeof(back)),
			 -EBADMSG);
	/* Every flipped bit, every truncation. */
	for (size_t i = 0; i < (size_t)n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(m, ct, (size_t)n);
			m[i] ^= (uint8_t)(1 << bit);
			r = zt_noise_open(&sr.recv, 7, ad, 3, m, (size_t)n, back, sizeof(back));
			assert_int_equal(r, -EBADMSG);
		}
	}
	for (size_t len = 0; len < (size_t)n; len++)
		assert_int_equal(zt_noise_open(&sr.recv, 7, ad, 3, ct, len, back, sizeof(back)),
				 -EBADMSG);
	/* The reserved nonce, a short output buffer, in-place use. */
	assert_int_equal(zt_noise_seal(&si.send, ZT_NOISE_NONCE_MAX, NULL, 0, pt, 1, m,
				       sizeof(m)), -EINVAL);
	assert_int_equal(zt_noise_open(&sr.recv, ZT_NOISE_NONCE_MAX, ad, 3, ct, (size_t)n, back,
				       sizeof(back)), -EBADMSG);
	assert_int_equal(zt_noise_seal(&si.send, 1, NULL, 0, pt, 10, m, 25), -ENOSPC);
	assert_int_equal(zt_noise_open(&sr.recv, 7, ad, 3, ct, (size_t)n, back, sizeof(pt) - 1),
			 -ENOSPC);
	memcpy(m, pt, sizeof(pt));
	n = zt_noise_seal(&sr.send, 0, NULL, 0, m, sizeof(pt), m, sizeof(m));
	assert_int_equal(zt_noise_open(&si.recv, 0, NULL, 0, m, (size_t)n, m, sizeof(m)),
			 (ssize_t)sizeof(pt));
	assert_memory_equal(m, pt, sizeof(pt));

	zt_noise_session_destroy(&si);
	zt_noise_session_destroy(&sr);
	assert_int_equal(zt_noise_seal(&si.send, 1, NULL, 0, pt, 1, m, sizeof(m)), -EINVAL);
}

/* The receive path as the data plane runs it: window check, open, accept. */
static ssize_t receive(struct zt_noise_session *s, struct zt_noise_replay *w, uint64_t nonce,
		       const uint8_t *ct, size_t len, uint8_t *out, size_t outlen)
{
	ssize_t n;

	if (!zt_noise_replay_check(w, nonce))
		return -EALREADY;
	n = zt_noise_open(&s->recv, nonce, NULL, 0, ct, len, out, outlen);
	if (n < 0)
		return n;
	if (!zt_noise_replay_accept(w, nonce))
		return -EALREADY;
	return n;
}

static void test_transport_replay(void **state)
{
	struct zt_noise_session si, sr;
	struct zt_noise_replay w;
	uint8_t ct[64], ct5[64], back[64], bad[64];
	ssize_t n, n5;

	(void)state;
	handshake(&si, &sr);
	zt_noise_replay_init(&w);

	n5 = zt_noise_seal(&si.send, 5, NULL, 0, (const uint8_t *)"five", 4, ct5, sizeof(ct5));
	assert_int_equal(receive(&sr, &w, 5, ct5, (size_t)n5, back, sizeof(back)), 4);
	/* The same datagram again: dropped. */
	assert_int_equal(receive(&sr, &w, 5, ct5, (size_t)n5, back, sizeof(back)), -EALREADY);
	/* Older ones arriving late are fine, once. */
	n = zt_noise_seal(&si.send, 0, NULL, 0, (const uint8_t *)"zero", 4, ct, sizeof(ct));
	assert_int_equal(receive(&sr, &w, 0, ct, (size_t)n, back, sizeof(back)), 4);
	assert_int_equal(receive(&sr, &w, 0, ct, (size_t)n, back, sizeof(back)), -EALREADY);

	/* A forgery with a far counter must not move the window. */
	memcpy(bad, ct5, (size_t)n5);
	bad[0] ^= 1;
	assert_int_equal(receive(&sr, &w, 1000000, bad, (size_t)n5, back, sizeof(back)),
			 -EBADMSG);
	n = zt_noise_seal(&si.send, 3, NULL, 0, (const uint8_t *)"3", 1, ct, sizeof(ct));
	assert_int_equal(receive(&sr, &w, 3, ct, (size_t)n, back, sizeof(back)), 1);

	/* The window: 8192 behind the top still works, past the window does not. */
	n = zt_noise_seal(&si.send, 20000, NULL, 0, (const uint8_t *)"t", 1, ct, sizeof(ct));
	assert_int_equal(receive(&sr, &w, 20000, ct, (size_t)n, back, sizeof(back)), 1);
	assert_int_equal(receive(&sr, &w, 5, ct5, (size_t)n5, back, sizeof(back)), -EALREADY);
	n = zt_noise_seal(&si.send, 20000 - 8192, NULL, 0, (const uint8_t *)"o", 1, ct,
			  sizeof(ct));
	assert_int_equal(receive(&sr, &w, 20000 - 8192, ct, (size_t)n, back, sizeof(back)), 1);
	assert_true(zt_noise_replay_check(&w, 20000 - ZT_NOISE_REPLAY_WINDOW + 1));
	assert_false(zt_noise_replay_check(&w, 20000 - ZT_NOISE_REPLAY_WINDOW));
	assert_false(zt_noise_replay_check(&w, ZT_NOISE_NONCE_MAX));

	zt_noise_session_destroy(&si);
	zt_noise_session_destroy(&sr);
}

/* The window against a plain set of every counter seen, over random traffic. */
static void test_replay_window_model(void **state)
{
	static uint8_t seen[1 << 24];
	struct zt_noise_replay w;
	uint64_t top = 0;
	bool any = false;

	(void)state;
	zt_noise_replay_init(&w);
	srand(1);
	for (int i = 0; i < 200000; i++) {
		uint64_t c;
		bool want, got;

		/* Mostly near the top, sometimes a jump ahead or far behind. */
		int r = rand() % 256;

		if (r == 0) {
			c = top + (uint64_t)(rand() % 17000);
		} else if (r < 32) {
			c = (uint64_t)rand() % (top + 1);
		} else {
			c = top + 40 - (uint64_t)(rand() % 80);
			if (c > top + 40)		/* wrapped below zero */
				c = 0;
		}
		if (c >= sizeof(seen))
			continue;
		want = !seen[c] && (!any || c > top || top - c < ZT_NOISE_REPLAY_WINDOW);
		got = zt_noise_replay_accept(&w, c);
		assert_int_equal(got, want);
		if (got) {
			seen[c] = 1;
			if (!any || c > top)
				top = c;
			any = true;
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector),
		cmocka_unit_test(test_tampered_msg1),
		cmocka_unit_test(test_tampered_msg2),
		cmocka_unit_test(test_wrong_responder),
		cmocka_unit_test(test_protocol_misuse),
		cmocka_unit_test(test_transport_tamper),
		cmocka_unit_test(test_transport_replay),
		cmocka_unit_test(test_replay_window_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
