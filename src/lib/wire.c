/* SPDX-License-Identifier: MIT */
#include "lib/wire.h"

#include <string.h>

#include "lib/err.h"

void
wire_rd_init(struct wire_rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = p != NULL ? len : 0;
	r->off = 0;
}

size_t
wire_rd_left(const struct wire_rd *r)
{
	return r->len - r->off;
}

int
wire_get_view(struct wire_rd *r, size_t n, const uint8_t **v)
{
	*v = NULL;
	if (n > wire_rd_left(r))
		return UM_ERR_TRUNCATED;
	/* An empty reader may have p == NULL, and NULL + 0 is undefined in C. */
	*v = r->p != NULL ? r->p + r->off : NULL;
	r->off += n;
	return UM_OK;
}

int
wire_skip(struct wire_rd *r, size_t n)
{
	const uint8_t *v;

	return wire_get_view(r, n, &v);
}

int
wire_get_bytes(struct wire_rd *r, void *dst, size_t n)
{
	const uint8_t *v;
	int ret;

	if ((ret = wire_get_view(r, n, &v)) != UM_OK)
		return ret;
	if (n > 0)
		memcpy(dst, v, n);
	return UM_OK;
}

int
wire_get_u8(struct wire_rd *r, uint8_t *val)
{
	const uint8_t *v;
	int ret;

	*val = 0;
	if ((ret = wire_get_view(r, 1, &v)) != UM_OK)
		return ret;
	*val = v[0];
	return UM_OK;
}

int
wire_get_u16(struct wire_rd *r, uint16_t *val)
{
	const uint8_t *v;
	int ret;

	*val = 0;
	if ((ret = wire_get_view(r, 2, &v)) != UM_OK)
		return ret;
	*val = wire_load_u16(v);
	return UM_OK;
}

int
wire_get_u32(struct wire_rd *r, uint32_t *val)
{
	const uint8_t *v;
	int ret;

	*val = 0;
	if ((ret = wire_get_view(r, 4, &v)) != UM_OK)
		return ret;
	*val = wire_load_u32(v);
	return UM_OK;
}

int
wire_get_u64(struct wire_rd *r, uint64_t *val)
{
	const uint8_t *v;
	int ret;

	*val = 0;
	if ((ret = wire_get_view(r, 8, &v)) != UM_OK)
		return ret;
	*val = wire_load_u64(v);
	return UM_OK;
}

int
wire_get_u64_le(struct wire_rd *r, uint64_t *val)
{
	const uint8_t *v;
	uint64_t x = 0;
	int ret;

	*val = 0;
	if ((ret = wire_get_view(r, 8, &v)) != UM_OK)
		return ret;
	for (int i = 7; i >= 0; i--)
		x = x << 8 | v[i];
	*val = x;
	return UM_OK;
}

static int
get_lv(struct wire_rd *r, size_t hdr, size_t max, const uint8_t **v, size_t *n)
{
	struct wire_rd save = *r;
	size_t len;
	int ret;

	*v = NULL;
	*n = 0;
	if (hdr == 1) {
		uint8_t l8;

		if ((ret = wire_get_u8(r, &l8)) != UM_OK)
			return ret;
		len = l8;
	} else {
		uint16_t l16;

		if ((ret = wire_get_u16(r, &l16)) != UM_OK)
			return ret;
		len = l16;
	}
	if (len > max) {
		*r = save;
		return UM_ERR_TOO_LARGE;
	}
	if ((ret = wire_get_view(r, len, v)) != UM_OK) {
		*r = save;
		return ret;
	}
	*n = len;
	return UM_OK;
}

int
wire_get_lv8(struct wire_rd *r, size_t max, const uint8_t **v, size_t *n)
{
	return get_lv(r, 1, max, v, n);
}

int
wire_get_lv16(struct wire_rd *r, size_t max, const uint8_t **v, size_t *n)
{
	return get_lv(r, 2, max, v, n);
}

int
wire_get_sub(struct wire_rd *r, size_t n, struct wire_rd *sub)
{
	const uint8_t *v;
	int ret;

	wire_rd_init(sub, NULL, 0);
	if ((ret = wire_get_view(r, n, &v)) != UM_OK)
		return ret;
	wire_rd_init(sub, v, n);
	return UM_OK;
}

int
wire_expect_end(const struct wire_rd *r)
{
	return wire_rd_left(r) == 0 ? UM_OK : UM_ERR_TRAILING;
}

void
wire_wr_init(struct wire_wr *w, void *p, size_t cap)
{
	w->p = p;
	w->cap = p != NULL ? cap : 0;
	w->len = 0;
}

size_t
wire_wr_left(const struct wire_wr *w)
{
	return w->cap - w->len;
}

int
wire_put_bytes(struct wire_wr *w, const void *src, size_t n)
{
	if (n > wire_wr_left(w))
		return UM_ERR_TOO_LARGE;
	if (n > 0)
		memcpy(w->p + w->len, src, n);
	w->len += n;
	return UM_OK;
}

int
wire_put_zeros(struct wire_wr *w, size_t n)
{
	if (n > wire_wr_left(w))
		return UM_ERR_TOO_LARGE;
	if (n > 0)
		memset(w->p + w->len, 0, n);
	w->len += n;
	return UM_OK;
}

int
wire_put_u8(struct wire_wr *w, uint8_t v)
{
	return wire_put_bytes(w, &v, 1);
}

int
wire_put_u16(struct wire_wr *w, uint16_t v)
{
	uint8_t b[2];

	wire_store_u16(b, v);
	return wire_put_bytes(w, b, sizeof(b));
}

int
wire_put_u32(struct wire_wr *w, uint32_t v)
{
	uint8_t b[4];

	wire_store_u32(b, v);
	return wire_put_bytes(w, b, sizeof(b));
}

int
wire_put_u64(struct wire_wr *w, uint64_t v)
{
	uint8_t b[8];

	wire_store_u64(b, v);
	return wire_put_bytes(w, b, sizeof(b));
}

int
wire_put_u64_le(struct wire_wr *w, uint64_t v)
{
	uint8_t b[8];

	wire_store_u64_le(b, v);
	return wire_put_bytes(w, b, sizeof(b));
}

int
wire_put_lv8(struct wire_wr *w, const void *src, size_t n)
{
	if (n > UINT8_MAX || n + 1 > wire_wr_left(w))
		return UM_ERR_TOO_LARGE;
	return wire_put_u8(w, (uint8_t)n) != UM_OK ? UM_ERR_INTERNAL : wire_put_bytes(w, src, n);
}

int
wire_put_lv16(struct wire_wr *w, const void *src, size_t n)
{
	if (n > UINT16_MAX || n + 2 > wire_wr_left(w))
		return UM_ERR_TOO_LARGE;
	return wire_put_u16(w, (uint16_t)n) != UM_OK ? UM_ERR_INTERNAL : wire_put_bytes(w, src, n);
}

int
wire_poke_u16(struct wire_wr *w, size_t off, uint16_t v)
{
	if (off > w->len || 2 > w->len - off)
		return UM_ERR_TOO_LARGE;
	wire_store_u16(w->p + off, v);
	return UM_OK;
}

int
wire_poke_u32(struct wire_wr *w, size_t off, uint32_t v)
{
	if (off > w->len || 4 > w->len - off)
		return UM_ERR_TOO_LARGE;
	wire_store_u32(w->p + off, v);
	return UM_OK;
}
