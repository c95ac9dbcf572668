/* SPDX-License-Identifier: MIT */
/*
 * The link handshake, sans-I/O: bytes from the peer in, bytes to send out, a verified peer
 * (or an error) at the end. Noise_XK between relays that know each other's link key,
 * Noise_NK from an anonymous client (PROTOCOLS.md). The identity in each hello is accepted
 * only with a valid certificate binding it to the Noise static key that the handshake itself
 * authenticated; nothing from the peer is trusted before that.
 *
 *   initiator                                   responder
 *   preamble | frame(e, es, hello{})  ---->
 *                                     <----   frame(e, ee, hello{id, cert})   verify cert(rs)
 *   frame(s, se, hello{id, cert})     ---->   (XK) verify cert(remote static)
 *
 * A responder that asks a puzzle (pz_bits > 0) checks the initiator's solution, carried in
 * the preamble and bound to msg1's ephemeral key, before any Diffie-Hellman; without a valid
 * one it answers a challenge instead of msg2 (PROTOCOL.md 2.2) and the handshake ends there.
 */
#ifndef UM_LINK_HANDSHAKE_H
#define UM_LINK_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "crypto/keys.h"
#include "crypto/noise.h"
#include "crypto/puzzle.h"
#include "link/link_msg.h"

/* Our side: identity, link static key and the certificate binding them (built once). */
struct link_identity {
	uint8_t id[LINK_ID_LEN];
	uint8_t static_pub[X25519_KEY_LEN];
	const uint8_t *static_priv; /* borrowed: the keys_x25519 must outlive this */
	uint64_t cert_expires;
	uint8_t cert_sig[LINK_CERT_SIG_LEN];
};

/* Sign a certificate for lk under id, valid until expires (unix seconds). */
void link_identity_init(struct link_identity *li, const struct keys_ed25519 *id,
                        const struct keys_x25519 *lk, uint64_t expires);

/*
 * A bounded cache of certificates already verified (a relay sees the same peers again and
 * again): a hit skips the Ed25519 verification, a miss verifies and inserts. Fixed size;
 * entries are BLAKE2b-256 digests of the signed bytes and signature, so a hit can only be
 * the very same certificate.
 */
enum { LINK_CERT_CACHE_SLOTS = 1024 };
struct link_cert_cache {
	uint8_t slot[LINK_CERT_CACHE_SLOTS][32];
	uint64_t hits, misses;
};

/*
 * Verify a certificate (UM_OK, UM_ERR_AUTH for a bad signature, UM_ERR_EXPIRED when
 * expires <= now_s). cache may be NULL.
 */
int link_cert_verify(struct link_cert_cache *cache, const uint8_t id[LINK_ID_LEN],
                     const uint8_t link_pub[X25519_KEY_LEN], uint64_t expires,
                     const uint8_t sig[LINK_CERT_SIG_LEN], uint64_t now_s) UM_WARN_UNUSED;

enum link_hs_puzzle_result {
	LINK_HS_PZ_NONE = 0, /* no puzzle asked */
	LINK_HS_PZ_PASSED,   /* a valid solution came with msg1 */
	LINK_HS_PZ_ASKED,    /* none came: challenged */
	LINK_HS_PZ_FAILED,   /* one came and failed (stale seed, too easy, replayed): challenged */
};

enum link_hs_accept {
	LINK_ACCEPT_NK = 1u << 0,
	LINK_ACCEPT_XK = 1u << 1,
};

struct link_hs {
	struct noise_hs noise;
	const struct link_identity *me;
	struct link_cert_cache *cache;
	bool initiator;
	bool failed;
	uint8_t pattern; /* LINK_PATTERN_*, 0 until the responder has read the preamble */
	unsigned accept; /* responder: enum link_hs_accept bits */
	unsigned step;   /* Noise messages processed */
	bool check_id;
	uint8_t expected_id[LINK_ID_LEN];
	/* Responder: the puzzle asked of this handshake, set by the caller before input (the
	 * difficulty may change until msg1 is read). pz_bits 0 or pz_gate NULL: none. */
	struct puzzle_gate *pz_gate; /* borrowed */
	unsigned pz_bits;
	uint64_t pz_now_ms;
	/* Responder: what the puzzle check did (enum link_hs_puzzle_result, for counters; the
	 * caller may reset it once counted). */
	int pz_result;
	/* Initiator: the challenge the responder answered instead of msg2 (challenged). */
	bool challenged;
	struct link_challenge challenge;
	/* Results, valid once done: */
	bool peer_identified; /* false for an anonymous NK initiator */
	uint8_t peer_id[LINK_ID_LEN];
	uint8_t peer_static[X25519_KEY_LEN];
};

/*
 * Start as initiator with pattern LINK_PATTERN_XK (me required) or LINK_PATTERN_NK (me may be
 * NULL: anonymous). rs is the responder's link key; expected_id (may be NULL) its identity.
 */
int link_hs_init_initiator(struct link_hs *hs, uint8_t pattern, const struct link_identity *me,
                           const uint8_t rs[X25519_KEY_LEN], const uint8_t *expected_id,
                           struct link_cert_cache *cache) UM_WARN_UNUSED;
int link_hs_init_responder(struct link_hs *hs, const struct link_identity *me, unsigned accept,
                           struct link_cert_cache *cache) UM_WARN_UNUSED;
/* Initiator: write the preamble and first frame into out (no puzzle solution: see
 * link_hs_add_puzzle()). */
int link_hs_start(struct link_hs *hs, uint8_t *out, size_t cap, size_t *out_len) UM_WARN_UNUSED;
/*
 * Consume handshake bytes from in. *consumed is how many were used: 0 with UM_OK means a
 * whole frame is not there yet; bytes after the last handshake frame are not consumed (they
 * are records). A reply, if any, is written to out (*out_len > 0). Errors are final:
 * UM_ERR_MALFORMED / UM_ERR_PROTOCOL (bad framing or hello), UM_ERR_AUTH (Noise or certificate
 * failure), UM_ERR_EXPIRED (certificate), UM_ERR_CRYPTO (low-order key).
 * UM_ERR_RATELIMIT is the puzzle: for a responder, msg1 came without a valid solution and out
 * holds the challenge to send before closing (*out_len > 0; no public-key work was done); for
 * an initiator, the responder answered a challenge (hs->challenged, hs->challenge).
 */
int link_hs_input(struct link_hs *hs, const uint8_t *in, size_t len, size_t *consumed, uint8_t *out,
                  size_t cap, size_t *out_len, uint64_t now_s) UM_WARN_UNUSED;
bool link_hs_is_done(const struct link_hs *hs);
/*
 * Initiator: the bound (link_puzzle_bound()) of the first flight msg (as written by
 * link_hs_start(), len bytes) for the responder this handshake dials: UM_ERR_MALFORMED if msg
 * is not a first flight without a solution.
 */
int link_hs_puzzle_bound(const struct link_hs *hs, const uint8_t *msg, size_t len,
                         uint8_t bound[LINK_PUZZLE_BOUND_LEN]) UM_WARN_UNUSED;
/*
 * Rewrite a first flight (len bytes at msg, cap bytes of room) to carry the solution (seed,
 * nonce): version | pattern|0x80 | seed | nonce | frame(msg1). *new_len gets its length.
 */
int link_hs_add_puzzle(uint8_t *msg, size_t len, size_t cap, const uint8_t seed[PUZZLE_SEED_LEN],
                       const uint8_t nonce[PUZZLE_NONCE_LEN], size_t *new_len) UM_WARN_UNUSED;
/* Derive transport states (send, recv); valid once done. Wipes the Noise state: call once. */
int link_hs_split(struct link_hs *hs, struct noise_cs *send, struct noise_cs *recv) UM_WARN_UNUSED;
void link_hs_clear(struct link_hs *hs);

/* Largest reply link_hs_input()/link_hs_start() can produce. */
enum { LINK_HS_OUT_MAX = LINK_PREAMBLE_PUZZLE_LEN + LINK_FRAME_HDR_LEN + LINK_HS_MAX_FRAME };

#endif /* UM_LINK_HANDSHAKE_H */
