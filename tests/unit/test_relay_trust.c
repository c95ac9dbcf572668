/* SPDX-License-Identifier: MIT */
/*
 * The relay-trust feed (PROTOCOL.md 19): the signed document (trust/relay_trust.h: round
 * trip, every strict prefix TRUNCATED, every rule and single-byte tamper refused, the wrong
 * issuer, a future or expired feed), the issuer's bindings and signed feed over a real store
 * (trust/issuer_relays.h: kinds, owners, audit rows, seq only moving on change), and the
 * authority's threshold counting (directory/dir_relay_trust.h). Writes the fuzz corpus seeds
 * when asked (UM_WRITE_CORPUS=dir).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "store/store.h"
#include "directory/dir_relay_trust.h"
#include "directory/relay_entry.h"
#include "trust/issuer.h"
#include "trust/issuer_relays.h"
#include "trust/issuer_roles.h"
#include "trust/relay_trust.h"

static void
doc_fill(struct relay_trust *d)
{
	memset(d, 0, sizeof(*d));
	d->version = RELAY_TRUST_VERSION;
	d->seq = 9;
	d->published_s = 1000;
	d->expires_s = 4600;
	d->n = 2;
	memset(d->v[0].node_id, 0x11, 32);
	d->v[0].bond = 500;
	d->v[0].reputation = -7;
	d->v[0].tier = 2;
	memset(d->v[1].node_id, 0x22, 32);
	d->v[1].disputed = true;
	d->v[1].tier = 1;
}

static size_t
encode(const struct relay_trust *d, uint8_t *buf)
{
	struct wire_wr w;

	wire_wr_init(&w, buf, RELAY_TRUST_MAX_LEN);
	assert_int_equal(relay_trust_encode(d, &w), UM_OK);
	return w.len;
}

static void
write_seed(const char *name, const uint8_t *p, size_t len)
{
	const char *dir = getenv("UM_WRITE_CORPUS");
	char path[512];
	FILE *f;

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "wb"));
	fwrite(p, 1, len, f);
	fclose(f);
}

static void
test_doc(void **state)
{
	struct keys_ed25519 id, other;
	struct relay_trust *d = calloc(1, sizeof(*d)), *got = calloc(1, sizeof(*got));
	uint8_t *buf = malloc(RELAY_TRUST_MAX_LEN);
	struct wire_wr w;
	size_t len;

	(void)state;
	keys_ed25519_generate(&id);
	keys_ed25519_generate(&other);
	doc_fill(d);
	assert_int_equal(relay_trust_sign(d, &id), UM_OK);
	len = encode(d, buf);
	assert_int_equal(len, RELAY_TRUST_MIN_LEN + 2 * RELAY_TRUST_ENTRY_LEN);
	write_seed("two_relays", buf, len);
	assert_int_equal(relay_trust_parse(buf, len, got), (ssize_t)len);
	assert_int_equal(relay_trust_parse_verify(buf, len, id.pk, 2000, got), UM_OK);
	assert_int_equal(got->seq, 9);
	assert_int_equal(got->n, 2);
	assert_int_equal(got->v[0].bond, 500);
	assert_int_equal(got->v[0].reputation, -7);
	assert_false(got->v[0].disputed);
	assert_true(got->v[1].disputed);
	/* Refusals: another issuer, the future, expiry, trailing bytes, too large. */
	assert_int_equal(relay_trust_parse_verify(buf, len, other.pk, 2000, got), UM_ERR_AUTH);
	assert_int_equal(relay_trust_parse_verify(buf, len, id.pk, 1000 - 301, got),
	                 UM_ERR_EXPIRED);
	assert_int_equal(relay_trust_parse_verify(buf, len, id.pk, 4600, got), UM_ERR_EXPIRED);
	buf[len] = 0;
	assert_int_equal(relay_trust_parse_verify(buf, len + 1, id.pk, 2000, got),
	                 UM_ERR_MALFORMED);
	assert_int_equal(relay_trust_parse_verify(buf, RELAY_TRUST_MAX_LEN + 1, id.pk, 2000, got),
	                 UM_ERR_TOO_LARGE);
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(relay_trust_parse(buf, cut, got), UM_ERR_TRUNCATED);
	/* Every single-bit change is refused, by a rule or by the signature. */
	for (size_t i = 0; i < len; i++) {
		buf[i] ^= 0x01;
		assert_int_not_equal(relay_trust_parse_verify(buf, len, id.pk, 2000, got), UM_OK);
		buf[i] ^= 0x01;
	}
	/* The rules, at encode (INVALID) and parse (MALFORMED). */
#define EXPECT_BAD(mutation, off, byte)                                               \
	do {                                                                          \
		doc_fill(d);                                                          \
		mutation;                                                             \
		wire_wr_init(&w, buf, RELAY_TRUST_MAX_LEN);                           \
		assert_int_equal(relay_trust_encode(d, &w), UM_ERR_INVALID);          \
		assert_int_equal(relay_trust_sign(d, &id), UM_ERR_INVALID);           \
		doc_fill(d);                                                          \
		len = encode(d, buf);                                                 \
		buf[off] = byte;                                                      \
		assert_int_equal(relay_trust_parse(buf, len, got), UM_ERR_MALFORMED); \
	} while (0)
	EXPECT_BAD(d->version = 2, 0, 2);
	EXPECT_BAD(memset(d->v[1].node_id, 0x11, 32), 59 + 46, 0x10);      /* duplicate, lower */
	EXPECT_BAD(d->v[1].node_id[0] = 0x01, 59 + 46, 0x01);              /* unsorted */
	EXPECT_BAD(d->v[0].bond = (uint64_t)INT64_MAX + 1, 59 + 32, 0x80); /* bond */
	EXPECT_BAD(d->v[0].tier = 0, 59 + 45, 0);                          /* tier */
	EXPECT_BAD(d->v[0].tier = 16, 59 + 45, 16);
	EXPECT_BAD(d->expires_s = d->published_s, 55, 0);         /* expires <= published */
	EXPECT_BAD(d->n = RELAY_TRUST_MAX_ENTRIES + 1, 57, 0xff); /* count */
#undef EXPECT_BAD
	doc_fill(d);
	len = encode(d, buf);
	buf[59 + 44] = 2; /* disputed is 0 or 1 */
	assert_int_equal(relay_trust_parse(buf, len, got), UM_ERR_MALFORMED);
	free(d);
	free(got);
	free(buf);
	keys_ed25519_clear(&id);
	keys_ed25519_clear(&other);
}

static void
test_issuer_feed(void **state)
{
	struct keys_ed25519 id;
	struct store *st = NULL;
	struct issuer *is = NULL;
	struct issuer_config cfg;
	struct issuer_rtfeed *f = NULL;
	struct relay_trust *got = calloc(1, sizeof(*got));
	uint8_t n1[32], n2[32];
	const uint8_t *doc;
	size_t len;
	char why[256];
	int64_t did = 0;
	const uint64_t now = 1700000000;

	(void)state;
	memset(n1, 0xaa, 32);
	memset(n2, 0x0b, 32);
	keys_ed25519_generate(&id);
	assert_int_equal(store_open(STORE_PATH_MEMORY, NULL, &st, why, sizeof(why)), UM_OK);
	issuer_config_defaults(&cfg);
	assert_int_equal(issuer_open(st, &cfg, &is, why, sizeof(why)), UM_OK);
	assert_int_equal(issuer_rtfeed_open(st, is, &id, 59, &f), UM_ERR_INVALID);
	assert_int_equal(issuer_rtfeed_open(st, is, &id, 3600, &f), UM_OK);
	assert_int_equal(
	        issuer_subject_upsert(is, "op", "relay-a", ISSUER_KIND_RELAY, 3, now, NULL), UM_OK);
	assert_int_equal(issuer_subject_upsert(is, "op", "alice", ISSUER_KIND_CLIENT, 3, now, NULL),
	                 UM_OK);
	/* Refusals: no subject, a client subject, bad actor; unbinding what is not bound. */
	assert_int_equal(issuer_relay_bind(is, "op", "nobody", n1, true, now), UM_ERR_NOT_FOUND);
	assert_int_equal(issuer_relay_bind(is, "op", "alice", n1, true, now), UM_ERR_STATE);
	assert_int_equal(issuer_relay_bind(is, "", "relay-a", n1, true, now), UM_ERR_INVALID);
	assert_int_equal(issuer_relay_bind(is, "op", "relay-a", n1, false, now), UM_ERR_NOT_FOUND);
	/* An empty feed first, seq 1. */
	assert_int_equal(issuer_rtfeed_doc(f, now, &doc, &len), UM_OK);
	assert_int_equal(relay_trust_parse_verify(doc, len, id.pk, now, got), UM_OK);
	assert_int_equal(got->seq, 1);
	assert_int_equal(got->n, 0);
	assert_int_equal(issuer_relay_bind(is, "op", "relay-a", n1, true, now), UM_OK);
	assert_int_equal(issuer_relay_bind(is, "op", "relay-a", n1, true, now), UM_OK); /* no-op */
	assert_int_equal(issuer_relay_bind(is, "op", "relay-a", n2, true, now), UM_OK);
	assert_int_equal(
	        issuer_subject_upsert(is, "op", "relay-b", ISSUER_KIND_RELAY, 1, now, NULL), UM_OK);
	assert_int_equal(issuer_relay_bind(is, "op", "relay-b", n1, true, now), UM_ERR_EXISTS);
	assert_int_equal(issuer_subject_adjust(is, "op", "relay-a", 12, 300, "", now), UM_OK);
	/* The same second: the cached document; the next: re-signed with the signals. */
	assert_int_equal(issuer_rtfeed_doc(f, now, &doc, &len), UM_OK);
	assert_int_equal(issuer_rtfeed_seq(f), 1);
	assert_int_equal(issuer_rtfeed_doc(f, now + 1, &doc, &len), UM_OK);
	assert_int_equal(relay_trust_parse_verify(doc, len, id.pk, now + 1, got), UM_OK);
	assert_int_equal(got->seq, 2);
	assert_int_equal(got->n, 2);
	assert_memory_equal(got->v[0].node_id, n2, 32); /* ascending */
	assert_int_equal(got->v[0].bond, 300);
	assert_int_equal(got->v[0].reputation, 12);
	assert_int_equal(got->v[0].tier, 3);
	assert_false(got->v[0].disputed);
	/* Unchanged: same seq; a dispute: a new seq, disputed and capped. */
	assert_int_equal(issuer_rtfeed_doc(f, now + 2, &doc, &len), UM_OK);
	assert_int_equal(issuer_rtfeed_seq(f), 2);
	assert_int_equal(issuer_dispute_open(is, "op", "relay-a", 1, 100, "c", "e", now + 2, &did),
	                 UM_OK);
	assert_int_equal(issuer_rtfeed_doc(f, now + 3, &doc, &len), UM_OK);
	assert_int_equal(relay_trust_parse_verify(doc, len, id.pk, now + 3, got), UM_OK);
	assert_int_equal(got->seq, 3);
	assert_true(got->v[1].disputed);
	assert_int_equal(got->v[1].tier, 1);
	/* The dispute expires with time: re-signed without any mutation. */
	assert_int_equal(issuer_rtfeed_doc(f, now + 200, &doc, &len), UM_OK);
	assert_int_equal(relay_trust_parse_verify(doc, len, id.pk, now + 200, got), UM_OK);
	assert_int_equal(got->seq, 4);
	assert_false(got->v[1].disputed);
	/* Half its lifetime: re-signed. */
	assert_int_equal(issuer_rtfeed_doc(f, now + 200 + 1800, &doc, &len), UM_OK);
	assert_int_equal(issuer_rtfeed_seq(f), 5);
	/* Unbinding leaves the feed; seq survives a reopen. */
	assert_int_equal(issuer_relay_bind(is, "op", "relay-a", n2, false, now), UM_OK);
	issuer_rtfeed_free(f);
	assert_int_equal(issuer_rtfeed_open(st, is, &id, 3600, &f), UM_OK);
	assert_int_equal(issuer_rtfeed_doc(f, now + 3000, &doc, &len), UM_OK);
	assert_int_equal(relay_trust_parse_verify(doc, len, id.pk, now + 3000, got), UM_OK);
	assert_int_equal(got->seq, 6);
	assert_int_equal(got->n, 1);
	assert_memory_equal(got->v[0].node_id, n1, 32);
	/* A revoked subject's relays: bond 0 and disputed (the issuer vouches for them no more). */
	assert_int_equal(issuer_subject_adjust(is, "op", "relay-a", 0, 50, "", now), UM_OK);
	assert_int_equal(issuer_subject_revoke(is, "op", "relay-a", true, "stolen key", now, NULL),
	                 UM_OK);
	assert_int_equal(issuer_rtfeed_doc(f, now + 3001, &doc, &len), UM_OK);
	assert_int_equal(relay_trust_parse_verify(doc, len, id.pk, now + 3001, got), UM_OK);
	assert_int_equal(got->seq, 7);
	assert_int_equal(got->v[0].bond, 0);
	assert_true(got->v[0].disputed);
	issuer_rtfeed_free(f);
	issuer_free(is);
	store_close(st);
	keys_ed25519_clear(&id);
	free(got);
}

static struct dir_rt_feed
feed(uint64_t expires, size_t n, const struct dir_rt_entry *v)
{
	struct dir_rt_feed f = { 1, 0, expires, n, NULL };

	f.v = calloc(n + 1, sizeof(*f.v));
	memcpy(f.v, v, n * sizeof(*v));
	return f;
}

static void
test_threshold(void **state)
{
	struct dir_rt_entry a = { { 1 }, 5, 0, false, 1 }, b = { { 2 }, 0, 0, true, 1 };
	struct dir_rt_entry a_weak = { { 1 }, 0, 0, true, 1 };
	struct dir_rt_entry both[2] = { a, b };
	struct dir_rt_feed f1 = feed(100, 2, both), f2 = feed(100, 1, &a),
	                   f3 = feed(50, 1, &a_weak);
	const struct dir_rt_feed *fs[4] = { &f1, &f2, &f3, NULL };
	size_t nb, nd;

	(void)state;
	assert_true(dir_rt_feed_is_valid(&f1));
	assert_non_null(dir_rt_feed_find(&f1, b.node_id));
	/* At 10 all three count; at 60 f3 has expired. */
	dir_rt_count(fs, 4, a.node_id, 1, 10, &nb, &nd);
	assert_int_equal(nb, 2);
	assert_int_equal(nd, 1);
	assert_int_equal(dir_rt_flags(fs, 4, a.node_id, 1, 2, 10), RELAY_FLAG_BONDED);
	assert_int_equal(dir_rt_flags(fs, 4, a.node_id, 1, 1, 10),
	                 RELAY_FLAG_BONDED | RELAY_FLAG_DISPUTED);
	assert_int_equal(dir_rt_flags(fs, 4, a.node_id, 1, 1, 60), RELAY_FLAG_BONDED);
	assert_int_equal(dir_rt_flags(fs, 4, a.node_id, 6, 1, 10),
	                 RELAY_FLAG_DISPUTED);                         /* bond_min */
	assert_int_equal(dir_rt_flags(fs, 4, a.node_id, 1, 3, 10), 0); /* threshold 3 */
	/* One issuer's signal alone does not reach a threshold of 2. */
	assert_int_equal(dir_rt_flags(fs, 4, b.node_id, 1, 2, 10), 0);
	assert_int_equal(dir_rt_flags(fs, 4, b.node_id, 1, 1, 10), RELAY_FLAG_DISPUTED);
	assert_int_equal(dir_rt_default_threshold(0), 1);
	assert_int_equal(dir_rt_default_threshold(1), 1);
	assert_int_equal(dir_rt_default_threshold(2), 2);
	assert_int_equal(dir_rt_default_threshold(3), 2);
	/* Out of order is not a valid feed. */
	f1.v[1] = a;
	assert_false(dir_rt_feed_is_valid(&f1));
	dir_rt_feed_clear(&f1);
	dir_rt_feed_clear(&f2);
	dir_rt_feed_clear(&f3);
	dir_rt_feed_clear(NULL);
	/* The new flags survive relay_entry_mask_flags for any roles. */
	assert_int_equal(relay_entry_mask_flags(RELAY_FLAG_BONDED | RELAY_FLAG_DISPUTED, 0),
	                 RELAY_FLAG_BONDED | RELAY_FLAG_DISPUTED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doc),
		cmocka_unit_test(test_issuer_feed),
		cmocka_unit_test(test_threshold),
	};

	if (um_crypto_init() != UM_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
