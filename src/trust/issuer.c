/* SPDX-License-Identifier: MIT */
/*
 * The issuer's subject-management core: validation, the effective tier rule, lifecycle, the
 * reads (subject views, snapshots, listings, audit trail and its verification) and the
 * shorthand mutations (see issuer.h). The mutations themselves are in issuer_ops.c, storage
 * in issuer_store.c, the admin HTTP API in issuer_http.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"
#include "trust/issuer_st.h"
#include "trust/issuer_roles.h"

void
issuer_config_defaults(struct issuer_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->dispute_ttl_max_s = ISSUER_DISPUTE_TTL_DEFAULT_S;
	cfg->appeal_ttl_max_s = ISSUER_APPEAL_TTL_DEFAULT_S;
}

/* ---- validation ---- */

static bool
id_char_ok(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
}

bool
issuer_id_is_valid(const char *id)
{
	size_t n;

	if (id == NULL)
		return false;
	for (n = 0; id[n] != '\0'; n++)
		if (n >= ISSUER_ID_MAX_LEN || !id_char_ok(id[n]))
			return false;
	/* "." and ".." would be rewritten by URL normalisation on the way to the admin API. */
	return n > 0 && strcmp(id, ".") != 0 && strcmp(id, "..") != 0;
}

bool
issuer_text_is_valid(const char *s)
{
	if (s == NULL)
		return false;
	for (size_t n = 0; s[n] != '\0'; n++)
		if (n >= ISSUER_TEXT_MAX_LEN || s[n] < 0x20 || s[n] > 0x7e)
			return false;
	return true;
}

const char *
issuer_kind_name(enum issuer_kind kind)
{
	return kind == ISSUER_KIND_RELAY ? "relay" : "client";
}

int
issuer_kind_parse(const char *s, enum issuer_kind *kind)
{
	*kind = ISSUER_KIND_CLIENT;
	if (s != NULL && strcmp(s, "client") == 0)
		return UM_OK;
	if (s != NULL && strcmp(s, "relay") == 0) {
		*kind = ISSUER_KIND_RELAY;
		return UM_OK;
	}
	return UM_ERR_INVALID;
}

const char *
issuer_outcome_name(enum issuer_outcome outcome)
{
	switch (outcome) {
	case ISSUER_OUTCOME_GRANTED:
		return "granted";
	case ISSUER_OUTCOME_DENIED:
		return "denied";
	case ISSUER_OUTCOME_WITHDRAWN:
		return "withdrawn";
	case ISSUER_OUTCOME_NONE:
	default:
		return "";
	}
}

int
issuer_outcome_parse(const char *s, enum issuer_outcome *outcome)
{
	*outcome = ISSUER_OUTCOME_NONE;
	if (s != NULL && strcmp(s, "granted") == 0)
		*outcome = ISSUER_OUTCOME_GRANTED;
	else if (s != NULL && strcmp(s, "denied") == 0)
		*outcome = ISSUER_OUTCOME_DENIED;
	else if (s != NULL && strcmp(s, "withdrawn") == 0)
		*outcome = ISSUER_OUTCOME_WITHDRAWN;
	else
		return UM_ERR_INVALID;
	return UM_OK;
}

static bool
tier_ok(unsigned tier)
{
	return tier >= ISSUER_TIER_MIN && tier <= ISSUER_TIER_MAX;
}

/* ---- the effective tier rule ---- */

bool
issuer_dispute_is_active(const struct issuer_dispute *d, uint64_t now_s)
{
	/* opened_s <= now_s too: after the clock steps back, a dispute opened "later" waits. The
	 * store's DISPUTE_ACTIVE_WHERE is this predicate in SQL. */
	return !d->cleared && d->opened_s <= now_s && now_s < d->expires_s;
}

uint8_t
issuer_effective_tier(enum issuer_kind kind, uint8_t base_tier,
                      const struct issuer_dispute *disputes, size_t n, uint64_t now_s,
                      size_t *cap_idx)
{
	size_t best = SIZE_MAX;
	uint8_t tier = tier_ok(base_tier) ? base_tier : ISSUER_TIER_MIN;

	for (size_t i = 0; i < n && disputes != NULL; i++) {
		const struct issuer_dispute *d = &disputes[i];

		if (!issuer_dispute_is_active(d, now_s))
			continue;
		if (best == SIZE_MAX || d->tier_cap < disputes[best].tier_cap ||
		    (d->tier_cap == disputes[best].tier_cap &&
		     d->expires_s > disputes[best].expires_s))
			best = i;
	}
	if (cap_idx != NULL)
		*cap_idx = best;
	/* Relays carry traffic, they do not buy access: a relay subject is tier 1 (issue 5). */
	if (kind == ISSUER_KIND_RELAY)
		return ISSUER_TIER_MIN;
	if (best != SIZE_MAX && disputes[best].tier_cap < tier)
		tier = tier_ok(disputes[best].tier_cap) ? disputes[best].tier_cap : ISSUER_TIER_MIN;
	return tier;
}

/* ---- lifecycle ---- */

static int
say(char *why, size_t why_len, int err, const char *msg)
{
	if (why != NULL && why_len > 0)
		snprintf(why, why_len, "%s", msg);
	return err;
}

static bool
token_ok(const char *t)
{
	size_t n = strlen(t);

	if (n < ISSUER_ADMIN_TOKEN_MIN_LEN || n > ISSUER_ADMIN_TOKEN_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (t[i] <= 0x20 || t[i] > 0x7e)
			return false;
	return true;
}

int
issuer_open(struct store *st, const struct issuer_config *cfg, struct issuer **out, char *why,
            size_t why_len)
{
	struct issuer *is;
	int ret;

	*out = NULL;
	if (st == NULL || cfg == NULL)
		return say(why, why_len, UM_ERR_INVALID, "no store or no config");
	if (cfg->admin_token != NULL && !token_ok(cfg->admin_token))
		return say(why, why_len, UM_ERR_INVALID,
		           "the admin token must be 16..256 printable ASCII characters without "
		           "spaces");
	if (cfg->dispute_ttl_max_s == 0 || cfg->dispute_ttl_max_s > ISSUER_TTL_MAX_S ||
	    cfg->appeal_ttl_max_s == 0 || cfg->appeal_ttl_max_s > ISSUER_TTL_MAX_S)
		return say(why, why_len, UM_ERR_INVALID,
		           "dispute and appeal ttl bounds must be 1 s .. 366 days");
	if ((ret = store_migrate(st, &issuer_schema)) != UM_OK ||
	    (ret = issuer_roles_migrate(st)) != UM_OK)
		return say(why, why_len, ret, store_errmsg(st));
	is = um_xcalloc(1, sizeof(*is));
	is->st = st;
	is->dispute_ttl_max_s = cfg->dispute_ttl_max_s;
	is->appeal_ttl_max_s = cfg->appeal_ttl_max_s;
	is->why = "";
	if (cfg->admin_token != NULL) {
		is->has_admin_token = true;
		hash_blake2b(is->admin_hash, sizeof(is->admin_hash), cfg->admin_token,
		             strlen(cfg->admin_token), NULL, 0);
	}
	*out = is;
	return UM_OK;
}

void
issuer_free_(struct issuer *is)
{
	if (is == NULL)
		return;
	um_memzero(is, sizeof(*is));
	free(is);
}

const char *
issuer_errmsg(const struct issuer *is)
{
	return is->why;
}

/* ---- helpers shared with issuer_ops.c ---- */

int
issuer_fail(struct issuer *is, int err, const char *why)
{
	is->why = why;
	return err;
}

int
issuer_db_fail(struct issuer *is, int err)
{
	if (err == UM_ERR_TIMEOUT)
		return issuer_fail(is, err, "the database is busy (locked by another process)");
	/* MALFORMED comes from our own column checks: store_errmsg() is not about it. */
	log_warn(LD_STORE, "issuer: database error (%s): %s", um_err_str(err),
	         err == UM_ERR_MALFORMED ? "a stored value is out of range or of the wrong type"
	                                 : store_errmsg(is->st));
	return issuer_fail(is, UM_ERR_DB, "database error");
}

int
issuer_tx_begin(struct issuer *is)
{
	int ret = store_begin(is->st);

	return ret == UM_OK ? UM_OK : issuer_db_fail(is, ret);
}

int
issuer_tx_end(struct issuer *is, int ret)
{
	if (ret == UM_OK) {
		if ((ret = store_commit(is->st)) != UM_OK)
			return issuer_db_fail(is, ret);
		is->why = "";
		return UM_OK;
	}
	if (store_in_tx(is->st) && store_rollback(is->st) != UM_OK)
		log_warn(LD_STORE, "issuer: rollback failed: %s", store_errmsg(is->st));
	return ret;
}

/* A read's arguments: no actor. */
static int
check_read(struct issuer *is, const char *subject, uint64_t now_s)
{
	if (!issuer_id_is_valid(subject))
		return issuer_fail(is, UM_ERR_INVALID,
		                   "invalid subject id: 1..64 of [A-Za-z0-9._:@-]");
	if (now_s > ISSUER_NOW_MAX)
		return issuer_fail(is, UM_ERR_INVALID, "time out of range");
	return UM_OK;
}

/* ---- reads ---- */

/* The view of subject id at now_s; the binding dispute and the count come from SQL over all
 * of the subject's disputes. */
static int
view_read(struct issuer *is, const char *id, uint64_t now_s, struct issuer_subject_view *out)
{
	struct issuer_dispute bind;
	bool capped;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = issuer_db_subject_get(is, id, &out->subject);
	if (ret == UM_ERR_NOT_FOUND)
		return issuer_fail(is, ret, "no such subject");
	if (ret != UM_OK || (ret = issuer_db_disputes_count_active(
	                             is, id, now_s, &out->n_active_disputes)) != UM_OK)
		goto fail;
	ret = issuer_db_dispute_binding(is, id, now_s, &bind);
	if (ret != UM_OK && ret != UM_ERR_NOT_FOUND)
		goto fail;
	capped = ret == UM_OK;
	out->effective_tier =
	        issuer_effective_tier(out->subject.kind, out->subject.tier, capped ? &bind : NULL,
	                              capped ? 1 : 0, now_s, NULL);
	if (capped) {
		out->capped = true;
		out->cap = bind.tier_cap;
		out->cap_expires_s = bind.expires_s;
		out->cap_dispute_id = bind.id;
	}
	ret = issuer_db_appeal_open_latest(is, id, now_s, &out->appeal);
	if (ret == UM_OK)
		out->has_open_appeal = true;
	else if (ret != UM_ERR_NOT_FOUND)
		goto fail;
	return UM_OK;
fail:
	memset(out, 0, sizeof(*out));
	return issuer_db_fail(is, ret);
}

int
issuer_subject_get(struct issuer *is, const char *id, uint64_t now_s,
                   struct issuer_subject_view *out)
{
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = check_read(is, id, now_s)) != UM_OK ||
	    (ret = view_read(is, id, now_s, out)) != UM_OK)
		return ret;
	is->why = "";
	return UM_OK;
}

static int
snap_dispute(void *arg, const struct issuer_dispute *d)
{
	struct issuer_snapshot *s = arg;

	if (s->n_disputes >= ISSUER_LIST_MAX)
		return UM_ERR_INTERNAL;
	s->disputes[s->n_disputes++] = *d;
	return UM_OK;
}

static int
snap_appeal(void *arg, const struct issuer_appeal *a)
{
	struct issuer_snapshot *s = arg;

	if (s->n_appeals >= ISSUER_LIST_MAX)
		return UM_ERR_INTERNAL;
	s->appeals[s->n_appeals++] = *a;
	return UM_OK;
}

int
issuer_snapshot_read(struct issuer *is, const char *id, uint64_t now_s, struct issuer_snapshot *out)
{
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = view_read(is, id, now_s, &out->view)) != UM_OK)
		return ret;
	if ((ret = issuer_db_dispute_foreach(is, id, ISSUER_LIST_MAX, snap_dispute, out)) !=
	            UM_OK ||
	    (ret = issuer_db_appeal_foreach(is, id, ISSUER_LIST_MAX, snap_appeal, out)) != UM_OK) {
		memset(out, 0, sizeof(*out));
		return issuer_db_fail(is, ret);
	}
	return UM_OK;
}

int
issuer_snapshot_get(struct issuer *is, const char *id, uint64_t now_s, struct issuer_snapshot *out)
{
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = check_read(is, id, now_s)) != UM_OK ||
	    (ret = issuer_snapshot_read(is, id, now_s, out)) != UM_OK)
		return ret;
	is->why = "";
	return UM_OK;
}

int
issuer_dispute_get(struct issuer *is, int64_t dispute_id, struct issuer_dispute *out)
{
	int ret = issuer_db_dispute_get(is, dispute_id, out);

	if (ret == UM_ERR_NOT_FOUND)
		return issuer_fail(is, ret, "no such dispute");
	return ret == UM_OK ? UM_OK : issuer_db_fail(is, ret);
}

int
issuer_appeal_get(struct issuer *is, int64_t appeal_id, struct issuer_appeal *out)
{
	int ret = issuer_db_appeal_get(is, appeal_id, out);

	if (ret == UM_ERR_NOT_FOUND)
		return issuer_fail(is, ret, "no such appeal");
	return ret == UM_OK ? UM_OK : issuer_db_fail(is, ret);
}

/* ---- shorthand mutations ---- */

int
issuer_subject_upsert(struct issuer *is, const char *actor, const char *id, enum issuer_kind kind,
                      uint8_t tier, uint64_t now_s, bool *created)
{
	struct issuer_op op = { .type = ISSUER_OP_SUBJECT_UPSERT,
		                .actor = actor,
		                .subject = id,
		                .now_s = now_s,
		                .kind = kind,
		                .tier = tier };
	struct issuer_result res;
	int ret = issuer_apply(is, &op, &res, NULL);

	if (created != NULL)
		*created = ret == UM_OK && res.created;
	return ret;
}

int
issuer_subject_promote(struct issuer *is, const char *actor, const char *id, uint8_t tier,
                       const char *reason, uint64_t now_s)
{
	struct issuer_op op = { .type = ISSUER_OP_SUBJECT_PROMOTE,
		                .actor = actor,
		                .subject = id,
		                .now_s = now_s,
		                .tier = tier,
		                .reason = reason };

	return issuer_apply(is, &op, NULL, NULL);
}

int
issuer_subject_adjust(struct issuer *is, const char *actor, const char *id,
                      int64_t reputation_delta, int64_t bond_delta, const char *reason,
                      uint64_t now_s)
{
	struct issuer_op op = { .type = ISSUER_OP_SUBJECT_ADJUST,
		                .actor = actor,
		                .subject = id,
		                .now_s = now_s,
		                .reputation_delta = reputation_delta,
		                .bond_delta = bond_delta,
		                .reason = reason };

	return issuer_apply(is, &op, NULL, NULL);
}

int
issuer_dispute_open(struct issuer *is, const char *actor, const char *subject, uint8_t tier_cap,
                    uint64_t ttl_s, const char *case_id, const char *evidence_ref, uint64_t now_s,
                    int64_t *dispute_id)
{
	struct issuer_op op = { .type = ISSUER_OP_DISPUTE_OPEN,
		                .actor = actor,
		                .subject = subject,
		                .now_s = now_s,
		                .tier_cap = tier_cap,
		                .ttl_s = ttl_s,
		                .case_id = case_id,
		                .evidence_ref = evidence_ref };
	struct issuer_result res;
	int ret = issuer_apply(is, &op, &res, NULL);

	if (dispute_id != NULL)
		*dispute_id = ret == UM_OK ? res.dispute_id : 0;
	return ret;
}

int
issuer_dispute_clear(struct issuer *is, const char *actor, const char *subject, int64_t dispute_id,
                     const char *reason, uint64_t now_s)
{
	struct issuer_op op = { .type = ISSUER_OP_DISPUTE_CLEAR,
		                .actor = actor,
		                .subject = subject,
		                .now_s = now_s,
		                .dispute_id = dispute_id,
		                .reason = reason };

	return issuer_apply(is, &op, NULL, NULL);
}

int
issuer_appeal_open(struct issuer *is, const char *actor, const char *subject, int64_t dispute_id,
                   uint64_t ttl_s, const char *case_id, const char *evidence_ref, uint64_t now_s,
                   int64_t *appeal_id)
{
	struct issuer_op op = { .type = ISSUER_OP_APPEAL_OPEN,
		                .actor = actor,
		                .subject = subject,
		                .now_s = now_s,
		                .ttl_s = ttl_s,
		                .dispute_id = dispute_id,
		                .case_id = case_id,
		                .evidence_ref = evidence_ref };
	struct issuer_result res;
	int ret = issuer_apply(is, &op, &res, NULL);

	if (appeal_id != NULL)
		*appeal_id = ret == UM_OK ? res.appeal_id : 0;
	return ret;
}

int
issuer_appeal_resolve(struct issuer *is, const char *actor, const char *subject, int64_t appeal_id,
                      enum issuer_outcome outcome, const char *reason, uint64_t now_s)
{
	struct issuer_op op = { .type = ISSUER_OP_APPEAL_RESOLVE,
		                .actor = actor,
		                .subject = subject,
		                .now_s = now_s,
		                .appeal_id = appeal_id,
		                .outcome = outcome,
		                .reason = reason };

	return issuer_apply(is, &op, NULL, NULL);
}

/* ---- listings ---- */

static int
check_list(struct issuer *is, const char *subject, size_t limit)
{
	if (subject != NULL && !issuer_id_is_valid(subject))
		return issuer_fail(is, UM_ERR_INVALID,
		                   "invalid subject id: 1..64 of [A-Za-z0-9._:@-]");
	if (limit == 0 || limit > ISSUER_AUDIT_LIMIT_MAX)
		return issuer_fail(is, UM_ERR_INVALID, "limit must be 1..1000");
	return UM_OK;
}

/* A listing's result: the callback's own value passes through, store errors are reported. */
static int
list_end(struct issuer *is, int ret, bool *cb_stopped)
{
	if (ret == UM_OK || *cb_stopped)
		return ret;
	return issuer_db_fail(is, ret);
}

struct cb_wrap {
	issuer_dispute_fn *dfn;
	issuer_appeal_fn *afn;
	issuer_audit_fn *aufn;
	void *arg;
	bool stopped; /* the callback returned non-OK */
};

static int
dispute_cb(void *arg, const struct issuer_dispute *d)
{
	struct cb_wrap *w = arg;
	int ret = w->dfn(w->arg, d);

	w->stopped = ret != UM_OK;
	return ret;
}

static int
appeal_cb(void *arg, const struct issuer_appeal *a)
{
	struct cb_wrap *w = arg;
	int ret = w->afn(w->arg, a);

	w->stopped = ret != UM_OK;
	return ret;
}

static int
audit_cb(void *arg, const struct issuer_audit_entry *e)
{
	struct cb_wrap *w = arg;
	int ret = w->aufn(w->arg, e);

	w->stopped = ret != UM_OK;
	return ret;
}

int
issuer_dispute_foreach(struct issuer *is, const char *subject, size_t limit, issuer_dispute_fn *fn,
                       void *arg)
{
	struct cb_wrap w = { .dfn = fn, .arg = arg };
	int ret;

	if (subject == NULL)
		return issuer_fail(is, UM_ERR_INVALID, "no subject");
	if ((ret = check_list(is, subject, limit)) != UM_OK)
		return ret;
	ret = issuer_db_dispute_foreach(is, subject, limit, dispute_cb, &w);
	return list_end(is, ret, &w.stopped);
}

int
issuer_appeal_foreach(struct issuer *is, const char *subject, size_t limit, issuer_appeal_fn *fn,
                      void *arg)
{
	struct cb_wrap w = { .afn = fn, .arg = arg };
	int ret;

	if (subject == NULL)
		return issuer_fail(is, UM_ERR_INVALID, "no subject");
	if ((ret = check_list(is, subject, limit)) != UM_OK)
		return ret;
	ret = issuer_db_appeal_foreach(is, subject, limit, appeal_cb, &w);
	return list_end(is, ret, &w.stopped);
}

int
issuer_audit_foreach(struct issuer *is, int64_t after_seq, size_t limit, issuer_audit_fn *fn,
                     void *arg)
{
	struct cb_wrap w = { .aufn = fn, .arg = arg };
	int ret;

	if ((ret = check_list(is, NULL, limit)) != UM_OK)
		return ret;
	if (after_seq < 0)
		return issuer_fail(is, UM_ERR_INVALID, "after must be >= 0");
	ret = issuer_db_audit_foreach(is, after_seq, limit, audit_cb, &w);
	return list_end(is, ret, &w.stopped);
}

int
issuer_audit_verify(struct issuer *is, uint64_t *n_rows, int64_t *first_bad_seq)
{
	uint64_t n = 0;
	int64_t bad = 0;
	int ret;

	/* One transaction, so a row appended by another process between the scan and the
	 * counter check cannot look like a cut. */
	if ((ret = issuer_tx_begin(is)) != UM_OK)
		goto out;
	ret = issuer_db_audit_verify(is, &n, &bad);
	if (ret == UM_ERR_AUTH) {
		log_warn(LD_STORE, "issuer: the audit chain is broken at seq %lld", (long long)bad);
		ret = issuer_fail(is, UM_ERR_AUTH, "the audit chain is broken");
	} else if (ret != UM_OK) {
		ret = issuer_db_fail(is, ret);
	}
	ret = issuer_tx_end(is, ret); /* nothing was written: a rollback after AUTH is fine */
out:
	if (n_rows != NULL)
		*n_rows = ret == UM_OK || ret == UM_ERR_AUTH ? n : 0;
	if (first_bad_seq != NULL)
		*first_bad_seq = ret == UM_ERR_AUTH ? bad : 0;
	return ret;
}
