/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/circuit/cc (TOR_VEGAS congestion control). Every window value asserted
 * in the state-transition tests is computed by hand in the comment above it, with the exit
 * constants (sendme_inc 31, cwnd_init 124, slow-start step round(50% x 31) = 16, alpha 124,
 * beta 248, gamma 186, delta 372, sscap 500, ss_max 5000, cwnd_min 31, cwnd_max 5000):
 * slow-start growth per SENDME (and the RFC 3742 step above sscap), no growth while the
 * window is not full, the exit of slow start at gamma and on a blocked link, the steady-state
 * rules (above delta, above beta, inside alpha..beta, below alpha), one update per cwnd of
 * acks, the cwnd_min and cwnd_max clamps, clock stalls and jumps ignored, unexpected SENDMEs
 * refused. Then a discrete-event simulation: a sender governed by cc + sendme over a
 * bottleneck of fixed rate and base RTT converges to cwnd ~ BDP + alpha..beta with a bounded
 * queue and >= 90% of the bottleneck's throughput. Time is simulated: no real clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "lib/err.h"
#include "circuit/cc.h"
#include "circuit/sendme.h"

#define MS 1000000ULL /* ns */

/*
 * A test harness over a pure-delay path: the test remembers the send time of every
 * sendme_inc-th cell (as the controller does) and acks each one exactly rtt later, so every
 * sample is the rtt the test chooses.
 */
struct harness {
	struct cc *cc;
	uint64_t sent;
	uint64_t due[4096]; /* send times of cells whose SENDME is due */
	size_t head, len;
	uint64_t now;
};

static void
h_init(struct harness *h, enum cc_path path)
{
	struct cc_params p;

	memset(h, 0, sizeof(*h));
	cc_params_default(&p, path);
	assert_int_equal(cc_new(&p, &h->cc), UM_OK);
}

static void
h_fini(struct harness *h)
{
	cc_free(h->cc);
	assert_null(h->cc);
}

/* Send until the window is full, at h->now. */
static void
h_fill(struct harness *h)
{
	while (cc_can_send(h->cc)) {
		assert_int_equal(cc_on_data_sent(h->cc, h->now), UM_OK);
		if (++h->sent % CC_SENDME_INC == 0) {
			assert_true(h->len < UM_ARRAY_LEN(h->due));
			h->due[(h->head + h->len++) % UM_ARRAY_LEN(h->due)] = h->now;
		}
	}
}

/* The oldest due SENDME arrives rtt after its cell left; then, if fill, refill. */
static void
h_ack(struct harness *h, uint64_t rtt, bool fill)
{
	assert_true(h->len > 0);
	h->now = h->due[h->head] + rtt;
	h->head = (h->head + 1) % UM_ARRAY_LEN(h->due);
	h->len--;
	assert_int_equal(cc_on_sendme(h->cc, h->now), UM_OK);
	if (fill)
		h_fill(h);
}

static void
test_cc_defaults(void **state)
{
	struct cc_params p;

	(void)state;
	cc_params_default(&p, CC_PATH_EXIT);
	assert_int_equal(p.sendme_inc, 31);
	assert_int_equal(p.cwnd_init, 124);
	assert_int_equal(p.cwnd_min, 31);
	assert_int_equal(p.cwnd_max, 5000);
	assert_int_equal(p.cwnd_inc, 31);
	assert_int_equal(p.cwnd_inc_rate, 1);
	assert_int_equal(p.cwnd_inc_pct_ss, 50);
	assert_int_equal(p.bwe_min, 5);
	assert_int_equal(p.ewma_cwnd_pct, 50);
	assert_int_equal(p.ewma_max, 10);
	assert_int_equal(p.ewma_ss, 2);
	assert_int_equal(p.alpha, 124);
	assert_int_equal(p.beta, 248);
	assert_int_equal(p.gamma, 186);
	assert_int_equal(p.delta, 372);
	assert_int_equal(p.ss_cap, 500);
	assert_int_equal(p.ss_max, 5000);
	assert_int_equal(p.cwnd_full_gap, 1);
	assert_int_equal(p.cwnd_full_minpct, 75);
	assert_int_equal(p.cwnd_full_per_cwnd, 1);
	cc_params_default(&p, CC_PATH_ONION);
	assert_int_equal(p.alpha, 186);
	assert_int_equal(p.beta, 434);
	assert_int_equal(p.gamma, 310);
	assert_int_equal(p.delta, 558);
	assert_int_equal(p.ss_cap, 600);
}

static void
test_cc_bad_params_refused(void **state)
{
	struct cc_params p;
	struct cc *cc = (struct cc *)&p;

	(void)state;
	cc_params_default(&p, CC_PATH_EXIT);
	p.cwnd_min = 30; /* below sendme_inc */
	assert_int_equal(cc_new(&p, &cc), UM_ERR_INVALID);
	assert_null(cc);
	cc_params_default(&p, CC_PATH_EXIT);
	p.cwnd_max = 5001;
	assert_int_equal(cc_new(&p, &cc), UM_ERR_INVALID);
	cc_params_default(&p, CC_PATH_EXIT);
	p.sendme_inc = 0;
	assert_int_equal(cc_new(&p, &cc), UM_ERR_INVALID);
	cc_params_default(&p, CC_PATH_EXIT);
	p.beta = 100; /* below alpha */
	assert_int_equal(cc_new(&p, &cc), UM_ERR_INVALID);
	cc_params_default(&p, CC_PATH_EXIT);
	p.ewma_ss = 1;
	assert_int_equal(cc_new(&p, &cc), UM_ERR_INVALID);
}

static void
test_cc_initial_state_and_window(void **state)
{
	struct harness h;

	(void)state;
	h_init(&h, CC_PATH_EXIT);
	assert_int_equal(cc_cwnd(h.cc), 124);
	assert_int_equal(cc_inflight(h.cc), 0);
	assert_int_equal(cc_state(h.cc), CC_SLOW_START);
	assert_int_equal(cc_rtt_ewma_ns(h.cc), 0);
	h_fill(&h);
	/* Exactly cwnd cells go out; the 125th is refused and changes nothing. */
	assert_int_equal(h.sent, 124);
	assert_int_equal(cc_inflight(h.cc), 124);
	assert_false(cc_can_send(h.cc));
	assert_int_equal(cc_on_data_sent(h.cc, 0), UM_ERR_STATE);
	assert_int_equal(cc_inflight(h.cc), 124);
	h_fini(&h);
}

/*
 * Slow start at a constant 100 ms: ewma = min = 100 ms, BDP = cwnd, queue_use = 0 < gamma,
 * the window full at each SENDME (refilled after each), so each SENDME adds
 * round(50 x 31 / 100) = (1550 + 50) / 100 = 16: 124 -> 140 -> 156 -> ... and inflight
 * drops by 31 per SENDME before the refill.
 */
static void
test_cc_slow_start_growth(void **state)
{
	static const uint32_t want[] = { 140, 156, 172, 188, 204, 220 };
	struct harness h;

	(void)state;
	h_init(&h, CC_PATH_EXIT);
	h_fill(&h);
	for (size_t i = 0; i < UM_ARRAY_LEN(want); i++) {
		h_ack(&h, 100 * MS, false);
		assert_int_equal(cc_cwnd(h.cc), want[i]);
		/* before the ack the window was full: inflight = previous cwnd */
		assert_int_equal(cc_inflight(h.cc), (i == 0 ? 124 : want[i - 1]) - 31);
		assert_int_equal(cc_state(h.cc), CC_SLOW_START);
		assert_int_equal(cc_rtt_ewma_ns(h.cc), 100 * MS);
		assert_int_equal(cc_rtt_min_ns(h.cc), 100 * MS);
		assert_int_equal(cc_bdp(h.cc), (i == 0 ? 124 : want[i - 1]));
		h_fill(&h);
	}
	h_fini(&h);
}

/*
 * After the six steps above (cwnd 220, ewma = min = 100 ms) a sample of 1000 ms: slow-start
 * EWMA (N = 2): (2 x 1000 + 1 x 100) / 3 = 700 ms; BDP = 220 x 100 / 700 = 31;
 * queue_use = 189 >= gamma 186: cwnd = BDP + gamma = 217 and slow start ends.
 */
static void
test_cc_slow_start_exit_at_gamma(void **state)
{
	struct harness h;

	(void)state;
	h_init(&h, CC_PATH_EXIT);
	h_fill(&h);
	for (int i = 0; i < 6; i++)
		h_ack(&h, 100 * MS, true);
	assert_int_equal(cc_cwnd(h.cc), 220);
	h_ack(&h, 1000 * MS, true);
	assert_int_equal(cc_rtt_ewma_ns(h.cc), 700 * MS);
	assert_int_equal(cc_rtt_min_ns(h.cc), 100 * MS);
	assert_int_equal(cc_rtt_max_ns(h.cc), 1000 * MS);
	assert_int_equal(cc_bdp(h.cc), 31);
	assert_int_equal(cc_cwnd(h.cc), 217);
	assert_int_equal(cc_state(h.cc), CC_STEADY);
	h_fini(&h);
}

/*
 * The window is not full: the first SENDME (inflight 124 >= 124 - 31) adds 16 -> 140;
 * without a refill the second finds inflight 93, and 93 + 31 < 140 and 100 x 93 < 75 x 140:
 * not full, no growth.
 */
static void
test_cc_slow_start_needs_full_window(void **state)
{
	struct harness h;

	(void)state;
	h_init(&h, CC_PATH_EXIT);
	h_fill(&h);
	h_ack(&h, 100 * MS, false);
	assert_int_equal(cc_cwnd(h.cc), 140);
	h_ack(&h, 100 * MS, false);
	assert_int_equal(cc_cwnd(h.cc), 140);
	assert_int_equal(cc_inflight(h.cc), 62);
	assert_int_equal(cc_state(h.cc), CC_SLOW_START);
	h_fini(&h);
}

/*
 * Above sscap (500) the step is RFC 3742's (31 x 500 + cwnd) / (2 cwnd): after 23 steps of 16
 * cwnd = 124 + 368 = 492 <= 500, so the 24th is +16 -> 508; then (15500 + 508) / 1016 = 15
 * -> 523; (15500 + 523) / 1046 = 15 -> 538; (15500 + 538) / 1076 = 14 -> 552.
 */
static void
test_cc_slow_start_limited_above_sscap(void **state)
{
	struct harness h;

	(void)state;
	h_init(&h, CC_PATH_EXIT);
	h_fill(&h);
	for (int i = 0; i < 23; i++)
		h_ack(&h, 100 * MS, true);
	assert_int_equal(cc_cwnd(h.cc), 492);
	h_ack(&h, 100 * MS, true);
	assert_int_equal(cc_cwnd(h.cc), 508);
	h_ack(&h, 100 * MS, true);
	assert_int_equal(cc_cwnd(h.cc), 523);
	h_ack(&h, 100 * MS, true);
	assert_int_equal(cc_cwnd(h.cc), 538);
	h_ack(&h, 100 * MS, true);
	assert_int_equal(cc_cwnd(h.cc), 552);
	assert_int_equal(cc_state(h.cc), CC_SLOW_START);
	h_fini(&h);
}

/*
 * Into steady state by a blocked link: 21 slow-start steps at 100 ms give cwnd 124 + 336 =
 * 460; blocked, the 22nd SENDME is a congestion signal: cwnd = BDP (460) + gamma = 646, slow
 * start over. Unblocking schedules an update on the next SENDME. There, cwnd 646 gives
 * updates every (646 + 15) / 31 = 21 SENDMEs, EWMA N = min(21 x 50 / 100, 10) = 10:
 * ewma = (2 rtt + 9 x 100 ms) / 11.
 */
static void
h_steady(struct harness *h)
{
	h_init(h, CC_PATH_EXIT);
	h_fill(h);
	for (int i = 0; i < 21; i++)
		h_ack(h, 100 * MS, true);
	assert_int_equal(cc_cwnd(h->cc), 460);
	cc_on_blocked(h->cc);
	assert_true(cc_blocked(h->cc));
	h_ack(h, 100 * MS, true);
	assert_int_equal(cc_cwnd(h->cc), 646);
	assert_int_equal(cc_state(h->cc), CC_STEADY);
	cc_on_unblocked(h->cc);
	assert_false(cc_blocked(h->cc));
	assert_int_equal(cc_inflight(h->cc), 646);
}

/* rtt 1200 ms: ewma = (2400 + 900) / 11 = 300 ms, BDP = 646 x 100 / 300 = 215,
 * queue_use = 431 > delta 372: cwnd = 215 + 372 - 31 = 556. */
static void
test_cc_steady_above_delta(void **state)
{
	struct harness h;

	(void)state;
	h_steady(&h);
	h_ack(&h, 1200 * MS, true);
	assert_int_equal(cc_rtt_ewma_ns(h.cc), 300 * MS);
	assert_int_equal(cc_bdp(h.cc), 215);
	assert_int_equal(cc_cwnd(h.cc), 556);
	h_fini(&h);
}

/* rtt 650 ms: ewma = (1300 + 900) / 11 = 200 ms, BDP = 323, queue_use = 323 in (beta 248,
 * delta 372]: cwnd = 646 - 31 = 615. */
static void
test_cc_steady_above_beta(void **state)
{
	struct harness h;

	(void)state;
	h_steady(&h);
	h_ack(&h, 650 * MS, true);
	assert_int_equal(cc_rtt_ewma_ns(h.cc), 200 * MS);
	assert_int_equal(cc_bdp(h.cc), 323);
	assert_int_equal(cc_cwnd(h.cc), 615);
	h_fini(&h);
}

/* rtt 320 ms: ewma = (640 + 900) / 11 = 140 ms, BDP = 64600 / 140 = 461, queue_use = 185
 * in [alpha, beta]: unchanged. */
static void
test_cc_steady_inside_band(void **state)
{
	struct harness h;

	(void)state;
	h_steady(&h);
	h_ack(&h, 320 * MS, true);
	assert_int_equal(cc_rtt_ewma_ns(h.cc), 140 * MS);
	assert_int_equal(cc_bdp(h.cc), 461);
	assert_int_equal(cc_cwnd(h.cc), 646);
	h_fini(&h);
}

/* rtt 210 ms: ewma = (420 + 900) / 11 = 120 ms, BDP = 64600 / 120 = 538, queue_use = 108 <
 * alpha and the window full: cwnd = 646 + 31 = 677. Without a full window, no increase. */
static void
test_cc_steady_below_alpha(void **state)
{
	struct harness h;

	(void)state;
	h_steady(&h);
	h_ack(&h, 210 * MS, true);
	assert_int_equal(cc_rtt_ewma_ns(h.cc), 120 * MS);
	assert_int_equal(cc_bdp(h.cc), 538);
	assert_int_equal(cc_cwnd(h.cc), 677);
	h_fini(&h);

	/* Same signal without a full window: an update with no change (320 ms: ewma 140 ms),
	 * then 15 SENDMEs at 140 ms (ewma stays 140) without a refill leave inflight
	 * 646 - 15 x 31 = 181 < 75% of 646; an update forced by a block and unblock (no
	 * congestion signal once lifted) with 30 ms: ewma = (60 + 9 x 140) / 11 = 120 ms,
	 * BDP 538, queue_use 108 < alpha, but not full: no increase. */
	h_steady(&h);
	h_ack(&h, 320 * MS, true);
	assert_int_equal(cc_cwnd(h.cc), 646);
	for (int i = 0; i < 15; i++)
		h_ack(&h, 140 * MS, false);
	assert_int_equal(cc_rtt_ewma_ns(h.cc), 140 * MS);
	assert_int_equal(cc_inflight(h.cc), 181);
	cc_on_blocked(h.cc);
	cc_on_unblocked(h.cc);
	h_ack(&h, 30 * MS, false);
	assert_int_equal(cc_rtt_ewma_ns(h.cc), 120 * MS);
	assert_int_equal(cc_bdp(h.cc), 538);
	assert_int_equal(cc_cwnd(h.cc), 646);
	h_fini(&h);
}

/* After an update the next one comes 21 SENDMEs later ((646 + 15) / 31), however strong the
 * signal in between. */
static void
test_cc_steady_once_per_cwnd(void **state)
{
	struct harness h;

	(void)state;
	h_steady(&h);
	h_ack(&h, 320 * MS, true); /* update: no change, next in 21 */
	assert_int_equal(cc_cwnd(h.cc), 646);
	for (int i = 0; i < 20; i++) {
		h_ack(&h, 1200 * MS, true);
		assert_int_equal(cc_cwnd(h.cc), 646);
	}
	h_ack(&h, 1200 * MS, true);
	assert_true(cc_cwnd(h.cc) < 646);
	h_fini(&h);
}

/*
 * Blocked, each update takes 31 off: 646, 615, ..., 57 (646 - 19 x 31), then 26 clamps to
 * cwnd_min 31, where it stays.
 */
static void
test_cc_blocked_shrinks_to_cwnd_min(void **state)
{
	struct harness h;
	uint32_t want = 646;

	(void)state;
	h_steady(&h);
	cc_on_blocked(h.cc);
	for (int i = 0; i < 2000 && cc_cwnd(h.cc) > 31; i++) {
		h_ack(&h, 100 * MS, true);
		if (cc_cwnd(h.cc) != want) {
			want = want - 31 >= 31 ? want - 31 : 31;
			assert_int_equal(cc_cwnd(h.cc), want);
		}
	}
	assert_int_equal(cc_cwnd(h.cc), 31);
	for (int i = 0; i < 50; i++) {
		h_ack(&h, 100 * MS, true);
		assert_int_equal(cc_cwnd(h.cc), 31);
	}
	h_fini(&h);
}

/* At a constant RTT there is never a queue: slow start runs to ss_max 5000 and ends there;
 * steady increases (queue_use 0 < alpha, full) then stop at cwnd_max 5000. */
static void
test_cc_cwnd_max_clamp(void **state)
{
	struct harness h;
	int n = 0;

	(void)state;
	h_init(&h, CC_PATH_EXIT);
	h_fill(&h);
	while (cc_state(h.cc) == CC_SLOW_START) {
		h_ack(&h, 100 * MS, true);
		assert_true(cc_cwnd(h.cc) <= 5000);
		assert_true(++n < 5000);
	}
	assert_int_equal(cc_cwnd(h.cc), 5000);
	for (int i = 0; i < 500; i++) {
		h_ack(&h, 100 * MS, true);
		assert_int_equal(cc_cwnd(h.cc), 5000);
	}
	assert_int_equal(cc_inflight(h.cc), 5000);
	h_fini(&h);
}

/* A zero RTT (stalled clock) or a clock that ran backwards gives no sample and no update;
 * the SENDME still releases its 31 cells. */
static void
test_cc_clock_stall_ignored(void **state)
{
	struct harness h;

	(void)state;
	h_init(&h, CC_PATH_EXIT);
	h.now = 1000 * MS;
	h_fill(&h);
	h_ack(&h, 0, false);
	assert_int_equal(cc_clock_skips(h.cc), 1);
	assert_int_equal(cc_rtt_ewma_ns(h.cc), 0);
	assert_int_equal(cc_cwnd(h.cc), 124);
	assert_int_equal(cc_inflight(h.cc), 93);
	/* now before the send time */
	assert_int_equal(cc_on_sendme(h.cc, h.due[h.head] - 1), UM_OK);
	h.head++;
	h.len--;
	assert_int_equal(cc_clock_skips(h.cc), 2);
	assert_int_equal(cc_rtt_ewma_ns(h.cc), 0);
	assert_int_equal(cc_cwnd(h.cc), 124);
	assert_int_equal(cc_inflight(h.cc), 62);
	/* a real sample works */
	h_ack(&h, 100 * MS, false);
	assert_int_equal(cc_rtt_ewma_ns(h.cc), 100 * MS);
	h_fini(&h);
}

/*
 * In steady state with ewma 100 ms: a sample more than 5000 x ewma (500 s + 1 ns) is a jump
 * and dropped (no update although one was due); exactly 5000 x is kept. A sample below
 * ewma / 5000 (20 us) is kept, unless the previous sample was a stall.
 */
static void
test_cc_clock_jump_ignored(void **state)
{
	struct harness h;

	(void)state;
	h_steady(&h);
	h_ack(&h, 500000 * MS + 1, true);
	assert_int_equal(cc_clock_skips(h.cc), 1);
	assert_int_equal(cc_rtt_ewma_ns(h.cc), 100 * MS);
	assert_int_equal(cc_cwnd(h.cc), 646); /* the due update did not run */
	h_ack(&h, 500000 * MS, true);
	assert_int_equal(cc_clock_skips(h.cc), 1);
	assert_true(cc_rtt_ewma_ns(h.cc) > 100 * MS);
	h_fini(&h);

	h_steady(&h);
	h_ack(&h, 10000, true); /* 10 us: a sudden fall, kept */
	assert_int_equal(cc_clock_skips(h.cc), 0);
	assert_true(cc_rtt_ewma_ns(h.cc) < 100 * MS);
	h_fini(&h);

	h_steady(&h);
	h_ack(&h, 0, true); /* stall: the clock is now suspect */
	assert_int_equal(cc_clock_skips(h.cc), 1);
	h_ack(&h, 10000, true); /* the fall is dropped now */
	assert_int_equal(cc_clock_skips(h.cc), 2);
	assert_int_equal(cc_rtt_ewma_ns(h.cc), 100 * MS);
	h_ack(&h, 100 * MS, true); /* a normal sample clears the suspicion */
	h_ack(&h, 10000, true);
	assert_int_equal(cc_clock_skips(h.cc), 2);
	h_fini(&h);
}

/* A SENDME with nothing due is a protocol violation and changes nothing. */
static void
test_cc_unexpected_sendme_refused(void **state)
{
	struct harness h;

	(void)state;
	h_init(&h, CC_PATH_EXIT);
	assert_int_equal(cc_on_sendme(h.cc, 0), UM_ERR_PROTOCOL);
	for (int i = 0; i < 30; i++)
		assert_int_equal(cc_on_data_sent(h.cc, 0), UM_OK);
	assert_int_equal(cc_on_sendme(h.cc, 1), UM_ERR_PROTOCOL); /* 30 < sendme_inc */
	assert_int_equal(cc_inflight(h.cc), 30);
	assert_int_equal(cc_on_data_sent(h.cc, 0), UM_OK);
	assert_int_equal(cc_on_sendme(h.cc, 100 * MS), UM_OK);
	assert_int_equal(cc_inflight(h.cc), 0);
	assert_int_equal(cc_on_sendme(h.cc, 200 * MS), UM_ERR_PROTOCOL);
	assert_int_equal(cc_rtt_ewma_ns(h.cc), 100 * MS);
	h_fini(&h);
}

/* ---- discrete-event simulation ---- */

/* A 16-byte stand-in for the relay-crypto digest of cell i (any injective function does). */
static void
fake_digest(uint64_t i, uint8_t d[SENDME_DIGEST_LEN])
{
	uint64_t x = i * 0x9e3779b97f4a7c15ULL + 1;

	for (int k = 0; k < SENDME_DIGEST_LEN; k++) {
		x ^= x >> 29;
		x *= 0xbf58476d1ce4e5b9ULL;
		d[k] = (uint8_t)(x >> 56);
	}
}

struct sim_sendme {
	uint64_t at; /* arrival time at the sender */
	struct relay_sendme m;
};

struct sim_result {
	double tput;                 /* delivered / capacity over the second half */
	uint32_t cwnd_min, cwnd_max; /* over the second half */
	double cwnd_avg;
	uint64_t queue_max; /* cells at the bottleneck, second half */
	uint64_t queue_max_all;
	uint64_t bdp; /* true BDP in cells */
};

/*
 * Sender -> bottleneck (FIFO, one cell per svc ns) -> fwd delay -> receiver; SENDMEs come back
 * after bwd delay with no queue. Unlimited data. Simulated for dur ns.
 */
static void
simulate(enum cc_path path, uint64_t svc, uint64_t fwd, uint64_t bwd, uint64_t dur,
         struct sim_result *res)
{
	static struct sim_sendme q[8192];
	size_t qh = 0, ql = 0;
	struct cc_params p;
	struct cc *cc;
	struct sendme_snd *snd;
	struct sendme_rcv *rcv;
	uint64_t t = 0, last_dep = 0, sent = 0, deliv_half = 0, n_samples = 0;
	double cwnd_sum = 0;

	memset(res, 0, sizeof(*res));
	res->cwnd_min = UINT32_MAX;
	res->bdp = (fwd + bwd + svc) / svc;
	cc_params_default(&p, path);
	assert_int_equal(cc_new(&p, &cc), UM_OK);
	assert_int_equal(sendme_snd_new(p.sendme_inc, p.cwnd_max, &snd), UM_OK);
	assert_int_equal(sendme_rcv_new(p.sendme_inc, p.cwnd_max, &rcv), UM_OK);
	for (;;) {
		/* fill the window at t */
		while (cc_can_send(cc)) {
			uint8_t d[SENDME_DIGEST_LEN];
			uint64_t dep, arr;
			bool due;

			fake_digest(sent, d);
			assert_int_equal(sendme_snd_on_data_sent(snd, sendme_snd_data_max(snd), d),
			                 UM_OK);
			assert_int_equal(cc_on_data_sent(cc, t), UM_OK);
			sent++;
			dep = UM_MAX(t, last_dep) + svc;
			if (t >= dur / 2 && (last_dep - UM_MIN(last_dep, t)) / svc > res->queue_max)
				res->queue_max = (last_dep - UM_MIN(last_dep, t)) / svc;
			if ((last_dep - UM_MIN(last_dep, t)) / svc > res->queue_max_all)
				res->queue_max_all = (last_dep - UM_MIN(last_dep, t)) / svc;
			last_dep = dep;
			if (dep >= dur / 2 && dep < dur)
				deliv_half++;
			arr = dep + fwd;
			/* the receiver gets cells in order at arr (a FIFO path) */
			assert_int_equal(sendme_rcv_on_data(rcv, d, &due), UM_OK);
			if (due) {
				assert_true(ql < UM_ARRAY_LEN(q));
				q[(qh + ql) % UM_ARRAY_LEN(q)].at = arr + bwd;
				assert_int_equal(
				        sendme_rcv_next(rcv, &q[(qh + ql) % UM_ARRAY_LEN(q)].m),
				        UM_OK);
				ql++;
			}
		}
		/* next SENDME */
		assert_true(ql > 0);
		t = q[qh].at;
		if (t >= dur)
			break;
		assert_int_equal(sendme_snd_on_sendme(snd, &q[qh].m), UM_OK);
		assert_int_equal(cc_on_sendme(cc, t), UM_OK);
		qh = (qh + 1) % UM_ARRAY_LEN(q);
		ql--;
		if (t >= dur / 2) {
			res->cwnd_min = UM_MIN(res->cwnd_min, cc_cwnd(cc));
			res->cwnd_max = UM_MAX(res->cwnd_max, cc_cwnd(cc));
			cwnd_sum += cc_cwnd(cc);
			n_samples++;
		}
	}
	res->tput = (double)deliv_half / ((double)(dur - dur / 2) / (double)svc);
	res->cwnd_avg = n_samples ? cwnd_sum / (double)n_samples : 0;
	assert_int_equal(cc_clock_skips(cc), 0);
	sendme_rcv_free(rcv);
	sendme_snd_free(snd);
	cc_free(cc);
}

/*
 * 10000 cells/s (5 MB/s), 80 ms base RTT: BDP = 801 cells. Vegas keeps queue_use (~ the
 * bottleneck queue) between alpha and beta once per cwnd, so cwnd settles in BDP + alpha ..
 * BDP + beta (allowing one cwnd_inc step either side) and the queue stays bounded while the
 * link stays busy.
 */
static void
test_cc_sim_converges_exit(void **state)
{
	struct sim_result r;

	(void)state;
	simulate(CC_PATH_EXIT, 100000, 40 * MS, 40 * MS, 60000 * MS, &r);
	print_message("exit: tput %.3f cwnd %u..%u avg %.0f bdp %lu queue max %lu (all %lu)\n",
	              r.tput, r.cwnd_min, r.cwnd_max, r.cwnd_avg, (unsigned long)r.bdp,
	              (unsigned long)r.queue_max, (unsigned long)r.queue_max_all);
	assert_true(r.tput >= 0.90);
	assert_true(r.tput <= 1.0);
	assert_true(r.cwnd_min >= r.bdp + CC_VEGAS_ALPHA_EXIT - CC_CWND_INC);
	assert_true(r.cwnd_max <= r.bdp + CC_VEGAS_BETA_EXIT + CC_CWND_INC);
	assert_true(r.queue_max <= CC_VEGAS_BETA_EXIT + 2 * CC_SENDME_INC);
}

/* A slower, longer path (1000 cells/s, 300 ms: BDP = 301) with onion thresholds. */
static void
test_cc_sim_converges_onion(void **state)
{
	struct sim_result r;

	(void)state;
	simulate(CC_PATH_ONION, 1000000, 150 * MS, 150 * MS, 600000 * MS, &r);
	print_message("onion: tput %.3f cwnd %u..%u avg %.0f bdp %lu queue max %lu (all %lu)\n",
	              r.tput, r.cwnd_min, r.cwnd_max, r.cwnd_avg, (unsigned long)r.bdp,
	              (unsigned long)r.queue_max, (unsigned long)r.queue_max_all);
	assert_true(r.tput >= 0.90);
	assert_true(r.cwnd_min >= r.bdp + CC_VEGAS_ALPHA_ONION - CC_CWND_INC);
	assert_true(r.cwnd_max <= r.bdp + CC_VEGAS_BETA_ONION + CC_CWND_INC);
	assert_true(r.queue_max <= CC_VEGAS_BETA_ONION + 2 * CC_SENDME_INC);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cc_defaults),
		cmocka_unit_test(test_cc_bad_params_refused),
		cmocka_unit_test(test_cc_initial_state_and_window),
		cmocka_unit_test(test_cc_slow_start_growth),
		cmocka_unit_test(test_cc_slow_start_exit_at_gamma),
		cmocka_unit_test(test_cc_slow_start_needs_full_window),
		cmocka_unit_test(test_cc_slow_start_limited_above_sscap),
		cmocka_unit_test(test_cc_steady_above_delta),
		cmocka_unit_test(test_cc_steady_above_beta),
		cmocka_unit_test(test_cc_steady_inside_band),
		cmocka_unit_test(test_cc_steady_below_alpha),
		cmocka_unit_test(test_cc_steady_once_per_cwnd),
		cmocka_unit_test(test_cc_blocked_shrinks_to_cwnd_min),
		cmocka_unit_test(test_cc_cwnd_max_clamp),
		cmocka_unit_test(test_cc_clock_stall_ignored),
		cmocka_unit_test(test_cc_clock_jump_ignored),
		cmocka_unit_test(test_cc_unexpected_sendme_refused),
		cmocka_unit_test(test_cc_sim_converges_exit),
		cmocka_unit_test(test_cc_sim_converges_onion),
	};

	return cmocka_run_group_tests_name("circuit_cc", tests, NULL, NULL);
}
