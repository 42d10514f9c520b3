// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the controller's node port: the control-plane
 * connection (daemon/controlplane/conn.c: frames, the handshake, sealed
 * frames, reassembly, JSON) and the node server above it
 * (daemon/controller/node_server.c: hellos, tokens, the messages nodes
 * send). One server on loopback for the whole run; a new TCP connection
 * per input.
 *
 * Input: byte 0 picks the mode. Bit 0 clear: the rest goes on the stream as
 * it is (an unauthenticated peer: frame lengths, message 1). Bit 0 set: the
 * peer first completes a real handshake (bit 1: with a token secret in its
 * hello, which the fake model takes once per input), then records
 * [flags][len hi][len lo][len bytes] are sealed with the right counters and
 * sent as transport frames (flags as given: bad bits, messages split over
 * frames, unterminated ones). After each record the loop runs until idle and
 * the peer drains its socket. Invariants: no crash, ASan/UBSan clean.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "controller/node_server.h"
#include "controlplane/conn.h"
#include "controlplane/token.h"
#include "lib/bytes.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "tunnel/noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct zt_loop *loop;
static struct zt_node_server *srv;
static struct sockaddr_in addr;
static uint8_t ctl_priv[32], ctl_pub[32], node_priv[32], node_pub[32];
static bool token_used;

static int f_enroll(void *ctx, const char *hash, const uint8_t pub[ZT_KEY_LEN], json_object *hello,
		    struct zt_node_ident *ident, char *err, size_t errlen)
{
	(void)ctx;
	(void)hash;
	(void)pub;
	(void)hello;
	if (token_used) {
		snprintf(err, errlen, "used");
		return -EACCES;
	}
	token_used = true;
	*ident = (struct zt_node_ident){ .kind = ZT_NODE_DEVICE, .id = 1, .name = "fuzz" };
	return 0;
}

static int f_lookup(void *ctx, const uint8_t pub[ZT_KEY_LEN], struct zt_node_ident *ident)
{
	(void)ctx;
	if (memcmp(pub, node_pub, 32))
		return -ENOENT;
	*ident = (struct zt_node_ident){ .kind = ZT_NODE_DEVICE, .id = 1, .name = "fuzz" };
	return 0;
}

static json_object *f_view(void *ctx, const struct zt_node_ident *ident, uint64_t *rev)
{
	(void)ctx;
	(void)ident;
	*rev = 1;
	return json_tokener_parse("{\"policy\":{},\"self\":{\"kind\":\"device\"}}");
}

static void f_report(void *ctx, const struct zt_node_ident *ident, const char *what, json_object *body)
{
	(void)ctx;
	(void)ident;
	(void)what;
	(void)body;
}

static const struct zt_node_server_ops fops = {
	.enroll = f_enroll, .lookup = f_lookup, .view = f_view, .report = f_report,
};

static void init(void)
{
	struct zt_node_server_cfg cfg = { .ops = &fops };
	json_object *st;
	char err[256];

	zt_log_set_level("error");
	zt_noise_keypair(ctl_pub, ctl_priv);
	zt_noise_keypair(node_pub, node_priv);
	if (zt_loop_new(&loop) || zt_endpoint_parse("127.0.0.1:1", &cfg.listen, err, sizeof(err)))
		abort();
	cfg.listen.port = 0;
	cfg.loop = loop;
	memcpy(cfg.static_priv, ctl_priv, 32);
	if (zt_node_server_open(&srv, &cfg, err, sizeof(err)))
		abort();
	st = zt_node_server_status(srv);
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons((uint16_t)atoi(strrchr(json_object_get_string(
		json_object_object_get(st, "listen")), ':') + 1));
	json_object_put(st);
}

static void pump(int fd)
{
	uint8_t buf[65536];

	for (int i = 0; i < 64 && zt_loop_run_once(loop, 0) > 0; i++)
		;
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static void put(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t w = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w <= 0) {
			if (w < 0 && errno == EAGAIN) {
				pump(fd);
				continue;
			}
			return;
		}
		p += w;
		len -= (size_t)w;
	}
}

/* The handshake as a node; 0 and SESS, or -1 (the server refused). */
static int handshake(int fd, bool with_token, struct zt_noise_session *sess)
{
	const char *plain = "{\"role\":\"client\",\"hostname\":\"f\",\"version\":\"0\"}";
	const char *tok = "{\"role\":\"client\",\"token_secret\":"
			  "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}";
	const char *hello = with_token ? tok : plain;
	uint8_t msg[2 + 4096], payload[1024];
	struct zt_noise_handshake hs;
	ssize_t n, got = 0;

	if (zt_noise_handshake_init(&hs, ZT_NOISE_INITIATOR, (const uint8_t *)ZT_CP_PROLOGUE,
				    strlen(ZT_CP_PROLOGUE), node_priv, ctl_pub))
		return -1;
	n = zt_noise_write_message(&hs, (const uint8_t *)hello, strlen(hello), msg + 2, sizeof(msg) - 2);
	if (n < 0)
		return -1;
	zt_put_be16(msg, (uint16_t)n);
	put(fd, msg, 2 + (size_t)n);
	for (int i = 0; i < 64 && zt_loop_run_once(loop, 0) > 0; i++)
		;
	got = recv(fd, msg, 2, MSG_DONTWAIT);
	if (got == 2)
		got = recv(fd, msg + 2, zt_get_be16(msg) < sizeof(msg) - 2 ? zt_get_be16(msg) : 0,
			   MSG_DONTWAIT);
	if (got <= 0 || zt_noise_read_message(&hs, msg + 2, (size_t)got, payload,
					       sizeof(payload)) < 0 || zt_noise_split(&hs, sess)) {
		zt_noise_handshake_destroy(&hs);
		return -1;
	}
	return 0;
}

static void records(int fd, struct zt_noise_session *sess, const uint8_t *data, size_t size)
{
	static uint8_t frame[2 + ZT_CP_FRAME_MAX];
	uint64_t counter = 0;

	while (size >= 3) {
		size_t len = zt_get_be16(data + 1);
		ssize_t n;

		if (len > size - 3)
			len = size - 3;
		if (len > ZT_CP_FRAME_DATA)
			len = ZT_CP_FRAME_DATA;
		frame[2] = data[0];
		memcpy(frame + 3, data + 3, len);
		n = zt_noise_seal(&sess->send, counter++, NULL, 0, frame + 2, 1 + len, frame + 2,
				  sizeof(frame) - 2);
		if (n < 0)
			return;
		zt_put_be16(frame, (uint16_t)n);
		put(fd, frame, 2 + (size_t)n);
		pump(fd);
		data += 3 + len;
		size -= 3 + len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zt_noise_session sess;
	int fd;

	if (!loop)
		init();
	if (size < 1)
		return 0;
	token_used = false;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	pump(fd);
	if (!(data[0] & 1)) {
		put(fd, data + 1, size - 1);
		pump(fd);
	} else {
		memset(&sess, 0, sizeof(sess));
		if (handshake(fd, data[0] & 2, &sess) == 0)
			records(fd, &sess, data + 1, size - 1);
		zt_noise_session_destroy(&sess);
	}
	close(fd);
	pump(-1);
	return 0;
}
