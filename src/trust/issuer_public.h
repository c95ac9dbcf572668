/* SPDX-License-Identifier: MIT */
/*
 * The issuer's public HTTP routes (docs/ISSUER.md "Public API"), sans-I/O:
 *
 *   GET  /v1/pubkeys       the signed key list (application/octet-stream, issuer_doc.h)
 *   GET  /v1/revocations   the signed revocation feed (application/octet-stream)
 *   GET  /v1/relaytrust    the signed relay-trust feed (application/octet-stream,
 *                          trust/relay_trust.h); 404 when the issuer serves none
 *   POST /v1/tokens        {"tier": 1, "blinded": ["<base64 blinded message>", ...]} (1..32)
 *                          -> 200 {"tier": 1, "epoch": E, "blind_sigs": ["<base64>", ...]}
 *                          (optional "puzzle": {"seed": "<base64 16>", "nonce": "<base64 8>"})
 *                          -> 429 {"error": "puzzle", "seed": "<base64 16>", "bits": N} when a
 *                             solution is needed (source under load) and missing or bad
 *
 * Tier-1 tokens need no identity: the request is rate-limited per source address (trust/
 * abuse.h ABUSE_ISSUE; 429 over the rate, with Retry-After semantics left to the client's
 * backoff) and nothing about it is stored or logged, so the issuer cannot tie a token it sees
 * later to the request that made it (it never sees the token: only blinded messages).
 * Higher tiers need the subject's signed request (trust/issuer_creds.h) and an effective
 * tier (trust/issuer.h) at least the one asked for: 401 for a signature that does not verify
 * (or a subject without a key), 403 for a tier too high, 429 past the subject's daily quota
 * (counted before any RSA work; a request that then fails keeps its count).
 */
#ifndef UM_TRUST_ISSUER_PUBLIC_H
#define UM_TRUST_ISSUER_PUBLIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evloop/http.h"
#include "crypto/puzzle.h"
#include "trust/abuse.h"
#include "trust/issuer.h"
#include "trust/issuer_creds.h"
#include "trust/issuer_keys.h"
#include "trust/issuer_relays.h"

enum issuer_public_limits {
	ISSUER_TOKENS_PER_REQUEST = 32,
	ISSUER_PUBLIC_MAX_BODY = 32 * 700 + 256, /* 32 base64 4096-bit messages and the rest */
};

/* Issuance puzzles (PROTOCOL.md 17.4), counted by issuer_public_handle(). */
struct issuer_puzzle_stats {
	uint64_t asked;  /* challenged: no solution */
	uint64_t failed; /* challenged: a solution with a stale seed, too few bits or replayed */
	uint64_t passed; /* a valid solution came with the request */
};

struct issuer_public_ctx {
	struct issuer_keyring *keys; /* required */
	struct abuse *limit;         /* per-source limit of issuance requests; NULL: none */
	struct issuer *is;           /* subjects (effective tiers); NULL: tier 1 only */
	struct issuer_creds *creds;  /* subject keys; NULL: tier 1 only */
	uint32_t subject_quota;      /* tokens per subject per UTC day above tier 1; 0: none */
	/* Puzzle under load: a tier-1 request from a source that used more than half of its
	 * bucket (abuse_under_load()) must carry a solution at puzzle_bits, bound to the digest
	 * of its blinded messages, checked before any RSA work. gate NULL or bits 0: never. */
	struct puzzle_gate *gate;
	unsigned puzzle_bits;
	struct issuer_puzzle_stats *pz_stats; /* may be NULL */
	struct issuer_rtfeed *rt;             /* the relay-trust feed; NULL: none (404) */
};

/*
 * Serve one request if path is a public route (returns true and fills resp; never fails),
 * else return false and leave resp alone. family/addr: the client's address (AF_INET with 4
 * bytes, AF_INET6 with 16; family 0 for none: such requests share one bucket), for the limit.
 */
bool issuer_public_handle(const struct issuer_public_ctx *c, const char *method, const char *path,
                          int family, const uint8_t *addr, const uint8_t *body, size_t len,
                          uint64_t now_s, uint64_t now_ms, struct ev_http_resp *resp);

#endif /* UM_TRUST_ISSUER_PUBLIC_H */
