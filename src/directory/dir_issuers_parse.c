/* SPDX-License-Identifier: MIT */
/*
 * The issuer-keys section: parse and encode (layout in dir_issuers.h, docs/PROTOCOL.md 5.2).
 * Each field is checked as soon as it is read, so every strict prefix is UM_ERR_TRUNCATED;
 * the blobs are copied only after the whole section was read, so a lying count or length
 * costs no allocation.
 */
#include "directory/dir_issuers.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "crypto/hash.h"

int
dir_issuers_parse(struct wire_rd *r, struct dir_issuers *out)
{
	struct dir_issuers s;
	const uint8_t *views[DIR_MAX_ISSUERS];
	uint32_t len;
	int ret;

	memset(&s, 0, sizeof(s));
	if ((ret = wire_get_u8(r, &s.n)) != UM_OK)
		return ret;
	if (s.n > DIR_MAX_ISSUERS)
		return UM_ERR_MALFORMED;
	for (size_t i = 0; i < s.n; i++) {
		struct dir_issuer *e = &s.v[i];

		if ((ret = wire_get_bytes(r, e->identity, DIR_ISSUER_ID_LEN)) != UM_OK)
			return ret;
		if (i > 0 && memcmp(s.v[i - 1].identity, e->identity, DIR_ISSUER_ID_LEN) >= 0)
			return UM_ERR_MALFORMED;
		if ((ret = wire_get_u32(r, &len)) != UM_OK)
			return ret;
		if (len == 0 || len > DIR_ISSUER_DOC_MAX_LEN)
			return UM_ERR_MALFORMED;
		if ((ret = wire_get_view(r, len, &views[i])) != UM_OK)
			return ret;
		e->len = len;
	}
	for (size_t i = 0; i < s.n; i++) {
		struct dir_issuer *e = &s.v[i];

		e->doc = um_xmalloc(e->len);
		memcpy(e->doc, views[i], e->len);
		hash_blake2b(e->digest, DIR_ISSUER_DIGEST_LEN, e->doc, e->len, NULL, 0);
	}
	*out = s;
	return UM_OK;
}

bool
dir_issuers_are_valid(const struct dir_issuers *s)
{
	if (s->n > DIR_MAX_ISSUERS)
		return false;
	for (size_t i = 0; i < s->n; i++) {
		const struct dir_issuer *e = &s->v[i];

		if (e->doc == NULL || e->len == 0 || e->len > DIR_ISSUER_DOC_MAX_LEN)
			return false;
		if (i > 0 && memcmp(s->v[i - 1].identity, e->identity, DIR_ISSUER_ID_LEN) >= 0)
			return false;
	}
	return true;
}

size_t
dir_issuers_encoded_len(const struct dir_issuers *s)
{
	size_t n = 1;

	if (!dir_issuers_are_valid(s))
		return 0;
	for (size_t i = 0; i < s->n; i++)
		n += DIR_ISSUER_ID_LEN + 4 + s->v[i].len;
	return n;
}

int
dir_issuers_encode(const struct dir_issuers *s, struct wire_wr *w)
{
	size_t start = w->len;
	int ret;

	if (!dir_issuers_are_valid(s))
		return UM_ERR_INVALID;
	if ((ret = wire_put_u8(w, s->n)) != UM_OK)
		return ret;
	for (size_t i = 0; i < s->n; i++) {
		const struct dir_issuer *e = &s->v[i];

		if ((ret = wire_put_bytes(w, e->identity, DIR_ISSUER_ID_LEN)) != UM_OK ||
		    (ret = wire_put_u32(w, (uint32_t)e->len)) != UM_OK ||
		    (ret = wire_put_bytes(w, e->doc, e->len)) != UM_OK) {
			w->len = start;
			return ret;
		}
	}
	return UM_OK;
}
