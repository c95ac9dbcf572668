/* SPDX-License-Identifier: MIT */
/*
 * The client's side of token issuance (PROTOCOL.md 17.4), sans-I/O: from the issuer's verified
 * key list, prepare and blind n tokens and the POST /v1/tokens body; from the issuer's reply,
 * finalize each token (verifying the issuer's signature: a wrong key or a marked signature is
 * refused) and put it in the wallet. The blinding inverses stay in the request state (wiped
 * when it is freed); the issuer sees only blinded messages.
 */
#ifndef UM_TRUST_TOKENS_CLIENT_H
#define UM_TRUST_TOKENS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "crypto/keys.h"
#include "crypto/puzzle.h"
#include "trust/issuer_doc.h"
#include "trust/wallet.h"

enum tokens_client_limits {
	TOKENS_PER_FETCH_MAX = 32, /* the issuer's per-request cap */
};

struct tokens_req;

/* For tiers above 1: the subject the issuer knows, and its key (trust/issuer_creds.h signs
 * the request with it). NULL: an anonymous (tier-1) request. */
struct tokens_subject {
	const char *id;
	const struct keys_ed25519 *key;
};

/*
 * Start a request for n (1..TOKENS_PER_FETCH_MAX) tokens of tier from the issuer whose
 * verified key list is keys (the key of (tier, keys->key_epoch) is used), signed by who at
 * now_s when who is not NULL. *body is the JSON
 * to POST (malloc'd, NUL-terminated; the caller frees it). UM_ERR_NOT_FOUND when the list
 * has no key for the tier in its current epoch, UM_ERR_MALFORMED for a key that does not
 * import, UM_ERR_INVALID for a bad n or tier.
 */
int tokens_req_new(const struct issuer_keys *keys, uint8_t tier, size_t n,
                   const struct tokens_subject *who, uint64_t now_s, struct tokens_req **out,
                   char **body) UM_WARN_UNUSED;
/* The same under the key of (tier, epoch) of keys, which the request names (PROTOCOL.md
 * 17.4): e.g. an older epoch the consensus already lists while the newest is not yet in it. */
int tokens_req_new_epoch(const struct issuer_keys *keys, uint8_t tier, uint32_t epoch, size_t n,
                         const struct tokens_subject *who, uint64_t now_s, struct tokens_req **out,
                         char **body) UM_WARN_UNUSED;
void tokens_req_free_(struct tokens_req *r);
#define tokens_req_free(r) UM_FREE_AND_NULL(tokens_req_free_, r)

/*
 * Finish with the issuer's 200 reply body: every blind signature is finalized and verified,
 * and each token that verifies is added to w under issuer (keys->issuer). *added counts them.
 * UM_ERR_MALFORMED for a reply that is not the expected JSON (nothing added), UM_ERR_AUTH if
 * any signature does not verify (the rest are still added; a cheating issuer is logged by
 * the caller).
 */
int tokens_req_finish(struct tokens_req *r, const uint8_t *reply, size_t len, struct wallet *w,
                      uint64_t now_s, size_t *added) UM_WARN_UNUSED;

/* The digest of the request's blinded messages (ISSUER_CREDS_HASH_LEN = 32 bytes): what an
 * issuance puzzle solution is bound to, after the seed (PROTOCOL.md 17.4). */
const uint8_t *tokens_req_digest(const struct tokens_req *r);

enum { TOKENS_PUZZLE_REPLY_MAX = 512 };

/*
 * Parse the issuer's puzzle challenge, the body of a 429: {"error": "puzzle", "seed":
 * "<base64 of 16 bytes>", "bits": 1..32} (other members are ignored). UM_OK; UM_ERR_NOT_FOUND
 * for JSON whose "error" is not "puzzle" (an ordinary refusal); UM_ERR_MALFORMED otherwise
 * (not JSON, over TOKENS_PUZZLE_REPLY_MAX bytes, a bad seed or bits).
 */
int tokens_puzzle_parse(const uint8_t *reply, size_t len, uint8_t seed[PUZZLE_SEED_LEN],
                        unsigned *bits) UM_WARN_UNUSED;
/* A copy of the request body (JSON object text) with "puzzle": {"seed", "nonce"} set;
 * *out is malloc'd (the caller frees it). UM_ERR_MALFORMED for a body that is not an object. */
int tokens_body_add_puzzle(const char *body, const uint8_t seed[PUZZLE_SEED_LEN],
                           const uint8_t nonce[PUZZLE_NONCE_LEN], char **out) UM_WARN_UNUSED;

#endif /* UM_TRUST_TOKENS_CLIENT_H */
