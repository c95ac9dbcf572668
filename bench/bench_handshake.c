/* SPDX-License-Identifier: MIT */
/*
 * Link handshake rate on one core: complete Noise_XK link handshakes (both sides in this
 * process, identity certificates checked) for a fixed time, and separately the time the
 * responder alone spends (what bounds a relay's capacity to accept links). Also NK.
 * Prints "name value" lines. usage: bench_handshake [SECONDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/err.h"
#include "lib/time.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "link/handshake.h"

struct side {
	struct keys_ed25519 id;
	struct keys_x25519 lk;
	struct link_identity li;
};

static void
side_init(struct side *s)
{
	keys_ed25519_generate(&s->id);
	keys_x25519_generate(&s->lk);
	link_identity_init(&s->li, &s->id, &s->lk, um_wall_s() + 86400);
}

/* One full handshake; adds the responder's own time to *resp_ns. */
static int
one(uint8_t pattern, struct side *a, struct side *b, struct link_cert_cache *cache,
    uint64_t *resp_ns)
{
	struct link_hs ini, res;
	uint8_t m[LINK_HS_OUT_MAX], r[LINK_HS_OUT_MAX];
	size_t ml = 0, rl = 0, consumed;
	uint64_t now = um_wall_s(), t;
	int ret;

	if ((ret = link_hs_init_initiator(&ini, pattern, pattern == LINK_PATTERN_XK ? &a->li : NULL,
	                                  b->lk.pk, b->id.pk, cache)) != UM_OK ||
	    (ret = link_hs_start(&ini, m, sizeof(m), &ml)) != UM_OK)
		return ret;
	t = um_mono_ns();
	if ((ret = link_hs_init_responder(&res, &b->li, LINK_ACCEPT_XK | LINK_ACCEPT_NK, cache)) !=
	            UM_OK ||
	    (ret = link_hs_input(&res, m, ml, &consumed, r, sizeof(r), &rl, now)) != UM_OK)
		return ret;
	*resp_ns += um_mono_ns() - t;
	if ((ret = link_hs_input(&ini, r, rl, &consumed, m, sizeof(m), &ml, now)) != UM_OK)
		return ret;
	if (pattern == LINK_PATTERN_XK) {
		t = um_mono_ns();
		if ((ret = link_hs_input(&res, m, ml, &consumed, r, sizeof(r), &rl, now)) != UM_OK)
			return ret;
		*resp_ns += um_mono_ns() - t;
	}
	if (!link_hs_is_done(&ini) || !link_hs_is_done(&res))
		return UM_ERR_STATE;
	link_hs_clear(&ini);
	link_hs_clear(&res);
	return UM_OK;
}

static void
run(const char *name, uint8_t pattern, struct side *a, struct side *b,
    struct link_cert_cache *cache, double secs)
{
	uint64_t start = um_mono_ns(), resp_ns = 0, n = 0;

	while ((double)(um_mono_ns() - start) < secs * 1e9) {
		if (one(pattern, a, b, cache, &resp_ns) != UM_OK) {
			fprintf(stderr, "handshake failed\n");
			exit(1);
		}
		n++;
	}
	printf("%s_full_per_s %.0f\n", name, (double)n / ((double)(um_mono_ns() - start) / 1e9));
	printf("%s_responder_per_s %.0f\n", name, (double)n / ((double)resp_ns / 1e9));
}

int
main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 3.0;
	struct link_cert_cache *cache = calloc(1, sizeof(*cache));
	struct side a, b;

	if (um_crypto_init() != UM_OK || cache == NULL)
		return 1;
	side_init(&a);
	side_init(&b);
	run("xk", LINK_PATTERN_XK, &a, &b, cache, secs);
	run("xk_nocache", LINK_PATTERN_XK, &a, &b, NULL, secs);
	run("nk", LINK_PATTERN_NK, &a, &b, NULL, secs);
	free(cache);
	keys_ed25519_clear(&a.id);
	keys_ed25519_clear(&b.id);
	keys_x25519_clear(&a.lk);
	keys_x25519_clear(&b.lk);
	return 0;
}
