/* SPDX-License-Identifier: MIT */
/*
 * RSA blind signatures, RFC 9474 (RSABSSA-SHA384), on OpenSSL 3 libcrypto (EVP_PKEY and BIGNUM,
 * no deprecated API). All four variants; umbra's anonymous tier tokens use
 * BLINDRSA_PSS_RANDOMIZED (docs/PROTOCOL.md "Anonymous tier tokens").
 *
 *   client (public key pk)                              issuer (secret key sk)
 *   input_msg = Prepare(msg)       (prefix [32] | msg, or msg)
 *   blinded_msg, inv = Blind(pk, input_msg)
 *   ---- blinded_msg (kLen bytes) ------------------------------->
 *                                                       blind_sig = BlindSign(sk, blinded_msg)
 *   <--- blind_sig (kLen bytes) ----------------------------------
 *   sig = Finalize(pk, input_msg, blind_sig, inv)
 *   anyone: Verify(pk, input_msg, sig) = RSASSA-PSS-VERIFY (SHA-384, MGF1-SHA-384, sLen 48 or 0)
 *
 * kLen is the modulus length in bytes (256 for the 2048-bit keys umbra issues, 512 for the
 * 4096-bit vectors). Blinded messages, blind signatures and signatures are exactly kLen bytes,
 * big-endian, left-zero-padded; anything else is refused. The public exponent must be 65537.
 *
 * Secrets: inv (the client's unblinding factor) is secret until Finalize and is wiped by the
 * caller afterwards; the blinding factor r never leaves blindrsa.c. The issuer's private
 * operation is RSA-CRT with OpenSSL's base blinding; modular arithmetic on client secrets uses
 * constant-time BIGNUM paths (BN_FLG_CONSTTIME, Montgomery multiplication).
 *
 * A key is immutable after creation: one key may be used from several threads at once.
 */
#ifndef UM_CRYPTO_BLINDRSA_H
#define UM_CRYPTO_BLINDRSA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"

enum blindrsa_limits {
	BLINDRSA_MIN_BITS = 2048,
	BLINDRSA_MAX_BITS = 4096,
	BLINDRSA_DEFAULT_BITS = 2048,             /* as Privacy Pass token type 2 */
	BLINDRSA_MIN_LEN = BLINDRSA_MIN_BITS / 8, /* kLen range: 256..512 */
	BLINDRSA_MAX_LEN = BLINDRSA_MAX_BITS / 8,
	BLINDRSA_HASH_LEN = 48,    /* SHA-384 */
	BLINDRSA_SALT_LEN = 48,    /* PSS variants; PSSZERO uses none */
	BLINDRSA_PREFIX_LEN = 32,  /* Randomized variants' msg_prefix */
	BLINDRSA_KEY_ID_LEN = 32,  /* BLAKE2b-256 of the SubjectPublicKeyInfo DER */
	BLINDRSA_SPKI_MAX = 600,   /* 550 bytes for a 4096-bit key with e = 65537 */
	BLINDRSA_PKCS8_MAX = 2560, /* about 2375 bytes for a 4096-bit key */
	BLINDRSA_PUBLIC_EXPONENT = 65537,
};

/* The four RFC 9474 variants (section 5). */
enum blindrsa_variant {
	BLINDRSA_PSS_RANDOMIZED = 0,        /* RSABSSA-SHA384-PSS-Randomized (umbra's) */
	BLINDRSA_PSSZERO_RANDOMIZED = 1,    /* RSABSSA-SHA384-PSSZERO-Randomized */
	BLINDRSA_PSS_DETERMINISTIC = 2,     /* RSABSSA-SHA384-PSS-Deterministic */
	BLINDRSA_PSSZERO_DETERMINISTIC = 3, /* RSABSSA-SHA384-PSSZERO-Deterministic */
};

/* Salt length of v (48 or 0); 0 for an unknown variant too. */
size_t blindrsa_variant_salt_len(enum blindrsa_variant v);
/* True when Prepare adds a random prefix. */
bool blindrsa_variant_randomized(enum blindrsa_variant v);

/* An RSA key: public, or a key pair. Opaque; see the file comment for threads. */
struct blindrsa_key;

/*
 * Generate a key pair of bits bits (BLINDRSA_MIN_BITS..BLINDRSA_MAX_BITS, UM_ERR_INVALID
 * otherwise), e = 65537. On success *out is a new key the caller owns and frees with
 * blindrsa_key_free(); on error *out is NULL.
 */
int blindrsa_key_generate(unsigned bits, struct blindrsa_key **out) UM_WARN_UNUSED;
/* Free k (NULL is a no-op); OpenSSL wipes the private components. */
void blindrsa_key_free_(struct blindrsa_key *k);
#define blindrsa_key_free(k) UM_FREE_AND_NULL(blindrsa_key_free_, k)
/* A new key (caller owns) holding only k's public half. */
int blindrsa_key_public(const struct blindrsa_key *k, struct blindrsa_key **out) UM_WARN_UNUSED;
/* kLen: the modulus length in bytes (256..512). */
size_t blindrsa_key_len(const struct blindrsa_key *k);
/* The modulus length in bits. */
unsigned blindrsa_key_bits(const struct blindrsa_key *k);
bool blindrsa_key_has_private(const struct blindrsa_key *k);
/* BLAKE2b-256 of the key's SubjectPublicKeyInfo DER (cached at creation). */
void blindrsa_key_id(const struct blindrsa_key *k, uint8_t id[BLINDRSA_KEY_ID_LEN]);

/*
 * Write the public key as DER SubjectPublicKeyInfo (rsaEncryption) into out (cap bytes) and
 * its length in *len. UM_ERR_TOO_LARGE if cap is short (BLINDRSA_SPKI_MAX always fits).
 */
int blindrsa_pk_export(const struct blindrsa_key *k, uint8_t *out, size_t cap,
                       size_t *len) UM_WARN_UNUSED;
/*
 * Read an untrusted DER SubjectPublicKeyInfo: exactly len bytes of canonical DER (what
 * blindrsa_pk_export() writes), an rsaEncryption key of BLINDRSA_MIN_BITS..BLINDRSA_MAX_BITS
 * bits with an odd modulus and e = 65537. UM_ERR_TOO_LARGE over BLINDRSA_SPKI_MAX bytes,
 * UM_ERR_MALFORMED otherwise. *out (caller owns) is NULL on error.
 */
int blindrsa_pk_import(const uint8_t *der, size_t len, struct blindrsa_key **out) UM_WARN_UNUSED;
/*
 * Write the key pair as DER PKCS#8 PrivateKeyInfo into out (cap bytes, BLINDRSA_PKCS8_MAX
 * always fits); the caller wipes out after use. UM_ERR_INVALID for a public-only key,
 * UM_ERR_TOO_LARGE if cap is short (out is wiped then).
 */
int blindrsa_sk_export(const struct blindrsa_key *k, uint8_t *out, size_t cap,
                       size_t *len) UM_WARN_UNUSED;
/*
 * Read a DER PKCS#8 RSA private key (exactly len bytes; the caller wipes der) that holds its
 * CRT factors, with the checks of blindrsa_pk_import() on its public half. UM_ERR_TOO_LARGE
 * over BLINDRSA_PKCS8_MAX bytes, UM_ERR_MALFORMED otherwise. *out (caller owns) is NULL on
 * error.
 */
int blindrsa_sk_import(const uint8_t *der, size_t len, struct blindrsa_key **out) UM_WARN_UNUSED;

/*
 * Prepare (RFC 9474 4.1): for a Randomized variant write a fresh random 32-byte prefix then
 * msg, for a Deterministic one msg alone, into out (cap >= len + BLINDRSA_PREFIX_LEN is
 * always enough) and the length in *out_len. The result is the input_msg that Blind,
 * Finalize and Verify take. UM_ERR_INVALID for a bad variant or a short cap.
 */
int blindrsa_prepare(enum blindrsa_variant v, const uint8_t *msg, size_t len, uint8_t *out,
                     size_t cap, size_t *out_len) UM_WARN_UNUSED;

/*
 * Blind (RFC 9474 4.2) the prepared message msg for pk under variant v: write kLen bytes of
 * blinded_msg (to send to the issuer) and kLen bytes of inv (secret: keep for Finalize, then
 * wipe) into buffers of out_len >= kLen bytes each. UM_ERR_INVALID for bad arguments,
 * UM_ERR_CRYPTO if the encoded message is not invertible mod n (never, for a real key).
 * Both outputs are zeroed on error.
 */
int blindrsa_blind(const struct blindrsa_key *pk, enum blindrsa_variant v, const uint8_t *msg,
                   size_t msg_len, uint8_t *blinded_msg, uint8_t *inv,
                   size_t out_len) UM_WARN_UNUSED;

/*
 * BlindSign (RFC 9474 4.3) as the issuer holding key pair sk: blinded_msg comes from an
 * untrusted client and must be exactly kLen bytes (UM_ERR_MALFORMED otherwise) and less
 * than n (UM_ERR_MALFORMED). Writes the kLen-byte blind signature into blind_sig (out_len >=
 * kLen), after checking that it verifies (RSAVP1(pk, s) == m; UM_ERR_CRYPTO otherwise, a
 * fault). UM_ERR_INVALID for a public-only key or a short buffer. blind_sig is zeroed on
 * error. The same variant-free operation serves all four variants.
 */
int blindrsa_blind_sign(const struct blindrsa_key *sk, const uint8_t *blinded_msg, size_t len,
                        uint8_t *blind_sig, size_t out_len) UM_WARN_UNUSED;

/*
 * Finalize (RFC 9474 4.4): unblind the issuer's untrusted blind_sig (exactly kLen bytes and
 * less than n, UM_ERR_MALFORMED otherwise) with inv from blindrsa_blind() (kLen bytes,
 * UM_ERR_INVALID otherwise), then verify the result for msg; UM_ERR_AUTH if it does not
 * verify (a wrong key or a cheating issuer). On success writes kLen bytes of signature into
 * sig (out_len >= kLen); sig is zeroed on error.
 */
int blindrsa_finalize(const struct blindrsa_key *pk, enum blindrsa_variant v, const uint8_t *msg,
                      size_t msg_len, const uint8_t *blind_sig, size_t blind_sig_len,
                      const uint8_t *inv, size_t inv_len, uint8_t *sig,
                      size_t out_len) UM_WARN_UNUSED;

/*
 * Verify (RFC 9474 4.5): standard RSASSA-PSS verification of sig over the prepared message
 * msg with SHA-384, MGF1-SHA-384 and v's salt length. UM_OK if it verifies,
 * UM_ERR_MALFORMED if sig is not exactly kLen bytes, UM_ERR_AUTH otherwise.
 */
int blindrsa_verify(const struct blindrsa_key *pk, enum blindrsa_variant v, const uint8_t *msg,
                    size_t msg_len, const uint8_t *sig, size_t sig_len) UM_WARN_UNUSED;

#ifdef UM_UNIT_TESTS
/*
 * Test seams for the RFC 9474 vectors (which give inv, not r): EMSA-PSS-ENCODE (RFC 8017
 * 9.1.1, emBits = modBits - 1) of msg with a fixed salt into em (kLen bytes, left-padded);
 * Blind with a fixed salt and a fixed inverse inv_in (r = inv_in^-1 mod n); a key pair from
 * its big-endian numbers (CRT values derived here).
 */
int blindrsa_emsa_pss_encode(const struct blindrsa_key *k, const uint8_t *msg, size_t msg_len,
                             const uint8_t *salt, size_t salt_len, uint8_t *em,
                             size_t em_cap) UM_WARN_UNUSED;
int blindrsa_blind_with(const struct blindrsa_key *pk, enum blindrsa_variant v, const uint8_t *msg,
                        size_t msg_len, const uint8_t *salt, size_t salt_len, const uint8_t *inv_in,
                        size_t inv_in_len, uint8_t *blinded_msg, uint8_t *inv,
                        size_t out_len) UM_WARN_UNUSED;
int blindrsa_sk_from_numbers(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
                             const uint8_t *d, size_t d_len, const uint8_t *p, size_t p_len,
                             const uint8_t *q, size_t q_len,
                             struct blindrsa_key **out) UM_WARN_UNUSED;
#endif

#endif /* UM_CRYPTO_BLINDRSA_H */
