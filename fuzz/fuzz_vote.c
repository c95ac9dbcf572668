/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the vote parser: a parsed vote must re-encode to exactly the bytes it was parsed from
 * (the format is canonical), and verification of whatever parsed must return an error code,
 * never crash. Parse errors are only ever TRUNCATED or MALFORMED.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "directory/vote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vote v, v2;
	uint8_t *out;
	size_t len = 0;
	ssize_t n = vote_parse(data, size, &v);
	int ret;

	if (n < 0) {
		if (n != UM_ERR_TRUNCATED && n != UM_ERR_MALFORMED)
			abort();
		return 0;
	}
	if ((size_t)n > size || vote_encoded_len(&v) != (size_t)n)
		abort();
	if (vote_encode_new(&v, &out, &len) != UM_OK || len != (size_t)n ||
	    memcmp(out, data, len) != 0)
		abort();
	free(out);
	/* Signatures will almost never verify; the point is that every path returns. */
	if (vote_verify(&v, v.valid_after_s) > 0)
		abort();
	ret = vote_parse_verify(data, (size_t)n, v.valid_after_s, &v2);
	if (ret > 0)
		abort();
	if (ret == UM_OK)
		vote_clear(&v2);
	vote_clear(&v);
	return 0;
}
