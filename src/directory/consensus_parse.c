/* SPDX-License-Identifier: MIT */
/*
 * Consensus documents: parse and encode (layout in consensus.h and docs/PROTOCOL.md 5.4).
 * Each field is checked as it is read, so every strict prefix is UM_ERR_TRUNCATED; the
 * parser hashes the signed part as received so the client verifies exactly those bytes.
 */
#include "directory/consensus.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "crypto/hash.h"

static int
cmp_sig(const struct cons_sig *a, const struct cons_sig *b)
{
	int c = memcmp(a->identity, b->identity, AUTHCERT_ID_LEN);

	return c != 0 ? c : memcmp(a->signing_key, b->signing_key, AUTHCERT_ID_LEN);
}

ssize_t
consensus_parse(const uint8_t *in, size_t len, struct consensus *out)
{
	struct wire_rd r;
	struct consensus c;
	ssize_t n;
	int ret;

	memset(&c, 0, sizeof(c));
	wire_rd_init(&r, in, len);
	if ((ret = wire_get_u8(&r, &c.version)) != UM_OK)
		return ret;
	if (c.version != CONS_VERSION)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u64(&r, &c.valid_after_s)) != UM_OK)
		return ret;
	if ((ret = wire_get_u64(&r, &c.fresh_until_s)) != UM_OK)
		return ret;
	if (c.fresh_until_s <= c.valid_after_s)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u64(&r, &c.valid_until_s)) != UM_OK)
		return ret;
	if (!dir_period_is_valid(c.valid_after_s, c.fresh_until_s, c.valid_until_s))
		return UM_ERR_MALFORMED;
	if ((ret = dir_params_parse(&r, &c.params)) != UM_OK)
		return ret;

	/* The voters: 1..MAX certificates, strictly ascending identity (one per authority). */
	if ((ret = wire_get_u8(&r, &c.n_auths)) != UM_OK)
		return ret;
	if (c.n_auths == 0 || c.n_auths > CONS_MAX_AUTHORITIES)
		return UM_ERR_MALFORMED;
	for (size_t i = 0; i < c.n_auths; i++) {
		if ((n = auth_cert_parse(in + r.off, wire_rd_left(&r), &c.auths[i])) < 0)
			return n;
		if (wire_skip(&r, (size_t)n) != UM_OK)
			return UM_ERR_INTERNAL;
		if (i > 0 &&
		    memcmp(c.auths[i - 1].identity, c.auths[i].identity, AUTHCERT_ID_LEN) >= 0)
			return UM_ERR_MALFORMED;
	}
	if ((ret = dir_issuers_parse(&r, &c.issuers)) != UM_OK)
		return ret;
	if ((ret = relay_entries_parse(&r, &c.relays, &c.n_relays)) != UM_OK)
		goto fail;
	c.signed_len = r.off;

	/* Signatures: strictly ascending (identity, signing key); none is checked here. */
	if ((ret = wire_get_u8(&r, &c.n_sigs)) != UM_OK)
		goto fail;
	if (c.n_sigs > CONS_MAX_SIGS) {
		ret = UM_ERR_MALFORMED;
		goto fail;
	}
	for (size_t i = 0; i < c.n_sigs; i++) {
		struct cons_sig *s = &c.sigs[i];

		if ((ret = wire_get_bytes(&r, s->identity, AUTHCERT_ID_LEN)) != UM_OK)
			goto fail;
		if ((ret = wire_get_bytes(&r, s->signing_key, AUTHCERT_ID_LEN)) != UM_OK)
			goto fail;
		if (i > 0 && cmp_sig(&c.sigs[i - 1], s) >= 0) {
			ret = UM_ERR_MALFORMED;
			goto fail;
		}
		if ((ret = wire_get_bytes(&r, s->sig, sizeof(s->sig))) != UM_OK)
			goto fail;
	}
	hash_blake2b(c.digest, DIR_DIGEST_LEN, in, c.signed_len, NULL, 0);
	*out = c;
	return (ssize_t)r.off;
fail:
	free(c.relays);
	dir_issuers_clear(&c.issuers);
	return ret;
}

size_t
consensus_signed_len(const struct consensus *c)
{
	size_t relays = relay_entries_encoded_len(c->relays, c->n_relays);
	size_t issuers = dir_issuers_encoded_len(&c->issuers);

	if (relays == 0 || issuers == 0 || c->params.n > DIR_PARAMS_MAX ||
	    c->n_auths > CONS_MAX_AUTHORITIES)
		return 0;
	return CONS_HEADER_LEN + dir_params_encoded_len(&c->params) + 1 +
	       (size_t)c->n_auths * AUTHCERT_LEN + issuers + relays;
}

size_t
consensus_encoded_len(const struct consensus *c)
{
	size_t n = consensus_signed_len(c);

	if (n == 0 || c->n_sigs > CONS_MAX_SIGS)
		return 0;
	return n + 1 + (size_t)c->n_sigs * CONS_SIG_ENTRY_LEN;
}

int
consensus_encode_signed(const struct consensus *c, struct wire_wr *w)
{
	size_t start = w->len;
	int ret;

	if (c->version != CONS_VERSION ||
	    !dir_period_is_valid(c->valid_after_s, c->fresh_until_s, c->valid_until_s) ||
	    c->n_auths == 0 || c->n_auths > CONS_MAX_AUTHORITIES ||
	    (c->n_relays > 0 && c->relays == NULL))
		return UM_ERR_INVALID;
	for (size_t i = 1; i < c->n_auths; i++) {
		if (memcmp(c->auths[i - 1].identity, c->auths[i].identity, AUTHCERT_ID_LEN) >= 0)
			return UM_ERR_INVALID;
	}
	if ((ret = wire_put_u8(w, c->version)) != UM_OK ||
	    (ret = wire_put_u64(w, c->valid_after_s)) != UM_OK ||
	    (ret = wire_put_u64(w, c->fresh_until_s)) != UM_OK ||
	    (ret = wire_put_u64(w, c->valid_until_s)) != UM_OK ||
	    (ret = dir_params_encode(&c->params, w)) != UM_OK ||
	    (ret = wire_put_u8(w, c->n_auths)) != UM_OK)
		goto fail;
	for (size_t i = 0; i < c->n_auths; i++) {
		if ((ret = auth_cert_encode(&c->auths[i], w)) != UM_OK)
			goto fail;
	}
	if ((ret = dir_issuers_encode(&c->issuers, w)) != UM_OK ||
	    (ret = relay_entries_encode(c->relays, c->n_relays, w)) != UM_OK)
		goto fail;
	return UM_OK;
fail:
	w->len = start;
	return ret;
}

int
consensus_encode(const struct consensus *c, struct wire_wr *w)
{
	size_t start = w->len;
	int ret;

	if (c->n_sigs > CONS_MAX_SIGS)
		return UM_ERR_INVALID;
	for (size_t i = 1; i < c->n_sigs; i++) {
		if (cmp_sig(&c->sigs[i - 1], &c->sigs[i]) >= 0)
			return UM_ERR_INVALID;
	}
	if ((ret = consensus_encode_signed(c, w)) != UM_OK)
		return ret;
	if ((ret = wire_put_u8(w, c->n_sigs)) != UM_OK)
		goto fail;
	for (size_t i = 0; i < c->n_sigs; i++) {
		if ((ret = wire_put_bytes(w, c->sigs[i].identity, AUTHCERT_ID_LEN)) != UM_OK ||
		    (ret = wire_put_bytes(w, c->sigs[i].signing_key, AUTHCERT_ID_LEN)) != UM_OK ||
		    (ret = wire_put_bytes(w, c->sigs[i].sig, sizeof(c->sigs[i].sig))) != UM_OK)
			goto fail;
	}
	return UM_OK;
fail:
	w->len = start;
	return ret;
}
