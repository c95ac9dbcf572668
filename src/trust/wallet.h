/* SPDX-License-Identifier: MIT */
/*
 * The client's token wallet (issue 5), sans-I/O over the client's store (schema "wallet"):
 * finalized tier tokens (PROTOCOL.md 16.2) kept per issuer, tier and key epoch until spent.
 * A token is taken out (deleted, in one transaction) before it is sent, so it is never sent
 * twice, even across a crash; a token whose send failed is simply lost, which costs one token
 * and never a double spend.
 */
#ifndef UM_TRUST_WALLET_H
#define UM_TRUST_WALLET_H

#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "store/store.h"
#include "trust/token.h"

enum wallet_limits {
	WALLET_ISSUER_LEN = 32,
	WALLET_TOKEN_MAX = TOKEN_MAX_LEN,
	WALLET_MAX_TOKENS = 100000, /* per wallet: a fetch beyond it is refused */
};

struct wallet;

/* Open (and migrate) the wallet in st (borrowed; outlives the wallet). */
int wallet_open(struct store *st, struct wallet **out, char *why, size_t why_len) UM_WARN_UNUSED;
void wallet_free_(struct wallet *w);
#define wallet_free(w) UM_FREE_AND_NULL(wallet_free_, w)

/* Add a finalized token of issuer (its encoding, token_encode()). UM_ERR_EXISTS if the same
 * token is already there, UM_ERR_TOO_LARGE when the wallet is full. */
int wallet_add(struct wallet *w, const uint8_t issuer[WALLET_ISSUER_LEN], const uint8_t *token,
               size_t len, uint64_t now_s) UM_WARN_UNUSED;

/*
 * Take one token out for spending: of tier if tier != 0, else of the highest tier held; of
 * the oldest epoch at or above min_epoch (older ones are deleted on the way: no exit takes
 * them). On UM_OK the token is deleted from the wallet and copied into token with its
 * issuer; UM_ERR_NOT_FOUND when none is held, UM_ERR_TOO_LARGE (the token kept) when it is
 * longer than cap.
 */
int wallet_take(struct wallet *w, uint8_t tier, uint32_t min_epoch,
                uint8_t issuer[WALLET_ISSUER_LEN], uint8_t *token, size_t cap,
                size_t *len) UM_WARN_UNUSED;

/* Counts per (issuer, tier, epoch), in that order. fn returns UM_OK to go on. */
typedef int wallet_count_fn(void *arg, const uint8_t issuer[WALLET_ISSUER_LEN], uint8_t tier,
                            uint32_t epoch, uint64_t count);
int wallet_counts(struct wallet *w, wallet_count_fn *fn, void *arg) UM_WARN_UNUSED;

#endif /* UM_TRUST_WALLET_H */
