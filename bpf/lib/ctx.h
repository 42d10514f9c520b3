/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * lib/ctx.h: the few operations the programs need from their context, for
 * both hooks (the classifier for tc and XDP, the parser, the DNS fast
 * path's TC_ACT_* verdicts). Each helper branches on is_xdp, which is a
 * compile-time constant at every call site (the entry points pass a
 * literal and everything is __always_inline), so the dead branch is
 * removed before the verifier sees it and an XDP program never references
 * an skb helper or the other way round.
 *
 * Packet bytes are copied out with bpf_{xdp,skb}_load_bytes: that works
 * the same on non-linear skbs and multi-buffer XDP frames and keeps every
 * bounds check in the helper. Except the headers XDP reads (a constant,
 * small size, in the frame's linear part): those are read in place
 * through data/data_end, one helper call less per header, which is most
 * of what a denied packet costs under a flood (BPF_PROG_RUN, deny path:
 * 71 -> 55 ns). Where the bytes are not all in the linear part, the helper
 * as before.
 */
#ifndef ZT_CTX_H
#define ZT_CTX_H

#define TC_ACT_OK		0
#define TC_ACT_SHOT		2

/*
 * XDP reads in place at most this much, this far into the frame: every
 * header the parser and the classifier read (a bounded offset is also
 * what lets the verifier check data + off against data_end).
 */
#define ZT_DIRECT_MAX_LEN	40
#define ZT_DIRECT_MAX_OFF	255

/*
 * Headers sit at any 2-byte boundary (after 14 bytes of Ethernet): wide
 * loads from them are unaligned, which the verifier allows on packet data
 * where the CPU does them cheaply (x86-64, arm64). Elsewhere clang must
 * copy byte by byte, so there the helper stays.
 */
#if defined(__TARGET_ARCH_x86) || defined(__TARGET_ARCH_arm64)
#define ZT_DIRECT_LOADS		1
#else
#define ZT_DIRECT_LOADS		0
#endif

static __always_inline int zt_load(void *ctx, const bool is_xdp, __u32 off, void *to, __u32 len)
{
	if (is_xdp) {
		if (ZT_DIRECT_LOADS && __builtin_constant_p(len) && len <= ZT_DIRECT_MAX_LEN &&
		    off <= ZT_DIRECT_MAX_OFF) {
			struct xdp_md *x = ctx;
			void *data = (void *)(long)x->data;
			void *end = (void *)(long)x->data_end;
			void *at = data + off;

			if (at + len <= end) {
				/* Word loads (clang assumes nothing about a packet's alignment). */
				__builtin_memcpy(to, __builtin_assume_aligned(at, 8), len);
				return 0;
			}
		}
		return bpf_xdp_load_bytes(ctx, off, to, len);
	}
	return bpf_skb_load_bytes(ctx, off, to, len);
}

static __always_inline __u32 zt_pkt_len(void *ctx, const bool is_xdp)
{
	/*
	 * The XDP program is loaded without BPF_F_XDP_HAS_FRAGS (SEC("xdp")),
	 * so it only ever sees linear packets: the buffer is the whole
	 * packet, and the per-packet helper call bpf_xdp_get_buff_len is not
	 * needed.
	 */
	if (is_xdp)
		return (__u32)(((struct xdp_md *)ctx)->data_end - ((struct xdp_md *)ctx)->data);
	return ((struct __sk_buff *)ctx)->len;
}

static __always_inline __u32 zt_ifindex(void *ctx, const bool is_xdp)
{
	if (is_xdp)
		return ((struct xdp_md *)ctx)->ingress_ifindex;
	return ((struct __sk_buff *)ctx)->ifindex;
}

static __always_inline int zt_verdict_pass(const bool is_xdp)
{
	return is_xdp ? XDP_PASS : TC_ACT_OK;
}

static __always_inline int zt_verdict_drop(const bool is_xdp)
{
	return is_xdp ? XDP_DROP : TC_ACT_SHOT;
}

/*
 * Replace the whole packet with a reply: L2LEN bytes of link header from
 * L2 (none on an L3 device) followed by L3LEN bytes from L3, and send it
 * back where the original came from. XDP: grow at the head (256 bytes of
 * headroom are guaranteed) or trim at the tail, then XDP_TX. tc: resize at
 * the tail and redirect; on egress into the same device's ingress so the
 * local stack receives the reply, on ingress out of the same device.
 * Any failure drops the packet: the original must never go out.
 */
static __always_inline int zt_send_back(void *ctx, const bool is_xdp, const bool egress,
					const void *l2, __u32 l2len, const void *l3, __u32 l3len)
{
	__u32 len = l2len + l3len;

	if (is_xdp) {
		struct xdp_md *xdp = ctx;
		__s32 old = (__s32)(xdp->data_end - xdp->data);
		__s32 delta = (__s32)len - old;

		/* Multi-buffer frames: the reply is tiny, but don't bother. */
		if ((__u32)old != bpf_xdp_get_buff_len(ctx))
			return XDP_DROP;
		if (delta > 0 && bpf_xdp_adjust_head(ctx, -delta))
			return XDP_DROP;
		if (delta < 0 && bpf_xdp_adjust_tail(ctx, delta))
			return XDP_DROP;
		if (l2len && bpf_xdp_store_bytes(ctx, 0, (void *)l2, l2len))
			return XDP_DROP;
		if (bpf_xdp_store_bytes(ctx, l2len, (void *)l3, l3len))
			return XDP_DROP;
		return XDP_TX;
	} else {
		struct __sk_buff *skb = ctx;

		if (bpf_skb_change_tail(skb, len, 0))
			return TC_ACT_SHOT;
		if (l2len && bpf_skb_store_bytes(skb, 0, l2, l2len, 0))
			return TC_ACT_SHOT;
		if (bpf_skb_store_bytes(skb, l2len, l3, l3len, BPF_F_INVALIDATE_HASH))
			return TC_ACT_SHOT;
		return bpf_redirect(skb->ifindex, egress ? BPF_F_INGRESS : 0);
	}
}

#endif /* ZT_CTX_H */
