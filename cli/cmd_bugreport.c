// SPDX-License-Identifier: GPL-2.0-only
/*
 * `ztgate bugreport [--out FILE]`: one archive with what a bug report needs
 * and nothing secret: versions, the daemon's status, health, stats and
 * pinned maps (with bpftool's dumps of them), the policy document (public
 * keys only: private keys never pass the control socket), kernel features,
 * the attached programs, and the unit's recent log where journald has it.
 * Each piece that cannot be had is noted in its file and the rest goes on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cli/handlers.h"
#include "cli/output.h"
#include "cli/request.h"
#include "lib/version.h"

/* DIR/NAME with TEXT (a JSON reply or a note). */
static void put_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	if (!f)
		return;
	fputs(text, f);
	fputc('\n', f);
	fclose(f);
}

/* One request, its reply (or why not) into DIR/NAME.json; the reply, or NULL. */
static json_object *save_reply(struct cli *c, const char *dir, const char *cmd, const char *name)
{
	json_object *resp = cli_call(c, cli_request(cmd));
	char file[128];

	if (c->fd >= 0) {
		close(c->fd);	/* one request per connection */
		c->fd = -1;
	}
	zt_line_buf_free(&c->buf);
	memset(&c->buf, 0, sizeof(c->buf));
	snprintf(file, sizeof(file), "%s.json", name);
	put_file(dir, file, resp ? json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PRETTY)
				 : "{\"error\": \"no reply (see ztgate's stderr)\"}");
	return resp;
}

/* A command's output into DIR/NAME (commands are fixed strings; paths come from the daemon). */
static void save_command(const char *dir, const char *name, const char *cmd)
{
	char line[8192];

	snprintf(line, sizeof(line), "{ %s ; } >'%s/%s' 2>&1 || echo \"(exit $?)\" >>'%s/%s'", cmd,
		 dir, name, dir, name);
	if (system(line) == -1)
		put_file(dir, name, "(could not run)");
}

/* bpftool's dump of every pinned map the daemon lists. */
static void save_map_dumps(const char *dir, json_object *maps)
{
	json_object *arr;
	size_t n;

	if (!maps || !json_object_object_get_ex(maps, "maps", &arr))
		return;
	n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		json_object *m = json_object_array_get_idx(arr, i);
		const char *name = get_str(m, "name"), *path = get_str(m, "path");
		char file[160], cmd[4200];

		if (!*name || !*path || strchr(path, '\''))
			continue;
		snprintf(file, sizeof(file), "map-%s.txt", name);
		snprintf(cmd, sizeof(cmd), "bpftool map dump pinned '%s'", path);
		save_command(dir, file, cmd);
	}
}

static void save_system(const char *dir)
{
	struct utsname u;
	char text[1024];

	uname(&u);
	snprintf(text, sizeof(text), "ztgate %s\nkernel %s %s %s\nbtf %s\nbpffs %s", zt_version(),
		 u.sysname, u.release, u.machine,
		 access("/sys/kernel/btf/vmlinux", R_OK) ? "absent" : "/sys/kernel/btf/vmlinux",
		 access("/sys/fs/bpf", F_OK) ? "absent" : "/sys/fs/bpf");
	put_file(dir, "versions.txt", text);
	save_command(dir, "bpftool-version.txt", "bpftool version");
	save_command(dir, "bpf-net.txt", "bpftool net show");
	save_command(dir, "bpf-progs.txt", "bpftool prog show");
	save_command(dir, "links.txt", "ip -d link show");
	save_command(dir, "routes.txt", "ip route show table all");
	save_command(dir, "journal.txt",
		     "command -v journalctl >/dev/null && journalctl -u 'ztgated@*' -n 500 --no-pager"
		     " || echo 'no journald here: the daemon logs to its stdout'");
}

int cmd_bugreport(struct cli *c, const struct cli_args *a)
{
	const char *out = cli_arg(a, "out");
	char dir[] = "/tmp/ztgate-bugreport.XXXXXX", name[256], cmd[8192];
	json_object *maps;
	time_t now = time(NULL);
	int ret;

	if (!mkdtemp(dir))
		return cli_fail("bugreport: %s", strerror(errno));
	if (!out) {
		strftime(name, sizeof(name), "ztgate-bugreport-%Y%m%d-%H%M%S.tar.gz", gmtime(&now));
		out = name;
	}
	save_system(dir);
	json_object_put(save_reply(c, dir, "status", "status"));
	json_object_put(save_reply(c, dir, "health", "health"));
	json_object_put(save_reply(c, dir, "stats", "stats"));
	json_object_put(save_reply(c, dir, "policy.export", "policy"));
	maps = save_reply(c, dir, "maps", "maps");
	save_map_dumps(dir, maps);
	json_object_put(maps);
	snprintf(cmd, sizeof(cmd), "tar -czf '%s' -C '%s' . && rm -rf '%s'", out, dir, dir);
	if (strchr(out, '\'') || (ret = system(cmd)) != 0)
		return cli_fail("bugreport: could not write %s (the pieces are in %s)", out, dir);
	printf("%s\n", out);
	return CLI_EXIT_OK;
}
