/* SPDX-License-Identifier: MIT */
/* Unit tests for src/lib/encoding: hex, base32 and base64 against RFC 4648 vectors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <sys/types.h>

#include "lib/encoding.h"
#include "lib/err.h"

struct vec {
	const char *plain;
	const char *enc;
};

/* RFC 4648 section 10, base32 in our lower-case, unpadded form. */
static const struct vec b32_vecs[] = {
	{ "", "" },
	{ "f", "my" },
	{ "fo", "mzxq" },
	{ "foo", "mzxw6" },
	{ "foob", "mzxw6yq" },
	{ "fooba", "mzxw6ytb" },
	{ "foobar", "mzxw6ytboi" },
};

/* RFC 4648 section 10, base64. */
static const struct vec b64_vecs[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

/* RFC 4648 section 10, base16 (we emit lower case). */
static const struct vec hex_vecs[] = {
	{ "", "" },
	{ "f", "66" },
	{ "fo", "666f" },
	{ "foo", "666f6f" },
	{ "foob", "666f6f62" },
	{ "fooba", "666f6f6261" },
	{ "foobar", "666f6f626172" },
};

static void
test_hex_rfc4648_vectors(void **state)
{
	char out[64];
	uint8_t bin[32];

	(void)state;
	for (size_t i = 0; i < sizeof(hex_vecs) / sizeof(hex_vecs[0]); i++) {
		const struct vec *v = &hex_vecs[i];
		size_t plen = strlen(v->plain), elen = strlen(v->enc);

		assert_int_equal(enc_hex(out, sizeof(out), v->plain, plen), UM_OK);
		assert_string_equal(out, v->enc);
		/* The exact size is enough. */
		memset(out, 'X', sizeof(out));
		assert_int_equal(enc_hex(out, HEX_LEN(plen), v->plain, plen), UM_OK);
		assert_string_equal(out, v->enc);
		assert_int_equal(dec_hex(bin, sizeof(bin), v->enc, elen), (ssize_t)plen);
		assert_memory_equal(bin, v->plain, plen);
		assert_int_equal(dec_hex(bin, plen, v->enc, elen), (ssize_t)plen);
	}
}

static void
test_hex_all_bytes_round_trip(void **state)
{
	uint8_t in[256], back[256];
	char out[HEX_LEN(256)];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	assert_int_equal(enc_hex(out, sizeof(out), in, sizeof(in)), UM_OK);
	assert_int_equal(strlen(out), 512);
	assert_memory_equal(out, "000102", 6);
	assert_memory_equal(out + 506, "fdfeff", 6);
	assert_int_equal(dec_hex(back, sizeof(back), out, strlen(out)), 256);
	assert_memory_equal(back, in, sizeof(in));
}

static void
test_hex_decode_accepts_upper_case(void **state)
{
	uint8_t bin[4];

	(void)state;
	assert_int_equal(dec_hex(bin, sizeof(bin), "DEADbeef", 8), 4);
	assert_memory_equal(bin, "\xde\xad\xbe\xef", 4);
}

static void
test_hex_decode_rejects(void **state)
{
	uint8_t bin[8];

	(void)state;
	/* Bad characters anywhere, including whitespace and separators. */
	assert_int_equal(dec_hex(bin, sizeof(bin), "0g", 2), UM_ERR_MALFORMED);
	assert_int_equal(dec_hex(bin, sizeof(bin), "g0", 2), UM_ERR_MALFORMED);
	assert_int_equal(dec_hex(bin, sizeof(bin), "00 1", 4), UM_ERR_MALFORMED);
	assert_int_equal(dec_hex(bin, sizeof(bin), "00:1", 4), UM_ERR_MALFORMED);
	assert_int_equal(dec_hex(bin, sizeof(bin), "0011 ", 5), UM_ERR_MALFORMED);
	assert_int_equal(dec_hex(bin, sizeof(bin), "0011\n\n", 6), UM_ERR_MALFORMED);
	/* An embedded NUL inside the stated length. */
	assert_int_equal(dec_hex(bin, sizeof(bin), "00\0001", 4), UM_ERR_MALFORMED);
	/* Odd lengths. */
	assert_int_equal(dec_hex(bin, sizeof(bin), "0", 1), UM_ERR_MALFORMED);
	assert_int_equal(dec_hex(bin, sizeof(bin), "001", 3), UM_ERR_MALFORMED);
	/* Output too small. */
	assert_int_equal(dec_hex(bin, 1, "0011", 4), UM_ERR_TOO_LARGE);
	assert_int_equal(dec_hex(bin, 0, "00", 2), UM_ERR_TOO_LARGE);
}

static void
test_hex_encode_output_too_small(void **state)
{
	char out[8];

	(void)state;
	memset(out, 'X', sizeof(out));
	assert_int_equal(enc_hex(out, 6, "abc", 3), UM_ERR_TOO_LARGE);
	assert_int_equal(enc_hex(out, 0, "", 0), UM_ERR_TOO_LARGE);
	assert_int_equal(out[0], 'X');
	assert_int_equal(enc_hex(out, 1, "", 0), UM_OK);
	assert_string_equal(out, "");
}

static void
test_base32_rfc4648_vectors(void **state)
{
	char out[64];
	uint8_t bin[32];

	(void)state;
	for (size_t i = 0; i < sizeof(b32_vecs) / sizeof(b32_vecs[0]); i++) {
		const struct vec *v = &b32_vecs[i];
		size_t plen = strlen(v->plain), elen = strlen(v->enc);

		assert_int_equal(BASE32_LEN(plen), elen + 1);
		memset(out, 'X', sizeof(out));
		assert_int_equal(enc_base32(out, BASE32_LEN(plen), v->plain, plen), UM_OK);
		assert_string_equal(out, v->enc);
		assert_int_equal(dec_base32(bin, sizeof(bin), v->enc, elen), (ssize_t)plen);
		assert_memory_equal(bin, v->plain, plen);
		/* The exact size is enough. */
		assert_int_equal(dec_base32(bin, plen, v->enc, elen), (ssize_t)plen);
	}
}

static void
test_base32_upper_case_accepted(void **state)
{
	uint8_t bin[8];

	(void)state;
	assert_int_equal(dec_base32(bin, sizeof(bin), "MZXW6YTBOI", 10), 6);
	assert_memory_equal(bin, "foobar", 6);
	assert_int_equal(dec_base32(bin, sizeof(bin), "MzXw6YtBoI", 10), 6);
	assert_memory_equal(bin, "foobar", 6);
}

static void
test_base32_key_round_trip(void **state)
{
	uint8_t key[32], back[32];
	char out[BASE32_LEN(32)];

	(void)state;
	for (unsigned seed = 0; seed < 64; seed++) {
		for (size_t i = 0; i < sizeof(key); i++)
			key[i] = (uint8_t)(seed * 131 + i * 29 + (i >> 3) * seed);
		if (seed == 1)
			memset(key, 0xff, sizeof(key));
		if (seed == 2)
			memset(key, 0, sizeof(key));
		assert_int_equal(sizeof(out), 53);
		assert_int_equal(enc_base32(out, sizeof(out), key, sizeof(key)), UM_OK);
		assert_int_equal(strlen(out), 52);
		for (size_t i = 0; i < 52; i++)
			assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz234567", out[i]));
		memset(back, 0, sizeof(back));
		assert_int_equal(dec_base32(back, sizeof(back), out, 52), 32);
		assert_memory_equal(back, key, sizeof(key));
	}
	memset(key, 0xff, sizeof(key));
	assert_int_equal(enc_base32(out, sizeof(out), key, sizeof(key)), UM_OK);
	/* 256 bits: 51 full symbols ('7' is 31) and one with 1 data bit and 4 zero bits ('q'). */
	for (size_t i = 0; i < 51; i++)
		assert_int_equal(out[i], '7');
	assert_string_equal(out + 51, "q");
}

static void
test_base32_all_lengths_round_trip(void **state)
{
	uint8_t in[40], back[40];
	char out[BASE32_LEN(40)];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(0xa5 ^ (i * 37));
	for (size_t n = 0; n <= sizeof(in); n++) {
		size_t elen;

		assert_int_equal(enc_base32(out, BASE32_LEN(n), in, n), UM_OK);
		elen = strlen(out);
		assert_int_equal(elen, BASE32_LEN(n) - 1);
		assert_int_equal(dec_base32(back, n, out, elen), (ssize_t)n);
		assert_memory_equal(back, in, n);
	}
}

static void
test_base32_decode_rejects_bad_characters(void **state)
{
	uint8_t bin[16];

	(void)state;
	/* Outside the alphabet: 0, 1, 8, 9, padding, whitespace, punctuation, high bytes. */
	static const char *const bad[] = {
		"mzxw6yt0", "mzxw6yt1", "mzxw6yt8", "mzxw6yt9",  "mzxw6y==",
		"mzxw6yt ", " mzxw6yt", "mzxw-ytb", "mzxw6yt\n", "mzxw6yt\xc3",
		"mzxw6yt@", "mzxw6yt[", "mzxw6yt`", "mzxw6yt{",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(dec_base32(bin, sizeof(bin), bad[i], 8), UM_ERR_MALFORMED);
	/* An embedded NUL inside the stated length. */
	assert_int_equal(dec_base32(bin, sizeof(bin), "mzxw\0ytb", 8), UM_ERR_MALFORMED);
	/* Padded input (RFC form) is not our encoding. */
	assert_int_equal(dec_base32(bin, sizeof(bin), "my======", 8), UM_ERR_MALFORMED);
}

static void
test_base32_decode_rejects_impossible_lengths(void **state)
{
	uint8_t bin[16];
	const char *s = "mzxw6ytboirqaaaa";

	(void)state;
	/* 1, 3 and 6 symbols in the last group encode no byte string. */
	assert_int_equal(dec_base32(bin, sizeof(bin), s, 1), UM_ERR_MALFORMED);
	assert_int_equal(dec_base32(bin, sizeof(bin), s, 3), UM_ERR_MALFORMED);
	assert_int_equal(dec_base32(bin, sizeof(bin), s, 6), UM_ERR_MALFORMED);
	assert_int_equal(dec_base32(bin, sizeof(bin), s, 9), UM_ERR_MALFORMED);
	assert_int_equal(dec_base32(bin, sizeof(bin), s, 11), UM_ERR_MALFORMED);
	assert_int_equal(dec_base32(bin, sizeof(bin), s, 14), UM_ERR_MALFORMED);
}

static void
test_base32_decode_rejects_noncanonical(void **state)
{
	uint8_t bin[16];

	(void)state;
	/* "my" is "f"; the last symbol carries 2 padding bits that must be zero. */
	assert_int_equal(dec_base32(bin, sizeof(bin), "my", 2), 1);
	assert_int_equal(dec_base32(bin, sizeof(bin), "mz", 2), UM_ERR_MALFORMED);
	assert_int_equal(dec_base32(bin, sizeof(bin), "m7", 2), UM_ERR_MALFORMED);
	/* "mzxq" is "fo" (4 padding bits). */
	assert_int_equal(dec_base32(bin, sizeof(bin), "mzxr", 4), UM_ERR_MALFORMED);
	assert_int_equal(dec_base32(bin, sizeof(bin), "mzx7", 4), UM_ERR_MALFORMED);
	/* "mzxw6" is "foo" (1 padding bit). */
	assert_int_equal(dec_base32(bin, sizeof(bin), "mzxw7", 5), UM_ERR_MALFORMED);
	/* "mzxw6yq" is "foob" (3 padding bits). */
	assert_int_equal(dec_base32(bin, sizeof(bin), "mzxw6yr", 7), UM_ERR_MALFORMED);
	assert_int_equal(dec_base32(bin, sizeof(bin), "mzxw6y7", 7), UM_ERR_MALFORMED);
	/* "mzxw6ytboi" is "foobar" (2 padding bits). */
	assert_int_equal(dec_base32(bin, sizeof(bin), "mzxw6ytboj", 10), UM_ERR_MALFORMED);
	/* Full groups have no padding bits: any last symbol is fine. */
	assert_int_equal(dec_base32(bin, sizeof(bin), "mzxw6ytc", 8), 5);
}

static void
test_base32_output_too_small(void **state)
{
	uint8_t bin[8];
	char out[16];

	(void)state;
	assert_int_equal(dec_base32(bin, 5, "mzxw6ytboi", 10), UM_ERR_TOO_LARGE);
	assert_int_equal(dec_base32(bin, 0, "my", 2), UM_ERR_TOO_LARGE);
	assert_int_equal(dec_base32(bin, 0, "", 0), 0);
	memset(out, 'X', sizeof(out));
	assert_int_equal(enc_base32(out, 10, "foobar", 6), UM_ERR_TOO_LARGE);
	assert_int_equal(enc_base32(out, 0, "", 0), UM_ERR_TOO_LARGE);
	assert_int_equal(out[0], 'X');
	assert_int_equal(enc_base32(out, 11, "foobar", 6), UM_OK);
	assert_string_equal(out, "mzxw6ytboi");
}

static void
test_base64_rfc4648_vectors(void **state)
{
	char out[64];
	uint8_t bin[32];

	(void)state;
	for (size_t i = 0; i < sizeof(b64_vecs) / sizeof(b64_vecs[0]); i++) {
		const struct vec *v = &b64_vecs[i];
		size_t plen = strlen(v->plain), elen = strlen(v->enc);

		assert_int_equal(BASE64_LEN(plen), elen + 1);
		memset(out, 'X', sizeof(out));
		assert_int_equal(enc_base64(out, BASE64_LEN(plen), v->plain, plen), UM_OK);
		assert_string_equal(out, v->enc);
		assert_int_equal(dec_base64(bin, sizeof(bin), v->enc, elen), (ssize_t)plen);
		assert_memory_equal(bin, v->plain, plen);
		/* The exact size is enough. */
		assert_int_equal(dec_base64(bin, plen, v->enc, elen), (ssize_t)plen);
	}
}

static void
test_base64_all_lengths_round_trip(void **state)
{
	uint8_t in[40], back[40];
	char out[BASE64_LEN(40)];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(0xff - i * 13);
	for (size_t n = 0; n <= sizeof(in); n++) {
		size_t elen;

		assert_int_equal(enc_base64(out, BASE64_LEN(n), in, n), UM_OK);
		elen = strlen(out);
		assert_int_equal(elen, BASE64_LEN(n) - 1);
		assert_int_equal(dec_base64(back, n, out, elen), (ssize_t)n);
		assert_memory_equal(back, in, n);
	}
}

static void
test_base64_decode_rejects(void **state)
{
	uint8_t bin[16];

	(void)state;
	/* Bad characters (including the URL-safe alphabet) and whitespace. */
	assert_int_equal(dec_base64(bin, sizeof(bin), "Zm9v!mFy", 8), UM_ERR_MALFORMED);
	assert_int_equal(dec_base64(bin, sizeof(bin), "Zm9v-mFy", 8), UM_ERR_MALFORMED);
	assert_int_equal(dec_base64(bin, sizeof(bin), "Zm9v_mFy", 8), UM_ERR_MALFORMED);
	assert_int_equal(dec_base64(bin, sizeof(bin), "Zm9v YmFy", 9), UM_ERR_MALFORMED);
	assert_int_equal(dec_base64(bin, sizeof(bin), "Zm9vYmFy\n", 9), UM_ERR_MALFORMED);
	assert_int_equal(dec_base64(bin, sizeof(bin), "Zm9v\0mFy", 8), UM_ERR_MALFORMED);
	/* Missing, misplaced or extra padding; impossible lengths. */
	assert_int_equal(dec_base64(bin, sizeof(bin), "Zg", 2), UM_ERR_MALFORMED);
	assert_int_equal(dec_base64(bin, sizeof(bin), "Zg=", 3), UM_ERR_MALFORMED);
	assert_int_equal(dec_base64(bin, sizeof(bin), "Zm8", 3), UM_ERR_MALFORMED);
	assert_int_equal(dec_base64(bin, sizeof(bin), "Z", 1), UM_ERR_MALFORMED);
	assert_int_equal(dec_base64(bin, sizeof(bin), "Z===", 4), UM_ERR_MALFORMED);
	assert_int_equal(dec_base64(bin, sizeof(bin), "Zm9vY", 5), UM_ERR_MALFORMED);
	assert_int_equal(dec_base64(bin, sizeof(bin), "Zm9v=", 5), UM_ERR_MALFORMED);
	assert_int_equal(dec_base64(bin, sizeof(bin), "Zm9v====", 8), UM_ERR_MALFORMED);
	assert_int_equal(dec_base64(bin, sizeof(bin), "Zg===", 5), UM_ERR_MALFORMED);
	assert_int_equal(dec_base64(bin, sizeof(bin), "Zg==Zg==", 8), UM_ERR_MALFORMED);
	assert_int_equal(dec_base64(bin, sizeof(bin), "=Zg=", 4), UM_ERR_MALFORMED);
	assert_int_equal(dec_base64(bin, sizeof(bin), "====", 4), UM_ERR_MALFORMED);
	/* Non-zero trailing bits: "Zg==" is "f", "Zh==" would be "f" too. */
	assert_int_equal(dec_base64(bin, sizeof(bin), "Zh==", 4), UM_ERR_MALFORMED);
	assert_int_equal(dec_base64(bin, sizeof(bin), "Zm9=", 4), UM_ERR_MALFORMED);
}

static void
test_base64_output_too_small(void **state)
{
	uint8_t bin[8];
	char out[16];

	(void)state;
	/* One byte short, with and without padding. */
	assert_int_equal(dec_base64(bin, 5, "Zm9vYmFy", 8), UM_ERR_TOO_LARGE);
	assert_int_equal(dec_base64(bin, 4, "Zm9vYmE=", 8), UM_ERR_TOO_LARGE);
	assert_int_equal(dec_base64(bin, 3, "Zm9vYg==", 8), UM_ERR_TOO_LARGE);
	assert_int_equal(dec_base64(bin, 0, "Zg==", 4), UM_ERR_TOO_LARGE);
	/* Far too small. */
	assert_int_equal(dec_base64(bin, 1, "Zm9vYmFy", 8), UM_ERR_TOO_LARGE);
	assert_int_equal(dec_base64(bin, 0, "", 0), 0);
	memset(out, 'X', sizeof(out));
	assert_int_equal(enc_base64(out, 8, "foobar", 6), UM_ERR_TOO_LARGE);
	assert_int_equal(enc_base64(out, 0, "", 0), UM_ERR_TOO_LARGE);
	assert_int_equal(out[0], 'X');
	assert_int_equal(enc_base64(out, 9, "foobar", 6), UM_OK);
	assert_string_equal(out, "Zm9vYmFy");
}

/* Found by fuzz_keyfile: libsodium 1.0.18 reads input as signed char and can take a byte
 * >= 0x80 for a digit, so the decoded bytes would differ from what the text says. */
static void
test_dec_rejects_high_bit_bytes(void **state)
{
	uint8_t out[64];
	char b64[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
	char hex[] = "00112233";

	(void)state;
	assert_int_equal(dec_base64(out, sizeof(out), b64, strlen(b64)), 32);
	for (size_t i = 0; i < strlen(b64) - 1; i++) {
		char c = b64[i];

		for (unsigned v = 0x80; v <= 0xff; v += 0x11) {
			b64[i] = (char)v;
			assert_int_equal(dec_base64(out, sizeof(out), b64, strlen(b64)),
			                 UM_ERR_MALFORMED);
		}
		b64[i] = c;
	}
	for (size_t i = 0; i < strlen(hex); i++) {
		char c = hex[i];

		hex[i] = (char)0xaa;
		assert_int_equal(dec_hex(out, sizeof(out), hex, strlen(hex)), UM_ERR_MALFORMED);
		hex[i] = c;
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dec_rejects_high_bit_bytes),
		cmocka_unit_test(test_hex_rfc4648_vectors),
		cmocka_unit_test(test_hex_all_bytes_round_trip),
		cmocka_unit_test(test_hex_decode_accepts_upper_case),
		cmocka_unit_test(test_hex_decode_rejects),
		cmocka_unit_test(test_hex_encode_output_too_small),
		cmocka_unit_test(test_base32_rfc4648_vectors),
		cmocka_unit_test(test_base32_upper_case_accepted),
		cmocka_unit_test(test_base32_key_round_trip),
		cmocka_unit_test(test_base32_all_lengths_round_trip),
		cmocka_unit_test(test_base32_decode_rejects_bad_characters),
		cmocka_unit_test(test_base32_decode_rejects_impossible_lengths),
		cmocka_unit_test(test_base32_decode_rejects_noncanonical),
		cmocka_unit_test(test_base32_output_too_small),
		cmocka_unit_test(test_base64_rfc4648_vectors),
		cmocka_unit_test(test_base64_all_lengths_round_trip),
		cmocka_unit_test(test_base64_decode_rejects),
		cmocka_unit_test(test_base64_output_too_small),
	};

	return cmocka_run_group_tests_name("encoding", tests, NULL, NULL);
}
