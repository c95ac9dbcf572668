/* SPDX-License-Identifier: MIT */
/*
 * Test helpers for path selection: synthetic consensuses built relay by relay (no signatures,
 * no encoding), and a deterministic generator (splitmix64) behind a struct path_rng.
 */
#ifndef UM_TESTS_HELPERS_PATH_FIXTURE_H
#define UM_TESTS_HELPERS_PATH_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "directory/consensus.h"
#include "circuit/path.h"

/* A relay with sensible defaults: identity from i (ascending with i), its own operator,
 * IPv4 address 10.i.0.1 (its own /16), country "ZZ", geo 100, reputation 10000, bandwidth
 * 1000, policies accepting every port. */
void fx_relay(struct relay_entry *e, unsigned i, uint16_t flags);
/* Identity / operator id of relay or operator number i. */
void fx_id(uint8_t id[RELAY_DESC_ID_LEN], unsigned i);
void fx_operator(struct relay_entry *e, unsigned op);
/* Put b into a's family list (one side only). */
void fx_family_add(struct relay_entry *a, const struct relay_entry *b);
/* Policy accepting exactly the given ports / rejecting exactly them. */
void fx_policy_accept(struct relay_policy *p, const uint16_t *ports, size_t n);
void fx_policy_reject(struct relay_policy *p, const uint16_t *ports, size_t n);
/* Start c with n zeroed relays (c owns them; consensus_clear() frees). */
void fx_consensus(struct consensus *c, size_t n);

/* The flags of a usable relay of each kind. */
#define FX_GUARD  (RELAY_FLAG_RUNNING | RELAY_FLAG_VALID | RELAY_FLAG_GUARD)
#define FX_MIDDLE (RELAY_FLAG_RUNNING | RELAY_FLAG_VALID | RELAY_FLAG_MIDDLE)
#define FX_EXIT   (RELAY_FLAG_RUNNING | RELAY_FLAG_VALID | RELAY_FLAG_EXIT)

struct fx_rng {
	uint64_t s;
	struct path_rng rng;
};
/* Seed r; r->rng then draws from it. */
void fx_rng_init(struct fx_rng *r, uint64_t seed);
uint64_t fx_rng_next(struct fx_rng *r);

#endif /* UM_TESTS_HELPERS_PATH_FIXTURE_H */
