/* SPDX-License-Identifier: MIT */
/*
 * Circuit build timeout learning (circuit/cbt.h): the default until CBT_MIN_SAMPLES builds,
 * millisecond loopback builds learned at once (down to the floor), convergence on a known
 * distribution, the ring forgetting old samples, the give-up threshold, the bounds, and the
 * reset when most recent builds time out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "lib/compiler.h"
#include "circuit/cbt.h"
#include "helpers/path_fixture.h"

static void
test_cbt_default_until_enough_samples(void **state)
{
	struct cbt *t = malloc(sizeof(*t));

	(void)state;
	cbt_init(t);
	assert_int_equal(cbt_timeout_ms(t), CBT_DEFAULT_TIMEOUT_MS);
	assert_int_equal(cbt_give_up_ms(t), 2 * CBT_DEFAULT_TIMEOUT_MS);
	for (int i = 0; i < CBT_MIN_SAMPLES - 1; i++) {
		cbt_note_build(t, 3);
		assert_false(cbt_is_learned(t));
		assert_int_equal(cbt_timeout_ms(t), CBT_DEFAULT_TIMEOUT_MS);
	}
	/* Loopback: builds of a few ms give a timeout at the floor after 20 of them. */
	cbt_note_build(t, 5);
	assert_true(cbt_is_learned(t));
	assert_int_equal(cbt_timeout_ms(t), CBT_MIN_TIMEOUT_MS);
	assert_int_equal(cbt_give_up_ms(t), 2 * CBT_MIN_TIMEOUT_MS);
	/* 20 ms builds: 30 ms. */
	for (int i = 0; i < 40; i++)
		cbt_note_build(t, 20);
	assert_int_equal(cbt_timeout_ms(t), 30);
	free(t);
}

static void
test_cbt_converges(void **state)
{
	struct cbt *t = malloc(sizeof(*t));
	struct fx_rng r;

	(void)state;
	cbt_init(t);
	fx_rng_init(&r, 9);
	/* Uniform 100..199 ms: 80th percentile ~180 -> ~270; 99th ~198 -> give-up 2 x 270. */
	for (int i = 0; i < 2000; i++)
		cbt_note_build(t, 100 + (uint32_t)(fx_rng_next(&r) % 100));
	assert_in_range(cbt_timeout_ms(t), 264, 276);
	assert_int_equal(cbt_give_up_ms(t), 2 * cbt_timeout_ms(t));
	/* The ring keeps the last 1000: a slower network replaces the old samples entirely. */
	for (int i = 0; i < CBT_RING; i++)
		cbt_note_build(t, 1000 + (uint32_t)(fx_rng_next(&r) % 1000));
	assert_in_range(cbt_timeout_ms(t), 2640, 2760);
	/* A heavy tail: 95 % fast, 5 % very slow: the timeout follows the bulk, give-up the tail.
	 */
	for (int i = 0; i < CBT_RING; i++)
		cbt_note_build(t, i % 20 == 0 ? 8000 : 200);
	assert_int_equal(cbt_timeout_ms(t), 300);
	assert_int_equal(cbt_give_up_ms(t), 12000);
	/* Bounds. */
	for (int i = 0; i < CBT_RING; i++)
		cbt_note_build(t, UINT32_MAX);
	assert_int_equal(cbt_timeout_ms(t), CBT_MAX_TIMEOUT_MS);
	assert_int_equal(cbt_give_up_ms(t), 2 * CBT_MAX_TIMEOUT_MS);
	free(t);
}

static void
test_cbt_reset_when_builds_time_out(void **state)
{
	struct cbt *t = malloc(sizeof(*t));

	(void)state;
	cbt_init(t);
	for (int i = 0; i < 100; i++)
		cbt_note_build(t, 100);
	assert_int_equal(cbt_timeout_ms(t), 150);
	/* 17 timeouts in the last 20 outcomes: kept. */
	for (int i = 0; i < 3; i++)
		cbt_note_build(t, 100);
	for (int i = 0; i < CBT_RECENT_TIMEOUTS_MAX - 1; i++)
		cbt_note_timeout(t);
	assert_true(cbt_is_learned(t));
	assert_int_equal(cbt_timeout_ms(t), 150);
	assert_int_equal(t->n_resets, 0);
	/* The 18th: samples dropped, back to (at least) the default. */
	cbt_note_timeout(t);
	assert_int_equal(t->n_resets, 1);
	assert_false(cbt_is_learned(t));
	assert_int_equal(cbt_timeout_ms(t), CBT_DEFAULT_TIMEOUT_MS);
	/* Still timing out at the default: doubled, then capped. */
	for (int k = 0; k < 10; k++)
		for (int i = 0; i < CBT_RECENT_TIMEOUTS_MAX; i++)
			cbt_note_timeout(t);
	assert_int_equal(t->n_resets, 11);
	assert_int_equal(cbt_timeout_ms(t), CBT_MAX_TIMEOUT_MS);
	/* And the network recovers: 20 builds and the learned value is back. */
	for (int i = 0; i < CBT_MIN_SAMPLES; i++)
		cbt_note_build(t, 400);
	assert_int_equal(cbt_timeout_ms(t), 600);
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cbt_default_until_enough_samples),
		cmocka_unit_test(test_cbt_converges),
		cmocka_unit_test(test_cbt_reset_when_builds_time_out),
	};

	return cmocka_run_group_tests_name("cbt", tests, NULL, NULL);
}
