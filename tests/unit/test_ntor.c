/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/crypto/ntor (Tor ntor v1) and kdf_hkdf_sha256: every vector in
 * shared/vectors/ntor/ntor_v1.json (the arti/Tor handshake: exact onionskin, reply and key
 * material from fixed keys; the ntor HKDF vectors) plus RFC 5869 test case 1; then the
 * refusals: another relay's NODEID, an unknown KEYID, a tampered reply (every bit of AUTH and
 * of Y), low-order X and Y; the previous onion key still accepted; random keys agree on both
 * ends for any key length; client state wiped on finish and abort; random and all-zero
 * onionskins answered safely.
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
#include "crypto/keys.h"
#include "crypto/ntor.h"
#include "helpers/vectors.h"

enum { KM_LEN = 184, N_RANDOM = 200 };

static const char t_key[] = "ntor-curve25519-sha256-1:key_extract";
static const char m_expand[] = "ntor-curve25519-sha256-1:key_expand";

static void
hex(uint8_t *out, size_t len, const char *s)
{
	assert_int_equal(dec_hex(out, len, s, strlen(s)), (ssize_t)len);
}

static int
is_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

static void
test_ntor_json_constants_match(void **state)
{
	json_t *j = vec_load("ntor/ntor_v1.json");
	const json_t *c = json_object_get(j, "constants_ascii");

	(void)state;
	assert_string_equal(json_string_value(json_object_get(c, "t_key")), t_key);
	assert_string_equal(json_string_value(json_object_get(c, "m_expand")), m_expand);
	json_decref(j);
}

static void
test_ntor_hkdf_vectors(void **state)
{
	json_t *j = vec_load("ntor/ntor_v1.json");
	const json_t *vs = json_object_get(j, "hkdf_ntor1_vectors");
	uint8_t ikm[256], want[256], got[256];
	size_t ran = 0;

	(void)state;
	assert_true(json_is_array(vs));
	for (size_t i = 0; i < json_array_size(vs); i++) {
		const json_t *v = json_array_get(vs, i);
		long il = vec_hex(v, "ikm_hex", ikm, sizeof(ikm));
		long ol = vec_hex(v, "okm", want, sizeof(want));

		assert_true(il > 0);
		assert_int_equal(ol, json_integer_value(json_object_get(v, "length")));
		assert_int_equal(kdf_hkdf_sha256(got, (size_t)ol, (const uint8_t *)t_key,
		                                 strlen(t_key), ikm, (size_t)il,
		                                 (const uint8_t *)m_expand, strlen(m_expand)),
		                 UM_OK);
		assert_memory_equal(got, want, (size_t)ol);
		/* Any shorter length is a prefix. */
		memset(got, 0, sizeof(got));
		assert_int_equal(kdf_hkdf_sha256(got, 33, (const uint8_t *)t_key, strlen(t_key),
		                                 ikm, (size_t)il, (const uint8_t *)m_expand,
		                                 strlen(m_expand)),
		                 UM_OK);
		assert_memory_equal(got, want, 33);
		assert_true(is_zero(got + 33, sizeof(got) - 33));
		ran++;
	}
	assert_int_equal(ran, 2);
	json_decref(j);
}

static void
test_hkdf_rfc5869_case1_and_limits(void **state)
{
	uint8_t ikm[22], salt[13], info[10], want[42], out[HKDF_SHA256_MAX_OUT + 1];

	(void)state;
	memset(ikm, 0x0b, sizeof(ikm));
	hex(salt, sizeof(salt), "000102030405060708090a0b0c");
	hex(info, sizeof(info), "f0f1f2f3f4f5f6f7f8f9");
	hex(want, sizeof(want),
	    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
	assert_int_equal(kdf_hkdf_sha256(out, sizeof(want), salt, sizeof(salt), ikm, sizeof(ikm),
	                                 info, sizeof(info)),
	                 UM_OK);
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(kdf_hkdf_sha256(out, HKDF_SHA256_MAX_OUT, salt, sizeof(salt), ikm,
	                                 sizeof(ikm), info, sizeof(info)),
	                 UM_OK);
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(kdf_hkdf_sha256(out, HKDF_SHA256_MAX_OUT + 1, salt, sizeof(salt), ikm,
	                                 sizeof(ikm), info, sizeof(info)),
	                 UM_ERR_INVALID);
	assert_int_equal(
	        kdf_hkdf_sha256(out, 0, salt, sizeof(salt), ikm, sizeof(ikm), info, sizeof(info)),
	        UM_ERR_INVALID);
}

struct tv {
	uint8_t id[20], b[32], B[32], x[32], X[32], y[32], Y[32];
	uint8_t onionskin[84], reply[64], km72[72];
};

static void
tv_load(struct tv *t)
{
	json_t *j = vec_load("ntor/ntor_v1.json");
	const json_t *v = json_object_get(j, "testvec");

	assert_int_equal(vec_hex(v, "relay_identity_ID", t->id, 20), 20);
	assert_int_equal(vec_hex(v, "relay_ntor_secret_b", t->b, 32), 32);
	assert_int_equal(vec_hex(v, "relay_ntor_public_B", t->B, 32), 32);
	assert_int_equal(vec_hex(v, "client_ephemeral_secret_x", t->x, 32), 32);
	assert_int_equal(vec_hex(v, "client_ephemeral_public_X", t->X, 32), 32);
	assert_int_equal(vec_hex(v, "server_ephemeral_secret_y", t->y, 32), 32);
	assert_int_equal(vec_hex(v, "server_ephemeral_public_Y", t->Y, 32), 32);
	assert_int_equal(vec_hex(v, "client_handshake", t->onionskin, 84), 84);
	assert_int_equal(vec_hex(v, "server_handshake", t->reply, 64), 64);
	assert_int_equal(vec_hex(v, "key_material_72", t->km72, 72), 72);
	json_decref(j);
}

static void
test_ntor_handshake_vector(void **state)
{
	/* 184 bytes (relay crypto v1 key material) from the same inputs: the vector's 72, then
	 * the same HKDF stream continued (computed independently with Python's cryptography). */
	static const char km184_hex[] =
	        "0c62dee7f48893370d0ef896758d35729867beef1a5121df80e00f79ed349af3"
	        "9b51cae125719182f19d932a667dae1afbf2e336e6910e7822223e763afad0a1"
	        "3342157969dc6b79fb61d4d486879f7f146524223adcc270922fff67bd031c0d"
	        "4fe9d721d16d60a79f6a6269c7979d9d139253d453813d586e8b8ec8068c2e17"
	        "31dc8091fd681379c58251da437494453b3688892cc61bc6b749afd60980e326"
	        "bae4d89479ae1f4c61d1692f2dbd34c5171abaa75d4352fa";
	struct tv t;
	struct keys_x25519 onion;
	struct ntor_client_state cs;
	uint8_t skin[84], reply[64], kc[KM_LEN], ks[KM_LEN], km184[KM_LEN];

	(void)state;
	hex(km184, sizeof(km184), km184_hex);
	tv_load(&t);
	keys_x25519_from_secret(&onion, t.b);
	assert_memory_equal(onion.pk, t.B, 32);

	ntor_client_start_with(&cs, t.id, t.B, t.x, skin);
	assert_memory_equal(skin, t.onionskin, 84);
	assert_int_equal(ntor_server_handle_with(&onion, 1, t.id, skin, t.y, reply, ks, 72), UM_OK);
	assert_memory_equal(reply, t.reply, 64);
	assert_memory_equal(ks, t.km72, 72);
	assert_int_equal(ntor_client_finish(&cs, reply, kc, 72), UM_OK);
	assert_memory_equal(kc, t.km72, 72);

	/* 184 bytes (relay crypto v1) start with the same 72. */
	ntor_client_start_with(&cs, t.id, t.B, t.x, skin);
	assert_int_equal(ntor_server_handle_with(&onion, 1, t.id, skin, t.y, reply, ks, KM_LEN),
	                 UM_OK);
	assert_int_equal(ntor_client_finish(&cs, reply, kc, KM_LEN), UM_OK);
	assert_memory_equal(kc, km184, KM_LEN);
	assert_memory_equal(ks, km184, KM_LEN);
	assert_memory_equal(kc, t.km72, 72);
	keys_x25519_clear(&onion);
}

/* A relay with a current and a previous onion key, and an Ed25519 identity. */
struct relay {
	struct keys_ed25519 id;
	uint8_t node_id[NTOR_NODE_ID_LEN];
	struct keys_x25519 onion[2]; /* [0] current, [1] previous */
};

static void
relay_init(struct relay *r)
{
	keys_ed25519_generate(&r->id);
	ntor_node_id(r->node_id, r->id.pk);
	keys_x25519_generate(&r->onion[0]);
	keys_x25519_generate(&r->onion[1]);
}

static void
relay_clear(struct relay *r)
{
	keys_ed25519_clear(&r->id);
	keys_x25519_clear(&r->onion[0]);
	keys_x25519_clear(&r->onion[1]);
}

static void
test_ntor_node_id_is_ed25519_prefix(void **state)
{
	struct relay r;

	(void)state;
	relay_init(&r);
	assert_memory_equal(r.node_id, r.id.pk, NTOR_NODE_ID_LEN);
	relay_clear(&r);
}

static void
test_ntor_random_keys_agree(void **state)
{
	struct relay r;
	struct ntor_client_state cs;
	uint8_t skin[84], reply[64], kc[KM_LEN], ks[KM_LEN], prev[KM_LEN] = { 0 };

	(void)state;
	relay_init(&r);
	for (unsigned i = 0; i < N_RANDOM; i++) {
		size_t len = 1 + i % KM_LEN;
		size_t which = i % 2;

		ntor_client_start(&cs, r.node_id, r.onion[which].pk, skin);
		assert_memory_equal(skin, r.node_id, 20);
		assert_memory_equal(skin + 20, r.onion[which].pk, 32);
		assert_int_equal(ntor_server_handle(r.onion, 2, r.node_id, skin, reply, ks, len),
		                 UM_OK);
		assert_int_equal(ntor_client_finish(&cs, reply, kc, len), UM_OK);
		assert_memory_equal(kc, ks, len);
		/* Fresh ephemerals every time: never the same keys twice (checked where a
		 * chance match is negligible: 16 bytes or more, against the previous output). */
		if (len >= 16 && i > 0 && (i - 1) % KM_LEN + 1 >= 16)
			assert_memory_not_equal(kc, prev, 16);
		memcpy(prev, kc, len);
	}
	relay_clear(&r);
}

static void
test_ntor_previous_key_accepted_unknown_refused(void **state)
{
	struct relay r;
	struct keys_x25519 other;
	struct ntor_client_state cs;
	uint8_t skin[84], reply[64], kc[KM_LEN], ks[KM_LEN];

	(void)state;
	relay_init(&r);
	keys_x25519_generate(&other);
	/* Previous key, listed second. */
	ntor_client_start(&cs, r.node_id, r.onion[1].pk, skin);
	assert_int_equal(ntor_server_handle(r.onion, 2, r.node_id, skin, reply, ks, KM_LEN), UM_OK);
	assert_int_equal(ntor_client_finish(&cs, reply, kc, KM_LEN), UM_OK);
	assert_memory_equal(kc, ks, KM_LEN);
	/* Once the previous key's grace period is over (only [0] offered), it is refused. */
	ntor_client_start(&cs, r.node_id, r.onion[1].pk, skin);
	memset(reply, 0xee, sizeof(reply));
	memset(ks, 0xee, sizeof(ks));
	assert_int_equal(ntor_server_handle(r.onion, 1, r.node_id, skin, reply, ks, KM_LEN),
	                 UM_ERR_NOT_FOUND);
	assert_true(is_zero(reply, sizeof(reply)));
	assert_true(is_zero(ks, sizeof(ks)));
	ntor_client_abort(&cs);
	/* A key that was never ours. */
	ntor_client_start(&cs, r.node_id, other.pk, skin);
	assert_int_equal(ntor_server_handle(r.onion, 2, r.node_id, skin, reply, ks, KM_LEN),
	                 UM_ERR_NOT_FOUND);
	ntor_client_abort(&cs);
	/* Right key, another relay's NODEID. */
	ntor_client_start(&cs, r.node_id, r.onion[0].pk, skin);
	skin[3] ^= 1;
	assert_int_equal(ntor_server_handle(r.onion, 2, r.node_id, skin, reply, ks, KM_LEN),
	                 UM_ERR_PROTOCOL);
	ntor_client_abort(&cs);
	/* Bad arguments. */
	assert_int_equal(ntor_server_handle(r.onion, 0, r.node_id, skin, reply, ks, KM_LEN),
	                 UM_ERR_INVALID);
	assert_int_equal(ntor_server_handle(r.onion, NTOR_MAX_ONION_KEYS + 1, r.node_id, skin,
	                                    reply, ks, KM_LEN),
	                 UM_ERR_INVALID);
	assert_int_equal(ntor_server_handle(r.onion, 2, r.node_id, skin, reply, ks, 0),
	                 UM_ERR_INVALID);
	keys_x25519_clear(&other);
	relay_clear(&r);
}

static void
test_ntor_tampered_reply_refused(void **state)
{
	struct relay r;
	struct ntor_client_state cs, empty;
	uint8_t skin[84], reply[64], bad[64], kc[KM_LEN], ks[KM_LEN];

	(void)state;
	relay_init(&r);
	memset(&empty, 0, sizeof(empty));
	for (size_t bit = 0; bit < 64 * 8; bit++) {
		int ret;

		ntor_client_start(&cs, r.node_id, r.onion[0].pk, skin);
		assert_int_equal(ntor_server_handle(r.onion, 2, r.node_id, skin, reply, ks, 32),
		                 UM_OK);
		memcpy(bad, reply, sizeof(bad));
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memset(kc, 0xee, sizeof(kc));
		ret = ntor_client_finish(&cs, bad, kc, 32);
		/* A flipped bit of Y can land on a low-order point only with negligible odds;
		 * either way the handshake fails and nothing is keyed. */
		assert_true(ret == UM_ERR_AUTH || ret == UM_ERR_CRYPTO);
		if (bit >= 256)
			assert_int_equal(ret, UM_ERR_AUTH);
		assert_true(is_zero(kc, 32));
		assert_memory_equal(&cs, &empty, sizeof(cs)); /* wiped */
		/* The state is spent: the genuine reply no longer completes it. */
		assert_int_equal(ntor_client_finish(&cs, reply, kc, 32), UM_ERR_STATE);
	}
	relay_clear(&r);
}

static void
test_ntor_low_order_points_refused(void **state)
{
	/* Curve25519 points of small order (0, 1 and the order-8 point of RFC 7748 / libsodium's
	 * blocklist): X25519 with any scalar gives all zeros. */
	static const char *low_order[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	};
	struct relay r;
	struct ntor_client_state cs, empty;
	uint8_t skin[84], reply[64], kc[KM_LEN], ks[KM_LEN], pt[32];

	(void)state;
	relay_init(&r);
	memset(&empty, 0, sizeof(empty));
	for (size_t i = 0; i < UM_ARRAY_LEN(low_order); i++) {
		hex(pt, sizeof(pt), low_order[i]);
		/* Server: a client sending a low-order X. */
		ntor_client_start(&cs, r.node_id, r.onion[0].pk, skin);
		memcpy(skin + 52, pt, 32);
		memset(ks, 0xee, sizeof(ks));
		assert_int_equal(ntor_server_handle(r.onion, 2, r.node_id, skin, reply, ks, KM_LEN),
		                 UM_ERR_CRYPTO);
		assert_true(is_zero(ks, sizeof(ks)));
		assert_true(is_zero(reply, sizeof(reply)));
		ntor_client_abort(&cs);
		assert_memory_equal(&cs, &empty, sizeof(cs));
		/* Client: a relay answering with a low-order Y. */
		ntor_client_start(&cs, r.node_id, r.onion[0].pk, skin);
		assert_int_equal(ntor_server_handle(r.onion, 2, r.node_id, skin, reply, ks, KM_LEN),
		                 UM_OK);
		memcpy(reply, pt, 32);
		memset(kc, 0xee, sizeof(kc));
		assert_int_equal(ntor_client_finish(&cs, reply, kc, KM_LEN), UM_ERR_CRYPTO);
		assert_true(is_zero(kc, sizeof(kc)));
		assert_memory_equal(&cs, &empty, sizeof(cs));
	}
	relay_clear(&r);
}

static void
test_ntor_client_state_wiped(void **state)
{
	struct relay r;
	struct ntor_client_state cs, empty;
	uint8_t skin[84], reply[64], kc[KM_LEN], ks[KM_LEN];

	(void)state;
	relay_init(&r);
	memset(&empty, 0, sizeof(empty));
	ntor_client_start(&cs, r.node_id, r.onion[0].pk, skin);
	assert_true(cs.active);
	assert_false(is_zero(cs.x, sizeof(cs.x)));
	assert_int_equal(ntor_server_handle(r.onion, 2, r.node_id, skin, reply, ks, KM_LEN), UM_OK);
	assert_int_equal(ntor_client_finish(&cs, reply, kc, KM_LEN), UM_OK);
	assert_memory_equal(&cs, &empty, sizeof(cs));
	assert_int_equal(ntor_client_finish(&cs, reply, kc, KM_LEN), UM_ERR_STATE);
	assert_true(is_zero(kc, sizeof(kc)));
	/* Abort wipes too, and a bad key length both refuses and wipes. */
	ntor_client_start(&cs, r.node_id, r.onion[0].pk, skin);
	ntor_client_abort(&cs);
	assert_memory_equal(&cs, &empty, sizeof(cs));
	ntor_client_start(&cs, r.node_id, r.onion[0].pk, skin);
	assert_int_equal(ntor_client_finish(&cs, reply, kc, NTOR_KEY_MATERIAL_MAX + 1),
	                 UM_ERR_INVALID);
	assert_memory_equal(&cs, &empty, sizeof(cs));
	relay_clear(&r);
}

static void
test_ntor_server_any_onionskin_is_safe(void **state)
{
	struct relay r;
	uint8_t skin[84], reply[64], ks[KM_LEN];
	int ret;

	(void)state;
	relay_init(&r);
	/* All zeros: NODEID not ours. With our NODEID and KEYID but X = 0: low order. */
	memset(skin, 0, sizeof(skin));
	assert_int_equal(ntor_server_handle(r.onion, 2, r.node_id, skin, reply, ks, KM_LEN),
	                 UM_ERR_PROTOCOL);
	memcpy(skin, r.node_id, 20);
	assert_int_equal(ntor_server_handle(r.onion, 2, r.node_id, skin, reply, ks, KM_LEN),
	                 UM_ERR_NOT_FOUND);
	memcpy(skin + 20, r.onion[0].pk, 32);
	assert_int_equal(ntor_server_handle(r.onion, 2, r.node_id, skin, reply, ks, KM_LEN),
	                 UM_ERR_CRYPTO);
	for (unsigned i = 0; i < N_RANDOM; i++) {
		rand_bytes(skin, sizeof(skin));
		assert_int_equal(ntor_server_handle(r.onion, 2, r.node_id, skin, reply, ks, KM_LEN),
		                 UM_ERR_PROTOCOL);
		/* Our NODEID and KEYID with a random X: answered (X25519 takes any 32 bytes). */
		memcpy(skin, r.node_id, 20);
		memcpy(skin + 20, r.onion[i % 2].pk, 32);
		ret = ntor_server_handle(r.onion, 2, r.node_id, skin, reply, ks, KM_LEN);
		assert_true(ret == UM_OK || ret == UM_ERR_CRYPTO);
	}
	relay_clear(&r);
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
		cmocka_unit_test(test_ntor_json_constants_match),
		cmocka_unit_test(test_ntor_hkdf_vectors),
		cmocka_unit_test(test_hkdf_rfc5869_case1_and_limits),
		cmocka_unit_test(test_ntor_handshake_vector),
		cmocka_unit_test(test_ntor_node_id_is_ed25519_prefix),
		cmocka_unit_test(test_ntor_random_keys_agree),
		cmocka_unit_test(test_ntor_previous_key_accepted_unknown_refused),
		cmocka_unit_test(test_ntor_tampered_reply_refused),
		cmocka_unit_test(test_ntor_low_order_points_refused),
		cmocka_unit_test(test_ntor_client_state_wiped),
		cmocka_unit_test(test_ntor_server_any_onionskin_is_safe),
	};

	return cmocka_run_group_tests_name("ntor", tests, setup, NULL);
}
