/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the authority key certificate parser: a parsed certificate must re-encode to exactly
 * the bytes it was parsed from (the format is canonical and fixed-size), and verifying it
 * must return an error code or UM_OK, never crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "directory/authority.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_cert c;
	uint8_t out[AUTHCERT_LEN];
	struct wire_wr w;
	ssize_t n = auth_cert_parse(data, size, &c);

	if (n < 0) {
		if (n != UM_ERR_TRUNCATED && n != UM_ERR_MALFORMED)
			abort();
		return 0;
	}
	if (n != AUTHCERT_LEN || (size_t)n > size)
		abort();
	wire_wr_init(&w, out, sizeof(out));
	if (auth_cert_encode(&c, &w) != UM_OK || w.len != (size_t)n ||
	    memcmp(out, data, w.len) != 0)
		abort();
	if (auth_cert_verify(&c, c.published_s) > 0)
		abort();
	return 0;
}
