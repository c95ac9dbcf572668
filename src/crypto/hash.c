/* SPDX-License-Identifier: MIT */
/* BLAKE2b (one-shot and streaming), HMAC-BLAKE2b, Noise HKDF, SHA-256, HMAC-SHA256 and
 * HKDF-SHA256 on libsodium; streaming SHA-256 on OpenSSL EVP. */
#include "crypto/hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "lib/err.h"

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

int
kdf_hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *salt, size_t salt_len,
                const uint8_t *ikm, size_t ikm_len, const uint8_t *info, size_t info_len)
{
	uint8_t prk[SHA256_LEN];
	uint8_t t[SHA256_LEN];
	crypto_auth_hmacsha256_state st;
	size_t done = 0;

	if (out_len == 0 || out_len > HKDF_SHA256_MAX_OUT)
		return UM_ERR_INVALID;
	/* Extract. */
	hmac_sha256(prk, salt, salt_len, ikm, ikm_len);
	/* Expand: T(i) = HMAC(PRK, T(i-1) | info | i), T(0) empty, i = 1..255. */
	for (unsigned i = 1; done < out_len; i++) {
		uint8_t ctr = (uint8_t)i;
		size_t n = UM_MIN(out_len - done, (size_t)SHA256_LEN);

		crypto_auth_hmacsha256_init(&st, prk, sizeof(prk));
		if (i > 1)
			crypto_auth_hmacsha256_update(&st, t, sizeof(t));
		crypto_auth_hmacsha256_update(&st, info, info_len);
		crypto_auth_hmacsha256_update(&st, &ctr, 1);
		crypto_auth_hmacsha256_final(&st, t);
		memcpy(out + done, t, n);
		done += n;
	}
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(t, sizeof(t));
	sodium_memzero(&st, sizeof(st));
	return UM_OK;
}

_Static_assert(sizeof(struct hash_blake2b_state) >= sizeof(crypto_generichash_state),
               "hash_blake2b_state too small for crypto_generichash_state");
_Static_assert(_Alignof(struct hash_blake2b_state) >= _Alignof(crypto_generichash_state),
               "hash_blake2b_state under-aligned");

static crypto_generichash_state *
gh(struct hash_blake2b_state *st)
{
	return (crypto_generichash_state *)(void *)st->opaque;
}

void
hash_blake2b_init(struct hash_blake2b_state *st, const uint8_t *key, size_t key_len, size_t out_len)
{
	if (crypto_generichash_init(gh(st), key, key != NULL ? key_len : 0, out_len) != 0)
		abort(); /* a local caller broke the length contract */
}

void
hash_blake2b_update(struct hash_blake2b_state *st, const void *in, size_t len)
{
	crypto_generichash_update(gh(st), in, len);
}

void
hash_blake2b_final(struct hash_blake2b_state *st, uint8_t *out, size_t out_len)
{
	if (crypto_generichash_final(gh(st), out, out_len) != 0)
		abort();
	hash_blake2b_wipe(st);
}

void
hash_blake2b_wipe(struct hash_blake2b_state *st)
{
	sodium_memzero(st, sizeof(*st));
}
