/* SPDX-License-Identifier: MIT */
/*
 * The directory authority's state and request handling (issue 3, docs/PROTOCOL.md 4-5),
 * sans-I/O: a struct dirserv holds the authority's store (SQLite schema "directory"), its
 * identity keyring and current signing key, and the set of configured authorities. It takes
 * bytes and "now" and gives back HTTP responses; directory_io.c (later) wires
 * dirserv_handle() to an ev_http server and runs the voting schedule.
 *
 *   relay uploads   POST /v1/desc          -> dirserv_accept_descriptor()
 *   issuers         GET <issuer>/v1/pubkeys -> dirserv_add_issuer_keys() (the newest valid
 *                   key list per configured issuer, voted on in the issuer-keys section)
 *   every period    dirserv_build_vote()   -> POST /v1/vote to the other authorities
 *                   dirserv_compute_consensus() -> POST /v1/consensus-sig to the others
 *   clients         GET /v1/consensus (ETag / If-None-Match), GET /v1/desc/<hex digest>
 *   people/scripts  GET /v1/relays, /v1/authorities, /v1/peers.json (JSON)
 *   federation      GET /v1/peers (signed feed), GET /v1/descs, POST /v1/gossip/desc:
 *                   served by the attached federation core (dirfed.h), 404 without one
 *
 * Flags this authority assigns in its vote (documented rules, all from its own state):
 *   VALID    the relay's latest accepted descriptor is unexpired at valid_after;
 *   RUNNING  a link handshake with it succeeded (dirserv_reachability_set()) within
 *            running_window_s before valid_after;
 *   GUARD / MIDDLE / EXIT  the roles the descriptor requests (entry, middle, exit);
 *   STABLE   RUNNING, and first accepted at least stable_min_age_s before valid_after;
 *   FAST     measured bandwidth >= fast_min_bw;
 *   BONDED / DISPUTED  from the issuers' relay-trust feeds (dir_relay_trust.h): at least
 *            trust_threshold configured issuers report bond >= bond_min / an active dispute.
 * Measured bandwidth is min(advertised rate, self-observed rate) until the authority
 * measures relays itself.
 *
 * Everything accepted is durable once the call returns UM_OK (store.h): re-opening the same
 * database keeps descriptors, reachability, votes, consensuses, peers and issuer key lists.
 */
#ifndef UM_DIRECTORY_DIRSERV_H
#define UM_DIRECTORY_DIRSERV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "crypto/keys.h"
#include "evloop/http.h"
#include "store/store.h"
#include "directory/authority.h"
#include "directory/consensus.h"
#include "directory/descriptor.h"
#include "directory/dir_issuers.h"
#include "directory/dir_provider.h"
#include "directory/dir_relay_trust.h"
#include "directory/vote.h"

/* The Content-Type of a consensus diff (GET /v1/consensus/diff/<from>). */
#define DIRSERV_CDIFF_CONTENT_TYPE "application/x-umbra-consensus-diff"

enum dirserv_limits {
	DIRSERV_SOURCE_KEY_MAX = 128, /* longer source keys are refused (treated as one source) */
	DIRSERV_MAX_SOURCES_MAX = 1 << 20,
	DIRSERV_URL_MAX = 512,
	DIRSERV_ETAG_MAX = 128,
	DIRSERV_REASON_MAX = 64,
	/* POST /v1/consensus-sig body: digest | identity | signing_key | sig. */
	DIRSERV_SIG_MSG_LEN = DIR_DIGEST_LEN + CONS_SIG_ENTRY_LEN,
	DIRSERV_PATH_MAX = 256,
	DIRSERV_DIFF_CACHE = 4, /* diffs kept, from distinct bases */
	DIRSERV_KEEP_S = 86400, /* consensuses and votes kept this long after their period */
};

struct dirserv_config {
	/* Storage: an open store to share (borrowed; the schema is migrated into it), or a path
	 * (STORE_PATH_MEMORY for tests) that dirserv opens and owns. */
	struct store *store;
	const char *db_path;
	/* This authority: its keyring (certs[0] certifies signing) and the signing key (copied;
	 * the secret is duplicated into sodium memory and wiped on free). */
	const struct auth_keyring *keyring;
	const struct keys_ed25519 *signing;
	/* All authorities (this one included): identities whose votes and signatures count. */
	size_t n_authorities;
	const uint8_t (*authorities)[AUTHCERT_ID_LEN];
	/* Descriptor uploads. */
	size_t max_desc_len;    /* refused before parsing above this; <= RELAY_DESC_MAX_LEN */
	uint32_t rate_burst;    /* per-source token bucket: capacity */
	uint32_t rate_refill_s; /* one token back every rate_refill_s seconds */
	size_t max_sources;     /* bucket table size (least recently used evicted) */
	size_t max_vote_len;    /* POST /v1/vote cap; <= VOTE_MAX_LEN */
	/* Flag rules (see the top of this file). */
	uint64_t running_window_s;
	uint64_t stable_min_age_s;
	uint32_t fast_min_bw;
	/* Issuers whose key lists this authority takes and votes on ([directory] issuers):
	 * 0..DIR_MAX_ISSUERS distinct identities (copied), and the check of a key list against
	 * its issuer's identity, required when there are issuers. The directory cannot parse
	 * key lists (trust/ is above it), so the application supplies the check. */
	size_t n_issuers;
	const uint8_t (*issuers)[DIR_ISSUER_ID_LEN];
	dir_issuer_verify_fn *issuer_verify;
	void *issuer_verify_arg;
	/* Network parameters this authority votes (PROTOCOL.md 5.2; fill with dir_params_set(),
	 * copied): the consensus carries each one more than half of the voters list, at the
	 * median of their values. */
	struct dir_params params;
	/* Provider bindings (dir_provider.h, PROTOCOL.md 18.4): the application's checks of
	 * capability tokens and of stored bindings against the issuers' revocation feeds, and
	 * where fetched feeds go. All NULL: POST /v1/provider/relay/upsert answers 404. With
	 * require_provider (which needs them), a relay without a valid binding is refused at
	 * upload (403) and left out of the vote. */
	bool require_provider;
	dir_provider_verify_fn *provider_verify;
	dir_provider_check_fn *provider_check;
	dir_provider_feed_fn *provider_feed;
	void *provider_arg;
	/* Relay-trust feeds of the same issuers (PROTOCOL.md 19): their check (NULL: feeds are
	 * refused, no BONDED / DISPUTED), how many issuers must agree (0: a majority of the
	 * configured issuers, at least 1) and the bond that counts as bonded. */
	dir_rt_verify_fn *rt_verify;
	void *rt_verify_arg;
	size_t trust_threshold;
	uint64_t bond_min;
};

/* Fill cfg with defaults (everything but store/db_path, keys and authorities). */
void dirserv_config_defaults(struct dirserv_config *cfg);

struct dirserv;

/*
 * Open (or create) the authority's state. UM_ERR_INVALID for a bad config (why says what),
 * store_open()/store_migrate() errors otherwise. On success *out is owned by the caller.
 */
int dirserv_new(const struct dirserv_config *cfg, struct dirserv **out, char *why,
                size_t why_len) UM_WARN_UNUSED;
void dirserv_free_(struct dirserv *ds);
#define dirserv_free(ds) UM_FREE_AND_NULL(dirserv_free_, ds)

/* The outcome of an upload: err (um_err), the HTTP status to send and a short reason. */
struct dirserv_accept_result {
	int err;
	int http_status;                       /* 200, 400, 409, 413, 429 or 500 */
	const char *reason;                    /* static: "ok", "too large", "rate limited", ... */
	uint8_t digest[RELAY_DESC_DIGEST_LEN]; /* set when err is UM_OK */
	bool stored; /* UM_OK and newly stored (not already held): it is the relay's latest */
};

/*
 * Accept one uploaded descriptor from source_key (an opaque string naming the uploader,
 * e.g. its IPv4 /32 or IPv6 /64; NULL counts as ""). In order: size cap (UM_ERR_TOO_LARGE),
 * per-source token bucket (UM_ERR_RATELIMIT), relay_desc_parse_verify() at now_s
 * (MALFORMED, TRAILING, EXPIRED, AUTH), then storage: the same digest again is UM_OK
 * (idempotent); a descriptor published no later than the stored latest of its relay is
 * UM_ERR_STATE ("stale"). res (may be NULL) says why.
 */
int dirserv_accept_descriptor(struct dirserv *ds, const uint8_t *bytes, size_t len,
                              const char *source_key, uint64_t now_s,
                              struct dirserv_accept_result *res) UM_WARN_UNUSED;

/* ---- federation (dirfed.h); hop counts: docs/PROTOCOL.md 12.4 ---- */

struct dirfed;
struct peer_feed;

/*
 * Import a descriptor a peer directory held at hop count hops - 1 (so stored at hops), with
 * the checks of an upload: size cap, per-source token bucket when source_key is not NULL
 * (pulls we started pass NULL), relay_desc_parse_verify() at now_s, newest published wins.
 * A descriptor already held is UM_OK without a signature check (same digest, same bytes);
 * its stored hop count is lowered to hops if that is smaller. res (may be NULL) as above.
 */
int dirserv_import_descriptor(struct dirserv *ds, const uint8_t *bytes, size_t len, uint8_t hops,
                              const char *source_key, uint64_t now_s,
                              struct dirserv_accept_result *res) UM_WARN_UNUSED;
/* Attach (or, with NULL, detach) the federation core: its routes are served through
 * dirserv_handle() and it hears of every stored descriptor. fed is borrowed. */
void dirserv_set_fed(struct dirserv *ds, struct dirfed *fed);
/* Sign f (its fields but cert and sig filled) with our current signing key and certificate. */
int dirserv_sign_peer_feed(struct dirserv *ds, struct peer_feed *f) UM_WARN_UNUSED;
/* Each relay's latest descriptor expiring after now_s, in identity order, with its hop count. */
typedef int dirserv_current_fn(void *arg, const uint8_t *blob, size_t len, uint8_t hops);
int dirserv_foreach_current(struct dirserv *ds, uint64_t now_s, dirserv_current_fn *fn,
                            void *arg) UM_WARN_UNUSED;

/*
 * Take a key list fetched from the configured issuer `identity` (the body of its GET
 * /v1/pubkeys). In order: UM_ERR_NOT_FOUND for an issuer not configured, the size cap
 * (UM_ERR_TOO_LARGE over DIR_ISSUER_DOC_MAX_LEN), the application's check at now_s (its
 * error: UM_ERR_AUTH for a forged or wrongly signed list, ...), then the newest wins: the
 * bytes stored already are UM_OK with nothing changed; a sequence number lower than or
 * equal to the stored list's is UM_ERR_STATE (stale: the stored one stays). *seq (may be
 * NULL) is the list's sequence number once it verified; *stored (may be NULL) is whether it
 * became the issuer's stored list. Durable once it returns UM_OK; voted on from the next
 * dirserv_build_vote().
 */
int dirserv_add_issuer_keys(struct dirserv *ds, const uint8_t identity[DIR_ISSUER_ID_LEN],
                            const uint8_t *doc, size_t len, uint64_t now_s, uint64_t *seq,
                            bool *stored) UM_WARN_UNUSED;
/*
 * The stored key list of the issuer `identity` (a copy the caller frees) and its sequence
 * number: UM_OK or UM_ERR_NOT_FOUND (also for an issuer no longer configured).
 */
int dirserv_issuer_keys_get(struct dirserv *ds, const uint8_t identity[DIR_ISSUER_ID_LEN],
                            uint8_t **doc, size_t *len, uint64_t *seq) UM_WARN_UNUSED;

/* ---- provider bindings (dirserv_provider.c) ---- */

/*
 * Handle the body of POST /v1/provider/relay/upsert from source_key: per-source token bucket,
 * framing (dir_provider_upsert_parse: 400), the token and its proof of possession through
 * provider_verify (403, or 503 while no revocation feed of its issuer is held), the
 * descriptor's operator certificate must be by the token's pop_key (403: a provider can bind
 * only relays that name it as their operator), then the upload rules of
 * dirserv_accept_descriptor(); on success the binding relay -> (issuer, subject, key_epoch,
 * exp) is stored (durable). res as for uploads. UM_ERR_NOT_FOUND (404) without provider
 * checks configured.
 */
int dirserv_provider_upsert(struct dirserv *ds, const uint8_t *body, size_t len,
                            const char *source_key, uint64_t now_s,
                            struct dirserv_accept_result *res) UM_WARN_UNUSED;
/* Whether relay identity has a binding that holds at now_s (stored, unexpired, and
 * provider_check passes). */
bool dirserv_provider_bound(struct dirserv *ds, const uint8_t identity[RELAY_DESC_ID_LEN],
                            uint64_t now_s);
/* The stored binding of identity: UM_OK or UM_ERR_NOT_FOUND. */
int dirserv_provider_get(struct dirserv *ds, const uint8_t identity[RELAY_DESC_ID_LEN],
                         struct dir_provider_binding *out) UM_WARN_UNUSED;
/* Hand a fetched revocation feed of the configured issuer identity to provider_feed:
 * UM_ERR_NOT_FOUND for an issuer not configured or without provider checks. */
int dirserv_add_issuer_revocations(struct dirserv *ds, const uint8_t identity[DIR_ISSUER_ID_LEN],
                                   const uint8_t *doc, size_t len, uint64_t now_s,
                                   uint64_t *seq) UM_WARN_UNUSED;
/*
 * Take a relay-trust feed fetched from the configured issuer `identity` (the body of its GET
 * /v1/relaytrust). In order: UM_ERR_NOT_FOUND for an issuer not configured, UM_ERR_STATE
 * without a check (rt_verify), the size cap (UM_ERR_TOO_LARGE over DIR_RT_DOC_MAX_LEN), the
 * application's check at now_s (its error), UM_ERR_MALFORMED for signals out of order; then
 * the newest wins: a sequence number lower than the held feed's is UM_ERR_STATE, the same
 * one UM_OK with nothing changed. Held in memory (a restart starts empty and takes the
 * next valid feed); used by the next dirserv_build_vote() while unexpired at its
 * valid_after. *seq and *stored (may be NULL) as for dirserv_add_issuer_keys().
 */
int dirserv_add_relay_trust(struct dirserv *ds, const uint8_t identity[DIR_ISSUER_ID_LEN],
                            const uint8_t *doc, size_t len, uint64_t now_s, uint64_t *seq,
                            bool *stored) UM_WARN_UNUSED;
/* Whether relay-trust feeds are taken (the application supplied rt_verify). */
bool dirserv_has_relay_trust_check(const struct dirserv *ds);
/* The feed held for issuer `identity` (a view valid until the next call on ds), or NULL. */
const struct dir_rt_feed *dirserv_relay_trust_get(const struct dirserv *ds,
                                                  const uint8_t identity[DIR_ISSUER_ID_LEN]);

/* Record a successful link handshake with relay identity at when_s (keeps the newest). */
int dirserv_reachability_set(struct dirserv *ds, const uint8_t identity[RELAY_DESC_ID_LEN],
                             uint64_t when_s) UM_WARN_UNUSED;

/*
 * Build, sign and store this authority's vote for the period from the latest valid
 * descriptors (flags as documented above) and the stored key list of each configured
 * issuer. *out (vote_clear() it) owns its relays and blobs.
 */
int dirserv_build_vote(struct dirserv *ds, uint64_t valid_after_s, uint64_t fresh_until_s,
                       uint64_t valid_until_s, struct vote *out) UM_WARN_UNUSED;

/*
 * Store another authority's vote (the body of POST /v1/vote): size cap, vote_parse_verify()
 * at now_s, voter must be a configured authority (UM_ERR_AUTH otherwise). The same bytes
 * twice is UM_OK; a different vote by the same voter for the same period is UM_ERR_EXISTS.
 */
int dirserv_add_vote(struct dirserv *ds, const uint8_t *bytes, size_t len,
                     uint64_t now_s) UM_WARN_UNUSED;

/*
 * Compute the consensus for the period from the stored votes (own + received, re-verified
 * at now_s), with n_authorities_total = the configured authorities; sign it with our key and
 * store it (signatures already held for the same document are kept). UM_ERR_STATE on a split
 * (no quorum): nothing changes and the previous consensus stays served.
 */
int dirserv_compute_consensus(struct dirserv *ds, uint64_t valid_after_s, uint64_t fresh_until_s,
                              uint64_t valid_until_s, uint64_t now_s) UM_WARN_UNUSED;

/*
 * Our detached signature over the stored consensus with digest `digest`, encoded as the body
 * of POST /v1/consensus-sig (DIRSERV_SIG_MSG_LEN bytes). UM_ERR_NOT_FOUND without it.
 */
int dirserv_consensus_sig_encode(struct dirserv *ds, const uint8_t digest[DIR_DIGEST_LEN],
                                 uint8_t out[DIRSERV_SIG_MSG_LEN]) UM_WARN_UNUSED;
/*
 * Attach another authority's signature (the body of POST /v1/consensus-sig) to the stored
 * consensus it names: UM_ERR_NOT_FOUND if we hold no such consensus, UM_ERR_AUTH if the
 * signer is not a configured authority, its certificate (from the consensus's authority
 * list or our keyring) is not valid at now_s, or the signature does not verify.
 */
int dirserv_add_consensus_sig(struct dirserv *ds, const uint8_t *bytes, size_t len,
                              uint64_t now_s) UM_WARN_UNUSED;

/* Whether we hold a vote for the period valid_after_s from every configured authority. */
bool dirserv_all_votes_held(struct dirserv *ds, uint64_t valid_after_s);

/* Whether we hold a consensus still valid at now_s (valid_until after it). */
bool dirserv_has_live_consensus(const struct dirserv *ds, uint64_t now_s);

/* The latest stored consensus (highest valid_after): a view valid until the next call that
 * changes ds, or UM_ERR_NOT_FOUND. */
int dirserv_latest_consensus(struct dirserv *ds, const uint8_t **bytes, size_t *len,
                             uint8_t digest[DIR_DIGEST_LEN]) UM_WARN_UNUSED;

/*
 * Switch to a rotated signing key: keyring->certs[0] must certify signing (both copied;
 * the previous certificates stay known, so signatures by previous keys still verify).
 * UM_ERR_INVALID when they do not match or the identity changed.
 */
int dirserv_set_keys(struct dirserv *ds, const struct auth_keyring *keyring,
                     const struct keys_ed25519 *signing) UM_WARN_UNUSED;

/*
 * A diff (consensus_diff.h) from the stored consensus `from` to the latest one: a view valid
 * until the next call that changes ds. UM_ERR_EXISTS when `from` is the latest (nothing to
 * send), UM_ERR_NOT_FOUND when there is no latest or `from` is not stored (send the whole
 * document). Recent diffs are cached, so serving many clients costs one computation.
 */
int dirserv_consensus_diff(struct dirserv *ds, const uint8_t from[DIR_DIGEST_LEN],
                           const uint8_t **bytes, size_t *len) UM_WARN_UNUSED;

/*
 * Handle one HTTP request: routing, caps and replies (see the top of this file). Never
 * fails: resp gets a status in 200..599 (304 included) and, except for 304, a body
 * (JSON for every error: {"error": reason}). resp->body and resp->etag are malloc'd.
 */
void dirserv_handle(struct dirserv *ds, const char *method, const char *path,
                    const char *if_none_match, const uint8_t *body, size_t len,
                    const char *source_key, uint64_t now_s, struct ev_http_resp *resp);

/*
 * The JSON of GET /v1/relays for consensus c (NULL: none): {"consensus": {digest,
 * valid_after, fresh_until, valid_until, signatures} or null, "relays": [{id, digest,
 * nickname, roles, flags, addrs, country, region, operator, bandwidth, geo_confidence,
 * scores}]}. A new NUL-terminated string the caller frees, or NULL if encoding failed.
 */
char *dirserv_relays_json(const struct consensus *c);

#endif /* UM_DIRECTORY_DIRSERV_H */
