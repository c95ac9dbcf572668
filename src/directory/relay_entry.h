/* SPDX-License-Identifier: MIT */
/*
 * The pieces votes and consensuses share (docs/PROTOCOL.md 5.2): the consensus parameters
 * (a small sorted name=u32 list) and the per-relay entry. An entry carries the authority's
 * flags and measured bandwidth plus everything a client needs to build paths and extend
 * circuits from the consensus alone (addresses, roles, exit policies, link and onion keys,
 * operator, location, scores, family), like Tor's microdescriptors folded into the
 * consensus: one fetch, no per-relay descriptor fetches on the client's critical path, and
 * no way for a directory to learn which relays a client is about to use. The descriptor
 * digest stays in the entry so anyone can fetch /v1/desc/<digest> and audit the fields.
 *
 * Encodings are canonical (one byte string per value). Parsed entries are copies, never
 * views into the input.
 */
#ifndef UM_DIRECTORY_RELAY_ENTRY_H
#define UM_DIRECTORY_RELAY_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/compiler.h"
#include "lib/wire.h"
#include "directory/authority.h"
#include "directory/descriptor.h"

/* Caps shared by votes and consensuses (every DoS bound of the directory documents). */
enum consensus_limits {
	CONS_MAX_AUTHORITIES = 16,
	CONS_MAX_RELAYS = 20000,
	/* Two signatures per authority at most: around a rotation it may sign with both keys. */
	CONS_MAX_SIGS = 2 * CONS_MAX_AUTHORITIES,
	CONS_LIFETIME_MAX_S = 3 * 86400, /* valid_until - valid_after */
	CONS_CLOCK_SKEW_S = 300,         /* valid_after may be this far in a client's future */
	DIR_DIGEST_LEN = 32,             /* BLAKE2b-256 */
};

enum relay_entry_limits {
	DIR_PARAM_NAME_MAX = 16, /* 1..16 of [a-z0-9_] */
	DIR_PARAMS_MAX = 32,
	DIR_PARAMS_MAX_LEN = 1 + DIR_PARAMS_MAX * (1 + DIR_PARAM_NAME_MAX + 4),
	/* Encoded entry: fixed part, then the variable lists at their maxima. */
	RELAY_ENTRY_MIN_LEN = 32 + 32 + 2 + 4 + (1 + 1) + 1 + 32 + 32 + (1 + 7) + 1 + 2 + 2 + 32 +
	                      2 + 1 + 1 + 12 + 1,
	RELAY_ENTRY_MAX_LEN = 32 + 32 + 2 + 4 + (1 + RELAY_DESC_NICKNAME_MAX) + 1 + 32 + 32 +
	                      (1 + RELAY_DESC_MAX_ADDRS * RELAY_DESC_ADDR_MAX_LEN) + 1 +
	                      2 * RELAY_DESC_POLICY_MAX_LEN + 32 + 2 + (1 + RELAY_DESC_REGION_MAX) +
	                      1 + 12 + (1 + RELAY_DESC_MAX_FAMILY * RELAY_DESC_ID_LEN),
};

/* Flags an authority assigns (u16 on the wire; other bits are MALFORMED). */
enum relay_flag {
	RELAY_FLAG_RUNNING = 0x0001, /* reachable: a link handshake with it succeeded */
	RELAY_FLAG_VALID = 0x0002,   /* descriptor verified, relay not refused */
	RELAY_FLAG_GUARD = 0x0004,   /* suitable as an entry (needs role entry) */
	RELAY_FLAG_MIDDLE = 0x0008,  /* suitable as a middle hop (needs role middle) */
	RELAY_FLAG_EXIT = 0x0010,    /* suitable as an exit (needs role exit) */
	RELAY_FLAG_STABLE = 0x0020,  /* long uptime */
	RELAY_FLAG_FAST = 0x0040,    /* enough bandwidth */
	RELAY_FLAG_BADEXIT = 0x0080, /* exit misbehaves: never use as exit (needs role exit) */
	/* From the issuers' relay-trust feeds (PROTOCOL.md 19): at least trust_threshold of the
	 * authority's issuers report a bond >= bond_min, or an active dispute. */
	RELAY_FLAG_BONDED = 0x0100,
	RELAY_FLAG_DISPUTED = 0x0200, /* never used as entry or exit by clients */
	RELAY_FLAG_ALL = 0x03ff,
	RELAY_FLAG_N = 10,
};

struct dir_param {
	char name[DIR_PARAM_NAME_MAX + 1]; /* NUL-terminated */
	uint32_t value;
};

/* Sorted strictly ascending by name (bytewise, a prefix first), so names are distinct. */
struct dir_params {
	uint8_t n;
	struct dir_param p[DIR_PARAMS_MAX];
};

struct relay_entry {
	uint8_t identity[RELAY_DESC_ID_LEN];
	uint8_t desc_digest[RELAY_DESC_DIGEST_LEN]; /* relay_desc_digest() of the descriptor */
	uint16_t flags;                             /* enum relay_flag */
	uint32_t measured_bw;                       /* bytes/s, as the authority measured it */
	/* From the descriptor (descriptor.h has each rule). */
	char nickname[RELAY_DESC_NICKNAME_MAX + 1];
	uint8_t roles;
	uint8_t link_key[RELAY_DESC_KEY_LEN];
	uint8_t onion_key[RELAY_DESC_KEY_LEN];
	uint8_t n_addrs;
	struct relay_addr addrs[RELAY_DESC_MAX_ADDRS];
	uint8_t exit_flags;
	struct relay_policy policy4, policy6;
	uint8_t operator_id[RELAY_DESC_ID_LEN];
	char country[RELAY_DESC_COUNTRY_LEN + 1];
	char region[RELAY_DESC_REGION_MAX + 1];
	uint8_t geo_confidence;
	struct relay_scores scores;
	uint8_t n_family;
	uint8_t family[RELAY_DESC_MAX_FAMILY][RELAY_DESC_ID_LEN];
};

/* relay_entry_parse.c */

/* Parse params at r (UM_ERR_TRUNCATED / UM_ERR_MALFORMED); *out written only on success. */
int dir_params_parse(struct wire_rd *r, struct dir_params *out) UM_WARN_UNUSED;
int dir_params_encode(const struct dir_params *p, struct wire_wr *w) UM_WARN_UNUSED;
size_t dir_params_encoded_len(const struct dir_params *p);
bool dir_param_name_is_valid(const char *s, size_t len);
/* Order of two names (memcmp on the common length, then the shorter first). */
int dir_param_name_cmp(const char *a, size_t alen, const char *b, size_t blen);

/*
 * Parse one entry at r. UM_ERR_TRUNCATED when r ends early, UM_ERR_MALFORMED for a broken
 * rule; *out may be partly written on error.
 */
int relay_entry_parse(struct wire_rd *r, struct relay_entry *out) UM_WARN_UNUSED;
/* Append e; UM_ERR_INVALID if it would not parse back to itself, nothing left appended. */
int relay_entry_encode(const struct relay_entry *e, struct wire_wr *w) UM_WARN_UNUSED;
/* Exact encoded length of e (for sizing buffers); 0 if a count is over its limit. */
size_t relay_entry_encoded_len(const struct relay_entry *e);

/*
 * A relay list: n [4] | n entries, strictly ascending by identity, n <= CONS_MAX_RELAYS.
 * On UM_OK, *out is a new array of *n entries (NULL when empty) that the caller frees with
 * free(); on error nothing is allocated. The array is allocated only once the input holds
 * enough bytes for n minimal entries, so a lying count costs nothing.
 */
int relay_entries_parse(struct wire_rd *r, struct relay_entry **out, size_t *n) UM_WARN_UNUSED;
/* Append a list; UM_ERR_INVALID when unsorted, duplicated, too long or an entry is invalid. */
int relay_entries_encode(const struct relay_entry *e, size_t n, struct wire_wr *w) UM_WARN_UNUSED;
/* Exact encoded length of a list (0 if an entry is over a limit). */
size_t relay_entries_encoded_len(const struct relay_entry *e, size_t n);
/* Valid period: valid_after < fresh_until < valid_until <= valid_after + LIFETIME_MAX. */
bool dir_period_is_valid(uint64_t valid_after, uint64_t fresh_until, uint64_t valid_until);

/* relay_entry.c */

/*
 * Fill e from a verified descriptor d whose encoding has digest `digest`, with the flags
 * and measured bandwidth the authority assigns. Flags that need a role d does not request
 * are dropped (see relay_entry_mask_flags()).
 */
void relay_entry_from_desc(struct relay_entry *e, const struct relay_desc *d,
                           const uint8_t digest[RELAY_DESC_DIGEST_LEN], uint16_t flags,
                           uint32_t measured_bw);
/* Flags restricted to what roles allow: GUARD needs entry, MIDDLE middle, EXIT/BADEXIT exit. */
uint16_t relay_entry_mask_flags(uint16_t flags, uint8_t roles);
/* Look a parameter up; false (and *v untouched) when absent. */
bool dir_params_get(const struct dir_params *p, const char *name, uint32_t *v);
/* Insert or replace name=v keeping the order; UM_ERR_INVALID bad name, UM_ERR_TOO_LARGE full. */
int dir_params_set(struct dir_params *p, const char *name, uint32_t v) UM_WARN_UNUSED;

#endif /* UM_DIRECTORY_RELAY_ENTRY_H */
