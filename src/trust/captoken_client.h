/* SPDX-License-Identifier: MIT */
/*
 * A capability token held for presenting (PROTOCOL.md 18.3-18.5), with its I/O. Two users: a
 * relay operator's provider token, and a client's access token for exits
 * (captoken_client_idtoken(), [client] identified_token). For the provider: the client asks
 * the provider issuer for a "provider" token for audience "directory"
 * (POST /v1/captokens, signed with the subject's key, pop_key = the same key's public half),
 * keeps it, renews it when half its lifetime has passed (or it was refused), and builds the
 * body of POST /v1/provider/relay/upsert for a descriptor and an authority: the token, the
 * proof of possession over (authority identity, now, BLAKE2b-256(descriptor)), the time and
 * the descriptor.
 *
 * Threading: the loop thread.
 */
#ifndef UM_TRUST_CAPTOKEN_CLIENT_H
#define UM_TRUST_CAPTOKEN_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "crypto/keys.h"
#include "evloop/evloop.h"

enum captoken_client_limits {
	CAPTOKEN_CLIENT_RETRY_S = 5,     /* after a failed request */
	CAPTOKEN_CLIENT_TICK_MS = 1000,  /* how often it looks at the token */
	CAPTOKEN_CLIENT_MIN_LEFT_S = 60, /* a token with less left is not presented */
	CAPTOKEN_CLIENT_TIMEOUT_MS = 10000,
};

struct captoken_client_config {
	const uint8_t *issuer;          /* the issuer's identity [32] (pinned) */
	const char *url;                /* its base URL "http://ip:port" */
	const char *subject;            /* the operator's subject id there */
	const struct keys_ed25519 *key; /* the subject's key (borrowed): signs requests, pops */
	const char *aud;                /* "directory" (provider), "exit" (access) */
	const char *role;               /* "provider" (NULL: provider) or "access" */
};

struct captoken_client;

/* A new client (the caller frees it with captoken_client_free()); it starts asking at once.
 * UM_ERR_INVALID (why says what) for a bad configuration. */
int captoken_client_new(struct ev_loop *loop, const struct captoken_client_config *cfg,
                        struct captoken_client **out, char *why, size_t why_len) UM_WARN_UNUSED;
void captoken_client_free_(struct captoken_client *cc);
#define captoken_client_free(cc) UM_FREE_AND_NULL(captoken_client_free_, cc)

/*
 * The upsert body (dir_provider.h) for desc, addressed to the authority whose identity is
 * audience, at now_s: a new buffer the caller frees. UM_ERR_STATE while no token with
 * CAPTOKEN_CLIENT_MIN_LEFT_S left is held.
 */
int captoken_client_upsert_body(struct captoken_client *cc, const uint8_t audience[32],
                                const uint8_t *desc, size_t len, uint64_t now_s, uint8_t **body,
                                size_t *body_len) UM_WARN_UNUSED;
/*
 * An identified TOKEN's token bytes (trust/idtoken.h: kind | captoken | pop_time | pop_sig)
 * for the exit whose identity is audience, at now_s, into out (cap bytes, at least
 * IDTOKEN_MAX_LEN): UM_OK with *len, UM_ERR_STATE while no token with
 * CAPTOKEN_CLIENT_MIN_LEFT_S left is held, UM_ERR_TOO_LARGE when cap is short.
 */
int captoken_client_idtoken(struct captoken_client *cc, const uint8_t audience[32], uint64_t now_s,
                            uint8_t *out, size_t cap, size_t *len) UM_WARN_UNUSED;
/* The held token's tier, 0 without one. */
uint8_t captoken_client_tier(const struct captoken_client *cc);
/* The held token's expiry, 0 without one (for status and tests). */
uint64_t captoken_client_expires(const struct captoken_client *cc);

#endif /* UM_TRUST_CAPTOKEN_CLIENT_H */
