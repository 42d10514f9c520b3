// SPDX-License-Identifier: GPL-2.0-only
/*
 * The agent's files in the node's state dir (agent.h): the node key made
 * at the first start, the pinned controller key, the persisted view.
 * Called by agent.c and, through zt_agent_prepare, by core/managed.c
 * before the role configures.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/agent.h"
#include "controlplane/msg.h"
#include "lib/addr.h"
#include "lib/fsutil.h"
#include "lib/log.h"

static int write_json(const char *dir, const char *name, json_object *o, char *err, size_t errlen)
{
	struct zt_atomic_file af;
	int ret;

	ret = zt_atomic_begin(&af, dir, name, err, errlen);
	if (ret)
		return ret;
	if (fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), af.f) < 0 ||
	    fputc('\n', af.f) < 0) {
		ret = -EIO;
		snprintf(err, errlen, "writing %s: %s", af.path, strerror(EIO));
		zt_atomic_abort(&af);
		return ret;
	}
	return zt_atomic_commit(&af, err, errlen);
}

/* DIR/NAME as a JSON object: 0, -ENOENT, or -EINVAL/-errno with ERR. */
static int read_json(const char *dir, const char *name, json_object **out, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (stat(path, &st))
		return errno == ENOENT ? -ENOENT : zt_errf(err, errlen, -errno, "%s: %s", path,
							   strerror(errno));
	*out = json_object_from_file(path);
	if (!*out || !json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		return zt_errf(err, errlen, -EINVAL, "%s: not a JSON object", path);
	}
	return 0;
}

int zt_agent_view_save(const char *state_dir, json_object *view, uint64_t rev,
		       const char *hash, const char *sig, char *err, size_t errlen)
{
	json_object *o = json_object_new_object();
	int ret;

	json_object_object_add(o, "rev", json_object_new_int64((int64_t)rev));
	json_object_object_add(o, "hash", json_object_new_string(hash));
	json_object_object_add(o, "sig", json_object_new_string(sig ? sig : ""));
	json_object_object_add(o, "view", json_object_get(view));
	ret = write_json(state_dir, ZT_AGENT_VIEW_FILE, o, err, errlen);
	json_object_put(o);
	return ret;
}

int zt_agent_view_save_text(const char *state_dir, const char *text, size_t len, uint64_t rev,
			    const char *hash, const char *sig, char *err, size_t errlen)
{
	struct zt_atomic_file af;
	int ret = zt_atomic_begin(&af, state_dir, ZT_AGENT_VIEW_FILE, err, errlen);

	if (ret)
		return ret;
	/* HASH is hex and SIG checked base64 (viewsig.h): nothing in them needs escaping. */
	if (fprintf(af.f, "{\"rev\":%llu,\"hash\":\"%s\",\"sig\":\"%s\",\"view\":",
		    (unsigned long long)rev, hash, sig ? sig : "") < 0 ||
	    fwrite(text, 1, len, af.f) != len || fputs("}\n", af.f) < 0) {
		snprintf(err, errlen, "writing %s: %s", af.path, strerror(EIO));
		zt_atomic_abort(&af);
		return -EIO;
	}
	return zt_atomic_commit(&af, err, errlen);
}

int zt_agent_view_load(const char *state_dir, const uint8_t *view_key, json_object **view,
		       uint64_t *rev, char hash[65], char *err, size_t errlen)
{
	char computed[ZT_CP_HASH_HEX_LEN + 1];
	json_object *o = NULL, *v;
	const char *h;
	int ret;

	ret = read_json(state_dir, ZT_AGENT_VIEW_FILE, &o, err, errlen);
	if (ret)
		return ret;
	h = zt_cp_msg_str(o, "hash");
	if (zt_cp_msg_u64(o, "rev", rev) || !h || !json_object_object_get_ex(o, "view", &v) ||
	    !json_object_is_type(v, json_type_object)) {
		ret = zt_errf(err, errlen, -EINVAL, "%s/%s: expected {\"rev\", \"hash\", \"view\"}",
			      state_dir, ZT_AGENT_VIEW_FILE);
		goto out;
	}
	zt_cp_view_hash(v, computed);
	if (strcmp(computed, h)) {
		ret = zt_errf(err, errlen, -EINVAL, "%s/%s: the view does not match its hash",
			      state_dir, ZT_AGENT_VIEW_FILE);
		goto out;
	}
	if (!view_key || !zt_viewsig_verify(view_key, *rev, v, zt_cp_msg_str(o, "sig"))) {
		ret = zt_errf(err, errlen, -EBADMSG, "%s/%s: the view is not signed by the "
			      "controller's view key", state_dir, ZT_AGENT_VIEW_FILE);
		goto out;
	}
	memcpy(hash, computed, sizeof(computed));
	*view = json_object_get(v);
out:
	json_object_put(o);
	return ret;
}

int zt_agent_pin_save(const char *state_dir, const char *controller,
		      const uint8_t pub[ZT_KEY_LEN], const uint8_t *view_key, bool enrolled,
		      char *err, size_t errlen)
{
	json_object *o = json_object_new_object();
	char b64[ZT_KEY_B64_LEN + 1], vk[ZT_VIEWSIG_PUB_B64_LEN + 1];
	int ret;

	zt_key_to_base64(pub, b64);
	json_object_object_add(o, "controller", json_object_new_string(controller));
	json_object_object_add(o, "public_key", json_object_new_string(b64));
	json_object_object_add(o, "enrolled", json_object_new_boolean(enrolled));
	if (view_key) {
		zt_viewsig_pub_to_base64(view_key, vk);
		json_object_object_add(o, "view_key", json_object_new_string(vk));
	}
	ret = write_json(state_dir, ZT_AGENT_PIN_FILE, o, err, errlen);
	json_object_put(o);
	return ret;
}

/* controller.json into ID: 0, -ENOENT, or -EINVAL with ERR. */
static int pin_load(const char *state_dir, struct zt_agent_identity *id, char *err, size_t errlen)
{
	json_object *o = NULL, *e;
	const char *k;
	char why[128];
	int ret;

	ret = read_json(state_dir, ZT_AGENT_PIN_FILE, &o, err, errlen);
	if (ret)
		return ret;
	k = zt_cp_msg_str(o, "public_key");
	if (!k || zt_key_from_base64(k, id->controller_pub, why, sizeof(why)) ||
	    !json_object_object_get_ex(o, "enrolled", &e) ||
	    !json_object_is_type(e, json_type_boolean))
		ret = zt_errf(err, errlen, -EINVAL, "%s/%s: expected {\"public_key\", \"enrolled\"}",
			      state_dir, ZT_AGENT_PIN_FILE);
	else
		id->enrolled = json_object_get_boolean(e);
	k = zt_cp_msg_str(o, "view_key");
	if (!ret && k && zt_viewsig_pub_from_base64(k, id->view_key))
		ret = zt_errf(err, errlen, -EINVAL, "%s/%s: \"view_key\" is not an Ed25519 key",
			      state_dir, ZT_AGENT_PIN_FILE);
	id->has_view_key = !ret && k;
	json_object_put(o);
	return ret;
}

/* The controller key to pin: the token's, unless the node is enrolled already. */
static int settle_pin(const char *state_dir, const char *controller, const char *token_text,
		      struct zt_agent_identity *id, char *err, size_t errlen)
{
	char why[256];
	int ret = pin_load(state_dir, id, err, errlen);

	if (ret && ret != -ENOENT)
		return ret;
	if (token_text && !ret && id->enrolled) {
		zt_log("info", "--token ignored: this node is enrolled already and authenticates "
		       "with its key (remove %s/%s to enroll again)", state_dir, ZT_AGENT_PIN_FILE);
		return 0;
	}
	if (!token_text) {
		if (ret == -ENOENT)
			return zt_errf(err, errlen, -EINVAL, "not enrolled with a controller yet: "
				       "the first start needs --token TOKEN");
		if (!id->enrolled)
			return zt_errf(err, errlen, -EINVAL, "enrollment not finished: start again "
				       "with --token TOKEN");
		return 0;
	}
	if (zt_token_decode(token_text, &id->token, why, sizeof(why)))
		return zt_errf(err, errlen, -EINVAL, "invalid --token: %s", why);
	id->has_token = true;
	id->enrolled = false;
	memcpy(id->controller_pub, id->token.controller_pub, ZT_KEY_LEN);
	id->has_view_key = false;	/* pinned again from this enrollment's accept */
	return zt_agent_pin_save(state_dir, controller, id->controller_pub, NULL, false, err, errlen);
}

/* HOST:PORT: an IP literal with its port, or a name and a port 1-65535. */
static int check_one(const char *controller, char *err, size_t errlen)
{
	const char *colon = strrchr(controller, ':');
	struct zt_endpoint ep;
	char why[128], *end;
	unsigned long port;

	if (!zt_endpoint_parse(controller, &ep, why, sizeof(why)))
		return 0;
	if (colon && colon != controller && !strchr(controller, ' ')) {
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (!errno && end != colon + 1 && !*end && port >= 1 && port <= 65535 &&
		    !memchr(controller, ':', (size_t)(colon - controller)))
			return 0;
	}
	return zt_errf(err, errlen, -EINVAL, "invalid --controller '%s': expected HOST:PORT",
		       controller);
}

/* One HOST:PORT, or several joined by ',' (repeated --controller). */
static int check_controller(const char *list, char *err, size_t errlen)
{
	char one[256];
	int ret = 0;

	for (const char *p = list; !ret; p += strcspn(p, ",") + 1) {
		snprintf(one, sizeof(one), "%.*s", (int)strcspn(p, ","), p);
		ret = check_one(one, err, errlen);
		if (!p[strcspn(p, ",")])
			break;
	}
	return ret;
}

int zt_agent_prepare(const char *state_dir, const char *key_file, const char *controller,
		     const char *token_text, struct zt_agent_identity *id, char *err,
		     size_t errlen)
{
	uint8_t pub[ZT_KEY_LEN];
	struct stat st;
	int ret;

	memset(id, 0, sizeof(*id));
	/* Nothing is written before the arguments are known good. */
	ret = check_controller(controller, err, errlen);
	if (!ret)
		ret = settle_pin(state_dir, controller, token_text, id, err, errlen);
	if (ret)
		goto out;
	if (key_file)
		snprintf(id->key_file, sizeof(id->key_file), "%s", key_file);
	else
		snprintf(id->key_file, sizeof(id->key_file), "%s/%s", state_dir, ZT_AGENT_KEY_FILE);
	if (!stat(id->key_file, &st))
		goto out;
	if (!id->has_token) {
		ret = zt_errf(err, errlen, -ENOENT, "%s: %s (the node's key is made at enrollment)",
			      id->key_file, strerror(ENOENT));
		goto out;
	}
	ret = zt_mkdir_p(state_dir, 0700);
	if (ret) {
		zt_errf(err, errlen, ret, "%s: %s", state_dir, strerror(-ret));
		goto out;
	}
	ret = zt_key_generate_file(id->key_file, pub, err, errlen);
	if (!ret) {
		char b64[ZT_KEY_B64_LEN + 1];

		zt_key_to_base64(pub, b64);
		zt_log("info", "made the node's key %s (public key %s)", id->key_file, b64);
	}
out:
	if (ret)
		zt_token_wipe(&id->token);
	return ret;
}
