/* SPDX-License-Identifier: MIT */
/*
 * The issuer's two signed documents (PROTOCOL.md 17), pure: encode, parse, sign, verify.
 *
 *   key list     GET /v1/pubkeys: the blind-RSA public keys of every (tier, epoch) the issuer
 *                signs or signed tokens with and that has not expired, with key_epoch (the
 *                epoch it issues under now) and min_token_epoch (older tokens are refused);
 *                authorities put the keys in the consensus, exits verify tokens with them.
 *   revocations  GET /v1/revocations: a monotonic sequence number, min_token_epoch, revoked
 *                (tier, epoch) keys and revoked subjects; exits poll it and refuse tokens of
 *                revoked epochs and identified tokens of revoked subjects.
 *
 * Both are signed by the issuer's Ed25519 identity over a label, so one signature is never
 * valid for the other document:
 *
 *   keys  = version [1] = 1 | issuer [32] | seq [8] | published [8] | key_epoch [4] |
 *           min_token_epoch [4] | n [1] | n * key | sig [64]
 *   key   = tier [1] | epoch [4] | not_after [8] | spki_len [2] | spki [spki_len]
 *   revs  = version [1] = 1 | issuer [32] | seq [8] | published [8] | expires [8] |
 *           min_token_epoch [4] | n_keys [1] | n_keys * (tier [1] | epoch [4]) |
 *           n_subjects [1] | n_subjects * (len [1] | subject [len])  | sig [64]
 *   sig   = Ed25519(issuer, label 0x00 | everything before sig)
 *           label "umbra-issuer-keys-v1" or "umbra-issuer-revocations-v1"
 *
 * Rules (MALFORMED otherwise): tiers 1..15; keys strictly ascending by (tier, epoch); SPKI
 * 64..ISSUER_DOC_SPKI_MAX bytes; revoked keys strictly ascending; subjects valid subject ids
 * (issuer_id_is_valid), strictly ascending (bytewise); published < expires; no trailing bytes.
 */
#ifndef UM_TRUST_ISSUER_DOC_H
#define UM_TRUST_ISSUER_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/compiler.h"
#include "lib/wire.h"
#include "crypto/keys.h"
#include "trust/issuer.h"

enum issuer_doc_limits {
	ISSUER_DOC_VERSION = 1,
	ISSUER_DOC_ID_LEN = 32,
	ISSUER_DOC_SIG_LEN = 64,
	ISSUER_DOC_MAX_KEYS = 64, /* e.g. 15 tiers x a few epochs */
	ISSUER_DOC_SPKI_MIN = 64,
	ISSUER_DOC_SPKI_MAX = 1100,   /* an RSA-8192 SubjectPublicKeyInfo */
	ISSUER_DOC_MAX_REVOKED = 128, /* (tier, epoch) keys */
	ISSUER_DOC_MAX_SUBJECTS = 255,
	ISSUER_DOC_REVS_LIFETIME_MAX_S = 7 * 86400,
	ISSUER_KEYS_MAX_LEN = 1 + 32 + 8 + 8 + 4 + 4 + 1 +
	                      ISSUER_DOC_MAX_KEYS * (1 + 4 + 8 + 2 + ISSUER_DOC_SPKI_MAX) + 64,
	ISSUER_REVS_MAX_LEN = 1 + 32 + 8 + 8 + 8 + 4 + 1 + ISSUER_DOC_MAX_REVOKED * 5 + 1 +
	                      ISSUER_DOC_MAX_SUBJECTS * (1 + ISSUER_ID_MAX_LEN) + 64,
	/* A document dated this far in a verifier's future is still taken. */
	ISSUER_DOC_CLOCK_SKEW_S = 300,
};

struct issuer_key_entry {
	uint8_t tier;
	uint32_t epoch;
	uint64_t not_after_s;
	const uint8_t *spki; /* a view into the parsed input (or the caller's buffer to encode) */
	uint16_t spki_len;
};

struct issuer_keys {
	uint8_t version;
	uint8_t issuer[ISSUER_DOC_ID_LEN];
	uint64_t seq;
	uint64_t published_s;
	uint32_t key_epoch;
	uint32_t min_token_epoch;
	uint8_t n;
	struct issuer_key_entry keys[ISSUER_DOC_MAX_KEYS];
	uint8_t sig[ISSUER_DOC_SIG_LEN];
};

struct issuer_revoked_key {
	uint8_t tier;
	uint32_t epoch;
};

struct issuer_revocations {
	uint8_t version;
	uint8_t issuer[ISSUER_DOC_ID_LEN];
	uint64_t seq;
	uint64_t published_s;
	uint64_t expires_s;
	uint32_t min_token_epoch;
	uint8_t n_keys;
	struct issuer_revoked_key keys[ISSUER_DOC_MAX_REVOKED];
	uint8_t n_subjects;
	char subjects[ISSUER_DOC_MAX_SUBJECTS][ISSUER_ID_MAX_LEN + 1];
	uint8_t sig[ISSUER_DOC_SIG_LEN];
};

/*
 * Parse (no signature or clock check): bytes consumed, UM_ERR_TRUNCATED for a strict prefix
 * of a valid document, UM_ERR_MALFORMED for a broken rule. *out is written only on success;
 * for keys, the SPKI views point into in.
 */
ssize_t issuer_keys_parse(const uint8_t *in, size_t len, struct issuer_keys *out) UM_WARN_UNUSED;
ssize_t issuer_revocations_parse(const uint8_t *in, size_t len,
                                 struct issuer_revocations *out) UM_WARN_UNUSED;
/* Append the encoding, signature included: UM_ERR_INVALID for a broken rule, UM_ERR_TOO_LARGE
 * when w is full; nothing is left appended on failure. */
int issuer_keys_encode(const struct issuer_keys *d, struct wire_wr *w) UM_WARN_UNUSED;
int issuer_revocations_encode(const struct issuer_revocations *d, struct wire_wr *w) UM_WARN_UNUSED;
/* Set issuer to id's public key and sign (the rules are checked first: UM_ERR_INVALID). */
int issuer_keys_sign(struct issuer_keys *d, const struct keys_ed25519 *id) UM_WARN_UNUSED;
int issuer_revocations_sign(struct issuer_revocations *d,
                            const struct keys_ed25519 *id) UM_WARN_UNUSED;
/*
 * The whole check of a document fetched from the issuer whose identity we pin: parses with
 * no trailing bytes (MALFORMED / TRUNCATED), issuer == identity and the signature verifies
 * (UM_ERR_AUTH), published_s <= now_s + ISSUER_DOC_CLOCK_SKEW_S (UM_ERR_EXPIRED) and, for
 * revocations, now_s < expires_s (UM_ERR_EXPIRED). Monotonic seq is the caller's to enforce
 * (it alone knows the last one it accepted).
 */
int issuer_keys_parse_verify(const uint8_t *in, size_t len, const uint8_t identity[32],
                             uint64_t now_s, struct issuer_keys *out) UM_WARN_UNUSED;
int issuer_revocations_parse_verify(const uint8_t *in, size_t len, const uint8_t identity[32],
                                    uint64_t now_s, struct issuer_revocations *out) UM_WARN_UNUSED;

/* Whether revocations r refuse a token of (tier, epoch): epoch < min_token_epoch, or the key
 * is listed. */
bool issuer_revocations_refuse_epoch(const struct issuer_revocations *r, uint8_t tier,
                                     uint32_t epoch);
/* Whether r lists subject (identified tokens). */
bool issuer_revocations_refuse_subject(const struct issuer_revocations *r, const char *subject);

#endif /* UM_TRUST_ISSUER_DOC_H */
