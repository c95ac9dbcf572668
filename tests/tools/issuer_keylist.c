/* SPDX-License-Identifier: MIT */
/*
 * Test helper: write an issuer's signed key list (trust/issuer_doc.h, what an issuer serves
 * at GET /v1/pubkeys), so an integration test can serve one without an issuer role.
 *
 *   issuer_keylist KEYFILE SEQ EPOCH OUT
 *
 * KEYFILE is an Ed25519 key file (created, mode 0600, if missing): the issuer identity that
 * signs the list. The list has sequence number SEQ, published now, key_epoch EPOCH and one
 * freshly generated RSA-2048 blind-signature key for tier 1, epoch EPOCH, valid for a day.
 * Writes the document to OUT and prints the issuer id (52 base32 characters).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "lib/time.h"
#include "crypto/blindrsa.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "trust/issuer_doc.h"
#include "app/app.h"

static int
parse_u64(const char *s, uint64_t *v)
{
	char *end;

	*v = strtoull(s, &end, 10);
	return *s != '\0' && *end == '\0' ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct issuer_keys *d = NULL;
	struct blindrsa_key *rsa = NULL;
	struct keys_ed25519 id = { 0 };
	uint8_t secret[32], spki[BLINDRSA_SPKI_MAX], out[ISSUER_KEYS_MAX_LEN];
	struct wire_wr w;
	size_t spki_len = 0;
	uint64_t seq, epoch, now = um_wall_s();
	char why[256], b32[53];
	bool made = false;
	FILE *f;
	int ret = 1;

	if (argc != 5 || parse_u64(argv[2], &seq) != 0 || parse_u64(argv[3], &epoch) != 0 ||
	    epoch > UINT32_MAX) {
		fprintf(stderr, "usage: issuer_keylist KEYFILE SEQ EPOCH OUT\n");
		return 2;
	}
	if (um_crypto_init() != UM_OK || app_keyfile_load(argv[1], KEYFILE_ED25519, true, secret,
	                                                  &made, why, sizeof(why)) != UM_OK) {
		fprintf(stderr, "issuer_keylist: %s\n", why);
		return 1;
	}
	keys_ed25519_from_seed(&id, secret);
	um_memzero(secret, sizeof(secret));
	d = calloc(1, sizeof(*d));
	if (d == NULL || blindrsa_key_generate(2048, &rsa) != UM_OK ||
	    blindrsa_pk_export(rsa, spki, sizeof(spki), &spki_len) != UM_OK)
		goto out;
	d->version = ISSUER_DOC_VERSION;
	d->seq = seq;
	d->published_s = now;
	d->key_epoch = (uint32_t)epoch;
	d->min_token_epoch = (uint32_t)epoch;
	d->n = 1;
	d->keys[0].tier = 1;
	d->keys[0].epoch = (uint32_t)epoch;
	d->keys[0].not_after_s = now + 86400;
	d->keys[0].spki = spki;
	d->keys[0].spki_len = (uint16_t)spki_len;
	wire_wr_init(&w, out, sizeof(out));
	if (issuer_keys_sign(d, &id) != UM_OK || issuer_keys_encode(d, &w) != UM_OK)
		goto out;
	if ((f = fopen(argv[4], "wb")) == NULL)
		goto out;
	if (fwrite(out, 1, w.len, f) != w.len) {
		fclose(f);
		goto out;
	}
	if (fclose(f) != 0)
		goto out;
	app_key_b32(id.pk, b32);
	printf("%s\n", b32);
	ret = 0;
out:
	if (ret != 0)
		fprintf(stderr, "issuer_keylist: cannot build the key list\n");
	blindrsa_key_free(rsa);
	keys_ed25519_clear(&id);
	free(d);
	return ret;
}
