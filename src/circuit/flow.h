/* SPDX-License-Identifier: MIT */
/*
 * Stream flow control with XON/XOFF, sans-I/O (prop 324 section 4; docs/PROTOCOL.md section
 * 14.4). Congestion control (cc.h) paces a circuit; this paces one stream on it, so a slow
 * application does not make its edge buffer everything the circuit can carry.
 *
 * One struct flow per stream end holds both roles:
 *
 *   receiving edge (data from the circuit, queued toward the application socket):
 *     flow_on_delivered(buffered) after DATA is queued: XOFF once buffered > xoff bytes;
 *     flow_on_drained(n, buffered) after the socket took n bytes: XON once the queue
 *     emptied after an XOFF, or an advisory XON when the drain rate moved by more than
 *     xon_change_pct since the last XON. The rate (kbps_ewma, in kilobytes/s as in C Tor
 *     despite the name) is an N-EWMA over periods of at least xon_rate bytes drained.
 *   sending edge (data from the application socket, packaged into DATA cells):
 *     flow_on_packaged(len), flow_on_xoff(), flow_on_xon(); flow_may_read() says whether to
 *     read the socket; flow_rate_bytes_per_s() is the peer's advisory rate.
 *
 * Sizes are bytes of stream data (a cell count times RELAY_DATA_MAX, 486), times are ns on the
 * caller's monotonic clock. At most one signal comes out per call, in *out; the caller sends
 * it on the stream (relay_xon_write / relay_xoff_write). Any error means the peer broke the
 * protocol and the circuit is destroyed (reason PROTOCOL). Not thread-safe: one owner.
 */
#ifndef UM_CIRCUIT_FLOW_H
#define UM_CIRCUIT_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "circuit/relay_msg.h"

enum flow_consts {
	FLOW_XOFF_CLIENT = 500,   /* cc_xoff_client: cells queued toward the app at a client */
	FLOW_XOFF_EXIT = 500,     /* cc_xoff_exit: the same at an exit */
	FLOW_XON_RATE = 500,      /* cc_xon_rate: cells drained per rate measurement */
	FLOW_XON_CHANGE_PCT = 25, /* cc_xon_change_pct: rate change that sends an advisory XON */
	FLOW_XON_EWMA_CNT = 2,    /* cc_xon_ewma_cnt: N of the drain-rate N-EWMA */
	FLOW_BURST_CELLS = 32,    /* a queue above this is "not draining": re-check the rate */
};

/* Which end of the stream we are (which xoff limit is ours, which is the peer's). */
enum flow_side {
	FLOW_SIDE_CLIENT = 0,
	FLOW_SIDE_EXIT = 1,
};

struct flow_params {
	uint32_t xoff_cells;      /* our XOFF threshold, 1..10000 */
	uint32_t peer_xoff_cells; /* the peer's, 1..10000 (bounds the XOFFs it may send) */
	uint32_t xon_rate_cells;  /* 1..5000 */
	uint32_t xon_change_pct;  /* 1..99 */
	uint32_t xon_ewma_cnt;    /* 2..100 */
	/* Buffered bytes above which the receiving edge gives up on the peer: xoff plus two
	 * maximal congestion windows (what a sender may still have in flight or queued when
	 * our XOFF reaches it). */
	uint64_t hard_cap_bytes;
};

enum flow_signal {
	FLOW_SIG_NONE = 0,
	FLOW_SIG_XOFF,
	FLOW_SIG_XON,
};

struct flow_out {
	enum flow_signal sig;
	uint32_t kbps_ewma; /* XON only */
};

struct flow;

/* Fill *p with the constants above for our side. */
void flow_params_default(struct flow_params *p, enum flow_side side);

/*
 * Return in *out a new stream flow state (reading allowed, nothing buffered, no rate). The
 * caller owns it and frees it with flow_free(). UM_ERR_INVALID for out-of-range params.
 */
int flow_new(const struct flow_params *p, struct flow **out) UM_WARN_UNUSED;
void flow_free_(struct flow *f);
#define flow_free(f) UM_FREE_AND_NULL(flow_free_, f)

/*
 * Receiving edge: DATA was queued toward the application; buffered is the queue's length in
 * bytes now. *out may be an XOFF (first crossing of xoff bytes) or an advisory XON.
 * UM_ERR_PROTOCOL if buffered exceeds hard_cap_bytes: the sender ignores our XOFF.
 */
int flow_on_delivered(struct flow *f, size_t buffered, uint64_t now_ns,
                      struct flow_out *out) UM_WARN_UNUSED;
/* Receiving edge: the application socket took n_written bytes; buffered is what is left. */
void flow_on_drained(struct flow *f, size_t n_written, size_t buffered, uint64_t now_ns,
                     struct flow_out *out);
/* Sending edge: len bytes of stream data were packaged into DATA cells. */
void flow_on_packaged(struct flow *f, size_t len);
/*
 * Sending edge: an XOFF arrived; stop reading the socket. UM_ERR_PROTOCOL if one was
 * already in force, or if the peer sent more XOFFs than the data we sent could cause
 * (each needs more than peer_xoff bytes: a dropmark side channel otherwise).
 */
int flow_on_xoff(struct flow *f) UM_WARN_UNUSED;
/*
 * Sending edge: an XON arrived; resume reading and take its rate. UM_ERR_PROTOCOL if the
 * peer sent more XONs than our data could cause (each needs an XOFF or xon_rate bytes).
 */
int flow_on_xon(struct flow *f, const struct relay_xon *x) UM_WARN_UNUSED;
/* Sending edge: may we read the application socket? (No XOFF in force.) */
bool flow_may_read(const struct flow *f);
/* Sending edge: the peer's advisory drain rate in bytes/s (kbps_ewma x 1000); 0 = none. */
uint64_t flow_rate_bytes_per_s(const struct flow *f);
/* Receiving edge: is our XOFF in force (sent, no XON since)? */
bool flow_xoff_sent(const struct flow *f);
/* Receiving edge: the current drain-rate estimate (kilobytes/s; 0 = none). */
uint32_t flow_drain_kbps(const struct flow *f);

#endif /* UM_CIRCUIT_FLOW_H */
