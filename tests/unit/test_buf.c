/* SPDX-License-Identifier: MIT */
/* Unit tests for src/lib/buf: the capped growable byte queue. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/wire.h"

static uint8_t
pattern(size_t i)
{
	return (uint8_t)(i * 31 + (i >> 8) * 7 + (i >> 16));
}

static void
test_buf_init_is_empty(void **state)
{
	struct buf b;
	struct wire_rd r;
	uint8_t *tail;
	uint8_t u8;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(b.max_len, 1024);
	assert_null(b.p);
	/* The common "parse what has arrived so far" pattern works on an empty buffer. */
	wire_rd_init(&r, buf_data(&b), buf_len(&b));
	assert_int_equal(wire_rd_left(&r), 0);
	assert_int_equal(wire_get_u8(&r, &u8), UM_ERR_TRUNCATED);
	assert_int_equal(wire_skip(&r, 0), UM_OK);
	/* Reserving nothing needs no storage. */
	assert_int_equal(buf_reserve(&b, 0, &tail), UM_OK);
	buf_commit(&b, 0);
	assert_int_equal(buf_len(&b), 0);
	buf_consume(&b, 10);
	assert_int_equal(buf_len(&b), 0);
	buf_clear(&b);
	buf_clear(&b);
	assert_int_equal(buf_len(&b), 0);
}

static void
test_buf_append_consume(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(buf_append(&b, "hello", 5), UM_OK);
	assert_int_equal(buf_append(&b, " world", 6), UM_OK);
	assert_int_equal(buf_append(&b, NULL, 0), UM_OK);
	assert_int_equal(buf_len(&b), 11);
	assert_memory_equal(buf_data(&b), "hello world", 11);

	buf_consume(&b, 0);
	assert_int_equal(buf_len(&b), 11);
	buf_consume(&b, 6);
	assert_int_equal(buf_len(&b), 5);
	assert_memory_equal(buf_data(&b), "world", 5);
	assert_int_equal(buf_append(&b, "!", 1), UM_OK);
	assert_memory_equal(buf_data(&b), "world!", 6);

	/* Consuming more than is there empties the buffer and rewinds the head. */
	buf_consume(&b, 100);
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(b.off, 0);
	buf_consume(&b, SIZE_MAX);
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(buf_append(&b, "again", 5), UM_OK);
	assert_memory_equal(buf_data(&b), "again", 5);
	assert_ptr_equal(buf_data(&b), b.p);
	buf_clear(&b);
}

static void
test_buf_reserve_commit(void **state)
{
	struct buf b;
	uint8_t *tail;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_reserve(&b, 10, &tail), UM_OK);
	assert_non_null(tail);
	/* Reserving does not change the length. */
	assert_int_equal(buf_len(&b), 0);
	memcpy(tail, "abcdefghij", 10);
	/* Commit less than reserved, as a short read() would. */
	buf_commit(&b, 4);
	assert_int_equal(buf_len(&b), 4);
	assert_memory_equal(buf_data(&b), "abcd", 4);

	assert_int_equal(buf_reserve(&b, 3, &tail), UM_OK);
	assert_ptr_equal(tail, buf_data(&b) + 4);
	memcpy(tail, "XYZ", 3);
	buf_commit(&b, 3);
	assert_memory_equal(buf_data(&b), "abcdXYZ", 7);

	/* Reserving zero bytes is fine, committing zero changes nothing. */
	assert_int_equal(buf_reserve(&b, 0, &tail), UM_OK);
	assert_ptr_equal(tail, buf_data(&b) + 7);
	buf_commit(&b, 0);
	assert_int_equal(buf_len(&b), 7);

	/* Reserve exactly up to the cap. */
	assert_int_equal(buf_reserve(&b, 57, &tail), UM_OK);
	memset(tail, 'q', 57);
	buf_commit(&b, 57);
	assert_int_equal(buf_len(&b), 64);
	assert_int_equal(buf_data(&b)[63], 'q');
	assert_true(b.alloc <= b.max_len);
	buf_clear(&b);
}

static void
test_buf_cap_enforced(void **state)
{
	struct buf b;
	uint8_t big[32];
	uint8_t *tail = big;
	const uint8_t *p;
	size_t alloc;

	(void)state;
	memset(big, 'x', sizeof(big));
	buf_init(&b, 16);
	assert_int_equal(buf_append(&b, "0123456789", 10), UM_OK);
	p = buf_data(&b);
	alloc = b.alloc;

	/* Over the cap by one: nothing changes. */
	assert_int_equal(buf_append(&b, big, 7), UM_ERR_TOO_LARGE);
	assert_int_equal(buf_reserve(&b, 7, &tail), UM_ERR_TOO_LARGE);
	assert_null(tail);
	assert_int_equal(buf_append(&b, big, SIZE_MAX), UM_ERR_TOO_LARGE);
	assert_int_equal(buf_reserve(&b, SIZE_MAX, &tail), UM_ERR_TOO_LARGE);
	assert_int_equal(buf_len(&b), 10);
	assert_ptr_equal(buf_data(&b), p);
	assert_int_equal(b.alloc, alloc);
	assert_memory_equal(buf_data(&b), "0123456789", 10);

	/* Exactly to the cap, then nothing more. */
	assert_int_equal(buf_append(&b, big, 6), UM_OK);
	assert_int_equal(buf_len(&b), 16);
	assert_int_equal(buf_append(&b, big, 1), UM_ERR_TOO_LARGE);
	assert_int_equal(buf_append(&b, big, 0), UM_OK);
	assert_int_equal(buf_len(&b), 16);
	assert_memory_equal(buf_data(&b), "0123456789xxxxxx", 16);

	/* The cap is on unread bytes: consuming makes room again. */
	buf_consume(&b, 4);
	assert_int_equal(buf_append(&b, "ABCD", 4), UM_OK);
	assert_int_equal(buf_len(&b), 16);
	assert_memory_equal(buf_data(&b), "456789xxxxxxABCD", 16);
	assert_int_equal(buf_append(&b, "E", 1), UM_ERR_TOO_LARGE);
	/* Storage never exceeds the cap. */
	assert_true(b.alloc <= 16);
	buf_clear(&b);

	/* A zero cap accepts nothing but empty appends. */
	buf_init(&b, 0);
	assert_int_equal(buf_append(&b, "a", 1), UM_ERR_TOO_LARGE);
	assert_int_equal(buf_append(&b, "", 0), UM_OK);
	assert_int_equal(buf_len(&b), 0);
	buf_clear(&b);
}

static void
test_buf_compacts_after_consume(void **state)
{
	struct buf b;
	uint8_t in[400];
	size_t alloc;

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = pattern(i);
	buf_init(&b, 1 << 20);
	assert_int_equal(buf_append(&b, in, 200), UM_OK);
	alloc = b.alloc;
	assert_true(alloc >= 200);
	buf_consume(&b, 150);
	assert_int_equal(b.off, 150);
	/* 50 unread + 150 new fits in the allocation once the head is reclaimed. */
	assert_true(50 + 150 <= alloc && 150 + 50 + 150 > alloc);
	assert_int_equal(buf_append(&b, in + 200, 150), UM_OK);
	assert_int_equal(b.off, 0);
	assert_int_equal(b.alloc, alloc);
	assert_int_equal(buf_len(&b), 200);
	assert_memory_equal(buf_data(&b), in + 150, 200);
	buf_clear(&b);
}

static void
test_buf_alloc_clamped_to_cap(void **state)
{
	struct buf b;
	uint8_t in[300];

	(void)state;
	memset(in, 'c', sizeof(in));
	buf_init(&b, 300);
	assert_int_equal(buf_append(&b, in, 257), UM_OK);
	assert_int_equal(b.alloc, 300);
	assert_int_equal(buf_append(&b, in, 43), UM_OK);
	assert_int_equal(buf_len(&b), 300);
	assert_int_equal(b.alloc, 300);
	/* Rotate the whole content through a full buffer. */
	for (int i = 0; i < 10; i++) {
		buf_consume(&b, 100);
		assert_int_equal(buf_append(&b, in, 100), UM_OK);
		assert_int_equal(buf_len(&b), 300);
		assert_int_equal(b.alloc, 300);
	}
	buf_clear(&b);
}

static void
test_buf_large_growth(void **state)
{
	const size_t total = 8u << 20;
	const size_t chunk = 4093;
	struct buf b;
	uint8_t *src;
	size_t written = 0, read = 0;

	(void)state;
	src = malloc(total);
	assert_non_null(src);
	for (size_t i = 0; i < total; i++)
		src[i] = pattern(i);
	buf_init(&b, 16u << 20);
	/* Write in odd chunks, consuming a little now and then, and check the queue's order. */
	while (written < total) {
		size_t n = UM_MIN(chunk, total - written);
		uint8_t *tail;

		if (written % 3 == 0) {
			assert_int_equal(buf_append(&b, src + written, n), UM_OK);
		} else {
			assert_int_equal(buf_reserve(&b, n, &tail), UM_OK);
			memcpy(tail, src + written, n);
			buf_commit(&b, n);
		}
		written += n;
		if ((written / chunk) % 5 == 0) {
			size_t c = UM_MIN((size_t)1000, buf_len(&b));

			assert_memory_equal(buf_data(&b), src + read, c);
			buf_consume(&b, c);
			read += c;
		}
	}
	assert_int_equal(buf_len(&b), total - read);
	assert_true(b.alloc >= buf_len(&b));
	assert_true(b.alloc <= b.max_len);
	assert_memory_equal(buf_data(&b), src + read, total - read);
	buf_consume(&b, total);
	assert_int_equal(buf_len(&b), 0);
	buf_clear(&b);
	free(src);
}

static void
test_buf_clear_and_reuse(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_append(&b, "secret", 6), UM_OK);
	buf_consume(&b, 2);
	buf_clear(&b);
	assert_int_equal(buf_len(&b), 0);
	assert_null(b.p);
	assert_int_equal(b.alloc, 0);
	assert_int_equal(b.off, 0);
	/* The cap survives a clear. */
	assert_int_equal(b.max_len, 64);
	assert_int_equal(buf_append(&b, "again", 5), UM_OK);
	assert_memory_equal(buf_data(&b), "again", 5);
	buf_clear(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_init_is_empty),
		cmocka_unit_test(test_buf_append_consume),
		cmocka_unit_test(test_buf_reserve_commit),
		cmocka_unit_test(test_buf_cap_enforced),
		cmocka_unit_test(test_buf_compacts_after_consume),
		cmocka_unit_test(test_buf_alloc_clamped_to_cap),
		cmocka_unit_test(test_buf_large_growth),
		cmocka_unit_test(test_buf_clear_and_reuse),
	};

	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
