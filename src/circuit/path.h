/* SPDX-License-Identifier: MIT */
/*
 * Path selection from the consensus, sans-I/O (docs/PATHS.md): which relays a client's next
 * circuit goes through. A path is entry (a guard) -> middle -> exit, or entry -> exit in the
 * two-hop fast mode. One call returns up to n_candidates ranked paths that share the entry, so
 * the circuit core can try the next one when a build fails, without asking again.
 *
 *   exits   : EXIT RUNNING VALID, not BADEXIT, not DISPUTED (path_relay_is_exit()); with
 *             prefer_bonded, only BONDED ones when any BONDED exit allows the request; the port
 * summary allows the request (path_exit_allows()); a literal private destination needs an exit
 * without the reject-private flag; locality by the fallback order (country, region, any); weight
 * measured_bw x reputation, or uniform for exploration_pct percent of the draws; per-operator cap
 * among the ranked candidates. middles : MIDDLE RUNNING VALID; weight measured_bw. entries : the
 * caller's guard list in order (path_guard.h), else GUARD RUNNING VALID weighted by measured_bw;
 * never DISPUTED. the path: distinct relays, no two in one (mutual) family, no two with one
 * operator, no two IPv4 addresses in one /16, no two IPv6 addresses in one /32. health  : a
 * caller-kept table of recent failures per relay: each failure halves a relay's weight for the
 * cool-down, PATH_HEALTH_EXCLUDE_FAILURES or more exclude it, unless excluding leaves no path (then
 * they are allowed, still down-weighted).
 *
 * Nothing here does I/O, keeps a pointer past a call, or logs. Randomness comes from a
 * struct path_rng (the CSPRNG unless a test passes its own generator).
 */
#ifndef UM_CIRCUIT_PATH_H
#define UM_CIRCUIT_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/compiler.h"
#include "directory/consensus.h"
#include "directory/descriptor.h"

enum path_limits {
	PATH_HOPS_MAX = 3,
	PATH_LOCALITY_MAX = 8,       /* countries, and regions, in a preference list */
	PATH_ORDER_MAX = 3,          /* steps in the locality fallback order */
	PATH_ORDER_TEXT_MAX = 64,    /* bytes of "country,region,any" text */
	PATH_CANDIDATES_MAX = 16,    /* ranked paths one call returns at most */
	PATH_CANDIDATES_DEFAULT = 4, /* the first, and three to retry with */
	PATH_GUARDS_MAX = 8,         /* entry identities tried in order */
	PATH_WHY_LEN = 256,          /* a buffer this large holds every reason */
	PATH_HEALTH_MAX = 256,       /* relays with recent failures remembered */
	PATH_HEALTH_EXCLUDE_FAILURES = 3,
	PATH_HEALTH_COOLDOWN_S_DEFAULT = 600,
	PATH_EXPLORATION_PCT_DEFAULT = 10,
	PATH_GEO_CONFIDENCE_DEFAULT = 50,
};

/* Steps of the locality fallback order. */
enum path_locality {
	PATH_LOC_NONE = 0, /* (a plan's locality when no preference applied) */
	PATH_LOC_COUNTRY = 1,
	PATH_LOC_REGION = 2,
	PATH_LOC_ANY = 3,
};

/* ---- randomness ---- */

/* A uniform 64-bit value from the generator at arg. */
typedef uint64_t path_rng_fn(void *arg);
struct path_rng {
	path_rng_fn *fn; /* NULL: the system CSPRNG (crypto/crypto.h) */
	void *arg;
};

/* A uniform value in [0, upper) (upper > 0; 0 gives 0), without modulo bias. rng may be NULL. */
uint64_t path_rng_below(const struct path_rng *rng, uint64_t upper);

/* ---- configuration ---- */

struct path_config {
	uint8_t hops; /* 3, or 2 for the fast mode (entry -> exit) */
	/* Exit locality: preference lists (empty: that step is skipped), the confidence a
	 * relay's location needs to count, the order of the steps, and strict: never fall back
	 * to "any" (a request no preferred exit can serve fails with a reason). */
	uint8_t n_countries;
	char countries[PATH_LOCALITY_MAX][RELAY_DESC_COUNTRY_LEN + 1]; /* "DE" */
	uint8_t n_regions;
	char regions[PATH_LOCALITY_MAX][RELAY_DESC_REGION_MAX + 1]; /* "eu-central" */
	uint8_t min_geo_confidence;                                 /* percent, 0..100 */
	uint8_t n_order;
	uint8_t order[PATH_ORDER_MAX]; /* enum path_locality, distinct, not NONE */
	bool strict;
	/* Per-operator cap among the ranked exits: at most this many (0: no count cap) and at
	 * most this percentage of n_candidates, rounded down but at least 1 (0: no share cap). */
	uint8_t exit_operator_cap;
	uint8_t exit_operator_cap_pct;
	uint8_t exploration_pct; /* 0..100: share of exit draws uniform among the eligible */
	uint8_t n_candidates;    /* 1..PATH_CANDIDATES_MAX ranked paths per call */
	bool prefer_bonded;      /* exits among BONDED ones only, when any serves the request */
	uint32_t health_cooldown_s;
};

/* The defaults: 3 hops, no locality preference, order country,region,any, not strict,
 * geo_confidence 50, no operator cap count, 50 % share cap, exploration 10 %, 4 candidates,
 * 600 s cool-down. */
void path_config_default(struct path_config *cfg);
/*
 * Parse a fallback order ("country,region,any": comma-separated, blanks around items ignored,
 * each step at most once, 1..PATH_ORDER_MAX steps) into cfg->order. UM_ERR_INVALID with why
 * naming the bad item; cfg untouched then.
 */
int path_config_set_order(struct path_config *cfg, const char *text, char *why,
                          size_t why_len) UM_WARN_UNUSED;
/* Check every field's range and the lists' syntax: UM_OK, or UM_ERR_INVALID with why. */
int path_config_validate(const struct path_config *cfg, char *why, size_t why_len) UM_WARN_UNUSED;

/* ---- requests ---- */

enum path_dest {
	PATH_DEST_NONE = 0,     /* no destination (a RESOLVE; the pool when no exit serves its
	                         * predicted port): any exit */
	PATH_DEST_HOSTNAME = 1, /* a name the exit resolves: the port for either family */
	PATH_DEST_IPV4 = 4,
	PATH_DEST_IPV6 = 6,
};

struct path_request {
	uint8_t dest;     /* enum path_dest */
	uint16_t port;    /* 1..65535; 0 only with PATH_DEST_NONE */
	uint8_t addr[16]; /* PATH_DEST_IPV4 (first 4 bytes) / IPV6: the literal destination */
};

/* ---- health ---- */

struct path_health_entry {
	uint8_t id[RELAY_DESC_ID_LEN];
	uint16_t n_failures; /* consecutive failures, saturating */
	uint64_t last_failure_s;
};

/* Recent failures (build timeouts, destroyed circuits) by relay; kept by the caller, no
 * allocation. Entries are ascending by id. */
struct path_health {
	size_t n;
	struct path_health_entry e[PATH_HEALTH_MAX];
};

void path_health_init(struct path_health *h);
/* Count a failure of relay id at now_s; when the table is full the entry with the oldest
 * failure is forgotten first. */
void path_health_note_failure(struct path_health *h, const uint8_t id[RELAY_DESC_ID_LEN],
                              uint64_t now_s);
/* A success: forget the relay's failures. */
void path_health_note_success(struct path_health *h, const uint8_t id[RELAY_DESC_ID_LEN]);
/* The failures that count at now_s (0 once cooldown_s passed since the last one). */
unsigned path_health_failures(const struct path_health *h, const uint8_t id[RELAY_DESC_ID_LEN],
                              uint64_t now_s, uint32_t cooldown_s);

/* ---- selection ---- */

/* Entry identities to try, in order (guard_set_primary() fills it). */
struct path_guards {
	size_t n;
	uint8_t ids[PATH_GUARDS_MAX][RELAY_DESC_ID_LEN];
};

struct path {
	uint8_t n_hops;            /* 2 or 3 */
	size_t idx[PATH_HOPS_MAX]; /* indices into the consensus' relays, entry first */
	bool explored;             /* the exit came from the exploration share */
};

struct path_plan {
	uint8_t n;        /* 1..n_candidates paths, best first, one entry for all */
	uint8_t locality; /* enum path_locality: the step that supplied the exits */
	struct path p[PATH_CANDIDATES_MAX];
};

/* Relay i of path p in c (valid while c is). */
const struct relay_entry *path_hop(const struct consensus *c, const struct path *p, size_t i);

/*
 * May relays a and b be on one path? False when they are the same relay, share an operator,
 * are in one family (each lists the other), or have IPv4 addresses in one /16 or IPv6
 * addresses in one /32.
 */
bool path_relays_compatible(const struct relay_entry *a, const struct relay_entry *b);
/* Is e a usable exit: EXIT RUNNING VALID, and neither BADEXIT nor DISPUTED? */
bool path_relay_is_exit(const struct relay_entry *e);
/* Does exit e's port summary serve req (flags not checked)? */
bool path_exit_allows(const struct relay_entry *e, const struct path_request *req);

/*
 * Choose paths for req from c. guards (NULL or empty: entries are drawn from the consensus)
 * lists the entries to try in order: the first one that is in c with GUARD RUNNING VALID, not
 * excluded by health, and with a usable exit and middle supplies every path. health may be
 * NULL; when its exclusions are what leaves no path, the relays cooling down are allowed
 * (still down-weighted) rather than failing (docs/PATHS.md 1.6). On UM_OK *out holds
 * 1..cfg->n_candidates ranked paths (indices into c->relays);
 * UM_ERR_NOT_FOUND when no path exists, with why (if why_len > 0) saying what is missing, e.g.
 * "no exit allows port 25" or "no exit in country DE with geo_confidence >= 50 allows port
 * 443 (strict)"; UM_ERR_INVALID for a bad cfg or req (why says which field).
 */
int path_select(const struct path_config *cfg, const struct consensus *c,
                const struct path_guards *guards, const struct path_request *req,
                const struct path_health *health, uint64_t now_s, const struct path_rng *rng,
                struct path_plan *out, char *why, size_t why_len) UM_WARN_UNUSED;

/* Look a relay up by identity in c (relays are ascending by identity): its index, or -1. */
ssize_t path_find_relay(const struct consensus *c, const uint8_t id[RELAY_DESC_ID_LEN]);

#endif /* UM_CIRCUIT_PATH_H */
