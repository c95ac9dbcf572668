/* SPDX-License-Identifier: MIT */
/*
 * Authority key certificates: parse and encode (layout in authority.h and docs/PROTOCOL.md
 * 5.1). A certificate has a fixed size; each field is checked as soon as it is read, so
 * every strict prefix is UM_ERR_TRUNCATED. Signatures and the clock are authority.c's.
 */
#include "directory/authority.h"

#include <string.h>

#include "lib/err.h"

bool
auth_cert_is_wellformed(const struct auth_cert *c)
{
	return c->version == AUTHCERT_VERSION &&
	       memcmp(c->identity, c->signing_key, AUTHCERT_ID_LEN) != 0 &&
	       c->expires_s > c->published_s &&
	       c->expires_s - c->published_s <= AUTHCERT_LIFETIME_MAX_S;
}

ssize_t
auth_cert_parse(const uint8_t *in, size_t len, struct auth_cert *out)
{
	struct wire_rd r;
	struct auth_cert c;
	int ret;

	memset(&c, 0, sizeof(c));
	wire_rd_init(&r, in, len);
	if ((ret = wire_get_u8(&r, &c.version)) != UM_OK)
		return ret;
	if (c.version != AUTHCERT_VERSION)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_bytes(&r, c.identity, AUTHCERT_ID_LEN)) != UM_OK)
		return ret;
	if ((ret = wire_get_bytes(&r, c.signing_key, AUTHCERT_ID_LEN)) != UM_OK)
		return ret;
	/* The identity stays offline; signing with it directly defeats rotation. */
	if (memcmp(c.identity, c.signing_key, AUTHCERT_ID_LEN) == 0)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u64(&r, &c.published_s)) != UM_OK)
		return ret;
	if ((ret = wire_get_u64(&r, &c.expires_s)) != UM_OK)
		return ret;
	if (c.expires_s <= c.published_s || c.expires_s - c.published_s > AUTHCERT_LIFETIME_MAX_S)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_bytes(&r, c.sig, AUTHCERT_SIG_LEN)) != UM_OK)
		return ret;
	*out = c;
	return (ssize_t)r.off;
}

int
auth_cert_encode(const struct auth_cert *c, struct wire_wr *w)
{
	size_t start = w->len;
	int ret;

	if (!auth_cert_is_wellformed(c))
		return UM_ERR_INVALID;
	if ((ret = wire_put_u8(w, c->version)) != UM_OK ||
	    (ret = wire_put_bytes(w, c->identity, AUTHCERT_ID_LEN)) != UM_OK ||
	    (ret = wire_put_bytes(w, c->signing_key, AUTHCERT_ID_LEN)) != UM_OK ||
	    (ret = wire_put_u64(w, c->published_s)) != UM_OK ||
	    (ret = wire_put_u64(w, c->expires_s)) != UM_OK ||
	    (ret = wire_put_bytes(w, c->sig, AUTHCERT_SIG_LEN)) != UM_OK) {
		w->len = start;
		return ret;
	}
	return UM_OK;
}
