/* SPDX-License-Identifier: MIT */
/*
 * What a directory authority takes from its issuers' relay-trust feeds (PROTOCOL.md 19) and
 * how it turns them into the BONDED and DISPUTED flags of its vote, pure.
 *
 * The feed is the trust layer's signed document (trust/relay_trust.h); trust/ ranks above
 * directory/, so the application supplies the check (dir_rt_verify_fn: parse, pinned issuer
 * identity, signature, dates) and the directory sees only the extracted signals, per issuer:
 * sequence number, dates and, per relay node id, bond, reputation, an active dispute and a
 * tier. An authority keeps the newest valid feed per configured issuer (a lower or equal
 * sequence number never replaces it; see dirserv_add_relay_trust()) in memory, and a feed
 * counts only until it expires.
 *
 * Flags, per relay, over the feeds that are unexpired at the vote's valid_after:
 *   BONDED    at least threshold issuers list the relay with bond >= bond_min;
 *   DISPUTED  at least threshold issuers list it with an active dispute.
 * The consensus then takes each flag by the authorities' usual majority. Reputation is not
 * voted on: an issuer's reputation is an unbounded integer in that issuer's own units, which
 * does not map onto the entries' basis-point scores (self-reported claims) without a scale
 * nobody has defined; it stays in the feed for whoever reads it.
 */
#ifndef UM_DIRECTORY_DIR_RELAY_TRUST_H
#define UM_DIRECTORY_DIR_RELAY_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"

enum dir_rt_limits {
	DIR_RT_ID_LEN = 32,
	/* RELAY_TRUST_MAX_ENTRIES / RELAY_TRUST_MAX_LEN of trust/relay_trust.h (app/dir_node.c
	 * checks the two stay equal). */
	DIR_RT_MAX_ENTRIES = 2048,
	DIR_RT_DOC_MAX_LEN = 1 + 32 + 8 + 8 + 8 + 2 + 64 + 2048 * 46,
};

struct dir_rt_entry {
	uint8_t node_id[DIR_RT_ID_LEN];
	uint64_t bond;
	int32_t reputation;
	bool disputed;
	uint8_t tier;
};

/* One issuer's feed as extracted: entries strictly ascending by node id. */
struct dir_rt_feed {
	uint64_t seq;
	uint64_t published_s;
	uint64_t expires_s;
	size_t n;               /* 0..DIR_RT_MAX_ENTRIES */
	struct dir_rt_entry *v; /* owned (malloc); NULL when n is 0 */
};

/*
 * Check doc, a relay-trust feed claimed to come from the issuer `identity`, at now_s; on
 * UM_OK fill *out (its v malloc'd, the caller's) with the signals. Supplied by the
 * application (the directory cannot parse feeds).
 */
typedef int dir_rt_verify_fn(void *arg, const uint8_t identity[DIR_RT_ID_LEN], const uint8_t *doc,
                             size_t len, uint64_t now_s, struct dir_rt_feed *out);

/* Free f's entries and zero it; NULL-safe. */
void dir_rt_feed_clear(struct dir_rt_feed *f);
/* The entry of node_id in f (binary search), or NULL. */
const struct dir_rt_entry *dir_rt_feed_find(const struct dir_rt_feed *f,
                                            const uint8_t node_id[DIR_RT_ID_LEN]);
/* Whether f's entries are strictly ascending and within DIR_RT_MAX_ENTRIES. */
bool dir_rt_feed_is_valid(const struct dir_rt_feed *f);

/*
 * Count, over feeds[0..n) (NULL entries and feeds with expires_s <= at_s are skipped), the
 * issuers whose feed lists node_id with bond >= bond_min (*n_bonded) and with an active
 * dispute (*n_disputed).
 */
void dir_rt_count(const struct dir_rt_feed *const *feeds, size_t n,
                  const uint8_t node_id[DIR_RT_ID_LEN], uint64_t bond_min, uint64_t at_s,
                  size_t *n_bonded, size_t *n_disputed);
/* The flag bits (RELAY_FLAG_BONDED / _DISPUTED) for node_id with threshold (>= 1). */
uint16_t dir_rt_flags(const struct dir_rt_feed *const *feeds, size_t n,
                      const uint8_t node_id[DIR_RT_ID_LEN], uint64_t bond_min, size_t threshold,
                      uint64_t at_s);
/* The default threshold for n configured issuers: a majority (n / 2 + 1), at least 1. */
size_t dir_rt_default_threshold(size_t n_issuers);

#endif /* UM_DIRECTORY_DIR_RELAY_TRUST_H */
