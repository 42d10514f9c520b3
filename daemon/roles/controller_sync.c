// SPDX-License-Identifier: GPL-2.0-only
/*
 * The controller role on a database shared with other controllers
 * (roles/controller.h, docs/CONTROLLER.md "High availability"): a second
 * libpq connection LISTENs on ZT_CHANNEL_REV and ZT_CHANNEL_RUNTIME, its
 * socket watched by the event loop; a revision notification makes the
 * model catch up from the change log (zt_model_sync, which tells the node
 * server the affected nodes), a runtime one sets a connector's endpoint. A
 * 1 s tick listens again when that connection was lost (then catches up
 * and reloads the shared endpoints: what was missed meanwhile) and catches
 * up every 5 s whatever happens. The tick also publishes this controller's
 * node counts (controller/presence.c: when they moved, or every 5 s) so that
 * every controller's `admin status` counts every node. Nothing of this runs
 * on SQLite.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "controller/db.h"
#include "controller/model.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "roles/controller.h"

#define SYNC_EVERY_TICKS	5
#define PUBLISH_EVERY_TICKS	5	/* a heartbeat well inside ZT_PRESENCE_MAX_AGE */

static void catch_up(struct controller_role *cr)
{
	char err[256];

	if (zt_model_sync(cr->model, err, sizeof(err)))
		zt_log("warn", "controller: cannot catch up with the database: %s", err);
}

static void on_note(void *arg, const char *channel, const char *payload)
{
	struct controller_role *cr = arg;

	if (!strcmp(channel, ZT_CHANNEL_REV))
		catch_up(cr);
	else if (!strcmp(channel, ZT_CHANNEL_RUNTIME))
		zt_model_runtime_notified(cr->model, payload);
}

static void drop_listener(struct controller_role *cr)
{
	if (cr->listen_fd >= 0)
		zt_loop_del(cr->loop, cr->listen_fd);
	cr->listen_fd = -1;
	zt_db_unlisten(cr->model->db);
}

static void on_listen(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct controller_role *cr = arg;

	(void)loop, (void)fd, (void)events;
	if (zt_db_notifications(cr->model->db, on_note, cr)) {
		zt_log("warn", "controller: lost the database's notifications; listening again");
		drop_listener(cr);
	}
}

/* LISTEN (again), then take what may have been missed. */
static int listen_again(struct controller_role *cr, char *err, size_t errlen)
{
	static const char *const channels[] = { ZT_CHANNEL_REV, ZT_CHANNEL_RUNTIME };
	int fd = zt_db_listen(cr->model->db, channels, 2, err, errlen);

	if (fd < 0)
		return fd;
	if (zt_loop_add(cr->loop, fd, EPOLLIN, on_listen, cr)) {
		zt_db_unlisten(cr->model->db);
		snprintf(err, errlen, "cannot watch the database's notifications");
		return -EIO;
	}
	cr->listen_fd = fd;
	catch_up(cr);
	if (zt_model_runtime_load(cr->model, err, errlen))
		zt_log("warn", "controller: cannot read the shared endpoints: %s", err);
	return 0;
}

/* A random name for this controller's row in the controllers table. */
static int new_instance(struct controller_role *cr, char *err, size_t errlen)
{
	uint8_t rnd[(sizeof(cr->instance) - 1) / 2];

	if (!RAND_bytes(rnd, sizeof(rnd))) {
		snprintf(err, errlen, "controller: no randomness for its instance name");
		return -EIO;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(cr->instance + 2 * i, 3, "%02x", rnd[i]);
	return 0;
}

/* This controller's node counts into the controllers table, when they moved or as a heartbeat. */
static void publish(struct controller_role *cr)
{
	struct zt_node_counts c;
	char err[256];

	zt_model_node_counts(cr->model, &c);
	if (!memcmp(&c, &cr->published, sizeof(c)) &&
	    cr->ticks - cr->published_tick < PUBLISH_EVERY_TICKS)
		return;
	if (zt_model_presence_publish(cr->model, cr->instance, &c, err, sizeof(err))) {
		zt_log("warn", "controller: cannot publish its node counts: %s", err);
		return;
	}
	cr->published = c;
	cr->published_tick = cr->ticks;
}

static void on_tick(struct zt_loop *loop, int fd, uint32_t events, void *arg)
{
	struct controller_role *cr = arg;
	uint64_t n;
	char err[256];

	(void)loop, (void)events;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	cr->ticks++;
	if (cr->listen_fd < 0) {
		if (!listen_again(cr, err, sizeof(err)))
			zt_log("info", "controller: listening to the database's notifications again");
		return;
	}
	if (cr->ticks % SYNC_EVERY_TICKS == 0)
		catch_up(cr);
	publish(cr);
}

int zt_controller_sync_start(struct controller_role *cr, struct zt_loop *loop, char *err,
			     size_t errlen)
{
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	int ret;

	cr->loop = loop;
	cr->listen_fd = cr->tick_fd = -1;
	if (!cr->model->db->shared)
		return 0;
	ret = new_instance(cr, err, errlen);
	if (ret)
		return ret;
	ret = listen_again(cr, err, errlen);
	if (ret)
		return ret;
	cr->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (cr->tick_fd < 0 || timerfd_settime(cr->tick_fd, 0, &its, NULL) ||
	    zt_loop_add(loop, cr->tick_fd, EPOLLIN, on_tick, cr)) {
		ret = -errno;
		snprintf(err, errlen, "controller: timer: %s", strerror(errno));
		return ret;
	}
	return 0;
}

void zt_controller_sync_stop(struct controller_role *cr)
{
	if (!cr->loop || !cr->model)
		return;
	drop_listener(cr);
	if (cr->instance[0])
		zt_model_presence_withdraw(cr->model, cr->instance);
	if (cr->tick_fd >= 0) {
		zt_loop_del(cr->loop, cr->tick_fd);
		close(cr->tick_fd);
	}
	cr->tick_fd = -1;
}
