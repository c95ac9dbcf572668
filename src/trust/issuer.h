/* SPDX-License-Identifier: MIT */
/*
 * The issuer's subject management (issue 5, docs/ISSUER.md), sans-I/O: subjects (a client or
 * relay identity with a base tier, a reputation and a bond), disputes (a temporary tier cap
 * with an expiry and adjudication metadata), appeals against disputes, the effective tier
 * derived from them, and an append-only, hash-chained audit trail of every change. State lives
 * in the caller's store (SQLite schema "issuer"); issuer_handle() serves the admin HTTP API
 * over it.
 *
 * Effective tier (issuer_effective_tier(), the one rule everything else calls):
 *   - a relay subject is pinned to tier 1, whatever its base tier and disputes;
 *   - otherwise the base tier, lowered to the lowest tier_cap among the subject's disputes
 *     that are active at now_s (issuer_dispute_is_active(): not cleared and
 *     opened_s <= now_s < expires_s). The store selects the binding dispute with the same
 *     predicate and order in SQL, over all of a subject's disputes.
 * Appeals do not relax a cap by themselves: a granted appeal clears its dispute (in the same
 * transaction), a denied one leaves the cap in place until the dispute expires. Clearing a
 * dispute withdraws its open appeal in the same transaction.
 *
 * Durability and audit: every mutation (issuer_apply()) writes the change, its audit row(s),
 * its request id (if any) and reads everything its caller will report (struct
 * issuer_result, struct issuer_snapshot) in one transaction, so a call that returned UM_OK is
 * on disk (store.h: WAL, synchronous=FULL) together with its audit record and has nothing
 * left that could fail, and a call that failed wrote nothing, audit included. A call that
 * changes nothing (an upsert with the stored values, a promotion to the current tier, zero
 * deltas) returns UM_OK and writes no audit row. The audit table refuses UPDATE and DELETE
 * (SQLite triggers) and each row carries a hash over its content and the previous row's hash:
 * whoever drops the triggers can still edit rows, but issuer_audit_verify() then finds where.
 *
 * Threading: like the store it uses, one thread at a time (the loop thread).
 */
#ifndef UM_TRUST_ISSUER_H
#define UM_TRUST_ISSUER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "evloop/http.h"
#include "store/store.h"

enum issuer_limits {
	ISSUER_ID_MAX_LEN = 64,    /* subject ids and actors: 1..64 of [A-Za-z0-9._:@-] */
	ISSUER_TEXT_MAX_LEN = 128, /* case_id, evidence_ref, reason: 0..128 printable ASCII */
	ISSUER_TIER_MIN = 1,
	ISSUER_TIER_MAX = 15,
	ISSUER_TTL_MAX_S = 366 * 86400,            /* the largest configurable ttl bound */
	ISSUER_DISPUTE_TTL_DEFAULT_S = 30 * 86400, /* default bound on a dispute's ttl */
	ISSUER_APPEAL_TTL_DEFAULT_S = 30 * 86400,  /* default bound on an appeal's ttl */
	/* Per subject, live (uncleared, unexpired) disputes, active or not yet: more is refused
	 * (UM_ERR_TOO_LARGE). */
	ISSUER_ACTIVE_DISPUTES_MAX = 64,
	ISSUER_AUDIT_LIMIT_MAX = 1000, /* entries per audit listing */
	ISSUER_LIST_MAX = 100,         /* disputes / appeals shown per subject */
	ISSUER_ADMIN_TOKEN_MIN_LEN = 16,
	ISSUER_ADMIN_TOKEN_MAX_LEN = 256,
	ISSUER_BODY_MAX_LEN = 4096, /* admin request bodies; more is 413 */
	ISSUER_PATH_MAX_LEN = 512,  /* path with query; more is 414 */
	ISSUER_ACTION_MAX_LEN = 32,
	ISSUER_AUDIT_HASH_LEN = 32, /* BLAKE2b-256 of an audit row (docs/ISSUER.md) */
};

enum issuer_kind {
	ISSUER_KIND_CLIENT = 1,
	ISSUER_KIND_RELAY = 2,
};

enum issuer_outcome {
	ISSUER_OUTCOME_NONE = 0, /* not resolved */
	ISSUER_OUTCOME_GRANTED = 1,
	ISSUER_OUTCOME_DENIED = 2,
	/* Set by the issuer, not by a resolution: the dispute was cleared while the appeal was
	 * open, so there is nothing left to appeal. */
	ISSUER_OUTCOME_WITHDRAWN = 3,
};

struct issuer_config {
	/*
	 * The admin bearer token (copied: only its hash is kept), 16..256 printable ASCII
	 * characters without spaces. NULL disables the admin API (every admin route is 403).
	 */
	const char *admin_token;
	uint64_t dispute_ttl_max_s; /* a dispute's ttl is 1..this; 1..ISSUER_TTL_MAX_S */
	uint64_t appeal_ttl_max_s;  /* an appeal's ttl is 1..this; 1..ISSUER_TTL_MAX_S */
};

/* Fill cfg with defaults (no admin token; 30-day ttl bounds). */
void issuer_config_defaults(struct issuer_config *cfg);

struct issuer_subject {
	char id[ISSUER_ID_MAX_LEN + 1];
	enum issuer_kind kind;
	uint8_t tier; /* base tier, 1..15 */
	int64_t reputation;
	int64_t bond;
	uint64_t created_s;
	uint64_t updated_s;
};

struct issuer_dispute {
	int64_t id; /* > 0, unique across subjects */
	char subject[ISSUER_ID_MAX_LEN + 1];
	uint8_t tier_cap; /* 1..15 */
	uint64_t opened_s;
	uint64_t expires_s;
	bool cleared;
	uint64_t cleared_s; /* 0 unless cleared */
	char case_id[ISSUER_TEXT_MAX_LEN + 1];
	char evidence_ref[ISSUER_TEXT_MAX_LEN + 1];
};

struct issuer_appeal {
	int64_t id; /* > 0, unique across subjects */
	int64_t dispute_id;
	char subject[ISSUER_ID_MAX_LEN + 1];
	uint64_t opened_s;
	uint64_t expires_s;
	enum issuer_outcome outcome; /* NONE while unresolved */
	uint64_t resolved_s;         /* 0 unless resolved */
	char case_id[ISSUER_TEXT_MAX_LEN + 1];
	char evidence_ref[ISSUER_TEXT_MAX_LEN + 1];
};

/* A subject as issuer_subject_get() sees it at now_s. */
struct issuer_subject_view {
	struct issuer_subject subject;
	uint8_t effective_tier;
	size_t n_active_disputes;
	/* The binding cap (the lowest active one; the latest expiry among equal caps), if any.
	 * Reported for relays too, though their effective tier is 1 regardless. */
	bool capped;
	uint8_t cap;
	uint64_t cap_expires_s;
	int64_t cap_dispute_id;
	/* The most recently opened appeal that is unresolved and unexpired at now_s, if any. */
	bool has_open_appeal;
	struct issuer_appeal appeal;
};

/* ---- validation (pure) ---- */

/* 1..64 characters of [A-Za-z0-9._:@-], and neither "." nor "..". Also the rule for actors. */
bool issuer_id_is_valid(const char *id);
/* 0..128 printable ASCII characters (0x20..0x7e). NULL is not valid. */
bool issuer_text_is_valid(const char *s);
/* "client" / "relay" and back; parse returns UM_OK or UM_ERR_INVALID. */
const char *issuer_kind_name(enum issuer_kind kind);
int issuer_kind_parse(const char *s, enum issuer_kind *kind) UM_WARN_UNUSED;
/* "granted" / "denied" / "withdrawn" ("" for NONE) and back (NONE is not accepted by
 * parse). */
const char *issuer_outcome_name(enum issuer_outcome outcome);
int issuer_outcome_parse(const char *s, enum issuer_outcome *outcome) UM_WARN_UNUSED;

/* Whether d caps its subject at now_s: not cleared and opened_s <= now_s < expires_s. */
bool issuer_dispute_is_active(const struct issuer_dispute *d, uint64_t now_s);

/*
 * The effective tier rule (top of this file), pure. disputes[0..n) are the subject's disputes
 * (active or not; n may be 0 and disputes NULL then). A base tier outside 1..15 counts as 1
 * (fail closed). *cap_idx (may be NULL) receives the index of the binding dispute: the active
 * one with the lowest tier_cap, the latest expires_s among equal caps, the first of those on a
 * full tie; SIZE_MAX when none is active.
 */
uint8_t issuer_effective_tier(enum issuer_kind kind, uint8_t base_tier,
                              const struct issuer_dispute *disputes, size_t n, uint64_t now_s,
                              size_t *cap_idx);

/* ---- lifecycle ---- */

struct issuer;

/*
 * Open the issuer over st (borrowed: it must outlive the issuer; the "issuer" schema is
 * migrated into it). UM_ERR_INVALID for a bad config (why says what), store_migrate() errors
 * otherwise (why gets store_errmsg()). On success *out is the caller's, freed with
 * issuer_free(); the admin token's hash is wiped then.
 */
int issuer_open(struct store *st, const struct issuer_config *cfg, struct issuer **out, char *why,
                size_t why_len) UM_WARN_UNUSED;
void issuer_free_(struct issuer *is);
#define issuer_free(is) UM_FREE_AND_NULL(issuer_free_, is)

/*
 * Why the last failed call on is failed: a short static English sentence, "" before any
 * failure. Valid until the next call on is. Never holds a token or a bound value.
 */
const char *issuer_errmsg(const struct issuer *is);

/* ---- operations ----
 *
 * Every mutation goes through issuer_apply(); the functions after it are shorthands for
 * callers that need neither a request id nor a snapshot. A mutation needs an actor, recorded
 * in the audit trail (issuer_id_is_valid(); NULL is refused), and now_s at most
 * INT64_MAX - ISSUER_TTL_MAX_S. Errors, besides those listed per operation:
 *   UM_ERR_INVALID    a bad argument (actor, id, request id, tier, text, ttl, time);
 *   UM_ERR_NOT_FOUND  no such subject (or dispute/appeal of that subject);
 *   UM_ERR_EXISTS     the request id was used before for a different request;
 *   UM_ERR_TIMEOUT    another process held the database lock for the busy timeout;
 *   UM_ERR_DB         any other store failure: I/O, a damaged row, a constraint the checks
 *                     here should have caught (the detail is logged; nothing was written);
 *   UM_ERR_INTERNAL   a bug.
 * issuer_errmsg() says which.
 */

enum issuer_op_type {
	ISSUER_OP_SUBJECT_UPSERT = 1,  /* audit: "subject.create" or "subject.update" */
	ISSUER_OP_SUBJECT_PROMOTE = 2, /* "subject.promote" */
	ISSUER_OP_SUBJECT_ADJUST = 3,  /* "subject.adjust" */
	ISSUER_OP_DISPUTE_OPEN = 4,    /* "dispute.open" */
	ISSUER_OP_DISPUTE_CLEAR = 5,   /* "dispute.clear", then "appeal.withdraw" if one was open */
	ISSUER_OP_APPEAL_OPEN = 6,     /* "appeal.open" */
	ISSUER_OP_APPEAL_RESOLVE = 7,  /* "appeal.resolve", then "dispute.clear" if granted */
};

/*
 * One mutation. Each type reads the common fields and its own arguments (marked), and ignores
 * the others. Texts (reason, case_id, evidence_ref) are 0..128 printable ASCII; NULL is "".
 */
struct issuer_op {
	enum issuer_op_type type;
	const char *actor;   /* who, for the audit trail (required) */
	const char *subject; /* the subject id */
	/*
	 * NULL, or 1..64 characters of the subject-id alphabet: the call becomes idempotent. The
	 * first successful call with a request id stores (request id -> type, subject, actor,
	 * arguments, result) in its own transaction. A later call with the same request id and
	 * the same type, subject, actor and arguments applies nothing and returns UM_OK with the
	 * stored result (res->replayed); with anything different it is UM_ERR_EXISTS. A failed
	 * call stores nothing, so it may be retried with the same id. Request ids are kept
	 * forever, like the audit trail.
	 */
	const char *request_id;
	uint64_t now_s;
	enum issuer_kind kind;       /* UPSERT */
	uint8_t tier;                /* UPSERT, PROMOTE: the base tier, 1..15 */
	uint8_t tier_cap;            /* DISPUTE_OPEN: 1..15 */
	uint64_t ttl_s;              /* DISPUTE_OPEN, APPEAL_OPEN */
	int64_t reputation_delta;    /* ADJUST */
	int64_t bond_delta;          /* ADJUST */
	int64_t dispute_id;          /* DISPUTE_CLEAR, APPEAL_OPEN */
	int64_t appeal_id;           /* APPEAL_RESOLVE */
	enum issuer_outcome outcome; /* APPEAL_RESOLVE: GRANTED or DENIED */
	const char *reason;          /* PROMOTE, ADJUST, DISPUTE_CLEAR, APPEAL_RESOLVE */
	const char *case_id;         /* DISPUTE_OPEN, APPEAL_OPEN */
	const char *evidence_ref;    /* DISPUTE_OPEN, APPEAL_OPEN */
};

/* What a mutation did; for a replay, what the original call did. */
struct issuer_result {
	bool replayed; /* the request id was known: this call applied nothing */
	bool created;  /* UPSERT: the subject was created */
	/* DISPUTE_OPEN: the new dispute; DISPUTE_CLEAR: the cleared one; APPEAL_*: the appeal's. */
	int64_t dispute_id;
	/* APPEAL_OPEN: the new appeal; APPEAL_RESOLVE: the resolved one; DISPUTE_CLEAR: the appeal
	 * it withdrew, 0 if none. */
	int64_t appeal_id;
	/* Those rows as the transaction leaves them (read in it); all zero for an id of 0. */
	struct issuer_dispute dispute;
	struct issuer_appeal appeal;
};

/* A subject's view at now_s with its newest disputes and appeals (what the admin API shows). */
struct issuer_snapshot {
	struct issuer_subject_view view;
	size_t n_disputes; /* newest first, at most ISSUER_LIST_MAX */
	struct issuer_dispute disputes[ISSUER_LIST_MAX];
	size_t n_appeals; /* newest first, at most ISSUER_LIST_MAX */
	struct issuer_appeal appeals[ISSUER_LIST_MAX];
};

/*
 * Apply op in one transaction. res (may be NULL) gets what it did. snap (may be NULL; about
 * 80 KB, so heap-allocate it) gets the subject's snapshot at op->now_s after the change, read
 * in the same transaction: if that read fails, the change is rolled back and the error
 * returned, so on UM_OK the change is on disk and everything to report about it is in hand.
 * On error res and snap are zeroed and nothing was written. Per type:
 *   UPSERT          create the subject (reputation and bond 0) or set its kind and base tier.
 *   PROMOTE         set the base tier, up or down.
 *   ADJUST          add the deltas to reputation and bond. UM_ERR_INVALID if either result
 *                   would leave the int64 range, or if a negative bond_delta would take the
 *                   bond below 0 (a bond is posted collateral; one already below 0 from
 *                   before schema 2 may only be raised).
 *   DISPUTE_OPEN    cap the subject at tier_cap from now_s until now_s + ttl_s (ttl_s in
 *                   1..dispute_ttl_max_s). UM_ERR_TOO_LARGE when the subject already has
 *                   ISSUER_ACTIVE_DISPUTES_MAX live disputes.
 *   DISPUTE_CLEAR   clear a live (uncleared, unexpired) dispute, UM_ERR_STATE otherwise. Its
 *                   open appeal, if any, is closed as WITHDRAWN in the same transaction.
 *   APPEAL_OPEN     appeal a live dispute (else UM_ERR_STATE), open from now_s until
 *                   now_s + ttl_s (ttl_s in 1..appeal_ttl_max_s) or the dispute's expiry,
 *                   whichever is first. A dispute takes one appeal: UM_ERR_EXISTS if it has
 *                   one that is resolved or still open (one that lapsed unresolved allows
 *                   another).
 *   APPEAL_RESOLVE  resolve an open appeal whose dispute is live: UM_ERR_STATE if the appeal
 *                   is resolved or lapsed, or its dispute is cleared or expired (an expired
 *                   dispute is never marked cleared, by this or by DISPUTE_CLEAR). GRANTED
 *                   clears the dispute; DENIED records the outcome and the cap stays until
 *                   the dispute expires.
 */
int issuer_apply(struct issuer *is, const struct issuer_op *op, struct issuer_result *res,
                 struct issuer_snapshot *snap) UM_WARN_UNUSED;

/* The subject's snapshot at now_s (a read: no actor). */
int issuer_snapshot_get(struct issuer *is, const char *id, uint64_t now_s,
                        struct issuer_snapshot *out) UM_WARN_UNUSED;
/* The subject with its effective tier, binding cap and open appeal at now_s. */
int issuer_subject_get(struct issuer *is, const char *id, uint64_t now_s,
                       struct issuer_subject_view *out) UM_WARN_UNUSED;
/* Dispute dispute_id (any subject). */
int issuer_dispute_get(struct issuer *is, int64_t dispute_id,
                       struct issuer_dispute *out) UM_WARN_UNUSED;
int issuer_appeal_get(struct issuer *is, int64_t appeal_id,
                      struct issuer_appeal *out) UM_WARN_UNUSED;

/* Shorthands for issuer_apply() without request id and snapshot; the out-params (may be
 * NULL) get the result's created flag or new id. */
int issuer_subject_upsert(struct issuer *is, const char *actor, const char *id,
                          enum issuer_kind kind, uint8_t tier, uint64_t now_s,
                          bool *created) UM_WARN_UNUSED;
int issuer_subject_promote(struct issuer *is, const char *actor, const char *id, uint8_t tier,
                           const char *reason, uint64_t now_s) UM_WARN_UNUSED;
int issuer_subject_adjust(struct issuer *is, const char *actor, const char *id,
                          int64_t reputation_delta, int64_t bond_delta, const char *reason,
                          uint64_t now_s) UM_WARN_UNUSED;
int issuer_dispute_open(struct issuer *is, const char *actor, const char *subject, uint8_t tier_cap,
                        uint64_t ttl_s, const char *case_id, const char *evidence_ref,
                        uint64_t now_s, int64_t *dispute_id) UM_WARN_UNUSED;
int issuer_dispute_clear(struct issuer *is, const char *actor, const char *subject,
                         int64_t dispute_id, const char *reason, uint64_t now_s) UM_WARN_UNUSED;
int issuer_appeal_open(struct issuer *is, const char *actor, const char *subject,
                       int64_t dispute_id, uint64_t ttl_s, const char *case_id,
                       const char *evidence_ref, uint64_t now_s, int64_t *appeal_id) UM_WARN_UNUSED;
int issuer_appeal_resolve(struct issuer *is, const char *actor, const char *subject,
                          int64_t appeal_id, enum issuer_outcome outcome, const char *reason,
                          uint64_t now_s) UM_WARN_UNUSED;

/*
 * Call fn for the subject's disputes (appeals), newest first, at most limit of them
 * (1..ISSUER_AUDIT_LIMIT_MAX, else UM_ERR_INVALID). fn
 * returns UM_OK to go on, anything else to stop (that value is returned). fn must not call
 * back into is.
 */
typedef int issuer_dispute_fn(void *arg, const struct issuer_dispute *d);
typedef int issuer_appeal_fn(void *arg, const struct issuer_appeal *a);
int issuer_dispute_foreach(struct issuer *is, const char *subject, size_t limit,
                           issuer_dispute_fn *fn, void *arg) UM_WARN_UNUSED;
int issuer_appeal_foreach(struct issuer *is, const char *subject, size_t limit,
                          issuer_appeal_fn *fn, void *arg) UM_WARN_UNUSED;

/* ---- audit trail ---- */

/* One audit row; the strings are views valid during the callback. detail is a JSON object. */
struct issuer_audit_entry {
	int64_t seq; /* increasing, never reused */
	uint64_t time_s;
	const char *actor;
	const char *action; /* "subject.create", "dispute.open", ... (docs/ISSUER.md) */
	const char *subject;
	const char *detail; /* {"old": ..., "new": ..., ...} */
	/* The row's chain hash as stored (ISSUER_AUDIT_HASH_LEN bytes), NULL if it is missing or
	 * of another length (a damaged row: issuer_audit_verify() reports it). */
	const uint8_t *hash;
};
typedef int issuer_audit_fn(void *arg, const struct issuer_audit_entry *e);
/*
 * Call fn for the audit rows with seq > after_seq in seq order, at most limit
 * (1..ISSUER_AUDIT_LIMIT_MAX, else UM_ERR_INVALID). fn as for issuer_dispute_foreach().
 */
int issuer_audit_foreach(struct issuer *is, int64_t after_seq, size_t limit, issuer_audit_fn *fn,
                         void *arg) UM_WARN_UNUSED;
/*
 * Recompute the audit hash chain (docs/ISSUER.md) over every row, in one transaction (it reads
 * the whole trail: an admin action, not a per-request check). UM_OK: every row's hash matches
 * its content and its predecessor, seqs run 1, 2, ... without a gap, and no row is missing at
 * the end; *n_rows (may be NULL) gets the count, *first_bad_seq 0. UM_ERR_AUTH: the chain is
 * broken; *first_bad_seq is the first seq whose row was changed, removed or is not chained
 * (a removed row's seq when rows are missing), *n_rows the rows read. Store errors otherwise.
 * This detects edits made by whoever bypassed the triggers, unless they also rewrote every
 * later hash: compare the hash of a row kept elsewhere (GET /v1/admin/audit shows it) to
 * catch that.
 */
int issuer_audit_verify(struct issuer *is, uint64_t *n_rows, int64_t *first_bad_seq) UM_WARN_UNUSED;

/* ---- admin HTTP API (issuer_http.c; routes in docs/ISSUER.md) ---- */

/*
 * Handle one request. path may carry a query string ("/v1/admin/audit?after=5&limit=10"):
 * the I/O layer passes the request target as received. authorization_header is the raw
 * Authorization header or NULL. Every /v1/admin/ route needs "Bearer <admin token>" (checked
 * in constant time before anything else: 401 otherwise, 403 when no token is configured) or
 * an admin capability token, "UmbraCap ..." (issuer_admin_cap.h: 401/403, and the audit
 * actor is the token's subject); any other path is 404. Never fails: resp gets a status and a JSON
 * body (every error is
 * {"error": reason}); resp->body is malloc'd, resp->etag stays NULL.
 */
void issuer_handle(struct issuer *is, const char *method, const char *path,
                   const char *authorization_header, const uint8_t *body, size_t len,
                   uint64_t now_s, struct ev_http_resp *resp);

#endif /* UM_TRUST_ISSUER_H */
