/* SPDX-License-Identifier: MIT */
/*
 * The issuer's subject-management core: argument checks, the effective tier rule, and each
 * operation as one transaction that writes the change and its audit row(s) together (see
 * issuer.h). Storage is in issuer_store.c, the admin HTTP API in issuer_http.c. Audit details
 * are JSON objects built here with jansson: {"old": ..., "new": ...} plus the operation's
 * context (ids, deltas, reason).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "lib/err.h"
#include "lib/log.h"
#include "trust/issuer_st.h"

/* Latest now_s accepted: every now_s + ttl then fits in an SQLite integer. */
#define NOW_MAX ((uint64_t)INT64_MAX - ISSUER_TTL_MAX_S)

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

static bool
dispute_is_active(const struct issuer_dispute *d, uint64_t now_s)
{
	return !d->cleared && now_s < d->expires_s;
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

		if (!dispute_is_active(d, now_s))
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
	if ((ret = store_migrate(st, &issuer_schema)) != UM_OK)
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

/* ---- helpers for the operations ---- */

static int
fail(struct issuer *is, int err, const char *why)
{
	is->why = why;
	return err;
}

/* A store error: say so, and log the detail (table names, never bound values). */
static int
db_fail(struct issuer *is, int err)
{
	if (err == UM_ERR_TIMEOUT)
		return fail(is, err, "the database is busy (locked by another process)");
	log_warn(LD_STORE, "issuer: %s: %s", um_err_str(err), store_errmsg(is->st));
	return fail(is, err, "database error");
}

static int
check_base(struct issuer *is, const char *actor, const char *subject, uint64_t now_s)
{
	if (actor != NULL && !issuer_id_is_valid(actor))
		return fail(is, UM_ERR_INVALID, "invalid actor: 1..64 of [A-Za-z0-9._:@-]");
	if (!issuer_id_is_valid(subject))
		return fail(is, UM_ERR_INVALID, "invalid subject id: 1..64 of [A-Za-z0-9._:@-]");
	if (now_s > NOW_MAX)
		return fail(is, UM_ERR_INVALID, "time out of range");
	return UM_OK;
}

static int
check_text(struct issuer *is, const char *s, const char *why)
{
	return issuer_text_is_valid(s) ? UM_OK : fail(is, UM_ERR_INVALID, why);
}

static int
tx_begin(struct issuer *is)
{
	int ret = store_begin(is->st);

	return ret == UM_OK ? UM_OK : db_fail(is, ret);
}

/* Commit when ret is UM_OK, else roll back; the result of the whole operation. */
static int
tx_end(struct issuer *is, int ret)
{
	if (ret == UM_OK) {
		if ((ret = store_commit(is->st)) != UM_OK)
			return db_fail(is, ret);
		is->why = "";
		return UM_OK;
	}
	if (store_in_tx(is->st) && store_rollback(is->st) != UM_OK)
		log_warn(LD_STORE, "issuer: rollback failed: %s", store_errmsg(is->st));
	return ret;
}

/* Append one audit row with detail (a JSON object, reference stolen). */
static int
audit(struct issuer *is, uint64_t now_s, const char *actor, const char *action, const char *subject,
      json_t *detail)
{
	char *s = detail != NULL ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int ret;

	json_decref(detail);
	if (s == NULL)
		return fail(is, UM_ERR_INTERNAL, "cannot encode the audit record");
	ret = issuer_db_audit_append(is, now_s, actor, action, subject, s);
	free(s);
	return ret == UM_OK ? UM_OK : db_fail(is, ret);
}

static json_t *
time_or_null(bool set, uint64_t t)
{
	return set ? json_integer((json_int_t)t) : json_null();
}

static json_t *
subject_json(const struct issuer_subject *s)
{
	return json_pack("{s:s, s:i, s:I, s:I}", "kind", issuer_kind_name(s->kind), "tier",
	                 (int)s->tier, "reputation", (json_int_t)s->reputation, "bond",
	                 (json_int_t)s->bond);
}

static json_t *
dispute_json(const struct issuer_dispute *d)
{
	return json_pack("{s:i, s:I, s:I, s:o, s:s, s:s}", "tier_cap", (int)d->tier_cap, "opened",
	                 (json_int_t)d->opened_s, "expires", (json_int_t)d->expires_s, "cleared_at",
	                 time_or_null(d->cleared, d->cleared_s), "case_id", d->case_id,
	                 "evidence_ref", d->evidence_ref);
}

static json_t *
appeal_json(const struct issuer_appeal *a)
{
	return json_pack("{s:I, s:I, s:I, s:o, s:o, s:s, s:s}", "dispute",
	                 (json_int_t)a->dispute_id, "opened", (json_int_t)a->opened_s, "expires",
	                 (json_int_t)a->expires_s, "resolved_at",
	                 time_or_null(a->outcome != ISSUER_OUTCOME_NONE, a->resolved_s), "outcome",
	                 a->outcome != ISSUER_OUTCOME_NONE
	                         ? json_string(issuer_outcome_name(a->outcome))
	                         : json_null(),
	                 "case_id", a->case_id, "evidence_ref", a->evidence_ref);
}

/* The stored subject, or NOT_FOUND ("no such subject") / a store error. */
static int
load_subject(struct issuer *is, const char *id, struct issuer_subject *out)
{
	int ret = issuer_db_subject_get(is, id, out);

	if (ret == UM_ERR_NOT_FOUND)
		return fail(is, ret, "no such subject");
	return ret == UM_OK ? UM_OK : db_fail(is, ret);
}

/* ---- subjects ---- */

int
issuer_subject_upsert(struct issuer *is, const char *actor, const char *id, enum issuer_kind kind,
                      uint8_t tier, uint64_t now_s, bool *created)
{
	struct issuer_subject old, sub;
	int ret;

	if (created != NULL)
		*created = false;
	if ((ret = check_base(is, actor, id, now_s)) != UM_OK)
		return ret;
	if (kind != ISSUER_KIND_CLIENT && kind != ISSUER_KIND_RELAY)
		return fail(is, UM_ERR_INVALID, "kind must be client or relay");
	if (!tier_ok(tier))
		return fail(is, UM_ERR_INVALID, "tier must be 1..15");
	if ((ret = tx_begin(is)) != UM_OK)
		return ret;
	ret = issuer_db_subject_get(is, id, &old);
	if (ret == UM_ERR_NOT_FOUND) {
		memset(&sub, 0, sizeof(sub));
		snprintf(sub.id, sizeof(sub.id), "%s", id);
		sub.kind = kind;
		sub.tier = tier;
		sub.created_s = sub.updated_s = now_s;
		if ((ret = issuer_db_subject_insert(is, &sub)) != UM_OK) {
			ret = db_fail(is, ret);
			goto out;
		}
		ret = audit(is, now_s, actor, "subject.create", id,
		            json_pack("{s:n, s:o}", "old", "new", subject_json(&sub)));
		if (ret == UM_OK && created != NULL)
			*created = true;
		goto out;
	}
	if (ret != UM_OK) {
		ret = db_fail(is, ret);
		goto out;
	}
	if (old.kind == kind && old.tier == tier)
		goto out; /* nothing changes: no write, no audit row */
	sub = old;
	sub.kind = kind;
	sub.tier = tier;
	sub.updated_s = now_s;
	if ((ret = issuer_db_subject_update(is, &sub)) != UM_OK) {
		ret = db_fail(is, ret);
		goto out;
	}
	ret = audit(is, now_s, actor, "subject.update", id,
	            json_pack("{s:{s:s, s:i}, s:{s:s, s:i}}", "old", "kind",
	                      issuer_kind_name(old.kind), "tier", (int)old.tier, "new", "kind",
	                      issuer_kind_name(kind), "tier", (int)tier));
out:
	return tx_end(is, ret);
}

int
issuer_subject_get(struct issuer *is, const char *id, uint64_t now_s,
                   struct issuer_subject_view *out)
{
	struct issuer_dispute *act = NULL;
	size_t n = 0, idx;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = check_base(is, NULL, id, now_s)) != UM_OK)
		return ret;
	if ((ret = load_subject(is, id, &out->subject)) != UM_OK)
		return ret;
	act = um_xcalloc(ISSUER_ACTIVE_DISPUTES_MAX, sizeof(*act));
	if ((ret = issuer_db_disputes_active(is, id, now_s, act, ISSUER_ACTIVE_DISPUTES_MAX, &n)) !=
	    UM_OK) {
		ret = db_fail(is, ret);
		goto out;
	}
	out->n_active_disputes = n;
	out->effective_tier =
	        issuer_effective_tier(out->subject.kind, out->subject.tier, act, n, now_s, &idx);
	if (idx != SIZE_MAX) {
		out->capped = true;
		out->cap = act[idx].tier_cap;
		out->cap_expires_s = act[idx].expires_s;
		out->cap_dispute_id = act[idx].id;
	}
	ret = issuer_db_appeal_open_latest(is, id, now_s, &out->appeal);
	if (ret == UM_OK) {
		out->has_open_appeal = true;
	} else if (ret == UM_ERR_NOT_FOUND) {
		ret = UM_OK;
	} else {
		ret = db_fail(is, ret);
		goto out;
	}
	is->why = "";
out:
	free(act);
	return ret;
}

int
issuer_subject_promote(struct issuer *is, const char *actor, const char *id, uint8_t tier,
                       const char *reason, uint64_t now_s)
{
	struct issuer_subject sub;
	uint8_t old_tier;
	int ret;

	if ((ret = check_base(is, actor, id, now_s)) != UM_OK)
		return ret;
	if (!tier_ok(tier))
		return fail(is, UM_ERR_INVALID, "tier must be 1..15");
	if ((ret = check_text(is, reason, "invalid reason: 0..128 printable ASCII")) != UM_OK)
		return ret;
	if ((ret = tx_begin(is)) != UM_OK)
		return ret;
	if ((ret = load_subject(is, id, &sub)) != UM_OK || sub.tier == tier)
		goto out;
	old_tier = sub.tier;
	sub.tier = tier;
	sub.updated_s = now_s;
	if ((ret = issuer_db_subject_update(is, &sub)) != UM_OK) {
		ret = db_fail(is, ret);
		goto out;
	}
	ret = audit(is, now_s, actor, "subject.promote", id,
	            json_pack("{s:{s:i}, s:{s:i}, s:s}", "old", "tier", (int)old_tier, "new",
	                      "tier", (int)tier, "reason", reason));
out:
	return tx_end(is, ret);
}

int
issuer_subject_adjust(struct issuer *is, const char *actor, const char *id,
                      int64_t reputation_delta, int64_t bond_delta, const char *reason,
                      uint64_t now_s)
{
	struct issuer_subject old, sub;
	int ret;

	if ((ret = check_base(is, actor, id, now_s)) != UM_OK)
		return ret;
	if ((ret = check_text(is, reason, "invalid reason: 0..128 printable ASCII")) != UM_OK)
		return ret;
	if ((ret = tx_begin(is)) != UM_OK)
		return ret;
	if ((ret = load_subject(is, id, &old)) != UM_OK ||
	    (reputation_delta == 0 && bond_delta == 0))
		goto out;
	sub = old;
	if (__builtin_add_overflow(old.reputation, reputation_delta, &sub.reputation)) {
		ret = fail(is, UM_ERR_INVALID, "reputation would leave the 64-bit range");
		goto out;
	}
	if (__builtin_add_overflow(old.bond, bond_delta, &sub.bond)) {
		ret = fail(is, UM_ERR_INVALID, "bond would leave the 64-bit range");
		goto out;
	}
	sub.updated_s = now_s;
	if ((ret = issuer_db_subject_update(is, &sub)) != UM_OK) {
		ret = db_fail(is, ret);
		goto out;
	}
	ret = audit(is, now_s, actor, "subject.adjust", id,
	            json_pack("{s:{s:I, s:I}, s:{s:I, s:I}, s:{s:I, s:I}, s:s}", "old",
	                      "reputation", (json_int_t)old.reputation, "bond",
	                      (json_int_t)old.bond, "new", "reputation", (json_int_t)sub.reputation,
	                      "bond", (json_int_t)sub.bond, "delta", "reputation",
	                      (json_int_t)reputation_delta, "bond", (json_int_t)bond_delta,
	                      "reason", reason));
out:
	return tx_end(is, ret);
}

/* ---- disputes ---- */

int
issuer_dispute_open(struct issuer *is, const char *actor, const char *subject, uint8_t tier_cap,
                    uint64_t ttl_s, const char *case_id, const char *evidence_ref, uint64_t now_s,
                    int64_t *dispute_id)
{
	struct issuer_subject sub;
	struct issuer_dispute d;
	size_t n_active;
	int ret;

	if (dispute_id != NULL)
		*dispute_id = 0;
	if ((ret = check_base(is, actor, subject, now_s)) != UM_OK)
		return ret;
	if (!tier_ok(tier_cap))
		return fail(is, UM_ERR_INVALID, "tier_cap must be 1..15");
	if (ttl_s == 0 || ttl_s > is->dispute_ttl_max_s)
		return fail(is, UM_ERR_INVALID, "ttl_s out of range (1..the configured maximum)");
	if ((ret = check_text(is, case_id, "invalid case_id: 0..128 printable ASCII")) != UM_OK ||
	    (ret = check_text(is, evidence_ref, "invalid evidence_ref: 0..128 printable ASCII")) !=
	            UM_OK)
		return ret;
	if ((ret = tx_begin(is)) != UM_OK)
		return ret;
	if ((ret = load_subject(is, subject, &sub)) != UM_OK)
		goto out;
	if ((ret = issuer_db_disputes_count_active(is, subject, now_s, &n_active)) != UM_OK) {
		ret = db_fail(is, ret);
		goto out;
	}
	if (n_active >= ISSUER_ACTIVE_DISPUTES_MAX) {
		ret = fail(is, UM_ERR_TOO_LARGE, "too many active disputes for this subject");
		goto out;
	}
	memset(&d, 0, sizeof(d));
	snprintf(d.subject, sizeof(d.subject), "%s", subject);
	d.tier_cap = tier_cap;
	d.opened_s = now_s;
	d.expires_s = now_s + ttl_s;
	snprintf(d.case_id, sizeof(d.case_id), "%s", case_id);
	snprintf(d.evidence_ref, sizeof(d.evidence_ref), "%s", evidence_ref);
	if ((ret = issuer_db_dispute_insert(is, &d)) != UM_OK) {
		ret = db_fail(is, ret);
		goto out;
	}
	ret = audit(is, now_s, actor, "dispute.open", subject,
	            json_pack("{s:I, s:n, s:o}", "dispute", (json_int_t)d.id, "old", "new",
	                      dispute_json(&d)));
	if (ret == UM_OK && dispute_id != NULL)
		*dispute_id = d.id;
out:
	return tx_end(is, ret);
}

/* Dispute id of subject (NOT_FOUND if it is another subject's). */
static int
load_dispute(struct issuer *is, const char *subject, int64_t id, struct issuer_dispute *d)
{
	int ret = issuer_db_dispute_get(is, id, d);

	if (ret == UM_ERR_NOT_FOUND || (ret == UM_OK && strcmp(d->subject, subject) != 0))
		return fail(is, UM_ERR_NOT_FOUND, "no such dispute for this subject");
	return ret == UM_OK ? UM_OK : db_fail(is, ret);
}

/* Mark d cleared at now_s and audit it (extra: more context for the detail, stolen). */
static int
clear_dispute(struct issuer *is, const char *actor, const struct issuer_dispute *d,
              const char *reason, json_t *extra, uint64_t now_s)
{
	json_t *detail;
	int ret;

	if ((ret = issuer_db_dispute_clear(is, d->id, now_s)) != UM_OK) {
		json_decref(extra);
		return ret == UM_ERR_STATE ? fail(is, ret, "dispute already cleared")
		                           : db_fail(is, ret);
	}
	detail = json_pack("{s:I, s:{s:n}, s:{s:I}, s:s}", "dispute", (json_int_t)d->id, "old",
	                   "cleared_at", "new", "cleared_at", (json_int_t)now_s, "reason", reason);
	if (detail != NULL && extra != NULL)
		json_object_update(detail, extra);
	json_decref(extra);
	return audit(is, now_s, actor, "dispute.clear", d->subject, detail);
}

int
issuer_dispute_clear(struct issuer *is, const char *actor, const char *subject, int64_t dispute_id,
                     const char *reason, uint64_t now_s)
{
	struct issuer_dispute d;
	int ret;

	if ((ret = check_base(is, actor, subject, now_s)) != UM_OK)
		return ret;
	if ((ret = check_text(is, reason, "invalid reason: 0..128 printable ASCII")) != UM_OK)
		return ret;
	if ((ret = tx_begin(is)) != UM_OK)
		return ret;
	if ((ret = load_dispute(is, subject, dispute_id, &d)) != UM_OK)
		goto out;
	if (d.cleared) {
		ret = fail(is, UM_ERR_STATE, "dispute already cleared");
		goto out;
	}
	if (!dispute_is_active(&d, now_s)) {
		ret = fail(is, UM_ERR_STATE, "dispute already expired");
		goto out;
	}
	ret = clear_dispute(is, actor, &d, reason, NULL, now_s);
out:
	return tx_end(is, ret);
}

int
issuer_dispute_get(struct issuer *is, int64_t dispute_id, struct issuer_dispute *out)
{
	int ret = issuer_db_dispute_get(is, dispute_id, out);

	if (ret == UM_ERR_NOT_FOUND)
		return fail(is, ret, "no such dispute");
	return ret == UM_OK ? UM_OK : db_fail(is, ret);
}

/* ---- appeals ---- */

int
issuer_appeal_open(struct issuer *is, const char *actor, const char *subject, int64_t dispute_id,
                   uint64_t ttl_s, const char *case_id, const char *evidence_ref, uint64_t now_s,
                   int64_t *appeal_id)
{
	struct issuer_subject sub;
	struct issuer_dispute d;
	struct issuer_appeal a;
	bool blocking;
	int ret;

	if (appeal_id != NULL)
		*appeal_id = 0;
	if ((ret = check_base(is, actor, subject, now_s)) != UM_OK)
		return ret;
	if (ttl_s == 0 || ttl_s > is->appeal_ttl_max_s)
		return fail(is, UM_ERR_INVALID, "ttl_s out of range (1..the configured maximum)");
	if ((ret = check_text(is, case_id, "invalid case_id: 0..128 printable ASCII")) != UM_OK ||
	    (ret = check_text(is, evidence_ref, "invalid evidence_ref: 0..128 printable ASCII")) !=
	            UM_OK)
		return ret;
	if ((ret = tx_begin(is)) != UM_OK)
		return ret;
	if ((ret = load_subject(is, subject, &sub)) != UM_OK ||
	    (ret = load_dispute(is, subject, dispute_id, &d)) != UM_OK)
		goto out;
	if (!dispute_is_active(&d, now_s)) {
		ret = fail(is, UM_ERR_STATE, "dispute is not active (cleared or expired)");
		goto out;
	}
	if ((ret = issuer_db_appeal_blocking(is, dispute_id, now_s, &blocking)) != UM_OK) {
		ret = db_fail(is, ret);
		goto out;
	}
	if (blocking) {
		ret = fail(is, UM_ERR_EXISTS,
		           "this dispute already has an open or resolved appeal");
		goto out;
	}
	memset(&a, 0, sizeof(a));
	a.dispute_id = dispute_id;
	snprintf(a.subject, sizeof(a.subject), "%s", subject);
	a.opened_s = now_s;
	a.expires_s = now_s + ttl_s;
	snprintf(a.case_id, sizeof(a.case_id), "%s", case_id);
	snprintf(a.evidence_ref, sizeof(a.evidence_ref), "%s", evidence_ref);
	if ((ret = issuer_db_appeal_insert(is, &a)) != UM_OK) {
		ret = db_fail(is, ret);
		goto out;
	}
	ret = audit(is, now_s, actor, "appeal.open", subject,
	            json_pack("{s:I, s:I, s:n, s:o}", "appeal", (json_int_t)a.id, "dispute",
	                      (json_int_t)dispute_id, "old", "new", appeal_json(&a)));
	if (ret == UM_OK && appeal_id != NULL)
		*appeal_id = a.id;
out:
	return tx_end(is, ret);
}

int
issuer_appeal_resolve(struct issuer *is, const char *actor, const char *subject, int64_t appeal_id,
                      enum issuer_outcome outcome, const char *reason, uint64_t now_s)
{
	struct issuer_appeal a;
	struct issuer_dispute d;
	int ret;

	if ((ret = check_base(is, actor, subject, now_s)) != UM_OK)
		return ret;
	if (outcome != ISSUER_OUTCOME_GRANTED && outcome != ISSUER_OUTCOME_DENIED)
		return fail(is, UM_ERR_INVALID, "outcome must be granted or denied");
	if ((ret = check_text(is, reason, "invalid reason: 0..128 printable ASCII")) != UM_OK)
		return ret;
	if ((ret = tx_begin(is)) != UM_OK)
		return ret;
	ret = issuer_db_appeal_get(is, appeal_id, &a);
	if (ret == UM_ERR_NOT_FOUND || (ret == UM_OK && strcmp(a.subject, subject) != 0)) {
		ret = fail(is, UM_ERR_NOT_FOUND, "no such appeal for this subject");
		goto out;
	}
	if (ret != UM_OK) {
		ret = db_fail(is, ret);
		goto out;
	}
	if (a.outcome != ISSUER_OUTCOME_NONE) {
		ret = fail(is, UM_ERR_STATE, "appeal already resolved");
		goto out;
	}
	if (now_s >= a.expires_s) {
		ret = fail(is, UM_ERR_STATE, "appeal lapsed (expired unresolved)");
		goto out;
	}
	if ((ret = issuer_db_appeal_resolve(is, appeal_id, outcome, now_s)) != UM_OK) {
		ret = ret == UM_ERR_STATE ? fail(is, ret, "appeal already resolved")
		                          : db_fail(is, ret);
		goto out;
	}
	ret = audit(is, now_s, actor, "appeal.resolve", subject,
	            json_pack("{s:I, s:I, s:{s:n, s:n}, s:{s:s, s:I}, s:s}", "appeal",
	                      (json_int_t)appeal_id, "dispute", (json_int_t)a.dispute_id, "old",
	                      "outcome", "resolved_at", "new", "outcome",
	                      issuer_outcome_name(outcome), "resolved_at", (json_int_t)now_s,
	                      "reason", reason));
	if (ret != UM_OK || outcome != ISSUER_OUTCOME_GRANTED)
		goto out;
	/* Granted: the dispute goes, in this same transaction. */
	if ((ret = load_dispute(is, subject, a.dispute_id, &d)) != UM_OK || d.cleared)
		goto out;
	ret = clear_dispute(is, actor, &d, reason,
	                    json_pack("{s:I}", "appeal", (json_int_t)appeal_id), now_s);
out:
	return tx_end(is, ret);
}

int
issuer_appeal_get(struct issuer *is, int64_t appeal_id, struct issuer_appeal *out)
{
	int ret = issuer_db_appeal_get(is, appeal_id, out);

	if (ret == UM_ERR_NOT_FOUND)
		return fail(is, ret, "no such appeal");
	return ret == UM_OK ? UM_OK : db_fail(is, ret);
}

/* ---- listings ---- */

static int
check_list(struct issuer *is, const char *subject, size_t limit)
{
	if (subject != NULL && !issuer_id_is_valid(subject))
		return fail(is, UM_ERR_INVALID, "invalid subject id: 1..64 of [A-Za-z0-9._:@-]");
	if (limit == 0 || limit > ISSUER_AUDIT_LIMIT_MAX)
		return fail(is, UM_ERR_INVALID, "limit must be 1..1000");
	return UM_OK;
}

/* A listing's result: the callback's own value passes through, store errors are reported. */
static int
list_end(struct issuer *is, int ret, bool *cb_stopped)
{
	if (ret == UM_OK || *cb_stopped)
		return ret;
	return db_fail(is, ret);
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
		return fail(is, UM_ERR_INVALID, "no subject");
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
		return fail(is, UM_ERR_INVALID, "no subject");
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
		return fail(is, UM_ERR_INVALID, "after must be >= 0");
	ret = issuer_db_audit_foreach(is, after_seq, limit, audit_cb, &w);
	return list_end(is, ret, &w.stopped);
}
