/* SPDX-License-Identifier: MIT */
/*
 * Entry abuse control (abuse.h). Sources live in a hash table of singly linked chains (a
 * calloc'd array of pointers: pages never written stay unallocated) keyed by a keyed
 * BLAKE2b of the masked prefix, and on an LRU list that picks whom to forget when full.
 * Buckets count milli-tokens in integers: refill = elapsed ms * rate, no floating point.
 */
#include "trust/abuse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "lib/err.h"
#include "lib/list.h"
#include "lib/mem.h"
#include "crypto/crypto.h"
#include "crypto/hash.h"

enum {
	KEY_LEN = 1 + ABUSE_ADDR_MAX, /* family tag | masked address */
	HASH_KEY_LEN = 16,
	EVICT_SCAN = 64, /* sources looked at from the LRU end for one not banned */
	MILLI = 1000,
};

struct src {
	struct src *next;     /* hash chain */
	struct list_node lru; /* a->lru, most recently seen first */
	uint8_t key[KEY_LEN];
	uint64_t hash;
	uint64_t tokens_m[ABUSE_KINDS]; /* milli-tokens */
	uint64_t refill_ms[ABUSE_KINDS];
	uint64_t viol_start_ms;
	uint32_t viol;
	uint32_t n_bans;
	uint64_t banned_until_ms;
	uint32_t inflight;
};

struct abuse {
	struct abuse_config cfg;
	uint8_t hkey[HASH_KEY_LEN];
	struct src **table;
	size_t mask; /* table size - 1 */
	size_t n;
	struct list_node lru;
	uint32_t inflight;
	unsigned bits;
	uint64_t step_ms;  /* when the difficulty last moved (or was held) */
	bool stepped;      /* step_ms is set */
	bool busy_in_step; /* a handshake was refused for load since */
	struct abuse_stats st;
};

void
abuse_config_defaults(struct abuse_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->bucket[ABUSE_HANDSHAKE] = (struct abuse_bucket_config){ .rate_per_s = 5, .burst = 20 };
	cfg->bucket[ABUSE_CREATE] = (struct abuse_bucket_config){ .rate_per_s = 20, .burst = 100 };
	cfg->bucket[ABUSE_ISSUE] = (struct abuse_bucket_config){ .rate_per_s = 1, .burst = 4 };
	cfg->violations = 10;
	cfg->violation_window_ms = 10000;
	cfg->ban_ms = 60000;
	cfg->ban_max_ms = 3600000;
	cfg->max_inflight = 256;
	cfg->max_inflight_per_source = 8;
	cfg->puzzle_step_ms = 1000;
	cfg->v4_prefix = 32;
	cfg->v6_prefix = 64;
	cfg->max_sources = 65536;
}

static int
config_check(const struct abuse_config *c, char *why, size_t why_len)
{
	const char *bad = NULL;

	for (int k = 0; k < ABUSE_KINDS; k++) {
		if (c->bucket[k].rate_per_s < 1 || c->bucket[k].burst < 1 ||
		    c->bucket[k].burst > UINT32_MAX / MILLI)
			bad = "bucket rate and burst must be at least 1 (burst under 4 million)";
	}
	if (c->violations < 1 || c->violation_window_ms < 1)
		bad = "violations and their window must be at least 1";
	else if (c->ban_ms < 1 || c->ban_max_ms < c->ban_ms)
		bad = "ban must be at least 1 ms and at most its maximum";
	else if (c->max_inflight < 1 || c->max_inflight_per_source < 1)
		bad = "handshakes in flight must be at least 1";
	else if (c->puzzle_step_ms < 1)
		bad = "puzzle step must be at least 1 ms";
	else if (c->v4_prefix < 8 || c->v4_prefix > 32 || c->v6_prefix < 16 || c->v6_prefix > 128)
		bad = "source prefixes must be 8..32 (IPv4) and 16..128 (IPv6) bits";
	else if (c->max_sources < 16 || c->max_sources > ABUSE_MAX_SOURCES_MAX)
		bad = "sources tracked must be 16..1048576";
	if (bad == NULL)
		return UM_OK;
	if (why != NULL && why_len > 0)
		snprintf(why, why_len, "%s", bad);
	return UM_ERR_INVALID;
}

int
abuse_new(const struct abuse_config *cfg, struct abuse **out, char *why, size_t why_len)
{
	struct abuse *a;
	size_t size = 16;
	int ret;

	*out = NULL;
	if ((ret = config_check(cfg, why, why_len)) != UM_OK)
		return ret;
	while (size < cfg->max_sources)
		size <<= 1;
	a = um_xcalloc(1, sizeof(*a));
	a->cfg = *cfg;
	a->table = um_xcalloc(size, sizeof(*a->table));
	a->mask = size - 1;
	list_init(&a->lru);
	rand_bytes(a->hkey, sizeof(a->hkey));
	*out = a;
	return UM_OK;
}

void
abuse_free_(struct abuse *a)
{
	if (a == NULL)
		return;
	while (!list_is_empty(&a->lru)) {
		struct src *s = list_entry(a->lru.next, struct src, lru);

		list_remove(&s->lru);
		free(s);
	}
	free(a->table);
	um_memzero(a->hkey, sizeof(a->hkey));
	free(a);
}

/* The source key: a family tag and the address with the bits past the prefix cleared. */
static bool
make_key(const struct abuse *a, int family, const uint8_t *addr, uint8_t key[KEY_LEN])
{
	size_t len, bits;

	memset(key, 0, KEY_LEN);
	if (family == AF_INET) {
		len = 4;
		bits = a->cfg.v4_prefix;
		key[0] = 4;
	} else if (family == AF_INET6) {
		len = 16;
		bits = a->cfg.v6_prefix;
		key[0] = 6;
	} else {
		return false;
	}
	memcpy(key + 1, addr, len);
	for (size_t i = 0; i < len; i++) {
		size_t lo = i * 8;

		if (lo >= bits)
			key[1 + i] = 0;
		else if (lo + 8 > bits)
			key[1 + i] &= (uint8_t)(0xff << (8 - (bits - lo)));
	}
	return true;
}

static uint64_t
key_hash(const struct abuse *a, const uint8_t key[KEY_LEN])
{
	uint8_t h[16];
	uint64_t v = 0;

	hash_blake2b(h, sizeof(h), key, KEY_LEN, a->hkey, sizeof(a->hkey));
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)h[i] << (8 * i);
	return v;
}

static struct src *
find(struct abuse *a, const uint8_t key[KEY_LEN], uint64_t hash)
{
	for (struct src *s = a->table[hash & a->mask]; s != NULL; s = s->next) {
		if (s->hash == hash && memcmp(s->key, key, KEY_LEN) == 0)
			return s;
	}
	return NULL;
}

static void
unlink_src(struct abuse *a, struct src *s)
{
	struct src **pp = &a->table[s->hash & a->mask];

	while (*pp != s)
		pp = &(*pp)->next;
	*pp = s->next;
	list_remove(&s->lru);
	a->n--;
}

/* Forget one source to make room: from the least recently seen end, the first that is
 * neither banned nor has handshakes in flight; else the least recently seen. */
static void
evict_one(struct abuse *a, uint64_t now_ms)
{
	struct list_node *p = a->lru.prev;
	struct src *victim = list_entry(p, struct src, lru);

	for (int i = 0; i < EVICT_SCAN && p != &a->lru; i++, p = p->prev) {
		struct src *s = list_entry(p, struct src, lru);

		if (s->banned_until_ms <= now_ms && s->inflight == 0) {
			victim = s;
			break;
		}
	}
	if (victim->inflight > 0)
		a->inflight -= UM_MIN(a->inflight, victim->inflight);
	unlink_src(a, victim);
	free(victim);
	a->st.evicted++;
}

static struct src *
get(struct abuse *a, int family, const uint8_t *addr, uint64_t now_ms, bool create)
{
	uint8_t key[KEY_LEN];
	uint64_t hash;
	struct src *s;

	if (!make_key(a, family, addr, key))
		return NULL;
	hash = key_hash(a, key);
	if ((s = find(a, key, hash)) != NULL) {
		list_remove(&s->lru);
		list_push_front(&a->lru, &s->lru);
		return s;
	}
	if (!create)
		return NULL;
	if (a->n >= a->cfg.max_sources)
		evict_one(a, now_ms);
	s = um_xcalloc(1, sizeof(*s));
	memcpy(s->key, key, KEY_LEN);
	s->hash = hash;
	for (int k = 0; k < ABUSE_KINDS; k++) {
		s->tokens_m[k] = (uint64_t)a->cfg.bucket[k].burst * MILLI;
		s->refill_ms[k] = now_ms;
	}
	s->next = a->table[hash & a->mask];
	a->table[hash & a->mask] = s;
	list_push_front(&a->lru, &s->lru);
	a->n++;
	return s;
}

static bool
take_token(const struct abuse *a, struct src *s, enum abuse_kind k, uint64_t now_ms)
{
	const struct abuse_bucket_config *b = &a->cfg.bucket[k];
	uint64_t cap = (uint64_t)b->burst * MILLI;

	if (now_ms > s->refill_ms[k]) {
		uint64_t dt = now_ms - s->refill_ms[k];

		/* dt * rate overflows only after 2^32 ms of idleness: the bucket is full then. */
		if (dt >= cap || s->tokens_m[k] + dt * b->rate_per_s >= cap)
			s->tokens_m[k] = cap;
		else
			s->tokens_m[k] += dt * b->rate_per_s;
		s->refill_ms[k] = now_ms;
	}
	if (s->tokens_m[k] < MILLI)
		return false;
	s->tokens_m[k] -= MILLI;
	return true;
}

/* A refusal: count it, and ban the source when it has earned it. */
static void
violation(struct abuse *a, struct src *s, uint64_t now_ms)
{
	uint64_t ban;

	if (s->viol == 0 || now_ms - s->viol_start_ms >= a->cfg.violation_window_ms) {
		s->viol = 0;
		s->viol_start_ms = now_ms;
	}
	if (++s->viol < a->cfg.violations)
		return;
	ban = a->cfg.ban_ms;
	for (uint32_t i = 0; i < s->n_bans && ban < a->cfg.ban_max_ms; i++)
		ban *= 2;
	s->banned_until_ms = now_ms + UM_MIN(ban, (uint64_t)a->cfg.ban_max_ms);
	if (s->n_bans < UINT32_MAX)
		s->n_bans++;
	s->viol = 0;
	a->st.bans++;
}

static void
puzzle_adapt(struct abuse *a, uint64_t now_ms)
{
	uint64_t load4, steps;

	if (!a->stepped) {
		a->stepped = true;
		a->step_ms = now_ms;
		return;
	}
	if (now_ms < a->step_ms + a->cfg.puzzle_step_ms)
		return;
	steps = (now_ms - a->step_ms) / a->cfg.puzzle_step_ms;
	load4 = (uint64_t)a->inflight * 4;
	/* "Busy" counts only for the step it was seen in: after a quiet gap it is stale. */
	if (steps > 1)
		a->busy_in_step = false;
	if (load4 >= (uint64_t)a->cfg.max_inflight * 3 || a->busy_in_step) {
		if (a->bits < ABUSE_PUZZLE_MAX_BITS)
			a->bits++;
	} else if (load4 < a->cfg.max_inflight) {
		/* One bit down per step that passed under a quarter of the load, so a quiet
		 * hour after an attack finds the difficulty back at 0. */
		a->bits = steps >= a->bits ? 0 : a->bits - (unsigned)steps;
	}
	a->step_ms = now_ms;
	a->busy_in_step = false;
}

const uint8_t *
abuse_addr_of(const struct sockaddr_storage *ss, int *family)
{
	if (ss->ss_family == AF_INET) {
		*family = AF_INET;
		return (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
	}
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			*family = AF_INET;
			return a->s6_addr + 12;
		}
		*family = AF_INET6;
		return a->s6_addr;
	}
	*family = AF_UNSPEC;
	return NULL;
}

enum abuse_verdict
abuse_check(struct abuse *a, enum abuse_kind kind, int family, const uint8_t *addr, uint64_t now_ms)
{
	struct src *s;

	if ((unsigned)kind >= ABUSE_KINDS)
		return ABUSE_RATE;
	if (kind == ABUSE_HANDSHAKE)
		puzzle_adapt(a, now_ms);
	if ((s = get(a, family, addr, now_ms, true)) == NULL) {
		a->st.refused_rate[kind]++;
		return ABUSE_RATE; /* not an address we can account for */
	}
	if (s->banned_until_ms > now_ms) {
		a->st.refused_banned[kind]++;
		return ABUSE_BANNED;
	}
	if (kind == ABUSE_HANDSHAKE &&
	    (a->inflight >= a->cfg.max_inflight || s->inflight >= a->cfg.max_inflight_per_source)) {
		a->busy_in_step = a->busy_in_step || a->inflight >= a->cfg.max_inflight;
		a->st.refused_busy++;
		/* Only the per-source cap is this source's doing. */
		if (s->inflight >= a->cfg.max_inflight_per_source)
			violation(a, s, now_ms);
		return ABUSE_BUSY;
	}
	if (!take_token(a, s, kind, now_ms)) {
		a->st.refused_rate[kind]++;
		violation(a, s, now_ms);
		return s->banned_until_ms > now_ms ? ABUSE_BANNED : ABUSE_RATE;
	}
	if (kind == ABUSE_HANDSHAKE) {
		s->inflight++;
		a->inflight++;
	}
	a->st.admitted[kind]++;
	return ABUSE_OK;
}

bool
abuse_under_load(struct abuse *a, enum abuse_kind kind, int family, const uint8_t *addr,
                 uint64_t now_ms)
{
	const struct abuse_bucket_config *b;
	struct src *s;
	uint64_t cap, tokens;

	if ((unsigned)kind >= ABUSE_KINDS || (s = get(a, family, addr, now_ms, false)) == NULL)
		return false;
	if (s->banned_until_ms > now_ms)
		return true;
	b = &a->cfg.bucket[kind];
	cap = (uint64_t)b->burst * MILLI;
	tokens = s->tokens_m[kind];
	if (now_ms > s->refill_ms[kind]) {
		uint64_t dt = now_ms - s->refill_ms[kind];

		tokens = dt >= cap || tokens + dt * b->rate_per_s >= cap
		                 ? cap
		                 : tokens + dt * b->rate_per_s;
	}
	return tokens * 2 < cap;
}

void
abuse_handshake_end(struct abuse *a, int family, const uint8_t *addr)
{
	struct src *s = get(a, family, addr, 0, false);

	/* A source forgotten meanwhile gave its slots back when it was evicted. */
	if (s == NULL || s->inflight == 0)
		return;
	s->inflight--;
	if (a->inflight > 0)
		a->inflight--;
}

unsigned
abuse_puzzle_bits(struct abuse *a, uint64_t now_ms)
{
	puzzle_adapt(a, now_ms);
	return a->bits;
}

void
abuse_stats(const struct abuse *a, uint64_t now_ms, struct abuse_stats *out)
{
	*out = a->st;
	out->sources = a->n;
	out->banned = 0;
	for (const struct list_node *p = a->lru.next; p != &a->lru; p = p->next) {
		if (list_entry_const(p, struct src, lru)->banned_until_ms > now_ms)
			out->banned++;
	}
	out->inflight = a->inflight;
	out->puzzle_bits = a->bits;
}
