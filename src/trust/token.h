/* SPDX-License-Identifier: MIT */
/*
 * Anonymous tier tokens as spent at an exit (docs/PROTOCOL.md section 16): the wire format,
 * the message the issuer blind-signs, and verification against the issuer's published
 * per-(tier, epoch) key. Sans-I/O; nothing here logs.
 *
 *   token = version [1] = 1 | tier [1] (1..15) | key_epoch [4] | key_id [32] | nonce [32]
 *           | sig_len [2] (= kLen of the key, 256..512) | sig [sig_len]
 *
 *   message   = "umbra token v1" | tier [1] | key_epoch [4] | key_id [32] | nonce [32]
 *   input_msg = nonce | message    (RFC 9474 RSABSSA-SHA384-PSS-Randomized: the client's
 *                                   random nonce is the 32-byte msg_prefix of Prepare)
 *   sig       = RSASSA-PSS(SHA-384, MGF1-SHA-384, salt 48) over input_msg, key_id's key
 *
 * key_id is BLAKE2b-256 of the key's DER SubjectPublicKeyInfo (blindrsa_key_id()).
 *
 * Issuance (the issuer never sees nonce, message or sig):
 *   client: token_prepare(); token_input(); blindrsa_blind() -> blinded_msg, inv
 *   issuer: blindrsa_blind_sign(blinded_msg) -> blind_sig
 *   client: blindrsa_finalize(blind_sig, inv) -> sig, stored in the token
 */
#ifndef UM_TRUST_TOKEN_H
#define UM_TRUST_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/wire.h"
#include "crypto/blindrsa.h"

#define TOKEN_LABEL "umbra token v1"

enum token_limits {
	TOKEN_VERSION = 1,
	TOKEN_TIER_MIN = 1,
	TOKEN_TIER_MAX = 15,
	TOKEN_KEY_ID_LEN = BLINDRSA_KEY_ID_LEN,    /* 32 */
	TOKEN_NONCE_LEN = BLINDRSA_PREFIX_LEN,     /* 32: also the RFC 9474 msg_prefix */
	TOKEN_SIG_MIN = BLINDRSA_MIN_LEN,          /* 256: a 2048-bit key */
	TOKEN_SIG_MAX = BLINDRSA_MAX_LEN,          /* 512: a 4096-bit key */
	TOKEN_LABEL_LEN = sizeof(TOKEN_LABEL) - 1, /* 14 */
	TOKEN_HEADER_LEN = 1 + 1 + 4 + TOKEN_KEY_ID_LEN + TOKEN_NONCE_LEN + 2,        /* 72 */
	TOKEN_MIN_LEN = TOKEN_HEADER_LEN + TOKEN_SIG_MIN,                             /* 328 */
	TOKEN_MAX_LEN = TOKEN_HEADER_LEN + TOKEN_SIG_MAX,                             /* 584 */
	TOKEN_MSG_LEN = TOKEN_LABEL_LEN + 1 + 4 + TOKEN_KEY_ID_LEN + TOKEN_NONCE_LEN, /* 83 */
	TOKEN_INPUT_LEN = TOKEN_NONCE_LEN + TOKEN_MSG_LEN,                            /* 115 */
};

/* The RFC 9474 variant of every version-1 token. */
#define TOKEN_VARIANT BLINDRSA_PSS_RANDOMIZED

/* A decoded token (plain data, copies only; nothing to free). */
struct token {
	uint8_t version;
	uint8_t tier;
	uint32_t key_epoch;
	uint8_t key_id[TOKEN_KEY_ID_LEN];
	uint8_t nonce[TOKEN_NONCE_LEN];
	uint16_t sig_len;
	uint8_t sig[TOKEN_SIG_MAX]; /* sig_len bytes used */
};

/*
 * Parse exactly len bytes as a token. UM_ERR_TRUNCATED if the input ends early,
 * UM_ERR_MALFORMED for a version other than 1, a tier outside 1..15 or a sig_len outside
 * 256..512 (checked as soon as read), UM_ERR_TRAILING for bytes after sig. *out is written
 * only on success. Does not verify the signature (token_verify()).
 */
int token_parse(const uint8_t *in, size_t len, struct token *out) UM_WARN_UNUSED;
/*
 * Append t's encoding (TOKEN_HEADER_LEN + sig_len bytes) to w. UM_ERR_INVALID if t breaks a
 * rule token_parse() checks; UM_ERR_TOO_LARGE if w has no room (nothing written then).
 */
int token_encode(const struct token *t, struct wire_wr *w) UM_WARN_UNUSED;

/* Write the signed message: "umbra token v1" | tier | key_epoch | key_id | nonce. */
void token_message(const struct token *t, uint8_t out[TOKEN_MSG_LEN]);
/* Write RFC 9474's input_msg for t: nonce | token_message(t). */
void token_input(const struct token *t, uint8_t out[TOKEN_INPUT_LEN]);

/*
 * Client, before issuance: fill t for the issuer key pk of (tier, key_epoch) with version 1,
 * pk's key_id, a fresh random nonce and sig_len = kLen (sig zeroed; the caller copies the
 * finalized signature in). UM_ERR_INVALID for a tier outside 1..15.
 */
int token_prepare(struct token *t, uint8_t tier, uint32_t key_epoch,
                  const struct blindrsa_key *pk) UM_WARN_UNUSED;

/*
 * Verify t against pk, the issuer's published key for (tier, key_epoch): t must be version 1
 * (UM_ERR_MALFORMED), carry that tier and epoch and pk's key_id, have sig_len equal to pk's
 * kLen, and its signature must verify over token_input(t) (UM_ERR_AUTH for any of these).
 * UM_OK only if all hold. Double-spending is the caller's business (the spent set).
 */
int token_verify(const struct token *t, const struct blindrsa_key *pk, uint8_t tier,
                 uint32_t key_epoch) UM_WARN_UNUSED;

#endif /* UM_TRUST_TOKEN_H */
