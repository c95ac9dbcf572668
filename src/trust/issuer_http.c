/* SPDX-License-Identifier: MIT */
/*
 * The issuer's admin HTTP API, pure (no sockets): issuer_handle() authenticates, routes one
 * request, parses its JSON body strictly (unknown fields, wrong types, duplicates: 400) and
 * fills the response. Every input is capped before it is read and every error is JSON
 * {"error": reason}. Routes, bodies and replies: docs/ISSUER.md. fuzz/fuzz_issuer_http.c runs
 * it on arbitrary methods, paths, headers and bodies. Public routes (/v1/pubkeys, token
 * issuance, ...) are not served here: anything outside /v1/admin/ is 404. A mutation's reply
 * is built from what issuer_apply() read inside its transaction: once the change is
 * committed, only running out of memory can turn its reply into an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "trust/issuer_admin_cap.h"
#include "trust/issuer_relays.h"
#include "trust/issuer_st.h"
#include "trust/issuer_roles.h"

enum {
	AUTH_HEADER_MAX_LEN = 1024,
	MAX_SEGS = 5, /* subjects/<id>/disputes/<n>/clear */
	AUDIT_LIMIT_DEFAULT = 100,
	MSG_LEN = 128,
};

#define ADMIN_PREFIX  "/v1/admin/"
#define DEFAULT_ACTOR "admin"

/* ---- replies ---- */

/* A core error to an HTTP status, with the core's reason. */
static void
reply_core_err(struct issuer *is, struct ev_http_resp *resp, int err)
{
	const char *why = issuer_errmsg(is);
	int status;

	switch (err) {
	case UM_ERR_INVALID:
		status = 400;
		break;
	case UM_ERR_NOT_FOUND:
		status = 404;
		break;
	case UM_ERR_EXISTS:
	case UM_ERR_STATE:
	case UM_ERR_TOO_LARGE:
		status = 409;
		break;
	case UM_ERR_TIMEOUT: /* the lock was busy */
	case UM_ERR_DB:      /* I/O, disk full, a damaged row: nothing was written; retry */
		status = 503;
		break;
	default: /* a bug */
		status = 500;
		break;
	}
	ev_http_resp_error(resp, status, why[0] != '\0' ? why : "internal error");
}

/* ---- JSON views ---- */

static json_t *
time_or_null(bool set, uint64_t t)
{
	return set ? json_integer((json_int_t)t) : json_null();
}

static json_t *
dispute_obj(const struct issuer_dispute *d, uint64_t now_s)
{
	return json_pack("{s:I, s:i, s:I, s:I, s:o, s:s, s:s, s:b}", "id", (json_int_t)d->id,
	                 "tier_cap", (int)d->tier_cap, "opened", (json_int_t)d->opened_s, "expires",
	                 (json_int_t)d->expires_s, "cleared_at",
	                 time_or_null(d->cleared, d->cleared_s), "case_id", d->case_id,
	                 "evidence_ref", d->evidence_ref, "active",
	                 issuer_dispute_is_active(d, now_s));
}

static json_t *
appeal_obj(const struct issuer_appeal *a, uint64_t now_s)
{
	bool resolved = a->outcome != ISSUER_OUTCOME_NONE;

	return json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:s, s:s, s:b}", "id", (json_int_t)a->id,
	                 "dispute", (json_int_t)a->dispute_id, "opened", (json_int_t)a->opened_s,
	                 "expires", (json_int_t)a->expires_s, "resolved_at",
	                 time_or_null(resolved, a->resolved_s), "outcome",
	                 resolved ? json_string(issuer_outcome_name(a->outcome)) : json_null(),
	                 "case_id", a->case_id, "evidence_ref", a->evidence_ref, "open",
	                 !resolved && now_s < a->expires_s);
}

/* The subject's snapshot at now_s as JSON (docs/ISSUER.md); NULL only without memory. */
static json_t *
snapshot_json(const struct issuer_snapshot *snap, uint64_t now_s)
{
	const struct issuer_subject_view *v = &snap->view;
	const struct issuer_subject *s = &v->subject;
	json_t *disputes = json_array(), *appeals = json_array();
	json_t *cap = json_null(), *appeal = json_null();

	for (size_t i = 0; i < snap->n_disputes && disputes != NULL; i++)
		json_array_append_new(disputes, dispute_obj(&snap->disputes[i], now_s));
	for (size_t i = 0; i < snap->n_appeals && appeals != NULL; i++)
		json_array_append_new(appeals, appeal_obj(&snap->appeals[i], now_s));
	if (v->capped)
		cap = json_pack("{s:i, s:I, s:I}", "tier_cap", (int)v->cap, "expires",
		                (json_int_t)v->cap_expires_s, "dispute",
		                (json_int_t)v->cap_dispute_id);
	if (v->has_open_appeal)
		appeal = appeal_obj(&v->appeal, now_s);
	return json_pack("{s:s, s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "id",
	                 s->id, "kind", issuer_kind_name(s->kind), "tier", (int)s->tier,
	                 "effective_tier", (int)v->effective_tier, "reputation",
	                 (json_int_t)s->reputation, "bond", (json_int_t)s->bond, "created",
	                 (json_int_t)s->created_s, "updated", (json_int_t)s->updated_s,
	                 "active_disputes", (json_int_t)v->n_active_disputes, "cap", cap, "appeal",
	                 appeal, "disputes", disputes, "appeals", appeals);
}

/* ---- strict body parsing ---- */

enum field_type { F_STR, F_INT };

struct field {
	const char *name;
	enum field_type type;
	bool required;
};

/* Every body (every mutation) may name the actor recorded in the audit trail and a request
 * id that makes it idempotent. */
static const struct field common_fields[] = {
	{ "actor", F_STR, false },
	{ "request_id", F_STR, false },
};

/* A field name safe to quote back (short, ASCII word), else NULL. */
static const char *
quotable(const char *key)
{
	size_t n = strlen(key);

	if (n == 0 || n > 32)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= 'A' && key[i] <= 'Z') ||
		      (key[i] >= '0' && key[i] <= '9') || key[i] == '_'))
			return NULL;
	return key;
}

/*
 * Parse body as one JSON object holding only fields of spec (plus the common ones), each of its
 * type, the required ones present. NULL after replying 400 with the reason.
 */
static json_t *
parse_body(const uint8_t *body, size_t len, const struct field *spec, size_t n_spec,
           struct ev_http_resp *resp)
{
	char msg[MSG_LEN];
	json_error_t jerr;
	json_t *o, *v;
	const char *key;

	if (len == 0) {
		ev_http_resp_error(resp, 400, "a JSON object body is required");
		return NULL;
	}
	o = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL) {
		/* jerr.text may quote input bytes: give the position only. */
		snprintf(msg, sizeof(msg), "malformed JSON at line %d column %d", jerr.line,
		         jerr.column);
		ev_http_resp_error(resp, 400, msg);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		ev_http_resp_error(resp, 400, "the body must be a JSON object");
		return NULL;
	}
	json_object_foreach(o, key, v)
	{
		const struct field *f = NULL;

		for (size_t i = 0; i < UM_ARRAY_LEN(common_fields) && f == NULL; i++)
			if (strcmp(key, common_fields[i].name) == 0)
				f = &common_fields[i];
		for (size_t i = 0; i < n_spec && f == NULL; i++)
			if (strcmp(key, spec[i].name) == 0)
				f = &spec[i];
		if (f == NULL) {
			if (quotable(key) != NULL)
				snprintf(msg, sizeof(msg), "unknown field \"%s\"", key);
			else
				snprintf(msg, sizeof(msg), "unknown field");
			goto bad;
		}
		if ((f->type == F_STR && !json_is_string(v)) ||
		    (f->type == F_INT && !json_is_integer(v))) {
			snprintf(msg, sizeof(msg), "field \"%s\" must be %s", f->name,
			         f->type == F_STR ? "a string" : "an integer");
			goto bad;
		}
	}
	for (size_t i = 0; i < n_spec; i++) {
		if (spec[i].required && json_object_get(o, spec[i].name) == NULL) {
			snprintf(msg, sizeof(msg), "missing field \"%s\"", spec[i].name);
			goto bad;
		}
	}
	return o;
bad:
	json_decref(o);
	ev_http_resp_error(resp, 400, msg);
	return NULL;
}

/* A string field (already type-checked), or dflt when absent. */
static const char *
get_str(json_t *o, const char *name, const char *dflt)
{
	json_t *v = json_object_get(o, name);

	return v != NULL ? json_string_value(v) : dflt;
}

/* An integer field in [lo, hi] (or dflt when absent); false after replying 400. */
static bool
get_int(json_t *o, const char *name, json_int_t lo, json_int_t hi, json_int_t dflt, json_int_t *out,
        struct ev_http_resp *resp)
{
	json_t *v = json_object_get(o, name);
	char msg[MSG_LEN];

	*out = v != NULL ? json_integer_value(v) : dflt;
	if (*out < lo || *out > hi) {
		snprintf(msg, sizeof(msg), "field \"%s\" must be %lld..%lld", name, (long long)lo,
		         (long long)hi);
		ev_http_resp_error(resp, 400, msg);
		return false;
	}
	return true;
}

/*
 * Strings that reach the core as C strings must not hide a NUL (jansson refuses \u0000
 * without JSON_ALLOW_NUL, so this holds; checked again because the audit trail relies on it).
 */
static bool
str_clean(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	return v == NULL || strlen(json_string_value(v)) == json_string_length(v);
}

struct req {
	struct issuer *is;
	const char *id; /* subject id from the path */
	const uint8_t *body;
	size_t len;
	uint64_t now_s;
	struct ev_http_resp *resp;
	const char *actor; /* the default actor: "admin", or an UmbraCap token's subject */
	bool actor_fixed;  /* UmbraCap: a body may only repeat the token's subject */
};

/* The common fields into op (actor, request_id); false after replying 400. */
static bool
get_common(const struct req *r, json_t *o, struct issuer_op *op)
{
	struct ev_http_resp *resp = r->resp;

	op->actor = get_str(o, "actor", r->actor);
	if (!str_clean(o, "actor") || !issuer_id_is_valid(op->actor)) {
		ev_http_resp_error(resp, 400, "invalid actor: 1..64 of [A-Za-z0-9._:@-]");
		return false;
	}
	/* The audit trail names who proved it: a token holder cannot write another name. */
	if (r->actor_fixed && strcmp(op->actor, r->actor) != 0) {
		ev_http_resp_error(
		        resp, 400,
		        "field \"actor\": with an UmbraCap token the actor is the token's "
		        "subject");
		return false;
	}
	op->request_id = get_str(o, "request_id", NULL);
	if (op->request_id != NULL &&
	    (!str_clean(o, "request_id") || !issuer_id_is_valid(op->request_id))) {
		ev_http_resp_error(resp, 400, "invalid request_id: 1..64 of [A-Za-z0-9._:@-]");
		return false;
	}
	return true;
}

/* Text fields (0..128 printable) with a default of "". false after replying 400. */
static bool
get_text(json_t *o, const char *name, const char **out, struct ev_http_resp *resp)
{
	char msg[MSG_LEN];

	*out = get_str(o, name, "");
	if (!str_clean(o, name) || !issuer_text_is_valid(*out)) {
		snprintf(msg, sizeof(msg), "field \"%s\" must be 0..128 printable ASCII characters",
		         name);
		ev_http_resp_error(resp, 400, msg);
		return false;
	}
	return true;
}

/* ---- handlers ---- */

static void
h_subject_get(struct req *r)
{
	struct issuer_snapshot *snap = um_xmalloc(sizeof(*snap));
	int ret = issuer_snapshot_get(r->is, r->id, r->now_s, snap);

	if (ret != UM_OK)
		reply_core_err(r->is, r->resp, ret);
	else
		ev_http_resp_json(r->resp, 200,
		                  json_pack("{s:o}", "subject", snapshot_json(snap, r->now_s)));
	free(snap);
}

/* What a mutation's reply carries besides the subject. */
enum extra { EXTRA_NONE, EXTRA_CREATED, EXTRA_DISPUTE, EXTRA_APPEAL };

/*
 * Apply op (its actor, request id and arguments filled) to the path's subject and reply
 * {"subject": S} plus the extra, with status (201 when something was created, 200 for a
 * replay). Everything in the reply was read inside the operation's transaction.
 */
static void
run_op(struct req *r, struct issuer_op *op, enum extra extra)
{
	struct issuer_snapshot *snap = um_xmalloc(sizeof(*snap));
	struct issuer_result res;
	int status = 200, ret;
	json_t *j;

	op->subject = r->id;
	op->now_s = r->now_s;
	if ((ret = issuer_apply(r->is, op, &res, snap)) != UM_OK) {
		reply_core_err(r->is, r->resp, ret);
		free(snap);
		return;
	}
	j = json_pack("{s:o}", "subject", snapshot_json(snap, r->now_s));
	free(snap);
	if (j != NULL && extra == EXTRA_CREATED) {
		json_object_set_new(j, "created", json_boolean(res.created));
		status = res.created ? 201 : 200;
	} else if (j != NULL && extra == EXTRA_DISPUTE) {
		json_object_set_new(j, "dispute", dispute_obj(&res.dispute, r->now_s));
		status = 201;
	} else if (j != NULL && extra == EXTRA_APPEAL) {
		json_object_set_new(j, "appeal", appeal_obj(&res.appeal, r->now_s));
		status = 201;
	}
	if (j != NULL && res.replayed) {
		/* The original call's result; nothing was applied now. */
		json_object_set_new(j, "replayed", json_true());
		status = 200;
	}
	ev_http_resp_json(r->resp, status, j);
}

static void
h_subject_put(struct req *r)
{
	static const struct field spec[] = { { "kind", F_STR, true }, { "tier", F_INT, true } };
	json_t *o = parse_body(r->body, r->len, spec, UM_ARRAY_LEN(spec), r->resp);
	struct issuer_op op = { .type = ISSUER_OP_SUBJECT_UPSERT };
	json_int_t tier;

	if (o == NULL)
		return;
	if (!get_common(r, o, &op))
		goto out;
	if (issuer_kind_parse(get_str(o, "kind", ""), &op.kind) != UM_OK) {
		ev_http_resp_error(r->resp, 400, "field \"kind\" must be \"client\" or \"relay\"");
		goto out;
	}
	if (!get_int(o, "tier", ISSUER_TIER_MIN, ISSUER_TIER_MAX, 0, &tier, r->resp))
		goto out;
	op.tier = (uint8_t)tier;
	run_op(r, &op, EXTRA_CREATED);
out:
	json_decref(o);
}

static void
h_promote(struct req *r)
{
	static const struct field spec[] = { { "tier", F_INT, true }, { "reason", F_STR, false } };
	json_t *o = parse_body(r->body, r->len, spec, UM_ARRAY_LEN(spec), r->resp);
	struct issuer_op op = { .type = ISSUER_OP_SUBJECT_PROMOTE };
	json_int_t tier;

	if (o == NULL)
		return;
	if (!get_common(r, o, &op) || !get_text(o, "reason", &op.reason, r->resp) ||
	    !get_int(o, "tier", ISSUER_TIER_MIN, ISSUER_TIER_MAX, 0, &tier, r->resp))
		goto out;
	op.tier = (uint8_t)tier;
	run_op(r, &op, EXTRA_NONE);
out:
	json_decref(o);
}

static void
h_adjust(struct req *r)
{
	static const struct field spec[] = {
		{ "reputation_delta", F_INT, false },
		{ "bond_delta", F_INT, false },
		{ "reason", F_STR, false },
	};
	json_t *o = parse_body(r->body, r->len, spec, UM_ARRAY_LEN(spec), r->resp);
	struct issuer_op op = { .type = ISSUER_OP_SUBJECT_ADJUST };
	json_int_t rep, bond;

	if (o == NULL)
		return;
	if (!get_common(r, o, &op) || !get_text(o, "reason", &op.reason, r->resp) ||
	    !get_int(o, "reputation_delta", INT64_MIN, INT64_MAX, 0, &rep, r->resp) ||
	    !get_int(o, "bond_delta", INT64_MIN, INT64_MAX, 0, &bond, r->resp))
		goto out;
	op.reputation_delta = (int64_t)rep;
	op.bond_delta = (int64_t)bond;
	run_op(r, &op, EXTRA_NONE);
out:
	json_decref(o);
}

static void
h_dispute_open(struct req *r)
{
	static const struct field spec[] = {
		{ "tier_cap", F_INT, true },
		{ "ttl_s", F_INT, true },
		{ "case_id", F_STR, false },
		{ "evidence_ref", F_STR, false },
	};
	json_t *o = parse_body(r->body, r->len, spec, UM_ARRAY_LEN(spec), r->resp);
	struct issuer_op op = { .type = ISSUER_OP_DISPUTE_OPEN };
	json_int_t cap, ttl;

	if (o == NULL)
		return;
	if (!get_common(r, o, &op) ||
	    !get_int(o, "tier_cap", ISSUER_TIER_MIN, ISSUER_TIER_MAX, 0, &cap, r->resp) ||
	    !get_int(o, "ttl_s", 1, (json_int_t)r->is->dispute_ttl_max_s, 0, &ttl, r->resp) ||
	    !get_text(o, "case_id", &op.case_id, r->resp) ||
	    !get_text(o, "evidence_ref", &op.evidence_ref, r->resp))
		goto out;
	op.tier_cap = (uint8_t)cap;
	op.ttl_s = (uint64_t)ttl;
	run_op(r, &op, EXTRA_DISPUTE);
out:
	json_decref(o);
}

static void
h_dispute_clear(struct req *r, int64_t dispute_id)
{
	static const struct field spec[] = { { "reason", F_STR, false } };
	json_t *o = parse_body(r->body, r->len, spec, UM_ARRAY_LEN(spec), r->resp);
	struct issuer_op op = { .type = ISSUER_OP_DISPUTE_CLEAR, .dispute_id = dispute_id };

	if (o == NULL)
		return;
	if (get_common(r, o, &op) && get_text(o, "reason", &op.reason, r->resp))
		run_op(r, &op, EXTRA_NONE);
	json_decref(o);
}

static void
h_appeal_open(struct req *r)
{
	static const struct field spec[] = {
		{ "dispute", F_INT, true },
		{ "ttl_s", F_INT, true },
		{ "case_id", F_STR, false },
		{ "evidence_ref", F_STR, false },
	};
	json_t *o = parse_body(r->body, r->len, spec, UM_ARRAY_LEN(spec), r->resp);
	struct issuer_op op = { .type = ISSUER_OP_APPEAL_OPEN };
	json_int_t dispute, ttl;

	if (o == NULL)
		return;
	if (!get_common(r, o, &op) || !get_int(o, "dispute", 1, INT64_MAX, 0, &dispute, r->resp) ||
	    !get_int(o, "ttl_s", 1, (json_int_t)r->is->appeal_ttl_max_s, 0, &ttl, r->resp) ||
	    !get_text(o, "case_id", &op.case_id, r->resp) ||
	    !get_text(o, "evidence_ref", &op.evidence_ref, r->resp))
		goto out;
	op.dispute_id = (int64_t)dispute;
	op.ttl_s = (uint64_t)ttl;
	run_op(r, &op, EXTRA_APPEAL);
out:
	json_decref(o);
}

static void
h_appeal_resolve(struct req *r, int64_t appeal_id)
{
	static const struct field spec[] = {
		{ "outcome", F_STR, true },
		{ "reason", F_STR, false },
	};
	json_t *o = parse_body(r->body, r->len, spec, UM_ARRAY_LEN(spec), r->resp);
	struct issuer_op op = { .type = ISSUER_OP_APPEAL_RESOLVE, .appeal_id = appeal_id };

	if (o == NULL)
		return;
	if (!get_common(r, o, &op) || !get_text(o, "reason", &op.reason, r->resp))
		goto out;
	if (issuer_outcome_parse(get_str(o, "outcome", ""), &op.outcome) != UM_OK ||
	    op.outcome == ISSUER_OUTCOME_WITHDRAWN) {
		ev_http_resp_error(r->resp, 400,
		                   "field \"outcome\" must be \"granted\" or \"denied\"");
		goto out;
	}
	run_op(r, &op, EXTRA_NONE);
out:
	json_decref(o);
}

/* ---- audit listing ---- */

/* A decimal 0..max without sign or leading garbage, from s[0..n). */
/* {"subject": id, "roles": [...], "revoked": bool, "changed": bool} after a role or revocation
 * change (read after its transaction). */
static void
reply_roles(struct req *r, bool changed)
{
	static const char *const roles[] = { "access", "admin", "provider" };
	json_t *arr = json_array();
	bool has, revoked = false;

	for (size_t i = 0; i < UM_ARRAY_LEN(roles); i++) {
		if (issuer_role_has(r->is, r->id, roles[i], &has) != UM_OK ||
		    issuer_subject_is_revoked(r->is, r->id, &revoked) != UM_OK) {
			json_decref(arr);
			ev_http_resp_error(r->resp, 503, "database error");
			return;
		}
		if (has)
			json_array_append_new(arr, json_string(roles[i]));
	}
	ev_http_resp_json(r->resp, 200,
	                  json_pack("{s:s, s:o, s:b, s:b}", "subject", r->id, "roles", arr,
	                            "revoked", revoked, "changed", changed));
}

/* PUT (grant) or DELETE (withdraw) /v1/admin/subjects/{id}/roles/{role}; body optional. */
static void
h_role(struct req *r, const char *role, bool grant)
{
	struct issuer_op op = { 0 };
	bool changed = false;
	json_t *o = NULL;
	int ret;

	if (!captoken_role_is_valid(role)) {
		ev_http_resp_error(r->resp, 404, "no such role (provider, access, admin)");
		return;
	}
	if (r->len > 0 && (o = parse_body(r->body, r->len, NULL, 0, r->resp)) == NULL)
		return;
	if (o == NULL)
		op.actor = r->actor;
	else if (!get_common(r, o, &op))
		goto out;
	if ((ret = issuer_role_set(r->is, op.actor, r->id, role, grant, r->now_s, &changed)) !=
	    UM_OK)
		reply_core_err(r->is, r->resp, ret);
	else
		reply_roles(r, changed);
out:
	json_decref(o);
}

/* POST /v1/admin/subjects/{id}/revoke or /unrevoke {"reason": ...}. */
static void
h_revoke(struct req *r, bool revoke)
{
	static const struct field spec[] = { { "reason", F_STR, false } };
	struct issuer_op op = { 0 };
	const char *reason = "";
	bool changed = false;
	json_t *o = NULL;
	int ret;

	if (r->len > 0 &&
	    (o = parse_body(r->body, r->len, spec, UM_ARRAY_LEN(spec), r->resp)) == NULL)
		return;
	if (o == NULL)
		op.actor = r->actor;
	else if (!get_common(r, o, &op) || !get_text(o, "reason", &reason, r->resp))
		goto out;
	if ((ret = issuer_subject_revoke(r->is, op.actor, r->id, revoke, reason, r->now_s,
	                                 &changed)) != UM_OK)
		reply_core_err(r->is, r->resp, ret);
	else
		reply_roles(r, changed);
out:
	json_decref(o);
}

static bool
parse_dec(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;

	if (n == 0 || n > 19)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(s[i] - '0'); /* 19 digits cannot wrap */
	}
	if (x > max)
		return false;
	*out = x;
	return true;
}

/* after=N&limit=M (each optional, once); false after replying 400. */
static bool
parse_audit_query(const char *q, int64_t *after, size_t *limit, struct ev_http_resp *resp)
{
	bool seen_after = false, seen_limit = false;
	uint64_t v;

	*after = 0;
	*limit = AUDIT_LIMIT_DEFAULT;
	while (q != NULL && *q != '\0') {
		const char *amp = strchr(q, '&');
		size_t n = amp != NULL ? (size_t)(amp - q) : strlen(q);

		if (n > 6 && strncmp(q, "after=", 6) == 0 && !seen_after) {
			if (!parse_dec(q + 6, n - 6, INT64_MAX, &v)) {
				ev_http_resp_error(resp, 400, "after must be a decimal 0..2^63-1");
				return false;
			}
			*after = (int64_t)v;
			seen_after = true;
		} else if (n > 6 && strncmp(q, "limit=", 6) == 0 && !seen_limit) {
			if (!parse_dec(q + 6, n - 6, ISSUER_AUDIT_LIMIT_MAX, &v) || v == 0) {
				ev_http_resp_error(resp, 400, "limit must be a decimal 1..1000");
				return false;
			}
			*limit = (size_t)v;
			seen_limit = true;
		} else {
			ev_http_resp_error(
			        resp, 400,
			        "bad query: only after=N and limit=N, each at most once");
			return false;
		}
		q = amp != NULL ? amp + 1 : q + n;
	}
	return true;
}

struct audit_ctx {
	json_t *arr;
	int64_t last;
};

static int
add_audit(void *arg, const struct issuer_audit_entry *e)
{
	struct audit_ctx *c = arg;
	json_t *detail = json_loads(e->detail, 0, NULL);
	char hex[HEX_LEN(ISSUER_AUDIT_HASH_LEN)];
	json_t *o;

	if (e->hash == NULL || enc_hex(hex, sizeof(hex), e->hash, ISSUER_AUDIT_HASH_LEN) != UM_OK)
		hex[0] = '\0';
	o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:o, s:o}", "seq", (json_int_t)e->seq, "time",
	              (json_int_t)e->time_s, "actor", e->actor, "action", e->action, "subject",
	              e->subject, "detail", detail != NULL ? detail : json_null(), "hash",
	              hex[0] != '\0' ? json_string(hex) : json_null());
	if (o == NULL)
		return UM_ERR_INTERNAL;
	json_array_append_new(c->arr, o);
	c->last = e->seq;
	return UM_OK;
}

static void
h_audit(struct issuer *is, const char *query, struct ev_http_resp *resp)
{
	struct audit_ctx c;
	int64_t after;
	size_t limit;
	int ret;

	if (!parse_audit_query(query, &after, &limit, resp))
		return;
	c.arr = json_array();
	c.last = after;
	if ((ret = issuer_audit_foreach(is, after, limit, add_audit, &c)) != UM_OK) {
		json_decref(c.arr);
		if (ret == UM_ERR_INTERNAL)
			ev_http_resp_error(resp, 500, "cannot encode the audit trail");
		else
			reply_core_err(is, resp, ret);
		return;
	}
	ev_http_resp_json(
	        resp, 200,
	        json_pack("{s:o, s:I}", "entries", c.arr, "next_after", (json_int_t)c.last));
}

/* GET /v1/admin/audit/verify: 200 with the verdict, whatever it is. */
static void
h_audit_verify(struct issuer *is, struct ev_http_resp *resp)
{
	uint64_t n = 0;
	int64_t bad = 0;
	int ret = issuer_audit_verify(is, &n, &bad);

	if (ret == UM_OK)
		ev_http_resp_json(resp, 200,
		                  json_pack("{s:b, s:I}", "ok", 1, "rows", (json_int_t)n));
	else if (ret == UM_ERR_AUTH)
		ev_http_resp_json(
		        resp, 200,
		        json_pack("{s:b, s:I}", "ok", 0, "first_bad_seq", (json_int_t)bad));
	else
		reply_core_err(is, resp, ret);
}

/* ---- authentication ---- */

enum auth_result { AUTH_OK, AUTH_MISSING, AUTH_WRONG };

/*
 * "Bearer <token>" (scheme case-insensitive, RFC 7235) against the configured token. Both
 * sides are hashed first, so the comparison is constant-time in content and in length.
 */
static enum auth_result
auth_check(const struct issuer *is, const char *h)
{
	uint8_t got[BLAKE2B_256_LEN];
	size_t n;
	bool ok;

	if (h == NULL)
		return AUTH_MISSING;
	n = strnlen(h, AUTH_HEADER_MAX_LEN + 1);
	if (n > AUTH_HEADER_MAX_LEN || n < 7 || strncasecmp(h, "Bearer", 6) != 0 ||
	    (h[6] != ' ' && h[6] != '\t'))
		return AUTH_MISSING;
	h += 7;
	while (*h == ' ' || *h == '\t')
		h++;
	n = strlen(h);
	while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	if (n == 0)
		return AUTH_MISSING;
	hash_blake2b(got, sizeof(got), h, n, NULL, 0);
	ok = um_memeq_ct(got, is->admin_hash, sizeof(got));
	um_memzero(got, sizeof(got));
	return ok ? AUTH_OK : AUTH_WRONG;
}

/* ---- routing ---- */

/* A decimal id 1..INT64_MAX from a path segment. */
static bool
parse_id(const char *s, int64_t *id)
{
	uint64_t v;

	if (s[0] == '0' || !parse_dec(s, strlen(s), INT64_MAX, &v))
		return false;
	*id = (int64_t)v;
	return true;
}

/* A relay node id as umbra prints it (52 base32 characters) or as 64 hex digits. */
static bool
parse_node_id(const char *s, uint8_t out[RELAY_TRUST_ID_LEN])
{
	size_t n = strlen(s);

	if (n == 64)
		return dec_hex(out, RELAY_TRUST_ID_LEN, s, n) == RELAY_TRUST_ID_LEN;
	return n == 52 && dec_base32(out, RELAY_TRUST_ID_LEN, s, n) == RELAY_TRUST_ID_LEN;
}

static int
add_node_id(void *arg, const uint8_t node_id[RELAY_TRUST_ID_LEN])
{
	char b32[BASE32_LEN(RELAY_TRUST_ID_LEN)];

	if (enc_base32(b32, sizeof(b32), node_id, RELAY_TRUST_ID_LEN) != UM_OK ||
	    json_array_append_new(arg, json_string(b32)) != 0)
		return UM_ERR_INTERNAL;
	return UM_OK;
}

/* {"subject": ID, "relays": [node id, ...]}: the subject's bindings now. */
static void
reply_relays(struct req *r, int status)
{
	json_t *arr = json_array();
	int ret = issuer_relay_foreach(r->is, r->id, add_node_id, arr);

	if (ret != UM_OK) {
		json_decref(arr);
		reply_core_err(r->is, r->resp, ret);
		return;
	}
	ev_http_resp_json(r->resp, status,
	                  json_pack("{s:s, s:o}", "subject", r->id, "relays", arr));
}

/*
 * GET  subjects/<id>/relays: the node ids bound to the subject;
 * POST subjects/<id>/relays {"node_id": N, "action": "add"|"remove"}: bind or unbind.
 */
static void
h_relays(struct req *r, bool get)
{
	static const struct field spec[] = { { "node_id", F_STR, true },
		                             { "action", F_STR, true } };
	struct issuer_op op = { .type = ISSUER_OP_SUBJECT_UPSERT }; /* for its actor only */
	struct issuer_subject_view v;
	uint8_t node_id[RELAY_TRUST_ID_LEN];
	const char *action;
	json_t *o;
	int ret;
	bool add;

	if (get) {
		/* The subject must exist: an unknown one is 404, not an empty list. */
		if ((ret = issuer_subject_get(r->is, r->id, r->now_s, &v)) != UM_OK)
			reply_core_err(r->is, r->resp, ret);
		else
			reply_relays(r, 200);
		return;
	}
	if ((o = parse_body(r->body, r->len, spec, UM_ARRAY_LEN(spec), r->resp)) == NULL)
		return;
	if (!get_common(r, o, &op))
		goto out;
	if (op.request_id != NULL) {
		ev_http_resp_error(r->resp, 400,
		                   "this route takes no request_id (it is idempotent)");
		goto out;
	}
	action = get_str(o, "action", "");
	if (strcmp(action, "add") != 0 && strcmp(action, "remove") != 0) {
		ev_http_resp_error(r->resp, 400, "field \"action\" must be \"add\" or \"remove\"");
		goto out;
	}
	add = strcmp(action, "add") == 0;
	if (!str_clean(o, "node_id") || !parse_node_id(get_str(o, "node_id", ""), node_id)) {
		ev_http_resp_error(
		        r->resp, 400,
		        "field \"node_id\" must be a relay id: 52 base32 or 64 hex characters");
		goto out;
	}
	if ((ret = issuer_relay_bind(r->is, op.actor, r->id, node_id, add, r->now_s)) != UM_OK)
		reply_core_err(r->is, r->resp, ret);
	else
		reply_relays(r, 200);
out:
	json_decref(o);
}

/* Route the subject routes: segs[0] is "subjects", n_segs >= 2. */
static void
route_subject(struct req *r, const char *method, char **segs, size_t n_segs)
{
	bool get = strcmp(method, "GET") == 0, put = strcmp(method, "PUT") == 0;
	bool post = strcmp(method, "POST") == 0, del = strcmp(method, "DELETE") == 0;
	int64_t n = 0;
	const char *verb = n_segs >= 3 ? segs[2] : NULL;
	const char *action = n_segs == 5 ? segs[4] : NULL;

	/* Roles and revocation (issuer_roles.h). */
	if ((n_segs == 4 && strcmp(verb, "roles") == 0) ||
	    (n_segs == 3 && (strcmp(verb, "revoke") == 0 || strcmp(verb, "unrevoke") == 0))) {
		if (n_segs == 4 ? !put && !del : !post) {
			ev_http_resp_error(r->resp, 405,
			                   n_segs == 4 ? "method not allowed: PUT or DELETE"
			                               : "method not allowed: POST");
			return;
		}
		if (!issuer_id_is_valid(segs[1])) {
			ev_http_resp_error(r->resp, 400,
			                   "invalid subject id: 1..64 of [A-Za-z0-9._:@-]");
			return;
		}
		r->id = segs[1];
		if (n_segs == 4)
			h_role(r, segs[3], put);
		else
			h_revoke(r, strcmp(verb, "revoke") == 0);
		return;
	}
	bool relays = n_segs == 3 && strcmp(verb, "relays") == 0;

	/* The route's shape first, so an unknown route is 404 whatever the id looks like. */
	if (!(n_segs == 2 || relays ||
	      (n_segs == 3 && (strcmp(verb, "promote") == 0 || strcmp(verb, "adjust") == 0 ||
	                       strcmp(verb, "disputes") == 0 || strcmp(verb, "appeals") == 0)) ||
	      (n_segs == 5 &&
	       ((strcmp(verb, "disputes") == 0 && strcmp(action, "clear") == 0) ||
	        (strcmp(verb, "appeals") == 0 && strcmp(action, "resolve") == 0))))) {
		ev_http_resp_error(r->resp, 404, "no such endpoint");
		return;
	}
	if (n_segs == 2 ? !get && !put : relays ? !get && !post : !post) {
		ev_http_resp_error(r->resp, 405,
		                   n_segs == 2 ? "method not allowed: GET or PUT"
		                   : relays    ? "method not allowed: GET or POST"
		                               : "method not allowed: POST");
		return;
	}
	if (!issuer_id_is_valid(segs[1])) {
		ev_http_resp_error(r->resp, 400, "invalid subject id: 1..64 of [A-Za-z0-9._:@-]");
		return;
	}
	r->id = segs[1];
	if (n_segs == 5 && !parse_id(segs[3], &n)) {
		ev_http_resp_error(r->resp, 400, "bad id in path: a decimal 1..2^63-1");
		return;
	}
	if (get && r->len > 0) {
		ev_http_resp_error(r->resp, 400, "GET takes no body");
		return;
	}
	if (relays)
		h_relays(r, get);
	else if (n_segs == 2 && get)
		h_subject_get(r);
	else if (n_segs == 2)
		h_subject_put(r);
	else if (n_segs == 5 && strcmp(verb, "disputes") == 0)
		h_dispute_clear(r, n);
	else if (n_segs == 5)
		h_appeal_resolve(r, n);
	else if (strcmp(verb, "promote") == 0)
		h_promote(r);
	else if (strcmp(verb, "adjust") == 0)
		h_adjust(r);
	else if (strcmp(verb, "disputes") == 0)
		h_dispute_open(r);
	else
		h_appeal_open(r);
}

void
issuer_handle(struct issuer *is, const char *method, const char *path,
              const char *authorization_header, const uint8_t *body, size_t len, uint64_t now_s,
              struct ev_http_resp *resp)
{
	char buf[ISSUER_PATH_MAX_LEN + 1];
	char *segs[MAX_SEGS], *query, *p;
	size_t n_segs = 0, path_len;
	enum auth_result auth;
	char cap_subject[ISSUER_ID_MAX_LEN + 1] = "";
	const char *why = NULL;
	struct req r;
	int status;

	resp->status = 500;
	resp->content_type = "application/json";
	resp->body = NULL;
	resp->body_len = 0;
	resp->etag = NULL;
	if (is == NULL || method == NULL || path == NULL) {
		ev_http_resp_error(resp, 400, "bad request");
		return;
	}
	if (body == NULL)
		len = 0;
	path_len = strnlen(path, ISSUER_PATH_MAX_LEN + 1);
	if (path_len > ISSUER_PATH_MAX_LEN) {
		ev_http_resp_error(resp, 414, "path too long");
		return;
	}
	memcpy(buf, path, path_len + 1);
	query = strchr(buf, '?');
	if (query != NULL)
		*query++ = '\0';
	/* Not ours: the public issuer routes are served elsewhere (or not yet at all). */
	if (strncmp(buf, ADMIN_PREFIX, strlen(ADMIN_PREFIX)) != 0 &&
	    strcmp(buf, "/v1/admin") != 0) {
		ev_http_resp_error(resp, 404, "no such endpoint");
		return;
	}
	/* Authenticate before anything else: no route, method or body detail leaks first. An
	 * UmbraCap credential proves one exact request (method, target, body) by a subject that
	 * holds the admin role now (issuer_admin_cap.h). */
	if (issuer_cap_header_is_cap(authorization_header)) {
		if (len > ISSUER_BODY_MAX_LEN) {
			ev_http_resp_error(resp, 413, "body too large (at most 4096 bytes)");
			return;
		}
		status = issuer_admin_cap_check(is->admin_cap, is, authorization_header, method,
		                                path, body, len, now_s, cap_subject, &why);
		if (status != 0) {
			ev_http_resp_error(resp, status, why);
			return;
		}
	} else if (!is->has_admin_token) {
		ev_http_resp_error(resp, 403,
		                   "the admin API is disabled: no admin token is configured");
		return;
	} else if ((auth = auth_check(is, authorization_header)) != AUTH_OK) {
		ev_http_resp_error(resp, 401,
		                   auth == AUTH_MISSING
		                           ? "missing Authorization: Bearer <admin token>"
		                           : "invalid admin token");
		return;
	}
	if (len > ISSUER_BODY_MAX_LEN) {
		ev_http_resp_error(resp, 413, "body too large (at most 4096 bytes)");
		return;
	}
	p = buf + strlen(ADMIN_PREFIX) - 1;
	while (p != NULL && *p == '/') {
		*p++ = '\0';
		if (n_segs == MAX_SEGS || *p == '\0' || *p == '/') {
			ev_http_resp_error(resp, 404, "no such endpoint");
			return;
		}
		segs[n_segs++] = p;
		p = strchr(p, '/');
	}
	if ((n_segs == 1 || (n_segs == 2 && strcmp(segs[1], "verify") == 0)) &&
	    strcmp(segs[0], "audit") == 0) {
		if (strcmp(method, "GET") != 0)
			ev_http_resp_error(resp, 405, "method not allowed: GET");
		else if (len > 0)
			ev_http_resp_error(resp, 400, "GET takes no body");
		else if (n_segs == 1)
			h_audit(is, query, resp);
		else if (query != NULL && *query != '\0')
			ev_http_resp_error(resp, 400, "this route takes no query string");
		else
			h_audit_verify(is, resp);
		return;
	}
	if (n_segs < 2 || strcmp(segs[0], "subjects") != 0) {
		ev_http_resp_error(resp, 404, "no such endpoint");
		return;
	}
	if (query != NULL && *query != '\0') {
		ev_http_resp_error(resp, 400, "this route takes no query string");
		return;
	}
	r = (struct req){ is, NULL, body, len, now_s, resp, DEFAULT_ACTOR, false };
	if (cap_subject[0] != '\0') {
		r.actor = cap_subject;
		r.actor_fixed = true;
	}
	route_subject(&r, method, segs, n_segs);
}
