/* SPDX-License-Identifier: MIT */
/*
 * Process-wide crypto set-up and randomness. The crypto/ module is the only user of libsodium's
 * primitives and of OpenSSL; everything above calls our names (hash_*, kdf_*, aead_*, keys_*,
 * sign_*, noise_*).
 */
#ifndef UM_CRYPTO_CRYPTO_H
#define UM_CRYPTO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"

/* Initialise libsodium (and check OpenSSL); call once before any other crypto function. */
int um_crypto_init(void) UM_WARN_UNUSED;
/* Fill buf with n bytes from the system CSPRNG. */
void rand_bytes(void *buf, size_t n);
/* A uniform random integer in [0, upper) (upper > 0). */
uint32_t rand_uniform(uint32_t upper);
uint64_t rand_u64(void);

#endif /* UM_CRYPTO_CRYPTO_H */
