// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * zt_tc.bpf.c: tc (clsact, direct-action) entry points. L2 variants for
 * Ethernet devices, L3 variants for devices without a link header (TUN,
 * WireGuard); the loader picks by device type (daemon/dataplane/dataplane.c).
 * All logic is in lib/core.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lib/core.h"

SEC("tc")
int zt_tc_ingress(struct __sk_buff *skb)
{
	return zt_classify(skb, false, false, false, ZT_HOOK_TC_INGRESS);
}

SEC("tc")
int zt_tc_egress(struct __sk_buff *skb)
{
	return zt_classify(skb, false, false, true, ZT_HOOK_TC_EGRESS);
}

SEC("tc")
int zt_tc3_ingress(struct __sk_buff *skb)
{
	return zt_classify(skb, false, true, false, ZT_HOOK_TC_INGRESS);
}

SEC("tc")
int zt_tc3_egress(struct __sk_buff *skb)
{
	return zt_classify(skb, false, true, true, ZT_HOOK_TC_EGRESS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
