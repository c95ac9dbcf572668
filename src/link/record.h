/* SPDX-License-Identifier: MIT */
/*
 * The link record layer, sans-I/O: each cell travels as one 530-byte record,
 * ChaCha20-Poly1305(k, n, ad = "", cell[514]), with the nonce implicit and strictly
 * sequential per direction (TCP delivers in order, so any replay, reorder, drop or bit flip
 * fails authentication). Each direction rekeys (Noise Rekey()) before records number
 * 65536, 131072, ... so no signalling is needed; a link is refused past 2^48 records in a
 * direction and must be re-established.
 */
#ifndef UM_LINK_RECORD_H
#define UM_LINK_RECORD_H

#include <stdint.h>

#include "lib/compiler.h"
#include "crypto/noise.h"
#include "link/cell.h"

enum record_limits {
	LINK_REKEY_INTERVAL = 65536,
	LINK_MAX_RECORDS_LOG2 = 48,
};

struct link_rec {
	struct noise_cs send;
	struct noise_cs recv;
	uint64_t rekeys_tx;
	uint64_t rekeys_rx;
};

/* Take ownership of the two transport states (they are zeroed in the caller's copies). */
void link_rec_init(struct link_rec *r, struct noise_cs *send, struct noise_cs *recv);
int link_rec_seal(struct link_rec *r, const uint8_t cell[CELL_LEN],
                  uint8_t out[LINK_RECORD_LEN]) UM_WARN_UNUSED;
/* UM_ERR_AUTH if the record does not authenticate (the link must close). */
int link_rec_open(struct link_rec *r, const uint8_t in[LINK_RECORD_LEN],
                  uint8_t cell[CELL_LEN]) UM_WARN_UNUSED;
void link_rec_clear(struct link_rec *r);

#endif /* UM_LINK_RECORD_H */
