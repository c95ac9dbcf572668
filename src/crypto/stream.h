/* SPDX-License-Identifier: MIT */
/*
 * Raw ChaCha20 (RFC 8439: 256-bit key, 96-bit nonce, 32-bit block counter) as a keystream XOR,
 * on OpenSSL EVP (PROTOCOLS.md: bulk symmetric crypto goes through EVP). No authentication:
 * callers add their own integrity (relay crypto's running digest). One struct stream_chacha20
 * per key and direction holds just the key (no heap: relays keep two per circuit); the
 * EVP context is one per thread, made on first use and reused by every key and call, so
 * the data path never allocates. Not thread-safe: one owner per struct stream_chacha20.
 */
#ifndef UM_CRYPTO_STREAM_H
#define UM_CRYPTO_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"

enum stream_limits {
	STREAM_KEY_LEN = 32,
	STREAM_NONCE_LEN = 12,
	STREAM_BLOCK_LEN = 64,
};

struct stream_chacha20 {
	uint8_t key[STREAM_KEY_LEN];
	bool keyed; /* false when cleared */
};

/* Key a stream. UM_ERR_CRYPTO if this thread's EVP context cannot be made (then nothing to
 * clear). */
int stream_chacha20_init(struct stream_chacha20 *s,
                         const uint8_t key[STREAM_KEY_LEN]) UM_WARN_UNUSED;
/*
 * out = in XOR ChaCha20(key, nonce) keystream starting at block block_counter (byte offset
 * 64 * block_counter). in and out may be the same buffer. Each call starts afresh: no
 * keystream is carried over between calls. UM_ERR_TOO_LARGE if the 32-bit block counter would
 * wrap (block_counter + ceil(len / 64) > 2^32) or len > INT32_MAX; UM_ERR_STATE if cleared.
 */
int stream_chacha20_xor(struct stream_chacha20 *s, const uint8_t nonce[STREAM_NONCE_LEN],
                        uint32_t block_counter, const uint8_t *in, uint8_t *out,
                        size_t len) UM_WARN_UNUSED;
/* Wipe the key (and this thread's EVP context, which may still hold it). Safe on a cleared
 * stream. */
void stream_chacha20_clear(struct stream_chacha20 *s);

#endif /* UM_CRYPTO_STREAM_H */
