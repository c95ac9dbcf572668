/* SPDX-License-Identifier: MIT */
/*
 * Circuit congestion control, sans-I/O: TOR_VEGAS of Tor proposal 324 (section 3.3, as C Tor
 * 0.4.8 runs it) with umbra's constants (docs/PROTOCOL.md section 14.2). One struct cc is one
 * sending endpoint of one circuit: the client's sender toward the exit, or the exit's sender
 * toward the client. Relays in the middle have none.
 *
 *   sender                                              receiver
 *   cc_can_send()? -> cc_on_data_sent(now) -- DATA -->  (sendme.h counts, every sendme_inc-th
 *                                                        DATA cell answers with a SENDME)
 *   sendme_snd_on_sendme() ok? -> cc_on_sendme(now) <-- SENDME
 *
 * Every sendme_inc-th DATA cell's send time goes into a bounded FIFO; the SENDME it triggers
 * gives an RTT sample. The smoothed RTT (N-EWMA) and the minimum RTT give the BDP estimate
 * BDP = cwnd * min_rtt / ewma_rtt; queue_use = cwnd - BDP drives the window: limited slow
 * start (RFC 3742) while queue_use < gamma, then one update per cwnd of acks (above delta:
 * back to BDP + delta - cwnd_inc; above beta or link blocked: - cwnd_inc; window full and
 * below alpha: + cwnd_inc), clamped to [cwnd_min, cwnd_max].
 *
 * Units: windows, inflight, BDP and the Vegas thresholds are cells (DATA cells of the
 * circuit); times and RTTs are nanoseconds on the caller's monotonic clock (um_mono_ns()).
 * All arithmetic is 64-bit integer. Time is an argument: nothing here reads a clock, so the
 * controller runs identically under a simulated clock. Not thread-safe: one owner.
 */
#ifndef UM_CIRCUIT_CC_H
#define UM_CIRCUIT_CC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"

/*
 * The constants (prop 324 section 6.5 names; PROTOCOLS.md "streams, flow"). OUTBUF_CELLS = 62
 * (2 x 31): exit thresholds are 2, 4, 3, 6 outbufs, onion-service ones 3, 7, 5, 9.
 */
enum cc_consts {
	CC_SENDME_INC = 31,      /* cc_sendme_inc: DATA cells per SENDME */
	CC_CWND_INIT = 124,      /* cc_cwnd_init (4 x 31) */
	CC_CWND_MIN = 31,        /* cc_cwnd_min */
	CC_CWND_MAX = 5000,      /* cc_cwnd_max: ours (Tor: INT32_MAX) */
	CC_CWND_INC = 31,        /* cc_cwnd_inc: steady-state step */
	CC_CWND_INC_RATE = 1,    /* cc_cwnd_inc_rate: steady-state updates per cwnd */
	CC_CWND_INC_PCT_SS = 50, /* cc_cwnd_inc_pct_ss: slow-start step, % of sendme_inc */
	CC_BWE_MIN = 5,          /* cc_bwe_min: kept for the record, see cc.c */
	CC_EWMA_CWND_PCT = 50,   /* cc_ewma_cwnd_pct: EWMA N, % of the acks in a cwnd */
	CC_EWMA_MAX = 10,        /* cc_ewma_max: cap on that N */
	CC_EWMA_SS = 2,          /* cc_ewma_ss: N in slow start */
	CC_RTT_RESET_PCT = 100,  /* cc_rtt_reset_pct (Tor default; min RTT reset at cwnd_min) */
	CC_VEGAS_ALPHA_EXIT = 124,
	CC_VEGAS_BETA_EXIT = 248,
	CC_VEGAS_GAMMA_EXIT = 186,
	CC_VEGAS_DELTA_EXIT = 372,
	CC_VEGAS_ALPHA_ONION = 186,
	CC_VEGAS_BETA_ONION = 434,
	CC_VEGAS_GAMMA_ONION = 310,
	CC_VEGAS_DELTA_ONION = 558,
	CC_SSCAP_EXIT = 500,       /* cc_sscap_exit: RFC 3742 max_ssthresh */
	CC_SSCAP_ONION = 600,      /* cc_sscap_onion */
	CC_SS_MAX = 5000,          /* cc_ss_max: slow start ends at this cwnd */
	CC_CWND_FULL_GAP = 1,      /* cc_cwnd_full_gap: sendme_incs of slack still "full" */
	CC_CWND_FULL_MINPCT = 75,  /* cc_cwnd_full_minpct: below this % full, not full */
	CC_CWND_FULL_PER_CWND = 1, /* cc_cwnd_full_per_cwnd: reset "full" once per cwnd */
	/* An RTT sample more than this many times the smoothed RTT (or less than 1/this) is a
	 * clock jump (prop 324 section 2.1.1; C Tor DELTA_DISCREPENCY_RATIO_MAX). */
	CC_CLOCK_JUMP_RATIO = 5000,
};

/* Which thresholds: a circuit to an exit (or a directory), or an onion-service circuit. */
enum cc_path {
	CC_PATH_EXIT = 0,
	CC_PATH_ONION = 1,
};

enum cc_state {
	CC_SLOW_START = 0,
	CC_STEADY = 1,
};

/* The parameters of one controller. cc_params_default() fills in the constants above. */
struct cc_params {
	uint32_t sendme_inc;      /* 1..255 (one byte in negotiation) */
	uint32_t cwnd_init;       /* cwnd_min..cwnd_max */
	uint32_t cwnd_min;        /* >= sendme_inc */
	uint32_t cwnd_max;        /* <= CC_CWND_MAX */
	uint32_t cwnd_inc;        /* >= 1 */
	uint32_t cwnd_inc_rate;   /* >= 1 */
	uint32_t cwnd_inc_pct_ss; /* 1..500 */
	uint32_t bwe_min;
	uint32_t ewma_cwnd_pct;             /* 1..255 */
	uint32_t ewma_max;                  /* >= 2 */
	uint32_t ewma_ss;                   /* >= 2 */
	uint32_t rtt_reset_pct;             /* 0..100 */
	uint32_t alpha, beta, gamma, delta; /* alpha <= beta, gamma; beta <= delta */
	uint32_t ss_cap;                    /* >= 1 */
	uint32_t ss_max;                    /* cwnd_min..cwnd_max */
	uint32_t cwnd_full_gap;
	uint32_t cwnd_full_minpct;   /* 0..100 */
	uint32_t cwnd_full_per_cwnd; /* 0 or 1 */
};

struct cc;

/* Fill *p with the constants of enum cc_consts for path. */
void cc_params_default(struct cc_params *p, enum cc_path path);

/*
 * Return in *out a new controller with parameters *p (copied): slow start, cwnd = cwnd_init,
 * nothing in flight, no RTT yet. The caller owns it and frees it with cc_free().
 * UM_ERR_INVALID if *p breaks a range of struct cc_params.
 */
int cc_new(const struct cc_params *p, struct cc **out) UM_WARN_UNUSED;
void cc_free_(struct cc *cc);
#define cc_free(cc) UM_FREE_AND_NULL(cc_free_, cc)

/* True when one more DATA cell may be sent now: inflight < cwnd. */
bool cc_can_send(const struct cc *cc);
/*
 * Account one DATA cell sent at now_ns: inflight + 1, and if it is the sendme_inc-th cell
 * since the last one recorded, remember now_ns for the RTT sample its SENDME will give.
 * UM_ERR_STATE (nothing changed) if !cc_can_send(): the caller broke the window.
 */
int cc_on_data_sent(struct cc *cc, uint64_t now_ns) UM_WARN_UNUSED;
/*
 * A SENDME arrived at now_ns (after sendme_snd_on_sendme() authenticated it): take the RTT
 * sample of the oldest recorded send time, unless the clock stalled or jumped (then the
 * sample is dropped and counted, the window left alone), update the BDP estimate and the
 * window, and release sendme_inc cells of inflight. UM_ERR_PROTOCOL (nothing changed) if no
 * SENDME was due: the peer acked cells we never sent, and the circuit must close.
 */
int cc_on_sendme(struct cc *cc, uint64_t now_ns) UM_WARN_UNUSED;
/*
 * The link under this circuit is blocked (its write queue is over its limit) / writable
 * again. The next SENDME runs a window update at once: while blocked, slow start ends and the
 * steady state shrinks the window by cwnd_inc per update, as if queue_use > beta.
 */
void cc_on_blocked(struct cc *cc);
void cc_on_unblocked(struct cc *cc);

/* Getters for metrics and tests. Cells, nanoseconds (0 while no sample was taken). */
uint32_t cc_cwnd(const struct cc *cc);
uint32_t cc_inflight(const struct cc *cc);
uint64_t cc_rtt_ewma_ns(const struct cc *cc);
uint64_t cc_rtt_min_ns(const struct cc *cc);
uint64_t cc_rtt_max_ns(const struct cc *cc);
uint32_t cc_bdp(const struct cc *cc);
enum cc_state cc_state(const struct cc *cc);
bool cc_blocked(const struct cc *cc);
/* RTT samples dropped because the clock stalled or jumped. */
uint64_t cc_clock_skips(const struct cc *cc);

#endif /* UM_CIRCUIT_CC_H */
