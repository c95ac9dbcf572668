/* SPDX-License-Identifier: MIT */
/*
 * Timers, deferred calls and signal watchers: thin owners around uv_timer_t, uv_check_t
 * (woken by a uv_idle_t so the loop does not block) and uv_signal_t. Freeing stops
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

struct ev_defer {
	struct ev_hobj hobj;
	uv_check_t check; /* runs the callback after the poll phase */
	uv_idle_t idle;   /* keeps that poll from blocking while scheduled */
	ev_defer_fn *cb;
	void *arg;
	int closing; /* handles still to be closed */
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

static void
defer_force_close(struct ev_hobj *o)
{
	ev_defer_free_(UM_CONTAINER_OF(o, struct ev_defer, hobj));
}

static void
defer_idle_cb(uv_idle_t *h)
{
	(void)h; /* only there so the poll phase does not wait */
}

static void
defer_check_cb(uv_check_t *h)
{
	struct ev_defer *d = UM_CONTAINER_OF(h, struct ev_defer, check);

	/* Stop first: the callback may schedule again, for the next iteration. */
	uv_check_stop(&d->check);
	uv_idle_stop(&d->idle);
	d->cb(d->arg);
}

struct ev_defer *
ev_defer_new(struct ev_loop *loop, ev_defer_fn *cb, void *arg)
{
	struct ev_defer *d = um_xcalloc(1, sizeof(*d));

	d->hobj.force_close = defer_force_close;
	d->cb = cb;
	d->arg = arg;
	uv_check_init(&loop->uv, &d->check);
	uv_idle_init(&loop->uv, &d->idle);
	d->check.data = &d->hobj;
	d->idle.data = NULL; /* the check handle stands for the object in uv_walk */
	return d;
}

void
ev_defer_schedule(struct ev_defer *d)
{
	if (UM_BUG(uv_is_closing((const uv_handle_t *)&d->check)))
		return;
	if (uv_is_active((const uv_handle_t *)&d->check))
		return;
	uv_check_start(&d->check, defer_check_cb);
	uv_idle_start(&d->idle, defer_idle_cb);
}

static void
defer_close_cb(uv_handle_t *h)
{
	struct ev_defer *d = h->type == UV_CHECK ? UM_CONTAINER_OF(h, struct ev_defer, check)
	                                         : UM_CONTAINER_OF(h, struct ev_defer, idle);

	if (--d->closing == 0)
		free(d);
}

void
ev_defer_free_(struct ev_defer *d)
{
	if (d == NULL || uv_is_closing((const uv_handle_t *)&d->check))
		return;
	d->closing = 2;
	uv_close((uv_handle_t *)&d->check, defer_close_cb);
	uv_close((uv_handle_t *)&d->idle, defer_close_cb);
}
