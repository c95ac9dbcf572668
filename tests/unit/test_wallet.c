/* SPDX-License-Identifier: MIT */
/*
 * The client side of issuance and the wallet (trust/tokens_client.h, trust/wallet.h) against
 * a real issuer keyring and its public route: n tokens fetched, finalized, verified and kept;
 * a marked or malformed reply refused; tokens taken out once each (highest tier first, oldest
 * epoch first, epochs below the minimum dropped), across reopening the store.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <jansson.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/log.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "trust/issuer.h"
#include "trust/issuer_creds.h"
#include "trust/issuer_keys.h"
#include "trust/issuer_public.h"
#include "trust/tokens_client.h"
#include "trust/wallet.h"

static struct keys_ed25519 id;

struct fx {
	struct store *ist, *cst;
	struct issuer_keyring *kr;
	struct issuer_keys keys;
	const uint8_t *doc;
	size_t doc_len;
	struct wallet *w;
	char db[64], dir[40];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct issuer_keyring_config cfg;

	strcpy(f->dir, "/tmp/umbra-wallet-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/c.db", f->dir);
	assert_int_equal(store_open(STORE_PATH_MEMORY, NULL, &f->ist, NULL, 0), UM_OK);
	issuer_keyring_config_defaults(&cfg);
	cfg.tiers = 2;
	assert_int_equal(issuer_keyring_open(f->ist, &id, &cfg, 1000, &f->kr, NULL, 0), UM_OK);
	assert_int_equal(issuer_keyring_keys_doc(f->kr, 1000, &f->doc, &f->doc_len), UM_OK);
	assert_int_equal(issuer_keys_parse_verify(f->doc, f->doc_len, id.pk, 1000, &f->keys),
	                 UM_OK);
	assert_int_equal(store_open(f->db, NULL, &f->cst, NULL, 0), UM_OK);
	assert_int_equal(wallet_open(f->cst, &f->w, NULL, 0), UM_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[80];

	wallet_free(f->w);
	store_close(f->cst);
	issuer_keyring_free(f->kr);
	store_close(f->ist);
	unlink(f->db);
	snprintf(p, sizeof(p), "%s-wal", f->db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->db);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* POST body to the issuer's route; the reply body (caller frees) and status. */
static int
post(struct fx *f, uint8_t tier_override, const char *body, uint8_t **reply, size_t *len)
{
	static const uint8_t a[4] = { 192, 0, 2, 9 };
	struct ev_http_resp resp = { .status = 500 };

	(void)tier_override;
	struct issuer_public_ctx pc = { .keys = f->kr, .limit = NULL, .is = NULL, .creds = NULL };

	assert_true(issuer_public_handle(&pc, "POST", "/v1/tokens", AF_INET, a,
	                                 (const uint8_t *)body, strlen(body), 1000, 0, &resp));
	*reply = resp.body;
	*len = resp.body_len;
	return resp.status;
}

/* The issuer's reply made with the keyring directly (tiers above 1 need credentials over
 * HTTP, which this test is not about). */
static uint8_t *
sign_direct(struct fx *f, const char *body, size_t *len)
{
	json_t *j = json_loads(body, 0, NULL), *v, *out = json_array();
	uint8_t m[BLINDRSA_MAX_LEN], sig[BLINDRSA_MAX_LEN];
	char b64[BASE64_LEN(BLINDRSA_MAX_LEN)], *txt;
	uint32_t epoch = 0;
	size_t i, sl;
	ssize_t ml;

	json_array_foreach(json_object_get(j, "blinded"), i, v)
	{
		ml = dec_base64(m, sizeof(m), json_string_value(v), strlen(json_string_value(v)));
		assert_true(ml > 0);
		assert_int_equal(issuer_keyring_blind_sign(
		                         f->kr,
		                         (uint8_t)json_integer_value(json_object_get(j, "tier")), m,
		                         (size_t)ml, sig, sizeof(sig), &sl, &epoch),
		                 UM_OK);
		assert_int_equal(enc_base64(b64, sizeof(b64), sig, sl), UM_OK);
		json_array_append_new(out, json_string(b64));
	}
	v = json_pack("{s:O, s:I, s:o}", "tier", json_object_get(j, "tier"), "epoch",
	              (json_int_t)epoch, "blind_sigs", out);
	txt = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	json_decref(j);
	*len = strlen(txt);
	return (uint8_t *)txt;
}

static size_t
fetch(struct fx *f, uint8_t tier, size_t n, int want)
{
	struct tokens_req *r = NULL;
	char *body = NULL;
	uint8_t *reply;
	size_t len, added = 0;

	assert_int_equal(tokens_req_new(&f->keys, tier, n, NULL, 1000, &r, &body), UM_OK);
	if (tier == 1)
		assert_int_equal(post(f, tier, body, &reply, &len), 200);
	else
		reply = sign_direct(f, body, &len);
	assert_int_equal(tokens_req_finish(r, reply, len, f->w, 1000, &added), want);
	free(reply);
	free(body);
	tokens_req_free(r);
	return added;
}

static int
sum_counts(void *arg, const uint8_t issuer[32], uint8_t tier, uint32_t epoch, uint64_t count)
{
	uint64_t *tot = arg;

	(void)issuer;
	(void)epoch;
	tot[tier] += count;
	return UM_OK;
}

static void
test_fetch_and_spend(void **state)
{
	struct fx *f = *state;
	const struct blindrsa_key *pk = issuer_keyring_public(f->kr, 1, 1);
	uint8_t issuer[32], tok[WALLET_TOKEN_MAX];
	uint64_t tot[16] = { 0 };
	struct token t;
	size_t len;

	assert_int_equal(fetch(f, 1, 5, UM_OK), 5);
	assert_int_equal(wallet_counts(f->w, sum_counts, tot), UM_OK);
	assert_int_equal(tot[1], 5);
	/* Each comes out once, verifies with the issuer's key, and is gone from the wallet. */
	uint8_t last[WALLET_TOKEN_MAX];
	size_t last_len = 0;

	for (int i = 0; i < 5; i++) {
		assert_int_equal(wallet_take(f->w, 1, 0, issuer, tok, sizeof(tok), &len), UM_OK);
		memcpy(last, tok, len);
		last_len = len;
		assert_memory_equal(issuer, id.pk, 32);
		assert_int_equal(token_parse(tok, len, &t), UM_OK);
		assert_int_equal(token_verify(&t, pk, 1, 1), UM_OK);
	}
	assert_int_equal(wallet_take(f->w, 1, 0, issuer, tok, sizeof(tok), &len), UM_ERR_NOT_FOUND);
	/* The same token twice is refused by the wallet. */
	assert_int_equal(wallet_add(f->w, issuer, last, last_len, 1000), UM_OK);
	assert_int_equal(wallet_add(f->w, issuer, last, last_len, 1000), UM_ERR_EXISTS);
	assert_int_equal(wallet_add(f->w, issuer, last, last_len - 1, 1000), UM_ERR_MALFORMED);
}

static void
test_pick_order_and_reopen(void **state)
{
	struct fx *f = *state;
	uint8_t issuer[32], tok[WALLET_TOKEN_MAX];
	struct token t;
	size_t len;

	assert_int_equal(fetch(f, 1, 2, UM_OK), 2);
	assert_int_equal(fetch(f, 2, 1, UM_OK), 1);
	/* Across a reopen of the store. */
	wallet_free(f->w);
	store_close(f->cst);
	assert_int_equal(store_open(f->db, NULL, &f->cst, NULL, 0), UM_OK);
	assert_int_equal(wallet_open(f->cst, &f->w, NULL, 0), UM_OK);
	/* Tier 0 = the highest held first. */
	assert_int_equal(wallet_take(f->w, 0, 0, issuer, tok, sizeof(tok), &len), UM_OK);
	assert_int_equal(token_parse(tok, len, &t), UM_OK);
	assert_int_equal(t.tier, 2);
	assert_int_equal(wallet_take(f->w, 0, 0, issuer, tok, sizeof(tok), &len), UM_OK);
	assert_int_equal(token_parse(tok, len, &t), UM_OK);
	assert_int_equal(t.tier, 1);
	/* Epochs below the minimum are dropped, not spent. */
	assert_int_equal(wallet_take(f->w, 0, 2, issuer, tok, sizeof(tok), &len), UM_ERR_NOT_FOUND);
}

static void
test_bad_replies(void **state)
{
	struct fx *f = *state;
	struct tokens_req *r = NULL;
	char *body = NULL, *txt;
	uint8_t *reply;
	size_t len, added = 9;
	json_t *j;
	char *s;

	assert_int_equal(tokens_req_new(&f->keys, 3, 1, NULL, 1000, &r, &body), UM_ERR_NOT_FOUND);
	assert_int_equal(tokens_req_new(&f->keys, 1, 33, NULL, 1000, &r, &body), UM_ERR_INVALID);
	assert_int_equal(tokens_req_new(&f->keys, 1, 2, NULL, 1000, &r, &body), UM_OK);
	assert_int_equal(post(f, 1, body, &reply, &len), 200);
	/* Not JSON, the wrong count: nothing added. */
	assert_int_equal(tokens_req_finish(r, (const uint8_t *)"{}", 2, f->w, 1000, &added),
	                 UM_ERR_MALFORMED);
	assert_int_equal(added, 0);
	/* A marked signature (one bit of the first flipped): refused; the other kept. */
	j = json_loadb((const char *)reply, len, 0, NULL);
	s = strdup(json_string_value(json_array_get(json_object_get(j, "blind_sigs"), 0)));
	s[10] = s[10] == 'A' ? 'B' : 'A';
	json_array_set_new(json_object_get(j, "blind_sigs"), 0, json_string(s));
	txt = json_dumps(j, JSON_COMPACT);
	assert_int_equal(
	        tokens_req_finish(r, (const uint8_t *)txt, strlen(txt), f->w, 1000, &added),
	        UM_ERR_AUTH);
	assert_int_equal(added, 1);
	free(txt);
	free(s);
	json_decref(j);
	free(reply);
	free(body);
	tokens_req_free(r);
}

/* Tokens above tier 1: the subject's signed request, and its effective tier, at the issuer. */
static void
test_identified(void **state)
{
	struct fx *f = *state;
	static const uint8_t a[4] = { 192, 0, 2, 9 };
	struct issuer_config icfg;
	struct issuer *is = NULL;
	struct issuer_creds *creds = NULL;
	struct keys_ed25519 alice, mallory;
	struct tokens_subject who = { "alice", &alice }, bad = { "alice", &mallory };
	struct tokens_req *r = NULL;
	char *body = NULL;
	size_t added = 0;
	int64_t did = 0;
	bool created;

	issuer_config_defaults(&icfg);
	assert_int_equal(issuer_open(f->ist, &icfg, &is, NULL, 0), UM_OK);
	assert_int_equal(issuer_creds_open(f->ist, &creds, NULL, 0), UM_OK);
	keys_ed25519_generate(&alice);
	keys_ed25519_generate(&mallory);
	assert_int_equal(
	        issuer_subject_upsert(is, "admin", "alice", ISSUER_KIND_CLIENT, 2, 1000, &created),
	        UM_OK);
	assert_int_equal(issuer_creds_set(creds, "alice", alice.pk, 1000), UM_OK);
	{
		struct issuer_public_ctx pc = {
			.keys = f->kr, .limit = NULL, .is = is, .creds = creds
		};
		struct ev_http_resp resp = { .status = 500 };
		int cases[][3] = {
			/* tier, signer (0 alice, 1 mallory), time offset */
			{ 2, 0, 0 },
			{ 2, 1, 0 },
			{ 2, 0, 301 },
			{ 3, 0, 0 },
		};
		int want[] = { 200, 401, 401, 401 }; /* the last: tier changed after signing */

		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			uint8_t tier = (uint8_t)cases[i][0];

			if (tier == 3) {
				/* The key list has tiers 1..2 only: ask with a tier-2 key, claim 3.
				 */
				assert_int_equal(
				        tokens_req_new(&f->keys, 2, 1, cases[i][1] ? &bad : &who,
				                       1000 + (uint64_t)cases[i][2], &r, &body),
				        UM_OK);
				char *p = strstr(body, "\"tier\":2");
				assert_non_null(p);
				p[7] = '3';
			} else {
				assert_int_equal(
				        tokens_req_new(&f->keys, tier, 1, cases[i][1] ? &bad : &who,
				                       1000 + (uint64_t)cases[i][2], &r, &body),
				        UM_OK);
			}
			resp = (struct ev_http_resp){ .status = 500 };
			assert_true(issuer_public_handle(&pc, "POST", "/v1/tokens", AF_INET, a,
			                                 (const uint8_t *)body, strlen(body), 1000,
			                                 0, &resp));
			if (resp.status != want[i])
				fail_msg("case %zu: HTTP %d, want %d: %.*s", i, resp.status,
				         want[i], (int)resp.body_len, (const char *)resp.body);
			if (resp.status == 200) {
				assert_int_equal(tokens_req_finish(r, resp.body, resp.body_len,
				                                   f->w, 1000, &added),
				                 UM_OK);
				assert_int_equal(added, 1);
			}
			free(resp.body);
			free(body);
			tokens_req_free(r);
		}
		/* Base tier 1: a valid request for tier 2 is refused for the tier. */
		assert_int_equal(issuer_subject_promote(is, "admin", "alice", 1, "", 1000), UM_OK);
		assert_int_equal(tokens_req_new(&f->keys, 2, 1, &who, 1000, &r, &body), UM_OK);
		resp = (struct ev_http_resp){ .status = 500 };
		assert_true(issuer_public_handle(&pc, "POST", "/v1/tokens", AF_INET, a,
		                                 (const uint8_t *)body, strlen(body), 1000, 0,
		                                 &resp));
		assert_int_equal(resp.status, 403);
		free(resp.body);
		free(body);
		tokens_req_free(r);
		assert_int_equal(issuer_subject_promote(is, "admin", "alice", 2, "", 1000), UM_OK);
		/* A dispute caps alice at tier 1: tier 2 is refused until it is cleared. */
		assert_int_equal(
		        issuer_dispute_open(is, "admin", "alice", 1, 3600, "c", "e", 1000, &did),
		        UM_OK);
		assert_int_equal(tokens_req_new(&f->keys, 2, 1, &who, 1000, &r, &body), UM_OK);
		resp = (struct ev_http_resp){ .status = 500 };
		assert_true(issuer_public_handle(&pc, "POST", "/v1/tokens", AF_INET, a,
		                                 (const uint8_t *)body, strlen(body), 1000, 0,
		                                 &resp));
		assert_int_equal(resp.status, 403);
		free(resp.body);
		free(body);
		tokens_req_free(r);
		/* A subject on a tier-1 request is refused: tier 1 is anonymous. */
		assert_int_equal(tokens_req_new(&f->keys, 1, 1, &who, 1000, &r, &body), UM_OK);
		resp = (struct ev_http_resp){ .status = 500 };
		assert_true(issuer_public_handle(&pc, "POST", "/v1/tokens", AF_INET, a,
		                                 (const uint8_t *)body, strlen(body), 1000, 0,
		                                 &resp));
		assert_int_equal(resp.status, 400);
		free(resp.body);
		free(body);
		tokens_req_free(r);
	}
	{
		/* Bob's daily quota of 3: 2 + 2 is refused (nothing counted), 2 + 1 is not; the
		 * next UTC day starts again. */
		struct issuer_public_ctx pc = {
			.keys = f->kr, .is = is, .creds = creds, .subject_quota = 3
		};
		struct tokens_subject bob_who = { "bob", &mallory };
		struct {
			size_t n;
			uint64_t now;
			int want;
		} steps[] = { { 2, 1000, 200 },
			      { 2, 1001, 429 },
			      { 1, 1002, 200 },
			      { 1, 1003, 429 },
			      { 2, 1000 + 86400, 200 } };
		uint64_t used = 0;

		assert_int_equal(issuer_subject_upsert(is, "admin", "bob", ISSUER_KIND_CLIENT, 2,
		                                       1000, &created),
		                 UM_OK);
		assert_int_equal(issuer_creds_set(creds, "bob", mallory.pk, 1000), UM_OK);
		for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
			struct ev_http_resp resp = { .status = 500 };

			assert_int_equal(tokens_req_new(&f->keys, 2, steps[i].n, &bob_who,
			                                steps[i].now, &r, &body),
			                 UM_OK);
			assert_true(issuer_public_handle(&pc, "POST", "/v1/tokens", AF_INET, a,
			                                 (const uint8_t *)body, strlen(body),
			                                 steps[i].now, 0, &resp));
			if (resp.status != steps[i].want)
				fail_msg("quota step %zu: HTTP %d, want %d: %.*s", i, resp.status,
				         steps[i].want, (int)resp.body_len,
				         (const char *)resp.body);
			free(resp.body);
			free(body);
			tokens_req_free(r);
		}
		/* Quota 0 counts without limiting. */
		assert_int_equal(
		        issuer_creds_quota_take(creds, "bob", 1000 + 86400, 1000, 0, &used), UM_OK);
		assert_int_equal(used, 1002);
		assert_int_equal(
		        issuer_creds_quota_take(creds, "bob", 1000 + 86400, 1, 1002, &used),
		        UM_ERR_RATELIMIT);
		assert_int_equal(used, 1002);
	}
	keys_ed25519_clear(&alice);
	keys_ed25519_clear(&mallory);
	issuer_creds_free(creds);
	issuer_free(is);
}

/* After a rotation the issuer still signs under an older epoch it lists when the request
 * names it (a client whose consensus does not list the new key yet asks for the old one);
 * an epoch it does not hold is 404. */
static void
test_older_epoch(void **state)
{
	struct fx *f = *state;
	uint8_t *copy = malloc(f->doc_len), *reply = NULL;
	struct issuer_keys keys1;
	struct tokens_req *r = NULL;
	char *body = NULL, *p;
	size_t len = 0, added = 0;

	memcpy(copy, f->doc, f->doc_len); /* the epoch-1 list, kept past the rotation */
	assert_int_equal(issuer_keys_parse_verify(copy, f->doc_len, id.pk, 1000, &keys1), UM_OK);
	assert_int_equal(issuer_keyring_rotate(f->kr, 1001), UM_OK);
	assert_int_equal(issuer_keyring_epoch(f->kr), 2);
	assert_int_equal(tokens_req_new_epoch(&keys1, 1, 1, 3, NULL, 1001, &r, &body), UM_OK);
	assert_non_null(strstr(body, "\"epoch\":1"));
	assert_int_equal(post(f, 0, body, &reply, &len), 200);
	assert_int_equal(tokens_req_finish(r, reply, len, f->w, 1001, &added), UM_OK);
	assert_int_equal(added, 3);
	free(reply);
	/* The same request naming an epoch the issuer does not hold. */
	p = strstr(body, "\"epoch\":1");
	p[8] = '9';
	assert_int_equal(post(f, 0, body, &reply, &len), 404);
	free(reply);
	free(body);
	tokens_req_free(r);
	free(copy);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fetch_and_spend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pick_order_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_replies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_older_epoch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identified, setup, teardown),
	};

	if (um_crypto_init() != UM_OK)
		return 1;
	log_set_level(UM_LOG_WARN);
	keys_ed25519_generate(&id);
	return cmocka_run_group_tests_name("wallet", tests, NULL, NULL);
}
