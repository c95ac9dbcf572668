/* SPDX-License-Identifier: MIT */
/*
 * The circuit layer of a daemon: one circuit core (circuit.h) wired to one link manager
 * (link.h) on the event loop.
 *
 *   relay roles : cells from links go to the core, the core's cells go to link_send_cell()
 *                 (a link over its write bound is reported blocked; on_drain unblocks it); the
 *                 core's link requests (EXTEND2 to a relay we have no link to) become an XK
 *                 connect with the link key the current consensus lists for that identity,
 *                 one connect per relay however many circuits wait (circuit_pool.h); its
 *                 success or failure goes back to the core.
 *   client role : once the app's consensus is valid, keep circuits_prebuilt circuits built
 *                 through path_select() paths with the persistent guard set (path_guard.h,
 *                 kept in the app's store): an NK link to the guard, circ_client_build(),
 *                 the build timeout learnt from real build times (cbt.h), guard and relay
 *                 failures noted, a failed build retried on the next candidate with backoff,
 *                 closed circuits replaced.
 *   streams     : not yet: a relay message addressed to us that opens a stream is refused
 *                 with END(RESOURCELIMIT); client circuits carry no streams yet.
 *
 * The daemon forwards its link callbacks here (circ_io_link_*). Core calls re-entered from
 * link callbacks raised inside a core call (a link closing while a cell is sent) are deferred
 * to an ev_defer, as the core's send_cell contract requires.
 *
 * Ownership: the caller owns the struct circ_io (circ_io_new / circ_io_free); everything in
 * env is borrowed and must outlive it; relay keys are borrowed until the next
 * circ_io_set_keys(). Loop thread only.
 */
#ifndef UM_CIRCUIT_CIRCUIT_IO_H
#define UM_CIRCUIT_CIRCUIT_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "evloop/evloop.h"
#include "store/store.h"
#include "link/link.h"
#include "directory/consensus.h"
#include "circuit/circuit.h"
#include "circuit/path.h"

enum circ_io_limits {
	CIRC_IO_TICK_MS = 250,     /* core timeouts and pool upkeep */
	CIRC_IO_PREBUILT_MAX = 16, /* [client] circuits_prebuilt */
};

/* The current consensus valid at now_s, or NULL (borrowed until the next loop turn). */
typedef const struct consensus *circ_io_consensus_fn(void *arg, uint64_t now_s);

struct circ_io_env {
	struct ev_loop *loop;
	struct link_mgr *links;
	const uint8_t *node_id; /* relay: our identity [32]; NULL: never a relay */
	bool client;            /* the client role: build circuits */
	unsigned circuits_prebuilt;
	uint8_t hops;        /* 2 or 3 */
	struct store *store; /* guard set; NULL: kept in memory only */
	circ_io_consensus_fn *consensus;
	void *arg;
	/* The core's circuit table cap ([relay] max_circuits); 0: CIRC_DEFAULT_MAX_CIRCUITS. */
	uint32_t max_circuits;
};

struct circ_io;

/*
 * Return a new circuit layer (caller frees with circ_io_free()). keys: the relay's identity
 * and onion keys (NULL for a client-only node). UM_ERR_INVALID for a bad env, or the guard
 * store's error, with why.
 */
int circ_io_new(const struct circ_io_env *env, const struct circ_relay_keys *keys,
                struct circ_io **out, char *why, size_t why_len) UM_WARN_UNUSED;
void circ_io_free_(struct circ_io *io);
#define circ_io_free(io) UM_FREE_AND_NULL(circ_io_free_, io)
/* Onion-key rotation: the relay's keys changed (borrowed until the next call). */
void circ_io_set_keys(struct circ_io *io, const struct circ_relay_keys *keys);
/* Shutdown begins: close every client circuit (DESTROY to its first hop) and build no more. */
void circ_io_shutdown(struct circ_io *io);

/* The link manager's callbacks (struct link_callbacks), forwarded by the daemon. */
void circ_io_link_open(struct circ_io *io, struct link *l);
void circ_io_link_cell(struct circ_io *io, struct link *l, const struct cell *c);
void circ_io_link_close(struct circ_io *io, struct link *l, int reason);
void circ_io_link_drain(struct circ_io *io, struct link *l);

/* ---- status (GET /v1/circuits) ---- */

struct circ_io_hop {
	uint8_t id[CIRC_ID_KEY_LEN];
	char nickname[RELAY_DESC_NICKNAME_MAX + 1];
	char country[RELAY_DESC_COUNTRY_LEN + 1];
};

struct circ_io_circ {
	uint64_t id;       /* circ_serial() */
	const char *state; /* "connecting" (link to the guard), "building", "built" */
	uint8_t n_hops;
	struct circ_io_hop hops[CIRC_MAX_HOPS];
	uint64_t build_ms; /* built: how long the build took */
	uint64_t age_ms;   /* since the build started */
};

struct circ_io_stats {
	bool client;
	unsigned prebuilt_target;
	uint64_t built, failed, closed; /* client circuits since start */
	uint32_t timeout_ms;            /* the current build timeout (cbt) */
	bool timeout_learned;
	struct circ_relay_counts relay; /* circuits we carry for others */
	struct circ_core_stats core;
	char last_error[PATH_WHY_LEN]; /* why the last build could not start or failed */
};

typedef void circ_io_circ_fn(void *arg, const struct circ_io_circ *info);
/* Every client circuit, oldest first. */
void circ_io_foreach(const struct circ_io *io, circ_io_circ_fn *fn, void *arg);
void circ_io_stats(const struct circ_io *io, struct circ_io_stats *st);

#endif /* UM_CIRCUIT_CIRCUIT_IO_H */
