/* SPDX-License-Identifier: MIT */
/*
 * Fixed-size cells, the unit a link carries (Tor link-v4 shape, PROTOCOLS.md "cells"):
 *
 *     CircID [4, big-endian] | Command [1] | Payload [509]      = 514 bytes
 *
 * On the wire each cell is one 530-byte record: ChaCha20-Poly1305(cell) with the link's
 * transport key (docs/protocol/link.md). Commands below 128 belong to the circuit layer and
 * are passed up; the link layer itself consumes PADDING and the link-local commands >= 240.
 */
#ifndef UM_LINK_CELL_H
#define UM_LINK_CELL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/compiler.h"

enum cell_limits {
	CELL_LEN = 514,
	CELL_HEADER_LEN = 5,
	CELL_PAYLOAD_LEN = 509,
	LINK_RECORD_LEN = 530, /* CELL_LEN + AEAD tag */
};

enum cell_cmd {
	CELL_PADDING = 0,
	CELL_RELAY = 3,
	CELL_DESTROY = 4,
	CELL_RELAY_EARLY = 9,
	CELL_CREATE2 = 10,
	CELL_CREATED2 = 11,
	/* Link-local commands, never forwarded. */
	CELL_LINK_CLOSE = 240,       /* payload: reason [1]; the sender closes after it */
	CELL_LINK_TEST = 241,        /* diagnostic bulk data (umbra link test) */
	CELL_LINK_TEST_END = 242,    /* payload: bytes [8] | sha256 [32] of the test payloads */
	CELL_LINK_TEST_RESULT = 243, /* payload: verified [1] | bytes [8] | sha256 [32] */
};

struct cell {
	uint32_t circ_id;
	uint8_t cmd;
	uint8_t payload[CELL_PAYLOAD_LEN];
};

/* Decode exactly CELL_LEN bytes (any command value decodes; callers dispatch). */
ssize_t cell_parse(const uint8_t *in, size_t len, struct cell *out) UM_WARN_UNUSED;
/* Encode into out[CELL_LEN]. */
void cell_encode(const struct cell *c, uint8_t out[CELL_LEN]);

#endif /* UM_LINK_CELL_H */
