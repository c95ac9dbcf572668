/* SPDX-License-Identifier: MIT */
/*
 * Authority key certificates, votes and the consensus (docs/PROTOCOL.md section 5): frozen
 * known vectors (fixed seeds, exact hex), round trips, every strict prefix truncated,
 * malformed inputs, the computation rules with hand-computed expectations, byte-identical
 * output under every permutation of the votes, and the client's threshold logic (pins,
 * duplicates, unpinned signers, rotated and expired signing keys, altered bytes, clock).
 * The issuer-keys section (5.2, 5.5, 5.8): its rules, its place in votes and consensuses,
 * the accessors, and the majority rule (plurality, ties, absent, the cap of 8).
 *
 * Set UM_CONS_CORPUS_DIR to fuzz/corpus to (re)write the seed corpora of fuzz_authcert,
 * fuzz_vote and fuzz_consensus from the documents built here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "directory/authority.h"
#include "directory/consensus.h"
#include "directory/dir_issuers.h"
#include "directory/relay_entry.h"
#include "directory/vote.h"

enum {
	NOW = 1700000000,
	VA = NOW - 600,
	FU = VA + 3600,
	VU = VA + 3 * 3600,
	CERT_PUB = NOW - 86400,
	CERT_EXP = NOW + 30 * 86400,
	N_AUTH = 5,
};

/* Frozen: regenerate deliberately (and say so in the commit) if a format changes. */
static const char authcert_hex[] =
        "01884b8857f4eaa1613c61504db34d4beaf346517a0e31de3cddd4d9b4201d9d0b48075a597e721a156e2e07"
        "99de5cc0c5324dc6e7eaf1cdd46250868ec53215dd0000000065529f8000000000657b7e00590417cfceabcf"
        "8b65f342ce4d7ff490125b997586a3936bed9f079b4e10f7b506539b504bfc7c007bdc72b21709b818dfe1d8"
        "4f0f77e46b8995dd45dfeb2000";
static const char vote_hex[] =
        "0101884b8857f4eaa1613c61504db34d4beaf346517a0e31de3cddd4d9b4201d9d0b48075a597e721a156e2e"
        "0799de5cc0c5324dc6e7eaf1cdd46250868ec53215dd0000000065529f8000000000657b7e00590417cfceab"
        "cf8b65f342ce4d7ff490125b997586a3936bed9f079b4e10f7b506539b504bfc7c007bdc72b21709b818dfe1"
        "d84f0f77e46b8995dd45dfeb2000000000006553eea8000000006553fcb800000000655418d8020663635f61"
        "6c67000000020a6369726377696e646f77000003e80000000002212121212121212121212121212121212121"
        "2121212121212121212121212121020202020202020202020202020202020202020202020202020202020202"
        "0202000700001b580772656c6179333303747474747474747474747474747474747474747474747474747474"
        "74747474748b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b01040a00022123"
        "290001000100777777777777777777777777777777777777777777777777777777777777777744450a65752d"
        "63656e7472616c50232826ac1388000a00000064004242424242424242424242424242424242424242424242"
        "4242424242424242420101010101010101010101010101010101010101010101010101010101010101005300"
        "0013880772656c61793636071717171717171717171717171717171717171717171717171717171717171717"
        "e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e801040a000142232901010200"
        "50005001bb01bb0100777777777777777777777777777777777777777777777777777777777777777744450a"
        "65752d63656e7472616c50232826ac1388000a00000064020101010101010101010101010101010101010101"
        "010101010101010101010101fefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefe"
        "06905e2abfeb713725ae2a39a353efc056868a0a6cb159053b7980cc7d25823410d4cdae6364e96b81208c56"
        "13b1c13db2f0f4850dc21576de3097f526770609";
static const char consensus_hex[] =
        "01000000006553eea8000000006553fcb800000000655418d8010a6369726377696e646f77000001f4030174"
        "f85cda34d1c27c4621484731e91579c3d9c6cfc0d94b281aa11e9162058aa917cb79fb2b4120f2b1ec65e419"
        "8d6e08b28e813feb01e4a400839b85e18080ce0000000065529f8000000000657b7e00f69050958d7ebe8710"
        "eacd4c1649d500a0c24aac9dedea240f6ce65dce7dfd6aa960ab1b7c84154e14e4985d75407926e7f6c6d575"
        "66e6afa24527608c94350101884b8857f4eaa1613c61504db34d4beaf346517a0e31de3cddd4d9b4201d9d0b"
        "48075a597e721a156e2e0799de5cc0c5324dc6e7eaf1cdd46250868ec53215dd0000000065529f8000000000"
        "657b7e00590417cfceabcf8b65f342ce4d7ff490125b997586a3936bed9f079b4e10f7b506539b504bfc7c00"
        "7bdc72b21709b818dfe1d84f0f77e46b8995dd45dfeb200001a09aa5f47a6759802ff955f8dc2d2a14a5c99d"
        "23be97f864127ff9383455a4f05e212c0980e4b39fc09721134aa02109374edfd260c0d3d03cb501c8d65457"
        "a90000000065529f8000000000657b7e00b5c84ba9f103a147bf31ce33ad5722259245cba876f1971676a448"
        "e7fa5ccfa59254fc7a67e7d9408bb8b438c37c2e1e6251091ba0333a0ca681518b8c3fd80f00000000022121"
        "2121212121212121212121212121212121212121212121212121212121210202020202020202020202020202"
        "020202020202020202020202020202020202000700001b580772656c61793333037474747474747474747474"
        "7474747474747474747474747474747474747474748b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b"
        "8b8b8b8b8b8b8b8b8b01040a0002212329000100010077777777777777777777777777777777777777777777"
        "7777777777777777777744450a65752d63656e7472616c50232826ac1388000a000000640042424242424242"
        "4242424242424242424242424242424242424242424242424201010101010101010101010101010101010101"
        "010101010101010101010101010013000007d00772656c617936360717171717171717171717171717171717"
        "17171717171717171717171717171717e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8"
        "e8e8e8e801040a00014223290101020050005001bb01bb010077777777777777777777777777777777777777"
        "7777777777777777777777777744450a65752d63656e7472616c50232826ac1388000a000000640201010101"
        "01010101010101010101010101010101010101010101010101010101fefefefefefefefefefefefefefefefe"
        "fefefefefefefefefefefefefefefefe0374f85cda34d1c27c4621484731e91579c3d9c6cfc0d94b281aa11e"
        "9162058aa917cb79fb2b4120f2b1ec65e4198d6e08b28e813feb01e4a400839b85e18080ce191dc896aa5c97"
        "e36ac31586d3a4a5087030ac73eac0a167a4b9b845e5539bea3d349e12faa532f2ab73b99d1de75660703d26"
        "d667d5f1e10a1a93b32b521b08884b8857f4eaa1613c61504db34d4beaf346517a0e31de3cddd4d9b4201d9d"
        "0b48075a597e721a156e2e0799de5cc0c5324dc6e7eaf1cdd46250868ec53215dddfe225176f90602167054d"
        "a6775dc779c74897338682fd33875eea67ec9844dba47ac45679ba4f00f4f8250d4617f9a796a4b3aab706ea"
        "10cb84c900c7b1ae09a09aa5f47a6759802ff955f8dc2d2a14a5c99d23be97f864127ff9383455a4f05e212c"
        "0980e4b39fc09721134aa02109374edfd260c0d3d03cb501c8d65457a97d65dc953d9232beae848e39981d22"
        "f3b582c2718855054e3f3a95129f7eda2466734abfbbe0594fea9c08a398c170722a899cb7d26a054b111ac0"
        "0fee5ba306";

/* Authority identities A[i], signing keys S[i], a rotated key S0b, an unpinned authority. */
static struct keys_ed25519 A[N_AUTH], S[N_AUTH], S0b;
static struct auth_cert C[N_AUTH], C0b;

static void
key_from_byte(struct keys_ed25519 *k, uint8_t b)
{
	uint8_t s[32];

	memset(s, b, sizeof(s));
	keys_ed25519_from_seed(k, s);
}

static void
assert_hex(const uint8_t *b, size_t n, const char *want)
{
	char *hex = um_xmalloc(HEX_LEN(n));

	assert_int_equal(enc_hex(hex, HEX_LEN(n), b, n), UM_OK);
	if (strcmp(hex, want) != 0)
		printf("\ngot: %s\n", hex);
	assert_string_equal(hex, want);
	free(hex);
}

static void
maybe_write_corpus(const char *target, const char *name, const uint8_t *b, size_t n)
{
	const char *dir = getenv("UM_CONS_CORPUS_DIR");
	char path[512];
	FILE *f;

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* A relay entry whose every field derives from id (and the digest byte dig). */
static void
mk_entry(struct relay_entry *e, uint8_t id, uint8_t dig, uint16_t flags, uint32_t bw)
{
	memset(e, 0, sizeof(*e));
	memset(e->identity, id, 32);
	memset(e->desc_digest, dig, 32);
	e->measured_bw = bw;
	snprintf(e->nickname, sizeof(e->nickname), "relay%u", (unsigned)id);
	e->roles = RELAY_ROLE_ENTRY | RELAY_ROLE_MIDDLE;
	memset(e->link_key, id ^ 0x55, 32);
	memset(e->onion_key, id ^ 0xaa, 32);
	e->n_addrs = 1;
	e->addrs[0].type = RELAY_ADDR_IPV4;
	e->addrs[0].addr[0] = 10;
	e->addrs[0].addr[2] = dig;
	e->addrs[0].addr[3] = id;
	e->addrs[0].port = 9001;
	e->policy4.kind = e->policy6.kind = RELAY_POLICY_ACCEPT;
	memset(e->operator_id, 0x77, 32);
	strcpy(e->country, "DE");
	strcpy(e->region, "eu-central");
	e->geo_confidence = 80;
	e->scores = (struct relay_scores){ 9000, 9900, 5000, 10, 0, 100 };
	e->flags = relay_entry_mask_flags(flags, e->roles);
}

/* The same, as an exit on IPv4 ports 80 and 443 with a two-member family. */
static void
mk_exit(struct relay_entry *e, uint8_t id, uint8_t dig, uint16_t flags, uint32_t bw)
{
	mk_entry(e, id, dig, 0, bw);
	e->roles |= RELAY_ROLE_EXIT;
	e->exit_flags = RELAY_EXIT_F_REJECT_PRIVATE;
	e->policy4.n_ranges = 2;
	e->policy4.r[0] = (struct relay_port_range){ 80, 80 };
	e->policy4.r[1] = (struct relay_port_range){ 443, 443 };
	e->n_family = 2;
	memset(e->family[0], 0x01, 32);
	memset(e->family[1], 0xfe, 32);
	e->flags = relay_entry_mask_flags(flags, e->roles);
}

/* Set issuer `id` (identity: 32 bytes of id) to a stand-in key list of len bytes of fill:
 * the directory never parses one. */
static void
set_issuer(struct dir_issuers *s, uint8_t id, uint8_t fill, size_t len)
{
	uint8_t ident[DIR_ISSUER_ID_LEN];
	uint8_t *doc = um_xmalloc(len);

	memset(ident, id, sizeof(ident));
	memset(doc, fill, len);
	assert_int_equal(dir_issuers_set(s, ident, doc, len), UM_OK);
	free(doc);
}

/* A signed vote by authority a for the standard period over copies of ents. */
static void
mk_vote(struct vote *v, size_t a, const struct relay_entry *ents, size_t n)
{
	vote_init(v);
	v->cert = C[a];
	v->valid_after_s = VA;
	v->fresh_until_s = FU;
	v->valid_until_s = VU;
	v->n_relays = n;
	if (n > 0) {
		v->relays = um_xcalloc(n, sizeof(*ents));
		memcpy(v->relays, ents, n * sizeof(*ents));
	}
	assert_int_equal(vote_sort_relays(v), UM_OK);
	assert_int_equal(vote_sign(v, &S[a]), UM_OK);
}

static size_t
encode_vote(const struct vote *v, uint8_t **buf)
{
	size_t n = 0;

	assert_int_equal(vote_encode_new(v, buf, &n), UM_OK);
	assert_int_equal(n, vote_encoded_len(v));
	return n;
}

static size_t
encode_cons(const struct consensus *c, uint8_t **buf)
{
	size_t n = 0;

	assert_int_equal(consensus_encode_new(c, buf, &n), UM_OK);
	assert_int_equal(n, consensus_encoded_len(c));
	return n;
}

/* --- authority certificates -------------------------------------------------------------- */

static void
test_authcert_vector(void **state)
{
	uint8_t buf[AUTHCERT_LEN + 1];
	struct auth_cert c, p;
	struct wire_wr w;

	(void)state;
	assert_int_equal(AUTHCERT_LEN, 145);
	wire_wr_init(&w, buf, sizeof(buf));
	assert_int_equal(auth_cert_encode(&C[0], &w), UM_OK);
	assert_int_equal(w.len, AUTHCERT_LEN);
	assert_hex(buf, w.len, authcert_hex);
	maybe_write_corpus("fuzz_authcert", "cert0", buf, w.len);
	assert_int_equal(auth_cert_parse(buf, w.len, &p), AUTHCERT_LEN);
	assert_memory_equal(&p, &C[0], sizeof(p));
	assert_int_equal(auth_cert_verify(&p, NOW), UM_OK);
	for (size_t cut = 0; cut < AUTHCERT_LEN; cut++)
		assert_int_equal(auth_cert_parse(buf, cut, &p), UM_ERR_TRUNCATED);

	/* Clock: expired at expires, future-dated beyond the skew. */
	assert_int_equal(auth_cert_verify(&C[0], CERT_EXP), UM_ERR_EXPIRED);
	assert_int_equal(auth_cert_verify(&C[0], CERT_EXP - 1), UM_OK);
	assert_int_equal(auth_cert_verify(&C[0], CERT_PUB - AUTHCERT_CLOCK_SKEW_S - 1),
	                 UM_ERR_EXPIRED);
	assert_int_equal(auth_cert_verify(&C[0], CERT_PUB - AUTHCERT_CLOCK_SKEW_S), UM_OK);
	/* Forgeries: any changed field or signature byte. */
	c = C[0];
	c.sig[10] ^= 1;
	assert_int_equal(auth_cert_verify(&c, NOW), UM_ERR_AUTH);
	c = C[0];
	c.expires_s++;
	assert_int_equal(auth_cert_verify(&c, NOW), UM_ERR_AUTH);
	c = C[0];
	memcpy(c.signing_key, S[1].pk, 32);
	assert_int_equal(auth_cert_verify(&c, NOW), UM_ERR_AUTH);
	/* A certificate made by another identity for our signing key. */
	assert_int_equal(auth_cert_make(&c, &A[1], S[0].pk, CERT_PUB, CERT_EXP), UM_OK);
	memcpy(c.identity, A[0].pk, 32);
	assert_int_equal(auth_cert_verify(&c, NOW), UM_ERR_AUTH);

	/* Malformed: each rule, on the wire and at make/encode. */
	buf[0] = 2;
	assert_int_equal(auth_cert_parse(buf, AUTHCERT_LEN, &p), UM_ERR_MALFORMED);
	buf[0] = 1;
	memcpy(buf + 33, buf + 1, 32); /* signing key == identity */
	assert_int_equal(auth_cert_parse(buf, AUTHCERT_LEN, &p), UM_ERR_MALFORMED);
	memcpy(buf + 33, S[0].pk, 32);
	wire_store_u64(buf + 65 + 8, CERT_PUB + AUTHCERT_LIFETIME_MAX_S + 1);
	assert_int_equal(auth_cert_parse(buf, AUTHCERT_LEN, &p), UM_ERR_MALFORMED);
	assert_int_equal(auth_cert_make(&c, &A[0], A[0].pk, CERT_PUB, CERT_EXP), UM_ERR_INVALID);
	assert_int_equal(auth_cert_make(&c, &A[0], S[0].pk, CERT_PUB, CERT_PUB), UM_ERR_INVALID);
	assert_int_equal(auth_cert_make(&c, &A[0], S[0].pk, CERT_PUB,
	                                CERT_PUB + AUTHCERT_LIFETIME_MAX_S + 1),
	                 UM_ERR_INVALID);
	assert_int_equal(
	        auth_cert_make(&c, &A[0], S[0].pk, CERT_PUB, CERT_PUB + AUTHCERT_LIFETIME_MAX_S),
	        UM_OK);
	wire_wr_init(&w, buf, sizeof(buf));
	c.expires_s = c.published_s;
	assert_int_equal(auth_cert_encode(&c, &w), UM_ERR_INVALID);
	assert_int_equal(w.len, 0);
	wire_store_u64(buf + 65 + 8, CERT_PUB); /* expires == published */
	assert_int_equal(auth_cert_parse(buf, AUTHCERT_LEN, &p), UM_ERR_MALFORMED);
	wire_store_u64(buf + 65 + 8, CERT_EXP);
	assert_int_equal(auth_cert_parse(buf, AUTHCERT_LEN, &p), AUTHCERT_LEN);
}

static void
test_keyring_rotation(void **state)
{
	struct auth_keyring kr;
	struct auth_cert other, late;

	(void)state;
	assert_int_equal(auth_keyring_init(&kr, &C[0]), UM_OK);
	assert_int_equal(kr.n_certs, 1);
	/* Rotation keeps the previous certificate, newest first. */
	assert_int_equal(auth_keyring_rotate(&kr, &C0b, NOW), UM_OK);
	assert_int_equal(kr.n_certs, 2);
	assert_memory_equal(kr.certs[0].signing_key, S0b.pk, 32);
	assert_memory_equal(kr.certs[1].signing_key, S[0].pk, 32);
	assert_non_null(auth_keyring_find(&kr, S[0].pk));
	assert_null(auth_keyring_find(&kr, S[1].pk));
	/* Not this authority's, a key already there, or not newer: refused. */
	assert_int_equal(auth_keyring_rotate(&kr, &C[1], NOW), UM_ERR_INVALID);
	assert_int_equal(auth_keyring_rotate(&kr, &C[0], NOW), UM_ERR_INVALID);
	assert_int_equal(auth_cert_make(&other, &A[0], S[2].pk, C0b.published_s, CERT_EXP), UM_OK);
	assert_int_equal(auth_keyring_rotate(&kr, &other, NOW), UM_ERR_INVALID);
	/* Once the old certificates expire they are dropped at the next rotation. */
	assert_int_equal(auth_cert_make(&late, &A[0], S[3].pk, C0b.published_s + 10,
	                                C0b.published_s + 86400 * 300),
	                 UM_OK);
	assert_int_equal(auth_keyring_rotate(&kr, &late, CERT_EXP), UM_OK);
	assert_int_equal(kr.n_certs, 1);
	assert_memory_equal(kr.certs[0].signing_key, S[3].pk, 32);
}

/* --- votes ------------------------------------------------------------------------------- */

static void
vote_small(struct vote *v)
{
	struct relay_entry e[2];

	mk_exit(&e[0], 0x42, 0x01,
	        RELAY_FLAG_RUNNING | RELAY_FLAG_VALID | RELAY_FLAG_EXIT | RELAY_FLAG_FAST, 5000);
	mk_entry(&e[1], 0x21, 0x02, RELAY_FLAG_RUNNING | RELAY_FLAG_VALID | RELAY_FLAG_GUARD, 7000);
	vote_init(v);
	mk_vote(v, 0, e, 2);
	assert_int_equal(dir_params_set(&v->params, "circwindow", 1000), UM_OK);
	assert_int_equal(dir_params_set(&v->params, "cc_alg", 2), UM_OK);
	assert_int_equal(vote_sign(v, &S[0]), UM_OK);
}

static void
test_vote_vector(void **state)
{
	struct vote v, p;
	uint8_t *buf, *again;
	size_t n, n_off;

	(void)state;
	vote_small(&v);
	n = encode_vote(&v, &buf);
	assert_hex(buf, n, vote_hex);
	maybe_write_corpus("fuzz_vote", "small", buf, n);
	assert_int_equal(vote_verify(&v, NOW), UM_OK);
	assert_int_equal(vote_parse_verify(buf, n, NOW, &p), UM_OK);
	assert_int_equal(p.n_relays, 2);
	assert_memory_equal(p.relays[0].identity, v.relays[0].identity, 32);
	assert_string_equal(p.params.p[0].name, "cc_alg");
	assert_int_equal(p.relays[1].family[1][0], 0xfe);
	assert_int_equal(encode_vote(&p, &again), n);
	assert_memory_equal(buf, again, n);
	free(again);
	vote_clear(&p);
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(vote_parse(buf, cut, &p), UM_ERR_TRUNCATED);

	/* Trailing, oversize, wrong key, signature, clock. */
	buf = realloc(buf, n + 1);
	buf[n] = 0;
	assert_int_equal(vote_parse_verify(buf, n + 1, NOW, &p), UM_ERR_TRAILING);
	assert_int_equal(vote_parse_verify(buf, VOTE_MAX_LEN + 1, NOW, &p), UM_ERR_TOO_LARGE);
	assert_int_equal(vote_sign(&v, &S[1]), UM_ERR_INVALID);
	assert_int_equal(vote_sign(&v, &A[0]), UM_ERR_INVALID);
	assert_int_equal(vote_parse_verify(buf, n, VU, &p), UM_ERR_EXPIRED);
	assert_int_equal(vote_parse_verify(buf, n, CERT_EXP, &p), UM_ERR_EXPIRED);
	buf[n - 1] ^= 1;
	assert_int_equal(vote_parse_verify(buf, n, NOW, &p), UM_ERR_AUTH);
	buf[n - 1] ^= 1;
	/* A byte of the first entry's descriptor digest. */
	n_off = VOTE_HEADER_LEN + dir_params_encoded_len(&v.params) + 1 + 4 + 32;
	buf[n_off] ^= 1;
	assert_int_equal(vote_parse_verify(buf, n, NOW, &p), UM_ERR_AUTH);
	buf[n_off] ^= 1;
	v.relays[0].measured_bw++;
	assert_int_equal(vote_verify(&v, NOW), UM_ERR_AUTH);
	/* A vote signed by a key the certificate does not name. */
	v.cert = C[1];
	assert_int_equal(vote_verify(&v, NOW), UM_ERR_AUTH);
	vote_clear(&v);
	vote_clear(&v); /* twice is fine */
	free(buf);
}

/* Offsets in a vote (docs/PROTOCOL.md 5.3). */
enum {
	V_OFF_VA = 1 + AUTHCERT_LEN,
	V_OFF_PARAMS = V_OFF_VA + 24,
};

static void
test_vote_malformed(void **state)
{
	struct vote v, p;
	struct relay_entry e, back;
	uint8_t *buf, *bad;
	uint8_t eb[RELAY_ENTRY_MAX_LEN];
	struct wire_wr w;
	struct wire_rd r;
	size_t n, off_relays, e0len;

	(void)state;
	vote_small(&v);
	n = encode_vote(&v, &buf);
	bad = um_xmalloc(n);
#define EXPECT_MALFORMED(mutation)                                          \
	do {                                                                \
		memcpy(bad, buf, n);                                        \
		mutation;                                                   \
		assert_int_equal(vote_parse(bad, n, &p), UM_ERR_MALFORMED); \
	} while (0)
	EXPECT_MALFORMED(bad[0] = 2);
	EXPECT_MALFORMED(bad[1] = 2);                              /* certificate version */
	EXPECT_MALFORMED(wire_store_u64(bad + V_OFF_VA + 8, VA));  /* fresh == after */
	EXPECT_MALFORMED(wire_store_u64(bad + V_OFF_VA + 16, FU)); /* until == fresh */
	EXPECT_MALFORMED(wire_store_u64(bad + V_OFF_VA + 16, VA + CONS_LIFETIME_MAX_S + 1));
	EXPECT_MALFORMED(bad[V_OFF_PARAMS] = DIR_PARAMS_MAX + 1);
	EXPECT_MALFORMED(bad[V_OFF_PARAMS + 1] = 0);               /* empty name */
	EXPECT_MALFORMED(bad[V_OFF_PARAMS + 2] = 'C');             /* charset */
	EXPECT_MALFORMED(memcpy(bad + V_OFF_PARAMS + 2, "da", 2)); /* unsorted */
	off_relays = V_OFF_PARAMS + dir_params_encoded_len(&v.params);
	EXPECT_MALFORMED(bad[off_relays] = DIR_MAX_ISSUERS + 1); /* issuer count */
	off_relays += 1;                                         /* the empty issuer section */
	EXPECT_MALFORMED(wire_store_u32(bad + off_relays, CONS_MAX_RELAYS + 1));
	EXPECT_MALFORMED(bad[off_relays + 4 + 64] = 0x04);            /* unknown flag */
	EXPECT_MALFORMED(bad[off_relays + 4 + 64 + 2 + 4 + 1] = '-'); /* nickname */
	/* Entries out of order: swap the two encoded entries. */
	e0len = relay_entry_encoded_len(&v.relays[0]);
	memcpy(bad, buf, n);
	memcpy(bad + off_relays + 4, buf + off_relays + 4 + e0len, n - off_relays - 4 - e0len - 64);
	memcpy(bad + n - 64 - e0len, buf + off_relays + 4, e0len);
	assert_int_equal(vote_parse(bad, n, &p), UM_ERR_MALFORMED);
	/* The same entry twice. */
	v.relays[1] = v.relays[0];
	assert_int_equal(vote_encoded_len(&v) > 0, true);
	assert_int_equal(vote_sign(&v, &S[0]), UM_ERR_INVALID);
	assert_int_equal(vote_sort_relays(&v), UM_ERR_INVALID);
#undef EXPECT_MALFORMED

	/* Entry rules, through the checked encoder (which parses its own output back). */
	mk_exit(&e, 9, 9, RELAY_FLAG_EXIT, 1);
	wire_wr_init(&w, eb, sizeof(eb));
	assert_int_equal(relay_entry_encode(&e, &w), UM_OK);
	assert_int_equal(w.len, relay_entry_encoded_len(&e));
	wire_rd_init(&r, eb, w.len);
	assert_int_equal(relay_entry_parse(&r, &back), UM_OK);
	for (size_t cut = 0; cut < w.len; cut++) {
		wire_rd_init(&r, eb, cut);
		assert_int_equal(relay_entry_parse(&r, &back), UM_ERR_TRUNCATED);
	}
#define EXPECT_INVALID(mutation)                                              \
	do {                                                                  \
		mk_exit(&e, 9, 9, RELAY_FLAG_EXIT, 1);                        \
		mutation;                                                     \
		wire_wr_init(&w, eb, sizeof(eb));                             \
		assert_int_equal(relay_entry_encode(&e, &w), UM_ERR_INVALID); \
		assert_int_equal(w.len, 0);                                   \
	} while (0)
	EXPECT_INVALID(e.flags = 0x400);
	EXPECT_INVALID((e.roles = RELAY_ROLE_MIDDLE, e.exit_flags = 0, e.policy4.n_ranges = 0,
	                e.flags = RELAY_FLAG_EXIT));
	EXPECT_INVALID((e.roles = RELAY_ROLE_EXIT, e.flags = RELAY_FLAG_GUARD));
	EXPECT_INVALID(e.roles = 0);
	EXPECT_INVALID(e.roles = 0x08);
	EXPECT_INVALID(e.nickname[0] = '\0');
	EXPECT_INVALID(e.n_addrs = 0);
	EXPECT_INVALID(e.addrs[0].port = 0);
	EXPECT_INVALID(e.policy4.n_ranges = 0); /* an exit that accepts nothing */
	EXPECT_INVALID(e.policy4.r[1].lo = 80); /* ranges overlap */
	EXPECT_INVALID(e.exit_flags = 0x80);
	EXPECT_INVALID(strcpy(e.country, "de"));
	EXPECT_INVALID(strcpy(e.region, "EU"));
	EXPECT_INVALID(e.geo_confidence = 101);
	EXPECT_INVALID(e.scores.stake = RELAY_DESC_SCORE_MAX + 1);
	EXPECT_INVALID(e.scores.reputation = RELAY_DESC_SCORE_MAX + 1);
	EXPECT_INVALID(memcpy(e.family[1], e.identity, 32));
	EXPECT_INVALID(memset(e.family[1], 0x01, 32)); /* duplicate member */
	EXPECT_INVALID(e.n_family = RELAY_DESC_MAX_FAMILY + 1);
#undef EXPECT_INVALID
	free(bad);
	free(buf);
	vote_clear(&v);
}

/* --- consensus --------------------------------------------------------------------------- */

/* Three voters out of N_AUTH = 5; the relays below are built so every rule shows. */
static void
votes_three(struct vote v[3])
{
	struct relay_entry e[3][3];
	const uint16_t rv = RELAY_FLAG_RUNNING | RELAY_FLAG_VALID;

	for (size_t a = 0; a < 3; a++) {
		mk_exit(&e[a][0], 0x42, 0x01, rv | RELAY_FLAG_EXIT, (uint32_t)(1000 * (a + 1)));
		mk_entry(&e[a][1], 0x21, 0x02, rv | RELAY_FLAG_GUARD, 7000);
		mk_entry(&e[a][2], (uint8_t)(0x60 + a), 0x03, rv, 1); /* listed by one voter each */
	}
	e[2][1].flags = RELAY_FLAG_RUNNING;
	for (size_t a = 0; a < 3; a++)
		mk_vote(&v[a], a, e[a], 3);
	assert_int_equal(dir_params_set(&v[0].params, "circwindow", 1000), UM_OK);
	assert_int_equal(dir_params_set(&v[1].params, "circwindow", 500), UM_OK);
	assert_int_equal(dir_params_set(&v[0].params, "pow", 8), UM_OK);
	for (size_t a = 0; a < 3; a++)
		assert_int_equal(vote_sign(&v[a], &S[a]), UM_OK);
}

static void
compute3(struct vote v[3], struct consensus *c)
{
	const struct vote *vp[3] = { &v[0], &v[1], &v[2] };

	assert_int_equal(consensus_compute(vp, 3, N_AUTH, VA, FU, VU, c), UM_OK);
}

static void
pins_first(struct pinned_authorities *p, size_t n)
{
	memset(p, 0, sizeof(*p));
	p->n = n;
	for (size_t i = 0; i < n; i++)
		memcpy(p->ids[i], A[i].pk, 32);
}

static void
test_consensus_vector(void **state)
{
	struct vote v[3];
	struct consensus c, p;
	struct pinned_authorities pins;
	struct consensus_verify_result res;
	uint8_t *buf, *again;
	size_t n;

	(void)state;
	votes_three(v);
	compute3(v, &c);
	for (size_t a = 0; a < 3; a++)
		assert_int_equal(consensus_sign(&c, &C[a], &S[a]), UM_OK);
	n = encode_cons(&c, &buf);
	assert_hex(buf, n, consensus_hex);
	maybe_write_corpus("fuzz_consensus", "three", buf, n);
	assert_int_equal(consensus_parse(buf, n, &p), (ssize_t)n);
	assert_memory_equal(p.digest, c.digest, DIR_DIGEST_LEN);
	assert_int_equal(p.signed_len, c.signed_len);
	assert_int_equal(p.n_relays, 2);
	assert_int_equal(p.n_sigs, 3);
	pins_first(&pins, 3);
	assert_int_equal(consensus_verify(&p, p.digest, &pins, 0, NOW, &res), UM_OK);
	assert_int_equal(res.n_signed, 3);
	assert_int_equal(res.threshold, 2);
	assert_int_equal(encode_cons(&p, &again), n);
	assert_memory_equal(buf, again, n);
	free(again);
	consensus_clear(&p);
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(consensus_parse(buf, cut, &p), UM_ERR_TRUNCATED);
	/* parse reports what it consumed; bytes after it are the caller's business. */
	buf = realloc(buf, n + 1);
	buf[n] = 0;
	assert_int_equal(consensus_parse(buf, n + 1, &p), (ssize_t)n);
	consensus_clear(&p);
	free(buf);

	/* Unsigned, too, round-trips, and every prefix is truncated. */
	c.n_sigs = 0;
	n = encode_cons(&c, &buf);
	assert_int_equal(n, c.signed_len + 1);
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(consensus_parse(buf, cut, &p), UM_ERR_TRUNCATED);
	assert_int_equal(consensus_parse(buf, n, &p), (ssize_t)n);
	consensus_clear(&p);
	free(buf);
	consensus_clear(&c);
	for (size_t a = 0; a < 3; a++)
		vote_clear(&v[a]);
}

static void
test_consensus_malformed(void **state)
{
	struct vote v[3];
	struct consensus c, p;
	uint8_t *buf, *bad;
	size_t n, off_auths, off_sigs;

	(void)state;
	votes_three(v);
	compute3(v, &c);
	for (size_t a = 0; a < 3; a++)
		assert_int_equal(consensus_sign(&c, &C[a], &S[a]), UM_OK);
	n = encode_cons(&c, &buf);
	bad = um_xmalloc(n);
	off_auths = 25 + dir_params_encoded_len(&c.params);
	off_sigs = c.signed_len;
#define EXPECT_MALFORMED(mutation)                                               \
	do {                                                                     \
		memcpy(bad, buf, n);                                             \
		mutation;                                                        \
		assert_int_equal(consensus_parse(bad, n, &p), UM_ERR_MALFORMED); \
	} while (0)
	EXPECT_MALFORMED(bad[0] = 0);
	EXPECT_MALFORMED(wire_store_u64(bad + 9, VA));
	EXPECT_MALFORMED(wire_store_u64(bad + 17, VA + CONS_LIFETIME_MAX_S + 1));
	EXPECT_MALFORMED(bad[off_auths] = 0);
	EXPECT_MALFORMED(bad[off_auths] = CONS_MAX_AUTHORITIES + 1);
	/* Authorities out of order: swap the first two certificates. */
	EXPECT_MALFORMED(
	        (memcpy(bad + off_auths + 1, buf + off_auths + 1 + AUTHCERT_LEN, AUTHCERT_LEN),
	         memcpy(bad + off_auths + 1 + AUTHCERT_LEN, buf + off_auths + 1, AUTHCERT_LEN)));
	EXPECT_MALFORMED(bad[off_auths + 1 + 3 * AUTHCERT_LEN] = DIR_MAX_ISSUERS + 1);
	EXPECT_MALFORMED(
	        wire_store_u32(bad + off_auths + 1 + 3 * AUTHCERT_LEN + 1, CONS_MAX_RELAYS + 1));
	EXPECT_MALFORMED(bad[off_sigs] = CONS_MAX_SIGS + 1);
	/* Signatures out of order, or the same signer twice. */
	EXPECT_MALFORMED((memcpy(bad + off_sigs + 1, buf + off_sigs + 1 + CONS_SIG_ENTRY_LEN,
	                         CONS_SIG_ENTRY_LEN),
	                  memcpy(bad + off_sigs + 1 + CONS_SIG_ENTRY_LEN, buf + off_sigs + 1,
	                         CONS_SIG_ENTRY_LEN)));
	EXPECT_MALFORMED(memcpy(bad + off_sigs + 1 + CONS_SIG_ENTRY_LEN, buf + off_sigs + 1, 64));
#undef EXPECT_MALFORMED
	/* The encoder refuses the same. */
	c.sigs[1] = c.sigs[0];
	assert_int_equal(consensus_encode_new(&c, &bad, &n), UM_ERR_INVALID);
	free(bad);
	free(buf);
	consensus_clear(&c);
	for (size_t a = 0; a < 3; a++)
		vote_clear(&v[a]);
}

static const struct relay_entry *
find_relay(const struct consensus *c, uint8_t id)
{
	for (size_t i = 0; i < c->n_relays; i++) {
		if (c->relays[i].identity[0] == id)
			return &c->relays[i];
	}
	return NULL;
}

/*
 * Hand-computed: 4 voters of N_AUTH = 5 (quorum needs 3).
 *   R 0x10: all 4; bw 100 400 200 300 -> lower median 200; RUNNING 4/4 -> set, FAST 2/4 ->
 *           not (a tie is not a majority), VALID 3/4 -> set; geo 10 90 50 70 -> 50.
 *   R 0x20: 3 of 4 -> in; bw 10 20 30 -> 20; three digests once each -> the greatest (0xda)
 *           wins, a middle-only descriptor; GUARD 2/3 -> set, then masked (no entry role);
 *           MIDDLE 2/3 -> set.
 *   R 0x30: 2 of 4 -> out (half is not more than half).
 *   R 0x40: 3 of 4; 0xc1 listed twice beats the greater 0xc3 listed once; nickname from a
 *           0xc1 entry.
 *   params: a = 1 2 3 4 -> 2; b set by 2 of 4 -> out; c = 7 9 8 -> 8.
 */
static void
test_compute_rules(void **state)
{
	struct vote v[4];
	struct consensus c;
	const struct vote *vp[4];
	const struct relay_entry *r;
	struct relay_entry e[4][4];
	size_t n[4] = { 0 };
	const uint32_t bw10[4] = { 100, 400, 200, 300 }, geo10[4] = { 10, 90, 50, 70 };
	const uint16_t f10[4] = { RELAY_FLAG_RUNNING | RELAY_FLAG_FAST | RELAY_FLAG_VALID,
		                  RELAY_FLAG_RUNNING | RELAY_FLAG_FAST | RELAY_FLAG_VALID,
		                  RELAY_FLAG_RUNNING | RELAY_FLAG_VALID, RELAY_FLAG_RUNNING };
	const uint8_t dig20[3] = { 0xda, 0xd9, 0xd8 }, dig40[4] = { 0, 0xc1, 0xc1, 0xc3 };
	uint32_t val;

	(void)state;
	for (size_t a = 0; a < 4; a++) {
		mk_entry(&e[a][n[a]], 0x10, 0xd1, f10[a], bw10[a]);
		e[a][n[a]++].geo_confidence = (uint8_t)geo10[a];
	}
	for (size_t a = 0; a < 3; a++) {
		mk_entry(&e[a][n[a]], 0x20, dig20[a], RELAY_FLAG_GUARD | RELAY_FLAG_MIDDLE,
		         (uint32_t)(10 * (a + 1)));
		if (a == 0) {
			e[a][n[a]].roles = RELAY_ROLE_MIDDLE;
			e[a][n[a]].flags = RELAY_FLAG_MIDDLE;
		} else if (a == 2) {
			e[a][n[a]].flags = RELAY_FLAG_GUARD;
		}
		n[a]++;
	}
	for (size_t a = 0; a < 2; a++)
		mk_entry(&e[a][n[a]++], 0x30, 0xd3, RELAY_FLAG_RUNNING, 1);
	for (size_t a = 1; a < 4; a++) {
		mk_entry(&e[a][n[a]], 0x40, dig40[a], RELAY_FLAG_RUNNING, 5);
		snprintf(e[a][n[a]].nickname, sizeof(e[a][n[a]].nickname), "nick%02x", dig40[a]);
		n[a]++;
	}
	for (size_t a = 0; a < 4; a++) {
		mk_vote(&v[a], a, e[a], n[a]);
		vp[a] = &v[a];
		assert_int_equal(dir_params_set(&v[a].params, "a", (uint32_t)(a + 1)), UM_OK);
	}
	assert_int_equal(dir_params_set(&v[0].params, "b", 1), UM_OK);
	assert_int_equal(dir_params_set(&v[3].params, "b", 1), UM_OK);
	assert_int_equal(dir_params_set(&v[0].params, "c", 7), UM_OK);
	assert_int_equal(dir_params_set(&v[1].params, "c", 9), UM_OK);
	assert_int_equal(dir_params_set(&v[2].params, "c", 8), UM_OK);

	assert_int_equal(consensus_compute(vp, 4, N_AUTH, VA, FU, VU, &c), UM_OK);
	assert_int_equal(c.n_auths, 4);
	assert_int_equal(c.n_relays, 3);
	r = find_relay(&c, 0x10);
	assert_non_null(r);
	assert_int_equal(r->measured_bw, 200);
	assert_int_equal(r->flags, RELAY_FLAG_RUNNING | RELAY_FLAG_VALID);
	assert_int_equal(r->geo_confidence, 50);
	r = find_relay(&c, 0x20);
	assert_non_null(r);
	assert_int_equal(r->measured_bw, 20);
	assert_int_equal(r->desc_digest[0], 0xda);
	assert_int_equal(r->roles, RELAY_ROLE_MIDDLE);
	assert_int_equal(r->flags, RELAY_FLAG_MIDDLE);
	assert_null(find_relay(&c, 0x30));
	r = find_relay(&c, 0x40);
	assert_non_null(r);
	assert_int_equal(r->desc_digest[0], 0xc1);
	assert_string_equal(r->nickname, "nickc1");
	assert_int_equal(c.params.n, 2);
	assert_true(dir_params_get(&c.params, "a", &val));
	assert_int_equal(val, 2);
	assert_false(dir_params_get(&c.params, "b", &val));
	assert_true(dir_params_get(&c.params, "c", &val));
	assert_int_equal(val, 8);
	consensus_clear(&c);

	/* Quorum: 2 of 5 is a split, 3 of 5 is enough, 4 of 8 is not. */
	assert_int_equal(consensus_compute(vp, 2, N_AUTH, VA, FU, VU, &c), UM_ERR_STATE);
	assert_int_equal(consensus_compute(vp, 3, N_AUTH, VA, FU, VU, &c), UM_OK);
	consensus_clear(&c);
	assert_int_equal(consensus_compute(vp, 4, 8, VA, FU, VU, &c), UM_ERR_STATE);
	/* A vote for another period does not count towards the quorum. */
	v[2].valid_until_s = VU + 1;
	assert_int_equal(consensus_compute(vp, 3, N_AUTH, VA, FU, VU, &c), UM_ERR_STATE);
	v[2].valid_until_s = VU;
	/* Two votes from one authority, bad arguments. */
	vp[3] = &v[0];
	assert_int_equal(consensus_compute(vp, 4, N_AUTH, VA, FU, VU, &c), UM_ERR_INVALID);
	assert_int_equal(consensus_compute(vp, 3, 0, VA, FU, VU, &c), UM_ERR_INVALID);
	assert_int_equal(consensus_compute(vp, 3, 2, VA, FU, VU, &c), UM_ERR_INVALID);
	assert_int_equal(consensus_compute(vp, 3, N_AUTH, VA, VA, VU, &c), UM_ERR_INVALID);
	for (size_t a = 0; a < 4; a++)
		vote_clear(&v[a]);
}

/* Five votes that disagree on everything a vote can say. */
static void
votes_five(struct vote v[5])
{
	for (size_t a = 0; a < 5; a++) {
		struct relay_entry e[12];
		size_t n = 0;

		for (uint8_t id = 1; id <= 12; id++) {
			uint32_t x = (uint32_t)(id * 7 + a * 13);

			if ((x % 5) == 0)
				continue; /* not every voter lists every relay */
			if (id % 3 == 0)
				mk_exit(&e[n], id, (uint8_t)(x % 3), (uint16_t)(x * 37),
				        x * 101 % 997);
			else
				mk_entry(&e[n], id, (uint8_t)(x % 2), (uint16_t)(x * 37),
				         x * 31 % 1009);
			e[n].geo_confidence = (uint8_t)(x % 101);
			e[n].scores.uptime = (uint16_t)(x * 17 % 10001);
			n++;
		}
		mk_vote(&v[a], a, e, n);
		/* Issuers 1..4: not every voter lists each, and their blobs differ. */
		for (uint8_t id = 1; id <= 4; id++) {
			uint32_t x = (uint32_t)(id * 5 + a * 3);

			if ((x % 4) != 0)
				set_issuer(&v[a].issuers, id, (uint8_t)(x % 3), 16 + id);
		}
		assert_int_equal(dir_params_set(&v[a].params, "p", (uint32_t)(a * 3 % 5)), UM_OK);
		if (a % 2 == 0)
			assert_int_equal(dir_params_set(&v[a].params, "q", (uint32_t)a), UM_OK);
		assert_int_equal(vote_sign(&v[a], &S[a]), UM_OK);
	}
}

static bool
next_perm(size_t *p, size_t n)
{
	size_t i = n - 1, j = n - 1;

	while (i > 0 && p[i - 1] >= p[i])
		i--;
	if (i == 0)
		return false;
	while (p[j] <= p[i - 1])
		j--;
	size_t t = p[i - 1];
	p[i - 1] = p[j];
	p[j] = t;
	for (size_t a = i, b = n - 1; a < b; a++, b--) {
		t = p[a];
		p[a] = p[b];
		p[b] = t;
	}
	return true;
}

static void
test_compute_determinism(void **state)
{
	struct vote v[5];

	(void)state;
	votes_five(v);
	for (size_t k = 3; k <= 5; k++) {
		size_t perm[5] = { 0, 1, 2, 3, 4 }, count = 0;
		uint8_t *first = NULL, *buf;
		size_t first_len = 0, n;

		do {
			const struct vote *vp[5];
			struct consensus c;

			for (size_t i = 0; i < k; i++)
				vp[i] = &v[perm[i]];
			assert_int_equal(consensus_compute(vp, k, 5, VA, FU, VU, &c), UM_OK);
			/* Signing order must not matter either: sign in vote order. */
			for (size_t i = 0; i < k; i++)
				assert_int_equal(consensus_sign(&c, &C[perm[i]], &S[perm[i]]),
				                 UM_OK);
			n = encode_cons(&c, &buf);
			if (first == NULL) {
				first = buf;
				first_len = n;
				assert_true(c.n_relays > 3);
				assert_true(consensus_n_issuers(&c) > 0);
			} else {
				assert_int_equal(n, first_len);
				assert_memory_equal(buf, first, n);
				free(buf);
			}
			consensus_clear(&c);
			count++;
		} while (next_perm(perm, k));
		assert_int_equal(count, k == 3 ? 6 : k == 4 ? 24 : 120);
		free(first);
	}
	for (size_t a = 0; a < 5; a++)
		vote_clear(&v[a]);
}

/* A consensus of the three standard votes, signed by the listed (auth, key) pairs. */
static void
cons_signed(struct consensus *c, struct vote v[3])
{
	votes_three(v);
	compute3(v, c);
}

static void
test_verify_threshold(void **state)
{
	struct vote v[3];
	struct consensus c, base;
	struct pinned_authorities pins;
	struct consensus_verify_result res;
	struct auth_cert cache[2];

	(void)state;
	cons_signed(&base, v);
	pins_first(&pins, 3);

	/* 2 of 3 accepted, 1 of 3 refused. */
	c = base;
	assert_int_equal(consensus_sign(&c, &C[0], &S[0]), UM_OK);
	assert_int_equal(consensus_verify(&c, c.digest, &pins, 0, NOW, &res), UM_ERR_AUTH);
	assert_int_equal(res.n_signed, 1);
	assert_int_equal(res.auth[0].status, CONS_AUTH_SIGNED);
	assert_int_equal(res.auth[1].status, CONS_AUTH_NO_SIG);
	assert_int_equal(consensus_sign(&c, &C[2], &S[2]), UM_OK);
	assert_int_equal(consensus_verify(&c, c.digest, &pins, 0, NOW, &res), UM_OK);
	assert_int_equal(res.n_signed, 2);
	/* An explicit threshold of 3 is not met; one over the pins is a caller error. */
	assert_int_equal(consensus_verify(&c, c.digest, &pins, 3, NOW, &res), UM_ERR_AUTH);
	assert_int_equal(consensus_verify(&c, c.digest, &pins, 4, NOW, &res), UM_ERR_INVALID);
	pins.n = 0;
	assert_int_equal(consensus_verify(&c, c.digest, &pins, 0, NOW, &res), UM_ERR_INVALID);
	pins_first(&pins, 3);
	memcpy(pins.ids[2], pins.ids[0], 32);
	assert_int_equal(consensus_verify(&c, c.digest, &pins, 0, NOW, &res), UM_ERR_INVALID);
	pins_first(&pins, 3);

	/* An unpinned authority's valid signature is ignored (its certificate is cached). */
	c = base;
	assert_int_equal(consensus_sign(&c, &C[0], &S[0]), UM_OK);
	assert_int_equal(consensus_sign(&c, &C[4], &S[4]), UM_OK);
	cache[0] = C[4];
	pins.certs = cache;
	pins.n_certs = 1;
	assert_int_equal(consensus_verify(&c, c.digest, &pins, 0, NOW, &res), UM_ERR_AUTH);
	assert_int_equal(res.n_signed, 1);
	assert_int_equal(res.n_unpinned_sigs, 1);

	/* One authority signing twice (old and new key, both certified) counts once. */
	c = base;
	cache[0] = C0b;
	assert_int_equal(consensus_sign(&c, &C[0], &S[0]), UM_OK);
	assert_int_equal(consensus_sign(&c, &C0b, &S0b), UM_OK);
	assert_int_equal(c.n_sigs, 2);
	assert_int_equal(consensus_verify(&c, c.digest, &pins, 0, NOW, &res), UM_ERR_AUTH);
	assert_int_equal(res.n_signed, 1);
	/* Signing twice with the same key keeps one signature. */
	assert_int_equal(consensus_sign(&c, &C[0], &S[0]), UM_OK);
	assert_int_equal(c.n_sigs, 2);

	/* A key with no certificate anywhere, a bad signature. */
	c = base;
	pins.certs = NULL;
	pins.n_certs = 0;
	assert_int_equal(consensus_sign(&c, &C0b, &S0b), UM_OK);
	assert_int_equal(consensus_sign(&c, &C[1], &S[1]), UM_OK);
	c.sigs[c.sigs[0].identity[0] == A[1].pk[0] ? 0 : 1].sig[5] ^= 1;
	assert_int_equal(consensus_verify(&c, c.digest, &pins, 0, NOW, &res), UM_ERR_AUTH);
	assert_int_equal(res.auth[0].status, CONS_AUTH_NO_CERT);
	assert_int_equal(res.auth[1].status, CONS_AUTH_BAD_SIG);
	assert_string_equal(cons_auth_status_str(res.auth[1].status), "bad signature");
	/* A valid signature by a certificate that does not verify for that identity. */
	c = base;
	cache[0] = C0b;
	cache[0].sig[0] ^= 1;
	pins.certs = cache;
	pins.n_certs = 1;
	assert_int_equal(consensus_sign(&c, &C0b, &S0b), UM_OK);
	assert_int_equal(consensus_verify(&c, c.digest, &pins, 0, NOW, &res), UM_ERR_AUTH);
	assert_int_equal(res.auth[0].status, CONS_AUTH_CERT_INVALID);

	consensus_clear(&base);
	for (size_t a = 0; a < 3; a++)
		vote_clear(&v[a]);
}

/*
 * Rotation: authority 0 voted with its new key S0b (so the consensus carries C0b) but signs
 * the consensus with its previous key S[0], whose certificate the client has from the
 * authority's published keyring. Accepted while that certificate is valid, not after.
 */
static void
test_verify_rotated_key(void **state)
{
	struct vote v[3];
	struct consensus c;
	struct pinned_authorities pins;
	struct consensus_verify_result res;
	struct auth_keyring kr;
	struct auth_cert old;
	const struct vote *vp[3];
	const uint64_t old_exp = VA + 1800;

	(void)state;
	votes_three(v);
	/* The old certificate expires inside the consensus's validity. */
	assert_int_equal(auth_cert_make(&old, &A[0], S[0].pk, CERT_PUB, old_exp), UM_OK);
	assert_int_equal(auth_keyring_init(&kr, &old), UM_OK);
	assert_int_equal(auth_keyring_rotate(&kr, &C0b, NOW), UM_OK);
	v[0].cert = C0b;
	assert_int_equal(vote_sign(&v[0], &S0b), UM_OK);
	assert_int_equal(vote_verify(&v[0], NOW), UM_OK);
	for (size_t a = 0; a < 3; a++)
		vp[a] = &v[a];
	assert_int_equal(consensus_compute(vp, 3, N_AUTH, VA, FU, VU, &c), UM_OK);
	for (size_t i = 0; i < c.n_auths; i++) {
		if (memcmp(c.auths[i].identity, A[0].pk, 32) == 0)
			assert_memory_equal(c.auths[i].signing_key, S0b.pk, 32);
	}
	assert_int_equal(consensus_sign(&c, auth_keyring_find(&kr, S[0].pk), &S[0]), UM_OK);
	assert_int_equal(consensus_sign(&c, &C[1], &S[1]), UM_OK);
	pins_first(&pins, 3);
	/* Without the cache the old key is unknown. */
	assert_int_equal(consensus_verify(&c, c.digest, &pins, 0, NOW, &res), UM_ERR_AUTH);
	assert_int_equal(res.auth[0].status, CONS_AUTH_NO_CERT);
	pins.certs = kr.certs;
	pins.n_certs = kr.n_certs;
	assert_int_equal(consensus_verify(&c, c.digest, &pins, 0, NOW, &res), UM_OK);
	assert_int_equal(consensus_verify(&c, c.digest, &pins, 0, old_exp - 1, &res), UM_OK);
	assert_int_equal(consensus_verify(&c, c.digest, &pins, 0, old_exp, &res), UM_ERR_AUTH);
	assert_int_equal(res.auth[0].status, CONS_AUTH_CERT_EXPIRED);
	assert_int_equal(res.auth[1].status, CONS_AUTH_SIGNED);
	consensus_clear(&c);
	for (size_t a = 0; a < 3; a++)
		vote_clear(&v[a]);
}

static void
test_verify_altered_and_time(void **state)
{
	struct vote v[3];
	struct consensus c, p;
	struct pinned_authorities pins;
	struct consensus_verify_result res;
	uint8_t *buf;
	size_t n, parsed = 0;

	(void)state;
	cons_signed(&c, v);
	for (size_t a = 0; a < 3; a++)
		assert_int_equal(consensus_sign(&c, &C[a], &S[a]), UM_OK);
	n = encode_cons(&c, &buf);
	pins_first(&pins, 3);

	/* One altered bit anywhere in the signed part: refused (unparseable or unsigned). */
	for (size_t i = 0; i < c.signed_len; i++) {
		for (unsigned bit = 0; bit < 8; bit += 7) {
			buf[i] ^= (uint8_t)(1u << bit);
			if (consensus_parse(buf, n, &p) == (ssize_t)n) {
				parsed++;
				assert_int_equal(
				        consensus_verify(&p, p.digest, &pins, 0, NOW, &res),
				        UM_ERR_AUTH);
				assert_int_equal(res.n_signed, 0);
				consensus_clear(&p);
			}
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_true(parsed > c.signed_len / 2); /* most flips parse: signatures catch them */
	/* A verifier that hashes something else than what it parsed gets nothing either. */
	assert_int_equal(consensus_parse(buf, n, &p), (ssize_t)n);
	p.digest[0] ^= 1;
	assert_int_equal(consensus_verify(&p, p.digest, &pins, 0, NOW, &res), UM_ERR_AUTH);
	p.digest[0] ^= 1;
	/* One bad signature among three: the other two still carry it. */
	p.sigs[1].sig[0] ^= 1;
	assert_int_equal(consensus_verify(&p, p.digest, &pins, 0, NOW, &res), UM_OK);
	assert_int_equal(res.n_signed, 2);

	/* Clock: expired at valid_until, future-dated beyond the skew. */
	assert_int_equal(consensus_verify(&p, p.digest, &pins, 0, VU - 1, &res), UM_OK);
	assert_int_equal(consensus_verify(&p, p.digest, &pins, 0, VU, &res), UM_ERR_EXPIRED);
	assert_int_equal(res.time, CONS_TIME_EXPIRED);
	assert_int_equal(consensus_verify(&p, p.digest, &pins, 0, VA - CONS_CLOCK_SKEW_S, &res),
	                 UM_OK);
	assert_int_equal(res.time, CONS_TIME_OK);
	assert_int_equal(consensus_verify(&p, p.digest, &pins, 0, VA - CONS_CLOCK_SKEW_S - 1, &res),
	                 UM_ERR_EXPIRED);
	assert_int_equal(res.time, CONS_TIME_NOT_YET);
	consensus_clear(&p);
	free(buf);
	consensus_clear(&c);
	for (size_t a = 0; a < 3; a++)
		vote_clear(&v[a]);
}

static void
test_sig_order(void **state)
{
	struct vote v[3];
	struct consensus c;
	size_t perm[3] = { 0, 1, 2 };
	uint8_t *first = NULL, *buf;
	size_t first_len = 0, n;

	(void)state;
	cons_signed(&c, v);
	do {
		c.n_sigs = 0;
		for (size_t i = 0; i < 3; i++)
			assert_int_equal(consensus_sign(&c, &C[perm[i]], &S[perm[i]]), UM_OK);
		n = encode_cons(&c, &buf);
		if (first == NULL) {
			first = buf;
			first_len = n;
		} else {
			assert_int_equal(n, first_len);
			assert_memory_equal(first, buf, n);
			free(buf);
		}
	} while (next_perm(perm, 3));
	free(first);
	consensus_clear(&c);
	for (size_t a = 0; a < 3; a++)
		vote_clear(&v[a]);
}

static void
test_params_and_entry_helpers(void **state)
{
	struct dir_params p;
	uint32_t v = 0;

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_int_equal(dir_params_set(&p, "b", 2), UM_OK);
	assert_int_equal(dir_params_set(&p, "a_long_name", 1), UM_OK);
	assert_int_equal(dir_params_set(&p, "a", 0), UM_OK);
	assert_int_equal(dir_params_set(&p, "b", 3), UM_OK);
	assert_int_equal(p.n, 3);
	assert_string_equal(p.p[0].name, "a");
	assert_string_equal(p.p[1].name, "a_long_name");
	assert_true(dir_params_get(&p, "b", &v));
	assert_int_equal(v, 3);
	assert_int_equal(dir_params_set(&p, "", 1), UM_ERR_INVALID);
	assert_int_equal(dir_params_set(&p, "Upper", 1), UM_ERR_INVALID);
	assert_int_equal(dir_params_set(&p, "seventeen_chars_x", 1), UM_ERR_INVALID);
	for (int i = 0; p.n < DIR_PARAMS_MAX; i++) {
		char name[16];

		snprintf(name, sizeof(name), "k%d", i);
		assert_int_equal(dir_params_set(&p, name, 1), UM_OK);
	}
	assert_int_equal(dir_params_set(&p, "zz", 1), UM_ERR_TOO_LARGE);
	assert_int_equal(relay_entry_mask_flags(RELAY_FLAG_ALL, RELAY_ROLE_MIDDLE),
	                 RELAY_FLAG_ALL &
	                         ~(RELAY_FLAG_GUARD | RELAY_FLAG_EXIT | RELAY_FLAG_BADEXIT));
	assert_int_equal(relay_entry_mask_flags(0xffff, RELAY_ROLE_ALL), RELAY_FLAG_ALL);
}

/* --- issuer key lists ------------------------------------------------------------------- */

/* An issuer section written by hand: n, then (identity byte, length, fill) triples. */
static size_t
raw_issuers(uint8_t *buf, size_t cap, uint8_t n, const uint8_t *ids, const uint32_t *lens)
{
	struct wire_wr w;

	wire_wr_init(&w, buf, cap);
	assert_int_equal(wire_put_u8(&w, n), UM_OK);
	for (size_t i = 0; i < n; i++) {
		uint8_t ident[32];

		memset(ident, ids[i], sizeof(ident));
		assert_int_equal(wire_put_bytes(&w, ident, sizeof(ident)), UM_OK);
		assert_int_equal(wire_put_u32(&w, lens[i]), UM_OK);
		for (uint32_t k = 0; k < lens[i] && k < 64; k++)
			assert_int_equal(wire_put_u8(&w, (uint8_t)k), UM_OK);
	}
	return w.len;
}

static void
test_issuers_section(void **state)
{
	struct dir_issuers s, p, keep;
	const struct dir_issuer *e;
	uint8_t buf[2048], raw[1024], ident[32], digest[32];
	uint8_t big[DIR_ISSUER_DOC_MAX_LEN + 1];
	struct wire_wr w;
	struct wire_rd r;
	size_t n;

	(void)state;
	memset(&s, 0, sizeof(s));
	set_issuer(&s, 0x30, 0xaa, 100);
	set_issuer(&s, 0x10, 0xbb, 1);
	set_issuer(&s, 0x20, 0xcc, 300);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.v[0].identity[0], 0x10);
	assert_int_equal(s.v[1].identity[0], 0x20);
	assert_int_equal(s.v[2].identity[0], 0x30);
	hash_blake2b(digest, 32, s.v[0].doc, 1, NULL, 0);
	assert_memory_equal(s.v[0].digest, digest, 32);
	/* Replace one; and again from a view into its own blob. */
	set_issuer(&s, 0x20, 0xdd, 5);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.v[1].len, 5);
	assert_int_equal(s.v[1].doc[4], 0xdd);
	assert_int_equal(dir_issuers_set(&s, s.v[2].identity, s.v[2].doc + 10, 50), UM_OK);
	assert_int_equal(s.v[2].len, 50);
	assert_int_equal(s.v[2].doc[49], 0xaa);
	memset(ident, 0x20, 32);
	assert_non_null(e = dir_issuers_find(&s, ident));
	assert_int_equal(e->len, 5);
	memset(ident, 0x21, 32);
	assert_null(dir_issuers_find(&s, ident));
	/* Bad blobs; a ninth issuer. */
	memset(big, 0, sizeof(big));
	assert_int_equal(dir_issuers_set(&s, ident, big, 0), UM_ERR_INVALID);
	assert_int_equal(dir_issuers_set(&s, ident, NULL, 4), UM_ERR_INVALID);
	assert_int_equal(dir_issuers_set(&s, ident, big, sizeof(big)), UM_ERR_INVALID);
	assert_int_equal(dir_issuers_set(&s, ident, big, DIR_ISSUER_DOC_MAX_LEN), UM_OK);
	assert_int_equal(s.n, 4);
	for (uint8_t id = 0x40; s.n < DIR_MAX_ISSUERS; id++)
		set_issuer(&s, id, id, 2);
	memset(ident, 0x01, 32);
	assert_int_equal(dir_issuers_set(&s, ident, big, 3), UM_ERR_TOO_LARGE);
	assert_int_equal(s.n, DIR_MAX_ISSUERS);
	set_issuer(&s, 0x40, 0x99, 3); /* replacing still works when full */
	dir_issuers_clear(&s);
	dir_issuers_clear(&s);
	dir_issuers_clear(NULL);

	/* Round trip, canonical; every strict prefix is TRUNCATED. */
	set_issuer(&s, 0x30, 0xaa, 100);
	set_issuer(&s, 0x10, 0xbb, 1);
	n = dir_issuers_encoded_len(&s);
	assert_int_equal(n, 1 + 2 * 36 + 101);
	wire_wr_init(&w, buf, sizeof(buf));
	assert_int_equal(dir_issuers_encode(&s, &w), UM_OK);
	assert_int_equal(w.len, n);
	wire_rd_init(&r, buf, n);
	assert_int_equal(dir_issuers_parse(&r, &p), UM_OK);
	assert_int_equal(r.off, n);
	assert_int_equal(p.n, 2);
	assert_memory_equal(p.v[1].doc, s.v[1].doc, 100);
	assert_memory_equal(p.v[1].digest, s.v[1].digest, 32);
	dir_issuers_clear(&p);
	memset(&keep, 0x5c, sizeof(keep));
	p = keep;
	for (size_t cut = 0; cut < n; cut++) {
		wire_rd_init(&r, buf, cut);
		assert_int_equal(dir_issuers_parse(&r, &p), UM_ERR_TRUNCATED);
		assert_memory_equal(&p, &keep, sizeof(p)); /* untouched, nothing allocated */
	}
	/* The empty section is one byte. */
	memset(&p, 0, sizeof(p));
	assert_int_equal(dir_issuers_encoded_len(&p), 1);
	/* Malformed: too many, unsorted, duplicate, empty blob, blob over the cap. */
	{
		const uint8_t sorted[3] = { 1, 2, 3 }, unsorted[2] = { 2, 1 }, dup[2] = { 7, 7 };
		const uint32_t lens[3] = { 4, 4, 4 }, zero[1] = { 0 },
		               over[1] = { DIR_ISSUER_DOC_MAX_LEN + 1 };

		n = raw_issuers(raw, sizeof(raw), 3, sorted, lens);
		wire_rd_init(&r, raw, n);
		assert_int_equal(dir_issuers_parse(&r, &p), UM_OK);
		dir_issuers_clear(&p);
		raw[0] = DIR_MAX_ISSUERS + 1;
		wire_rd_init(&r, raw, n);
		assert_int_equal(dir_issuers_parse(&r, &p), UM_ERR_MALFORMED);
		n = raw_issuers(raw, sizeof(raw), 2, unsorted, lens);
		wire_rd_init(&r, raw, n);
		assert_int_equal(dir_issuers_parse(&r, &p), UM_ERR_MALFORMED);
		n = raw_issuers(raw, sizeof(raw), 2, dup, lens);
		wire_rd_init(&r, raw, n);
		assert_int_equal(dir_issuers_parse(&r, &p), UM_ERR_MALFORMED);
		n = raw_issuers(raw, sizeof(raw), 1, sorted, zero);
		wire_rd_init(&r, raw, n);
		assert_int_equal(dir_issuers_parse(&r, &p), UM_ERR_MALFORMED);
		n = raw_issuers(raw, sizeof(raw), 1, sorted, over);
		wire_rd_init(&r, raw, n);
		assert_int_equal(dir_issuers_parse(&r, &p), UM_ERR_MALFORMED);
	}
	/* The encoder refuses what the parser would. */
	free(s.v[0].doc);
	s.v[0].doc = NULL;
	assert_int_equal(dir_issuers_encoded_len(&s), 0);
	wire_wr_init(&w, buf, sizeof(buf));
	assert_int_equal(dir_issuers_encode(&s, &w), UM_ERR_INVALID);
	assert_int_equal(w.len, 0);
	dir_issuers_clear(&s);
}

/* Votes and consensuses carry the section, signed; consumers read it through accessors. */
static void
test_issuers_in_documents(void **state)
{
	struct vote v, p, three[3];
	struct consensus c, q;
	const uint8_t *id, *doc;
	uint8_t *buf, ident[32];
	size_t n, len, off;

	(void)state;
	vote_small(&v);
	set_issuer(&v.issuers, 0x71, 0x01, 120);
	set_issuer(&v.issuers, 0x70, 0x02, 80);
	assert_int_equal(vote_sign(&v, &S[0]), UM_OK);
	n = encode_vote(&v, &buf);
	maybe_write_corpus("fuzz_vote", "issuers", buf, n);
	assert_int_equal(vote_parse_verify(buf, n, NOW, &p), UM_OK);
	assert_int_equal(p.issuers.n, 2);
	assert_int_equal(p.issuers.v[0].identity[0], 0x70);
	assert_int_equal(p.issuers.v[1].len, 120);
	vote_clear(&p);
	for (size_t cut = 0; cut < n; cut += 7)
		assert_int_equal(vote_parse(buf, cut, &p), UM_ERR_TRUNCATED);
	/* A byte of a blob is signed like any other. */
	off = VOTE_HEADER_LEN + dir_params_encoded_len(&v.params) + 1 + 36 + 10;
	assert_int_equal(buf[off], 0x02);
	buf[off] ^= 1;
	assert_int_equal(vote_parse_verify(buf, n, NOW, &p), UM_ERR_AUTH);
	free(buf);
	/* A vote whose section breaks a rule neither encodes nor counts. */
	v.issuers.v[0].len = 0;
	assert_int_equal(vote_encoded_len(&v), 0);
	assert_int_equal(vote_sign(&v, &S[0]), UM_ERR_INVALID);
	v.issuers.v[0].len = 80;
	vote_clear(&v);

	/* The consensus of three votes that all list issuer 0x70 and two of which list 0x71. */
	votes_three(three);
	for (size_t a = 0; a < 3; a++) {
		set_issuer(&three[a].issuers, 0x70, 0x02, 80);
		if (a < 2)
			set_issuer(&three[a].issuers, 0x71, 0x01, 120);
		assert_int_equal(vote_sign(&three[a], &S[a]), UM_OK);
	}
	compute3(three, &c);
	for (size_t a = 0; a < 3; a++)
		assert_int_equal(consensus_sign(&c, &C[a], &S[a]), UM_OK);
	assert_int_equal(consensus_n_issuers(&c), 2);
	n = encode_cons(&c, &buf);
	maybe_write_corpus("fuzz_consensus", "issuers", buf, n);
	assert_int_equal(consensus_parse(buf, n, &q), (ssize_t)n);
	assert_memory_equal(q.digest, c.digest, DIR_DIGEST_LEN);
	{
		struct pinned_authorities pins;
		struct consensus_verify_result res;

		pins_first(&pins, 3);
		assert_int_equal(consensus_verify(&q, q.digest, &pins, 0, NOW, &res), UM_OK);
	}
	assert_int_equal(consensus_n_issuers(&q), 2);
	assert_int_equal(consensus_issuer(&q, 0, &id, &doc, &len), UM_OK);
	assert_int_equal(id[0], 0x70);
	assert_int_equal(len, 80);
	assert_int_equal(doc[79], 0x02);
	assert_int_equal(consensus_issuer(&q, 1, NULL, &doc, &len), UM_OK);
	assert_int_equal(len, 120);
	assert_int_equal(consensus_issuer(&q, 2, &id, &doc, &len), UM_ERR_NOT_FOUND);
	assert_null(id);
	assert_null(doc);
	assert_int_equal(len, 0);
	memset(ident, 0x71, 32);
	assert_int_equal(consensus_issuer_find(&q, ident, &doc, &len), UM_OK);
	assert_int_equal(len, 120);
	assert_int_equal(doc[0], 0x01);
	memset(ident, 0x72, 32);
	assert_int_equal(consensus_issuer_find(&q, ident, &doc, &len), UM_ERR_NOT_FOUND);
	assert_null(doc);
	consensus_clear(&q);
	for (size_t cut = 0; cut < n; cut += 5)
		assert_int_equal(consensus_parse(buf, cut, &q), UM_ERR_TRUNCATED);
	/* A byte of a blob changes the digest: the signatures no longer count. */
	off = c.signed_len - relay_entries_encoded_len(c.relays, c.n_relays) - 1;
	assert_int_equal(buf[off], 0x01);
	buf[off] ^= 1;
	assert_int_equal(consensus_parse(buf, n, &q), (ssize_t)n);
	{
		struct pinned_authorities pins;
		struct consensus_verify_result res;

		pins_first(&pins, 3);
		assert_int_equal(consensus_verify(&q, q.digest, &pins, 0, NOW, &res), UM_ERR_AUTH);
	}
	consensus_clear(&q);
	free(buf);
	consensus_clear(&c);
	for (size_t a = 0; a < 3; a++)
		vote_clear(&three[a]);
}

/* Which of the 40-byte blobs filled with fills[0..n-1] has the greatest BLAKE2b-256 digest. */
static size_t
greatest_digest(const uint8_t *fills, size_t n)
{
	uint8_t d[32], best[32];
	size_t at = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t doc[40];

		memset(doc, fills[i], sizeof(doc));
		hash_blake2b(d, 32, doc, sizeof(doc), NULL, 0);
		if (i == 0 || memcmp(d, best, 32) > 0) {
			memcpy(best, d, 32);
			at = i;
		}
	}
	return at;
}

static const struct dir_issuer *
find_issuer(const struct consensus *c, uint8_t id)
{
	uint8_t ident[32];

	memset(ident, id, sizeof(ident));
	return dir_issuers_find(&c->issuers, ident);
}

/*
 * 4 voters of N_AUTH = 5:
 *   I 0x11: all 4, one blob -> in, that blob.
 *   I 0x22: 3 of 4, blob 0xa1 twice, 0xa2 once -> 0xa1 whatever the digests' order.
 *   I 0x33: 2 of 4 -> out (half is not more than half).
 *   I 0x44: 3 of 4, three blobs once each -> the greatest digest.
 *   I 0x55: all 4, blobs 0xc1 0xc1 0xc2 0xc2 (a tie) -> the greater digest of the two.
 *   I 0x66: listed by nobody -> absent.
 * Then more than DIR_MAX_ISSUERS qualifying: those with the most voters, then the lowest ids.
 */
static void
test_compute_issuers(void **state)
{
	struct vote v[5];
	const struct vote *vp[5];
	struct consensus c;
	const struct dir_issuer *e;
	const uint8_t f44[3] = { 0xb1, 0xb2, 0xb3 }, f55[2] = { 0xc1, 0xc2 };
	struct relay_entry ent;

	(void)state;
	mk_entry(&ent, 0x10, 0xd1, RELAY_FLAG_RUNNING, 1);
	for (size_t a = 0; a < 4; a++) {
		mk_vote(&v[a], a, &ent, 1);
		vp[a] = &v[a];
		set_issuer(&v[a].issuers, 0x11, 0x5a, 40);
		if (a < 3)
			set_issuer(&v[a].issuers, 0x22, a < 2 ? 0xa1 : 0xa2, 40);
		if (a < 2)
			set_issuer(&v[a].issuers, 0x33, 0x01, 40);
		if (a > 0)
			set_issuer(&v[a].issuers, 0x44, f44[a - 1], 40);
		set_issuer(&v[a].issuers, 0x55, f55[a / 2], 40);
	}
	assert_int_equal(consensus_compute(vp, 4, N_AUTH, VA, FU, VU, &c), UM_OK);
	assert_int_equal(consensus_n_issuers(&c), 4);
	assert_non_null(e = find_issuer(&c, 0x11));
	assert_int_equal(e->doc[0], 0x5a);
	assert_non_null(e = find_issuer(&c, 0x22));
	assert_int_equal(e->doc[0], 0xa1);
	assert_null(find_issuer(&c, 0x33));
	assert_non_null(e = find_issuer(&c, 0x44));
	assert_int_equal(e->doc[0], f44[greatest_digest(f44, 3)]);
	assert_non_null(e = find_issuer(&c, 0x55));
	assert_int_equal(e->doc[0], f55[greatest_digest(f55, 2)]);
	assert_null(find_issuer(&c, 0x66));
	consensus_clear(&c);
	/* Any order of the votes, the same section (the whole document: test_compute_determinism).
	 */
	vp[0] = &v[3];
	vp[3] = &v[0];
	assert_int_equal(consensus_compute(vp, 4, N_AUTH, VA, FU, VU, &c), UM_OK);
	assert_non_null(e = find_issuer(&c, 0x44));
	assert_int_equal(e->doc[0], f44[greatest_digest(f44, 3)]);
	consensus_clear(&c);
	/* No voter lists an issuer: an empty section. */
	for (size_t a = 0; a < 4; a++)
		dir_issuers_clear(&v[a].issuers);
	assert_int_equal(consensus_compute(vp, 4, N_AUTH, VA, FU, VU, &c), UM_OK);
	assert_int_equal(consensus_n_issuers(&c), 0);
	consensus_clear(&c);
	/* A vote with a broken section is a caller error. */
	set_issuer(&v[1].issuers, 0x11, 0x5a, 40);
	v[1].issuers.v[0].len = 0;
	assert_int_equal(consensus_compute(vp, 4, N_AUTH, VA, FU, VU, &c), UM_ERR_INVALID);
	v[1].issuers.v[0].len = 40;
	for (size_t a = 0; a < 4; a++)
		vote_clear(&v[a]);

	/* Five voters (3 needed): issuers 20..24 listed by 4 each, 1..6 by 3 each: 11 qualify,
	 * 8 stay: 20..24 (most voters), then 1, 2, 3 (lowest identities). Each voter lists at
	 * most 8 (the listings are dealt to the voters holding the fewest). */
	{
		size_t held[5] = { 0 };
		const uint8_t ids[11] = { 20, 21, 22, 23, 24, 1, 2, 3, 4, 5, 6 };

		for (size_t a = 0; a < 5; a++) {
			mk_vote(&v[a], a, &ent, 1);
			vp[a] = &v[a];
		}
		for (size_t i = 0; i < 11; i++) {
			size_t want = ids[i] >= 20 ? 4 : 3;
			bool used[5] = { false };

			for (size_t k = 0; k < want; k++) {
				size_t best = 5;

				for (size_t a = 0; a < 5; a++)
					if (!used[a] && (best == 5 || held[a] < held[best]))
						best = a;
				assert_true(held[best] < DIR_MAX_ISSUERS);
				set_issuer(&v[best].issuers, ids[i], ids[i], 40);
				used[best] = true;
				held[best]++;
			}
		}
		assert_int_equal(consensus_compute(vp, 5, 5, VA, FU, VU, &c), UM_OK);
		assert_int_equal(consensus_n_issuers(&c), DIR_MAX_ISSUERS);
		for (size_t i = 0; i < 8; i++)
			assert_non_null(find_issuer(&c, ids[i]));
		for (size_t i = 8; i < 11; i++)
			assert_null(find_issuer(&c, ids[i]));
		assert_int_equal(c.issuers.v[0].identity[0], 1); /* ascending identity */
		assert_int_equal(c.issuers.v[7].identity[0], 24);
		consensus_clear(&c);
		for (size_t a = 0; a < 5; a++)
			vote_clear(&v[a]);
	}
}

static int
setup(void **state)
{
	(void)state;
	if (um_crypto_init() != UM_OK)
		return -1;
	for (size_t i = 0; i < N_AUTH; i++) {
		key_from_byte(&A[i], (uint8_t)(0x21 + i));
		key_from_byte(&S[i], (uint8_t)(0x31 + i));
		if (auth_cert_make(&C[i], &A[i], S[i].pk, CERT_PUB, CERT_EXP) != UM_OK)
			return -1;
	}
	key_from_byte(&S0b, 0x41);
	if (auth_cert_make(&C0b, &A[0], S0b.pk, CERT_PUB + 3600, CERT_EXP) != UM_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_AUTH; i++) {
		keys_ed25519_clear(&A[i]);
		keys_ed25519_clear(&S[i]);
	}
	keys_ed25519_clear(&S0b);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_authcert_vector),
		cmocka_unit_test(test_keyring_rotation),
		cmocka_unit_test(test_vote_vector),
		cmocka_unit_test(test_vote_malformed),
		cmocka_unit_test(test_consensus_vector),
		cmocka_unit_test(test_consensus_malformed),
		cmocka_unit_test(test_compute_rules),
		cmocka_unit_test(test_compute_determinism),
		cmocka_unit_test(test_verify_threshold),
		cmocka_unit_test(test_verify_rotated_key),
		cmocka_unit_test(test_verify_altered_and_time),
		cmocka_unit_test(test_sig_order),
		cmocka_unit_test(test_params_and_entry_helpers),
		cmocka_unit_test(test_issuers_section),
		cmocka_unit_test(test_issuers_in_documents),
		cmocka_unit_test(test_compute_issuers),
	};

	return cmocka_run_group_tests_name("consensus", tests, setup, teardown);
}
