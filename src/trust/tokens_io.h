/* SPDX-License-Identifier: MIT */
/*
 * The client role's tier tokens (issue #5), the I/O around trust/wallet.h and
 * trust/tokens_client.h, wired from configuration: the wallet
 * (<state_dir>/wallet.db, trust/wallet.h), fetching tokens from the first of [client] issuers
 * over HTTP (its signed key list checked against the pinned id, then blind issuance in
 * requests of up to 32: trust/tokens_client.h), and taking one token out per new circuit for
 * the circuit layer to send to the exit.
 *
 * Every client must see the same keys (PROTOCOL.md 17.4): a key only one client is shown
 * would tag its tokens. So a fetch asks for signatures under the newest key of the tier that
 * the issuer's list and the consensus copy of it (5.8) both carry, byte for byte (right after
 * a rotation, the previous epoch's, which the issuer still signs with when asked); it waits
 * up to TOKENS_IO_CONSENSUS_WAIT_MS for a consensus that lists one and fails otherwise, at
 * once when the consensus lists another key for an epoch the issuer names.
 *
 * With [client] identified_token = yes (and subject, subject_key and an issuer), the client
 * instead holds an "access" capability token of the first issuer for audience "exit"
 * (trust/captoken_client.h, pop_key = the subject key; renewed at half its lifetime) and
 * every new circuit gets it as an identified TOKEN (PROTOCOL.md 18.5) with a proof bound to
 * the circuit's exit; no anonymous token is spent. Without an access token yet, circuits get
 * none (tier 0) rather than an anonymous one.
 */
#ifndef UM_TRUST_TOKENS_IO_H
#define UM_TRUST_TOKENS_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "config/config.h"
#include "evloop/evloop.h"
#include "evloop/http_client.h"
#include "store/store.h"
#include "crypto/keys.h"
#include "directory/consensus.h"
#include "crypto/puzzle.h"
#include "trust/captoken_client.h"
#include "trust/issuer_doc.h"
#include "trust/tokens_client.h"
#include "trust/wallet.h"

enum {
	TOKENS_IO_MAX_ISSUERS = 8,
	TOKENS_IO_FETCH_MAX = 10000, /* tokens one fetch may ask for */
	TOKENS_IO_URL_MAX = 256,
	TOKENS_IO_ERROR_LEN = 160,
	TOKENS_IO_CONSENSUS_WAIT_MS = 30000,
	TOKENS_IO_CONSENSUS_POLL_MS = 500,
	TOKENS_IO_PUZZLE_TRIES = 2,
	TOKENS_IO_PUZZLE_CAP_DEFAULT = 20,
	TOKENS_IO_PUZZLE_STEP = 1 << 14, /* hashes per loop iteration */
};

/* The client's current consensus at now_s, or NULL (app/ wires it to the directory client). */
typedef const struct consensus *tokens_io_consensus_fn(void *arg, uint64_t now_s);

enum tokens_fetch_state {
	TOKENS_FETCH_IDLE = 0,
	TOKENS_FETCH_RUNNING,
	TOKENS_FETCH_DONE,
	TOKENS_FETCH_FAILED,
};

struct tokens_io {
	struct ev_loop *loop;
	struct store *store;
	struct wallet *w;
	uint8_t token_tier;
	char subject[65];                /* "" = none */
	struct keys_ed25519 subject_key; /* when subject is set */
	size_t n_issuers;
	uint8_t issuer_ids[TOKENS_IO_MAX_ISSUERS][32];
	char issuer_urls[TOKENS_IO_MAX_ISSUERS][TOKENS_IO_URL_MAX];
	/* The fetch in progress or last finished. */
	enum tokens_fetch_state state;
	uint8_t tier;
	size_t want, got;
	char error[TOKENS_IO_ERROR_LEN];
	struct ev_http_call *call;
	struct issuer_keys *keys; /* the verified key list of this fetch */
	uint8_t *keys_doc;        /* its bytes (the views in keys point here) */
	struct tokens_req *req;
	char *body;
	uint64_t spent; /* tokens taken out for circuits since start */
	/* [client] identified_token: the access token shown to exits instead (NULL: off). */
	struct captoken_client *idc;
	uint64_t identified_sent; /* identified TOKENs built since start */
	/* The consensus cross-check (set after tokens_io_start(); NULL refuses every fetch). */
	tokens_io_consensus_fn *consensus;
	void *consensus_arg;
	struct ev_timer *wait;  /* polls for a consensus that lists the key */
	uint32_t epoch;         /* the key epoch this fetch asks for (key_check()) */
	uint64_t wait_until_ms; /* monotonic deadline of that wait */
	/* Issuance puzzles (PROTOCOL.md 17.4): a 429 asking one is solved (spread over loop
	 * iterations) and the batch re-sent with the solution, at most TOKENS_IO_PUZZLE_TRIES
	 * times per batch and never above the cap: puzzle_cap(puzzle_arg) (the consensus
	 * puzzle_max; set by the application after tokens_io_start()), or
	 * TOKENS_IO_PUZZLE_CAP_DEFAULT when NULL. */
	unsigned (*puzzle_cap)(void *arg);
	void *puzzle_arg;
	struct ev_defer *pz_defer;
	struct puzzle_solver pz;
	uint8_t pz_seed[PUZZLE_SEED_LEN];
	unsigned pz_tries;
	bool pz_solving;
	uint64_t pz_start_ns;
	uint64_t puzzles_solved, puzzle_solve_ms;
};

/* Start if the client role is on (else nothing). On failure why says what; call
 * tokens_io_clear() either way. */
int tokens_io_start(struct tokens_io *t, const struct config *c, struct ev_loop *loop, char *why,
                    size_t why_len) UM_WARN_UNUSED;
void tokens_io_clear(struct tokens_io *t);

/* Begin fetching count tokens of tier from the first issuer. UM_ERR_STATE while a fetch
 * runs, UM_ERR_NOT_FOUND without issuers, UM_ERR_INVALID for bad arguments. */
int tokens_io_fetch(struct tokens_io *t, uint8_t tier, size_t count) UM_WARN_UNUSED;

/* A TOKEN body (PROTOCOL.md 17.5: issuer | token) for a new circuit whose exit's identity is
 * exit_id [32]: the identified token (18.5) when identified_token is on, else one taken out of
 * the wallet. UM_ERR_NOT_FOUND when none is held. */
int tokens_io_take(struct tokens_io *t, const uint8_t exit_id[32], uint8_t *body, size_t cap,
                   size_t *len) UM_WARN_UNUSED;

/* Counts per (issuer, tier, epoch) for the control API. */
int tokens_io_counts(struct tokens_io *t, wallet_count_fn *fn, void *arg) UM_WARN_UNUSED;

#endif /* UM_TRUST_TOKENS_IO_H */
