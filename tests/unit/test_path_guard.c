/* SPDX-License-Identifier: MIT */
/*
 * The persistent guard set (circuit/path_guard.h): sampling (bandwidth-weighted, bounded,
 * only GUARD RUNNING VALID relays), the set surviving a reopen of the same SQLite file,
 * lifetimes (60-90 days) and removal after 20 days unlisted, no rotation while guards are
 * usable, no new sampling because guards are unreachable, exponential retry backoff and the
 * fall back to non-primary guards, the "network is back" rule, and damaged rows read back from
 * the database (dropped, counted, rewritten).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "circuit/path_guard.h"
#include "helpers/path_fixture.h"

static const uint64_t NOW = 1800000000;
static const uint64_t DAY = 86400;

struct tmp {
	char dir[64];
	char path[128];
};

static void
tmp_init(struct tmp *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/um-guard-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/state.db", t->dir);
}

static void
tmp_clear(struct tmp *t)
{
	DIR *d = opendir(t->dir);
	struct dirent *e;
	char p[512];

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", t->dir, e->d_name);
		assert_int_equal(unlink(p), 0);
	}
	closedir(d);
	assert_int_equal(rmdir(t->dir), 0);
}

static struct store *
open_store(const char *path)
{
	struct store *st = NULL;
	char why[256];

	if (store_open(path, NULL, &st, why, sizeof(why)) != UM_OK)
		fail_msg("store_open: %s", why);
	return st;
}

/* n relays, all guards (plus middle and exit flags: it does not matter here). */
static void
guards(struct consensus *c, size_t n)
{
	fx_consensus(c, n);
	for (size_t i = 0; i < n; i++)
		fx_relay(&c->relays[i], (unsigned)i, FX_GUARD);
}

static int64_t
count_rows(struct store *st)
{
	struct store_stmt *s = NULL;
	int64_t v = -1;

	assert_int_equal(store_stmt_prepare(st, "SELECT count(*) FROM path_guard", &s), UM_OK);
	assert_int_equal(store_stmt_step(s), STORE_ROW);
	assert_int_equal(store_stmt_column_int64(s, 0, &v), UM_OK);
	store_stmt_free(s);
	return v;
}

static void
test_guard_sample_and_persist(void **state)
{
	struct tmp t;
	struct store *st;
	struct guard_set *gs = NULL;
	struct consensus c;
	struct fx_rng r;
	uint8_t ids[GUARD_SAMPLED_MAX][32], id[32];
	size_t n;
	char why[PATH_WHY_LEN];

	(void)state;
	tmp_init(&t);
	guards(&c, 30);
	/* Not eligible: no Guard flag, not running, not valid. */
	c.relays[0].flags = FX_MIDDLE;
	c.relays[1].flags &= (uint16_t)~RELAY_FLAG_RUNNING;
	c.relays[2].flags &= (uint16_t)~RELAY_FLAG_VALID;
	fx_rng_init(&r, 1);

	st = open_store(t.path);
	assert_int_equal(guard_set_open(st, 3, &gs), UM_OK);
	assert_int_equal(guard_set_n(gs), 0);
	assert_int_equal(guard_pick(gs, NOW, id, why, sizeof(why)), UM_ERR_NOT_FOUND);
	assert_string_equal(why, "no guard: the consensus lists no relay with the Guard flag");
	assert_int_equal(guard_set_update(gs, &c, NOW, &r.rng), UM_OK);
	n = guard_set_n(gs);
	assert_int_equal(n, 3 + GUARD_SPARE);
	for (size_t i = 0; i < n; i++) {
		const struct guard_info *g = guard_set_get(gs, i);
		ssize_t k = path_find_relay(&c, g->id);

		assert_true(k >= 3);
		assert_true(g->usable);
		assert_int_equal(g->added_s, NOW);
		assert_true(g->expires_s >= NOW + GUARD_LIFETIME_MIN_S &&
		            g->expires_s <= NOW + GUARD_LIFETIME_MAX_S);
		memcpy(ids[i], g->id, 32);
	}
	assert_null(guard_set_get(gs, n));
	assert_int_equal(guard_pick(gs, NOW, id, why, sizeof(why)), UM_OK);
	assert_memory_equal(id, ids[0], 32);
	assert_int_equal(guard_note_success(gs, ids[1], NOW + 5), UM_OK);
	assert_int_equal(count_rows(st), (int64_t)n);
	guard_set_free(gs);
	store_close(st);

	/* Reopen the same file: the same guards, in the same order, with their dates. */
	st = open_store(t.path);
	assert_int_equal(guard_set_open(st, 3, &gs), UM_OK);
	assert_int_equal(guard_set_n(gs), n);
	assert_int_equal(guard_set_n_bad_rows(gs), 0);
	for (size_t i = 0; i < n; i++) {
		const struct guard_info *g = guard_set_get(gs, i);

		assert_memory_equal(g->id, ids[i], 32);
		assert_int_equal(g->added_s, NOW);
		assert_int_equal(g->confirmed_s, i == 1 ? NOW + 5 : 0);
		assert_false(g->usable); /* until a consensus says so */
	}
	/* A new consensus with better-looking guards does not rotate anything. */
	for (size_t i = 0; i < c.n_relays; i++)
		c.relays[i].measured_bw = 1000 * (uint32_t)(i + 1) * (uint32_t)(i + 1);
	assert_int_equal(guard_set_update(gs, &c, NOW + DAY, &r.rng), UM_OK);
	assert_int_equal(guard_set_n(gs), n);
	for (size_t i = 0; i < n; i++)
		assert_memory_equal(guard_set_get(gs, i)->id, ids[i], 32);
	guard_set_free(gs);
	store_close(st);

	/* Arguments. */
	assert_int_equal(guard_set_open(NULL, 0, &gs), UM_ERR_INVALID);
	assert_null(gs);
	assert_int_equal(guard_set_open(NULL, GUARD_PRIMARY_MAX + 1, &gs), UM_ERR_INVALID);
	consensus_clear(&c);
	tmp_clear(&t);
}

static void
test_guard_lifetime_and_unlisted(void **state)
{
	struct guard_set *gs = NULL;
	struct consensus c, c2;
	struct fx_rng r;
	uint8_t first[32], id[32];
	uint64_t exp0;
	char why[PATH_WHY_LEN];

	(void)state;
	guards(&c, 20);
	fx_rng_init(&r, 2);
	assert_int_equal(guard_set_open(NULL, 2, &gs), UM_OK);
	assert_int_equal(guard_set_update(gs, &c, NOW, &r.rng), UM_OK);
	memcpy(first, guard_set_get(gs, 0)->id, 32);
	exp0 = guard_set_get(gs, 0)->expires_s;

	/* Guard 0 leaves the consensus: not usable, not picked, kept, replaced in the usable count.
	 */
	guards(&c2, 20);
	for (size_t i = 0; i < c2.n_relays; i++)
		if (memcmp(c2.relays[i].identity, first, 32) == 0)
			c2.relays[i].flags =
			        FX_MIDDLE; /* listed without Guard: not usable, not unlisted */
	assert_int_equal(guard_set_update(gs, &c2, NOW + DAY, &r.rng), UM_OK);
	assert_false(guard_set_get(gs, 0)->usable);
	assert_int_equal(guard_set_get(gs, 0)->unlisted_since_s, 0);
	assert_int_equal(guard_set_n(gs), 2 + GUARD_SPARE + 1);
	assert_int_equal(guard_pick(gs, NOW + DAY, id, why, sizeof(why)), UM_OK);
	assert_memory_not_equal(id, first, 32);
	consensus_clear(&c2);

	/* Unlisted for 19 days: kept; back: primary again, in its place. */
	guards(&c2, 20);
	for (size_t i = 0; i < c2.n_relays; i++)
		if (memcmp(c2.relays[i].identity, first, 32) == 0) {
			memmove(&c2.relays[i], &c2.relays[i + 1],
			        (c2.n_relays - i - 1) * sizeof(c2.relays[0]));
			c2.n_relays--;
			break;
		}
	assert_int_equal(guard_set_update(gs, &c2, NOW + 2 * DAY, &r.rng), UM_OK);
	assert_int_equal(guard_set_get(gs, 0)->unlisted_since_s, NOW + 2 * DAY);
	assert_int_equal(guard_set_update(gs, &c2, NOW + 21 * DAY - 1, &r.rng), UM_OK);
	assert_memory_equal(guard_set_get(gs, 0)->id, first, 32);
	assert_int_equal(guard_set_update(gs, &c, NOW + 21 * DAY, &r.rng), UM_OK);
	assert_int_equal(guard_set_get(gs, 0)->unlisted_since_s, 0);
	assert_int_equal(guard_pick(gs, NOW + 21 * DAY, id, why, sizeof(why)), UM_OK);
	assert_memory_equal(id, first, 32);

	/* Unlisted for 20 days: removed. */
	assert_int_equal(guard_set_update(gs, &c2, NOW + 22 * DAY, &r.rng), UM_OK);
	assert_int_equal(guard_set_update(gs, &c2, NOW + 42 * DAY - 1, &r.rng), UM_OK);
	assert_memory_equal(guard_set_get(gs, 0)->id, first, 32);
	assert_int_equal(guard_set_update(gs, &c2, NOW + 42 * DAY, &r.rng), UM_OK);
	for (size_t i = 0; i < guard_set_n(gs); i++)
		assert_memory_not_equal(guard_set_get(gs, i)->id, first, 32);

	/* Lifetime: every guard is gone at its expiry (the last one was sampled a day after the
	 * others), and replaced. */
	assert_true(exp0 > NOW + 42 * DAY);
	assert_int_equal(guard_set_update(gs, &c, NOW + DAY + GUARD_LIFETIME_MAX_S, &r.rng), UM_OK);
	for (size_t i = 0; i < guard_set_n(gs); i++) {
		assert_int_equal(guard_set_get(gs, i)->added_s, NOW + DAY + GUARD_LIFETIME_MAX_S);
		assert_true(guard_set_get(gs, i)->usable);
	}
	assert_int_equal(guard_set_n(gs), 2 + GUARD_SPARE);
	guard_set_free(gs);
	consensus_clear(&c);
	consensus_clear(&c2);
}

static void
test_guard_backoff(void **state)
{
	struct guard_set *gs = NULL;
	struct consensus c;
	struct fx_rng r;
	struct path_guards pg;
	uint8_t ids[8][32], id[32];
	char why[PATH_WHY_LEN];
	uint64_t t = NOW;
	size_t n;

	(void)state;
	guards(&c, 12);
	fx_rng_init(&r, 3);
	assert_int_equal(guard_set_open(NULL, 3, &gs), UM_OK);
	assert_int_equal(guard_set_update(gs, &c, t, &r.rng), UM_OK);
	n = guard_set_n(gs);
	assert_int_equal(n, 8);
	for (size_t i = 0; i < n; i++)
		memcpy(ids[i], guard_set_get(gs, i)->id, 32);
	guard_set_primary(gs, t, &pg);
	assert_int_equal(pg.n, 3);
	for (size_t i = 0; i < 3; i++)
		assert_memory_equal(pg.ids[i], ids[i], 32);

	/* Primary 0 fails: 60 s, 120 s, 240 s, ... up to 4 h between tries. */
	{
		static const uint64_t delays[] = { 60,   120,  240,  480,   960,
			                           1920, 3840, 7680, 14400, 14400 };

		for (size_t k = 0; k < UM_ARRAY_LEN(delays); k++) {
			assert_int_equal(guard_note_failure(gs, ids[0], t), UM_OK);
			assert_int_equal(guard_set_get(gs, 0)->retry_s, t + delays[k]);
			assert_int_equal(guard_pick(gs, t, id, why, sizeof(why)), UM_OK);
			assert_memory_equal(id, ids[1], 32);
			assert_int_equal(guard_pick(gs, t + delays[k] - 1, id, why, sizeof(why)),
			                 UM_OK);
			assert_memory_equal(id, ids[1], 32);
			/* Retry time reached: primary 0 first again. */
			assert_int_equal(guard_pick(gs, t + delays[k], id, why, sizeof(why)),
			                 UM_OK);
			assert_memory_equal(id, ids[0], 32);
			t += delays[k];
		}
	}
	/* A success clears the backoff. */
	assert_int_equal(guard_note_success(gs, ids[0], t), UM_OK);
	assert_int_equal(guard_note_failure(gs, ids[0], t), UM_OK);
	assert_int_equal(guard_set_get(gs, 0)->retry_s, t + 60);

	/* Every primary down: the next usable guards, never new samples. */
	assert_int_equal(guard_note_failure(gs, ids[1], t), UM_OK);
	assert_int_equal(guard_note_failure(gs, ids[2], t), UM_OK);
	guard_set_primary(gs, t, &pg);
	assert_int_equal(pg.n, 5);
	assert_memory_equal(pg.ids[0], ids[3], 32);
	assert_int_equal(guard_set_update(gs, &c, t, &r.rng), UM_OK);
	assert_int_equal(guard_set_n(gs), n);
	/* ... and when one of them works, the primaries are retried at once (network back). */
	assert_int_equal(guard_note_success(gs, ids[3], t), UM_OK);
	assert_int_equal(guard_pick(gs, t, id, why, sizeof(why)), UM_OK);
	assert_memory_equal(id, ids[0], 32);

	/* Everything down: the reason names the next retry. */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(guard_note_failure(gs, ids[i], t), UM_OK);
	assert_int_equal(guard_pick(gs, t, id, why, sizeof(why)), UM_ERR_NOT_FOUND);
	assert_string_equal(why, "all 8 usable guards are unreachable; next retry in 60 s");
	guard_set_primary(gs, t, &pg);
	assert_int_equal(pg.n, 0);
	assert_int_equal(guard_set_update(gs, &c, t, &r.rng), UM_OK);
	assert_int_equal(guard_set_n(gs), n); /* unreachable guards are not replaced */

	/* Unknown guards. */
	fx_id(id, 999);
	assert_int_equal(guard_note_failure(gs, id, t), UM_ERR_NOT_FOUND);
	assert_int_equal(guard_note_success(gs, id, t), UM_ERR_NOT_FOUND);
	guard_set_free(gs);
	consensus_clear(&c);
}

static void
test_guard_sampling_weighted_and_bounded(void **state)
{
	struct consensus c;
	struct fx_rng r;
	unsigned first_heavy = 0;

	(void)state;
	/* Ten guards; relay 0 carries as much bandwidth as the nine others together. */
	guards(&c, 10);
	c.relays[0].measured_bw = 9000;
	fx_rng_init(&r, 4);
	for (int i = 0; i < 2000; i++) {
		struct guard_set *gs = NULL;

		assert_int_equal(guard_set_open(NULL, 1, &gs), UM_OK);
		assert_int_equal(guard_set_update(gs, &c, NOW, &r.rng), UM_OK);
		first_heavy += memcmp(guard_set_get(gs, 0)->id, c.relays[0].identity, 32) == 0;
		guard_set_free(gs);
	}
	assert_true(first_heavy > 900 && first_heavy < 1100);
	consensus_clear(&c);

	/* Guards that keep disappearing: the set never grows past GUARD_SAMPLED_MAX. */
	{
		struct guard_set *gs = NULL;

		assert_int_equal(guard_set_open(NULL, GUARD_PRIMARY_MAX, &gs), UM_OK);
		for (unsigned round = 0; round < 10; round++) {
			fx_consensus(&c, 10);
			for (unsigned i = 0; i < 10; i++)
				fx_relay(&c.relays[i], round * 10 + i, FX_GUARD);
			assert_int_equal(guard_set_update(gs, &c, NOW + round, &r.rng), UM_OK);
			assert_true(guard_set_n(gs) <= GUARD_SAMPLED_MAX);
			consensus_clear(&c);
		}
		assert_int_equal(guard_set_n(gs), GUARD_SAMPLED_MAX);
		guard_set_free(gs);
	}
}

static void
test_guard_damaged_rows(void **state)
{
	struct tmp t;
	struct store *st;
	struct guard_set *gs = NULL;
	struct consensus c;
	struct fx_rng r;
	char sql[2048];

	(void)state;
	tmp_init(&t);
	st = open_store(t.path);
	assert_int_equal(guard_set_open(st, 3, &gs), UM_OK); /* creates the table */
	guard_set_free(gs);
	/* Row 0 good; the others each break one rule. id(n) = x'<n repeated 32 times>'. */
#define ID(h) "x'" h h h h h h h h h h h h h h h h h h h h h h h h h h h h h h h h "'"
	snprintf(
	        sql, sizeof(sql),
	        "INSERT INTO path_guard VALUES (0, " ID(
	                "00") ", 1000, 2000, 0, 0);"
	                      "INSERT INTO path_guard VALUES (1, " ID(
	                              "01") ", 'soon', 2000, 0, 0);"
	                                    "INSERT INTO path_guard VALUES (2, " ID(
	                                            "02") ", 1000, 999, 0, 0);"
	                                                  "INSERT INTO path_guard VALUES (3, "
	                                                  "x'0303', 1000, 2000, 0, 0);"
	                                                  "INSERT INTO path_guard VALUES (4, " ID(
	                                                          "04") ", 1000, %llu, 0, 0);"
	                                                                "INSERT INTO path_guard "
	                                                                "VALUES (5, " ID(
	                                                                        "05") ", 1000, "
	                                                                              "2000, 5, 0);"
	                                                                              "INSERT INTO "
	                                                                              "path_guard "
	                                                                              "VALUES "
	                                                                              "(6, " ID(
	                                                                                      "06") ", 1000, 2000, 0, -1);"
	                                                                                            "INSERT INTO path_guard VALUES (7, 'text id', 1000, 2000, 0, 0);"
	                                                                                            "INSERT INTO path_guard VALUES (8, " ID(
	                                                                                                    "08") ", 0, 2000, 0, 0);"
	                                                                                                          "INSERT INTO path_guard VALUES (9, " ID(
	                                                                                                                  "09") ", 1000.5, 2000, 0, 0);"
	                                                                                                                        "INSERT INTO path_guard VALUES (10, " ID(
	                                                                                                                                "0a") ", 1000, 2000, 1500, 1999);",
	        1000ULL + GUARD_LIFETIME_MAX_S + 1);
#undef ID
	assert_int_equal(store_exec(st, sql), UM_OK);
	assert_int_equal(guard_set_open(st, 3, &gs), UM_OK);
	assert_int_equal(guard_set_n_bad_rows(gs), 9);
	assert_int_equal(guard_set_n(gs), 2);
	assert_int_equal(guard_set_get(gs, 0)->id[0], 0x00);
	assert_int_equal(guard_set_get(gs, 1)->id[0], 0x0a);
	assert_int_equal(guard_set_get(gs, 1)->unlisted_since_s, 1500);
	assert_int_equal(guard_set_get(gs, 1)->confirmed_s, 1999);
	/* The next save rewrites the table without them (both old guards expired by now). */
	guards(&c, 12);
	fx_rng_init(&r, 5);
	assert_int_equal(guard_set_update(gs, &c, NOW, &r.rng), UM_OK);
	assert_int_equal(guard_set_n(gs), 3 + GUARD_SPARE);
	assert_int_equal(count_rows(st), 3 + GUARD_SPARE);
	guard_set_free(gs);
	assert_int_equal(guard_set_open(st, 3, &gs), UM_OK);
	assert_int_equal(guard_set_n_bad_rows(gs), 0);
	assert_int_equal(guard_set_n(gs), 3 + GUARD_SPARE);
	guard_set_free(gs);
	store_close(st);
	consensus_clear(&c);
	tmp_clear(&t);
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
		cmocka_unit_test(test_guard_sample_and_persist),
		cmocka_unit_test(test_guard_lifetime_and_unlisted),
		cmocka_unit_test(test_guard_backoff),
		cmocka_unit_test(test_guard_sampling_weighted_and_bounded),
		cmocka_unit_test(test_guard_damaged_rows),
	};

	return cmocka_run_group_tests_name("path_guard", tests, setup, NULL);
}
