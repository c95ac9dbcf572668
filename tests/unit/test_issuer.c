/* SPDX-License-Identifier: MIT */
/*
 * The issuer's subject management (src/trust/issuer*.c): the effective tier rule as a table
 * and as SQL over any number of disputes, every operation and its refusals, rollback (a
 * failing audit insert leaves every table as it was), request ids, the audit trail (each step
 * with old and new values, nothing on failures, UPDATE/DELETE refused, the hash chain and its
 * verification, the v1 -> v2 migration), durability across a reopen and across SIGKILL, and
 * the admin HTTP API (bearer token missing/wrong/right, routes, strict JSON: malformed,
 * unknown fields, wrong types, caps). Warnings are captured: a "database error" that a test
 * did not ask for fails it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <jansson.h>

#include "lib/err.h"
#include "lib/log.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "trust/issuer.h"
#include "trust/issuer_st.h"

enum {
	NOW = 1700000000,
	DAY = 86400,
};

#define TOKEN  "test-admin-token-0123456789"
#define BEARER "Bearer " TOKEN

struct fx {
	struct store *st;
	struct issuer *is;
	bool db_errors_expected; /* the test provokes store failures on purpose */
};

/* Warnings seen since the last log_reset(). */
static struct {
	size_t n_warnings;
	size_t n_db_errors; /* lines saying "database error" */
} logged;

static void
log_capture(void *ctx, enum log_level level, unsigned domain, const char *line)
{
	(void)ctx;
	(void)domain;
	if (level > UM_LOG_WARN)
		return;
	logged.n_warnings++;
	if (strstr(line, "database error") != NULL)
		logged.n_db_errors++;
}

static void
log_reset(void)
{
	memset(&logged, 0, sizeof(logged));
}

/* No store failure was logged since log_reset(): none is expected in normal operation. */
static void
log_expect_no_db_errors(void)
{
	if (logged.n_db_errors != 0)
		fail_msg("%zu unexpected \"database error\" warning(s)", logged.n_db_errors);
}

static int
setup(void **state)
{
	(void)state;
	if (um_crypto_init() != UM_OK)
		return -1;
	log_set_level(UM_LOG_WARN);
	log_set_sink(log_capture, NULL);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	log_set_sink(NULL, NULL);
	return 0;
}

static struct issuer *
open_issuer(struct store *st)
{
	struct issuer_config cfg;
	struct issuer *is = NULL;
	char why[256] = "";

	issuer_config_defaults(&cfg);
	cfg.admin_token = TOKEN;
	assert_int_equal(issuer_open(st, &cfg, &is, why, sizeof(why)), UM_OK);
	assert_non_null(is);
	return is;
}

static void
fx_open(struct fx *f)
{
	char why[256] = "";

	memset(f, 0, sizeof(*f));
	log_reset();
	assert_int_equal(store_open(STORE_PATH_MEMORY, NULL, &f->st, why, sizeof(why)), UM_OK);
	f->is = open_issuer(f->st);
}

static void
fx_close(struct fx *f)
{
	issuer_free(f->is);
	store_close(f->st);
	if (!f->db_errors_expected)
		log_expect_no_db_errors();
}

/* ---- audit helpers ---- */

struct audit_rows {
	size_t n;
	int64_t seq[64];
	char action[64][ISSUER_ACTION_MAX_LEN];
	char actor[64][ISSUER_ID_MAX_LEN + 1];
	char subject[64][ISSUER_ID_MAX_LEN + 1];
	json_t *detail[64];
};

static int
collect(void *arg, const struct issuer_audit_entry *e)
{
	struct audit_rows *r = arg;

	assert_true(r->n < 64);
	r->seq[r->n] = e->seq;
	snprintf(r->action[r->n], sizeof(r->action[0]), "%s", e->action);
	snprintf(r->actor[r->n], sizeof(r->actor[0]), "%s", e->actor);
	snprintf(r->subject[r->n], sizeof(r->subject[0]), "%s", e->subject);
	r->detail[r->n] = json_loads(e->detail, 0, NULL);
	assert_non_null(r->detail[r->n]);
	r->n++;
	return UM_OK;
}

static void
rows_clear(struct audit_rows *r)
{
	for (size_t i = 0; i < r->n; i++)
		json_decref(r->detail[i]);
	memset(r, 0, sizeof(*r));
}

static size_t
audit_count(struct issuer *is)
{
	struct audit_rows r;
	size_t n;

	memset(&r, 0, sizeof(r));
	assert_int_equal(issuer_audit_foreach(is, 0, 64, collect, &r), UM_OK);
	n = r.n;
	rows_clear(&r);
	return n;
}

/* The integer at detail path a.b (b may be NULL); -1 for JSON null, -2 when absent. */
static long long
jint(json_t *d, const char *a, const char *b)
{
	json_t *v = json_object_get(d, a);

	if (v != NULL && b != NULL)
		v = json_object_get(v, b);
	if (v == NULL)
		return -2;
	if (json_is_null(v))
		return -1;
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static const char *
jstr(json_t *d, const char *a, const char *b)
{
	json_t *v = json_object_get(d, a);

	if (v != NULL && b != NULL)
		v = json_object_get(v, b);
	return v != NULL ? json_string_value(v) : NULL;
}

/* ---- the effective tier rule (pure) ---- */

static struct issuer_dispute
D(uint8_t cap, uint64_t expires, bool cleared) {
	struct issuer_dispute d;

	memset(&d, 0, sizeof(d));
	d.tier_cap = cap;
	d.opened_s = NOW - DAY;
	d.expires_s = expires;
	d.cleared = cleared;
	return d;
}

static void
test_effective_tier_rule(void **state)
{
	struct issuer_dispute ds[4];
	size_t idx;

	(void)state;
	/* No disputes: the base tier. */
	assert_int_equal(issuer_effective_tier(ISSUER_KIND_CLIENT, 5, NULL, 0, NOW, &idx), 5);
	assert_int_equal(idx, SIZE_MAX);
	/* One active cap below the base caps it; one above does not. */
	ds[0] = D(2, NOW + 10, false);
	assert_int_equal(issuer_effective_tier(ISSUER_KIND_CLIENT, 5, ds, 1, NOW, &idx), 2);
	assert_int_equal(idx, 0);
	ds[0] = D(9, NOW + 10, false);
	assert_int_equal(issuer_effective_tier(ISSUER_KIND_CLIENT, 5, ds, 1, NOW, &idx), 5);
	assert_int_equal(idx, 0); /* binding (reported) but not lowering */
	/* Expiry: active while now < expires; at expires it is gone. */
	ds[0] = D(2, NOW + 10, false);
	assert_int_equal(issuer_effective_tier(ISSUER_KIND_CLIENT, 5, ds, 1, NOW + 9, NULL), 2);
	assert_int_equal(issuer_effective_tier(ISSUER_KIND_CLIENT, 5, ds, 1, NOW + 10, &idx), 5);
	assert_int_equal(idx, SIZE_MAX);
	/* Cleared: no effect. */
	ds[0] = D(2, NOW + 10, true);
	assert_int_equal(issuer_effective_tier(ISSUER_KIND_CLIENT, 5, ds, 1, NOW, &idx), 5);
	assert_int_equal(idx, SIZE_MAX);
	/* Several: the lowest active cap wins; expired and cleared lower ones do not count. */
	ds[0] = D(4, NOW + 100, false);
	ds[1] = D(1, NOW - 1, false);  /* expired */
	ds[2] = D(1, NOW + 100, true); /* cleared */
	ds[3] = D(3, NOW + 50, false);
	assert_int_equal(issuer_effective_tier(ISSUER_KIND_CLIENT, 7, ds, 4, NOW, &idx), 3);
	assert_int_equal(idx, 3);
	/* When it expires the next one binds. */
	assert_int_equal(issuer_effective_tier(ISSUER_KIND_CLIENT, 7, ds, 4, NOW + 50, &idx), 4);
	assert_int_equal(idx, 0);
	/* Equal caps: the one expiring last is reported. */
	ds[0] = D(3, NOW + 10, false);
	ds[1] = D(3, NOW + 90, false);
	assert_int_equal(issuer_effective_tier(ISSUER_KIND_CLIENT, 7, ds, 2, NOW, &idx), 3);
	assert_int_equal(idx, 1);
	/* Relays are pinned to 1, with or without disputes, whatever the base tier. */
	assert_int_equal(issuer_effective_tier(ISSUER_KIND_RELAY, 9, NULL, 0, NOW, NULL), 1);
	assert_int_equal(issuer_effective_tier(ISSUER_KIND_RELAY, 15, ds, 2, NOW, &idx), 1);
	assert_int_equal(idx, 1);
	/* A base tier out of range fails closed to 1. */
	assert_int_equal(issuer_effective_tier(ISSUER_KIND_CLIENT, 0, NULL, 0, NOW, NULL), 1);
	assert_int_equal(issuer_effective_tier(ISSUER_KIND_CLIENT, 16, NULL, 0, NOW, NULL), 1);
}

static void
test_validation(void **state)
{
	char long_id[ISSUER_ID_MAX_LEN + 2], long_text[ISSUER_TEXT_MAX_LEN + 2];
	enum issuer_kind k;
	enum issuer_outcome o;

	(void)state;
	assert_true(issuer_id_is_valid("alice"));
	assert_true(issuer_id_is_valid("relay:AB.c_d-e@x"));
	assert_false(issuer_id_is_valid(""));
	assert_false(issuer_id_is_valid("."));
	assert_false(issuer_id_is_valid(".."));
	assert_false(issuer_id_is_valid("a/b"));
	assert_false(issuer_id_is_valid("a b"));
	assert_false(issuer_id_is_valid("a%20"));
	assert_false(issuer_id_is_valid(NULL));
	memset(long_id, 'a', sizeof(long_id));
	long_id[ISSUER_ID_MAX_LEN] = '\0';
	assert_true(issuer_id_is_valid(long_id));
	long_id[ISSUER_ID_MAX_LEN] = 'a';
	long_id[ISSUER_ID_MAX_LEN + 1] = '\0';
	assert_false(issuer_id_is_valid(long_id));
	assert_true(issuer_text_is_valid(""));
	assert_true(issuer_text_is_valid("CASE-1 see https://x/y?z"));
	assert_false(issuer_text_is_valid("tab\there"));
	assert_false(issuer_text_is_valid("\xc3\xa9"));
	memset(long_text, 'x', sizeof(long_text));
	long_text[ISSUER_TEXT_MAX_LEN] = '\0';
	assert_true(issuer_text_is_valid(long_text));
	long_text[ISSUER_TEXT_MAX_LEN] = 'x';
	long_text[ISSUER_TEXT_MAX_LEN + 1] = '\0';
	assert_false(issuer_text_is_valid(long_text));
	assert_int_equal(issuer_kind_parse("relay", &k), UM_OK);
	assert_int_equal(k, ISSUER_KIND_RELAY);
	assert_int_equal(issuer_kind_parse("Relay", &k), UM_ERR_INVALID);
	assert_int_equal(issuer_outcome_parse("denied", &o), UM_OK);
	assert_int_equal(o, ISSUER_OUTCOME_DENIED);
	assert_int_equal(issuer_outcome_parse("", &o), UM_ERR_INVALID);
}

static void
test_open_config(void **state)
{
	struct store *st = NULL;
	struct issuer_config cfg;
	struct issuer *is = NULL;
	char why[256] = "";

	(void)state;
	assert_int_equal(store_open(STORE_PATH_MEMORY, NULL, &st, why, sizeof(why)), UM_OK);
	issuer_config_defaults(&cfg);
	cfg.admin_token = "short";
	assert_int_equal(issuer_open(st, &cfg, &is, why, sizeof(why)), UM_ERR_INVALID);
	assert_null(is);
	assert_non_null(strstr(why, "admin token"));
	cfg.admin_token = "has a space in the token";
	assert_int_equal(issuer_open(st, &cfg, &is, why, sizeof(why)), UM_ERR_INVALID);
	cfg.admin_token = TOKEN;
	cfg.dispute_ttl_max_s = 0;
	assert_int_equal(issuer_open(st, &cfg, &is, why, sizeof(why)), UM_ERR_INVALID);
	cfg.dispute_ttl_max_s = ISSUER_TTL_MAX_S + 1;
	assert_int_equal(issuer_open(st, &cfg, &is, why, sizeof(why)), UM_ERR_INVALID);
	issuer_config_defaults(&cfg);
	assert_int_equal(issuer_open(st, &cfg, &is, why, sizeof(why)), UM_OK);
	assert_int_equal(store_schema_version(st, "issuer"), 3);
	issuer_free(is);
	/* A second open migrates nothing and works. */
	assert_int_equal(issuer_open(st, &cfg, &is, why, sizeof(why)), UM_OK);
	issuer_free(is);
	store_close(st);
}

/* ---- operations ---- */

static void
test_subject_upsert_get(void **state)
{
	struct fx f;
	struct issuer_subject_view v;
	bool created;

	(void)state;
	fx_open(&f);
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW, &v), UM_ERR_NOT_FOUND);
	assert_string_equal(issuer_errmsg(f.is), "no such subject");
	assert_int_equal(
	        issuer_subject_upsert(f.is, "op1", "alice", ISSUER_KIND_CLIENT, 3, NOW, &created),
	        UM_OK);
	assert_true(created);
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW + 1, &v), UM_OK);
	assert_string_equal(v.subject.id, "alice");
	assert_int_equal(v.subject.kind, ISSUER_KIND_CLIENT);
	assert_int_equal(v.subject.tier, 3);
	assert_int_equal(v.effective_tier, 3);
	assert_int_equal(v.subject.reputation, 0);
	assert_int_equal(v.subject.bond, 0);
	assert_int_equal(v.subject.created_s, NOW);
	assert_int_equal(v.subject.updated_s, NOW);
	assert_false(v.capped);
	assert_false(v.has_open_appeal);
	assert_int_equal(v.n_active_disputes, 0);
	/* Update: kind and tier; created stays. */
	assert_int_equal(issuer_subject_upsert(f.is, "op1", "alice", ISSUER_KIND_RELAY, 4, NOW + 5,
	                                       &created),
	                 UM_OK);
	assert_false(created);
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW + 5, &v), UM_OK);
	assert_int_equal(v.subject.kind, ISSUER_KIND_RELAY);
	assert_int_equal(v.subject.tier, 4);
	assert_int_equal(v.effective_tier, 1); /* relay pinned */
	assert_int_equal(v.subject.created_s, NOW);
	assert_int_equal(v.subject.updated_s, NOW + 5);
	assert_int_equal(audit_count(f.is), 2);
	/* The same values again: no change, no audit row. */
	assert_int_equal(issuer_subject_upsert(f.is, "op1", "alice", ISSUER_KIND_RELAY, 4, NOW + 6,
	                                       &created),
	                 UM_OK);
	assert_false(created);
	assert_int_equal(audit_count(f.is), 2);
	/* Refusals. */
	assert_int_equal(
	        issuer_subject_upsert(f.is, "op1", "a b", ISSUER_KIND_CLIENT, 1, NOW, NULL),
	        UM_ERR_INVALID);
	assert_int_equal(
	        issuer_subject_upsert(f.is, "op1", "bob", ISSUER_KIND_CLIENT, 0, NOW, NULL),
	        UM_ERR_INVALID);
	assert_int_equal(
	        issuer_subject_upsert(f.is, "op1", "bob", ISSUER_KIND_CLIENT, 16, NOW, NULL),
	        UM_ERR_INVALID);
	assert_int_equal(
	        issuer_subject_upsert(f.is, "op1", "bob", (enum issuer_kind)7, 1, NOW, NULL),
	        UM_ERR_INVALID);
	assert_int_equal(issuer_subject_upsert(f.is, "", "bob", ISSUER_KIND_CLIENT, 1, NOW, NULL),
	                 UM_ERR_INVALID);
	assert_int_equal(
	        issuer_subject_upsert(f.is, "op1", "bob", ISSUER_KIND_CLIENT, 1, UINT64_MAX, NULL),
	        UM_ERR_INVALID);
	assert_int_equal(issuer_subject_get(f.is, "bob", NOW, &v), UM_ERR_NOT_FOUND);
	assert_int_equal(audit_count(f.is), 2);
	fx_close(&f);
}

static void
test_promote_adjust(void **state)
{
	struct fx f;
	struct issuer_subject_view v;

	(void)state;
	fx_open(&f);
	assert_int_equal(issuer_subject_promote(f.is, "op", "alice", 3, "", NOW), UM_ERR_NOT_FOUND);
	assert_int_equal(
	        issuer_subject_upsert(f.is, "op", "alice", ISSUER_KIND_CLIENT, 1, NOW, NULL),
	        UM_OK);
	assert_int_equal(issuer_subject_promote(f.is, "op", "alice", 3, "verified", NOW + 1),
	                 UM_OK);
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW + 1, &v), UM_OK);
	assert_int_equal(v.subject.tier, 3);
	assert_int_equal(v.effective_tier, 3);
	/* Down is allowed too; the same tier is a no-op. */
	assert_int_equal(issuer_subject_promote(f.is, "op", "alice", 2, "abuse", NOW + 2), UM_OK);
	assert_int_equal(issuer_subject_promote(f.is, "op", "alice", 2, "again", NOW + 3), UM_OK);
	assert_int_equal(audit_count(f.is), 3);
	assert_int_equal(issuer_subject_promote(f.is, "op", "alice", 16, "", NOW), UM_ERR_INVALID);
	assert_int_equal(issuer_subject_promote(f.is, "op", "alice", 4, "bad\nreason", NOW),
	                 UM_ERR_INVALID);
	/* Adjust. */
	assert_int_equal(issuer_subject_adjust(f.is, "op", "alice", 50, 7, "stake", NOW + 4),
	                 UM_OK);
	assert_int_equal(issuer_subject_adjust(f.is, "op", "alice", -20, -4, "", NOW + 5), UM_OK);
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW + 5, &v), UM_OK);
	assert_int_equal(v.subject.reputation, 30);
	assert_int_equal(v.subject.bond, 3);
	assert_int_equal(v.subject.updated_s, NOW + 5);
	assert_int_equal(audit_count(f.is), 5);
	/* Zero deltas: no-op. Overflow either way: refused, nothing written. */
	assert_int_equal(issuer_subject_adjust(f.is, "op", "alice", 0, 0, "", NOW + 6), UM_OK);
	assert_int_equal(issuer_subject_adjust(f.is, "op", "alice", INT64_MAX, 0, "", NOW + 6),
	                 UM_ERR_INVALID);
	assert_non_null(strstr(issuer_errmsg(f.is), "reputation"));
	assert_int_equal(issuer_subject_adjust(f.is, "op", "alice", 0, INT64_MAX, "", NOW + 6),
	                 UM_ERR_INVALID);
	assert_non_null(strstr(issuer_errmsg(f.is), "bond would leave"));
	/* The bond is collateral: it may be spent down to 0, not below. Reputation may. */
	assert_int_equal(issuer_subject_adjust(f.is, "op", "alice", 0, -4, "", NOW + 6),
	                 UM_ERR_INVALID);
	assert_non_null(strstr(issuer_errmsg(f.is), "bond would go below 0"));
	assert_int_equal(issuer_subject_adjust(f.is, "op", "alice", 1, INT64_MIN, "", NOW + 6),
	                 UM_ERR_INVALID);
	assert_int_equal(issuer_subject_adjust(f.is, "op", "alice", -100, -3, "", NOW + 6), UM_OK);
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW + 6, &v), UM_OK);
	assert_int_equal(v.subject.reputation, -70);
	assert_int_equal(v.subject.bond, 0);
	assert_int_equal(audit_count(f.is), 6);
	assert_int_equal(issuer_subject_adjust(f.is, "op", "nobody", 1, 1, "", NOW),
	                 UM_ERR_NOT_FOUND);
	fx_close(&f);
}

static void
test_disputes(void **state)
{
	struct fx f;
	struct issuer_subject_view v;
	struct issuer_dispute d;
	int64_t d1, d2, d3;

	(void)state;
	fx_open(&f);
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 2, DAY, "", "", NOW, &d1),
	                 UM_ERR_NOT_FOUND);
	assert_int_equal(
	        issuer_subject_upsert(f.is, "op", "alice", ISSUER_KIND_CLIENT, 5, NOW, NULL),
	        UM_OK);
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 4, 10 * DAY, "CASE-1",
	                                     "https://evidence/1", NOW, &d1),
	                 UM_OK);
	assert_true(d1 > 0);
	assert_int_equal(
	        issuer_dispute_open(f.is, "op", "alice", 2, DAY, "CASE-2", "", NOW + 10, &d2),
	        UM_OK);
	assert_true(d2 > d1);
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW + 20, &v), UM_OK);
	assert_int_equal(v.effective_tier, 2);
	assert_true(v.capped);
	assert_int_equal(v.cap, 2);
	assert_int_equal(v.cap_expires_s, NOW + 10 + DAY);
	assert_int_equal(v.cap_dispute_id, d2);
	assert_int_equal(v.n_active_disputes, 2);
	assert_int_equal(issuer_dispute_get(f.is, d1, &d), UM_OK);
	assert_string_equal(d.subject, "alice");
	assert_string_equal(d.case_id, "CASE-1");
	assert_string_equal(d.evidence_ref, "https://evidence/1");
	assert_int_equal(d.tier_cap, 4);
	assert_int_equal(d.opened_s, NOW);
	assert_int_equal(d.expires_s, NOW + 10 * DAY);
	assert_false(d.cleared);
	/* d2 expires: d1 binds. */
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW + 10 + DAY, &v), UM_OK);
	assert_int_equal(v.effective_tier, 4);
	assert_int_equal(v.cap_dispute_id, d1);
	assert_int_equal(v.n_active_disputes, 1);
	/* Clear d1: the base tier again. Clearing twice or an expired one is STATE. */
	assert_int_equal(issuer_dispute_clear(f.is, "op", "alice", d1, "resolved", NOW + 2 * DAY),
	                 UM_OK);
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW + 2 * DAY, &v), UM_OK);
	assert_int_equal(v.effective_tier, 5);
	assert_false(v.capped);
	assert_int_equal(issuer_dispute_get(f.is, d1, &d), UM_OK);
	assert_true(d.cleared);
	assert_int_equal(d.cleared_s, NOW + 2 * DAY);
	assert_int_equal(issuer_dispute_clear(f.is, "op", "alice", d1, "", NOW + 2 * DAY),
	                 UM_ERR_STATE);
	assert_string_equal(issuer_errmsg(f.is), "dispute already cleared");
	assert_int_equal(issuer_dispute_clear(f.is, "op", "alice", d2, "", NOW + 2 * DAY),
	                 UM_ERR_STATE);
	assert_string_equal(issuer_errmsg(f.is), "dispute already expired");
	/* Another subject's dispute, or none: NOT_FOUND. */
	assert_int_equal(issuer_subject_upsert(f.is, "op", "bob", ISSUER_KIND_CLIENT, 5, NOW, NULL),
	                 UM_OK);
	assert_int_equal(issuer_dispute_open(f.is, "op", "bob", 1, DAY, "", "", NOW, &d3), UM_OK);
	assert_int_equal(issuer_dispute_clear(f.is, "op", "alice", d3, "", NOW), UM_ERR_NOT_FOUND);
	assert_int_equal(issuer_dispute_clear(f.is, "op", "alice", 9999, "", NOW),
	                 UM_ERR_NOT_FOUND);
	/* Bounds: cap 1..15, ttl 1..max (30 days by default), texts. */
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 0, DAY, "", "", NOW, NULL),
	                 UM_ERR_INVALID);
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 16, DAY, "", "", NOW, NULL),
	                 UM_ERR_INVALID);
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 2, 0, "", "", NOW, NULL),
	                 UM_ERR_INVALID);
	assert_int_equal(
	        issuer_dispute_open(f.is, "op", "alice", 2, 30 * DAY + 1, "", "", NOW, NULL),
	        UM_ERR_INVALID);
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 2, 30 * DAY, "", "", NOW, NULL),
	                 UM_OK);
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 2, DAY, "a\x01", "", NOW, NULL),
	                 UM_ERR_INVALID);
	/* A relay's disputes are kept (for the trust feed) but it stays at tier 1. */
	assert_int_equal(issuer_subject_upsert(f.is, "op", "r1", ISSUER_KIND_RELAY, 3, NOW, NULL),
	                 UM_OK);
	assert_int_equal(issuer_dispute_open(f.is, "op", "r1", 2, DAY, "", "", NOW, NULL), UM_OK);
	assert_int_equal(issuer_subject_get(f.is, "r1", NOW, &v), UM_OK);
	assert_int_equal(v.effective_tier, 1);
	assert_true(v.capped);
	assert_int_equal(v.cap, 2);
	fx_close(&f);
}

static void
test_dispute_quota(void **state)
{
	struct fx f;
	size_t before;

	(void)state;
	fx_open(&f);
	assert_int_equal(
	        issuer_subject_upsert(f.is, "op", "alice", ISSUER_KIND_CLIENT, 5, NOW, NULL),
	        UM_OK);
	for (int i = 0; i < ISSUER_ACTIVE_DISPUTES_MAX; i++)
		assert_int_equal(
		        issuer_dispute_open(f.is, "op", "alice", 3, DAY, "", "", NOW, NULL), UM_OK);
	before = audit_count(f.is);
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 3, DAY, "", "", NOW, NULL),
	                 UM_ERR_TOO_LARGE);
	assert_int_equal(audit_count(f.is), before);
	/* Once they expire, there is room again. */
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 3, DAY, "", "", NOW + DAY, NULL),
	                 UM_OK);
	fx_close(&f);
}

static void
test_appeal_granted(void **state)
{
	struct fx f;
	struct issuer_subject_view v;
	struct issuer_appeal a;
	struct issuer_dispute d;
	struct audit_rows r;
	int64_t did, aid, aid2;

	(void)state;
	fx_open(&f);
	assert_int_equal(
	        issuer_subject_upsert(f.is, "op", "alice", ISSUER_KIND_CLIENT, 4, NOW, NULL),
	        UM_OK);
	assert_int_equal(
	        issuer_dispute_open(f.is, "op", "alice", 1, 10 * DAY, "C1", "E1", NOW, &did),
	        UM_OK);
	assert_int_equal(
	        issuer_appeal_open(f.is, "op", "alice", did, 5 * DAY, "C1-A", "E2", NOW + 1, &aid),
	        UM_OK);
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW + 2, &v), UM_OK);
	assert_int_equal(v.effective_tier, 1); /* an open appeal does not relax the cap */
	assert_true(v.has_open_appeal);
	assert_int_equal(v.appeal.id, aid);
	assert_int_equal(v.appeal.dispute_id, did);
	assert_string_equal(v.appeal.case_id, "C1-A");
	assert_string_equal(v.appeal.evidence_ref, "E2");
	assert_int_equal(v.appeal.expires_s, NOW + 1 + 5 * DAY);
	/* One appeal per dispute while it is open. */
	assert_int_equal(issuer_appeal_open(f.is, "op", "alice", did, DAY, "", "", NOW + 2, &aid2),
	                 UM_ERR_EXISTS);
	/* Granted: the cap goes in the same transaction. */
	assert_int_equal(issuer_appeal_resolve(f.is, "judge", "alice", aid, ISSUER_OUTCOME_GRANTED,
	                                       "evidence weak", NOW + 3),
	                 UM_OK);
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW + 3, &v), UM_OK);
	assert_int_equal(v.effective_tier, 4);
	assert_false(v.capped);
	assert_false(v.has_open_appeal);
	assert_int_equal(issuer_appeal_get(f.is, aid, &a), UM_OK);
	assert_int_equal(a.outcome, ISSUER_OUTCOME_GRANTED);
	assert_int_equal(a.resolved_s, NOW + 3);
	assert_int_equal(issuer_dispute_get(f.is, did, &d), UM_OK);
	assert_true(d.cleared);
	assert_int_equal(d.cleared_s, NOW + 3);
	/* The last two audit rows: appeal.resolve, then dispute.clear, by the same actor. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(issuer_audit_foreach(f.is, 0, 64, collect, &r), UM_OK);
	assert_int_equal(r.n, 5);
	assert_string_equal(r.action[3], "appeal.resolve");
	assert_string_equal(r.actor[3], "judge");
	assert_int_equal(jint(r.detail[3], "appeal", NULL), aid);
	assert_int_equal(jint(r.detail[3], "old", "outcome"), -1);
	assert_string_equal(jstr(r.detail[3], "new", "outcome"), "granted");
	assert_int_equal(jint(r.detail[3], "new", "resolved_at"), NOW + 3);
	assert_string_equal(r.action[4], "dispute.clear");
	assert_string_equal(r.actor[4], "judge");
	assert_int_equal(jint(r.detail[4], "dispute", NULL), did);
	assert_int_equal(jint(r.detail[4], "appeal", NULL), aid);
	assert_int_equal(jint(r.detail[4], "old", "cleared_at"), -1);
	assert_int_equal(jint(r.detail[4], "new", "cleared_at"), NOW + 3);
	rows_clear(&r);
	/* Resolved: no second resolution, no new appeal (the dispute is not active anyway). */
	assert_int_equal(issuer_appeal_resolve(f.is, "judge", "alice", aid, ISSUER_OUTCOME_DENIED,
	                                       "", NOW + 4),
	                 UM_ERR_STATE);
	assert_int_equal(issuer_appeal_open(f.is, "op", "alice", did, DAY, "", "", NOW + 4, NULL),
	                 UM_ERR_STATE);
	assert_int_equal(audit_count(f.is), 5);
	fx_close(&f);
}

static void
test_appeal_denied_and_lapsed(void **state)
{
	struct fx f;
	struct issuer_subject_view v;
	int64_t did, aid, aid2;

	(void)state;
	fx_open(&f);
	assert_int_equal(
	        issuer_subject_upsert(f.is, "op", "alice", ISSUER_KIND_CLIENT, 4, NOW, NULL),
	        UM_OK);
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 2, 10 * DAY, "", "", NOW, &did),
	                 UM_OK);
	/* An appeal that lapses unresolved cannot be resolved; another may then be opened. */
	assert_int_equal(issuer_appeal_open(f.is, "op", "alice", did, DAY, "", "", NOW, &aid),
	                 UM_OK);
	assert_int_equal(issuer_appeal_resolve(f.is, "op", "alice", aid, ISSUER_OUTCOME_GRANTED, "",
	                                       NOW + DAY),
	                 UM_ERR_STATE);
	assert_string_equal(issuer_errmsg(f.is), "appeal lapsed (expired unresolved)");
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW + DAY, &v), UM_OK);
	assert_false(v.has_open_appeal);
	assert_int_equal(
	        issuer_appeal_open(f.is, "op", "alice", did, DAY, "", "", NOW + DAY, &aid2), UM_OK);
	/* Someone else's appeal, or a bogus outcome: refused. */
	assert_int_equal(issuer_subject_upsert(f.is, "op", "bob", ISSUER_KIND_CLIENT, 4, NOW, NULL),
	                 UM_OK);
	assert_int_equal(issuer_appeal_resolve(f.is, "op", "bob", aid2, ISSUER_OUTCOME_DENIED, "",
	                                       NOW + DAY),
	                 UM_ERR_NOT_FOUND);
	assert_int_equal(issuer_appeal_resolve(f.is, "op", "alice", aid2, ISSUER_OUTCOME_NONE, "",
	                                       NOW + DAY),
	                 UM_ERR_INVALID);
	assert_int_equal(issuer_appeal_open(f.is, "op", "bob", did, DAY, "", "", NOW + DAY, NULL),
	                 UM_ERR_NOT_FOUND);
	/* Denied: the cap stays until the dispute expires. */
	assert_int_equal(issuer_appeal_resolve(f.is, "op", "alice", aid2, ISSUER_OUTCOME_DENIED,
	                                       "upheld", NOW + DAY + 1),
	                 UM_OK);
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW + DAY + 1, &v), UM_OK);
	assert_int_equal(v.effective_tier, 2);
	assert_false(v.has_open_appeal);
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW + 10 * DAY - 1, &v), UM_OK);
	assert_int_equal(v.effective_tier, 2);
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW + 10 * DAY, &v), UM_OK);
	assert_int_equal(v.effective_tier, 4);
	/* A denied appeal is final for its dispute. */
	assert_int_equal(
	        issuer_appeal_open(f.is, "op", "alice", did, DAY, "", "", NOW + DAY + 2, NULL),
	        UM_ERR_EXISTS);
	/* Appeal ttl bounds. */
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 2, DAY, "", "", NOW, &did),
	                 UM_OK);
	assert_int_equal(issuer_appeal_open(f.is, "op", "alice", did, 0, "", "", NOW, NULL),
	                 UM_ERR_INVALID);
	assert_int_equal(
	        issuer_appeal_open(f.is, "op", "alice", did, 30 * DAY + 1, "", "", NOW, NULL),
	        UM_ERR_INVALID);
	fx_close(&f);
}

static void
test_audit_trail(void **state)
{
	struct fx f;
	struct audit_rows r;
	int64_t did, aid;
	size_t n;

	(void)state;
	fx_open(&f);
	assert_int_equal(
	        issuer_subject_upsert(f.is, "ops", "alice", ISSUER_KIND_CLIENT, 1, NOW, NULL),
	        UM_OK);
	assert_int_equal(
	        issuer_subject_upsert(f.is, "ops", "alice", ISSUER_KIND_CLIENT, 2, NOW + 1, NULL),
	        UM_OK);
	assert_int_equal(issuer_subject_promote(f.is, "ops", "alice", 5, "KYC done", NOW + 2),
	                 UM_OK);
	assert_int_equal(
	        issuer_subject_adjust(f.is, "ops", "alice", 10, 500, "bond posted", NOW + 3),
	        UM_OK);
	assert_int_equal(issuer_dispute_open(f.is, "mod", "alice", 2, DAY, "CASE-9", "ev://9",
	                                     NOW + 4, &did),
	                 UM_OK);
	assert_int_equal(issuer_appeal_open(f.is, "alice-rep", "alice", did, DAY, "CASE-9A",
	                                    "ev://9a", NOW + 5, &aid),
	                 UM_OK);
	assert_int_equal(issuer_appeal_resolve(f.is, "judge", "alice", aid, ISSUER_OUTCOME_DENIED,
	                                       "upheld", NOW + 6),
	                 UM_OK);
	assert_int_equal(issuer_dispute_clear(f.is, "mod", "alice", did, "settled", NOW + 7),
	                 UM_OK);
	/* Failures leave nothing. */
	n = audit_count(f.is);
	assert_int_equal(issuer_subject_promote(f.is, "ops", "ghost", 3, "", NOW),
	                 UM_ERR_NOT_FOUND);
	assert_int_equal(issuer_subject_adjust(f.is, "ops", "alice", INT64_MAX, 0, "", NOW),
	                 UM_ERR_INVALID);
	assert_int_equal(issuer_dispute_clear(f.is, "mod", "alice", did, "", NOW + 8),
	                 UM_ERR_STATE);
	assert_int_equal(issuer_appeal_resolve(f.is, "judge", "alice", aid, ISSUER_OUTCOME_DENIED,
	                                       "", NOW + 8),
	                 UM_ERR_STATE);
	assert_int_equal(issuer_dispute_open(f.is, "mod", "alice", 0, DAY, "", "", NOW, NULL),
	                 UM_ERR_INVALID);
	assert_int_equal(audit_count(f.is), n);

	memset(&r, 0, sizeof(r));
	assert_int_equal(issuer_audit_foreach(f.is, 0, 64, collect, &r), UM_OK);
	assert_int_equal(r.n, 8);
	for (size_t i = 0; i < r.n; i++) {
		assert_string_equal(r.subject[i], "alice");
		if (i > 0)
			assert_true(r.seq[i] > r.seq[i - 1]);
	}
	assert_string_equal(r.action[0], "subject.create");
	assert_string_equal(r.actor[0], "ops");
	assert_true(json_is_null(json_object_get(r.detail[0], "old")));
	assert_string_equal(jstr(r.detail[0], "new", "kind"), "client");
	assert_int_equal(jint(r.detail[0], "new", "tier"), 1);
	assert_int_equal(jint(r.detail[0], "new", "reputation"), 0);

	assert_string_equal(r.action[1], "subject.update");
	assert_int_equal(jint(r.detail[1], "old", "tier"), 1);
	assert_int_equal(jint(r.detail[1], "new", "tier"), 2);

	assert_string_equal(r.action[2], "subject.promote");
	assert_int_equal(jint(r.detail[2], "old", "tier"), 2);
	assert_int_equal(jint(r.detail[2], "new", "tier"), 5);
	assert_string_equal(jstr(r.detail[2], "reason", NULL), "KYC done");

	assert_string_equal(r.action[3], "subject.adjust");
	assert_int_equal(jint(r.detail[3], "old", "reputation"), 0);
	assert_int_equal(jint(r.detail[3], "new", "reputation"), 10);
	assert_int_equal(jint(r.detail[3], "old", "bond"), 0);
	assert_int_equal(jint(r.detail[3], "new", "bond"), 500);
	assert_int_equal(jint(r.detail[3], "delta", "bond"), 500);

	assert_string_equal(r.action[4], "dispute.open");
	assert_string_equal(r.actor[4], "mod");
	assert_int_equal(jint(r.detail[4], "dispute", NULL), did);
	assert_true(json_is_null(json_object_get(r.detail[4], "old")));
	assert_int_equal(jint(r.detail[4], "new", "tier_cap"), 2);
	assert_int_equal(jint(r.detail[4], "new", "expires"), NOW + 4 + DAY);
	assert_string_equal(jstr(r.detail[4], "new", "case_id"), "CASE-9");
	assert_string_equal(jstr(r.detail[4], "new", "evidence_ref"), "ev://9");

	assert_string_equal(r.action[5], "appeal.open");
	assert_int_equal(jint(r.detail[5], "appeal", NULL), aid);
	assert_int_equal(jint(r.detail[5], "dispute", NULL), did);
	assert_string_equal(jstr(r.detail[5], "new", "case_id"), "CASE-9A");

	assert_string_equal(r.action[6], "appeal.resolve");
	assert_string_equal(jstr(r.detail[6], "new", "outcome"), "denied");

	assert_string_equal(r.action[7], "dispute.clear");
	assert_int_equal(jint(r.detail[7], "old", "cleared_at"), -1);
	assert_int_equal(jint(r.detail[7], "new", "cleared_at"), NOW + 7);
	assert_string_equal(jstr(r.detail[7], "reason", NULL), "settled");
	assert_int_equal(jint(r.detail[7], "appeal", NULL), -2);
	rows_clear(&r);

	/* Paging: after and limit. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(issuer_audit_foreach(f.is, 0, 3, collect, &r), UM_OK);
	assert_int_equal(r.n, 3);
	n = (size_t)r.seq[2];
	rows_clear(&r);
	assert_int_equal(issuer_audit_foreach(f.is, (int64_t)n, 1000, collect, &r), UM_OK);
	assert_int_equal(r.n, 5);
	assert_string_equal(r.action[0], "subject.adjust");
	rows_clear(&r);
	assert_int_equal(issuer_audit_foreach(f.is, 0, 0, collect, &r), UM_ERR_INVALID);
	assert_int_equal(issuer_audit_foreach(f.is, 0, 1001, collect, &r), UM_ERR_INVALID);
	assert_int_equal(issuer_audit_foreach(f.is, -1, 10, collect, &r), UM_ERR_INVALID);
	fx_close(&f);
}

static void
test_audit_append_only(void **state)
{
	struct fx f;
	struct audit_rows r;

	(void)state;
	fx_open(&f);
	assert_int_equal(
	        issuer_subject_upsert(f.is, "op", "alice", ISSUER_KIND_CLIENT, 1, NOW, NULL),
	        UM_OK);
	assert_int_not_equal(store_exec(f.st, "UPDATE issuer_audit SET actor = 'mallory'"), UM_OK);
	assert_non_null(strstr(store_errmsg(f.st), "append-only"));
	assert_int_not_equal(store_exec(f.st, "DELETE FROM issuer_audit"), UM_OK);
	assert_non_null(strstr(store_errmsg(f.st), "append-only"));
	memset(&r, 0, sizeof(r));
	assert_int_equal(issuer_audit_foreach(f.is, 0, 10, collect, &r), UM_OK);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.actor[0], "op");
	rows_clear(&r);
	fx_close(&f);
}

static void
test_durable_across_reopen(void **state)
{
	char dir[] = "/tmp/test_issuer.XXXXXX", path[256], p2[300];
	struct store *st = NULL;
	struct issuer *is;
	struct issuer_subject_view v;
	char why[256] = "";
	int64_t did, aid;

	(void)state;
	log_reset();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/issuer.db", dir);
	assert_int_equal(store_open(path, NULL, &st, why, sizeof(why)), UM_OK);
	is = open_issuer(st);
	assert_int_equal(issuer_subject_upsert(is, "op", "alice", ISSUER_KIND_CLIENT, 6, NOW, NULL),
	                 UM_OK);
	assert_int_equal(issuer_subject_adjust(is, "op", "alice", -3, 42, "", NOW), UM_OK);
	assert_int_equal(issuer_dispute_open(is, "op", "alice", 3, DAY, "C", "E", NOW, &did),
	                 UM_OK);
	assert_int_equal(issuer_appeal_open(is, "op", "alice", did, DAY, "CA", "EA", NOW, &aid),
	                 UM_OK);
	issuer_free(is);
	store_close(st);

	assert_int_equal(store_open(path, NULL, &st, why, sizeof(why)), UM_OK);
	is = open_issuer(st);
	assert_int_equal(issuer_subject_get(is, "alice", NOW + 1, &v), UM_OK);
	assert_int_equal(v.subject.tier, 6);
	assert_int_equal(v.subject.reputation, -3);
	assert_int_equal(v.subject.bond, 42);
	assert_int_equal(v.effective_tier, 3);
	assert_int_equal(v.cap_dispute_id, did);
	assert_true(v.has_open_appeal);
	assert_int_equal(v.appeal.id, aid);
	assert_string_equal(v.appeal.case_id, "CA");
	assert_int_equal(audit_count(is), 4);
	/* Ids keep growing after a restart. */
	assert_int_equal(issuer_dispute_open(is, "op", "alice", 3, DAY, "", "", NOW, &aid), UM_OK);
	assert_true(aid > did);
	assert_int_equal(store_integrity_check(st), UM_OK);
	issuer_free(is);
	store_close(st);

	unlink(path);
	snprintf(p2, sizeof(p2), "%s-wal", path);
	unlink(p2);
	snprintf(p2, sizeof(p2), "%s-shm", path);
	unlink(p2);
	rmdir(dir);
	log_expect_no_db_errors();
}

/* ---- HTTP ---- */

/* Run one request; returns the status; *j (may be NULL) gets the parsed body. */
static int
req(struct issuer *is, const char *method, const char *path, const char *auth, const char *body,
    uint64_t now, json_t **j)
{
	struct ev_http_resp resp;
	json_t *doc;

	memset(&resp, 0, sizeof(resp));
	issuer_handle(is, method, path, auth, (const uint8_t *)body, body ? strlen(body) : 0, now,
	              &resp);
	assert_non_null(resp.body);
	assert_string_equal(resp.content_type, "application/json");
	assert_null(resp.etag);
	doc = json_loadb((const char *)resp.body, resp.body_len, 0, NULL);
	assert_non_null(doc);
	assert_true(json_is_object(doc));
	if (resp.status >= 400)
		assert_true(json_is_string(json_object_get(doc, "error")));
	free(resp.body);
	if (j != NULL)
		*j = doc;
	else
		json_decref(doc);
	return resp.status;
}

/* The status of a request, whose error (if err is not NULL) must contain err. */
static int
req_err(struct issuer *is, const char *method, const char *path, const char *auth, const char *body,
        const char *err)
{
	json_t *j;
	int st = req(is, method, path, auth, body, NOW, &j);

	if (err != NULL) {
		const char *e = json_string_value(json_object_get(j, "error"));

		if (e == NULL || strstr(e, err) == NULL)
			fail_msg("error \"%s\" does not contain \"%s\"", e ? e : "(none)", err);
	}
	json_decref(j);
	return st;
}

static void
test_http_auth(void **state)
{
	struct fx f;
	struct store *st = NULL;
	struct issuer_config cfg;
	struct issuer *noadmin = NULL;
	char why[256];

	(void)state;
	fx_open(&f);
	assert_int_equal(
	        req_err(f.is, "GET", "/v1/admin/audit", NULL, NULL, "missing Authorization"), 401);
	assert_int_equal(req_err(f.is, "GET", "/v1/admin/audit", "Bearer wrong-token-0123456789",
	                         NULL, "invalid admin token"),
	                 401);
	assert_int_equal(req_err(f.is, "GET", "/v1/admin/audit", "Bearer " TOKEN "x", NULL,
	                         "invalid admin token"),
	                 401);
	assert_int_equal(req_err(f.is, "GET", "/v1/admin/audit", "Basic " TOKEN, NULL, NULL), 401);
	assert_int_equal(req_err(f.is, "GET", "/v1/admin/audit", TOKEN, NULL, NULL), 401);
	assert_int_equal(req_err(f.is, "GET", "/v1/admin/audit", "Bearer ", NULL, NULL), 401);
	assert_int_equal(req_err(f.is, "GET", "/v1/admin/audit", "", NULL, NULL), 401);
	/* Unauthenticated requests learn nothing about routes or bodies. */
	assert_int_equal(req_err(f.is, "DELETE", "/v1/admin/nope", NULL, "{", NULL), 401);
	assert_int_equal(req_err(f.is, "PUT", "/v1/admin/subjects/alice", "Bearer nope",
	                         "{\"kind\":\"client\",\"tier\":9}", NULL),
	                 401);
	assert_int_equal(audit_count(f.is), 0);
	/* Right token; the scheme is case-insensitive, spaces around the token are ignored. */
	assert_int_equal(req_err(f.is, "GET", "/v1/admin/audit", BEARER, NULL, NULL), 200);
	assert_int_equal(req_err(f.is, "GET", "/v1/admin/audit", "bearer   " TOKEN " ", NULL, NULL),
	                 200);
	/* Not admin routes: 404 whatever the token. */
	assert_int_equal(req_err(f.is, "GET", "/v1/pubkeys", NULL, NULL, "no such endpoint"), 404);
	assert_int_equal(req_err(f.is, "GET", "/v1/revocations", BEARER, NULL, NULL), 404);
	assert_int_equal(req_err(f.is, "POST", "/v1/token", NULL, "{}", NULL), 404);
	assert_int_equal(req_err(f.is, "GET", "/v1/administrator", BEARER, NULL, NULL), 404);
	/* No admin token configured: the admin API is off. */
	assert_int_equal(store_open(STORE_PATH_MEMORY, NULL, &st, why, sizeof(why)), UM_OK);
	issuer_config_defaults(&cfg);
	assert_int_equal(issuer_open(st, &cfg, &noadmin, why, sizeof(why)), UM_OK);
	assert_int_equal(req_err(noadmin, "GET", "/v1/admin/audit", BEARER, NULL, "disabled"), 403);
	issuer_free(noadmin);
	store_close(st);
	fx_close(&f);
}

static json_t *
jget(json_t *j, const char *a, const char *b)
{
	json_t *v = json_object_get(j, a);

	return b != NULL && v != NULL ? json_object_get(v, b) : v;
}

static void
test_http_flow(void **state)
{
	struct fx f;
	json_t *j, *e;
	char path[128];
	long long did, aid;

	(void)state;
	fx_open(&f);
	/* Create, then update (201, then 200), then the same again (no audit row). */
	assert_int_equal(req(f.is, "PUT", "/v1/admin/subjects/alice", BEARER,
	                     "{\"kind\":\"client\",\"tier\":3,\"actor\":\"ops@example\"}", NOW, &j),
	                 201);
	assert_true(json_is_true(json_object_get(j, "created")));
	assert_string_equal(json_string_value(jget(j, "subject", "id")), "alice");
	assert_int_equal(json_integer_value(jget(j, "subject", "effective_tier")), 3);
	assert_true(json_is_null(jget(j, "subject", "cap")));
	json_decref(j);
	assert_int_equal(req(f.is, "PUT", "/v1/admin/subjects/alice", BEARER,
	                     "{\"kind\":\"client\",\"tier\":4}", NOW, &j),
	                 200);
	assert_true(json_is_false(json_object_get(j, "created")));
	json_decref(j);
	assert_int_equal(req(f.is, "PUT", "/v1/admin/subjects/alice", BEARER,
	                     "{\"kind\":\"client\",\"tier\":4}", NOW, NULL),
	                 200);
	/* Promote, adjust. */
	assert_int_equal(req(f.is, "POST", "/v1/admin/subjects/alice/promote", BEARER,
	                     "{\"tier\":6,\"reason\":\"verified\"}", NOW, &j),
	                 200);
	assert_int_equal(json_integer_value(jget(j, "subject", "tier")), 6);
	json_decref(j);
	assert_int_equal(req(f.is, "POST", "/v1/admin/subjects/alice/adjust", BEARER,
	                     "{\"reputation_delta\":-5,\"bond_delta\":9223372036854775807}", NOW,
	                     &j),
	                 200);
	assert_int_equal(json_integer_value(jget(j, "subject", "reputation")), -5);
	assert_int_equal(json_integer_value(jget(j, "subject", "bond")), INT64_MAX);
	json_decref(j);
	assert_int_equal(req_err(f.is, "POST", "/v1/admin/subjects/alice/adjust", BEARER,
	                         "{\"bond_delta\":1}", "bond would leave"),
	                 400);
	/* Dispute: 201 with the dispute; the cap shows in the subject. */
	assert_int_equal(req(f.is, "POST", "/v1/admin/subjects/alice/disputes", BEARER,
	                     "{\"tier_cap\":2,\"ttl_s\":86400,\"case_id\":\"CASE-1\","
	                     "\"evidence_ref\":\"ev://1\"}",
	                     NOW, &j),
	                 201);
	did = json_integer_value(jget(j, "dispute", "id"));
	assert_true(did > 0);
	assert_true(json_is_true(jget(j, "dispute", "active")));
	assert_int_equal(json_integer_value(jget(j, "subject", "effective_tier")), 2);
	assert_int_equal(json_integer_value(jget(jget(j, "subject", "cap"), "tier_cap", NULL)), 2);
	assert_int_equal(json_array_size(jget(j, "subject", "disputes")), 1);
	json_decref(j);
	/* Appeal it, then grant: the cap goes. */
	snprintf(path, sizeof(path), "{\"dispute\":%lld,\"ttl_s\":3600,\"case_id\":\"A-1\"}", did);
	assert_int_equal(
	        req(f.is, "POST", "/v1/admin/subjects/alice/appeals", BEARER, path, NOW + 1, &j),
	        201);
	aid = json_integer_value(jget(j, "appeal", "id"));
	assert_true(aid > 0);
	assert_true(json_is_true(jget(j, "appeal", "open")));
	assert_int_equal(json_integer_value(jget(jget(j, "subject", "appeal"), "id", NULL)), aid);
	json_decref(j);
	snprintf(path, sizeof(path), "/v1/admin/subjects/alice/appeals/%lld/resolve", aid);
	assert_int_equal(req(f.is, "POST", path, BEARER,
	                     "{\"outcome\":\"granted\",\"actor\":\"judge\"}", NOW + 2, &j),
	                 200);
	assert_int_equal(json_integer_value(jget(j, "subject", "effective_tier")), 6);
	assert_true(json_is_null(jget(j, "subject", "cap")));
	json_decref(j);
	assert_int_equal(
	        req_err(f.is, "POST", path, BEARER, "{\"outcome\":\"denied\"}", "already resolved"),
	        409);
	/* A second dispute, cleared directly. */
	assert_int_equal(req(f.is, "POST", "/v1/admin/subjects/alice/disputes", BEARER,
	                     "{\"tier_cap\":1,\"ttl_s\":60}", NOW, &j),
	                 201);
	did = json_integer_value(jget(j, "dispute", "id"));
	json_decref(j);
	snprintf(path, sizeof(path), "/v1/admin/subjects/alice/disputes/%lld/clear", did);
	assert_int_equal(req(f.is, "POST", path, BEARER, "{\"reason\":\"mistake\"}", NOW + 3, NULL),
	                 200);
	assert_int_equal(req_err(f.is, "POST", path, BEARER, "{}", "already cleared"), 409);
	/* GET the subject. */
	assert_int_equal(req(f.is, "GET", "/v1/admin/subjects/alice", BEARER, NULL, NOW + 4, &j),
	                 200);
	e = json_object_get(j, "subject");
	assert_int_equal(json_integer_value(json_object_get(e, "effective_tier")), 6);
	assert_string_equal(json_string_value(json_object_get(e, "kind")), "client");
	assert_int_equal(json_array_size(json_object_get(e, "disputes")), 2);
	assert_int_equal(json_array_size(json_object_get(e, "appeals")), 1);
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(json_object_get(e, "appeals"), 0), "outcome")),
	                    "granted");
	json_decref(j);
	assert_int_equal(
	        req_err(f.is, "GET", "/v1/admin/subjects/bob", BEARER, NULL, "no such subject"),
	        404);
	/* The audit trail over HTTP, paged. */
	assert_int_equal(req(f.is, "GET", "/v1/admin/audit", BEARER, NULL, NOW, &j), 200);
	e = json_object_get(j, "entries");
	assert_int_equal(json_array_size(e), 10);
	assert_string_equal(json_string_value(json_object_get(json_array_get(e, 0), "actor")),
	                    "ops@example");
	assert_string_equal(json_string_value(json_object_get(json_array_get(e, 1), "actor")),
	                    "admin");
	assert_string_equal(json_string_value(json_object_get(json_array_get(e, 6), "action")),
	                    "appeal.resolve");
	assert_string_equal(json_string_value(json_object_get(json_array_get(e, 6), "actor")),
	                    "judge");
	assert_string_equal(json_string_value(json_object_get(json_array_get(e, 7), "action")),
	                    "dispute.clear");
	assert_int_equal(json_integer_value(jget(json_object_get(json_array_get(e, 0), "detail"),
	                                         "new", "tier")),
	                 3);
	assert_int_equal(json_integer_value(json_object_get(j, "next_after")),
	                 json_integer_value(json_object_get(json_array_get(e, 9), "seq")));
	json_decref(j);
	assert_int_equal(req(f.is, "GET", "/v1/admin/audit?after=2&limit=3", BEARER, NULL, NOW, &j),
	                 200);
	e = json_object_get(j, "entries");
	assert_int_equal(json_array_size(e), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(e, 0), "seq")), 3);
	assert_int_equal(json_integer_value(json_object_get(j, "next_after")), 5);
	json_decref(j);
	assert_int_equal(req(f.is, "GET", "/v1/admin/audit?after=100", BEARER, NULL, NOW, &j), 200);
	assert_int_equal(json_array_size(json_object_get(j, "entries")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "next_after")), 100);
	json_decref(j);
	fx_close(&f);
}

static void
test_http_bad_requests(void **state)
{
	struct fx f;
	char big[ISSUER_BODY_MAX_LEN + 2], path[ISSUER_PATH_MAX_LEN + 16];
	size_t n;

	(void)state;
	fx_open(&f);
	assert_int_equal(req(f.is, "PUT", "/v1/admin/subjects/alice", BEARER,
	                     "{\"kind\":\"client\",\"tier\":3}", NOW, NULL),
	                 201);
	n = audit_count(f.is);
	/* Malformed JSON, not an object, duplicates, empty. */
	assert_int_equal(req_err(f.is, "PUT", "/v1/admin/subjects/bob", BEARER,
	                         "{\"kind\":", "malformed JSON"),
	                 400);
	assert_int_equal(req_err(f.is, "PUT", "/v1/admin/subjects/bob", BEARER, "[1,2]",
	                         "must be a JSON object"),
	                 400);
	assert_int_equal(req_err(f.is, "PUT", "/v1/admin/subjects/bob", BEARER,
	                         "{\"kind\":\"client\",\"tier\":1,\"tier\":2}", "malformed JSON"),
	                 400);
	assert_int_equal(
	        req_err(f.is, "PUT", "/v1/admin/subjects/bob", BEARER, "", "body is required"),
	        400);
	assert_int_equal(req_err(f.is, "PUT", "/v1/admin/subjects/bob", BEARER,
	                         "{\"kind\":\"client\",\"tier\":1} x", "malformed JSON"),
	                 400);
	/* Unknown fields, wrong types, missing fields, out-of-range values. */
	assert_int_equal(req_err(f.is, "PUT", "/v1/admin/subjects/bob", BEARER,
	                         "{\"kind\":\"client\",\"tier\":1,\"admin\":true}",
	                         "unknown field \"admin\""),
	                 400);
	assert_int_equal(req_err(f.is, "PUT", "/v1/admin/subjects/bob", BEARER,
	                         "{\"kind\":\"client\",\"tier\":\"1\"}",
	                         "\"tier\" must be an integer"),
	                 400);
	assert_int_equal(req_err(f.is, "PUT", "/v1/admin/subjects/bob", BEARER,
	                         "{\"kind\":\"client\",\"tier\":1.0}",
	                         "\"tier\" must be an integer"),
	                 400);
	assert_int_equal(req_err(f.is, "PUT", "/v1/admin/subjects/bob", BEARER,
	                         "{\"kind\":1,\"tier\":1}", "\"kind\" must be a string"),
	                 400);
	assert_int_equal(req_err(f.is, "PUT", "/v1/admin/subjects/bob", BEARER, "{\"tier\":1}",
	                         "missing field \"kind\""),
	                 400);
	assert_int_equal(req_err(f.is, "PUT", "/v1/admin/subjects/bob", BEARER,
	                         "{\"kind\":\"admin\",\"tier\":1}", "\"kind\" must be"),
	                 400);
	assert_int_equal(req_err(f.is, "PUT", "/v1/admin/subjects/bob", BEARER,
	                         "{\"kind\":\"client\",\"tier\":257}", "\"tier\" must be 1..15"),
	                 400);
	assert_int_equal(req_err(f.is, "PUT", "/v1/admin/subjects/bob", BEARER,
	                         "{\"kind\":\"client\",\"tier\":1,\"actor\":\"a b\"}",
	                         "invalid actor"),
	                 400);
	assert_int_equal(req_err(f.is, "PUT", "/v1/admin/subjects/bob", BEARER,
	                         "{\"kind\":\"client\",\"tier\":1,\"actor\":null}",
	                         "\"actor\" must be a string"),
	                 400);
	assert_int_equal(req_err(f.is, "POST", "/v1/admin/subjects/alice/adjust", BEARER,
	                         "{\"bond_delta\":99999999999999999999}", "malformed JSON"),
	                 400);
	assert_int_equal(req_err(f.is, "POST", "/v1/admin/subjects/alice/disputes", BEARER,
	                         "{\"tier_cap\":2,\"ttl_s\":2592001}",
	                         "\"ttl_s\" must be 1..2592000"),
	                 400);
	assert_int_equal(req_err(f.is, "POST", "/v1/admin/subjects/alice/disputes", BEARER,
	                         "{\"tier_cap\":2,\"ttl_s\":60,\"case_id\":\"caf\\u00e9\"}",
	                         "\"case_id\" must be 0..128 printable"),
	                 400);
	assert_int_equal(req_err(f.is, "POST", "/v1/admin/subjects/alice/disputes", BEARER,
	                         "{\"tier_cap\":2,\"ttl_s\":60,\"case_id\":\"a\\u0000b\"}",
	                         "malformed JSON"),
	                 400);
	assert_int_equal(req_err(f.is, "POST", "/v1/admin/subjects/alice/appeals", BEARER,
	                         "{\"dispute\":0,\"ttl_s\":60}", "\"dispute\" must be"),
	                 400);
	assert_int_equal(req_err(f.is, "POST", "/v1/admin/subjects/alice/appeals", BEARER,
	                         "{\"dispute\":77,\"ttl_s\":60}", "no such dispute"),
	                 404);
	assert_int_equal(req_err(f.is, "POST", "/v1/admin/subjects/alice/appeals/1/resolve", BEARER,
	                         "{\"outcome\":\"maybe\"}", "\"outcome\" must be"),
	                 400);
	assert_int_equal(req_err(f.is, "POST", "/v1/admin/subjects/alice/promote", BEARER,
	                         "{\"tier\":2,\"reason\":[]}", "\"reason\" must be a string"),
	                 400);
	/* Caps. */
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[ISSUER_BODY_MAX_LEN] = '}';
	big[ISSUER_BODY_MAX_LEN + 1] = '\0';
	assert_int_equal(
	        req_err(f.is, "POST", "/v1/admin/subjects/alice/promote", BEARER, big, "too large"),
	        413);
	memset(path, 'a', sizeof(path));
	memcpy(path, "/v1/admin/subjects/", 19);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(req_err(f.is, "GET", path, BEARER, NULL, "path too long"), 414);
	/* Routing: ids, methods, shapes, queries. */
	assert_int_equal(req_err(f.is, "GET", "/v1/admin/subjects/a%20b", BEARER, NULL,
	                         "invalid subject id"),
	                 400);
	assert_int_equal(
	        req_err(f.is, "GET", "/v1/admin/subjects/..", BEARER, NULL, "invalid subject id"),
	        400);
	assert_int_equal(req_err(f.is, "DELETE", "/v1/admin/subjects/alice", BEARER, NULL,
	                         "method not allowed"),
	                 405);
	assert_int_equal(req_err(f.is, "GET", "/v1/admin/subjects/alice/promote", BEARER, NULL,
	                         "method not allowed"),
	                 405);
	assert_int_equal(
	        req_err(f.is, "POST", "/v1/admin/audit", BEARER, "{}", "method not allowed"), 405);
	assert_int_equal(
	        req_err(f.is, "GET", "/v1/admin/subjects/alice", BEARER, "{}", "GET takes no body"),
	        400);
	assert_int_equal(req_err(f.is, "GET", "/v1/admin/subjects/alice?x=1", BEARER, NULL,
	                         "no query string"),
	                 400);
	assert_int_equal(req_err(f.is, "POST", "/v1/admin/subjects/alice/disputes/01/clear", BEARER,
	                         "{}", "bad id in path"),
	                 400);
	assert_int_equal(req_err(f.is, "POST", "/v1/admin/subjects/alice/disputes/x/clear", BEARER,
	                         "{}", "bad id in path"),
	                 400);
	assert_int_equal(req_err(f.is, "POST", "/v1/admin/subjects/alice/disputes/1/nope", BEARER,
	                         "{}", "no such endpoint"),
	                 404);
	assert_int_equal(
	        req_err(f.is, "GET", "/v1/admin/subjects", BEARER, NULL, "no such endpoint"), 404);
	assert_int_equal(
	        req_err(f.is, "GET", "/v1/admin/subjects/", BEARER, NULL, "no such endpoint"), 404);
	assert_int_equal(
	        req_err(f.is, "GET", "/v1/admin/subjects//x", BEARER, NULL, "no such endpoint"),
	        404);
	assert_int_equal(req_err(f.is, "GET", "/v1/admin/audit/", BEARER, NULL, "no such endpoint"),
	                 404);
	assert_int_equal(
	        req_err(f.is, "GET", "/v1/admin/a/b/c/d/e/f", BEARER, NULL, "no such endpoint"),
	        404);
	assert_int_equal(req_err(f.is, "GET", "/v1/admin/audit?limit=0", BEARER, NULL, "limit"),
	                 400);
	assert_int_equal(req_err(f.is, "GET", "/v1/admin/audit?limit=1001", BEARER, NULL, "limit"),
	                 400);
	assert_int_equal(req_err(f.is, "GET", "/v1/admin/audit?after=-1", BEARER, NULL, "after"),
	                 400);
	assert_int_equal(
	        req_err(f.is, "GET", "/v1/admin/audit?after=1&after=2", BEARER, NULL, "bad query"),
	        400);
	assert_int_equal(req_err(f.is, "GET", "/v1/admin/audit?foo=1", BEARER, NULL, "bad query"),
	                 400);
	assert_int_equal(req_err(f.is, "GET", "/v1/admin/audit?limit=1000", BEARER, NULL, NULL),
	                 200);
	assert_int_equal(req_err(f.is, "GET", "/v1/admin/audit?", BEARER, NULL, NULL), 200);
	/* None of it wrote anything. */
	assert_int_equal(audit_count(f.is), n);
	fx_close(&f);
}

/* ---- findings of the review: rollback, request ids, SQL binding, chain, crash ---- */

/* Every row of every issuer table and the AUTOINCREMENT counters, as text. */
static char *
db_dump(struct store *st)
{
	static const char *const sql[] = {
		"SELECT * FROM issuer_subjects ORDER BY id",
		"SELECT * FROM issuer_disputes ORDER BY id",
		"SELECT * FROM issuer_appeals ORDER BY id",
		"SELECT * FROM issuer_audit ORDER BY seq",
		"SELECT * FROM issuer_requests ORDER BY request_id",
		"SELECT * FROM sqlite_sequence ORDER BY name",
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	for (size_t t = 0; t < sizeof(sql) / sizeof(sql[0]); t++) {
		struct store_stmt *s = NULL;
		int ret;

		assert_int_equal(store_stmt_prepare(st, sql[t], &s), UM_OK);
		fprintf(out, "[%s]\n", sql[t]);
		while ((ret = store_stmt_step(s)) == STORE_ROW) {
			for (int c = 0; c < store_stmt_column_count(s); c++) {
				const uint8_t *p;
				const char *text;
				int64_t v;
				size_t n;

				switch (store_stmt_column_type(s, c)) {
				case STORE_INT:
					assert_int_equal(store_stmt_column_int64(s, c, &v), UM_OK);
					fprintf(out, "%lld|", (long long)v);
					break;
				case STORE_TEXT:
					assert_int_equal(store_stmt_column_text(s, c, &text, NULL),
					                 UM_OK);
					fprintf(out, "'%s'|", text);
					break;
				case STORE_BLOB:
					assert_int_equal(store_stmt_column_blob(s, c, &p, &n),
					                 UM_OK);
					for (size_t i = 0; i < n; i++)
						fprintf(out, "%02x", p[i]);
					fputc('|', out);
					break;
				default:
					fprintf(out, "NULL|");
					break;
				}
			}
			fputc('\n', out);
		}
		assert_int_equal(ret, STORE_DONE);
		store_stmt_free(s);
	}
	assert_int_equal(fclose(out), 0);
	return buf;
}

static void
test_actor_required(void **state)
{
	struct fx f;
	struct issuer_op op;
	int64_t did, aid;
	size_t n;

	(void)state;
	fx_open(&f);
	assert_int_equal(
	        issuer_subject_upsert(f.is, "op", "alice", ISSUER_KIND_CLIENT, 4, NOW, NULL),
	        UM_OK);
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 2, DAY, "", "", NOW, &did),
	                 UM_OK);
	assert_int_equal(issuer_appeal_open(f.is, "op", "alice", did, DAY, "", "", NOW, &aid),
	                 UM_OK);
	n = audit_count(f.is);
	/* Every mutation needs a valid actor; NULL is not "anonymous". */
	assert_int_equal(issuer_subject_upsert(f.is, NULL, "bob", ISSUER_KIND_CLIENT, 1, NOW, NULL),
	                 UM_ERR_INVALID);
	assert_non_null(strstr(issuer_errmsg(f.is), "invalid actor"));
	assert_int_equal(issuer_subject_promote(f.is, NULL, "alice", 5, "", NOW), UM_ERR_INVALID);
	assert_int_equal(issuer_subject_adjust(f.is, NULL, "alice", 1, 1, "", NOW), UM_ERR_INVALID);
	assert_int_equal(issuer_dispute_open(f.is, NULL, "alice", 1, DAY, "", "", NOW, NULL),
	                 UM_ERR_INVALID);
	assert_int_equal(issuer_dispute_clear(f.is, NULL, "alice", did, "", NOW), UM_ERR_INVALID);
	assert_int_equal(issuer_appeal_open(f.is, NULL, "alice", did, DAY, "", "", NOW, NULL),
	                 UM_ERR_INVALID);
	assert_int_equal(
	        issuer_appeal_resolve(f.is, NULL, "alice", aid, ISSUER_OUTCOME_GRANTED, "", NOW),
	        UM_ERR_INVALID);
	memset(&op, 0, sizeof(op));
	op.type = ISSUER_OP_SUBJECT_PROMOTE;
	op.subject = "alice";
	op.tier = 5;
	op.now_s = NOW;
	assert_int_equal(issuer_apply(f.is, &op, NULL, NULL), UM_ERR_INVALID);
	op.actor = "";
	assert_int_equal(issuer_apply(f.is, &op, NULL, NULL), UM_ERR_INVALID);
	assert_int_equal(audit_count(f.is), n);
	/* Reads need none. */
	op.actor = "op";
	assert_int_equal(issuer_apply(f.is, &op, NULL, NULL), UM_OK);
	fx_close(&f);
}

/* The ops of the rollback test, each valid on the state it builds. */
static void
rollback_ops(struct issuer_op ops[8], int64_t d1, int64_t d2, int64_t d3, int64_t a2)
{
	memset(ops, 0, 8 * sizeof(ops[0]));
	ops[0].type = ISSUER_OP_SUBJECT_UPSERT; /* create */
	ops[0].subject = "bob";
	ops[0].kind = ISSUER_KIND_CLIENT;
	ops[0].tier = 2;
	ops[1].type = ISSUER_OP_SUBJECT_UPSERT; /* update */
	ops[1].subject = "alice";
	ops[1].kind = ISSUER_KIND_RELAY;
	ops[1].tier = 5;
	ops[2].type = ISSUER_OP_SUBJECT_PROMOTE;
	ops[2].subject = "alice";
	ops[2].tier = 7;
	ops[3].type = ISSUER_OP_SUBJECT_ADJUST;
	ops[3].subject = "alice";
	ops[3].reputation_delta = 5;
	ops[3].bond_delta = 10;
	ops[4].type = ISSUER_OP_DISPUTE_OPEN;
	ops[4].subject = "alice";
	ops[4].tier_cap = 2;
	ops[4].ttl_s = DAY;
	ops[5].type = ISSUER_OP_DISPUTE_CLEAR; /* and withdraw its appeal */
	ops[5].subject = "alice";
	ops[5].dispute_id = d1;
	ops[6].type = ISSUER_OP_APPEAL_OPEN;
	ops[6].subject = "alice";
	ops[6].dispute_id = d3;
	ops[6].ttl_s = DAY;
	ops[7].type = ISSUER_OP_APPEAL_RESOLVE; /* granted: clears d2 too */
	ops[7].subject = "alice";
	ops[7].appeal_id = a2;
	ops[7].outcome = ISSUER_OUTCOME_GRANTED;
	(void)d2;
	for (int i = 0; i < 8; i++) {
		ops[i].actor = "op";
		ops[i].now_s = NOW + 10;
		ops[i].reason = "r";
	}
}

static void
test_rollback_leaves_nothing(void **state)
{
	static const char *const ids[8] = { "rb-0", "rb-1", "rb-2", "rb-3",
		                            "rb-4", "rb-5", "rb-6", "rb-7" };
	struct issuer_snapshot *snap = malloc(sizeof(*snap));
	struct issuer_op ops[8];
	struct issuer_result res;
	char *before, *after;
	int64_t d1, d2, d3, a1, a2;
	uint64_t n_rows;
	int64_t bad;
	struct fx f;

	(void)state;
	assert_non_null(snap);
	fx_open(&f);
	f.db_errors_expected = true;
	assert_int_equal(
	        issuer_subject_upsert(f.is, "op", "alice", ISSUER_KIND_CLIENT, 4, NOW, NULL),
	        UM_OK);
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 2, DAY, "", "", NOW, &d1), UM_OK);
	assert_int_equal(issuer_appeal_open(f.is, "op", "alice", d1, DAY, "", "", NOW, &a1), UM_OK);
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 3, DAY, "", "", NOW, &d2), UM_OK);
	assert_int_equal(issuer_appeal_open(f.is, "op", "alice", d2, DAY, "", "", NOW, &a2), UM_OK);
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 1, DAY, "", "", NOW, &d3), UM_OK);
	rollback_ops(ops, d1, d2, d3, a2);
	/* The audit insert, the last write of every mutation, now fails. */
	assert_int_equal(store_exec(f.st, "CREATE TRIGGER test_audit_fails BEFORE INSERT ON"
	                                  " issuer_audit BEGIN SELECT RAISE(ABORT, 'test');"
	                                  " END;"),
	                 UM_OK);
	before = db_dump(f.st);
	for (int i = 0; i < 8; i++) {
		ops[i].request_id = ids[i];
		log_reset();
		assert_int_equal(issuer_apply(f.is, &ops[i], &res, snap), UM_ERR_DB);
		assert_string_equal(issuer_errmsg(f.is), "database error");
		assert_true(logged.n_db_errors > 0);
		assert_false(res.replayed);
		assert_int_equal(res.dispute_id, 0);
		assert_int_equal(snap->view.subject.id[0], '\0');
		after = db_dump(f.st);
		assert_string_equal(before, after);
		free(after);
	}
	/* Over HTTP: a store failure is 503 (not 400 or 409), and nothing is written. */
	assert_int_equal(req_err(f.is, "PUT", "/v1/admin/subjects/carol", BEARER,
	                         "{\"kind\":\"client\",\"tier\":1,\"request_id\":\"rb-http\"}",
	                         "database error"),
	                 503);
	after = db_dump(f.st);
	assert_string_equal(before, after);
	free(after);
	free(before);
	/* Each of them was valid: without the trigger they all go through. */
	assert_int_equal(store_exec(f.st, "DROP TRIGGER test_audit_fails"), UM_OK);
	log_reset();
	for (int i = 0; i < 8; i++)
		assert_int_equal(issuer_apply(f.is, &ops[i], &res, snap), UM_OK);
	log_expect_no_db_errors();
	assert_int_equal(issuer_appeal_get(f.is, a1, &snap->appeals[0]), UM_OK);
	assert_int_equal(snap->appeals[0].outcome, ISSUER_OUTCOME_WITHDRAWN);
	assert_int_equal(issuer_audit_verify(f.is, &n_rows, &bad), UM_OK);
	assert_int_equal(bad, 0);
	fx_close(&f);
	free(snap);
}

static void
test_http_reply_read_in_transaction(void **state)
{
	struct fx f;
	struct issuer_subject_view v;
	char *before, *after;
	json_t *j;

	(void)state;
	fx_open(&f);
	f.db_errors_expected = true;
	assert_int_equal(req(f.is, "PUT", "/v1/admin/subjects/alice", BEARER,
	                     "{\"kind\":\"client\",\"tier\":3}", NOW, NULL),
	                 201);
	/* A damaged dispute row (a negative time passes the CHECKs; the reader refuses it):
	 * alice's snapshot, which every reply about her carries, cannot be read. */
	assert_int_equal(store_exec(f.st, "INSERT INTO issuer_disputes (subject, tier_cap, opened,"
	                                  " expires, cleared_at, case_id, evidence_ref) VALUES"
	                                  " ('alice', 2, -5, 10, NULL, '', '')"),
	                 UM_OK);
	before = db_dump(f.st);
	/* The reply is read before COMMIT: its failure undoes the change, so an error reply
	 * never stands for a change that is on disk. */
	assert_int_equal(req_err(f.is, "POST", "/v1/admin/subjects/alice/promote", BEARER,
	                         "{\"tier\":6}", "database error"),
	                 503);
	assert_int_equal(req_err(f.is, "POST", "/v1/admin/subjects/alice/disputes", BEARER,
	                         "{\"tier_cap\":1,\"ttl_s\":60}", "database error"),
	                 503);
	after = db_dump(f.st);
	assert_string_equal(before, after);
	free(after);
	free(before);
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW, &v), UM_OK);
	assert_int_equal(v.subject.tier, 3);
	/* Another subject is unaffected. */
	assert_int_equal(req(f.is, "PUT", "/v1/admin/subjects/bob", BEARER,
	                     "{\"kind\":\"client\",\"tier\":3}", NOW, &j),
	                 201);
	json_decref(j);
	fx_close(&f);
}

static void
test_request_id(void **state)
{
	struct issuer_snapshot *snap = malloc(sizeof(*snap));
	char long_id[ISSUER_ID_MAX_LEN + 2];
	struct issuer_op op, op2;
	struct issuer_result res;
	struct audit_rows r;
	struct fx f;
	int64_t did;
	size_t n;
	json_t *j;

	(void)state;
	assert_non_null(snap);
	fx_open(&f);
	assert_int_equal(
	        issuer_subject_upsert(f.is, "op", "alice", ISSUER_KIND_CLIENT, 5, NOW, NULL),
	        UM_OK);
	assert_int_equal(issuer_subject_upsert(f.is, "op", "bob", ISSUER_KIND_CLIENT, 5, NOW, NULL),
	                 UM_OK);
	memset(&op, 0, sizeof(op));
	op.type = ISSUER_OP_DISPUTE_OPEN;
	op.actor = "mod";
	op.subject = "alice";
	op.request_id = "req-1";
	op.now_s = NOW;
	op.tier_cap = 2;
	op.ttl_s = DAY;
	op.case_id = "C-1";
	assert_int_equal(issuer_apply(f.is, &op, &res, snap), UM_OK);
	assert_false(res.replayed);
	did = res.dispute_id;
	assert_true(did > 0);
	assert_int_equal(res.dispute.id, did);
	assert_int_equal(res.dispute.tier_cap, 2);
	assert_int_equal(snap->view.effective_tier, 2);
	assert_int_equal(snap->n_disputes, 1);
	n = audit_count(f.is);
	/* The same request again (a retry after a lost reply, later): nothing new. */
	op.now_s = NOW + 5;
	assert_int_equal(issuer_apply(f.is, &op, &res, snap), UM_OK);
	assert_true(res.replayed);
	assert_int_equal(res.dispute_id, did);
	assert_int_equal(res.dispute.id, did);
	assert_int_equal(snap->n_disputes, 1);
	assert_int_equal(audit_count(f.is), n);
	/* The id with another request: refused, whatever differs. */
	op2 = op;
	op2.ttl_s = 2 * DAY;
	assert_int_equal(issuer_apply(f.is, &op2, &res, NULL), UM_ERR_EXISTS);
	assert_non_null(strstr(issuer_errmsg(f.is), "request_id already used"));
	op2 = op;
	op2.subject = "bob";
	assert_int_equal(issuer_apply(f.is, &op2, &res, NULL), UM_ERR_EXISTS);
	op2 = op;
	op2.type = ISSUER_OP_SUBJECT_PROMOTE;
	op2.tier = 2;
	assert_int_equal(issuer_apply(f.is, &op2, &res, NULL), UM_ERR_EXISTS);
	op2 = op;
	op2.actor = "other";
	assert_int_equal(issuer_apply(f.is, &op2, &res, NULL), UM_ERR_EXISTS);
	assert_int_equal(audit_count(f.is), n);
	/* Bad ids. */
	op2 = op;
	op2.request_id = "";
	assert_int_equal(issuer_apply(f.is, &op2, &res, NULL), UM_ERR_INVALID);
	op2.request_id = "a b";
	assert_int_equal(issuer_apply(f.is, &op2, &res, NULL), UM_ERR_INVALID);
	memset(long_id, 'r', sizeof(long_id));
	long_id[ISSUER_ID_MAX_LEN + 1] = '\0';
	op2.request_id = long_id;
	assert_int_equal(issuer_apply(f.is, &op2, &res, NULL), UM_ERR_INVALID);
	/* A failed call stores nothing: the same id works once the request can succeed. */
	memset(&op2, 0, sizeof(op2));
	op2.type = ISSUER_OP_SUBJECT_PROMOTE;
	op2.actor = "op";
	op2.subject = "carol";
	op2.request_id = "req-2";
	op2.now_s = NOW;
	op2.tier = 7;
	assert_int_equal(issuer_apply(f.is, &op2, &res, NULL), UM_ERR_NOT_FOUND);
	assert_int_equal(
	        issuer_subject_upsert(f.is, "op", "carol", ISSUER_KIND_CLIENT, 1, NOW, NULL),
	        UM_OK);
	assert_int_equal(issuer_apply(f.is, &op2, &res, snap), UM_OK);
	assert_false(res.replayed);
	assert_int_equal(snap->view.subject.tier, 7);
	/* A replay does not apply again, even when the state moved on meanwhile. */
	assert_int_equal(issuer_subject_promote(f.is, "op", "carol", 3, "", NOW + 1), UM_OK);
	assert_int_equal(issuer_apply(f.is, &op2, &res, snap), UM_OK);
	assert_true(res.replayed);
	assert_int_equal(snap->view.subject.tier, 3);
	/* The audit row names the request. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(issuer_audit_foreach(f.is, 0, 64, collect, &r), UM_OK);
	assert_string_equal(r.action[2], "dispute.open");
	assert_string_equal(jstr(r.detail[2], "request_id", NULL), "req-1");
	assert_null(jstr(r.detail[0], "request_id", NULL));
	rows_clear(&r);

	/* Over HTTP: the first reply is 201, a repeat 200 with "replayed" and the same ids. */
	assert_int_equal(req(f.is, "POST", "/v1/admin/subjects/bob/disputes", BEARER,
	                     "{\"tier_cap\":3,\"ttl_s\":600,\"request_id\":\"h-1\"}", NOW, &j),
	                 201);
	did = json_integer_value(jget(j, "dispute", "id"));
	assert_null(json_object_get(j, "replayed"));
	json_decref(j);
	n = audit_count(f.is);
	assert_int_equal(req(f.is, "POST", "/v1/admin/subjects/bob/disputes", BEARER,
	                     "{\"tier_cap\":3,\"ttl_s\":600,\"request_id\":\"h-1\"}", NOW + 1, &j),
	                 200);
	assert_true(json_is_true(json_object_get(j, "replayed")));
	assert_int_equal(json_integer_value(jget(j, "dispute", "id")), did);
	assert_int_equal(json_array_size(jget(j, "subject", "disputes")), 1);
	json_decref(j);
	assert_int_equal(audit_count(f.is), n);
	assert_int_equal(req(f.is, "PUT", "/v1/admin/subjects/dave", BEARER,
	                     "{\"kind\":\"relay\",\"tier\":2,\"request_id\":\"h-2\"}", NOW, NULL),
	                 201);
	assert_int_equal(req(f.is, "PUT", "/v1/admin/subjects/dave", BEARER,
	                     "{\"kind\":\"relay\",\"tier\":2,\"request_id\":\"h-2\"}", NOW, &j),
	                 200);
	assert_true(json_is_true(json_object_get(j, "created")));
	assert_true(json_is_true(json_object_get(j, "replayed")));
	json_decref(j);
	assert_int_equal(req_err(f.is, "POST", "/v1/admin/subjects/bob/disputes", BEARER,
	                         "{\"tier_cap\":4,\"ttl_s\":600,\"request_id\":\"h-1\"}",
	                         "request_id already used"),
	                 409);
	assert_int_equal(req_err(f.is, "POST", "/v1/admin/subjects/bob/promote", BEARER,
	                         "{\"tier\":4,\"request_id\":\"h-1\"}", "request_id already used"),
	                 409);
	assert_int_equal(req_err(f.is, "POST", "/v1/admin/subjects/bob/promote", BEARER,
	                         "{\"tier\":4,\"request_id\":\"a/b\"}", "invalid request_id"),
	                 400);
	assert_int_equal(req_err(f.is, "POST", "/v1/admin/subjects/bob/promote", BEARER,
	                         "{\"tier\":4,\"request_id\":7}",
	                         "\"request_id\" must be a string"),
	                 400);
	fx_close(&f);
	free(snap);
}

static void
test_binding_over_all_disputes(void **state)
{
	struct issuer_subject_view v;
	struct issuer_dispute d;
	char sql[512];
	int64_t last, pending;
	struct fx f;
	json_t *j;

	(void)state;
	fx_open(&f);
	assert_int_equal(
	        issuer_subject_upsert(f.is, "op", "alice", ISSUER_KIND_CLIENT, 9, NOW, NULL),
	        UM_OK);
	/* More active disputes than the quota lets the API open (an older version, a hand
	 * edit): 70 at cap 8, then one at cap 2 with the highest id. */
	snprintf(sql, sizeof(sql),
	         "INSERT INTO issuer_disputes (subject, tier_cap, opened, expires, case_id,"
	         " evidence_ref) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
	         " WHERE i < 70) SELECT 'alice', 8, %d, %d, 'bulk', '' FROM n;"
	         "INSERT INTO issuer_disputes (subject, tier_cap, opened, expires, case_id,"
	         " evidence_ref) VALUES ('alice', 2, %d, %d, 'low', '');",
	         NOW - 10, NOW + DAY, NOW - 10, NOW + DAY);
	assert_int_equal(store_exec(f.st, sql), UM_OK);
	last = store_last_insert_rowid(f.st);
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW, &v), UM_OK);
	assert_int_equal(v.n_active_disputes, 71);
	assert_true(v.capped);
	assert_int_equal(v.cap, 2);
	assert_int_equal(v.cap_dispute_id, last);
	assert_int_equal(v.effective_tier, 2);
	assert_int_equal(req(f.is, "GET", "/v1/admin/subjects/alice", BEARER, NULL, NOW, &j), 200);
	assert_int_equal(json_integer_value(jget(j, "subject", "active_disputes")), 71);
	assert_int_equal(json_integer_value(jget(j, "subject", "effective_tier")), 2);
	json_decref(j);
	/* The quota counts them all. */
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 1, DAY, "", "", NOW, NULL),
	                 UM_ERR_TOO_LARGE);
	/* The clock steps back before they were opened: none is active yet. */
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW - 11, &v), UM_OK);
	assert_int_equal(v.n_active_disputes, 0);
	assert_false(v.capped);
	assert_int_equal(v.effective_tier, 9);
	/* Through the API: a dispute opened at NOW + 100 does not bind at NOW (the clock went
	 * back), nor does it show as active; at NOW + 100 it does. */
	assert_int_equal(issuer_subject_upsert(f.is, "op", "bob", ISSUER_KIND_CLIENT, 6, NOW, NULL),
	                 UM_OK);
	assert_int_equal(
	        issuer_dispute_open(f.is, "op", "bob", 2, DAY, "", "", NOW + 100, &pending), UM_OK);
	assert_int_equal(issuer_subject_get(f.is, "bob", NOW, &v), UM_OK);
	assert_int_equal(v.effective_tier, 6);
	assert_int_equal(v.n_active_disputes, 0);
	assert_int_equal(issuer_dispute_get(f.is, pending, &d), UM_OK);
	assert_false(issuer_dispute_is_active(&d, NOW));
	assert_int_equal(issuer_effective_tier(ISSUER_KIND_CLIENT, 6, &d, 1, NOW, NULL), 6);
	assert_int_equal(req(f.is, "GET", "/v1/admin/subjects/bob", BEARER, NULL, NOW, &j), 200);
	assert_true(json_is_false(
	        json_object_get(json_array_get(jget(j, "subject", "disputes"), 0), "active")));
	json_decref(j);
	assert_int_equal(issuer_subject_get(f.is, "bob", NOW + 100, &v), UM_OK);
	assert_int_equal(v.effective_tier, 2);
	assert_int_equal(v.n_active_disputes, 1);
	/* Not yet started is still live: it can be cleared. */
	assert_int_equal(issuer_dispute_clear(f.is, "op", "bob", pending, "", NOW), UM_OK);
	fx_close(&f);
}

static void
test_binding_tie_break(void **state)
{
	struct issuer_dispute ds[2];
	struct issuer_subject_view v;
	int64_t d1, d2, d3, d4;
	struct fx f;
	size_t idx;

	(void)state;
	/* The pure rule: equal caps and equal expiry, the first one. */
	ds[0] = D(3, NOW + 10, false);
	ds[1] = D(3, NOW + 10, false);
	assert_int_equal(issuer_effective_tier(ISSUER_KIND_CLIENT, 7, ds, 2, NOW, &idx), 3);
	assert_int_equal(idx, 0);
	/* The SQL picks the same: the lowest id among equal caps and expiries. */
	fx_open(&f);
	assert_int_equal(
	        issuer_subject_upsert(f.is, "op", "alice", ISSUER_KIND_CLIENT, 7, NOW, NULL),
	        UM_OK);
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 3, DAY, "", "", NOW, &d1), UM_OK);
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 3, DAY, "", "", NOW, &d2), UM_OK);
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW, &v), UM_OK);
	assert_int_equal(v.cap_dispute_id, d1);
	assert_int_equal(v.n_active_disputes, 2);
	/* Equal caps: the one expiring last. */
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 3, 2 * DAY, "", "", NOW, &d3),
	                 UM_OK);
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW, &v), UM_OK);
	assert_int_equal(v.cap_dispute_id, d3);
	assert_int_equal(v.cap_expires_s, NOW + 2 * DAY);
	/* A lower cap wins over a later expiry. */
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 2, 60, "", "", NOW, &d4), UM_OK);
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW, &v), UM_OK);
	assert_int_equal(v.cap_dispute_id, d4);
	assert_int_equal(v.effective_tier, 2);
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW + 60, &v), UM_OK);
	assert_int_equal(v.cap_dispute_id, d3);
	(void)d2;
	fx_close(&f);
}

static void
test_clear_withdraws_appeal(void **state)
{
	struct issuer_subject_view v;
	struct issuer_dispute d;
	struct issuer_appeal a;
	struct audit_rows r;
	int64_t d1, d2, d3, a1, a2, a3;
	char sql[512];
	struct fx f;
	size_t n;
	json_t *j;

	(void)state;
	fx_open(&f);
	assert_int_equal(
	        issuer_subject_upsert(f.is, "op", "alice", ISSUER_KIND_CLIENT, 4, NOW, NULL),
	        UM_OK);
	/* An appeal's ttl is capped at its dispute's expiry. */
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 2, 10 * DAY, "", "", NOW, &d1),
	                 UM_OK);
	assert_int_equal(
	        issuer_appeal_open(f.is, "op", "alice", d1, 20 * DAY, "", "", NOW + 1, &a1), UM_OK);
	assert_int_equal(issuer_appeal_get(f.is, a1, &a), UM_OK);
	assert_int_equal(a.expires_s, NOW + 10 * DAY);
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 3, 5 * DAY, "", "", NOW, &d2),
	                 UM_OK);
	assert_int_equal(issuer_appeal_open(f.is, "op", "alice", d2, DAY, "", "", NOW, &a2), UM_OK);
	assert_int_equal(issuer_appeal_get(f.is, a2, &a), UM_OK);
	assert_int_equal(a.expires_s, NOW + DAY);
	/* Clearing d1 closes its open appeal in the same transaction. */
	n = audit_count(f.is);
	assert_int_equal(issuer_dispute_clear(f.is, "mod", "alice", d1, "mistake", NOW + 2), UM_OK);
	assert_int_equal(issuer_appeal_get(f.is, a1, &a), UM_OK);
	assert_int_equal(a.outcome, ISSUER_OUTCOME_WITHDRAWN);
	assert_int_equal(a.resolved_s, NOW + 2);
	memset(&r, 0, sizeof(r));
	assert_int_equal(issuer_audit_foreach(f.is, (int64_t)n, 64, collect, &r), UM_OK);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.action[0], "dispute.clear");
	assert_string_equal(r.action[1], "appeal.withdraw");
	assert_string_equal(r.actor[1], "mod");
	assert_int_equal(jint(r.detail[1], "appeal", NULL), a1);
	assert_int_equal(jint(r.detail[1], "dispute", NULL), d1);
	assert_int_equal(jint(r.detail[1], "old", "outcome"), -1);
	assert_string_equal(jstr(r.detail[1], "new", "outcome"), "withdrawn");
	assert_int_equal(jint(r.detail[1], "new", "resolved_at"), NOW + 2);
	assert_string_equal(jstr(r.detail[1], "reason", NULL), "mistake");
	rows_clear(&r);
	assert_int_equal(issuer_appeal_resolve(f.is, "judge", "alice", a1, ISSUER_OUTCOME_GRANTED,
	                                       "", NOW + 3),
	                 UM_ERR_STATE);
	assert_non_null(strstr(issuer_errmsg(f.is), "withdrawn"));
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW + 3, &v), UM_OK);
	assert_true(v.has_open_appeal); /* a2, still */
	assert_int_equal(v.appeal.id, a2);
	/* Over HTTP: shown as withdrawn; "withdrawn" is not an outcome one can resolve with. */
	assert_int_equal(req(f.is, "GET", "/v1/admin/subjects/alice", BEARER, NULL, NOW + 3, &j),
	                 200);
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(jget(j, "subject", "appeals"), 1), "outcome")),
	                    "withdrawn");
	assert_true(json_is_false(
	        json_object_get(json_array_get(jget(j, "subject", "appeals"), 1), "open")));
	json_decref(j);
	snprintf(sql, sizeof(sql), "/v1/admin/subjects/alice/appeals/%lld/resolve", (long long)a2);
	assert_int_equal(req_err(f.is, "POST", sql, BEARER, "{\"outcome\":\"withdrawn\"}",
	                         "\"outcome\" must be"),
	                 400);
	/* An appeal from before schema 2 that outlives its dispute: once the dispute expired,
	 * neither a granted appeal nor a direct clear marks it cleared. */
	assert_int_equal(issuer_dispute_open(f.is, "op", "alice", 1, DAY, "", "", NOW, &d3), UM_OK);
	snprintf(sql, sizeof(sql),
	         "INSERT INTO issuer_appeals (subject, dispute, opened, expires, case_id,"
	         " evidence_ref) VALUES ('alice', %lld, %d, %d, 'legacy', '')",
	         (long long)d3, NOW, NOW + 5 * DAY);
	assert_int_equal(store_exec(f.st, sql), UM_OK);
	a3 = store_last_insert_rowid(f.st);
	n = audit_count(f.is);
	assert_int_equal(issuer_appeal_resolve(f.is, "judge", "alice", a3, ISSUER_OUTCOME_GRANTED,
	                                       "", NOW + 2 * DAY),
	                 UM_ERR_STATE);
	assert_non_null(strstr(issuer_errmsg(f.is), "no longer active"));
	assert_int_equal(issuer_dispute_clear(f.is, "op", "alice", d3, "", NOW + 2 * DAY),
	                 UM_ERR_STATE);
	assert_string_equal(issuer_errmsg(f.is), "dispute already expired");
	assert_int_equal(issuer_dispute_get(f.is, d3, &d), UM_OK);
	assert_false(d.cleared);
	assert_int_equal(audit_count(f.is), n);
	/* While the dispute lives, the same appeal can be granted. */
	assert_int_equal(issuer_appeal_resolve(f.is, "judge", "alice", a3, ISSUER_OUTCOME_GRANTED,
	                                       "", NOW + 10),
	                 UM_OK);
	assert_int_equal(issuer_dispute_get(f.is, d3, &d), UM_OK);
	assert_true(d.cleared);
	fx_close(&f);
}

/* Mutations that leave six audit rows: subject.create, subject.adjust, dispute.open, ... */
static void
six_rows(struct issuer *is)
{
	int64_t did;

	assert_int_equal(issuer_subject_upsert(is, "op", "alice", ISSUER_KIND_CLIENT, 4, NOW, NULL),
	                 UM_OK);
	assert_int_equal(issuer_subject_adjust(is, "op", "alice", 3, 100, "bond", NOW + 1), UM_OK);
	assert_int_equal(issuer_dispute_open(is, "mod", "alice", 2, DAY, "C", "E", NOW + 2, &did),
	                 UM_OK);
	assert_int_equal(issuer_subject_promote(is, "op", "alice", 6, "kyc", NOW + 3), UM_OK);
	assert_int_equal(issuer_dispute_clear(is, "mod", "alice", did, "ok", NOW + 4), UM_OK);
	assert_int_equal(
	        issuer_subject_upsert(is, "op", "bob", ISSUER_KIND_RELAY, 1, NOW + 5, NULL), UM_OK);
}

static int
collect_hashes(void *arg, const struct issuer_audit_entry *e)
{
	uint8_t(*h)[ISSUER_AUDIT_HASH_LEN] = arg;

	assert_non_null(e->hash);
	assert_true(e->seq >= 1 && e->seq <= 6);
	memcpy(h[e->seq - 1], e->hash, ISSUER_AUDIT_HASH_LEN);
	return UM_OK;
}

static void
test_audit_chain(void **state)
{
	uint8_t hashes[6][ISSUER_AUDIT_HASH_LEN], prev[ISSUER_AUDIT_HASH_LEN] = { 0 };
	uint8_t h[ISSUER_AUDIT_HASH_LEN];
	struct audit_rows r;
	uint64_t n_rows;
	int64_t bad;
	struct fx f;
	json_t *j;

	(void)state;
	fx_open(&f);
	assert_int_equal(issuer_audit_verify(f.is, &n_rows, &bad), UM_OK);
	assert_int_equal(n_rows, 0);
	six_rows(f.is);
	assert_int_equal(issuer_audit_verify(f.is, &n_rows, &bad), UM_OK);
	assert_int_equal(n_rows, 6);
	assert_int_equal(bad, 0);
	/* Each stored hash is the documented function of its row and the previous hash. */
	assert_int_equal(issuer_audit_foreach(f.is, 0, 10, collect_hashes, hashes), UM_OK);
	memset(&r, 0, sizeof(r));
	assert_int_equal(issuer_audit_foreach(f.is, 0, 10, collect, &r), UM_OK);
	{
		char *detail = json_dumps(r.detail[0], JSON_COMPACT | JSON_SORT_KEYS);

		issuer_audit_hash(h, prev, 1, NOW, "op", 2, "subject.create", 14, "alice", 5,
		                  detail, strlen(detail));
		free(detail);
	}
	assert_memory_equal(h, hashes[0], sizeof(h));
	rows_clear(&r);
	/* Over HTTP, with each row's hash in the listing. */
	assert_int_equal(req(f.is, "GET", "/v1/admin/audit/verify", BEARER, NULL, NOW, &j), 200);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_int_equal(json_integer_value(json_object_get(j, "rows")), 6);
	json_decref(j);
	assert_int_equal(req(f.is, "GET", "/v1/admin/audit?limit=1", BEARER, NULL, NOW, &j), 200);
	assert_int_equal(strlen(json_string_value(json_object_get(
	                         json_array_get(json_object_get(j, "entries"), 0), "hash"))),
	                 2 * ISSUER_AUDIT_HASH_LEN);
	json_decref(j);
	assert_int_equal(req_err(f.is, "POST", "/v1/admin/audit/verify", BEARER, NULL, NULL), 405);
	assert_int_equal(
	        req_err(f.is, "GET", "/v1/admin/audit/verify?x=1", BEARER, NULL, "no query"), 400);
	assert_int_equal(req_err(f.is, "GET", "/v1/admin/audit/verify", NULL, NULL, NULL), 401);
	/* The triggers only stop honest mistakes: whoever drops one can edit a row. The chain
	 * shows where. */
	assert_int_equal(store_exec(f.st,
	                            "DROP TRIGGER issuer_audit_no_update;"
	                            "UPDATE issuer_audit SET actor = 'mallory' WHERE seq = 3"),
	                 UM_OK);
	assert_int_equal(issuer_audit_verify(f.is, &n_rows, &bad), UM_ERR_AUTH);
	assert_int_equal(bad, 3);
	assert_int_equal(req(f.is, "GET", "/v1/admin/audit/verify", BEARER, NULL, NOW, &j), 200);
	assert_true(json_is_false(json_object_get(j, "ok")));
	assert_int_equal(json_integer_value(json_object_get(j, "first_bad_seq")), 3);
	json_decref(j);
	/* Rewriting that row's hash too moves the break to the next row. */
	{
		char *detail;
		char sql[256];

		memset(&r, 0, sizeof(r));
		assert_int_equal(issuer_audit_foreach(f.is, 2, 1, collect, &r), UM_OK);
		detail = json_dumps(r.detail[0], JSON_COMPACT | JSON_SORT_KEYS);
		issuer_audit_hash(h, hashes[1], 3, NOW + 2, "mallory", 7, "dispute.open", 12,
		                  "alice", 5, detail, strlen(detail));
		free(detail);
		rows_clear(&r);
		snprintf(sql, sizeof(sql), "UPDATE issuer_audit SET hash = X'");
		for (size_t i = 0; i < sizeof(h); i++)
			snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql), "%02x", h[i]);
		snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql), "' WHERE seq = 3");
		assert_int_equal(store_exec(f.st, sql), UM_OK);
	}
	assert_int_equal(issuer_audit_verify(f.is, &n_rows, &bad), UM_ERR_AUTH);
	assert_int_equal(bad, 4);
	/* Writes go on, chained to the last row. */
	assert_int_equal(issuer_subject_promote(f.is, "op", "alice", 2, "", NOW + 9), UM_OK);
	assert_int_equal(issuer_audit_verify(f.is, &n_rows, &bad), UM_ERR_AUTH);
	assert_int_equal(bad, 4);
	fx_close(&f);
}

static void
test_audit_chain_cuts(void **state)
{
	uint64_t n_rows;
	int64_t bad;
	struct fx f;
	char *before, *after;

	(void)state;
	/* A row deleted from the middle. */
	fx_open(&f);
	six_rows(f.is);
	assert_int_equal(store_exec(f.st, "DROP TRIGGER issuer_audit_no_delete;"
	                                  "DELETE FROM issuer_audit WHERE seq = 2"),
	                 UM_OK);
	assert_int_equal(issuer_audit_verify(f.is, &n_rows, &bad), UM_ERR_AUTH);
	assert_int_equal(bad, 2);
	fx_close(&f);
	/* Rows cut from the end. */
	fx_open(&f);
	six_rows(f.is);
	assert_int_equal(store_exec(f.st, "DROP TRIGGER issuer_audit_no_delete;"
	                                  "DELETE FROM issuer_audit WHERE seq >= 5"),
	                 UM_OK);
	assert_int_equal(issuer_audit_verify(f.is, &n_rows, &bad), UM_ERR_AUTH);
	assert_int_equal(bad, 5);
	assert_int_equal(n_rows, 4);
	fx_close(&f);
	/* The last row's hash removed: writes stop (fail closed) and write nothing. */
	fx_open(&f);
	f.db_errors_expected = true;
	six_rows(f.is);
	assert_int_equal(store_exec(f.st, "DROP TRIGGER issuer_audit_no_update;"
	                                  "UPDATE issuer_audit SET hash = NULL WHERE seq = 6"),
	                 UM_OK);
	assert_int_equal(issuer_audit_verify(f.is, &n_rows, &bad), UM_ERR_AUTH);
	assert_int_equal(bad, 6);
	before = db_dump(f.st);
	assert_int_equal(issuer_subject_promote(f.is, "op", "alice", 2, "", NOW + 9), UM_ERR_DB);
	after = db_dump(f.st);
	assert_string_equal(before, after);
	free(before);
	free(after);
	/* A row without a hash is refused by the database too. */
	assert_int_not_equal(store_exec(f.st, "INSERT INTO issuer_audit (time, actor, action,"
	                                      " subject, detail) VALUES (1, 'a', 'b', 'c', '{}')"),
	                     UM_OK);
	assert_non_null(strstr(store_errmsg(f.st), "chain hash"));
	fx_close(&f);
}

static void
test_migrate_v1(void **state)
{
	const struct store_schema v1 = { "issuer", issuer_schema.migs, 1 };
	struct store *st = NULL;
	struct issuer *is;
	struct issuer_appeal a;
	char why[256] = "";
	uint64_t n_rows;
	int64_t bad, did, aid;

	(void)state;
	log_reset();
	/* A database as version 1 left it: no hashes, appeals without "withdrawn". */
	assert_int_equal(store_open(STORE_PATH_MEMORY, NULL, &st, why, sizeof(why)), UM_OK);
	assert_int_equal(store_migrate(st, &v1), UM_OK);
	assert_int_equal(store_schema_version(st, "issuer"), 1);
	assert_int_equal(
	        store_exec(st,
	                   "INSERT INTO issuer_subjects VALUES ('alice', 'client', 4, 0, 0, 1, 1);"
	                   "INSERT INTO issuer_disputes (subject, tier_cap, opened, expires,"
	                   " case_id, evidence_ref) VALUES ('alice', 2, 1700000000, 1800000000,"
	                   " 'C', 'E');"
	                   "INSERT INTO issuer_appeals (subject, dispute, opened, expires, case_id,"
	                   " evidence_ref) VALUES ('alice', 1, 1700000000, 1800000000, 'A', '');"
	                   "INSERT INTO issuer_audit (time, actor, action, subject, detail) VALUES"
	                   " (1, 'op', 'subject.create', 'alice', '{}'),"
	                   " (2, 'op', 'dispute.open', 'alice', '{\"dispute\":1}'),"
	                   " (3, 'op', 'appeal.open', 'alice', '{\"appeal\":1}');"),
	        UM_OK);
	is = open_issuer(st);
	assert_int_equal(store_schema_version(st, "issuer"), 3);
	/* The old rows are chained, the appeal kept. */
	assert_int_equal(issuer_audit_verify(is, &n_rows, &bad), UM_OK);
	assert_int_equal(n_rows, 3);
	assert_int_equal(issuer_appeal_get(is, 1, &a), UM_OK);
	assert_string_equal(a.case_id, "A");
	assert_int_equal(a.dispute_id, 1);
	assert_int_equal(a.outcome, ISSUER_OUTCOME_NONE);
	/* New rows chain onto them; the rebuilt appeals table takes "withdrawn". */
	assert_int_equal(issuer_dispute_clear(is, "op", "alice", 1, "", NOW), UM_OK);
	assert_int_equal(issuer_appeal_get(is, 1, &a), UM_OK);
	assert_int_equal(a.outcome, ISSUER_OUTCOME_WITHDRAWN);
	assert_int_equal(issuer_audit_verify(is, &n_rows, &bad), UM_OK);
	assert_int_equal(n_rows, 5);
	/* Ids keep growing. */
	assert_int_equal(issuer_dispute_open(is, "op", "alice", 2, DAY, "", "", NOW, &did), UM_OK);
	assert_int_equal(did, 2);
	assert_int_equal(issuer_appeal_open(is, "op", "alice", did, DAY, "", "", NOW, &aid), UM_OK);
	assert_int_equal(aid, 2);
	/* The append-only triggers are back. */
	assert_int_not_equal(store_exec(st, "UPDATE issuer_audit SET actor = 'x'"), UM_OK);
	assert_non_null(strstr(store_errmsg(st), "append-only"));
	assert_int_not_equal(store_exec(st, "DELETE FROM issuer_audit"), UM_OK);
	assert_int_equal(store_integrity_check(st), UM_OK);
	issuer_free(is);
	store_close(st);
	log_expect_no_db_errors();
}

/* What the crash test's child acknowledged: the op's index and the dispute id (or 0). */
struct ack {
	int64_t i;
	int64_t dispute_id;
};

/* The child: a burst of admin writes, each acknowledged on fd once it returned OK. Never
 * returns; the parent kills it. No cmocka here (a failed assert would longjmp in the child). */
static void
crash_child(const char *path, int fd)
{
	struct issuer_config cfg;
	struct issuer *is = NULL;
	struct store *st = NULL;
	char id[32], rid[32];

	issuer_config_defaults(&cfg);
	if (store_open(path, NULL, &st, NULL, 0) != UM_OK ||
	    issuer_open(st, &cfg, &is, NULL, 0) != UM_OK)
		_exit(2);
	for (int64_t i = 0; i < 1000000; i++) {
		struct issuer_op op = { .actor = "burst", .now_s = NOW + (uint64_t)i };
		struct issuer_result res;
		struct ack ack = { i, 0 };

		snprintf(id, sizeof(id), "s%lld", (long long)(i / 2));
		snprintf(rid, sizeof(rid), "r%lld", (long long)i);
		op.subject = id;
		op.request_id = rid;
		if (i % 2 == 0) {
			op.type = ISSUER_OP_SUBJECT_UPSERT;
			op.kind = ISSUER_KIND_CLIENT;
			op.tier = 3;
		} else {
			op.type = ISSUER_OP_DISPUTE_OPEN;
			op.tier_cap = 1;
			op.ttl_s = DAY;
		}
		if (issuer_apply(is, &op, &res, NULL) != UM_OK)
			_exit(3);
		ack.dispute_id = res.dispute_id;
		if (write(fd, &ack, sizeof(ack)) != (ssize_t)sizeof(ack))
			_exit(4);
	}
	_exit(5);
}

struct seen_rows {
	char (*subject)[16];
	int64_t *dispute;
	size_t n, cap;
	int64_t last;
};

static int
collect_seen(void *arg, const struct issuer_audit_entry *e)
{
	struct seen_rows *s = arg;
	json_t *d = json_loads(e->detail, 0, NULL);

	assert_non_null(d);
	if (s->n == s->cap) {
		s->cap = s->cap * 2 + 64;
		s->subject = realloc(s->subject, s->cap * sizeof(s->subject[0]));
		s->dispute = realloc(s->dispute, s->cap * sizeof(s->dispute[0]));
		assert_non_null(s->subject);
		assert_non_null(s->dispute);
	}
	snprintf(s->subject[s->n], sizeof(s->subject[0]), "%s", e->subject);
	s->dispute[s->n] = strcmp(e->action, "dispute.open") == 0 ? jint(d, "dispute", NULL) : 0;
	s->n++;
	s->last = e->seq;
	json_decref(d);
	return UM_OK;
}

static void
test_durable_across_sigkill(void **state)
{
	char dir[] = "/tmp/test_issuer_kill.XXXXXX", path[256], p2[300];
	struct ack *acks = NULL;
	size_t n_acks = 0, cap = 0, got = 0;
	struct seen_rows seen = { 0 };
	struct issuer_subject_view v;
	struct issuer_dispute d;
	struct store *st = NULL;
	struct issuer *is;
	uint8_t buf[sizeof(struct ack)];
	char why[256] = "", id[32];
	uint64_t n_rows;
	int64_t bad;
	int fds[2], status;
	ssize_t k;
	pid_t pid;

	(void)state;
	log_reset();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/issuer.db", dir);
	/* Create the file and the schema first, so the burst is only writes. */
	assert_int_equal(store_open(path, NULL, &st, why, sizeof(why)), UM_OK);
	is = open_issuer(st);
	issuer_free(is);
	store_close(st);
	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		crash_child(path, fds[1]);
	}
	close(fds[1]);
	/* Read acknowledgements; after 40 of them, kill the child wherever it is. */
	for (;;) {
		k = read(fds[0], buf + got, sizeof(buf) - got);
		if (k <= 0)
			break;
		got += (size_t)k;
		if (got < sizeof(buf))
			continue;
		got = 0;
		if (n_acks == cap) {
			cap = cap * 2 + 64;
			acks = realloc(acks, cap * sizeof(*acks));
			assert_non_null(acks);
		}
		memcpy(&acks[n_acks++], buf, sizeof(buf));
		if (n_acks == 40)
			assert_int_equal(kill(pid, SIGKILL), 0);
	}
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_true(n_acks >= 40);

	/* Every acknowledged write is there, with its audit row, and the chain holds. */
	assert_int_equal(store_open(path, NULL, &st, why, sizeof(why)), UM_OK);
	is = open_issuer(st);
	assert_int_equal(store_integrity_check(st), UM_OK);
	assert_int_equal(issuer_audit_verify(is, &n_rows, &bad), UM_OK);
	assert_true(n_rows >= n_acks);
	do {
		size_t before = seen.n;

		assert_int_equal(issuer_audit_foreach(is, seen.last, 1000, collect_seen, &seen),
		                 UM_OK);
		if (seen.n == before)
			break;
	} while (1);
	assert_int_equal(seen.n, n_rows);
	for (size_t i = 0; i < n_acks; i++) {
		assert_int_equal(acks[i].i, (int64_t)i);
		snprintf(id, sizeof(id), "s%lld", (long long)(i / 2));
		/* Each op wrote exactly one audit row, in order. */
		assert_string_equal(seen.subject[i], id);
		if (i % 2 == 0) {
			assert_int_equal(issuer_subject_get(is, id, NOW + i, &v), UM_OK);
			assert_int_equal(v.subject.tier, 3);
			assert_int_equal(seen.dispute[i], 0);
		} else {
			assert_true(acks[i].dispute_id > 0);
			assert_int_equal(issuer_dispute_get(is, acks[i].dispute_id, &d), UM_OK);
			assert_string_equal(d.subject, id);
			assert_int_equal(seen.dispute[i], acks[i].dispute_id);
		}
	}
	issuer_free(is);
	store_close(st);
	free(acks);
	free(seen.subject);
	free(seen.dispute);
	unlink(path);
	snprintf(p2, sizeof(p2), "%s-wal", path);
	unlink(p2);
	snprintf(p2, sizeof(p2), "%s-shm", path);
	unlink(p2);
	rmdir(dir);
	log_expect_no_db_errors();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_effective_tier_rule),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_open_config),
		cmocka_unit_test(test_subject_upsert_get),
		cmocka_unit_test(test_promote_adjust),
		cmocka_unit_test(test_disputes),
		cmocka_unit_test(test_dispute_quota),
		cmocka_unit_test(test_appeal_granted),
		cmocka_unit_test(test_appeal_denied_and_lapsed),
		cmocka_unit_test(test_audit_trail),
		cmocka_unit_test(test_audit_append_only),
		cmocka_unit_test(test_durable_across_reopen),
		cmocka_unit_test(test_http_auth),
		cmocka_unit_test(test_http_flow),
		cmocka_unit_test(test_http_bad_requests),
		cmocka_unit_test(test_actor_required),
		cmocka_unit_test(test_rollback_leaves_nothing),
		cmocka_unit_test(test_http_reply_read_in_transaction),
		cmocka_unit_test(test_request_id),
		cmocka_unit_test(test_binding_over_all_disputes),
		cmocka_unit_test(test_binding_tie_break),
		cmocka_unit_test(test_clear_withdraws_appeal),
		cmocka_unit_test(test_audit_chain),
		cmocka_unit_test(test_audit_chain_cuts),
		cmocka_unit_test(test_migrate_v1),
		cmocka_unit_test(test_durable_across_sigkill),
	};

	return cmocka_run_group_tests_name("issuer", tests, setup, teardown);
}
