/* SPDX-License-Identifier: MIT */
/*
 * The issuer's capability-token route (PROTOCOL.md 18.3), sans-I/O:
 *
 *   POST /v1/captokens  {"subject": S, "role": "provider", "aud": "directory",
 *                        "pop_key": "<base32 Ed25519 public key>", "time": T,
 *                        "sig": "<base64 Ed25519 signature>"}
 *                    -> 200 {"token": "<base64 captoken>", "tier": N, "key_epoch": E,
 *                            "iat": I, "exp": X}
 *
 * The subject signs the request with the key the issuer's admin registered for it
 * (issuer_creds.h) over captoken_req_msg(); 401 when that does not verify or the time is more
 * than 300 s off, 403 when the subject is revoked or lacks the role. The token's tier claim is
 * the subject's effective tier (a relay subject is pinned to tier 1), its key_epoch the
 * issuer's current key epoch (so raising min_token_epoch retires capability tokens too).
 * Every token issued is recorded in the audit trail (issuer_roles.h).
 */
#ifndef UM_TRUST_ISSUER_CAPTOKENS_H
#define UM_TRUST_ISSUER_CAPTOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evloop/http.h"
#include "crypto/keys.h"
#include "trust/abuse.h"
#include "trust/issuer.h"
#include "trust/issuer_creds.h"
#include "trust/issuer_keys.h"

enum issuer_captokens_limits {
	ISSUER_CAPTOKENS_MAX_BODY = 1024,
	ISSUER_CAPTOKEN_LIFETIME_DEFAULT_S = 86400,
};

struct issuer_captokens_ctx {
	struct issuer *is;             /* subjects, roles, revocation, audit */
	struct issuer_creds *creds;    /* subjects' request keys */
	struct issuer_keyring *keys;   /* the current key epoch */
	const struct keys_ed25519 *id; /* the issuer identity: signs tokens */
	struct abuse *limit;           /* per-source request limit (ABUSE_ISSUE); NULL: none */
	uint64_t lifetime_s;           /* exp - iat, 60..7 days; 0: the default (1 day) */
};

/*
 * Serve POST /v1/captokens (returns true, resp filled; never fails), or return false for any
 * other path. family/addr: the client's address for the limit (as issuer_public_handle()).
 */
bool issuer_captokens_handle(const struct issuer_captokens_ctx *c, const char *method,
                             const char *path, int family, const uint8_t *addr, const uint8_t *body,
                             size_t len, uint64_t now_s, uint64_t now_ms,
                             struct ev_http_resp *resp);

#endif /* UM_TRUST_ISSUER_CAPTOKENS_H */
