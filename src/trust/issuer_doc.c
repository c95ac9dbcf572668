/* SPDX-License-Identifier: MIT */
/* The issuer's signed key list and revocation feed (issuer_doc.h). */
#include "trust/issuer_doc.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "trust/issuer.h"

static const char KEYS_LABEL[] = "umbra-issuer-keys-v1";
static const char REVS_LABEL[] = "umbra-issuer-revocations-v1";

enum {
	LABEL_MAX = 32,
};

/* A (tier, epoch) pair as one sortable number. */
static uint64_t
key_order(uint8_t tier, uint32_t epoch)
{
	return ((uint64_t)tier << 32) | epoch;
}

/* ---- rules, shared by parse and encode ---- */

static bool
keys_ok(const struct issuer_keys *d)
{
	if (d->version != ISSUER_DOC_VERSION || d->n > ISSUER_DOC_MAX_KEYS ||
	    d->min_token_epoch > d->key_epoch)
		return false;
	for (size_t i = 0; i < d->n; i++) {
		const struct issuer_key_entry *k = &d->keys[i];

		if (k->tier < 1 || k->tier > ISSUER_TIER_MAX || k->spki == NULL ||
		    k->spki_len < ISSUER_DOC_SPKI_MIN || k->spki_len > ISSUER_DOC_SPKI_MAX)
			return false;
		if (i > 0 && key_order(k->tier, k->epoch) <=
		                     key_order(d->keys[i - 1].tier, d->keys[i - 1].epoch))
			return false;
	}
	return true;
}

static bool
revs_ok(const struct issuer_revocations *d)
{
	if (d->version != ISSUER_DOC_VERSION || d->expires_s <= d->published_s ||
	    d->expires_s - d->published_s > ISSUER_DOC_REVS_LIFETIME_MAX_S ||
	    d->n_keys > ISSUER_DOC_MAX_REVOKED)
		return false;
	for (size_t i = 0; i < d->n_keys; i++) {
		const struct issuer_revoked_key *k = &d->keys[i];

		if (k->tier < 1 || k->tier > ISSUER_TIER_MAX)
			return false;
		if (i > 0 && key_order(k->tier, k->epoch) <=
		                     key_order(d->keys[i - 1].tier, d->keys[i - 1].epoch))
			return false;
	}
	for (size_t i = 0; i < d->n_subjects; i++) {
		if (!issuer_id_is_valid(d->subjects[i]))
			return false;
		if (i > 0 && strcmp(d->subjects[i - 1], d->subjects[i]) >= 0)
			return false;
	}
	return true;
}

/* ---- encoding ---- */

/* The signed part of d (no sig). */
static int
keys_put_body(const struct issuer_keys *d, struct wire_wr *w)
{
	int ret = UM_OK;

	if ((ret = wire_put_u8(w, d->version)) != UM_OK ||
	    (ret = wire_put_bytes(w, d->issuer, ISSUER_DOC_ID_LEN)) != UM_OK ||
	    (ret = wire_put_u64(w, d->seq)) != UM_OK ||
	    (ret = wire_put_u64(w, d->published_s)) != UM_OK ||
	    (ret = wire_put_u32(w, d->key_epoch)) != UM_OK ||
	    (ret = wire_put_u32(w, d->min_token_epoch)) != UM_OK ||
	    (ret = wire_put_u8(w, d->n)) != UM_OK)
		return ret;
	for (size_t i = 0; i < d->n; i++) {
		const struct issuer_key_entry *k = &d->keys[i];

		if ((ret = wire_put_u8(w, k->tier)) != UM_OK ||
		    (ret = wire_put_u32(w, k->epoch)) != UM_OK ||
		    (ret = wire_put_u64(w, k->not_after_s)) != UM_OK ||
		    (ret = wire_put_lv16(w, k->spki, k->spki_len)) != UM_OK)
			return ret;
	}
	return UM_OK;
}

static int
revs_put_body(const struct issuer_revocations *d, struct wire_wr *w)
{
	int ret;

	if ((ret = wire_put_u8(w, d->version)) != UM_OK ||
	    (ret = wire_put_bytes(w, d->issuer, ISSUER_DOC_ID_LEN)) != UM_OK ||
	    (ret = wire_put_u64(w, d->seq)) != UM_OK ||
	    (ret = wire_put_u64(w, d->published_s)) != UM_OK ||
	    (ret = wire_put_u64(w, d->expires_s)) != UM_OK ||
	    (ret = wire_put_u32(w, d->min_token_epoch)) != UM_OK ||
	    (ret = wire_put_u8(w, d->n_keys)) != UM_OK)
		return ret;
	for (size_t i = 0; i < d->n_keys; i++) {
		if ((ret = wire_put_u8(w, d->keys[i].tier)) != UM_OK ||
		    (ret = wire_put_u32(w, d->keys[i].epoch)) != UM_OK)
			return ret;
	}
	if ((ret = wire_put_u8(w, d->n_subjects)) != UM_OK)
		return ret;
	for (size_t i = 0; i < d->n_subjects; i++) {
		if ((ret = wire_put_lv8(w, d->subjects[i], strlen(d->subjects[i]))) != UM_OK)
			return ret;
	}
	return UM_OK;
}

int
issuer_keys_encode(const struct issuer_keys *d, struct wire_wr *w)
{
	size_t mark = w->len;
	int ret;

	if (!keys_ok(d))
		return UM_ERR_INVALID;
	if ((ret = keys_put_body(d, w)) != UM_OK ||
	    (ret = wire_put_bytes(w, d->sig, ISSUER_DOC_SIG_LEN)) != UM_OK) {
		w->len = mark;
		return ret;
	}
	return UM_OK;
}

int
issuer_revocations_encode(const struct issuer_revocations *d, struct wire_wr *w)
{
	size_t mark = w->len;
	int ret;

	if (!revs_ok(d))
		return UM_ERR_INVALID;
	if ((ret = revs_put_body(d, w)) != UM_OK ||
	    (ret = wire_put_bytes(w, d->sig, ISSUER_DOC_SIG_LEN)) != UM_OK) {
		w->len = mark;
		return ret;
	}
	return UM_OK;
}

int
issuer_keys_sign(struct issuer_keys *d, const struct keys_ed25519 *id)
{
	uint8_t *buf = um_xmalloc(ISSUER_KEYS_MAX_LEN);
	struct wire_wr w;
	int ret;

	memcpy(d->issuer, id->pk, ISSUER_DOC_ID_LEN);
	wire_wr_init(&w, buf, ISSUER_KEYS_MAX_LEN);
	if (!keys_ok(d))
		ret = UM_ERR_INVALID;
	else if ((ret = keys_put_body(d, &w)) == UM_OK)
		sign_ed25519_labeled(id, KEYS_LABEL, buf, w.len, d->sig);
	free(buf);
	return ret;
}

int
issuer_revocations_sign(struct issuer_revocations *d, const struct keys_ed25519 *id)
{
	uint8_t *buf = um_xmalloc(ISSUER_REVS_MAX_LEN);
	struct wire_wr w;
	int ret;

	memcpy(d->issuer, id->pk, ISSUER_DOC_ID_LEN);
	wire_wr_init(&w, buf, ISSUER_REVS_MAX_LEN);
	if (!revs_ok(d))
		ret = UM_ERR_INVALID;
	else if ((ret = revs_put_body(d, &w)) == UM_OK)
		sign_ed25519_labeled(id, REVS_LABEL, buf, w.len, d->sig);
	free(buf);
	return ret;
}

/* ---- parsing ---- */

/* A wire error as the parse result: running out of input is TRUNCATED. */
static ssize_t
rd_err(int ret)
{
	return ret == UM_ERR_TRUNCATED ? UM_ERR_TRUNCATED : UM_ERR_MALFORMED;
}

ssize_t
issuer_keys_parse(const uint8_t *in, size_t len, struct issuer_keys *out)
{
	struct issuer_keys *d = um_xcalloc(1, sizeof(*d));
	struct wire_rd r;
	ssize_t res;
	int ret;

	wire_rd_init(&r, in, len);
	if ((ret = wire_get_u8(&r, &d->version)) != UM_OK ||
	    (ret = wire_get_bytes(&r, d->issuer, ISSUER_DOC_ID_LEN)) != UM_OK ||
	    (ret = wire_get_u64(&r, &d->seq)) != UM_OK ||
	    (ret = wire_get_u64(&r, &d->published_s)) != UM_OK ||
	    (ret = wire_get_u32(&r, &d->key_epoch)) != UM_OK ||
	    (ret = wire_get_u32(&r, &d->min_token_epoch)) != UM_OK ||
	    (ret = wire_get_u8(&r, &d->n)) != UM_OK) {
		res = rd_err(ret);
		goto out;
	}
	if (d->version != ISSUER_DOC_VERSION || d->n > ISSUER_DOC_MAX_KEYS) {
		res = UM_ERR_MALFORMED;
		goto out;
	}
	for (size_t i = 0; i < d->n; i++) {
		struct issuer_key_entry *k = &d->keys[i];
		size_t sl = 0;

		if ((ret = wire_get_u8(&r, &k->tier)) != UM_OK ||
		    (ret = wire_get_u32(&r, &k->epoch)) != UM_OK ||
		    (ret = wire_get_u64(&r, &k->not_after_s)) != UM_OK ||
		    (ret = wire_get_lv16(&r, ISSUER_DOC_SPKI_MAX, &k->spki, &sl)) != UM_OK) {
			res = rd_err(ret);
			goto out;
		}
		k->spki_len = (uint16_t)sl;
	}
	if ((ret = wire_get_bytes(&r, d->sig, ISSUER_DOC_SIG_LEN)) != UM_OK) {
		res = rd_err(ret);
		goto out;
	}
	if (!keys_ok(d)) {
		res = UM_ERR_MALFORMED;
		goto out;
	}
	res = (ssize_t)(len - wire_rd_left(&r));
	*out = *d;
out:
	free(d);
	return res;
}

ssize_t
issuer_revocations_parse(const uint8_t *in, size_t len, struct issuer_revocations *out)
{
	struct issuer_revocations *d = um_xcalloc(1, sizeof(*d));
	struct wire_rd r;
	ssize_t res;
	int ret;

	wire_rd_init(&r, in, len);
	if ((ret = wire_get_u8(&r, &d->version)) != UM_OK ||
	    (ret = wire_get_bytes(&r, d->issuer, ISSUER_DOC_ID_LEN)) != UM_OK ||
	    (ret = wire_get_u64(&r, &d->seq)) != UM_OK ||
	    (ret = wire_get_u64(&r, &d->published_s)) != UM_OK ||
	    (ret = wire_get_u64(&r, &d->expires_s)) != UM_OK ||
	    (ret = wire_get_u32(&r, &d->min_token_epoch)) != UM_OK ||
	    (ret = wire_get_u8(&r, &d->n_keys)) != UM_OK) {
		res = rd_err(ret);
		goto out;
	}
	if (d->version != ISSUER_DOC_VERSION || d->n_keys > ISSUER_DOC_MAX_REVOKED) {
		res = UM_ERR_MALFORMED;
		goto out;
	}
	for (size_t i = 0; i < d->n_keys; i++) {
		if ((ret = wire_get_u8(&r, &d->keys[i].tier)) != UM_OK ||
		    (ret = wire_get_u32(&r, &d->keys[i].epoch)) != UM_OK) {
			res = rd_err(ret);
			goto out;
		}
	}
	if ((ret = wire_get_u8(&r, &d->n_subjects)) != UM_OK) {
		res = rd_err(ret);
		goto out;
	}
	for (size_t i = 0; i < d->n_subjects; i++) {
		const uint8_t *v;
		size_t n;

		if ((ret = wire_get_lv8(&r, ISSUER_ID_MAX_LEN, &v, &n)) != UM_OK) {
			res = rd_err(ret);
			goto out;
		}
		memcpy(d->subjects[i], v, n);
		d->subjects[i][n] = '\0';
		/* A NUL inside would cut the id short: "alice\0x" must not revoke "alice". */
		if (strlen(d->subjects[i]) != n || !issuer_id_is_valid(d->subjects[i])) {
			res = UM_ERR_MALFORMED;
			goto out;
		}
	}
	if ((ret = wire_get_bytes(&r, d->sig, ISSUER_DOC_SIG_LEN)) != UM_OK) {
		res = rd_err(ret);
		goto out;
	}
	if (!revs_ok(d)) {
		res = UM_ERR_MALFORMED;
		goto out;
	}
	res = (ssize_t)(len - wire_rd_left(&r));
	*out = *d;
out:
	free(d);
	return res;
}

/* ---- verification ---- */

/* Parse exactly in, check who signed and the signature over the part before it. */
static int
check_sig(const char *label, const uint8_t *in, size_t len, const uint8_t issuer[32],
          const uint8_t identity[32], const uint8_t sig[ISSUER_DOC_SIG_LEN])
{
	if (!um_memeq_ct(issuer, identity, ISSUER_DOC_ID_LEN))
		return UM_ERR_AUTH;
	return sign_ed25519_verify_labeled(identity, label, in, len - ISSUER_DOC_SIG_LEN, sig) ==
	                       UM_OK
	               ? UM_OK
	               : UM_ERR_AUTH;
}

int
issuer_keys_parse_verify(const uint8_t *in, size_t len, const uint8_t identity[32], uint64_t now_s,
                         struct issuer_keys *out)
{
	struct issuer_keys *d = um_xcalloc(1, sizeof(*d));
	ssize_t n = len > ISSUER_KEYS_MAX_LEN ? UM_ERR_TOO_LARGE : issuer_keys_parse(in, len, d);
	int ret;

	if (n < 0)
		ret = (int)n;
	else if ((size_t)n != len)
		ret = UM_ERR_MALFORMED;
	else if ((ret = check_sig(KEYS_LABEL, in, len, d->issuer, identity, d->sig)) != UM_OK)
		;
	else if (d->published_s > now_s + ISSUER_DOC_CLOCK_SKEW_S)
		ret = UM_ERR_EXPIRED;
	else
		*out = *d;
	free(d);
	return ret;
}

int
issuer_revocations_parse_verify(const uint8_t *in, size_t len, const uint8_t identity[32],
                                uint64_t now_s, struct issuer_revocations *out)
{
	struct issuer_revocations *d = um_xcalloc(1, sizeof(*d));
	ssize_t n =
	        len > ISSUER_REVS_MAX_LEN ? UM_ERR_TOO_LARGE : issuer_revocations_parse(in, len, d);
	int ret;

	if (n < 0)
		ret = (int)n;
	else if ((size_t)n != len)
		ret = UM_ERR_MALFORMED;
	else if ((ret = check_sig(REVS_LABEL, in, len, d->issuer, identity, d->sig)) != UM_OK)
		;
	else if (d->published_s > now_s + ISSUER_DOC_CLOCK_SKEW_S || now_s >= d->expires_s)
		ret = UM_ERR_EXPIRED;
	else
		*out = *d;
	free(d);
	return ret;
}

bool
issuer_revocations_refuse_epoch(const struct issuer_revocations *r, uint8_t tier, uint32_t epoch)
{
	if (epoch < r->min_token_epoch)
		return true;
	for (size_t i = 0; i < r->n_keys; i++) {
		if (r->keys[i].tier == tier && r->keys[i].epoch == epoch)
			return true;
	}
	return false;
}

bool
issuer_revocations_refuse_subject(const struct issuer_revocations *r, const char *subject)
{
	for (size_t i = 0; i < r->n_subjects; i++) {
		if (strcmp(r->subjects[i], subject) == 0)
			return true;
	}
	return false;
}
