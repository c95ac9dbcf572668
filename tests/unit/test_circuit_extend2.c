/* SPDX-License-Identifier: MIT */
/*
 * EXTEND2 and EXTENDED2 relay messages (docs/PROTOCOL.md 11.6): a hand-written vector with
 * IPv4, Ed25519 and IPv6 link specifiers in our order, the same message in another order with
 * a legacy id and an unknown specifier (parsed, then re-encoded canonically), round trips,
 * every prefix truncated, trailing bytes, and the malformed table. Our link-key specifier
 * (0x80): sent last, parsed in any order, at most once, exactly 32 bytes; absent, nothing
 * changes.
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

#define HDATA84                                                                                    \
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b" \
	"2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f50515253"
#define ED_ID "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"

#define LS_V4      \
	"00"       \
	"06"       \
	"c0000201" \
	"2329" /* 192.0.2.1:9001 */
#define LS_ED \
	"03"  \
	"20" ED_ID /* Ed25519 id */
#define LS_V6                              \
	"01"                               \
	"12"                               \
	"20010db8000000000000000000000001" \
	"01bb" /* [2001:db8::1]:443 */
#define LS_RSA \
	"02"   \
	"14"   \
	"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3" /* legacy id, skipped */
#define LS_UNK \
	"7f"   \
	"03"   \
	"010203" /* unknown, skipped */
#define LK "505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f"
#define LS_KEY \
	"80"   \
	"20" LK /* our X25519 link key */
#define LS_UNK81 \
	"81"     \
	"00" /* unknown in our range, empty: skipped */
#define HS     \
	"0002" \
	"0054" HDATA84 /* ntor request */

static const char extend2_hex[] = "03" LS_V4 LS_ED LS_V6 HS;
static const char extend2_key_hex[] = "04" LS_V4 LS_ED LS_V6 LS_KEY HS;

static size_t
unhex(uint8_t *out, size_t cap, const char *hex)
{
	ssize_t n = dec_hex(out, cap, hex, strlen(hex));

	assert_true(n >= 0);
	return (size_t)n;
}

static void
extend2_sample(struct relay_extend2 *e)
{
	static const uint8_t v4[4] = { 192, 0, 2, 1 };
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 };

	memset(e, 0, sizeof(*e));
	e->has_ipv4 = true;
	memcpy(e->ipv4, v4, 4);
	e->ipv4_port = 9001;
	e->has_ipv6 = true;
	memcpy(e->ipv6, v6, 16);
	e->ipv6_port = 443;
	for (int i = 0; i < 32; i++)
		e->ed25519_id[i] = (uint8_t)(0x20 + i);
	e->create.htype = CIRC_HTYPE_NTOR;
	e->create.hlen = CIRC_NTOR_ONIONSKIN_LEN;
	for (int i = 0; i < CIRC_NTOR_ONIONSKIN_LEN; i++)
		e->create.hdata[i] = (uint8_t)i;
}

static void
extend2_sample_key(struct relay_extend2 *e)
{
	extend2_sample(e);
	e->has_link_key = true;
	for (int i = 0; i < 32; i++)
		e->link_key[i] = (uint8_t)(0x50 + i);
}

static size_t
encode(const struct relay_extend2 *e, uint8_t *out, size_t cap)
{
	struct wire_wr w;

	wire_wr_init(&w, out, cap);
	assert_int_equal(relay_extend2_write(&w, e), UM_OK);
	return w.len;
}

static void
test_extend2_known_vector(void **state)
{
	struct relay_extend2 e, p;
	struct relay_msg m;
	uint8_t want[RELAY_DATA_MAX], out[RELAY_DATA_MAX];
	size_t n, got;

	(void)state;
	extend2_sample(&e);
	n = unhex(want, sizeof(want), extend2_hex);
	assert_int_equal(n, 1 + 8 + 34 + 20 + 4 + 84);
	got = encode(&e, out, sizeof(out));
	assert_int_equal(got, n);
	assert_memory_equal(out, want, n);
	assert_int_equal(relay_extend2_parse(want, n, &p), UM_OK);
	assert_memory_equal(&p, &e, sizeof(e));
	/* Through the generic entry point, circuit-level. */
	assert_int_equal(relay_msg_parse(RELAY_EXTEND2, 0, want, n, &m), UM_OK);
	assert_memory_equal(&m.u.extend2, &e, sizeof(e));
	assert_int_equal(relay_msg_parse(RELAY_EXTEND2, 1, want, n, &m), UM_ERR_MALFORMED);
}

static void
test_extend2_other_orders(void **state)
{
	static const char *const variants[] = {
		/* Any order, legacy and unknown specifiers skipped. */
		"05" LS_V6 LS_RSA LS_ED LS_UNK LS_V4 HS,
		"03" LS_ED LS_V6 LS_V4 HS,
	};
	struct relay_extend2 e, p;
	uint8_t in[RELAY_DATA_MAX], out[RELAY_DATA_MAX], want[RELAY_DATA_MAX];
	size_t n, wn;

	(void)state;
	extend2_sample(&e);
	wn = unhex(want, sizeof(want), extend2_hex);
	for (size_t i = 0; i < UM_ARRAY_LEN(variants); i++) {
		n = unhex(in, sizeof(in), variants[i]);
		assert_int_equal(relay_extend2_parse(in, n, &p), UM_OK);
		assert_memory_equal(&p, &e, sizeof(e));
		/* Re-encoded in our order, without what was skipped. */
		assert_int_equal(encode(&p, out, sizeof(out)), wn);
		assert_memory_equal(out, want, wn);
	}

	/* One address family is enough, either one. */
	n = unhex(in, sizeof(in), "02" LS_V4 LS_ED HS);
	assert_int_equal(relay_extend2_parse(in, n, &p), UM_OK);
	assert_true(p.has_ipv4 && !p.has_ipv6);
	assert_int_equal(encode(&p, out, sizeof(out)), n);
	assert_memory_equal(out, in, n);
	n = unhex(in, sizeof(in), "02" LS_ED LS_V6 HS);
	assert_int_equal(relay_extend2_parse(in, n, &p), UM_OK);
	assert_true(!p.has_ipv4 && p.has_ipv6);
	assert_int_equal(encode(&p, out, sizeof(out)), n);
	assert_memory_equal(out, in, n);
}

static void
test_extend2_link_key(void **state)
{
	static const char *const variants[] = {
		/* Any order; unknown specifiers around it skipped. */
		"04" LS_KEY LS_V6 LS_ED LS_V4 HS,
		"06" LS_V6 LS_UNK LS_KEY LS_RSA LS_ED LS_V4 HS,
		"05" LS_V4 LS_ED LS_V6 LS_UNK81 LS_KEY HS,
	};
	struct relay_extend2 e, p;
	struct relay_msg m;
	uint8_t want[RELAY_DATA_MAX], in[RELAY_DATA_MAX], out[RELAY_DATA_MAX];
	size_t n, wn;

	(void)state;
	/* Known vector: the key goes last, after 00, 03, 01. */
	extend2_sample_key(&e);
	wn = unhex(want, sizeof(want), extend2_key_hex);
	assert_int_equal(wn, 1 + 8 + 34 + 20 + 34 + 4 + 84);
	assert_int_equal(encode(&e, out, sizeof(out)), wn);
	assert_memory_equal(out, want, wn);
	assert_int_equal(relay_extend2_parse(want, wn, &p), UM_OK);
	assert_true(p.has_link_key);
	assert_memory_equal(p.link_key, e.link_key, RELAY_LS_LINK_KEY_LEN);
	assert_memory_equal(&p, &e, sizeof(e));
	assert_int_equal(relay_msg_parse(RELAY_EXTEND2, 0, want, wn, &m), UM_OK);
	assert_memory_equal(&m.u.extend2, &e, sizeof(e));
	assert_int_equal(relay_msg_encode(&m, out, sizeof(out), &n), UM_OK);
	assert_int_equal(n, wn);
	assert_memory_equal(out, want, wn);

	for (size_t i = 0; i < UM_ARRAY_LEN(variants); i++) {
		n = unhex(in, sizeof(in), variants[i]);
		assert_int_equal(relay_extend2_parse(in, n, &p), UM_OK);
		assert_memory_equal(&p, &e, sizeof(e));
		assert_int_equal(encode(&p, out, sizeof(out)), wn);
		assert_memory_equal(out, want, wn);
	}

	/* With one address family only. */
	n = unhex(in, sizeof(in), "03" LS_V4 LS_ED LS_KEY HS);
	assert_int_equal(relay_extend2_parse(in, n, &p), UM_OK);
	assert_true(p.has_ipv4 && !p.has_ipv6 && p.has_link_key);
	assert_int_equal(encode(&p, out, sizeof(out)), n);
	assert_memory_equal(out, in, n);

	/* Without it (an older client): has_link_key false, link_key all zero, and the
	 * encoding carries no 0x80 specifier. */
	n = unhex(in, sizeof(in), extend2_hex);
	assert_int_equal(relay_extend2_parse(in, n, &p), UM_OK);
	assert_false(p.has_link_key);
	for (size_t i = 0; i < RELAY_LS_LINK_KEY_LEN; i++)
		assert_int_equal(p.link_key[i], 0);
	extend2_sample_key(&e);
	e.has_link_key = false;
	memset(e.link_key, 0, sizeof(e.link_key));
	assert_memory_equal(&p, &e, sizeof(e));
	assert_int_equal(encode(&e, out, sizeof(out)), n);
	assert_memory_equal(out, in, n);
}

static void
test_extend2_prefixes_trailing(void **state)
{
	static const char *const msgs[] = { extend2_hex, "05" LS_V6 LS_RSA LS_ED LS_UNK LS_V4 HS,
		                            extend2_key_hex, "04" LS_KEY LS_V6 LS_ED LS_V4 HS };
	struct relay_extend2 p;
	uint8_t in[RELAY_DATA_MAX + 1];

	(void)state;
	for (size_t k = 0; k < UM_ARRAY_LEN(msgs); k++) {
		size_t n = unhex(in, sizeof(in), msgs[k]);

		for (size_t cut = 0; cut < n; cut++)
			assert_int_equal(relay_extend2_parse(in, cut, &p), UM_ERR_TRUNCATED);
		in[n] = 0;
		assert_int_equal(relay_extend2_parse(in, n + 1, &p), UM_ERR_TRAILING);
	}
}

static const struct {
	const char *name;
	const char *hex;
} bad[] = {
	{ "nspec 9", "09" LS_V4 LS_ED LS_V6 HS },
	{ "nspec ff", "ff" LS_V4 },
	{ "nspec 0", "00" HS },
	{ "no ed25519 id", "02" LS_V4 LS_V6 HS },
	{ "no address", "01" LS_ED HS },
	{ "legacy id, no ed25519", "02" LS_V4 LS_RSA HS },
	{ "two ipv4", "03" LS_V4 LS_ED LS_V4 HS },
	{ "two ed25519", "03" LS_V4 LS_ED LS_ED HS },
	{ "two legacy", "04" LS_V4 LS_ED LS_RSA LS_RSA HS },
	{ "two unknown of a type", "04" LS_V4 LS_ED LS_UNK LS_UNK HS },
	{ "two link keys", "04" LS_V4 LS_ED LS_KEY LS_KEY HS },
	{ "two link keys, apart", "05" LS_KEY LS_V4 LS_ED LS_V6 LS_KEY HS },
	{ "link key, no ed25519", "02" LS_V4 LS_KEY HS },
	{ "link key, no address", "02" LS_ED LS_KEY HS },
	{ "link key lslen 33", "03" LS_V4 LS_ED "80"
	                       "21" LK "00" HS },
	{ "link key lslen 31", "03" LS_V4 LS_ED "80"
	                       "1f" },
	{ "link key lslen 0", "03" LS_V4 LS_ED "80"
	                      "00" HS },
	{ "link key lslen ff", "03" LS_V4 LS_ED "80"
	                       "ff" },
	{ "ipv4 lslen 5", "02"
	                  "00"
	                  "05"
	                  "c000020123" LS_ED HS },
	{ "ipv4 lslen 7", "02"
	                  "00"
	                  "07" },
	{ "ipv6 lslen 17", "02" LS_ED "01"
	                   "11" },
	{ "legacy lslen 19", "03" LS_V4 LS_ED "02"
	                     "13" },
	{ "ed25519 lslen 31", "02" LS_V4 "03"
	                      "1f" },
	{ "ed25519 lslen 0", "02" LS_V4 "03"
	                     "00" },
	{ "ipv4 port 0", "02"
	                 "00"
	                 "06"
	                 "c0000201"
	                 "0000" LS_ED HS },
	{ "ipv6 port 0", "02" LS_ED "01"
	                 "12"
	                 "20010db8000000000000000000000001"
	                 "0000" HS },
	{ "htype 3", "02" LS_V4 LS_ED "0003"
	             "0054" HDATA84 },
	{ "htype 0", "02" LS_V4 LS_ED "0000" },
	{ "hlen 83", "02" LS_V4 LS_ED "0002"
	             "0053" },
	{ "hlen ffff", "02" LS_V4 LS_ED "0002"
	               "ffff" },
};

static void
test_extend2_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(bad); i++) {
		uint8_t in[RELAY_DATA_MAX];
		struct relay_extend2 p;
		size_t n = unhex(in, sizeof(in), bad[i].hex);
		int ret = relay_extend2_parse(in, n, &p);

		if (ret != UM_ERR_MALFORMED)
			print_error("case %zu (%s): %s\n", i, bad[i].name, um_err_str(ret));
		assert_int_equal(ret, UM_ERR_MALFORMED);
	}
}

static void
test_extend2_encode_refuses(void **state)
{
	struct relay_extend2 e;
	uint8_t out[RELAY_DATA_MAX];
	struct wire_wr w;

	(void)state;
	extend2_sample(&e);
	e.has_ipv4 = e.has_ipv6 = false;
	wire_wr_init(&w, out, sizeof(out));
	assert_int_equal(relay_extend2_write(&w, &e), UM_ERR_INVALID);
	assert_int_equal(w.len, 0);
	extend2_sample(&e);
	e.ipv4_port = 0;
	assert_int_equal(relay_extend2_write(&w, &e), UM_ERR_INVALID);
	extend2_sample(&e);
	e.create.hlen = 10;
	assert_int_equal(relay_extend2_write(&w, &e), UM_ERR_INVALID);
	extend2_sample(&e);
	wire_wr_init(&w, out, 150); /* one short */
	assert_int_equal(relay_extend2_write(&w, &e), UM_ERR_TOO_LARGE);
	assert_int_equal(w.len, 0);
	extend2_sample_key(&e);
	wire_wr_init(&w, out, 184); /* one short: the key does not fit */
	assert_int_equal(relay_extend2_write(&w, &e), UM_ERR_TOO_LARGE);
	assert_int_equal(w.len, 0);
	wire_wr_init(&w, out, 185);
	assert_int_equal(relay_extend2_write(&w, &e), UM_OK);
	assert_int_equal(w.len, 185);
	/* A key alone does not make a valid message. */
	extend2_sample_key(&e);
	e.has_ipv4 = e.has_ipv6 = false;
	wire_wr_init(&w, out, sizeof(out));
	assert_int_equal(relay_extend2_write(&w, &e), UM_ERR_INVALID);
	assert_int_equal(w.len, 0);
}

static void
test_extended2(void **state)
{
	/* EXTENDED2 = CREATED2's payload: HLEN 0040 | 64 bytes. */
	static const char hex[] =
	        "0040"
	        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	        "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
	uint8_t in[RELAY_DATA_MAX + 1], out[RELAY_DATA_MAX];
	struct relay_msg m, p;
	size_t n = unhex(in, sizeof(in), hex), n2;

	(void)state;
	assert_int_equal(relay_msg_parse(RELAY_EXTENDED2, 0, in, n, &m), UM_OK);
	assert_int_equal(m.u.extended2.hlen, CIRC_NTOR_REPLY_LEN);
	assert_int_equal(m.u.extended2.hdata[63], 0x3f);
	assert_int_equal(relay_msg_encode(&m, out, sizeof(out), &n2), UM_OK);
	assert_int_equal(n2, n);
	assert_memory_equal(out, in, n);
	assert_int_equal(relay_msg_parse(RELAY_EXTENDED2, 0, out, n2, &p), UM_OK);
	assert_memory_equal(&p, &m, sizeof(m));
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(relay_extended2_parse(in, cut, &m.u.extended2), UM_ERR_TRUNCATED);
	in[n] = 0;
	assert_int_equal(relay_extended2_parse(in, n + 1, &m.u.extended2), UM_ERR_TRAILING);

	/* The largest reply a relay body holds, and one byte more. */
	memset(in, 0, sizeof(in));
	wire_store_u16(in, RELAY_EXTENDED2_HDATA_MAX);
	assert_int_equal(relay_extended2_parse(in, RELAY_DATA_MAX, &m.u.extended2), UM_OK);
	wire_store_u16(in, RELAY_EXTENDED2_HDATA_MAX + 1);
	assert_int_equal(relay_extended2_parse(in, RELAY_DATA_MAX, &m.u.extended2),
	                 UM_ERR_MALFORMED);
	wire_store_u16(in, 0xffff);
	assert_int_equal(relay_extended2_parse(in, 2, &m.u.extended2), UM_ERR_MALFORMED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extend2_known_vector),
		cmocka_unit_test(test_extend2_other_orders),
		cmocka_unit_test(test_extend2_link_key),
		cmocka_unit_test(test_extend2_prefixes_trailing),
		cmocka_unit_test(test_extend2_malformed),
		cmocka_unit_test(test_extend2_encode_refuses),
		cmocka_unit_test(test_extended2),
	};

	return cmocka_run_group_tests_name("circuit_extend2", tests, NULL, NULL);
}
