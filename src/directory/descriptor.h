/* SPDX-License-Identifier: MIT */
/*
 * Signed relay descriptors, sans-I/O (docs/PROTOCOL.md section 4): what a relay tells the
 * directory about itself, in one binary, canonical encoding (exactly one byte string per
 * value, so the BLAKE2b-256 digest that names a descriptor in /v1/desc/<digest> is well
 * defined), signed by the relay's Ed25519 identity:
 *
 *   descriptor = body | sig [64]
 *   sig        = Ed25519(identity, "umbra-relaydesc-v1" 0x00 | body)
 *   digest     = BLAKE2b-256(descriptor)                    (signature included)
 *
 * The decoded struct holds copies, never views into the input: a descriptor is at most
 * RELAY_DESC_MAX_LEN (1936) bytes, and copies outlive the receive buffer.
 *
 * Typical use by a directory receiving an upload: relay_desc_parse_verify(), which parses,
 * refuses trailing bytes and runs relay_desc_verify(). A relay fills a struct, calls
 * relay_desc_sign(), then relay_desc_encode().
 */
#ifndef UM_DIRECTORY_DESCRIPTOR_H
#define UM_DIRECTORY_DESCRIPTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/compiler.h"
#include "lib/wire.h"
#include "crypto/keys.h"

/* Every bound a descriptor is checked against; RELAY_DESC_MAX_LEN is derived from them. */
enum descriptor_limits {
	RELAY_DESC_VERSION = 1,
	RELAY_DESC_LABEL_LEN = 19, /* "umbra-relaydesc-v1" and its NUL */
	RELAY_DESC_ID_LEN = 32,
	RELAY_DESC_KEY_LEN = 32,
	RELAY_DESC_SIG_LEN = 64,
	RELAY_DESC_DIGEST_LEN = 32,
	RELAY_DESC_NICKNAME_MAX = 19, /* 1..19 of [A-Za-z0-9] */
	RELAY_DESC_MAX_ADDRS = 4,     /* 1..4 */
	RELAY_DESC_IPV4_LEN = 4,
	RELAY_DESC_IPV6_LEN = 16,
	RELAY_DESC_MAX_PORT_RANGES = 32, /* per address family */
	RELAY_DESC_COUNTRY_LEN = 2,
	RELAY_DESC_REGION_MAX = 32,   /* 0..32 of [a-z0-9-] */
	RELAY_DESC_PLATFORM_MAX = 32, /* 0..32 printable ASCII */
	RELAY_DESC_CONTACT_MAX = 64,  /* 0..64 printable ASCII */
	RELAY_DESC_MAX_FAMILY = 32,
	RELAY_DESC_GEO_CONF_MAX = 100,
	RELAY_DESC_SCORE_MAX = 10000,             /* scores are in basis points: 10000 = 1.0 */
	RELAY_DESC_LIFETIME_MAX_S = 18 * 3600,    /* expires <= published + 18 h */
	RELAY_DESC_ONION_GRACE_MAX_S = 7 * 86400, /* previous onion key usable <= 7 d */
	RELAY_DESC_CLOCK_SKEW_S = 3600,           /* published may be this far in the future */

	/* Encoded sizes, field by field (see the table in docs/PROTOCOL.md 4.2). */
	RELAY_DESC_ADDR_MAX_LEN = 1 + RELAY_DESC_IPV6_LEN + 2,
	RELAY_DESC_POLICY_MAX_LEN = 1 + 1 + 4 * RELAY_DESC_MAX_PORT_RANGES,
	RELAY_DESC_BODY_MAX_LEN =
	        1 + RELAY_DESC_ID_LEN + 8 + 8 + 1 + RELAY_DESC_NICKNAME_MAX + 1 + 1 +
	        RELAY_DESC_KEY_LEN + 8 + RELAY_DESC_SIG_LEN + RELAY_DESC_KEY_LEN +
	        RELAY_DESC_KEY_LEN + 8 + 1 + RELAY_DESC_MAX_ADDRS * RELAY_DESC_ADDR_MAX_LEN + 1 +
	        2 * RELAY_DESC_POLICY_MAX_LEN + 3 * 4 + RELAY_DESC_ID_LEN + 8 + RELAY_DESC_SIG_LEN +
	        RELAY_DESC_COUNTRY_LEN + 1 + RELAY_DESC_REGION_MAX + 1 + 6 * 2 + 1 +
	        RELAY_DESC_MAX_FAMILY * RELAY_DESC_ID_LEN + 1 + RELAY_DESC_PLATFORM_MAX + 1 +
	        RELAY_DESC_CONTACT_MAX,
	RELAY_DESC_MAX_LEN = RELAY_DESC_BODY_MAX_LEN + RELAY_DESC_SIG_LEN, /* 1936 */
};

/* Roles the relay asks to be given (the authorities decide). At least one; other bits reject. */
enum relay_role {
	RELAY_ROLE_ENTRY = 0x01,
	RELAY_ROLE_MIDDLE = 0x02,
	RELAY_ROLE_EXIT = 0x04,
	RELAY_ROLE_ALL = 0x07,
};

/* Presence bits of the optional fields (wire byte "present"). */
enum relay_desc_present {
	RELAY_DESC_P_PREV_ONION = 0x01,
	RELAY_DESC_P_OPERATOR_CERT = 0x02,
	RELAY_DESC_P_ALL = 0x03,
};

enum relay_addr_type {
	RELAY_ADDR_IPV4 = 4,
	RELAY_ADDR_IPV6 = 6,
};

enum relay_policy_kind {
	RELAY_POLICY_ACCEPT = 1, /* the listed ports are accepted, every other port rejected */
	RELAY_POLICY_REJECT = 2, /* the listed ports are rejected, every other port accepted */
};

enum relay_exit_flags {
	RELAY_EXIT_F_REJECT_PRIVATE = 0x01, /* refuse private, loopback, link-local destinations */
	RELAY_EXIT_F_ALL = 0x01,
};

struct relay_addr {
	uint8_t type;     /* enum relay_addr_type */
	uint8_t addr[16]; /* IPv4 in the first 4 bytes, the rest zero */
	uint16_t port;    /* 1..65535 */
};

struct relay_port_range {
	uint16_t lo, hi; /* inclusive, 1 <= lo <= hi */
};

/*
 * A port policy for one address family. Canonical form (what parse accepts and encode
 * writes): ranges sorted, disjoint and not adjacent (merged), and the shorter of the accept
 * and reject forms, the accept form on a tie. relay_policy_normalize() produces it.
 */
struct relay_policy {
	uint8_t kind; /* enum relay_policy_kind */
	uint8_t n_ranges;
	struct relay_port_range r[RELAY_DESC_MAX_PORT_RANGES];
};

/* Bandwidth in bytes per second, as the relay itself states or measured it. */
struct relay_bw {
	uint32_t rate;     /* sustained rate limit */
	uint32_t burst;    /* >= rate */
	uint32_t observed; /* highest rate sustained over 10 s in the last day */
};

/*
 * Self-reported scores in basis points, 0..RELAY_DESC_SCORE_MAX (10000 = 1.0): integers, so
 * the consensus can take exact medians and every authority computes the same bytes. The
 * directory treats them as claims and may replace them with its own measurements.
 */
struct relay_scores {
	uint16_t reputation;
	uint16_t uptime;
	uint16_t capacity;
	uint16_t abuse_penalty; /* higher is worse */
	uint16_t bond;
	uint16_t stake;
};

struct relay_desc {
	uint8_t version; /* RELAY_DESC_VERSION */
	uint8_t identity[RELAY_DESC_ID_LEN];
	uint64_t published_s; /* unix seconds */
	uint64_t expires_s;   /* published_s < expires_s <= published_s + LIFETIME_MAX */
	char nickname[RELAY_DESC_NICKNAME_MAX + 1]; /* NUL-terminated */
	uint8_t roles;                              /* enum relay_role bits */
	/* Link key and its certificate, exactly as the link layer checks them (link_cert_verify:
	 * signed by identity over "umbra-link-cert-v1" 0x00 | identity | link_key | expires). */
	uint8_t link_key[RELAY_DESC_KEY_LEN];
	uint64_t link_cert_expires_s; /* >= expires_s */
	uint8_t link_cert_sig[RELAY_DESC_SIG_LEN];
	/* ntor onion keys: the current one, and optionally the previous one during its grace. */
	uint8_t onion_key[RELAY_DESC_KEY_LEN];
	bool has_prev_onion_key;
	uint8_t prev_onion_key[RELAY_DESC_KEY_LEN];
	uint64_t prev_onion_expires_s; /* published_s < it <= published_s + ONION_GRACE_MAX */
	uint8_t n_addrs;               /* 1..RELAY_DESC_MAX_ADDRS, sorted, distinct */
	struct relay_addr addrs[RELAY_DESC_MAX_ADDRS];
	uint8_t exit_flags; /* enum relay_exit_flags; 0 unless roles has EXIT */
	struct relay_policy policy4, policy6;
	struct relay_bw bw;
	/* Operator: an Ed25519 public key (the directory deduplicates by it), optionally proven
	 * by the operator's certificate over this relay's identity. */
	uint8_t operator_id[RELAY_DESC_ID_LEN];
	bool has_operator_cert;
	uint64_t operator_cert_expires_s; /* >= expires_s */
	uint8_t operator_cert_sig[RELAY_DESC_SIG_LEN];
	char country[RELAY_DESC_COUNTRY_LEN + 1]; /* ISO 3166-1 alpha-2, upper case; "ZZ" unknown */
	char region[RELAY_DESC_REGION_MAX + 1];   /* e.g. "eu-west"; may be empty */
	uint8_t geo_confidence;                   /* percent, 0..100 */
	struct relay_scores scores;
	uint8_t n_family; /* sorted ascending, distinct, never the relay's own identity */
	uint8_t family[RELAY_DESC_MAX_FAMILY][RELAY_DESC_ID_LEN];
	char platform[RELAY_DESC_PLATFORM_MAX + 1]; /* software and version, e.g. "umbra 0.1.0" */
	char contact[RELAY_DESC_CONTACT_MAX + 1];
	uint8_t sig[RELAY_DESC_SIG_LEN];
};

/* descriptor_parse.c */

/*
 * Parse one descriptor at in. Returns the bytes consumed, UM_ERR_TRUNCATED when in ends
 * early (every strict prefix of a valid descriptor), or UM_ERR_MALFORMED for anything that
 * can never be a canonical version-1 descriptor. Bytes after the descriptor are not read:
 * whole-message callers use relay_desc_parse_verify(). Time-independent rules only (no
 * signature, no clock): see relay_desc_verify(). *out is written only on success.
 */
ssize_t relay_desc_parse(const uint8_t *in, size_t len, struct relay_desc *out) UM_WARN_UNUSED;
/*
 * Append the canonical encoding of d (signature included) to w. A struct that would not
 * parse back to itself (a rule of the format broken) is UM_ERR_INVALID, a full w
 * UM_ERR_TOO_LARGE; either way nothing is left appended.
 */
int relay_desc_encode(const struct relay_desc *d, struct wire_wr *w) UM_WARN_UNUSED;
#ifdef UM_UNIT_TESTS
/* Encode without the parse-back check, so tests can build descriptors that break a rule. */
int relay_desc_encode_unchecked(const struct relay_desc *d, struct wire_wr *w) UM_WARN_UNUSED;
#endif

/* descriptor.c */

/*
 * Sign d with k (whose public key must be d->identity, else UM_ERR_INVALID): fills d->sig.
 * UM_ERR_INVALID as well if d breaks a rule of the format.
 */
int relay_desc_sign(struct relay_desc *d, const struct keys_ed25519 *k) UM_WARN_UNUSED;
/*
 * Check a parsed descriptor against the exact bytes it came from, at time now_s:
 *   UM_ERR_TOO_LARGE  len over RELAY_DESC_MAX_LEN;
 *   UM_ERR_TRAILING   encoded is d's encoding followed by more bytes;
 *   UM_ERR_MALFORMED  encoded is not d's encoding;
 *   UM_ERR_EXPIRED    published_s more than CLOCK_SKEW in the future, or expires_s <= now_s,
 *                     or a certificate expired (link, operator);
 *   UM_ERR_AUTH       the identity's signature, the link certificate (which must be signed
 *                     by the same identity) or the operator certificate does not verify.
 * Cheap checks run before any signature.
 */
int relay_desc_verify(const struct relay_desc *d, const uint8_t *encoded, size_t len,
                      uint64_t now_s) UM_WARN_UNUSED;
/*
 * The whole-message entry point: parse in, refuse bytes after the descriptor
 * (UM_ERR_TRAILING), verify at now_s. *out is written only on UM_OK.
 */
int relay_desc_parse_verify(const uint8_t *in, size_t len, uint64_t now_s,
                            struct relay_desc *out) UM_WARN_UNUSED;
/* BLAKE2b-256 of a full encoded descriptor (signature included): its name in /v1/desc/. */
void relay_desc_digest(const uint8_t *encoded, size_t len, uint8_t out[RELAY_DESC_DIGEST_LEN]);

/* Bytes the operator certificate signs: label | operator_id | relay identity | expires. */
enum { RELAY_OPCERT_MSG_LEN = 17 + RELAY_DESC_ID_LEN + RELAY_DESC_ID_LEN + 8 };
void relay_opcert_msg(uint8_t out[RELAY_OPCERT_MSG_LEN], const uint8_t operator_id[32],
                      const uint8_t identity[32], uint64_t expires_s);
/* Fill d's operator certificate, signed by op (operator_id becomes op's public key). */
void relay_desc_sign_operator(struct relay_desc *d, const struct keys_ed25519 *op,
                              uint64_t expires_s);

/* Field rules, shared by the parser and by code that builds descriptors from config. */
bool relay_desc_nickname_is_valid(const char *s, size_t len);
bool relay_desc_region_is_valid(const char *s, size_t len);
bool relay_desc_text_is_valid(const char *s, size_t len); /* printable ASCII */
bool relay_desc_country_is_valid(const char *s, size_t len);
/* Check one address: known type, not unspecified, not IPv4-mapped IPv6, port != 0. */
bool relay_addr_is_valid(const struct relay_addr *a);
/* Total order of addresses (type, bytes, port): <0, 0, >0. */
int relay_addr_cmp(const struct relay_addr *a, const struct relay_addr *b);
/* True when p is in the canonical form described above struct relay_policy. */
bool relay_policy_is_canonical(const struct relay_policy *p);
/*
 * Rewrite p (any kind, ranges in any order, overlapping or adjacent, each 1 <= lo <= hi)
 * into its canonical form. UM_ERR_INVALID for a bad kind or range.
 */
int relay_policy_normalize(struct relay_policy *p) UM_WARN_UNUSED;
/* Evaluate: does p accept destination port? Port 0 is never accepted. */
bool relay_policy_allows_port(const struct relay_policy *p, uint16_t port);

#endif /* UM_DIRECTORY_DESCRIPTOR_H */
