/* SPDX-License-Identifier: MIT */
/*
 * Identified capability tokens (issue 5, PROTOCOL.md 18), pure: encode, parse, sign, verify.
 * An issuer grants a subject (an issuer subject id, PROTOCOL.md 17.2) a role ("provider":
 * advertise relays to directories; "access": identified tokens at exits, idtoken.h; "admin")
 * towards an audience ("directory", "exit"), for at most 7
 * days, bound to a proof-of-possession key the holder keeps:
 *
 *   captoken = version [1] = 1 | issuer [32] | sub (lv8) | aud (lv8) | role (lv8) | tier [1]
 *              | key_epoch [4] | iat [8] | exp [8] | jti [16] | pop_key [32] | sig [64]
 *   sig      = Ed25519(issuer, "umbra-captoken-v1" 0x00 | everything before sig)
 *   pop_sig  = Ed25519(pop_key, "umbra-cap-pop-v1" 0x00 | audience [32] | BLAKE2b-256(token) [32]
 *              | time [8] | digest [32])
 *
 * The proof of possession binds one use of the token to its audience's identity, a time and a
 * digest of the request body, so a token seen on the wire cannot be replayed elsewhere or with
 * another body. The verifier pins the issuer identity and holds that issuer's revocation feed
 * (issuer_doc.h): a token whose key_epoch is below the feed's min_token_epoch, or whose
 * subject the feed lists, is refused. Subject-request signatures (POST /v1/captokens) are here
 * too, so the issuer and the holder build the same bytes.
 */
#ifndef UM_TRUST_CAPTOKEN_H
#define UM_TRUST_CAPTOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/compiler.h"
#include "lib/wire.h"
#include "crypto/keys.h"
#include "trust/issuer.h"
#include "trust/issuer_doc.h"

enum captoken_limits {
	CAPTOKEN_VERSION = 1,
	CAPTOKEN_ID_LEN = 32,
	CAPTOKEN_SIG_LEN = 64,
	CAPTOKEN_JTI_LEN = 16,
	CAPTOKEN_HASH_LEN = 32,
	CAPTOKEN_AUD_MAX = 32,               /* 1..32 of [a-z0-9-] */
	CAPTOKEN_ROLE_MAX = 16,              /* "provider", "admin" or "access" */
	CAPTOKEN_LIFETIME_MAX_S = 7 * 86400, /* exp - iat */
	CAPTOKEN_SKEW_S = 300,               /* iat may be this far ahead; pop time within this */
	CAPTOKEN_MIN_LEN = 1 + 32 + 2 + 2 + 6 + 1 + 4 + 8 + 8 + 16 + 32 + 64, /* 176 */
	CAPTOKEN_MAX_LEN = 1 + 32 + (1 + ISSUER_ID_MAX_LEN) + (1 + CAPTOKEN_AUD_MAX) +
	                   (1 + CAPTOKEN_ROLE_MAX) + 1 + 4 + 8 + 8 + 16 + 32 + 64,
	CAPTOKEN_POP_MSG_LEN = 17 + 32 + 32 + 8 + 32,
	/* The request a subject signs for POST /v1/captokens. */
	CAPTOKEN_REQ_MSG_MAX =
	        22 + ISSUER_ID_MAX_LEN + 1 + CAPTOKEN_ROLE_MAX + 1 + CAPTOKEN_AUD_MAX + 1 + 8 + 32,
};

struct captoken {
	uint8_t version;
	uint8_t issuer[CAPTOKEN_ID_LEN];
	char sub[ISSUER_ID_MAX_LEN + 1];
	char aud[CAPTOKEN_AUD_MAX + 1];
	char role[CAPTOKEN_ROLE_MAX + 1];
	uint8_t tier; /* 1..15 */
	uint32_t key_epoch;
	uint64_t iat_s;
	uint64_t exp_s; /* iat < exp <= iat + CAPTOKEN_LIFETIME_MAX_S */
	uint8_t jti[CAPTOKEN_JTI_LEN];
	uint8_t pop_key[CAPTOKEN_ID_LEN];
	uint8_t sig[CAPTOKEN_SIG_LEN];
};

/* Why a token was refused (captoken_verify()); captoken_verdict_str() names it. */
enum captoken_verdict {
	CAPTOKEN_OK = 0,
	CAPTOKEN_MALFORMED,      /* does not parse, or trailing bytes */
	CAPTOKEN_UNKNOWN_ISSUER, /* not the pinned issuer */
	CAPTOKEN_BAD_SIG,        /* the issuer's signature does not verify */
	CAPTOKEN_EXPIRED,        /* now >= exp, or iat too far in the future */
	CAPTOKEN_WRONG_AUD,
	CAPTOKEN_WRONG_ROLE,
	CAPTOKEN_NO_FEED,   /* no revocation feed of the issuer is held (fail closed) */
	CAPTOKEN_OLD_EPOCH, /* key_epoch below the issuer's min_token_epoch */
	CAPTOKEN_REVOKED,   /* the subject is listed in the issuer's revocation feed */
	CAPTOKEN_BAD_POP,   /* the proof of possession does not verify */
	CAPTOKEN_POP_TIME,  /* the proof's time is more than CAPTOKEN_SKEW_S from now */
};
const char *captoken_verdict_str(enum captoken_verdict v);

/* 1..32 of [a-z0-9-]. */
bool captoken_aud_is_valid(const char *aud);
/* "provider", "admin" or "access". */
bool captoken_role_is_valid(const char *role);

/*
 * Parse one token at the start of in: bytes consumed, UM_ERR_TRUNCATED for a strict prefix of
 * a valid token, UM_ERR_MALFORMED for a broken rule (every field is checked as soon as it is
 * read). No signature or clock check. *out is written only on success.
 */
ssize_t captoken_parse(const uint8_t *in, size_t len, struct captoken *out) UM_WARN_UNUSED;
/* Append the encoding (sig included): UM_ERR_INVALID for a broken rule, UM_ERR_TOO_LARGE when
 * w is full; nothing is appended on failure. */
int captoken_encode(const struct captoken *t, struct wire_wr *w) UM_WARN_UNUSED;
/* Set t->version and t->issuer from id and sign t (UM_ERR_INVALID for a broken rule). */
int captoken_sign(struct captoken *t, const struct keys_ed25519 *id) UM_WARN_UNUSED;

/*
 * The proof of possession of the token (its bytes, token_len of them) for one request:
 *   pop_sig = Ed25519(pop_key, "umbra-cap-pop-v1" 0x00 | audience [32] | BLAKE2b-256(token)
 *                     | time [8] | digest [32])
 * The token's hash binds the proof to this token: a captured request cannot be replayed with
 * another token of the same key.
 */
void captoken_pop_sign(const struct keys_ed25519 *pop, const uint8_t *token, size_t token_len,
                       const uint8_t audience[CAPTOKEN_ID_LEN], uint64_t time_s,
                       const uint8_t digest[CAPTOKEN_HASH_LEN], uint8_t sig[CAPTOKEN_SIG_LEN]);

/* What a verifier expects of a token and its proof of possession. */
struct captoken_check {
	const uint8_t *issuer;                 /* pinned issuer identity [32] */
	const struct issuer_revocations *revs; /* that issuer's verified feed; NULL: NO_FEED */
	uint32_t min_epoch;                    /* e.g. the key list's min_token_epoch (0: none) */
	const char *aud;                       /* expected audience */
	const char *role;                      /* expected role */
	const uint8_t *audience_id;            /* our identity [32] (the pop context) */
	uint64_t pop_time_s;                   /* the request's time */
	const uint8_t *digest;                 /* BLAKE2b-256 of the request body [32] */
	const uint8_t *pop_sig;                /* [64] */
	uint64_t now_s;
};

/*
 * The whole check of a presented token, cheap checks first: parses exactly len bytes, issuer
 * pinned, version, iat <= now + skew and now < exp, aud, role, signature, key_epoch >= the
 * feed's (and c->min_epoch's) min_token_epoch, subject not listed in the feed, pop time within
 * the skew, pop_sig under pop_key, and the feed not past its expires (CAPTOKEN_NO_FEED: an
 * expired feed refuses what it lists but accepts nothing). CAPTOKEN_OK with *out (may be
 * NULL) filled, else why not.
 */
enum captoken_verdict captoken_verify(const uint8_t *in, size_t len, const struct captoken_check *c,
                                      struct captoken *out) UM_WARN_UNUSED;

/*
 * The message a subject signs to ask for a token (PROTOCOL.md 18.3):
 *   "umbra-captoken-req-v1" 0x00 | subject | 0x00 | role | 0x00 | aud | 0x00 | time [8] |
 *   pop_key [32]
 * msg has room for CAPTOKEN_REQ_MSG_MAX bytes; returns its length (0 for an argument that
 * breaks its rule).
 */
size_t captoken_req_msg(uint8_t msg[CAPTOKEN_REQ_MSG_MAX], const char *subject, const char *role,
                        const char *aud, uint64_t time_s, const uint8_t pop_key[CAPTOKEN_ID_LEN]);

#endif /* UM_TRUST_CAPTOKEN_H */
