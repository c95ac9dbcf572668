/* SPDX-License-Identifier: MIT */
/*
 * Capability tokens and provider upserts (trust/captoken.h, directory/dir_provider.h,
 * trust/issuer_captokens.h, trust/issuer_roles.h; docs/PROTOCOL.md 18): encode/parse round
 * trip, every strict prefix TRUNCATED, broken fields MALFORMED; verification accepts a good
 * token with its proof of possession and refuses each of: another issuer, a bad signature,
 * a wrong audience, a wrong role, an expired token, no feed, an old key epoch, a revoked
 * subject, a bad or mistimed proof. At the issuer: roles and revocation with audit rows, the
 * revocation feed listing revoked subjects, and POST /v1/captokens (401 bad signature, 403
 * without the role or when revoked, 200 with tier 1 for a relay subject).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "crypto/hash.h"
#include "store/store.h"
#include "directory/dir_provider.h"
#include "trust/captoken.h"
#include "trust/issuer.h"
#include "trust/issuer_captokens.h"
#include "trust/issuer_creds.h"
#include "trust/issuer_doc.h"
#include "trust/issuer_keys.h"
#include "trust/issuer_roles.h"

enum { NOW = 1800000000 };

static struct keys_ed25519 iss, other, pop;
static const uint8_t DIR_ID[32] = { 7, 7, 7 };

static void
make_token(struct captoken *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->sub, sizeof(t->sub), "op1@example.org");
	snprintf(t->aud, sizeof(t->aud), "directory");
	snprintf(t->role, sizeof(t->role), "provider");
	t->tier = 1;
	t->key_epoch = 3;
	t->iat_s = NOW - 10;
	t->exp_s = NOW + 3600;
	memset(t->jti, 0xab, sizeof(t->jti));
	memcpy(t->pop_key, pop.pk, 32);
	assert_int_equal(captoken_sign(t, &iss), UM_OK);
}

static size_t
encode(const struct captoken *t, uint8_t *buf)
{
	struct wire_wr w;

	wire_wr_init(&w, buf, CAPTOKEN_MAX_LEN);
	assert_int_equal(captoken_encode(t, &w), UM_OK);
	return w.len;
}

static void
test_captoken_round_trip_and_prefixes(void **state)
{
	uint8_t buf[CAPTOKEN_MAX_LEN], buf2[CAPTOKEN_MAX_LEN];
	struct captoken t, u;
	size_t len;

	(void)state;
	make_token(&t);
	len = encode(&t, buf);
	assert_int_equal(len, 1 + 32 + 16 + 10 + 9 + 1 + 4 + 8 + 8 + 16 + 32 + 64);
	assert_int_equal(captoken_parse(buf, len, &u), (ssize_t)len);
	assert_string_equal(u.sub, "op1@example.org");
	assert_int_equal(u.key_epoch, 3);
	assert_int_equal(encode(&u, buf2), len);
	assert_memory_equal(buf, buf2, len);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(captoken_parse(buf, i, &u), UM_ERR_TRUNCATED);
	/* Broken fields: version, tier, lifetime over 7 days, a NUL in the subject. */
	buf2[0] = 2;
	assert_int_equal(captoken_parse(buf2, len, &u), UM_ERR_MALFORMED);
	memcpy(buf2, buf, len);
	buf2[1 + 32 + 16 + 10 + 9] = 16;
	assert_int_equal(captoken_parse(buf2, len, &u), UM_ERR_MALFORMED);
	memcpy(buf2, buf, len);
	buf2[1 + 32 + 1 + 3] = 0;
	assert_int_equal(captoken_parse(buf2, len, &u), UM_ERR_MALFORMED);
	t.exp_s = t.iat_s + CAPTOKEN_LIFETIME_MAX_S + 1;
	assert_int_equal(captoken_sign(&t, &iss), UM_ERR_INVALID);
	snprintf(t.role, sizeof(t.role), "root");
	t.exp_s = t.iat_s + 10;
	assert_int_equal(captoken_sign(&t, &iss), UM_ERR_INVALID);
}

struct env {
	struct issuer_revocations revs;
	struct captoken_check chk;
	uint8_t digest[32], pop_sig[64];
};

static void
env_init(struct env *e, const uint8_t *tok, size_t tok_len)
{
	memset(e, 0, sizeof(*e));
	e->revs.min_token_epoch = 2;
	e->revs.expires_s = NOW + 3600;
	hash_blake2b(e->digest, 32, "desc", 4, NULL, 0);
	captoken_pop_sign(&pop, tok, tok_len, DIR_ID, NOW, e->digest, e->pop_sig);
	e->chk.issuer = iss.pk;
	e->chk.revs = &e->revs;
	e->chk.aud = "directory";
	e->chk.role = "provider";
	e->chk.audience_id = DIR_ID;
	e->chk.pop_time_s = NOW;
	e->chk.digest = e->digest;
	e->chk.pop_sig = e->pop_sig;
	e->chk.now_s = NOW;
}

static void
test_captoken_verify_refusals(void **state)
{
	uint8_t buf[CAPTOKEN_MAX_LEN], bad[CAPTOKEN_MAX_LEN];
	struct captoken t, out;
	struct env e;
	size_t len;

	(void)state;
	make_token(&t);
	len = encode(&t, buf);
	env_init(&e, buf, len);
	assert_int_equal(captoken_verify(buf, len, &e.chk, &out), CAPTOKEN_OK);
	assert_string_equal(out.sub, "op1@example.org");
	/* trailing byte, truncation */
	assert_int_equal(captoken_verify(buf, len - 1, &e.chk, NULL), CAPTOKEN_MALFORMED);
	/* another pinned issuer */
	e.chk.issuer = other.pk;
	assert_int_equal(captoken_verify(buf, len, &e.chk, NULL), CAPTOKEN_UNKNOWN_ISSUER);
	e.chk.issuer = iss.pk;
	/* bad signature: one claim changed after signing (the jti) */
	memcpy(bad, buf, len);
	bad[len - 64 - 32 - 1] ^= 1;
	assert_int_equal(captoken_verify(bad, len, &e.chk, NULL), CAPTOKEN_BAD_SIG);
	memcpy(bad, buf, len);
	bad[len - 1] ^= 1;
	assert_int_equal(captoken_verify(bad, len, &e.chk, NULL), CAPTOKEN_BAD_SIG);
	/* wrong audience, wrong role */
	e.chk.aud = "exit";
	assert_int_equal(captoken_verify(buf, len, &e.chk, NULL), CAPTOKEN_WRONG_AUD);
	e.chk.aud = "directory";
	e.chk.role = "admin";
	assert_int_equal(captoken_verify(buf, len, &e.chk, NULL), CAPTOKEN_WRONG_ROLE);
	e.chk.role = "provider";
	/* expired, not yet valid */
	e.chk.now_s = t.exp_s;
	assert_int_equal(captoken_verify(buf, len, &e.chk, NULL), CAPTOKEN_EXPIRED);
	e.chk.now_s = t.iat_s - CAPTOKEN_SKEW_S - 1;
	assert_int_equal(captoken_verify(buf, len, &e.chk, NULL), CAPTOKEN_EXPIRED);
	e.chk.now_s = NOW;
	/* no feed held: fail closed */
	e.chk.revs = NULL;
	assert_int_equal(captoken_verify(buf, len, &e.chk, NULL), CAPTOKEN_NO_FEED);
	e.chk.revs = &e.revs;
	/* old epoch: the feed's min_token_epoch, or the caller's */
	e.revs.min_token_epoch = 4;
	assert_int_equal(captoken_verify(buf, len, &e.chk, NULL), CAPTOKEN_OLD_EPOCH);
	e.revs.min_token_epoch = 1;
	e.chk.min_epoch = 4;
	assert_int_equal(captoken_verify(buf, len, &e.chk, NULL), CAPTOKEN_OLD_EPOCH);
	e.chk.min_epoch = 0;
	/* revoked subject */
	e.revs.n_subjects = 2;
	snprintf(e.revs.subjects[0], sizeof(e.revs.subjects[0]), "a");
	snprintf(e.revs.subjects[1], sizeof(e.revs.subjects[1]), "op1@example.org");
	assert_int_equal(captoken_verify(buf, len, &e.chk, NULL), CAPTOKEN_REVOKED);
	e.revs.n_subjects = 1;
	assert_int_equal(captoken_verify(buf, len, &e.chk, NULL), CAPTOKEN_OK);
	/* bad pop: another body, another audience, another key, a mistimed one */
	e.digest[0] ^= 1;
	assert_int_equal(captoken_verify(buf, len, &e.chk, NULL), CAPTOKEN_BAD_POP);
	e.digest[0] ^= 1;
	e.chk.audience_id = other.pk;
	assert_int_equal(captoken_verify(buf, len, &e.chk, NULL), CAPTOKEN_BAD_POP);
	e.chk.audience_id = DIR_ID;
	captoken_pop_sign(&other, buf, len, DIR_ID, NOW, e.digest, e.pop_sig);
	assert_int_equal(captoken_verify(buf, len, &e.chk, NULL), CAPTOKEN_BAD_POP);
	captoken_pop_sign(&pop, buf, len, DIR_ID, NOW, e.digest, e.pop_sig);
	e.chk.now_s = NOW + CAPTOKEN_SKEW_S + 1;
	assert_int_equal(captoken_verify(buf, len, &e.chk, NULL), CAPTOKEN_POP_TIME);
	e.chk.now_s = NOW;
	e.chk.pop_time_s = NOW + 1;
	assert_int_equal(captoken_verify(buf, len, &e.chk, NULL), CAPTOKEN_BAD_POP);
	/* A proof made with one token does not carry over to another token of the same key (a
	 * captured request replayed under a second token). */
	e.chk.pop_time_s = NOW;
	assert_int_equal(captoken_verify(buf, len, &e.chk, NULL), CAPTOKEN_OK);
	t.jti[0] ^= 1;
	assert_int_equal(captoken_sign(&t, &iss), UM_OK);
	{
		uint8_t buf2[CAPTOKEN_MAX_LEN];
		size_t len2 = encode(&t, buf2);

		assert_int_equal(captoken_verify(buf2, len2, &e.chk, NULL), CAPTOKEN_BAD_POP);
	}
	/* A feed past its expiry accepts nothing but still refuses what it lists. */
	assert_int_equal(captoken_verify(buf, len, &e.chk, NULL), CAPTOKEN_OK);
	e.revs.expires_s = NOW;
	assert_int_equal(captoken_verify(buf, len, &e.chk, NULL), CAPTOKEN_NO_FEED);
	e.revs.n_subjects = 1;
	snprintf(e.revs.subjects[0], sizeof(e.revs.subjects[0]), "op1@example.org");
	assert_int_equal(captoken_verify(buf, len, &e.chk, NULL), CAPTOKEN_REVOKED);
}

static void
test_upsert_framing(void **state)
{
	uint8_t tok[300], desc[400], buf[DIR_PROVIDER_MAX_LEN];
	struct dir_provider_upsert u, v;
	struct wire_wr w;

	(void)state;
	memset(tok, 1, sizeof(tok));
	memset(desc, 2, sizeof(desc));
	memset(&u, 0, sizeof(u));
	u.version = DIR_PROVIDER_VERSION;
	u.token = tok;
	u.token_len = 273;
	memset(u.pop_sig, 3, sizeof(u.pop_sig));
	u.time_s = NOW;
	u.desc = desc;
	u.desc_len = 329;
	wire_wr_init(&w, buf, sizeof(buf));
	assert_int_equal(dir_provider_upsert_encode(&u, &w), UM_OK);
	assert_int_equal(w.len, 1 + 2 + 273 + 64 + 8 + 2 + 329);
	assert_int_equal(dir_provider_upsert_parse(buf, w.len, &v), (ssize_t)w.len);
	assert_int_equal(v.token_len, 273);
	assert_memory_equal(v.token, tok, 273);
	assert_int_equal(v.time_s, NOW);
	assert_int_equal(v.desc_len, 329);
	for (size_t i = 0; i < w.len; i++)
		assert_int_equal(dir_provider_upsert_parse(buf, i, &v), UM_ERR_TRUNCATED);
	buf[w.len] = 0;
	assert_int_equal(dir_provider_upsert_parse(buf, w.len + 1, &v), UM_ERR_MALFORMED);
	buf[0] = 2;
	assert_int_equal(dir_provider_upsert_parse(buf, w.len, &v), UM_ERR_MALFORMED);
	buf[0] = 1;
	buf[1] = 0xff; /* token_len over its cap: refused before the bytes are needed */
	assert_int_equal(dir_provider_upsert_parse(buf, 3, &v), UM_ERR_MALFORMED);
	u.token_len = 0;
	assert_int_equal(dir_provider_upsert_encode(&u, &w), UM_ERR_INVALID);
}

/* ---- issuer side ---- */

struct iss_fix {
	struct store *st;
	struct issuer *is;
	struct issuer_creds *creds;
	struct issuer_keyring *kr;
	struct keys_ed25519 op_key;
};

static int
revoked_src(void *arg, char (*out)[ISSUER_ID_MAX_LEN + 1], size_t max, size_t *n)
{
	return issuer_revoked_list(arg, out, max, n);
}

static int
iss_setup(void **state)
{
	struct iss_fix *f = calloc(1, sizeof(*f));
	struct issuer_keyring_config kcfg;
	struct issuer_config icfg;

	assert_int_equal(store_open(STORE_PATH_MEMORY, NULL, &f->st, NULL, 0), UM_OK);
	issuer_config_defaults(&icfg);
	assert_int_equal(issuer_open(f->st, &icfg, &f->is, NULL, 0), UM_OK);
	assert_int_equal(issuer_creds_open(f->st, &f->creds, NULL, 0), UM_OK);
	issuer_keyring_config_defaults(&kcfg);
	kcfg.tiers = 1;
	assert_int_equal(issuer_keyring_open(f->st, &iss, &kcfg, NOW, &f->kr, NULL, 0), UM_OK);
	issuer_keyring_set_subjects(f->kr, revoked_src, f->is);
	keys_ed25519_generate(&f->op_key);
	*state = f;
	return 0;
}

static int
iss_teardown(void **state)
{
	struct iss_fix *f = *state;

	issuer_keyring_free(f->kr);
	issuer_creds_free(f->creds);
	issuer_free(f->is);
	store_close(f->st);
	keys_ed25519_clear(&f->op_key);
	free(f);
	return 0;
}

static int
audit_count(void *arg, const struct issuer_audit_entry *e)
{
	size_t *n = arg;

	if (strncmp(e->action, "subject.role", 12) == 0 ||
	    strcmp(e->action, "subject.revoke") == 0 ||
	    strcmp(e->action, "subject.unrevoke") == 0 || strcmp(e->action, "captoken.issue") == 0)
		(*n)++;
	return UM_OK;
}

static void
test_issuer_roles_and_feed(void **state)
{
	struct iss_fix *f = *state;
	struct issuer_revocations *r = calloc(1, sizeof(*r));
	const uint8_t *doc;
	size_t len, n = 0;
	bool changed, has;

	assert_int_equal(issuer_role_set(f->is, "t", "nobody", "provider", true, NOW, NULL),
	                 UM_ERR_NOT_FOUND);
	assert_int_equal(issuer_subject_upsert(f->is, "t", "op1", ISSUER_KIND_RELAY, 3, NOW, NULL),
	                 UM_OK);
	assert_int_equal(issuer_role_set(f->is, "t", "op1", "root", true, NOW, NULL),
	                 UM_ERR_INVALID);
	assert_int_equal(issuer_role_set(f->is, "t", "op1", "provider", true, NOW, &changed),
	                 UM_OK);
	assert_true(changed);
	assert_int_equal(issuer_role_set(f->is, "t", "op1", "provider", true, NOW, &changed),
	                 UM_OK);
	assert_false(changed);
	assert_int_equal(issuer_role_has(f->is, "op1", "provider", &has), UM_OK);
	assert_true(has);
	assert_int_equal(issuer_role_has(f->is, "op1", "admin", &has), UM_OK);
	assert_false(has);
	/* The feed lists no subject, then op1 once revoked (a new seq), then none again. */
	assert_int_equal(issuer_keyring_revocations_doc(f->kr, NOW, &doc, &len), UM_OK);
	assert_int_equal(issuer_revocations_parse_verify(doc, len, iss.pk, NOW, r), UM_OK);
	assert_int_equal(r->n_subjects, 0);
	assert_int_equal(issuer_subject_revoke(f->is, "t", "op1", true, "abuse", NOW, &changed),
	                 UM_OK);
	assert_true(changed);
	assert_int_equal(issuer_keyring_revocations_doc(f->kr, NOW, &doc, &len), UM_OK);
	assert_int_equal(issuer_revocations_parse_verify(doc, len, iss.pk, NOW, r), UM_OK);
	assert_int_equal(r->n_subjects, 1);
	assert_true(issuer_revocations_refuse_subject(r, "op1"));
	assert_int_equal(issuer_subject_revoke(f->is, "t", "op1", false, NULL, NOW, &changed),
	                 UM_OK);
	assert_int_equal(issuer_keyring_revocations_doc(f->kr, NOW, &doc, &len), UM_OK);
	assert_int_equal(issuer_revocations_parse_verify(doc, len, iss.pk, NOW, r), UM_OK);
	assert_int_equal(r->n_subjects, 0);
	/* grant + revoke + unrevoke: three audit rows (the repeated grant wrote none). */
	assert_int_equal(issuer_audit_foreach(f->is, 0, 1000, audit_count, &n), UM_OK);
	assert_int_equal(n, 3);
	free(r);
}

static int post_as(struct iss_fix *f, const char *subject, const char *role, const char *aud,
                   const struct keys_ed25519 *signer, uint64_t t, json_t **reply);

static int
post(struct iss_fix *f, const char *subject, const struct keys_ed25519 *signer, uint64_t t,
     json_t **reply)
{
	return post_as(f, subject, "provider", "directory", signer, t, reply);
}

static int
post_as(struct iss_fix *f, const char *subject, const char *role, const char *aud,
        const struct keys_ed25519 *signer, uint64_t t, json_t **reply)
{
	struct issuer_captokens_ctx c = { f->is, f->creds, f->kr, &iss, NULL, 0 };
	uint8_t msg[CAPTOKEN_REQ_MSG_MAX], sig[64];
	char pk[BASE32_LEN(32)], s64[BASE64_LEN(64)], *body;
	struct ev_http_resp resp;
	size_t mlen;
	int status;

	memset(&resp, 0, sizeof(resp));
	mlen = captoken_req_msg(msg, subject, role, aud, t, f->op_key.pk);
	assert_true(mlen > 0);
	sign_ed25519(signer, msg, mlen, sig);
	assert_int_equal(enc_base32(pk, sizeof(pk), f->op_key.pk, 32), UM_OK);
	assert_int_equal(enc_base64(s64, sizeof(s64), sig, 64), UM_OK);
	body = um_xasprintf("{\"subject\":\"%s\",\"role\":\"%s\",\"aud\":\"%s\","
	                    "\"pop_key\":\"%s\",\"time\":%llu,\"sig\":\"%s\"}",
	                    subject, role, aud, pk, (unsigned long long)t, s64);
	assert_true(issuer_captokens_handle(&c, "POST", "/v1/captokens", 0, NULL,
	                                    (const uint8_t *)body, strlen(body), NOW, 0, &resp));
	status = resp.status;
	*reply = json_loadb((const char *)resp.body, resp.body_len, 0, NULL);
	free(resp.body);
	free(body);
	return status;
}

static void
test_issuer_captokens_route(void **state)
{
	struct iss_fix *f = *state;
	uint8_t tok[CAPTOKEN_MAX_LEN + 1];
	struct captoken t;
	json_t *j = NULL;
	ssize_t n;

	assert_int_equal(issuer_subject_upsert(f->is, "t", "op2", ISSUER_KIND_RELAY, 5, NOW, NULL),
	                 UM_OK);
	assert_int_equal(issuer_creds_set(f->creds, "op2", f->op_key.pk, NOW), UM_OK);
	/* a signature by another key; a time 301 s off */
	assert_int_equal(post(f, "op2", &other, NOW, &j), 401);
	json_decref(j);
	assert_int_equal(post(f, "op2", &f->op_key, NOW - 301, &j), 401);
	json_decref(j);
	/* no provider role */
	assert_int_equal(post(f, "op2", &f->op_key, NOW, &j), 403);
	assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "provider role"));
	json_decref(j);
	assert_int_equal(issuer_role_set(f->is, "t", "op2", "provider", true, NOW, NULL), UM_OK);
	assert_int_equal(post(f, "op2", &f->op_key, NOW, &j), 200);
	/* a relay subject is pinned to tier 1 whatever its base tier */
	assert_int_equal(json_integer_value(json_object_get(j, "tier")), 1);
	n = dec_base64(tok, sizeof(tok), json_string_value(json_object_get(j, "token")),
	               strlen(json_string_value(json_object_get(j, "token"))));
	assert_true(n > 0);
	assert_int_equal(captoken_parse(tok, (size_t)n, &t), n);
	assert_memory_equal(t.issuer, iss.pk, 32);
	assert_memory_equal(t.pop_key, f->op_key.pk, 32);
	assert_string_equal(t.sub, "op2");
	assert_int_equal(t.key_epoch, issuer_keyring_epoch(f->kr));
	assert_int_equal(t.exp_s - t.iat_s, ISSUER_CAPTOKEN_LIFETIME_DEFAULT_S);
	json_decref(j);
	/* a request signed by the subject's key for a pop_key it does not hold: 400 (the token
	 * would bind a key somebody else holds) */
	assert_int_equal(issuer_subject_upsert(f->is, "t", "op3", ISSUER_KIND_RELAY, 1, NOW, NULL),
	                 UM_OK);
	assert_int_equal(issuer_creds_set(f->creds, "op3", other.pk, NOW), UM_OK);
	assert_int_equal(issuer_role_set(f->is, "t", "op3", "provider", true, NOW, NULL), UM_OK);
	assert_int_equal(post(f, "op3", &other, NOW, &j), 400);
	assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "pop_key"));
	json_decref(j);
	/* the provider role on a client subject: no provider token */
	assert_int_equal(issuer_subject_upsert(f->is, "t", "cl1", ISSUER_KIND_CLIENT, 2, NOW, NULL),
	                 UM_OK);
	assert_int_equal(issuer_creds_set(f->creds, "cl1", f->op_key.pk, NOW), UM_OK);
	assert_int_equal(issuer_role_set(f->is, "t", "cl1", "provider", true, NOW, NULL), UM_OK);
	assert_int_equal(post(f, "cl1", &f->op_key, NOW, &j), 403);
	assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "relay subjects"));
	json_decref(j);
	/* revoked: no new token */
	assert_int_equal(issuer_subject_revoke(f->is, "t", "op2", true, NULL, NOW, NULL), UM_OK);
	assert_int_equal(post(f, "op2", &f->op_key, NOW, &j), 403);
	json_decref(j);
}

/* The access role (18.5): granted like the others; its tokens are for audience exit only,
 * with the subject's effective tier. */
static void
test_issuer_access_role(void **state)
{
	struct iss_fix *f = *state;
	uint8_t tok[CAPTOKEN_MAX_LEN + 1];
	struct captoken t;
	bool has = false;
	json_t *j = NULL;
	ssize_t n;

	assert_int_equal(
	        issuer_subject_upsert(f->is, "t", "alice", ISSUER_KIND_CLIENT, 2, NOW, NULL),
	        UM_OK);
	assert_int_equal(issuer_creds_set(f->creds, "alice", f->op_key.pk, NOW), UM_OK);
	assert_int_equal(post_as(f, "alice", "access", "exit", &f->op_key, NOW, &j), 403);
	json_decref(j);
	assert_int_equal(issuer_role_set(f->is, "t", "alice", "access", true, NOW, NULL), UM_OK);
	assert_int_equal(issuer_role_has(f->is, "alice", "access", &has), UM_OK);
	assert_true(has);
	assert_int_equal(post_as(f, "alice", "access", "directory", &f->op_key, NOW, &j), 400);
	json_decref(j);
	assert_int_equal(post_as(f, "alice", "access", "exit", &f->op_key, NOW, &j), 200);
	assert_int_equal(json_integer_value(json_object_get(j, "tier")), 2);
	n = dec_base64(tok, sizeof(tok), json_string_value(json_object_get(j, "token")),
	               strlen(json_string_value(json_object_get(j, "token"))));
	assert_true(n > 0);
	assert_int_equal(captoken_parse(tok, (size_t)n, &t), n);
	assert_string_equal(t.role, "access");
	assert_string_equal(t.aud, "exit");
	assert_string_equal(t.sub, "alice");
	json_decref(j);
}

/* An issuer database from before the access role (roles schema 1, CHECK provider|admin)
 * keeps its grants when opened: migration 2 rebuilds the table with the wider CHECK. */
static void
test_roles_migration_from_v1(void **state)
{
	char dir[] = "/tmp/umbra-roles-XXXXXX", path[64];
	struct issuer_config icfg;
	struct store *st = NULL;
	struct issuer *is = NULL;
	bool created = false, changed = false, has = false;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/issuer.db", dir);
	issuer_config_defaults(&icfg);
	assert_int_equal(store_open(path, NULL, &st, NULL, 0), UM_OK);
	assert_int_equal(issuer_open(st, &icfg, &is, NULL, 0), UM_OK);
	assert_int_equal(
	        issuer_subject_upsert(is, "admin", "op1", ISSUER_KIND_RELAY, 1, NOW, &created),
	        UM_OK);
	/* Back to what a schema-1 issuer wrote. */
	assert_int_equal(
	        store_exec(st, "DROP TABLE issuer_subject_roles;"
	                       "CREATE TABLE issuer_subject_roles ("
	                       " subject TEXT NOT NULL REFERENCES issuer_subjects(id),"
	                       " role TEXT NOT NULL CHECK (role IN ('provider', 'admin')),"
	                       " granted_at INTEGER NOT NULL,"
	                       " PRIMARY KEY (subject, role));"
	                       "INSERT INTO issuer_subject_roles VALUES ('op1', 'provider', 1);"
	                       "UPDATE schema_version SET version = 1"
	                       " WHERE component = 'issuer_roles';"),
	        UM_OK);
	assert_int_not_equal(
	        store_exec(st, "INSERT INTO issuer_subject_roles VALUES ('op1', 'access', 1);"),
	        UM_OK);
	issuer_free(is);
	store_close(st);
	st = NULL;
	assert_int_equal(store_open(path, NULL, &st, NULL, 0), UM_OK);
	assert_int_equal(issuer_open(st, &icfg, &is, NULL, 0), UM_OK);
	assert_int_equal(issuer_role_has(is, "op1", "provider", &has), UM_OK);
	assert_true(has);
	assert_int_equal(issuer_role_set(is, "admin", "op1", "access", true, NOW, &changed), UM_OK);
	assert_true(changed);
	assert_int_equal(issuer_role_has(is, "op1", "access", &has), UM_OK);
	assert_true(has);
	issuer_free(is);
	store_close(st);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_captoken_round_trip_and_prefixes),
		cmocka_unit_test(test_captoken_verify_refusals),
		cmocka_unit_test(test_upsert_framing),
		cmocka_unit_test_setup_teardown(test_issuer_roles_and_feed, iss_setup,
		                                iss_teardown),
		cmocka_unit_test_setup_teardown(test_issuer_captokens_route, iss_setup,
		                                iss_teardown),
		cmocka_unit_test_setup_teardown(test_issuer_access_role, iss_setup, iss_teardown),
		cmocka_unit_test(test_roles_migration_from_v1),
	};

	if (um_crypto_init() != UM_OK)
		return 1;
	keys_ed25519_generate(&iss);
	keys_ed25519_generate(&other);
	keys_ed25519_generate(&pop);
	return cmocka_run_group_tests_name("captoken", tests, NULL, NULL);
}
