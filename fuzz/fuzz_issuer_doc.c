/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the issuer's signed documents (trust/issuer_doc.h): the first byte picks the key list
 * or the revocation feed; what parses must encode back to the same bytes, and the whole
 * check against a fixed identity must never accept it (nobody here holds that key).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "trust/issuer_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t id[32] = { 1, 2, 3 };
	static struct issuer_keys k;
	static struct issuer_revocations r;
	static uint8_t out[ISSUER_KEYS_MAX_LEN > ISSUER_REVS_MAX_LEN ? ISSUER_KEYS_MAX_LEN
	                                                             : ISSUER_REVS_MAX_LEN];
	struct wire_wr w;
	ssize_t n;

	if (size < 1)
		return 0;
	wire_wr_init(&w, out, sizeof(out));
	if (data[0] & 1) {
		if ((n = issuer_keys_parse(data + 1, size - 1, &k)) >= 0) {
			if (issuer_keys_encode(&k, &w) != UM_OK || w.len != (size_t)n ||
			    memcmp(out, data + 1, w.len) != 0)
				abort();
		}
		if (issuer_keys_parse_verify(data + 1, size - 1, id, 1000, &k) == UM_OK)
			abort();
	} else {
		if ((n = issuer_revocations_parse(data + 1, size - 1, &r)) >= 0) {
			if (issuer_revocations_encode(&r, &w) != UM_OK || w.len != (size_t)n ||
			    memcmp(out, data + 1, w.len) != 0)
				abort();
		}
		if (issuer_revocations_parse_verify(data + 1, size - 1, id, 1000, &r) == UM_OK)
			abort();
	}
	return 0;
}
