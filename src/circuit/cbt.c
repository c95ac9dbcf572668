/* SPDX-License-Identifier: MIT */
/*
 * Circuit build timeout learning (cbt.h): a ring of build times and a sorted copy for the
 * quantiles, recomputed at each sample (1000 integers: microseconds, and builds are rare).
 */
#include "circuit/cbt.h"

#include <stdlib.h>
#include <string.h>

#include "lib/compiler.h"

static uint32_t
clamp_u64(uint64_t v, uint32_t lo, uint32_t hi)
{
	return v < lo ? lo : v > hi ? hi : (uint32_t)v;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The pct-th percentile of sorted v[0..n) (nearest rank, n > 0). */
static uint32_t
quantile(const uint32_t *v, size_t n, unsigned pct)
{
	size_t rank = (n * pct + 99) / 100; /* ceil(n * pct / 100), 1-based */

	return v[rank == 0 ? 0 : rank - 1];
}

static void
recompute(struct cbt *t)
{
	uint32_t sorted[CBT_RING];
	uint64_t q, g;

	if (t->n < CBT_MIN_SAMPLES) {
		t->timeout_ms = t->base_ms;
		t->give_up_ms = clamp_u64(2 * (uint64_t)t->base_ms, CBT_MIN_TIMEOUT_MS,
		                          2 * CBT_MAX_TIMEOUT_MS);
		return;
	}
	memcpy(sorted, t->ring, t->n * sizeof(sorted[0]));
	qsort(sorted, t->n, sizeof(sorted[0]), cmp_u32);
	q = (uint64_t)quantile(sorted, t->n, CBT_QUANTILE_PCT) * CBT_MARGIN_NUM / CBT_MARGIN_DEN;
	t->timeout_ms = clamp_u64(q, CBT_MIN_TIMEOUT_MS, CBT_MAX_TIMEOUT_MS);
	g = (uint64_t)quantile(sorted, t->n, CBT_GIVE_UP_QUANTILE_PCT) * CBT_MARGIN_NUM /
	    CBT_MARGIN_DEN;
	t->give_up_ms = clamp_u64(UM_MAX(g, 2 * (uint64_t)t->timeout_ms), CBT_MIN_TIMEOUT_MS,
	                          2 * CBT_MAX_TIMEOUT_MS);
}

void
cbt_init(struct cbt *t)
{
	memset(t, 0, sizeof(*t));
	t->base_ms = CBT_DEFAULT_TIMEOUT_MS;
	recompute(t);
}

static void
note_outcome(struct cbt *t, bool timed_out)
{
	t->recent = (t->recent << 1 | (timed_out ? 1u : 0u)) & ((1u << CBT_RECENT) - 1);
	if (t->n_recent < CBT_RECENT)
		t->n_recent++;
}

void
cbt_note_build(struct cbt *t, uint32_t ms)
{
	t->ring[t->head] = ms;
	t->head = (t->head + 1) % CBT_RING;
	if (t->n < CBT_RING)
		t->n++;
	note_outcome(t, false);
	recompute(t);
}

void
cbt_note_timeout(struct cbt *t)
{
	note_outcome(t, true);
	if ((unsigned)__builtin_popcount(t->recent) < CBT_RECENT_TIMEOUTS_MAX)
		return;
	/* Most recent builds time out: the learned value is stale (the network changed). */
	t->base_ms =
	        clamp_u64(UM_MAX((uint64_t)CBT_DEFAULT_TIMEOUT_MS, 2 * (uint64_t)t->timeout_ms),
	                  CBT_MIN_TIMEOUT_MS, CBT_MAX_TIMEOUT_MS);
	t->n = 0;
	t->head = 0;
	t->recent = 0;
	t->n_recent = 0;
	t->n_resets++;
	recompute(t);
}

uint32_t
cbt_timeout_ms(const struct cbt *t)
{
	return t->timeout_ms;
}

uint32_t
cbt_give_up_ms(const struct cbt *t)
{
	return t->give_up_ms;
}

bool
cbt_is_learned(const struct cbt *t)
{
	return t->n >= CBT_MIN_SAMPLES;
}
