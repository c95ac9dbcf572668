/* SPDX-License-Identifier: MIT */
#include "lib/encoding.h"

#include <stdbool.h>
#include <string.h>
#include <sodium.h>

#include "lib/err.h"

/*
 * libsodium 1.0.18's decoders read input through plain (signed) char, so a byte >= 0x80 can
 * decode as a digit: "ab\xaa..." would then decode, and decode to something else than the
 * text says. Check the alphabet first; everything below then sees only ASCII digits.
 */
static bool
all_in(const char *in, size_t len, bool (*ok)(unsigned char c))
{
	for (size_t i = 0; i < len; i++) {
		if (!ok((unsigned char)in[i]))
			return false;
	}
	return true;
}

static bool
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool
is_b64(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/' || c == '=';
}

int
enc_hex(char *out, size_t out_len, const void *in, size_t in_len)
{
	if (out_len < HEX_LEN(in_len))
		return UM_ERR_TOO_LARGE;
	sodium_bin2hex(out, out_len, in, in_len);
	return UM_OK;
}

ssize_t
dec_hex(void *out, size_t out_len, const char *in, size_t in_len)
{
	size_t n = 0;
	const char *end = NULL;

	if (in_len % 2 != 0)
		return UM_ERR_MALFORMED;
	if (in_len / 2 > out_len)
		return UM_ERR_TOO_LARGE;
	if (!all_in(in, in_len, is_hex))
		return UM_ERR_MALFORMED;
	if (sodium_hex2bin(out, out_len, in, in_len, NULL, &n, &end) != 0 || end != in + in_len)
		return UM_ERR_MALFORMED;
	return (ssize_t)n;
}

static const char b32_alpha[] = "abcdefghijklmnopqrstuvwxyz234567";

int
enc_base32(char *out, size_t out_len, const void *in, size_t in_len)
{
	const uint8_t *p = in;
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;

	if (out_len < BASE32_LEN(in_len))
		return UM_ERR_TOO_LARGE;
	for (size_t i = 0; i < in_len; i++) {
		acc = (acc << 8) | p[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32_alpha[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = b32_alpha[(acc << (5 - bits)) & 31];
	out[o] = '\0';
	return UM_OK;
}

static int
b32_val(char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

ssize_t
dec_base32(void *out, size_t out_len, const char *in, size_t in_len)
{
	uint8_t *o = out;
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;
	size_t rem = in_len % 8;

	/* Lengths that no byte string encodes to (1, 3 or 6 chars in the last group). */
	if (rem == 1 || rem == 3 || rem == 6)
		return UM_ERR_MALFORMED;
	if (in_len * 5 / 8 > out_len)
		return UM_ERR_TOO_LARGE;
	for (size_t i = 0; i < in_len; i++) {
		int v = b32_val(in[i]);

		if (v < 0)
			return UM_ERR_MALFORMED;
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			o[n++] = (uint8_t)(acc >> (bits - 8));
			bits -= 8;
		}
		acc &= (1u << bits) - 1;
	}
	/* Leftover bits must be zero, or two strings would decode to the same bytes. */
	if (acc != 0)
		return UM_ERR_MALFORMED;
	return (ssize_t)n;
}

int
enc_base64(char *out, size_t out_len, const void *in, size_t in_len)
{
	if (out_len < BASE64_LEN(in_len))
		return UM_ERR_TOO_LARGE;
	sodium_bin2base64(out, out_len, in, in_len, sodium_base64_VARIANT_ORIGINAL);
	return UM_OK;
}

ssize_t
dec_base64(void *out, size_t out_len, const char *in, size_t in_len)
{
	size_t n = 0, need;
	const char *end = NULL;

	/* Padded input is whole groups of four; the padding says how short the last one is. */
	if (in_len % 4 != 0 || !all_in(in, in_len, is_b64))
		return UM_ERR_MALFORMED;
	need = in_len / 4 * 3;
	if (in_len >= 1 && in[in_len - 1] == '=')
		need--;
	if (in_len >= 2 && in[in_len - 2] == '=')
		need--;
	if (need > out_len)
		return UM_ERR_TOO_LARGE;
	if (sodium_base642bin(out, out_len, in, in_len, NULL, &n, &end,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != in + in_len)
		return UM_ERR_MALFORMED;
	return (ssize_t)n;
}
