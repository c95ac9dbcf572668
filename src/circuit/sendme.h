/* SPDX-License-Identifier: MIT */
/*
 * Authenticated SENDME v1 bookkeeping, sans-I/O (prop 289 shape; docs/PROTOCOL.md section
 * 14.3). DATA cells of a circuit are counted at both endpoints, in one direction:
 *
 *   sender (struct sendme_snd)                      receiver (struct sendme_rcv)
 *   len <= sendme_snd_data_max()
 *   relay crypto digests the DATA cell
 *   sendme_snd_on_data_sent(len, digest)  -- DATA -->  relay crypto recognizes it
 *     every sendme_inc-th cell: keep digest            sendme_rcv_on_data(digest, &due)
 *                                                      every sendme_inc-th cell: due
 *                                                      sendme_rcv_next(&sendme): 16-byte
 *   sendme_snd_on_sendme(&sendme)       <-- SENDME --  digest of that cell
 *     must equal the oldest kept digest (constant time)
 *
 * The digest is the 16-byte relay-crypto v1 Digest field of the DATA cell (section 7.4): the
 * running keyed BLAKE2b of everything the endpoint sent before, and the cell itself. A peer
 * that has not received the cell cannot produce it, provided the cell holds bytes it cannot
 * predict; sendme_snd_data_max() makes sure one DATA cell per SENDME does.
 *
 * Both objects are fixed-size: a sender keeps at most window / sendme_inc digests, and a
 * receiver refuses (UM_ERR_PROTOCOL) a DATA cell that takes it more than window cells past
 * the SENDMEs it has sent (the hard safety cap that survives from Tor's fixed windows).
 * Any error from a function here means the circuit must be destroyed (reason PROTOCOL), except
 * UM_ERR_INVALID, a local caller's mistake that changed nothing. Not thread-safe: one owner.
 */
#ifndef UM_CIRCUIT_SENDME_H
#define UM_CIRCUIT_SENDME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "circuit/relay_msg.h"

enum sendme_limits {
	SENDME_DIGEST_LEN = RELAY_SENDME_DIGEST_LEN, /* 16 */
	/*
	 * A DATA cell "carries randomness" when its Data leaves at least this many bytes of
	 * padding: relay_body_encode() writes RELAY_PAD_ZERO_LEN (4) zero bytes, then random
	 * ones, so 16 bytes of padding hold 12 random bytes (96 bits), as C Tor's
	 * RELAY_CELL_PADDING_GAP. A full cell (486 bytes of Data) has no padding at all.
	 */
	SENDME_RANDOM_GAP = 16,
	SENDME_RANDOM_DATA_MAX = RELAY_DATA_MAX - SENDME_RANDOM_GAP, /* 470 */
};

struct sendme_snd;
struct sendme_rcv;

/*
 * Return in *out a new sender state for SENDMEs every sendme_inc (1..255) DATA cells with at
 * most window (>= sendme_inc) cells in flight (the congestion controller's cwnd_max). The
 * caller owns it and frees it with sendme_snd_free(). UM_ERR_INVALID for bad arguments.
 */
int sendme_snd_new(uint32_t sendme_inc, uint32_t window, struct sendme_snd **out) UM_WARN_UNUSED;
void sendme_snd_free_(struct sendme_snd *s);
#define sendme_snd_free(s) UM_FREE_AND_NULL(sendme_snd_free_, s)

/*
 * The most Data bytes the next DATA cell may carry: RELAY_DATA_MAX (486), except for the last
 * cell before a SENDME is due when none of the window's earlier cells carried randomness:
 * then SENDME_RANDOM_DATA_MAX (470), so at least one cell in every sendme_inc (and so in every
 * 100) has 12 unpredictable bytes.
 */
size_t sendme_snd_data_max(const struct sendme_snd *s);
/*
 * Account a DATA cell with len bytes of Data (1..sendme_snd_data_max()) whose relay-crypto
 * digest is digest; keep the digest if it is the sendme_inc-th cell. UM_ERR_INVALID (nothing
 * changed) for a bad len; UM_ERR_TOO_LARGE if window / sendme_inc digests are already kept
 * (we sent past any window the peer allows).
 */
int sendme_snd_on_data_sent(struct sendme_snd *s, size_t len,
                            const uint8_t digest[SENDME_DIGEST_LEN]) UM_WARN_UNUSED;
/*
 * Check a received SENDME against the oldest kept digest, in constant time; on UM_OK drop
 * that digest (the caller then calls cc_on_sendme()). UM_ERR_PROTOCOL if no SENDME was due,
 * UM_ERR_AUTH if the digest differs (state unchanged either way; the circuit must close).
 */
int sendme_snd_on_sendme(struct sendme_snd *s, const struct relay_sendme *m) UM_WARN_UNUSED;
/* Digests kept (SENDMEs due). */
size_t sendme_snd_pending(const struct sendme_snd *s);

/*
 * Return in *out a new receiver state (same arguments as sendme_snd_new(); the deliver window
 * starts at window). The caller owns it and frees it with sendme_rcv_free().
 */
int sendme_rcv_new(uint32_t sendme_inc, uint32_t window, struct sendme_rcv **out) UM_WARN_UNUSED;
void sendme_rcv_free_(struct sendme_rcv *r);
#define sendme_rcv_free(r) UM_FREE_AND_NULL(sendme_rcv_free_, r)

/*
 * Account a DATA cell recognized on this circuit (any stream, known or not) whose Digest
 * field is digest: the deliver window drops by one; every sendme_inc-th cell queues a SENDME
 * and sets *sendme_due. UM_ERR_PROTOCOL (nothing changed) if the window would fall below 0:
 * the sender ignored flow control.
 */
int sendme_rcv_on_data(struct sendme_rcv *r, const uint8_t digest[SENDME_DIGEST_LEN],
                       bool *sendme_due) UM_WARN_UNUSED;
/*
 * Pop the oldest queued SENDME into *out as the circuit sends it; the deliver window grows
 * by sendme_inc. UM_ERR_NOT_FOUND if none is queued. Call it when the SENDME cell is
 * packaged, not earlier: the window is what the sender has been allowed so far.
 */
int sendme_rcv_next(struct sendme_rcv *r, struct relay_sendme *out) UM_WARN_UNUSED;
/* The deliver window (cells the sender may still send before our next SENDME). */
int64_t sendme_rcv_window(const struct sendme_rcv *r);

#endif /* UM_CIRCUIT_SENDME_H */
