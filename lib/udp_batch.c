// SPDX-License-Identifier: GPL-2.0-only
/* Batched UDP I/O (udp_batch.h): recvmmsg with GRO, sendmmsg with GSO. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>

#include "lib/udp_batch.h"

#define GSO_SEGMENTS_MAX	64	/* the kernel's UDP_MAX_SEGMENTS */
#define GSO_BYTES_MAX		65507	/* one IPv4 UDP datagram's payload */

/* Room for one cmsg: UDP_GRO's int in, UDP_SEGMENT's uint16_t out. */
union cmsg_buf {
	struct cmsghdr align;
	uint8_t buf[CMSG_SPACE(sizeof(int))];
};

struct zt_udp_batch {
	struct zt_udp_batch_cfg cfg;
	bool gso, gro;

	/* Receive: rx_msgs messages, each with its buffer of rx_size bytes. */
	struct mmsghdr *rx;
	struct iovec *rx_iov;
	struct sockaddr_storage *rx_from;
	union cmsg_buf *rx_cmsg;	/* UDP_GRO: the segment size */
	size_t *rx_seg;			/* each message's datagram size */
	uint8_t *rx_buf;
	unsigned int nrx;		/* messages in the batch */

	/* Send: what is queued, one datagram per entry. */
	struct mmsghdr *tx;
	struct iovec *tx_iov;
	struct sockaddr_storage *tx_to;
	uint8_t *tx_buf;		/* tx_msgs slots of tx_size bytes */
	uint8_t *big;			/* one datagram over tx_size, sent alone */
	unsigned int ntx;
	/* What sendmmsg gets: runs of equal datagrams to one address as one GSO send. */
	struct mmsghdr *txg;
	unsigned int *txg_count;
	union cmsg_buf *txg_cmsg;

	struct zt_udp_batch_stats st;
};

/* UDP GSO and GRO, where the kernel has them; either may be missing (then one by one). */
static void probe_offload(struct zt_udp_batch *b)
{
	int one = 1, size = 0;
	socklen_t sl = sizeof(size);

	if (!b->cfg.offload)
		return;
	b->gso = getsockopt(b->cfg.fd, SOL_UDP, UDP_SEGMENT, &size, &sl) == 0;
	if (b->cfg.rx_msgs && b->cfg.rx_size >= ZT_UDP_DGRAM_MAX)
		b->gro = setsockopt(b->cfg.fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
}

static int alloc_arrays(struct zt_udp_batch *b)
{
	size_t nr = b->cfg.rx_msgs, nt = b->cfg.tx_msgs;

	if (nr) {
		b->rx = calloc(nr, sizeof(*b->rx));
		b->rx_iov = calloc(nr, sizeof(*b->rx_iov));
		b->rx_from = calloc(nr, sizeof(*b->rx_from));
		b->rx_cmsg = calloc(nr, sizeof(*b->rx_cmsg));
		b->rx_seg = calloc(nr, sizeof(*b->rx_seg));
		b->rx_buf = malloc(nr * b->cfg.rx_size);
		if (!b->rx || !b->rx_iov || !b->rx_from || !b->rx_cmsg || !b->rx_seg || !b->rx_buf)
			return -ENOMEM;
	}
	b->tx = calloc(nt, sizeof(*b->tx));
	b->tx_iov = calloc(nt, sizeof(*b->tx_iov));
	b->tx_to = calloc(nt, sizeof(*b->tx_to));
	b->tx_buf = malloc(nt * b->cfg.tx_size);
	b->big = malloc(ZT_UDP_DGRAM_MAX);
	b->txg = calloc(nt, sizeof(*b->txg));
	b->txg_count = calloc(nt, sizeof(*b->txg_count));
	b->txg_cmsg = calloc(nt, sizeof(*b->txg_cmsg));
	if (!b->tx || !b->tx_iov || !b->tx_to || !b->tx_buf || !b->big || !b->txg ||
	    !b->txg_count || !b->txg_cmsg)
		return -ENOMEM;
	return 0;
}

int zt_udp_batch_new(const struct zt_udp_batch_cfg *cfg, struct zt_udp_batch **out)
{
	struct zt_udp_batch *b;
	int ret;

	if (cfg->fd < 0 || !cfg->tx_msgs || !cfg->tx_size || cfg->tx_size > ZT_UDP_DGRAM_MAX ||
	    (cfg->rx_msgs && !cfg->rx_size))
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->cfg = *cfg;
	ret = alloc_arrays(b);
	if (ret) {
		zt_udp_batch_free(b);
		return ret;
	}
	for (unsigned int i = 0; i < cfg->rx_msgs; i++) {
		b->rx_iov[i] = (struct iovec){ .iov_base = b->rx_buf + (size_t)i * cfg->rx_size,
					       .iov_len = cfg->rx_size };
		b->rx[i].msg_hdr = (struct msghdr){ .msg_name = &b->rx_from[i],
						    .msg_iov = &b->rx_iov[i], .msg_iovlen = 1,
						    .msg_control = b->rx_cmsg[i].buf };
	}
	probe_offload(b);
	*out = b;
	return 0;
}

void zt_udp_batch_free(struct zt_udp_batch *b)
{
	if (!b)
		return;
	free(b->rx);
	free(b->rx_iov);
	free(b->rx_from);
	free(b->rx_cmsg);
	free(b->rx_seg);
	free(b->rx_buf);
	free(b->tx);
	free(b->tx_iov);
	free(b->tx_to);
	free(b->tx_buf);
	free(b->big);
	free(b->txg);
	free(b->txg_count);
	free(b->txg_cmsg);
	free(b);
}

/* ---- receiving ---- */

/* The size of the datagrams a received message holds (UDP_GRO: several of one size). */
static size_t segment_size(struct mmsghdr *mm)
{
	struct cmsghdr *cm;
	int size;

	for (cm = CMSG_FIRSTHDR(&mm->msg_hdr); cm; cm = CMSG_NXTHDR(&mm->msg_hdr, cm)) {
		if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(size))) {
			memcpy(&size, CMSG_DATA(cm), sizeof(size));
			if (size > 0)
				return (size_t)size;
		}
	}
	return mm->msg_len ? mm->msg_len : 1;	/* one datagram, maybe empty */
}

int zt_udp_batch_recv(struct zt_udp_batch *b)
{
	unsigned int i;
	int n;

	b->nrx = 0;
	if (!b->cfg.rx_msgs)
		return -EINVAL;
	for (i = 0; i < b->cfg.rx_msgs; i++) {
		b->rx[i].msg_hdr.msg_namelen = sizeof(b->rx_from[i]);
		b->rx[i].msg_hdr.msg_flags = 0;
		b->rx[i].msg_hdr.msg_controllen = b->gro ? sizeof(b->rx_cmsg[i].buf) : 0;
	}
	n = recvmmsg(b->cfg.fd, b->rx, b->cfg.rx_msgs, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	for (i = 0; i < (unsigned int)n; i++) {
		b->rx_seg[i] = segment_size(&b->rx[i]);
		b->st.rx_gro_messages += b->rx_seg[i] < b->rx[i].msg_len;
	}
	b->nrx = (unsigned int)n;
	return n;
}

bool zt_udp_batch_next(struct zt_udp_batch *b, struct zt_udp_rx_pos *pos, struct zt_udp_dgram *d)
{
	struct mmsghdr *mm;
	size_t left;

	if (pos->msg >= b->nrx)
		return false;
	mm = &b->rx[pos->msg];
	left = mm->msg_len - pos->off;
	d->data = b->rx_buf + (size_t)pos->msg * b->cfg.rx_size + pos->off;
	d->len = left < b->rx_seg[pos->msg] ? left : b->rx_seg[pos->msg];
	d->from = &b->rx_from[pos->msg];
	d->fromlen = mm->msg_hdr.msg_namelen;
	d->truncated = mm->msg_hdr.msg_flags & MSG_TRUNC;
	/* At least one datagram per message: an empty one is one too. */
	pos->off += b->rx_seg[pos->msg];
	if (pos->off >= mm->msg_len) {
		pos->msg++;
		pos->off = 0;
	}
	return true;
}

/* ---- sending ---- */

/*
 * How many queued datagrams from I can leave as one UDP GSO send: same
 * address, same size (the last may be shorter), within the kernel's limits.
 */
static unsigned int gso_run(const struct zt_udp_batch *b, unsigned int i)
{
	const struct msghdr *first = &b->tx[i].msg_hdr;
	size_t size = b->tx_iov[i].iov_len, total = size;
	unsigned int j = i + 1;

	if (!b->gso)
		return 1;
	while (j < b->ntx && j - i < GSO_SEGMENTS_MAX && b->tx_iov[j - 1].iov_len == size &&
	       b->tx_iov[j].iov_len <= size && total + b->tx_iov[j].iov_len <= GSO_BYTES_MAX &&
	       b->tx[j].msg_hdr.msg_namelen == first->msg_namelen &&
	       !memcmp(b->tx[j].msg_hdr.msg_name, first->msg_name, first->msg_namelen)) {
		total += b->tx_iov[j].iov_len;
		j++;
	}
	return j - i;
}

/* Group the queued datagrams from I into b->txg; returns how many groups. */
static unsigned int group(struct zt_udp_batch *b, unsigned int i)
{
	unsigned int ng = 0, cnt;

	for (; i < b->ntx; i += cnt, ng++) {
		struct msghdr *m = &b->txg[ng].msg_hdr;

		cnt = gso_run(b, i);
		*m = (struct msghdr){ .msg_name = b->tx[i].msg_hdr.msg_name,
				      .msg_namelen = b->tx[i].msg_hdr.msg_namelen,
				      .msg_iov = &b->tx_iov[i], .msg_iovlen = cnt };
		if (cnt > 1) {
			uint16_t size = (uint16_t)b->tx_iov[i].iov_len;
			struct cmsghdr *cm;

			m->msg_control = b->txg_cmsg[ng].buf;
			m->msg_controllen = CMSG_SPACE(sizeof(size));
			cm = CMSG_FIRSTHDR(m);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(size));
			memcpy(CMSG_DATA(cm), &size, sizeof(size));
		}
		b->txg_count[ng] = cnt;
	}
	return ng;
}

unsigned int zt_udp_batch_flush(struct zt_udp_batch *b)
{
	unsigned int sent = 0, lost = 0, ng;
	int n, k;

	while (sent < b->ntx) {
		ng = group(b, sent);
		n = sendmmsg(b->cfg.fd, b->txg, ng, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* A path that cannot segment (EIO): send them one by one from now on. */
			if (b->txg_count[0] > 1 && (errno == EIO || errno == EINVAL)) {
				b->gso = false;
				continue;
			}
			/* The first one failed: it is lost (as on a lossy path), the rest still go. */
			lost += b->txg_count[0];
			sent += b->txg_count[0];
			continue;
		}
		for (k = 0; k < n; k++) {
			b->st.tx_gso_sends += b->txg_count[k] > 1;
			b->st.tx_datagrams += b->txg_count[k];
			sent += b->txg_count[k];
		}
	}
	b->ntx = 0;
	b->st.tx_errors += lost;
	return lost;
}

bool zt_udp_batch_full(const struct zt_udp_batch *b)
{
	return b->ntx == b->cfg.tx_msgs;
}

uint8_t *zt_udp_batch_reserve(struct zt_udp_batch *b, size_t len)
{
	if (len > b->cfg.tx_size)
		return b->big;
	if (zt_udp_batch_full(b))
		zt_udp_batch_flush(b);
	return b->tx_buf + (size_t)b->ntx * b->cfg.tx_size;
}

/* One datagram now, outside the batch. */
static int send_now(struct zt_udp_batch *b, const uint8_t *data, size_t len,
		    const struct sockaddr *to, socklen_t tolen)
{
	if (sendto(b->cfg.fd, data, len, MSG_DONTWAIT, to, tolen) < 0) {
		b->st.tx_errors++;
		return -errno;
	}
	b->st.tx_datagrams++;
	return 0;
}

int zt_udp_batch_queue(struct zt_udp_batch *b, const uint8_t *data, size_t len,
		       const struct sockaddr *to, socklen_t tolen)
{
	unsigned int i;

	if (tolen > sizeof(b->tx_to[0])) {
		b->st.tx_errors++;
		return -EINVAL;
	}
	if (data == b->big)
		return send_now(b, data, len, to, tolen);
	if (zt_udp_batch_full(b))
		zt_udp_batch_flush(b);
	i = b->ntx++;
	memcpy(&b->tx_to[i], to, tolen);
	b->tx_iov[i] = (struct iovec){ .iov_base = (void *)data, .iov_len = len };
	b->tx[i].msg_hdr = (struct msghdr){ .msg_name = &b->tx_to[i], .msg_namelen = tolen,
					    .msg_iov = &b->tx_iov[i], .msg_iovlen = 1 };
	return 0;
}

int zt_udp_batch_queue_copy(struct zt_udp_batch *b, const uint8_t *data, size_t len,
			    const struct sockaddr *to, socklen_t tolen)
{
	uint8_t *buf;

	if (len > b->cfg.tx_size)
		return send_now(b, data, len, to, tolen);
	buf = zt_udp_batch_reserve(b, len);
	memcpy(buf, data, len);
	return zt_udp_batch_queue(b, buf, len, to, tolen);
}

void zt_udp_batch_stats(const struct zt_udp_batch *b, struct zt_udp_batch_stats *st)
{
	*st = b->st;
}
