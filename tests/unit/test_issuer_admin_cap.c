/* SPDX-License-Identifier: MIT */
/*
 * Admin capability tokens on the issuer's admin API (trust/issuer_admin_cap.h, PROTOCOL.md
 * 18.6): the UmbraCap header parser (a good header, case-insensitive scheme, and every
 * syntax refusal), the digest, and issuer_admin_cap_check() accepting a good request and
 * refusing each of: no verifier, malformed, another issuer, a bad issuer signature, expired,
 * a wrong audience, a wrong role, a retired key epoch, a proof by another key, a proof over
 * another method, target or body, a proof time 301 s off, a replay (401); a withdrawn role, a
 * revoked subject (403); a full replay cache (503). Through issuer_handle(): the audit actor
 * is the token's subject, another actor in the body is 400, and a bodyless route uses it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "trust/captoken.h"
#include "trust/issuer.h"
#include "trust/issuer_admin_cap.h"
#include "trust/issuer_keys.h"
#include "trust/issuer_roles.h"

enum { NOW = 1800000000 };

static struct keys_ed25519 iss, other, pop;
static const char ADMIN_TOKEN[] = "0123456789abcdef0123456789abcdef";

struct fix {
	struct store *st;
	struct issuer *is;
	struct issuer_keyring *kr;
	struct issuer_admin_cap *cap;
};

static int
setup(void **state)
{
	struct fix *f = um_xcalloc(1, sizeof(*f));
	struct issuer_keyring_config kcfg;
	struct issuer_config icfg;

	assert_int_equal(store_open(STORE_PATH_MEMORY, NULL, &f->st, NULL, 0), UM_OK);
	issuer_config_defaults(&icfg);
	icfg.admin_token = ADMIN_TOKEN;
	assert_int_equal(issuer_open(f->st, &icfg, &f->is, NULL, 0), UM_OK);
	issuer_keyring_config_defaults(&kcfg);
	kcfg.tiers = 1;
	assert_int_equal(issuer_keyring_open(f->st, &iss, &kcfg, NOW, &f->kr, NULL, 0), UM_OK);
	f->cap = issuer_admin_cap_new(iss.pk, f->kr);
	issuer_set_admin_cap(f->is, f->cap);
	assert_int_equal(
	        issuer_subject_upsert(f->is, "t", "ops-7", ISSUER_KIND_CLIENT, 1, NOW, NULL),
	        UM_OK);
	assert_int_equal(issuer_role_set(f->is, "t", "ops-7", "admin", true, NOW, NULL), UM_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	issuer_set_admin_cap(f->is, NULL);
	issuer_admin_cap_free(f->cap);
	issuer_keyring_free(f->kr);
	issuer_free(f->is);
	store_close(f->st);
	free(f);
	return 0;
}

/* A token for ops-7 as the issuer would make it; callers change fields, then sign with by. */
static void
token_base(struct captoken *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->sub, sizeof(t->sub), "ops-7");
	snprintf(t->aud, sizeof(t->aud), ISSUER_ADMIN_CAP_AUD);
	snprintf(t->role, sizeof(t->role), "admin");
	t->tier = 1;
	t->key_epoch = 1;
	t->iat_s = NOW - 10;
	t->exp_s = NOW + 3600;
	memset(t->jti, 0x5a, sizeof(t->jti));
	memcpy(t->pop_key, pop.pk, 32);
}

static size_t
token_enc(struct captoken *t, const struct keys_ed25519 *by, uint8_t *buf)
{
	struct wire_wr w;

	assert_int_equal(captoken_sign(t, by), UM_OK);
	wire_wr_init(&w, buf, CAPTOKEN_MAX_LEN);
	assert_int_equal(captoken_encode(t, &w), UM_OK);
	return w.len;
}

/* The header for token t over (m, target, body) at time ts, proof by key. */
static void
header(char *out, struct captoken *t, const struct keys_ed25519 *by, const struct keys_ed25519 *key,
       const char *m, const char *target, const char *body, uint64_t ts)
{
	uint8_t buf[CAPTOKEN_MAX_LEN];
	size_t n = token_enc(t, by, buf);

	assert_int_equal(issuer_cap_header_make(out, ISSUER_ADMIN_CAP_HEADER_MAX + 1, buf, n, key,
	                                        iss.pk, m, target, (const uint8_t *)body,
	                                        strlen(body), ts),
	                 UM_OK);
}

static void
test_header_parse(void **state)
{
	char h[ISSUER_ADMIN_CAP_HEADER_MAX + 64], *bad;
	struct issuer_cap_header p;
	struct captoken t;
	uint8_t buf[CAPTOKEN_MAX_LEN];
	size_t n;
	const char *dot;

	(void)state;
	token_base(&t);
	header(h, &t, &iss, &pop, "GET", "/v1/admin/audit", "", NOW);
	assert_true(issuer_cap_header_is_cap(h));
	assert_int_equal(issuer_cap_header_parse(h, &p), UM_OK);
	n = token_enc(&t, &iss, buf);
	assert_int_equal(p.token_len, n);
	assert_memory_equal(p.token, buf, n);
	assert_int_equal(p.time_s, NOW);
	/* The scheme is case-insensitive; blanks around the credential are allowed. */
	bad = um_xasprintf("umbracap \t%s \t", h + strlen("UmbraCap "));
	assert_int_equal(issuer_cap_header_parse(bad, &p), UM_OK);
	free(bad);
	assert_false(issuer_cap_header_is_cap(NULL));
	assert_false(issuer_cap_header_is_cap("Bearer abc"));
	assert_false(issuer_cap_header_is_cap("UmbraCap"));
	assert_false(issuer_cap_header_is_cap("UmbraCapx a.b.1"));
	dot = strchr(h, '.');
	static const char *const bads[] = {
		"UmbraCap ",
		"UmbraCap x",
		"UmbraCap ..1",
		"UmbraCap AAAA..1",
		"UmbraCap AAAA.AAAA.1", /* sig of 3 bytes */
		"UmbraCap AAA.AAAA.1",  /* not padded base64 */
		"UmbraCap A*AA.AAAA.1", /* not base64 */
		"UmbraCap AAAA.AAAA",   /* no time */
		"Bearer AAAA.AAAA.1",
	};
	for (size_t i = 0; i < UM_ARRAY_LEN(bads); i++)
		assert_int_equal(issuer_cap_header_parse(bads[i], &p), UM_ERR_MALFORMED);
	/* Times: empty, signed, leading zero, not a digit, 20 digits, above 2^63-1, a third dot. */
	static const char *const times[] = {
		"", "+1", "01", "1x", "12345678901234567890", "9223372036854775808", "1.2"
	};
	const char *last = strrchr(h, '.');
	for (size_t i = 0; i < UM_ARRAY_LEN(times); i++) {
		bad = um_xasprintf("%.*s.%s", (int)(last - h), h, times[i]);
		assert_int_equal(issuer_cap_header_parse(bad, &p), UM_ERR_MALFORMED);
		free(bad);
	}
	bad = um_xasprintf("%.*s.9223372036854775807", (int)(last - h), h);
	assert_int_equal(issuer_cap_header_parse(bad, &p), UM_OK);
	assert_int_equal(p.time_s, (uint64_t)INT64_MAX);
	free(bad);
	bad = um_xasprintf("%.*s.0", (int)(last - h), h);
	assert_int_equal(issuer_cap_header_parse(bad, &p), UM_OK);
	free(bad);
	/* A signature of 63 bytes: cut the sig's base64 to 84 characters (63 bytes). */
	bad = um_xasprintf("%.*s.%.84s.%u", (int)(dot - h), h, dot + 1, NOW);
	assert_int_equal(issuer_cap_header_parse(bad, &p), UM_ERR_MALFORMED);
	free(bad);
	/* Too long: the cap counts the whole value. */
	memset(h, 'A', sizeof(h) - 1);
	memcpy(h, "UmbraCap ", 9);
	h[sizeof(h) - 1] = '\0';
	assert_int_equal(issuer_cap_header_parse(h, &p), UM_ERR_MALFORMED);
}

static void
test_digest_binds_request(void **state)
{
	uint8_t a[32], b[32];

	(void)state;
	issuer_cap_digest(a, "POST", "/v1/admin/x", (const uint8_t *)"{}", 2);
	issuer_cap_digest(b, "POST", "/v1/admin/x", (const uint8_t *)"{} ", 3);
	assert_memory_not_equal(a, b, 32);
	issuer_cap_digest(b, "PUT", "/v1/admin/x", (const uint8_t *)"{}", 2);
	assert_memory_not_equal(a, b, 32);
	/* "POST /a" + "\nb" vs "POST /a\n" + "b": the layout is fixed, the bytes the same. */
	issuer_cap_digest(a, "POST", "/a", (const uint8_t *)"b", 1);
	issuer_cap_digest(b, "POST", "/a", (const uint8_t *)"b", 1);
	assert_memory_equal(a, b, 32);
	issuer_cap_digest(b, "POST", "/a?", (const uint8_t *)"b", 1);
	assert_memory_not_equal(a, b, 32);
}

static int
check(struct fix *f, const char *h, const char *m, const char *target, const char *body,
      uint64_t now, const char **why)
{
	char sub[ISSUER_ID_MAX_LEN + 1];
	int st = issuer_admin_cap_check(f->cap, f->is, h, m, target, (const uint8_t *)body,
	                                strlen(body), now, sub, why);

	if (st == 0)
		assert_string_equal(sub, "ops-7");
	else
		assert_string_equal(sub, "");
	return st;
}

static void
test_check_refusals(void **state)
{
	struct fix *f = *state;
	char h[ISSUER_ADMIN_CAP_HEADER_MAX + 1], sub[ISSUER_ID_MAX_LEN + 1];
	const char *why = NULL, *P = "/v1/admin/subjects/x/promote", *B = "{\"tier\":2}";
	struct captoken t;

	token_base(&t);
	header(h, &t, &iss, &pop, "POST", P, B, NOW);
	assert_int_equal(check(f, h, "POST", P, B, NOW, &why), 0);
	/* replayed */
	assert_int_equal(check(f, h, "POST", P, B, NOW + 5, &why), 401);
	assert_non_null(strstr(why, "replayed"));
	/* the same token, a new time: a new request */
	header(h, &t, &iss, &pop, "POST", P, B, NOW + 1);
	assert_int_equal(check(f, h, "POST", P, B, NOW, &why), 0);
	/* no verifier */
	assert_int_equal(issuer_admin_cap_check(NULL, f->is, h, "POST", P, (const uint8_t *)B,
	                                        strlen(B), NOW, sub, &why),
	                 401);
	/* malformed */
	assert_int_equal(check(f, "UmbraCap nope", "POST", P, B, NOW, &why), 401);
	assert_non_null(strstr(why, "malformed"));
	/* another issuer */
	header(h, &t, &other, &pop, "POST", P, B, NOW + 2);
	assert_int_equal(check(f, h, "POST", P, B, NOW, &why), 401);
	assert_string_equal(why, captoken_verdict_str(CAPTOKEN_UNKNOWN_ISSUER));
	/* a bad issuer signature: the token's sig flipped */
	{
		uint8_t buf[CAPTOKEN_MAX_LEN];
		size_t n = token_enc(&t, &iss, buf);

		buf[n - 1] ^= 1;
		assert_int_equal(issuer_cap_header_make(h, sizeof(h), buf, n, &pop, iss.pk, "POST",
		                                        P, (const uint8_t *)B, strlen(B), NOW + 3),
		                 UM_OK);
		assert_int_equal(check(f, h, "POST", P, B, NOW, &why), 401);
		assert_string_equal(why, captoken_verdict_str(CAPTOKEN_BAD_SIG));
	}
	/* expired */
	header(h, &t, &iss, &pop, "POST", P, B, NOW + 3600);
	assert_int_equal(check(f, h, "POST", P, B, NOW + 3600, &why), 401);
	assert_string_equal(why, captoken_verdict_str(CAPTOKEN_EXPIRED));
	/* wrong audience, wrong role */
	snprintf(t.aud, sizeof(t.aud), "directory");
	header(h, &t, &iss, &pop, "POST", P, B, NOW);
	assert_int_equal(check(f, h, "POST", P, B, NOW, &why), 401);
	assert_string_equal(why, captoken_verdict_str(CAPTOKEN_WRONG_AUD));
	token_base(&t);
	snprintf(t.role, sizeof(t.role), "provider");
	header(h, &t, &iss, &pop, "POST", P, B, NOW);
	assert_int_equal(check(f, h, "POST", P, B, NOW, &why), 401);
	assert_string_equal(why, captoken_verdict_str(CAPTOKEN_WRONG_ROLE));
	/* a retired key epoch */
	token_base(&t);
	t.key_epoch = 0;
	header(h, &t, &iss, &pop, "POST", P, B, NOW);
	assert_int_equal(check(f, h, "POST", P, B, NOW, &why), 401);
	assert_string_equal(why, captoken_verdict_str(CAPTOKEN_OLD_EPOCH));
	/* a proof by another key; over another method, target or body */
	token_base(&t);
	header(h, &t, &iss, &other, "POST", P, B, NOW);
	assert_int_equal(check(f, h, "POST", P, B, NOW, &why), 401);
	assert_string_equal(why, captoken_verdict_str(CAPTOKEN_BAD_POP));
	header(h, &t, &iss, &pop, "POST", P, B, NOW + 4);
	assert_int_equal(check(f, h, "PUT", P, B, NOW, &why), 401);
	assert_int_equal(check(f, h, "POST", "/v1/admin/subjects/y/promote", B, NOW, &why), 401);
	assert_int_equal(check(f, h, "POST", P, "{\"tier\":9}", NOW, &why), 401);
	assert_string_equal(why, captoken_verdict_str(CAPTOKEN_BAD_POP));
	/* the proof's time 301 s off either way (300 s is fine) */
	header(h, &t, &iss, &pop, "POST", P, B, NOW - 301);
	assert_int_equal(check(f, h, "POST", P, B, NOW, &why), 401);
	assert_string_equal(why, captoken_verdict_str(CAPTOKEN_POP_TIME));
	header(h, &t, &iss, &pop, "POST", P, B, NOW + 301);
	assert_int_equal(check(f, h, "POST", P, B, NOW, &why), 401);
	header(h, &t, &iss, &pop, "POST", P, B, NOW - 300);
	assert_int_equal(check(f, h, "POST", P, B, NOW, &why), 0);
	/* withdrawn role, then revoked subject: 403 for the same (valid) token */
	assert_int_equal(issuer_role_set(f->is, "t", "ops-7", "admin", false, NOW, NULL), UM_OK);
	header(h, &t, &iss, &pop, "POST", P, B, NOW + 10);
	assert_int_equal(check(f, h, "POST", P, B, NOW, &why), 403);
	assert_non_null(strstr(why, "admin role"));
	assert_int_equal(issuer_role_set(f->is, "t", "ops-7", "admin", true, NOW, NULL), UM_OK);
	assert_int_equal(check(f, h, "POST", P, B, NOW, &why), 0); /* not remembered when refused */
	assert_int_equal(issuer_subject_revoke(f->is, "t", "ops-7", true, NULL, NOW, NULL), UM_OK);
	header(h, &t, &iss, &pop, "POST", P, B, NOW + 11);
	assert_int_equal(check(f, h, "POST", P, B, NOW, &why), 403);
	assert_non_null(strstr(why, "revoked"));
}

static void
test_replay_cache_bounded(void **state)
{
	struct fix *f = *state;
	char h[ISSUER_ADMIN_CAP_HEADER_MAX + 1], body[32];
	const char *why = NULL, *P = "/v1/admin/audit";
	struct captoken t;

	token_base(&t);
	for (unsigned i = 0; i < ISSUER_ADMIN_CAP_REPLAY_MAX; i++) {
		snprintf(body, sizeof(body), "%u", i);
		header(h, &t, &iss, &pop, "GET", P, body, NOW);
		assert_int_equal(check(f, h, "GET", P, body, NOW, &why), 0);
	}
	header(h, &t, &iss, &pop, "GET", P, "full", NOW);
	assert_int_equal(check(f, h, "GET", P, "full", NOW, &why), 503);
	/* Once the entries' times are out of the window, their slots are reused. */
	header(h, &t, &iss, &pop, "GET", P, "later", NOW + 301);
	assert_int_equal(check(f, h, "GET", P, "later", NOW + 301, &why), 0);
}

static int
handle(struct fix *f, const char *auth, const char *m, const char *path, const char *body,
       char **out)
{
	struct ev_http_resp resp;
	int st;

	memset(&resp, 0, sizeof(resp));
	issuer_handle(f->is, m, path, auth, (const uint8_t *)body, strlen(body), NOW, &resp);
	st = resp.status;
	*out = resp.body != NULL ? um_xasprintf("%.*s", (int)resp.body_len, resp.body)
	                         : um_xstrdup("");
	free(resp.body);
	return st;
}

struct last_row {
	char actor[ISSUER_ID_MAX_LEN + 1];
	char action[64];
};

static int
last_row(void *arg, const struct issuer_audit_entry *e)
{
	struct last_row *r = arg;

	snprintf(r->actor, sizeof(r->actor), "%s", e->actor);
	snprintf(r->action, sizeof(r->action), "%s", e->action);
	return UM_OK;
}

static void
test_handle_actor(void **state)
{
	struct fix *f = *state;
	char h[ISSUER_ADMIN_CAP_HEADER_MAX + 1], *out;
	const char *P = "/v1/admin/subjects/dave", *B = "{\"kind\":\"client\",\"tier\":2}";
	const char *BA = "{\"kind\":\"client\",\"tier\":3,\"actor\":\"mallory\"}";
	const char *R = "/v1/admin/subjects/dave/roles/provider";
	struct last_row row;
	struct captoken t;

	token_base(&t);
	header(h, &t, &iss, &pop, "PUT", P, B, NOW);
	assert_int_equal(handle(f, h, "PUT", P, B, &out), 201);
	free(out);
	assert_int_equal(issuer_audit_foreach(f->is, 0, 1000, last_row, &row), UM_OK);
	assert_string_equal(row.action, "subject.create");
	assert_string_equal(row.actor, "ops-7");
	/* the same header again; the header over another body */
	assert_int_equal(handle(f, h, "PUT", P, B, &out), 401);
	free(out);
	header(h, &t, &iss, &pop, "PUT", P, BA, NOW);
	assert_int_equal(handle(f, h, "PUT", P, B, &out), 401);
	free(out);
	/* another actor in the body */
	assert_int_equal(handle(f, h, "PUT", P, BA, &out), 400);
	assert_non_null(strstr(out, "actor"));
	free(out);
	/* a bodyless route: the actor is the subject */
	header(h, &t, &iss, &pop, "PUT", R, "", NOW);
	assert_int_equal(handle(f, h, "PUT", R, "", &out), 200);
	free(out);
	assert_int_equal(issuer_audit_foreach(f->is, 0, 1000, last_row, &row), UM_OK);
	assert_string_equal(row.action, "subject.role.grant");
	assert_string_equal(row.actor, "ops-7");
	/* the bearer token still works, with its default actor */
	assert_int_equal(
	        handle(f, "Bearer 0123456789abcdef0123456789abcdef", "DELETE", R, "", &out), 200);
	free(out);
	assert_int_equal(issuer_audit_foreach(f->is, 0, 1000, last_row, &row), UM_OK);
	assert_string_equal(row.actor, "admin");
	/* without a verifier UmbraCap is 401 */
	issuer_set_admin_cap(f->is, NULL);
	header(h, &t, &iss, &pop, "GET", P, "", NOW);
	assert_int_equal(handle(f, h, "GET", P, "", &out), 401);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_parse),
		cmocka_unit_test(test_digest_binds_request),
		cmocka_unit_test_setup_teardown(test_check_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_cache_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handle_actor, setup, teardown),
	};

	if (um_crypto_init() != UM_OK)
		return 1;
	keys_ed25519_generate(&iss);
	keys_ed25519_generate(&other);
	keys_ed25519_generate(&pop);
	return cmocka_run_group_tests_name("issuer_admin_cap", tests, NULL, NULL);
}
