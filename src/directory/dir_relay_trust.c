/* SPDX-License-Identifier: MIT */
/* Relay-trust signals and the flags made from them (dir_relay_trust.h). */
#include "directory/dir_relay_trust.h"

#include <stdlib.h>
#include <string.h>

#include "directory/relay_entry.h"

void
dir_rt_feed_clear(struct dir_rt_feed *f)
{
	if (f == NULL)
		return;
	free(f->v);
	memset(f, 0, sizeof(*f));
}

bool
dir_rt_feed_is_valid(const struct dir_rt_feed *f)
{
	if (f->n > DIR_RT_MAX_ENTRIES || (f->n > 0 && f->v == NULL))
		return false;
	for (size_t i = 1; i < f->n; i++)
		if (memcmp(f->v[i - 1].node_id, f->v[i].node_id, DIR_RT_ID_LEN) >= 0)
			return false;
	return true;
}

const struct dir_rt_entry *
dir_rt_feed_find(const struct dir_rt_feed *f, const uint8_t node_id[DIR_RT_ID_LEN])
{
	size_t lo = 0, hi = f->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(f->v[mid].node_id, node_id, DIR_RT_ID_LEN);

		if (c == 0)
			return &f->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void
dir_rt_count(const struct dir_rt_feed *const *feeds, size_t n, const uint8_t node_id[DIR_RT_ID_LEN],
             uint64_t bond_min, uint64_t at_s, size_t *n_bonded, size_t *n_disputed)
{
	*n_bonded = 0;
	*n_disputed = 0;
	for (size_t i = 0; i < n; i++) {
		const struct dir_rt_entry *e;

		if (feeds[i] == NULL || feeds[i]->expires_s <= at_s)
			continue;
		if ((e = dir_rt_feed_find(feeds[i], node_id)) == NULL)
			continue;
		*n_bonded += e->bond >= bond_min;
		*n_disputed += e->disputed;
	}
}

uint16_t
dir_rt_flags(const struct dir_rt_feed *const *feeds, size_t n, const uint8_t node_id[DIR_RT_ID_LEN],
             uint64_t bond_min, size_t threshold, uint64_t at_s)
{
	size_t nb, nd;
	uint16_t f = 0;

	if (threshold < 1)
		threshold = 1;
	dir_rt_count(feeds, n, node_id, bond_min, at_s, &nb, &nd);
	if (nb >= threshold)
		f |= RELAY_FLAG_BONDED;
	if (nd >= threshold)
		f |= RELAY_FLAG_DISPUTED;
	return f;
}

size_t
dir_rt_default_threshold(size_t n_issuers)
{
	return n_issuers / 2 + 1;
}
