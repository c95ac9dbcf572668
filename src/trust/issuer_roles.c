/* SPDX-License-Identifier: MIT */
/* Subject roles, subject revocation and capability-token audit (issuer_roles.h). */
#include "trust/issuer_roles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "trust/issuer_st.h"

static const struct store_migration roles_migs[] = {
	{ 1,
	  "CREATE TABLE issuer_subject_roles ("
	  " subject TEXT NOT NULL REFERENCES issuer_subjects(id),"
	  " role TEXT NOT NULL CHECK (role IN ('provider', 'admin')),"
	  " granted_at INTEGER NOT NULL,"
	  " PRIMARY KEY (subject, role));"
	  "CREATE TABLE issuer_revoked_subjects ("
	  " subject TEXT PRIMARY KEY REFERENCES issuer_subjects(id),"
	  " revoked_at INTEGER NOT NULL,"
	  " reason TEXT NOT NULL);",
	  NULL },
	/* The "access" role (identified tokens at exits, PROTOCOL.md 18.5): SQLite cannot change
	 * a CHECK, so the table is made anew and the rows copied. */
	{ 2,
	  "CREATE TABLE issuer_subject_roles_v2 ("
	  " subject TEXT NOT NULL REFERENCES issuer_subjects(id),"
	  " role TEXT NOT NULL CHECK (role IN ('provider', 'admin', 'access')),"
	  " granted_at INTEGER NOT NULL,"
	  " PRIMARY KEY (subject, role));"
	  "INSERT INTO issuer_subject_roles_v2 (subject, role, granted_at)"
	  " SELECT subject, role, granted_at FROM issuer_subject_roles;"
	  "DROP TABLE issuer_subject_roles;"
	  "ALTER TABLE issuer_subject_roles_v2 RENAME TO issuer_subject_roles;",
	  NULL },
};

static const struct store_schema roles_schema = { "issuer_roles", roles_migs,
	                                          sizeof(roles_migs) / sizeof(roles_migs[0]) };

int
issuer_roles_migrate(struct store *st)
{
	return store_migrate(st, &roles_schema);
}

/* One statement with text/int binds, run to DONE (or one row: *row set). */
static int
exec(struct issuer *is, const char *sql, const char *a, const char *b, int64_t c, bool *row)
{
	struct store_stmt *s = NULL;
	int ret;

	if ((ret = store_stmt_prepare(is->st, sql, &s)) != UM_OK)
		return ret;
	if ((ret = store_stmt_bind_text(s, 1, a)) == UM_OK && b != NULL)
		ret = store_stmt_bind_text(s, 2, b);
	if (ret == UM_OK && c >= 0)
		ret = store_stmt_bind_int64(s, b != NULL ? 3 : 2, c);
	if (ret == UM_OK) {
		ret = store_stmt_step(s);
		if (row != NULL)
			*row = ret == STORE_ROW;
		ret = ret == STORE_DONE || ret == STORE_ROW ? UM_OK : ret < 0 ? ret : UM_ERR_DB;
	}
	store_stmt_free(s);
	return ret;
}

static int
subject_exists(struct issuer *is, const char *id)
{
	struct issuer_subject s;
	int ret = issuer_db_subject_get(is, id, &s);

	return ret;
}

/* The audit detail {"old": old, "new": new, ...extra} as text (caller frees). */
static char *
detail(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(o);
	return s;
}

int
issuer_role_set(struct issuer *is, const char *actor, const char *subject, const char *role,
                bool grant, uint64_t now_s, bool *changed)
{
	bool has = false;
	char *d = NULL;
	int ret;

	if (changed != NULL)
		*changed = false;
	if (actor == NULL || !issuer_id_is_valid(actor) || !issuer_id_is_valid(subject) ||
	    !captoken_role_is_valid(role) || now_s > ISSUER_NOW_MAX)
		return issuer_fail(is, UM_ERR_INVALID, "bad actor, subject or role");
	if ((ret = issuer_tx_begin(is)) != UM_OK)
		return ret;
	if ((ret = subject_exists(is, subject)) == UM_ERR_NOT_FOUND) {
		ret = issuer_fail(is, ret, "no such subject");
		goto out;
	}
	if (ret != UM_OK ||
	    (ret = exec(is, "SELECT 1 FROM issuer_subject_roles WHERE subject = ? AND role = ?",
	                subject, role, -1, &has)) != UM_OK) {
		ret = issuer_db_fail(is, ret);
		goto out;
	}
	if (has == grant)
		goto out; /* nothing to change, nothing to audit */
	ret = grant ? exec(is,
	                   "INSERT INTO issuer_subject_roles (subject, role, granted_at)"
	                   " VALUES (?, ?, ?)",
	                   subject, role, (int64_t)now_s, NULL)
	            : exec(is, "DELETE FROM issuer_subject_roles WHERE subject = ? AND role = ?",
	                   subject, role, -1, NULL);
	d = detail(json_pack("{s:s, s:b, s:b}", "role", role, "old", has, "new", grant));
	if (ret == UM_OK)
		ret = d == NULL ? UM_ERR_NOMEM
		                : issuer_db_audit_append(is, now_s, actor,
		                                         grant ? "subject.role.grant"
		                                               : "subject.role.withdraw",
		                                         subject, d);
	if (ret != UM_OK) {
		ret = issuer_db_fail(is, ret);
		goto out;
	}
	if (changed != NULL)
		*changed = true;
out:
	free(d);
	return issuer_tx_end(is, ret);
}

int
issuer_role_has(struct issuer *is, const char *subject, const char *role, bool *has)
{
	*has = false;
	if (!issuer_id_is_valid(subject) || !captoken_role_is_valid(role))
		return UM_OK;
	return exec(is, "SELECT 1 FROM issuer_subject_roles WHERE subject = ? AND role = ?",
	            subject, role, -1, has);
}

int
issuer_subject_is_revoked(struct issuer *is, const char *subject, bool *revoked)
{
	*revoked = false;
	if (!issuer_id_is_valid(subject))
		return UM_OK;
	return exec(is, "SELECT 1 FROM issuer_revoked_subjects WHERE subject = ?", subject, NULL,
	            -1, revoked);
}

static int
count_revoked(struct issuer *is, int64_t *n)
{
	struct store_stmt *s = NULL;
	int ret;

	*n = 0;
	if ((ret = store_stmt_prepare(is->st, "SELECT count(*) FROM issuer_revoked_subjects",
	                              &s)) != UM_OK)
		return ret;
	ret = store_stmt_step(s);
	ret = ret == STORE_ROW ? store_stmt_column_int64(s, 0, n) : ret < 0 ? ret : UM_ERR_DB;
	store_stmt_free(s);
	return ret;
}

int
issuer_subject_revoke(struct issuer *is, const char *actor, const char *subject, bool revoke,
                      const char *reason, uint64_t now_s, bool *changed)
{
	struct store_stmt *s = NULL;
	bool was = false;
	int64_t n = 0;
	char *d = NULL;
	int ret;

	if (changed != NULL)
		*changed = false;
	if (reason == NULL)
		reason = "";
	if (actor == NULL || !issuer_id_is_valid(actor) || !issuer_id_is_valid(subject) ||
	    !issuer_text_is_valid(reason) || now_s > ISSUER_NOW_MAX)
		return issuer_fail(is, UM_ERR_INVALID, "bad actor, subject or reason");
	if ((ret = issuer_tx_begin(is)) != UM_OK)
		return ret;
	if ((ret = subject_exists(is, subject)) == UM_ERR_NOT_FOUND) {
		ret = issuer_fail(is, ret, "no such subject");
		goto out;
	}
	if (ret != UM_OK ||
	    (ret = exec(is, "SELECT 1 FROM issuer_revoked_subjects WHERE subject = ?", subject,
	                NULL, -1, &was)) != UM_OK ||
	    (ret = count_revoked(is, &n)) != UM_OK) {
		ret = issuer_db_fail(is, ret);
		goto out;
	}
	if (was == revoke)
		goto out;
	/* The feed lists at most 255 subjects (PROTOCOL.md 17.2): a 256th cannot be published. */
	if (revoke && n >= ISSUER_DOC_MAX_SUBJECTS) {
		ret = issuer_fail(is, UM_ERR_TOO_LARGE,
		                  "the revocation feed is full (255 subjects)");
		goto out;
	}
	if (revoke) {
		if ((ret = store_stmt_prepare(is->st,
		                              "INSERT INTO issuer_revoked_subjects (subject,"
		                              " revoked_at, reason) VALUES (?, ?, ?)",
		                              &s)) == UM_OK &&
		    (ret = store_stmt_bind_text(s, 1, subject)) == UM_OK &&
		    (ret = store_stmt_bind_int64(s, 2, (int64_t)now_s)) == UM_OK &&
		    (ret = store_stmt_bind_text(s, 3, reason)) == UM_OK) {
			ret = store_stmt_step(s);
			ret = ret == STORE_DONE ? UM_OK : ret < 0 ? ret : UM_ERR_DB;
		}
		store_stmt_free(s);
	} else {
		ret = exec(is, "DELETE FROM issuer_revoked_subjects WHERE subject = ?", subject,
		           NULL, -1, NULL);
	}
	d = detail(json_pack("{s:{s:b}, s:{s:b}, s:s}", "old", "revoked", was, "new", "revoked",
	                     revoke, "reason", reason));
	if (ret == UM_OK)
		ret = d == NULL
		              ? UM_ERR_NOMEM
		              : issuer_db_audit_append(
		                        is, now_s, actor,
		                        revoke ? "subject.revoke" : "subject.unrevoke", subject, d);
	if (ret != UM_OK) {
		ret = issuer_db_fail(is, ret);
		goto out;
	}
	if (changed != NULL)
		*changed = true;
out:
	free(d);
	return issuer_tx_end(is, ret);
}

int
issuer_revoked_list(struct issuer *is, char (*out)[ISSUER_ID_MAX_LEN + 1], size_t max, size_t *n)
{
	struct store_stmt *s = NULL;
	const char *v;
	size_t len;
	int ret;

	*n = 0;
	/* BINARY collation: bytewise, the feed's order. */
	if ((ret = store_stmt_prepare(is->st,
	                              "SELECT subject FROM issuer_revoked_subjects"
	                              " ORDER BY subject COLLATE BINARY",
	                              &s)) != UM_OK)
		return ret;
	while ((ret = store_stmt_step(s)) == STORE_ROW) {
		if (*n == max) {
			ret = UM_ERR_TOO_LARGE;
			break;
		}
		if ((ret = store_stmt_column_text(s, 0, &v, &len)) != UM_OK)
			break;
		if (len > ISSUER_ID_MAX_LEN) {
			ret = UM_ERR_MALFORMED;
			break;
		}
		memcpy(out[*n], v, len + 1);
		(*n)++;
	}
	store_stmt_free(s);
	return ret == STORE_DONE ? UM_OK : ret < 0 ? ret : UM_ERR_DB;
}

int
issuer_captoken_audit(struct issuer *is, const struct captoken *t, uint64_t now_s)
{
	char jti[HEX_LEN(CAPTOKEN_JTI_LEN)], pop[HEX_LEN(CAPTOKEN_ID_LEN)], *d;
	int ret;

	if (enc_hex(jti, sizeof(jti), t->jti, sizeof(t->jti)) != UM_OK ||
	    enc_hex(pop, sizeof(pop), t->pop_key, sizeof(t->pop_key)) != UM_OK)
		return UM_ERR_INTERNAL;
	d = detail(json_pack("{s:s, s:s, s:i, s:I, s:I, s:I, s:s, s:s}", "role", t->role, "aud",
	                     t->aud, "tier", (int)t->tier, "key_epoch", (json_int_t)t->key_epoch,
	                     "iat", (json_int_t)t->iat_s, "exp", (json_int_t)t->exp_s, "jti", jti,
	                     "pop_key", pop));
	if (d == NULL)
		return UM_ERR_NOMEM;
	if ((ret = issuer_tx_begin(is)) == UM_OK) {
		ret = issuer_db_audit_append(is, now_s, "issuer", "captoken.issue", t->sub, d);
		if (ret != UM_OK)
			ret = issuer_db_fail(is, ret);
		ret = issuer_tx_end(is, ret);
	}
	free(d);
	return ret;
}
