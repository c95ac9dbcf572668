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
	const char *why; /* static text: issuer_errmsg() */
};

/* issuer_store.c: fixed SQL, one statement per call; every call runs inside or outside a
 * transaction as its caller decides. Text columns longer than their field are MALFORMED. */
extern const struct store_schema issuer_schema;
int issuer_db_subject_get(struct issuer *is, const char *id,
                          struct issuer_subject *out) UM_WARN_UNUSED;
int issuer_db_subject_insert(struct issuer *is, const struct issuer_subject *s) UM_WARN_UNUSED;
/* Write kind, tier, reputation, bond and updated of s->id. */
int issuer_db_subject_update(struct issuer *is, const struct issuer_subject *s) UM_WARN_UNUSED;
/* Insert d (id ignored) and set d->id. */
int issuer_db_dispute_insert(struct issuer *is, struct issuer_dispute *d) UM_WARN_UNUSED;
int issuer_db_dispute_get(struct issuer *is, int64_t id, struct issuer_dispute *out) UM_WARN_UNUSED;
int issuer_db_dispute_clear(struct issuer *is, int64_t id, uint64_t now_s) UM_WARN_UNUSED;
/* The subject's disputes active at now_s, up to cap of them (*n set; oldest first). */
int issuer_db_disputes_active(struct issuer *is, const char *subject, uint64_t now_s,
                              struct issuer_dispute *out, size_t cap, size_t *n) UM_WARN_UNUSED;
/* How many of the subject's disputes are active at now_s. */
int issuer_db_disputes_count_active(struct issuer *is, const char *subject, uint64_t now_s,
                                    size_t *n) UM_WARN_UNUSED;
int issuer_db_dispute_foreach(struct issuer *is, const char *subject, size_t limit,
                              issuer_dispute_fn *fn, void *arg) UM_WARN_UNUSED;
int issuer_db_appeal_insert(struct issuer *is, struct issuer_appeal *a) UM_WARN_UNUSED;
int issuer_db_appeal_get(struct issuer *is, int64_t id, struct issuer_appeal *out) UM_WARN_UNUSED;
int issuer_db_appeal_resolve(struct issuer *is, int64_t id, enum issuer_outcome outcome,
                             uint64_t now_s) UM_WARN_UNUSED;
/* Whether dispute_id has an appeal that is resolved or open at now_s (blocks a new one). */
int issuer_db_appeal_blocking(struct issuer *is, int64_t dispute_id, uint64_t now_s,
                              bool *blocking) UM_WARN_UNUSED;
/* The subject's newest appeal open at now_s: UM_OK, or UM_ERR_NOT_FOUND. */
int issuer_db_appeal_open_latest(struct issuer *is, const char *subject, uint64_t now_s,
                                 struct issuer_appeal *out) UM_WARN_UNUSED;
int issuer_db_appeal_foreach(struct issuer *is, const char *subject, size_t limit,
                             issuer_appeal_fn *fn, void *arg) UM_WARN_UNUSED;
int issuer_db_audit_append(struct issuer *is, uint64_t now_s, const char *actor, const char *action,
                           const char *subject, const char *detail) UM_WARN_UNUSED;
int issuer_db_audit_foreach(struct issuer *is, int64_t after_seq, size_t limit, issuer_audit_fn *fn,
                            void *arg) UM_WARN_UNUSED;

#endif /* UM_TRUST_ISSUER_ST_H */
