/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/crypto/blindrsa (RFC 9474 RSABSSA-SHA384): every vector of both files in
 * shared/vectors/rsa-blind/ (all four variants each; the JSON keeps 0x prefixes on integers,
 * gives inv and not r, and lacks encoded_msg in its first entry; the draft appendix differs in
 * the PSSZERO-Deterministic blinding factor): the EMSA-PSS encoding, Blind with the vector's
 * salt and inverse, BlindSign, Finalize and Verify byte for byte. Then, with fresh 2048-bit
 * keys: round trips for every variant, refusals (another key, a tampered signature, another
 * message, the other salt length, a cheating issuer, a wrong inverse), range and length checks
 * on untrusted blinded messages, blind signatures and signatures, and key export/import round
 * trips and refusals (short or 1024-bit keys, e = 3, RSA-PSS and EC keys, every strict prefix,
 * trailing bytes, non-canonical DER).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "crypto/blindrsa.h"
#include "crypto/crypto.h"
#include "helpers/vectors.h"

enum { VEC_MAX = 1024, N_VARIANTS = 4 };

/* Keys that the RSA-specific refusals need: made once with `openssl genpkey`. */
static const char spki_1024[] =
        "30819f300d06092a864886f70d010101050003818d0030818902818100c080b5ef7a548031478414"
        "3f2ba05aefb1c7784e56c92f421def2d2cbb0375fef9f468b61f30e46eecc859f9dfc126cdee983b"
        "e45ff01c9b1bbceec967c890ffa7665c36ef1169d2908a2f59a12e1d2d649dda05ab35e77eef1c31"
        "50bcbecb2688400e75d83b5172c3f36bf423f7efbbfc7bc4180013edc6fe84ac428a8622ab020301"
        "0001";
static const char spki_e3[] =
        "30820120300d06092a864886f70d01010105000382010d00308201080282010100bdad123166c52f"
        "9a9648c629079f744e47288e5c718ae711b8353c47d76c8f6d76341ce277e5f39b5c2a5d8e885174"
        "7306561fee460965c379686143a20b8a7801f5f67d6ac705f3f6122226e14b1106b8fe6265e90a90"
        "0c56a226db6d4c7c3814e8c00d3f03225c6e302adf9dd7f7727e20981e43a505a04a7106e6dfcb5c"
        "7dc46c6c338073d83487bd448da3f758418e85324df688d6d6fb1fae7838e595e475791370f39f79"
        "3a119152e3ea9ee9cb509d85372de68c60a5ba22a3ec8bdce2ae6ccfc0b5800f97b0ac25b127422b"
        "ee95158bfb19845599c8024f67904d162263cc1f65b06b6f8d4d3837657ec4aa74461690bbbf499e"
        "3c721b80bebf1ee5e1020103";
static const char spki_rsa_pss[] =
        "30820120300b06092a864886f70d01010a0382010f003082010a0282010100bbc75b97328322ec79"
        "2be6d915aaccadfd306f25e4ea6abb9bd5df33e66727642be8191654547c2ff38024f8a4dd1000f9"
        "b210338377604d871b7df4e62f17b0e076372d0d4cd995fd4123fcf7710ee3fc258db5cd9a3f8364"
        "785c2259d139986716ace2acd2753730a18420986432e581da3e8bdcda1d52f3e73414f4e02657dd"
        "9e0276369ef1e299cc7cb848e8f4e6dfa5cbdee314ea1ee93478d6133895fe19a1b158ebdc4081f9"
        "e05ebbd62c71c8b181d4ce7def549b668730595e9375cf4b02bfabf0cc2a285e459e9d6354d7903c"
        "ded232c969016f1eff61cb8e774f2698ccc75c52657153b512bade975d7dc076b980b186459fa1ea"
        "09248ad6e924c50203010001";
static const char spki_p256[] =
        "3059301306072a8648ce3d020106082a8648ce3d0301070342000424a520f18f0099542e5271a093"
        "4c6466bf65e040c7409a3f72998e7c64c2b35b7aa1c7c66de4cd505a1212feaabeda22ac5c5049ca"
        "eac95fae0b2da439de5a76";

static const enum blindrsa_variant variants[N_VARIANTS] = {
	BLINDRSA_PSS_RANDOMIZED,
	BLINDRSA_PSSZERO_RANDOMIZED,
	BLINDRSA_PSS_DETERMINISTIC,
	BLINDRSA_PSSZERO_DETERMINISTIC,
};

/* Two fresh 2048-bit key pairs and a public copy of the first, for the whole group. */
static struct blindrsa_key *sk_a, *sk_b, *pk_a;

static int
setup(void **state)
{
	(void)state;
	if (um_crypto_init() != UM_OK ||
	    blindrsa_key_generate(BLINDRSA_DEFAULT_BITS, &sk_a) != UM_OK ||
	    blindrsa_key_generate(BLINDRSA_DEFAULT_BITS, &sk_b) != UM_OK ||
	    blindrsa_key_public(sk_a, &pk_a) != UM_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	blindrsa_key_free(sk_a);
	blindrsa_key_free(sk_b);
	blindrsa_key_free(pk_a);
	return 0;
}

static size_t
unhex(uint8_t *out, size_t cap, const char *s)
{
	ssize_t n = dec_hex(out, cap, s, strlen(s));

	assert_true(n > 0);
	return (size_t)n;
}

static enum blindrsa_variant
variant_of(const char *name)
{
	static const char *const names[N_VARIANTS] = {
		"RSABSSA-SHA384-PSS-Randomized",
		"RSABSSA-SHA384-PSSZERO-Randomized",
		"RSABSSA-SHA384-PSS-Deterministic",
		"RSABSSA-SHA384-PSSZERO-Deterministic",
	};

	for (size_t i = 0; i < N_VARIANTS; i++) {
		if (strcmp(name, names[i]) == 0)
			return variants[i];
	}
	fail_msg("unknown variant %s", name);
	return BLINDRSA_PSS_RANDOMIZED;
}

/* The variant with the other salt length (PSS <-> PSSZERO), same preparation. */
static enum blindrsa_variant
other_salt(enum blindrsa_variant v)
{
	switch (v) {
	case BLINDRSA_PSS_RANDOMIZED:
		return BLINDRSA_PSSZERO_RANDOMIZED;
	case BLINDRSA_PSSZERO_RANDOMIZED:
		return BLINDRSA_PSS_RANDOMIZED;
	case BLINDRSA_PSS_DETERMINISTIC:
		return BLINDRSA_PSSZERO_DETERMINISTIC;
	case BLINDRSA_PSSZERO_DETERMINISTIC:
		break;
	}
	return BLINDRSA_PSS_DETERMINISTIC;
}

/* A vector's fields, decoded. */
struct vec {
	enum blindrsa_variant v;
	uint8_t n[VEC_MAX], e[8], d[VEC_MAX], p[VEC_MAX], q[VEC_MAX];
	long n_len, e_len, d_len, p_len, q_len;
	uint8_t msg[VEC_MAX], prefix[VEC_MAX], input[VEC_MAX], salt[VEC_MAX], enc[VEC_MAX];
	long msg_len, prefix_len, input_len, salt_len, enc_len;
	uint8_t inv[VEC_MAX], blinded[VEC_MAX], blind_sig[VEC_MAX], sig[VEC_MAX];
	long inv_len, blinded_len, blind_sig_len, sig_len;
};

static void
vec_decode(const json_t *o, bool rfc_json, struct vec *t)
{
	const char *name = json_string_value(json_object_get(o, "name"));

	assert_non_null(name);
	t->v = variant_of(name);
	t->n_len = vec_hex(o, "n", t->n, sizeof(t->n));
	t->e_len = vec_hex(o, "e", t->e, sizeof(t->e));
	t->d_len = vec_hex(o, "d", t->d, sizeof(t->d));
	t->p_len = vec_hex(o, "p", t->p, sizeof(t->p));
	t->q_len = vec_hex(o, "q", t->q, sizeof(t->q));
	t->msg_len = vec_hex(o, "msg", t->msg, sizeof(t->msg));
	t->prefix_len = vec_hex(o, "msg_prefix", t->prefix, sizeof(t->prefix));
	t->input_len =
	        vec_hex(o, rfc_json ? "input_msg" : "prepared_msg", t->input, sizeof(t->input));
	t->salt_len = vec_hex(o, "salt", t->salt, sizeof(t->salt));
	t->enc_len = vec_hex(o, "encoded_msg", t->enc, sizeof(t->enc)); /* may be absent */
	t->inv_len = vec_hex(o, "inv", t->inv, sizeof(t->inv));
	t->blinded_len = vec_hex(o, "blinded_msg", t->blinded, sizeof(t->blinded));
	t->blind_sig_len = vec_hex(o, "blind_sig", t->blind_sig, sizeof(t->blind_sig));
	t->sig_len = vec_hex(o, "sig", t->sig, sizeof(t->sig));
	assert_int_equal(t->n_len, 512);
	assert_true(t->e_len > 0 && t->d_len > 0 && t->p_len > 0 && t->q_len > 0);
	assert_true(t->msg_len > 0 && t->prefix_len >= 0 && t->input_len > 0 && t->salt_len >= 0);
	assert_int_equal(t->inv_len, 512);
	assert_int_equal(t->blinded_len, 512);
	assert_int_equal(t->blind_sig_len, 512);
	assert_int_equal(t->sig_len, 512);
	if (rfc_json) {
		/* Only this file names the parameters: sLen 0x30 / 0x00, is_randomized 0x01 / 0x00.
		 */
		uint8_t b[4];

		assert_int_equal(vec_hex(o, "sLen", b, sizeof(b)), 1);
		assert_int_equal(b[0], blindrsa_variant_salt_len(t->v));
		assert_int_equal(vec_hex(o, "is_randomized", b, sizeof(b)), 1);
		assert_int_equal(b[0], blindrsa_variant_randomized(t->v) ? 1 : 0);
	}
}

/* Run one vector through every operation; return whether it carried encoded_msg. */
static bool
vec_run(const struct vec *t)
{
	struct blindrsa_key *sk = NULL, *pk = NULL;
	uint8_t buf[VEC_MAX], buf2[VEC_MAX], buf3[VEC_MAX], inv[VEC_MAX];
	size_t len, k_len;

	assert_int_equal(blindrsa_sk_from_numbers(t->n, (size_t)t->n_len, t->e, (size_t)t->e_len,
	                                          t->d, (size_t)t->d_len, t->p, (size_t)t->p_len,
	                                          t->q, (size_t)t->q_len, &sk),
	                 UM_OK);
	assert_int_equal(blindrsa_key_public(sk, &pk), UM_OK);
	k_len = blindrsa_key_len(pk);
	assert_int_equal(k_len, 512);
	assert_int_equal(blindrsa_key_bits(pk), 4096);

	/* Prepare: input_msg = msg_prefix | msg (32 random bytes) or msg. */
	assert_int_equal(t->salt_len, (long)blindrsa_variant_salt_len(t->v));
	assert_int_equal(t->prefix_len, blindrsa_variant_randomized(t->v) ? 32 : 0);
	assert_int_equal(t->input_len, t->prefix_len + t->msg_len);
	assert_memory_equal(t->input, t->prefix, (size_t)t->prefix_len);
	assert_memory_equal(t->input + t->prefix_len, t->msg, (size_t)t->msg_len);
	assert_int_equal(blindrsa_prepare(t->v, t->msg, (size_t)t->msg_len, buf, sizeof(buf), &len),
	                 UM_OK);
	assert_int_equal(len, (size_t)t->input_len);
	assert_memory_equal(buf + t->prefix_len, t->msg, (size_t)t->msg_len);

	/* EMSA-PSS-ENCODE with the vector's salt. */
	if (t->enc_len >= 0) {
		assert_int_equal(t->enc_len, 512);
		assert_int_equal(blindrsa_emsa_pss_encode(pk, t->input, (size_t)t->input_len,
		                                          t->salt, (size_t)t->salt_len, buf,
		                                          sizeof(buf)),
		                 UM_OK);
		assert_memory_equal(buf, t->enc, k_len);
	}

	/* Blind with the vector's salt and r = inv^-1 mod n. */
	assert_int_equal(blindrsa_blind_with(pk, t->v, t->input, (size_t)t->input_len, t->salt,
	                                     (size_t)t->salt_len, t->inv, (size_t)t->inv_len, buf,
	                                     inv, sizeof(buf)),
	                 UM_OK);
	assert_memory_equal(buf, t->blinded, k_len);
	assert_memory_equal(inv, t->inv, k_len);

	/* BlindSign (deterministic), Finalize, Verify. */
	assert_int_equal(blindrsa_blind_sign(sk, t->blinded, k_len, buf, sizeof(buf)), UM_OK);
	assert_memory_equal(buf, t->blind_sig, k_len);
	assert_int_equal(blindrsa_finalize(pk, t->v, t->input, (size_t)t->input_len, t->blind_sig,
	                                   k_len, t->inv, k_len, buf, sizeof(buf)),
	                 UM_OK);
	assert_memory_equal(buf, t->sig, k_len);
	assert_int_equal(blindrsa_verify(pk, t->v, t->input, (size_t)t->input_len, t->sig, k_len),
	                 UM_OK);
	/* The same signature under the other salt length, or over msg alone, is refused. */
	assert_int_equal(blindrsa_verify(pk, other_salt(t->v), t->input, (size_t)t->input_len,
	                                 t->sig, k_len),
	                 UM_ERR_AUTH);
	if (t->prefix_len > 0)
		assert_int_equal(
		        blindrsa_verify(pk, t->v, t->msg, (size_t)t->msg_len, t->sig, k_len),
		        UM_ERR_AUTH);

	/* The vector key with fresh randomness: a new signature that verifies. */
	assert_int_equal(
	        blindrsa_prepare(t->v, t->msg, (size_t)t->msg_len, buf2, sizeof(buf2), &len),
	        UM_OK);
	assert_int_equal(blindrsa_blind(pk, t->v, buf2, len, buf, inv, sizeof(buf)), UM_OK);
	assert_int_equal(blindrsa_blind_sign(sk, buf, k_len, buf3, sizeof(buf3)), UM_OK);
	assert_int_equal(
	        blindrsa_finalize(pk, t->v, buf2, len, buf3, k_len, inv, k_len, buf, sizeof(buf)),
	        UM_OK);
	assert_int_equal(blindrsa_verify(pk, t->v, buf2, len, buf, k_len), UM_OK);

	blindrsa_key_free(sk);
	blindrsa_key_free(pk);
	return t->enc_len >= 0;
}

/* Run every vector of an array; check the four variants appear once each. */
static void
run_file(const json_t *arr, bool rfc_json, size_t *with_encoded)
{
	static struct vec t;
	bool seen[N_VARIANTS] = { false };

	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), N_VARIANTS);
	*with_encoded = 0;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		memset(&t, 0, sizeof(t));
		vec_decode(json_array_get(arr, i), rfc_json, &t);
		assert_false(seen[t.v]);
		seen[t.v] = true;
		if (vec_run(&t))
			(*with_encoded)++;
	}
}

static void
test_blindrsa_rfc9474_json_vectors(void **state)
{
	json_t *j = vec_load("rsa-blind/rfc9474_test_vectors.json");
	size_t enc;

	(void)state;
	run_file(j, true, &enc);
	assert_int_equal(enc, 3); /* PSS-Randomized has no encoded_msg here */
	json_decref(j);
}

static void
test_blindrsa_draft_appendix_vectors(void **state)
{
	json_t *j = vec_load("rsa-blind/draft_appendix_test_vectors.json");
	size_t enc;

	(void)state;
	run_file(json_object_get(j, "vectors"), false, &enc);
	assert_int_equal(enc, 4);
	json_decref(j);
}

/*
 * The files agree on keys, messages, salts and signatures; they differ only in the
 * PSSZERO-Deterministic blinding factor (inv, blinded_msg, blind_sig), and both versions pass
 * above. The draft's encoded_msg for PSS-Randomized is the encoding of the JSON's input.
 */
static void
test_blindrsa_vector_files_agree(void **state)
{
	json_t *a = vec_load("rsa-blind/rfc9474_test_vectors.json");
	json_t *b = vec_load("rsa-blind/draft_appendix_test_vectors.json");
	const json_t *bv = json_object_get(b, "vectors");
	static struct vec x, y;
	size_t differ = 0;

	(void)state;
	for (size_t i = 0; i < N_VARIANTS; i++) {
		memset(&x, 0, sizeof(x));
		memset(&y, 0, sizeof(y));
		vec_decode(json_array_get(a, i), true, &x);
		vec_decode(json_array_get(bv, i), false, &y);
		assert_int_equal(x.v, y.v);
		assert_memory_equal(x.n, y.n, 512);
		assert_memory_equal(x.d, y.d, 512);
		assert_int_equal(x.input_len, y.input_len);
		assert_memory_equal(x.input, y.input, (size_t)x.input_len);
		assert_int_equal(x.salt_len, y.salt_len);
		assert_memory_equal(x.salt, y.salt, (size_t)x.salt_len);
		assert_memory_equal(x.sig, y.sig, 512);
		if (x.enc_len < 0) {
			assert_int_equal(x.v, BLINDRSA_PSS_RANDOMIZED);
			assert_int_equal(y.enc_len, 512);
		}
		if (memcmp(x.inv, y.inv, 512) != 0) {
			assert_int_equal(x.v, BLINDRSA_PSSZERO_DETERMINISTIC);
			assert_memory_not_equal(x.blinded, y.blinded, 512);
			differ++;
		} else {
			assert_memory_equal(x.blinded, y.blinded, 512);
			assert_memory_equal(x.blind_sig, y.blind_sig, 512);
		}
	}
	assert_int_equal(differ, 1);
	json_decref(a);
	json_decref(b);
}

/* One issuance with sk for input msg: blinded message, inverse, signature. */
static void
issue(const struct blindrsa_key *sk, const struct blindrsa_key *pk, enum blindrsa_variant v,
      const uint8_t *input, size_t len, uint8_t *sig)
{
	uint8_t blinded[BLINDRSA_MAX_LEN], inv[BLINDRSA_MAX_LEN], bsig[BLINDRSA_MAX_LEN];
	size_t k = blindrsa_key_len(pk);

	assert_int_equal(blindrsa_blind(pk, v, input, len, blinded, inv, sizeof(blinded)), UM_OK);
	assert_int_equal(blindrsa_blind_sign(sk, blinded, k, bsig, sizeof(bsig)), UM_OK);
	assert_int_equal(
	        blindrsa_finalize(pk, v, input, len, bsig, k, inv, k, sig, BLINDRSA_MAX_LEN),
	        UM_OK);
}

static void
test_blindrsa_round_trip_every_variant(void **state)
{
	static const uint8_t msg[] = "an umbra tier token, or any message";
	uint8_t in1[128], in2[128], s1[BLINDRSA_MAX_LEN], s2[BLINDRSA_MAX_LEN];
	size_t l1, l2, k = blindrsa_key_len(pk_a);

	(void)state;
	assert_int_equal(k, 256);
	assert_int_equal(blindrsa_key_bits(pk_a), 2048);
	assert_true(blindrsa_key_has_private(sk_a));
	assert_false(blindrsa_key_has_private(pk_a));
	for (size_t i = 0; i < N_VARIANTS; i++) {
		enum blindrsa_variant v = variants[i];
		uint8_t bad[BLINDRSA_MAX_LEN];

		assert_int_equal(blindrsa_prepare(v, msg, sizeof(msg), in1, sizeof(in1), &l1),
		                 UM_OK);
		assert_int_equal(blindrsa_prepare(v, msg, sizeof(msg), in2, sizeof(in2), &l2),
		                 UM_OK);
		assert_int_equal(l1, sizeof(msg) + (blindrsa_variant_randomized(v) ? 32 : 0));
		if (blindrsa_variant_randomized(v))
			assert_memory_not_equal(in1, in2, 32);
		issue(sk_a, pk_a, v, in1, l1, s1);
		issue(sk_a, sk_a, v, in2, l2, s2);
		assert_int_equal(blindrsa_verify(pk_a, v, in1, l1, s1, k), UM_OK);
		assert_int_equal(blindrsa_verify(sk_a, v, in2, l2, s2, k), UM_OK);
		/* Another key, another message, the other salt length. */
		assert_int_equal(blindrsa_verify(sk_b, v, in1, l1, s1, k), UM_ERR_AUTH);
		if (blindrsa_variant_randomized(v))
			assert_int_equal(blindrsa_verify(pk_a, v, in2, l2, s1, k), UM_ERR_AUTH);
		assert_int_equal(blindrsa_verify(pk_a, v, in1, l1 - 1, s1, k), UM_ERR_AUTH);
		assert_int_equal(blindrsa_verify(pk_a, other_salt(v), in1, l1, s1, k), UM_ERR_AUTH);
		/* Every bit of the first, middle and last bytes. */
		for (size_t b = 0; b < 5; b++) {
			const size_t at[5] = { 0, 1, k / 2, k - 2, k - 1 };

			for (int bit = 0; bit < 8; bit++) {
				memcpy(bad, s1, k);
				bad[at[b]] ^= (uint8_t)(1u << bit);
				assert_int_not_equal(blindrsa_verify(pk_a, v, in1, l1, bad, k),
				                     UM_OK);
			}
		}
		/* PSS signatures are randomized by the salt; PSSZERO deterministic ones are not. */
		if (v == BLINDRSA_PSSZERO_DETERMINISTIC) {
			issue(sk_a, pk_a, v, in1, l1, s2);
			assert_memory_equal(s1, s2, k);
		} else if (v == BLINDRSA_PSS_DETERMINISTIC) {
			issue(sk_a, pk_a, v, in1, l1, s2);
			assert_memory_not_equal(s1, s2, k);
		}
	}
}

static void
test_blindrsa_blinding_hides_the_message(void **state)
{
	static const uint8_t msg[] = "same message twice";
	uint8_t b1[BLINDRSA_MAX_LEN], b2[BLINDRSA_MAX_LEN], i1[BLINDRSA_MAX_LEN],
	        i2[BLINDRSA_MAX_LEN];
	size_t k = blindrsa_key_len(pk_a);

	(void)state;
	/* Even deterministic PSSZERO: r is fresh each time, so the issuer sees unrelated values. */
	assert_int_equal(blindrsa_blind(pk_a, BLINDRSA_PSSZERO_DETERMINISTIC, msg, sizeof(msg), b1,
	                                i1, sizeof(b1)),
	                 UM_OK);
	assert_int_equal(blindrsa_blind(pk_a, BLINDRSA_PSSZERO_DETERMINISTIC, msg, sizeof(msg), b2,
	                                i2, sizeof(b2)),
	                 UM_OK);
	assert_memory_not_equal(b1, b2, k);
	assert_memory_not_equal(i1, i2, k);
}

static void
test_blindrsa_finalize_refuses_bad_issuer(void **state)
{
	static const uint8_t msg[] = "finalize";
	const enum blindrsa_variant v = BLINDRSA_PSS_RANDOMIZED;
	uint8_t in[64], blinded[BLINDRSA_MAX_LEN], inv[BLINDRSA_MAX_LEN], bsig[BLINDRSA_MAX_LEN];
	uint8_t other[BLINDRSA_MAX_LEN], sig[BLINDRSA_MAX_LEN], ff[BLINDRSA_MAX_LEN];
	size_t len, k = blindrsa_key_len(pk_a);
	int ret;

	(void)state;
	assert_int_equal(blindrsa_prepare(v, msg, sizeof(msg), in, sizeof(in), &len), UM_OK);
	assert_int_equal(blindrsa_blind(pk_a, v, in, len, blinded, inv, sizeof(inv)), UM_OK);
	assert_int_equal(blindrsa_blind_sign(sk_a, blinded, k, bsig, sizeof(bsig)), UM_OK);
	/* Signed by another key (the issuer tags this client): refused. The top bit cleared so
	 * that the value is below the other modulus too. */
	memcpy(ff, blinded, k);
	ff[0] &= 0x7f;
	assert_int_equal(blindrsa_blind_sign(sk_b, ff, k, other, sizeof(other)), UM_OK);
	memset(sig, 0xaa, sizeof(sig));
	ret = blindrsa_finalize(pk_a, v, in, len, other, k, inv, k, sig, sizeof(sig));
	/* AUTH, or MALFORMED when that signature happens not to be below pk_a's modulus. */
	assert_true(ret == UM_ERR_AUTH || ret == UM_ERR_MALFORMED);
	for (size_t i = 0; i < k; i++)
		assert_int_equal(sig[i], 0);
	/* A tampered blind signature, a wrong inverse, another message. */
	memcpy(other, bsig, k);
	other[k / 2] ^= 1;
	assert_int_equal(blindrsa_finalize(pk_a, v, in, len, other, k, inv, k, sig, sizeof(sig)),
	                 UM_ERR_AUTH);
	memcpy(other, inv, k);
	other[k - 1] ^= 2;
	assert_int_equal(blindrsa_finalize(pk_a, v, in, len, bsig, k, other, k, sig, sizeof(sig)),
	                 UM_ERR_AUTH);
	assert_int_equal(blindrsa_finalize(pk_a, v, in, len - 1, bsig, k, inv, k, sig, sizeof(sig)),
	                 UM_ERR_AUTH);
	/* Untrusted lengths and ranges: not kLen bytes, not below n. */
	assert_int_equal(blindrsa_finalize(pk_a, v, in, len, bsig, k - 1, inv, k, sig, sizeof(sig)),
	                 UM_ERR_MALFORMED);
	assert_int_equal(blindrsa_finalize(pk_a, v, in, len, bsig, k + 1, inv, k, sig, sizeof(sig)),
	                 UM_ERR_MALFORMED);
	memset(ff, 0xff, sizeof(ff));
	assert_int_equal(blindrsa_finalize(pk_a, v, in, len, ff, k, inv, k, sig, sizeof(sig)),
	                 UM_ERR_MALFORMED);
	assert_int_equal(blindrsa_finalize(pk_a, v, in, len, bsig, k, inv, k - 1, sig, sizeof(sig)),
	                 UM_ERR_INVALID);
	assert_int_equal(blindrsa_finalize(pk_a, v, in, len, bsig, k, ff, k, sig, sizeof(sig)),
	                 UM_ERR_INVALID);
	assert_int_equal(blindrsa_finalize(pk_a, v, in, len, bsig, k, inv, k, sig, k - 1),
	                 UM_ERR_INVALID);
	/* And the honest one still works. */
	assert_int_equal(blindrsa_finalize(pk_a, v, in, len, bsig, k, inv, k, sig, sizeof(sig)),
	                 UM_OK);
	assert_int_equal(blindrsa_verify(pk_a, v, in, len, sig, k), UM_OK);
}

static void
test_blindrsa_blind_sign_checks_input(void **state)
{
	uint8_t m[BLINDRSA_MAX_LEN + 1], s[BLINDRSA_MAX_LEN];
	size_t k = blindrsa_key_len(sk_a);

	(void)state;
	memset(m, 0x01, sizeof(m));
	/* Exactly kLen bytes. */
	assert_int_equal(blindrsa_blind_sign(sk_a, m, k - 1, s, sizeof(s)), UM_ERR_MALFORMED);
	assert_int_equal(blindrsa_blind_sign(sk_a, m, k + 1, s, sizeof(s)), UM_ERR_MALFORMED);
	assert_int_equal(blindrsa_blind_sign(sk_a, m, 0, s, sizeof(s)), UM_ERR_MALFORMED);
	assert_int_equal(blindrsa_blind_sign(sk_a, NULL, k, s, sizeof(s)), UM_ERR_MALFORMED);
	/* Below n: all-ones is not. */
	memset(m, 0xff, sizeof(m));
	assert_int_equal(blindrsa_blind_sign(sk_a, m, k, s, sizeof(s)), UM_ERR_MALFORMED);
	for (size_t i = 0; i < k; i++)
		assert_int_equal(s[i], 0);
	/* Local misuse: a public key cannot sign; the output must hold kLen bytes. */
	memset(m, 0x01, sizeof(m));
	assert_int_equal(blindrsa_blind_sign(pk_a, m, k, s, sizeof(s)), UM_ERR_INVALID);
	assert_int_equal(blindrsa_blind_sign(sk_a, m, k, s, k - 1), UM_ERR_INVALID);
	assert_int_equal(blindrsa_blind_sign(sk_a, m, k, s, sizeof(s)), UM_OK);
}

static void
test_blindrsa_verify_checks_input(void **state)
{
	static const uint8_t msg[] = "x";
	uint8_t sig[BLINDRSA_MAX_LEN + 1];
	size_t k = blindrsa_key_len(pk_a);

	(void)state;
	memset(sig, 0, sizeof(sig));
	assert_int_equal(blindrsa_verify(pk_a, BLINDRSA_PSS_RANDOMIZED, msg, 1, sig, k),
	                 UM_ERR_AUTH);
	assert_int_equal(blindrsa_verify(pk_a, BLINDRSA_PSS_RANDOMIZED, msg, 1, sig, k - 1),
	                 UM_ERR_MALFORMED);
	assert_int_equal(blindrsa_verify(pk_a, BLINDRSA_PSS_RANDOMIZED, msg, 1, sig, k + 1),
	                 UM_ERR_MALFORMED);
	assert_int_equal(blindrsa_verify(pk_a, BLINDRSA_PSS_RANDOMIZED, msg, 1, NULL, k),
	                 UM_ERR_MALFORMED);
	memset(sig, 0xff, sizeof(sig));
	assert_int_equal(blindrsa_verify(pk_a, BLINDRSA_PSS_RANDOMIZED, msg, 1, sig, k),
	                 UM_ERR_AUTH);
	sig[0] = 1;
	assert_int_equal(blindrsa_verify(pk_a, BLINDRSA_PSS_RANDOMIZED, msg, 1, sig, k),
	                 UM_ERR_AUTH);
	assert_int_equal(blindrsa_verify(pk_a, (enum blindrsa_variant)7, msg, 1, sig, k),
	                 UM_ERR_INVALID);
}

static void
test_blindrsa_prepare(void **state)
{
	static const uint8_t msg[] = "prepare me";
	uint8_t out[64];
	size_t len;

	(void)state;
	assert_int_equal(blindrsa_prepare(BLINDRSA_PSS_DETERMINISTIC, msg, sizeof(msg), out,
	                                  sizeof(msg), &len),
	                 UM_OK);
	assert_int_equal(len, sizeof(msg));
	assert_memory_equal(out, msg, sizeof(msg));
	assert_int_equal(blindrsa_prepare(BLINDRSA_PSS_RANDOMIZED, msg, sizeof(msg), out,
	                                  sizeof(msg) + 31, &len),
	                 UM_ERR_INVALID);
	assert_int_equal(len, 0);
	assert_int_equal(blindrsa_prepare(BLINDRSA_PSS_RANDOMIZED, msg, sizeof(msg), out,
	                                  sizeof(msg) + 32, &len),
	                 UM_OK);
	assert_int_equal(len, sizeof(msg) + 32);
	assert_memory_equal(out + 32, msg, sizeof(msg));
	assert_int_equal(blindrsa_prepare(BLINDRSA_PSSZERO_RANDOMIZED, NULL, 0, out, 32, &len),
	                 UM_OK);
	assert_int_equal(len, 32);
	assert_int_equal(blindrsa_prepare((enum blindrsa_variant)4, msg, 1, out, sizeof(out), &len),
	                 UM_ERR_INVALID);
}

static void
test_blindrsa_key_generate_bounds(void **state)
{
	struct blindrsa_key *k = (struct blindrsa_key *)1;

	(void)state;
	assert_int_equal(blindrsa_key_generate(1024, &k), UM_ERR_INVALID);
	assert_null(k);
	assert_int_equal(blindrsa_key_generate(BLINDRSA_MAX_BITS + 8, &k), UM_ERR_INVALID);
	assert_null(k);
}

static void
test_blindrsa_public_key_export_import(void **state)
{
	static const uint8_t msg[] = "export";
	uint8_t der[BLINDRSA_SPKI_MAX + 2], der2[BLINDRSA_SPKI_MAX], in[64], sig[BLINDRSA_MAX_LEN];
	uint8_t id1[BLINDRSA_KEY_ID_LEN], id2[BLINDRSA_KEY_ID_LEN];
	struct blindrsa_key *pk;
	size_t len, len2, ilen;

	(void)state;
	assert_int_equal(blindrsa_pk_export(sk_a, der, sizeof(der), &len), UM_OK);
	assert_int_equal(len, 294); /* 2048-bit, e = 65537 */
	assert_int_equal(blindrsa_pk_export(pk_a, der2, sizeof(der2), &len2), UM_OK);
	assert_int_equal(len2, len);
	assert_memory_equal(der, der2, len);
	assert_int_equal(blindrsa_pk_export(pk_a, der2, len - 1, &len2), UM_ERR_TOO_LARGE);

	assert_int_equal(blindrsa_pk_import(der, len, &pk), UM_OK);
	blindrsa_key_id(pk, id1);
	blindrsa_key_id(sk_a, id2);
	assert_memory_equal(id1, id2, sizeof(id1));
	blindrsa_key_id(sk_b, id2);
	assert_memory_not_equal(id1, id2, sizeof(id1));
	assert_int_equal(blindrsa_key_len(pk), 256);
	assert_false(blindrsa_key_has_private(pk));
	assert_int_equal(
	        blindrsa_prepare(BLINDRSA_PSS_RANDOMIZED, msg, sizeof(msg), in, sizeof(in), &ilen),
	        UM_OK);
	issue(sk_a, pk, BLINDRSA_PSS_RANDOMIZED, in, ilen, sig);
	assert_int_equal(blindrsa_verify(pk, BLINDRSA_PSS_RANDOMIZED, in, ilen, sig, 256), UM_OK);
	assert_int_equal(blindrsa_sk_export(pk, der2, sizeof(der2), &len2), UM_ERR_INVALID);
	blindrsa_key_free(pk);
	assert_null(pk);

	/* Every strict prefix, trailing bytes, an empty or oversized input: refused. */
	for (size_t i = 0; i < len; i++) {
		assert_int_equal(blindrsa_pk_import(der, i, &pk), UM_ERR_MALFORMED);
		assert_null(pk);
	}
	der[len] = 0;
	assert_int_equal(blindrsa_pk_import(der, len + 1, &pk), UM_ERR_MALFORMED);
	assert_int_equal(blindrsa_pk_import(der, BLINDRSA_SPKI_MAX + 1, &pk), UM_ERR_TOO_LARGE);
	/* Non-canonical DER: the outer length in three bytes instead of two. */
	assert_int_equal(der[0], 0x30);
	assert_int_equal(der[1], 0x82);
	memcpy(der2, "\x30\x83\x00", 3);
	memcpy(der2 + 3, der + 2, len - 2);
	assert_int_equal(blindrsa_pk_import(der2, len + 1, &pk), UM_ERR_MALFORMED);
}

static void
test_blindrsa_public_key_refusals(void **state)
{
	static const char *const bad[] = { spki_1024, spki_e3, spki_rsa_pss, spki_p256 };
	uint8_t der[BLINDRSA_SPKI_MAX];
	struct blindrsa_key *pk;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = unhex(der, sizeof(der), bad[i]);

		assert_int_equal(blindrsa_pk_import(der, len, &pk), UM_ERR_MALFORMED);
		assert_null(pk);
	}
}

static void
test_blindrsa_private_key_export_import(void **state)
{
	uint8_t der[BLINDRSA_PKCS8_MAX + 1], m[BLINDRSA_MAX_LEN], s1[BLINDRSA_MAX_LEN];
	uint8_t s2[BLINDRSA_MAX_LEN], id1[BLINDRSA_KEY_ID_LEN], id2[BLINDRSA_KEY_ID_LEN];
	uint8_t spki[BLINDRSA_SPKI_MAX];
	struct blindrsa_key *sk;
	size_t len, slen;

	(void)state;
	assert_int_equal(blindrsa_sk_export(sk_a, der, 100, &len), UM_ERR_TOO_LARGE);
	assert_int_equal(len, 0);
	assert_int_equal(blindrsa_sk_export(sk_a, der, sizeof(der), &len), UM_OK);
	assert_true(len > 1000 && len < 1300);
	assert_int_equal(blindrsa_sk_import(der, len, &sk), UM_OK);
	assert_true(blindrsa_key_has_private(sk));
	blindrsa_key_id(sk, id1);
	blindrsa_key_id(sk_a, id2);
	assert_memory_equal(id1, id2, sizeof(id1));
	/* RSA signing is deterministic: the same blind signature from both copies. */
	memset(m, 0x5a, sizeof(m));
	m[0] = 0x01;
	assert_int_equal(blindrsa_blind_sign(sk_a, m, 256, s1, sizeof(s1)), UM_OK);
	assert_int_equal(blindrsa_blind_sign(sk, m, 256, s2, sizeof(s2)), UM_OK);
	assert_memory_equal(s1, s2, 256);
	blindrsa_key_free(sk);

	/* Truncated, trailing, oversized, a public key: refused. */
	for (size_t i = 0; i < len; i += (i < 40 || i > len - 40) ? 1 : 97) {
		assert_int_equal(blindrsa_sk_import(der, i, &sk), UM_ERR_MALFORMED);
		assert_null(sk);
	}
	der[len] = 0;
	assert_int_equal(blindrsa_sk_import(der, len + 1, &sk), UM_ERR_MALFORMED);
	assert_int_equal(blindrsa_sk_import(der, BLINDRSA_PKCS8_MAX + 1, &sk), UM_ERR_TOO_LARGE);
	assert_int_equal(blindrsa_pk_export(sk_a, spki, sizeof(spki), &slen), UM_OK);
	assert_int_equal(blindrsa_sk_import(spki, slen, &sk), UM_ERR_MALFORMED);
	assert_int_equal(blindrsa_pk_import(der, len, &sk), UM_ERR_TOO_LARGE);
	assert_null(sk);
	memset(der, 0, sizeof(der)); /* the caller wipes exported secrets */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blindrsa_rfc9474_json_vectors),
		cmocka_unit_test(test_blindrsa_draft_appendix_vectors),
		cmocka_unit_test(test_blindrsa_vector_files_agree),
		cmocka_unit_test(test_blindrsa_round_trip_every_variant),
		cmocka_unit_test(test_blindrsa_blinding_hides_the_message),
		cmocka_unit_test(test_blindrsa_finalize_refuses_bad_issuer),
		cmocka_unit_test(test_blindrsa_blind_sign_checks_input),
		cmocka_unit_test(test_blindrsa_verify_checks_input),
		cmocka_unit_test(test_blindrsa_prepare),
		cmocka_unit_test(test_blindrsa_key_generate_bounds),
		cmocka_unit_test(test_blindrsa_public_key_export_import),
		cmocka_unit_test(test_blindrsa_public_key_refusals),
		cmocka_unit_test(test_blindrsa_private_key_export_import),
	};

	return cmocka_run_group_tests_name("blindrsa", tests, setup, teardown);
}
