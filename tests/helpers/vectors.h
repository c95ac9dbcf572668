/* SPDX-License-Identifier: MIT */
/* Test helpers: load JSON test vectors from shared/vectors/ and decode hex fields. */
#ifndef UM_TESTS_HELPERS_VECTORS_H
#define UM_TESTS_HELPERS_VECTORS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* Load shared/vectors/<rel> (aborts the test run with a message if unreadable). */
json_t *vec_load(const char *rel);
/* Decode hex field key of obj into out (cap bytes); returns the length, or -1 if absent. */
long vec_hex(const json_t *obj, const char *key, uint8_t *out, size_t cap);
/* Decode a hex JSON string value. */
long vec_hex_value(const json_t *v, uint8_t *out, size_t cap);

#endif /* UM_TESTS_HELPERS_VECTORS_H */
