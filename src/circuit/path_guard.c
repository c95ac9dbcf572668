/* SPDX-License-Identifier: MIT */
/*
 * The persistent entry-guard set (path_guard.h): lifecycle in memory, one table in the store.
 * The whole set (at most GUARD_SAMPLED_MAX rows) is rewritten in one transaction whenever a
 * persisted field changes, which happens on a consensus update or a first confirmation, so a
 * handful of times an hour.
 */
#include "circuit/path_guard.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"

static const char schema_v1[] =
        "CREATE TABLE path_guard (pos INTEGER PRIMARY KEY NOT NULL,"
        " identity BLOB NOT NULL UNIQUE, added_s INTEGER NOT NULL, expires_s INTEGER NOT NULL,"
        " unlisted_since_s INTEGER NOT NULL, confirmed_s INTEGER NOT NULL);";

static const struct store_migration migs[] = { { 1, schema_v1, NULL } };
const struct store_schema guard_schema = { "path_guard", migs, UM_ARRAY_LEN(migs) };

/* Times past this are not plausible (year 2554): a damaged row, not a date. */
#define GUARD_TIME_MAX ((uint64_t)1 << 34)

struct guard_set {
	struct store *st; /* borrowed; NULL: memory only */
	unsigned n_primary;
	size_t n;
	struct guard_info g[GUARD_SAMPLED_MAX];
	size_t n_bad_rows;
};

static void set_why(char *why, size_t why_len, const char *fmt, ...) UM_PRINTF(3, 4);

static void
set_why(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || why_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

/* ---- the store ---- */

static bool
int_ok(struct store_stmt *s, int col, uint64_t *out)
{
	int64_t v;

	if (store_stmt_column_int64(s, col, &v) != UM_OK || v < 0 || (uint64_t)v > GUARD_TIME_MAX)
		return false;
	*out = (uint64_t)v;
	return true;
}

/*
 * Validate one row into *g. A row is taken only if every field is of its type and range and
 * the times are consistent: added < expires <= added + lifetime max, unlisted_since and
 * confirmed 0 or not before added. Anything else is damage (or a hand edit) and is dropped.
 */
static bool
guard_row_read(struct store_stmt *s, struct guard_info *g)
{
	const uint8_t *id;
	size_t len;

	memset(g, 0, sizeof(*g));
	if (store_stmt_column_blob(s, 1, &id, &len) != UM_OK || len != RELAY_DESC_ID_LEN)
		return false;
	memcpy(g->id, id, RELAY_DESC_ID_LEN);
	if (!int_ok(s, 2, &g->added_s) || !int_ok(s, 3, &g->expires_s) ||
	    !int_ok(s, 4, &g->unlisted_since_s) || !int_ok(s, 5, &g->confirmed_s))
		return false;
	if (g->added_s == 0 || g->expires_s <= g->added_s ||
	    g->expires_s - g->added_s > GUARD_LIFETIME_MAX_S)
		return false;
	if (g->unlisted_since_s != 0 && g->unlisted_since_s < g->added_s)
		return false;
	if (g->confirmed_s != 0 && g->confirmed_s < g->added_s)
		return false;
	return true;
}

static int
guard_load(struct guard_set *gs)
{
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = store_stmt_prepare(gs->st,
	                              "SELECT pos, identity, added_s, expires_s, unlisted_since_s,"
	                              " confirmed_s FROM path_guard ORDER BY pos",
	                              &s)) != UM_OK)
		return ret;
	while ((ret = store_stmt_step(s)) == STORE_ROW) {
		struct guard_info g;
		bool dup = false;

		if (gs->n >= GUARD_SAMPLED_MAX || !guard_row_read(s, &g)) {
			gs->n_bad_rows++;
			continue;
		}
		for (size_t i = 0; i < gs->n && !dup; i++)
			dup = memcmp(gs->g[i].id, g.id, RELAY_DESC_ID_LEN) == 0;
		if (dup) {
			gs->n_bad_rows++;
			continue;
		}
		gs->g[gs->n++] = g;
	}
	store_stmt_free(s);
	if (ret < 0)
		return ret;
	if (gs->n_bad_rows > 0)
		log_warn(LD_CIRC, "guard set: dropped %zu damaged row(s), kept %zu guard(s)",
		         gs->n_bad_rows, gs->n);
	return UM_OK;
}

static int
save_tx(struct store *st, void *arg)
{
	const struct guard_set *gs = arg;
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = store_exec(st, "DELETE FROM path_guard")) != UM_OK)
		return ret;
	if ((ret = store_stmt_prepare(st,
	                              "INSERT INTO path_guard (pos, identity, added_s, expires_s,"
	                              " unlisted_since_s, confirmed_s) VALUES (?, ?, ?, ?, ?, ?)",
	                              &s)) != UM_OK)
		return ret;
	for (size_t i = 0; i < gs->n; i++) {
		const struct guard_info *g = &gs->g[i];

		store_stmt_reset(s);
		if ((ret = store_stmt_bind_int64(s, 1, (int64_t)i)) != UM_OK ||
		    (ret = store_stmt_bind_blob(s, 2, g->id, RELAY_DESC_ID_LEN)) != UM_OK ||
		    (ret = store_stmt_bind_int64(s, 3, (int64_t)g->added_s)) != UM_OK ||
		    (ret = store_stmt_bind_int64(s, 4, (int64_t)g->expires_s)) != UM_OK ||
		    (ret = store_stmt_bind_int64(s, 5, (int64_t)g->unlisted_since_s)) != UM_OK ||
		    (ret = store_stmt_bind_int64(s, 6, (int64_t)g->confirmed_s)) != UM_OK ||
		    (ret = store_stmt_step(s)) < 0)
			break;
		ret = UM_OK;
	}
	store_stmt_free(s);
	return ret;
}

static int
guard_save(struct guard_set *gs)
{
	int ret;

	if (gs->st == NULL)
		return UM_OK;
	if ((ret = store_tx(gs->st, save_tx, gs)) != UM_OK)
		log_warn(LD_CIRC, "guard set: cannot save: %s (%s)", um_err_str(ret),
		         store_errmsg(gs->st));
	return ret;
}

int
guard_set_open(struct store *st, unsigned n_primary, struct guard_set **out)
{
	struct guard_set *gs;
	int ret;

	*out = NULL;
	if (n_primary == 0 || n_primary > GUARD_PRIMARY_MAX)
		return UM_ERR_INVALID;
	if (st != NULL && (ret = store_migrate(st, &guard_schema)) != UM_OK)
		return ret;
	gs = um_xcalloc(1, sizeof(*gs));
	gs->st = st;
	gs->n_primary = n_primary;
	if (st != NULL && (ret = guard_load(gs)) != UM_OK) {
		free(gs);
		return ret;
	}
	*out = gs;
	return UM_OK;
}

void
guard_set_free_(struct guard_set *gs)
{
	free(gs);
}

size_t
guard_set_n(const struct guard_set *gs)
{
	return gs->n;
}

const struct guard_info *
guard_set_get(const struct guard_set *gs, size_t i)
{
	return i < gs->n ? &gs->g[i] : NULL;
}

size_t
guard_set_n_bad_rows(const struct guard_set *gs)
{
	return gs->n_bad_rows;
}

/* ---- lifecycle ---- */

static bool
guard_flags_ok(const struct relay_entry *e)
{
	const uint16_t want = RELAY_FLAG_GUARD | RELAY_FLAG_RUNNING | RELAY_FLAG_VALID;

	/* A relay an issuer quorum disputes is no entry (PROTOCOL.md 19): like a lost flag. */
	return (e->flags & want) == want && !(e->flags & RELAY_FLAG_DISPUTED);
}

static ssize_t
find_guard(const struct guard_set *gs, const uint8_t *id)
{
	for (size_t i = 0; i < gs->n; i++)
		if (memcmp(gs->g[i].id, id, RELAY_DESC_ID_LEN) == 0)
			return (ssize_t)i;
	return -1;
}

static size_t
n_usable(const struct guard_set *gs)
{
	size_t n = 0;

	for (size_t i = 0; i < gs->n; i++)
		n += gs->g[i].usable;
	return n;
}

/* Draw one new guard by bandwidth among the listed GUARD relays not in the set. */
static bool
sample_one(struct guard_set *gs, const struct consensus *c, uint64_t now_s,
           const struct path_rng *rng)
{
	uint64_t total = 0, r;
	size_t n_cand = 0, pick = SIZE_MAX;
	struct guard_info *g;

	for (size_t i = 0; i < c->n_relays; i++)
		if (guard_flags_ok(&c->relays[i]) && find_guard(gs, c->relays[i].identity) < 0) {
			total += c->relays[i].measured_bw;
			n_cand++;
		}
	if (n_cand == 0)
		return false;
	/* All weights 0: uniform among the candidates. */
	r = path_rng_below(rng, total > 0 ? total : n_cand);
	for (size_t i = 0; i < c->n_relays && pick == SIZE_MAX; i++) {
		uint64_t w;

		if (!guard_flags_ok(&c->relays[i]) || find_guard(gs, c->relays[i].identity) >= 0)
			continue;
		w = total > 0 ? c->relays[i].measured_bw : 1;
		if (r < w)
			pick = i;
		else
			r -= w;
	}
	if (pick == SIZE_MAX)
		return false; /* not reached */
	g = &gs->g[gs->n++];
	memset(g, 0, sizeof(*g));
	memcpy(g->id, c->relays[pick].identity, RELAY_DESC_ID_LEN);
	g->added_s = now_s;
	/* Randomized so a guard's age does not reveal when a client started. */
	g->expires_s = now_s + GUARD_LIFETIME_MIN_S +
	               path_rng_below(rng, GUARD_LIFETIME_MAX_S - GUARD_LIFETIME_MIN_S + 1);
	g->usable = true;
	return true;
}

int
guard_set_update(struct guard_set *gs, const struct consensus *c, uint64_t now_s,
                 const struct path_rng *rng)
{
	bool changed = false;
	size_t k = 0;

	if (now_s == 0 || now_s > GUARD_TIME_MAX)
		return UM_ERR_INVALID;
	/* Listed / usable, and removal (order kept). */
	for (size_t i = 0; i < gs->n; i++) {
		struct guard_info *g = &gs->g[i];
		ssize_t at = path_find_relay(c, g->id);

		if (at >= 0) {
			changed |= g->unlisted_since_s != 0;
			g->unlisted_since_s = 0;
			g->usable = guard_flags_ok(&c->relays[at]);
		} else {
			if (g->unlisted_since_s == 0) {
				g->unlisted_since_s = UM_MAX(now_s, g->added_s);
				changed = true;
			}
			g->usable = false;
		}
		if (now_s >= g->expires_s ||
		    (g->unlisted_since_s != 0 &&
		     now_s - UM_MIN(now_s, g->unlisted_since_s) >= GUARD_REMOVE_UNLISTED_S)) {
			changed = true;
			continue;
		}
		gs->g[k++] = *g;
	}
	gs->n = k;
	/* Top up, only to replace guards that are not usable (never for unreachable ones). */
	while (n_usable(gs) < gs->n_primary + GUARD_SPARE && gs->n < GUARD_SAMPLED_MAX &&
	       sample_one(gs, c, now_s, rng))
		changed = true;
	return changed ? guard_save(gs) : UM_OK;
}

static bool
waiting(const struct guard_info *g, uint64_t now_s)
{
	return g->retry_s > now_s;
}

void
guard_set_primary(const struct guard_set *gs, uint64_t now_s, struct path_guards *out)
{
	size_t n_prim = 0;

	out->n = 0;
	for (size_t i = 0; i < gs->n && n_prim < gs->n_primary; i++) {
		if (!gs->g[i].usable)
			continue;
		n_prim++;
		if (!waiting(&gs->g[i], now_s))
			memcpy(out->ids[out->n++], gs->g[i].id, RELAY_DESC_ID_LEN);
	}
	if (out->n > 0)
		return;
	/* Every primary is waiting: the other usable guards, in order (guard-spec 4.6). */
	n_prim = 0;
	for (size_t i = 0; i < gs->n && out->n < PATH_GUARDS_MAX; i++) {
		if (!gs->g[i].usable || n_prim++ < gs->n_primary)
			continue;
		if (!waiting(&gs->g[i], now_s))
			memcpy(out->ids[out->n++], gs->g[i].id, RELAY_DESC_ID_LEN);
	}
}

int
guard_pick(const struct guard_set *gs, uint64_t now_s, uint8_t id[RELAY_DESC_ID_LEN], char *why,
           size_t why_len)
{
	struct path_guards pg;
	uint64_t next = UINT64_MAX;
	size_t nu = n_usable(gs);

	guard_set_primary(gs, now_s, &pg);
	if (pg.n > 0) {
		memcpy(id, pg.ids[0], RELAY_DESC_ID_LEN);
		return UM_OK;
	}
	if (nu == 0) {
		set_why(why, why_len,
		        gs->n == 0 ? "no guard: the consensus lists no relay with the Guard flag"
		                   : "none of the %zu sampled guards is listed with the Guard flag",
		        gs->n);
		return UM_ERR_NOT_FOUND;
	}
	for (size_t i = 0; i < gs->n; i++)
		if (gs->g[i].usable)
			next = UM_MIN(next, gs->g[i].retry_s);
	set_why(why, why_len, "all %zu usable guards are unreachable; next retry in %llu s", nu,
	        (unsigned long long)(next - now_s));
	return UM_ERR_NOT_FOUND;
}

int
guard_note_failure(struct guard_set *gs, const uint8_t id[RELAY_DESC_ID_LEN], uint64_t now_s)
{
	ssize_t i = find_guard(gs, id);
	struct guard_info *g;
	uint64_t delay = GUARD_RETRY_BASE_S;

	if (i < 0)
		return UM_ERR_NOT_FOUND;
	g = &gs->g[i];
	if (g->n_failures < UINT32_MAX)
		g->n_failures++;
	for (uint32_t k = 1; k < g->n_failures && delay < GUARD_RETRY_MAX_S; k++)
		delay *= 2;
	g->retry_s = now_s + UM_MIN(delay, (uint64_t)GUARD_RETRY_MAX_S);
	return UM_OK;
}

int
guard_note_success(struct guard_set *gs, const uint8_t id[RELAY_DESC_ID_LEN], uint64_t now_s)
{
	ssize_t i = find_guard(gs, id);
	struct guard_info *g;
	size_t n_prim = 0;

	if (i < 0)
		return UM_ERR_NOT_FOUND;
	g = &gs->g[i];
	g->n_failures = 0;
	g->retry_s = 0;
	/* A non-primary guard worked: the network is back, so try the primaries again first. */
	for (ssize_t j = 0; j < i && n_prim < gs->n_primary; j++)
		if (gs->g[j].usable) {
			n_prim++;
			gs->g[j].retry_s = 0;
		}
	if (g->confirmed_s == 0) {
		g->confirmed_s = UM_MAX(now_s, g->added_s);
		return guard_save(gs);
	}
	return UM_OK;
}
