/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Views signed by the controller: Ed25519 (BoringSSL's ED25519_keypair,
 * ED25519_sign, ED25519_verify; nothing hand-written). The controller keeps
 * its signing key in its state dir (ZT_VIEWSIG_KEY_FILE, mode 0600, made
 * at the first start) and sends the public key in the accept message
 * ("view_key"); a node pins it at enrollment next to the controller's
 * X25519 key (agent/agent.h, controller.json) and checks every view
 * against it before applying it, and again when it loads view.json.
 *
 * What is signed, two forms (a node takes either):
 *   2: "ztgate view 2" || 0x00 || REV (8 bytes, big-endian) || the view's
 *      hash (zt_cp_view_hash(): SHA-256 of the view's plain JSON text, 64
 *      hex digits). A connector's view at 10,000 devices is 1.5 MB: signing
 *      its hash costs microseconds where Ed25519 over the text (two SHA-512
 *      passes and a copy) cost 10-90 ms on the controller, and as much
 *      again on the node. The controller signs so for the nodes whose hello
 *      says "view_sig": 2.
 *   1: "ztgate view 1" || 0x00 || REV || the view's plain JSON text, the
 *      exact bytes zt_cp_view_hash() hashes: for nodes that do not say so
 *      (older agents), and in view.json files saved before.
 * The signature travels as base64 in the view message's "sig" and in
 * view.json's "sig".
 *
 * Callers: daemon/roles/controller.c (the key), daemon/controller/
 * node_server.c (signing), daemon/agent/ (verifying), tests.
 */
#ifndef ZT_CONTROLPLANE_VIEWSIG_H
#define ZT_CONTROLPLANE_VIEWSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define ZT_VIEWSIG_KEY_FILE	"view-signing.key"
#define ZT_VIEWSIG_PUB_LEN	32
#define ZT_VIEWSIG_PRIV_LEN	64	/* BoringSSL's form: seed || public key */
#define ZT_VIEWSIG_LEN		64
#define ZT_VIEWSIG_B64_LEN	88	/* base64 of 64 bytes, with padding */
#define ZT_VIEWSIG_PUB_B64_LEN	44

/* A fresh key pair. */
void zt_viewsig_keypair(uint8_t pub[ZT_VIEWSIG_PUB_LEN], uint8_t priv[ZT_VIEWSIG_PRIV_LEN]);

/*
 * The signing key in PATH (base64 of its 32-byte seed), made now (mode
 * 0600) if PATH does not exist. 0, or -errno with one line in ERR.
 */
int zt_viewsig_key_file(const char *path, uint8_t pub[ZT_VIEWSIG_PUB_LEN],
			uint8_t priv[ZT_VIEWSIG_PRIV_LEN], char *err, size_t errlen);

/*
 * The signing key derived from the controller's static X25519 private key
 * (HKDF-SHA256, its own label): controllers sharing --key (HA on one
 * database) sign alike with no second key file to copy, and a node's pinned
 * view key follows the controller key it already pins.
 */
int zt_viewsig_key_derive(const uint8_t static_priv[32], uint8_t pub[ZT_VIEWSIG_PUB_LEN],
			  uint8_t priv[ZT_VIEWSIG_PRIV_LEN]);

/* Form 1: the signature of VIEW at REV, base64, into OUT. */
void zt_viewsig_sign(const uint8_t priv[ZT_VIEWSIG_PRIV_LEN], uint64_t rev, json_object *view,
		     char out[ZT_VIEWSIG_B64_LEN + 1]);

/* The same over the view's plain serialization TEXT (LEN bytes): no second serialization. */
void zt_viewsig_sign_text(const uint8_t priv[ZT_VIEWSIG_PRIV_LEN], uint64_t rev, const char *text,
			  size_t len, char out[ZT_VIEWSIG_B64_LEN + 1]);

/* Form 2: the signature of the view of hash HASH (64 hex digits) at REV, base64, into OUT. */
void zt_viewsig_sign_hash(const uint8_t priv[ZT_VIEWSIG_PRIV_LEN], uint64_t rev, const char *hash,
			  char out[ZT_VIEWSIG_B64_LEN + 1]);

/* Does SIG (base64, may be NULL) sign VIEW at REV under PUB, in either form? */
bool zt_viewsig_verify(const uint8_t pub[ZT_VIEWSIG_PUB_LEN], uint64_t rev, json_object *view,
		       const char *sig);

/* The same for the view's TEXT (LEN bytes) whose HASH (zt_cp_view_hash_text) the caller has. */
bool zt_viewsig_verify_text(const uint8_t pub[ZT_VIEWSIG_PUB_LEN], uint64_t rev, const char *text,
			    size_t len, const char *hash, const char *sig);

/* PUB as base64 / back: 0 or -EINVAL. */
void zt_viewsig_pub_to_base64(const uint8_t pub[ZT_VIEWSIG_PUB_LEN],
			      char out[ZT_VIEWSIG_PUB_B64_LEN + 1]);
int zt_viewsig_pub_from_base64(const char *text, uint8_t pub[ZT_VIEWSIG_PUB_LEN]);

#endif
