/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the client-puzzle wire formats (PROTOCOL.md 2.2 and 17.4): the link preamble (with or
 * without a solution) and the responder's challenge must re-encode to exactly the bytes they
 * were parsed from; the issuer's 429 puzzle reply parser must never crash; and a responder
 * asking a puzzle must answer any first flight with a challenge or go on, never crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "crypto/puzzle.h"
#include "link/handshake.h"
#include "link/link_msg.h"
#include "trust/tokens_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct puzzle_gate *gate;
static struct link_identity me;
static struct keys_ed25519 id;
static struct keys_x25519 lk;

static void
init_once(void)
{
	if (gate != NULL)
		return;
	if (um_crypto_init() != UM_OK)
		abort();
	gate = puzzle_gate_new();
	keys_ed25519_generate(&id);
	keys_x25519_generate(&lk);
	link_identity_init(&me, &id, &lk, 2000000000);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct link_preamble p;
	struct link_challenge c;
	uint8_t out[LINK_HS_OUT_MAX], seed[PUZZLE_SEED_LEN];
	size_t consumed = 0, out_len = 0;
	unsigned bits;
	struct wire_wr w;
	struct link_hs hs;
	ssize_t n;

	init_once();
	n = link_preamble_parse(data, size, &p);
	if (n > 0) {
		wire_wr_init(&w, out, sizeof(out));
		if (link_preamble_encode(&p, &w) != UM_OK || w.len != (size_t)n ||
		    memcmp(out, data, w.len) != 0)
			abort();
	}
	n = link_challenge_parse(data, size, &c);
	if (n > 0) {
		wire_wr_init(&w, out, sizeof(out));
		if (n != LINK_CHALLENGE_LEN || link_challenge_encode(&c, &w) != UM_OK ||
		    w.len != (size_t)n || memcmp(out, data, w.len) != 0)
			abort();
	}
	if (tokens_puzzle_parse(data, size, seed, &bits) == UM_OK &&
	    (bits < 1 || bits > PUZZLE_MAX_BITS))
		abort();
	/* A responder asking 8 bits: whatever the first flight, no crash, and a challenge is
	 * exactly LINK_CHALLENGE_LEN bytes. */
	if (link_hs_init_responder(&hs, &me, LINK_ACCEPT_NK | LINK_ACCEPT_XK, NULL) == UM_OK) {
		hs.pz_gate = gate;
		hs.pz_bits = 8;
		hs.pz_now_ms = 1000000;
		if (link_hs_input(&hs, data, size, &consumed, out, sizeof(out), &out_len, 1) ==
		            UM_ERR_RATELIMIT &&
		    out_len != LINK_CHALLENGE_LEN)
			abort();
		link_hs_clear(&hs);
	}
	return 0;
}
