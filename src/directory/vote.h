/* SPDX-License-Identifier: MIT */
/*
 * Directory votes, sans-I/O (docs/PROTOCOL.md 5.3): what one authority believes about the
 * network for one voting period, signed with its current signing key:
 *
 *   vote = version [1] | authcert [145] | valid_after [8] | fresh_until [8] | valid_until [8]
 *          | params | issuers | n_relays [4] | relay entries (ascending identity) | sig [64]
 *   sig  = Ed25519(signing key of authcert, "umbra-vote-v1" 0x00 | vote without sig)
 *
 * The encoding is canonical. Votes travel between authorities only; consensus_compute()
 * (consensus.h) turns a quorum of them into the consensus. `issuers` (dir_issuers.h) holds the
 * issuer key lists this authority fetched and verified. A parsed vote owns its relay array
 * and issuer blobs; release them with vote_clear().
 */
#ifndef UM_DIRECTORY_VOTE_H
#define UM_DIRECTORY_VOTE_H

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

enum vote_limits {
	VOTE_VERSION = 1,
	VOTE_LABEL_LEN = 14, /* "umbra-vote-v1" and its NUL */
	VOTE_SIG_LEN = 64,
	VOTE_HEADER_LEN = 1 + AUTHCERT_LEN + 3 * 8,
	VOTE_MIN_LEN = VOTE_HEADER_LEN + 1 + DIR_ISSUERS_MIN_LEN + 4 + VOTE_SIG_LEN,
	VOTE_MAX_LEN = VOTE_HEADER_LEN + DIR_PARAMS_MAX_LEN + DIR_ISSUERS_MAX_LEN + 4 +
	               CONS_MAX_RELAYS * RELAY_ENTRY_MAX_LEN + VOTE_SIG_LEN,
};

struct vote {
	uint8_t version;       /* VOTE_VERSION */
	struct auth_cert cert; /* the voter's certificate for the key that signs this vote */
	uint64_t valid_after_s, fresh_until_s, valid_until_s; /* the period voted on */
	struct dir_params params;
	struct dir_issuers issuers; /* owned blobs; free()d by vote_clear() */
	size_t n_relays;
	struct relay_entry *relays; /* owned; ascending identity; free()d by vote_clear() */
	uint8_t sig[VOTE_SIG_LEN];
};

/* vote_parse.c */

/*
 * Parse one vote. Returns the bytes consumed, UM_ERR_TRUNCATED (every strict prefix of a
 * valid vote) or UM_ERR_MALFORMED. On success *out (whose previous contents are not freed)
 * owns a new relay array and issuer blobs; on error nothing is allocated and *out is
 * untouched. No signature
 * or clock check: vote_parse_verify().
 */
ssize_t vote_parse(const uint8_t *in, size_t len, struct vote *out) UM_WARN_UNUSED;
/* Exact encoded length (0 if a count is over its limit). */
size_t vote_encoded_len(const struct vote *v);
/*
 * Append the canonical encoding of v (signature included). UM_ERR_INVALID for a broken rule
 * (nothing appended), UM_ERR_TOO_LARGE when w is full.
 */
int vote_encode(const struct vote *v, struct wire_wr *w) UM_WARN_UNUSED;

/* vote.c */

void vote_init(struct vote *v);
/* Free the relay array and issuer blobs and zero v; NULL-safe, and v may be cleared twice. */
void vote_clear(struct vote *v);
/* Encode into a new buffer of exactly *len bytes; the caller frees *out with free(). */
int vote_encode_new(const struct vote *v, uint8_t **out, size_t *len) UM_WARN_UNUSED;
/* Sort v's relays by identity; UM_ERR_INVALID on a duplicate identity. */
int vote_sort_relays(struct vote *v) UM_WARN_UNUSED;
/*
 * Sign v with signing (its public key must be v->cert.signing_key, else UM_ERR_INVALID):
 * fills v->sig. UM_ERR_INVALID as well if v breaks a rule of the format.
 */
int vote_sign(struct vote *v, const struct keys_ed25519 *signing) UM_WARN_UNUSED;
/*
 * Check v at now_s: UM_ERR_EXPIRED when now_s >= valid_until_s or the certificate is not
 * valid at now_s, UM_ERR_AUTH when the certificate or the vote signature does not verify,
 * UM_ERR_INVALID when v does not encode.
 */
int vote_verify(const struct vote *v, uint64_t now_s) UM_WARN_UNUSED;
/*
 * The whole-message entry point: parse in, refuse trailing bytes (UM_ERR_TRAILING) and
 * inputs over VOTE_MAX_LEN (UM_ERR_TOO_LARGE), verify at now_s as vote_verify() does.
 * *out is written (and owns its relays) only on UM_OK.
 */
int vote_parse_verify(const uint8_t *in, size_t len, uint64_t now_s,
                      struct vote *out) UM_WARN_UNUSED;

#endif /* UM_DIRECTORY_VOTE_H */
