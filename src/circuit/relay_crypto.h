/* SPDX-License-Identifier: MIT */
/*
 * Relay crypto v1 (docs/PROTOCOL.md "Relay crypto v1"): one layer of ChaCha20 per hop and
 * direction on the 509-byte relay-cell body, plus a 16-byte running keyed-BLAKE2b digest that
 * tells the hop a cell is for (Tor's "tor1" shape with ChaCha20 and BLAKE2b in place of
 * AES-CTR and SHA-1).
 *
 * A struct relay_crypto is one hop's state, the same on both ends of the hop: the client keeps
 * one per hop of its circuit, a relay one per circuit. It is keyed from the 184 bytes of ntor
 * key material: Df [32] | Db [32] | Kf [32] | Kb [32] | Nf [12] | Nb [12] | KH [32].
 *
 *   client, forward:   relay_crypto_client_originate(hops, i, body)   digest by hop i,
 *                                                                     layers i..1
 *   relay, forward:    relay_crypto_relay_forward(h, body, &recognized)  remove a layer
 *   relay, backward:   relay_crypto_relay_originate(h, body)          digest + layer
 *                      relay_crypto_relay_backward(h, body)           layer only (passing)
 *   client, backward:  relay_crypto_client_receive(hops, n, body, &hop)  peel 1..n, "leaky
 *                                                                     pipe"
 *
 * Every call runs in place on the body, allocates nothing, and either succeeds or leaves the
 * states as they were. Not thread-safe: one owner per object. Sans-I/O.
 */
#ifndef UM_CIRCUIT_RELAY_CRYPTO_H
#define UM_CIRCUIT_RELAY_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"

/* The relay-cell body layout (509 bytes, the payload of a RELAY / RELAY_EARLY cell). */
enum relay_body_layout {
	RELAY_BODY_LEN = 509,
	RELAY_BODY_CMD_OFF = 0,        /* Cmd [1] */
	RELAY_BODY_RECOGNIZED_OFF = 1, /* Recognized [2], 0 in plaintext */
	RELAY_BODY_RECOGNIZED_LEN = 2,
	RELAY_BODY_STREAM_ID_OFF = 3, /* StreamID [2] */
	RELAY_BODY_DIGEST_OFF = 5,    /* Digest [16] */
	RELAY_BODY_DIGEST_LEN = 16,
	RELAY_BODY_LENGTH_OFF = 21,                                 /* Length [2] */
	RELAY_BODY_DATA_OFF = 23,                                   /* Data [Length] | Padding */
	RELAY_BODY_DATA_MAX = RELAY_BODY_LEN - RELAY_BODY_DATA_OFF, /* 486 */
};

/* Key material layout (ntor KDF output, in this order). */
enum relay_crypto_keys {
	RELAY_CRYPTO_DIGEST_KEY_LEN = 32, /* Df, Db */
	RELAY_CRYPTO_KEY_LEN = 32,        /* Kf, Kb */
	RELAY_CRYPTO_NONCE_LEN = 12,      /* Nf, Nb */
	RELAY_CRYPTO_KH_LEN = 32,         /* KH: reserved (e.g. onion-service binding) */
	RELAY_CRYPTO_KM_LEN = 2 * RELAY_CRYPTO_DIGEST_KEY_LEN + 2 * RELAY_CRYPTO_KEY_LEN +
	                      2 * RELAY_CRYPTO_NONCE_LEN + RELAY_CRYPTO_KH_LEN, /* 184 */
	RELAY_CRYPTO_MAX_HOPS = 8,
};

struct relay_crypto;

/*
 * Return in *out a new hop state keyed from km (RELAY_CRYPTO_KM_LEN bytes); cell counters
 * start at 0. The caller owns it and frees it with relay_crypto_free(), which wipes it.
 * UM_ERR_CRYPTO if the thread's cipher context cannot be made (crypto/stream.h).
 */
int relay_crypto_new(const uint8_t km[RELAY_CRYPTO_KM_LEN],
                     struct relay_crypto **out) UM_WARN_UNUSED;
void relay_crypto_free_(struct relay_crypto *rc);
#define relay_crypto_free(rc) UM_FREE_AND_NULL(relay_crypto_free_, rc)
/* Copy out KH (reserved for later use). */
void relay_crypto_kh(const struct relay_crypto *rc, uint8_t kh[RELAY_CRYPTO_KH_LEN]);
/*
 * The Digest of the last cell originated or recognized in a direction (forward: toward the
 * exit) at this hop: what an authenticated SENDME for that cell echoes (sendme.h). All zero
 * before the first cell.
 */
void relay_crypto_last_digest(const struct relay_crypto *rc, bool forward,
                              uint8_t out[RELAY_BODY_DIGEST_LEN]);

/*
 * Client: send body (plaintext, Recognized = 0; the Digest field is overwritten) to hop
 * `target` (1-based) of the circuit hops[0..target): set its digest with hops[target - 1]'s
 * forward digest, then add the forward layers of hops target..1. UM_ERR_INVALID for a bad
 * target, UM_ERR_TOO_LARGE if a hop's forward counter is exhausted (the circuit must close).
 */
int relay_crypto_client_originate(struct relay_crypto *const *hops, size_t target,
                                  uint8_t body[RELAY_BODY_LEN]) UM_WARN_UNUSED;
/*
 * Client: body came back on the circuit hops[0..n_hops). Peel layer 1, 2, ... and after each
 * check whether that hop originated it; on UM_OK *hop is the 1-based hop and body the
 * plaintext. UM_ERR_AUTH if no hop recognizes it (the circuit must close; the layers it
 * crossed stay counted), UM_ERR_TOO_LARGE on an exhausted counter.
 */
int relay_crypto_client_receive(struct relay_crypto *const *hops, size_t n_hops,
                                uint8_t body[RELAY_BODY_LEN], size_t *hop) UM_WARN_UNUSED;
/*
 * Relay: remove our forward layer from a cell coming from the client side. *recognized tells
 * whether it is for us (then body is plaintext and the forward digest has absorbed it) or is
 * to be passed on to the next hop unchanged from here.
 */
int relay_crypto_relay_forward(struct relay_crypto *rc, uint8_t body[RELAY_BODY_LEN],
                               bool *recognized) UM_WARN_UNUSED;
/* Relay: originate a backward cell (plaintext body; set its digest, add our layer). */
int relay_crypto_relay_originate(struct relay_crypto *rc,
                                 uint8_t body[RELAY_BODY_LEN]) UM_WARN_UNUSED;
/* Relay: add our backward layer to a cell coming from further along the circuit. */
int relay_crypto_relay_backward(struct relay_crypto *rc,
                                uint8_t body[RELAY_BODY_LEN]) UM_WARN_UNUSED;

#ifdef UM_UNIT_TESTS
/* Set the next cell index of each direction (counter-exhaustion tests and vectors). */
void relay_crypto_set_counters(struct relay_crypto *rc, uint64_t fwd, uint64_t bwd);
/* sizeof(struct relay_crypto) (memory accounting in tests; it holds every key: no heap). */
size_t relay_crypto_state_size(void);
#endif

#endif /* UM_CIRCUIT_RELAY_CRYPTO_H */
