/* SPDX-License-Identifier: MIT */
/*
 * Consensus diffs (docs/PROTOCOL.md 5.7): a diff rebuilds the new document byte for byte
 * (relays added, removed, changed, unchanged; signatures and header changed), is small when
 * little changed, refuses another base, every strict prefix is TRUNCATED, and tampered
 * diffs (an op, a count, an added entry, the head or tail, the `to` digest) never produce
 * a document other than the one named.
 *
 * Set UM_CONS_CORPUS_DIR to fuzz/corpus to (re)write the seed corpus of fuzz_consensus_diff.
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
#include "lib/mem.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "directory/authority.h"
#include "directory/consensus.h"
#include "directory/consensus_diff.h"
#include "directory/relay_entry.h"
#include "../../fuzz/consensus_diff_seed.h"

enum {
	NOW = 1700000000,
	VA = NOW - 600,
};

static void
build(struct consensus *c, uint64_t va, uint32_t n, uint32_t changed_every, uint32_t drop_every,
      uint8_t **bytes, size_t *len)
{
	assert_int_equal(cdiff_seed_consensus(c, va, n, changed_every, drop_every), UM_OK);
	assert_int_equal(consensus_encode_new(c, bytes, len), UM_OK);
}

static void
roundtrip(uint32_t n_old, uint32_t n_new, uint32_t changed_every, uint32_t drop_every,
          size_t *diff_len_out, size_t *new_len_out)
{
	struct consensus a, b, got;
	uint8_t *ab, *bb, *diff, *out;
	size_t al, bl, dl, ol;

	build(&a, VA, n_old, 0, 0, &ab, &al);
	build(&b, VA + 3600, n_new, changed_every, drop_every, &bb, &bl);
	assert_int_equal(consensus_diff_make(&a, &b, bb, bl, &diff, &dl), UM_OK);
	assert_int_equal(consensus_diff_apply(&a, diff, dl, &got, &out, &ol), UM_OK);
	assert_int_equal(ol, bl);
	assert_memory_equal(out, bb, bl);
	assert_memory_equal(got.digest, b.digest, DIR_DIGEST_LEN);
	assert_int_equal(got.n_relays, b.n_relays);
	if (diff_len_out != NULL)
		*diff_len_out = dl;
	if (new_len_out != NULL)
		*new_len_out = bl;
	consensus_clear(&got);
	consensus_clear(&a);
	consensus_clear(&b);
	free(ab);
	free(bb);
	free(diff);
	free(out);
}

static void
test_roundtrips(void **state)
{
	size_t dl, bl;

	(void)state;
	roundtrip(0, 0, 0, 0, NULL, NULL);
	roundtrip(0, 10, 0, 0, NULL, NULL);
	roundtrip(10, 0, 0, 0, NULL, NULL);
	roundtrip(10, 10, 0, 0, NULL, NULL);
	roundtrip(10, 10, 3, 4, NULL, NULL);
	roundtrip(50, 80, 7, 5, NULL, NULL);
	roundtrip(80, 50, 2, 3, NULL, NULL);
	roundtrip(40, 40, 1, 0, NULL, NULL); /* every relay changed */
	/* Little changed: the diff is a small fraction of the document. */
	roundtrip(1000, 1000, 100, 0, &dl, &bl);
	assert_true(dl * 20 < bl);
}

static void
test_other_base_refused(void **state)
{
	struct consensus a, b, c, got;
	uint8_t *ab, *bb, *cb, *diff, *out = NULL;
	size_t al, bl, cl, dl, ol = 0;
	uint8_t from[DIR_DIGEST_LEN], to[DIR_DIGEST_LEN];

	(void)state;
	build(&a, VA, 20, 0, 0, &ab, &al);
	build(&b, VA + 3600, 20, 3, 0, &bb, &bl);
	build(&c, VA + 7200, 20, 2, 0, &cb, &cl);
	assert_int_equal(consensus_diff_make(&a, &b, bb, bl, &diff, &dl), UM_OK);
	assert_int_equal(consensus_diff_peek(diff, dl, from, to), UM_OK);
	assert_memory_equal(from, a.digest, DIR_DIGEST_LEN);
	assert_memory_equal(to, b.digest, DIR_DIGEST_LEN);
	assert_int_equal(consensus_diff_apply(&c, diff, dl, &got, &out, &ol), UM_ERR_MALFORMED);
	assert_null(out);
	free(diff);
	consensus_clear(&a);
	consensus_clear(&b);
	consensus_clear(&c);
	free(ab);
	free(bb);
	free(cb);
}

static void
test_prefixes_truncated(void **state)
{
	struct consensus a, b, got;
	uint8_t *ab, *bb, *diff, *out;
	size_t al, bl, dl, ol;

	(void)state;
	build(&a, VA, 12, 0, 0, &ab, &al);
	build(&b, VA + 3600, 14, 3, 4, &bb, &bl);
	assert_int_equal(consensus_diff_make(&a, &b, bb, bl, &diff, &dl), UM_OK);
	for (size_t n = 0; n < dl; n++) {
		uint8_t *copy = um_xmalloc(n + 1); /* exact length: ASan sees any over-read */

		memcpy(copy, diff, n);
		assert_int_equal(consensus_diff_apply(&a, copy, n, &got, &out, &ol),
		                 UM_ERR_TRUNCATED);
		free(copy);
	}
	free(diff);
	consensus_clear(&a);
	consensus_clear(&b);
	free(ab);
	free(bb);
}

/* Flip every byte in turn: the result is either refused or exactly the named document. */
static void
test_tampered(void **state)
{
	struct consensus a, b, got;
	uint8_t *ab, *bb, *diff, *out;
	size_t al, bl, dl, ol;
	size_t refused = 0;

	(void)state;
	build(&a, VA, 8, 0, 0, &ab, &al);
	build(&b, VA + 3600, 9, 2, 3, &bb, &bl);
	assert_int_equal(consensus_diff_make(&a, &b, bb, bl, &diff, &dl), UM_OK);
	for (size_t i = 0; i < dl; i++) {
		int ret;

		diff[i] ^= 0x01;
		ret = consensus_diff_apply(&a, diff, dl, &got, &out, &ol);
		if (ret == UM_OK) {
			/* Only a flip in a signature (the tail) can still give the `to` digest:
			 * signatures are outside the signed part, and the client verifies them. */
			assert_memory_equal(got.digest, b.digest, DIR_DIGEST_LEN);
			assert_true(i >= dl - (bl - b.signed_len));
			consensus_clear(&got);
			free(out);
		} else {
			assert_true(ret == UM_ERR_MALFORMED || ret == UM_ERR_TRUNCATED);
			refused++;
		}
		diff[i] ^= 0x01;
	}
	assert_true(refused > 0);
	/* Trailing bytes are refused. */
	diff = um_xrealloc(diff, dl + 1);
	diff[dl] = 0;
	assert_int_equal(consensus_diff_apply(&a, diff, dl + 1, &got, &out, &ol), UM_ERR_MALFORMED);
	free(diff);
	consensus_clear(&a);
	consensus_clear(&b);
	free(ab);
	free(bb);
}

/* The issuer key lists ride in the diff's head: added, changed or dropped, the client gets
 * exactly the new document. */
static void
test_issuers(void **state)
{
	/* (old issuers, old fill, new issuers, new fill, relays changed) */
	static const uint8_t cases[][5] = {
		{ 0, 0, 2, 0x10, 0 }, { 2, 0x10, 2, 0x10, 3 }, { 2, 0x10, 3, 0x20, 0 },
		{ 3, 0x20, 0, 0, 2 }, { 8, 0x30, 8, 0x31, 1 },
	};
	struct consensus a, b, got;
	uint8_t *ab, *bb, *diff, *out;
	size_t al, bl, dl, ol;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const uint8_t *k = cases[i];
		const uint8_t *doc;
		size_t len;

		assert_int_equal(cdiff_seed_consensus(&a, VA, 20, 0, 0), UM_OK);
		assert_int_equal(cdiff_seed_issuers(&a, k[0], k[1], 300), UM_OK);
		assert_int_equal(consensus_encode_new(&a, &ab, &al), UM_OK);
		assert_int_equal(cdiff_seed_consensus(&b, VA + 3600, 20, k[4], 0), UM_OK);
		assert_int_equal(cdiff_seed_issuers(&b, k[2], k[3], 300), UM_OK);
		assert_int_equal(consensus_encode_new(&b, &bb, &bl), UM_OK);
		assert_int_equal(consensus_diff_make(&a, &b, bb, bl, &diff, &dl), UM_OK);
		/* Whole, in the head: the diff is at least the new lists long. */
		assert_true(dl > (size_t)k[2] * 300);
		assert_int_equal(consensus_diff_apply(&a, diff, dl, &got, &out, &ol), UM_OK);
		assert_int_equal(ol, bl);
		assert_memory_equal(out, bb, bl);
		assert_memory_equal(got.digest, b.digest, DIR_DIGEST_LEN);
		assert_int_equal(consensus_n_issuers(&got), k[2]);
		if (k[2] > 0) {
			assert_int_equal(consensus_issuer(&got, 0, NULL, &doc, &len), UM_OK);
			assert_int_equal(len, 300);
			assert_int_equal(doc[0], (uint8_t)(k[3] + 1));
		}
		consensus_clear(&got);
		consensus_clear(&a);
		consensus_clear(&b);
		free(ab);
		free(bb);
		free(diff);
		free(out);
	}
}

static void
write_corpus(void **state)
{
	const char *dir = getenv("UM_CONS_CORPUS_DIR");
	struct consensus a, b;
	uint8_t *ab, *bb, *diff;
	size_t al, bl, dl;
	char path[512];
	FILE *f;

	(void)state;
	if (dir == NULL)
		return;
	build(&a, CDIFF_SEED_BASE_VA, CDIFF_SEED_BASE_N, 0, 0, &ab, &al);
	for (uint32_t k = 1; k <= 4; k++) {
		build(&b, CDIFF_SEED_BASE_VA + 3600, CDIFF_SEED_BASE_N + k, k, k + 1, &bb, &bl);
		/* Seeds 2 and 4 carry issuer key lists in their head. */
		if (k % 2 == 0) {
			free(bb);
			assert_int_equal(cdiff_seed_issuers(&b, (uint8_t)(k / 2), 0x40, 40), UM_OK);
			assert_int_equal(consensus_encode_new(&b, &bb, &bl), UM_OK);
		}
		assert_int_equal(consensus_diff_make(&a, &b, bb, bl, &diff, &dl), UM_OK);
		snprintf(path, sizeof(path), "%s/fuzz_consensus_diff/seed-%u", dir, (unsigned)k);
		f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(diff, 1, dl, f), dl);
		assert_int_equal(fclose(f), 0);
		free(diff);
		free(bb);
		consensus_clear(&b);
	}
	consensus_clear(&a);
	free(ab);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrips),
		cmocka_unit_test(test_other_base_refused),
		cmocka_unit_test(test_prefixes_truncated),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_issuers),
		cmocka_unit_test(write_corpus),
	};

	if (um_crypto_init() != UM_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
