/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the descriptor bundle parser (docs/PROTOCOL.md 12.2): a parsed bundle must re-encode
 * to exactly the bytes it was parsed from (canonical: sorted, one descriptor per relay);
 * parse errors are only TRUNCATED or MALFORMED; every view stays inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "directory/dirfed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct desc_bundle b;
	uint8_t *out = NULL;
	size_t len = 0;
	char etag[65];
	ssize_t n;

	desc_bundle_init(&b);
	n = desc_bundle_parse(data, size, &b);
	if (n < 0) {
		if (n != UM_ERR_TRUNCATED && n != UM_ERR_MALFORMED)
			abort();
		return 0;
	}
	if ((size_t)n > size || b.n > DESC_BUNDLE_MAX_DESCS)
		abort();
	for (size_t i = 0; i < b.n; i++)
		if (b.e[i].desc < data || b.e[i].desc + b.e[i].len > data + n ||
		    b.e[i].hops > DESC_BUNDLE_MAX_HOPS)
			abort();
	if (desc_bundle_encode_new(&b, &out, &len) != UM_OK || len != (size_t)n ||
	    memcmp(out, data, len) != 0)
		abort();
	desc_bundle_etag(out, len, etag);
	if (strlen(etag) != 64)
		abort();
	free(out);
	desc_bundle_clear(&b);
	return 0;
}
