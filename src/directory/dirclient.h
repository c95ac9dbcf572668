/* SPDX-License-Identifier: MIT */
/*
 * The client side of the directory (docs/PROTOCOL.md 5.6, issue #3 "Clients and relays"):
 * fetch the consensus from several directories, accept it only with a threshold of valid
 * signatures from pinned authority identities, newer than the current one and served by at
 * least min_sources distinct directories; cache it in the store and fall back to the cache
 * while it is valid; pin authorities strictly (configuration, `umbra dir pin URL`) or on
 * first use (TOFU: the identities a directory publishes at /v1/authorities are pinned once a
 * consensus verifies under them).
 *
 * dirclient.c is the sans-I/O core: it takes responses and "now" (wall-clock seconds) and
 * says what to fetch next. dirclient_io.c drives it with the loop's HTTP client. Everything
 * runs on the loop thread.
 *
 * /v1/authorities JSON (what this client reads):
 *   { "authorities": [ { "identity": "<52 base32>",
 *                        "certs": [ { "cert": "<290 hex: authcert>", ... }, ... ] } ] }
 * (what dirserv serves; other members, e.g. "self", "signing_key", are ignored)
 * 1..CONS_MAX_AUTHORITIES entries with distinct identities; "certs" optional (at most
 * AUTH_KEYRING_MAX, each certified by that identity); other members are ignored.
 */
#ifndef UM_DIRECTORY_DIRCLIENT_H
#define UM_DIRECTORY_DIRCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "evloop/evloop.h"
#include "store/store.h"
#include "directory/authority.h"
#include "directory/consensus.h"

enum dirclient_limits {
	DIRCLIENT_MAX_SOURCES = 16,
	DIRCLIENT_URL_MAX_LEN = 200,       /* a directory's base URL, "http://ip:port" */
	DIRCLIENT_ETAG_MAX_LEN = 80,       /* a quoted 64-hex digest, with room */
	DIRCLIENT_ERROR_LEN = 200,         /* one source's last error */
	DIRCLIENT_MESSAGE_LEN = 2048,      /* the overall status message */
	DIRCLIENT_MAX_BODY = 32 << 20,     /* consensus body cap */
	DIRCLIENT_AUTH_MAX_BODY = 1 << 20, /* /v1/authorities body cap */
	DIRCLIENT_MAX_CERTS = CONS_MAX_AUTHORITIES * AUTH_KEYRING_MAX,
	DIRCLIENT_FETCH_TIMEOUT_MS = 60000,
	DIRCLIENT_BACKOFF_MIN_S = 10,       /* first retry after a failure: [min/2, min] */
	DIRCLIENT_BACKOFF_MAX_S = 1800,     /* doubling up to this */
	DIRCLIENT_BOOTSTRAP_TRIES = 120,    /* "no consensus yet" (404): retry every second */
	DIRCLIENT_THIN_RELAYS = 3,          /* fewer Running relays: ...                      */
	DIRCLIENT_THIN_TRIES = 120,         /* ... no path: ask every second, this many times */
	DIRCLIENT_REFETCH_S = 120,          /* past fresh_until and nothing newer: ask again */
	DIRCLIENT_FRESH_JITTER_MAX_S = 600, /* spread fetches after fresh_until */
};

enum dirclient_pin_mode {
	DIRCLIENT_PIN_STRICT = 0, /* pins from configuration, a trusted-keys file or the store */
	DIRCLIENT_PIN_TOFU = 1,   /* no pins yet: pin what the first verified consensus used */
};

/* Uniform in [0, upper) (upper >= 1); a seam for tests. */
typedef uint32_t dirclient_rand_fn(void *arg, uint32_t upper);

struct dirclient_config {
	const char *const *urls; /* 1..DIRCLIENT_MAX_SOURCES base URLs "http://ip:port" */
	size_t n_urls;
	enum dirclient_pin_mode pin_mode;
	/* Configured pins (strict). If none, the pins in the store are used; in TOFU mode with
	 * no pins anywhere, pins are learned. */
	const uint8_t (*pins)[AUTHCERT_ID_LEN];
	size_t n_pins;
	size_t threshold;        /* 0: floor(n_pins / 2) + 1 */
	size_t min_sources;      /* 0 or 1: one directory suffices */
	struct store *store;     /* borrowed, must outlive the client; schema "dirclient" */
	dirclient_rand_fn *rand; /* NULL: crypto rand_uniform() */
	void *rand_arg;
};

struct dirclient;

/*
 * Return in *out a new client the caller owns (free with dirclient_free()). Loads pins,
 * cached certificates, per-source state and the cached consensus from cfg->store (migrating
 * schema "dirclient"); the cached consensus becomes the current one if it still verifies at
 * now_s. UM_ERR_CONFIG (why says what) for bad URLs, counts, duplicate pins, a threshold over
 * the pins, or strict mode without pins; UM_ERR_DB and friends from the store.
 */
int dirclient_new(const struct dirclient_config *cfg, uint64_t now_s, struct dirclient **out,
                  char *why, size_t why_len) UM_WARN_UNUSED;
void dirclient_free_(struct dirclient *dc);
#define dirclient_free(dc) UM_FREE_AND_NULL(dirclient_free_, dc)

/* ---- sans-I/O driving ---- */

enum dirclient_fetch_kind {
	DIRCLIENT_FETCH_CONSENSUS = 0,   /* GET <url>/v1/consensus, or .../diff/<ours> */
	DIRCLIENT_FETCH_AUTHORITIES = 1, /* GET <url>/v1/authorities (TOFU before pinning) */
};

struct dirclient_fetch {
	size_t src;
	enum dirclient_fetch_kind kind;
	const char *url;           /* full URL; owned by the client, valid until dirclient_free() */
	const char *if_none_match; /* NULL or the ETag to send; valid until the answer is handled */
};

/*
 * Fill out[] (up to max) with the fetches due at now_s and mark them in flight: every source
 * at start; then, per source, once the current consensus is past its fresh_until (plus a
 * jitter), or its backoff after a failure ran out. Returns the number filled.
 */
size_t dirclient_due(struct dirclient *dc, uint64_t now_s, struct dirclient_fetch *out, size_t max);
/* When dirclient_due() has something next (UINT64_MAX: only answers in flight). */
uint64_t dirclient_next_wakeup_s(const struct dirclient *dc);

/* What came back for a fetch. */
struct dirclient_response {
	int err;       /* UM_OK: a complete HTTP response; else a transport error */
	int sys_errno; /* with UM_ERR_SYS */
	int status;    /* HTTP status */
	const uint8_t *body;
	size_t body_len;
	const char *etag;         /* the ETag header or NULL */
	const char *content_type; /* the Content-Type header or NULL */
};

/*
 * Handle the answer to a fetch of kind from source src (it must be in flight). Returns UM_OK
 * when the answer was usable (a verified consensus, a 304, authorities learned), else why it
 * was not (UM_ERR_SYS/TIMEOUT/... transport, UM_ERR_PROTOCOL unexpected status,
 * UM_ERR_MALFORMED, UM_ERR_EXPIRED, UM_ERR_AUTH); the source's error text says more and it
 * backs off. *accepted is set when a new consensus became current (and was cached).
 */
int dirclient_handle(struct dirclient *dc, size_t src, enum dirclient_fetch_kind kind,
                     uint64_t now_s, const struct dirclient_response *r,
                     bool *accepted) UM_WARN_UNUSED;

/*
 * The current consensus if it is valid at now_s, else NULL (see dirclient_status() for why).
 * Valid until the next dirclient_handle() or dirclient_free(). body/len, if not NULL,
 * receive its encoded bytes (same lifetime).
 */
const struct consensus *dirclient_consensus(const struct dirclient *dc, uint64_t now_s,
                                            const uint8_t **body, size_t *len);

/* ---- status, for `umbra dir status` ---- */

struct dirclient_source_status {
	char url[DIRCLIENT_URL_MAX_LEN];
	int last_err;  /* UM_OK, or the error of the last attempt */
	int last_http; /* HTTP status of the last answer, 0 if none */
	uint64_t last_attempt_s, last_success_s, next_fetch_s; /* 0: never */
	char etag[DIRCLIENT_ETAG_MAX_LEN]; /* what it last served us ("" if nothing) */
	char error[DIRCLIENT_ERROR_LEN];   /* "" after a success */
};

struct dirclient_status {
	bool valid;      /* a consensus valid at now_s is current */
	bool from_cache; /* it was loaded from the store at start */
	uint64_t age_s;  /* now - valid_after */
	uint64_t valid_after_s, fresh_until_s, valid_until_s;
	uint8_t digest[DIR_DIGEST_LEN];
	size_t n_relays;
	enum dirclient_pin_mode pin_mode;
	bool pinned; /* false only in TOFU mode before the first pin */
	size_t threshold, n_pins;
	/* Per pinned authority, its signature on the current consensus. */
	struct {
		uint8_t identity[AUTHCERT_ID_LEN];
		enum cons_auth_status status; /* cons_auth_status_str() gives the reason */
	} sigs[CONS_MAX_AUTHORITIES];
	size_t n_sources;
	struct dirclient_source_status sources[DIRCLIENT_MAX_SOURCES];
	/* "" when valid; else "no valid consensus: cached one expired at ...; directories
	 * unreachable: ..." or "consensus signed by authorities we do not trust: ...". */
	char message[DIRCLIENT_MESSAGE_LEN];
};

/* Fill st (about 10 KiB: put it on the heap) with the state at now_s. */
void dirclient_status(const struct dirclient *dc, uint64_t now_s, struct dirclient_status *st);

/* ---- pins ---- */

/* The authorities a directory publishes (parsed /v1/authorities). */
struct dirclient_authorities {
	size_t n;
	uint8_t ids[CONS_MAX_AUTHORITIES][AUTHCERT_ID_LEN];
	size_t n_certs;
	struct auth_cert certs[DIRCLIENT_MAX_CERTS];
};

/*
 * Parse a /v1/authorities body strictly (format above): UM_ERR_MALFORMED for anything else
 * (not JSON, duplicate keys, wrong types, bad hex, duplicate identity, a certificate that is
 * malformed or for another identity), UM_ERR_TOO_LARGE for counts over the caps. Certificate
 * signatures are checked later, at use. *out is written only on success.
 */
int dirclient_authorities_parse(const uint8_t *body, size_t len,
                                struct dirclient_authorities *out) UM_WARN_UNUSED;

/*
 * Store a's identities as pins (and its certificates in the cache), origin naming where
 * they came from (a URL). *n_new receives how many were not pinned before. One transaction.
 */
int dirclient_pins_save(struct store *st, const struct dirclient_authorities *a, const char *origin,
                        uint64_t now_s, size_t *n_new) UM_WARN_UNUSED;

/* The store schema of this module (for tools that open the store themselves). */
extern const struct store_schema dirclient_schema;

/* ---- I/O (dirclient_io.c) ---- */

struct dirclient_io;
/* A new consensus was accepted (c valid during the call). */
typedef void dirclient_accepted_fn(void *arg, const struct consensus *c);

/*
 * Return a new driver of dc on loop (both borrowed; they must outlive it), which the caller
 * owns and frees with dirclient_io_free(). Nothing happens until dirclient_io_start().
 */
struct dirclient_io *dirclient_io_new(struct ev_loop *loop, struct dirclient *dc,
                                      dirclient_accepted_fn *cb, void *arg);
/* Fetch what is due now, then keep following dirclient_next_wakeup_s(). */
void dirclient_io_start(struct dirclient_io *io);
/* Cancel fetches in flight and the timer. */
void dirclient_io_stop(struct dirclient_io *io);
void dirclient_io_free_(struct dirclient_io *io);
#define dirclient_io_free(io) UM_FREE_AND_NULL(dirclient_io_free_, io)

/* The outcome of dirclient_pin_url(). */
struct dirclient_pin_report {
	int err;      /* UM_OK, or why nothing was pinned */
	size_t n;     /* identities the directory published (all pinned on UM_OK) */
	size_t n_new; /* of which were not pinned before */
	uint8_t ids[CONS_MAX_AUTHORITIES][AUTHCERT_ID_LEN];
	char message[DIRCLIENT_MESSAGE_LEN]; /* a sentence for the user */
};
typedef void dirclient_pin_done_fn(void *arg, const struct dirclient_pin_report *rep);

/*
 * `umbra dir pin URL`: fetch <url>/v1/authorities, parse it strictly and store its
 * identities as pins in st (borrowed, must outlive the call); cb runs once, from the loop,
 * with the report. UM_ERR_INVALID for a URL the HTTP client refuses (no callback then).
 */
int dirclient_pin_url(struct ev_loop *loop, struct store *st, const char *url, uint64_t timeout_ms,
                      dirclient_pin_done_fn *cb, void *arg) UM_WARN_UNUSED;

#endif /* UM_DIRECTORY_DIRCLIENT_H */
