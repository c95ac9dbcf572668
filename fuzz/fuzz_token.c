/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the anonymous tier token parser (src/trust/token). Only UM_OK, TRUNCATED, MALFORMED and
 * TRAILING may come back. A parsed token must respect every range (version 1, tier 1..15,
 * sig_len 256..512, exact length), re-encode to exactly the input bytes, and never verify
 * against a fixed 2048-bit public key (that would be a forgery); the corpus has tokens naming
 * that key, so verification runs the whole way to the RSA check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/wire.h"
#include "crypto/blindrsa.h"
#include "crypto/crypto.h"
#include "trust/token.h"

/* A 2048-bit RSA public key (e = 65537), key_id c627f438...966020d7. */
static const char fixed_spki[] =
        "30820122300d06092a864886f70d01010105000382010f003082010a0282010100d49e1d0d832e3d"
        "57bf3d2a6a2775418f682f77994ec247e0bf7855acb27cf4aa9b16aa69c84e8dcee28a9b32346ee6"
        "ca9939b3ab031c5cd91fbac28565b503b8ca1513fa566873e93c6efcbf818f7a22120309e52e2f28"
        "d65f4f48c18bd2a2ee3c63895c18cb6d0717f22e61c6594e16077ad0b14da88fdd97035c5d262308"
        "0d2376bc311d404514eb4a49d2e4adec735d02f94ead992d6d2c8ade4a913c8c521a2beefe346533"
        "c5b19d1f547d6f2fc8cc019be70f3af3d198e46f2bd503300b93481cbea6135864f7b8a7d13b7981"
        "61f818e71f5a386c369d042f159527f586bbcc766cd883a9438731efbfca4a019b02022c03f44b15"
        "b4488ce2176afcb7110203010001";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Imported once and kept for the process (reachable, not a leak). */
static struct blindrsa_key *
fixed_key(void)
{
	static struct blindrsa_key *pk;
	uint8_t der[BLINDRSA_SPKI_MAX];
	ssize_t n;

	if (pk != NULL)
		return pk;
	n = dec_hex(der, sizeof(der), fixed_spki, strlen(fixed_spki));
	if (um_crypto_init() != UM_OK || n <= 0 || blindrsa_pk_import(der, (size_t)n, &pk) != UM_OK)
		abort();
	return pk;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct blindrsa_key *pk = fixed_key();
	uint8_t out[TOKEN_MAX_LEN], input[TOKEN_INPUT_LEN], msg[TOKEN_MSG_LEN];
	struct wire_wr w;
	struct token t;
	int ret;

	ret = token_parse(data, size, &t);
	if (ret != UM_OK && ret != UM_ERR_TRUNCATED && ret != UM_ERR_MALFORMED &&
	    ret != UM_ERR_TRAILING)
		abort();
	if (ret != UM_OK)
		return 0;
	if (t.version != TOKEN_VERSION || t.tier < TOKEN_TIER_MIN || t.tier > TOKEN_TIER_MAX ||
	    t.sig_len < TOKEN_SIG_MIN || t.sig_len > TOKEN_SIG_MAX ||
	    size != (size_t)TOKEN_HEADER_LEN + t.sig_len)
		abort();
	/* Strict parse: the encoding is the input, byte for byte. */
	wire_wr_init(&w, out, sizeof(out));
	if (token_encode(&t, &w) != UM_OK || w.len != size || memcmp(out, data, size) != 0)
		abort();
	token_message(&t, msg);
	token_input(&t, input);
	if (memcmp(input, t.nonce, TOKEN_NONCE_LEN) != 0 ||
	    memcmp(input + TOKEN_NONCE_LEN, msg, sizeof(msg)) != 0 ||
	    memcmp(msg, TOKEN_LABEL, TOKEN_LABEL_LEN) != 0)
		abort();
	ret = token_verify(&t, pk, t.tier, t.key_epoch);
	if (ret != UM_ERR_AUTH)
		abort();
	return 0;
}
