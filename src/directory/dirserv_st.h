/* SPDX-License-Identifier: MIT */
/* struct dirserv's layout and the storage calls dirserv.c makes (dirserv_store.c). Private to
 * src/directory/dirserv*.c and tests. */
#ifndef UM_DIRECTORY_DIRSERV_ST_H
#define UM_DIRECTORY_DIRSERV_ST_H

#include "directory/dirserv.h"

/* One source's token bucket; the source key is stored hashed (fixed size, any length in). */
struct dirserv_bucket {
	uint8_t key[16];
	bool used;
	uint32_t tokens;
	uint64_t last_s; /* last refill */
	uint64_t seen_s; /* last use, for eviction */
};

struct dirserv {
	struct store *st;
	bool own_store;
	struct auth_keyring keyring;
	struct keys_ed25519 signing;
	size_t n_auths;
	uint8_t auths[CONS_MAX_AUTHORITIES][AUTHCERT_ID_LEN];
	size_t n_issuers; /* configured issuers whose key lists we vote on */
	uint8_t issuers[DIR_MAX_ISSUERS][DIR_ISSUER_ID_LEN];
	struct dir_rt_feed rt[DIR_MAX_ISSUERS]; /* the newest relay-trust feed per issuer */
	bool has_rt[DIR_MAX_ISSUERS];
	struct dirserv_config cfg; /* copied; pointers in it are not used after dirserv_new() */
	struct dirserv_bucket *buckets;
	size_t n_buckets;
	/* The latest consensus, as served (loaded from the store at open, updated on store). */
	uint8_t *cons_bytes;
	size_t cons_len;
	struct consensus cons; /* parsed cons_bytes (n_relays 0 when none) */
	bool has_cons;
	/* Diffs to the latest consensus from recent bases, made on demand (dirserv_diff). */
	struct dirserv_diff {
		uint8_t from[DIR_DIGEST_LEN], to[DIR_DIGEST_LEN];
		uint8_t *bytes; /* NULL: slot free */
		size_t len;
	} diffs[DIRSERV_DIFF_CACHE];
	size_t diff_next;   /* the slot to reuse next */
	struct dirfed *fed; /* borrowed federation core, or NULL (dirserv_set_fed) */
};

/* A stored descriptor row handed to the vote builder. */
typedef int dirserv_latest_fn(void *arg, const uint8_t *blob, size_t len, uint64_t first_seen_s,
                              uint64_t reach_ok_s);
typedef int dirserv_blob_fn(void *arg, const uint8_t *blob, size_t len);
typedef int dirserv_peer_fn(void *arg, const char *url, const uint8_t *identity, size_t id_len,
                            const char *etag, uint64_t last_sync_s);

/* dirserv_store.c */
extern const struct store_schema dirserv_schema;
/* *published of the stored latest descriptor of identity: UM_OK or UM_ERR_NOT_FOUND. */
int dirserv_db_latest_published(struct dirserv *ds, const uint8_t identity[32],
                                uint64_t *published_s, uint8_t digest[32]) UM_WARN_UNUSED;
bool dirserv_db_desc_exists(struct dirserv *ds, const uint8_t digest[32]);
/* Store a verified descriptor and make it its relay's latest, in one transaction. */
int dirserv_db_desc_put(struct dirserv *ds, const uint8_t digest[32], const struct relay_desc *d,
                        const uint8_t *blob, size_t len, const char *source, uint8_t hops,
                        uint64_t now_s) UM_WARN_UNUSED;
/* The stored hop count of digest: UM_OK or UM_ERR_NOT_FOUND. */
int dirserv_db_desc_hops(struct dirserv *ds, const uint8_t digest[32],
                         uint8_t *hops) UM_WARN_UNUSED;
/* Lower the stored hop count of digest to hops (a no-op if it is already <= hops). */
int dirserv_db_desc_lower_hops(struct dirserv *ds, const uint8_t digest[32],
                               uint8_t hops) UM_WARN_UNUSED;
/* Each relay's latest descriptor expiring after after_s, in identity order, with its hops. */
int dirserv_db_foreach_current(struct dirserv *ds, uint64_t after_s, dirserv_current_fn *fn,
                               void *arg) UM_WARN_UNUSED;
/* A copy of the descriptor with digest (caller frees): UM_OK or UM_ERR_NOT_FOUND. */
int dirserv_db_desc_get(struct dirserv *ds, const uint8_t digest[32], uint8_t **blob,
                        size_t *len) UM_WARN_UNUSED;
/* Each relay's latest descriptor expiring after after_s, in identity order. */
int dirserv_db_foreach_latest(struct dirserv *ds, uint64_t after_s, dirserv_latest_fn *fn,
                              void *arg) UM_WARN_UNUSED;
int dirserv_db_reach_set(struct dirserv *ds, const uint8_t identity[32],
                         uint64_t when_s) UM_WARN_UNUSED;
/* Insert a vote; UM_ERR_EXISTS if this voter already has another one for the period. */
int dirserv_db_vote_put(struct dirserv *ds, uint64_t valid_after_s, const uint8_t voter[32],
                        const uint8_t *blob, size_t len, uint64_t now_s,
                        bool replace) UM_WARN_UNUSED;
int dirserv_db_vote_get(struct dirserv *ds, uint64_t valid_after_s, const uint8_t voter[32],
                        uint8_t **blob, size_t *len) UM_WARN_UNUSED;
int dirserv_db_foreach_vote(struct dirserv *ds, uint64_t valid_after_s, dirserv_blob_fn *fn,
                            void *arg) UM_WARN_UNUSED;
int dirserv_db_cons_put(struct dirserv *ds, const struct consensus *c, const uint8_t *blob,
                        size_t len, uint64_t now_s) UM_WARN_UNUSED;
int dirserv_db_cons_get(struct dirserv *ds, const uint8_t digest[32], uint8_t **blob,
                        size_t *len) UM_WARN_UNUSED;
int dirserv_db_prune(struct dirserv *ds, uint64_t before_s) UM_WARN_UNUSED;
int dirserv_db_cons_latest(struct dirserv *ds, uint8_t **blob, size_t *len) UM_WARN_UNUSED;
/* The stored key list of an issuer (a copy) and its sequence number: UM_OK or NOT_FOUND. */
int dirserv_db_issuer_get(struct dirserv *ds, const uint8_t identity[32], uint8_t **blob,
                          size_t *len, uint64_t *seq) UM_WARN_UNUSED;
/* Store (insert or replace) an issuer's key list. */
int dirserv_db_issuer_put(struct dirserv *ds, const uint8_t identity[32], const uint8_t *blob,
                          size_t len, uint64_t seq, uint64_t now_s) UM_WARN_UNUSED;

/* dirserv.c, for dirserv_provider.c */
/* Take one token of source's upload bucket: false when it is empty. */
bool dirserv_bucket_take(struct dirserv *ds, const char *source, uint64_t now_s);
/* An upload with the checks of dirserv_accept_descriptor() but the provider rule (the caller
 * checked the binding), rate-limited when rate_limit. */
int dirserv_accept_upload(struct dirserv *ds, const uint8_t *bytes, size_t len,
                          const char *source_key, bool rate_limit, uint64_t now_s,
                          struct dirserv_accept_result *res) UM_WARN_UNUSED;

/* dirserv_provider.c: schema "dir_provider" (relay -> provider bindings). */
extern const struct store_schema dirserv_provider_schema;

#endif /* UM_DIRECTORY_DIRSERV_ST_H */
