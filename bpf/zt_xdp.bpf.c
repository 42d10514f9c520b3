// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * zt_xdp.bpf.c: XDP entry point (Ethernet devices, receive side). Runs
 * under libxdp's dispatcher (loaded by daemon/dataplane/dataplane.c); all
 * logic is in lib/core.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <xdp/xdp_helpers.h>

#include "lib/core.h"

/* libxdp dispatcher: our priority, and which verdicts go on to the next program. */
struct {
	__uint(priority, 10);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(zt_xdp);

SEC("xdp")
int zt_xdp(struct xdp_md *ctx)
{
	return zt_classify(ctx, true, false, false, ZT_HOOK_XDP);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
