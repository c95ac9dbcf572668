/* SPDX-License-Identifier: MIT */
/*
 * Deterministic synthetic consensuses for the consensus-diff fuzz target and unit test:
 * one authority (fixed keys), relays whose identities are their index, some changed or
 * dropped by a pattern. Header-only so both can include it without a library.
 */
#ifndef UM_FUZZ_CONSENSUS_DIFF_SEED_H
#define UM_FUZZ_CONSENSUS_DIFF_SEED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "lib/wire.h"
#include "crypto/keys.h"
#include "directory/authority.h"
#include "directory/consensus.h"

enum {
	CDIFF_SEED_BASE_VA = 1700000000,
	CDIFF_SEED_BASE_N = 6,
};

/* The one authority's identity and signing keys. */
static inline void
cdiff_seed_keys(struct keys_ed25519 *id, struct keys_ed25519 *sk)
{
	uint8_t seed[32];

	memset(seed, 0x11, sizeof(seed));
	keys_ed25519_from_seed(id, seed);
	memset(seed, 0x22, sizeof(seed));
	keys_ed25519_from_seed(sk, seed);
}

/*
 * Fill c (signed by one authority) for the period starting at va with the relays 1..n,
 * those with i % changed_every == 0 given another bandwidth (0: none), those with
 * i % drop_every == 0 left out (0: none).
 */
static inline int
cdiff_seed_consensus(struct consensus *c, uint64_t va, uint32_t n, uint32_t changed_every,
                     uint32_t drop_every)
{
	struct keys_ed25519 id, sk;
	size_t k = 0;
	int ret;

	cdiff_seed_keys(&id, &sk);
	consensus_init(c);
	c->version = CONS_VERSION;
	c->valid_after_s = va;
	c->fresh_until_s = va + 3600;
	c->valid_until_s = va + 3 * 3600;
	c->n_auths = 1;
	if ((ret = auth_cert_make(&c->auths[0], &id, sk.pk, CDIFF_SEED_BASE_VA - 86400,
	                          CDIFF_SEED_BASE_VA + 300 * 86400)) != UM_OK)
		goto out;
	c->relays = n > 0 ? um_xcalloc(n, sizeof(*c->relays)) : NULL;
	for (uint32_t i = 1; i <= n; i++) {
		struct relay_entry *e = &c->relays[k];

		if (drop_every != 0 && i % drop_every == 0)
			continue;
		memset(e, 0, sizeof(*e));
		wire_store_u32(e->identity, i);
		memset(e->identity + 4, 0x5a, 28);
		memcpy(e->desc_digest, e->identity, 32);
		e->measured_bw = (changed_every != 0 && i % changed_every == 0) ? 2 * i + 7 : i;
		snprintf(e->nickname, sizeof(e->nickname), "relay%u", (unsigned)i);
		e->roles = RELAY_ROLE_ENTRY | RELAY_ROLE_MIDDLE;
		memset(e->link_key, 0x55, 32);
		memset(e->onion_key, 0xaa, 32);
		e->n_addrs = 1;
		e->addrs[0].type = RELAY_ADDR_IPV4;
		e->addrs[0].addr[0] = 10;
		e->addrs[0].addr[2] = (uint8_t)(i >> 8);
		e->addrs[0].addr[3] = (uint8_t)i;
		e->addrs[0].port = 9001;
		e->policy4.kind = e->policy6.kind = RELAY_POLICY_ACCEPT;
		memset(e->operator_id, 0x77, 32);
		memcpy(e->country, "DE", 3);
		e->geo_confidence = 80;
		e->flags = relay_entry_mask_flags(RELAY_FLAG_RUNNING | RELAY_FLAG_VALID, e->roles);
		k++;
	}
	c->n_relays = k;
	if ((ret = consensus_update_digest(c)) != UM_OK ||
	    (ret = consensus_sign(c, &c->auths[0], &sk)) != UM_OK)
		goto out;
out:
	keys_ed25519_clear(&id);
	keys_ed25519_clear(&sk);
	if (ret != UM_OK)
		consensus_clear(c);
	return ret;
}

/*
 * Give c (from cdiff_seed_consensus()) the issuer key lists of issuers 1..n_issuers (their
 * identities are their index), each a stand-in blob of len bytes of `fill` + index (the
 * directory never parses one), and sign it again.
 */
static inline int
cdiff_seed_issuers(struct consensus *c, uint8_t n_issuers, uint8_t fill, size_t len)
{
	struct keys_ed25519 id, sk;
	uint8_t ident[32], *doc = um_xmalloc(len > 0 ? len : 1);
	int ret = UM_OK;

	cdiff_seed_keys(&id, &sk);
	dir_issuers_clear(&c->issuers);
	for (uint8_t i = 1; i <= n_issuers && ret == UM_OK; i++) {
		memset(ident, 0, sizeof(ident));
		ident[31] = i;
		memset(doc, fill + i, len);
		ret = dir_issuers_set(&c->issuers, ident, doc, len);
	}
	c->n_sigs = 0;
	if (ret == UM_OK && (ret = consensus_update_digest(c)) == UM_OK)
		ret = consensus_sign(c, &c->auths[0], &sk);
	free(doc);
	keys_ed25519_clear(&id);
	keys_ed25519_clear(&sk);
	return ret;
}

#endif /* UM_FUZZ_CONSENSUS_DIFF_SEED_H */
