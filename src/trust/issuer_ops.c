/* SPDX-License-Identifier: MIT */
/*
 * The issuer's mutations (issuer_apply(), issuer.h): the argument checks, then one transaction
 * that looks the request id up, applies the operation with its audit row(s), stores the
 * request id, and reads back what the caller will report (the result's rows, the snapshot)
 * before COMMIT, so nothing that can fail is left once the change is on disk. Audit details
 * are JSON objects built with jansson: {"old": ..., "new": ...} plus the operation's context
 * (ids, deltas, reason, request_id).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "lib/err.h"
#include "trust/issuer_st.h"

/* One call: the op with its texts defaulted, and where its result goes. */
struct opx {
	struct issuer *is;
	const struct issuer_op *op;
	const char *reason, *case_id, *evidence_ref; /* never NULL */
	struct issuer_result *res;
};

/* The name a request id is stored under (never the audit action: upsert has two). */
static const char *
op_name(enum issuer_op_type type)
{
	switch (type) {
	case ISSUER_OP_SUBJECT_UPSERT:
		return "subject.upsert";
	case ISSUER_OP_SUBJECT_PROMOTE:
		return "subject.promote";
	case ISSUER_OP_SUBJECT_ADJUST:
		return "subject.adjust";
	case ISSUER_OP_DISPUTE_OPEN:
		return "dispute.open";
	case ISSUER_OP_DISPUTE_CLEAR:
		return "dispute.clear";
	case ISSUER_OP_APPEAL_OPEN:
		return "appeal.open";
	case ISSUER_OP_APPEAL_RESOLVE:
		return "appeal.resolve";
	default:
		return NULL;
	}
}

static bool
tier_ok(unsigned tier)
{
	return tier >= ISSUER_TIER_MIN && tier <= ISSUER_TIER_MAX;
}

static int
check_text(struct issuer *is, const char *s, const char *why)
{
	return issuer_text_is_valid(s) ? UM_OK : issuer_fail(is, UM_ERR_INVALID, why);
}

#define BAD_REASON   "invalid reason: 0..128 printable ASCII"
#define BAD_CASE_ID  "invalid case_id: 0..128 printable ASCII"
#define BAD_EVIDENCE "invalid evidence_ref: 0..128 printable ASCII"
#define BAD_TTL      "ttl_s out of range (1..the configured maximum)"

/* Everything that can be refused before the transaction starts. */
static int
check_op(const struct opx *x)
{
	const struct issuer_op *op = x->op;
	struct issuer *is = x->is;
	int ret = UM_OK;

	if (op_name(op->type) == NULL)
		return issuer_fail(is, UM_ERR_INVALID, "unknown operation");
	/* Every change names who made it: the audit trail has no anonymous rows. */
	if (!issuer_id_is_valid(op->actor))
		return issuer_fail(is, UM_ERR_INVALID, "invalid actor: 1..64 of [A-Za-z0-9._:@-]");
	if (!issuer_id_is_valid(op->subject))
		return issuer_fail(is, UM_ERR_INVALID,
		                   "invalid subject id: 1..64 of [A-Za-z0-9._:@-]");
	if (op->request_id != NULL && !issuer_id_is_valid(op->request_id))
		return issuer_fail(is, UM_ERR_INVALID,
		                   "invalid request_id: 1..64 of [A-Za-z0-9._:@-]");
	if (op->now_s > ISSUER_NOW_MAX)
		return issuer_fail(is, UM_ERR_INVALID, "time out of range");
	switch (op->type) {
	case ISSUER_OP_SUBJECT_UPSERT:
		if (op->kind != ISSUER_KIND_CLIENT && op->kind != ISSUER_KIND_RELAY)
			return issuer_fail(is, UM_ERR_INVALID, "kind must be client or relay");
		if (!tier_ok(op->tier))
			return issuer_fail(is, UM_ERR_INVALID, "tier must be 1..15");
		break;
	case ISSUER_OP_SUBJECT_PROMOTE:
		if (!tier_ok(op->tier))
			return issuer_fail(is, UM_ERR_INVALID, "tier must be 1..15");
		ret = check_text(is, x->reason, BAD_REASON);
		break;
	case ISSUER_OP_SUBJECT_ADJUST:
	case ISSUER_OP_DISPUTE_CLEAR:
		ret = check_text(is, x->reason, BAD_REASON);
		break;
	case ISSUER_OP_DISPUTE_OPEN:
		if (!tier_ok(op->tier_cap))
			return issuer_fail(is, UM_ERR_INVALID, "tier_cap must be 1..15");
		if (op->ttl_s == 0 || op->ttl_s > is->dispute_ttl_max_s)
			return issuer_fail(is, UM_ERR_INVALID, BAD_TTL);
		if ((ret = check_text(is, x->case_id, BAD_CASE_ID)) == UM_OK)
			ret = check_text(is, x->evidence_ref, BAD_EVIDENCE);
		break;
	case ISSUER_OP_APPEAL_OPEN:
		if (op->ttl_s == 0 || op->ttl_s > is->appeal_ttl_max_s)
			return issuer_fail(is, UM_ERR_INVALID, BAD_TTL);
		if ((ret = check_text(is, x->case_id, BAD_CASE_ID)) == UM_OK)
			ret = check_text(is, x->evidence_ref, BAD_EVIDENCE);
		break;
	case ISSUER_OP_APPEAL_RESOLVE:
		if (op->outcome != ISSUER_OUTCOME_GRANTED && op->outcome != ISSUER_OUTCOME_DENIED)
			return issuer_fail(is, UM_ERR_INVALID, "outcome must be granted or denied");
		ret = check_text(is, x->reason, BAD_REASON);
		break;
	}
	return ret;
}

/*
 * The request's arguments as canonical JSON (sorted keys), stored with its request id: a
 * repeat must match them exactly. The actor is included: it is part of what is recorded.
 */
static char *
op_params(const struct opx *x)
{
	const struct issuer_op *op = x->op;
	json_t *j = NULL;
	char *s;

	switch (op->type) {
	case ISSUER_OP_SUBJECT_UPSERT:
		j = json_pack("{s:s, s:i}", "kind", issuer_kind_name(op->kind), "tier",
		              (int)op->tier);
		break;
	case ISSUER_OP_SUBJECT_PROMOTE:
		j = json_pack("{s:i, s:s}", "tier", (int)op->tier, "reason", x->reason);
		break;
	case ISSUER_OP_SUBJECT_ADJUST:
		j = json_pack("{s:I, s:I, s:s}", "reputation_delta",
		              (json_int_t)op->reputation_delta, "bond_delta",
		              (json_int_t)op->bond_delta, "reason", x->reason);
		break;
	case ISSUER_OP_DISPUTE_OPEN:
		j = json_pack("{s:i, s:I, s:s, s:s}", "tier_cap", (int)op->tier_cap, "ttl_s",
		              (json_int_t)op->ttl_s, "case_id", x->case_id, "evidence_ref",
		              x->evidence_ref);
		break;
	case ISSUER_OP_DISPUTE_CLEAR:
		j = json_pack("{s:I, s:s}", "dispute", (json_int_t)op->dispute_id, "reason",
		              x->reason);
		break;
	case ISSUER_OP_APPEAL_OPEN:
		j = json_pack("{s:I, s:I, s:s, s:s}", "dispute", (json_int_t)op->dispute_id,
		              "ttl_s", (json_int_t)op->ttl_s, "case_id", x->case_id, "evidence_ref",
		              x->evidence_ref);
		break;
	case ISSUER_OP_APPEAL_RESOLVE:
		j = json_pack("{s:I, s:s, s:s}", "appeal", (json_int_t)op->appeal_id, "outcome",
		              issuer_outcome_name(op->outcome), "reason", x->reason);
		break;
	}
	if (j == NULL || json_object_set_new(j, "actor", json_string(op->actor)) != 0) {
		json_decref(j);
		return NULL;
	}
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

/* ---- audit ---- */

/* Append one audit row for x with detail (a JSON object, reference stolen). */
static int
audit(const struct opx *x, const char *action, json_t *detail)
{
	const struct issuer_op *op = x->op;
	char *s = NULL;
	int ret;

	if (detail != NULL && op->request_id != NULL &&
	    json_object_set_new(detail, "request_id", json_string(op->request_id)) != 0) {
		json_decref(detail);
		detail = NULL;
	}
	if (detail != NULL)
		s = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(detail);
	if (s == NULL)
		return issuer_fail(x->is, UM_ERR_INTERNAL, "cannot encode the audit record");
	ret = issuer_db_audit_append(x->is, op->now_s, op->actor, action, op->subject, s);
	free(s);
	return ret == UM_OK ? UM_OK : issuer_db_fail(x->is, ret);
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

/* ---- loading rows inside the transaction ---- */

static int
load_subject(struct issuer *is, const char *id, struct issuer_subject *out)
{
	int ret = issuer_db_subject_get(is, id, out);

	if (ret == UM_ERR_NOT_FOUND)
		return issuer_fail(is, ret, "no such subject");
	return ret == UM_OK ? UM_OK : issuer_db_fail(is, ret);
}

/* Dispute id of subject (NOT_FOUND if it is another subject's). */
static int
load_dispute(struct issuer *is, const char *subject, int64_t id, struct issuer_dispute *d)
{
	int ret = issuer_db_dispute_get(is, id, d);

	if (ret == UM_ERR_NOT_FOUND || (ret == UM_OK && strcmp(d->subject, subject) != 0))
		return issuer_fail(is, UM_ERR_NOT_FOUND, "no such dispute for this subject");
	return ret == UM_OK ? UM_OK : issuer_db_fail(is, ret);
}

/* Live: not cleared and not expired, so it caps the subject now or will (clock steps). */
static bool
dispute_is_live(const struct issuer_dispute *d, uint64_t now_s)
{
	return !d->cleared && now_s < d->expires_s;
}

/* ---- subjects ---- */

static int
do_upsert(const struct opx *x)
{
	const struct issuer_op *op = x->op;
	struct issuer *is = x->is;
	struct issuer_subject old, sub;
	int ret;

	ret = issuer_db_subject_get(is, op->subject, &old);
	if (ret == UM_ERR_NOT_FOUND) {
		memset(&sub, 0, sizeof(sub));
		snprintf(sub.id, sizeof(sub.id), "%s", op->subject);
		sub.kind = op->kind;
		sub.tier = op->tier;
		sub.created_s = sub.updated_s = op->now_s;
		if ((ret = issuer_db_subject_insert(is, &sub)) != UM_OK)
			return issuer_db_fail(is, ret);
		x->res->created = true;
		return audit(x, "subject.create",
		             json_pack("{s:n, s:o}", "old", "new", subject_json(&sub)));
	}
	if (ret != UM_OK)
		return issuer_db_fail(is, ret);
	if (old.kind == op->kind && old.tier == op->tier)
		return UM_OK; /* nothing changes: no write, no audit row */
	sub = old;
	sub.kind = op->kind;
	sub.tier = op->tier;
	sub.updated_s = op->now_s;
	if ((ret = issuer_db_subject_update(is, &sub)) != UM_OK)
		return issuer_db_fail(is, ret);
	return audit(x, "subject.update",
	             json_pack("{s:{s:s, s:i}, s:{s:s, s:i}}", "old", "kind",
	                       issuer_kind_name(old.kind), "tier", (int)old.tier, "new", "kind",
	                       issuer_kind_name(sub.kind), "tier", (int)sub.tier));
}

static int
do_promote(const struct opx *x)
{
	const struct issuer_op *op = x->op;
	struct issuer_subject sub;
	uint8_t old_tier;
	int ret;

	if ((ret = load_subject(x->is, op->subject, &sub)) != UM_OK || sub.tier == op->tier)
		return ret;
	old_tier = sub.tier;
	sub.tier = op->tier;
	sub.updated_s = op->now_s;
	if ((ret = issuer_db_subject_update(x->is, &sub)) != UM_OK)
		return issuer_db_fail(x->is, ret);
	return audit(x, "subject.promote",
	             json_pack("{s:{s:i}, s:{s:i}, s:s}", "old", "tier", (int)old_tier, "new",
	                       "tier", (int)sub.tier, "reason", x->reason));
}

static int
do_adjust(const struct opx *x)
{
	const struct issuer_op *op = x->op;
	struct issuer *is = x->is;
	struct issuer_subject old, sub;
	int ret;

	if ((ret = load_subject(is, op->subject, &old)) != UM_OK ||
	    (op->reputation_delta == 0 && op->bond_delta == 0))
		return ret;
	sub = old;
	if (__builtin_add_overflow(old.reputation, op->reputation_delta, &sub.reputation))
		return issuer_fail(is, UM_ERR_INVALID, "reputation would leave the 64-bit range");
	if (__builtin_add_overflow(old.bond, op->bond_delta, &sub.bond))
		return issuer_fail(is, UM_ERR_INVALID, "bond would leave the 64-bit range");
	/* A bond is collateral posted by the subject: it cannot be spent below nothing. */
	if (op->bond_delta < 0 && sub.bond < 0)
		return issuer_fail(is, UM_ERR_INVALID, "bond would go below 0");
	sub.updated_s = op->now_s;
	if ((ret = issuer_db_subject_update(is, &sub)) != UM_OK)
		return issuer_db_fail(is, ret);
	return audit(x, "subject.adjust",
	             json_pack("{s:{s:I, s:I}, s:{s:I, s:I}, s:{s:I, s:I}, s:s}", "old",
	                       "reputation", (json_int_t)old.reputation, "bond",
	                       (json_int_t)old.bond, "new", "reputation",
	                       (json_int_t)sub.reputation, "bond", (json_int_t)sub.bond, "delta",
	                       "reputation", (json_int_t)op->reputation_delta, "bond",
	                       (json_int_t)op->bond_delta, "reason", x->reason));
}

/* ---- disputes ---- */

static int
do_dispute_open(const struct opx *x)
{
	const struct issuer_op *op = x->op;
	struct issuer *is = x->is;
	struct issuer_subject sub;
	struct issuer_dispute d;
	size_t n_live;
	int ret;

	if ((ret = load_subject(is, op->subject, &sub)) != UM_OK)
		return ret;
	/* The quota counts disputes not yet started too (after a clock step back), so the
	 * number that can be active at once never exceeds it. */
	if ((ret = issuer_db_disputes_count_live(is, op->subject, op->now_s, &n_live)) != UM_OK)
		return issuer_db_fail(is, ret);
	if (n_live >= ISSUER_ACTIVE_DISPUTES_MAX)
		return issuer_fail(is, UM_ERR_TOO_LARGE,
		                   "too many active disputes for this subject");
	memset(&d, 0, sizeof(d));
	snprintf(d.subject, sizeof(d.subject), "%s", op->subject);
	d.tier_cap = op->tier_cap;
	d.opened_s = op->now_s;
	d.expires_s = op->now_s + op->ttl_s;
	snprintf(d.case_id, sizeof(d.case_id), "%s", x->case_id);
	snprintf(d.evidence_ref, sizeof(d.evidence_ref), "%s", x->evidence_ref);
	if ((ret = issuer_db_dispute_insert(is, &d)) != UM_OK)
		return issuer_db_fail(is, ret);
	x->res->dispute_id = d.id;
	return audit(x, "dispute.open",
	             json_pack("{s:I, s:n, s:o}", "dispute", (json_int_t)d.id, "old", "new",
	                       dispute_json(&d)));
}

/* Mark d cleared at now and audit it (extra: more context for the detail, stolen). */
static int
clear_dispute(const struct opx *x, const struct issuer_dispute *d, json_t *extra)
{
	json_t *detail;
	int ret;

	if ((ret = issuer_db_dispute_clear(x->is, d->id, x->op->now_s)) != UM_OK) {
		json_decref(extra);
		return ret == UM_ERR_STATE ? issuer_fail(x->is, ret, "dispute already cleared")
		                           : issuer_db_fail(x->is, ret);
	}
	detail = json_pack("{s:I, s:{s:n}, s:{s:I}, s:s}", "dispute", (json_int_t)d->id, "old",
	                   "cleared_at", "new", "cleared_at", (json_int_t)x->op->now_s, "reason",
	                   x->reason);
	if (detail != NULL && extra != NULL && json_object_update(detail, extra) != 0) {
		json_decref(detail);
		detail = NULL;
	}
	json_decref(extra);
	return audit(x, "dispute.clear", detail);
}

/* Close the open appeal of a dispute that is being cleared: nothing is left to appeal. */
static int
withdraw_appeal(const struct opx *x, const struct issuer_dispute *d)
{
	struct issuer *is = x->is;
	struct issuer_appeal a;
	int ret;

	ret = issuer_db_appeal_open_for_dispute(is, d->id, x->op->now_s, &a);
	if (ret == UM_ERR_NOT_FOUND)
		return UM_OK;
	if (ret != UM_OK || (ret = issuer_db_appeal_resolve(is, a.id, ISSUER_OUTCOME_WITHDRAWN,
	                                                    x->op->now_s)) != UM_OK)
		return issuer_db_fail(is, ret);
	x->res->appeal_id = a.id;
	return audit(x, "appeal.withdraw",
	             json_pack("{s:I, s:I, s:{s:n, s:n}, s:{s:s, s:I}, s:s}", "appeal",
	                       (json_int_t)a.id, "dispute", (json_int_t)d->id, "old", "outcome",
	                       "resolved_at", "new", "outcome",
	                       issuer_outcome_name(ISSUER_OUTCOME_WITHDRAWN), "resolved_at",
	                       (json_int_t)x->op->now_s, "reason", x->reason));
}

static int
do_dispute_clear(const struct opx *x)
{
	const struct issuer_op *op = x->op;
	struct issuer_dispute d;
	int ret;

	if ((ret = load_dispute(x->is, op->subject, op->dispute_id, &d)) != UM_OK)
		return ret;
	if (d.cleared)
		return issuer_fail(x->is, UM_ERR_STATE, "dispute already cleared");
	/* An expired dispute stays as it ended, here and for a granted appeal. */
	if (!dispute_is_live(&d, op->now_s))
		return issuer_fail(x->is, UM_ERR_STATE, "dispute already expired");
	x->res->dispute_id = d.id;
	if ((ret = clear_dispute(x, &d, NULL)) != UM_OK)
		return ret;
	return withdraw_appeal(x, &d);
}

/* ---- appeals ---- */

static int
do_appeal_open(const struct opx *x)
{
	const struct issuer_op *op = x->op;
	struct issuer *is = x->is;
	struct issuer_subject sub;
	struct issuer_dispute d;
	struct issuer_appeal a;
	bool blocking;
	int ret;

	if ((ret = load_subject(is, op->subject, &sub)) != UM_OK ||
	    (ret = load_dispute(is, op->subject, op->dispute_id, &d)) != UM_OK)
		return ret;
	if (!dispute_is_live(&d, op->now_s))
		return issuer_fail(is, UM_ERR_STATE, "dispute is not active (cleared or expired)");
	if ((ret = issuer_db_appeal_blocking(is, d.id, op->now_s, &blocking)) != UM_OK)
		return issuer_db_fail(is, ret);
	if (blocking)
		return issuer_fail(is, UM_ERR_EXISTS,
		                   "this dispute already has an open or resolved appeal");
	memset(&a, 0, sizeof(a));
	a.dispute_id = d.id;
	snprintf(a.subject, sizeof(a.subject), "%s", op->subject);
	a.opened_s = op->now_s;
	/* An appeal ends with its dispute at the latest: past that there is nothing to decide. */
	a.expires_s = op->now_s + op->ttl_s < d.expires_s ? op->now_s + op->ttl_s : d.expires_s;
	snprintf(a.case_id, sizeof(a.case_id), "%s", x->case_id);
	snprintf(a.evidence_ref, sizeof(a.evidence_ref), "%s", x->evidence_ref);
	if ((ret = issuer_db_appeal_insert(is, &a)) != UM_OK)
		return issuer_db_fail(is, ret);
	x->res->appeal_id = a.id;
	x->res->dispute_id = d.id;
	return audit(x, "appeal.open",
	             json_pack("{s:I, s:I, s:n, s:o}", "appeal", (json_int_t)a.id, "dispute",
	                       (json_int_t)d.id, "old", "new", appeal_json(&a)));
}

static int
do_appeal_resolve(const struct opx *x)
{
	const struct issuer_op *op = x->op;
	struct issuer *is = x->is;
	struct issuer_appeal a;
	struct issuer_dispute d;
	int ret;

	ret = issuer_db_appeal_get(is, op->appeal_id, &a);
	if (ret == UM_ERR_NOT_FOUND || (ret == UM_OK && strcmp(a.subject, op->subject) != 0))
		return issuer_fail(is, UM_ERR_NOT_FOUND, "no such appeal for this subject");
	if (ret != UM_OK)
		return issuer_db_fail(is, ret);
	if (a.outcome == ISSUER_OUTCOME_WITHDRAWN)
		return issuer_fail(is, UM_ERR_STATE,
		                   "appeal already resolved (withdrawn: its dispute was cleared)");
	if (a.outcome != ISSUER_OUTCOME_NONE)
		return issuer_fail(is, UM_ERR_STATE, "appeal already resolved");
	if (op->now_s >= a.expires_s)
		return issuer_fail(is, UM_ERR_STATE, "appeal lapsed (expired unresolved)");
	/* Only rows from before schema 2 get here with a dispute that has ended. */
	if ((ret = load_dispute(is, op->subject, a.dispute_id, &d)) != UM_OK)
		return ret;
	if (!dispute_is_live(&d, op->now_s))
		return issuer_fail(is, UM_ERR_STATE,
		                   "the appealed dispute is no longer active (cleared or expired)");
	if ((ret = issuer_db_appeal_resolve(is, a.id, op->outcome, op->now_s)) != UM_OK)
		return ret == UM_ERR_STATE ? issuer_fail(is, ret, "appeal already resolved")
		                           : issuer_db_fail(is, ret);
	x->res->appeal_id = a.id;
	x->res->dispute_id = d.id;
	ret = audit(x, "appeal.resolve",
	            json_pack("{s:I, s:I, s:{s:n, s:n}, s:{s:s, s:I}, s:s}", "appeal",
	                      (json_int_t)a.id, "dispute", (json_int_t)d.id, "old", "outcome",
	                      "resolved_at", "new", "outcome", issuer_outcome_name(op->outcome),
	                      "resolved_at", (json_int_t)op->now_s, "reason", x->reason));
	if (ret != UM_OK || op->outcome != ISSUER_OUTCOME_GRANTED)
		return ret;
	/* Granted: the dispute goes, in this same transaction. */
	return clear_dispute(x, &d, json_pack("{s:I}", "appeal", (json_int_t)a.id));
}

/* ---- issuer_apply ---- */

static int
do_op(const struct opx *x)
{
	switch (x->op->type) {
	case ISSUER_OP_SUBJECT_UPSERT:
		return do_upsert(x);
	case ISSUER_OP_SUBJECT_PROMOTE:
		return do_promote(x);
	case ISSUER_OP_SUBJECT_ADJUST:
		return do_adjust(x);
	case ISSUER_OP_DISPUTE_OPEN:
		return do_dispute_open(x);
	case ISSUER_OP_DISPUTE_CLEAR:
		return do_dispute_clear(x);
	case ISSUER_OP_APPEAL_OPEN:
		return do_appeal_open(x);
	case ISSUER_OP_APPEAL_RESOLVE:
		return do_appeal_resolve(x);
	}
	return issuer_fail(x->is, UM_ERR_INTERNAL, "unknown operation");
}

/* The result's rows as the transaction leaves them. */
static int
read_result(struct issuer *is, struct issuer_result *res)
{
	int ret;

	if (res->dispute_id != 0 &&
	    (ret = issuer_db_dispute_get(is, res->dispute_id, &res->dispute)) != UM_OK)
		return issuer_db_fail(is, ret);
	if (res->appeal_id != 0 &&
	    (ret = issuer_db_appeal_get(is, res->appeal_id, &res->appeal)) != UM_OK)
		return issuer_db_fail(is, ret);
	return UM_OK;
}

/* Look the request id up: UM_OK with res->replayed set when it is a repeat. */
static int
request_lookup(const struct opx *x, const char *params)
{
	const struct issuer_op *op = x->op;
	bool same;
	int ret;

	ret = issuer_db_request_find(x->is, op->request_id, op_name(op->type), op->subject, params,
	                             &same, x->res);
	if (ret == UM_ERR_NOT_FOUND) {
		memset(x->res, 0, sizeof(*x->res));
		return UM_OK;
	}
	if (ret != UM_OK)
		return issuer_db_fail(x->is, ret);
	if (!same)
		return issuer_fail(x->is, UM_ERR_EXISTS,
		                   "request_id already used for a different request");
	x->res->replayed = true;
	return UM_OK;
}

int
issuer_apply(struct issuer *is, const struct issuer_op *op, struct issuer_result *res,
             struct issuer_snapshot *snap)
{
	struct issuer_result local;
	struct opx x = { is, op, "", "", "", res != NULL ? res : &local };
	char *params = NULL;
	int ret;

	memset(x.res, 0, sizeof(*x.res));
	if (snap != NULL)
		memset(snap, 0, sizeof(*snap));
	if (op->reason != NULL)
		x.reason = op->reason;
	if (op->case_id != NULL)
		x.case_id = op->case_id;
	if (op->evidence_ref != NULL)
		x.evidence_ref = op->evidence_ref;
	if ((ret = check_op(&x)) != UM_OK)
		return ret;
	if (op->request_id != NULL && (params = op_params(&x)) == NULL)
		return issuer_fail(is, UM_ERR_INTERNAL, "cannot encode the request");
	if ((ret = issuer_tx_begin(is)) != UM_OK)
		goto out;
	if (op->request_id != NULL && (ret = request_lookup(&x, params)) != UM_OK)
		goto end;
	if (!x.res->replayed) {
		if ((ret = do_op(&x)) != UM_OK)
			goto end;
		if (op->request_id != NULL &&
		    (ret = issuer_db_request_put(is, op->request_id, op->now_s, op_name(op->type),
		                                 op->subject, params, x.res)) != UM_OK) {
			ret = issuer_db_fail(is, ret);
			goto end;
		}
	}
	/* Everything the caller reports is read before COMMIT: after it, nothing can fail. */
	if ((ret = read_result(is, x.res)) != UM_OK)
		goto end;
	if (snap != NULL)
		ret = issuer_snapshot_read(is, op->subject, op->now_s, snap);
end:
	ret = issuer_tx_end(is, ret);
out:
	if (ret != UM_OK) {
		memset(x.res, 0, sizeof(*x.res));
		if (snap != NULL)
			memset(snap, 0, sizeof(*snap));
	}
	free(params);
	return ret;
}
