/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the issuer's relay-trust feed (trust/relay_trust.h): what parses must encode back to
 * the same bytes, and the whole check against a fixed identity must never accept it (nobody
 * here holds that key).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "trust/relay_trust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t id[32] = { 1, 2, 3 };
	static struct relay_trust d;
	static uint8_t out[RELAY_TRUST_MAX_LEN];
	struct wire_wr w;
	ssize_t n;

	wire_wr_init(&w, out, sizeof(out));
	if ((n = relay_trust_parse(data, size, &d)) >= 0) {
		if (relay_trust_encode(&d, &w) != UM_OK || w.len != (size_t)n ||
		    memcmp(out, data, w.len) != 0)
			abort();
	}
	if (relay_trust_parse_verify(data, size, id, 2000, &d) == UM_OK)
		abort();
	return 0;
}
