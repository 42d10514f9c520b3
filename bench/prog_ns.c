// SPDX-License-Identifier: GPL-2.0-only
/*
 * prog_ns: what an XDP program costs per packet in the real receive path,
 * as the kernel measures it (BPF_ENABLE_STATS run time), for bench/run.sh.
 *
 *   prog_ns NAME SECONDS
 *
 * Turns run-time statistics on for its own lifetime only (the fd it holds;
 * they cost every BPF program two clock reads per run while on, so the
 * bench never measures packet rates while this runs), samples every loaded
 * XDP program named NAME at the start and after SECONDS, and prints
 * "NAME RUNS NS_PER_RUN" for the one that ran most. Exit 1 if none ran.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#define MAX_PROGS 64

struct sample {
	__u32 id;
	__u64 cnt, ns;
};

/* Every XDP program called NAME: its id, runs and run time so far. */
static int snapshot(const char *name, struct sample *s, int max)
{
	__u32 id = 0;
	int n = 0;

	while (n < max && !bpf_prog_get_next_id(id, &id)) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(id);

		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == BPF_PROG_TYPE_XDP &&
		    !strcmp(info.name, name))
			s[n++] = (struct sample){ .id = id, .cnt = info.run_cnt,
						  .ns = info.run_time_ns };
		close(fd);
	}
	return n;
}

int main(int argc, char **argv)
{
	struct sample a[MAX_PROGS], b[MAX_PROGS];
	__u64 best_cnt = 0, best_ns = 0;
	int stats_fd, na, nb, i, j;
	unsigned int secs;

	if (argc != 3 || !(secs = (unsigned int)strtoul(argv[2], NULL, 10))) {
		fprintf(stderr, "usage: prog_ns NAME SECONDS\n");
		return 2;
	}
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		fprintf(stderr, "prog_ns: BPF_ENABLE_STATS: %s\n", strerror(errno));
		return 1;
	}
	na = snapshot(argv[1], a, MAX_PROGS);
	sleep(secs);
	nb = snapshot(argv[1], b, MAX_PROGS);
	close(stats_fd);
	for (i = 0; i < nb; i++)
		for (j = 0; j < na; j++)
			if (a[j].id == b[i].id && b[i].cnt - a[j].cnt > best_cnt) {
				best_cnt = b[i].cnt - a[j].cnt;
				best_ns = b[i].ns - a[j].ns;
			}
	if (!best_cnt) {
		fprintf(stderr, "prog_ns: no XDP program named %s ran\n", argv[1]);
		return 1;
	}
	printf("%s %llu %.1f\n", argv[1], (unsigned long long)best_cnt,
	       (double)best_ns / (double)best_cnt);
	return 0;
}
