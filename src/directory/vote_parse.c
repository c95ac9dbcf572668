/* SPDX-License-Identifier: MIT */
/*
 * Votes: parse and encode (layout in vote.h and docs/PROTOCOL.md 5.3). Each field is checked
 * as soon as it is read, so every strict prefix of a valid vote is UM_ERR_TRUNCATED; the
 * relay array is allocated only after the input proved it holds that many entries.
 */
#include "directory/vote.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"

ssize_t
vote_parse(const uint8_t *in, size_t len, struct vote *out)
{
	struct wire_rd r;
	struct vote v;
	ssize_t n;
	int ret;

	memset(&v, 0, sizeof(v));
	wire_rd_init(&r, in, len);
	if ((ret = wire_get_u8(&r, &v.version)) != UM_OK)
		return ret;
	if (v.version != VOTE_VERSION)
		return UM_ERR_MALFORMED;
	if ((n = auth_cert_parse(in + r.off, wire_rd_left(&r), &v.cert)) < 0)
		return n;
	if (wire_skip(&r, (size_t)n) != UM_OK)
		return UM_ERR_INTERNAL;
	if ((ret = wire_get_u64(&r, &v.valid_after_s)) != UM_OK)
		return ret;
	if ((ret = wire_get_u64(&r, &v.fresh_until_s)) != UM_OK)
		return ret;
	if (v.fresh_until_s <= v.valid_after_s)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u64(&r, &v.valid_until_s)) != UM_OK)
		return ret;
	if (!dir_period_is_valid(v.valid_after_s, v.fresh_until_s, v.valid_until_s))
		return UM_ERR_MALFORMED;
	if ((ret = dir_params_parse(&r, &v.params)) != UM_OK)
		return ret;
	if ((ret = dir_issuers_parse(&r, &v.issuers)) != UM_OK)
		return ret;
	if ((ret = relay_entries_parse(&r, &v.relays, &v.n_relays)) != UM_OK) {
		dir_issuers_clear(&v.issuers);
		return ret;
	}
	if ((ret = wire_get_bytes(&r, v.sig, VOTE_SIG_LEN)) != UM_OK) {
		free(v.relays);
		dir_issuers_clear(&v.issuers);
		return ret;
	}
	*out = v;
	return (ssize_t)r.off;
}

size_t
vote_encoded_len(const struct vote *v)
{
	size_t relays = relay_entries_encoded_len(v->relays, v->n_relays);
	size_t issuers = dir_issuers_encoded_len(&v->issuers);

	if (relays == 0 || issuers == 0 || v->params.n > DIR_PARAMS_MAX)
		return 0;
	return VOTE_HEADER_LEN + dir_params_encoded_len(&v->params) + issuers + relays +
	       VOTE_SIG_LEN;
}

int
vote_encode(const struct vote *v, struct wire_wr *w)
{
	size_t start = w->len;
	int ret;

	if (v->version != VOTE_VERSION ||
	    !dir_period_is_valid(v->valid_after_s, v->fresh_until_s, v->valid_until_s) ||
	    (v->n_relays > 0 && v->relays == NULL))
		return UM_ERR_INVALID;
	if ((ret = wire_put_u8(w, v->version)) != UM_OK ||
	    (ret = auth_cert_encode(&v->cert, w)) != UM_OK ||
	    (ret = wire_put_u64(w, v->valid_after_s)) != UM_OK ||
	    (ret = wire_put_u64(w, v->fresh_until_s)) != UM_OK ||
	    (ret = wire_put_u64(w, v->valid_until_s)) != UM_OK ||
	    (ret = dir_params_encode(&v->params, w)) != UM_OK ||
	    (ret = dir_issuers_encode(&v->issuers, w)) != UM_OK ||
	    (ret = relay_entries_encode(v->relays, v->n_relays, w)) != UM_OK ||
	    (ret = wire_put_bytes(w, v->sig, VOTE_SIG_LEN)) != UM_OK) {
		w->len = start;
		return ret;
	}
	return UM_OK;
}
