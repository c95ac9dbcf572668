/* SPDX-License-Identifier: MIT */
/*
 * Tor's ntor circuit handshake, v1 (tor-spec 5.1.4, "ntor-curve25519-sha256-1", CREATE2
 * HTYPE 2), bit-exact; docs/PROTOCOL.md "Circuit handshake (ntor v1)".
 *
 *   client                                              relay (identity ID, onion key b, B)
 *   x, X = KEYGEN()
 *   ---- onionskin = NODEID [20] | KEYID = B [32] | X [32]  (84 bytes) ---->
 *                                                       y, Y = KEYGEN()
 *                                                       secret_input = EXP(X,y) | EXP(X,b) |
 *                                                         ID | B | X | Y | PROTOID
 *                                                       verify = H(secret_input, t_verify)
 *                                                       AUTH = H(verify | ID | B | Y | X |
 *                                                         PROTOID | "Server", t_mac)
 *   <--- reply = Y [32] | AUTH [32]  (64 bytes) ------------------------
 *   secret_input = EXP(Y,x) | EXP(B,x) | ...; check AUTH (constant time)
 *
 * H(m, t) = HMAC-SHA256(key = t, m). Both ends then derive key material with HKDF-SHA256
 * (salt = t_key, IKM = secret_input, info = m_expand), of any length the caller asks for.
 * Both ends refuse an all-zero X25519 result (a low-order point).
 *
 * umbra's NODEID is the first 20 bytes of the relay's Ed25519 identity public key
 * (ntor_node_id()); Tor's is the SHA-1 of the RSA identity.
 *
 * Sans-I/O: bytes in, bytes out. Secret intermediates are wiped before returning.
 */
#ifndef UM_CRYPTO_NTOR_H
#define UM_CRYPTO_NTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "crypto/keys.h"

enum ntor_limits {
	NTOR_HTYPE = 2, /* CREATE2 handshake type */
	NTOR_NODE_ID_LEN = 20,
	NTOR_KEY_LEN = 32,
	NTOR_ONIONSKIN_LEN = NTOR_NODE_ID_LEN + 2 * NTOR_KEY_LEN, /* 84 */
	NTOR_REPLY_LEN = 2 * NTOR_KEY_LEN,                        /* 64 */
	NTOR_KEY_MATERIAL_MAX = 255 * 32,                         /* RFC 5869 limit for SHA-256 */
	NTOR_MAX_ONION_KEYS = 4, /* current + previous (grace period), with room */
};

/* A client's pending handshake with one relay. Holds the ephemeral secret: one owner, wiped
 * by ntor_client_finish() (whatever its result) or ntor_client_abort(). */
struct ntor_client_state {
	bool active;
	uint8_t node_id[NTOR_NODE_ID_LEN];
	uint8_t B[NTOR_KEY_LEN];
	uint8_t x[NTOR_KEY_LEN];
	uint8_t X[NTOR_KEY_LEN];
};

/* Write the NODEID of the relay with Ed25519 identity key pk (its first 20 bytes). */
void ntor_node_id(uint8_t node_id[NTOR_NODE_ID_LEN], const uint8_t pk[ED25519_PK_LEN]);

/*
 * Start a handshake with the relay node_id whose onion key is B: pick the ephemeral key, keep
 * it in st and write the 84-byte onionskin (CREATE2 / EXTEND2 HDATA).
 */
void ntor_client_start(struct ntor_client_state *st, const uint8_t node_id[NTOR_NODE_ID_LEN],
                       const uint8_t B[NTOR_KEY_LEN], uint8_t onionskin[NTOR_ONIONSKIN_LEN]);
/*
 * Complete the handshake with the relay's 64-byte reply (CREATED2 / EXTENDED2 HDATA): check
 * AUTH in constant time and write key_len (1..NTOR_KEY_MATERIAL_MAX) bytes of key material.
 * UM_ERR_AUTH if AUTH does not verify, UM_ERR_CRYPTO if Y is a low-order point,
 * UM_ERR_STATE if st is not pending (key_out is zeroed for these three), UM_ERR_INVALID for
 * a bad key_len (key_out untouched). st is wiped in every case.
 */
int ntor_client_finish(struct ntor_client_state *st, const uint8_t reply[NTOR_REPLY_LEN],
                       uint8_t *key_out, size_t key_len) UM_WARN_UNUSED;
/* Drop a pending handshake (wipes st). Safe on a wiped state. */
void ntor_client_abort(struct ntor_client_state *st);

/*
 * Answer an onionskin as the relay node_id holding the onion key pairs keys[0..n_keys) (the
 * current key and the previous one during its grace period; 1..NTOR_MAX_ONION_KEYS, borrowed
 * for the call). The key is chosen by KEYID, comparing against every key in constant time.
 * On success writes the 64-byte reply and key_len (1..NTOR_KEY_MATERIAL_MAX) bytes of key
 * material. Errors (reply_out is then zeroed, and key_out too unless key_len is bad):
 * UM_ERR_PROTOCOL if NODEID is not ours, UM_ERR_NOT_FOUND if KEYID names none of our keys,
 * UM_ERR_CRYPTO if X is a low-order point, UM_ERR_INVALID for bad arguments. Safe for any 84
 * input bytes; the caller checks HLEN == NTOR_ONIONSKIN_LEN before calling.
 */
int ntor_server_handle(const struct keys_x25519 *keys, size_t n_keys,
                       const uint8_t node_id[NTOR_NODE_ID_LEN],
                       const uint8_t onionskin[NTOR_ONIONSKIN_LEN],
                       uint8_t reply_out[NTOR_REPLY_LEN], uint8_t *key_out,
                       size_t key_len) UM_WARN_UNUSED;

#ifdef UM_UNIT_TESTS
/* As ntor_client_start() / ntor_server_handle(), with a fixed ephemeral secret (test vectors). */
void ntor_client_start_with(struct ntor_client_state *st, const uint8_t node_id[NTOR_NODE_ID_LEN],
                            const uint8_t B[NTOR_KEY_LEN], const uint8_t x[NTOR_KEY_LEN],
                            uint8_t onionskin[NTOR_ONIONSKIN_LEN]);
int ntor_server_handle_with(const struct keys_x25519 *keys, size_t n_keys,
                            const uint8_t node_id[NTOR_NODE_ID_LEN],
                            const uint8_t onionskin[NTOR_ONIONSKIN_LEN],
                            const uint8_t y[NTOR_KEY_LEN], uint8_t reply_out[NTOR_REPLY_LEN],
                            uint8_t *key_out, size_t key_len) UM_WARN_UNUSED;
#endif

#endif /* UM_CRYPTO_NTOR_H */
