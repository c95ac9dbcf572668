/* SPDX-License-Identifier: MIT */
/*
 * ChaCha20 through OpenSSL EVP. EVP_chacha20() takes a 16-byte IV = block counter (4 bytes,
 * LE) | nonce (12 bytes). ChaCha20 has no key schedule: its key is copied into the initial
 * state of every block. So one EVP context per thread serves every key (re-initialising it
 * with a key and IV resets the keystream position and costs a copy, ~20 ns next to ~400 ns
 * for a 509-byte cell), and a struct stream_chacha20 holds just its key. An EVP_CIPHER_CTX
 * keyed for ChaCha20 costs 512 bytes of heap in OpenSSL 3.0, and a relay used to hold two
 * per circuit: twice what the rest of an idle circuit costs (bench/RESULTS.md, issue #4).
 */
#include "crypto/stream.h"

#include <openssl/evp.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"

/* This thread's context, made on first use and kept for the life of the thread. */
static _Thread_local EVP_CIPHER_CTX *thread_ctx;

static EVP_CIPHER_CTX *
ctx_get(void)
{
	EVP_CIPHER_CTX *ctx;

	if (thread_ctx != NULL)
		return thread_ctx;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return NULL;
	if (EVP_CipherInit_ex2(ctx, EVP_chacha20(), NULL, NULL, 1, NULL) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	thread_ctx = ctx;
	return ctx;
}

int
stream_chacha20_init(struct stream_chacha20 *s, const uint8_t key[STREAM_KEY_LEN])
{
	memset(s, 0, sizeof(*s));
	/* Make the thread's context now, so a failure shows here and not on the data path. */
	if (ctx_get() == NULL)
		return UM_ERR_CRYPTO;
	memcpy(s->key, key, STREAM_KEY_LEN);
	s->keyed = true;
	return UM_OK;
}

int
stream_chacha20_xor(struct stream_chacha20 *s, const uint8_t nonce[STREAM_NONCE_LEN],
                    uint32_t block_counter, const uint8_t *in, uint8_t *out, size_t len)
{
	uint8_t iv[4 + STREAM_NONCE_LEN];
	uint64_t blocks = ((uint64_t)len + STREAM_BLOCK_LEN - 1) / STREAM_BLOCK_LEN;
	EVP_CIPHER_CTX *ctx;
	int outl = 0;

	if (!s->keyed)
		return UM_ERR_STATE;
	/* RFC 8439 2.4: the counter is 32 bits; past 2^32 blocks the keystream would repeat (or,
	 * in OpenSSL, carry into the nonce). Refuse rather than depend on either. */
	if (len > INT32_MAX || (uint64_t)block_counter + blocks > ((uint64_t)1 << 32))
		return UM_ERR_TOO_LARGE;
	if (len == 0)
		return UM_OK;
	if ((ctx = ctx_get()) == NULL)
		return UM_ERR_CRYPTO;
	for (int i = 0; i < 4; i++)
		iv[i] = (uint8_t)(block_counter >> (8 * i));
	for (size_t i = 0; i < STREAM_NONCE_LEN; i++)
		iv[4 + i] = nonce[i];
	if (EVP_CipherInit_ex2(ctx, NULL, s->key, iv, 1, NULL) != 1)
		return UM_ERR_CRYPTO;
	if (EVP_CipherUpdate(ctx, out, &outl, in, (int)len) != 1 || outl != (int)len)
		return UM_ERR_CRYPTO;
	return UM_OK;
}

void
stream_chacha20_clear(struct stream_chacha20 *s)
{
	static const uint8_t zero[STREAM_KEY_LEN + 4 + STREAM_NONCE_LEN];

	/* The thread's context may still hold this key (the last one used): overwrite it. */
	if (s->keyed && thread_ctx != NULL)
		(void)EVP_CipherInit_ex2(thread_ctx, NULL, zero, zero, 1, NULL);
	um_memzero(s, sizeof(*s));
}
