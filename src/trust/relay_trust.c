/* SPDX-License-Identifier: MIT */
/* The issuer's signed relay-trust feed (relay_trust.h). */
#include "trust/relay_trust.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"

static const char LABEL[] = "umbra-relay-trust-v1";

static bool
entry_ok(const struct relay_trust_entry *e)
{
	return e->bond <= (uint64_t)INT64_MAX && e->tier >= 1 && e->tier <= 15;
}

bool
relay_trust_is_valid(const struct relay_trust *d)
{
	if (d->version != RELAY_TRUST_VERSION || d->n > RELAY_TRUST_MAX_ENTRIES ||
	    d->expires_s <= d->published_s ||
	    d->expires_s - d->published_s > RELAY_TRUST_LIFETIME_MAX_S)
		return false;
	for (size_t i = 0; i < d->n; i++) {
		if (!entry_ok(&d->v[i]))
			return false;
		if (i > 0 && memcmp(d->v[i - 1].node_id, d->v[i].node_id, RELAY_TRUST_ID_LEN) >= 0)
			return false;
	}
	return true;
}

/* The signed part of d (no sig). */
static int
put_body(const struct relay_trust *d, struct wire_wr *w)
{
	int ret;

	if ((ret = wire_put_u8(w, d->version)) != UM_OK ||
	    (ret = wire_put_bytes(w, d->issuer, RELAY_TRUST_ID_LEN)) != UM_OK ||
	    (ret = wire_put_u64(w, d->seq)) != UM_OK ||
	    (ret = wire_put_u64(w, d->published_s)) != UM_OK ||
	    (ret = wire_put_u64(w, d->expires_s)) != UM_OK ||
	    (ret = wire_put_u16(w, d->n)) != UM_OK)
		return ret;
	for (size_t i = 0; i < d->n; i++) {
		const struct relay_trust_entry *e = &d->v[i];

		if ((ret = wire_put_bytes(w, e->node_id, RELAY_TRUST_ID_LEN)) != UM_OK ||
		    (ret = wire_put_u64(w, e->bond)) != UM_OK ||
		    (ret = wire_put_u32(w, (uint32_t)e->reputation)) != UM_OK ||
		    (ret = wire_put_u8(w, e->disputed ? 1 : 0)) != UM_OK ||
		    (ret = wire_put_u8(w, e->tier)) != UM_OK)
			return ret;
	}
	return UM_OK;
}

int
relay_trust_encode(const struct relay_trust *d, struct wire_wr *w)
{
	size_t mark = w->len;
	int ret;

	if (!relay_trust_is_valid(d))
		return UM_ERR_INVALID;
	if ((ret = put_body(d, w)) != UM_OK ||
	    (ret = wire_put_bytes(w, d->sig, RELAY_TRUST_SIG_LEN)) != UM_OK) {
		w->len = mark;
		return ret;
	}
	return UM_OK;
}

int
relay_trust_sign(struct relay_trust *d, const struct keys_ed25519 *id)
{
	uint8_t *buf;
	struct wire_wr w;
	int ret;

	memcpy(d->issuer, id->pk, RELAY_TRUST_ID_LEN);
	if (!relay_trust_is_valid(d))
		return UM_ERR_INVALID;
	buf = um_xmalloc(RELAY_TRUST_MAX_LEN);
	wire_wr_init(&w, buf, RELAY_TRUST_MAX_LEN);
	if ((ret = put_body(d, &w)) == UM_OK)
		sign_ed25519_labeled(id, LABEL, buf, w.len, d->sig);
	free(buf);
	return ret;
}

/* A wire error as the parse result: running out of input is TRUNCATED. */
static ssize_t
rd_err(int ret)
{
	return ret == UM_ERR_TRUNCATED ? UM_ERR_TRUNCATED : UM_ERR_MALFORMED;
}

ssize_t
relay_trust_parse(const uint8_t *in, size_t len, struct relay_trust *out)
{
	struct relay_trust *d = um_xcalloc(1, sizeof(*d));
	struct wire_rd r;
	ssize_t res;
	int ret;

	wire_rd_init(&r, in, len);
	if ((ret = wire_get_u8(&r, &d->version)) != UM_OK) {
		res = rd_err(ret);
		goto out;
	}
	if (d->version != RELAY_TRUST_VERSION) {
		res = UM_ERR_MALFORMED;
		goto out;
	}
	if ((ret = wire_get_bytes(&r, d->issuer, RELAY_TRUST_ID_LEN)) != UM_OK ||
	    (ret = wire_get_u64(&r, &d->seq)) != UM_OK ||
	    (ret = wire_get_u64(&r, &d->published_s)) != UM_OK ||
	    (ret = wire_get_u64(&r, &d->expires_s)) != UM_OK ||
	    (ret = wire_get_u16(&r, &d->n)) != UM_OK) {
		res = rd_err(ret);
		goto out;
	}
	if (d->n > RELAY_TRUST_MAX_ENTRIES || d->expires_s <= d->published_s ||
	    d->expires_s - d->published_s > RELAY_TRUST_LIFETIME_MAX_S) {
		res = UM_ERR_MALFORMED;
		goto out;
	}
	/* Each entry is checked as it is read, so every strict prefix is TRUNCATED. */
	for (size_t i = 0; i < d->n; i++) {
		struct relay_trust_entry *e = &d->v[i];
		uint32_t rep;
		uint8_t disputed;

		if ((ret = wire_get_bytes(&r, e->node_id, RELAY_TRUST_ID_LEN)) != UM_OK) {
			res = rd_err(ret);
			goto out;
		}
		if (i > 0 && memcmp(d->v[i - 1].node_id, e->node_id, RELAY_TRUST_ID_LEN) >= 0) {
			res = UM_ERR_MALFORMED;
			goto out;
		}
		if ((ret = wire_get_u64(&r, &e->bond)) != UM_OK ||
		    (ret = wire_get_u32(&r, &rep)) != UM_OK ||
		    (ret = wire_get_u8(&r, &disputed)) != UM_OK ||
		    (ret = wire_get_u8(&r, &e->tier)) != UM_OK) {
			res = rd_err(ret);
			goto out;
		}
		e->reputation = (int32_t)rep;
		e->disputed = disputed == 1;
		if (disputed > 1 || !entry_ok(e)) {
			res = UM_ERR_MALFORMED;
			goto out;
		}
	}
	if ((ret = wire_get_bytes(&r, d->sig, RELAY_TRUST_SIG_LEN)) != UM_OK) {
		res = rd_err(ret);
		goto out;
	}
	res = (ssize_t)(len - wire_rd_left(&r));
	*out = *d;
out:
	free(d);
	return res;
}

int
relay_trust_parse_verify(const uint8_t *in, size_t len, const uint8_t identity[32], uint64_t now_s,
                         struct relay_trust *out)
{
	struct relay_trust *d;
	ssize_t n;
	int ret;

	if (len > RELAY_TRUST_MAX_LEN)
		return UM_ERR_TOO_LARGE;
	d = um_xcalloc(1, sizeof(*d));
	n = relay_trust_parse(in, len, d);
	if (n < 0) {
		ret = (int)n;
	} else if ((size_t)n != len) {
		ret = UM_ERR_MALFORMED;
	} else if (!um_memeq_ct(d->issuer, identity, RELAY_TRUST_ID_LEN)) {
		ret = UM_ERR_AUTH;
	} else {
		ret = sign_ed25519_verify_labeled(identity, LABEL, in, len - RELAY_TRUST_SIG_LEN,
		                                  d->sig) == UM_OK
		              ? UM_OK
		              : UM_ERR_AUTH;
		if (ret == UM_OK &&
		    (d->published_s > now_s + RELAY_TRUST_CLOCK_SKEW_S || now_s >= d->expires_s))
			ret = UM_ERR_EXPIRED;
		if (ret == UM_OK)
			*out = *d;
	}
	free(d);
	return ret;
}
