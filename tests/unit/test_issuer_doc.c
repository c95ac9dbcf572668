/* SPDX-License-Identifier: MIT */
/*
 * The issuer's signed key list and revocation feed (trust/issuer_doc.h): sign, encode, parse
 * and verify round trips; every single-byte change refused; every strict prefix TRUNCATED;
 * the other issuer's key, a future date and an expired feed refused; the encoding rules;
 * which tokens a feed refuses. Also writes the fuzz corpus seeds when asked
 * (UM_WRITE_CORPUS=dir).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "trust/issuer_doc.h"

static uint8_t spki_a[300], spki_b[450];

static void
keys_fill(struct issuer_keys *d)
{
	memset(d, 0, sizeof(*d));
	d->version = ISSUER_DOC_VERSION;
	d->seq = 7;
	d->published_s = 1000;
	d->key_epoch = 5;
	d->min_token_epoch = 4;
	d->n = 3;
	d->keys[0] = (struct issuer_key_entry){ 1, 4, 5000, spki_a, sizeof(spki_a) };
	d->keys[1] = (struct issuer_key_entry){ 1, 5, 9000, spki_b, sizeof(spki_b) };
	d->keys[2] = (struct issuer_key_entry){ 2, 5, 9000, spki_a, sizeof(spki_a) };
}

static void
revs_fill(struct issuer_revocations *d)
{
	memset(d, 0, sizeof(*d));
	d->version = ISSUER_DOC_VERSION;
	d->seq = 3;
	d->published_s = 1000;
	d->expires_s = 1600;
	d->min_token_epoch = 4;
	d->n_keys = 2;
	d->keys[0] = (struct issuer_revoked_key){ 1, 4 };
	d->keys[1] = (struct issuer_revoked_key){ 3, 9 };
	d->n_subjects = 2;
	strcpy(d->subjects[0], "alice@example");
	strcpy(d->subjects[1], "mallory");
}

static size_t
encode_keys(const struct issuer_keys *d, uint8_t *buf)
{
	struct wire_wr w;

	wire_wr_init(&w, buf, ISSUER_KEYS_MAX_LEN);
	assert_int_equal(issuer_keys_encode(d, &w), UM_OK);
	return w.len;
}

static size_t
encode_revs(const struct issuer_revocations *d, uint8_t *buf)
{
	struct wire_wr w;

	wire_wr_init(&w, buf, ISSUER_REVS_MAX_LEN);
	assert_int_equal(issuer_revocations_encode(d, &w), UM_OK);
	return w.len;
}

static void
write_seed(const char *name, const uint8_t first, const uint8_t *p, size_t len)
{
	const char *dir = getenv("UM_WRITE_CORPUS");
	char path[512];
	FILE *f;

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "wb"));
	fputc(first, f);
	fwrite(p, 1, len, f);
	fclose(f);
}

static void
test_keys_round_trip_and_tamper(void **state)
{
	struct keys_ed25519 id, other;
	struct issuer_keys *d = calloc(1, sizeof(*d)), *got = calloc(1, sizeof(*got));
	uint8_t *buf = malloc(ISSUER_KEYS_MAX_LEN);
	size_t len;

	(void)state;
	keys_ed25519_generate(&id);
	keys_ed25519_generate(&other);
	keys_fill(d);
	assert_int_equal(issuer_keys_sign(d, &id), UM_OK);
	assert_memory_equal(d->issuer, id.pk, 32);
	len = encode_keys(d, buf);
	write_seed("keys", 1, buf, len);
	assert_int_equal(issuer_keys_parse_verify(buf, len, id.pk, 1000, got), UM_OK);
	assert_int_equal(got->n, 3);
	assert_int_equal(got->keys[1].epoch, 5);
	assert_int_equal(got->keys[1].spki_len, sizeof(spki_b));
	assert_memory_equal(got->keys[1].spki, spki_b, sizeof(spki_b));
	assert_int_equal(got->key_epoch, 5);
	assert_int_equal(got->min_token_epoch, 4);
	/* Another issuer's pin, a document from the future. */
	assert_int_equal(issuer_keys_parse_verify(buf, len, other.pk, 1000, got), UM_ERR_AUTH);
	assert_int_equal(issuer_keys_parse_verify(buf, len, id.pk, 1000 - 301, got),
	                 UM_ERR_EXPIRED);
	/* Every strict prefix is TRUNCATED; a trailing byte is MALFORMED. */
	for (size_t i = 0; i < len; i++)
		assert_int_equal(issuer_keys_parse(buf, i, got), UM_ERR_TRUNCATED);
	buf[len] = 0;
	assert_int_equal(issuer_keys_parse_verify(buf, len + 1, id.pk, 1000, got),
	                 UM_ERR_MALFORMED);
	/* Any single flipped bit is refused, never accepted. */
	for (size_t i = 0; i < len; i++) {
		buf[i] ^= 0x10;
		assert_int_not_equal(issuer_keys_parse_verify(buf, len, id.pk, 1000, got), UM_OK);
		buf[i] ^= 0x10;
	}
	assert_int_equal(issuer_keys_parse_verify(buf, len, id.pk, 1000, got), UM_OK);
	free(buf);
	free(d);
	free(got);
}

static void
test_keys_rules(void **state)
{
	struct keys_ed25519 id;
	struct issuer_keys *d = calloc(1, sizeof(*d));
	uint8_t *buf = malloc(ISSUER_KEYS_MAX_LEN);
	struct wire_wr w;

	(void)state;
	keys_ed25519_generate(&id);
	wire_wr_init(&w, buf, ISSUER_KEYS_MAX_LEN);
	keys_fill(d);
	d->keys[1].epoch = 4; /* same (tier, epoch) twice */
	assert_int_equal(issuer_keys_sign(d, &id), UM_ERR_INVALID);
	assert_int_equal(issuer_keys_encode(d, &w), UM_ERR_INVALID);
	keys_fill(d);
	d->keys[2].tier = 16;
	assert_int_equal(issuer_keys_encode(d, &w), UM_ERR_INVALID);
	keys_fill(d);
	d->keys[0].spki_len = 10;
	assert_int_equal(issuer_keys_encode(d, &w), UM_ERR_INVALID);
	keys_fill(d);
	d->min_token_epoch = 6; /* above the epoch it issues under */
	assert_int_equal(issuer_keys_encode(d, &w), UM_ERR_INVALID);
	assert_int_equal(w.len, 0);
	/* A full buffer leaves nothing behind. */
	keys_fill(d);
	wire_wr_init(&w, buf, 100);
	assert_int_equal(issuer_keys_encode(d, &w), UM_ERR_TOO_LARGE);
	assert_int_equal(w.len, 0);
	free(buf);
	free(d);
}

static void
test_revocations(void **state)
{
	struct keys_ed25519 id, other;
	struct issuer_revocations *d = calloc(1, sizeof(*d)), *got = calloc(1, sizeof(*got));
	uint8_t *buf = malloc(ISSUER_REVS_MAX_LEN);
	struct issuer_keys *k = calloc(1, sizeof(*k));
	size_t len;

	(void)state;
	keys_ed25519_generate(&id);
	keys_ed25519_generate(&other);
	revs_fill(d);
	assert_int_equal(issuer_revocations_sign(d, &id), UM_OK);
	len = encode_revs(d, buf);
	write_seed("revocations", 0, buf, len);
	assert_int_equal(issuer_revocations_parse_verify(buf, len, id.pk, 1500, got), UM_OK);
	assert_int_equal(got->seq, 3);
	assert_int_equal(got->n_subjects, 2);
	assert_string_equal(got->subjects[1], "mallory");
	/* Expired at expires_s; another pin. */
	assert_int_equal(issuer_revocations_parse_verify(buf, len, id.pk, 1600, got),
	                 UM_ERR_EXPIRED);
	assert_int_equal(issuer_revocations_parse_verify(buf, len, other.pk, 1500, got),
	                 UM_ERR_AUTH);
	/* The two documents are not each other: revocations never parse as a key list that
	 * verifies, whatever their bytes. */
	assert_int_not_equal(issuer_keys_parse_verify(buf, len, id.pk, 1500, k), UM_OK);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(issuer_revocations_parse(buf, i, got), UM_ERR_TRUNCATED);
	for (size_t i = 0; i < len; i++) {
		buf[i] ^= 0x01;
		assert_int_not_equal(issuer_revocations_parse_verify(buf, len, id.pk, 1500, got),
		                     UM_OK);
		buf[i] ^= 0x01;
	}
	/* What it refuses: epochs under min_token_epoch, listed keys, listed subjects. */
	assert_int_equal(issuer_revocations_parse_verify(buf, len, id.pk, 1500, got), UM_OK);
	assert_true(issuer_revocations_refuse_epoch(got, 2, 3));
	assert_true(issuer_revocations_refuse_epoch(got, 3, 9));
	assert_false(issuer_revocations_refuse_epoch(got, 3, 8));
	assert_false(issuer_revocations_refuse_epoch(got, 1, 4 + 1));
	assert_true(issuer_revocations_refuse_epoch(got, 1, 4));
	assert_true(issuer_revocations_refuse_subject(got, "mallory"));
	assert_false(issuer_revocations_refuse_subject(got, "bob"));
	/* A NUL inside a subject ("mallor\0" for "mallory") is malformed, not a shorter name
	 * (found by fuzz_issuer_doc: the encoding would not give the input back). */
	for (size_t i = 0; i + 8 <= len; i++) {
		if (memcmp(buf + i, "\007mallory", 8) == 0) {
			buf[i + 7] = 0;
			assert_int_equal(issuer_revocations_parse(buf, len, got), UM_ERR_MALFORMED);
			buf[i + 7] = 'y';
			break;
		}
		assert_true(i + 8 < len);
	}
	/* Rules: subjects sorted and valid; lifetime bounded. */
	revs_fill(d);
	strcpy(d->subjects[0], "zed");
	assert_int_equal(issuer_revocations_sign(d, &id), UM_ERR_INVALID);
	revs_fill(d);
	strcpy(d->subjects[1], "no spaces");
	assert_int_equal(issuer_revocations_sign(d, &id), UM_ERR_INVALID);
	revs_fill(d);
	d->expires_s = d->published_s + ISSUER_DOC_REVS_LIFETIME_MAX_S + 1;
	assert_int_equal(issuer_revocations_sign(d, &id), UM_ERR_INVALID);
	revs_fill(d);
	d->expires_s = d->published_s;
	assert_int_equal(issuer_revocations_sign(d, &id), UM_ERR_INVALID);
	free(k);
	free(buf);
	free(d);
	free(got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_round_trip_and_tamper),
		cmocka_unit_test(test_keys_rules),
		cmocka_unit_test(test_revocations),
	};

	if (um_crypto_init() != UM_OK)
		return 1;
	for (size_t i = 0; i < sizeof(spki_a); i++)
		spki_a[i] = (uint8_t)(i * 7);
	for (size_t i = 0; i < sizeof(spki_b); i++)
		spki_b[i] = (uint8_t)(i * 13 + 1);
	return cmocka_run_group_tests_name("issuer_doc", tests, NULL, NULL);
}
