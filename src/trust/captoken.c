/* SPDX-License-Identifier: MIT */
/* Identified capability tokens (captoken.h, PROTOCOL.md 18). */
#include "trust/captoken.h"

#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "crypto/hash.h"

static const char SIG_LABEL[] = "umbra-captoken-v1";
static const char POP_LABEL[] = "umbra-cap-pop-v1";
static const char REQ_LABEL[] = "umbra-captoken-req-v1";

const char *
captoken_verdict_str(enum captoken_verdict v)
{
	switch (v) {
	case CAPTOKEN_OK:
		return "ok";
	case CAPTOKEN_MALFORMED:
		return "malformed token";
	case CAPTOKEN_UNKNOWN_ISSUER:
		return "unknown issuer";
	case CAPTOKEN_BAD_SIG:
		return "bad issuer signature";
	case CAPTOKEN_EXPIRED:
		return "token expired or not yet valid";
	case CAPTOKEN_WRONG_AUD:
		return "wrong audience";
	case CAPTOKEN_WRONG_ROLE:
		return "wrong role";
	case CAPTOKEN_NO_FEED:
		return "no revocation feed of the issuer held yet";
	case CAPTOKEN_OLD_EPOCH:
		return "token of a retired key epoch";
	case CAPTOKEN_REVOKED:
		return "subject revoked";
	case CAPTOKEN_BAD_POP:
		return "bad proof of possession";
	case CAPTOKEN_POP_TIME:
		return "proof of possession time off";
	}
	return "unknown";
}

bool
captoken_aud_is_valid(const char *aud)
{
	size_t n = strnlen(aud, CAPTOKEN_AUD_MAX + 1);

	if (n == 0 || n > CAPTOKEN_AUD_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = aud[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
			return false;
	}
	return true;
}

bool
captoken_role_is_valid(const char *role)
{
	return strcmp(role, "provider") == 0 || strcmp(role, "admin") == 0 ||
	       strcmp(role, "access") == 0;
}

/* Every rule of the format but the signature. */
static bool
fields_ok(const struct captoken *t)
{
	return t->version == CAPTOKEN_VERSION && issuer_id_is_valid(t->sub) &&
	       captoken_aud_is_valid(t->aud) && captoken_role_is_valid(t->role) &&
	       t->tier >= ISSUER_TIER_MIN && t->tier <= ISSUER_TIER_MAX && t->iat_s < t->exp_s &&
	       t->exp_s - t->iat_s <= CAPTOKEN_LIFETIME_MAX_S;
}

static int
put_body(const struct captoken *t, struct wire_wr *w)
{
	int ret;

	if ((ret = wire_put_u8(w, t->version)) != UM_OK ||
	    (ret = wire_put_bytes(w, t->issuer, CAPTOKEN_ID_LEN)) != UM_OK ||
	    (ret = wire_put_lv8(w, t->sub, strlen(t->sub))) != UM_OK ||
	    (ret = wire_put_lv8(w, t->aud, strlen(t->aud))) != UM_OK ||
	    (ret = wire_put_lv8(w, t->role, strlen(t->role))) != UM_OK ||
	    (ret = wire_put_u8(w, t->tier)) != UM_OK ||
	    (ret = wire_put_u32(w, t->key_epoch)) != UM_OK ||
	    (ret = wire_put_u64(w, t->iat_s)) != UM_OK ||
	    (ret = wire_put_u64(w, t->exp_s)) != UM_OK ||
	    (ret = wire_put_bytes(w, t->jti, CAPTOKEN_JTI_LEN)) != UM_OK ||
	    (ret = wire_put_bytes(w, t->pop_key, CAPTOKEN_ID_LEN)) != UM_OK)
		return ret;
	return UM_OK;
}

int
captoken_encode(const struct captoken *t, struct wire_wr *w)
{
	size_t mark = w->len;
	int ret;

	if (!fields_ok(t))
		return UM_ERR_INVALID;
	if ((ret = put_body(t, w)) != UM_OK ||
	    (ret = wire_put_bytes(w, t->sig, CAPTOKEN_SIG_LEN)) != UM_OK) {
		w->len = mark;
		return ret;
	}
	return UM_OK;
}

/* label 0x00 | body into m (room for CAPTOKEN_MAX_LEN + the label); its length. */
static size_t
signed_msg(uint8_t *m, const uint8_t *body, size_t len)
{
	memcpy(m, SIG_LABEL, sizeof(SIG_LABEL)); /* its NUL is the 0x00 separator */
	memcpy(m + sizeof(SIG_LABEL), body, len);
	return sizeof(SIG_LABEL) + len;
}

int
captoken_sign(struct captoken *t, const struct keys_ed25519 *id)
{
	uint8_t body[CAPTOKEN_MAX_LEN], m[sizeof(SIG_LABEL) + CAPTOKEN_MAX_LEN];
	struct wire_wr w;
	int ret;

	t->version = CAPTOKEN_VERSION;
	memcpy(t->issuer, id->pk, CAPTOKEN_ID_LEN);
	if (!fields_ok(t))
		return UM_ERR_INVALID;
	wire_wr_init(&w, body, sizeof(body));
	if ((ret = put_body(t, &w)) != UM_OK)
		return ret;
	sign_ed25519(id, m, signed_msg(m, body, w.len), t->sig);
	return UM_OK;
}

static ssize_t
rd_err(int ret)
{
	return ret == UM_ERR_TRUNCATED ? UM_ERR_TRUNCATED : UM_ERR_MALFORMED;
}

/* An lv8 string of 1..max bytes into out (NUL-terminated), checked by ok. */
static int
get_str(struct wire_rd *r, size_t max, char *out, bool (*ok)(const char *))
{
	const uint8_t *v;
	size_t n;
	int ret;

	if ((ret = wire_get_lv8(r, max, &v, &n)) != UM_OK)
		return ret;
	memcpy(out, v, n);
	out[n] = '\0';
	/* A NUL inside would cut the string short ("alice\0x" is not "alice"). */
	if (n == 0 || strlen(out) != n || !ok(out))
		return UM_ERR_MALFORMED;
	return UM_OK;
}

ssize_t
captoken_parse(const uint8_t *in, size_t len, struct captoken *out)
{
	struct captoken t;
	struct wire_rd r;
	int ret;

	memset(&t, 0, sizeof(t));
	wire_rd_init(&r, in, len);
	if ((ret = wire_get_u8(&r, &t.version)) != UM_OK)
		return rd_err(ret);
	if (t.version != CAPTOKEN_VERSION)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_bytes(&r, t.issuer, CAPTOKEN_ID_LEN)) != UM_OK ||
	    (ret = get_str(&r, ISSUER_ID_MAX_LEN, t.sub, issuer_id_is_valid)) != UM_OK ||
	    (ret = get_str(&r, CAPTOKEN_AUD_MAX, t.aud, captoken_aud_is_valid)) != UM_OK ||
	    (ret = get_str(&r, CAPTOKEN_ROLE_MAX, t.role, captoken_role_is_valid)) != UM_OK ||
	    (ret = wire_get_u8(&r, &t.tier)) != UM_OK)
		return rd_err(ret);
	if (t.tier < ISSUER_TIER_MIN || t.tier > ISSUER_TIER_MAX)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_u32(&r, &t.key_epoch)) != UM_OK ||
	    (ret = wire_get_u64(&r, &t.iat_s)) != UM_OK ||
	    (ret = wire_get_u64(&r, &t.exp_s)) != UM_OK)
		return rd_err(ret);
	if (t.exp_s <= t.iat_s || t.exp_s - t.iat_s > CAPTOKEN_LIFETIME_MAX_S)
		return UM_ERR_MALFORMED;
	if ((ret = wire_get_bytes(&r, t.jti, CAPTOKEN_JTI_LEN)) != UM_OK ||
	    (ret = wire_get_bytes(&r, t.pop_key, CAPTOKEN_ID_LEN)) != UM_OK ||
	    (ret = wire_get_bytes(&r, t.sig, CAPTOKEN_SIG_LEN)) != UM_OK)
		return rd_err(ret);
	*out = t;
	return (ssize_t)(len - wire_rd_left(&r));
}

static void
pop_msg(uint8_t m[CAPTOKEN_POP_MSG_LEN], const uint8_t *token, size_t token_len,
        const uint8_t audience[CAPTOKEN_ID_LEN], uint64_t time_s,
        const uint8_t digest[CAPTOKEN_HASH_LEN])
{
	uint8_t *p = m;

	memcpy(p, POP_LABEL, sizeof(POP_LABEL));
	p += sizeof(POP_LABEL);
	memcpy(p, audience, CAPTOKEN_ID_LEN);
	p += CAPTOKEN_ID_LEN;
	hash_blake2b(p, CAPTOKEN_HASH_LEN, token, token_len, NULL, 0);
	p += CAPTOKEN_HASH_LEN;
	wire_store_u64(p, time_s);
	p += 8;
	memcpy(p, digest, CAPTOKEN_HASH_LEN);
}

void
captoken_pop_sign(const struct keys_ed25519 *pop, const uint8_t *token, size_t token_len,
                  const uint8_t audience[CAPTOKEN_ID_LEN], uint64_t time_s,
                  const uint8_t digest[CAPTOKEN_HASH_LEN], uint8_t sig[CAPTOKEN_SIG_LEN])
{
	uint8_t m[CAPTOKEN_POP_MSG_LEN];

	pop_msg(m, token, token_len, audience, time_s, digest);
	sign_ed25519(pop, m, sizeof(m), sig);
}

enum captoken_verdict
captoken_verify(const uint8_t *in, size_t len, const struct captoken_check *c, struct captoken *out)
{
	uint8_t m[sizeof(SIG_LABEL) + CAPTOKEN_MAX_LEN], pm[CAPTOKEN_POP_MSG_LEN];
	struct captoken t;
	ssize_t n;

	if (len > CAPTOKEN_MAX_LEN)
		return CAPTOKEN_MALFORMED;
	n = captoken_parse(in, len, &t);
	if (n < 0 || (size_t)n != len)
		return CAPTOKEN_MALFORMED;
	/* Cheap checks first; the issuer's signature before anything that trusts the claims. */
	if (!um_memeq_ct(t.issuer, c->issuer, CAPTOKEN_ID_LEN))
		return CAPTOKEN_UNKNOWN_ISSUER;
	if (c->now_s >= t.exp_s || t.iat_s > c->now_s + CAPTOKEN_SKEW_S)
		return CAPTOKEN_EXPIRED;
	if (strcmp(t.aud, c->aud) != 0)
		return CAPTOKEN_WRONG_AUD;
	if (strcmp(t.role, c->role) != 0)
		return CAPTOKEN_WRONG_ROLE;
	if (sign_ed25519_verify(c->issuer, m, signed_msg(m, in, len - CAPTOKEN_SIG_LEN), t.sig) !=
	    UM_OK)
		return CAPTOKEN_BAD_SIG;
	if (c->revs == NULL)
		return CAPTOKEN_NO_FEED;
	if (t.key_epoch < c->revs->min_token_epoch || t.key_epoch < c->min_epoch)
		return CAPTOKEN_OLD_EPOCH;
	if (issuer_revocations_refuse_subject(c->revs, t.sub))
		return CAPTOKEN_REVOKED;
	if (c->pop_time_s + CAPTOKEN_SKEW_S < c->now_s ||
	    c->pop_time_s > c->now_s + CAPTOKEN_SKEW_S)
		return CAPTOKEN_POP_TIME;
	pop_msg(pm, in, len, c->audience_id, c->pop_time_s, c->digest);
	if (sign_ed25519_verify(t.pop_key, pm, sizeof(pm), c->pop_sig) != UM_OK)
		return CAPTOKEN_BAD_POP;
	/* A feed past its expiry still refused what it lists (above) but vouches for nothing:
	 * whoever blocks the verifier's fetches must not keep a revoked subject in. */
	if (c->now_s >= c->revs->expires_s)
		return CAPTOKEN_NO_FEED;
	if (out != NULL)
		*out = t;
	return CAPTOKEN_OK;
}

size_t
captoken_req_msg(uint8_t msg[CAPTOKEN_REQ_MSG_MAX], const char *subject, const char *role,
                 const char *aud, uint64_t time_s, const uint8_t pop_key[CAPTOKEN_ID_LEN])
{
	size_t o = 0, n;

	if (!issuer_id_is_valid(subject) || !captoken_role_is_valid(role) ||
	    !captoken_aud_is_valid(aud))
		return 0;
	memcpy(msg, REQ_LABEL, sizeof(REQ_LABEL));
	o += sizeof(REQ_LABEL);
	n = strlen(subject);
	memcpy(msg + o, subject, n + 1); /* with its NUL: the separator */
	o += n + 1;
	n = strlen(role);
	memcpy(msg + o, role, n + 1);
	o += n + 1;
	n = strlen(aud);
	memcpy(msg + o, aud, n + 1);
	o += n + 1;
	wire_store_u64(msg + o, time_s);
	o += 8;
	memcpy(msg + o, pop_key, CAPTOKEN_ID_LEN);
	return o + CAPTOKEN_ID_LEN;
}
