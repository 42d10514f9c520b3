// SPDX-License-Identifier: GPL-2.0-only
/*
 * Remote admin (request.h, cli_remote_call): `ztgate admin ... --controller
 * HOST:PORT --api-key KEY` sends the admin request the control socket
 * would take to the controller's node port, over the node protocol
 * (controlplane/conn.h: Noise IK, our key a fresh one per run, the
 * controller's key pinned from the API key or --controller-key). The hello
 * says "role": "admin" and carries the key's secret, encrypted in message
 * 1; a refused key gets no reply byte, so all we can say then is that the
 * controller refused. One request, one reply, then the connection closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/base64.h>
#include <openssl/mem.h>
#include <openssl/rand.h>

#include "cli/request.h"
#include "controlplane/conn.h"
#include "controlplane/msg.h"
#include "controlplane/token.h"
#include "lib/addr.h"
#include "lib/clock.h"
#include "lib/loop.h"
#include "lib/version.h"
#include "tunnel/noise.h"

#define REMOTE_TIMEOUT_MS	15000

struct remote {
	struct zt_loop *loop;
	struct zt_cp_conn *c;
	json_object *req;		/* sent once established */
	json_object *reply;		/* the controller's answer */
	bool established, done;
	char why[256];
};

static void on_established(void *ctx, struct zt_cp_conn *c, json_object *accept)
{
	struct remote *r = ctx;
	json_object *m = json_object_new_object();
	int ret;

	(void)accept;
	r->established = true;
	json_object_object_add(m, "type", json_object_new_string("admin"));
	json_object_object_add(m, "request", json_object_get(r->req));
	ret = zt_cp_conn_send(c, m);
	json_object_put(m);
	if (ret) {
		snprintf(r->why, sizeof(r->why), "sending the request: %s", strerror(-ret));
		r->done = true;
	}
}

static void on_message(void *ctx, struct zt_cp_conn *c, json_object *m)
{
	struct remote *r = ctx;
	json_object *reply;

	(void)c;
	if (strcmp(zt_cp_msg_type(m), "admin_reply") ||
	    !json_object_object_get_ex(m, "reply", &reply) ||
	    !json_object_is_type(reply, json_type_object))
		return;
	r->reply = json_object_get(reply);
	r->done = true;
}

static void on_closed(void *ctx, struct zt_cp_conn *c, const char *reason)
{
	struct remote *r = ctx;

	zt_cp_conn_free(c);
	r->c = NULL;
	r->done = true;
	if (r->reply)
		return;
	if (!r->established)
		snprintf(r->why, sizeof(r->why), "the controller refused the session (a wrong, "
			 "expired or removed API key, or not this controller's key)");
	else
		snprintf(r->why, sizeof(r->why), "the controller closed the session: %s", reason);
}

static const struct zt_cp_conn_ops ops = {
	.established = on_established, .message = on_message, .closed = on_closed,
};

/* A TCP connection to HOST:PORT (an IP literal or a name): the fd, or -1 after WHY. */
static int dial(const char *hostport, char *why, size_t len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	const char *colon = strrchr(hostport, ':');
	char host[256];
	int fd = -1, one = 1;

	if (!colon || colon == hostport || (size_t)(colon - hostport) >= sizeof(host)) {
		snprintf(why, len, "invalid --controller '%.64s': expected HOST:PORT", hostport);
		return -1;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if (getaddrinfo(host, colon + 1, &hints, &res) || !res) {
		snprintf(why, len, "controller %.64s: cannot resolve '%.64s'", hostport, host);
		return -1;
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen)) {
			snprintf(why, len, "cannot reach the controller at %.64s: %s", hostport,
				 strerror(errno));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	/* Connected (blocking, simpler); the session runs non-blocking on the loop. */
	if (fd >= 0) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	}
	return fd;
}

/* The hello: an admin with the key's secret. */
static json_object *admin_hello(const struct zt_token *key)
{
	json_object *h = json_object_new_object();
	char b64[64];

	EVP_EncodeBlock((uint8_t *)b64, key->secret, ZT_TOKEN_SECRET_LEN);
	json_object_object_add(h, "role", json_object_new_string("admin"));
	json_object_object_add(h, "version", json_object_new_string(zt_version()));
	json_object_object_add(h, "api_key", json_object_new_string(b64));
	OPENSSL_cleanse(b64, sizeof(b64));
	return h;
}

/* json-c frees without wiping: the secret's string and the serialized hello. */
static void wipe_hello(json_object *h)
{
	char *p = (char *)json_object_to_json_string_ext(h, JSON_C_TO_STRING_PLAIN);

	OPENSSL_cleanse(p, strlen(p));
	p = (char *)json_object_get_string(json_object_object_get(h, "api_key"));
	OPENSSL_cleanse(p, strlen(p));
}

/* The key and the controller's public key from C: 0, or the exit code after one line. */
static int settle_keys(struct cli *c, struct zt_token *key)
{
	uint8_t pinned[ZT_KEY_LEN];
	char why[160];

	if (!c->api_key)
		return cli_usage_fail("--controller needs --api-key KEY (or $ZTGATE_API_KEY)");
	if (zt_apikey_decode(c->api_key, key, why, sizeof(why)))
		return cli_usage_fail("invalid --api-key: %s", why);
	if (!c->controller_key)
		return 0;
	if (zt_key_from_base64(c->controller_key, pinned, why, sizeof(why)))
		return cli_usage_fail("invalid --controller-key: %s", why);
	if (memcmp(pinned, key->controller_pub, ZT_KEY_LEN))
		return cli_usage_fail("the API key was made by another controller than "
				      "--controller-key's");
	return 0;
}

/* Run the session until the reply, a close or the timeout. */
static void run(struct remote *r)
{
	uint64_t deadline = zt_mono_ms() + REMOTE_TIMEOUT_MS;

	while (!r->done) {
		uint64_t now = zt_mono_ms();

		if (now >= deadline) {
			snprintf(r->why, sizeof(r->why), "no answer from the controller in %d s",
				 REMOTE_TIMEOUT_MS / 1000);
			break;
		}
		if (zt_loop_run_once(r->loop, 250) < 0)
			break;
		if (r->c && !r->done)
			zt_cp_conn_tick(r->c, zt_mono_ms());
	}
}

json_object *cli_remote_call(struct cli *c, json_object *req)
{
	struct remote r = { .req = req };
	struct zt_cp_conn_cfg cfg = { .role = ZT_NOISE_INITIATOR, .ops = &ops, .ctx = &r };
	struct zt_token key;
	int ret;

	ret = settle_keys(c, &key);
	if (ret) {
		json_object_put(req);
		return NULL;
	}
	cfg.fd = dial(c->controller, r.why, sizeof(r.why));
	if (cfg.fd < 0 || zt_loop_new(&r.loop)) {
		if (cfg.fd >= 0)
			close(cfg.fd);
		cli_fail("%s", r.why[0] ? r.why : "out of memory");
		goto out;
	}
	/* Our static key: a fresh one; the API key is what authenticates us. */
	RAND_bytes(cfg.static_priv, sizeof(cfg.static_priv));
	memcpy(cfg.remote_pub, key.controller_pub, ZT_KEY_LEN);
	cfg.loop = r.loop;
	cfg.hello = admin_hello(&key);
	cfg.now_ms = zt_mono_ms();
	ret = zt_cp_conn_open(&cfg, &r.c);
	OPENSSL_cleanse(cfg.static_priv, sizeof(cfg.static_priv));
	wipe_hello(cfg.hello);
	json_object_put(cfg.hello);
	if (ret) {
		cli_fail("controller session: %s", strerror(-ret));
		goto out;
	}
	run(&r);
	if (!r.reply)
		cli_fail("%s", r.why[0] ? r.why : "no answer from the controller");
out:
	if (r.c)
		zt_cp_conn_free(r.c);
	zt_loop_free(r.loop);
	zt_token_wipe(&key);
	json_object_put(req);
	return r.reply;
}
