/* SPDX-License-Identifier: MIT */
/*
 * The issuer-keys section of votes and consensuses (docs/PROTOCOL.md 5.2, 5.8): per issuer
 * identity, the issuer's signed key list (its blind-RSA public keys per (tier, epoch), the
 * document it serves at GET /v1/pubkeys), so every client and exit reads the same keys from
 * the consensus.
 *
 *   issuers = n [1] (<= DIR_MAX_ISSUERS)
 *             | { identity [32] | doc_len [4] (1..DIR_ISSUER_DOC_MAX_LEN) | doc [doc_len] } * n
 *             identities strictly ascending (bytewise), so distinct
 *
 * The directory layer carries each key list as an opaque, size-capped blob: key lists are
 * the trust layer's format (trust/issuer_doc.h), and trust/ sits above directory/ in the
 * module order, so nothing here parses one. Whoever must know a blob is genuine checks it
 * itself against an issuer identity it trusts: an authority before voting on it, through
 * the dir_issuer_verify_fn its application supplies (trust's issuer_keys_parse_verify), and
 * a client or exit when it reads the consensus (consensus_issuer_find()). Parsed sections
 * own copies of their blobs; release them with dir_issuers_clear().
 */
#ifndef UM_DIRECTORY_DIR_ISSUERS_H
#define UM_DIRECTORY_DIR_ISSUERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/wire.h"

enum dir_issuer_limits {
	DIR_ISSUER_ID_LEN = 32,     /* the issuer's Ed25519 identity */
	DIR_ISSUER_DIGEST_LEN = 32, /* BLAKE2b-256 of a blob: how voters' blobs are compared */
	DIR_MAX_ISSUERS = 8,
	/* ISSUER_KEYS_MAX_LEN of trust/issuer_doc.h (64 keys of RSA-8192 SPKI at most); the
	 * application checks the two stay equal (a _Static_assert in app/dir_node.c). */
	DIR_ISSUER_DOC_MAX_LEN = 71482,
	DIR_ISSUERS_MIN_LEN = 1,
	DIR_ISSUERS_MAX_LEN =
	        1 + DIR_MAX_ISSUERS * (DIR_ISSUER_ID_LEN + 4 + DIR_ISSUER_DOC_MAX_LEN),
};

struct dir_issuer {
	uint8_t identity[DIR_ISSUER_ID_LEN];
	uint8_t digest[DIR_ISSUER_DIGEST_LEN]; /* BLAKE2b-256(doc), set by parse and set */
	size_t len;                            /* 1..DIR_ISSUER_DOC_MAX_LEN */
	uint8_t *doc;                          /* owned; free()d by dir_issuers_clear() */
};

struct dir_issuers {
	uint8_t n; /* 0..DIR_MAX_ISSUERS, ascending identity */
	struct dir_issuer v[DIR_MAX_ISSUERS];
};

/*
 * Check doc, a key list claimed to come from the issuer `identity`, at now_s: UM_OK with
 * *seq its sequence number (monotonic per issuer), or why not (UM_ERR_MALFORMED, _AUTH,
 * _EXPIRED, ...). Supplied by the application (the directory cannot parse key lists).
 */
typedef int dir_issuer_verify_fn(void *arg, const uint8_t identity[DIR_ISSUER_ID_LEN],
                                 const uint8_t *doc, size_t len, uint64_t now_s, uint64_t *seq);

/* dir_issuers_parse.c */

/*
 * Parse a section at r: UM_ERR_TRUNCATED (every strict prefix), UM_ERR_MALFORMED for a
 * broken rule. On UM_OK *out (whose previous contents are not freed) owns copies of the
 * blobs; on error nothing is allocated and *out is untouched. Blobs are copied only once
 * the input proved it holds them all.
 */
int dir_issuers_parse(struct wire_rd *r, struct dir_issuers *out) UM_WARN_UNUSED;
/* Append s: UM_ERR_INVALID when it breaks a rule (nothing appended), UM_ERR_TOO_LARGE. */
int dir_issuers_encode(const struct dir_issuers *s, struct wire_wr *w) UM_WARN_UNUSED;
/* Exact encoded length (0 when s breaks a rule). */
size_t dir_issuers_encoded_len(const struct dir_issuers *s);
/* Whether s follows every rule (count, order, lengths, blobs present). */
bool dir_issuers_are_valid(const struct dir_issuers *s);

/* dir_issuers.c */

/* Free the blobs and zero s; NULL-safe, and s may be cleared twice. */
void dir_issuers_clear(struct dir_issuers *s);
/*
 * Insert a copy of doc for identity, keeping the order, or replace that identity's blob.
 * UM_ERR_INVALID when len is 0 or over DIR_ISSUER_DOC_MAX_LEN, UM_ERR_TOO_LARGE when
 * DIR_MAX_ISSUERS other identities are there already (s unchanged on error).
 */
int dir_issuers_set(struct dir_issuers *s, const uint8_t identity[DIR_ISSUER_ID_LEN],
                    const uint8_t *doc, size_t len) UM_WARN_UNUSED;
/* The entry of identity, or NULL. A view into s. */
const struct dir_issuer *dir_issuers_find(const struct dir_issuers *s,
                                          const uint8_t identity[DIR_ISSUER_ID_LEN]);

#endif /* UM_DIRECTORY_DIR_ISSUERS_H */
