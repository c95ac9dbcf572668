/* SPDX-License-Identifier: MIT */
/*
 * The exit's token verifier (docs/PROTOCOL.md 17.5, 17.6), sans-I/O apart from its spent set:
 * the issuers the exit trusts (Ed25519 identities pinned from [relay] issuers), the newest
 * valid key list and revocation feed of each, and a verdict for every token spent on a
 * circuit.
 *
 *   documents in:  token_verifier_offer_keys() / _offer_revocations() with the bytes fetched
 *                  from an issuer (trust/issuer_feed_io.h does the fetching): verified against
 *                  the pinned identity (issuer_doc.h), kept only when newer (higher seq); each
 *                  key's SPKI imported once (blindrsa_pk_import), ready for verification.
 *   token in:      token_verifier_spend(issuer, token bytes) -> verdict (the TOKEN_ACK status)
 *                  and, when accepted, the token's tier:
 *
 *     unknown issuer            UNKNOWN_ISSUER (1)
 *     token_parse() refuses it  UNAVAILABLE (6, "malformed")
 *     no key list yet           UNAVAILABLE (6, "cannot check tokens now")
 *     epoch < min_token_epoch (the higher of the key list's and the feed's), or (tier, epoch)
 *     revoked by the feed       REFUSED_EPOCH (3)
 *     no listed key for (tier, epoch), key past its not_after, key_id or signature wrong
 *                               INVALID (2)
 *     nonce already spent in (issuer, epoch)
 *                               DOUBLE_SPEND (4)
 *     otherwise                 ACCEPTED (0): the nonce is in the spent set, on disk, before
 *                               this returns
 *
 * An identified token (first byte 2, trust/idtoken.h, PROTOCOL.md 18.5) is judged by
 * captoken_verify() instead, for role "access", audience "exit", the proof of possession
 * bound to this exit's identity (token_verifier_set_audience(); unset: UNAVAILABLE) and the
 * issuer's held revocation feed and min_token_epoch; it has no spent set (it is shown on every
 * circuit until it expires):
 *
 *     unknown issuer            UNKNOWN_ISSUER (1)
 *     idtoken_parse() or captoken_parse() refuses it, no audience set, no feed held yet
 *                               UNAVAILABLE (6)
 *     key_epoch < min_token_epoch                     REFUSED_EPOCH (3)
 *     the feed lists the subject                      REVOKED_SUBJECT (7)
 *     another issuer, expired, aud not "exit", role not "access", bad issuer signature, pop
 *     time more than 300 s off, bad pop              INVALID (2)
 *     otherwise                 ACCEPTED (0), the tier being the token's
 *
 * Spent set: table token_spent (issuer, epoch, nonce) in the store given at creation (the
 * exit's state database, schema component "exit_tokens"), one INSERT in its own transaction
 * per accepted token (UNIQUE violation: a double spend). Rows of epochs below an issuer's
 * min_token_epoch are deleted when a newer document raises it. A store failure refuses the
 * token (UNAVAILABLE) rather than risk accepting it twice.
 *
 * Loop thread only (the store is used synchronously). Nothing here logs.
 */
#ifndef UM_TRUST_TOKEN_VERIFIER_H
#define UM_TRUST_TOKEN_VERIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "store/store.h"
#include "trust/issuer_doc.h"
#include "trust/token.h"

enum token_verifier_limits {
	TOKEN_VERIFIER_ISSUERS_MAX = 8, /* [relay] issuers */
	TOKEN_VERIFIER_ID_LEN = ISSUER_DOC_ID_LEN,
};

/* A token's fate: the TOKEN_ACK status of docs/PROTOCOL.md 17.5, same numbers. */
enum token_verdict {
	TOKEN_VERDICT_ACCEPTED = 0,
	TOKEN_VERDICT_UNKNOWN_ISSUER = 1,
	TOKEN_VERDICT_INVALID = 2,
	TOKEN_VERDICT_REFUSED_EPOCH = 3,
	TOKEN_VERDICT_DOUBLE_SPEND = 4,
	TOKEN_VERDICT_HAS_TIER = 5,        /* decided by the caller: one token per circuit */
	TOKEN_VERDICT_UNAVAILABLE = 6,     /* malformed, or the exit cannot check tokens now */
	TOKEN_VERDICT_REVOKED_SUBJECT = 7, /* identified token: the feed lists its subject */
	TOKEN_VERDICT_MAX = 7,
};

/* The store schema of the spent set (for tools that open the database themselves). */
extern const struct store_schema token_verifier_schema;

struct token_verifier;

/*
 * Return in *out a verifier keeping its spent set in st (borrowed: must outlive it; its schema
 * is brought up to date here). No issuer yet. UM_ERR_INVALID for a NULL store, or the store's
 * error with why.
 */
int token_verifier_new(struct store *st, struct token_verifier **out, char *why,
                       size_t why_len) UM_WARN_UNUSED;
void token_verifier_free_(struct token_verifier *tv);
#define token_verifier_free(tv) UM_FREE_AND_NULL(token_verifier_free_, tv)

/* The exit's identity key [32]: the audience identified tokens' proofs must be bound to. */
void token_verifier_set_audience(struct token_verifier *tv,
                                 const uint8_t id[TOKEN_VERIFIER_ID_LEN]);

/* Trust the issuer with Ed25519 identity id. UM_ERR_EXISTS if it is trusted already,
 * UM_ERR_TOO_LARGE over TOKEN_VERIFIER_ISSUERS_MAX. */
int token_verifier_add_issuer(struct token_verifier *tv,
                              const uint8_t id[TOKEN_VERIFIER_ID_LEN]) UM_WARN_UNUSED;

/*
 * A key list (17.1) fetched from issuer id: UM_OK when it verified and replaced the one held
 * (or was the first); UM_ERR_EXISTS when its seq is the one held (nothing changes);
 * UM_ERR_REPLAY when it is older; UM_ERR_NOT_FOUND for an issuer not trusted; otherwise
 * issuer_keys_parse_verify()'s error (MALFORMED, TRUNCATED, AUTH, EXPIRED), or
 * UM_ERR_MALFORMED for a listed key blindrsa_pk_import() refuses. now_s: wall clock.
 */
int token_verifier_offer_keys(struct token_verifier *tv, const uint8_t id[TOKEN_VERIFIER_ID_LEN],
                              const uint8_t *doc, size_t len, uint64_t now_s) UM_WARN_UNUSED;
/* The same for a revocation feed (17.2); an expired feed is refused (UM_ERR_EXPIRED), but one
 * held keeps refusing what it lists until a newer one replaces it. */
int token_verifier_offer_revocations(struct token_verifier *tv,
                                     const uint8_t id[TOKEN_VERIFIER_ID_LEN], const uint8_t *doc,
                                     size_t len, uint64_t now_s) UM_WARN_UNUSED;

/*
 * Judge the token (len bytes, 16.2) spent with issuer id at now_s, see the file comment.
 * On TOKEN_VERDICT_ACCEPTED *tier is the token's tier (1..15), else 0. Counted in the stats.
 */
enum token_verdict token_verifier_spend(struct token_verifier *tv,
                                        const uint8_t id[TOKEN_VERIFIER_ID_LEN],
                                        const uint8_t *token, size_t len, uint64_t now_s,
                                        uint8_t *tier);
/* Count a refusal the caller decided without spend() (TOKEN_VERDICT_HAS_TIER). */
void token_verifier_note(struct token_verifier *tv, enum token_verdict v);

struct token_verifier_stats {
	size_t issuers;                          /* trusted */
	size_t ready;                            /* ... with a key list */
	uint64_t accepted;                       /* tokens accepted (tier given to a circuit) */
	uint64_t identified_accepted;            /* ... of them identified (18.5) */
	uint64_t refused[TOKEN_VERDICT_MAX + 1]; /* by verdict; [0] unused */
	uint64_t double_spends;                  /* = refused[TOKEN_VERDICT_DOUBLE_SPEND] */
	uint64_t store_errors;                   /* spent-set failures (refused as UNAVAILABLE) */
	uint64_t docs_taken;   /* key lists and feeds that replaced an older one */
	uint64_t docs_refused; /* ... that failed verification or were older */
};
void token_verifier_stats(const struct token_verifier *tv, struct token_verifier_stats *st);

/* One trusted issuer as the verifier sees it (status output). */
struct token_issuer_info {
	uint8_t id[TOKEN_VERIFIER_ID_LEN];
	bool has_keys;
	uint64_t keys_seq;
	uint32_t key_epoch;
	size_t n_keys;
	bool has_revocations;
	uint64_t revocations_seq;
	uint64_t revocations_expires_s;
	uint32_t min_token_epoch; /* the higher of the key list's and the feed's */
};
size_t token_verifier_n_issuers(const struct token_verifier *tv);
/* Issuer i (< token_verifier_n_issuers()), in the order added. */
void token_verifier_issuer(const struct token_verifier *tv, size_t i,
                           struct token_issuer_info *out);

/* The verdict's name ("accepted", "unknown-issuer", ...). */
const char *token_verdict_str(enum token_verdict v);

#endif /* UM_TRUST_TOKEN_VERIFIER_H */
