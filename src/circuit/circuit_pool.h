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
 *   launches      : how many builds to start now to bring the pool to its target;
 *   exit choice   : which exits may carry a stream (docs/PATHS.md section 1.8): the port
 *                   summary allows it and the exit has not refused that port lately (a
 *                   bounded cache of END(EXITPOLICY) answers, as Tor's address policy cache);
 *   port predictor: the ports streams asked for lately (last CPOOL_PORTS_MAX, for
 *                   CPOOL_PORT_TTL_S), so pre-built circuits go through exits serving them.
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
	CPOOL_LAUNCH_MAX = 2,       /* builds started at once (the rest follow as these finish) */
	CPOOL_REFUSALS_MAX = 64,    /* (exit, port) refusals remembered, the oldest forgotten */
	CPOOL_REFUSAL_TTL_S = 3600, /* a refusal counts this long */
	CPOOL_PORTS_MAX = 8,        /* predicted ports */
	CPOOL_PORT_TTL_S = 3600,    /* a port is predicted this long after its last stream */
	CPOOL_PORT_DEFAULT_A = 443, /* predicted while no stream asked for a port */
	CPOOL_PORT_DEFAULT_B = 80,
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

/* ---- exit choice ---- */

/* Exits that answered END(EXITPOLICY) for a port although their summary allowed it. */
struct cpool_refusal {
	uint8_t id[CIRC_ID_KEY_LEN];
	uint16_t port;
	uint64_t at_s;
};

struct cpool_refusals {
	size_t n;
	struct cpool_refusal v[CPOOL_REFUSALS_MAX];
};

void cpool_refusals_init(struct cpool_refusals *r);
/* Exit id refused port at now_s (refreshes an entry; when full the oldest is forgotten). */
void cpool_refusal_note(struct cpool_refusals *r, const uint8_t id[CIRC_ID_KEY_LEN], uint16_t port,
                        uint64_t now_s);
/* Did exit id refuse port less than CPOOL_REFUSAL_TTL_S before now_s? */
bool cpool_refused(const struct cpool_refusals *r, const uint8_t id[CIRC_ID_KEY_LEN], uint16_t port,
                   uint64_t now_s);

/*
 * May exit e carry a stream for req at now_s: a usable exit (path_relay_is_exit()) whose port
 * summary allows req (path_exit_allows()), that has not refused req's port (r may be NULL),
 * and whose identity is not one of the n_skip identities in skip (exits this stream failed on)?
 */
bool cpool_exit_serves(const struct relay_entry *e, const struct path_request *req,
                       const struct cpool_refusals *r, const uint8_t (*skip)[CIRC_ID_KEY_LEN],
                       size_t n_skip, uint64_t now_s);
/* How many relays of c cpool_exit_serves() accepts (0: fail the stream, no circuit helps). */
size_t cpool_exits_serving(const struct consensus *c, const struct path_request *req,
                           const struct cpool_refusals *r, const uint8_t (*skip)[CIRC_ID_KEY_LEN],
                           size_t n_skip, uint64_t now_s);

/* ---- port predictor ---- */

struct cpool_ports {
	size_t n;
	uint16_t port[CPOOL_PORTS_MAX]; /* most recent first */
	uint64_t at_s[CPOOL_PORTS_MAX];
};

void cpool_ports_init(struct cpool_ports *p);
/* A stream asked for port (0 ignored) at now_s. */
void cpool_ports_note(struct cpool_ports *p, uint16_t port, uint64_t now_s);
/*
 * The predicted ports at now_s, most recent first, into out: those noted less than
 * CPOOL_PORT_TTL_S ago, or 443 and 80 when there are none. Returns how many (1..MAX).
 */
size_t cpool_ports_predict(const struct cpool_ports *p, uint64_t now_s,
                           uint16_t out[CPOOL_PORTS_MAX]);

#endif /* UM_CIRCUIT_CIRCUIT_POOL_H */
