/* SPDX-License-Identifier: MIT */
/* Admin capability tokens on the issuer's admin HTTP API (issuer_admin_cap.h). */
#include "trust/issuer_admin_cap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "crypto/hash.h"
#include "trust/issuer_roles.h"
#include "trust/issuer_st.h"

struct replay_entry {
	uint8_t key[ISSUER_ADMIN_CAP_REPLAY_KEY]; /* BLAKE2b-128(jti | time | digest) */
	uint64_t until_s;                         /* 0: free; else refused while now <= this */
};

struct issuer_admin_cap {
	uint8_t issuer_id[CAPTOKEN_ID_LEN];
	const struct issuer_keyring *keys; /* borrowed, may be NULL */
	/* The feed captoken_verify() wants: no subjects (the roles table is checked instead,
	 * which is newer than any feed), never expiring (it is the issuer's own current state),
	 * min_token_epoch from the keyring at each check. */
	struct issuer_revocations revs;
	struct replay_entry replay[ISSUER_ADMIN_CAP_REPLAY_MAX];
};

static bool
is_ws(char ch)
{
	return ch == ' ' || ch == '\t';
}

bool
issuer_cap_header_is_cap(const char *h)
{
	size_t n = strlen(ISSUER_ADMIN_CAP_SCHEME);

	return h != NULL && strncasecmp(h, ISSUER_ADMIN_CAP_SCHEME, n) == 0 && is_ws(h[n]);
}

int
issuer_cap_header_parse(const char *h, struct issuer_cap_header *out)
{
	const char *p, *dot1, *dot2, *end;
	uint64_t t = 0;
	size_t n, digits;
	ssize_t got;

	if (!issuer_cap_header_is_cap(h))
		return UM_ERR_MALFORMED;
	n = strnlen(h, ISSUER_ADMIN_CAP_HEADER_MAX + 1);
	if (n > ISSUER_ADMIN_CAP_HEADER_MAX)
		return UM_ERR_MALFORMED;
	p = h + strlen(ISSUER_ADMIN_CAP_SCHEME);
	while (is_ws(*p))
		p++;
	end = h + n;
	while (end > p && is_ws(end[-1]))
		end--;
	dot1 = memchr(p, '.', (size_t)(end - p));
	if (dot1 == NULL)
		return UM_ERR_MALFORMED;
	dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1));
	if (dot2 == NULL)
		return UM_ERR_MALFORMED;
	/* Base64 has no '.', so a third one lands in the time and fails there. */
	got = dec_base64(out->token, sizeof(out->token), p, (size_t)(dot1 - p));
	if (got <= 0)
		return UM_ERR_MALFORMED;
	out->token_len = (size_t)got;
	if (dec_base64(out->pop_sig, sizeof(out->pop_sig), dot1 + 1, (size_t)(dot2 - dot1 - 1)) !=
	    CAPTOKEN_SIG_LEN)
		return UM_ERR_MALFORMED;
	digits = (size_t)(end - dot2 - 1);
	if (digits == 0 || digits > ISSUER_ADMIN_CAP_TIME_DIGITS || (digits > 1 && dot2[1] == '0'))
		return UM_ERR_MALFORMED;
	for (size_t i = 1; i <= digits; i++) {
		if (dot2[i] < '0' || dot2[i] > '9')
			return UM_ERR_MALFORMED;
		t = t * 10 + (uint64_t)(dot2[i] - '0'); /* 19 digits cannot wrap */
	}
	if (t > (uint64_t)INT64_MAX)
		return UM_ERR_MALFORMED;
	out->time_s = t;
	return UM_OK;
}

void
issuer_cap_digest(uint8_t out[CAPTOKEN_HASH_LEN], const char *method, const char *target,
                  const uint8_t *body, size_t len)
{
	struct hash_blake2b_state st;

	hash_blake2b_init(&st, NULL, 0, CAPTOKEN_HASH_LEN);
	hash_blake2b_update(&st, method, strlen(method));
	hash_blake2b_update(&st, " ", 1);
	hash_blake2b_update(&st, target, strlen(target));
	hash_blake2b_update(&st, "\n", 1);
	if (body != NULL && len > 0)
		hash_blake2b_update(&st, body, len);
	hash_blake2b_final(&st, out, CAPTOKEN_HASH_LEN);
}

int
issuer_cap_header_make(char *out, size_t out_len, const uint8_t *token, size_t token_len,
                       const struct keys_ed25519 *pop, const uint8_t issuer_id[CAPTOKEN_ID_LEN],
                       const char *method, const char *target, const uint8_t *body, size_t len,
                       uint64_t time_s)
{
	char tb64[BASE64_LEN(CAPTOKEN_MAX_LEN)], sb64[BASE64_LEN(CAPTOKEN_SIG_LEN)];
	uint8_t digest[CAPTOKEN_HASH_LEN], sig[CAPTOKEN_SIG_LEN];
	int n;

	if (token_len == 0 || token_len > CAPTOKEN_MAX_LEN || time_s > (uint64_t)INT64_MAX)
		return UM_ERR_INVALID;
	issuer_cap_digest(digest, method, target, body, len);
	captoken_pop_sign(pop, token, token_len, issuer_id, time_s, digest, sig);
	if (enc_base64(tb64, sizeof(tb64), token, token_len) != UM_OK ||
	    enc_base64(sb64, sizeof(sb64), sig, sizeof(sig)) != UM_OK)
		return UM_ERR_INVALID;
	n = snprintf(out, out_len, "%s %s.%s.%llu", ISSUER_ADMIN_CAP_SCHEME, tb64, sb64,
	             (unsigned long long)time_s);
	if (n < 0 || (size_t)n >= out_len || (size_t)n > ISSUER_ADMIN_CAP_HEADER_MAX)
		return UM_ERR_TOO_LARGE;
	return UM_OK;
}

struct issuer_admin_cap *
issuer_admin_cap_new(const uint8_t issuer_id[CAPTOKEN_ID_LEN], const struct issuer_keyring *keys)
{
	struct issuer_admin_cap *c = um_xcalloc(1, sizeof(*c));

	memcpy(c->issuer_id, issuer_id, CAPTOKEN_ID_LEN);
	memcpy(c->revs.issuer, issuer_id, CAPTOKEN_ID_LEN);
	c->revs.expires_s = UINT64_MAX;
	c->keys = keys;
	return c;
}

void
issuer_admin_cap_free_(struct issuer_admin_cap *c)
{
	free(c);
}

void
issuer_set_admin_cap(struct issuer *is, struct issuer_admin_cap *c)
{
	is->admin_cap = c;
}

/*
 * Remember key until until_s, unless it is there already (a replay: false). Expired slots
 * are reused; when every slot is live the request is refused (*full), which only holders of
 * valid admin proofs can cause: 1024 accepted requests in 10 minutes.
 */
static bool
replay_remember(struct issuer_admin_cap *c, const uint8_t key[ISSUER_ADMIN_CAP_REPLAY_KEY],
                uint64_t now_s, uint64_t until_s, bool *full)
{
	struct replay_entry *slot = NULL;

	*full = false;
	for (size_t i = 0; i < ISSUER_ADMIN_CAP_REPLAY_MAX; i++) {
		struct replay_entry *e = &c->replay[i];

		if (e->until_s < now_s) {
			if (slot == NULL)
				slot = e;
			continue;
		}
		if (um_memeq_ct(e->key, key, ISSUER_ADMIN_CAP_REPLAY_KEY))
			return false;
	}
	if (slot == NULL) {
		*full = true;
		return false;
	}
	memcpy(slot->key, key, ISSUER_ADMIN_CAP_REPLAY_KEY);
	slot->until_s = until_s;
	return true;
}

int
issuer_admin_cap_check(struct issuer_admin_cap *c, struct issuer *is, const char *header,
                       const char *method, const char *target, const uint8_t *body, size_t len,
                       uint64_t now_s, char subject[ISSUER_ID_MAX_LEN + 1], const char **why)
{
	struct issuer_cap_header h;
	struct captoken_check chk;
	struct captoken t;
	struct hash_blake2b_state st;
	uint8_t digest[CAPTOKEN_HASH_LEN], key[ISSUER_ADMIN_CAP_REPLAY_KEY], tb[8];
	enum captoken_verdict v;
	bool revoked = false, has = false, full = false;

	subject[0] = '\0';
	if (c == NULL) {
		*why = "UmbraCap is not accepted by this issuer";
		return 401;
	}
	if (issuer_cap_header_parse(header, &h) != UM_OK) {
		*why = "malformed UmbraCap credential: <base64 token>.<base64 pop_sig>.<time>";
		return 401;
	}
	issuer_cap_digest(digest, method, target, body, len);
	c->revs.min_token_epoch = c->keys != NULL ? issuer_keyring_min_epoch(c->keys) : 0;
	chk = (struct captoken_check){ .issuer = c->issuer_id,
		                       .revs = &c->revs,
		                       .min_epoch = 0,
		                       .aud = ISSUER_ADMIN_CAP_AUD,
		                       .role = "admin",
		                       .audience_id = c->issuer_id,
		                       .pop_time_s = h.time_s,
		                       .digest = digest,
		                       .pop_sig = h.pop_sig,
		                       .now_s = now_s };
	v = captoken_verify(h.token, h.token_len, &chk, &t);
	if (v != CAPTOKEN_OK) {
		*why = captoken_verdict_str(v);
		return 401;
	}
	/* Authenticated; now authorised? The tables now, not when the token was issued. */
	if (issuer_subject_is_revoked(is, t.sub, &revoked) != UM_OK ||
	    issuer_role_has(is, t.sub, "admin", &has) != UM_OK) {
		*why = "database error";
		return 503;
	}
	if (revoked) {
		*why = "the token's subject is revoked";
		return 403;
	}
	if (!has) {
		*why = "the token's subject no longer holds the admin role";
		return 403;
	}
	/* Last, so only fully valid requests take a slot. A request's time is accepted while
	 * now <= time + skew: remember it that long. */
	wire_store_u64(tb, h.time_s);
	hash_blake2b_init(&st, NULL, 0, sizeof(key));
	hash_blake2b_update(&st, t.jti, sizeof(t.jti));
	hash_blake2b_update(&st, tb, sizeof(tb));
	hash_blake2b_update(&st, digest, sizeof(digest));
	hash_blake2b_final(&st, key, sizeof(key));
	if (!replay_remember(c, key, now_s, h.time_s + CAPTOKEN_SKEW_S, &full)) {
		*why = full ? "too many admin requests in the last 10 minutes; retry later"
		            : "replayed request (same token, time and request)";
		return full ? 503 : 401;
	}
	snprintf(subject, ISSUER_ID_MAX_LEN + 1, "%s", t.sub);
	*why = "ok";
	return 0;
}
