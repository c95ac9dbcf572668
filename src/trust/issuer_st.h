/* SPDX-License-Identifier: MIT */
/* struct issuer's layout and the storage calls issuer.c makes (issuer_store.c). Private to
 * src/trust/issuer*.c and tests. */
#ifndef UM_TRUST_ISSUER_ST_H
#define UM_TRUST_ISSUER_ST_H

#include "crypto/hash.h"
#include "trust/issuer.h"

struct issuer {
	struct store *st; /* borrowed */
	bool has_admin_token;
	uint8_t admin_hash[BLAKE2B_256_LEN]; /* BLAKE2b of the admin token; wiped on free */
	uint64_t dispute_ttl_max_s;
	uint64_t appeal_ttl_max_s;
	const char *why;                    /* static text: issuer_errmsg() */
	struct issuer_admin_cap *admin_cap; /* borrowed; NULL: UmbraCap refused */
};

/* Latest now_s accepted: every now_s + ttl then fits in an SQLite integer. */
#define ISSUER_NOW_MAX ((uint64_t)INT64_MAX - ISSUER_TTL_MAX_S)

/* issuer.c: set issuer_errmsg() to why (static text) and return err. */
int issuer_fail(struct issuer *is, int err, const char *why);
/*
 * A store failure err: log it (WARN "issuer: database error ...", with store_errmsg(): table
 * and column names, never bound values) and return UM_ERR_DB, or UM_ERR_TIMEOUT unchanged (a
 * busy lock is not a failure of the database). No store code passes through: a CHECK failure
 * is a bug here or a damaged file, not a bad request.
 */
int issuer_db_fail(struct issuer *is, int err);
/* Begin a write transaction (store errors through issuer_db_fail()). */
int issuer_tx_begin(struct issuer *is) UM_WARN_UNUSED;
/* Commit when ret is UM_OK (a failed commit through issuer_db_fail()), else roll back;
 * returns the result of the whole operation. */
int issuer_tx_end(struct issuer *is, int ret) UM_WARN_UNUSED;
/* The snapshot of subject id at now_s, inside the caller's transaction or outside any. */
int issuer_snapshot_read(struct issuer *is, const char *id, uint64_t now_s,
                         struct issuer_snapshot *out) UM_WARN_UNUSED;

/*
 * issuer_store.c: fixed SQL, one statement per call; every call runs inside or outside a
 * transaction as its caller decides. Text columns longer than their field are MALFORMED.
 * Errors are the store's (store.h), passed back unmapped: the caller decides.
 */
extern const struct store_schema issuer_schema; /* its migs are public to tests (v1 fixtures) */
extern const char issuer_schema_v3[];           /* issuer_relays.c: the relay bindings */
int issuer_db_subject_get(struct issuer *is, const char *id,
                          struct issuer_subject *out) UM_WARN_UNUSED;
int issuer_db_subject_insert(struct issuer *is, const struct issuer_subject *s) UM_WARN_UNUSED;
/* Write kind, tier, reputation, bond and updated of s->id. */
int issuer_db_subject_update(struct issuer *is, const struct issuer_subject *s) UM_WARN_UNUSED;
/* Insert d (id ignored) and set d->id. */
int issuer_db_dispute_insert(struct issuer *is, struct issuer_dispute *d) UM_WARN_UNUSED;
int issuer_db_dispute_get(struct issuer *is, int64_t id, struct issuer_dispute *out) UM_WARN_UNUSED;
/* Set cleared_at; UM_ERR_STATE if it was cleared already. */
int issuer_db_dispute_clear(struct issuer *is, int64_t id, uint64_t now_s) UM_WARN_UNUSED;
/*
 * The subject's binding dispute at now_s (issuer.h: active, lowest tier_cap, then latest
 * expiry, then lowest id), chosen in SQL among all its disputes: UM_OK, or UM_ERR_NOT_FOUND
 * when none is active.
 */
int issuer_db_dispute_binding(struct issuer *is, const char *subject, uint64_t now_s,
                              struct issuer_dispute *out) UM_WARN_UNUSED;
/* How many of the subject's disputes are active at now_s (issuer_dispute_is_active()). */
int issuer_db_disputes_count_active(struct issuer *is, const char *subject, uint64_t now_s,
                                    size_t *n) UM_WARN_UNUSED;
/* How many are live at now_s: uncleared and unexpired, whether started or not (the quota). */
int issuer_db_disputes_count_live(struct issuer *is, const char *subject, uint64_t now_s,
                                  size_t *n) UM_WARN_UNUSED;
int issuer_db_dispute_foreach(struct issuer *is, const char *subject, size_t limit,
                              issuer_dispute_fn *fn, void *arg) UM_WARN_UNUSED;
/* Insert a (id ignored) and set a->id. */
int issuer_db_appeal_insert(struct issuer *is, struct issuer_appeal *a) UM_WARN_UNUSED;
int issuer_db_appeal_get(struct issuer *is, int64_t id, struct issuer_appeal *out) UM_WARN_UNUSED;
/* Record outcome (GRANTED, DENIED or WITHDRAWN) at now_s; UM_ERR_STATE if resolved already. */
int issuer_db_appeal_resolve(struct issuer *is, int64_t id, enum issuer_outcome outcome,
                             uint64_t now_s) UM_WARN_UNUSED;
/* Whether dispute_id has an appeal that is resolved or open at now_s (blocks a new one). */
int issuer_db_appeal_blocking(struct issuer *is, int64_t dispute_id, uint64_t now_s,
                              bool *blocking) UM_WARN_UNUSED;
/* The newest appeal of dispute_id open at now_s: UM_OK, or UM_ERR_NOT_FOUND. */
int issuer_db_appeal_open_for_dispute(struct issuer *is, int64_t dispute_id, uint64_t now_s,
                                      struct issuer_appeal *out) UM_WARN_UNUSED;
/* The subject's newest appeal open at now_s: UM_OK, or UM_ERR_NOT_FOUND. */
int issuer_db_appeal_open_latest(struct issuer *is, const char *subject, uint64_t now_s,
                                 struct issuer_appeal *out) UM_WARN_UNUSED;
int issuer_db_appeal_foreach(struct issuer *is, const char *subject, size_t limit,
                             issuer_appeal_fn *fn, void *arg) UM_WARN_UNUSED;

/*
 * The request record of request_id: UM_ERR_NOT_FOUND, or UM_OK with *same set when it was
 * stored for this op name, subject and params, and the stored result in res (created and ids
 * only).
 */
int issuer_db_request_find(struct issuer *is, const char *request_id, const char *op,
                           const char *subject, const char *params, bool *same,
                           struct issuer_result *res) UM_WARN_UNUSED;
/* Store request_id's record (UM_ERR_EXISTS if it is there already). */
int issuer_db_request_put(struct issuer *is, const char *request_id, uint64_t now_s, const char *op,
                          const char *subject, const char *params,
                          const struct issuer_result *res) UM_WARN_UNUSED;

/*
 * An audit row's chain hash (docs/ISSUER.md): BLAKE2b-256 over prev (the previous row's hash,
 * 32 zero bytes for the first row) | seq | time (each 8 bytes big-endian) | then actor,
 * action, subject and detail, each as a 4-byte big-endian length and its bytes.
 */
void issuer_audit_hash(uint8_t out[ISSUER_AUDIT_HASH_LEN],
                       const uint8_t prev[ISSUER_AUDIT_HASH_LEN], int64_t seq, int64_t time_s,
                       const char *actor, size_t actor_len, const char *action, size_t action_len,
                       const char *subject, size_t subject_len, const char *detail,
                       size_t detail_len);
/* Append one audit row, chained to the last one (seq = the highest seq ever used + 1). */
int issuer_db_audit_append(struct issuer *is, uint64_t now_s, const char *actor, const char *action,
                           const char *subject, const char *detail) UM_WARN_UNUSED;
int issuer_db_audit_foreach(struct issuer *is, int64_t after_seq, size_t limit, issuer_audit_fn *fn,
                            void *arg) UM_WARN_UNUSED;
/* Recompute the chain: UM_OK with *first_bad 0, or UM_ERR_AUTH with *first_bad > 0. */
int issuer_db_audit_verify(struct issuer *is, uint64_t *n_rows, int64_t *first_bad) UM_WARN_UNUSED;

#endif /* UM_TRUST_ISSUER_ST_H */
