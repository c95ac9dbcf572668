/* SPDX-License-Identifier: MIT */
/*
 * Test helpers for anonymous tier tokens: an issuer (fresh Ed25519 identity, keyring in an
 * in-memory store) that issues real tokens through the whole RFC 9474 round (token_prepare,
 * blindrsa_blind, issuer_keyring_blind_sign, blindrsa_finalize), as a client would.
 */
#ifndef UM_TESTS_HELPERS_TOKEN_FIXTURE_H
#define UM_TESTS_HELPERS_TOKEN_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "store/store.h"
#include "trust/issuer_keys.h"
#include "trust/token.h"

struct tok_issuer {
	struct store *st;
	struct keys_ed25519 id; /* the keyring borrows it: keep the struct in place */
	struct issuer_keyring *kr;
};

/*
 * Open an issuer with keys for tiers 1..tiers (epoch 1 made at now_s); key_lifetime_s: the
 * keys' not_after after their epoch's start (0: the default). UM_OK or an error.
 */
int tok_issuer_open(struct tok_issuer *ti, unsigned tiers, uint64_t key_lifetime_s, uint64_t now_s);
void tok_issuer_close(struct tok_issuer *ti);
/*
 * Issue one token of tier under the current epoch: its encoding in out[0..*len) (cap >=
 * TOKEN_MAX_LEN), the decoded token in *t (may be NULL). UM_OK or an error.
 */
int tok_issuer_issue(struct tok_issuer *ti, uint8_t tier, uint64_t now_s, uint8_t *out, size_t cap,
                     size_t *len, struct token *t);

#endif /* UM_TESTS_HELPERS_TOKEN_FIXTURE_H */
