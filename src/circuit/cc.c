/* SPDX-License-Identifier: MIT */
/*
 * TOR_VEGAS congestion control (prop 324 section 3.3; docs/PROTOCOL.md section 14.2). The
 * update rules follow C Tor's congestion_control_vegas.c and congestion_control_common.c
 * (0.4.8) step for step, with their integer arithmetic, so that a umbra endpoint behaves like
 * a Tor one with the same parameters:
 *
 *   per SENDME:   rtt = now - send time of the sendme_inc-th cell it acks (FIFO order)
 *                 drop the sample if rtt == 0 (stall), or, once out of slow start,
 *                 rtt > 5000 x ewma (jump forward; a fall below ewma / 5000 is dropped only
 *                 while the last sample was a stall)
 *                 ewma = (2 rtt + (N - 1) ewma) / (N + 1),  N = ewma_ss in slow start, else
 *                        max(2, min(updates_per_cwnd x ewma_cwnd_pct / 100, ewma_max))
 *                 min_rtt = min(min_rtt, ewma) (raised back to ewma when cwnd sits at cwnd_min)
 *                 BDP = cwnd x min_rtt / ewma
 *
 * cc_bwe_min (5) is part of the negotiated parameter set but, as in C Tor since its
 * sendme-rate BDP estimators were removed, the cwnd x RTT estimator above does not use it.
 */
#include "circuit/cc.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"

struct cc {
	struct cc_params p;
	uint64_t cwnd;                       /* cells */
	uint64_t inflight;                   /* cells sent and not yet acked by a SENDME */
	uint64_t sent;                       /* DATA cells sent, all time */
	uint64_t bdp;                        /* cells */
	uint64_t ewma_rtt, min_rtt, max_rtt; /* ns; 0 = none yet */
	uint64_t clock_skips;
	uint64_t next_cc_event;   /* SENDMEs until the next steady-state update */
	uint64_t next_cwnd_event; /* SENDMEs until a cwnd worth of acks is complete */
	bool in_slow_start;
	bool cwnd_full;
	bool blocked;
	bool clock_broken; /* the last sample was a stall (C Tor's is_monotime_clock_broken,
	                    * kept per controller: no global state) */
	/* Send times of the cells whose SENDMEs are due, oldest first (ring). At most
	 * cwnd_max / sendme_inc can be due at once, since inflight <= cwnd <= cwnd_max. */
	uint64_t *ts;
	size_t ts_cap, ts_head, ts_len;
};

void
cc_params_default(struct cc_params *p, enum cc_path path)
{
	memset(p, 0, sizeof(*p));
	p->sendme_inc = CC_SENDME_INC;
	p->cwnd_init = CC_CWND_INIT;
	p->cwnd_min = CC_CWND_MIN;
	p->cwnd_max = CC_CWND_MAX;
	p->cwnd_inc = CC_CWND_INC;
	p->cwnd_inc_rate = CC_CWND_INC_RATE;
	p->cwnd_inc_pct_ss = CC_CWND_INC_PCT_SS;
	p->bwe_min = CC_BWE_MIN;
	p->ewma_cwnd_pct = CC_EWMA_CWND_PCT;
	p->ewma_max = CC_EWMA_MAX;
	p->ewma_ss = CC_EWMA_SS;
	p->rtt_reset_pct = CC_RTT_RESET_PCT;
	if (path == CC_PATH_ONION) {
		p->alpha = CC_VEGAS_ALPHA_ONION;
		p->beta = CC_VEGAS_BETA_ONION;
		p->gamma = CC_VEGAS_GAMMA_ONION;
		p->delta = CC_VEGAS_DELTA_ONION;
		p->ss_cap = CC_SSCAP_ONION;
	} else {
		p->alpha = CC_VEGAS_ALPHA_EXIT;
		p->beta = CC_VEGAS_BETA_EXIT;
		p->gamma = CC_VEGAS_GAMMA_EXIT;
		p->delta = CC_VEGAS_DELTA_EXIT;
		p->ss_cap = CC_SSCAP_EXIT;
	}
	p->ss_max = CC_SS_MAX;
	p->cwnd_full_gap = CC_CWND_FULL_GAP;
	p->cwnd_full_minpct = CC_CWND_FULL_MINPCT;
	p->cwnd_full_per_cwnd = CC_CWND_FULL_PER_CWND;
}

static bool
params_ok(const struct cc_params *p)
{
	return p->sendme_inc >= 1 && p->sendme_inc <= 255 && p->cwnd_max <= CC_CWND_MAX &&
	       p->cwnd_min >= p->sendme_inc && p->cwnd_min <= p->cwnd_max &&
	       p->cwnd_init >= p->cwnd_min && p->cwnd_init <= p->cwnd_max && p->cwnd_inc >= 1 &&
	       p->cwnd_inc <= p->cwnd_max && p->cwnd_inc_rate >= 1 && p->cwnd_inc_rate <= 250 &&
	       p->cwnd_inc_pct_ss >= 1 && p->cwnd_inc_pct_ss <= 500 && p->ewma_cwnd_pct >= 1 &&
	       p->ewma_cwnd_pct <= 255 && p->ewma_max >= 2 && p->ewma_ss >= 2 &&
	       p->rtt_reset_pct <= 100 && p->alpha <= p->beta && p->alpha <= p->gamma &&
	       p->beta <= p->delta && p->delta <= CC_CWND_MAX && p->ss_cap >= 1 &&
	       p->ss_max >= p->cwnd_min && p->ss_max <= p->cwnd_max &&
	       p->cwnd_full_gap <= CC_CWND_MAX && p->cwnd_full_minpct <= 100 &&
	       p->cwnd_full_per_cwnd <= 1;
}

/* SENDMEs per cwnd, rounded to nearest (C Tor SENDME_PER_CWND). */
static uint64_t
sendme_per_cwnd(const struct cc *cc)
{
	return (cc->cwnd + cc->p.sendme_inc / 2) / cc->p.sendme_inc;
}

/* SENDMEs between steady-state updates, rounded to nearest (C Tor CWND_UPDATE_RATE). */
static uint64_t
cwnd_update_rate(const struct cc *cc)
{
	uint64_t per = (uint64_t)cc->p.cwnd_inc_rate * cc->p.sendme_inc;

	return (cc->cwnd + per / 2) / per;
}

int
cc_new(const struct cc_params *p, struct cc **out)
{
	struct cc *cc;

	*out = NULL;
	if (!params_ok(p))
		return UM_ERR_INVALID;
	cc = um_xcalloc(1, sizeof(*cc));
	cc->p = *p;
	cc->cwnd = p->cwnd_init;
	cc->in_slow_start = true;
	cc->ts_cap = p->cwnd_max / p->sendme_inc + 1;
	cc->ts = um_xcalloc(cc->ts_cap, sizeof(*cc->ts));
	cc->next_cc_event = cwnd_update_rate(cc);
	cc->next_cwnd_event = sendme_per_cwnd(cc);
	*out = cc;
	return UM_OK;
}

void
cc_free_(struct cc *cc)
{
	if (cc == NULL)
		return;
	free(cc->ts);
	free(cc);
}

bool
cc_can_send(const struct cc *cc)
{
	return cc->inflight < cc->cwnd;
}

int
cc_on_data_sent(struct cc *cc, uint64_t now_ns)
{
	if (!cc_can_send(cc))
		return UM_ERR_STATE;
	if ((cc->sent + 1) % cc->p.sendme_inc == 0) {
		/* inflight < cwnd <= cwnd_max bounds the due SENDMEs by ts_cap - 1. */
		if (cc->ts_len == cc->ts_cap)
			return UM_ERR_INTERNAL;
		cc->ts[(cc->ts_head + cc->ts_len) % cc->ts_cap] = now_ns;
		cc->ts_len++;
	}
	cc->sent++;
	cc->inflight++;
	return UM_OK;
}

/*
 * True if a sample of new_rtt must be dropped: the monotonic clock stalled (0) or jumped
 * (prop 324 section 2.1.1, C Tor time_delta_stalled_or_jumped). The ratio tests only apply
 * once slow start is over and an EWMA exists, so early samples can still settle it.
 */
static bool
clock_stalled_or_jumped(struct cc *cc, uint64_t old_rtt, uint64_t new_rtt)
{
	if (new_rtt == 0) {
		cc->clock_broken = true;
		return true;
	}
	if (cc->in_slow_start || old_rtt == 0)
		return false;
	/* old > new x RATIO, written so that it cannot overflow. */
	if (old_rtt / CC_CLOCK_JUMP_RATIO > new_rtt ||
	    (old_rtt / CC_CLOCK_JUMP_RATIO == new_rtt && old_rtt % CC_CLOCK_JUMP_RATIO != 0)) {
		/* A sudden fall: real after a stall, else maybe network change; drop it only
		 * while the clock is known to misbehave. */
		return cc->clock_broken;
	}
	if (new_rtt / CC_CLOCK_JUMP_RATIO > old_rtt ||
	    (new_rtt / CC_CLOCK_JUMP_RATIO == old_rtt && new_rtt % CC_CLOCK_JUMP_RATIO != 0))
		return true; /* a jump forward (or a suspended peer): never trusted */
	cc->clock_broken = false;
	return false;
}

/* N of the N-EWMA (C Tor n_ewma_count). */
static uint64_t
ewma_count(const struct cc *cc)
{
	uint64_t n;

	if (cc->in_slow_start) {
		n = cc->p.ewma_ss;
	} else {
		n = cwnd_update_rate(cc) * cc->p.ewma_cwnd_pct / 100;
		n = UM_MIN(n, (uint64_t)cc->p.ewma_max);
	}
	return UM_MAX(n, (uint64_t)2);
}

/*
 * Take the RTT sample of the oldest due SENDME. Return the RTT in ns, or 0 if the sample was
 * dropped (C Tor congestion_control_update_circuit_rtt).
 */
static uint64_t
update_rtt(struct cc *cc, uint64_t now_ns)
{
	uint64_t sent_at = cc->ts[cc->ts_head];
	uint64_t rtt, n;

	cc->ts_head = (cc->ts_head + 1) % cc->ts_cap;
	cc->ts_len--;
	/* A clock that ran backwards is a jump too; the caller's clock is supposed to be
	 * monotonic, but the core must not wrap on it. */
	if (now_ns < sent_at) {
		cc->clock_skips++;
		return 0;
	}
	rtt = now_ns - sent_at;
	if (clock_stalled_or_jumped(cc, cc->ewma_rtt, rtt)) {
		cc->clock_skips++;
		return 0;
	}
	n = ewma_count(cc);
	if (cc->ewma_rtt == 0)
		cc->ewma_rtt = rtt;
	else
		cc->ewma_rtt = (2 * rtt + (n - 1) * cc->ewma_rtt) / (n + 1);
	if (rtt > cc->max_rtt)
		cc->max_rtt = rtt;
	if (cc->min_rtt == 0) {
		cc->min_rtt = cc->ewma_rtt;
	} else if (cc->cwnd == cc->p.cwnd_min && !cc->in_slow_start) {
		/* Stuck at cwnd_min, perhaps because min_rtt was abnormally low: raise it
		 * toward the EWMA so the window can grow again (C Tor percent_max_mix). */
		uint64_t hi = UM_MAX(cc->ewma_rtt, cc->min_rtt);
		uint64_t lo = UM_MIN(cc->ewma_rtt, cc->min_rtt);

		cc->min_rtt =
		        cc->p.rtt_reset_pct * hi / 100 + (100 - cc->p.rtt_reset_pct) * lo / 100;
	} else if (cc->ewma_rtt < cc->min_rtt) {
		cc->min_rtt = cc->ewma_rtt;
	}
	return rtt;
}

/*
 * Update the BDP estimate after an RTT sample (rtt 0 = dropped). Return whether the window
 * algorithm runs on this SENDME (C Tor congestion_control_update_circuit_bdp).
 */
static bool
update_bdp(struct cc *cc, uint64_t rtt)
{
	if (cc->ewma_rtt == 0) {
		/* No sample ever: the clock has misbehaved all along. Without RTTs the only
		 * signal is a blocked link, which then counts the whole window as queued
		 * (C Tor takes cwnd - link queue, floored at cwnd_min; we do not see the link
		 * queue, so we take the floor). */
		cc->bdp = cc->blocked ? cc->p.cwnd_min : cc->cwnd;
		return cc->blocked;
	}
	/* Multiply first: min_rtt and ewma_rtt are close, and cwnd x rtt fits easily in 64
	 * bits (5000 x 2^50 ns). */
	cc->bdp = cc->cwnd * cc->min_rtt / cc->ewma_rtt;
	return cc->blocked || rtt != 0;
}

/* RFC 3742 limited slow start increment (C Tor rfc3742_ss_inc). */
static uint64_t
ss_inc(const struct cc *cc)
{
	if (cc->cwnd <= cc->p.ss_cap)
		return ((uint64_t)cc->p.cwnd_inc_pct_ss * cc->p.sendme_inc + 50) / 100;
	/* K = 2 cwnd / max_ssthresh; cwnd += sendme_inc / K, at least 1. */
	return UM_MAX(((uint64_t)cc->p.sendme_inc * cc->p.ss_cap + cc->cwnd) / (2 * cc->cwnd),
	              (uint64_t)1);
}

static uint64_t
sub_floor0(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static void
vegas(struct cc *cc)
{
	uint64_t queue_use = sub_floor0(cc->cwnd, cc->bdp);

	/* Full: inflight within gap sendme_incs of cwnd; not full below minpct % of cwnd;
	 * in between, unchanged (hysteresis). */
	if (cc->inflight + (uint64_t)cc->p.cwnd_full_gap * cc->p.sendme_inc >= cc->cwnd)
		cc->cwnd_full = true;
	else if (100 * cc->inflight < (uint64_t)cc->p.cwnd_full_minpct * cc->cwnd)
		cc->cwnd_full = false;

	if (cc->in_slow_start) {
		if (queue_use < cc->p.gamma && !cc->blocked) {
			if (cc->cwnd_full) {
				uint64_t inc = ss_inc(cc);

				cc->cwnd += inc;
				/* Slow start that grows slower than steady state would: over. */
				if (inc * sendme_per_cwnd(cc) <=
				    (uint64_t)cc->p.cwnd_inc * cc->p.cwnd_inc_rate)
					cc->in_slow_start = false;
			}
		} else {
			/* Congestion signal: queue at gamma, or the link blocked. */
			cc->cwnd = cc->bdp + cc->p.gamma;
			cc->in_slow_start = false;
		}
		if (cc->cwnd >= cc->p.ss_max) {
			cc->cwnd = cc->p.ss_max;
			cc->in_slow_start = false;
		}
	} else if (cc->next_cc_event == 0) {
		if (queue_use > cc->p.delta)
			cc->cwnd = sub_floor0(cc->bdp + cc->p.delta, cc->p.cwnd_inc);
		else if (queue_use > cc->p.beta || cc->blocked)
			cc->cwnd = sub_floor0(cc->cwnd, cc->p.cwnd_inc);
		else if (cc->cwnd_full && queue_use < cc->p.alpha)
			cc->cwnd += cc->p.cwnd_inc;
		cc->cwnd = UM_MAX(cc->cwnd, (uint64_t)cc->p.cwnd_min);
	}
}

int
cc_on_sendme(struct cc *cc, uint64_t now_ns)
{
	uint64_t rtt;

	/* ts_len > 0 implies inflight >= sendme_inc (see cc_on_data_sent). */
	if (cc->ts_len == 0)
		return UM_ERR_PROTOCOL;
	if (cc->next_cc_event > 0)
		cc->next_cc_event--;
	if (cc->next_cwnd_event > 0)
		cc->next_cwnd_event--;
	rtt = update_rtt(cc, now_ns);
	if (update_bdp(cc, rtt)) {
		vegas(cc);
		if (cc->next_cwnd_event == 0)
			cc->next_cwnd_event = sendme_per_cwnd(cc);
		if (cc->next_cc_event == 0)
			cc->next_cc_event = cwnd_update_rate(cc);
		/* Window use is judged afresh every cwnd of acks (or every update). */
		if (cc->p.cwnd_full_per_cwnd ? cc->next_cwnd_event == sendme_per_cwnd(cc)
		                             : cc->next_cc_event == cwnd_update_rate(cc))
			cc->cwnd_full = false;
	}
	if (cc->cwnd > cc->p.cwnd_max)
		cc->cwnd = cc->p.cwnd_max;
	cc->inflight -= cc->p.sendme_inc;
	return UM_OK;
}

void
cc_on_blocked(struct cc *cc)
{
	if (!cc->blocked) {
		cc->blocked = true;
		cc->next_cc_event = 0; /* an immediate congestion signal, once */
	}
}

void
cc_on_unblocked(struct cc *cc)
{
	if (cc->blocked) {
		cc->blocked = false;
		cc->next_cc_event = 0; /* re-evaluate the window at once */
	}
}

uint32_t
cc_cwnd(const struct cc *cc)
{
	return (uint32_t)cc->cwnd;
}

uint32_t
cc_inflight(const struct cc *cc)
{
	return (uint32_t)cc->inflight;
}

uint64_t
cc_rtt_ewma_ns(const struct cc *cc)
{
	return cc->ewma_rtt;
}

uint64_t
cc_rtt_min_ns(const struct cc *cc)
{
	return cc->min_rtt;
}

uint64_t
cc_rtt_max_ns(const struct cc *cc)
{
	return cc->max_rtt;
}

uint32_t
cc_bdp(const struct cc *cc)
{
	return (uint32_t)cc->bdp;
}

enum cc_state
cc_state(const struct cc *cc)
{
	return cc->in_slow_start ? CC_SLOW_START : CC_STEADY;
}

bool
cc_blocked(const struct cc *cc)
{
	return cc->blocked;
}

uint64_t
cc_clock_skips(const struct cc *cc)
{
	return cc->clock_skips;
}
