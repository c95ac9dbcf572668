/* SPDX-License-Identifier: MIT */
/*
 * Noise HandshakeState / SymmetricState / CipherState (noise.md rev 34, sections 5 and 7)
 * for 25519_ChaChaPoly_BLAKE2b. Handshake messages use libsodium's one-shot AEAD (a few per
 * handshake, no context to allocate); transport CipherStates hold an EVP context per
 * direction (crypto/aead.c). Both are RFC 8439 ChaCha20-Poly1305, byte for byte.
 */
#include "crypto/noise.h"

#include <string.h>
#include <sodium.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "crypto/hash.h"
#include "crypto/keys.h"

enum token {
	TOK_END = 0,
	TOK_E,
	TOK_S,
	TOK_EE,
	TOK_ES,
	TOK_SE,
	TOK_SS,
};

enum { MAX_MSGS = 3, MAX_TOKENS = 5 };

struct pattern_def {
	const char *name;
	bool pre_resp_s; /* "<- s" pre-message */
	unsigned n_msgs;
	enum token msgs[MAX_MSGS][MAX_TOKENS];
};

static const struct pattern_def patterns[] = {
	[NOISE_NK] = { "Noise_NK_25519_ChaChaPoly_BLAKE2b",
	               true,
	               2,
	               { { TOK_E, TOK_ES }, { TOK_E, TOK_EE } } },
	[NOISE_XK] = { "Noise_XK_25519_ChaChaPoly_BLAKE2b",
	               true,
	               3,
	               { { TOK_E, TOK_ES }, { TOK_E, TOK_EE }, { TOK_S, TOK_SE } } },
	[NOISE_IK] = { "Noise_IK_25519_ChaChaPoly_BLAKE2b",
	               true,
	               2,
	               { { TOK_E, TOK_ES, TOK_S, TOK_SS }, { TOK_E, TOK_EE, TOK_SE } } },
	[NOISE_XX] = { "Noise_XX_25519_ChaChaPoly_BLAKE2b",
	               false,
	               3,
	               { { TOK_E }, { TOK_E, TOK_EE, TOK_S, TOK_ES }, { TOK_S, TOK_SE } } },
};

static const uint8_t zero_key[NOISE_KEY_LEN];

static const struct pattern_def *
pattern_get(enum noise_pattern p)
{
	if (p < NOISE_NK || p > NOISE_XX)
		return NULL;
	return &patterns[p];
}

/* ---- SymmetricState -------------------------------------------------------------------- */

static void
mix_hash(struct noise_hs *hs, const uint8_t *data, size_t len)
{
	hash_blake2b_2(hs->h, hs->h, NOISE_HASH_LEN, data, len);
}

static void
mix_key(struct noise_hs *hs, const uint8_t *ikm, size_t len)
{
	uint8_t temp_k[NOISE_HASH_LEN];

	kdf_noise_blake2b(hs->ck, temp_k, NULL, hs->ck, ikm, len);
	memcpy(hs->k, temp_k, NOISE_KEY_LEN); /* HASHLEN 64: truncate to 32 */
	hs->has_k = true;
	hs->n = 0;
	sodium_memzero(temp_k, sizeof(temp_k));
}

static void
nonce_make(uint8_t nonce[12], uint64_t n)
{
	memset(nonce, 0, 4);
	wire_store_u64_le(nonce + 4, n);
}

/* EncryptAndHash: out receives len (+16 once a key exists) bytes. */
static int
encrypt_and_hash(struct noise_hs *hs, const uint8_t *pt, size_t len, uint8_t *out, size_t *out_len)
{
	uint8_t nonce[12];
	unsigned long long clen = 0;

	if (!hs->has_k) {
		memmove(out, pt, len);
		*out_len = len;
	} else {
		if (hs->n == UINT64_MAX)
			return UM_ERR_STATE;
		nonce_make(nonce, hs->n);
		crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, pt, len, hs->h,
		                                          NOISE_HASH_LEN, NULL, nonce, hs->k);
		hs->n++;
		*out_len = (size_t)clen;
	}
	mix_hash(hs, out, *out_len);
	return UM_OK;
}

/* DecryptAndHash of len ciphertext bytes at ct into out. */
static int
decrypt_and_hash(struct noise_hs *hs, const uint8_t *ct, size_t len, uint8_t *out, size_t *out_len)
{
	uint8_t nonce[12];
	unsigned long long plen = 0;
	uint8_t h_next[NOISE_HASH_LEN];

	/* h is updated with the ciphertext, so compute it before out (which may alias ct). */
	hash_blake2b_2(h_next, hs->h, NOISE_HASH_LEN, ct, len);
	if (!hs->has_k) {
		memmove(out, ct, len);
		*out_len = len;
	} else {
		if (len < NOISE_TAG_LEN || hs->n == UINT64_MAX)
			return UM_ERR_AUTH;
		nonce_make(nonce, hs->n);
		if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &plen, NULL, ct, len, hs->h,
		                                              NOISE_HASH_LEN, nonce, hs->k) != 0)
			return UM_ERR_AUTH;
		hs->n++;
		*out_len = (size_t)plen;
	}
	memcpy(hs->h, h_next, NOISE_HASH_LEN);
	return UM_OK;
}

/* ---- HandshakeState -------------------------------------------------------------------- */

int
noise_hs_init(struct noise_hs *hs, enum noise_pattern pattern, bool initiator,
              const uint8_t *prologue, size_t prologue_len, const uint8_t *s_priv,
              const uint8_t *rs)
{
	const struct pattern_def *def = pattern_get(pattern);
	size_t name_len;

	memset(hs, 0, sizeof(*hs));
	hs->failed = true;
	if (def == NULL || prologue_len > NOISE_MAX_PROLOGUE_LEN)
		return UM_ERR_INVALID;
	hs->pattern = pattern;
	hs->initiator = initiator;

	/* Protocol names of this suite are <= HASHLEN: h = name zero-padded, not hashed. */
	name_len = strlen(def->name);
	memcpy(hs->h, def->name, name_len);
	memcpy(hs->ck, hs->h, NOISE_HASH_LEN);
	mix_hash(hs, prologue, prologue_len);

	if (s_priv != NULL) {
		memcpy(hs->s_priv, s_priv, NOISE_DH_LEN);
		keys_x25519_public(hs->s_pub, hs->s_priv);
		hs->has_s = true;
	}
	if (def->pre_resp_s) {
		if (initiator) {
			if (rs == NULL)
				return UM_ERR_INVALID;
			memcpy(hs->rs, rs, NOISE_DH_LEN);
			hs->has_rs = true;
			mix_hash(hs, hs->rs, NOISE_DH_LEN);
		} else {
			if (!hs->has_s)
				return UM_ERR_INVALID;
			mix_hash(hs, hs->s_pub, NOISE_DH_LEN);
		}
	}
	/* Patterns where we send s need our static key. */
	if (!hs->has_s && (pattern == NOISE_XX || (initiator && pattern != NOISE_NK)))
		return UM_ERR_INVALID;
	hs->failed = false;
	return UM_OK;
}

#ifdef UM_UNIT_TESTS
void
noise_hs_set_ephemeral(struct noise_hs *hs, const uint8_t e_priv[NOISE_DH_LEN])
{
	memcpy(hs->e_priv, e_priv, NOISE_DH_LEN);
	keys_x25519_public(hs->e_pub, hs->e_priv);
	hs->has_e = true;
}
#endif

bool
noise_hs_is_our_turn(const struct noise_hs *hs)
{
	const struct pattern_def *def = pattern_get(hs->pattern);

	if (def == NULL || hs->failed || hs->msg >= def->n_msgs)
		return false;
	return (hs->msg % 2 == 0) == hs->initiator;
}

bool
noise_hs_is_done(const struct noise_hs *hs)
{
	const struct pattern_def *def = pattern_get(hs->pattern);

	return def != NULL && !hs->failed && hs->msg >= def->n_msgs;
}

const uint8_t *
noise_hs_remote_static(const struct noise_hs *hs)
{
	return hs->has_rs ? hs->rs : NULL;
}

void
noise_hs_handshake_hash(const struct noise_hs *hs, uint8_t h[NOISE_HASH_LEN])
{
	memcpy(h, hs->h, NOISE_HASH_LEN);
}

/* Perform a DH token; which keys meet depends on our role (noise.md 5.3). */
static int
dh_token(struct noise_hs *hs, enum token t)
{
	uint8_t out[NOISE_DH_LEN];
	const uint8_t *sk;
	const uint8_t *pk;
	bool local_e, remote_e;
	int ret;

	switch (t) {
	case TOK_EE:
		local_e = true;
		remote_e = true;
		break;
	case TOK_ES: /* initiator's e with responder's s */
		local_e = hs->initiator;
		remote_e = !hs->initiator;
		break;
	case TOK_SE: /* initiator's s with responder's e */
		local_e = !hs->initiator;
		remote_e = hs->initiator;
		break;
	case TOK_SS:
		local_e = false;
		remote_e = false;
		break;
	default:
		return UM_ERR_INTERNAL;
	}
	if ((local_e && !hs->has_e) || (!local_e && !hs->has_s) || (remote_e && !hs->has_re) ||
	    (!remote_e && !hs->has_rs))
		return UM_ERR_STATE;
	sk = local_e ? hs->e_priv : hs->s_priv;
	pk = remote_e ? hs->re : hs->rs;
	if ((ret = keys_x25519_dh(out, sk, pk)) != UM_OK)
		return ret;
	mix_key(hs, out, sizeof(out));
	sodium_memzero(out, sizeof(out));
	return UM_OK;
}

size_t
noise_hs_write_len(const struct noise_hs *hs, size_t payload_len)
{
	const struct pattern_def *def = pattern_get(hs->pattern);
	bool has_k = hs->has_k;
	size_t len = 0;

	if (!noise_hs_is_our_turn(hs))
		return 0;
	for (unsigned i = 0; i < MAX_TOKENS && def->msgs[hs->msg][i] != TOK_END; i++) {
		switch (def->msgs[hs->msg][i]) {
		case TOK_E:
			len += NOISE_DH_LEN;
			break;
		case TOK_S:
			len += (size_t)NOISE_DH_LEN + (has_k ? (size_t)NOISE_TAG_LEN : 0);
			break;
		default:
			has_k = true;
			break;
		}
	}
	return len + payload_len + (has_k ? (size_t)NOISE_TAG_LEN : 0);
}

int
noise_hs_write(struct noise_hs *hs, const uint8_t *payload, size_t payload_len, uint8_t *out,
               size_t out_cap, size_t *out_len)
{
	const struct pattern_def *def = pattern_get(hs->pattern);
	size_t need = noise_hs_write_len(hs, payload_len);
	size_t off = 0;
	size_t n;
	int ret = UM_ERR_INTERNAL;

	*out_len = 0;
	if (!noise_hs_is_our_turn(hs))
		return UM_ERR_STATE;
	if (need > out_cap || need > NOISE_MAX_MSG_LEN)
		return UM_ERR_TOO_LARGE;
	for (unsigned i = 0; i < MAX_TOKENS && def->msgs[hs->msg][i] != TOK_END; i++) {
		enum token t = def->msgs[hs->msg][i];

		switch (t) {
		case TOK_E:
			if (!hs->has_e) {
				randombytes_buf(hs->e_priv, NOISE_DH_LEN);
				keys_x25519_public(hs->e_pub, hs->e_priv);
				hs->has_e = true;
			}
			memcpy(out + off, hs->e_pub, NOISE_DH_LEN);
			off += NOISE_DH_LEN;
			mix_hash(hs, hs->e_pub, NOISE_DH_LEN);
			break;
		case TOK_S:
			if ((ret = encrypt_and_hash(hs, hs->s_pub, NOISE_DH_LEN, out + off, &n)) !=
			    UM_OK)
				goto fail;
			off += n;
			break;
		default:
			if ((ret = dh_token(hs, t)) != UM_OK)
				goto fail;
			break;
		}
	}
	if ((ret = encrypt_and_hash(hs, payload, payload_len, out + off, &n)) != UM_OK)
		goto fail;
	off += n;
	hs->msg++;
	*out_len = off;
	return UM_OK;
fail:
	hs->failed = true;
	return ret;
}

int
noise_hs_read(struct noise_hs *hs, const uint8_t *msg, size_t msg_len, uint8_t *payload,
              size_t payload_cap, size_t *payload_len)
{
	const struct pattern_def *def = pattern_get(hs->pattern);
	struct wire_rd r;
	const uint8_t *v;
	size_t n;
	int ret = UM_ERR_INTERNAL;

	*payload_len = 0;
	if (def == NULL || hs->failed || hs->msg >= def->n_msgs ||
	    (hs->msg % 2 == 0) == hs->initiator)
		return UM_ERR_STATE;
	if (msg_len > NOISE_MAX_MSG_LEN)
		return UM_ERR_TOO_LARGE;
	wire_rd_init(&r, msg, msg_len);
	for (unsigned i = 0; i < MAX_TOKENS && def->msgs[hs->msg][i] != TOK_END; i++) {
		enum token t = def->msgs[hs->msg][i];

		switch (t) {
		case TOK_E:
			if ((ret = wire_get_view(&r, NOISE_DH_LEN, &v)) != UM_OK)
				goto fail;
			memcpy(hs->re, v, NOISE_DH_LEN);
			hs->has_re = true;
			mix_hash(hs, hs->re, NOISE_DH_LEN);
			break;
		case TOK_S: {
			size_t len = (size_t)NOISE_DH_LEN + (hs->has_k ? (size_t)NOISE_TAG_LEN : 0);
			uint8_t tmp[NOISE_DH_LEN + NOISE_TAG_LEN];

			if ((ret = wire_get_view(&r, len, &v)) != UM_OK)
				goto fail;
			if ((ret = decrypt_and_hash(hs, v, len, tmp, &n)) != UM_OK)
				goto fail;
			memcpy(hs->rs, tmp, NOISE_DH_LEN);
			hs->has_rs = true;
			break;
		}
		default:
			if ((ret = dh_token(hs, t)) != UM_OK)
				goto fail;
			break;
		}
	}
	n = wire_rd_left(&r);
	if (hs->has_k && n < NOISE_TAG_LEN) {
		ret = UM_ERR_TRUNCATED;
		goto fail;
	}
	if (n - (hs->has_k ? (size_t)NOISE_TAG_LEN : 0) > payload_cap) {
		ret = UM_ERR_TOO_LARGE;
		goto fail;
	}
	if ((ret = decrypt_and_hash(hs, msg + r.off, n, payload, payload_len)) != UM_OK)
		goto fail;
	hs->msg++;
	return UM_OK;
fail:
	hs->failed = true;
	return ret;
}

static int
cs_init(struct noise_cs *cs, const uint8_t key[NOISE_KEY_LEN], bool encrypt)
{
	memcpy(cs->k, key, NOISE_KEY_LEN);
	cs->n = 0;
	return aead_init(&cs->aead, key, encrypt);
}

int
noise_hs_split(struct noise_hs *hs, struct noise_cs *send, struct noise_cs *recv)
{
	uint8_t k1[NOISE_HASH_LEN], k2[NOISE_HASH_LEN];
	int ret = UM_ERR_INTERNAL;

	memset(send, 0, sizeof(*send));
	memset(recv, 0, sizeof(*recv));
	if (!noise_hs_is_done(hs))
		return UM_ERR_STATE;
	kdf_noise_blake2b(k1, k2, NULL, hs->ck, NULL, 0);
	if ((ret = cs_init(send, hs->initiator ? k1 : k2, true)) != UM_OK ||
	    (ret = cs_init(recv, hs->initiator ? k2 : k1, false)) != UM_OK) {
		noise_cs_clear(send);
		noise_cs_clear(recv);
	}
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
	return ret;
}

void
noise_hs_clear(struct noise_hs *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}

int
noise_cs_encrypt(struct noise_cs *cs, const uint8_t *ad, size_t ad_len, const uint8_t *pt,
                 size_t len, uint8_t *out)
{
	int ret;

	/* n = 2^64-1 is reserved for Rekey (noise.md 5.1). */
	if (cs->n == UINT64_MAX)
		return UM_ERR_STATE;
	if ((ret = aead_seal(&cs->aead, cs->n, ad, ad_len, pt, len, out)) != UM_OK)
		return ret;
	cs->n++;
	return UM_OK;
}

int
noise_cs_decrypt(struct noise_cs *cs, const uint8_t *ad, size_t ad_len, const uint8_t *ct,
                 size_t len, uint8_t *out)
{
	int ret;

	if (cs->n == UINT64_MAX)
		return UM_ERR_STATE;
	if ((ret = aead_open(&cs->aead, cs->n, ad, ad_len, ct, len, out)) != UM_OK)
		return ret;
	cs->n++;
	return UM_OK;
}

int
noise_cs_rekey(struct noise_cs *cs)
{
	uint8_t nonce[12];
	uint8_t out[NOISE_KEY_LEN + NOISE_TAG_LEN];
	unsigned long long clen = 0;
	int ret;

	nonce_make(nonce, UINT64_MAX);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, zero_key, NOISE_KEY_LEN, NULL, 0,
	                                          NULL, nonce, cs->k);
	memcpy(cs->k, out, NOISE_KEY_LEN);
	sodium_memzero(out, sizeof(out));
	ret = aead_set_key(&cs->aead, cs->k);
	return ret;
}

void
noise_cs_clear(struct noise_cs *cs)
{
	aead_clear(&cs->aead);
	sodium_memzero(cs, sizeof(*cs));
}
