/* SPDX-License-Identifier: MIT */
/*
 * ChaCha20-Poly1305 through OpenSSL EVP. The context keeps the key schedule; each record only
 * sets the 12-byte nonce, so a record costs one EVP init with an IV, one update and a tag.
 */
#include "crypto/aead.h"

#include <string.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "lib/err.h"
#include "lib/wire.h"

static void
nonce_make(uint8_t nonce[AEAD_NONCE_LEN], uint64_t n)
{
	memset(nonce, 0, 4);
	wire_store_u64_le(nonce + 4, n);
}

int
aead_init(struct aead *a, const uint8_t key[AEAD_KEY_LEN], bool encrypt)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	a->ctx = NULL;
	a->encrypt = encrypt;
	if (ctx == NULL)
		return UM_ERR_NOMEM;
	if (EVP_CipherInit_ex2(ctx, EVP_chacha20_poly1305(), key, NULL, encrypt ? 1 : 0, NULL) !=
	    1) {
		EVP_CIPHER_CTX_free(ctx);
		return UM_ERR_CRYPTO;
	}
	a->ctx = ctx;
	return UM_OK;
}

int
aead_set_key(struct aead *a, const uint8_t key[AEAD_KEY_LEN])
{
	if (a->ctx == NULL)
		return UM_ERR_STATE;
	if (EVP_CipherInit_ex2(a->ctx, NULL, key, NULL, a->encrypt ? 1 : 0, NULL) != 1)
		return UM_ERR_CRYPTO;
	return UM_OK;
}

int
aead_seal(struct aead *a, uint64_t n, const uint8_t *ad, size_t ad_len, const uint8_t *pt,
          size_t len, uint8_t *out)
{
	uint8_t nonce[AEAD_NONCE_LEN];
	int outl = 0;

	if (a->ctx == NULL || !a->encrypt || len > INT32_MAX || ad_len > INT32_MAX)
		return UM_ERR_STATE;
	nonce_make(nonce, n);
	if (EVP_CipherInit_ex2(a->ctx, NULL, NULL, nonce, 1, NULL) != 1)
		return UM_ERR_CRYPTO;
	if (ad_len > 0 && EVP_CipherUpdate(a->ctx, NULL, &outl, ad, (int)ad_len) != 1)
		return UM_ERR_CRYPTO;
	if (len > 0 && EVP_CipherUpdate(a->ctx, out, &outl, pt, (int)len) != 1)
		return UM_ERR_CRYPTO;
	if (EVP_CipherFinal_ex(a->ctx, out + len, &outl) != 1)
		return UM_ERR_CRYPTO;
	if (EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_LEN, out + len) != 1)
		return UM_ERR_CRYPTO;
	return UM_OK;
}

int
aead_open(struct aead *a, uint64_t n, const uint8_t *ad, size_t ad_len, const uint8_t *ct,
          size_t len, uint8_t *out)
{
	uint8_t nonce[AEAD_NONCE_LEN];
	uint8_t tag[AEAD_TAG_LEN];
	size_t pt_len;
	int outl = 0;

	if (a->ctx == NULL || a->encrypt || len > INT32_MAX || ad_len > INT32_MAX)
		return UM_ERR_STATE;
	if (len < AEAD_TAG_LEN)
		return UM_ERR_AUTH;
	pt_len = len - AEAD_TAG_LEN;
	/* Copy the tag first: out may overlap ct. */
	memcpy(tag, ct + pt_len, AEAD_TAG_LEN);
	nonce_make(nonce, n);
	if (EVP_CipherInit_ex2(a->ctx, NULL, NULL, nonce, 0, NULL) != 1)
		return UM_ERR_CRYPTO;
	if (ad_len > 0 && EVP_CipherUpdate(a->ctx, NULL, &outl, ad, (int)ad_len) != 1)
		return UM_ERR_CRYPTO;
	if (pt_len > 0 && EVP_CipherUpdate(a->ctx, out, &outl, ct, (int)pt_len) != 1)
		return UM_ERR_CRYPTO;
	if (EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN, tag) != 1)
		return UM_ERR_CRYPTO;
	if (EVP_CipherFinal_ex(a->ctx, out + pt_len, &outl) != 1) {
		sodium_memzero(out, pt_len);
		return UM_ERR_AUTH;
	}
	return UM_OK;
}

void
aead_clear(struct aead *a)
{
	if (a->ctx != NULL)
		EVP_CIPHER_CTX_free(a->ctx); /* cleanses the key schedule */
	a->ctx = NULL;
}
