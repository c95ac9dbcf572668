/* SPDX-License-Identifier: MIT */
/*
 * Anonymous tier tokens: wire format (parsed only through lib/wire), signed message and
 * verification; docs/PROTOCOL.md section 16 and token.h. The blind-signature arithmetic is
 * crypto/blindrsa's.
 */
#include "trust/token.h"

#include <stdbool.h>
#include <string.h>

#include "lib/err.h"
#include "crypto/crypto.h"

static bool
tier_ok(uint8_t tier)
{
	return tier >= TOKEN_TIER_MIN && tier <= TOKEN_TIER_MAX;
}

static bool
sig_len_ok(size_t n)
{
	return n >= TOKEN_SIG_MIN && n <= TOKEN_SIG_MAX;
}

int
token_parse(const uint8_t *in, size_t len, struct token *out)
{
	struct wire_rd r;
	struct token t;
	int ret;

	memset(&t, 0, sizeof(t));
	wire_rd_init(&r, in, len);
	if ((ret = wire_get_u8(&r, &t.version)) != UM_OK)
		return ret;
	if (t.version != TOKEN_VERSION)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u8(&r, &t.tier)) != UM_OK)
		return ret;
	if (!tier_ok(t.tier))
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u32(&r, &t.key_epoch)) != UM_OK ||
	    (ret = wire_get_bytes(&r, t.key_id, sizeof(t.key_id))) != UM_OK ||
	    (ret = wire_get_bytes(&r, t.nonce, sizeof(t.nonce))) != UM_OK ||
	    (ret = wire_get_u16(&r, &t.sig_len)) != UM_OK)
		return ret;
	/* A named range before the bytes are needed: no key has a modulus outside it. */
	if (!sig_len_ok(t.sig_len))
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_bytes(&r, t.sig, t.sig_len)) != UM_OK)
		return ret;
	if ((ret = wire_expect_end(&r)) != UM_OK)
		return ret;
	*out = t;
	return UM_OK;
}

int
token_encode(const struct token *t, struct wire_wr *w)
{
	int ret;

	if (t->version != TOKEN_VERSION || !tier_ok(t->tier) || !sig_len_ok(t->sig_len))
		return UM_ERR_INVALID;
	/* All or nothing: check the room first. */
	if (wire_wr_left(w) < (size_t)TOKEN_HEADER_LEN + t->sig_len)
		return UM_ERR_TOO_LARGE;
	if ((ret = wire_put_u8(w, t->version)) != UM_OK ||
	    (ret = wire_put_u8(w, t->tier)) != UM_OK ||
	    (ret = wire_put_u32(w, t->key_epoch)) != UM_OK ||
	    (ret = wire_put_bytes(w, t->key_id, sizeof(t->key_id))) != UM_OK ||
	    (ret = wire_put_bytes(w, t->nonce, sizeof(t->nonce))) != UM_OK ||
	    (ret = wire_put_u16(w, t->sig_len)) != UM_OK ||
	    (ret = wire_put_bytes(w, t->sig, t->sig_len)) != UM_OK)
		return ret;
	return UM_OK;
}

void
token_message(const struct token *t, uint8_t out[TOKEN_MSG_LEN])
{
	uint8_t *p = out;

	memcpy(p, TOKEN_LABEL, TOKEN_LABEL_LEN);
	p += TOKEN_LABEL_LEN;
	*p++ = t->tier;
	wire_store_u32(p, t->key_epoch);
	p += 4;
	memcpy(p, t->key_id, TOKEN_KEY_ID_LEN);
	p += TOKEN_KEY_ID_LEN;
	memcpy(p, t->nonce, TOKEN_NONCE_LEN);
}

void
token_input(const struct token *t, uint8_t out[TOKEN_INPUT_LEN])
{
	memcpy(out, t->nonce, TOKEN_NONCE_LEN);
	token_message(t, out + TOKEN_NONCE_LEN);
}

int
token_prepare(struct token *t, uint8_t tier, uint32_t key_epoch, const struct blindrsa_key *pk)
{
	size_t k_len = blindrsa_key_len(pk);

	memset(t, 0, sizeof(*t));
	if (!tier_ok(tier) || !sig_len_ok(k_len))
		return UM_ERR_INVALID;
	t->version = TOKEN_VERSION;
	t->tier = tier;
	t->key_epoch = key_epoch;
	blindrsa_key_id(pk, t->key_id);
	rand_bytes(t->nonce, sizeof(t->nonce));
	t->sig_len = (uint16_t)k_len;
	return UM_OK;
}

int
token_verify(const struct token *t, const struct blindrsa_key *pk, uint8_t tier, uint32_t key_epoch)
{
	uint8_t id[TOKEN_KEY_ID_LEN], input[TOKEN_INPUT_LEN];

	if (t->version != TOKEN_VERSION || !sig_len_ok(t->sig_len))
		return UM_ERR_MALFORMED;
	/* Cheap checks first: the token must name this very key (public values, no secret). */
	blindrsa_key_id(pk, id);
	if (t->tier != tier || t->key_epoch != key_epoch ||
	    memcmp(t->key_id, id, sizeof(id)) != 0 || t->sig_len != blindrsa_key_len(pk))
		return UM_ERR_AUTH;
	token_input(t, input);
	if (blindrsa_verify(pk, TOKEN_VARIANT, input, sizeof(input), t->sig, t->sig_len) != UM_OK)
		return UM_ERR_AUTH;
	return UM_OK;
}
