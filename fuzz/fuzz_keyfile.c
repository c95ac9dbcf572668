/* SPDX-License-Identifier: MIT */
/* Fuzz the key-file parser; whatever parses must re-encode to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum keyfile_type type;
	uint8_t secret[X25519_KEY_LEN];
	char out[KEYFILE_MAX_LEN];
	size_t len;

	if (um_crypto_init() != UM_OK)
		abort();
	if (keyfile_parse(data, size, &type, secret) == UM_OK) {
		if (keyfile_encode(type, secret, out, sizeof(out), &len) != UM_OK || len != size ||
		    memcmp(out, data, size) != 0)
			abort();
	}
	return 0;
}
