/* SPDX-License-Identifier: MIT */
/*
 * Path selection (path.h, docs/PATHS.md). The order of work in path_select():
 *
 *   for each entry to try (the caller's guards, or a bandwidth-weighted draw of GUARD relays):
 *     exits  = EXIT RUNNING VALID !BADEXIT !DISPUTED relays whose summary serves the request
 *     usable = exits compatible with the entry and not excluded by health
 *     pool   = usable restricted by the first locality step (in the fallback order) that
 *              keeps any; none, and strict or no "any" step: fail with the reason
 *     rank   = draw without replacement from pool (weighted, or uniform for the exploration
 *              share); skip an exit whose operator reached its cap, or (3 hops) for which no
 *              middle compatible with entry and exit exists; each kept exit gets a middle
 *              drawn by bandwidth
 *   the first entry that yields at least one path wins.
 *
 * Costs: O(relays) per step and O(relays) per ranked candidate, no allocation besides two
 * arrays of the consensus size. Nothing is logged: the caller logs the reason it gets back.
 */
#include "circuit/path.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "crypto/crypto.h"
#include "exit/exit_policy.h"

/* A literal destination's kind is passed to the exit module as its address family. */
_Static_assert((int)PATH_DEST_IPV4 == (int)EXIT_AF_IPV4 && (int)PATH_DEST_IPV6 == (int)EXIT_AF_IPV6,
               "path_dest values are exit_family values");

/* ---- randomness ---- */

uint64_t
path_rng_below(const struct path_rng *rng, uint64_t upper)
{
	uint64_t limit, v;

	if (upper <= 1)
		return 0;
	/* Reject the top partial copy of [0, upper) so every residue is equally likely. */
	limit = UINT64_MAX - (UINT64_MAX % upper);
	do {
		v = rng != NULL && rng->fn != NULL ? rng->fn(rng->arg) : rand_u64();
	} while (v >= limit);
	return v % upper;
}

/* ---- configuration ---- */

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

void
path_config_default(struct path_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->hops = 3;
	cfg->min_geo_confidence = PATH_GEO_CONFIDENCE_DEFAULT;
	cfg->n_order = 3;
	cfg->order[0] = PATH_LOC_COUNTRY;
	cfg->order[1] = PATH_LOC_REGION;
	cfg->order[2] = PATH_LOC_ANY;
	cfg->exit_operator_cap_pct = 50;
	cfg->exploration_pct = PATH_EXPLORATION_PCT_DEFAULT;
	cfg->n_candidates = PATH_CANDIDATES_DEFAULT;
	cfg->health_cooldown_s = PATH_HEALTH_COOLDOWN_S_DEFAULT;
}

static const char *const loc_names[] = { "none", "country", "region", "any" };

int
path_config_set_order(struct path_config *cfg, const char *text, char *why, size_t why_len)
{
	uint8_t order[PATH_ORDER_MAX];
	size_t n = 0, len = strlen(text);
	const char *p = text, *end = text + len;

	if (len > PATH_ORDER_TEXT_MAX) {
		set_why(why, why_len, "fallback order longer than %d bytes", PATH_ORDER_TEXT_MAX);
		return UM_ERR_INVALID;
	}
	while (p <= end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *ie = comma != NULL ? comma : end, *is = p;
		size_t k;
		uint8_t step = PATH_LOC_NONE;

		while (is < ie && (*is == ' ' || *is == '\t'))
			is++;
		while (ie > is && (ie[-1] == ' ' || ie[-1] == '\t'))
			ie--;
		k = (size_t)(ie - is);
		for (uint8_t s = PATH_LOC_COUNTRY; s <= PATH_LOC_ANY; s++)
			if (strlen(loc_names[s]) == k && memcmp(loc_names[s], is, k) == 0)
				step = s;
		if (step == PATH_LOC_NONE) {
			set_why(why, why_len,
			        "fallback order item \"%.*s\" is not country, region or any",
			        (int)UM_MIN(k, (size_t)PATH_ORDER_TEXT_MAX), is);
			return UM_ERR_INVALID;
		}
		for (size_t i = 0; i < n; i++)
			if (order[i] == step) {
				set_why(why, why_len, "fallback order names \"%s\" twice",
				        loc_names[step]);
				return UM_ERR_INVALID;
			}
		order[n++] = step; /* n < PATH_ORDER_MAX: three distinct names exist */
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	memcpy(cfg->order, order, n);
	cfg->n_order = (uint8_t)n;
	return UM_OK;
}

int
path_config_validate(const struct path_config *cfg, char *why, size_t why_len)
{
	if (cfg->hops != 2 && cfg->hops != 3) {
		set_why(why, why_len, "hops is %u, not 2 or 3", cfg->hops);
		return UM_ERR_INVALID;
	}
	if (cfg->n_countries > PATH_LOCALITY_MAX || cfg->n_regions > PATH_LOCALITY_MAX) {
		set_why(why, why_len, "more than %d countries or regions", PATH_LOCALITY_MAX);
		return UM_ERR_INVALID;
	}
	for (size_t i = 0; i < cfg->n_countries; i++)
		if (!relay_desc_country_is_valid(
		            cfg->countries[i],
		            strnlen(cfg->countries[i], sizeof(cfg->countries[i])))) {
			set_why(why, why_len, "country %zu is not two upper-case letters", i + 1);
			return UM_ERR_INVALID;
		}
	for (size_t i = 0; i < cfg->n_regions; i++) {
		size_t k = strnlen(cfg->regions[i], sizeof(cfg->regions[i]));

		if (k == 0 || k > RELAY_DESC_REGION_MAX ||
		    !relay_desc_region_is_valid(cfg->regions[i], k)) {
			set_why(why, why_len, "region %zu is not 1..%d of [a-z0-9-]", i + 1,
			        RELAY_DESC_REGION_MAX);
			return UM_ERR_INVALID;
		}
	}
	if (cfg->min_geo_confidence > RELAY_DESC_GEO_CONF_MAX) {
		set_why(why, why_len, "min geo_confidence %u is over 100", cfg->min_geo_confidence);
		return UM_ERR_INVALID;
	}
	if (cfg->n_order == 0 || cfg->n_order > PATH_ORDER_MAX) {
		set_why(why, why_len, "the fallback order needs 1..%d steps", PATH_ORDER_MAX);
		return UM_ERR_INVALID;
	}
	for (size_t i = 0; i < cfg->n_order; i++) {
		if (cfg->order[i] < PATH_LOC_COUNTRY || cfg->order[i] > PATH_LOC_ANY) {
			set_why(why, why_len, "fallback order step %zu is unknown", i + 1);
			return UM_ERR_INVALID;
		}
		for (size_t j = 0; j < i; j++)
			if (cfg->order[j] == cfg->order[i]) {
				set_why(why, why_len, "fallback order names \"%s\" twice",
				        loc_names[cfg->order[i]]);
				return UM_ERR_INVALID;
			}
	}
	if (cfg->exit_operator_cap_pct > 100 || cfg->exploration_pct > 100) {
		set_why(why, why_len, "a percentage is over 100");
		return UM_ERR_INVALID;
	}
	if (cfg->n_candidates == 0 || cfg->n_candidates > PATH_CANDIDATES_MAX) {
		set_why(why, why_len, "candidates is %u, not 1..%d", cfg->n_candidates,
		        PATH_CANDIDATES_MAX);
		return UM_ERR_INVALID;
	}
	return UM_OK;
}

/* ---- health ---- */

void
path_health_init(struct path_health *h)
{
	memset(h, 0, sizeof(*h));
}

/* Index of id in h, or where it would go (*found false). */
static size_t
health_find(const struct path_health *h, const uint8_t *id, bool *found)
{
	size_t lo = 0, hi = UM_MIN(h->n, (size_t)PATH_HEALTH_MAX);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(h->e[mid].id, id, RELAY_DESC_ID_LEN);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

void
path_health_note_failure(struct path_health *h, const uint8_t id[RELAY_DESC_ID_LEN], uint64_t now_s)
{
	bool found;
	size_t i = health_find(h, id, &found);

	if (!found) {
		if (h->n >= PATH_HEALTH_MAX) {
			size_t old = 0;

			for (size_t j = 1; j < h->n; j++)
				if (h->e[j].last_failure_s < h->e[old].last_failure_s)
					old = j;
			memmove(&h->e[old], &h->e[old + 1], (h->n - old - 1) * sizeof(h->e[0]));
			h->n--;
			i = health_find(h, id, &found);
		}
		memmove(&h->e[i + 1], &h->e[i], (h->n - i) * sizeof(h->e[0]));
		h->n++;
		memset(&h->e[i], 0, sizeof(h->e[i]));
		memcpy(h->e[i].id, id, RELAY_DESC_ID_LEN);
	}
	if (h->e[i].n_failures < UINT16_MAX)
		h->e[i].n_failures++;
	h->e[i].last_failure_s = now_s;
}

void
path_health_note_success(struct path_health *h, const uint8_t id[RELAY_DESC_ID_LEN])
{
	bool found;
	size_t i = health_find(h, id, &found);

	if (!found)
		return;
	memmove(&h->e[i], &h->e[i + 1], (h->n - i - 1) * sizeof(h->e[0]));
	h->n--;
}

unsigned
path_health_failures(const struct path_health *h, const uint8_t id[RELAY_DESC_ID_LEN],
                     uint64_t now_s, uint32_t cooldown_s)
{
	bool found;
	size_t i;

	if (h == NULL)
		return 0;
	i = health_find(h, id, &found);
	if (!found || now_s >= h->e[i].last_failure_s + cooldown_s)
		return 0;
	return h->e[i].n_failures;
}

/* ---- relays ---- */

const struct relay_entry *
path_hop(const struct consensus *c, const struct path *p, size_t i)
{
	if (i >= p->n_hops || p->idx[i] >= c->n_relays)
		return NULL;
	return &c->relays[p->idx[i]];
}

ssize_t
path_find_relay(const struct consensus *c, const uint8_t id[RELAY_DESC_ID_LEN])
{
	size_t lo = 0, hi = c->n_relays;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = memcmp(c->relays[mid].identity, id, RELAY_DESC_ID_LEN);

		if (r == 0)
			return (ssize_t)mid;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static bool
lists_family(const struct relay_entry *a, const uint8_t *id)
{
	size_t n = UM_MIN(a->n_family, (size_t)RELAY_DESC_MAX_FAMILY);

	/* Linear, not bsearch: 32 entries at most, and an unsorted list must not hide one. */
	for (size_t i = 0; i < n; i++)
		if (memcmp(a->family[i], id, RELAY_DESC_ID_LEN) == 0)
			return true;
	return false;
}

static bool
same_subnet(const struct relay_addr *x, const struct relay_addr *y)
{
	if (x->type != y->type)
		return false;
	if (x->type == RELAY_ADDR_IPV4)
		return memcmp(x->addr, y->addr, 2) == 0; /* /16 */
	if (x->type == RELAY_ADDR_IPV6)
		return memcmp(x->addr, y->addr, 4) == 0; /* /32 */
	return false;
}

bool
path_relays_compatible(const struct relay_entry *a, const struct relay_entry *b)
{
	size_t na = UM_MIN(a->n_addrs, (size_t)RELAY_DESC_MAX_ADDRS);
	size_t nb = UM_MIN(b->n_addrs, (size_t)RELAY_DESC_MAX_ADDRS);

	if (memcmp(a->identity, b->identity, RELAY_DESC_ID_LEN) == 0)
		return false;
	if (memcmp(a->operator_id, b->operator_id, RELAY_DESC_ID_LEN) == 0)
		return false;
	/* Family is mutual (Tor's path-spec): a relay cannot claim another into its family. */
	if (lists_family(a, b->identity) && lists_family(b, a->identity))
		return false;
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			if (same_subnet(&a->addrs[i], &b->addrs[j]))
				return false;
	return true;
}

static bool
has_flags(const struct relay_entry *e, uint16_t want)
{
	return (e->flags & want) == want;
}

static bool
is_exit(const struct relay_entry *e)
{
	return has_flags(e, RELAY_FLAG_EXIT | RELAY_FLAG_RUNNING | RELAY_FLAG_VALID) &&
	       !(e->flags & (RELAY_FLAG_BADEXIT | RELAY_FLAG_DISPUTED));
}

/* An entry candidate: GUARD RUNNING VALID and not DISPUTED. */
static bool
is_guard(const struct relay_entry *e)
{
	return has_flags(e, RELAY_FLAG_GUARD | RELAY_FLAG_RUNNING | RELAY_FLAG_VALID) &&
	       !(e->flags & RELAY_FLAG_DISPUTED);
}

bool
path_relay_is_exit(const struct relay_entry *e)
{
	return is_exit(e);
}

bool
path_exit_allows(const struct relay_entry *e, const struct path_request *req)
{
	switch (req->dest) {
	case PATH_DEST_NONE:
		return true;
	case PATH_DEST_HOSTNAME:
		return relay_policy_allows_port(&e->policy4, req->port) ||
		       relay_policy_allows_port(&e->policy6, req->port);
	case PATH_DEST_IPV4:
	case PATH_DEST_IPV6:
		if ((e->exit_flags & RELAY_EXIT_F_REJECT_PRIVATE) &&
		    exit_addr_is_private(req->dest, req->addr))
			return false;
		return relay_policy_allows_port(
		        req->dest == PATH_DEST_IPV4 ? &e->policy4 : &e->policy6, req->port);
	default:
		return false;
	}
}

/* ---- selection ---- */

/* Scratch space of one path_select() call. */
struct sel {
	const struct path_config *cfg;
	const struct consensus *c;
	const struct path_request *req;
	const struct path_health *health;
	uint64_t now_s;
	const struct path_rng *rng;
	/* Second pass (path_select): relays cooling down are allowed, still down-weighted. */
	bool health_soft;
	size_t n_health_excluded; /* relays health kept out of this pass (counted per check) */
	size_t *pool;             /* indices */
	uint64_t *weight;         /* per pool slot */
	size_t n_pool;
};

static unsigned
failures(const struct sel *s, const struct relay_entry *e)
{
	return path_health_failures(s->health, e->identity, s->now_s, s->cfg->health_cooldown_s);
}

static bool
health_excludes(struct sel *s, const struct relay_entry *e)
{
	if (failures(s, e) < PATH_HEALTH_EXCLUDE_FAILURES)
		return false;
	s->n_health_excluded++;
	return !s->health_soft;
}

/* Weight after health: halved per recent failure. */
static uint64_t
health_weight(const struct sel *s, const struct relay_entry *e, uint64_t w)
{
	unsigned f = failures(s, e);

	return f >= 63 ? 0 : w >> f;
}

/* Draw a slot of [0, n): uniform, or by weight (uniform when every weight is 0). */
static size_t
draw(const struct path_rng *rng, const uint64_t *weight, size_t n, bool uniform)
{
	uint64_t total = 0, r;

	if (!uniform)
		for (size_t i = 0; i < n; i++)
			total += weight[i]; /* <= 20000 * 2^32 * 10^4 < 2^64 */
	if (uniform || total == 0)
		return (size_t)path_rng_below(rng, n);
	r = path_rng_below(rng, total);
	for (size_t i = 0; i < n; i++) {
		if (r < weight[i])
			return i;
		r -= weight[i];
	}
	return n - 1; /* not reached */
}

/* Remove slot from the parallel arrays (order does not matter). */
static void
pool_remove(size_t *pool, uint64_t *weight, size_t *n, size_t slot)
{
	(*n)--;
	pool[slot] = pool[*n];
	weight[slot] = weight[*n];
}

/* Does exit e satisfy locality step `step`? */
static bool
locality_matches(const struct path_config *cfg, const struct relay_entry *e, uint8_t step)
{
	switch (step) {
	case PATH_LOC_COUNTRY:
		if (e->geo_confidence < cfg->min_geo_confidence)
			return false;
		for (size_t i = 0; i < cfg->n_countries; i++)
			if (strcmp(e->country, cfg->countries[i]) == 0)
				return true;
		return false;
	case PATH_LOC_REGION:
		if (e->geo_confidence < cfg->min_geo_confidence)
			return false;
		for (size_t i = 0; i < cfg->n_regions; i++)
			if (strcmp(e->region, cfg->regions[i]) == 0)
				return true;
		return false;
	case PATH_LOC_ANY:
		return true;
	default:
		return false;
	}
}

/*
 * Is the step usable: a preference list for it, "any" unless strict. Without any preference
 * the locality rules do not apply and every exit counts ("any"), strict or not.
 */
static bool
step_applies(const struct path_config *cfg, uint8_t step)
{
	bool prefs = cfg->n_countries > 0 || cfg->n_regions > 0;

	switch (step) {
	case PATH_LOC_COUNTRY:
		return cfg->n_countries > 0;
	case PATH_LOC_REGION:
		return cfg->n_regions > 0;
	case PATH_LOC_ANY:
		return !cfg->strict || !prefs;
	default:
		return false;
	}
}

/* "port 443", "port 443 over IPv6", "private destinations on port 80", "any port". */
static void
describe_request(const struct path_request *req, char *out, size_t len)
{
	if (req->dest == PATH_DEST_NONE)
		snprintf(out, len, "circuits");
	else if (req->dest != PATH_DEST_HOSTNAME && exit_addr_is_private(req->dest, req->addr))
		snprintf(out, len, "port %u to a private address%s", req->port,
		         req->dest == PATH_DEST_IPV6 ? " over IPv6" : "");
	else
		snprintf(out, len, "port %u%s", req->port,
		         req->dest == PATH_DEST_IPV6 ? " over IPv6" : "");
}

/* "country DE or FR or region eu-central", from the steps that apply. */
static void
describe_locality(const struct path_config *cfg, char *out, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t k = 0; k < cfg->n_order; k++) {
		uint8_t step = cfg->order[k];
		size_t n = step == PATH_LOC_COUNTRY  ? cfg->n_countries
		           : step == PATH_LOC_REGION ? cfg->n_regions
		                                     : 0;

		for (size_t i = 0; i < n && o < len; i++) {
			int w = snprintf(
			        out + o, len - o, "%s%s%s", o > 0 ? " or " : "",
			        i == 0 ? (step == PATH_LOC_COUNTRY ? "country " : "region ") : "",
			        step == PATH_LOC_COUNTRY ? cfg->countries[i] : cfg->regions[i]);
			if (w < 0)
				return;
			o += (size_t)w;
		}
	}
}

/* Cap of one operator among n ranked exits. */
static size_t
operator_cap(const struct path_config *cfg)
{
	size_t cap = cfg->n_candidates;

	if (cfg->exit_operator_cap > 0)
		cap = UM_MIN(cap, (size_t)cfg->exit_operator_cap);
	if (cfg->exit_operator_cap_pct > 0)
		cap = UM_MIN(cap, UM_MAX((size_t)1, (size_t)cfg->n_candidates *
		                                            cfg->exit_operator_cap_pct / 100));
	return cap;
}

/* Draw a middle compatible with entry and exit, by bandwidth; false if there is none. */
static bool
pick_middle(struct sel *s, size_t entry, size_t exit, size_t *out)
{
	const struct consensus *c = s->c;
	const uint16_t want = RELAY_FLAG_MIDDLE | RELAY_FLAG_RUNNING | RELAY_FLAG_VALID;

	s->n_pool = 0;
	for (size_t i = 0; i < c->n_relays; i++) {
		const struct relay_entry *e = &c->relays[i];

		if (!has_flags(e, want) || health_excludes(s, e) ||
		    !path_relays_compatible(e, &c->relays[entry]) ||
		    !path_relays_compatible(e, &c->relays[exit]))
			continue;
		s->pool[s->n_pool] = i;
		s->weight[s->n_pool] = health_weight(s, e, e->measured_bw);
		s->n_pool++;
	}
	if (s->n_pool == 0)
		return false;
	*out = s->pool[draw(s->rng, s->weight, s->n_pool, false)];
	return true;
}

/*
 * Rank exits for one entry into out. UM_ERR_NOT_FOUND with why when none. The exit pool uses
 * exits[] (indices of the locality-filtered exits) and its own weight array.
 */
static int
plan_for_entry(struct sel *s, size_t entry, struct path_plan *out, char *why, size_t why_len)
{
	const struct path_config *cfg = s->cfg;
	const struct consensus *c = s->c;
	const struct relay_entry *ent = &c->relays[entry];
	size_t n_exits = 0, n_port = 0, n_usable = 0, n_loc_any = 0, cap = operator_cap(cfg);
	size_t *exits = um_xcalloc(c->n_relays + 1, sizeof(*exits));
	uint64_t *ew = um_xcalloc(c->n_relays + 1, sizeof(*ew));
	static const uint8_t any_only[1] = { PATH_LOC_ANY };
	const uint8_t *order = cfg->order;
	size_t n_order = cfg->n_order;
	uint8_t step_used = PATH_LOC_NONE;
	char req_txt[64], loc_txt[PATH_WHY_LEN];
	bool no_middle = false, bonded_only = false;
	int ret = UM_ERR_NOT_FOUND;

	describe_request(s->req, req_txt, sizeof(req_txt));
	/* prefer_bonded: BONDED exits only, as long as one of them serves the request. */
	if (cfg->prefer_bonded) {
		for (size_t i = 0; i < c->n_relays && !bonded_only; i++)
			bonded_only = is_exit(&c->relays[i]) &&
			              (c->relays[i].flags & RELAY_FLAG_BONDED) &&
			              path_exit_allows(&c->relays[i], s->req);
	}
	for (size_t i = 0; i < c->n_relays; i++) {
		const struct relay_entry *e = &c->relays[i];

		if (!is_exit(e) || (bonded_only && !(e->flags & RELAY_FLAG_BONDED)))
			continue;
		n_exits++;
		if (!path_exit_allows(e, s->req))
			continue;
		n_port++;
		if (!path_relays_compatible(e, ent) || health_excludes(s, e))
			continue;
		n_usable++;
	}
	if (n_exits == 0) {
		set_why(why, why_len, "no running exit in the consensus");
		goto out;
	}
	if (n_port == 0) {
		set_why(why, why_len, "no exit allows %s", req_txt);
		goto out;
	}
	if (n_usable == 0) {
		set_why(why, why_len,
		        "every exit that allows %s conflicts with the entry (family, operator or "
		        "subnet) or is cooling down after failures",
		        req_txt);
		goto out;
	}
	/* The first step of the fallback order that keeps some exit. */
	if (cfg->n_countries == 0 && cfg->n_regions == 0) {
		order = any_only;
		n_order = 1;
	}
	for (size_t k = 0; k < n_order && step_used == PATH_LOC_NONE; k++) {
		uint8_t step = order[k];

		if (!step_applies(cfg, step))
			continue;
		n_exits = 0;
		for (size_t i = 0; i < c->n_relays; i++) {
			const struct relay_entry *e = &c->relays[i];

			if (!is_exit(e) || (bonded_only && !(e->flags & RELAY_FLAG_BONDED)) ||
			    !path_exit_allows(e, s->req) || !locality_matches(cfg, e, step))
				continue;
			n_loc_any++;
			if (!path_relays_compatible(e, ent) || health_excludes(s, e))
				continue;
			exits[n_exits] = i;
			/* Clamped so the sum over CONS_MAX_RELAYS stays below 2^64. */
			ew[n_exits] = health_weight(s, e,
			                            (uint64_t)e->measured_bw *
			                                    UM_MIN(e->scores.reputation,
			                                           (uint16_t)RELAY_DESC_SCORE_MAX));
			n_exits++;
		}
		if (n_exits > 0)
			step_used = step;
	}
	if (step_used == PATH_LOC_NONE) {
		describe_locality(cfg, loc_txt, sizeof(loc_txt));
		set_why(why, why_len, "no exit in %s with geo_confidence >= %u allows %s%s%s",
		        loc_txt, cfg->min_geo_confidence, req_txt,
		        n_loc_any > 0 ? " without conflicting with the entry or cooling down" : "",
		        cfg->strict ? " (strict)" : "");
		goto out;
	}

	/* Rank: draw without replacement. */
	memset(out, 0, sizeof(*out));
	out->locality = step_used;
	while (out->n < cfg->n_candidates && n_exits > 0) {
		bool explored = path_rng_below(s->rng, 100) < cfg->exploration_pct;
		size_t slot = draw(s->rng, ew, n_exits, explored), ex = exits[slot];
		size_t mid = 0, same_op = 0;
		struct path *p;

		pool_remove(exits, ew, &n_exits, slot);
		for (size_t j = 0; j < out->n; j++)
			same_op +=
			        memcmp(c->relays[out->p[j].idx[out->p[j].n_hops - 1]].operator_id,
			               c->relays[ex].operator_id, RELAY_DESC_ID_LEN) == 0;
		if (same_op >= cap)
			continue;
		if (cfg->hops == 3 && !pick_middle(s, entry, ex, &mid)) {
			no_middle = true;
			continue;
		}
		p = &out->p[out->n++];
		p->n_hops = cfg->hops;
		p->idx[0] = entry;
		if (cfg->hops == 3) {
			p->idx[1] = mid;
			p->idx[2] = ex;
		} else {
			p->idx[1] = ex;
		}
		p->explored = explored;
	}
	if (out->n == 0) {
		set_why(why, why_len,
		        no_middle ? "no middle relay is compatible with the entry and any exit "
		                    "that allows %s"
		                  : "no exit that allows %s is usable",
		        req_txt);
		goto out;
	}
	ret = UM_OK;
out:
	free(exits);
	free(ew);
	return ret;
}

static int
check_request(const struct path_request *req, char *why, size_t why_len)
{
	switch (req->dest) {
	case PATH_DEST_NONE:
		return UM_OK;
	case PATH_DEST_HOSTNAME:
	case PATH_DEST_IPV4:
	case PATH_DEST_IPV6:
		if (req->port == 0) {
			set_why(why, why_len, "request port is 0");
			return UM_ERR_INVALID;
		}
		return UM_OK;
	default:
		set_why(why, why_len, "request destination type %u is unknown", req->dest);
		return UM_ERR_INVALID;
	}
}

/* One selection pass over s (path_select() sets it up): entries, then a plan for the first
 * entry that has one. */
static int
select_pass(struct sel *s, const struct path_guards *guards, struct path_plan *out, char *why,
            size_t why_len)
{
	const struct consensus *c = s->c;
	size_t entries[PATH_GUARDS_MAX], n_entries = 0;
	char first_why[PATH_WHY_LEN] = "";

	s->n_health_excluded = 0;
	if (guards != NULL && guards->n > 0) {
		for (size_t i = 0; i < UM_MIN(guards->n, (size_t)PATH_GUARDS_MAX); i++) {
			ssize_t k = path_find_relay(c, guards->ids[i]);

			if (k >= 0 && is_guard(&c->relays[k]) && !health_excludes(s, &c->relays[k]))
				entries[n_entries++] = (size_t)k;
		}
		if (n_entries == 0) {
			set_why(why, why_len,
			        "none of the %zu entry guards is listed with the Guard flag and "
			        "healthy",
			        guards->n);
			return UM_ERR_NOT_FOUND;
		}
	} else {
		/* No guard set: draw a few entries by bandwidth, without replacement. */
		s->n_pool = 0;
		for (size_t i = 0; i < c->n_relays; i++) {
			const struct relay_entry *e = &c->relays[i];

			if (!is_guard(e) || health_excludes(s, e))
				continue;
			s->pool[s->n_pool] = i;
			s->weight[s->n_pool] = health_weight(s, e, e->measured_bw);
			s->n_pool++;
		}
		while (n_entries < PATH_GUARDS_MAX && s->n_pool > 0) {
			size_t slot = draw(s->rng, s->weight, s->n_pool, false);

			entries[n_entries++] = s->pool[slot];
			pool_remove(s->pool, s->weight, &s->n_pool, slot);
		}
		if (n_entries == 0) {
			set_why(why, why_len, "no healthy relay with the Guard flag");
			return UM_ERR_NOT_FOUND;
		}
	}
	for (size_t i = 0; i < n_entries; i++) {
		char w[PATH_WHY_LEN];

		if (plan_for_entry(s, entries[i], out, w, sizeof(w)) == UM_OK)
			return UM_OK;
		if (i == 0)
			memcpy(first_why, w, sizeof(w));
	}
	/* The first entry's reason: that is the guard the client would have used. */
	set_why(why, why_len, "%s", first_why);
	return UM_ERR_NOT_FOUND;
}

int
path_select(const struct path_config *cfg, const struct consensus *c,
            const struct path_guards *guards, const struct path_request *req,
            const struct path_health *health, uint64_t now_s, const struct path_rng *rng,
            struct path_plan *out, char *why, size_t why_len)
{
	struct sel s = { 0 };
	int ret;

	set_why(why, why_len, "%s", "");
	if ((ret = path_config_validate(cfg, why, why_len)) != UM_OK ||
	    (ret = check_request(req, why, why_len)) != UM_OK)
		return ret;
	if (c == NULL || c->n_relays == 0 || c->relays == NULL) {
		set_why(why, why_len, "no consensus, or it lists no relay");
		return UM_ERR_NOT_FOUND;
	}
	s.cfg = cfg;
	s.c = c;
	s.req = req;
	s.health = health;
	s.now_s = now_s;
	s.rng = rng;
	s.pool = um_xcalloc(c->n_relays, sizeof(*s.pool));
	s.weight = um_xcalloc(c->n_relays, sizeof(*s.weight));
	ret = select_pass(&s, guards, out, why, why_len);
	/*
	 * Health steers away from failing relays; it must not leave the client without any
	 * path for the whole cool-down. When excluding the relays cooling down is what left no
	 * path (a small network: the only middle failed three times because of a transient
	 * fault elsewhere), select again with them allowed, still weighted down per failure
	 * (docs/PATHS.md 1.6). The caller's build backoff paces the retries.
	 */
	if (ret == UM_ERR_NOT_FOUND && s.n_health_excluded > 0) {
		s.health_soft = true;
		ret = select_pass(&s, guards, out, why, why_len);
	}
	free(s.pool);
	free(s.weight);
	return ret;
}
