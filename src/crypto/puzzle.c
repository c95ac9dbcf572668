/* SPDX-License-Identifier: MIT */
/*
 * Client puzzles (puzzle.h): the work function, a solver and the verifier's gate (window
 * seeds and a replay cache).
 */
#include "crypto/puzzle.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "crypto/hash.h"

static const char LABEL[] = "umbra-puzzle-v1";

enum {
	LABEL_LEN = sizeof(LABEL) - 1,
	SECRET_LEN = 32,
	TAG_LEN = 16,
};

/* The solutions that passed with the seed of one window. */
struct replay_filter {
	uint64_t window; /* the seed's window + 1 (0: unused) */
	uint8_t bits[PUZZLE_BLOOM_BITS / 8];
};

struct puzzle_gate {
	uint8_t seed_key[SECRET_LEN];   /* seeds: keyed BLAKE2b of the window number */
	uint8_t replay_key[SECRET_LEN]; /* replay tags (the filters' positions) */
	struct replay_filter *replay;   /* two, by the window's parity; allocated on first use */
};

unsigned
puzzle_work_bits(const uint8_t *bound, size_t bound_len, const uint8_t nonce[PUZZLE_NONCE_LEN])
{
	uint8_t in[LABEL_LEN + PUZZLE_BOUND_MAX + PUZZLE_NONCE_LEN];
	uint8_t h[BLAKE2B_256_LEN];
	unsigned bits = 0;

	if (bound_len > PUZZLE_BOUND_MAX)
		return 0;
	memcpy(in, LABEL, LABEL_LEN);
	memcpy(in + LABEL_LEN, bound, bound_len);
	memcpy(in + LABEL_LEN + bound_len, nonce, PUZZLE_NONCE_LEN);
	hash_blake2b(h, sizeof(h), in, LABEL_LEN + bound_len + PUZZLE_NONCE_LEN, NULL, 0);
	for (size_t i = 0; i < sizeof(h); i++) {
		uint8_t b = h[i];

		if (b == 0) {
			bits += 8;
			continue;
		}
		while ((b & 0x80) == 0) {
			bits++;
			b = (uint8_t)(b << 1);
		}
		break;
	}
	return bits;
}

bool
puzzle_ok(const uint8_t *bound, size_t bound_len, const uint8_t nonce[PUZZLE_NONCE_LEN],
          unsigned bits)
{
	if (bits == 0)
		return true;
	if (bits > PUZZLE_MAX_BITS || bound_len > PUZZLE_BOUND_MAX)
		return false;
	return puzzle_work_bits(bound, bound_len, nonce) >= bits;
}

int
puzzle_solver_init(struct puzzle_solver *s, const uint8_t *bound, size_t bound_len, unsigned bits)
{
	memset(s, 0, sizeof(*s));
	if (bits > PUZZLE_MAX_BITS || bound_len > PUZZLE_BOUND_MAX)
		return UM_ERR_INVALID;
	memcpy(s->bound, bound, bound_len);
	s->bound_len = bound_len;
	s->bits = bits;
	/* A random start: two solvers of the same puzzle never walk the same nonces. */
	s->next = rand_u64();
	return UM_OK;
}

bool
puzzle_solver_run(struct puzzle_solver *s, uint64_t max_tries)
{
	uint8_t nonce[PUZZLE_NONCE_LEN];

	for (uint64_t i = 0; !s->done && i < max_tries; i++) {
		wire_store_u64_le(nonce, s->next++);
		s->tries++;
		if (puzzle_ok(s->bound, s->bound_len, nonce, s->bits)) {
			memcpy(s->nonce, nonce, sizeof(nonce));
			s->done = true;
		}
	}
	return s->done;
}

int
puzzle_solve(const uint8_t *bound, size_t bound_len, unsigned bits, uint8_t nonce[PUZZLE_NONCE_LEN])
{
	struct puzzle_solver s;
	int ret;

	if ((ret = puzzle_solver_init(&s, bound, bound_len, bits)) != UM_OK)
		return ret;
	while (!puzzle_solver_run(&s, UINT32_MAX))
		;
	memcpy(nonce, s.nonce, PUZZLE_NONCE_LEN);
	return UM_OK;
}

struct puzzle_gate *
puzzle_gate_new(void)
{
	struct puzzle_gate *g = um_xcalloc(1, sizeof(*g));

	rand_bytes(g->seed_key, sizeof(g->seed_key));
	rand_bytes(g->replay_key, sizeof(g->replay_key));
	return g;
}

void
puzzle_gate_free_(struct puzzle_gate *g)
{
	if (g == NULL)
		return;
	free(g->replay);
	um_memzero(g, sizeof(*g));
	free(g);
}

static void
seed_of(const struct puzzle_gate *g, uint64_t window, uint8_t seed[PUZZLE_SEED_LEN])
{
	uint8_t w[8];

	wire_store_u64(w, window);
	hash_blake2b(seed, PUZZLE_SEED_LEN, w, sizeof(w), g->seed_key, sizeof(g->seed_key));
}

void
puzzle_gate_seed(const struct puzzle_gate *g, uint64_t now_ms, uint8_t seed[PUZZLE_SEED_LEN])
{
	seed_of(g, now_ms / PUZZLE_WINDOW_MS, seed);
}

/* Which window seed belongs to: the current (now) or the previous one; false for neither. */
static bool
seed_window(const struct puzzle_gate *g, uint64_t now_ms, const uint8_t seed[PUZZLE_SEED_LEN],
            uint64_t *window)
{
	uint64_t w = now_ms / PUZZLE_WINDOW_MS;
	uint8_t cur[PUZZLE_SEED_LEN], prev[PUZZLE_SEED_LEN];
	bool is_cur, is_prev = false;

	seed_of(g, w, cur);
	is_cur = um_memeq_ct(cur, seed, PUZZLE_SEED_LEN);
	if (w > 0) {
		seed_of(g, w - 1, prev);
		is_prev = um_memeq_ct(prev, seed, PUZZLE_SEED_LEN);
	}
	*window = is_cur ? w : w - 1;
	return is_cur || is_prev;
}

/*
 * Remember tag for the seed of window (the current or the previous one) unless it is there
 * already: false for a replay. The filter of a window is reused two windows later, when its
 * seed is no longer accepted, so it is cleared then.
 */
static bool
replay_insert(struct puzzle_gate *g, const uint8_t tag[TAG_LEN], uint64_t window)
{
	struct replay_filter *f;
	bool seen = true;

	if (g->replay == NULL)
		g->replay = um_xcalloc(2, sizeof(*g->replay));
	f = &g->replay[window & 1];
	if (f->window != window + 1) {
		memset(f->bits, 0, sizeof(f->bits));
		f->window = window + 1;
	}
	for (size_t k = 0; k < PUZZLE_BLOOM_K; k++) {
		/* 20 bits of the keyed tag per position: an attacker cannot aim at bits. */
		uint32_t pos = (wire_load_u32(tag + 3 * k) >> (k & 3)) & (PUZZLE_BLOOM_BITS - 1);
		uint8_t mask = (uint8_t)(1u << (pos & 7));

		if ((f->bits[pos >> 3] & mask) == 0) {
			seen = false;
			f->bits[pos >> 3] |= mask;
		}
	}
	return !seen;
}

int
puzzle_gate_check(struct puzzle_gate *g, uint64_t now_ms, const uint8_t seed[PUZZLE_SEED_LEN],
                  const uint8_t *bound, size_t bound_len, const uint8_t nonce[PUZZLE_NONCE_LEN],
                  unsigned bits)
{
	uint8_t in[PUZZLE_BOUND_MAX];
	uint8_t tag[TAG_LEN];
	uint64_t window;

	if (bound_len > PUZZLE_BOUND_MAX - PUZZLE_SEED_LEN)
		return UM_ERR_INVALID;
	if (!seed_window(g, now_ms, seed, &window))
		return UM_ERR_EXPIRED;
	memcpy(in, seed, PUZZLE_SEED_LEN);
	memcpy(in + PUZZLE_SEED_LEN, bound, bound_len);
	if (bits < 1 || !puzzle_ok(in, PUZZLE_SEED_LEN + bound_len, nonce, bits))
		return UM_ERR_AUTH;
	hash_blake2b(tag, sizeof(tag), in, PUZZLE_SEED_LEN + bound_len, g->replay_key,
	             sizeof(g->replay_key));
	if (!replay_insert(g, tag, window))
		return UM_ERR_REPLAY;
	return UM_OK;
}
