/* SPDX-License-Identifier: MIT */
/*
 * Fuzz consensus-diff application against a fixed base consensus (the seed builder's
 * CDIFF_SEED_BASE_N relays): a diff either fails with TRUNCATED or MALFORMED, or yields a
 * consensus whose encoding is exactly the returned bytes and whose digest is the diff's
 * `to`; a diff re-made from base to that result applies to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "crypto/crypto.h"
#include "directory/consensus.h"
#include "directory/consensus_diff.h"
#include "consensus_diff_seed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct consensus base;
static int ready;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct consensus got, again;
	uint8_t from[DIR_DIGEST_LEN], to[DIR_DIGEST_LEN];
	uint8_t *out, *enc, *diff, *out2;
	size_t len, elen, dlen, len2;
	int ret;

	if (!ready) {
		if (um_crypto_init() != UM_OK ||
		    cdiff_seed_consensus(&base, CDIFF_SEED_BASE_VA, CDIFF_SEED_BASE_N, 0, 0) !=
		            UM_OK)
			abort();
		ready = 1;
	}
	ret = consensus_diff_apply(&base, data, size, &got, &out, &len);
	if (ret != UM_OK) {
		if (ret != UM_ERR_TRUNCATED && ret != UM_ERR_MALFORMED)
			abort();
		return 0;
	}
	if (consensus_diff_peek(data, size, from, to) != UM_OK ||
	    memcmp(to, got.digest, DIR_DIGEST_LEN) != 0 ||
	    memcmp(from, base.digest, DIR_DIGEST_LEN) != 0)
		abort();
	if (consensus_encode_new(&got, &enc, &elen) != UM_OK || elen != len ||
	    memcmp(enc, out, len) != 0)
		abort();
	if (consensus_diff_make(&base, &got, out, len, &diff, &dlen) != UM_OK ||
	    consensus_diff_apply(&base, diff, dlen, &again, &out2, &len2) != UM_OK || len2 != len ||
	    memcmp(out2, out, len) != 0)
		abort();
	consensus_clear(&again);
	consensus_clear(&got);
	free(out);
	free(out2);
	free(enc);
	free(diff);
	return 0;
}
