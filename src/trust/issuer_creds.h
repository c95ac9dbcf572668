/* SPDX-License-Identifier: MIT */
/*
 * Subject credentials for identified token issuance (PROTOCOL.md 17.4), sans-I/O: the issuer
 * keeps one Ed25519 public key per subject (schema "issuer_creds" in its store, set by the
 * admin), and a request for tokens above tier 1 carries the subject id, the time and the
 * subject key's signature over
 *
 *   "umbra-issue-v1" 0x00 | subject | 0x00 | tier [1] | time [8] | BLAKE2b-256(blinded msgs)
 *
 * (the blinded messages concatenated in request order), so a signed request cannot be
 * replayed for other messages, another tier or, after 300 s, at all. The issuer still sees
 * only blinded messages: it learns who asked for how many tokens of which tier, never which
 * tokens they became.
 */
#ifndef UM_TRUST_ISSUER_CREDS_H
#define UM_TRUST_ISSUER_CREDS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "crypto/keys.h"
#include "store/store.h"

enum issuer_creds_limits {
	ISSUER_CREDS_SKEW_S = 300, /* |request time - now| allowed */
	ISSUER_CREDS_SIG_LEN = 64,
	ISSUER_CREDS_HASH_LEN = 32,
};

struct issuer_creds;

int issuer_creds_open(struct store *st, struct issuer_creds **out, char *why,
                      size_t why_len) UM_WARN_UNUSED;
void issuer_creds_free_(struct issuer_creds *c);
#define issuer_creds_free(c) UM_FREE_AND_NULL(issuer_creds_free_, c)

/* Record every key set in is's audit trail ("credential.set", actor "admin", the public key
 * in the detail), in the same transaction: is must live on c's store. NULL: no rows. */
struct issuer;
void issuer_creds_set_audit(struct issuer_creds *c, struct issuer *is);

/* Set (or replace) subject's public key; UM_ERR_INVALID for a bad subject id. */
int issuer_creds_set(struct issuer_creds *c, const char *subject, const uint8_t pk[32],
                     uint64_t now_s) UM_WARN_UNUSED;
/* UM_ERR_NOT_FOUND if the subject has no key. */
/*
 * Count n tokens against subject's quota of the UTC day of now_s (quota 0: no limit, counted
 * all the same), one transaction: UM_OK with *used the day's total now, or UM_ERR_RATELIMIT
 * (nothing counted; *used what the subject already had) when it would pass quota. Rows of
 * days before yesterday are deleted on the way.
 */
int issuer_creds_quota_take(struct issuer_creds *c, const char *subject, uint64_t now_s, uint32_t n,
                            uint32_t quota, uint64_t *used) UM_WARN_UNUSED;
int issuer_creds_get(struct issuer_creds *c, const char *subject, uint8_t pk[32]) UM_WARN_UNUSED;

/* The message a subject signs (both sides). blinded_hash = BLAKE2b-256 of the blinded
 * messages concatenated. msg has room for ISSUER_CREDS_MSG_MAX bytes; returns its length. */
enum { ISSUER_CREDS_MSG_MAX = 15 + 64 + 1 + 1 + 8 + ISSUER_CREDS_HASH_LEN };
size_t issuer_creds_msg(uint8_t msg[ISSUER_CREDS_MSG_MAX], const char *subject, uint8_t tier,
                        uint64_t time_s, const uint8_t blinded_hash[ISSUER_CREDS_HASH_LEN]);

/* Client side: sign the request with the subject's key. */
void issuer_creds_sign(const struct keys_ed25519 *key, const char *subject, uint8_t tier,
                       uint64_t time_s, const uint8_t blinded_hash[ISSUER_CREDS_HASH_LEN],
                       uint8_t sig[ISSUER_CREDS_SIG_LEN]);
/*
 * Issuer side: UM_OK when subject has a key and sig is its signature of the request at
 * time_s within ISSUER_CREDS_SKEW_S of now_s. UM_ERR_NOT_FOUND: no key for the subject;
 * UM_ERR_EXPIRED: the time is off; UM_ERR_AUTH: the signature does not verify.
 */
int issuer_creds_verify(struct issuer_creds *c, const char *subject, uint8_t tier, uint64_t time_s,
                        const uint8_t blinded_hash[ISSUER_CREDS_HASH_LEN],
                        const uint8_t sig[ISSUER_CREDS_SIG_LEN], uint64_t now_s) UM_WARN_UNUSED;

#endif /* UM_TRUST_ISSUER_CREDS_H */
