/* SPDX-License-Identifier: MIT */
/*
 * Directory federation, sans-I/O (docs/PROTOCOL.md section 12): directories exchange the
 * relay descriptors they hold, so a relay that uploaded to one directory is known to all.
 * Descriptors are self-signed by their relay, so a directory imports them from any peer
 * without trusting it: each import runs the upload checks (dirserv_import_descriptor()).
 *
 *   pull sync    every sync interval, GET /v1/descs from each admitted peer with
 *                If-None-Match (304 when nothing changed); import what is new or newer.
 *   push gossip  a newly stored descriptor (upload or import) is pushed to `fanout`
 *                randomly chosen admitted peers: POST /v1/gossip/desc, body hops | desc.
 *                Receivers re-push only what was new to them; a seen-set stops loops.
 *   hop limit    an upload is stored at hop 0; an import of a descriptor a peer holds at
 *                hop h is stored at h + 1, and refused when h + 1 > max_hops.
 *   discovery    GET /v1/peers of every trusted peer (seeds, and admitted peers) returns a
 *                signed peer feed. A peer listed there is a candidate; it is admitted (used
 *                for sync and gossip) once feeds of at least min_operators distinct operators
 *                list it, counting only feeds of peers that are themselves trusted: the
 *                admitted set is the least fixpoint grown from the seeds, so peers vouching
 *                for each other without a seed-grounded path are never admitted.
 *
 * Wire formats: the peer feed (struct peer_feed, dirfed_parse.c) and the descriptor bundle
 * (struct desc_bundle). The core (struct dirfed, dirfed.c) keeps the peer set, the gossip
 * outbox and the seen-set, decides what to fetch or push next (dirfed_next_action()) and
 * takes the outcomes back (dirfed_*_done()); dirfed_io.h moves the bytes. HTTP routes are
 * served through dirserv_handle() (dirfed_handle()). Everything runs on the loop thread.
 */
#ifndef UM_DIRECTORY_DIRFED_H
#define UM_DIRECTORY_DIRFED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "lib/wire.h"
#include "crypto/keys.h"
#include "evloop/http.h"
#include "directory/authority.h"
#include "directory/descriptor.h"
#include "directory/dirserv.h"

enum dirfed_limits {
	/* Peer feed (PROTOCOL.md 12.1). */
	PEER_FEED_VERSION = 1,
	PEER_FEED_LABEL_LEN = 18, /* "umbra-peerfeed-v1" and its NUL */
	PEER_FEED_MAX_PEERS = 64, /* entries in one feed */
	PEER_FEED_URL_MAX = 64,   /* "http://[IPv6]:port" */
	PEER_FEED_LIFETIME_MAX_S = 86400,
	PEER_FEED_CLOCK_SKEW_S = 3600,
	PEER_FEED_ENTRY_MAX_LEN = 32 + 32 + 1 + PEER_FEED_URL_MAX,
	PEER_FEED_BODY_MAX_LEN =
	        1 + AUTHCERT_LEN + 32 + 8 + 8 + 1 + PEER_FEED_MAX_PEERS * PEER_FEED_ENTRY_MAX_LEN,
	PEER_FEED_MAX_LEN = PEER_FEED_BODY_MAX_LEN + 64, /* 8515 */
	/* Descriptor bundle (PROTOCOL.md 12.2). */
	DESC_BUNDLE_VERSION = 1,
	DESC_BUNDLE_MAX_DESCS = 8192,
	DESC_BUNDLE_MAX_HOPS = 16, /* a hop count above this is MALFORMED */
	DESC_BUNDLE_ENTRY_MAX_LEN = 1 + 2 + RELAY_DESC_MAX_LEN,
	DESC_BUNDLE_MAX_LEN = 1 + 4 + DESC_BUNDLE_MAX_DESCS * DESC_BUNDLE_ENTRY_MAX_LEN,
	/* Gossip push (PROTOCOL.md 12.3): hops [1] | descriptor. */
	DIRFED_GOSSIP_MAX_LEN = 1 + RELAY_DESC_MAX_LEN,
	/* The core. */
	DIRFED_MAX_SEEDS = 16,
	DIRFED_DISCOVERY_MAX = 256, /* cap of discovery_max */
	DIRFED_SIGHTINGS_MAX = 16,  /* distinct listers remembered per peer */
	DIRFED_MAX_FANOUT = 16,
	DIRFED_OUTBOX_MAX = 256,       /* descriptors waiting to be pushed */
	DIRFED_SEEN_MAX = 16384,       /* seen-set: digests remembered */
	DIRFED_MAX_INFLIGHT = 32,      /* exchanges in flight at once */
	DIRFED_VERIFY_PER_SYNC = 4096, /* descriptors verified from one bundle */
	DIRFED_ETAG_MAX = 80,
	DIRFED_BACKOFF_MAX_S = 300,
	DIRFED_FEED_LIFETIME_S = 600, /* our feed's expires - published */
	DIRFED_FEED_REFRESH_S = 60,   /* our feed is re-signed at least this often */
	DIRFED_BUNDLE_REFRESH_S = 30, /* our bundle is rebuilt at least this often */
	DIRFED_ERROR_LEN = 96,
};

/* ---- the peer feed (dirfed_parse.c, dirfed.c) ---- */

struct peer_feed_entry {
	uint8_t identity[32]; /* the peer directory's authority identity */
	uint8_t operator_id[32];
	char url[PEER_FEED_URL_MAX + 1]; /* "http://ip:port" or "http://[ipv6]:port" */
};

struct peer_feed {
	uint8_t version;       /* PEER_FEED_VERSION */
	struct auth_cert cert; /* the signer: its identity certifies the signing key */
	uint8_t operator_id[32];
	uint64_t published_s;
	uint64_t expires_s; /* published < expires <= published + PEER_FEED_LIFETIME_MAX_S */
	uint8_t n_peers;    /* <= PEER_FEED_MAX_PEERS, strictly ascending by identity */
	struct peer_feed_entry peers[PEER_FEED_MAX_PEERS];
	uint8_t sig[64];
};

/* True for "http://a.b.c.d:port" or "http://[v6]:port" (numeric, port 1..65535 without
 * leading zeros), at most PEER_FEED_URL_MAX bytes, no NUL. */
bool peer_feed_url_is_valid(const char *s, size_t len);
/*
 * Parse a feed (no signature or clock check). Returns the bytes consumed, UM_ERR_TRUNCATED
 * for every strict prefix of a valid feed, UM_ERR_MALFORMED for a broken rule (PROTOCOL.md
 * 6.1). *out is written only on success.
 */
ssize_t peer_feed_parse(const uint8_t *in, size_t len, struct peer_feed *out) UM_WARN_UNUSED;
/* Append the encoding (signature included); UM_ERR_INVALID for a rule broken,
 * UM_ERR_TOO_LARGE when w is full. Nothing is left appended on failure. */
int peer_feed_encode(const struct peer_feed *f, struct wire_wr *w) UM_WARN_UNUSED;
/* Sign f with signing_key, whose certificate cert (copied into f) names it. */
int peer_feed_sign(struct peer_feed *f, const struct auth_cert *cert,
                   const struct keys_ed25519 *signing_key) UM_WARN_UNUSED;
/*
 * The whole-message check of a feed fetched from the peer whose identity we know: at most
 * PEER_FEED_MAX_LEN bytes, parses with no trailing bytes, cert.identity == identity
 * (UM_ERR_AUTH), the certificate is valid at now_s and the signature verifies (UM_ERR_AUTH),
 * published_s <= now_s + skew and now_s < expires_s (UM_ERR_EXPIRED).
 */
int peer_feed_parse_verify(const uint8_t *in, size_t len, const uint8_t identity[32],
                           uint64_t now_s, struct peer_feed *out) UM_WARN_UNUSED;

/* ---- the descriptor bundle (dirfed_parse.c) ---- */

struct desc_bundle_entry {
	uint8_t hops;
	const uint8_t *desc; /* a view into the parsed input */
	size_t len;
};

struct desc_bundle {
	uint8_t version;
	size_t n;
	struct desc_bundle_entry *e; /* malloc'd; desc_bundle_clear() frees */
};

void desc_bundle_init(struct desc_bundle *b);
void desc_bundle_clear(struct desc_bundle *b);
/*
 * Parse a bundle. Each descriptor is parsed (relay_desc_parse, no signature or clock check)
 * and must fill its len exactly; entries strictly ascending by relay identity. Returns the
 * bytes consumed, UM_ERR_TRUNCATED, UM_ERR_MALFORMED; the views in *out live as long as in.
 * *out is written only on success (desc_bundle_clear() it then).
 */
ssize_t desc_bundle_parse(const uint8_t *in, size_t len, struct desc_bundle *out) UM_WARN_UNUSED;
/*
 * Encode b's entries, sorted by relay identity whatever their order in b (so the bytes, and
 * the ETag, depend only on the set), into a new buffer *out (caller frees). UM_ERR_INVALID
 * for an entry that is not a descriptor, two entries of one relay, hops over the cap;
 * UM_ERR_TOO_LARGE over DESC_BUNDLE_MAX_DESCS.
 */
int desc_bundle_encode_new(const struct desc_bundle *b, uint8_t **out,
                           size_t *out_len) UM_WARN_UNUSED;
/* The ETag of a bundle: lower-case hex of BLAKE2b-256(bundle). */
void desc_bundle_etag(const uint8_t *bundle, size_t len, char out[65]);

/* ---- the federation core (dirfed.c) ---- */

struct dirfed_config {
	struct dirserv *ds; /* borrowed; must outlive the core */
	uint8_t self_id[32];
	uint8_t operator_id[32];
	size_t n_seeds; /* 0..DIRFED_MAX_SEEDS */
	const uint8_t (*seed_ids)[32];
	const char *const *seed_urls;
	uint64_t sync_interval_s;   /* >= 1 */
	uint64_t gossip_interval_s; /* 0: push only on change */
	uint32_t fanout;            /* 0..DIRFED_MAX_FANOUT */
	uint32_t max_hops;          /* 0..DESC_BUNDLE_MAX_HOPS */
	bool discovery;
	uint32_t min_operators;   /* 1..DIRFED_SIGHTINGS_MAX */
	uint32_t discovery_max;   /* 0..DIRFED_DISCOVERY_MAX */
	uint64_t discovery_ttl_s; /* >= 1 */
};

/* Fill cfg with the defaults of docs/CONFIG.md (no ds, ids or seeds). */
void dirfed_config_defaults(struct dirfed_config *cfg);

struct dirfed;

/*
 * A new core in *out (caller frees with dirfed_free(), before freeing ds; it detaches itself).
 * It attaches itself to cfg->ds, so the routes of dirfed_handle() are served and stored
 * descriptors are gossiped. UM_ERR_INVALID (why says
 * what) for a bad config.
 */
int dirfed_new(const struct dirfed_config *cfg, struct dirfed **out, char *why,
               size_t why_len) UM_WARN_UNUSED;
void dirfed_free_(struct dirfed *f);
#define dirfed_free(f) UM_FREE_AND_NULL(dirfed_free_, f)

enum dirfed_action_kind {
	DIRFED_ACT_FEED = 1, /* GET <url>/v1/peers */
	DIRFED_ACT_SYNC = 2, /* GET <url>/v1/descs, If-None-Match: etag unless "" */
	DIRFED_ACT_PUSH = 3, /* POST <url>/v1/gossip/desc with body */
};

struct dirfed_action {
	enum dirfed_action_kind kind;
	uint8_t peer[32];
	char url[PEER_FEED_URL_MAX + 32]; /* full URL, path included */
	char etag[DIRFED_ETAG_MAX + 1];   /* SYNC: the If-None-Match value, or "" */
	size_t max_response;              /* response body cap */
	uint8_t body[DIRFED_GOSSIP_MAX_LEN];
	size_t body_len;
};

/*
 * The next exchange to start at now_s (expiry and periodic rounds run first): UM_OK with
 * *out filled, or UM_ERR_NOT_FOUND when nothing is due (or DIRFED_MAX_INFLIGHT are in
 * flight). Each UM_OK must be answered by exactly one dirfed_*_done() of its kind (with an
 * error if the exchange could not start).
 */
int dirfed_next_action(struct dirfed *f, uint64_t now_s, struct dirfed_action *out) UM_WARN_UNUSED;
/* Outcomes: err is the transport error (UM_OK for any HTTP response), status the HTTP
 * status, body the response body. Unknown peers (expired meanwhile) are ignored. */
void dirfed_feed_done(struct dirfed *f, const uint8_t peer[32], uint64_t now_s, int err, int status,
                      const uint8_t *body, size_t len);
void dirfed_sync_done(struct dirfed *f, const uint8_t peer[32], uint64_t now_s, int err, int status,
                      const char *etag, const uint8_t *body, size_t len);
void dirfed_push_done(struct dirfed *f, const uint8_t peer[32], uint64_t now_s, int err,
                      int status);

/*
 * Called by dirserv when a descriptor was stored (is_new: it became its relay's latest) or
 * its stored hop count lowered. Queues a push of new ones to `fanout` admitted peers.
 */
void dirfed_desc_stored(struct dirfed *f, const uint8_t *desc, size_t len, uint8_t hops,
                        bool is_new);
/*
 * Handle the federation routes (dirserv_handle() dispatches them here): GET /v1/peers (our
 * signed feed), GET /v1/descs (our bundle, ETag / If-None-Match), POST /v1/gossip/desc.
 * Returns false, touching nothing, for any other path.
 */
bool dirfed_handle(struct dirfed *f, const char *method, const char *path,
                   const char *if_none_match, const uint8_t *body, size_t len,
                   const char *source_key, uint64_t now_s, struct ev_http_resp *resp);
/*
 * The outcome of one gossip push received (the body of POST /v1/gossip/desc): UM_OK (new
 * says whether it was stored), or why not; res as for an upload (http_status, reason).
 */
int dirfed_gossip_receive(struct dirfed *f, const uint8_t *body, size_t len, const char *source_key,
                          uint64_t now_s, bool *is_new,
                          struct dirserv_accept_result *res) UM_WARN_UNUSED;

/* ---- status (control API, `umbra dir status`) ---- */

struct dirfed_peer_status {
	uint8_t identity[32];
	char url[PEER_FEED_URL_MAX + 1];
	bool seed;
	bool admitted;
	bool has_operator; /* learned from its own verified feed */
	uint8_t operator_id[32];
	size_t n_operators; /* distinct operators among its sightings (trusted listers) */
	size_t n_sightings;
	uint64_t last_sync_s; /* last successful GET /v1/descs (200 or 304), 0 never */
	uint64_t last_feed_s; /* last verified feed, 0 never */
	uint64_t expires_s;   /* discovered peers: when they drop without new sightings */
	char etag[DIRFED_ETAG_MAX + 1];
	uint64_t imported; /* descriptors stored from it */
	char error[DIRFED_ERROR_LEN];
};

struct dirfed_stats {
	uint64_t imported, pushed, received, refused_hops, outbox_dropped;
	uint32_t max_hops, fanout, min_operators;
	bool discovery;
};

/* Fill up to max peers (seeds first, then discovered by identity); returns how many. */
size_t dirfed_status(const struct dirfed *f, uint64_t now_s, struct dirfed_peer_status *out,
                     size_t max, struct dirfed_stats *stats);
/* The number of peers (seeds and discovered). */
size_t dirfed_n_peers(const struct dirfed *f);

#ifdef UM_UNIT_TESTS
/* Feed a verified feed from lister (a known peer) directly, as dirfed_feed_done() does. */
int dirfed_test_feed(struct dirfed *f, const uint8_t lister[32], const uint8_t *body, size_t len,
                     uint64_t now_s) UM_WARN_UNUSED;
/* True when digest is in the seen-set at a hop count <= hops. */
bool dirfed_test_seen(const struct dirfed *f, const uint8_t digest[32], uint8_t hops);
size_t dirfed_test_outbox(const struct dirfed *f);
#endif

#endif /* UM_DIRECTORY_DIRFED_H */
