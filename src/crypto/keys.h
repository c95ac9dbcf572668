/* SPDX-License-Identifier: MIT */
/*
 * Long-term keys: Ed25519 identities, X25519 static keys, signatures, Diffie-Hellman, and key
 * files. Secret halves live in sodium_malloc'd memory (guard pages, wiped on free).
 *
 * Key file format (text, docs/PROTOCOL.md "Key files"):
 *     umbra-key-v1 ed25519\n      (or x25519)
 *     <base64 of the 32-byte secret (Ed25519 seed or X25519 scalar)>\n
 * Files are created 0600 with O_EXCL and read only if they are regular files owned by us with
 * no group/other permission bits; anything else is refused with an actionable message.
 */
#ifndef UM_CRYPTO_KEYS_H
#define UM_CRYPTO_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"

enum keys_limits {
	ED25519_PK_LEN = 32,
	ED25519_SEED_LEN = 32,
	ED25519_SIG_LEN = 64,
	X25519_KEY_LEN = 32,
	KEYFILE_MAX_LEN = 256,
};

struct keys_ed25519 {
	uint8_t pk[ED25519_PK_LEN];
	uint8_t *sk; /* 64 bytes (seed || pk), sodium_malloc; NULL when cleared */
};

struct keys_x25519 {
	uint8_t pk[X25519_KEY_LEN];
	uint8_t *sk; /* 32 bytes, sodium_malloc; NULL when cleared */
};

enum secretfile_limits {
	SECRETFILE_MIN_LEN = 16,
	SECRETFILE_MAX_LEN = 256,
};

enum keyfile_type {
	KEYFILE_ED25519 = 1,
	KEYFILE_X25519 = 2,
};

void keys_ed25519_generate(struct keys_ed25519 *k);
void keys_ed25519_from_seed(struct keys_ed25519 *k, const uint8_t seed[ED25519_SEED_LEN]);
/* Copy the 32-byte seed out (to save it); the caller wipes it. */
void keys_ed25519_seed(const struct keys_ed25519 *k, uint8_t seed[ED25519_SEED_LEN]);
void keys_ed25519_clear(struct keys_ed25519 *k);
void sign_ed25519(const struct keys_ed25519 *k, const void *msg, size_t len,
                  uint8_t sig[ED25519_SIG_LEN]);
/* UM_OK if sig is pk's signature of msg, UM_ERR_AUTH otherwise. */
int sign_ed25519_verify(const uint8_t pk[ED25519_PK_LEN], const void *msg, size_t len,
                        const uint8_t sig[ED25519_SIG_LEN]) UM_WARN_UNUSED;
/* The same over label 0x00 | msg (label: a NUL-terminated string, its NUL the separator), the
 * domain separation of every signed document: a signature under one label is worthless under
 * another. */
void sign_ed25519_labeled(const struct keys_ed25519 *k, const char *label, const void *msg,
                          size_t len, uint8_t sig[ED25519_SIG_LEN]);
int sign_ed25519_verify_labeled(const uint8_t pk[ED25519_PK_LEN], const char *label,
                                const void *msg, size_t len,
                                const uint8_t sig[ED25519_SIG_LEN]) UM_WARN_UNUSED;

void keys_x25519_generate(struct keys_x25519 *k);
void keys_x25519_from_secret(struct keys_x25519 *k, const uint8_t sk[X25519_KEY_LEN]);
void keys_x25519_clear(struct keys_x25519 *k);
void keys_x25519_public(uint8_t pk[X25519_KEY_LEN], const uint8_t sk[X25519_KEY_LEN]);
/* out = X25519(sk, pk); UM_ERR_CRYPTO if the result is all zero (low-order pk). */
int keys_x25519_dh(uint8_t out[X25519_KEY_LEN], const uint8_t sk[X25519_KEY_LEN],
                   const uint8_t pk[X25519_KEY_LEN]) UM_WARN_UNUSED;

/* Parse key file contents (pure; fuzzed). UM_ERR_MALFORMED on anything but the exact format. */
int keyfile_parse(const uint8_t *data, size_t len, enum keyfile_type *type,
                  uint8_t secret[X25519_KEY_LEN]) UM_WARN_UNUSED;
/* Encode into out (at least KEYFILE_MAX_LEN bytes); returns the length written via *len. */
int keyfile_encode(enum keyfile_type type, const uint8_t secret[X25519_KEY_LEN], char *out,
                   size_t out_len, size_t *len) UM_WARN_UNUSED;
/*
 * Create path (mode 0600, O_EXCL: an existing file is UM_ERR_EXISTS) holding secret, fsync'd.
 * On error why (may be NULL) receives a sentence for the user.
 */
int keyfile_write(const char *path, enum keyfile_type type, const uint8_t secret[X25519_KEY_LEN],
                  char *why, size_t why_len) UM_WARN_UNUSED;
/*
 * Read path after checking it is a regular file owned by the effective user with mode 0600 or
 * stricter (UM_ERR_PERM otherwise, with the chmod/chown to run in why), and of the expected
 * type (UM_ERR_MALFORMED). UM_ERR_NOT_FOUND if it does not exist.
 */
int keyfile_read(const char *path, enum keyfile_type type, uint8_t secret[X25519_KEY_LEN],
                 char *why, size_t why_len) UM_WARN_UNUSED;
/*
 * A one-line secret such as a bearer token. secretfile_write creates path like keyfile_write
 * (0600, O_EXCL, fsync'd) holding text (SECRETFILE_MIN_LEN..SECRETFILE_MAX_LEN characters, no
 * newline) and a newline. secretfile_read checks the file like keyfile_read and copies its
 * line, without the newline, NUL-terminated, into out (at least SECRETFILE_MAX_LEN + 1 bytes;
 * the caller wipes it). UM_ERR_MALFORMED for anything but one such line.
 */
int secretfile_write(const char *path, const char *text, char *why, size_t why_len) UM_WARN_UNUSED;
int secretfile_read(const char *path, char *out, size_t out_len, char *why,
                    size_t why_len) UM_WARN_UNUSED;
int keys_ed25519_load(const char *path, struct keys_ed25519 *k, char *why,
                      size_t why_len) UM_WARN_UNUSED;
int keys_x25519_load(const char *path, struct keys_x25519 *k, char *why,
                     size_t why_len) UM_WARN_UNUSED;

#endif /* UM_CRYPTO_KEYS_H */
