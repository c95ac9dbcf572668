/* SPDX-License-Identifier: MIT */
/*
 * ChaCha20 through OpenSSL EVP. EVP_chacha20() takes a 16-byte IV = block counter (4 bytes,
 * LE) | nonce (12 bytes); re-initialising the context with only an IV keeps the key schedule
 * and resets the keystream position, so one context serves every call.
 */
#include "crypto/stream.h"

#include <openssl/evp.h>

#include "lib/err.h"

int
stream_chacha20_init(struct stream_chacha20 *s, const uint8_t key[STREAM_KEY_LEN])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	s->ctx = NULL;
	if (ctx == NULL)
		return UM_ERR_NOMEM;
	if (EVP_CipherInit_ex2(ctx, EVP_chacha20(), key, NULL, 1, NULL) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return UM_ERR_CRYPTO;
	}
	s->ctx = ctx;
	return UM_OK;
}

int
stream_chacha20_xor(struct stream_chacha20 *s, const uint8_t nonce[STREAM_NONCE_LEN],
                    uint32_t block_counter, const uint8_t *in, uint8_t *out, size_t len)
{
	uint8_t iv[4 + STREAM_NONCE_LEN];
	uint64_t blocks = ((uint64_t)len + STREAM_BLOCK_LEN - 1) / STREAM_BLOCK_LEN;
	int outl = 0;

	if (s->ctx == NULL)
		return UM_ERR_STATE;
	/* RFC 8439 2.4: the counter is 32 bits; past 2^32 blocks the keystream would repeat (or,
	 * in OpenSSL, carry into the nonce). Refuse rather than depend on either. */
	if (len > INT32_MAX || (uint64_t)block_counter + blocks > ((uint64_t)1 << 32))
		return UM_ERR_TOO_LARGE;
	if (len == 0)
		return UM_OK;
	for (int i = 0; i < 4; i++)
		iv[i] = (uint8_t)(block_counter >> (8 * i));
	for (size_t i = 0; i < STREAM_NONCE_LEN; i++)
		iv[4 + i] = nonce[i];
	if (EVP_CipherInit_ex2(s->ctx, NULL, NULL, iv, 1, NULL) != 1)
		return UM_ERR_CRYPTO;
	if (EVP_CipherUpdate(s->ctx, out, &outl, in, (int)len) != 1 || outl != (int)len)
		return UM_ERR_CRYPTO;
	return UM_OK;
}

void
stream_chacha20_clear(struct stream_chacha20 *s)
{
	if (s->ctx != NULL)
		EVP_CIPHER_CTX_free(s->ctx);
	s->ctx = NULL;
}
