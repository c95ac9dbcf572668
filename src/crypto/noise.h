/* SPDX-License-Identifier: MIT */
/*
 * The Noise Protocol Framework (revision 34), suite 25519_ChaChaPoly_BLAKE2b, for the
 * patterns umbra uses: NK (anonymous client -> relay), XK (relay <-> relay), IK, and XX.
 *
 *   NK:  <- s  ...  -> e, es            <- e, ee
 *   XK:  <- s  ...  -> e, es            <- e, ee            -> s, se
 *   IK:  <- s  ...  -> e, es, s, ss     <- e, ee, se
 *   XX:             -> e                <- e, ee, s, es     -> s, se
 *
 * A struct noise_hs is a HandshakeState: create it with noise_hs_init(), alternate
 * noise_hs_write()/noise_hs_read() as the pattern says, then noise_hs_split() into two
 * CipherStates for transport. Sans-I/O: bytes in, bytes out. Any failure leaves the handshake
 * unusable (every later call fails). Keys are wiped by noise_hs_clear()/noise_cs_clear().
 * Checked against every XK/NK/IK/XX BLAKE2b vector in shared/vectors/noise/.
 */
#ifndef UM_CRYPTO_NOISE_H
#define UM_CRYPTO_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "crypto/aead.h"

enum noise_pattern {
	NOISE_NK = 1,
	NOISE_XK = 2,
	NOISE_IK = 3,
	NOISE_XX = 4,
};

enum noise_limits {
	NOISE_KEY_LEN = 32,
	NOISE_DH_LEN = 32,
	NOISE_HASH_LEN = 64,
	NOISE_TAG_LEN = 16,
	NOISE_MAX_MSG_LEN = 65535,
	NOISE_MAX_PROLOGUE_LEN = 256,
};

/* A transport CipherState for one direction. */
struct noise_cs {
	struct aead aead;
	uint8_t k[NOISE_KEY_LEN];
	uint64_t n;
};

struct noise_hs {
	enum noise_pattern pattern;
	bool initiator;
	bool failed;
	unsigned msg; /* index of the next message */
	uint8_t ck[NOISE_HASH_LEN];
	uint8_t h[NOISE_HASH_LEN];
	uint8_t k[NOISE_KEY_LEN];
	bool has_k;
	uint64_t n;
	uint8_t s_priv[NOISE_DH_LEN], s_pub[NOISE_DH_LEN];
	uint8_t e_priv[NOISE_DH_LEN], e_pub[NOISE_DH_LEN];
	uint8_t rs[NOISE_DH_LEN], re[NOISE_DH_LEN];
	bool has_s, has_e, has_rs, has_re;
};

/*
 * Start a handshake. s_priv is our static private key (required where the pattern sends or
 * pre-shares s), rs the responder's static public key (the initiator's pre-message in NK, XK,
 * IK). prologue (<= NOISE_MAX_PROLOGUE_LEN bytes) must be identical on both sides.
 */
int noise_hs_init(struct noise_hs *hs, enum noise_pattern pattern, bool initiator,
                  const uint8_t *prologue, size_t prologue_len, const uint8_t *s_priv,
                  const uint8_t *rs) UM_WARN_UNUSED;
#ifdef UM_UNIT_TESTS
/* Use this ephemeral private key instead of a random one (test vectors only). */
void noise_hs_set_ephemeral(struct noise_hs *hs, const uint8_t e_priv[NOISE_DH_LEN]);
#endif
/* Bytes noise_hs_write() will produce for a payload of payload_len (0 if not our turn). */
size_t noise_hs_write_len(const struct noise_hs *hs, size_t payload_len);
/* Write the next handshake message carrying payload into out; *out_len receives its length. */
int noise_hs_write(struct noise_hs *hs, const uint8_t *payload, size_t payload_len, uint8_t *out,
                   size_t out_cap, size_t *out_len) UM_WARN_UNUSED;
/* Read the next handshake message; the decrypted payload goes to payload (payload_cap bytes). */
int noise_hs_read(struct noise_hs *hs, const uint8_t *msg, size_t msg_len, uint8_t *payload,
                  size_t payload_cap, size_t *payload_len) UM_WARN_UNUSED;
/* True when it is our turn to write. */
bool noise_hs_is_our_turn(const struct noise_hs *hs);
/* True once every message of the pattern has been processed. */
bool noise_hs_is_done(const struct noise_hs *hs);
/* The peer's static public key once known (pre-message or received), else NULL. */
const uint8_t *noise_hs_remote_static(const struct noise_hs *hs);
void noise_hs_handshake_hash(const struct noise_hs *hs, uint8_t h[NOISE_HASH_LEN]);
/*
 * Split into transport states: send encrypts our messages, recv decrypts the peer's (for the
 * initiator send = c1, recv = c2; reversed for the responder). The caller clears both.
 */
int noise_hs_split(struct noise_hs *hs, struct noise_cs *send,
                   struct noise_cs *recv) UM_WARN_UNUSED;
void noise_hs_clear(struct noise_hs *hs);

/* Encrypt len bytes into out (len + 16). UM_ERR_STATE once the nonce is exhausted. */
int noise_cs_encrypt(struct noise_cs *cs, const uint8_t *ad, size_t ad_len, const uint8_t *pt,
                     size_t len, uint8_t *out) UM_WARN_UNUSED;
/* Decrypt len bytes (>= 16) into out (len - 16). The nonce advances only on success. */
int noise_cs_decrypt(struct noise_cs *cs, const uint8_t *ad, size_t ad_len, const uint8_t *ct,
                     size_t len, uint8_t *out) UM_WARN_UNUSED;
/* Noise Rekey(): k = first 32 bytes of ENCRYPT(k, 2^64-1, "", zeros[32]); n is kept. */
int noise_cs_rekey(struct noise_cs *cs) UM_WARN_UNUSED;
void noise_cs_clear(struct noise_cs *cs);

#endif /* UM_CRYPTO_NOISE_H */
