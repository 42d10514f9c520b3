// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the STUN codec: the input is taken as a message a
 * relay or peer receives. Beyond "no crash", it checks the promises callers
 * rely on: text attributes lie inside the message, a parsed message's
 * integrity check reads only inside it, and the replies a Binding server
 * builds for whatever parsed come back through the parser intact.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "relay/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

/*
 * Not HMAC: BoringSSL is not instrumented, so this stand-in reads every
 * byte the codec hands over where ASan can see it.
 */
static int fake_hmac(const uint8_t *key, size_t keylen, const struct iovec *iov, size_t iovcnt,
		     uint8_t mac[ZT_STUN_HMAC_LEN])
{
	volatile uint8_t sink = 0;
	size_t i, j;

	(void)key, (void)keylen;
	for (i = 0; i < iovcnt; i++)
		for (j = 0; j < iov[i].iov_len; j++)
			sink ^= ((const uint8_t *)iov[i].iov_base)[j];	/* ASan sees each read */
	memset(mac, sink, ZT_STUN_HMAC_LEN);
	return 0;
}

static void check_text(const struct zt_stun_text *t, const uint8_t *msg, size_t size)
{
	if (t->p)
		check(t->p >= msg && t->len <= size && (size_t)(t->p - msg) <= size - t->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zt_stun_addr from = { .family = AF_INET6, .port = 1234 };
	uint8_t out[ZT_STUN_HEADER_LEN + 1024], *copy;
	struct zt_stun_msg m, r;
	ssize_t n;
	int ret;

	/* Exact-size copy, so ASan catches any read past the end. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);

	ret = zt_stun_parse(copy, size, &m);
	check(ret == 0 || ret == ZT_STUN_PARSE_UNKNOWN || ret == -EBADMSG);
	if (ret == -EBADMSG) {
		check(m.why != NULL);
		goto out;
	}
	check(zt_stun_looks_like(copy, size));
	check((ret == ZT_STUN_PARSE_UNKNOWN) == (m.n_unknown > 0));
	check_text(&m.username, copy, size);
	check_text(&m.software, copy, size);
	check_text(&m.realm, copy, size);
	check_text(&m.nonce, copy, size);
	check_text(&m.reason, copy, size);
	check(m.username.len <= ZT_STUN_USERNAME_MAX && m.software.len <= ZT_STUN_TEXT_MAX);
	if (m.has_error)
		check(m.error_code >= 300 && m.error_code <= 699);
	ret = zt_stun_check_integrity(copy, size, &m, (const uint8_t *)"k", 1, fake_hmac);
	check(m.has_integrity ? (ret == 0 || ret == -EBADMSG) : ret == -ENOENT);
	ret = zt_stun_check_integrity(copy, size, &m, (const uint8_t *)"k", 1, NULL);
	check(m.has_integrity ? (ret == 0 || ret == -EBADMSG) : ret == -ENOENT);

	/* What a relay would answer, read back. */
	if (m.has_xor_mapped)
		from = m.xor_mapped;
	n = zt_stun_build_binding_success(&m, &from, "ztgate", out, sizeof(out));
	check(n > 0);
	check(zt_stun_parse(out, (size_t)n, &r) == 0);
	check(r.has_xor_mapped && r.has_fingerprint && r.xor_mapped.port == from.port &&
	      !memcmp(r.xor_mapped.addr, from.addr, 16) && !memcmp(r.tid, m.tid, ZT_STUN_TID_LEN));
	n = zt_stun_build_binding_error(&m, m.n_unknown ? ZT_STUN_ERR_UNKNOWN_ATTRIBUTE :
					ZT_STUN_ERR_BAD_REQUEST, "no", NULL, out, sizeof(out));
	check(n > 0);
	check(zt_stun_parse(out, (size_t)n, &r) == 0);
	check(r.has_error && r.cls == ZT_STUN_CLASS_ERROR);
out:
	free(copy);
	return 0;
}
