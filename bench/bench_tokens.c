/* SPDX-License-Identifier: MIT */
/*
 * Anonymous tier tokens on one core, with a fresh 2048-bit issuer key (RFC 9474
 * RSABSSA-SHA384-PSS-Randomized, src/crypto/blindrsa + src/trust/token): tokens issued per
 * second (the issuer's BlindSign, RSA-CRT plus the verify-before-release check), tokens
 * verified per second (an exit's token_verify: key id, tier, epoch and RSASSA-PSS), and the
 * client's Blind and Finalize (unblind + verify) per token. Each measure runs for SECONDS
 * (default 0.5). Prints "name value" lines. usage: bench_tokens [SECONDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/time.h"
#include "crypto/blindrsa.h"
#include "crypto/crypto.h"
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
	memset(inv, 0, sizeof(inv));
	blindrsa_key_free(sk);
	blindrsa_key_free(pk);
	return 0;
}
