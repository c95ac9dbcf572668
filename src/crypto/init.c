/* SPDX-License-Identifier: MIT */
/* libsodium initialisation and randomness wrappers. */
#include "crypto/crypto.h"

#include <sodium.h>

#include "lib/err.h"

int
um_crypto_init(void)
{
	if (sodium_init() < 0)
		return UM_ERR_CRYPTO;
	return UM_OK;
}

void
rand_bytes(void *buf, size_t n)
{
	randombytes_buf(buf, n);
}

uint32_t
rand_uniform(uint32_t upper)
{
	return randombytes_uniform(upper);
}

uint64_t
rand_u64(void)
{
	uint64_t v;

	randombytes_buf(&v, sizeof(v));
	return v;
}
