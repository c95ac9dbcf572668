/* SPDX-License-Identifier: MIT */
/*
 * Timers and signal watchers: thin owners around uv_timer_t and uv_signal_t. Freeing stops
 * the handle at once (no callback after the call, even from inside the handle's own
 * callback) and releases the memory from the uv_close callback.
 */
#include "evloop/evloop.h"

#include <stdlib.h>

#include "lib/log.h"
#include "evloop/evloop_st.h"

struct ev_timer {
	struct ev_hobj hobj;
	uv_timer_t h;
	ev_timer_fn *cb;
	void *arg;
};

struct ev_signal {
	struct ev_hobj hobj;
	uv_signal_t h;
	ev_signal_fn *cb;
	void *arg;
};

static void
timer_force_close(struct ev_hobj *o)
{
	ev_timer_free_(UM_CONTAINER_OF(o, struct ev_timer, hobj));
}

struct ev_timer *
ev_timer_new(struct ev_loop *loop, ev_timer_fn *cb, void *arg)
{
	struct ev_timer *t = um_xcalloc(1, sizeof(*t));

	t->hobj.force_close = timer_force_close;
	t->cb = cb;
	t->arg = arg;
	uv_timer_init(&loop->uv, &t->h); /* cannot fail on Unix */
	t->h.data = &t->hobj;
	return t;
}

static void
timer_cb(uv_timer_t *h)
{
	struct ev_timer *t = UM_CONTAINER_OF(h, struct ev_timer, h);

	t->cb(t->arg);
}

void
ev_timer_start(struct ev_timer *t, uint64_t timeout_ms, uint64_t repeat_ms)
{
	/* uv_timer_start restarts a running timer; it only fails on a closing handle. */
	if (UM_BUG(uv_is_closing((const uv_handle_t *)&t->h)))
		return;
	(void)uv_timer_start(&t->h, timer_cb, timeout_ms, repeat_ms);
}

void
ev_timer_stop(struct ev_timer *t)
{
	(void)uv_timer_stop(&t->h);
}

bool
ev_timer_is_active(const struct ev_timer *t)
{
	return uv_is_active((const uv_handle_t *)&t->h) != 0;
}

static void
timer_close_cb(uv_handle_t *h)
{
	free(UM_CONTAINER_OF(h, struct ev_timer, h));
}

void
ev_timer_free_(struct ev_timer *t)
{
	if (t == NULL)
		return;
	/* uv_close stops the timer: no callback from here on. */
	uv_close((uv_handle_t *)&t->h, timer_close_cb);
}

static void
signal_force_close(struct ev_hobj *o)
{
	ev_signal_free_(UM_CONTAINER_OF(o, struct ev_signal, hobj));
}

static void
signal_cb(uv_signal_t *h, int signum)
{
	struct ev_signal *s = UM_CONTAINER_OF(h, struct ev_signal, h);

	s->cb(s->arg, signum);
}

static void
signal_close_cb(uv_handle_t *h)
{
	free(UM_CONTAINER_OF(h, struct ev_signal, h));
}

struct ev_signal *
ev_signal_new(struct ev_loop *loop, int signum, ev_signal_fn *cb, void *arg)
{
	struct ev_signal *s = um_xcalloc(1, sizeof(*s));
	int r;

	s->hobj.force_close = signal_force_close;
	s->cb = cb;
	s->arg = arg;
	/* Failure means an invalid signal number (a caller bug) or no fd left for libuv's
	 * signal pipe at start-up; neither leaves a daemon worth running. */
	if ((r = uv_signal_init(&loop->uv, &s->h)) == 0) {
		s->h.data = &s->hobj;
		r = uv_signal_start(&s->h, signal_cb, signum);
	}
	if (r != 0)
		log_err(LD_NET, "cannot watch signal %d: %s", signum, uv_strerror(r));
	UM_ASSERT(r == 0);
	return s;
}

void
ev_signal_free_(struct ev_signal *s)
{
	if (s == NULL)
		return;
	uv_close((uv_handle_t *)&s->h, signal_close_cb);
}
