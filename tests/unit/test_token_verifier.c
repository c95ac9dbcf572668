/* SPDX-License-Identifier: MIT */
/*
 * The exit's token verifier (trust/token_verifier.h, docs/PROTOCOL.md 17.5) with real tokens
 * from a real issuer keyring: before a key list every token is UNAVAILABLE; a token of the
 * issuer's key verifies once (ACCEPTED with its tier) and is a DOUBLE_SPEND after, also once
 * the store was closed and reopened; an unknown issuer, a malformed token, a bad signature, a
 * wrong key_id, an unlisted (tier, epoch) and an expired key each get their status; a revoked
 * (tier, epoch) and epochs below min_token_epoch (from the key list or from the feed) are
 * REFUSED_EPOCH, and raising min_token_epoch prunes the spent set; documents only replace
 * older ones (seq), and forged or expired ones are refused.
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
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "trust/issuer_doc.h"
#include "trust/issuer_keys.h"
#include "trust/token.h"
#include "trust/token_verifier.h"
#include "helpers/token_fixture.h"

enum {
	NOW = 1000000,
};

static struct token_verifier *
verifier(struct store *st, const uint8_t *id)
{
	struct token_verifier *tv = NULL;
	char why[256] = "";

	if (token_verifier_new(st, &tv, why, sizeof(why)) != UM_OK)
		fail_msg("token_verifier_new: %s", why);
	if (id != NULL)
		assert_int_equal(token_verifier_add_issuer(tv, id), UM_OK);
	return tv;
}

static struct store *
mem_store(void)
{
	struct store *st = NULL;

	assert_int_equal(store_open(STORE_PATH_MEMORY, NULL, &st, NULL, 0), UM_OK);
	return st;
}

static int
offer_keys(struct token_verifier *tv, struct tok_issuer *ti, uint64_t now)
{
	const uint8_t *doc;
	size_t len;

	assert_int_equal(issuer_keyring_keys_doc(ti->kr, now, &doc, &len), UM_OK);
	return token_verifier_offer_keys(tv, ti->id.pk, doc, len, now);
}

static int
offer_revs(struct token_verifier *tv, struct tok_issuer *ti, uint64_t now)
{
	const uint8_t *doc;
	size_t len;

	assert_int_equal(issuer_keyring_revocations_doc(ti->kr, now, &doc, &len), UM_OK);
	return token_verifier_offer_revocations(tv, ti->id.pk, doc, len, now);
}

static void
issue(struct tok_issuer *ti, uint8_t tier, uint8_t *out, size_t *len, struct token *t)
{
	assert_int_equal(tok_issuer_issue(ti, tier, NOW, out, TOKEN_MAX_LEN, len, t), UM_OK);
}

static enum token_verdict
spend(struct token_verifier *tv, const uint8_t *issuer, const uint8_t *tok, size_t len,
      uint64_t now, uint8_t *tier)
{
	uint8_t t = 0xee;
	enum token_verdict v = token_verifier_spend(tv, issuer, tok, len, now, &t);

	if (tier != NULL)
		*tier = t;
	if (v != TOKEN_VERDICT_ACCEPTED)
		assert_int_equal(t, 0);
	return v;
}

static void
reencode(const struct token *t, uint8_t *out, size_t *len)
{
	struct wire_wr w;

	wire_wr_init(&w, out, TOKEN_MAX_LEN);
	assert_int_equal(token_encode(t, &w), UM_OK);
	*len = w.len;
}

/* A revocation feed of ti revoking keys[0..n) with seq, signed by signer. */
static size_t
revs_doc(const struct keys_ed25519 *signer, uint64_t seq, uint64_t published, uint32_t min_epoch,
         const struct issuer_revoked_key *keys, uint8_t n, uint8_t *out, size_t cap)
{
	struct issuer_revocations *r = calloc(1, sizeof(*r));
	struct wire_wr w;

	r->version = ISSUER_DOC_VERSION;
	r->seq = seq;
	r->published_s = published;
	r->expires_s = published + 3600;
	r->min_token_epoch = min_epoch;
	r->n_keys = n;
	if (n > 0)
		memcpy(r->keys, keys, n * sizeof(keys[0]));
	assert_int_equal(issuer_revocations_sign(r, signer), UM_OK);
	wire_wr_init(&w, out, cap);
	assert_int_equal(issuer_revocations_encode(r, &w), UM_OK);
	free(r);
	return w.len;
}

static void
test_accept_and_every_refusal(void **state)
{
	struct tok_issuer ti;
	struct store *st = mem_store();
	struct token_verifier *tv;
	struct token_verifier_stats s;
	uint8_t tok[TOKEN_MAX_LEN], bad[TOKEN_MAX_LEN], other[32];
	size_t len, blen;
	struct token t, u;
	uint8_t tier;

	(void)state;
	assert_int_equal(tok_issuer_open(&ti, 2, 0, NOW), UM_OK);
	tv = verifier(st, ti.id.pk);
	assert_int_equal(token_verifier_add_issuer(tv, ti.id.pk), UM_ERR_EXISTS);
	issue(&ti, 2, tok, &len, &t);
	assert_int_equal(len, TOKEN_MIN_LEN); /* 2048-bit keys: 328 bytes */

	/* No key list yet: the exit cannot check tokens. */
	assert_int_equal(spend(tv, ti.id.pk, tok, len, NOW, NULL), TOKEN_VERDICT_UNAVAILABLE);
	assert_int_equal(offer_keys(tv, &ti, NOW), UM_OK);
	assert_int_equal(offer_keys(tv, &ti, NOW), UM_ERR_EXISTS);

	/* Not an issuer we trust. */
	memset(other, 0x5a, sizeof(other));
	assert_int_equal(spend(tv, other, tok, len, NOW, NULL), TOKEN_VERDICT_UNKNOWN_ISSUER);
	assert_int_equal(token_verifier_offer_keys(tv, other, tok, len, NOW), UM_ERR_NOT_FOUND);

	/* Malformed: cut, extended, empty, a bad version. */
	assert_int_equal(spend(tv, ti.id.pk, tok, len - 1, NOW, NULL), TOKEN_VERDICT_UNAVAILABLE);
	memcpy(bad, tok, len);
	bad[len] = 0;
	assert_int_equal(spend(tv, ti.id.pk, bad, len + 1, NOW, NULL), TOKEN_VERDICT_UNAVAILABLE);
	assert_int_equal(spend(tv, ti.id.pk, NULL, 0, NOW, NULL), TOKEN_VERDICT_UNAVAILABLE);
	bad[0] = 2;
	assert_int_equal(spend(tv, ti.id.pk, bad, len, NOW, NULL), TOKEN_VERDICT_UNAVAILABLE);

	/* Invalid: a flipped signature bit, another key_id, a (tier, epoch) with no key, a tier
	 * the token was not signed for. */
	u = t;
	u.sig[100] ^= 1;
	reencode(&u, bad, &blen);
	assert_int_equal(spend(tv, ti.id.pk, bad, blen, NOW, NULL), TOKEN_VERDICT_INVALID);
	u = t;
	u.key_id[0] ^= 1;
	reencode(&u, bad, &blen);
	assert_int_equal(spend(tv, ti.id.pk, bad, blen, NOW, NULL), TOKEN_VERDICT_INVALID);
	u = t;
	u.key_epoch = 7;
	reencode(&u, bad, &blen);
	assert_int_equal(spend(tv, ti.id.pk, bad, blen, NOW, NULL), TOKEN_VERDICT_INVALID);
	u = t;
	u.tier = 1;
	reencode(&u, bad, &blen);
	assert_int_equal(spend(tv, ti.id.pk, bad, blen, NOW, NULL), TOKEN_VERDICT_INVALID);
	u = t;
	u.tier = 3; /* the ring has tiers 1 and 2 only */
	reencode(&u, bad, &blen);
	assert_int_equal(spend(tv, ti.id.pk, bad, blen, NOW, NULL), TOKEN_VERDICT_INVALID);

	/* The real one: accepted once, with its tier; then a double spend. */
	assert_int_equal(spend(tv, ti.id.pk, tok, len, NOW, &tier), TOKEN_VERDICT_ACCEPTED);
	assert_int_equal(tier, 2);
	assert_int_equal(spend(tv, ti.id.pk, tok, len, NOW, NULL), TOKEN_VERDICT_DOUBLE_SPEND);
	/* The same nonce with a broken signature is not a double spend: invalid first. */
	u = t;
	u.sig[0] ^= 0x80;
	reencode(&u, bad, &blen);
	assert_int_equal(spend(tv, ti.id.pk, bad, blen, NOW, NULL), TOKEN_VERDICT_INVALID);
	/* Another token of the same key is fine. */
	issue(&ti, 1, tok, &len, NULL);
	assert_int_equal(spend(tv, ti.id.pk, tok, len, NOW, &tier), TOKEN_VERDICT_ACCEPTED);
	assert_int_equal(tier, 1);
	token_verifier_note(tv, TOKEN_VERDICT_HAS_TIER);

	token_verifier_stats(tv, &s);
	assert_int_equal(s.issuers, 1);
	assert_int_equal(s.ready, 1);
	assert_int_equal(s.accepted, 2);
	assert_int_equal(s.refused[TOKEN_VERDICT_UNKNOWN_ISSUER], 1);
	assert_int_equal(s.refused[TOKEN_VERDICT_UNAVAILABLE], 5);
	assert_int_equal(s.refused[TOKEN_VERDICT_INVALID], 6);
	assert_int_equal(s.refused[TOKEN_VERDICT_DOUBLE_SPEND], 1);
	assert_int_equal(s.double_spends, 1);
	assert_int_equal(s.refused[TOKEN_VERDICT_HAS_TIER], 1);
	assert_int_equal(s.store_errors, 0);
	assert_string_equal(token_verdict_str(TOKEN_VERDICT_DOUBLE_SPEND), "double-spend");
	assert_string_equal(token_verdict_str((enum token_verdict)9), "unknown");

	token_verifier_free(tv);
	assert_null(tv);
	store_close(st);
	tok_issuer_close(&ti);
}

static void
test_double_spend_survives_reopen(void **state)
{
	char dir[] = "/tmp/umbra-tokens-XXXXXX", db[64];
	struct tok_issuer ti;
	struct store *st = NULL;
	struct token_verifier *tv;
	uint8_t tok[TOKEN_MAX_LEN], tok2[TOKEN_MAX_LEN];
	size_t len, len2;

	(void)state;
	assert_int_equal(tok_issuer_open(&ti, 1, 0, NOW), UM_OK);
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/umbra.db", dir);
	issue(&ti, 1, tok, &len, NULL);
	issue(&ti, 1, tok2, &len2, NULL);

	assert_int_equal(store_open(db, NULL, &st, NULL, 0), UM_OK);
	tv = verifier(st, ti.id.pk);
	assert_int_equal(offer_keys(tv, &ti, NOW), UM_OK);
	assert_int_equal(spend(tv, ti.id.pk, tok, len, NOW, NULL), TOKEN_VERDICT_ACCEPTED);
	token_verifier_free(tv);
	store_close(st);

	/* A restart (new verifier, reopened database): the spent set is still there. */
	assert_int_equal(store_open(db, NULL, &st, NULL, 0), UM_OK);
	assert_int_equal(store_schema_version(st, "exit_tokens"), 1);
	tv = verifier(st, ti.id.pk);
	assert_int_equal(offer_keys(tv, &ti, NOW), UM_OK);
	assert_int_equal(spend(tv, ti.id.pk, tok, len, NOW, NULL), TOKEN_VERDICT_DOUBLE_SPEND);
	assert_int_equal(spend(tv, ti.id.pk, tok2, len2, NOW, NULL), TOKEN_VERDICT_ACCEPTED);
	token_verifier_free(tv);
	store_close(st);

	unlink(db);
	{
		char side[80];

		snprintf(side, sizeof(side), "%s-wal", db);
		unlink(side);
		snprintf(side, sizeof(side), "%s-shm", db);
		unlink(side);
	}
	rmdir(dir);
	tok_issuer_close(&ti);
}

static void
test_revoked_epoch(void **state)
{
	struct tok_issuer ti;
	struct keys_ed25519 forger;
	struct store *st = mem_store();
	struct token_verifier *tv;
	static const struct issuer_revoked_key revoked[] = { { .tier = 1, .epoch = 1 } };
	uint8_t t1[TOKEN_MAX_LEN], t2[TOKEN_MAX_LEN], doc[1024];
	size_t l1, l2, n;
	struct token_issuer_info info;

	(void)state;
	assert_int_equal(tok_issuer_open(&ti, 2, 0, NOW), UM_OK);
	tv = verifier(st, ti.id.pk);
	assert_int_equal(offer_keys(tv, &ti, NOW), UM_OK);
	issue(&ti, 1, t1, &l1, NULL);
	issue(&ti, 2, t2, &l2, NULL);

	/* Forged (another identity), expired and future-dated feeds are refused. */
	keys_ed25519_generate(&forger);
	n = revs_doc(&forger, 5, NOW, 1, revoked, 1, doc, sizeof(doc));
	assert_int_equal(token_verifier_offer_revocations(tv, ti.id.pk, doc, n, NOW), UM_ERR_AUTH);
	n = revs_doc(&ti.id, 5, NOW - 7200, 1, revoked, 1, doc, sizeof(doc));
	assert_int_equal(token_verifier_offer_revocations(tv, ti.id.pk, doc, n, NOW),
	                 UM_ERR_EXPIRED);
	n = revs_doc(&ti.id, 5, NOW + 3600, 1, revoked, 1, doc, sizeof(doc));
	assert_int_equal(token_verifier_offer_revocations(tv, ti.id.pk, doc, n, NOW),
	                 UM_ERR_EXPIRED);
	assert_int_equal(token_verifier_offer_revocations(tv, ti.id.pk, doc, n - 1, NOW),
	                 UM_ERR_TRUNCATED);

	/* (1, 1) revoked: tier-1 tokens of epoch 1 are refused, tier 2 is not. */
	n = revs_doc(&ti.id, 5, NOW, 1, revoked, 1, doc, sizeof(doc));
	assert_int_equal(token_verifier_offer_revocations(tv, ti.id.pk, doc, n, NOW), UM_OK);
	assert_int_equal(token_verifier_offer_revocations(tv, ti.id.pk, doc, n, NOW),
	                 UM_ERR_EXISTS);
	assert_int_equal(spend(tv, ti.id.pk, t1, l1, NOW, NULL), TOKEN_VERDICT_REFUSED_EPOCH);
	assert_int_equal(spend(tv, ti.id.pk, t2, l2, NOW, NULL), TOKEN_VERDICT_ACCEPTED);
	token_verifier_issuer(tv, 0, &info);
	assert_true(info.has_keys && info.has_revocations);
	assert_int_equal(info.revocations_seq, 5);
	assert_int_equal(info.key_epoch, 1);
	assert_int_equal(info.n_keys, 2);

	/* An older feed (lower seq) never replaces it: still refused. */
	n = revs_doc(&ti.id, 4, NOW, 1, NULL, 0, doc, sizeof(doc));
	assert_int_equal(token_verifier_offer_revocations(tv, ti.id.pk, doc, n, NOW),
	                 UM_ERR_REPLAY);
	assert_int_equal(spend(tv, ti.id.pk, t1, l1, NOW, NULL), TOKEN_VERDICT_REFUSED_EPOCH);
	/* A newer one that lifts the revocation: accepted (the nonce was never spent). */
	n = revs_doc(&ti.id, 6, NOW, 1, NULL, 0, doc, sizeof(doc));
	assert_int_equal(token_verifier_offer_revocations(tv, ti.id.pk, doc, n, NOW), UM_OK);
	assert_int_equal(spend(tv, ti.id.pk, t1, l1, NOW, NULL), TOKEN_VERDICT_ACCEPTED);

	token_verifier_free(tv);
	store_close(st);
	keys_ed25519_clear(&forger);
	tok_issuer_close(&ti);
}

static int64_t
spent_rows(struct store *st, uint32_t epoch)
{
	struct store_stmt *s = NULL;
	int64_t n = -1;

	assert_int_equal(
	        store_stmt_prepare(st, "SELECT count(*) FROM token_spent WHERE epoch = ?", &s),
	        UM_OK);
	assert_int_equal(store_stmt_bind_int64(s, 1, epoch), UM_OK);
	assert_int_equal(store_stmt_step(s), STORE_ROW);
	assert_int_equal(store_stmt_column_int64(s, 0, &n), UM_OK);
	store_stmt_free(s);
	return n;
}

static void
test_min_token_epoch(void **state)
{
	struct tok_issuer ti;
	struct store *st = mem_store(), *st_b = mem_store();
	struct token_verifier *tv, *tv_b;
	uint8_t t1[TOKEN_MAX_LEN], t1b[TOKEN_MAX_LEN], t2[TOKEN_MAX_LEN], old_keys[8192];
	size_t l1, l1b, l2, old_len;
	const uint8_t *doc;
	struct token_issuer_info info;

	(void)state;
	assert_int_equal(tok_issuer_open(&ti, 1, 0, NOW), UM_OK);
	tv = verifier(st, ti.id.pk);
	tv_b = verifier(st_b, ti.id.pk);
	issue(&ti, 1, t1, &l1, NULL);
	issue(&ti, 1, t1b, &l1b, NULL);
	/* Epoch 2 starts; epoch 1's key stays listed, so its tokens still verify. */
	assert_int_equal(issuer_keyring_rotate(ti.kr, NOW + 10), UM_OK);
	issue(&ti, 1, t2, &l2, NULL);
	assert_int_equal(offer_keys(tv, &ti, NOW + 10), UM_OK);
	assert_int_equal(offer_keys(tv_b, &ti, NOW + 10), UM_OK);
	assert_int_equal(issuer_keyring_keys_doc(ti.kr, NOW + 10, &doc, &old_len), UM_OK);
	assert_true(old_len <= sizeof(old_keys));
	memcpy(old_keys, doc, old_len);
	assert_int_equal(spend(tv, ti.id.pk, t1b, l1b, NOW + 10, NULL), TOKEN_VERDICT_ACCEPTED);
	assert_int_equal(spent_rows(st, 1), 1);

	/* min_token_epoch 2: epoch 1 leaves the key list and the feed says so. */
	assert_int_equal(issuer_keyring_set_min_epoch(ti.kr, 2, NOW + 20), UM_OK);
	/* tv learns it from the key list, and drops epoch 1's spent set. */
	assert_int_equal(offer_keys(tv, &ti, NOW + 20), UM_OK);
	token_verifier_issuer(tv, 0, &info);
	assert_int_equal(info.min_token_epoch, 2);
	assert_int_equal(info.key_epoch, 2);
	assert_int_equal(spend(tv, ti.id.pk, t1, l1, NOW + 20, NULL), TOKEN_VERDICT_REFUSED_EPOCH);
	assert_int_equal(spend(tv, ti.id.pk, t1b, l1b, NOW + 20, NULL),
	                 TOKEN_VERDICT_REFUSED_EPOCH);
	assert_int_equal(spent_rows(st, 1), 0);
	assert_int_equal(spend(tv, ti.id.pk, t2, l2, NOW + 20, NULL), TOKEN_VERDICT_ACCEPTED);
	assert_int_equal(spent_rows(st, 2), 1);
	/* The old list (lower seq) does not come back. */
	assert_int_equal(token_verifier_offer_keys(tv, ti.id.pk, old_keys, old_len, NOW + 20),
	                 UM_ERR_REPLAY);
	assert_int_equal(spend(tv, ti.id.pk, t1, l1, NOW + 20, NULL), TOKEN_VERDICT_REFUSED_EPOCH);

	/* tv_b still holds the old key list but gets the new feed: refused all the same. */
	assert_int_equal(spend(tv_b, ti.id.pk, t1b, l1b, NOW + 20, NULL), TOKEN_VERDICT_ACCEPTED);
	assert_int_equal(offer_revs(tv_b, &ti, NOW + 20), UM_OK);
	token_verifier_issuer(tv_b, 0, &info);
	assert_int_equal(info.min_token_epoch, 2);
	assert_int_equal(spend(tv_b, ti.id.pk, t1, l1, NOW + 20, NULL),
	                 TOKEN_VERDICT_REFUSED_EPOCH);
	assert_int_equal(spent_rows(st_b, 1), 0);
	assert_int_equal(spend(tv_b, ti.id.pk, t2, l2, NOW + 20, NULL), TOKEN_VERDICT_ACCEPTED);

	token_verifier_free(tv);
	token_verifier_free(tv_b);
	store_close(st);
	store_close(st_b);
	tok_issuer_close(&ti);
}

static void
test_expired_key_and_limits(void **state)
{
	struct tok_issuer ti;
	struct store *st = mem_store();
	struct token_verifier *tv;
	uint8_t tok[TOKEN_MAX_LEN], id[32];
	size_t len;
	char why[128];

	(void)state;
	/* Keys valid 60 s after their epoch started. */
	assert_int_equal(tok_issuer_open(&ti, 1, 60, NOW), UM_OK);
	tv = verifier(st, ti.id.pk);
	assert_int_equal(offer_keys(tv, &ti, NOW), UM_OK);
	issue(&ti, 1, tok, &len, NULL);
	assert_int_equal(spend(tv, ti.id.pk, tok, len, NOW + 61, NULL), TOKEN_VERDICT_INVALID);
	assert_int_equal(spend(tv, ti.id.pk, tok, len, NOW + 60, NULL), TOKEN_VERDICT_ACCEPTED);
	/* A key list from too far in the future, or cut short, is refused. */
	{
		const uint8_t *doc;
		size_t n;

		assert_int_equal(issuer_keyring_keys_doc(ti.kr, NOW, &doc, &n), UM_OK);
		assert_int_equal(token_verifier_offer_keys(tv, ti.id.pk, doc, n, NOW - 301),
		                 UM_ERR_EXPIRED);
		assert_int_equal(token_verifier_offer_keys(tv, ti.id.pk, doc, n - 1, NOW),
		                 UM_ERR_TRUNCATED);
	}
	/* At most TOKEN_VERIFIER_ISSUERS_MAX issuers. */
	for (unsigned i = 1; i < TOKEN_VERIFIER_ISSUERS_MAX; i++) {
		memset(id, (int)i, sizeof(id));
		assert_int_equal(token_verifier_add_issuer(tv, id), UM_OK);
	}
	memset(id, 0xff, sizeof(id));
	assert_int_equal(token_verifier_add_issuer(tv, id), UM_ERR_TOO_LARGE);
	assert_int_equal(token_verifier_n_issuers(tv), TOKEN_VERIFIER_ISSUERS_MAX);
	token_verifier_free(tv);
	store_close(st);
	assert_int_equal(token_verifier_new(NULL, &tv, why, sizeof(why)), UM_ERR_INVALID);
	assert_null(tv);
	tok_issuer_close(&ti);
}

static int
setup(void **state)
{
	(void)state;
	return um_crypto_init() == UM_OK ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_and_every_refusal),
		cmocka_unit_test(test_double_spend_survives_reopen),
		cmocka_unit_test(test_revoked_epoch),
		cmocka_unit_test(test_min_token_epoch),
		cmocka_unit_test(test_expired_key_and_limits),
	};

	return cmocka_run_group_tests_name("token_verifier", tests, setup, NULL);
}
