/* SPDX-License-Identifier: MIT */
/* BLAKE2b, HMAC-BLAKE2b, Noise HKDF and SHA-256 on libsodium. */
#include "crypto/hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <sodium.h>

void
hash_blake2b(uint8_t *out, size_t out_len, const void *in, size_t in_len, const uint8_t *key,
             size_t key_len)
{
	crypto_generichash(out, out_len, in, in_len, key, key != NULL ? key_len : 0);
}

void
hash_blake2b_2(uint8_t out[BLAKE2B_LEN], const void *a, size_t a_len, const void *b, size_t b_len)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, BLAKE2B_LEN);
	crypto_generichash_update(&st, a, a_len);
	crypto_generichash_update(&st, b, b_len);
	crypto_generichash_final(&st, out, BLAKE2B_LEN);
	sodium_memzero(&st, sizeof(st));
}

void
hmac_blake2b(uint8_t out[BLAKE2B_LEN], const uint8_t *key, size_t key_len, const void *in,
             size_t in_len)
{
	uint8_t k[BLAKE2B_BLOCK_LEN] = { 0 };
	uint8_t pad[BLAKE2B_BLOCK_LEN];
	uint8_t inner[BLAKE2B_LEN];
	crypto_generichash_state st;

	if (key_len > BLAKE2B_BLOCK_LEN)
		crypto_generichash(k, BLAKE2B_LEN, key, key_len, NULL, 0);
	else if (key_len > 0)
		memcpy(k, key, key_len);

	for (size_t i = 0; i < BLAKE2B_BLOCK_LEN; i++)
		pad[i] = k[i] ^ 0x36;
	crypto_generichash_init(&st, NULL, 0, BLAKE2B_LEN);
	crypto_generichash_update(&st, pad, sizeof(pad));
	crypto_generichash_update(&st, in, in_len);
	crypto_generichash_final(&st, inner, sizeof(inner));

	for (size_t i = 0; i < BLAKE2B_BLOCK_LEN; i++)
		pad[i] = k[i] ^ 0x5c;
	crypto_generichash_init(&st, NULL, 0, BLAKE2B_LEN);
	crypto_generichash_update(&st, pad, sizeof(pad));
	crypto_generichash_update(&st, inner, sizeof(inner));
	crypto_generichash_final(&st, out, BLAKE2B_LEN);

	sodium_memzero(k, sizeof(k));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
	sodium_memzero(&st, sizeof(st));
}

void
kdf_noise_blake2b(uint8_t o1[BLAKE2B_LEN], uint8_t o2[BLAKE2B_LEN], uint8_t *o3,
                  const uint8_t ck[BLAKE2B_LEN], const uint8_t *ikm, size_t ikm_len)
{
	uint8_t temp[BLAKE2B_LEN];
	uint8_t in[BLAKE2B_LEN + 1];
	uint8_t t1[BLAKE2B_LEN];

	hmac_blake2b(temp, ck, BLAKE2B_LEN, ikm, ikm_len);
	in[0] = 0x01;
	hmac_blake2b(t1, temp, BLAKE2B_LEN, in, 1);
	memcpy(in, t1, BLAKE2B_LEN);
	in[BLAKE2B_LEN] = 0x02;
	hmac_blake2b(o2, temp, BLAKE2B_LEN, in, sizeof(in));
	if (o3 != NULL) {
		memcpy(in, o2, BLAKE2B_LEN);
		in[BLAKE2B_LEN] = 0x03;
		hmac_blake2b(o3, temp, BLAKE2B_LEN, in, sizeof(in));
	}
	memcpy(o1, t1, BLAKE2B_LEN);
	sodium_memzero(temp, sizeof(temp));
	sodium_memzero(in, sizeof(in));
	sodium_memzero(t1, sizeof(t1));
}

void
hash_sha256(uint8_t out[SHA256_LEN], const void *in, size_t in_len)
{
	crypto_hash_sha256(out, in, in_len);
}

void
hmac_sha256(uint8_t out[SHA256_LEN], const uint8_t *key, size_t key_len, const void *in,
            size_t in_len)
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, key_len);
	crypto_auth_hmacsha256_update(&st, in, in_len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void
hash_sha256_init(struct hash_sha256_ctx *c)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		fprintf(stderr, "umbra: EVP SHA-256 unavailable\n");
		abort();
	}
	c->md = md;
}

void
hash_sha256_update(struct hash_sha256_ctx *c, const void *in, size_t len)
{
	if (EVP_DigestUpdate(c->md, in, len) != 1)
		abort();
}

void
hash_sha256_final(struct hash_sha256_ctx *c, uint8_t out[SHA256_LEN])
{
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(c->md, out, &n) != 1 || n != SHA256_LEN)
		abort();
	hash_sha256_abort(c);
}

void
hash_sha256_abort(struct hash_sha256_ctx *c)
{
	EVP_MD_CTX_free(c->md);
	c->md = NULL;
}
