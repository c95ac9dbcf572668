/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the pure part of src/directory/directory_io.c: the voting schedule
 * (dirauth_period_next) and the issuer key-list fetch interval. The I/O itself runs between
 * real daemons in tests/integration/test_directory.sh and test_dir_issuers.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "directory/directory_io.h"
#include "directory/relay_entry.h"

static void
test_period_is_aligned_to_the_interval(void **state)
{
	struct dirauth_period p;

	(void)state;
	/* One hour: the next full hour, voting half an hour before it. */
	dirauth_period_next(1700000000, 3600, &p);
	assert_int_equal(p.valid_after_s, 1700002800);
	assert_int_equal(p.valid_after_s % 3600, 0);
	assert_int_equal(p.fresh_until_s, p.valid_after_s + 3600);
	assert_int_equal(p.valid_until_s, p.valid_after_s + 3 * 3600);
	assert_int_equal(p.vote_at_s, p.valid_after_s - 1800);
	assert_int_equal(p.fetch_at_s, p.valid_after_s - 900);
	assert_int_equal(p.compute_at_s, p.valid_after_s);
	assert_int_equal(p.resign1_at_s, p.valid_after_s + 450);
	assert_int_equal(p.resign2_at_s, p.valid_after_s + 900);
	assert_true(dir_period_is_valid(p.valid_after_s, p.fresh_until_s, p.valid_until_s));
}

static void
test_period_on_a_boundary_is_the_next_one(void **state)
{
	struct dirauth_period p;

	(void)state;
	/* Exactly at T the period T is being computed: the next one to vote for is T + P. */
	dirauth_period_next(1000, 10, &p);
	assert_int_equal(p.valid_after_s, 1010);
	dirauth_period_next(1009, 10, &p);
	assert_int_equal(p.valid_after_s, 1010);
	/* Short testnet intervals keep the steps ordered and the re-sends apart. */
	assert_int_equal(p.vote_at_s, 1005);
	assert_int_equal(p.fetch_at_s, 1008);
	assert_int_equal(p.resign1_at_s, 1011);
	assert_int_equal(p.resign2_at_s, 1012);
	assert_true(p.vote_at_s < p.fetch_at_s && p.fetch_at_s < p.compute_at_s &&
	            p.compute_at_s < p.resign1_at_s && p.resign1_at_s < p.resign2_at_s &&
	            p.resign2_at_s < p.fresh_until_s);
}

static void
test_period_longest_interval_is_a_valid_period(void **state)
{
	struct dirauth_period p;

	(void)state;
	/* 24 h (the config maximum): valid for 3 days, the most a consensus may be. */
	dirauth_period_next(1700000000, 86400, &p);
	assert_true(dir_period_is_valid(p.valid_after_s, p.fresh_until_s, p.valid_until_s));
	/* Below 2 s the interval is taken as 2 s. */
	dirauth_period_next(11, 0, &p);
	assert_int_equal(p.valid_after_s, 12);
}

static void
test_issuer_fetch_interval(void **state)
{
	(void)state;
	/* Issuer key lists: every half period, but not more often than every 5 s. */
	assert_int_equal(dirauth_issuer_every_s(3600), 1800);
	assert_int_equal(dirauth_issuer_every_s(60), 30);
	assert_int_equal(dirauth_issuer_every_s(5), DIRIO_ISSUER_EVERY_MIN_S);
	assert_int_equal(dirauth_issuer_every_s(0), DIRIO_ISSUER_EVERY_MIN_S);
	assert_int_equal(dirauth_issuer_every_s(8), DIRIO_ISSUER_EVERY_MIN_S);
	assert_int_equal(dirauth_issuer_every_s(12), 6);
	assert_true(DIRIO_ISSUER_RETRY_S <= DIRIO_ISSUER_EVERY_MIN_S);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_period_is_aligned_to_the_interval),
		cmocka_unit_test(test_period_on_a_boundary_is_the_next_one),
		cmocka_unit_test(test_period_longest_interval_is_a_valid_period),
		cmocka_unit_test(test_issuer_fetch_interval),
	};

	return cmocka_run_group_tests_name("directory_io", tests, NULL, NULL);
}
