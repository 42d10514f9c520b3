// SPDX-License-Identifier: GPL-2.0-only
/*
 * ctlstub_tool: a stand-in controller for testing nodes before the real
 * one (`ztgated controller`) is there: the node server
 * (controller/node_server.h) with a model of files.
 *
 *   ctlstub_tool --listen ADDR:PORT --key FILE --view PATTERN [--tokens N]
 *       prints "token TOKEN" N times (default 1), each good for one
 *       enrollment; the Nth node enrolled gets id N and the view read from
 *       PATTERN with "{id}" replaced by N (a JSON object: {"policy",
 *       "self", "relays"}), at revision 1. SIGHUP reads the views again,
 *       bumps the revision and pushes them. Every report from a node is
 *       printed as one JSON line {"report": WHAT, "id", "body"}.
 *       Runs until SIGINT/SIGTERM.
 *
 * Errors are one line on stderr; exit 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "controller/node_server.h"
#include "controlplane/token.h"
#include "lib/loop.h"
#include "tunnel/keys.h"
#include "tunnel/noise.h"

#define MAX_NODES 64

static struct {
	const char *pattern;
	uint64_t rev;
	unsigned int ntokens;
	char hashes[MAX_NODES][ZT_TOKEN_HASH_HEX_LEN + 1];
	bool used[MAX_NODES];
	uint8_t keys[MAX_NODES][ZT_KEY_LEN];
	unsigned int nodes;
	struct zt_node_server *srv;
} st = { .rev = 1, .ntokens = 1 };

static void fill(struct zt_node_ident *ident, unsigned int id)
{
	*ident = (struct zt_node_ident){ .kind = ZT_NODE_DEVICE, .id = id };
	snprintf(ident->name, sizeof(ident->name), "node%u", id);
}

static int s_enroll(void *ctx, const char *hash, const uint8_t pub[ZT_KEY_LEN], json_object *hello,
		    struct zt_node_ident *ident, char *err, size_t errlen)
{
	(void)ctx;
	(void)hello;
	for (unsigned int i = 0; i < st.ntokens; i++) {
		if (st.used[i] || strcmp(hash, st.hashes[i]) || st.nodes == MAX_NODES)
			continue;
		st.used[i] = true;
		memcpy(st.keys[st.nodes++], pub, ZT_KEY_LEN);
		fill(ident, st.nodes);
		return 0;
	}
	snprintf(err, errlen, "unknown or used token");
	return -EACCES;
}

static int s_lookup(void *ctx, const uint8_t pub[ZT_KEY_LEN], struct zt_node_ident *ident)
{
	(void)ctx;
	for (unsigned int i = 0; i < st.nodes; i++) {
		if (!memcmp(pub, st.keys[i], ZT_KEY_LEN)) {
			fill(ident, i + 1);
			return 0;
		}
	}
	return -ENOENT;
}

static json_object *s_view(void *ctx, const struct zt_node_ident *ident, uint64_t *rev)
{
	char path[4096];
	const char *at = strstr(st.pattern, "{id}");
	json_object *v;

	(void)ctx;
	if (at)
		snprintf(path, sizeof(path), "%.*s%llu%s", (int)(at - st.pattern), st.pattern,
			 (unsigned long long)ident->id, at + 4);
	else
		snprintf(path, sizeof(path), "%s", st.pattern);
	v = json_object_from_file(path);
	if (!v) {
		fprintf(stderr, "ctlstub_tool: cannot read view %s\n", path);
		v = json_object_new_object();
	}
	*rev = st.rev;
	return v;
}

static void s_report(void *ctx, const struct zt_node_ident *ident, const char *what, json_object *body)
{
	json_object *o = json_object_new_object();

	(void)ctx;
	json_object_object_add(o, "report", json_object_new_string(what));
	json_object_object_add(o, "id", json_object_new_int64((int64_t)ident->id));
	if (body)
		json_object_object_add(o, "body", json_object_get(body));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	fflush(stdout);
	json_object_put(o);
}

static const struct zt_node_server_ops ops = {
	.enroll = s_enroll, .lookup = s_lookup, .view = s_view, .report = s_report,
};

static void on_signal(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;

	(void)events;
	(void)arg;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		st.rev++;
		zt_node_server_changed(st.srv, NULL);
		return;
	}
	zt_loop_stop(loop);
}

static void tokens(const uint8_t priv[ZT_KEY_LEN])
{
	uint8_t pub[ZT_KEY_LEN];

	zt_noise_public_key(pub, priv);
	for (unsigned int i = 0; i < st.ntokens; i++) {
		char text[ZT_TOKEN_TEXT_LEN + 1];
		struct zt_token t;

		if (zt_token_new(&t, pub))
			exit(1);
		zt_token_encode(&t, text);
		zt_token_secret_hash(t.secret, st.hashes[i]);
		zt_token_wipe(&t);
		printf("token %s\n", text);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' }, { "key", required_argument, NULL, 'k' },
		{ "view", required_argument, NULL, 'v' }, { "tokens", required_argument, NULL, 't' },
		{ 0 },
	};
	struct zt_node_server_cfg cfg = { .ops = &ops };
	const char *listen = NULL, *key = NULL;
	struct zt_loop *loop;
	char err[512], vkey[4096];
	uint8_t vpub[ZT_VIEWSIG_PUB_LEN];
	sigset_t mask;
	int c, sfd;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': listen = optarg; break;
		case 'k': key = optarg; break;
		case 'v': st.pattern = optarg; break;
		case 't': st.ntokens = (unsigned int)atoi(optarg); break;
		default: return 2;
		}
	}
	if (!listen || !key || !st.pattern || !st.ntokens || st.ntokens > MAX_NODES) {
		fprintf(stderr, "usage: ctlstub_tool --listen ADDR:PORT --key FILE --view PATTERN "
			"[--tokens N]\n");
		return 2;
	}
	snprintf(vkey, sizeof(vkey), "%s.view", key);	/* its view signing key, kept across runs */
	if (zt_endpoint_parse(listen, &cfg.listen, err, sizeof(err)) ||
	    zt_key_load_private(key, cfg.static_priv, err, sizeof(err)) ||
	    zt_viewsig_key_file(vkey, vpub, cfg.view_priv, err, sizeof(err))) {
		fprintf(stderr, "ctlstub_tool: %s\n", err);
		return 2;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (zt_loop_new(&loop) || zt_loop_add(loop, sfd, EPOLLIN, on_signal, NULL))
		return 1;
	cfg.loop = loop;
	if (zt_node_server_open(&st.srv, &cfg, err, sizeof(err))) {
		fprintf(stderr, "ctlstub_tool: %s\n", err);
		return 1;
	}
	tokens(cfg.static_priv);
	zt_loop_run(loop);
	zt_node_server_close(st.srv);
	zt_loop_free(loop);
	close(sfd);
	return 0;
}
