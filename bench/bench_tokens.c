/* SPDX-License-Identifier: MIT */
/*
 * Anonymous tier tokens on one core, with a fresh 2048-bit issuer key (RFC 9474
 * RSABSSA-SHA384-PSS-Randomized, src/crypto/blindrsa + src/trust/token): tokens issued per
 * second (the issuer's BlindSign, RSA-CRT plus the verify-before-release check), tokens
 * verified per second (an exit's token_verify: key id, tier, epoch and RSASSA-PSS), and the
 * client's Blind and Finalize (unblind + verify) per token; then identified capability tokens
 * verified per second (captoken_verify: the issuer's Ed25519 signature and the holder's proof
 * of possession), and client puzzles (src/crypto/puzzle): work hashes per second, the mean
 * time to solve a 16-bit puzzle, and the gate's checks per second (what a relay or issuer
 * spends per presented solution). Each measure runs for SECONDS (default 0.5). Prints
 * "name value" lines. usage: bench_tokens [SECONDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/time.h"
#include "crypto/blindrsa.h"
#include "crypto/crypto.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "crypto/puzzle.h"
#include "trust/captoken.h"
#include "trust/issuer_doc.h"
#include "trust/token.h"

enum { TIER = 1, EPOCH = 1 };

static double
secs_since(uint64_t t)
{
	return (double)(um_mono_ns() - t) / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "bench_tokens: %s failed\n", what);
	exit(1);
}

/* Identified capability tokens: an exit's (or directory's) whole captoken_verify(). */
static void
bench_captokens(double secs)
{
	static struct issuer_revocations revs; /* an empty feed of the issuer */
	struct keys_ed25519 iss, pop;
	struct captoken t;
	uint8_t buf[CAPTOKEN_MAX_LEN], digest[CAPTOKEN_HASH_LEN] = { 1 }, aud_id[32] = { 2 };
	uint8_t pop_sig[CAPTOKEN_SIG_LEN];
	struct captoken_check c;
	struct wire_wr w;
	uint64_t start, now = 1800000000;
	double el;
	long n = 0;

	keys_ed25519_generate(&iss);
	keys_ed25519_generate(&pop);
	memset(&t, 0, sizeof(t));
	snprintf(t.sub, sizeof(t.sub), "alice");
	snprintf(t.aud, sizeof(t.aud), "exit");
	snprintf(t.role, sizeof(t.role), "access");
	t.tier = 2;
	t.key_epoch = 1;
	t.iat_s = now - 10;
	t.exp_s = now + 86400;
	memcpy(t.pop_key, pop.pk, sizeof(t.pop_key));
	wire_wr_init(&w, buf, sizeof(buf));
	if (captoken_sign(&t, &iss) != UM_OK || captoken_encode(&t, &w) != UM_OK)
		die("captoken_sign");
	captoken_pop_sign(&pop, buf, w.len, aud_id, now, digest, pop_sig);
	memcpy(revs.issuer, iss.pk, sizeof(revs.issuer));
	revs.expires_s = now + 3600;
	memset(&c, 0, sizeof(c));
	c.issuer = iss.pk;
	c.revs = &revs;
	c.aud = "exit";
	c.role = "access";
	c.audience_id = aud_id;
	c.pop_time_s = now;
	c.digest = digest;
	c.pop_sig = pop_sig;
	c.now_s = now;
	start = um_mono_ns();
	while ((el = secs_since(start)) < secs) {
		if (captoken_verify(buf, w.len, &c, NULL) != CAPTOKEN_OK)
			die("captoken_verify");
		n++;
	}
	printf("captokens_verified_per_s %.0f\n", (double)n / el);
	printf("captoken_bytes %zu\n", w.len);
	keys_ed25519_clear(&iss);
	keys_ed25519_clear(&pop);
}

/* Client puzzles: the work function, a 16-bit solve, and the gate's check. */
static void
bench_puzzles(double secs)
{
	uint8_t bound[96] = { 3 }, nonce[PUZZLE_NONCE_LEN] = { 0 }, seed[PUZZLE_SEED_LEN];
	struct puzzle_gate *g = puzzle_gate_new();
	uint64_t start, now_ms = 1800000000000ull;
	double el;
	long n = 0, solves = 0;

	start = um_mono_ns();
	while ((el = secs_since(start)) < secs) {
		nonce[0] = (uint8_t)n;
		nonce[1] = (uint8_t)(n >> 8);
		nonce[2] = (uint8_t)(n >> 16);
		(void)puzzle_work_bits(bound, sizeof(bound), nonce);
		n++;
	}
	printf("puzzle_hashes_per_s %.0f\n", (double)n / el);
	start = um_mono_ns();
	while ((el = secs_since(start)) < secs * 4 || solves < 4) {
		bound[1] = (uint8_t)solves;
		bound[2] = (uint8_t)(solves >> 8);
		if (puzzle_solve(bound, sizeof(bound), 16, nonce) != UM_OK)
			die("puzzle_solve");
		solves++;
	}
	printf("puzzle_solve_16_ms %.1f\n", el * 1e3 / (double)solves);
	/* The gate: fresh (seed, bound) pairs with a wrong nonce, the cost of every refusal;
	 * the replay cache is touched only by solutions that pass. */
	puzzle_gate_seed(g, now_ms, seed);
	memcpy(bound, seed, sizeof(seed));
	n = 0;
	start = um_mono_ns();
	while ((el = secs_since(start)) < secs) {
		bound[20] = (uint8_t)n;
		bound[21] = (uint8_t)(n >> 8);
		if (puzzle_gate_check(g, now_ms, seed, bound + PUZZLE_SEED_LEN,
		                      sizeof(bound) - PUZZLE_SEED_LEN, nonce,
		                      PUZZLE_MAX_BITS) == UM_OK)
			die("puzzle_gate_check (a wrong nonce passed)");
		n++;
	}
	printf("puzzle_gate_checks_per_s %.0f\n", (double)n / el);
	puzzle_gate_free(g);
}

int
main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 0.5;
	uint8_t input[TOKEN_INPUT_LEN], blinded[BLINDRSA_MAX_LEN], inv[BLINDRSA_MAX_LEN];
	uint8_t bsig[BLINDRSA_MAX_LEN], sig[BLINDRSA_MAX_LEN];
	struct blindrsa_key *sk = NULL, *pk = NULL;
	struct token t;
	uint64_t start;
	double blind_s, fin_s, el;
	size_t k;
	long n;

	if (secs <= 0)
		secs = 0.5;
	if (um_crypto_init() != UM_OK)
		die("um_crypto_init");
	start = um_mono_ns();
	if (blindrsa_key_generate(BLINDRSA_DEFAULT_BITS, &sk) != UM_OK ||
	    blindrsa_key_public(sk, &pk) != UM_OK)
		die("key generation");
	printf("keygen_2048_ms %.0f\n", secs_since(start) * 1e3);
	k = blindrsa_key_len(pk);

	/* One token the whole way, to have valid inputs for each step. */
	if (token_prepare(&t, TIER, EPOCH, pk) != UM_OK)
		die("token_prepare");
	token_input(&t, input);
	if (blindrsa_blind(pk, TOKEN_VARIANT, input, sizeof(input), blinded, inv, k) != UM_OK ||
	    blindrsa_blind_sign(sk, blinded, k, bsig, k) != UM_OK ||
	    blindrsa_finalize(pk, TOKEN_VARIANT, input, sizeof(input), bsig, k, inv, k, t.sig, k) !=
	            UM_OK ||
	    token_verify(&t, pk, TIER, EPOCH) != UM_OK)
		die("issuance");

	/* Issuer: BlindSign. */
	n = 0;
	start = um_mono_ns();
	while ((el = secs_since(start)) < secs) {
		if (blindrsa_blind_sign(sk, blinded, k, bsig, k) != UM_OK)
			die("blindrsa_blind_sign");
		n++;
	}
	printf("tokens_issued_per_s %.0f\n", (double)n / el);

	/* Exit: token_verify. */
	n = 0;
	start = um_mono_ns();
	while ((el = secs_since(start)) < secs) {
		if (token_verify(&t, pk, TIER, EPOCH) != UM_OK)
			die("token_verify");
		n++;
	}
	printf("tokens_verified_per_s %.0f\n", (double)n / el);

	/* Client: Prepare + Blind, then Finalize (unblind and verify) of the issuer's answer. */
	n = 0;
	start = um_mono_ns();
	while ((el = secs_since(start)) < secs) {
		struct token c;

		if (token_prepare(&c, TIER, EPOCH, pk) != UM_OK)
			die("token_prepare");
		token_input(&c, input);
		if (blindrsa_blind(pk, TOKEN_VARIANT, input, sizeof(input), blinded, inv, k) !=
		    UM_OK)
			die("blindrsa_blind");
		n++;
	}
	blind_s = el / (double)n;
	if (blindrsa_blind_sign(sk, blinded, k, bsig, k) != UM_OK)
		die("blindrsa_blind_sign");
	n = 0;
	start = um_mono_ns();
	while ((el = secs_since(start)) < secs) {
		if (blindrsa_finalize(pk, TOKEN_VARIANT, input, sizeof(input), bsig, k, inv, k, sig,
		                      k) != UM_OK)
			die("blindrsa_finalize");
		n++;
	}
	fin_s = el / (double)n;
	printf("client_blind_per_s %.0f\n", 1.0 / blind_s);
	printf("client_finalize_per_s %.0f\n", 1.0 / fin_s);
	printf("client_blind_finalize_per_s %.0f\n", 1.0 / (blind_s + fin_s));
	printf("token_bytes %d\n", TOKEN_HEADER_LEN + (int)k);
	bench_captokens(secs);
	bench_puzzles(secs);
	memset(inv, 0, sizeof(inv));
	blindrsa_key_free(sk);
	blindrsa_key_free(pk);
	return 0;
}
