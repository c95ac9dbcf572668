/* SPDX-License-Identifier: MIT */
/*
 * The issuer's token keys (trust/issuer_keys.h): the first open makes epoch 1's keys; the key
 * list verifies under the issuer's identity and lists them; a token blind-signed with the
 * current key finalizes and verifies with the published key; rotation adds an epoch and keeps
 * the old keys published; raising min_token_epoch drops them and the revocation feed says so;
 * sequence numbers only grow; everything survives closing and reopening the store file; the
 * limits hold.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"
#include "crypto/crypto.h"
#include "crypto/blindrsa.h"
#include "store/store.h"
#include "trust/issuer_doc.h"
#include "trust/issuer_keys.h"
#include "trust/issuer_public.h"
#include "lib/encoding.h"
#include <jansson.h>
#include <sys/socket.h>
#include "trust/token.h"

static struct keys_ed25519 id;

static struct issuer_keyring *
open_ring(struct store *st, uint64_t now)
{
	struct issuer_keyring_config cfg;
	struct issuer_keyring *kr = NULL;
	char why[256] = "";

	issuer_keyring_config_defaults(&cfg);
	cfg.tiers = 2;
	if (issuer_keyring_open(st, &id, &cfg, now, &kr, why, sizeof(why)) != UM_OK)
		fail_msg("open: %s", why);
	return kr;
}

static void
keys_doc(struct issuer_keyring *kr, uint64_t now, struct issuer_keys *d)
{
	const uint8_t *doc;
	size_t len;

	assert_int_equal(issuer_keyring_keys_doc(kr, now, &doc, &len), UM_OK);
	assert_int_equal(issuer_keys_parse_verify(doc, len, id.pk, now, d), UM_OK);
}

/* Issue one token of tier with the ring, finalize it with the key taken from the list. */
static void
issue_and_verify(struct issuer_keyring *kr, const struct issuer_keys *d, uint8_t tier)
{
	struct blindrsa_key *pk = NULL;
	struct token t;
	uint8_t input[TOKEN_INPUT_LEN], blinded[BLINDRSA_MAX_LEN], inv[BLINDRSA_MAX_LEN],
	        bsig[BLINDRSA_MAX_LEN];
	size_t blen = 0, slen = 0, k;
	uint32_t epoch = 0;
	int found = -1;

	for (k = 0; k < d->n; k++) {
		if (d->keys[k].tier == tier && d->keys[k].epoch == d->key_epoch)
			found = (int)k;
	}
	assert_true(found >= 0);
	assert_int_equal(blindrsa_pk_import(d->keys[found].spki, d->keys[found].spki_len, &pk),
	                 UM_OK);
	assert_int_equal(token_prepare(&t, tier, d->key_epoch, pk), UM_OK);
	token_input(&t, input);
	assert_int_equal(blindrsa_blind(pk, TOKEN_VARIANT, input, sizeof(input), blinded, inv,
	                                blindrsa_key_len(pk)),
	                 UM_OK);
	blen = blindrsa_key_len(pk);
	assert_int_equal(issuer_keyring_blind_sign(kr, tier, blinded, blen, bsig, sizeof(bsig),
	                                           &slen, &epoch),
	                 UM_OK);
	assert_int_equal(epoch, d->key_epoch);
	assert_int_equal(blindrsa_finalize(pk, TOKEN_VARIANT, input, sizeof(input), bsig, slen, inv,
	                                   blen, t.sig, sizeof(t.sig)),
	                 UM_OK);
	t.sig_len = (uint16_t)slen;
	assert_int_equal(token_verify(&t, pk, tier, d->key_epoch), UM_OK);
	/* Not a tier the ring has; not a message of the right length. */
	assert_int_equal(
	        issuer_keyring_blind_sign(kr, 9, blinded, blen, bsig, sizeof(bsig), &slen, &epoch),
	        UM_ERR_NOT_FOUND);
	assert_int_equal(issuer_keyring_blind_sign(kr, tier, blinded, blen - 1, bsig, sizeof(bsig),
	                                           &slen, &epoch),
	                 UM_ERR_INVALID);
	blindrsa_key_free(pk);
}

static void
test_keyring_lifecycle(void **state)
{
	char path[] = "/tmp/umbra-issuer-keys-XXXXXX";
	char db[64];
	struct store *st = NULL;
	struct issuer_keyring *kr;
	struct issuer_keys *d = calloc(1, sizeof(*d));
	struct issuer_revocations *r = calloc(1, sizeof(*r));
	const uint8_t *doc;
	size_t len;
	uint64_t seq1, seq2, rseq;
	uint8_t spki_t2e2[BLINDRSA_SPKI_MAX];
	size_t spki_len;

	(void)state;
	assert_non_null(mkdtemp(path));
	snprintf(db, sizeof(db), "%s/issuer.db", path);
	assert_int_equal(store_open(db, NULL, &st, NULL, 0), UM_OK);
	kr = open_ring(st, 1000);
	assert_int_equal(issuer_keyring_epoch(kr), 1);
	assert_int_equal(issuer_keyring_min_epoch(kr), 1);
	keys_doc(kr, 1000, d);
	assert_int_equal(d->n, 2);
	assert_int_equal(d->key_epoch, 1);
	assert_int_equal(d->min_token_epoch, 1);
	assert_true(d->keys[0].tier == 1 && d->keys[1].tier == 2);
	seq1 = d->seq;
	issue_and_verify(kr, d, 2);

	/* Rotate: epoch 2's keys join; epoch 1's stay published; seq grows. */
	assert_int_equal(issuer_keyring_rotate(kr, 2000), UM_OK);
	keys_doc(kr, 2000, d);
	assert_int_equal(d->key_epoch, 2);
	assert_int_equal(d->n, 4);
	assert_true(d->seq > seq1);
	seq2 = d->seq;
	assert_non_null(issuer_keyring_public(kr, 1, 1));
	issue_and_verify(kr, d, 1);
	for (size_t k = 0; k < d->n; k++) {
		if (d->keys[k].tier == 2 && d->keys[k].epoch == 2) {
			memcpy(spki_t2e2, d->keys[k].spki, d->keys[k].spki_len);
			spki_len = d->keys[k].spki_len;
		}
	}
	/* Raise min_token_epoch: epoch 1 is gone from the list, and the feed refuses it. */
	assert_int_equal(issuer_keyring_set_min_epoch(kr, 3, 2000), UM_ERR_INVALID);
	assert_int_equal(issuer_keyring_set_min_epoch(kr, 2, 2000), UM_OK);
	assert_int_equal(issuer_keyring_set_min_epoch(kr, 1, 2000), UM_ERR_INVALID);
	keys_doc(kr, 2000, d);
	assert_int_equal(d->n, 2);
	assert_int_equal(d->min_token_epoch, 2);
	assert_null(issuer_keyring_public(kr, 1, 1));
	assert_int_equal(issuer_keyring_revocations_doc(kr, 2000, &doc, &len), UM_OK);
	assert_int_equal(issuer_revocations_parse_verify(doc, len, id.pk, 2000, r), UM_OK);
	assert_int_equal(r->min_token_epoch, 2);
	assert_true(issuer_revocations_refuse_epoch(r, 1, 1));
	assert_false(issuer_revocations_refuse_epoch(r, 1, 2));
	rseq = r->seq;
	/* The same feed until half its lifetime; then a new one, with a higher seq. */
	assert_int_equal(issuer_keyring_revocations_doc(kr, 2000 + 1799, &doc, &len), UM_OK);
	assert_int_equal(issuer_revocations_parse_verify(doc, len, id.pk, 3799, r), UM_OK);
	assert_int_equal(r->seq, rseq);
	assert_int_equal(issuer_keyring_revocations_doc(kr, 2000 + 1800, &doc, &len), UM_OK);
	assert_int_equal(issuer_revocations_parse_verify(doc, len, id.pk, 3800, r), UM_OK);
	assert_true(r->seq > rseq);
	rseq = r->seq;
	issuer_keyring_free(kr);
	assert_null(kr);
	store_close(st);

	/* Reopen: same epochs, same keys, sequence numbers never go back. */
	assert_int_equal(store_open(db, NULL, &st, NULL, 0), UM_OK);
	kr = open_ring(st, 5000);
	assert_int_equal(issuer_keyring_epoch(kr), 2);
	assert_int_equal(issuer_keyring_min_epoch(kr), 2);
	keys_doc(kr, 5000, d);
	assert_int_equal(d->n, 2);
	assert_true(d->seq > seq2);
	for (size_t k = 0; k < d->n; k++) {
		if (d->keys[k].tier == 2) {
			assert_int_equal(d->keys[k].spki_len, spki_len);
			assert_memory_equal(d->keys[k].spki, spki_t2e2, spki_len);
		}
	}
	issue_and_verify(kr, d, 2);
	assert_int_equal(issuer_keyring_revocations_doc(kr, 5000, &doc, &len), UM_OK);
	assert_int_equal(issuer_revocations_parse_verify(doc, len, id.pk, 5000, r), UM_OK);
	assert_true(r->seq > rseq);
	/* At most ISSUER_KEYS_EPOCHS_MAX epochs published at once. */
	for (unsigned i = 1; i < ISSUER_KEYS_EPOCHS_MAX; i++)
		assert_int_equal(issuer_keyring_rotate(kr, 6000 + i), UM_OK);
	assert_int_equal(issuer_keyring_rotate(kr, 7000), UM_ERR_STATE);
	issuer_keyring_free(kr);
	store_close(st);
	unlink(db);
	{
		char side[80];

		snprintf(side, sizeof(side), "%s-wal", db);
		unlink(side);
		snprintf(side, sizeof(side), "%s-shm", db);
		unlink(side);
	}
	rmdir(path);
	free(d);
	free(r);
}

static void
test_keyring_bad_config(void **state)
{
	struct issuer_keyring_config cfg;
	struct issuer_keyring *kr = NULL;
	struct store *st = NULL;
	char why[256] = "";

	(void)state;
	assert_int_equal(store_open(STORE_PATH_MEMORY, NULL, &st, NULL, 0), UM_OK);
	issuer_keyring_config_defaults(&cfg);
	cfg.tiers = 16;
	assert_int_equal(issuer_keyring_open(st, &id, &cfg, 1, &kr, why, sizeof(why)),
	                 UM_ERR_INVALID);
	assert_null(kr);
	assert_non_null(strstr(why, "tiers"));
	issuer_keyring_config_defaults(&cfg);
	cfg.bits = 1024;
	assert_int_equal(issuer_keyring_open(st, &id, &cfg, 1, &kr, why, sizeof(why)),
	                 UM_ERR_INVALID);
	store_close(st);
}

static int
serve(struct issuer_keyring *kr, struct abuse *lim, const char *method, const char *path,
      const char *body, const uint8_t addr[4], uint64_t now_ms, json_t **j, uint8_t **raw,
      size_t *raw_len)
{
	struct ev_http_resp resp = { .status = 500 };
	int status;

	struct issuer_public_ctx pc = { .keys = kr, .limit = lim, .is = NULL, .creds = NULL };

	assert_true(issuer_public_handle(&pc, method, path, AF_INET, addr, (const uint8_t *)body,
	                                 body != NULL ? strlen(body) : 0, 1000, now_ms, &resp));
	status = resp.status;
	if (j != NULL)
		*j = json_loadb((const char *)resp.body, resp.body_len, 0, NULL);
	if (raw != NULL) {
		*raw = resp.body;
		*raw_len = resp.body_len;
	} else {
		free(resp.body);
	}
	return status;
}

static void
test_public_routes(void **state)
{
	static const uint8_t a1[4] = { 192, 0, 2, 1 }, a2[4] = { 192, 0, 2, 2 };
	struct store *st = NULL;
	struct issuer_keyring *kr;
	struct abuse_config ac;
	struct abuse *lim = NULL;
	struct issuer_keys *d = calloc(1, sizeof(*d));
	struct blindrsa_key *pk = NULL;
	struct token t;
	uint8_t *raw, input[TOKEN_INPUT_LEN], blinded[BLINDRSA_MAX_LEN], inv[BLINDRSA_MAX_LEN],
	        bsig[BLINDRSA_MAX_LEN];
	char b64[BASE64_LEN(BLINDRSA_MAX_LEN)], *body;
	size_t len, klen;
	json_t *j;
	ssize_t n;

	(void)state;
	assert_int_equal(store_open(STORE_PATH_MEMORY, NULL, &st, NULL, 0), UM_OK);
	kr = open_ring(st, 1000);
	abuse_config_defaults(&ac);
	assert_int_equal(abuse_new(&ac, &lim, NULL, 0), UM_OK);
	/* The key list, as published. */
	assert_int_equal(serve(kr, lim, "GET", "/v1/pubkeys", NULL, a1, 0, NULL, &raw, &len), 200);
	assert_int_equal(issuer_keys_parse_verify(raw, len, id.pk, 1000, d), UM_OK);
	/* d's SPKI views point into raw: import before it goes. */
	assert_int_equal(blindrsa_pk_import(d->keys[0].spki, d->keys[0].spki_len, &pk), UM_OK);
	free(raw);
	assert_int_equal(serve(kr, lim, "GET", "/v1/revocations", NULL, a1, 0, NULL, &raw, &len),
	                 200);
	free(raw);
	/* A tier-1 token over the API: blind, issue, finalize, verify. */
	klen = blindrsa_key_len(pk);
	assert_int_equal(token_prepare(&t, 1, d->key_epoch, pk), UM_OK);
	token_input(&t, input);
	assert_int_equal(
	        blindrsa_blind(pk, TOKEN_VARIANT, input, sizeof(input), blinded, inv, klen), UM_OK);
	assert_int_equal(enc_base64(b64, sizeof(b64), blinded, klen), UM_OK);
	body = um_xasprintf("{\"tier\":1,\"blinded\":[\"%s\"]}", b64);
	assert_int_equal(serve(kr, lim, "POST", "/v1/tokens", body, a1, 0, &j, NULL, NULL), 200);
	assert_int_equal(json_integer_value(json_object_get(j, "epoch")), 1);
	n = dec_base64(
	        bsig, sizeof(bsig),
	        json_string_value(json_array_get(json_object_get(j, "blind_sigs"), 0)),
	        strlen(json_string_value(json_array_get(json_object_get(j, "blind_sigs"), 0))));
	assert_int_equal(n, (ssize_t)klen);
	json_decref(j);
	assert_int_equal(blindrsa_finalize(pk, TOKEN_VARIANT, input, sizeof(input), bsig, klen, inv,
	                                   klen, t.sig, sizeof(t.sig)),
	                 UM_OK);
	assert_int_equal(token_verify(&t, pk, 1, d->key_epoch), UM_OK);
	/* Burst 4 per source: the fifth request is 429 before any RSA work; another source is
	 * served; a second later there is a token again. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(
		        serve(kr, lim, "POST", "/v1/tokens", body, a1, 0, NULL, NULL, NULL), 200);
	assert_int_equal(serve(kr, lim, "POST", "/v1/tokens", body, a1, 0, NULL, NULL, NULL), 429);
	assert_int_equal(serve(kr, lim, "POST", "/v1/tokens", body, a2, 0, NULL, NULL, NULL), 200);
	assert_int_equal(serve(kr, lim, "POST", "/v1/tokens", body, a1, 1000, NULL, NULL, NULL),
	                 200);
	free(body);
	/* Refusals. */
	assert_int_equal(serve(kr, NULL, "POST", "/v1/tokens",
	                       "{\"tier\":2,\"blinded\":[\"AA==\"]}", a1, 0, NULL, NULL, NULL),
	                 403);
	assert_int_equal(serve(kr, NULL, "POST", "/v1/tokens",
	                       "{\"tier\":1,\"blinded\":[\"AA==\"]}", a1, 0, NULL, NULL, NULL),
	                 400);
	assert_int_equal(serve(kr, NULL, "POST", "/v1/tokens", "{\"tier\":1,\"blinded\":[]}", a1, 0,
	                       NULL, NULL, NULL),
	                 400);
	assert_int_equal(
	        serve(kr, NULL, "POST", "/v1/tokens", "{\"tier\":1}", a1, 0, NULL, NULL, NULL),
	        400);
	assert_int_equal(serve(kr, NULL, "POST", "/v1/tokens",
	                       "{\"tier\":1,\"blinded\":[\"AA==\"],\"x\":1}", a1, 0, NULL, NULL,
	                       NULL),
	                 400);
	assert_int_equal(serve(kr, NULL, "GET", "/v1/tokens", NULL, a1, 0, NULL, NULL, NULL), 405);
	assert_int_equal(serve(kr, NULL, "POST", "/v1/pubkeys", NULL, a1, 0, NULL, NULL, NULL),
	                 405);
	{
		struct ev_http_resp resp = { .status = 500 };
		struct issuer_public_ctx pc = {
			.keys = kr, .limit = NULL, .is = NULL, .creds = NULL
		};

		assert_false(issuer_public_handle(&pc, "GET", "/v1/admin/audit", AF_INET, a1, NULL,
		                                  0, 1000, 0, &resp));
		assert_null(resp.body);
	}
	blindrsa_key_free(pk);
	abuse_free(lim);
	issuer_keyring_free(kr);
	store_close(st);
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyring_lifecycle),
		cmocka_unit_test(test_keyring_bad_config),
		cmocka_unit_test(test_public_routes),
	};

	if (um_crypto_init() != UM_OK)
		return 1;
	log_set_level(UM_LOG_WARN);
	keys_ed25519_generate(&id);
	return cmocka_run_group_tests_name("issuer_keys", tests, NULL, NULL);
}
