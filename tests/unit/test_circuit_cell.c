/* SPDX-License-Identifier: MIT */
/*
 * Circuit cell payloads (docs/PROTOCOL.md 11.1): CREATE2, CREATED2 and DESTROY known vectors
 * written by hand from the layouts, round trips, every prefix truncated, a table of malformed
 * payloads, encoder refusals, reason names, and CircID selection and validation.
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
#include "circuit/cell_msg.h"

/* 00 01 02 ... 53: the 84-byte ntor onionskin stand-in (HDATA is opaque to the codec). */
#define HDATA84                                                                                    \
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b" \
	"2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f50515253"
/* 00 01 ... 3f: the 64-byte ntor reply stand-in. */
#define HDATA64                                                                                    \
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b" \
	"2c2d2e2f303132333435363738393a3b3c3d3e3f"

/* CREATE2: HTYPE 0002 (ntor) | HLEN 0054 (84) | HDATA. */
static const char create2_hex[] = "0002"
                                  "0054" HDATA84;
/* CREATED2: HLEN 0040 (64) | HDATA. */
static const char created2_hex[] = "0040" HDATA64;

static size_t
unhex(uint8_t *out, size_t cap, const char *hex)
{
	ssize_t n = dec_hex(out, cap, hex, strlen(hex));

	assert_true(n >= 0);
	return (size_t)n;
}

static void
pattern(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)i;
}

static void
test_create2_known_vector(void **state)
{
	struct circ_create2 c, p;
	uint8_t want[CELL_PAYLOAD_LEN] = { 0 }, out[CELL_PAYLOAD_LEN];
	size_t n;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.htype = CIRC_HTYPE_NTOR;
	c.hlen = CIRC_NTOR_ONIONSKIN_LEN;
	pattern(c.hdata, c.hlen);
	n = unhex(want, sizeof(want), create2_hex);
	assert_int_equal(n, 4 + 84);
	assert_int_equal(circ_create2_encode(&c, out), UM_OK);
	assert_memory_equal(out, want, sizeof(want)); /* zero padded to 509 */
	assert_int_equal(circ_create2_parse(want, sizeof(want), &p), UM_OK);
	assert_memory_equal(&p, &c, sizeof(c));
	/* The message alone, without padding, parses too. */
	assert_int_equal(circ_create2_parse(want, n, &p), UM_OK);
	/* Padding is ignored, whatever it holds. */
	memset(want + n, 0xee, sizeof(want) - n);
	assert_int_equal(circ_create2_parse(want, sizeof(want), &p), UM_OK);
	assert_memory_equal(&p, &c, sizeof(c));
}

static void
test_created2_destroy_known_vectors(void **state)
{
	struct circ_created2 c, p;
	uint8_t want[CELL_PAYLOAD_LEN] = { 0 }, out[CELL_PAYLOAD_LEN];
	uint8_t reason;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.hlen = CIRC_NTOR_REPLY_LEN;
	pattern(c.hdata, c.hlen);
	assert_int_equal(unhex(want, sizeof(want), created2_hex), 2 + 64);
	assert_int_equal(circ_created2_encode(&c, out), UM_OK);
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(circ_created2_parse(want, sizeof(want), &p), UM_OK);
	assert_memory_equal(&p, &c, sizeof(c));

	/* DESTROY: reason 03 (requested), then zeros. */
	memset(want, 0, sizeof(want));
	want[0] = 0x03;
	assert_int_equal(circ_destroy_encode(CIRC_REASON_REQUESTED, out), UM_OK);
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(circ_destroy_parse(want, sizeof(want), &reason), UM_OK);
	assert_int_equal(reason, CIRC_REASON_REQUESTED);
}

static void
test_cell_roundtrip_prefixes(void **state)
{
	struct circ_create2 c, p;
	struct circ_created2 d, q;
	uint8_t buf[CELL_PAYLOAD_LEN];
	uint8_t reason = 0xaa;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.htype = CIRC_HTYPE_NTOR;
	c.hlen = CIRC_NTOR_ONIONSKIN_LEN;
	memset(c.hdata, 0x5a, c.hlen);
	assert_int_equal(circ_create2_encode(&c, buf), UM_OK);
	for (size_t cut = 0; cut < 4 + 84; cut++)
		assert_int_equal(circ_create2_parse(buf, cut, &p), UM_ERR_TRUNCATED);

	/* CREATED2 round trips at every HLEN the payload can hold, empty and full included. */
	for (size_t hlen = 0; hlen <= CIRC_CREATED2_HDATA_MAX; hlen++) {
		memset(&d, 0, sizeof(d));
		d.hlen = (uint16_t)hlen;
		pattern(d.hdata, hlen);
		assert_int_equal(circ_created2_encode(&d, buf), UM_OK);
		assert_int_equal(circ_created2_parse(buf, sizeof(buf), &q), UM_OK);
		assert_memory_equal(&q, &d, sizeof(d));
		if (hlen == CIRC_NTOR_REPLY_LEN || hlen == CIRC_CREATED2_HDATA_MAX)
			for (size_t cut = 0; cut < 2 + hlen; cut++)
				assert_int_equal(circ_created2_parse(buf, cut, &q),
				                 UM_ERR_TRUNCATED);
	}

	for (uint8_t r = 0; r <= CIRC_REASON_MAX; r++) {
		assert_int_equal(circ_destroy_encode(r, buf), UM_OK);
		assert_int_equal(circ_destroy_parse(buf, sizeof(buf), &reason), UM_OK);
		assert_int_equal(reason, r);
	}
	assert_int_equal(circ_destroy_parse(buf, 0, &reason), UM_ERR_TRUNCATED);
}

struct bad_case {
	const char *name;
	int which; /* 0 CREATE2, 1 CREATED2, 2 DESTROY */
	const char *hex;
};

static const struct bad_case bad_cases[] = {
	{ "create2 htype 0 (TAP)", 0, "00000054" HDATA84 },
	{ "create2 htype 1 (fast)", 0, "00010054" HDATA84 },
	{ "create2 htype 3 (ntor v3, not spoken)", 0, "00030054" HDATA84 },
	{ "create2 htype ffff", 0, "ffff0054" },
	{ "create2 hlen 83", 0, "00020053" HDATA84 },
	{ "create2 hlen 85", 0, "00020055" HDATA84 "00" },
	{ "create2 hlen 0", 0, "00020000" },
	{ "create2 hlen 505 (whole payload)", 0, "000201f9" },
	{ "create2 hlen ffff (beyond the payload)", 0, "0002ffff" },
	{ "created2 hlen 508 (beyond the payload)", 1, "01fc" },
	{ "created2 hlen ffff", 1, "ffff" HDATA64 },
	{ "destroy reason 13", 2, "0d" },
	{ "destroy reason ff", 2, "ff" },
};

static void
test_cell_malformed(void **state)
{
	uint8_t buf[CELL_PAYLOAD_LEN];
	struct circ_create2 c;
	struct circ_created2 d;
	uint8_t reason;

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(bad_cases); i++) {
		const struct bad_case *bc = &bad_cases[i];
		int ret;

		memset(buf, 0, sizeof(buf));
		(void)unhex(buf, sizeof(buf), bc->hex);
		/* Whole payload: zero padding cannot rescue a malformed message. */
		if (bc->which == 0)
			ret = circ_create2_parse(buf, sizeof(buf), &c);
		else if (bc->which == 1)
			ret = circ_created2_parse(buf, sizeof(buf), &d);
		else
			ret = circ_destroy_parse(buf, sizeof(buf), &reason);
		if (ret != UM_ERR_MALFORMED)
			print_error("case %zu (%s): %s\n", i, bc->name, um_err_str(ret));
		assert_int_equal(ret, UM_ERR_MALFORMED);
	}
}

static void
test_cell_encode_refuses(void **state)
{
	struct circ_create2 c;
	struct circ_created2 d;
	uint8_t buf[CELL_PAYLOAD_LEN];

	(void)state;
	memset(&c, 0, sizeof(c));
	c.htype = 3;
	c.hlen = CIRC_NTOR_ONIONSKIN_LEN;
	assert_int_equal(circ_create2_encode(&c, buf), UM_ERR_INVALID);
	c.htype = CIRC_HTYPE_NTOR;
	c.hlen = CIRC_NTOR_ONIONSKIN_LEN + 1;
	assert_int_equal(circ_create2_encode(&c, buf), UM_ERR_INVALID);
	memset(&d, 0, sizeof(d));
	d.hlen = CIRC_CREATED2_HDATA_MAX + 1;
	assert_int_equal(circ_created2_encode(&d, buf), UM_ERR_INVALID);
	assert_int_equal(circ_destroy_encode(CIRC_REASON_MAX + 1, buf), UM_ERR_INVALID);
}

static void
test_cell_names(void **state)
{
	(void)state;
	assert_string_equal(circ_destroy_reason_str(CIRC_REASON_NONE), "none");
	assert_string_equal(circ_destroy_reason_str(CIRC_REASON_PROTOCOL), "protocol");
	assert_string_equal(circ_destroy_reason_str(CIRC_REASON_NOSUCHSERVICE), "nosuchservice");
	assert_string_equal(circ_destroy_reason_str(13), "unknown");
	assert_string_equal(circ_destroy_reason_str(255), "unknown");
	assert_int_equal(circ_htype_request_len(CIRC_HTYPE_NTOR), 84);
	assert_int_equal(circ_htype_reply_len(CIRC_HTYPE_NTOR), 64);
	assert_int_equal(circ_htype_request_len(3), 0);
	assert_int_equal(circ_htype_reply_len(0), 0);
}

struct in_use_ctx {
	int calls;
	int busy_first; /* report the first busy_first candidates as in use */
	uint32_t last;
};

static bool
in_use(uint32_t id, void *arg)
{
	struct in_use_ctx *ctx = arg;

	ctx->last = id;
	return ++ctx->calls <= ctx->busy_first;
}

static void
test_circ_id_pick(void **state)
{
	struct in_use_ctx ctx;
	uint32_t id;

	(void)state;
	for (int i = 0; i < 200; i++) {
		memset(&ctx, 0, sizeof(ctx));
		assert_int_equal(circ_id_pick(true, in_use, &ctx, &id), UM_OK);
		assert_int_equal(ctx.calls, 1);
		assert_true((id & CIRC_ID_INITIATOR_BIT) != 0 &&
		            (id & ~CIRC_ID_INITIATOR_BIT) != 0);
		assert_true(circ_id_is_valid(id, true));
		assert_false(circ_id_is_valid(id, false));
		assert_int_equal(circ_id_pick(false, in_use, &ctx, &id), UM_OK);
		assert_true(id != 0 && (id & CIRC_ID_INITIATOR_BIT) == 0);
		assert_true(circ_id_is_valid(id, false));
	}
	/* The 11th candidate is free: that is the one returned. */
	memset(&ctx, 0, sizeof(ctx));
	ctx.busy_first = 10;
	assert_int_equal(circ_id_pick(true, in_use, &ctx, &id), UM_OK);
	assert_int_equal(ctx.calls, 11);
	assert_int_equal(id, ctx.last);
	/* 64 collisions in a row: give up, and ask no 65th time. */
	memset(&ctx, 0, sizeof(ctx));
	ctx.busy_first = CIRC_ID_MAX_TRIES;
	id = 7;
	assert_int_equal(circ_id_pick(false, in_use, &ctx, &id), UM_ERR_EXISTS);
	assert_int_equal(ctx.calls, CIRC_ID_MAX_TRIES);
	assert_int_equal(id, 7);
	memset(&ctx, 0, sizeof(ctx));
	ctx.busy_first = CIRC_ID_MAX_TRIES - 1;
	assert_int_equal(circ_id_pick(false, in_use, &ctx, &id), UM_OK);
	assert_int_equal(ctx.calls, CIRC_ID_MAX_TRIES);

	/* Validation: 0 and the bare initiator bit are reserved; the MSB must match the sender. */
	assert_false(circ_id_is_valid(0, true));
	assert_false(circ_id_is_valid(0, false));
	assert_false(circ_id_is_valid(0x80000000u, true));
	assert_false(circ_id_is_valid(0x80000000u, false));
	assert_true(circ_id_is_valid(1, false));
	assert_false(circ_id_is_valid(1, true));
	assert_true(circ_id_is_valid(0x80000001u, true));
	assert_true(circ_id_is_valid(0xffffffffu, true));
	assert_true(circ_id_is_valid(0x7fffffffu, false));
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
		cmocka_unit_test(test_create2_known_vector),
		cmocka_unit_test(test_created2_destroy_known_vectors),
		cmocka_unit_test(test_cell_roundtrip_prefixes),
		cmocka_unit_test(test_cell_malformed),
		cmocka_unit_test(test_cell_encode_refuses),
		cmocka_unit_test(test_cell_names),
		cmocka_unit_test(test_circ_id_pick),
	};

	return cmocka_run_group_tests_name("circuit_cell", tests, setup, NULL);
}
