/* SPDX-License-Identifier: MIT */
/* Test-vector loading: shared/vectors/ JSON through jansson, hex through lib/encoding. */
#include "helpers/vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/encoding.h"

json_t *
vec_load(const char *rel)
{
	char path[1024];
	json_error_t err;
	json_t *j;

	snprintf(path, sizeof(path), "%s/vectors/%s", UM_SHARED_DIR, rel);
	j = json_load_file(path, 0, &err);
	if (j == NULL) {
		fprintf(stderr, "cannot load vectors %s: %s (line %d)\n", path, err.text, err.line);
		abort();
	}
	return j;
}

long
vec_hex_value(const json_t *v, uint8_t *out, size_t cap)
{
	const char *s;
	ssize_t n;

	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	if (strncmp(s, "0x", 2) == 0)
		s += 2;
	n = dec_hex(out, cap, s, strlen(s));
	if (n < 0) {
		fprintf(stderr, "bad hex in vector: %.40s\n", s);
		abort();
	}
	return (long)n;
}

long
vec_hex(const json_t *obj, const char *key, uint8_t *out, size_t cap)
{
	return vec_hex_value(json_object_get(obj, key), out, cap);
}
