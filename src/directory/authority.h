/* SPDX-License-Identifier: MIT */
/*
 * Directory authority keys, sans-I/O (docs/PROTOCOL.md section 5.1). Each authority has a
 * long-term Ed25519 identity key (what clients pin, may be kept offline) and a rotatable
 * Ed25519 signing key (what signs votes and consensuses), bound by a key certificate:
 *
 *   authcert = version [1] | identity [32] | signing_key [32] | published [8] | expires [8]
 *              | sig [64]
 *   sig      = Ed25519(identity, "umbra-authcert-v1" 0x00 | authcert without sig)
 *
 * Rotation issues a new certificate for a new signing key; the previous certificates stay
 * valid until they expire (documents signed with a previous key still verify) and are
 * published alongside the current one: struct auth_keyring holds that history.
 *
 * This file does not touch the network or the disk; the authority daemon stores and serves
 * the certificates, clients cache them (struct pinned_authorities in consensus.h).
 */
#ifndef UM_DIRECTORY_AUTHORITY_H
#define UM_DIRECTORY_AUTHORITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/compiler.h"
#include "lib/wire.h"
#include "crypto/keys.h"

enum authority_limits {
	AUTHCERT_VERSION = 1,
	AUTHCERT_LABEL_LEN = 18, /* "umbra-authcert-v1" and its NUL */
	AUTHCERT_ID_LEN = 32,
	AUTHCERT_SIG_LEN = 64,
	AUTHCERT_LIFETIME_MAX_S = 366 * 86400, /* expires <= published + 366 d */
	AUTHCERT_CLOCK_SKEW_S = 3600,          /* published may be this far in the future */
	AUTHCERT_BODY_LEN = 1 + 32 + 32 + 8 + 8,
	AUTHCERT_LEN = AUTHCERT_BODY_LEN + AUTHCERT_SIG_LEN, /* 145: fixed size */
	AUTH_KEYRING_MAX = 4, /* the current certificate and up to 3 previous ones */
};

struct auth_cert {
	uint8_t version; /* AUTHCERT_VERSION */
	uint8_t identity[AUTHCERT_ID_LEN];
	uint8_t signing_key[AUTHCERT_ID_LEN]; /* != identity */
	uint64_t published_s;
	uint64_t expires_s; /* published_s < expires_s <= published_s + LIFETIME_MAX */
	uint8_t sig[AUTHCERT_SIG_LEN];
};

/* authority_parse.c */

/*
 * Parse one certificate (exactly AUTHCERT_LEN bytes are read). Returns AUTHCERT_LEN,
 * UM_ERR_TRUNCATED for a short input, UM_ERR_MALFORMED for a broken rule (version, identity
 * == signing key, lifetime). No signature or clock check: auth_cert_verify(). *out is
 * written only on success.
 */
ssize_t auth_cert_parse(const uint8_t *in, size_t len, struct auth_cert *out) UM_WARN_UNUSED;
/* Append the certificate; UM_ERR_INVALID if it breaks a rule, UM_ERR_TOO_LARGE if w is full. */
int auth_cert_encode(const struct auth_cert *c, struct wire_wr *w) UM_WARN_UNUSED;
/* True when c follows every rule auth_cert_parse() checks. */
bool auth_cert_is_wellformed(const struct auth_cert *c);

/* authority.c */

/*
 * Fill c: identity's certificate for signing_pk over [published_s, expires_s], signed by
 * identity (whose secret key must be present). UM_ERR_INVALID for a rule broken.
 */
int auth_cert_make(struct auth_cert *c, const struct keys_ed25519 *identity,
                   const uint8_t signing_pk[AUTHCERT_ID_LEN], uint64_t published_s,
                   uint64_t expires_s) UM_WARN_UNUSED;
/*
 * Check c at now_s: UM_ERR_MALFORMED for a rule broken, UM_ERR_EXPIRED when now_s >=
 * expires_s or published_s > now_s + CLOCK_SKEW, UM_ERR_AUTH when the identity's signature
 * does not verify. The clock is checked before the signature.
 */
int auth_cert_verify(const struct auth_cert *c, uint64_t now_s) UM_WARN_UNUSED;

/*
 * The certificates of one authority: certs[0] is the current one, then previous ones,
 * newest first. An authority publishes all of them (GET /v1/authorities), so clients can
 * verify documents signed by a previous key until its certificate expires.
 */
struct auth_keyring {
	uint8_t identity[AUTHCERT_ID_LEN];
	size_t n_certs;
	struct auth_cert certs[AUTH_KEYRING_MAX];
};

/* Start a keyring with its first certificate (UM_ERR_INVALID if it is not well formed). */
int auth_keyring_init(struct auth_keyring *kr, const struct auth_cert *first) UM_WARN_UNUSED;
/*
 * Rotate to next (same identity, a new signing key, published after the current one):
 * next becomes certs[0], the previous certificates are kept unless expired at now_s, and the
 * oldest is dropped when the ring is full. UM_ERR_INVALID when next does not qualify.
 */
int auth_keyring_rotate(struct auth_keyring *kr, const struct auth_cert *next,
                        uint64_t now_s) UM_WARN_UNUSED;
/* The certificate of signing_key in the ring, or NULL. */
const struct auth_cert *auth_keyring_find(const struct auth_keyring *kr,
                                          const uint8_t signing_key[AUTHCERT_ID_LEN]);

#endif /* UM_DIRECTORY_AUTHORITY_H */
