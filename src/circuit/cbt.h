/* SPDX-License-Identifier: MIT */
/*
 * Circuit build timeout learning (docs/PATHS.md "Build timeout"), sans-I/O: the circuit core
 * reports how long each build took (or that it was abandoned) and asks how long to wait for
 * the next one.
 *
 *   samples   : the last CBT_RING build times (ms), completed builds only;
 *   timeout   : before CBT_MIN_SAMPLES samples, CBT_DEFAULT_TIMEOUT_MS (or the value a reset
 *               left); then the 80th percentile of the samples x 1.5, within
 *               [CBT_MIN_TIMEOUT_MS, CBT_MAX_TIMEOUT_MS];
 *   give up   : max(2 x timeout, 99th percentile x 1.5), at most 2 x CBT_MAX_TIMEOUT_MS: a build
 *               past the timeout is no longer waited for (the client starts another), but it
 *               keeps going until give-up so its real duration can be recorded;
 *   reset     : when CBT_RECENT_TIMEOUTS_MAX of the last CBT_RECENT outcomes were timeouts, the
 *               samples no longer describe the network (it changed): they are dropped and
 *               the timeout becomes max(default, 2 x the current one), capped.
 *
 * An empirical quantile rather than Tor's Pareto fit: it needs no histogram bin width, so it
 * works unchanged for millisecond loopback builds and second-long builds over Tor-like paths,
 * and with 20+ samples the 80th percentile is already a stable estimate. Not persisted (a
 * restart relearns within CBT_MIN_SAMPLES builds).
 */
#ifndef UM_CIRCUIT_CBT_H
#define UM_CIRCUIT_CBT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cbt_limits {
	CBT_RING = 1000,
	CBT_MIN_SAMPLES = 20,
	CBT_DEFAULT_TIMEOUT_MS = 10000,
	CBT_MIN_TIMEOUT_MS = 10,
	CBT_MAX_TIMEOUT_MS = 60000,
	CBT_QUANTILE_PCT = 80,
	CBT_GIVE_UP_QUANTILE_PCT = 99,
	CBT_MARGIN_NUM = 3, /* x 1.5 */
	CBT_MARGIN_DEN = 2,
	CBT_RECENT = 20,
	CBT_RECENT_TIMEOUTS_MAX = 18, /* Tor's circuit_build_times_network_close() threshold */
};

/* Plain state, no allocation (4 KB): embed it. */
struct cbt {
	uint32_t ring[CBT_RING]; /* build times, ms */
	size_t n;                /* samples held, <= CBT_RING */
	size_t head;             /* next slot to write */
	uint32_t recent;         /* last CBT_RECENT outcomes, bit 0 newest: 1 = timeout */
	uint8_t n_recent;
	uint32_t base_ms;    /* the timeout while samples are too few */
	uint32_t timeout_ms; /* current values */
	uint32_t give_up_ms;
	unsigned n_resets;
};

void cbt_init(struct cbt *t);
/* A build completed after ms milliseconds (also one that completed past the timeout). */
void cbt_note_build(struct cbt *t, uint32_t ms);
/* A build reached the timeout (whether it is then kept until give-up or not). */
void cbt_note_timeout(struct cbt *t);
/* How long to wait for a build now, and when to abandon one that passed it. */
uint32_t cbt_timeout_ms(const struct cbt *t);
uint32_t cbt_give_up_ms(const struct cbt *t);
/* True once the timeout is learned from samples rather than the default. */
bool cbt_is_learned(const struct cbt *t);

#endif /* UM_CIRCUIT_CBT_H */
