/* SPDX-License-Identifier: MIT */
/* The client's token wallet (wallet.h). */
#include "trust/wallet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"

static const struct store_migration wallet_migs[] = {
	{ 1,
	  "CREATE TABLE wallet_tokens ("
	  " id INTEGER PRIMARY KEY,"
	  " issuer BLOB NOT NULL CHECK (length(issuer) = 32),"
	  " tier INTEGER NOT NULL CHECK (tier BETWEEN 1 AND 15),"
	  " epoch INTEGER NOT NULL CHECK (epoch BETWEEN 0 AND 4294967295),"
	  " token BLOB NOT NULL UNIQUE,"
	  " added INTEGER NOT NULL);"
	  "CREATE INDEX wallet_tokens_pick ON wallet_tokens (tier, epoch, id);",
	  NULL },
};

static const struct store_schema wallet_schema = { "wallet", wallet_migs,
	                                           sizeof(wallet_migs) / sizeof(wallet_migs[0]) };

struct wallet {
	struct store *st;
};

int
wallet_open(struct store *st, struct wallet **out, char *why, size_t why_len)
{
	int ret;

	*out = NULL;
	if ((ret = store_migrate(st, &wallet_schema)) != UM_OK) {
		snprintf(why, why_len, "cannot open the token wallet: %s", store_errmsg(st));
		return ret;
	}
	*out = um_xcalloc(1, sizeof(**out));
	(*out)->st = st;
	return UM_OK;
}

void
wallet_free_(struct wallet *w)
{
	free(w);
}

/* Run one statement to its end (a write). */
static int
run(struct store_stmt *s)
{
	int ret = store_stmt_step(s);

	return ret == STORE_DONE ? UM_OK : ret == STORE_ROW ? UM_ERR_STATE : ret;
}

static int
count_all(struct wallet *w, int64_t *n)
{
	struct store_stmt *s = NULL;
	int ret;

	*n = 0;
	if ((ret = store_stmt_prepare(w->st, "SELECT count(*) FROM wallet_tokens", &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_step(s)) == STORE_ROW)
		ret = store_stmt_column_int64(s, 0, n);
	else if (ret == STORE_DONE)
		ret = UM_ERR_DB;
	store_stmt_free(s);
	return ret;
}

int
wallet_add(struct wallet *w, const uint8_t issuer[WALLET_ISSUER_LEN], const uint8_t *token,
           size_t len, uint64_t now_s)
{
	struct store_stmt *s = NULL;
	struct token t;
	int64_t n;
	int ret;

	/* Only what parses is kept: tier and epoch come from the token itself. */
	if (token_parse(token, len, &t) != UM_OK)
		return UM_ERR_MALFORMED;
	if ((ret = count_all(w, &n)) != UM_OK)
		return ret;
	if (n >= WALLET_MAX_TOKENS)
		return UM_ERR_TOO_LARGE;
	if ((ret = store_stmt_prepare(
	             w->st,
	             "INSERT INTO wallet_tokens (issuer, tier, epoch, token, added)"
	             " VALUES (?, ?, ?, ?, ?)",
	             &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_blob(s, 1, issuer, WALLET_ISSUER_LEN)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 2, t.tier)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 3, t.key_epoch)) == UM_OK &&
	    (ret = store_stmt_bind_blob(s, 4, token, len)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 5, (int64_t)now_s)) == UM_OK)
		ret = run(s);
	store_stmt_free(s);
	return ret;
}

/* Delete tokens of epochs below min_epoch (no exit takes them). */
static int
drop_old(struct wallet *w, uint32_t min_epoch)
{
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = store_stmt_prepare(w->st, "DELETE FROM wallet_tokens WHERE epoch < ?", &s)) !=
	    UM_OK)
		return ret;
	if ((ret = store_stmt_bind_int64(s, 1, min_epoch)) == UM_OK)
		ret = run(s);
	store_stmt_free(s);
	return ret;
}

int
wallet_take(struct wallet *w, uint8_t tier, uint32_t min_epoch, uint8_t issuer[WALLET_ISSUER_LEN],
            uint8_t *token, size_t cap, size_t *len)
{
	struct store_stmt *s = NULL, *d = NULL;
	const uint8_t *p, *ip;
	size_t n = 0, in = 0;
	int64_t id = 0;
	int ret;

	*len = 0;
	if ((ret = store_begin(w->st)) != UM_OK)
		return ret;
	if (min_epoch > 0 && (ret = drop_old(w, min_epoch)) != UM_OK)
		goto out;
	/* The tier asked for (or the highest held), its oldest epoch, its oldest token. */
	ret = store_stmt_prepare(w->st,
	                         "SELECT id, issuer, token FROM wallet_tokens"
	                         " WHERE (? = 0 OR tier = ?)"
	                         " ORDER BY tier DESC, epoch ASC, id ASC LIMIT 1",
	                         &s);
	if (ret != UM_OK)
		goto out;
	if ((ret = store_stmt_bind_int64(s, 1, tier)) != UM_OK ||
	    (ret = store_stmt_bind_int64(s, 2, tier)) != UM_OK)
		goto out;
	if ((ret = store_stmt_step(s)) == STORE_DONE) {
		ret = UM_ERR_NOT_FOUND;
		goto out;
	}
	if (ret != STORE_ROW)
		goto out;
	if ((ret = store_stmt_column_int64(s, 0, &id)) != UM_OK ||
	    (ret = store_stmt_column_blob(s, 1, &ip, &in)) != UM_OK ||
	    (ret = store_stmt_column_blob(s, 2, &p, &n)) != UM_OK)
		goto out;
	if (in != WALLET_ISSUER_LEN || n > WALLET_TOKEN_MAX) {
		ret = UM_ERR_DB; /* CHECKs and wallet_add() keep these out */
		goto out;
	}
	if (n > cap) {
		ret = UM_ERR_TOO_LARGE; /* kept: the caller's room is too small for it */
		goto out;
	}
	memcpy(issuer, ip, WALLET_ISSUER_LEN);
	memcpy(token, p, n);
	store_stmt_reset(s);
	if ((ret = store_stmt_prepare(w->st, "DELETE FROM wallet_tokens WHERE id = ?", &d)) !=
	            UM_OK ||
	    (ret = store_stmt_bind_int64(d, 1, id)) != UM_OK || (ret = run(d)) != UM_OK)
		goto out;
	*len = n;
out:
	store_stmt_free(s);
	store_stmt_free(d);
	if ((ret = store_end(w->st, ret)) != UM_OK) {
		*len = 0;
		um_memzero(token, cap);
	}
	return ret;
}

int
wallet_counts(struct wallet *w, wallet_count_fn *fn, void *arg)
{
	struct store_stmt *s = NULL;
	const uint8_t *ip;
	size_t in;
	int64_t tier, epoch, n;
	int ret;

	if ((ret = store_stmt_prepare(w->st,
	                              "SELECT issuer, tier, epoch, count(*) FROM wallet_tokens"
	                              " GROUP BY issuer, tier, epoch ORDER BY issuer, tier, epoch",
	                              &s)) != UM_OK)
		return ret;
	while ((ret = store_stmt_step(s)) == STORE_ROW) {
		if ((ret = store_stmt_column_blob(s, 0, &ip, &in)) != UM_OK ||
		    (ret = store_stmt_column_int64(s, 1, &tier)) != UM_OK ||
		    (ret = store_stmt_column_int64(s, 2, &epoch)) != UM_OK ||
		    (ret = store_stmt_column_int64(s, 3, &n)) != UM_OK)
			break;
		if (in != WALLET_ISSUER_LEN) {
			ret = UM_ERR_DB;
			break;
		}
		if ((ret = fn(arg, ip, (uint8_t)tier, (uint32_t)epoch, (uint64_t)n)) != UM_OK)
			break;
	}
	if (ret == STORE_DONE)
		ret = UM_OK;
	store_stmt_free(s);
	return ret;
}
