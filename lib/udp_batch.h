/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Batched UDP I/O for one socket: datagrams in with one recvmmsg, out with
 * one sendmmsg, and where the kernel has them UDP GRO on receive (a run of
 * one sender's equal datagrams arrives as one message) and UDP GSO on send
 * (runs of equal datagrams to one address leave as one). Used by the tunnel
 * (tunnel/recv.c, tunnel/send.c), the DNS server (dns/server.c) and the
 * relay (relay/server.c): one system call per batch instead of one per
 * datagram is most of what a userspace tunnel's throughput is made of.
 *
 * Receiving: zt_udp_batch_recv() fills the batch, zt_udp_batch_next() walks
 * its datagrams (a GRO message cut back into the datagrams it was made of).
 * The buffers stay valid, and writable, until the next receive.
 *
 * Sending: datagrams are queued (built in a slot from zt_udp_batch_reserve,
 * copied in, or by reference to a buffer that holds still until the flush)
 * and leave at zt_udp_batch_flush(). A datagram too big for a slot is sent
 * at once, alone. Nothing flushes by itself except a full batch.
 *
 * Not thread-safe; one batch per socket.
 */
#ifndef ZT_UDP_BATCH_H
#define ZT_UDP_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ZT_UDP_DGRAM_MAX	65536	/* a buffer this big holds any datagram, or a GRO run */

struct zt_udp_batch;

struct zt_udp_batch_cfg {
	int fd;			/* a bound UDP socket; the batch does not own it */
	unsigned int rx_msgs;	/* messages per recvmmsg; 0: this batch does not receive */
	size_t rx_size;		/* bytes per message's buffer; longer datagrams are truncated */
	unsigned int tx_msgs;	/* datagrams per sendmmsg (at least 1) */
	size_t tx_size;		/* bytes per send slot (reserve, queue_copy) */
	/*
	 * UDP GSO on send and GRO on receive where the kernel has them (GRO
	 * only with rx_size >= ZT_UDP_DGRAM_MAX). Off: one datagram per message.
	 */
	bool offload;
};

/* One received datagram. */
struct zt_udp_dgram {
	uint8_t *data;			/* in the batch's buffer: writable until the next recv */
	size_t len;
	struct sockaddr_storage *from;
	socklen_t fromlen;
	bool truncated;			/* longer than rx_size: the rest was lost */
};

/* Where zt_udp_batch_next() is in the received batch; start from { 0 }. */
struct zt_udp_rx_pos {
	unsigned int msg;
	size_t off;
};

struct zt_udp_batch_stats {
	uint64_t rx_gro_messages;	/* receives that held several datagrams (UDP GRO) */
	uint64_t tx_datagrams;		/* handed to the kernel */
	uint64_t tx_gso_sends;		/* sends that carried several datagrams (UDP GSO) */
	uint64_t tx_errors;		/* the kernel refused them (buffer full, unreachable): lost */
};

/* 0 or -errno (-EINVAL for a nonsense CFG, -ENOMEM). */
int zt_udp_batch_new(const struct zt_udp_batch_cfg *cfg, struct zt_udp_batch **out);
/* Frees the batch; what is still queued is dropped (flush first). NULL is fine. */
void zt_udp_batch_free(struct zt_udp_batch *b);

/*
 * One recvmmsg, nonblocking: the number of messages received (up to
 * rx_msgs; fewer means the socket was drained), 0 if none was waiting, or
 * -errno. The previous batch's datagrams are gone.
 */
int zt_udp_batch_recv(struct zt_udp_batch *b);
/* The next datagram of the batch at *POS (moved on); false after the last. */
bool zt_udp_batch_next(struct zt_udp_batch *b, struct zt_udp_rx_pos *pos, struct zt_udp_dgram *d);

/*
 * Room for one datagram of LEN bytes, to be built in place and then given
 * to zt_udp_batch_queue() before anything else is queued. A full batch is
 * flushed first. Over tx_size: a buffer of ZT_UDP_DGRAM_MAX bytes, which
 * zt_udp_batch_queue() sends at once, alone.
 */
uint8_t *zt_udp_batch_reserve(struct zt_udp_batch *b, size_t len);
/*
 * Queue LEN bytes at DATA to TO: a buffer from zt_udp_batch_reserve(), or
 * any buffer that stays unchanged until the flush (kept by reference). A
 * full batch is flushed first. 0, or -errno when the datagram went at once
 * and the kernel refused it (counted in tx_errors) or TOLEN is too long.
 */
int zt_udp_batch_queue(struct zt_udp_batch *b, const uint8_t *data, size_t len,
		       const struct sockaddr *to, socklen_t tolen);
/* Queue a copy of DATA (over tx_size: sent at once, alone, no copy); as queue. */
int zt_udp_batch_queue_copy(struct zt_udp_batch *b, const uint8_t *data, size_t len,
			    const struct sockaddr *to, socklen_t tolen);
/* No room left: the next queue flushes first (callers that count losses flush themselves). */
bool zt_udp_batch_full(const struct zt_udp_batch *b);
/*
 * Send what is queued: one sendmmsg, more only after a refusal, which
 * costs the refused datagram (or GSO run), as a lossy path would; a path
 * that cannot segment turns GSO off for good. Returns the datagrams lost.
 */
unsigned int zt_udp_batch_flush(struct zt_udp_batch *b);

void zt_udp_batch_stats(const struct zt_udp_batch *b, struct zt_udp_batch_stats *st);

#endif
