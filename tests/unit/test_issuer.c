/* SPDX-License-Identifier: MIT */
/*
 * The issuer's subject management (src/trust/issuer*.c): the effective tier rule as a table,
 * every operation and its refusals, the audit trail (each step with old and new values,
 * nothing on failures, UPDATE/DELETE refused by the database), durability across a close and
 * reopen of the store file, and the admin HTTP API (bearer token missing/wrong/right, routes,
 * strict JSON: malformed, unknown fields, wrong types, caps).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

#include "lib/err.h"
#include "lib/log.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "trust/issuer.h"

enum {
	NOW = 1700000000,
	DAY = 86400,
};

#define TOKEN  "test-admin-token-0123456789"
#define BEARER "Bearer " TOKEN

struct fx {
	struct store *st;
	struct issuer *is;
};

static int
setup(void **state)
{
	(void)state;
	if (um_crypto_init() != UM_OK)
		return -1;
	log_set_level(UM_LOG_ERR);
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
	assert_int_equal(store_open(STORE_PATH_MEMORY, NULL, &f->st, why, sizeof(why)), UM_OK);
	f->is = open_issuer(f->st);
}

static void
fx_close(struct fx *f)
{
	issuer_free(f->is);
	store_close(f->st);
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
	assert_int_equal(store_schema_version(st, "issuer"), 1);
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
	assert_int_equal(issuer_subject_adjust(f.is, "op", "alice", 50, -7, "stake", NOW + 4),
	                 UM_OK);
	assert_int_equal(issuer_subject_adjust(f.is, "op", "alice", -20, 10, "", NOW + 5), UM_OK);
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
	assert_int_equal(issuer_subject_adjust(f.is, "op", "alice", 1, INT64_MIN, "", NOW + 6),
	                 UM_OK);
	assert_int_equal(issuer_subject_adjust(f.is, "op", "alice", 0, -4, "", NOW + 6),
	                 UM_ERR_INVALID);
	assert_non_null(strstr(issuer_errmsg(f.is), "bond"));
	assert_int_equal(issuer_subject_get(f.is, "alice", NOW + 6, &v), UM_OK);
	assert_int_equal(v.subject.reputation, 31);
	assert_int_equal(v.subject.bond, INT64_MIN + 3);
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
	};

	return cmocka_run_group_tests_name("issuer", tests, setup, NULL);
}
