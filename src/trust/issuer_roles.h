/* SPDX-License-Identifier: MIT */
/*
 * Subject roles and subject revocation at the issuer (issue 5, docs/ISSUER.md "Roles and
 * capability tokens"), sans-I/O over the issuer's store (SQLite schema "issuer_roles",
 * migrated by issuer_open()):
 *
 *   roles      a subject holds any of "provider" (may get provider capability tokens, to
 *              advertise relays to directories), "access" (may get access tokens for
 *              audience "exit": identified tokens, PROTOCOL.md 18.5) and "admin"; granted
 *              and withdrawn by the
 *              admin (audit "subject.role.grant" / "subject.role.withdraw");
 *   revoked    a revoked subject is listed in the issuer's revocation feed (PROTOCOL.md
 *              17.2), so exits and directories refuse its identified tokens and capability
 *              tokens, and gets no new capability token (audit "subject.revoke" /
 *              "subject.unrevoke"); at most ISSUER_DOC_MAX_SUBJECTS at a time;
 *   issuance   every capability token issued is recorded in the audit trail
 *              ("captoken.issue": role, aud, tier, key_epoch, iat, exp, jti, pop_key; no
 *              secret is in a token).
 *
 * Every mutation is one transaction with its audit row; one that changes nothing writes no
 * row. Threading: the loop thread, like the issuer.
 */
#ifndef UM_TRUST_ISSUER_ROLES_H
#define UM_TRUST_ISSUER_ROLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "trust/captoken.h"
#include "trust/issuer.h"

/* Migrate the "issuer_roles" schema into st (issuer_open() calls it). */
int issuer_roles_migrate(struct store *st) UM_WARN_UNUSED;

/*
 * Grant (grant true) or withdraw role ("provider" | "access" | "admin") of an existing subject.
 * UM_ERR_INVALID for a bad actor, id or role; UM_ERR_NOT_FOUND for an unknown subject; store
 * errors as issuer_apply(). *changed (may be NULL): whether anything changed.
 */
int issuer_role_set(struct issuer *is, const char *actor, const char *subject, const char *role,
                    bool grant, uint64_t now_s, bool *changed) UM_WARN_UNUSED;
/* Whether subject holds role (false for an unknown subject). */
int issuer_role_has(struct issuer *is, const char *subject, const char *role,
                    bool *has) UM_WARN_UNUSED;

/*
 * Revoke (revoke true) or reinstate an existing subject; reason 0..128 printable ASCII (NULL
 * is ""). UM_ERR_TOO_LARGE when ISSUER_DOC_MAX_SUBJECTS subjects are revoked already.
 */
int issuer_subject_revoke(struct issuer *is, const char *actor, const char *subject, bool revoke,
                          const char *reason, uint64_t now_s, bool *changed) UM_WARN_UNUSED;
int issuer_subject_is_revoked(struct issuer *is, const char *subject, bool *revoked) UM_WARN_UNUSED;
/* The revoked subjects, ascending (bytewise), at most max of them. */
int issuer_revoked_list(struct issuer *is, char (*out)[ISSUER_ID_MAX_LEN + 1], size_t max,
                        size_t *n) UM_WARN_UNUSED;

/* Record the issuance of t (already signed) in the audit trail, actor "issuer". */
int issuer_captoken_audit(struct issuer *is, const struct captoken *t,
                          uint64_t now_s) UM_WARN_UNUSED;

#endif /* UM_TRUST_ISSUER_ROLES_H */
