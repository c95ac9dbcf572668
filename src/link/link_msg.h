/* SPDX-License-Identifier: MIT */
/*
 * Link handshake wire formats (docs/protocol/link.md):
 *
 *   initiator -> responder: version [1] = 1 | pattern [1] (1 = NK, 2 = XK) | frame(msg1)
 *   responder -> initiator: frame(msg2)
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
};

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
