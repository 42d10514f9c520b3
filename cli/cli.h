/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The CLI's session and how it reports: one struct cli per run (the
 * daemon's socket, --json, the connection of the one request), and the
 * exit codes every command keeps to.
 */
#ifndef ZT_CLI_CLI_H
#define ZT_CLI_CLI_H

#include <stdbool.h>

#include "lib/json_io.h"

/*
 * Exit codes: done; failed (the daemon said no, or could not be reached);
 * bad usage (nothing was sent).
 */
#define CLI_EXIT_OK	0
#define CLI_EXIT_FAIL	1
#define CLI_EXIT_USAGE	2

struct cli {
	const char *socket_path;	/* --socket, --role, $ZTGATE_SOCKET; NULL: the one running */
	char socket_buf[256];		/* --role's, or the one found */
	bool json;			/* --json: replies printed as they came */
	int fd;				/* the connection of this run's request, or -1 */
	struct zt_line_buf buf;		/* its reply lines */
	/*
	 * Remote admin (cli/remote.c): `admin` requests go to this controller's
	 * node port over Noise IK instead of the socket. --controller HOST:PORT,
	 * --api-key KEY, --controller-key PUBKEY, or $ZTGATE_CONTROLLER,
	 * $ZTGATE_API_KEY, $ZTGATE_CONTROLLER_KEY.
	 */
	const char *controller, *api_key, *controller_key;
};

/* "ztgate: MESSAGE" on stderr; returns CLI_EXIT_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "ztgate: MESSAGE (see ztgate --help)" on stderr; returns CLI_EXIT_USAGE. */
int cli_usage_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
