/* SPDX-License-Identifier: MIT */
/*
 * Fuzz every link handshake message: byte 0 picks which side receives the input and when:
 *   0: a responder's first flight (preamble + msg1 frame)
 *   1: an XK initiator's msg2 (after it sent a genuine msg1)
 *   2: an NK initiator's msg2
 *   3: a responder's msg3 (after a genuine msg1 and its own msg2)
 * Keys are fixed so runs are reproducible. Nothing may crash, leak or accept garbage as done.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "link/handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fixed {
	struct keys_ed25519 id_a, id_b;
	struct keys_x25519 lk_a, lk_b;
	struct link_identity a, b;
};

static struct fixed *
fixed_get(void)
{
	static struct fixed *f;
	uint8_t seed[32];

	if (f != NULL)
		return f;
	if (um_crypto_init() != UM_OK)
		abort();
	f = calloc(1, sizeof(*f));
	memset(seed, 0xa1, sizeof(seed));
	keys_ed25519_from_seed(&f->id_a, seed);
	keys_x25519_from_secret(&f->lk_a, seed);
	memset(seed, 0xb2, sizeof(seed));
	keys_ed25519_from_seed(&f->id_b, seed);
	keys_x25519_from_secret(&f->lk_b, seed);
	link_identity_init(&f->a, &f->id_a, &f->lk_a, UINT64_MAX);
	link_identity_init(&f->b, &f->id_b, &f->lk_b, UINT64_MAX);
	return f;
}

static void
feed(struct link_hs *hs, const uint8_t *data, size_t size)
{
	uint8_t out[LINK_HS_OUT_MAX];
	size_t consumed, out_len;

	while (size > 0) {
		if (link_hs_input(hs, data, size, &consumed, out, sizeof(out), &out_len, 1) !=
		    UM_OK)
			return;
		if (consumed == 0 || link_hs_is_done(hs))
			return;
		data += consumed;
		size -= consumed;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fixed *f = fixed_get();
	struct link_hs ini, res;
	uint8_t m1[LINK_HS_OUT_MAX], m2[LINK_HS_OUT_MAX];
	size_t l1 = 0, l2 = 0, consumed;

	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		if (link_hs_init_responder(&res, &f->b, LINK_ACCEPT_XK | LINK_ACCEPT_NK, NULL) ==
		    UM_OK)
			feed(&res, data + 1, size - 1);
		link_hs_clear(&res);
		break;
	case 1:
	case 2: {
		uint8_t pattern = data[0] % 4 == 1 ? LINK_PATTERN_XK : LINK_PATTERN_NK;

		if (link_hs_init_initiator(&ini, pattern, &f->a, f->b.static_pub, NULL, NULL) ==
		            UM_OK &&
		    link_hs_start(&ini, m1, sizeof(m1), &l1) == UM_OK)
			feed(&ini, data + 1, size - 1);
		link_hs_clear(&ini);
		break;
	}
	default:
		if (link_hs_init_initiator(&ini, LINK_PATTERN_XK, &f->a, f->b.static_pub, NULL,
		                           NULL) != UM_OK ||
		    link_hs_start(&ini, m1, sizeof(m1), &l1) != UM_OK ||
		    link_hs_init_responder(&res, &f->b, LINK_ACCEPT_XK, NULL) != UM_OK ||
		    link_hs_input(&res, m1, l1, &consumed, m2, sizeof(m2), &l2, 1) != UM_OK)
			abort(); /* the genuine first flight must work */
		feed(&res, data + 1, size - 1);
		link_hs_clear(&ini);
		link_hs_clear(&res);
		break;
	}
	return 0;
}
