/* SPDX-License-Identifier: MIT */
/*
 * Path selection (docs/PATHS.md) on synthetic consensuses with a fixed-seed RNG: the
 * compatibility rules one by one; 10,000 selections on a tangled consensus never break a
 * constraint (checked by an independent re-implementation here); the exit port filter (IPv4,
 * IPv6, host names, private literals) with its reasons; locality order, geo confidence and
 * strict mode with their reasons; exploration share, bandwidth and reputation weighting within
 * tolerance; the per-operator cap; health exclusion and halving; guard lists; two-hop mode;
 * the fallback order parser and config validation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "crypto/crypto.h"
#include "circuit/path.h"
#include "helpers/path_fixture.h"

enum { N_DRAWS = 10000 };

static const uint64_t NOW = 1800000000;

static struct path_request
req_port(uint8_t dest, uint16_t port)
{
	struct path_request r;

	memset(&r, 0, sizeof(r));
	r.dest = dest;
	r.port = port;
	if (dest == PATH_DEST_IPV4) {
		r.addr[0] = 93;
		r.addr[1] = 184;
		r.addr[2] = 216;
		r.addr[3] = 34;
	} else if (dest == PATH_DEST_IPV6) {
		r.addr[0] = 0x26;
		r.addr[1] = 0x06;
		r.addr[15] = 1;
	}
	return r;
}

/* Select and require success; returns the plan. */
static struct path_plan
select_ok(const struct path_config *cfg, const struct consensus *c, const struct path_guards *g,
          const struct path_request *req, const struct path_health *h, struct fx_rng *r)
{
	struct path_plan plan;
	char why[PATH_WHY_LEN];
	int ret = path_select(cfg, c, g, req, h, NOW, &r->rng, &plan, why, sizeof(why));

	if (ret != UM_OK)
		fail_msg("path_select: %d: %s", ret, why);
	assert_true(plan.n >= 1 && plan.n <= cfg->n_candidates);
	return plan;
}

static void
select_fails(const struct path_config *cfg, const struct consensus *c,
             const struct path_request *req, const char *want_why)
{
	struct path_plan plan;
	struct fx_rng r;
	char why[PATH_WHY_LEN];

	fx_rng_init(&r, 7);
	assert_int_equal(path_select(cfg, c, NULL, req, NULL, NOW, &r.rng, &plan, why, sizeof(why)),
	                 UM_ERR_NOT_FOUND);
	assert_string_equal(why, want_why);
}

/* A guard, a middle and n exits (relays 2..n+1). */
static void
simple(struct consensus *c, size_t n_exits)
{
	fx_consensus(c, 2 + n_exits);
	fx_relay(&c->relays[0], 0, FX_GUARD);
	fx_relay(&c->relays[1], 1, FX_MIDDLE);
	for (size_t i = 0; i < n_exits; i++)
		fx_relay(&c->relays[2 + i], (unsigned)(2 + i), FX_EXIT);
}

static size_t
exit_of(const struct path *p)
{
	return p->idx[p->n_hops - 1];
}

/* ---- compatibility ---- */

static void
test_path_compatible_rules(void **state)
{
	struct relay_entry a, b;

	(void)state;
	fx_relay(&a, 1, FX_GUARD);
	fx_relay(&b, 2, FX_EXIT);
	assert_true(path_relays_compatible(&a, &b));
	assert_false(path_relays_compatible(&a, &a)); /* one relay twice */

	/* Operator. */
	fx_operator(&b, 1001);
	assert_false(path_relays_compatible(&a, &b));
	fx_operator(&b, 1002);

	/* Family: only when both list each other. */
	fx_family_add(&a, &b);
	assert_true(path_relays_compatible(&a, &b));
	assert_true(path_relays_compatible(&b, &a));
	fx_family_add(&b, &a);
	assert_false(path_relays_compatible(&a, &b));
	assert_false(path_relays_compatible(&b, &a));
	a.n_family = b.n_family = 0;

	/* IPv4 /16: 10.1.x.x and 10.2.x.x differ; 10.1.200.7 shares 10.1/16. */
	b.addrs[0].addr[1] = 1;
	b.addrs[0].addr[2] = 200;
	assert_false(path_relays_compatible(&a, &b));
	b.addrs[0].addr[1] = 2;
	assert_true(path_relays_compatible(&a, &b));

	/* IPv6 /32, checked on every address, and never across families. */
	a.n_addrs = b.n_addrs = 2;
	a.addrs[1].type = b.addrs[1].type = RELAY_ADDR_IPV6;
	a.addrs[1].port = b.addrs[1].port = 9001;
	memcpy(a.addrs[1].addr, "\x20\x01\x0d\xb8\x00\x01", 6);
	memcpy(b.addrs[1].addr, "\x20\x01\x0d\xb8\xff\xff", 6);
	assert_false(path_relays_compatible(&a, &b));
	b.addrs[1].addr[3] = 0xb9;
	assert_true(path_relays_compatible(&a, &b));
	memcpy(b.addrs[1].addr, "\x0a\x01\x00\x00", 4); /* bytes of 10.1/16, but IPv6 */
	assert_true(path_relays_compatible(&a, &b));
}

/* ---- constraints over many selections ---- */

/* Independent checks of one path against the rules (no call into path.c's helpers). */
static bool
mutual_family(const struct relay_entry *a, const struct relay_entry *b)
{
	bool ab = false, ba = false;

	for (size_t i = 0; i < a->n_family; i++)
		ab |= memcmp(a->family[i], b->identity, 32) == 0;
	for (size_t i = 0; i < b->n_family; i++)
		ba |= memcmp(b->family[i], a->identity, 32) == 0;
	return ab && ba;
}

static void
check_path(const struct consensus *c, const struct path *p, const struct path_config *cfg,
           const struct path_request *req)
{
	const struct relay_entry *h[3];

	assert_int_equal(p->n_hops, cfg->hops);
	for (size_t i = 0; i < p->n_hops; i++) {
		assert_true(p->idx[i] < c->n_relays);
		h[i] = &c->relays[p->idx[i]];
		assert_true(h[i]->flags & RELAY_FLAG_RUNNING);
		assert_true(h[i]->flags & RELAY_FLAG_VALID);
	}
	assert_true(h[0]->flags & RELAY_FLAG_GUARD);
	if (p->n_hops == 3)
		assert_true(h[1]->flags & RELAY_FLAG_MIDDLE);
	assert_true(h[p->n_hops - 1]->flags & RELAY_FLAG_EXIT);
	assert_false(h[p->n_hops - 1]->flags & RELAY_FLAG_BADEXIT);
	assert_true(relay_policy_allows_port(&h[p->n_hops - 1]->policy4, req->port));
	for (size_t i = 0; i < p->n_hops; i++)
		for (size_t j = i + 1; j < p->n_hops; j++) {
			const struct relay_entry *a = h[i], *b = h[j];

			assert_memory_not_equal(a->identity, b->identity, 32);
			assert_memory_not_equal(a->operator_id, b->operator_id, 32);
			assert_false(mutual_family(a, b));
			/* All addresses here are IPv4. */
			for (size_t x = 0; x < a->n_addrs; x++)
				for (size_t y = 0; y < b->n_addrs; y++)
					assert_memory_not_equal(a->addrs[x].addr, b->addrs[y].addr,
					                        2);
		}
}

static void
test_path_constraints_never_violated(void **state)
{
	enum { N = 60 };
	static const uint16_t ports[] = { 80, 443, 22, 25, 6667 };
	struct consensus c;
	struct fx_rng r, g;
	struct path_config cfg;
	size_t n_paths = 0, n_fail = 0;

	(void)state;
	fx_rng_init(&g, 1234);
	fx_consensus(&c, N);
	for (unsigned i = 0; i < N; i++) {
		struct relay_entry *e = &c.relays[i];
		uint16_t flags = RELAY_FLAG_RUNNING | RELAY_FLAG_VALID;
		uint64_t x = fx_rng_next(&g);

		flags |= (x & 1) ? RELAY_FLAG_GUARD : 0;
		flags |= (x & 6) ? RELAY_FLAG_MIDDLE : 0;
		flags |= (x & 8) ? RELAY_FLAG_EXIT : 0;
		flags |= (x & 0x30) == 0x30 ? RELAY_FLAG_BADEXIT : 0;
		if ((x & 0xc0) == 0xc0)
			flags &= (uint16_t)~RELAY_FLAG_RUNNING;
		fx_relay(e, i, flags);
		e->measured_bw = (uint32_t)(100 + (x >> 8) % 5000);
		e->scores.reputation = (uint16_t)((x >> 24) % 10001);
		/* Few operators (shared), few /16s (shared). */
		fx_operator(e, (unsigned)((x >> 40) % 20));
		e->addrs[0].addr[1] = (uint8_t)((x >> 48) % 25);
		if ((x >> 56) % 3 == 0) {
			uint16_t p = ports[(x >> 58) % UM_ARRAY_LEN(ports)];

			fx_policy_reject(&e->policy4, &p, 1);
		}
	}
	/* Families: mutual pairs, and one-sided claims (which must not count). */
	for (unsigned k = 0; k < 80; k++) {
		unsigned a = (unsigned)(fx_rng_next(&g) % N), b = (unsigned)(fx_rng_next(&g) % N);

		if (a == b || c.relays[a].n_family >= RELAY_DESC_MAX_FAMILY ||
		    c.relays[b].n_family >= RELAY_DESC_MAX_FAMILY)
			continue;
		fx_family_add(&c.relays[a], &c.relays[b]);
		if (k % 2 == 0)
			fx_family_add(&c.relays[b], &c.relays[a]);
	}
	path_config_default(&cfg);
	cfg.exploration_pct = 20;
	fx_rng_init(&r, 99);
	for (unsigned i = 0; i < N_DRAWS; i++) {
		struct path_request req = req_port(PATH_DEST_IPV4, ports[i % UM_ARRAY_LEN(ports)]);
		struct path_plan plan;
		char why[PATH_WHY_LEN];

		cfg.hops = i % 4 == 0 ? 2 : 3;
		cfg.n_candidates = (uint8_t)(1 + i % 6);
		if (path_select(&cfg, &c, NULL, &req, NULL, NOW, &r.rng, &plan, why, sizeof(why)) !=
		    UM_OK) {
			n_fail++;
			continue;
		}
		for (size_t k = 0; k < plan.n; k++) {
			check_path(&c, &plan.p[k], &cfg, &req);
			/* Ranked candidates share the entry and have distinct exits. */
			assert_int_equal(plan.p[k].idx[0], plan.p[0].idx[0]);
			for (size_t j = 0; j < k; j++)
				assert_int_not_equal(exit_of(&plan.p[j]), exit_of(&plan.p[k]));
			n_paths++;
		}
	}
	/* The consensus is tangled but not hopeless: nearly every selection succeeds. */
	assert_true(n_fail < N_DRAWS / 100);
	assert_true(n_paths > N_DRAWS);
	consensus_clear(&c);
}

/* ---- exit policy ---- */

static void
test_path_exit_port_filter(void **state)
{
	static const uint16_t web[] = { 80, 443 }, smtp[] = { 25 }, ssh[] = { 22 };
	struct consensus c;
	struct path_config cfg;
	struct path_request req;
	struct fx_rng r;
	char why[PATH_WHY_LEN];

	(void)state;
	simple(&c, 3);
	/* Exit 2: web only, IPv4 only (IPv6: accepts nothing). Exit 3: everything but 25, on
	 * both families. Exit 4: IPv6 ssh only, and refuses private destinations. */
	fx_policy_accept(&c.relays[2].policy4, web, 2);
	fx_policy_accept(&c.relays[2].policy6, NULL, 0);
	fx_policy_reject(&c.relays[3].policy4, smtp, 1);
	fx_policy_reject(&c.relays[3].policy6, smtp, 1);
	fx_policy_accept(&c.relays[4].policy4, NULL, 0);
	fx_policy_accept(&c.relays[4].policy6, ssh, 1);
	c.relays[4].exit_flags = RELAY_EXIT_F_REJECT_PRIVATE;
	path_config_default(&cfg);
	cfg.exploration_pct = 50;
	cfg.n_candidates = PATH_CANDIDATES_MAX;
	fx_rng_init(&r, 3);

	req = req_port(PATH_DEST_IPV4, 25);
	select_fails(&cfg, &c, &req, "no exit allows port 25");
	req = req_port(PATH_DEST_IPV6, 25);
	select_fails(&cfg, &c, &req, "no exit allows port 25 over IPv6");

	for (int i = 0; i < 200; i++) {
		struct path_plan plan;

		req = req_port(PATH_DEST_IPV4, 443);
		plan = select_ok(&cfg, &c, NULL, &req, NULL, &r);
		assert_int_equal(plan.n, 2); /* exits 2 and 3, exit 4 never */
		for (size_t k = 0; k < plan.n; k++)
			assert_true(exit_of(&plan.p[k]) == 2 || exit_of(&plan.p[k]) == 3);
		req = req_port(PATH_DEST_IPV4, 8080);
		plan = select_ok(&cfg, &c, NULL, &req, NULL, &r);
		assert_int_equal(plan.n, 1);
		assert_int_equal(exit_of(&plan.p[0]), 3);
		req = req_port(PATH_DEST_IPV6, 80);
		plan = select_ok(&cfg, &c, NULL, &req, NULL, &r);
		assert_int_equal(plan.n, 1);
		assert_int_equal(exit_of(&plan.p[0]), 3);
		/* A host name: a port allowed for either family counts (exit 4: ssh on IPv6). */
		req = req_port(PATH_DEST_HOSTNAME, 22);
		plan = select_ok(&cfg, &c, NULL, &req, NULL, &r);
		assert_int_equal(plan.n, 2);
		/* Literal IPv6 ssh: exits 3 and 4; a private one: exit 4 refuses private. */
		req = req_port(PATH_DEST_IPV6, 22);
		plan = select_ok(&cfg, &c, NULL, &req, NULL, &r);
		assert_int_equal(plan.n, 2);
		memset(req.addr, 0, 16);
		req.addr[0] = 0xfd; /* fd00::/8, unique local */
		req.addr[15] = 1;
		plan = select_ok(&cfg, &c, NULL, &req, NULL, &r);
		assert_int_equal(plan.n, 1);
		assert_int_equal(exit_of(&plan.p[0]), 3);
		/* No destination yet: any exit. */
		req = req_port(PATH_DEST_NONE, 0);
		plan = select_ok(&cfg, &c, NULL, &req, NULL, &r);
		assert_int_equal(plan.n, 3);
	}
	/* Private literal with only reject-private exits. */
	c.relays[2].exit_flags = RELAY_EXIT_F_REJECT_PRIVATE;
	c.relays[3].exit_flags = RELAY_EXIT_F_REJECT_PRIVATE;
	req = req_port(PATH_DEST_IPV4, 443);
	req.addr[0] = 192;
	req.addr[1] = 168;
	select_fails(&cfg, &c, &req, "no exit allows port 443 to a private address");

	/* BADEXIT, not RUNNING, not VALID: never exits. */
	c.relays[2].flags |= RELAY_FLAG_BADEXIT;
	c.relays[3].flags &= (uint16_t)~RELAY_FLAG_RUNNING;
	c.relays[4].flags &= (uint16_t)~RELAY_FLAG_VALID;
	req = req_port(PATH_DEST_IPV4, 80);
	select_fails(&cfg, &c, &req, "no running exit in the consensus");

	/* Bad requests. */
	req = req_port(PATH_DEST_IPV4, 0);
	{
		struct path_plan plan;

		assert_int_equal(path_select(&cfg, &c, NULL, &req, NULL, NOW, &r.rng, &plan, why,
		                             sizeof(why)),
		                 UM_ERR_INVALID);
		assert_string_equal(why, "request port is 0");
		req.dest = 5;
		req.port = 80;
		assert_int_equal(path_select(&cfg, &c, NULL, &req, NULL, NOW, &r.rng, &plan, why,
		                             sizeof(why)),
		                 UM_ERR_INVALID);
	}
	consensus_clear(&c);
}

/* ---- locality ---- */

static void
set_loc(struct relay_entry *e, const char *cc, const char *region, uint8_t conf)
{
	snprintf(e->country, sizeof(e->country), "%s", cc);
	snprintf(e->region, sizeof(e->region), "%s", region);
	e->geo_confidence = conf;
}

static void
test_path_locality_order_and_strict(void **state)
{
	struct consensus c;
	struct path_config cfg;
	struct path_request req = req_port(PATH_DEST_IPV4, 443);
	struct fx_rng r;
	char why[PATH_WHY_LEN];

	(void)state;
	simple(&c, 5);
	set_loc(&c.relays[2], "DE", "eu-central", 90);
	set_loc(&c.relays[3], "DE", "eu-central", 30); /* too unsure to count */
	set_loc(&c.relays[4], "FR", "eu-west", 80);
	set_loc(&c.relays[5], "US", "us-east", 100);
	set_loc(&c.relays[6], "NL", "eu-west", 60);
	path_config_default(&cfg);
	cfg.exploration_pct = 100; /* uniform: locality alone decides what is possible */
	cfg.n_candidates = PATH_CANDIDATES_MAX;
	cfg.n_countries = 1;
	memcpy(cfg.countries[0], "DE", 3);
	cfg.n_regions = 1;
	snprintf(cfg.regions[0], sizeof(cfg.regions[0]), "eu-west");
	fx_rng_init(&r, 5);

	for (int i = 0; i < 100; i++) {
		struct path_plan plan = select_ok(&cfg, &c, NULL, &req, NULL, &r);

		assert_int_equal(plan.locality, PATH_LOC_COUNTRY);
		assert_int_equal(plan.n, 1);
		assert_int_equal(exit_of(&plan.p[0]), 2);
	}
	/* Region first. */
	assert_int_equal(path_config_set_order(&cfg, "region, country ,any", why, sizeof(why)),
	                 UM_OK);
	for (int i = 0; i < 100; i++) {
		struct path_plan plan = select_ok(&cfg, &c, NULL, &req, NULL, &r);

		assert_int_equal(plan.locality, PATH_LOC_REGION);
		assert_int_equal(plan.n, 2); /* FR and NL */
		assert_true(exit_of(&plan.p[0]) == 4 || exit_of(&plan.p[0]) == 6);
	}
	/* Raise the confidence bar: NL (60) drops out; then FR too: DE (90) by country. */
	cfg.min_geo_confidence = 70;
	{
		struct path_plan plan = select_ok(&cfg, &c, NULL, &req, NULL, &r);

		assert_int_equal(plan.n, 1);
		assert_int_equal(exit_of(&plan.p[0]), 4);
	}
	cfg.min_geo_confidence = 85;
	{
		struct path_plan plan = select_ok(&cfg, &c, NULL, &req, NULL, &r);

		assert_int_equal(plan.locality, PATH_LOC_COUNTRY);
		assert_int_equal(exit_of(&plan.p[0]), 2);
	}
	/* Nothing preferred qualifies: "any" supplies all five, unless strict. */
	cfg.min_geo_confidence = 95;
	{
		struct path_plan plan = select_ok(&cfg, &c, NULL, &req, NULL, &r);

		assert_int_equal(plan.locality, PATH_LOC_ANY);
		assert_int_equal(plan.n, 5);
	}
	cfg.strict = true;
	select_fails(&cfg, &c, &req,
	             "no exit in region eu-west or country DE with geo_confidence >= 95 allows "
	             "port 443 (strict)");
	/* An order without "any" is strict too. */
	cfg.strict = false;
	assert_int_equal(path_config_set_order(&cfg, "country", why, sizeof(why)), UM_OK);
	cfg.n_regions = 0;
	cfg.min_geo_confidence = 50;
	cfg.n_countries = 2;
	memcpy(cfg.countries[0], "SE", 3);
	memcpy(cfg.countries[1], "CH", 3);
	select_fails(&cfg, &c, &req,
	             "no exit in country SE or CH with geo_confidence >= 50 allows port 443");
	/* Preferred exits exist but conflict with the only entry: said so. */
	memcpy(cfg.countries[0], "DE", 3);
	cfg.n_countries = 1;
	cfg.strict = true;
	fx_operator(&c.relays[2], 1000); /* the guard's operator */
	select_fails(&cfg, &c, &req,
	             "no exit in country DE with geo_confidence >= 50 allows port 443 without "
	             "conflicting with the entry or cooling down (strict)");
	/* Without any preference, strict changes nothing. */
	cfg.n_countries = 0;
	{
		struct path_plan plan = select_ok(&cfg, &c, NULL, &req, NULL, &r);

		assert_int_equal(plan.locality, PATH_LOC_ANY);
		assert_int_equal(plan.n, 4);
	}
	consensus_clear(&c);
}

/* ---- weights ---- */

static void
test_path_exploration_share(void **state)
{
	static const uint8_t shares[] = { 0, 10, 30 };
	struct consensus c;
	struct path_config cfg;
	struct path_request req = req_port(PATH_DEST_IPV4, 443);

	(void)state;
	/* One heavy exit and ten with reputation 0 (weight 0: only exploration reaches them). */
	simple(&c, 11);
	c.relays[2].measured_bw = 1000000;
	for (size_t i = 3; i < 13; i++)
		c.relays[i].scores.reputation = 0;
	path_config_default(&cfg);
	cfg.n_candidates = 1;
	for (size_t s = 0; s < UM_ARRAY_LEN(shares); s++) {
		struct fx_rng r;
		unsigned n_light = 0, n_flagged = 0;
		double expect = shares[s] / 100.0 * 10.0 / 11.0, got;

		cfg.exploration_pct = shares[s];
		fx_rng_init(&r, 1000 + s);
		for (int i = 0; i < N_DRAWS; i++) {
			struct path_plan plan = select_ok(&cfg, &c, NULL, &req, NULL, &r);

			n_light += exit_of(&plan.p[0]) != 2;
			n_flagged += plan.p[0].explored;
		}
		got = (double)n_light / N_DRAWS;
		assert_true(got >= expect - 0.03 && got <= expect + 0.03);
		/* The explored flag counts exploration draws (which may pick the heavy one too). */
		assert_true((double)n_flagged / N_DRAWS >= shares[s] / 100.0 - 0.03 &&
		            (double)n_flagged / N_DRAWS <= shares[s] / 100.0 + 0.03);
		if (shares[s] == 0)
			assert_int_equal(n_light, 0);
	}
	/* Every exit at weight 0: uniform, never a failure. */
	c.relays[2].scores.reputation = 0;
	cfg.exploration_pct = 0;
	{
		struct fx_rng r;
		unsigned seen[13] = { 0 };

		fx_rng_init(&r, 77);
		for (int i = 0; i < 1100; i++)
			seen[exit_of(&select_ok(&cfg, &c, NULL, &req, NULL, &r).p[0])]++;
		for (size_t i = 2; i < 13; i++)
			assert_true(seen[i] > 50);
	}
	consensus_clear(&c);
}

static void
test_path_weighted_by_bandwidth_and_reputation(void **state)
{
	struct consensus c;
	struct path_config cfg;
	struct path_request req = req_port(PATH_DEST_IPV4, 443);
	struct fx_rng r;
	unsigned seen[6] = { 0 };

	(void)state;
	simple(&c, 4);
	/* Weights bw x reputation: 1000x10000, 2000x10000, 6000x5000, 4000x10000 = 1:2:3:4. */
	c.relays[2].measured_bw = 1000;
	c.relays[3].measured_bw = 2000;
	c.relays[4].measured_bw = 6000;
	c.relays[4].scores.reputation = 5000;
	c.relays[5].measured_bw = 4000;
	path_config_default(&cfg);
	cfg.exploration_pct = 0;
	cfg.n_candidates = 1;
	fx_rng_init(&r, 42);
	for (int i = 0; i < N_DRAWS; i++)
		seen[exit_of(&select_ok(&cfg, &c, NULL, &req, NULL, &r).p[0])]++;
	for (size_t i = 2; i < 6; i++) {
		double got = (double)seen[i] / N_DRAWS, want = (double)(i - 1) / 10.0;

		assert_true(got > want - 0.02 && got < want + 0.02);
	}
	/* Middles and entries by bandwidth alone: two middles 1:3 (reputation ignored). */
	consensus_clear(&c);
	fx_consensus(&c, 4);
	fx_relay(&c.relays[0], 0, FX_GUARD);
	fx_relay(&c.relays[1], 1, FX_MIDDLE);
	fx_relay(&c.relays[2], 2, FX_MIDDLE);
	fx_relay(&c.relays[3], 3, FX_EXIT);
	c.relays[1].measured_bw = 1000;
	c.relays[1].scores.reputation = 10;
	c.relays[2].measured_bw = 3000;
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < N_DRAWS; i++)
		seen[select_ok(&cfg, &c, NULL, &req, NULL, &r).p[0].idx[1]]++;
	assert_true(seen[1] > 2300 && seen[1] < 2700);
	consensus_clear(&c);
}

/* ---- per-operator cap ---- */

static void
test_path_operator_cap(void **state)
{
	struct consensus c;
	struct path_config cfg;
	struct path_request req = req_port(PATH_DEST_IPV4, 443);
	struct fx_rng r;

	(void)state;
	/* Ten heavy exits of operator 7, ten light exits of their own operators. */
	simple(&c, 20);
	for (size_t i = 2; i < 12; i++) {
		fx_operator(&c.relays[i], 7);
		c.relays[i].measured_bw = 100000;
	}
	path_config_default(&cfg);
	cfg.n_candidates = 8;
	cfg.exit_operator_cap = 2;
	cfg.exit_operator_cap_pct = 0;
	fx_rng_init(&r, 11);
	for (int pass = 0; pass < 3; pass++) {
		size_t cap = pass == 0 ? 2 : pass == 1 ? 4 : 1;

		if (pass == 1) { /* 50 % of 8 */
			cfg.exit_operator_cap = 0;
			cfg.exit_operator_cap_pct = 50;
		} else if (pass == 2) { /* 10 % of 8 rounds down to 0: at least 1 */
			cfg.exit_operator_cap_pct = 10;
		}
		for (int i = 0; i < 1000; i++) {
			struct path_plan plan = select_ok(&cfg, &c, NULL, &req, NULL, &r);
			size_t n7 = 0;

			assert_int_equal(plan.n, 8);
			for (size_t k = 0; k < plan.n; k++)
				n7 += exit_of(&plan.p[k]) < 12;
			assert_true(n7 <= cap);
			/* The heavy operator still ranks (its exits carry 99 % of the weight). */
			assert_true(n7 >= 1);
		}
	}
	consensus_clear(&c);
}

/* ---- health ---- */

static void
test_path_health(void **state)
{
	struct consensus c;
	struct path_config cfg;
	struct path_request req = req_port(PATH_DEST_IPV4, 443);
	struct path_health *h = malloc(sizeof(*h));
	struct fx_rng r;
	unsigned seen[4] = { 0 };

	(void)state;
	simple(&c, 2);
	path_config_default(&cfg);
	cfg.exploration_pct = 0;
	cfg.n_candidates = 1;
	path_health_init(h);
	fx_rng_init(&r, 8);

	/* One failure halves the weight: 1:2. */
	path_health_note_failure(h, c.relays[2].identity, NOW - 10);
	assert_int_equal(path_health_failures(h, c.relays[2].identity, NOW, 600), 1);
	for (int i = 0; i < 3000; i++)
		seen[exit_of(&select_ok(&cfg, &c, NULL, &req, h, &r).p[0])]++;
	assert_true(seen[2] > 850 && seen[2] < 1150);

	/* Three: excluded during the cool-down, ranked candidates then hold only exit 3. */
	path_health_note_failure(h, c.relays[2].identity, NOW - 5);
	path_health_note_failure(h, c.relays[2].identity, NOW - 1);
	cfg.n_candidates = 4;
	for (int i = 0; i < 100; i++) {
		struct path_plan plan = select_ok(&cfg, &c, NULL, &req, h, &r);

		assert_int_equal(plan.n, 1);
		assert_int_equal(exit_of(&plan.p[0]), 3);
	}
	/* Both exits failing: excluding them would leave no path, so both are used anyway,
	 * still weighted by their failures (3 vs 5: exit 2 is drawn first 4 times in 5). */
	for (int i = 0; i < 3; i++)
		path_health_note_failure(h, c.relays[3].identity, NOW);
	path_health_note_failure(h, c.relays[3].identity, NOW);
	path_health_note_failure(h, c.relays[3].identity, NOW);
	{
		struct path_plan plan;
		char why[PATH_WHY_LEN];
		unsigned first2 = 0;

		for (int i = 0; i < 1000; i++) {
			plan = select_ok(&cfg, &c, NULL, &req, h, &r);
			assert_int_equal(plan.n, 2);
			first2 += exit_of(&plan.p[0]) == 2;
		}
		assert_true(first2 > 700 && first2 < 900);
		/* The only middle cooling down too: still a path. */
		for (int i = 0; i < 3; i++)
			path_health_note_failure(h, c.relays[1].identity, NOW);
		plan = select_ok(&cfg, &c, NULL, &req, h, &r);
		assert_int_equal(plan.p[0].idx[1], 1);
		/* Cooling down and conflicting with the entry: the reason says so. */
		fx_operator(&c.relays[2], 1000); /* the guard's operator */
		fx_operator(&c.relays[3], 1000);
		assert_int_equal(
		        path_select(&cfg, &c, NULL, &req, h, NOW, &r.rng, &plan, why, sizeof(why)),
		        UM_ERR_NOT_FOUND);
		assert_string_equal(why, "every exit that allows port 443 conflicts with the entry "
		                         "(family, operator or subnet) or is cooling down after "
		                         "failures");
		fx_operator(&c.relays[2], 1002);
		fx_operator(&c.relays[3], 1003);
		/* After the cool-down (600 s after the last failure) both are back at full
		 * weight. */
		assert_int_equal(path_select(&cfg, &c, NULL, &req, h, NOW + 600, &r.rng, &plan, why,
		                             sizeof(why)),
		                 UM_OK);
		assert_int_equal(plan.n, 2);
	}
	/* A success forgets; the table stays sorted and bounded, evicting the oldest. */
	path_health_note_success(h, c.relays[3].identity);
	assert_int_equal(path_health_failures(h, c.relays[3].identity, NOW, 600), 0);
	path_health_init(h);
	for (unsigned i = 0; i < PATH_HEALTH_MAX + 10; i++) {
		uint8_t id[32];

		fx_id(id, (i * 7919) % 65536);
		path_health_note_failure(h, id, NOW + i);
	}
	assert_int_equal(h->n, PATH_HEALTH_MAX);
	for (size_t i = 1; i < h->n; i++)
		assert_true(memcmp(h->e[i - 1].id, h->e[i].id, 32) < 0);
	for (unsigned i = 0; i < PATH_HEALTH_MAX + 10; i++) {
		uint8_t id[32];

		fx_id(id, (i * 7919) % 65536);
		assert_int_equal(path_health_failures(h, id, NOW + i, 600), i < 10 ? 0 : 1);
	}
	free(h);
	consensus_clear(&c);
}

/* ---- entries, middles, two hops ---- */

static void
test_path_guards_and_middles(void **state)
{
	struct consensus c;
	struct path_config cfg;
	struct path_request req = req_port(PATH_DEST_IPV4, 443);
	struct path_guards g;
	struct fx_rng r;
	char why[PATH_WHY_LEN];
	struct path_plan plan;

	(void)state;
	/* Relays: 0, 1 guards; 2 middle; 3 exit. */
	fx_consensus(&c, 4);
	fx_relay(&c.relays[0], 0, FX_GUARD);
	fx_relay(&c.relays[1], 1, FX_GUARD);
	fx_relay(&c.relays[2], 2, FX_MIDDLE);
	fx_relay(&c.relays[3], 3, FX_EXIT);
	path_config_default(&cfg);
	fx_rng_init(&r, 2);

	/* The guard list's order decides, not bandwidth. */
	memset(&g, 0, sizeof(g));
	g.n = 2;
	fx_id(g.ids[0], 1);
	fx_id(g.ids[1], 0);
	c.relays[0].measured_bw = 1000000;
	for (int i = 0; i < 50; i++)
		assert_int_equal(select_ok(&cfg, &c, &g, &req, NULL, &r).p[0].idx[0], 1);
	/* Guard 1 shares a family with the only exit: the next guard in the list. */
	fx_family_add(&c.relays[1], &c.relays[3]);
	fx_family_add(&c.relays[3], &c.relays[1]);
	plan = select_ok(&cfg, &c, &g, &req, NULL, &r);
	assert_int_equal(plan.p[0].idx[0], 0);
	assert_int_equal(plan.p[0].idx[1], 2);
	assert_int_equal(plan.p[0].idx[2], 3);
	/* Two hops: entry -> exit. */
	cfg.hops = 2;
	plan = select_ok(&cfg, &c, &g, &req, NULL, &r);
	assert_int_equal(plan.p[0].n_hops, 2);
	assert_int_equal(plan.p[0].idx[0], 0);
	assert_int_equal(plan.p[0].idx[1], 3);
	assert_ptr_equal(path_hop(&c, &plan.p[0], 1), &c.relays[3]);
	assert_null(path_hop(&c, &plan.p[0], 2));
	cfg.hops = 3;
	/* The middle in the same /16 as the exit: no middle; the first guard's reason. */
	c.relays[2].addrs[0].addr[1] = c.relays[3].addrs[0].addr[1];
	c.relays[1].n_family = 0;
	assert_int_equal(
	        path_select(&cfg, &c, &g, &req, NULL, NOW, &r.rng, &plan, why, sizeof(why)),
	        UM_ERR_NOT_FOUND);
	assert_string_equal(why, "no middle relay is compatible with the entry and any exit that "
	                         "allows port 443");
	/* Guards not in the consensus, or without the Guard flag. */
	c.relays[0].flags &= (uint16_t)~RELAY_FLAG_GUARD;
	fx_id(g.ids[0], 999);
	assert_int_equal(
	        path_select(&cfg, &c, &g, &req, NULL, NOW, &r.rng, &plan, why, sizeof(why)),
	        UM_ERR_NOT_FOUND);
	assert_string_equal(why,
	                    "none of the 2 entry guards is listed with the Guard flag and healthy");
	assert_int_equal(path_find_relay(&c, g.ids[0]), -1);
	assert_int_equal(path_find_relay(&c, c.relays[3].identity), 3);
	consensus_clear(&c);
}

/* ---- configuration ---- */

static void
test_path_config(void **state)
{
	static const struct {
		const char *text;
		int ret;
		size_t n;
		const char *why;
	} cases[] = {
		{ "country,region,any", UM_OK, 3, NULL },
		{ " any ", UM_OK, 1, NULL },
		{ "region,\tcountry", UM_OK, 2, NULL },
		{ "", UM_ERR_INVALID, 0, "fallback order item \"\" is not country, region or any" },
		{ "country,", UM_ERR_INVALID, 0,
		  "fallback order item \"\" is not country, region or any" },
		{ "Country", UM_ERR_INVALID, 0,
		  "fallback order item \"Country\" is not country, region or any" },
		{ "any,country,any", UM_ERR_INVALID, 0, "fallback order names \"any\" twice" },
		{ "country,region,any,any", UM_ERR_INVALID, 0,
		  "fallback order names \"any\" twice" },
	};
	struct path_config cfg;
	char why[PATH_WHY_LEN];
	char longtext[PATH_ORDER_TEXT_MAX + 2];

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(cases); i++) {
		path_config_default(&cfg);
		cfg.order[0] = 0xee;
		assert_int_equal(path_config_set_order(&cfg, cases[i].text, why, sizeof(why)),
		                 cases[i].ret);
		if (cases[i].ret == UM_OK) {
			assert_int_equal(cfg.n_order, cases[i].n);
			assert_int_equal(path_config_validate(&cfg, why, sizeof(why)), UM_OK);
		} else {
			assert_string_equal(why, cases[i].why);
			assert_int_equal(cfg.order[0], 0xee); /* untouched */
		}
	}
	memset(longtext, 'a', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	assert_int_equal(path_config_set_order(&cfg, longtext, why, sizeof(why)), UM_ERR_INVALID);

	path_config_default(&cfg);
	assert_int_equal(path_config_validate(&cfg, why, sizeof(why)), UM_OK);
	cfg.hops = 1;
	assert_int_equal(path_config_validate(&cfg, why, sizeof(why)), UM_ERR_INVALID);
	assert_string_equal(why, "hops is 1, not 2 or 3");
	path_config_default(&cfg);
	cfg.n_countries = 1;
	memcpy(cfg.countries[0], "de", 3);
	assert_int_equal(path_config_validate(&cfg, why, sizeof(why)), UM_ERR_INVALID);
	assert_string_equal(why, "country 1 is not two upper-case letters");
	path_config_default(&cfg);
	cfg.n_regions = 1;
	memcpy(cfg.regions[0], "EU", 3);
	assert_int_equal(path_config_validate(&cfg, why, sizeof(why)), UM_ERR_INVALID);
	path_config_default(&cfg);
	cfg.exploration_pct = 101;
	assert_int_equal(path_config_validate(&cfg, why, sizeof(why)), UM_ERR_INVALID);
	path_config_default(&cfg);
	cfg.n_candidates = PATH_CANDIDATES_MAX + 1;
	assert_int_equal(path_config_validate(&cfg, why, sizeof(why)), UM_ERR_INVALID);
	path_config_default(&cfg);
	cfg.order[1] = PATH_LOC_COUNTRY;
	assert_int_equal(path_config_validate(&cfg, why, sizeof(why)), UM_ERR_INVALID);
	path_config_default(&cfg);
	cfg.min_geo_confidence = 101;
	assert_int_equal(path_config_validate(&cfg, why, sizeof(why)), UM_ERR_INVALID);
}

static void
test_path_rng_below_is_unbiased(void **state)
{
	struct fx_rng r;
	unsigned seen[3] = { 0 };

	(void)state;
	fx_rng_init(&r, 1);
	assert_int_equal(path_rng_below(&r.rng, 0), 0);
	assert_int_equal(path_rng_below(&r.rng, 1), 0);
	for (int i = 0; i < 30000; i++) {
		uint64_t v = path_rng_below(&r.rng, 3);

		assert_true(v < 3);
		seen[v]++;
	}
	for (int i = 0; i < 3; i++)
		assert_true(seen[i] > 9600 && seen[i] < 10400);
	/* The CSPRNG path (rng NULL) stays in range too. */
	for (int i = 0; i < 100; i++)
		assert_true(path_rng_below(NULL, 10) < 10);
}

static int
setup(void **state)
{
	(void)state;
	return um_crypto_init() == UM_OK ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_compatible_rules),
		cmocka_unit_test(test_path_constraints_never_violated),
		cmocka_unit_test(test_path_exit_port_filter),
		cmocka_unit_test(test_path_locality_order_and_strict),
		cmocka_unit_test(test_path_exploration_share),
		cmocka_unit_test(test_path_weighted_by_bandwidth_and_reputation),
		cmocka_unit_test(test_path_operator_cap),
		cmocka_unit_test(test_path_health),
		cmocka_unit_test(test_path_guards_and_middles),
		cmocka_unit_test(test_path_config),
		cmocka_unit_test(test_path_rng_below_is_unbiased),
	};

	return cmocka_run_group_tests_name("path", tests, setup, NULL);
}
