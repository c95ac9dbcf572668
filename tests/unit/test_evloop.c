/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the event loop (src/evloop/evloop.h) with real sockets: timers (one-shot,
 * repeat, stop, restart, free inside their own callback), signals, TCP between a listener
 * and a connector on 127.0.0.1 in one loop (echo, an 8 MiB reserve/commit transfer with
 * write-queue accounting and on_drain, shutdown and half-close, abort (a reset, also with a
 * shutdown pending behind unsent bytes), close inside on_read, read_stop, refused connect),
 * address parse/format tables, ev_unix_listen in a mkdtemp
 * directory, and ev_loop_free() closing handles left open. Every test that runs the loop
 * arms a watchdog that stops it after WATCHDOG_MS, so a bug fails a test instead of hanging.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/time.h"
#include "evloop/evloop.h"

enum {
	WATCHDOG_MS = 20 * 1000,
	BULK_LEN = 8 * 1024 * 1024,
	BULK_HIGH = 1024 * 1024, /* the sender waits for on_drain above this */
	BULK_LOW = 256 * 1024,   /* drain threshold */
	BULK_PRE = 1000,         /* bytes committed before the connect completes */
};

/* ---- fixtures and helpers ---- */

static int
setup_loop(void **state)
{
	*state = ev_loop_new();
	return 0;
}

static int
teardown_loop(void **state)
{
	struct ev_loop *loop = *state;

	ev_loop_free(loop);
	return 0;
}

struct watchdog {
	struct ev_loop *loop;
	struct ev_timer *t;
	bool fired;
};

static void
watchdog_cb(void *arg)
{
	struct watchdog *w = arg;

	w->fired = true;
	ev_loop_stop(w->loop);
}

static void
watchdog_start(struct watchdog *w, struct ev_loop *loop)
{
	w->loop = loop;
	w->fired = false;
	w->t = ev_timer_new(loop, watchdog_cb, w);
	ev_timer_start(w->t, WATCHDOG_MS, 0);
}

static void
watchdog_finish(struct watchdog *w)
{
	assert_false(w->fired);
	ev_timer_free(w->t);
}

static void
loopback_any_port(struct sockaddr_storage *ss)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &sin, sizeof(sin));
}

static struct ev_listener *
listen_local(struct ev_loop *loop, ev_accept_fn *cb, void *arg, struct sockaddr_storage *bound)
{
	struct sockaddr_storage ss;
	struct ev_listener *l = NULL;

	loopback_any_port(&ss);
	assert_int_equal(ev_tcp_listen(loop, (struct sockaddr *)&ss, 16, cb, arg, &l), UM_OK);
	assert_non_null(l);
	assert_int_equal(ev_listener_addr(l, bound), UM_OK);
	assert_int_equal(bound->ss_family, AF_INET);
	assert_int_not_equal(ntohs(((struct sockaddr_in *)bound)->sin_port), 0);
	return l;
}

/* The byte at offset i of a test stream: cheap, position-dependent, not periodic in 64K. */
static uint8_t
pattern(uint64_t i)
{
	uint32_t x = (uint32_t)i * 2654435761u;

	return (uint8_t)((x >> 24) ^ (uint8_t)(i >> 16));
}

/* ---- timers ---- */

struct tstate {
	struct ev_loop *loop;
	struct ev_timer *t;
	int n;
	int stop_at;
	bool free_in_cb;
	uint64_t fired_ms;
};

static void
tstate_cb(void *arg)
{
	struct tstate *s = arg;

	s->n++;
	s->fired_ms = ev_now_ms(s->loop);
	if (s->free_in_cb) {
		ev_timer_free(s->t);
		return;
	}
	if (s->stop_at > 0 && s->n == s->stop_at) {
		ev_timer_stop(s->t);
		assert_false(ev_timer_is_active(s->t));
	}
}

static void
test_timer_oneshot_fires_once_after_timeout(void **state)
{
	struct tstate s = { .loop = *state };
	uint64_t start;

	s.t = ev_timer_new(s.loop, tstate_cb, &s);
	assert_false(ev_timer_is_active(s.t));
	ev_update_time(s.loop);
	start = ev_now_ms(s.loop);
	ev_timer_start(s.t, 20, 0);
	assert_true(ev_timer_is_active(s.t));
	/* Returns once nothing is left to wait for: the one-shot timer is done. */
	assert_int_equal(ev_loop_run(s.loop), UM_OK);
	assert_int_equal(s.n, 1);
	assert_true(s.fired_ms - start >= 20);
	assert_false(ev_timer_is_active(s.t));
	ev_timer_free(s.t);
	assert_null(s.t);
}

static void
test_timer_repeat_stops_and_restarts(void **state)
{
	struct tstate s = { .loop = *state, .stop_at = 3 };

	s.t = ev_timer_new(s.loop, tstate_cb, &s);
	ev_timer_start(s.t, 2, 2);
	assert_int_equal(ev_loop_run(s.loop), UM_OK);
	assert_int_equal(s.n, 3);
	assert_false(ev_timer_is_active(s.t));
	/* A stopped timer may be restarted. */
	ev_timer_start(s.t, 1, 0);
	assert_int_equal(ev_loop_run(s.loop), UM_OK);
	assert_int_equal(s.n, 4);
	ev_timer_free(s.t);
}

static void
test_timer_restart_replaces_timeout(void **state)
{
	struct tstate s = { .loop = *state };
	uint64_t start;

	s.t = ev_timer_new(s.loop, tstate_cb, &s);
	ev_update_time(s.loop);
	start = ev_now_ms(s.loop);
	ev_timer_start(s.t, 60 * 1000, 0);
	ev_timer_start(s.t, 5, 0);
	assert_int_equal(ev_loop_run(s.loop), UM_OK);
	assert_int_equal(s.n, 1);
	assert_true(s.fired_ms - start < 30 * 1000);
	ev_timer_free(s.t);
}

static void
test_timer_free_inside_own_callback(void **state)
{
	struct tstate s = { .loop = *state, .free_in_cb = true };

	s.t = ev_timer_new(s.loop, tstate_cb, &s);
	ev_timer_start(s.t, 1, 1);
	/* The repeating timer frees itself on its first run: no second call, no leak. */
	assert_int_equal(ev_loop_run(s.loop), UM_OK);
	assert_int_equal(s.n, 1);
	assert_null(s.t);
}

static void
test_timer_stop_before_run_never_fires(void **state)
{
	struct tstate s = { .loop = *state };

	s.t = ev_timer_new(s.loop, tstate_cb, &s);
	ev_timer_start(s.t, 1, 0);
	ev_timer_stop(s.t);
	assert_int_equal(ev_loop_run(s.loop), UM_OK);
	assert_int_equal(s.n, 0);
	ev_timer_free(s.t);
}

/* ---- signals ---- */

struct sigstate {
	struct ev_signal *sig;
	int signum;
	int n;
};

static void
sig_cb(void *arg, int signum)
{
	struct sigstate *s = arg;

	s->n++;
	s->signum = signum;
	ev_signal_free(s->sig);
}

static void
raise_cb(void *arg)
{
	(void)arg;
	raise(SIGUSR1);
}

static void
test_signal_delivered_on_loop_thread(void **state)
{
	struct ev_loop *loop = *state;
	struct sigstate s = { 0 };
	struct ev_timer *t = ev_timer_new(loop, raise_cb, NULL);

	s.sig = ev_signal_new(loop, SIGUSR1, sig_cb, &s);
	assert_non_null(s.sig);
	ev_timer_start(t, 1, 0);
	/* Ends when the handler has freed the watcher and the timer is spent. */
	assert_int_equal(ev_loop_run(loop), UM_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.signum, SIGUSR1);
	assert_null(s.sig);
	ev_timer_free(t);
}

/* ---- TCP: echo ---- */

struct echo {
	struct ev_loop *loop;
	struct ev_listener *l;
	struct ev_tcp *srv;
	struct ev_tcp *cli;
	uint8_t got[64];
	size_t got_len;
	int connect_status;
	bool srv_eof;
	bool accepted_v4;
	struct sockaddr_storage peer;
};

static const char echo_msg[] = "hello, umbra";

static void
echo_srv_read(void *arg, const uint8_t *data, size_t len)
{
	struct echo *e = arg;

	assert_int_equal(ev_tcp_write(e->srv, data, len), UM_OK);
}

static void
echo_srv_eof(void *arg, int status, int sys_errno)
{
	struct echo *e = arg;

	assert_int_equal(status, UM_OK);
	assert_int_equal(sys_errno, 0);
	e->srv_eof = true;
	ev_tcp_close(e->srv);
	e->srv = NULL;
	ev_loop_stop(e->loop);
}

static const struct ev_tcp_ops echo_srv_ops = {
	.on_read = echo_srv_read,
	.on_eof = echo_srv_eof,
};

static void
echo_accept(void *arg, struct ev_tcp *conn, const struct sockaddr_storage *peer)
{
	struct echo *e = arg;
	struct sockaddr_storage ss;

	assert_null(e->srv);
	e->srv = conn;
	e->accepted_v4 = peer->ss_family == AF_INET;
	e->peer = *peer;
	assert_int_equal(ev_tcp_peer_addr(conn, &ss), UM_OK);
	assert_int_equal(memcmp(&ss, peer, sizeof(struct sockaddr_in)), 0);
	ev_tcp_set_ops(conn, &echo_srv_ops, e);
	assert_int_equal(ev_tcp_read_start(conn), UM_OK);
	assert_true(ev_tcp_is_reading(conn));
}

static void
echo_cli_connect(void *arg, int status)
{
	struct echo *e = arg;

	e->connect_status = status;
	assert_int_equal(status, UM_OK);
	assert_int_equal(ev_tcp_write(e->cli, echo_msg, strlen(echo_msg)), UM_OK);
	assert_int_equal(ev_tcp_set_nodelay(e->cli, true), UM_OK);
}

static void
echo_cli_read(void *arg, const uint8_t *data, size_t len)
{
	struct echo *e = arg;

	assert_true(e->got_len + len <= strlen(echo_msg));
	memcpy(e->got + e->got_len, data, len);
	e->got_len += len;
	if (e->got_len == strlen(echo_msg)) {
		ev_tcp_close(e->cli);
		e->cli = NULL;
	}
}

static void
echo_cli_eof(void *arg, int status, int sys_errno)
{
	(void)arg;
	(void)status;
	(void)sys_errno;
	fail_msg("client saw EOF before the echo");
}

static const struct ev_tcp_ops echo_cli_ops = {
	.on_connect = echo_cli_connect,
	.on_read = echo_cli_read,
	.on_eof = echo_cli_eof,
};

static void
test_tcp_echo_between_listener_and_connector(void **state)
{
	struct echo e = { .loop = *state, .connect_status = 1 };
	struct sockaddr_storage addr;
	struct watchdog w;

	watchdog_start(&w, e.loop);
	e.l = listen_local(e.loop, echo_accept, &e, &addr);
	assert_int_equal(
	        ev_tcp_connect(e.loop, (struct sockaddr *)&addr, &echo_cli_ops, &e, &e.cli), UM_OK);
	/* Reads asked for before the connect completes start with it. */
	assert_int_equal(ev_tcp_read_start(e.cli), UM_OK);
	assert_int_equal(ev_loop_run(e.loop), UM_OK);
	watchdog_finish(&w);

	assert_int_equal(e.connect_status, UM_OK);
	assert_true(e.accepted_v4);
	assert_int_equal(e.got_len, strlen(echo_msg));
	assert_memory_equal(e.got, echo_msg, strlen(echo_msg));
	assert_true(e.srv_eof);
	ev_listener_free(e.l);
}

/* A connect from a chosen source address (a relay's outbound_address) arrives from it. */
static void
test_tcp_connect_from_source_address(void **state)
{
	struct echo e = { .loop = *state, .connect_status = 1 };
	struct sockaddr_storage addr;
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct sockaddr_in6 src6 = { .sin6_family = AF_INET6 };
	struct watchdog w;
	struct ev_tcp *t;

	src.sin_addr.s_addr = htonl(0x7f030001); /* 127.3.0.1: all of 127/8 is local */
	watchdog_start(&w, e.loop);
	e.l = listen_local(e.loop, echo_accept, &e, &addr);
	/* A source of another family than the destination is refused at the call. */
	assert_int_equal(ev_tcp_connect_from(e.loop, (struct sockaddr *)&addr,
	                                     (struct sockaddr *)&src6, &echo_cli_ops, &e, &t),
	                 UM_ERR_INVALID);
	assert_null(t);
	assert_int_equal(ev_tcp_connect_from(e.loop, (struct sockaddr *)&addr,
	                                     (struct sockaddr *)&src, &echo_cli_ops, &e, &e.cli),
	                 UM_OK);
	assert_int_equal(ev_tcp_read_start(e.cli), UM_OK);
	assert_int_equal(ev_loop_run(e.loop), UM_OK);
	watchdog_finish(&w);

	assert_int_equal(e.connect_status, UM_OK);
	assert_int_equal(e.got_len, strlen(echo_msg));
	assert_int_equal(e.peer.ss_family, AF_INET);
	assert_int_equal(((struct sockaddr_in *)&e.peer)->sin_addr.s_addr, src.sin_addr.s_addr);
	ev_listener_free(e.l);
}

/* ---- TCP: abort resets the peer ---- */

struct abort_fx {
	struct ev_loop *loop;
	struct ev_tcp *cli;
	int eof_status, eof_errno;
	bool eof;
};

/* The server aborts once the client's first bytes arrived (the connect has completed). */
static void
abort_srv_read(void *arg, const uint8_t *data, size_t len)
{
	struct ev_tcp *conn = arg;

	(void)data;
	(void)len;
	/* Unsent bytes are dropped and the peer sees a reset, not an EOF. */
	assert_int_equal(ev_tcp_write(conn, "unsent", 6), UM_OK);
	ev_tcp_abort(conn);
	ev_tcp_abort(conn); /* a second call is a no-op */
}

static void
abort_srv_eof(void *arg, int status, int sys_errno)
{
	(void)arg;
	(void)status;
	(void)sys_errno;
}

static const struct ev_tcp_ops abort_srv_ops = {
	.on_read = abort_srv_read,
	.on_eof = abort_srv_eof,
};

static void
abort_accept(void *arg, struct ev_tcp *conn, const struct sockaddr_storage *peer)
{
	(void)arg;
	(void)peer;
	ev_tcp_set_ops(conn, &abort_srv_ops, conn);
	assert_int_equal(ev_tcp_read_start(conn), UM_OK);
}

static void
abort_cli_connect(void *arg, int status)
{
	struct abort_fx *a = arg;

	assert_int_equal(status, UM_OK);
	assert_int_equal(ev_tcp_write(a->cli, "hi", 2), UM_OK);
}

static void
abort_cli_read(void *arg, const uint8_t *data, size_t len)
{
	(void)arg;
	(void)data;
	(void)len;
}

static void
abort_cli_eof(void *arg, int status, int sys_errno)
{
	struct abort_fx *a = arg;

	a->eof = true;
	a->eof_status = status;
	a->eof_errno = sys_errno;
	ev_tcp_close(a->cli);
	a->cli = NULL;
	ev_loop_stop(a->loop);
}

static const struct ev_tcp_ops abort_cli_ops = {
	.on_connect = abort_cli_connect,
	.on_read = abort_cli_read,
	.on_eof = abort_cli_eof,
};

static void
test_tcp_abort_resets_the_peer(void **state)
{
	struct abort_fx a = { .loop = *state };
	struct sockaddr_storage addr;
	struct ev_listener *l;
	struct watchdog w;

	watchdog_start(&w, a.loop);
	l = listen_local(a.loop, abort_accept, &a, &addr);
	assert_int_equal(
	        ev_tcp_connect(a.loop, (struct sockaddr *)&addr, &abort_cli_ops, &a, &a.cli),
	        UM_OK);
	assert_int_equal(ev_tcp_read_start(a.cli), UM_OK);
	assert_int_equal(ev_loop_run(a.loop), UM_OK);
	watchdog_finish(&w);
	assert_true(a.eof);
	assert_int_equal(a.eof_status, UM_ERR_SYS);
	assert_int_equal(a.eof_errno, ECONNRESET);
	ev_listener_free(l);
}

/* ---- TCP: abort after shutdown (a half-closed stream whose peer reads slowly) ---- */

enum {
	HALF_LEN = 4 * 1024 * 1024, /* more than the kernel buffers hold for a 4 KB receiver */
	/* The peer stops reading once our queue is this short: at most 8 chunks, all in the two
	 * write requests in flight, so libuv has the shutdown pending behind them. */
	HALF_STOP = 448 * 1024,
};

struct half_fx {
	struct ev_loop *loop;
	struct ev_tcp *t; /* ours: writes HALF_LEN, shuts down, then aborts */
	int lfd, pfd;     /* the peer: a plain socket with a 4 KB receive buffer */
	struct ev_timer *poll;
	size_t peer_got;
	bool aborted;
	bool peer_eof;
	int peer_errno;
};

static void
half_connect(void *arg, int status)
{
	(void)arg;
	assert_int_equal(status, UM_OK);
}

static const struct ev_tcp_ops half_ops = { .on_connect = half_connect };

/* Read up to max bytes the peer's socket has now; false once it saw EOF or an error. */
static bool
half_peer_read(struct half_fx *h, size_t max)
{
	uint8_t b[16384];
	size_t got = 0;

	while (got < max) {
		ssize_t n = recv(h->pfd, b, UM_MIN(sizeof(b), max - got), 0);

		if (n > 0) {
			h->peer_got += (size_t)n;
			got += (size_t)n;
			continue;
		}
		if (n == 0) {
			h->peer_eof = true;
			return false;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return true;
		if (errno == EINTR)
			continue;
		h->peer_errno = errno;
		return false;
	}
	return true;
}

static void
half_poll(void *arg)
{
	struct half_fx *h = arg;

	if (h->pfd < 0) {
		h->pfd = accept(h->lfd, NULL, NULL);
		if (h->pfd < 0)
			return;
		assert_int_equal(fcntl(h->pfd, F_SETFL, O_NONBLOCK), 0);
		/* Queue everything, then FIN: libuv issues the shutdown once every byte is in a
		 * write request, long before the peer took them. */
		for (size_t off = 0; off < HALF_LEN; off += 65536) {
			uint8_t *p;

			assert_int_equal(ev_tcp_reserve(h->t, 65536, &p), UM_OK);
			memset(p, 'h', 65536);
			ev_tcp_commit(h->t, 65536);
		}
		ev_tcp_shutdown(h->t);
		return;
	}
	if (!h->aborted) {
		size_t q = ev_tcp_write_queue(h->t);

		/* The peer reads slowly until our last bytes sit in write requests (the shutdown
		 * is pending behind them), then stops: the bytes stay queued. */
		if (q > HALF_STOP) {
			assert_true(half_peer_read(h, 32768));
			return;
		}
		assert_true(q > 0);
		ev_tcp_abort(h->t);
		h->t = NULL;
		h->aborted = true;
		return;
	}
	if (!half_peer_read(h, SIZE_MAX))
		ev_loop_stop(h->loop);
}

static void
test_tcp_abort_after_shutdown_resets_the_peer(void **state)
{
	struct half_fx h = { .loop = *state, .pfd = -1 };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int small = 4096;
	struct watchdog w;

	watchdog_start(&w, h.loop);
	/* The peer's receive buffer is fixed and small (accepted sockets inherit it), so most
	 * of HALF_LEN waits in our queue instead of in kernel buffers. */
	loopback_any_port(&ss);
	h.lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(h.lfd >= 0);
	assert_int_equal(setsockopt(h.lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	assert_int_equal(bind(h.lfd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)), 0);
	assert_int_equal(listen(h.lfd, 1), 0);
	assert_int_equal(getsockname(h.lfd, (struct sockaddr *)&ss, &len), 0);
	assert_int_equal(fcntl(h.lfd, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(ev_tcp_connect(h.loop, (struct sockaddr *)&ss, &half_ops, &h, &h.t),
	                 UM_OK);
	h.poll = ev_timer_new(h.loop, half_poll, &h);
	ev_timer_start(h.poll, 1, 1);
	assert_int_equal(ev_loop_run(h.loop), UM_OK);
	watchdog_finish(&w);
	ev_timer_free(h.poll);
	/* A reset, never the clean end of stream that would pass the truncated data off as
	 * complete (SO_LINGER 0 is set by hand: uv_tcp_close_reset refuses a handle with a
	 * shutdown pending). */
	assert_true(h.aborted);
	assert_false(h.peer_eof);
	assert_int_equal(h.peer_errno, ECONNRESET);
	assert_true(h.peer_got < HALF_LEN);
	close(h.pfd);
	close(h.lfd);
}

/* ---- TCP: 8 MiB through reserve/commit, write-queue accounting, on_drain ---- */

struct bulk {
	struct ev_loop *loop;
	struct ev_listener *l;
	struct ev_tcp *snd;
	struct ev_tcp *rcv;
	uint64_t committed;
	uint64_t received;
	size_t size_i;
	size_t max_queue;
	size_t queue_at_eof;
	unsigned n_drain;
	unsigned n_reads;
	bool shut;
	bool rcv_eof;
	bool mismatch;
};

/* Commit sizes cycle through awkward values so reservations straddle chunk ends. */
static const size_t bulk_sizes[] = { 1, 100, 1500, 4096, 65536, 30000, 7, 65535, 12345 };

static void
bulk_commit(struct bulk *b, size_t n)
{
	uint8_t *p = NULL;
	size_t before = ev_tcp_write_queue(b->snd);

	assert_int_equal(ev_tcp_reserve(b->snd, n, &p), UM_OK);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = pattern(b->committed + i);
	ev_tcp_commit(b->snd, n);
	b->committed += n;
	/* Committed bytes are counted at once (a flush may also complete some right away). */
	assert_true(ev_tcp_write_queue(b->snd) <= before + n);
}

static void
bulk_pump(struct bulk *b)
{
	while (b->committed < BULK_LEN && ev_tcp_write_queue(b->snd) <= BULK_HIGH) {
		size_t n = bulk_sizes[b->size_i++ % UM_ARRAY_LEN(bulk_sizes)];

		n = (size_t)UM_MIN((uint64_t)n, BULK_LEN - b->committed);
		bulk_commit(b, n);
		b->max_queue = UM_MAX(b->max_queue, ev_tcp_write_queue(b->snd));
	}
	if (b->committed == BULK_LEN && !b->shut) {
		uint8_t *p;

		b->shut = true;
		ev_tcp_shutdown(b->snd);
		assert_int_equal(ev_tcp_reserve(b->snd, 1, &p), UM_ERR_CLOSED);
		assert_null(p);
	}
}

static void
bulk_snd_connect(void *arg, int status)
{
	struct bulk *b = arg;

	assert_int_equal(status, UM_OK);
	bulk_pump(b);
}

static void
bulk_snd_drain(void *arg)
{
	struct bulk *b = arg;

	assert_true(ev_tcp_write_queue(b->snd) <= BULK_LOW);
	b->n_drain++;
	bulk_pump(b);
}

static void
bulk_snd_read(void *arg, const uint8_t *data, size_t len)
{
	(void)arg;
	(void)data;
	(void)len;
	fail_msg("the receiver never writes");
}

static void
bulk_snd_eof(void *arg, int status, int sys_errno)
{
	(void)arg;
	fail_msg("sender failed: %d errno %d", status, sys_errno);
}

static const struct ev_tcp_ops bulk_snd_ops = {
	.on_connect = bulk_snd_connect,
	.on_read = bulk_snd_read,
	.on_eof = bulk_snd_eof,
	.on_drain = bulk_snd_drain,
};

static void
bulk_rcv_read(void *arg, const uint8_t *data, size_t len)
{
	struct bulk *b = arg;

	assert_true(len <= EV_TCP_CHUNK);
	for (size_t i = 0; i < len; i++) {
		if (data[i] != pattern(b->received + i)) {
			b->mismatch = true;
			break;
		}
	}
	b->received += len;
	b->n_reads++;
}

static void
bulk_rcv_eof(void *arg, int status, int sys_errno)
{
	struct bulk *b = arg;

	assert_int_equal(status, UM_OK);
	assert_int_equal(sys_errno, 0);
	b->rcv_eof = true;
	assert_false(ev_tcp_is_reading(b->rcv));
	/* The FIN follows the last byte: every committed byte has left the queue. */
	b->queue_at_eof = ev_tcp_write_queue(b->snd);
	ev_tcp_close(b->rcv);
	ev_tcp_close(b->snd);
	b->rcv = b->snd = NULL;
	ev_loop_stop(b->loop);
}

static const struct ev_tcp_ops bulk_rcv_ops = {
	.on_read = bulk_rcv_read,
	.on_eof = bulk_rcv_eof,
};

static void
bulk_accept(void *arg, struct ev_tcp *conn, const struct sockaddr_storage *peer)
{
	struct bulk *b = arg;

	(void)peer;
	b->rcv = conn;
	ev_tcp_set_ops(conn, &bulk_rcv_ops, b);
	assert_int_equal(ev_tcp_read_start(conn), UM_OK);
}

static void
test_tcp_8mib_reserve_commit_with_drain(void **state)
{
	struct bulk b = { .loop = *state };
	struct sockaddr_storage addr;
	struct watchdog w;
	uint8_t *p;

	watchdog_start(&w, b.loop);
	b.l = listen_local(b.loop, bulk_accept, &b, &addr);
	assert_int_equal(
	        ev_tcp_connect(b.loop, (struct sockaddr *)&addr, &bulk_snd_ops, &b, &b.snd), UM_OK);
	ev_tcp_set_drain_threshold(b.snd, BULK_LOW);
	assert_int_equal(ev_tcp_write_queue(b.snd), 0);
	assert_int_equal(ev_tcp_reserve(b.snd, EV_TCP_CHUNK + 1, &p), UM_ERR_TOO_LARGE);
	/* Before the connect completes nothing can leave: the queue holds every byte. */
	bulk_commit(&b, BULK_PRE);
	assert_int_equal(ev_tcp_write_queue(b.snd), BULK_PRE);
	assert_int_equal(ev_loop_run(b.loop), UM_OK);
	watchdog_finish(&w);

	assert_true(b.rcv_eof);
	assert_false(b.mismatch);
	assert_int_equal(b.committed, BULK_LEN);
	assert_int_equal(b.received, BULK_LEN);
	assert_int_equal(b.queue_at_eof, 0);
	assert_true(b.max_queue > BULK_HIGH);
	assert_true(b.n_drain >= 1);
	assert_true(b.n_reads >= BULK_LEN / EV_TCP_CHUNK);
	ev_listener_free(b.l);
}

/* ---- TCP: drain accounting on a small write ---- */

struct drain1 {
	struct ev_loop *loop;
	struct ev_listener *l;
	struct ev_tcp *cli;
	struct ev_tcp *srv;
	size_t received;
	unsigned n_drain;
	size_t queue_at_drain;
};

static void
drain1_drain(void *arg)
{
	struct drain1 *d = arg;

	d->n_drain++;
	d->queue_at_drain = ev_tcp_write_queue(d->cli);
}

static void
drain1_srv_read(void *arg, const uint8_t *data, size_t len)
{
	struct drain1 *d = arg;

	(void)data;
	d->received += len;
	if (d->received == 3000)
		ev_loop_stop(d->loop);
}

static void
ignore_eof(void *arg, int status, int sys_errno)
{
	(void)arg;
	(void)status;
	(void)sys_errno;
}

static const struct ev_tcp_ops drain1_srv_ops = {
	.on_read = drain1_srv_read,
	.on_eof = ignore_eof,
};

static const struct ev_tcp_ops drain1_cli_ops = {
	.on_drain = drain1_drain,
	.on_eof = ignore_eof,
};

static void
drain1_accept(void *arg, struct ev_tcp *conn, const struct sockaddr_storage *peer)
{
	struct drain1 *d = arg;

	(void)peer;
	d->srv = conn;
	ev_tcp_set_ops(conn, &drain1_srv_ops, d);
	assert_int_equal(ev_tcp_read_start(conn), UM_OK);
}

static void
test_tcp_write_queue_counts_until_kernel_takes_bytes(void **state)
{
	struct drain1 d = { .loop = *state, .queue_at_drain = 1 };
	struct sockaddr_storage addr;
	struct watchdog w;
	uint8_t buf[3000];

	memset(buf, 0xa5, sizeof(buf));
	watchdog_start(&w, d.loop);
	d.l = listen_local(d.loop, drain1_accept, &d, &addr);
	assert_int_equal(
	        ev_tcp_connect(d.loop, (struct sockaddr *)&addr, &drain1_cli_ops, &d, &d.cli),
	        UM_OK);
	/* Default threshold 0: on_drain when the queue is empty again. */
	assert_int_equal(ev_tcp_write(d.cli, buf, 1000), UM_OK);
	assert_int_equal(ev_tcp_write(d.cli, buf, 2000), UM_OK);
	assert_int_equal(ev_tcp_write_queue(d.cli), 3000);
	assert_int_equal(d.n_drain, 0); /* never from inside the caller's write */
	assert_int_equal(ev_loop_run(d.loop), UM_OK);
	watchdog_finish(&w);

	assert_int_equal(d.received, 3000);
	assert_int_equal(ev_tcp_write_queue(d.cli), 0);
	assert_int_equal(d.n_drain, 1);
	assert_int_equal(d.queue_at_drain, 0);
	ev_tcp_close(d.cli);
	ev_tcp_close(d.srv);
	ev_listener_free(d.l);
}

/* ---- TCP: shutdown, half-close ---- */

struct shut {
	struct ev_loop *loop;
	struct ev_listener *l;
	struct ev_tcp *cli;
	struct ev_tcp *srv;
	char srv_got[16];
	size_t srv_len;
	char cli_got[16];
	size_t cli_len;
	bool srv_eof;
	bool cli_eof;
};

static void
shut_cli_connect(void *arg, int status)
{
	struct shut *s = arg;

	assert_int_equal(status, UM_OK);
	assert_int_equal(ev_tcp_write(s->cli, "bye", 3), UM_OK);
	ev_tcp_shutdown(s->cli);
	assert_int_equal(ev_tcp_write(s->cli, "x", 1), UM_ERR_CLOSED);
	/* Queued bytes still go out before the FIN. */
	assert_int_equal(ev_tcp_write_queue(s->cli), 3);
}

static void
shut_cli_read(void *arg, const uint8_t *data, size_t len)
{
	struct shut *s = arg;

	assert_true(s->cli_len + len < sizeof(s->cli_got));
	memcpy(s->cli_got + s->cli_len, data, len);
	s->cli_len += len;
}

static void
shut_cli_eof(void *arg, int status, int sys_errno)
{
	struct shut *s = arg;

	assert_int_equal(status, UM_OK);
	assert_int_equal(sys_errno, 0);
	s->cli_eof = true;
	ev_tcp_close(s->cli);
	s->cli = NULL;
	ev_loop_stop(s->loop);
}

static const struct ev_tcp_ops shut_cli_ops = {
	.on_connect = shut_cli_connect,
	.on_read = shut_cli_read,
	.on_eof = shut_cli_eof,
};

static void
shut_srv_read(void *arg, const uint8_t *data, size_t len)
{
	struct shut *s = arg;

	assert_true(s->srv_len + len < sizeof(s->srv_got));
	memcpy(s->srv_got + s->srv_len, data, len);
	s->srv_len += len;
}

static void
shut_srv_eof(void *arg, int status, int sys_errno)
{
	struct shut *s = arg;

	assert_int_equal(status, UM_OK);
	assert_int_equal(sys_errno, 0);
	s->srv_eof = true;
	assert_int_equal(ev_tcp_read_start(s->srv), UM_ERR_CLOSED);
	/* Half-close: the peer stopped sending but still reads our answer. */
	assert_int_equal(ev_tcp_write(s->srv, "ok", 2), UM_OK);
	ev_tcp_shutdown(s->srv);
}

static const struct ev_tcp_ops shut_srv_ops = {
	.on_read = shut_srv_read,
	.on_eof = shut_srv_eof,
};

static void
shut_accept(void *arg, struct ev_tcp *conn, const struct sockaddr_storage *peer)
{
	struct shut *s = arg;

	(void)peer;
	s->srv = conn;
	ev_tcp_set_ops(conn, &shut_srv_ops, s);
	assert_int_equal(ev_tcp_read_start(conn), UM_OK);
}

static void
test_tcp_shutdown_sends_fin_after_data(void **state)
{
	struct shut s = { .loop = *state };
	struct sockaddr_storage addr;
	struct watchdog w;

	watchdog_start(&w, s.loop);
	s.l = listen_local(s.loop, shut_accept, &s, &addr);
	assert_int_equal(
	        ev_tcp_connect(s.loop, (struct sockaddr *)&addr, &shut_cli_ops, &s, &s.cli), UM_OK);
	assert_int_equal(ev_tcp_read_start(s.cli), UM_OK);
	assert_int_equal(ev_loop_run(s.loop), UM_OK);
	watchdog_finish(&w);

	assert_true(s.srv_eof);
	assert_int_equal(s.srv_len, 3);
	assert_memory_equal(s.srv_got, "bye", 3);
	assert_true(s.cli_eof);
	assert_int_equal(s.cli_len, 2);
	assert_memory_equal(s.cli_got, "ok", 2);
	ev_tcp_close(s.srv);
	ev_listener_free(s.l);
}

/* ---- TCP: close inside on_read ---- */

struct closer {
	struct ev_loop *loop;
	struct ev_listener *l;
	struct ev_tcp *cli;
	struct ev_tcp *srv;
	unsigned srv_reads;
	bool srv_closed;
	int cli_eof_status;
	bool cli_eof;
};

enum { CLOSER_LEN = 512 * 1024 };

static void
closer_srv_read(void *arg, const uint8_t *data, size_t len)
{
	struct closer *c = arg;

	(void)data;
	(void)len;
	assert_false(c->srv_closed); /* no callback after close */
	c->srv_reads++;
	ev_tcp_close(c->srv);
	c->srv = NULL;
	c->srv_closed = true;
	/* Freeing the listener from a stream callback is fine too. */
	ev_listener_free(c->l);
}

static void
closer_srv_eof(void *arg, int status, int sys_errno)
{
	(void)arg;
	(void)status;
	(void)sys_errno;
	fail_msg("no callback after close");
}

static const struct ev_tcp_ops closer_srv_ops = {
	.on_read = closer_srv_read,
	.on_eof = closer_srv_eof,
};

static void
closer_cli_connect(void *arg, int status)
{
	struct closer *c = arg;
	uint8_t *big = calloc(1, CLOSER_LEN);

	assert_int_equal(status, UM_OK);
	assert_non_null(big);
	/* More than one chunk through ev_tcp_write(). */
	assert_int_equal(ev_tcp_write(c->cli, big, CLOSER_LEN), UM_OK);
	assert_int_equal(ev_tcp_write_queue(c->cli) <= CLOSER_LEN, true);
	free(big);
}

static void
closer_cli_read(void *arg, const uint8_t *data, size_t len)
{
	(void)arg;
	(void)data;
	(void)len;
}

static void
closer_cli_eof(void *arg, int status, int sys_errno)
{
	struct closer *c = arg;

	c->cli_eof = true;
	c->cli_eof_status = status;
	/* A reset may come as ECONNRESET on read or EPIPE on write. */
	if (status != UM_OK)
		assert_true(sys_errno == ECONNRESET || sys_errno == EPIPE);
	ev_tcp_close(c->cli);
	c->cli = NULL;
	ev_loop_stop(c->loop);
}

static const struct ev_tcp_ops closer_cli_ops = {
	.on_connect = closer_cli_connect,
	.on_read = closer_cli_read,
	.on_eof = closer_cli_eof,
};

static void
closer_accept(void *arg, struct ev_tcp *conn, const struct sockaddr_storage *peer)
{
	struct closer *c = arg;

	(void)peer;
	c->srv = conn;
	ev_tcp_set_ops(conn, &closer_srv_ops, c);
	assert_int_equal(ev_tcp_read_start(conn), UM_OK);
}

static void
test_tcp_close_inside_on_read(void **state)
{
	struct closer c = { .loop = *state };
	struct sockaddr_storage addr;
	struct watchdog w;

	watchdog_start(&w, c.loop);
	c.l = listen_local(c.loop, closer_accept, &c, &addr);
	assert_int_equal(
	        ev_tcp_connect(c.loop, (struct sockaddr *)&addr, &closer_cli_ops, &c, &c.cli),
	        UM_OK);
	assert_int_equal(ev_tcp_read_start(c.cli), UM_OK);
	assert_int_equal(ev_loop_run(c.loop), UM_OK);
	watchdog_finish(&w);

	assert_int_equal(c.srv_reads, 1);
	assert_true(c.srv_closed);
	assert_true(c.cli_eof);
}

/* ---- TCP: read_stop ---- */

struct pauser {
	struct ev_loop *loop;
	struct ev_listener *l;
	struct ev_tcp *cli;
	struct ev_tcp *srv;
	struct ev_timer *later;
	struct ev_timer *second;
	size_t received;
	unsigned reads_while_stopped;
	bool stopped;
};

static void
pauser_srv_read(void *arg, const uint8_t *data, size_t len)
{
	struct pauser *p = arg;

	(void)data;
	if (p->stopped)
		p->reads_while_stopped++;
	p->received += len;
	if (p->received == 2) {
		ev_loop_stop(p->loop);
		return;
	}
	/* Stop after the first byte; the second one is already on its way. */
	ev_tcp_read_stop(p->srv);
	assert_false(ev_tcp_is_reading(p->srv));
	p->stopped = true;
	ev_timer_start(p->second, 5, 0);
	ev_timer_start(p->later, 50, 0);
}

static const struct ev_tcp_ops pauser_srv_ops = {
	.on_read = pauser_srv_read,
	.on_eof = ignore_eof,
};

static void
pauser_resume(void *arg)
{
	struct pauser *p = arg;

	assert_int_equal(p->received, 1);
	p->stopped = false;
	assert_int_equal(ev_tcp_read_start(p->srv), UM_OK);
}

static void
pauser_cli_connect(void *arg, int status)
{
	struct pauser *p = arg;

	assert_int_equal(status, UM_OK);
	assert_int_equal(ev_tcp_write(p->cli, "a", 1), UM_OK);
}

static void
pauser_accept(void *arg, struct ev_tcp *conn, const struct sockaddr_storage *peer)
{
	struct pauser *p = arg;

	(void)peer;
	p->srv = conn;
	ev_tcp_set_ops(conn, &pauser_srv_ops, p);
	assert_int_equal(ev_tcp_read_start(conn), UM_OK);
}

static void
pauser_second(void *arg)
{
	struct pauser *p = arg;

	assert_int_equal(ev_tcp_write(p->cli, "b", 1), UM_OK);
}

static const struct ev_tcp_ops pauser_cli_ops = {
	.on_connect = pauser_cli_connect,
	.on_eof = ignore_eof,
};

static void
test_tcp_read_stop_holds_data_until_restart(void **state)
{
	struct pauser p = { .loop = *state };
	struct sockaddr_storage addr;
	struct watchdog w;

	watchdog_start(&w, p.loop);
	p.later = ev_timer_new(p.loop, pauser_resume, &p);
	p.second = ev_timer_new(p.loop, pauser_second, &p);
	p.l = listen_local(p.loop, pauser_accept, &p, &addr);
	assert_int_equal(
	        ev_tcp_connect(p.loop, (struct sockaddr *)&addr, &pauser_cli_ops, &p, &p.cli),
	        UM_OK);
	assert_int_equal(ev_loop_run(p.loop), UM_OK);
	watchdog_finish(&w);

	assert_int_equal(p.received, 2);
	assert_int_equal(p.reads_while_stopped, 0);
	ev_timer_free(p.later);
	ev_timer_free(p.second);
	ev_tcp_close(p.cli);
	ev_tcp_close(p.srv);
	ev_listener_free(p.l);
}

/* ---- TCP: refused connect ---- */

struct refused {
	struct ev_loop *loop;
	struct ev_tcp *cli;
	int status;
	int sys_errno;
	unsigned n;
};

static void
refused_connect(void *arg, int status)
{
	struct refused *r = arg;

	r->n++;
	r->status = status;
	r->sys_errno = errno;
	ev_tcp_close(r->cli);
	r->cli = NULL;
}

static const struct ev_tcp_ops refused_ops = {
	.on_connect = refused_connect,
	.on_eof = ignore_eof,
};

static void
test_tcp_connect_refused_reports_errno(void **state)
{
	struct refused r = { .loop = *state };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd;

	/* A port that was free a moment ago: bind, learn it, close. */
	loopback_any_port(&ss);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	close(fd);

	assert_int_equal(ev_tcp_connect(r.loop, (struct sockaddr *)&ss, &refused_ops, &r, &r.cli),
	                 UM_OK);
	assert_int_equal(ev_loop_run(r.loop), UM_OK);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.status, UM_ERR_SYS);
	assert_int_equal(r.sys_errno, ECONNREFUSED);
}

/* ---- loop teardown ---- */

struct leftover {
	struct ev_loop *loop;
	struct ev_tcp *cli;
	struct ev_tcp *srv;
};

static const struct ev_tcp_ops leftover_cli_ops = {
	.on_eof = ignore_eof,
};

static void
leftover_accept(void *arg, struct ev_tcp *conn, const struct sockaddr_storage *peer)
{
	struct leftover *o = arg;
	uint8_t *p;

	(void)peer;
	o->srv = conn;
	ev_tcp_set_ops(conn, &leftover_cli_ops, NULL);
	/* Unsent bytes and an open chunk at teardown. */
	assert_int_equal(ev_tcp_reserve(conn, 100, &p), UM_OK);
	memset(p, 1, 100);
	ev_tcp_commit(conn, 100);
	ev_loop_stop(o->loop);
}

static void
noop_timer(void *arg)
{
	(void)arg;
}

static void
noop_signal(void *arg, int signum)
{
	(void)arg;
	(void)signum;
}

static void
test_loop_free_closes_leftover_handles(void **state)
{
	struct leftover o = { 0 };
	struct sockaddr_storage addr;
	struct ev_listener *l;
	struct ev_timer *t;
	struct ev_signal *s;

	(void)state;
	/* Own loop: it is freed with everything still open, and LSan checks nothing leaks. */
	o.loop = ev_loop_new();
	t = ev_timer_new(o.loop, noop_timer, NULL);
	ev_timer_start(t, 60 * 1000, 0);
	s = ev_signal_new(o.loop, SIGUSR2, noop_signal, NULL);
	assert_non_null(s);
	l = listen_local(o.loop, leftover_accept, &o, &addr);
	assert_non_null(l); /* left open on purpose */
	assert_int_equal(
	        ev_tcp_connect(o.loop, (struct sockaddr *)&addr, &leftover_cli_ops, &o, &o.cli),
	        UM_OK);
	assert_int_equal(ev_tcp_write(o.cli, "pending", 7), UM_OK);
	assert_int_equal(ev_loop_run(o.loop), UM_OK);
	assert_non_null(o.srv);
	ev_loop_free(o.loop);
	assert_null(o.loop);
}

/* ---- addresses ---- */

struct addr_case {
	const char *in;
	int family;      /* 0: must be rejected */
	const char *out; /* expected ev_addr_format() output */
};

static const struct addr_case addr_cases[] = {
	/* 1 */ { "1.2.3.4:80", AF_INET, "1.2.3.4:80" },
	/* 2 */ { "127.0.0.1:65535", AF_INET, "127.0.0.1:65535" },
	/* 3 */ { "0.0.0.0:1", AF_INET, "0.0.0.0:1" },
	/* 4 */ { "[::1]:80", AF_INET6, "[::1]:80" },
	/* 5 */ { "[2001:db8::1]:9050", AF_INET6, "[2001:db8::1]:9050" },
	/* 6 */ { "[::ffff:1.2.3.4]:443", AF_INET6, "[::ffff:1.2.3.4]:443" },
	/* 7 */ { "[2001:DB8:0:0:0:0:0:1]:1", AF_INET6, "[2001:db8::1]:1" },
	/* 8 */ { "", 0, NULL },
	/* 9 */ { "1.2.3.4", 0, NULL },
	/* 10 */ { "1.2.3.4:", 0, NULL },
	/* 11 */ { "1.2.3.4:0", 0, NULL },
	/* 12 */ { "1.2.3.4:65536", 0, NULL },
	/* 13 */ { "1.2.3.4:99999999999", 0, NULL },
	/* 14 */ { "1.2.3.4:80x", 0, NULL },
	/* 15 */ { "1.2.3.4:80 ", 0, NULL },
	/* 16 */ { " 1.2.3.4:80", 0, NULL },
	/* 17 */ { "1.2.3.4:+80", 0, NULL },
	/* 18 */ { "1.2.3.4:-1", 0, NULL },
	/* 19 */ { "1.2.3.4:080", 0, NULL },
	/* 20 */ { "localhost:80", 0, NULL },
	/* 21 */ { "example.com:443", 0, NULL },
	/* 22 */ { "1.2.3:80", 0, NULL },
	/* 23 */ { "256.1.1.1:80", 0, NULL },
	/* 24 */ { "01.2.3.4:80", 0, NULL },
	/* 25 */ { "0x7f.0.0.1:80", 0, NULL },
	/* 26 */ { "[::1]", 0, NULL },
	/* 27 */ { "[::1]80", 0, NULL },
	/* 28 */ { "[::1]:", 0, NULL },
	/* 29 */ { "[::1]:80]", 0, NULL },
	/* 30 */ { "::1", 0, NULL },
	/* 31 */ { "::1:80", 0, NULL },
	/* 32 */ { "[1.2.3.4]:80", 0, NULL },
	/* 33 */ { "[fe80::1%eth0]:80", 0, NULL },
	/* 34 */ { "[]:80", 0, NULL },
	/* 35 */ { ":80", 0, NULL },
	/* 36 */ { "[::1:80", 0, NULL },
	/* 37 */ { "1.2.3.4:80:80", 0, NULL },
	/* 38 */ { "[2001:db8:0:0:0:0:0:0:1]:80", 0, NULL },
};

static void
test_addr_parse_format_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(addr_cases); i++) {
		const struct addr_case *c = &addr_cases[i];
		struct sockaddr_storage ss;
		socklen_t len = 99;
		char out[EV_ADDR_STRLEN];
		int ret = ev_addr_parse(c->in, &ss, &len);

		if (c->family == 0) {
			if (ret != UM_ERR_INVALID)
				fail_msg("case %zu \"%s\": accepted", i + 1, c->in);
			assert_int_equal(len, 0);
			continue;
		}
		if (ret != UM_OK)
			fail_msg("case %zu \"%s\": rejected", i + 1, c->in);
		assert_int_equal(ss.ss_family, c->family);
		assert_int_equal(len, c->family == AF_INET ? sizeof(struct sockaddr_in)
		                                           : sizeof(struct sockaddr_in6));
		assert_int_equal(ev_addr_format((struct sockaddr *)&ss, out, sizeof(out)), UM_OK);
		assert_string_equal(out, c->out);
	}
}

static void
test_addr_format_errors(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_un sun;
	socklen_t len;
	char small[8];
	char out[EV_ADDR_STRLEN];

	(void)state;
	assert_int_equal(ev_addr_parse("[2001:db8::1]:9050", &ss, &len), UM_OK);
	assert_int_equal(ev_addr_format((struct sockaddr *)&ss, small, sizeof(small)),
	                 UM_ERR_TOO_LARGE);
	assert_string_equal(small, "");
	assert_int_equal(ev_addr_parse(NULL, &ss, &len), UM_ERR_INVALID);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_int_equal(ev_addr_format((struct sockaddr *)&sun, out, sizeof(out)), UM_ERR_INVALID);
	/* The longest IPv6 form fits in EV_ADDR_STRLEN. */
	assert_int_equal(
	        ev_addr_parse("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535", &ss, &len),
	        UM_OK);
	assert_int_equal(ev_addr_format((struct sockaddr *)&ss, out, sizeof(out)), UM_OK);
}

/* ---- Unix listening socket ---- */

static void
test_unix_listen_mode_and_refusals(void **state)
{
	char dir[] = "/tmp/um-evloop-XXXXXX";
	char path[128], file[128];
	struct sockaddr_un sun;
	struct stat st;
	mode_t old_mask;
	int fd, fd2, c, flags;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/control.sock", dir);
	snprintf(file, sizeof(file), "%s/regular", dir);

	/* The mode holds whatever the process umask is. */
	old_mask = umask(0);
	assert_int_equal(ev_unix_listen(path, 0600, &fd), UM_OK);
	umask(old_mask);
	assert_true(fd >= 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	flags = fcntl(fd, F_GETFL);
	assert_true((flags & O_NONBLOCK) != 0);
	assert_true((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);

	/* It accepts connections. */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(c >= 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(c);

	/* A live socket is not replaced. */
	assert_int_equal(ev_unix_listen(path, 0600, &fd2), UM_ERR_EXISTS);
	assert_int_equal(fd2, -1);

	/* A stale one (its server is gone) is. */
	close(fd);
	assert_int_equal(ev_unix_listen(path, 0660, &fd), UM_OK);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	close(fd);

	/* Any other kind of file is never removed. */
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("keep me", f);
	fclose(f);
	assert_int_equal(ev_unix_listen(file, 0600, &fd), UM_ERR_EXISTS);
	assert_int_equal(fd, -1);
	assert_int_equal(lstat(file, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 7);
	assert_int_equal(ev_unix_listen(dir, 0600, &fd), UM_ERR_EXISTS);

	/* Bad arguments. */
	assert_int_equal(ev_unix_listen("", 0600, &fd), UM_ERR_INVALID);
	assert_int_equal(ev_unix_listen(path, 01777, &fd), UM_ERR_INVALID);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(unlink(file), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* ---- deferred work ---- */

struct defer_state {
	struct ev_loop *loop;
	struct ev_defer *d;
	unsigned runs;
	unsigned timer_runs;
};

static void
defer_again_cb(void *arg)
{
	struct defer_state *st = arg;

	st->runs++;
	/* Re-scheduled from its own callback, twice: still one run per iteration. */
	ev_defer_schedule(st->d);
	ev_defer_schedule(st->d);
}

static void
defer_stop_timer_cb(void *arg)
{
	struct defer_state *st = arg;

	st->timer_runs++;
	ev_loop_stop(st->loop);
}

/* A defer that keeps re-scheduling itself must not starve timers or I/O (a 0 ms timer
 * re-armed from its callback does: libuv runs it again within the same timer phase). */
static void
test_defer_never_starves_the_loop(void **state)
{
	struct defer_state st = { .loop = *state };
	struct ev_timer *t = ev_timer_new(st.loop, defer_stop_timer_cb, &st);
	uint64_t start = um_mono_ms();

	st.d = ev_defer_new(st.loop, defer_again_cb, &st);
	ev_defer_schedule(st.d);
	ev_timer_start(t, 20, 0);
	assert_int_equal(ev_loop_run(st.loop), UM_OK);
	assert_int_equal(st.timer_runs, 1);
	assert_true(st.runs >= 2);
	assert_true(um_mono_ms() - start < 2000);
	ev_defer_free(st.d);
	ev_timer_free(t);
}

static void
defer_free_self_cb(void *arg)
{
	struct defer_state *st = arg;

	st->runs++;
	ev_defer_free(st->d);
	ev_loop_stop(st->loop);
}

static void
test_defer_free_inside_own_callback(void **state)
{
	struct defer_state st = { .loop = *state };

	st.d = ev_defer_new(st.loop, defer_free_self_cb, &st);
	ev_defer_schedule(st.d);
	assert_int_equal(ev_loop_run(st.loop), UM_OK);
	assert_int_equal(st.runs, 1);
	assert_null(st.d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_loop, teardown_loop)
		T(test_timer_oneshot_fires_once_after_timeout),
		T(test_timer_repeat_stops_and_restarts),
		T(test_timer_restart_replaces_timeout),
		T(test_timer_free_inside_own_callback),
		T(test_timer_stop_before_run_never_fires),
		T(test_signal_delivered_on_loop_thread),
		T(test_defer_never_starves_the_loop),
		T(test_defer_free_inside_own_callback),
		T(test_tcp_connect_from_source_address),
		T(test_tcp_echo_between_listener_and_connector),
		T(test_tcp_abort_resets_the_peer),
		T(test_tcp_abort_after_shutdown_resets_the_peer),
		T(test_tcp_8mib_reserve_commit_with_drain),
		T(test_tcp_write_queue_counts_until_kernel_takes_bytes),
		T(test_tcp_shutdown_sends_fin_after_data),
		T(test_tcp_close_inside_on_read),
		T(test_tcp_read_stop_holds_data_until_restart),
		T(test_tcp_connect_refused_reports_errno),
		cmocka_unit_test(test_loop_free_closes_leftover_handles),
		cmocka_unit_test(test_addr_parse_format_table),
		cmocka_unit_test(test_addr_format_errors),
		cmocka_unit_test(test_unix_listen_mode_and_refusals),
#undef T
	};

	return cmocka_run_group_tests_name("evloop", tests, NULL, NULL);
}
