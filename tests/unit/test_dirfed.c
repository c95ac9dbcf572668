/* SPDX-License-Identifier: MIT */
/*
 * Directory federation (src/directory/dirfed*.c, docs/PROTOCOL.md 12): the signed peer feed
 * (frozen vector, round trip, every prefix truncated, forgeries, clock, malformed rules),
 * peer URLs, the descriptor bundle (frozen ETag, same bytes whatever the input order, every
 * prefix truncated, malformed rules), discovery admission (distinct vs same operators,
 * retraction, replay, no admission by mutual vouching), the hop limit and the seen-set on
 * gossip, pull-sync imports with ETags, the push outbox, and the HTTP routes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "directory/dirfed.h"
#include "directory/dirserv.h"
#include "link/handshake.h"

enum {
	NOW = 1700000000,
	PUB = NOW - 600,
	CERT_PUB = NOW - 86400,
	CERT_EXP = NOW + 30 * 86400,
	N_DIR = 5,
	N_RELAY = 3,
};

static struct keys_ed25519 A[N_DIR], S[N_DIR], R[N_RELAY];
static struct keys_x25519 LK, ONION;
static struct auth_cert C[N_DIR];
static struct auth_keyring KR[N_DIR];

/* The frozen encoding of small_feed(). */
static const char feed_hex[] =
        "0101b533d8ad9fcfbdde0b481c1b334ddc3c53412fd614564e7e5afd020368d382c3705fbac01f5519899f43"
        "7bc42e40255ae9ab54bff00de3433af7d687d9e71ad50000000065529f8000000000657b7e00e185bef323a6"
        "24bc34a5c87326385b25b0ed74270d5e271ef2044c1fc777eaa12eb79336b7e5ce0ce83fcd4f2d386f437d74"
        "7b7ba74df8990080565ed482a40b505050505050505050505050505050505050505050505050505050505050"
        "5050000000006553f0c4000000006553f31c0265e8f9b0bc6eae124169f0576f97362d295a8cf5f770b45e14"
        "357ce647d33eec42424242424242424242424242424242424242424242424242424242424242421568747470"
        "3a2f2f3132372e302e302e313a38303032bc7cbcb5636375fa1d82434d466724d92377f53b980695dd49d26d"
        "0ce12205a5414141414141414141414141414141414141414141414141414141414141414111687474703a2f"
        "2f5b3a3a315d3a383030320e2072e891580eb759edb3b311be600525c8567008b418c1f35cfa35e6b1c24e7f"
        "7af006a20e4b354af5049193ce06987efa606b88898326b993b3abed7a5e03";
/* The frozen ETag of the bundle of relays 0..2 (hops 0, 1, 2). */
static const char bundle_etag_hex[] =
        "f1e107db871fb8b765f984e20f2281e729011986ec4acdabea4866267a58a836";

static void
seed_key(struct keys_ed25519 *k, uint8_t v)
{
	uint8_t s[32];

	memset(s, v, sizeof(s));
	keys_ed25519_from_seed(k, s);
}

static int
setup(void **state)
{
	uint8_t s[32];

	(void)state;
	if (um_crypto_init() != UM_OK)
		return -1;
	log_set_level(UM_LOG_ERR);
	for (int i = 0; i < N_DIR; i++) {
		seed_key(&A[i], (uint8_t)(0xa0 + i));
		seed_key(&S[i], (uint8_t)(0xb0 + i));
		if (auth_cert_make(&C[i], &A[i], S[i].pk, CERT_PUB, CERT_EXP) != UM_OK ||
		    auth_keyring_init(&KR[i], &C[i]) != UM_OK)
			return -1;
	}
	for (int i = 0; i < N_RELAY; i++)
		seed_key(&R[i], (uint8_t)(0x30 + i));
	memset(s, 0x02, sizeof(s));
	keys_x25519_from_secret(&LK, s);
	memset(s, 0x03, sizeof(s));
	keys_x25519_from_secret(&ONION, s);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (int i = 0; i < N_DIR; i++) {
		keys_ed25519_clear(&A[i]);
		keys_ed25519_clear(&S[i]);
	}
	for (int i = 0; i < N_RELAY; i++)
		keys_ed25519_clear(&R[i]);
	keys_x25519_clear(&LK);
	keys_x25519_clear(&ONION);
	return 0;
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

/* With UM_FED_CORPUS_DIR set, write b as a seed corpus file of a fuzz target. */
static void
maybe_write_corpus(const char *target, const char *name, const uint8_t *b, size_t n)
{
	const char *dir = getenv("UM_FED_CORPUS_DIR");
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

/* Relay r's descriptor published at pub (a middle relay at 127.0.0.1:9001+r). */
static size_t
make_desc(uint8_t *out, size_t cap, int r, uint64_t pub)
{
	struct relay_desc d;
	struct link_identity li;
	struct wire_wr w = { out, cap, 0 };

	memset(&d, 0, sizeof(d));
	d.version = RELAY_DESC_VERSION;
	memcpy(d.identity, R[r].pk, 32);
	d.published_s = pub;
	d.expires_s = pub + RELAY_DESC_LIFETIME_MAX_S;
	snprintf(d.nickname, sizeof(d.nickname), "relay%d", r);
	d.roles = RELAY_ROLE_MIDDLE;
	link_identity_init(&li, &R[r], &LK, CERT_EXP);
	memcpy(d.link_key, LK.pk, 32);
	d.link_cert_expires_s = CERT_EXP;
	memcpy(d.link_cert_sig, li.cert_sig, 64);
	memcpy(d.onion_key, ONION.pk, 32);
	d.n_addrs = 1;
	d.addrs[0].type = RELAY_ADDR_IPV4;
	d.addrs[0].addr[0] = 127;
	d.addrs[0].addr[3] = 1;
	d.addrs[0].port = (uint16_t)(9001 + r);
	d.policy4.kind = RELAY_POLICY_ACCEPT;
	d.policy6.kind = RELAY_POLICY_ACCEPT;
	d.bw = (struct relay_bw){ 200000, 400000, 150000 };
	memcpy(d.operator_id, R[r].pk, 32);
	strcpy(d.country, "DE");
	assert_int_equal(relay_desc_sign(&d, &R[r]), UM_OK);
	assert_int_equal(relay_desc_encode(&d, &w), UM_OK);
	return w.len;
}

/* ---- the peer feed ---- */

/* Directory d's feed listing directories list[0..n) (ids sorted by the caller), operator op. */
static void
mk_feed(struct peer_feed *f, int d, const int *list, size_t n, uint8_t op, uint64_t pub)
{
	memset(f, 0, sizeof(*f));
	f->version = PEER_FEED_VERSION;
	memset(f->operator_id, op, 32);
	f->published_s = pub;
	f->expires_s = pub + 600;
	for (size_t i = 0; i < n; i++) {
		struct peer_feed_entry *e = &f->peers[f->n_peers++];

		memcpy(e->identity, A[list[i]].pk, 32);
		memset(e->operator_id, 0x40 + list[i], 32);
		snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%d", 8000 + list[i]);
	}
	/* Entries strictly ascending by identity. */
	for (size_t i = 1; i < f->n_peers; i++)
		for (size_t k = i;
		     k > 0 && memcmp(f->peers[k - 1].identity, f->peers[k].identity, 32) > 0; k--) {
			struct peer_feed_entry t = f->peers[k];

			f->peers[k] = f->peers[k - 1];
			f->peers[k - 1] = t;
		}
	assert_int_equal(peer_feed_sign(f, &C[d], &S[d]), UM_OK);
}

static size_t
encode_feed(const struct peer_feed *f, uint8_t *buf, size_t cap)
{
	struct wire_wr w = { buf, cap, 0 };

	assert_int_equal(peer_feed_encode(f, &w), UM_OK);
	return w.len;
}

static void
small_feed(struct peer_feed *f)
{
	static const int list[] = { 1, 2 };

	mk_feed(f, 0, list, 2, 0x50, NOW - 60);
	snprintf(f->peers[1].url, sizeof(f->peers[1].url), "http://[::1]:8002");
	assert_int_equal(peer_feed_sign(f, &C[0], &S[0]), UM_OK);
}

static void
test_feed_vector(void **state)
{
	struct peer_feed f, p;
	uint8_t buf[PEER_FEED_MAX_LEN + 1], again[PEER_FEED_MAX_LEN];
	size_t n;

	(void)state;
	small_feed(&f);
	n = encode_feed(&f, buf, sizeof(buf));
	assert_hex(buf, n, feed_hex);
	maybe_write_corpus("fuzz_peer_feed", "small", buf, n);
	assert_int_equal(peer_feed_parse(buf, n, &p), (ssize_t)n);
	assert_int_equal(p.n_peers, 2);
	assert_string_equal(p.peers[1].url, "http://[::1]:8002");
	assert_int_equal(encode_feed(&p, again, sizeof(again)), n);
	assert_memory_equal(buf, again, n);
	assert_int_equal(peer_feed_parse_verify(buf, n, A[0].pk, NOW, &p), UM_OK);
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(peer_feed_parse(buf, cut, &p), UM_ERR_TRUNCATED);

	/* Whole-message rules: trailing bytes, size, who signed, clock, signature. */
	buf[n] = 0;
	assert_int_equal(peer_feed_parse_verify(buf, n + 1, A[0].pk, NOW, &p), UM_ERR_TRAILING);
	assert_int_equal(peer_feed_parse_verify(buf, PEER_FEED_MAX_LEN + 1, A[0].pk, NOW, &p),
	                 UM_ERR_TOO_LARGE);
	assert_int_equal(peer_feed_parse_verify(buf, n, A[1].pk, NOW, &p), UM_ERR_AUTH);
	assert_int_equal(peer_feed_parse_verify(buf, n, A[0].pk, f.expires_s, &p), UM_ERR_EXPIRED);
	assert_int_equal(peer_feed_parse_verify(buf, n, A[0].pk,
	                                        f.published_s - PEER_FEED_CLOCK_SKEW_S - 1, &p),
	                 UM_ERR_EXPIRED);
	assert_int_equal(peer_feed_parse_verify(buf, n, A[0].pk, CERT_EXP, &p), UM_ERR_EXPIRED);
	buf[n - 1] ^= 1;
	assert_int_equal(peer_feed_parse_verify(buf, n, A[0].pk, NOW, &p), UM_ERR_AUTH);
	buf[n - 1] ^= 1;
	/* A listed URL changed after signing (same length): the signature catches it. */
	assert_int_equal(buf[n - 64 - 2], '0');
	buf[n - 64 - 2] = '3';
	assert_int_equal(peer_feed_parse(buf, n, &p), (ssize_t)n);
	assert_int_equal(peer_feed_parse_verify(buf, n, A[0].pk, NOW, &p), UM_ERR_AUTH);
	buf[n - 64 - 2] = '0';
	/* Signed by a key the certificate does not name. */
	assert_int_equal(peer_feed_sign(&f, &C[0], &S[1]), UM_ERR_INVALID);
	assert_int_equal(peer_feed_sign(&f, &C[0], &A[0]), UM_ERR_INVALID);
}

static void
test_feed_malformed(void **state)
{
	struct peer_feed f, p;
	uint8_t buf[PEER_FEED_MAX_LEN], bad[PEER_FEED_MAX_LEN];
	const size_t off_pub = 1 + AUTHCERT_LEN + 32, off_n = off_pub + 16, off_e = off_n + 1;
	size_t n;

	(void)state;
	small_feed(&f);
	n = encode_feed(&f, buf, sizeof(buf));
#define EXPECT_MALFORMED(stmt)                                                   \
	do {                                                                     \
		memcpy(bad, buf, n);                                             \
		stmt;                                                            \
		assert_int_equal(peer_feed_parse(bad, n, &p), UM_ERR_MALFORMED); \
	} while (0)
	EXPECT_MALFORMED(bad[0] = 2); /* version */
	EXPECT_MALFORMED(bad[1] = 2); /* certificate version */
	EXPECT_MALFORMED(wire_store_u64(bad + off_pub + 8, f.published_s)); /* expires = pub */
	EXPECT_MALFORMED(wire_store_u64(bad + off_pub + 8, f.published_s + 86401));
	EXPECT_MALFORMED(bad[off_n] = PEER_FEED_MAX_PEERS + 1);
	EXPECT_MALFORMED(memcpy(bad + off_e, A[0].pk, 32)); /* lists its signer */
	EXPECT_MALFORMED(memset(bad + off_e, 0xff, 32));    /* not ascending */
	EXPECT_MALFORMED(bad[off_e + 64] = 0);              /* empty URL */
	EXPECT_MALFORMED(bad[off_e + 64] = PEER_FEED_URL_MAX + 1);
	EXPECT_MALFORMED(bad[off_e + 65 + 2] = 'x'); /* "htxp://" */
#undef EXPECT_MALFORMED
	/* The encoder refuses what the parser would. */
	p = f;
	memcpy(p.peers[0].identity, A[0].pk, 32);
	{
		struct wire_wr w = { bad, sizeof(bad), 0 };

		assert_int_equal(peer_feed_encode(&p, &w), UM_ERR_INVALID);
		assert_int_equal(w.len, 0);
	}
}

static void
test_url_rules(void **state)
{
	static const struct {
		const char *url;
		bool ok;
	} t[] = {
		{ "http://127.0.0.1:80", true },
		{ "http://[::1]:65535", true },
		{ "http://[2001:db8::1]:1", true },
		{ "http://127.0.0.1:0", false },
		{ "http://127.0.0.1:65536", false },
		{ "http://127.0.0.1:080", false },
		{ "http://127.0.0.1", false },
		{ "http://127.0.0.1:80/", false },
		{ "http://localhost:80", false },
		{ "http://::1:80", false },
		{ "http://[::1]80", false },
		{ "https://127.0.0.1:80", false },
		{ "HTTP://127.0.0.1:80", false },
		{ "http://127.000.0.1:80", false },
		{ "http://[::1]:", false },
		{ "http://:80", false },
		{ "", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (peer_feed_url_is_valid(t[i].url, strlen(t[i].url)) != t[i].ok)
			print_error("case %zu: %s\n", i, t[i].url);
		assert_int_equal(peer_feed_url_is_valid(t[i].url, strlen(t[i].url)), t[i].ok);
	}
	assert_false(peer_feed_url_is_valid("http://1.2.3.4:5\0", 17));
}

/* ---- the descriptor bundle ---- */

static void
test_bundle(void **state)
{
	uint8_t d[N_RELAY][RELAY_DESC_MAX_LEN];
	size_t len[N_RELAY];
	struct desc_bundle b, b2, p;
	struct desc_bundle_entry e[N_RELAY], rev[N_RELAY];
	uint8_t *enc = NULL, *enc2 = NULL, *again = NULL, *bad;
	size_t n = 0, n2 = 0, n3 = 0;
	char etag[65], etag2[65];

	(void)state;
	for (int r = 0; r < N_RELAY; r++) {
		len[r] = make_desc(d[r], sizeof(d[r]), r, PUB);
		e[r] = (struct desc_bundle_entry){ (uint8_t)r, d[r], len[r] };
		rev[N_RELAY - 1 - r] = e[r];
	}
	b = (struct desc_bundle){ 1, N_RELAY, e };
	b2 = (struct desc_bundle){ 1, N_RELAY, rev };
	assert_int_equal(desc_bundle_encode_new(&b, &enc, &n), UM_OK);
	assert_int_equal(desc_bundle_encode_new(&b2, &enc2, &n2), UM_OK);
	/* Same set, same bytes, same ETag, whatever the order they came in. */
	assert_int_equal(n, n2);
	assert_memory_equal(enc, enc2, n);
	desc_bundle_etag(enc, n, etag);
	desc_bundle_etag(enc2, n2, etag2);
	assert_string_equal(etag, etag2);
	if (strcmp(etag, bundle_etag_hex) != 0)
		printf("\ngot etag: %s\n", etag);
	assert_string_equal(etag, bundle_etag_hex);
	maybe_write_corpus("fuzz_desc_bundle", "three", enc, n);

	desc_bundle_init(&p);
	assert_int_equal(desc_bundle_parse(enc, n, &p), (ssize_t)n);
	assert_int_equal(p.n, N_RELAY);
	for (size_t i = 1; i < p.n; i++)
		assert_true(memcmp(p.e[i - 1].desc + 1, p.e[i].desc + 1, 32) < 0);
	assert_int_equal(desc_bundle_encode_new(&p, &again, &n3), UM_OK);
	assert_int_equal(n3, n);
	assert_memory_equal(again, enc, n);
	free(again);
	again = NULL;
	desc_bundle_clear(&p);
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(desc_bundle_parse(enc, cut, &p), UM_ERR_TRUNCATED);

	/* Malformed: version, count over the cap, hops over the cap, a zero length, a length
	 * that does not end where the descriptor does, entries out of order. */
	bad = um_xmalloc(n + 1);
#define EXPECT_MALFORMED(stmt, blen)                                                  \
	do {                                                                          \
		memcpy(bad, enc, n);                                                  \
		stmt;                                                                 \
		assert_int_equal(desc_bundle_parse(bad, blen, &p), UM_ERR_MALFORMED); \
	} while (0)
	EXPECT_MALFORMED(bad[0] = 2, n);
	EXPECT_MALFORMED(wire_store_u32(bad + 1, DESC_BUNDLE_MAX_DESCS + 1), n);
	EXPECT_MALFORMED(bad[5] = DESC_BUNDLE_MAX_HOPS + 1, n);
	EXPECT_MALFORMED(wire_store_u16(bad + 6, 0), n);
	EXPECT_MALFORMED(wire_store_u16(bad + 6, (uint16_t)(wire_load_u16(enc + 6) - 1)), n);
	EXPECT_MALFORMED(
	        (memcpy(bad + 5, enc + 5 + 3 + wire_load_u16(enc + 6),
	                n - 5 - 3 - wire_load_u16(enc + 6)),
	         memcpy(bad + n - 3 - wire_load_u16(enc + 6), enc + 5, 3 + wire_load_u16(enc + 6))),
	        n);
#undef EXPECT_MALFORMED
	/* A count that the bytes cannot hold is only TRUNCATED, and allocates little. */
	memcpy(bad, enc, 5);
	wire_store_u32(bad + 1, DESC_BUNDLE_MAX_DESCS);
	assert_int_equal(desc_bundle_parse(bad, 5, &p), UM_ERR_TRUNCATED);
	/* The encoder refuses two descriptors of one relay and non-descriptors. */
	e[1] = e[0];
	assert_int_equal(desc_bundle_encode_new(&b, &again, &n3), UM_ERR_INVALID);
	e[1] = (struct desc_bundle_entry){ 0, d[1], len[1] - 1 };
	assert_int_equal(desc_bundle_encode_new(&b, &again, &n3), UM_ERR_INVALID);
	free(bad);
	free(enc);
	free(enc2);
}

/* ---- the core ---- */

struct fixture {
	struct dirserv *ds;
	struct dirfed *fed;
};

/* Directory 0 with seeds A[1..n_seeds], min_operators min_ops. */
static void
fx_new(struct fixture *x, size_t n_seeds, uint32_t min_ops, uint32_t fanout)
{
	struct dirserv_config dcfg;
	struct dirfed_config fcfg;
	uint8_t ids[4][32];
	char urls[4][32];
	const char *up[4];
	char why[256] = "";

	dirserv_config_defaults(&dcfg);
	dcfg.db_path = STORE_PATH_MEMORY;
	dcfg.keyring = &KR[0];
	dcfg.signing = &S[0];
	dcfg.n_authorities = 1;
	dcfg.authorities = (const uint8_t(*)[32])KR[0].identity;
	dcfg.rate_burst = 100;
	assert_int_equal(dirserv_new(&dcfg, &x->ds, why, sizeof(why)), UM_OK);
	dirfed_config_defaults(&fcfg);
	fcfg.ds = x->ds;
	memcpy(fcfg.self_id, A[0].pk, 32);
	memset(fcfg.operator_id, 0x50, 32);
	for (size_t i = 0; i < n_seeds; i++) {
		memcpy(ids[i], A[1 + i].pk, 32);
		snprintf(urls[i], sizeof(urls[i]), "http://127.0.0.1:%zu", 8001 + i);
		up[i] = urls[i];
	}
	fcfg.n_seeds = n_seeds;
	fcfg.seed_ids = (const uint8_t(*)[32])ids;
	fcfg.seed_urls = up;
	fcfg.min_operators = min_ops;
	fcfg.fanout = fanout;
	assert_int_equal(dirfed_new(&fcfg, &x->fed, why, sizeof(why)), UM_OK);
}

static void
fx_free(struct fixture *x)
{
	dirfed_free(x->fed);
	dirserv_free(x->ds);
}

/* The status of peer A[d] at x, or NULL. */
static const struct dirfed_peer_status *
peer_status(struct fixture *x, int d, struct dirfed_peer_status *out)
{
	static struct dirfed_peer_status all[64];
	size_t n = dirfed_status(x->fed, NOW, all, 64, NULL);

	for (size_t i = 0; i < n; i++) {
		if (memcmp(all[i].identity, A[d].pk, 32) == 0) {
			*out = all[i];
			return out;
		}
	}
	return NULL;
}

/* Apply directory d's feed (operator op) listing list[0..n) to x, as a fetch would. */
static int
apply_feed(struct fixture *x, int d, const int *list, size_t n, uint8_t op, uint64_t pub)
{
	struct peer_feed f;
	uint8_t buf[PEER_FEED_MAX_LEN];
	size_t len;

	mk_feed(&f, d, list, n, op, pub);
	len = encode_feed(&f, buf, sizeof(buf));
	return dirfed_test_feed(x->fed, A[d].pk, buf, len, NOW);
}

static void
test_admission_needs_distinct_operators(void **state)
{
	struct fixture x;
	struct dirfed_peer_status st;
	static const int list3[] = { 3 };
	uint8_t buf[PEER_FEED_MAX_LEN];
	struct peer_feed f;
	size_t len;

	(void)state;
	fx_new(&x, 2, 2, 2); /* seeds A1, A2; two operators needed */
	/* A1 (operator 0x61) lists A3: a candidate with one operator. */
	assert_int_equal(apply_feed(&x, 1, list3, 1, 0x61, NOW - 10), UM_OK);
	assert_non_null(peer_status(&x, 3, &st));
	assert_false(st.admitted);
	assert_int_equal(st.n_operators, 1);
	assert_string_equal(st.url, "http://127.0.0.1:8003");
	/* A2 under the same operator: still one operator, still a candidate. */
	assert_int_equal(apply_feed(&x, 2, list3, 1, 0x61, NOW - 10), UM_OK);
	assert_non_null(peer_status(&x, 3, &st));
	assert_false(st.admitted);
	assert_int_equal(st.n_sightings, 2);
	assert_int_equal(st.n_operators, 1);
	/* A2 under its own operator: admitted. */
	assert_int_equal(apply_feed(&x, 2, list3, 1, 0x62, NOW - 5), UM_OK);
	assert_non_null(peer_status(&x, 3, &st));
	assert_true(st.admitted);
	assert_int_equal(st.n_operators, 2);
	/* Our own feed now lists A3 too (seeds and admitted peers). */
	{
		struct ev_http_resp resp = { 0 };

		dirserv_handle(x.ds, "GET", "/v1/peers/feed", NULL, NULL, 0, "t", NOW, &resp);
		assert_int_equal(resp.status, 200);
		assert_int_equal(peer_feed_parse_verify(resp.body, resp.body_len, A[0].pk, NOW, &f),
		                 UM_OK);
		assert_int_equal(f.n_peers, 3);
		free(resp.body);
	}
	/* An older feed from A2 is a replay: refused, nothing changes. */
	assert_int_equal(apply_feed(&x, 2, NULL, 0, 0x62, NOW - 6), UM_ERR_REPLAY);
	assert_true(peer_status(&x, 3, &st)->admitted);
	/* A feed not signed by the lister we asked: refused. */
	mk_feed(&f, 4, NULL, 0, 0x62, NOW);
	len = encode_feed(&f, buf, sizeof(buf));
	assert_int_equal(dirfed_test_feed(x.fed, A[2].pk, buf, len, NOW), UM_ERR_AUTH);
	/* A2 retracts A3: back to a candidate. A1 retracts it too: gone. */
	assert_int_equal(apply_feed(&x, 2, NULL, 0, 0x62, NOW), UM_OK);
	assert_non_null(peer_status(&x, 3, &st));
	assert_false(st.admitted);
	assert_int_equal(apply_feed(&x, 1, NULL, 0, 0x61, NOW), UM_OK);
	assert_null(peer_status(&x, 3, &st));
	assert_int_equal(dirfed_n_peers(x.fed), 2);
	fx_free(&x);
}

static void
test_admission_no_mutual_vouching(void **state)
{
	struct fixture x;
	struct dirfed_peer_status st;
	static const int l3[] = { 3 }, l4[] = { 4 };

	(void)state;
	fx_new(&x, 2, 2, 2);
	/* A1 lists A3, A2 lists A4; A3 and A4 list each other. Each has one trusted operator
	 * and one sighting from an untrusted candidate: neither gets in. */
	assert_int_equal(apply_feed(&x, 1, l3, 1, 0x61, NOW), UM_OK);
	assert_int_equal(apply_feed(&x, 2, l4, 1, 0x62, NOW), UM_OK);
	assert_int_equal(apply_feed(&x, 3, l4, 1, 0x63, NOW), UM_OK);
	assert_int_equal(apply_feed(&x, 4, l3, 1, 0x64, NOW), UM_OK);
	assert_false(peer_status(&x, 3, &st)->admitted);
	assert_int_equal(st.n_sightings, 2);
	assert_int_equal(st.n_operators, 1);
	assert_false(peer_status(&x, 4, &st)->admitted);
	/* Once A2 also lists A3, A3 is in, and then its sighting of A4 counts: both in. */
	{
		static const int l34[] = { 3, 4 };

		assert_int_equal(apply_feed(&x, 2, l34, 2, 0x62, NOW + 1), UM_OK);
	}
	assert_true(peer_status(&x, 3, &st)->admitted);
	assert_true(peer_status(&x, 4, &st)->admitted);
	/* With discovery seen from min 1, a self-listing is never possible (parser rule) and
	 * our own id is ignored. */
	{
		static const int l0[] = { 0 };

		assert_int_equal(apply_feed(&x, 1, l0, 1, 0x61, NOW + 2), UM_OK);
		assert_null(peer_status(&x, 0, &st));
	}
	fx_free(&x);
}

/* The outbox, drained through dirfed_next_action(): n pushes of hops | desc. */
static size_t
drain_pushes(struct fixture *x, const uint8_t *desc, size_t len, uint8_t hops)
{
	struct dirfed_action *a = um_xmalloc(sizeof(*a));
	size_t n = 0;

	while (dirfed_next_action(x->fed, NOW, a) == UM_OK) {
		if (a->kind == DIRFED_ACT_PUSH) {
			assert_int_equal(a->body_len, 1 + len);
			assert_int_equal(a->body[0], hops);
			assert_memory_equal(a->body + 1, desc, len);
			assert_non_null(strstr(a->url, "/v1/gossip/desc"));
			dirfed_push_done(x->fed, a->peer, NOW, UM_OK, 200);
			n++;
		} else if (a->kind == DIRFED_ACT_FEED) {
			dirfed_feed_done(x->fed, a->peer, NOW, UM_ERR_TIMEOUT, 0, NULL, 0);
		} else {
			dirfed_sync_done(x->fed, a->peer, NOW, UM_OK, 304, NULL, NULL, 0);
		}
	}
	free(a);
	return n;
}

static void
test_gossip_hop_limit_and_seen_set(void **state)
{
	struct fixture x;
	struct dirserv_accept_result res;
	uint8_t d[RELAY_DESC_MAX_LEN], body[1 + RELAY_DESC_MAX_LEN], digest[32];
	struct ev_http_resp resp = { 0 };
	struct desc_bundle b;
	size_t len;
	bool is_new;

	(void)state;
	fx_new(&x, 3, 1, 2);
	len = make_desc(d, sizeof(d), 0, PUB);
	relay_desc_digest(d, len, digest);
	memcpy(body + 1, d, len);
	/* Held at hop 2 by the sender: stored at 3 > max_hops 2, refused before any work. */
	body[0] = 2;
	assert_int_equal(dirfed_gossip_receive(x.fed, body, 1 + len, "p", NOW, &is_new, &res),
	                 UM_ERR_STATE);
	assert_int_equal(res.http_status, 409);
	assert_string_equal(res.reason, "hop limit reached");
	assert_false(dirfed_test_seen(x.fed, digest, 16));
	/* A forged one (a signed byte changed) is refused and not remembered. */
	body[0] = 0;
	body[1 + 60] ^= 1;
	assert_int_equal(dirfed_gossip_receive(x.fed, body, 1 + len, "p", NOW, &is_new, &res),
	                 UM_ERR_AUTH);
	assert_int_equal(res.http_status, 400);
	body[1 + 60] ^= 1;
	/* Held at hop 1: stored at 2, new, pushed to 2 of the 3 peers. */
	body[0] = 1;
	assert_int_equal(dirfed_gossip_receive(x.fed, body, 1 + len, "p", NOW, &is_new, &res),
	                 UM_OK);
	assert_true(is_new);
	assert_true(dirfed_test_seen(x.fed, digest, 2));
	assert_false(dirfed_test_seen(x.fed, digest, 1));
	assert_int_equal(dirfed_test_outbox(x.fed), 2);
	assert_int_equal(drain_pushes(&x, d, len, 2), 2);
	/* The same again: seen, not new, nothing re-pushed (no loop). */
	assert_int_equal(dirfed_gossip_receive(x.fed, body, 1 + len, "p", NOW, &is_new, &res),
	                 UM_OK);
	assert_false(is_new);
	assert_int_equal(dirfed_test_outbox(x.fed), 0);
	/* The bundle serves it at hop 2; an upload takes it down to 0 (not re-pushed). */
	dirserv_handle(x.ds, "GET", "/v1/descs", NULL, NULL, 0, "t", NOW, &resp);
	assert_int_equal(resp.status, 200);
	desc_bundle_init(&b);
	assert_int_equal(desc_bundle_parse(resp.body, resp.body_len, &b), (ssize_t)resp.body_len);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.e[0].hops, 2);
	desc_bundle_clear(&b);
	free(resp.body);
	free(resp.etag);
	assert_int_equal(dirserv_accept_descriptor(x.ds, d, len, "u", NOW, &res), UM_OK);
	assert_false(res.stored);
	assert_true(dirfed_test_seen(x.fed, digest, 0));
	assert_int_equal(dirfed_test_outbox(x.fed), 0);
	memset(&resp, 0, sizeof(resp));
	dirserv_handle(x.ds, "GET", "/v1/descs", NULL, NULL, 0, "t", NOW, &resp);
	desc_bundle_init(&b);
	assert_int_equal(desc_bundle_parse(resp.body, resp.body_len, &b), (ssize_t)resp.body_len);
	assert_int_equal(b.e[0].hops, 0);
	desc_bundle_clear(&b);
	free(resp.body);
	free(resp.etag);
	/* A newer descriptor of the relay uploaded directly: pushed at hop 0. */
	len = make_desc(d, sizeof(d), 0, PUB + 1);
	assert_int_equal(dirserv_accept_descriptor(x.ds, d, len, "u", NOW, &res), UM_OK);
	assert_true(res.stored);
	assert_int_equal(drain_pushes(&x, d, len, 0), 2);
	/* Malformed pushes. */
	body[0] = DESC_BUNDLE_MAX_HOPS + 1;
	assert_int_equal(dirfed_gossip_receive(x.fed, body, 1 + len, "p", NOW, &is_new, &res),
	                 UM_ERR_MALFORMED);
	assert_int_equal(dirfed_gossip_receive(x.fed, body, 1, "p", NOW, &is_new, &res),
	                 UM_ERR_MALFORMED);
	assert_int_equal(dirfed_gossip_receive(x.fed, body, DIRFED_GOSSIP_MAX_LEN + 1, "p", NOW,
	                                       &is_new, &res),
	                 UM_ERR_TOO_LARGE);
	fx_free(&x);
}

static void
test_sync_imports_with_hops_and_etag(void **state)
{
	struct fixture x;
	struct dirfed_action *a = um_xmalloc(sizeof(*a));
	struct dirfed_peer_status st;
	uint8_t d[N_RELAY][RELAY_DESC_MAX_LEN];
	struct desc_bundle_entry e[N_RELAY];
	struct desc_bundle b;
	uint8_t *enc = NULL;
	size_t n = 0;
	bool synced = false;

	(void)state;
	fx_new(&x, 1, 1, 0); /* one seed, no pushes */
	for (int r = 0; r < N_RELAY; r++) {
		size_t len = make_desc(d[r], sizeof(d[r]), r, PUB);

		/* The peer holds relays 0, 1 at hop 0, relay 2 at hop 2 (ours would be 3). */
		e[r] = (struct desc_bundle_entry){ (uint8_t)(r == 2 ? 2 : 0), d[r], len };
	}
	b = (struct desc_bundle){ 1, N_RELAY, e };
	assert_int_equal(desc_bundle_encode_new(&b, &enc, &n), UM_OK);
	while (dirfed_next_action(x.fed, NOW, a) == UM_OK) {
		if (a->kind == DIRFED_ACT_FEED) {
			assert_string_equal(a->url, "http://127.0.0.1:8001/v1/peers/feed");
			dirfed_feed_done(x.fed, a->peer, NOW, UM_OK, 404, NULL, 0);
			continue;
		}
		assert_int_equal(a->kind, DIRFED_ACT_SYNC);
		assert_string_equal(a->url, "http://127.0.0.1:8001/v1/descs");
		assert_string_equal(a->etag, "");
		assert_int_equal(a->max_response, DESC_BUNDLE_MAX_LEN);
		dirfed_sync_done(x.fed, a->peer, NOW, UM_OK, 200, "\"e1\"", enc, n);
		synced = true;
	}
	assert_true(synced);
	assert_non_null(peer_status(&x, 1, &st));
	assert_int_equal(st.imported, 2);
	assert_string_equal(st.etag, "\"e1\"");
	assert_int_equal(st.last_sync_s, NOW);
	/* Nothing more is due until the interval passed; then the ETag goes along. */
	assert_int_equal(dirfed_next_action(x.fed, NOW + 1, a), UM_ERR_NOT_FOUND);
	assert_int_equal(dirfed_next_action(x.fed, NOW + 10, a), UM_OK);
	if (a->kind == DIRFED_ACT_FEED) {
		dirfed_feed_done(x.fed, a->peer, NOW + 10, UM_ERR_TIMEOUT, 0, NULL, 0);
		assert_int_equal(dirfed_next_action(x.fed, NOW + 10, a), UM_OK);
	}
	assert_int_equal(a->kind, DIRFED_ACT_SYNC);
	assert_string_equal(a->etag, "\"e1\"");
	/* A bundle that does not parse: an error, the peer backs off. */
	dirfed_sync_done(x.fed, a->peer, NOW + 10, UM_OK, 200, "\"e2\"", enc, n - 1);
	assert_non_null(peer_status(&x, 1, &st));
	assert_string_equal(st.error, "sync: the descriptor bundle does not parse");
	assert_int_equal(dirfed_next_action(x.fed, NOW + 19, a), UM_ERR_NOT_FOUND);
	/* Our own bundle: relays 0, 1 at hop 1; relay 2 refused. ETag and 304. */
	{
		struct ev_http_resp resp = { 0 };
		struct desc_bundle got;
		char *etag;

		dirserv_handle(x.ds, "GET", "/v1/descs", NULL, NULL, 0, "t", NOW, &resp);
		assert_int_equal(resp.status, 200);
		desc_bundle_init(&got);
		assert_int_equal(desc_bundle_parse(resp.body, resp.body_len, &got),
		                 (ssize_t)resp.body_len);
		assert_int_equal(got.n, 2);
		assert_int_equal(got.e[0].hops, 1);
		assert_int_equal(got.e[1].hops, 1);
		desc_bundle_clear(&got);
		etag = resp.etag;
		free(resp.body);
		memset(&resp, 0, sizeof(resp));
		dirserv_handle(x.ds, "GET", "/v1/descs", etag, NULL, 0, "t", NOW, &resp);
		assert_int_equal(resp.status, 304);
		assert_null(resp.body);
		free(resp.etag);
		free(etag);
	}
	free(enc);
	free(a);
	fx_free(&x);
}

static void
test_routes(void **state)
{
	struct fixture x;
	struct ev_http_resp resp = { 0 };
	struct peer_feed f;

	(void)state;
	fx_new(&x, 2, 1, 2);
	dirserv_handle(x.ds, "GET", "/v1/peers/feed", NULL, NULL, 0, "t", NOW, &resp);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "application/octet-stream");
	assert_int_equal(peer_feed_parse_verify(resp.body, resp.body_len, A[0].pk, NOW, &f), UM_OK);
	assert_int_equal(f.n_peers, 2);
	assert_memory_equal(f.operator_id, (uint8_t[32]){ [0 ... 31] = 0x50 }, 32);
	free(resp.body);
	/* The JSON view for people: both seeds, and the same signed feed in hex. */
	memset(&resp, 0, sizeof(resp));
	dirserv_handle(x.ds, "GET", "/v1/peers", NULL, NULL, 0, "t", NOW, &resp);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "application/json");
	{
		json_t *j = json_loadb((const char *)resp.body, resp.body_len, 0, NULL);

		assert_non_null(j);
		assert_int_equal(json_array_size(json_object_get(j, "peers")), 2);
		assert_string_equal(
		        json_string_value(json_object_get(
		                json_array_get(json_object_get(j, "peers"), 0), "state")),
		        "seed");
		assert_true(strlen(json_string_value(json_object_get(j, "feed"))) > 64);
		json_decref(j);
	}
	free(resp.body);
	memset(&resp, 0, sizeof(resp));
	dirserv_handle(x.ds, "POST", "/v1/peers", NULL, NULL, 0, "t", NOW, &resp);
	assert_int_equal(resp.status, 405);
	free(resp.body);
	memset(&resp, 0, sizeof(resp));
	dirserv_handle(x.ds, "GET", "/v1/gossip/desc", NULL, NULL, 0, "t", NOW, &resp);
	assert_int_equal(resp.status, 405);
	free(resp.body);
	memset(&resp, 0, sizeof(resp));
	dirserv_handle(x.ds, "POST", "/v1/gossip/desc", NULL, (const uint8_t *)"\0garbage", 8, "t",
	               NOW, &resp);
	assert_int_equal(resp.status, 400);
	free(resp.body);
	/* Without a federation core the routes are 404. */
	dirfed_free(x.fed);
	memset(&resp, 0, sizeof(resp));
	dirserv_handle(x.ds, "GET", "/v1/descs", NULL, NULL, 0, "t", NOW, &resp);
	assert_int_equal(resp.status, 404);
	free(resp.body);
	dirserv_free(x.ds);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_feed_vector),
		cmocka_unit_test(test_feed_malformed),
		cmocka_unit_test(test_url_rules),
		cmocka_unit_test(test_bundle),
		cmocka_unit_test(test_admission_needs_distinct_operators),
		cmocka_unit_test(test_admission_no_mutual_vouching),
		cmocka_unit_test(test_gossip_hop_limit_and_seen_set),
		cmocka_unit_test(test_sync_imports_with_hops_and_etag),
		cmocka_unit_test(test_routes),
	};

	return cmocka_run_group_tests_name("dirfed", tests, setup, teardown);
}
