/* SPDX-License-Identifier: MIT */
/*
 * The directory's hot paths at network scale (docs/PROTOCOL.md 5): for 1,000 and 10,000
 * synthetic relays, three authorities' votes are combined with consensus_compute(), signed by
 * the three and encoded ("build+sign"); a client then parses the bytes (hashing the signed
 * part) and checks the signatures against its three pins ("verify", the target is well
 * under 50 ms for 10,000 relays on one core). Prints the times and the encoded size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "lib/time.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "directory/authority.h"
#include "directory/consensus.h"
#include "directory/consensus_diff.h"
#include "directory/vote.h"

enum { N_AUTH = 3, ROUNDS = 5, NOW = 1700000000, VA = NOW, FU = VA + 3600, VU = VA + 3 * 3600 };

/* A plausible relay: about a third exits with a policy and a small family. */
static void
synth_entry(struct relay_entry *e, uint32_t i, uint32_t auth)
{
	memset(e, 0, sizeof(*e));
	for (int b = 0; b < 32; b += 4) {
		uint32_t x = (i + 1) * 2654435761u ^ (uint32_t)b * 40503u;

		e->identity[b] = (uint8_t)(x >> 24);
		e->identity[b + 1] = (uint8_t)(x >> 16);
		e->identity[b + 2] = (uint8_t)(x >> 8);
		e->identity[b + 3] = (uint8_t)x;
	}
	memcpy(e->desc_digest, e->identity, 32);
	e->desc_digest[0] ^= 0x5a;
	e->measured_bw = 1000000 + (i * 7919 + auth * 104729) % 5000000;
	snprintf(e->nickname, sizeof(e->nickname), "relay%u", (unsigned)i);
	e->roles = RELAY_ROLE_ENTRY | RELAY_ROLE_MIDDLE;
	memset(e->link_key, (int)(i & 0xff), 32);
	memset(e->onion_key, (int)((i >> 8) & 0xff), 32);
	e->n_addrs = 1;
	e->addrs[0].type = RELAY_ADDR_IPV4;
	e->addrs[0].addr[0] = 10;
	e->addrs[0].addr[1] = (uint8_t)(i >> 16);
	e->addrs[0].addr[2] = (uint8_t)(i >> 8);
	e->addrs[0].addr[3] = (uint8_t)(i | 1);
	e->addrs[0].port = 9001;
	e->policy4.kind = e->policy6.kind = RELAY_POLICY_ACCEPT;
	if (i % 3 == 0) {
		e->roles |= RELAY_ROLE_EXIT;
		e->exit_flags = RELAY_EXIT_F_REJECT_PRIVATE;
		e->policy4.n_ranges = 2;
		e->policy4.r[0] = (struct relay_port_range){ 80, 80 };
		e->policy4.r[1] = (struct relay_port_range){ 443, 443 };
		e->n_family = 2;
		memset(e->family[0], 0x00, 32);
		memset(e->family[1], 0xff, 32);
	}
	memset(e->operator_id, (int)(i % 97), 32);
	strcpy(e->country, "DE");
	strcpy(e->region, "eu-central");
	e->geo_confidence = (uint8_t)(50 + auth);
	e->scores = (struct relay_scores){ 9000, 9900, 5000, 10, 0, (uint16_t)(100 + auth) };
	e->flags = relay_entry_mask_flags(RELAY_FLAG_RUNNING | RELAY_FLAG_VALID | RELAY_FLAG_GUARD |
	                                          RELAY_FLAG_MIDDLE | RELAY_FLAG_EXIT |
	                                          RELAY_FLAG_FAST,
	                                  e->roles);
}

static double
ms_since(uint64_t t0)
{
	return (double)(um_mono_ns() - t0) / 1e6;
}

/*
 * The next period's consensus from c: 1% of the relays with a new bandwidth, 0.5% gone,
 * signed again; then the diff from c to it (make on the directory, apply on the client).
 */
static int
run_diff(const struct consensus *c, const uint8_t *bytes, size_t len, const struct auth_cert *cert,
         const struct keys_ed25519 *sk)
{
	struct consensus next, got;
	uint8_t *nb = NULL, *diff = NULL, *out = NULL;
	size_t nlen = 0, dlen = 0, olen = 0, k = 0;
	double make_ms = 1e9, apply_ms = 1e9;

	(void)bytes;
	(void)len;
	consensus_init(&next);
	next = *c;
	next.relays = um_xcalloc(c->n_relays, sizeof(*c->relays));
	next.n_sigs = 0;
	next.valid_after_s += 3600;
	next.fresh_until_s += 3600;
	next.valid_until_s += 3600;
	for (size_t i = 0; i < c->n_relays; i++) {
		if (i % 200 == 7)
			continue;
		next.relays[k] = c->relays[i];
		if (i % 100 == 3)
			next.relays[k].measured_bw += 1000;
		k++;
	}
	next.n_relays = k;
	if (consensus_update_digest(&next) != UM_OK)
		return 1;
	for (uint32_t a = 0; a < N_AUTH; a++) {
		if (consensus_sign(&next, &cert[a], &sk[a]) != UM_OK)
			return 1;
	}
	if (consensus_encode_new(&next, &nb, &nlen) != UM_OK)
		return 1;
	for (int round = 0; round < ROUNDS; round++) {
		uint64_t t0 = um_mono_ns();
		double t;

		free(diff);
		if (consensus_diff_make(c, &next, nb, nlen, &diff, &dlen) != UM_OK)
			return 1;
		t = ms_since(t0);
		make_ms = t < make_ms ? t : make_ms;
		t0 = um_mono_ns();
		if (consensus_diff_apply(c, diff, dlen, &got, &out, &olen) != UM_OK ||
		    olen != nlen || memcmp(out, nb, nlen) != 0)
			return 1;
		t = ms_since(t0);
		apply_ms = t < apply_ms ? t : apply_ms;
		consensus_clear(&got);
		free(out);
	}
	printf("consensus_%zu_next_bytes %zu\n", c->n_relays, nlen);
	printf("consensus_%zu_diff_bytes %zu\n", c->n_relays, dlen);
	printf("consensus_%zu_diff_make_ms %.2f\n", c->n_relays, make_ms);
	printf("consensus_%zu_diff_apply_ms %.2f\n", c->n_relays, apply_ms);
	free(nb);
	free(diff);
	consensus_clear(&next);
	return 0;
}

static int
run(uint32_t n_relays)
{
	struct keys_ed25519 id[N_AUTH], sk[N_AUTH];
	struct auth_cert cert[N_AUTH];
	struct vote v[N_AUTH];
	const struct vote *vp[N_AUTH];
	struct pinned_authorities pins;
	struct consensus_verify_result res;
	double build_ms = 1e9, verify_ms = 1e9, parse_ms = 1e9;
	uint8_t *buf = NULL;
	size_t len = 0;

	memset(&pins, 0, sizeof(pins));
	for (uint32_t a = 0; a < N_AUTH; a++) {
		uint8_t seed[32];

		memset(seed, (int)(0x21 + a), sizeof(seed));
		keys_ed25519_from_seed(&id[a], seed);
		memset(seed, (int)(0x31 + a), sizeof(seed));
		keys_ed25519_from_seed(&sk[a], seed);
		if (auth_cert_make(&cert[a], &id[a], sk[a].pk, NOW - 86400, NOW + 86400 * 30) !=
		    UM_OK)
			return 1;
		vote_init(&v[a]);
		v[a].cert = cert[a];
		v[a].valid_after_s = VA;
		v[a].fresh_until_s = FU;
		v[a].valid_until_s = VU;
		v[a].n_relays = n_relays;
		v[a].relays = um_xcalloc(n_relays, sizeof(struct relay_entry));
		for (uint32_t i = 0; i < n_relays; i++)
			synth_entry(&v[a].relays[i], i, a);
		if (vote_sort_relays(&v[a]) != UM_OK || vote_sign(&v[a], &sk[a]) != UM_OK)
			return 1;
		vp[a] = &v[a];
		pins.n++;
		memcpy(pins.ids[a], id[a].pk, 32);
	}
	for (int round = 0; round < ROUNDS; round++) {
		struct consensus c, p;
		uint64_t t0 = um_mono_ns();
		double t;

		if (consensus_compute(vp, N_AUTH, N_AUTH, VA, FU, VU, &c) != UM_OK)
			return 1;
		for (uint32_t a = 0; a < N_AUTH; a++) {
			if (consensus_sign(&c, &cert[a], &sk[a]) != UM_OK)
				return 1;
		}
		free(buf);
		if (consensus_encode_new(&c, &buf, &len) != UM_OK)
			return 1;
		t = ms_since(t0);
		build_ms = t < build_ms ? t : build_ms;
		consensus_clear(&c);

		t0 = um_mono_ns();
		if (consensus_parse(buf, len, &p) != (ssize_t)len)
			return 1;
		t = ms_since(t0);
		parse_ms = t < parse_ms ? t : parse_ms;
		if (consensus_verify(&p, p.digest, &pins, 0, NOW, &res) != UM_OK ||
		    res.n_signed != 3)
			return 1;
		t = ms_since(t0);
		verify_ms = t < verify_ms ? t : verify_ms;
		if (round == 0 && run_diff(&p, buf, len, cert, sk) != 0)
			return 1;
		consensus_clear(&p);
	}
	printf("consensus_%u_build_sign_ms %.2f\n", (unsigned)n_relays, build_ms);
	printf("consensus_%u_parse_ms %.2f\n", (unsigned)n_relays, parse_ms);
	printf("consensus_%u_parse_verify_ms %.2f\n", (unsigned)n_relays, verify_ms);
	printf("consensus_%u_bytes %zu\n", (unsigned)n_relays, len);
	free(buf);
	for (uint32_t a = 0; a < N_AUTH; a++) {
		vote_clear(&v[a]);
		keys_ed25519_clear(&id[a]);
		keys_ed25519_clear(&sk[a]);
	}
	return 0;
}

int
main(void)
{
	if (um_crypto_init() != UM_OK)
		return 1;
	printf("# best of %d; 3 authorities, 3 votes, 3 signatures, 3 pins\n", ROUNDS);
	if (run(1000) != 0 || run(10000) != 0) {
		fprintf(stderr, "bench_consensus: failed\n");
		return 1;
	}
	return 0;
}
