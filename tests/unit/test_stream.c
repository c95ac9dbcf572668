/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/crypto/stream (raw ChaCha20 on OpenSSL EVP) and the copyable keyed
 * BLAKE2b state of src/crypto/hash: the RFC 8439 section 2.4.2 vector; one context reused
 * across nonces, counters and partial-block lengths gives what a fresh context gives; block
 * counter offsets line up; streams with other keys (sharing the thread's EVP context) used or
 * cleared in between change nothing; a 32-bit counter wrap is refused; the streaming BLAKE2b state
 * matches the one-shot keyed hash and an independent (Python hashlib) value, and a copied
 * state forks without disturbing the original.
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
#include "crypto/hash.h"
#include "crypto/stream.h"

/* RFC 8439 section 2.4.2: key 00..1f, nonce 00:00:00:00:00:00:00:4a:00:00:00:00, counter 1. */
static const char rfc8439_pt[] = "Ladies and Gentlemen of the class of '99: If I could offer you "
                                 "only one tip for the future, sunscreen would be it.";
static const char rfc8439_ct[] = "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b"
                                 "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8"
                                 "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736"
                                 "5af90bbf74a35be6b40b8eedf2785e42874d";

static void
hex(uint8_t *out, size_t len, const char *s)
{
	assert_int_equal(dec_hex(out, len, s, strlen(s)), (ssize_t)len);
}

static void
test_chacha20_rfc8439_vector(void **state)
{
	uint8_t key[32], nonce[12] = { 0 }, ct[114], out[114];
	struct stream_chacha20 s;

	(void)state;
	assert_int_equal(strlen(rfc8439_pt), sizeof(ct));
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	nonce[7] = 0x4a;
	hex(ct, sizeof(ct), rfc8439_ct);
	assert_int_equal(stream_chacha20_init(&s, key), UM_OK);
	assert_int_equal(
	        stream_chacha20_xor(&s, nonce, 1, (const uint8_t *)rfc8439_pt, out, sizeof(out)),
	        UM_OK);
	assert_memory_equal(out, ct, sizeof(ct));
	/* In place, and back. */
	assert_int_equal(stream_chacha20_xor(&s, nonce, 1, out, out, sizeof(out)), UM_OK);
	assert_memory_equal(out, rfc8439_pt, sizeof(out));
	stream_chacha20_clear(&s);
	stream_chacha20_clear(&s); /* twice is fine */
	assert_int_equal(stream_chacha20_xor(&s, nonce, 1, out, out, sizeof(out)), UM_ERR_STATE);
}

static void
test_chacha20_context_reuse_matches_fresh(void **state)
{
	static const size_t lens[] = { 1, 63, 64, 65, 509, 1000 };
	uint8_t key[32], nonce[12], in[1000], a[1000], b[1000];
	struct stream_chacha20 reused, fresh;

	(void)state;
	rand_bytes(key, sizeof(key));
	rand_bytes(in, sizeof(in));
	assert_int_equal(stream_chacha20_init(&reused, key), UM_OK);
	for (unsigned round = 0; round < 50; round++) {
		size_t len = lens[round % UM_ARRAY_LEN(lens)];
		uint32_t ctr = round % 3 == 0 ? 0 : rand_uniform(1000);

		rand_bytes(nonce, sizeof(nonce));
		assert_int_equal(stream_chacha20_xor(&reused, nonce, ctr, in, a, len), UM_OK);
		assert_int_equal(stream_chacha20_init(&fresh, key), UM_OK);
		assert_int_equal(stream_chacha20_xor(&fresh, nonce, ctr, in, b, len), UM_OK);
		stream_chacha20_clear(&fresh);
		assert_memory_equal(a, b, len);
	}
	/* Block counter n starts 64 * n bytes into the keystream of counter 0. */
	memset(in, 0, sizeof(in));
	assert_int_equal(stream_chacha20_xor(&reused, nonce, 0, in, a, 640), UM_OK);
	assert_int_equal(stream_chacha20_xor(&reused, nonce, 3, in, b, 448), UM_OK);
	assert_memory_equal(a + 192, b, 448);
	/* Another nonce gives another keystream. */
	nonce[11] ^= 1;
	assert_int_equal(stream_chacha20_xor(&reused, nonce, 0, in, b, 64), UM_OK);
	assert_memory_not_equal(a, b, 64);
	stream_chacha20_clear(&reused);
}

/* Streams share one EVP context per thread: what one stream did last (another key, a clear)
 * must never show in another's keystream. */
static void
test_chacha20_streams_interleaved(void **state)
{
	uint8_t key_a[32], key_b[32], rfc_key[32], nonce[12], in[509];
	uint8_t ref_a[4][509], ref_b[4][509], got[509];
	uint8_t rfc_nonce[12] = { 0, 0, 0, 0, 0, 0, 0, 0x4a, 0, 0, 0, 0 };
	uint8_t out[sizeof(rfc8439_pt) - 1], want[sizeof(out)];
	struct stream_chacha20 a, b, rfc;

	(void)state;
	rand_bytes(key_a, sizeof(key_a));
	rand_bytes(key_b, sizeof(key_b));
	rand_bytes(nonce, sizeof(nonce));
	rand_bytes(in, sizeof(in));
	/* Each stream alone ... */
	assert_int_equal(stream_chacha20_init(&a, key_a), UM_OK);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(stream_chacha20_xor(&a, nonce, i, in, ref_a[i], sizeof(in)),
		                 UM_OK);
	stream_chacha20_clear(&a);
	assert_int_equal(stream_chacha20_init(&b, key_b), UM_OK);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(stream_chacha20_xor(&b, nonce, i, in, ref_b[i], sizeof(in)),
		                 UM_OK);
	assert_memory_not_equal(ref_a[0], ref_b[0], sizeof(in));
	/* ... gives what it gives when calls alternate with another key's. */
	assert_int_equal(stream_chacha20_init(&a, key_a), UM_OK);
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(stream_chacha20_xor(&a, nonce, i, in, got, sizeof(in)), UM_OK);
		assert_memory_equal(got, ref_a[i], sizeof(in));
		assert_int_equal(stream_chacha20_xor(&b, nonce, i, in, got, sizeof(in)), UM_OK);
		assert_memory_equal(got, ref_b[i], sizeof(in));
	}
	/* Clearing one stream (which wipes the shared context) leaves the other working. */
	stream_chacha20_clear(&b);
	assert_int_equal(stream_chacha20_xor(&a, nonce, 2, in, got, sizeof(in)), UM_OK);
	assert_memory_equal(got, ref_a[2], sizeof(in));
	/* And a stream keyed after others were used still matches the RFC 8439 vector. */
	for (size_t i = 0; i < sizeof(rfc_key); i++)
		rfc_key[i] = (uint8_t)i;
	hex(want, sizeof(want), rfc8439_ct);
	assert_int_equal(stream_chacha20_init(&rfc, rfc_key), UM_OK);
	assert_int_equal(stream_chacha20_xor(&a, nonce, 0, in, got, sizeof(in)), UM_OK);
	assert_int_equal(stream_chacha20_xor(&rfc, rfc_nonce, 1, (const uint8_t *)rfc8439_pt, out,
	                                     sizeof(out)),
	                 UM_OK);
	assert_memory_equal(out, want, sizeof(out));
	stream_chacha20_clear(&rfc);
	stream_chacha20_clear(&a);
}

static void
test_chacha20_counter_wrap_refused(void **state)
{
	uint8_t key[32] = { 1 }, nonce[12] = { 0 }, buf[129] = { 0 };
	struct stream_chacha20 s;

	(void)state;
	assert_int_equal(stream_chacha20_init(&s, key), UM_OK);
	/* The last block is usable ... */
	assert_int_equal(stream_chacha20_xor(&s, nonce, UINT32_MAX, buf, buf, 64), UM_OK);
	assert_int_equal(stream_chacha20_xor(&s, nonce, UINT32_MAX - 2, buf, buf, 129), UM_OK);
	/* ... one byte past it is not. */
	assert_int_equal(stream_chacha20_xor(&s, nonce, UINT32_MAX, buf, buf, 65),
	                 UM_ERR_TOO_LARGE);
	assert_int_equal(stream_chacha20_xor(&s, nonce, UINT32_MAX - 1, buf, buf, 129),
	                 UM_ERR_TOO_LARGE);
	assert_int_equal(stream_chacha20_xor(&s, nonce, UINT32_MAX, buf, buf, 0), UM_OK);
	stream_chacha20_clear(&s);
}

static void
test_blake2b_state_keyed_and_copyable(void **state)
{
	/* hashlib.blake2b(bytes(range(200)), key=bytes(range(32)), digest_size=32) */
	static const char want_hex[] =
	        "a39ff6e7e838226fd50e24a55375ff3a39419fd93e32cc463f3f74323291c425";
	uint8_t key[32], msg[200], want[32], got[32], oneshot[32], fork[32];
	struct hash_blake2b_state st, copy;

	(void)state;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	hex(want, sizeof(want), want_hex);

	hash_blake2b(oneshot, 32, msg, sizeof(msg), key, sizeof(key));
	assert_memory_equal(oneshot, want, 32);

	hash_blake2b_init(&st, key, sizeof(key), 32);
	hash_blake2b_update(&st, msg, 77);
	copy = st; /* fork: the copy finishes early, the original goes on */
	hash_blake2b_final(&copy, fork, 32);
	hash_blake2b(oneshot, 32, msg, 77, key, sizeof(key));
	assert_memory_equal(fork, oneshot, 32);
	hash_blake2b_update(&st, msg + 77, sizeof(msg) - 77);
	hash_blake2b_final(&st, got, 32);
	assert_memory_equal(got, want, 32);
	/* final wipes the state */
	memset(&copy, 0, sizeof(copy));
	assert_memory_equal(&st, &copy, sizeof(st));
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
		cmocka_unit_test(test_chacha20_rfc8439_vector),
		cmocka_unit_test(test_chacha20_context_reuse_matches_fresh),
		cmocka_unit_test(test_chacha20_streams_interleaved),
		cmocka_unit_test(test_chacha20_counter_wrap_refused),
		cmocka_unit_test(test_blake2b_state_keyed_and_copyable),
	};

	return cmocka_run_group_tests_name("stream", tests, setup, NULL);
}
