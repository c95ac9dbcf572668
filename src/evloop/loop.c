/* SPDX-License-Identifier: MIT */
/*
 * The loop itself: creation, run/stop, cached time, the per-iteration flush point for TCP
 * output (an idle handle that is active only while some stream has work), and teardown,
 * which closes every handle an owner left open (uv_walk) and runs the loop until libuv has
 * released them all. Timers and signals are in timer.c, streams in tcp.c.
 */
#include "evloop/evloop.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"
#include "evloop/evloop_st.h"

static void
flush_idle_cb(uv_idle_t *idle)
{
	struct ev_loop *loop = UM_CONTAINER_OF(idle, struct ev_loop, flush_idle);

	ev_tcp_flush_dirty(loop);
	if (list_is_empty(&loop->dirty))
		uv_idle_stop(&loop->flush_idle);
}

void
ev_loop_want_flush(struct ev_loop *loop)
{
	if (!uv_is_active((const uv_handle_t *)&loop->flush_idle))
		uv_idle_start(&loop->flush_idle, flush_idle_cb);
}

struct ev_loop *
ev_loop_new(void)
{
	struct ev_loop *loop = um_xcalloc(1, sizeof(*loop));
	struct sigaction sa;
	int r;

	/* A write to a reset socket must come back as EPIPE, not kill the daemon: libuv writes
	 * with write(2)/writev(2), which raise SIGPIPE. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		log_warn(LD_NET, "cannot ignore SIGPIPE");

	if ((r = uv_loop_init(&loop->uv)) != 0) {
		/* Only fails when the kernel refuses an epoll fd or a pipe: nothing to run on. */
		log_err(LD_NET, "uv_loop_init failed: %s", uv_strerror(r));
		abort();
	}
	uv_idle_init(&loop->uv, &loop->flush_idle);
	loop->flush_idle.data = NULL;
	list_init(&loop->dirty);
	list_init(&loop->free_chunks);
	loop->rbuf = um_xmalloc(EV_TCP_CHUNK);
	return loop;
}

static void
walk_close_cb(uv_handle_t *h, void *arg)
{
	struct ev_hobj *o = h->data;

	(void)arg;
	if (o == NULL || uv_is_closing(h))
		return;
	o->force_close(o);
}

static void
idle_close_cb(uv_handle_t *h)
{
	(void)h;
}

void
ev_loop_free_(struct ev_loop *loop)
{
	int r;

	if (loop == NULL)
		return;
	/* Owners' handles first (their close may still touch the loop's lists), then ours. */
	uv_walk(&loop->uv, walk_close_cb, NULL);
	uv_idle_stop(&loop->flush_idle);
	(void)uv_run(&loop->uv, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&loop->flush_idle, idle_close_cb);
	(void)uv_run(&loop->uv, UV_RUN_DEFAULT);
	if ((r = uv_loop_close(&loop->uv)) != 0) {
		/* A handle we did not create (or a request) is still open: leak the loop rather
		 * than free memory libuv still points into. */
		log_warn(LD_BUG, "event loop still busy at free: %s", uv_strerror(r));
		return;
	}
	ev_tcp_chunks_clear(loop);
	free(loop->rbuf);
	free(loop);
}

int
ev_loop_run(struct ev_loop *loop)
{
	/* Non-zero only means ev_loop_stop() left handles alive, which is not an error. */
	(void)uv_run(&loop->uv, UV_RUN_DEFAULT);
	return UM_OK;
}

void
ev_loop_stop(struct ev_loop *loop)
{
	uv_stop(&loop->uv);
}

uint64_t
ev_now_ms(const struct ev_loop *loop)
{
	return uv_now(&loop->uv);
}

void
ev_update_time(struct ev_loop *loop)
{
	uv_update_time(&loop->uv);
}
