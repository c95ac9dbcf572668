/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/front/front_io (the client's proxy ports) on a real event loop, with an
 * application on a plain socket (a 4 KB receive buffer, so what the front queues toward it
 * stays mostly in the front's own queue) and the circuit layer replaced by a stand-in for the
 * seven circ_io_stream_* calls front_io makes (defined below; the linker then never takes
 * circuit_io.o). A SOCKS5 CONNECT opens a stream, the "exit" sends 6 MB and END(DONE), the
 * application half-closes: the connection lingers while bytes are queued. Checked: an
 * application that reads slowly but steadily gets every byte and a clean EOF, though that
 * takes several linger periods (progress restarts the timer); one that reads nothing gets a
 * reset (ECONNRESET) once the linger period passed, never a clean EOF after a cut.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/time.h"
#include "evloop/evloop.h"
#include "circuit/circuit_io.h"
#include "front/front_io.h"

enum {
	WATCHDOG_MS = 20 * 1000,
	LINGER_MS = 1000,
	APP_BYTES = 6 * 1024 * 1024, /* the exit's data: twice what kernel buffers take */
	PIECE = 16 * 1024,
	SOCKS_REPLY_LEN = 2 + 10, /* SOCKS5 method choice, then success with an IPv4 address */
};

/* ---- the circuit layer's stand-in: one stream at a time ---- */

struct circ_io_stream {
	const struct circ_io_stream_ops *ops;
	void *arg;
	bool open;
	bool shut;     /* the application's EOF became our END(DONE) */
	bool rcvd_end; /* the exit's END(DONE) */
	bool closed;
	uint8_t close_reason;
};

static struct circ_io_stream g_st;

int
circ_io_stream_open(struct circ_io *io, const struct circ_io_stream_req *req,
                    const struct circ_io_stream_ops *ops, void *arg, struct circ_io_stream **out)
{
	(void)io;
	(void)req;
	memset(&g_st, 0, sizeof(g_st));
	g_st.ops = ops;
	g_st.arg = arg;
	g_st.open = true;
	*out = &g_st;
	return UM_OK;
}

int
circ_io_stream_write(struct circ_io_stream *s, const uint8_t *p, size_t n)
{
	(void)s;
	(void)p;
	(void)n;
	return UM_OK;
}

bool
circ_io_stream_writable(const struct circ_io_stream *s)
{
	(void)s;
	return true;
}

void
circ_io_stream_drained(struct circ_io_stream *s, size_t n, size_t buffered)
{
	(void)s;
	(void)n;
	(void)buffered;
}

void
circ_io_stream_shutdown(struct circ_io_stream *s)
{
	s->shut = true;
}

bool
circ_io_stream_finished(const struct circ_io_stream *s)
{
	return s->shut && s->rcvd_end;
}

void
circ_io_stream_close(struct circ_io_stream *s, uint8_t reason)
{
	if (s == NULL)
		return;
	s->closed = true;
	s->close_reason = reason;
}

/* ---- fixture ---- */

struct fx {
	struct ev_loop *loop;
	struct front_io *front;
	struct ev_timer *watchdog, *poll;
	bool timed_out;
	bool (*until)(struct fx *);
	int app;    /* the application's socket */
	size_t got; /* bytes it read (the SOCKS reply included) */
	bool eof;
	int err;
	uint64_t next_read_ms;
};

static void
watchdog_cb(void *arg)
{
	struct fx *f = arg;

	f->timed_out = true;
	ev_loop_stop(f->loop);
}

static void
poll_cb(void *arg)
{
	struct fx *f = arg;

	if (f->until != NULL && f->until(f))
		ev_loop_stop(f->loop);
}

static void
run_until(struct fx *f, bool (*until)(struct fx *))
{
	f->until = until;
	f->timed_out = false;
	ev_timer_start(f->watchdog, WATCHDOG_MS, 0);
	ev_timer_start(f->poll, 1, 1);
	if (!until(f))
		assert_int_equal(ev_loop_run(f->loop), UM_OK);
	ev_timer_stop(f->watchdog);
	ev_timer_stop(f->poll);
	assert_false(f->timed_out);
}

static uint64_t g_deadline_ms;

static bool
past_deadline(struct fx *f)
{
	(void)f;
	return um_mono_ms() >= g_deadline_ms;
}

static void
run_for(struct fx *f, uint64_t ms)
{
	g_deadline_ms = um_mono_ms() + ms;
	run_until(f, past_deadline);
}

static bool
stream_opened(struct fx *f)
{
	(void)f;
	return g_st.open;
}

/* A loopback port free a moment ago (proxy addresses take no port 0). */
static uint16_t
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct front_io_env env;
	char why[128], addr[32];

	f->loop = ev_loop_new();
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)free_port());
	memset(&env, 0, sizeof(env));
	env.loop = f->loop;
	env.circ = (struct circ_io *)(void *)f; /* never dereferenced by the stand-in */
	env.socks_listen = addr;
	env.max_conns = 8;
	env.linger_ms = LINGER_MS;
	assert_int_equal(front_io_new(&env, &f->front, why, sizeof(why)), UM_OK);
	f->watchdog = ev_timer_new(f->loop, watchdog_cb, f);
	f->poll = ev_timer_new(f->loop, poll_cb, f);
	f->app = -1;
	memset(&g_st, 0, sizeof(g_st));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	front_io_free(f->front);
	ev_timer_free(f->watchdog);
	ev_timer_free(f->poll);
	ev_loop_free(f->loop);
	if (f->app >= 0)
		close(f->app);
	free(f);
	return 0;
}

/* Read up to max bytes without blocking; note EOF or an error. */
static void
app_read(struct fx *f, size_t max)
{
	uint8_t b[16384];

	while (max > 0 && !f->eof && f->err == 0) {
		ssize_t n = recv(f->app, b, max < sizeof(b) ? max : sizeof(b), MSG_DONTWAIT);

		if (n > 0) {
			f->got += (size_t)n;
			max -= (size_t)n;
		} else if (n == 0) {
			f->eof = true;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return;
		} else if (errno != EINTR) {
			f->err = errno;
		}
	}
}

/*
 * The application connects through SOCKS5, the stream opens, the exit's APP_BYTES and
 * END(DONE) come, the application half-closes: the front lingers with most of the bytes
 * still queued toward an application that has read nothing yet.
 */
static void
lingering_with_backlog(struct fx *f)
{
	static const uint8_t req[] = { 5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80 };
	struct circ_io_stream_result res;
	struct sockaddr_storage ss;
	socklen_t len;
	uint8_t *piece = malloc(PIECE);
	int small = 4096;

	assert_int_equal(ev_addr_parse(front_io_socks_addr(f->front), &ss, &len), UM_OK);
	f->app = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->app >= 0);
	assert_int_equal(setsockopt(f->app, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	assert_int_equal(connect(f->app, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(send(f->app, req, sizeof(req), 0), (ssize_t)sizeof(req));
	run_until(f, stream_opened);
	memset(&res, 0, sizeof(res));
	res.status = UM_OK;
	res.addr_type = RELAY_HOST_IPV4;
	res.addr[0] = 127;
	res.addr[3] = 1;
	g_st.ops->on_open(g_st.arg, &res);
	memset(piece, 'd', PIECE);
	for (size_t off = 0; off < APP_BYTES; off += PIECE) {
		g_st.ops->on_data(g_st.arg, piece, PIECE);
		if (off % (1024 * 1024) == 0)
			run_for(f, 10);
	}
	g_st.rcvd_end = true;
	g_st.ops->on_end(g_st.arg, RELAY_END_DONE);
	assert_int_equal(shutdown(f->app, SHUT_WR), 0);
	run_for(f, 50);
	assert_true(g_st.closed); /* END both ways: the stream is gone, the socket lingers */
	assert_int_equal(g_st.close_reason, RELAY_END_DONE);
	free(piece);
}

static size_t
n_conns(const struct fx *f)
{
	struct front_io_stats st;

	front_io_stats(f->front, &st);
	return st.conns;
}

static bool
conn_gone_or_late(struct fx *f)
{
	return n_conns(f) == 0 || um_mono_ms() >= g_deadline_ms;
}

static void
test_linger_without_progress_resets(void **state)
{
	struct fx *f = *state;
	uint64_t t0;

	lingering_with_backlog(f);
	t0 = um_mono_ms();
	g_deadline_ms = t0 + 8000;
	run_until(f, conn_gone_or_late);
	assert_int_equal(n_conns(f), 0);
	assert_true(um_mono_ms() - t0 >= LINGER_MS);
	/* What reached the application's buffers, then a reset: never a clean end. */
	while (!f->eof && f->err == 0) {
		app_read(f, SIZE_MAX);
		run_for(f, 5);
	}
	assert_false(f->eof);
	assert_int_equal(f->err, ECONNRESET);
	assert_true(f->got < SOCKS_REPLY_LEN + APP_BYTES);
}

/* The application reads 16 KB every 10 ms (~1.6 MB/s: several linger periods in all). */
static bool
app_done(struct fx *f)
{
	uint64_t now = um_mono_ms();

	if (now >= f->next_read_ms) {
		app_read(f, PIECE);
		f->next_read_ms = now + 10;
	}
	return f->eof || f->err != 0;
}

static void
test_linger_with_progress_delivers_everything(void **state)
{
	struct fx *f = *state;
	uint64_t t0;

	lingering_with_backlog(f);
	t0 = um_mono_ms();
	run_until(f, app_done);
	/* Longer than the linger period, but each byte taken restarted it. */
	assert_true(um_mono_ms() - t0 > 2 * LINGER_MS);
	assert_int_equal(f->err, 0);
	assert_true(f->eof);
	assert_int_equal(f->got, SOCKS_REPLY_LEN + APP_BYTES);
	run_for(f, 50);
	assert_int_equal(n_conns(f), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_linger_without_progress_resets, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_linger_with_progress_delivers_everything,
		                                setup, teardown),
	};

	return cmocka_run_group_tests_name("front_io", tests, NULL, NULL);
}
