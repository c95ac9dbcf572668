/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the link record decoder: input bytes are split into 530-byte records and opened with
 * a fixed transport key (mode 0: raw ciphertext, which must fail closed), or treated as
 * plaintext cells that are sealed, optionally corrupted at an input-chosen byte, and opened
 * again (mode 1: round trip must be exact unless corrupted, corrupted must fail).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "crypto/crypto.h"
#include "crypto/noise.h"
#include "link/cell.h"
#include "link/record.h"

static void
rec_fixed(struct link_rec *tx, struct link_rec *rx)
{
	static const uint8_t k1[32] = { 1 }, k2[32] = { 2 };
	struct noise_cs a, b, c, d;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	memset(&d, 0, sizeof(d));
	memcpy(a.k, k1, 32);
	memcpy(b.k, k2, 32);
	memcpy(c.k, k2, 32);
	memcpy(d.k, k1, 32);
	if (aead_init(&a.aead, k1, true) != UM_OK || aead_init(&b.aead, k2, false) != UM_OK ||
	    aead_init(&c.aead, k2, true) != UM_OK || aead_init(&d.aead, k1, false) != UM_OK)
		abort();
	link_rec_init(tx, &a, &b);
	link_rec_init(rx, &c, &d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct link_rec tx, rx;
	uint8_t cell[CELL_LEN], rec[LINK_RECORD_LEN], back[CELL_LEN];
	struct cell c;

	if (size < 2 || um_crypto_init() != UM_OK)
		return 0;
	rec_fixed(&tx, &rx);
	if (data[0] & 1) {
		size_t flip = data[1] % (LINK_RECORD_LEN + 1);

		data += 2;
		size -= 2;
		while (size > 0) {
			size_t n = size < CELL_LEN ? size : CELL_LEN;

			memset(cell, 0, sizeof(cell));
			memcpy(cell, data, n);
			if (link_rec_seal(&tx, cell, rec) != UM_OK)
				abort();
			if (flip < LINK_RECORD_LEN)
				rec[flip] ^= 0x80;
			if (link_rec_open(&rx, rec, back) == UM_OK) {
				if (flip < LINK_RECORD_LEN || memcmp(back, cell, CELL_LEN) != 0)
					abort(); /* a corrupted record opened, or content changed */
				if (cell_parse(back, CELL_LEN, &c) != CELL_LEN)
					abort();
			} else if (flip >= LINK_RECORD_LEN) {
				abort(); /* a genuine record failed */
			} else {
				break; /* the link would close here */
			}
			data += n;
			size -= n;
		}
	} else {
		data += 1;
		size -= 1;
		while (size >= LINK_RECORD_LEN) {
			if (link_rec_open(&rx, data, back) == UM_OK)
				abort(); /* forging a record without the key */
			data += LINK_RECORD_LEN;
			size -= LINK_RECORD_LEN;
		}
	}
	link_rec_clear(&tx);
	link_rec_clear(&rx);
	return 0;
}
