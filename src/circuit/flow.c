/* SPDX-License-Identifier: MIT */
/*
 * XON/XOFF stream flow control (prop 324 section 4; docs/PROTOCOL.md section 14.4), after C
 * Tor's congestion_control_flow.c, with two changes: the drain rate is the bytes drained in
 * the current measurement period over that period (C Tor divides the previous period's
 * bytes), and a peer that sends XON/XOFF its data cannot justify, or ignores our XOFF past a
 * hard cap, is a protocol violation (C Tor only logs, for compatibility with older peers).
 *
 * Dropmark defence, as credit: every byte we package earns one byte of XOFF credit and two
 * of XON credit; an XOFF costs peer_xoff bytes, an XON min(peer_xoff, xon_rate); a signal
 * without the credit is refused. An honest receiver never runs short: an XOFF needs its
 * queue above xoff bytes, and the queue must have emptied (XON) since the previous XOFF, so
 * each XOFF is paid by bytes of its own; an XON either ends an XOFF or follows a new rate
 * measurement, which needs xon_rate more bytes drained, so XONs cost at most 2 bytes per byte
 * sent. Credit is capped (2 x hard_cap_bytes, resp. twice that) so that a long honest
 * transfer does not bank a licence for a burst of fake signals later; the cap is above
 * anything one XOFF cycle can have in flight or queued (hard_cap_bytes), so clipping never
 * takes credit an honest signal needs. (C Tor halves its counters instead, which can take
 * the credit of a cycle in progress; it only logs, so it does not matter there.)
 */
#include "circuit/flow.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "circuit/cc.h"

struct flow {
	struct flow_params p;
	uint64_t xoff_bytes, peer_xoff_bytes, xon_rate_bytes;
	/* receiving edge */
	bool xoff_sent;
	bool draining;           /* a rate measurement period is open */
	uint64_t drain_start_ns; /* valid while draining */
	uint64_t drained;        /* bytes drained in the period */
	uint32_t ewma_kbps;      /* drain-rate estimate */
	uint32_t last_sent_kbps; /* rate in our last XON; 0 = none sent */
	/* sending edge */
	bool xoff_received;
	uint32_t peer_kbps;
	uint64_t xoff_credit, xon_credit; /* bytes; see the file comment */
	uint64_t credit_cap;
};

void
flow_params_default(struct flow_params *p, enum flow_side side)
{
	memset(p, 0, sizeof(*p));
	p->xoff_cells = side == FLOW_SIDE_CLIENT ? FLOW_XOFF_CLIENT : FLOW_XOFF_EXIT;
	p->peer_xoff_cells = side == FLOW_SIDE_CLIENT ? FLOW_XOFF_EXIT : FLOW_XOFF_CLIENT;
	p->xon_rate_cells = FLOW_XON_RATE;
	p->xon_change_pct = FLOW_XON_CHANGE_PCT;
	p->xon_ewma_cnt = FLOW_XON_EWMA_CNT;
	p->hard_cap_bytes = ((uint64_t)p->xoff_cells + 2 * (uint64_t)CC_CWND_MAX) * RELAY_DATA_MAX;
}

int
flow_new(const struct flow_params *p, struct flow **out)
{
	struct flow *f;

	*out = NULL;
	if (p->xoff_cells < 1 || p->xoff_cells > 10000 || p->peer_xoff_cells < 1 ||
	    p->peer_xoff_cells > 10000 || p->xon_rate_cells < 1 || p->xon_rate_cells > 5000 ||
	    p->xon_change_pct < 1 || p->xon_change_pct > 99 || p->xon_ewma_cnt < 2 ||
	    p->xon_ewma_cnt > 100 || p->hard_cap_bytes < (uint64_t)p->xoff_cells * RELAY_DATA_MAX)
		return UM_ERR_INVALID;
	f = um_xcalloc(1, sizeof(*f));
	f->p = *p;
	f->xoff_bytes = (uint64_t)p->xoff_cells * RELAY_DATA_MAX;
	f->peer_xoff_bytes = (uint64_t)p->peer_xoff_cells * RELAY_DATA_MAX;
	f->xon_rate_bytes = (uint64_t)p->xon_rate_cells * RELAY_DATA_MAX;
	f->credit_cap = 2 * p->hard_cap_bytes;
	*out = f;
	return UM_OK;
}

void
flow_free_(struct flow *f)
{
	free(f);
}

static void
out_none(struct flow_out *out)
{
	out->sig = FLOW_SIG_NONE;
	out->kbps_ewma = 0;
}

static void
send_xon(struct flow *f, struct flow_out *out)
{
	out->sig = FLOW_SIG_XON;
	out->kbps_ewma = f->ewma_kbps;
	f->last_sent_kbps = f->ewma_kbps;
	f->xoff_sent = false;
}

/* Drain rate of the open period in kilobytes/s, 1..INT32_MAX; 0 if it cannot be measured. */
static uint32_t
drain_rate(const struct flow *f, uint64_t now_ns)
{
	uint64_t dt, kbps;

	if (now_ns <= f->drain_start_ns)
		return 0; /* stalled clock */
	dt = now_ns - f->drain_start_ns;
	/* bytes / ns x 10^9 = bytes/s; / 1000 = kB/s. drained < 2^32, so x 10^6 fits. */
	kbps = f->drained * 1000000 / dt;
	return (uint32_t)UM_MAX(UM_MIN(kbps, (uint64_t)INT32_MAX), (uint64_t)1);
}

static bool
rate_changed(const struct flow *f)
{
	uint64_t last = f->last_sent_kbps, now = f->ewma_kbps;

	if (last == 0)
		return false;
	return 100 * now > (100 + (uint64_t)f->p.xon_change_pct) * last ||
	       100 * now < (100 - (uint64_t)f->p.xon_change_pct) * last;
}

/* C Tor flow_control_decide_xon(). */
static void
decide_xon(struct flow *f, size_t n_written, size_t buffered, uint64_t now_ns, struct flow_out *out)
{
	if (f->draining && now_ns < f->drain_start_ns) {
		/* The clock ran backwards: the period cannot be measured; start afresh. */
		f->draining = false;
		f->drained = 0;
	}
	if (f->drained >= UINT32_MAX - (uint64_t)UM_MIN(n_written, (size_t)UINT32_MAX)) {
		/* Keep the count small: halve it and move the period start halfway to now. */
		f->drained /= 2;
		if (f->draining)
			f->drain_start_ns = now_ns - (now_ns - f->drain_start_ns) / 2;
	}
	f->drained += UM_MIN(n_written, (size_t)UINT32_MAX);

	if (!f->draining && buffered > 0) {
		f->draining = true;
		f->drain_start_ns = now_ns;
		f->drained = 0;
	}
	if (f->draining && f->drained > f->xon_rate_bytes) {
		uint32_t rate = drain_rate(f, now_ns);

		if (rate != 0) {
			uint64_t n = f->p.xon_ewma_cnt;

			f->ewma_kbps =
			        f->ewma_kbps == 0
			                ? rate
			                : (uint32_t)((2 * (uint64_t)rate + (n - 1) * f->ewma_kbps) /
			                             (n + 1));
			f->drained = 0;
			f->draining = false;
		}
	}

	if (!f->xoff_sent) {
		if (rate_changed(f))
			send_xon(f, out); /* advisory: the rate moved */
	} else if (buffered == 0) {
		send_xon(f, out); /* our XOFF is over */
	}

	if (buffered == 0) {
		f->draining = false;
		/* Empty for xon_rate bytes: the application is faster than our estimate. */
		if (f->drained >= f->xon_rate_bytes && f->last_sent_kbps != 0) {
			f->ewma_kbps =
			        (uint32_t)UM_MIN(2 * (uint64_t)f->ewma_kbps, (uint64_t)INT32_MAX);
			f->drained = 0;
		}
	}
}

int
flow_on_delivered(struct flow *f, size_t buffered, uint64_t now_ns, struct flow_out *out)
{
	out_none(out);
	/* Flow control always takes the data up to the cap: the cells are already here. */
	if ((uint64_t)buffered > f->p.hard_cap_bytes)
		return UM_ERR_PROTOCOL;
	if ((uint64_t)buffered > f->xoff_bytes && !f->xoff_sent) {
		out->sig = FLOW_SIG_XOFF;
		f->xoff_sent = true;
		f->ewma_kbps = 0; /* a rate that let us reach XOFF was wrong */
		return UM_OK;
	}
	/* Writes happen only when the socket drains, so a queue that grows must trigger the
	 * rate check here too. */
	if ((uint64_t)buffered > (uint64_t)FLOW_BURST_CELLS * RELAY_DATA_MAX)
		decide_xon(f, 0, buffered, now_ns, out);
	return UM_OK;
}

void
flow_on_drained(struct flow *f, size_t n_written, size_t buffered, uint64_t now_ns,
                struct flow_out *out)
{
	out_none(out);
	decide_xon(f, n_written, buffered, now_ns, out);
}

void
flow_on_packaged(struct flow *f, size_t len)
{
	f->xoff_credit = UM_MIN(f->xoff_credit + len, f->credit_cap);
	f->xon_credit = UM_MIN(f->xon_credit + 2 * (uint64_t)len, 2 * f->credit_cap);
}

int
flow_on_xoff(struct flow *f)
{
	if (f->xoff_received || f->xoff_credit < f->peer_xoff_bytes)
		return UM_ERR_PROTOCOL;
	f->xoff_credit -= f->peer_xoff_bytes;
	f->xoff_received = true;
	return UM_OK;
}

int
flow_on_xon(struct flow *f, const struct relay_xon *x)
{
	uint64_t cost = UM_MIN(f->peer_xoff_bytes, f->xon_rate_bytes);

	if (f->xon_credit < cost)
		return UM_ERR_PROTOCOL;
	f->xon_credit -= cost;
	f->peer_kbps = x->kbps_ewma;
	f->xoff_received = false;
	return UM_OK;
}

bool
flow_may_read(const struct flow *f)
{
	return !f->xoff_received;
}

uint64_t
flow_rate_bytes_per_s(const struct flow *f)
{
	return (uint64_t)f->peer_kbps * 1000;
}

bool
flow_xoff_sent(const struct flow *f)
{
	return f->xoff_sent;
}

uint32_t
flow_drain_kbps(const struct flow *f)
{
	return f->ewma_kbps;
}
