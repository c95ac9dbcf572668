/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/circuit/sendme (authenticated SENDME v1 bookkeeping): the sender keeps
 * the digest of every 31st DATA cell and accepts only the matching SENDME, in order; a wrong
 * digest (UM_ERR_AUTH) or an unexpected SENDME (UM_ERR_PROTOCOL) is refused without changing
 * state; the digest FIFO is bounded by window / sendme_inc; the receiver asks for a SENDME
 * every 31 cells carrying the triggering cell's digest, and refuses the cell that would take
 * its deliver window below 0; the random-bytes rule caps the last cell of a run at 470 bytes
 * unless an earlier one was short enough, and relay_body_encode() then really leaves 12
 * random bytes; a sender and receiver exchange thousands of cells and SENDMEs end to end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "lib/err.h"
#include "crypto/crypto.h"
#include "circuit/relay_msg.h"
#include "circuit/sendme.h"

static void
digest_of(uint32_t i, uint8_t d[SENDME_DIGEST_LEN])
{
	for (int k = 0; k < SENDME_DIGEST_LEN; k++)
		d[k] = (uint8_t)(i >> (8 * (k % 4))) ^ (uint8_t)(k * 17);
}

/* Send n cells numbered from *next (full cells unless the random rule forbids). */
static void
send_cells(struct sendme_snd *s, uint32_t *next, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint8_t d[SENDME_DIGEST_LEN];

		digest_of((*next)++, d);
		assert_int_equal(sendme_snd_on_data_sent(s, sendme_snd_data_max(s), d), UM_OK);
	}
}

static void
test_sendme_bad_arguments(void **state)
{
	struct sendme_snd *s;
	struct sendme_rcv *r;

	(void)state;
	assert_int_equal(sendme_snd_new(0, 5000, &s), UM_ERR_INVALID);
	assert_null(s);
	assert_int_equal(sendme_snd_new(256, 5000, &s), UM_ERR_INVALID);
	assert_int_equal(sendme_snd_new(31, 30, &s), UM_ERR_INVALID);
	assert_int_equal(sendme_rcv_new(0, 5000, &r), UM_ERR_INVALID);
	assert_null(r);
	assert_int_equal(sendme_rcv_new(31, 30, &r), UM_ERR_INVALID);
}

static void
test_sendme_sender_matches_in_order(void **state)
{
	struct sendme_snd *s;
	struct relay_sendme m;
	uint32_t next = 1;

	(void)state;
	assert_int_equal(sendme_snd_new(31, 5000, &s), UM_OK);
	send_cells(s, &next, 30);
	assert_int_equal(sendme_snd_pending(s), 0);
	send_cells(s, &next, 1); /* cell 31 */
	assert_int_equal(sendme_snd_pending(s), 1);
	send_cells(s, &next, 31); /* cell 62 */
	assert_int_equal(sendme_snd_pending(s), 2);

	/* the second digest first: refused, nothing consumed */
	digest_of(62, m.digest);
	assert_int_equal(sendme_snd_on_sendme(s, &m), UM_ERR_AUTH);
	assert_int_equal(sendme_snd_pending(s), 2);
	/* one bit off: refused */
	digest_of(31, m.digest);
	m.digest[15] ^= 0x01;
	assert_int_equal(sendme_snd_on_sendme(s, &m), UM_ERR_AUTH);
	/* a digest of a cell that did not trigger a SENDME: refused */
	digest_of(30, m.digest);
	assert_int_equal(sendme_snd_on_sendme(s, &m), UM_ERR_AUTH);
	assert_int_equal(sendme_snd_pending(s), 2);
	/* the right ones, in order */
	digest_of(31, m.digest);
	assert_int_equal(sendme_snd_on_sendme(s, &m), UM_OK);
	digest_of(62, m.digest);
	assert_int_equal(sendme_snd_on_sendme(s, &m), UM_OK);
	assert_int_equal(sendme_snd_pending(s), 0);
	/* nothing due: an unexpected SENDME, even with a right-looking digest */
	assert_int_equal(sendme_snd_on_sendme(s, &m), UM_ERR_PROTOCOL);
	sendme_snd_free(s);
	assert_null(s);
}

/* window 5000 / 31 = 161 digests: cell 161 x 31 = 4991 is fine, cell 162 x 31 overflows. */
static void
test_sendme_sender_fifo_bounded(void **state)
{
	struct sendme_snd *s;
	uint8_t d[SENDME_DIGEST_LEN] = { 0 };
	uint32_t next = 1;

	(void)state;
	assert_int_equal(sendme_snd_new(31, 5000, &s), UM_OK);
	send_cells(s, &next, 161 * 31);
	assert_int_equal(sendme_snd_pending(s), 161);
	send_cells(s, &next, 30);
	assert_int_equal(sendme_snd_on_data_sent(s, 1, d), UM_ERR_TOO_LARGE);
	assert_int_equal(sendme_snd_pending(s), 161);
	sendme_snd_free(s);
}

static void
test_sendme_receiver_every_inc(void **state)
{
	struct sendme_rcv *r;
	struct relay_sendme m;
	uint8_t d[SENDME_DIGEST_LEN], want[SENDME_DIGEST_LEN];
	bool due;

	(void)state;
	assert_int_equal(sendme_rcv_new(31, 5000, &r), UM_OK);
	assert_int_equal(sendme_rcv_next(r, &m), UM_ERR_NOT_FOUND);
	for (uint32_t i = 1; i <= 93; i++) {
		digest_of(i, d);
		assert_int_equal(sendme_rcv_on_data(r, d, &due), UM_OK);
		assert_int_equal(due, i % 31 == 0);
		assert_int_equal(sendme_rcv_window(r), 5000 - (int64_t)i + 31 * ((i - 1) / 31));
		if (due) {
			assert_int_equal(sendme_rcv_next(r, &m), UM_OK);
			assert_memory_equal(m.digest, d, SENDME_DIGEST_LEN);
			assert_int_equal(sendme_rcv_window(r), 5000 - (int64_t)i + 31 * (i / 31));
		}
	}
	assert_int_equal(sendme_rcv_window(r), 5000);
	/* queued SENDMEs come out oldest first */
	for (uint32_t i = 94; i <= 155; i++) {
		digest_of(i, d);
		assert_int_equal(sendme_rcv_on_data(r, d, &due), UM_OK);
	}
	assert_int_equal(sendme_rcv_next(r, &m), UM_OK);
	digest_of(124, want);
	assert_memory_equal(m.digest, want, SENDME_DIGEST_LEN);
	assert_int_equal(sendme_rcv_next(r, &m), UM_OK);
	digest_of(155, want);
	assert_memory_equal(m.digest, want, SENDME_DIGEST_LEN);
	assert_int_equal(sendme_rcv_next(r, &m), UM_ERR_NOT_FOUND);
	sendme_rcv_free(r);
	assert_null(r);
}

/* A sender that ignores flow control: cell 5001 with no SENDME sent is refused. */
static void
test_sendme_receiver_window_cap(void **state)
{
	struct sendme_rcv *r;
	struct relay_sendme m;
	uint8_t d[SENDME_DIGEST_LEN] = { 0 };
	bool due;

	(void)state;
	assert_int_equal(sendme_rcv_new(31, 5000, &r), UM_OK);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(sendme_rcv_on_data(r, d, &due), UM_OK);
	assert_int_equal(sendme_rcv_window(r), 0);
	assert_int_equal(sendme_rcv_on_data(r, d, &due), UM_ERR_PROTOCOL);
	assert_false(due);
	assert_int_equal(sendme_rcv_window(r), 0);
	/* one SENDME sent: 31 more cells allowed, then refused again */
	assert_int_equal(sendme_rcv_next(r, &m), UM_OK);
	for (int i = 0; i < 31; i++)
		assert_int_equal(sendme_rcv_on_data(r, d, &due), UM_OK);
	assert_int_equal(sendme_rcv_on_data(r, d, &due), UM_ERR_PROTOCOL);
	sendme_rcv_free(r);
}

/*
 * Random-bytes rule: in each run of 31 cells, the 31st may be full only if an earlier one
 * left >= 16 bytes of padding; else it is capped at 470.
 */
static void
test_sendme_random_bytes_rule(void **state)
{
	struct sendme_snd *s;
	uint8_t d[SENDME_DIGEST_LEN] = { 0 };

	(void)state;
	assert_int_equal(sendme_snd_new(31, 5000, &s), UM_OK);
	/* run 1: 30 full cells, the 31st is capped */
	for (int i = 0; i < 30; i++) {
		assert_int_equal(sendme_snd_data_max(s), RELAY_DATA_MAX);
		assert_int_equal(sendme_snd_on_data_sent(s, RELAY_DATA_MAX, d), UM_OK);
	}
	assert_int_equal(sendme_snd_data_max(s), 470);
	assert_int_equal(sendme_snd_on_data_sent(s, 471, d), UM_ERR_INVALID);
	assert_int_equal(sendme_snd_pending(s), 0);
	assert_int_equal(sendme_snd_on_data_sent(s, 470, d), UM_OK);
	assert_int_equal(sendme_snd_pending(s), 1);
	/* run 2: one short cell (470) early, then the 31st may be full */
	assert_int_equal(sendme_snd_on_data_sent(s, 470, d), UM_OK);
	for (int i = 0; i < 29; i++)
		assert_int_equal(sendme_snd_on_data_sent(s, RELAY_DATA_MAX, d), UM_OK);
	assert_int_equal(sendme_snd_data_max(s), RELAY_DATA_MAX);
	assert_int_equal(sendme_snd_on_data_sent(s, RELAY_DATA_MAX, d), UM_OK);
	/* run 3: a 471-byte cell leaves only 11 random bytes: does not count */
	assert_int_equal(sendme_snd_on_data_sent(s, 471, d), UM_OK);
	for (int i = 0; i < 29; i++)
		assert_int_equal(sendme_snd_on_data_sent(s, RELAY_DATA_MAX, d), UM_OK);
	assert_int_equal(sendme_snd_data_max(s), 470);
	assert_int_equal(sendme_snd_on_data_sent(s, 0, d), UM_ERR_INVALID);
	sendme_snd_free(s);

	/* sendme_inc 1: every cell is the last of its run */
	assert_int_equal(sendme_snd_new(1, 5000, &s), UM_OK);
	assert_int_equal(sendme_snd_data_max(s), 470);
	assert_int_equal(sendme_snd_on_data_sent(s, 470, d), UM_OK);
	assert_int_equal(sendme_snd_data_max(s), 470);
	sendme_snd_free(s);
}

/* relay_body_encode() with 470 bytes of Data leaves 4 zero bytes and 12 random ones: two
 * encodings of the same cell differ there (chance of a false failure 2^-96). */
static void
test_sendme_random_padding_is_random(void **state)
{
	uint8_t data[470], a[RELAY_BODY_LEN], b[RELAY_BODY_LEN];
	const size_t pad = RELAY_BODY_DATA_OFF + 470;

	(void)state;
	memset(data, 0x5a, sizeof(data));
	assert_int_equal(relay_body_encode(RELAY_DATA, 7, data, sizeof(data), a), UM_OK);
	assert_int_equal(relay_body_encode(RELAY_DATA, 7, data, sizeof(data), b), UM_OK);
	assert_int_equal(RELAY_BODY_LEN - pad, SENDME_RANDOM_GAP);
	assert_memory_equal(a, b, pad + RELAY_PAD_ZERO_LEN);
	for (size_t i = pad; i < pad + RELAY_PAD_ZERO_LEN; i++)
		assert_int_equal(a[i], 0);
	assert_memory_not_equal(a + pad + RELAY_PAD_ZERO_LEN, b + pad + RELAY_PAD_ZERO_LEN, 12);
}

/* Sender and receiver end to end: 100 000 cells, SENDMEs returned with some lag. */
static void
test_sendme_end_to_end(void **state)
{
	struct sendme_snd *s;
	struct sendme_rcv *r;
	struct relay_sendme m;
	uint32_t n_sendme = 0;

	(void)state;
	assert_int_equal(sendme_snd_new(31, 5000, &s), UM_OK);
	assert_int_equal(sendme_rcv_new(31, 5000, &r), UM_OK);
	for (uint32_t i = 1; i <= 100000; i++) {
		uint8_t d[SENDME_DIGEST_LEN];
		bool due;

		digest_of(i, d);
		assert_int_equal(sendme_snd_on_data_sent(s, sendme_snd_data_max(s), d), UM_OK);
		assert_int_equal(sendme_rcv_on_data(r, d, &due), UM_OK);
		/* the receiver's SENDMEs reach the sender in batches, two left behind */
		if (i % 97 == 0) {
			while (sendme_snd_pending(s) > 2 && sendme_rcv_next(r, &m) == UM_OK) {
				assert_int_equal(sendme_snd_on_sendme(s, &m), UM_OK);
				n_sendme++;
			}
		}
	}
	while (sendme_rcv_next(r, &m) == UM_OK) {
		assert_int_equal(sendme_snd_on_sendme(s, &m), UM_OK);
		n_sendme++;
	}
	assert_int_equal(n_sendme, 100000 / 31);
	assert_int_equal(sendme_snd_pending(s), 0);
	sendme_rcv_free(r);
	sendme_snd_free(s);
}

static int
setup(void **state)
{
	(void)state;
	return um_crypto_init() == UM_OK ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sendme_bad_arguments),
		cmocka_unit_test(test_sendme_sender_matches_in_order),
		cmocka_unit_test(test_sendme_sender_fifo_bounded),
		cmocka_unit_test(test_sendme_receiver_every_inc),
		cmocka_unit_test(test_sendme_receiver_window_cap),
		cmocka_unit_test(test_sendme_random_bytes_rule),
		cmocka_unit_test(test_sendme_random_padding_is_random),
		cmocka_unit_test(test_sendme_end_to_end),
	};

	return cmocka_run_group_tests_name("circuit_sendme", tests, setup, NULL);
}
