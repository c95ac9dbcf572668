/* SPDX-License-Identifier: MIT */
/* The client's side of token issuance (tokens_client.h). */
#include "trust/tokens_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/wire.h"
#include "crypto/blindrsa.h"
#include "crypto/hash.h"
#include "trust/issuer_creds.h"
#include "trust/token.h"

struct tokens_req {
	uint8_t issuer[32];
	uint8_t tier;
	uint32_t epoch;
	struct blindrsa_key *pk;
	size_t klen, n;
	struct token t[TOKENS_PER_FETCH_MAX];
	uint8_t inv[TOKENS_PER_FETCH_MAX][BLINDRSA_MAX_LEN];
	uint8_t digest[ISSUER_CREDS_HASH_LEN]; /* of the blinded messages */
};

void
tokens_req_free_(struct tokens_req *r)
{
	if (r == NULL)
		return;
	blindrsa_key_free(r->pk);
	um_memzero(r, sizeof(*r));
	free(r);
}

int
tokens_req_new(const struct issuer_keys *keys, uint8_t tier, size_t n,
               const struct tokens_subject *who, uint64_t now_s, struct tokens_req **out,
               char **body)
{
	return tokens_req_new_epoch(keys, tier, keys->key_epoch, n, who, now_s, out, body);
}

int
tokens_req_new_epoch(const struct issuer_keys *keys, uint8_t tier, uint32_t epoch, size_t n,
                     const struct tokens_subject *who, uint64_t now_s, struct tokens_req **out,
                     char **body)
{
	struct hash_blake2b_state hs;
	uint8_t hash[ISSUER_CREDS_HASH_LEN], sig[ISSUER_CREDS_SIG_LEN];
	char sig_b64[BASE64_LEN(ISSUER_CREDS_SIG_LEN)];
	const struct issuer_key_entry *k = NULL;
	struct tokens_req *r;
	uint8_t input[TOKEN_INPUT_LEN], blinded[BLINDRSA_MAX_LEN];
	char b64[BASE64_LEN(BLINDRSA_MAX_LEN)];
	json_t *arr;
	int ret;

	*out = NULL;
	*body = NULL;
	if (n < 1 || n > TOKENS_PER_FETCH_MAX || tier < TOKEN_TIER_MIN || tier > TOKEN_TIER_MAX)
		return UM_ERR_INVALID;
	for (size_t i = 0; i < keys->n; i++) {
		if (keys->keys[i].tier == tier && keys->keys[i].epoch == epoch)
			k = &keys->keys[i];
	}
	if (k == NULL)
		return UM_ERR_NOT_FOUND;
	r = um_xcalloc(1, sizeof(*r));
	memcpy(r->issuer, keys->issuer, sizeof(r->issuer));
	r->tier = tier;
	r->epoch = epoch;
	if (blindrsa_pk_import(k->spki, k->spki_len, &r->pk) != UM_OK) {
		tokens_req_free(r);
		return UM_ERR_MALFORMED;
	}
	r->klen = blindrsa_key_len(r->pk);
	arr = json_array();
	hash_blake2b_init(&hs, NULL, 0, sizeof(hash));
	for (size_t i = 0; i < n; i++) {
		if ((ret = token_prepare(&r->t[i], tier, r->epoch, r->pk)) != UM_OK)
			goto fail;
		token_input(&r->t[i], input);
		if ((ret = blindrsa_blind(r->pk, TOKEN_VARIANT, input, sizeof(input), blinded,
		                          r->inv[i], r->klen)) != UM_OK ||
		    (ret = enc_base64(b64, sizeof(b64), blinded, r->klen)) != UM_OK)
			goto fail;
		hash_blake2b_update(&hs, blinded, r->klen);
		json_array_append_new(arr, json_string(b64));
		r->n++;
	}
	hash_blake2b_final(&hs, hash, sizeof(hash));
	memcpy(r->digest, hash, sizeof(r->digest));
	{
		json_t *obj = json_pack("{s:i, s:I, s:o}", "tier", (int)tier, "epoch",
		                        (json_int_t)epoch, "blinded", arr);

		if (obj != NULL && who != NULL) {
			issuer_creds_sign(who->key, who->id, tier, now_s, hash, sig);
			if (enc_base64(sig_b64, sizeof(sig_b64), sig, sizeof(sig)) == UM_OK) {
				json_object_set_new(obj, "subject", json_string(who->id));
				json_object_set_new(obj, "time", json_integer((json_int_t)now_s));
				json_object_set_new(obj, "sig", json_string(sig_b64));
			}
		}
		*body = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
		json_decref(obj); /* arr with it */
	}
	um_memzero(input, sizeof(input));
	if (*body == NULL) {
		tokens_req_free(r);
		return UM_ERR_NOMEM;
	}
	*out = r;
	return UM_OK;
fail:
	hash_blake2b_wipe(&hs);
	json_decref(arr);
	tokens_req_free(r);
	return ret;
}

int
tokens_req_finish(struct tokens_req *r, const uint8_t *reply, size_t len, struct wallet *w,
                  uint64_t now_s, size_t *added)
{
	json_t *j, *sigs;
	json_int_t tier = 0, epoch = 0;
	uint8_t bsig[BLINDRSA_MAX_LEN], input[TOKEN_INPUT_LEN], enc[TOKEN_MAX_LEN];
	struct wire_wr wr;
	int ret = UM_OK;

	*added = 0;
	j = json_loadb((const char *)reply, len, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL ||
	    json_unpack(j, "{s:I, s:I, s:o}", "tier", &tier, "epoch", &epoch, "blind_sigs",
	                &sigs) != 0 ||
	    !json_is_array(sigs) || json_array_size(sigs) != r->n || tier != r->tier ||
	    epoch != r->epoch) {
		json_decref(j);
		return UM_ERR_MALFORMED;
	}
	for (size_t i = 0; i < r->n; i++) {
		const char *s = json_string_value(json_array_get(sigs, i));
		ssize_t m = s != NULL ? dec_base64(bsig, sizeof(bsig), s, strlen(s)) : -1;
		int r2;

		token_input(&r->t[i], input);
		if (m != (ssize_t)r->klen ||
		    blindrsa_finalize(r->pk, TOKEN_VARIANT, input, sizeof(input), bsig, r->klen,
		                      r->inv[i], r->klen, r->t[i].sig,
		                      sizeof(r->t[i].sig)) != UM_OK) {
			ret = UM_ERR_AUTH;
			continue;
		}
		wire_wr_init(&wr, enc, sizeof(enc));
		if ((r2 = token_encode(&r->t[i], &wr)) != UM_OK ||
		    (r2 = wallet_add(w, r->issuer, enc, wr.len, now_s)) != UM_OK) {
			if (ret == UM_OK)
				ret = r2;
			continue;
		}
		(*added)++;
	}
	um_memzero(enc, sizeof(enc));
	json_decref(j);
	return ret;
}

const uint8_t *
tokens_req_digest(const struct tokens_req *r)
{
	return r->digest;
}

int
tokens_puzzle_parse(const uint8_t *reply, size_t len, uint8_t seed[PUZZLE_SEED_LEN], unsigned *bits)
{
	uint8_t s[PUZZLE_SEED_LEN + 1];
	const char *err = NULL, *seed_b64 = NULL;
	json_int_t b = 0;
	json_error_t jerr;
	json_t *j;
	int ret = UM_ERR_MALFORMED;

	*bits = 0;
	if (len > TOKENS_PUZZLE_REPLY_MAX)
		return UM_ERR_MALFORMED;
	j = json_loadb((const char *)reply, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL || json_unpack_ex(j, &jerr, 0, "{s:s}", "error", &err) != 0)
		goto out;
	if (strcmp(err, "puzzle") != 0) {
		ret = UM_ERR_NOT_FOUND;
		goto out;
	}
	if (json_unpack_ex(j, &jerr, 0, "{s:s, s:I}", "seed", &seed_b64, "bits", &b) != 0 ||
	    b < 1 || b > PUZZLE_MAX_BITS ||
	    dec_base64(s, sizeof(s), seed_b64, strlen(seed_b64)) != PUZZLE_SEED_LEN)
		goto out;
	memcpy(seed, s, PUZZLE_SEED_LEN);
	*bits = (unsigned)b;
	ret = UM_OK;
out:
	json_decref(j);
	return ret;
}

int
tokens_body_add_puzzle(const char *body, const uint8_t seed[PUZZLE_SEED_LEN],
                       const uint8_t nonce[PUZZLE_NONCE_LEN], char **out)
{
	char s64[BASE64_LEN(PUZZLE_SEED_LEN)], n64[BASE64_LEN(PUZZLE_NONCE_LEN)];
	json_error_t jerr;
	json_t *j;

	*out = NULL;
	j = json_loads(body, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(j) || enc_base64(s64, sizeof(s64), seed, PUZZLE_SEED_LEN) != UM_OK ||
	    enc_base64(n64, sizeof(n64), nonce, PUZZLE_NONCE_LEN) != UM_OK) {
		json_decref(j);
		return UM_ERR_MALFORMED;
	}
	json_object_set_new(j, "puzzle", json_pack("{s:s, s:s}", "seed", s64, "nonce", n64));
	*out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return *out != NULL ? UM_OK : UM_ERR_NOMEM;
}
