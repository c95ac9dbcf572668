/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the relay descriptor parser: a parsed descriptor must re-encode to exactly the bytes
 * it was parsed from (the format is canonical), and verification of whatever parsed must
 * return an error code, never crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "directory/descriptor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay_desc d;
	uint8_t out[RELAY_DESC_MAX_LEN];
	uint8_t digest[RELAY_DESC_DIGEST_LEN];
	struct wire_wr w;
	ssize_t n = relay_desc_parse(data, size, &d);
	int ret;

	if (n < 0) {
		if (n != UM_ERR_TRUNCATED && n != UM_ERR_MALFORMED)
			abort();
		return 0;
	}
	if ((size_t)n > size || (size_t)n > RELAY_DESC_MAX_LEN)
		abort();
	wire_wr_init(&w, out, sizeof(out));
	if (relay_desc_encode(&d, &w) != UM_OK || w.len != (size_t)n ||
	    memcmp(out, data, w.len) != 0)
		abort();
	relay_desc_digest(data, (size_t)n, digest);
	/* Signatures will almost never verify; the point is that every path returns. */
	ret = relay_desc_verify(&d, data, (size_t)n, d.published_s);
	if (ret > 0)
		abort();
	return 0;
}
