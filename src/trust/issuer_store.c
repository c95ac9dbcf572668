/* SPDX-License-Identifier: MIT */
/*
 * The issuer's tables (schema "issuer"): subjects, disputes, appeals, request ids and the
 * append-only, hash-chained audit trail. Fixed SQL with `?` parameters only; each call
 * prepares, runs and frees its statement (admin traffic is light). Transactions are the
 * caller's (issuer.c, issuer_ops.c): these calls only read and write rows. The CHECK
 * constraints repeat the API's rules, so a bug above cannot store a value the readers here
 * would refuse.
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

/*
 * Version 2: the audit hash chain (a column filled for existing rows by migrate_v2(), which
 * puts back the UPDATE trigger dropped here for that), request ids (issuer_requests), and the
 * "withdrawn" appeal outcome. SQLite cannot change a CHECK in place, so issuer_appeals is
 * rebuilt by its documented recipe (new table, copy, drop, rename); nothing references it, and
 * since appeal rows are never deleted, the copy keeps the AUTOINCREMENT counter (max id).
 */
#define APPEAL_COPY_COLS \
	"id, subject, dispute, opened, expires, resolved_at, outcome, case_id, evidence_ref"
static const char schema_v2[] =
        "DROP TRIGGER issuer_audit_no_update;"
        "ALTER TABLE issuer_audit ADD COLUMN hash BLOB"
        " CHECK (hash IS NULL OR (typeof(hash) = 'blob' AND length(hash) = 32));"
        "CREATE TABLE issuer_requests ("
        " request_id TEXT PRIMARY KEY NOT NULL CHECK (length(request_id) BETWEEN 1 AND 64),"
        " time INTEGER NOT NULL,"
        " op TEXT NOT NULL,"
        " subject TEXT NOT NULL,"
        " params TEXT NOT NULL,"
        " created INTEGER NOT NULL CHECK (created IN (0, 1)),"
        " dispute INTEGER NOT NULL,"
        " appeal INTEGER NOT NULL);"
        "CREATE TABLE issuer_appeals_v2 ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " subject TEXT NOT NULL REFERENCES issuer_subjects(id),"
        " dispute INTEGER NOT NULL REFERENCES issuer_disputes(id),"
        " opened INTEGER NOT NULL,"
        " expires INTEGER NOT NULL CHECK (expires > opened),"
        " resolved_at INTEGER,"
        " outcome TEXT CHECK (outcome IN ('granted', 'denied', 'withdrawn')),"
        " case_id TEXT NOT NULL CHECK (length(case_id) <= 128),"
        " evidence_ref TEXT NOT NULL CHECK (length(evidence_ref) <= 128),"
        " CHECK ((resolved_at IS NULL) = (outcome IS NULL)));"
        "INSERT INTO issuer_appeals_v2 (" APPEAL_COPY_COLS ") SELECT " APPEAL_COPY_COLS
        " FROM issuer_appeals ORDER BY id;"
        "DROP TABLE issuer_appeals;"
        "ALTER TABLE issuer_appeals_v2 RENAME TO issuer_appeals;"
        "CREATE INDEX issuer_appeals_subject ON issuer_appeals(subject, id);"
        "CREATE INDEX issuer_appeals_dispute ON issuer_appeals(dispute);";

static const char audit_triggers_v2[] =
        "CREATE TRIGGER issuer_audit_no_update BEFORE UPDATE ON issuer_audit"
        " BEGIN SELECT RAISE(ABORT, 'issuer_audit is append-only'); END;"
        "CREATE TRIGGER issuer_audit_need_hash BEFORE INSERT ON issuer_audit"
        " WHEN NEW.hash IS NULL"
        " BEGIN SELECT RAISE(ABORT, 'issuer_audit rows need a chain hash'); END;";

static int migrate_v2(struct store *st);

static const struct store_migration migs[] = {
	{ 1, schema_v1, NULL },
	{ 2, schema_v2, migrate_v2 },
	{ 3, issuer_schema_v3, NULL }, /* relay bindings (issuer_relays.c) */
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

/* The predicate of issuer_dispute_is_active(), in SQL: subject, now_s, now_s are bound. */
#define DISPUTE_ACTIVE_WHERE "subject = ? AND cleared_at IS NULL AND opened <= ? AND expires > ?"

int
issuer_db_dispute_binding(struct issuer *is, const char *subject, uint64_t now_s,
                          struct issuer_dispute *out)
{
	struct store_stmt *s = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	/* issuer_effective_tier()'s order: lowest cap, then latest expiry, then first opened. */
	if ((ret = prepare(is,
	                   "SELECT " DISPUTE_COLS
	                   " FROM issuer_disputes WHERE " DISPUTE_ACTIVE_WHERE
	                   " ORDER BY tier_cap, expires DESC, id LIMIT 1",
	                   &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_text(s, 1, subject)) != UM_OK ||
	    (ret = bind_u64(s, 2, now_s)) != UM_OK || (ret = bind_u64(s, 3, now_s)) != UM_OK)
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

/* count(*) of sql with subject and now_s bound n_now times after it. */
static int
count_rows(struct issuer *is, const char *sql, const char *subject, uint64_t now_s, int n_now,
           size_t *n)
{
	struct store_stmt *s = NULL;
	uint64_t v = 0;
	int ret;

	*n = 0;
	if ((ret = prepare(is, sql, &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_text(s, 1, subject)) != UM_OK)
		goto out;
	for (int i = 0; i < n_now; i++)
		if ((ret = bind_u64(s, 2 + i, now_s)) != UM_OK)
			goto out;
	ret = store_stmt_step(s);
	if (ret == STORE_ROW && (ret = col_u64(s, 0, &v)) == UM_OK)
		*n = (size_t)v;
	else if (ret == STORE_DONE)
		ret = UM_ERR_INTERNAL;
out:
	store_stmt_free(s);
	return ret;
}

int
issuer_db_disputes_count_active(struct issuer *is, const char *subject, uint64_t now_s, size_t *n)
{
	return count_rows(is, "SELECT count(*) FROM issuer_disputes WHERE " DISPUTE_ACTIVE_WHERE,
	                  subject, now_s, 2, n);
}

int
issuer_db_disputes_count_live(struct issuer *is, const char *subject, uint64_t now_s, size_t *n)
{
	return count_rows(is,
	                  "SELECT count(*) FROM issuer_disputes WHERE subject = ?"
	                  " AND cleared_at IS NULL AND expires > ?",
	                  subject, now_s, 1, n);
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

/* The one row of sql, bound to a key (key_text, or key_int when it is NULL) and, if with_now,
 * now_s after it; UM_ERR_NOT_FOUND when there is none. */
static int
appeal_one(struct issuer *is, const char *sql, int64_t key_int, const char *key_text, bool with_now,
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
	if (with_now && (ret = bind_u64(s, 2, now_s)) != UM_OK)
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
	                  false, 0, out);
}

int
issuer_db_appeal_open_latest(struct issuer *is, const char *subject, uint64_t now_s,
                             struct issuer_appeal *out)
{
	return appeal_one(is,
	                  "SELECT " APPEAL_COLS " FROM issuer_appeals WHERE subject = ?"
	                  " AND resolved_at IS NULL AND expires > ? ORDER BY id DESC LIMIT 1",
	                  0, subject, true, now_s, out);
}

int
issuer_db_appeal_open_for_dispute(struct issuer *is, int64_t dispute_id, uint64_t now_s,
                                  struct issuer_appeal *out)
{
	return appeal_one(is,
	                  "SELECT " APPEAL_COLS " FROM issuer_appeals WHERE dispute = ?"
	                  " AND resolved_at IS NULL AND expires > ? ORDER BY id DESC LIMIT 1",
	                  dispute_id, NULL, true, now_s, out);
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

/* ---- request ids ---- */

int
issuer_db_request_find(struct issuer *is, const char *request_id, const char *op,
                       const char *subject, const char *params, bool *same,
                       struct issuer_result *res)
{
	struct store_stmt *s = NULL;
	const char *r_op, *r_subject, *r_params;
	int64_t created;
	int ret;

	*same = false;
	memset(res, 0, sizeof(*res));
	if ((ret = prepare(is,
	                   "SELECT op, subject, params, created, dispute, appeal"
	                   " FROM issuer_requests WHERE request_id = ?",
	                   &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_text(s, 1, request_id)) != UM_OK)
		goto out;
	ret = store_stmt_step(s);
	if (ret == STORE_DONE) {
		ret = UM_ERR_NOT_FOUND;
		goto out;
	}
	if (ret < 0)
		goto out;
	if ((ret = store_stmt_column_text(s, 0, &r_op, NULL)) != UM_OK ||
	    (ret = store_stmt_column_text(s, 1, &r_subject, NULL)) != UM_OK ||
	    (ret = store_stmt_column_text(s, 2, &r_params, NULL)) != UM_OK ||
	    (ret = store_stmt_column_int64(s, 3, &created)) != UM_OK ||
	    (ret = store_stmt_column_int64(s, 4, &res->dispute_id)) != UM_OK ||
	    (ret = store_stmt_column_int64(s, 5, &res->appeal_id)) != UM_OK)
		goto out;
	res->created = created != 0;
	*same = strcmp(r_op, op) == 0 && strcmp(r_subject, subject) == 0 &&
	        strcmp(r_params, params) == 0;
out:
	store_stmt_free(s);
	return ret;
}

int
issuer_db_request_put(struct issuer *is, const char *request_id, uint64_t now_s, const char *op,
                      const char *subject, const char *params, const struct issuer_result *res)
{
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = prepare(is,
	                   "INSERT INTO issuer_requests (request_id, time, op, subject, params,"
	                   " created, dispute, appeal) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	                   &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_text(s, 1, request_id)) == UM_OK &&
	    (ret = bind_u64(s, 2, now_s)) == UM_OK &&
	    (ret = store_stmt_bind_text(s, 3, op)) == UM_OK &&
	    (ret = store_stmt_bind_text(s, 4, subject)) == UM_OK &&
	    (ret = store_stmt_bind_text(s, 5, params)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 6, res->created ? 1 : 0)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 7, res->dispute_id)) == UM_OK &&
	    (ret = store_stmt_bind_int64(s, 8, res->appeal_id)) == UM_OK)
		ret = step_done(s);
	store_stmt_free(s);
	return ret;
}

/* ---- audit ---- */

static void
hash_u64(struct hash_blake2b_state *h, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
	hash_blake2b_update(h, b, sizeof(b));
}

/* A length-prefixed string, so no two field splits hash alike. */
static void
hash_str(struct hash_blake2b_state *h, const char *p, size_t len)
{
	uint8_t b[4];

	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)((uint32_t)len >> (24 - 8 * i));
	hash_blake2b_update(h, b, sizeof(b));
	hash_blake2b_update(h, p, len);
}

void
issuer_audit_hash(uint8_t out[ISSUER_AUDIT_HASH_LEN], const uint8_t prev[ISSUER_AUDIT_HASH_LEN],
                  int64_t seq, int64_t time_s, const char *actor, size_t actor_len,
                  const char *action, size_t action_len, const char *subject, size_t subject_len,
                  const char *detail, size_t detail_len)
{
	struct hash_blake2b_state h;

	hash_blake2b_init(&h, NULL, 0, ISSUER_AUDIT_HASH_LEN);
	hash_blake2b_update(&h, prev, ISSUER_AUDIT_HASH_LEN);
	hash_u64(&h, (uint64_t)seq);
	hash_u64(&h, (uint64_t)time_s);
	hash_str(&h, actor, actor_len);
	hash_str(&h, action, action_len);
	hash_str(&h, subject, subject_len);
	hash_str(&h, detail, detail_len);
	hash_blake2b_final(&h, out, ISSUER_AUDIT_HASH_LEN);
}

/* A stored chain hash: its bytes if it is a 32-byte blob, else NULL. */
static const uint8_t *
col_hash(struct store_stmt *s, int col)
{
	const uint8_t *p;
	size_t n;

	if (store_stmt_column_type(s, col) != STORE_BLOB ||
	    store_stmt_column_blob(s, col, &p, &n) != UM_OK || n != ISSUER_AUDIT_HASH_LEN)
		return NULL;
	return p;
}

/* An audit row's hashed fields, as views into the statement's current row. */
struct audit_fields {
	int64_t seq, time_s;
	const char *actor, *action, *subject, *detail;
	size_t actor_len, action_len, subject_len, detail_len;
};

/* Read columns 0..5 (seq, time, actor, action, subject, detail) of the current row. */
static int
audit_fields_read(struct store_stmt *s, struct audit_fields *f)
{
	int ret;

	memset(f, 0, sizeof(*f));
	if ((ret = store_stmt_column_int64(s, 0, &f->seq)) != UM_OK ||
	    (ret = store_stmt_column_int64(s, 1, &f->time_s)) != UM_OK ||
	    (ret = store_stmt_column_text(s, 2, &f->actor, &f->actor_len)) != UM_OK ||
	    (ret = store_stmt_column_text(s, 3, &f->action, &f->action_len)) != UM_OK ||
	    (ret = store_stmt_column_text(s, 4, &f->subject, &f->subject_len)) != UM_OK ||
	    (ret = store_stmt_column_text(s, 5, &f->detail, &f->detail_len)) != UM_OK)
		return ret;
	return UM_OK;
}

static void
audit_fields_hash(uint8_t out[ISSUER_AUDIT_HASH_LEN], const uint8_t prev[ISSUER_AUDIT_HASH_LEN],
                  const struct audit_fields *f)
{
	issuer_audit_hash(out, prev, f->seq, f->time_s, f->actor, f->actor_len, f->action,
	                  f->action_len, f->subject, f->subject_len, f->detail, f->detail_len);
}

/* The highest audit seq ever used (AUTOINCREMENT's counter, or a row above it). */
#define AUDIT_LAST_SEQ                                                                    \
	"max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'issuer_audit'), 0)," \
	" coalesce((SELECT max(seq) FROM issuer_audit), 0))"

/* Step 2's data: chain the rows written before the hash column existed, in seq order. */
static int
migrate_v2(struct store *st)
{
	struct store_stmt *sel = NULL, *upd = NULL;
	uint8_t prev[ISSUER_AUDIT_HASH_LEN] = { 0 }, h[ISSUER_AUDIT_HASH_LEN];
	struct audit_fields f;
	int64_t last = 0;
	int ret;

	if ((ret = store_stmt_prepare(st,
	                              "SELECT seq, time, actor, action, subject, detail"
	                              " FROM issuer_audit WHERE seq > ? ORDER BY seq LIMIT 1",
	                              &sel)) != UM_OK ||
	    (ret = store_stmt_prepare(st, "UPDATE issuer_audit SET hash = ? WHERE seq = ?",
	                              &upd)) != UM_OK)
		goto out;
	for (;;) {
		store_stmt_reset(sel);
		if ((ret = store_stmt_bind_int64(sel, 1, last)) != UM_OK)
			goto out;
		if ((ret = store_stmt_step(sel)) == STORE_DONE)
			break;
		if (ret < 0 || (ret = audit_fields_read(sel, &f)) != UM_OK)
			goto out;
		audit_fields_hash(h, prev, &f);
		last = f.seq;
		store_stmt_reset(sel); /* done with the row's views */
		store_stmt_reset(upd);
		if ((ret = store_stmt_bind_blob(upd, 1, h, sizeof(h))) != UM_OK ||
		    (ret = store_stmt_bind_int64(upd, 2, last)) != UM_OK ||
		    (ret = step_done(upd)) != UM_OK)
			goto out;
		memcpy(prev, h, sizeof(prev));
	}
	ret = store_exec(st, audit_triggers_v2);
out:
	store_stmt_free(sel);
	store_stmt_free(upd);
	return ret;
}

/* The last row's chain hash into prev (left zero when the trail is empty). */
static int
audit_prev_hash(struct issuer *is, uint8_t prev[ISSUER_AUDIT_HASH_LEN])
{
	struct store_stmt *s = NULL;
	const uint8_t *p;
	int ret;

	if ((ret = prepare(is, "SELECT hash FROM issuer_audit ORDER BY seq DESC LIMIT 1", &s)) !=
	    UM_OK)
		return ret;
	ret = store_stmt_step(s);
	if (ret == STORE_ROW) {
		/* A damaged last hash stops every write (fail closed; issuer_audit_verify() says
		 * where) rather than start a chain that cannot be checked against it. */
		if ((p = col_hash(s, 0)) == NULL) {
			ret = UM_ERR_MALFORMED;
		} else {
			memcpy(prev, p, ISSUER_AUDIT_HASH_LEN);
			ret = UM_OK;
		}
	}
	store_stmt_free(s);
	return ret;
}

int
issuer_db_audit_append(struct issuer *is, uint64_t now_s, const char *actor, const char *action,
                       const char *subject, const char *detail)
{
	struct store_stmt *s = NULL;
	uint8_t prev[ISSUER_AUDIT_HASH_LEN] = { 0 }, h[ISSUER_AUDIT_HASH_LEN];
	int64_t seq = 0;
	int ret;

	if (now_s > INT64_MAX)
		return UM_ERR_INVALID;
	if ((ret = audit_prev_hash(is, prev)) != UM_OK)
		return ret;
	/* The seq is chosen here, not by AUTOINCREMENT, because the hash covers it. */
	if ((ret = prepare(is, "SELECT " AUDIT_LAST_SEQ, &s)) != UM_OK)
		return ret;
	ret = store_stmt_step(s);
	if (ret == STORE_DONE)
		ret = UM_ERR_INTERNAL;
	if (ret >= 0)
		ret = store_stmt_column_int64(s, 0, &seq);
	store_stmt_free(s);
	if (ret != UM_OK)
		return ret;
	if (seq < 0 || seq == INT64_MAX)
		return UM_ERR_MALFORMED;
	seq++;
	issuer_audit_hash(h, prev, seq, (int64_t)now_s, actor, strlen(actor), action,
	                  strlen(action), subject, strlen(subject), detail, strlen(detail));
	if ((ret = prepare(is,
	                   "INSERT INTO issuer_audit (seq, time, actor, action, subject, detail,"
	                   " hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
	                   &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_int64(s, 1, seq)) == UM_OK &&
	    (ret = bind_u64(s, 2, now_s)) == UM_OK &&
	    (ret = store_stmt_bind_text(s, 3, actor)) == UM_OK &&
	    (ret = store_stmt_bind_text(s, 4, action)) == UM_OK &&
	    (ret = store_stmt_bind_text(s, 5, subject)) == UM_OK &&
	    (ret = store_stmt_bind_text(s, 6, detail)) == UM_OK &&
	    (ret = store_stmt_bind_blob(s, 7, h, sizeof(h))) == UM_OK)
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

	if ((ret = prepare(
	             is,
	             "SELECT seq, time, actor, action, subject, detail, hash FROM issuer_audit"
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
		    (ret = store_stmt_column_text(s, 5, &e.detail, NULL)) != UM_OK)
			goto out;
		e.hash = col_hash(s, 6);
		if ((ret = fn(arg, &e)) != UM_OK)
			goto out;
	}
	if (ret == STORE_DONE)
		ret = UM_OK;
out:
	store_stmt_free(s);
	return ret;
}

int
issuer_db_audit_verify(struct issuer *is, uint64_t *n_rows, int64_t *first_bad)
{
	struct store_stmt *s = NULL;
	uint8_t prev[ISSUER_AUDIT_HASH_LEN] = { 0 }, h[ISSUER_AUDIT_HASH_LEN];
	struct audit_fields f;
	const uint8_t *stored;
	int64_t want = 1, seq, last;
	int ret;

	*n_rows = 0;
	*first_bad = 0;
	if ((ret = prepare(
	             is,
	             "SELECT seq, time, actor, action, subject, detail, hash FROM issuer_audit"
	             " ORDER BY seq",
	             &s)) != UM_OK)
		return ret;
	while ((ret = store_stmt_step(s)) == STORE_ROW) {
		if ((ret = store_stmt_column_int64(s, 0, &seq)) != UM_OK)
			goto out;
		(*n_rows)++;
		if (seq != want) { /* rows from want up to seq - 1 are gone */
			*first_bad = want;
			goto out;
		}
		/* A field of the wrong type (a hand edit) is a broken row, not a store error. */
		stored = col_hash(s, 6);
		if (audit_fields_read(s, &f) != UM_OK || stored == NULL) {
			*first_bad = seq;
			goto out;
		}
		audit_fields_hash(h, prev, &f);
		if (memcmp(h, stored, sizeof(h)) != 0) {
			*first_bad = seq;
			goto out;
		}
		memcpy(prev, h, sizeof(prev));
		want++;
	}
	if (ret != STORE_DONE)
		goto out;
	store_stmt_free(s);
	/* Rows cut from the end leave AUTOINCREMENT's counter above the last row. */
	if ((ret = prepare(is, "SELECT " AUDIT_LAST_SEQ, &s)) != UM_OK)
		return ret;
	ret = store_stmt_step(s);
	if (ret == STORE_DONE)
		ret = UM_ERR_INTERNAL;
	if (ret < 0 || (ret = store_stmt_column_int64(s, 0, &last)) != UM_OK)
		goto out;
	if (last >= want)
		*first_bad = want;
out:
	store_stmt_free(s);
	if (ret >= 0 && *first_bad != 0)
		return UM_ERR_AUTH;
	return ret < 0 ? ret : UM_OK;
}
