/* SPDX-License-Identifier: MIT */
/*
 * Circuit-layer cell payloads, sans-I/O (docs/PROTOCOL.md section 11.1): the payload of a
 * CREATE2, CREATED2 or DESTROY cell (link/cell.h carries the 509 payload bytes), and circuit
 * ID selection. Tor tor-spec sections 5.1 and 5.4, with our restrictions:
 *
 *   CREATE2  = HTYPE [2] | HLEN [2] | HDATA [HLEN] | padding       HTYPE 2 (ntor), HLEN 84
 *   CREATED2 = HLEN [2] | HDATA [HLEN] | padding                   ntor reply: HLEN 64
 *   DESTROY  = reason [1] | padding
 *
 * Encoders fill the whole 509-byte payload, padding with zero bytes; parsers read what the
 * layout says and ignore the padding after it. Parsed structs hold copies, never views into
 * the cell. This file does no crypto: HDATA is opaque here (crypto/ntor builds and checks it).
 */
#ifndef UM_CIRCUIT_CELL_MSG_H
#define UM_CIRCUIT_CELL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/wire.h"
#include "link/cell.h"

enum circ_cell_limits {
	CIRC_HTYPE_NTOR = 2,          /* the only handshake type we speak */
	CIRC_NTOR_ONIONSKIN_LEN = 84, /* NODEID [20] | KEYID [32] | X [32] */
	CIRC_NTOR_REPLY_LEN = 64,     /* Y [32] | AUTH [32] */
	CIRC_CREATE2_HDR_LEN = 4,     /* HTYPE | HLEN */
	CIRC_CREATED2_HDR_LEN = 2,    /* HLEN */
	CIRC_CREATE2_HDATA_MAX = CELL_PAYLOAD_LEN - CIRC_CREATE2_HDR_LEN,   /* 505 */
	CIRC_CREATED2_HDATA_MAX = CELL_PAYLOAD_LEN - CIRC_CREATED2_HDR_LEN, /* 507 */
	CIRC_ID_MAX_TRIES = 64, /* random picks before circ_id_pick() gives up */
};

/* The side that opened the link sets this bit in every CircID it picks; the other side clears it.
 */
#define CIRC_ID_INITIATOR_BIT 0x80000000u

/* DESTROY and TRUNCATED reasons (tor-spec 5.4). */
enum circ_destroy_reason {
	CIRC_REASON_NONE = 0,
	CIRC_REASON_PROTOCOL = 1,
	CIRC_REASON_INTERNAL = 2,
	CIRC_REASON_REQUESTED = 3,
	CIRC_REASON_HIBERNATING = 4,
	CIRC_REASON_RESOURCELIMIT = 5,
	CIRC_REASON_CONNECTFAILED = 6,
	CIRC_REASON_OR_IDENTITY = 7,
	CIRC_REASON_CHANNEL_CLOSED = 8,
	CIRC_REASON_FINISHED = 9,
	CIRC_REASON_TIMEOUT = 10,
	CIRC_REASON_DESTROYED = 11,
	CIRC_REASON_NOSUCHSERVICE = 12,
	CIRC_REASON_MAX = 12,
};

/* A handshake request: CREATE2's payload, and the tail of an EXTEND2 message. */
struct circ_create2 {
	uint16_t htype; /* CIRC_HTYPE_NTOR */
	uint16_t hlen;  /* CIRC_NTOR_ONIONSKIN_LEN for ntor */
	uint8_t hdata[CIRC_CREATE2_HDATA_MAX];
};

/*
 * A handshake reply: CREATED2's payload, and an EXTENDED2 message. The reply does not name
 * its HTYPE: the circuit layer checks hlen == circ_htype_reply_len(htype it sent).
 */
struct circ_created2 {
	uint16_t hlen;
	uint8_t hdata[CIRC_CREATED2_HDATA_MAX];
};

/* Return the name of a DESTROY/TRUNCATED reason ("protocol", ...), "unknown" if not one. */
const char *circ_destroy_reason_str(uint8_t reason);

/* Return the HDATA length of a request (reply) for htype, 0 for a type we do not speak. */
size_t circ_htype_request_len(uint16_t htype);
size_t circ_htype_reply_len(uint16_t htype);

/*
 * Parse a cell payload (len bytes, normally CELL_PAYLOAD_LEN; bytes after the message are
 * padding and ignored). UM_OK, UM_ERR_TRUNCATED if len ends inside the message, or
 * UM_ERR_MALFORMED: an HTYPE other than ntor, an HLEN other than the type's length, an HLEN
 * beyond the payload, a reason out of range. *out is written only on UM_OK.
 */
int circ_create2_parse(const uint8_t *payload, size_t len, struct circ_create2 *out) UM_WARN_UNUSED;
int circ_created2_parse(const uint8_t *payload, size_t len,
                        struct circ_created2 *out) UM_WARN_UNUSED;
int circ_destroy_parse(const uint8_t *payload, size_t len, uint8_t *reason) UM_WARN_UNUSED;

/*
 * The reader-level forms shared with EXTEND2/EXTENDED2 (relay_msg.h): read one request
 * (reply) from r, leaving r after HDATA. hdata_max bounds HLEN for a reply (MALFORMED above
 * it). *out is written only on UM_OK; r is left anywhere on error.
 */
int circ_create2_read(struct wire_rd *r, struct circ_create2 *out) UM_WARN_UNUSED;
int circ_created2_read(struct wire_rd *r, size_t hdata_max,
                       struct circ_created2 *out) UM_WARN_UNUSED;

/*
 * Encode into out[CELL_PAYLOAD_LEN], zero padded. UM_ERR_INVALID (nothing meaningful in out)
 * if the struct would not parse back: unknown htype, wrong hlen, unknown reason.
 */
int circ_create2_encode(const struct circ_create2 *c, uint8_t out[CELL_PAYLOAD_LEN]) UM_WARN_UNUSED;
int circ_created2_encode(const struct circ_created2 *c,
                         uint8_t out[CELL_PAYLOAD_LEN]) UM_WARN_UNUSED;
int circ_destroy_encode(uint8_t reason, uint8_t out[CELL_PAYLOAD_LEN]) UM_WARN_UNUSED;
/* Writer-level forms (write nothing on error). */
int circ_create2_write(struct wire_wr *w, const struct circ_create2 *c) UM_WARN_UNUSED;
int circ_created2_write(struct wire_wr *w, const struct circ_created2 *c) UM_WARN_UNUSED;

/* Return whether circ_id may be used by a cell whose sender is (is not) the link's initiator. */
bool circ_id_is_valid(uint32_t circ_id, bool sender_is_link_initiator);

/* Tell whether circ_id is already used on this link. arg is circ_id_pick()'s arg. */
typedef bool circ_id_in_use_fn(uint32_t circ_id, void *arg);

/*
 * Pick a random unused CircID for a new circuit on a link: nonzero, with CIRC_ID_INITIATOR_BIT
 * set iff we opened the link (link_initiator). in_use is asked about each candidate; after
 * CIRC_ID_MAX_TRIES candidates in use, give up with UM_ERR_EXISTS (the link is nearly full:
 * use another). UM_OK and *out set otherwise.
 */
int circ_id_pick(bool link_initiator, circ_id_in_use_fn *in_use, void *arg,
                 uint32_t *out) UM_WARN_UNUSED;

#endif /* UM_CIRCUIT_CELL_MSG_H */
