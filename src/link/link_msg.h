/* SPDX-License-Identifier: MIT */
/*
 * Link handshake wire formats (docs/protocol/link.md):
 *
 *   initiator -> responder: version [1] = 1 | pattern [1] (1 = NK, 2 = XK) | frame(msg1)
 *                           or, with a puzzle solution (pattern | 0x80):
 *                           version [1] | pattern|0x80 [1] | seed [16] | nonce [8] | frame(msg1)
 *   responder -> initiator: frame(msg2)
 *                           or, when it asks a puzzle instead (then closes):
 *                           0xFF | 'P' | bits [1] (1..32) | seed [16]      (19 bytes, fixed)
 *   initiator -> responder: frame(msg3)                       (XK only)
 *   frame(m) = len [2, big-endian, 48..LINK_HS_MAX_FRAME] | m  (a Noise handshake message)
 *
 * Each Noise message carries a hello payload (encrypted except where Noise has no key yet):
 *
 *   hello = version [1] | flags [1] | identity (if flags & HELLO_F_IDENTITY) | ext_len [2] | ext
 *   identity = ed25519_id [32] | cert_expires [8, unix s] | cert_sig [64]
 *   cert_sig = Ed25519(id, "umbra-link-cert-v1\0" | ed25519_id | link_x25519 | cert_expires)
 *   ext = { type [1] | len [2] | value }*   (unknown types are skipped; reserved for puzzles)
 *
 * msg1 never carries an identity (an XK initiator reveals its own only in msg3, encrypted
 * with forward secrecy); msg2 carries the responder's, msg3 the XK initiator's.
 */
#ifndef UM_LINK_LINK_MSG_H
#define UM_LINK_LINK_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/compiler.h"
#include "lib/wire.h"
#include "crypto/puzzle.h"

enum link_msg_limits {
	LINK_VERSION = 1,
	LINK_PATTERN_NK = 1,
	LINK_PATTERN_XK = 2,
	LINK_PREAMBLE_LEN = 2,
	LINK_FRAME_HDR_LEN = 2,
	LINK_HS_MIN_FRAME = 48,
	LINK_HS_MAX_FRAME = 1024,
	LINK_HELLO_MAX_EXT = 512,
	LINK_CERT_SIG_LEN = 64,
	LINK_ID_LEN = 32,
	HELLO_F_IDENTITY = 0x01,
	LINK_PATTERN_F_PUZZLE = 0x80, /* a puzzle solution follows the pattern byte */
	LINK_PREAMBLE_PUZZLE_LEN = LINK_PREAMBLE_LEN + PUZZLE_SEED_LEN + PUZZLE_NONCE_LEN,
	LINK_CHALLENGE_TAG = 0xff, /* never the first byte of a frame (lengths are <= 1024) */
	LINK_CHALLENGE_PUZZLE = 'P',
	LINK_CHALLENGE_LEN = 3 + PUZZLE_SEED_LEN,
	LINK_PUZZLE_BOUND_LEN = 32 + 32, /* responder link key | msg1's ephemeral key */
};

/* The initiator's preamble (the bytes before frame(msg1)). */
struct link_preamble {
	uint8_t version; /* LINK_VERSION */
	uint8_t pattern; /* LINK_PATTERN_NK or LINK_PATTERN_XK (the flag bit removed) */
	bool has_puzzle;
	uint8_t seed[PUZZLE_SEED_LEN];
	uint8_t nonce[PUZZLE_NONCE_LEN];
};

/*
 * Parse a preamble: bytes consumed (2, or 26 with a solution), UM_ERR_TRUNCATED, or
 * UM_ERR_MALFORMED for another version, a pattern other than NK/XK or a flag bit other than
 * LINK_PATTERN_F_PUZZLE.
 */
ssize_t link_preamble_parse(const uint8_t *in, size_t len,
                            struct link_preamble *out) UM_WARN_UNUSED;
int link_preamble_encode(const struct link_preamble *p, struct wire_wr *w) UM_WARN_UNUSED;

/* A responder's puzzle challenge. */
struct link_challenge {
	uint8_t bits; /* 1..PUZZLE_MAX_BITS */
	uint8_t seed[PUZZLE_SEED_LEN];
};

/* Parse a challenge (exactly LINK_CHALLENGE_LEN bytes used): UM_ERR_TRUNCATED, or
 * UM_ERR_MALFORMED for a bad tag or kind, or bits 0 or over PUZZLE_MAX_BITS. */
ssize_t link_challenge_parse(const uint8_t *in, size_t len,
                             struct link_challenge *out) UM_WARN_UNUSED;
int link_challenge_encode(const struct link_challenge *c, struct wire_wr *w) UM_WARN_UNUSED;

/* What a link puzzle solution is bound to, after the seed: the responder's link key and the
 * ephemeral key that opens msg1 (its first 32 bytes). */
void link_puzzle_bound(uint8_t out[LINK_PUZZLE_BOUND_LEN], const uint8_t responder_key[32],
                       const uint8_t ephemeral[32]);

struct link_hello {
	uint8_t version;
	uint8_t flags;
	uint8_t identity[LINK_ID_LEN];
	uint64_t cert_expires;
	uint8_t cert_sig[LINK_CERT_SIG_LEN];
	const uint8_t *ext; /* view into the parsed buffer */
	size_t ext_len;
};

/* Parse a hello; unknown flag bits and versions other than LINK_VERSION are MALFORMED. */
ssize_t link_hello_parse(const uint8_t *in, size_t len, struct link_hello *out) UM_WARN_UNUSED;
int link_hello_encode(const struct link_hello *h, struct wire_wr *w) UM_WARN_UNUSED;

/* Build the bytes a link certificate signs into out (LINK_CERT_MSG_LEN bytes). */
enum { LINK_CERT_MSG_LEN = 19 + 32 + 32 + 8 };
void link_cert_msg(uint8_t out[LINK_CERT_MSG_LEN], const uint8_t id[LINK_ID_LEN],
                   const uint8_t link_pub[32], uint64_t expires);

/*
 * Parse a handshake frame header at in: UM_ERR_TRUNCATED until len + 2 bytes are there,
 * UM_ERR_MALFORMED for a length outside [LINK_HS_MIN_FRAME, LINK_HS_MAX_FRAME]. On success
 * *body points at the message and the return value is the whole frame's length.
 */
ssize_t link_frame_parse(const uint8_t *in, size_t len, const uint8_t **body,
                         size_t *body_len) UM_WARN_UNUSED;

#endif /* UM_LINK_LINK_MSG_H */
