/* SPDX-License-Identifier: GPL-2.0-only */
/* The daemon's single event loop: epoll, with one callback per fd. */
#ifndef ZT_LOOP_H
#define ZT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct zt_loop;

typedef void (*zt_loop_cb)(struct zt_loop *loop, int fd, uint32_t events, void *arg);

int zt_loop_new(struct zt_loop **out);
void zt_loop_free(struct zt_loop *loop);
int zt_loop_add(struct zt_loop *loop, int fd, uint32_t events, zt_loop_cb cb, void *arg);
void zt_loop_del(struct zt_loop *loop, int fd);
/* Change the epoll events watched on FD. */
int zt_loop_mod(struct zt_loop *loop, int fd, uint32_t events);
/* Run until zt_loop_stop(). Returns 0 or -errno. */
int zt_loop_run(struct zt_loop *loop);
void zt_loop_stop(struct zt_loop *loop);
/*
 * Wait up to TIMEOUT_MS (0: not at all, -1: forever) for events and run
 * their callbacks once. Returns the number of events handled, or -errno.
 * For callers that drive several loops (tests) or embed this one.
 */
int zt_loop_run_once(struct zt_loop *loop, int timeout_ms);
/* The epoll fd: readable when an event is waiting (to poll several loops). */
int zt_loop_fd(const struct zt_loop *loop);

#endif
