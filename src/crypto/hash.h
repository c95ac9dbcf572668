/* SPDX-License-Identifier: MIT */
/*
 * Hashes, MACs and KDFs: BLAKE2b (libsodium, one-shot and a copyable streaming state), RFC 2104
 * HMAC over BLAKE2b-512 with a 128-byte block (what Noise's HMAC-HASH means; not BLAKE2b's
 * keyed mode), Noise's HKDF over it, and SHA-256 / HMAC-SHA256 / HKDF-SHA256 (RFC 5869) for
 * Tor-compatible constructions.
 */
#ifndef UM_CRYPTO_HASH_H
#define UM_CRYPTO_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"

enum hash_limits {
	BLAKE2B_LEN = 64, /* BLAKE2b-512 output, Noise HASHLEN */
	BLAKE2B_BLOCK_LEN = 128,
	BLAKE2B_256_LEN = 32,
	SHA256_LEN = 32,
	BLAKE2B_KEY_MAX = 64,
	HKDF_SHA256_MAX_OUT = 255 * SHA256_LEN, /* RFC 5869: L <= 255 * HashLen */
};

/* out_len in [16, 64]; key may be NULL (unkeyed) or 16..64 bytes (BLAKE2b keyed mode). */
void hash_blake2b(uint8_t *out, size_t out_len, const void *in, size_t in_len, const uint8_t *key,
                  size_t key_len);
/* BLAKE2b-512 over the concatenation of two inputs. */
void hash_blake2b_2(uint8_t out[BLAKE2B_LEN], const void *a, size_t a_len, const void *b,
                    size_t b_len);
/* HMAC-BLAKE2b-512 (RFC 2104, B = 128). Any key length (long keys are hashed first). */
void hmac_blake2b(uint8_t out[BLAKE2B_LEN], const uint8_t *key, size_t key_len, const void *in,
                  size_t in_len);
/*
 * Noise HKDF(ck, ikm) over HMAC-BLAKE2b: o1 = HMAC(temp, 0x01), o2 = HMAC(temp, o1 || 0x02),
 * o3 = HMAC(temp, o2 || 0x03) with temp = HMAC(ck, ikm). o3 may be NULL (two outputs).
 */
void kdf_noise_blake2b(uint8_t o1[BLAKE2B_LEN], uint8_t o2[BLAKE2B_LEN], uint8_t *o3,
                       const uint8_t ck[BLAKE2B_LEN], const uint8_t *ikm, size_t ikm_len);

void hash_sha256(uint8_t out[SHA256_LEN], const void *in, size_t in_len);
void hmac_sha256(uint8_t out[SHA256_LEN], const uint8_t *key, size_t key_len, const void *in,
                 size_t in_len);

/*
 * HKDF-SHA256 (RFC 5869): PRK = HMAC-SHA256(key = salt, ikm); out = T(1) | T(2) | ... cut to
 * out_len, T(i) = HMAC-SHA256(PRK, T(i-1) | info | i). out_len in [1, HKDF_SHA256_MAX_OUT]
 * (UM_ERR_INVALID otherwise, out untouched). Intermediates are wiped.
 */
int kdf_hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *salt, size_t salt_len,
                    const uint8_t *ikm, size_t ikm_len, const uint8_t *info,
                    size_t info_len) UM_WARN_UNUSED;

/*
 * Streaming BLAKE2b (libsodium crypto_generichash), optionally keyed. The state is a plain
 * struct with no pointers: copy it by assignment to fork a running hash (e.g. to read a digest
 * without ending it). It holds key-derived secrets: wipe it with hash_blake2b_wipe().
 */
struct hash_blake2b_state {
	_Alignas(64) uint8_t opaque[384]; /* crypto_generichash_state, checked in hash.c */
};
/* out_len in [16, 64]; key NULL/0 (unkeyed) or 16..BLAKE2B_KEY_MAX bytes. */
void hash_blake2b_init(struct hash_blake2b_state *st, const uint8_t *key, size_t key_len,
                       size_t out_len);
void hash_blake2b_update(struct hash_blake2b_state *st, const void *in, size_t len);
/* Write the digest (out_len as given to init) and wipe the state. */
void hash_blake2b_final(struct hash_blake2b_state *st, uint8_t *out, size_t out_len);
void hash_blake2b_wipe(struct hash_blake2b_state *st);

/* Streaming SHA-256 (OpenSSL EVP, hardware-accelerated where the CPU has SHA extensions). */
struct hash_sha256_ctx {
	void *md; /* EVP_MD_CTX */
};
void hash_sha256_init(struct hash_sha256_ctx *c);
void hash_sha256_update(struct hash_sha256_ctx *c, const void *in, size_t len);
/* Write the digest and release the context (init again to reuse). */
void hash_sha256_final(struct hash_sha256_ctx *c, uint8_t out[SHA256_LEN]);
/* Release without a digest (safe on a finalised or zeroed context). */
void hash_sha256_abort(struct hash_sha256_ctx *c);

#endif /* UM_CRYPTO_HASH_H */
