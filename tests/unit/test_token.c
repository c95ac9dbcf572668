/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/trust/token: the wire format (a known vector byte for byte, round trip,
 * every strict prefix TRUNCATED, trailing bytes, each range: version, tier 1..15, sig_len
 * 256..512), encode's refusals, the exact signed message and RFC 9474 input_msg, and whole
 * issuances with fresh 2048-bit keys (blind, blind-sign, finalize, encode, parse, verify),
 * with the refusals an exit relies on: another tier's or epoch's key, another key_id, a
 * tampered nonce, tier, epoch or signature, a signature length that is not the key's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/wire.h"
#include "crypto/blindrsa.h"
#include "crypto/crypto.h"
#include "trust/token.h"

/* version 1 | tier 3 | epoch 0x01020304 | key_id 11.. | nonce 22.. | sig_len 256 */
static const char vec_header[] = "01"
                                 "03"
                                 "01020304"
                                 "1111111111111111111111111111111111111111111111111111111111111111"
                                 "2222222222222222222222222222222222222222222222222222222222222222"
                                 "0100";
/* "umbra token v1" | tier | epoch | key_id | nonce */
static const char vec_message[] =
        "756d62726120746f6b656e207631"
        "03"
        "01020304"
        "1111111111111111111111111111111111111111111111111111111111111111"
        "2222222222222222222222222222222222222222222222222222222222222222";

/* Keys of two (tier, epoch) pairs: tier 1 epoch 7, tier 2 epoch 7. */
static struct blindrsa_key *sk1, *sk2;
enum { EPOCH = 7 };

static int
setup(void **state)
{
	(void)state;
	if (um_crypto_init() != UM_OK || blindrsa_key_generate(2048, &sk1) != UM_OK ||
	    blindrsa_key_generate(2048, &sk2) != UM_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	blindrsa_key_free(sk1);
	blindrsa_key_free(sk2);
	return 0;
}

static size_t
unhex(uint8_t *out, size_t cap, const char *s)
{
	ssize_t n = dec_hex(out, cap, s, strlen(s));

	assert_true(n > 0);
	return (size_t)n;
}

static void
vec_token(struct token *t)
{
	memset(t, 0, sizeof(*t));
	t->version = 1;
	t->tier = 3;
	t->key_epoch = 0x01020304;
	memset(t->key_id, 0x11, sizeof(t->key_id));
	memset(t->nonce, 0x22, sizeof(t->nonce));
	t->sig_len = 256;
	for (size_t i = 0; i < t->sig_len; i++)
		t->sig[i] = (uint8_t)i;
}

static size_t
encode(const struct token *t, uint8_t *out, size_t cap)
{
	struct wire_wr w;

	wire_wr_init(&w, out, cap);
	assert_int_equal(token_encode(t, &w), UM_OK);
	return w.len;
}

static void
test_token_known_vector(void **state)
{
	uint8_t want[TOKEN_MAX_LEN], got[TOKEN_MAX_LEN];
	struct token t, p;
	size_t hl, n;

	(void)state;
	vec_token(&t);
	hl = unhex(want, sizeof(want), vec_header);
	assert_int_equal(hl, TOKEN_HEADER_LEN);
	for (size_t i = 0; i < 256; i++)
		want[hl + i] = (uint8_t)i;
	n = encode(&t, got, sizeof(got));
	assert_int_equal(n, TOKEN_HEADER_LEN + 256);
	assert_memory_equal(got, want, n);
	memset(&p, 0xee, sizeof(p));
	assert_int_equal(token_parse(want, n, &p), UM_OK);
	assert_int_equal(p.version, 1);
	assert_int_equal(p.tier, 3);
	assert_int_equal(p.key_epoch, 0x01020304);
	assert_memory_equal(p.key_id, t.key_id, sizeof(t.key_id));
	assert_memory_equal(p.nonce, t.nonce, sizeof(t.nonce));
	assert_int_equal(p.sig_len, 256);
	assert_memory_equal(p.sig, t.sig, 256);
}

static void
test_token_message_layout(void **state)
{
	uint8_t want[TOKEN_MSG_LEN], msg[TOKEN_MSG_LEN], input[TOKEN_INPUT_LEN];
	struct token t;

	(void)state;
	assert_int_equal(TOKEN_MSG_LEN, 83);
	assert_int_equal(TOKEN_INPUT_LEN, 115);
	vec_token(&t);
	assert_int_equal(unhex(want, sizeof(want), vec_message), TOKEN_MSG_LEN);
	token_message(&t, msg);
	assert_memory_equal(msg, want, sizeof(msg));
	/* input_msg = nonce (the RFC 9474 msg_prefix) | message */
	token_input(&t, input);
	assert_memory_equal(input, t.nonce, TOKEN_NONCE_LEN);
	assert_memory_equal(input + TOKEN_NONCE_LEN, want, sizeof(want));
}

static void
test_token_every_prefix_is_truncated(void **state)
{
	uint8_t buf[TOKEN_MAX_LEN + 1];
	struct token t, p;
	size_t n;

	(void)state;
	for (uint16_t sl = TOKEN_SIG_MIN; sl <= TOKEN_SIG_MAX; sl = (uint16_t)(sl + 128)) {
		vec_token(&t);
		t.sig_len = sl;
		n = encode(&t, buf, sizeof(buf));
		assert_int_equal(n, TOKEN_HEADER_LEN + sl);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(token_parse(buf, i, &p), UM_ERR_TRUNCATED);
		assert_int_equal(token_parse(buf, n, &p), UM_OK);
		assert_int_equal(p.sig_len, sl);
		buf[n] = 0;
		assert_int_equal(token_parse(buf, n + 1, &p), UM_ERR_TRAILING);
	}
}

static void
test_token_ranges(void **state)
{
	static const struct {
		size_t off;
		uint8_t hi, lo; /* the byte at off (and off + 1 when two) */
		bool two;
		int want;
	} cases[] = {
		{ 0, 0, 0, false, UM_ERR_MALFORMED },       /* version 0 */
		{ 0, 2, 0, false, UM_ERR_MALFORMED },       /* version 2 */
		{ 1, 0, 0, false, UM_ERR_MALFORMED },       /* tier 0 */
		{ 1, 16, 0, false, UM_ERR_MALFORMED },      /* tier 16 */
		{ 1, 255, 0, false, UM_ERR_MALFORMED },     /* tier 255 */
		{ 1, 1, 0, false, UM_OK },                  /* tier 1 */
		{ 1, 15, 0, false, UM_OK },                 /* tier 15 */
		{ 70, 0x00, 0xff, true, UM_ERR_MALFORMED }, /* sig_len 255 */
		{ 70, 0x00, 0x00, true, UM_ERR_MALFORMED }, /* sig_len 0 */
		{ 70, 0x02, 0x01, true, UM_ERR_MALFORMED }, /* sig_len 513 */
		{ 70, 0xff, 0xff, true, UM_ERR_MALFORMED }, /* sig_len 65535 */
		{ 70, 0x01, 0x01, true, UM_ERR_TRUNCATED }, /* sig_len 257: one byte short */
	};
	uint8_t buf[TOKEN_MAX_LEN], mod[TOKEN_MAX_LEN];
	struct token t, p;
	size_t n;

	(void)state;
	vec_token(&t);
	t.key_epoch = 0xffffffffu; /* every epoch value is fine */
	n = encode(&t, buf, sizeof(buf));
	assert_int_equal(token_parse(buf, n, &p), UM_OK);
	assert_int_equal(p.key_epoch, 0xffffffffu);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(mod, buf, n);
		mod[cases[i].off] = cases[i].hi;
		if (cases[i].two)
			mod[cases[i].off + 1] = cases[i].lo;
		memset(&p, 0xee, sizeof(p));
		assert_int_equal(token_parse(mod, n, &p), cases[i].want);
		if (cases[i].want != UM_OK)
			assert_int_equal(p.version, 0xee); /* untouched */
	}
	/* A range error is reported as soon as the field is read, before the bytes it needs. */
	mod[0] = 1;
	mod[1] = 0;
	assert_int_equal(token_parse(mod, 2, &p), UM_ERR_MALFORMED);
	memcpy(mod, buf, TOKEN_HEADER_LEN);
	mod[70] = 0x03;
	assert_int_equal(token_parse(mod, TOKEN_HEADER_LEN, &p), UM_ERR_MALFORMED);
	assert_int_equal(token_parse(NULL, 0, &p), UM_ERR_TRUNCATED);
}

static void
test_token_encode_refusals(void **state)
{
	uint8_t buf[TOKEN_MAX_LEN];
	struct wire_wr w;
	struct token t;

	(void)state;
	vec_token(&t);
	t.tier = 0;
	wire_wr_init(&w, buf, sizeof(buf));
	assert_int_equal(token_encode(&t, &w), UM_ERR_INVALID);
	vec_token(&t);
	t.version = 2;
	assert_int_equal(token_encode(&t, &w), UM_ERR_INVALID);
	vec_token(&t);
	t.sig_len = 100;
	assert_int_equal(token_encode(&t, &w), UM_ERR_INVALID);
	t.sig_len = 513;
	assert_int_equal(token_encode(&t, &w), UM_ERR_INVALID);
	assert_int_equal(w.len, 0);
	/* No room: nothing written. */
	vec_token(&t);
	wire_wr_init(&w, buf, TOKEN_HEADER_LEN + 255);
	assert_int_equal(token_encode(&t, &w), UM_ERR_TOO_LARGE);
	assert_int_equal(w.len, 0);
	wire_wr_init(&w, buf, TOKEN_HEADER_LEN + 256);
	assert_int_equal(token_encode(&t, &w), UM_OK);
	assert_int_equal(w.len, TOKEN_HEADER_LEN + 256);
}

/* Issue a token for (tier, EPOCH) under sk, as client and issuer would. */
static void
issue(struct token *t, const struct blindrsa_key *sk, uint8_t tier)
{
	uint8_t input[TOKEN_INPUT_LEN], blinded[BLINDRSA_MAX_LEN], inv[BLINDRSA_MAX_LEN];
	uint8_t bsig[BLINDRSA_MAX_LEN], spki[BLINDRSA_SPKI_MAX];
	struct blindrsa_key *pk;
	size_t k, len;

	/* The client knows only the published public key. */
	assert_int_equal(blindrsa_pk_export(sk, spki, sizeof(spki), &len), UM_OK);
	assert_int_equal(blindrsa_pk_import(spki, len, &pk), UM_OK);
	k = blindrsa_key_len(pk);
	assert_int_equal(token_prepare(t, tier, EPOCH, pk), UM_OK);
	token_input(t, input);
	assert_int_equal(blindrsa_blind(pk, TOKEN_VARIANT, input, sizeof(input), blinded, inv,
	                                sizeof(blinded)),
	                 UM_OK);
	/* The issuer sees only blinded. */
	assert_int_equal(blindrsa_blind_sign(sk, blinded, k, bsig, sizeof(bsig)), UM_OK);
	assert_memory_not_equal(blinded, input, sizeof(input));
	assert_int_equal(blindrsa_finalize(pk, TOKEN_VARIANT, input, sizeof(input), bsig, k, inv, k,
	                                   t->sig, sizeof(t->sig)),
	                 UM_OK);
	memset(inv, 0, sizeof(inv));
	blindrsa_key_free(pk);
}

static void
test_token_issue_spend_verify(void **state)
{
	uint8_t wire[TOKEN_MAX_LEN];
	struct token t, p, bad;
	size_t n;

	(void)state;
	issue(&t, sk1, 1);
	assert_int_equal(t.sig_len, 256);
	n = encode(&t, wire, sizeof(wire));
	assert_int_equal(n, TOKEN_MIN_LEN);
	assert_int_equal(token_parse(wire, n, &p), UM_OK);
	assert_int_equal(token_verify(&p, sk1, 1, EPOCH), UM_OK);

	/* The exit looks the key up by the token's (tier, epoch): any other pairing fails. */
	assert_int_equal(token_verify(&p, sk2, 1, EPOCH), UM_ERR_AUTH);
	assert_int_equal(token_verify(&p, sk1, 2, EPOCH), UM_ERR_AUTH);
	assert_int_equal(token_verify(&p, sk1, 1, EPOCH + 1), UM_ERR_AUTH);
	/* A client relabelling its tier-1 token as tier 2, or moving it to another epoch. */
	bad = p;
	bad.tier = 2;
	assert_int_equal(token_verify(&bad, sk1, 2, EPOCH), UM_ERR_AUTH);
	bad = p;
	bad.key_epoch = EPOCH + 1;
	assert_int_equal(token_verify(&bad, sk1, 1, EPOCH + 1), UM_ERR_AUTH);
	/* ... or naming the tier-2 key (its key_id, but a tier-1 signature). */
	bad = p;
	blindrsa_key_id(sk2, bad.key_id);
	bad.tier = 2;
	assert_int_equal(token_verify(&bad, sk2, 2, EPOCH), UM_ERR_AUTH);
	/* A changed nonce (a "new" token for free) or signature. */
	bad = p;
	bad.nonce[5] ^= 0x40;
	assert_int_equal(token_verify(&bad, sk1, 1, EPOCH), UM_ERR_AUTH);
	bad = p;
	bad.sig[200] ^= 1;
	assert_int_equal(token_verify(&bad, sk1, 1, EPOCH), UM_ERR_AUTH);
	/* A signature length that is not the key's, a version we do not speak. */
	bad = p;
	bad.sig_len = 257;
	assert_int_equal(token_verify(&bad, sk1, 1, EPOCH), UM_ERR_AUTH);
	bad = p;
	bad.version = 2;
	assert_int_equal(token_verify(&bad, sk1, 1, EPOCH), UM_ERR_MALFORMED);

	/* Tier 2 under its own key; and two tokens never share a nonce. */
	issue(&bad, sk2, 2);
	assert_int_equal(token_verify(&bad, sk2, 2, EPOCH), UM_OK);
	assert_memory_not_equal(bad.nonce, p.nonce, TOKEN_NONCE_LEN);
}

static void
test_token_prepare_refusals(void **state)
{
	struct token t;

	(void)state;
	assert_int_equal(token_prepare(&t, 0, EPOCH, sk1), UM_ERR_INVALID);
	assert_int_equal(token_prepare(&t, 16, EPOCH, sk1), UM_ERR_INVALID);
	assert_int_equal(token_prepare(&t, 15, EPOCH, sk1), UM_OK);
	assert_int_equal(t.version, 1);
	assert_int_equal(t.sig_len, 256);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_known_vector),
		cmocka_unit_test(test_token_message_layout),
		cmocka_unit_test(test_token_every_prefix_is_truncated),
		cmocka_unit_test(test_token_ranges),
		cmocka_unit_test(test_token_encode_refusals),
		cmocka_unit_test(test_token_issue_spend_verify),
		cmocka_unit_test(test_token_prepare_refusals),
	};

	return cmocka_run_group_tests_name("token", tests, setup, teardown);
}
