/* SPDX-License-Identifier: MIT */
/*
 * The issuer's signed relay-trust feed (PROTOCOL.md 19), pure: encode, parse, sign, verify.
 * An issuer binds relay node ids (their 32-byte identity keys) to its relay subjects
 * (trust/issuer.h) and publishes, per bound node id, the subject's signals at GET
 * /v1/relaytrust; directory authorities fetch the feeds of their configured issuers and
 * set the BONDED / DISPUTED consensus flags from them (directory/dir_relay_trust.h).
 *
 *   doc   = version [1] = 1 | issuer [32] | seq [8] | published [8] | expires [8] | n [2] |
 *           n * entry | sig [64]
 *   entry = node_id [32] | bond [8] | reputation [4, two's complement] | disputed [1] |
 *           tier [1]
 *   sig   = Ed25519(issuer, "umbra-relay-trust-v1" 0x00 | everything before sig)
 *
 * Rules (MALFORMED otherwise): n <= RELAY_TRUST_MAX_ENTRIES; node ids strictly ascending
 * (bytewise), so distinct; bond <= INT64_MAX (a subject's bond, never negative here);
 * disputed 0 or 1; tier 1..15; published < expires <= published + RELAY_TRUST_LIFETIME_MAX_S;
 * no trailing bytes. The bond is also the stake signal: an issuer's subjects post one kind
 * of collateral (docs/ISSUER.md), so there is no separate stake field.
 */
#ifndef UM_TRUST_RELAY_TRUST_H
#define UM_TRUST_RELAY_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/compiler.h"
#include "lib/wire.h"
#include "crypto/keys.h"

enum relay_trust_limits {
	RELAY_TRUST_VERSION = 1,
	RELAY_TRUST_ID_LEN = 32,
	RELAY_TRUST_SIG_LEN = 64,
	RELAY_TRUST_MAX_ENTRIES = 2048, /* relays one issuer vouches for */
	RELAY_TRUST_ENTRY_LEN = 32 + 8 + 4 + 1 + 1,
	RELAY_TRUST_HEADER_LEN = 1 + 32 + 8 + 8 + 8 + 2,
	RELAY_TRUST_MIN_LEN = RELAY_TRUST_HEADER_LEN + RELAY_TRUST_SIG_LEN,
	RELAY_TRUST_MAX_LEN = RELAY_TRUST_MIN_LEN + RELAY_TRUST_MAX_ENTRIES * RELAY_TRUST_ENTRY_LEN,
	RELAY_TRUST_LIFETIME_MAX_S = 7 * 86400,
	RELAY_TRUST_LIFETIME_DEFAULT_S = 3600,
	/* A feed dated this far in a verifier's future is still taken. */
	RELAY_TRUST_CLOCK_SKEW_S = 300,
};

struct relay_trust_entry {
	uint8_t node_id[RELAY_TRUST_ID_LEN];
	uint64_t bond;      /* the subject's bond (0..INT64_MAX), also its stake */
	int32_t reputation; /* the subject's reputation, clamped to the int32 range */
	bool disputed;      /* the subject has an active dispute */
	uint8_t tier;       /* base tier lowered to the binding dispute cap, 1..15 */
};

/* About 115 KB: heap-allocate it. */
struct relay_trust {
	uint8_t version;
	uint8_t issuer[RELAY_TRUST_ID_LEN];
	uint64_t seq;
	uint64_t published_s;
	uint64_t expires_s;
	uint16_t n;
	struct relay_trust_entry v[RELAY_TRUST_MAX_ENTRIES];
	uint8_t sig[RELAY_TRUST_SIG_LEN];
};

/* Whether d follows every rule above (the signature aside). */
bool relay_trust_is_valid(const struct relay_trust *d);
/*
 * Parse (no signature or clock check): bytes consumed, UM_ERR_TRUNCATED for a strict prefix
 * of a valid document, UM_ERR_MALFORMED for a broken rule. *out is written only on success.
 */
ssize_t relay_trust_parse(const uint8_t *in, size_t len, struct relay_trust *out) UM_WARN_UNUSED;
/* Append the encoding, signature included: UM_ERR_INVALID for a broken rule, UM_ERR_TOO_LARGE
 * when w is full; nothing is left appended on failure. */
int relay_trust_encode(const struct relay_trust *d, struct wire_wr *w) UM_WARN_UNUSED;
/* Set issuer to id's public key and sign (the rules are checked first: UM_ERR_INVALID). */
int relay_trust_sign(struct relay_trust *d, const struct keys_ed25519 *id) UM_WARN_UNUSED;
/*
 * The whole check of a feed fetched from the issuer whose identity we pin: at most
 * RELAY_TRUST_MAX_LEN bytes (UM_ERR_TOO_LARGE), parses with no trailing bytes (MALFORMED /
 * TRUNCATED), issuer == identity and the signature verifies (UM_ERR_AUTH),
 * published_s <= now_s + RELAY_TRUST_CLOCK_SKEW_S and now_s < expires_s (UM_ERR_EXPIRED).
 * Monotonic seq is the caller's to enforce.
 */
int relay_trust_parse_verify(const uint8_t *in, size_t len, const uint8_t identity[32],
                             uint64_t now_s, struct relay_trust *out) UM_WARN_UNUSED;

#endif /* UM_TRUST_RELAY_TRUST_H */
