/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the provider upsert framing (src/directory/dir_provider_parse.c, PROTOCOL.md 18.4):
 * only the whole input, TRUNCATED or MALFORMED may come back; a parsed upsert respects its
 * length rules, its views lie inside the input, and it re-encodes to exactly the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "directory/dir_provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[DIR_PROVIDER_MAX_LEN];
	struct dir_provider_upsert u;
	struct wire_wr w;
	ssize_t n;

	n = dir_provider_upsert_parse(data, size, &u);
	if (n < 0) {
		if (n != UM_ERR_TRUNCATED && n != UM_ERR_MALFORMED)
			abort();
		return 0;
	}
	if ((size_t)n != size || size > DIR_PROVIDER_MAX_LEN || u.token_len == 0 ||
	    u.token_len > DIR_PROVIDER_TOKEN_MAX || u.desc_len == 0 ||
	    u.desc_len > RELAY_DESC_MAX_LEN || u.token < data ||
	    u.token + u.token_len > data + size || u.desc < data ||
	    u.desc + u.desc_len != data + size)
		abort();
	wire_wr_init(&w, out, sizeof(out));
	if (dir_provider_upsert_encode(&u, &w) != UM_OK || w.len != size ||
	    memcmp(out, data, size) != 0)
		abort();
	return 0;
}
