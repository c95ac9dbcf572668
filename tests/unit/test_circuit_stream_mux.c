/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/circuit/stream_mux (the streams of one circuit end): two muxes joined
 * back to back by in-memory message queues (a client end and an exit end), with a per-direction
 * running digest standing in for relay crypto. Checked: 1 MiB each way arrives intact and in
 * order through the Vegas window and authenticated SENDMEs; the sender stops at the window
 * (124 cells) while no SENDME comes back and at the link queue cap, and its stream stops being
 * writable once its buffer is full; the receiver acks every 31st DATA cell with its digest; a
 * SENDME with a wrong digest, one nobody asked for, and a malformed one are violations; XOFF stops
 * the sending owner and XON resumes it; SENDMEs wait while the circuit's sinks hold more than
 * SMUX_CIRC_RECV_MAX (released by a drain, or a freed stream and a pump; a sender that goes on
 * runs out of deliver window); END(DONE) is a half-close (the other direction keeps
 * flowing), an abort END drops what was buffered; closing the mux ends every stream with DESTROY;
 * at most 256 streams. Simulated time only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "circuit/cc.h"
#include "circuit/stream_mux.h"

#define MS 1000000ULL

struct qmsg {
	uint8_t cmd;
	uint16_t sid;
	uint8_t data[RELAY_DATA_MAX];
	size_t len;
	uint8_t digest[RELAY_DIGEST_LEN];
};

/* One direction: what a mux sent, waiting to be delivered to the other. */
struct pipe {
	struct qmsg *q;
	size_t n, cap, head;
	uint64_t ctr; /* the "relay digest" is the cell counter, spread over 16 bytes */
};

struct end {
	struct smux *m;
	struct pipe out;
	size_t link_q; /* what ops->queued reports */
	int violations;
	int other_msgs;
};

struct app {
	uint8_t *rx;
	size_t rx_len, rx_cap;
	size_t report_buffered; /* what on_data returns */
	bool stuck;             /* on_data returns everything received (nothing drains) */
	int ends;
	uint8_t end_reason;
	int writable;
};

static void
digest_of(uint64_t ctr, uint8_t d[RELAY_DIGEST_LEN])
{
	for (int i = 0; i < RELAY_DIGEST_LEN; i++)
		d[i] = (uint8_t)(ctr >> ((i % 8) * 8)) ^ (uint8_t)i;
}

static int
op_send(void *arg, uint8_t cmd, uint16_t sid, const uint8_t *data, size_t len,
        uint8_t digest[RELAY_DIGEST_LEN])
{
	struct end *e = arg;
	struct qmsg *m;

	assert_true(len <= RELAY_DATA_MAX);
	if (e->out.n == e->out.cap) {
		e->out.cap = e->out.cap ? 2 * e->out.cap : 64;
		e->out.q = realloc(e->out.q, e->out.cap * sizeof(*e->out.q));
	}
	m = &e->out.q[e->out.n++];
	m->cmd = cmd;
	m->sid = sid;
	memcpy(m->data, data, len);
	m->len = len;
	digest_of(++e->out.ctr, m->digest);
	memcpy(digest, m->digest, RELAY_DIGEST_LEN);
	return UM_OK;
}

static size_t
op_queued(void *arg)
{
	return ((struct end *)arg)->link_q;
}

static void
op_on_msg(void *arg, uint8_t cmd, uint16_t sid, const uint8_t *data, size_t len)
{
	(void)cmd;
	(void)sid;
	(void)data;
	(void)len;
	((struct end *)arg)->other_msgs++;
}

static void
op_violation(void *arg, const char *why)
{
	(void)why;
	((struct end *)arg)->violations++;
}

static void
end_init(struct end *e, enum flow_side side)
{
	struct smux_ops ops = { .send = op_send,
		                .queued = op_queued,
		                .on_msg = op_on_msg,
		                .on_violation = op_violation,
		                .arg = e };

	memset(e, 0, sizeof(*e));
	assert_int_equal(smux_new(side, &ops, &e->m), UM_OK);
}

static void
end_clear(struct end *e)
{
	smux_free(e->m);
	free(e->out.q);
}

/* Deliver what from sent (up to max messages; 0: all) into to. Returns messages delivered. */
static size_t
deliver(struct end *from, struct end *to, size_t max, uint64_t now)
{
	size_t n = 0;

	while (from->out.head < from->out.n && (max == 0 || n < max)) {
		struct qmsg m = from->out.q[from->out.head++];

		smux_on_msg(to->m, m.cmd, m.sid, m.data, m.len, m.digest, now);
		n++;
	}
	if (from->out.head == from->out.n)
		from->out.head = from->out.n = 0;
	return n;
}

static size_t
count_cmd(const struct end *e, uint8_t cmd)
{
	size_t n = 0;

	for (size_t i = e->out.head; i < e->out.n; i++)
		n += e->out.q[i].cmd == cmd;
	return n;
}

static size_t
app_on_data(void *arg, const uint8_t *p, size_t n)
{
	struct app *a = arg;

	if (a->rx_len + n > a->rx_cap) {
		a->rx_cap = (a->rx_len + n) * 2;
		a->rx = realloc(a->rx, a->rx_cap);
	}
	memcpy(a->rx + a->rx_len, p, n);
	a->rx_len += n;
	return a->stuck ? a->rx_len : a->report_buffered;
}

static void
app_on_end(void *arg, uint8_t reason)
{
	struct app *a = arg;

	a->ends++;
	a->end_reason = reason;
}

static void
app_on_writable(void *arg)
{
	((struct app *)arg)->writable++;
}

static const struct smux_stream_ops app_ops = {
	.on_data = app_on_data,
	.on_end = app_on_end,
	.on_writable = app_on_writable,
};

static uint8_t *
pattern(size_t n, uint8_t seed)
{
	uint8_t *p = malloc(n);

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed + (i >> 9));
	return p;
}

static void
test_bulk_both_ways_intact(void **state)
{
	struct end c, x;
	struct app ca = { 0 }, xa = { 0 };
	struct smux_stream *cs, *xs;
	const size_t N = 1024 * 1024;
	uint8_t *up = pattern(N, 1), *down = pattern(N, 7);
	size_t up_off = 0, down_off = 0;
	uint64_t now = 1000 * MS;

	(void)state;
	end_init(&c, FLOW_SIDE_CLIENT);
	end_init(&x, FLOW_SIDE_EXIT);
	assert_int_equal(smux_stream_new(c.m, 5, &app_ops, &ca, &cs), UM_OK);
	assert_int_equal(smux_stream_new(x.m, 5, &app_ops, &xa, &xs), UM_OK);
	for (int round = 0; round < 100000 && (xa.rx_len < N || ca.rx_len < N); round++) {
		/* Owners feed while their streams take more. */
		while (up_off < N && smux_stream_writable(cs)) {
			size_t k = N - up_off < 20000 ? N - up_off : 20000;

			assert_int_equal(smux_stream_write(cs, up + up_off, k, now), UM_OK);
			up_off += k;
		}
		while (down_off < N && smux_stream_writable(xs)) {
			size_t k = N - down_off < 30000 ? N - down_off : 30000;

			assert_int_equal(smux_stream_write(xs, down + down_off, k, now), UM_OK);
			down_off += k;
		}
		/* The window never lets more than cwnd cells be in flight. */
		assert_true(smux_inflight(c.m) <= smux_cwnd(c.m));
		assert_true(smux_inflight(x.m) <= smux_cwnd(x.m));
		now += 5 * MS;
		deliver(&c, &x, 0, now);
		deliver(&x, &c, 0, now);
	}
	assert_int_equal(xa.rx_len, N);
	assert_int_equal(ca.rx_len, N);
	assert_memory_equal(xa.rx, up, N);
	assert_memory_equal(ca.rx, down, N);
	assert_int_equal(c.violations + x.violations, 0);
	/* The window grew in slow start: acks came back every 31 cells. */
	assert_true(smux_cwnd(c.m) > CC_CWND_INIT);
	smux_stream_free(cs);
	smux_stream_free(xs);
	end_clear(&c);
	end_clear(&x);
	free(up);
	free(down);
	free(ca.rx);
	free(xa.rx);
}

static void
test_window_and_queue_stop_the_sender(void **state)
{
	struct end c, x;
	struct app ca = { 0 }, xa = { 0 };
	struct smux_stream *cs, *xs;
	uint8_t *p = pattern(SMUX_SEND_BUF_MAX * 2, 3);
	size_t data;

	(void)state;
	end_init(&c, FLOW_SIDE_CLIENT);
	end_init(&x, FLOW_SIDE_EXIT);
	assert_int_equal(smux_stream_new(c.m, 1, &app_ops, &ca, &cs), UM_OK);
	assert_int_equal(smux_stream_new(x.m, 1, &app_ops, &xa, &xs), UM_OK);
	/* A link queue over the cap: nothing is packaged. */
	c.link_q = SMUX_QUEUE_MAX;
	assert_int_equal(smux_stream_write(cs, p, 10000, MS), UM_OK);
	assert_int_equal(count_cmd(&c, RELAY_DATA), 0);
	assert_int_equal(smux_stream_buffered(cs), 10000);
	assert_true(smux_link_blocked(c.m)); /* Vegas knows */
	/* The link drains: packaging resumes, up to the window only. */
	c.link_q = 0;
	smux_pump(c.m, 2 * MS);
	assert_false(smux_link_blocked(c.m));
	assert_int_equal(smux_stream_buffered(cs), 0);
	assert_int_equal(smux_stream_write(cs, p, SMUX_SEND_BUF_MAX * 2, 3 * MS), UM_OK);
	data = count_cmd(&c, RELAY_DATA);
	assert_int_equal(data, CC_CWND_INIT);
	assert_false(smux_stream_writable(cs)); /* its buffer is over the cap */
	/* Deliver everything: the exit answers with SENDMEs (one per 31 cells) ... */
	deliver(&c, &x, 0, 4 * MS);
	assert_int_equal(count_cmd(&x, RELAY_SENDME), CC_CWND_INIT / CC_SENDME_INC);
	/* ... which open the window again and let the owner read once the buffer drains. */
	deliver(&x, &c, 0, 50 * MS);
	assert_true(count_cmd(&c, RELAY_DATA) > 0);
	assert_int_equal(c.violations + x.violations, 0);
	smux_stream_free(cs);
	smux_stream_free(xs);
	end_clear(&c);
	end_clear(&x);
	free(p);
	free(ca.rx);
	free(xa.rx);
}

static void
test_bad_sendmes_are_violations(void **state)
{
	struct end c, x;
	struct app ca = { 0 }, xa = { 0 };
	struct smux_stream *cs, *xs;
	uint8_t *p = pattern(40 * RELAY_DATA_MAX, 5);
	uint8_t b[64];
	struct wire_wr w = { .p = b, .cap = sizeof(b), .len = 0 };
	struct relay_sendme sm;
	uint8_t dg[RELAY_DIGEST_LEN] = { 0 };

	(void)state;
	end_init(&c, FLOW_SIDE_CLIENT);
	end_init(&x, FLOW_SIDE_EXIT);
	assert_int_equal(smux_stream_new(c.m, 1, &app_ops, &ca, &cs), UM_OK);
	assert_int_equal(smux_stream_new(x.m, 1, &app_ops, &xa, &xs), UM_OK);
	/* No DATA sent yet: a SENDME acks nothing. */
	memset(&sm, 0xab, sizeof(sm));
	assert_int_equal(relay_sendme_write(&w, &sm), UM_OK);
	smux_on_msg(c.m, RELAY_SENDME, 0, b, w.len, dg, MS);
	assert_int_equal(c.violations, 1);
	/* 31 cells sent: a SENDME with another digest than the 31st cell's is refused. */
	assert_int_equal(smux_stream_write(cs, p, 40 * RELAY_DATA_MAX, MS), UM_OK);
	smux_on_msg(c.m, RELAY_SENDME, 0, b, w.len, dg, 2 * MS);
	assert_int_equal(c.violations, 2);
	/* A malformed SENDME too. */
	smux_on_msg(c.m, RELAY_SENDME, 0, b, 3, dg, 2 * MS);
	assert_int_equal(c.violations, 3);
	/* The genuine one is accepted. */
	deliver(&c, &x, 0, 3 * MS);
	deliver(&x, &c, 0, 4 * MS);
	assert_int_equal(c.violations, 3);
	assert_int_equal(x.violations, 0);
	smux_stream_free(cs);
	smux_stream_free(xs);
	end_clear(&c);
	end_clear(&x);
	free(p);
	free(ca.rx);
	free(xa.rx);
}

static void
test_sendme_every_31_cells(void **state)
{
	struct end x;
	struct app xa = { 0 };
	struct smux_stream *xs;
	uint8_t d[RELAY_DIGEST_LEN] = { 1 };
	uint8_t byte = 'x';

	(void)state;
	end_init(&x, FLOW_SIDE_EXIT);
	assert_int_equal(smux_stream_new(x.m, 1, &app_ops, &xa, &xs), UM_OK);
	/* The receiver sends a SENDME for every 31st DATA cell as it arrives (prop 324: the
	 * circuit window acks receipt; a slow application is paced by XOFF, and SENDMEs wait
	 * only while the circuit's sinks hold over SMUX_CIRC_RECV_MAX: see below), so the
	 * deliver window (5000) never runs out for a sender that waits for them; each SENDME
	 * carries the digest of the cell that triggered it. */
	for (int i = 0; i < 20000 && x.violations == 0; i++)
		smux_on_msg(x.m, RELAY_DATA, 1, &byte, 1, d, MS);
	assert_int_equal(x.violations, 0);
	assert_int_equal(count_cmd(&x, RELAY_SENDME), 20000 / CC_SENDME_INC);
	{
		struct relay_sendme sm;
		const struct qmsg *m = &x.out.q[0];

		assert_int_equal(m->cmd, RELAY_SENDME);
		assert_int_equal(m->sid, 0);
		assert_int_equal(relay_sendme_parse(m->data, m->len, &sm), UM_OK);
		assert_memory_equal(sm.digest, d, RELAY_DIGEST_LEN);
	}
	smux_stream_free(xs);
	end_clear(&x);
	free(xa.rx);
}

static void
test_recv_budget_holds_sendmes(void **state)
{
	struct end x;
	struct app a1 = { 0 }, a2 = { 0 };
	struct smux_stream *s1, *s2;
	uint8_t d[RELAY_DIGEST_LEN];
	uint8_t byte = 'x';
	int cells = 0;

	(void)state;
	end_init(&x, FLOW_SIDE_EXIT);
	assert_int_equal(smux_stream_new(x.m, 1, &app_ops, &a1, &s1), UM_OK);
	assert_int_equal(smux_stream_new(x.m, 2, &app_ops, &a2, &s2), UM_OK);
	/* Two sinks that take nothing, each holding just over half the circuit's budget:
	 * neither is over anything on its own (below the XOFF hard cap), together they are. */
	a1.report_buffered = SMUX_CIRC_RECV_MAX / 2 + 1;
	a2.report_buffered = SMUX_CIRC_RECV_MAX / 2 + 1;
	for (int i = 0; i < 2 * CC_SENDME_INC; i++, cells++) {
		digest_of((uint64_t)cells + 1, d);
		smux_on_msg(x.m, RELAY_DATA, (uint16_t)(1 + i % 2), &byte, 1, d, MS);
	}
	assert_true(smux_recv_queued(x.m) > SMUX_CIRC_RECV_MAX);
	/* The SENDMEs fell due but wait: the client's window stays shut. */
	assert_int_equal(count_cmd(&x, RELAY_SENDME), 0);
	assert_int_equal(smux_sendmes_held(x.m), 2);
	/* One sink drains: back within the budget, both go, with the digests of the 31st and
	 * 62nd cells (the client checks them in order). */
	smux_stream_drained(s1, SMUX_CIRC_RECV_MAX / 2 + 1, 0, 2 * MS);
	assert_int_equal(count_cmd(&x, RELAY_SENDME), 2);
	assert_int_equal(smux_sendmes_held(x.m), 0);
	for (size_t i = 0, k = 1; i < x.out.n; i++) {
		struct relay_sendme sm;

		if (x.out.q[i].cmd != RELAY_SENDME)
			continue;
		assert_int_equal(relay_sendme_parse(x.out.q[i].data, x.out.q[i].len, &sm), UM_OK);
		digest_of(k++ * CC_SENDME_INC, d);
		assert_memory_equal(sm.digest, d, RELAY_DIGEST_LEN);
	}
	x.out.n = x.out.head = 0;
	/* Over the budget again; freeing the stream that holds the bytes lets the SENDMEs go
	 * at the next call into the mux (the owner's tick pumps). */
	a1.report_buffered = SMUX_CIRC_RECV_MAX;
	for (int i = 0; i < CC_SENDME_INC; i++, cells++) {
		digest_of((uint64_t)cells + 1, d);
		smux_on_msg(x.m, RELAY_DATA, 1, &byte, 1, d, 3 * MS);
	}
	assert_int_equal(count_cmd(&x, RELAY_SENDME), 0);
	smux_stream_free(s1);
	assert_int_equal(smux_recv_queued(x.m), SMUX_CIRC_RECV_MAX / 2 + 1);
	smux_pump(x.m, 4 * MS);
	assert_int_equal(count_cmd(&x, RELAY_SENDME), 1);
	x.out.n = x.out.head = 0;
	/* A sender that goes on without SENDMEs runs out of deliver window: a violation, so
	 * one circuit never holds more than the budget plus a window. */
	a2.report_buffered = SMUX_CIRC_RECV_MAX + 1;
	for (int i = 0; i < CC_CWND_MAX + 1 && x.violations == 0; i++, cells++) {
		digest_of((uint64_t)cells + 1, d);
		smux_on_msg(x.m, RELAY_DATA, 2, &byte, 1, d, 5 * MS);
	}
	assert_int_equal(x.violations, 1);
	assert_int_equal(count_cmd(&x, RELAY_SENDME), 0);
	smux_stream_free(s2);
	end_clear(&x);
	free(a1.rx);
	free(a2.rx);
}

static void
test_xoff_xon(void **state)
{
	struct end c, x;
	struct app ca = { 0 }, xa = { 0 };
	struct smux_stream *cs, *xs;
	uint8_t *p = pattern(8 * RELAY_DATA_MAX, 9);

	(void)state;
	end_init(&c, FLOW_SIDE_CLIENT);
	end_init(&x, FLOW_SIDE_EXIT);
	assert_int_equal(smux_stream_new(c.m, 1, &app_ops, &ca, &cs), UM_OK);
	assert_int_equal(smux_stream_new(x.m, 1, &app_ops, &xa, &xs), UM_OK);
	/* The exit's application reads nothing: its queue grows past the XOFF threshold. */
	xa.stuck = true;
	/* Enough bytes sent first to earn the XOFF credit (dropmark defence); the owner writes
	 * only while the stream takes more, as a socket reader would. */
	for (int i = 0; i < 200; i++) {
		if (smux_stream_writable(cs))
			assert_int_equal(smux_stream_write(cs, p, 8 * RELAY_DATA_MAX,
			                                   (uint64_t)(i + 1) * MS),
			                 UM_OK);
		deliver(&c, &x, 0, (uint64_t)(i + 1) * MS);
		deliver(&x, &c, 0, (uint64_t)(i + 1) * MS);
	}
	assert_false(smux_stream_writable(cs)); /* XOFF came */
	assert_int_equal(c.violations + x.violations, 0);
	/* The application drains everything: XON, and the client owner is told. */
	ca.writable = 0;
	smux_stream_drained(xs, xa.rx_len, 0, 200 * MS);
	assert_int_equal(count_cmd(&x, RELAY_XON), 1);
	deliver(&x, &c, 0, 201 * MS);
	assert_true(smux_stream_writable(cs));
	assert_true(ca.writable >= 1);
	assert_int_equal(c.violations + x.violations, 0);
	smux_stream_free(cs);
	smux_stream_free(xs);
	end_clear(&c);
	end_clear(&x);
	free(p);
	free(ca.rx);
	free(xa.rx);
}

static void
test_half_close_and_abort(void **state)
{
	struct end c, x;
	struct app ca = { 0 }, xa = { 0 };
	struct smux_stream *cs, *xs;
	const uint8_t hello[] = "request", world[] = "response";

	(void)state;
	end_init(&c, FLOW_SIDE_CLIENT);
	end_init(&x, FLOW_SIDE_EXIT);
	assert_int_equal(smux_stream_new(c.m, 9, &app_ops, &ca, &cs), UM_OK);
	assert_int_equal(smux_stream_new(x.m, 9, &app_ops, &xa, &xs), UM_OK);
	/* The client sends its request and half-closes: END(DONE) after the data. */
	assert_int_equal(smux_stream_write(cs, hello, sizeof(hello), MS), UM_OK);
	smux_stream_end(cs, RELAY_END_DONE, MS);
	assert_int_equal(smux_stream_write(cs, hello, 1, MS), UM_ERR_CLOSED);
	deliver(&c, &x, 0, 2 * MS);
	assert_int_equal(xa.rx_len, sizeof(hello));
	assert_int_equal(xa.ends, 1);
	assert_int_equal(xa.end_reason, RELAY_END_DONE);
	/* The exit still answers, then ends too. */
	assert_int_equal(smux_stream_write(xs, world, sizeof(world), 3 * MS), UM_OK);
	smux_stream_end(xs, RELAY_END_DONE, 3 * MS);
	deliver(&x, &c, 0, 4 * MS);
	assert_memory_equal(ca.rx, world, sizeof(world));
	assert_int_equal(ca.ends, 1);
	assert_int_equal(ca.end_reason, RELAY_END_DONE);
	smux_stream_free(cs);
	smux_stream_free(xs);

	/* An abort drops what was buffered and ends the stream both ways at once. */
	assert_int_equal(smux_stream_new(c.m, 10, &app_ops, &ca, &cs), UM_OK);
	assert_int_equal(smux_stream_new(x.m, 10, &app_ops, &xa, &xs), UM_OK);
	c.link_q = SMUX_QUEUE_MAX; /* nothing gets packaged */
	assert_int_equal(smux_stream_write(cs, hello, sizeof(hello), 5 * MS), UM_OK);
	smux_stream_end(cs, RELAY_END_CONNRESET, 5 * MS);
	assert_int_equal(smux_stream_buffered(cs), 0);
	assert_int_equal(count_cmd(&c, RELAY_DATA), 0);
	assert_int_equal(count_cmd(&c, RELAY_END), 1);
	xa.ends = 0;
	deliver(&c, &x, 0, 6 * MS);
	assert_int_equal(xa.ends, 1);
	assert_int_equal(xa.end_reason, RELAY_END_CONNRESET);
	assert_int_equal(c.violations + x.violations, 0);
	smux_stream_free(cs);
	smux_stream_free(xs);
	end_clear(&c);
	end_clear(&x);
	free(ca.rx);
	free(xa.rx);
}

static void
test_close_ends_every_stream(void **state)
{
	struct end c;
	struct app a[3] = { { 0 } };
	struct smux_stream *s[3];

	(void)state;
	end_init(&c, FLOW_SIDE_CLIENT);
	for (int i = 0; i < 3; i++)
		assert_int_equal(smux_stream_new(c.m, (uint16_t)(i + 1), &app_ops, &a[i], &s[i]),
		                 UM_OK);
	smux_close(c.m, RELAY_END_DESTROY);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(a[i].ends, 1);
		assert_int_equal(a[i].end_reason, RELAY_END_DESTROY);
		assert_false(smux_stream_attached(s[i]));
		assert_int_equal(smux_stream_write(s[i], (const uint8_t *)"x", 1, MS),
		                 UM_ERR_CLOSED);
		smux_stream_free(s[i]);
	}
	assert_int_equal(smux_count(c.m), 0);
	end_clear(&c);
}

static void
test_stream_limit(void **state)
{
	struct end c;
	struct app a = { 0 };
	struct smux_stream **s = calloc(SMUX_STREAMS_MAX + 1, sizeof(*s));
	struct smux_stream *extra;

	(void)state;
	end_init(&c, FLOW_SIDE_CLIENT);
	for (int i = 0; i < SMUX_STREAMS_MAX; i++) {
		uint16_t id = smux_free_id(c.m);

		assert_true(id != 0);
		assert_int_equal(smux_stream_new(c.m, id, &app_ops, &a, &s[i]), UM_OK);
	}
	assert_int_equal(smux_free_id(c.m), 0);
	assert_int_equal(smux_stream_new(c.m, 60000, &app_ops, &a, &extra), UM_ERR_TOO_LARGE);
	assert_int_equal(smux_stream_new(c.m, smux_stream_id(s[0]), &app_ops, &a, &extra),
	                 UM_ERR_TOO_LARGE);
	smux_stream_free(s[0]);
	assert_int_equal(smux_stream_new(c.m, smux_stream_id(s[1]), &app_ops, &a, &extra),
	                 UM_ERR_EXISTS);
	assert_int_equal(smux_stream_new(c.m, 0, &app_ops, &a, &extra), UM_ERR_INVALID);
	for (int i = 1; i < SMUX_STREAMS_MAX; i++)
		smux_stream_free(s[i]);
	end_clear(&c);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bulk_both_ways_intact),
		cmocka_unit_test(test_window_and_queue_stop_the_sender),
		cmocka_unit_test(test_bad_sendmes_are_violations),
		cmocka_unit_test(test_sendme_every_31_cells),
		cmocka_unit_test(test_recv_budget_holds_sendmes),
		cmocka_unit_test(test_xoff_xon),
		cmocka_unit_test(test_half_close_and_abort),
		cmocka_unit_test(test_close_ends_every_stream),
		cmocka_unit_test(test_stream_limit),
	};

	return cmocka_run_group_tests_name("circuit_stream_mux", tests, NULL, NULL);
}
