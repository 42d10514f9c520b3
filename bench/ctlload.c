// SPDX-License-Identifier: GPL-2.0-only
/*
 * ctlload (bench/controller.sh): N light nodes in one process against a
 * real controller (`ztgated controller`), each speaking the real node
 * protocol through controlplane/conn.h as an agent does: it enrolls with
 * its token (a fresh X25519 key per node), receives views and answers each
 * with "applied" (rev, hash), answers pings, reconnects (by key) if its
 * connection closes. It applies nothing: it records when each view came.
 * Its hello says "view_delta": 1 (connectors' views as deltas, delta.h)
 * unless --whole.
 *
 *   ctlload --connect IP:PORT --tokens FILE [--parallel P] [--time S]
 *           [--spread] [--verify] [--save DIR] [--whole]
 *
 * FILE holds one token per line (other lines ignored; "connector TOKEN": a
 * connector's, whose hello says so, as the controller wants). At most P nodes are
 * in their handshake at once (default 64); --spread binds node i to its own
 * 127.x.y.z source (the controller admits at most 8 handshakes from one
 * address). --verify checks each view's hash as the agent does, keeping
each node's view text to apply deltas to (a delta that does not give its
hash, or whose base it does not hold, is answered with "view_request",
as the agent does). --save DIR
 * appends each view node IDX receives to DIR/IDX.views as "T_NS VIEW_JSON"
 * (a test reads what a node was told, and when). The process
 * stops by itself after S seconds (default 300), or on SIGINT/SIGTERM.
 *
 * Output on stdout, one line each (flushed every 100 ms):
 *   ready N MS            every node has its first view, MS after start
 *   view IDX KIND ID REV T_NS   a view received (T_NS: CLOCK_REALTIME ns)
 *   check IDX KIND whole|delta BYTES CHECK_US PARSE_US   with --verify: the
 *                         message's size, the time to the checked text
 *                         (whole: serialize and hash; delta: apply and hash),
 *                         and to parse a message of that text (what the
 *                         connection did before: timed again on a copy);
 *                         once every node is ready
 *   closed IDX REASON     a connection closed (the node reconnects in 1 s)
 *   stats connected C views V closed X   every 5 s, and at the end
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/base64.h>

#include "controlplane/conn.h"
#include "controlplane/delta.h"
#include "controlplane/msg.h"
#include "controlplane/token.h"
#include "lib/clock.h"
#include "lib/loop.h"
#include "tunnel/noise.h"

#define TICK_MS		100

struct lnode {
	unsigned int idx;
	struct zt_token tok;
	uint8_t priv[ZT_KEY_LEN];
	struct zt_cp_conn *c;
	int connect_fd;			/* while the TCP connect runs */
	bool enrolled, established, has_view, handshaking;
	uint64_t retry_ms;		/* reconnect at (0: not waiting) */
	uint64_t id;
	char kind;			/* 'c' connector, 'd' device */
	char *text;			/* with --verify or --save: the view held */
	size_t len;
	uint64_t rev;
	char hash[ZT_CP_HASH_HEX_LEN + 1];
};

static struct {
	struct zt_loop *loop;
	struct sockaddr_in dst;
	struct lnode *nodes;
	unsigned int n, next, handshaking, parallel, with_view, connected;
	unsigned long views, closed;
	bool spread, verify, ready_said, whole;
	const char *save_dir;
	uint64_t start_ms, end_ms, last_stats_ms;
} L = { .parallel = 64 };

static void start_connect(struct lnode *nd);

static void node_failed(struct lnode *nd, const char *why)
{
	if (nd->handshaking) {
		nd->handshaking = false;
		L.handshaking--;
	}
	if (nd->established)
		L.connected--;
	nd->established = false;
	nd->c = NULL;
	L.closed++;
	printf("closed %u %s\n", nd->idx, why);
	nd->retry_ms = zt_mono_ms() + 1000;
}

static void on_established(void *ctx, struct zt_cp_conn *c, json_object *accept)
{
	struct lnode *nd = ctx;
	const char *kind = zt_cp_msg_str(accept, "kind");

	(void)c;
	nd->handshaking = false;
	L.handshaking--;
	nd->established = nd->enrolled = true;
	L.connected++;
	zt_cp_msg_u64(accept, "id", &nd->id);
	nd->kind = kind && !strcmp(kind, "connector") ? 'c' : 'd';
}

/* With --save: node ND's view TEXT, received at T, appended to DIR/IDX.views. */
static void save_view(const struct lnode *nd, const char *text, uint64_t t)
{
	char path[512];
	json_object *view;
	FILE *f;

	if (!L.save_dir || !(view = json_tokener_parse(text)))
		return;
	snprintf(path, sizeof(path), "%s/%u.views", L.save_dir, nd->idx);
	f = fopen(path, "a");
	if (!f) {
		fprintf(stderr, "ctlload: %s: %s\n", path, strerror(errno));
		return;
	}
	fprintf(f, "%llu %s\n", (unsigned long long)t,
		json_object_to_json_string_ext(view, JSON_C_TO_STRING_PLAIN |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
	fclose(f);
	json_object_put(view);
}

static uint64_t usec_since(uint64_t t0)
{
	return (zt_mono_ns() - t0) / 1000;
}

/* A delta ND cannot take (WHY): ask for the view whole, as the agent does. */
static void view_request(struct lnode *nd, struct zt_cp_conn *c, uint64_t rev, const char *why)
{
	json_object *m = json_object_new_object();

	printf("request %u %llu %s\n", nd->idx, (unsigned long long)rev, why);
	json_object_object_add(m, "type", json_object_new_string("view_request"));
	json_object_object_add(m, "rev", json_object_new_int64((int64_t)rev));
	json_object_object_add(m, "error", json_object_new_string(why));
	zt_cp_conn_send(c, m);
	json_object_put(m);
}

/*
 * Message M's view text, checked against HASH (malloc'd, *LEN bytes), as an
 * agent gets it: a whole view's serialization, or a delta applied to the
 * text ND holds. NULL: not this node's base, or not its hash (*WHY).
 */
static char *view_text_of(struct lnode *nd, json_object *m, bool delta, const char *hash,
			  size_t *len, const char **why)
{
	char mine[ZT_CP_HASH_HEX_LEN + 1], *text = NULL;
	const char *base = zt_cp_msg_str(m, "base");
	json_object *x;

	*why = "malformed";
	if (!delta && json_object_object_get_ex(m, "view", &x)) {
		text = strdup(json_object_to_json_string_ext(x, JSON_C_TO_STRING_PLAIN));
		*len = text ? strlen(text) : 0;
	} else if (delta && (!nd->text || !base || strcmp(base, nd->hash))) {
		*why = "not the base held";
	} else if (delta && json_object_object_get_ex(m, "edits", &x) &&
		   zt_cp_delta_apply(nd->text, nd->len, x, &text, len)) {
		text = NULL;
	}
	if (!text)
		return NULL;
	zt_cp_view_hash_text(text, *len, mine);
	if (strcmp(mine, hash)) {
		*why = "badhash";
		free(text);
		return NULL;
	}
	return text;
}

/* With --verify or --save: M's view text checked and held. -EINVAL: answered with a request. */
static int check_view(struct lnode *nd, struct zt_cp_conn *c, json_object *m, bool delta,
		      const char *hash, uint64_t rev, uint64_t t)
{
	uint64_t t0 = zt_mono_ns(), check_us, parse_us;
	const char *why, *mt;
	json_object *again;
	size_t len, mlen;
	char *text = view_text_of(nd, m, delta, hash, &len, &why);

	if (!text) {
		view_request(nd, c, rev, why);
		return -EINVAL;
	}
	check_us = usec_since(t0);
	/*
	 * The connection parsed this message before: time a parse of the same
	 * bytes, once every node is ready (not in the enrollment storm).
	 */
	if (L.ready_said) {
		mt = delta ? json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN) : text;
		mlen = delta ? strlen(mt) : len;
		t0 = zt_mono_ns();
		again = json_tokener_parse(mt);
		parse_us = usec_since(t0);
		json_object_put(again);
		printf("check %u %c %s %zu %llu %llu\n", nd->idx, nd->kind, delta ? "delta" : "whole",
		       mlen, (unsigned long long)check_us, (unsigned long long)parse_us);
	}
	save_view(nd, text, t);
	free(nd->text);
	nd->text = text;
	nd->len = len;
	nd->rev = rev;
	memcpy(nd->hash, hash, sizeof(nd->hash));
	return 0;
}

/* A view (whole or a delta): record its time, check it if asked, answer "applied". */
static void on_message(void *ctx, struct zt_cp_conn *c, json_object *m)
{
	struct lnode *nd = ctx;
	const char *hash = zt_cp_msg_str(m, "hash"), *type = zt_cp_msg_type(m);
	bool delta = !strcmp(type, "view_delta");
	json_object *ack;
	uint64_t rev = 0, t = zt_real_ns();

	if ((strcmp(type, "view") && !delta) || !hash || zt_cp_msg_u64(m, "rev", &rev))
		return;
	if ((L.verify || L.save_dir) && check_view(nd, c, m, delta, hash, rev, t))
		return;
	printf("view %u %c %llu %llu %llu\n", nd->idx, nd->kind, (unsigned long long)nd->id,
	       (unsigned long long)rev, (unsigned long long)t);
	L.views++;
	if (!nd->has_view) {
		nd->has_view = true;
		L.with_view++;
	}
	ack = zt_cp_msg_applied(rev, hash);
	zt_cp_conn_send(c, ack);
	json_object_put(ack);
}

static void on_closed(void *ctx, struct zt_cp_conn *c, const char *reason)
{
	struct lnode *nd = ctx;

	zt_cp_conn_free(c);
	node_failed(nd, reason);
}

static const struct zt_cp_conn_ops conn_ops = {
	.established = on_established, .message = on_message, .closed = on_closed,
};

static json_object *make_hello(const struct lnode *nd)
{
	json_object *h = json_object_new_object();
	char b64[64], host[32];

	snprintf(host, sizeof(host), "load-%u", nd->idx);
	json_object_object_add(h, "role", json_object_new_string(nd->kind == 'c' ? "connector"
											  : "client"));
	json_object_object_add(h, "hostname", json_object_new_string(host));
	json_object_object_add(h, "version", json_object_new_string("ctlload"));
	json_object_object_add(h, "view_sig", json_object_new_int(2));	/* as an agent does */
	if (!L.whole)
		json_object_object_add(h, "view_delta", json_object_new_int(ZT_CP_DELTA_FORM));
	if (nd->text) {		/* the view held: a delta from it, or nothing if it is current */
		json_object *have = json_object_new_object();

		json_object_object_add(have, "rev", json_object_new_int64((int64_t)nd->rev));
		json_object_object_add(have, "hash", json_object_new_string(nd->hash));
		json_object_object_add(h, "have", have);
	}
	if (!nd->enrolled) {
		EVP_EncodeBlock((uint8_t *)b64, nd->tok.secret, ZT_TOKEN_SECRET_LEN);
		json_object_object_add(h, "token_secret", json_object_new_string(b64));
	}
	return h;
}

/* The TCP connect finished: start the session (message 1 goes out). */
static void on_connect(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct lnode *nd = arg;
	struct zt_cp_conn_cfg cfg = {
		.loop = loop, .fd = fd, .role = ZT_NOISE_INITIATOR, .ops = &conn_ops, .ctx = nd,
	};
	socklen_t sl = sizeof(int);
	int soerr = 0, one = 1, ret;

	(void)events;
	zt_loop_del(loop, fd);
	nd->connect_fd = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) || soerr) {
		close(fd);
		node_failed(nd, "connect failed");
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memcpy(cfg.static_priv, nd->priv, ZT_KEY_LEN);
	memcpy(cfg.remote_pub, nd->tok.controller_pub, ZT_KEY_LEN);
	cfg.hello = make_hello(nd);
	cfg.now_ms = zt_mono_ms();
	ret = zt_cp_conn_open(&cfg, &nd->c);
	json_object_put(cfg.hello);
	if (ret)
		node_failed(nd, "session open failed");
}

static void start_connect(struct lnode *nd)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	nd->retry_ms = 0;
	nd->handshaking = true;
	L.handshaking++;
	if (fd < 0)
		goto fail;
	if (L.spread) {
		struct sockaddr_in src = { .sin_family = AF_INET };
		uint32_t a = (127u << 24) | (1u << 16) | (nd->idx + 1);

		src.sin_addr.s_addr = htonl(a);
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)))
			goto fail;
	}
	if (connect(fd, (struct sockaddr *)&L.dst, sizeof(L.dst)) && errno != EINPROGRESS)
		goto fail;
	if (zt_loop_add(L.loop, fd, EPOLLOUT, on_connect, nd))
		goto fail;
	nd->connect_fd = fd;
	return;
fail:
	if (fd >= 0)
		close(fd);
	node_failed(nd, strerror(errno));
}

/* New connections up to the handshake budget, reconnects due, keepalives. */
static void on_tick(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	uint64_t exp, now = zt_mono_ms();

	(void)loop;
	(void)events;
	(void)arg;
	if (read(fd, &exp, sizeof(exp)) != sizeof(exp))
		return;
	for (unsigned int i = 0; i < L.n; i++) {
		struct lnode *nd = &L.nodes[i];

		if (nd->c)
			zt_cp_conn_tick(nd->c, now);	/* may close it */
		else if (nd->retry_ms && nd->retry_ms <= now && L.handshaking < L.parallel)
			start_connect(nd);
	}
	while (L.next < L.n && L.handshaking < L.parallel)
		start_connect(&L.nodes[L.next++]);
	if (!L.ready_said && L.with_view == L.n) {
		L.ready_said = true;
		printf("ready %u %llu\n", L.n, (unsigned long long)(now - L.start_ms));
	}
	if (now - L.last_stats_ms >= 5000) {
		L.last_stats_ms = now;
		printf("stats connected %u views %lu closed %lu\n", L.connected, L.views, L.closed);
	}
	fflush(stdout);
	if (now >= L.end_ms)
		zt_loop_stop(L.loop);
}

static void on_signal(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;

	(void)events;
	(void)arg;
	if (read(fd, &si, sizeof(si)) > 0)
		zt_loop_stop(loop);
}

/* FILE's tokens into L.nodes, each with a fresh key. 0 or -errno. */
static int read_tokens(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512], err[128];
	unsigned int cap = 0;
	uint8_t pub[ZT_KEY_LEN];
	int ret = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		static const char conn[] = "connector ";
		bool is_conn = !strncmp(line, conn, strlen(conn));
		const char *tok = is_conn ? line + strlen(conn) : line;
		struct lnode *nd;

		if (strncmp(tok, ZT_TOKEN_PREFIX, strlen(ZT_TOKEN_PREFIX)))
			continue;
		if (L.n == cap) {
			cap = cap ? cap * 2 : 1024;
			nd = realloc(L.nodes, cap * sizeof(*nd));
			if (!nd) {
				ret = -ENOMEM;
				goto out;
			}
			L.nodes = nd;
		}
		nd = &L.nodes[L.n];
		*nd = (struct lnode){ .idx = L.n, .connect_fd = -1, .kind = is_conn ? 'c' : 'd' };
		if (zt_token_decode(tok, &nd->tok, err, sizeof(err))) {
			fprintf(stderr, "ctlload: token %u: %s\n", L.n + 1, err);
			ret = -EINVAL;
			goto out;
		}
		zt_noise_keypair(pub, nd->priv);
		L.n++;
	}
out:
	fclose(f);
	return ret;
}

static int parse_args(int argc, char **argv, const char **tokens, unsigned int *secs)
{
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' }, { "tokens", required_argument, NULL, 't' },
		{ "parallel", required_argument, NULL, 'p' }, { "time", required_argument, NULL, 'T' },
		{ "spread", no_argument, NULL, 's' }, { "verify", no_argument, NULL, 'v' },
		{ "save", required_argument, NULL, 'S' }, { "whole", no_argument, NULL, 'w' }, { 0 },
	};
	const char *connect_to = NULL;
	char host[64];
	int o, port = 0;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c': connect_to = optarg; break;
		case 't': *tokens = optarg; break;
		case 'p': L.parallel = (unsigned int)strtoul(optarg, NULL, 10); break;
		case 'T': *secs = (unsigned int)strtoul(optarg, NULL, 10); break;
		case 's': L.spread = true; break;
		case 'v': L.verify = true; break;
		case 'S': L.save_dir = optarg; break;
		case 'w': L.whole = true; break;
		default: return -EINVAL;
		}
	}
	if (!connect_to || !*tokens || !L.parallel || !*secs ||
	    sscanf(connect_to, "%63[0-9.]:%d", host, &port) != 2 || port <= 0 || port > 65535)
		return -EINVAL;
	L.dst.sin_family = AF_INET;
	L.dst.sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &L.dst.sin_addr) == 1 ? 0 : -EINVAL;
}

/* The loop's timer and signals. 0 or -errno. */
static int watch_timers(void)
{
	struct itimerspec its = { .it_value.tv_nsec = TICK_MS * 1000000L,
				  .it_interval.tv_nsec = TICK_MS * 1000000L };
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), sfd, ret;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (tfd < 0 || sfd < 0 || timerfd_settime(tfd, 0, &its, NULL))
		return -errno;
	ret = zt_loop_add(L.loop, tfd, EPOLLIN, on_tick, NULL);
	return ret ? ret : zt_loop_add(L.loop, sfd, EPOLLIN, on_signal, NULL);
}

int main(int argc, char **argv)
{
	const char *tokens = NULL;
	unsigned int secs = 300;
	struct rlimit rl;
	int ret;

	signal(SIGPIPE, SIG_IGN);
	if (parse_args(argc, argv, &tokens, &secs)) {
		fprintf(stderr, "usage: ctlload --connect IP:PORT --tokens FILE [--parallel P]"
			" [--time S] [--spread] [--verify] [--save DIR] [--whole]\n");
		return 2;
	}
	ret = read_tokens(tokens);
	if (ret || !L.n) {
		fprintf(stderr, "ctlload: %s: %s\n", tokens, ret ? strerror(-ret) : "no token");
		return 1;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < L.n + 256) {
		rl.rlim_cur = L.n + 256;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			fprintf(stderr, "ctlload: RLIMIT_NOFILE %u: %s\n", L.n + 256, strerror(errno));
	}
	if (zt_loop_new(&L.loop) || watch_timers()) {
		fprintf(stderr, "ctlload: event loop: %s\n", strerror(errno));
		return 1;
	}
	L.start_ms = L.last_stats_ms = zt_mono_ms();
	L.end_ms = L.start_ms + (uint64_t)secs * 1000;
	ret = zt_loop_run(L.loop);
	printf("stats connected %u views %lu closed %lu\n", L.connected, L.views, L.closed);
	fflush(stdout);
	for (unsigned int i = 0; i < L.n; i++) {
		if (L.nodes[i].c)
			zt_cp_conn_free(L.nodes[i].c);
		if (L.nodes[i].connect_fd >= 0)
			close(L.nodes[i].connect_fd);
		zt_token_wipe(&L.nodes[i].tok);
		free(L.nodes[i].text);
	}
	zt_loop_free(L.loop);
	free(L.nodes);
	return ret ? 1 : 0;
}
