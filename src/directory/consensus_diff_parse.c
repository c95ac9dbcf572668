/* SPDX-License-Identifier: MIT */
/*
 * Consensus diffs: applying one (consensus_diff.h). Every count is checked against what is
 * left of the old list or of the input before anything is copied; the output is bounded by
 * the old document plus the diff, so a diff cannot make us allocate more than it sent.
 */
#include "directory/consensus_diff.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"

int
consensus_diff_peek(const uint8_t *diff, size_t len, uint8_t from[DIR_DIGEST_LEN],
                    uint8_t to[DIR_DIGEST_LEN])
{
	struct wire_rd r;
	uint8_t version;
	int ret;

	wire_rd_init(&r, diff, len);
	if ((ret = wire_get_u8(&r, &version)) != UM_OK)
		return ret;
	if (version != CDIFF_VERSION)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_bytes(&r, from, DIR_DIGEST_LEN)) != UM_OK ||
	    (ret = wire_get_bytes(&r, to, DIR_DIGEST_LEN)) != UM_OK)
		return ret;
	return UM_OK;
}

/* Append old's entries [*i, *i + n) to w. */
static int
keep(const struct consensus *old, size_t *i, uint32_t n, struct wire_wr *w)
{
	int ret;

	if (n == 0 || n > old->n_relays - *i)
		return UM_ERR_MALFORMED;
	for (uint32_t k = 0; k < n; k++, (*i)++) {
		if ((ret = relay_entry_encode(&old->relays[*i], w)) != UM_OK)
			return ret == UM_ERR_TOO_LARGE ? UM_ERR_MALFORMED : ret;
	}
	return UM_OK;
}

static int
ops_apply(const struct consensus *old, struct wire_rd *r, struct wire_wr *w, uint32_t *n_out)
{
	struct relay_entry e;
	uint32_t n_ops, n;
	size_t i = 0, start;
	uint8_t op;
	int ret;

	if ((ret = wire_get_u32(r, &n_ops)) != UM_OK)
		return ret;
	if (n_ops > CDIFF_MAX_OPS)
		return UM_ERR_MALFORMED;
	*n_out = 0;
	for (uint32_t k = 0; k < n_ops; k++) {
		if ((ret = wire_get_u8(r, &op)) != UM_OK)
			return ret;
		switch (op) {
		case CDIFF_OP_KEEP:
		case CDIFF_OP_DROP:
			if ((ret = wire_get_u32(r, &n)) != UM_OK)
				return ret;
			if (op == CDIFF_OP_DROP) {
				if (n == 0 || n > old->n_relays - i)
					return UM_ERR_MALFORMED;
				i += n;
				break;
			}
			if ((ret = keep(old, &i, n, w)) != UM_OK)
				return ret;
			*n_out += n;
			break;
		case CDIFF_OP_ADD:
			start = r->off;
			if ((ret = relay_entry_parse(r, &e)) != UM_OK)
				return ret;
			if ((ret = wire_put_bytes(w, r->p + start, r->off - start)) != UM_OK)
				return UM_ERR_MALFORMED;
			(*n_out)++;
			break;
		default:
			return UM_ERR_MALFORMED;
		}
		if (*n_out > CONS_MAX_RELAYS)
			return UM_ERR_MALFORMED;
	}
	return i == old->n_relays ? UM_OK : UM_ERR_MALFORMED;
}

int
consensus_diff_apply(const struct consensus *old, const uint8_t *diff, size_t len,
                     struct consensus *out, uint8_t **bytes, size_t *out_len)
{
	uint8_t from[DIR_DIGEST_LEN], to[DIR_DIGEST_LEN];
	const uint8_t *head, *tail;
	struct wire_rd r;
	struct wire_wr w;
	struct consensus c;
	uint32_t head_len, tail_len, n_relays;
	size_t cap, count_at;
	uint8_t *buf;
	ssize_t n;
	int ret;

	if ((ret = consensus_diff_peek(diff, len, from, to)) != UM_OK)
		return ret;
	if (memcmp(from, old->digest, DIR_DIGEST_LEN) != 0)
		return UM_ERR_MALFORMED;
	wire_rd_init(&r, diff, len);
	if ((ret = wire_skip(&r, 1 + 2 * DIR_DIGEST_LEN)) != UM_OK)
		return ret;
	if ((ret = wire_get_u32(&r, &head_len)) != UM_OK)
		return ret;
	if (head_len > CONS_MAX_LEN)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_view(&r, head_len, &head)) != UM_OK)
		return ret;
	/* The new document: head, count, kept entries (at most old's), added ones (at most
	 * the diff's bytes), tail (also from the diff). */
	cap = (size_t)head_len + 4 + relay_entries_encoded_len(old->relays, old->n_relays) + len;
	if (cap > CONS_MAX_LEN)
		cap = CONS_MAX_LEN;
	buf = um_xmalloc(cap);
	wire_wr_init(&w, buf, cap);
	if ((ret = wire_put_bytes(&w, head, head_len)) != UM_OK) {
		ret = UM_ERR_MALFORMED;
		goto fail;
	}
	count_at = w.len;
	if ((ret = wire_put_u32(&w, 0)) != UM_OK) {
		ret = UM_ERR_MALFORMED;
		goto fail;
	}
	if ((ret = ops_apply(old, &r, &w, &n_relays)) != UM_OK)
		goto fail;
	if ((ret = wire_poke_u32(&w, count_at, n_relays)) != UM_OK)
		goto fail;
	if ((ret = wire_get_u32(&r, &tail_len)) != UM_OK)
		goto fail;
	if ((ret = wire_get_view(&r, tail_len, &tail)) != UM_OK)
		goto fail;
	if ((ret = wire_expect_end(&r)) != UM_OK) {
		ret = UM_ERR_MALFORMED;
		goto fail;
	}
	if ((ret = wire_put_bytes(&w, tail, tail_len)) != UM_OK) {
		ret = UM_ERR_MALFORMED;
		goto fail;
	}
	/* Whatever the diff said, the result is an ordinary consensus or nothing. */
	if ((n = consensus_parse(buf, w.len, &c)) < 0 || (size_t)n != w.len) {
		if (n >= 0)
			consensus_clear(&c);
		ret = UM_ERR_MALFORMED;
		goto fail;
	}
	if (memcmp(c.digest, to, DIR_DIGEST_LEN) != 0) {
		consensus_clear(&c);
		ret = UM_ERR_MALFORMED;
		goto fail;
	}
	*out = c;
	*bytes = buf;
	*out_len = w.len;
	return UM_OK;
fail:
	free(buf);
	return ret;
}
