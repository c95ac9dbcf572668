/* SPDX-License-Identifier: MIT */
/*
 * Consensus diffs, sans-I/O (docs/PROTOCOL.md 5.7): what a directory sends a client that
 * already holds an older consensus, instead of the whole document (2.4 MB for 10,000
 * relays). Relay entries are sorted by identity in every consensus, so a diff is a merge
 * script over the old entries plus the new document's other bytes verbatim:
 *
 *   diff = version [1] = 1 | from [32] | to [32]
 *          | head_len [4] | head             (the new signed part before its relay count:
 *                                            header, params, authorities, issuer key lists)
 *          | n_ops [4] | op*
 *          | tail_len [4] | tail             (the new n_sigs and signatures)
 *   op   = 0x01 KEEP n [4]                   (copy the next n old entries)
 *        | 0x02 DROP n [4]                   (skip the next n old entries)
 *        | 0x03 ADD entry                    (one relay entry, its canonical encoding)
 *
 * from and to are consensus digests (BLAKE2b-256 of the signed part, the ETag). Applying
 * rebuilds the new document byte for byte, parses it as any consensus, and refuses it
 * unless its digest is `to`: a diff can only ever produce the document it names, whose
 * signatures the client then verifies as usual. Nothing in a diff is trusted. The issuer
 * key lists (dir_issuers.h) ride in head, verbatim, whether or not they changed: a few KB per
 * issuer, at most 8 of them, against one op per changed relay.
 */
#ifndef UM_DIRECTORY_CONSENSUS_DIFF_H
#define UM_DIRECTORY_CONSENSUS_DIFF_H

#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "directory/consensus.h"

enum consensus_diff_limits {
	CDIFF_VERSION = 1,
	CDIFF_OP_KEEP = 1,
	CDIFF_OP_DROP = 2,
	CDIFF_OP_ADD = 3,
	CDIFF_MAX_OPS = 2 * CONS_MAX_RELAYS + 1,
};

/*
 * A diff turning old into new (both parsed or computed, digests set; new_bytes is new's
 * full encoding). *out is malloc'd, the caller frees it. UM_ERR_INVALID when the inputs
 * are inconsistent (new_bytes not new's encoding).
 */
int consensus_diff_make(const struct consensus *old, const struct consensus *new_c,
                        const uint8_t *new_bytes, size_t new_len, uint8_t **out,
                        size_t *out_len) UM_WARN_UNUSED;

/*
 * Apply diff to old: on success *out is the new consensus (parsed, owning its relays;
 * consensus_clear() it) and *bytes and *out_len its encoding (malloc'd). UM_ERR_MALFORMED for a
 * diff that is not well formed, does not fit old (its `from` is not old's digest, ops
 * overrun or leave old entries unconsumed), or does not produce its `to`;
 * UM_ERR_TRUNCATED for a strict prefix. Nothing is allocated on error.
 */
int consensus_diff_apply(const struct consensus *old, const uint8_t *diff, size_t len,
                         struct consensus *out, uint8_t **bytes, size_t *out_len) UM_WARN_UNUSED;

/* The `from` and `to` digests of a diff without applying it (UM_ERR_TRUNCATED if short). */
int consensus_diff_peek(const uint8_t *diff, size_t len, uint8_t from[DIR_DIGEST_LEN],
                        uint8_t to[DIR_DIGEST_LEN]) UM_WARN_UNUSED;

#endif /* UM_DIRECTORY_CONSENSUS_DIFF_H */
