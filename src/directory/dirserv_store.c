/* SPDX-License-Identifier: MIT */
/*
 * The authority's tables (schema "directory"): descriptors by digest, each relay's latest
 * descriptor, reachability, votes per period and voter, consensus documents, peer
 * directories and issuer key lists. Fixed SQL with `?` parameters only; each call prepares, runs
 * and frees its statement (a handful per request; the loop thread is never held long).
 */
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "lib/wire.h"
#include "directory/dirserv_st.h"

static const char schema_v1[] =
        "CREATE TABLE descriptors ("
        " digest BLOB PRIMARY KEY NOT NULL,"
        " identity BLOB NOT NULL,"
        " published INTEGER NOT NULL,"
        " expires INTEGER NOT NULL,"
        " received INTEGER NOT NULL,"
        " source TEXT NOT NULL,"
        " body BLOB NOT NULL);"
        "CREATE INDEX descriptors_identity ON descriptors(identity, published);"
        "CREATE TABLE relays ("
        " identity BLOB PRIMARY KEY NOT NULL,"
        " digest BLOB NOT NULL REFERENCES descriptors(digest),"
        " published INTEGER NOT NULL,"
        " expires INTEGER NOT NULL,"
        " first_seen INTEGER NOT NULL);"
        "CREATE TABLE reachability ("
        " identity BLOB PRIMARY KEY NOT NULL,"
        " last_ok INTEGER NOT NULL);"
        "CREATE TABLE votes ("
        " valid_after INTEGER NOT NULL,"
        " voter BLOB NOT NULL,"
        " received INTEGER NOT NULL,"
        " body BLOB NOT NULL,"
        " PRIMARY KEY (valid_after, voter));"
        "CREATE TABLE consensus ("
        " digest BLOB PRIMARY KEY NOT NULL,"
        " valid_after INTEGER NOT NULL,"
        " valid_until INTEGER NOT NULL,"
        " stored INTEGER NOT NULL,"
        " body BLOB NOT NULL);"
        "CREATE INDEX consensus_valid_after ON consensus(valid_after);"
        "CREATE TABLE peers ("
        " url TEXT PRIMARY KEY NOT NULL,"
        " identity BLOB,"
        " etag TEXT,"
        " last_sync INTEGER NOT NULL DEFAULT 0);";

/* Federation (dirfed.h): the hop count a descriptor was stored at (0: uploaded directly). */
static const char schema_v2_hops[] =
        "ALTER TABLE descriptors ADD COLUMN hops INTEGER NOT NULL DEFAULT 0;";

/* Issuer key lists (dir_issuers.h): the newest verified one per issuer. seq is the list's
 * u64 sequence number, big-endian in 8 bytes (SQLite integers are signed). */
static const char schema_v3_issuers[] = "CREATE TABLE issuer_keys ("
                                        " identity BLOB PRIMARY KEY NOT NULL,"
                                        " seq BLOB NOT NULL,"
                                        " stored INTEGER NOT NULL,"
                                        " body BLOB NOT NULL);";

static const struct store_migration migs[] = {
	{ 1, schema_v1, NULL },
	{ 2, schema_v2_hops, NULL },
	{ 3, schema_v3_issuers, NULL },
};

const struct store_schema dirserv_schema = { "directory", migs, sizeof(migs) / sizeof(migs[0]) };

static int
i64(uint64_t v)
{
	return v > INT64_MAX ? 0 : 1;
}

/* Bind a u64 as an SQLite integer (values over INT64_MAX are a caller bug: refused). */
static int
bind_u64(struct store_stmt *s, int idx, uint64_t v)
{
	if (!i64(v))
		return UM_ERR_INVALID;
	return store_stmt_bind_int64(s, idx, (int64_t)v);
}

static int
col_u64(struct store_stmt *s, int col, uint64_t *v)
{
	int64_t x;
	int ret;

	*v = 0;
	if ((ret = store_stmt_column_int64(s, col, &x)) != UM_OK)
		return ret;
	if (x < 0)
		return UM_ERR_MALFORMED;
	*v = (uint64_t)x;
	return UM_OK;
}

/* Copy a blob column into a new buffer. */
static int
col_blob_dup(struct store_stmt *s, int col, uint8_t **out, size_t *len)
{
	const uint8_t *p;
	int ret;

	*out = NULL;
	*len = 0;
	if ((ret = store_stmt_column_blob(s, col, &p, len)) != UM_OK)
		return ret;
	*out = um_xmalloc(*len > 0 ? *len : 1);
	if (*len > 0)
		memcpy(*out, p, *len);
	return UM_OK;
}

/* Run a statement that returns no rows. */
static int
step_done(struct store_stmt *s)
{
	int ret = store_stmt_step(s);

	if (ret == STORE_DONE)
		return UM_OK;
	return ret < 0 ? ret : UM_ERR_INTERNAL;
}

int
dirserv_db_latest_published(struct dirserv *ds, const uint8_t identity[32], uint64_t *published_s,
                            uint8_t digest[32])
{
	struct store_stmt *s = NULL;
	const uint8_t *p;
	size_t n;
	int ret;

	*published_s = 0;
	memset(digest, 0, 32);
	if ((ret = store_stmt_prepare(ds->st,
	                              "SELECT published, digest FROM relays WHERE identity = ?",
	                              &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_blob(s, 1, identity, 32)) != UM_OK)
		goto out;
	ret = store_stmt_step(s);
	if (ret == STORE_DONE) {
		ret = UM_ERR_NOT_FOUND;
		goto out;
	}
	if (ret < 0)
		goto out;
	if ((ret = col_u64(s, 0, published_s)) != UM_OK ||
	    (ret = store_stmt_column_blob(s, 1, &p, &n)) != UM_OK)
		goto out;
	if (n != 32) {
		ret = UM_ERR_MALFORMED;
		goto out;
	}
	memcpy(digest, p, 32);
	ret = UM_OK;
out:
	store_stmt_free(s);
	return ret;
}

bool
dirserv_db_desc_exists(struct dirserv *ds, const uint8_t digest[32])
{
	struct store_stmt *s = NULL;
	bool found = false;

	if (store_stmt_prepare(ds->st, "SELECT 1 FROM descriptors WHERE digest = ?", &s) != UM_OK)
		return false;
	if (store_stmt_bind_blob(s, 1, digest, 32) == UM_OK && store_stmt_step(s) == STORE_ROW)
		found = true;
	store_stmt_free(s);
	return found;
}

struct desc_put {
	struct dirserv *ds;
	const uint8_t *digest;
	const struct relay_desc *d;
	const uint8_t *blob;
	size_t len;
	const char *source;
	uint8_t hops;
	uint64_t now_s;
};

static int
desc_put_tx(struct store *st, void *arg)
{
	struct desc_put *a = arg;
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = store_stmt_prepare(
	             st,
	             "INSERT OR IGNORE INTO descriptors (digest, identity, published,"
	             " expires, received, source, body, hops) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	             &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_blob(s, 1, a->digest, 32)) != UM_OK ||
	    (ret = store_stmt_bind_blob(s, 2, a->d->identity, 32)) != UM_OK ||
	    (ret = bind_u64(s, 3, a->d->published_s)) != UM_OK ||
	    (ret = bind_u64(s, 4, a->d->expires_s)) != UM_OK ||
	    (ret = bind_u64(s, 5, a->now_s)) != UM_OK ||
	    (ret = store_stmt_bind_text(s, 6, a->source)) != UM_OK ||
	    (ret = store_stmt_bind_blob(s, 7, a->blob, a->len)) != UM_OK ||
	    (ret = store_stmt_bind_int64(s, 8, a->hops)) != UM_OK || (ret = step_done(s)) != UM_OK)
		goto out;
	store_stmt_free(s);
	/* The latest per relay; first_seen survives updates. */
	if ((ret = store_stmt_prepare(st,
	                              "INSERT INTO relays (identity, digest, published, expires,"
	                              " first_seen) VALUES (?, ?, ?, ?, ?) ON CONFLICT(identity) DO"
	                              " UPDATE SET digest = excluded.digest, published ="
	                              " excluded.published, expires = excluded.expires"
	                              " WHERE excluded.published > relays.published",
	                              &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_blob(s, 1, a->d->identity, 32)) != UM_OK ||
	    (ret = store_stmt_bind_blob(s, 2, a->digest, 32)) != UM_OK ||
	    (ret = bind_u64(s, 3, a->d->published_s)) != UM_OK ||
	    (ret = bind_u64(s, 4, a->d->expires_s)) != UM_OK ||
	    (ret = bind_u64(s, 5, a->now_s)) != UM_OK)
		goto out;
	ret = step_done(s);
out:
	store_stmt_free(s);
	return ret;
}

int
dirserv_db_desc_put(struct dirserv *ds, const uint8_t digest[32], const struct relay_desc *d,
                    const uint8_t *blob, size_t len, const char *source, uint8_t hops,
                    uint64_t now_s)
{
	struct desc_put a = { ds, digest, d, blob, len, source, hops, now_s };

	return store_tx(ds->st, desc_put_tx, &a);
}

int
dirserv_db_desc_hops(struct dirserv *ds, const uint8_t digest[32], uint8_t *hops)
{
	struct store_stmt *s = NULL;
	uint64_t v;
	int ret;

	*hops = 0;
	if ((ret = store_stmt_prepare(ds->st, "SELECT hops FROM descriptors WHERE digest = ?",
	                              &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_blob(s, 1, digest, 32)) != UM_OK)
		goto out;
	ret = store_stmt_step(s);
	if (ret == STORE_DONE) {
		ret = UM_ERR_NOT_FOUND;
	} else if (ret == STORE_ROW) {
		if ((ret = col_u64(s, 0, &v)) == UM_OK)
			*hops = v > 255 ? 255 : (uint8_t)v;
	}
out:
	store_stmt_free(s);
	return ret;
}

int
dirserv_db_desc_lower_hops(struct dirserv *ds, const uint8_t digest[32], uint8_t hops)
{
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = store_stmt_prepare(
	             ds->st, "UPDATE descriptors SET hops = ? WHERE digest = ? AND hops > ?",
	             &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_int64(s, 1, hops)) == UM_OK &&
	    (ret = store_stmt_bind_blob(s, 2, digest, 32)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 3, hops)) == UM_OK)
		ret = step_done(s);
	store_stmt_free(s);
	return ret;
}

int
dirserv_db_foreach_current(struct dirserv *ds, uint64_t after_s, dirserv_current_fn *fn, void *arg)
{
	struct store_stmt *s = NULL;
	const uint8_t *p;
	size_t n;
	uint64_t hops;
	int ret;

	if ((ret = store_stmt_prepare(ds->st,
	                              "SELECT d.body, d.hops FROM relays r JOIN descriptors d"
	                              " ON d.digest = r.digest WHERE r.expires > ?"
	                              " ORDER BY r.identity",
	                              &s)) != UM_OK)
		return ret;
	if ((ret = bind_u64(s, 1, after_s)) != UM_OK)
		goto out;
	while ((ret = store_stmt_step(s)) == STORE_ROW) {
		if ((ret = store_stmt_column_blob(s, 0, &p, &n)) != UM_OK ||
		    (ret = col_u64(s, 1, &hops)) != UM_OK)
			goto out;
		if ((ret = fn(arg, p, n, hops > 255 ? 255 : (uint8_t)hops)) != UM_OK)
			goto out;
	}
	if (ret == STORE_DONE)
		ret = UM_OK;
out:
	store_stmt_free(s);
	return ret;
}

/* SELECT body ... WHERE <blob key> = ?, copied out. */
static int
get_blob_by_key(struct dirserv *ds, const char *sql, const uint8_t *key, size_t key_len,
                uint8_t **blob, size_t *len)
{
	struct store_stmt *s = NULL;
	int ret;

	*blob = NULL;
	*len = 0;
	if ((ret = store_stmt_prepare(ds->st, sql, &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_blob(s, 1, key, key_len)) != UM_OK)
		goto out;
	ret = store_stmt_step(s);
	if (ret == STORE_DONE)
		ret = UM_ERR_NOT_FOUND;
	else if (ret == STORE_ROW)
		ret = col_blob_dup(s, 0, blob, len);
out:
	store_stmt_free(s);
	return ret;
}

int
dirserv_db_desc_get(struct dirserv *ds, const uint8_t digest[32], uint8_t **blob, size_t *len)
{
	return get_blob_by_key(ds, "SELECT body FROM descriptors WHERE digest = ?", digest, 32,
	                       blob, len);
}

int
dirserv_db_foreach_latest(struct dirserv *ds, uint64_t after_s, dirserv_latest_fn *fn, void *arg)
{
	struct store_stmt *s = NULL;
	const uint8_t *p;
	size_t n;
	uint64_t first, reach;
	int ret;

	if ((ret = store_stmt_prepare(ds->st,
	                              "SELECT d.body, r.first_seen, COALESCE(x.last_ok, 0)"
	                              " FROM relays r JOIN descriptors d ON d.digest = r.digest"
	                              " LEFT JOIN reachability x ON x.identity = r.identity"
	                              " WHERE r.expires > ? ORDER BY r.identity",
	                              &s)) != UM_OK)
		return ret;
	if ((ret = bind_u64(s, 1, after_s)) != UM_OK)
		goto out;
	while ((ret = store_stmt_step(s)) == STORE_ROW) {
		if ((ret = store_stmt_column_blob(s, 0, &p, &n)) != UM_OK ||
		    (ret = col_u64(s, 1, &first)) != UM_OK ||
		    (ret = col_u64(s, 2, &reach)) != UM_OK)
			goto out;
		if ((ret = fn(arg, p, n, first, reach)) != UM_OK)
			goto out;
	}
	if (ret == STORE_DONE)
		ret = UM_OK;
out:
	store_stmt_free(s);
	return ret;
}

int
dirserv_db_reach_set(struct dirserv *ds, const uint8_t identity[32], uint64_t when_s)
{
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = store_stmt_prepare(ds->st,
	                              "INSERT INTO reachability (identity, last_ok) VALUES (?, ?)"
	                              " ON CONFLICT(identity) DO UPDATE SET last_ok ="
	                              " MAX(last_ok, excluded.last_ok)",
	                              &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_blob(s, 1, identity, 32)) == UM_OK &&
	    (ret = bind_u64(s, 2, when_s)) == UM_OK)
		ret = step_done(s);
	store_stmt_free(s);
	return ret;
}

int
dirserv_db_vote_get(struct dirserv *ds, uint64_t valid_after_s, const uint8_t voter[32],
                    uint8_t **blob, size_t *len)
{
	struct store_stmt *s = NULL;
	int ret;

	*blob = NULL;
	*len = 0;
	if ((ret = store_stmt_prepare(ds->st,
	                              "SELECT body FROM votes WHERE valid_after = ? AND voter = ?",
	                              &s)) != UM_OK)
		return ret;
	if ((ret = bind_u64(s, 1, valid_after_s)) != UM_OK ||
	    (ret = store_stmt_bind_blob(s, 2, voter, 32)) != UM_OK)
		goto out;
	ret = store_stmt_step(s);
	if (ret == STORE_DONE)
		ret = UM_ERR_NOT_FOUND;
	else if (ret == STORE_ROW)
		ret = col_blob_dup(s, 0, blob, len);
out:
	store_stmt_free(s);
	return ret;
}

int
dirserv_db_vote_put(struct dirserv *ds, uint64_t valid_after_s, const uint8_t voter[32],
                    const uint8_t *blob, size_t len, uint64_t now_s, bool replace)
{
	struct store_stmt *s = NULL;
	uint8_t *old = NULL;
	size_t old_len = 0;
	int ret;

	if (!replace) {
		ret = dirserv_db_vote_get(ds, valid_after_s, voter, &old, &old_len);
		if (ret == UM_OK) {
			ret = old_len == len && memcmp(old, blob, len) == 0 ? UM_OK : UM_ERR_EXISTS;
			free(old);
			return ret;
		}
		if (ret != UM_ERR_NOT_FOUND)
			return ret;
	}
	if ((ret = store_stmt_prepare(ds->st,
	                              "INSERT OR REPLACE INTO votes (valid_after, voter, received,"
	                              " body) VALUES (?, ?, ?, ?)",
	                              &s)) != UM_OK)
		return ret;
	if ((ret = bind_u64(s, 1, valid_after_s)) == UM_OK &&
	    (ret = store_stmt_bind_blob(s, 2, voter, 32)) == UM_OK &&
	    (ret = bind_u64(s, 3, now_s)) == UM_OK &&
	    (ret = store_stmt_bind_blob(s, 4, blob, len)) == UM_OK)
		ret = step_done(s);
	store_stmt_free(s);
	return ret;
}

int
dirserv_db_foreach_vote(struct dirserv *ds, uint64_t valid_after_s, dirserv_blob_fn *fn, void *arg)
{
	struct store_stmt *s = NULL;
	const uint8_t *p;
	size_t n;
	int ret;

	if ((ret = store_stmt_prepare(ds->st,
	                              "SELECT body FROM votes WHERE valid_after = ? ORDER BY voter",
	                              &s)) != UM_OK)
		return ret;
	if ((ret = bind_u64(s, 1, valid_after_s)) != UM_OK)
		goto out;
	while ((ret = store_stmt_step(s)) == STORE_ROW) {
		if ((ret = store_stmt_column_blob(s, 0, &p, &n)) != UM_OK ||
		    (ret = fn(arg, p, n)) != UM_OK)
			goto out;
	}
	if (ret == STORE_DONE)
		ret = UM_OK;
out:
	store_stmt_free(s);
	return ret;
}

int
dirserv_db_cons_put(struct dirserv *ds, const struct consensus *c, const uint8_t *blob, size_t len,
                    uint64_t now_s)
{
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = store_stmt_prepare(
	             ds->st,
	             "INSERT INTO consensus (digest, valid_after, valid_until, stored,"
	             " body) VALUES (?, ?, ?, ?, ?) ON CONFLICT(digest) DO UPDATE"
	             " SET body = excluded.body, stored = excluded.stored",
	             &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_blob(s, 1, c->digest, DIR_DIGEST_LEN)) == UM_OK &&
	    (ret = bind_u64(s, 2, c->valid_after_s)) == UM_OK &&
	    (ret = bind_u64(s, 3, c->valid_until_s)) == UM_OK &&
	    (ret = bind_u64(s, 4, now_s)) == UM_OK &&
	    (ret = store_stmt_bind_blob(s, 5, blob, len)) == UM_OK)
		ret = step_done(s);
	store_stmt_free(s);
	return ret;
}

/* Drop consensuses and votes for periods that ended before before_s. */
int
dirserv_db_prune(struct dirserv *ds, uint64_t before_s)
{
	static const char *const sql[] = {
		"DELETE FROM consensus WHERE valid_until < ?",
		"DELETE FROM votes WHERE valid_after < ?",
	};
	struct store_stmt *s = NULL;
	int ret = UM_OK;

	for (size_t i = 0; i < UM_ARRAY_LEN(sql) && ret == UM_OK; i++) {
		if ((ret = store_stmt_prepare(ds->st, sql[i], &s)) != UM_OK)
			return ret;
		if ((ret = bind_u64(s, 1, before_s)) == UM_OK)
			ret = step_done(s);
		store_stmt_free(s);
	}
	return ret;
}

int
dirserv_db_cons_get(struct dirserv *ds, const uint8_t digest[32], uint8_t **blob, size_t *len)
{
	return get_blob_by_key(ds, "SELECT body FROM consensus WHERE digest = ?", digest, 32, blob,
	                       len);
}

int
dirserv_db_cons_latest(struct dirserv *ds, uint8_t **blob, size_t *len)
{
	struct store_stmt *s = NULL;
	int ret;

	*blob = NULL;
	*len = 0;
	if ((ret = store_stmt_prepare(ds->st,
	                              "SELECT body FROM consensus ORDER BY valid_after DESC,"
	                              " stored DESC, digest DESC LIMIT 1",
	                              &s)) != UM_OK)
		return ret;
	ret = store_stmt_step(s);
	if (ret == STORE_DONE)
		ret = UM_ERR_NOT_FOUND;
	else if (ret == STORE_ROW)
		ret = col_blob_dup(s, 0, blob, len);
	store_stmt_free(s);
	return ret;
}

int
dirserv_db_issuer_get(struct dirserv *ds, const uint8_t identity[32], uint8_t **blob, size_t *len,
                      uint64_t *seq)
{
	struct store_stmt *s = NULL;
	const uint8_t *p;
	size_t n;
	int ret;

	*blob = NULL;
	*len = 0;
	*seq = 0;
	if ((ret = store_stmt_prepare(
	             ds->st, "SELECT seq, body FROM issuer_keys WHERE identity = ?", &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_blob(s, 1, identity, 32)) != UM_OK)
		goto out;
	ret = store_stmt_step(s);
	if (ret == STORE_DONE) {
		ret = UM_ERR_NOT_FOUND;
		goto out;
	}
	if (ret < 0)
		goto out;
	if ((ret = store_stmt_column_blob(s, 0, &p, &n)) != UM_OK)
		goto out;
	if (n != 8) {
		ret = UM_ERR_MALFORMED;
		goto out;
	}
	*seq = wire_load_u64(p);
	ret = col_blob_dup(s, 1, blob, len);
out:
	store_stmt_free(s);
	return ret;
}

int
dirserv_db_issuer_put(struct dirserv *ds, const uint8_t identity[32], const uint8_t *blob,
                      size_t len, uint64_t seq, uint64_t now_s)
{
	struct store_stmt *s = NULL;
	uint8_t be[8];
	int ret;

	wire_store_u64(be, seq);
	if ((ret = store_stmt_prepare(ds->st,
	                              "INSERT OR REPLACE INTO issuer_keys (identity, seq, stored,"
	                              " body) VALUES (?, ?, ?, ?)",
	                              &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_blob(s, 1, identity, 32)) == UM_OK &&
	    (ret = store_stmt_bind_blob(s, 2, be, sizeof(be))) == UM_OK &&
	    (ret = bind_u64(s, 3, now_s)) == UM_OK &&
	    (ret = store_stmt_bind_blob(s, 4, blob, len)) == UM_OK)
		ret = step_done(s);
	store_stmt_free(s);
	return ret;
}
