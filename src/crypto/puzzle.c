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
	SETS = PUZZLE_REPLAY_SLOTS / PUZZLE_REPLAY_WAYS,
};

struct replay_entry {
	uint8_t tag[TAG_LEN];
	uint64_t window; /* the window of the seed + 1 (0: empty) */
};

struct puzzle_gate {
	uint8_t seed_key[SECRET_LEN];   /* seeds: keyed BLAKE2b of the window number */
	uint8_t replay_key[SECRET_LEN]; /* replay tags and set indexes */
	struct replay_entry *replay;    /* SETS x WAYS, allocated on first use */
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

/* Remember (tag, window) unless it is there already: false for a replay. */
static bool
replay_insert(struct puzzle_gate *g, const uint8_t tag[TAG_LEN], uint64_t window, uint64_t now_w)
{
	struct replay_entry *set, *victim = NULL;
	size_t idx = (size_t)(wire_load_u32(tag) % SETS);

	if (g->replay == NULL)
		g->replay = um_xcalloc(PUZZLE_REPLAY_SLOTS, sizeof(*g->replay));
	set = &g->replay[idx * PUZZLE_REPLAY_WAYS];
	for (size_t i = 0; i < PUZZLE_REPLAY_WAYS; i++) {
		struct replay_entry *e = &set[i];
		/* Live: its seed is still accepted (stored window + 1 >= current window). */
		bool live = e->window != 0 && e->window >= now_w;

		if (live && memcmp(e->tag, tag, TAG_LEN) == 0)
			return false;
		if (!live) {
			if (victim == NULL || victim->window >= now_w)
				victim = e; /* the first free way */
		} else if (victim == NULL ||
		           (victim->window >= now_w && e->window < victim->window)) {
			victim = e; /* else the way with the oldest seed */
		}
	}
	memcpy(victim->tag, tag, TAG_LEN);
	victim->window = window + 1;
	return true;
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
	if (!replay_insert(g, tag, window, now_ms / PUZZLE_WINDOW_MS))
		return UM_ERR_REPLAY;
	return UM_OK;
}
