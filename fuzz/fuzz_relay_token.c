/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the exit's side of RELAY_TOKEN (docs/PROTOCOL.md 17.5): the input is a TOKEN's Data
 * (issuer [32] | token). relay_token_parse() may only say OK, TRUNCATED (under 32 bytes) or
 * MALFORMED (over 486); what parses writes back to the same bytes. The token then goes to a
 * verifier (in-memory spent set) that trusts one issuer (identity from a fixed seed) with one
 * key, the fixed 2048-bit key of fuzz_token.c, for (tier 1, epoch 1) with min_token_epoch 1:
 * the verdict must be UNKNOWN_ISSUER for any other issuer, UNAVAILABLE for bytes token_parse()
 * refuses, REFUSED_EPOCH for epoch 0, INVALID otherwise, never ACCEPTED (a forgery) nor a
 * double spend. The same input as a TOKEN_ACK must parse only as 2 bytes that keep the
 * status / tier rule, and write back to them.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/wire.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "store/store.h"
#include "trust/issuer_doc.h"
#include "trust/token.h"
#include "trust/token_verifier.h"
#include "circuit/relay_msg.h"

/* fuzz_token.c's key, key_id c627f438...966020d7. */
static const char fixed_spki[] =
        "30820122300d06092a864886f70d01010105000382010f003082010a0282010100d49e1d0d832e3d"
        "57bf3d2a6a2775418f682f77994ec247e0bf7855acb27cf4aa9b16aa69c84e8dcee28a9b32346ee6"
        "ca9939b3ab031c5cd91fbac28565b503b8ca1513fa566873e93c6efcbf818f7a22120309e52e2f28"
        "d65f4f48c18bd2a2ee3c63895c18cb6d0717f22e61c6594e16077ad0b14da88fdd97035c5d262308"
        "0d2376bc311d404514eb4a49d2e4adec735d02f94ead992d6d2c8ade4a913c8c521a2beefe346533"
        "c5b19d1f547d6f2fc8cc019be70f3af3d198e46f2bd503300b93481cbea6135864f7b8a7d13b7981"
        "61f818e71f5a386c369d042f159527f586bbcc766cd883a9438731efbfca4a019b02022c03f44b15"
        "b4488ce2176afcb7110203010001";

enum {
	NOW = 1700000000,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fixture {
	struct store *st;
	struct token_verifier *tv;
	uint8_t issuer[32]; /* the Ed25519 identity of seed 0x01 * 32 */
};

/* Made once and kept for the process (reachable, not a leak). */
static struct fixture *
fixture(void)
{
	static struct fixture f;
	static bool ready;
	struct keys_ed25519 id;
	uint8_t seed[ED25519_SEED_LEN], der[BLINDRSA_SPKI_MAX], doc[2048];
	struct issuer_keys *d;
	struct wire_wr w;
	ssize_t n;

	if (ready)
		return &f;
	if (um_crypto_init() != UM_OK)
		abort();
	memset(seed, 0x01, sizeof(seed));
	keys_ed25519_from_seed(&id, seed);
	memcpy(f.issuer, id.pk, sizeof(f.issuer));
	n = dec_hex(der, sizeof(der), fixed_spki, strlen(fixed_spki));
	d = calloc(1, sizeof(*d));
	if (n <= 0 || d == NULL)
		abort();
	d->version = ISSUER_DOC_VERSION;
	d->seq = 1;
	d->published_s = NOW;
	d->key_epoch = 1;
	d->min_token_epoch = 1;
	d->n = 1;
	d->keys[0] = (struct issuer_key_entry){ .tier = 1,
		                                .epoch = 1,
		                                .not_after_s = UINT64_MAX,
		                                .spki = der,
		                                .spki_len = (uint16_t)n };
	wire_wr_init(&w, doc, sizeof(doc));
	if (issuer_keys_sign(d, &id) != UM_OK || issuer_keys_encode(d, &w) != UM_OK ||
	    store_open(STORE_PATH_MEMORY, NULL, &f.st, NULL, 0) != UM_OK ||
	    token_verifier_new(f.st, &f.tv, NULL, 0) != UM_OK ||
	    token_verifier_add_issuer(f.tv, f.issuer) != UM_OK ||
	    token_verifier_offer_keys(f.tv, f.issuer, doc, w.len, NOW) != UM_OK)
		abort();
	free(d);
	keys_ed25519_clear(&id);
	ready = true;
	return &f;
}

static void
fuzz_token_msg(struct fixture *f, const uint8_t *data, size_t size)
{
	uint8_t out[RELAY_DATA_MAX], tier = 0xee;
	struct relay_token t;
	struct token parsed;
	struct wire_wr w;
	enum token_verdict v, want;
	int ret = relay_token_parse(data, size, &t);

	if (ret == UM_ERR_TRUNCATED && size < RELAY_TOKEN_ISSUER_LEN)
		return;
	if (ret == UM_ERR_MALFORMED && size > RELAY_DATA_MAX)
		return;
	if (ret != UM_OK || t.token.len != size - RELAY_TOKEN_ISSUER_LEN)
		abort();
	wire_wr_init(&w, out, sizeof(out));
	if (relay_token_write(&w, &t) != UM_OK || w.len != size || memcmp(out, data, size) != 0)
		abort();

	if (memcmp(t.issuer, f->issuer, sizeof(f->issuer)) != 0)
		want = TOKEN_VERDICT_UNKNOWN_ISSUER;
	else if (token_parse(t.token.p, t.token.len, &parsed) != UM_OK)
		want = TOKEN_VERDICT_UNAVAILABLE;
	else if (parsed.key_epoch < 1)
		want = TOKEN_VERDICT_REFUSED_EPOCH;
	else
		want = TOKEN_VERDICT_INVALID;
	v = token_verifier_spend(f->tv, t.issuer, t.token.p, t.token.len, NOW, &tier);
	if (v != want || tier != 0)
		abort();
}

static void
fuzz_ack(const uint8_t *data, size_t size)
{
	uint8_t out[RELAY_TOKEN_ACK_LEN];
	struct relay_token_ack a;
	struct wire_wr w;
	int ret = relay_token_ack_parse(data, size, &a);

	if (ret != UM_OK) {
		if (ret != UM_ERR_TRUNCATED && ret != UM_ERR_MALFORMED && ret != UM_ERR_TRAILING)
			abort();
		return;
	}
	if (size != RELAY_TOKEN_ACK_LEN || a.status > RELAY_TOKEN_STATUS_MAX ||
	    a.tier > RELAY_TIER_MAX ||
	    (a.tier != 0) != (a.status == RELAY_TOKEN_ACCEPTED || a.status == RELAY_TOKEN_HAS_TIER))
		abort();
	wire_wr_init(&w, out, sizeof(out));
	if (relay_token_ack_write(&w, &a) != UM_OK || w.len != size || memcmp(out, data, size) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fixture *f = fixture();

	fuzz_token_msg(f, data, size);
	fuzz_ack(data, size);
	return 0;
}
