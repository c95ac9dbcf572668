/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/circuit/flow (XON/XOFF stream flow control). Receiving edge: XOFF once
 * the queue toward the application exceeds 500 cells (243000 bytes), never twice; XON only
 * when the queue is empty again (hysteresis), then XOFF again on the next crossing; the
 * drain rate (kB/s) measured over xon_rate (243000) bytes, carried in the XON; an advisory
 * XON when the rate moves by more than 25%, and not before a full measurement period; a
 * sender that ignores XOFF past the hard cap is refused. Sending edge: XOFF stops reading,
 * XON resumes it with the advisory rate; a second XOFF, and XOFF/XON the bytes we sent cannot
 * justify (dropmark), are protocol violations. Simulated time only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "lib/err.h"
#include "circuit/flow.h"

#define MS 1000000ULL

static struct flow *
new_flow(enum flow_side side)
{
	struct flow_params p;
	struct flow *f;

	flow_params_default(&p, side);
	assert_int_equal(flow_new(&p, &f), UM_OK);
	return f;
}

static void
test_flow_defaults(void **state)
{
	struct flow_params p;
	struct flow *f = (struct flow *)&p;

	(void)state;
	flow_params_default(&p, FLOW_SIDE_CLIENT);
	assert_int_equal(p.xoff_cells, 500);
	assert_int_equal(p.peer_xoff_cells, 500);
	assert_int_equal(p.xon_rate_cells, 500);
	assert_int_equal(p.xon_change_pct, 25);
	assert_int_equal(p.xon_ewma_cnt, 2);
	assert_int_equal(p.hard_cap_bytes, (500 + 2 * 5000) * 486);
	p.xon_change_pct = 100;
	assert_int_equal(flow_new(&p, &f), UM_ERR_INVALID);
	assert_null(f);
	flow_params_default(&p, FLOW_SIDE_EXIT);
	p.xon_ewma_cnt = 1;
	assert_int_equal(flow_new(&p, &f), UM_ERR_INVALID);
}

static void
test_flow_xoff_xon_hysteresis(void **state)
{
	struct flow *f = new_flow(FLOW_SIDE_CLIENT);
	struct flow_out o;

	(void)state;
	assert_int_equal(flow_on_delivered(f, 243000, 0, &o), UM_OK);
	assert_int_equal(o.sig, FLOW_SIG_NONE);
	assert_int_equal(flow_on_delivered(f, 243001, 0, &o), UM_OK);
	assert_int_equal(o.sig, FLOW_SIG_XOFF);
	assert_true(flow_xoff_sent(f));
	assert_int_equal(flow_on_delivered(f, 300000, 0, &o), UM_OK);
	assert_int_equal(o.sig, FLOW_SIG_NONE); /* never twice */
	/* draining below the threshold is not enough: only an empty queue ends the XOFF */
	flow_on_drained(f, 200000, 100000, 1 * MS, &o);
	assert_int_equal(o.sig, FLOW_SIG_NONE);
	flow_on_drained(f, 99999, 1, 2 * MS, &o);
	assert_int_equal(o.sig, FLOW_SIG_NONE);
	assert_int_equal(flow_on_delivered(f, 1000, 2 * MS, &o), UM_OK);
	assert_int_equal(o.sig, FLOW_SIG_NONE);
	flow_on_drained(f, 1000, 0, 3 * MS, &o);
	assert_int_equal(o.sig, FLOW_SIG_XON);
	assert_false(flow_xoff_sent(f));
	/* the next crossing gives a new XOFF */
	assert_int_equal(flow_on_delivered(f, 243001, 4 * MS, &o), UM_OK);
	assert_int_equal(o.sig, FLOW_SIG_XOFF);
	flow_free(f);
	assert_null(f);
}

static void
test_flow_hard_cap(void **state)
{
	struct flow *f = new_flow(FLOW_SIDE_EXIT);
	struct flow_out o;

	(void)state;
	assert_int_equal(flow_on_delivered(f, (500 + 10000) * 486, 0, &o), UM_OK);
	assert_int_equal(o.sig, FLOW_SIG_XOFF);
	assert_int_equal(flow_on_delivered(f, (500 + 10000) * 486 + 1, 0, &o), UM_ERR_PROTOCOL);
	flow_free(f);
}

/*
 * Rates. Phase 1: 300000 bytes queued (XOFF), drained 4860 bytes per ms. The first drain opens
 * a measurement period; after 51 more (247860 > 243000 bytes in 51 ms) the rate is
 * 247860 x 10^6 / 51 ms = 4860 kB/s. The queue empties after 62 drains (61 x 4860 + 3540):
 * XON carrying 4860. Phase 2: the queue kept at 10000 bytes (under 32 cells, so deliveries do
 * not measure), drained 2430 per ms: the period opens at drain 1 and closes at drain 102
 * (101 x 2430 = 245430 bytes in 101 ms = 2430 kB/s): ewma = (2 x 2430 + 4860) / 3 = 3240,
 * below 75% of 4860: an advisory XON with 3240 there and not before.
 */
static void
test_flow_drain_rate_and_advisory_xon(void **state)
{
	struct flow *f = new_flow(FLOW_SIDE_CLIENT);
	struct flow_out o;
	size_t buffered = 300000;
	uint64_t t = 1000 * MS;
	int n = 0;

	(void)state;
	assert_int_equal(flow_on_delivered(f, buffered, t, &o), UM_OK);
	assert_int_equal(o.sig, FLOW_SIG_XOFF);
	while (buffered > 0) {
		size_t w = UM_MIN(buffered, (size_t)4860);

		t += MS;
		buffered -= w;
		flow_on_drained(f, w, buffered, t, &o);
		n++;
		if (n == 52)
			assert_int_equal(flow_drain_kbps(f), 4860);
		if (buffered > 0)
			assert_int_equal(o.sig, FLOW_SIG_NONE);
	}
	assert_int_equal(n, 62);
	assert_int_equal(o.sig, FLOW_SIG_XON);
	assert_int_equal(o.kbps_ewma, 4860);

	buffered = 10000;
	for (n = 1; n <= 102; n++) {
		t += MS;
		assert_int_equal(flow_on_delivered(f, buffered + 2430, t, &o), UM_OK);
		assert_int_equal(o.sig, FLOW_SIG_NONE);
		flow_on_drained(f, 2430, buffered, t, &o);
		if (n < 102) {
			assert_int_equal(o.sig, FLOW_SIG_NONE);
		} else {
			assert_int_equal(o.sig, FLOW_SIG_XON);
			assert_int_equal(o.kbps_ewma, 3240);
		}
	}
	/* the same rate again: no new XON */
	for (n = 1; n <= 300; n++) {
		t += MS;
		flow_on_drained(f, 2430, buffered, t, &o);
		assert_int_equal(o.sig, FLOW_SIG_NONE);
	}
	flow_free(f);
}

/* A stalled clock (no time passed over a period) gives no rate; the period stays open. */
static void
test_flow_stalled_clock_no_rate(void **state)
{
	struct flow *f = new_flow(FLOW_SIDE_CLIENT);
	struct flow_out o;

	(void)state;
	for (int i = 0; i < 200; i++)
		flow_on_drained(f, 4860, 100000, 5 * MS, &o);
	assert_int_equal(flow_drain_kbps(f), 0);
	flow_on_drained(f, 4860, 100000, 6 * MS, &o);
	assert_true(flow_drain_kbps(f) > 0);
	/* a clock that runs backwards restarts the period instead of wrapping */
	flow_on_drained(f, 4860, 100000, 7 * MS, &o); /* opens a period at 7 ms */
	flow_on_drained(f, 4860, 100000, 1 * MS, &o);
	assert_int_equal(o.sig, FLOW_SIG_NONE);
	for (int i = 0; i < 60; i++)
		flow_on_drained(f, 4860, 100000, (2 + (uint64_t)i) * MS, &o);
	assert_int_equal(o.sig, FLOW_SIG_NONE);
	flow_free(f);
}

static void
test_flow_sender_xoff_xon(void **state)
{
	struct flow *f = new_flow(FLOW_SIDE_CLIENT);
	struct relay_xon x = { .kbps_ewma = 1234 };

	(void)state;
	assert_true(flow_may_read(f));
	assert_int_equal(flow_rate_bytes_per_s(f), 0);
	/* an XOFF before we sent 243000 bytes cannot be honest */
	flow_on_packaged(f, 242999);
	assert_int_equal(flow_on_xoff(f), UM_ERR_PROTOCOL);
	assert_true(flow_may_read(f));
	flow_on_packaged(f, 1);
	assert_int_equal(flow_on_xoff(f), UM_OK);
	assert_false(flow_may_read(f));
	assert_int_equal(flow_on_xoff(f), UM_ERR_PROTOCOL); /* twice */
	assert_int_equal(flow_on_xon(f, &x), UM_OK);
	assert_true(flow_may_read(f));
	assert_int_equal(flow_rate_bytes_per_s(f), 1234000);
	/* 2 x 243000 bytes justify two XONs (one per XOFF or rate period), not three */
	assert_int_equal(flow_on_xon(f, &x), UM_OK);
	assert_int_equal(flow_on_xon(f, &x), UM_ERR_PROTOCOL);
	/* a second XOFF needs another 243000 bytes */
	assert_int_equal(flow_on_xoff(f), UM_ERR_PROTOCOL);
	flow_on_packaged(f, 243000);
	assert_int_equal(flow_on_xoff(f), UM_OK);
	flow_free(f);
}

/* After 100 MB sent, a peer faking XOFF/XON pairs gets 10206000 / 243000 = 42 XOFFs (the
 * credit cap, 2 x hard cap), not 100 MB / 243000 = 431. */
static void
test_flow_credit_capped(void **state)
{
	struct flow *f = new_flow(FLOW_SIDE_CLIENT);
	struct relay_xon x = { .kbps_ewma = 0 };
	int n = 0;

	(void)state;
	for (int i = 0; i < 100; i++)
		flow_on_packaged(f, 1000000);
	while (flow_on_xoff(f) == UM_OK) {
		assert_int_equal(flow_on_xon(f, &x), UM_OK);
		assert_true(++n <= 1000);
	}
	assert_int_equal(n, 42);
	assert_true(flow_may_read(f));
	flow_free(f);
}

/* An honest receiver and a sender wired together: thousands of XOFF/XON cycles over a long
 * transfer (the credit reaching its cap on the way), none refused. */
static void
test_flow_honest_peer_never_refused(void **state)
{
	struct flow *rx = new_flow(FLOW_SIDE_EXIT);
	struct flow *tx = new_flow(FLOW_SIDE_CLIENT);
	struct flow_out o;
	struct relay_xon x;
	size_t buffered = 0;
	uint64_t t = 0;
	int n_xoff = 0, n_xon = 0;

	(void)state;
	/* a fast application first: 25 MB and no signal, the credit reaches its cap */
	for (int step = 0; step < 50000; step++) {
		t += MS / 4;
		flow_on_packaged(tx, 486);
		assert_int_equal(flow_on_delivered(rx, 486, t, &o), UM_OK);
		assert_int_equal(o.sig, FLOW_SIG_NONE);
		flow_on_drained(rx, 486, 0, t, &o);
		assert_int_equal(o.sig, FLOW_SIG_NONE);
	}
	for (int step = 0; step < 200000; step++) {
		t += MS / 4;
		if (flow_may_read(tx)) {
			flow_on_packaged(tx, 486);
			buffered += 486;
			assert_int_equal(flow_on_delivered(rx, buffered, t, &o), UM_OK);
		} else {
			/* the app drains in bursts, slower than the sender */
			size_t w = UM_MIN(buffered, (size_t)(step % 3 == 0 ? 2000 : 0));

			buffered -= w;
			flow_on_drained(rx, w, buffered, t, &o);
		}
		if (o.sig == FLOW_SIG_XOFF) {
			assert_int_equal(flow_on_xoff(tx), UM_OK);
			n_xoff++;
		} else if (o.sig == FLOW_SIG_XON) {
			x.kbps_ewma = o.kbps_ewma;
			assert_int_equal(flow_on_xon(tx, &x), UM_OK);
			n_xon++;
		}
	}
	assert_true(n_xoff > 50);
	assert_true(n_xon >= n_xoff - 1);
	flow_free(rx);
	flow_free(tx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flow_defaults),
		cmocka_unit_test(test_flow_xoff_xon_hysteresis),
		cmocka_unit_test(test_flow_hard_cap),
		cmocka_unit_test(test_flow_drain_rate_and_advisory_xon),
		cmocka_unit_test(test_flow_stalled_clock_no_rate),
		cmocka_unit_test(test_flow_sender_xoff_xon),
		cmocka_unit_test(test_flow_credit_capped),
		cmocka_unit_test(test_flow_honest_peer_never_refused),
	};

	return cmocka_run_group_tests_name("circuit_flow", tests, NULL, NULL);
}
