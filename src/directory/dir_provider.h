/* SPDX-License-Identifier: MIT */
/*
 * Provider relay upsert (issue 5, docs/PROTOCOL.md 18.4): a relay operator holding a provider
 * capability token (trust/captoken.h) advertises a relay to an authority with
 * POST /v1/provider/relay/upsert, and the authority records relay identity -> (issuer,
 * subject). With [directory] require_provider, only relays with a valid binding are accepted
 * and voted on; a binding whose subject the issuer later revokes drops the relay at the next
 * vote after the authority fetched the issuer's revocation feed.
 *
 *   upsert = version [1] = 1 | token_len [2] (1..DIR_PROVIDER_TOKEN_MAX) | token [token_len]
 *            | pop_sig [64] | time [8] | desc_len [2] (1..RELAY_DESC_MAX_LEN)
 *            | descriptor [desc_len]                                  (nothing after it)
 *   pop_sig = Ed25519(token's pop_key, "umbra-cap-pop-v1" 0x00 | authority identity [32]
 *                     | BLAKE2b-256(token) | time [8] | BLAKE2b-256(descriptor))
 *
 * The directory layer frames the request and stores bindings; the token is the trust
 * layer's format (trust/ is above directory/), so the application supplies the checks as
 * functions (dir_provider_verify_fn, dir_provider_check_fn), as it does for issuer key lists
 * (dir_issuers.h).
 */
#ifndef UM_DIRECTORY_DIR_PROVIDER_H
#define UM_DIRECTORY_DIR_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/compiler.h"
#include "lib/wire.h"
#include "directory/descriptor.h"
#include "directory/dir_issuers.h"

enum dir_provider_limits {
	DIR_PROVIDER_VERSION = 1,
	DIR_PROVIDER_TOKEN_MAX = 512, /* trust's CAPTOKEN_MAX_LEN (273) with room to grow */
	DIR_PROVIDER_SIG_LEN = 64,
	DIR_PROVIDER_SUBJECT_MAX = 64, /* issuer subject ids */
	DIR_PROVIDER_MIN_LEN = 1 + 2 + 1 + 64 + 8 + 2 + 1,
	DIR_PROVIDER_MAX_LEN = 1 + 2 + DIR_PROVIDER_TOKEN_MAX + 64 + 8 + 2 + RELAY_DESC_MAX_LEN,
};

/* A parsed upsert: views into the parsed input. */
struct dir_provider_upsert {
	uint8_t version;
	const uint8_t *token;
	size_t token_len;
	uint8_t pop_sig[DIR_PROVIDER_SIG_LEN];
	uint64_t time_s;
	const uint8_t *desc;
	size_t desc_len;
};

/* What an authority records for a relay (and what the check functions see). */
struct dir_provider_binding {
	uint8_t issuer[DIR_ISSUER_ID_LEN];
	char subject[DIR_PROVIDER_SUBJECT_MAX + 1];
	uint32_t key_epoch; /* the token's: retired with the issuer's min_token_epoch */
	uint64_t expires_s; /* the token's exp: the binding lapses then unless renewed */
	uint8_t pop_key[32];
};

/*
 * Verify a presented token and its proof of possession for this authority (audience its
 * identity), the request's time and the descriptor's digest: UM_OK with *out filled, or
 * UM_ERR_STATE when the token cannot be judged yet (no revocation feed of its issuer held),
 * any other error for a refusal; *reason (static text) says why.
 */
typedef int dir_provider_verify_fn(void *arg, const uint8_t *token, size_t len,
                                   const uint8_t audience[DIR_ISSUER_ID_LEN], uint64_t time_s,
                                   const uint8_t digest[32], const uint8_t pop_sig[64],
                                   uint64_t now_s, struct dir_provider_binding *out,
                                   const char **reason);
/* Whether a stored binding still holds at now_s against the issuer's current revocation feed
 * (subject not revoked, key_epoch not retired); false when no feed is held. */
typedef bool dir_provider_check_fn(void *arg, const struct dir_provider_binding *b, uint64_t now_s);
/* Take the body of GET <issuer>/v1/revocations fetched from the configured issuer identity:
 * UM_OK when it verified and is now the one held (the newest seq wins), else why not. */
typedef int dir_provider_feed_fn(void *arg, const uint8_t identity[DIR_ISSUER_ID_LEN],
                                 const uint8_t *doc, size_t len, uint64_t now_s, uint64_t *seq);

/* dir_provider_parse.c */

/*
 * Parse an upsert body: bytes consumed (always len: trailing bytes are MALFORMED),
 * UM_ERR_TRUNCATED for a strict prefix, UM_ERR_MALFORMED for a broken rule (a length out of
 * its range is refused as soon as it is read). *out is written only on success.
 */
ssize_t dir_provider_upsert_parse(const uint8_t *in, size_t len,
                                  struct dir_provider_upsert *out) UM_WARN_UNUSED;
/* Append the encoding of u: UM_ERR_INVALID for a broken rule, UM_ERR_TOO_LARGE when w is full
 * (nothing appended on failure). */
int dir_provider_upsert_encode(const struct dir_provider_upsert *u,
                               struct wire_wr *w) UM_WARN_UNUSED;

#endif /* UM_DIRECTORY_DIR_PROVIDER_H */
