/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/circuit/relay_crypto (relay crypto v1): frozen known-answer vectors from
 * an independent implementation (a Python script over hashlib.blake2b and the cryptography
 * package's ChaCha20; the script is not kept) for one hop both ways, three hops both ways and
 * a cell index above 2^56; a three-hop circuit carrying thousands of cells each way to and
 * from random hops (recognized exactly at the right hop, leaky pipe); a flipped bit anywhere
 * leaves the cell unrecognized at its endpoint; a cell that is not ours leaves the running
 * digest alone even when its Recognized field reads 0; replays and reordering are unrecognized;
 * digests differ between cell indexes; counter exhaustion is refused without changing state;
 * keys from a real ntor handshake work end to end.
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
#include "crypto/keys.h"
#include "crypto/ntor.h"
#include "circuit/relay_crypto.h"

enum { N_HOPS = 3, N_CELLS = 3000, KM = RELAY_CRYPTO_KM_LEN, BODY = RELAY_BODY_LEN };

/* Vectors. Key material: A = bytes 0, 1, ..., 183; hop h of B (h = 1..3) = (17 h + j) mod 256
 * for j = 0..183. Bodies (509 bytes, zero unless said): b1 = Cmd 2, StreamID 1, Length 5,
 * "hello"; b2 = Cmd 2, StreamID 1, Length 6, "world!"; b3 = Cmd 4, StreamID 1, Length 0.
 *   kat_a_fwd0, kat_a_fwd1: client -> hop 1 (A), b1 then b2 (cells 0 and 1)
 *   kat_a_bwd0:             hop 1 (A) -> client, b3 (cell 0)
 *   kat_b_fwd_to3:          client -> hop 3 of B, b1
 *   kat_b_bwd_from2:        hop 2 of B -> client through hop 1, b3
 *   kat_c_fwd_high:         client -> hop 1 (A), b1 as forward cell 0x0102030405060708 */
static const char kat_a_fwd0[] =
        "b850ee8c5811fc335146a0f5d6c8acbf8f407c11b429afc54fdece6b7722b196d7f94d6f014c83c9"
        "4046342d37e6e693e9c37909c62f253256c0ca4c0e9de383afe1643054388cdb7c458c22650783de"
        "5719bbf1b355e9be4a807aa08cc09350ed1b003c7819a27aead557d4298d4eb688703b284c205c42"
        "4b1366a886f9afb82599bc002d1a9393e48f5b017286aa68afd15bad5feecfe3a873a1eaaba34a6f"
        "c3d009f842e8950e4dfa1760beb2fac127192b338382dbc139cd0dd7077a5d83c9b2a9f8101831fd"
        "70117d7ca3ee9d562f8c655528bbe461fe16a1ca6cbcf671e19e8eaa3566dac4831ed58867adde3b"
        "1b71f494a97af153b4affe30c20967203c2149159544b1fe0909bbbcd74daa37a1a1c53ff6709f31"
        "6104ec6bc18b0fa8d1e893659ce778961c0755225181c08b2f3ef3f3935a95ad55c4aba43e420ed6"
        "b81845c1bd1151ec475e4db8e832af6deb9236bc8b1caa8cf0677358487fd89d7d63197ca75039b5"
        "8b1083a7b13d52a3b552c46c23b067fe97473566e19eaf5f257ae5b7f9ceaa51c1c034a3fde1c3fe"
        "0f757835ca949dffdc72cca6c81a3065d4a2b2c67e54645f77212f590adca2d788b8eb2667bfd43f"
        "66811c348fbc19774ea5b5c6ce56449d7bf907e89ef21e0217dfd1f3e24bdc50735fd10bde766055"
        "43a43e7fe8c588f395b966b5f72f36c1d9c24bc9c598a2a6c41613de97";
static const char kat_a_fwd1[] =
        "5420d2fb59d5889a0aeaa70df6bf22601132715e03e4ddf6686ac77da5b76553ba414b22f4017d2f"
        "9ae1425f505d5c1ef951899c09d5e9ebdabd1bffcc184347e54963c02b66f98c833f0501eded4d7f"
        "75b1566cb1da853cd1e10cf0f9a6c3195c0a410451e942f695cc8464c8b2e84c0ab9b9e4fcedad1f"
        "de37ab5615d5aa313f75cfd80b17187b51287eb787887753280f7e1915c6548873fd404fbf501d95"
        "a43e9f03c8adcf2faf1f53efabe42441007425e3b458fbe496484fc97eb6be5d924187d47d73bd00"
        "d7881da735dca532bdedbce07ad96d205e0fbe3f67dad8274dd048c7e4b4f90fa910ca5dcb31a11f"
        "fcd66717fe5a327fb0c4ee2c0ca24e4c64e5fc0b71b3cd36d1a4d78840981a8f176881344f2d0e0e"
        "10d3568b2f32174aee48fdfa6759ab30b26975bd41b815308a0d7b20d444e0e7aed6857d1c51809a"
        "848191c90b5cc62df49a10b8dc9ba848ebfc8f863673b400962be72c218e9d0e4c468cbeb5db0a51"
        "56af9c9d2653f5d6f670c0190b32e6c39f0588bb2de824c1c025d435e23fec3972debf5ea8e5c195"
        "422349ccec0aa3618d57ca1e5607f46fe925f0d577adfbb39e942556bcf65d144d53a32a4d064ed5"
        "4f3763cd8146681af7dfd3f51a8c5b6504e300e759a89c4b5a67917a47bc722fbfd2e12df8d2b4c2"
        "402f60bf76d45e04abafa8ffee5a8d9bcfdb860ee3523539979e8d8f89";
static const char kat_a_bwd0[] =
        "948fb925b5207e052885c76375a2734438842792fc9367815ea588493f961becc150a8bb274f40b3"
        "54f4b3f822174522647912d812d9bbefe55ccc016f83512ff2cb8bc01195a685ba7ac59ddfe5fe4c"
        "6f3e2f8c26b79c063f3185dfdff4bb1396cd68f3aabd00486a213cf2660b075f0d7d9752adf0a2b9"
        "ab38ebbb2e4d9b9514aef747c710fd47d4c040d1df60ceda4e65aedacc039a660fb8d6edfada4e8a"
        "c963e7dcd613f656872c2fe7c6057f2d9847686dd7cf6be4e892b2a6dee7c14c2c41b8afd4dda86c"
        "97cc26cccdbc7137971ec15515e9de295ca963690b8310ea21a7ac591f8bee02fa69dba335f71758"
        "5837c4411fed45a40ae23dc8e6daaa9e02216a88ac0a5f4e5a6ee1c9a65d1da215446d8d82d33508"
        "5c13e75760b06f38b362d1fbc9e214556b8d505831d9e708f8c539f2579185e539f273a9009c1e1a"
        "7f926b5a7b399514509be7f754b08244531e803014ea3938aa0cfbe1803bec508ac37e613cdfb43f"
        "7905446a93faab423e298e8822342e7502bfc81d6881279c0424fc618be45b98a9905bf185f86ed6"
        "5759f6a8de2815882b823ceecf49e08f488bc31ea9a02ff3ce481401ec11742341eac093d062d076"
        "25ba5ee0cdb8c51e2138a08beb5a05607fccd7f4b733cc9ce48d58bc6ddace4215d6a43d502e009c"
        "bbcfe91a6ebcd9633ae659dedd5a83a6a13e92e58c3f055dda6d336b73";
static const char kat_b_fwd_to3[] =
        "d32cde89ee2c93fceb30451d09d90e256959fcb91e789d6c220b487a23cbda397c412c2d1237db1d"
        "43d773a7d2bd5ec70853ae5869031f66346f6035c8dd5ebdc1f76ccf0df7e6a89e34621a21cba3f2"
        "9034b1efb922c9f334cad8fd8be7c486f6f3740af42fe4d9c700aaa9862de8df3319bb03de187cce"
        "a2c9313f980ff330f84139fdbd3afd4d6ebf2bd47a898871a7fc4227777d90ae399becb6f0f1f734"
        "733c0d8d4810edbcdd5cc43a46f61a1d31d15fa0f6be739e544f164b639ecc190b9eb1d73051b134"
        "e24989edfc5334e01f427ab43cd77dd13eb6871c99aac8622e52f7d5fc3a61657ff83bf0e33ce947"
        "65d5971b35ef7bd73cab0e174ae668b63214b251d0567d140734c6d6d4b51d5d6d14081e4cc67052"
        "6baed15d812c1a841dc5c572e3319cb84f0c6b7d1ce39748179c8f1e55648d671e26f2714dcc9847"
        "da8ed2f1eef702bb4c31fc6e8bd0a76dd769b9f06ee9145623cccc144f73ea2a86a4c13f07574124"
        "cc42ff7bb5510c4da088894b5bc97003623caab110411f629d8e11501392691e5ac8c1b6c332406b"
        "6541c2cb36142b05d82bc841133d90c482813fac6336a70e6e294b973a0628d3df4ff0ec83c85dd0"
        "e96c0a284386c0253fdf1ae4272ae84e50a8d5feee904fc5c321615bd6fe49c785be5a2bbebe3905"
        "84d629e0df1d6578171f98c404e55160e796f616abcb8a6a6e8009e5c7";
static const char kat_b_bwd_from2[] =
        "57028d1b2f72c93cea14f7e06c4b6a78615b48354a79405cafab78e196822ee858b0950540a49402"
        "5a48c6246d64852d02e702bd7c5f81a98281b19b47aada6b42b12b780761f1d86e44e012cc2ff5f5"
        "57cdac7c639b173a6e4b27dd95607a5819d26ba58b04685c17530338fbb47630fd78363e1775fff7"
        "691657c1134e29f0d6c12f6d8ea7cb3e5a5682621523c6778ddb6d1e8569278a0f4b3aa86524d164"
        "f3b50bc7e65152859f884d2e6292cdc5469fe653db7946461dbe2f3137792c74e45fcd3b44939e70"
        "034b1b82c7226abaf4fa73298c9106f1e38e6ab03d1309dda1716c390e77bc571e4304c1017c92fd"
        "036ff7dd88b60d67bffcbc5688fcb8bf05a10360fdd5fce07ad46390e56aad1bb00bbe95d6a47471"
        "307a9ff4992a6b1c149969e071e0bb92da1a47d7213e294b11a01ac32606c463d2989fa9116afb69"
        "e3219e826c0e7d88f715fdc5e42e6fbb2cc86001424d3e357fc0bb4062562809943e84a7329c8210"
        "9bed0da4e208b2a85773a4c9e8b6f2432ebfa628c3f00b47bdec9b628a777d2b3b3ebf54fb1f4a8f"
        "5a09594b024060c5869cfa5b77acd3516fc807107bf7d3837f3a37a5e8959a66e36a6d8b15bd1bdf"
        "6821607c8ef962bf0af2e24ce964f12fbc21a370548886324ec0310701fd6eb04b0a9e00bad1572d"
        "7eb14e2d7417ef06f10a7fd51a876cf37df06d150b2c7491b42f369e8d";
static const char kat_c_fwd_high[] =
        "bc09cd1d8328607fc064422f9d4ace1698c5a3c56a6f24bd50ecea2b4c1aa29f210836f88b0394b5"
        "62f7d52e950d879dde7b4acb636b709d6fc77ecbe4f12219626f73177857f3d7bdabf65d19346679"
        "95010bd12c17ae7902ea2920b84237798de3ba2c4a190f0690ae450601c7b549fa9b78a582a80e67"
        "5fe8ce0d9baa35a2e2862dff7fec7fd392fdc1f09ce6b76b817254fd9e1ee1129a292cd87fb1d319"
        "d22a411873efc6ad8eed43ef2d558e04431b5358acf68a0127696686cba634d83759e0139ca51889"
        "0a4c3ed2614d3ae52ef3312ee52d0185fc757826938f08584e90afbbbb2782574c7623d257f5e54e"
        "3b9e31bb8742e3e550024a80bd71610cfde8f4386c18ddac834222576cfe27ec1ffba35366027bf8"
        "d18342fd2897f8e8c434f787f49aa5523229e7b640ae76bd3cf479ad975550daced011010b02dd26"
        "b0912219ea1b4fdc705b672c8e96486c41df1ee598a100713549e91e6c1370b2084c1b6bf3e2790a"
        "234f8448ea1fce278fd003ad4134b8602c34e37ef5567ec773d1e1e9a84c0b0d01f8ed09b3ddfba1"
        "5c8d0252116dd0f7614d7c6aa4fb6475b2f1716689f91f1b65c19e13eca1b3809e415d0cdf9ad508"
        "2284c6f5c4c6de6dad92d30fff3aa3dc9fcdfbb79c52d3b381a295996fb4ca663ec4ee05dd846eb7"
        "20b0eef20563b920cda53cd3d108ee140236d84f34b1f98fd0c7087c9f";

static void
hex(uint8_t *out, size_t len, const char *s)
{
	assert_int_equal(dec_hex(out, len, s, strlen(s)), (ssize_t)len);
}

static void
body_make(uint8_t b[BODY], uint8_t cmd, uint16_t sid, const char *data)
{
	size_t n = strlen(data);

	memset(b, 0, BODY);
	b[RELAY_BODY_CMD_OFF] = cmd;
	b[RELAY_BODY_STREAM_ID_OFF] = (uint8_t)(sid >> 8);
	b[RELAY_BODY_STREAM_ID_OFF + 1] = (uint8_t)sid;
	b[RELAY_BODY_LENGTH_OFF] = (uint8_t)(n >> 8);
	b[RELAY_BODY_LENGTH_OFF + 1] = (uint8_t)n;
	memcpy(b + RELAY_BODY_DATA_OFF, data, n);
}

static void
km_a(uint8_t km[KM])
{
	for (size_t j = 0; j < KM; j++)
		km[j] = (uint8_t)j;
}

static void
km_b(uint8_t km[KM], unsigned h)
{
	for (size_t j = 0; j < KM; j++)
		km[j] = (uint8_t)((17 * h + j) & 0xff);
}

/* Equal except the Digest field. */
static void
assert_body_equal(const uint8_t *a, const uint8_t *b)
{
	assert_memory_equal(a, b, RELAY_BODY_DIGEST_OFF);
	assert_memory_equal(a + RELAY_BODY_LENGTH_OFF, b + RELAY_BODY_LENGTH_OFF,
	                    BODY - RELAY_BODY_LENGTH_OFF);
}

/* A circuit: the client's hop states and each relay's state, from the same key material. */
struct circ {
	struct relay_crypto *cl[N_HOPS];
	struct relay_crypto *rl[N_HOPS];
};

static void
circ_new(struct circ *c, const uint8_t km[N_HOPS][KM], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(relay_crypto_new(km[i], &c->cl[i]), UM_OK);
		assert_int_equal(relay_crypto_new(km[i], &c->rl[i]), UM_OK);
	}
}

static void
circ_random(struct circ *c, size_t n)
{
	uint8_t km[N_HOPS][KM];

	rand_bytes(km, sizeof(km));
	circ_new(c, km, n);
}

static void
circ_free(struct circ *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		relay_crypto_free(c->cl[i]);
		relay_crypto_free(c->rl[i]);
		assert_null(c->cl[i]);
	}
}

/* Relays 1..n process a forward cell; returns the 1-based hop that recognized it, or 0. */
static size_t
forward_through(struct circ *c, size_t n, uint8_t body[BODY])
{
	for (size_t i = 0; i < n; i++) {
		bool rec;

		assert_int_equal(relay_crypto_relay_forward(c->rl[i], body, &rec), UM_OK);
		if (rec)
			return i + 1;
	}
	return 0;
}

/* Hop `from` originates a backward cell; earlier hops pass it. */
static void
backward_from(struct circ *c, size_t from, uint8_t body[BODY])
{
	assert_int_equal(relay_crypto_relay_originate(c->rl[from - 1], body), UM_OK);
	for (size_t i = from - 1; i-- > 0;)
		assert_int_equal(relay_crypto_relay_backward(c->rl[i], body), UM_OK);
}

static void
test_relay_crypto_layout(void **state)
{
	(void)state;
	assert_int_equal(RELAY_BODY_DATA_MAX, 486);
	assert_int_equal(RELAY_CRYPTO_KM_LEN, 184);
	assert_int_equal(RELAY_BODY_DIGEST_OFF + RELAY_BODY_DIGEST_LEN, RELAY_BODY_LENGTH_OFF);
}

static void
test_relay_crypto_kat_one_hop(void **state)
{
	uint8_t km[N_HOPS][KM], b[BODY], want[BODY], plain[BODY], kh[32];
	struct circ c;
	size_t hop;
	bool rec;

	(void)state;
	km_a(km[0]);
	circ_new(&c, km, 1);
	relay_crypto_kh(c.cl[0], kh);
	assert_memory_equal(kh, km[0] + 152, 32);

	body_make(plain, 2, 1, "hello");
	memcpy(b, plain, BODY);
	assert_int_equal(relay_crypto_client_originate(c.cl, 1, b), UM_OK);
	hex(want, BODY, kat_a_fwd0);
	assert_memory_equal(b, want, BODY);
	assert_int_equal(relay_crypto_relay_forward(c.rl[0], b, &rec), UM_OK);
	assert_true(rec);
	assert_body_equal(b, plain);

	body_make(plain, 2, 1, "world!");
	memcpy(b, plain, BODY);
	assert_int_equal(relay_crypto_client_originate(c.cl, 1, b), UM_OK);
	hex(want, BODY, kat_a_fwd1);
	assert_memory_equal(b, want, BODY);
	assert_int_equal(relay_crypto_relay_forward(c.rl[0], b, &rec), UM_OK);
	assert_true(rec);
	assert_body_equal(b, plain);

	body_make(plain, 4, 1, "");
	memcpy(b, plain, BODY);
	assert_int_equal(relay_crypto_relay_originate(c.rl[0], b), UM_OK);
	hex(want, BODY, kat_a_bwd0);
	assert_memory_equal(b, want, BODY);
	assert_int_equal(relay_crypto_client_receive(c.cl, 1, b, &hop), UM_OK);
	assert_int_equal(hop, 1);
	assert_body_equal(b, plain);
	circ_free(&c, 1);
}

static void
test_relay_crypto_kat_three_hops(void **state)
{
	uint8_t km[N_HOPS][KM], b[BODY], want[BODY], plain[BODY];
	struct circ c;
	size_t hop;

	(void)state;
	for (unsigned h = 0; h < N_HOPS; h++)
		km_b(km[h], h + 1);
	circ_new(&c, km, N_HOPS);

	body_make(plain, 2, 1, "hello");
	memcpy(b, plain, BODY);
	assert_int_equal(relay_crypto_client_originate(c.cl, 3, b), UM_OK);
	hex(want, BODY, kat_b_fwd_to3);
	assert_memory_equal(b, want, BODY);
	assert_int_equal(forward_through(&c, N_HOPS, b), 3);
	assert_body_equal(b, plain);

	body_make(plain, 4, 1, "");
	memcpy(b, plain, BODY);
	backward_from(&c, 2, b);
	hex(want, BODY, kat_b_bwd_from2);
	assert_memory_equal(b, want, BODY);
	assert_int_equal(relay_crypto_client_receive(c.cl, N_HOPS, b, &hop), UM_OK);
	assert_int_equal(hop, 2);
	assert_body_equal(b, plain);
	circ_free(&c, N_HOPS);
}

static void
test_relay_crypto_kat_high_cell_index(void **state)
{
	/* The cell index goes into the last 8 nonce bytes little-endian: a wrong byte order or
	 * a truncated counter would change this vector. */
	uint8_t km[N_HOPS][KM], b[BODY], want[BODY], plain[BODY];
	struct circ c;
	bool rec;

	(void)state;
	km_a(km[0]);
	circ_new(&c, km, 1);
	relay_crypto_set_counters(c.cl[0], 0x0102030405060708u, 0);
	relay_crypto_set_counters(c.rl[0], 0x0102030405060708u, 0);
	body_make(plain, 2, 1, "hello");
	memcpy(b, plain, BODY);
	assert_int_equal(relay_crypto_client_originate(c.cl, 1, b), UM_OK);
	hex(want, BODY, kat_c_fwd_high);
	assert_memory_equal(b, want, BODY);
	assert_int_equal(relay_crypto_relay_forward(c.rl[0], b, &rec), UM_OK);
	assert_true(rec);
	assert_body_equal(b, plain);
	circ_free(&c, 1);
}

static void
test_relay_crypto_three_hop_round_trip(void **state)
{
	uint8_t b[BODY], plain[BODY];
	struct circ c;
	size_t hop;

	(void)state;
	circ_random(&c, N_HOPS);
	for (unsigned i = 0; i < N_CELLS; i++) {
		size_t target = 1 + rand_uniform(N_HOPS);
		size_t len = rand_uniform(RELAY_BODY_DATA_MAX + 1);

		/* Forward, to a random hop. */
		memset(plain, 0, BODY);
		plain[0] = (uint8_t)(1 + rand_uniform(40));
		rand_bytes(plain + RELAY_BODY_STREAM_ID_OFF, 2);
		plain[RELAY_BODY_LENGTH_OFF] = (uint8_t)(len >> 8);
		plain[RELAY_BODY_LENGTH_OFF + 1] = (uint8_t)len;
		rand_bytes(plain + RELAY_BODY_DATA_OFF, len);
		memcpy(b, plain, BODY);
		assert_int_equal(relay_crypto_client_originate(c.cl, target, b), UM_OK);
		assert_memory_not_equal(b, plain, BODY);
		assert_int_equal(forward_through(&c, target, b), target);
		assert_body_equal(b, plain);

		/* Backward, from a random hop. */
		target = 1 + rand_uniform(N_HOPS);
		plain[0] ^= 0x40;
		memcpy(b, plain, BODY);
		backward_from(&c, target, b);
		assert_int_equal(relay_crypto_client_receive(c.cl, N_HOPS, b, &hop), UM_OK);
		assert_int_equal(hop, target);
		assert_body_equal(b, plain);
	}
	circ_free(&c, N_HOPS);
}

static void
test_relay_crypto_flipped_bit_unrecognized(void **state)
{
	uint8_t b[BODY];
	struct circ c;
	size_t hop;

	(void)state;
	/* One hop, every bit, both directions. */
	for (size_t bit = 0; bit < BODY * 8; bit++) {
		circ_random(&c, 1);
		body_make(b, 2, 7, "tag me");
		assert_int_equal(relay_crypto_client_originate(c.cl, 1, b), UM_OK);
		b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(forward_through(&c, 1, b), 0);

		body_make(b, 2, 7, "tag me");
		backward_from(&c, 1, b);
		b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(relay_crypto_client_receive(c.cl, 1, b, &hop), UM_ERR_AUTH);
		assert_int_equal(hop, 0);
		circ_free(&c, 1);
	}
	/* Three hops, a spread of bits: tagged on the first link, nobody recognizes it. */
	for (size_t bit = 0; bit < BODY * 8; bit += 13) {
		circ_random(&c, N_HOPS);
		body_make(b, 2, 7, "tag me");
		assert_int_equal(relay_crypto_client_originate(c.cl, 3, b), UM_OK);
		b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(forward_through(&c, N_HOPS, b), 0);

		body_make(b, 2, 7, "tag me");
		backward_from(&c, 3, b);
		b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(relay_crypto_client_receive(c.cl, N_HOPS, b, &hop), UM_ERR_AUTH);
		circ_free(&c, N_HOPS);
	}
}

static void
test_relay_crypto_replay_and_reorder_unrecognized(void **state)
{
	uint8_t b1[BODY], b2[BODY], copy[BODY];
	struct circ c;
	bool rec;

	(void)state;
	circ_random(&c, 1);
	body_make(b1, 2, 1, "one");
	body_make(b2, 2, 1, "two");
	assert_int_equal(relay_crypto_client_originate(c.cl, 1, b1), UM_OK);
	assert_int_equal(relay_crypto_client_originate(c.cl, 1, b2), UM_OK);
	/* Delivered out of order: the first one to arrive is decrypted at the wrong index. */
	memcpy(copy, b2, BODY);
	assert_int_equal(relay_crypto_relay_forward(c.rl[0], copy, &rec), UM_OK);
	assert_false(rec);
	circ_free(&c, 1);

	circ_random(&c, 1);
	body_make(b1, 2, 1, "one");
	assert_int_equal(relay_crypto_client_originate(c.cl, 1, b1), UM_OK);
	memcpy(copy, b1, BODY);
	assert_int_equal(relay_crypto_relay_forward(c.rl[0], copy, &rec), UM_OK);
	assert_true(rec);
	/* The same cell again (a replay) is not recognized. */
	assert_int_equal(relay_crypto_relay_forward(c.rl[0], b1, &rec), UM_OK);
	assert_false(rec);
	circ_free(&c, 1);
}

static void
test_relay_crypto_mismatch_keeps_running_digest(void **state)
{
	/* A cell for hop 2 that hop 1 decrypts to Recognized = 0 (1 in 65536 by chance; made
	 * here on purpose by a tamperer who knows hop 1's keystream, taken from a twin of hop
	 * 1's state) must not move hop 1's running digest: the next cell for hop 1 is still
	 * recognized. */
	uint8_t km[N_HOPS][KM], w[BODY], seen[BODY];
	struct relay_crypto *twin;
	struct circ c;
	bool rec;

	(void)state;
	rand_bytes(km, sizeof(km));
	circ_new(&c, km, 2);
	assert_int_equal(relay_crypto_new(km[0], &twin), UM_OK);

	body_make(w, 2, 1, "for hop 2");
	assert_int_equal(relay_crypto_client_originate(c.cl, 2, w), UM_OK);
	memcpy(seen, w, BODY);
	assert_int_equal(relay_crypto_relay_forward(twin, seen, &rec), UM_OK);
	assert_false(rec);
	w[RELAY_BODY_RECOGNIZED_OFF] ^= seen[RELAY_BODY_RECOGNIZED_OFF];
	w[RELAY_BODY_RECOGNIZED_OFF + 1] ^= seen[RELAY_BODY_RECOGNIZED_OFF + 1];
	assert_int_equal(relay_crypto_relay_forward(c.rl[0], w, &rec), UM_OK);
	assert_false(rec);
	assert_int_equal(w[RELAY_BODY_RECOGNIZED_OFF], 0);
	assert_int_equal(w[RELAY_BODY_RECOGNIZED_OFF + 1], 0);

	body_make(w, 2, 1, "for hop 1");
	assert_int_equal(relay_crypto_client_originate(c.cl, 1, w), UM_OK);
	assert_int_equal(forward_through(&c, 1, w), 1);
	relay_crypto_free(twin);
	circ_free(&c, 2);
}

static void
test_relay_crypto_digest_differs_per_cell(void **state)
{
	uint8_t plain[BODY], w[2][BODY], d[2][RELAY_BODY_DIGEST_LEN];
	struct circ c;
	bool rec;

	(void)state;
	circ_random(&c, 1);
	body_make(plain, 2, 1, "same");
	for (int k = 0; k < 2; k++) {
		memcpy(w[k], plain, BODY);
		assert_int_equal(relay_crypto_client_originate(c.cl, 1, w[k]), UM_OK);
	}
	assert_memory_not_equal(w[0], w[1], BODY);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(relay_crypto_relay_forward(c.rl[0], w[k], &rec), UM_OK);
		assert_true(rec);
		memcpy(d[k], w[k] + RELAY_BODY_DIGEST_OFF, RELAY_BODY_DIGEST_LEN);
		assert_body_equal(w[k], plain);
	}
	assert_memory_not_equal(d[0], d[1], RELAY_BODY_DIGEST_LEN);
	circ_free(&c, 1);
}

static void
test_relay_crypto_counter_exhaustion_refused(void **state)
{
	uint8_t b[BODY], before[BODY];
	struct circ c;
	size_t hop;
	bool rec;

	(void)state;
	circ_random(&c, N_HOPS);
	for (size_t i = 0; i < N_HOPS; i++) {
		relay_crypto_set_counters(c.cl[i], UINT64_MAX - 1, UINT64_MAX);
		relay_crypto_set_counters(c.rl[i], UINT64_MAX - 1, UINT64_MAX);
	}
	/* Forward cells 2^64 - 2 and 2^64 - 1 to hop 1 go through ... */
	for (int k = 0; k < 2; k++) {
		body_make(b, 2, 1, "last");
		assert_int_equal(relay_crypto_client_originate(c.cl, 1, b), UM_OK);
		assert_int_equal(forward_through(&c, 1, b), 1);
	}
	/* ... then hop 1's forward layer is spent: to any hop, refused and nothing changed. */
	body_make(b, 2, 1, "one more");
	memcpy(before, b, BODY);
	assert_int_equal(relay_crypto_client_originate(c.cl, 3, b), UM_ERR_TOO_LARGE);
	assert_memory_equal(b, before, BODY);
	assert_int_equal(relay_crypto_relay_forward(c.rl[0], b, &rec), UM_ERR_TOO_LARGE);
	assert_false(rec);
	assert_memory_equal(b, before, BODY);
	/* Hop 3's forward digest was not touched by the refused cell: with hop 1 and 2 reset
	 * on both ends, a cell to hop 3 is still recognized. */
	for (size_t i = 0; i < 2; i++) {
		relay_crypto_set_counters(c.cl[i], 0, UINT64_MAX);
		relay_crypto_set_counters(c.rl[i], 0, UINT64_MAX);
	}
	assert_int_equal(relay_crypto_client_originate(c.cl, 3, b), UM_OK);
	assert_int_equal(forward_through(&c, N_HOPS, b), 3);

	/* Backward: index 2^64 - 1 is the last one. */
	body_make(b, 4, 1, "");
	backward_from(&c, 1, b);
	assert_int_equal(relay_crypto_client_receive(c.cl, N_HOPS, b, &hop), UM_OK);
	assert_int_equal(hop, 1);
	body_make(b, 4, 1, "");
	memcpy(before, b, BODY);
	assert_int_equal(relay_crypto_relay_originate(c.rl[0], b), UM_ERR_TOO_LARGE);
	assert_int_equal(relay_crypto_relay_backward(c.rl[0], b), UM_ERR_TOO_LARGE);
	assert_memory_equal(b, before, BODY);
	assert_int_equal(relay_crypto_client_receive(c.cl, N_HOPS, b, &hop), UM_ERR_TOO_LARGE);
	assert_int_equal(hop, 0);
	circ_free(&c, N_HOPS);
}

static void
test_relay_crypto_bad_arguments(void **state)
{
	uint8_t b[BODY] = { 0 };
	struct circ c;
	size_t hop = 9;

	(void)state;
	circ_random(&c, 1);
	assert_int_equal(relay_crypto_client_originate(c.cl, 0, b), UM_ERR_INVALID);
	assert_int_equal(relay_crypto_client_originate(c.cl, RELAY_CRYPTO_MAX_HOPS + 1, b),
	                 UM_ERR_INVALID);
	assert_int_equal(relay_crypto_client_receive(c.cl, 0, b, &hop), UM_ERR_INVALID);
	assert_int_equal(hop, 0);
	circ_free(&c, 1);
	relay_crypto_free_(NULL);
}

static void
test_relay_crypto_keys_from_ntor(void **state)
{
	struct keys_ed25519 id[N_HOPS];
	struct keys_x25519 onion[N_HOPS];
	uint8_t km_c[N_HOPS][KM], km_r[N_HOPS][KM], node_id[20], skin[84], reply[64];
	uint8_t b[BODY], plain[BODY];
	struct ntor_client_state cs;
	struct circ c;
	size_t hop;

	(void)state;
	for (size_t i = 0; i < N_HOPS; i++) {
		keys_ed25519_generate(&id[i]);
		keys_x25519_generate(&onion[i]);
		ntor_node_id(node_id, id[i].pk);
		ntor_client_start(&cs, node_id, onion[i].pk, skin);
		assert_int_equal(
		        ntor_server_handle(&onion[i], 1, node_id, skin, reply, km_r[i], KM), UM_OK);
		assert_int_equal(ntor_client_finish(&cs, reply, km_c[i], KM), UM_OK);
		assert_memory_equal(km_c[i], km_r[i], KM);
	}
	for (size_t i = 0; i < N_HOPS; i++) {
		assert_int_equal(relay_crypto_new(km_c[i], &c.cl[i]), UM_OK);
		assert_int_equal(relay_crypto_new(km_r[i], &c.rl[i]), UM_OK);
	}
	for (size_t t = 1; t <= N_HOPS; t++) {
		body_make(plain, 2, 3, "through ntor keys");
		memcpy(b, plain, BODY);
		assert_int_equal(relay_crypto_client_originate(c.cl, t, b), UM_OK);
		assert_int_equal(forward_through(&c, t, b), t);
		assert_body_equal(b, plain);
		memcpy(b, plain, BODY);
		backward_from(&c, t, b);
		assert_int_equal(relay_crypto_client_receive(c.cl, N_HOPS, b, &hop), UM_OK);
		assert_int_equal(hop, t);
		assert_body_equal(b, plain);
	}
	circ_free(&c, N_HOPS);
	for (size_t i = 0; i < N_HOPS; i++) {
		keys_ed25519_clear(&id[i]);
		keys_x25519_clear(&onion[i]);
	}
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
		cmocka_unit_test(test_relay_crypto_layout),
		cmocka_unit_test(test_relay_crypto_kat_one_hop),
		cmocka_unit_test(test_relay_crypto_kat_three_hops),
		cmocka_unit_test(test_relay_crypto_kat_high_cell_index),
		cmocka_unit_test(test_relay_crypto_three_hop_round_trip),
		cmocka_unit_test(test_relay_crypto_flipped_bit_unrecognized),
		cmocka_unit_test(test_relay_crypto_replay_and_reorder_unrecognized),
		cmocka_unit_test(test_relay_crypto_mismatch_keeps_running_digest),
		cmocka_unit_test(test_relay_crypto_digest_differs_per_cell),
		cmocka_unit_test(test_relay_crypto_counter_exhaustion_refused),
		cmocka_unit_test(test_relay_crypto_bad_arguments),
		cmocka_unit_test(test_relay_crypto_keys_from_ntor),
	};

	return cmocka_run_group_tests_name("relay_crypto", tests, setup, NULL);
}
