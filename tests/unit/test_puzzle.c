/* SPDX-License-Identifier: MIT */
/*
 * Client puzzles: the work function and solver (crypto/puzzle.h), the gate's seed windows and
 * replay cache, the link wire formats (preamble with a solution, challenge: known vector,
 * round trip, every prefix truncated, malformed), a link handshake asked a puzzle end to end
 * (challenge, solve, redial with the solution, replay refused), the issuer's 429 puzzle reply
 * and request body (trust/tokens_client.h), and abuse_under_load().
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "crypto/puzzle.h"
#include "link/handshake.h"
#include "link/link_msg.h"
#include "trust/abuse.h"
#include "trust/tokens_client.h"

enum { NOW_S = 1700000000, W = PUZZLE_WINDOW_MS };

static void
test_solve_and_check(void **state)
{
	uint8_t bound[48], nonce[PUZZLE_NONCE_LEN];
	unsigned fails = 0;

	(void)state;
	rand_bytes(bound, sizeof(bound));
	for (unsigned bits = 0; bits <= 14; bits += 2) {
		assert_int_equal(puzzle_solve(bound, sizeof(bound), bits, nonce), UM_OK);
		assert_true(puzzle_ok(bound, sizeof(bound), nonce, bits));
		assert_true(puzzle_work_bits(bound, sizeof(bound), nonce) >= bits);
		/* Bound to its input: another bound rejects it (1 in 2^bits passes). */
		bound[0] ^= 1;
		if (bits >= 8 && puzzle_ok(bound, sizeof(bound), nonce, bits))
			fails++;
		bound[0] ^= 1;
	}
	assert_true(fails <= 1);
	memset(nonce, 0, sizeof(nonce));
	assert_true(puzzle_ok(bound, sizeof(bound), nonce, 0));
	assert_false(puzzle_ok(bound, sizeof(bound), nonce, PUZZLE_MAX_BITS + 1));
	assert_int_equal(puzzle_solve(bound, sizeof(bound), PUZZLE_MAX_BITS + 1, nonce),
	                 UM_ERR_INVALID);
	assert_int_equal(puzzle_solve(bound, PUZZLE_BOUND_MAX + 1, 1, nonce), UM_ERR_INVALID);
}

static void
test_solver_is_incremental(void **state)
{
	struct puzzle_solver s;
	uint8_t bound[16] = { 1, 2, 3 };
	unsigned rounds = 0;

	(void)state;
	assert_int_equal(puzzle_solver_init(&s, bound, sizeof(bound), 12), UM_OK);
	while (!puzzle_solver_run(&s, 64))
		rounds++;
	assert_true(rounds > 0); /* 12 bits take ~4096 tries: not one round of 64 */
	assert_true(puzzle_ok(bound, sizeof(bound), s.nonce, 12));
	assert_true(puzzle_solver_run(&s, 0)); /* stays done */
}

/* Solve for the gate: the bound checked is seed | bound. */
static void
gate_solve(const uint8_t seed[PUZZLE_SEED_LEN], const uint8_t *bound, size_t len, unsigned bits,
           uint8_t nonce[PUZZLE_NONCE_LEN])
{
	uint8_t in[PUZZLE_BOUND_MAX];

	memcpy(in, seed, PUZZLE_SEED_LEN);
	memcpy(in + PUZZLE_SEED_LEN, bound, len);
	assert_int_equal(puzzle_solve(in, PUZZLE_SEED_LEN + len, bits, nonce), UM_OK);
}

static void
test_gate_windows_and_replay(void **state)
{
	struct puzzle_gate *g = puzzle_gate_new(), *other = puzzle_gate_new();
	uint8_t seed[PUZZLE_SEED_LEN], seed2[PUZZLE_SEED_LEN], nonce[PUZZLE_NONCE_LEN];
	uint8_t bound[64];
	uint64_t t = 10 * (uint64_t)W + 5;

	(void)state;
	rand_bytes(bound, sizeof(bound));
	puzzle_gate_seed(g, t, seed);
	puzzle_gate_seed(g, t + W, seed2);
	assert_memory_not_equal(seed, seed2, sizeof(seed)); /* a new window, a new seed */
	gate_solve(seed, bound, sizeof(bound), 8, nonce);
	/* Asked one bit more than the solution has: AUTH (and not remembered). */
	{
		uint8_t in[PUZZLE_SEED_LEN + sizeof(bound)];
		unsigned have;

		memcpy(in, seed, PUZZLE_SEED_LEN);
		memcpy(in + PUZZLE_SEED_LEN, bound, sizeof(bound));
		have = puzzle_work_bits(in, sizeof(in), nonce);
		assert_true(have >= 8);
		if (have < PUZZLE_MAX_BITS)
			assert_int_equal(puzzle_gate_check(g, t, seed, bound, sizeof(bound), nonce,
			                                   have + 1),
			                 UM_ERR_AUTH);
	}
	assert_int_equal(puzzle_gate_check(g, t, seed, bound, sizeof(bound), nonce, 8), UM_OK);
	/* The same (seed, bound) again: a replay, in this window and the next. */
	assert_int_equal(puzzle_gate_check(g, t, seed, bound, sizeof(bound), nonce, 8),
	                 UM_ERR_REPLAY);
	assert_int_equal(puzzle_gate_check(g, t + W, seed, bound, sizeof(bound), nonce, 8),
	                 UM_ERR_REPLAY);
	/* Two windows later the seed is stale. */
	assert_int_equal(puzzle_gate_check(g, t + 2 * W, seed, bound, sizeof(bound), nonce, 8),
	                 UM_ERR_EXPIRED);
	/* A previous window's seed is accepted; another gate's seed never is. */
	bound[0] ^= 1;
	gate_solve(seed, bound, sizeof(bound), 8, nonce);
	assert_int_equal(puzzle_gate_check(g, t + W, seed, bound, sizeof(bound), nonce, 8), UM_OK);
	puzzle_gate_seed(other, t, seed2);
	gate_solve(seed2, bound, sizeof(bound), 8, nonce);
	assert_int_equal(puzzle_gate_check(g, t, seed2, bound, sizeof(bound), nonce, 8),
	                 UM_ERR_EXPIRED);
	/* A wrong nonce is AUTH. */
	puzzle_gate_seed(g, t, seed);
	bound[1] ^= 1;
	gate_solve(seed, bound, sizeof(bound), 8, nonce);
	assert_int_equal(puzzle_gate_check(g, t, seed, bound, sizeof(bound), nonce, 0),
	                 UM_ERR_AUTH); /* 0 bits is never a valid difficulty to check */
	assert_int_equal(puzzle_gate_check(g, t, seed, bound, PUZZLE_BOUND_MAX, nonce, 8),
	                 UM_ERR_INVALID);
	puzzle_gate_free(g);
	puzzle_gate_free(other);
}

/* The replay filter never forgets within its windows: after many more solutions than the old
 * 8192-entry cache held, every one of them is still refused as a replay (a set-associative
 * cache let an attacker cycle its own solutions through and replay them); fresh solutions
 * are refused only at the filter's small false-positive rate; two windows on, the filter is
 * cleared with its seed. */
static void
test_gate_replay_filter(void **state)
{
	struct puzzle_gate *g = puzzle_gate_new();
	uint8_t seed[PUZZLE_SEED_LEN], bound[8];
	uint64_t t = 5 * (uint64_t)W;
	const uint32_t n = 20000;
	uint8_t(*nonces)[PUZZLE_NONCE_LEN] = calloc(n, PUZZLE_NONCE_LEN);
	uint32_t false_replays = 0;

	(void)state;
	puzzle_gate_seed(g, t, seed);
	for (uint32_t i = 0; i < n; i++) {
		int ret;

		wire_store_u32(bound, i);
		wire_store_u32(bound + 4, 0);
		/* bits 1: half of all nonces pass; find one quickly. */
		gate_solve(seed, bound, sizeof(bound), 1, nonces[i]);
		ret = puzzle_gate_check(g, t, seed, bound, sizeof(bound), nonces[i], 1);
		if (ret == UM_ERR_REPLAY)
			false_replays++;
		else
			assert_int_equal(ret, UM_OK);
	}
	assert_true(false_replays < n / 1000); /* ~0.002 % expected at 20,000 */
	for (uint32_t i = 0; i < n; i++) {
		wire_store_u32(bound, i);
		assert_int_equal(
		        puzzle_gate_check(g, t + W / 2, seed, bound, sizeof(bound), nonces[i], 1),
		        UM_ERR_REPLAY);
	}
	/* The next window still accepts this seed and still refuses its replays. */
	wire_store_u32(bound, 7);
	assert_int_equal(puzzle_gate_check(g, t + W, seed, bound, sizeof(bound), nonces[7], 1),
	                 UM_ERR_REPLAY);
	/* Two windows on, the seed is refused (its filter is reused and cleared). */
	assert_int_equal(puzzle_gate_check(g, t + 2 * W, seed, bound, sizeof(bound), nonces[7], 1),
	                 UM_ERR_EXPIRED);
	puzzle_gate_seed(g, t + 2 * W, seed);
	gate_solve(seed, bound, sizeof(bound), 1, nonces[0]);
	assert_int_equal(puzzle_gate_check(g, t + 2 * W, seed, bound, sizeof(bound), nonces[0], 1),
	                 UM_OK);
	free(nonces);
	puzzle_gate_free(g);
}

static void
test_preamble_and_challenge_wire(void **state)
{
	static const uint8_t bare[] = { 0x01, 0x01 };
	uint8_t with[LINK_PREAMBLE_PUZZLE_LEN], ch[LINK_CHALLENGE_LEN], out[64];
	struct link_preamble p;
	struct link_challenge c;
	struct wire_wr w;

	(void)state;
	assert_int_equal(link_preamble_parse(bare, sizeof(bare), &p), 2);
	assert_int_equal(p.pattern, LINK_PATTERN_NK);
	assert_false(p.has_puzzle);
	/* Known vector: XK with a solution. */
	with[0] = 0x01;
	with[1] = 0x82;
	for (int i = 0; i < 24; i++)
		with[2 + i] = (uint8_t)i;
	assert_int_equal(link_preamble_parse(with, sizeof(with), &p), LINK_PREAMBLE_PUZZLE_LEN);
	assert_true(p.has_puzzle);
	assert_int_equal(p.pattern, LINK_PATTERN_XK);
	assert_int_equal(p.seed[15], 15);
	assert_int_equal(p.nonce[0], 16);
	wire_wr_init(&w, out, sizeof(out));
	assert_int_equal(link_preamble_encode(&p, &w), UM_OK);
	assert_int_equal(w.len, sizeof(with));
	assert_memory_equal(out, with, sizeof(with));
	for (size_t i = 0; i < sizeof(with); i++)
		assert_int_equal(link_preamble_parse(with, i, &p), UM_ERR_TRUNCATED);
	with[1] = 0x83; /* pattern 3 */
	assert_int_equal(link_preamble_parse(with, sizeof(with), &p), UM_ERR_MALFORMED);
	with[1] = 0x42; /* an unknown flag */
	assert_int_equal(link_preamble_parse(with, sizeof(with), &p), UM_ERR_MALFORMED);
	with[0] = 0x02;
	assert_int_equal(link_preamble_parse(with, sizeof(with), &p), UM_ERR_MALFORMED);

	/* Known vector: the challenge. */
	ch[0] = 0xff;
	ch[1] = 'P';
	ch[2] = 10;
	memset(ch + 3, 0xab, PUZZLE_SEED_LEN);
	assert_int_equal(link_challenge_parse(ch, sizeof(ch), &c), LINK_CHALLENGE_LEN);
	assert_int_equal(c.bits, 10);
	wire_wr_init(&w, out, sizeof(out));
	assert_int_equal(link_challenge_encode(&c, &w), UM_OK);
	assert_int_equal(w.len, LINK_CHALLENGE_LEN);
	assert_memory_equal(out, ch, sizeof(ch));
	for (size_t i = 0; i < sizeof(ch); i++)
		assert_int_equal(link_challenge_parse(ch, i, &c), UM_ERR_TRUNCATED);
	ch[2] = 0;
	assert_int_equal(link_challenge_parse(ch, sizeof(ch), &c), UM_ERR_MALFORMED);
	ch[2] = PUZZLE_MAX_BITS + 1;
	assert_int_equal(link_challenge_parse(ch, sizeof(ch), &c), UM_ERR_MALFORMED);
	ch[2] = 10;
	ch[1] = 'Q';
	assert_int_equal(link_challenge_parse(ch, sizeof(ch), &c), UM_ERR_MALFORMED);
}

struct node {
	struct keys_ed25519 id;
	struct keys_x25519 lk;
	struct link_identity li;
};

static void
node_init(struct node *n)
{
	keys_ed25519_generate(&n->id);
	keys_x25519_generate(&n->lk);
	link_identity_init(&n->li, &n->id, &n->lk, NOW_S + 86400);
}

/* Feed the whole of in to the responder; return its result. */
static int
respond(struct link_hs *res, struct puzzle_gate *g, unsigned bits, uint64_t now_ms,
        const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
	size_t consumed = 0;

	res->pz_gate = g;
	res->pz_bits = bits;
	res->pz_now_ms = now_ms;
	return link_hs_input(res, in, len, &consumed, out, LINK_HS_OUT_MAX, out_len, NOW_S);
}

static void
test_link_handshake_with_puzzle(void **state)
{
	struct node a, b;
	struct link_hs ini, res;
	struct puzzle_gate *g = puzzle_gate_new();
	uint8_t first[LINK_HS_OUT_MAX], out[LINK_HS_OUT_MAX], reply[LINK_HS_OUT_MAX];
	uint8_t bound[PUZZLE_SEED_LEN + LINK_PUZZLE_BOUND_LEN], nonce[PUZZLE_NONCE_LEN];
	size_t len = 0, out_len = 0, consumed = 0, n = 0, reply_len = 0;
	uint64_t now = 100 * (uint64_t)W;

	(void)state;
	node_init(&a);
	node_init(&b);
	/* 1. No solution: the responder answers the challenge; the initiator reads it. */
	assert_int_equal(
	        link_hs_init_initiator(&ini, LINK_PATTERN_NK, NULL, b.li.static_pub, b.li.id, NULL),
	        UM_OK);
	assert_int_equal(link_hs_start(&ini, first, sizeof(first), &len), UM_OK);
	assert_int_equal(link_hs_init_responder(&res, &b.li, LINK_ACCEPT_NK, NULL), UM_OK);
	/* Until msg1 is whole, nothing is consumed and nothing answered. */
	assert_int_equal(respond(&res, g, 10, now, first, len - 1, out, &out_len), UM_OK);
	assert_int_equal(out_len, 0);
	assert_int_equal(respond(&res, g, 10, now, first, len, out, &out_len), UM_ERR_RATELIMIT);
	assert_int_equal(out_len, LINK_CHALLENGE_LEN);
	assert_int_equal(res.pz_result, LINK_HS_PZ_ASKED);
	assert_int_equal(out[0], 0xff);
	assert_int_equal(out[2], 10);
	assert_int_equal(link_hs_input(&ini, out, out_len - 1, &consumed, reply, sizeof(reply),
	                               &reply_len, NOW_S),
	                 UM_OK);
	assert_int_equal(consumed, 0);
	assert_int_equal(link_hs_input(&ini, out, out_len, &consumed, reply, sizeof(reply),
	                               &reply_len, NOW_S),
	                 UM_ERR_RATELIMIT);
	assert_true(ini.challenged);
	assert_int_equal(ini.challenge.bits, 10);
	link_hs_clear(&res);

	/* 2. A fresh initiator solves for its own msg1 and gets through. */
	memcpy(bound, ini.challenge.seed, PUZZLE_SEED_LEN);
	link_hs_clear(&ini);
	assert_int_equal(
	        link_hs_init_initiator(&ini, LINK_PATTERN_NK, NULL, b.li.static_pub, b.li.id, NULL),
	        UM_OK);
	assert_int_equal(link_hs_start(&ini, first, sizeof(first), &len), UM_OK);
	assert_int_equal(link_hs_puzzle_bound(&ini, first, len, bound + PUZZLE_SEED_LEN), UM_OK);
	assert_int_equal(puzzle_solve(bound, sizeof(bound), 10, nonce), UM_OK);
	assert_int_equal(link_hs_add_puzzle(first, len, sizeof(first), bound, nonce, &n), UM_OK);
	assert_int_equal(n, len + PUZZLE_SEED_LEN + PUZZLE_NONCE_LEN);
	assert_int_equal(first[1], LINK_PATTERN_NK | LINK_PATTERN_F_PUZZLE);
	assert_int_equal(link_hs_init_responder(&res, &b.li, LINK_ACCEPT_NK, NULL), UM_OK);
	assert_int_equal(respond(&res, g, 10, now + 1000, first, n, out, &out_len), UM_OK);
	assert_int_equal(res.pz_result, LINK_HS_PZ_PASSED);
	assert_true(out_len > 0 && out[0] != 0xff); /* msg2 */
	assert_int_equal(link_hs_input(&ini, out, out_len, &consumed, reply, sizeof(reply),
	                               &reply_len, NOW_S),
	                 UM_OK);
	assert_true(link_hs_is_done(&ini));
	assert_true(link_hs_is_done(&res));
	link_hs_clear(&res);

	/* 3. The same first flight again (a replay): challenged, no DH. */
	assert_int_equal(link_hs_init_responder(&res, &b.li, LINK_ACCEPT_NK, NULL), UM_OK);
	assert_int_equal(respond(&res, g, 10, now + 2000, first, n, out, &out_len),
	                 UM_ERR_RATELIMIT);
	assert_int_equal(res.pz_result, LINK_HS_PZ_FAILED);
	link_hs_clear(&res);
	/* 4. Difficulty 0: a solution is ignored, the handshake goes on. */
	assert_int_equal(link_hs_init_responder(&res, &b.li, LINK_ACCEPT_NK, NULL), UM_OK);
	assert_int_equal(respond(&res, g, 0, now, first, n, out, &out_len), UM_OK);
	assert_int_equal(res.pz_result, LINK_HS_PZ_NONE);
	link_hs_clear(&res);
	link_hs_clear(&ini);
	/* 5. A solution bound to another responder's key does not pass. */
	assert_int_equal(
	        link_hs_init_initiator(&ini, LINK_PATTERN_NK, NULL, a.li.static_pub, NULL, NULL),
	        UM_OK);
	assert_int_equal(link_hs_start(&ini, first, sizeof(first), &len), UM_OK);
	puzzle_gate_seed(g, now, bound);
	assert_int_equal(link_hs_puzzle_bound(&ini, first, len, bound + PUZZLE_SEED_LEN), UM_OK);
	assert_int_equal(puzzle_solve(bound, sizeof(bound), 10, nonce), UM_OK);
	assert_int_equal(link_hs_add_puzzle(first, len, sizeof(first), bound, nonce, &n), UM_OK);
	assert_int_equal(link_hs_init_responder(&res, &b.li, LINK_ACCEPT_NK, NULL), UM_OK);
	{
		int r = respond(&res, g, 10, now, first, n, out, &out_len);

		/* Passes only by a 2^-10 fluke (the work over b's key happens to be easy). */
		if (r == UM_OK)
			assert_int_equal(res.pz_result, LINK_HS_PZ_PASSED);
		else
			assert_int_equal(r, UM_ERR_RATELIMIT);
	}
	link_hs_clear(&res);
	link_hs_clear(&ini);
	keys_ed25519_clear(&a.id);
	keys_x25519_clear(&a.lk);
	keys_ed25519_clear(&b.id);
	keys_x25519_clear(&b.lk);
	puzzle_gate_free(g);
}

static void
test_issuer_reply_and_body(void **state)
{
	static const char ok[] = "{\"error\":\"puzzle\",\"seed\":\"AAECAwQFBgcICQoLDA0ODw==\","
	                         "\"bits\":12}";
	static const char other[] = "{\"error\":\"too many token requests\"}";
	static const char bad_bits[] =
	        "{\"error\":\"puzzle\",\"seed\":\"AAECAwQFBgcICQoLDA0ODw==\","
	        "\"bits\":33}";
	static const char bad_seed[] = "{\"error\":\"puzzle\",\"seed\":\"AAEC\",\"bits\":12}";
	uint8_t seed[PUZZLE_SEED_LEN], nonce[PUZZLE_NONCE_LEN] = { 9 };
	unsigned bits = 0;
	char *body = NULL;

	(void)state;
	assert_int_equal(tokens_puzzle_parse((const uint8_t *)ok, strlen(ok), seed, &bits), UM_OK);
	assert_int_equal(bits, 12);
	assert_int_equal(seed[15], 15);
	assert_int_equal(tokens_puzzle_parse((const uint8_t *)other, strlen(other), seed, &bits),
	                 UM_ERR_NOT_FOUND);
	assert_int_equal(
	        tokens_puzzle_parse((const uint8_t *)bad_bits, strlen(bad_bits), seed, &bits),
	        UM_ERR_MALFORMED);
	assert_int_equal(
	        tokens_puzzle_parse((const uint8_t *)bad_seed, strlen(bad_seed), seed, &bits),
	        UM_ERR_MALFORMED);
	assert_int_equal(tokens_puzzle_parse((const uint8_t *)"{", 1, seed, &bits),
	                 UM_ERR_MALFORMED);
	for (size_t i = 0; i < strlen(ok); i++)
		assert_int_not_equal(tokens_puzzle_parse((const uint8_t *)ok, i, seed, &bits),
		                     UM_OK);
	assert_int_equal(
	        tokens_body_add_puzzle("{\"tier\":1,\"blinded\":[\"AA==\"]}", seed, nonce, &body),
	        UM_OK);
	assert_non_null(strstr(body, "\"puzzle\":{\"seed\":\"AAECAwQFBgcICQoLDA0ODw==\","
	                             "\"nonce\":\"CQAAAAAAAAA=\"}"));
	free(body);
	assert_int_equal(tokens_body_add_puzzle("[1]", seed, nonce, &body), UM_ERR_MALFORMED);
	assert_null(body);
}

static void
test_abuse_under_load(void **state)
{
	struct abuse_config c;
	struct abuse *a;
	uint8_t addr[4] = { 10, 1, 2, 3 };
	char why[128];

	(void)state;
	abuse_config_defaults(&c);
	c.bucket[ABUSE_ISSUE] = (struct abuse_bucket_config){ .rate_per_s = 1, .burst = 4 };
	assert_int_equal(abuse_new(&c, &a, why, sizeof(why)), UM_OK);
	assert_false(abuse_under_load(a, ABUSE_ISSUE, AF_INET, addr, 0)); /* unknown: full */
	assert_int_equal(abuse_check(a, ABUSE_ISSUE, AF_INET, addr, 0), ABUSE_OK); /* 3 left */
	assert_false(abuse_under_load(a, ABUSE_ISSUE, AF_INET, addr, 0));
	assert_int_equal(abuse_check(a, ABUSE_ISSUE, AF_INET, addr, 0), ABUSE_OK); /* 2 left */
	assert_false(abuse_under_load(a, ABUSE_ISSUE, AF_INET, addr, 0));
	assert_int_equal(abuse_check(a, ABUSE_ISSUE, AF_INET, addr, 0), ABUSE_OK); /* 1 left */
	assert_true(abuse_under_load(a, ABUSE_ISSUE, AF_INET, addr, 0));
	assert_true(abuse_under_load(a, ABUSE_ISSUE, AF_INET, addr, 999));
	assert_false(abuse_under_load(a, ABUSE_ISSUE, AF_INET, addr, 1000)); /* refilled to 2 */
	assert_false(abuse_under_load(a, ABUSE_HANDSHAKE, AF_INET, addr, 0));
	abuse_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_solve_and_check),
		cmocka_unit_test(test_solver_is_incremental),
		cmocka_unit_test(test_gate_windows_and_replay),
		cmocka_unit_test(test_gate_replay_filter),
		cmocka_unit_test(test_preamble_and_challenge_wire),
		cmocka_unit_test(test_link_handshake_with_puzzle),
		cmocka_unit_test(test_issuer_reply_and_body),
		cmocka_unit_test(test_abuse_under_load),
	};

	if (um_crypto_init() != UM_OK)
		return 1;
	return cmocka_run_group_tests_name("puzzle", tests, NULL, NULL);
}
