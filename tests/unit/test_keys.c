// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests: base64 keys, private key files (mode, exclusivity), endpoints. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "lib/addr.h"
#include "tunnel/keys.h"
#include "tunnel/noise.h"

static char err[512];
static char dir[] = "/tmp/zt-keys-XXXXXX";

static void expect_bad_key(const char *text, const char *part)
{
	uint8_t key[ZT_KEY_LEN];

	err[0] = '\0';
	assert_int_equal(zt_key_from_base64(text, key, err, sizeof(err)), -EINVAL);
	if (!strstr(err, part))
		fail_msg("'%s': error '%s' does not mention '%s'", text, err, part);
	assert_null(strchr(err, '\n'));
}

static void test_base64_roundtrip(void **state)
{
	uint8_t key[ZT_KEY_LEN], back[ZT_KEY_LEN];
	char text[ZT_KEY_B64_LEN + 1];
	int i, round;

	(void)state;
	/* RFC 4648 alphabet, known answer: 32 zero bytes. */
	memset(key, 0, sizeof(key));
	zt_key_to_base64(key, text);
	assert_string_equal(text, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	for (round = 0; round < 64; round++) {
		for (i = 0; i < ZT_KEY_LEN; i++)
			key[i] = (uint8_t)(round * 37 + i * 11);
		zt_key_to_base64(key, text);
		assert_int_equal(strlen(text), ZT_KEY_B64_LEN);
		assert_int_equal(zt_key_from_base64(text, back, err, sizeof(err)), 0);
		assert_memory_equal(key, back, ZT_KEY_LEN);
	}
}

static void test_base64_strict(void **state)
{
	(void)state;
	/* 31 and 33 bytes: the length is what is wrong, and the message says so. */
	expect_bad_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", "decodes to 31 bytes");
	expect_bad_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "decodes to 33 bytes");
	expect_bad_key("", "got 0");
	expect_bad_key("short", "got 5");
	expect_bad_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!=", "not base64");
	expect_bad_key(" AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "not base64");
	/* The last character's unused bits set: a second spelling of the zero key. */
	expect_bad_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=", "not canonical");
}

static void path_in_dir(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_key_files(void **state)
{
	uint8_t pub[ZT_KEY_LEN], priv[ZT_KEY_LEN], derived[ZT_KEY_LEN];
	char path[256], text[ZT_KEY_B64_LEN + 1], before[128], after[128];
	struct stat st;
	FILE *f;

	(void)state;
	path_in_dir(path, sizeof(path), "k1");
	assert_int_equal(zt_key_generate_file(path, pub, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, ZT_KEY_B64_LEN + 1);

	/* The file's private key gives the public key keygen reported. */
	assert_int_equal(zt_key_load_private(path, priv, err, sizeof(err)), 0);
	zt_noise_public_key(derived, priv);
	assert_memory_equal(derived, pub, ZT_KEY_LEN);

	/* Never overwritten: the old key stays, byte for byte. */
	f = fopen(path, "r");
	assert_non_null(fgets(before, sizeof(before), f));
	fclose(f);
	assert_int_equal(zt_key_generate_file(path, pub, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "refusing to overwrite"));
	f = fopen(path, "r");
	assert_non_null(fgets(after, sizeof(after), f));
	fclose(f);
	assert_string_equal(before, after);

	/* Readable by group or others: refused, with the fix in the message. */
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(zt_key_load_private(path, priv, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "chmod 600"));
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(zt_key_load_private(path, priv, err, sizeof(err)), -EACCES);
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(zt_key_load_private(path, priv, err, sizeof(err)), 0);
	/* A11: owned by another user (who could swap our identity): refused. */
	if (geteuid() == 0) {
		assert_int_equal(chown(path, 65534, 65534), 0);
		assert_int_equal(zt_key_load_private(path, priv, err, sizeof(err)), -EACCES);
		assert_non_null(strstr(err, "owned by uid 65534"));
		assert_int_equal(chown(path, 0, 0), 0);
		assert_int_equal(zt_key_load_private(path, priv, err, sizeof(err)), 0);
	}
	unlink(path);

	/* Without the final newline, as some editors save it: fine. Anything more: not. */
	zt_key_to_base64(pub, text);
	path_in_dir(path, sizeof(path), "k2");
	write_file(path, text, 0600);
	assert_int_equal(zt_key_load_private(path, priv, err, sizeof(err)), 0);
	assert_memory_equal(priv, pub, ZT_KEY_LEN);
	snprintf(before, sizeof(before), "%s\n\n", text);
	write_file(path, before, 0600);
	assert_int_equal(zt_key_load_private(path, priv, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "one line"));
	write_file(path, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n", 0600);
	assert_int_equal(zt_key_load_private(path, priv, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, path));
	unlink(path);

	path_in_dir(path, sizeof(path), "missing");
	assert_int_equal(zt_key_load_private(path, priv, err, sizeof(err)), -ENOENT);
	assert_int_equal(zt_key_load_private(dir, priv, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
}

static void endpoint_ok(const char *in, const char *want, int family, unsigned int port)
{
	struct zt_endpoint ep;
	struct sockaddr_storage ss;
	char out[64];

	assert_int_equal(zt_endpoint_parse(in, &ep, err, sizeof(err)), 0);
	zt_endpoint_format(&ep, out, sizeof(out));
	assert_string_equal(out, want);
	assert_int_equal(ep.family, family);
	assert_int_equal(ep.port, port);
	if (family == AF_INET) {
		assert_int_equal(zt_endpoint_to_sockaddr(&ep, &ss), sizeof(struct sockaddr_in));
		assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), port);
	} else {
		assert_int_equal(zt_endpoint_to_sockaddr(&ep, &ss), sizeof(struct sockaddr_in6));
	}
}

static void endpoint_bad(const char *in, const char *part)
{
	struct zt_endpoint ep;

	assert_int_equal(zt_endpoint_parse(in, &ep, err, sizeof(err)), -EINVAL);
	if (!strstr(err, part))
		fail_msg("'%s': error '%s' does not mention '%s'", in, err, part);
}

static void test_endpoints(void **state)
{
	(void)state;
	endpoint_ok("192.0.2.1:51820", "192.0.2.1:51820", AF_INET, 51820);
	endpoint_ok("[2001:DB8::0001]:1", "[2001:db8::1]:1", AF_INET6, 1);
	endpoint_ok("[::ffff:192.0.2.7]:65535", "192.0.2.7:65535", AF_INET, 65535);
	endpoint_bad("192.0.2.1", "expected IPv4:PORT");
	endpoint_bad("2001:db8::1:51820", "[IPv6]:PORT");
	endpoint_bad("[2001:db8::1]51820", "expected");
	endpoint_bad("gw.example.com:51820", "expected");
	endpoint_bad("192.0.2.1:0", "1-65535");
	endpoint_bad("192.0.2.1:65536", "1-65535");
	endpoint_bad("192.0.2.1:", "1-65535");
	endpoint_bad("192.0.2.1:+80", "1-65535");
	endpoint_bad("[192.0.2.1]:80", "expected");
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_roundtrip),
		cmocka_unit_test(test_base64_strict),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_endpoints),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
