/* SPDX-License-Identifier: MIT */
/*
 * The persistent entry-guard set (docs/PATHS.md "Guards"), after Tor's guard-spec cut down:
 *
 *   sampled  : up to GUARD_SAMPLED_MAX relays drawn by bandwidth from the GUARD RUNNING VALID
 *              relays of a consensus, in the order they were drawn, kept in SQLite; a guard
 *              leaves the set only when its lifetime (60-90 days, drawn at sampling) ends or
 *              when it has been missing from the consensus for GUARD_REMOVE_UNLISTED_S;
 *   usable   : sampled guards listed in the current consensus with GUARD RUNNING VALID;
 *   primary  : the first n_primary usable guards in sample order; a client uses the first
 *              primary guard that is not waiting out a retry, and only when every primary is
 *              waiting, the next usable guards;
 *   failures : each consecutive failure to reach a guard delays its next try (60 s doubling
 *              up to 4 h); a success clears it, and a success on a non-primary guard makes the
 *              primaries ahead of it retryable at once (the network came back).
 *
 * New guards are drawn only while fewer than n_primary + GUARD_SPARE guards are usable, never
 * because guards are unreachable: an attacker who blocks our guards must not push us through
 * the whole network. Retry state is not persisted (a restart tries every guard again).
 *
 * Sans-I/O apart from the store: time is passed in (wall seconds), randomness through a
 * struct path_rng. Rows read back from the database are validated; a bad row is dropped
 * (logged) and the set rewritten without it on the next save.
 */
#ifndef UM_CIRCUIT_PATH_GUARD_H
#define UM_CIRCUIT_PATH_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "store/store.h"
#include "directory/consensus.h"
#include "circuit/path.h"

enum guard_limits {
	GUARD_SAMPLED_MAX = 32,
	GUARD_PRIMARY_DEFAULT = 3,
	GUARD_PRIMARY_MAX = PATH_GUARDS_MAX,
	GUARD_SPARE = 5, /* usable guards kept beyond the primaries */
	GUARD_LIFETIME_MIN_S = 60 * 86400,
	GUARD_LIFETIME_MAX_S = 90 * 86400,
	GUARD_REMOVE_UNLISTED_S = 20 * 86400,
	GUARD_RETRY_BASE_S = 60,
	GUARD_RETRY_MAX_S = 4 * 3600,
};

/* The schema of the "path_guard" component (table path_guard); guard_set_open() runs it. */
extern const struct store_schema guard_schema;

struct guard_info {
	uint8_t id[RELAY_DESC_ID_LEN];
	/* Persisted. */
	uint64_t added_s;          /* when it was sampled */
	uint64_t expires_s;        /* added_s + 60..90 days: removed then */
	uint64_t unlisted_since_s; /* 0 while the consensus lists it */
	uint64_t confirmed_s;      /* first successful use, 0 if never */
	/* In memory only. */
	bool usable;         /* listed with GUARD RUNNING VALID at the last update */
	uint32_t n_failures; /* consecutive */
	uint64_t retry_s;    /* no try before this (0: now) */
};

struct guard_set;

/*
 * Load the guard set from st (NULL: in memory only, nothing persisted), creating the table if
 * needed. n_primary is 1..GUARD_PRIMARY_MAX. On UM_OK *out is a new set the caller owns and
 * frees with guard_set_free(); st is borrowed and must outlive it. UM_ERR_INVALID for a bad
 * argument, a store error (UM_ERR_DB, ...) if the table cannot be read.
 */
int guard_set_open(struct store *st, unsigned n_primary, struct guard_set **out) UM_WARN_UNUSED;
void guard_set_free_(struct guard_set *gs);
#define guard_set_free(gs) UM_FREE_AND_NULL(guard_set_free_, gs)

/*
 * Bring the set up to date with a new consensus at now_s: mark guards listed or unlisted and
 * usable or not, remove expired and long-unlisted ones, draw new guards while fewer than
 * n_primary + GUARD_SPARE are usable (and the set has room), and save when anything persisted
 * changed. Returns UM_OK or the store's error (the set in memory is updated regardless).
 */
int guard_set_update(struct guard_set *gs, const struct consensus *c, uint64_t now_s,
                     const struct path_rng *rng) UM_WARN_UNUSED;

/*
 * The entries to try at now_s, best first, for path_select(): the primary guards not waiting
 * for a retry; if every primary is waiting, the other usable guards not waiting. Empty when
 * nothing can be tried now.
 */
void guard_set_primary(const struct guard_set *gs, uint64_t now_s, struct path_guards *out);
/*
 * The guard to use now: the first of guard_set_primary(). UM_ERR_NOT_FOUND (why says why,
 * e.g. "all 8 usable guards are unreachable; next retry in 120 s") when there is none.
 */
int guard_pick(const struct guard_set *gs, uint64_t now_s, uint8_t id[RELAY_DESC_ID_LEN], char *why,
               size_t why_len) UM_WARN_UNUSED;

/* A circuit through guard id failed to reach it (connect, handshake, timeout) at now_s.
 * UM_ERR_NOT_FOUND if id is not in the set. */
int guard_note_failure(struct guard_set *gs, const uint8_t id[RELAY_DESC_ID_LEN],
                       uint64_t now_s) UM_WARN_UNUSED;
/* A circuit through guard id was built at now_s: clears its failures, confirms it (saved the
 * first time). UM_ERR_NOT_FOUND if not in the set, or the store's error. */
int guard_note_success(struct guard_set *gs, const uint8_t id[RELAY_DESC_ID_LEN],
                       uint64_t now_s) UM_WARN_UNUSED;

/* Number of sampled guards and guard i in sample order (valid until the next call on gs). */
size_t guard_set_n(const struct guard_set *gs);
const struct guard_info *guard_set_get(const struct guard_set *gs, size_t i);
/* Rows dropped as invalid when the set was loaded. */
size_t guard_set_n_bad_rows(const struct guard_set *gs);

#endif /* UM_CIRCUIT_PATH_GUARD_H */
