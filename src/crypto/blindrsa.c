/* SPDX-License-Identifier: MIT */
/*
 * RFC 9474 RSABSSA-SHA384 on OpenSSL 3 (see blindrsa.h for the flow). What comes from where:
 *   - keys, DER import/export, the issuer's RSASP1 (RSA-CRT with OpenSSL's base blinding, via
 *     EVP_PKEY_sign with RSA_NO_PADDING) and RSASSA-PSS verification: EVP_PKEY;
 *   - EMSA-PSS-ENCODE and MGF1 (RFC 8017 9.1.1, B.2.1): written here over EVP SHA-384, since
 *     OpenSSL 3 offers the encoded message only through deprecated RSA_* calls;
 *   - the client's blinding arithmetic (r, r^e, m * r^e, inv, z * inv): BIGNUM, with
 *     BN_FLG_CONSTTIME on the secrets, BN_mod_exp_mont_consttime, Montgomery multiplication,
 *     and the one modular inverse taken of a value masked by an independent random factor
 *     (RFC 9474 section 7.1 asks for side-channel-free blinding and unblinding).
 * Nothing here logs: callers decide what a failure means.
 */
#include "crypto/blindrsa.h"

#include <stdlib.h>
#include <string.h>

/* Refuse every deprecated OpenSSL API at compile time (the RSA_* family included). */
#define OPENSSL_NO_DEPRECATED
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "crypto/hash.h"

enum {
	/* Draws of r and b in [0, n) that keep failing to invert mean n is no RSA modulus. */
	BLIND_MAX_TRIES = 16,
};

struct blindrsa_key {
	EVP_PKEY *pkey;
	BIGNUM *n;
	BIGNUM *e;
	BN_MONT_CTX *mont; /* Montgomery context for n; read-only after creation */
	size_t k_len;      /* modulus bytes */
	unsigned bits;     /* modulus bits */
	bool priv;
	uint8_t id[BLINDRSA_KEY_ID_LEN];
};

static bool
variant_ok(enum blindrsa_variant v)
{
	switch (v) {
	case BLINDRSA_PSS_RANDOMIZED:
	case BLINDRSA_PSSZERO_RANDOMIZED:
	case BLINDRSA_PSS_DETERMINISTIC:
	case BLINDRSA_PSSZERO_DETERMINISTIC:
		return true;
	}
	return false;
}

size_t
blindrsa_variant_salt_len(enum blindrsa_variant v)
{
	return v == BLINDRSA_PSS_RANDOMIZED || v == BLINDRSA_PSS_DETERMINISTIC ? BLINDRSA_SALT_LEN
	                                                                       : 0;
}

bool
blindrsa_variant_randomized(enum blindrsa_variant v)
{
	return v == BLINDRSA_PSS_RANDOMIZED || v == BLINDRSA_PSSZERO_RANDOMIZED;
}

/* ---- keys ---------------------------------------------------------------------------------- */

void
blindrsa_key_free_(struct blindrsa_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	BN_free(k->n);
	BN_free(k->e);
	BN_MONT_CTX_free(k->mont);
	um_memzero(k, sizeof(*k));
	free(k);
}

size_t
blindrsa_key_len(const struct blindrsa_key *k)
{
	return k->k_len;
}

unsigned
blindrsa_key_bits(const struct blindrsa_key *k)
{
	return k->bits;
}

bool
blindrsa_key_has_private(const struct blindrsa_key *k)
{
	return k->priv;
}

void
blindrsa_key_id(const struct blindrsa_key *k, uint8_t id[BLINDRSA_KEY_ID_LEN])
{
	memcpy(id, k->id, BLINDRSA_KEY_ID_LEN);
}

/* DER SubjectPublicKeyInfo of pkey into out (cap bytes). */
static int
spki_der(const EVP_PKEY *pkey, uint8_t *out, size_t cap, size_t *len)
{
	unsigned char *p = out;
	int n = i2d_PUBKEY(pkey, NULL);

	if (n <= 0)
		return UM_ERR_CRYPTO;
	if ((size_t)n > cap)
		return UM_ERR_TOO_LARGE;
	if (i2d_PUBKEY(pkey, &p) != n)
		return UM_ERR_CRYPTO;
	*len = (size_t)n;
	return UM_OK;
}

/* True when pkey holds the private exponent and the CRT factors (wiped copies). */
static bool
has_private(const EVP_PKEY *pkey)
{
	BIGNUM *d = NULL, *p = NULL;
	bool ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_D, &d) == 1 &&
	          EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR1, &p) == 1 &&
	          !BN_is_zero(d) && !BN_is_zero(p);

	BN_clear_free(d);
	BN_clear_free(p);
	return ok;
}

/*
 * Take pkey over (freed on error) and check it as untrusted: RSA (rsaEncryption, not RSA-PSS),
 * BLINDRSA_MIN_BITS..BLINDRSA_MAX_BITS, odd n, e = 65537, private parts if priv. If canon is
 * not NULL, the key's SPKI DER must be exactly canon (canonical encoding, one key id per key).
 */
static int
key_wrap(EVP_PKEY *pkey, bool priv, const uint8_t *canon, size_t canon_len,
         struct blindrsa_key **out)
{
	struct blindrsa_key *k = um_xcalloc(1, sizeof(*k));
	uint8_t der[BLINDRSA_SPKI_MAX];
	size_t der_len = 0;
	BN_CTX *bn = NULL;
	int bits, ret = UM_ERR_MALFORMED;

	*out = NULL;
	k->pkey = pkey;
	k->priv = priv;
	if (EVP_PKEY_is_a(pkey, "RSA") != 1)
		goto out;
	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &k->n) != 1 ||
	    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &k->e) != 1)
		goto out;
	bits = BN_num_bits(k->n);
	if (bits < BLINDRSA_MIN_BITS || bits > BLINDRSA_MAX_BITS || !BN_is_odd(k->n) ||
	    !BN_is_word(k->e, BLINDRSA_PUBLIC_EXPONENT))
		goto out;
	if (priv && !has_private(pkey))
		goto out;
	k->bits = (unsigned)bits;
	k->k_len = ((size_t)bits + 7) / 8;
	if ((ret = spki_der(pkey, der, sizeof(der), &der_len)) != UM_OK)
		goto out;
	if (canon != NULL && (canon_len != der_len || memcmp(canon, der, der_len) != 0)) {
		ret = UM_ERR_MALFORMED;
		goto out;
	}
	hash_blake2b(k->id, sizeof(k->id), der, der_len, NULL, 0);
	ret = UM_ERR_CRYPTO;
	if ((bn = BN_CTX_new()) == NULL || (k->mont = BN_MONT_CTX_new()) == NULL ||
	    BN_MONT_CTX_set(k->mont, k->n, bn) != 1)
		goto out;
	*out = k;
	k = NULL;
	ret = UM_OK;
out:
	BN_CTX_free(bn);
	blindrsa_key_free_(k);
	if (ret != UM_OK)
		ERR_clear_error();
	return ret;
}

int
blindrsa_key_generate(unsigned bits, struct blindrsa_key **out)
{
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	int ret = UM_ERR_CRYPTO;

	*out = NULL;
	if (bits < BLINDRSA_MIN_BITS || bits > BLINDRSA_MAX_BITS)
		return UM_ERR_INVALID;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) != 1 ||
	    EVP_PKEY_generate(ctx, &pkey) != 1) {
		EVP_PKEY_free(pkey);
		ERR_clear_error();
		goto out;
	}
	ret = key_wrap(pkey, true, NULL, 0, out);
	if (ret != UM_OK)
		ret = UM_ERR_CRYPTO;
out:
	EVP_PKEY_CTX_free(ctx);
	return ret;
}

int
blindrsa_pk_export(const struct blindrsa_key *k, uint8_t *out, size_t cap, size_t *len)
{
	int ret;

	*len = 0;
	ret = spki_der(k->pkey, out, cap, len);
	if (ret != UM_OK)
		ERR_clear_error();
	return ret;
}

int
blindrsa_pk_import(const uint8_t *der, size_t len, struct blindrsa_key **out)
{
	const unsigned char *p = der;
	EVP_PKEY *pkey;

	*out = NULL;
	if (len > BLINDRSA_SPKI_MAX)
		return UM_ERR_TOO_LARGE;
	if (der == NULL || len == 0)
		return UM_ERR_MALFORMED;
	pkey = d2i_PUBKEY(NULL, &p, (long)len);
	if (pkey == NULL || (size_t)(p - der) != len) {
		EVP_PKEY_free(pkey);
		ERR_clear_error();
		return UM_ERR_MALFORMED;
	}
	return key_wrap(pkey, false, der, len, out) == UM_OK ? UM_OK : UM_ERR_MALFORMED;
}

int
blindrsa_key_public(const struct blindrsa_key *k, struct blindrsa_key **out)
{
	uint8_t der[BLINDRSA_SPKI_MAX];
	size_t len;
	int ret;

	*out = NULL;
	if ((ret = blindrsa_pk_export(k, der, sizeof(der), &len)) != UM_OK)
		return ret;
	return blindrsa_pk_import(der, len, out);
}

int
blindrsa_sk_export(const struct blindrsa_key *k, uint8_t *out, size_t cap, size_t *len)
{
	OSSL_ENCODER_CTX *ec = NULL;
	unsigned char *data = NULL;
	size_t data_len = 0;
	int ret = UM_ERR_CRYPTO;

	*len = 0;
	if (!k->priv)
		return UM_ERR_INVALID;
	/* Encode into a buffer OpenSSL allocates (so a short cap is told apart from a failure),
	 * then copy and free it wiped. */
	ec = OSSL_ENCODER_CTX_new_for_pkey(k->pkey, EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo",
	                                   NULL);
	if (ec == NULL || OSSL_ENCODER_CTX_get_num_encoders(ec) == 0 ||
	    OSSL_ENCODER_to_data(ec, &data, &data_len) != 1 || data == NULL)
		goto out;
	if (data_len > cap) {
		um_memzero(out, cap);
		ret = UM_ERR_TOO_LARGE;
		goto out;
	}
	memcpy(out, data, data_len);
	*len = data_len;
	ret = UM_OK;
out:
	if (data != NULL)
		OPENSSL_clear_free(data, data_len);
	OSSL_ENCODER_CTX_free(ec);
	if (ret != UM_OK)
		ERR_clear_error();
	return ret;
}

int
blindrsa_sk_import(const uint8_t *der, size_t len, struct blindrsa_key **out)
{
	const unsigned char *p = der;
	PKCS8_PRIV_KEY_INFO *p8;
	EVP_PKEY *pkey;

	*out = NULL;
	if (len > BLINDRSA_PKCS8_MAX)
		return UM_ERR_TOO_LARGE;
	if (der == NULL || len == 0)
		return UM_ERR_MALFORMED;
	/* PKCS8_PRIV_KEY_INFO_free() cleanses the private key octets. */
	p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
	if (p8 == NULL || (size_t)(p - der) != len) {
		PKCS8_PRIV_KEY_INFO_free(p8);
		ERR_clear_error();
		return UM_ERR_MALFORMED;
	}
	pkey = EVP_PKCS82PKEY(p8);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (pkey == NULL) {
		ERR_clear_error();
		return UM_ERR_MALFORMED;
	}
	return key_wrap(pkey, true, NULL, 0, out) == UM_OK ? UM_OK : UM_ERR_MALFORMED;
}

/* ---- EMSA-PSS ------------------------------------------------------------------------------ */

/* out = SHA-384(a | b | c); any part may be empty. */
static int
sha384_3(EVP_MD_CTX *md, uint8_t out[BLINDRSA_HASH_LEN], const void *a, size_t a_len, const void *b,
         size_t b_len, const void *c, size_t c_len)
{
	unsigned int n = 0;

	if (EVP_DigestInit_ex2(md, EVP_sha384(), NULL) != 1 ||
	    (a_len > 0 && EVP_DigestUpdate(md, a, a_len) != 1) ||
	    (b_len > 0 && EVP_DigestUpdate(md, b, b_len) != 1) ||
	    (c_len > 0 && EVP_DigestUpdate(md, c, c_len) != 1) ||
	    EVP_DigestFinal_ex(md, out, &n) != 1 || n != BLINDRSA_HASH_LEN)
		return UM_ERR_CRYPTO;
	return UM_OK;
}

/* buf ^= MGF1-SHA-384(seed, len) (RFC 8017 B.2.1). */
static int
mgf1_xor(EVP_MD_CTX *md, uint8_t *buf, size_t len, const uint8_t seed[BLINDRSA_HASH_LEN])
{
	uint8_t t[BLINDRSA_HASH_LEN], ctr[4];
	size_t off = 0;

	for (uint32_t i = 0; off < len; i++) {
		size_t n = UM_MIN(sizeof(t), len - off);

		wire_store_u32(ctr, i);
		if (sha384_3(md, t, seed, BLINDRSA_HASH_LEN, ctr, sizeof(ctr), NULL, 0) != UM_OK)
			return UM_ERR_CRYPTO;
		for (size_t j = 0; j < n; j++)
			buf[off + j] ^= t[j];
		off += n;
	}
	um_memzero(t, sizeof(t));
	return UM_OK;
}

/*
 * EMSA-PSS-ENCODE(msg, emBits = modBits - 1) with the given salt (RFC 8017 9.1.1), written as
 * the kLen-byte big-endian integer m = OS2IP(EM) (a leading zero byte when emLen < kLen).
 */
static int
emsa_pss_encode(const struct blindrsa_key *k, const uint8_t *msg, size_t msg_len,
                const uint8_t *salt, size_t s_len, uint8_t *out)
{
	static const uint8_t zeros[8];
	const size_t em_bits = k->bits - 1, em_len = (em_bits + 7) / 8;
	uint8_t m_hash[BLINDRSA_HASH_LEN], h[BLINDRSA_HASH_LEN];
	uint8_t *em = out + (k->k_len - em_len);
	size_t db_len;
	EVP_MD_CTX *md;
	int ret = UM_ERR_CRYPTO;

	if (em_len < BLINDRSA_HASH_LEN + s_len + 2)
		return UM_ERR_INVALID; /* step 3: "encoding error" */
	memset(out, 0, k->k_len);
	if ((md = EVP_MD_CTX_new()) == NULL)
		return UM_ERR_CRYPTO;
	/* mHash = Hash(M); H = Hash(0x00 * 8 | mHash | salt) */
	if (sha384_3(md, m_hash, msg, msg_len, NULL, 0, NULL, 0) != UM_OK ||
	    sha384_3(md, h, zeros, sizeof(zeros), m_hash, sizeof(m_hash), salt, s_len) != UM_OK)
		goto out;
	/* DB = PS (zeros) | 0x01 | salt; maskedDB = DB ^ MGF1(H, emLen - hLen - 1) */
	db_len = em_len - BLINDRSA_HASH_LEN - 1;
	em[db_len - s_len - 1] = 0x01;
	if (s_len > 0)
		memcpy(em + db_len - s_len, salt, s_len);
	if (mgf1_xor(md, em, db_len, h) != UM_OK)
		goto out;
	/* Clear the leftmost 8 * emLen - emBits bits; EM = maskedDB | H | 0xbc */
	em[0] &= (uint8_t)(0xffu >> (8 * em_len - em_bits));
	memcpy(em + db_len, h, sizeof(h));
	em[em_len - 1] = 0xbc;
	ret = UM_OK;
out:
	if (ret != UM_OK)
		um_memzero(out, k->k_len);
	um_memzero(m_hash, sizeof(m_hash));
	um_memzero(h, sizeof(h));
	EVP_MD_CTX_free(md);
	return ret;
}

/* ---- protocol ------------------------------------------------------------------------------ */

int
blindrsa_prepare(enum blindrsa_variant v, const uint8_t *msg, size_t len, uint8_t *out, size_t cap,
                 size_t *out_len)
{
	size_t pre;

	*out_len = 0;
	if (!variant_ok(v) || (msg == NULL && len > 0) || out == NULL)
		return UM_ERR_INVALID;
	pre = blindrsa_variant_randomized(v) ? BLINDRSA_PREFIX_LEN : 0;
	if (len > cap || cap - len < pre)
		return UM_ERR_INVALID;
	/* msg_prefix = random(32); input_msg = msg_prefix | msg (RFC 9474 4.1) */
	if (len > 0)
		memmove(out + pre, msg, len);
	if (pre > 0)
		rand_bytes(out, pre);
	*out_len = pre + len;
	return UM_OK;
}

/* x = m * r^e mod n: RSAVP1(pk, r) in constant time, then Montgomery (mR) * re * R^-1. */
static int
blind_mul(const struct blindrsa_key *pk, const BIGNUM *m, const BIGNUM *r, BIGNUM *re, BIGNUM *tmp,
          BIGNUM *x, BN_CTX *bn)
{
	if (BN_mod_exp_mont_consttime(re, r, pk->e, pk->n, bn, pk->mont) != 1 ||
	    BN_to_montgomery(tmp, m, pk->mont, bn) != 1 ||
	    BN_mod_mul_montgomery(x, tmp, re, pk->mont, bn) != 1)
		return UM_ERR_CRYPTO;
	return UM_OK;
}

/* out = a * b mod n (a, b < n), in Montgomery form and back. */
static int
mont_mul(const struct blindrsa_key *pk, BIGNUM *out, const BIGNUM *a, const BIGNUM *b, BIGNUM *tmp,
         BN_CTX *bn)
{
	if (BN_to_montgomery(tmp, a, pk->mont, bn) != 1 ||
	    BN_mod_mul_montgomery(out, tmp, b, pk->mont, bn) != 1)
		return UM_ERR_CRYPTO;
	return UM_OK;
}

/*
 * Blind with the salt and inverse given (tests) or drawn here (salt NULL, inv_in NULL):
 * RFC 9474 4.2.
 */
static int
blind_impl(const struct blindrsa_key *pk, enum blindrsa_variant v, const uint8_t *msg,
           size_t msg_len, const uint8_t *salt_in, size_t salt_in_len, const uint8_t *inv_in,
           size_t inv_in_len, uint8_t *blinded_msg, uint8_t *inv_out, size_t out_len)
{
	uint8_t em[BLINDRSA_MAX_LEN], salt[BLINDRSA_SALT_LEN];
	const size_t s_len = blindrsa_variant_salt_len(v);
	BN_CTX *bn = NULL;
	BIGNUM *m, *r, *b, *t, *inv, *re, *tm, *x;
	size_t k_len;
	int tries, ret = UM_ERR_INVALID;

	if (pk == NULL || blinded_msg == NULL || inv_out == NULL || out_len < pk->k_len)
		return UM_ERR_INVALID;
	k_len = pk->k_len;
	memset(blinded_msg, 0, k_len);
	memset(inv_out, 0, k_len);
	if (!variant_ok(v) || (msg == NULL && msg_len > 0))
		return UM_ERR_INVALID;
	if (salt_in != NULL) {
		if (salt_in_len != s_len)
			return UM_ERR_INVALID;
		if (s_len > 0)
			memcpy(salt, salt_in, s_len);
	} else {
		rand_bytes(salt, s_len);
	}
	/* 1-2. encoded_msg = EMSA-PSS-ENCODE(msg, bit_len(n) - 1); m = bytes_to_int(encoded_msg) */
	if ((ret = emsa_pss_encode(pk, msg, msg_len, salt, s_len, em)) != UM_OK)
		goto out;
	ret = UM_ERR_CRYPTO;
	if ((bn = BN_CTX_new()) == NULL)
		goto out;
	BN_CTX_start(bn);
	m = BN_CTX_get(bn);
	r = BN_CTX_get(bn);
	b = BN_CTX_get(bn);
	t = BN_CTX_get(bn);
	inv = BN_CTX_get(bn);
	re = BN_CTX_get(bn);
	tm = BN_CTX_get(bn);
	x = BN_CTX_get(bn);
	if (x == NULL)
		goto out_bn;
	BN_set_flags(m, BN_FLG_CONSTTIME);
	BN_set_flags(r, BN_FLG_CONSTTIME);
	BN_set_flags(inv, BN_FLG_CONSTTIME);
	if (BN_bin2bn(em, (int)k_len, m) == NULL)
		goto out_bn;
	if (inv_in != NULL) {
		/* Test vectors give inv: r = inv^-1 mod n (public test values, fast inverse). */
		ret = UM_ERR_INVALID;
		if (inv_in_len != k_len || BN_bin2bn(inv_in, (int)k_len, inv) == NULL ||
		    BN_is_zero(inv) || BN_ucmp(inv, pk->n) >= 0 ||
		    BN_mod_inverse(t, inv, pk->n, bn) == NULL || BN_copy(r, t) == NULL)
			goto out_bn;
		ret = UM_ERR_CRYPTO;
		/* 3. m coprime to n, checked as x invertible (see below). */
		if (blind_mul(pk, m, r, re, tm, x, bn) != UM_OK ||
		    BN_mod_inverse(t, x, pk->n, bn) == NULL)
			goto out_bn;
		goto done;
	}
	/*
	 * 4. r = random_integer_uniform(1, n); 6-8. x = m * RSAVP1(pk, r) mod n; then one
	 * inversion serves step 5 (inv = inverse_mod(r, n)) and step 3 (m coprime to n): the
	 * inverse of P = r * b * x, for a second random b that is uniform and independent of r
	 * and m, so the fast variable-time inverse learns nothing secret. P is invertible exactly
	 * when r, b and x are, and x (r being invertible) exactly when m is. inv = P^-1 * b * x.
	 */
	for (tries = 0; tries < BLIND_MAX_TRIES; tries++) {
		if (BN_priv_rand_range_ex(r, pk->n, 0, bn) != 1 ||
		    BN_priv_rand_range_ex(b, pk->n, 0, bn) != 1 ||
		    blind_mul(pk, m, r, re, tm, x, bn) != UM_OK ||
		    mont_mul(pk, t, r, b, tm, bn) != UM_OK ||
		    mont_mul(pk, t, t, x, tm, bn) != UM_OK)
			goto out_bn;
		if (!BN_is_zero(t) && BN_mod_inverse(t, t, pk->n, bn) != NULL)
			break;
		ERR_clear_error();
		/* Not invertible. If x is not (with r != 0), m shares a factor with n: a bad
		 * key, "invalid input". Otherwise r or b did (never, for a real key): draw again.
		 */
		if (!BN_is_zero(r) && BN_mod_inverse(tm, x, pk->n, bn) == NULL)
			goto out_bn;
	}
	if (tries == BLIND_MAX_TRIES)
		goto out_bn;
	if (mont_mul(pk, t, t, b, tm, bn) != UM_OK || mont_mul(pk, inv, t, x, tm, bn) != UM_OK)
		goto out_bn;
done:
	if (BN_bn2binpad(x, blinded_msg, (int)k_len) != (int)k_len ||
	    BN_bn2binpad(inv, inv_out, (int)k_len) != (int)k_len)
		goto out_bn;
	ret = UM_OK;
out_bn:
	BN_CTX_end(bn);
out:
	BN_CTX_free(bn); /* clears every BIGNUM it handed out */
	um_memzero(em, sizeof(em));
	um_memzero(salt, sizeof(salt));
	if (ret != UM_OK) {
		um_memzero(blinded_msg, k_len);
		um_memzero(inv_out, k_len);
		ERR_clear_error();
	}
	return ret;
}

int
blindrsa_blind(const struct blindrsa_key *pk, enum blindrsa_variant v, const uint8_t *msg,
               size_t msg_len, uint8_t *blinded_msg, uint8_t *inv, size_t out_len)
{
	return blind_impl(pk, v, msg, msg_len, NULL, 0, NULL, 0, blinded_msg, inv, out_len);
}

int
blindrsa_blind_sign(const struct blindrsa_key *sk, const uint8_t *blinded_msg, size_t len,
                    uint8_t *blind_sig, size_t out_len)
{
	EVP_PKEY_CTX *pc = NULL;
	BN_CTX *bn = NULL;
	BIGNUM *m, *s, *chk;
	size_t k_len, sig_len;
	int ret = UM_ERR_INVALID;

	if (sk == NULL || !sk->priv || blind_sig == NULL || out_len < sk->k_len)
		return UM_ERR_INVALID;
	k_len = sk->k_len;
	memset(blind_sig, 0, k_len);
	/* Untrusted: exactly kLen bytes (RFC 9474 4.3 "unexpected input size"). */
	if (blinded_msg == NULL || len != k_len)
		return UM_ERR_MALFORMED;
	ret = UM_ERR_CRYPTO;
	if ((bn = BN_CTX_new()) == NULL)
		goto out;
	BN_CTX_start(bn);
	m = BN_CTX_get(bn);
	s = BN_CTX_get(bn);
	chk = BN_CTX_get(bn);
	if (chk == NULL || BN_bin2bn(blinded_msg, (int)k_len, m) == NULL)
		goto out_bn;
	/* RSASP1: "message representative out of range" unless m < n. */
	if (BN_ucmp(m, sk->n) >= 0) {
		ret = UM_ERR_MALFORMED;
		goto out_bn;
	}
	/* s = m^d mod n: RSA-CRT with OpenSSL's blinding, no padding. */
	sig_len = k_len;
	if ((pc = EVP_PKEY_CTX_new_from_pkey(NULL, sk->pkey, NULL)) == NULL ||
	    EVP_PKEY_sign_init(pc) != 1 || EVP_PKEY_CTX_set_rsa_padding(pc, RSA_NO_PADDING) != 1 ||
	    EVP_PKEY_sign(pc, blind_sig, &sig_len, blinded_msg, k_len) != 1 || sig_len != k_len)
		goto out_bn;
	/* RFC 9474 4.3 steps 3-4: m' = RSAVP1(pk, s); refuse to release s unless m' == m (a fault
	 * in the CRT computation would otherwise leak a factor of n). */
	if (BN_bin2bn(blind_sig, (int)k_len, s) == NULL ||
	    BN_mod_exp_mont(chk, s, sk->e, sk->n, bn, sk->mont) != 1 || BN_cmp(chk, m) != 0)
		goto out_bn;
	ret = UM_OK;
out_bn:
	BN_CTX_end(bn);
out:
	BN_CTX_free(bn);
	EVP_PKEY_CTX_free(pc);
	if (ret != UM_OK) {
		um_memzero(blind_sig, k_len);
		ERR_clear_error();
	}
	return ret;
}

int
blindrsa_verify(const struct blindrsa_key *pk, enum blindrsa_variant v, const uint8_t *msg,
                size_t msg_len, const uint8_t *sig, size_t sig_len)
{
	uint8_t digest[BLINDRSA_HASH_LEN];
	EVP_PKEY_CTX *pc = NULL;
	EVP_MD_CTX *md = NULL;
	int ret = UM_ERR_AUTH;

	if (pk == NULL || !variant_ok(v) || (msg == NULL && msg_len > 0))
		return UM_ERR_INVALID;
	if (sig == NULL || sig_len != pk->k_len)
		return UM_ERR_MALFORMED;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    sha384_3(md, digest, msg, msg_len, NULL, 0, NULL, 0) != UM_OK)
		goto out;
	/* RSASSA-PSS-VERIFY (RFC 8017 8.1.2): OpenSSL checks sig < n, the exact salt length, and
	 * the 0xbc trailer and zero bits of EM. */
	if ((pc = EVP_PKEY_CTX_new_from_pkey(NULL, pk->pkey, NULL)) == NULL ||
	    EVP_PKEY_verify_init(pc) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha384()) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha384()) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, (int)blindrsa_variant_salt_len(v)) != 1)
		goto out;
	if (EVP_PKEY_verify(pc, sig, sig_len, digest, sizeof(digest)) == 1)
		ret = UM_OK;
out:
	EVP_PKEY_CTX_free(pc);
	EVP_MD_CTX_free(md);
	if (ret != UM_OK)
		ERR_clear_error();
	return ret;
}

int
blindrsa_finalize(const struct blindrsa_key *pk, enum blindrsa_variant v, const uint8_t *msg,
                  size_t msg_len, const uint8_t *blind_sig, size_t blind_sig_len,
                  const uint8_t *inv, size_t inv_len, uint8_t *sig, size_t out_len)
{
	BN_CTX *bn = NULL;
	BIGNUM *z, *zm, *iv, *s;
	size_t k_len;
	int ret = UM_ERR_INVALID;

	if (pk == NULL || sig == NULL || out_len < pk->k_len)
		return UM_ERR_INVALID;
	k_len = pk->k_len;
	memset(sig, 0, k_len);
	if (!variant_ok(v) || (msg == NULL && msg_len > 0) || inv == NULL || inv_len != k_len)
		return UM_ERR_INVALID;
	/* 1. Untrusted blind_sig: exactly kLen bytes ("unexpected input size"), and below n. */
	if (blind_sig == NULL || blind_sig_len != k_len)
		return UM_ERR_MALFORMED;
	ret = UM_ERR_CRYPTO;
	if ((bn = BN_CTX_new()) == NULL)
		goto out;
	BN_CTX_start(bn);
	z = BN_CTX_get(bn);
	zm = BN_CTX_get(bn);
	iv = BN_CTX_get(bn);
	s = BN_CTX_get(bn);
	if (s == NULL)
		goto out_bn;
	BN_set_flags(iv, BN_FLG_CONSTTIME);
	BN_set_flags(s, BN_FLG_CONSTTIME);
	if (BN_bin2bn(blind_sig, (int)k_len, z) == NULL || BN_bin2bn(inv, (int)k_len, iv) == NULL)
		goto out_bn;
	if (BN_ucmp(z, pk->n) >= 0) {
		ret = UM_ERR_MALFORMED;
		goto out_bn;
	}
	if (BN_is_zero(iv) || BN_ucmp(iv, pk->n) >= 0) {
		ret = UM_ERR_INVALID;
		goto out_bn;
	}
	/* 2-4. s = z * inv mod n (Montgomery: (zR) * inv * R^-1); sig = int_to_bytes(s, kLen) */
	if (BN_to_montgomery(zm, z, pk->mont, bn) != 1 ||
	    BN_mod_mul_montgomery(s, zm, iv, pk->mont, bn) != 1 ||
	    BN_bn2binpad(s, sig, (int)k_len) != (int)k_len)
		goto out_bn;
	/* 5-6. The issuer is not trusted either: the result must verify. */
	ret = blindrsa_verify(pk, v, msg, msg_len, sig, k_len) == UM_OK ? UM_OK : UM_ERR_AUTH;
out_bn:
	BN_CTX_end(bn);
out:
	BN_CTX_free(bn);
	if (ret != UM_OK) {
		um_memzero(sig, k_len);
		ERR_clear_error();
	}
	return ret;
}

/* ---- test seams ---------------------------------------------------------------------------- */

#ifdef UM_UNIT_TESTS
int
blindrsa_emsa_pss_encode(const struct blindrsa_key *k, const uint8_t *msg, size_t msg_len,
                         const uint8_t *salt, size_t salt_len, uint8_t *em, size_t em_cap)
{
	if (em_cap < k->k_len || salt_len > BLINDRSA_SALT_LEN)
		return UM_ERR_INVALID;
	return emsa_pss_encode(k, msg, msg_len, salt, salt_len, em);
}

int
blindrsa_blind_with(const struct blindrsa_key *pk, enum blindrsa_variant v, const uint8_t *msg,
                    size_t msg_len, const uint8_t *salt, size_t salt_len, const uint8_t *inv_in,
                    size_t inv_in_len, uint8_t *blinded_msg, uint8_t *inv, size_t out_len)
{
	static const uint8_t none[1];

	/* An empty salt (PSSZERO) still counts as "given". */
	return blind_impl(pk, v, msg, msg_len, salt != NULL ? salt : none, salt_len, inv_in,
	                  inv_in_len, blinded_msg, inv, out_len);
}

int
blindrsa_sk_from_numbers(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
                         const uint8_t *d, size_t d_len, const uint8_t *p, size_t p_len,
                         const uint8_t *q, size_t q_len, struct blindrsa_key **out)
{
	BIGNUM *bn_n = NULL, *bn_e = NULL, *bn_d = BN_secure_new(), *bn_p = BN_secure_new();
	BIGNUM *bn_q = BN_secure_new(), *dp = BN_secure_new(), *dq = BN_secure_new();
	BIGNUM *qinv = BN_secure_new(), *t = BN_secure_new();
	BN_CTX *bn = BN_CTX_new();
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pc = NULL;
	EVP_PKEY *pkey = NULL;
	int ret = UM_ERR_MALFORMED;

	*out = NULL;
	if (bn == NULL || t == NULL || qinv == NULL || dq == NULL || dp == NULL || bn_q == NULL ||
	    bn_p == NULL || bn_d == NULL)
		goto out;
	if ((bn_n = BN_bin2bn(n, (int)n_len, NULL)) == NULL ||
	    (bn_e = BN_bin2bn(e, (int)e_len, NULL)) == NULL ||
	    BN_bin2bn(d, (int)d_len, bn_d) == NULL || BN_bin2bn(p, (int)p_len, bn_p) == NULL ||
	    BN_bin2bn(q, (int)q_len, bn_q) == NULL)
		goto out;
	/* p * q == n; dP = d mod (p - 1), dQ = d mod (q - 1), qInv = q^-1 mod p */
	if (BN_mul(t, bn_p, bn_q, bn) != 1 || BN_cmp(t, bn_n) != 0)
		goto out;
	if (BN_sub(t, bn_p, BN_value_one()) != 1 || BN_mod(dp, bn_d, t, bn) != 1 ||
	    BN_sub(t, bn_q, BN_value_one()) != 1 || BN_mod(dq, bn_d, t, bn) != 1 ||
	    BN_mod_inverse(qinv, bn_q, bn_p, bn) == NULL)
		goto out;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, bn_d) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, bn_p) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, bn_q) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qinv) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;
	if ((pc = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(pc) != 1 ||
	    EVP_PKEY_fromdata(pc, &pkey, EVP_PKEY_KEYPAIR, params) != 1)
		goto out;
	ret = key_wrap(pkey, true, NULL, 0, out);
	pkey = NULL;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(pc);
	OSSL_PARAM_free(params); /* the secure (secret) part is cleared */
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	BN_clear_free(bn_d);
	BN_clear_free(bn_p);
	BN_clear_free(bn_q);
	BN_clear_free(dp);
	BN_clear_free(dq);
	BN_clear_free(qinv);
	BN_clear_free(t);
	BN_CTX_free(bn);
	if (ret != UM_OK)
		ERR_clear_error();
	return ret;
}
#endif
