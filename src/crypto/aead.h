/* SPDX-License-Identifier: MIT */
/*
 * ChaCha20-Poly1305 (RFC 8439) with Noise's nonce layout (4 zero bytes || LE64 counter), on
 * OpenSSL EVP (PROTOCOLS.md: bulk symmetric crypto goes through EVP). One struct aead per key
 * and direction; its EVP context is allocated once and reused for every record, so the data
 * path never allocates. Not thread-safe: one owner.
 */
#ifndef UM_CRYPTO_AEAD_H
#define UM_CRYPTO_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"

enum aead_limits {
	AEAD_KEY_LEN = 32,
	AEAD_TAG_LEN = 16,
	AEAD_NONCE_LEN = 12,
};

struct aead {
	void *ctx; /* EVP_CIPHER_CTX */
	bool encrypt;
};

/* Set up a context for one direction with key. Call aead_clear() when done. */
int aead_init(struct aead *a, const uint8_t key[AEAD_KEY_LEN], bool encrypt) UM_WARN_UNUSED;
/* Replace the key (Noise Rekey, handshake MixKey). */
int aead_set_key(struct aead *a, const uint8_t key[AEAD_KEY_LEN]) UM_WARN_UNUSED;
/* Encrypt len bytes at pt into out (len + AEAD_TAG_LEN bytes; out may equal pt). */
int aead_seal(struct aead *a, uint64_t n, const uint8_t *ad, size_t ad_len, const uint8_t *pt,
              size_t len, uint8_t *out) UM_WARN_UNUSED;
/* Decrypt len bytes (ciphertext || tag, len >= AEAD_TAG_LEN) into out (len - 16 bytes; out may
 * equal ct). UM_ERR_AUTH if the tag does not verify; out is then zeroed. */
int aead_open(struct aead *a, uint64_t n, const uint8_t *ad, size_t ad_len, const uint8_t *ct,
              size_t len, uint8_t *out) UM_WARN_UNUSED;
void aead_clear(struct aead *a);

#endif /* UM_CRYPTO_AEAD_H */
