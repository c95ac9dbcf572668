/* SPDX-License-Identifier: MIT */
/*
 * Text encodings: hex, base32 (RFC 4648 alphabet, lower case, no padding; node ids and
 * .anon addresses) and base64 (RFC 4648, padded). Encoders write a NUL-terminated string and
 * fail with UM_ERR_TOO_LARGE if out is too small; decoders are strict (no whitespace, no
 * mixed padding, non-canonical trailing bits rejected) and return bytes written or an error.
 * Hex and base64 use libsodium's constant-time codecs, so they are safe for keys.
 */
#ifndef UM_LIB_ENCODING_H
#define UM_LIB_ENCODING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/compiler.h"

#define HEX_LEN(n)    ((n)*2 + 1)
#define BASE32_LEN(n) (((n)*8 + 4) / 5 + 1)
#define BASE64_LEN(n) ((((n) + 2) / 3) * 4 + 1)

int enc_hex(char *out, size_t out_len, const void *in, size_t in_len) UM_WARN_UNUSED;
/* Decode exactly; returns bytes written, UM_ERR_MALFORMED or UM_ERR_TOO_LARGE. */
ssize_t dec_hex(void *out, size_t out_len, const char *in, size_t in_len) UM_WARN_UNUSED;
int enc_base32(char *out, size_t out_len, const void *in, size_t in_len) UM_WARN_UNUSED;
ssize_t dec_base32(void *out, size_t out_len, const char *in, size_t in_len) UM_WARN_UNUSED;
int enc_base64(char *out, size_t out_len, const void *in, size_t in_len) UM_WARN_UNUSED;
ssize_t dec_base64(void *out, size_t out_len, const char *in, size_t in_len) UM_WARN_UNUSED;

#endif /* UM_LIB_ENCODING_H */
