/* SPDX-License-Identifier: MIT */
/*
 * The federation core (dirfed.h, docs/PROTOCOL.md 12): the peer set with its sightings and
 * admission fixpoint, the pull-sync and feed-fetch schedule with per-peer backoff, the gossip
 * outbox, the seen-set, and the HTTP routes. No sockets: dirfed_io.c asks
 * dirfed_next_action() what to do and reports back through dirfed_*_done().
 *
 * Shortcuts, admitted: the peer set lives in memory (a restart re-learns it from the seeds
 * within one sync interval, and the first pull is a full one since ETags are not kept); a
 * full discovery table ignores new candidates until TTL expiry frees a slot (admitted peers
 * are never evicted for candidates); the periodic gossip round pushes at most the free room
 * of the outbox, walking the relays in identity order across rounds.
 */
#include "directory/dirfed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "crypto/crypto.h"
#include "crypto/hash.h"

struct sighting {
	uint8_t lister[32]; /* the peer whose feed listed it */
	uint8_t op[32];     /* that feed's operator */
	char url[PEER_FEED_URL_MAX + 1];
	uint64_t seen_s;
};

struct fpeer {
	uint8_t id[32];
	char url[PEER_FEED_URL_MAX + 1];
	bool seed, admitted;
	bool has_op, has_claimed;
	uint8_t op[32];         /* from its own verified feed */
	uint8_t claimed_op[32]; /* what listers said */
	size_t n_s;
	struct sighting s[DIRFED_SIGHTINGS_MAX];
	uint64_t feed_pub_s, last_feed_s, last_sync_s, next_feed_s, next_sync_s;
	unsigned feed_fail, sync_fail;
	bool feed_busy, sync_busy;
	char etag[DIRFED_ETAG_MAX + 1];
	uint64_t imported;
	char error[DIRFED_ERROR_LEN];
};

struct outbox_item {
	uint8_t hops;
	size_t len;
	uint8_t desc[RELAY_DESC_MAX_LEN];
	size_t n_targets;
	uint8_t targets[DIRFED_MAX_FANOUT][32];
};

struct seen_entry {
	uint8_t d[32];
	uint8_t hops;
	bool used;
	int32_t next; /* next in its bucket's chain, -1 at the end */
};

struct dirfed {
	struct dirserv *ds;
	struct dirfed_config cfg; /* pointers in it are not used after dirfed_new() */
	size_t n_peers, cap_peers;
	struct fpeer *peers; /* seeds first, in configuration order */
	struct outbox_item *outbox[DIRFED_OUTBOX_MAX];
	size_t ob_head, ob_n;
	struct seen_entry *seen;
	int32_t *buckets;
	size_t seen_head;
	uint8_t seen_key[16];
	size_t n_inflight;
	uint64_t next_gossip_s;
	uint8_t cursor[32]; /* periodic gossip: the last relay identity pushed */
	bool have_cursor;
	uint8_t *feed;
	size_t feed_len;
	uint64_t feed_built_s;
	bool feed_dirty;
	uint8_t *bundle;
	size_t bundle_len;
	char bundle_etag[65];
	uint64_t bundle_built_s;
	bool bundle_dirty;
	struct dirfed_stats stats;
};

void
dirfed_config_defaults(struct dirfed_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->sync_interval_s = 10;
	cfg->gossip_interval_s = 0;
	cfg->fanout = 2;
	cfg->max_hops = 2;
	cfg->discovery = true;
	cfg->min_operators = 1;
	cfg->discovery_max = 64;
	cfg->discovery_ttl_s = 900;
}

/* ---- peers ---- */

static struct fpeer *
peer_find(const struct dirfed *f, const uint8_t id[32])
{
	for (size_t i = 0; i < f->n_peers; i++)
		if (memcmp(f->peers[i].id, id, 32) == 0)
			return &f->peers[i];
	return NULL;
}

static size_t
n_discovered(const struct dirfed *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n_peers; i++)
		n += !f->peers[i].seed;
	return n;
}

static void
peer_error(struct fpeer *p, const char *what, const char *detail)
{
	snprintf(p->error, sizeof(p->error), "%s: %s", what, detail);
}

static uint64_t
backoff_s(const struct dirfed *f, unsigned failures)
{
	uint64_t b = f->cfg.sync_interval_s;

	for (unsigned i = 0; i < failures && b < DIRFED_BACKOFF_MAX_S; i++)
		b *= 2;
	return b > DIRFED_BACKOFF_MAX_S ? DIRFED_BACKOFF_MAX_S : b;
}

/* The URL listed by most sightings (tie: the bytewise smallest): one lying lister cannot
 * redirect a peer that others list correctly. */
static void
pick_url(struct fpeer *p)
{
	size_t best = 0, best_n = 0;

	for (size_t i = 0; i < p->n_s; i++) {
		size_t n = 0;

		for (size_t k = 0; k < p->n_s; k++)
			n += strcmp(p->s[i].url, p->s[k].url) == 0;
		if (n > best_n || (n == best_n && strcmp(p->s[i].url, p->s[best].url) < 0)) {
			best = i;
			best_n = n;
		}
	}
	if (best_n > 0)
		snprintf(p->url, sizeof(p->url), "%s", p->s[best].url);
}

/* Distinct operators among p's sightings whose lister is trusted. */
static size_t
count_operators(const struct dirfed *f, const struct fpeer *p, const bool *trusted)
{
	const uint8_t *ops[DIRFED_SIGHTINGS_MAX];
	size_t n = 0;

	for (size_t i = 0; i < p->n_s; i++) {
		const struct fpeer *l = peer_find(f, p->s[i].lister);
		bool dup = false;

		if (l == NULL || !trusted[l - f->peers])
			continue;
		for (size_t k = 0; k < n && !dup; k++)
			dup = memcmp(ops[k], p->s[i].op, 32) == 0;
		if (!dup)
			ops[n++] = p->s[i].op;
	}
	return n;
}

/*
 * Admission: the least fixpoint grown from the seeds. A discovered peer is admitted when
 * sightings from trusted listers (seeds or admitted peers) name at least min_operators
 * distinct operators; repeat until nothing changes. A group of peers listing only each
 * other, with no path from a seed, never gets in.
 */
static void
recompute(struct dirfed *f)
{
	bool *trusted = um_xcalloc(f->n_peers + 1, sizeof(bool));
	bool changed = true;

	for (size_t i = 0; i < f->n_peers; i++)
		trusted[i] = f->peers[i].seed;
	while (changed) {
		changed = false;
		for (size_t i = 0; i < f->n_peers; i++) {
			if (trusted[i])
				continue;
			if (count_operators(f, &f->peers[i], trusted) >= f->cfg.min_operators) {
				trusted[i] = true;
				changed = true;
			}
		}
	}
	for (size_t i = 0; i < f->n_peers; i++) {
		if (f->peers[i].admitted != trusted[i]) {
			f->peers[i].admitted = trusted[i];
			f->feed_dirty = true;
			if (trusted[i])
				log_info(LD_DIR, "federation: admitted peer directory %s",
				         f->peers[i].url);
			else
				log_info(LD_DIR,
				         "federation: peer directory %s is no longer admitted",
				         f->peers[i].url);
		}
	}
	free(trusted);
}

static void
peer_remove(struct dirfed *f, size_t i)
{
	f->peers[i] = f->peers[f->n_peers - 1];
	f->n_peers--;
	f->feed_dirty = true;
}

/* Drop sightings older than the TTL and discovered peers left without any. */
static void
expire(struct dirfed *f, uint64_t now_s)
{
	bool changed = false;
	size_t i = 0;

	while (i < f->n_peers) {
		struct fpeer *p = &f->peers[i];
		size_t k = 0;

		while (k < p->n_s) {
			if (p->s[k].seen_s + f->cfg.discovery_ttl_s <= now_s) {
				p->s[k] = p->s[--p->n_s];
				changed = true;
				continue;
			}
			k++;
		}
		if (!p->seed && p->n_s == 0) {
			peer_remove(f, i);
			changed = true;
			continue;
		}
		i++;
	}
	if (changed)
		recompute(f);
}

/* Take a verified feed from lister l into the peer set. */
static void
feed_apply(struct dirfed *f, struct fpeer *l, const struct peer_feed *feed, uint64_t now_s)
{
	uint8_t lister[32];

	l->has_op = true;
	memcpy(l->op, feed->operator_id, 32);
	l->feed_pub_s = feed->published_s;
	l->last_feed_s = now_s;
	if (!f->cfg.discovery)
		return;
	memcpy(lister, l->id, 32); /* l may move when peers are removed below */
	/* The lister's latest feed replaces everything it said before. */
	for (size_t i = 0; i < f->n_peers; i++) {
		struct fpeer *p = &f->peers[i];
		size_t k = 0;

		while (k < p->n_s) {
			if (memcmp(p->s[k].lister, lister, 32) == 0) {
				p->s[k] = p->s[--p->n_s];
				continue;
			}
			k++;
		}
	}
	for (size_t i = 0; i < feed->n_peers; i++) {
		const struct peer_feed_entry *e = &feed->peers[i];
		struct fpeer *p;

		if (memcmp(e->identity, f->cfg.self_id, 32) == 0)
			continue;
		p = peer_find(f, e->identity);
		if (p != NULL && p->seed)
			continue; /* configured: needs no vouching */
		if (p == NULL) {
			if (n_discovered(f) >= f->cfg.discovery_max || f->n_peers >= f->cap_peers)
				continue;
			p = &f->peers[f->n_peers++];
			memset(p, 0, sizeof(*p));
			memcpy(p->id, e->identity, 32);
			p->next_feed_s = now_s;
			p->next_sync_s = now_s;
		}
		if (p->n_s < DIRFED_SIGHTINGS_MAX) {
			struct sighting *s = &p->s[p->n_s++];

			memcpy(s->lister, lister, 32);
			memcpy(s->op, feed->operator_id, 32);
			snprintf(s->url, sizeof(s->url), "%s", e->url);
			s->seen_s = now_s;
		}
		p->has_claimed = true;
		memcpy(p->claimed_op, e->operator_id, 32);
		pick_url(p);
	}
	/* Peers no feed lists any more go now (the TTL is for listers that went quiet). */
	for (size_t i = 0; i < f->n_peers;) {
		if (!f->peers[i].seed && f->peers[i].n_s == 0) {
			peer_remove(f, i);
			continue;
		}
		i++;
	}
	recompute(f);
}

/* ---- seen-set: digests stored or already held, with the lowest hop count seen ---- */

static size_t
seen_bucket(const struct dirfed *f, const uint8_t d[32])
{
	uint8_t h[16];

	/* Keyed, so nobody can aim many digests at one chain. */
	hash_blake2b(h, sizeof(h), d, 32, f->seen_key, sizeof(f->seen_key));
	return (size_t)wire_load_u32(h) & (DIRFED_SEEN_MAX - 1);
}

static int32_t
seen_find(const struct dirfed *f, const uint8_t d[32])
{
	for (int32_t i = f->buckets[seen_bucket(f, d)]; i >= 0; i = f->seen[i].next)
		if (memcmp(f->seen[i].d, d, 32) == 0)
			return i;
	return -1;
}

static bool
seen_has(const struct dirfed *f, const uint8_t d[32], uint8_t hops)
{
	int32_t i = seen_find(f, d);

	return i >= 0 && f->seen[i].hops <= hops;
}

static void
seen_add(struct dirfed *f, const uint8_t d[32], uint8_t hops)
{
	int32_t i = seen_find(f, d);
	struct seen_entry *e;
	size_t b;

	if (i >= 0) {
		if (hops < f->seen[i].hops)
			f->seen[i].hops = hops;
		return;
	}
	e = &f->seen[f->seen_head];
	if (e->used) { /* evict the oldest: unlink it from its chain */
		int32_t *pp = &f->buckets[seen_bucket(f, e->d)];

		while (*pp >= 0 && *pp != (int32_t)f->seen_head)
			pp = &f->seen[*pp].next;
		if (*pp >= 0)
			*pp = e->next;
	}
	b = seen_bucket(f, d);
	memcpy(e->d, d, 32);
	e->hops = hops;
	e->used = true;
	e->next = f->buckets[b];
	f->buckets[b] = (int32_t)f->seen_head;
	f->seen_head = (f->seen_head + 1) % DIRFED_SEEN_MAX;
}

/* ---- gossip outbox ---- */

/* Up to fanout distinct admitted peers, chosen at random, into item. */
static void
pick_targets(struct dirfed *f, struct outbox_item *item)
{
	size_t idx[DIRFED_MAX_SEEDS + DIRFED_DISCOVERY_MAX];
	size_t n = 0;

	for (size_t i = 0; i < f->n_peers && n < sizeof(idx) / sizeof(idx[0]); i++)
		if (f->peers[i].admitted)
			idx[n++] = i;
	item->n_targets = 0;
	for (size_t k = 0; k < f->cfg.fanout && k < n; k++) {
		size_t j = k + rand_uniform((uint32_t)(n - k));
		size_t t = idx[k];

		idx[k] = idx[j];
		idx[j] = t;
		memcpy(item->targets[item->n_targets++], f->peers[idx[k]].id, 32);
	}
}

/* Queue desc for a push; false when the outbox is full or nobody is there to push to. */
static bool
outbox_push(struct dirfed *f, const uint8_t *desc, size_t len, uint8_t hops)
{
	struct outbox_item *item;

	if (f->cfg.fanout == 0 || len > RELAY_DESC_MAX_LEN)
		return false;
	if (f->ob_n == DIRFED_OUTBOX_MAX) {
		f->stats.outbox_dropped++;
		return false;
	}
	item = um_xcalloc(1, sizeof(*item));
	item->hops = hops;
	item->len = len;
	memcpy(item->desc, desc, len);
	pick_targets(f, item);
	if (item->n_targets == 0) {
		free(item);
		return false;
	}
	f->outbox[(f->ob_head + f->ob_n) % DIRFED_OUTBOX_MAX] = item;
	f->ob_n++;
	return true;
}

void
dirfed_desc_stored(struct dirfed *f, const uint8_t *desc, size_t len, uint8_t hops, bool is_new)
{
	uint8_t digest[RELAY_DESC_DIGEST_LEN];

	f->bundle_dirty = true;
	relay_desc_digest(desc, len, digest);
	seen_add(f, digest, hops);
	if (is_new)
		(void)outbox_push(f, desc, len, hops);
}

struct gossip_round {
	struct dirfed *f;
	bool past_cursor;
	bool stopped;
};

static int
gossip_one(void *arg, const uint8_t *blob, size_t len, uint8_t hops)
{
	struct gossip_round *g = arg;
	struct dirfed *f = g->f;

	if (len < 1 + RELAY_DESC_ID_LEN)
		return UM_OK;
	if (!g->past_cursor && f->have_cursor && memcmp(blob + 1, f->cursor, 32) <= 0)
		return UM_OK;
	g->past_cursor = true;
	if (f->ob_n >= DIRFED_OUTBOX_MAX / 2) { /* leave room for news */
		g->stopped = true;
		return UM_ERR_TOO_LARGE;
	}
	if (outbox_push(f, blob, len, hops)) {
		memcpy(f->cursor, blob + 1, 32);
		f->have_cursor = true;
	}
	return UM_OK;
}

static void
gossip_round(struct dirfed *f, uint64_t now_s)
{
	struct gossip_round g = { .f = f };
	int ret;

	f->next_gossip_s = now_s + f->cfg.gossip_interval_s;
	ret = dirserv_foreach_current(f->ds, now_s, gossip_one, &g);
	if (ret != UM_OK && !g.stopped)
		log_warn(LD_DIR, "federation: cannot list descriptors to gossip: %s",
		         um_err_str(ret));
	if (!g.stopped)
		f->have_cursor = false; /* reached the end: start over next round */
}

/* ---- lifecycle ---- */

int
dirfed_new(const struct dirfed_config *cfg, struct dirfed **out, char *why, size_t why_len)
{
	struct dirfed *f;

	*out = NULL;
	if (cfg->ds == NULL || cfg->sync_interval_s == 0 || cfg->fanout > DIRFED_MAX_FANOUT ||
	    cfg->max_hops > DESC_BUNDLE_MAX_HOPS || cfg->min_operators == 0 ||
	    cfg->min_operators > DIRFED_SIGHTINGS_MAX ||
	    cfg->discovery_max > DIRFED_DISCOVERY_MAX || cfg->discovery_ttl_s == 0 ||
	    cfg->n_seeds > DIRFED_MAX_SEEDS || (cfg->n_seeds > 0 && cfg->seed_ids == NULL)) {
		snprintf(why, why_len, "bad directory federation configuration");
		return UM_ERR_INVALID;
	}
	for (size_t i = 0; i < cfg->n_seeds; i++) {
		const char *u = cfg->seed_urls[i];

		if (u == NULL || !peer_feed_url_is_valid(u, strlen(u))) {
			snprintf(why, why_len, "directory peer #%zu: bad URL", i + 1);
			return UM_ERR_INVALID;
		}
		if (memcmp(cfg->seed_ids[i], cfg->self_id, 32) == 0) {
			snprintf(why, why_len, "directory peer #%zu is this directory itself",
			         i + 1);
			return UM_ERR_INVALID;
		}
		for (size_t k = 0; k < i; k++) {
			if (memcmp(cfg->seed_ids[i], cfg->seed_ids[k], 32) == 0) {
				snprintf(why, why_len, "directory peer #%zu is listed twice",
				         i + 1);
				return UM_ERR_INVALID;
			}
		}
	}
	f = um_xcalloc(1, sizeof(*f));
	f->ds = cfg->ds;
	f->cfg = *cfg;
	f->cfg.seed_ids = NULL;
	f->cfg.seed_urls = NULL;
	f->cap_peers = cfg->n_seeds + cfg->discovery_max;
	f->peers = um_xcalloc(f->cap_peers + 1, sizeof(*f->peers));
	for (size_t i = 0; i < cfg->n_seeds; i++) {
		struct fpeer *p = &f->peers[f->n_peers++];

		memcpy(p->id, cfg->seed_ids[i], 32);
		snprintf(p->url, sizeof(p->url), "%s", cfg->seed_urls[i]);
		p->seed = true;
		p->admitted = true;
	}
	f->seen = um_xcalloc(DIRFED_SEEN_MAX, sizeof(*f->seen));
	f->buckets = um_xmalloc(DIRFED_SEEN_MAX * sizeof(*f->buckets));
	for (size_t i = 0; i < DIRFED_SEEN_MAX; i++)
		f->buckets[i] = -1;
	rand_bytes(f->seen_key, sizeof(f->seen_key));
	f->feed_dirty = true;
	f->bundle_dirty = true;
	f->stats.max_hops = cfg->max_hops;
	f->stats.fanout = cfg->fanout;
	f->stats.min_operators = cfg->min_operators;
	f->stats.discovery = cfg->discovery;
	dirserv_set_fed(cfg->ds, f);
	*out = f;
	return UM_OK;
}

void
dirfed_free_(struct dirfed *f)
{
	if (f == NULL)
		return;
	dirserv_set_fed(f->ds, NULL);
	for (size_t i = 0; i < f->ob_n; i++)
		free(f->outbox[(f->ob_head + i) % DIRFED_OUTBOX_MAX]);
	free(f->peers);
	free(f->seen);
	free(f->buckets);
	free(f->feed);
	free(f->bundle);
	free(f);
}

/* ---- the schedule ---- */

static void
fill_action(struct dirfed_action *a, enum dirfed_action_kind kind, const struct fpeer *p,
            const char *path)
{
	memset(a, 0, offsetof(struct dirfed_action, body));
	a->body_len = 0;
	a->kind = kind;
	memcpy(a->peer, p->id, 32);
	snprintf(a->url, sizeof(a->url), "%s%s", p->url, path);
}

int
dirfed_next_action(struct dirfed *f, uint64_t now_s, struct dirfed_action *out)
{
	expire(f, now_s);
	if (f->cfg.gossip_interval_s > 0 && now_s >= f->next_gossip_s)
		gossip_round(f, now_s);
	if (f->n_inflight >= DIRFED_MAX_INFLIGHT)
		return UM_ERR_NOT_FOUND;
	while (f->ob_n > 0) {
		struct outbox_item *item = f->outbox[f->ob_head];
		struct fpeer *p = NULL;

		if (item->n_targets > 0) {
			item->n_targets--;
			p = peer_find(f, item->targets[item->n_targets]);
		}
		if (item->n_targets == 0) {
			f->ob_head = (f->ob_head + 1) % DIRFED_OUTBOX_MAX;
			f->ob_n--;
		}
		if (p != NULL && p->admitted) {
			fill_action(out, DIRFED_ACT_PUSH, p, "/v1/gossip/desc");
			out->max_response = 4096;
			out->body[0] = item->hops;
			memcpy(out->body + 1, item->desc, item->len);
			out->body_len = 1 + item->len;
			f->stats.pushed++;
			f->n_inflight++;
			if (item->n_targets == 0)
				free(item);
			return UM_OK;
		}
		if (item->n_targets == 0)
			free(item);
	}
	for (size_t i = 0; f->cfg.discovery && i < f->n_peers; i++) {
		struct fpeer *p = &f->peers[i];

		if (p->admitted && !p->feed_busy && now_s >= p->next_feed_s) {
			fill_action(out, DIRFED_ACT_FEED, p, "/v1/peers/feed");
			out->max_response = PEER_FEED_MAX_LEN;
			p->feed_busy = true;
			f->n_inflight++;
			return UM_OK;
		}
	}
	for (size_t i = 0; i < f->n_peers; i++) {
		struct fpeer *p = &f->peers[i];

		if (p->admitted && !p->sync_busy && now_s >= p->next_sync_s) {
			fill_action(out, DIRFED_ACT_SYNC, p, "/v1/descs");
			snprintf(out->etag, sizeof(out->etag), "%s", p->etag);
			out->max_response = DESC_BUNDLE_MAX_LEN;
			p->sync_busy = true;
			f->n_inflight++;
			return UM_OK;
		}
	}
	return UM_ERR_NOT_FOUND;
}

static void
inflight_done(struct dirfed *f)
{
	if (f->n_inflight > 0)
		f->n_inflight--;
}

static int
feed_take(struct dirfed *f, struct fpeer *p, const uint8_t *body, size_t len, uint64_t now_s)
{
	struct peer_feed *feed = um_xcalloc(1, sizeof(*feed));
	int ret = peer_feed_parse_verify(body, len, p->id, now_s, feed);

	if (ret == UM_OK) {
		if (feed->published_s < p->feed_pub_s)
			ret = UM_ERR_REPLAY; /* older than one already taken: a replay */
		else
			feed_apply(f, p, feed, now_s);
	}
	free(feed);
	return ret;
}

void
dirfed_feed_done(struct dirfed *f, const uint8_t peer[32], uint64_t now_s, int err, int status,
                 const uint8_t *body, size_t len)
{
	struct fpeer *p;
	char st[16];
	int ret;

	inflight_done(f);
	if ((p = peer_find(f, peer)) == NULL)
		return;
	p->feed_busy = false;
	if (err != UM_OK) {
		peer_error(p, "peer feed", um_err_str(err));
	} else if (status != 200) {
		snprintf(st, sizeof(st), "%d", status);
		peer_error(p, "peer feed: HTTP", st);
	} else if ((ret = feed_take(f, p, body, len, now_s)) != UM_OK) {
		/* p may have moved inside feed_take only on success */
		peer_error(p, "peer feed refused", um_err_str(ret));
	} else {
		if ((p = peer_find(f, peer)) == NULL)
			return;
		p->feed_fail = 0;
		p->next_feed_s = now_s + f->cfg.sync_interval_s;
		return;
	}
	p->next_feed_s = now_s + backoff_s(f, p->feed_fail);
	if (p->feed_fail < 16)
		p->feed_fail++;
}

static bool
etag_ok(const char *e)
{
	size_t n = e != NULL ? strlen(e) : 0;

	if (n == 0 || n > DIRFED_ETAG_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (e[i] < 0x21 || e[i] > 0x7e)
			return false;
	return true;
}

/* Import a parsed bundle from p; false when the verification budget stopped it early. */
static bool
bundle_import(struct dirfed *f, struct fpeer *p, const struct desc_bundle *b, uint64_t now_s)
{
	size_t verified = 0;

	for (size_t i = 0; i < b->n; i++) {
		const struct desc_bundle_entry *e = &b->e[i];
		struct dirserv_accept_result res;
		uint8_t digest[RELAY_DESC_DIGEST_LEN];
		uint8_t hops = (uint8_t)(e->hops + 1);
		int ret;

		if (hops > f->cfg.max_hops) {
			f->stats.refused_hops++;
			continue;
		}
		relay_desc_digest(e->desc, e->len, digest);
		if (seen_has(f, digest, hops))
			continue;
		if (verified++ == DIRFED_VERIFY_PER_SYNC)
			return false;
		ret = dirserv_import_descriptor(f->ds, e->desc, e->len, hops, NULL, now_s, &res);
		if (ret == UM_OK || ret == UM_ERR_STATE)
			seen_add(f, digest, hops); /* held, or valid but older than what we hold */
		if (ret == UM_OK && res.stored) {
			p->imported++;
			f->stats.imported++;
		}
	}
	return true;
}

void
dirfed_sync_done(struct dirfed *f, const uint8_t peer[32], uint64_t now_s, int err, int status,
                 const char *etag, const uint8_t *body, size_t len)
{
	struct desc_bundle b;
	struct fpeer *p;
	char st[16];
	ssize_t n;

	inflight_done(f);
	if ((p = peer_find(f, peer)) == NULL)
		return;
	p->sync_busy = false;
	if (err != UM_OK) {
		peer_error(p, "sync", um_err_str(err));
		goto fail;
	}
	if (status == 304)
		goto ok;
	if (status != 200) {
		snprintf(st, sizeof(st), "%d", status);
		peer_error(p, "sync: HTTP", st);
		goto fail;
	}
	desc_bundle_init(&b);
	if (len > DESC_BUNDLE_MAX_LEN || (n = desc_bundle_parse(body, len, &b)) < 0 ||
	    (size_t)n != len) {
		desc_bundle_clear(&b);
		peer_error(p, "sync", "the descriptor bundle does not parse");
		goto fail;
	}
	if (bundle_import(f, p, &b, now_s) && etag_ok(etag))
		snprintf(p->etag, sizeof(p->etag), "%s", etag);
	else
		p->etag[0] = '\0'; /* fetch it whole again next time */
	desc_bundle_clear(&b);
ok:
	p->error[0] = '\0';
	p->sync_fail = 0;
	p->last_sync_s = now_s;
	p->next_sync_s = now_s + f->cfg.sync_interval_s;
	return;
fail:
	p->next_sync_s = now_s + backoff_s(f, p->sync_fail);
	if (p->sync_fail < 16)
		p->sync_fail++;
}

void
dirfed_push_done(struct dirfed *f, const uint8_t peer[32], uint64_t now_s, int err, int status)
{
	struct fpeer *p;
	char st[16];

	(void)now_s;
	inflight_done(f);
	if ((p = peer_find(f, peer)) == NULL)
		return;
	/* A refusal (stale, hop limit) is normal; pull sync repairs what a push missed. */
	if (err != UM_OK) {
		peer_error(p, "gossip push", um_err_str(err));
	} else if (status >= 500) {
		snprintf(st, sizeof(st), "%d", status);
		peer_error(p, "gossip push: HTTP", st);
	}
}

/* ---- receiving gossip ---- */

static int
res_set(struct dirserv_accept_result *res, int err, int status, const char *reason)
{
	res->err = err;
	res->http_status = status;
	res->reason = reason;
	return err;
}

int
dirfed_gossip_receive(struct dirfed *f, const uint8_t *body, size_t len, const char *source_key,
                      uint64_t now_s, bool *is_new, struct dirserv_accept_result *res)
{
	char source[DIRSERV_SOURCE_KEY_MAX + 1];
	uint8_t digest[RELAY_DESC_DIGEST_LEN];
	uint8_t hops;
	int ret;

	*is_new = false;
	memset(res, 0, sizeof(*res));
	if (len > DIRFED_GOSSIP_MAX_LEN)
		return res_set(res, UM_ERR_TOO_LARGE, 413, "too large");
	if (body == NULL || len < 2)
		return res_set(res, UM_ERR_MALFORMED, 400, "empty");
	if (body[0] > DESC_BUNDLE_MAX_HOPS)
		return res_set(res, UM_ERR_MALFORMED, 400, "malformed hop count");
	hops = (uint8_t)(body[0] + 1);
	/* Loop resistance, before any other work. */
	if (hops > f->cfg.max_hops) {
		f->stats.refused_hops++;
		return res_set(res, UM_ERR_STATE, 409, "hop limit reached");
	}
	relay_desc_digest(body + 1, len - 1, digest);
	if (seen_has(f, digest, hops)) {
		memcpy(res->digest, digest, sizeof(digest));
		return res_set(res, UM_OK, 200, "ok");
	}
	/* Pushes share dirserv's token buckets, in their own namespace. */
	snprintf(source, sizeof(source), "gossip/%s", source_key != NULL ? source_key : "");
	ret = dirserv_import_descriptor(f->ds, body + 1, len - 1, hops, source, now_s, res);
	if (ret == UM_OK || ret == UM_ERR_STATE)
		seen_add(f, digest, hops);
	if (ret == UM_OK && res->stored) {
		*is_new = true;
		f->stats.received++;
	}
	return ret;
}

/* ---- serving ---- */

static void
reply_copy(struct ev_http_resp *resp, const uint8_t *p, size_t len)
{
	resp->status = 200;
	resp->content_type = "application/octet-stream";
	resp->body = um_xmalloc(len > 0 ? len : 1);
	if (len > 0)
		memcpy(resp->body, p, len);
	resp->body_len = len;
}

static json_t *
b32_json(const uint8_t id[32])
{
	char b32[BASE32_LEN(32)];

	if (enc_base32(b32, sizeof(b32), id, 32) != UM_OK)
		return json_null();
	return json_string(b32);
}

/*
 * GET /v1/peers, for people and scripts: every peer we know with its state and sightings,
 * and our signed feed in hex (the bytes GET /v1/peers/feed serves to directories).
 */
static json_t *
peers_json(const struct dirfed *f, uint64_t now_s)
{
	size_t max = dirfed_n_peers(f);
	struct dirfed_peer_status *st = um_xcalloc(max + 1, sizeof(*st));
	struct dirfed_stats stats;
	size_t n = dirfed_status(f, now_s, st, max, &stats);
	char *hex = um_xmalloc(HEX_LEN(f->feed_len));
	json_t *arr = json_array(), *j;

	for (size_t i = 0; i < n; i++) {
		const struct dirfed_peer_status *p = &st[i];

		json_array_append_new(
		        arr, json_pack("{s:o, s:s, s:s, s:o, s:I, s:I, s:I}", "identity",
		                       b32_json(p->identity), "url", p->url, "state",
		                       p->seed       ? "seed"
		                       : p->admitted ? "admitted"
		                                     : "candidate",
		                       "operator",
		                       p->has_operator ? b32_json(p->operator_id) : json_null(),
		                       "operators", (json_int_t)p->n_operators, "sightings",
		                       (json_int_t)p->n_sightings, "last_sync",
		                       (json_int_t)p->last_sync_s));
	}
	if (enc_hex(hex, HEX_LEN(f->feed_len), f->feed, f->feed_len) != UM_OK)
		hex[0] = '\0';
	j = json_pack("{s:o, s:s, s:o}", "operator", b32_json(f->cfg.operator_id), "feed", hex,
	              "peers", arr);
	free(hex);
	free(st);
	return j;
}

static int
cmp_peer_id(const void *a, const void *b)
{
	const struct fpeer *const *x = a, *const *y = b;

	return memcmp((*x)->id, (*y)->id, 32);
}

/* Our feed: the admitted peers (seeds included), signed, re-built when the set changed. */
static int
feed_build(struct dirfed *f, uint64_t now_s)
{
	struct peer_feed *feed;
	const struct fpeer **list;
	uint8_t *buf;
	struct wire_wr w;
	size_t n = 0;
	int ret;

	if (f->feed != NULL && !f->feed_dirty && now_s >= f->feed_built_s &&
	    now_s < f->feed_built_s + DIRFED_FEED_REFRESH_S)
		return UM_OK;
	feed = um_xcalloc(1, sizeof(*feed));
	list = um_xcalloc(f->n_peers + 1, sizeof(*list));
	for (size_t i = 0; i < f->n_peers; i++)
		if (f->peers[i].admitted)
			list[n++] = &f->peers[i];
	qsort(list, n, sizeof(*list), cmp_peer_id);
	feed->version = PEER_FEED_VERSION;
	memcpy(feed->operator_id, f->cfg.operator_id, 32);
	feed->published_s = now_s;
	feed->expires_s = now_s + DIRFED_FEED_LIFETIME_S;
	for (size_t i = 0; i < n && feed->n_peers < PEER_FEED_MAX_PEERS; i++) {
		struct peer_feed_entry *e = &feed->peers[feed->n_peers++];
		const uint8_t *op = list[i]->has_op        ? list[i]->op
		                    : list[i]->has_claimed ? list[i]->claimed_op
		                                           : list[i]->id;

		memcpy(e->identity, list[i]->id, 32);
		memcpy(e->operator_id, op, 32);
		snprintf(e->url, sizeof(e->url), "%s", list[i]->url);
	}
	buf = um_xmalloc(PEER_FEED_MAX_LEN);
	wire_wr_init(&w, buf, PEER_FEED_MAX_LEN);
	if ((ret = dirserv_sign_peer_feed(f->ds, feed)) != UM_OK ||
	    (ret = peer_feed_encode(feed, &w)) != UM_OK) {
		free(buf);
		goto out;
	}
	free(f->feed);
	f->feed = buf;
	f->feed_len = w.len;
	f->feed_built_s = now_s;
	f->feed_dirty = false;
out:
	free(list);
	free(feed);
	return ret;
}

struct bundle_collect {
	struct desc_bundle b;
	size_t cap;
};

static int
collect_one(void *arg, const uint8_t *blob, size_t len, uint8_t hops)
{
	struct bundle_collect *c = arg;
	uint8_t *copy;

	if (c->b.n == DESC_BUNDLE_MAX_DESCS)
		return UM_ERR_TOO_LARGE; /* the first ones by identity; documented */
	if (len > RELAY_DESC_MAX_LEN || hops > DESC_BUNDLE_MAX_HOPS)
		return UM_OK;
	if (c->b.n == c->cap) {
		c->cap = c->cap == 0 ? 64 : c->cap * 2;
		c->b.e = um_xrealloc(c->b.e, c->cap * sizeof(*c->b.e));
	}
	copy = um_xmalloc(len);
	memcpy(copy, blob, len);
	c->b.e[c->b.n].hops = hops;
	c->b.e[c->b.n].desc = copy;
	c->b.e[c->b.n].len = len;
	c->b.n++;
	return UM_OK;
}

static int
bundle_build(struct dirfed *f, uint64_t now_s)
{
	struct bundle_collect c;
	uint8_t *enc = NULL;
	size_t enc_len = 0;
	int ret;

	if (f->bundle != NULL && !f->bundle_dirty && now_s >= f->bundle_built_s &&
	    now_s < f->bundle_built_s + DIRFED_BUNDLE_REFRESH_S)
		return UM_OK;
	memset(&c, 0, sizeof(c));
	ret = dirserv_foreach_current(f->ds, now_s, collect_one, &c);
	if (ret == UM_OK || ret == UM_ERR_TOO_LARGE)
		ret = desc_bundle_encode_new(&c.b, &enc, &enc_len);
	for (size_t i = 0; i < c.b.n; i++)
		free((void *)(uintptr_t)c.b.e[i].desc);
	free(c.b.e);
	if (ret != UM_OK)
		return ret;
	free(f->bundle);
	f->bundle = enc;
	f->bundle_len = enc_len;
	desc_bundle_etag(enc, enc_len, f->bundle_etag);
	f->bundle_built_s = now_s;
	f->bundle_dirty = false;
	return UM_OK;
}

/* Does the If-None-Match header (entity tags, maybe weak, or "*") name tag (bare hex)? */
static bool
etag_matches(const char *hdr, const char *tag)
{
	size_t tag_len = strlen(tag);
	const char *p = hdr;

	while (*p != '\0') {
		const char *start, *end;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end - start == 1 && *start == '*')
			return true;
		if (end - start >= 2 && start[0] == 'W' && start[1] == '/')
			start += 2;
		if (end - start >= 2 && *start == '"' && end[-1] == '"') {
			start++;
			end--;
		}
		if ((size_t)(end - start) == tag_len && strncasecmp(start, tag, tag_len) == 0)
			return true;
	}
	return false;
}

bool
dirfed_handle(struct dirfed *f, const char *method, const char *path, const char *if_none_match,
              const uint8_t *body, size_t len, const char *source_key, uint64_t now_s,
              struct ev_http_resp *resp)
{
	bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;

	if (strcmp(path, "/v1/peers/feed") == 0) {
		if (!get)
			ev_http_resp_error(resp, 405, "method not allowed");
		else if (feed_build(f, now_s) != UM_OK)
			ev_http_resp_error(resp, 500, "cannot sign the peer feed");
		else
			reply_copy(resp, f->feed, f->feed_len);
		return true;
	}
	if (strcmp(path, "/v1/peers") == 0) {
		if (!get)
			ev_http_resp_error(resp, 405, "method not allowed");
		else if (feed_build(f, now_s) != UM_OK)
			ev_http_resp_error(resp, 500, "cannot sign the peer feed");
		else
			ev_http_resp_json(resp, 200, peers_json(f, now_s));
		return true;
	}
	if (strcmp(path, "/v1/descs") == 0) {
		if (!get) {
			ev_http_resp_error(resp, 405, "method not allowed");
		} else if (bundle_build(f, now_s) != UM_OK) {
			ev_http_resp_error(resp, 500, "cannot build the descriptor bundle");
		} else {
			resp->etag = um_xasprintf("\"%s\"", f->bundle_etag);
			if (if_none_match != NULL && strlen(if_none_match) <= 4096 &&
			    etag_matches(if_none_match, f->bundle_etag)) {
				resp->status = 304;
				resp->content_type = "application/octet-stream";
			} else {
				reply_copy(resp, f->bundle, f->bundle_len);
			}
		}
		return true;
	}
	if (strcmp(path, "/v1/gossip/desc") == 0) {
		struct dirserv_accept_result res;
		char hex[HEX_LEN(RELAY_DESC_DIGEST_LEN)];
		bool is_new;

		if (!post) {
			ev_http_resp_error(resp, 405, "method not allowed");
		} else if (dirfed_gossip_receive(f, body, len, source_key, now_s, &is_new, &res) !=
		           UM_OK) {
			ev_http_resp_error(resp, res.http_status, res.reason);
		} else if (enc_hex(hex, sizeof(hex), res.digest, sizeof(res.digest)) != UM_OK) {
			ev_http_resp_error(resp, 500, "internal");
		} else {
			ev_http_resp_json(resp, 200,
			                  json_pack("{s:s, s:b}", "digest", hex, "new", is_new));
		}
		return true;
	}
	return false;
}

/* ---- status ---- */

size_t
dirfed_n_peers(const struct dirfed *f)
{
	return f->n_peers;
}

static int
cmp_status(const void *a, const void *b)
{
	const struct dirfed_peer_status *x = a, *y = b;

	if (x->seed != y->seed)
		return x->seed ? -1 : 1;
	return memcmp(x->identity, y->identity, 32);
}

size_t
dirfed_status(const struct dirfed *f, uint64_t now_s, struct dirfed_peer_status *out, size_t max,
              struct dirfed_stats *stats)
{
	bool *trusted = um_xcalloc(f->n_peers + 1, sizeof(bool));
	size_t n = 0;

	(void)now_s;
	for (size_t i = 0; i < f->n_peers; i++)
		trusted[i] = f->peers[i].admitted;
	for (size_t i = 0; i < f->n_peers && n < max; i++) {
		const struct fpeer *p = &f->peers[i];
		struct dirfed_peer_status *s = &out[n++];
		uint64_t last = 0;

		memset(s, 0, sizeof(*s));
		memcpy(s->identity, p->id, 32);
		snprintf(s->url, sizeof(s->url), "%s", p->url);
		s->seed = p->seed;
		s->admitted = p->admitted;
		s->has_operator = p->has_op;
		memcpy(s->operator_id, p->has_op ? p->op : p->id, 32);
		s->n_operators = count_operators(f, p, trusted);
		s->n_sightings = p->n_s;
		s->last_sync_s = p->last_sync_s;
		s->last_feed_s = p->last_feed_s;
		for (size_t k = 0; k < p->n_s; k++)
			last = p->s[k].seen_s > last ? p->s[k].seen_s : last;
		s->expires_s = p->seed ? 0 : last + f->cfg.discovery_ttl_s;
		snprintf(s->etag, sizeof(s->etag), "%s", p->etag);
		s->imported = p->imported;
		snprintf(s->error, sizeof(s->error), "%s", p->error);
	}
	qsort(out, n, sizeof(*out), cmp_status);
	if (stats != NULL)
		*stats = f->stats;
	free(trusted);
	return n;
}

#ifdef UM_UNIT_TESTS
int
dirfed_test_feed(struct dirfed *f, const uint8_t lister[32], const uint8_t *body, size_t len,
                 uint64_t now_s)
{
	struct fpeer *p = peer_find(f, lister);

	if (p == NULL)
		return UM_ERR_NOT_FOUND;
	return feed_take(f, p, body, len, now_s);
}

bool
dirfed_test_seen(const struct dirfed *f, const uint8_t digest[32], uint8_t hops)
{
	return seen_has(f, digest, hops);
}

size_t
dirfed_test_outbox(const struct dirfed *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->ob_n; i++)
		n += f->outbox[(f->ob_head + i) % DIRFED_OUTBOX_MAX]->n_targets;
	return n;
}
#endif
