/* SPDX-License-Identifier: MIT */
/* Synthetic consensuses and a deterministic RNG for the path tests (path_fixture.h). */
#include "helpers/path_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"

void
fx_id(uint8_t id[RELAY_DESC_ID_LEN], unsigned i)
{
	memset(id, 0xa5, RELAY_DESC_ID_LEN);
	id[0] = (uint8_t)(i >> 8);
	id[1] = (uint8_t)i;
}

void
fx_operator(struct relay_entry *e, unsigned op)
{
	memset(e->operator_id, 0x3c, RELAY_DESC_ID_LEN);
	e->operator_id[0] = (uint8_t)(op >> 8);
	e->operator_id[1] = (uint8_t)op;
}

void
fx_relay(struct relay_entry *e, unsigned i, uint16_t flags)
{
	memset(e, 0, sizeof(*e));
	fx_id(e->identity, i);
	e->flags = flags;
	e->measured_bw = 1000;
	snprintf(e->nickname, sizeof(e->nickname), "r%u", i);
	e->roles = RELAY_ROLE_ALL;
	e->n_addrs = 1;
	e->addrs[0].type = RELAY_ADDR_IPV4;
	e->addrs[0].addr[0] = 10;
	e->addrs[0].addr[1] = (uint8_t)i;
	e->addrs[0].addr[2] = (uint8_t)(i >> 8);
	e->addrs[0].addr[3] = 1;
	e->addrs[0].port = 9001;
	e->policy4.kind = RELAY_POLICY_REJECT; /* rejects nothing: every port */
	e->policy6.kind = RELAY_POLICY_REJECT;
	fx_operator(e, 1000 + i);
	memcpy(e->country, "ZZ", 3);
	e->geo_confidence = 100;
	e->scores.reputation = RELAY_DESC_SCORE_MAX;
}

void
fx_family_add(struct relay_entry *a, const struct relay_entry *b)
{
	memcpy(a->family[a->n_family++], b->identity, RELAY_DESC_ID_LEN);
}

static void
policy(struct relay_policy *p, uint8_t kind, const uint16_t *ports, size_t n)
{
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	for (size_t i = 0; i < n; i++) {
		p->r[i].lo = ports[i];
		p->r[i].hi = ports[i];
	}
	p->n_ranges = (uint8_t)n;
}

void
fx_policy_accept(struct relay_policy *p, const uint16_t *ports, size_t n)
{
	policy(p, RELAY_POLICY_ACCEPT, ports, n);
}

void
fx_policy_reject(struct relay_policy *p, const uint16_t *ports, size_t n)
{
	policy(p, RELAY_POLICY_REJECT, ports, n);
}

void
fx_consensus(struct consensus *c, size_t n)
{
	consensus_init(c);
	c->n_relays = n;
	c->relays = um_xcalloc(n > 0 ? n : 1, sizeof(*c->relays));
}

uint64_t
fx_rng_next(struct fx_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
rng_fn(void *arg)
{
	return fx_rng_next(arg);
}

void
fx_rng_init(struct fx_rng *r, uint64_t seed)
{
	r->s = seed;
	r->rng.fn = rng_fn;
	r->rng.arg = r;
}
