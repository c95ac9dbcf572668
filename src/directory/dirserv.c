/* SPDX-License-Identifier: MIT */
/*
 * The directory authority's core: lifecycle, descriptor uploads (size cap, per-source token
 * bucket, verification, storage), votes, consensus computation and cross-signing. Storage is
 * in dirserv_store.c, HTTP routing and JSON in dirserv_http.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "crypto/hash.h"
#include "directory/dirfed.h"
#include "directory/dirserv_st.h"
#include "directory/consensus_diff.h"

static const char cons_sig_label[CONS_LABEL_LEN] = "umbra-consensus-v1"; /* with its NUL */

void
dirserv_config_defaults(struct dirserv_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_desc_len = RELAY_DESC_MAX_LEN;
	cfg->rate_burst = 10;
	cfg->rate_refill_s = 60;
	cfg->max_sources = 4096;
	cfg->max_vote_len = 16u << 20;
	cfg->running_window_s = 3600;
	cfg->stable_min_age_s = 86400;
	cfg->fast_min_bw = 100 * 1024;
	cfg->bond_min = 1;
}

static int
fail(char *why, size_t why_len, int err, const char *msg)
{
	if (why != NULL && why_len > 0)
		snprintf(why, why_len, "%s", msg);
	return err;
}

static int
check_config(const struct dirserv_config *cfg, char *why, size_t why_len)
{
	if ((cfg->store == NULL) == (cfg->db_path == NULL))
		return fail(why, why_len, UM_ERR_INVALID, "give exactly one of store and db_path");
	if (cfg->keyring == NULL || cfg->signing == NULL || cfg->signing->sk == NULL ||
	    cfg->keyring->n_certs == 0 || cfg->keyring->n_certs > AUTH_KEYRING_MAX)
		return fail(why, why_len, UM_ERR_INVALID, "an authority keyring and signing key");
	if (memcmp(cfg->keyring->certs[0].signing_key, cfg->signing->pk, AUTHCERT_ID_LEN) != 0)
		return fail(why, why_len, UM_ERR_INVALID,
		            "the signing key is not the one the current certificate certifies");
	if (cfg->n_authorities == 0 || cfg->n_authorities > CONS_MAX_AUTHORITIES ||
	    cfg->authorities == NULL)
		return fail(why, why_len, UM_ERR_INVALID, "1..16 authorities");
	for (size_t i = 0; i < cfg->n_authorities; i++)
		for (size_t j = i + 1; j < cfg->n_authorities; j++)
			if (memcmp(cfg->authorities[i], cfg->authorities[j], AUTHCERT_ID_LEN) == 0)
				return fail(why, why_len, UM_ERR_INVALID, "duplicate authority");
	if (cfg->max_desc_len == 0 || cfg->max_desc_len > RELAY_DESC_MAX_LEN)
		return fail(why, why_len, UM_ERR_INVALID, "max_desc_len must be 1..1936");
	if (cfg->max_vote_len < VOTE_MIN_LEN || cfg->max_vote_len > VOTE_MAX_LEN)
		return fail(why, why_len, UM_ERR_INVALID, "max_vote_len out of range");
	if (cfg->rate_burst == 0 || cfg->rate_refill_s == 0 || cfg->max_sources == 0 ||
	    cfg->max_sources > DIRSERV_MAX_SOURCES_MAX)
		return fail(why, why_len, UM_ERR_INVALID,
		            "rate limit: burst, refill and sources > 0");
	if (cfg->running_window_s == 0)
		return fail(why, why_len, UM_ERR_INVALID, "running_window_s must be > 0");
	if (cfg->n_issuers > DIR_MAX_ISSUERS || (cfg->n_issuers > 0 && cfg->issuers == NULL))
		return fail(why, why_len, UM_ERR_INVALID, "0..8 issuers");
	if (cfg->n_issuers > 0 && cfg->issuer_verify == NULL)
		return fail(why, why_len, UM_ERR_INVALID, "issuers need a key-list check");
	if (cfg->require_provider && (cfg->provider_verify == NULL || cfg->provider_check == NULL))
		return fail(why, why_len, UM_ERR_INVALID, "require_provider needs provider checks");
	if (cfg->trust_threshold > DIR_MAX_ISSUERS)
		return fail(why, why_len, UM_ERR_INVALID, "trust_threshold must be 0..8");
	for (size_t i = 0; i < cfg->n_issuers; i++)
		for (size_t j = i + 1; j < cfg->n_issuers; j++)
			if (memcmp(cfg->issuers[i], cfg->issuers[j], DIR_ISSUER_ID_LEN) == 0)
				return fail(why, why_len, UM_ERR_INVALID, "duplicate issuer");
	return UM_OK;
}

static bool
is_authority(const struct dirserv *ds, const uint8_t id[AUTHCERT_ID_LEN])
{
	for (size_t i = 0; i < ds->n_auths; i++)
		if (memcmp(ds->auths[i], id, AUTHCERT_ID_LEN) == 0)
			return true;
	return false;
}

/* Reload the served consensus from the store (the latest by valid_after). */
static int
cache_reload(struct dirserv *ds)
{
	struct consensus c;
	uint8_t *blob = NULL;
	size_t len = 0;
	int ret;

	ret = dirserv_db_cons_latest(ds, &blob, &len);
	if (ret == UM_ERR_NOT_FOUND)
		return UM_OK;
	if (ret != UM_OK)
		return ret;
	consensus_init(&c);
	if (consensus_parse(blob, len, &c) != (ssize_t)len) {
		free(blob);
		return UM_ERR_MALFORMED; /* we only store what we encoded: a damaged database */
	}
	consensus_clear(&ds->cons);
	free(ds->cons_bytes);
	ds->cons = c;
	ds->cons_bytes = blob;
	ds->cons_len = len;
	ds->has_cons = true;
	return UM_OK;
}

int
dirserv_new(const struct dirserv_config *cfg, struct dirserv **out, char *why, size_t why_len)
{
	struct dirserv *ds = NULL;
	uint8_t seed[ED25519_SEED_LEN];
	int ret;

	*out = NULL;
	if (cfg == NULL)
		return fail(why, why_len, UM_ERR_INVALID, "no config");
	if ((ret = check_config(cfg, why, why_len)) != UM_OK)
		return ret;
	ds = um_xcalloc(1, sizeof(*ds));
	ds->cfg = *cfg;
	ds->cfg.store = NULL;
	ds->cfg.db_path = NULL;
	ds->cfg.keyring = NULL;
	ds->cfg.signing = NULL;
	ds->cfg.authorities = NULL;
	ds->cfg.issuers = NULL;
	ds->n_issuers = cfg->n_issuers;
	if (cfg->n_issuers > 0)
		memcpy(ds->issuers, cfg->issuers, cfg->n_issuers * DIR_ISSUER_ID_LEN);
	ds->keyring = *cfg->keyring;
	keys_ed25519_seed(cfg->signing, seed);
	keys_ed25519_from_seed(&ds->signing, seed);
	um_memzero(seed, sizeof(seed));
	ds->n_auths = cfg->n_authorities;
	memcpy(ds->auths, cfg->authorities, cfg->n_authorities * AUTHCERT_ID_LEN);
	ds->n_buckets = cfg->max_sources;
	ds->buckets = um_xcalloc(ds->n_buckets, sizeof(*ds->buckets));
	consensus_init(&ds->cons);
	if (cfg->store != NULL) {
		ds->st = cfg->store;
		if ((ret = store_migrate(ds->st, &dirserv_schema)) != UM_OK) {
			fail(why, why_len, ret, store_errmsg(ds->st));
			goto out;
		}
	} else {
		ds->own_store = true;
		if ((ret = store_open(cfg->db_path, &dirserv_schema, &ds->st, why, why_len)) !=
		    UM_OK)
			goto out;
	}
	if ((ret = store_migrate(ds->st, &dirserv_provider_schema)) != UM_OK) {
		fail(why, why_len, ret, store_errmsg(ds->st));
		goto out;
	}
	if ((ret = cache_reload(ds)) != UM_OK) {
		fail(why, why_len, ret, "the stored consensus does not parse");
		goto out;
	}
	*out = ds;
	ds = NULL;
	ret = UM_OK;
out:
	dirserv_free(ds);
	return ret;
}

void
dirserv_free_(struct dirserv *ds)
{
	if (ds == NULL)
		return;
	if (ds->own_store)
		store_close(ds->st);
	keys_ed25519_clear(&ds->signing);
	consensus_clear(&ds->cons);
	free(ds->cons_bytes);
	for (size_t i = 0; i < DIRSERV_DIFF_CACHE; i++)
		free(ds->diffs[i].bytes);
	free(ds->buckets);
	for (size_t i = 0; i < DIR_MAX_ISSUERS; i++)
		dir_rt_feed_clear(&ds->rt[i]);
	um_memzero(ds, sizeof(*ds));
	free(ds);
}

/* ---- per-source token bucket ---- */

bool
dirserv_bucket_take(struct dirserv *ds, const char *source, uint64_t now_s)
{
	struct dirserv_bucket *b = NULL, *victim = NULL;
	uint8_t key[16];

	hash_blake2b(key, sizeof(key), source, strlen(source), NULL, 0);
	for (size_t i = 0; i < ds->n_buckets; i++) {
		struct dirserv_bucket *e = &ds->buckets[i];

		if (e->used && memcmp(e->key, key, sizeof(key)) == 0) {
			b = e;
			break;
		}
		/* Evict an unused slot, else the least recently seen. */
		if (victim == NULL || (victim->used && (!e->used || e->seen_s < victim->seen_s)))
			victim = e;
	}
	if (b == NULL) {
		if (victim == NULL)
			return false; /* no buckets at all (max_sources 0): refuse */
		b = victim;
		memset(b, 0, sizeof(*b));
		b->used = true;
		memcpy(b->key, key, sizeof(key));
		b->tokens = ds->cfg.rate_burst;
		b->last_s = now_s;
	}
	if (now_s > b->last_s) {
		uint64_t add = (now_s - b->last_s) / ds->cfg.rate_refill_s;

		if (add >= ds->cfg.rate_burst - b->tokens) {
			b->tokens = ds->cfg.rate_burst;
			b->last_s = now_s;
		} else {
			b->tokens += (uint32_t)add;
			b->last_s += add * ds->cfg.rate_refill_s;
		}
	} else if (now_s < b->last_s) {
		b->last_s = now_s; /* the clock went back: restart the refill from here */
	}
	b->seen_s = now_s;
	if (b->tokens == 0)
		return false;
	b->tokens--;
	return true;
}

/* ---- descriptors ---- */

static int
result(struct dirserv_accept_result *res, int err, int status, const char *reason)
{
	res->err = err;
	res->http_status = status;
	res->reason = reason;
	return err;
}

/* Uploads (hops 0, rate limited, verified before the digest lookup) and imports (dirfed.h:
 * the digest lookup first, since the same bytes were verified when stored). */
static int
accept_common(struct dirserv *ds, const uint8_t *bytes, size_t len, const char *source_key,
              bool rate_limit, bool import, uint8_t hops, uint64_t now_s,
              struct dirserv_accept_result *res)
{
	struct dirserv_accept_result dummy;
	struct relay_desc d;
	uint8_t digest[RELAY_DESC_DIGEST_LEN], latest[RELAY_DESC_DIGEST_LEN];
	uint64_t latest_pub;
	uint8_t held;
	const char *source = source_key != NULL ? source_key : "";
	int ret;

	if (res == NULL)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	if (len > ds->cfg.max_desc_len)
		return result(res, UM_ERR_TOO_LARGE, 413, "too large");
	if (strlen(source) > DIRSERV_SOURCE_KEY_MAX)
		source = "(long)";
	if (rate_limit && !dirserv_bucket_take(ds, source, now_s))
		return result(res, UM_ERR_RATELIMIT, 429, "rate limited");
	if (bytes == NULL || len == 0)
		return result(res, UM_ERR_MALFORMED, 400, "empty");
	if (import) {
		relay_desc_digest(bytes, len, digest);
		memcpy(res->digest, digest, sizeof(digest));
		if (dirserv_db_desc_hops(ds, digest, &held) == UM_OK) {
			if (hops < held) {
				if (dirserv_db_desc_lower_hops(ds, digest, hops) != UM_OK)
					return result(res, UM_ERR_DB, 500, "database error");
				if (ds->fed != NULL)
					dirfed_desc_stored(ds->fed, bytes, len, hops, false);
			}
			return result(res, UM_OK, 200, "ok");
		}
	}
	ret = relay_desc_parse_verify(bytes, len, now_s, &d);
	switch (ret) {
	case UM_OK:
		break;
	case UM_ERR_TRUNCATED:
		return result(res, UM_ERR_MALFORMED, 400, "truncated");
	case UM_ERR_TRAILING:
		return result(res, ret, 400, "trailing bytes");
	case UM_ERR_EXPIRED:
		return result(res, ret, 400, "expired or not yet valid");
	case UM_ERR_AUTH:
		return result(res, ret, 400, "bad signature");
	case UM_ERR_TOO_LARGE:
		return result(res, ret, 413, "too large");
	default:
		return result(res, UM_ERR_MALFORMED, 400, "malformed");
	}
	relay_desc_digest(bytes, len, digest);
	memcpy(res->digest, digest, sizeof(digest));
	if (!import && dirserv_db_desc_exists(ds, digest)) {
		/* Idempotent; an upload also takes the stored copy down to hop 0. */
		if (dirserv_db_desc_hops(ds, digest, &held) == UM_OK && held > 0 &&
		    dirserv_db_desc_lower_hops(ds, digest, 0) == UM_OK && ds->fed != NULL)
			dirfed_desc_stored(ds->fed, bytes, len, 0, false);
		return result(res, UM_OK, 200, "ok");
	}
	ret = dirserv_db_latest_published(ds, d.identity, &latest_pub, latest);
	if (ret == UM_OK && d.published_s <= latest_pub)
		return result(res, UM_ERR_STATE, 409, "stale: a newer descriptor is stored");
	if (ret != UM_OK && ret != UM_ERR_NOT_FOUND)
		return result(res, ret, 500, "database error");
	if ((ret = dirserv_db_desc_put(ds, digest, &d, bytes, len, source, hops, now_s)) != UM_OK)
		return result(res, ret, 500, "database error");
	res->stored = true;
	if (ds->fed != NULL)
		dirfed_desc_stored(ds->fed, bytes, len, hops, true);
	return result(res, UM_OK, 200, "ok");
}

int
dirserv_accept_upload(struct dirserv *ds, const uint8_t *bytes, size_t len, const char *source_key,
                      bool rate_limit, uint64_t now_s, struct dirserv_accept_result *res)
{
	return accept_common(ds, bytes, len, source_key, rate_limit, false, 0, now_s, res);
}

int
dirserv_accept_descriptor(struct dirserv *ds, const uint8_t *bytes, size_t len,
                          const char *source_key, uint64_t now_s, struct dirserv_accept_result *res)
{
	struct dirserv_accept_result dummy;
	struct relay_desc d;

	/* With require_provider a plain upload is taken only for a relay bound already (its
	 * operator upserted it through POST /v1/provider/relay/upsert). The identity is read
	 * without the signature check: a forged upload naming a bound relay still has to pass
	 * every check of accept_common(). */
	if (ds->cfg.require_provider && len <= ds->cfg.max_desc_len && bytes != NULL &&
	    relay_desc_parse(bytes, len, &d) > 0 &&
	    !dirserv_provider_bound(ds, d.identity, now_s)) {
		if (res == NULL)
			res = &dummy;
		memset(res, 0, sizeof(*res));
		return result(res, UM_ERR_AUTH, 403,
		              "this directory requires a provider binding: use POST "
		              "/v1/provider/relay/upsert");
	}
	return accept_common(ds, bytes, len, source_key, true, false, 0, now_s, res);
}

int
dirserv_import_descriptor(struct dirserv *ds, const uint8_t *bytes, size_t len, uint8_t hops,
                          const char *source_key, uint64_t now_s, struct dirserv_accept_result *res)
{
	return accept_common(ds, bytes, len, source_key, source_key != NULL, true, hops, now_s,
	                     res);
}

void
dirserv_set_fed(struct dirserv *ds, struct dirfed *fed)
{
	ds->fed = fed;
}

int
dirserv_sign_peer_feed(struct dirserv *ds, struct peer_feed *f)
{
	return peer_feed_sign(f, &ds->keyring.certs[0], &ds->signing);
}

int
dirserv_foreach_current(struct dirserv *ds, uint64_t now_s, dirserv_current_fn *fn, void *arg)
{
	return dirserv_db_foreach_current(ds, now_s, fn, arg);
}

/* ---- issuer key lists ---- */

static bool
is_issuer(const struct dirserv *ds, const uint8_t id[DIR_ISSUER_ID_LEN])
{
	for (size_t i = 0; i < ds->n_issuers; i++)
		if (memcmp(ds->issuers[i], id, DIR_ISSUER_ID_LEN) == 0)
			return true;
	return false;
}

int
dirserv_add_issuer_keys(struct dirserv *ds, const uint8_t identity[DIR_ISSUER_ID_LEN],
                        const uint8_t *doc, size_t len, uint64_t now_s, uint64_t *seq, bool *stored)
{
	uint8_t *old = NULL;
	size_t old_len = 0;
	uint64_t s = 0, old_seq = 0;
	int ret;

	if (seq != NULL)
		*seq = 0;
	if (stored != NULL)
		*stored = false;
	if (!is_issuer(ds, identity))
		return UM_ERR_NOT_FOUND;
	if (len > DIR_ISSUER_DOC_MAX_LEN)
		return UM_ERR_TOO_LARGE;
	if (doc == NULL || len == 0)
		return UM_ERR_MALFORMED;
	/* The signature first: nothing unverified is compared, stored or voted on. */
	if ((ret = ds->cfg.issuer_verify(ds->cfg.issuer_verify_arg, identity, doc, len, now_s,
	                                 &s)) != UM_OK)
		return ret;
	if (seq != NULL)
		*seq = s;
	ret = dirserv_db_issuer_get(ds, identity, &old, &old_len, &old_seq);
	if (ret == UM_OK) {
		if (old_len == len && memcmp(old, doc, len) == 0)
			ret = UM_OK; /* the one we hold */
		else if (s <= old_seq)
			ret = UM_ERR_STATE; /* stale: never replaces a newer (or same-seq) list */
		else
			ret = UM_ERR_NOT_FOUND;
		free(old);
		if (ret != UM_ERR_NOT_FOUND)
			return ret;
	} else if (ret != UM_ERR_NOT_FOUND) {
		return ret;
	}
	if ((ret = dirserv_db_issuer_put(ds, identity, doc, len, s, now_s)) != UM_OK)
		return ret;
	if (stored != NULL)
		*stored = true;
	return UM_OK;
}

int
dirserv_issuer_keys_get(struct dirserv *ds, const uint8_t identity[DIR_ISSUER_ID_LEN],
                        uint8_t **doc, size_t *len, uint64_t *seq)
{
	*doc = NULL;
	*len = 0;
	*seq = 0;
	if (!is_issuer(ds, identity))
		return UM_ERR_NOT_FOUND;
	return dirserv_db_issuer_get(ds, identity, doc, len, seq);
}

/* ---- relay-trust feeds ---- */

static ssize_t
issuer_index(const struct dirserv *ds, const uint8_t id[DIR_ISSUER_ID_LEN])
{
	for (size_t i = 0; i < ds->n_issuers; i++)
		if (memcmp(ds->issuers[i], id, DIR_ISSUER_ID_LEN) == 0)
			return (ssize_t)i;
	return -1;
}

int
dirserv_add_relay_trust(struct dirserv *ds, const uint8_t identity[DIR_ISSUER_ID_LEN],
                        const uint8_t *doc, size_t len, uint64_t now_s, uint64_t *seq, bool *stored)
{
	struct dir_rt_feed f;
	ssize_t k = issuer_index(ds, identity);
	int ret;

	if (seq != NULL)
		*seq = 0;
	if (stored != NULL)
		*stored = false;
	if (k < 0)
		return UM_ERR_NOT_FOUND;
	if (ds->cfg.rt_verify == NULL)
		return UM_ERR_STATE;
	if (len > DIR_RT_DOC_MAX_LEN)
		return UM_ERR_TOO_LARGE;
	if (doc == NULL || len == 0)
		return UM_ERR_MALFORMED;
	memset(&f, 0, sizeof(f));
	/* The signature first: nothing unverified is compared, kept or voted on. */
	if ((ret = ds->cfg.rt_verify(ds->cfg.rt_verify_arg, identity, doc, len, now_s, &f)) !=
	    UM_OK) {
		dir_rt_feed_clear(&f);
		return ret;
	}
	if (!dir_rt_feed_is_valid(&f)) {
		dir_rt_feed_clear(&f);
		return UM_ERR_MALFORMED;
	}
	if (seq != NULL)
		*seq = f.seq;
	if (ds->has_rt[k] && f.seq <= ds->rt[k].seq) {
		ret = f.seq == ds->rt[k].seq ? UM_OK : UM_ERR_STATE; /* never a lower seq */
		dir_rt_feed_clear(&f);
		return ret;
	}
	dir_rt_feed_clear(&ds->rt[k]);
	ds->rt[k] = f;
	ds->has_rt[k] = true;
	if (stored != NULL)
		*stored = true;
	return UM_OK;
}

bool
dirserv_has_relay_trust_check(const struct dirserv *ds)
{
	return ds->cfg.rt_verify != NULL;
}

const struct dir_rt_feed *
dirserv_relay_trust_get(const struct dirserv *ds, const uint8_t identity[DIR_ISSUER_ID_LEN])
{
	ssize_t k = issuer_index(ds, identity);

	return k >= 0 && ds->has_rt[k] ? &ds->rt[k] : NULL;
}

/* BONDED / DISPUTED for relay id from the feeds unexpired at va. */
static uint16_t
trust_flags(const struct dirserv *ds, const uint8_t id[RELAY_DESC_ID_LEN], uint64_t va)
{
	const struct dir_rt_feed *feeds[DIR_MAX_ISSUERS];
	size_t threshold = ds->cfg.trust_threshold != 0 ? ds->cfg.trust_threshold
	                                                : dir_rt_default_threshold(ds->n_issuers);

	for (size_t i = 0; i < ds->n_issuers; i++)
		feeds[i] = ds->has_rt[i] ? &ds->rt[i] : NULL;
	return dir_rt_flags(feeds, ds->n_issuers, id, ds->cfg.bond_min, threshold, va);
}

/* The stored key list of each configured issuer, for our vote. */
static int
vote_issuers(struct dirserv *ds, struct dir_issuers *out)
{
	for (size_t i = 0; i < ds->n_issuers; i++) {
		uint8_t *doc = NULL;
		size_t len = 0;
		uint64_t seq;
		int ret = dirserv_db_issuer_get(ds, ds->issuers[i], &doc, &len, &seq);

		if (ret == UM_ERR_NOT_FOUND)
			continue; /* not fetched yet */
		if (ret == UM_OK && (len == 0 || len > DIR_ISSUER_DOC_MAX_LEN))
			ret = UM_ERR_MALFORMED; /* we only store what verified: a damaged database
			                         */
		if (ret == UM_OK)
			ret = dir_issuers_set(out, ds->issuers[i], doc, len);
		free(doc);
		if (ret != UM_OK)
			return ret;
	}
	return UM_OK;
}

int
dirserv_reachability_set(struct dirserv *ds, const uint8_t identity[RELAY_DESC_ID_LEN],
                         uint64_t when_s)
{
	return dirserv_db_reach_set(ds, identity, when_s);
}

/* ---- votes ---- */

struct vote_build {
	struct dirserv *ds;
	uint64_t valid_after_s;
	struct relay_entry *e;
	size_t n, cap;
	int err;
};

static uint16_t
assign_flags(const struct dirserv *ds, const struct relay_desc *d, uint64_t va,
             uint64_t first_seen_s, uint64_t reach_ok_s, uint32_t measured)
{
	uint16_t f = RELAY_FLAG_VALID;
	bool running = reach_ok_s != 0 && reach_ok_s <= va + ds->cfg.running_window_s &&
	               reach_ok_s + ds->cfg.running_window_s >= va;

	if (running)
		f |= RELAY_FLAG_RUNNING;
	if (d->roles & RELAY_ROLE_ENTRY)
		f |= RELAY_FLAG_GUARD;
	if (d->roles & RELAY_ROLE_MIDDLE)
		f |= RELAY_FLAG_MIDDLE;
	if (d->roles & RELAY_ROLE_EXIT)
		f |= RELAY_FLAG_EXIT;
	if (running && first_seen_s <= va && va - first_seen_s >= ds->cfg.stable_min_age_s)
		f |= RELAY_FLAG_STABLE;
	if (measured >= ds->cfg.fast_min_bw)
		f |= RELAY_FLAG_FAST;
	if (ds->n_issuers > 0)
		f |= trust_flags(ds, d->identity, va);
	return f;
}

static int
vote_build_one(void *arg, const uint8_t *blob, size_t len, uint64_t first_seen_s,
               uint64_t reach_ok_s)
{
	struct vote_build *vb = arg;
	struct relay_desc d;
	uint8_t digest[RELAY_DESC_DIGEST_LEN];
	uint32_t measured;

	if (relay_desc_parse(blob, len, &d) != (ssize_t)len)
		return UM_OK; /* cannot happen for what we stored; skip rather than fail the vote */
	if (d.expires_s <= vb->valid_after_s || d.link_cert_expires_s <= vb->valid_after_s ||
	    (d.has_operator_cert && d.operator_cert_expires_s <= vb->valid_after_s))
		return UM_OK;
	/* require_provider: only relays whose provider binding holds (not revoked, not expired)
	 * at valid_after are voted on. */
	if (vb->ds->cfg.require_provider &&
	    !dirserv_provider_bound(vb->ds, d.identity, vb->valid_after_s))
		return UM_OK;
	if (vb->n == CONS_MAX_RELAYS)
		return UM_ERR_TOO_LARGE;
	if (vb->n == vb->cap) {
		vb->cap = vb->cap == 0 ? 64 : vb->cap * 2;
		vb->e = um_xrealloc(vb->e, vb->cap * sizeof(*vb->e));
	}
	relay_desc_digest(blob, len, digest);
	measured = d.bw.rate < d.bw.observed ? d.bw.rate : d.bw.observed;
	relay_entry_from_desc(
	        &vb->e[vb->n++], &d, digest,
	        assign_flags(vb->ds, &d, vb->valid_after_s, first_seen_s, reach_ok_s, measured),
	        measured);
	return UM_OK;
}

int
dirserv_build_vote(struct dirserv *ds, uint64_t valid_after_s, uint64_t fresh_until_s,
                   uint64_t valid_until_s, struct vote *out)
{
	struct vote_build vb = { .ds = ds, .valid_after_s = valid_after_s };
	struct vote v;
	uint8_t *enc = NULL;
	size_t enc_len = 0;
	int ret = UM_ERR_INTERNAL;

	vote_init(out);
	vote_init(&v);
	if (!dir_period_is_valid(valid_after_s, fresh_until_s, valid_until_s))
		return UM_ERR_INVALID;
	if ((ret = dirserv_db_foreach_latest(ds, valid_after_s, vote_build_one, &vb)) != UM_OK ||
	    (ret = vote_issuers(ds, &v.issuers)) != UM_OK)
		goto out;
	v.version = VOTE_VERSION;
	v.cert = ds->keyring.certs[0];
	v.valid_after_s = valid_after_s;
	v.fresh_until_s = fresh_until_s;
	v.valid_until_s = valid_until_s;
	v.params = ds->cfg.params;
	v.n_relays = vb.n;
	v.relays = vb.e;
	vb.e = NULL;
	if ((ret = vote_sort_relays(&v)) != UM_OK || (ret = vote_sign(&v, &ds->signing)) != UM_OK ||
	    (ret = vote_encode_new(&v, &enc, &enc_len)) != UM_OK)
		goto out;
	if ((ret = dirserv_db_vote_put(ds, valid_after_s, v.cert.identity, enc, enc_len,
	                               valid_after_s, true)) != UM_OK)
		goto out;
	*out = v;
	vote_init(&v);
	ret = UM_OK;
out:
	free(vb.e);
	free(enc);
	vote_clear(&v);
	return ret;
}

int
dirserv_add_vote(struct dirserv *ds, const uint8_t *bytes, size_t len, uint64_t now_s)
{
	struct vote v;
	int ret;

	if (len > ds->cfg.max_vote_len)
		return UM_ERR_TOO_LARGE;
	if (bytes == NULL || len == 0)
		return UM_ERR_MALFORMED;
	vote_init(&v);
	if ((ret = vote_parse_verify(bytes, len, now_s, &v)) != UM_OK)
		return ret;
	if (!is_authority(ds, v.cert.identity))
		ret = UM_ERR_AUTH;
	else
		ret = dirserv_db_vote_put(ds, v.valid_after_s, v.cert.identity, bytes, len, now_s,
		                          false);
	vote_clear(&v);
	return ret;
}

/* ---- consensus ---- */

struct vote_set {
	struct dirserv *ds;
	uint64_t now_s;
	struct vote v[CONS_MAX_AUTHORITIES];
	size_t n;
};

static int
vote_collect(void *arg, const uint8_t *blob, size_t len)
{
	struct vote_set *vs = arg;

	if (vs->n == CONS_MAX_AUTHORITIES)
		return UM_OK;
	vote_init(&vs->v[vs->n]);
	if (vote_parse_verify(blob, len, vs->now_s, &vs->v[vs->n]) != UM_OK)
		return UM_OK; /* expired since we stored it: it does not count */
	if (!is_authority(vs->ds, vs->v[vs->n].cert.identity)) {
		vote_clear(&vs->v[vs->n]);
		return UM_OK;
	}
	vs->n++;
	return UM_OK;
}

/* Keep the signatures we already hold on the stored document with c's digest. */
static void
merge_stored_sigs(struct dirserv *ds, struct consensus *c)
{
	struct consensus old;
	uint8_t *blob = NULL;
	size_t len = 0;

	if (dirserv_db_cons_get(ds, c->digest, &blob, &len) != UM_OK)
		return;
	consensus_init(&old);
	if (consensus_parse(blob, len, &old) == (ssize_t)len)
		for (size_t i = 0; i < old.n_sigs; i++)
			if (consensus_add_sig(c, &old.sigs[i]) != UM_OK)
				break;
	consensus_clear(&old);
	free(blob);
}

static int
store_consensus(struct dirserv *ds, const struct consensus *c, uint64_t now_s)
{
	uint8_t *enc = NULL;
	size_t enc_len = 0;
	int ret;

	if ((ret = consensus_encode_new(c, &enc, &enc_len)) != UM_OK)
		return ret;
	if ((ret = dirserv_db_cons_put(ds, c, enc, enc_len, now_s)) == UM_OK)
		ret = cache_reload(ds);
	/* Keep a day of history: bases for diffs, votes to inspect. */
	if (ret == UM_OK && now_s > DIRSERV_KEEP_S &&
	    (ret = dirserv_db_prune(ds, now_s - DIRSERV_KEEP_S)) != UM_OK) {
		log_warn(LD_DIR, "cannot prune old consensuses and votes: %s", um_err_str(ret));
		ret = UM_OK; /* housekeeping: the consensus is stored */
	}
	free(enc);
	return ret;
}

int
dirserv_compute_consensus(struct dirserv *ds, uint64_t valid_after_s, uint64_t fresh_until_s,
                          uint64_t valid_until_s, uint64_t now_s)
{
	struct vote_set *vs = um_xcalloc(1, sizeof(*vs));
	const struct vote *ptrs[CONS_MAX_AUTHORITIES];
	struct consensus c;
	int ret;

	consensus_init(&c);
	vs->ds = ds;
	vs->now_s = now_s;
	if (!dir_period_is_valid(valid_after_s, fresh_until_s, valid_until_s)) {
		ret = UM_ERR_INVALID;
		goto out;
	}
	if ((ret = dirserv_db_foreach_vote(ds, valid_after_s, vote_collect, vs)) != UM_OK)
		goto out;
	for (size_t i = 0; i < vs->n; i++)
		ptrs[i] = &vs->v[i];
	if ((ret = consensus_compute(ptrs, vs->n, ds->n_auths, valid_after_s, fresh_until_s,
	                             valid_until_s, &c)) != UM_OK)
		goto out;
	merge_stored_sigs(ds, &c);
	if ((ret = consensus_sign(&c, &ds->keyring.certs[0], &ds->signing)) != UM_OK)
		goto out;
	ret = store_consensus(ds, &c, now_s);
out:
	consensus_clear(&c);
	for (size_t i = 0; i < vs->n; i++)
		vote_clear(&vs->v[i]);
	free(vs);
	return ret;
}

int
dirserv_consensus_sig_encode(struct dirserv *ds, const uint8_t digest[DIR_DIGEST_LEN],
                             uint8_t out[DIRSERV_SIG_MSG_LEN])
{
	struct consensus c;
	uint8_t *blob = NULL;
	size_t len = 0;
	int ret;

	memset(out, 0, DIRSERV_SIG_MSG_LEN);
	if ((ret = dirserv_db_cons_get(ds, digest, &blob, &len)) != UM_OK)
		return ret;
	consensus_init(&c);
	ret = UM_ERR_NOT_FOUND;
	if (consensus_parse(blob, len, &c) == (ssize_t)len) {
		for (size_t i = 0; i < c.n_sigs; i++) {
			if (memcmp(c.sigs[i].identity, ds->keyring.identity, AUTHCERT_ID_LEN) !=
			            0 ||
			    memcmp(c.sigs[i].signing_key, ds->signing.pk, AUTHCERT_ID_LEN) != 0)
				continue;
			memcpy(out, digest, DIR_DIGEST_LEN);
			memcpy(out + DIR_DIGEST_LEN, c.sigs[i].identity, 32);
			memcpy(out + DIR_DIGEST_LEN + 32, c.sigs[i].signing_key, 32);
			memcpy(out + DIR_DIGEST_LEN + 64, c.sigs[i].sig, 64);
			ret = UM_OK;
			break;
		}
	}
	consensus_clear(&c);
	free(blob);
	return ret;
}

/* The certificate of (identity, signing_key): from the document's authority list or, for
 * ourselves, our keyring. NULL when neither has it. */
static const struct auth_cert *
find_cert(const struct dirserv *ds, const struct consensus *c, const struct cons_sig *s)
{
	for (size_t i = 0; i < c->n_auths; i++)
		if (memcmp(c->auths[i].identity, s->identity, AUTHCERT_ID_LEN) == 0 &&
		    memcmp(c->auths[i].signing_key, s->signing_key, AUTHCERT_ID_LEN) == 0)
			return &c->auths[i];
	if (memcmp(ds->keyring.identity, s->identity, AUTHCERT_ID_LEN) == 0)
		return auth_keyring_find(&ds->keyring, s->signing_key);
	return NULL;
}

int
dirserv_add_consensus_sig(struct dirserv *ds, const uint8_t *bytes, size_t len, uint64_t now_s)
{
	struct consensus c;
	struct cons_sig s;
	const struct auth_cert *cert;
	uint8_t digest[DIR_DIGEST_LEN], msg[CONS_LABEL_LEN + DIR_DIGEST_LEN];
	uint8_t *blob = NULL;
	size_t blob_len = 0;
	int ret;

	if (bytes == NULL || len != DIRSERV_SIG_MSG_LEN)
		return len > DIRSERV_SIG_MSG_LEN ? UM_ERR_TOO_LARGE : UM_ERR_MALFORMED;
	memcpy(digest, bytes, DIR_DIGEST_LEN);
	memcpy(s.identity, bytes + DIR_DIGEST_LEN, 32);
	memcpy(s.signing_key, bytes + DIR_DIGEST_LEN + 32, 32);
	memcpy(s.sig, bytes + DIR_DIGEST_LEN + 64, 64);
	if (!is_authority(ds, s.identity))
		return UM_ERR_AUTH;
	if ((ret = dirserv_db_cons_get(ds, digest, &blob, &blob_len)) != UM_OK)
		return ret;
	consensus_init(&c);
	if (consensus_parse(blob, blob_len, &c) != (ssize_t)blob_len) {
		ret = UM_ERR_MALFORMED;
		goto out;
	}
	if ((cert = find_cert(ds, &c, &s)) == NULL ||
	    memcmp(cert->identity, s.identity, AUTHCERT_ID_LEN) != 0) {
		ret = UM_ERR_AUTH;
		goto out;
	}
	if ((ret = auth_cert_verify(cert, now_s)) != UM_OK) {
		ret = UM_ERR_AUTH;
		goto out;
	}
	memcpy(msg, cons_sig_label, CONS_LABEL_LEN);
	memcpy(msg + CONS_LABEL_LEN, digest, DIR_DIGEST_LEN);
	if ((ret = sign_ed25519_verify(s.signing_key, msg, sizeof(msg), s.sig)) != UM_OK)
		goto out;
	if ((ret = consensus_add_sig(&c, &s)) != UM_OK)
		goto out;
	ret = store_consensus(ds, &c, now_s);
out:
	consensus_clear(&c);
	free(blob);
	return ret;
}

static int
count_vote(void *arg, const uint8_t *blob, size_t len)
{
	(void)blob;
	(void)len;
	(*(size_t *)arg)++;
	return UM_OK;
}

bool
dirserv_all_votes_held(struct dirserv *ds, uint64_t valid_after_s)
{
	size_t n = 0;

	/* Only verified votes from configured authorities are stored, one per voter. */
	if (dirserv_db_foreach_vote(ds, valid_after_s, count_vote, &n) != UM_OK)
		return false;
	return n >= ds->n_auths;
}

bool
dirserv_has_live_consensus(const struct dirserv *ds, uint64_t now_s)
{
	return ds->has_cons && ds->cons.valid_until_s > now_s;
}

int
dirserv_latest_consensus(struct dirserv *ds, const uint8_t **bytes, size_t *len,
                         uint8_t digest[DIR_DIGEST_LEN])
{
	*bytes = NULL;
	*len = 0;
	if (!ds->has_cons)
		return UM_ERR_NOT_FOUND;
	*bytes = ds->cons_bytes;
	*len = ds->cons_len;
	if (digest != NULL)
		memcpy(digest, ds->cons.digest, DIR_DIGEST_LEN);
	return UM_OK;
}

int
dirserv_set_keys(struct dirserv *ds, const struct auth_keyring *keyring,
                 const struct keys_ed25519 *signing)
{
	uint8_t seed[32];

	if (signing->sk == NULL || keyring->n_certs == 0 || keyring->n_certs > AUTH_KEYRING_MAX ||
	    memcmp(keyring->certs[0].signing_key, signing->pk, AUTHCERT_ID_LEN) != 0 ||
	    memcmp(keyring->identity, ds->keyring.identity, AUTHCERT_ID_LEN) != 0)
		return UM_ERR_INVALID;
	ds->keyring = *keyring;
	keys_ed25519_clear(&ds->signing);
	keys_ed25519_seed(signing, seed);
	keys_ed25519_from_seed(&ds->signing, seed);
	um_memzero(seed, sizeof(seed));
	return UM_OK;
}

int
dirserv_consensus_diff(struct dirserv *ds, const uint8_t from[DIR_DIGEST_LEN],
                       const uint8_t **bytes, size_t *len)
{
	struct dirserv_diff *slot;
	struct consensus old;
	uint8_t *blob = NULL;
	size_t blob_len = 0;
	int ret;

	*bytes = NULL;
	*len = 0;
	if (!ds->has_cons)
		return UM_ERR_NOT_FOUND;
	if (memcmp(from, ds->cons.digest, DIR_DIGEST_LEN) == 0)
		return UM_ERR_EXISTS;
	for (size_t i = 0; i < DIRSERV_DIFF_CACHE; i++) {
		slot = &ds->diffs[i];
		if (slot->bytes != NULL && memcmp(slot->from, from, DIR_DIGEST_LEN) == 0 &&
		    memcmp(slot->to, ds->cons.digest, DIR_DIGEST_LEN) == 0) {
			*bytes = slot->bytes;
			*len = slot->len;
			return UM_OK;
		}
	}
	if ((ret = dirserv_db_cons_get(ds, from, &blob, &blob_len)) != UM_OK)
		return ret;
	consensus_init(&old);
	if (consensus_parse(blob, blob_len, &old) != (ssize_t)blob_len) {
		free(blob);
		return UM_ERR_MALFORMED; /* we only store what we encoded: a damaged database */
	}
	free(blob);
	slot = &ds->diffs[ds->diff_next];
	ds->diff_next = (ds->diff_next + 1) % DIRSERV_DIFF_CACHE;
	free(slot->bytes);
	slot->bytes = NULL;
	ret = consensus_diff_make(&old, &ds->cons, ds->cons_bytes, ds->cons_len, &slot->bytes,
	                          &slot->len);
	consensus_clear(&old);
	if (ret != UM_OK) {
		slot->bytes = NULL;
		return ret;
	}
	memcpy(slot->from, from, DIR_DIGEST_LEN);
	memcpy(slot->to, ds->cons.digest, DIR_DIGEST_LEN);
	*bytes = slot->bytes;
	*len = slot->len;
	return UM_OK;
}
