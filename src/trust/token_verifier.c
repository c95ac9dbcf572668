/* SPDX-License-Identifier: MIT */
/*
 * The exit's token verifier (token_verifier.h): per trusted issuer the newest key list (its
 * keys imported) and revocation feed, and the spent set in the store:
 *
 *   token_spent(issuer BLOB[32], epoch INTEGER, nonce BLOB[32],
 *               PRIMARY KEY (issuer, epoch, nonce)) WITHOUT ROWID
 */
#include "trust/token_verifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "crypto/blindrsa.h"
#include "trust/captoken.h"
#include "trust/idtoken.h"

static const char schema_v1[] = "CREATE TABLE token_spent ("
                                " issuer BLOB NOT NULL CHECK (length(issuer) = 32),"
                                " epoch INTEGER NOT NULL CHECK (epoch >= 0),"
                                " nonce BLOB NOT NULL CHECK (length(nonce) = 32),"
                                " PRIMARY KEY (issuer, epoch, nonce)) WITHOUT ROWID;";

static const struct store_migration migs[] = { { 1, schema_v1, NULL } };
const struct store_schema token_verifier_schema = { "exit_tokens", migs, UM_ARRAY_LEN(migs) };

static const char SQL_INSERT[] = "INSERT INTO token_spent (issuer, epoch, nonce) VALUES (?, ?, ?)";
static const char SQL_PRUNE[] = "DELETE FROM token_spent WHERE issuer = ? AND epoch < ?";

struct tv_key {
	uint8_t tier;
	uint32_t epoch;
	uint64_t not_after_s;
	struct blindrsa_key *pk;
};

struct tv_issuer {
	uint8_t id[TOKEN_VERIFIER_ID_LEN];
	/* The key list held (has_keys), its keys imported, sorted by (tier, epoch) as listed. */
	bool has_keys;
	uint64_t keys_seq;
	uint32_t key_epoch, keys_min_epoch;
	size_t n_keys;
	struct tv_key keys[ISSUER_DOC_MAX_KEYS];
	/* The revocation feed held (NULL: none yet). */
	struct issuer_revocations *revs;
	/* Spent-set rows below this epoch were deleted. */
	uint32_t pruned_below;
};

struct token_verifier {
	struct store *st;
	struct store_stmt *ins, *prune;
	size_t n;
	struct tv_issuer issuers[TOKEN_VERIFIER_ISSUERS_MAX];
	struct token_verifier_stats stats;
	bool has_audience;
	uint8_t audience[TOKEN_VERIFIER_ID_LEN]; /* the exit's identity (identified tokens) */
};

static const char *const verdict_names[TOKEN_VERDICT_MAX + 1] = {
	[TOKEN_VERDICT_ACCEPTED] = "accepted",
	[TOKEN_VERDICT_UNKNOWN_ISSUER] = "unknown-issuer",
	[TOKEN_VERDICT_INVALID] = "invalid",
	[TOKEN_VERDICT_REFUSED_EPOCH] = "refused-epoch",
	[TOKEN_VERDICT_DOUBLE_SPEND] = "double-spend",
	[TOKEN_VERDICT_HAS_TIER] = "has-tier",
	[TOKEN_VERDICT_UNAVAILABLE] = "unavailable",
	[TOKEN_VERDICT_REVOKED_SUBJECT] = "revoked-subject",
};

const char *
token_verdict_str(enum token_verdict v)
{
	if ((unsigned)v > TOKEN_VERDICT_MAX)
		return "unknown";
	return verdict_names[v];
}

/* ---- lifetime ---- */

int
token_verifier_new(struct store *st, struct token_verifier **out, char *why, size_t why_len)
{
	struct token_verifier *tv;
	int ret;

	*out = NULL;
	if (st == NULL) {
		snprintf(why, why_len, "the token verifier needs a store");
		return UM_ERR_INVALID;
	}
	if ((ret = store_migrate(st, &token_verifier_schema)) != UM_OK) {
		snprintf(why, why_len, "cannot set up the spent-token table: %s (%s)",
		         um_err_str(ret), store_errmsg(st));
		return ret;
	}
	tv = um_xcalloc(1, sizeof(*tv));
	tv->st = st;
	if ((ret = store_stmt_prepare(st, SQL_INSERT, &tv->ins)) != UM_OK ||
	    (ret = store_stmt_prepare(st, SQL_PRUNE, &tv->prune)) != UM_OK) {
		snprintf(why, why_len, "cannot prepare the spent-token statements: %s (%s)",
		         um_err_str(ret), store_errmsg(st));
		token_verifier_free(tv);
		return ret;
	}
	*out = tv;
	return UM_OK;
}

static void
keys_clear(struct tv_issuer *is)
{
	for (size_t i = 0; i < is->n_keys; i++)
		blindrsa_key_free(is->keys[i].pk);
	is->n_keys = 0;
}

void
token_verifier_free_(struct token_verifier *tv)
{
	if (tv == NULL)
		return;
	for (size_t i = 0; i < tv->n; i++) {
		keys_clear(&tv->issuers[i]);
		free(tv->issuers[i].revs);
	}
	store_stmt_free(tv->ins);
	store_stmt_free(tv->prune);
	free(tv);
}

void
token_verifier_set_audience(struct token_verifier *tv, const uint8_t id[TOKEN_VERIFIER_ID_LEN])
{
	memcpy(tv->audience, id, TOKEN_VERIFIER_ID_LEN);
	tv->has_audience = true;
}

static struct tv_issuer *
issuer_find(struct token_verifier *tv, const uint8_t id[TOKEN_VERIFIER_ID_LEN])
{
	for (size_t i = 0; i < tv->n; i++) {
		if (memcmp(tv->issuers[i].id, id, TOKEN_VERIFIER_ID_LEN) == 0)
			return &tv->issuers[i];
	}
	return NULL;
}

int
token_verifier_add_issuer(struct token_verifier *tv, const uint8_t id[TOKEN_VERIFIER_ID_LEN])
{
	if (issuer_find(tv, id) != NULL)
		return UM_ERR_EXISTS;
	if (tv->n >= TOKEN_VERIFIER_ISSUERS_MAX)
		return UM_ERR_TOO_LARGE;
	memset(&tv->issuers[tv->n], 0, sizeof(tv->issuers[tv->n]));
	memcpy(tv->issuers[tv->n].id, id, TOKEN_VERIFIER_ID_LEN);
	tv->n++;
	return UM_OK;
}

/* ---- documents ---- */

static uint32_t
min_epoch(const struct tv_issuer *is)
{
	uint32_t m = is->has_keys ? is->keys_min_epoch : 0;

	if (is->revs != NULL && is->revs->min_token_epoch > m)
		m = is->revs->min_token_epoch;
	return m;
}

/* Drop spent-set rows of epochs no token can be accepted in any more. A failure only leaves
 * rows behind (retried after the next document). */
static void
prune(struct token_verifier *tv, struct tv_issuer *is)
{
	uint32_t m = min_epoch(is);

	if (m <= is->pruned_below || store_in_tx(tv->st))
		return;
	store_stmt_reset(tv->prune);
	if (store_stmt_bind_blob(tv->prune, 1, is->id, sizeof(is->id)) != UM_OK ||
	    store_stmt_bind_int64(tv->prune, 2, m) != UM_OK ||
	    store_stmt_step(tv->prune) != STORE_DONE) {
		store_stmt_reset(tv->prune);
		tv->stats.store_errors++;
		return;
	}
	store_stmt_reset(tv->prune);
	is->pruned_below = m;
}

/* The seq rule (17.1, 17.2): only a higher seq replaces what is held. */
static int
seq_check(bool held, uint64_t held_seq, uint64_t seq)
{
	if (!held || seq > held_seq)
		return UM_OK;
	return seq == held_seq ? UM_ERR_EXISTS : UM_ERR_REPLAY;
}

static int
doc_result(struct token_verifier *tv, int ret)
{
	if (ret == UM_OK)
		tv->stats.docs_taken++;
	else if (ret != UM_ERR_EXISTS && ret != UM_ERR_NOT_FOUND)
		tv->stats.docs_refused++;
	return ret;
}

int
token_verifier_offer_keys(struct token_verifier *tv, const uint8_t id[TOKEN_VERIFIER_ID_LEN],
                          const uint8_t *doc, size_t len, uint64_t now_s)
{
	struct tv_issuer *is = issuer_find(tv, id);
	struct issuer_keys *d;
	struct tv_key keys[ISSUER_DOC_MAX_KEYS];
	size_t n = 0;
	int ret;

	if (is == NULL)
		return UM_ERR_NOT_FOUND;
	d = um_xcalloc(1, sizeof(*d));
	if ((ret = issuer_keys_parse_verify(doc, len, id, now_s, d)) != UM_OK ||
	    (ret = seq_check(is->has_keys, is->keys_seq, d->seq)) != UM_OK)
		goto out;
	/* Every key imports, or the list is refused whole: never half a list. */
	for (n = 0; n < d->n; n++) {
		keys[n].tier = d->keys[n].tier;
		keys[n].epoch = d->keys[n].epoch;
		keys[n].not_after_s = d->keys[n].not_after_s;
		if (blindrsa_pk_import(d->keys[n].spki, d->keys[n].spki_len, &keys[n].pk) !=
		    UM_OK) {
			ret = UM_ERR_MALFORMED;
			break;
		}
	}
	if (ret != UM_OK) {
		for (size_t i = 0; i < n; i++)
			blindrsa_key_free(keys[i].pk);
		goto out;
	}
	keys_clear(is);
	memcpy(is->keys, keys, n * sizeof(keys[0]));
	is->n_keys = n;
	is->has_keys = true;
	is->keys_seq = d->seq;
	is->key_epoch = d->key_epoch;
	is->keys_min_epoch = d->min_token_epoch;
	prune(tv, is);
out:
	free(d);
	return doc_result(tv, ret);
}

int
token_verifier_offer_revocations(struct token_verifier *tv, const uint8_t id[TOKEN_VERIFIER_ID_LEN],
                                 const uint8_t *doc, size_t len, uint64_t now_s)
{
	struct tv_issuer *is = issuer_find(tv, id);
	struct issuer_revocations *r;
	int ret;

	if (is == NULL)
		return UM_ERR_NOT_FOUND;
	r = um_xcalloc(1, sizeof(*r));
	if ((ret = issuer_revocations_parse_verify(doc, len, id, now_s, r)) != UM_OK ||
	    (ret = seq_check(is->revs != NULL, is->revs != NULL ? is->revs->seq : 0, r->seq)) !=
	            UM_OK) {
		free(r);
		return doc_result(tv, ret);
	}
	free(is->revs);
	is->revs = r;
	prune(tv, is);
	return doc_result(tv, UM_OK);
}

/* ---- spending ---- */

static const struct tv_key *
key_find(const struct tv_issuer *is, uint8_t tier, uint32_t epoch)
{
	for (size_t i = 0; i < is->n_keys; i++) {
		if (is->keys[i].tier == tier && is->keys[i].epoch == epoch)
			return &is->keys[i];
	}
	return NULL;
}

struct spend_row {
	struct store_stmt *ins;
	const uint8_t *issuer;
	const struct token *t;
};

/* Inside store_tx(): the INSERT; UM_ERR_EXISTS when the row is there (spent before). */
static int
spend_row_insert(struct store *st, void *arg)
{
	struct spend_row *row = arg;
	int ret;

	(void)st;
	store_stmt_reset(row->ins);
	if ((ret = store_stmt_bind_blob(row->ins, 1, row->issuer, TOKEN_VERIFIER_ID_LEN)) ==
	            UM_OK &&
	    (ret = store_stmt_bind_int64(row->ins, 2, row->t->key_epoch)) == UM_OK &&
	    (ret = store_stmt_bind_blob(row->ins, 3, row->t->nonce, sizeof(row->t->nonce))) ==
	            UM_OK) {
		ret = store_stmt_step(row->ins);
		if (ret == STORE_DONE)
			ret = UM_OK;
		else if (ret == STORE_ROW)
			ret = UM_ERR_DB;
	}
	store_stmt_reset(row->ins);
	return ret;
}

/* Put (issuer, epoch, nonce) in the spent set, durably (one transaction, committed before
 * this returns): UM_OK, UM_ERR_EXISTS (spent before), or a store error. */
static int
spent_insert(struct token_verifier *tv, const struct tv_issuer *is, const struct token *t)
{
	struct spend_row row = { .ins = tv->ins, .issuer = is->id, .t = t };

	return store_tx(tv->st, spend_row_insert, &row);
}

/*
 * An identified token (idtoken.h) of issuer is: captoken_verify() for role "access", audience
 * "exit", the proof bound to our identity and to the token's own digest. No spent set: the
 * holder shows the same token on every circuit; a copy is useless elsewhere (the proof names
 * this exit) and here only for CAPTOKEN_SKEW_S, and only this exit sees it (17.5).
 */
static enum token_verdict
judge_identified(struct token_verifier *tv, const struct tv_issuer *is, const uint8_t *token,
                 size_t len, uint64_t now_s, uint8_t *tier)
{
	uint8_t digest[CAPTOKEN_HASH_LEN];
	struct captoken_check chk;
	struct captoken ct;
	struct idtoken it;

	if (!tv->has_audience || idtoken_parse(token, len, &it) != UM_OK)
		return TOKEN_VERDICT_UNAVAILABLE;
	idtoken_digest(it.cap, it.cap_len, digest);
	memset(&chk, 0, sizeof(chk));
	chk.issuer = is->id;
	chk.revs = is->revs;
	chk.min_epoch = min_epoch(is);
	chk.aud = IDTOKEN_AUD_STR;
	chk.role = IDTOKEN_ROLE;
	chk.audience_id = tv->audience;
	chk.pop_time_s = it.pop_time_s;
	chk.digest = digest;
	chk.pop_sig = it.pop_sig;
	chk.now_s = now_s;
	switch (captoken_verify(it.cap, it.cap_len, &chk, &ct)) {
	case CAPTOKEN_OK:
		*tier = ct.tier;
		tv->stats.identified_accepted++;
		return TOKEN_VERDICT_ACCEPTED;
	case CAPTOKEN_MALFORMED:
	case CAPTOKEN_NO_FEED: /* fail closed until an unexpired feed of the issuer is here */
		return TOKEN_VERDICT_UNAVAILABLE;
	case CAPTOKEN_OLD_EPOCH:
		return TOKEN_VERDICT_REFUSED_EPOCH;
	case CAPTOKEN_REVOKED:
		return TOKEN_VERDICT_REVOKED_SUBJECT;
	case CAPTOKEN_UNKNOWN_ISSUER: /* signed by another issuer than the TOKEN names */
	case CAPTOKEN_BAD_SIG:
	case CAPTOKEN_EXPIRED:
	case CAPTOKEN_WRONG_AUD:
	case CAPTOKEN_WRONG_ROLE:
	case CAPTOKEN_BAD_POP:
	case CAPTOKEN_POP_TIME:
		break;
	}
	return TOKEN_VERDICT_INVALID;
}

static enum token_verdict
judge(struct token_verifier *tv, const uint8_t id[TOKEN_VERIFIER_ID_LEN], const uint8_t *token,
      size_t len, uint64_t now_s, uint8_t *tier)
{
	const struct tv_issuer *is = issuer_find(tv, id);
	const struct tv_key *k;
	struct token t;
	int ret;

	if (is == NULL)
		return TOKEN_VERDICT_UNKNOWN_ISSUER;
	if (idtoken_is_identified(token, len))
		return judge_identified(tv, is, token, len, now_s, tier);
	if (token_parse(token, len, &t) != UM_OK || !is->has_keys)
		return TOKEN_VERDICT_UNAVAILABLE;
	/* Epoch refusals first: a revoked or retired key may have left the list already. */
	if (t.key_epoch < min_epoch(is) ||
	    (is->revs != NULL && issuer_revocations_refuse_epoch(is->revs, t.tier, t.key_epoch)))
		return TOKEN_VERDICT_REFUSED_EPOCH;
	if ((k = key_find(is, t.tier, t.key_epoch)) == NULL || now_s > k->not_after_s ||
	    token_verify(&t, k->pk, t.tier, t.key_epoch) != UM_OK)
		return TOKEN_VERDICT_INVALID;
	ret = spent_insert(tv, is, &t);
	if (ret == UM_ERR_EXISTS)
		return TOKEN_VERDICT_DOUBLE_SPEND;
	if (ret != UM_OK) {
		tv->stats.store_errors++;
		return TOKEN_VERDICT_UNAVAILABLE;
	}
	*tier = t.tier;
	return TOKEN_VERDICT_ACCEPTED;
}

void
token_verifier_note(struct token_verifier *tv, enum token_verdict v)
{
	if ((unsigned)v > TOKEN_VERDICT_MAX)
		return;
	if (v == TOKEN_VERDICT_ACCEPTED) {
		tv->stats.accepted++;
		return;
	}
	tv->stats.refused[v]++;
	if (v == TOKEN_VERDICT_DOUBLE_SPEND)
		tv->stats.double_spends++;
}

enum token_verdict
token_verifier_spend(struct token_verifier *tv, const uint8_t id[TOKEN_VERIFIER_ID_LEN],
                     const uint8_t *token, size_t len, uint64_t now_s, uint8_t *tier)
{
	enum token_verdict v;

	*tier = 0;
	v = judge(tv, id, token, len, now_s, tier);
	token_verifier_note(tv, v);
	return v;
}

/* ---- status ---- */

void
token_verifier_stats(const struct token_verifier *tv, struct token_verifier_stats *st)
{
	*st = tv->stats;
	st->issuers = tv->n;
	st->ready = 0;
	for (size_t i = 0; i < tv->n; i++)
		st->ready += tv->issuers[i].has_keys ? 1 : 0;
}

size_t
token_verifier_n_issuers(const struct token_verifier *tv)
{
	return tv->n;
}

void
token_verifier_issuer(const struct token_verifier *tv, size_t i, struct token_issuer_info *out)
{
	const struct tv_issuer *is;

	memset(out, 0, sizeof(*out));
	if (i >= tv->n)
		return;
	is = &tv->issuers[i];
	memcpy(out->id, is->id, sizeof(out->id));
	out->has_keys = is->has_keys;
	out->keys_seq = is->keys_seq;
	out->key_epoch = is->key_epoch;
	out->n_keys = is->n_keys;
	out->has_revocations = is->revs != NULL;
	if (is->revs != NULL) {
		out->revocations_seq = is->revs->seq;
		out->revocations_expires_s = is->revs->expires_s;
	}
	out->min_token_epoch = min_epoch(is);
}
