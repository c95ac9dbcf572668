/* SPDX-License-Identifier: MIT */
/*
 * Relay cell bodies and the circuit-level / flow-control relay messages (docs/PROTOCOL.md
 * 11.2, 11.3, 11.5): the body layout and its padding, Length and Recognized checks, the command
 * table and StreamID rule, and SENDME, XON, XOFF, TRUNCATE, TRUNCATED, DROP, DATA and
 * BEGIN_DIR: hand-written vectors, round trips through relay_msg_encode/parse, every prefix
 * truncated, and malformed inputs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "crypto/crypto.h"
#include "circuit/relay_msg.h"

static size_t
unhex(uint8_t *out, size_t cap, const char *hex)
{
	ssize_t n = dec_hex(out, cap, hex, strlen(hex));

	assert_true(n >= 0);
	return (size_t)n;
}

static void
test_body_known_vector(void **state)
{
	/* DATA on stream 0x1234 carrying "hello". */
	static const char want_hex[] = "02"                               /* Cmd */
	                               "0000"                             /* Recognized */
	                               "1234"                             /* StreamID */
	                               "00000000000000000000000000000000" /* Digest */
	                               "0005"                             /* Length */
	                               "68656c6c6f"                       /* Data */
	                               "00000000";                        /* Padding: 4 zeros */
	uint8_t want[64], a[RELAY_BODY_LEN], b[RELAY_BODY_LEN];
	struct relay_hdr h;
	size_t n = unhex(want, sizeof(want), want_hex);

	(void)state;
	assert_int_equal(n, RELAY_HEADER_LEN + 5 + 4);
	assert_int_equal(relay_body_encode(RELAY_DATA, 0x1234, (const uint8_t *)"hello", 5, a),
	                 UM_OK);
	assert_int_equal(relay_body_encode(RELAY_DATA, 0x1234, (const uint8_t *)"hello", 5, b),
	                 UM_OK);
	assert_memory_equal(a, want, n);
	assert_memory_equal(b, want, n);
	/* The rest is random: two bodies agreeing on 477 bytes would mean it is not. */
	assert_memory_not_equal(a + n, b + n, RELAY_BODY_LEN - n);

	assert_int_equal(relay_body_parse(a, sizeof(a), &h), UM_OK);
	assert_int_equal(h.cmd, RELAY_DATA);
	assert_int_equal(h.stream_id, 0x1234);
	assert_int_equal(h.length, 5);
	assert_ptr_equal(h.data, a + RELAY_HEADER_LEN);
	assert_memory_equal(h.data, "hello", 5);
	/* The digest is the crypto layer's: parse hands it over untouched. */
	memset(a + RELAY_DIGEST_OFF, 0xd1, RELAY_DIGEST_LEN);
	assert_int_equal(relay_body_parse(a, sizeof(a), &h), UM_OK);
	assert_int_equal(h.digest[0], 0xd1);
	assert_int_equal(h.digest[RELAY_DIGEST_LEN - 1], 0xd1);
}

static void
test_body_lengths(void **state)
{
	uint8_t data[RELAY_DATA_MAX + 1], body[RELAY_BODY_LEN];
	struct relay_hdr h;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(0x80 | i);
	for (size_t len = 0; len <= RELAY_DATA_MAX; len++) {
		size_t pad = RELAY_DATA_MAX - len;
		size_t zeros = pad < 4 ? pad : 4;
		static const uint8_t z[4];

		assert_int_equal(relay_body_encode(RELAY_DROP, 0, data, len, body), UM_OK);
		assert_memory_equal(body + RELAY_HEADER_LEN + len, z, zeros);
		assert_int_equal(relay_body_parse(body, sizeof(body), &h), UM_OK);
		assert_int_equal(h.length, len);
		if (len > 0)
			assert_memory_equal(h.data, data, len);
	}
	assert_int_equal(relay_body_encode(RELAY_DROP, 0, data, RELAY_DATA_MAX + 1, body),
	                 UM_ERR_INVALID);

	/* Length 487 does not fit: MALFORMED, whatever the remaining bytes are. */
	assert_int_equal(relay_body_encode(RELAY_DATA, 1, data, RELAY_DATA_MAX, body), UM_OK);
	wire_store_u16(body + RELAY_HEADER_LEN - 2, RELAY_DATA_MAX + 1);
	assert_int_equal(relay_body_parse(body, sizeof(body), &h), UM_ERR_MALFORMED);
	wire_store_u16(body + RELAY_HEADER_LEN - 2, 0xffff);
	assert_int_equal(relay_body_parse(body, sizeof(body), &h), UM_ERR_MALFORMED);
	/* Recognized != 0 never reaches us from a recognising crypto layer. */
	assert_int_equal(relay_body_encode(RELAY_DATA, 1, data, 10, body), UM_OK);
	body[2] = 1;
	assert_int_equal(relay_body_parse(body, sizeof(body), &h), UM_ERR_MALFORMED);
	body[2] = 0;
	for (size_t cut = 0; cut < RELAY_BODY_LEN; cut++)
		assert_int_equal(relay_body_parse(body, cut, &h), UM_ERR_TRUNCATED);
}

static void
test_cmd_table(void **state)
{
	static const struct {
		uint8_t cmd;
		const char *name;
		enum relay_stream_rule rule;
	} rows[] = {
		{ 0, "unknown", RELAY_STREAM_UNKNOWN },
		{ RELAY_BEGIN, "begin", RELAY_STREAM_REQUIRED },
		{ RELAY_DATA, "data", RELAY_STREAM_REQUIRED },
		{ RELAY_END, "end", RELAY_STREAM_REQUIRED },
		{ RELAY_CONNECTED, "connected", RELAY_STREAM_REQUIRED },
		{ RELAY_SENDME, "sendme", RELAY_STREAM_FORBIDDEN },
		{ 6, "unknown", RELAY_STREAM_UNKNOWN }, /* legacy EXTEND */
		{ 7, "unknown", RELAY_STREAM_UNKNOWN }, /* legacy EXTENDED */
		{ RELAY_TRUNCATE, "truncate", RELAY_STREAM_FORBIDDEN },
		{ RELAY_TRUNCATED, "truncated", RELAY_STREAM_FORBIDDEN },
		{ RELAY_DROP, "drop", RELAY_STREAM_FORBIDDEN },
		{ RELAY_RESOLVE, "resolve", RELAY_STREAM_REQUIRED },
		{ RELAY_RESOLVED, "resolved", RELAY_STREAM_REQUIRED },
		{ RELAY_BEGIN_DIR, "begin_dir", RELAY_STREAM_REQUIRED },
		{ RELAY_EXTEND2, "extend2", RELAY_STREAM_FORBIDDEN },
		{ RELAY_EXTENDED2, "extended2", RELAY_STREAM_FORBIDDEN },
		{ 16, "unknown", RELAY_STREAM_UNKNOWN },
		{ 42, "unknown", RELAY_STREAM_UNKNOWN },
		{ RELAY_XON, "xon", RELAY_STREAM_REQUIRED },
		{ RELAY_XOFF, "xoff", RELAY_STREAM_REQUIRED },
		{ 45, "unknown", RELAY_STREAM_UNKNOWN },
		{ 69, "unknown", RELAY_STREAM_UNKNOWN },
		{ RELAY_TOKEN, "token", RELAY_STREAM_FORBIDDEN },
		{ RELAY_TOKEN_ACK, "token_ack", RELAY_STREAM_FORBIDDEN },
		{ 72, "unknown", RELAY_STREAM_UNKNOWN },
		{ 255, "unknown", RELAY_STREAM_UNKNOWN },
	};

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(rows); i++) {
		assert_string_equal(relay_cmd_name(rows[i].cmd), rows[i].name);
		assert_int_equal(relay_cmd_stream_rule(rows[i].cmd), rows[i].rule);
	}
	assert_string_equal(relay_end_reason_str(RELAY_END_MISC), "misc");
	assert_string_equal(relay_end_reason_str(RELAY_END_EXITPOLICY), "exitpolicy");
	assert_string_equal(relay_end_reason_str(RELAY_END_NOTDIRECTORY), "notdirectory");
	assert_string_equal(relay_end_reason_str(0), "unknown");
	assert_string_equal(relay_end_reason_str(15), "unknown");
}

/* A message from each command we know, with the StreamID its rule wants. */
static void
test_stream_rule_enforced(void **state)
{
	struct relay_msg m;
	uint8_t byte = 0;

	(void)state;
	for (unsigned cmd = 0; cmd < 256; cmd++) {
		enum relay_stream_rule rule = relay_cmd_stream_rule((uint8_t)cmd);

		if (rule == RELAY_STREAM_UNKNOWN) {
			assert_int_equal(relay_msg_parse((uint8_t)cmd, 0, &byte, 1, &m),
			                 UM_ERR_NOT_FOUND);
			assert_int_equal(relay_msg_parse((uint8_t)cmd, 9, &byte, 1, &m),
			                 UM_ERR_NOT_FOUND);
		} else {
			/* The wrong StreamID is refused before the message is even looked at. */
			uint16_t wrong = rule == RELAY_STREAM_REQUIRED ? 0 : 1;

			assert_int_equal(relay_msg_parse((uint8_t)cmd, wrong, &byte, 1, &m),
			                 UM_ERR_MALFORMED);
		}
	}
	/* The encoder refuses the same mistake. */
	memset(&m, 0, sizeof(m));
	m.cmd = RELAY_TRUNCATE;
	m.stream_id = 5;
	{
		uint8_t out[RELAY_DATA_MAX];
		size_t n;

		assert_int_equal(relay_msg_encode(&m, out, sizeof(out), &n), UM_ERR_INVALID);
		m.stream_id = 0;
		assert_int_equal(relay_msg_encode(&m, out, sizeof(out), &n), UM_OK);
		assert_int_equal(n, 0);
		m.cmd = 6;
		assert_int_equal(relay_msg_encode(&m, out, sizeof(out), &n), UM_ERR_INVALID);
	}
}

struct vec {
	const char *name;
	uint8_t cmd;
	uint16_t stream_id;
	const char *hex;
};

/* Hand-written from the layouts in docs/PROTOCOL.md 11.5. */
static const struct vec good[] = {
	{ "sendme v1", RELAY_SENDME, 0,
	  "01"                                  /* VERSION */
	  "0010"                                /* DATA_LEN 16 */
	  "00112233445566778899aabbccddeeff" }, /* DIGEST */
	{ "xon", RELAY_XON, 7,
	  "00"
	  "0000fa00" }, /* version 0, kbps_ewma 64000 */
	{ "xon kbps 0", RELAY_XON, 7,
	  "00"
	  "00000000" },
	{ "xoff", RELAY_XOFF, 7, "00" },
	{ "truncated finished", RELAY_TRUNCATED, 0, "09" },
	{ "truncated none", RELAY_TRUNCATED, 0, "00" },
	{ "truncate", RELAY_TRUNCATE, 0, "" },
	{ "begin_dir", RELAY_BEGIN_DIR, 3, "" },
	{ "drop empty", RELAY_DROP, 0, "" },
	{ "drop bytes", RELAY_DROP, 0, "deadbeef" },
	{ "data one byte", RELAY_DATA, 1, "00" },
	{ "data", RELAY_DATA, 0xffff, "474554202f20485454502f312e310d0a" },
};

static void
test_flow_msgs_roundtrip(void **state)
{
	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(good); i++) {
		const struct vec *v = &good[i];
		uint8_t in[RELAY_DATA_MAX], out[RELAY_DATA_MAX];
		struct relay_msg m, p;
		size_t n = unhex(in, sizeof(in), v->hex), n2;

		assert_int_equal(relay_msg_parse(v->cmd, v->stream_id, in, n, &m), UM_OK);
		assert_int_equal(relay_msg_encode(&m, out, sizeof(out), &n2), UM_OK);
		assert_int_equal(n2, n);
		assert_memory_equal(out, in, n);
		assert_int_equal(relay_msg_parse(v->cmd, v->stream_id, out, n2, &p), UM_OK);
		assert_int_equal(p.cmd, v->cmd);
		assert_int_equal(p.stream_id, v->stream_id);
		/* A writer that is one byte short fails cleanly. */
		if (n > 0)
			assert_int_equal(relay_msg_encode(&m, out, n - 1, &n2), UM_ERR_TOO_LARGE);
	}
}

static void
test_flow_msgs_fields(void **state)
{
	uint8_t in[64];
	struct relay_msg m;
	size_t n;

	(void)state;
	n = unhex(in, sizeof(in), good[0].hex);
	assert_int_equal(relay_msg_parse(RELAY_SENDME, 0, in, n, &m), UM_OK);
	assert_int_equal(m.u.sendme.digest[0], 0x00);
	assert_int_equal(m.u.sendme.digest[15], 0xff);
	n = unhex(in, sizeof(in), good[1].hex);
	assert_int_equal(relay_msg_parse(RELAY_XON, 7, in, n, &m), UM_OK);
	assert_int_equal(m.u.xon.kbps_ewma, 64000);
	n = unhex(in, sizeof(in), good[4].hex);
	assert_int_equal(relay_msg_parse(RELAY_TRUNCATED, 0, in, n, &m), UM_OK);
	assert_int_equal(m.u.reason, CIRC_REASON_FINISHED);
	n = unhex(in, sizeof(in), good[9].hex);
	assert_int_equal(relay_msg_parse(RELAY_DROP, 0, in, n, &m), UM_OK);
	assert_ptr_equal(m.u.data.p, in);
	assert_int_equal(m.u.data.len, 4);
	/* The largest DATA there is. */
	memset(in, 'x', sizeof(in));
	{
		uint8_t big[RELAY_DATA_MAX + 1];

		memset(big, 'x', sizeof(big));
		assert_int_equal(relay_msg_parse(RELAY_DATA, 1, big, RELAY_DATA_MAX, &m), UM_OK);
		assert_int_equal(m.u.data.len, RELAY_DATA_MAX);
		assert_int_equal(relay_msg_parse(RELAY_DATA, 1, big, sizeof(big), &m),
		                 UM_ERR_MALFORMED);
	}
}

static void
test_flow_msgs_prefixes(void **state)
{
	/* Formats with one length only: every strict prefix is short. SENDME's empty prefix is
	 * the exception: it is a version-0 SENDME, which is refused as such (MALFORMED). */
	static const size_t which[] = { 0, 1, 3, 4 };
	uint8_t in[64];
	struct relay_msg m;

	(void)state;
	for (size_t k = 0; k < UM_ARRAY_LEN(which); k++) {
		const struct vec *v = &good[which[k]];
		size_t n = unhex(in, sizeof(in), v->hex);

		for (size_t cut = 0; cut < n; cut++) {
			int want = v->cmd == RELAY_SENDME && cut == 0 ? UM_ERR_MALFORMED
			                                              : UM_ERR_TRUNCATED;

			assert_int_equal(relay_msg_parse(v->cmd, v->stream_id, in, cut, &m), want);
		}
		/* And one byte more is trailing. */
		in[n] = 0;
		assert_int_equal(relay_msg_parse(v->cmd, v->stream_id, in, n + 1, &m),
		                 UM_ERR_TRAILING);
	}
	assert_int_equal(relay_msg_parse(RELAY_TRUNCATE, 0, in, 1, &m), UM_ERR_TRAILING);
	assert_int_equal(relay_msg_parse(RELAY_BEGIN_DIR, 1, in, 1, &m), UM_ERR_TRAILING);
}

static const struct vec bad[] = {
	{ "sendme v0 (empty)", RELAY_SENDME, 0, "" },
	{ "sendme version 0 with a body", RELAY_SENDME, 0,
	  "00"
	  "0010"
	  "00112233445566778899aabbccddeeff" },
	{ "sendme version 2", RELAY_SENDME, 0,
	  "02"
	  "0010"
	  "00112233445566778899aabbccddeeff" },
	{ "sendme tor's 20-byte digest", RELAY_SENDME, 0,
	  "01"
	  "0014"
	  "00112233445566778899aabbccddeeff00112233" },
	{ "sendme data_len 0", RELAY_SENDME, 0,
	  "01"
	  "0000" },
	{ "sendme data_len ffff", RELAY_SENDME, 0,
	  "01"
	  "ffff" },
	{ "xon version 1", RELAY_XON, 1,
	  "01"
	  "00000001" },
	{ "xoff version 1", RELAY_XOFF, 1, "01" },
	{ "xoff version ff", RELAY_XOFF, 1, "ff" },
	{ "truncated reason 13", RELAY_TRUNCATED, 0, "0d" },
	{ "truncated reason ff", RELAY_TRUNCATED, 0, "ff" },
	{ "data empty", RELAY_DATA, 1, "" },
};

static void
test_flow_msgs_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(bad); i++) {
		uint8_t in[64];
		struct relay_msg m;
		size_t n = unhex(in, sizeof(in), bad[i].hex);
		int ret = relay_msg_parse(bad[i].cmd, bad[i].stream_id, in, n, &m);

		if (ret != UM_ERR_MALFORMED)
			print_error("case %zu (%s): %s\n", i, bad[i].name, um_err_str(ret));
		assert_int_equal(ret, UM_ERR_MALFORMED);
	}
}

/* Body + message, end to end: what relay_body_encode wraps, relay_body_parse + relay_msg_parse
 * give back. */
static void
test_body_carries_msg(void **state)
{
	struct relay_msg m, p;
	struct relay_hdr h;
	uint8_t data[RELAY_DATA_MAX], body[RELAY_BODY_LEN];
	size_t n;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.cmd = RELAY_SENDME;
	memset(m.u.sendme.digest, 0x42, sizeof(m.u.sendme.digest));
	assert_int_equal(relay_msg_encode(&m, data, sizeof(data), &n), UM_OK);
	assert_int_equal(n, 19);
	assert_int_equal(relay_body_encode(m.cmd, m.stream_id, data, n, body), UM_OK);
	assert_int_equal(relay_body_parse(body, sizeof(body), &h), UM_OK);
	assert_int_equal(relay_msg_parse(h.cmd, h.stream_id, h.data, h.length, &p), UM_OK);
	assert_memory_equal(&p, &m, sizeof(m));
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
		cmocka_unit_test(test_body_known_vector),
		cmocka_unit_test(test_body_lengths),
		cmocka_unit_test(test_cmd_table),
		cmocka_unit_test(test_stream_rule_enforced),
		cmocka_unit_test(test_flow_msgs_roundtrip),
		cmocka_unit_test(test_flow_msgs_fields),
		cmocka_unit_test(test_flow_msgs_prefixes),
		cmocka_unit_test(test_flow_msgs_malformed),
		cmocka_unit_test(test_body_carries_msg),
	};

	return cmocka_run_group_tests_name("circuit_relay_body", tests, setup, NULL);
}
