// SPDX-License-Identifier: GPL-2.0-only
/*
 * Signed views (viewsig.h): BoringSSL's Ed25519 over the domain, the
 * revision and the view's hash (form 2) or its plain JSON text (form 1);
 * the controller's signing key file. No crypto of our own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/base64.h>
#include <openssl/curve25519.h>
#include <openssl/digest.h>
#include <openssl/hkdf.h>
#include <openssl/mem.h>

#include "controlplane/msg.h"
#include "controlplane/viewsig.h"

#define VIEWSIG_DOMAIN	"ztgate view 1"
#define VIEWSIG_DOMAIN2	"ztgate view 2"
#define SEED_LEN	32
#define SEED_B64_LEN	44

void zt_viewsig_keypair(uint8_t pub[ZT_VIEWSIG_PUB_LEN], uint8_t priv[ZT_VIEWSIG_PRIV_LEN])
{
	ED25519_keypair(pub, priv);
}

/* DOMAIN || 0x00 || REV || TEXT (TLEN bytes): the signed message (malloc'd, *LEN bytes), or NULL. */
static uint8_t *message_of(const char *domain, uint64_t rev, const char *text, size_t tlen,
			   size_t *len)
{
	size_t dlen = strlen(domain) + 1;
	uint8_t *m = malloc(dlen + 8 + tlen);

	if (!m)
		return NULL;
	memcpy(m, domain, dlen);	/* with its NUL */
	for (int i = 0; i < 8; i++)
		m[dlen + i] = (uint8_t)(rev >> (56 - 8 * i));
	memcpy(m + dlen + 8, text, tlen);
	*len = dlen + 8 + tlen;
	return m;
}

/* The signature of DOMAIN's message over TEXT at REV, base64, into OUT ("" if it failed). */
static void sign_msg(const uint8_t priv[ZT_VIEWSIG_PRIV_LEN], const char *domain, uint64_t rev,
		     const char *text, size_t len, char out[ZT_VIEWSIG_B64_LEN + 1])
{
	uint8_t sig[ZT_VIEWSIG_LEN];
	size_t mlen = 0;
	uint8_t *m = message_of(domain, rev, text, len, &mlen);

	out[0] = '\0';
	if (m && ED25519_sign(sig, m, mlen, priv))
		EVP_EncodeBlock((uint8_t *)out, sig, sizeof(sig));
	free(m);
}

void zt_viewsig_sign_text(const uint8_t priv[ZT_VIEWSIG_PRIV_LEN], uint64_t rev, const char *text,
			  size_t len, char out[ZT_VIEWSIG_B64_LEN + 1])
{
	sign_msg(priv, VIEWSIG_DOMAIN, rev, text, len, out);
}

void zt_viewsig_sign_hash(const uint8_t priv[ZT_VIEWSIG_PRIV_LEN], uint64_t rev, const char *hash,
			  char out[ZT_VIEWSIG_B64_LEN + 1])
{
	sign_msg(priv, VIEWSIG_DOMAIN2, rev, hash, ZT_CP_HASH_HEX_LEN, out);
}

void zt_viewsig_sign(const uint8_t priv[ZT_VIEWSIG_PRIV_LEN], uint64_t rev, json_object *view,
		     char out[ZT_VIEWSIG_B64_LEN + 1])
{
	const char *text = json_object_to_json_string_ext(view, JSON_C_TO_STRING_PLAIN);

	sign_msg(priv, VIEWSIG_DOMAIN, rev, text, strlen(text), out);
}

/* Does RAW sign DOMAIN's message over TEXT at REV under PUB? */
static bool verify_msg(const uint8_t pub[ZT_VIEWSIG_PUB_LEN], const uint8_t raw[ZT_VIEWSIG_LEN],
		       const char *domain, uint64_t rev, const char *text, size_t len)
{
	size_t mlen = 0;
	uint8_t *m = message_of(domain, rev, text, len, &mlen);
	bool ok = m && ED25519_verify(m, mlen, raw, pub) == 1;

	free(m);
	return ok;
}

bool zt_viewsig_verify_text(const uint8_t pub[ZT_VIEWSIG_PUB_LEN], uint64_t rev, const char *text,
			    size_t len, const char *hash, const char *sig)
{
	uint8_t raw[ZT_VIEWSIG_LEN + 3];
	size_t rlen = 0;

	if (!sig || strlen(sig) != ZT_VIEWSIG_B64_LEN ||
	    !EVP_DecodeBase64(raw, &rlen, sizeof(raw), (const uint8_t *)sig, strlen(sig)) ||
	    rlen != ZT_VIEWSIG_LEN)
		return false;
	return verify_msg(pub, raw, VIEWSIG_DOMAIN2, rev, hash, ZT_CP_HASH_HEX_LEN) ||
	       verify_msg(pub, raw, VIEWSIG_DOMAIN, rev, text, len);
}

bool zt_viewsig_verify(const uint8_t pub[ZT_VIEWSIG_PUB_LEN], uint64_t rev, json_object *view,
		       const char *sig)
{
	char hash[ZT_CP_HASH_HEX_LEN + 1];
	const char *text = json_object_to_json_string_ext(view, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(text);

	zt_cp_view_hash_text(text, len, hash);
	return zt_viewsig_verify_text(pub, rev, text, len, hash, sig);
}

void zt_viewsig_pub_to_base64(const uint8_t pub[ZT_VIEWSIG_PUB_LEN],
			      char out[ZT_VIEWSIG_PUB_B64_LEN + 1])
{
	EVP_EncodeBlock((uint8_t *)out, pub, ZT_VIEWSIG_PUB_LEN);
}

int zt_viewsig_pub_from_base64(const char *text, uint8_t pub[ZT_VIEWSIG_PUB_LEN])
{
	uint8_t raw[ZT_VIEWSIG_PUB_LEN + 3];
	size_t len = 0;

	if (!text || strlen(text) != ZT_VIEWSIG_PUB_B64_LEN ||
	    !EVP_DecodeBase64(raw, &len, sizeof(raw), (const uint8_t *)text, strlen(text)) ||
	    len != ZT_VIEWSIG_PUB_LEN)
		return -EINVAL;
	memcpy(pub, raw, ZT_VIEWSIG_PUB_LEN);
	return 0;
}

/* A new key into PATH (O_EXCL, 0600): its seed in base64. */
static int key_create(const char *path, uint8_t pub[ZT_VIEWSIG_PUB_LEN],
		      uint8_t priv[ZT_VIEWSIG_PRIV_LEN], char *err, size_t errlen)
{
	char b64[SEED_B64_LEN + 2];
	int fd, ret = 0;
	ssize_t w;

	ED25519_keypair(pub, priv);
	EVP_EncodeBlock((uint8_t *)b64, priv, SEED_LEN);	/* the seed: priv's first half */
	strcat(b64, "\n");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	w = write(fd, b64, strlen(b64));
	if (w != (ssize_t)strlen(b64) || fsync(fd)) {
		ret = -EIO;
		snprintf(err, errlen, "writing %s: %s", path, strerror(w < 0 ? errno : EIO));
		unlink(path);
	}
	close(fd);
out:
	OPENSSL_cleanse(b64, sizeof(b64));
	return ret;
}

int zt_viewsig_key_file(const char *path, uint8_t pub[ZT_VIEWSIG_PUB_LEN],
			uint8_t priv[ZT_VIEWSIG_PRIV_LEN], char *err, size_t errlen)
{
	char buf[SEED_B64_LEN + 8];
	uint8_t seed[SEED_LEN + 3];
	size_t len = 0;
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return key_create(path, pub, priv, err, errlen);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	if (n != SEED_B64_LEN ||
	    !EVP_DecodeBase64(seed, &len, sizeof(seed), (const uint8_t *)buf, (size_t)n) ||
	    len != SEED_LEN) {
		snprintf(err, errlen, "%s: not a view signing key (base64 of 32 bytes)", path);
		ret = -EINVAL;
		goto out;
	}
	ED25519_keypair_from_seed(pub, priv, seed);
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(seed, sizeof(seed));
	return ret;
}

int zt_viewsig_key_derive(const uint8_t static_priv[32], uint8_t pub[ZT_VIEWSIG_PUB_LEN],
			  uint8_t priv[ZT_VIEWSIG_PRIV_LEN])
{
	static const char label[] = "ztgate view signing key v1";
	uint8_t seed[32];

	if (!HKDF(seed, sizeof(seed), EVP_sha256(), static_priv, 32, NULL, 0,
		  (const uint8_t *)label, sizeof(label) - 1))
		return -EIO;
	ED25519_keypair_from_seed(pub, priv, seed);
	OPENSSL_cleanse(seed, sizeof(seed));
	return 0;
}
