/* SPDX-License-Identifier: MIT */
/*
 * Noise HandshakeState against every 25519_ChaChaPoly_BLAKE2b NK/XK/IK/XX vector in
 * shared/vectors/noise/ (cacophony, snow, noise-c): each handshake message, the handshake hash
 * and every transport message after Split(). Plus rekey, tampering and wrong-key behaviour.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "lib/err.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "crypto/noise.h"
#include "helpers/vectors.h"

enum { BIG = 4096 };

static int
pattern_of(const char *name, enum noise_pattern *p)
{
	static const struct {
		const char *name;
		enum noise_pattern p;
	} known[] = {
		{ "Noise_NK_25519_ChaChaPoly_BLAKE2b", NOISE_NK },
		{ "Noise_XK_25519_ChaChaPoly_BLAKE2b", NOISE_XK },
		{ "Noise_IK_25519_ChaChaPoly_BLAKE2b", NOISE_IK },
		{ "Noise_XX_25519_ChaChaPoly_BLAKE2b", NOISE_XX },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strcmp(name, known[i].name) == 0) {
			*p = known[i].p;
			return 1;
		}
	}
	return 0;
}

static unsigned
handshake_len(enum noise_pattern p)
{
	return p == NOISE_XK || p == NOISE_XX ? 3 : 2;
}

/* Run one vector; returns the number of messages checked. */
static unsigned
run_vector(const json_t *v)
{
	const char *name = json_string_value(json_object_get(v, "protocol_name"));
	enum noise_pattern p;
	uint8_t prologue[256], is[32], rs_priv[32], ie[32], re[32], irs[32], hh[64], got_hh[64];
	uint8_t buf[BIG], out[BIG], pt[BIG];
	long plen, n;
	bool has_is, has_irs;
	struct noise_hs ini, res;
	struct noise_cs i_send, i_recv, r_send, r_recv;
	const json_t *msgs = json_object_get(v, "messages");
	unsigned hs_n, checked = 0;
	size_t len = 0, olen = 0;

	if (name == NULL)
		name = json_string_value(json_object_get(v, "name"));
	assert_non_null(name);
	if (!pattern_of(name, &p))
		return 0;
	plen = vec_hex(v, "init_prologue", prologue, sizeof(prologue));
	assert_true(plen >= 0);
	has_is = vec_hex(v, "init_static", is, sizeof(is)) == 32;
	has_irs = vec_hex(v, "init_remote_static", irs, sizeof(irs)) == 32;
	assert_int_equal(vec_hex(v, "resp_static", rs_priv, sizeof(rs_priv)), 32);
	assert_int_equal(vec_hex(v, "init_ephemeral", ie, sizeof(ie)), 32);
	assert_int_equal(vec_hex(v, "resp_ephemeral", re, sizeof(re)), 32);

	assert_int_equal(noise_hs_init(&ini, p, true, prologue, (size_t)plen, has_is ? is : NULL,
	                               has_irs ? irs : NULL),
	                 UM_OK);
	assert_int_equal(noise_hs_init(&res, p, false, prologue, (size_t)plen, rs_priv, NULL),
	                 UM_OK);
	noise_hs_set_ephemeral(&ini, ie);
	noise_hs_set_ephemeral(&res, re);

	hs_n = handshake_len(p);
	for (size_t i = 0; i < json_array_size(msgs); i++) {
		const json_t *m = json_array_get(msgs, i);
		bool from_init = i % 2 == 0;
		uint8_t payload[BIG], ct[BIG];
		long pl = vec_hex(m, "payload", payload, sizeof(payload));
		long cl = vec_hex(m, "ciphertext", ct, sizeof(ct));

		assert_true(pl >= 0 && cl >= 0);
		if (i < hs_n) {
			struct noise_hs *w = from_init ? &ini : &res;
			struct noise_hs *r = from_init ? &res : &ini;

			assert_true(noise_hs_is_our_turn(w));
			assert_int_equal(noise_hs_write_len(w, (size_t)pl), (size_t)cl);
			assert_int_equal(
			        noise_hs_write(w, payload, (size_t)pl, buf, sizeof(buf), &len),
			        UM_OK);
			assert_int_equal(len, (size_t)cl);
			assert_memory_equal(buf, ct, (size_t)cl);
			assert_int_equal(noise_hs_read(r, buf, len, out, sizeof(out), &olen),
			                 UM_OK);
			assert_int_equal(olen, (size_t)pl);
			if (pl > 0)
				assert_memory_equal(out, payload, (size_t)pl);
			if (i + 1 == hs_n) {
				assert_true(noise_hs_is_done(&ini));
				assert_true(noise_hs_is_done(&res));
				noise_hs_handshake_hash(&ini, got_hh);
				n = vec_hex(v, "handshake_hash", hh, sizeof(hh));
				if (n >= 0) {
					assert_int_equal(n, 64);
					assert_memory_equal(got_hh, hh, 64);
				}
				noise_hs_handshake_hash(&res, hh);
				assert_memory_equal(got_hh, hh, 64);
				assert_int_equal(noise_hs_split(&ini, &i_send, &i_recv), UM_OK);
				assert_int_equal(noise_hs_split(&res, &r_send, &r_recv), UM_OK);
			}
		} else {
			struct noise_cs *s = from_init ? &i_send : &r_send;
			struct noise_cs *r = from_init ? &r_recv : &i_recv;

			assert_int_equal(noise_cs_encrypt(s, NULL, 0, payload, (size_t)pl, buf),
			                 UM_OK);
			assert_int_equal((long)pl + 16, cl);
			assert_memory_equal(buf, ct, (size_t)cl);
			assert_int_equal(noise_cs_decrypt(r, NULL, 0, buf, (size_t)cl, pt), UM_OK);
			if (pl > 0)
				assert_memory_equal(pt, payload, (size_t)pl);
		}
		checked++;
	}
	noise_cs_clear(&i_send);
	noise_cs_clear(&i_recv);
	noise_cs_clear(&r_send);
	noise_cs_clear(&r_recv);
	noise_hs_clear(&ini);
	noise_hs_clear(&res);
	return checked;
}

static void
run_file(const char *rel, unsigned want_vectors)
{
	json_t *j = vec_load(rel);
	const json_t *vs = json_object_get(j, "vectors");
	unsigned ran = 0;

	assert_true(json_is_array(vs));
	for (size_t i = 0; i < json_array_size(vs); i++) {
		if (run_vector(json_array_get(vs, i)) > 0)
			ran++;
	}
	assert_int_equal(ran, want_vectors);
	json_decref(j);
}

static void
test_noise_cacophony_vectors(void **state)
{
	(void)state;
	run_file("noise/cacophony_filtered.json", 4);
}

static void
test_noise_snow_vectors(void **state)
{
	(void)state;
	run_file("noise/snow_filtered.json", 4);
}

static void
test_noise_noise_c_vectors(void **state)
{
	(void)state;
	run_file("noise/noise-c-basic_filtered.json", 4);
}

/* Run a fresh XK handshake between random keys; fills transport states. */
static void
xk_pair(struct noise_cs *is, struct noise_cs *ir, struct noise_cs *rs_, struct noise_cs *rr)
{
	struct keys_x25519 a, b;
	struct noise_hs i, r;
	uint8_t m[256], p[64];
	size_t len, plen;

	keys_x25519_generate(&a);
	keys_x25519_generate(&b);
	assert_int_equal(noise_hs_init(&i, NOISE_XK, true, (const uint8_t *)"p", 1, a.sk, b.pk),
	                 UM_OK);
	assert_int_equal(noise_hs_init(&r, NOISE_XK, false, (const uint8_t *)"p", 1, b.sk, NULL),
	                 UM_OK);
	for (int k = 0; k < 3; k++) {
		struct noise_hs *w = k % 2 == 0 ? &i : &r, *rd = k % 2 == 0 ? &r : &i;

		assert_int_equal(noise_hs_write(w, NULL, 0, m, sizeof(m), &len), UM_OK);
		assert_int_equal(noise_hs_read(rd, m, len, p, sizeof(p), &plen), UM_OK);
	}
	assert_memory_equal(noise_hs_remote_static(&r), a.pk, 32);
	assert_int_equal(noise_hs_split(&i, is, ir), UM_OK);
	assert_int_equal(noise_hs_split(&r, rs_, rr), UM_OK);
	noise_hs_clear(&i);
	noise_hs_clear(&r);
	keys_x25519_clear(&a);
	keys_x25519_clear(&b);
}

static void
test_noise_rekey_and_tamper(void **state)
{
	struct noise_cs is, ir, rs_, rr;
	uint8_t cell[514], rec[530], back[514];

	(void)state;
	xk_pair(&is, &ir, &rs_, &rr);
	memset(cell, 0xab, sizeof(cell));
	assert_int_equal(noise_cs_encrypt(&is, NULL, 0, cell, sizeof(cell), rec), UM_OK);
	assert_int_equal(noise_cs_decrypt(&rr, NULL, 0, rec, sizeof(rec), back), UM_OK);
	assert_memory_equal(back, cell, sizeof(cell));

	/* Both sides rekey: traffic still flows, and an old-key record no longer opens. */
	assert_int_equal(noise_cs_encrypt(&is, NULL, 0, cell, sizeof(cell), rec), UM_OK);
	assert_int_equal(noise_cs_rekey(&is), UM_OK);
	assert_int_equal(noise_cs_rekey(&rr), UM_OK);
	assert_int_equal(noise_cs_decrypt(&rr, NULL, 0, rec, sizeof(rec), back), UM_ERR_AUTH);
	assert_int_equal(noise_cs_encrypt(&is, NULL, 0, cell, sizeof(cell), rec), UM_OK);
	/* rr's nonce did not advance on failure: it is one behind is. */
	rr.n++;
	assert_int_equal(noise_cs_decrypt(&rr, NULL, 0, rec, sizeof(rec), back), UM_OK);

	/* A flipped bit anywhere fails authentication. */
	for (size_t bit = 0; bit < sizeof(rec) * 8; bit += 97) {
		assert_int_equal(noise_cs_encrypt(&rs_, NULL, 0, cell, sizeof(cell), rec), UM_OK);
		rec[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(noise_cs_decrypt(&ir, NULL, 0, rec, sizeof(rec), back),
		                 UM_ERR_AUTH);
		ir.n++; /* keep in step with the sender */
	}
	noise_cs_clear(&is);
	noise_cs_clear(&ir);
	noise_cs_clear(&rs_);
	noise_cs_clear(&rr);
}

static void
test_noise_wrong_responder_key_fails_first_message(void **state)
{
	struct keys_x25519 a, b, c;
	struct noise_hs i, r;
	uint8_t m[256], p[64];
	size_t len, plen;

	(void)state;
	keys_x25519_generate(&a);
	keys_x25519_generate(&b);
	keys_x25519_generate(&c);
	/* The initiator believes the responder's key is c; the responder holds b. */
	assert_int_equal(noise_hs_init(&i, NOISE_XK, true, NULL, 0, a.sk, c.pk), UM_OK);
	assert_int_equal(noise_hs_init(&r, NOISE_XK, false, NULL, 0, b.sk, NULL), UM_OK);
	assert_int_equal(noise_hs_write(&i, NULL, 0, m, sizeof(m), &len), UM_OK);
	assert_int_equal(len, 48);
	assert_int_equal(noise_hs_read(&r, m, len, p, sizeof(p), &plen), UM_ERR_AUTH);
	/* A failed handshake stays failed. */
	assert_int_equal(noise_hs_write(&r, NULL, 0, m, sizeof(m), &len), UM_ERR_STATE);
	noise_hs_clear(&i);
	noise_hs_clear(&r);
	keys_x25519_clear(&a);
	keys_x25519_clear(&b);
	keys_x25519_clear(&c);
}

static void
test_noise_truncated_and_out_of_turn(void **state)
{
	struct keys_x25519 b;
	struct noise_hs i, r;
	uint8_t m[256], p[64];
	size_t len, plen;

	(void)state;
	keys_x25519_generate(&b);
	assert_int_equal(noise_hs_init(&i, NOISE_NK, true, NULL, 0, NULL, b.pk), UM_OK);
	assert_int_equal(noise_hs_read(&i, m, 48, p, sizeof(p), &plen), UM_ERR_STATE);
	assert_int_equal(noise_hs_write(&i, (const uint8_t *)"hi", 2, m, sizeof(m), &len), UM_OK);
	assert_int_equal(len, 32 + 2 + 16);
	for (size_t cut = 0; cut < len; cut++) {
		assert_int_equal(noise_hs_init(&r, NOISE_NK, false, NULL, 0, b.sk, NULL), UM_OK);
		assert_true(noise_hs_read(&r, m, cut, p, sizeof(p), &plen) != UM_OK);
		noise_hs_clear(&r);
	}
	/* Missing keys are refused up front. */
	assert_int_equal(noise_hs_init(&r, NOISE_XK, true, NULL, 0, NULL, b.pk), UM_ERR_INVALID);
	assert_int_equal(noise_hs_init(&r, NOISE_NK, true, NULL, 0, NULL, NULL), UM_ERR_INVALID);
	noise_hs_clear(&i);
	keys_x25519_clear(&b);
}

static void
test_noise_low_order_key_refused(void **state)
{
	/* A peer sending the all-zero point as its ephemeral forces an all-zero DH. */
	struct keys_x25519 b;
	struct noise_hs r;
	uint8_t m[48] = { 0 }, p[16];
	size_t plen;

	(void)state;
	keys_x25519_generate(&b);
	assert_int_equal(noise_hs_init(&r, NOISE_NK, false, NULL, 0, b.sk, NULL), UM_OK);
	assert_int_equal(noise_hs_read(&r, m, sizeof(m), p, sizeof(p), &plen), UM_ERR_CRYPTO);
	noise_hs_clear(&r);
	keys_x25519_clear(&b);
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
		cmocka_unit_test(test_noise_cacophony_vectors),
		cmocka_unit_test(test_noise_snow_vectors),
		cmocka_unit_test(test_noise_noise_c_vectors),
		cmocka_unit_test(test_noise_rekey_and_tamper),
		cmocka_unit_test(test_noise_wrong_responder_key_fails_first_message),
		cmocka_unit_test(test_noise_truncated_and_out_of_turn),
		cmocka_unit_test(test_noise_low_order_key_refused),
	};

	return cmocka_run_group_tests_name("noise", tests, setup, NULL);
}
