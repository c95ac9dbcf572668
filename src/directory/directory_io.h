/* SPDX-License-Identifier: MIT */
/*
 * The directory's I/O (issue #3): the only directory code besides dirclient_io.c that
 * touches the event loop. Two drivers around the sans-I/O cores:
 *
 *   struct dirauth_io   the authority role: serves dirserv_handle() over HTTP on TCP, runs
 *                       the voting schedule with the other authorities, and tests relays'
 *                       reachability with real link handshakes;
 *   struct dirrelay_io  the relay role: builds and signs this relay's descriptor and uploads
 *                       it to every authority at start, on change and before it expires.
 *
 * Clients (every node with [directory] authorities) use dirclient_io (dirclient.h).
 *
 * Voting schedule, for an interval P (seconds) and each period start T (a multiple of P in
 * unix time): at T - P/2 build our vote (dirserv_build_vote) and POST it to every other
 * authority (/v1/vote); at T - P/4 GET the others' votes (/v1/vote/<T>) in case theirs did
 * not reach us; at T compute the consensus (valid_after T, fresh_until T + P, valid_until
 * T + 3P) and POST our signature (/v1/consensus-sig) to the others; POST it again at
 * T + P/8 and T + P/4 for authorities that computed later than us. A split (no quorum of
 * votes) produces nothing: the previous consensus stays served until it expires.
 *
 * Issuer key lists: at start, then every dirauth_issuer_every_s(P), GET <issuer>/v1/pubkeys
 * from each configured issuer and hand the body to dirserv_add_issuer_keys() (verified
 * there against the pinned identity; the newest sequence number wins); a fetch that fails
 * (unreachable, not HTTP 200) is retried after DIRIO_ISSUER_RETRY_S, a list refused is not
 * asked for again before the usual time. Our next vote carries the newest list held.
 * Relay-trust feeds: likewise GET <issuer>/v1/relaytrust every dirauth_relaytrust_every_s(P)
 * into dirserv_add_relay_trust() (when the application supplied their check); our next
 * vote's BONDED / DISPUTED flags come from the newest feed held per issuer.
 *
 * Everything runs on the loop thread.
 */
#ifndef UM_DIRECTORY_DIRECTORY_IO_H
#define UM_DIRECTORY_DIRECTORY_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "crypto/keys.h"
#include "evloop/evloop.h"
#include "link/handshake.h"
#include "link/link.h"
#include "directory/descriptor.h"
#include "directory/dirserv.h"

enum directory_io_limits {
	DIRIO_MAX_LISTEN = 8,
	DIRIO_MAX_AUTHORITIES = 16,
	DIRIO_HTTP_BACKLOG = 128,
	DIRIO_HTTP_MAX_BODY = 16 << 20,    /* votes; dirserv applies tighter caps per route */
	DIRIO_FETCH_TIMEOUT_MS = 20000,    /* one vote, signature or descriptor exchange */
	DIRIO_REACH_MAX_PROBES = 256,      /* handshakes started per reachability round */
	DIRIO_REACH_TIMEOUT_S = 15,        /* a probe not open by then failed */
	DIRIO_REACH_EVERY_MAX_S = 300,     /* reachability rounds: min(P/2, this) apart */
	DIRIO_DESC_REPUBLISH_S = 6 * 3600, /* new descriptor this often (lifetime 18 h) */
	DIRIO_UPLOAD_RETRY_MIN_S = 5,      /* failed upload: retry after this, doubling */
	DIRIO_UPLOAD_RETRY_FIRST_S = 1,    /* ... but the first unreachable: after this */
	DIRIO_UPLOAD_RETRY_MAX_S = 600,
	DIRIO_ISSUER_EVERY_MIN_S = 5,     /* issuer key lists: every max(P/2, this) */
	DIRIO_ISSUER_RETRY_S = 5,         /* ... and this soon again after a failed fetch */
	DIRIO_REVS_EVERY_MIN_S = 5,       /* revocation feeds: every max(P/4, this) */
	DIRIO_REVS_MAX_LEN = 64 * 1024,   /* a revocation feed is at most ~17.4 KB */
	DIRIO_RELAYTRUST_EVERY_MIN_S = 2, /* relay-trust feeds: every max(P/4, this) */
};

/* ---- schedule (pure; unit-tested) ---- */

/* The times of one voting period, unix seconds. */
struct dirauth_period {
	uint64_t valid_after_s; /* T */
	uint64_t fresh_until_s; /* T + P */
	uint64_t valid_until_s; /* T + 3P */
	uint64_t vote_at_s;     /* T - P/2 */
	uint64_t fetch_at_s;    /* T - P/4 */
	uint64_t compute_at_s;  /* T */
	uint64_t resign1_at_s;  /* T + max(P/8, 1) */
	uint64_t resign2_at_s;  /* T + max(P/4, 2) */
};

/*
 * The next period to vote for at now_s: T is the first multiple of interval_s after now_s.
 * interval_s must be >= 2.
 */
void dirauth_period_next(uint64_t now_s, uint64_t interval_s, struct dirauth_period *out);
/* How often an authority fetches each issuer's key list: max(interval_s / 2, 30 s). */
uint64_t dirauth_issuer_every_s(uint64_t interval_s);
/* How often an authority with provider checks fetches each issuer's revocation feed:
 * max(interval_s / 4, 5 s), so a revoked provider drops out at the next vote. */
uint64_t dirauth_revs_every_s(uint64_t interval_s);
/* ... and its relay-trust feed: max(interval_s / 4, 2 s), so a dispute reaches the next
 * vote (feeds are small and the issuer re-signs only on change). */
uint64_t dirauth_relaytrust_every_s(uint64_t interval_s);

/* ---- the authority role ---- */

struct dirauth_io_config {
	struct dirserv *ds;           /* borrowed: must outlive the driver */
	struct link_mgr *links;       /* borrowed; NULL: no reachability tests (no RUNNING flag) */
	const char *const *listen;    /* "host:port" (port 0: any free port) */
	size_t n_listen;              /* 1..DIRIO_MAX_LISTEN */
	uint64_t vote_interval_s;     /* >= 2 */
	const char *const *peer_urls; /* the other authorities' base URLs "http://ip:port" */
	size_t n_peers;               /* 0..DIRIO_MAX_AUTHORITIES - 1 */
	/* Issuers to fetch key lists from: identities (the issuers configured in ds) and base
	 * URLs "http://ip:port", n_issuers <= DIR_MAX_ISSUERS; copied. */
	size_t n_issuers;
	const uint8_t (*issuer_ids)[DIR_ISSUER_ID_LEN];
	const char *const *issuer_urls;
	/* Also fetch each issuer's GET /v1/revocations every dirauth_revs_every_s() and hand it
	 * to dirserv_add_issuer_revocations() (provider bindings). */
	bool fetch_revocations;
	/* Called once per period after our last signature went out and before the next vote:
	 * the moment to rotate the signing key (every document of a period then uses one key).
	 * May be NULL. */
	void (*on_period_end)(void *arg, uint64_t now_s);
	void *arg;
};

struct dirauth_io;

/*
 * Listen on every address (ev_tcp_listen_fd + ev_http_new) and return a new driver in *out,
 * which the caller owns and frees with dirauth_io_free(). Nothing is scheduled until
 * dirauth_io_start(). UM_ERR_INVALID for a bad config, UM_ERR_SYS when an address cannot be
 * bound; why says which.
 */
int dirauth_io_new(struct ev_loop *loop, const struct dirauth_io_config *cfg,
                   struct dirauth_io **out, char *why, size_t why_len) UM_WARN_UNUSED;
/* The i-th bound address ("127.0.0.1:8080", port resolved), or NULL past the end. */
const char *dirauth_io_bound(const struct dirauth_io *io, size_t i);
/* Start the voting schedule and the reachability rounds. */
void dirauth_io_start(struct dirauth_io *io);
/* Stop serving and cancel every exchange in flight. */
void dirauth_io_free_(struct dirauth_io *io);
#define dirauth_io_free(io) UM_FREE_AND_NULL(dirauth_io_free_, io)

/* ---- the relay role ---- */

struct dirrelay_io_config {
	/* Every field but published, expires, the link certificate and the signatures; copied.
	 * identity, link_key and the rest must already follow the descriptor's rules. */
	const struct relay_desc *tmpl;
	const struct keys_ed25519 *identity; /* borrowed: signs the descriptor */
	const struct keys_ed25519 *op;       /* borrowed, or NULL: no operator certificate */
	const struct link_identity *li;      /* borrowed: its current link certificate is used */
	const char *const *urls;             /* authorities' base URLs, 1..DIRIO_MAX_AUTHORITIES */
	size_t n_urls;
	/*
	 * Provider upsert (PROTOCOL.md 18.4), or NULL: plain POST /v1/desc. When set, each
	 * authority gets POST /v1/provider/relay/upsert with the body upsert() makes (a new
	 * buffer the uploader frees) for the descriptor and that authority's identity (ids[i],
	 * needed then). upsert() returns UM_ERR_STATE while it holds no capability token yet
	 * (the upload is tried again a second later, not counted as a failure).
	 */
	int (*upsert)(void *arg, const uint8_t authority[32], const uint8_t *desc, size_t len,
	              uint64_t now_s, uint8_t **body, size_t *body_len);
	void *upsert_arg;
	const uint8_t (*ids)[32];
};

struct dirrelay_io;

/*
 * Return a new uploader in *out (caller frees with dirrelay_io_free()); UM_ERR_INVALID (why
 * says what) if the template does not make a valid descriptor. Borrowed pointers must
 * outlive it.
 */
int dirrelay_io_new(struct ev_loop *loop, const struct dirrelay_io_config *cfg,
                    struct dirrelay_io **out, char *why, size_t why_len) UM_WARN_UNUSED;
/* Publish now and keep the descriptor uploaded (republished every DIRIO_DESC_REPUBLISH_S). */
void dirrelay_io_start(struct dirrelay_io *io);
/*
 * Replace the template (SIGHUP); a changed descriptor is published at once. UM_ERR_INVALID
 * (the old template is kept) if it does not make a valid descriptor.
 */
int dirrelay_io_update(struct dirrelay_io *io, const struct relay_desc *tmpl, char *why,
                       size_t why_len) UM_WARN_UNUSED;
/* Uploads that succeeded for the current descriptor (for status and tests). */
size_t dirrelay_io_n_uploaded(const struct dirrelay_io *io);
void dirrelay_io_free_(struct dirrelay_io *io);
#define dirrelay_io_free(io) UM_FREE_AND_NULL(dirrelay_io_free_, io)

#endif /* UM_DIRECTORY_DIRECTORY_IO_H */
