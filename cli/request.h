/* SPDX-License-Identifier: GPL-2.0-only */
/* One JSON request on the daemon's Unix socket, one reply back. */
#ifndef ZT_CLI_REQUEST_H
#define ZT_CLI_REQUEST_H

#include <json-c/json.h>

#include "cli/cli.h"

/* A new request object {"cmd": CMD}; the caller adds its fields. */
json_object *cli_request(const char *cmd);

/* REQ's field KEY = VALUE, a string; nothing when VALUE is NULL (an option not given). */
void cli_request_add(json_object *req, const char *key, const char *value);

/*
 * Connect to C->socket_path, send REQ (taken), read one reply. Returns the
 * reply (an "ok" one; the caller puts it), or NULL after reporting the
 * failure on stderr: no daemon, no reply, or the daemon's "error".
 * C->fd stays open for a stream that follows the reply (events).
 */
json_object *cli_call(struct cli *c, json_object *req);

/*
 * REQ (taken) to the controller C->controller over its node port (Noise
 * IK, an "admin" hello with C->api_key): the reply object, or NULL after
 * reporting (refused: a wrong, expired or removed key, another controller).
 */
json_object *cli_remote_call(struct cli *c, json_object *req);

/* The whole of FILE ("-": stdin) as one JSON object; NULL after reporting (cmd_apply.c). */
json_object *cli_read_document(const char *path);

#endif
