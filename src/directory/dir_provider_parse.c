/* SPDX-License-Identifier: MIT */
/* The provider upsert framing (dir_provider.h, PROTOCOL.md 18.4). */
#include "directory/dir_provider.h"

#include <string.h>

#include "lib/err.h"

static ssize_t
rd_err(int ret)
{
	return ret == UM_ERR_TRUNCATED ? UM_ERR_TRUNCATED : UM_ERR_MALFORMED;
}

ssize_t
dir_provider_upsert_parse(const uint8_t *in, size_t len, struct dir_provider_upsert *out)
{
	struct dir_provider_upsert u;
	struct wire_rd r;
	int ret;

	memset(&u, 0, sizeof(u));
	wire_rd_init(&r, in, len);
	if ((ret = wire_get_u8(&r, &u.version)) != UM_OK)
		return rd_err(ret);
	if (u.version != DIR_PROVIDER_VERSION)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_lv16(&r, DIR_PROVIDER_TOKEN_MAX, &u.token, &u.token_len)) != UM_OK)
		return rd_err(ret);
	if (u.token_len == 0)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_bytes(&r, u.pop_sig, DIR_PROVIDER_SIG_LEN)) != UM_OK ||
	    (ret = wire_get_u64(&r, &u.time_s)) != UM_OK ||
	    (ret = wire_get_lv16(&r, RELAY_DESC_MAX_LEN, &u.desc, &u.desc_len)) != UM_OK)
		return rd_err(ret);
	if (u.desc_len == 0 || wire_expect_end(&r) != UM_OK)
		return UM_ERR_MALFORMED;
	*out = u;
	return (ssize_t)len;
}

int
dir_provider_upsert_encode(const struct dir_provider_upsert *u, struct wire_wr *w)
{
	size_t mark = w->len;
	int ret;

	if (u->version != DIR_PROVIDER_VERSION || u->token_len == 0 ||
	    u->token_len > DIR_PROVIDER_TOKEN_MAX || u->desc_len == 0 ||
	    u->desc_len > RELAY_DESC_MAX_LEN)
		return UM_ERR_INVALID;
	if ((ret = wire_put_u8(w, u->version)) != UM_OK ||
	    (ret = wire_put_lv16(w, u->token, u->token_len)) != UM_OK ||
	    (ret = wire_put_bytes(w, u->pop_sig, DIR_PROVIDER_SIG_LEN)) != UM_OK ||
	    (ret = wire_put_u64(w, u->time_s)) != UM_OK ||
	    (ret = wire_put_lv16(w, u->desc, u->desc_len)) != UM_OK) {
		w->len = mark;
		return ret;
	}
	return UM_OK;
}
