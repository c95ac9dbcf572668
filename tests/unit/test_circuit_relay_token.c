/* SPDX-License-Identifier: MIT */
/*
 * RELAY_TOKEN (70) and RELAY_TOKEN_ACK (71), docs/PROTOCOL.md 17.5: both circuit-level
 * (StreamID 0); TOKEN = issuer [32] | token, framed only (any 0..454 token bytes parse and
 * write: the exit judges them; a 2048-bit token fits, kLen 382 fills the body); TOKEN_ACK = status
 * | tier, exactly 2 bytes, status 0..6, tier 1..15 with ACCEPTED and HAS_TIER and 0 with every
 * refusal. Writers parse their own output back; a body carries each end to end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "trust/token.h"
#include "circuit/relay_msg.h"

/* A token of the right shape (the signature is not checked here): kLen bytes of sig. */
static size_t
fake_token(uint8_t *out, size_t cap, uint16_t sig_len)
{
	struct token t;
	struct wire_wr w;

	memset(&t, 0, sizeof(t));
	t.version = TOKEN_VERSION;
	t.tier = 2;
	t.key_epoch = 0x01020304;
	memset(t.key_id, 0xaa, sizeof(t.key_id));
	memset(t.nonce, 0xbb, sizeof(t.nonce));
	t.sig_len = sig_len;
	memset(t.sig, 0xcc, sig_len);
	wire_wr_init(&w, out, cap);
	assert_int_equal(token_encode(&t, &w), UM_OK);
	return w.len;
}

static void
test_cmds(void **state)
{
	struct relay_msg m;
	uint8_t b[2] = { 0, 1 };

	(void)state;
	assert_int_equal(RELAY_TOKEN, 70);
	assert_int_equal(RELAY_TOKEN_ACK, 71);
	assert_string_equal(relay_cmd_name(RELAY_TOKEN), "token");
	assert_string_equal(relay_cmd_name(RELAY_TOKEN_ACK), "token_ack");
	assert_int_equal(relay_cmd_stream_rule(RELAY_TOKEN), RELAY_STREAM_FORBIDDEN);
	assert_int_equal(relay_cmd_stream_rule(RELAY_TOKEN_ACK), RELAY_STREAM_FORBIDDEN);
	assert_int_equal(relay_cmd_stream_rule(69), RELAY_STREAM_UNKNOWN);
	assert_int_equal(relay_cmd_stream_rule(72), RELAY_STREAM_UNKNOWN);
	/* StreamID 0 only. */
	assert_int_equal(relay_msg_parse(RELAY_TOKEN_ACK, 1, b, 2, &m), UM_ERR_MALFORMED);
	assert_int_equal(relay_msg_parse(RELAY_TOKEN_ACK, 0, b, 2, &m), UM_OK);
	assert_int_equal(m.u.token_ack.status, 0);
	assert_int_equal(m.u.token_ack.tier, 1);
}

static void
test_token_roundtrip(void **state)
{
	uint8_t tok[TOKEN_MAX_LEN], data[RELAY_DATA_MAX], body[RELAY_BODY_LEN];
	struct relay_msg m, p;
	struct relay_hdr h;
	size_t n, len = fake_token(tok, sizeof(tok), 256);

	(void)state;
	assert_int_equal(len, TOKEN_MIN_LEN);
	memset(&m, 0, sizeof(m));
	m.cmd = RELAY_TOKEN;
	memset(m.u.token.issuer, 0x11, sizeof(m.u.token.issuer));
	m.u.token.token = (struct relay_bytes){ tok, len };
	assert_int_equal(relay_msg_encode(&m, data, sizeof(data), &n), UM_OK);
	assert_int_equal(n, RELAY_TOKEN_ISSUER_LEN + len);
	assert_memory_equal(data, m.u.token.issuer, RELAY_TOKEN_ISSUER_LEN);
	assert_memory_equal(data + RELAY_TOKEN_ISSUER_LEN, tok, len);
	/* Through a relay body and back. */
	assert_int_equal(relay_body_encode(RELAY_TOKEN, 0, data, n, body), UM_OK);
	assert_int_equal(relay_body_parse(body, sizeof(body), &h), UM_OK);
	assert_int_equal(relay_msg_parse(h.cmd, h.stream_id, h.data, h.length, &p), UM_OK);
	assert_int_equal(p.cmd, RELAY_TOKEN);
	assert_memory_equal(p.u.token.issuer, m.u.token.issuer, RELAY_TOKEN_ISSUER_LEN);
	assert_int_equal(p.u.token.token.len, len);
	assert_ptr_equal(p.u.token.token.p, h.data + RELAY_TOKEN_ISSUER_LEN);
	assert_memory_equal(p.u.token.token.p, tok, len);
	/* One byte short of room: the writer fails cleanly. */
	assert_int_equal(relay_msg_encode(&m, data, n - 1, &n), UM_ERR_TOO_LARGE);
}

static void
test_token_sizes(void **state)
{
	uint8_t tok[TOKEN_MAX_LEN], data[RELAY_DATA_MAX + 1];
	struct wire_wr w;
	struct relay_token t, p;
	size_t len;

	(void)state;
	memset(&t, 0, sizeof(t));
	/* kLen 382 fills the body exactly; 383 does not fit (docs/PROTOCOL.md 17.5). */
	len = fake_token(tok, sizeof(tok), RELAY_TOKEN_MAX - TOKEN_HEADER_LEN);
	assert_int_equal(len, RELAY_TOKEN_MAX);
	t.token = (struct relay_bytes){ tok, len };
	wire_wr_init(&w, data, RELAY_DATA_MAX);
	assert_int_equal(relay_token_write(&w, &t), UM_OK);
	assert_int_equal(w.len, RELAY_DATA_MAX);
	len = fake_token(tok, sizeof(tok), RELAY_TOKEN_MAX - TOKEN_HEADER_LEN + 1);
	t.token = (struct relay_bytes){ tok, len };
	wire_wr_init(&w, data, sizeof(data));
	assert_int_equal(relay_token_write(&w, &t), UM_ERR_INVALID);
	assert_int_equal(w.len, 0);
	/* The writer frames what it is given, as the parser takes it: no token at all, or bytes
	 * that are no token (the exit answers UNAVAILABLE); a length without bytes is a bug. */
	t.token = (struct relay_bytes){ NULL, 0 };
	assert_int_equal(relay_token_write(&w, &t), UM_OK);
	assert_int_equal(w.len, RELAY_TOKEN_ISSUER_LEN);
	t.token = (struct relay_bytes){ (const uint8_t *)"xyz", 3 };
	assert_int_equal(relay_token_write(&w, &t), UM_OK);
	assert_int_equal(w.len, 2 * RELAY_TOKEN_ISSUER_LEN + 3);
	t.token = (struct relay_bytes){ NULL, 3 };
	assert_int_equal(relay_token_write(&w, &t), UM_ERR_INVALID);
	assert_int_equal(w.len, 2 * RELAY_TOKEN_ISSUER_LEN + 3);

	/* The parser frames only: short of an issuer is truncated; after it anything goes. */
	memset(data, 0x42, sizeof(data));
	for (size_t cut = 0; cut < RELAY_TOKEN_ISSUER_LEN; cut++)
		assert_int_equal(relay_token_parse(data, cut, &p), UM_ERR_TRUNCATED);
	assert_int_equal(relay_token_parse(data, RELAY_TOKEN_ISSUER_LEN, &p), UM_OK);
	assert_int_equal(p.token.len, 0);
	assert_null(p.token.p);
	assert_int_equal(relay_token_parse(data, RELAY_TOKEN_ISSUER_LEN + 3, &p), UM_OK);
	assert_int_equal(p.token.len, 3);
	assert_int_equal(relay_token_parse(data, RELAY_DATA_MAX, &p), UM_OK);
	assert_int_equal(p.token.len, RELAY_TOKEN_MAX);
	assert_int_equal(relay_token_parse(data, RELAY_DATA_MAX + 1, &p), UM_ERR_MALFORMED);
}

static void
test_ack(void **state)
{
	static const struct {
		uint8_t status, tier;
		int want;
	} t[] = {
		{ RELAY_TOKEN_ACCEPTED, 1, UM_OK },
		{ RELAY_TOKEN_ACCEPTED, 15, UM_OK },
		{ RELAY_TOKEN_UNKNOWN_ISSUER, 0, UM_OK },
		{ RELAY_TOKEN_INVALID, 0, UM_OK },
		{ RELAY_TOKEN_REFUSED_EPOCH, 0, UM_OK },
		{ RELAY_TOKEN_DOUBLE_SPEND, 0, UM_OK },
		{ RELAY_TOKEN_HAS_TIER, 3, UM_OK },
		{ RELAY_TOKEN_UNAVAILABLE, 0, UM_OK },
		{ RELAY_TOKEN_ACCEPTED, 0, UM_ERR_MALFORMED },  /* accepted names a tier */
		{ RELAY_TOKEN_ACCEPTED, 16, UM_ERR_MALFORMED }, /* tiers end at 15 */
		{ RELAY_TOKEN_HAS_TIER, 0, UM_ERR_MALFORMED },
		{ RELAY_TOKEN_INVALID, 2, UM_ERR_MALFORMED }, /* a refusal leaves tier 0 */
		{ RELAY_TOKEN_REVOKED_SUBJECT, 0, UM_OK },
		{ RELAY_TOKEN_REVOKED_SUBJECT, 1, UM_ERR_MALFORMED },
		{ 8, 0, UM_ERR_MALFORMED },
		{ 0xff, 0, UM_ERR_MALFORMED },
	};
	uint8_t b[4];
	struct relay_token_ack a, p;
	struct wire_wr w;

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(t); i++) {
		b[0] = t[i].status;
		b[1] = t[i].tier;
		if (relay_token_ack_parse(b, 2, &p) != t[i].want)
			fail_msg("case %zu: %02x %02x", i, b[0], b[1]);
		a.status = t[i].status;
		a.tier = t[i].tier;
		wire_wr_init(&w, b + 2, 2);
		assert_int_equal(relay_token_ack_write(&w, &a) == UM_OK, t[i].want == UM_OK);
		if (t[i].want == UM_OK) {
			assert_int_equal(w.len, 2);
			assert_memory_equal(b + 2, b, 2);
			assert_int_equal(p.status, t[i].status);
			assert_int_equal(p.tier, t[i].tier);
		} else {
			assert_int_equal(w.len, 0);
		}
	}
	/* Exactly two bytes. */
	b[0] = 0;
	b[1] = 1;
	b[2] = 0;
	assert_int_equal(relay_token_ack_parse(b, 0, &p), UM_ERR_TRUNCATED);
	assert_int_equal(relay_token_ack_parse(b, 1, &p), UM_ERR_TRUNCATED);
	assert_int_equal(relay_token_ack_parse(b, 3, &p), UM_ERR_TRAILING);
	/* A status that can never be valid is refused before the tier is needed. */
	b[0] = 9;
	assert_int_equal(relay_token_ack_parse(b, 1, &p), UM_ERR_MALFORMED);
	/* No room: nothing written. */
	a.status = 0;
	a.tier = 1;
	wire_wr_init(&w, b, 1);
	assert_int_equal(relay_token_ack_write(&w, &a), UM_ERR_TOO_LARGE);
	assert_int_equal(w.len, 0);
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
		cmocka_unit_test(test_cmds),
		cmocka_unit_test(test_token_roundtrip),
		cmocka_unit_test(test_token_sizes),
		cmocka_unit_test(test_ack),
	};

	return cmocka_run_group_tests_name("circuit_relay_token", tests, setup, NULL);
}
