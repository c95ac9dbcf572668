/* SPDX-License-Identifier: MIT */
/*
 * Admin capability tokens on the issuer's admin HTTP API (issue 5, PROTOCOL.md 18.6,
 * docs/ISSUER.md "Admin capability tokens"), sans-I/O. Besides the shared bearer token, a
 * request to /v1/admin/ may carry
 *
 *   Authorization: UmbraCap <base64 captoken>.<base64 pop_sig>.<time>
 *
 * where captoken is a capability token (captoken.h) of role "admin", aud "issuer-admin",
 * issued by this issuer, and pop_sig its proof of possession over (this issuer's identity,
 * time, BLAKE2b-256("METHOD TARGET\n" | body)): a captured header is good for that one
 * method, target and body only, for at most 300 s, and only once (a bounded replay cache of
 * the requests accepted in the last 10 minutes). The subject must still hold the admin role
 * and not be revoked when the request arrives (the issuer's own tables, not the feed). The
 * audit actor of such a request is the token's subject.
 *
 * Threading: the loop thread, like the issuer.
 */
#ifndef UM_TRUST_ISSUER_ADMIN_CAP_H
#define UM_TRUST_ISSUER_ADMIN_CAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "trust/captoken.h"
#include "trust/issuer.h"
#include "trust/issuer_keys.h"

#define ISSUER_ADMIN_CAP_AUD    "issuer-admin"
#define ISSUER_ADMIN_CAP_SCHEME "UmbraCap"

enum issuer_admin_cap_limits {
	ISSUER_ADMIN_CAP_HEADER_MAX = 1024, /* the whole Authorization value */
	ISSUER_ADMIN_CAP_TIME_DIGITS = 19,  /* time: 1..19 decimal digits, <= 2^63-1 */
	ISSUER_ADMIN_CAP_REPLAY_MAX = 1024, /* requests remembered (each for 601 s at most) */
	ISSUER_ADMIN_CAP_REPLAY_KEY = 16,
};

/* A parsed UmbraCap credential (no check but its syntax). */
struct issuer_cap_header {
	uint8_t token[CAPTOKEN_MAX_LEN];
	size_t token_len;
	uint8_t pop_sig[CAPTOKEN_SIG_LEN];
	uint64_t time_s;
};

/* Whether h (an Authorization value, may be NULL) uses the UmbraCap scheme (case-insensitive,
 * then a space or tab). */
bool issuer_cap_header_is_cap(const char *h);
/*
 * Parse "UmbraCap" 1*(SP|TAB) token_b64 "." sig_b64 "." time [*(SP|TAB)]: base64 is RFC 4648
 * with padding; token 1..CAPTOKEN_MAX_LEN bytes, sig exactly 64; time 1..19 digits without
 * sign or leading zero (but "0"), at most 2^63-1. UM_OK with *out filled, else
 * UM_ERR_MALFORMED (*out unspecified).
 */
int issuer_cap_header_parse(const char *h, struct issuer_cap_header *out) UM_WARN_UNUSED;

/* The request digest the proof of possession covers: BLAKE2b-256 of method, one space, the
 * request target as sent (path and query), "\n", then the body. */
void issuer_cap_digest(uint8_t out[CAPTOKEN_HASH_LEN], const char *method, const char *target,
                       const uint8_t *body, size_t len);

/* Build the header value for (token, pop key) over one request, NUL-terminated in out (room
 * for ISSUER_ADMIN_CAP_HEADER_MAX + 1). UM_ERR_TOO_LARGE or UM_ERR_INVALID otherwise. */
int issuer_cap_header_make(char *out, size_t out_len, const uint8_t *token, size_t token_len,
                           const struct keys_ed25519 *pop, const uint8_t issuer_id[CAPTOKEN_ID_LEN],
                           const char *method, const char *target, const uint8_t *body, size_t len,
                           uint64_t time_s) UM_WARN_UNUSED;

struct issuer_admin_cap;

/*
 * A verifier for this issuer: issuer_id is its identity (copied), keys (borrowed, may be
 * NULL) gives the min_token_epoch tokens must reach. The caller owns the result and frees it
 * with issuer_admin_cap_free().
 */
struct issuer_admin_cap *issuer_admin_cap_new(const uint8_t issuer_id[CAPTOKEN_ID_LEN],
                                              const struct issuer_keyring *keys);
void issuer_admin_cap_free_(struct issuer_admin_cap *c);
#define issuer_admin_cap_free(p) UM_FREE_AND_NULL(issuer_admin_cap_free_, p)

/*
 * Accept UmbraCap on is's admin API from now on (c borrowed: must outlive is or be unset with
 * NULL before it is freed). Without it, UmbraCap is refused with 401.
 */
void issuer_set_admin_cap(struct issuer *is, struct issuer_admin_cap *c);

/*
 * The whole check of an UmbraCap header on one request at now_s: 0 with subject filled (the
 * audit actor), else the HTTP status to reply (401: malformed, not this issuer's, bad
 * signature, expired, wrong aud or role, retired key epoch, bad proof, time more than 300 s
 * off, replayed; 403: the subject is revoked or no longer holds the admin role; 503: store
 * error or the replay cache is full of live entries) and *why a static reason. Cheap checks
 * first; a request is remembered against replay only once everything else passed.
 */
int issuer_admin_cap_check(struct issuer_admin_cap *c, struct issuer *is, const char *header,
                           const char *method, const char *target, const uint8_t *body, size_t len,
                           uint64_t now_s, char subject[ISSUER_ID_MAX_LEN + 1],
                           const char **why) UM_WARN_UNUSED;

#endif /* UM_TRUST_ISSUER_ADMIN_CAP_H */
