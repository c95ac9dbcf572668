/* SPDX-License-Identifier: MIT */
/*
 * Client puzzles (proof of work), shared by the link handshake (link/, PROTOCOL.md 2.2) and
 * token issuance (trust/, PROTOCOL.md 17.4). Sans-I/O: "now" comes in.
 *
 *   work(bound, nonce) = BLAKE2b-256("umbra-puzzle-v1" | bound | nonce [8])
 *
 * A solution at difficulty d is a nonce whose work has at least d leading zero bits (the
 * most significant bit of byte 0 first). `bound` is what the solution is tied to: a seed the
 * verifier handed out and the request it protects (the link: seed | responder link key |
 * msg1's ephemeral key; issuance: seed | digest of the blinded messages), so one solution
 * buys exactly one request.
 *
 * The gate (verifier side) is stateless but for its replay filters: seeds are a keyed
 * BLAKE2b of an in-memory random secret and the number of the current time window
 * (PUZZLE_WINDOW_MS), the current and the previous window's seed are accepted, and a
 * (seed, bound) pair that passed once is refused for as long as its seed is accepted. The
 * pairs are remembered in one Bloom filter per seed window (PUZZLE_BLOOM_BITS bits,
 * PUZZLE_BLOOM_K keyed positions; two filters, 2 x 128 KiB, allocated on the first check that
 * passes), cleared when their window's seed stops being accepted. A filter never forgets
 * within its window, so no number of fresh solutions makes an old one replayable; its only
 * error is a false "replay" (the client is challenged again), about 0.1 % at 50,000
 * solutions in a window and 4 % at 150,000 (each costing the sender 2^d hashes).
 */
#ifndef UM_CRYPTO_PUZZLE_H
#define UM_CRYPTO_PUZZLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"

enum puzzle_limits {
	PUZZLE_SEED_LEN = 16,
	PUZZLE_NONCE_LEN = 8,
	PUZZLE_BOUND_MAX = 128,      /* bytes of `bound` */
	PUZZLE_MAX_BITS = 32,        /* nothing above this is ever asked or solved */
	PUZZLE_WINDOW_MS = 60000,    /* a seed's window; the previous one is accepted too */
	PUZZLE_BLOOM_BITS = 1 << 20, /* bits of each window's replay filter */
	PUZZLE_BLOOM_K = 4,          /* positions per solution (20 bits of its tag each) */
};

/* The number of leading zero bits of work(bound, nonce) (0..256). bound_len <=
 * PUZZLE_BOUND_MAX (else 0). */
unsigned puzzle_work_bits(const uint8_t *bound, size_t bound_len,
                          const uint8_t nonce[PUZZLE_NONCE_LEN]);
/* Whether nonce solves (bound, bits): bits 0 always does; bits over PUZZLE_MAX_BITS never. */
bool puzzle_ok(const uint8_t *bound, size_t bound_len, const uint8_t nonce[PUZZLE_NONCE_LEN],
               unsigned bits);

/*
 * An incremental solver, so a caller on the event loop can spread ~2^bits hashes over loop
 * iterations. Plain struct, no allocation; nonces start at a random point.
 */
struct puzzle_solver {
	uint8_t bound[PUZZLE_BOUND_MAX];
	size_t bound_len;
	unsigned bits;
	uint64_t next; /* the next nonce to try (little-endian on the wire) */
	uint64_t tries;
	bool done;
	uint8_t nonce[PUZZLE_NONCE_LEN]; /* the solution, once done */
};

/* UM_ERR_INVALID for bits over PUZZLE_MAX_BITS or bound_len over PUZZLE_BOUND_MAX. */
int puzzle_solver_init(struct puzzle_solver *s, const uint8_t *bound, size_t bound_len,
                       unsigned bits) UM_WARN_UNUSED;
/* Try at most max_tries nonces; true once solved (s->nonce holds the answer). */
bool puzzle_solver_run(struct puzzle_solver *s, uint64_t max_tries);
/* Solve in one call (blocking: ~2^bits hashes). Same errors as puzzle_solver_init(). */
int puzzle_solve(const uint8_t *bound, size_t bound_len, unsigned bits,
                 uint8_t nonce[PUZZLE_NONCE_LEN]) UM_WARN_UNUSED;

struct puzzle_gate;

/* Return a new gate with a fresh random secret (caller owns it; puzzle_gate_free()). The
 * replay cache is allocated on the first check that needs it. */
struct puzzle_gate *puzzle_gate_new(void);
void puzzle_gate_free_(struct puzzle_gate *g);
#define puzzle_gate_free(g) UM_FREE_AND_NULL(puzzle_gate_free_, g)

/* The seed to hand out at now_ms (the current window's). */
void puzzle_gate_seed(const struct puzzle_gate *g, uint64_t now_ms, uint8_t seed[PUZZLE_SEED_LEN]);

/*
 * Check a solution at difficulty bits (>= 1): the bound checked is seed | bound. In order,
 * each cheap: UM_ERR_EXPIRED if seed is neither the current nor the previous window's seed,
 * UM_ERR_AUTH if the work has fewer than bits leading zero bits (or bits is over
 * PUZZLE_MAX_BITS), UM_ERR_REPLAY if this (seed, bound) passed before, else UM_OK (and the
 * pair is remembered). Seeds are compared in constant time. bound_len + PUZZLE_SEED_LEN <=
 * PUZZLE_BOUND_MAX (else UM_ERR_INVALID).
 */
int puzzle_gate_check(struct puzzle_gate *g, uint64_t now_ms, const uint8_t seed[PUZZLE_SEED_LEN],
                      const uint8_t *bound, size_t bound_len, const uint8_t nonce[PUZZLE_NONCE_LEN],
                      unsigned bits) UM_WARN_UNUSED;

#endif /* UM_CRYPTO_PUZZLE_H */
