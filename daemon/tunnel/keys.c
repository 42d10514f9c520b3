// SPDX-License-Identifier: GPL-2.0-only
/*
 * X25519 keys in base64 and private key files (keys.h): the CLI's keygen and
 * pubkey, every role's --key, the keys shown in stats and events.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/base64.h>
#include <openssl/mem.h>

#include "tunnel/keys.h"
#include "tunnel/noise.h"

_Static_assert(ZT_KEY_LEN == ZT_NOISE_KEY_LEN, "keys are X25519 keys");

void zt_key_to_base64(const uint8_t key[ZT_KEY_LEN], char out[ZT_KEY_B64_LEN + 1])
{
	EVP_EncodeBlock((uint8_t *)out, key, ZT_KEY_LEN);
}

int zt_key_from_base64(const char *text, uint8_t key[ZT_KEY_LEN], char *err, size_t errlen)
{
	uint8_t buf[ZT_KEY_LEN + 3];
	char again[ZT_KEY_B64_LEN + 1];
	size_t len = strlen(text), n = 0;

	if (len != ZT_KEY_B64_LEN) {
		/* Say how long it would be if it decodes at all: the likelier mistake. */
		if (len && len % 4 == 0 && len <= 64 &&
		    EVP_DecodeBase64(buf, &n, sizeof(buf), (const uint8_t *)text, len))
			snprintf(err, errlen, "invalid key: decodes to %zu bytes, a key is %d", n,
				 ZT_KEY_LEN);
		else
			snprintf(err, errlen,
				 "invalid key: expected %d base64 characters (32 bytes), got %zu",
				 ZT_KEY_B64_LEN, len);
		OPENSSL_cleanse(buf, sizeof(buf));
		return -EINVAL;
	}
	if (!EVP_DecodeBase64(buf, &n, sizeof(buf), (const uint8_t *)text, len) || n != ZT_KEY_LEN) {
		if (n && n != ZT_KEY_LEN)
			snprintf(err, errlen, "invalid key: decodes to %zu bytes, a key is %d", n,
				 ZT_KEY_LEN);
		else
			snprintf(err, errlen, "invalid key: not base64");
		OPENSSL_cleanse(buf, sizeof(buf));
		return -EINVAL;
	}
	/* Unused low bits of the last character set: another spelling of some key. */
	zt_key_to_base64(buf, again);
	if (strcmp(again, text)) {
		snprintf(err, errlen, "invalid key: not canonical base64 (did you mean %s?)", again);
		OPENSSL_cleanse(buf, sizeof(buf));
		OPENSSL_cleanse(again, sizeof(again));
		return -EINVAL;
	}
	memcpy(key, buf, ZT_KEY_LEN);
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(again, sizeof(again));
	return 0;
}

int zt_key_parse_private(const char *buf, size_t len, uint8_t priv[ZT_KEY_LEN], char *err,
			 size_t errlen)
{
	char text[ZT_KEY_B64_LEN + 1];
	int ret;

	if (len && buf[len - 1] == '\n')
		len--;
	if (len != ZT_KEY_B64_LEN || memchr(buf, '\0', len)) {
		snprintf(err, errlen,
			 "invalid private key: expected one line of %d base64 characters",
			 ZT_KEY_B64_LEN);
		return -EINVAL;
	}
	memcpy(text, buf, len);
	text[len] = '\0';
	ret = zt_key_from_base64(text, priv, err, errlen);
	OPENSSL_cleanse(text, sizeof(text));
	return ret;
}

int zt_key_load_private(const char *path, uint8_t priv[ZT_KEY_LEN], char *err, size_t errlen)
{
	char buf[ZT_KEY_B64_LEN + 8], sub[160];
	size_t len = 0;
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "key file %s: not a regular file", path);
		ret = -EINVAL;
		goto out;
	}
	/* Only root or we may have written it: another user could swap our identity. */
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errlen, "key file %s is owned by uid %u, not root or %u: chown it",
			 path, (unsigned int)st.st_uid, (unsigned int)geteuid());
		ret = -EACCES;
		goto out;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen,
			 "key file %s is accessible by group or others (mode %04o): chmod 600 it",
			 path, (unsigned int)(st.st_mode & 07777));
		ret = -EACCES;
		goto out;
	}
	/* One byte more than a key and its newline, so a longer file is seen as such. */
	while (len < sizeof(buf)) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	ret = zt_key_parse_private(buf, len, priv, sub, sizeof(sub));
	if (ret)
		snprintf(err, errlen, "key file %s: %s", path, sub);
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return ret;
}

int zt_key_write_private(const char *path, const uint8_t priv[ZT_KEY_LEN], char *err,
			 size_t errlen)
{
	char text[ZT_KEY_B64_LEN + 2];
	size_t len, off = 0;
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		ret = -errno;
		if (errno == EEXIST)
			snprintf(err, errlen, "%s already exists: refusing to overwrite a key", path);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	zt_key_to_base64(priv, text);
	len = strlen(text);
	text[len++] = '\n';
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			ret = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	OPENSSL_cleanse(text, sizeof(text));
	if (ret) {
		snprintf(err, errlen, "writing %s: %s", path, strerror(-ret));
		unlink(path);
	}
	return ret;
}

int zt_key_generate_file(const char *path, uint8_t pub[ZT_KEY_LEN], char *err, size_t errlen)
{
	uint8_t priv[ZT_KEY_LEN], p[ZT_KEY_LEN];
	int ret;

	zt_noise_keypair(p, priv);
	ret = zt_key_write_private(path, priv, err, errlen);
	OPENSSL_cleanse(priv, sizeof(priv));
	if (!ret)
		memcpy(pub, p, ZT_KEY_LEN);
	return ret;
}
