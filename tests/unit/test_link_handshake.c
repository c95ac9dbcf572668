/* SPDX-License-Identifier: MIT */
/*
 * The link handshake (sans-I/O) and its wire formats: XK and NK end to end through
 * link_hs_*, records after Split, and every way a peer can be wrong: wrong static key,
 * forged or expired certificate, unexpected identity, identity in msg1, tampered preamble,
 * bad framing; hello and frame parsers: known vector, round trip, every prefix truncated.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "link/handshake.h"
#include "link/link_msg.h"
#include "link/record.h"

enum { NOW = 1700000000, EXPIRES = NOW + 86400 };

struct node {
	struct keys_ed25519 id;
	struct keys_x25519 lk;
	struct link_identity li;
};

static void
node_init(struct node *n)
{
	keys_ed25519_generate(&n->id);
	keys_x25519_generate(&n->lk);
	link_identity_init(&n->li, &n->id, &n->lk, EXPIRES);
}

static void
node_clear(struct node *n)
{
	keys_ed25519_clear(&n->id);
	keys_x25519_clear(&n->lk);
}

/* Move bytes between the two sides until both are done or one fails; returns that error. */
static int
run(struct link_hs *ini, struct link_hs *res, uint8_t *tamper_at_byte)
{
	uint8_t wire[LINK_HS_OUT_MAX], out[LINK_HS_OUT_MAX];
	size_t len = 0, consumed, out_len;
	struct link_hs *to = res, *from = ini;
	int ret;
	size_t total = 0;

	if ((ret = link_hs_start(ini, wire, sizeof(wire), &len)) != UM_OK)
		return ret;
	while (len > 0) {
		if (tamper_at_byte != NULL && *tamper_at_byte >= total &&
		    *tamper_at_byte < total + len)
			wire[*tamper_at_byte - total] ^= 0x01;
		total += len;
		ret = link_hs_input(to, wire, len, &consumed, out, sizeof(out), &out_len, NOW);
		if (ret != UM_OK)
			return ret;
		/* A corrupted length field leaves the receiver waiting for bytes that never come:
		 * on a real link the handshake timeout ends it. */
		if (consumed != len)
			return UM_ERR_TRUNCATED;
		memcpy(wire, out, out_len);
		len = out_len;
		struct link_hs *t = to;
		to = from;
		from = t;
	}
	return UM_OK;
}

static void
test_link_hs_xk_and_records(void **state)
{
	struct node a, b;
	struct link_hs ini, res;
	struct noise_cs s1, r1, s2, r2;
	struct link_rec ra, rb;
	uint8_t cell[CELL_LEN], rec[LINK_RECORD_LEN], back[CELL_LEN];

	(void)state;
	node_init(&a);
	node_init(&b);
	assert_int_equal(
	        link_hs_init_initiator(&ini, LINK_PATTERN_XK, &a.li, b.lk.pk, b.id.pk, NULL),
	        UM_OK);
	assert_int_equal(link_hs_init_responder(&res, &b.li, LINK_ACCEPT_XK | LINK_ACCEPT_NK, NULL),
	                 UM_OK);
	assert_int_equal(run(&ini, &res, NULL), UM_OK);
	assert_true(link_hs_is_done(&ini));
	assert_true(link_hs_is_done(&res));
	/* Each side learned the other's identity and key. */
	assert_memory_equal(ini.peer_id, b.id.pk, 32);
	assert_memory_equal(res.peer_id, a.id.pk, 32);
	assert_memory_equal(res.peer_static, a.lk.pk, 32);
	assert_true(res.peer_identified);

	assert_int_equal(link_hs_split(&ini, &s1, &r1), UM_OK);
	assert_int_equal(link_hs_split(&res, &s2, &r2), UM_OK);
	link_rec_init(&ra, &s1, &r1);
	link_rec_init(&rb, &s2, &r2);
	/* Across two rekey boundaries, both directions. */
	for (uint32_t i = 0; i < 2 * LINK_REKEY_INTERVAL + 5; i++) {
		wire_store_u32(cell, i);
		memset(cell + 4, (int)(i & 0xff), sizeof(cell) - 4);
		assert_int_equal(link_rec_seal(&ra, cell, rec), UM_OK);
		assert_int_equal(link_rec_open(&rb, rec, back), UM_OK);
		if (i % 4096 == 0)
			assert_memory_equal(back, cell, CELL_LEN);
	}
	assert_int_equal(ra.rekeys_tx, 2);
	assert_int_equal(rb.rekeys_rx, 2);
	assert_int_equal(link_rec_seal(&rb, cell, rec), UM_OK);
	assert_int_equal(link_rec_open(&ra, rec, back), UM_OK);
	assert_memory_equal(back, cell, CELL_LEN);
	/* Replaying a record fails: the nonce moved on. */
	assert_int_equal(link_rec_open(&ra, rec, back), UM_ERR_AUTH);
	link_rec_clear(&ra);
	link_rec_clear(&rb);
	link_hs_clear(&ini);
	link_hs_clear(&res);
	node_clear(&a);
	node_clear(&b);
}

static bool
all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i] != 0)
			return false;
	return true;
}

/* Split wipes the Noise state (ephemeral and static private keys, chaining key) at once: an
 * open link must not carry what could recover its keys until it is freed. */
static void
test_link_hs_split_wipes_noise_state(void **state)
{
	struct node a, b;
	struct link_hs ini, res;
	struct noise_cs s1, r1, s2, r2;

	(void)state;
	node_init(&a);
	node_init(&b);
	assert_int_equal(
	        link_hs_init_initiator(&ini, LINK_PATTERN_XK, &a.li, b.lk.pk, b.id.pk, NULL),
	        UM_OK);
	assert_int_equal(link_hs_init_responder(&res, &b.li, LINK_ACCEPT_XK, NULL), UM_OK);
	assert_int_equal(run(&ini, &res, NULL), UM_OK);
	assert_false(all_zero(ini.noise.e_priv, sizeof(ini.noise.e_priv)));
	assert_int_equal(link_hs_split(&ini, &s1, &r1), UM_OK);
	assert_int_equal(link_hs_split(&res, &s2, &r2), UM_OK);
	assert_true(all_zero(&ini.noise, sizeof(ini.noise)));
	assert_true(all_zero(&res.noise, sizeof(res.noise)));
	/* The results stay; a second split has nothing left to split. */
	assert_true(link_hs_is_done(&ini));
	assert_memory_equal(ini.peer_id, b.id.pk, 32);
	assert_memory_equal(res.peer_static, a.lk.pk, 32);
	noise_cs_clear(&s1);
	noise_cs_clear(&r1);
	assert_int_equal(link_hs_split(&ini, &s1, &r1), UM_ERR_STATE);
	noise_cs_clear(&s2);
	noise_cs_clear(&r2);
	link_hs_clear(&ini);
	link_hs_clear(&res);
	node_clear(&a);
	node_clear(&b);
}

/* A direction refuses record 2^48 (both to seal and to open): the link must re-handshake
 * before the nonce can run out. Record 2^48 - 1 still goes through, with no rekey (it is not
 * a multiple of the interval), so both ends stay in step up to the limit. */
static void
test_link_rec_refuses_record_2_pow_48(void **state)
{
	struct node a, b;
	struct link_hs ini, res;
	struct noise_cs s1, r1, s2, r2;
	struct link_rec ra, rb;
	uint8_t cell[CELL_LEN], rec[LINK_RECORD_LEN], back[CELL_LEN];
	const uint64_t last = ((uint64_t)1 << LINK_MAX_RECORDS_LOG2) - 1;

	(void)state;
	node_init(&a);
	node_init(&b);
	assert_int_equal(link_hs_init_initiator(&ini, LINK_PATTERN_NK, NULL, b.lk.pk, NULL, NULL),
	                 UM_OK);
	assert_int_equal(link_hs_init_responder(&res, &b.li, LINK_ACCEPT_NK, NULL), UM_OK);
	assert_int_equal(run(&ini, &res, NULL), UM_OK);
	assert_int_equal(link_hs_split(&ini, &s1, &r1), UM_OK);
	assert_int_equal(link_hs_split(&res, &s2, &r2), UM_OK);
	link_rec_init(&ra, &s1, &r1);
	link_rec_init(&rb, &s2, &r2);
	ra.send.n = last;
	rb.recv.n = last;
	memset(cell, 0x5a, sizeof(cell));
	assert_int_equal(link_rec_seal(&ra, cell, rec), UM_OK);
	assert_int_equal(link_rec_open(&rb, rec, back), UM_OK);
	assert_memory_equal(back, cell, CELL_LEN);
	assert_int_equal(ra.rekeys_tx, 0);
	assert_int_equal(link_rec_seal(&ra, cell, rec), UM_ERR_STATE);
	assert_int_equal(link_rec_open(&rb, rec, back), UM_ERR_STATE);
	assert_int_equal(ra.send.n, last + 1);
	assert_int_equal(rb.recv.n, last + 1);
	link_rec_clear(&ra);
	link_rec_clear(&rb);
	link_hs_clear(&ini);
	link_hs_clear(&res);
	node_clear(&a);
	node_clear(&b);
}

static void
test_link_hs_nk_anonymous(void **state)
{
	struct node b;
	struct link_hs ini, res;

	(void)state;
	node_init(&b);
	assert_int_equal(link_hs_init_initiator(&ini, LINK_PATTERN_NK, NULL, b.lk.pk, NULL, NULL),
	                 UM_OK);
	assert_int_equal(link_hs_init_responder(&res, &b.li, LINK_ACCEPT_NK, NULL), UM_OK);
	assert_int_equal(run(&ini, &res, NULL), UM_OK);
	assert_true(link_hs_is_done(&ini));
	assert_true(link_hs_is_done(&res));
	assert_false(res.peer_identified);
	assert_memory_equal(ini.peer_id, b.id.pk, 32);
	link_hs_clear(&ini);
	link_hs_clear(&res);

	/* A responder that only takes XK refuses NK at the preamble. */
	assert_int_equal(link_hs_init_initiator(&ini, LINK_PATTERN_NK, NULL, b.lk.pk, NULL, NULL),
	                 UM_OK);
	assert_int_equal(link_hs_init_responder(&res, &b.li, LINK_ACCEPT_XK, NULL), UM_OK);
	assert_int_equal(run(&ini, &res, NULL), UM_ERR_PROTOCOL);
	link_hs_clear(&ini);
	link_hs_clear(&res);
	node_clear(&b);
}

static void
test_link_hs_wrong_keys_refused(void **state)
{
	struct node a, b, c;
	struct link_hs ini, res;
	struct link_identity forged;
	uint8_t msg[LINK_CERT_MSG_LEN];

	(void)state;
	node_init(&a);
	node_init(&b);
	node_init(&c);
	/* Initiator dials b's address with c's link key: msg1 does not decrypt. */
	assert_int_equal(link_hs_init_initiator(&ini, LINK_PATTERN_XK, &a.li, c.lk.pk, NULL, NULL),
	                 UM_OK);
	assert_int_equal(link_hs_init_responder(&res, &b.li, LINK_ACCEPT_XK, NULL), UM_OK);
	assert_int_equal(run(&ini, &res, NULL), UM_ERR_AUTH);
	link_hs_clear(&ini);
	link_hs_clear(&res);

	/* Expected identity differs from the responder's certified one. */
	assert_int_equal(
	        link_hs_init_initiator(&ini, LINK_PATTERN_XK, &a.li, b.lk.pk, c.id.pk, NULL),
	        UM_OK);
	assert_int_equal(link_hs_init_responder(&res, &b.li, LINK_ACCEPT_XK, NULL), UM_OK);
	assert_int_equal(run(&ini, &res, NULL), UM_ERR_AUTH);
	link_hs_clear(&ini);
	link_hs_clear(&res);

	/* The initiator claims c's identity with a certificate c never signed for a's key. */
	forged = a.li;
	memcpy(forged.id, c.id.pk, 32);
	assert_int_equal(
	        link_hs_init_initiator(&ini, LINK_PATTERN_XK, &forged, b.lk.pk, NULL, NULL), UM_OK);
	assert_int_equal(link_hs_init_responder(&res, &b.li, LINK_ACCEPT_XK, NULL), UM_OK);
	assert_int_equal(run(&ini, &res, NULL), UM_ERR_AUTH);
	link_hs_clear(&ini);
	link_hs_clear(&res);

	/* c's genuine certificate, but for c's key, presented with a's static key. */
	forged = c.li;
	forged.static_priv = a.lk.sk;
	memcpy(forged.static_pub, a.lk.pk, 32);
	assert_int_equal(
	        link_hs_init_initiator(&ini, LINK_PATTERN_XK, &forged, b.lk.pk, NULL, NULL), UM_OK);
	assert_int_equal(link_hs_init_responder(&res, &b.li, LINK_ACCEPT_XK, NULL), UM_OK);
	assert_int_equal(run(&ini, &res, NULL), UM_ERR_AUTH);
	link_hs_clear(&ini);
	link_hs_clear(&res);

	/* An expired certificate (properly signed). */
	forged = b.li;
	forged.cert_expires = NOW - 1;
	link_cert_msg(msg, forged.id, forged.static_pub, forged.cert_expires);
	sign_ed25519(&b.id, msg, sizeof(msg), forged.cert_sig);
	assert_int_equal(link_hs_init_initiator(&ini, LINK_PATTERN_XK, &a.li, b.lk.pk, NULL, NULL),
	                 UM_OK);
	assert_int_equal(link_hs_init_responder(&res, &forged, LINK_ACCEPT_XK, NULL), UM_OK);
	assert_int_equal(run(&ini, &res, NULL), UM_ERR_EXPIRED);
	link_hs_clear(&ini);
	link_hs_clear(&res);
	node_clear(&a);
	node_clear(&b);
	node_clear(&c);
}

static void
test_link_hs_any_flipped_bit_fails(void **state)
{
	struct node a, b;
	struct link_hs ini, res;

	(void)state;
	node_init(&a);
	node_init(&b);
	/* preamble 2 + msg1 frame 2+48+4 + msg2 frame ... flip one byte at a time. */
	for (uint8_t at = 0; at < 200; at += 7) {
		int ret;

		assert_int_equal(
		        link_hs_init_initiator(&ini, LINK_PATTERN_XK, &a.li, b.lk.pk, NULL, NULL),
		        UM_OK);
		assert_int_equal(link_hs_init_responder(&res, &b.li, LINK_ACCEPT_XK, NULL), UM_OK);
		ret = run(&ini, &res, &at);
		assert_true(ret != UM_OK);
		link_hs_clear(&ini);
		link_hs_clear(&res);
	}
	node_clear(&a);
	node_clear(&b);
}

static void
test_link_hs_partial_input(void **state)
{
	struct node a, b;
	struct link_hs ini, res;
	uint8_t wire[LINK_HS_OUT_MAX], out[LINK_HS_OUT_MAX];
	size_t len, consumed, out_len;

	(void)state;
	node_init(&a);
	node_init(&b);
	assert_int_equal(link_hs_init_initiator(&ini, LINK_PATTERN_XK, &a.li, b.lk.pk, NULL, NULL),
	                 UM_OK);
	assert_int_equal(link_hs_start(&ini, wire, sizeof(wire), &len), UM_OK);
	/* Every strict prefix of the first flight waits for more (consumes at most the preamble).
	 */
	for (size_t cut = 0; cut < len; cut++) {
		assert_int_equal(link_hs_init_responder(&res, &b.li, LINK_ACCEPT_XK, NULL), UM_OK);
		assert_int_equal(
		        link_hs_input(&res, wire, cut, &consumed, out, sizeof(out), &out_len, NOW),
		        UM_OK);
		assert_true(consumed <= LINK_PREAMBLE_LEN);
		assert_int_equal(out_len, 0);
		link_hs_clear(&res);
	}
	link_hs_clear(&ini);
	node_clear(&a);
	node_clear(&b);
}

static void
test_link_hello_vector_roundtrip_prefixes(void **state)
{
	struct link_hello h, p;
	uint8_t buf[256];
	struct wire_wr w;
	static const uint8_t ext[] = { 7, 0, 2, 'h', 'i' };
	ssize_t n;

	(void)state;
	memset(&h, 0, sizeof(h));
	h.version = LINK_VERSION;
	wire_wr_init(&w, buf, sizeof(buf));
	assert_int_equal(link_hello_encode(&h, &w), UM_OK);
	/* Known vector: the anonymous hello is four bytes. */
	assert_int_equal(w.len, 4);
	assert_memory_equal(buf, "\x01\x00\x00\x00", 4);

	h.flags = HELLO_F_IDENTITY;
	memset(h.identity, 0x11, 32);
	h.cert_expires = 0x0102030405060708ull;
	memset(h.cert_sig, 0x22, 64);
	h.ext = ext;
	h.ext_len = sizeof(ext);
	wire_wr_init(&w, buf, sizeof(buf));
	assert_int_equal(link_hello_encode(&h, &w), UM_OK);
	assert_int_equal(w.len, 2 + 32 + 8 + 64 + 2 + sizeof(ext));
	assert_memory_equal(buf + 34, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	n = link_hello_parse(buf, w.len, &p);
	assert_int_equal(n, (ssize_t)w.len);
	assert_memory_equal(p.identity, h.identity, 32);
	assert_int_equal(p.cert_expires, h.cert_expires);
	assert_memory_equal(p.ext, ext, sizeof(ext));
	for (size_t cut = 0; cut < w.len; cut++)
		assert_int_equal(link_hello_parse(buf, cut, &p), UM_ERR_TRUNCATED);
	/* Malformed: wrong version, unknown flag, bad extension TLV. */
	buf[0] = 2;
	assert_int_equal(link_hello_parse(buf, w.len, &p), UM_ERR_MALFORMED);
	buf[0] = 1;
	buf[1] = 0x81;
	assert_int_equal(link_hello_parse(buf, w.len, &p), UM_ERR_MALFORMED);
	buf[1] = HELLO_F_IDENTITY;
	buf[w.len - sizeof(ext) + 2] = 9; /* ext TLV claims 9 bytes */
	assert_int_equal(link_hello_parse(buf, w.len, &p), UM_ERR_MALFORMED);
}

static void
test_link_frame_parse(void **state)
{
	uint8_t f[2 + 60];
	const uint8_t *body;
	size_t blen;

	(void)state;
	memset(f, 0xaa, sizeof(f));
	wire_store_u16(f, 60);
	assert_int_equal(link_frame_parse(f, sizeof(f), &body, &blen), 62);
	assert_int_equal(blen, 60);
	for (size_t cut = 0; cut < sizeof(f); cut++)
		assert_int_equal(link_frame_parse(f, cut, &body, &blen), UM_ERR_TRUNCATED);
	wire_store_u16(f, 47);
	assert_int_equal(link_frame_parse(f, sizeof(f), &body, &blen), UM_ERR_MALFORMED);
	wire_store_u16(f, LINK_HS_MAX_FRAME + 1);
	assert_int_equal(link_frame_parse(f, sizeof(f), &body, &blen), UM_ERR_MALFORMED);
}

static void
test_link_cert_cache(void **state)
{
	struct node a;
	struct link_cert_cache *cache = calloc(1, sizeof(*cache));
	uint8_t bad[64];

	(void)state;
	node_init(&a);
	assert_int_equal(link_cert_verify(cache, a.li.id, a.li.static_pub, a.li.cert_expires,
	                                  a.li.cert_sig, NOW),
	                 UM_OK);
	assert_int_equal(link_cert_verify(cache, a.li.id, a.li.static_pub, a.li.cert_expires,
	                                  a.li.cert_sig, NOW),
	                 UM_OK);
	assert_int_equal(cache->hits, 1);
	/* A different signature is never a hit, and fails. */
	memcpy(bad, a.li.cert_sig, 64);
	bad[3] ^= 1;
	assert_int_equal(
	        link_cert_verify(cache, a.li.id, a.li.static_pub, a.li.cert_expires, bad, NOW),
	        UM_ERR_AUTH);
	/* Expiry is checked before the cache. */
	assert_int_equal(link_cert_verify(cache, a.li.id, a.li.static_pub, a.li.cert_expires,
	                                  a.li.cert_sig, a.li.cert_expires),
	                 UM_ERR_EXPIRED);
	free(cache);
	node_clear(&a);
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
		cmocka_unit_test(test_link_hs_xk_and_records),
		cmocka_unit_test(test_link_hs_split_wipes_noise_state),
		cmocka_unit_test(test_link_rec_refuses_record_2_pow_48),
		cmocka_unit_test(test_link_hs_nk_anonymous),
		cmocka_unit_test(test_link_hs_wrong_keys_refused),
		cmocka_unit_test(test_link_hs_any_flipped_bit_fails),
		cmocka_unit_test(test_link_hs_partial_input),
		cmocka_unit_test(test_link_hello_vector_roundtrip_prefixes),
		cmocka_unit_test(test_link_frame_parse),
		cmocka_unit_test(test_link_cert_cache),
	};

	return cmocka_run_group_tests_name("link_handshake", tests, setup, NULL);
}
