/* SPDX-License-Identifier: MIT */
/*
 * The issuer's tables (schema "issuer"): subjects, disputes, appeals and the append-only audit
 * trail. Fixed SQL with `?` parameters only; each call prepares, runs and frees its statement
 * (admin traffic is light). Transactions are the caller's (issuer.c): these calls only read
 * and write rows. The CHECK constraints repeat the API's rules, so a bug above cannot store a
 * value the readers here would refuse.
 */
#include <string.h>

#include "lib/err.h"
#include "trust/issuer_st.h"

static const char schema_v1[] =
        "CREATE TABLE issuer_subjects ("
        " id TEXT PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 64),"
        " kind TEXT NOT NULL CHECK (kind IN ('client', 'relay')),"
        " tier INTEGER NOT NULL CHECK (tier BETWEEN 1 AND 15),"
        " reputation INTEGER NOT NULL DEFAULT 0,"
        " bond INTEGER NOT NULL DEFAULT 0,"
        " created INTEGER NOT NULL,"
        " updated INTEGER NOT NULL);"
        "CREATE TABLE issuer_disputes ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " subject TEXT NOT NULL REFERENCES issuer_subjects(id),"
        " tier_cap INTEGER NOT NULL CHECK (tier_cap BETWEEN 1 AND 15),"
        " opened INTEGER NOT NULL,"
        " expires INTEGER NOT NULL CHECK (expires > opened),"
        " cleared_at INTEGER,"
        " case_id TEXT NOT NULL CHECK (length(case_id) <= 128),"
        " evidence_ref TEXT NOT NULL CHECK (length(evidence_ref) <= 128));"
        "CREATE INDEX issuer_disputes_subject ON issuer_disputes(subject, id);"
        "CREATE TABLE issuer_appeals ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " subject TEXT NOT NULL REFERENCES issuer_subjects(id),"
        " dispute INTEGER NOT NULL REFERENCES issuer_disputes(id),"
        " opened INTEGER NOT NULL,"
        " expires INTEGER NOT NULL CHECK (expires > opened),"
        " resolved_at INTEGER,"
        " outcome TEXT CHECK (outcome IN ('granted', 'denied')),"
        " case_id TEXT NOT NULL CHECK (length(case_id) <= 128),"
        " evidence_ref TEXT NOT NULL CHECK (length(evidence_ref) <= 128),"
        " CHECK ((resolved_at IS NULL) = (outcome IS NULL)));"
        "CREATE INDEX issuer_appeals_subject ON issuer_appeals(subject, id);"
        "CREATE INDEX issuer_appeals_dispute ON issuer_appeals(dispute);"
        /* Append-only: seq is never reused (AUTOINCREMENT), rows are never changed. */
        "CREATE TABLE issuer_audit ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " time INTEGER NOT NULL,"
        " actor TEXT NOT NULL,"
        " action TEXT NOT NULL,"
        " subject TEXT NOT NULL,"
        " detail TEXT NOT NULL);"
        "CREATE TRIGGER issuer_audit_no_update BEFORE UPDATE ON issuer_audit"
        " BEGIN SELECT RAISE(ABORT, 'issuer_audit is append-only'); END;"
        "CREATE TRIGGER issuer_audit_no_delete BEFORE DELETE ON issuer_audit"
        " BEGIN SELECT RAISE(ABORT, 'issuer_audit is append-only'); END;";

static const struct store_migration migs[] = {
	{ 1, schema_v1, NULL },
};

const struct store_schema issuer_schema = { "issuer", migs, UM_ARRAY_LEN(migs) };

#define DISPUTE_COLS "id, subject, tier_cap, opened, expires, cleared_at, case_id, evidence_ref"
#define APPEAL_COLS \
	"id, dispute, subject, opened, expires, resolved_at, outcome, case_id, evidence_ref"

/* Bind a u64 as an SQLite integer (over INT64_MAX is a caller bug: refused). */
static int
bind_u64(struct store_stmt *s, int idx, uint64_t v)
{
	if (v > INT64_MAX)
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

/* A nullable time column: *set false and *v 0 for NULL. */
static int
col_opt_u64(struct store_stmt *s, int col, bool *set, uint64_t *v)
{
	*set = false;
	*v = 0;
	if (store_stmt_column_is_null(s, col))
		return UM_OK;
	*set = true;
	return col_u64(s, col, v);
}

static int
col_tier(struct store_stmt *s, int col, uint8_t *tier)
{
	int64_t x;
	int ret;

	*tier = 0;
	if ((ret = store_stmt_column_int64(s, col, &x)) != UM_OK)
		return ret;
	if (x < ISSUER_TIER_MIN || x > ISSUER_TIER_MAX)
		return UM_ERR_MALFORMED;
	*tier = (uint8_t)x;
	return UM_OK;
}

/* Copy a text column into dst[cap]; longer is MALFORMED (the schema forbids it). */
static int
col_text(struct store_stmt *s, int col, char *dst, size_t cap)
{
	const char *p;
	size_t n;
	int ret;

	dst[0] = '\0';
	if ((ret = store_stmt_column_text(s, col, &p, &n)) != UM_OK)
		return ret;
	if (n >= cap)
		return UM_ERR_MALFORMED;
	memcpy(dst, p, n + 1);
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

static int
prepare(struct issuer *is, const char *sql, struct store_stmt **s)
{
	return store_stmt_prepare(is->st, sql, s);
}

/* ---- subjects ---- */

int
issuer_db_subject_get(struct issuer *is, const char *id, struct issuer_subject *out)
{
	struct store_stmt *s = NULL;
	char kind[8];
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = prepare(is,
	                   "SELECT id, kind, tier, reputation, bond, created, updated"
	                   " FROM issuer_subjects WHERE id = ?",
	                   &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_text(s, 1, id)) != UM_OK)
		goto out;
	ret = store_stmt_step(s);
	if (ret == STORE_DONE) {
		ret = UM_ERR_NOT_FOUND;
		goto out;
	}
	if (ret < 0)
		goto out;
	if ((ret = col_text(s, 0, out->id, sizeof(out->id))) != UM_OK ||
	    (ret = col_text(s, 1, kind, sizeof(kind))) != UM_OK ||
	    (ret = col_tier(s, 2, &out->tier)) != UM_OK ||
	    (ret = store_stmt_column_int64(s, 3, &out->reputation)) != UM_OK ||
	    (ret = store_stmt_column_int64(s, 4, &out->bond)) != UM_OK ||
	    (ret = col_u64(s, 5, &out->created_s)) != UM_OK ||
	    (ret = col_u64(s, 6, &out->updated_s)) != UM_OK)
		goto out;
	if (issuer_kind_parse(kind, &out->kind) != UM_OK)
		ret = UM_ERR_MALFORMED;
out:
	store_stmt_free(s);
	return ret;
}

int
issuer_db_subject_insert(struct issuer *is, const struct issuer_subject *sub)
{
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = prepare(is,
	                   "INSERT INTO issuer_subjects (id, kind, tier, reputation, bond, created,"
	                   " updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
	                   &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_text(s, 1, sub->id)) == UM_OK &&
	    (ret = store_stmt_bind_text(s, 2, issuer_kind_name(sub->kind))) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 3, sub->tier)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 4, sub->reputation)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 5, sub->bond)) == UM_OK &&
	    (ret = bind_u64(s, 6, sub->created_s)) == UM_OK &&
	    (ret = bind_u64(s, 7, sub->updated_s)) == UM_OK)
		ret = step_done(s);
	store_stmt_free(s);
	return ret;
}

int
issuer_db_subject_update(struct issuer *is, const struct issuer_subject *sub)
{
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = prepare(is,
	                   "UPDATE issuer_subjects SET kind = ?, tier = ?, reputation = ?,"
	                   " bond = ?, updated = ? WHERE id = ?",
	                   &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_text(s, 1, issuer_kind_name(sub->kind))) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 2, sub->tier)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 3, sub->reputation)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 4, sub->bond)) == UM_OK &&
	    (ret = bind_u64(s, 5, sub->updated_s)) == UM_OK &&
	    (ret = store_stmt_bind_text(s, 6, sub->id)) == UM_OK)
		ret = step_done(s);
	store_stmt_free(s);
	if (ret == UM_OK && store_changes(is->st) != 1)
		ret = UM_ERR_NOT_FOUND;
	return ret;
}

/* ---- disputes ---- */

static int
dispute_row(struct store_stmt *s, struct issuer_dispute *d)
{
	int ret;

	memset(d, 0, sizeof(*d));
	if ((ret = store_stmt_column_int64(s, 0, &d->id)) != UM_OK ||
	    (ret = col_text(s, 1, d->subject, sizeof(d->subject))) != UM_OK ||
	    (ret = col_tier(s, 2, &d->tier_cap)) != UM_OK ||
	    (ret = col_u64(s, 3, &d->opened_s)) != UM_OK ||
	    (ret = col_u64(s, 4, &d->expires_s)) != UM_OK ||
	    (ret = col_opt_u64(s, 5, &d->cleared, &d->cleared_s)) != UM_OK ||
	    (ret = col_text(s, 6, d->case_id, sizeof(d->case_id))) != UM_OK ||
	    (ret = col_text(s, 7, d->evidence_ref, sizeof(d->evidence_ref))) != UM_OK)
		return ret;
	return UM_OK;
}

int
issuer_db_dispute_insert(struct issuer *is, struct issuer_dispute *d)
{
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = prepare(is,
	                   "INSERT INTO issuer_disputes (subject, tier_cap, opened, expires,"
	                   " cleared_at, case_id, evidence_ref) VALUES (?, ?, ?, ?, NULL, ?, ?)",
	                   &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_text(s, 1, d->subject)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 2, d->tier_cap)) == UM_OK &&
	    (ret = bind_u64(s, 3, d->opened_s)) == UM_OK &&
	    (ret = bind_u64(s, 4, d->expires_s)) == UM_OK &&
	    (ret = store_stmt_bind_text(s, 5, d->case_id)) == UM_OK &&
	    (ret = store_stmt_bind_text(s, 6, d->evidence_ref)) == UM_OK)
		ret = step_done(s);
	store_stmt_free(s);
	if (ret == UM_OK)
		d->id = store_last_insert_rowid(is->st);
	return ret;
}

int
issuer_db_dispute_get(struct issuer *is, int64_t id, struct issuer_dispute *out)
{
	struct store_stmt *s = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = prepare(is, "SELECT " DISPUTE_COLS " FROM issuer_disputes WHERE id = ?", &s)) !=
	    UM_OK)
		return ret;
	if ((ret = store_stmt_bind_int64(s, 1, id)) != UM_OK)
		goto out;
	ret = store_stmt_step(s);
	if (ret == STORE_DONE)
		ret = UM_ERR_NOT_FOUND;
	else if (ret == STORE_ROW)
		ret = dispute_row(s, out);
out:
	store_stmt_free(s);
	return ret;
}

int
issuer_db_dispute_clear(struct issuer *is, int64_t id, uint64_t now_s)
{
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = prepare(is,
	                   "UPDATE issuer_disputes SET cleared_at = ? WHERE id = ?"
	                   " AND cleared_at IS NULL",
	                   &s)) != UM_OK)
		return ret;
	if ((ret = bind_u64(s, 1, now_s)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 2, id)) == UM_OK)
		ret = step_done(s);
	store_stmt_free(s);
	if (ret == UM_OK && store_changes(is->st) != 1)
		ret = UM_ERR_STATE;
	return ret;
}

int
issuer_db_disputes_active(struct issuer *is, const char *subject, uint64_t now_s,
                          struct issuer_dispute *out, size_t cap, size_t *n)
{
	struct store_stmt *s = NULL;
	int ret;

	*n = 0;
	if ((ret = prepare(is,
	                   "SELECT " DISPUTE_COLS " FROM issuer_disputes WHERE subject = ?"
	                   " AND cleared_at IS NULL AND expires > ? ORDER BY id LIMIT ?",
	                   &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_text(s, 1, subject)) != UM_OK ||
	    (ret = bind_u64(s, 2, now_s)) != UM_OK || (ret = bind_u64(s, 3, cap)) != UM_OK)
		goto out;
	while ((ret = store_stmt_step(s)) == STORE_ROW && *n < cap) {
		if ((ret = dispute_row(s, &out[*n])) != UM_OK)
			goto out;
		(*n)++;
	}
	if (ret == STORE_DONE || ret == STORE_ROW)
		ret = UM_OK;
out:
	store_stmt_free(s);
	return ret;
}

int
issuer_db_disputes_count_active(struct issuer *is, const char *subject, uint64_t now_s, size_t *n)
{
	struct store_stmt *s = NULL;
	uint64_t v = 0;
	int ret;

	*n = 0;
	if ((ret = prepare(is,
	                   "SELECT count(*) FROM issuer_disputes WHERE subject = ?"
	                   " AND cleared_at IS NULL AND expires > ?",
	                   &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_text(s, 1, subject)) == UM_OK &&
	    (ret = bind_u64(s, 2, now_s)) == UM_OK) {
		ret = store_stmt_step(s);
		if (ret == STORE_ROW && (ret = col_u64(s, 0, &v)) == UM_OK)
			*n = (size_t)v;
		else if (ret == STORE_DONE)
			ret = UM_ERR_INTERNAL;
	}
	store_stmt_free(s);
	return ret;
}

int
issuer_db_dispute_foreach(struct issuer *is, const char *subject, size_t limit,
                          issuer_dispute_fn *fn, void *arg)
{
	struct store_stmt *s = NULL;
	struct issuer_dispute d;
	int ret;

	if ((ret = prepare(is,
	                   "SELECT " DISPUTE_COLS " FROM issuer_disputes WHERE subject = ?"
	                   " ORDER BY id DESC LIMIT ?",
	                   &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_text(s, 1, subject)) != UM_OK ||
	    (ret = bind_u64(s, 2, limit)) != UM_OK)
		goto out;
	while ((ret = store_stmt_step(s)) == STORE_ROW) {
		if ((ret = dispute_row(s, &d)) != UM_OK || (ret = fn(arg, &d)) != UM_OK)
			goto out;
	}
	if (ret == STORE_DONE)
		ret = UM_OK;
out:
	store_stmt_free(s);
	return ret;
}

/* ---- appeals ---- */

static int
appeal_row(struct store_stmt *s, struct issuer_appeal *a)
{
	char outcome[16];
	bool resolved;
	int ret;

	memset(a, 0, sizeof(*a));
	if ((ret = store_stmt_column_int64(s, 0, &a->id)) != UM_OK ||
	    (ret = store_stmt_column_int64(s, 1, &a->dispute_id)) != UM_OK ||
	    (ret = col_text(s, 2, a->subject, sizeof(a->subject))) != UM_OK ||
	    (ret = col_u64(s, 3, &a->opened_s)) != UM_OK ||
	    (ret = col_u64(s, 4, &a->expires_s)) != UM_OK ||
	    (ret = col_opt_u64(s, 5, &resolved, &a->resolved_s)) != UM_OK ||
	    (ret = col_text(s, 7, a->case_id, sizeof(a->case_id))) != UM_OK ||
	    (ret = col_text(s, 8, a->evidence_ref, sizeof(a->evidence_ref))) != UM_OK)
		return ret;
	if (resolved) {
		if ((ret = col_text(s, 6, outcome, sizeof(outcome))) != UM_OK)
			return ret;
		if (issuer_outcome_parse(outcome, &a->outcome) != UM_OK)
			return UM_ERR_MALFORMED;
	}
	return UM_OK;
}

int
issuer_db_appeal_insert(struct issuer *is, struct issuer_appeal *a)
{
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = prepare(is,
	                   "INSERT INTO issuer_appeals (subject, dispute, opened, expires,"
	                   " resolved_at, outcome, case_id, evidence_ref)"
	                   " VALUES (?, ?, ?, ?, NULL, NULL, ?, ?)",
	                   &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_text(s, 1, a->subject)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 2, a->dispute_id)) == UM_OK &&
	    (ret = bind_u64(s, 3, a->opened_s)) == UM_OK &&
	    (ret = bind_u64(s, 4, a->expires_s)) == UM_OK &&
	    (ret = store_stmt_bind_text(s, 5, a->case_id)) == UM_OK &&
	    (ret = store_stmt_bind_text(s, 6, a->evidence_ref)) == UM_OK)
		ret = step_done(s);
	store_stmt_free(s);
	if (ret == UM_OK)
		a->id = store_last_insert_rowid(is->st);
	return ret;
}

/* The one row of sql (bound to one integer or text key), or UM_ERR_NOT_FOUND. */
static int
appeal_one(struct issuer *is, const char *sql, int64_t key_int, const char *key_text,
           uint64_t now_s, struct issuer_appeal *out)
{
	struct store_stmt *s = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = prepare(is, sql, &s)) != UM_OK)
		return ret;
	ret = key_text != NULL ? store_stmt_bind_text(s, 1, key_text)
	                       : store_stmt_bind_int64(s, 1, key_int);
	if (ret != UM_OK)
		goto out;
	if (key_text != NULL && (ret = bind_u64(s, 2, now_s)) != UM_OK)
		goto out;
	ret = store_stmt_step(s);
	if (ret == STORE_DONE)
		ret = UM_ERR_NOT_FOUND;
	else if (ret == STORE_ROW)
		ret = appeal_row(s, out);
out:
	store_stmt_free(s);
	return ret;
}

int
issuer_db_appeal_get(struct issuer *is, int64_t id, struct issuer_appeal *out)
{
	return appeal_one(is, "SELECT " APPEAL_COLS " FROM issuer_appeals WHERE id = ?", id, NULL,
	                  0, out);
}

int
issuer_db_appeal_open_latest(struct issuer *is, const char *subject, uint64_t now_s,
                             struct issuer_appeal *out)
{
	return appeal_one(is,
	                  "SELECT " APPEAL_COLS " FROM issuer_appeals WHERE subject = ?"
	                  " AND resolved_at IS NULL AND expires > ? ORDER BY id DESC LIMIT 1",
	                  0, subject, now_s, out);
}

int
issuer_db_appeal_resolve(struct issuer *is, int64_t id, enum issuer_outcome outcome, uint64_t now_s)
{
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = prepare(is,
	                   "UPDATE issuer_appeals SET resolved_at = ?, outcome = ? WHERE id = ?"
	                   " AND resolved_at IS NULL",
	                   &s)) != UM_OK)
		return ret;
	if ((ret = bind_u64(s, 1, now_s)) == UM_OK &&
	    (ret = store_stmt_bind_text(s, 2, issuer_outcome_name(outcome))) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 3, id)) == UM_OK)
		ret = step_done(s);
	store_stmt_free(s);
	if (ret == UM_OK && store_changes(is->st) != 1)
		ret = UM_ERR_STATE;
	return ret;
}

int
issuer_db_appeal_blocking(struct issuer *is, int64_t dispute_id, uint64_t now_s, bool *blocking)
{
	struct store_stmt *s = NULL;
	int ret;

	*blocking = false;
	if ((ret = prepare(is,
	                   "SELECT 1 FROM issuer_appeals WHERE dispute = ?"
	                   " AND (resolved_at IS NOT NULL OR expires > ?) LIMIT 1",
	                   &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_int64(s, 1, dispute_id)) == UM_OK &&
	    (ret = bind_u64(s, 2, now_s)) == UM_OK) {
		ret = store_stmt_step(s);
		if (ret == STORE_ROW || ret == STORE_DONE) {
			*blocking = ret == STORE_ROW;
			ret = UM_OK;
		}
	}
	store_stmt_free(s);
	return ret;
}

int
issuer_db_appeal_foreach(struct issuer *is, const char *subject, size_t limit, issuer_appeal_fn *fn,
                         void *arg)
{
	struct store_stmt *s = NULL;
	struct issuer_appeal a;
	int ret;

	if ((ret = prepare(is,
	                   "SELECT " APPEAL_COLS " FROM issuer_appeals WHERE subject = ?"
	                   " ORDER BY id DESC LIMIT ?",
	                   &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_text(s, 1, subject)) != UM_OK ||
	    (ret = bind_u64(s, 2, limit)) != UM_OK)
		goto out;
	while ((ret = store_stmt_step(s)) == STORE_ROW) {
		if ((ret = appeal_row(s, &a)) != UM_OK || (ret = fn(arg, &a)) != UM_OK)
			goto out;
	}
	if (ret == STORE_DONE)
		ret = UM_OK;
out:
	store_stmt_free(s);
	return ret;
}

/* ---- audit ---- */

int
issuer_db_audit_append(struct issuer *is, uint64_t now_s, const char *actor, const char *action,
                       const char *subject, const char *detail)
{
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = prepare(is,
	                   "INSERT INTO issuer_audit (time, actor, action, subject, detail)"
	                   " VALUES (?, ?, ?, ?, ?)",
	                   &s)) != UM_OK)
		return ret;
	if ((ret = bind_u64(s, 1, now_s)) == UM_OK &&
	    (ret = store_stmt_bind_text(s, 2, actor)) == UM_OK &&
	    (ret = store_stmt_bind_text(s, 3, action)) == UM_OK &&
	    (ret = store_stmt_bind_text(s, 4, subject)) == UM_OK &&
	    (ret = store_stmt_bind_text(s, 5, detail)) == UM_OK)
		ret = step_done(s);
	store_stmt_free(s);
	return ret;
}

int
issuer_db_audit_foreach(struct issuer *is, int64_t after_seq, size_t limit, issuer_audit_fn *fn,
                        void *arg)
{
	struct store_stmt *s = NULL;
	struct issuer_audit_entry e;
	int ret;

	if ((ret = prepare(is,
	                   "SELECT seq, time, actor, action, subject, detail FROM issuer_audit"
	                   " WHERE seq > ? ORDER BY seq LIMIT ?",
	                   &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_int64(s, 1, after_seq)) != UM_OK ||
	    (ret = bind_u64(s, 2, limit)) != UM_OK)
		goto out;
	while ((ret = store_stmt_step(s)) == STORE_ROW) {
		memset(&e, 0, sizeof(e));
		if ((ret = store_stmt_column_int64(s, 0, &e.seq)) != UM_OK ||
		    (ret = col_u64(s, 1, &e.time_s)) != UM_OK ||
		    (ret = store_stmt_column_text(s, 2, &e.actor, NULL)) != UM_OK ||
		    (ret = store_stmt_column_text(s, 3, &e.action, NULL)) != UM_OK ||
		    (ret = store_stmt_column_text(s, 4, &e.subject, NULL)) != UM_OK ||
		    (ret = store_stmt_column_text(s, 5, &e.detail, NULL)) != UM_OK ||
		    (ret = fn(arg, &e)) != UM_OK)
			goto out;
	}
	if (ret == STORE_DONE)
		ret = UM_OK;
out:
	store_stmt_free(s);
	return ret;
}
