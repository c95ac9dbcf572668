/* SPDX-License-Identifier: MIT */
/*
 * The pure policy parts of the circuit glue (circuit_io.c), kept apart so they are unit-tested
 * without sockets:
 *
 *   link requests : a relay asked for links to relays (CIRC_EV_LINK_REQUEST) remembers each
 *                   identity once while its connect is in flight: a second request for the same
 *                   relay is merged into the first (one connect, one answer for all);
 *   candidates    : which of path_select()'s ranked paths a client builds next: the first one
 *                   none of whose relays has a recent failure in the health table, else the one
 *                   with the fewest such failures (earliest rank on ties);
 *   backoff       : after n consecutive failed builds the next build waits
 *                   min(CPOOL_BACKOFF_BASE_MS x 2^(n-1), CPOOL_BACKOFF_MAX_MS);
 *   launches      : how many builds to start now to bring the pool to its target.
 *
 * No allocation, no I/O, no clock.
 */
#ifndef UM_CIRCUIT_CIRCUIT_POOL_H
#define UM_CIRCUIT_CIRCUIT_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "directory/consensus.h"
#include "circuit/circuit.h"
#include "circuit/path.h"

enum cpool_limits {
	CPOOL_REQ_MAX = 256, /* distinct relays a relay connects to at once for EXTEND2s */
	CPOOL_BACKOFF_BASE_MS = 500,
	CPOOL_BACKOFF_MAX_MS = 30000,
	CPOOL_LAUNCH_MAX = 2, /* builds started at once (the rest follow as these finish) */
};

/* In-flight link requests, by relay identity; the handle is the caller's (its link). */
struct cpool_req {
	uint8_t id[CIRC_ID_KEY_LEN];
	void *handle; /* NULL until the caller set it */
};

struct cpool_reqs {
	size_t n;
	struct cpool_req v[CPOOL_REQ_MAX];
};

void cpool_reqs_init(struct cpool_reqs *r);
/*
 * Note a request for id. UM_OK with *merged = false: a new entry (the caller connects and
 * then cpool_req_set_handle()); *merged = true: one is already in flight (do nothing more).
 * UM_ERR_TOO_LARGE when CPOOL_REQ_MAX requests are in flight (refuse this one).
 */
int cpool_req_add(struct cpool_reqs *r, const uint8_t id[CIRC_ID_KEY_LEN],
                  bool *merged) UM_WARN_UNUSED;
/* Attach handle to the request for id (UM_ERR_NOT_FOUND if none). */
int cpool_req_set_handle(struct cpool_reqs *r, const uint8_t id[CIRC_ID_KEY_LEN],
                         void *handle) UM_WARN_UNUSED;
/* Remove the request whose handle is handle, copying its identity to id: true if found. */
bool cpool_req_take_handle(struct cpool_reqs *r, const void *handle, uint8_t id[CIRC_ID_KEY_LEN]);
/* Remove the request for id: true if there was one. */
bool cpool_req_remove(struct cpool_reqs *r, const uint8_t id[CIRC_ID_KEY_LEN]);

/* Index into plan->p of the candidate to build (see above); plan->n must be >= 1. */
size_t cpool_pick_candidate(const struct path_plan *plan, const struct consensus *c,
                            const struct path_health *h, uint64_t now_s, uint32_t cooldown_s);
/* The wait before the next build after n consecutive failures (0 for n = 0). */
uint64_t cpool_backoff_ms(unsigned n_failures);
/* Builds to start now: the pool wants `want` circuits, `live` are built or building. */
unsigned cpool_to_launch(unsigned want, unsigned live);

#endif /* UM_CIRCUIT_CIRCUIT_POOL_H */
