/* SPDX-License-Identifier: MIT */
/*
 * Entry abuse control (trust/abuse.h): bucket refill and burst, per-kind buckets, sources cut
 * to their prefix, bans after repeated refusals and their doubling, handshakes in flight
 * (global and per source), the puzzle difficulty rising under load and falling after, the
 * puzzle itself, the bound on tracked sources, and config checks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "lib/err.h"
#include "crypto/crypto.h"
#include "trust/abuse.h"

static const uint8_t A1[4] = { 192, 0, 2, 1 };
static const uint8_t A2[4] = { 192, 0, 2, 2 };
static const uint8_t B1[4] = { 198, 51, 100, 7 };

static struct abuse *
mk(const struct abuse_config *c)
{
	struct abuse *a = NULL;
	char why[128];

	assert_int_equal(abuse_new(c, &a, why, sizeof(why)), UM_OK);
	return a;
}

static struct abuse_config
cfg_small(void)
{
	struct abuse_config c;

	abuse_config_defaults(&c);
	c.bucket[ABUSE_HANDSHAKE].rate_per_s = 2;
	c.bucket[ABUSE_HANDSHAKE].burst = 3;
	c.bucket[ABUSE_CREATE].rate_per_s = 10;
	c.bucket[ABUSE_CREATE].burst = 5;
	c.violations = 4;
	c.violation_window_ms = 10000;
	c.ban_ms = 1000;
	c.ban_max_ms = 3000;
	c.max_inflight = 8;
	c.max_inflight_per_source = 100;
	c.v4_prefix = 32;
	return c;
}

/* Admit one handshake and finish it at once (so in-flight limits stay out of the way). */
static enum abuse_verdict
hs(struct abuse *a, const uint8_t *addr, uint64_t now)
{
	enum abuse_verdict v = abuse_check(a, ABUSE_HANDSHAKE, AF_INET, addr, now);

	if (v == ABUSE_OK)
		abuse_handshake_end(a, AF_INET, addr);
	return v;
}

static void
test_bucket_burst_and_refill(void **state)
{
	struct abuse_config c = cfg_small();
	struct abuse *a;

	(void)state;
	c.violations = 1000; /* no ban in this test */
	a = mk(&c);
	for (int i = 0; i < 3; i++)
		assert_int_equal(hs(a, A1, 1000), ABUSE_OK);
	assert_int_equal(hs(a, A1, 1000), ABUSE_RATE);
	/* Another source has its own bucket. */
	assert_int_equal(hs(a, B1, 1000), ABUSE_OK);
	/* 2 per second: one token after 500 ms, not before. */
	assert_int_equal(hs(a, A1, 1499), ABUSE_RATE);
	assert_int_equal(hs(a, A1, 1500), ABUSE_OK);
	assert_int_equal(hs(a, A1, 1500), ABUSE_RATE);
	/* Idle for long: full burst again, never more. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(hs(a, A1, 100000), ABUSE_OK);
	assert_int_equal(hs(a, A1, 100000), ABUSE_RATE);
	/* Creations are a separate bucket. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(abuse_check(a, ABUSE_CREATE, AF_INET, A1, 100000), ABUSE_OK);
	assert_int_equal(abuse_check(a, ABUSE_CREATE, AF_INET, A1, 100000), ABUSE_RATE);
	abuse_free(a);
	assert_null(a);
}

static void
test_prefix(void **state)
{
	struct abuse_config c = cfg_small();
	struct abuse *a;
	uint8_t v6a[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1 }, v6b[16];

	(void)state;
	c.violations = 1000;
	c.v4_prefix = 24;
	a = mk(&c);
	/* A1 and A2 share a /24: one bucket of 3. */
	assert_int_equal(hs(a, A1, 0), ABUSE_OK);
	assert_int_equal(hs(a, A2, 0), ABUSE_OK);
	assert_int_equal(hs(a, A1, 0), ABUSE_OK);
	assert_int_equal(hs(a, A2, 0), ABUSE_RATE);
	/* IPv6: the /64 is the source, the interface id is not. */
	memcpy(v6b, v6a, 16);
	v6a[15] = 1;
	v6b[15] = 2;
	v6b[9] = 0x55;
	for (int i = 0; i < 3; i++) {
		const uint8_t *p = i % 2 ? v6a : v6b;

		assert_int_equal(abuse_check(a, ABUSE_HANDSHAKE, AF_INET6, p, 0), ABUSE_OK);
		abuse_handshake_end(a, AF_INET6, p);
	}
	assert_int_equal(abuse_check(a, ABUSE_HANDSHAKE, AF_INET6, v6a, 0), ABUSE_RATE);
	/* Another /64 is another source. */
	v6b[7] = 2;
	assert_int_equal(abuse_check(a, ABUSE_HANDSHAKE, AF_INET6, v6b, 0), ABUSE_OK);
	/* An unknown family is refused, never crashes. */
	assert_int_equal(abuse_check(a, ABUSE_HANDSHAKE, AF_UNIX, A1, 0), ABUSE_RATE);
	abuse_free(a);
}

static void
test_ban_and_doubling(void **state)
{
	struct abuse_config c = cfg_small();
	struct abuse *a = mk(&c);
	struct abuse_stats st;
	uint64_t t = 0;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(hs(a, A1, t), ABUSE_OK);
	/* Three refusals, the fourth earns the ban (1 s). */
	for (int i = 0; i < 3; i++)
		assert_int_equal(hs(a, A1, t), ABUSE_RATE);
	assert_int_equal(hs(a, A1, t), ABUSE_BANNED);
	abuse_stats(a, t, &st);
	assert_int_equal(st.bans, 1);
	assert_int_equal(st.banned, 1);
	/* Banned: refused even with tokens, for creations too; the other source is fine. */
	assert_int_equal(hs(a, A1, t + 999), ABUSE_BANNED);
	assert_int_equal(abuse_check(a, ABUSE_CREATE, AF_INET, A1, t + 999), ABUSE_BANNED);
	assert_int_equal(hs(a, B1, t + 999), ABUSE_OK);
	/* Over: tokens refilled meanwhile. */
	t += 1000;
	assert_int_equal(hs(a, A1, t), ABUSE_OK);
	/* Again: the second ban lasts 2 s, the third 3 s (the maximum), and stays there. */
	for (uint64_t want = 2000; want <= 4000; want += 1000) {
		uint64_t len = want > 3000 ? 3000 : want;
		enum abuse_verdict v = ABUSE_OK;

		while (v != ABUSE_BANNED)
			v = hs(a, A1, t);
		assert_int_equal(hs(a, A1, t + len - 1), ABUSE_BANNED);
		t += len;
		assert_int_not_equal(hs(a, A1, t), ABUSE_BANNED);
	}
	abuse_stats(a, t, &st);
	assert_int_equal(st.bans, 4);
	assert_true(st.refused_banned[ABUSE_HANDSHAKE] >= 4);
	abuse_free(a);
}

static void
test_violations_window(void **state)
{
	struct abuse_config c = cfg_small();
	struct abuse *a;

	(void)state;
	c.violation_window_ms = 100;
	a = mk(&c);
	for (int i = 0; i < 3; i++)
		assert_int_equal(hs(a, A1, 0), ABUSE_OK);
	/* Refusals spread wider than the window never add up to a ban. */
	for (uint64_t t = 0; t < 10 * 200; t += 200) {
		enum abuse_verdict v = hs(a, A1, t);

		assert_int_not_equal(v, ABUSE_BANNED);
		if (v == ABUSE_OK)
			assert_int_equal(hs(a, A1, t), ABUSE_RATE);
	}
	abuse_free(a);
}

static void
test_inflight(void **state)
{
	struct abuse_config c = cfg_small();
	struct abuse *a;
	uint8_t addr[4] = { 10, 0, 0, 0 };
	struct abuse_stats st;

	(void)state;
	c.max_inflight = 4;
	c.max_inflight_per_source = 2;
	c.violations = 1000;
	a = mk(&c);
	/* Per source: two at once. */
	assert_int_equal(abuse_check(a, ABUSE_HANDSHAKE, AF_INET, A1, 0), ABUSE_OK);
	assert_int_equal(abuse_check(a, ABUSE_HANDSHAKE, AF_INET, A1, 0), ABUSE_OK);
	assert_int_equal(abuse_check(a, ABUSE_HANDSHAKE, AF_INET, A1, 0), ABUSE_BUSY);
	abuse_handshake_end(a, AF_INET, A1);
	assert_int_equal(abuse_check(a, ABUSE_HANDSHAKE, AF_INET, A1, 0), ABUSE_OK);
	/* Globally: four. */
	for (int i = 1; i <= 2; i++) {
		addr[3] = (uint8_t)i;
		assert_int_equal(abuse_check(a, ABUSE_HANDSHAKE, AF_INET, addr, 0), ABUSE_OK);
	}
	addr[3] = 3;
	assert_int_equal(abuse_check(a, ABUSE_HANDSHAKE, AF_INET, addr, 0), ABUSE_BUSY);
	abuse_stats(a, 0, &st);
	assert_int_equal(st.inflight, 4);
	assert_int_equal(st.refused_busy, 2);
	/* An end for a handshake never begun changes nothing. */
	abuse_handshake_end(a, AF_INET, B1);
	abuse_stats(a, 0, &st);
	assert_int_equal(st.inflight, 4);
	abuse_free(a);
}

static void
test_puzzle_adapts(void **state)
{
	struct abuse_config c = cfg_small();
	struct abuse *a;
	uint8_t addr[4] = { 10, 0, 0, 0 };
	uint64_t t = 0;

	(void)state;
	c.max_inflight = 8;
	c.max_inflight_per_source = 1;
	c.puzzle_step_ms = 1000;
	c.violations = 1000;
	a = mk(&c);
	assert_int_equal(abuse_puzzle_bits(a, t), 0);
	/* Six of eight in flight: load 3/4, one bit more per step, not faster. */
	for (int i = 0; i < 6; i++) {
		addr[3] = (uint8_t)i;
		assert_int_equal(abuse_check(a, ABUSE_HANDSHAKE, AF_INET, addr, t), ABUSE_OK);
	}
	assert_int_equal(abuse_puzzle_bits(a, t + 999), 0);
	assert_int_equal(abuse_puzzle_bits(a, t + 1000), 1);
	assert_int_equal(abuse_puzzle_bits(a, t + 1500), 1);
	for (unsigned want = 2; want <= ABUSE_PUZZLE_MAX_BITS + 3; want++) {
		unsigned got = abuse_puzzle_bits(a, t + 1000 * want);

		assert_int_equal(got, want > ABUSE_PUZZLE_MAX_BITS ? ABUSE_PUZZLE_MAX_BITS : want);
	}
	t = 1000 * (ABUSE_PUZZLE_MAX_BITS + 3);
	/* Load falls to one in flight (under a quarter): one bit less per step. */
	for (int i = 1; i < 6; i++) {
		addr[3] = (uint8_t)i;
		abuse_handshake_end(a, AF_INET, addr);
	}
	assert_int_equal(abuse_puzzle_bits(a, t + 1000), ABUSE_PUZZLE_MAX_BITS - 1);
	/* Three in flight (between a quarter and three quarters): held. */
	for (int i = 1; i < 3; i++) {
		addr[3] = (uint8_t)(100 + i);
		assert_int_equal(abuse_check(a, ABUSE_HANDSHAKE, AF_INET, addr, t + 1000),
		                 ABUSE_OK);
	}
	assert_int_equal(abuse_puzzle_bits(a, t + 2000), ABUSE_PUZZLE_MAX_BITS - 1);
	/* The load goes; nothing asks for a while. A quiet gap of N steps takes N bits off at
	 * the next question, not one: an hour later the difficulty is back at 0. */
	for (int i = 1; i < 3; i++) {
		addr[3] = (uint8_t)(100 + i);
		abuse_handshake_end(a, AF_INET, addr);
	}
	addr[3] = 0;
	abuse_handshake_end(a, AF_INET, addr);
	assert_int_equal(abuse_puzzle_bits(a, t + 2000 + 5 * 1000), ABUSE_PUZZLE_MAX_BITS - 6);
	assert_int_equal(abuse_puzzle_bits(a, t + 2000 + 3600 * 1000), 0);
	abuse_free(a);
}

static void
test_puzzle_busy_raises(void **state)
{
	struct abuse_config c = cfg_small();
	struct abuse *a;
	uint8_t addr[4] = { 10, 0, 0, 0 };

	(void)state;
	c.max_inflight = 2;
	c.max_inflight_per_source = 2;
	c.violations = 1000;
	a = mk(&c);
	assert_int_equal(abuse_puzzle_bits(a, 0), 0);
	/* Refused for load within a step: the next step raises the bar even though the
	 * handshakes in flight have ended by then. */
	for (int i = 0; i < 3; i++) {
		addr[3] = (uint8_t)i;
		(void)abuse_check(a, ABUSE_HANDSHAKE, AF_INET, addr, 10);
	}
	for (int i = 0; i < 2; i++) {
		addr[3] = (uint8_t)i;
		abuse_handshake_end(a, AF_INET, addr);
	}
	assert_int_equal(abuse_puzzle_bits(a, 1000), 1);
	/* A refusal in the last step before a long quiet gap does not raise the bar after it. */
	for (int i = 0; i < 3; i++) {
		addr[3] = (uint8_t)i;
		(void)abuse_check(a, ABUSE_HANDSHAKE, AF_INET, addr, 1500);
	}
	for (int i = 0; i < 2; i++) {
		addr[3] = (uint8_t)i;
		abuse_handshake_end(a, AF_INET, addr);
	}
	assert_int_equal(abuse_puzzle_bits(a, 1500 + 3600 * 1000), 0);
	abuse_free(a);
}

static void
test_sources_bounded(void **state)
{
	struct abuse_config c = cfg_small();
	struct abuse *a;
	struct abuse_stats st;
	uint8_t addr[4] = { 10, 0, 0, 0 };

	(void)state;
	c.max_sources = 16;
	a = mk(&c);
	/* A1 gets banned: it must survive the flood of new sources below. */
	for (int i = 0; i < 7; i++)
		(void)hs(a, A1, 0);
	assert_int_equal(hs(a, A1, 1), ABUSE_BANNED);
	for (int i = 0; i < 5000; i++) {
		addr[2] = (uint8_t)(i >> 8);
		addr[3] = (uint8_t)i;
		assert_int_equal(hs(a, addr, 2), ABUSE_OK);
	}
	abuse_stats(a, 2, &st);
	assert_int_equal(st.sources, 16);
	assert_int_equal(st.evicted, 5000 + 1 - 16);
	assert_int_equal(hs(a, A1, 3), ABUSE_BANNED);
	abuse_free(a);
}

static void
test_config_checks(void **state)
{
	struct abuse_config c;
	struct abuse *a = NULL;
	char why[128] = "";

	(void)state;
	abuse_config_defaults(&c);
	c.bucket[ABUSE_CREATE].burst = 0;
	assert_int_equal(abuse_new(&c, &a, why, sizeof(why)), UM_ERR_INVALID);
	assert_null(a);
	assert_non_null(strstr(why, "burst"));
	abuse_config_defaults(&c);
	c.v4_prefix = 33;
	assert_int_equal(abuse_new(&c, &a, why, sizeof(why)), UM_ERR_INVALID);
	assert_non_null(strstr(why, "prefix"));
	abuse_config_defaults(&c);
	c.ban_max_ms = c.ban_ms - 1;
	assert_int_equal(abuse_new(&c, &a, why, sizeof(why)), UM_ERR_INVALID);
	abuse_config_defaults(&c);
	c.max_sources = 1;
	assert_int_equal(abuse_new(&c, &a, why, sizeof(why)), UM_ERR_INVALID);
	abuse_config_defaults(&c);
	assert_int_equal(abuse_new(&c, &a, why, sizeof(why)), UM_OK);
	abuse_free(a);
}

/* The key of a peer: an IPv4-mapped IPv6 address (an IPv4 client of a dual-stack listener)
 * is its IPv4 address, so such clients do not all share one IPv6 /64. */
static void
test_addr_of(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	const uint8_t *k;
	int family = -1;

	(void)state;
	memset(&ss, 0, sizeof(ss));
	v4->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, "192.0.2.7", &v4->sin_addr), 1);
	k = abuse_addr_of(&ss, &family);
	assert_int_equal(family, AF_INET);
	assert_memory_equal(k, "\xc0\x00\x02\x07", 4);
	memset(&ss, 0, sizeof(ss));
	v6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.7", &v6->sin6_addr), 1);
	k = abuse_addr_of(&ss, &family);
	assert_int_equal(family, AF_INET);
	assert_memory_equal(k, "\xc0\x00\x02\x07", 4);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", &v6->sin6_addr), 1);
	k = abuse_addr_of(&ss, &family);
	assert_int_equal(family, AF_INET6);
	assert_memory_equal(k, v6->sin6_addr.s6_addr, 16);
	ss.ss_family = AF_UNIX;
	assert_null(abuse_addr_of(&ss, &family));
	assert_int_equal(family, AF_UNSPEC);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_burst_and_refill),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_ban_and_doubling),
		cmocka_unit_test(test_violations_window),
		cmocka_unit_test(test_inflight),
		cmocka_unit_test(test_puzzle_adapts),
		cmocka_unit_test(test_addr_of),
		cmocka_unit_test(test_puzzle_busy_raises),
		cmocka_unit_test(test_sources_bounded),
		cmocka_unit_test(test_config_checks),
	};

	if (um_crypto_init() != UM_OK)
		return 1;
	return cmocka_run_group_tests_name("abuse", tests, NULL, NULL);
}
