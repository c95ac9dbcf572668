/* SPDX-License-Identifier: MIT */
/*
 * The exit's issuer feed (docs/PROTOCOL.md 17.6): for every issuer of [relay] issuers, fetch
 * its key list (GET /v1/pubkeys) and revocation feed (GET /v1/revocations) over HTTP at
 * start and every refresh period, and hand the bytes to the token verifier
 * (token_verifier.h), which checks them against the pinned identity and keeps the newest.
 *
 *   start:   both documents of every issuer at once
 *   then:    every refresh_ms; a document not held yet (the issuer was down, or its answer
 *            did not verify) is tried again every min(refresh_ms, ISSUER_FEED_RETRY_MS)
 *   always:  at most one request per (issuer, document) in flight; each bounded by
 *            ISSUER_FEED_TIMEOUT_MS (or the refresh period, when shorter) and the document's
 *            size cap; failures logged at NOTICE, rate-limited per feed
 *
 * Loop thread only; the verifier is borrowed and must outlive the feed.
 */
#ifndef UM_TRUST_ISSUER_FEED_IO_H
#define UM_TRUST_ISSUER_FEED_IO_H

#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "evloop/evloop.h"
#include "trust/token_verifier.h"

enum issuer_feed_limits {
	ISSUER_FEED_RETRY_MS = 5 * 1000,    /* a missing document is asked for this often */
	ISSUER_FEED_TIMEOUT_MS = 10 * 1000, /* one fetch */
	ISSUER_FEED_URL_MAX = 128,          /* "http://[IPv6]:port" base URLs */
};

struct issuer_feed;

/* A feed for tv (borrowed) refreshing every refresh_ms (> 0); no issuer yet, not started. */
struct issuer_feed *issuer_feed_new(struct ev_loop *loop, struct token_verifier *tv,
                                    uint64_t refresh_ms);
/* Cancel every fetch in flight (no callback runs after) and free f; NULL is a no-op. */
void issuer_feed_free_(struct issuer_feed *f);
#define issuer_feed_free(f) UM_FREE_AND_NULL(issuer_feed_free_, f)

/*
 * Trust the issuer with identity id, whose documents are under base_url
 * ("http://<host>:<port>", no path): added to the verifier too. UM_ERR_INVALID for a URL
 * over ISSUER_FEED_URL_MAX, or token_verifier_add_issuer()'s error.
 */
int issuer_feed_add(struct issuer_feed *f, const uint8_t id[TOKEN_VERIFIER_ID_LEN],
                    const char *base_url) UM_WARN_UNUSED;
/* Fetch everything now, then keep refreshing. */
void issuer_feed_start(struct issuer_feed *f);

#endif /* UM_TRUST_ISSUER_FEED_IO_H */
