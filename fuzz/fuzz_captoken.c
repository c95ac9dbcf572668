/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the capability token parser and verifier (src/trust/captoken, PROTOCOL.md 18.2). Only
 * a byte count, TRUNCATED or MALFORMED may come back from the parser; a parsed token respects
 * every rule (ids, audience, role, tier, lifetime), re-encodes to exactly the bytes consumed,
 * and never verifies against a fixed issuer key whose secret nobody has (that would be a
 * forgery): verification reaches the signature check for tokens naming that issuer (corpus).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "trust/captoken.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not a point anyone knows the secret of: the base point's encoding with a bit flipped. */
static const uint8_t fixed_issuer[32] = { 0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
	                                  0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
	                                  0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
	                                  0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x67 };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	struct issuer_revocations *revs;
	uint8_t out[CAPTOKEN_MAX_LEN], zero[64] = { 0 };
	struct captoken_check chk;
	struct captoken t;
	struct wire_wr w;
	ssize_t n;

	if (!init) {
		if (um_crypto_init() != UM_OK)
			abort();
		init = true;
	}
	n = captoken_parse(data, size, &t);
	if (n < 0) {
		if (n != UM_ERR_TRUNCATED && n != UM_ERR_MALFORMED)
			abort();
		return 0;
	}
	if ((size_t)n > size || (size_t)n > CAPTOKEN_MAX_LEN || (size_t)n < CAPTOKEN_MIN_LEN ||
	    t.version != CAPTOKEN_VERSION || !issuer_id_is_valid(t.sub) ||
	    !captoken_aud_is_valid(t.aud) || !captoken_role_is_valid(t.role) || t.tier < 1 ||
	    t.tier > 15 || t.exp_s <= t.iat_s || t.exp_s - t.iat_s > CAPTOKEN_LIFETIME_MAX_S)
		abort();
	wire_wr_init(&w, out, sizeof(out));
	if (captoken_encode(&t, &w) != UM_OK || w.len != (size_t)n || memcmp(out, data, w.len) != 0)
		abort();
	revs = calloc(1, sizeof(*revs));
	if (revs == NULL)
		abort();
	memset(&chk, 0, sizeof(chk));
	chk.issuer = fixed_issuer;
	chk.revs = revs;
	chk.aud = t.aud;
	chk.role = t.role;
	chk.audience_id = zero;
	chk.digest = zero;
	chk.pop_sig = zero;
	chk.now_s = t.iat_s;
	chk.pop_time_s = t.iat_s;
	if (captoken_verify(data, (size_t)n, &chk, NULL) == CAPTOKEN_OK)
		abort();
	free(revs);
	return 0;
}
