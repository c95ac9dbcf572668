/* SPDX-License-Identifier: MIT */
/*
 * The issuer's token signing keys (issue 5, PROTOCOL.md 16-17), sans-I/O: one RFC 9474
 * blind-RSA key per (tier, epoch) for tiers 1..tiers, kept in the issuer's store (the 0600
 * database: PKCS#8 DER per key, wiped from memory after import; secure_delete is on), and the
 * two signed documents made from them:
 *
 *   key_epoch        the epoch new tokens are signed under (starts at 1); rotate() moves it
 *                    on and makes the new epoch's keys; the previous epochs' keys stay and
 *                    stay published, so tokens already issued keep verifying;
 *   min_token_epoch  tokens of older epochs are refused: raising it drops those keys (the
 *                    private halves are deleted) from the key list, and the revocation feed
 *                    says so, so exits refuse them within one refresh;
 *   key list         issuer_doc.h "keys", re-signed with a higher seq on every change;
 *   revocations      issuer_doc.h "revocations", re-signed with a higher seq on every change
 *                    and when half its lifetime has passed.
 *
 * Sequence numbers and epochs are stored, so they stay monotonic across restarts.
 */
#ifndef UM_TRUST_ISSUER_KEYS_H
#define UM_TRUST_ISSUER_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "crypto/blindrsa.h"
#include "crypto/keys.h"
#include "store/store.h"
#include "trust/issuer.h"

enum issuer_keys_limits {
	ISSUER_KEYS_TIERS_MAX = 15,
	ISSUER_KEYS_DEFAULT_TIERS = 3,
	ISSUER_KEYS_REVS_LIFETIME_DEFAULT_S = 3600,
	ISSUER_KEYS_EPOCHS_MAX = 4, /* epochs published at once: older ones must be retired */
};

struct issuer_keyring_config {
	unsigned tiers;           /* keys for tiers 1..tiers, 1..15 */
	unsigned bits;            /* modulus size, 2048..4096 */
	uint64_t revs_lifetime_s; /* a revocation feed is valid this long, 60..7 days */
	uint64_t key_lifetime_s;  /* not_after of a key = its epoch's start + this */
};

void issuer_keyring_config_defaults(struct issuer_keyring_config *cfg);

struct issuer_keyring;

/*
 * Open the keyring in st (schema-less: the store's kv table, namespace "issuer_keys"), signed
 * by id (borrowed: must outlive the keyring). The first open makes epoch 1's keys. UM_ERR_*
 * with why on failure.
 */
int issuer_keyring_open(struct store *st, const struct keys_ed25519 *id,
                        const struct issuer_keyring_config *cfg, uint64_t now_s,
                        struct issuer_keyring **out, char *why, size_t why_len) UM_WARN_UNUSED;
void issuer_keyring_free_(struct issuer_keyring *kr);
#define issuer_keyring_free(kr) UM_FREE_AND_NULL(issuer_keyring_free_, kr)

uint32_t issuer_keyring_epoch(const struct issuer_keyring *kr);
uint32_t issuer_keyring_min_epoch(const struct issuer_keyring *kr);

/*
 * Record every rotation and min_token_epoch change in is's audit trail (docs/ISSUER.md:
 * "keys.rotate", "keys.min_epoch", actor "admin"), written in the change's own transaction:
 * is must live on the keyring's store. NULL (the default) records nothing.
 */
struct issuer;
void issuer_keyring_set_audit(struct issuer_keyring *kr, struct issuer *is);

/* Start a new epoch: its keys are made and stored, and signing uses them from now on.
 * UM_ERR_STATE when ISSUER_KEYS_EPOCHS_MAX epochs are published (raise min_token_epoch). */
int issuer_keyring_rotate(struct issuer_keyring *kr, uint64_t now_s) UM_WARN_UNUSED;
/* Refuse tokens of epochs below e (min_token_epoch <= e <= key_epoch, else UM_ERR_INVALID):
 * those keys are deleted and leave the key list. */
int issuer_keyring_set_min_epoch(struct issuer_keyring *kr, uint32_t e,
                                 uint64_t now_s) UM_WARN_UNUSED;

/*
 * Where the revocation feed's subjects come from (trust/issuer_roles.h: the revoked
 * subjects): fn fills out with at most max ids, ascending bytewise. Read each time the feed
 * is asked for; a change re-signs it with a higher seq. Without a source the feed lists no
 * subject. fn and arg are borrowed.
 */
typedef int issuer_keyring_subjects_fn(void *arg, char (*out)[ISSUER_ID_MAX_LEN + 1], size_t max,
                                       size_t *n);
void issuer_keyring_set_subjects(struct issuer_keyring *kr, issuer_keyring_subjects_fn *fn,
                                 void *arg);

/* The current signed key list / revocation feed: views valid until the next call on kr. */
int issuer_keyring_keys_doc(struct issuer_keyring *kr, uint64_t now_s, const uint8_t **doc,
                            size_t *len) UM_WARN_UNUSED;
int issuer_keyring_revocations_doc(struct issuer_keyring *kr, uint64_t now_s, const uint8_t **doc,
                                   size_t *len) UM_WARN_UNUSED;

/* The public key of (tier, epoch), or NULL if none is published. */
const struct blindrsa_key *issuer_keyring_public(const struct issuer_keyring *kr, uint8_t tier,
                                                 uint32_t epoch);
/*
 * BlindSign one blinded message (exactly the key's kLen bytes) with the key of tier and
 * *epoch (0: the current epoch; any epoch still held, >= min_token_epoch, may be asked):
 * out gets kLen bytes (cap >= BLINDRSA_MAX_LEN), *epoch the epoch used. UM_ERR_NOT_FOUND for
 * no such key, UM_ERR_INVALID for a bad message.
 */
int issuer_keyring_blind_sign(struct issuer_keyring *kr, uint8_t tier, const uint8_t *blinded,
                              size_t len, uint8_t *out, size_t cap, size_t *out_len,
                              uint32_t *epoch) UM_WARN_UNUSED;

#endif /* UM_TRUST_ISSUER_KEYS_H */
