/* SPDX-License-Identifier: MIT */
/*
 * Consensus diffs: making one (consensus_diff.h). A merge walk over the two relay lists,
 * both sorted by identity; an entry is kept when its canonical encoding is unchanged.
 */
#include "directory/consensus_diff.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"

struct diff_writer {
	struct wire_wr w;
	size_t n_ops;
	uint8_t run_op; /* 0: no pending run */
	uint32_t run_n;
};

static int
flush_run(struct diff_writer *d)
{
	int ret;

	if (d->run_op == 0)
		return UM_OK;
	if ((ret = wire_put_u8(&d->w, d->run_op)) != UM_OK ||
	    (ret = wire_put_u32(&d->w, d->run_n)) != UM_OK)
		return ret;
	d->n_ops++;
	d->run_op = 0;
	d->run_n = 0;
	return UM_OK;
}

static int
run(struct diff_writer *d, uint8_t op)
{
	int ret;

	if (d->run_op != op && (ret = flush_run(d)) != UM_OK)
		return ret;
	d->run_op = op;
	d->run_n++;
	return UM_OK;
}

static int
add(struct diff_writer *d, const uint8_t *entry, size_t len)
{
	int ret;

	if ((ret = flush_run(d)) != UM_OK || (ret = wire_put_u8(&d->w, CDIFF_OP_ADD)) != UM_OK ||
	    (ret = wire_put_bytes(&d->w, entry, len)) != UM_OK)
		return ret;
	d->n_ops++;
	return UM_OK;
}

static int
entry_bytes(const struct relay_entry *e, uint8_t buf[RELAY_ENTRY_MAX_LEN], size_t *len)
{
	struct wire_wr w;
	int ret;

	wire_wr_init(&w, buf, RELAY_ENTRY_MAX_LEN);
	if ((ret = relay_entry_encode(e, &w)) != UM_OK)
		return ret;
	*len = w.len;
	return UM_OK;
}

static int
ops_write(struct diff_writer *d, const struct consensus *old, const struct consensus *nc)
{
	uint8_t ob[RELAY_ENTRY_MAX_LEN], nb[RELAY_ENTRY_MAX_LEN];
	size_t i = 0, j = 0, ol, nl;
	int ret;

	while (i < old->n_relays || j < nc->n_relays) {
		int c;

		if (i == old->n_relays)
			c = 1;
		else if (j == nc->n_relays)
			c = -1;
		else
			c = memcmp(old->relays[i].identity, nc->relays[j].identity,
			           RELAY_DESC_ID_LEN);
		if (c < 0) {
			ret = run(d, CDIFF_OP_DROP);
			i++;
		} else if (c > 0) {
			if ((ret = entry_bytes(&nc->relays[j], nb, &nl)) == UM_OK)
				ret = add(d, nb, nl);
			j++;
		} else {
			if ((ret = entry_bytes(&old->relays[i], ob, &ol)) != UM_OK ||
			    (ret = entry_bytes(&nc->relays[j], nb, &nl)) != UM_OK)
				return ret;
			if (ol == nl && memcmp(ob, nb, ol) == 0) {
				ret = run(d, CDIFF_OP_KEEP);
			} else if ((ret = run(d, CDIFF_OP_DROP)) == UM_OK) {
				ret = add(d, nb, nl);
			}
			i++;
			j++;
		}
		if (ret != UM_OK)
			return ret;
	}
	return flush_run(d);
}

int
consensus_diff_make(const struct consensus *old, const struct consensus *nc,
                    const uint8_t *new_bytes, size_t new_len, uint8_t **out, size_t *out_len)
{
	struct diff_writer d;
	size_t entries_len, head_len, tail_len, cap, n_ops_at;
	uint8_t *buf;
	int ret;

	entries_len = relay_entries_encoded_len(nc->relays, nc->n_relays);
	if (entries_len == 0 || nc->signed_len < entries_len || nc->signed_len > new_len)
		return UM_ERR_INVALID;
	head_len = nc->signed_len - entries_len;
	tail_len = new_len - nc->signed_len;
	cap = 1 + 2 * DIR_DIGEST_LEN + 3 * 4 + head_len + tail_len + entries_len +
	      5 * (old->n_relays + nc->n_relays + 1);
	buf = um_xmalloc(cap);
	memset(&d, 0, sizeof(d));
	wire_wr_init(&d.w, buf, cap);
	if ((ret = wire_put_u8(&d.w, CDIFF_VERSION)) != UM_OK ||
	    (ret = wire_put_bytes(&d.w, old->digest, DIR_DIGEST_LEN)) != UM_OK ||
	    (ret = wire_put_bytes(&d.w, nc->digest, DIR_DIGEST_LEN)) != UM_OK ||
	    (ret = wire_put_u32(&d.w, (uint32_t)head_len)) != UM_OK ||
	    (ret = wire_put_bytes(&d.w, new_bytes, head_len)) != UM_OK)
		goto fail;
	n_ops_at = d.w.len;
	if ((ret = wire_put_u32(&d.w, 0)) != UM_OK || (ret = ops_write(&d, old, nc)) != UM_OK ||
	    (ret = wire_poke_u32(&d.w, n_ops_at, (uint32_t)d.n_ops)) != UM_OK ||
	    (ret = wire_put_u32(&d.w, (uint32_t)tail_len)) != UM_OK ||
	    (ret = wire_put_bytes(&d.w, new_bytes + nc->signed_len, tail_len)) != UM_OK)
		goto fail;
	*out = buf;
	*out_len = d.w.len;
	return UM_OK;
fail:
	free(buf);
	return ret == UM_ERR_TOO_LARGE ? UM_ERR_INTERNAL : ret;
}
