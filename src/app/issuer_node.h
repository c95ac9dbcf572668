/* SPDX-License-Identifier: MIT */
/*
 * The daemon's issuer role (issue #5), wired from configuration: the subject store and the
 * token signing keys (<state_dir>/issuer.db, trust/issuer.h, trust/issuer_keys.h; signed by
 * the node's identity key), the admin bearer token (a 0600 file, made at the first start),
 * and on each [issuer] listen address the public routes (key list, revocation feed, token
 * issuance, relay-trust feed: trust/issuer_public.h, trust/issuer_relays.h) and the admin API. The
 * control socket reaches the admin API (control.h) with the token the daemon holds.
 */
#ifndef UM_APP_ISSUER_NODE_H
#define UM_APP_ISSUER_NODE_H

#include <stddef.h>

#include "lib/compiler.h"
#include "config/config.h"
#include "crypto/keys.h"
#include "evloop/evloop.h"
#include "evloop/http.h"
#include "store/store.h"
#include "trust/abuse.h"
#include "trust/issuer.h"
#include "trust/issuer_creds.h"
#include "trust/issuer_keys.h"
#include "trust/issuer_public.h"
#include "trust/issuer_relays.h"

enum {
	APP_ISSUER_MAX_LISTEN = 8,
	APP_ISSUER_MAX_BODY = 16 << 10, /* issuer_http caps bodies tighter */
};

struct app_issuer {
	struct ev_loop *loop;
	const struct keys_ed25519 *id; /* borrowed: the issuer identity (signs documents, tokens) */
	struct store *store;
	struct issuer *is;
	struct issuer_keyring *keys;
	struct abuse *limit;      /* anonymous issuance requests per source */
	struct puzzle_gate *gate; /* issuance puzzles: seeds and replay cache */
	unsigned puzzle_bits;     /* [issuer] puzzle_bits */
	struct issuer_puzzle_stats pz_stats;
	struct issuer_creds *creds;         /* subjects' keys for identified issuance */
	uint32_t subject_quota;             /* [issuer] subject_quota */
	struct issuer_rtfeed *rt;           /* the signed relay-trust feed (GET /v1/relaytrust) */
	struct issuer_admin_cap *admin_cap; /* UmbraCap on the admin API (issuer_admin_cap.h) */
	char token[SECRETFILE_MAX_LEN + 1]; /* the admin token (wiped at clear); "" if none */
	size_t n_http;
	struct ev_http *http[APP_ISSUER_MAX_LISTEN];
	char *bound[APP_ISSUER_MAX_LISTEN + 1]; /* "host:port" listened on, NULL-terminated */
};

/* Start the issuer role if c asks for it (else nothing). On failure why says what; call
 * app_issuer_clear() either way. */
int app_issuer_start(struct app_issuer *a, const struct config *c, struct ev_loop *loop,
                     const struct keys_ed25519 *id, char *why, size_t why_len) UM_WARN_UNUSED;
void app_issuer_clear(struct app_issuer *a);

#endif /* UM_APP_ISSUER_NODE_H */
