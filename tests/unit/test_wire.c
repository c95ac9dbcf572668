/* SPDX-License-Identifier: MIT */
/* Unit tests for src/lib/wire: the bounds-checked reader and writer (STYLE.md 3.4). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <sys/types.h>

#include "lib/err.h"
#include "lib/wire.h"

/* A sample composite message: u8 type, u16 flags, lv16 name (max 32), u64 id, 4-byte tag. */
#define SAMPLE_NAME_MAX 32
#define SAMPLE_TAG_LEN  4

struct sample {
	uint8_t type;
	uint16_t flags;
	uint8_t name[SAMPLE_NAME_MAX];
	size_t name_len;
	uint64_t id;
	uint8_t tag[SAMPLE_TAG_LEN];
};

static int
sample_encode(const struct sample *s, struct wire_wr *w)
{
	int ret;

	if ((ret = wire_put_u8(w, s->type)) != UM_OK ||
	    (ret = wire_put_u16(w, s->flags)) != UM_OK ||
	    (ret = wire_put_lv16(w, s->name, s->name_len)) != UM_OK ||
	    (ret = wire_put_u64(w, s->id)) != UM_OK ||
	    (ret = wire_put_bytes(w, s->tag, sizeof(s->tag))) != UM_OK)
		return ret;
	return UM_OK;
}

static ssize_t
sample_parse(const uint8_t *in, size_t len, struct sample *out)
{
	struct wire_rd r;
	struct sample s = { 0 };
	const uint8_t *name;
	int ret;

	wire_rd_init(&r, in, len);
	if ((ret = wire_get_u8(&r, &s.type)) != UM_OK)
		return ret;
	if ((ret = wire_get_u16(&r, &s.flags)) != UM_OK)
		return ret;
	if ((ret = wire_get_lv16(&r, SAMPLE_NAME_MAX, &name, &s.name_len)) != UM_OK)
		return ret;
	if (s.name_len > 0)
		memcpy(s.name, name, s.name_len);
	if ((ret = wire_get_u64(&r, &s.id)) != UM_OK)
		return ret;
	if ((ret = wire_get_bytes(&r, s.tag, sizeof(s.tag))) != UM_OK)
		return ret;
	*out = s;
	return (ssize_t)r.off;
}

static const struct sample sample_msg = {
	.type = 0x07,
	.flags = 0xbeef,
	.name = "umbra-node",
	.name_len = 10,
	.id = 0x0102030405060708ull,
	.tag = { 0xde, 0xad, 0xbe, 0xef },
};

static size_t
sample_write(uint8_t *buf, size_t cap)
{
	struct wire_wr w;

	wire_wr_init(&w, buf, cap);
	assert_int_equal(sample_encode(&sample_msg, &w), UM_OK);
	return w.len;
}

static void
assert_sample_equal(const struct sample *a, const struct sample *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->name_len, b->name_len);
	assert_memory_equal(a->name, b->name, a->name_len);
	assert_true(a->id == b->id);
	assert_memory_equal(a->tag, b->tag, sizeof(a->tag));
}

static void
test_wire_sample_known_encoding(void **state)
{
	static const uint8_t expect[] = {
		0x07,                                     /* type */
		0xbe, 0xef,                               /* flags */
		0x00, 0x0a, 'u',  'm',  'b',  'r',  'a',  /* name */
		'-',  'n',  'o',  'd',  'e',  0x01, 0x02, /* ... id */
		0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xde, /* ... tag */
		0xad, 0xbe, 0xef,
	};
	uint8_t buf[64];
	size_t len;

	(void)state;
	len = sample_write(buf, sizeof(buf));
	assert_int_equal(len, sizeof(expect));
	assert_memory_equal(buf, expect, sizeof(expect));
}

static void
test_wire_sample_every_prefix_is_truncated(void **state)
{
	uint8_t buf[64];
	struct sample out;
	size_t len;

	(void)state;
	len = sample_write(buf, sizeof(buf));
	for (size_t i = 0; i < len; i++) {
		memset(&out, 0xa5, sizeof(out));
		assert_int_equal(sample_parse(buf, i, &out), UM_ERR_TRUNCATED);
		/* Nothing is committed to out on failure. */
		assert_int_equal(out.type, 0xa5);
	}
	/* The prefix test also holds when the bytes are read straight from a NULL source. */
	assert_int_equal(sample_parse(NULL, 0, &out), UM_ERR_TRUNCATED);
	assert_int_equal(sample_parse(buf, len, &out), (ssize_t)len);
}

static void
test_wire_sample_round_trip(void **state)
{
	uint8_t buf[64], buf2[64];
	struct sample out;
	struct wire_wr w;
	size_t len;

	(void)state;
	len = sample_write(buf, sizeof(buf));
	assert_int_equal(sample_parse(buf, len, &out), (ssize_t)len);
	assert_sample_equal(&out, &sample_msg);

	wire_wr_init(&w, buf2, sizeof(buf2));
	assert_int_equal(sample_encode(&out, &w), UM_OK);
	assert_int_equal(w.len, len);
	assert_memory_equal(buf, buf2, len);

	/* Parsing consumes the message only; a trailing byte is left for the caller. */
	buf[len] = 0x42;
	assert_int_equal(sample_parse(buf, len + 1, &out), (ssize_t)len);
}

static void
test_wire_sample_name_over_max_is_too_large(void **state)
{
	uint8_t buf[128];
	struct sample s = sample_msg, out;
	struct wire_wr w;

	(void)state;
	wire_wr_init(&w, buf, sizeof(buf));
	assert_int_equal(wire_put_u8(&w, s.type), UM_OK);
	assert_int_equal(wire_put_u16(&w, s.flags), UM_OK);
	assert_int_equal(wire_put_u16(&w, SAMPLE_NAME_MAX + 1), UM_OK);
	/* TOO_LARGE wins even though the body is missing. */
	assert_int_equal(sample_parse(buf, w.len, &out), UM_ERR_TOO_LARGE);
}

static void
test_wire_get_integers_big_endian(void **state)
{
	static const uint8_t in[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		                      0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f };
	struct wire_rd r;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	(void)state;
	wire_rd_init(&r, in, sizeof(in));
	assert_int_equal(wire_rd_left(&r), sizeof(in));
	assert_int_equal(wire_get_u8(&r, &u8), UM_OK);
	assert_int_equal(u8, 0x01);
	assert_int_equal(wire_get_u16(&r, &u16), UM_OK);
	assert_int_equal(u16, 0x0203);
	assert_int_equal(wire_get_u32(&r, &u32), UM_OK);
	assert_int_equal(u32, 0x04050607);
	assert_int_equal(wire_get_u64(&r, &u64), UM_OK);
	assert_true(u64 == 0x08090a0b0c0d0e0full);
	assert_int_equal(r.off, sizeof(in));
	assert_int_equal(wire_rd_left(&r), 0);
	assert_int_equal(wire_expect_end(&r), UM_OK);
}

static void
test_wire_get_u64_le(void **state)
{
	static const uint8_t in[] = { 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01 };
	struct wire_rd r;
	uint64_t v;

	(void)state;
	wire_rd_init(&r, in, sizeof(in));
	assert_int_equal(wire_get_u64_le(&r, &v), UM_OK);
	assert_true(v == 0x0102030405060708ull);
	assert_int_equal(r.off, 8);
}

static void
test_wire_get_high_bits(void **state)
{
	static const uint8_t ff[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t hi[8] = { 0x80, 0, 0, 0, 0, 0, 0, 0x01 };
	struct wire_rd r;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	(void)state;
	wire_rd_init(&r, ff, sizeof(ff));
	assert_int_equal(wire_get_u8(&r, &u8), UM_OK);
	assert_int_equal(u8, 0xff);
	wire_rd_init(&r, ff, sizeof(ff));
	assert_int_equal(wire_get_u16(&r, &u16), UM_OK);
	assert_int_equal(u16, 0xffff);
	wire_rd_init(&r, ff, sizeof(ff));
	assert_int_equal(wire_get_u32(&r, &u32), UM_OK);
	assert_true(u32 == 0xffffffffu);
	wire_rd_init(&r, ff, sizeof(ff));
	assert_int_equal(wire_get_u64(&r, &u64), UM_OK);
	assert_true(u64 == UINT64_MAX);
	wire_rd_init(&r, ff, sizeof(ff));
	assert_int_equal(wire_get_u64_le(&r, &u64), UM_OK);
	assert_true(u64 == UINT64_MAX);

	wire_rd_init(&r, hi, sizeof(hi));
	assert_int_equal(wire_get_u64(&r, &u64), UM_OK);
	assert_true(u64 == 0x8000000000000001ull);
	wire_rd_init(&r, hi, sizeof(hi));
	assert_int_equal(wire_get_u64_le(&r, &u64), UM_OK);
	assert_true(u64 == 0x0100000000000080ull);
}

static void
test_wire_failed_get_leaves_reader_and_zeroes_output(void **state)
{
	static const uint8_t in[] = { 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x11 };
	struct wire_rd r;
	uint8_t u8 = 0x55;
	uint16_t u16 = 0x5555;
	uint32_t u32 = 0x55555555;
	uint64_t u64 = 0x5555555555555555ull;
	const uint8_t *view = in;
	uint8_t dst[8];

	(void)state;
	/* Empty reader: every get fails. */
	wire_rd_init(&r, in, 0);
	assert_int_equal(wire_get_u8(&r, &u8), UM_ERR_TRUNCATED);
	assert_int_equal(u8, 0);
	assert_int_equal(r.off, 0);

	/* One byte consumed, six left: u8, u16, u32 fit; u64 and the rest do not. */
	wire_rd_init(&r, in, sizeof(in));
	assert_int_equal(wire_get_u8(&r, &u8), UM_OK);
	assert_int_equal(wire_get_u32(&r, &u32), UM_OK);
	assert_int_equal(r.off, 5);
	/* Two bytes left. */
	assert_int_equal(wire_get_u32(&r, &u32), UM_ERR_TRUNCATED);
	assert_int_equal(u32, 0);
	assert_int_equal(r.off, 5);
	assert_int_equal(wire_get_u64(&r, &u64), UM_ERR_TRUNCATED);
	assert_true(u64 == 0);
	assert_int_equal(r.off, 5);
	u64 = 0x5555555555555555ull;
	assert_int_equal(wire_get_u64_le(&r, &u64), UM_ERR_TRUNCATED);
	assert_true(u64 == 0);
	assert_int_equal(r.off, 5);
	assert_int_equal(wire_get_view(&r, 3, &view), UM_ERR_TRUNCATED);
	assert_null(view);
	assert_int_equal(r.off, 5);
	assert_int_equal(wire_get_bytes(&r, dst, 3), UM_ERR_TRUNCATED);
	assert_int_equal(r.off, 5);
	assert_int_equal(wire_skip(&r, 3), UM_ERR_TRUNCATED);
	assert_int_equal(r.off, 5);
	assert_int_equal(wire_get_u16(&r, &u16), UM_OK);
	assert_int_equal(u16, 0xff11);
	/* Now empty. */
	u16 = 0x5555;
	assert_int_equal(wire_get_u16(&r, &u16), UM_ERR_TRUNCATED);
	assert_int_equal(u16, 0);
	u8 = 0x55;
	assert_int_equal(wire_get_u8(&r, &u8), UM_ERR_TRUNCATED);
	assert_int_equal(u8, 0);
	assert_int_equal(r.off, sizeof(in));
}

static void
test_wire_huge_length_does_not_wrap(void **state)
{
	static const uint8_t in[4] = { 1, 2, 3, 4 };
	struct wire_rd r, sub;
	const uint8_t *v;
	uint8_t u8;

	(void)state;
	wire_rd_init(&r, in, sizeof(in));
	assert_int_equal(wire_get_u8(&r, &u8), UM_OK);
	assert_int_equal(wire_get_view(&r, SIZE_MAX, &v), UM_ERR_TRUNCATED);
	assert_int_equal(wire_skip(&r, SIZE_MAX), UM_ERR_TRUNCATED);
	assert_int_equal(wire_skip(&r, SIZE_MAX - 1), UM_ERR_TRUNCATED);
	assert_int_equal(wire_get_sub(&r, SIZE_MAX, &sub), UM_ERR_TRUNCATED);
	assert_int_equal(r.off, 1);
}

static void
test_wire_bytes_view_skip(void **state)
{
	static const uint8_t in[] = { 'a', 'b', 'c', 'd', 'e', 'f' };
	struct wire_rd r;
	uint8_t dst[2];
	const uint8_t *v;

	(void)state;
	wire_rd_init(&r, in, sizeof(in));
	assert_int_equal(wire_get_bytes(&r, dst, 2), UM_OK);
	assert_memory_equal(dst, "ab", 2);
	assert_int_equal(wire_get_view(&r, 2, &v), UM_OK);
	assert_ptr_equal(v, in + 2);
	assert_int_equal(wire_skip(&r, 1), UM_OK);
	assert_int_equal(r.off, 5);
	/* Zero-length reads always succeed, also at the end. */
	assert_int_equal(wire_get_bytes(&r, dst, 0), UM_OK);
	assert_int_equal(wire_get_view(&r, 0, &v), UM_OK);
	assert_int_equal(wire_skip(&r, 0), UM_OK);
	assert_int_equal(wire_get_view(&r, 1, &v), UM_OK);
	assert_int_equal(*v, 'f');
	assert_int_equal(wire_get_view(&r, 0, &v), UM_OK);
	assert_int_equal(wire_expect_end(&r), UM_OK);
}

static void
test_wire_null_source_is_empty(void **state)
{
	struct wire_rd r, sub;
	const uint8_t *v;
	uint8_t u8, dst[1];

	(void)state;
	wire_rd_init(&r, NULL, 100);
	assert_int_equal(wire_rd_left(&r), 0);
	assert_int_equal(wire_expect_end(&r), UM_OK);
	assert_int_equal(wire_get_u8(&r, &u8), UM_ERR_TRUNCATED);
	/* Zero-length gets on an empty reader must not do arithmetic on a NULL pointer. */
	assert_int_equal(wire_get_bytes(&r, dst, 0), UM_OK);
	assert_int_equal(wire_skip(&r, 0), UM_OK);
	assert_int_equal(wire_get_view(&r, 0, &v), UM_OK);
	assert_int_equal(wire_get_sub(&r, 0, &sub), UM_OK);
	assert_int_equal(wire_rd_left(&sub), 0);
	assert_int_equal(wire_get_view(&sub, 0, &v), UM_OK);
	assert_int_equal(r.off, 0);
}

static void
test_wire_lv8(void **state)
{
	static const uint8_t in[] = { 3, 'a', 'b', 'c', 0, 2, 'x' };
	struct wire_rd r;
	const uint8_t *v;
	size_t n;

	(void)state;
	wire_rd_init(&r, in, sizeof(in));
	assert_int_equal(wire_get_lv8(&r, 3, &v, &n), UM_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(v, "abc", 3);
	assert_int_equal(r.off, 4);
	/* Empty field. */
	assert_int_equal(wire_get_lv8(&r, 0, &v, &n), UM_OK);
	assert_int_equal(n, 0);
	assert_int_equal(r.off, 5);
	/* Length 2 over max 1: TOO_LARGE although the body is also short. */
	v = in;
	n = 99;
	assert_int_equal(wire_get_lv8(&r, 1, &v, &n), UM_ERR_TOO_LARGE);
	assert_null(v);
	assert_int_equal(n, 0);
	assert_int_equal(r.off, 5);
	/* Within max, body short: TRUNCATED, reader unchanged (length byte not consumed). */
	v = in;
	n = 99;
	assert_int_equal(wire_get_lv8(&r, 255, &v, &n), UM_ERR_TRUNCATED);
	assert_null(v);
	assert_int_equal(n, 0);
	assert_int_equal(r.off, 5);
	/* No length byte at all. */
	assert_int_equal(wire_skip(&r, 2), UM_OK);
	assert_int_equal(wire_get_lv8(&r, 255, &v, &n), UM_ERR_TRUNCATED);
	assert_int_equal(r.off, 7);
}

static void
test_wire_lv16(void **state)
{
	static const uint8_t in[] = { 0x00, 0x03, 'a', 'b', 'c', 0x01, 0x00, 'x', 'y', 0x00 };
	struct wire_rd r;
	const uint8_t *v;
	size_t n;

	(void)state;
	wire_rd_init(&r, in, sizeof(in));
	assert_int_equal(wire_get_lv16(&r, 3, &v, &n), UM_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(v, "abc", 3);
	assert_int_equal(r.off, 5);
	/* Length 256 over max 255: TOO_LARGE before the missing body is noticed. */
	v = in;
	n = 99;
	assert_int_equal(wire_get_lv16(&r, 255, &v, &n), UM_ERR_TOO_LARGE);
	assert_null(v);
	assert_int_equal(n, 0);
	assert_int_equal(r.off, 5);
	/* Within max, body short. */
	v = in;
	n = 99;
	assert_int_equal(wire_get_lv16(&r, 256, &v, &n), UM_ERR_TRUNCATED);
	assert_null(v);
	assert_int_equal(n, 0);
	assert_int_equal(r.off, 5);
	assert_int_equal(wire_get_lv16(&r, SIZE_MAX, &v, &n), UM_ERR_TRUNCATED);
	assert_int_equal(r.off, 5);
	/* Half a length prefix. */
	assert_int_equal(wire_skip(&r, 4), UM_OK);
	assert_int_equal(wire_get_lv16(&r, SIZE_MAX, &v, &n), UM_ERR_TRUNCATED);
	assert_int_equal(r.off, 9);
	assert_int_equal(wire_rd_left(&r), 1);
}

static void
test_wire_lv_max_length_round_trip(void **state)
{
	static uint8_t body[UINT16_MAX];
	static uint8_t buf[UINT16_MAX + 2 + 256];
	struct wire_wr w;
	struct wire_rd r;
	const uint8_t *v;
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 7);
	wire_wr_init(&w, buf, sizeof(buf));
	assert_int_equal(wire_put_lv16(&w, body, UINT16_MAX), UM_OK);
	assert_int_equal(wire_put_lv8(&w, body, UINT8_MAX), UM_OK);
	assert_int_equal(w.len, sizeof(buf));
	assert_int_equal(buf[0], 0xff);
	assert_int_equal(buf[1], 0xff);

	wire_rd_init(&r, buf, w.len);
	assert_int_equal(wire_get_lv16(&r, UINT16_MAX, &v, &n), UM_OK);
	assert_int_equal(n, UINT16_MAX);
	assert_memory_equal(v, body, n);
	assert_int_equal(wire_get_lv8(&r, UINT8_MAX, &v, &n), UM_OK);
	assert_int_equal(n, UINT8_MAX);
	assert_memory_equal(v, body, n);
	assert_int_equal(wire_expect_end(&r), UM_OK);
}

static void
test_wire_sub_reader(void **state)
{
	/* TLV: tag 1, len 3, body { 0x00, 0x2a, 0x09 }, then tag 2. */
	static const uint8_t in[] = { 0x01, 0x03, 0x00, 0x2a, 0x09, 0x02 };
	struct wire_rd r, sub;
	uint8_t tag, len, u8;
	uint16_t u16;

	(void)state;
	wire_rd_init(&r, in, sizeof(in));
	assert_int_equal(wire_get_u8(&r, &tag), UM_OK);
	assert_int_equal(wire_get_u8(&r, &len), UM_OK);
	assert_int_equal(wire_get_sub(&r, len, &sub), UM_OK);
	assert_int_equal(r.off, 5);
	assert_int_equal(wire_rd_left(&sub), 3);
	assert_int_equal(sub.off, 0);

	assert_int_equal(wire_get_u16(&sub, &u16), UM_OK);
	assert_int_equal(u16, 0x002a);
	/* The body has one byte left over: TRAILING inside the TLV, not the parent. */
	assert_int_equal(wire_expect_end(&sub), UM_ERR_TRAILING);
	/* The sub-reader cannot read past its own end into the parent's bytes. */
	assert_int_equal(wire_get_u16(&sub, &u16), UM_ERR_TRUNCATED);
	assert_int_equal(u16, 0);
	assert_int_equal(wire_get_u8(&sub, &u8), UM_OK);
	assert_int_equal(u8, 0x09);
	assert_int_equal(wire_expect_end(&sub), UM_OK);
	assert_int_equal(wire_get_u8(&sub, &u8), UM_ERR_TRUNCATED);

	/* A body longer than what is left fails and leaves the parent where it was. */
	sub.off = 1234;
	assert_int_equal(wire_get_sub(&r, 2, &sub), UM_ERR_TRUNCATED);
	assert_int_equal(r.off, 5);
	assert_int_equal(wire_rd_left(&sub), 0);
	assert_int_equal(sub.off, 0);
	assert_int_equal(wire_get_u8(&sub, &u8), UM_ERR_TRUNCATED);

	assert_int_equal(wire_expect_end(&r), UM_ERR_TRAILING);
	assert_int_equal(wire_get_sub(&r, 1, &sub), UM_OK);
	assert_int_equal(wire_expect_end(&r), UM_OK);
	assert_int_equal(wire_get_u8(&sub, &u8), UM_OK);
	assert_int_equal(u8, 0x02);
}

static void
test_wire_expect_end(void **state)
{
	static const uint8_t in[] = { 1, 2 };
	struct wire_rd r;
	uint8_t u8;

	(void)state;
	wire_rd_init(&r, in, sizeof(in));
	assert_int_equal(wire_expect_end(&r), UM_ERR_TRAILING);
	assert_int_equal(wire_get_u8(&r, &u8), UM_OK);
	assert_int_equal(wire_expect_end(&r), UM_ERR_TRAILING);
	assert_int_equal(wire_get_u8(&r, &u8), UM_OK);
	assert_int_equal(wire_expect_end(&r), UM_OK);
	wire_rd_init(&r, in, 0);
	assert_int_equal(wire_expect_end(&r), UM_OK);
}

static void
test_wire_put_integers(void **state)
{
	static const uint8_t expect[] = {
		0x01,                                           /* u8 */
		0x02, 0x03,                                     /* u16 */
		0x04, 0x05, 0x06, 0x07,                         /* u32 */
		0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, /* u64 */
		0x0f, 0x0e, 0x0d, 0x0c, 0x0b, 0x0a, 0x09, 0x08, /* u64_le */
		0x00, 0x00, 0x00,                               /* zeros */
		'h',  'i',                                      /* bytes */
		0x02, 'o',  'k',                                /* lv8 */
		0x00, 0x01, '!',                                /* lv16 */
	};
	uint8_t buf[sizeof(expect)];
	struct wire_wr w;

	(void)state;
	memset(buf, 0xee, sizeof(buf));
	wire_wr_init(&w, buf, sizeof(buf));
	assert_int_equal(wire_wr_left(&w), sizeof(buf));
	assert_int_equal(wire_put_u8(&w, 0x01), UM_OK);
	assert_int_equal(wire_put_u16(&w, 0x0203), UM_OK);
	assert_int_equal(wire_put_u32(&w, 0x04050607), UM_OK);
	assert_int_equal(wire_put_u64(&w, 0x08090a0b0c0d0e0full), UM_OK);
	assert_int_equal(wire_put_u64_le(&w, 0x08090a0b0c0d0e0full), UM_OK);
	assert_int_equal(wire_put_zeros(&w, 3), UM_OK);
	assert_int_equal(wire_put_bytes(&w, "hi", 2), UM_OK);
	assert_int_equal(wire_put_lv8(&w, "ok", 2), UM_OK);
	assert_int_equal(wire_put_lv16(&w, "!", 1), UM_OK);
	assert_int_equal(w.len, sizeof(expect));
	assert_int_equal(wire_wr_left(&w), 0);
	assert_memory_equal(buf, expect, sizeof(expect));
	/* Zero-length puts fit even in a full writer. */
	assert_int_equal(wire_put_bytes(&w, "", 0), UM_OK);
	assert_int_equal(wire_put_zeros(&w, 0), UM_OK);
	assert_int_equal(w.len, sizeof(expect));
}

static void
test_wire_put_get_round_trip(void **state)
{
	uint8_t buf[64];
	struct wire_wr w;
	struct wire_rd r;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64, u64le;
	const uint8_t *v;
	size_t n;

	(void)state;
	wire_wr_init(&w, buf, sizeof(buf));
	assert_int_equal(wire_put_u8(&w, 0xfe), UM_OK);
	assert_int_equal(wire_put_u16(&w, 0xfedc), UM_OK);
	assert_int_equal(wire_put_u32(&w, 0xfedcba98u), UM_OK);
	assert_int_equal(wire_put_u64(&w, 0xfedcba9876543210ull), UM_OK);
	assert_int_equal(wire_put_u64_le(&w, 0x0123456789abcdefull), UM_OK);
	assert_int_equal(wire_put_lv8(&w, "abc", 3), UM_OK);
	assert_int_equal(wire_put_lv16(&w, "", 0), UM_OK);

	wire_rd_init(&r, buf, w.len);
	assert_int_equal(wire_get_u8(&r, &u8), UM_OK);
	assert_int_equal(u8, 0xfe);
	assert_int_equal(wire_get_u16(&r, &u16), UM_OK);
	assert_int_equal(u16, 0xfedc);
	assert_int_equal(wire_get_u32(&r, &u32), UM_OK);
	assert_true(u32 == 0xfedcba98u);
	assert_int_equal(wire_get_u64(&r, &u64), UM_OK);
	assert_true(u64 == 0xfedcba9876543210ull);
	assert_int_equal(wire_get_u64_le(&r, &u64le), UM_OK);
	assert_true(u64le == 0x0123456789abcdefull);
	assert_int_equal(wire_get_lv8(&r, 3, &v, &n), UM_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(v, "abc", 3);
	assert_int_equal(wire_get_lv16(&r, 0, &v, &n), UM_OK);
	assert_int_equal(n, 0);
	assert_int_equal(wire_expect_end(&r), UM_OK);
}

static void
test_wire_load_store_helpers(void **state)
{
	uint8_t b[8];

	(void)state;
	wire_store_u16(b, 0xa1b2);
	assert_memory_equal(b, "\xa1\xb2", 2);
	assert_int_equal(wire_load_u16(b), 0xa1b2);
	wire_store_u32(b, 0xa1b2c3d4u);
	assert_memory_equal(b, "\xa1\xb2\xc3\xd4", 4);
	assert_true(wire_load_u32(b) == 0xa1b2c3d4u);
	wire_store_u64(b, 0xa1b2c3d4e5f60718ull);
	assert_memory_equal(b, "\xa1\xb2\xc3\xd4\xe5\xf6\x07\x18", 8);
	assert_true(wire_load_u64(b) == 0xa1b2c3d4e5f60718ull);
	wire_store_u64_le(b, 0xa1b2c3d4e5f60718ull);
	assert_memory_equal(b, "\x18\x07\xf6\xe5\xd4\xc3\xb2\xa1", 8);
}

/* Each put below needs one byte more than the writer has left. */
static void
test_wire_writer_overflow_writes_nothing(void **state)
{
	uint8_t buf[16], before[16];
	uint8_t body[300];
	struct wire_wr w;

	(void)state;
	memset(body, 'z', sizeof(body));
	memset(buf, 0xee, sizeof(buf));
	wire_wr_init(&w, buf, 8);
	assert_int_equal(wire_put_bytes(&w, "abc", 3), UM_OK);
	memcpy(before, buf, sizeof(buf));

	/* 5 bytes left. */
	assert_int_equal(wire_put_u64(&w, 1), UM_ERR_TOO_LARGE);
	assert_int_equal(wire_put_u64_le(&w, 1), UM_ERR_TOO_LARGE);
	assert_int_equal(wire_put_bytes(&w, body, 6), UM_ERR_TOO_LARGE);
	assert_int_equal(wire_put_zeros(&w, 6), UM_ERR_TOO_LARGE);
	assert_int_equal(wire_put_bytes(&w, body, SIZE_MAX), UM_ERR_TOO_LARGE);
	assert_int_equal(wire_put_zeros(&w, SIZE_MAX), UM_ERR_TOO_LARGE);
	assert_int_equal(wire_put_lv8(&w, body, 5), UM_ERR_TOO_LARGE);
	assert_int_equal(wire_put_lv16(&w, body, 4), UM_ERR_TOO_LARGE);
	assert_int_equal(w.len, 3);
	assert_memory_equal(buf, before, sizeof(buf));

	assert_int_equal(wire_put_u32(&w, 0x01020304), UM_OK);
	memcpy(before, buf, sizeof(buf));
	/* 1 byte left. */
	assert_int_equal(wire_put_u32(&w, 1), UM_ERR_TOO_LARGE);
	assert_int_equal(wire_put_u16(&w, 1), UM_ERR_TOO_LARGE);
	assert_int_equal(wire_put_lv8(&w, body, 0), UM_OK);
	assert_int_equal(wire_put_u8(&w, 1), UM_ERR_TOO_LARGE);
	assert_int_equal(wire_put_lv16(&w, body, 0), UM_ERR_TOO_LARGE);
	assert_int_equal(w.len, 8);
	assert_int_equal(buf[7], 0);
	assert_memory_equal(buf + 8, before + 8, sizeof(buf) - 8);
}

static void
test_wire_put_lv_over_prefix_range(void **state)
{
	static uint8_t body[UINT16_MAX + 1];
	static uint8_t buf[UINT16_MAX + 16];
	struct wire_wr w;

	(void)state;
	wire_wr_init(&w, buf, sizeof(buf));
	assert_int_equal(wire_put_lv8(&w, body, UINT8_MAX + 1), UM_ERR_TOO_LARGE);
	assert_int_equal(wire_put_lv16(&w, body, UINT16_MAX + 1), UM_ERR_TOO_LARGE);
	assert_int_equal(wire_put_lv8(&w, body, SIZE_MAX), UM_ERR_TOO_LARGE);
	assert_int_equal(wire_put_lv16(&w, body, SIZE_MAX), UM_ERR_TOO_LARGE);
	assert_int_equal(w.len, 0);
}

static void
test_wire_null_writer(void **state)
{
	struct wire_wr w;

	(void)state;
	wire_wr_init(&w, NULL, 100);
	assert_int_equal(wire_wr_left(&w), 0);
	assert_int_equal(wire_put_u8(&w, 1), UM_ERR_TOO_LARGE);
	assert_int_equal(wire_put_bytes(&w, "", 0), UM_OK);
	assert_int_equal(w.len, 0);
}

static void
test_wire_poke(void **state)
{
	uint8_t buf[16];
	struct wire_wr w;

	(void)state;
	memset(buf, 0xee, sizeof(buf));
	wire_wr_init(&w, buf, sizeof(buf));
	/* Nothing written yet: every poke is out of bounds. */
	assert_int_equal(wire_poke_u16(&w, 0, 0x1234), UM_ERR_TOO_LARGE);
	assert_int_equal(wire_poke_u32(&w, 0, 0x12345678), UM_ERR_TOO_LARGE);

	/* Placeholder length, body, back-fill. */
	assert_int_equal(wire_put_u16(&w, 0), UM_OK);
	assert_int_equal(wire_put_u32(&w, 0), UM_OK);
	assert_int_equal(wire_put_bytes(&w, "xyz", 3), UM_OK);
	assert_int_equal(w.len, 9);
	assert_int_equal(wire_poke_u16(&w, 0, 7), UM_OK);
	assert_int_equal(wire_poke_u32(&w, 2, 0xa1b2c3d4u), UM_OK);
	assert_memory_equal(buf, "\x00\x07\xa1\xb2\xc3\xd4xyz", 9);
	/* Last in-bounds offsets. */
	assert_int_equal(wire_poke_u16(&w, 7, 0x4142), UM_OK);
	assert_int_equal(wire_poke_u32(&w, 5, 0x61626364), UM_OK);
	assert_memory_equal(buf + 5, "abcd", 4);
	/* Straddling or past the written length, even though within capacity. */
	assert_int_equal(wire_poke_u16(&w, 8, 0xffff), UM_ERR_TOO_LARGE);
	assert_int_equal(wire_poke_u16(&w, 9, 0xffff), UM_ERR_TOO_LARGE);
	assert_int_equal(wire_poke_u32(&w, 6, 0xffffffffu), UM_ERR_TOO_LARGE);
	assert_int_equal(wire_poke_u32(&w, 9, 0xffffffffu), UM_ERR_TOO_LARGE);
	assert_int_equal(wire_poke_u16(&w, SIZE_MAX, 0xffff), UM_ERR_TOO_LARGE);
	assert_int_equal(wire_poke_u32(&w, SIZE_MAX - 1, 0xffffffffu), UM_ERR_TOO_LARGE);
	assert_int_equal(w.len, 9);
	assert_memory_equal(buf,
	                    "\x00\x07\xa1\xb2\xc3"
	                    "abcd",
	                    9);
	assert_int_equal(buf[9], 0xee);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_sample_known_encoding),
		cmocka_unit_test(test_wire_sample_every_prefix_is_truncated),
		cmocka_unit_test(test_wire_sample_round_trip),
		cmocka_unit_test(test_wire_sample_name_over_max_is_too_large),
		cmocka_unit_test(test_wire_get_integers_big_endian),
		cmocka_unit_test(test_wire_get_u64_le),
		cmocka_unit_test(test_wire_get_high_bits),
		cmocka_unit_test(test_wire_failed_get_leaves_reader_and_zeroes_output),
		cmocka_unit_test(test_wire_huge_length_does_not_wrap),
		cmocka_unit_test(test_wire_bytes_view_skip),
		cmocka_unit_test(test_wire_null_source_is_empty),
		cmocka_unit_test(test_wire_lv8),
		cmocka_unit_test(test_wire_lv16),
		cmocka_unit_test(test_wire_lv_max_length_round_trip),
		cmocka_unit_test(test_wire_sub_reader),
		cmocka_unit_test(test_wire_expect_end),
		cmocka_unit_test(test_wire_put_integers),
		cmocka_unit_test(test_wire_put_get_round_trip),
		cmocka_unit_test(test_wire_load_store_helpers),
		cmocka_unit_test(test_wire_writer_overflow_writes_nothing),
		cmocka_unit_test(test_wire_put_lv_over_prefix_range),
		cmocka_unit_test(test_wire_null_writer),
		cmocka_unit_test(test_wire_poke),
	};

	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
