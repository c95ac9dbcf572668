/* SPDX-License-Identifier: MIT */
/*
 * Bounds-checked reader and writer for every wire format (STYLE.md 3.4, OpenSSH sshbuf
 * semantics). The reader never allocates and fails closed: a get that does not fit returns
 * UM_ERR_TRUNCATED and leaves the reader where it was. Integers are big-endian unless the
 * function name says _le. Views returned by wire_get_view() and wire_get_lv*() point into the
 * reader's source buffer and live exactly as long as that buffer is neither modified nor freed.
 */
#ifndef UM_LIB_WIRE_H
#define UM_LIB_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"

/* Read side: non-owning, lives on the stack. */
struct wire_rd {
	const uint8_t *p;
	size_t len;
	size_t off;
};

void wire_rd_init(struct wire_rd *r, const void *p, size_t len);
size_t wire_rd_left(const struct wire_rd *r);
int wire_get_u8(struct wire_rd *r, uint8_t *v) UM_WARN_UNUSED;
int wire_get_u16(struct wire_rd *r, uint16_t *v) UM_WARN_UNUSED;
int wire_get_u32(struct wire_rd *r, uint32_t *v) UM_WARN_UNUSED;
int wire_get_u64(struct wire_rd *r, uint64_t *v) UM_WARN_UNUSED;
int wire_get_u64_le(struct wire_rd *r, uint64_t *v) UM_WARN_UNUSED;
/* Copy n bytes into dst. */
int wire_get_bytes(struct wire_rd *r, void *dst, size_t n) UM_WARN_UNUSED;
/* Point *v at the next n bytes without copying. */
int wire_get_view(struct wire_rd *r, size_t n, const uint8_t **v) UM_WARN_UNUSED;
int wire_skip(struct wire_rd *r, size_t n) UM_WARN_UNUSED;
/*
 * Read a length-prefixed field (u8 or u16 length). A length over max is UM_ERR_TOO_LARGE
 * (checked before the bytes are required), a short body UM_ERR_TRUNCATED.
 */
int wire_get_lv8(struct wire_rd *r, size_t max, const uint8_t **v, size_t *n) UM_WARN_UNUSED;
int wire_get_lv16(struct wire_rd *r, size_t max, const uint8_t **v, size_t *n) UM_WARN_UNUSED;
/* Split off the next n bytes as a sub-reader (a TLV body). */
int wire_get_sub(struct wire_rd *r, size_t n, struct wire_rd *sub) UM_WARN_UNUSED;
/* UM_OK if everything was consumed, UM_ERR_TRAILING otherwise. */
int wire_expect_end(const struct wire_rd *r) UM_WARN_UNUSED;

/* Write side: fixed capacity; a put that does not fit returns UM_ERR_TOO_LARGE, writes nothing. */
struct wire_wr {
	uint8_t *p;
	size_t cap;
	size_t len;
};

void wire_wr_init(struct wire_wr *w, void *p, size_t cap);
size_t wire_wr_left(const struct wire_wr *w);
int wire_put_u8(struct wire_wr *w, uint8_t v) UM_WARN_UNUSED;
int wire_put_u16(struct wire_wr *w, uint16_t v) UM_WARN_UNUSED;
int wire_put_u32(struct wire_wr *w, uint32_t v) UM_WARN_UNUSED;
int wire_put_u64(struct wire_wr *w, uint64_t v) UM_WARN_UNUSED;
int wire_put_u64_le(struct wire_wr *w, uint64_t v) UM_WARN_UNUSED;
int wire_put_bytes(struct wire_wr *w, const void *src, size_t n) UM_WARN_UNUSED;
int wire_put_zeros(struct wire_wr *w, size_t n) UM_WARN_UNUSED;
/* Write u8/u16 length then the bytes; a length over the prefix's range is UM_ERR_TOO_LARGE. */
int wire_put_lv8(struct wire_wr *w, const void *src, size_t n) UM_WARN_UNUSED;
int wire_put_lv16(struct wire_wr *w, const void *src, size_t n) UM_WARN_UNUSED;
/* Back-fill a value at an offset already written. */
int wire_poke_u16(struct wire_wr *w, size_t off, uint16_t v) UM_WARN_UNUSED;
int wire_poke_u32(struct wire_wr *w, size_t off, uint32_t v) UM_WARN_UNUSED;

/* Plain encoders/decoders for fixed buffers the caller has already bounds-checked. */
static inline uint16_t
wire_load_u16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t
wire_load_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
wire_load_u64(const uint8_t *p)
{
	return (uint64_t)wire_load_u32(p) << 32 | wire_load_u32(p + 4);
}

static inline void
wire_store_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
wire_store_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void
wire_store_u64(uint8_t *p, uint64_t v)
{
	wire_store_u32(p, (uint32_t)(v >> 32));
	wire_store_u32(p + 4, (uint32_t)v);
}

static inline void
wire_store_u64_le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

#endif /* UM_LIB_WIRE_H */
