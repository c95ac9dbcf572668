/* SPDX-License-Identifier: MIT */
/* The issuer-keys section: lifetime and edits (dir_issuers.h). The wire side is
 * dir_issuers_parse.c. */
#include "directory/dir_issuers.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "crypto/hash.h"

void
dir_issuers_clear(struct dir_issuers *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n && i < DIR_MAX_ISSUERS; i++)
		free(s->v[i].doc);
	memset(s, 0, sizeof(*s));
}

int
dir_issuers_set(struct dir_issuers *s, const uint8_t identity[DIR_ISSUER_ID_LEN],
                const uint8_t *doc, size_t len)
{
	struct dir_issuer *e;
	uint8_t *copy;
	size_t i = 0;
	int c = 1;

	if (doc == NULL || len == 0 || len > DIR_ISSUER_DOC_MAX_LEN || s->n > DIR_MAX_ISSUERS)
		return UM_ERR_INVALID;
	while (i < s->n && (c = memcmp(s->v[i].identity, identity, DIR_ISSUER_ID_LEN)) < 0)
		i++;
	if (i < s->n && c == 0) {
		e = &s->v[i];
	} else {
		if (s->n == DIR_MAX_ISSUERS)
			return UM_ERR_TOO_LARGE;
		memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(s->v[0]));
		s->n++;
		e = &s->v[i];
		memset(e, 0, sizeof(*e));
		memcpy(e->identity, identity, DIR_ISSUER_ID_LEN);
	}
	/* Copied before the old blob goes: doc may be a view into it. */
	copy = um_xmalloc(len);
	memcpy(copy, doc, len);
	free(e->doc);
	e->doc = copy;
	e->len = len;
	hash_blake2b(e->digest, DIR_ISSUER_DIGEST_LEN, copy, len, NULL, 0);
	return UM_OK;
}

const struct dir_issuer *
dir_issuers_find(const struct dir_issuers *s, const uint8_t identity[DIR_ISSUER_ID_LEN])
{
	for (size_t i = 0; i < s->n && i < DIR_MAX_ISSUERS; i++) {
		if (memcmp(s->v[i].identity, identity, DIR_ISSUER_ID_LEN) == 0)
			return &s->v[i];
	}
	return NULL;
}
