/* SPDX-License-Identifier: MIT */
/*
 * The directory consensus, sans-I/O (docs/PROTOCOL.md 5.4-5.6): computed deterministically
 * by every authority from a quorum of votes, then cross-signed; clients accept it with a
 * threshold of valid signatures from their pinned authority identities.
 *
 *   consensus   = signed part | n_sigs [1] | { identity [32] | signing_key [32] | sig [64] }*
 *   signed part = version [1] | valid_after [8] | fresh_until [8] | valid_until [8] | params
 *                 | n_auths [1] | authcert* (ascending identity) | issuers | n_relays [4]
 *                 | entries
 *   digest      = BLAKE2b-256(signed part)           (the ETag; what every authority signs)
 *   sig         = Ed25519(signing key, "umbra-consensus-v1" 0x00 | digest)
 *
 * Signatures are kept sorted by (identity, signing key), so adding them in any order gives
 * the same bytes. Parsing never checks a signature: a consensus with some bad signatures
 * still parses, and consensus_verify() counts the good ones.
 *
 * Flow on an authority: votes in -> consensus_compute() -> consensus_sign() with its own key
 * -> exchange detached signatures (struct cons_sig) -> consensus_add_sig() for each ->
 * consensus_encode_new() -> serve. On a client: consensus_parse() -> consensus_verify().
 * A parsed or computed consensus owns its relay array and issuer blobs; release them with
 * consensus_clear().
 *
 * Issuer key lists (dir_issuers.h) are opaque here: a consensus says which blob a majority
 * of the authorities voted for each issuer, not that it is genuine. A consumer (exit, client)
 * takes the blob of an issuer it trusts (consensus_issuer_find()) and checks it against that
 * issuer's identity itself (trust/issuer_doc.h: issuer_keys_parse_verify()).
 */
#ifndef UM_DIRECTORY_CONSENSUS_H
#define UM_DIRECTORY_CONSENSUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/compiler.h"
#include "lib/wire.h"
#include "crypto/keys.h"
#include "directory/authority.h"
#include "directory/dir_issuers.h"
#include "directory/relay_entry.h"
#include "directory/vote.h"

enum consensus_doc_limits {
	CONS_VERSION = 1,
	CONS_LABEL_LEN = 19, /* "umbra-consensus-v1" and its NUL */
	CONS_SIG_ENTRY_LEN = 32 + 32 + 64,
	CONS_HEADER_LEN = 1 + 3 * 8,
	CONS_MIN_LEN = CONS_HEADER_LEN + 1 + 1 + AUTHCERT_LEN + DIR_ISSUERS_MIN_LEN + 4 + 1,
	CONS_MAX_LEN = CONS_HEADER_LEN + DIR_PARAMS_MAX_LEN + 1 +
	               CONS_MAX_AUTHORITIES * AUTHCERT_LEN + DIR_ISSUERS_MAX_LEN + 4 +
	               CONS_MAX_RELAYS * RELAY_ENTRY_MAX_LEN + 1 +
	               CONS_MAX_SIGS * CONS_SIG_ENTRY_LEN,
};

/* One authority's detached signature of a consensus digest. */
struct cons_sig {
	uint8_t identity[AUTHCERT_ID_LEN];    /* the authority's long-term identity */
	uint8_t signing_key[AUTHCERT_ID_LEN]; /* the key that made sig (certified by identity) */
	uint8_t sig[64];
};

struct consensus {
	uint8_t version; /* CONS_VERSION */
	uint64_t valid_after_s, fresh_until_s, valid_until_s;
	struct dir_params params;
	uint8_t n_auths; /* the voters, 1..CONS_MAX_AUTHORITIES, ascending identity */
	struct auth_cert auths[CONS_MAX_AUTHORITIES];
	struct dir_issuers issuers; /* owned blobs; free()d by consensus_clear() */
	size_t n_relays;
	struct relay_entry *relays; /* owned; ascending identity; free()d by consensus_clear() */
	uint8_t n_sigs;             /* ascending (identity, signing_key), distinct */
	struct cons_sig sigs[CONS_MAX_SIGS];
	/* Set by consensus_parse(), consensus_compute() and consensus_update_digest(). */
	size_t signed_len;
	uint8_t digest[DIR_DIGEST_LEN];
};

/* consensus_parse.c */

/*
 * Parse one consensus and hash its signed part into out->digest. Returns the bytes
 * consumed, UM_ERR_TRUNCATED (every strict prefix) or UM_ERR_MALFORMED. On success *out
 * (whose previous contents are not freed) owns a new relay array and issuer blobs; on error
 * nothing is allocated and *out is untouched. Signatures and the clock: consensus_verify().
 */
ssize_t consensus_parse(const uint8_t *in, size_t len, struct consensus *out) UM_WARN_UNUSED;
/* Exact encoded lengths of the signed part and of the whole document (0: a count over limit). */
size_t consensus_signed_len(const struct consensus *c);
size_t consensus_encoded_len(const struct consensus *c);
/* Append the signed part only / the whole document. UM_ERR_INVALID for a broken rule. */
int consensus_encode_signed(const struct consensus *c, struct wire_wr *w) UM_WARN_UNUSED;
int consensus_encode(const struct consensus *c, struct wire_wr *w) UM_WARN_UNUSED;

/* consensus.c */

void consensus_init(struct consensus *c);
/* Free the relay array and issuer blobs and zero c; NULL-safe, and c may be cleared twice. */
void consensus_clear(struct consensus *c);
/* Encode the whole document into a new buffer of *len bytes; the caller frees it. */
int consensus_encode_new(const struct consensus *c, uint8_t **out, size_t *len) UM_WARN_UNUSED;
/* Recompute c->digest and c->signed_len from the fields (after building c by hand). */
int consensus_update_digest(struct consensus *c) UM_WARN_UNUSED;
/*
 * Sign c->digest with signing, certified by cert (signing's public key must be
 * cert->signing_key): inserts the signature in order, replacing one by the same
 * (identity, key). UM_ERR_TOO_LARGE when CONS_MAX_SIGS are there already.
 */
int consensus_sign(struct consensus *c, const struct auth_cert *cert,
                   const struct keys_ed25519 *signing) UM_WARN_UNUSED;
/* Insert a detached signature (from another authority) in order; same rules as above. */
int consensus_add_sig(struct consensus *c, const struct cons_sig *s) UM_WARN_UNUSED;

/*
 * The issuer key lists of c (PROTOCOL.md 5.8), for exits and clients: each is an issuer's
 * signed key list exactly as the issuer signed it, unverified. Check it yourself against the
 * identity you trust (trust/issuer_doc.h: issuer_keys_parse_verify(doc, len, identity, now,
 * &keys)) before using a key. Views into c, valid until it is cleared.
 */
size_t consensus_n_issuers(const struct consensus *c);
/* The i-th issuer (ascending identity): UM_OK, or UM_ERR_NOT_FOUND when i is past the end
 * (out-params zeroed). identity may be NULL. */
int consensus_issuer(const struct consensus *c, size_t i, const uint8_t **identity,
                     const uint8_t **doc, size_t *len) UM_WARN_UNUSED;
/* The key list of the issuer `identity`: UM_OK, or UM_ERR_NOT_FOUND (out-params zeroed). */
int consensus_issuer_find(const struct consensus *c, const uint8_t identity[DIR_ISSUER_ID_LEN],
                          const uint8_t **doc, size_t *len) UM_WARN_UNUSED;

/*
 * Compute the consensus for the period (valid_after, fresh_until, valid_until) from votes
 * (already verified with vote_parse_verify(); votes for another period are ignored).
 *   - quorum: more than n_authorities_total / 2 votes for the period, else UM_ERR_STATE
 *     (a split yields no new consensus: clients keep the last valid one);
 *   - a relay is in iff more than half of the voters list it;
 *   - each flag is set iff more than half of the voters listing the relay set it, then
 *     masked by the roles of the chosen descriptor (relay_entry_mask_flags());
 *   - measured bandwidth, geo confidence and each score: the lower median of the voters
 *     listing the relay (sorted values v[0..k-1], v[(k-1)/2]);
 *   - the other fields come from the descriptor digest listed by most voters (tie: the
 *     bytewise greatest digest), as listed by the lowest-identity voter listing it;
 *   - a parameter is in iff more than half of the voters set it; its value is the lower
 *     median of the values set;
 *   - an issuer is in iff more than half of the voters list a key list for it; its key list
 *     is the blob (compared by digest) most of those voters list, ties to the bytewise
 *     greatest digest; at most DIR_MAX_ISSUERS: if more qualify, those listed by the most
 *     voters, ties to the lowest identity.
 * The result depends only on the set of votes, never on their order. UM_ERR_INVALID for a
 * bad argument or two votes from one authority; UM_ERR_TOO_LARGE over CONS_MAX_RELAYS.
 * *out is written (unsigned, digest set, owning its relays and blobs) only on UM_OK.
 */
int consensus_compute(const struct vote *const *votes, size_t n_votes, size_t n_authorities_total,
                      uint64_t valid_after_s, uint64_t fresh_until_s, uint64_t valid_until_s,
                      struct consensus *out) UM_WARN_UNUSED;

/* consensus_verify.c */

/* The authorities a client trusts (its pins), and certificates it has cached. */
struct pinned_authorities {
	size_t n; /* 1..CONS_MAX_AUTHORITIES, distinct */
	uint8_t ids[CONS_MAX_AUTHORITIES][AUTHCERT_ID_LEN];
	/* Optional: published certificates (e.g. of previous signing keys) from
	 * GET /v1/authorities, tried after those in the consensus. Borrowed. */
	const struct auth_cert *certs;
	size_t n_certs;
};

/* Per pinned authority, why it counts or not (worst failure when it signed several times). */
enum cons_auth_status {
	CONS_AUTH_SIGNED = 0,       /* a valid signature by a valid certified key */
	CONS_AUTH_NO_SIG = 1,       /* no signature by this authority */
	CONS_AUTH_NO_CERT = 2,      /* signed with a key we have no certificate for */
	CONS_AUTH_CERT_INVALID = 3, /* the certificate's own signature does not verify */
	CONS_AUTH_CERT_EXPIRED = 4, /* the signing key's certificate is not valid now */
	CONS_AUTH_BAD_SIG = 5,      /* the signature over the digest does not verify */
};

enum cons_time_status {
	CONS_TIME_OK = 0,
	CONS_TIME_EXPIRED = 1, /* now >= valid_until */
	CONS_TIME_NOT_YET = 2, /* valid_after > now + CONS_CLOCK_SKEW_S (future-dated) */
};

struct consensus_verify_result {
	enum cons_time_status time;
	size_t threshold;       /* the threshold applied */
	size_t n_signed;        /* distinct pinned authorities with a valid signature */
	size_t n_unpinned_sigs; /* signatures by identities not pinned (ignored) */
	size_t n_pins;
	struct {
		uint8_t identity[AUTHCERT_ID_LEN];
		enum cons_auth_status status;
	} auth[CONS_MAX_AUTHORITIES]; /* in pin order */
};

const char *cons_auth_status_str(enum cons_auth_status s);

/*
 * Decide whether a client accepts c at now_s. signed_part_digest is the BLAKE2b-256 of the
 * signed part as received (c->digest after consensus_parse()). threshold 0 means the
 * default floor(pins->n / 2) + 1. Returns:
 *   UM_OK           at least threshold distinct pinned authorities signed validly;
 *   UM_ERR_EXPIRED  now_s >= valid_until or valid_after > now_s + CONS_CLOCK_SKEW_S
 *                   (res->time says which); no signature is checked then;
 *   UM_ERR_AUTH     too few valid signatures (res->auth[] says why for each pin);
 *   UM_ERR_INVALID  no pins, duplicate pins, or threshold over the number of pins.
 * res is always filled.
 */
int consensus_verify(const struct consensus *c, const uint8_t signed_part_digest[DIR_DIGEST_LEN],
                     const struct pinned_authorities *pins, size_t threshold, uint64_t now_s,
                     struct consensus_verify_result *res) UM_WARN_UNUSED;

#endif /* UM_DIRECTORY_CONSENSUS_H */
