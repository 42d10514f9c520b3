// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the relay client's state machine
 * (daemon/relay/client.c): a fresh client per input, over UDP (the
 * datagrams go in through zt_relay_client_input, as the tunnel hands
 * them) or over TCP (byte 0 bit 0: the harness is the relay, listening on
 * loopback; the bytes go through the client's stream reader and its
 * length-prefix framing), fed a sequence of relay messages.
 *
 * Records: [op][len hi][len lo][len bytes]; op & 7 is the kind:
 *   0  the bytes as they are (TCP: on the stream as they are, framing too)
 *   1  challenge from this relay (our key; op & 8: the bytes' first 32 as
 *      the relay key), the cookie from the bytes
 *   2  registered (index, lifetime and observed endpoint from the bytes),
 *      with the right mac for this relay and the client's key
 *   3  recv from the key in the bytes' first 32, the rest the datagram
 *   4  error, its code from the bytes
 *   5  zt_relay_client_send to the key in the first 32 of the rest
 *   6  zt_relay_client_set_accept with the bytes as keys (32 each)
 *   7  the client's timer as if due (hello/register retries, keepalive)
 *      -- run through the loop, nothing faked: see below
 * Synthesised messages are framed on TCP. Invariants: everything the client
 * sends is a well-formed relay message (zt_relay_msg_type) within
 * ZT_RELAY_MSG_MAX, a datagram handed to recv lies inside the message it
 * came in, and the bytes the client queues stay bounded per record.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/addr.h"
#include "lib/loop.h"
#include "relay/client.h"
#include "relay/proto.h"
#include "tunnel/noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static struct zt_loop *loop;
static int listen_fd = -1;
static uint16_t listen_port;
static uint8_t relay_priv[32], relay_pub[32], client_priv[32], client_pub[32];
static struct zt_relay_mac_key mac_key;
static size_t sent_bytes;
static const uint8_t *cur_msg;
static size_t cur_len;

static void setup(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	check(zt_loop_new(&loop) == 0);
	memset(relay_priv, 0x5a, 32);
	memset(client_priv, 0x33, 32);
	zt_noise_public_key(relay_pub, relay_priv);
	zt_noise_public_key(client_pub, client_priv);
	check(zt_relay_mac_key(relay_priv, client_pub, &mac_key) == 0);
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	check(listen_fd >= 0);
	check(bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	check(listen(listen_fd, 16) == 0);
	check(getsockname(listen_fd, (struct sockaddr *)&a, &al) == 0);
	listen_port = ntohs(a.sin_port);
}

static void check_sent(const uint8_t *msg, size_t len)
{
	check(len <= ZT_RELAY_MSG_MAX);
	check(zt_relay_msg_type(msg, len) >= 0);
	sent_bytes += len;
}

static int udp_send(void *ctx, const uint8_t *d, size_t len, const struct sockaddr_storage *dst)
{
	(void)ctx, (void)dst;
	check_sent(d, len);
	return 0;
}

static void on_recv(void *ctx, struct zt_relay_client *rc, const uint8_t src[ZT_RELAY_KEY_LEN],
		    uint8_t *datagram, size_t len)
{
	(void)ctx, (void)rc, (void)src;
	check(len <= ZT_RELAY_DATAGRAM_MAX);
	if (cur_msg)	/* UDP: inside the datagram given */
		check(datagram >= cur_msg && datagram + len <= cur_msg + cur_len);
	if (len) {
		volatile uint8_t a = datagram[0], b = datagram[len - 1];

		(void)a, (void)b;
	}
}

static void on_registered(void *ctx, struct zt_relay_client *rc,
			  const struct sockaddr_storage *observed)
{
	(void)ctx, (void)rc;
	check(observed->ss_family == AF_INET || observed->ss_family == AF_INET6 ||
	      observed->ss_family == AF_UNSPEC);
}

/* TCP: what the client wrote, cut into frames and checked. */
static void tcp_drain(int fd, uint8_t *in, size_t *inlen)
{
	ssize_t n;

	while ((n = recv(fd, in + *inlen, 2 + ZT_RELAY_MSG_MAX - *inlen, MSG_DONTWAIT)) > 0) {
		size_t off = 0;

		*inlen += (size_t)n;
		while (*inlen - off >= 2) {
			size_t flen = (size_t)in[off] << 8 | in[off + 1];

			if (*inlen - off - 2 < flen)
				break;
			check_sent(in + off + 2, flen);
			off += 2 + flen;
		}
		memmove(in, in + off, *inlen - off);
		*inlen -= off;
	}
}

static void pump(int sfd, uint8_t *in, size_t *inlen)
{
	for (int i = 0; i < 16 && zt_loop_run_once(loop, 0) > 0; i++)
		;
	if (sfd >= 0)
		tcp_drain(sfd, in, inlen);
}

static size_t build(int kind, uint8_t op, const uint8_t *b, size_t n, uint8_t *out, size_t outlen)
{
	uint8_t buf[64] = { 0 };
	ssize_t m = -1;

	memcpy(buf, b, n < sizeof(buf) ? n : sizeof(buf));
	switch (kind) {
	case 1: {
		struct zt_relay_challenge ch;

		memcpy(ch.relay_key, (op & 8) ? buf : relay_pub, 32);
		memcpy(ch.cookie, buf + 32, sizeof(ch.cookie));
		m = zt_relay_challenge_encode(&ch, out, outlen);
		break;
	}
	case 2: {
		struct zt_relay_registered rd = { 0 };

		memcpy(&rd.index, buf, 4);
		memcpy(&rd.lifetime_s, buf + 4, 2);
		memcpy(rd.observed.addr, buf + 6, 16);
		rd.observed.family = (buf[22] & 1) ? AF_INET6 : AF_INET;
		if (rd.observed.family == AF_INET)
			zt_addr_from_v4(rd.observed.addr, htonl(0xc6336401 + buf[23]));
		rd.observed.port = (uint16_t)(buf[24] << 8 | buf[25]);
		m = zt_relay_registered_encode(&rd, &mac_key, out, outlen);
		break;
	}
	case 3:
		if (n < 32)
			return 0;
		m = zt_relay_fwd_encode(ZT_RELAY_RECV, b, b + 32, n - 32, out, outlen);
		break;
	case 4:
		m = zt_relay_error_encode((uint16_t)(buf[0] << 8 | buf[1]), out, outlen);
		break;
	}
	return m > 0 ? (size_t)m : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct zt_relay_client_ops ops = { .recv = on_recv,
							.registered = on_registered };
	static uint8_t out[2 + ZT_RELAY_MSG_MAX], in[2 + ZT_RELAY_MSG_MAX];
	struct zt_relay_client_cfg cfg = { .udp_send = udp_send };
	struct zt_relay_client *rc = NULL;
	char err[256], relay[32];
	size_t inlen = 0, off;
	int sfd = -1;
	bool tcp;

	if (!loop)
		setup();
	if (!size)
		return 0;
	tcp = data[0] & 1;
	snprintf(relay, sizeof(relay), "127.0.0.1:%u", tcp ? listen_port : 3478);
	cfg.relay = relay;
	cfg.tcp = tcp;
	memcpy(cfg.private_key, client_priv, 32);
	sent_bytes = 0;
	if (zt_relay_client_open(loop, &cfg, &ops, NULL, &rc, err, sizeof(err))) {
		fprintf(stderr, "relay client: %s\n", err);
		__builtin_trap();
	}
	if (tcp) {
		for (int i = 0; i < 100 && sfd < 0; i++) {
			sfd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (sfd < 0)
				zt_loop_run_once(loop, 1);
		}
		check(sfd >= 0);
		pump(sfd, in, &inlen);	/* connected: the hello */
	}
	for (off = 1; size - off >= 3;) {
		uint8_t op = data[off];
		size_t n = (size_t)data[off + 1] << 8 | data[off + 2], m;
		const uint8_t *b;
		int kind = op & 7;

		off += 3;
		if (n > size - off)
			n = size - off;
		b = data + off;
		off += n;
		sent_bytes = 0;
		if (kind == 5) {
			if (n >= 32)
				(void)zt_relay_client_send(rc, b, b + 32, n - 32);
		} else if (kind == 6) {
			(void)zt_relay_client_set_accept(rc, (const uint8_t (*)[32])b, n / 32);
		} else if (kind == 7) {
			pump(sfd, in, &inlen);
		} else {
			m = build(kind, op, b, n, out + 2, sizeof(out) - 2);
			if (!m) {
				memcpy(out + 2, b, n);
				m = n;
			}
			if (!tcp) {
				cur_msg = out + 2, cur_len = m;
				zt_relay_client_input(rc, out + 2, m);
				cur_msg = NULL;
			} else if (kind) {
				out[0] = (uint8_t)(m >> 8), out[1] = (uint8_t)m;
				(void)send(sfd, out, m + 2, MSG_NOSIGNAL | MSG_DONTWAIT);
			} else {
				(void)send(sfd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
			}
		}
		pump(sfd, in, &inlen);
		/* One record makes a bounded amount of output (a register, a send, a resend). */
		check(sent_bytes <= 4 * (2 + ZT_RELAY_MSG_MAX));
	}
	zt_relay_client_close(rc);
	if (sfd >= 0)
		close(sfd);
	return 0;
}
