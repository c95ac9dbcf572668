/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the identified TOKEN framing (src/trust/idtoken, PROTOCOL.md 18.5) and the exit's
 * verdict on it (src/trust/token_verifier). The parser returns only OK, TRUNCATED, MALFORMED
 * or TRAILING; a parsed one re-encodes to exactly the input; and the exit's verifier, holding
 * an empty revocation feed of a fixed issuer nobody has the secret of, never accepts it (that
 * would be a forgery) and gives a verdict of the TOKEN_ACK range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "trust/idtoken.h"
#include "trust/token_verifier.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not a point anyone knows the secret of (as fuzz_captoken.c). */
static const uint8_t fixed_issuer[32] = { 0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
	                                  0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
	                                  0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
	                                  0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x67 };
static const uint8_t exit_id[32] = { 1, 2, 3 };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct store *st;
	static struct token_verifier *tv;
	uint8_t out[IDTOKEN_MAX_LEN + 1], tier = 0;
	enum token_verdict v;
	struct idtoken it;
	struct wire_wr w;
	int ret;

	if (tv == NULL) {
		if (um_crypto_init() != UM_OK ||
		    store_open(STORE_PATH_MEMORY, NULL, &st, NULL, 0) != UM_OK ||
		    token_verifier_new(st, &tv, NULL, 0) != UM_OK ||
		    token_verifier_add_issuer(tv, fixed_issuer) != UM_OK)
			abort();
		token_verifier_set_audience(tv, exit_id);
	}
	ret = idtoken_parse(data, size, &it);
	if (ret == UM_OK) {
		if (size < IDTOKEN_MIN_LEN || size > IDTOKEN_MAX_LEN || it.cap != data + 1)
			abort();
		wire_wr_init(&w, out, sizeof(out));
		if (idtoken_encode(it.cap, it.cap_len, it.pop_time_s, it.pop_sig, &w) != UM_OK ||
		    w.len != size || memcmp(out, data, size) != 0)
			abort();
	} else if (ret != UM_ERR_TRUNCATED && ret != UM_ERR_MALFORMED && ret != UM_ERR_TRAILING) {
		abort();
	}
	v = token_verifier_spend(tv, fixed_issuer, data, size, 1800000000, &tier);
	if (v == TOKEN_VERDICT_ACCEPTED || (unsigned)v > TOKEN_VERDICT_MAX || tier != 0)
		abort();
	return 0;
}
